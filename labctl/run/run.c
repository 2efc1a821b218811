#include "run/run.h"
#include "run/run_int.h"

#include <errno.h>
#include <inttypes.h>
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "kernel/netns.h"
#include "kernel/pmqos.h"
#include "kernel/userns.h"
#include "run/registry.h"
#include "run/stall.h"
#include "run/topo.h"

static void load_lines(struct run *r)
{
	FILE *f = fopen(r->lab->file, "re");
	char buf[1024];
	if (!f)
		return;
	size_t cap = 0;
	FILE *m = open_memstream(&r->src, &cap);
	while (fgets(buf, sizeof(buf), f)) {
		if (m)
			fputs(buf, m);
		buf[strcspn(buf, "\n")] = '\0';
		char **nl = realloc(r->lines, (size_t)(r->nlines + 1) * sizeof(char *));
		if (!nl)
			break;
		r->lines = nl;
		r->lines[r->nlines] = strdup(buf);
		if (!r->lines[r->nlines])
			break;
		r->nlines++;
	}
	if (m)
		fclose(m);
	fclose(f);
}

/* The source text of the step at pos, without its comment and outer blanks. */
static void step_text(const struct run *r, const struct lab_step *st, char *buf, size_t len)
{
	buf[0] = '\0';
	if (st->pos.line < 1 || st->pos.line > r->nlines)
		return;
	const char *s = r->lines[st->pos.line - 1] + (st->pos.col > 0 ? st->pos.col - 1 : 0);
	size_t n = 0;
	bool quoted = false;
	for (; s[n]; n++) {
		if (s[n] == '"')
			quoted = !quoted;
		if (!quoted && (s[n] == '#' || s[n] == '&'))
			break;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	snprintf(buf, len, "%.*s", (int)n, s);
}

void run_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* One line of the step log. mark: "ok", "FAIL", "ERR". */
void run_log_step(struct run *r, const struct lab_step *st, const char *mark,
		     const char *detail)
{
	char text[512];
	double t = (double)(mono_ns() - r->t0) / 1e9;
	step_text(r, st, text, sizeof(text));
	run_record_step(r, st, mark, detail, text, t);
	FILE *f = r->o.out;
	if (r->o.json) {
		fprintf(f, "{\"type\":\"step\",\"lab\":");
		run_json_str(f, r->lab->name);
		fprintf(f, ",\"t\":%.6f,\"line\":%d,\"text\":", t, st->pos.line);
		run_json_str(f, text);
		fprintf(f, ",\"result\":");
		run_json_str(f, mark);
		if (detail && *detail) {
			fprintf(f, ",\"detail\":");
			run_json_str(f, detail);
		}
		fprintf(f, "}\n");
	} else if (!r->o.quiet || strcmp(mark, "ok") != 0) {
		fprintf(f, "  %8.3fs  %-4s  %s", t, mark, text);
		if (detail && *detail) {
			/* a detail of several lines (a program's output) keeps the indent */
			fputs(strcmp(mark, "ok") ? "\n                  " : "   ", f);
			for (const char *c = detail; *c; c++) {
				fputc(*c, f);
				if (*c == '\n' && c[1])
					fputs("                  ", f);
			}
		}
		fputc('\n', f);
	}
	fflush(f);
}

/* ---- the reaper: removes exposed binds if labctl run dies without cleaning up ---- */

static void reaper_main(const char *id, int rfd)
{
	char c;
	/* Blocks until the parent closes the pipe or dies, even by SIGKILL. */
	while (read(rfd, &c, 1) < 0 && errno == EINTR)
		;
	struct reg_entry e;
	if (reg_read(id, &e, NULL) == 0) {
		for (int h = 0; h < e.nhosts; h++)
			netns_unbind(e.hosts[h].ns, e.hosts[h].ino, NULL);
		reg_remove(id);
		reg_entry_clear(&e);
	}
	_exit(0);
}

static int reaper_start(struct run *r, struct lc_err *e)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return err_set(e, -errno, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return err_set(e, -errno, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(p[1]);
		/* Outlive the parent on purpose, but not its session's ^C. */
		signal(SIGINT, SIG_IGN);
		setpgid(0, 0);
		reaper_main(r->id, p[0]);
	}
	close(p[0]);
	r->reaper = pid;
	r->reaper_pipe = p[1];
	return 0;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	struct run *r = w->data;
	r->interrupted = true;
	ev_break(loop, EVBREAK_ALL);
}

int run_new(const struct lab *lab, const struct run_opts *opts, struct run **out,
	    struct lc_err *e)
{
	int rc;
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(e, -ENOMEM, "out of memory");
	r->lab = lab;
	r->o = *opts;
	if (!r->o.out)
		r->o.out = stdout;
	if (!r->o.poll_ns)
		r->o.poll_ns = 1000000;
	if (!r->o.kind)
		r->o.kind = "run";
	r->reaper = -1;
	r->reaper_pipe = -1;
	r->ctl_fd = -1;
	r->qos_fd = -1;
	load_lines(r);
	if (opts->id) {
		if ((rc = topo_check_id(opts->id, e)) < 0)
			goto err;
		snprintf(r->id, sizeof(r->id), "%s", opts->id);
	} else {
		topo_make_id(lab->name, r->id, sizeof(r->id));
	}
	r->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!r->loop) {
		rc = err_set(e, -ENOMEM, "cannot create the event loop");
		goto err;
	}
	ev_signal_init(&r->sigint, on_signal, SIGINT);
	ev_signal_init(&r->sigterm, on_signal, SIGTERM);
	r->sigint.data = r->sigterm.data = r;
	ev_signal_start(r->loop, &r->sigint);
	ev_signal_start(r->loop, &r->sigterm);

	uint64_t seed = opts->has_seed ? opts->seed : lab->has_seed ? lab->seed : 1;
	rc = engine_new(opts->engine ? opts->engine : "auto", lab, seed,
			strcmp(r->o.kind, "up") ? 0 : ENGINE_LIVE, &r->en, r->why_engine,
			sizeof(r->why_engine), e);
	if (rc < 0)
		goto err;
	if (r->o.low_latency && (rc = r->qos_fd = pmqos_hold(0, e)) < 0)
		goto err;
	if ((rc = topo_build(lab, r->id, r->en, &r->topo, e)) < 0)
		goto err;
	r->hosts = calloc((size_t)lab->nhosts + 1, sizeof(*r->hosts));
	r->impaired = calloc((size_t)lab->nlinks + 1, sizeof(*r->impaired));
	if (!r->hosts || !r->impaired) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto err;
	}
	for (int h = 0; h < lab->nhosts; h++) {
		r->hosts[h].r = r;
		r->hosts[h].index = h;
	}
	if ((rc = run_observe_start(r, e)) < 0 || (rc = run_capture_start(r, e)) < 0 ||
	    (rc = run_progs_prepare(r, e)) < 0)
		goto err;
	if (r->o.expose) {
		/* Record before binding, so a crash in between leaves nothing unaccounted for. */
		if ((rc = reg_write(r->topo, lab->file, r->o.kind, getpid(), e)) < 0)
			goto err;
		r->registered = true;
		if (!strcmp(r->o.kind, "run") && (rc = reaper_start(r, e)) < 0)
			goto err;
		/* A rootless lab has no /run/netns binds (they need root): labctl exec, ss and
		 * watch find its namespaces among the supervisor's fds (reg_open_rootless). */
		uid_t ou;
		gid_t og;
		if (userns_outside(&ou, &og) != 1 && (rc = topo_expose(r->topo, e)) < 0)
			goto err;
	}
	*out = r;
	return 0;
