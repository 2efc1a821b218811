/* report: a lab run as one self-contained HTML page (report.h). */
#include "render/report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "render/tcpfsm.h"

void report_put_text(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\t': fputs("    ", out); break;
		default:
			/* Control characters would make the page invalid XML: show them as '?'. */
			fputc(c < 0x20 && c != '\n' ? '?' : c, out);
		}
	}
}

/* A state's colour on the chart and in the legend. */
static const char *state_color(enum lab_tcp_state s)
{
	switch (s) {
	case LAB_TCP_SYN_SENT: return "#ffb74d";
	case LAB_TCP_SYN_RECV:
	case LAB_TCP_NEW_SYN_RECV: return "#ffd54f";
	case LAB_TCP_ESTABLISHED: return "#81c784";
	case LAB_TCP_FIN_WAIT1: return "#4fc3f7";
	case LAB_TCP_FIN_WAIT2: return "#0288d1";
	case LAB_TCP_CLOSING: return "#9575cd";
	case LAB_TCP_TIME_WAIT: return "#90a4ae";
	case LAB_TCP_CLOSE_WAIT: return "#f06292";
	case LAB_TCP_LAST_ACK: return "#e57373";
	case LAB_TCP_LISTEN: return "#bdbdbd";
	default: return "#eeeeee";
	}
}

static const char page_css[] =
	"body{font-family:'DejaVu Sans',Verdana,sans-serif;margin:0 auto;max-width:1100px;"
	"padding:12px 20px;color:#222;background:#fafafa}\n"
	"h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ccc}"
	"h3{font-size:14px;margin:14px 0 4px}\n"
	".r-badge{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-size:16px;"
	"vertical-align:middle}\n"
	".r-pass{background:#2e7d32}.r-failv{background:#c62828}.r-errorv{background:#6d4c41}\n"
	".r-about{font-style:italic;color:#444;margin:4px 0 10px}\n"
	"table.r-meta td{padding:1px 12px 1px 0;vertical-align:top}table.r-meta td:first-child{color:#666}\n"
	"nav a{margin-right:14px;color:#1565c0}\n"
	".r-src{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12.5px;"
	"background:#fff;border:1px solid #ddd;padding:6px 0;overflow-x:auto}\n"
	".r-line{white-space:pre;padding:0 8px;min-height:1.3em}\n"
	".r-ln{display:inline-block;width:3.5em;color:#999;text-align:right;margin-right:1em;"
	"user-select:none}\n"
	".r-comment code{color:#6a737d}\n"
	".r-ok{background:#e8f5e9}.r-fail{background:#ffebee}.r-err{background:#fbe9e7}"
	".r-notrun{background:#f5f5f5;color:#888}\n"
	".r-verdict{display:inline-block;margin-left:1.5em;padding:0 6px;border-radius:3px;"
	"font-weight:bold;color:#fff}\n"
	".r-verdict[data-result=ok]{background:#2e7d32}.r-verdict[data-result=FAIL]{background:#c62828}"
	".r-verdict[data-result=ERR]{background:#6d4c41}.r-verdict[data-result='not run']"
	"{background:#9e9e9e}\n"
	".r-seen{margin-left:.8em;color:#333;font-style:italic}\n"
	".r-legend span{display:inline-block;margin:0 10px 4px 0;font-size:12px}\n"
	".r-legend i{display:inline-block;width:14px;height:10px;margin-right:4px;border:1px solid #999}\n"
	".r-chart,.r-ladder{background:#fff;border:1px solid #ddd;overflow-x:auto}\n"
	".r-chart svg{display:block}\n"
	".r-lanet{font-size:12px;fill:#222}.r-lanet tspan.h{font-weight:bold}\n"
	".r-axis{stroke:#999}.r-grid{stroke:#eee}.r-axt{font-size:11px;fill:#555;text-anchor:middle}\n"
	".r-spant{font-size:10px;fill:#222;pointer-events:none}\n"
	".r-pkt{stroke:#37474f;stroke-width:1}\n"
	".r-end{fill:#c62828;font-size:12px;font-weight:bold}\n"
	".r-conn{display:flex;flex-wrap:wrap;gap:12px}\n"
	".r-fsm{margin:0;flex:1 1 480px;background:#fff;border:1px solid #ddd;padding:6px}\n"
	".r-fsm svg{width:100%;height:auto;display:block}\n"
	".r-fsm ol{font-size:12.5px;margin:6px 0 2px;padding-left:2.2em}\n"
	".r-fsm li.r-jump{color:#6a1b9a}\n"
	"table.r-tab{border-collapse:collapse;background:#fff}table.r-tab td,table.r-tab th"
	"{border:1px solid #ddd;padding:3px 10px;text-align:right}table.r-tab th{background:#f0f0f0}"
	"table.r-tab td:first-child{text-align:left}\n"
	"pre.r-log{background:#fff;border:1px solid #ddd;padding:6px;max-height:400px;overflow:auto}\n"
	".r-note{color:#555;font-size:13px}\n"
	"footer{margin-top:30px;color:#888;font-size:12px}\n";

