/* nstat: see nstat.h. */
#include "kernel/nstat.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/lab.h"
#include "kernel/netns.h"

struct nstat *nstat_new(void)
{
	return calloc(1, sizeof(struct nstat));
}

void nstat_free(struct nstat *t)
{
	if (!t)
		return;
	free(t->v);
	free(t);
}

static int add(struct nstat *t, const char *prefix, size_t plen, const char *name, size_t nlen,
	       int64_t v)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct nstat_entry *nv = realloc(t->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->cap = cap;
	}
	struct nstat_entry *en = &t->v[t->n];
	if (plen + nlen >= sizeof(en->name))
		return 0;  /* no real counter is that long: skip rather than truncate */
	memcpy(en->name, prefix, plen);
	memcpy(en->name + plen, name, nlen);
	en->name[plen + nlen] = '\0';
	en->value = v;
	t->n++;
	return 0;
}

/* The next whitespace-separated token in [*p, end): its start and length; 0 at the end. */
static size_t token(const char **p, const char *end, const char **start)
{
	const char *s = *p;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	const char *b = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*start = b;
	*p = s;
	return (size_t)(s - b);
}

static int parse_value(const char *s, size_t n, int64_t *v)
{
	char buf[32];
	if (n == 0 || n >= sizeof(buf))
		return -EBADMSG;
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *end;
	errno = 0;
	if (buf[0] == '-') {
		long long x = strtoll(buf, &end, 10);
		if (*end || errno)
			return -EBADMSG;
		*v = x;
	} else {
		/* Counters are unsigned 64-bit in the kernel; they wrap into int64 like nstat's. */
		unsigned long long x = strtoull(buf, &end, 10);
		if (*end || errno || !isdigit((unsigned char)buf[0]))
			return -EBADMSG;
		*v = (int64_t)x;
	}
	return 0;
}

int nstat_parse(struct nstat *t, const char *text, struct lc_err *e)
{
	const char *p = text;
	int lineno = 0;
	while (*p) {
		const char *eol = strchr(p, '\n');
		if (!eol)
			eol = p + strlen(p);
		lineno++;
		const char *line = p;
		p = *eol ? eol + 1 : eol;
		const char *q = line, *tok;
		size_t n = token(&q, eol, &tok);
		if (n == 0)
			continue;
		if (tok[n - 1] != ':') {
			/* snmp6 style: NAME VALUE */
			const char *vt;
			size_t vn = token(&q, eol, &vt);
			int64_t v;
			if (parse_value(vt, vn, &v) < 0)
				return err_set(e, -EBADMSG, "counters line %d: bad value for %.*s",
					       lineno, (int)n, tok);
			if (add(t, "", 0, tok, n, v) < 0)
				return err_set(e, -ENOMEM, "counters: out of memory");
			continue;
		}
		/* header row; the value row must follow with the same prefix */
		const char *hdr = line, *hdr_end = eol;
		if (!*p)
			return err_set(e, -EBADMSG, "counters line %d: %.*s header without values",
				       lineno, (int)n, tok);
		const char *vline = p;
		const char *veol = strchr(vline, '\n');
		if (!veol)
			veol = vline + strlen(vline);
		p = *veol ? veol + 1 : veol;
		lineno++;
		const char *vq = vline, *vtok;
		size_t vn = token(&vq, veol, &vtok);
		if (vn != n || memcmp(vtok, tok, n))
			return err_set(e, -EBADMSG, "counters line %d: values for %.*s missing",
				       lineno, (int)n, tok);
		const char *hq = hdr;
		token(&hq, hdr_end, &tok);  /* skip the prefix again */
		for (;;) {
			const char *name, *val;
			size_t nn = token(&hq, hdr_end, &name);
			size_t nv = token(&vq, veol, &val);
			if (nn == 0 && nv == 0)
				break;
			if (nn == 0 || nv == 0)
				return err_set(e, -EBADMSG,
					       "counters line %d: %.*s has %s names than values",
					       lineno, (int)n, tok, nn ? "more" : "fewer");
			int64_t v;
			if (parse_value(val, nv, &v) < 0)
				return err_set(e, -EBADMSG, "counters line %d: bad value for %.*s%.*s",
					       lineno, (int)n - 1, tok, (int)nn, name);
			if (add(t, tok, n - 1, name, nn, v) < 0)
				return err_set(e, -ENOMEM, "counters: out of memory");
		}
	}
	return 0;
}

static int read_all(int fd, char **out)
{
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int rc = -errno;
			free(buf);
			return rc;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

int nstat_read(struct nstat *t, int netns_fd, struct lc_err *e)
{
	static const char *const files[] = {"netstat", "snmp", "snmp6"};
	int fds[3] = {-1, -1, -1}, saved = -1, rc = 0;
	if (netns_fd >= 0) {
		rc = netns_enter(netns_fd, &saved, e);
		if (rc < 0)
			return rc;
	}
	/* /proc/thread-self/net is this thread's namespace; the open file keeps it. */
	for (int i = 0; i < 3; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/thread-self/net/%s", files[i]);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0 && (i < 2 || errno != ENOENT)) /* snmp6 is absent without IPv6 */
			rc = err_set(e, -errno, "opening %s: %s", path, strerror(errno));
	}
	if (netns_fd >= 0)
		netns_leave(&saved);
	for (int i = 0; i < 3 && rc == 0; i++) {
		if (fds[i] < 0)
			continue;
		char *text = NULL;
		rc = read_all(fds[i], &text);
		if (rc < 0) {
			err_set(e, rc, "reading /proc/net/%s: %s", files[i], strerror(-rc));
			break;
		}
		rc = nstat_parse(t, text, e);
		free(text);
		if (rc < 0)
			err_prefix(e, "/proc/net/%s: ", files[i]);
	}
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

int nstat_find(const struct nstat *t, const char *name, int64_t *val, struct lc_err *e)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, name)) {
			*val = t->v[i].value;
			return 0;
		}
	const char **names = malloc((t->n ? t->n : 1) * sizeof(*names));
	const char *sug = NULL;
	if (names) {
		for (size_t i = 0; i < t->n; i++)
			names[i] = t->v[i].name;
		sug = lab_suggest(name, names, t->n);
	}
	err_set(e, -ENOENT, "unknown counter \"%s\"%s%s%s", name, sug ? "; did you mean " : "",
		sug ? sug : "", sug ? "?" : " (nstat names, e.g. TcpExtListenOverflows)");
	free(names);
	return -ENOENT;
}

int nstat_get(int netns_fd, const char *name, int64_t *val, struct lc_err *e)
{
	struct nstat *t = nstat_new();
	if (!t)
		return err_set(e, -ENOMEM, "counters: out of memory");
	int rc = nstat_read(t, netns_fd, e);
	if (rc == 0)
		rc = nstat_find(t, name, val, e);
	nstat_free(t);
	return rc;
}