err:
	run_free(r);
	return rc;
}

const char *run_id(const struct run *r)
{
	return r->id;
}

static void on_sleep_done(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ONE);
}

/* Let the loop run (agents' events, the poller) for ns. */
void run_sleep(struct run *r, int64_t ns)
{
	ev_timer t;
	ev_timer_init(&t, on_sleep_done, (double)ns / 1e9, 0.);
	ev_timer_start(r->loop, &t);
	ev_run(r->loop, 0);
	ev_timer_stop(r->loop, &t);
}

/* Apply an impair step (or a `labctl impair` request) through the engine. */
static int run_impair(struct run *r, int link, bool dir_only, int dir,
		      const struct lab_impair imp[2], struct lc_err *e)
{
	if (link < 0 || link >= r->lab->nlinks || dir < 0 || dir > 1)
		return err_set(e, -EINVAL, "no such link");
	for (int d = 0; d < 2; d++) {
		if (dir_only && d != dir)
			continue;
		int rc = r->en->ops->link_impair(r->en, link, d, &imp[d], e);
		if (rc < 0)
			return rc;
	}
	r->impaired[link] = true;
	return 0;
}

static int step_exec(struct run *r, const struct lab_step *st, struct lc_err *e)
{
	int rc;
	switch (st->op) {
	case LAB_OP_IMPAIR:
		rc = run_impair(r, st->u.impair.link, st->u.impair.dir_only, st->u.impair.dir,
				st->u.impair.imp, e);
		if (rc < 0)
			return rc;
		run_log_step(r, st, "ok", "");
		return 0;
	case LAB_OP_EXPECT:
		return run_expect(r, st, e);
	case LAB_OP_WAIT:
		run_sleep(r, st->u.wait.ns);
		run_log_step(r, st, "ok", "");
		return 0;
	case LAB_OP_START: case LAB_OP_RUN: case LAB_OP_STOP: case LAB_OP_SIGNAL:
		return run_prog_step(r, st, e);
	default:
		return err_set(e, -ENOTSUP, "%s:%d:%d: this step is not supported yet",
			       r->lab->file, st->pos.line, st->pos.col);
	}
}

