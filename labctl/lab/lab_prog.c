/* lab_prog: the grammar of a lab's own programs.
 *
 *   HOST start NAME [OPTION...] -- ARGV...      a background program, until stop or the end
 *   HOST run [NAME] [OPTION...] -- ARGV...      a command to completion (the step's verdict)
 *       env KEY=VALUE   as-root   shell   ready port N [within D] (start)
 *       exit N|any   timeout D (run)
 *   stop NAME [grace D]
 *   signal NAME SIG
 *   expect program NAME running|exited [code N | signal SIG] [within D]
 *
 * ARGV is taken word for word (the lexer's quoted strings keep spaces); nothing goes
 * through a shell unless the step says `shell`, and then ARGV is one string.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lab/lab_int.h"

#define PROG_ARGV_MAX 256
#define PROG_ENV_MAX 64

static const char *const start_keys[] = {"env", "as-root", "shell", "ready"};
static const char *const run_keys[] = {"env", "as-root", "shell", "exit", "timeout"};

int lab_prog_find(const struct lab *lab, const char *name)
{
	for (int i = 0; i < lab->nprogs; i++)
		if (!strcmp(lab->progs[i].name, name))
			return i;
	return -1;
}

/* A program named by a step: it must have been started (or run) on an earlier line. */
int lab_get_prog(struct parser *p, const struct tok *t)
{
	int i = lab_prog_find(p->lab, t->s);
	if (i >= 0)
		return i;
	char sug[96] = "";
	const char **names = malloc(((size_t)p->lab->nprogs + 1) * sizeof(char *));
	if (names) {
		for (int k = 0; k < p->lab->nprogs; k++)
			names[k] = p->lab->progs[k].name;
		lab_mean(sug, sizeof(sug), t->s, names, (size_t)p->lab->nprogs);
		free(names);
	}
	if (p->lab->nprogs == 0)
		return lab_perr(p, t->col, "unknown program \"%s\": no program is started before this "
			    "line (HOST start NAME -- COMMAND...)", t->s);
	return lab_perr(p, t->col, "unknown program \"%s\"%s", t->s, sug);
}

static void prog_clear(struct lab_prog *g)
{
	for (int i = 0; g->argv && i < g->argc; i++)
		free(g->argv[i]);
	free(g->argv);
	for (int i = 0; g->env && i < g->nenv; i++)
		free(g->env[i]);
	free(g->env);
	g->argv = g->env = NULL;
}

void lab_progs_free(struct lab *lab)
{
	for (int i = 0; i < lab->nprogs; i++)
		prog_clear(&lab->progs[i]);
	free(lab->progs);
	lab->progs = NULL;
	lab->nprogs = 0;
}

