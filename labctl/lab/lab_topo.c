/* lab_topo: the topology statements: lab, about, seed, blackhole, host, link, route, capture
 * and drop (grammar: docs/lab-format.md, "Topology").
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "lab/lab_int.h"

#define HOST_NAME_MAX_LEN 15

/* Lower-case name of letters, digits, '_' and '-', starting with a letter. */
static bool valid_host_name(const char *s)
{
	if (!islower((unsigned char)s[0]))
		return false;
	for (const char *c = s; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_' &&
		    *c != '-')
			return false;
	return true;
}

/* ---- statements ------------------------------------------------------------------------- */

/* The shape of lab, about, seed and blackhole: the word once per file, then one value.
 * 0 when t[1] is there to read; else the error, "WORD needs NEEDS" or "unexpected \"X\"AFTER". */
static int once_value(struct parser *p, struct tok *t, int n, const struct lab_pos *given,
		      const char *again, const char *needs, const char *after)
{
	if (given->line)
		return lab_perr(p, t[0].col, "%s at %d:%d", again, given->line, given->col);
	if (n < 2)
		return lab_perr(p, t[0].col, "%s needs %s", t[0].s, needs);
	if (n > 2)
		return lab_perr(p, t[2].col, "unexpected \"%s\"%s", t[2].s, after);
	return 0;
}

static int st_lab(struct parser *p, struct tok *t, int n)
{
	if (once_value(p, t, n, &p->pos_lab, "lab name already set", "a name",
		       " after the lab name"))
		return -1;
	if (!lab_valid_name(t[1].s) || strlen(t[1].s) >= LAB_NAME_MAX)
		return lab_perr(p, t[1].col,
				"lab name \"%s\" must be 1 to %d letters, digits, '_', '.' or '-'",
				t[1].s, LAB_NAME_MAX - 1);
	snprintf(p->lab->name, sizeof(p->lab->name), "%s", t[1].s);
	p->pos_lab = lab_pos_at(p, t[0].col);
	return 0;
}

static int st_about(struct parser *p, struct tok *t, int n)
{
	if (once_value(p, t, n, &p->pos_about, "about already given", "a \"quoted text\"",
		       ": about takes one \"quoted text\""))
		return -1;
	if (strlen(t[1].s) >= LAB_TEXT_MAX)
		return lab_perr(p, t[1].col, "about text is longer than %d characters",
				LAB_TEXT_MAX - 1);
	snprintf(p->lab->about, sizeof(p->lab->about), "%s", t[1].s);
	p->pos_about = lab_pos_at(p, t[0].col);
	return 0;
}

static int st_seed(struct parser *p, struct tok *t, int n)
{
	if (once_value(p, t, n, &p->pos_seed, "seed already set", "a number", " after the seed"))
		return -1;
	uint64_t v = 0;
	const char *s = t[1].s;
	if (!*s)
		return lab_perr(p, t[1].col, "seed must be a whole number, got \"\"");
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return lab_perr(p, t[1].col, "seed must be a whole number, got \"%s\"",
					t[1].s);
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return lab_perr(p, t[1].col, "seed \"%s\" does not fit in 64 bits", t[1].s);
		v = v * 10 + d;
	}
	p->lab->seed = v;
	p->lab->has_seed = true;
	p->pos_seed = lab_pos_at(p, t[0].col);
	return 0;
}

static int st_blackhole(struct parser *p, struct tok *t, int n)
{
	if (once_value(p, t, n, &p->pos_blackhole, "blackhole already set",
		       "a prefix like 198.18.0.0/24", " after the blackhole prefix"))
		return -1;
	struct lab_addr a;
	if (lab_parse_addr(t[1].s, true, &a))
		return lab_perr(p, t[1].col, "expected a prefix like 198.18.0.0/24, got \"%s\"",
				t[1].s);
	p->lab->blackhole = a;
	p->lab->has_blackhole = true;
	p->pos_blackhole = lab_pos_at(p, t[0].col);
	return 0;
}

