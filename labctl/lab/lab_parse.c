/* lab_parse: the lab file parser (grammar: docs/lab-format.md).
 *
 * Two passes over the tokenized lines: the first only notes where each host is declared (so
 * "host used before its host line" can say where the line is), the second parses statements
 * in order.  Every error is collected (up to LAB_MAX_ERRORS) rather than stopping at the
 * first: a student fixing a lab wants the whole list.  A statement with an error is dropped
 * whole, and parsing resumes on the next line.
 *
 * This file is the dispatcher: it splits lines into statements and hands each to its parser
 * through the word tables of lab_topo.c, lab_step.c and lab_expect.c (`families`), and holds
 * the names the statements share (hosts, addresses, groups), the whole-file checks and the
 * public API.  Tokens, values and the error machinery are in lab_lex.c.
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

#include "lab/lab_int.h"

#define LAB_FILE_MAX (4 << 20)

/* Every family of statements, in the order their words are suggested and listed. */
static const struct lab_word *const families[] = {
	lab_topo_words, lab_step_words, lab_expect_words, lab_prog_words,
};
#define NFAMILIES (sizeof(families) / sizeof(families[0]))

/* ---- the words -------------------------------------------------------------------------- */

const struct lab_word *lab_word_find(enum lab_word_kind kind, const char *name)
{
	for (size_t f = 0; f < NFAMILIES; f++)
		for (const struct lab_word *w = families[f]; w->name; w++)
			if (w->kind == kind && !strcmp(w->name, name))
				return w;
	return NULL;
}

size_t lab_word_names(enum lab_word_kind kind, const char **names, size_t cap)
{
	size_t n = 0;
	for (size_t f = 0; f < NFAMILIES; f++)
		for (const struct lab_word *w = families[f]; w->name && n < cap; w++)
			if (w->kind == kind)
				names[n++] = w->name;
	return n;
}

