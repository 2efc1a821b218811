/* labctl doctor [--json]: can this machine run labs?  One line per requirement, with ok or
 * the problem and what to do about it.  The probes live in the layers that own each
 * interface (kernel/sysprobe, kernel/privs, kernel/pcapdl, engine's netem probe, base/paths);
 * this file only asks them, decides what a missing piece means and prints. */
#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/paths.h"
#include "cmd/cmds.h"
#include "cmd/version.h"
#include "engine/engine.h"
#include "kernel/pcapdl.h"
#include "kernel/privs.h"
#include "kernel/sysprobe.h"
#include "run/run.h"

static const char doctor_usage[] =
	"usage: labctl doctor [--json]\n"
	"\n"
	"Check that this machine can run labs: privileges (root, or unprivileged user\n"
	"namespaces), the agent and the lab catalogue, the impairment engines (netem in the\n"
	"kernel, or userlink through /dev/net/tun), BPF and BTF for the event observer,\n"
	"libpcap for capture and ladders, and the limits large labs meet (somaxconn in a\n"
	"new namespace, open files). One line per check: ok, warn (works, with a note), no\n"
	"(an optional part is missing) or FAIL (labs cannot run), with what to do.\n"
	"\n"
	"  --json      one JSON object: {\"version\", \"can_run\", \"checks\": [...]}\n"
	"  -h, --help  this text\n"
	"\n"
	"Exit: 0 labs can run here, 2 they cannot (a FAIL line says why).\n";

enum verdict { V_OK, V_WARN, V_NO, V_FAIL };
static const char *const verdict_names[] = {"ok", "warn", "no", "FAIL"};

struct check {
	const char *name;
	enum verdict v;
	char detail[LC_ERR_MAX];
	char fix[512];
};

#define NCHECKS 10
struct doctor {
	struct check c[NCHECKS];
	int n;
	bool root;
};

/* The layers' messages end by pointing to `labctl doctor`; not here. */
static const char *no_hint(char *msg)
{
	char *h = strstr(msg, " (`labctl doctor`");
	if (!h)
		h = strstr(msg, " (see `labctl doctor`)");
	if (h)
		*h = '\0';
	return msg;
}

static struct check *add(struct doctor *d, const char *name)
{
	struct check *c = &d->c[d->n++];
	memset(c, 0, sizeof(*c));
	c->name = name;
	return c;
}

static void check_privileges(struct doctor *d)
{
	struct check *c = add(d, "privileges");
	struct lc_err e = {0}, ue = {0};
	if (privs_check("labctl", &e) == 0) {
		d->root = true;
		snprintf(c->detail, sizeof(c->detail), "%s (CAP_SYS_ADMIN and CAP_NET_ADMIN)",
			 geteuid() == 0 ? "root" : "CAP_SYS_ADMIN and CAP_NET_ADMIN held");
		return;
	}
	if (sysprobe_userns(&ue) == 1) {
		/* measured: a veth lab passes as nobody under unshare -rn; TAP needs tun access */
		c->v = V_WARN;
		snprintf(c->detail, sizeof(c->detail), "not root, but unprivileged user namespaces "
			 "are allowed: labs run as `unshare -rn labctl run LAB` (no `up`, whose "
			 "/run/netns binds need real root)");
		snprintf(c->fix, sizeof(c->fix), "sudo labctl ... gives every command (up, exec, ss) "
			 "and both engines");
		return;
	}
	c->v = V_FAIL;
	snprintf(c->detail, sizeof(c->detail), "%s; unprivileged user namespaces: %s",
		 no_hint(e.msg), ue.msg);
	snprintf(c->fix, sizeof(c->fix), "sudo labctl ...");
}

static void check_agent(struct doctor *d)
{
	struct check *c = add(d, "agent");
	struct lc_err e = {0};
	if (paths_agent(c->detail, sizeof(c->detail), &e) == 0) {
		if (access(c->detail, X_OK) == 0)
			return;
		snprintf(e.msg, sizeof(e.msg), "LABCTL_AGENT=%s is not executable", c->detail);
	}
	c->v = V_FAIL;
	snprintf(c->detail, sizeof(c->detail), "%s", e.msg);
	snprintf(c->fix, sizeof(c->fix), "reinstall labctl (make install puts the agent in "
		 "PREFIX/libexec/labctl/), or set LABCTL_AGENT");
}

