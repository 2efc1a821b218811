#include "cmd/version.h"

#include "labctl-version.h"  /* generated: $(OUT)/gen/labctl-version.h */

const char labctl_version[] = LABCTL_VERSION;
