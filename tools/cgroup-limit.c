// SPDX-License-Identifier: MIT
/*
 * cgroup-limit.c - read the memory limit of the cgroup we run in, the
 * budget behind `tmem run --ram auto` (issue 9).
 *
 * Where the limit is: /proc/self/cgroup names our group in each hierarchy
 * ("4:memory:/path" for cgroup v1's memory controller, "0::/path" for v2),
 * and /proc/self/mountinfo says where each hierarchy is mounted and which
 * group appears at the mount point (its root field).  We never assume
 * /sys/fs/cgroup: containers, hybrid systemd setups and hand-made mounts
 * all put it elsewhere.  v1 is tried first: a controller lives in one
 * hierarchy only, so on a hybrid machine (v1 memory, a cgroup2 mount at
 * .../unified without it) the v1 memory mount is the one that counts.
 * v2 has the memory controller where memory.max exists; a group whose
 * parent does not enable it has no memory.max and is charged to the
 * nearest ancestor that does, so missing files are skipped, not errors.
 *
 * Why the minimum over the ancestors: a parent's limit binds all its
 * children together, so a pod's limit binds a container whose own group
 * says "max".  The walk stops at the mount's root, the highest group we
 * can see.  A container without a cgroup namespace sees its host's paths
 * but has only its own group (or a parent) bind-mounted: mountinfo's root
 * field says which, and is taken off the path.  A group that is not in
 * the mount at all is read at the mount's root, which is then our group.
 *
 * What it gives up: memory.high (v2's throttle, not a kill) and
 * memory.swap.max are not read - the issue is about pods without swap,
 * where memory.max is the line that must not be crossed.  Several mounts
 * of one hierarchy are told apart only by whether they contain our group.
 * The files are read without locks; a limit changed while we read is a
 * race the caller cannot avoid anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-limit.h"

/* Limit files hold a number and a newline; anything longer is not one. */
#define LIMIT_TEXT_MAX 64
/* mountinfo fields before the " - " separator: 6 plus optional tags. */
#define MNT_FIELDS_MAX 64

struct mount {
	char root[PATH_MAX]; /* the group seen at the mount point */
	char dir[PATH_MAX]; /* the mount point */
};

static void put(char *where, size_t len, const char *s)
{
	if (where && len)
		snprintf(where, len, "%s", s);
}

/* Whether @list, separated by @sep, holds exactly @word. */
static int has_token(const char *list, const char *word, char sep)
{
	size_t n = strlen(word);
	const char *p = list;

	while (p) {
		if (!strncmp(p, word, n) && (p[n] == sep || !p[n]))
			return 1;
		p = strchr(p, sep);
		if (p)
			p++;
	}
	return 0;
}

/* mountinfo writes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
					(s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/*
 * Whether group @path is @root or below it; *@rest is then the part below,
 * "" or starting with '/'.
 */
static int under(const char *path, const char *root, const char **rest)
{
	size_t n = strlen(root);

	if (!strcmp(root, "/")) {
		*rest = path;
		return 1;
	}
	if (strncmp(path, root, n) || (path[n] && path[n] != '/'))
		return 0;
	*rest = path + n;
	return 1;
}

/*
 * Our group in v1's memory hierarchy into @v1 and in the v2 hierarchy into
 * @v2, each "" if we are in none; both PATH_MAX bytes.
 */
static int read_groups(const char *file, char *v1, char *v2)
{
	char *line = NULL, *ctl, *path;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int r = 0;

	v1[0] = v2[0] = '\0';
	f = fopen(file, "re");
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		ctl = strchr(line, ':');
		path = ctl ? strchr(ctl + 1, ':') : NULL;
		if (!path || path[1] != '/' || strlen(path + 1) >= PATH_MAX)
			continue;
		*path++ = '\0';
		*ctl++ = '\0';
		if (!strcmp(line, "0") && !*ctl)
			strcpy(v2, path);
		else if (has_token(ctl, "memory", ','))
			strcpy(v1, path);
	}
	if (ferror(f))
		r = -EIO;
	free(line);
	fclose(f);
	return r;
}

/*
 * Split a mountinfo line; return 0 with the fields set, or -EINVAL for a
 * line that is not one (it is skipped).
 */
static int mount_fields(char *line, char **root, char **dir, char **type,
			char **opts)
{
	char *field[MNT_FIELDS_MAX + 4], *save = NULL, *tok;
	int n = 0, sep = -1;

	for (tok = strtok_r(line, " \n", &save);
	     tok && n < (int)(sizeof(field) / sizeof(field[0]));
	     tok = strtok_r(NULL, " \n", &save)) {
		if (sep < 0 && n >= 6 && !strcmp(tok, "-"))
			sep = n;
		field[n++] = tok;
	}
	if (sep < 0 || n < sep + 4)
		return -EINVAL;
	*root = field[3];
	*dir = field[4];
	*type = field[sep + 1];
	*opts = field[sep + 3];
	return 0;
}

/*
 * The mount of v1's memory hierarchy (@v1) or of the v2 one that holds
 * group @group, or else the first such mount.  Return 0 with @m set, 1 if
 * there is no such mount, -errno if @mountinfo cannot be read.
 */
static int find_mount(const char *mountinfo, int v1, const char *group,
		      struct mount *m)
{
	char *line = NULL, *root, *dir, *type, *opts;
	const char *rest;
	size_t cap = 0;
	int found = 0, in, r = 0; /* found: 1 a mount, 2 one holding @group */
	FILE *f;

