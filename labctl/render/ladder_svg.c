/* ladder_svg: the ladder as one SVG document, every chosen connection stacked vertically
 * (ladder_render_svg), from what ladder.c built (ladder_int.h). */
#include "render/ladder_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_W 1000
#define S_AXIS 96
#define S_XL 340
#define S_XR 800
#define S_CHAR 7.2   /* advance of a 12px monospace glyph */

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20)
				fputc(*s, f);
		}
	}
}

/* Vertical position of each event: at least one text line apart, more for longer pauses
 * (logarithmic, so a 1 s RTO does not push the rest off the page). */
static double *svg_layout(const struct ladder *l, const struct lev *v, size_t n, double y0)
{
	double *y = malloc((n + 1) * sizeof(*y));
	if (!y)
		return NULL;
	(void)l;
	for (size_t i = 0; i < n; i++) {
		if (i == 0) {
			y[i] = y0;
			continue;
		}
		double dt = (double)(v[i].ts - v[i - 1].ts) / 1e6;
		double gap = 34 + fmin(46, 9 * log2(1 + (dt > 0 ? dt : 0)));
		y[i] = y[i - 1] + gap;
	}
	return y;
}

static const char *svg_color(const struct lpkt *k)
{
	if (k->flags & TF_RST)
		return "#c62828";
	if (k->mark == LM_RETRANS || k->mark == LM_FAST_RETRANS)
		return "#d84315";
	if (k->mark == LM_DUPACK)
		return "#ef6c00";
	if (k->flags & (TF_SYN | TF_FIN))
		return "#2e7d32";
	return "#1f4e79";
}

static const char *svg_marker(const struct lpkt *k)
{
	if (k->flags & TF_RST)
		return "ah-rst";
	if (k->mark == LM_RETRANS || k->mark == LM_FAST_RETRANS)
		return "ah-re";
	if (k->mark == LM_DUPACK)
		return "ah-dup";
	if (k->flags & (TF_SYN | TF_FIN))
		return "ah-sf";
	return "ah";
}

static void svg_state_box(FILE *f, double x, double y, int side, const char *name)
{
	double w = strlen(name) * 6.6 + 12;
	double bx = side == 0 ? x - 10 - w : x + 10;
	fprintf(f, "<rect class=\"state\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"18\" rx=\"3\"/>",
		bx, y - 9, w);
	fprintf(f, "<circle cx=\"%d\" cy=\"%.1f\" r=\"3.5\" class=\"statedot\"/>", (int)x, y);
	fprintf(f, "<text class=\"statet\" x=\"%.1f\" y=\"%.1f\">", bx + w / 2, y + 4);
	xml_text(f, name);
	fputs("</text>\n", f);
}

struct svg_block {
	uint32_t ci;
	struct lev *v;
	size_t n;
	double *y;
	double top, height;
};

