/* tcpfsm: the RFC 9293 state machine figure with one side's path (tcpfsm.h).
 *
 * The layout follows the RFC's figure 5: CLOSED at the top, the two opens below it, the
 * handshake states on either side of ESTABLISHED, the active close down the left, the passive
 * close down the right, TIME_WAIT and a second CLOSED at the bottom (the RFC draws CLOSED twice
 * too, so that no edge has to climb back over the whole figure). */
#include "render/tcpfsm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Columns, rows and the half size of a state's box. */
enum { FL = 150, FM = 400, FR = 650, FW = 800, HW = 64, HH = 17, TOP = 60 };
enum { Y0 = 30, Y1 = 140, Y2 = 250, Y3 = 360, Y4 = 470, Y5 = 590, Y6 = 700, FH = 740 };

/* The figure's nodes: the states, and CLOSED twice (where a path starts and where it ends). */
enum node { N_CLOSED, N_LISTEN, N_SYN_RCVD, N_SYN_SENT, N_ESTAB, N_FIN_WAIT_1, N_CLOSE_WAIT,
	    N_FIN_WAIT_2, N_CLOSING, N_LAST_ACK, N_TIME_WAIT, N_CLOSED_END, N_NODES };

static const struct {
	enum lab_tcp_state st;
	int x, y;
} nodes[N_NODES] = {
	[N_CLOSED] = {LAB_TCP_CLOSE, FM, Y0},
	[N_LISTEN] = {LAB_TCP_LISTEN, FM, Y1},
	[N_SYN_RCVD] = {LAB_TCP_SYN_RECV, FL, Y2},
	[N_SYN_SENT] = {LAB_TCP_SYN_SENT, FR, Y2},
	[N_ESTAB] = {LAB_TCP_ESTABLISHED, FM, Y3},
	[N_FIN_WAIT_1] = {LAB_TCP_FIN_WAIT1, FL, Y4},
	[N_CLOSE_WAIT] = {LAB_TCP_CLOSE_WAIT, FR, Y4},
	[N_FIN_WAIT_2] = {LAB_TCP_FIN_WAIT2, FL, Y5},
	[N_CLOSING] = {LAB_TCP_CLOSING, FM, Y5},
	[N_LAST_ACK] = {LAB_TCP_LAST_ACK, FR, Y5},
	[N_TIME_WAIT] = {LAB_TCP_TIME_WAIT, FM, Y6},
	[N_CLOSED_END] = {LAB_TCP_CLOSE, FR, Y6},
};

/* An edge: from (x1,y1) to (x2,y2), through the control point (cx,cy) when curved (cx < 0:
 * straight); its label at (lx,ly), anchored start, middle or end. */
struct edge {
	enum node from, to;
	const char *label;
	int x1, y1, cx, cy, x2, y2;
	int lx, ly;
	const char *anchor;
};