static int steps_range(struct run *r, int from, int to, struct lc_err *e);

int run_steps(struct run *r, struct lc_err *e)
{
	const struct lab *lab = r->lab;
	FILE *f = r->o.out;
	if (r->o.json) {
		fprintf(f, "{\"type\":\"start\",\"lab\":");
		run_json_str(f, lab->name);
		fprintf(f, ",\"id\":");
		run_json_str(f, r->id);
		fprintf(f, ",\"engine\":");
		run_json_str(f, r->why_engine);
		fprintf(f, ",\"file\":");
		run_json_str(f, lab->file);
		fprintf(f, ",\"low_latency\":%s,\"observer\":\"%s\",\"observer_why\":",
			r->qos_fd >= 0 ? "true" : "false", r->tev ? "events" : "poll");
		run_json_str(f, r->why_observer);
		fprintf(f, "}\n");
	} else if (!r->o.quiet) {
		fprintf(f, "lab %s (%s): id %s, engine %s, observer %s\n", lab->name, lab->file, r->id,
			r->why_engine, r->why_observer);
		if (lab->about[0])
			fprintf(f, "  %s\n", lab->about);
		if (r->o.expose)
			fprintf(f, "  exposed: ip netns exec %s-HOST ...\n", r->id);
		if (r->qos_fd >= 0)
			fprintf(f, "  low latency: CPUs held out of idle states while the lab runs "
				"(%s = 0 us)\n", PMQOS_DEV);
	}
	fflush(f);
	r->t0 = mono_ns();
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	r->t0_real = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
	return steps_range(r, 0, lab->nsteps, e);
}

/* Steps [from, to) of r->lab; the failed expectations so far, or a negative errno. */
static int steps_range(struct run *r, int from, int to, struct lc_err *e)
{
	const struct lab *lab = r->lab;
	for (int i = from; i < to;) {
		if (r->interrupted)
			return err_set(e, -EINTR, "interrupted");
		if (r->o.step_hook && lab->steps[i].op != LAB_OP_EXPECT) {
			char text[512];
			step_text(r, &lab->steps[i], text, sizeof(text));
			enum run_step_answer a = r->o.step_hook(r, &lab->steps[i], text, r->o.step_arg);
			if (a == RUN_STEP_QUIT)
				return err_set(e, -ECANCELED, "%s:%d: stopped before this step",
					       lab->file, lab->steps[i].pos.line);
			if (a == RUN_STEP_ALL)
				r->o.step_hook = NULL;
			if (r->interrupted)
				return err_set(e, -EINTR, "interrupted");
		}
		/* Agent steps on one line (joined by '&') are all sent before any answer is
		 * awaited, so e.g. two closes leave at the same instant and the FINs cross. */
		int j = i;
		while (j < to && lab->steps[j].together == lab->steps[i].together &&
		       run_is_agent_op(lab->steps[j].op))
			j++;
		if (j > i) {
			uint32_t tags[64];
			int n = j - i > 64 ? 64 : j - i, rc = 0;
			for (int k = 0; k < n && rc == 0; k++)
				if ((rc = run_agent_send(r, &lab->steps[i + k], &tags[k], e)) < 0)
					run_log_step(r, &lab->steps[i + k], "ERR", e->msg);
			for (int k = 0; k < n && rc == 0; k++) {
				char detail[256];
				if ((rc = run_agent_wait(r, &lab->steps[i + k], tags[k], detail,
							 sizeof(detail), e)) < 0)
					run_log_step(r, &lab->steps[i + k], "ERR", e->msg);
				else
					run_log_step(r, &lab->steps[i + k], "ok", detail);
			}
			if (rc < 0)
				return rc;
			i += n;
			continue;
		}
		int rc = step_exec(r, &lab->steps[i], e);
		if (rc < 0) {
			run_log_step(r, &lab->steps[i], "ERR", e->msg);
			return rc;
		}
		i++;
	}
	/* A ^C during the last step (a wait) must not read as a pass. */
	if (r->interrupted)
		return err_set(e, -EINTR, "interrupted");
	return r->nfailed;
}

