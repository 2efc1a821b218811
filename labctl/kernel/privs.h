/* privs: does this process have what labctl needs (root, or CAP_SYS_ADMIN and
 * CAP_NET_ADMIN)?  The message says what is missing and how to get it. */
#ifndef LABCTL_PRIVS_H
#define LABCTL_PRIVS_H

#include "base/err.h"

int privs_check(const char *what, struct lc_err *e);

#endif
