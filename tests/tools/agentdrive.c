/* agentdrive: drive labctl agents by hand or from a test, through agentctl (the same API the
 * lab runner uses).
 *
 *   agentdrive [-q] HOST=NETNS_PATH... [-c 'COMMAND']...
 *
 * Starts one agent per HOST inside the namespace at NETNS_PATH (/run/netns/NAME).  Commands
 * come from -c options, else from stdin, one per line, optionally prefixed by a host name
 * (default: the first host).  Each command ends with a line "done ok" or "done error: ...";
 * events print as they arrive:
 *   event HOST KIND conn=N group=G local=A:P peer=A:P [err=ENAME] [bytes=N] [abort] t=S.NNN
 *
 * Commands:
 *   listen [ADDR]:PORT [backlog N] [accept auto|never|manual|after DUR]
 *          [on-eof close|keep|shutdown] [data sink|echo|source|ignore] [as G]
 *          [reuseaddr on|off] [keepalive on|off]    (prints the agent's note, if any)
 *   connect ADDR:PORT [count N] [rate R/s] [as G] [from ADDR]
 *   send G BYTES | shutdown G | close G | abort G  [wait-connect DUR]   (prints
 *                                               "note HOST: TEXT" when the agent says
 *                                               what it did with handshakes in flight)
 *   accept G [count N] | unlisten G | ping
 *   cycle ADDR:PORT count N [concurrency K]     prints "cycle N in S s: R/s"
 *   flood ADDR:PORT rate R for DUR [from CIDR] [range CIDR]
 *                                               SYN flood (range: the black hole the agent
 *                                               checks sources against, default
 *                                               198.18.0.0/24); prints "flood N in S s: R/s"
 *                                               and the agent's note
 *   wait-event KIND N [group G] [within DUR]    until N KIND events (total) have arrived
 *   count KIND [group G]                        prints "count KIND N"
 *   sleep DUR | rss (prints "rss KB") | pid | quiet on|off
 *   mark | elapsed                              prints "elapsed S" since the last mark
 * Exit status: 0 when every command succeeded, 1 otherwise, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run/agentctl.h"
#include "lab/lab.h"

#define MAX_HOSTS 8
#define MAX_GROUPS 64
#define ANSWER_TIMEOUT_NS (10LL * 1000000000)

struct gcount {
	char group[LAB_NAME_MAX];
	int64_t n[LAB_EV_MAX];
};

struct host {
	struct drive *d;
	char name[LAB_NAME_MAX];
	struct agentctl *ac;
	int64_t total[LAB_EV_MAX];
	struct gcount groups[MAX_GROUPS];
	int ngroups;
};

struct drive {
	struct ev_loop *loop;
	struct host hosts[MAX_HOSTS];
	int nhosts;
	bool quiet;
	int failures;
	ev_io in;
	char line[4096];
	size_t linelen;
	int64_t mark_ns;
};

static const char *const ev_names[LAB_EV_MAX] = {
	"connected", "accepted", "data", "eof", "refused", "timeout", "reset", "closed", "error",
};

static int ev_parse(const char *s)
{
	for (int i = 0; i < LAB_EV_MAX; i++)
		if (!strcmp(s, ev_names[i]))
			return i;
	return -1;
}

static const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "-");
	}
	return buf;
}

static void on_event(void *arg, const struct agent_event *ev)
{
	struct host *h = arg;
	char l[80], p[80];
	if ((int)ev->kind < 0 || ev->kind >= LAB_EV_MAX)
		return;
	h->total[ev->kind]++;
	struct gcount *gc = NULL;
	for (int i = 0; i < h->ngroups; i++)
		if (!strcmp(h->groups[i].group, ev->group))
			gc = &h->groups[i];
	if (!gc && h->ngroups < MAX_GROUPS) {
		gc = &h->groups[h->ngroups++];
		snprintf(gc->group, sizeof(gc->group), "%s", ev->group);
	}
	if (gc)
		gc->n[ev->kind]++;
	if (h->d->quiet)
		return;
	printf("event %s %s conn=%u group=%s local=%s peer=%s", h->name, ev_names[ev->kind],
	       ev->conn, ev->group, addr_str(&ev->local, l, sizeof(l)),
	       addr_str(&ev->peer, p, sizeof(p)));
	if (ev->err)
		printf(" err=%s", strerrorname_np(ev->err) ? strerrorname_np(ev->err) : "?");
	if (ev->kind == LAB_EV_DATA)
		printf(" bytes=%lld", (long long)ev->bytes);
	if (ev->aborted)
		printf(" abort");
	printf(" t=%lld.%09lld\n", (long long)(ev->ts_ns / 1000000000),
	       (long long)(ev->ts_ns % 1000000000));
}

/* ---- small parsers (the lab parser is another module's) ---- */

