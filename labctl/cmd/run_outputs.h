/* run_outputs: what `labctl run` makes beyond its step log: the grading records of a lab
 * (--junit, --tap) and the terminal side of --step.  Used by cmd_run.c only. */
#ifndef LABCTL_RUN_OUTPUTS_H
#define LABCTL_RUN_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <termios.h>

#include "lab/lab.h"
#include "render/grade.h"
#include "run/run.h"

/* --step: the terminal, and which steps ran since the last pause. */
struct stepper {
	int fd;                  /* the terminal */
	struct termios saved;
	bool raw;
	int next;                /* index of the first step not yet shown */
	FILE *out;
};

/* The lab file's name without folder and ".lab" (a directory run's page names). */
void runout_file_stem(const char *file, char *buf, size_t len);
/* One error case: the lab did not parse or build. */
void runout_grade_error(struct grade_suite *g, const char *name, const char *msg);
/* The lab's cases from the run's step records. */
void runout_grade_fill(struct grade_suite *g, const struct lab *lab, const struct run *r);
/* run_opts.step_hook for --step; arg is a struct stepper. */
enum run_step_answer runout_step_hook(struct run *r, const struct lab_step *st, const char *text,
				      void *arg);

#endif
