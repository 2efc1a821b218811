#include "run/topo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel/link.h"
#include "kernel/netns.h"
#include "kernel/sink.h"
#include "run/stall.h"

void topo_make_id(const char *lab_name, char *id, size_t len)
{
	uint16_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint16_t)(getpid() ^ (uintptr_t)&r);
	/* Keep LABID-HOST within what ip-netns users type comfortably. */
	snprintf(id, len, "%.24s-%04x", lab_name && *lab_name ? lab_name : "lab", r);
}

int topo_check_id(const char *id, struct lc_err *e)
{
	size_t n = strlen(id);
	if (n == 0 || n > 32)
		return err_set(e, -EINVAL, "lab id \"%s\": must be 1 to 32 characters", id);
	for (const char *p = id; *p; p++)
		if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return err_set(e, -EINVAL, "lab id \"%s\": only letters, digits, '-', '_' "
				       "and '.' are allowed", id);
	if (id[0] == '.' || id[0] == '-')
		return err_set(e, -EINVAL, "lab id \"%s\": must not start with '.' or '-'", id);
	return 0;
}

const char *topo_dev_for_addr(const struct lab *lab, int h, const struct lab_addr *addr)
{
	for (int l = 0; l < lab->nlinks; l++) {
		const struct lab_link *L = &lab->links[l];
		if (L->a != h && L->b != h)
			continue;
		const struct lab_host *peer = &lab->hosts[L->a == h ? L->b : L->a];
		for (int i = 0; i < peer->naddrs; i++)
			if (lab_addr_same_subnet(addr, &peer->addrs[i]))
				return L->a == h ? L->dev_a : L->dev_b;
	}
	return "lo";
}

/* A namespace made from inside another whose net.ipv4.tcp_child_ehash_entries is set gets
 * its own established-socket hash table.  Otherwise every lab namespace shares the kernel's
 * global one (262144 buckets on a 24 GiB machine) and every sock_diag dump walks all of it:
 * about 1.3 ms per dump instead of tens of microseconds, which would make a 1 ms timeline
 * impossible.  Sized for the lab's connections; -1 when the kernel lacks the setting. */
