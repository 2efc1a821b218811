/* pktfsm: the TCP states a connection's packets imply, for the state-machine figure of a
 * capture (labctl ladder FILE.pcap --fsm PREFIX), when no sock_diag timeline exists.
 *
 * Each side's states follow RFC 9293's rules applied to the segments that side sent and
 * received, as the capture point saw them: SYN sent (SYN_SENT), SYN received on a listener
 * (SYN_RECV), the handshake's last ACK (ESTABLISHED), FIN sent or received, the ACK of a FIN,
 * RST (CLOSED).  The times are the capture point's, not the socket's, and a side's TIME_WAIT
 * never visibly ends; the figure says "inferred from packets".
 *
 * Also the one TCP frame parser labctl's report uses for packet ticks: Ethernet, Linux cooked
 * (SLL, SLL2), raw IP and BSD loopback; IPv4 and IPv6.
 */
#ifndef LABCTL_PKTFSM_H
#define LABCTL_PKTFSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "lab/lab.h"

struct pktfsm_seg {
	int family;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;           /* LAB_TCPF_* */
	uint32_t len;            /* payload bytes */
	uint16_t ipid;
};

/* Parse one captured frame of link type dlt (pcap DLT_*).  false when it is not TCP (or too
 * short to be read). */
bool pktfsm_frame_tcp(int dlt, const uint8_t *p, size_t caplen, struct pktfsm_seg *s);

#define PKTFSM_MAX_STATES 32

struct pktfsm_side {
	enum lab_tcp_state start;   /* CLOSED for the side that sent the first SYN, else LISTEN */
	enum lab_tcp_state states[PKTFSM_MAX_STATES];
	int64_t real_ns[PKTFSM_MAX_STATES];
	int n;
};

/* The states of both sides of one connection: left and right are its endpoints as
 * ladder_conn_info() spells them ("10.0.0.1:41234", "[fd00::2]:80"; left sent the SYN), and
 * only packets from first_ns to last_ns (realtime) count, so a later connection on the same
 * 4-tuple does not.  A packet seen in two files (both ends of a link) counts once.  0, or a
 * negative errno with e set (a file that cannot be read). */
int pktfsm_infer(const char *const *files, int nfiles, const char *left, const char *right,
		 int64_t first_ns, int64_t last_ns, struct pktfsm_side out[2], struct lc_err *e);

#endif