void lab_word_list(enum lab_word_kind kind, char *buf, size_t len)
{
	const char *names[LAB_WORDS_MAX];
	size_t n = lab_word_names(kind, names, LAB_WORDS_MAX), off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

bool lab_is_statement(const char *s)
{
	return lab_word_find(LAB_STATEMENT, s) != NULL;
}

/* ---- names the statements share --------------------------------------------------------- */

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
int lab_get_host_s(struct parser *p, const char *name, int col)
{
	int h = lab_host_find(p->lab, name);
	if (h >= 0)
		return h;
	for (int i = 0; i < p->ndecls; i++)
		if (!strcmp(p->decls[i].name, name) && p->decls[i].line > p->line)
			return lab_perr(p, col,
					"host \"%s\" is used before its host line (line %d); declare "
					"hosts first",
					name, p->decls[i].line);
	char sug[96] = "";
	const char **names = host_names(p);
	if (names) {
		lab_mean(sug, sizeof(sug), name, names, (size_t)p->lab->nhosts);
		free(names);
	}
	return lab_perr(p, col, "unknown host \"%s\"%s", name, sug);
}

int lab_get_host(struct parser *p, const struct tok *t)
{
	return lab_get_host_s(p, t->s, t->col);
}

bool lab_is_dir_tok(const char *s)
{
	const char *gt = strchr(s, '>');
	return gt && gt != s && gt[1];
}

int lab_get_dir_hosts(struct parser *p, const struct tok *t, int *x, int *y)
{
	char a[64], b[64];
	const char *gt = strchr(t->s, '>');
	size_t al = (size_t)(gt - t->s);
	if (al >= sizeof(a) || strlen(gt + 1) >= sizeof(b))
		return lab_perr(p, t->col, "bad direction \"%s\"", t->s);
	memcpy(a, t->s, al);
	a[al] = '\0';
	snprintf(b, sizeof(b), "%s", gt + 1);
	if ((*x = lab_get_host_s(p, a, t->col)) < 0)
		return -1;
	if ((*y = lab_get_host_s(p, b, t->col + (int)al + 1)) < 0)
		return -1;
	return 0;
}

bool lab_addr_equal(const struct lab_addr *a, const struct lab_addr *b)
{
	size_t n = a->family == AF_INET ? 4 : 16;
	return a->family == b->family && !memcmp(a->bytes, b->bytes, n);
}

/* The host owning address a (prefix ignored), or -1. */
int lab_addr_owner(const struct lab *lab, const struct lab_addr *a)
{
	for (int h = 0; h < lab->nhosts; h++)
		for (int i = 0; i < lab->hosts[h].naddrs; i++)
			if (lab_addr_equal(&lab->hosts[h].addrs[i], a))
				return h;
	return -1;
}

bool lab_host_has_addr(const struct lab_host *h, const struct lab_addr *a)
{
	for (int i = 0; i < h->naddrs; i++)
		if (lab_addr_equal(&h->addrs[i], a))
			return true;
	return false;
}

void lab_fmt_addr(const struct lab_addr *a, char *buf, size_t len)
{
	if (lab_addr_format(a, buf, len))
		snprintf(buf, len, "?");
}

/* "10.0.0.2/24, fd00::2/64" for messages. */
void lab_host_addr_list(const struct lab_host *h, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	if (h->naddrs == 0) {
		snprintf(buf, len, "no addresses");
		return;
	}
	for (int i = 0; i < h->naddrs && off + 2 < len; i++) {
		char a[64];
		lab_fmt_addr(&h->addrs[i], a, sizeof(a));
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
int lab_group_define(struct parser *p, int host, const char *name, bool listen, int col)
{
	struct group *g = group_find(p, host, name);
	if (g) {
		if (g->listen != listen)
			return lab_perr(p, col,
					"group \"%s\" on host %s is already a %s group (line %d); "
					"use another name with as",
					name, p->lab->hosts[host].name,
					g->listen ? "listen" : "connect", g->pos.line);
		/* the agent refuses a second listener in a group (EEXIST): say so now */
		if (listen)
			return lab_perr(p, col,
					"group \"%s\" on host %s already has a listener (line %d); "
					"name one of them with \"as NAME\"",
					name, p->lab->hosts[host].name, g->pos.line);
		return 0;
	}
	g = lab_push(p, (void **)&p->groups, &p->ngroups, &p->cap_groups, sizeof(*g));
	if (!g)
		return -1;
	g->host = host;
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->listen = listen;
	g->pos = lab_pos_at(p, col);
	return 0;
}

int lab_group_use(struct parser *p, int host, const struct tok *t, struct group **out)
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
	lab_mean(sug, sizeof(sug), t->s, cands, n);
	return lab_perr(p, t->col,
			"unknown group \"%s\" on host %s (groups are made by connect/listen ... as "
			"NAME, default c and s)%s",
			t->s, p->lab->hosts[host].name, sug);
}

int lab_get_group_name(struct parser *p, const struct tok *t, char *out)
{
	if (!lab_valid_name(t->s) || strlen(t->s) >= LAB_NAME_MAX)
		return lab_perr(p, t->col,
				"group name \"%s\" must be 1 to %d letters, digits, '_', '.' or '-'",
				t->s, LAB_NAME_MAX - 1);
	snprintf(out, LAB_NAME_MAX, "%s", t->s);
	return 0;
}

/* ---- driver ----------------------------------------------------------------------------- */

static int host_step(struct parser *p, int h, struct tok *t, int n)
{
	char list[256];
	lab_word_list(LAB_VERB, list, sizeof(list));
	if (n < 2)
		return lab_perr(p, t[0].col, "expected a step after the host name (%s)", list);
	const char *v = t[1].s;
	const struct lab_word *w = lab_word_find(LAB_VERB, v);
	if (w)
		return w->parse.verb(p, h, w->op, t, n);
	const char *verbs[LAB_WORDS_MAX];
	size_t nverbs = lab_word_names(LAB_VERB, verbs, LAB_WORDS_MAX);
	char sug[96];
	lab_mean(sug, sizeof(sug), v, verbs, nverbs);
	if (sug[0])
		return lab_perr(p, t[1].col, "unknown step \"%s\"%s", v, sug);
	return lab_perr(p, t[1].col, "unknown step \"%s\" (%s)", v, list);
}

static bool is_step_segment(struct parser *p, struct tok *t, int n)
{
	if (n == 0)
		return false;
	const struct lab_word *w = lab_word_find(LAB_STATEMENT, t[0].s);
	if (w)
		return w->step;
	return lab_host_find(p->lab, t[0].s) >= 0 || (n >= 2 && lab_word_find(LAB_VERB, t[1].s));
}

static int parse_segment(struct parser *p, struct tok *t, int n)
{
	const char *k = t[0].s;
	const struct lab_word *w = lab_word_find(LAB_STATEMENT, k);
	if (w)
		return w->parse.statement(p, t, n);
	int h = lab_host_find(p->lab, k);
	if (h >= 0)
		return host_step(p, h, t, n);
	if (n >= 2 && lab_word_find(LAB_VERB, t[1].s))
		return lab_get_host(p, &t[0]);  /* reports unknown / not yet declared host */
	const char *stmts[LAB_WORDS_MAX];
	size_t nstmts = lab_word_names(LAB_STATEMENT, stmts, LAB_WORDS_MAX);
	char sug[96];
	lab_mean(sug, sizeof(sug), k, stmts, nstmts);
	if (!sug[0]) {
		/* "clinet listen" is caught above; "clinet" alone may still be a host typo */
		const char **names = host_names(p);
		if (names) {
			lab_mean(sug, sizeof(sug), k, names, (size_t)p->lab->nhosts);
			free(names);
		}
	}
	return lab_perr(p, t[0].col, "unknown statement \"%s\"%s", k, sug);
}

static void parse_line(struct parser *p, struct line *ln)
{
	p->line = ln->lineno;
	p->end_col = ln->end_col;
	if (ln->bad_msg) {
		lab_perr(p, ln->bad_col, "%s", ln->bad_msg);
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
			lab_perr(p, col, "empty step around '&'");
			return;
		}
		if (nseg > 1 && !is_step_segment(p, seg, n)) {
			lab_perr(p, seg[0].col,
				 "only steps can be joined with '&' (\"%s\" is not a step)",
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
	lab_fmt_addr(&lab->blackhole, bh, sizeof(bh));
	static const char bh_default[] = " (the default; move it with blackhole CIDR)";
	struct lab_addr bnet = lab->blackhole;
	for (int h = 0; h < lab->nhosts && !p->stopped; h++) {
		for (int i = 0; i < lab->hosts[h].naddrs; i++) {
			struct lab_addr a = lab->hosts[h].addrs[i];
			a.prefixlen = -1;
			if (!lab_addr_same_subnet(&a, &bnet))
				continue;
			char as[64];
			lab_fmt_addr(&a, as, sizeof(as));
			p->line = p->addr_pos[h][i].line;
			lab_perr(p, p->addr_pos[h][i].col,
				 "address %s of host %s lies inside the blackhole range %s%s", as,
				 lab->hosts[h].name, bh, lab->has_blackhole ? "" : bh_default);
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
		lab_fmt_addr(f, fs, sizeof(fs));
		p->line = p->floods[i].pos.line;
		lab_perr(p, p->floods[i].pos.col,
			 "flood source %s is not inside the blackhole range %s (SYN-ACKs must go "
			 "nowhere)",
			 fs, bh);
	}
	/* Only when nothing else is wrong: a host line with a bad name is reported already. */
	if (lab->nhosts == 0 && p->nerr == 0) {
		p->line = 1;
		lab_perr(p, 1, "no host statements: a lab needs at least one host");
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
		if (lab_tokenize(&p, text + off, ll, ln, &ap) < 0) {
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
		struct decl *d = lab_push(&p, (void **)&p.decls, &p.ndecls, &p.cap_decls,
					  sizeof(*d));
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
		lab_errs_join(&p);
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
	lab_progs_free(lab);
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