static int sysctl_parse(struct parser *p, const struct tok *t, struct lab_sysctl *out)
{
	const char *eq = strchr(t->s, '=');
	if (!eq || eq == t->s)
		return lab_perr(p, t->col,
				"sysctl needs KEY=VALUE, like net.ipv4.tcp_syncookies=0");
	size_t klen = (size_t)(eq - t->s);
	if (klen >= sizeof(out->key))
		return lab_perr(p, t->col, "sysctl key is longer than %zu characters",
				sizeof(out->key) - 1);
	char key[sizeof(out->key)];
	memcpy(key, t->s, klen);
	key[klen] = '\0';
	if (strncmp(key, "net.", 4))
		return lab_perr(p, t->col,
				"sysctl \"%s\" is not per network namespace: only net.* sysctls can "
				"be set for a host",
				key);
	/* Dotted segments of [A-Za-z0-9_-]: the runner maps dots to a /proc/sys path, so
	 * no "..", no '/', no empty segment. */
	bool seg_start = true;
	for (const char *c = key; *c; c++) {
		if (*c == '.') {
			if (seg_start)
				break;
			seg_start = true;
			continue;
		}
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
			return lab_perr(p, t->col, "sysctl key \"%s\" has a bad character '%c'", key,
					*c);
		seg_start = false;
	}
	if (seg_start)
		return lab_perr(p, t->col, "sysctl key \"%s\" has an empty part", key);
	const char *val = eq + 1;
	if (!*val)
		return lab_perr(p, t->col, "sysctl %s needs a value after '='", key);
	if (strlen(val) >= sizeof(out->value))
		return lab_perr(p, t->col, "sysctl value is longer than %zu characters",
				sizeof(out->value) - 1);
	snprintf(out->key, sizeof(out->key), "%s", key);
	snprintf(out->value, sizeof(out->value), "%s", val);
	out->pos = lab_pos_at(p, t->col);
	return 0;
}

/* addr ADDR/LEN: the host's next address (apos, parallel to its addrs, in c->aux) */
static int host_addr(struct parser *p, const struct lab_opt *o, struct lab_optctx *c,
		     struct tok *t, int *ip, int n)
{
	(void)o;
	(void)n;
	struct lab_host *h = c->obj;
	struct lab_pos *apos = c->aux;
	int i = *ip;
	struct lab_addr a;
	if (lab_parse_addr(t[i].s, true, &a)) {
		if (lab_parse_addr(t[i].s, false, &a) == 0)
			return lab_perr(p, t[i].col, "addr needs a prefix length, like %s/24",
					t[i].s);
		return lab_perr(p, t[i].col, "expected an address like 10.0.0.1/24, got \"%s\"",
				t[i].s);
	}
	if (h->naddrs >= LAB_HOST_ADDRS)
		return lab_perr(p, t[i].col, "host %s has more than %d addresses", h->name,
				LAB_HOST_ADDRS);
	if (lab_host_has_addr(h, &a))
		return lab_perr(p, t[i].col, "address %s given twice", t[i].s);
	int owner = lab_addr_owner(p->lab, &a);
	if (owner >= 0)
		return lab_perr(p, t[i].col, "address %s already belongs to host %s", t[i].s,
				p->lab->hosts[owner].name);
	apos[h->naddrs] = lab_pos_at(p, t[i].col);
	h->addrs[h->naddrs++] = a;
	return 0;
}

/* sysctl KEY=VALUE */
static int host_sysctl(struct parser *p, const struct lab_opt *o, struct lab_optctx *c,
		       struct tok *t, int *ip, int n)
{
	(void)o;
	(void)n;
	struct lab_host *h = c->obj;
	int i = *ip;
	if (h->nsysctls >= LAB_HOST_SYSCTLS)
		return lab_perr(p, t[i].col, "host %s has more than %d sysctls", h->name,
				LAB_HOST_SYSCTLS);
	struct lab_sysctl sc;
	if (sysctl_parse(p, &t[i], &sc))
		return -1;
	for (int j = 0; j < h->nsysctls; j++)
		if (!strcmp(h->sysctls[j].key, sc.key))
			return lab_perr(p, t[i].col, "sysctl %s given twice", sc.key);
	h->sysctls[h->nsysctls++] = sc;
	return 0;
}

