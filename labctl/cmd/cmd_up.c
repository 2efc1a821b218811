/* labctl up / down / ls / exec: labs that outlive one command. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmds.h"
#include "base/err.h"
#include "base/paths.h"
#include "lab/lab.h"
#include "kernel/netns.h"
#include "kernel/privs.h"
#include "kernel/userns.h"
#include "run/registry.h"
#include "run/run.h"
#include "run/topo.h"

static const char up_usage[] =
	"usage: labctl up LAB [--id ID] [--engine auto|netem|userlink|veth] [--seed N] [--no-steps]\n"
	"                     [--low-latency] [--allow-root] [--observer auto|events|poll]\n"
	"\n"
	"Build LAB and keep it running under a supervisor process until `labctl down ID`.\n"
	"Its hosts are exposed as network namespaces /run/netns/ID-HOST, so\n"
	"`ip netns exec ID-HOST CMD` and `labctl exec ID HOST -- CMD` work. The lab's steps\n"
	"run once (unless --no-steps); their log is in " REG_DIR "/ID.log. Prints the id.\n"
	"Without root the lab lives in a user namespace of its own, its\n"
	"state in $XDG_RUNTIME_DIR/labctl (or /tmp/labctl-UID), and there is no /run/netns:\n"
	"use `labctl exec ID HOST`, which joins the lab's user namespace first.\n"
	"--allow-root lets program steps marked as-root run as root (programs run as the\n"
	"invoking user otherwise).  `labctl step ID LINE` and `labctl expect ID LINE` drive\n"
	"the lab afterwards.\n"
	"--low-latency keeps the CPUs out of idle states until the lab is down (precise\n"
	"userlink delays; idle CPUs spin meanwhile).  --observer: where the step log's\n"
	"timeline comes from (see labctl run --help).\n";

static const char down_usage[] =
	"usage: labctl down ID... | --all\n"
	"\n"
	"Stop labs started with `labctl up` (or exposed by a `labctl run --expose` that died).\n"
	"A lab whose supervisor is gone is cleaned up too: labctl removes only the namespace\n"
	"binds it recorded, and only when they still show the namespace it made.\n";

static const char ls_usage[] =
	"usage: labctl ls [--json]\n\nList the labs labctl is keeping (up, run --expose).\n";

static const char exec_usage[] =
	"usage: labctl exec ID HOST [--] [CMD [ARG...]]\n"
	"\n"
	"Run CMD (default $SHELL) inside HOST's network namespace of the running lab ID.\n"
	"As with `ip netns exec`, /sys is remounted in a private mount namespace, so\n"
	"/sys/class/net lists the host's own devices.\n";

static void log_path(const char *id, char *buf, size_t len)
{
	reg_file(id, "log", buf, len);
}

/* The supervisor's first word to `labctl up`, NUL-terminated: up reads to the NUL, not to
 * end of file, because the supervisor's own children may still hold the pipe. */
static void report_send(int fd, const char *msg)
{
	(void)!write(fd, msg, strlen(msg) + 1);
}

/* The supervisor: owns the lab until SIGTERM.  Reports "ok" or the error on fd report. */
static int supervise(const char *file, struct run_opts *o, bool steps, int report)
{
	struct lc_err e = {0};
	struct lab *lab = NULL;
	struct run *r = NULL;
	char path[256];
	int rc = LC_EXIT_USAGE;

	setsid();
	log_path(o->id, path, sizeof(path));
	reg_dir_make(NULL);
	int logfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0)
		dup2(nul, 0);
	if (logfd >= 0) {
		dup2(logfd, 1);
		dup2(logfd, 2);
	}
	/* Rootless: the supervisor makes the lab's user namespace and owns it until down. */
	if ((userns_wanted() && userns_enter(&e) < 0) || lab_parse_file(file, &lab, &e) < 0 ||
	    run_new(lab, o, &r, &e) < 0) {
		report_send(report, e.msg);
		goto out;
	}
	if (run_ctl_listen(r, &e) < 0) {
		report_send(report, e.msg);
		goto out;
	}
	report_send(report, "ok");
	close(report);
	report = -1;
	if (steps) {
		int failed = run_steps(r, &e);
		run_report(r, failed);
		if (failed < 0)
			fprintf(stderr, "%s\n", e.msg);
	}
	fflush(stdout);
	run_ctl_serve(r);
	run_hold(r);
	rc = LC_EXIT_PASS;
