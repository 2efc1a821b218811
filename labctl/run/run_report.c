/* run_report: what the HTML report (render/report.h) and the grading output need from a run,
 * gathered in one place: the step records (fed by run_log_step), the ladder as SVG text (fed
 * by run_capture_report), and, at report time, the timeline turned into connection sides with
 * the packets captured at their hosts, and the link counters.  The rest of the runner knows
 * nothing of the report but these two hooks. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kernel/pcapdl.h"
#include "render/ladder.h"
#include "render/pktfsm.h"
#include "render/report.h"
#include "render/tcpfsm.h"
#include "run/run_int.h"

/* Connections drawn (lanes and figures); the rest are counted. */
#define REPORT_MAX_CONNS 16

struct run_record {
	struct report_step *steps;
	int nsteps, cap;
	char *ladder_svg;
	size_t ladder_len;
	char ladder_note[160];
};

static struct run_record *rec_get(struct run *r)
{
	if (!r->rec)
		r->rec = calloc(1, sizeof(*r->rec));
	return r->rec;
}

void run_record_step(struct run *r, const struct lab_step *st, const char *mark,
		     const char *detail, const char *text, double t)
{
	struct run_record *rc = rec_get(r);
	if (!rc)
		return;
	if (rc->nsteps == rc->cap) {
		int cap = rc->cap ? rc->cap * 2 : 32;
		struct report_step *n = realloc(rc->steps, (size_t)cap * sizeof(*n));
		if (!n)
			return;
		rc->steps = n;
		rc->cap = cap;
	}
	struct report_step *s = &rc->steps[rc->nsteps++];
	memset(s, 0, sizeof(*s));
	s->line = st->pos.line;
	s->col = st->pos.col;
	s->t = t;
	s->expect = st->op == LAB_OP_EXPECT;
	snprintf(s->mark, sizeof(s->mark), "%s", mark);
	snprintf(s->text, sizeof(s->text), "%s", text);
	snprintf(s->detail, sizeof(s->detail), "%s", detail ? detail : "");
}

void run_record_ladder(struct run *r, const struct ladder *l, const struct ladder_render_opts *o,
		       size_t nconns)
{
	struct run_record *rc = rec_get(r);
	if (!rc)
		return;
	free(rc->ladder_svg);
	rc->ladder_svg = NULL;
	rc->ladder_len = 0;
	FILE *m = open_memstream(&rc->ladder_svg, &rc->ladder_len);
	if (!m)
		return;
	int err = ladder_render_svg(l, m, o);
	if (fclose(m) != 0 || err < 0) {
		free(rc->ladder_svg);
		rc->ladder_svg = NULL;
		rc->ladder_len = 0;
	}
	if (nconns > o->nids)
		snprintf(rc->ladder_note, sizeof(rc->ladder_note),
			 "The first %zu of %zu connections (labctl ladder FILE.pcap --conn N draws any "
			 "one).", o->nids, nconns);
}

int run_step_records(const struct run *r, const struct report_step **out)
{
	*out = r->rec ? r->rec->steps : NULL;
	return r->rec ? r->rec->nsteps : 0;
}

void run_record_free(struct run *r)
{
	if (!r->rec)
		return;
	free(r->rec->steps);
	free(r->rec->ladder_svg);
	free(r->rec);
	r->rec = NULL;
}

/* ---- the timeline as connection sides ---- */

struct side_src {
	int ci;                  /* timeline connection */
	struct report_side side;
	struct report_state *states;
	int64_t *pkts;
	int npkts, cappkts;
};

struct sides {
	struct side_src *v;
	int n;
	int left_out;
};

static int64_t first_mono(const struct timeline *tl, int ci)
{
	return timeline_event(tl, timeline_conn(tl, ci)->first_ev)->mono_ns;
}

static bool is_peer(const struct timeline_conn *a, const struct timeline_conn *b)
{
	size_t al = a->family == AF_INET ? 4 : 16;
	return a->family == b->family && a->lport == b->rport && a->rport == b->lport &&
	       !memcmp(a->laddr, b->raddr, al) && !memcmp(a->raddr, b->laddr, al);
}

static bool listens_on(const struct lab *lab, int host, uint16_t port)
{
	for (int i = 0; i < lab->nsteps; i++)
		if (lab->steps[i].op == LAB_OP_LISTEN && lab->steps[i].host == host &&
		    lab->steps[i].u.listen.port == port)
			return true;
	return false;
}

