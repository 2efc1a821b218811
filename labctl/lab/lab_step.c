/* lab_step: the steps: HOST listen, connect, send, shutdown, close, abort, accept, unlisten
 * and flood, and impair and wait (grammar: docs/lab-format.md, "Steps").
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lab/lab_int.h"

/* ---- steps ------------------------------------------------------------------------------ */

/* A new step at the end of the lab's steps, of this line's '&' group; NULL when out of
 * memory. */
static struct lab_step *new_step(struct parser *p, enum lab_op op, int host, int col)
{
	struct lab_step *s = lab_push(p, (void **)&p->lab->steps, &p->lab->nsteps, &p->cap_steps,
				      sizeof(*s));
	if (!s)
		return NULL;
	s->op = op;
	s->host = host;
	s->together = p->together;
	s->pos = lab_pos_at(p, col);
	return s;
}

int lab_add_step(struct parser *p, enum lab_op op, int host, int col, const struct lab_step *s)
{
	struct lab_step *ns = new_step(p, op, host, col);
	if (!ns)
		return -1;
	ns->u = s->u;
	return 0;
}

/* Split "X:PORT": X is "" (listen only), a host name, an IPv4 address, or "[v6]".
 * Writes X into xbuf; returns 0 or an error. */
static int split_hostport(struct parser *p, const struct tok *t, char *xbuf, size_t xlen,
			  uint16_t *port)
{
	const char *s = t->s, *portstr;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return lab_perr(p, t->col, "expected [ADDR]:PORT like [fd00::2]:80, got \"%s\"",
					s);
		size_t l = (size_t)(rb - s - 1);
		if (l >= xlen)
			return lab_perr(p, t->col, "address too long in \"%s\"", s);
		memcpy(xbuf, s + 1, l);
		xbuf[l] = '\0';
		portstr = rb + 2;
	} else {
		const char *c = strrchr(s, ':');
		if (!c)
			return lab_perr(p, t->col, "expected HOST:PORT like server:8080, got \"%s\"",
					s);
		if (strchr(s, ':') != c)
			return lab_perr(p, t->col,
					"write IPv6 addresses in brackets, like [fd00::2]:80 (got "
					"\"%s\")",
					s);
		size_t l = (size_t)(c - s);
		if (l >= xlen)
			return lab_perr(p, t->col, "host too long in \"%s\"", s);
		memcpy(xbuf, s, l);
		xbuf[l] = '\0';
		portstr = c + 1;
	}
	if (!*portstr)
		return lab_perr(p, t->col, "missing port in \"%s\"", s);
	return lab_get_port(p, t, portstr, port);
}

/* TARGET:PORT for connect and flood: a host name or an address of a lab host. */
static int get_target(struct parser *p, const struct tok *t, int *host, struct lab_addr *addr,
		      uint16_t *port)
{
	char x[128];
	if (split_hostport(p, t, x, sizeof(x), port))
		return -1;
	memset(addr, 0, sizeof(*addr));
	*host = -1;
	if (!x[0])
		return lab_perr(p, t->col, "missing target host in \"%s\"", t->s);
	if (lab_parse_addr(x, false, addr) == 0) {
		if (lab_addr_owner(p->lab, addr) < 0)
			return lab_perr(p, t->col,
					"%s is not an address of any host in this lab; labctl connects "
					"only inside the lab",
					x);
		return 0;
	}
	if (t->s[0] == '[')
		return lab_perr(p, t->col, "bad IPv6 address \"%s\"", x);
	if (isdigit((unsigned char)x[0]))
		return lab_perr(p, t->col, "bad address \"%s\"", x);
	*host = lab_get_host_s(p, x, t->col);
	return *host < 0 ? -1 : 0;
}

/* a, written `text` at col, must be one of host h's addresses */
static int own_addr(struct parser *p, int h, const struct lab_addr *a, const char *text,
		    int col)
{
	const struct lab_host *hh = &p->lab->hosts[h];
	if (lab_host_has_addr(hh, a))
		return 0;
	char list[256];
	lab_host_addr_list(hh, list, sizeof(list));
	return lab_perr(p, col, "%s is not an address of host %s (it has %s)", text, hh->name,
			list);
}

