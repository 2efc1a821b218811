/* rundir: one directory for every file a run writes (pcaps, SVGs), so that runs never litter
 * the current directory.
 *
 * Without --out or --capture, a run's files go to BASE/LABID, BASE being
 * $XDG_CACHE_HOME/labctl/runs (else ~/.cache/labctl/runs).  rundir_make() creates it with a
 * marker file (RUNDIR_MARK) that says labctl made it; rundir_done() removes it again when the
 * run wrote nothing into it; rundir_prune() keeps the newest RUNDIR_KEEP marked directories
 * of BASE and removes the rest.  Only marked directories are ever removed, and only the plain
 * files directly inside them (a run's directory is flat).
 */
#ifndef LABCTL_RUNDIR_H
#define LABCTL_RUNDIR_H

#include <stddef.h>

#include "base/err.h"

#define RUNDIR_MARK ".labctl-run"
#define RUNDIR_KEEP 50

/* BASE, created with its parents if missing.  0 or -errno (e set). */
int rundir_base(char *buf, size_t len, struct lc_err *e);
/* BASE/ID (or BASE/ID-2, ... when it exists), made fresh with its marker; its path in out.
 * 0 or -errno. */
int rundir_make(const char *base, const char *id, char *out, size_t len, struct lc_err *e);
/* Remove dir when it holds nothing but its marker.  Returns 1 if removed, else 0. */
int rundir_done(const char *dir);
/* Remove the oldest marked run directories of base beyond keep.  Returns how many went. */
int rundir_prune(const char *base, int keep);

#endif