static void check_catalogue(struct doctor *d)
{
	struct check *c = add(d, "catalogue");
	struct lc_err e = {0};
	char dir[PATH_MAX];
	if (paths_labs_dir(dir, sizeof(dir), &e) < 0) {
		c->v = V_NO;
		snprintf(c->detail, sizeof(c->detail), "%s: `labctl run NAME` needs a file path",
			 e.msg);
		snprintf(c->fix, sizeof(c->fix), "make install (the catalogue goes to "
			 "PREFIX/share/labctl/labs/), or set LABCTL_LABS");
		return;
	}
	int n = 0;
	DIR *dh = opendir(dir);
	struct dirent *de;
	while (dh && (de = readdir(dh))) {
		size_t l = strlen(de->d_name);
		n += l > 4 && !strcmp(de->d_name + l - 4, ".lab");
	}
	if (dh)
		closedir(dh);
	snprintf(c->detail, sizeof(c->detail), "%s (%d labs: `labctl run NAME`)", dir, n);
}

/* netem and userlink: at least one must work for a lab with impaired links. */
static void check_engines(struct doctor *d)
{
	struct check *nc = add(d, "netem"), *uc = add(d, "userlink");
	struct lc_err ne = {0}, ue = {0};
	char how[128] = "";
	int netem, tun = sysprobe_tun(&ue);
	if (d->root) {
		netem = engine_probe_netem(&ne);
		snprintf(how, sizeof(how), "a netem qdisc was made in a throwaway namespace");
	} else {
		netem = sysprobe_netem_module(how, sizeof(how), &ne);
	}
	if (tun == 1)
		snprintf(uc->detail, sizeof(uc->detail), "/dev/net/tun opens: impaired links can "
			 "run in user space (TAP devices and a forwarder)");
	else {
		snprintf(uc->detail, sizeof(uc->detail), "%s", ue.msg);
		snprintf(uc->fix, sizeof(uc->fix), "modprobe tun, or run as root, or make "
			 "/dev/net/tun crw-rw-rw- (as most distributions do)");
	}
	if (netem == 1)
		snprintf(nc->detail, sizeof(nc->detail), "%s: --engine auto takes netem", how);
	else {
		/* the engine's message says what to do: that goes on the fix line */
		snprintf(nc->detail, sizeof(nc->detail), "%s; %s",
			 d->root && netem == 0 ? "this kernel has no sch_netem (a netem qdisc "
			 "cannot be made)" : no_hint(ne.msg),
			 tun == 1 ? "labs use the userlink engine instead (--engine auto picks it)"
				  : "and userlink cannot work either: only labs that impair no link "
				    "can run");
		snprintf(nc->fix, sizeof(nc->fix), "modprobe sch_netem, or install your "
			 "distribution's extra kernel modules (e.g. linux-modules-extra-$(uname -r))%s",
			 tun == 1 ? "; not needed while userlink works" : "");
	}
	nc->v = netem == 1 ? V_OK : tun == 1 ? V_NO : V_FAIL;
	uc->v = tun == 1 ? V_OK : netem == 1 ? V_NO : V_FAIL;
}

static void check_ebpf(struct doctor *d)
{
	struct check *c = add(d, "ebpf");
	struct lc_err e = {0};
	if (sysprobe_btf(&e) == 1) {
		snprintf(c->detail, sizeof(c->detail), "/sys/kernel/btf/vmlinux and bpf(): the "
			 "event observer can load");
		return;
	}
	c->v = V_NO;
	snprintf(c->detail, sizeof(c->detail), "%s: no event observer; labs run without it",
		 e.msg);
	snprintf(c->fix, sizeof(c->fix), "a kernel built with CONFIG_DEBUG_INFO_BTF=y and "
		 "CONFIG_BPF_SYSCALL=y (Debian's and Ubuntu's are)");
}

static void check_libpcap(struct doctor *d)
{
	struct check *c = add(d, "libpcap");
	struct lc_err e = {0};
	if (pcapdl_load(&e) == 0) {
		snprintf(c->detail, sizeof(c->detail), "loads: capture and ladders work");
		return;
	}
	c->v = V_NO;
	snprintf(c->detail, sizeof(c->detail), "%s; labs without capture still run",
		 no_hint(e.msg));
	snprintf(c->fix, sizeof(c->fix), "apt-get install libpcap0.8");
}

