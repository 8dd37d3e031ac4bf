// SPDX-License-Identifier: MIT
/*
 * stats-page.c - the live counters page of a managed process,
 * $TMEM_RUN_DIR/<pid> (run-stats.h), which `tmem stat` and `tmem run`
 * read from outside.
 *
 * The directory is the run's, made by `tmem run` with mkdtemp in the
 * world-writable /dev/shm, so nothing here trusts a path: the directory
 * is opened without following a link and used only if it is a directory,
 * owned by our effective uid and closed to group and others (0700), and
 * the same one (device, inode) the constructor saw; the page is created
 * with O_EXCL | O_NOFOLLOW, so nothing is ever written into a file we did
 * not create.  A file already there under our pid is a dead process's
 * (pids are unique among the living; an exec'ed image of ours left it):
 * it is unlinked, if it is ours, and made anew.
 *
 * The page is created, sized and mapped and its descriptors closed at
 * once (the mapping keeps the file), so the program never sees a tmem
 * descriptor.  A process that cannot have the file (no TMEM_RUN_DIR, a
 * directory that fails the checks, full, refused) keeps its counters in a
 * private struct the caller gives: counting never fails, only reading
 * from outside does.
 *
 * Runs in the constructor, in a fork child and at exit: no malloc, no
 * stdio; the directory name is copied from the environment once, in the
 * constructor (the first call), into a static buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "preload.h"

static struct {
	int known; /* dir was read from the environment */
	int seen; /* dev and ino are set */
	char dir[TMEM_RUN_STATS_DIR_MAX]; /* "" for no page */
	dev_t dev; /* the directory the first open saw */
	ino_t ino;
} sp;

/* "<pid>" by hand (no snprintf in a fork child). */
static void pid_name(char *buf, size_t len, pid_t pid)
{
	char digits[24];
	size_t n = 0, k = 0;

	do {
		digits[n++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid && n < sizeof(digits));
	while (n && k + 1 < len)
		buf[k++] = digits[--n];
	buf[k] = 0;
}

static void read_env(void)
{
	const char *d = getenv(TMEM_RUN_STATS_ENV);

	sp.known = 1;
	if (d && d[0] == '/' && strlen(d) < sizeof(sp.dir))
		strcpy(sp.dir, d);
}

/* The run's directory, checked; -1 if there is none we may use. */
static int open_dir(void)
{
	struct stat sb;
	int dfd;

	if (!sp.dir[0])
		return -1;
	dfd = open(sp.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	if (fstat(dfd, &sb) || !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() ||
	    (sb.st_mode & 077) ||
	    (sp.seen && (sb.st_dev != sp.dev || sb.st_ino != sp.ino))) {
		close(dfd);
		return -1;
	}
	sp.seen = 1;
	sp.dev = sb.st_dev;
	sp.ino = sb.st_ino;
	return dfd;
}

/* Field 22 of /proc/self/stat, the start time; 0 if it cannot be read. */
static uint64_t start_time(void)
{
	char buf[1024], *p = NULL;
	uint64_t v = 0;
	ssize_t n;
	int fd, field;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	sys_close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* The name (field 2) may hold spaces and ')': count from the last. */
	for (ssize_t i = n - 1; i >= 0 && !p; i--)
		if (buf[i] == ')')
			p = buf + i + 1;
	for (field = 2; p && *p && field < 22; p++)
		if (*p == ' ')
			field++;
	while (p && *p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

/* Create our page in @dfd, replacing a dead process's file of our name. */
static int create_page(int dfd, const char *name)
{
	const int flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	struct stat sb;
	int fd;

	fd = openat(dfd, name, flags, 0600);
	if (fd >= 0 || errno != EEXIST)
		return fd;
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) ||
	    S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() ||
	    unlinkat(dfd, name, 0))
		return -1;
	return openat(dfd, name, flags, 0600);
}

static struct tmem_run_stats *map_page(void)
{
	char name[24];
	void *p = NULL;
	int dfd, fd;

	dfd = open_dir();
	if (dfd < 0)
		return NULL;
	pid_name(name, sizeof(name), getpid());
	fd = create_page(dfd, name);
	if (fd < 0)
		goto close_dir;
	/* a umask must not hide the page from `tmem stat` of the same user */
	if (fchmod(fd, 0600) || ftruncate(fd, TM_PAGE_SIZE))
		goto unlink_page;
	p = sys_mmap(NULL, TM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		     0);
	if (p != MAP_FAILED)
		goto close_page;
	p = NULL;
unlink_page:
	unlinkat(dfd, name, 0);
close_page:
	sys_close(fd);
close_dir:
	close(dfd);
	return p;
}

struct tmem_run_stats *stats_page_open(struct tmem_run_stats *local,
				       const char *compressor, uint64_t ram,
				       uint64_t pool_max)
{
	struct tmem_run_stats *st;

	if (!sp.known)
		read_env();
	st = map_page();
	if (!st)
		st = local;
	memset(st, 0, sizeof(*st));
	st->version = TMEM_RUN_STATS_VERSION;
	st->size = sizeof(*st);
	st->pid = getpid();
	st->start_time = start_time();
	memcpy(st->compressor, compressor, sizeof(st->compressor));
	st->ram_bytes = ram;
	st->pool_max_bytes = pool_max;
	atomic_thread_fence(memory_order_release);
	st->magic = TMEM_RUN_STATS_MAGIC;
	return st;
}

void stats_page_close(struct tmem_run_stats *st,
		      const struct tmem_run_stats *local)
{
	if (st && st != local)
		sys_munmap(st, TM_PAGE_SIZE);
}

void stats_page_remove(void)
{
	char name[24];
	int dfd = open_dir();

	if (dfd < 0)
		return;
	pid_name(name, sizeof(name), getpid());
	unlinkat(dfd, name, 0);
	close(dfd);
}
