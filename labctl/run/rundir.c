/* rundir: a run's own directory under the user's cache, pruned (rundir.h). */
#include "run/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p, 0755. */
static int mkdirs(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int rundir_base(char *buf, size_t len, struct lc_err *e)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (x && x[0] == '/')
		snprintf(buf, len, "%s/labctl/runs", x);
	else if (home && home[0] == '/')
		snprintf(buf, len, "%s/.cache/labctl/runs", home);
	else
		return err_set(e, -ENOENT, "no cache directory: set XDG_CACHE_HOME or HOME, or give "
			       "--out DIR");
	int rc = mkdirs(buf);
	if (rc < 0)
		return err_set(e, rc, "%s: %s", buf, strerror(-rc));
	return 0;
}

int rundir_make(const char *base, const char *id, char *out, size_t len, struct lc_err *e)
{
	/* A lab id given again (--id) gets ID-2, ID-3, ...: a run never mixes with another's. */
	int rc = -EEXIST;
	for (int i = 1; i < 1000 && rc == -EEXIST; i++) {
		if (i == 1)
			snprintf(out, len, "%s/%s", base, id);
		else
			snprintf(out, len, "%s/%s-%d", base, id, i);
		rc = mkdir(out, 0755) < 0 ? -errno : 0;
	}
	if (rc < 0)
		return err_set(e, rc, "run directory %s: %s", out, strerror(-rc));
	char mark[4200];
	snprintf(mark, sizeof(mark), "%s/" RUNDIR_MARK, out);
	int fd = open(mark, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		rmdir(out);
		return err_set(e, rc, "%s: %s", mark, strerror(-rc));
	}
	close(fd);
	return 0;
}

static bool marked(int dfd, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/" RUNDIR_MARK, name);
	struct stat st;
	return fstatat(dfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* Remove the plain files of a marked directory (the marker last), then the directory. */
static int remove_run(int bfd, const char *name)
{
	int dfd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, RUNDIR_MARK))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
			unlinkat(dfd, de->d_name, 0);
	}
	unlinkat(dfd, RUNDIR_MARK, 0);
	closedir(d);
	return unlinkat(bfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

int rundir_done(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	bool other = false, mark = false;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!strcmp(de->d_name, RUNDIR_MARK))
			mark = true;
		else
			other = true;
	}
	closedir(d);
	if (other || !mark)
		return 0;
	char p[4200];
	snprintf(p, sizeof(p), "%s/" RUNDIR_MARK, dir);
	unlink(p);
	return rmdir(dir) == 0;
}

struct aged {
	char name[256];
	struct timespec mtime;
};

static int cmp_newest(const void *a, const void *b)
{
	const struct aged *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec > y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec > y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

int rundir_prune(const char *base, int keep)
{
	int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0)
		return 0;
	DIR *d = fdopendir(dup(bfd));
	if (!d) {
		close(bfd);
		return 0;
	}
	struct aged *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(v->name))
			continue;
		if (fstatat(bfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
		    !marked(bfd, de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct aged *nv = realloc(v, cap * sizeof(*nv));
			if (!nv)
				break;
			v = nv;
		}
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		v[n].mtime = st.st_mtim;
		n++;
	}
	closedir(d);
	int removed = 0;
	if (n > (size_t)keep) {
		qsort(v, n, sizeof(*v), cmp_newest);
		for (size_t i = (size_t)keep; i < n; i++)
			removed += remove_run(bfd, v[i].name) == 0;
	}
	free(v);
	close(bfd);
	return removed;
}
