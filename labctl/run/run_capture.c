/* run_capture: pcaps of a lab run (the lab's `capture` statements, or --capture DIR for every
 * host) and, at the end, the ladder diagram drawn from them with each side's socket states
 * from the sock_diag timeline. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/capture.h"
#include "render/ladder.h"
#include "run/run_int.h"

struct run_capture {
	struct capture *cap;
	char path[512];
	int host;
	uint64_t packets;
	bool stopped;
};

static bool host_captured(const struct run *r, int h)
{
	if (r->o.capture_dir)
		return true;
	for (int i = 0; i < r->lab->ncaptures; i++)
		if (r->lab->captures[i].host < 0 || r->lab->captures[i].host == h)
			return true;
	return false;
}

/* Where a run's pcaps and SVG go: --capture DIR, else the run's directory (rundir.h). */
static const char *capture_dir(const struct run *r)
{
	return r->o.capture_dir ? r->o.capture_dir : r->o.out_dir ? r->o.out_dir : ".";
}

int run_capture_start(struct run *r, struct lc_err *e)
{
	const struct lab *lab = r->lab;
	const char *dir = capture_dir(r);
	if (!r->o.capture_dir && lab->ncaptures == 0)
		return 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return err_set(e, -errno, "capture directory %s: %s", dir, strerror(errno));
	r->caps = calloc((size_t)lab->nlinks * 2 + 1, sizeof(*r->caps));
	if (!r->caps)
		return err_set(e, -ENOMEM, "out of memory");
	for (int l = 0; l < lab->nlinks; l++) {
		const struct lab_link *L = &lab->links[l];
		for (int side = 0; side < 2; side++) {
			int h = side ? L->b : L->a;
			const char *dev = side ? L->dev_b : L->dev_a;
			if (!host_captured(r, h))
				continue;
			struct run_capture *c = &r->caps[r->ncaps];
			snprintf(c->path, sizeof(c->path), "%s/%s-%s.pcap", dir, r->topo->hosts[h].ns,
				 dev);
			c->host = h;
			int rc = capture_start(r->topo->hosts[h].fd, dev, c->path, &c->cap, e);
			if (rc < 0)
				return err_prefix(e, "capturing %s in host %s: ", dev, lab->hosts[h].name);
			r->ncaps++;
		}
	}
	return 0;
}

static void stop_all(struct run *r)
{
	for (int i = 0; i < r->ncaps; i++) {
		struct run_capture *c = &r->caps[i];
		if (c->stopped)
			continue;
		struct lc_err e = {0};
		if (capture_stop(c->cap, &c->packets, &e) < 0)
			fprintf(stderr, "labctl: capture %s: %s\n", c->path, e.msg);
		c->stopped = true;
	}
}

static void ss_from(int family, const uint8_t *addr, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, addr, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, addr, 16);
	}
}

#define LADDER_MAX_DRAWN 3

/* The ladder as SVG beside the pcaps (DIR/LABID.svg): the same connections as the text one,
 * with the same states, for a browser or a slide.  Returns 0, or -errno with e set. */
static int write_svg(struct run *r, const struct ladder *l, const struct ladder_render_opts *o,
		     char *path, size_t len, struct lc_err *e)
{
	snprintf(path, len, "%s/%s.svg", capture_dir(r), r->id);
	FILE *svg = fopen(path, "we");
	if (!svg)
		return err_set(e, -errno, "ladder %s: %s", path, strerror(errno));
	int rc = ladder_render_svg(l, svg, o);
	if (fclose(svg) != 0 && rc >= 0)
		rc = -errno;
	if (rc < 0) {
		unlink(path);
		return err_set(e, rc, "ladder %s: %s", path, strerror(-rc));
	}
	return 0;
}

