// SPDX-License-Identifier: MIT
/*
 * backing.c - the backing file of a managed process (`tmem run
 * --backing-file DIR`): its pool is given an unnamed file in DIR, to
 * which the library writes the coldest compressed pages once the pool is
 * full (tmem_pool_set_backing()).  The evictor's puts may then wait while
 * the library's writer thread makes room: that is the point, the budget
 * holds.  A get of a page on the file reads it back transparently; one
 * that cannot be read (-EIO) ends the process (rg_lost_page()), never
 * giving it wrong bytes.
 *
 * What the shim adds to the library:
 *  - The directory, copied from TMEM_RUN_BACKING in the constructor
 *    (tmem run checked it and made it absolute); every managed process of
 *    the run (forks, what they exec) makes a file of its own there.
 *  - The file's descriptor is tmem's, like the userfaultfd: the file ops
 *    the library is given (backing_open() ... in shim.c's tm_os_ops, raw
 *    system calls) put it at the top of the first 1024, and the
 *    program's close()/close_range()/closefrom() pass it by (process.c).
 *    A program's dup2() onto it moves ours first; the library keeps the
 *    number it was given, which the ops translate, so a write the
 *    library issues can never land in the program's file: the move takes
 *    the descriptor lock for writing, every op holds it for reading.
 *  - Failure to make the file (the directory went away, the disk filled
 *    since tmem run checked) is said once: the process runs managed
 *    without a backing file, as without --backing-file.
 *
 * Fork: the library's fork calls, in the region's fork handlers (see
 * backing_fork_prepare()).  The library's writer thread: see
 * __wrap_pthread_create().
 *
 * Runs in the constructor, in the library's writer thread (the ops) and
 * in fork children: no malloc, no stdio (README.md).  Lock order: the
 * descriptor lock is a leaf.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "region.h"

/* Descriptors the library may hold at once: its file, and one more
 * while a file is replaced. */
#define BK_FDS 2
_Static_assert(RG_OWN_FDS == 3 + BK_FDS, "tmem's descriptors");

static struct {
	char dir[PATH_MAX]; /* "" without --backing-file */
	int active; /* the pool has its backing file */
	int keep_fds; /* closing is for the other side of a CLONE_FILES fork */
	int parent_keep; /* the fork under way is one */
	pthread_rwlock_t fdlock; /* the real numbers below */
	int lib[BK_FDS]; /* the number the library was given, -1 free */
	int real[BK_FDS]; /* where that file is now */
} bk = { .lib = { -1, -1 }, .real = { -1, -1 } };

/* The real descriptor behind the library's @fd; call with fdlock held. */
static int real_fd(int fd)
{
	for (int k = 0; k < BK_FDS; k++)
		if (bk.lib[k] == fd && fd >= 0)
			return bk.real[k];
	return fd;
}

int backing_open(const char *path, int flags, unsigned mode)
{
	long fd = raw_syscall(SYS_openat, AT_FDCWD, (long)path,
			      flags | O_CLOEXEC, mode, 0, 0);
	int slot = -1;

	if (fd < 0)
		return (int)fd;
	fd = rg_high_fd((int)fd);
	pthread_rwlock_wrlock(&bk.fdlock);
	for (int k = 0; k < BK_FDS && slot < 0; k++)
		if (bk.lib[k] < 0)
			slot = k;
	if (slot >= 0) {
		bk.lib[slot] = (int)fd;
		bk.real[slot] = (int)fd;
	}
	pthread_rwlock_unlock(&bk.fdlock);
	if (slot < 0) {
		/* More files than the shim can keep from the program. */
		sys_close((int)fd);
		return -EMFILE;
	}
	return (int)fd;
}

int backing_close(int fd)
{
	int real = fd;

	pthread_rwlock_wrlock(&bk.fdlock);
	for (int k = 0; k < BK_FDS; k++)
		if (bk.lib[k] == fd && fd >= 0) {
			real = bk.real[k];
			bk.lib[k] = bk.real[k] = -1;
		}
	pthread_rwlock_unlock(&bk.fdlock);
	return bk.keep_fds ? 0 : sys_close(real);
}

long backing_pread(int fd, void *buf, size_t n, uint64_t off)
{
	long r;

	pthread_rwlock_rdlock(&bk.fdlock);
	r = raw_syscall(SYS_pread64, real_fd(fd), (long)buf, (long)n, (long)off,
			0, 0);
	pthread_rwlock_unlock(&bk.fdlock);
	return r;
}

long backing_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
	long r;

	pthread_rwlock_rdlock(&bk.fdlock);
	r = raw_syscall(SYS_pwrite64, real_fd(fd), (long)buf, (long)n,
			(long)off, 0, 0);
	pthread_rwlock_unlock(&bk.fdlock);
	return r;
}

int backing_fallocate(int fd, int mode, uint64_t off, uint64_t len)
{
	long r;

	pthread_rwlock_rdlock(&bk.fdlock);
	r = raw_syscall(SYS_fallocate, real_fd(fd), mode, (long)off, (long)len,
			0, 0);
	pthread_rwlock_unlock(&bk.fdlock);
	return (int)r;
}

void backing_config(const char *dir)
{
	pthread_rwlock_init(&bk.fdlock, NULL);
	if (dir && *dir && strlen(dir) < sizeof(bk.dir))
		strcpy(bk.dir, dir);
	else if (dir && *dir)
		tm_log("tmem: TMEM_RUN_BACKING is too long: no backing file\n");
}

