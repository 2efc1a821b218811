/* lab_names: TCP state, event, signal and errno names, and "did you mean" suggestions. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lab/lab.h"

static const char *const state_names[LAB_TCP_MAX_STATES] = {
	[LAB_TCP_NONE] = "NONE",
	[LAB_TCP_ESTABLISHED] = "ESTABLISHED",
	[LAB_TCP_SYN_SENT] = "SYN_SENT",
	[LAB_TCP_SYN_RECV] = "SYN_RECV",
	[LAB_TCP_FIN_WAIT1] = "FIN_WAIT_1",
	[LAB_TCP_FIN_WAIT2] = "FIN_WAIT_2",
	[LAB_TCP_TIME_WAIT] = "TIME_WAIT",
	[LAB_TCP_CLOSE] = "CLOSED",
	[LAB_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[LAB_TCP_LAST_ACK] = "LAST_ACK",
	[LAB_TCP_LISTEN] = "LISTEN",
	[LAB_TCP_CLOSING] = "CLOSING",
	/* A request socket is what the textbooks and ss call SYN_RECV. */
	[LAB_TCP_NEW_SYN_RECV] = "SYN_RECV",
};

const char *lab_state_name(enum lab_tcp_state s)
{
	if ((int)s < 0 || s >= LAB_TCP_MAX_STATES)
		return "UNKNOWN";
	return state_names[s];
}

/* Canonical key of a state spelling: upper case, separators dropped, so FIN_WAIT_1,
 * FIN-WAIT-1, fin_wait1 and FIN-WAIT1 all become FINWAIT1. */
static void state_key(const char *in, char *out, size_t len)
{
	size_t j = 0;
	for (; *in && j + 1 < len; in++) {
		if (*in == '_' || *in == '-' || *in == ' ')
			continue;
		out[j++] = (char)toupper((unsigned char)*in);
	}
	out[j] = '\0';
}

int lab_state_parse(const char *s)
{
	static const struct { const char *key; int state; } extra[] = {
		{"CLOSE", LAB_TCP_CLOSE},        /* kernel's TCP_CLOSE */
		{"UNCONN", LAB_TCP_CLOSE},       /* ss */
		{"SYNRECEIVED", LAB_TCP_SYN_RECV},
		{"SYNRCVD", LAB_TCP_SYN_RECV},
		{"NEWSYNRECV", LAB_TCP_SYN_RECV},
		{"ESTAB", LAB_TCP_ESTABLISHED},  /* ss */
		{"TIMEWAIT", LAB_TCP_TIME_WAIT},
		{"FINWAIT1", LAB_TCP_FIN_WAIT1},
		{"FINWAIT2", LAB_TCP_FIN_WAIT2},
	};
	char key[32], cand[32];
	if (!s || !*s)
		return -1;
	state_key(s, key, sizeof(key));
	for (int i = LAB_TCP_ESTABLISHED; i < LAB_TCP_NEW_SYN_RECV; i++) {
		state_key(state_names[i], cand, sizeof(cand));
		if (!strcmp(key, cand))
			return i;
	}
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (!strcmp(key, extra[i].key))
			return extra[i].state;
	return -1;
}

static const char *const event_names[LAB_EV_MAX] = {
	[LAB_EV_CONNECTED] = "connected", [LAB_EV_ACCEPTED] = "accepted",
	[LAB_EV_DATA] = "data",           [LAB_EV_EOF] = "eof",
	[LAB_EV_REFUSED] = "refused",     [LAB_EV_TIMEOUT] = "timeout",
	[LAB_EV_RESET] = "reset",         [LAB_EV_CLOSED] = "closed",
	[LAB_EV_ERROR] = "error",
};

const char *lab_event_name(enum lab_event_kind k)
{
	if ((int)k < 0 || k >= LAB_EV_MAX)
		return "unknown";
	return event_names[k];
}

int lab_event_parse(const char *s)
{
	for (int i = 0; i < LAB_EV_MAX; i++)
		if (!strcasecmp(s, event_names[i]))
			return i;
	return -1;
}

