/* pmqos: keep the CPUs out of idle states while a lab runs (labctl run/up --low-latency).
 *
 * A frame that reaches the userlink forwarder while its CPU idles waits for the CPU to wake:
 * on the development machine (a VM whose idle is a halt) that wake-up costs about 30 us, most
 * of userlink's 40 us path latency and of its delay error.  A PM QoS CPU latency request of
 * 0 us (/dev/cpu_dma_latency) makes idle CPUs poll instead; the kernel keeps the request while
 * the file is open and drops it when the file closes, so a killed labctl leaves nothing set.
 * The price: idle CPUs spin for as long as the lab runs, which is why it is opt-in. */
#ifndef LABCTL_PMQOS_H
#define LABCTL_PMQOS_H

#include "base/err.h"

#define PMQOS_DEV "/dev/cpu_dma_latency"

/* Open a request for `us` microseconds of wake-up latency at most; returns the fd that holds
 * it (close it to drop the request), or a negative errno with what is missing in e. */
int pmqos_hold(int us, struct lc_err *e);

#endif
