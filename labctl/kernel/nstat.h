/* nstat: a network namespace's protocol counters under their nstat names.
 *
 * /proc/net/netstat and /proc/net/snmp hold pairs of lines, a header row and a value row
 * ("TcpExt: ListenOverflows ..." / "TcpExt: 3 ..."); nstat names a counter by the row prefix
 * and the column: TcpExtListenOverflows, TcpActiveOpens.  /proc/net/snmp6 holds "NAME VALUE"
 * lines (Ip6InReceives 12).  The files are opened inside the namespace (which binds them to
 * it) and read after returning.
 */
#ifndef LABCTL_NSTAT_H
#define LABCTL_NSTAT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct nstat_entry {
	char name[64];
	int64_t value;
};

struct nstat {
	struct nstat_entry *v;
	size_t n, cap;
};

struct nstat *nstat_new(void);
void nstat_free(struct nstat *t);

/* Add the counters of one file's text (either format).  Malformed text is -EBADMSG. */
int nstat_parse(struct nstat *t, const char *text, struct lc_err *e);

/* Read netstat, snmp and snmp6 of namespace netns_fd (-1: the current one) into t. */
int nstat_read(struct nstat *t, int netns_fd, struct lc_err *e);

/* Look a counter up: 0, or -ENOENT with "unknown counter X; did you mean Y?" in e. */
int nstat_find(const struct nstat *t, const char *name, int64_t *val, struct lc_err *e);

/* One counter of a namespace, read now. */
int nstat_get(int netns_fd, const char *name, int64_t *val, struct lc_err *e);

#endif