static bool valid_env_key(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* A name for a `run` without one: the command's base name and the line, "curl-12". */
static void default_name(struct parser *p, const char *argv0, char *out)
{
	const char *b = strrchr(argv0, '/');
	b = b ? b + 1 : argv0;
	char base[LAB_NAME_MAX - 8];
	size_t k = 0;
	for (; *b && k < sizeof(base) - 1; b++)
		base[k++] = lab_valid_name((char[]){*b, 0}) ? *b : '_';
	base[k] = '\0';
	snprintf(out, LAB_NAME_MAX, "%s-%d", k ? base : "run", p->line);
	for (int n = 2; lab_prog_find(p->lab, out) >= 0; n++)
		snprintf(out, LAB_NAME_MAX, "%s-%d.%d", k ? base : "run", p->line, n);
}

/* HOST start|run ...: t[0] the host, t[1] the verb. */
static int step_prog(struct parser *p, int h, struct tok *t, int n, bool background)
{
	const char *verb = t[1].s;
	struct lab_prog g = {.host = h, .background = background, .exit_code = 0,
			     .timeout_ns = 30000000000LL, .ready_ns = 10000000000LL,
			     .pos = lab_pos_at(p, t[0].col)};
	int i = 2, dd = -1;
	for (int k = 2; k < n; k++)
		if (!t[k].quoted && !strcmp(t[k].s, "--")) {
			dd = k;
			break;
		}
	if (dd < 0)
		return lab_perr(p, t[n - 1].col, "%s needs the command after \"--\", e.g. %s %s%s -- "
			    "python3 apps/server.py 8080", verb, t[0].s, verb,
			    background ? " web" : "");
	/* The name: required for start, optional for run. */
	if (background || (i < dd && !t[i].quoted &&
			   lab_suggest(t[i].s, run_keys, sizeof(run_keys) / sizeof(run_keys[0])) ==
				   NULL)) {
		if (i >= dd)
			return lab_perr(p, t[i].col, "start needs a name for the program, e.g. %s start "
				    "web -- COMMAND...", t[0].s);
		if (!lab_valid_name(t[i].s) || strlen(t[i].s) >= LAB_NAME_MAX)
			return lab_perr(p, t[i].col, "bad program name \"%s\" (letters, digits, '_', "
				    "'-', '.'; at most %d characters)", t[i].s, LAB_NAME_MAX - 1);
		int prev = lab_prog_find(p->lab, t[i].s);
		if (prev >= 0)
			return lab_perr(p, t[i].col, "program \"%s\" is already defined at line %d; give "
				    "this one another name", t[i].s, p->lab->progs[prev].pos.line);
		snprintf(g.name, sizeof(g.name), "%s", t[i].s);
		i++;
	}
	char *env[PROG_ENV_MAX];
	int nenv = 0, rc = -1;
	bool seen_exit = false, seen_timeout = false, seen_ready = false;
	const char *const *keys = background ? start_keys : run_keys;
	size_t nkeys = background ? sizeof(start_keys) / sizeof(start_keys[0])
				  : sizeof(run_keys) / sizeof(run_keys[0]);
	for (; i < dd; i++) {
		const char *k = t[i].s;
		if (!strcmp(k, "as-root")) {
			g.as_root = true;
		} else if (!strcmp(k, "shell")) {
			g.shell = true;
		} else if (!strcmp(k, "env")) {
			if (lab_need(p, t, i, dd, "env"))
				goto out;
			const char *v = t[++i].s, *eq = strchr(v, '=');
			if (!eq || !valid_env_key(v, (size_t)(eq - v))) {
				lab_perr(p, t[i].col, "env needs KEY=VALUE (KEY: letters, digits, '_'), not "
				     "\"%s\"", v);
				goto out;
			}
			if (nenv == PROG_ENV_MAX) {
				lab_perr(p, t[i].col, "at most %d env settings", PROG_ENV_MAX);
				goto out;
			}
			if (!(env[nenv] = strdup(v))) {
				p->oom = true;
				goto out;
			}
			nenv++;
		} else if (!strcmp(k, "ready") && background) {
			if (seen_ready) {
				lab_perr(p, t[i].col, "ready given twice");
				goto out;
			}
			seen_ready = true;
			if (i + 1 >= dd || strcmp(t[i + 1].s, "port")) {
				lab_perr(p, t[i].col, "ready needs \"port N\": the step waits until the "
				     "program listens on port N");
				goto out;
			}
			i++;
			if (lab_need(p, t, i, dd, "ready port") || lab_get_port(p, &t[i + 1], t[i + 1].s,
									&g.ready_port))
				goto out;
			i++;
			if (i + 1 < dd && !strcmp(t[i + 1].s, "within")) {
				i++;
				if (lab_need(p, t, i, dd, "within") || lab_get_duration(p, &t[i + 1], &g.ready_ns))
					goto out;
				i++;
			}
		} else if (!strcmp(k, "exit") && !background) {
			if (seen_exit) {
				lab_perr(p, t[i].col, "exit given twice");
				goto out;
			}
			seen_exit = true;
			if (lab_need(p, t, i, dd, "exit"))
				goto out;
			i++;
			int64_t code;
			if (!strcmp(t[i].s, "any")) {
				g.exit_code = -1;
			} else if (lab_get_uint(p, &t[i], "exit status", 0, 255, &code)) {
				goto out;
			} else {
				g.exit_code = (int)code;
			}
		} else if (!strcmp(k, "timeout") && !background) {
			if (seen_timeout) {
				lab_perr(p, t[i].col, "timeout given twice");
				goto out;
			}
			seen_timeout = true;
			if (lab_need(p, t, i, dd, "timeout") || lab_get_duration(p, &t[i + 1], &g.timeout_ns))
				goto out;
			i++;
			if (g.timeout_ns <= 0) {
				lab_perr(p, t[i].col, "timeout must be more than 0");
				goto out;
			}
		} else {
			lab_unknown_key(p, &t[i], verb, keys, nkeys);
			goto out;
		}
	}
	int argc = n - dd - 1;
	if (argc <= 0) {
		lab_perr(p, t[dd].col, "nothing after \"--\": which command should %s run?", verb);
		goto out;
	}
	if (argc > PROG_ARGV_MAX) {
		lab_perr(p, t[dd + 1 + PROG_ARGV_MAX].col, "at most %d arguments", PROG_ARGV_MAX);
		goto out;
	}
	if (g.shell && argc != 1) {
		lab_perr(p, t[dd + 2].col, "shell takes the command line as one quoted string, e.g. "
		     "-- \"curl -s http://server/ | head -1\"");
		goto out;
	}
	int total = g.shell ? 3 : argc;
	g.argv = calloc((size_t)total + 1, sizeof(char *));
	if (!g.argv) {
		p->oom = true;
		goto out;
	}
	if (g.shell) {
		g.argv[0] = strdup("/bin/sh");
		g.argv[1] = strdup("-c");
		g.argv[2] = strdup(t[dd + 1].s);
	} else {
		for (int k = 0; k < argc; k++)
			g.argv[k] = strdup(t[dd + 1 + k].s);
	}
	g.argc = total;
	for (int k = 0; k < total; k++)
		if (!g.argv[k]) {
			p->oom = true;
			goto out;
		}
	if (!g.argv[0][0]) {
		lab_perr(p, t[dd + 1].col, "the command is an empty string");
		goto out;
	}
	if (!g.name[0]) {
		/* a shell line is named for its first word: "curl -s ... | head" is curl-LINE */
		char first[64] = "sh";
		if (g.shell)
			sscanf(g.argv[2], " %63[^ \t|;&<>()]", first);
		default_name(p, g.shell ? first : g.argv[0], g.name);
	}
	if (nenv) {
		g.env = calloc((size_t)nenv + 1, sizeof(char *));
		if (!g.env) {
			p->oom = true;
			goto out;
		}
		memcpy(g.env, env, (size_t)nenv * sizeof(char *));
		g.nenv = nenv;
		nenv = 0;
	}
	struct lab_prog *slot = lab_push(p, (void **)&p->lab->progs, &p->lab->nprogs, &p->cap_progs,
					 sizeof(*slot));
	if (!slot)
		goto out;
	*slot = g;
	memset(&g, 0, sizeof(g));
	struct lab_step s = {0};
	s.u.prog.prog = p->lab->nprogs - 1;
	if (lab_add_step(p, background ? LAB_OP_START : LAB_OP_RUN, h, t[0].col, &s)) {
		prog_clear(&p->lab->progs[--p->lab->nprogs]);
		goto out;
	}
	rc = 0;
out:
	for (int k = 0; k < nenv; k++)
		free(env[k]);
	prog_clear(&g);
	return rc;
}

static int step_start(struct parser *p, int h, enum lab_op op, struct tok *t, int n)
{
	(void)op;
	return step_prog(p, h, t, n, true);
}

static int step_run(struct parser *p, int h, enum lab_op op, struct tok *t, int n)
{
	(void)op;
	return step_prog(p, h, t, n, false);
}

/* A background program only: a `run` is over by the next line. */
static int get_started(struct parser *p, const struct tok *t, const char *what)
{
	int i = lab_get_prog(p, t);
	if (i < 0)
		return -1;
	if (!p->lab->progs[i].background)
		return lab_perr(p, t->col, "%s: program \"%s\" is a foreground run (line %d), over "
			    "before the next step; only a started program can be %s", what, t->s,
			    p->lab->progs[i].pos.line, !strcmp(what, "stop") ? "stopped" : "signalled");
	return i;
}

static int st_stop(struct parser *p, struct tok *t, int n)
{
	if (n < 2)
		return lab_perr(p, t[0].col, "stop needs a program's name, e.g. stop web");
	int i = get_started(p, &t[1], "stop");
	if (i < 0)
		return -1;
	int64_t grace = 2000000000LL;
	for (int k = 2; k < n; k++) {
		if (!strcmp(t[k].s, "grace")) {
			if (lab_need(p, t, k, n, "grace") || lab_get_duration(p, &t[k + 1], &grace))
				return -1;
			k++;
		} else {
			static const char *const keys[] = {"grace"};
			return lab_unknown_key(p, &t[k], "stop", keys, 1);
		}
	}
	struct lab_step s = {0};
	s.u.prog.prog = i;
	s.u.prog.grace_ns = grace;
	return lab_add_step(p, LAB_OP_STOP, p->lab->progs[i].host, t[0].col, &s);
}

static int get_signal(struct parser *p, const struct tok *t)
{
	int sig = lab_signal_parse(t->s);
	if (sig > 0)
		return sig;
	size_t nn;
	const char *const *names = lab_signal_names(&nn);
	char sug[96];
	const char *w = strncasecmp(t->s, "SIG", 3) ? t->s : t->s + 3;
	lab_mean(sug, sizeof(sug), w, names, nn);
	return lab_perr(p, t->col, "unknown signal \"%s\"%s", t->s,
		    sug[0] ? sug : " (STOP, CONT, TERM, KILL, HUP, INT, USR1, USR2, ...)");
}

static int st_signal(struct parser *p, struct tok *t, int n)
{
	if (n < 3)
		return lab_perr(p, t[n - 1].col, "signal needs a program and a signal, e.g. signal web "
			    "STOP");
	if (n > 3)
		return lab_perr(p, t[3].col, "unexpected \"%s\" after the signal", t[3].s);
	int i = get_started(p, &t[1], "signal");
	if (i < 0)
		return -1;
	int sig = get_signal(p, &t[2]);
	if (sig < 0)
		return -1;
	struct lab_step s = {0};
	s.u.prog.prog = i;
	s.u.prog.sig = sig;
	return lab_add_step(p, LAB_OP_SIGNAL, p->lab->progs[i].host, t[0].col, &s);
}

/* expect program NAME running|exited [code N | signal SIG] [within D] */
int lab_expect_program(struct parser *p, struct tok *t, int n)
{
	if (n < 4)
		return lab_perr(p, t[n - 1].col, "expect program needs a name and running or exited, "
			    "e.g. expect program web exited code 0 within 5s");
	int i = lab_get_prog(p, &t[2]);
	if (i < 0)
		return -1;
	bool running;
	if (!strcmp(t[3].s, "running"))
		running = true;
	else if (!strcmp(t[3].s, "exited"))
		running = false;
	else {
		static const char *const what[] = {"running", "exited"};
		char sug[96];
		lab_mean(sug, sizeof(sug), t[3].s, what, 2);
		return lab_perr(p, t[3].col, "expect program %s: \"%s\" is neither running nor exited%s",
			    t[2].s, t[3].s, sug);
	}
	struct lab_step s0 = {0};
	s0.u.expect.kind = LAB_EXPECT_PROGRAM;
	s0.u.expect.prog = i;
	s0.u.expect.running = running;
	for (int k = 4; k < n; k++) {
		const char *key = t[k].s;
		if (!strcmp(key, "within")) {
			if (lab_need(p, t, k, n, "within") || lab_get_duration(p, &t[k + 1],
								       &s0.u.expect.within_ns))
				return -1;
			k++;
		} else if (!running && !strcmp(key, "code")) {
			int64_t c;
			if (s0.u.expect.has_code || s0.u.expect.has_signal)
				return lab_perr(p, t[k].col, "one of code or signal");
			if (lab_need(p, t, k, n, "code") || lab_get_uint(p, &t[k + 1], "exit code", 0, 255, &c))
				return -1;
			s0.u.expect.has_code = true;
			s0.u.expect.code = (int)c;
			k++;
		} else if (!running && !strcmp(key, "signal")) {
			if (s0.u.expect.has_code || s0.u.expect.has_signal)
				return lab_perr(p, t[k].col, "one of code or signal");
			if (lab_need(p, t, k, n, "signal"))
				return -1;
			int sig = get_signal(p, &t[k + 1]);
			if (sig < 0)
				return -1;
			s0.u.expect.has_signal = true;
			s0.u.expect.sig = sig;
			k++;
		} else {
			static const char *const rkeys[] = {"within"};
			static const char *const ekeys[] = {"code", "signal", "within"};
			return lab_unknown_key(p, &t[k], "expect program", running ? rkeys : ekeys,
					   running ? 1 : 3);
		}
	}
	return lab_add_step(p, LAB_OP_EXPECT, p->lab->progs[i].host, t[0].col, &s0);
}

const struct lab_word lab_prog_words[] = {
	{LAB_VERB, "start", .parse.verb = step_start, .op = LAB_OP_START},
	{LAB_VERB, "run", .parse.verb = step_run, .op = LAB_OP_RUN},
	{LAB_STATEMENT, "stop", .parse.statement = st_stop, .step = true},
	{LAB_STATEMENT, "signal", .parse.statement = st_signal, .step = true},
	{.name = NULL},
};
