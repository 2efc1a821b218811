#include "run/registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernel/userns.h"

void reg_dir(char *buf, size_t len)
{
	uid_t ou;
	gid_t og;
	bool inside = userns_outside(&ou, &og) == 1;
	if (!inside && !userns_wanted()) {
		snprintf(buf, len, "%s", REG_DIR);
		return;
	}
	/* Inside the lab's user namespace the caller reads as uid 0 and owns what it owned. */
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == getuid() && access(xdg, W_OK) == 0)
		snprintf(buf, len, "%s/labctl", xdg);
	else
		snprintf(buf, len, "/tmp/labctl-%u", (unsigned)(inside ? ou : getuid()));
}

int reg_dir_make(struct lc_err *e)
{
	char dir[256];
	struct stat st;
	reg_dir(dir, sizeof(dir));
	bool shared = !strcmp(dir, REG_DIR);
	if (mkdir(dir, shared ? 0755 : 0700) < 0 && errno != EEXIST)
		return err_set(e, -errno, "creating %s: %s", dir, strerror(errno));
	if (shared)
		return 0;
	/* /tmp is everyone's: a directory someone else made for us there is not ours. */
	if (lstat(dir, &st) < 0)
		return err_set(e, -errno, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
		return err_set(e, -EPERM, "%s is not a private directory of this user (mode 0700, "
			       "owned by uid %u); remove it or set XDG_RUNTIME_DIR", dir,
			       (unsigned)getuid());
	return 0;
}

void reg_file(const char *id, const char *suffix, char *buf, size_t len)
{
	char dir[256];
	reg_dir(dir, sizeof(dir));
	snprintf(buf, len, "%s/%s.%s", dir, id, suffix);
}

static void entry_path(const char *id, char *path, size_t len)
{
	reg_file(id, "lab-state", path, len);
}

unsigned long long reg_proc_start(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* Field 22, counted after the ")" that ends the command name (which may hold spaces). */
	char *p = strrchr(buf, ')');
	if (!p || !p[1] || !p[2])
		return 0;
	p++;
	/* A zombie is dead for our purposes: it holds nothing and will never answer. */
	if (p[1] == 'Z' || p[1] == 'X')
		return 0;
	for (int field = 3; field < 22 && p; field++)  /* p is at the blank before field 3 */
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

int reg_write(const struct topo *t, const char *labfile, const char *kind, pid_t pid,
	      struct lc_err *e)
{
	char path[256], tmp[300], abs[512];
	int rc;
	if ((rc = reg_dir_make(e)) < 0)
		return rc;
	if (!realpath(labfile, abs))
		snprintf(abs, sizeof(abs), "%s", labfile);
	entry_path(t->id, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return err_set(e, -errno, "writing %s: %s", tmp, strerror(errno));
	fprintf(f, "id %s\nlab %s\nkind %s\npid %d\nstart %llu\ncreated %lld\n", t->id, abs, kind,
		(int)pid, reg_proc_start(pid), (long long)time(NULL));
	for (int h = 0; h < t->nhosts; h++)
		fprintf(f, "host %s %s %lu\n", t->hosts[h].name, t->hosts[h].ns, t->hosts[h].ino);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		int rc = -errno;
		unlink(tmp);
		return err_set(e, rc, "writing %s: %s", path, strerror(-rc));
	}
	return 0;
}

void reg_entry_clear(struct reg_entry *r)
{
	free(r->hosts);
	memset(r, 0, sizeof(*r));
}

int reg_read(const char *id, struct reg_entry *r, struct lc_err *e)
{
	char path[256], line[1024];
	memset(r, 0, sizeof(*r));
	if (topo_check_id(id, e) < 0)
		return e ? e->code : -EINVAL;
	entry_path(id, path, sizeof(path));
	FILE *f = fopen(path, "re");
	if (!f)
		return err_set(e, -errno, "no lab \"%s\" (labctl ls lists the running labs)", id);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *val = strchr(line, ' ');
		if (!val)
			continue;
		*val++ = '\0';
		if (!strcmp(line, "id"))
			snprintf(r->id, sizeof(r->id), "%s", val);
		else if (!strcmp(line, "lab"))
			snprintf(r->lab, sizeof(r->lab), "%s", val);
		else if (!strcmp(line, "kind"))
			snprintf(r->kind, sizeof(r->kind), "%s", val);
		else if (!strcmp(line, "pid"))
			r->pid = (pid_t)atoi(val);
		else if (!strcmp(line, "start"))
			r->start = strtoull(val, NULL, 10);
		else if (!strcmp(line, "created"))
			r->created = strtoll(val, NULL, 10);
		else if (!strcmp(line, "host")) {
			struct reg_host h = {0};
			char name[64], ns[128];
			if (sscanf(val, "%63s %127s %lu", name, ns, &h.ino) != 3)
				continue;
			snprintf(h.name, sizeof(h.name), "%s", name);
			snprintf(h.ns, sizeof(h.ns), "%s", ns);
			struct reg_host *nh = realloc(r->hosts, (size_t)(r->nhosts + 1) * sizeof(h));
			if (!nh) {
				fclose(f);
				reg_entry_clear(r);
				return err_set(e, -ENOMEM, "out of memory");
			}
			r->hosts = nh;
			r->hosts[r->nhosts++] = h;
		}
	}
	fclose(f);
	if (strcmp(r->id, id) != 0) {
		reg_entry_clear(r);
		return err_set(e, -EINVAL, "%s is damaged (no id line)", path);
	}
	return 0;
}

int reg_remove(const char *id)
{
	char path[256];
	entry_path(id, path, sizeof(path));
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int reg_ids(char ***ids, int *n, struct lc_err *e)
{
	*ids = NULL;
	*n = 0;
	char dir[256];
	reg_dir(dir, sizeof(dir));
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : err_set(e, -errno, "%s: %s", dir, strerror(errno));
	struct dirent *de;
	const char *suffix = ".lab-state";
	size_t sl = strlen(suffix);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l <= sl || strcmp(de->d_name + l - sl, suffix) != 0)
			continue;
		char **nids = realloc(*ids, (size_t)(*n + 1) * sizeof(char *));
		if (!nids)
			break;
		*ids = nids;
		(*ids)[*n] = strndup(de->d_name, l - sl);
		if ((*ids)[*n])
			(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(*ids, (size_t)*n, sizeof(char *), cmp_str);
	return 0;
}

bool reg_alive(const struct reg_entry *r)
{
	return r->pid > 0 && r->start != 0 && reg_proc_start(r->pid) == r->start;
}

int reg_host_path(const char *id, const char *host, char *path, size_t len, struct lc_err *e)
{
	struct reg_entry r;
	int rc = reg_read(id, &r, e);
	if (rc < 0)
		return rc;
	const char *names[LAB_MAX_HOSTS];
	char list[512] = "";
	size_t used = 0;
	for (int h = 0; h < r.nhosts; h++) {
		names[h < LAB_MAX_HOSTS ? h : LAB_MAX_HOSTS - 1] = r.hosts[h].name;
		if (!strcmp(r.hosts[h].name, host)) {
			snprintf(path, len, "/run/netns/%s", r.hosts[h].ns);
			reg_entry_clear(&r);
			return 0;
		}
		used += (size_t)snprintf(list + used, used < sizeof(list) ? sizeof(list) - used : 0,
					 "%s%s", h ? ", " : "", r.hosts[h].name);
		if (used >= sizeof(list))
			used = sizeof(list) - 1;
	}
	int n = r.nhosts < LAB_MAX_HOSTS ? r.nhosts : LAB_MAX_HOSTS;
	const char *sug = lab_suggest(host, names, (size_t)n);
	if (sug)
		rc = err_set(e, -ENOENT, "lab %s has no host \"%s\"; did you mean %s?", id, host, sug);
	else
		rc = err_set(e, -ENOENT, "lab %s has no host \"%s\" (hosts: %s)", id, host, list);
	reg_entry_clear(&r);
	return rc;
}

int reg_open_rootless(const char *ns, int *fd, struct lc_err *e)
{
	char **ids, path[128], want[64], link[64];
	int n, rc;
	pid_t pid = 0;
	unsigned long ino = 0;
	if ((rc = reg_ids(&ids, &n, e)) < 0)
		return rc;
	for (int i = 0; i < n; i++) {
		struct reg_entry r;
		if (!pid && reg_read(ids[i], &r, NULL) == 0) {
			for (int h = 0; h < r.nhosts; h++)
				if (!strcmp(r.hosts[h].ns, ns) && reg_alive(&r)) {
					pid = r.pid;
					ino = r.hosts[h].ino;
				}
			reg_entry_clear(&r);
		}
		free(ids[i]);
	}
	free(ids);
	if (!pid)
		return err_set(e, -ENOENT, "no running lab has a host namespace %s (labctl ls lists "
			       "this user's labs)", ns);
	snprintf(want, sizeof(want), "net:[%lu]", ino);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	*fd = -1;
	struct dirent *de;
	while (*fd < 0 && (de = readdir(d))) {
		char fdp[300];
		snprintf(fdp, sizeof(fdp), "%s/%s", path, de->d_name);
		ssize_t l = readlink(fdp, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		if (!strcmp(link, want))
			*fd = open(fdp, O_RDONLY | O_CLOEXEC);
	}
	closedir(d);
	if (*fd < 0)
		return err_set(e, -ENOENT, "the supervisor (pid %d) no longer holds namespace %s",
			       (int)pid, ns);
	if ((rc = userns_join(pid, e)) < 0) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

void reg_warn_dead(FILE *f)
{
	char **ids;
	int n;
	if (reg_ids(&ids, &n, NULL) < 0)
		return;
	for (int i = 0; i < n; i++) {
		struct reg_entry r;
		if (reg_read(ids[i], &r, NULL) == 0) {
			if (!reg_alive(&r))
				fprintf(f, "labctl: note: lab %s's supervisor (pid %d) is gone; "
					"`labctl down %s` removes what it left\n", r.id, (int)r.pid, r.id);
			reg_entry_clear(&r);
		}
		free(ids[i]);
	}
	free(ids);
}
