/* lab_parse: the lab file parser (grammar: docs/lab-format.md).
 *
 * Two passes over the tokenized lines: the first only notes where each host is declared (so
 * "host used before its host line" can say where the line is), the second parses statements
 * in order.  Every error is collected (up to LAB_MAX_ERRORS) rather than stopping at the
 * first: a student fixing a lab wants the whole list.  A statement with an error is dropped
 * whole, and parsing resumes on the next line.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/lab.h"

#define LAB_MAX_ERRORS 50
#define LAB_FILE_MAX (4 << 20)
#define HOST_NAME_MAX_LEN 15

struct tok {
	const char *s;
	int col;
	bool quoted;
};

struct line {
	int lineno;
	struct tok *toks;
	int ntoks;
	int bad_col;          /* tokenizer error: column, message */
	const char *bad_msg;
	int end_col;          /* column just past the last character */
};

struct group {
	int host;
	char name[LAB_NAME_MAX];
	bool listen;          /* made by listen (else by connect) */
	struct lab_pos pos;
};

struct decl {
	const char *name;
	int line;
};

struct deferred {
	int index;            /* step index (flood from) */
	struct lab_pos pos;
};

struct perr_item {
	int line, col, seq;
	char *text;          /* "FILE:LINE:COL: message" */
};

struct parser {
	struct lab *lab;
	const char *file;
	int line;
	int end_col;
	/* errors, sorted by line when done (whole-file checks come last) */
	struct perr_item *items;
	int nerr, cap_items;
	bool stopped;
	bool oom;
	char *errs;          /* joined, built at the end */
	size_t elen, ecap;
	/* growable arrays of the lab */
	int cap_hosts, cap_links, cap_routes, cap_rules, cap_captures, cap_steps;
	/* parser-side bookkeeping */
	struct lab_pos (*addr_pos)[LAB_HOST_ADDRS];  /* parallel to lab->hosts */
	struct group *groups;
	int ngroups, cap_groups;
	struct decl *decls;
	int ndecls, cap_decls;
	struct deferred *floods;
	int nfloods, cap_floods;
	struct lab_pos pos_lab, pos_about, pos_seed, pos_blackhole;
	int together;
};

static const char *const statements[] = {
	"lab", "about", "seed", "blackhole", "host", "link", "route", "capture", "drop",
	"impair", "wait", "expect",
};
#define NSTATEMENTS (sizeof(statements) / sizeof(statements[0]))

