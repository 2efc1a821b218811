/* stall: fault-injection points for the lifetime tests.
 *
 * LABCTL_TEST_STALL=PHASE:MS makes labctl announce "labctl: stall PHASE" on stderr and sleep
 * MS milliseconds when it reaches PHASE (build: links made, addresses not yet; unwind:
 * teardown begins, agents still running; teardown: agents stopped, namespaces not yet closed), so a test can SIGKILL it at exactly that point.
 * Unset, it costs one getenv per phase. */
#ifndef LABCTL_STALL_H
#define LABCTL_STALL_H

void stall_point(const char *phase);

#endif
