/* tcpev: see tcpev.h. */
#include "kernel/tcpev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int tcpev_decode(const void *data, size_t len, struct tcpev_event *ev, struct lc_err *e)
{
	struct tcpev_rec r;
	if (len != sizeof(r))
		return err_set(e, -EINVAL, "event record of %zu bytes (want %zu): labctl and its BPF "
			       "program disagree", len, sizeof(r));
	memcpy(&r, data, sizeof(r));
	if (r.kind < TCPEV_STATE || r.kind > TCPEV_TW_SEGMENT)
		return err_set(e, -EINVAL, "event record of unknown kind %u", r.kind);
	if (r.family != AF_INET && r.family != AF_INET6)
		return err_set(e, -EINVAL, "event record of unknown address family %u", r.family);
	if (r.newstate == 0 || r.newstate >= LAB_TCP_MAX_STATES ||
	    (r.kind == TCPEV_STATE && (r.oldstate == 0 || r.oldstate >= LAB_TCP_MAX_STATES)))
		return err_set(e, -EINVAL, "event record with unknown TCP state %u -> %u", r.oldstate,
			       r.newstate);
	memset(ev, 0, sizeof(*ev));
	ev->kind = r.kind;
	ev->host = (int)r.host;
	ev->family = r.family;
	/* IPv4 addresses sit in the first four bytes, as in struct diag_sock. */
	memcpy(ev->laddr, r.saddr, r.family == AF_INET ? 4 : 16);
	memcpy(ev->raddr, r.daddr, r.family == AF_INET ? 4 : 16);
	ev->lport = r.sport;
	ev->rport = r.dport;
	ev->key = r.key;
	ev->from = r.kind == TCPEV_STATE ? (enum lab_tcp_state)r.oldstate : LAB_TCP_NONE;
	ev->to = (enum lab_tcp_state)r.newstate;
	/* A request socket is TCP_NEW_SYN_RECV inside the kernel; users know it as SYN_RECV. */
	if (ev->to == LAB_TCP_NEW_SYN_RECV)
		ev->to = LAB_TCP_SYN_RECV;
	if (ev->from == LAB_TCP_NEW_SYN_RECV)
		ev->from = LAB_TCP_SYN_RECV;
	ev->mono_ns = (int64_t)r.ts_ns;
	return 0;
}

#ifndef HAVE_BPF

bool tcpev_built(void)
{
	return false;
}

int tcpev_open(const int *netns_fds, int n, size_t ring_bytes, tcpev_cb cb, void *arg,
	       struct tcpev **out, struct lc_err *e)
{
	(void)netns_fds, (void)n, (void)ring_bytes, (void)cb, (void)arg;
	*out = NULL;
	return err_set(e, -ENOTSUP, "this labctl was built without the BPF event observer (clang, "
		       "bpftool or libbpf-dev were missing at build time: make deps && make)");
}

int tcpev_fd(const struct tcpev *t)
{
	(void)t;
	return -1;
}

int tcpev_read(struct tcpev *t, struct lc_err *e)
{
	(void)t;
	return err_set(e, -ENOTSUP, "built without BPF");
}

void tcpev_get_stats(const struct tcpev *t, struct tcpev_stats *st)
{
	(void)t;
	memset(st, 0, sizeof(*st));
}

void tcpev_free(struct tcpev *t)
{
	(void)t;
}

#else /* HAVE_BPF */

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* libbpf through dlopen, as libpcap (kernel/pcapdl.h): linked directly it would add libbpf,
 * libelf and libz to every command's start.  The prototypes give each pointer its type; the
 * skeleton's calls are renamed onto the pointers before it is included. */
#define TCPEV_BPF_FUNCS(X) \
	X(bpf_object__open_skeleton) X(bpf_object__load_skeleton) \
	X(bpf_object__attach_skeleton) X(bpf_object__detach_skeleton) \
	X(bpf_object__destroy_skeleton) X(bpf_map__set_max_entries) X(bpf_map__fd) \
	X(bpf_map_update_elem) X(bpf_program__fd) X(bpf_obj_get_info_by_fd) \
	X(ring_buffer__new) X(ring_buffer__consume) X(ring_buffer__epoll_fd) \
	X(ring_buffer__free) X(libbpf_set_print)

