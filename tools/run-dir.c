// SPDX-License-Identifier: MIT
/*
 * run-dir.c - the stats pages of `tmem run` from the CLI's side.
 *
 * Each run has its own directory, /dev/shm/tmem-<runpid>.XXXXXX, made by
 * mkdtemp (0700, a name nobody could have made ready in the world-writable
 * /dev/shm) and named to the shim in TMEM_RUN_DIR; each managed process
 * keeps its page there as <pid> (preload/stats-page.c).  A process that
 * ends by _exit or a signal cannot remove its page, and `tmem run` does
 * not know the pids of its program's descendants; but it knows the
 * directory, so it unlinks the pages of processes that are gone while it
 * waits (run_dir_sweep, every few seconds) and removes the directory,
 * whatever is left in it, when the program ends.  A run that is killed
 * with SIGKILL leaves its directory behind, which the next `tmem run` of
 * the same user removes once it has been idle a minute and its run and
 * processes are gone (run_dir_reclaim); pages of processes that outlive
 * `tmem run` go with the directory.
 *
 * `tmem stat PID` does not know the run, so it looks in every tmem-*
 * directory of /dev/shm for <PID>, and believes a page only if the
 * directory and the page are closed to group and others, belong to an
 * owner of the process (another user could have made them), carry our
 * magic, version, size and PID, and were made by this very process: the
 * start time written in the page is that of /proc/PID/stat (a page left
 * by a dead process whose pid was reused is stale).
 *
 * What this gives up: a pid that is reused within a run, by a process
 * that is not managed, keeps the dead process's page until the run ends
 * (the sweep only looks for pids that are gone); `tmem stat` shows it as
 * stale.  Nothing here understands pid namespaces: a run that moves its
 * program into a new one (unshare -p) has pages named by pids tmem run
 * cannot see.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run-dir.h"

/* Tries at removing a directory that a live process refills. */
#define REMOVE_TRIES 5
/* A killed run's directory is reclaimed once idle this long (pages of a
 * run in another pid namespace name pids we cannot see). */
#define RUN_DIR_STALE_SECONDS 60

int run_dir_create(struct run_dir *rd)
{
	int err;

	snprintf(rd->path, sizeof(rd->path), "%s/%s%d.XXXXXX",
		 TMEM_RUN_STATS_DIR, TMEM_RUN_STATS_PREFIX, (int)getpid());
	if (!mkdtemp(rd->path))
		goto fail;
	rd->fd =
		open(rd->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rd->fd < 0)
		goto remove_dir;
	/* the shim refuses a directory open to others; a umask may not */
	if (!fchmod(rd->fd, 0700))
		return 0;
	close(rd->fd);
remove_dir:
	err = errno;
	rmdir(rd->path);
	errno = err;
fail:
	err = -errno;
	rd->fd = -1;
	rd->path[0] = 0;
	return err;
}

/* The pid a page is named by, or 0. */
static pid_t page_pid(const char *name)
{
	char *end;
	long v;

	if (*name < '1' || *name > '9')
		return 0;
	errno = 0;
	v = strtol(name, &end, 10);
	if (errno || *end || v <= 0 || (pid_t)v != v)
		return 0;
	return (pid_t)v;
}

static int gone(pid_t pid)
{
	return kill(pid, 0) && errno == ESRCH;
}

/* A DIR over @fd that leaves @fd open, rewound. */
static DIR *dir_over(int fd)
{
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d;

	if (dup < 0)
		return NULL;
	d = fdopendir(dup);
	if (!d) {
		close(dup);
		return NULL;
	}
	rewinddir(d); /* the duplicate shares its offset with @fd */
	return d;
}

void run_dir_sweep(const struct run_dir *rd, pid_t keep)
{
	struct dirent *de;
	DIR *d;
	pid_t pid;

	if (rd->fd < 0 || !(d = dir_over(rd->fd)))
		return;
	while ((de = readdir(d))) {
		pid = page_pid(de->d_name);
		if (pid && pid != keep && gone(pid))
			unlinkat(rd->fd, de->d_name, 0);
	}
	closedir(d);
}

/*
 * Whether every page of the directory @fd names a process that is gone.
 * (A run in another pid namespace that shares /dev/shm names pids we
 * cannot see; the idle time in run_dir_reclaim() is what protects it.)
 */
static int all_gone(int fd)
{
	struct dirent *de;
	int ok = 1;
	DIR *d = dir_over(fd);

	if (!d)
		return 0;
	while (ok && (de = readdir(d))) {
		pid_t pid = page_pid(de->d_name);

		ok = !pid ? !strcmp(de->d_name, ".") ||
				     !strcmp(de->d_name, "..")
			  : gone(pid);
	}
	closedir(d);
	return ok;
}

