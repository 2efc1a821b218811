#include "cmd/version.h"

/* The Makefile passes LABCTL_VERSION to this file alone (and rebuilds it when the text
 * changes); a build by other means says so. */
#ifndef LABCTL_VERSION
#define LABCTL_VERSION "unknown (not built by the Makefile)"
#endif

const char labctl_version[] = LABCTL_VERSION;
