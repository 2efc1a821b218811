/* netns: network namespaces held by file descriptor.
 *
 * A namespace made here lives exactly as long as some fd (or process, or bind mount) holds
 * it: labctl run keeps only fds, so if labctl dies, even by SIGKILL, the kernel frees every
 * namespace and every device inside it.  The process never stays in a foreign namespace:
 * netns_enter() returns a token that netns_leave() uses to go back.
 */
#ifndef LABCTL_NETNS_H
#define LABCTL_NETNS_H

#include "base/err.h"

/* Make a new network namespace; *fd holds it (O_CLOEXEC). The caller stays where it was. */
int netns_new(int *fd, struct lc_err *e);

/* The same, but created from inside namespace parent (-1: the current one): a namespace
 * inherits some settings from its creator's, e.g. net.ipv4.tcp_child_ehash_entries. */
int netns_new_in(int parent, int *fd, struct lc_err *e);

/* Open a namespace by path (/run/netns/NAME or /proc/PID/ns/net). */
int netns_open(const char *path, int *fd, struct lc_err *e);

/* Enter fd's namespace; *saved receives an fd of the namespace we left. */
int netns_enter(int fd, int *saved, struct lc_err *e);
/* Go back to *saved and close it. Aborts the process if that fails: continuing in the wrong
 * namespace could touch the host's real network. */
void netns_leave(int *saved);

/* The namespace inode (st_ino of the nsfs file), which identifies a namespace for life. */
int netns_inode(int fd, unsigned long *ino, struct lc_err *e);

/* Bind-mount fd's namespace at /run/netns/NAME (making the directory shared as ip-netns
 * does), and remove such a bind.  netns_unbind only removes NAME when its inode is ino. */
int netns_bind(int fd, const char *name, struct lc_err *e);
int netns_unbind(const char *name, unsigned long ino, struct lc_err *e);

/* Write a sysctl (dotted key) inside fd's namespace. */
int netns_sysctl_write(int fd, const char *key, const char *value, struct lc_err *e);

#endif
