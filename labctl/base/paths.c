/* paths: see paths.h. */
#include "base/paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int paths_self_dir(char *out, size_t len, struct lc_err *e)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return err_set(e, -errno, "cannot read /proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(out, len, "%s", self) >= len)
		return err_set(e, -ENAMETOOLONG, "labctl's directory %s is too long", self);
	return 0;
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_exec(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* The first of SELF/rel[i] that ok() accepts, into out; the places tried go into e. */
static int first_of(const char *what, const char *const rel[], size_t nrel,
		    int (*ok)(const char *), char *out, size_t len, struct lc_err *e)
{
	char self[PATH_MAX], tried[LC_ERR_MAX / 2] = "";
	int r = paths_self_dir(self, sizeof(self), e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nrel; i++) {
		char p[PATH_MAX], real[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", self, rel[i]);
		if (ok(p)) {
			/* realpath: messages and registry entries show /usr/libexec/..., not bin/.. */
			snprintf(out, len, "%s", realpath(p, real) ? real : p);
			return 0;
		}
		size_t tl = strlen(tried);
		snprintf(tried + tl, sizeof(tried) - tl, "%s%s", tl ? ", " : "", p);
	}
	return err_set(e, -ENOENT, "%s not found (looked in %s)", what, tried);
}

int paths_agent(char *out, size_t len, struct lc_err *e)
{
	static const char *const rel[] = {"../libexec/labctl/labctl-agent", "labctl-agent",
					  "../agents/labctl-agent"};
	const char *env = getenv("LABCTL_AGENT");
	if (env && *env) {
		snprintf(out, len, "%s", env);
		return 0;
	}
	return first_of("labctl-agent", rel, sizeof(rel) / sizeof(rel[0]), is_exec, out, len, e);
}

int paths_labs_dir(char *out, size_t len, struct lc_err *e)
{
	static const char *const rel[] = {"../share/labctl/labs", "../labs", "../../labs"};
	const char *env = getenv("LABCTL_LABS");
	if (env && *env) {
		if (!is_dir(env))
			return err_set(e, -ENOENT, "LABCTL_LABS=%s is not a directory", env);
		snprintf(out, len, "%s", env);
		return 0;
	}
	return first_of("the lab catalogue", rel, sizeof(rel) / sizeof(rel[0]), is_dir, out, len,
			e);
}

int paths_lab_resolve(const char *arg, char *out, size_t len)
{
	char dir[PATH_MAX], p[PATH_MAX];
	size_t al = strlen(arg);
	snprintf(out, len, "%s", arg);
	if (!*arg || access(arg, F_OK) == 0 || strchr(arg, '/'))
		return 0;
	if (paths_labs_dir(dir, sizeof(dir), NULL) < 0)
		return 0;
	snprintf(p, sizeof(p), "%s/%s%s", dir, arg, al > 4 && !strcmp(arg + al - 4, ".lab") ? "" : ".lab");
	if (access(p, R_OK) < 0)
		return 0;
	snprintf(out, len, "%s", p);
	return 1;
}