void run_dir_reclaim(void)
{
	struct dirent *de;
	DIR *shm = opendir(TMEM_RUN_STATS_DIR);
	size_t pre = strlen(TMEM_RUN_STATS_PREFIX);

	if (!shm)
		return;
	while ((de = readdir(shm))) {
		struct run_dir rd;
		struct stat st;
		char *dot;
		pid_t run;

		if (strncmp(de->d_name, TMEM_RUN_STATS_PREFIX, pre))
			continue;
		dot = strchr(de->d_name + pre, '.');
		if (!dot || strlen(dot) != 7)
			continue; /* not <runpid>.XXXXXX */
		*dot = 0;
		run = page_pid(de->d_name + pre);
		*dot = '.';
		if (!run || !gone(run) ||
		    fstatat(dirfd(shm), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
		    (st.st_mode & 077) ||
		    time(NULL) - st.st_mtime < RUN_DIR_STALE_SECONDS)
			continue;
		snprintf(rd.path, sizeof(rd.path), "%s/%s", TMEM_RUN_STATS_DIR,
			 de->d_name);
		rd.fd = openat(dirfd(shm), de->d_name,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rd.fd < 0)
			continue;
		if (all_gone(rd.fd))
			run_dir_remove(&rd);
		else
			close(rd.fd);
	}
	closedir(shm);
}

void run_dir_remove(struct run_dir *rd)
{
	struct dirent *de;
	DIR *d;

	if (rd->fd < 0)
		return;
	for (int i = 0; i < REMOVE_TRIES; i++) {
		d = dir_over(rd->fd);
		if (!d)
			break;
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") &&
			    strcmp(de->d_name, "..") &&
			    unlinkat(rd->fd, de->d_name, 0) && errno == EISDIR)
				unlinkat(rd->fd, de->d_name, AT_REMOVEDIR);
		closedir(d);
		/* a process of the run may make its page meanwhile */
		if (!rmdir(rd->path) || errno != ENOTEMPTY)
			break;
	}
	close(rd->fd);
	rd->fd = -1;
}

int run_page_read(int dfd, pid_t pid, uid_t uid, struct tmem_run_stats *st)
{
	char name[24];
	struct stat sb;
	ssize_t n = -1;
	int fd;

	snprintf(name, sizeof(name), "%d", (int)pid);
	/* O_NONBLOCK: a FIFO planted in place of a page must not hang us */
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -EINVAL;
	if (!fstat(fd, &sb) && S_ISREG(sb.st_mode) && sb.st_uid == uid &&
	    !(sb.st_mode & 077) && sb.st_size >= (off_t)sizeof(*st))
		n = pread(fd, st, sizeof(*st), 0);
	close(fd);
	if (n != (ssize_t)sizeof(*st) || st->magic != TMEM_RUN_STATS_MAGIC ||
	    st->version != TMEM_RUN_STATS_VERSION || st->size != sizeof(*st) ||
	    st->pid != pid)
		return -EINVAL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* tmem stat: finding a process's page                                 */
/* ------------------------------------------------------------------ */

struct proc_info {
	char state; /* field 3 of /proc/<pid>/stat, 0 unknown */
	unsigned long long start; /* field 22, 0 unknown */
	int nuids; /* 0: owners unknown */
	uid_t uids[4]; /* real, effective, saved, filesystem */
};

/* What /proc says of @pid; -ENOENT if it has no entry. */
static int proc_info(pid_t pid, struct proc_info *pi)
{
	char path[64], buf[1024], *p;
	unsigned u[4];
	ssize_t n;
	FILE *f;
	int fd, field;

	memset(pi, 0, sizeof(*pi));
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	/* The name (field 2) may hold spaces and ')': count from the last. */
	p = strrchr(buf, ')');
	if (p && p[1] == ' ') {
		pi->state = p[2];
		for (field = 2, p++; *p && field < 22; p++)
			if (*p == ' ')
				field++;
		pi->start = strtoull(p, NULL, 10);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "Uid: %u %u %u %u", &u[0], &u[1], &u[2],
			   &u[3]) == 4) {
			for (int i = 0; i < 4; i++)
				pi->uids[i] = u[i];
			pi->nuids = 4;
		}
	fclose(f);
	return 0;
}

static int owns(const struct proc_info *pi, uid_t uid)
{
	for (int i = 0; i < pi->nuids; i++)
		if (pi->uids[i] == uid)
			return 1;
	return !pi->nuids;
}

enum run_page_found run_page_find(pid_t pid, struct tmem_run_stats *st,
				  char *path, size_t len)
{
	const size_t plen = strlen(TMEM_RUN_STATS_PREFIX);
	enum run_page_found found = RUN_PAGE_NONE;
	struct tmem_run_stats cand;
	struct proc_info pi;
	struct dirent *de;
	struct stat sb;
	DIR *shm;
	int dfd;

	if (gone(pid) || proc_info(pid, &pi) == -ENOENT)
		return RUN_PAGE_GONE;
	if (pi.state == 'Z' || pi.state == 'X')
		return RUN_PAGE_ZOMBIE;
	shm = opendir(TMEM_RUN_STATS_DIR);
	if (!shm)
		return RUN_PAGE_NONE;
	while (found != RUN_PAGE_LIVE && (de = readdir(shm))) {
		if (strncmp(de->d_name, TMEM_RUN_STATS_PREFIX, plen))
			continue;
		dfd = openat(dirfd(shm), de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			continue;
		if (!fstat(dfd, &sb) && !(sb.st_mode & 077) &&
		    owns(&pi, sb.st_uid) &&
		    !run_page_read(dfd, pid, sb.st_uid, &cand)) {
			if (pi.start && cand.start_time &&
			    pi.start != cand.start_time) {
				found = RUN_PAGE_STALE;
			} else {
				found = RUN_PAGE_LIVE;
				*st = cand;
			}
			snprintf(path, len, "%s/%s/%d", TMEM_RUN_STATS_DIR,
				 de->d_name, (int)pid);
		}
		close(dfd);
	}
	closedir(shm);
	return found;
}