#define STEP(m) LAB_FIELD(struct lab_step, u.m)

/* accept after DUR */
static int accept_after(struct parser *p, const struct lab_opt *o, struct lab_optctx *c,
			struct tok *t, int *i, int n)
{
	(void)o;
	struct lab_step *s = c->obj;
	if (s->u.listen.accept != LAB_ACCEPT_AFTER)
		return 0;
	if (lab_need(p, t, *i, n, "a duration like 1s") ||
	    lab_get_duration(p, &t[*i + 1], &s->u.listen.accept_after_ns))
		return -1;
	(*i)++;
	return 0;
}

static const char *const accept_modes[] = {"auto", "never", "manual", "after", NULL};
static const char *const eof_modes[] = {"close", "keep", "shutdown", NULL};
/* ignore: never read, so bytes pile up in the receive queue (and a close() with unread data
 * sends RST, RFC 2525 2.17) */
static const char *const data_modes[] = {"sink", "echo", "source", "ignore", NULL};

static const char *const on_off[] = {"on", "off", NULL};

enum { LI_BACKLOG, LI_ACCEPT, LI_ON_EOF, LI_DATA, LI_AS, LI_REUSEADDR, LI_KEEPALIVE };
static const struct lab_opt listen_opts[] = {
	[LI_BACKLOG] = {"backlog", LAB_OPT_UINT, STEP(listen.backlog), .what = "a number",
			.min = 0, .max = 1048576},
	[LI_ACCEPT] = {"accept", LAB_OPT_WORD, STEP(listen.accept), .words = accept_modes,
		       .what = "auto, never, manual or after DUR", .fn = accept_after},
	[LI_ON_EOF] = {"on-eof", LAB_OPT_WORD, STEP(listen.on_eof), .words = eof_modes,
		       .what = "close, keep or shutdown"},
	[LI_DATA] = {"data", LAB_OPT_WORD, STEP(listen.data), .words = data_modes,
		     .what = "sink, echo, source or ignore"},
	[LI_AS] = {"as", LAB_OPT_GROUP_NEW, STEP(listen.group), .what = "a group name"},
	/* off: a restart while the old connections sit in TIME_WAIT fails (EADDRINUSE) */
	[LI_REUSEADDR] = {"reuseaddr", LAB_OPT_WORD, STEP(listen.no_reuseaddr), .words = on_off,
			  .what = "on or off"},
	[LI_KEEPALIVE] = {"keepalive", LAB_OPT_FLAG, STEP(listen.keepalive)},
};
static const struct lab_optset listen_set = LAB_OPTSET("listen", listen_opts);

static int step_listen(struct parser *p, int h, enum lab_op op, struct tok *t, int n)
{
	if (n < 3)
		return lab_perr(p, t[1].col, "listen needs [ADDR]:PORT, like :8080");
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	s.u.listen.backlog = 128;
	snprintf(s.u.listen.group, LAB_NAME_MAX, "s");
	char x[128];
	const struct tok *at = &t[2];
	if (!strchr(at->s, ':') && isdigit((unsigned char)at->s[0])) {
		/* a bare port: "listen 8080" reads as ":8080" */
		x[0] = '\0';
		if (lab_get_port(p, at, at->s, &s.u.listen.port))
			return -1;
	} else if (split_hostport(p, at, x, sizeof(x), &s.u.listen.port)) {
		return -1;
	}
	if (x[0]) {
		if (lab_parse_addr(x, false, &s.u.listen.addr))
			return lab_perr(p, at->col, "bad address \"%s\"", x);
		if (own_addr(p, h, &s.u.listen.addr, x, at->col))
			return -1;
		s.u.listen.has_addr = true;
	}
	struct lab_optctx c = {.obj = &s, .host = h};
	if (lab_opts_parse(p, &listen_set, t, 3, n, &c))
		return -1;
	int group_col = c.seen & (1u << LI_AS) ? c.col[LI_AS] : t[1].col;
	if (lab_group_define(p, h, s.u.listen.group, true, group_col))
		return -1;
	return lab_add_step(p, op, h, t[0].col, &s);
}