static int side_fill(struct run *r, struct side_src *s, int ci, int conn)
{
	const struct timeline *tl = r->tl;
	const struct timeline_conn *c = timeline_conn(tl, ci);
	s->ci = ci;
	s->side.host = c->host;
	s->side.conn = conn;
	s->states = calloc((size_t)c->nev + 1, sizeof(*s->states));
	if (!s->states)
		return -ENOMEM;
	int n = 0;
	for (int ei = c->first_ev; ei >= 0; ei = timeline_event(tl, ei)->next) {
		const struct timeline_event *ev = timeline_event(tl, ei);
		s->states[n].state = ev->to;
		s->states[n].t_ns = ev->mono_ns - r->t0;
		n++;
	}
	s->side.states = s->states;
	s->side.nstates = n;
	s->side.passive = listens_on(r->lab, c->host, c->lport) ||
			  (n > 0 && (s->states[0].state == LAB_TCP_SYN_RECV ||
				     s->states[0].state == LAB_TCP_NEW_SYN_RECV));
	diag_addr_format(c->family, c->laddr, c->lport, true, s->side.local, sizeof(s->side.local));
	diag_addr_format(c->family, c->raddr, c->rport, true, s->side.peer, sizeof(s->side.peer));
	return 0;
}

static int cmp_first(const void *a, const void *b, void *arg)
{
	int64_t x = first_mono(arg, *(const int *)a), y = first_mono(arg, *(const int *)b);
	return x < y ? -1 : x > y;
}

static void sides_free(struct sides *ss)
{
	for (int i = 0; i < ss->n; i++) {
		free(ss->v[i].states);
		free(ss->v[i].pkts);
	}
	free(ss->v);
	ss->v = NULL;
	ss->n = 0;
}

/* The timeline's connections in the order they began, each followed by its peer (the other
 * end, when the lab's other host was seen too); listeners left out, as in the text report. */
static int sides_build(struct run *r, struct sides *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (!r->tl)
		return 0;
	const struct timeline *tl = r->tl;
	int n = timeline_nconns(tl);
	int *order = calloc((size_t)n + 1, sizeof(int));
	bool *used = calloc((size_t)n + 1, sizeof(bool));
	ss->v = calloc(2 * REPORT_MAX_CONNS, sizeof(*ss->v));
	int m = 0, rc = 0, conns = 0;
	if (!order || !used || !ss->v) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const struct timeline_conn *c = timeline_conn(tl, i);
		if (c->first_ev < 0)
			continue;
		if (c->nev == 1 && timeline_event(tl, c->first_ev)->to == LAB_TCP_LISTEN)
			continue;
		order[m++] = i;
	}
	qsort_r(order, (size_t)m, sizeof(int), cmp_first, (void *)tl);
	for (int k = 0; k < m; k++) {
		int ci = order[k];
		if (used[ci])
			continue;
		used[ci] = true;
		int peer = -1;
		for (int j = k + 1; j < m && peer < 0; j++)
			if (!used[order[j]] && is_peer(timeline_conn(tl, ci), timeline_conn(tl, order[j])))
				peer = order[j];
		if (peer >= 0)
			used[peer] = true;
		if (conns == REPORT_MAX_CONNS) {
			ss->left_out++;
			continue;
		}
		conns++;
		if ((rc = side_fill(r, &ss->v[ss->n++], ci, conns)) < 0)
			goto out;
		if (peer >= 0 && (rc = side_fill(r, &ss->v[ss->n++], peer, conns)) < 0)
			goto out;
	}
out:
	free(order);
	free(used);
	if (rc < 0)
		sides_free(ss);
	return rc;
}

/* ---- packets captured at each side's host, as ticks ---- */

