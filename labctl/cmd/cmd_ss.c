/* labctl ss: list the TCP sockets of a lab host or of any named namespace (sock_diag). */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmds.h"
#include "kernel/diag.h"
#include "kernel/netns.h"
#include "kernel/userns.h"
#include "run/registry.h"
#include "render/sockfmt.h"
#include "cmd/ssargs.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: labctl ss ID HOST [STATE...] [port N]... [addr A[/LEN]]... [-i] [--json]\n"
		"       labctl ss --netns NAME [STATE...] [port N]... [-i] [--json]\n\n"
		"List TCP sockets (IPv4 and IPv6) of a lab host (namespace /run/netns/ID-HOST, as\n"
		"made by `labctl up` or `labctl run --expose`) or of any namespace in /run/netns.\n"
		"Filtering happens in the kernel (sock_diag bytecode).\n\n"
		"  STATE        only these states: LISTEN SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT_1\n"
		"               FIN_WAIT_2 CLOSE_WAIT CLOSING LAST_ACK TIME_WAIT (ss's and the\n"
		"               kernel's spellings work too: estab, fin-wait-1, FIN_WAIT1)\n"
		"  port N       local or remote port N (repeat for a set)\n"
		"  addr A[/LEN] local or remote address in A/LEN (repeat for a set)\n"
		"  -4, -6       only IPv4 / IPv6 sockets (one dump instead of two)\n"
		"  -i           add tcp_info: rtt, cwnd, retransmits, bytes, ...\n"
		"  --json       one JSON object per socket per line (with tcp_info)\n");
}

static const char *const state_words[] = {
	"LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2",
	"CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT", "CLOSED",
};

static int parse_addr(const char *s, struct lab_addr *a)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", s);
	char *slash = strchr(buf, '/');
	memset(a, 0, sizeof(*a));
	a->prefixlen = -1;
	if (slash) {
		*slash = '\0';
		char *end;
		long n = strtol(slash + 1, &end, 10);
		if (*end || n < 0 || n > 128)
			return -EINVAL;
		a->prefixlen = (int)n;
	}
	if (inet_pton(AF_INET, buf, a->bytes) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, a->bytes) == 1)
		a->family = AF_INET6;
	else
		return -EINVAL;
	if (a->prefixlen > (a->family == AF_INET ? 32 : 128))
		return -EINVAL;
	return 0;
}

