/* run_capture: placeholder until capture and ladder land. */
#include "run_int.h"
int run_capture_start(struct run *r, struct lc_err *e) { (void)r; (void)e; return 0; }
void run_capture_report(struct run *r) { (void)r; }
void run_capture_free(struct run *r) { (void)r; }
