/* ladder_text: the ASCII ladder for a terminal (ladder_render_ascii) and the one-line-per-
 * connection table (ladder_render_list), from what ladder.c built (ladder_int.h). */
#include "render/ladder_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A_FRAME 8
#define A_TIME 10
#define A_STATE 12

static void put_rep(FILE *f, char ch, int n)
{
	for (int i = 0; i < n; i++)
		fputc(ch, f);
}

/* One arrow body of width w: label centred in a shaft, head at the receiving end.  head=false
 * leaves the end open (the packet arrives on a later row). */
static void ascii_arrow(FILE *f, int w, bool to_right, bool head, bool lost, const char *label)
{
	char body[512];
	if (w > (int)sizeof(body) - 1)
		w = sizeof(body) - 1;
	memset(body, '-', (size_t)w);
	body[w] = '\0';
	int ll = (int)strlen(label) + 2;
	if (ll <= w - 4) {
		int at = (w - ll) / 2;
		body[at] = ' ';
		memcpy(body + at + 1, label, strlen(label));
		body[at + ll - 1] = ' ';
	}
	if (lost && w > 8) {
		/* the textbook's cross: the arrow stops short of the receiver */
		if (to_right) {
			body[w - 4] = 'X';
			body[w - 3] = body[w - 2] = body[w - 1] = ' ';
		} else {
			body[3] = 'X';
			body[0] = body[1] = body[2] = ' ';
		}
	} else if (to_right) {
		if (head)
			body[w - 1] = '>';
		else
			body[w - 1] = body[w - 2] = ' ';
	} else {
		if (head)
			body[0] = '<';
		else
			body[0] = body[1] = ' ';
	}
	fputs(body, f);
}

