/* lab_value: the value parsers of the lab file (durations, percentages, rates, bit rates,
 * sizes, addresses) and address helpers.  They are strict on purpose: a lab file is read by
 * students, and "10" silently meaning 10 ns (or 10 bytes per second, as tc would read it) is
 * the kind of surprise these parsers exist to refuse. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "lab/lab.h"

/* A plain decimal number: digits, optionally '.' and more digits (".5" and "5." are
 * refused: they are usually typos).  No sign, no exponent, no hex, no inf/nan.  Returns the
 * length of the number (0 when s does not start with one) and its value. */
static size_t number_prefix(const char *s, double *val)
{
	size_t i = 0;
	while (isdigit((unsigned char)s[i]))
		i++;
	if (i == 0)
		return 0;
	if (s[i] == '.') {
		size_t j = i + 1;
		while (isdigit((unsigned char)s[j]))
			j++;
		if (j == i + 1)
			return 0;
		i = j;
	}
	/* Too many digits to mean anything; also keeps strtod's input short. */
	if (i > 40)
		return 0;
	char buf[48];
	memcpy(buf, s, i);
	buf[i] = '\0';
	*val = strtod(buf, NULL);
	return i;
}

struct unit {
	const char *name;
	double mult;
};

/* Number followed by one of the units (case-sensitive unless nocase).  An empty unit name in
 * the table allows a bare number. */
