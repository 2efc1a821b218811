#include "kernel/spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* What the reaper or the program failed at, written to the exec pipe as {stage, errno}. */
enum { ST_NONE, ST_SETNS, ST_PRCTL, ST_MOUNT, ST_HOSTS, ST_FORK, ST_CHDIR, ST_GROUPS, ST_GID,
       ST_UID, ST_EXEC };
static const char *const stage_name[] = {
	"", "entering the host's network namespace", "prctl(PR_SET_PDEATHSIG)",
	"making its mount namespace private", "bind-mounting the lab's hosts file on /etc/hosts",
	"fork", "changing to its working directory", "setgroups", "setgid", "setuid", "exec",
};

static void report(int fd, int stage)
{
	int rep[2] = {stage, errno};
	(void)!write(fd, rep, sizeof(rep));
}

/* Close every descriptor but the n in keep (each >= 0). */
static void close_except(const int *keep, int n)
{
	unsigned int lo = 3;
	for (;;) {
		unsigned int next = ~0U;
		for (int i = 0; i < n; i++)
			if (keep[i] >= (int)lo && (unsigned int)keep[i] < next)
				next = (unsigned int)keep[i];
		if (next > lo)
			syscall(SYS_close_range, lo, next == ~0U ? ~0U : next - 1, 0);
		if (next == ~0U)
			return;
		lo = next + 1;
	}
}

/* The program's first process: drop to the user and exec.  Never returns. */
static void program_main(const struct spawn_opts *o, int repfd, int nul)
{
	sigset_t none;
	sigemptyset(&none);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);  /* ignored signals would survive exec (SIGPIPE) */
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();  /* out of labctl's terminal group: ^C is labctl's to handle */
	dup2(nul, 0);
	dup2(o->out_fd >= 0 ? o->out_fd : nul, 1);
	dup2(o->out_fd >= 0 ? o->out_fd : nul, 2);
	if (o->cwd && chdir(o->cwd) < 0) {
		report(repfd, ST_CHDIR);
		_exit(127);
	}
	if (o->ngroups >= 0 && setgroups((size_t)o->ngroups, o->groups) < 0) {
		report(repfd, ST_GROUPS);
		_exit(127);
	}
	if (setresgid(o->gid, o->gid, o->gid) < 0) {
		report(repfd, ST_GID);
		_exit(127);
	}
	if (setresuid(o->uid, o->uid, o->uid) < 0) {
		report(repfd, ST_UID);
		_exit(127);
	}
	/* execvp searches the PATH of environ: make the program's environment the current one. */
	environ = (char **)o->envp;
	execvp(o->argv[0], o->argv);
	report(repfd, ST_EXEC);
	_exit(127);
}

