/* labctl run LAB|DIR...: build, drive, verify, tear down. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cmd/cmds.h"
#include "cmd/run_outputs.h"
#include "base/err.h"
#include "base/paths.h"
#include "lab/lab.h"
#include "kernel/privs.h"
#include "kernel/userns.h"
#include "render/grade.h"
#include "render/report.h"
#include "run/run.h"
#include "run/rundir.h"
#include "run/topo.h"

static const char run_usage[] =
	"usage: labctl run LAB|DIR... [options]\n"
	"\n"
	"Build each lab's namespaces and links, start its agents, run its steps in order,\n"
	"check its expectations, print the step log, timeline and ladder, and tear it all\n"
	"down. A directory runs every *.lab in it and ends with a summary table.\n"
	"\n"
	"  --engine auto|netem|userlink|pktlink|veth   how links are impaired (default\n"
	"                    auto; pktlink is userlink through packet sockets, no TAP)\n"
	"  --seed N          seed of the userlink engine's random draws (default: the lab's)\n"
	"  --capture DIR     capture every host's interfaces to DIR/LABID-HOST-IF.pcap and\n"
	"                    write the ladder as SVG to DIR/LABID.svg\n"
	"  --out DIR         where the run's files go (the pcaps of the lab's capture\n"
	"                    statements, the ladder); default a fresh directory per run under\n"
	"                    $XDG_CACHE_HOME/labctl/runs/LABID (the newest 50 are kept)\n"
	"  --expose          bind namespaces as /run/netns/LABID-HOST while the lab runs\n"
	"  --id ID           the lab id (default NAME-xxxx)\n"
	"  --poll DUR        sock_diag poll interval for the timeline (default 1ms)\n"
	"  --observer auto|events|poll   where the timeline's states come from: the\n"
	"                    kernel's own events (eBPF; every state, the kernel's time) or\n"
	"                    sock_diag polls; auto takes events where they load (default)\n"
	"  --low-latency     keep the CPUs out of idle states while the lab runs, for\n"
	"                    precise delays on userlink (idle CPUs spin meanwhile)\n"
	"  --allow-root      let program steps marked as-root run as root (programs run as\n"
	"                    the invoking user otherwise: SUDO_UID, else nobody)\n"
	"  --report FILE.html  the run as one self-contained HTML page (lab file and\n"
	"                    verdicts, timeline chart, ladder, each connection's path through\n"
	"                    the TCP state machine, link counters); with several labs FILE is\n"
	"                    a directory: DIR/LAB.html each, and DIR/index.html\n"
	"  --junit FILE      the expectations as JUnit XML (one testsuite per lab)\n"
	"  --tap             the expectations as TAP version 13 on stdout (the text log goes\n"
	"                    to stderr)\n"
	"  --step            pause before each step (expectations run at once), with the lab\n"
	"                    exposed: Enter runs the next step, c the rest, q stops and tears\n"
	"                    down; between steps, the sockets of the hosts the last step\n"
	"                    touched (needs a terminal)\n"
	"  --json            JSON lines instead of text\n"
	"  -q, --quiet       print failures and verdicts only\n"
	"\n"
	"Without root, each lab runs in a user namespace of its own that maps you to root\n"
	"(docs/rootless.md says what works there and what does not; LABCTL_ROOTLESS=0 refuses\n"
	"instead).\n"
	"\n"
	"Exit: 0 every expectation held, 1 one failed, 2 bad lab file or environment.\n";

/* What the command line asked for beyond the run itself. */
struct run_cli {
	const char *runs_base;   /* no --out or --capture: each run gets BASE/LABID (rundir.h) */
	const char *report;      /* --report */
	bool report_dir;         /* ... names a directory: one page per lab and an index */
	const char *junit;
	bool tap;
	FILE *txt;               /* where text goes: stdout, or stderr when stdout is TAP */
};