static int parse_with_unit(const char *s, const struct unit *units, size_t n, bool nocase,
			   double *out)
{
	double v;
	if (!s)
		return -EINVAL;
	size_t len = number_prefix(s, &v);
	if (!len)
		return -EINVAL;
	const char *u = s + len;
	for (size_t i = 0; i < n; i++) {
		if (nocase ? !strcasecmp(u, units[i].name) : !strcmp(u, units[i].name)) {
			*out = v * units[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

int lab_parse_duration(const char *s, int64_t *ns)
{
	static const struct unit units[] = {
		{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9},
	};
	double v;
	if (s && !strcmp(s, "0")) {  /* zero needs no unit */
		*ns = 0;
		return 0;
	}
	if (parse_with_unit(s, units, sizeof(units) / sizeof(units[0]), false, &v))
		return -EINVAL;
	/* 2^63 ns is 292 years; anything near it is a typo, not a lab. */
	if (!(v < 9.2e18))
		return -ERANGE;
	*ns = llround(v);
	return 0;
}

int lab_parse_percent(const char *s, double *pct)
{
	double v;
	static const struct unit units[] = {{"%", 1}};
	if (parse_with_unit(s, units, 1, false, &v))
		return -EINVAL;
	if (v > 100)
		return -ERANGE;
	*pct = v;
	return 0;
}

int lab_parse_rate(const char *s, double *per_sec)
{
	static const struct unit units[] = {{"/s", 1}, {"/ms", 1e3}, {"/m", 1.0 / 60}};
	double v;
	if (parse_with_unit(s, units, sizeof(units) / sizeof(units[0]), false, &v))
		return -EINVAL;
	if (!(v < 1e12))
		return -ERANGE;
	*per_sec = v;
	return 0;
}

/* tc's units (tc(8) "RATES"): bit/kbit/mbit/gbit/tbit are bits per second (1000-based),
 * kibit/mibit/... 1024-based, bps/kbps/mbps/... BYTES per second.  A bare number is refused:
 * tc reads it as bytes per second, which surprises everyone. */
int lab_parse_bitrate(const char *s, uint64_t *bps)
{
	static const struct unit units[] = {
		{"bit", 1},           {"kbit", 1e3},        {"mbit", 1e6},
		{"gbit", 1e9},        {"tbit", 1e12},       {"kibit", 1024.0},
		{"mibit", 1048576.0}, {"gibit", 1073741824.0}, {"tibit", 1099511627776.0},
		{"bps", 8},           {"kbps", 8e3},        {"mbps", 8e6},
		{"gbps", 8e9},        {"tbps", 8e12},       {"kibps", 8 * 1024.0},
		{"mibps", 8 * 1048576.0}, {"gibps", 8 * 1073741824.0},
		{"tibps", 8 * 1099511627776.0},
	};
	double v;
	if (parse_with_unit(s, units, sizeof(units) / sizeof(units[0]), true, &v))
		return -EINVAL;
	if (!(v < 1.8e19))
		return -ERANGE;
	/* llround would overflow above 2^63; a double below 2^64 converts exactly. */
	*bps = (uint64_t)(v + 0.5);
	return 0;
}

int lab_parse_size(const char *s, int64_t *bytes)
{
	static const struct unit units[] = {
		{"", 1},     {"B", 1},
		{"k", 1e3},  {"K", 1e3},  {"kB", 1e3},  {"KB", 1e3},
		{"M", 1e6},  {"MB", 1e6}, {"G", 1e9},   {"GB", 1e9},
		{"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
	};
	double v;
	if (parse_with_unit(s, units, sizeof(units) / sizeof(units[0]), false, &v))
		return -EINVAL;
	if (!(v < 9.2e18))
		return -ERANGE;
	/* A fraction of a byte is a typo ("1.5" bytes), but 1.5k is fine. */
	if (v != floor(v))
		return -EINVAL;
	*bytes = (int64_t)v;
	return 0;
}

int lab_parse_addr(const char *s, bool want_prefix, struct lab_addr *out)
{
	char buf[64];
	struct lab_addr a;
	if (!s)
		return -EINVAL;
	size_t len = strlen(s);
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len + 1);
	memset(&a, 0, sizeof(a));
	a.prefixlen = -1;
	char *slash = strchr(buf, '/');
	if (slash) {
		if (!want_prefix)
			return -EINVAL;
		*slash = '\0';
		const char *p = slash + 1;
		if (!*p || strlen(p) > 3)
			return -EINVAL;
		int n = 0;
		for (; *p; p++) {
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			n = n * 10 + (*p - '0');
		}
		a.prefixlen = n;
	} else if (want_prefix) {
		return -EINVAL;
	}
	if (strchr(buf, ':')) {
		a.family = AF_INET6;
		if (inet_pton(AF_INET6, buf, a.bytes) != 1)
			return -EINVAL;
		if (a.prefixlen > 128)
			return -EINVAL;
	} else {
		a.family = AF_INET;
		/* inet_pton refuses the odd forms inet_aton takes (10.1, 0x0a.0.0.1). */
		if (inet_pton(AF_INET, buf, a.bytes) != 1)
			return -EINVAL;
		if (a.prefixlen > 32)
			return -EINVAL;
	}
	*out = a;
	return 0;
}

int lab_addr_format(const struct lab_addr *a, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	if (!a || !buf || len == 0)
		return -EINVAL;
	if (a->family != AF_INET && a->family != AF_INET6) {
		snprintf(buf, len, "?");
		return -EAFNOSUPPORT;
	}
	if (!inet_ntop(a->family, a->bytes, tmp, sizeof(tmp)))
		return -errno;
	int n = a->prefixlen >= 0 ? snprintf(buf, len, "%s/%d", tmp, a->prefixlen)
				  : snprintf(buf, len, "%s", tmp);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return 0;
}

/* Two addresses share a subnet when each lies inside the other's network: compared under the
 * longer of the two prefixes (a missing prefix counts as a full-length one only when both are
 * missing; otherwise the other's prefix is used).  10.0.0.1/24 and 10.0.0.2/24 share one;
 * 10.0.0.1/24 and 10.0.1.2/16 do not (the first would not see the second as on-link). */
bool lab_addr_same_subnet(const struct lab_addr *a, const struct lab_addr *b)
{
	if (!a || !b || a->family != b->family)
		return false;
	int max = a->family == AF_INET ? 32 : a->family == AF_INET6 ? 128 : -1;
	if (max < 0)
		return false;
	int plen;
	if (a->prefixlen < 0 && b->prefixlen < 0)
		plen = max;
	else if (a->prefixlen < 0)
		plen = b->prefixlen;
	else if (b->prefixlen < 0)
		plen = a->prefixlen;
	else
		plen = a->prefixlen > b->prefixlen ? a->prefixlen : b->prefixlen;
	if (plen > max)
		plen = max;
	int full = plen / 8, rest = plen % 8;
	if (memcmp(a->bytes, b->bytes, (size_t)full))
		return false;
	if (rest) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));
		if ((a->bytes[full] & m) != (b->bytes[full] & m))
			return false;
	}
	return true;
}