static void svg_conn(const struct ladder *l, FILE *f, const struct svg_block *b, bool abs_seq)
{
	const struct lconn *c = &l->c[b->ci];
	struct ladder_conn_info in;
	ladder_conn_info(l, b->ci + 1, &in);
	double top = b->top;
	double last = b->n ? b->y[b->n - 1] : top + 100;
	char lab[160], note[96];
	int64_t last_rx[2];
	ladder_conn_last_rx(l, c, last_rx);

	fprintf(f, "<g class=\"conn\" id=\"conn%u\">\n", in.id);
	fprintf(f, "<text class=\"title\" x=\"20\" y=\"%.1f\">connection %u: ", top + 22, in.id);
	xml_text(f, in.left);
	fputs(" \xe2\x86\x92 ", f);  /* U+2192 RIGHTWARDS ARROW */
	xml_text(f, in.right);
	fprintf(f, " \xc2\xb7 %zu packets \xc2\xb7 %.3f ms \xc2\xb7 %s</text>\n", in.packets,
		(double)(in.last_ns - in.first_ns) / 1e6, in.end);

	/* Endpoint boxes and lifelines. */
	const char *names[2] = {in.left, in.right};
	int xs[2] = {S_XL, S_XR};
	for (int s = 0; s < 2; s++) {
		double w = strlen(names[s]) * S_CHAR + 20;
		fprintf(f, "<rect class=\"host\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"26\" rx=\"4\"/>",
			xs[s] - w / 2, top + 36, w);
		fprintf(f, "<text class=\"hostt\" x=\"%d\" y=\"%.1f\">", xs[s], top + 54);
		xml_text(f, names[s]);
		fputs("</text>\n", f);
		fprintf(f, "<line class=\"life\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", xs[s],
			top + 62, xs[s], last + 24);
	}
	/* Time axis. */
	fprintf(f, "<text class=\"axist\" x=\"%d\" y=\"%.1f\">time (ms)</text>\n", S_AXIS - 6, top + 54);
	fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", S_AXIS,
		top + 62, S_AXIS, last + 24);

	for (size_t i = 0; i < b->n; i++) {
		const struct lev *x = &b->v[i];
		double y = b->y[i];
		fprintf(f, "<line class=\"tick\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", S_AXIS - 4,
			y, S_AXIS, y);
		fprintf(f, "<line class=\"guide\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", S_AXIS + 2,
			y, S_XL, y);
		fprintf(f, "<text class=\"tickt\" x=\"%d\" y=\"%.1f\">%.3f</text>\n", S_AXIS - 7, y + 4,
			ladder_rel_ms(l, x->ts));
		if (x->kind == LEV_STATE) {
			svg_state_box(f, xs[x->side], y, x->side, l->s[x->idx].name);
			continue;
		}
		if (x->kind == LEV_RECV)
			continue;  /* drawn with its send event */
		const struct lpkt *k = &l->p[x->idx];
		double y2 = y;
		if (k->rx_ts >= 0)
			for (size_t j = i + 1; j < b->n; j++)
				if (b->v[j].kind == LEV_RECV && b->v[j].idx == x->idx) {
					y2 = b->y[j];
					break;
				}
		double x1 = k->dir == 0 ? S_XL : S_XR, x2 = k->dir == 0 ? S_XR : S_XL;
		bool dashed = k->mark == LM_RETRANS || k->mark == LM_FAST_RETRANS;
		if (ladder_pkt_lost(k, last_rx)) {
			/* lost on the way: the line stops at three quarters, ending in a cross */
			double xe = x1 + (x2 - x1) * 0.75;
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
				"stroke-width=\"1.6\"%s/>", x1, y, xe, y, svg_color(k),
				dashed ? " stroke-dasharray=\"7 4\"" : "");
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"18\" fill=\"%s\">"
				"\xc3\x97</text>\n", xe, y + 5, svg_color(k));  /* U+00D7 MULTIPLICATION SIGN */
		} else {
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
				"stroke-width=\"1.6\"%s marker-end=\"url(#%s)\"/>\n",
				x1, y, x2 + (k->dir == 0 ? -1 : 1), y2, svg_color(k),
				dashed ? " stroke-dasharray=\"7 4\"" : "", svg_marker(k));
		}
		ladder_pkt_label(l, k, abs_seq, lab, sizeof(lab));
		ladder_pkt_note_lost(k, last_rx, note, sizeof(note));
		/* Slanted arrows carry their label nearer the sender, so the labels of two
		 * crossing arrows (a simultaneous close) do not sit on top of each other. */
		double half = strlen(lab) * S_CHAR / 2 + 8;
		double at = y2 > y ? fmax(0.3, fmin(0.5, half / (S_XR - S_XL))) : 0.5;
		double mx = x1 + (x2 - x1) * at, my = y + (y2 - y) * at;
		double ang = atan2(y2 - y, x2 - x1) * 180 / M_PI;
		if (ang > 90)
			ang -= 180;
		else if (ang < -90)
			ang += 180;
		fprintf(f, "<g transform=\"rotate(%.2f %.1f %.1f)\">", ang, mx, my);
		fprintf(f, "<text class=\"lab\" x=\"%.1f\" y=\"%.1f\" fill=\"%s\">", mx, my - 5,
			svg_color(k));
		xml_text(f, lab);
		fputs("</text>", f);
		if (note[0]) {
			fprintf(f, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\">", mx, my + 13);
			xml_text(f, note);
			fputs("</text>", f);
		}
		fputs("</g>", f);
		char fr[24];
		ladder_frame_str(l, k, fr, sizeof(fr));
		fprintf(f, "<text class=\"frame\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>\n",
			k->dir == 0 ? x1 + 6.0 : x1 - 6.0, y + 12, k->dir == 0 ? "start" : "end", fr);
		(void)c;
	}
	fputs("</g>\n", f);
}

