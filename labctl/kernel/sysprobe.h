/* sysprobe: what this machine's kernel offers labctl, one question per function, asked the
 * cheapest way that gives a true answer (`labctl doctor` asks them all).
 *
 * Each returns 1 (yes), 0 (no: e says why and what to do about it) or a negative errno (could
 * not tell: e says why).  Never prints. */
#ifndef LABCTL_SYSPROBE_H
#define LABCTL_SYSPROBE_H

#include <stddef.h>

#include "base/err.h"

/* Unprivileged user namespaces are allowed (so `unshare -rn labctl ...` gives a non-root user
 * the capabilities labctl needs inside one): user.max_user_namespaces > 0 and neither Debian's
 * kernel.unprivileged_userns_clone nor Ubuntu's AppArmor restriction forbids them. */
int sysprobe_userns(struct lc_err *e);

/* /dev/net/tun opens read-write for this process (the userlink engine's TAP devices). */
int sysprobe_tun(struct lc_err *e);

/* sch_netem without making a qdisc (which needs root): loaded or built in (/sys/module,
 * modules.builtin), or a module on disk for this kernel (modprobe would load it).  how says
 * which.  As root, engine_probe_netem() is the definitive answer. */
int sysprobe_netem_module(char *how, size_t len, struct lc_err *e);

/* The kernel's BTF (/sys/kernel/btf/vmlinux) and the bpf() system call: what a CO-RE eBPF
 * program needs to load. */
int sysprobe_btf(struct lc_err *e);

/* net.core.somaxconn as a new network namespace gets it (labs' hosts are new namespaces,
 * which do not inherit the host's value): read inside a throwaway namespace.  Needs
 * CAP_SYS_ADMIN; without it -EPERM. */
int sysprobe_somaxconn(long *value, struct lc_err *e);

/* This process's RLIMIT_NOFILE (the agent raises its soft limit to the hard one). */
int sysprobe_nofile(unsigned long long *soft, unsigned long long *hard, struct lc_err *e);

#endif
