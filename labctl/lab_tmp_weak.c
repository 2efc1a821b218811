/* Temporary weak stand-ins used by the topology code until the parser branch lands;
 * removed at that merge. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lab.h"

__attribute__((weak)) int lab_addr_format(const struct lab_addr *a, char *buf, size_t len)
{
	char t[INET6_ADDRSTRLEN];
	inet_ntop(a->family, a->bytes, t, sizeof(t));
	if (a->prefixlen >= 0)
		return snprintf(buf, len, "%s/%d", t, a->prefixlen);
	return snprintf(buf, len, "%s", t);
}

__attribute__((weak)) bool lab_addr_same_subnet(const struct lab_addr *a, const struct lab_addr *b)
{
	if (a->family != b->family)
		return false;
	int plen = a->prefixlen < b->prefixlen ? a->prefixlen : b->prefixlen;
	if (plen < 0)
		return false;
	for (int i = 0; i < plen; i++) {
		int m = 0x80 >> (i % 8);
		if ((a->bytes[i / 8] & m) != (b->bytes[i / 8] & m))
			return false;
	}
	return true;
}

__attribute__((weak)) int lab_host_addr_toward(const struct lab *lab, int h, int peer, int family,
					       struct lab_addr *out)
{
	const struct lab_host *H = &lab->hosts[h], *P = &lab->hosts[peer];
	for (int i = 0; i < H->naddrs; i++)
		for (int j = 0; j < P->naddrs; j++)
			if ((!family || H->addrs[i].family == family) &&
			    lab_addr_same_subnet(&H->addrs[i], &P->addrs[j])) {
				*out = H->addrs[i];
				return 0;
			}
	return -ENOENT;
}