static int mother_make(const struct lab *lab)
{
	int64_t want = 4096;
	for (int i = 0; i < lab->nsteps; i++)
		if (lab->steps[i].op == LAB_OP_CONNECT)
			want += 2 * lab->steps[i].u.connect.count;
	uint32_t size = 4096;
	while (size < want && size < (1u << 20))
		size <<= 1;
	int fd;
	char v[16];
	if (netns_new(&fd, NULL) < 0)
		return -1;
	snprintf(v, sizeof(v), "%u", size);
	if (netns_sysctl_write(fd, "net.ipv4.tcp_child_ehash_entries", v, NULL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int host_make(struct topo *t, int mother, int h, struct lc_err *e)
{
	struct topo_host *th = &t->hosts[h];
	int rc;
	snprintf(th->name, sizeof(th->name), "%s", t->lab->hosts[h].name);
	snprintf(th->ns, sizeof(th->ns), "%s-%s", t->id, th->name);
	if ((rc = netns_new_in(mother, &th->fd, e)) < 0)
		return err_prefix(e, "host %s: ", th->name);
	if ((rc = netns_inode(th->fd, &th->ino, e)) < 0 || (rc = nlx_new(th->fd, &th->nl, e)) < 0)
		return err_prefix(e, "host %s (namespace %s): ", th->name, th->ns);
	/* Addresses must work at once: no duplicate address detection in a lab. */
	netns_sysctl_write(th->fd, "net.ipv6.conf.all.accept_dad", "0", NULL);
	netns_sysctl_write(th->fd, "net.ipv6.conf.default.accept_dad", "0", NULL);
	return link_set_up(th->nl, th->ns, "lo", e);
}

static int host_sysctls(struct topo *t, int h, struct lc_err *e)
{
	const struct lab_host *H = &t->lab->hosts[h];
	struct topo_host *th = &t->hosts[h];
	int rc;
	if (H->forward) {
		if ((rc = netns_sysctl_write(th->fd, "net.ipv4.ip_forward", "1", e)) < 0 ||
		    (rc = netns_sysctl_write(th->fd, "net.ipv6.conf.all.forwarding", "1", e)) < 0)
			return err_prefix(e, "host %s (namespace %s): ", th->name, th->ns);
	}
	for (int i = 0; i < H->nsysctls; i++) {
		rc = netns_sysctl_write(th->fd, H->sysctls[i].key, H->sysctls[i].value, e);
		if (rc < 0)
			return err_prefix(e, "%s:%d:%d: host %s (namespace %s): ", t->lab->file,
					  H->sysctls[i].pos.line, H->sysctls[i].pos.col, th->name,
					  th->ns);
	}
	return 0;
}

/* A link end with no IPv6 address in the lab gets no IPv6 at all (before it comes up): no
 * link-local address, so no MLD reports or router solicitations in its captures, ladders
 * and link counters; a lab's packets are the lab's. */
static int v4_only(struct topo *t, int h, const char *dev, struct lc_err *e)
{
	const struct lab_host *H = &t->lab->hosts[h];
	for (int i = 0; i < H->naddrs; i++)
		if (H->addrs[i].family == AF_INET6 &&
		    !strcmp(topo_dev_for_addr(t->lab, h, &H->addrs[i]), dev))
			return 0;
	char key[64];
	snprintf(key, sizeof(key), "net/ipv6/conf/%s/disable_ipv6", dev);
	int rc = netns_sysctl_write(t->hosts[h].fd, key, "1", e);
	if (rc == -ENOENT)
		return 0;   /* a kernel without IPv6 */
	if (rc < 0)
		return err_prefix(e, "host %s (namespace %s): ", t->hosts[h].name, t->hosts[h].ns);
	return 0;
}

static int links_make(struct topo *t, struct lc_err *e)
{
	const struct lab *lab = t->lab;
	int rc;
	for (int l = 0; l < lab->nlinks; l++) {
		const struct lab_link *L = &lab->links[l];
		struct topo_host *a = &t->hosts[L->a], *b = &t->hosts[L->b];
		struct engine_host ea = {a->name, a->fd, a->nl};
		struct engine_host eb = {b->name, b->fd, b->nl};
		rc = t->en->ops->link_create(t->en, l, &ea, &eb, e);
		if (rc < 0)
			return err_prefix(e, "%s:%d:%d: link %s %s: ", lab->file, L->pos.line,
					  L->pos.col, a->name, b->name);
	}
	if (t->en->ops->start && (rc = t->en->ops->start(t->en, e)) < 0)
		return err_prefix(e, "starting the %s engine: ", t->en->ops->name);
	for (int l = 0; l < lab->nlinks; l++) {
		const struct lab_link *L = &lab->links[l];
		struct topo_host *a = &t->hosts[L->a], *b = &t->hosts[L->b];
		if ((rc = v4_only(t, L->a, L->dev_a, e)) < 0 || (rc = v4_only(t, L->b, L->dev_b, e)) < 0)
			return rc;
		if ((rc = link_set_up(a->nl, a->ns, L->dev_a, e)) < 0 ||
		    (rc = link_set_up(b->nl, b->ns, L->dev_b, e)) < 0)
			return rc;
	}
	return 0;
}

static int host_addrs(struct topo *t, int h, struct lc_err *e)
{
	const struct lab_host *H = &t->lab->hosts[h];
	struct topo_host *th = &t->hosts[h];
	for (int i = 0; i < H->naddrs; i++) {
		const char *dev = topo_dev_for_addr(t->lab, h, &H->addrs[i]);
		int rc = link_addr_add(th->nl, th->ns, dev, &H->addrs[i], e);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Static neighbours on every link: the first SYN is not held behind ARP or neighbour
 * discovery (which a delayed link would stretch by a round trip), so a lab's ladder starts
 * with the handshake, as the textbook figure does. */
static int link_neighbours(struct topo *t, struct lc_err *e)
{
	const struct lab *lab = t->lab;
	for (int l = 0; l < lab->nlinks; l++) {
		const struct lab_link *L = &lab->links[l];
		for (int side = 0; side < 2; side++) {
			int h = side ? L->b : L->a, p = side ? L->a : L->b;
			const char *dev = side ? L->dev_b : L->dev_a, *pdev = side ? L->dev_a : L->dev_b;
			uint8_t mac[6];
			int rc = link_mac(t->hosts[p].nl, t->hosts[p].ns, pdev, mac, e);
			if (rc < 0)
				return rc;
			const struct lab_host *P = &lab->hosts[p];
			for (int i = 0; i < P->naddrs; i++) {
				if (strcmp(topo_dev_for_addr(lab, p, &P->addrs[i]), pdev) != 0)
					continue;
				rc = link_neigh_add(t->hosts[h].nl, t->hosts[h].ns, dev, &P->addrs[i],
						    mac, e);
				if (rc < 0)
					return rc;
			}
		}
	}
	return 0;
}

static int host_routes(struct topo *t, struct lc_err *e)
{
	const struct lab *lab = t->lab;
	int rc;
	for (int r = 0; r < lab->nroutes; r++) {
		const struct lab_route *R = &lab->routes[r];
		struct topo_host *th = &t->hosts[R->host];
		struct lab_addr gw = R->via;
		if (!R->blackhole && R->via_is_host &&
		    lab_host_addr_toward(lab, R->via_host, R->host, R->dst.family, &gw) < 0)
			return err_set(e, -EINVAL, "%s:%d:%d: route: host %s shares no subnet with %s",
				       lab->file, R->pos.line, R->pos.col,
				       lab->hosts[R->via_host].name, th->name);
		rc = link_route_add(th->nl, th->ns, &R->dst, R->blackhole ? NULL : &gw,
				    R->blackhole, e);
		if (rc < 0)
			return err_prefix(e, "%s:%d:%d: ", lab->file, R->pos.line, R->pos.col);
	}
	/* Flood sources come from the black-hole range: every host of a lab that floods (or
	 * names its black hole) routes it into a sink, so SYN+ACKs to spoofed sources vanish
	 * inside the lab (not a blackhole route: see sink.h).  Other labs skip the sink's veth
	 * pair per host; without a route the range is unreachable anyway. */
	bool floods = lab->has_blackhole;
	for (int i = 0; i < lab->nsteps && !floods; i++)
		floods = lab->steps[i].op == LAB_OP_FLOOD;
	if (floods && lab->blackhole.family == AF_INET) {
		for (int h = 0; h < t->nhosts; h++) {
			rc = sink_add(t->hosts[h].nl, t->hosts[h].ns, &lab->blackhole, e);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int topo_build(const struct lab *lab, const char *id, struct engine *en, struct topo **out,
	       struct lc_err *e)
{
	int rc = 0;
	struct topo *t = calloc(1, sizeof(*t));
	if (!t)
		return err_set(e, -ENOMEM, "out of memory");
	if (!en) {
		free(t);
		return err_set(e, -EINVAL, "topo_build: no engine");
	}
	t->lab = lab;
	t->en = en;
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->hosts = calloc((size_t)lab->nhosts, sizeof(*t->hosts));
	if (lab->nhosts && !t->hosts) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto err;
	}
	t->nhosts = lab->nhosts;
	for (int h = 0; h < t->nhosts; h++)
		t->hosts[h].fd = -1;
	int mother = mother_make(lab);
	for (int h = 0; h < t->nhosts && rc == 0; h++)
		rc = host_make(t, mother, h, e);
	if (mother >= 0)
		close(mother);
	if (rc < 0)
		goto err;
	for (int h = 0; h < t->nhosts; h++)
		if ((rc = host_sysctls(t, h, e)) < 0)
			goto err;
	if ((rc = links_make(t, e)) < 0)
		goto err;
	stall_point("build");
	for (int h = 0; h < t->nhosts; h++)
		if ((rc = host_addrs(t, h, e)) < 0)
			goto err;
	if ((rc = link_neighbours(t, e)) < 0 || (rc = host_routes(t, e)) < 0)
		goto err;
	*out = t;
	return 0;
err:
	topo_free(t);
	return rc;
}

int topo_expose(struct topo *t, struct lc_err *e)
{
	for (int h = 0; h < t->nhosts; h++) {
		int rc = netns_bind(t->hosts[h].fd, t->hosts[h].ns, e);
		if (rc < 0)
			return err_prefix(e, "exposing host %s: ", t->hosts[h].name);
		t->hosts[h].bound = true;
	}
	return 0;
}

void topo_free(struct topo *t)
{
	if (!t)
		return;
	for (int h = 0; h < t->nhosts; h++) {
		struct topo_host *th = &t->hosts[h];
		if (th->bound)
			netns_unbind(th->ns, th->ino, NULL);
		nlx_free(th->nl);
		if (th->fd >= 0)
			close(th->fd);
	}
	free(t->hosts);
	free(t);
}