/* A link is worth a line in the report when something on it drops or delays: impairments
 * in the lab file, a drop rule, or an impair step or request during the run. */
bool run_link_shown(const struct run *r, int i)
{
	const struct lab_link *l = &r->lab->links[i];
	if (l->dir[0].set || l->dir[1].set || (r->impaired && r->impaired[i]))
		return true;
	for (int k = 0; k < r->lab->nrules; k++)
		if (r->lab->rules[k].link == i)
			return true;
	return false;
}

/* What each impaired link did with its frames (the engine's counters): how many were
 * delivered and dropped, and why where the engine knows (userlink). */
static void links_report(struct run *r)
{
	FILE *f = r->o.out;
	if (!r->en || !r->en->ops->link_stats || r->o.quiet)
		return;
	bool header = false;
	for (int i = 0; i < r->lab->nlinks; i++) {
		if (!run_link_shown(r, i))
			continue;
		struct engine_dir_stats st[2];
		struct lc_err e = {0};
		const struct lab_link *l = &r->lab->links[i];
		const char *a = r->lab->hosts[l->a].name, *b = r->lab->hosts[l->b].name;
		if (r->en->ops->link_stats(r->en, i, st, &e) < 0) {
			if (!r->o.json)
				fprintf(f, "links: %s-%s: no counters: %s\n", a, b, e.msg);
			continue;
		}
		for (int d = 0; d < 2; d++) {
			const char *from = d ? b : a, *to = d ? a : b;
			const struct engine_dir_stats *s = &st[d];
			if (r->o.json) {
				fprintf(f, "{\"type\":\"link\",\"from\":");
				run_json_str(f, from);
				fprintf(f, ",\"to\":");
				run_json_str(f, to);
				fprintf(f, ",\"engine\":\"%s\",\"delivered\":%" PRIu64
					",\"dropped\":%" PRIu64, r->en->ops->name, s->delivered, s->dropped);
				if (s->split)
					fprintf(f, ",\"lost\":%" PRIu64 ",\"overlimit\":%" PRIu64
						",\"ruled\":%" PRIu64, s->lost, s->overlimit, s->ruled);
				fprintf(f, "}\n");
				continue;
			}
			if (!header) {
				fprintf(f, "links (%s engine's counters):\n", r->en->ops->name);
				header = true;
			}
			char side[2 * LAB_NAME_MAX + 2];
			snprintf(side, sizeof(side), "%s>%s", from, to);
			fprintf(f, "  %-20s %8" PRIu64 " frames delivered %6" PRIu64 " dropped", side,
				s->delivered, s->dropped);
			if (s->split && s->dropped)
				fprintf(f, " (lost %" PRIu64 ", over limit %" PRIu64 ", by rule %"
					PRIu64 ")", s->lost, s->overlimit, s->ruled);
			else if (!s->split && s->dropped)
				fprintf(f, " (loss or queue limit)");
			fprintf(f, "\n");
		}
	}
}