/*
 * Give rg.pool its backing file, if the run asked for one.  Called from
 * rg_init() once the stats page is open.  When the file cannot be made,
 * the process says so and runs without one.
 */
void backing_setup(void)
{
	int err;

	if (!bk.dir[0])
		return;
	err = tmem_pool_set_backing(rg.pool, bk.dir);
	if (err) {
		tm_log("tmem: cannot make a backing file in %s (%s): running "
		       "without one; memory may grow past --ram\n",
		       bk.dir, strerror(-err));
		return;
	}
	bk.active = 1;
	STAT_SET(backing, 1);
}

/* The real descriptors of the backing files, for process.c's close
 * guards; fills @fds (room for BK_FDS), returns the count. */
int backing_fds(int *fds)
{
	int n = 0;

	for (int k = 0; k < BK_FDS; k++)
		if (bk.real[k] >= 0)
			fds[n++] = bk.real[k];
	return n;
}

/*
 * The program dup2()s onto @fd, one of ours: move the file to a new
 * number first.  Under the write lock, so no op is using the old number
 * when it changes hands; the library keeps its number (translated).
 */
void backing_move_fd_away(int fd)
{
	pthread_rwlock_wrlock(&bk.fdlock);
	for (int k = 0; k < BK_FDS; k++) {
		int nfd;

		if (bk.real[k] != fd || fd < 0)
			continue;
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 64);
		if (nfd >= 0)
			bk.real[k] = nfd; /* the old number is the program's */
	}
	pthread_rwlock_unlock(&bk.fdlock);
}

/* ------------------------------------------------------------------ */
/* Fork                                                                */
/* ------------------------------------------------------------------ */

/*
 * A fork child has a copy of the pool but the parent's file: the library
 * gives it a copy of the file (tmem_fork_prepare() copies the segments
 * into a new unnamed file in the same directory, tmem_fork_child() takes
 * it), so parent and child never write one file.  These run inside the
 * region's fork handlers, after rg.batch and rg.lock are taken (fork.c):
 * no eviction batch, so no put waiting for the writer, is in flight.
 */
void backing_fork_prepare(void)
{
	if (bk.active)
		tmem_fork_prepare();
}

/* The fork under way is a clone() with CLONE_FILES: set between the
 * prepare and parent handlers (process.c), under the fork locks. */
void backing_fork_shares_files(void)
{
	bk.parent_keep = 1;
}

void backing_fork_parent(void)
{
	if (!bk.active)
		return;
	/* A child sharing our descriptor table uses the copy: keep it. */
	bk.keep_fds = bk.parent_keep;
	tmem_fork_parent();
	bk.keep_fds = bk.parent_keep = 0;
}

/*
 * In the child, before anything touches the pool.  The library closes
 * the parent's file there, unless the child shares the parent's
 * descriptor table (clone() with CLONE_FILES): then both stay open.
 */
void backing_fork_child(int shared_files)
{
	/* The parent's writer may have held it for an op at fork time. */
	pthread_rwlock_init(&bk.fdlock, NULL);
	if (!bk.active)
		return;
	bk.keep_fds = shared_files;
	tmem_fork_child();
	bk.keep_fds = 0;
}

/* The run stats of the child's new page. */
void backing_stats_reset(void)
{
	if (bk.active)
		STAT_SET(backing, 1);
}

/* ------------------------------------------------------------------ */
/* The library's threads                                               */
/* ------------------------------------------------------------------ */

/*
 * Where a starting thread finds its function: slots, not malloc, because
 * a free() on the new thread would make glibc give it an arena of its
 * own (64 MiB of address space, which mlockall() then tries to lock),
 * and no handshake, because in a fork child the creator must go on
 * serving the faults the new thread raises before it runs (fork.c).
 */
#define BK_STARTS 32 /* threads starting at once: handlers, evictor, writer */
static struct {
	_Atomic int busy;
	void *(*fn)(void *);
	void *arg;
} starts[BK_STARTS];

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg);

static void *internal_thread(void *p)
{
	int k = (int)(intptr_t)p;
	void *(*fn)(void *) = starts[k].fn;
	void *arg = starts[k].arg;

	atomic_store(&starts[k].busy, 0);
	rg_internal = 1;
	/* The shim's own threads name themselves over this. */
	prctl(PR_SET_NAME, "tmem-writeback");
	return fn(arg);
}

/*
 * Every thread started by code linked into the shim - the library's
 * writer as well as tmem's handlers and evictor - is one of tmem's: the
 * link maps the library's pthread_create() calls here
 * (-Wl,--wrap=pthread_create, preload/meson.build), and the thread
 * starts with rg_internal set.  Without it the writer, whose work an
 * eviction batch may be waiting for, would get the program's allocator
 * for what libc allocates inside it (qsort() in the compaction after a
 * writeback does), map managed memory and wait on the batch lock: a
 * deadlock seen on the first 128 MiB run.  The program's own
 * pthread_create() is not affected.
 */
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg)
{
	int k, err, idle = 0;

	for (k = 0;; k = (k + 1) % BK_STARTS) {
		int want = 0;

		if (atomic_compare_exchange_strong(&starts[k].busy, &want, 1))
			break;
		if (k == BK_STARTS - 1 && ++idle > 1000)
			return EAGAIN; /* never seen: threads not starting */
		if (k == BK_STARTS - 1)
			sched_yield();
	}
	starts[k].fn = fn;
	starts[k].arg = arg;
	err = __real_pthread_create(t, attr, internal_thread,
				    (void *)(intptr_t)k);
	if (err)
		atomic_store(&starts[k].busy, 0);
	return err;
}