static void put_date(FILE *out, int64_t real_ns)
{
	time_t t = (time_t)(real_ns / 1000000000);
	struct tm tm;
	char buf[64];
	if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, sizeof(buf), "?");
	fputs(buf, out);
}

static const char *verdict_word(int failed)
{
	return failed == 0 ? "PASS" : failed > 0 ? "FAIL" : "ERROR";
}

static void head(FILE *out, const struct report_run *rr)
{
	const struct lab *lab = rr->lab;
	const char *v = verdict_word(rr->failed);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\n"
	      "<meta name=\"viewport\" content=\"width=device-width\"/>\n<title>", out);
	fprintf(out, "%s %s (labctl)</title>\n<style>\n%s%s</style>\n</head>\n<body>\n", v,
		lab->name, page_css, tcpfsm_css());
	fprintf(out, "<header><h1>lab %s <span class=\"r-badge %s\" id=\"verdict\" "
		"data-verdict=\"%s\">%s</span></h1>\n", lab->name,
		rr->failed == 0 ? "r-pass" : rr->failed > 0 ? "r-failv" : "r-errorv", v, v);
	if (lab->about[0]) {
		fputs("<p class=\"r-about\">", out);
		report_put_text(out, lab->about);
		fputs("</p>\n", out);
	}
	fputs("<table class=\"r-meta\">\n<tr><td>verdict</td><td>", out);
	if (rr->failed == 0)
		fprintf(out, "PASS: %d steps, %d expectations held", lab->nsteps, rr->nexpect);
	else if (rr->failed > 0)
		fprintf(out, "FAIL: %d of %d expectations failed", rr->failed, rr->nexpect);
	else {
		fputs("ERROR: the lab could not run to its end", out);
		if (rr->error) {
			fputs(": ", out);
			report_put_text(out, rr->error);
		}
	}
	fprintf(out, " (%.2f s)</td></tr>\n<tr><td>file</td><td>", rr->seconds);
	report_put_text(out, lab->file);
	fputs("</td></tr>\n<tr><td>id</td><td>", out);
	report_put_text(out, rr->id);
	fputs("</td></tr>\n<tr><td>engine</td><td>", out);
	report_put_text(out, rr->engine);
	fprintf(out, "</td></tr>\n<tr><td>seed</td><td>%" PRIu64 "</td></tr>\n<tr><td>kernel</td><td>",
		rr->seed);
	report_put_text(out, rr->kernel);
	fputs("</td></tr>\n<tr><td>date</td><td>", out);
	put_date(out, rr->start_real_ns);
	if (rr->run_dir) {
		/* A file link: the page stays free of network URLs. */
		fputs("</td></tr>\n<tr><td>files</td><td><a id=\"rundir\" href=\"file://", out);
		report_put_text(out, rr->run_dir);
		fputs("/\">", out);
		report_put_text(out, rr->run_dir);
		fputs("</a>", out);
	}
	fputs("</td></tr>\n</table>\n</header>\n", out);
	fputs("<nav><a href=\"#steps\">steps</a><a href=\"#timeline\">timeline</a>"
	      "<a href=\"#fsm\">state machine</a><a href=\"#ladder\">ladder</a>"
	      "<a href=\"#links\">links</a>", out);
	if (rr->nlogs)
		fputs("<a href=\"#logs\">programs</a>", out);
	fputs("</nav>\n", out);
}

