/* mksocks NETNS_PATH N [BASE_PORT]: hold about N TCP sockets in a namespace for benchmarks.
 *
 * Enters the namespace (the bench made it), opens listeners on 127.0.0.1 from BASE_PORT
 * (default 20000, one per worker), makes N/2 loopback connections to them and accepts them
 * all: N/2 client and N/2 server sockets, ESTABLISHED.  Prints "ready SOCKETS" and holds them
 * until stdin reaches EOF.  Traffic stays on the namespace's loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* The hard RLIMIT_NOFILE may be low (20000 here, without CAP_SYS_RESOURCE to raise it), so
 * the sockets are spread over worker processes, each holding at most PER_WORKER fds with its
 * own listener. */
#define PER_WORKER 9000  /* connections per worker: 18000 fds */

static int worker(int ns, int port, long conns, int ready_fd)
{
	if (setns(ns, CLONE_NEWNET) < 0) {
		perror("setns");
		return 2;
	}
	int l = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4096) < 0) {
		perror("listen");
		return 2;
	}
	for (long c = 0; c < conns; c++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			fprintf(stderr, "connect #%ld: %s\n", c, strerror(errno));
			return 2;
		}
		if (accept(l, NULL, NULL) < 0) {  /* keep the accept queue short */
			perror("accept");
			return 2;
		}
	}
	long made = 2 * conns + 1;
	if (write(ready_fd, &made, sizeof(made)) != sizeof(made))
		return 2;
	char buf[64];
	while (read(0, buf, sizeof(buf)) > 0)
		;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: mksocks NETNS_PATH N [BASE_PORT]\n");
		return 2;
	}
	long n = atol(argv[2]);
	int base = argc > 3 ? atoi(argv[3]) : 20000;
	long conns = n / 2;
	int nw = (int)((conns + PER_WORKER - 1) / PER_WORKER);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (ns < 0) {
		perror(argv[1]);
		return 2;
	}
	int p[2];
	if (pipe(p) < 0)
		return 2;
	for (int i = 0; i < nw; i++) {
		long share = conns - (long)i * PER_WORKER;
		if (share > PER_WORKER)
			share = PER_WORKER;
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0) {
			close(p[0]);
			_exit(worker(ns, base + i, share, p[1]));
		}
	}
	close(p[1]);
	long total = 0, got;
	for (int i = 0; i < nw; i++) {
		if (read(p[0], &got, sizeof(got)) != sizeof(got)) {
			fprintf(stderr, "mksocks: a worker failed\n");
			return 2;
		}
		total += got;
	}
	printf("ready %ld\n", total);
	fflush(stdout);
	while (wait(NULL) > 0)  /* the workers end when stdin closes */
		;
	return 0;
}