void run_report(struct run *r, int failed)
{
	FILE *f = r->o.out;
	run_timeline_report(r);
	run_capture_report(r);
	if (r->o.capture_dir) {
		/* Each connection side's path through the state machine, beside the ladder. */
		struct lc_err e = {0};
		int n = 0;
		if (run_write_fsms(r, r->o.capture_dir, &n, &e) < 0)
			fprintf(f, "state machines: %s\n", e.msg);
		else if (n && !r->o.json && !r->o.quiet)
			fprintf(f, "state machines: %s/%s-fsm-*.svg (%d, one per connection side)\n",
				r->o.capture_dir, r->id, n);
	}
	links_report(r);
	double t = (double)(mono_ns() - r->t0) / 1e9;
	if (r->o.json) {
		fprintf(f, "{\"type\":\"verdict\",\"lab\":");
		run_json_str(f, r->lab->name);
		fprintf(f, ",\"pass\":%s,\"expectations\":%d,\"failed\":%d,\"seconds\":%.3f}\n",
			failed == 0 ? "true" : "false", r->nexpect, failed < 0 ? -1 : failed, t);
	} else {
		if (failed == 0)
			fprintf(f, "PASS %s: %d steps, %d expectations held (%.2fs)\n", r->lab->name,
				r->lab->nsteps, r->nexpect, t);
		else if (failed > 0)
			fprintf(f, "FAIL %s: %d of %d expectations failed (%.2fs)\n", r->lab->name,
				failed, r->nexpect, t);
		else
			fprintf(f, "ERROR %s: the lab could not run to its end (%.2fs)\n",
				r->lab->name, t);
	}
	fflush(f);
}

void run_hold(struct run *r)
{
	/* The steps are over: an idle lab need not be polled every millisecond. */
	if (r->polling) {
		ev_timer_stop(r->loop, &r->poll_w);
		r->polling = false;
	}
	while (!r->interrupted)
		ev_run(r->loop, 0);
}

void run_free(struct run *r)
{
	if (!r)
		return;
	if (r->ctl_fd >= 0) {
		char path[128];
		if (ev_is_active(&r->ctl_w))
			ev_io_stop(r->loop, &r->ctl_w);
		close(r->ctl_fd);
		reg_file(r->id, "sock", path, sizeof(path));
		unlink(path);
	}
	if (r->topo)
		stall_point("unwind");
	run_progs_free(r);
	run_observe_free(r);
	run_agents_free(r);
	run_capture_free(r);
	run_record_free(r);
	if (r->topo)
		stall_point("teardown");
	topo_free(r->topo);
	free(r->hosts);
	free(r->impaired);
	engine_free(r->en);
	if (r->qos_fd >= 0)
		close(r->qos_fd);
	if (r->registered)
		reg_remove(r->id);
	if (r->reaper_pipe >= 0)
		close(r->reaper_pipe);
	if (r->reaper > 0)
		waitpid(r->reaper, NULL, 0);
	if (r->loop) {
		ev_signal_stop(r->loop, &r->sigint);
		ev_signal_stop(r->loop, &r->sigterm);
		ev_loop_destroy(r->loop);
	}
	for (int i = 0; i < r->nlines; i++)
		free(r->lines[i]);
	free(r->lines);
	for (int i = 0; i < r->nlive; i++)
		lab_free(r->live[i]);
	free(r->live);
	free(r->src);
	free(r);
}

/* ---- the supervisor's control socket ---- */

static void ctl_path(const char *id, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	reg_file(id, "sock", sa->sun_path, sizeof(sa->sun_path));
}

/* The errors of a parse that concern line `line` (the live one), as "step:COL: message";
 * the others (should there be any) whole. */
static void live_errors(const char *file, int line, const char *all, char *out, size_t len)
{
	char prefix[600];
	int pl = snprintf(prefix, sizeof(prefix), "%s:%d:", file, line);
	size_t off = 0;
	for (const char *l = all; l && *l && off < len;) {
		const char *nl = strchr(l, '\n');
		int n = nl ? (int)(nl - l) : (int)strlen(l);
		int w;
		if (!strncmp(l, prefix, (size_t)pl))
			w = snprintf(out + off, len - off, "%scolumn %.*s", off ? "\n" : "", n - pl,
				     l + pl);
		else
			w = snprintf(out + off, len - off, "%s%.*s", off ? "\n" : "", n, l);
		if (w < 0)
			break;
		off += (size_t)w;
		l = nl ? nl + 1 : NULL;
	}
}