static int pkt_add(struct side_src *s, int64_t t)
{
	if (s->npkts == s->cappkts) {
		int cap = s->cappkts ? s->cappkts * 2 : 64;
		int64_t *n = realloc(s->pkts, (size_t)cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->pkts = n;
		s->cappkts = cap;
	}
	s->pkts[s->npkts++] = t;
	return 0;
}

static void ticks_from(struct run *r, struct sides *ss, const char *path, int host)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	pcap_t *p = sym_pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO,
								 errbuf);
	if (!p) {
		fclose(f);
		return;
	}
	int dlt = sym_pcap_datalink(p);
	struct pcap_pkthdr *h;
	const u_char *data;
	while (sym_pcap_next_ex(p, &h, &data) == 1) {
		struct pktfsm_seg sg;
		if (!pktfsm_frame_tcp(dlt, data, h->caplen, &sg))
			continue;
		int64_t t = (int64_t)h->ts.tv_sec * 1000000000 + h->ts.tv_usec - r->t0_real;
		size_t al = sg.family == AF_INET ? 4 : 16;
		for (int i = 0; i < ss->n; i++) {
			const struct timeline_conn *c = timeline_conn(r->tl, ss->v[i].ci);
			if (c->host != host || c->family != sg.family)
				continue;
			bool out = sg.sport == c->lport && sg.dport == c->rport &&
				   !memcmp(sg.src, c->laddr, al) && !memcmp(sg.dst, c->raddr, al);
			bool in = sg.dport == c->lport && sg.sport == c->rport &&
				  !memcmp(sg.dst, c->laddr, al) && !memcmp(sg.src, c->raddr, al);
			if ((out || in) && pkt_add(&ss->v[i], t) < 0)
				goto done;
		}
	}
done:
	sym_pcap_close(p); /* closes f */
}

static void ticks_add(struct run *r, struct sides *ss)
{
	struct lc_err e = {0};
	if (ss->n == 0 || pcapdl_load(&e) < 0)
		return;
	const char *path;
	int host;
	for (int i = 0; run_capture_file(r, i, &path, &host) == 0; i++)
		ticks_from(r, ss, path, host);
	for (int i = 0; i < ss->n; i++) {
		ss->v[i].side.pkts = ss->v[i].pkts;
		ss->v[i].side.npkts = ss->v[i].npkts;
	}
}

/* ---- link counters ---- */