/* The reaper: pid 1 of the program's PID namespace.  Never returns. */
static void reaper_main(const struct spawn_opts *o, int ctl, int repfd)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		report(repfd, ST_PRCTL);
		_exit(127);
	}
	/* labctl may have died before the prctl: its end of ctl is then closed. */
	struct pollfd lp = {.fd = ctl, .events = POLLRDHUP};
	if (poll(&lp, 1, 0) > 0 && (lp.revents & (POLLHUP | POLLRDHUP)))
		_exit(0);
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	int keep[] = {ctl, repfd, o->out_fd, o->netns_fd, nul};
	close_except(keep, 5);
	if (setns(o->netns_fd, CLONE_NEWNET) < 0) {
		report(repfd, ST_SETNS);
		_exit(127);
	}
	close(o->netns_fd);
	/* As ip-netns exec does: our mounts must not propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0) {
		report(repfd, ST_MOUNT);
		_exit(127);
	}
	if (o->hosts_file && mount(o->hosts_file, "/etc/hosts", NULL, MS_BIND, NULL) < 0) {
		report(repfd, ST_HOSTS);
		_exit(127);
	}
	/* /sys/class/net of the host's namespace and a /proc of this PID namespace (ps shows the
	 * program's processes only).  Best effort: a program that needs neither still runs. */
	if (umount2("/sys", MNT_DETACH) == 0)
		(void)!mount("sysfs", "/sys", "sysfs", 0, NULL);
	else if (errno == EINVAL || errno == EPERM)
		/* A rootless lab: /sys came from a more privileged mount namespace and is locked
		 * in place; a sysfs of the host's namespace goes on top of it instead. */
		(void)!mount("sysfs", "/sys", "sysfs", 0, NULL);
	(void)!mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	pid_t pid = fork();
	if (pid < 0) {
		report(repfd, ST_FORK);
		_exit(127);
	}
	if (pid == 0) {
		close(ctl);
		if (sfd >= 0)
			close(sfd);
		program_main(o, repfd, nul);
	}
	/* Tell labctl the program's pid; the kernel translates it into labctl's namespace. */
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} cm;
	int32_t started = 0;
	struct iovec iov = {&started, sizeof(started)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			    .msg_controllen = sizeof(cm.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
	struct ucred uc = {.pid = pid, .uid = getuid(), .gid = getgid()};
	memcpy(CMSG_DATA(c), &uc, sizeof(uc));
	(void)!sendmsg(ctl, &mh, MSG_NOSIGNAL);
	close(repfd);  /* the program's copy closes when it execs: labctl reads end of file */
	if (o->out_fd >= 0)
		close(o->out_fd);
	close(nul);

	for (;;) {
		struct pollfd pf[2] = {{.fd = ctl, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			_exit(1);
		if (pf[0].revents) {
			int32_t sig;
			ssize_t n = recv(ctl, &sig, sizeof(sig), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				_exit(0);  /* labctl is gone: the kernel kills the namespace with us */
			if (n == (ssize_t)sizeof(sig) && sig > 0 && sig < NSIG)
				kill(-1, sig);  /* every process of the namespace but this one */
		}
		if (pf[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) > 0)
				;
		}
		for (;;) {
			int st;
			pid_t w = waitpid(-1, &st, WNOHANG);
			if (w < 0 && errno == ECHILD)
				_exit(0);  /* nothing of the program is left */
			if (w <= 0)
				break;
			if (w == pid) {
				struct spawn_msg m = {SPAWN_MSG_EXITED, st};
				(void)!send(ctl, &m, sizeof(m), MSG_NOSIGNAL);
			}
		}
	}
}

/* argv[0] as execvp will find it, looked up here so that "not found" is told apart from
 * "found, not executable" (execvp reports EACCES when any directory on the path is not
 * searchable, e.g. root's own under /root). */
static int find_command(const struct spawn_opts *o, struct lc_err *e)
{
	const char *cmd = o->argv[0], *path = NULL;
	if (strchr(cmd, '/'))
		return access(cmd, F_OK) == 0 ? 0 : err_set(e, -ENOENT, "%s: %s: no such file",
							      o->what, cmd);
	for (char *const *v = o->envp; v && *v; v++)
		if (!strncmp(*v, "PATH=", 5))
			path = *v + 5;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *d = path; *d;) {
		size_t n = strcspn(d, ":");
		char full[4096];
		struct stat sb;
		snprintf(full, sizeof(full), "%.*s/%s", (int)n, n ? d : ".", cmd);
		if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode))
			return 0;
		d += n + (d[n] == ':');
	}
	return err_set(e, -ENOENT, "%s: command not found: %s (PATH=%s)", o->what, cmd, path);
}

int spawn_start(const struct spawn_opts *o, struct spawn **out, struct lc_err *e)
{
	int sv[2], rp[2], rc;
	*out = NULL;
	if ((rc = find_command(o, e)) < 0)
		return rc;
	struct spawn *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "%s: out of memory", o->what);
	s->ctl = s->reaper = s->pid = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = err_set(e, -errno, "%s: socketpair: %s", o->what, strerror(errno));
		goto free_s;
	}
	int one = 1;
	setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	if (pipe2(rp, O_CLOEXEC) < 0) {
		rc = err_set(e, -errno, "%s: pipe: %s", o->what, strerror(errno));
		goto close_sv;
	}
	/* A fork into new PID and mount namespaces: the child is pid 1 of its own. */
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, NULL, NULL,
				   NULL, NULL);
	if (pid < 0) {
		rc = err_set(e, -errno, "%s: clone(CLONE_NEWPID|CLONE_NEWNS): %s", o->what,
			     strerror(errno));
		goto close_rp;
	}
	if (pid == 0) {
		close(sv[0]);
		close(rp[0]);
		reaper_main(o, sv[1], rp[1]);
	}
	s->reaper = pid;
	close(sv[1]);
	close(rp[1]);
	s->ctl = sv[0];
	int rep[2];
	ssize_t n;
	do
		n = read(rp[0], rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	close(rp[0]);
	if (n == (ssize_t)sizeof(rep)) {
		int st = rep[0] > 0 && rep[0] <= ST_EXEC ? rep[0] : ST_NONE;
		if (st == ST_EXEC && rep[1] == ENOENT)
			rc = err_set(e, -ENOENT, "%s: command not found: %s", o->what, o->argv[0]);
		else if (st == ST_EXEC && rep[1] == EACCES)
			rc = err_set(e, -EACCES, "%s: %s is not executable (or a directory on its path "
				     "is not searchable) for uid %u", o->what, o->argv[0],
				     (unsigned)o->uid);
		else if (st == ST_CHDIR)
			rc = err_set(e, -rep[1], "%s: cannot change to %s as uid %u: %s", o->what,
				     o->cwd, (unsigned)o->uid, strerror(rep[1]));
		else
			rc = err_set(e, -rep[1], "%s: %s %s: %s", o->what, stage_name[st],
				     st == ST_EXEC ? o->argv[0] : "", strerror(rep[1]));
		spawn_free(s);
		return rc;
	}
	/* The reaper's first message carries the program's pid. */
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} cm;
	int32_t started;
	struct iovec iov = {&started, sizeof(started)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			    .msg_controllen = sizeof(cm.buf)};
	do
		n = recvmsg(s->ctl, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred uc;
			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			s->pid = uc.pid;
		}
	if (s->pid <= 0) {
		rc = err_set(e, -EPROTO, "%s: the reaper did not report the program's pid", o->what);
		spawn_free(s);
		return rc;
	}
	char path[64];
	struct stat sb;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)s->reaper);
	if (stat(path, &sb) == 0)
		s->pidns = (unsigned long)sb.st_ino;
	fcntl(s->ctl, F_SETFL, fcntl(s->ctl, F_GETFL) | O_NONBLOCK);
	*out = s;
	return 0;

