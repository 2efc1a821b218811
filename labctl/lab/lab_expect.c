/* lab_expect: expect HOST STATE | listen ... queue | counter NAME | event KIND
 * (grammar: docs/lab-format.md, "Expectations").
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "lab/lab_int.h"

#define EXPECT(m) LAB_FIELD(struct lab_step, u.expect.m)
#define WITHIN {"within", LAB_OPT_DURATION, EXPECT(within_ns), .what = "a duration like 1s"}

static const struct lab_opt counter_opts[] = {WITHIN};
static const struct lab_optset counter_set = LAB_OPTSET("expect counter", counter_opts);

/* errno NAME: only the events that carry this error (EADDRINUSE, ETIMEDOUT, ...) */
static int expect_errno(struct parser *p, const struct lab_opt *o, struct lab_optctx *c,
			struct tok *t, int *i, int n)
{
	(void)n;
	const struct tok *v = &t[*i];
	int err = lab_errno_parse(v->s);
	if (err < 0) {
		size_t ne;
		const char *const *names = lab_errno_names(&ne);
		char sug[96];
		lab_mean(sug, sizeof(sug), v->s, names, ne);
		return lab_perr(p, v->col, "unknown errno \"%s\" (ECONNREFUSED, ETIMEDOUT, "
				"ECONNRESET, EPIPE, EADDRINUSE, EADDRNOTAVAIL, EHOSTUNREACH, "
				"ENETUNREACH, EMFILE, ENFILE, ENOBUFS, ENOMEM)%s", v->s, sug);
	}
	*(int *)lab_opt_field(c, o) = err;
	return 0;
}

static const struct lab_opt event_opts[] = {
	{"group", LAB_OPT_GROUP, EXPECT(group), .what = "a group name"},
	{"errno", LAB_OPT_FN, EXPECT(err), .fn = expect_errno, .what = "an error name like "
	 "EADDRINUSE"},
	{"count", LAB_OPT_COUNT, EXPECT(count)},
	WITHIN,
};
static const struct lab_optset event_set = LAB_OPTSET("expect event", event_opts);

/* peer HOST[:PORT] */
static int expect_peer(struct parser *p, const struct lab_opt *o, struct lab_optctx *c,
		       struct tok *t, int *i, int n)
{
	(void)o;
	(void)n;
	struct lab_step *e = c->obj;
	const struct tok *v = &t[*i];
	char name[64];
	const char *colon = strchr(v->s, ':');
	size_t nl = colon ? (size_t)(colon - v->s) : strlen(v->s);
	if (nl >= sizeof(name))
		nl = sizeof(name) - 1;
	memcpy(name, v->s, nl);
	name[nl] = '\0';
	if ((e->u.expect.peer_host = lab_get_host_s(p, name, v->col)) < 0)
		return -1;
	if (colon && lab_get_port(p, v, colon + 1, &e->u.expect.peer_port))
		return -1;
	return 0;
}

/* program NAME: the sockets of a program on this host */
static int expect_prog(struct parser *p, const struct lab_opt *o, struct lab_optctx *c,
		       struct tok *t, int *i, int n)
{
	(void)o;
	(void)n;
	struct lab_step *e = c->obj;
	int g = lab_get_prog(p, &t[*i]);
	if (g < 0)
		return -1;
	if (p->lab->progs[g].host != c->host)
		return lab_perr(p, t[*i].col, "program \"%s\" runs on %s, not on %s", t[*i].s,
				p->lab->hosts[p->lab->progs[g].host].name,
				p->lab->hosts[c->host].name);
	e->u.expect.prog = g;
	return 0;
}

#define PORT {"port", LAB_OPT_PORT, EXPECT(port), .what = "a port number"}

static const struct lab_opt state_opts[] = {
	PORT,
	{"peer", LAB_OPT_FN, .fn = expect_peer, .what = "HOST[:PORT]",
	 LAB_HAS(struct lab_step, u.expect.has_peer)},
	{"count", LAB_OPT_COUNT, EXPECT(count)},
	WITHIN,
	{"program", LAB_OPT_FN, .fn = expect_prog, .what = "a program's name",
	 LAB_HAS(struct lab_step, u.expect.has_prog)},
};
static const struct lab_optset state_set = LAB_OPTSET("expect HOST STATE", state_opts);

