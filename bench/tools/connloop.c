/* connloop: the bare peer of bench/connrate.sh.  One thread, blocking calls, no event loop:
 * connect (client namespace) + accept (server namespace) + close, COUNT times, the same
 * cycle the agent's `cycle` op drives (client closes first; the server closes on EOF).
 *
 *   connloop CLIENT_NETNS_PATH SERVER_NETNS_PATH SERVER_ADDR PORT COUNT
 *
 * Prints "connloop N cycles in S s: R/s".  Sockets keep the namespace they were made in, so
 * one process makes the listener inside the server namespace and the rest in the client's. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int enter(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "connloop: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	close(fd);
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: connloop CLIENT_NETNS SERVER_NETNS SERVER_ADDR PORT COUNT\n");
		return 2;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[4]))};
	long count = atol(argv[5]);
	if (inet_pton(AF_INET, argv[3], &sa.sin_addr) != 1 || count < 1) {
		fprintf(stderr, "connloop: bad address or count\n");
		return 2;
	}
	int one = 1;
	enter(argv[2]);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in any = sa;
	any.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(lfd, (struct sockaddr *)&any, sizeof(any)) < 0 || listen(lfd, 4096) < 0) {
		perror("connloop: listen");
		return 2;
	}
	enter(argv[1]);
	double t0 = now();
	char b[64];
	for (long i = 0; i < count; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fprintf(stderr, "connloop: connect #%ld: %s\n", i, strerror(errno));
			return 1;
		}
		int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0) {
			fprintf(stderr, "connloop: accept #%ld: %s\n", i, strerror(errno));
			return 1;
		}
		close(c);
		while (read(s, b, sizeof(b)) > 0)  /* until the client's FIN */
			;
		close(s);
	}
	double el = now() - t0;
	printf("connloop %ld cycles in %.3f s: %.0f/s\n", count, el, (double)count / el);
	return 0;
}
