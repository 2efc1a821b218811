/* sockfmt: fast text and JSON rendering of struct diag_sock for `labctl ss` and the run report.
 *
 * Output goes into a caller-owned byte buffer (struct sockfmt_buf) that flushes to a FILE when
 * nearly full: numbers and IPv4 addresses are formatted by hand, since printf dominates the
 * cost of listing 100k sockets.
 */
#ifndef LABCTL_SOCKFMT_H
#define LABCTL_SOCKFMT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kernel/diag.h"

#define SOCKFMT_BUF (1 << 20)

struct sockfmt_buf {
	FILE *out;
	size_t len;
	bool failed;        /* a write to out failed */
	char data[SOCKFMT_BUF];
};

void sockfmt_init(struct sockfmt_buf *b, FILE *out);
int sockfmt_flush(struct sockfmt_buf *b);   /* 0 or -EIO */

void sockfmt_header(struct sockfmt_buf *b, bool info);
/* One table row (plus an indented tcp_info line when info and s->has_info). */
void sockfmt_row(struct sockfmt_buf *b, const struct diag_sock *s, bool info);
/* One JSON object and a newline. */
void sockfmt_json(struct sockfmt_buf *b, const struct diag_sock *s);

#endif