/* connect ... from ADDR: one of the host's own addresses */
static int connect_from(struct parser *p, const struct lab_opt *o, struct lab_optctx *c,
			struct tok *t, int *i, int n)
{
	(void)n;
	struct lab_addr *a = lab_opt_field(c, o);
	const struct tok *v = &t[*i];
	if (lab_parse_addr(v->s, false, a))
		return lab_perr(p, v->col, "expected an address like 10.0.0.1, got \"%s\"", v->s);
	return own_addr(p, c->host, a, v->s, v->col);
}

enum { CO_COUNT, CO_RATE, CO_AS, CO_FROM };
static const struct lab_opt connect_opts[] = {
	[CO_COUNT] = {"count", LAB_OPT_UINT, STEP(connect.count), .what = "a number", .min = 1,
		      .max = 1000000000},
	[CO_RATE] = {"rate", LAB_OPT_RATE, STEP(connect.rate), .what = "a rate like 100/s"},
	[CO_AS] = {"as", LAB_OPT_GROUP_NEW, STEP(connect.group), .what = "a group name"},
	[CO_FROM] = {"from", LAB_OPT_FN, STEP(connect.from), .what = "one of the host's addresses",
		     .fn = connect_from, LAB_HAS(struct lab_step, u.connect.has_from)},
};
static const struct lab_optset connect_set = LAB_OPTSET("connect", connect_opts);

static int step_connect(struct parser *p, int h, enum lab_op op, struct tok *t, int n)
{
	if (n < 3)
		return lab_perr(p, t[1].col, "connect needs TARGET:PORT, like server:8080");
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	s.u.connect.count = 1;
	snprintf(s.u.connect.group, LAB_NAME_MAX, "c");
	if (get_target(p, &t[2], &s.u.connect.target_host, &s.u.connect.target,
		       &s.u.connect.port))
		return -1;
	struct lab_optctx c = {.obj = &s, .host = h};
	if (lab_opts_parse(p, &connect_set, t, 3, n, &c))
		return -1;
	int group_col = c.seen & (1u << CO_AS) ? c.col[CO_AS] : t[1].col;
	int from_col = c.col[CO_FROM];
	if (s.u.connect.has_from && s.u.connect.target.family &&
	    s.u.connect.target.family != s.u.connect.from.family)
		return lab_perr(p, from_col,
				"from address and target are different address families");
	if (lab_group_define(p, h, s.u.connect.group, false, group_col))
		return -1;
	return lab_add_step(p, op, h, t[0].col, &s);
}

static const struct lab_opt accept_opts[] = {
	{"count", LAB_OPT_UINT, STEP(group.count), .what = "a number", .min = 1, .max = 1000000000},
};
static const struct lab_optset accept_set = LAB_OPTSET("accept", accept_opts);

