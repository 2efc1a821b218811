/* lab_int: the lab parser's internals, shared by lab_parse.c (the dispatcher: lines,
 * statements, the names they share, the whole-file checks, the public API), lab_lex.c
 * (tokens, values, errors), lab_opt.c (options from a table), and lab_topo.c, lab_impair.c,
 * lab_step.c and lab_expect.c (one kind of statement each).  Not for other modules: lab.h
 * is the interface.
 *
 * A statement parser gets its line's tokens t[0..n) and returns 0, or -1 after recording its
 * one error with lab_perr(); the statement is then dropped whole.
 */
#ifndef LABCTL_LAB_INT_H
#define LABCTL_LAB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lab/lab.h"

#define LAB_MAX_ERRORS 50
#define LAB_WORDS_MAX 64     /* words of one kind (word_names) */

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
	int cap_hosts, cap_links, cap_routes, cap_rules, cap_captures, cap_steps, cap_progs;
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

/* The grammar's entry points.  Each file of statements (lab_topo.c, lab_step.c, lab_expect.c)
 * has one table of the words it parses, ended by a NULL name; lab_parse.c's `families`
 * lists the tables.  Their order is the order of "did you mean" candidates and of the lists
 * in messages ("unknown step X (listen, connect, ...)"), so a word is known, suggested and
 * listed once it has its entry.  A new family of statements is a file with its table, its
 * extern line below and its line in `families`. */
enum lab_word_kind {
	LAB_STATEMENT,   /* WORD ...: a line's first word (lab, host, wait, expect) */
	LAB_VERB,        /* HOST WORD ...: a host's step (listen, connect, send) */
	LAB_EXPECT,      /* expect HOST WORD ...: what to expect besides a TCP state (counter) */
};

struct lab_word {
	enum lab_word_kind kind;
	const char *name;
	union {
		int (*statement)(struct parser *p, struct tok *t, int n);
		int (*verb)(struct parser *p, int host, enum lab_op op, struct tok *t, int n);
		/* fills e->u.expect from t[2..n); the caller adds the step */
		int (*expect)(struct parser *p, int host, struct tok *t, int n,
			      struct lab_step *e);
	} parse;
	bool step;           /* LAB_STATEMENT: a step, which '&' may join (impair, wait) */
	enum lab_op op;      /* LAB_VERB: passed to parse.verb */
};

extern const struct lab_word lab_topo_words[];    /* lab_topo.c */
extern const struct lab_word lab_step_words[];    /* lab_step.c */
extern const struct lab_word lab_expect_words[];  /* lab_expect.c */
extern const struct lab_word lab_prog_words[];    /* lab_prog.c */

static inline struct lab_pos lab_pos_at(struct parser *p, int col)
{
	struct lab_pos pos = {p->line, col};
	return pos;
}

/* ---- lab_lex.c: errors ---- */

/* Record "FILE:LINE:COL: message"; returns -1 so statement parsers can `return lab_perr(...)`. */
__attribute__((format(printf, 3, 4)))
int lab_perr(struct parser *p, int col, const char *fmt, ...);
/* Sort by line (stable) and join with '\n' into p->errs. */
void lab_errs_join(struct parser *p);
/* "; did you mean X?" or "" */
const char *lab_mean(char *buf, size_t len, const char *word, const char *const *cands,
		     size_t n);
/* "unknown key X; did you mean Y?", else "unknown key X (STMT takes A, B, C)", or just
 * "unknown key X" when stmt is NULL. */
int lab_unknown_key(struct parser *p, const struct tok *t, const char *stmt,
		    const char *const *keys, size_t n);
/* A new zeroed element at the end of *arr (n elements, cap allocated); NULL when out of
 * memory. */
void *lab_push(struct parser *p, void **arr, int *n, int *cap, size_t sz);
/* The same, with a copy of el: 0, or -1 when out of memory. */
int lab_append(struct parser *p, void **arr, int *n, int *cap, const void *el, size_t sz);

/* ---- lab_lex.c: tokens and values ---- */

int lab_tokenize(struct parser *p, const char *src, size_t len, struct line *ln, char **ap);
/* Column for "X needs a value" when the value is missing: the keyword's own column. */
int lab_need(struct parser *p, const struct tok *t, int i, int n, const char *what);
/* A whole number in [min, max]: digits only. */
int lab_parse_uint(const char *s, int64_t min, int64_t max, int64_t *out);
int lab_get_uint(struct parser *p, const struct tok *t, const char *what, int64_t min,
		 int64_t max, int64_t *out);