static const struct lab_opt queue_opts[] = {
	PORT,
	{"queue", LAB_OPT_COUNT, EXPECT(queue), LAB_HAS(struct lab_step, u.expect.has_queue)},
	{"backlog", LAB_OPT_COUNT, EXPECT(backlog), LAB_HAS(struct lab_step, u.expect.has_backlog)},
	{"synrecv", LAB_OPT_COUNT, EXPECT(synrecv), LAB_HAS(struct lab_step, u.expect.has_synrecv)},
	WITHIN,
};
static const struct lab_optset queue_set = LAB_OPTSET("expect HOST listen", queue_opts);

static bool set_has(const struct lab_optset *set, const char *name)
{
	for (size_t k = 0; k < set->n; k++)
		if (!strcmp(set->opts[k].name, name))
			return true;
	return false;
}

/* expect HOST counter NAME [OP] N [within DUR] */
static int expect_counter(struct parser *p, int h, struct tok *t, int n, struct lab_step *e)
{
	e->u.expect.kind = LAB_EXPECT_COUNTER;
	if (n < 5)
		return lab_perr(p, t[2].col,
				"counter needs NAME [OP] N, like counter TcpExtListenOverflows "
				">= 1");
	const char *name = t[3].s;
	bool ok = isalpha((unsigned char)name[0]) &&
		  strlen(name) < sizeof(e->u.expect.counter);
	for (const char *c = name; ok && *c; c++)
		ok = isalnum((unsigned char)*c);
	if (!ok)
		return lab_perr(p, t[3].col,
				"counter name \"%s\" must be letters and digits, like "
				"TcpExtListenOverflows",
				name);
	snprintf(e->u.expect.counter, sizeof(e->u.expect.counter), "%s", name);
	int i = 3;
	if (lab_get_count(p, t, &i, n, &e->u.expect.count, "counter"))
		return -1;
	struct lab_optctx c = {.obj = e, .host = h};
	return lab_opts_parse(p, &counter_set, t, i + 1, n, &c);
}

/* expect HOST event KIND [group G] [errno NAME] [count [OP] N] [within DUR] */
static int expect_event(struct parser *p, int h, struct tok *t, int n, struct lab_step *e)
{
	e->u.expect.kind = LAB_EXPECT_EVENT;
	if (n < 4)
		return lab_perr(p, t[2].col, "event needs a kind, like event refused");
	int k = lab_event_parse(t[3].s);
	if (k < 0) {
		const char *names[LAB_EV_MAX];
		for (int j = 0; j < LAB_EV_MAX; j++)
			names[j] = lab_event_name((enum lab_event_kind)j);
		char sug[96];
		lab_mean(sug, sizeof(sug), t[3].s, names, LAB_EV_MAX);
		return lab_perr(p, t[3].col,
				"unknown event \"%s\" (connected, accepted, data, eof, refused, "
				"timeout, reset, closed, error)%s",
				t[3].s, sug);
	}
	e->u.expect.event = (enum lab_event_kind)k;
	struct lab_optctx c = {.obj = e, .host = h};
	return lab_opts_parse(p, &event_set, t, 4, n, &c);
}

/* expect HOST STATE [port N] [peer HOST[:PORT]] [count [OP] N] [within DUR], or
 * expect HOST listen [port N] [queue|backlog|synrecv [OP] N] [within DUR] */
static int expect_state(struct parser *p, int h, struct tok *t, int n, struct lab_step *e)
{
	const char *w = t[2].s;
	int st = lab_state_parse(w);
	if (st < 0) {
		const char *best = lab_state_suggest(w);
		const char *words[LAB_WORDS_MAX];
		size_t nw = lab_word_names(LAB_EXPECT, words, LAB_WORDS_MAX);
		if (!best)
			best = lab_suggest(w, words, nw);
		if (best)
			return lab_perr(p, t[2].col, "unknown state \"%s\"; did you mean %s?", w,
					best);
		char list[256];
		lab_word_list(LAB_EXPECT, list, sizeof(list));
		return lab_perr(p, t[2].col,
				"unknown state \"%s\" (ESTABLISHED, SYN_SENT, SYN_RECV, "
				"FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT, CLOSED, CLOSE_WAIT, "
				"LAST_ACK, LISTEN, CLOSING; or %s)",
				w, list);
	}
	/* LISTEN with a word only the queue form has (queue, backlog, synrecv) is that form */
	bool queue = false;
	if (st == LAB_TCP_LISTEN)
		for (int j = 3; j < n; j++)
			if (set_has(&queue_set, t[j].s) && !set_has(&state_set, t[j].s))
				queue = true;
	e->u.expect.state = (enum lab_tcp_state)st;
	e->u.expect.kind = queue ? LAB_EXPECT_QUEUE : LAB_EXPECT_STATE;
	struct lab_optctx c = {.obj = e, .host = h};
	return lab_opts_parse(p, queue ? &queue_set : &state_set, t, 3, n, &c);
}