static int step_group(struct parser *p, int h, enum lab_op op, struct tok *t, int n)
{
	const char *verb = t[1].s;
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	s.u.group.count = -1;
	if (n < 3)
		return lab_perr(p, t[1].col, "%s needs a group name%s", verb,
				op == LAB_OP_SEND ? " and a size" : "");
	struct group *g = NULL;
	if (lab_group_use(p, h, &t[2], &g))
		return -1;
	snprintf(s.u.group.group, LAB_NAME_MAX, "%s", t[2].s);
	int i = 3;
	if (op == LAB_OP_SEND) {
		if (n < 4)
			return lab_perr(p, t[1].col, "send needs a size, like send %s 1000",
					t[2].s);
		int rc = lab_parse_size(t[3].s, &s.u.group.bytes);
		if (rc == -ERANGE)
			return lab_perr(p, t[3].col, "size \"%s\" is too large", t[3].s);
		if (rc)
			return lab_perr(p, t[3].col,
					"expected a size like 1000, 1k or 64KiB, got \"%s\"",
					t[3].s);
		i = 4;
	} else if ((op == LAB_OP_ACCEPT || op == LAB_OP_UNLISTEN) && !g->listen) {
		return lab_perr(p, t[2].col,
				"group \"%s\" on host %s is a connect group; %s takes a listen group",
				t[2].s, p->lab->hosts[h].name, verb);
	} else if (op == LAB_OP_ACCEPT) {
		struct lab_optctx c = {.obj = &s, .host = h};
		if (lab_opts_parse(p, &accept_set, t, i, n, &c))
			return -1;
		i = n;
	}
	if (op != LAB_OP_ACCEPT && op != LAB_OP_UNLISTEN) {
		/* handshakes in flight: wait for them, as a program whose connect() blocks */
		s.u.group.connect_wait_ns = LAB_CONNECT_WAIT_NS;
		if (i < n && !strcmp(t[i].s, "wait-connect")) {
			if (lab_need(p, t, i, n, "a duration like 2s (0: act at once)") ||
			    lab_get_duration(p, &t[i + 1], &s.u.group.connect_wait_ns))
				return -1;
			if (s.u.group.connect_wait_ns > LAB_CONNECT_WAIT_MAX_NS)
				return lab_perr(p, t[i + 1].col, "wait-connect is at most 60s");
			i += 2;
		}
	}
	if (i < n)
		return lab_perr(p, t[i].col, "unexpected \"%s\" after %s %s", t[i].s, verb, t[2].s);
	return lab_add_step(p, op, h, t[0].col, &s);
}

/* flood ... from PREFIX: checked against the blackhole range once the file is read */
static int flood_from(struct parser *p, const struct lab_opt *o, struct lab_optctx *c,
		      struct tok *t, int *i, int n)
{
	(void)n;
	const struct tok *v = &t[*i];
	struct lab_addr a;
	if (lab_parse_addr(v->s, true, &a) && lab_parse_addr(v->s, false, &a))
		return lab_perr(p, v->col, "expected a prefix like 198.18.0.0/24, got \"%s\"",
				v->s);
	if (a.prefixlen < 0)
		a.prefixlen = a.family == AF_INET ? 32 : 128;
	*(struct lab_addr *)lab_opt_field(c, o) = a;
	return 0;
}

enum { FL_RATE, FL_FOR, FL_FROM };
static const struct lab_opt flood_opts[] = {
	[FL_RATE] = {"rate", LAB_OPT_RATE, STEP(flood.rate), .what = "a rate like 1000/s",
		     .above0 = "flood rate must be above 0", .missing = "flood needs rate R/s"},
	[FL_FOR] = {"for", LAB_OPT_DURATION, STEP(flood.duration_ns), .what = "a duration like 5s",
		    .above0 = "flood duration must be above 0", .missing = "flood needs for DUR"},
	[FL_FROM] = {"from", LAB_OPT_FN, STEP(flood.from), .fn = flood_from,
		     .what = "a prefix inside the blackhole range",
		     LAB_HAS(struct lab_step, u.flood.has_from)},
};
static const struct lab_optset flood_set = LAB_OPTSET("flood", flood_opts);

static int step_flood(struct parser *p, int h, enum lab_op op, struct tok *t, int n)
{
	if (n < 3)
		return lab_perr(p, t[1].col, "flood needs TARGET:PORT rate R/s for DUR");
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	if (get_target(p, &t[2], &s.u.flood.target_host, &s.u.flood.target, &s.u.flood.port))
		return -1;
	struct lab_optctx c = {.obj = &s, .host = h, .stmt_col = t[1].col};
	if (lab_opts_parse(p, &flood_set, t, 3, n, &c))
		return -1;
	int from_col = c.col[FL_FROM];
	if (lab_add_step(p, op, h, t[0].col, &s))
		return -1;
	if (s.u.flood.has_from) {
		/* checked against the blackhole range at the end: it may be declared later */
		struct deferred *d = lab_push(p, (void **)&p->floods, &p->nfloods, &p->cap_floods,
					      sizeof(*d));
		if (!d)
			return -1;
		d->index = p->lab->nsteps - 1;
		d->pos = lab_pos_at(p, from_col);
	}
	return 0;
}