static int ascii_conn(const struct ladder *l, const struct lsindex *si, FILE *f, uint32_t ci,
		      bool abs_seq)
{
	const struct lconn *c = &l->c[ci];
	struct ladder_conn_info in;
	ladder_conn_info(l, ci + 1, &in);
	struct lev *v;
	size_t n;
	if (ladder_conn_events(l, si, ci, &v, &n) < 0)
		return -ENOMEM;

	int w = 44;
	char lab[160], note[96];
	int64_t last_rx[2];
	ladder_conn_last_rx(l, c, last_rx);
	for (size_t i = 0; i < c->n; i++) {
		ladder_pkt_label(l, &l->p[c->pk[i]], abs_seq, lab, sizeof(lab));
		if ((int)strlen(lab) + 10 > w)
			w = (int)strlen(lab) + 10;
	}
	fprintf(f, "connection %u: %s -> %s, %zu packets, %.3f ms, %s\n", in.id, in.left, in.right,
		in.packets, (double)(in.last_ns - in.first_ns) / 1e6, in.end);

	/* Column heads: endpoint names centred over their lifelines. */
	int lpos = A_FRAME + 1 + A_TIME + 1 + A_STATE + 1, rpos = lpos + 1 + w;
	char head[512];
	memset(head, ' ', sizeof(head));
	memcpy(head, " frame", 6);
	memcpy(head + A_FRAME + 1 + A_TIME - 7, "time ms", 7);
	int ls = lpos - (int)strlen(in.left) / 2, rs = rpos - (int)strlen(in.right) / 2;
	if (ls < A_FRAME + 1 + A_TIME + 2)
		ls = A_FRAME + 1 + A_TIME + 2;
	if (rs < ls + (int)strlen(in.left) + 2)
		rs = ls + (int)strlen(in.left) + 2;
	memcpy(head + ls, in.left, strlen(in.left));
	memcpy(head + rs, in.right, strlen(in.right));
	int hl = rs + (int)strlen(in.right);
	while (hl > 0 && head[hl - 1] == ' ')
		hl--;
	fprintf(f, "%.*s\n", hl, head);

	for (size_t i = 0; i < n; i++) {
		const struct lev *x = &v[i];
		char frame[16] = "", lstate[A_STATE + 1] = "", rnote[128] = "";
		char llife = '|', rlife = '|';
		if (x->kind == LEV_STATE) {
			const struct lstate *s = &l->s[x->idx];
			if (x->side == 0) {
				snprintf(lstate, sizeof(lstate), "%s", s->name);
				llife = '*';
			} else {
				snprintf(rnote, sizeof(rnote), "%s", s->name);
				rlife = '*';
			}
			fprintf(f, "%*s %*.3f %*s %c", A_FRAME, frame, A_TIME, ladder_rel_ms(l, x->ts),
				A_STATE, lstate, llife);
			put_rep(f, ' ', w);
			fprintf(f, "%c%s%s\n", rlife, rnote[0] ? " " : "", rnote);
			continue;
		}
		const struct lpkt *k = &l->p[x->idx];
		bool right = k->dir == 0;
		if (x->kind == LEV_SEND) {
			ladder_frame_str(l, k, frame, sizeof(frame));
			ladder_pkt_label(l, k, abs_seq, lab, sizeof(lab));
			ladder_pkt_note_lost(k, last_rx, note, sizeof(note));
			if (note[0])
				snprintf(rnote, sizeof(rnote), " [%s]", note);
			fprintf(f, "%*s %*.3f %*s |", A_FRAME, frame, A_TIME, ladder_rel_ms(l, x->ts), A_STATE,
				"");
			ascii_arrow(f, w, right, k->rx_ts < 0, ladder_pkt_lost(k, last_rx), lab);
			fprintf(f, "|%s\n", rnote);
		} else {
			/* The copy seen at the other end: the arrow lands here. */
			char sent[24];
			ladder_frame_str(l, &l->p[k->rx], frame, sizeof(frame));
			ladder_frame_str(l, k, sent, sizeof(sent));
			snprintf(rnote, sizeof(rnote), " [%s arrives, %.3f ms in flight]", sent,
				 (double)(k->rx_ts - k->ts) / 1e6);
			fprintf(f, "%*s %*.3f %*s |", A_FRAME, frame, A_TIME, ladder_rel_ms(l, x->ts), A_STATE,
				"");
			if (right) {
				put_rep(f, ' ', w - 3);
				fputs("~~>", f);
			} else {
				fputs("<~~", f);
				put_rep(f, ' ', w - 3);
			}
			fprintf(f, "|%s\n", rnote);
		}
	}
	free(v);
	return 0;
}

int ladder_render_ascii(const struct ladder *l, FILE *out, const struct ladder_render_opts *o)
{
	size_t n = ladder_npick(l, o);
	struct lsindex si;
	int rc = 0;
	if (ladder_sindex_build(l, &si) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		uint32_t ci;
		if (ladder_pick(l, o, i, &ci) < 0) {
			rc = -ENOENT;
			break;
		}
		if (i)
			fputc('\n', out);
		if (ascii_conn(l, &si, out, ci, o && o->abs_seq) < 0)
			rc = -ENOMEM;
	}
	ladder_sindex_free(&si);
	if (!rc && ferror(out))
		rc = -EIO;
	return rc;
}

int ladder_render_list(const struct ladder *l, FILE *out, const struct ladder_render_opts *o)
{
	size_t n = ladder_npick(l, o);
	fprintf(out, "%5s %8s %12s %12s  %-30s %-30s %s\n", "conn", "packets", "start ms", "ms",
		"client (left)", "server (right)", "end");
	for (size_t i = 0; i < n; i++) {
		uint32_t ci;
		struct ladder_conn_info in;
		if (ladder_pick(l, o, i, &ci) < 0)
			return -ENOENT;
		ladder_conn_info(l, ci + 1, &in);
		fprintf(out, "%5u %8zu %12.3f %12.3f  %-30s %-30s %s\n", in.id, in.packets,
			ladder_rel_ms(l, in.first_ns), (double)(in.last_ns - in.first_ns) / 1e6, in.left,
			in.right, in.end);
	}
	return ferror(out) ? -EIO : 0;
}

