/* netprobe: an independent peer for the engine tests and bench/impair.sh.  Its clock is its
 * own (CLOCK_MONOTONIC / the kernel's receive timestamps), not labctl's.
 *
 *   netprobe listen PORT                   accept and hold connections until killed
 *   netprobe connect ADDR PORT TIMEOUT_MS [HOLD_MS]
 *                                           prints "connect_us N", or "timeout" (exit 3) or
 *                                           "error ERRNO-TEXT" (exit 4); keeps the socket
 *                                           open HOLD_MS after connecting
 *   netprobe udpsend ADDR PORT COUNT INTERVAL_US [SIZE]
 *                                           COUNT datagrams [seq u32][CLOCK_REALTIME ns u64]
 *   netprobe udprecv PORT IDLE_MS [delays]  prints each received seq (with "delays": "seq
 *                                           one_way_ns", kernel receive timestamp minus the
 *                                           send stamp) until IDLE_MS pass with nothing,
 *                                           then "received N"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int addr_of(const char *ip, int port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

static int do_listen(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	addr_of("0.0.0.0", port, &sa);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 128) < 0) {
		perror("netprobe listen");
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0 && errno != EINTR)
			return 2;
		/* hold it: never closed, never read */
	}
}

static int do_connect(const char *ip, int port, int timeout_ms, int hold_ms)
{
	struct sockaddr_in sa;
	if (addr_of(ip, port, &sa) < 0)
		return 2;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int64_t t0 = mono_ns();
	int r = connect(s, (struct sockaddr *)&sa, sizeof(sa));
	if (r < 0 && errno != EINPROGRESS) {
		printf("error %s\n", strerror(errno));
		return 4;
	}
	struct pollfd p = {.fd = s, .events = POLLOUT};
	r = poll(&p, 1, timeout_ms);
	int64_t t1 = mono_ns();
	if (r == 0) {
		printf("timeout\n");
		return 3;
	}
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		printf("error %s\n", strerror(err));
		return 4;
	}
	printf("connect_us %lld\n", (long long)((t1 - t0) / 1000));
	fflush(stdout);
	if (hold_ms > 0)
		usleep((useconds_t)hold_ms * 1000);
	return 0;
}

static int do_udpsend(const char *ip, int port, long count, long interval_us, int size)
{
	struct sockaddr_in sa;
	uint8_t buf[1500];
	if (addr_of(ip, port, &sa) < 0)
		return 2;
	if (size < 12)
		size = 12;
	if (size > (int)sizeof(buf))
		size = sizeof(buf);
	memset(buf, 0, sizeof(buf));
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int64_t next = mono_ns();
	for (long i = 0; i < count; i++) {
		if (interval_us > 0) {
			next += interval_us * 1000;
			struct timespec ts = {.tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL};
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		uint32_t seq = (uint32_t)i;
		int64_t now = real_ns();
		memcpy(buf, &seq, 4);
		memcpy(buf + 4, &now, 8);
		while (sendto(s, buf, (size_t)size, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			if (errno != ENOBUFS && errno != EAGAIN) {
				perror("netprobe udpsend");
				return 2;
			}
			usleep(50);
		}
	}
	return 0;
}

static int do_udprecv(int port, int idle_ms, int delays)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0), one = 1, big = 1 << 22;
	struct sockaddr_in sa;
	addr_of("0.0.0.0", port, &sa);
	setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("netprobe udprecv");
		return 2;
	}
	printf("bound\n");
	fflush(stdout);
	int64_t t_bound = mono_ns();
	long n = 0;
	int64_t first = 0, last = 0;
	for (;;) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		/* Before the first datagram wait 10 s; after, stop at the first idle gap. */
		int pr = poll(&p, 1, n ? idle_ms : 10000);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			printf("stop %s after %lld ms\n", pr < 0 ? strerror(errno) : "idle",
			       (long long)((mono_ns() - (n ? last : t_bound)) / 1000000));
			break;
		}
		uint8_t buf[2048];
		char cbuf[256];
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		ssize_t len = recvmsg(s, &mh, 0);
		if (len < 12)
			continue;
		int64_t rx = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				rx = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
			}
		uint32_t seq;
		int64_t tx;
		memcpy(&seq, buf, 4);
		memcpy(&tx, buf + 4, 8);
		if (!n)
			first = mono_ns();
		last = mono_ns();
		n++;
		if (delays)
			printf("%u %lld\n", seq, (long long)(rx - tx));
		else
			printf("%u\n", seq);
	}
	printf("received %ld in %.3f s\n", n, (double)(last - first) / 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "listen"))
		return do_listen(atoi(argv[2]));
	if (argc >= 5 && !strcmp(argv[1], "connect"))
		return do_connect(argv[2], atoi(argv[3]), atoi(argv[4]), argc > 5 ? atoi(argv[5]) : 0);
	if (argc >= 6 && !strcmp(argv[1], "udpsend"))
		return do_udpsend(argv[2], atoi(argv[3]), atol(argv[4]), atol(argv[5]),
				  argc > 6 ? atoi(argv[6]) : 64);
	if (argc >= 4 && !strcmp(argv[1], "udprecv"))
		return do_udprecv(atoi(argv[2]), atoi(argv[3]), argc > 4 && !strcmp(argv[4], "delays"));
	fprintf(stderr, "usage: netprobe listen PORT | connect ADDR PORT TIMEOUT_MS [HOLD_MS] | "
		"udpsend ADDR PORT COUNT INTERVAL_US [SIZE] | udprecv PORT IDLE_MS [delays]\n");
	return 2;
}