#define MIDY(a, b) (((a) + (b)) / 2 + 4)
static const struct edge edges[] = {
	{N_CLOSED, N_LISTEN, "passive OPEN", FM - 20, Y0 + HH, -1, 0, FM - 20, Y1 - HH,
	 FM - 28, MIDY(Y0, Y1), "end"},
	{N_LISTEN, N_CLOSED, "CLOSE", FM + 20, Y1 - HH, -1, 0, FM + 20, Y0 + HH,
	 FM + 28, MIDY(Y0, Y1), "start"},
	{N_CLOSED, N_SYN_SENT, "active OPEN / snd SYN", FM + HW, Y0 - 6, FR + 90, Y0 - 6, FR + 50,
	 Y2 - HH, FM + HW + 14, Y0 - 12, "start"},
	{N_SYN_SENT, N_CLOSED, "CLOSE", FR - 10, Y2 - HH, FR - 10, Y0 + 10, FM + HW, Y0 + 8,
	 FR + 4, Y1 + 10, "start"},
	{N_LISTEN, N_SYN_RCVD, "rcv SYN / snd SYN,ACK", FM - HW, Y1, FL + 10, Y1, FL + 10, Y2 - HH,
	 FM - HW - 8, Y1 - 8, "end"},
	{N_LISTEN, N_SYN_SENT, "SEND / snd SYN", FM + HW, Y1, FR - 40, Y1, FR - 40, Y2 - HH,
	 FM + HW + 8, Y1 - 8, "start"},
	{N_SYN_SENT, N_SYN_RCVD, "rcv SYN / snd ACK", FR - HW, Y2, -1, 0, FL + HW, Y2,
	 FM, Y2 - 7, "middle"},
	{N_SYN_RCVD, N_ESTAB, "rcv ACK of SYN", FL + 30, Y2 + HH, FL + 40, Y3, FM - HW, Y3,
	 FL + 90, Y3 - 30, "start"},
	{N_SYN_SENT, N_ESTAB, "rcv SYN,ACK / snd ACK", FR - 30, Y2 + HH, FR - 40, Y3, FM + HW, Y3,
	 FR - 60, Y3 - 26, "end"},
	{N_SYN_RCVD, N_FIN_WAIT_1, "CLOSE / snd FIN", FL - 40, Y2 + HH, -1, 0, FL - 40, Y4 - HH,
	 FL - 54, MIDY(Y2, Y4), "end"},
	{N_ESTAB, N_FIN_WAIT_1, "CLOSE / snd FIN", FM - HW, Y3 + 8, FL + 20, Y3 + 8, FL + 20,
	 Y4 - HH, FM - HW - 8, Y3 + 26, "end"},
	{N_ESTAB, N_CLOSE_WAIT, "rcv FIN / snd ACK", FM + HW, Y3 + 8, FR - 20, Y3 + 8, FR - 20,
	 Y4 - HH, FM + HW + 8, Y3 + 26, "start"},
	{N_FIN_WAIT_1, N_FIN_WAIT_2, "rcv ACK of FIN", FL - 20, Y4 + HH, -1, 0, FL - 20, Y5 - HH,
	 FL - 34, MIDY(Y4, Y5), "end"},
	{N_FIN_WAIT_1, N_CLOSING, "rcv FIN / snd ACK", FL + HW, Y4 + 6, FM, Y4 + 6, FM, Y5 - HH,
	 FL + HW + 8, Y4 - 6 + 28, "start"},
	{N_FIN_WAIT_1, N_TIME_WAIT, "rcv FIN,ACK / snd ACK", FL + 40, Y4 + HH, -1, 0, FM - 40,
	 Y6 - HH, FL + 132, Y5 + 48, "start"},
	{N_CLOSE_WAIT, N_LAST_ACK, "CLOSE / snd FIN", FR, Y4 + HH, -1, 0, FR, Y5 - HH,
	 FR + 14, MIDY(Y4, Y5), "start"},
	{N_FIN_WAIT_2, N_TIME_WAIT, "rcv FIN / snd ACK", FL, Y5 + HH, FL, Y6, FM - HW, Y6,
	 FL + 40, Y6 + 18, "start"},
	{N_CLOSING, N_TIME_WAIT, "rcv ACK of FIN", FM, Y5 + HH, -1, 0, FM, Y6 - HH,
	 FM + 14, MIDY(Y5, Y6), "start"},
	{N_LAST_ACK, N_CLOSED_END, "rcv ACK of FIN", FR, Y5 + HH, -1, 0, FR, Y6 - HH,
	 FR + 14, MIDY(Y5, Y6), "start"},
	{N_TIME_WAIT, N_CLOSED_END, "timeout 2MSL", FM + HW, Y6, -1, 0, FR - HW, Y6,
	 (FM + FR) / 2, Y6 - 7, "middle"},
};
#define NEDGES (sizeof(edges) / sizeof(edges[0]))

static enum lab_tcp_state norm(enum lab_tcp_state s)
{
	return s == LAB_TCP_NEW_SYN_RECV ? LAB_TCP_SYN_RECV : s;
}

const char *tcpfsm_state_name(enum lab_tcp_state s)
{
	return lab_state_name(norm(s));
}

