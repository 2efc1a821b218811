/* capdrive NETNS IFNAME OUT.pcap: capture with labctl's capture module (capture_start /
 * capture_stop) on IFNAME inside the namespace NETNS (a path such as /run/netns/NAME).
 * Prints "ready" once the capture is live, stops when stdin reaches EOF (or a line is read),
 * then prints "packets N dropped D".  Exit 0, or 2 with the error on stderr.
 *
 * The tools build without liblabctl.a (see the Makefile), so the two modules it needs are
 * compiled in here. */
#include "../../labctl/base/err.c"
#include "../../labctl/kernel/capture.c"

int main(int argc, char **argv)
{
	struct lc_err e = {0};
	struct capture *c = NULL;
	uint64_t n = 0;
	if (argc != 4) {
		fprintf(stderr, "usage: capdrive NETNS IFNAME OUT.pcap\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "capdrive: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	if (capture_start(fd, argv[2], argv[3], &c, &e) < 0) {
		fprintf(stderr, "capdrive: %s\n", e.msg);
		close(fd);
		return 2;
	}
	close(fd);
	printf("ready\n");
	fflush(stdout);
	char buf[64];
	(void)!read(0, buf, sizeof(buf));
	int rc = capture_stop(c, &n, &e);
	if (rc < 0)
		fprintf(stderr, "capdrive: %s\n", e.msg);
	else
		printf("packets %llu dropped %llu\n", (unsigned long long)n,
		       (unsigned long long)capture_dropped(c));
	capture_free(c);
	return rc < 0 ? 2 : 0;
}