out:
	run_free(r);
	lab_free(lab);
	if (report >= 0)
		close(report);
	if (rc == LC_EXIT_PASS)
		unlink(path);
	return rc;
}

int cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {
		{"id", required_argument, 0, 'I'},   {"engine", required_argument, 0, 'E'},
		{"seed", required_argument, 0, 'S'}, {"no-steps", no_argument, 0, 'N'},
		{"low-latency", no_argument, 0, 'L'}, {"help", no_argument, 0, 'h'},
		{"allow-root", no_argument, 0, 'R'},
		{"observer", required_argument, 0, 'O'},
		{0, 0, 0, 0},
	};
	struct run_opts o = {.expose = true, .kind = "up", .out = stdout};
	bool steps = true;
	char id[TOPO_ID_MAX];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'I': o.id = optarg; break;
		case 'E': o.engine = optarg; break;
		case 'S':
			o.seed = strtoull(optarg, NULL, 0);
			o.has_seed = true;
			break;
		case 'N': steps = false; break;
		case 'L': o.low_latency = true; break;
		case 'R': o.allow_root = true; break;
		case 'O':
			if (strcmp(optarg, "auto") && strcmp(optarg, "events") && strcmp(optarg, "poll")) {
				fprintf(stderr, "labctl up: --observer must be auto, events or poll, not "
					"\"%s\"\n", optarg);
				return LC_EXIT_USAGE;
			}
			o.observer = optarg;
			break;
		case 'h': fputs(up_usage, stdout); return LC_EXIT_PASS;
		default: fputs(up_usage, stderr); return LC_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(up_usage, stderr);
		return LC_EXIT_USAGE;
	}
	char file[PATH_MAX];  /* a catalogue lab by name: `labctl up handshake` */
	paths_lab_resolve(argv[optind], file, sizeof(file));
	struct lc_err e = {0};
	struct lab *lab = NULL;
	if (userns_wanted() && o.low_latency) {
		fprintf(stderr, "labctl up: --low-latency needs root: /dev/cpu_dma_latency (the PM "
			"QoS request) opens for root only (run with sudo, or without --low-latency)\n");
		return LC_EXIT_USAGE;
	}
	if (!userns_wanted() && privs_check("labctl up", &e) < 0) {
		fprintf(stderr, "labctl up: %s\n", e.msg);
		return LC_EXIT_USAGE;
	}
	/* Validate in the foreground so errors reach the terminal with their positions. */
	char *all = NULL;
	if (lab_parse_file_errs(file, &lab, &e, &all) < 0) {
		fprintf(stderr, "%s\n", all ? all : e.msg);
		free(all);
		return LC_EXIT_USAGE;
	}
	if (o.id) {
		if (topo_check_id(o.id, &e) < 0) {
			fprintf(stderr, "labctl up: %s\n", e.msg);
			lab_free(lab);
			return LC_EXIT_USAGE;
		}
		snprintf(id, sizeof(id), "%s", o.id);
	} else {
		topo_make_id(lab->name, id, sizeof(id));
	}
	lab_free(lab);
	struct reg_entry old;
	if (reg_read(id, &old, NULL) == 0) {
		fprintf(stderr, "labctl up: a lab with id %s exists already%s\n", id,
			reg_alive(&old) ? "" : " (its supervisor is gone: labctl down removes it)");
		reg_entry_clear(&old);
		return LC_EXIT_USAGE;
	}
	o.id = id;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("labctl up: pipe");
		return LC_EXIT_USAGE;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("labctl up: fork");
		return LC_EXIT_USAGE;
	}
	if (pid == 0) {
		close(p[0]);
		/* Detach from the caller entirely: a grandchild, reparented to init. */
		pid_t g = fork();
		if (g != 0)
			_exit(g < 0 ? 2 : 0);
		_exit(supervise(file, &o, steps, p[1]));
	}
	close(p[1]);
	waitpid(pid, NULL, 0);
	char msg[LC_ERR_MAX + 1];
	size_t n = 0;
	ssize_t k;
	while (n < sizeof(msg) - 1 && (n == 0 || msg[n - 1] != '\0') &&
	       (k = read(p[0], msg + n, sizeof(msg) - 1 - n)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n += (size_t)k;
	}
	msg[n] = '\0';
	close(p[0]);
	if (strcmp(msg, "ok") != 0) {
		fprintf(stderr, "labctl up: %s\n", n ? msg : "the supervisor died while building");
		return LC_EXIT_USAGE;
	}
	printf("%s\n", id);
	return LC_EXIT_PASS;
}

