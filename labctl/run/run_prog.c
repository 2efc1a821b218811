/* run_prog: a lab's own programs (start, run, stop, signal; expect program; sockets held by
 * a program).  Each program runs through kernel/spawn.h: its own PID namespace inside the
 * host's network namespace, as the invoking user, its output in a log. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/str.h"
#include "kernel/netns.h"
#include "observe/expect.h"
#include "render/report.h"
#include "run/run_int.h"

#define TEARDOWN_GRACE_NS 500000000LL
#define TAIL_LINES 8

struct run_prog {
	struct run *r;
	int index;
	struct spawn *sp;
	ev_io w;                  /* on the reaper's control socket while it is open */
	int64_t t_start, t_exit;  /* monotonic ns */
	bool stopping;            /* a stop step or the teardown asked it to end */
	int nstarts;
	char log[PATH_MAX];
};

static const struct lab_prog *prog_of(const struct run *r, int i)
{
	return &r->lab->progs[i];
}

bool run_is_prog_op(enum lab_op op)
{
	return op == LAB_OP_START || op == LAB_OP_RUN || op == LAB_OP_STOP || op == LAB_OP_SIGNAL;
}

/* The last n lines of a log, each prefixed "| ", into buf. */
static void log_tail(const char *path, int n, char *buf, size_t len)
{
	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char tail[4096];
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof(tail) - 1 ? end - (off_t)sizeof(tail) + 1 : 0;
	ssize_t k = pread(fd, tail, sizeof(tail) - 1, from);
	close(fd);
	if (k <= 0)
		return;
	tail[k] = '\0';
	while (k > 0 && tail[k - 1] == '\n')
		tail[--k] = '\0';
	char *start = tail;
	int lines = 0;
	for (char *c = tail + k; c > tail; c--)
		if (c[-1] == '\n' && ++lines == n) {
			start = c;
			break;
		}
	if (from > 0 && start == tail) {  /* a partial first line */
		char *nl = strchr(tail, '\n');
		start = nl ? nl + 1 : tail;
	}
	size_t off = 0;
	for (char *line = start, *next; line && *line && off < len; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		int w = snprintf(buf + off, len - off, "%s| %s", off ? "\n" : "", line);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/* A line of the run's log that is not a step's: a program's unexpected end. */
static void prog_note(struct run *r, const char *mark, const char *name, const char *text,
		      const char *tail)
{
	FILE *f = r->o.out;
	double t = (double)(mono_ns() - r->t0) / 1e9;
	if (r->o.json) {
		fprintf(f, "{\"type\":\"program\",\"t\":%.6f,\"result\":", t);
		run_json_str(f, mark);
		fprintf(f, ",\"name\":");
		run_json_str(f, name);
		fprintf(f, ",\"text\":");
		run_json_str(f, text);
		if (tail && *tail) {
			fprintf(f, ",\"output\":");
			run_json_str(f, tail);
		}
		fprintf(f, "}\n");
	} else {
		fprintf(f, "  %8.3fs  %-4s  %s\n", t, mark, text);
		for (const char *l = tail; l && *l;) {
			const char *nl = strchr(l, '\n');
			int n = nl ? (int)(nl - l) : (int)strlen(l);
			fprintf(f, "                  %.*s\n", n, l);
			l = nl ? nl + 1 : NULL;
		}
	}
	fflush(f);
}

static void status_text(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by SIG%s", lab_signal_name(WTERMSIG(st)));
	else
		snprintf(buf, len, "status 0x%x", (unsigned)st);
}

/* Does the lab check this program's exit itself (then an exit is no surprise)? */
static bool exit_expected(const struct run *r, int prog)
{
	for (int i = 0; i < r->lab->nsteps; i++) {
		const struct lab_step *st = &r->lab->steps[i];
		if (st->op == LAB_OP_EXPECT && st->u.expect.kind == LAB_EXPECT_PROGRAM &&
		    st->u.expect.prog == prog && !st->u.expect.running)
			return true;
	}
	return false;
}

static void on_prog(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	struct run_prog *rp = w->data;
	struct run *r = rp->r;
	bool was_exited = rp->sp->exited;
	if (!spawn_poll(rp->sp))
		return;
	const struct lab_prog *p = prog_of(r, rp->index);
	if (rp->sp->exited && !was_exited) {
		rp->t_exit = mono_ns();
		int st = rp->sp->status;
		bool bad = !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		if (p->background && !rp->stopping && r->t0) {
			char what[128], text[320], tail[2048];
			status_text(st, what, sizeof(what));
			snprintf(text, sizeof(text), "program %s on %s ended by itself (%s, %.3f s after "
				 "it started at line %d)%s", p->name, r->lab->hosts[p->host].name, what,
				 (double)(rp->t_exit - rp->t_start) / 1e9, p->pos.line,
				 !rp->sp->gone && !bad ? "; its other processes live on" : "");
			log_tail(rp->log, TAIL_LINES, tail, sizeof(tail));
			/* A server that dies is a failure of the run, unless the lab expects it. */
			bool fails = bad && !exit_expected(r, rp->index);
			prog_note(r, fails ? "FAIL" : "note", p->name, text, bad ? tail : "");
			if (fails) {
				r->nexpect++;
				r->nfailed++;
			}
		}
	}
	if (rp->sp->gone)
		ev_io_stop(loop, w);
	if (r->prog_wait == rp)
		ev_break(loop, EVBREAK_ONE);
}

static int write_file(const char *path, const char *text, struct lc_err *e)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	size_t n = strlen(text);
	ssize_t w = write(fd, text, n);
	int rc = w == (ssize_t)n ? 0 : err_set(e, -EIO, "writing %s", path);
	close(fd);
	return rc;
}

/* The hosts file host h's programs see: every lab host by name, the address on the subnet
 * it shares with h first (so a name always resolves to a reachable address). */
static int hosts_file(struct run *r, int h, const char *path, struct lc_err *e)
{
	const struct lab *lab = r->lab;
	char text[16384], a[INET6_ADDRSTRLEN + 8];
	size_t off = str_appendf(text, sizeof(text), 0, "# labctl lab %s, as host %s sees it\n"
			  "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
			  r->id, lab->hosts[h].name);
	for (int p = 0; p < lab->nhosts; p++) {
		const struct lab_host *H = &lab->hosts[p];
		struct lab_addr first[2];
		int nfirst = 0;
		for (int fam = 0; fam < 2 && p != h; fam++)
			if (lab_host_addr_toward(lab, p, h, fam ? AF_INET6 : AF_INET,
						 &first[nfirst]) == 0)
				nfirst++;
		for (int i = 0; i < nfirst; i++) {
			struct lab_addr x = first[i];
			x.prefixlen = -1;
			lab_addr_format(&x, a, sizeof(a));
			off = str_appendf(text, sizeof(text), off, "%s\t%s\n", a, H->name);
		}
		for (int i = 0; i < H->naddrs; i++) {
			struct lab_addr x = H->addrs[i];
			bool dup = false;
			for (int k = 0; k < nfirst; k++)
				dup |= x.family == first[k].family &&
				       !memcmp(x.bytes, first[k].bytes, sizeof(x.bytes));
			if (dup)
				continue;
			x.prefixlen = -1;
			lab_addr_format(&x, a, sizeof(a));
			off = str_appendf(text, sizeof(text), off, "%s\t%s\n", a, H->name);
		}
	}
	if (off >= sizeof(text))
		return err_set(e, -E2BIG, "the hosts file for %s is too long", lab->hosts[h].name);
	return write_file(path, text, e);
}

/* Host h's first program: its hosts file, and the sysctls a user's server needs. */
static int host_prepare(struct run *r, int h, const char *path, struct lc_err *e)
{
	if (access(path, F_OK) == 0)
		return 0;
	int rc = hosts_file(r, h, path, e);
	if (rc < 0)
		return rc;
	/* The invoking user's server may listen on port 80, and ping works for it. */
	netns_sysctl_write(r->topo->hosts[h].fd, "net.ipv4.ip_unprivileged_port_start", "0", NULL);
	netns_sysctl_write(r->topo->hosts[h].fd, "net.ipv4.ping_group_range", "0 2147483647",
			   NULL);
	return 0;
}

/* Make room for programs the lab (or a live `labctl step`) names.  One allocation each:
 * libev holds the address of a running watcher. */
static int progs_grow(struct run *r, struct lc_err *e)
{
	if (r->lab->nprogs <= r->nprogs)
		return 0;
	struct run_prog **n = realloc(r->progs, (size_t)r->lab->nprogs * sizeof(*n));
	if (!n)
		return err_set(e, -ENOMEM, "out of memory");
	r->progs = n;
	for (; r->nprogs < r->lab->nprogs; r->nprogs++) {
		struct run_prog *rp = calloc(1, sizeof(*rp));
		if (!rp)
			return err_set(e, -ENOMEM, "out of memory");
		rp->r = r;
		rp->index = r->nprogs;
		r->progs[r->nprogs] = rp;
	}
	return 0;
}

int run_progs_prepare(struct run *r, struct lc_err *e)
{
	const struct lab *lab = r->lab;
	int rc;
	if (r->progs_ready || lab->nprogs == 0)
		return 0;
	for (int i = 0; i < lab->nprogs; i++)
		if (lab->progs[i].as_root && !r->o.allow_root)
			return err_set(e, -EPERM, "%s:%d:%d: program %s asks to run as root; labctl "
				       "runs a lab's programs as the user who invoked it unless the "
				       "command line allows root (--allow-root)", lab->file,
				       lab->progs[i].pos.line, lab->progs[i].pos.col,
				       lab->progs[i].name);
	if ((rc = privs_invoker(&r->user, e)) < 0)
		return rc;
	char tmpl[PATH_MAX];
	snprintf(tmpl, sizeof(tmpl), "%s/labctl-%s-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", r->id);
	if (!mkdtemp(tmpl))
		return err_set(e, -errno, "making a directory for the programs' logs (%s): %s", tmpl,
			       strerror(errno));
	snprintf(r->progdir, sizeof(r->progdir), "%s", tmpl);
	chmod(r->progdir, 0755);
	/* The logs go with the run's other files (--capture, or the run directory). */
	const char *dir = r->o.capture_dir ? r->o.capture_dir : r->o.out_dir;
	snprintf(r->logdir, sizeof(r->logdir), "%s", dir ? dir : r->progdir);
	if (dir)
		mkdir(dir, 0755);
	char real[PATH_MAX];
	if (realpath(lab->file, real)) {
		char *slash = strrchr(real, '/');
		if (slash)
			*(slash == real ? slash + 1 : slash) = '\0';
		snprintf(r->labdir, sizeof(r->labdir), "%s", real);
	} else {
		snprintf(r->labdir, sizeof(r->labdir), ".");
	}
	r->progs_ready = true;
	return progs_grow(r, e);
}

static char **prog_env(struct run *r, const struct lab_prog *p, const struct privs_user *u)
{
	const struct lab_host *H = &r->lab->hosts[p->host];
	char addr[INET6_ADDRSTRLEN + 8] = "";
	if (H->naddrs) {
		struct lab_addr x = H->addrs[0];
		x.prefixlen = -1;
		lab_addr_format(&x, addr, sizeof(addr));
	}
	const char *path = getenv("PATH");
	const char *pass[] = {"LANG", "LC_ALL", "TERM", "TZ"};
	size_t n = 0, cap = 16 + (size_t)p->nenv;
	char **env = calloc(cap, sizeof(char *));
	if (!env)
		return NULL;
#define PUT(...) do { if (asprintf(&env[n], __VA_ARGS__) >= 0) n++; } while (0)
	PUT("PATH=%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	PUT("HOME=%s", u->home);
	PUT("USER=%s", u->name);
	PUT("LOGNAME=%s", u->name);
	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
		if (getenv(pass[i]))
			PUT("%s=%s", pass[i], getenv(pass[i]));
	/* Python buffers a file's stdout: without this a log is empty until the program ends */
	PUT("PYTHONUNBUFFERED=1");
	PUT("LABCTL_LAB=%s", r->id);
	PUT("LABCTL_HOST=%s", H->name);
	PUT("LABCTL_ADDR=%s", addr);
#undef PUT
	for (int i = 0; i < p->nenv; i++) {
		size_t kl = strcspn(p->env[i], "=");
		for (size_t k = 0; k < n; k++)  /* the lab's value wins */
			if (!strncmp(env[k], p->env[i], kl + 1)) {
				free(env[k]);
				env[k] = env[--n];
			}
		env[n] = strdup(p->env[i]);
		if (env[n])
			n++;
	}
	env[n] = NULL;
	return env;
}

static void env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* Start program i (background or foreground); 0 once it has exec'd. */
static int prog_launch(struct run *r, int i, struct lc_err *e)
{
	int rc;
	if ((rc = run_progs_prepare(r, e)) < 0 || (rc = progs_grow(r, e)) < 0)
		return rc;
	const struct lab_prog *p = prog_of(r, i);
	struct run_prog *rp = r->progs[i];
	/* Checked here too: a live `labctl step` can add a program after the lab started. */
	if (p->as_root && !r->o.allow_root)
		return err_set(e, -EPERM, "program %s asks to run as root; labctl runs a lab's "
			       "programs as the user who invoked it unless the command line allows "
			       "root (--allow-root)", p->name);
	if (rp->sp && !rp->sp->gone)
		return err_set(e, -EBUSY, "program %s is still running (started at line %d)",
			       p->name, p->pos.line);
	spawn_free(rp->sp);
	rp->sp = NULL;
	rp->stopping = false;
	snprintf(rp->log, sizeof(rp->log), "%s/%s-%s.log", r->logdir, r->id, p->name);
	int logfd = open(rp->log, O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND |
			 (rp->nstarts ? 0 : O_TRUNC), 0644);
	if (logfd < 0)
		return err_set(e, -errno, "program %s: its log %s: %s", p->name, rp->log,
			       strerror(errno));
	struct privs_user root, *u = &r->user;
	if (p->as_root) {
		privs_root(&root);
		u = &root;
	}
	char hosts[PATH_MAX + 64], what[128];
	snprintf(hosts, sizeof(hosts), "%s/%s.hosts", r->progdir, r->lab->hosts[p->host].name);
	if ((rc = host_prepare(r, p->host, hosts, e)) < 0) {
		close(logfd);
		return rc;
	}
	char **env = prog_env(r, p, u);
	snprintf(what, sizeof(what), "program %s on host %s", p->name, r->lab->hosts[p->host].name);
	struct spawn_opts so = {
		.netns_fd = r->topo->hosts[p->host].fd, .what = what, .argv = p->argv,
		.envp = env, .cwd = r->labdir, .uid = u->uid, .gid = u->gid, .groups = u->groups,
		.ngroups = u->ngroups, .hosts_file = hosts, .out_fd = logfd,
	};
	rp->t_start = mono_ns();
	rc = env ? spawn_start(&so, &rp->sp, e) : err_set(e, -ENOMEM, "out of memory");
	close(logfd);
	env_free(env);
	if (rc < 0)
		return rc;
	rp->nstarts++;
	r->prog_start_ns += mono_ns() - rp->t_start;
	r->prog_nstarts++;
	ev_io_init(&rp->w, on_prog, rp->sp->ctl, EV_READ);
	rp->w.data = rp;
	ev_io_start(r->loop, &rp->w);
	return 0;
}

/* Let the loop run until program rp changes (exits, ends) or ns pass. */
static void prog_wait(struct run *r, struct run_prog *rp, int64_t ns)
{
	r->prog_wait = rp;
	run_sleep(r, ns);
	r->prog_wait = NULL;
}

/* Wait for every process of rp to end, at most ns; true when they did. */
static bool prog_wait_gone(struct run *r, struct run_prog *rp, int64_t ns)
{
	int64_t deadline = mono_ns() + ns;
	while (!rp->sp->gone && !r->interrupted) {
		int64_t left = deadline - mono_ns();
		if (left <= 0)
			return false;
		prog_wait(r, rp, left);
	}
	return rp->sp->gone;
}

/* SIGTERM, then SIGKILL after grace; detail says which ended it. */
static void prog_stop(struct run *r, struct run_prog *rp, int64_t grace, char *detail,
		      size_t len)
{
	int64_t t = mono_ns();
	struct lc_err e = {0};
	rp->stopping = true;
	spawn_signal(rp->sp, SIGTERM, &e);
	spawn_signal(rp->sp, SIGCONT, &e);  /* a stopped program would not see the TERM */
	if (prog_wait_gone(r, rp, grace)) {
		snprintf(detail, len, "ended on SIGTERM in %.1f ms", (double)(mono_ns() - t) / 1e6);
	} else {
		spawn_kill(rp->sp);
		snprintf(detail, len, "ignored SIGTERM for %.3g s: killed (SIGKILL)",
			 (double)grace / 1e9);
	}
	ev_io_stop(r->loop, &rp->w);  /* a no-op when it is not running */
}

/* Is anything listening on port in host h? */
struct listen_find {
	bool found;
};
static int listen_cb(const struct diag_sock *s, void *arg)
{
	struct listen_find *lf = arg;
	if (s && s->state == LAB_TCP_LISTEN)
		lf->found = true;
	return 0;
}

static int prog_ready(struct run *r, struct run_prog *rp, char *detail, size_t len,
		      struct lc_err *e)
{
	const struct lab_prog *p = prog_of(r, rp->index);
	struct diag_filter f = {.states = 1u << LAB_TCP_LISTEN, .nports = 1};
	f.ports[0] = p->ready_port;
	int64_t deadline = rp->t_start + p->ready_ns;
	for (;;) {
		struct listen_find lf = {false};
		int rc = diag_dump(r->hosts[p->host].diag, &f, listen_cb, &lf, e);
		if (rc < 0)
			return rc;
		if (lf.found) {
			snprintf(detail, len, "listening on port %u after %.1f ms", p->ready_port,
				 (double)(mono_ns() - rp->t_start) / 1e6);
			return 0;
		}
		if (rp->sp->exited || rp->sp->gone) {
			char what[96], tail[2048];
			status_text(rp->sp->status, what, sizeof(what));
			log_tail(rp->log, TAIL_LINES, tail, sizeof(tail));
			return err_set(e, -ECHILD, "program %s ended (%s) before it listened on port "
				       "%u%s%s", p->name, what, p->ready_port, *tail ? "; its output:\n"
				       : "", tail);
		}
		if (mono_ns() > deadline || r->interrupted) {
			char tail[2048];
			log_tail(rp->log, TAIL_LINES, tail, sizeof(tail));
			return err_set(e, -ETIMEDOUT, "program %s did not listen on port %u within "
				       "%.3g s%s%s", p->name, p->ready_port, (double)p->ready_ns / 1e9,
				       *tail ? "; its output:\n" : "", tail);
		}
		prog_wait(r, rp, 1000000);
	}
}

/* A foreground run: to completion or its deadline; the verdict is its exit status. */
static int prog_run(struct run *r, const struct lab_step *st, struct run_prog *rp,
		    struct lc_err *e)
{
	(void)e;
	const struct lab_prog *p = prog_of(r, rp->index);
	int64_t deadline = rp->t_start + p->timeout_ns;
	while (!rp->sp->exited && !rp->sp->gone && !r->interrupted) {
		int64_t left = deadline - mono_ns();
		if (left <= 0)
			break;
		prog_wait(r, rp, left);
	}
	char detail[3072], what[96], tail[2048];
	r->nexpect++;
	if (!rp->sp->exited && !rp->sp->gone) {
		char how[128];
		prog_stop(r, rp, 2000000000LL, how, sizeof(how));
		log_tail(rp->log, TAIL_LINES, tail, sizeof(tail));
		snprintf(detail, sizeof(detail), "did not finish within %.3g s; stopped: %s%s%s",
			 (double)p->timeout_ns / 1e9, how, *tail ? "\n" : "", tail);
		r->nfailed++;
		run_log_step(r, st, "FAIL", detail);
		return 0;
	}
	/* Whatever the command left behind ends with it, as a shell's job would. */
	rp->stopping = true;
	spawn_kill(rp->sp);
	ev_io_stop(r->loop, &rp->w);  /* a no-op when it is not running */
	int s = rp->sp->status;
	status_text(s, what, sizeof(what));
	bool ok = WIFEXITED(s) && (p->exit_code < 0 || WEXITSTATUS(s) == p->exit_code);
	log_tail(rp->log, ok ? 20 : TAIL_LINES, tail, sizeof(tail));
	int n = snprintf(detail, sizeof(detail), "%s after %.1f ms", what,
			 (double)(rp->t_exit - rp->t_start) / 1e6);
	if (!ok && p->exit_code >= 0)
		n += snprintf(detail + n, sizeof(detail) - (size_t)n, " (expected exit %d)",
			      p->exit_code);
	if (*tail)
		snprintf(detail + n, sizeof(detail) - (size_t)n, "\n%s", tail);
	if (!ok)
		r->nfailed++;
	run_log_step(r, st, ok ? "ok" : "FAIL", detail);
	return 0;
}

int run_prog_step(struct run *r, const struct lab_step *st, struct lc_err *e)
{
	int i = st->u.prog.prog, rc;
	if ((rc = run_progs_prepare(r, e)) < 0 || (rc = progs_grow(r, e)) < 0)
		return rc;
	if (i < 0 || i >= r->nprogs)
		return err_set(e, -EINVAL, "no such program");
	const struct lab_prog *p = prog_of(r, i);
	struct run_prog *rp = r->progs[i];
	char detail[3072] = "";
	switch (st->op) {
	case LAB_OP_START:
	case LAB_OP_RUN:
		if ((rc = prog_launch(r, i, e)) < 0)
			return err_prefix(e, "%s:%d:%d: ", r->lab->file, st->pos.line, st->pos.col);
		if (st->op == LAB_OP_RUN)
			return prog_run(r, st, rp, e);
		if (p->ready_port && (rc = prog_ready(r, rp, detail, sizeof(detail), e)) < 0)
			return err_prefix(e, "%s:%d:%d: ", r->lab->file, st->pos.line, st->pos.col);
		if (!p->ready_port)
			snprintf(detail, sizeof(detail), "pid %d as %s (exec in %.2f ms)",
				 (int)rp->sp->pid, p->as_root ? "root" : r->user.name,
				 (double)(mono_ns() - rp->t_start) / 1e6);
		run_log_step(r, st, "ok", detail);
		return 0;
	case LAB_OP_STOP:
		if (!rp->sp || rp->sp->gone) {
			char what[96] = "never started";
			if (rp->sp)
				status_text(rp->sp->status, what, sizeof(what));
			snprintf(detail, sizeof(detail), "%s had already ended (%s)", p->name, what);
			run_log_step(r, st, "ok", detail);
			return 0;
		}
		prog_stop(r, rp, st->u.prog.grace_ns, detail, sizeof(detail));
		run_log_step(r, st, "ok", detail);
		return 0;
	case LAB_OP_SIGNAL: {
		if (!rp->sp || rp->sp->gone)
			return err_set(e, -ESRCH, "%s:%d:%d: program %s is not running", r->lab->file,
				       st->pos.line, st->pos.col, p->name);
		pid_t pids[64];
		int np = spawn_pids(rp->sp, pids, 64);
		if ((rc = spawn_signal(rp->sp, st->u.prog.sig, e)) < 0)
			return err_prefix(e, "%s:%d:%d: program %s: ", r->lab->file, st->pos.line,
					  st->pos.col, p->name);
		snprintf(detail, sizeof(detail), "SIG%s to %d process%s", lab_signal_name(st->u.prog.sig),
			 np, np == 1 ? "" : "es");
		run_log_step(r, st, "ok", detail);
		return 0;
	}
	default:
		return err_set(e, -EINVAL, "not a program step");
	}
}

int run_prog_expect(struct run *r, const struct lab_step *st, bool *held, char *seen,
		    size_t len)
{
	int i = st->u.expect.prog;
	const struct lab_prog *p = prog_of(r, i);
	struct run_prog *rp = i < r->nprogs ? r->progs[i] : NULL;
	if (rp && rp->sp)
		spawn_poll(rp->sp);
	if (!rp || !rp->sp) {
		*held = false;
		snprintf(seen, len, "%s was never started", p->name);
		return 0;
	}
	struct spawn *sp = rp->sp;
	if (st->u.expect.running) {
		*held = !sp->gone;
		if (!sp->gone) {
			pid_t pids[64];
			int np = spawn_pids(sp, pids, 64);
			snprintf(seen, len, "%s is running (%d process%s%s)", p->name, np,
				 np == 1 ? "" : "es", sp->exited ? "; its first one has exited" : "");
		} else {
			char what[96];
			status_text(sp->status, what, sizeof(what));
			snprintf(seen, len, "%s has ended (%s)", p->name, what);
		}
		return 0;
	}
	if (!sp->exited) {
		*held = false;
		snprintf(seen, len, "%s is still running", p->name);
		return 0;
	}
	int s = sp->status;
	char what[96];
	status_text(s, what, sizeof(what));
	if (st->u.expect.has_code)
		*held = WIFEXITED(s) && WEXITSTATUS(s) == st->u.expect.code;
	else if (st->u.expect.has_signal)
		*held = WIFSIGNALED(s) && WTERMSIG(s) == st->u.expect.sig;
	else
		*held = true;
	snprintf(seen, len, "%s ended: %s", p->name, what);
	return 0;
}

int run_prog_owner(struct run *r, int i, struct expect_owner *o, uint32_t **inodes,
		   struct lc_err *e)
{
	const struct lab_prog *p = prog_of(r, i);
	struct run_prog *rp = i < r->nprogs ? r->progs[i] : NULL;
	*inodes = NULL;
	o->name = p->name;
	o->inodes = NULL;
	o->n = 0;
	if (!rp || !rp->sp)
		return 0;
	int n = spawn_sockets(rp->sp, inodes);
	if (n < 0)
		return err_set(e, n, "reading program %s's sockets: %s", p->name, strerror(-n));
	o->inodes = *inodes;
	o->n = (size_t)n;
	return 0;
}

/* The programs of host h, for a failed expectation: their last lines. */
void run_prog_tails(struct run *r, int h, int only, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < r->nprogs && off < len; i++) {
		const struct lab_prog *p = prog_of(r, i);
		if ((only >= 0 && i != only) || (only < 0 && p->host != h) || !r->progs[i]->sp)
			continue;
		char tail[2048];
		log_tail(r->progs[i]->log, 5, tail, sizeof(tail));
		off = str_appendf(buf, len, off, "%sprogram %s's last lines (%s):%s%s", off ? "\n" : "",
			   p->name, r->progs[i]->log, *tail ? "\n" : " (none)", tail);
	}
}

void run_progs_free(struct run *r)
{
	int64_t deadline = mono_ns() + TEARDOWN_GRACE_NS;
	struct lc_err e = {0};
	for (int i = 0; i < r->nprogs; i++) {
		struct run_prog *rp = r->progs[i];
		ev_io_stop(r->loop, &rp->w);  /* a no-op when it is not running */
		if (rp->sp && !rp->sp->gone) {
			rp->stopping = true;
			spawn_signal(rp->sp, SIGTERM, &e);
			spawn_signal(rp->sp, SIGCONT, &e);
		}
	}
	/* A short grace for every program at once, then the kernel ends what is left. */
	for (int i = 0; i < r->nprogs; i++) {
		struct run_prog *rp = r->progs[i];
		while (rp->sp && !rp->sp->gone && mono_ns() < deadline) {
			spawn_poll(rp->sp);
			if (!rp->sp->gone)
				usleep(1000);
		}
		spawn_free(rp->sp);
		free(rp);
	}
	free(r->progs);
	r->progs = NULL;
	r->nprogs = 0;
	if (r->progdir[0]) {
		/* Logs stay when they were asked for (--capture) or when something failed. */
		for (int h = 0; r->lab && h < r->lab->nhosts; h++) {
			char path[PATH_MAX + 64];
			snprintf(path, sizeof(path), "%s/%s.hosts", r->progdir, r->lab->hosts[h].name);
			unlink(path);
		}
		if (!r->o.capture_dir && !r->o.out_dir && r->nfailed == 0 && !r->keep_logs) {
			for (int i = 0; r->lab && i < r->lab->nprogs; i++) {
				char path[PATH_MAX + 64];
				snprintf(path, sizeof(path), "%s/%s-%s.log", r->progdir, r->id,
					 r->lab->progs[i].name);
				unlink(path);
			}
		}
		rmdir(r->progdir);  /* fails, and keeps them, when logs are left */
	}
}

#define REPORT_LOG_MAX 16384

int run_prog_logs(struct run *r, struct report_log **out)
{
	*out = NULL;
	if (r->nprogs == 0)
		return 0;
	struct report_log *v = calloc((size_t)r->nprogs, sizeof(*v));
	if (!v)
		return -ENOMEM;
	int n = 0;
	for (int i = 0; i < r->nprogs; i++) {
		const struct run_prog *rp = r->progs[i];
		if (!rp->nstarts)
			continue;
		int fd = open(rp->log, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* the end of a long log is what explains how it ended */
		off_t end = lseek(fd, 0, SEEK_END);
		off_t from = end > REPORT_LOG_MAX ? end - REPORT_LOG_MAX : 0;
		char *text = malloc(REPORT_LOG_MAX + 1);
		ssize_t k = text ? pread(fd, text, REPORT_LOG_MAX, from) : -1;
		close(fd);
		if (k < 0) {
			free(text);
			continue;
		}
		text[k] = '\0';
		v[n].name = prog_of(r, i)->name;
		v[n].text = text;
		v[n].len = (size_t)k;
		n++;
	}
	*out = v;
	return n;
}

void run_prog_logs_free(struct report_log *logs, int n)
{
	for (int i = 0; logs && i < n; i++)
		free((char *)logs[i].text);
	free(logs);
}
