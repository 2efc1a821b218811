/* enginedrive: make one lab link through an impairment engine, between two namespaces the
 * test made, and hold it until stdin closes.  For the engine tests and bench/impair.sh.
 *
 *   enginedrive --engine auto|netem|userlink|veth --ns-a PATH --ns-b PATH
 *               [--dev-a eth0] [--dev-b eth0] [--seed N] [--fate FILE]
 *               [--a2b SPEC] [--b2a SPEC] [--both SPEC] [--rule "a>b ACK first 3"]...
 *   SPEC: key=value,... with delay=50ms jitter=1ms delay_corr=25 dist=normal loss=10
 *         loss_corr=25 ge=P/R/1-H/1-K dup=1 reorder=25 gap=5 corrupt=1 rate=10mbit limit=100
 *
 * Prints "engine: WHY" and "ready" on stdout once the link exists (the test then assigns
 * addresses with ip -n).  Reads commands from stdin: "impair a2b|b2a SPEC", "counters"
 * (userlink: prints "counters DIR in out lost overlimit ruled"), "stats" (either engine:
 * "stats DIR delivered N dropped N", two lines), "wire" (prints the wire
 * namespace's /proc/PID/ns/net path and capture device, netem engine).  Exits at EOF.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "engine/engine.h"
#include "kernel/pmqos.h"
#include "lab/lab.h"
#include "kernel/netns.h"
#include "kernel/nlx.h"
#include "engine/userlink.h"

/* ---- the driver ------------------------------------------------------------------------ */

static int parse_ns(const char *s, int64_t *ns)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s)
		return -1;
	if (!strcmp(end, "s"))
		v *= 1e9;
	else if (!strcmp(end, "ms"))
		v *= 1e6;
	else if (!strcmp(end, "us"))
		v *= 1e3;
	else if (strcmp(end, "ns") && *end)
		return -1;
	*ns = (int64_t)v;
	return 0;
}

static int parse_bps(const char *s, uint64_t *bps)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s)
		return -1;
	if (!strcmp(end, "kbit"))
		v *= 1e3;
	else if (!strcmp(end, "mbit"))
		v *= 1e6;
	else if (!strcmp(end, "gbit"))
		v *= 1e9;
	else if (strcmp(end, "bit") && *end)
		return -1;
	*bps = (uint64_t)v;
	return 0;
}

static int parse_spec(const char *spec, struct lab_impair *imp)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", spec);
	memset(imp, 0, sizeof(*imp));
	for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
		char *v = strchr(tok, '=');
		if (!v)
			return -1;
		*v++ = '\0';
		int r = 0;
		if (!strcmp(tok, "delay"))
			r = parse_ns(v, &imp->delay_ns), imp->set |= IMP_DELAY;
		else if (!strcmp(tok, "jitter"))
			r = parse_ns(v, &imp->jitter_ns), imp->set |= IMP_JITTER;
		else if (!strcmp(tok, "delay_corr"))
			imp->delay_corr = atof(v), imp->set |= IMP_DELAY_CORR;
		else if (!strcmp(tok, "dist")) {
			imp->set |= IMP_DIST;
			imp->dist = !strcmp(v, "normal") ? LAB_DIST_NORMAL : !strcmp(v, "pareto") ?
				LAB_DIST_PARETO : !strcmp(v, "paretonormal") ? LAB_DIST_PARETONORMAL :
				LAB_DIST_UNIFORM;
		} else if (!strcmp(tok, "loss"))
			imp->loss = atof(v), imp->set |= IMP_LOSS;
		else if (!strcmp(tok, "loss_corr"))
			imp->loss_corr = atof(v), imp->set |= IMP_LOSS_CORR;
		else if (!strcmp(tok, "ge")) {
			imp->set |= IMP_LOSS_GE;
			if (sscanf(v, "%lf/%lf/%lf/%lf", &imp->ge_p, &imp->ge_r, &imp->ge_h, &imp->ge_k) != 4)
				return -1;
		} else if (!strcmp(tok, "dup"))
			imp->dup = atof(v), imp->set |= IMP_DUP;
		else if (!strcmp(tok, "reorder"))
			imp->reorder = atof(v), imp->set |= IMP_REORDER;
		else if (!strcmp(tok, "gap"))
			imp->gap = (uint32_t)atoi(v), imp->set |= IMP_GAP;
		else if (!strcmp(tok, "corrupt"))
			imp->corrupt = atof(v), imp->set |= IMP_CORRUPT;
		else if (!strcmp(tok, "rate"))
			r = parse_bps(v, &imp->rate_bps), imp->set |= IMP_RATE;
		else if (!strcmp(tok, "limit"))
			imp->limit = (uint32_t)atoi(v), imp->set |= IMP_LIMIT;
		else
			return -1;
		if (r < 0)
			return -1;
	}
	return 0;
}

