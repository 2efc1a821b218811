/* tcpevdump: the event observer's raw records, for the tests and bench/observe.sh.
 *   tcpevdump [--for SECONDS] [--count] NETNS_PATH...
 * Loads labctl's BPF program for the namespaces given (/run/netns/NAME; host i is the i-th),
 * prints one line per record until SIGINT/SIGTERM or --for: "MONO_NS HOST KIND FROM TO
 * LOCAL PEER KEY", and at the end "# records N drops N recursion_misses N".  --count prints
 * only the end line.  Exit 0, or 2 when the program cannot load (the reason on stderr). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "kernel/diag.h"
#include "kernel/tcpev.h"

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static const char *const kinds[] = {"?", "state", "tw_start", "tw_cancel", "tw_expire",
				    "req_start", "req_cancel", "req_expire", "tw_segment"};

static void print(const struct tcpev_event *ev, void *arg)
{
	if (*(int *)arg)
		return;
	char la[64], ra[64];
	diag_addr_format(ev->family, ev->laddr, ev->lport, true, la, sizeof(la));
	diag_addr_format(ev->family, ev->raddr, ev->rport, true, ra, sizeof(ra));
	printf("%" PRId64 " %d %s %s %s %s %s %" PRIx64 "\n", ev->mono_ns, ev->host, kinds[ev->kind],
	       ev->from ? lab_state_name(ev->from) : "-", lab_state_name(ev->to), la, ra, ev->key);
}

int main(int argc, char **argv)
{
	double secs = 0;
	int quiet = 0, i = 1, fds[256], n = 0;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--for") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--count"))
			quiet = 1;
	}
	for (; i < argc && n < 256; i++)
		if ((fds[n++] = open(argv[i], O_RDONLY | O_CLOEXEC)) < 0) {
			fprintf(stderr, "tcpevdump: %s: %s\n", argv[i], strerror(errno));
			return 2;
		}
	struct lc_err e = {0};
	struct tcpev *t;
	if (tcpev_open(fds, n, 0, print, &quiet, &t, &e) < 0) {
		fprintf(stderr, "tcpevdump: %s\n", e.msg);
		return 2;
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	printf("# ready\n");
	fflush(stdout);
	double t0 = mono_s();
	while (!stop && (secs <= 0 || mono_s() - t0 < secs)) {
		struct pollfd p = {.fd = tcpev_fd(t), .events = POLLIN};
		poll(&p, 1, 50);
		if (tcpev_read(t, &e) < 0)
			break;
		fflush(stdout);
	}
	tcpev_read(t, &e);
	struct tcpev_stats st;
	tcpev_get_stats(t, &st);
	printf("# records %" PRIu64 " drops %" PRIu64 " recursion_misses %" PRIu64 " bad %" PRIu64 "\n",
	       st.records, st.ring_drops, st.recursion_misses, st.bad);
	tcpev_free(t);
	return 0;
}