static int parse_dur(const char *s, int64_t *ns)
{
	char *end;
	double v = strtod(s, &end);
	double mul = 1e9;
	if (end == s || v < 0)
		return -1;
	if (!strcmp(end, "ns"))
		mul = 1;
	else if (!strcmp(end, "us"))
		mul = 1e3;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "s") || !*end)
		mul = 1e9;
	else if (!strcmp(end, "m"))
		mul = 60e9;
	else
		return -1;
	*ns = (int64_t)(v * mul);
	return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || errno)
		return -1;
	if (*end == 'k')
		v *= 1000, end++;
	else if (*end == 'M')
		v *= 1000000, end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int parse_ip(const char *s, struct lab_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->prefixlen = -1;
	if (inet_pton(AF_INET, s, a->bytes) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, s, a->bytes) == 1)
		a->family = AF_INET6;
	else
		return -1;
	return 0;
}

/* "[ADDR]:PORT", "ADDR:PORT", ":PORT" */
static int parse_hostport(const char *s, struct lab_addr *a, bool *has_addr, uint16_t *port)
{
	char ip[64];
	const char *colon = strrchr(s, ':');
	if (!colon)
		return -1;
	size_t n = (size_t)(colon - s);
	if (n >= sizeof(ip))
		return -1;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
		memmove(ip, ip + 1, n - 2);
		ip[n - 2] = '\0';
	}
	int64_t p;
	if (parse_i64(colon + 1, &p) < 0 || p < 1 || p > 65535)
		return -1;
	*port = (uint16_t)p;
	*has_addr = ip[0] != '\0';
	if (!*has_addr) {
		memset(a, 0, sizeof(*a));
		return 0;
	}
	return parse_ip(ip, a);
}

static void to_ss(const struct lab_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (void *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a->bytes, 16);
	} else {
		struct sockaddr_in *s4 = (void *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a->bytes, 4);
	}
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop; (void)w; (void)revents;
}

/* Run the loop for up to ns, or until done(arg) holds. */
static bool run_until(struct drive *d, int64_t ns, bool (*done)(void *), void *arg)
{
	int64_t deadline = mono_ns() + ns;
	ev_timer t;
	ev_timer_init(&t, wake_cb, 0.01, 0.01);
	ev_timer_start(d->loop, &t);
	bool ok;
	while (!(ok = done && done(arg)) && mono_ns() < deadline)
		ev_run(d->loop, EVRUN_ONCE);
	ev_timer_stop(d->loop, &t);
	return ok;
}

struct waitev {
	struct host *h;
	int kind;
	const char *group;
	int64_t n;
};

static int64_t ev_count(struct host *h, int kind, const char *group)
{
	if (!group)
		return h->total[kind];
	for (int i = 0; i < h->ngroups; i++)
		if (!strcmp(h->groups[i].group, group))
			return h->groups[i].n[kind];
	return 0;
}

static bool waitev_done(void *arg)
{
	struct waitev *w = arg;
	return ev_count(w->h, w->kind, w->group) >= w->n;
}

/* ---- commands ---- */

