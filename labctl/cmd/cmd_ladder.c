/* labctl ladder FILE.pcap... : draw the TCP connections of capture files as ladder diagrams. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmds.h"
#include "base/err.h"
#include "render/ladder.h"
#include "render/pktfsm.h"
#include "render/tcpfsm.h"

#define LADDER_DEFAULT_MAX 20

static void ladder_usage(FILE *f)
{
	fprintf(f,
		"usage: labctl ladder FILE.pcap... [--conn N | --port P] [--svg OUT] [--abs] [--list]\n"
		"                     [--all] [-o OUT]\n\n"
		"Draw each TCP connection of the capture files as a ladder diagram: time (ms since the\n"
		"first packet) down the left, the two endpoints as columns (the side that sent the SYN on\n"
		"the left), one arrow per segment with its flags, relative seq/ack and payload length.\n"
		"Several files are merged by timestamp; a packet seen in two of them (both ends of a\n"
		"link) becomes one arrow from where it was sent to where it arrived.\n\n"
		"  --conn N    only connection N (numbers as --list shows them)\n"
		"  --port P    only connections with an endpoint on port P\n"
		"  --svg OUT   write an SVG drawing to OUT instead of the ASCII one\n"
		"  --abs       absolute sequence numbers (default: relative, as Wireshark shows them)\n"
		"  --list      one line per connection instead of the diagrams\n"
		"  --all       draw every connection (default: the first %d)\n"
		"  -o OUT      write the ASCII diagram (or list) to OUT instead of stdout\n"
		"  --fsm PREFIX  also draw each chosen connection's two sides in the TCP state\n"
		"              machine, as the packets imply: PREFIX-N-left.svg (the side that sent\n"
		"              the SYN) and PREFIX-N-right.svg\n"
		"  --state MS,ADDR:PORT,NAME\n"
		"              mark state NAME on that endpoint's lifeline MS ms after the first\n"
		"              packet (repeatable; a lab run adds the sock_diag timeline itself)\n\n"
		"Marks: [retransmission], [fast retransmission], [dup ACK #n], [keep-alive]; see\n"
		"docs/ladder.md.  Exit 0, or 2 for a missing or unreadable file or a bad option.\n",
		LADDER_DEFAULT_MAX);
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max || s[0] == '-')
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* --state MS,ADDR:PORT,NAME (IPv6 as [ADDR]:PORT). */
static int add_state(struct ladder *l, const char *arg, struct lc_err *e)
{
	char buf[256], *ms, *ep, *name, *end;
	snprintf(buf, sizeof(buf), "%s", arg);
	ms = buf;
	if (!(ep = strchr(ms, ',')) || !(name = strchr(ep + 1, ',')))
		goto bad;
	*ep++ = '\0';
	*name++ = '\0';
	double t = strtod(ms, &end);
	if (end == ms || *end || !*name)
		goto bad;
	char *colon = strrchr(ep, ':');
	if (!colon)
		goto bad;
	*colon = '\0';
	unsigned port;
	if (parse_uint(colon + 1, 65535, &port) < 0)
		goto bad;
	struct sockaddr_storage ss = {0};
	size_t al = strlen(ep);
	if (ep[0] == '[' && al > 2 && ep[al - 1] == ']') {
		ep[al - 1] = '\0';
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, ep + 1, &s6->sin6_addr) != 1)
			goto bad;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, ep, &s4->sin_addr) != 1)
			goto bad;
	}
	int64_t ns = ladder_first_ns(l) + (int64_t)(t * 1e6);
	return ladder_add_state(l, ns, &ss, name);
bad:
	return err_set(e, -EINVAL, "--state \"%s\": want MS,ADDR:PORT,NAME (e.g. 0.1,10.0.0.1:40000,ESTABLISHED)", arg);
}

/* --fsm: each side of each chosen connection in the state machine, from its packets. */
static int write_fsms(const struct ladder *l, const char *const *files, int nfiles,
		      const unsigned *ids, size_t n, const char *prefix, struct lc_err *e)
{
	for (size_t i = 0; i < n; i++) {
		struct ladder_conn_info in;
		struct pktfsm_side sides[2];
		if (ladder_conn_info(l, ids[i], &in) < 0)
			continue;
		int rc = pktfsm_infer(files, nfiles, in.left, in.right, in.first_ns, in.last_ns,
				      sides, e);
		if (rc < 0)
			return rc;
		for (int s = 0; s < 2; s++) {
			char path[4096], title[160];
			snprintf(path, sizeof(path), "%s-%u-%s.svg", prefix, in.id, s ? "right" : "left");
			snprintf(title, sizeof(title), "%s \xe2\x86\x92 %s", s ? in.right : in.left,
				 s ? in.left : in.right);
			struct tcpfsm_opts o = {
				.id = "fsm", .title = title, .standalone = true,
				.note = "inferred from packets (the capture point's view, not sock_diag's)",
				.start = sides[s].start, .states = sides[s].states, .n = sides[s].n,
			};
			FILE *f = fopen(path, "w");
			if (!f)
				return err_set(e, -errno, "%s: %s", path, strerror(errno));
			rc = tcpfsm_render_svg(f, &o);
			if (fclose(f) != 0 || rc < 0)
				return err_set(e, -EIO, "%s: write failed", path);
		}
	}
	return 0;
}

