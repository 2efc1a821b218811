/* ladder: TCP ladder (sequence) diagrams from pcap files.
 *
 * Feed it one or more capture files (ladder_add_pcap: Ethernet, Linux cooked SLL/SLL2, raw
 * IP, BSD loopback; IPv4 and IPv6; pcap or pcapng), optionally socket state changes
 * (ladder_add_state*), then ladder_build() merges the files by timestamp, pairs copies of the
 * same packet seen at two capture points, groups segments into connections and analyses them
 * (relative sequence numbers, retransmissions, duplicate ACKs).  The renderers draw the
 * connections as ASCII for a terminal or as SVG.
 *
 * Connections: keyed by the 4-tuple; a SYN (without ACK) after a FIN or RST on the same tuple,
 * or with a different initial sequence number, starts a new one.  They are numbered 1..N in
 * the order of their first packet.  The left column is the side that sent the first SYN.
 *
 * Paired packets: a packet seen at two capture points (two files, or two interfaces of one
 * file: SLL2 interface index, or SLL outgoing vs incoming) is one arrow from its first sighting
 * (send) to the second (receive).  Two sightings are the same packet when their addresses,
 * ports, seq, ack, flags, window, payload length, IPv4 id and TCP timestamp value all agree
 * and they lie less than LADDER_PAIR_WINDOW_NS apart.
 *
 * Marks follow the documented subset of Wireshark's TCP analysis (docs/ladder.md).
 *
 * Ownership: the ladder owns everything it stores; strings passed in are copied.  Library code:
 * the renderers write only to the FILE * they are given.
 */
#ifndef LABCTL_LADDER_H
#define LABCTL_LADDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "base/err.h"

#define LADDER_PAIR_WINDOW_NS (5LL * 1000000000LL)

struct ladder;

int ladder_new(struct ladder **out, struct lc_err *e);
void ladder_free(struct ladder *l);

/* Read every TCP segment of a capture file.  Non-TCP frames are skipped.  Errors (missing file,
 * not a capture, unsupported link type, truncated/corrupt record) name the file; -ENOENT,
 * -EACCES or -EINVAL. */
int ladder_add_pcap(struct ladder *l, const char *path, struct lc_err *e);

/* A socket state change to draw on the lifeline of `endpoint` (address and port) at
 * realtime_ns (CLOCK_REALTIME, the clock pcap timestamps use).  state is any short text
 * ("ESTABLISHED", "FIN_WAIT_1").  Without the peer, the mark goes to every connection that has
 * this endpoint and is live within a second of the time: prefer ladder_add_state_conn() for a
 * listening port shared by many connections.  May be called before or after ladder_build(). */
int ladder_add_state(struct ladder *l, int64_t realtime_ns, const struct sockaddr_storage *endpoint,
		     const char *state);
/* The same, pinned to the connection between endpoint and peer (sock_diag gives both). */
int ladder_add_state_conn(struct ladder *l, int64_t realtime_ns,
			  const struct sockaddr_storage *endpoint,
			  const struct sockaddr_storage *peer, const char *state);

/* Merge, pair, group and analyse.  Call after the last ladder_add_pcap(); calling it again
 * recomputes everything. */
int ladder_build(struct ladder *l, struct lc_err *e);

/* After ladder_build(). */
size_t ladder_conn_count(const struct ladder *l);
size_t ladder_packet_count(const struct ladder *l);  /* segments read, copies included */
/* Timestamp (realtime ns) of the first packet read: the diagrams' time 0. */
int64_t ladder_first_ns(const struct ladder *l);

struct ladder_conn_info {
	unsigned id;            /* 1..N */
	char left[64], right[64];  /* "10.0.0.1:41234", "[fd00::2]:80" */
	uint16_t left_port, right_port;
	size_t packets;         /* arrows (a paired copy is not counted twice) */
	int64_t first_ns, last_ns;  /* realtime */
	const char *end;        /* "reset", "closed", "half-closed", "open" */
};
/* id is 1-based; -ENOENT when there is no such connection. */
int ladder_conn_info(const struct ladder *l, unsigned id, struct ladder_conn_info *out);

struct ladder_render_opts {
	bool abs_seq;           /* absolute seq/ack instead of relative */
	const unsigned *ids;    /* connections to draw (1-based); NULL: all */
	size_t nids;
};

/* One block per connection: time (ms since the first packet read) down the left side, the two
 * lifelines, an arrow per segment with its label centred, state marks beside the lifelines and
 * analysis marks on the right. */
int ladder_render_ascii(const struct ladder *l, FILE *out, const struct ladder_render_opts *o);
/* One SVG document with every chosen connection stacked vertically. */
int ladder_render_svg(const struct ladder *l, FILE *out, const struct ladder_render_opts *o);
/* A table: one line per chosen connection. */
int ladder_render_list(const struct ladder *l, FILE *out, const struct ladder_render_opts *o);

#endif
