/* spawn: a user's program inside a lab host, in a PID namespace of its own.
 *
 * spawn_start() clones a small reaper with CLONE_NEWPID|CLONE_NEWNS: the reaper is pid 1 of
 * the program's PID namespace, enters the host's network namespace, makes its mount
 * namespace private, bind-mounts the lab's hosts file over /etc/hosts and a fresh /proc and
 * /sys (as `ip netns exec` does), then forks the program, which drops to the given user and
 * execs argv (execvpe: no shell).  Whatever the program forks or daemonises stays in that PID
 * namespace and is reparented to the reaper, so:
 *   - the program's processes are exactly the processes of that namespace (socket attribution
 *     walks them, spawn_sockets());
 *   - when the reaper dies, for any reason, the kernel kills every process of the namespace;
 *   - the reaper dies with labctl: PR_SET_PDEATHSIG(SIGKILL), and it also exits when its
 *     control socket to labctl reads end of file (labctl gone before the prctl took hold).
 *
 * The reaper speaks over a SOCK_SEQPACKET pair: labctl sends a signal number (the reaper
 * sends it to every process of the namespace with kill(-1, sig), so STOP freezes a forking
 * server whole), the reaper sends {SPAWN_MSG_EXITED, wait status} when the program's first
 * process exits; when no process is left the reaper exits and the socket reads end of file.
 * Owner: the caller owns struct spawn; spawn_free() kills what is left and reaps.
 */
#ifndef LABCTL_SPAWN_H
#define LABCTL_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

struct spawn_opts {
	int netns_fd;               /* the host's network namespace */
	const char *what;           /* for messages: "program web on host server" */
	char *const *argv;          /* argv[0] is looked up in envp's PATH */
	char *const *envp;
	const char *cwd;            /* working directory, or NULL */
	uid_t uid;                  /* the identity the program runs as */
	gid_t gid;
	const gid_t *groups;        /* supplementary groups (ngroups 0: none) */
	int ngroups;                /* -1: keep the current ones (a rootless lab) */
	const char *hosts_file;     /* bind-mounted over /etc/hosts, or NULL */
	int out_fd;                 /* stdout and stderr (the log); -1: /dev/null */
};

enum { SPAWN_MSG_EXITED = 1 };

struct spawn_msg {
	int32_t type;               /* SPAWN_MSG_EXITED */
	int32_t status;             /* the program's wait status */
};

struct spawn {
	pid_t reaper;               /* pid 1 of the program's namespace, as labctl sees it */
	pid_t pid;                  /* the program's first process, as labctl sees it */
	int ctl;                    /* labctl's end of the control socket (nonblocking) */
	unsigned long pidns;        /* the PID namespace's inode */
	bool exited;                /* the first process exited: status holds its wait status */
	int status;
	bool gone;                  /* the reaper exited: nothing of the program is left */
};

/* Start; returns 0 once the program has exec'd.  An exec failure (not found, not
 * executable) or a failed setup step is an error naming it. */
int spawn_start(const struct spawn_opts *o, struct spawn **out, struct lc_err *e);

/* Send sig to every process of the program (through the reaper). */
int spawn_signal(struct spawn *s, int sig, struct lc_err *e);

/* Read what the reaper said (nonblocking): updates exited/status and gone.  Returns 1 when
 * something changed, 0 when nothing did. */
int spawn_poll(struct spawn *s);

/* Kill everything left (SIGKILL to the reaper: the kernel kills the namespace) and reap. */
void spawn_kill(struct spawn *s);
void spawn_free(struct spawn *s);

/* The pids of the program's processes (as labctl sees them), walking the reaper's
 * descendants; returns how many were written (at most max), or a negative errno. */
int spawn_pids(const struct spawn *s, pid_t *pids, int max);

/* The socket inodes the program's processes hold (from /proc/PID/fd), sorted and
 * deduplicated into a malloc'd array (*out, caller frees); returns the count or -errno. */
int spawn_sockets(const struct spawn *s, uint32_t **out);

#endif