#define TCPEV_DEFINE(f) static __typeof__(f) *sym_##f;
TCPEV_BPF_FUNCS(TCPEV_DEFINE)
#undef TCPEV_DEFINE

#define bpf_object__open_skeleton sym_bpf_object__open_skeleton
#define bpf_object__load_skeleton sym_bpf_object__load_skeleton
#define bpf_object__attach_skeleton sym_bpf_object__attach_skeleton
#define bpf_object__detach_skeleton sym_bpf_object__detach_skeleton
#define bpf_object__destroy_skeleton sym_bpf_object__destroy_skeleton

#include <tcpev.skel.h>  /* generated into the build directory (Makefile) */

_Static_assert(sizeof(struct tcpev_rec) == 64, "tcpev_rec layout");

static bool bpf_loaded;

static int bpfdl_load(struct lc_err *e)
{
	static const char *const names[] = {"libbpf.so.1", "libbpf.so"};
	char why[256] = "";
	if (bpf_loaded)
		return 0;
	void *h = NULL;
	for (size_t i = 0; !h && i < sizeof(names) / sizeof(names[0]); i++) {
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (!h && i == 0)
			snprintf(why, sizeof(why), "%s", dlerror());
	}
	if (!h)
		return err_set(e, -ENOENT, "the event observer needs libbpf, which is not installed "
			       "(%s); install it: apt-get install libbpf1", why);
#define TCPEV_RESOLVE(f)                                                                    \
	if (!(*(void **)&sym_##f = dlsym(h, #f))) {                                          \
		dlclose(h);                                                                  \
		return err_set(e, -ENOENT, "the libbpf found lacks %s (libbpf 1.0 or later is " \
			       "needed)", #f);                                               \
	}
	TCPEV_BPF_FUNCS(TCPEV_RESOLVE)
#undef TCPEV_RESOLVE
	bpf_loaded = true;
	return 0;
}

/* libbpf reports why a load failed only through its print callback, which takes no
 * argument: the last warning line is kept here and quoted in the error.  One open at a
 * time (labctl is single-threaded). */
static char bpf_last_warn[512];

static int bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (line[0])
		snprintf(bpf_last_warn, sizeof(bpf_last_warn), "%s", line);
	return 0;
}

struct tcpev {
	struct tcpev_bpf *skel;
	struct ring_buffer *rb;
	tcpev_cb cb;
	void *arg;
	struct tcpev_stats st;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct tcpev *t = ctx;
	struct tcpev_event ev;
	struct lc_err e = {0};
	if (tcpev_decode(data, size, &ev, &e) < 0) {  /* counted: a record is never fatal */
		t->st.bad++;
		return 0;
	}
	t->st.records++;
	t->cb(&ev, t->arg);
	return 0;
}

bool tcpev_built(void)
{
	return true;
}

/* Why a load or attach failed, with what to do about it. */
static int open_error(int rc, const char *what, struct lc_err *e)
{
	const char *hint = "";
	if (rc == -EPERM || rc == -EACCES)
		hint = " (needs root, or CAP_BPF and CAP_PERFMON)";
	else if (rc == -ENOENT || rc == -ESRCH || rc == -EINVAL)
		hint = " (needs a kernel with BTF, /sys/kernel/btf/vmlinux, and BPF tracing "
		       "programs: 5.12 or later with CONFIG_DEBUG_INFO_BTF)";
	return err_set(e, rc, "event observer: %s tcpev.bpf.o: %s%s%s%s", what, strerror(-rc), hint,
		       bpf_last_warn[0] ? "; libbpf: " : "", bpf_last_warn);
}

int tcpev_open(const int *netns_fds, int n, size_t ring_bytes, tcpev_cb cb, void *arg,
	       struct tcpev **out, struct lc_err *e)
{
	int rc;
	*out = NULL;
	if (getenv("LABCTL_TEST_TCPEV_FAIL"))
		return err_set(e, -ENOEXEC, "event observer: loading tcpev.bpf.o refused on purpose "
			       "(LABCTL_TEST_TCPEV_FAIL is set)");
	if (n < 0 || n > 256)
		return err_set(e, -EINVAL, "event observer: %d namespaces (at most 256)", n);
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0)
		return err_set(e, -ENOENT, "event observer: this kernel has no BTF "
			       "(/sys/kernel/btf/vmlinux: %s; it needs CONFIG_DEBUG_INFO_BTF)",
			       strerror(errno));
	if ((rc = bpfdl_load(e)) < 0)
		return rc;
	struct tcpev *t = calloc(1, sizeof(*t));
	if (!t)
		return err_set(e, -ENOMEM, "out of memory");
	t->cb = cb;
	t->arg = arg;
	bpf_last_warn[0] = '\0';
	libbpf_print_fn_t old = sym_libbpf_set_print(bpf_print);
	t->skel = tcpev_bpf__open();
	if (!t->skel) {
		rc = open_error(errno ? -errno : -EINVAL, "opening", e);
		goto err_print;
	}
	if (ring_bytes && (rc = sym_bpf_map__set_max_entries(t->skel->maps.events,
							     (uint32_t)ring_bytes)) < 0) {
		rc = open_error(rc, "sizing the ring buffer of", e);
		goto err_skel;
	}
	if ((rc = tcpev_bpf__load(t->skel)) < 0) {
		rc = open_error(rc, "loading", e);
		goto err_skel;
	}
	int mfd = sym_bpf_map__fd(t->skel->maps.netns);
	for (uint32_t i = 0; i < (uint32_t)n; i++) {
		struct stat st;
		if (fstat(netns_fds[i], &st) < 0) {
			rc = err_set(e, -errno, "event observer: namespace fd %d: %s", netns_fds[i],
				     strerror(errno));
			goto err_skel;
		}
		/* A network namespace's nsfs inode is its ns.inum, what the program reads. */
		uint32_t inum = (uint32_t)st.st_ino;
		if ((rc = sym_bpf_map_update_elem(mfd, &inum, &i, BPF_ANY)) < 0) {
			rc = open_error(rc, "filling the namespace map of", e);
			goto err_skel;
		}
	}
	if ((rc = tcpev_bpf__attach(t->skel)) < 0) {
		rc = open_error(rc, "attaching", e);
		goto err_skel;
	}
	t->rb = sym_ring_buffer__new(sym_bpf_map__fd(t->skel->maps.events), on_record, t, NULL);
	if (!t->rb) {
		rc = open_error(errno ? -errno : -ENOMEM, "opening the ring buffer of", e);
		goto err_skel;
	}
	sym_libbpf_set_print(old);
	*out = t;
	return 0;
err_skel:
	tcpev_bpf__destroy(t->skel);
err_print:
	sym_libbpf_set_print(old);
	free(t);
	return rc;
}

