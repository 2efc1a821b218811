/* topo: a lab's topology made real: one network namespace per host, held by fd; links made
 * by an engine; addresses, routes, sysctls and forwarding.
 *
 * A topo owns its namespaces' fds and netlink sockets.  topo_free() closes them, which is
 * the whole teardown: the kernel frees the namespaces and every device inside.  Exposed
 * namespaces (bind mounts under /run/netns) are removed first, and only after checking the
 * bind still shows the namespace we made.
 */
#ifndef LABCTL_TOPO_H
#define LABCTL_TOPO_H

#include <stdbool.h>

#include "engine/engine.h"
#include "base/err.h"
#include "lab/lab.h"
#include "kernel/nlx.h"

#define TOPO_ID_MAX 48

struct topo_host {
	char name[LAB_NAME_MAX];
	char ns[TOPO_ID_MAX + LAB_NAME_MAX + 2];  /* LABID-HOST */
	int fd;
	unsigned long ino;
	struct nlx *nl;
	bool bound;          /* exposed under /run/netns/ns */
};

struct topo {
	const struct lab *lab;
	char id[TOPO_ID_MAX];
	struct topo_host *hosts;   /* lab->nhosts */
	int nhosts;
	struct engine *en;         /* not owned */
};

/* A fresh lab id: NAME-xxxx (4 random hex digits). */
void topo_make_id(const char *lab_name, char *id, size_t len);
/* 0 when id is usable as a lab id ([A-Za-z0-9_.-], at most 32 characters). */
int topo_check_id(const char *id, struct lc_err *e);

/* Build; en makes the links (engine_new).  On failure everything made so far is gone. */
int topo_build(const struct lab *lab, const char *id, struct engine *en, struct topo **out,
	       struct lc_err *e);
/* Bind every host's namespace at /run/netns/LABID-HOST. */
int topo_expose(struct topo *t, struct lc_err *e);
void topo_free(struct topo *t);

/* The device of host h that carries addr (the link whose peer shares its subnet), "lo" when
 * none does. */
const char *topo_dev_for_addr(const struct lab *lab, int h, const struct lab_addr *addr);

#endif