close_rp:
	close(rp[0]);
	close(rp[1]);
close_sv:
	close(sv[0]);
	close(sv[1]);
free_s:
	free(s);
	return rc;
}

int spawn_signal(struct spawn *s, int sig, struct lc_err *e)
{
	int32_t v = sig;
	if (s->gone)
		return err_set(e, -ESRCH, "the program has exited");
	if (send(s->ctl, &v, sizeof(v), MSG_NOSIGNAL) != (ssize_t)sizeof(v))
		return err_set(e, -errno, "signalling the program: %s", strerror(errno));
	return 0;
}

int spawn_poll(struct spawn *s)
{
	int changed = 0;
	while (!s->gone) {
		struct spawn_msg m;
		ssize_t n = recv(s->ctl, &m, sizeof(m), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		/* The reaper exited before reading all we sent (a SIGCONT after a SIGTERM): the
		 * kernel reports ECONNRESET once, ahead of the messages still queued for us. */
		if (n < 0 && errno == ECONNRESET)
			continue;
		if (n <= 0) {
			/* End of file: the reaper exited, and with it everything of the program. */
			s->gone = true;
			changed = 1;
			if (s->reaper > 0 && waitpid(s->reaper, NULL, 0) == s->reaper)
				s->reaper = -1;
			break;
		}
		if (n == (ssize_t)sizeof(m) && m.type == SPAWN_MSG_EXITED && !s->exited) {
			s->exited = true;
			s->status = m.status;
			changed = 1;
		}
	}
	return changed;
}

void spawn_kill(struct spawn *s)
{
	if (!s || s->reaper <= 0)
		return;
	kill(s->reaper, SIGKILL);
	while (waitpid(s->reaper, NULL, 0) < 0 && errno == EINTR)
		;
	s->reaper = -1;
	spawn_poll(s);
	if (!s->exited) {  /* the kernel killed it with its namespace's init */
		s->exited = true;
		s->status = SIGKILL;  /* the wait status of a process killed by SIGKILL */
	}
	s->gone = true;
}

void spawn_free(struct spawn *s)
{
	if (!s)
		return;
	spawn_kill(s);
	if (s->ctl >= 0)
		close(s->ctl);
	free(s);
}

int spawn_pids(const struct spawn *s, pid_t *pids, int max)
{
	if (s->gone || !s->pidns)
		return 0;
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < max) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == s->reaper)
			continue;
		char path[64];
		struct stat sb;
		snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid);
		if (stat(path, &sb) == 0 && (unsigned long)sb.st_ino == s->pidns)
			pids[n++] = (pid_t)pid;
	}
	closedir(d);
	return n;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int spawn_sockets(const struct spawn *s, uint32_t **out)
{
	pid_t pids[4096];
	*out = NULL;
	int np = spawn_pids(s, pids, 4096);
	if (np < 0)
		return np;
	size_t n = 0, cap = 0;
	uint32_t *v = NULL;
	for (int i = 0; i < np; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pids[i]);
		DIR *d = opendir(path);
		if (!d)
			continue;  /* exited meanwhile */
		struct dirent *de;
		while ((de = readdir(d))) {
			char link[64];
			if (de->d_name[0] == '.')
				continue;
			ssize_t k = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
			if (k < 9)
				continue;
			link[k] = '\0';
			unsigned long ino;
			if (sscanf(link, "socket:[%lu]", &ino) != 1)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				uint32_t *nv = realloc(v, nc * sizeof(*nv));
				if (!nv) {
					closedir(d);
					free(v);
					return -ENOMEM;
				}
				v = nv;
				cap = nc;
			}
			v[n++] = (uint32_t)ino;
		}
		closedir(d);
	}
	if (n > 1) {
		qsort(v, n, sizeof(*v), cmp_u32);
		size_t m = 1;
		for (size_t i = 1; i < n; i++)
			if (v[i] != v[m - 1])
				v[m++] = v[i];
		n = m;
	}
	*out = v;
	return (int)n;
}