static int read_rss_kb(pid_t pid)
{
	char path[64], line[256];
	int kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %d kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static int run_cmd(struct drive *d, struct host *h, char **w, int nw, char *err, size_t errlen)
{
	struct lab_step st;
	struct sockaddr_storage target;
	struct lc_err e = {0};
	uint32_t tag;
	int64_t v;
	const char *cmd = w[0];

	memset(&st, 0, sizeof(st));
	if (!strcmp(cmd, "listen")) {
		if (nw < 2 || parse_hostport(w[1], &st.u.listen.addr, &st.u.listen.has_addr,
					     &st.u.listen.port) < 0)
			BAD("listen [ADDR]:PORT ...");
		st.op = LAB_OP_LISTEN;
		st.u.listen.backlog = 128;
		for (int i = 2; i < nw; i++) {
			const char *k = w[i], *val = i + 1 < nw ? w[i + 1] : NULL;
			if (!val)
				BAD("listen: %s needs a value", k);
			i++;
			if (!strcmp(k, "backlog") && parse_i64(val, &v) == 0) {
				st.u.listen.backlog = (int)v;
			} else if (!strcmp(k, "accept")) {
				if (!strcmp(val, "auto"))
					st.u.listen.accept = LAB_ACCEPT_AUTO;
				else if (!strcmp(val, "never"))
					st.u.listen.accept = LAB_ACCEPT_NEVER;
				else if (!strcmp(val, "manual"))
					st.u.listen.accept = LAB_ACCEPT_MANUAL;
				else if (!strcmp(val, "after") && i + 1 < nw &&
					 parse_dur(w[i + 1], &st.u.listen.accept_after_ns) == 0) {
					st.u.listen.accept = LAB_ACCEPT_AFTER;
					i++;
				} else
					BAD("listen: accept auto|never|manual|after DUR");
			} else if (!strcmp(k, "on-eof")) {
				if (!strcmp(val, "close"))
					st.u.listen.on_eof = LAB_EOF_CLOSE;
				else if (!strcmp(val, "keep"))
					st.u.listen.on_eof = LAB_EOF_KEEP;
				else if (!strcmp(val, "shutdown"))
					st.u.listen.on_eof = LAB_EOF_SHUTDOWN;
				else
					BAD("listen: on-eof close|keep|shutdown");
			} else if (!strcmp(k, "data")) {
				if (!strcmp(val, "sink"))
					st.u.listen.data = LAB_DATA_SINK;
				else if (!strcmp(val, "echo"))
					st.u.listen.data = LAB_DATA_ECHO;
				else if (!strcmp(val, "source"))
					st.u.listen.data = LAB_DATA_SOURCE;
				else if (!strcmp(val, "ignore"))
					st.u.listen.data = LAB_DATA_IGNORE;
				else
					BAD("listen: data sink|echo|source|ignore");
			} else if (!strcmp(k, "as")) {
				snprintf(st.u.listen.group, sizeof(st.u.listen.group), "%s", val);
			} else if (!strcmp(k, "reuseaddr") && (!strcmp(val, "on") || !strcmp(val, "off"))) {
				st.u.listen.no_reuseaddr = !strcmp(val, "off");
			} else if (!strcmp(k, "keepalive") && (!strcmp(val, "on") || !strcmp(val, "off"))) {
				st.u.listen.keepalive = !strcmp(val, "on");
			} else {
				BAD("listen: unknown option %s", k);
			}
		}
		struct agentctl_result res;
		if (agentctl_send(h->ac, &st, NULL, &tag, &e) < 0 ||
		    agentctl_wait_result(h->ac, tag, ANSWER_TIMEOUT_NS, &res, &e) < 0)
			BAD("%s", e.msg);
		if (res.detail[0])
			printf("note %s: %s\n", h->name, res.detail);
		return 0;
	}
	if (!strcmp(cmd, "connect") || !strcmp(cmd, "cycle")) {
		bool has;
		int64_t conc = 1;
		if (nw < 2 || parse_hostport(w[1], &st.u.connect.target, &has, &st.u.connect.port) < 0 ||
		    !has)
			BAD("%s ADDR:PORT ...", cmd);
		st.op = LAB_OP_CONNECT;
		st.u.connect.count = 1;
		snprintf(st.u.connect.group, sizeof(st.u.connect.group), "c");
		for (int i = 2; i + 1 < nw; i += 2) {
			const char *k = w[i], *val = w[i + 1];
			if (!strcmp(k, "count") && parse_i64(val, &v) == 0)
				st.u.connect.count = v;
			else if (!strcmp(k, "rate"))
				st.u.connect.rate = strtod(val, NULL);
			else if (!strcmp(k, "as"))
				snprintf(st.u.connect.group, sizeof(st.u.connect.group), "%s", val);
			else if (!strcmp(k, "from") && parse_ip(val, &st.u.connect.from) == 0)
				st.u.connect.has_from = true;
			else if (!strcmp(k, "concurrency") && parse_i64(val, &conc) == 0)
				;
			else
				BAD("%s: bad option %s %s", cmd, k, val);
		}
		if ((nw - 2) % 2)
			BAD("%s: options come in pairs", cmd);
		to_ss(&st.u.connect.target, st.u.connect.port, &target);
		if (!strcmp(cmd, "cycle")) {
			int64_t n, ns;
			if (agentctl_send_cycle(h->ac, &target, st.u.connect.count, (uint32_t)conc,
						&tag, &e) < 0 ||
			    agentctl_wait_cycle(h->ac, tag, 600LL * 1000000000, &n, &ns, &e) < 0)
				BAD("%s", e.msg);
			printf("cycle %lld in %.3f s: %.0f/s\n", (long long)n, (double)ns / 1e9,
			       ns > 0 ? (double)n * 1e9 / (double)ns : 0.0);
			return 0;
		}
		if (agentctl_send(h->ac, &st, &target, &tag, &e) < 0 ||
		    agentctl_wait(h->ac, tag, ANSWER_TIMEOUT_NS, &e) < 0)
			BAD("%s", e.msg);
		return 0;
	}
	if (!strcmp(cmd, "flood")) {
		bool has;
		struct lab_addr range;
		struct agentctl_result res;
		lab_parse_addr("198.18.0.0/24", true, &range);
		if (nw < 2 || parse_hostport(w[1], &st.u.flood.target, &has, &st.u.flood.port) < 0 ||
		    !has)
			BAD("flood ADDR:PORT rate R for DUR [from CIDR] [range CIDR]");
		st.op = LAB_OP_FLOOD;
		for (int i = 2; i + 1 < nw; i += 2) {
			const char *k = w[i], *val = w[i + 1];
			if (!strcmp(k, "rate"))
				st.u.flood.rate = strtod(val, NULL);
			else if (!strcmp(k, "for") && parse_dur(val, &st.u.flood.duration_ns) == 0)
				;
			else if (!strcmp(k, "from") && lab_parse_addr(val, true, &st.u.flood.from) == 0)
				st.u.flood.has_from = true;
			else if (!strcmp(k, "range") && lab_parse_addr(val, true, &range) == 0)
				;
			else
				BAD("flood: bad option %s %s", k, val);
		}
		if ((nw - 2) % 2)
			BAD("flood: options come in pairs");
		to_ss(&st.u.flood.target, st.u.flood.port, &target);
		if (agentctl_send_flood(h->ac, &st, &target, &range, &tag, &e) < 0 ||
		    agentctl_wait_result(h->ac, tag,
					 ANSWER_TIMEOUT_NS + st.u.flood.duration_ns, &res, &e) < 0)
			BAD("%s", e.msg);
		printf("flood %lld in %.3f s: %.0f/s (%s)\n", (long long)res.count,
		       (double)res.elapsed_ns / 1e9,
		       res.elapsed_ns > 0 ? (double)res.count * 1e9 / (double)res.elapsed_ns : 0.0,
		       res.detail);
		return 0;
	}
	static const struct { const char *name; enum lab_op op; } gops[] = {
		{"send", LAB_OP_SEND}, {"shutdown", LAB_OP_SHUTDOWN}, {"close", LAB_OP_CLOSE},
		{"abort", LAB_OP_ABORT}, {"accept", LAB_OP_ACCEPT},
		{"unlisten", LAB_OP_UNLISTEN},
	};
	for (size_t i = 0; i < sizeof(gops) / sizeof(gops[0]); i++) {
		if (strcmp(cmd, gops[i].name))
			continue;
		if (nw < 2)
			BAD("%s GROUP", cmd);
		st.op = gops[i].op;
		snprintf(st.u.group.group, sizeof(st.u.group.group), "%s", w[1]);
		st.u.group.count = -1;
		st.u.group.connect_wait_ns = LAB_CONNECT_WAIT_NS;
		int at = st.op == LAB_OP_SEND ? 3 : 2;
		if (st.op == LAB_OP_SEND && (nw < 3 || parse_i64(w[2], &st.u.group.bytes) < 0))
			BAD("send GROUP BYTES");
		if (st.op == LAB_OP_ACCEPT && nw == 4 && !strcmp(w[2], "count") &&
		    parse_i64(w[3], &v) == 0)
			st.u.group.count = v;
		else if (st.op != LAB_OP_ACCEPT && st.op != LAB_OP_UNLISTEN && nw == at + 2 &&
			 !strcmp(w[at], "wait-connect") &&
			 parse_dur(w[at + 1], &st.u.group.connect_wait_ns) == 0)
			;
		else if (st.op != LAB_OP_ACCEPT && nw != at)
			BAD("%s GROUP%s [wait-connect DUR]", cmd, st.op == LAB_OP_SEND ? " BYTES" : "");
		struct agentctl_result res;
		if (agentctl_send(h->ac, &st, NULL, &tag, &e) < 0 ||
		    agentctl_wait_result(h->ac, tag, ANSWER_TIMEOUT_NS + st.u.group.connect_wait_ns,
					 &res, &e) < 0)
			BAD("%s", e.msg);
		if (res.detail[0])
			printf("note %s: %s\n", h->name, res.detail);
		return 0;
	}
	if (!strcmp(cmd, "ping")) {
		if (agentctl_send_ping(h->ac, &tag, &e) < 0 ||
		    agentctl_wait(h->ac, tag, ANSWER_TIMEOUT_NS, &e) < 0)
			BAD("%s", e.msg);
		return 0;
	}
	if (!strcmp(cmd, "wait-event") || !strcmp(cmd, "count")) {
		struct waitev we = {h, -1, NULL, 1};
		int64_t within = 10LL * 1000000000;
		bool wait = !strcmp(cmd, "wait-event");
		int i = 2;
		if (nw < 2 || (we.kind = ev_parse(w[1])) < 0)
			BAD("%s KIND ...: unknown event kind", cmd);
		if (wait) {
			if (nw < 3 || parse_i64(w[2], &we.n) < 0)
				BAD("wait-event KIND N [group G] [within DUR]");
			i = 3;
		}
		for (; i + 1 < nw; i += 2) {
			if (!strcmp(w[i], "group"))
				we.group = w[i + 1];
			else if (!strcmp(w[i], "within") && parse_dur(w[i + 1], &within) == 0)
				;
			else
				BAD("%s: bad option %s", cmd, w[i]);
		}
		if (!wait) {
			run_until(d, 0, NULL, NULL);
			printf("count %s %lld\n", w[1], (long long)ev_count(h, we.kind, we.group));
			return 0;
		}
		if (!run_until(d, within, waitev_done, &we))
			BAD("wait-event %s %lld: only %lld within %.3fs", w[1], (long long)we.n,
			    (long long)ev_count(h, we.kind, we.group), (double)within / 1e9);
		return 0;
	}
	if (!strcmp(cmd, "sleep")) {
		if (nw != 2 || parse_dur(w[1], &v) < 0)
			BAD("sleep DUR");
		run_until(d, v, NULL, NULL);
		return 0;
	}
	if (!strcmp(cmd, "mark")) {
		d->mark_ns = mono_ns();
		return 0;
	}
	if (!strcmp(cmd, "elapsed")) {
		printf("elapsed %.3f\n", (double)(mono_ns() - d->mark_ns) / 1e9);
		return 0;
	}
	if (!strcmp(cmd, "rss")) {
		printf("rss %d\n", read_rss_kb(agentctl_pid(h->ac)));
		return 0;
	}
	if (!strcmp(cmd, "pid")) {
		printf("pid %d\n", (int)agentctl_pid(h->ac));
		return 0;
	}
	if (!strcmp(cmd, "quiet")) {
		d->quiet = nw < 2 || strcmp(w[1], "off");
		return 0;
	}
	BAD("unknown command %s", cmd);
}

static void do_line(struct drive *d, char *line)
{
	char *w[64], *save = NULL, err[LC_ERR_MAX + 64];
	int nw = 0;
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	for (char *t = strtok_r(line, " \t\r\n", &save); t && nw < 64;
	     t = strtok_r(NULL, " \t\r\n", &save))
		w[nw++] = t;
	if (!nw)
		return;
	struct host *h = &d->hosts[0];
	for (int i = 0; i < d->nhosts; i++)
		if (!strcmp(w[0], d->hosts[i].name) && nw > 1) {
			h = &d->hosts[i];
			memmove(w, w + 1, sizeof(w[0]) * (size_t)(nw - 1));
			nw--;
			break;
		}
	err[0] = '\0';
	if (run_cmd(d, h, w, nw, err, sizeof(err)) < 0) {
		d->failures++;
		printf("done error: %s: %s\n", h->name, err);
	} else {
		printf("done ok\n");
	}
	fflush(stdout);
}

static void in_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct drive *d = w->data;
	(void)revents;
	ssize_t n = read(0, d->line + d->linelen, sizeof(d->line) - 1 - d->linelen);
	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return;
		ev_io_stop(loop, w);
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	d->linelen += (size_t)n;
	ev_io_stop(loop, w);  /* commands run nested loops: no input meanwhile */
	char *nl;
	while ((nl = memchr(d->line, '\n', d->linelen))) {
		*nl = '\0';
		size_t used = (size_t)(nl - d->line) + 1;
		char one[sizeof(d->line)];
		memcpy(one, d->line, used);
		memmove(d->line, d->line + used, d->linelen - used);
		d->linelen -= used;
		do_line(d, one);
	}
	if (d->linelen == sizeof(d->line) - 1)
		d->linelen = 0;  /* an absurd line: drop it */
	ev_io_start(loop, w);
}