/* Parse a live line after everything before it and run its steps, the step log into out. */
static int run_live(struct run *r, const struct run_ctl_line *req, char *out, size_t len)
{
	struct lc_err e = {0};
	const char *text = req->text;
	if (memchr(text, '\n', strnlen(text, RUN_CTL_LINE_MAX)) || !*text) {
		snprintf(out, len, "a step is one line");
		return LC_EXIT_USAGE;
	}
	const char *prev = r->src ? r->src : "";
	size_t pl = strlen(prev);
	char *joined = NULL;
	bool nl = pl && prev[pl - 1] != '\n';
	if (asprintf(&joined, "%s%s%s%s\n", prev, nl ? "\n" : "",
		     req->kind == RUN_LINE_EXPECT ? "expect " : "", text) < 0) {
		snprintf(out, len, "out of memory");
		return LC_EXIT_USAGE;
	}
	int line = 1;
	for (const char *c = joined; *c; c++)
		line += *c == '\n';
	line--;  /* the joined text ends with a newline */
	struct lab *lab = NULL;
	char *all = NULL;
	if (lab_parse_string_errs(r->lab->file, joined, &lab, &e, &all) < 0) {
		live_errors(r->lab->file, line, all ? all : e.msg, out, len);
		free(all);
		free(joined);
		return LC_EXIT_USAGE;
	}
	int from = lab->nsteps;
	while (from > 0 && lab->steps[from - 1].pos.line == line)
		from--;
	if (from == lab->nsteps || (req->kind == RUN_LINE_EXPECT &&
				    lab->steps[lab->nsteps - 1].op != LAB_OP_EXPECT)) {
		snprintf(out, len, "line: not a step: %s", text);
		lab_free(lab);
		free(joined);
		return LC_EXIT_USAGE;
	}
	struct lab **lv = realloc(r->live, (size_t)(r->nlive + 1) * sizeof(*lv));
	if (lv)
		r->live = lv;
	char **lines = realloc(r->lines, (size_t)(line > r->nlines ? line : r->nlines) *
				   sizeof(char *));
	if (lines)
		r->lines = lines;
	if (!lv || !lines) {
		snprintf(out, len, "out of memory");
		lab_free(lab);
		free(joined);
		return LC_EXIT_USAGE;
	}
	r->live[r->nlive++] = lab;
	while (r->nlines < line)
		r->lines[r->nlines++] = strdup("");
	free(r->lines[line - 1]);
	r->lines[line - 1] = strdup(joined + strlen(joined) - strlen(text) - 1 -
				    (req->kind == RUN_LINE_EXPECT ? 7 : 0));
	if (r->lines[line - 1])
		r->lines[line - 1][strcspn(r->lines[line - 1], "\n")] = '\0';
	free(r->src);
	r->src = joined;
	r->lab = lab;

	FILE *saved = r->o.out, *m;
	bool quiet = r->o.quiet, json = r->o.json;
	char *buf = NULL;
	size_t blen = 0;
	if (!(m = open_memstream(&buf, &blen))) {
		snprintf(out, len, "out of memory");
		return LC_EXIT_USAGE;
	}
	r->o.out = m;
	r->o.quiet = r->o.json = false;
	if (!r->t0)
		r->t0 = mono_ns();
	int failed0 = r->nfailed;
	int rc = steps_range(r, from, lab->nsteps, &e);
	r->o.out = saved;
	r->o.quiet = quiet;
	r->o.json = json;
	fclose(m);
	snprintf(out, len, "%s", buf ? buf : "");
	free(buf);
	/* The supervisor's own log keeps them too. */
	fprintf(saved, "%s", out);
	fflush(saved);
	if (rc < 0)
		return LC_EXIT_USAGE;
	return r->nfailed > failed0 ? LC_EXIT_FAIL : LC_EXIT_PASS;
}

