/* lab_lex: a lab file's lines as tokens, tokens as values, and the error machinery.
 *
 * lab_tokenize() splits a line into words and quoted strings; lab_int.h's value readers (need,
 * get_uint, get_duration, ...) turn a token into a number, a duration or a rate with the
 * message a student reads when it is not one; lab_perr() records "FILE:LINE:COL: message" and
 * lab_errs_join() sorts and joins them at the end.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/lab_int.h"

/* ---- errors ----------------------------------------------------------------------------- */

static void err_add(struct parser *p, int line, int col, const char *text)
{
	int seq = p->nerr;
	struct perr_item *it = lab_push(p, (void **)&p->items, &p->nerr, &p->cap_items,
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

/* Record "FILE:LINE:COL: message"; returns -1 so statement parsers can `return lab_perr(...)`. */
__attribute__((format(printf, 3, 4)))
int lab_perr(struct parser *p, int col, const char *fmt, ...)
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
void lab_errs_join(struct parser *p)
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
const char *lab_mean(char *buf, size_t len, const char *word, const char *const *cands,
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
void *lab_push(struct parser *p, void **arr, int *n, int *cap, size_t sz)
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

int lab_append(struct parser *p, void **arr, int *n, int *cap, const void *el, size_t sz)
{
	void *to = lab_push(p, arr, n, cap, sz);
	if (!to)
		return -1;
	memcpy(to, el, sz);
	return 0;
}

/* ---- tokenizer -------------------------------------------------------------------------- */

/* Split one line (src, len bytes, no newline) into tokens written into the arena at *ap.
 * '#' outside quotes ends the line; '&' outside quotes is a token of its own; "..." quotes
 * (with \" and \\) may hold spaces and '#'. */
int lab_tokenize(struct parser *p, const char *src, size_t len, struct line *ln, char **ap)
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

/* ---- values ----------------------------------------------------------------------------- */

/* Column for "X needs a value" when the value is missing: the keyword's own column. */
int lab_need(struct parser *p, const struct tok *t, int i, int n, const char *what)
{
	if (i + 1 < n)
		return 0;
	return lab_perr(p, t[i].col, "%s needs %s", t[i].s, what);
}

/* A whole number in [min, max]: digits only. */
int lab_parse_uint(const char *s, int64_t min, int64_t max, int64_t *out)
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

int lab_get_uint(struct parser *p, const struct tok *t, const char *what, int64_t min,
		 int64_t max, int64_t *out)
{
	if (lab_parse_uint(t->s, min, max, out) == 0)
		return 0;
	return lab_perr(p, t->col, "%s must be a whole number from %lld to %lld, got \"%s\"", what,
			(long long)min, (long long)max, t->s);
}

int lab_get_port(struct parser *p, const struct tok *t, const char *s, uint16_t *port)
{
	int64_t v;
	if (lab_parse_uint(s, 1, 65535, &v))
		return lab_perr(p, t->col, "port must be 1 to 65535, got \"%s\"", s);
	*port = (uint16_t)v;
	return 0;
}

/* A value reader's error for t: "NOUN \"T\" RANGE" when out of range, else "expected LIKE,
 * got \"T\"". */
static int value_err(struct parser *p, const struct tok *t, int rc, const char *noun,
		     const char *range, const char *like)
{
	if (rc == -ERANGE)
		return lab_perr(p, t->col, "%s \"%s\" %s", noun, t->s, range);
	return lab_perr(p, t->col, "expected %s, got \"%s\"", like, t->s);
}

int lab_get_duration(struct parser *p, const struct tok *t, int64_t *ns)
{
	int rc = lab_parse_duration(t->s, ns);
	return rc ? value_err(p, t, rc, "duration", "is too large", "a duration like 10ms") : 0;
}

int lab_get_percent(struct parser *p, const struct tok *t, double *pct)
{
	int rc = lab_parse_percent(t->s, pct);
	return rc ? value_err(p, t, rc, "percentage", "is out of range (0% to 100%)",
			      "a percentage like 5%") : 0;
}

int lab_get_rate(struct parser *p, const struct tok *t, double *r)
{
	int rc = lab_parse_rate(t->s, r);
	return rc ? value_err(p, t, rc, "rate", "is too large", "a rate like 1000/s") : 0;
}

int lab_get_bitrate(struct parser *p, const struct tok *t, uint64_t *bps)
{
	int rc = lab_parse_bitrate(t->s, bps);
	return rc ? value_err(p, t, rc, "bit rate", "is too large", "a bit rate like 10mbit") : 0;
}

/* count [OP] N / queue [OP] N ...: OP separate or attached (">=5"); no OP means "=". */
int lab_get_count(struct parser *p, struct tok *t, int *i, int n, struct lab_count *c,
		  const char *what)
{
	static const struct { const char *op; enum lab_cmp cmp; } ops[] = {
		{">=", LAB_CMP_GE}, {"<=", LAB_CMP_LE}, {"==", LAB_CMP_EQ}, {"!=", LAB_CMP_NE},
		{">", LAB_CMP_GT},  {"<", LAB_CMP_LT},  {"=", LAB_CMP_EQ},
	};
	const struct tok *kt = &t[*i];
	char label[96];
	snprintf(label, sizeof(label), "%s%s%s", what ? what : "", what ? " " : "", kt->s);
	if (lab_need(p, t, *i, n, "a number, optionally after =, >=, <=, >, < or !="))
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
					return lab_perr(p, t[*i].col, "%s %s needs a number", label,
							t[*i].s);
				(*i)++;
				s = t[*i].s;
				col = t[*i].col;
			}
			break;
		}
	}
	if (lab_parse_uint(s, 0, INT64_MAX, &c->n))
		return lab_perr(p, col, "%s must be a whole number, got \"%s\"", label, s);
	return 0;
}

/* Lab and group names: [A-Za-z0-9_.-]. */
bool lab_valid_name(const char *s)
{
	if (!*s)
		return false;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.' && *c != '-')
			return false;
	return true;
}

int lab_unknown_key(struct parser *p, const struct tok *t, const char *stmt,
		    const char *const *keys, size_t n)
{
	char sug[96], list[256];
	lab_mean(sug, sizeof(sug), t->s, keys, n);
	if (sug[0] || !stmt)
		return lab_perr(p, t->col, "unknown key \"%s\"%s", t->s, sug);
	size_t off = 0;
	list[0] = '\0';
	for (size_t i = 0; i < n && off < sizeof(list); i++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", keys[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return lab_perr(p, t->col, "unknown key \"%s\" (%s takes %s)", t->s, stmt, list);
}