/* The signals a lab may send a program, by the names kill(1) uses. */
static const char *const signal_names[] = {
	"HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "PIPE", "ALRM", "TERM", "CONT", "STOP",
	"TSTP", "WINCH",
};
static const int signal_nums[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGKILL, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCONT,
	SIGSTOP, SIGTSTP, SIGWINCH,
};
#define NSIGNALS (sizeof(signal_nums) / sizeof(signal_nums[0]))
_Static_assert(sizeof(signal_names) / sizeof(signal_names[0]) == NSIGNALS, "signal table");

int lab_signal_parse(const char *s)
{
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < NSIGNALS; i++)
		if (!strcasecmp(s, signal_names[i]))
			return signal_nums[i];
	return -1;
}

const char *lab_signal_name(int sig)
{
	for (size_t i = 0; i < NSIGNALS; i++)
		if (signal_nums[i] == sig)
			return signal_names[i];
	return "?";
}

const char *const *lab_signal_names(size_t *n)
{
	*n = NSIGNALS;
	return signal_names;
}

/* The errors an agent event can carry (agents/conn.c: a failed connection, a failed bind or
 * accept), by their C names. */
static const char *const errno_names[] = {
	"ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "EPIPE", "EADDRINUSE", "EADDRNOTAVAIL",
	"EHOSTUNREACH", "ENETUNREACH", "EMFILE", "ENFILE", "ENOBUFS", "ENOMEM",
};
static const int errno_nums[] = {
	ECONNREFUSED, ETIMEDOUT, ECONNRESET, EPIPE, EADDRINUSE, EADDRNOTAVAIL,
	EHOSTUNREACH, ENETUNREACH, EMFILE, ENFILE, ENOBUFS, ENOMEM,
};
#define NERRNOS (sizeof(errno_nums) / sizeof(errno_nums[0]))
_Static_assert(sizeof(errno_names) / sizeof(errno_names[0]) == NERRNOS, "errno table");

int lab_errno_parse(const char *s)
{
	for (size_t i = 0; i < NERRNOS; i++)
		if (!strcasecmp(s, errno_names[i]))
			return errno_nums[i];
	return -1;
}

const char *lab_errno_name(int err)
{
	for (size_t i = 0; i < NERRNOS; i++)
		if (errno_nums[i] == err)
			return errno_names[i];
	return "?";
}

const char *const *lab_errno_names(size_t *n)
{
	*n = NERRNOS;
	return errno_names;
}

/* Damerau-free Levenshtein distance, case-insensitive, on short words. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 99;
	size_t prev[64], cur[64];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t best = prev[j - 1] + cost;
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			cur[j] = best;
		}
		memcpy(prev, cur, sizeof(prev));
	}
	return prev[lb];
}

/* Compared with separators dropped, so FIN_WAIT3 is one edit from FIN_WAIT_2.  A tie (FIN_WAIT3
 * is as close to FIN_WAIT_1 as to FIN_WAIT_2) goes to the nearest number: a typo'd digit is
 * more likely off by one. */
const char *lab_state_suggest(const char *word)
{
	static const int order[] = {
		LAB_TCP_ESTABLISHED, LAB_TCP_SYN_SENT, LAB_TCP_SYN_RECV, LAB_TCP_FIN_WAIT1,
		LAB_TCP_FIN_WAIT2, LAB_TCP_TIME_WAIT, LAB_TCP_CLOSE, LAB_TCP_CLOSE_WAIT,
		LAB_TCP_LAST_ACK, LAB_TCP_LISTEN, LAB_TCP_CLOSING,
	};
	char key[64], cand[32];
	const char *best = NULL;
	size_t best_d = 3;
	int best_gap = 99;
	if (!word)
		return NULL;
	state_key(word, key, sizeof(key));
	size_t kl = strlen(key);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		state_key(state_names[order[i]], cand, sizeof(cand));
		size_t d = edit_distance(key, cand);
		size_t cl = strlen(cand);
		int gap = 0;
		if (kl && cl && isdigit((unsigned char)key[kl - 1]) && isdigit((unsigned char)cand[cl - 1]))
			gap = abs(key[kl - 1] - cand[cl - 1]);
		if (d < best_d || (d == best_d && best && gap < best_gap)) {
			best_d = d;
			best_gap = gap;
			best = state_names[order[i]];
		}
	}
	return best;
}

const char *lab_suggest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3; /* suggest only within distance 2 */
	for (size_t i = 0; i < n; i++) {
		if (!candidates[i])
			continue;
		size_t d = edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best;
}