static void on_ctl(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	struct run *r = w->data;
	int c = accept4(r->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	union {
		uint32_t magic;
		struct run_ctl_req imp;
		struct run_ctl_line line;
	} *req = calloc(1, sizeof(*req));
	struct run_ctl_rep rep = {0};
	struct lc_err e = {0};
	struct timeval tv = {2, 0};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = req ? recv(c, req, sizeof(*req), 0) : -1;
	if (n == (ssize_t)sizeof(struct run_ctl_line) && req->magic == RUN_CTL_MAGIC_LINE) {
		struct run_ctl_line_rep *lr = calloc(1, sizeof(*lr));
		if (lr) {
			/* Steps run the loop themselves: no second request meanwhile. */
			ev_io_stop(loop, w);
			req->line.text[RUN_CTL_LINE_MAX - 1] = '\0';
			lr->status = run_live(r, &req->line, lr->out, sizeof(lr->out));
			ev_io_start(loop, w);
			(void)!send(c, lr, sizeof(*lr), MSG_NOSIGNAL);
			free(lr);
		}
		free(req);
		close(c);
		return;
	}
	if (n != (ssize_t)sizeof(struct run_ctl_req) || req->magic != RUN_CTL_MAGIC) {
		rep.rc = -EPROTO;
		snprintf(rep.msg, sizeof(rep.msg), "malformed request");
	} else {
		rep.rc = run_impair(r, req->imp.link, req->imp.dir_only, req->imp.dir, req->imp.imp,
				    &e);
		const struct lab_link *L = req->imp.link >= 0 && req->imp.link < r->lab->nlinks
			? &r->lab->links[req->imp.link] : NULL;
		if (rep.rc < 0)
			snprintf(rep.msg, sizeof(rep.msg), "%s", e.msg);
		else if (L)
			snprintf(rep.msg, sizeof(rep.msg), "link %s %s changed (%s engine)",
				 r->lab->hosts[L->a].name, r->lab->hosts[L->b].name, r->en->ops->name);
	}
	free(req);
	(void)!send(c, &rep, sizeof(rep), MSG_NOSIGNAL);
	close(c);
}

int run_ctl_listen(struct run *r, struct lc_err *e)
{
	struct sockaddr_un sa;
	ctl_path(r->id, &sa);
	unlink(sa.sun_path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(e, -errno, "control socket: %s", strerror(errno));
	mode_t old = umask(0077);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(fd, 8) < 0) {
		rc = -errno;
		close(fd);
		return err_set(e, rc, "control socket %s: %s", sa.sun_path, strerror(-rc));
	}
	r->ctl_fd = fd;
	ev_io_init(&r->ctl_w, on_ctl, fd, EV_READ);
	r->ctl_w.data = r;
	return 0;
}

/* Requests wait in the listen queue until the lab's own steps are over: a `labctl step`
 * issued right after `labctl up` runs after them, never in the middle. */
void run_ctl_serve(struct run *r)
{
	if (r->ctl_fd >= 0 && !ev_is_active(&r->ctl_w))
		ev_io_start(r->loop, &r->ctl_w);
}

int run_ctl_call(const char *id, const struct run_ctl_req *req, struct run_ctl_rep *rep,
		 struct lc_err *e)
{
	struct sockaddr_un sa;
	ctl_path(id, &sa);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "socket: %s", strerror(errno));
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int rc = 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		rc = err_set(e, -errno, "cannot reach lab %s's supervisor at %s: %s", id, sa.sun_path,
			     strerror(errno));
	else if (send(fd, req, sizeof(*req), MSG_NOSIGNAL) != (ssize_t)sizeof(*req))
		rc = err_set(e, -errno, "sending to the supervisor: %s", strerror(errno));
	else if (recv(fd, rep, sizeof(*rep), 0) != (ssize_t)sizeof(*rep))
		rc = err_set(e, -EPROTO, "no answer from lab %s's supervisor", id);
	else
		rep->msg[sizeof(rep->msg) - 1] = '\0';
	close(fd);
	return rc;
}

int run_ctl_line_call(const char *id, const struct run_ctl_line *req,
		      struct run_ctl_line_rep *rep, struct lc_err *e)
{
	struct sockaddr_un sa;
	ctl_path(id, &sa);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "socket: %s", strerror(errno));
	int sz = (int)sizeof(*rep) * 2;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	int rc = 0;
	ssize_t n;
	/* No receive timeout: a step may wait (expect ... within, a run's timeout).  A
	 * supervisor that dies closes the socket, and recv returns. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		rc = err_set(e, -errno, "cannot reach lab %s's supervisor at %s: %s", id, sa.sun_path,
			     strerror(errno));
	else if (send(fd, req, sizeof(*req), MSG_NOSIGNAL) != (ssize_t)sizeof(*req))
		rc = err_set(e, -errno, "sending to the supervisor: %s", strerror(errno));
	else if ((n = recv(fd, rep, sizeof(*rep), 0)) != (ssize_t)sizeof(*rep))
		rc = err_set(e, -EPROTO, "no answer from lab %s's supervisor%s", id,
			     n == 0 ? " (it closed the connection: is the lab still up?)" : "");
	else
		rep->out[sizeof(rep->out) - 1] = '\0';
	close(fd);
	return rc;
}
