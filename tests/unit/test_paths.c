/* Unit tests of labctl/base/paths.c: the agent and the catalogue found from the executable's
 * own location (an installed tree: bin/, libexec/labctl/, share/labctl/labs/), the
 * LABCTL_AGENT and LABCTL_LABS overrides, and lab names resolved against the catalogue with
 * a local file winning.  The installed layout is checked by copying this very program into
 * a temporary tree laid out as make install does and running the copy. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/paths.h"

static char tmp[PATH_MAX];

static void put(const char *rel, const char *text, mode_t mode)
{
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void dir(const char *rel)
{
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/labctl-test-paths.XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	unsetenv("LABCTL_AGENT");
	unsetenv("LABCTL_LABS");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_self_dir(void **state)
{
	(void)state;
	char d[PATH_MAX];
	assert_int_equal(paths_self_dir(d, sizeof(d), NULL), 0);
	assert_non_null(strstr(d, "/unit"));  /* build/san/unit/test_paths */
	assert_int_not_equal(d[strlen(d) - 1], '/');
}

static void test_agent_env_and_missing(void **state)
{
	(void)state;
	char p[PATH_MAX];
	struct lc_err e = {0};
	setenv("LABCTL_AGENT", "/some/where/labctl-agent", 1);
	assert_int_equal(paths_agent(p, sizeof(p), &e), 0);
	assert_string_equal(p, "/some/where/labctl-agent");
	unsetenv("LABCTL_AGENT");
	/* beside build/san/unit/ there is no agent: the message lists the places looked at */
	assert_int_equal(paths_agent(p, sizeof(p), &e), -ENOENT);
	assert_non_null(strstr(e.msg, "labctl-agent not found (looked in "));
	assert_non_null(strstr(e.msg, "/../libexec/labctl/labctl-agent, "));
	assert_non_null(strstr(e.msg, "/../agents/labctl-agent)"));
}

static void test_lab_resolve(void **state)
{
	(void)state;
	char out[PATH_MAX], want[PATH_MAX * 2], cwd[PATH_MAX];
	dir("cat");
	put("cat/handshake.lab", "lab handshake\n", 0644);
	snprintf(want, sizeof(want), "%s/cat", tmp);
	setenv("LABCTL_LABS", want, 1);
	snprintf(want, sizeof(want), "%s/cat/handshake.lab", tmp);

	assert_int_equal(paths_lab_resolve("handshake", out, sizeof(out)), 1);
	assert_string_equal(out, want);
	assert_int_equal(paths_lab_resolve("handshake.lab", out, sizeof(out)), 1);
	assert_string_equal(out, want);
	/* a path is never looked up in the catalogue; an unknown name is left as it is */
	assert_int_equal(paths_lab_resolve("labs/handshake", out, sizeof(out)), 0);
	assert_string_equal(out, "labs/handshake");
	assert_int_equal(paths_lab_resolve("no-such-lab", out, sizeof(out)), 0);
	assert_string_equal(out, "no-such-lab");
	assert_int_equal(paths_lab_resolve("", out, sizeof(out)), 0);
	assert_string_equal(out, "");

	/* a local file of that name wins */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmp), 0);
	put("handshake", "lab mine\n", 0644);
	assert_int_equal(paths_lab_resolve("handshake", out, sizeof(out)), 0);
	assert_string_equal(out, "handshake");
	assert_int_equal(chdir(cwd), 0);

	struct lc_err e = {0};
	setenv("LABCTL_LABS", "/nonexistent/labs", 1);
	assert_int_equal(paths_labs_dir(out, sizeof(out), &e), -ENOENT);
	assert_string_equal(e.msg, "LABCTL_LABS=/nonexistent/labs is not a directory");
	assert_int_equal(paths_lab_resolve("handshake", out, sizeof(out)), 0);
	unsetenv("LABCTL_LABS");
}

/* The copy in the installed tree runs this: what does it find? */
static int installed_child(const char *root)
{
	char p[PATH_MAX], want[PATH_MAX * 2];
	int bad = 0;
	snprintf(want, sizeof(want), "%s/libexec/labctl/labctl-agent", root);
	if (paths_agent(p, sizeof(p), NULL) < 0 || strcmp(p, want))
		bad |= 1;
	snprintf(want, sizeof(want), "%s/share/labctl/labs", root);
	if (paths_labs_dir(p, sizeof(p), NULL) < 0 || strcmp(p, want))
		bad |= 2;
	snprintf(want, sizeof(want), "%s/share/labctl/labs/handshake.lab", root);
	if (paths_lab_resolve("handshake", p, sizeof(p)) != 1 || strcmp(p, want))
		bad |= 4;
	return bad;
}

static void test_installed_layout(void **state)
{
	(void)state;
	char self[PATH_MAX], copy[PATH_MAX * 2], root[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	dir("usr");
	dir("usr/bin");
	dir("usr/libexec");
	dir("usr/libexec/labctl");
	dir("usr/share");
	dir("usr/share/labctl");
	dir("usr/share/labctl/labs");
	put("usr/libexec/labctl/labctl-agent", "#!/bin/sh\n", 0755);
	put("usr/share/labctl/labs/handshake.lab", "lab handshake\n", 0644);
	/* a non-executable agent beside the binary must not be taken */
	put("usr/bin/labctl-agent", "", 0644);
	snprintf(copy, sizeof(copy), "cp '%s' '%s/usr/bin/labctl'", self, tmp);
	assert_int_equal(system(copy), 0);
	snprintf(copy, sizeof(copy), "%s/usr/bin/labctl", tmp);
	assert_non_null(realpath(tmp, root));
	strncat(root, "/usr", sizeof(root) - strlen(root) - 1);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(copy, copy, "--installed-child", root, (char *)NULL);
		_exit(127);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	/* 1: agent, 2: catalogue, 4: lab name (bits of what was wrong) */
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--installed-child")) {
		unsetenv("LABCTL_AGENT");
		unsetenv("LABCTL_LABS");
		return installed_child(argv[2]);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_dir),
		cmocka_unit_test(test_agent_env_and_missing),
		cmocka_unit_test_setup_teardown(test_lab_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_installed_layout, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