int ladder_render_svg(const struct ladder *l, FILE *out, const struct ladder_render_opts *o)
{
	size_t n = ladder_npick(l, o);
	struct svg_block *b = calloc(n + 1, sizeof(*b));
	int rc = 0;
	if (!b)
		return -ENOMEM;
	double top = 10;
	struct lsindex si = {0};
	if (ladder_sindex_build(l, &si) < 0) {
		rc = -ENOMEM;
		goto free_blocks;
	}
	for (size_t i = 0; i < n; i++) {
		if (ladder_pick(l, o, i, &b[i].ci) < 0) {
			rc = -ENOENT;
			goto free_blocks;
		}
		if (ladder_conn_events(l, &si, b[i].ci, &b[i].v, &b[i].n) < 0 ||
		    !(b[i].y = svg_layout(l, b[i].v, b[i].n, top + 96))) {
			rc = -ENOMEM;
			goto free_blocks;
		}
		b[i].top = top;
		double last = b[i].n ? b[i].y[b[i].n - 1] : top + 100;
		b[i].height = last + 40 - top;
		top += b[i].height + 20;
	}
	double height = top;
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
		"viewBox=\"0 0 %d %.0f\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" "
		"font-size=\"12\">\n", S_W, height, S_W, height);
	fputs("<title>TCP ladder diagram (labctl ladder)</title>\n<defs>\n", out);
	static const struct { const char *id, *color; } m[] = {
		{"ah", "#1f4e79"}, {"ah-sf", "#2e7d32"}, {"ah-rst", "#c62828"},
		{"ah-re", "#d84315"}, {"ah-dup", "#ef6c00"},
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		fprintf(out, "<marker id=\"%s\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
			"markerWidth=\"9\" markerHeight=\"9\" orient=\"auto\" markerUnits=\"userSpaceOnUse\">"
			"<path d=\"M0,1 L10,5 L0,9 z\" fill=\"%s\"/></marker>\n", m[i].id, m[i].color);
	fputs("<style>\n"
	      ".title{font-size:14px;font-weight:bold;fill:#222}\n"
	      ".host{fill:#e3f2fd;stroke:#1f4e79;stroke-width:1.2}\n"
	      ".hostt{text-anchor:middle;font-weight:bold;fill:#0d2b45}\n"
	      ".life{stroke:#555;stroke-width:2}\n"
	      ".axis{stroke:#999;stroke-width:1}\n"
	      ".axist{text-anchor:end;fill:#666;font-size:11px}\n"
	      ".tick{stroke:#999}\n"
	      ".tickt{text-anchor:end;fill:#555;font-size:11px}\n"
	      ".guide{stroke:#e4e4e4;stroke-dasharray:2 3}\n"
	      ".lab{text-anchor:middle;paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}\n"
	      ".note{text-anchor:middle;fill:#c62828;font-style:italic;font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:4px}\n"
	      ".frame{fill:#999;font-size:9px}\n"
	      ".state{fill:#fff8e1;stroke:#f9a825;stroke-width:1.2}\n"
	      ".statet{text-anchor:middle;font-size:11px;font-weight:bold;fill:#5d4037}\n"
	      ".statedot{fill:#f9a825}\n"
	      "</style>\n</defs>\n", out);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#fff\"/>\n", S_W, height);
	for (size_t i = 0; i < n; i++)
		svg_conn(l, out, &b[i], o && o->abs_seq);
	fputs("</svg>\n", out);
	if (ferror(out))
		rc = -EIO;
free_blocks:
	ladder_sindex_free(&si);
	for (size_t i = 0; i < n; i++) {
		free(b[i].v);
		free(b[i].y);
	}
	free(b);
	return rc;
}
