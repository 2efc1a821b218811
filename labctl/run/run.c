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
#include "run/registry.h"
#include "run/stall.h"
#include "run/topo.h"

static void load_lines(struct run *r)
{
	FILE *f = fopen(r->lab->file, "re");
	char buf[1024];
	if (!f)
		return;
	while (fgets(buf, sizeof(buf), f)) {
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
		if (detail && *detail)
			fprintf(f, "%s%s", strcmp(mark, "ok") ? "\n                  " : "   ", detail);
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
	if ((rc = run_observe_start(r, e)) < 0 || (rc = run_capture_start(r, e)) < 0)
		goto err;
	if (r->o.expose) {
		/* Record before binding, so a crash in between leaves nothing unaccounted for. */
		if ((rc = reg_write(r->topo, lab->file, r->o.kind, getpid(), e)) < 0)
			goto err;
		r->registered = true;
		if (!strcmp(r->o.kind, "run") && (rc = reaper_start(r, e)) < 0)
			goto err;
		if ((rc = topo_expose(r->topo, e)) < 0)
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
	default:
		return err_set(e, -ENOTSUP, "%s:%d:%d: this step is not supported yet",
			       r->lab->file, st->pos.line, st->pos.col);
	}
}

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
		fprintf(f, ",\"low_latency\":%s}\n", r->qos_fd >= 0 ? "true" : "false");
	} else if (!r->o.quiet) {
		fprintf(f, "lab %s (%s): id %s, engine %s\n", lab->name, lab->file, r->id,
			r->why_engine);
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
	for (int i = 0; i < lab->nsteps;) {
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
		while (j < lab->nsteps && lab->steps[j].together == lab->steps[i].together &&
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
		ev_io_stop(r->loop, &r->ctl_w);
		close(r->ctl_fd);
		snprintf(path, sizeof(path), REG_DIR "/%s.sock", r->id);
		unlink(path);
	}
	if (r->topo)
		stall_point("unwind");
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
	free(r);
}

/* ---- the supervisor's control socket ---- */

static void ctl_path(const char *id, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), REG_DIR "/%s.sock", id);
}

static void on_ctl(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct run *r = w->data;
	int c = accept4(r->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	struct run_ctl_req req;
	struct run_ctl_rep rep = {0};
	struct lc_err e = {0};
	struct timeval tv = {2, 0};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(c, &req, sizeof(req), 0);
	if (n != (ssize_t)sizeof(req) || req.magic != RUN_CTL_MAGIC) {
		rep.rc = -EPROTO;
		snprintf(rep.msg, sizeof(rep.msg), "malformed request");
	} else {
		rep.rc = run_impair(r, req.link, req.dir_only, req.dir, req.imp, &e);
		const struct lab_link *L = req.link >= 0 && req.link < r->lab->nlinks
			? &r->lab->links[req.link] : NULL;
		if (rep.rc < 0)
			snprintf(rep.msg, sizeof(rep.msg), "%s", e.msg);
		else if (L)
			snprintf(rep.msg, sizeof(rep.msg), "link %s %s changed (%s engine)",
				 r->lab->hosts[L->a].name, r->lab->hosts[L->b].name, r->en->ops->name);
	}
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
	ev_io_start(r->loop, &r->ctl_w);
	return 0;
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