/* Remove a lab whose supervisor is gone: its recorded binds (inode-checked) and entry. */
static int cleanup_dead(const struct reg_entry *r, struct lc_err *e)
{
	int rc = 0;
	for (int h = 0; h < r->nhosts; h++) {
		struct lc_err he = {0};
		if (netns_unbind(r->hosts[h].ns, r->hosts[h].ino, &he) < 0) {
			rc = err_set(e, he.code, "%s", he.msg);
		}
	}
	reg_remove(r->id);
	char sock[256];
	reg_file(r->id, "sock", sock, sizeof(sock));
	unlink(sock);
	return rc;
}

static int down_one(const char *id)
{
	struct lc_err e = {0};
	struct reg_entry r;
	char lp[256];
	if (reg_read(id, &r, &e) < 0) {
		fprintf(stderr, "labctl down: %s\n", e.msg);
		return LC_EXIT_USAGE;
	}
	int rc = LC_EXIT_PASS;
	if (reg_alive(&r)) {
		kill(r.pid, SIGTERM);
		/* The supervisor tears down and removes its entry; give it 10 s. */
		for (int i = 0; i < 1000 && reg_alive(&r); i++)
			usleep(10000);
		if (reg_alive(&r)) {
			fprintf(stderr, "labctl down: %s: supervisor %d did not stop; killing it\n", id,
				(int)r.pid);
			kill(r.pid, SIGKILL);
			for (int i = 0; i < 100 && reg_alive(&r); i++)
				usleep(10000);
		}
		/* A supervisor that stopped cleanly removed its binds and then its entry; clean up
		 * after it only when the entry is still there. */
		struct reg_entry still;
		if (reg_read(id, &still, NULL) == 0) {
			reg_entry_clear(&still);
			if (cleanup_dead(&r, &e) < 0) {
				fprintf(stderr, "labctl down: %s: %s\n", id, e.msg);
				rc = LC_EXIT_USAGE;
			}
		}
		printf("%s: down\n", id);
	} else {
		if (cleanup_dead(&r, &e) < 0) {
			fprintf(stderr, "labctl down: %s: %s\n", id, e.msg);
			rc = LC_EXIT_USAGE;
		}
		printf("%s: down (its supervisor had died; removed what it left)\n", id);
	}
	log_path(id, lp, sizeof(lp));
	unlink(lp);
	reg_entry_clear(&r);
	return rc;
}

int cmd_down(int argc, char **argv)
{
	if (cmd_wants_help(argc, argv)) {
		fputs(down_usage, stdout);
		return LC_EXIT_PASS;
	}
	if (argc < 2) {
		fputs(down_usage, stderr);
		return LC_EXIT_USAGE;
	}
	struct lc_err e = {0};
	if (!userns_wanted() && privs_check("labctl down", &e) < 0) {
		fprintf(stderr, "labctl down: %s\n", e.msg);
		return LC_EXIT_USAGE;
	}
	int rc = LC_EXIT_PASS;
	if (!strcmp(argv[1], "--all")) {
		char **ids;
		int n;
		if (reg_ids(&ids, &n, &e) < 0) {
			fprintf(stderr, "labctl down: %s\n", e.msg);
			return LC_EXIT_USAGE;
		}
		if (n == 0)
			printf("no labs\n");
		for (int i = 0; i < n; i++) {
			if (down_one(ids[i]) != LC_EXIT_PASS)
				rc = LC_EXIT_USAGE;
			free(ids[i]);
		}
		free(ids);
		return rc;
	}
	for (int i = 1; i < argc; i++)
		if (down_one(argv[i]) != LC_EXIT_PASS)
			rc = LC_EXIT_USAGE;
	return rc;
}