/* "a>b ACK first 3" or "b>a SYN,ACK first 1" */
static int parse_rule(const char *s, struct lab_rule *r)
{
	char dir[8], flags[64];
	long long first = -1;
	memset(r, 0, sizeof(*r));
	int n = sscanf(s, "%7s %63s first %lld", dir, flags, &first);
	if (n < 2)
		return -1;
	r->action = LAB_RULE_DROP;
	r->link = 0;
	r->dir = !strcmp(dir, "a>b") ? 0 : !strcmp(dir, "b>a") ? 1 : -1;
	if (r->dir < 0)
		return -1;
	for (char *f = strtok(flags, ","); f; f = strtok(NULL, ",")) {
		if (!strcmp(f, "SYN")) r->flags |= LAB_TCPF_SYN;
		else if (!strcmp(f, "ACK")) r->flags |= LAB_TCPF_ACK;
		else if (!strcmp(f, "FIN")) r->flags |= LAB_TCPF_FIN;
		else if (!strcmp(f, "RST")) r->flags |= LAB_TCPF_RST;
		else if (!strcmp(f, "PSH")) r->flags |= LAB_TCPF_PSH;
		else return -1;
	}
	r->mask = 0x3f;
	r->first = first;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: enginedrive --engine NAME --ns-a PATH --ns-b PATH [--dev-a IF] "
		"[--dev-b IF] [--seed N] [--fate FILE] [--low-latency US] [--a2b SPEC] [--b2a SPEC] [--both SPEC] "
		"[--rule RULE]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *engine = "auto", *ns_path[2] = {NULL, NULL}, *fate = NULL;
	struct lab lab;
	struct lab_host hosts[2];
	struct lab_link link;
	struct lab_rule rules[8];
	uint64_t seed = 1;
	struct lc_err e = {0};

	memset(&lab, 0, sizeof(lab));
	memset(hosts, 0, sizeof(hosts));
	memset(&link, 0, sizeof(link));
	snprintf(hosts[0].name, sizeof(hosts[0].name), "a");
	snprintf(hosts[1].name, sizeof(hosts[1].name), "b");
	snprintf(link.dev_a, sizeof(link.dev_a), "eth0");
	snprintf(link.dev_b, sizeof(link.dev_b), "eth0");
	link.a = 0;
	link.b = 1;
	lab.hosts = hosts;
	lab.nhosts = 2;
	lab.links = &link;
	lab.nlinks = 1;
	lab.rules = rules;
	snprintf(lab.name, sizeof(lab.name), "enginedrive");
	snprintf(lab.file, sizeof(lab.file), "enginedrive");

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		i++;
		if (!strcmp(o, "--engine"))
			engine = v;
		else if (!strcmp(o, "--ns-a"))
			ns_path[0] = v;
		else if (!strcmp(o, "--ns-b"))
			ns_path[1] = v;
		else if (!strcmp(o, "--dev-a"))
			snprintf(link.dev_a, sizeof(link.dev_a), "%s", v);
		else if (!strcmp(o, "--dev-b"))
			snprintf(link.dev_b, sizeof(link.dev_b), "%s", v);
		else if (!strcmp(o, "--seed"))
			seed = strtoull(v, NULL, 0);
		else if (!strcmp(o, "--fate"))
			fate = v;
		else if (!strcmp(o, "--low-latency")) {   /* US: hold a PM QoS request (pmqos.h) */
			if (pmqos_hold(atoi(v), &e) < 0) {
				fprintf(stderr, "enginedrive: %s\n", e.msg);
				return 2;
			}
		}
		else if (!strcmp(o, "--a2b") || !strcmp(o, "--b2a") || !strcmp(o, "--both")) {
			struct lab_impair imp;
			if (parse_spec(v, &imp) < 0) {
				fprintf(stderr, "enginedrive: bad impairment spec \"%s\"\n", v);
				return 2;
			}
			if (strcmp(o, "--b2a"))
				link.dir[0] = imp;
			if (strcmp(o, "--a2b"))
				link.dir[1] = imp;
		} else if (!strcmp(o, "--rule")) {
			if (lab.nrules == 8 || parse_rule(v, &rules[lab.nrules]) < 0) {
				fprintf(stderr, "enginedrive: bad rule \"%s\"\n", v);
				return 2;
			}
			rules[lab.nrules].pos.line = 1;
			rules[lab.nrules].pos.col = 1;
			lab.nrules++;
		} else
			usage();
	}
	if (!ns_path[0] || !ns_path[1])
		usage();
	signal(SIGPIPE, SIG_IGN);

	struct engine_host eh[2];
	int fds[2];
	struct nlx *nl[2] = {NULL, NULL};
	for (int s = 0; s < 2; s++) {
		if (netns_open(ns_path[s], &fds[s], &e) < 0 || nlx_new(fds[s], &nl[s], &e) < 0) {
			fprintf(stderr, "enginedrive: %s\n", e.msg);
			return 2;
		}
		eh[s].name = hosts[s].name;
		eh[s].netns_fd = fds[s];
		eh[s].nl = nl[s];
	}

	struct engine *en = NULL;
	char why[256];
	int rc = 2;
	if (engine_new(engine, &lab, seed, 0, &en, why, sizeof(why), &e) < 0) {
		fprintf(stderr, "enginedrive: %s\n", e.msg);
		goto close_hosts;
	}
	printf("engine: %s\n", why);
	if (fate) {
		int fd = open(fate, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || userlink_set_fate_log(en, fd, &e) < 0) {
			fprintf(stderr, "enginedrive: fate log %s: %s\n", fate, fd < 0 ? strerror(errno) : e.msg);
			goto free_engine;
		}
		close(fd);
	}
	if (en->ops->link_create(en, 0, &eh[0], &eh[1], &e) < 0 || en->ops->start(en, &e) < 0) {
		fprintf(stderr, "enginedrive: %s\n", e.msg);
		goto free_engine;
	}
	printf("ready\n");
	fflush(stdout);

	char line[600];
	rc = 0;
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "impair ", 7)) {
			struct lab_impair imp;
			int dir = !strncmp(line + 7, "b2a", 3);
			if (strlen(line) < 11 || parse_spec(line + 11, &imp) < 0) {
				printf("error bad spec\n");
			} else if (en->ops->link_impair(en, 0, dir, &imp, &e) < 0) {
				printf("error %s\n", e.msg);
			} else {
				printf("ok\n");
			}
		} else if (!strcmp(line, "counters")) {
			struct userlink_counters c[2];
			if (strcmp(en->ops->name, "userlink") || userlink_counters(en, 0, c, &e) < 0) {
				printf("error %s\n", e.msg[0] ? e.msg : "not userlink");
			} else {
				for (int d = 0; d < 2; d++)
					printf("counters %s in %llu out %llu lost %llu overlimit %llu "
					       "ruled %llu\n", d ? "b2a" : "a2b",
					       (unsigned long long)c[d].in, (unsigned long long)c[d].out,
					       (unsigned long long)c[d].lost,
					       (unsigned long long)c[d].overlimit,
					       (unsigned long long)c[d].ruled);
			}
		} else if (!strcmp(line, "stats")) {
			struct engine_dir_stats st[2];
			if (!en->ops->link_stats || en->ops->link_stats(en, 0, st, &e) < 0) {
				printf("error %s\n", en->ops->link_stats ? e.msg : "no counters");
			} else {
				for (int d = 0; d < 2; d++)
					printf("stats %s delivered %llu dropped %llu\n", d ? "b2a" : "a2b",
					       (unsigned long long)st[d].delivered,
					       (unsigned long long)st[d].dropped);
			}
		} else if (!strcmp(line, "wire")) {
			int wfd;
			char ifname[32];
			if (en->ops->wire_point(en, 0, &wfd, ifname, sizeof(ifname)) < 0)
				printf("error no wire\n");
			else
				printf("wire /proc/%d/fd/%d %s\n", (int)getpid(), wfd, ifname);
		} else if (line[0]) {
			printf("error unknown command\n");
		}
		fflush(stdout);
	}
free_engine:
	engine_free(en);
close_hosts:
	for (int s = 0; s < 2; s++) {
		nlx_free(nl[s]);
		close(fds[s]);
	}
	return rc;
}