/* The node a path leaves from (CLOSED: the top one) or arrives at (CLOSED: the bottom one). */
static int node_of(enum lab_tcp_state s, bool arriving)
{
	s = norm(s);
	if (s == LAB_TCP_CLOSE)
		return arriving ? N_CLOSED_END : N_CLOSED;
	for (int i = 0; i < N_NODES; i++)
		if (nodes[i].st == s)
			return i;
	return -1;
}

static int edge_find(enum lab_tcp_state from, enum lab_tcp_state to)
{
	from = norm(from);
	to = norm(to);
	for (size_t i = 0; i < NEDGES; i++) {
		if (nodes[edges[i].from].st != from || nodes[edges[i].to].st != to)
			continue;
		return (int)i;
	}
	return -1;
}

bool tcpfsm_edge(enum lab_tcp_state from, enum lab_tcp_state to, const char **label)
{
	int i = edge_find(from, to);
	if (label)
		*label = i >= 0 ? edges[i].label : NULL;
	return i >= 0;
}

const char *tcpfsm_css(void)
{
	return ".fsm-state rect{fill:#fff;stroke:#90a4ae;stroke-width:1.2}\n"
	       ".fsm-state text{font-size:12px;font-weight:bold;fill:#546e7a;text-anchor:middle}\n"
	       ".fsm-seen rect{fill:#e3f2fd;stroke:#1565c0;stroke-width:2}\n"
	       ".fsm-seen text{fill:#0d47a1}\n"
	       ".fsm-last rect{fill:#1565c0;stroke:#0d47a1}\n"
	       ".fsm-last text{fill:#fff}\n"
	       ".fsm-edge path{fill:none;stroke:#b0bec5;stroke-width:1.2}\n"
	       ".fsm-edge text{font-size:10px;fill:#78909c;paint-order:stroke;stroke:#fff;"
	       "stroke-width:3px;stroke-linejoin:round}\n"
	       ".fsm-taken path{stroke:#d84315;stroke-width:3}\n"
	       ".fsm-taken text{fill:#bf360c;font-weight:bold}\n"
	       ".fsm-jump path{stroke:#6a1b9a;stroke-width:2.5;stroke-dasharray:7 5}\n"
	       ".fsm-jump text{fill:#6a1b9a;font-style:italic}\n"
	       ".fsm-num rect{fill:#d84315}\n"
	       ".fsm-jump .fsm-num rect{fill:#6a1b9a}\n"
	       ".fsm-num text{fill:#fff;font-size:11px;font-weight:bold;font-style:normal;"
	       "stroke:none;text-anchor:middle}\n"
	       ".fsm-title{font-size:14px;font-weight:bold;fill:#222}\n"
	       ".fsm-note{font-size:11px;fill:#555}\n";
}