static const struct lab_opt host_opts[] = {
	{"addr", LAB_OPT_FN, .fn = host_addr,
	 .what = "an address with a prefix length, like 10.0.0.1/24"},
	{"sysctl", LAB_OPT_FN, .fn = host_sysctl,
	 .what = "KEY=VALUE, like net.ipv4.tcp_syncookies=0"},
	{"forward", LAB_OPT_FLAG, LAB_FIELD(struct lab_host, forward)},
};
static const struct lab_optset host_set = LAB_OPTSET("host", host_opts);

static int st_host(struct parser *p, struct tok *t, int n)
{
	struct lab *lab = p->lab;
	if (n < 2)
		return lab_perr(p, t[0].col, "host needs a name");
	const char *name = t[1].s;
	if (!valid_host_name(name))
		return lab_perr(p, t[1].col,
				"host name \"%s\" must be lower-case letters, digits, '_' or '-', "
				"starting with a letter",
				name);
	if (strlen(name) > HOST_NAME_MAX_LEN)
		return lab_perr(p, t[1].col, "host name \"%s\" is longer than %d characters", name,
				HOST_NAME_MAX_LEN);
	if (lab_is_statement(name) || !strcmp(name, "all"))
		return lab_perr(p, t[1].col, "host name \"%s\" is a reserved word", name);
	int prev = lab_host_find(lab, name);
	if (prev >= 0)
		return lab_perr(p, t[1].col, "host \"%s\" already defined at %d:%d", name,
				lab->hosts[prev].pos.line, lab->hosts[prev].pos.col);
	if (lab->nhosts >= LAB_MAX_HOSTS)
		return lab_perr(p, t[1].col, "too many hosts (at most %d)", LAB_MAX_HOSTS);

	struct lab_host h;
	struct lab_pos apos[LAB_HOST_ADDRS];
	memset(&h, 0, sizeof(h));
	memset(apos, 0, sizeof(apos));
	snprintf(h.name, sizeof(h.name), "%s", name);
	h.pos = lab_pos_at(p, t[1].col);
	/* A host whose options have an error is still defined (with the good parts), so the
	 * lines that use it do not pile "unknown host" errors on top. */
	struct lab_optctx c = {.obj = &h, .aux = apos, .host = -1};
	int rc = lab_opts_parse(p, &host_set, t, 2, n, &c);
	if (lab_append(p, (void **)&lab->hosts, &lab->nhosts, &p->cap_hosts, &h, sizeof(h)))
		return -1;
	/* keep addr_pos parallel to hosts */
	void *na = realloc(p->addr_pos, (size_t)p->cap_hosts * sizeof(*p->addr_pos));
	if (!na) {
		p->oom = true;
		return -1;
	}
	p->addr_pos = na;
	memcpy(p->addr_pos[lab->nhosts - 1], apos, sizeof(apos));
	return rc;
}

/* ---- link ------------------------------------------------------------------------------- */

static bool dev_taken(const struct lab *lab, int h, const char *dev)
{
	for (int i = 0; i < lab->nlinks; i++) {
		const struct lab_link *l = &lab->links[i];
		if ((l->a == h && !strcmp(l->dev_a, dev)) || (l->b == h && !strcmp(l->dev_b, dev)))
			return true;
	}
	return false;
}

static int host_nlinks(const struct lab *lab, int h)
{
	int c = 0;
	for (int i = 0; i < lab->nlinks; i++)
		c += (lab->links[i].a == h) + (lab->links[i].b == h);
	return c;
}