/* ---- the lab file, each step's line marked with its verdict ---- */

static const char *line_class(const char *mark)
{
	return !strcmp(mark, "ok") ? "r-ok" : !strcmp(mark, "FAIL") ? "r-fail" : "r-err";
}

static void source(FILE *out, const struct report_run *rr)
{
	const struct lab *lab = rr->lab;
	fputs("<section id=\"steps\"><h2>The lab file and its steps</h2>\n<div class=\"r-src\">\n",
	      out);
	for (int ln = 1; ln <= rr->nlines; ln++) {
		/* The worst verdict of the line's steps gives its colour; a step line with no
		 * record did not run (the lab stopped before it). */
		const char *cls = "";
		bool has_step = false, all_run = true;
		for (int k = 0; k < lab->nsteps; k++) {
			if (lab->steps[k].pos.line != ln)
				continue;
			has_step = true;
			bool ran = false;
			for (int i = 0; i < rr->nsteps; i++)
				if (rr->steps[i].line == ln && rr->steps[i].col == lab->steps[k].pos.col)
					ran = true;
			all_run &= ran;
		}
		for (int i = 0; i < rr->nsteps; i++) {
			if (rr->steps[i].line != ln)
				continue;
			const char *c = line_class(rr->steps[i].mark);
			if (!cls[0] || !strcmp(c, "r-fail") || (!strcmp(c, "r-err") && strcmp(cls, "r-fail")))
				cls = c;
		}
		if (has_step && !cls[0])
			cls = "r-notrun";
		const char *text = rr->lines[ln - 1];
		const char *p = text + strspn(text, " \t");
		bool comment = *p == '#';
		fprintf(out, "<div class=\"r-line%s%s%s%s\" id=\"L%d\" data-line=\"%d\"%s>"
			"<span class=\"r-ln\">%d</span><code>", cls[0] ? " " : "", cls,
			comment ? " r-comment" : "", has_step ? " r-step" : "", ln, ln,
			has_step ? " data-step=\"1\"" : "", ln);
		report_put_text(out, text);
		fputs("</code>", out);
		for (int i = 0; i < rr->nsteps; i++) {
			const struct report_step *s = &rr->steps[i];
			if (s->line != ln)
				continue;
			fprintf(out, "<span class=\"r-verdict\" data-result=\"%s\" title=\"at %.3f s\">"
				"%s %.3fs</span>", s->mark, s->t, s->mark, s->t);
			if (s->detail[0]) {
				fputs("<span class=\"r-seen\">", out);
				report_put_text(out, s->detail);
				fputs("</span>", out);
			}
		}
		if (has_step && !all_run)
			fputs("<span class=\"r-verdict\" data-result=\"not run\">not run</span>", out);
		fputs("</div>\n", out);
	}
	fputs("</div>\n</section>\n", out);
}

/* ---- the timeline chart ---- */

enum { C_W = 1060, C_LABEL = 360, C_RIGHT = 16, C_TOP = 30, C_LANE = 26 };

