/* grade: JUnit XML and TAP from a run's expectations (grade.h). */
#include "render/grade.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int grade_add(struct grade_suite *s, const struct grade_case *c)
{
	struct grade_case *n = realloc(s->cases, (size_t)(s->ncases + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->cases = n;
	s->cases[s->ncases++] = *c;
	return 0;
}

void grade_suite_clear(struct grade_suite *s)
{
	free(s->cases);
	s->cases = NULL;
	s->ncases = 0;
}

/* XML attribute or text: the five specials escaped, control characters (not allowed in XML
 * 1.0 but for tab and newline) dropped. */
static void xml_put(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		case '\n': fputs("&#10;", f); break;
		case '\t': fputc(' ', f); break;
		default:
			if (c >= 0x20)
				fputc(c, f);
		}
	}
}

static void count(const struct grade_suite *s, int *fail, int *err, int *skip)
{
	*fail = *err = *skip = 0;
	for (int i = 0; i < s->ncases; i++) {
		*fail += s->cases[i].status == GRADE_FAIL;
		*err += s->cases[i].status == GRADE_ERROR;
		*skip += s->cases[i].status == GRADE_SKIPPED;
	}
}

int grade_junit(FILE *out, const struct grade_suite *s, int n)
{
	int tests = 0, fails = 0, errs = 0, skips = 0;
	double secs = 0;
	for (int i = 0; i < n; i++) {
		int f, e, k;
		count(&s[i], &f, &e, &k);
		tests += s[i].ncases;
		fails += f;
		errs += e;
		skips += k;
		secs += s[i].seconds;
	}
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"labctl\" tests=\"%d\" failures=\"%d\" errors=\"%d\" "
		"skipped=\"%d\" time=\"%.3f\">\n", tests, fails, errs, skips, secs);
	for (int i = 0; i < n; i++) {
		int f, e, k;
		count(&s[i], &f, &e, &k);
		fputs("  <testsuite name=\"", out);
		xml_put(out, s[i].name);
		fprintf(out, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" "
			"time=\"%.3f\" file=\"", s[i].ncases, f, e, k, s[i].seconds);
		xml_put(out, s[i].file);
		fputs("\">\n", out);
		for (int j = 0; j < s[i].ncases; j++) {
			const struct grade_case *c = &s[i].cases[j];
			fputs("    <testcase name=\"", out);
			xml_put(out, c->name);
			fputs("\" classname=\"labctl.", out);
			xml_put(out, s[i].name);
			fprintf(out, "\" time=\"%.3f\" file=\"", c->seconds);
			xml_put(out, s[i].file);
			fprintf(out, "\" line=\"%d\"", c->line);
			static const char *const tag[] = {NULL, "failure", "error", "skipped"};
			if (c->status == GRADE_PASS) {
				fputs("/>\n", out);
				continue;
			}
			fprintf(out, ">\n      <%s message=\"", tag[c->status]);
			xml_put(out, c->detail);
			fprintf(out, "\"%s>", c->status == GRADE_SKIPPED ? "/" : "");
			if (c->status != GRADE_SKIPPED) {
				xml_put(out, s[i].file);
				fprintf(out, ":%d: ", c->line);
				xml_put(out, c->detail);
				fprintf(out, "</%s>", tag[c->status]);
			}
			fputs("\n    </testcase>\n", out);
		}
		fputs("  </testsuite>\n", out);
	}
	fputs("</testsuites>\n", out);
	return ferror(out) ? -EIO : 0;
}

void grade_tap_head(FILE *out)
{
	fputs("TAP version 13\n", out);
	fflush(out);
}

/* A YAML scalar in double quotes. */
static void yaml_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void grade_tap_suite(FILE *out, const struct grade_suite *s, int *num)
{
	for (int i = 0; i < s->ncases; i++) {
		const struct grade_case *c = &s->cases[i];
		/* '#' starts a directive in a TAP description: none may appear in ours. */
		char desc[sizeof(c->name) + LAB_NAME_MAX + 4];
		snprintf(desc, sizeof(desc), "%s: %s", s->name, c->name);
		for (char *p = desc; *p; p++)
			if (*p == '#' || *p == '\n')
				*p = ' ';
		++*num;
		switch (c->status) {
		case GRADE_PASS:
			fprintf(out, "ok %d - %s\n", *num, desc);
			break;
		case GRADE_SKIPPED:
			fprintf(out, "ok %d - %s # SKIP %s\n", *num, desc, c->detail);
			break;
		case GRADE_FAIL:
		case GRADE_ERROR:
			fprintf(out, "not ok %d - %s\n  ---\n  severity: %s\n  message: ", *num, desc,
				c->status == GRADE_FAIL ? "fail" : "error");
			yaml_str(out, c->detail);
			fputs("\n  file: ", out);
			yaml_str(out, s->file);
			fprintf(out, "\n  line: %d\n  ...\n", c->line);
			break;
		}
	}
	fflush(out);
}

void grade_tap_plan(FILE *out, int num)
{
	fprintf(out, "1..%d\n", num);
	fflush(out);
}
