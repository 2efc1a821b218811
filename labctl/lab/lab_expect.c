/* lab_expect: expect HOST STATE | listen ... queue | counter NAME | event KIND
 * (grammar: docs/lab-format.md, "Expectations").
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "lab/lab_int.h"

/* count [OP] N / queue [OP] N ...: OP separate or attached (">=5"); no OP means "=". */
static int get_count(struct parser *p, struct tok *t, int *i, int n, struct lab_count *c,
		     const char *what)
{
	static const struct { const char *op; enum lab_cmp cmp; } ops[] = {
		{">=", LAB_CMP_GE}, {"<=", LAB_CMP_LE}, {"==", LAB_CMP_EQ}, {"!=", LAB_CMP_NE},
		{">", LAB_CMP_GT},  {"<", LAB_CMP_LT},  {"=", LAB_CMP_EQ},
	};
	const struct tok *kt = &t[*i];
	char label[96];
	snprintf(label, sizeof(label), "%s%s%s", what ? what : "", what ? " " : "", kt->s);
	if (need(p, t, *i, n, "a number, optionally after =, >=, <=, >, < or !="))
		return -1;
	(*i)++;
	const char *s = t[*i].s;
	int col = t[*i].col;
	c->cmp = LAB_CMP_EQ;
	for (size_t j = 0; j < sizeof(ops) / sizeof(ops[0]); j++) {
		size_t l = strlen(ops[j].op);
		if (!strncmp(s, ops[j].op, l)) {
			c->cmp = ops[j].cmp;
			s += l;
			col += (int)l;
			if (!*s) {
				if (*i + 1 >= n)
					return perr(p, t[*i].col, "%s %s needs a number", label,
						    t[*i].s);
				(*i)++;
				s = t[*i].s;
				col = t[*i].col;
			}
			break;
		}
	}
	if (parse_uint(s, 0, INT64_MAX, &c->n))
		return perr(p, col, "%s must be a whole number, got \"%s\"", label, s);
	return 0;
}

/* expect HOST counter NAME [OP] N [within DUR] */
static int expect_counter(struct parser *p, int h, struct tok *t, int n, struct lab_step *e)
{
	(void)h;
	e->u.expect.kind = LAB_EXPECT_COUNTER;
	if (n < 5)
		return perr(p, t[2].col,
			    "counter needs NAME [OP] N, like counter TcpExtListenOverflows "
			    ">= 1");
	const char *name = t[3].s;
	bool ok = isalpha((unsigned char)name[0]) &&
		  strlen(name) < sizeof(e->u.expect.counter);
	for (const char *c = name; ok && *c; c++)
		ok = isalnum((unsigned char)*c);
	if (!ok)
		return perr(p, t[3].col,
			    "counter name \"%s\" must be letters and digits, like "
			    "TcpExtListenOverflows",
			    name);
	snprintf(e->u.expect.counter, sizeof(e->u.expect.counter), "%s", name);
	int i = 3;
	if (get_count(p, t, &i, n, &e->u.expect.count, "counter"))
		return -1;
	i++;
	for (; i < n; i++) {
		if (!strcmp(t[i].s, "within")) {
			if (need(p, t, i, n, "a duration like 1s") ||
			    get_duration(p, &t[i + 1], &e->u.expect.within_ns))
				return -1;
			i++;
		} else {
			static const char *const keys[] = {"within"};
			return unknown_key(p, &t[i], "expect counter", keys, 1);
		}
	}
	return 0;
}

/* expect HOST event KIND [group G] [count [OP] N] [within DUR] */
static int expect_event(struct parser *p, int h, struct tok *t, int n, struct lab_step *e)
{
	int i;
	static const char *const keys[] = {"group", "count", "within"};
	e->u.expect.kind = LAB_EXPECT_EVENT;
	if (n < 4)
		return perr(p, t[2].col, "event needs a kind, like event refused");
	int k = lab_event_parse(t[3].s);
	if (k < 0) {
		const char *names[LAB_EV_MAX];
		for (int j = 0; j < LAB_EV_MAX; j++)
			names[j] = lab_event_name((enum lab_event_kind)j);
		char sug[96];
		mean(sug, sizeof(sug), t[3].s, names, LAB_EV_MAX);
		return perr(p, t[3].col,
			    "unknown event \"%s\" (connected, accepted, data, eof, refused, "
			    "timeout, reset, closed, error)%s",
			    t[3].s, sug);
	}
	e->u.expect.event = (enum lab_event_kind)k;
	for (i = 4; i < n; i++) {
		const char *k2 = t[i].s;
		if (!strcmp(k2, "group")) {
			if (need(p, t, i, n, "a group name") || group_use(p, h, &t[i + 1], NULL))
				return -1;
			i++;
			snprintf(e->u.expect.group, LAB_NAME_MAX, "%s", t[i].s);
		} else if (!strcmp(k2, "count")) {
			if (get_count(p, t, &i, n, &e->u.expect.count, NULL))
				return -1;
		} else if (!strcmp(k2, "within")) {
			if (need(p, t, i, n, "a duration like 1s") ||
			    get_duration(p, &t[i + 1], &e->u.expect.within_ns))
				return -1;
			i++;
		} else {
			return unknown_key(p, &t[i], "expect event", keys, 3);
		}
	}
	return 0;
}