void run_capture_report(struct run *r)
{
	if (r->ncaps == 0)
		return;
	stop_all(r);
	FILE *f = r->o.out;
	struct lc_err e = {0};
	struct ladder *l = NULL;
	for (int i = 0; i < r->ncaps; i++) {
		if (r->o.json) {
			fprintf(f, "{\"type\":\"capture\",\"file\":");
			run_json_str(f, r->caps[i].path);
			fprintf(f, ",\"packets\":%llu}\n", (unsigned long long)r->caps[i].packets);
		} else if (!r->o.quiet) {
			fprintf(f, "capture: %s (%llu packets)\n", r->caps[i].path,
				(unsigned long long)r->caps[i].packets);
		}
	}
	/* Nothing captured (the lab was stopped before its first packet): no ladder to draw,
	 * and ladder_build() must not be handed an empty packet array (qsort(NULL, 0)). */
	uint64_t total = 0;
	for (int i = 0; i < r->ncaps; i++)
		total += r->caps[i].packets;
	if (total == 0)
		goto out;
	if (ladder_new(&l, &e) < 0)
		goto fail;
	for (int i = 0; i < r->ncaps; i++)
		if (ladder_add_pcap(l, r->caps[i].path, &e) < 0)
			goto fail;
	/* The textbook figure: each side's state changes beside the arrows. */
	for (int i = 0; r->tl && i < timeline_nevents(r->tl); i++) {
		const struct timeline_event *ev = timeline_event(r->tl, i);
		const struct timeline_conn *c = timeline_conn(r->tl, ev->conn);
		if (!c || ev->to == LAB_TCP_LISTEN)
			continue;
		struct sockaddr_storage local, peer;
		ss_from(c->family, c->laddr, c->lport, &local);
		ss_from(c->family, c->raddr, c->rport, &peer);
		ladder_add_state_conn(l, ev->real_ns, &local, &peer, lab_state_name(ev->to));
	}
	if (ladder_build(l, &e) < 0)
		goto fail;
	size_t n = ladder_conn_count(l);
	if (n == 0)
		goto out;
	unsigned ids[LADDER_MAX_DRAWN];
	struct ladder_render_opts o = {.ids = ids, .nids = 0};
	for (unsigned i = 1; i <= n && o.nids < LADDER_MAX_DRAWN; i++)
		ids[o.nids++] = i;
	char svg[PATH_MAX];
	if (write_svg(r, l, &o, svg, sizeof(svg), &e) < 0)
		goto fail;
	run_record_ladder(r, l, &o, n);
	if (r->o.json) {
		fprintf(f, "{\"type\":\"ladder\",\"file\":");
		run_json_str(f, svg);
		fprintf(f, ",\"connections\":%zu,\"drawn\":%zu}\n", n, o.nids);
		goto out;
	}
	if (r->o.quiet)
		goto out;
	fputc('\n', f);
	ladder_render_ascii(l, f, &o);
	if (n > LADDER_MAX_DRAWN) {
		fprintf(f, "\n%zu connections in all (labctl ladder FILE.pcap --list; --conn N draws "
			"one):\n", n);
		o.ids = NULL;
		o.nids = 0;
		ladder_render_list(l, f, &o);
	}
	fprintf(f, "ladder: %s (the same %s, as SVG)\n", svg,
		o.nids > 1 ? "connections" : "connection");
	goto out;
fail:
	if (r->o.json) {
		fprintf(f, "{\"type\":\"ladder\",\"error\":");
		run_json_str(f, e.msg);
		fprintf(f, "}\n");
	} else {
		fprintf(f, "ladder: %s\n", e.msg);
	}
out:
	ladder_free(l);
}

int run_capture_file(const struct run *r, int i, const char **path, int *host)
{
	if (i < 0 || i >= r->ncaps)
		return -ENOENT;
	*path = r->caps[i].path;
	*host = r->caps[i].host;
	return 0;
}

void run_capture_free(struct run *r)
{
	stop_all(r);
	for (int i = 0; i < r->ncaps; i++)
		capture_free(r->caps[i].cap);
	free(r->caps);
	r->caps = NULL;
	r->ncaps = 0;
}