static const char *const verbs[] = {
	"listen", "connect", "send", "shutdown", "close", "abort", "accept", "flood", "unlisten",
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

/* ---- errors ---------------------------------------------------------------------------- */

static void *push(struct parser *p, void **arr, int *n, int *cap, size_t sz);

static void err_add(struct parser *p, int line, int col, const char *text)
{
	int seq = p->nerr;
	struct perr_item *it = push(p, (void **)&p->items, &p->nerr, &p->cap_items,
				    sizeof(*it));
	if (!it)
		return;
	it->line = line;
	it->col = col;
	it->seq = seq;
	it->text = strdup(text);
	if (!it->text)
		p->oom = true;
}

/* Record "FILE:LINE:COL: message"; returns -1 so statement parsers can `return perr(...)`. */
__attribute__((format(printf, 3, 4)))
static int perr(struct parser *p, int col, const char *fmt, ...)
{
	char msg[768], line[1024];
	if (p->stopped)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s:%d:%d: %s", p->file, p->line, col > 0 ? col : 1, msg);
	err_add(p, p->line, col, line);
	if (p->nerr >= LAB_MAX_ERRORS) {
		snprintf(line, sizeof(line), "%s:%d:%d: too many errors (%d); stopping here",
			 p->file, p->line, col > 0 ? col : 1, LAB_MAX_ERRORS);
		err_add(p, 1 << 30, 0, line);
		p->stopped = true;
	}
	return -1;
}

static int item_cmp(const void *x, const void *y)
{
	const struct perr_item *a = x, *b = y;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sort by line (stable) and join with '\n' into p->errs. */
static void errs_join(struct parser *p)
{
	qsort(p->items, (size_t)p->nerr, sizeof(*p->items), item_cmp);
	size_t len = 1;
	for (int i = 0; i < p->nerr; i++)
		len += strlen(p->items[i].text ? p->items[i].text : "") + 1;
	p->errs = malloc(len);
	if (!p->errs) {
		p->oom = true;
		return;
	}
	p->elen = 0;
	p->errs[0] = '\0';
	for (int i = 0; i < p->nerr; i++) {
		const char *t = p->items[i].text ? p->items[i].text : "";
		size_t l = strlen(t);
		if (i)
			p->errs[p->elen++] = '\n';
		memcpy(p->errs + p->elen, t, l + 1);
		p->elen += l;
	}
}

/* "; did you mean X?" or "" */
static const char *mean(char *buf, size_t len, const char *word, const char *const *cands,
			size_t n)
{
	const char *s = lab_suggest(word, cands, n);
	if (s)
		snprintf(buf, len, "; did you mean %s?", s);
	else
		buf[0] = '\0';
	return buf;
}

/* ---- growable arrays -------------------------------------------------------------------- */

/* A new zeroed element at the end of *arr (n elements, cap allocated); NULL when out of
 * memory. */
static void *push(struct parser *p, void **arr, int *n, int *cap, size_t sz)
{
	if (*n == *cap) {
		int nc = *cap ? *cap * 2 : 8;
		void *na = realloc(*arr, (size_t)nc * sz);
		if (!na) {
			p->oom = true;
			return NULL;
		}
		*arr = na;
		*cap = nc;
	}
	void *el = (char *)*arr + (size_t)*n * sz;
	memset(el, 0, sz);
	(*n)++;
	return el;
}

/* ---- tokenizer -------------------------------------------------------------------------- */

/* Split one line (src, len bytes, no newline) into tokens written into the arena at *ap.
 * '#' outside quotes ends the line; '&' outside quotes is a token of its own; "..." quotes
 * (with \" and \\) may hold spaces and '#'. */
static int tokenize(struct parser *p, const char *src, size_t len, struct line *ln, char **ap)
{
	char *arena = *ap;
	int cap = 0;
	size_t i = 0;
	ln->end_col = 1;
	for (size_t k = len; k > 0; k--)
		if (!isspace((unsigned char)src[k - 1])) {
			ln->end_col = (int)k + 1;
			break;
		}
	while (i < len) {
		unsigned char c = (unsigned char)src[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
			i++;
			continue;
		}
		if (c == '#')
			break;
		if (ln->ntoks == cap) {
			int nc = cap ? cap * 2 : 8;
			struct tok *nt = realloc(ln->toks, (size_t)nc * sizeof(*nt));
			if (!nt) {
				p->oom = true;
				return -ENOMEM;
			}
			ln->toks = nt;
			cap = nc;
		}
		struct tok *t = &ln->toks[ln->ntoks++];
		t->s = arena;
		t->col = (int)i + 1;
		t->quoted = false;
		if (c == '&') {
			*arena++ = '&';
			*arena++ = '\0';
			i++;
			continue;
		}
		bool inq = false;
		size_t qstart = 0;
		while (i < len) {
			c = (unsigned char)src[i];
			if (!inq && (isspace(c) || c == '#' || c == '&'))
				break;
			if (c == '"') {
				inq = !inq;
				t->quoted = true;
				qstart = i;
				i++;
				continue;
			}
			if (inq && c == '\\') {
				if (i + 1 < len && (src[i + 1] == '"' || src[i + 1] == '\\')) {
					*arena++ = src[i + 1];
					i += 2;
					continue;
				}
				ln->bad_col = (int)i + 1;
				ln->bad_msg = "unknown escape in string (only \\\" and \\\\)";
				*arena++ = '\0';
				*ap = arena;
				return 0;
			}
			if (c < 0x20 && c != '\t') {
				ln->bad_col = (int)i + 1;
				ln->bad_msg = "control character in line";
				*arena++ = '\0';
				*ap = arena;
				return 0;
			}
			*arena++ = (char)c;
			i++;
		}
		*arena++ = '\0';
		if (inq) {
			ln->bad_col = (int)qstart + 1;
			ln->bad_msg = "unterminated string (missing closing \")";
			*ap = arena;
			return 0;
		}
	}
	*ap = arena;
	return 0;
}

/* ---- small helpers ---------------------------------------------------------------------- */

static bool is_verb(const char *s)
{
	for (size_t i = 0; i < NVERBS; i++)
		if (!strcmp(s, verbs[i]))
			return true;
	return false;
}

static bool is_statement(const char *s)
{
	for (size_t i = 0; i < NSTATEMENTS; i++)
		if (!strcmp(s, statements[i]))
			return true;
	return false;
}

static struct lab_pos pos_at(struct parser *p, int col)
{
	struct lab_pos pos = {p->line, col};
	return pos;
}

/* Column for "X needs a value" when the value is missing: the keyword's own column. */
static int need(struct parser *p, const struct tok *t, int i, int n, const char *what)
{
	if (i + 1 < n)
		return 0;
	return perr(p, t[i].col, "%s needs %s", t[i].s, what);
}

/* A whole number in [min, max]: digits only. */
static int parse_uint(const char *s, int64_t min, int64_t max, int64_t *out)
{
	int64_t v = 0;
	if (!*s)
		return -EINVAL;
	for (const char *c = s; *c; c++) {
		if (!isdigit((unsigned char)*c))
			return -EINVAL;
		if (v > (INT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (*c - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int get_uint(struct parser *p, const struct tok *t, const char *what, int64_t min,
		    int64_t max, int64_t *out)
{
	if (parse_uint(t->s, min, max, out) == 0)
		return 0;
	return perr(p, t->col, "%s must be a whole number from %lld to %lld, got \"%s\"", what,
		    (long long)min, (long long)max, t->s);
}

static int get_port(struct parser *p, const struct tok *t, const char *s, uint16_t *port)
{
	int64_t v;
	if (parse_uint(s, 1, 65535, &v))
		return perr(p, t->col, "port must be 1 to 65535, got \"%s\"", s);
	*port = (uint16_t)v;
	return 0;
}

static int get_duration(struct parser *p, const struct tok *t, int64_t *ns)
{
	int rc = lab_parse_duration(t->s, ns);
	if (rc == -ERANGE)
		return perr(p, t->col, "duration \"%s\" is too large", t->s);
	if (rc)
		return perr(p, t->col, "expected a duration like 10ms, got \"%s\"", t->s);
	return 0;
}

static int get_percent(struct parser *p, const struct tok *t, double *pct)
{
	int rc = lab_parse_percent(t->s, pct);
	if (rc == -ERANGE)
		return perr(p, t->col, "percentage \"%s\" is out of range (0%% to 100%%)", t->s);
	if (rc)
		return perr(p, t->col, "expected a percentage like 5%%, got \"%s\"", t->s);
	return 0;
}

static int get_rate(struct parser *p, const struct tok *t, double *r)
{
	int rc = lab_parse_rate(t->s, r);
	if (rc == -ERANGE)
		return perr(p, t->col, "rate \"%s\" is too large", t->s);
	if (rc)
		return perr(p, t->col, "expected a rate like 1000/s, got \"%s\"", t->s);
	return 0;
}

/* Lower-case name of letters, digits, '_' and '-', starting with a letter. */
static bool valid_host_name(const char *s)
{
	if (!islower((unsigned char)s[0]))
		return false;
	for (const char *c = s; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_' &&
		    *c != '-')
			return false;
	return true;
}

/* Lab and group names: [A-Za-z0-9_.-]. */
static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.' && *c != '-')
			return false;
	return true;
}

static const char **host_names(struct parser *p)
{
	const char **v = calloc((size_t)p->lab->nhosts + 1, sizeof(*v));
	if (!v) {
		p->oom = true;
		return NULL;
	}
	for (int i = 0; i < p->lab->nhosts; i++)
		v[i] = p->lab->hosts[i].name;
	return v;
}

/* Look up a host used by a statement; error (with suggestion, or "declared later") if
 * absent. */
static int get_host_s(struct parser *p, const char *name, int col)
{
	int h = lab_host_find(p->lab, name);
	if (h >= 0)
		return h;
	for (int i = 0; i < p->ndecls; i++)
		if (!strcmp(p->decls[i].name, name) && p->decls[i].line > p->line)
			return perr(p, col,
				    "host \"%s\" is used before its host line (line %d); declare "
				    "hosts first",
				    name, p->decls[i].line);
	char sug[96] = "";
	const char **names = host_names(p);
	if (names) {
		mean(sug, sizeof(sug), name, names, (size_t)p->lab->nhosts);
		free(names);
	}
	return perr(p, col, "unknown host \"%s\"%s", name, sug);
}

static int get_host(struct parser *p, const struct tok *t)
{
	return get_host_s(p, t->s, t->col);
}

static bool addr_equal(const struct lab_addr *a, const struct lab_addr *b)
{
	size_t n = a->family == AF_INET ? 4 : 16;
	return a->family == b->family && !memcmp(a->bytes, b->bytes, n);
}

/* The host owning address a (prefix ignored), or -1. */
static int addr_owner(const struct lab *lab, const struct lab_addr *a)
{
	for (int h = 0; h < lab->nhosts; h++)
		for (int i = 0; i < lab->hosts[h].naddrs; i++)
			if (addr_equal(&lab->hosts[h].addrs[i], a))
				return h;
	return -1;
}

static bool host_has_addr(const struct lab_host *h, const struct lab_addr *a)
{
	for (int i = 0; i < h->naddrs; i++)
		if (addr_equal(&h->addrs[i], a))
			return true;
	return false;
}

static void fmt_addr(const struct lab_addr *a, char *buf, size_t len)
{
	if (lab_addr_format(a, buf, len))
		snprintf(buf, len, "?");
}

/* "10.0.0.2/24, fd00::2/64" for messages. */
static void host_addr_list(const struct lab_host *h, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	if (h->naddrs == 0) {
		snprintf(buf, len, "no addresses");
		return;
	}
	for (int i = 0; i < h->naddrs && off + 2 < len; i++) {
		char a[64];
		fmt_addr(&h->addrs[i], a, sizeof(a));
		int w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", a);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/* ---- groups ----------------------------------------------------------------------------- */

static struct group *group_find(struct parser *p, int host, const char *name)
{
	for (int i = 0; i < p->ngroups; i++)
		if (p->groups[i].host == host && !strcmp(p->groups[i].name, name))
			return &p->groups[i];
	return NULL;
}

/* Define (or re-use) group `name` on host for a listen or a connect. */
static int group_define(struct parser *p, int host, const char *name, bool listen, int col)
{
	struct group *g = group_find(p, host, name);
	if (g) {
		if (g->listen != listen)
			return perr(p, col,
				    "group \"%s\" on host %s is already a %s group (line %d); "
				    "use another name with as",
				    name, p->lab->hosts[host].name, g->listen ? "listen" : "connect",
				    g->pos.line);
		return 0;
	}
	g = push(p, (void **)&p->groups, &p->ngroups, &p->cap_groups, sizeof(*g));
	if (!g)
		return -1;
	g->host = host;
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->listen = listen;
	g->pos = pos_at(p, col);
	return 0;
}

static int group_use(struct parser *p, int host, const struct tok *t, struct group **out)
{
	struct group *g = group_find(p, host, t->s);
	if (g) {
		if (out)
			*out = g;
		return 0;
	}
	const char *cands[64];
	size_t n = 0;
	for (int i = 0; i < p->ngroups && n < 64; i++)
		if (p->groups[i].host == host)
			cands[n++] = p->groups[i].name;
	char sug[96];
	mean(sug, sizeof(sug), t->s, cands, n);
	return perr(p, t->col,
		    "unknown group \"%s\" on host %s (groups are made by connect/listen ... as "
		    "NAME, default c and s)%s",
		    t->s, p->lab->hosts[host].name, sug);
}

static int get_group_name(struct parser *p, const struct tok *t, char *out)
{
	if (!valid_name(t->s) || strlen(t->s) >= LAB_NAME_MAX)
		return perr(p, t->col,
			    "group name \"%s\" must be 1 to %d letters, digits, '_', '.' or '-'",
			    t->s, LAB_NAME_MAX - 1);
	snprintf(out, LAB_NAME_MAX, "%s", t->s);
	return 0;
}

/* ---- statements ------------------------------------------------------------------------- */

static int st_lab(struct parser *p, struct tok *t, int n)
{
	if (p->pos_lab.line)
		return perr(p, t[0].col, "lab name already set at %d:%d", p->pos_lab.line,
			    p->pos_lab.col);
	if (n < 2)
		return perr(p, t[0].col, "lab needs a name");
	if (n > 2)
		return perr(p, t[2].col, "unexpected \"%s\" after the lab name", t[2].s);
	if (!valid_name(t[1].s) || strlen(t[1].s) >= LAB_NAME_MAX)
		return perr(p, t[1].col,
			    "lab name \"%s\" must be 1 to %d letters, digits, '_', '.' or '-'",
			    t[1].s, LAB_NAME_MAX - 1);
	snprintf(p->lab->name, sizeof(p->lab->name), "%s", t[1].s);
	p->pos_lab = pos_at(p, t[0].col);
	return 0;
}

static int st_about(struct parser *p, struct tok *t, int n)
{
	if (p->pos_about.line)
		return perr(p, t[0].col, "about already given at %d:%d", p->pos_about.line,
			    p->pos_about.col);
	if (n < 2)
		return perr(p, t[0].col, "about needs a \"quoted text\"");
	if (n > 2)
		return perr(p, t[2].col,
			    "unexpected \"%s\": about takes one \"quoted text\"", t[2].s);
	if (strlen(t[1].s) >= LAB_TEXT_MAX)
		return perr(p, t[1].col, "about text is longer than %d characters",
			    LAB_TEXT_MAX - 1);
	snprintf(p->lab->about, sizeof(p->lab->about), "%s", t[1].s);
	p->pos_about = pos_at(p, t[0].col);
	return 0;
}

static int st_seed(struct parser *p, struct tok *t, int n)
{
	if (p->pos_seed.line)
		return perr(p, t[0].col, "seed already set at %d:%d", p->pos_seed.line,
			    p->pos_seed.col);
	if (n < 2)
		return perr(p, t[0].col, "seed needs a number");
	if (n > 2)
		return perr(p, t[2].col, "unexpected \"%s\" after the seed", t[2].s);
	uint64_t v = 0;
	const char *s = t[1].s;
	if (!*s)
		return perr(p, t[1].col, "seed must be a whole number, got \"\"");
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return perr(p, t[1].col, "seed must be a whole number, got \"%s\"", t[1].s);
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return perr(p, t[1].col, "seed \"%s\" does not fit in 64 bits", t[1].s);
		v = v * 10 + d;
	}
	p->lab->seed = v;
	p->lab->has_seed = true;
	p->pos_seed = pos_at(p, t[0].col);
	return 0;
}

static int st_blackhole(struct parser *p, struct tok *t, int n)
{
	if (p->pos_blackhole.line)
		return perr(p, t[0].col, "blackhole already set at %d:%d", p->pos_blackhole.line,
			    p->pos_blackhole.col);
	if (n < 2)
		return perr(p, t[0].col, "blackhole needs a prefix like 198.18.0.0/24");
	if (n > 2)
		return perr(p, t[2].col, "unexpected \"%s\" after the blackhole prefix", t[2].s);
	struct lab_addr a;
	if (lab_parse_addr(t[1].s, true, &a))
		return perr(p, t[1].col, "expected a prefix like 198.18.0.0/24, got \"%s\"",
			    t[1].s);
	p->lab->blackhole = a;
	p->lab->has_blackhole = true;
	p->pos_blackhole = pos_at(p, t[0].col);
	return 0;
}

static int sysctl_parse(struct parser *p, const struct tok *t, struct lab_sysctl *out)
{
	const char *eq = strchr(t->s, '=');
	if (!eq || eq == t->s)
		return perr(p, t->col, "sysctl needs KEY=VALUE, like net.ipv4.tcp_syncookies=0");
	size_t klen = (size_t)(eq - t->s);
	if (klen >= sizeof(out->key))
		return perr(p, t->col, "sysctl key is longer than %zu characters",
			    sizeof(out->key) - 1);
	char key[sizeof(out->key)];
	memcpy(key, t->s, klen);
	key[klen] = '\0';
	if (strncmp(key, "net.", 4))
		return perr(p, t->col,
			    "sysctl \"%s\" is not per network namespace: only net.* sysctls can "
			    "be set for a host",
			    key);
	/* Dotted segments of [A-Za-z0-9_-]: the runner maps dots to a /proc/sys path, so
	 * no "..", no '/', no empty segment. */
	bool seg_start = true;
	for (const char *c = key; *c; c++) {
		if (*c == '.') {
			if (seg_start)
				break;
			seg_start = true;
			continue;
		}
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
			return perr(p, t->col, "sysctl key \"%s\" has a bad character '%c'", key,
				    *c);
		seg_start = false;
	}
	if (seg_start)
		return perr(p, t->col, "sysctl key \"%s\" has an empty part", key);
	const char *val = eq + 1;
	if (!*val)
		return perr(p, t->col, "sysctl %s needs a value after '='", key);
	if (strlen(val) >= sizeof(out->value))
		return perr(p, t->col, "sysctl value is longer than %zu characters",
			    sizeof(out->value) - 1);
	snprintf(out->key, sizeof(out->key), "%s", key);
	snprintf(out->value, sizeof(out->value), "%s", val);
	out->pos = pos_at(p, t->col);
	return 0;
}

static int host_opts(struct parser *p, struct tok *t, int n, struct lab_host *hp,
		     struct lab_pos *apos);
static int unknown_key(struct parser *p, const struct tok *t, const char *stmt,
		       const char *const *keys, size_t n);

static int st_host(struct parser *p, struct tok *t, int n)
{
	struct lab *lab = p->lab;
	if (n < 2)
		return perr(p, t[0].col, "host needs a name");
	const char *name = t[1].s;
	if (!valid_host_name(name))
		return perr(p, t[1].col,
			    "host name \"%s\" must be lower-case letters, digits, '_' or '-', "
			    "starting with a letter",
			    name);
	if (strlen(name) > HOST_NAME_MAX_LEN)
		return perr(p, t[1].col, "host name \"%s\" is longer than %d characters", name,
			    HOST_NAME_MAX_LEN);
	if (is_statement(name) || !strcmp(name, "all"))
		return perr(p, t[1].col, "host name \"%s\" is a reserved word", name);
	int prev = lab_host_find(lab, name);
	if (prev >= 0)
		return perr(p, t[1].col, "host \"%s\" already defined at %d:%d", name,
			    lab->hosts[prev].pos.line, lab->hosts[prev].pos.col);
	if (lab->nhosts >= LAB_MAX_HOSTS)
		return perr(p, t[1].col, "too many hosts (at most %d)", LAB_MAX_HOSTS);

	struct lab_host h;
	struct lab_pos apos[LAB_HOST_ADDRS];
	memset(&h, 0, sizeof(h));
	memset(apos, 0, sizeof(apos));
	snprintf(h.name, sizeof(h.name), "%s", name);
	h.pos = pos_at(p, t[1].col);
	/* A host whose options have an error is still defined (with the good parts), so the
	 * lines that use it do not pile "unknown host" errors on top. */
	int rc = host_opts(p, t, n, &h, apos);
	struct lab_host *nh = push(p, (void **)&lab->hosts, &lab->nhosts, &p->cap_hosts,
				   sizeof(*nh));
	if (!nh)
		return -1;
	*nh = h;
	/* keep addr_pos parallel to hosts */
	void *na = realloc(p->addr_pos, (size_t)p->cap_hosts * sizeof(*p->addr_pos));
	if (!na) {
		p->oom = true;
		return -1;
	}
	p->addr_pos = na;
	memcpy(p->addr_pos[lab->nhosts - 1], apos, sizeof(apos));
	return rc;
}

/* The options of a host line into *hp (only the good ones land there). */
static int host_opts(struct parser *p, struct tok *t, int n, struct lab_host *hp,
		     struct lab_pos *apos)
{
	struct lab *lab = p->lab;
	struct lab_host *h = hp;
	const char *name = h->name;
	for (int i = 2; i < n; i++) {
		const char *k = t[i].s;
		if (!strcmp(k, "addr")) {
			if (need(p, t, i, n, "an address with a prefix length, like 10.0.0.1/24"))
				return -1;
			struct lab_addr a;
			i++;
			if (lab_parse_addr(t[i].s, true, &a)) {
				if (lab_parse_addr(t[i].s, false, &a) == 0)
					return perr(p, t[i].col,
						    "addr needs a prefix length, like %s/24", t[i].s);
				return perr(p, t[i].col,
					    "expected an address like 10.0.0.1/24, got \"%s\"", t[i].s);
			}
			if (h->naddrs >= LAB_HOST_ADDRS)
				return perr(p, t[i].col, "host %s has more than %d addresses", name,
					    LAB_HOST_ADDRS);
			if (host_has_addr(h, &a))
				return perr(p, t[i].col, "address %s given twice", t[i].s);
			int owner = addr_owner(lab, &a);
			if (owner >= 0)
				return perr(p, t[i].col, "address %s already belongs to host %s",
					    t[i].s, lab->hosts[owner].name);
			apos[h->naddrs] = pos_at(p, t[i].col);
			h->addrs[h->naddrs++] = a;
		} else if (!strcmp(k, "sysctl")) {
			if (need(p, t, i, n, "KEY=VALUE, like net.ipv4.tcp_syncookies=0"))
				return -1;
			i++;
			if (h->nsysctls >= LAB_HOST_SYSCTLS)
				return perr(p, t[i].col, "host %s has more than %d sysctls", name,
					    LAB_HOST_SYSCTLS);
			struct lab_sysctl sc;
			if (sysctl_parse(p, &t[i], &sc))
				return -1;
			for (int j = 0; j < h->nsysctls; j++)
				if (!strcmp(h->sysctls[j].key, sc.key))
					return perr(p, t[i].col, "sysctl %s given twice", sc.key);
			h->sysctls[h->nsysctls++] = sc;
		} else if (!strcmp(k, "forward")) {
			h->forward = true;
		} else {
			static const char *const keys[] = {"addr", "sysctl", "forward"};
			return unknown_key(p, &t[i], "host", keys, 3);
		}
	}
	return 0;
}

/* ---- impairments ------------------------------------------------------------------------ */

enum { K_DELAY, K_JITTER, K_DELAY_CORR, K_DIST, K_LOSS, K_LOSS_CORR, K_DUP, K_DUP_CORR,
       K_REORDER, K_REORDER_CORR, K_GAP, K_CORRUPT, K_CORRUPT_CORR, K_RATE, K_LIMIT, K_NKEYS };

static const char *const imp_keys[K_NKEYS] = {
	[K_DELAY] = "delay", [K_JITTER] = "jitter", [K_DELAY_CORR] = "delay-corr",
	[K_DIST] = "distribution", [K_LOSS] = "loss", [K_LOSS_CORR] = "loss-corr",
	[K_DUP] = "duplicate", [K_DUP_CORR] = "duplicate-corr", [K_REORDER] = "reorder",
	[K_REORDER_CORR] = "reorder-corr", [K_GAP] = "gap", [K_CORRUPT] = "corrupt",
	[K_CORRUPT_CORR] = "corrupt-corr", [K_RATE] = "rate", [K_LIMIT] = "limit",
};

static int imp_key(const char *s)
{
	for (int k = 0; k < K_NKEYS; k++)
		if (!strcmp(s, imp_keys[k]))
			return k;
	return -1;
}

/* Is token s a direction "X>Y"? */
static bool is_dir_tok(const char *s)
{
	const char *gt = strchr(s, '>');
	return gt && gt != s && gt[1];
}

/* Resolve "X>Y" against the link's hosts a, b: 0 for a>b, 1 for b>a. */
static int dir_of(struct parser *p, const struct tok *t, int a, int b)
{
	char x[64], y[64];
	const char *gt = strchr(t->s, '>');
	size_t xl = (size_t)(gt - t->s);
	if (xl >= sizeof(x) || strlen(gt + 1) >= sizeof(y))
		return perr(p, t->col, "bad direction \"%s\"", t->s);
	memcpy(x, t->s, xl);
	x[xl] = '\0';
	snprintf(y, sizeof(y), "%s", gt + 1);
	int hx = get_host_s(p, x, t->col);
	if (hx < 0)
		return -1;
	int hy = get_host_s(p, y, t->col + (int)xl + 1);
	if (hy < 0)
		return -1;
	if (hx == a && hy == b)
		return 0;
	if (hx == b && hy == a)
		return 1;
	return perr(p, t->col, "%s is not a direction of the link %s %s", t->s,
		    p->lab->hosts[a].name, p->lab->hosts[b].name);
}

/* Parse impairments from t[i..n) into imp[0..1] for a link between hosts a and b.
 * Keys before any X>Y apply to both directions, after it to that direction only.
 * *cleared is set when the only word is "clear" (impair steps). */
static int parse_impairs(struct parser *p, struct tok *t, int i, int n, int a, int b,
			 struct lab_impair imp[2], bool allow_clear, bool *cleared)
{
	int cols[2][K_NKEYS];
	int dirs = 3; /* bit 0: a>b, bit 1: b>a */
	uint32_t seen = 0;
	memset(cols, 0, sizeof(cols));
	if (cleared)
		*cleared = false;
	if (allow_clear && i < n && !strcmp(t[i].s, "clear")) {
		if (i + 1 < n)
			return perr(p, t[i + 1].col, "unexpected \"%s\" after clear", t[i + 1].s);
		memset(imp, 0, 2 * sizeof(*imp));
		*cleared = true;
		return 0;
	}
	for (; i < n; i++) {
		const struct tok *kt = &t[i];
		if (is_dir_tok(kt->s)) {
			int d = dir_of(p, kt, a, b);
			if (d < 0)
				return -1;
			dirs = 1 << d;
			seen = 0;
			continue;
		}
		int k = imp_key(kt->s);
		if (k < 0) {
			char sug[96];
			mean(sug, sizeof(sug), kt->s, imp_keys, K_NKEYS);
			return perr(p, kt->col, "unknown key \"%s\"%s", kt->s, sug);
		}
		if (seen & (1u << k))
			return perr(p, kt->col, "%s given twice", kt->s);
		seen |= 1u << k;
		/* Parse the value once into v, then copy into each direction. */
		struct lab_impair v;
		uint32_t bit = 0;
		memset(&v, 0, sizeof(v));
		static const char *const what_pct = "a percentage like 5%";
		switch (k) {
		case K_DELAY:
		case K_JITTER:
			if (need(p, t, i, n, "a duration like 10ms"))
				return -1;
			i++;
			if (get_duration(p, &t[i], k == K_DELAY ? &v.delay_ns : &v.jitter_ns))
				return -1;
			bit = k == K_DELAY ? IMP_DELAY : IMP_JITTER;
			break;
		case K_DIST: {
			static const char *const dists[] = {"uniform", "normal", "pareto",
							    "paretonormal"};
			if (need(p, t, i, n, "uniform, normal, pareto or paretonormal"))
				return -1;
			i++;
			int d = -1;
			for (int j = 0; j < 4; j++)
				if (!strcmp(t[i].s, dists[j]))
					d = j;
			if (d < 0) {
				char sug[96];
				mean(sug, sizeof(sug), t[i].s, dists, 4);
				return perr(p, t[i].col,
					    "unknown distribution \"%s\" (uniform, normal, pareto, "
					    "paretonormal)%s",
					    t[i].s, sug);
			}
			v.dist = (enum lab_dist)(LAB_DIST_UNIFORM + d);
			bit = IMP_DIST;
			break;
		}
		case K_LOSS:
			if (i + 1 < n && !strcmp(t[i + 1].s, "gemodel")) {
				i++;
				if (i + 2 >= n)
					return perr(p, t[i].col,
						    "loss gemodel needs P and R percentages (and "
						    "optionally 1-H and 1-K)");
				if (get_percent(p, &t[i + 1], &v.ge_p) ||
				    get_percent(p, &t[i + 2], &v.ge_r))
					return -1;
				i += 2;
				/* Textbook Gilbert model unless told: every packet in the bad
				 * state is lost (1-h = 100%), none in the good one (1-k = 0%). */
				v.ge_h = 100;
				v.ge_k = 0;
				double x;
				if (i + 1 < n && lab_parse_percent(t[i + 1].s, &x) != -EINVAL) {
					if (get_percent(p, &t[++i], &v.ge_h))
						return -1;
					if (i + 1 < n && lab_parse_percent(t[i + 1].s, &x) != -EINVAL &&
					    get_percent(p, &t[++i], &v.ge_k))
						return -1;
				}
				bit = IMP_LOSS_GE;
				break;
			}
			/* fallthrough */
		case K_DELAY_CORR:
		case K_LOSS_CORR:
		case K_DUP:
		case K_DUP_CORR:
		case K_REORDER:
		case K_REORDER_CORR:
		case K_CORRUPT:
		case K_CORRUPT_CORR: {
			double x;
			if (need(p, t, i, n, what_pct))
				return -1;
			i++;
			if (get_percent(p, &t[i], &x))
				return -1;
			switch (k) {
			case K_DELAY_CORR: v.delay_corr = x; bit = IMP_DELAY_CORR; break;
			case K_LOSS: v.loss = x; bit = IMP_LOSS; break;
			case K_LOSS_CORR: v.loss_corr = x; bit = IMP_LOSS_CORR; break;
			case K_DUP: v.dup = x; bit = IMP_DUP; break;
			case K_DUP_CORR: v.dup_corr = x; bit = IMP_DUP_CORR; break;
			case K_REORDER: v.reorder = x; bit = IMP_REORDER; break;
			case K_REORDER_CORR: v.reorder_corr = x; bit = IMP_REORDER_CORR; break;
			case K_CORRUPT: v.corrupt = x; bit = IMP_CORRUPT; break;
			default: v.corrupt_corr = x; bit = IMP_CORRUPT_CORR; break;
			}
			break;
		}
		case K_GAP:
		case K_LIMIT: {
			int64_t x;
			if (need(p, t, i, n, "a number"))
				return -1;
			i++;
			if (get_uint(p, &t[i], kt->s, 1, UINT32_MAX, &x))
				return -1;
			if (k == K_GAP) {
				v.gap = (uint32_t)x;
				bit = IMP_GAP;
			} else {
				v.limit = (uint32_t)x;
				bit = IMP_LIMIT;
			}
			break;
		}
		case K_RATE: {
			if (need(p, t, i, n, "a bit rate like 10mbit"))
				return -1;
			i++;
			int rc = lab_parse_bitrate(t[i].s, &v.rate_bps);
			if (rc == -ERANGE)
				return perr(p, t[i].col, "bit rate \"%s\" is too large", t[i].s);
			if (rc)
				return perr(p, t[i].col,
					    "expected a bit rate like 10mbit, got \"%s\"", t[i].s);
			if (v.rate_bps == 0)
				return perr(p, t[i].col, "rate must be above 0");
			bit = IMP_RATE;
			break;
		}
		}
		for (int d = 0; d < 2; d++) {
			if (!(dirs & (1 << d)))
				continue;
			struct lab_impair *m = &imp[d];
			/* loss PCT and loss gemodel are two loss models: the later one wins
			 * (a direction section may override the shared one). */
			if (bit == IMP_LOSS_GE)
				m->set &= ~(uint32_t)(IMP_LOSS);
			if (bit == IMP_LOSS)
				m->set &= ~(uint32_t)(IMP_LOSS_GE);
			m->set |= bit;
			cols[d][k] = kt->col;
			switch (bit) {
			case IMP_DELAY: m->delay_ns = v.delay_ns; break;
			case IMP_JITTER: m->jitter_ns = v.jitter_ns; break;
			case IMP_DELAY_CORR: m->delay_corr = v.delay_corr; break;
			case IMP_DIST: m->dist = v.dist; break;
			case IMP_LOSS: m->loss = v.loss; break;
			case IMP_LOSS_CORR: m->loss_corr = v.loss_corr; break;
			case IMP_LOSS_GE:
				m->ge_p = v.ge_p; m->ge_r = v.ge_r; m->ge_h = v.ge_h; m->ge_k = v.ge_k;
				break;
			case IMP_DUP: m->dup = v.dup; break;
			case IMP_DUP_CORR: m->dup_corr = v.dup_corr; break;
			case IMP_REORDER: m->reorder = v.reorder; break;
			case IMP_REORDER_CORR: m->reorder_corr = v.reorder_corr; break;
			case IMP_GAP: m->gap = v.gap; break;
			case IMP_CORRUPT: m->corrupt = v.corrupt; break;
			case IMP_CORRUPT_CORR: m->corrupt_corr = v.corrupt_corr; break;
			case IMP_RATE: m->rate_bps = v.rate_bps; break;
			case IMP_LIMIT: m->limit = v.limit; break;
			}
		}
	}
	/* netem's own dependencies. */
	static const struct { uint32_t bit, needs; int key; const char *msg; } deps[] = {
		{IMP_JITTER, IMP_DELAY, K_JITTER, "jitter needs delay"},
		{IMP_DIST, IMP_JITTER, K_DIST, "distribution needs jitter"},
		{IMP_REORDER, IMP_DELAY, K_REORDER,
		 "reorder needs delay (netem reorders by sending some packets without it)"},
		{IMP_GAP, IMP_REORDER, K_GAP, "gap needs reorder"},
	};
	for (size_t j = 0; j < sizeof(deps) / sizeof(deps[0]); j++) {
		bool bad[2];
		for (int d = 0; d < 2; d++)
			bad[d] = (imp[d].set & deps[j].bit) && !(imp[d].set & deps[j].needs);
		if (bad[0] && bad[1] && cols[0][deps[j].key] == cols[1][deps[j].key])
			return perr(p, cols[0][deps[j].key], "%s", deps[j].msg);
		for (int d = 0; d < 2; d++)
			if (bad[d])
				return perr(p, cols[d][deps[j].key], "%s (in direction %s>%s)",
					    deps[j].msg, p->lab->hosts[d ? b : a].name,
					    p->lab->hosts[d ? a : b].name);
	}
	return 0;
}

/* ---- link ------------------------------------------------------------------------------- */

static bool dev_taken(const struct lab *lab, int h, const char *dev)
{
	for (int i = 0; i < lab->nlinks; i++) {
		const struct lab_link *l = &lab->links[i];
		if ((l->a == h && !strcmp(l->dev_a, dev)) || (l->b == h && !strcmp(l->dev_b, dev)))
			return true;
	}
	return false;
}

static int host_nlinks(const struct lab *lab, int h)
{
	int c = 0;
	for (int i = 0; i < lab->nlinks; i++)
		c += (lab->links[i].a == h) + (lab->links[i].b == h);
	return c;
}

/* "HOST[:DEV]" -> host index and device name (or "" when not given). */
static int link_end(struct parser *p, const struct tok *t, int *h, char *dev, int *dcol_out)
{
	char name[64];
	const char *colon = strchr(t->s, ':');
	size_t nl = colon ? (size_t)(colon - t->s) : strlen(t->s);
	dev[0] = '\0';
	if (nl >= sizeof(name))
		return perr(p, t->col, "unknown host \"%.*s\"", (int)nl, t->s);
	memcpy(name, t->s, nl);
	name[nl] = '\0';
	*h = get_host_s(p, name, t->col);
	if (*h < 0)
		return -1;
	if (colon) {
		const char *d = colon + 1;
		int dcol = t->col + (int)nl + 1;
		*dcol_out = dcol;
		if (!*d)
			return perr(p, dcol, "missing device name after ':'");
		if (strlen(d) >= LAB_IFNAME_MAX)
			return perr(p, dcol, "device name \"%s\" is longer than %d characters", d,
				    LAB_IFNAME_MAX - 1);
		if (!strcmp(d, "lo") || !strcmp(d, ".") || !strcmp(d, ".."))
			return perr(p, dcol, "device name \"%s\" is reserved", d);
		for (const char *c = d; *c; c++)
			if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
				return perr(p, dcol,
					    "device name \"%s\" may hold only letters, digits, '_', "
					    "'-' and '.'",
					    d);
		snprintf(dev, LAB_IFNAME_MAX, "%s", d);
	}
	return 0;
}

/* ethK for the host's K-th link, or the next free ethN when an explicit name took it. */
static void default_dev(const struct lab *lab, int h, char *dev)
{
	for (int k = host_nlinks(lab, h);; k++) {
		snprintf(dev, LAB_IFNAME_MAX, "eth%d", k);
		if (!dev_taken(lab, h, dev))
			return;
	}
}

static int st_link(struct parser *p, struct tok *t, int n)
{
	struct lab *lab = p->lab;
	struct lab_link l;
	memset(&l, 0, sizeof(l));
	if (n < 3)
		return perr(p, t[0].col, "link needs two hosts, like: link client server");
	int dcol_a = t[1].col, dcol_b = t[2].col;
	if (link_end(p, &t[1], &l.a, l.dev_a, &dcol_a) || link_end(p, &t[2], &l.b, l.dev_b, &dcol_b))
		return -1;
	if (l.a == l.b)
		return perr(p, t[2].col, "link joins host %s to itself", lab->hosts[l.a].name);
	int prev = lab_link_find(lab, l.a, l.b);
	if (prev >= 0)
		return perr(p, t[1].col, "hosts %s and %s are already linked at %d:%d",
			    lab->hosts[l.a].name, lab->hosts[l.b].name, lab->links[prev].pos.line,
			    lab->links[prev].pos.col);
	if (l.dev_a[0] && dev_taken(lab, l.a, l.dev_a))
		return perr(p, dcol_a, "host %s already has a device %s", lab->hosts[l.a].name,
			    l.dev_a);
	if (l.dev_b[0] && dev_taken(lab, l.b, l.dev_b))
		return perr(p, dcol_b, "host %s already has a device %s", lab->hosts[l.b].name,
			    l.dev_b);
	if (parse_impairs(p, t, 3, n, l.a, l.b, l.dir, false, NULL))
		return -1;
	if (!l.dev_a[0])
		default_dev(lab, l.a, l.dev_a);
	if (!l.dev_b[0])
		default_dev(lab, l.b, l.dev_b);
	l.pos = pos_at(p, t[0].col);
	struct lab_link *nl = push(p, (void **)&lab->links, &lab->nlinks, &p->cap_links,
				   sizeof(*nl));
	if (!nl)
		return -1;
	*nl = l;
	return 0;
}

/* ---- route, capture, drop --------------------------------------------------------------- */

static int st_route(struct parser *p, struct tok *t, int n)
{
	struct lab *lab = p->lab;
	struct lab_route r;
	memset(&r, 0, sizeof(r));
	r.via_host = -1;
	if (n < 4)
		return perr(p, t[0].col,
			    "route needs HOST PREFIX via HOST|ADDR, or HOST PREFIX blackhole");
	if ((r.host = get_host(p, &t[1])) < 0)
		return -1;
	bool is_default = !strcmp(t[2].s, "default");
	if (!is_default) {
		if (lab_parse_addr(t[2].s, true, &r.dst))
			return perr(p, t[2].col,
				    "expected a prefix like 10.0.2.0/24 or default, got \"%s\"",
				    t[2].s);
		/* ip route refuses host bits under the prefix; say so now, with the fix. */
		struct lab_addr net = r.dst;
		int max = net.family == AF_INET ? 32 : 128;
		for (int bit = net.prefixlen; bit < max; bit++)
			net.bytes[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
		if (!addr_equal(&net, &r.dst)) {
			char fix[64];
			fmt_addr(&net, fix, sizeof(fix));
			return perr(p, t[2].col, "%s has host bits set; did you mean %s?", t[2].s,
				    fix);
		}
	}
	const char *how = t[3].s;
	if (!strcmp(how, "blackhole")) {
		if (n > 4)
			return perr(p, t[4].col, "unexpected \"%s\" after blackhole", t[4].s);
		if (is_default) {
			r.dst.family = AF_INET;
			r.dst.prefixlen = 0;
		}
		r.blackhole = true;
	} else if (!strcmp(how, "via")) {
		if (n < 5)
			return perr(p, t[3].col, "via needs a host or an address");
		if (n > 5)
			return perr(p, t[5].col, "unexpected \"%s\" after the gateway", t[5].s);
		const struct tok *vt = &t[4];
		struct lab_addr gw;
		if (lab_parse_addr(vt->s, false, &gw) == 0) {
			if (!is_default && gw.family != r.dst.family)
				return perr(p, vt->col, "gateway %s and prefix %s are different "
					    "address families", vt->s, t[2].s);
			bool onlink = false;
			const struct lab_host *h = &lab->hosts[r.host];
			for (int i = 0; i < h->naddrs; i++)
				if (lab_addr_same_subnet(&h->addrs[i], &gw))
					onlink = true;
			if (!onlink)
				return perr(p, vt->col, "gateway %s is not on any subnet of host %s",
					    vt->s, h->name);
			r.via = gw;
		} else {
			if ((r.via_host = get_host(p, vt)) < 0)
				return -1;
			if (r.via_host == r.host)
				return perr(p, vt->col, "route via the host itself (%s)", vt->s);
			int fam = is_default ? 0 : r.dst.family;
			struct lab_addr a;
			if (lab_host_addr_toward(lab, r.via_host, r.host, fam, &a))
				return perr(p, vt->col, "host %s shares no %ssubnet with host %s",
					    vt->s,
					    fam == AF_INET ? "IPv4 " : fam == AF_INET6 ? "IPv6 " : "",
					    lab->hosts[r.host].name);
			r.via_is_host = true;
			if (is_default)
				r.dst.family = a.family;
		}
		if (is_default) {
			if (!r.via_is_host)
				r.dst.family = gw.family;
			r.dst.prefixlen = 0;
		}
	} else {
		static const char *const hows[] = {"via", "blackhole"};
		char sug[96];
		mean(sug, sizeof(sug), how, hows, 2);
		return perr(p, t[3].col, "expected via or blackhole, got \"%s\"%s", how, sug);
	}
	r.pos = pos_at(p, t[0].col);
	struct lab_route *nr = push(p, (void **)&lab->routes, &lab->nroutes, &p->cap_routes,
				    sizeof(*nr));
	if (!nr)
		return -1;
	*nr = r;
	return 0;
}

static int st_capture(struct parser *p, struct tok *t, int n)
{
	struct lab *lab = p->lab;
	if (n < 2)
		return perr(p, t[0].col, "capture needs a host name or all");
	if (n > 2)
		return perr(p, t[2].col, "unexpected \"%s\": capture takes one host or all",
			    t[2].s);
	int h = -1;
	if (strcmp(t[1].s, "all") && (h = get_host(p, &t[1])) < 0)
		return -1;
	for (int i = 0; i < lab->ncaptures; i++)
		if (lab->captures[i].host == h)
			return perr(p, t[1].col, "capture %s already given at %d:%d", t[1].s,
				    lab->captures[i].pos.line, lab->captures[i].pos.col);
	struct lab_capture *c = push(p, (void **)&lab->captures, &lab->ncaptures,
				     &p->cap_captures, sizeof(*c));
	if (!c)
		return -1;
	c->host = h;
	c->pos = pos_at(p, t[0].col);
	return 0;
}

/* "A>B" naming an existing link: link index and direction. */
static int link_dir(struct parser *p, const struct tok *t, int *link, int *dir)
{
	char x[64], y[64];
	const char *gt = strchr(t->s, '>');
	if (!gt || gt == t->s || !gt[1])
		return perr(p, t->col, "expected a direction like client>server, got \"%s\"",
			    t->s);
	size_t xl = (size_t)(gt - t->s);
	if (xl >= sizeof(x) || strlen(gt + 1) >= sizeof(y))
		return perr(p, t->col, "bad direction \"%s\"", t->s);
	memcpy(x, t->s, xl);
	x[xl] = '\0';
	snprintf(y, sizeof(y), "%s", gt + 1);
	int a = get_host_s(p, x, t->col);
	if (a < 0)
		return -1;
	int b = get_host_s(p, y, t->col + (int)xl + 1);
	if (b < 0)
		return -1;
	*link = lab_link_find(p->lab, a, b);
	if (*link < 0)
		return perr(p, t->col, "no link between %s and %s", x, y);
	*dir = p->lab->links[*link].a == a ? 0 : 1;
	return 0;
}

static int st_drop(struct parser *p, struct tok *t, int n)
{
	struct lab *lab = p->lab;
	struct lab_rule r;
	memset(&r, 0, sizeof(r));
	r.action = LAB_RULE_DROP;
	r.first = -1;
	if (n < 4)
		return perr(p, t[0].col, "drop needs A>B tcp FLAGS, like: drop client>server tcp ACK");
	if (link_dir(p, &t[1], &r.link, &r.dir))
		return -1;
	if (strcmp(t[2].s, "tcp"))
		return perr(p, t[2].col, "only tcp rules are supported, got \"%s\"", t[2].s);
	/* SYN,ACK or SYN+ACK; matched exactly on SYN/ACK/FIN/RST so "ACK" does not also
	 * drop FIN+ACK, and on PSH/URG only when the rule names them. */
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", t[3].s);
	r.mask = LAB_TCPF_SYN | LAB_TCPF_ACK | LAB_TCPF_FIN | LAB_TCPF_RST;
	char *save = NULL;
	int nflags = 0;
	for (char *f = strtok_r(buf, ",+", &save); f; f = strtok_r(NULL, ",+", &save)) {
		static const char *const names[] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG"};
		int bit = -1;
		for (int j = 0; j < 6; j++)
			if (!strcasecmp(f, names[j]))
				bit = 1 << j;
		if (bit < 0) {
			char sug[96];
			mean(sug, sizeof(sug), f, names, 6);
			return perr(p, t[3].col,
				    "unknown TCP flag \"%s\" (SYN, ACK, FIN, RST, PSH, URG)%s", f,
				    sug);
		}
		r.flags |= (uint8_t)bit;
		if (bit == LAB_TCPF_PSH || bit == LAB_TCPF_URG)
			r.mask |= (uint8_t)bit;
		nflags++;
	}
	if (!nflags)
		return perr(p, t[3].col, "expected TCP flags like SYN,ACK, got \"%s\"", t[3].s);
	for (int i = 4; i < n; i++) {
		if (!strcmp(t[i].s, "first")) {
			if (need(p, t, i, n, "a number"))
				return -1;
			i++;
			if (get_uint(p, &t[i], "first", 1, INT64_MAX, &r.first))
				return -1;
		} else {
			static const char *const keys[] = {"first"};
			char sug[96];
			mean(sug, sizeof(sug), t[i].s, keys, 1);
			return perr(p, t[i].col, "unknown key \"%s\"%s", t[i].s, sug);
		}
	}
	r.pos = pos_at(p, t[0].col);
	struct lab_rule *nr = push(p, (void **)&lab->rules, &lab->nrules, &p->cap_rules,
				   sizeof(*nr));
	if (!nr)
		return -1;
	*nr = r;
	return 0;
}

/* ---- steps ------------------------------------------------------------------------------ */

static struct lab_step *new_step(struct parser *p, enum lab_op op, int host, int col)
{
	struct lab_step *s = push(p, (void **)&p->lab->steps, &p->lab->nsteps, &p->cap_steps,
				  sizeof(*s));
	if (!s)
		return NULL;
	s->op = op;
	s->host = host;
	s->together = p->together;
	s->pos = pos_at(p, col);
	return s;
}

static int unknown_key(struct parser *p, const struct tok *t, const char *stmt,
		       const char *const *keys, size_t n)
{
	char sug[96], list[256];
	mean(sug, sizeof(sug), t->s, keys, n);
	if (sug[0])
		return perr(p, t->col, "unknown key \"%s\"%s", t->s, sug);
	size_t off = 0;
	list[0] = '\0';
	for (size_t i = 0; i < n && off < sizeof(list); i++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", keys[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return perr(p, t->col, "unknown key \"%s\" (%s takes %s)", t->s, stmt, list);
}

/* Split "X:PORT": X is "" (listen only), a host name, an IPv4 address, or "[v6]".
 * Writes X into xbuf; returns 0 or an error. */
static int split_hostport(struct parser *p, const struct tok *t, char *xbuf, size_t xlen,
			  uint16_t *port)
{
	const char *s = t->s, *portstr;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return perr(p, t->col, "expected [ADDR]:PORT like [fd00::2]:80, got \"%s\"",
				    s);
		size_t l = (size_t)(rb - s - 1);
		if (l >= xlen)
			return perr(p, t->col, "address too long in \"%s\"", s);
		memcpy(xbuf, s + 1, l);
		xbuf[l] = '\0';
		portstr = rb + 2;
	} else {
		const char *c = strrchr(s, ':');
		if (!c)
			return perr(p, t->col, "expected HOST:PORT like server:8080, got \"%s\"", s);
		if (strchr(s, ':') != c)
			return perr(p, t->col,
				    "write IPv6 addresses in brackets, like [fd00::2]:80 (got "
				    "\"%s\")",
				    s);
		size_t l = (size_t)(c - s);
		if (l >= xlen)
			return perr(p, t->col, "host too long in \"%s\"", s);
		memcpy(xbuf, s, l);
		xbuf[l] = '\0';
		portstr = c + 1;
	}
	if (!*portstr)
		return perr(p, t->col, "missing port in \"%s\"", s);
	return get_port(p, t, portstr, port);
}

/* TARGET:PORT for connect and flood: a host name or an address of a lab host. */
static int get_target(struct parser *p, const struct tok *t, int *host, struct lab_addr *addr,
		      uint16_t *port)
{
	char x[128];
	if (split_hostport(p, t, x, sizeof(x), port))
		return -1;
	memset(addr, 0, sizeof(*addr));
	*host = -1;
	if (!x[0])
		return perr(p, t->col, "missing target host in \"%s\"", t->s);
	if (lab_parse_addr(x, false, addr) == 0) {
		if (addr_owner(p->lab, addr) < 0)
			return perr(p, t->col,
				    "%s is not an address of any host in this lab; labctl connects "
				    "only inside the lab",
				    x);
		return 0;
	}
	if (t->s[0] == '[')
		return perr(p, t->col, "bad IPv6 address \"%s\"", x);
	if (isdigit((unsigned char)x[0]))
		return perr(p, t->col, "bad address \"%s\"", x);
	*host = get_host_s(p, x, t->col);
	return *host < 0 ? -1 : 0;
}

static int step_listen(struct parser *p, int h, struct tok *t, int n)
{
	static const char *const keys[] = {"backlog", "accept", "on-eof", "data", "as"};
	if (n < 3)
		return perr(p, t[1].col, "listen needs [ADDR]:PORT, like :8080");
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	s.u.listen.backlog = 128;
	snprintf(s.u.listen.group, LAB_NAME_MAX, "s");
	char x[128];
	const struct tok *at = &t[2];
	if (!strchr(at->s, ':') && isdigit((unsigned char)at->s[0])) {
		/* a bare port: "listen 8080" reads as ":8080" */
		x[0] = '\0';
		if (get_port(p, at, at->s, &s.u.listen.port))
			return -1;
	} else if (split_hostport(p, at, x, sizeof(x), &s.u.listen.port)) {
		return -1;
	}
	if (x[0]) {
		if (lab_parse_addr(x, false, &s.u.listen.addr))
			return perr(p, at->col, "bad address \"%s\"", x);
		const struct lab_host *hh = &p->lab->hosts[h];
		if (!host_has_addr(hh, &s.u.listen.addr)) {
			char list[256];
			host_addr_list(hh, list, sizeof(list));
			return perr(p, at->col, "%s is not an address of host %s (it has %s)", x,
				    hh->name, list);
		}
		s.u.listen.has_addr = true;
	}
	int group_col = t[1].col;
	for (int i = 3; i < n; i++) {
		const char *k = t[i].s;
		if (!strcmp(k, "backlog")) {
			int64_t v;
			if (need(p, t, i, n, "a number") ||
			    get_uint(p, &t[i + 1], "backlog", 0, 1048576, &v))
				return -1;
			s.u.listen.backlog = (int)v;
			i++;
		} else if (!strcmp(k, "accept")) {
			static const char *const modes[] = {"auto", "never", "manual", "after"};
			if (need(p, t, i, n, "auto, never, manual or after DUR"))
				return -1;
			i++;
			int m = -1;
			for (int j = 0; j < 4; j++)
				if (!strcmp(t[i].s, modes[j]))
					m = j;
			if (m < 0) {
				char sug[96];
				mean(sug, sizeof(sug), t[i].s, modes, 4);
				return perr(p, t[i].col,
					    "accept must be auto, never, manual or after DUR, got "
					    "\"%s\"%s",
					    t[i].s, sug);
			}
			s.u.listen.accept = (enum lab_accept_mode)m;
			if (m == LAB_ACCEPT_AFTER) {
				if (need(p, t, i, n, "a duration like 1s") ||
				    get_duration(p, &t[i + 1], &s.u.listen.accept_after_ns))
					return -1;
				i++;
			}
		} else if (!strcmp(k, "on-eof")) {
			static const char *const modes[] = {"close", "keep", "shutdown"};
			if (need(p, t, i, n, "close, keep or shutdown"))
				return -1;
			i++;
			int m = -1;
			for (int j = 0; j < 3; j++)
				if (!strcmp(t[i].s, modes[j]))
					m = j;
			if (m < 0) {
				char sug[96];
				mean(sug, sizeof(sug), t[i].s, modes, 3);
				return perr(p, t[i].col,
					    "on-eof must be close, keep or shutdown, got \"%s\"%s",
					    t[i].s, sug);
			}
			s.u.listen.on_eof = (enum lab_eof_mode)m;
		} else if (!strcmp(k, "data")) {
			/* ignore: never read, so bytes pile up in the receive queue (and a
			 * close() with unread data sends RST, RFC 2525 2.17) */
			static const char *const modes[] = {"sink", "echo", "source", "ignore"};
			if (need(p, t, i, n, "sink, echo, source or ignore"))
				return -1;
			i++;
			int m = -1;
			for (int j = 0; j < 4; j++)
				if (!strcmp(t[i].s, modes[j]))
					m = j;
			if (m < 0) {
				char sug[96];
				mean(sug, sizeof(sug), t[i].s, modes, 4);
				return perr(p, t[i].col,
					    "data must be sink, echo, source or ignore, got \"%s\"%s", t[i].s,
					    sug);
			}
			s.u.listen.data = (enum lab_data_mode)m;
		} else if (!strcmp(k, "as")) {
			if (need(p, t, i, n, "a group name") ||
			    get_group_name(p, &t[i + 1], s.u.listen.group))
				return -1;
			i++;
			group_col = t[i].col;
		} else {
			return unknown_key(p, &t[i], "listen", keys, 5);
		}
	}
	if (group_define(p, h, s.u.listen.group, true, group_col))
		return -1;
	struct lab_step *ns = new_step(p, LAB_OP_LISTEN, h, t[0].col);
	if (!ns)
		return -1;
	ns->u = s.u;
	return 0;
}

static int step_connect(struct parser *p, int h, struct tok *t, int n)
{
	static const char *const keys[] = {"count", "rate", "as", "from"};
	if (n < 3)
		return perr(p, t[1].col, "connect needs TARGET:PORT, like server:8080");
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	s.u.connect.count = 1;
	snprintf(s.u.connect.group, LAB_NAME_MAX, "c");
	if (get_target(p, &t[2], &s.u.connect.target_host, &s.u.connect.target,
		       &s.u.connect.port))
		return -1;
	int group_col = t[1].col, from_col = 0;
	for (int i = 3; i < n; i++) {
		const char *k = t[i].s;
		if (!strcmp(k, "count")) {
			if (need(p, t, i, n, "a number") ||
			    get_uint(p, &t[i + 1], "count", 1, 1000000000, &s.u.connect.count))
				return -1;
			i++;
		} else if (!strcmp(k, "rate")) {
			if (need(p, t, i, n, "a rate like 100/s") ||
			    get_rate(p, &t[i + 1], &s.u.connect.rate))
				return -1;
			i++;
		} else if (!strcmp(k, "as")) {
			if (need(p, t, i, n, "a group name") ||
			    get_group_name(p, &t[i + 1], s.u.connect.group))
				return -1;
			i++;
			group_col = t[i].col;
		} else if (!strcmp(k, "from")) {
			if (need(p, t, i, n, "one of the host's addresses"))
				return -1;
			i++;
			if (lab_parse_addr(t[i].s, false, &s.u.connect.from))
				return perr(p, t[i].col, "expected an address like 10.0.0.1, got \"%s\"",
					    t[i].s);
			const struct lab_host *hh = &p->lab->hosts[h];
			if (!host_has_addr(hh, &s.u.connect.from)) {
				char list[256];
				host_addr_list(hh, list, sizeof(list));
				return perr(p, t[i].col, "%s is not an address of host %s (it has %s)",
					    t[i].s, hh->name, list);
			}
			s.u.connect.has_from = true;
			from_col = t[i].col;
		} else {
			return unknown_key(p, &t[i], "connect", keys, 4);
		}
	}
	if (s.u.connect.has_from && s.u.connect.target.family &&
	    s.u.connect.target.family != s.u.connect.from.family)
		return perr(p, from_col, "from address and target are different address families");
	if (group_define(p, h, s.u.connect.group, false, group_col))
		return -1;
	struct lab_step *ns = new_step(p, LAB_OP_CONNECT, h, t[0].col);
	if (!ns)
		return -1;
	ns->u = s.u;
	return 0;
}

static int step_group(struct parser *p, int h, enum lab_op op, struct tok *t, int n)
{
	const char *verb = t[1].s;
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	s.u.group.count = -1;
	if (n < 3)
		return perr(p, t[1].col, "%s needs a group name%s", verb,
			    op == LAB_OP_SEND ? " and a size" : "");
	struct group *g = NULL;
	if (group_use(p, h, &t[2], &g))
		return -1;
	snprintf(s.u.group.group, LAB_NAME_MAX, "%s", t[2].s);
	int i = 3;
	if (op == LAB_OP_SEND) {
		if (n < 4)
			return perr(p, t[1].col, "send needs a size, like send %s 1000", t[2].s);
		int rc = lab_parse_size(t[3].s, &s.u.group.bytes);
		if (rc == -ERANGE)
			return perr(p, t[3].col, "size \"%s\" is too large", t[3].s);
		if (rc)
			return perr(p, t[3].col, "expected a size like 1000, 1k or 64KiB, got \"%s\"",
				    t[3].s);
		i = 4;
	} else if ((op == LAB_OP_ACCEPT || op == LAB_OP_UNLISTEN) && !g->listen) {
		return perr(p, t[2].col,
			    "group \"%s\" on host %s is a connect group; %s takes a listen group",
			    t[2].s, p->lab->hosts[h].name, verb);
	} else if (op == LAB_OP_ACCEPT) {
		for (; i < n; i++) {
			if (!strcmp(t[i].s, "count")) {
				if (need(p, t, i, n, "a number") ||
				    get_uint(p, &t[i + 1], "count", 1, 1000000000,
					     &s.u.group.count))
					return -1;
				i++;
			} else {
				static const char *const keys[] = {"count"};
				return unknown_key(p, &t[i], "accept", keys, 1);
			}
		}
	}
	if (i < n)
		return perr(p, t[i].col, "unexpected \"%s\" after %s %s", t[i].s, verb, t[2].s);
	struct lab_step *ns = new_step(p, op, h, t[0].col);
	if (!ns)
		return -1;
	ns->u = s.u;
	return 0;
}

static int step_flood(struct parser *p, int h, struct tok *t, int n)
{
	static const char *const keys[] = {"rate", "for", "from"};
	if (n < 3)
		return perr(p, t[1].col, "flood needs TARGET:PORT rate R/s for DUR");
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	bool has_rate = false, has_for = false;
	int from_col = 0;
	if (get_target(p, &t[2], &s.u.flood.target_host, &s.u.flood.target, &s.u.flood.port))
		return -1;
	for (int i = 3; i < n; i++) {
		const char *k = t[i].s;
		if (!strcmp(k, "rate")) {
			if (need(p, t, i, n, "a rate like 1000/s") ||
			    get_rate(p, &t[i + 1], &s.u.flood.rate))
				return -1;
			i++;
			if (s.u.flood.rate <= 0)
				return perr(p, t[i].col, "flood rate must be above 0");
			has_rate = true;
		} else if (!strcmp(k, "for")) {
			if (need(p, t, i, n, "a duration like 5s") ||
			    get_duration(p, &t[i + 1], &s.u.flood.duration_ns))
				return -1;
			i++;
			if (s.u.flood.duration_ns <= 0)
				return perr(p, t[i].col, "flood duration must be above 0");
			has_for = true;
		} else if (!strcmp(k, "from")) {
			if (need(p, t, i, n, "a prefix inside the blackhole range"))
				return -1;
			i++;
			struct lab_addr a;
			if (lab_parse_addr(t[i].s, true, &a) && lab_parse_addr(t[i].s, false, &a))
				return perr(p, t[i].col,
					    "expected a prefix like 198.18.0.0/24, got \"%s\"", t[i].s);
			if (a.prefixlen < 0)
				a.prefixlen = a.family == AF_INET ? 32 : 128;
			s.u.flood.from = a;
			s.u.flood.has_from = true;
			from_col = t[i].col;
		} else {
			return unknown_key(p, &t[i], "flood", keys, 3);
		}
	}
	if (!has_rate)
		return perr(p, t[1].col, "flood needs rate R/s");
	if (!has_for)
		return perr(p, t[1].col, "flood needs for DUR");
	struct lab_step *ns = new_step(p, LAB_OP_FLOOD, h, t[0].col);
	if (!ns)
		return -1;
	ns->u = s.u;
	if (s.u.flood.has_from) {
		/* checked against the blackhole range at the end: it may be declared later */
		struct deferred *d = push(p, (void **)&p->floods, &p->nfloods, &p->cap_floods,
					  sizeof(*d));
		if (!d)
			return -1;
		d->index = p->lab->nsteps - 1;
		d->pos = pos_at(p, from_col);
	}
	return 0;
}

static int st_host_step(struct parser *p, int h, struct tok *t, int n)
{
	if (n < 2)
		return perr(p, t[0].col,
			    "expected a step after the host name (listen, connect, send, shutdown, "
			    "close, abort, accept, unlisten, flood)");
	const char *v = t[1].s;
	if (!strcmp(v, "listen"))
		return step_listen(p, h, t, n);
	if (!strcmp(v, "connect"))
		return step_connect(p, h, t, n);
	if (!strcmp(v, "send"))
		return step_group(p, h, LAB_OP_SEND, t, n);
	if (!strcmp(v, "shutdown"))
		return step_group(p, h, LAB_OP_SHUTDOWN, t, n);
	if (!strcmp(v, "close"))
		return step_group(p, h, LAB_OP_CLOSE, t, n);
	if (!strcmp(v, "abort"))
		return step_group(p, h, LAB_OP_ABORT, t, n);
	if (!strcmp(v, "accept"))
		return step_group(p, h, LAB_OP_ACCEPT, t, n);
	if (!strcmp(v, "unlisten"))
		return step_group(p, h, LAB_OP_UNLISTEN, t, n);
	if (!strcmp(v, "flood"))
		return step_flood(p, h, t, n);
	char sug[96];
	mean(sug, sizeof(sug), v, verbs, NVERBS);
	if (sug[0])
		return perr(p, t[1].col, "unknown step \"%s\"%s", v, sug);
	return perr(p, t[1].col,
		    "unknown step \"%s\" (listen, connect, send, shutdown, close, abort, accept, "
		    "unlisten, flood)",
		    v);
}

static int st_impair(struct parser *p, struct tok *t, int n)
{
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	int i, a, b;
	if (n < 3)
		return perr(p, t[0].col, "impair needs a link (A B or A>B) and impairments or clear");
	if (is_dir_tok(t[1].s)) {
		if (link_dir(p, &t[1], &s.u.impair.link, &s.u.impair.dir))
			return -1;
		s.u.impair.dir_only = true;
		i = 2;
	} else {
		int ha = get_host(p, &t[1]);
		if (ha < 0)
			return -1;
		int hb = get_host(p, &t[2]);
		if (hb < 0)
			return -1;
		s.u.impair.link = lab_link_find(p->lab, ha, hb);
		if (s.u.impair.link < 0)
			return perr(p, t[1].col, "no link between %s and %s", t[1].s, t[2].s);
		i = 3;
	}
	const struct lab_link *l = &p->lab->links[s.u.impair.link];
	a = l->a;
	b = l->b;
	if (i >= n)
		return perr(p, t[0].col, "impair needs impairments or clear");
	bool cleared;
	if (s.u.impair.dir_only) {
		/* Only the named direction: parse as if it were the link's, keep one half. */
		struct lab_impair both[2];
		memset(both, 0, sizeof(both));
		int d = s.u.impair.dir;
		for (int j = i; j < n; j++)
			if (is_dir_tok(t[j].s))
				return perr(p, t[j].col,
					    "impair %s already names one direction", t[1].s);
		if (parse_impairs(p, t, i, n, a, b, both, true, &cleared))
			return -1;
		s.u.impair.imp[d] = both[d];
	} else if (parse_impairs(p, t, i, n, a, b, s.u.impair.imp, true, &cleared)) {
		return -1;
	}
	struct lab_step *ns = new_step(p, LAB_OP_IMPAIR, -1, t[0].col);
	if (!ns)
		return -1;
	ns->u = s.u;
	return 0;
}

static int st_wait(struct parser *p, struct tok *t, int n)
{
	int64_t ns;
	if (n < 2)
		return perr(p, t[0].col, "wait needs a duration like 1s");
	if (n > 2)
		return perr(p, t[2].col, "unexpected \"%s\" after the duration", t[2].s);
	if (get_duration(p, &t[1], &ns))
		return -1;
	struct lab_step *s = new_step(p, LAB_OP_WAIT, -1, t[0].col);
	if (!s)
		return -1;
	s->u.wait.ns = ns;
	return 0;
}

/* count [OP] N / queue [OP] N ...: OP separate or attached (">=5"); no OP means "=". */
static int get_count(struct parser *p, struct tok *t, int *i, int n, struct lab_count *c,
		     const char *what)
{
	static const struct { const char *op; enum lab_cmp cmp; } ops[] = {
		{">=", LAB_CMP_GE}, {"<=", LAB_CMP_LE}, {"==", LAB_CMP_EQ}, {"!=", LAB_CMP_NE},
		{">", LAB_CMP_GT},  {"<", LAB_CMP_LT},  {"=", LAB_CMP_EQ},
	};
	const struct tok *kt = &t[*i];
	char label[96];
	snprintf(label, sizeof(label), "%s%s%s", what ? what : "", what ? " " : "", kt->s);
	if (need(p, t, *i, n, "a number, optionally after =, >=, <=, >, < or !="))
		return -1;
	(*i)++;
	const char *s = t[*i].s;
	int col = t[*i].col;
	c->cmp = LAB_CMP_EQ;
	for (size_t j = 0; j < sizeof(ops) / sizeof(ops[0]); j++) {
		size_t l = strlen(ops[j].op);
		if (!strncmp(s, ops[j].op, l)) {
			c->cmp = ops[j].cmp;
			s += l;
			col += (int)l;
			if (!*s) {
				if (*i + 1 >= n)
					return perr(p, t[*i].col, "%s %s needs a number", label,
						    t[*i].s);
				(*i)++;
				s = t[*i].s;
				col = t[*i].col;
			}
			break;
		}
	}
	if (parse_uint(s, 0, INT64_MAX, &c->n))
		return perr(p, col, "%s must be a whole number, got \"%s\"", label, s);
	return 0;
}

/* expect HOST path STATE... [port N] [within D] | expect HOST seen STATE [port N] [count C]
 * [within D]: what the timeline says a connection went through (issue 14). */
static int st_expect_history(struct parser *p, struct tok *t, int n, struct lab_step *e)
{
	bool path = !strcmp(t[2].s, "path");
	e->u.expect.kind = path ? LAB_EXPECT_PATH : LAB_EXPECT_SEEN;
	int i = 3;
	for (; i < n; i++) {
		int st = lab_state_parse(t[i].s);
		if (st < 0)
			break;
		if ((!path && i > 3) || e->u.expect.npath == LAB_PATH_MAX)
			return perr(p, t[i].col, path ? "a path has at most %d states" :
				    "seen takes one state (use path for a sequence)", LAB_PATH_MAX);
		e->u.expect.path[e->u.expect.npath++] = (enum lab_tcp_state)st;
		e->u.expect.state = (enum lab_tcp_state)st;
	}
	if (e->u.expect.npath == 0 && i < n && strcmp(t[i].s, "port") && strcmp(t[i].s, "within") &&
	    strcmp(t[i].s, "count")) {
		const char *best = lab_state_suggest(t[i].s);
		return perr(p, t[i].col, "unknown state \"%s\"%s%s%s", t[i].s,
			    best ? "; did you mean " : "", best ? best : "", best ? "?" : "");
	}
	if (e->u.expect.npath == 0)
		return perr(p, i < n ? t[i].col : t[2].col,
			    path ? "path needs the states, like path SYN_SENT ESTABLISHED TIME_WAIT" :
				   "seen needs a state, like seen SYN_RECV");
	for (; i < n; i++) {
		const char *k = t[i].s;
		if (!strcmp(k, "port")) {
			if (need(p, t, i, n, "a port number") ||
			    get_port(p, &t[i + 1], t[i + 1].s, &e->u.expect.port))
				return -1;
			i++;
		} else if (!strcmp(k, "within")) {
			if (need(p, t, i, n, "a duration like 1s") ||
			    get_duration(p, &t[i + 1], &e->u.expect.within_ns))
				return -1;
			i++;
		} else if (!path && !strcmp(k, "count")) {
			if (get_count(p, t, &i, n, &e->u.expect.count, NULL))
				return -1;
		} else if (path) {
			static const char *const keys[] = {"port", "within"};
			return unknown_key(p, &t[i], "expect HOST path", keys, 2);
		} else {
			static const char *const keys[] = {"port", "count", "within"};
			return unknown_key(p, &t[i], "expect HOST seen", keys, 3);
		}
	}
	return 0;
}

static int st_expect(struct parser *p, struct tok *t, int n)
{
	struct lab_step s;
	memset(&s, 0, sizeof(s));
	if (n < 3)
		return perr(p, t[0].col,
			    "expect needs a host and what to expect, like: expect client "
			    "ESTABLISHED");
	int h = get_host(p, &t[1]);
	if (h < 0)
		return -1;
	struct lab_step *e = &s;
	const char *w = t[2].s;
	int i = 3;
	e->u.expect.count.cmp = LAB_CMP_GE;
	e->u.expect.count.n = 1;
	if (!strcmp(w, "counter")) {
		e->u.expect.kind = LAB_EXPECT_COUNTER;
		if (n < 5)
			return perr(p, t[2].col,
				    "counter needs NAME [OP] N, like counter TcpExtListenOverflows "
				    ">= 1");
		const char *name = t[3].s;
		bool ok = isalpha((unsigned char)name[0]) &&
			  strlen(name) < sizeof(e->u.expect.counter);
		for (const char *c = name; ok && *c; c++)
			ok = isalnum((unsigned char)*c);
		if (!ok)
			return perr(p, t[3].col,
				    "counter name \"%s\" must be letters and digits, like "
				    "TcpExtListenOverflows",
				    name);
		snprintf(e->u.expect.counter, sizeof(e->u.expect.counter), "%s", name);
		i = 3;
		if (get_count(p, t, &i, n, &e->u.expect.count, "counter"))
			return -1;
		i++;
		for (; i < n; i++) {
			if (!strcmp(t[i].s, "within")) {
				if (need(p, t, i, n, "a duration like 1s") ||
				    get_duration(p, &t[i + 1], &e->u.expect.within_ns))
					return -1;
				i++;
			} else {
				static const char *const keys[] = {"within"};
				return unknown_key(p, &t[i], "expect counter", keys, 1);
			}
		}
	} else if (!strcmp(w, "path") || !strcmp(w, "seen")) {
		if (st_expect_history(p, t, n, e))
			return -1;
	} else if (!strcmp(w, "event")) {
		static const char *const keys[] = {"group", "count", "within"};
		e->u.expect.kind = LAB_EXPECT_EVENT;
		if (n < 4)
			return perr(p, t[2].col, "event needs a kind, like event refused");
		int k = lab_event_parse(t[3].s);
		if (k < 0) {
			const char *names[LAB_EV_MAX];
			for (int j = 0; j < LAB_EV_MAX; j++)
				names[j] = lab_event_name((enum lab_event_kind)j);
			char sug[96];
			mean(sug, sizeof(sug), t[3].s, names, LAB_EV_MAX);
			return perr(p, t[3].col,
				    "unknown event \"%s\" (connected, accepted, data, eof, refused, "
				    "timeout, reset, closed, error)%s",
				    t[3].s, sug);
		}
		e->u.expect.event = (enum lab_event_kind)k;
		for (i = 4; i < n; i++) {
			const char *k2 = t[i].s;
			if (!strcmp(k2, "group")) {
				if (need(p, t, i, n, "a group name") || group_use(p, h, &t[i + 1], NULL))
					return -1;
				i++;
				snprintf(e->u.expect.group, LAB_NAME_MAX, "%s", t[i].s);
			} else if (!strcmp(k2, "count")) {
				if (get_count(p, t, &i, n, &e->u.expect.count, NULL))
					return -1;
			} else if (!strcmp(k2, "within")) {
				if (need(p, t, i, n, "a duration like 1s") ||
				    get_duration(p, &t[i + 1], &e->u.expect.within_ns))
					return -1;
				i++;
			} else {
				return unknown_key(p, &t[i], "expect event", keys, 3);
			}
		}
	} else {
		int st = lab_state_parse(w);
		if (st < 0) {
			const char *best = lab_state_suggest(w);
			static const char *const words[] = {"counter", "event"};
			if (!best)
				best = lab_suggest(w, words, 2);
			if (best)
				return perr(p, t[2].col, "unknown state \"%s\"; did you mean %s?", w,
					    best);
			return perr(p, t[2].col,
				    "unknown state \"%s\" (ESTABLISHED, SYN_SENT, SYN_RECV, "
				    "FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT, CLOSED, CLOSE_WAIT, "
				    "LAST_ACK, LISTEN, CLOSING; or counter, event)",
				    w);
		}
		bool queue = false;
		if (st == LAB_TCP_LISTEN)
			for (int j = 3; j < n; j++)
				if (!strcmp(t[j].s, "queue") || !strcmp(t[j].s, "backlog") ||
				    !strcmp(t[j].s, "synrecv"))
					queue = true;
		e->u.expect.state = (enum lab_tcp_state)st;
		e->u.expect.kind = queue ? LAB_EXPECT_QUEUE : LAB_EXPECT_STATE;
		for (i = 3; i < n; i++) {
			const char *k = t[i].s;
			if (!strcmp(k, "port")) {
				if (need(p, t, i, n, "a port number") ||
				    get_port(p, &t[i + 1], t[i + 1].s, &e->u.expect.port))
					return -1;
				i++;
			} else if (!strcmp(k, "within")) {
				if (need(p, t, i, n, "a duration like 1s") ||
				    get_duration(p, &t[i + 1], &e->u.expect.within_ns))
					return -1;
				i++;
			} else if (!queue && !strcmp(k, "peer")) {
				if (need(p, t, i, n, "HOST[:PORT]"))
					return -1;
				i++;
				char name[64];
				const char *c = strchr(t[i].s, ':');
				size_t nl = c ? (size_t)(c - t[i].s) : strlen(t[i].s);
				if (nl >= sizeof(name))
					nl = sizeof(name) - 1;
				memcpy(name, t[i].s, nl);
				name[nl] = '\0';
				if ((e->u.expect.peer_host = get_host_s(p, name, t[i].col)) < 0)
					return -1;
				if (c && get_port(p, &t[i], c + 1, &e->u.expect.peer_port))
					return -1;
				e->u.expect.has_peer = true;
			} else if (!queue && !strcmp(k, "count")) {
				if (get_count(p, t, &i, n, &e->u.expect.count, NULL))
					return -1;
			} else if (queue && !strcmp(k, "queue")) {
				if (get_count(p, t, &i, n, &e->u.expect.queue, NULL))
					return -1;
				e->u.expect.has_queue = true;
			} else if (queue && !strcmp(k, "backlog")) {
				if (get_count(p, t, &i, n, &e->u.expect.backlog, NULL))
					return -1;
				e->u.expect.has_backlog = true;
			} else if (queue && !strcmp(k, "synrecv")) {
				if (get_count(p, t, &i, n, &e->u.expect.synrecv, NULL))
					return -1;
				e->u.expect.has_synrecv = true;
			} else if (queue) {
				static const char *const keys[] = {"port", "queue", "backlog",
								   "synrecv", "within"};
				return unknown_key(p, &t[i], "expect HOST listen", keys, 5);
			} else {
				static const char *const keys[] = {"port", "peer", "count", "within"};
				return unknown_key(p, &t[i], "expect HOST STATE", keys, 4);
			}
		}
	}
	struct lab_step *ns = new_step(p, LAB_OP_EXPECT, h, t[0].col);
	if (!ns)
		return -1;
	ns->u = s.u;
	return 0;
}

/* ---- driver ----------------------------------------------------------------------------- */

static bool is_step_segment(struct parser *p, struct tok *t, int n)
{
	if (n == 0)
		return false;
	if (!strcmp(t[0].s, "impair") || !strcmp(t[0].s, "wait") || !strcmp(t[0].s, "expect"))
		return true;
	if (is_statement(t[0].s))
		return false;
	return lab_host_find(p->lab, t[0].s) >= 0 || (n >= 2 && is_verb(t[1].s));
}

static int parse_segment(struct parser *p, struct tok *t, int n)
{
	const char *k = t[0].s;
	if (!strcmp(k, "lab")) return st_lab(p, t, n);
	if (!strcmp(k, "about")) return st_about(p, t, n);
	if (!strcmp(k, "seed")) return st_seed(p, t, n);
	if (!strcmp(k, "blackhole")) return st_blackhole(p, t, n);
	if (!strcmp(k, "host")) return st_host(p, t, n);
	if (!strcmp(k, "link")) return st_link(p, t, n);
	if (!strcmp(k, "route")) return st_route(p, t, n);
	if (!strcmp(k, "capture")) return st_capture(p, t, n);
	if (!strcmp(k, "drop")) return st_drop(p, t, n);
	if (!strcmp(k, "impair")) return st_impair(p, t, n);
	if (!strcmp(k, "wait")) return st_wait(p, t, n);
	if (!strcmp(k, "expect")) return st_expect(p, t, n);
	int h = lab_host_find(p->lab, k);
	if (h >= 0)
		return st_host_step(p, h, t, n);
	if (n >= 2 && is_verb(t[1].s))
		return get_host(p, &t[0]);  /* reports unknown / not yet declared host */
	char sug[96];
	mean(sug, sizeof(sug), k, statements, NSTATEMENTS);
	if (!sug[0]) {
		/* "clinet listen" is caught above; "clinet" alone may still be a host typo */
		const char **names = host_names(p);
		if (names) {
			mean(sug, sizeof(sug), k, names, (size_t)p->lab->nhosts);
			free(names);
		}
	}
	return perr(p, t[0].col, "unknown statement \"%s\"%s", k, sug);
}

static void parse_line(struct parser *p, struct line *ln)
{
	p->line = ln->lineno;
	p->end_col = ln->end_col;
	if (ln->bad_msg) {
		perr(p, ln->bad_col, "%s", ln->bad_msg);
		return;
	}
	if (ln->ntoks == 0)
		return;
	/* Split on '&' and check the shape before parsing any part. */
	int nseg = 1;
	for (int i = 0; i < ln->ntoks; i++)
		if (!strcmp(ln->toks[i].s, "&") && !ln->toks[i].quoted)
			nseg++;
	int start = 0;
	bool steps = false;
	for (int i = 0; i <= ln->ntoks; i++) {
		bool amp = i < ln->ntoks && !strcmp(ln->toks[i].s, "&") && !ln->toks[i].quoted;
		if (i < ln->ntoks && !amp)
			continue;
		struct tok *seg = &ln->toks[start];
		int n = i - start;
		if (n == 0) {
			int col = i < ln->ntoks ? ln->toks[i].col : ln->toks[i - 1].col;
			perr(p, col, "empty step around '&'");
			return;
		}
		if (nseg > 1 && !is_step_segment(p, seg, n)) {
			perr(p, seg[0].col, "only steps can be joined with '&' (\"%s\" is not a step)",
			     seg[0].s);
			return;
		}
		if (is_step_segment(p, seg, n))
			steps = true;
		start = i + 1;
	}
	start = 0;
	for (int i = 0; i <= ln->ntoks; i++) {
		bool amp = i < ln->ntoks && !strcmp(ln->toks[i].s, "&") && !ln->toks[i].quoted;
		if (i < ln->ntoks && !amp)
			continue;
		parse_segment(p, &ln->toks[start], i - start);
		if (p->stopped || p->oom)
			break;
		start = i + 1;
	}
	if (steps)
		p->together++;
}

/* Checks that need the whole file: the black-hole range may come after hosts and floods. */
static void check_whole(struct parser *p)
{
	struct lab *lab = p->lab;
	if (!lab->has_blackhole) {
		/* RFC 2544 benchmarking space: never routed, never a lab host's by accident. */
		lab_parse_addr("198.18.0.0/24", true, &lab->blackhole);
	}
	char bh[64];
	fmt_addr(&lab->blackhole, bh, sizeof(bh));
	struct lab_addr bnet = lab->blackhole;
	for (int h = 0; h < lab->nhosts && !p->stopped; h++) {
		for (int i = 0; i < lab->hosts[h].naddrs; i++) {
			struct lab_addr a = lab->hosts[h].addrs[i];
			a.prefixlen = -1;
			if (!lab_addr_same_subnet(&a, &bnet))
				continue;
			char as[64];
			fmt_addr(&a, as, sizeof(as));
			p->line = p->addr_pos[h][i].line;
			perr(p, p->addr_pos[h][i].col,
			     "address %s of host %s lies inside the blackhole range %s%s", as,
			     lab->hosts[h].name, bh,
			     lab->has_blackhole ? "" : " (the default; move it with blackhole CIDR)");
		}
	}
	for (int i = 0; i < p->nfloods && !p->stopped; i++) {
		const struct lab_step *s = &lab->steps[p->floods[i].index];
		const struct lab_addr *f = &s->u.flood.from;
		/* inside: same family, at least as long a prefix, and the network matches */
		if (f->family == bnet.family && f->prefixlen >= bnet.prefixlen) {
			struct lab_addr fa = *f;
			fa.prefixlen = bnet.prefixlen;
			if (lab_addr_same_subnet(&fa, &bnet))
				continue;
		}
		char fs[64];
		fmt_addr(f, fs, sizeof(fs));
		p->line = p->floods[i].pos.line;
		perr(p, p->floods[i].pos.col,
		     "flood source %s is not inside the blackhole range %s (SYN-ACKs must go "
		     "nowhere)",
		     fs, bh);
	}
	/* Only when nothing else is wrong: a host line with a bad name is reported already. */
	if (lab->nhosts == 0 && p->nerr == 0) {
		p->line = 1;
		perr(p, 1, "no host statements: a lab needs at least one host");
	}
}

/* Default lab name: the file's base name without extension, cleaned to [A-Za-z0-9_.-]. */
static void default_name(struct lab *lab, const char *file)
{
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	size_t j = 0;
	for (const char *c = base; *c && j + 1 < sizeof(lab->name); c++) {
		if (!strcmp(c, ".lab"))
			break;
		lab->name[j++] = isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.'
				 ? *c : '_';
	}
	lab->name[j] = '\0';
	if (!j)
		snprintf(lab->name, sizeof(lab->name), "lab");
}

static void lines_free(struct line *lines, int n)
{
	if (!lines)
		return;
	for (int i = 0; i < n; i++)
		free(lines[i].toks);
	free(lines);
}

static void parser_free(struct parser *p)
{
	for (int i = 0; i < p->nerr; i++)
		free(p->items[i].text);
	free(p->items);
	free(p->addr_pos);
	free(p->groups);
	free(p->decls);
	free(p->floods);
	free(p->errs);
}

static int parse_text(const char *name, const char *text, size_t len, struct lab **out,
		      struct lc_err *e, char **all)
{
	struct parser p;
	struct line *lines = NULL;
	char *arena = NULL;
	int nlines = 0, rc;
	memset(&p, 0, sizeof(p));
	if (all)
		*all = NULL;
	*out = NULL;
	p.file = name ? name : "-";
	p.lab = calloc(1, sizeof(*p.lab));
	if (!p.lab)
		return err_set(e, -ENOMEM, "%s: out of memory", p.file);
	snprintf(p.lab->file, sizeof(p.lab->file), "%s", p.file);

	/* Each token is at most as long as its source plus a NUL, and there are at most as
	 * many tokens as characters: 2 * len + 2 bytes always suffice. */
	arena = malloc(2 * len + 2);
	size_t maxlines = 1;
	for (size_t i = 0; i < len; i++)
		maxlines += text[i] == '\n';
	lines = calloc(maxlines, sizeof(*lines));
	if (!arena || !lines) {
		rc = err_set(e, -ENOMEM, "%s: out of memory", p.file);
		goto out_free;
	}
	char *ap = arena;
	for (size_t off = 0; off <= len && (size_t)nlines < maxlines;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (text + off)) : len - off;
		struct line *ln = &lines[nlines++];
		ln->lineno = nlines;
		if (tokenize(&p, text + off, ll, ln, &ap) < 0) {
			rc = err_set(e, -ENOMEM, "%s: out of memory", p.file);
			goto out_free;
		}
		if (!nl)
			break;
		off += ll + 1;
	}
	/* Pass 1: where each host is declared. */
	for (int i = 0; i < nlines; i++) {
		struct line *ln = &lines[i];
		if (ln->bad_msg || ln->ntoks < 2 || strcmp(ln->toks[0].s, "host"))
			continue;
		struct decl *d = push(&p, (void **)&p.decls, &p.ndecls, &p.cap_decls, sizeof(*d));
		if (!d)
			break;
		d->name = ln->toks[1].s;
		d->line = ln->lineno;
	}
	/* Pass 2: statements in order. */
	for (int i = 0; i < nlines && !p.stopped && !p.oom; i++)
		parse_line(&p, &lines[i]);
	if (!p.stopped && !p.oom)
		check_whole(&p);
	if (p.nerr && !p.oom)
		errs_join(&p);
	if (p.oom) {
		rc = err_set(e, -ENOMEM, "%s: out of memory", p.file);
		goto out_free;
	}
	if (p.nerr) {
		/* e->msg holds what fits, whole lines only; *all gets every line. */
		size_t cut = 0, cap = sizeof(e->msg) - 80;
		int shown = 0;
		for (size_t i = 0; i <= p.elen; i++) {
			if (i == p.elen || p.errs[i] == '\n') {
				if (i > cap)
					break;
				cut = i;
				shown++;
			}
		}
		int total = 1;
		for (size_t i = 0; i < p.elen; i++)
			total += p.errs[i] == '\n';
		if (shown < total)
			err_set(e, -EINVAL, "%.*s\n%s: %d more errors not shown", (int)cut, p.errs,
				p.file, total - shown);
		else
			err_set(e, -EINVAL, "%s", p.errs);
		if (all) {
			*all = p.errs;
			p.errs = NULL;
		}
		rc = -EINVAL;
		goto out_free;
	}
	if (!p.lab->name[0])
		default_name(p.lab, p.file);
	*out = p.lab;
	p.lab = NULL;
	rc = 0;
out_free:
	lines_free(lines, nlines);
	free(arena);
	parser_free(&p);
	lab_free(p.lab);
	return rc;
}

int lab_parse_string_errs(const char *name, const char *text, struct lab **out,
			  struct lc_err *e, char **all)
{
	if (!text || !out)
		return err_set(e, -EINVAL, "lab_parse_string: no text");
	return parse_text(name, text, strlen(text), out, e, all);
}

int lab_parse_string(const char *name, const char *text, struct lab **out, struct lc_err *e)
{
	return lab_parse_string_errs(name, text, out, e, NULL);
}

int lab_parse_file_errs(const char *path, struct lab **out, struct lc_err *e, char **all)
{
	int rc;
	if (all)
		*all = NULL;
	if (!path || !out)
		return err_set(e, -EINVAL, "lab_parse_file: no path");
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		rc = err_set(e, -errno, "%s: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(e, -EINVAL, "%s: not a regular file", path);
		goto out_close;
	}
	if (st.st_size > LAB_FILE_MAX) {
		rc = err_set(e, -EFBIG, "%s: larger than %d bytes; not a lab file?", path,
			     LAB_FILE_MAX);
		goto out_close;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = err_set(e, -ENOMEM, "%s: out of memory", path);
		goto out_close;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = err_set(e, -errno, "%s: %s", path, strerror(errno));
			goto out_buf;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	const char *nul = memchr(buf, '\0', got);
	if (nul) {
		int line = 1;
		for (const char *c = buf; c < nul; c++)
			line += *c == '\n';
		rc = err_set(e, -EINVAL, "%s:%d:1: NUL byte in the file; not a text file?", path,
			     line);
		goto out_buf;
	}
	rc = parse_text(path, buf, got, out, e, all);
out_buf:
	free(buf);
out_close:
	close(fd);
	return rc;
}

int lab_parse_file(const char *path, struct lab **out, struct lc_err *e)
{
	return lab_parse_file_errs(path, out, e, NULL);
}

void lab_free(struct lab *lab)
{
	if (!lab)
		return;
	free(lab->hosts);
	free(lab->links);
	free(lab->routes);
	free(lab->rules);
	free(lab->captures);
	free(lab->steps);
	free(lab);
}

int lab_host_find(const struct lab *lab, const char *name)
{
	if (!lab || !name)
		return -1;
	for (int i = 0; i < lab->nhosts; i++)
		if (!strcmp(lab->hosts[i].name, name))
			return i;
	return -1;
}

int lab_link_find(const struct lab *lab, int a, int b)
{
	if (!lab)
		return -1;
	for (int i = 0; i < lab->nlinks; i++) {
		const struct lab_link *l = &lab->links[i];
		if ((l->a == a && l->b == b) || (l->a == b && l->b == a))
			return i;
	}
	return -1;
}

int lab_host_addr_toward(const struct lab *lab, int h, int peer, int family,
			 struct lab_addr *out)
{
	if (!lab || h < 0 || h >= lab->nhosts || peer < 0 || peer >= lab->nhosts)
		return -ENOENT;
	const struct lab_host *H = &lab->hosts[h], *P = &lab->hosts[peer];
	for (int i = 0; i < H->naddrs; i++) {
		if (family && H->addrs[i].family != family)
			continue;
		for (int j = 0; j < P->naddrs; j++) {
			if (lab_addr_same_subnet(&H->addrs[i], &P->addrs[j])) {
				if (out)
					*out = H->addrs[i];
				return 0;
			}
		}
	}
	return -ENOENT;
}