/* "HOST[:DEV]" -> host index and device name (or "" when not given). */
static int link_end(struct parser *p, const struct tok *t, int *h, char *dev, int *dcol_out)
{
	char name[64];
	const char *colon = strchr(t->s, ':');
	size_t nl = colon ? (size_t)(colon - t->s) : strlen(t->s);
	dev[0] = '\0';
	if (nl >= sizeof(name))
		return lab_perr(p, t->col, "unknown host \"%.*s\"", (int)nl, t->s);
	memcpy(name, t->s, nl);
	name[nl] = '\0';
	*h = lab_get_host_s(p, name, t->col);
	if (*h < 0)
		return -1;
	if (colon) {
		const char *d = colon + 1;
		int dcol = t->col + (int)nl + 1;
		*dcol_out = dcol;
		if (!*d)
			return lab_perr(p, dcol, "missing device name after ':'");
		if (strlen(d) >= LAB_IFNAME_MAX)
			return lab_perr(p, dcol, "device name \"%s\" is longer than %d characters", d,
					LAB_IFNAME_MAX - 1);
		if (!strcmp(d, "lo") || !strcmp(d, ".") || !strcmp(d, ".."))
			return lab_perr(p, dcol, "device name \"%s\" is reserved", d);
		for (const char *c = d; *c; c++)
			if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
				return lab_perr(p, dcol,
						"device name \"%s\" may hold only letters, "
						"digits, '_', '-' and '.'",
						d);
		snprintf(dev, LAB_IFNAME_MAX, "%s", d);
	}
	return 0;
}

/* ethK for the host's K-th link, or the next free ethN when an explicit name took it. */
static void default_dev(const struct lab *lab, int h, char *dev)
{
	for (int k = host_nlinks(lab, h);; k++) {
		snprintf(dev, LAB_IFNAME_MAX, "eth%d", k);
		if (!dev_taken(lab, h, dev))
			return;
	}
}

static int st_link(struct parser *p, struct tok *t, int n)
{
	struct lab *lab = p->lab;
	struct lab_link l;
	memset(&l, 0, sizeof(l));
	if (n < 3)
		return lab_perr(p, t[0].col, "link needs two hosts, like: link client server");
	int dcol_a = t[1].col, dcol_b = t[2].col;
	if (link_end(p, &t[1], &l.a, l.dev_a, &dcol_a) || link_end(p, &t[2], &l.b, l.dev_b, &dcol_b))
		return -1;
	if (l.a == l.b)
		return lab_perr(p, t[2].col, "link joins host %s to itself", lab->hosts[l.a].name);
	int prev = lab_link_find(lab, l.a, l.b);
	if (prev >= 0)
		return lab_perr(p, t[1].col, "hosts %s and %s are already linked at %d:%d",
				lab->hosts[l.a].name, lab->hosts[l.b].name, lab->links[prev].pos.line,
				lab->links[prev].pos.col);
	if (l.dev_a[0] && dev_taken(lab, l.a, l.dev_a))
		return lab_perr(p, dcol_a, "host %s already has a device %s", lab->hosts[l.a].name,
				l.dev_a);
	if (l.dev_b[0] && dev_taken(lab, l.b, l.dev_b))
		return lab_perr(p, dcol_b, "host %s already has a device %s", lab->hosts[l.b].name,
				l.dev_b);
	if (lab_parse_impairs(p, t, 3, n, l.a, l.b, l.dir, false, NULL))
		return -1;
	if (!l.dev_a[0])
		default_dev(lab, l.a, l.dev_a);
	if (!l.dev_b[0])
		default_dev(lab, l.b, l.dev_b);
	l.pos = lab_pos_at(p, t[0].col);
	return lab_append(p, (void **)&lab->links, &lab->nlinks, &p->cap_links, &l, sizeof(l));
}

/* ---- route, capture, drop --------------------------------------------------------------- */

