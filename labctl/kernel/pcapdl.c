/* pcapdl: see pcapdl.h. */
#include "kernel/pcapdl.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

#define PCAPDL_DEFINE(f) __typeof__(f) *sym_##f;
PCAPDL_FUNCS(PCAPDL_DEFINE)
#undef PCAPDL_DEFINE

int pcapdl_load(struct lc_err *e)
{
	static void *lib;
	/* Debian's runtime package names the library by its old soname; upstream's is .so.1. */
	static const char *const names[] = {"libpcap.so.0.8", "libpcap.so.1", "libpcap.so"};
	char why[256] = "";

	if (lib)
		return 0;
	void *h = NULL;
	for (size_t i = 0; !h && i < sizeof(names) / sizeof(names[0]); i++) {
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (!h && i == 0)  /* the next dlopen frees dlerror's text: keep a copy */
			snprintf(why, sizeof(why), "%s", dlerror());
	}
	if (!h)
		return err_set(e, -ENOENT, "capture and ladders need libpcap, which is not installed "
			       "(%s); install it: apt-get install libpcap0.8 (`labctl doctor` checks "
			       "this machine)", why);
#define PCAPDL_RESOLVE(f)                                                                      \
	if (!(*(void **)&sym_##f = dlsym(h, #f))) {                                             \
		err_set(e, -ENOENT, "the libpcap found lacks %s (libpcap 1.9 or later is needed)", \
			#f);                                                                    \
		dlclose(h);                                                                     \
		return -ENOENT;                                                                 \
	}
	PCAPDL_FUNCS(PCAPDL_RESOLVE)
#undef PCAPDL_RESOLVE
	lib = h;
	return 0;
}
