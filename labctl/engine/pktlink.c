/* pktlink: link ends as veth pairs and packet sockets.  See pktlink.h. */
#include "engine/pktlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/veth.h"
#include "kernel/link.h"
#include "kernel/netns.h"
#include "kernel/nlx.h"

int pktlink_tun_usable(void)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int pktlink_wire_new(int *fd, struct nlx **nl, struct lc_err *e)
{
	int rc;
	*nl = NULL;
	if ((rc = netns_new(fd, e)) < 0)
		return err_prefix(e, "the packet engine's wire namespace: ");
	/* Devices made after this get no IPv6: no link-local address, so no router
	 * solicitations or MLD reports from the wire ends into the lab. */
	netns_sysctl_write(*fd, "net.ipv6.conf.all.disable_ipv6", "1", NULL);
	netns_sysctl_write(*fd, "net.ipv6.conf.default.disable_ipv6", "1", NULL);
	if ((rc = nlx_new(*fd, nl, e)) < 0) {
		close(*fd);
		*fd = -1;
		return err_prefix(e, "the packet engine's wire namespace: ");
	}
	return 0;
}

static int sock_open(int wire_fd, const char *wire_dev, int *out, struct lc_err *e)
{
	int saved, rc, fd;
	if ((rc = netns_enter(wire_fd, &saved, e)) < 0)
		return rc;
	/* Protocol 0 until bound: an ETH_P_ALL socket would see every device's frames meanwhile. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	rc = fd < 0 ? -errno : 0;
	unsigned idx = fd >= 0 ? if_nametoindex(wire_dev) : 0;
	netns_leave(&saved);
	if (rc < 0)
		return err_set(e, rc, "packet socket on %s: %s", wire_dev, strerror(-rc));
	if (!idx) {
		close(fd);
		return err_set(e, -ENODEV, "packet socket: no device %s in the wire namespace",
			       wire_dev);
	}
	const char *step = "";
	int one = 1, v2 = TPACKET_V2;
	/* Only what arrives from the host: our own transmissions on this end would come back
	 * to us otherwise. */
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		step = "PACKET_IGNORE_OUTGOING";
	else if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2)) < 0)
		step = "PACKET_VERSION";
	else {
		struct tpacket_req req = {
			.tp_block_size = PKTLINK_FRAME_SIZE * 32,
			.tp_block_nr = PKTLINK_RING_FRAMES / 32,
			.tp_frame_size = PKTLINK_FRAME_SIZE,
			.tp_frame_nr = PKTLINK_RING_FRAMES,
		};
		if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
			step = "PACKET_RX_RING";
	}
	if (!*step) {
		struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
					  .sll_ifindex = (int)idx};
		if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
			step = "bind";
	}
	if (*step) {
		rc = -errno;
		close(fd);
		return err_set(e, rc, "packet socket on %s: %s: %s", wire_dev, step, strerror(-rc));
	}
	*out = fd;
	return 0;
}

int pktlink_end_open(int wire_fd, struct nlx *wire_nl, const struct engine_host *h,
		     const char *dev, const uint8_t mac[6], int host_ifindex, int wire_ifindex,
		     int *fd, struct lc_err *e)
{
	char where[64], wire_dev[IFNAMSIZ];
	int rc;
	snprintf(where, sizeof(where), "host %s", h->name);
	snprintf(wire_dev, sizeof(wire_dev), "w%d", wire_ifindex);
	struct veth_end w = {.where = "the wire namespace", .name = wire_dev, .up = 1,
			     .ifindex = wire_ifindex};
	struct veth_end he = {.where = where, .name = dev, .mac = mac, .ifindex = host_ifindex};
	if ((rc = veth_pair_add(wire_nl, &w, h->netns_fd, &he, e)) < 0)
		return rc;
	char ns[80];
	snprintf(ns, sizeof(ns), "of host %s", h->name);
	if ((rc = link_offloads_off(h->netns_fd, ns, dev, e)) < 0)
		return rc;
	return sock_open(wire_fd, wire_dev, fd, e);
}

int pktlink_ring_map(int fd, struct pktlink_ring *r)
{
	memset(r, 0, sizeof(*r));
	r->nframes = PKTLINK_RING_FRAMES;
	r->len = (size_t)PKTLINK_RING_FRAMES * PKTLINK_FRAME_SIZE;
	void *m = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		r->map = NULL;
		return -errno;
	}
	r->map = m;
	return 0;
}

void pktlink_ring_unmap(struct pktlink_ring *r)
{
	if (r->map)
		munmap(r->map, r->len);
	r->map = NULL;
}

static struct tpacket2_hdr *slot(struct pktlink_ring *r)
{
	return (struct tpacket2_hdr *)(r->map + (size_t)r->head * PKTLINK_FRAME_SIZE);
}

const uint8_t *pktlink_ring_next(struct pktlink_ring *r, size_t *len, int64_t *real_ns,
				 int *truncated)
{
	if (!r->map)
		return NULL;
	struct tpacket2_hdr *h = slot(r);
	/* The kernel writes the frame, then its status: read the status first. */
	if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
		return NULL;
	*len = h->tp_snaplen;
	*truncated = h->tp_len > h->tp_snaplen;
	*real_ns = (int64_t)h->tp_sec * 1000000000 + h->tp_nsec;
	return (const uint8_t *)h + h->tp_mac;
}

void pktlink_ring_release(struct pktlink_ring *r)
{
	__atomic_store_n(&slot(r)->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	r->head = (r->head + 1) % r->nframes;
}
