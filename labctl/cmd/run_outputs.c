/* run_outputs: grading records and the --step terminal (run_outputs.h). */
#include "cmd/run_outputs.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "render/report.h"

/* The lab file's name without folder and ".lab": a directory run's page names. */
void runout_file_stem(const char *file, char *buf, size_t len)
{
	const char *b = strrchr(file, '/');
	b = b ? b + 1 : file;
	size_t n = strlen(b);
	if (n > 4 && !strcmp(b + n - 4, ".lab"))
		n -= 4;
	snprintf(buf, len, "%.*s", (int)n, b);
}

void runout_grade_error(struct grade_suite *g, const char *name, const char *msg)
{
	struct grade_case c = {.status = GRADE_ERROR};
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.detail, sizeof(c.detail), "%s", msg);
	c.detail[strcspn(c.detail, "\n")] = '\0';
	grade_add(g, &c);
}

/* One test case per expectation, and one per step that stopped the lab with an error; an
 * expectation the lab never reached is skipped. */
void runout_grade_fill(struct grade_suite *g, const struct lab *lab, const struct run *r)
{
	const struct report_step *rec;
	int nrec = run_step_records(r, &rec);
	double prev = 0;
	const struct report_step *stop = NULL;
	for (int i = 0; i < nrec; i++)
		if (!strcmp(rec[i].mark, "ERR"))
			stop = &rec[i];
	for (int k = 0; k < lab->nsteps; k++) {
		const struct lab_step *st = &lab->steps[k];
		const struct report_step *s = NULL;
		for (int i = 0; i < nrec && !s; i++)
			if (rec[i].line == st->pos.line && rec[i].col == st->pos.col)
				s = &rec[i];
		if (st->op != LAB_OP_EXPECT && !(s && !strcmp(s->mark, "ERR")))
			continue;
		struct grade_case c = {.line = st->pos.line};
		if (!s) {
			c.status = GRADE_SKIPPED;
			snprintf(c.name, sizeof(c.name), "line %d: expectation", st->pos.line);
			if (stop)
				snprintf(c.detail, sizeof(c.detail), "not reached: the lab stopped at line %d",
					 stop->line);
			else
				snprintf(c.detail, sizeof(c.detail), "not reached");
			grade_add(g, &c);
			continue;
		}
		snprintf(c.name, sizeof(c.name), "line %d: %s", s->line, s->text);
		snprintf(c.detail, sizeof(c.detail), "%s", s->detail);
		c.status = !strcmp(s->mark, "ok") ? GRADE_PASS
			 : !strcmp(s->mark, "FAIL") ? GRADE_FAIL : GRADE_ERROR;
		c.seconds = s->t > prev ? s->t - prev : 0;
		prev = s->t;
		grade_add(g, &c);
	}
}

static int step_key(struct run *r, struct stepper *sp)
{
	for (;;) {
		if (run_wait_readable(r, sp->fd) < 0)
			return 'q';
		char c;
		ssize_t n = read(sp->fd, &c, 1);
		if (n == 0)
			return 'q';  /* the terminal went away */
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return 'q';
		}
		if (c == '\n' || c == '\r' || c == ' ')
			return '\n';
		if (c == 'c' || c == 'C')
			return 'c';
		if (c == 'q' || c == 'Q' || c == 4 /* ^D */)
			return 'q';
	}
}

enum run_step_answer runout_step_hook(struct run *r, const struct lab_step *st, const char *text,
				      void *arg)
{
	struct stepper *sp = arg;
	const struct lab *lab = run_lab(r);
	int idx = (int)(st - lab->steps);
	/* The sockets of the hosts the steps since the last pause acted on or connected to. */
	bool touched[LAB_MAX_HOSTS] = {0};
	for (int k = sp->next; k < idx && k < lab->nsteps; k++) {
		const struct lab_step *s = &lab->steps[k];
		if (s->host >= 0 && s->host < LAB_MAX_HOSTS && s->op != LAB_OP_EXPECT)
			touched[s->host] = true;
		if (s->op == LAB_OP_CONNECT && s->u.connect.target_host >= 0)
			touched[s->u.connect.target_host] = true;
	}
	for (int h = 0; h < lab->nhosts && h < LAB_MAX_HOSTS; h++) {
		if (!touched[h])
			continue;
		struct lc_err e = {0};
		fprintf(sp->out, "--- sockets of %s (labctl ss %s-%s) ---\n", lab->hosts[h].name,
			run_id(r), lab->hosts[h].name);
		fflush(sp->out);
		if (run_print_sockets(r, h, sp->out, &e) < 0)
			fprintf(sp->out, "  %s\n", e.msg);
	}
	sp->next = idx;
	fprintf(sp->out, "next: line %d: %s\n[Enter] run it   [c] run the rest   [q] stop and tear "
		"down > ", st->pos.line, text);
	fflush(sp->out);
	int k = step_key(r, sp);
	fputc('\n', sp->out);
	fflush(sp->out);
	return k == 'q' ? RUN_STEP_QUIT : k == 'c' ? RUN_STEP_ALL : RUN_STEP_NEXT;
}