static void xml_put(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* The point at t of the quadratic from p0 through c to p2. */
static void quad_at(double t, double x0, double y0, double cx, double cy, double x2, double y2,
		    double *x, double *y)
{
	double u = 1 - t;
	*x = u * u * x0 + 2 * u * t * cx + t * t * x2;
	*y = u * u * y0 + 2 * u * t * cy + t * t * y2;
}

/* Where the ray from a node's centre towards (tx,ty) leaves its box. */
static void box_exit(int n, double tx, double ty, double *x, double *y)
{
	double cx = nodes[n].x, cy = nodes[n].y + TOP, dx = tx - cx, dy = ty - cy;
	double sx = dx ? HW / fabs(dx) : INFINITY, sy = dy ? HH / fabs(dy) : INFINITY;
	double s = sx < sy ? sx : sy;
	if (!isfinite(s))
		s = 0;
	*x = cx + dx * s;
	*y = cy + dy * s;
}

/* The order numbers of the path's steps on one edge ("2" or "2,5"). */
struct mark {
	char nums[48];
	int count;
};

static void mark_add(struct mark *m, int order)
{
	size_t l = strlen(m->nums);
	snprintf(m->nums + l, sizeof(m->nums) - l, "%s%d", l ? "," : "", order);
	m->count++;
}

static void num_badge(FILE *f, double x, double y, const char *nums)
{
	double w = 8 + 7 * (double)strlen(nums);
	if (w < 18)
		w = 18;
	fprintf(f, "<g class=\"fsm-num\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"18\" "
		"rx=\"9\"/><text x=\"%.1f\" y=\"%.1f\">%s</text></g>", x - w / 2, y - 9, w, x, y + 4,
		nums);
}

static void path_d(FILE *f, double x1, double y1, double cx, double cy, double x2, double y2,
		   bool curved)
{
	if (curved)
		fprintf(f, "M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f", x1, y1, cx, cy, x2, y2);
	else
		fprintf(f, "M%.1f,%.1f L%.1f,%.1f", x1, y1, x2, y2);
}

int tcpfsm_render_svg(FILE *out, const struct tcpfsm_opts *o)
{
	const char *id = o->id ? o->id : "fsm";
	struct mark marks[NEDGES];
	bool seen[N_NODES] = {0};
	memset(marks, 0, sizeof(marks));

	/* Walk the path once: which edges it took, which states it saw, and its jumps. */
	enum lab_tcp_state prev = norm(o->start);
	int last = node_of(prev, false), order = 0;
	if (last >= 0)
		seen[last] = true;
	struct { enum lab_tcp_state from, to; char nums[48]; } jumps[32];
	int njumps = 0;
	for (int i = 0; i < o->n; i++) {
		enum lab_tcp_state s = norm(o->states[i]);
		if (s == prev || node_of(s, true) < 0)
			continue;
		order++;
		int e = edge_find(prev, s);
		if (e >= 0) {
			mark_add(&marks[e], order);
		} else {
			int j;
			for (j = 0; j < njumps; j++)
				if (jumps[j].from == prev && jumps[j].to == s)
					break;
			if (j == njumps && njumps < (int)(sizeof(jumps) / sizeof(jumps[0]))) {
				jumps[j].from = prev;
				jumps[j].to = s;
				jumps[j].nums[0] = '\0';
				njumps++;
			}
			if (j < njumps) {
				size_t l = strlen(jumps[j].nums);
				snprintf(jumps[j].nums + l, sizeof(jumps[j].nums) - l, "%s%d",
					 l ? "," : "", order);
			}
		}
		last = e >= 0 ? (int)edges[e].to : node_of(s, true);
		seen[last] = true;
		prev = s;
	}

	int h = FH + TOP;
	if (o->standalone)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
	fprintf(out, "<svg%s class=\"fsm\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"font-family=\"DejaVu Sans, Verdana, sans-serif\" data-start=\"%s\">\n",
		o->standalone ? " xmlns=\"http://www.w3.org/2000/svg\"" : "", FW, h, FW, h,
		tcpfsm_state_name(o->start));
	fputs("<title>TCP state machine (RFC 9293)", out);
	if (o->title) {
		fputs(": ", out);
		xml_put(out, o->title);
	}
	fputs("</title>\n<defs>\n", out);
	static const struct { const char *suffix, *color; } mk[] = {
		{"a", "#b0bec5"}, {"t", "#d84315"}, {"j", "#6a1b9a"},
	};
	for (size_t i = 0; i < 3; i++)
		fprintf(out, "<marker id=\"%s-%s\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
			"markerWidth=\"%d\" markerHeight=\"%d\" orient=\"auto\" "
			"markerUnits=\"userSpaceOnUse\"><path d=\"M0,1 L10,5 L0,9 z\" fill=\"%s\"/>"
			"</marker>\n", id, mk[i].suffix, i ? 11 : 8, i ? 11 : 8, mk[i].color);
	if (o->standalone)
		fprintf(out, "<style>\n%s</style>\n", tcpfsm_css());
	fputs("</defs>\n", out);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", FW, h);
	if (o->title) {
		fputs("<text class=\"fsm-title\" x=\"12\" y=\"20\">", out);
		xml_put(out, o->title);
		fputs("</text>\n", out);
	}
	fputs("<text class=\"fsm-note\" x=\"12\" y=\"38\">", out);
	if (o->note) {
		xml_put(out, o->note);
		fputs(" \xc2\xb7 ", out);
	}
	fputs("numbered: the transitions taken, in order; dashed: a jump between states "
	      "(not observed)</text>\n", out);

	/* Edges first, so that the states' boxes cover their ends. */
	for (size_t i = 0; i < NEDGES; i++) {
		const struct edge *e = &edges[i];
		bool taken = marks[i].count > 0, curved = e->cx >= 0;
		fprintf(out, "<g class=\"fsm-edge%s\" data-edge=\"%s>%s\"", taken ? " fsm-taken" : "",
			tcpfsm_state_name(nodes[e->from].st), tcpfsm_state_name(nodes[e->to].st));
		if (taken)
			fprintf(out, " data-order=\"%s\"", marks[i].nums);
		fputs("><path d=\"", out);
		path_d(out, e->x1, e->y1 + TOP, e->cx, e->cy + TOP, e->x2, e->y2 + TOP, curved);
		fprintf(out, "\" marker-end=\"url(#%s-%s)\"/>", id, taken ? "t" : "a");
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\">", e->lx, e->ly + TOP,
			e->anchor);
		xml_put(out, e->label);
		fputs("</text>", out);
		if (taken) {
			double mx, my;
			if (curved)
				quad_at(0.5, e->x1, e->y1, e->cx, e->cy, e->x2, e->y2, &mx, &my);
			else
				mx = (e->x1 + e->x2) / 2.0, my = (e->y1 + e->y2) / 2.0;
			num_badge(out, mx, my + TOP, marks[i].nums);
		}
		fputs("</g>\n", out);
	}
	/* Jumps: a dashed curve from one box to the other, bowed to one side of the straight
	 * line so that it does not hide the edges it skips. */
	for (int j = 0; j < njumps; j++) {
		int a = node_of(jumps[j].from, false), b = node_of(jumps[j].to, true);
		if (a < 0 || b < 0 || a == b)
			continue;
		double ax = nodes[a].x, ay = nodes[a].y + TOP, bx = nodes[b].x, by = nodes[b].y + TOP;
		double dx = bx - ax, dy = by - ay, len = sqrt(dx * dx + dy * dy);
		double cx = (ax + bx) / 2 - dy / len * 60, cy = (ay + by) / 2 + dx / len * 60;
		double x1, y1, x2, y2, mx, my;
		box_exit(a, cx, cy, &x1, &y1);
		box_exit(b, cx, cy, &x2, &y2);
		quad_at(0.5, x1, y1, cx, cy, x2, y2, &mx, &my);
		fprintf(out, "<g class=\"fsm-edge fsm-jump\" data-edge=\"%s>%s\" data-order=\"%s\">"
			"<path d=\"", tcpfsm_state_name(jumps[j].from), tcpfsm_state_name(jumps[j].to),
			jumps[j].nums);
		path_d(out, x1, y1, cx, cy, x2, y2, true);
		fprintf(out, "\" marker-end=\"url(#%s-j)\"/>", id);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">not observed</text>",
			mx, my + 24);
		num_badge(out, mx, my, jumps[j].nums);
		fputs("</g>\n", out);
	}
	for (int n = 0; n < N_NODES; n++) {
		const char *name = tcpfsm_state_name(nodes[n].st);
		fprintf(out, "<g class=\"fsm-state%s%s\" data-state=\"%s\"><rect x=\"%d\" y=\"%d\" "
			"width=\"%d\" height=\"%d\" rx=\"6\"/><text x=\"%d\" y=\"%d\">%s</text></g>\n",
			seen[n] ? " fsm-seen" : "", n == last ? " fsm-last" : "", name,
			nodes[n].x - HW, nodes[n].y + TOP - HH, 2 * HW, 2 * HH, nodes[n].x,
			nodes[n].y + TOP + 4, name);
	}
	fputs("</svg>\n", out);
	return ferror(out) ? -EIO : 0;
}
