/* grade: a run's expectations as grading output: JUnit XML (the form CI systems and
 * graders read: one <testsuite> per lab, one <testcase> per expectation, a <failure> with
 * what was seen) and TAP version 13 (packetdrill's choice; `prove` reads it).
 *
 * The caller fills the suites (cmd_run.c, from the run's step records); this module only
 * writes them to the FILE * it is given.
 */
#ifndef LABCTL_GRADE_H
#define LABCTL_GRADE_H

#include <stdio.h>

#include "base/err.h"
#include "lab/lab.h"

enum grade_status { GRADE_PASS, GRADE_FAIL, GRADE_ERROR, GRADE_SKIPPED };

struct grade_case {
	char name[320];           /* "line 22: expect client SYN_SENT within 1s" */
	int line;
	enum grade_status status;
	char detail[512];         /* what was seen, the error, or why it was skipped */
	double seconds;
};

struct grade_suite {
	char name[LAB_NAME_MAX];  /* the lab's name (its file when it did not parse) */
	char file[256];
	double seconds;
	struct grade_case *cases; /* owned by the suite: grade_suite_clear() frees them */
	int ncases;
};

/* Append a case; 0 or -ENOMEM. */
int grade_add(struct grade_suite *s, const struct grade_case *c);
void grade_suite_clear(struct grade_suite *s);

/* A whole JUnit document: <testsuites> with one <testsuite> per suite.  0 or -EIO. */
int grade_junit(FILE *out, const struct grade_suite *s, int n);

/* TAP: the header line, one suite's test points numbered from *num + 1 (updated), the plan. */
void grade_tap_head(FILE *out);
void grade_tap_suite(FILE *out, const struct grade_suite *s, int *num);
void grade_tap_plan(FILE *out, int num);

#endif