int tcpev_fd(const struct tcpev *t)
{
	return t ? sym_ring_buffer__epoll_fd(t->rb) : -1;
}

int tcpev_read(struct tcpev *t, struct lc_err *e)
{
	uint64_t before = t->st.records;
	int rc = sym_ring_buffer__consume(t->rb);
	if (rc < 0 && rc != -EINTR)
		return err_set(e, rc, "event observer: reading the ring buffer: %s", strerror(-rc));
	return (int)(t->st.records - before);
}

void tcpev_get_stats(const struct tcpev *t, struct tcpev_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!t)
		return;
	*st = t->st;
	st->ring_drops = t->skel->bss->ring_drops;
	struct bpf_program *progs[] = {t->skel->progs.on_set_state, t->skel->progs.on_timer_start,
				       t->skel->progs.on_timer_cancel, t->skel->progs.on_timer_expire,
				       t->skel->progs.on_kfree_skb};
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);
		memset(&info, 0, sizeof(info));
		if (sym_bpf_obj_get_info_by_fd(sym_bpf_program__fd(progs[i]), &info, &len) == 0)
			st->recursion_misses += info.recursion_misses;
	}
}

void tcpev_free(struct tcpev *t)
{
	if (!t)
		return;
	sym_ring_buffer__free(t->rb);
	tcpev_bpf__destroy(t->skel);
	free(t);
}

#endif /* HAVE_BPF */