static int st_impair(struct parser *p, struct tok *t, int n)
{
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	int i, a, b;
	if (n < 3)
		return lab_perr(p, t[0].col,
				"impair needs a link (A B or A>B) and impairments or clear");
	if (lab_is_dir_tok(t[1].s)) {
		if (lab_link_dir(p, &t[1], &s.u.impair.link, &s.u.impair.dir))
			return -1;
		s.u.impair.dir_only = true;
		i = 2;
	} else {
		int ha = lab_get_host(p, &t[1]);
		if (ha < 0)
			return -1;
		int hb = lab_get_host(p, &t[2]);
		if (hb < 0)
			return -1;
		s.u.impair.link = lab_link_find(p->lab, ha, hb);
		if (s.u.impair.link < 0)
			return lab_perr(p, t[1].col, "no link between %s and %s", t[1].s, t[2].s);
		i = 3;
	}
	const struct lab_link *l = &p->lab->links[s.u.impair.link];
	a = l->a;
	b = l->b;
	if (i >= n)
		return lab_perr(p, t[0].col, "impair needs impairments or clear");
	bool cleared;
	if (s.u.impair.dir_only) {
		/* Only the named direction: parse as if it were the link's, keep one half. */
		struct lab_impair both[2];
		memset(both, 0, sizeof(both));
		int d = s.u.impair.dir;
		for (int j = i; j < n; j++)
			if (lab_is_dir_tok(t[j].s))
				return lab_perr(p, t[j].col,
						"impair %s already names one direction", t[1].s);
		if (lab_parse_impairs(p, t, i, n, a, b, both, true, &cleared))
			return -1;
		s.u.impair.imp[d] = both[d];
	} else if (lab_parse_impairs(p, t, i, n, a, b, s.u.impair.imp, true, &cleared)) {
		return -1;
	}
	return lab_add_step(p, LAB_OP_IMPAIR, -1, t[0].col, &s);
}

static int st_wait(struct parser *p, struct tok *t, int n)
{
	int64_t ns;
	if (n < 2)
		return lab_perr(p, t[0].col, "wait needs a duration like 1s");
	if (n > 2)
		return lab_perr(p, t[2].col, "unexpected \"%s\" after the duration", t[2].s);
	if (lab_get_duration(p, &t[1], &ns))
		return -1;
	struct lab_step *s = new_step(p, LAB_OP_WAIT, -1, t[0].col);
	if (!s)
		return -1;
	s->u.wait.ns = ns;
	return 0;
}

/* The verbs in the order "unknown step" lists them. */
const struct lab_word lab_step_words[] = {
	{LAB_VERB, "listen", .parse.verb = step_listen, .op = LAB_OP_LISTEN},
	{LAB_VERB, "connect", .parse.verb = step_connect, .op = LAB_OP_CONNECT},
	{LAB_VERB, "send", .parse.verb = step_group, .op = LAB_OP_SEND},
	{LAB_VERB, "shutdown", .parse.verb = step_group, .op = LAB_OP_SHUTDOWN},
	{LAB_VERB, "close", .parse.verb = step_group, .op = LAB_OP_CLOSE},
	{LAB_VERB, "abort", .parse.verb = step_group, .op = LAB_OP_ABORT},
	{LAB_VERB, "accept", .parse.verb = step_group, .op = LAB_OP_ACCEPT},
	{LAB_VERB, "unlisten", .parse.verb = step_group, .op = LAB_OP_UNLISTEN},
	{LAB_VERB, "flood", .parse.verb = step_flood, .op = LAB_OP_FLOOD},
	{LAB_STATEMENT, "impair", .parse.statement = st_impair, .step = true},
	{LAB_STATEMENT, "wait", .parse.statement = st_wait, .step = true},
	{.name = NULL},
};