static double nice_step(double span)
{
	double raw = span / 8, p = pow(10, floor(log10(raw)));
	double m = raw / p;
	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void side_label(FILE *out, const struct report_run *rr, const struct report_side *s)
{
	fputs("<tspan class=\"h\">", out);
	report_put_text(out, rr->lab->hosts[s->host].name);
	fputs("</tspan> ", out);
	report_put_text(out, s->local);
	fputs(" \xe2\x86\x92 ", out); /* U+2192 */
	report_put_text(out, s->peer);
}

static void chart(FILE *out, const struct report_run *rr)
{
	fputs("<section id=\"timeline\"><h2>Timeline</h2>\n", out);
	if (rr->nsides == 0) {
		fputs("<p class=\"r-note\">No connection was seen on the lab's ports.</p>\n</section>\n",
		      out);
		return;
	}
	fprintf(out, "<p class=\"r-note\">Each lane is one side of one connection, as sock_diag saw "
		"it (polled every %.3g ms: a state shorter than that may be missed); ticks above a "
		"lane are the packets captured at that host. Time in ms since the first step.</p>\n",
		(double)rr->poll_ns / 1e6);
	static const enum lab_tcp_state legend[] = {
		LAB_TCP_SYN_SENT, LAB_TCP_SYN_RECV, LAB_TCP_ESTABLISHED, LAB_TCP_FIN_WAIT1,
		LAB_TCP_FIN_WAIT2, LAB_TCP_CLOSING, LAB_TCP_TIME_WAIT, LAB_TCP_CLOSE_WAIT,
		LAB_TCP_LAST_ACK,
	};
	fputs("<div class=\"r-legend\">", out);
	for (size_t i = 0; i < sizeof(legend) / sizeof(legend[0]); i++)
		fprintf(out, "<span><i style=\"background:%s\"></i>%s</span>", state_color(legend[i]),
			lab_state_name(legend[i]));
	fputs("<span><b style=\"color:#c62828\">\xc3\x97</b> CLOSED (gone from the dumps)</span>"
	      "</div>\n", out);

	double span_ms = (double)(rr->span_ns > 0 ? rr->span_ns : 1000000) / 1e6;
	double x0 = C_LABEL, x1 = C_W - C_RIGHT, pw = x1 - x0;
	int h = C_TOP + rr->nsides * C_LANE + 12;
	fprintf(out, "<div class=\"r-chart\"><svg class=\"r-timeline\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Verdana, sans-serif\">\n"
		"<title>Timeline: each connection side's TCP states</title>\n", C_W, h, C_W, h);
	double step = nice_step(span_ms);
	for (double t = 0; t <= span_ms + step / 1000; t += step) {
		double x = x0 + pw * t / span_ms;
		fprintf(out, "<line class=\"r-grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
			"<text class=\"r-axt\" x=\"%.1f\" y=\"%d\">%g</text>\n", x, C_TOP - 6, x, h - 8,
			x, C_TOP - 10, t);
	}
	for (int i = 0; i < rr->nsides; i++) {
		const struct report_side *s = &rr->sides[i];
		int y = C_TOP + i * C_LANE;
		fprintf(out, "<g class=\"r-lane\" data-conn=\"%d\" data-host=\"%s\" data-local=\"%s\" "
			"data-peer=\"%s\">", s->conn, rr->lab->hosts[s->host].name, s->local, s->peer);
		fprintf(out, "<text class=\"r-lanet\" x=\"6\" y=\"%d\">%d. ", y + 18, s->conn);
		side_label(out, rr, s);
		fputs("</text>\n", out);
		for (int k = 0; k < s->nstates; k++) {
			const struct report_state *st = &s->states[k];
			double a = (double)st->t_ns / 1e6;
			double b = k + 1 < s->nstates ? (double)s->states[k + 1].t_ns / 1e6 : span_ms;
			double xa = x0 + pw * a / span_ms, xb = x0 + pw * b / span_ms;
			const char *name = lab_state_name(st->state);
			if (st->state == LAB_TCP_CLOSE) {
				fprintf(out, "<text class=\"r-end\" data-state=\"CLOSED\" x=\"%.1f\" y=\"%d\" "
					"text-anchor=\"middle\">\xc3\x97<title>CLOSED at %.3f ms</title></text>",
					xa, y + 21, a);
				continue;
			}
			if (xb < xa + 1)
				xb = xa + 1;
			fprintf(out, "<rect class=\"r-span\" data-state=\"%s\" x=\"%.1f\" y=\"%d\" "
				"width=\"%.1f\" height=\"14\" fill=\"%s\"><title>%s %.3f-%.3f ms</title>"
				"</rect>", name, xa, y + 9, xb - xa, state_color(st->state), name, a, b);
			if (xb - xa > 6.5 * (double)strlen(name) + 6)
				fprintf(out, "<text class=\"r-spant\" x=\"%.1f\" y=\"%d\">%s</text>", xa + 3,
					y + 20, name);
		}
		/* One tick per pixel column at most: a bulk transfer has thousands of packets. */
		double lastx = -1;
		for (int k = 0; k < s->npkts; k++) {
			double x = x0 + pw * ((double)s->pkts[k] / 1e6) / span_ms;
			if (x < x0 || x > x1 || x - lastx < 1)
				continue;
			fprintf(out, "<line class=\"r-pkt\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>",
				x, y + 2, x, y + 8);
			lastx = x;
		}
		fputs("</g>\n", out);
	}
	fputs("</svg></div>\n", out);
	if (rr->sides_left_out)
		fprintf(out, "<p class=\"r-note\">... and %d more connections, not drawn (labctl run "
			"--json lists them all).</p>\n", rr->sides_left_out);
	if (rr->timeline_capped)
		fputs("<p class=\"r-note\">The poller stopped following past 20000 connections.</p>\n",
		      out);
	fputs("</section>\n", out);
}

/* ---- the ladder: labctl's own SVG, inlined ---- */

static void ladder(FILE *out, const struct report_run *rr)
{
	fputs("<section id=\"ladder\"><h2>Ladder</h2>\n", out);
	if (!rr->ladder_svg) {
		fputs("<p class=\"r-note\">No packets were captured: add <code>capture all</code> to "
		      "the lab, or run it with <code>--capture DIR</code>.</p>\n</section>\n", out);
		return;
	}
	if (rr->ladder_note) {
		fputs("<p class=\"r-note\">", out);
		report_put_text(out, rr->ladder_note);
		fputs("</p>\n", out);
	}
	/* Inline SVG in HTML takes no XML declaration and needs no namespace attribute (the
	 * page then names no URL at all). */
	const char *s = rr->ladder_svg, *end = s + rr->ladder_len;
	if (!strncmp(s, "<?xml", 5)) {
		const char *q = memchr(s, '>', (size_t)(end - s));
		s = q ? q + 1 : s;
		while (s < end && (*s == '\n' || *s == '\r'))
			s++;
	}
	static const char ns[] = " xmlns=\"http://www.w3.org/2000/svg\"";
	const char *svg_end = memchr(s, '>', (size_t)(end - s));
	const char *n = NULL;
	for (const char *p = s; svg_end && p + sizeof(ns) - 1 <= svg_end; p++)
		if (!memcmp(p, ns, sizeof(ns) - 1)) {
			n = p;
			break;
		}
	fputs("<div class=\"r-ladder\">", out);
	if (n) {
		fwrite(s, 1, (size_t)(n - s), out);
		s = n + sizeof(ns) - 1;
	}
	fwrite(s, 1, (size_t)(end - s), out);
	fputs("</div>\n</section>\n", out);
}

/* ---- the state machine, per connection ---- */

static void fsm_side(FILE *out, const struct report_run *rr, const struct report_side *s, int idx)
{
	enum lab_tcp_state path[64];
	int n = 0;
	for (int k = 0; k < s->nstates && n < 64; k++)
		path[n++] = s->states[k].state;
	char title[256], id[16];
	snprintf(title, sizeof(title), "%s %s \xe2\x86\x92 %s", rr->lab->hosts[s->host].name,
		 s->local, s->peer);
	snprintf(id, sizeof(id), "fsm%d", idx);
	fprintf(out, "<figure class=\"r-fsm\" data-conn=\"%d\" data-host=\"%s\" data-local=\"%s\" "
		"data-peer=\"%s\" data-path=\"", s->conn, rr->lab->hosts[s->host].name, s->local,
		s->peer);
	enum lab_tcp_state prev = s->passive ? LAB_TCP_LISTEN : LAB_TCP_CLOSE;
	bool first = true;
	for (int k = 0; k < n; k++) {
		enum lab_tcp_state to = path[k] == LAB_TCP_NEW_SYN_RECV ? LAB_TCP_SYN_RECV : path[k];
		if (to == prev)
			continue;
		fprintf(out, "%s%s>%s", first ? "" : " ", tcpfsm_state_name(prev),
			tcpfsm_state_name(to));
		first = false;
		prev = to;
	}
	fputs("\">\n", out);
	struct tcpfsm_opts o = {
		.id = id, .title = title,
		.note = s->passive ? "born of a listener: starts at LISTEN" : NULL,
		.start = s->passive ? LAB_TCP_LISTEN : LAB_TCP_CLOSE, .states = path, .n = n,
	};
	tcpfsm_render_svg(out, &o);
	fputs("<figcaption><ol>\n", out);
	prev = o.start;
	for (int k = 0; k < s->nstates; k++) {
		enum lab_tcp_state to = s->states[k].state == LAB_TCP_NEW_SYN_RECV ? LAB_TCP_SYN_RECV
										    : s->states[k].state;
		if (to == prev)
			continue;
		const char *label;
		bool edge = tcpfsm_edge(prev, to, &label);
		fprintf(out, "<li%s>%s \xe2\x86\x92 %s at %.3f ms: ", edge ? "" : " class=\"r-jump\"",
			tcpfsm_state_name(prev), tcpfsm_state_name(to), (double)s->states[k].t_ns / 1e6);
		if (edge)
			report_put_text(out, label);
		else
			fprintf(out, "not observed: no edge of the figure joins them (a reset, or states "
				"in between shorter than the %.3g ms poll)", (double)rr->poll_ns / 1e6);
		fputs("</li>\n", out);
		prev = to;
	}
	fputs("</ol></figcaption></figure>\n", out);
}

static void fsms(FILE *out, const struct report_run *rr)
{
	fputs("<section id=\"fsm\"><h2>TCP state machine, per connection</h2>\n", out);
	if (rr->nsides == 0)
		fputs("<p class=\"r-note\">No connection to draw.</p>\n", out);
	else
		fputs("<p class=\"r-note\">The RFC 9293 figure; the transitions each side was seen to "
		      "take are coloured and numbered in order. A dashed edge joins two states seen one "
		      "after the other that no edge of the figure joins: the figure does not invent the "
		      "states the poller did not see.</p>\n", out);
	for (int i = 0; i < rr->nsides;) {
		int conn = rr->sides[i].conn;
		fprintf(out, "<div class=\"r-conn\" data-conn=\"%d\"><h3 style=\"flex-basis:100%%\">"
			"connection %d</h3>\n", conn, conn);
		for (; i < rr->nsides && rr->sides[i].conn == conn; i++)
			fsm_side(out, rr, &rr->sides[i], i);
		fputs("</div>\n", out);
	}
	fputs("</section>\n", out);
}

/* ---- link counters, logs, files ---- */

static void links(FILE *out, const struct report_run *rr)
{
	fputs("<section id=\"links\"><h2>Links</h2>\n", out);
	if (rr->nlinks == 0) {
		fputs("<p class=\"r-note\">No link was impaired: no counters to show.</p>\n</section>\n",
		      out);
		return;
	}
	fputs("<p class=\"r-note\">Frames per direction of each impaired link (the ", out);
	report_put_text(out, rr->link_engine ? rr->link_engine : "engine");
	fputs(" engine's counters).</p>\n<table class=\"r-tab\"><tr><th>direction</th>"
	      "<th>delivered</th><th>dropped</th><th>lost</th><th>over limit</th><th>by rule</th>"
	      "</tr>\n", out);
	for (int i = 0; i < rr->nlinks; i++) {
		const struct report_link *l = &rr->links[i];
		fprintf(out, "<tr class=\"r-link\" data-from=\"%s\" data-to=\"%s\"><td>%s \xe2\x86\x92 %s"
			"</td>", l->from, l->to, l->from, l->to);
		if (!l->ok) {
			fputs("<td colspan=\"5\">no counters: ", out);
			report_put_text(out, l->err);
			fputs("</td></tr>\n", out);
			continue;
		}
		fprintf(out, "<td>%" PRIu64 "</td><td>%" PRIu64 "</td>", l->delivered, l->dropped);
		if (l->split)
			fprintf(out, "<td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td>", l->lost,
				l->overlimit, l->ruled);
		else
			fputs("<td colspan=\"3\">(loss or queue limit)</td>", out);
		fputs("</tr>\n", out);
	}
	fputs("</table>\n</section>\n", out);
}

static void logs(FILE *out, const struct report_run *rr)
{
	if (rr->nlogs == 0)
		return;
	fputs("<section id=\"logs\"><h2>Programs</h2>\n", out);
	for (int i = 0; i < rr->nlogs; i++) {
		fputs("<h3>", out);
		report_put_text(out, rr->logs[i].name);
		fputs("</h3>\n<pre class=\"r-log\">", out);
		/* Not NUL-terminated necessarily: escape by length. */
		for (size_t k = 0; k < rr->logs[i].len; k++) {
			char c[2] = {rr->logs[i].text[k], 0};
			report_put_text(out, c);
		}
		fputs("</pre>\n", out);
	}
	fputs("</section>\n", out);
}

static void files(FILE *out, const struct report_run *rr)
{
	if (rr->nfiles == 0)
		return;
	fputs("<section id=\"files\"><h2>Files this run wrote</h2>\n<ul>\n", out);
	for (int i = 0; i < rr->nfiles; i++) {
		fputs("<li><code>", out);
		report_put_text(out, rr->files[i].path);
		fputs("</code> ", out);
		report_put_text(out, rr->files[i].what);
		fputs("</li>\n", out);
	}
	fputs("</ul>\n</section>\n", out);
}

int report_html(FILE *out, const struct report_run *rr)
{
	head(out, rr);
	source(out, rr);
	chart(out, rr);
	fsms(out, rr);
	ladder(out, rr);
	links(out, rr);
	logs(out, rr);
	files(out, rr);
	fputs("<footer>Written by labctl run --report: one self-contained page (no script, no "
	      "external file).</footer>\n</body>\n</html>\n", out);
	return ferror(out) ? -EIO : 0;
}

int report_index_html(FILE *out, const struct report_index_row *rows, int n,
		      int64_t date_real_ns)
{
	int np = 0;
	for (int i = 0; i < n; i++)
		np += !strcmp(rows[i].result, "pass");
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\n"
		"<title>labctl: %d labs, %d passed</title>\n<style>\n%s</style>\n</head>\n<body>\n"
		"<h1>%d labs: %d passed, %d did not</h1>\n<p class=\"r-note\">", n, np, page_css, n, np,
		n - np);
	put_date(out, date_real_ns);
	fputs("</p>\n<table class=\"r-tab\" id=\"summary\"><tr><th>lab</th><th>result</th>"
	      "<th>time</th><th>file</th></tr>\n", out);
	for (int i = 0; i < n; i++) {
		const struct report_index_row *r = &rows[i];
		fprintf(out, "<tr data-result=\"%s\"><td>", r->result);
		if (r->href) {
			fputs("<a href=\"", out);
			report_put_text(out, r->href);
			fputs("\">", out);
		}
		report_put_text(out, r->name && r->name[0] ? r->name : "?");
		if (r->href)
			fputs("</a>", out);
		fprintf(out, "</td><td>%s</td><td>%.2f s</td><td>", r->result, r->seconds);
		report_put_text(out, r->file);
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n</body>\n</html>\n", out);
	return ferror(out) ? -EIO : 0;
}
