/* libFuzzer target: the sock_diag reply parser (diag_parse_buf) on arbitrary bytes, every
 * parsed socket rendered as a table row and as JSON (the JSON must stay one line with
 * balanced braces); and the /proc/net counters parser (nstat_parse) on the same bytes.
 * Build and run: tests/fuzz/run_diag.sh */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/diag.h"
#include "kernel/nstat.h"
#include "render/sockfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sockfmt_buf *out;

static int render(const struct diag_sock *s, void *arg)
{
	(void)arg;
	if (!s)
		return 0;
	if ((int)s->state <= 0 || s->state >= LAB_TCP_MAX_STATES || s->state == LAB_TCP_NEW_SYN_RECV)
		abort();  /* the parser must map or reject every state */
	size_t before = out->len;
	sockfmt_json(out, s);
	if (out->len > before) {
		int depth = 0, quotes = 0;
		for (size_t i = before; i < out->len - 1; i++) {
			char c = out->data[i];
			if (c == '\n')
				abort();
			quotes += c == '"';
			depth += c == '{' ? 1 : c == '}' ? -1 : 0;
		}
		if (depth != 0 || quotes % 2)
			abort();
	}
	sockfmt_row(out, s, true);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!out) {
		out = malloc(sizeof(*out));
		sockfmt_init(out, fopen("/dev/null", "w"));
	}
	/* exact-size copy: ASan sees any read past the end */
	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	struct lc_err e = {0};
	bool done = false, intr = false;
	diag_parse_buf(buf, size, 0, 0, render, NULL, &done, &intr, &e);
	out->len = 0;
	free(buf);

	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct nstat *t = nstat_new();
	if (nstat_parse(t, text, &e) == 0) {
		int64_t v;
		nstat_find(t, "TcpExtListenOverflows", &v, &e);
	}
	nstat_free(t);
	free(text);
	return 0;
}