struct result {
	char name[LAB_NAME_MAX];
	char file[256];
	int status;   /* LC_EXIT_* */
	int failed;
	double seconds;
	char report[512];        /* the page written, or "" */
	struct grade_suite suite;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Expand directories into their *.lab files (sorted). */
static int collect(char **args, int n, char ***files, int *nfiles)
{
	*files = NULL;
	*nfiles = 0;
	for (int i = 0; i < n; i++) {
		struct stat st;
		if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(args[i]);
			if (!d)
				continue;
			struct dirent *de;
			int start = *nfiles;
			while ((de = readdir(d))) {
				size_t l = strlen(de->d_name);
				if (l < 5 || strcmp(de->d_name + l - 4, ".lab"))
					continue;
				char **nf = realloc(*files, (size_t)(*nfiles + 1) * sizeof(char *));
				if (!nf)
					break;
				*files = nf;
				size_t al = strlen(args[i]);
				while (al > 1 && args[i][al - 1] == '/')
					al--;
				if (asprintf(&(*files)[*nfiles], "%.*s/%s", (int)al, args[i],
					     de->d_name) < 0)
					break;
				(*nfiles)++;
			}
			closedir(d);
			qsort(*files + start, (size_t)(*nfiles - start), sizeof(char *), cmp_str);
		} else {
			char **nf = realloc(*files, (size_t)(*nfiles + 1) * sizeof(char *));
			if (!nf)
				return -ENOMEM;
			*files = nf;
			char file[PATH_MAX];  /* a catalogue lab by name: `labctl run handshake` */
			paths_lab_resolve(args[i], file, sizeof(file));
			(*files)[(*nfiles)++] = strdup(file);
		}
	}
	return 0;
}

static void run_one(const char *file, const struct run_opts *o, const struct run_cli *cli,
		    struct result *res)
{
	struct lc_err e = {0};
	struct lab *lab = NULL;
	struct run *r = NULL;
	double t0 = mono_s();
	snprintf(res->file, sizeof(res->file), "%s", file);
	snprintf(res->suite.file, sizeof(res->suite.file), "%s", file);
	runout_file_stem(file, res->suite.name, sizeof(res->suite.name));
	char *all = NULL;
	if (lab_parse_file_errs(file, &lab, &e, &all) < 0) {
		fprintf(stderr, "%s\n", all ? all : e.msg);
		runout_grade_error(&res->suite, "the lab file parses", all ? all : e.msg);
		free(all);
		res->status = LC_EXIT_USAGE;
		return;
	}
	snprintf(res->name, sizeof(res->name), "%s", lab->name);
	snprintf(res->suite.name, sizeof(res->suite.name), "%s", lab->name);
	/* The run's own directory: named by its id, so the id is made here, not by run_new. */
	struct run_opts ro = *o;
	char id[TOPO_ID_MAX], dir[4096] = "";
	if (cli->runs_base) {
		if (!ro.id) {
			topo_make_id(lab->name, id, sizeof(id));
			ro.id = id;
		}
		if (rundir_make(cli->runs_base, ro.id, dir, sizeof(dir), &e) < 0) {
			dir[0] = '\0';
			fprintf(stderr, "labctl run %s: %s\n", file, e.msg);
			runout_grade_error(&res->suite, "the lab builds", e.msg);
			res->status = LC_EXIT_USAGE;
			goto out;
		}
		ro.out_dir = dir;
	}
	o = &ro;
	if (run_new(lab, o, &r, &e) < 0) {
		fprintf(stderr, "labctl run %s: %s\n", file, e.msg);
		runout_grade_error(&res->suite, "the lab builds", e.msg);
		res->status = LC_EXIT_USAGE;
		goto out;
	}
	int failed = run_steps(r, &e);
	run_report(r, failed);
	if (failed < 0) {
		fprintf(stderr, "labctl run %s: %s\n", file, e.msg);
		res->status = LC_EXIT_USAGE;
	} else {
		res->failed = failed;
		res->status = failed ? LC_EXIT_FAIL : LC_EXIT_PASS;
	}
	runout_grade_fill(&res->suite, lab, r);
	if (cli->report) {
		char path[512], stem[256];
		struct lc_err re = {0};
		if (cli->report_dir) {
			runout_file_stem(file, stem, sizeof(stem));
			snprintf(path, sizeof(path), "%s/%s.html", cli->report, stem);
		} else {
			snprintf(path, sizeof(path), "%s", cli->report);
		}
		double w0 = mono_s();
		if (run_write_report(r, failed, failed < 0 ? e.msg : NULL, path, &re) < 0) {
			fprintf(stderr, "labctl run %s: %s\n", file, re.msg);
			res->status = LC_EXIT_USAGE;
		} else {
			struct stat st;
			snprintf(res->report, sizeof(res->report), "%s", path);
			if (!o->json && !o->quiet)
				fprintf(cli->txt, "report: %s (%lld bytes, written in %.1f ms)\n", path,
					stat(path, &st) == 0 ? (long long)st.st_size : -1LL,
					(mono_s() - w0) * 1e3);
		}
	}
out:
	run_free(r);
	/* Printed once, at the end; a run that wrote nothing leaves no directory behind. */
	const char *where = dir[0] ? (rundir_done(dir) ? NULL : dir)
			  : o->capture_dir ? o->capture_dir
			  : o->out_dir && lab && lab->ncaptures ? o->out_dir : NULL;
	if (where && !o->json && !o->quiet)
		fprintf(cli->txt, "files: %s\n", where);
	lab_free(lab);
	res->seconds = mono_s() - t0;
	res->suite.seconds = res->seconds;
}