/* expect HOST STATE [port N] [peer HOST[:PORT]] [count [OP] N] [within DUR], or
 * expect HOST listen [port N] [queue|backlog|synrecv [OP] N] [within DUR] */
static int expect_state(struct parser *p, int h, struct tok *t, int n, struct lab_step *e)
{
	(void)h;
	const char *w = t[2].s;
	int i;
	int st = lab_state_parse(w);
	if (st < 0) {
		const char *best = lab_state_suggest(w);
		const char *words[LAB_WORDS_MAX];
		size_t nw = word_names(LAB_EXPECT, words, LAB_WORDS_MAX);
		if (!best)
			best = lab_suggest(w, words, nw);
		if (best)
			return perr(p, t[2].col, "unknown state \"%s\"; did you mean %s?", w,
				    best);
		char list[256];
		word_list(LAB_EXPECT, list, sizeof(list));
		return perr(p, t[2].col,
			    "unknown state \"%s\" (ESTABLISHED, SYN_SENT, SYN_RECV, "
			    "FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT, CLOSED, CLOSE_WAIT, "
			    "LAST_ACK, LISTEN, CLOSING; or %s)",
			    w, list);
	}
	bool queue = false;
	if (st == LAB_TCP_LISTEN)
		for (int j = 3; j < n; j++)
			if (!strcmp(t[j].s, "queue") || !strcmp(t[j].s, "backlog") ||
			    !strcmp(t[j].s, "synrecv"))
				queue = true;
	e->u.expect.state = (enum lab_tcp_state)st;
	e->u.expect.kind = queue ? LAB_EXPECT_QUEUE : LAB_EXPECT_STATE;
	for (i = 3; i < n; i++) {
		const char *k = t[i].s;
		if (!strcmp(k, "port")) {
			if (need(p, t, i, n, "a port number") ||
			    get_port(p, &t[i + 1], t[i + 1].s, &e->u.expect.port))
				return -1;
			i++;
		} else if (!strcmp(k, "within")) {
			if (need(p, t, i, n, "a duration like 1s") ||
			    get_duration(p, &t[i + 1], &e->u.expect.within_ns))
				return -1;
			i++;
		} else if (!queue && !strcmp(k, "peer")) {
			if (need(p, t, i, n, "HOST[:PORT]"))
				return -1;
			i++;
			char name[64];
			const char *c = strchr(t[i].s, ':');
			size_t nl = c ? (size_t)(c - t[i].s) : strlen(t[i].s);
			if (nl >= sizeof(name))
				nl = sizeof(name) - 1;
			memcpy(name, t[i].s, nl);
			name[nl] = '\0';
			if ((e->u.expect.peer_host = get_host_s(p, name, t[i].col)) < 0)
				return -1;
			if (c && get_port(p, &t[i], c + 1, &e->u.expect.peer_port))
				return -1;
			e->u.expect.has_peer = true;
		} else if (!queue && !strcmp(k, "count")) {
			if (get_count(p, t, &i, n, &e->u.expect.count, NULL))
				return -1;
		} else if (queue && !strcmp(k, "queue")) {
			if (get_count(p, t, &i, n, &e->u.expect.queue, NULL))
				return -1;
			e->u.expect.has_queue = true;
		} else if (queue && !strcmp(k, "backlog")) {
			if (get_count(p, t, &i, n, &e->u.expect.backlog, NULL))
				return -1;
			e->u.expect.has_backlog = true;
		} else if (queue && !strcmp(k, "synrecv")) {
			if (get_count(p, t, &i, n, &e->u.expect.synrecv, NULL))
				return -1;
			e->u.expect.has_synrecv = true;
		} else if (queue) {
			static const char *const keys[] = {"port", "queue", "backlog",
							   "synrecv", "within"};
			return unknown_key(p, &t[i], "expect HOST listen", keys, 5);
		} else {
			static const char *const keys[] = {"port", "peer", "count", "within"};
			return unknown_key(p, &t[i], "expect HOST STATE", keys, 4);
		}
	}
	return 0;
}

static int st_expect(struct parser *p, struct tok *t, int n)
{
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	if (n < 3)
		return perr(p, t[0].col,
			    "expect needs a host and what to expect, like: expect client "
			    "ESTABLISHED");
	int h = get_host(p, &t[1]);
	if (h < 0)
		return -1;
	s.u.expect.count.cmp = LAB_CMP_GE;
	s.u.expect.count.n = 1;
	const struct lab_word *w = word_find(LAB_EXPECT, t[2].s);
	if (w ? w->parse.expect(p, h, t, n, &s) : expect_state(p, h, t, n, &s))
		return -1;
	struct lab_step *ns = new_step(p, LAB_OP_EXPECT, h, t[0].col);
	if (!ns)
		return -1;
	ns->u = s.u;
	return 0;
}

const struct lab_word lab_expect_words[] = {
	{LAB_STATEMENT, "expect", .parse.statement = st_expect, .step = true},
	{LAB_EXPECT, "counter", .parse.expect = expect_counter},
	{LAB_EXPECT, "event", .parse.expect = expect_event},
	{.name = NULL},
};
