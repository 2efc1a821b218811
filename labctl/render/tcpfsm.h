/* tcpfsm: the TCP state machine figure (RFC 9293, figure 5) as SVG, with one connection side's
 * path through it highlighted and numbered.
 *
 * The figure is a fixed template: eleven states and the named edges of the RFC's figure
 * ("CLOSED>LISTEN", "SYN_SENT>ESTABLISHED", ...), plus FIN_WAIT_1>TIME_WAIT (a FIN that also
 * acknowledges ours: the RFC's text, Stevens' figure, and what Linux does).  A path is the
 * states one side was seen in, in order.  Each step that is an edge of the figure colours that
 * edge and puts its number on it.  A step that is not (ESTABLISHED>CLOSED: a reset, or states
 * a sock_diag poller did not see in between) is drawn as a dashed edge marked "not observed":
 * the figure never invents the states that were missed.
 *
 * Every element of the template carries its name: <g class="fsm-edge fsm-taken"
 * data-edge="SYN_SENT>ESTABLISHED" data-order="2">, <g class="fsm-edge fsm-jump" ...> and
 * <g class="fsm-state" data-state="LISTEN">, so tests (and a reader's script) can check the
 * path from the DOM.
 *
 * Writes only to the FILE * it is given; owns nothing.
 */
#ifndef LABCTL_TCPFSM_H
#define LABCTL_TCPFSM_H

#include <stdbool.h>
#include <stdio.h>

#include "lab/lab.h"

struct tcpfsm_opts {
	const char *id;       /* unique within the document: prefixes marker ids ("fsm3") */
	const char *title;    /* the figure's heading ("client 10.0.0.1:40000 > ..."), or NULL */
	const char *note;     /* a second line under the heading (e.g. "inferred from packets") */
	/* The path: start (LAB_TCP_CLOSE, or LAB_TCP_LISTEN for a socket born of a listener),
	 * then states[0..n) in the order seen.  LAB_TCP_NEW_SYN_RECV reads as SYN_RECV and a
	 * state equal to the one before it is skipped. */
	enum lab_tcp_state start;
	const enum lab_tcp_state *states;
	int n;
	/* A document of its own (XML declaration, namespace, its own <style>); false for an
	 * <svg> inlined in HTML, which then needs tcpfsm_css() in the page's style sheet. */
	bool standalone;
};

/* 0, or -EIO when a write to out failed. */
int tcpfsm_render_svg(FILE *out, const struct tcpfsm_opts *o);

/* The style sheet the inline figures rely on. */
const char *tcpfsm_css(void);

/* Whether from>to is an edge of the figure; *label (when not NULL) gets its RFC label
 * ("rcv SYN,ACK / snd ACK").  NEW_SYN_RECV reads as SYN_RECV. */
bool tcpfsm_edge(enum lab_tcp_state from, enum lab_tcp_state to, const char **label);

/* The figure's name of a state: "SYN_RCVD" is spelt as labctl spells it elsewhere
 * (lab_state_name: SYN_RECV, FIN_WAIT_1, ...), so data-edge values match the timeline's JSON. */
const char *tcpfsm_state_name(enum lab_tcp_state s);

#endif