static int st_route(struct parser *p, struct tok *t, int n)
{
	struct lab *lab = p->lab;
	struct lab_route r;
	memset(&r, 0, sizeof(r));
	r.via_host = -1;
	if (n < 4)
		return lab_perr(p, t[0].col,
				"route needs HOST PREFIX via HOST|ADDR, or HOST PREFIX blackhole");
	if ((r.host = lab_get_host(p, &t[1])) < 0)
		return -1;
	bool is_default = !strcmp(t[2].s, "default");
	if (!is_default) {
		if (lab_parse_addr(t[2].s, true, &r.dst))
			return lab_perr(p, t[2].col,
					"expected a prefix like 10.0.2.0/24 or default, got \"%s\"",
					t[2].s);
		/* ip route refuses host bits under the prefix; say so now, with the fix. */
		struct lab_addr net = r.dst;
		int max = net.family == AF_INET ? 32 : 128;
		for (int bit = net.prefixlen; bit < max; bit++)
			net.bytes[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
		if (!lab_addr_equal(&net, &r.dst)) {
			char fix[64];
			lab_fmt_addr(&net, fix, sizeof(fix));
			return lab_perr(p, t[2].col, "%s has host bits set; did you mean %s?", t[2].s,
					fix);
		}
	}
	const char *how = t[3].s;
	if (!strcmp(how, "blackhole")) {
		if (n > 4)
			return lab_perr(p, t[4].col, "unexpected \"%s\" after blackhole", t[4].s);
		if (is_default) {
			r.dst.family = AF_INET;
			r.dst.prefixlen = 0;
		}
		r.blackhole = true;
	} else if (!strcmp(how, "via")) {
		if (n < 5)
			return lab_perr(p, t[3].col, "via needs a host or an address");
		if (n > 5)
			return lab_perr(p, t[5].col, "unexpected \"%s\" after the gateway", t[5].s);
		const struct tok *vt = &t[4];
		struct lab_addr gw;
		if (lab_parse_addr(vt->s, false, &gw) == 0) {
			if (!is_default && gw.family != r.dst.family)
				return lab_perr(p, vt->col, "gateway %s and prefix %s are different "
						"address families", vt->s, t[2].s);
			bool onlink = false;
			const struct lab_host *h = &lab->hosts[r.host];
			for (int i = 0; i < h->naddrs; i++)
				if (lab_addr_same_subnet(&h->addrs[i], &gw))
					onlink = true;
			if (!onlink)
				return lab_perr(p, vt->col,
						"gateway %s is not on any subnet of host %s", vt->s,
						h->name);
			r.via = gw;
		} else {
			if ((r.via_host = lab_get_host(p, vt)) < 0)
				return -1;
			if (r.via_host == r.host)
				return lab_perr(p, vt->col, "route via the host itself (%s)",
						vt->s);
			int fam = is_default ? 0 : r.dst.family;
			struct lab_addr a;
			const char *fs = fam == AF_INET ? "IPv4 " : fam == AF_INET6 ? "IPv6 " : "";
			if (lab_host_addr_toward(lab, r.via_host, r.host, fam, &a))
				return lab_perr(p, vt->col, "host %s shares no %ssubnet with host %s",
						vt->s, fs, lab->hosts[r.host].name);
			r.via_is_host = true;
			if (is_default)
				r.dst.family = a.family;
		}
		if (is_default) {
			if (!r.via_is_host)
				r.dst.family = gw.family;
			r.dst.prefixlen = 0;
		}
	} else {
		static const char *const hows[] = {"via", "blackhole"};
		char sug[96];
		lab_mean(sug, sizeof(sug), how, hows, 2);
		return lab_perr(p, t[3].col, "expected via or blackhole, got \"%s\"%s", how, sug);
	}
	r.pos = lab_pos_at(p, t[0].col);
	return lab_append(p, (void **)&lab->routes, &lab->nroutes, &p->cap_routes, &r, sizeof(r));
}

static int st_capture(struct parser *p, struct tok *t, int n)
{
	struct lab *lab = p->lab;
	if (n < 2)
		return lab_perr(p, t[0].col, "capture needs a host name or all");
	if (n > 2)
		return lab_perr(p, t[2].col, "unexpected \"%s\": capture takes one host or all",
				t[2].s);
	int h = -1;
	if (strcmp(t[1].s, "all") && (h = lab_get_host(p, &t[1])) < 0)
		return -1;
	for (int i = 0; i < lab->ncaptures; i++)
		if (lab->captures[i].host == h)
			return lab_perr(p, t[1].col, "capture %s already given at %d:%d", t[1].s,
					lab->captures[i].pos.line, lab->captures[i].pos.col);
	struct lab_capture *c = lab_push(p, (void **)&lab->captures, &lab->ncaptures,
					 &p->cap_captures, sizeof(*c));
	if (!c)
		return -1;
	c->host = h;
	c->pos = lab_pos_at(p, t[0].col);
	return 0;
}

/* "A>B" naming an existing link: link index and direction. */
int lab_link_dir(struct parser *p, const struct tok *t, int *link, int *dir)
{
	if (!lab_is_dir_tok(t->s))
		return lab_perr(p, t->col, "expected a direction like client>server, got \"%s\"",
				t->s);
	int a, b;
	if (lab_get_dir_hosts(p, t, &a, &b))
		return -1;
	*link = lab_link_find(p->lab, a, b);
	if (*link < 0)
		return lab_perr(p, t->col, "no link between %s and %s", p->lab->hosts[a].name,
				p->lab->hosts[b].name);
	*dir = p->lab->links[*link].a == a ? 0 : 1;
	return 0;
}

static const struct lab_opt drop_opts[] = {
	{"first", LAB_OPT_UINT, LAB_FIELD(struct lab_rule, first), .what = "a number", .min = 1,
	 .max = INT64_MAX},
};
static const struct lab_optset drop_set = LAB_OPTSET(NULL, drop_opts);

static int st_drop(struct parser *p, struct tok *t, int n)
{
	struct lab *lab = p->lab;
	struct lab_rule r;
	memset(&r, 0, sizeof(r));
	r.action = LAB_RULE_DROP;
	r.first = -1;
	if (n < 4)
		return lab_perr(p, t[0].col,
				"drop needs A>B tcp FLAGS, like: drop client>server tcp ACK");
	if (lab_link_dir(p, &t[1], &r.link, &r.dir))
		return -1;
	if (strcmp(t[2].s, "tcp"))
		return lab_perr(p, t[2].col, "only tcp rules are supported, got \"%s\"", t[2].s);
	/* SYN,ACK or SYN+ACK; matched exactly on SYN/ACK/FIN/RST so "ACK" does not also
	 * drop FIN+ACK, and on PSH/URG only when the rule names them. */
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", t[3].s);
	r.mask = LAB_TCPF_SYN | LAB_TCPF_ACK | LAB_TCPF_FIN | LAB_TCPF_RST;
	char *save = NULL;
	int nflags = 0;
	for (char *f = strtok_r(buf, ",+", &save); f; f = strtok_r(NULL, ",+", &save)) {
		static const char *const names[] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG"};
		int bit = -1;
		for (int j = 0; j < 6; j++)
			if (!strcasecmp(f, names[j]))
				bit = 1 << j;
		if (bit < 0) {
			char sug[96];
			lab_mean(sug, sizeof(sug), f, names, 6);
			return lab_perr(p, t[3].col,
					"unknown TCP flag \"%s\" (SYN, ACK, FIN, RST, PSH, URG)%s", f,
					sug);
		}
		r.flags |= (uint8_t)bit;
		if (bit == LAB_TCPF_PSH || bit == LAB_TCPF_URG)
			r.mask |= (uint8_t)bit;
		nflags++;
	}
	if (!nflags)
		return lab_perr(p, t[3].col, "expected TCP flags like SYN,ACK, got \"%s\"", t[3].s);
	struct lab_optctx c = {.obj = &r, .host = -1};
	if (lab_opts_parse(p, &drop_set, t, 4, n, &c))
		return -1;
	r.pos = lab_pos_at(p, t[0].col);
	return lab_append(p, (void **)&lab->rules, &lab->nrules, &p->cap_rules, &r, sizeof(r));
}

const struct lab_word lab_topo_words[] = {
	{LAB_STATEMENT, "lab", .parse.statement = st_lab},
	{LAB_STATEMENT, "about", .parse.statement = st_about},
	{LAB_STATEMENT, "seed", .parse.statement = st_seed},
	{LAB_STATEMENT, "blackhole", .parse.statement = st_blackhole},
	{LAB_STATEMENT, "host", .parse.statement = st_host},
	{LAB_STATEMENT, "link", .parse.statement = st_link},
	{LAB_STATEMENT, "route", .parse.statement = st_route},
	{LAB_STATEMENT, "capture", .parse.statement = st_capture},
	{LAB_STATEMENT, "drop", .parse.statement = st_drop},
	{.name = NULL},
};