int lab_get_port(struct parser *p, const struct tok *t, const char *s, uint16_t *port);
int lab_get_duration(struct parser *p, const struct tok *t, int64_t *ns);
int lab_get_percent(struct parser *p, const struct tok *t, double *pct);
int lab_get_rate(struct parser *p, const struct tok *t, double *r);
int lab_get_bitrate(struct parser *p, const struct tok *t, uint64_t *bps);
/* t[*i] is a key (count, queue, ...) followed by [OP] N, OP separate or attached (">=5");
 * *i is left on N.  what prefixes the key in messages ("counter count"), or NULL. */
int lab_get_count(struct parser *p, struct tok *t, int *i, int n, struct lab_count *c,
		  const char *what);
/* Lab and group names: [A-Za-z0-9_.-]. */
bool lab_valid_name(const char *s);

/* ---- lab_opt.c: a statement's KEY VALUE options, from a table ---- */

/* What follows an option's key. */
enum lab_opt_kind {
	LAB_OPT_FLAG,       /* nothing: sets the bool */
	LAB_OPT_UINT,       /* a whole number in [min, max]: int, uint32_t or int64_t */
	LAB_OPT_DURATION,   /* "10ms": int64_t ns */
	LAB_OPT_RATE,       /* "1000/s": double */
	LAB_OPT_BITRATE,    /* "10mbit": uint64_t bits per second */
	LAB_OPT_PERCENT,    /* "5%": double */
	LAB_OPT_PORT,       /* uint16_t */
	LAB_OPT_WORD,       /* one of words: min + its index, into an int or an enum */
	LAB_OPT_COUNT,      /* [OP] N: struct lab_count */
	LAB_OPT_GROUP_NEW,  /* a group name this step makes: char[LAB_NAME_MAX] */
	LAB_OPT_GROUP,      /* a group the acting host has: char[LAB_NAME_MAX] */
	LAB_OPT_FN,         /* one value token, read by fn */
};

struct lab_optctx;

/* One option.  Messages: "KEY needs WHAT" when the value is missing; the value readers' own
 * ("port must be 1 to 65535, got ..."); for a LAB_OPT_WORD, "KEY must be WHAT, got \"W\"", or
 * with `bad` "BAD \"W\" (WORD, WORD, ...)".  An option may be given again (the last one wins)
 * unless `once`. */
struct lab_opt {
	const char *name;
	enum lab_opt_kind kind;
	size_t off, size;          /* the field in the caller's struct: LAB_FIELD(T, member) */
	const char *what;
	int64_t min, max;          /* LAB_OPT_UINT bounds; LAB_OPT_WORD: min is words[0]'s value */
	const char *const *words;  /* LAB_OPT_WORD: NULL-terminated */
	const char *bad;           /* LAB_OPT_WORD: "unknown distribution" */
	const char *above0;        /* message when the value is not above 0 */
	size_t has;                /* LAB_HAS(T, member): a bool set when the option is given */
	const char *missing;       /* message, at the statement's column, when not given */
	bool once;                 /* "KEY given twice" */
	uint32_t bit;              /* for the table's owner (lab_impair: IMP_*) */
	/* LAB_OPT_FN: reads the value t[*i] (advancing *i past more tokens it takes); for
	 * other kinds, when set, runs after the value is read, *i on its last token. */
	int (*fn)(struct parser *p, const struct lab_opt *o, struct lab_optctx *c, struct tok *t,
		  int *i, int n);
};

#define LAB_FIELD(T, m) .off = offsetof(T, m), .size = sizeof(((T *)0)->m)
#define LAB_HAS(T, m) .has = offsetof(T, m) + 1
#define LAB_OPTS_MAX 32

/* A statement's options.  stmt names it in "unknown key X (listen takes backlog, ...)"; NULL
 * gives a bare "unknown key X". */
struct lab_optset {
	const char *stmt;
	const struct lab_opt *opts;
	size_t n;                  /* at most LAB_OPTS_MAX */
};
#define LAB_OPTSET(stmt, opts) {stmt, opts, sizeof(opts) / sizeof(opts[0])}