static int write_index(const char *dir, const struct result *res, int n)
{
	char path[512], tmp[600];
	snprintf(path, sizeof(path), "%s/index.html", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	struct report_index_row *rows = calloc((size_t)n + 1, sizeof(*rows));
	FILE *f = rows ? fopen(tmp, "we") : NULL;
	if (!f) {
		free(rows);
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		const char *b = strrchr(res[i].report, '/');
		rows[i] = (struct report_index_row){
			.name = res[i].name, .file = res[i].file,
			.href = res[i].report[0] ? (b ? b + 1 : res[i].report) : NULL,
			.result = res[i].status == LC_EXIT_PASS ? "pass"
				  : res[i].status == LC_EXIT_FAIL ? "FAIL" : "ERROR",
			.seconds = res[i].seconds,
		};
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int rc = report_index_html(f, rows, n, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	if (fclose(f) != 0 || rc < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		rc = -EIO;
	}
	free(rows);
	return rc;
}

static int write_junit(const char *path, const struct result *res, int n)
{
	struct grade_suite *s = calloc((size_t)n + 1, sizeof(*s));
	FILE *f = s ? fopen(path, "we") : NULL;
	if (!f) {
		free(s);
		return -errno;
	}
	for (int i = 0; i < n; i++)
		s[i] = res[i].suite;
	int rc = grade_junit(f, s, n);
	if (fclose(f) != 0)
		rc = -EIO;
	free(s);
	return rc;
}

/* A rootless lab runs in a child inside a user namespace of its own (kernel/userns.h); its
 * result comes back through shared memory, the grading cases (heap memory of the child's)
 * copied into a shared array of their own. */
#define ROOTLESS_CASES_MAX 1024
struct rootless_job {
	const char *file;
	const struct run_opts *o;
	struct run_cli *cli;
	struct result *res;
	struct grade_case *cases;
	int ncases;
};

static int rootless_child(void *arg)
{
	struct rootless_job *j = arg;
	run_one(j->file, j->o, j->cli, j->res);
	int n = j->res->suite.ncases < ROOTLESS_CASES_MAX ? j->res->suite.ncases
							   : ROOTLESS_CASES_MAX;
	if (n > 0)
		memcpy(j->cases, j->res->suite.cases, (size_t)n * sizeof(*j->cases));
	j->ncases = n;
	grade_suite_clear(&j->res->suite);
	return 0;
}

static void run_one_rootless(const char *file, const struct run_opts *o, struct run_cli *cli,
			     struct result *res)
{
	struct lc_err e = {0};
	size_t len = sizeof(struct rootless_job) + sizeof(struct result) +
		     ROOTLESS_CASES_MAX * sizeof(struct grade_case);
	char *shm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double t0 = mono_s();
	snprintf(res->file, sizeof(res->file), "%s", file);
	res->status = LC_EXIT_USAGE;
	if (shm == MAP_FAILED) {
		fprintf(stderr, "labctl run %s: rootless: out of memory\n", file);
		return;
	}
	memset(shm, 0, len);
	struct rootless_job *j = (struct rootless_job *)shm;
	struct result *shared = (struct result *)(shm + sizeof(*j));
	shared->status = LC_EXIT_USAGE;
	*j = (struct rootless_job){file, o, cli, shared,
				   (struct grade_case *)(shm + sizeof(*j) + sizeof(*shared)), 0};
	fflush(NULL);  /* the child's stdio buffers must not repeat ours */
	int rc = userns_run(rootless_child, j, &e);
	if (rc < 0)
		fprintf(stderr, "labctl run %s: %s\n", file, e.msg);
	else if (rc == 0) {
		*res = *shared;
		res->suite.cases = NULL;
		res->suite.ncases = 0;
		for (int k = 0; k < j->ncases; k++)
			grade_add(&res->suite, &j->cases[k]);
	}
	res->seconds = mono_s() - t0;
	munmap(shm, len);
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"engine", required_argument, 0, 'E'}, {"seed", required_argument, 0, 'S'},
		{"capture", required_argument, 0, 'C'}, {"expose", no_argument, 0, 'X'},
		{"id", required_argument, 0, 'I'},     {"poll", required_argument, 0, 'P'},
		{"json", no_argument, 0, 'J'},         {"quiet", no_argument, 0, 'q'},
		{"low-latency", no_argument, 0, 'L'},  {"help", no_argument, 0, 'h'},
		{"allow-root", no_argument, 0, 'A'},
		{"observer", required_argument, 0, 'W'},
		{"report", required_argument, 0, 'R'}, {"junit", required_argument, 0, 'U'},
		{"tap", no_argument, 0, 'T'},          {"step", no_argument, 0, 'Z'},
		{"out", required_argument, 0, 'O'},
		{0, 0, 0, 0},
	};
	struct run_opts o = {.out = stdout, .kind = "run"};
	struct run_cli cli = {.txt = stdout};
	bool step = false;
	struct stepper sp = {.fd = -1, .out = stdout};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'E':
			if (strcmp(optarg, "auto") && strcmp(optarg, "netem") &&
			    strcmp(optarg, "userlink") && strcmp(optarg, "pktlink") &&
			    strcmp(optarg, "veth")) {
				fprintf(stderr, "labctl run: --engine must be auto, netem, userlink, "
					"pktlink or veth, not \"%s\"\n", optarg);
				return LC_EXIT_USAGE;
			}
			o.engine = optarg;
			break;
		case 'S': {
			char *end;
			errno = 0;
			o.seed = strtoull(optarg, &end, 0);
			if (errno || *end || !*optarg) {
				fprintf(stderr, "labctl run: --seed wants a number, not \"%s\"\n", optarg);
				return LC_EXIT_USAGE;
			}
			o.has_seed = true;
			break;
		}
		case 'C': o.capture_dir = optarg; break;
		case 'X': o.expose = true; break;
		case 'I': o.id = optarg; break;
		case 'P':
			if (lab_parse_duration(optarg, &o.poll_ns) < 0 || o.poll_ns <= 0) {
				fprintf(stderr, "labctl run: --poll wants a duration like 1ms, not \"%s\"\n",
					optarg);
				return LC_EXIT_USAGE;
			}
			break;
		case 'J': o.json = true; break;
		case 'L': o.low_latency = true; break;
		case 'A': o.allow_root = true; break;
		case 'q': o.quiet = true; break;
		case 'W':
			if (strcmp(optarg, "auto") && strcmp(optarg, "events") && strcmp(optarg, "poll")) {
				fprintf(stderr, "labctl run: --observer must be auto, events or poll, not "
					"\"%s\"\n", optarg);
				return LC_EXIT_USAGE;
			}
			o.observer = optarg;
			break;
		case 'R': cli.report = optarg; break;
		case 'U': cli.junit = optarg; break;
		case 'T': cli.tap = true; break;
		case 'Z': step = true; break;
		case 'O': o.out_dir = optarg; break;
		case 'h': fputs(run_usage, stdout); return LC_EXIT_PASS;
		default: fputs(run_usage, stderr); return LC_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(run_usage, stderr);
		return LC_EXIT_USAGE;
	}
	if (step) {
		/* The instructor runs ss or tcpdump in another terminal meanwhile: expose. */
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "labctl run --step: needs a terminal on stdin to read Enter, c "
				"or q from; run it without --step when there is none\n");
			return LC_EXIT_USAGE;
		}
		if (o.json || cli.tap) {
			fprintf(stderr, "labctl run --step: not with --json or --tap\n");
			return LC_EXIT_USAGE;
		}
		sp.fd = STDIN_FILENO;
		o.expose = true;
		o.step_hook = runout_step_hook;
		o.step_arg = &sp;
	}
	if (cli.tap && o.json) {
		fprintf(stderr, "labctl run: --tap and --json both want stdout\n");
		return LC_EXIT_USAGE;
	}
	if (o.out_dir && o.capture_dir) {
		fprintf(stderr, "labctl run: --capture DIR already says where the files go; give "
			"one of --capture and --out\n");
		return LC_EXIT_USAGE;
	}
	struct lc_err e = {0};
	bool rootless = userns_wanted();
	if (rootless && (o.expose || o.low_latency)) {
		fprintf(stderr, "labctl run: %s\n", o.expose
			? "--expose needs root: a rootless lab's namespaces live in its own user "
			  "namespace and cannot be bound under /run/netns (run with sudo to expose)"
			: "--low-latency needs root: /dev/cpu_dma_latency (the PM QoS request) opens "
			  "for root only (run with sudo, or without --low-latency)");
		return LC_EXIT_USAGE;
	}
	if (!rootless && privs_check("labctl run", &e) < 0) {
		fprintf(stderr, "labctl run: %s\n", e.msg);
		return LC_EXIT_USAGE;
	}
	char **files;
	int nfiles;
	if (collect(argv + optind, argc - optind, &files, &nfiles) < 0 || nfiles == 0) {
		fprintf(stderr, "labctl run: no lab files found in the arguments\n");
		return LC_EXIT_USAGE;
	}
	if (o.id && nfiles > 1) {
		fprintf(stderr, "labctl run: --id names one lab; %d were given\n", nfiles);
		return LC_EXIT_USAGE;
	}
	if (cli.tap) {
		o.out = cli.txt = stderr;
		grade_tap_head(stdout);
	}
	char runs_base[4096];
	struct result *res = NULL;
	int status = LC_EXIT_USAGE, ntap = 0;
	if (o.out_dir && mkdir(o.out_dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "labctl run: --out %s: %s\n", o.out_dir, strerror(errno));
		goto free_files;
	}
	if (!o.out_dir && !o.capture_dir) {
		if (rundir_base(runs_base, sizeof(runs_base), &e) < 0) {
			fprintf(stderr, "labctl run: %s\n", e.msg);
			goto free_files;
		}
		cli.runs_base = runs_base;
	}
	if (cli.report) {
		struct stat st;
		cli.report_dir = nfiles > 1 || (stat(cli.report, &st) == 0 && S_ISDIR(st.st_mode));
		if (cli.report_dir && mkdir(cli.report, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "labctl run: --report %s: %s\n", cli.report, strerror(errno));
			goto free_files;
		}
	}
	/* Single keys, unechoed (^C still interrupts); restored before returning. */
	if (step && tcgetattr(sp.fd, &sp.saved) == 0) {
		struct termios t = sp.saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		sp.raw = tcsetattr(sp.fd, TCSANOW, &t) == 0;
	}
	res = calloc((size_t)nfiles, sizeof(*res));
	status = LC_EXIT_PASS;
	for (int i = 0; res && i < nfiles; i++) {
		if (rootless)
			run_one_rootless(files[i], &o, &cli, &res[i]);
		else
			run_one(files[i], &o, &cli, &res[i]);
		if (cli.tap)
			grade_tap_suite(stdout, &res[i].suite, &ntap);
		if (res[i].status == LC_EXIT_USAGE)
			status = LC_EXIT_USAGE;
		else if (res[i].status == LC_EXIT_FAIL && status == LC_EXIT_PASS)
			status = LC_EXIT_FAIL;
		if (nfiles > 1 && !o.json && !o.quiet)
			fputc('\n', cli.txt);
	}
	if (res && cli.tap)
		grade_tap_plan(stdout, ntap);
	if (res && cli.junit && write_junit(cli.junit, res, nfiles) < 0) {
		fprintf(stderr, "labctl run: --junit %s: %s\n", cli.junit, strerror(errno));
		status = LC_EXIT_USAGE;
	}
	if (res && cli.report_dir) {
		if (write_index(cli.report, res, nfiles) < 0) {
			fprintf(stderr, "labctl run: %s/index.html: %s\n", cli.report, strerror(errno));
			status = LC_EXIT_USAGE;
		} else if (!o.json && !o.quiet) {
			fprintf(cli.txt, "reports: %s/index.html\n", cli.report);
		}
	}
	if (res && nfiles > 1) {
		int np = 0, nf = 0, ne = 0;
		FILE *f = cli.txt;
		if (!o.json)
			fprintf(f, "%-28s %-8s %8s  %s\n", "LAB", "RESULT", "TIME", "FILE");
		for (int i = 0; i < nfiles; i++) {
			const char *v = res[i].status == LC_EXIT_PASS ? "pass"
					: res[i].status == LC_EXIT_FAIL ? "FAIL" : "ERROR";
			np += res[i].status == LC_EXIT_PASS;
			nf += res[i].status == LC_EXIT_FAIL;
			ne += res[i].status == LC_EXIT_USAGE;
			if (o.json) {
				fputs("{\"type\":\"summary\",\"lab\":", f);
				run_json_str(f, res[i].name);
				fputs(",\"file\":", f);
				run_json_str(f, res[i].file);
				fprintf(f, ",\"result\":\"%s\",\"seconds\":%.3f}\n", v, res[i].seconds);
			}
			else
				fprintf(f, "%-28s %-8s %7.2fs  %s\n",
					res[i].name[0] ? res[i].name : "?", v, res[i].seconds,
					res[i].file);
		}
		if (!o.json)
			fprintf(f, "%d labs: %d passed, %d failed, %d errors\n", nfiles, np, nf, ne);
	}
	if (sp.raw)
		tcsetattr(sp.fd, TCSANOW, &sp.saved);
	if (cli.runs_base)
		rundir_prune(cli.runs_base, RUNDIR_KEEP);
free_files:
	for (int i = 0; i < nfiles; i++) {
		free(files[i]);
		if (res)
			grade_suite_clear(&res[i].suite);
	}
	free(files);
	free(res);
	return status;
}