static int links_build(struct run *r, struct report_link **out)
{
	*out = NULL;
	if (!r->en || !r->en->ops->link_stats)
		return 0;
	struct report_link *v = calloc((size_t)r->lab->nlinks * 2 + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	int n = 0;
	for (int i = 0; i < r->lab->nlinks; i++) {
		if (!run_link_shown(r, i))
			continue;
		struct engine_dir_stats st[2];
		struct lc_err e = {0};
		const struct lab_link *l = &r->lab->links[i];
		int rc = r->en->ops->link_stats(r->en, i, st, &e);
		for (int d = 0; d < 2; d++) {
			struct report_link *x = &v[n++];
			snprintf(x->from, sizeof(x->from), "%s", r->lab->hosts[d ? l->b : l->a].name);
			snprintf(x->to, sizeof(x->to), "%s", r->lab->hosts[d ? l->a : l->b].name);
			x->ok = rc >= 0;
			if (rc < 0) {
				snprintf(x->err, sizeof(x->err), "%s", e.msg);
				continue;
			}
			x->split = st[d].split;
			x->delivered = st[d].delivered;
			x->dropped = st[d].dropped;
			x->lost = st[d].lost;
			x->overlimit = st[d].overlimit;
			x->ruled = st[d].ruled;
		}
	}
	*out = v;
	return n;
}

/* ---- the state machines as files beside the pcaps (--capture DIR) ---- */

int run_write_fsms(struct run *r, const char *dir, int *written, struct lc_err *e)
{
	struct sides ss;
	*written = 0;
	int rc = sides_build(r, &ss);
	if (rc < 0)
		return err_set(e, rc, "out of memory");
	for (int i = 0; i < ss.n && rc == 0; i++) {
		const struct report_side *s = &ss.v[i].side;
		char path[512], title[256];
		snprintf(path, sizeof(path), "%s/%s-fsm-%d-%s.svg", dir, r->id, s->conn,
			 r->lab->hosts[s->host].name);
		snprintf(title, sizeof(title), "%s %s \xe2\x86\x92 %s", r->lab->hosts[s->host].name,
			 s->local, s->peer);
		enum lab_tcp_state path_st[64];
		int n = 0;
		for (int k = 0; k < s->nstates && n < 64; k++)
			path_st[n++] = s->states[k].state;
		char note[96];
		snprintf(note, sizeof(note), "lab %s, connection %d, from sock_diag", r->lab->name,
			 s->conn);
		struct tcpfsm_opts o = {
			.id = "fsm", .title = title, .note = note, .standalone = true,
			.start = s->passive ? LAB_TCP_LISTEN : LAB_TCP_CLOSE, .states = path_st, .n = n,
		};
		FILE *f = fopen(path, "we");
		if (!f) {
			rc = err_set(e, -errno, "%s: %s", path, strerror(errno));
			break;
		}
		int wrc = tcpfsm_render_svg(f, &o);
		if (fclose(f) != 0 || wrc < 0)
			rc = err_set(e, -EIO, "%s: write failed", path);
		else
			(*written)++;
	}
	sides_free(&ss);
	return rc;
}

/* ---- the page ---- */

int run_write_report(struct run *r, int failed, const char *error, const char *path,
		     struct lc_err *e)
{
	struct run_record *rc0 = rec_get(r);
	struct sides ss = {0};
	struct report_log *logs = NULL;
	int nlogs = 0;
	struct report_link *links = NULL;
	struct report_side *sides = NULL;
	struct report_file *files = NULL;
	char tmp[4096];
	int rc;
	if (!rc0)
		return err_set(e, -ENOMEM, "out of memory");
	if ((rc = sides_build(r, &ss)) < 0)
		return err_set(e, rc, "out of memory");
	ticks_add(r, &ss);
	int nlinks = links_build(r, &links);
	sides = calloc((size_t)ss.n + 1, sizeof(*sides));
	files = calloc((size_t)r->ncaps + 1, sizeof(*files));
	if (nlinks < 0 || !sides || !files) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	int64_t span = mono_ns() - r->t0;
	for (int i = 0; i < ss.n; i++) {
		sides[i] = ss.v[i].side;
		int n = sides[i].nstates;
		if (n && sides[i].states[n - 1].t_ns > span)
			span = sides[i].states[n - 1].t_ns;
	}
	int nfiles = 0;
	const char *fpath;
	int fhost;
	for (int i = 0; i < r->ncaps && run_capture_file(r, i, &fpath, &fhost) == 0; i++)
		files[nfiles++] = (struct report_file){fpath, "(pcap)"};
	struct utsname u;
	char kernel[256] = "?";
	if (uname(&u) == 0)
		snprintf(kernel, sizeof(kernel), "%s %s %s", u.sysname, u.release, u.machine);
	nlogs = run_prog_logs(r, &logs);
	struct report_run rr = {
		.logs = logs, .nlogs = nlogs > 0 ? nlogs : 0,
		.lab = r->lab, .lines = (const char *const *)r->lines, .nlines = r->nlines,
		.id = r->id, .engine = r->why_engine, .kernel = kernel,
		.seed = r->o.has_seed ? r->o.seed : r->lab->has_seed ? r->lab->seed : 1,
		.start_real_ns = r->t0_real, .failed = failed, .error = error,
		.nexpect = r->nexpect, .seconds = (double)(mono_ns() - r->t0) / 1e9,
		.poll_ns = r->o.poll_ns, .span_ns = span,
		.steps = rc0->steps, .nsteps = rc0->nsteps,
		.sides = sides, .nsides = ss.n, .sides_left_out = ss.left_out,
		.timeline_capped = r->timeline_capped,
		.links = links, .nlinks = nlinks, .link_engine = r->en ? r->en->ops->name : NULL,
		.ladder_svg = rc0->ladder_svg, .ladder_len = rc0->ladder_len,
		.ladder_note = rc0->ladder_note[0] ? rc0->ladder_note : NULL,
		.files = files, .nfiles = nfiles,
		.run_dir = nfiles ? (r->o.capture_dir ? r->o.capture_dir : r->o.out_dir) : NULL,
	};
	/* Written beside its final name and renamed: a reader never sees half a page. */
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	FILE *f = fopen(tmp, "we");
	if (!f) {
		rc = err_set(e, -errno, "report %s: %s", path, strerror(errno));
		goto out;
	}
	int wrc = report_html(f, &rr);
	if (fclose(f) != 0 || wrc < 0) {
		unlink(tmp);
		rc = err_set(e, -EIO, "report %s: write failed", path);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = err_set(e, -errno, "report %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	run_prog_logs_free(logs, nlogs > 0 ? nlogs : 0);
	free(files);
	free(sides);
	free(links);
	sides_free(&ss);
	return rc;
}
