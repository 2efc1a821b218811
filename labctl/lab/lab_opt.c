/* lab_opt: the KEY VALUE options of a statement, read from the statement's table
 * (struct lab_opt in lab_int.h): the key, what kind of value follows, where it goes and the
 * words of its messages.  Adding an option to a statement is one entry in its table (and
 * its line in docs/lab-format.md); what a statement does with its options once read stays in
 * the statement's own file.
 */
#include <stdio.h>
#include <string.h>

#include "lab/lab_int.h"

int lab_opt_key(struct parser *p, const struct lab_optset *set, const struct tok *key,
		const struct lab_optctx *c)
{
	for (size_t k = 0; k < set->n && k < LAB_OPTS_MAX; k++) {
		if (strcmp(key->s, set->opts[k].name))
			continue;
		if (set->opts[k].once && (c->seen & (1u << k)))
			return lab_perr(p, key->col, "%s given twice", key->s);
		return (int)k;
	}
	const char *names[LAB_OPTS_MAX];
	size_t n = 0;
	for (size_t k = 0; k < set->n && n < LAB_OPTS_MAX; k++)
		names[n++] = set->opts[k].name;
	return lab_unknown_key(p, key, set->stmt, names, n);
}

/* Store v into a whole-number field of 2, 4 or 8 bytes. */
static void put_int(void *field, size_t size, int64_t v)
{
	if (size == sizeof(int64_t)) {
		memcpy(field, &v, sizeof(v));
	} else if (size == sizeof(int32_t)) {
		uint32_t x = (uint32_t)v;
		memcpy(field, &x, sizeof(x));
	} else {
		uint16_t x = (uint16_t)v;
		memcpy(field, &x, sizeof(x));
	}
}

/* A LAB_OPT_WORD's value t: its index in o->words, or an error. */
static int word_value(struct parser *p, const struct lab_opt *o, const struct tok *t)
{
	size_t n = 0;
	while (o->words[n])
		n++;
	for (size_t j = 0; j < n; j++)
		if (!strcmp(t->s, o->words[j]))
			return (int)j;
	char sug[96];
	lab_mean(sug, sizeof(sug), t->s, o->words, n);
	if (!o->bad)
		return lab_perr(p, t->col, "%s must be %s, got \"%s\"%s", o->name, o->what, t->s,
				sug);
	char list[256];
	size_t off = 0;
	list[0] = '\0';
	for (size_t j = 0; j < n && off < sizeof(list); j++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s%s", j ? ", " : "",
				 o->words[j]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return lab_perr(p, t->col, "%s \"%s\" (%s)%s", o->bad, t->s, list, sug);
}

/* The value after t[*i] (o's key) into its field; *i ends on the value's last token. */
static int read_value(struct parser *p, const struct lab_opt *o, struct lab_optctx *c,
		      struct tok *t, int *i, int n)
{
	void *f = lab_opt_field(c, o);
	if (o->kind == LAB_OPT_FLAG) {
		*(bool *)f = true;
		return 0;
	}
	if (o->kind == LAB_OPT_COUNT)  /* reads its own key: "count needs a number, ..." */
		return lab_get_count(p, t, i, n, f, NULL);
	if (lab_need(p, t, *i, n, o->what))
		return -1;
	(*i)++;
	const struct tok *v = &t[*i];
	bool zero = false;
	switch (o->kind) {
	case LAB_OPT_UINT: {
		int64_t x;
		if (lab_get_uint(p, v, o->name, o->min, o->max, &x))
			return -1;
		put_int(f, o->size, x);
		zero = x == 0;
		break;
	}
	case LAB_OPT_DURATION:
		if (lab_get_duration(p, v, f))
			return -1;
		zero = *(int64_t *)f <= 0;
		break;
	case LAB_OPT_RATE:
		if (lab_get_rate(p, v, f))
			return -1;
		zero = *(double *)f <= 0;
		break;
	case LAB_OPT_BITRATE:
		if (lab_get_bitrate(p, v, f))
			return -1;
		zero = *(uint64_t *)f == 0;
		break;
	case LAB_OPT_PERCENT:
		if (lab_get_percent(p, v, f))
			return -1;
		break;
	case LAB_OPT_PORT:
		if (lab_get_port(p, v, v->s, f))
			return -1;
		break;
	case LAB_OPT_WORD: {
		int j = word_value(p, o, v);
		if (j < 0)
			return -1;
		put_int(f, o->size, o->min + j);
		break;
	}
	case LAB_OPT_GROUP_NEW:
		if (lab_get_group_name(p, v, f))
			return -1;
		break;
	case LAB_OPT_GROUP:
		if (lab_group_use(p, c->host, v, NULL))
			return -1;
		snprintf(f, LAB_NAME_MAX, "%s", v->s);
		break;
	case LAB_OPT_FN:
		return o->fn(p, o, c, t, i, n);
	case LAB_OPT_FLAG:
	case LAB_OPT_COUNT:
		break;
	}
	if (o->above0 && zero)
		return lab_perr(p, v->col, "%s", o->above0);
	return 0;
}

int lab_opt_value(struct parser *p, const struct lab_opt *o, struct lab_optctx *c, struct tok *t,
		  int *i, int n)
{
	if (read_value(p, o, c, t, i, n))
		return -1;
	if (o->fn && o->kind != LAB_OPT_FN && o->fn(p, o, c, t, i, n))
		return -1;
	if (o->has)
		*(bool *)((char *)c->obj + o->has - 1) = true;
	return 0;
}

int lab_opts_parse(struct parser *p, const struct lab_optset *set, struct tok *t, int i, int n,
		   struct lab_optctx *c)
{
	for (; i < n; i++) {
		int k = lab_opt_key(p, set, &t[i], c);
		if (k < 0 || lab_opt_value(p, &set->opts[k], c, t, &i, n))
			return -1;
		c->seen |= 1u << k;
		c->col[k] = t[i].col;
	}
	for (size_t k = 0; k < set->n; k++)
		if (set->opts[k].missing && !(c->seen & (1u << k)))
			return lab_perr(p, c->stmt_col, "%s", set->opts[k].missing);
	return 0;
}