int main(int argc, char **argv)
{
	struct drive d;
	const char *cmds[256];
	int ncmds = 0;
	memset(&d, 0, sizeof(d));
	d.loop = ev_default_loop(0);
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!strcmp(argv[i], "-q")) {
			d.quiet = true;
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc && ncmds < 256) {
			cmds[ncmds++] = argv[++i];
		} else if (eq && d.nhosts < MAX_HOSTS && argv[i][0] != '-') {
			struct host *h = &d.hosts[d.nhosts];
			struct lc_err e = {0};
			*eq = '\0';
			snprintf(h->name, sizeof(h->name), "%s", argv[i]);
			h->d = &d;
			int fd = open(eq + 1, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				fprintf(stderr, "agentdrive: %s: %s\n", eq + 1, strerror(errno));
				return 2;
			}
			if (agentctl_start(d.loop, fd, h->name, on_event, h, &h->ac, &e) < 0) {
				fprintf(stderr, "agentdrive: %s\n", e.msg);
				return 2;
			}
			close(fd);
			d.nhosts++;
		} else {
			fprintf(stderr, "usage: agentdrive [-q] HOST=NETNS_PATH... [-c CMD]...\n");
			return 2;
		}
	}
	if (!d.nhosts) {
		fprintf(stderr, "usage: agentdrive [-q] HOST=NETNS_PATH... [-c CMD]...\n");
		return 2;
	}
	if (ncmds) {
		for (int i = 0; i < ncmds; i++) {
			char line[4096];
			snprintf(line, sizeof(line), "%s", cmds[i]);
			do_line(&d, line);
		}
	} else {
		ev_io_init(&d.in, in_cb, 0, EV_READ);
		d.in.data = &d;
		ev_io_start(d.loop, &d.in);
		ev_run(d.loop, 0);
	}
	for (int i = 0; i < d.nhosts; i++)
		agentctl_free(d.hosts[i].ac);
	return d.failures ? 1 : 0;
}
