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
#include <time.h>

#include "base/clock.h"
#include "cmd/cmds.h"
#include "base/err.h"
#include "base/paths.h"
#include "lab/lab.h"
#include "kernel/privs.h"
#include "kernel/userns.h"
#include "run/run.h"

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
	"  --expose          bind namespaces as /run/netns/LABID-HOST while the lab runs\n"
	"  --id ID           the lab id (default NAME-xxxx)\n"
	"  --poll DUR        sock_diag poll interval for the timeline (default 1ms)\n"
	"  --low-latency     keep the CPUs out of idle states while the lab runs, for\n"
	"                    precise delays on userlink (idle CPUs spin meanwhile)\n"
	"  --allow-root      let program steps marked as-root run as root (programs run as\n"
	"                    the invoking user otherwise: SUDO_UID, else nobody)\n"
	"  --json            JSON lines instead of text\n"
	"  -q, --quiet       print failures and verdicts only\n"
	"\n"
	"Without root: LABCTL_ROOTLESS=1 runs each lab in a user namespace of its own that\n"
	"maps you to root (docs/rootless.md says what works there and what does not).\n"
	"\n"
	"Exit: 0 every expectation held, 1 one failed, 2 bad lab file or environment.\n";

struct result {
	char name[LAB_NAME_MAX];
	char file[256];
	int status;   /* LC_EXIT_* */
	int failed;
	double seconds;
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

static void run_one(const char *file, const struct run_opts *o, struct result *res)
{
	struct lc_err e = {0};
	struct lab *lab = NULL;
	struct run *r = NULL;
	double t0 = mono_s();
	snprintf(res->file, sizeof(res->file), "%s", file);
	char *all = NULL;
	if (lab_parse_file_errs(file, &lab, &e, &all) < 0) {
		fprintf(stderr, "%s\n", all ? all : e.msg);
		free(all);
		res->status = LC_EXIT_USAGE;
		return;
	}
	snprintf(res->name, sizeof(res->name), "%s", lab->name);
	if (run_new(lab, o, &r, &e) < 0) {
		fprintf(stderr, "labctl run %s: %s\n", file, e.msg);
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
out:
	run_free(r);
	lab_free(lab);
	res->seconds = mono_s() - t0;
}

/* A rootless lab runs in a child inside a user namespace of its own (kernel/userns.h); its
 * result comes back through shared memory. */
struct rootless_job {
	const char *file;
	const struct run_opts *o;
	struct result *res;
};

static int rootless_child(void *arg)
{
	struct rootless_job *j = arg;
	run_one(j->file, j->o, j->res);
	return 0;
}

static void run_one_rootless(const char *file, const struct run_opts *o, struct result *res)
{
	struct lc_err e = {0};
	struct result *shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double t0 = mono_s();
	snprintf(res->file, sizeof(res->file), "%s", file);
	res->status = LC_EXIT_USAGE;
	if (shared == MAP_FAILED) {
		fprintf(stderr, "labctl run %s: rootless: out of memory\n", file);
		return;
	}
	memset(shared, 0, sizeof(*shared));
	shared->status = LC_EXIT_USAGE;
	struct rootless_job j = {file, o, shared};
	int rc = userns_run(rootless_child, &j, &e);
	if (rc < 0)
		fprintf(stderr, "labctl run %s: %s\n", file, e.msg);
	else if (rc == 0)
		*res = *shared;
	res->seconds = mono_s() - t0;
	munmap(shared, sizeof(*shared));
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"engine", required_argument, 0, 'E'}, {"seed", required_argument, 0, 'S'},
		{"capture", required_argument, 0, 'C'}, {"expose", no_argument, 0, 'X'},
		{"id", required_argument, 0, 'I'},     {"poll", required_argument, 0, 'P'},
		{"json", no_argument, 0, 'J'},         {"quiet", no_argument, 0, 'q'},
		{"low-latency", no_argument, 0, 'L'},  {"help", no_argument, 0, 'h'},
		{"allow-root", no_argument, 0, 'R'},
		{0, 0, 0, 0},
	};
	struct run_opts o = {.out = stdout, .kind = "run"};
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
		case 'R': o.allow_root = true; break;
		case 'q': o.quiet = true; break;
		case 'h': fputs(run_usage, stdout); return LC_EXIT_PASS;
		default: fputs(run_usage, stderr); return LC_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(run_usage, stderr);
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
	struct result *res = calloc((size_t)nfiles, sizeof(*res));
	int status = LC_EXIT_PASS;
	for (int i = 0; res && i < nfiles; i++) {
		if (rootless)
			run_one_rootless(files[i], &o, &res[i]);
		else
			run_one(files[i], &o, &res[i]);
		if (res[i].status == LC_EXIT_USAGE)
			status = LC_EXIT_USAGE;
		else if (res[i].status == LC_EXIT_FAIL && status == LC_EXIT_PASS)
			status = LC_EXIT_FAIL;
		if (nfiles > 1 && !o.json && !o.quiet)
			fputc('\n', stdout);
	}
	if (res && nfiles > 1) {
		int np = 0, nf = 0, ne = 0;
		FILE *f = stdout;
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
	for (int i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	free(res);
	return status;
}
