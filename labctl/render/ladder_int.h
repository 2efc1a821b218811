/* ladder_int.h: inside render/ladder*.c only.  What the analysis (ladder.c: reading, pairing,
 * connections, marks) builds and the renderers read: the packets, connections and state marks
 * of a struct ladder, and the helpers every renderer shares (ladder_view.c: a connection's
 * events in time order, its labels and notes).  The renderers never change a struct ladder.
 *
 * Ownership: struct ladder owns its arrays (ladder.c frees them); arrays handed out by
 * ladder_conn_events and ladder_sindex_build belong to the caller (free, ladder_sindex_free).
 */
#ifndef LABCTL_LADDER_INT_H
#define LABCTL_LADDER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "render/ladder.h"

/* TCP flag bits as on the wire (byte 13 of the header). */
enum { TF_FIN = 0x01, TF_SYN = 0x02, TF_RST = 0x04, TF_PSH = 0x08, TF_ACK = 0x10, TF_URG = 0x20,
       TF_ECE = 0x40, TF_CWR = 0x80 };

/* Analysis marks. */
enum { LM_NONE, LM_RETRANS, LM_FAST_RETRANS, LM_DUPACK, LM_KEEPALIVE };
/* window marks (lpkt.wmark), alongside the one above: Wireshark's names */
enum { WM_ZERO_WINDOW = 1, WM_ZERO_WINDOW_PROBE = 2, WM_WINDOW_UPDATE = 4 };

#define NO_CONN UINT32_MAX

struct lpkt {
	int64_t ts;           /* ns, realtime */
	int64_t rx_ts;        /* when the paired copy was seen, or -1 */
	uint32_t order;       /* input order, for a stable merge */
	uint32_t frame;       /* 1-based position in the merged input */
	uint32_t rec;         /* 1-based record number in its file (Wireshark's frame number) */
	uint32_t rx;          /* index of the paired copy (valid when rx_ts >= 0) */
	uint32_t conn;        /* connection index, NO_CONN for a paired copy */
	uint32_t seq, ack, tsval, len;
	uint32_t ifindex;     /* SLL2 interface index, 0 unknown */
	uint16_t sport, dport, win, ipid, file, dupn;
	uint8_t family, flags, has_ts, pkttype, dir, mark, wmark;
	uint8_t src[16], dst[16];
};

struct lconn {
	uint8_t family;
	uint8_t addr[2][16];  /* [0] left, [1] right */
	uint16_t port[2];
	uint32_t *pk;         /* packet indexes, time order */
	size_t n, cap;
	uint32_t base[2], next_seq[2], last_ack[2], dupcnt[2], syn_isn;
	uint16_t last_win[2];
	bool base_set[2], next_set[2], ack_set[2], fin[2], rst, syn_seen;
	uint32_t next_same;   /* next connection on the same tuple, NO_CONN if none */
};

struct lstate {
	int64_t ts;
	uint8_t family, pfamily;
	uint8_t addr[16], paddr[16];
	uint16_t port, pport;
	bool has_peer;
	char name[32];
};

struct ladder {
	struct lpkt *p;
	size_t np, pcap_;
	struct lconn *c;
	size_t nc, ccap;
	struct lstate *s;
	size_t ns, scap;
	uint16_t nfiles;
	int64_t t0;           /* first packet's timestamp */
};

static inline size_t alen(uint8_t family) { return family == AF_INET ? 4 : 16; }

/* ---- analysis (ladder.c) ---- */

/* last_rx[dir]: send time of the last packet in that direction seen arriving (-1: none). */
void ladder_conn_last_rx(const struct ladder *l, const struct lconn *c, int64_t last_rx[2]);
/* Never seen at the receiver although a later packet in its direction was: lost on the way. */
bool ladder_pkt_lost(const struct lpkt *k, const int64_t last_rx[2]);

/* ---- what every renderer draws (ladder_view.c) ---- */

enum lev_kind { LEV_SEND, LEV_RECV, LEV_STATE };

/* One row of a diagram: a packet sent, its copy arriving, or a state mark. */
struct lev {
	int64_t ts;
	uint32_t idx;   /* packet index, or state index */
	uint8_t kind;
	uint8_t side;   /* state: 0 left, 1 right */
	uint32_t seq;   /* tie-break: insertion order */
};

/* The state marks indexed by port (ladder_view.c says how). */
struct lsidx;
struct lsindex {
	struct lsidx *v;
	size_t n;
};

int ladder_sindex_build(const struct ladder *l, struct lsindex *si);
void ladder_sindex_free(struct lsindex *si);
/* The events of connection ci in time order; *out is the caller's to free. */
int ladder_conn_events(const struct ladder *l, const struct lsindex *si, uint32_t ci,
		       struct lev **out, size_t *nout);
/* "FLAGS seq=S ack=A len=N" (ack only with ACK set), relative unless abs_seq. */
void ladder_pkt_label(const struct ladder *l, const struct lpkt *k, bool abs_seq, char *b,
		      size_t n);
/* The analysis marks as text ("retransmission, zero window"), plus "lost"; "" for none. */
void ladder_pkt_note_lost(const struct lpkt *k, const int64_t last_rx[2], char *b, size_t n);
/* The frame number as tshark shows it, FILE:FRAME with several files. */
void ladder_frame_str(const struct ladder *l, const struct lpkt *k, char *b, size_t n);

/* ms since the first packet read */
static inline double ladder_rel_ms(const struct ladder *l, int64_t ts)
{
	return (double)(ts - l->t0) / 1e6;
}

/* How many connections o picks, and the index of the i-th (-ENOENT: no such id). */
size_t ladder_npick(const struct ladder *l, const struct ladder_render_opts *o);
int ladder_pick(const struct ladder *l, const struct ladder_render_opts *o, size_t i, uint32_t *ci);

#endif