/* expect HOST path STATE... [port N] [within D] | expect HOST seen STATE [port N] [count C]
 * [within D]: what the timeline says a connection went through (issue 14). */
static int expect_history(struct parser *p, int h, struct tok *t, int n, struct lab_step *e)
{
	(void)h;
	bool path = !strcmp(t[2].s, "path");
	e->u.expect.kind = path ? LAB_EXPECT_PATH : LAB_EXPECT_SEEN;
	int i = 3;
	for (; i < n; i++) {
		int st = lab_state_parse(t[i].s);
		if (st < 0)
			break;
		if ((!path && i > 3) || e->u.expect.npath == LAB_PATH_MAX)
			return lab_perr(p, t[i].col, path ? "a path has at most %d states" :
					"seen takes one state (use path for a sequence)", LAB_PATH_MAX);
		e->u.expect.path[e->u.expect.npath++] = (enum lab_tcp_state)st;
		e->u.expect.state = (enum lab_tcp_state)st;
	}
	if (e->u.expect.npath == 0 && i < n && strcmp(t[i].s, "port") && strcmp(t[i].s, "within") &&
	    strcmp(t[i].s, "count")) {
		const char *best = lab_state_suggest(t[i].s);
		return lab_perr(p, t[i].col, "unknown state \"%s\"%s%s%s", t[i].s,
				best ? "; did you mean " : "", best ? best : "", best ? "?" : "");
	}
	if (e->u.expect.npath == 0)
		return lab_perr(p, i < n ? t[i].col : t[2].col,
				path ? "path needs the states, like path SYN_SENT ESTABLISHED TIME_WAIT" :
				       "seen needs a state, like seen SYN_RECV");
	for (; i < n; i++) {
		const char *k = t[i].s;
		if (!strcmp(k, "port")) {
			if (lab_need(p, t, i, n, "a port number") ||
			    lab_get_port(p, &t[i + 1], t[i + 1].s, &e->u.expect.port))
				return -1;
			i++;
		} else if (!strcmp(k, "within")) {
			if (lab_need(p, t, i, n, "a duration like 1s") ||
			    lab_get_duration(p, &t[i + 1], &e->u.expect.within_ns))
				return -1;
			i++;
		} else if (!path && !strcmp(k, "count")) {
			if (lab_get_count(p, t, &i, n, &e->u.expect.count, NULL))
				return -1;
		} else if (path) {
			static const char *const keys[] = {"port", "within"};
			return lab_unknown_key(p, &t[i], "expect HOST path", keys, 2);
		} else {
			static const char *const keys[] = {"port", "count", "within"};
			return lab_unknown_key(p, &t[i], "expect HOST seen", keys, 3);
		}
	}
	return 0;
}

static int st_expect(struct parser *p, struct tok *t, int n)
{
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	if (n < 3)
		return lab_perr(p, t[0].col,
				"expect needs a host and what to expect, like: expect client "
				"ESTABLISHED");
	if (!strcmp(t[1].s, "program") && lab_host_find(p->lab, "program") < 0)
		return lab_expect_program(p, t, n);
	int h = lab_get_host(p, &t[1]);
	if (h < 0)
		return -1;
	s.u.expect.count.cmp = LAB_CMP_GE;
	s.u.expect.count.n = 1;
	const struct lab_word *w = lab_word_find(LAB_EXPECT, t[2].s);
	if (w ? w->parse.expect(p, h, t, n, &s) : expect_state(p, h, t, n, &s))
		return -1;
	return lab_add_step(p, LAB_OP_EXPECT, h, t[0].col, &s);
}

const struct lab_word lab_expect_words[] = {
	{LAB_STATEMENT, "expect", .parse.statement = st_expect, .step = true},
	{LAB_EXPECT, "counter", .parse.expect = expect_counter},
	{LAB_EXPECT, "event", .parse.expect = expect_event},
	{LAB_EXPECT, "path", .parse.expect = expect_history},
	{LAB_EXPECT, "seen", .parse.expect = expect_history},
	{.name = NULL},
};