static void check_limits(struct doctor *d)
{
	struct check *c = add(d, "somaxconn");
	struct lc_err e = {0};
	long smc = 0;
	if (!d->root) {
		c->v = V_NO;
		snprintf(c->detail, sizeof(c->detail), "not checked: reading it in a new namespace "
			 "needs root");
	} else if (sysprobe_somaxconn(&smc, &e) == 1) {
		c->v = smc < 1024 ? V_WARN : V_OK;
		snprintf(c->detail, sizeof(c->detail), "%ld in a new namespace: listen backlogs "
			 "above it are capped", smc);
		snprintf(c->fix, sizeof(c->fix), "for a larger backlog, give the host `sysctl "
			 "net.core.somaxconn=N` in the lab file");
	} else {
		c->v = V_WARN;
		snprintf(c->detail, sizeof(c->detail), "%s", e.msg);
	}

	c = add(d, "open files");
	unsigned long long soft, hard;
	if (sysprobe_nofile(&soft, &hard, &e) < 0) {
		c->v = V_WARN;
		snprintf(c->detail, sizeof(c->detail), "%s", e.msg);
		return;
	}
	/* one descriptor per connection and a few of the agent's own */
	c->v = hard < 4096 ? V_WARN : V_OK;
	snprintf(c->detail, sizeof(c->detail), "hard limit %llu (soft %llu; each agent raises "
		 "its soft limit to the hard one): up to about %llu connections per host", hard,
		 soft, hard > 64 ? hard - 64 : 0);
	if (c->v == V_WARN)
		snprintf(c->fix, sizeof(c->fix), "raise it for labs with thousands of connections: "
			 "ulimit -Hn 1048576 (as root), or LimitNOFILE= in a systemd unit");
}

static bool can_run(const struct doctor *d)
{
	for (int i = 0; i < d->n; i++)
		if (d->c[i].v == V_FAIL)
			return false;
	return true;
}

static void print_text(const struct doctor *d)
{
	printf("labctl %s\n", labctl_version);
	for (int i = 0; i < d->n; i++) {
		const struct check *c = &d->c[i];
		printf("%-5s %-11s %s\n", verdict_names[c->v], c->name, c->detail);
		if (c->fix[0] && c->v != V_OK)
			printf("%-5s %-11s fix: %s\n", "", "", c->fix);
	}
	printf("%s\n", can_run(d) ? "labs can run here" : "labs cannot run here: see FAIL above");
}

static void print_json(const struct doctor *d)
{
	fputs("{\"version\":", stdout);
	run_json_str(stdout, labctl_version);
	printf(",\"can_run\":%s,\"checks\":[", can_run(d) ? "true" : "false");
	for (int i = 0; i < d->n; i++) {
		const struct check *c = &d->c[i];
		printf("%s{\"name\":", i ? "," : "");
		run_json_str(stdout, c->name);
		printf(",\"status\":\"%s\",\"detail\":", verdict_names[c->v]);
		run_json_str(stdout, c->detail);
		fputs(",\"fix\":", stdout);
		run_json_str(stdout, c->v == V_OK ? "" : c->fix);
		fputc('}', stdout);
	}
	fputs("]}\n", stdout);
}

int cmd_doctor(int argc, char **argv)
{
	bool json = false;
	if (cmd_wants_help(argc, argv)) {
		fputs(doctor_usage, stdout);
		return LC_EXIT_PASS;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			fprintf(stderr, "labctl doctor: unknown argument \"%s\"\n", argv[i]);
			fputs(doctor_usage, stderr);
			return LC_EXIT_USAGE;
		}
	}
	struct doctor d = {.n = 0};
	check_privileges(&d);
	check_agent(&d);
	check_catalogue(&d);
	check_engines(&d);
	check_ebpf(&d);
	check_libpcap(&d);
	check_limits(&d);
	if (json)
		print_json(&d);
	else
		print_text(&d);
	return can_run(&d) ? LC_EXIT_PASS : LC_EXIT_USAGE;
}