	f = fopen(mountinfo, "re");
	if (!f)
		return -errno;
	while (found < 2 && getline(&line, &cap, f) > 0) {
		if (mount_fields(line, &root, &dir, &type, &opts))
			continue;
		if (v1 ? strcmp(type, "cgroup") ||
				    !has_token(opts, "memory", ',')
		       : strcmp(type, "cgroup2"))
			continue;
		unescape(root);
		unescape(dir);
		in = under(group, root, &rest);
		if ((found && !in) || strlen(root) >= PATH_MAX ||
		    strlen(dir) >= PATH_MAX)
			continue;
		strcpy(m->root, root);
		strcpy(m->dir, dir);
		found = in ? 2 : 1;
	}
	if (ferror(f))
		r = -EIO;
	free(line);
	fclose(f);
	if (r)
		return r;
	return found ? 0 : 1;
}

/*
 * A limit file's value into *@v, UINT64_MAX for "max".  -ENOENT if it does
 * not exist, -EINVAL if it is not a number.
 */
static int read_limit(const char *file, uint64_t *v)
{
	char buf[LIMIT_TEXT_MAX];
	const char *p = buf;
	uint64_t x = 0;
	ssize_t n;
	int fd, r = 0;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	if (n < 0)
		r = -errno;
	close(fd);
	if (r)
		return r;
	if (n == (ssize_t)sizeof(buf))
		return -EINVAL;
	buf[n] = '\0';
	if (!strcmp(buf, "max\n") || !strcmp(buf, "max")) {
		*v = UINT64_MAX;
		return 0;
	}
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '\n')
		p++;
	if (*p)
		return -EINVAL;
	*v = x;
	return 0;
}

/*
 * The least @name over @group and its ancestors in mount @m; see
 * cgroup_memory_limit() for what goes to @where.
 */
static int walk(const char *prefix, const struct mount *m, const char *group,
		const char *name, uint64_t *limit, char *where, size_t len)
{
	char dir[PATH_MAX], file[PATH_MAX], best[PATH_MAX], own[PATH_MAX];
	uint64_t min = UINT64_MAX, v = UINT64_MAX;
	const char *rest;
	struct stat st;
	size_t base, n;
	char *cut;
	int r;

	if (!under(group, m->root, &rest))
		rest = "";
	if ((size_t)snprintf(dir, sizeof(dir), "%s%s", prefix, m->dir) >=
	    sizeof(dir))
		return -ENAMETOOLONG;
	base = strlen(dir);
	while (base && dir[base - 1] == '/')
		dir[--base] = '\0';
	if ((size_t)snprintf(dir + base, sizeof(dir) - base, "%s", rest) >=
	    sizeof(dir) - base)
		return -ENAMETOOLONG;
	for (n = strlen(dir); n > base && dir[n - 1] == '/';)
		dir[--n] = '\0';
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		dir[base] = '\0';
	best[0] = own[0] = '\0';
	for (;;) {
		if ((size_t)snprintf(file, sizeof(file), "%s/%s", dir, name) >=
		    sizeof(file))
			return -ENAMETOOLONG;
		r = read_limit(file, &v);
		if (r && r != -ENOENT) {
			put(where, len, file);
			return r;
		}
		if (!r && !own[0])
			strcpy(own, file);
		if (!r && v < min) {
			min = v;
			strcpy(best, file);
		}
		cut = strrchr(dir + base, '/');
		if (!cut)
			break;
		*cut = '\0';
	}
	if (min >= CGROUP_UNLIMITED) {
		if (own[0])
			put(where, len, own);
		return -ENOENT;
	}
	*limit = min;
	put(where, len, best);
	return 0;
}

/*
 * The limit in one hierarchy (v1's memory one if @v1, else v2): 1 if it is
 * not mounted, else as cgroup_memory_limit().
 */
static int hierarchy_limit(const char *mountinfo, int v1, const char *group,
			   const char *prefix, uint64_t *limit, char *where,
			   size_t len)
{
	struct mount m;
	int r;

	r = find_mount(mountinfo, v1, group, &m);
	if (r < 0)
		put(where, len, mountinfo);
	if (r)
		return r;
	return walk(prefix, &m, group,
		    v1 ? "memory.limit_in_bytes" : "memory.max", limit, where,
		    len);
}

int cgroup_memory_limit_at(const char *proc_self_cgroup, const char *mountinfo,
			   const char *root_prefix, uint64_t *limit,
			   char *where, size_t len)
{
	char v1[PATH_MAX], v2[PATH_MAX];
	int r;

	put(where, len, "");
	if (!proc_self_cgroup || !mountinfo || !root_prefix || !limit)
		return -EINVAL;
	r = read_groups(proc_self_cgroup, v1, v2);
	if (r) {
		put(where, len, proc_self_cgroup);
		return r;
	}
	if (v1[0]) {
		r = hierarchy_limit(mountinfo, 1, v1, root_prefix, limit, where,
				    len);
		if (r <= 0 && r != -ENOENT)
			return r;
	}
	if (v2[0]) {
		r = hierarchy_limit(mountinfo, 0, v2, root_prefix, limit, where,
				    len);
		if (r <= 0)
			return r;
	}
	return -ENOENT;
}

int cgroup_memory_limit(uint64_t *limit, char *where, size_t len)
{
	return cgroup_memory_limit_at("/proc/self/cgroup",
				      "/proc/self/mountinfo", "", limit, where,
				      len);
}

uint64_t cgroup_auto_budget(uint64_t limit)
{
	uint64_t margin = limit / CGROUP_MARGIN_DIV;

	if (margin < CGROUP_MARGIN_MIN)
		margin = CGROUP_MARGIN_MIN;
	if (limit < margin || limit - margin < CGROUP_BUDGET_MIN)
		return 0;
	return limit - margin;
}
