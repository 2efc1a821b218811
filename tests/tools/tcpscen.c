/* tcpscen SCENARIO CLIENT_NETNS SERVER_NETNS SERVER_IP PORT: play both ends of one TCP
 * exchange from a single process (each socket is created inside its namespace with setns),
 * so the test controls exactly when each side closes.
 *
 *   normal      handshake, "hello" / "hi", client close, server close 300 ms later (4-way)
 *   simclose    handshake, one byte each way, both shutdown(SHUT_WR) back to back; with a
 *               queueing delay on both links (the test adds tbf) the FINs cross: CLOSING
 *   rst         handshake, 4 bytes, client close with SO_LINGER {1, 0}: RST
 *   synretrans  like normal; the test makes the first SYN go unanswered
 * Exit 0 on success, 1 with a message otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "tcpscen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void msleep(int ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/* A socket made inside the namespace at path; we return to our own namespace after. */
static int socket_in(const char *path, int self)
{
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		die(path);
	if (setns(ns, CLONE_NEWNET) < 0)
		die("setns");
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket");
	if (setns(self, CLONE_NEWNET) < 0)
		die("setns back");
	close(ns);
	return s;
}

static void read_eof(int s, const char *who)
{
	char buf[256];
	for (;;) {
		ssize_t n = read(s, buf, sizeof(buf));
		if (n == 0)
			return;
		if (n < 0) {
			fprintf(stderr, "tcpscen: %s read: %s\n", who, strerror(errno));
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: tcpscen normal|simclose|rst|synretrans CLIENT_NS SERVER_NS SERVER_IP PORT\n");
		return 1;
	}
	const char *scen = argv[1];
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		die("/proc/self/ns/net");
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[5]))};
	if (inet_pton(AF_INET, argv[4], &sa.sin_addr) != 1) {
		fprintf(stderr, "tcpscen: bad address %s\n", argv[4]);
		return 1;
	}
	int one = 1;
	int l = socket_in(argv[3], self);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in any = sa;
	any.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(l, (struct sockaddr *)&any, sizeof(any)) < 0)
		die("bind");
	if (listen(l, 8) < 0)
		die("listen");
	int c = socket_in(argv[2], self);
	if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	int s = accept(l, NULL, NULL);
	if (s < 0)
		die("accept");
	close(l);
	char buf[64];

	if (!strcmp(scen, "normal") || !strcmp(scen, "synretrans")) {
		if (write(c, "hello\n", 6) != 6 || read(s, buf, sizeof(buf)) <= 0)
			die("client data");
		if (write(s, "hi\n", 3) != 3 || read(c, buf, sizeof(buf)) <= 0)
			die("server data");
		msleep(50);
		close(c);              /* FIN from the client: FIN_WAIT_1 */
		read_eof(s, "server");  /* server sees EOF: CLOSE_WAIT */
		msleep(300);            /* the FIN's ACK goes alone: a four-way close */
		close(s);               /* LAST_ACK */
	} else if (!strcmp(scen, "simclose")) {
		/* The byte each way empties the link's token bucket, so both FINs wait in the
		 * queue until both sockets are in FIN_WAIT_1. */
		if (write(c, "a", 1) != 1 || write(s, "b", 1) != 1)
			die("write");
		if (shutdown(c, SHUT_WR) < 0 || shutdown(s, SHUT_WR) < 0)
			die("shutdown");
		read_eof(c, "client");
		read_eof(s, "server");
		close(c);
		close(s);
	} else if (!strcmp(scen, "rst")) {
		if (write(c, "ping", 4) != 4 || read(s, buf, sizeof(buf)) <= 0)
			die("data");
		msleep(50);
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		if (setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
			die("SO_LINGER");
		close(c);  /* linger 0: abort, RST instead of FIN */
		ssize_t n = read(s, buf, sizeof(buf));
		if (n >= 0 || errno != ECONNRESET) {
			fprintf(stderr, "tcpscen: server read after RST gave %zd (%s), want ECONNRESET\n",
				n, n < 0 ? strerror(errno) : "no error");
			return 1;
		}
		close(s);
	} else {
		fprintf(stderr, "tcpscen: unknown scenario %s\n", scen);
		return 1;
	}
	msleep(300);  /* the last ACKs reach the capture */
	return 0;
}