int ss_args_parse(int argc, char **argv, const char *const *with_value, struct ss_args *a,
		  struct lc_err *e)
{
	const char *pos[2];
	int npos = 0;
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *w = argv[i];
		if (!strcmp(w, "--netns")) {
			if (++i >= argc)
				return err_set(e, -EINVAL, "--netns needs a namespace name");
			snprintf(a->netns, sizeof(a->netns), "%s", argv[i]);
		} else if (!strcmp(w, "port") || !strcmp(w, "--port")) {
			if (++i >= argc)
				return err_set(e, -EINVAL, "port needs a number");
			char *end;
			long p = strtol(argv[i], &end, 10);
			if (*end || p < 1 || p > 65535)
				return err_set(e, -EINVAL, "bad port \"%s\" (1-65535)", argv[i]);
			if (a->filter.nports >= DIAG_MAX_PORTS)
				return err_set(e, -EINVAL, "at most %d ports", DIAG_MAX_PORTS);
			a->filter.ports[a->filter.nports++] = (uint16_t)p;
		} else if (!strcmp(w, "addr") || !strcmp(w, "--addr")) {
			if (++i >= argc)
				return err_set(e, -EINVAL, "addr needs an address");
			if (a->filter.naddrs >= DIAG_MAX_ADDRS)
				return err_set(e, -EINVAL, "at most %d addresses", DIAG_MAX_ADDRS);
			if (parse_addr(argv[i], &a->filter.addrs[a->filter.naddrs]) < 0)
				return err_set(e, -EINVAL, "bad address \"%s\"", argv[i]);
			a->filter.naddrs++;
		} else if (!strcmp(w, "-4") || !strcmp(w, "-6")) {
			a->filter.family = w[1] == '4' ? AF_INET : AF_INET6;
		} else if (w[0] == '-') {
			if (a->nrest >= (int)(sizeof(a->rest) / sizeof(a->rest[0])))
				return err_set(e, -EINVAL, "too many options");
			a->rest[a->nrest++] = i;
			for (const char *const *v = with_value; v && *v; v++)
				if (!strcmp(w, *v)) {
					if (++i >= argc)
						return err_set(e, -EINVAL, "%s needs a value", w);
					break;
				}
		} else {
			int st = lab_state_parse(w);
			if (st > 0) {
				a->filter.states |= 1u << st;
			} else if (npos < 2 && !a->netns[0] && a->filter.states == 0 &&
				   a->filter.nports == 0) {
				pos[npos++] = w;
			} else {
				const char *sug = lab_suggest(w, state_words,
							      sizeof(state_words) / sizeof(*state_words));
				return err_set(e, -EINVAL, "unknown state \"%s\"%s%s%s", w,
					       sug ? "; did you mean " : "", sug ? sug : "",
					       sug ? "?" : "");
			}
		}
	}
	if (a->netns[0] && npos)
		return err_set(e, -EINVAL, "give either ID HOST or --netns NAME, not both");
	if (!a->netns[0]) {
		if (npos != 2)
			return err_set(e, -EINVAL, "which namespace? give ID HOST or --netns NAME");
		snprintf(a->netns, sizeof(a->netns), "%s-%s", pos[0], pos[1]);
	}
	return 0;
}

int ss_open_netns(const char *name, int *fd, struct lc_err *e)
{
	char path[512];
	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return err_set(e, -EINVAL, "bad namespace name \"%s\"", name);
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	int rc = netns_open(path, fd, e);
	if (rc == -ENOENT && userns_unprivileged())   /* a rootless lab: no bind */
		rc = reg_open_rootless(name, fd, e);
	return rc;
}

struct ss_out {
	struct sockfmt_buf *b;
	bool json, info;
	long n;
};

static int ss_emit(const struct diag_sock *s, void *arg)
{
	struct ss_out *o = arg;
	if (!s) {
		/* The dump restarts; what we printed stays printed.  Say so once. */
		return 0;
	}
	if (o->json)
		sockfmt_json(o->b, s);
	else
		sockfmt_row(o->b, s, o->info);
	o->n++;
	return o->b->failed ? -EIO : 0;
}

/* labctl ss --replay FILE [--json|-i]: parse a --record file (for tests and the parser
 * benchmark: no kernel involved). */
static int ss_replay(int argc, char **argv)
{
	bool json = false, info = false;
	if (argc < 3) {
		fprintf(stderr, "labctl ss: --replay needs a file\n");
		return LC_EXIT_USAGE;
	}
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "-i"))
			info = true;
	}
	FILE *f = fopen(argv[2], "rb");
	if (!f) {
		fprintf(stderr, "labctl ss: %s: %s\n", argv[2], strerror(errno));
		return LC_EXIT_USAGE;
	}
	size_t cap = 1 << 20, len = 0;
	uint8_t *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
		len += r;
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	struct sockfmt_buf *b = malloc(sizeof(*b));
	if (!buf || !b) {
		fprintf(stderr, "labctl ss: out of memory\n");
		free(buf);
		free(b);
		return LC_EXIT_USAGE;
	}
	sockfmt_init(b, stdout);
	if (!json)
		sockfmt_header(b, info);
	struct ss_out o = {.b = b, .json = json, .info = info};
	struct lc_err e = {0};
	bool done = false, intr = false;
	int rc = diag_parse_buf(buf, len, 0, 0, ss_emit, &o, &done, &intr, &e);
	int frc = sockfmt_flush(b);
	free(buf);
	free(b);
	if (rc < 0) {
		fprintf(stderr, "labctl ss: %s: %s\n", argv[2], e.msg);
		return LC_EXIT_USAGE;
	}
	return frc < 0 ? LC_EXIT_USAGE : LC_EXIT_PASS;
}

