/* tcpprobe: an independent TCP peer for the tests (not labctl's code or clock).
 *   tcpprobe listen PORT [COUNT]        accept COUNT connections (default 1), echo a line
 *   tcpprobe connect ADDR PORT [TIMEOUT_MS]
 *       connect, print "connected MS" (the connect() time, CLOCK_MONOTONIC) or
 *       "refused" / "timeout" / "error ERRNO"; exit 0 only when connected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int sa_from(const char *a, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "listen")) {
		int n = argc > 3 ? atoi(argv[3]) : 1, one = 1;
		int s = socket(AF_INET6, SOCK_STREAM, 0);
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)atoi(argv[2]))};
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 128) < 0) {
			perror("tcpprobe listen");
			return 2;
		}
		printf("listening\n");
		fflush(stdout);
		for (int i = 0; i < n; i++) {
			int c = accept(s, NULL, NULL);
			if (c < 0)
				return 2;
			(void)!write(c, "hello\n", 6);
			close(c);
		}
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "connect")) {
		struct sockaddr_storage ss;
		socklen_t len;
		int timeout = argc > 4 ? atoi(argv[4]) : 5000;
		if (sa_from(argv[2], atoi(argv[3]), &ss, &len) < 0) {
			fprintf(stderr, "tcpprobe: bad address %s\n", argv[2]);
			return 2;
		}
		int s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		double t0 = now_ms();
		int rc = connect(s, (struct sockaddr *)&ss, len);
		if (rc < 0 && errno == EINPROGRESS) {
			struct pollfd p = {.fd = s, .events = POLLOUT};
			rc = poll(&p, 1, timeout);
			if (rc == 0) {
				printf("timeout\n");
				return 1;
			}
			int err = 0;
			socklen_t el = sizeof(err);
			getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
			errno = err;
			rc = err ? -1 : 0;
		}
		if (rc < 0) {
			if (errno == ECONNREFUSED)
				printf("refused\n");
			else if (errno == ETIMEDOUT)
				printf("timeout\n");
			else
				printf("error %s\n", strerror(errno));
			return 1;
		}
		printf("connected %.3f\n", now_ms() - t0);
		return 0;
	}
	fprintf(stderr, "usage: tcpprobe listen PORT [COUNT] | connect ADDR PORT [TIMEOUT_MS]\n");
	return 2;
}
