/* paths: where labctl's other parts are, found from labctl's own location.
 *
 * An installed labctl is PREFIX/bin/labctl with its agent in PREFIX/libexec/labctl/ and the
 * lab catalogue in PREFIX/share/labctl/labs/ (make install).  Both are found relative to
 * /proc/self/exe, never through a compiled-in prefix, so a tree installed under a DESTDIR (or
 * moved) works as it is.  A labctl run from a checkout (labctl/labctl, build/san/labctl) finds
 * the checkout's agent and labs/ the same way.  LABCTL_AGENT and LABCTL_LABS override.
 *
 * Every function fills a caller-supplied buffer; nothing is allocated.
 */
#ifndef LABCTL_PATHS_H
#define LABCTL_PATHS_H

#include <stddef.h>

#include "base/err.h"

/* The directory labctl's executable is in (resolved, no trailing slash). */
int paths_self_dir(char *out, size_t len, struct lc_err *e);

/* The agent to exec: $LABCTL_AGENT, else the first executable of SELF/../libexec/labctl/,
 * SELF/ and SELF/../agents/.  -ENOENT with the places looked at in the message. */
int paths_agent(char *out, size_t len, struct lc_err *e);

/* The lab catalogue: $LABCTL_LABS, else the first directory of SELF/../share/labctl/labs,
 * SELF/../labs and SELF/../../labs.  -ENOENT with the places looked at. */
int paths_labs_dir(char *out, size_t len, struct lc_err *e);

/* What a lab argument names: ARG itself when it exists (a local file or directory wins);
 * else, when ARG has no '/', the catalogue's ARG.lab (or ARG, when it ends in .lab).  When
 * neither exists, out is ARG unchanged, so the caller's open reports it as before.  Returns
 * 1 when the catalogue was used, 0 otherwise. */
int paths_lab_resolve(const char *arg, char *out, size_t len);

#endif
