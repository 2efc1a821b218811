/* run_step: what `labctl run --step` needs from the runner between two steps: the loop kept
 * running (agents' events, the poller) while the terminal is read, and a host's sockets. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "render/sockfmt.h"
#include "run/run_int.h"

const struct lab *run_lab(const struct run *r)
{
	return r->lab;
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ONE);
}

int run_wait_readable(struct run *r, int fd)
{
	ev_io w;
	ev_io_init(&w, on_readable, fd, EV_READ);
	ev_io_start(r->loop, &w);
	while (!r->interrupted) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 0) == 1)
			break;
		ev_run(r->loop, EVRUN_ONCE);
	}
	ev_io_stop(r->loop, &w);
	return r->interrupted ? -EINTR : 0;
}

struct sock_print {
	struct sockfmt_buf *b;
	int n;
};

static int on_sock(const struct diag_sock *s, void *arg)
{
	struct sock_print *p = arg;
	if (!s) {
		p->b->len = 0; /* the dump restarts: drop what it printed so far */
		p->n = 0;
		return 0;
	}
	sockfmt_row(p->b, s, false);
	p->n++;
	return 0;
}

int run_print_sockets(struct run *r, int h, FILE *out, struct lc_err *e)
{
	if (h < 0 || h >= r->lab->nhosts || !r->hosts[h].diag)
		return err_set(e, -ENOENT, "no such host");
	struct diag_filter f = r->pollf;
	f.states = 0; /* every state, listeners too */
	struct sockfmt_buf *b = malloc(sizeof(*b));
	if (!b)
		return err_set(e, -ENOMEM, "out of memory");
	sockfmt_init(b, out);
	sockfmt_header(b, false);
	struct sock_print p = {b, 0};
	int rc = diag_dump(r->hosts[h].diag, &f, on_sock, &p, e);
	sockfmt_flush(b);
	free(b);
	return rc < 0 ? rc : p.n;
}