int cmd_ls(int argc, char **argv)
{
	bool json = false;
	if (cmd_wants_help(argc, argv)) {
		fputs(ls_usage, stdout);
		return LC_EXIT_PASS;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			fputs(ls_usage, stderr);
			return LC_EXIT_USAGE;
		}
	}
	struct lc_err e = {0};
	char **ids;
	int n;
	if (reg_ids(&ids, &n, &e) < 0) {
		fprintf(stderr, "labctl ls: %s\n", e.msg);
		return LC_EXIT_USAGE;
	}
	if (!json)
		printf("%-28s %-8s %-5s %7s  %-6s %s\n", "ID", "STATUS", "KIND", "PID", "HOSTS",
		       "LAB");
	int dead = 0;
	for (int i = 0; i < n; i++) {
		struct reg_entry r;
		if (reg_read(ids[i], &r, NULL) == 0) {
			bool alive = reg_alive(&r);
			dead += !alive;
			if (json) {
				/* ids and host names are [A-Za-z0-9_.-]; the lab's path may be anything */
				printf("{\"id\":\"%s\",\"status\":\"%s\",\"kind\":\"%s\",\"pid\":%d,"
				       "\"lab\":", r.id, alive ? "running" : "dead", r.kind, (int)r.pid);
				run_json_str(stdout, r.lab);
				printf(",\"created\":%lld,\"hosts\":[", r.created);
				for (int h = 0; h < r.nhosts; h++)
					printf("%s{\"name\":\"%s\",\"netns\":\"%s\"}", h ? "," : "",
					       r.hosts[h].name, r.hosts[h].ns);
				printf("]}\n");
			} else {
				printf("%-28s %-8s %-5s %7d  %-6d %s\n", r.id, alive ? "running" : "DEAD",
				       r.kind, (int)r.pid, r.nhosts, r.lab);
			}
			reg_entry_clear(&r);
		}
		free(ids[i]);
	}
	free(ids);
	if (dead && !json)
		fprintf(stderr, "%d lab%s whose supervisor is gone: `labctl down ID` removes what it "
			"left\n", dead, dead == 1 ? "" : "s");
	return LC_EXIT_PASS;
}

/* As `ip netns exec` does: a mount namespace of our own in which /sys is a sysfs mounted from
 * inside the lab host's network namespace, so /sys/class/net lists the host's devices.  Not
 * fatal: the command still runs in the right network namespace, with a warning. */
static void remount_sys(const char *ns)
{
	const char *what = NULL;
	if (unshare(CLONE_NEWNS) < 0)
		what = "unshare(CLONE_NEWNS)";
	else if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL) < 0)
		what = "making / a slave mount";
	else if (umount2("/sys", MNT_DETACH) < 0 && errno != EINVAL)
		what = "unmounting /sys";
	else if (mount(ns, "/sys", "sysfs", 0, NULL) < 0)
		what = "mounting sysfs on /sys";
	if (what)
		fprintf(stderr, "labctl exec: warning: %s: %s (/sys shows another namespace's "
			"devices)\n", what, strerror(errno));
}

int cmd_exec(int argc, char **argv)
{
	if (argc < 3 || (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		fputs(exec_usage, argc < 3 && !(argc >= 2 && argv[1][0] == '-') ? stderr : stdout);
		return argc < 3 && !(argc >= 2 && argv[1][0] == '-') ? LC_EXIT_USAGE : LC_EXIT_PASS;
	}
	struct lc_err e = {0};
	char path[256];
	int fd;
	if (reg_host_path(argv[1], argv[2], path, sizeof(path), &e) < 0) {
		fprintf(stderr, "labctl exec: %s\n", e.msg);
		return LC_EXIT_USAGE;
	}
	/* A rootless lab has no bind: its supervisor's descriptor, after joining its user
	 * namespace (with our credentials: we are root there, our own uid outside). */
	int rc = netns_open(path, &fd, &e);
	if (rc == -ENOENT && userns_unprivileged())
		rc = reg_open_rootless(strrchr(path, '/') + 1, &fd, &e);
	if (rc < 0) {
		fprintf(stderr, "labctl exec: %s\n", e.msg);
		return LC_EXIT_USAGE;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "labctl exec: entering %s: %s\n", path, strerror(errno));
		return LC_EXIT_USAGE;
	}
	close(fd);
	remount_sys(path);
	int first = 3;
	if (first < argc && !strcmp(argv[first], "--"))
		first++;
	if (first >= argc) {
		const char *sh = getenv("SHELL");
		char *args[] = {(char *)(sh ? sh : "/bin/sh"), NULL};
		execvp(args[0], args);
		fprintf(stderr, "labctl exec: %s: %s\n", args[0], strerror(errno));
		return 127;
	}
	execvp(argv[first], argv + first);
	fprintf(stderr, "labctl exec: %s: %s\n", argv[first], strerror(errno));
	return 127;
}