int cmd_ladder(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"conn", required_argument, NULL, 'c'}, {"port", required_argument, NULL, 'p'},
		{"svg", required_argument, NULL, 's'},  {"abs", no_argument, NULL, 'a'},
		{"list", no_argument, NULL, 'l'},       {"all", no_argument, NULL, 'A'},
		{"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
		{"state", required_argument, NULL, 'S'}, {"fsm", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	unsigned conn = 0, port = 0;
	const char *svg = NULL, *outpath = NULL, *fsm = NULL;
	bool abs_seq = false, list = false, all = false;
	struct lc_err e = {0};
	int rc = LC_EXIT_USAGE, opt;
	const char *states[256];
	size_t nstates = 0;

	if (cmd_wants_help(argc, argv)) {
		ladder_usage(stdout);
		return LC_EXIT_PASS;
	}
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (parse_uint(optarg, 1u << 30, &conn) < 0) {
				fprintf(stderr, "labctl ladder: --conn wants a connection number (1, 2, ...), not \"%s\"\n", optarg);
				return LC_EXIT_USAGE;
			}
			break;
		case 'p':
			if (parse_uint(optarg, 65535, &port) < 0) {
				fprintf(stderr, "labctl ladder: --port wants a port 1-65535, not \"%s\"\n", optarg);
				return LC_EXIT_USAGE;
			}
			break;
		case 's': svg = optarg; break;
		case 'a': abs_seq = true; break;
		case 'l': list = true; break;
		case 'A': all = true; break;
		case 'o': outpath = optarg; break;
		case 'F': fsm = optarg; break;
		case 'S':
			if (nstates == sizeof(states) / sizeof(states[0])) {
				fprintf(stderr, "labctl ladder: at most %zu --state marks\n", nstates);
				return LC_EXIT_USAGE;
			}
			states[nstates++] = optarg;
			break;
		default:
			fprintf(stderr, "labctl ladder: unknown or incomplete option \"%s\"\n",
				argv[optind - 1]);
			ladder_usage(stderr);
			return LC_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "labctl ladder: name at least one capture file\n");
		ladder_usage(stderr);
		return LC_EXIT_USAGE;
	}
	if (conn && port) {
		fprintf(stderr, "labctl ladder: --conn and --port pick in two ways; give one\n");
		return LC_EXIT_USAGE;
	}

	struct ladder *l = NULL;
	unsigned *ids = NULL;
	FILE *out = stdout, *sf = NULL;
	if (ladder_new(&l, &e) < 0)
		goto fail;
	for (int i = optind; i < argc; i++)
		if (ladder_add_pcap(l, argv[i], &e) < 0)
			goto fail;
	if (ladder_build(l, &e) < 0)
		goto fail;
	for (size_t i = 0; i < nstates; i++)
		if (add_state(l, states[i], &e) < 0)
			goto fail;

	size_t nc = ladder_conn_count(l), nids = 0;
	ids = calloc(nc + 1, sizeof(*ids));
	if (!ids) {
		err_set(&e, -ENOMEM, "out of memory");
		goto fail;
	}
	if (conn) {
		if (conn > nc) {
			err_set(&e, -ENOENT, "no connection %u: the files hold %zu TCP connection%s (see --list)",
				conn, nc, nc == 1 ? "" : "s");
			goto fail;
		}
		ids[nids++] = conn;
	} else {
		for (unsigned id = 1; id <= nc; id++) {
			struct ladder_conn_info in;
			ladder_conn_info(l, id, &in);
			if (!port || in.left_port == port || in.right_port == port)
				ids[nids++] = id;
		}
		if (port && !nids) {
			err_set(&e, -ENOENT, "no TCP connection uses port %u (see --list)", port);
			goto fail;
		}
	}
	size_t shown = nids;
	if (!list && !all && !conn && nids > LADDER_DEFAULT_MAX)
		shown = LADDER_DEFAULT_MAX;
	struct ladder_render_opts o = {.abs_seq = abs_seq, .ids = ids, .nids = shown};

	if (outpath && !(out = fopen(outpath, "w"))) {
		err_set(&e, -errno, "%s: %s", outpath, strerror(errno));
		out = stdout;
		goto fail;
	}
	int r;
	if (list) {
		r = ladder_render_list(l, out, &o);
	} else if (svg) {
		if (!(sf = fopen(svg, "w"))) {
			err_set(&e, -errno, "%s: %s", svg, strerror(errno));
			goto fail;
		}
		r = ladder_render_svg(l, sf, &o);
		if (fclose(sf) != 0 && r == 0)
			r = -EIO;
		sf = NULL;
	} else {
		if (nc == 0)
			fprintf(out, "no TCP connections in the capture\n");
		r = ladder_render_ascii(l, out, &o);
	}
	if (r < 0) {
		err_set(&e, r, "writing the diagram: %s", strerror(-r));
		goto fail;
	}
	if (fsm && write_fsms(l, (const char *const *)argv + optind, argc - optind, ids, shown,
			      fsm, &e) < 0)
		goto fail;
	if (shown < nids)
		fprintf(stderr, "labctl ladder: drew the first %zu of %zu connections; pick one with "
			"--conn N or --port P, list them with --list, or draw every one with --all\n",
			shown, nids);
	rc = LC_EXIT_PASS;
	goto done;
fail:
	fprintf(stderr, "labctl ladder: %s\n", e.msg);
done:
	if (out != stdout && fclose(out) != 0 && rc == LC_EXIT_PASS) {
		fprintf(stderr, "labctl ladder: %s: write failed\n", outpath);
		rc = LC_EXIT_USAGE;
	}
	free(ids);
	ladder_free(l);
	return rc;
}
