/* registry: labs that outlive a command (labctl up, run --expose), recorded under
 * /run/labctl so that ls, down, exec and ss can find them.
 *
 * An entry names the supervisor (pid plus its start time, so a recycled pid is not mistaken
 * for it) and each host's namespace with its inode: down removes a bind only when it still
 * shows that inode, so labctl never deletes what it cannot prove is its own.
 */
#ifndef LABCTL_REGISTRY_H
#define LABCTL_REGISTRY_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/err.h"
#include "run/topo.h"

#define REG_DIR "/run/labctl"

/* Where the entries live: REG_DIR for root; for a rootless lab (kernel/userns.h) the
 * caller's own $XDG_RUNTIME_DIR/labctl, or /tmp/labctl-UID when there is none, mode 0700
 * and checked to be the caller's (another user cannot see or touch its labs).  reg_dir_make
 * creates it. */
void reg_dir(char *buf, size_t len);
int reg_dir_make(struct lc_err *e);
/* DIR/ID.SUFFIX, e.g. reg_file(id, "sock", ...) for the supervisor's control socket. */
void reg_file(const char *id, const char *suffix, char *buf, size_t len);

struct reg_host {
	char name[LAB_NAME_MAX];
	char ns[TOPO_ID_MAX + LAB_NAME_MAX + 2];
	unsigned long ino;
};

struct reg_entry {
	char id[TOPO_ID_MAX];
	char lab[512];              /* lab file, absolute */
	char kind[16];              /* "up" or "run" */
	pid_t pid;                  /* supervisor (or labctl run) */
	unsigned long long start;   /* its start time (clock ticks since boot) */
	long long created;          /* unix time */
	struct reg_host *hosts;
	int nhosts;
};

int reg_write(const struct topo *t, const char *labfile, const char *kind, pid_t pid,
	      struct lc_err *e);
int reg_read(const char *id, struct reg_entry *out, struct lc_err *e);
void reg_entry_clear(struct reg_entry *r);
int reg_remove(const char *id);
/* Ids of all entries, sorted; free with free() each and the array. */
int reg_ids(char ***ids, int *n, struct lc_err *e);
/* True when the entry's supervisor is still the process that wrote it. */
bool reg_alive(const struct reg_entry *r);
/* Process start time from /proc/PID/stat, 0 if gone (or a zombie). */
unsigned long long reg_proc_start(pid_t pid);
/* Path of a host's namespace of a registered lab: /run/netns/ID-HOST; fails with the list of
 * hosts (and a suggestion) when HOST is not one of the lab's. */
int reg_host_path(const char *id, const char *host, char *path, size_t len, struct lc_err *e);

/* A rootless lab's host namespace: there are no binds (they would need root), so it is
 * found among the supervisor's open descriptors by the recorded inode.  ns is the recorded
 * name (ID-HOST).  The calling process joins the supervisor's user namespace first (its
 * owner may), and a network namespace of its own there, so that it can enter the lab's
 * namespaces and come back; call it single-threaded, before anything else namespaced. */
int reg_open_rootless(const char *ns, int *fd, struct lc_err *e);

/* Print one line to f for each registered lab whose supervisor is gone. */
void reg_warn_dead(FILE *f);

#endif