struct lab_optctx {
	void *obj;                 /* where the fields are */
	int host;                  /* the acting host (groups), -1 when none */
	void *aux;                 /* for fn */
	int stmt_col;              /* column of `missing` messages */
	uint32_t seen;             /* bit k: opts[k] given */
	int col[LAB_OPTS_MAX];     /* column of opts[k]'s value (its key's when it has none) */
};

static inline void *lab_opt_field(const struct lab_optctx *c, const struct lab_opt *o)
{
	return (char *)c->obj + o->off;
}

/* Parse t[i..n) as options of set into c->obj.  0, or -1 after reporting the error. */
int lab_opts_parse(struct parser *p, const struct lab_optset *set, struct tok *t, int i, int n,
		   struct lab_optctx *c);
/* The pieces, for a loop with words of its own (impairments' X>Y): the index of the option
 * named by key (or an error: unknown, given twice), and reading its value. */
int lab_opt_key(struct parser *p, const struct lab_optset *set, const struct tok *key,
		const struct lab_optctx *c);
int lab_opt_value(struct parser *p, const struct lab_opt *o, struct lab_optctx *c, struct tok *t,
		  int *i, int n);

/* ---- lab_parse.c: names the statements share ---- */

/* The entry for word of that kind, or NULL. */
const struct lab_word *lab_word_find(enum lab_word_kind kind, const char *name);
/* The words of a kind in table order into names[0..cap); returns how many. */
size_t lab_word_names(enum lab_word_kind kind, const char **names, size_t cap);
/* "listen, connect, send" */
void lab_word_list(enum lab_word_kind kind, char *buf, size_t len);
bool lab_is_statement(const char *s);
/* Look up a host used by a statement; error (with suggestion, or "declared later") if
 * absent. */
int lab_get_host_s(struct parser *p, const char *name, int col);
int lab_get_host(struct parser *p, const struct tok *t);
/* Is token s a direction "X>Y"? */
bool lab_is_dir_tok(const char *s);
/* The hosts of direction t ("X>Y", is_dir_tok), or an error. */
int lab_get_dir_hosts(struct parser *p, const struct tok *t, int *x, int *y);
bool lab_addr_equal(const struct lab_addr *a, const struct lab_addr *b);
/* The host owning address a (prefix ignored), or -1. */
int lab_addr_owner(const struct lab *lab, const struct lab_addr *a);
bool lab_host_has_addr(const struct lab_host *h, const struct lab_addr *a);
void lab_fmt_addr(const struct lab_addr *a, char *buf, size_t len);
/* "10.0.0.2/24, fd00::2/64" for messages. */
void lab_host_addr_list(const struct lab_host *h, char *buf, size_t len);
/* Define group `name` on host for a listen or a connect; connects may re-use their group,
 * a listen group has one listener. */
int lab_group_define(struct parser *p, int host, const char *name, bool listen, int col);
int lab_group_use(struct parser *p, int host, const struct tok *t, struct group **out);
int lab_get_group_name(struct parser *p, const struct tok *t, char *out);

/* ---- lab_topo.c ---- */

/* "A>B" naming an existing link: link index and direction. */
int lab_link_dir(struct parser *p, const struct tok *t, int *link, int *dir);

/* ---- lab_impair.c ---- */

/* Parse impairments from t[i..n) into imp[0..1] for a link between hosts a and b.
 * Keys before any X>Y apply to both directions, after it to that direction only.
 * *cleared is set when the only word is "clear" (impair steps). */
int lab_parse_impairs(struct parser *p, struct tok *t, int i, int n, int a, int b,
		      struct lab_impair imp[2], bool allow_clear, bool *cleared);

/* ---- lab_prog.c ---- */

/* expect program NAME ... (t[1] is "program") */
int lab_expect_program(struct parser *p, struct tok *t, int n);
/* A program named by a step (defined on an earlier line), or -1 after an error. */
int lab_get_prog(struct parser *p, const struct tok *t);
void lab_progs_free(struct lab *lab);

/* ---- lab_step.c ---- */

/* A new step at the end of the lab's steps, in this line's '&' group, with the
 * statement-specific part (u) of s: 0, or -1 when out of memory. */
int lab_add_step(struct parser *p, enum lab_op op, int host, int col, const struct lab_step *s);

#endif