int cmd_ss(int argc, char **argv)
{
	if (cmd_wants_help(argc, argv)) {
		usage(stdout);
		return LC_EXIT_PASS;
	}
	static const char *const with_value[] = {"--record", "--replay", NULL};
	struct lc_err e = {0};
	struct ss_args a;
	bool json = false, info = false, no_header = false;
	const char *record = NULL;
	if (!strcmp(argc > 1 ? argv[1] : "", "--replay")) {
		/* hidden: print a recorded dump (labctl ss --replay FILE [--json]); no namespace */
		return ss_replay(argc, argv);
	}
	if (ss_args_parse(argc, argv, with_value, &a, &e) < 0) {
		fprintf(stderr, "labctl ss: %s (see labctl ss --help)\n", e.msg);
		return LC_EXIT_USAGE;
	}
	for (int k = 0; k < a.nrest; k++) {
		const char *o = argv[a.rest[k]];
		if (!strcmp(o, "--json"))
			json = true;
		else if (!strcmp(o, "-i") || !strcmp(o, "--info"))
			info = true;
		else if (!strcmp(o, "-H") || !strcmp(o, "--no-header"))
			no_header = true;
		else if (!strcmp(o, "--record"))  /* hidden: raw replies, for tests/data */
			record = argv[a.rest[k] + 1];
		else {
			fprintf(stderr, "labctl ss: unknown option %s (see labctl ss --help)\n", o);
			return LC_EXIT_USAGE;
		}
	}
	a.filter.want_info = json || info;

	int rc = LC_EXIT_USAGE;
	int fd = -1;
	if (ss_open_netns(a.netns, &fd, &e) < 0) {
		fprintf(stderr, "labctl ss: %s\n", e.msg);
		if (e.code == -ENOENT)
			fprintf(stderr, "labctl ss: is the lab running (labctl ls)? Only labs started "
					"with `labctl up` or `run --expose` are visible.\n");
		return LC_EXIT_USAGE;
	}
	struct diag *d = NULL;
	if (diag_new(fd, &d, &e) < 0) {
		fprintf(stderr, "labctl ss: namespace %s: %s\n", a.netns, e.msg);
		goto close_fd;
	}
	char name[300];
	snprintf(name, sizeof(name), "namespace %s", a.netns);
	diag_set_name(d, name);
	FILE *rec = NULL;
	if (record) {
		rec = fopen(record, "wb");
		if (!rec) {
			fprintf(stderr, "labctl ss: %s: %s\n", record, strerror(errno));
			goto free_diag;
		}
		diag_record(d, rec);
	}
	struct sockfmt_buf *b = malloc(sizeof(*b));
	if (!b) {
		fprintf(stderr, "labctl ss: out of memory\n");
		goto close_rec;
	}
	sockfmt_init(b, stdout);
	if (!json && !no_header)
		sockfmt_header(b, info);
	struct ss_out o = {.b = b, .json = json, .info = info};
	int drc = diag_dump(d, &a.filter, ss_emit, &o, &e);
	int frc = sockfmt_flush(b);
	if (drc < 0) {
		fprintf(stderr, "labctl ss: %s\n", e.msg);
	} else if (frc < 0 || drc > 0) {
		fprintf(stderr, "labctl ss: writing output: %s\n", strerror(errno ? errno : EIO));
	} else {
		rc = LC_EXIT_PASS;
	}
	free(b);
close_rec:
	if (rec && fclose(rec) != 0) {
		fprintf(stderr, "labctl ss: %s: %s\n", record, strerror(errno));
		rc = LC_EXIT_USAGE;
	}
free_diag:
	diag_free(d);
close_fd:
	close(fd);
	return rc;
}
