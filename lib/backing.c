// SPDX-License-Identifier: MIT
/*
 * backing.c - the backing file of the writeback tier: opening it, carrying
 * it across fork, reading records back, stats.  The writer side (what
 * goes to the file and when, the cleaner) is writeback.c; the design is
 * described there.
 */
#define TMEM_EXPERIMENTAL /* tmem_pool_backing_fd() */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing-int.h"

/* ---- opening ---------------------------------------------------------- */

/* An unnamed file in @dir: O_TMPFILE, else a name unlinked at once. */
static int open_in_dir(const char *dir)
{
	static _Atomic unsigned seq;
	char name[4096];
	int fd;

	fd = OS_FILE(open)(dir, O_TMPFILE | O_RDWR | O_EXCL, 0600);
	if (fd >= 0 || (fd != -EOPNOTSUPP && fd != -EISDIR && fd != -EINVAL))
		return fd;
	for (int tries = 0; tries < 100; tries++) {
		if (snprintf(name, sizeof(name), "%s/.tmem-wb-%d-%u", dir,
			     (int)getpid(),
			     atomic_fetch_add(&seq, 1)) >= (int)sizeof(name))
			return -ENAMETOOLONG;
		fd = OS_FILE(open)(name, O_CREAT | O_EXCL | O_RDWR, 0600);
		if (fd != -EEXIST)
			break;
	}
	if (fd >= 0)
		unlink(name);
	return fd;
}

/* Open the file; *@dir gets the absolute directory it is in. */
static int open_file(const char *path, char **dir)
{
	char buf[PATH_MAX], *copy;
	struct stat st;
	int fd;

	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return -EEXIST;
		if (!realpath(path, buf))
			return -errno;
		fd = open_in_dir(buf);
	} else {
		if (errno != ENOENT)
			return -errno;
		copy = strdup(path);
		if (!copy)
			return -ENOMEM;
		if (!realpath(dirname(copy), buf)) {
			free(copy);
			return -errno;
		}
		free(copy);
		fd = OS_FILE(open)(path, O_CREAT | O_EXCL | O_RDWR, 0600);
		if (fd >= 0)
			unlink(path);
	}
	if (fd >= 0) {
		*dir = strdup(buf);
		if (!*dir) {
			OS_FILE(close)(fd);
			return -ENOMEM;
		}
	}
	return fd;
}

/* Every open backing file, for the fork calls. */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tm_backing *open_files;

static void list_add(struct tm_backing *b)
{
	pthread_mutex_lock(&all_lock);
	b->next = open_files;
	open_files = b;
	pthread_mutex_unlock(&all_lock);
}

static void list_del(struct tm_backing *b)
{
	struct tm_backing **pp;

	pthread_mutex_lock(&all_lock);
	for (pp = &open_files; *pp && *pp != b; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = b->next;
	pthread_mutex_unlock(&all_lock);
}

int wb_open(struct tmem_pool *pool, const char *path, struct tm_backing **out)
{
	struct tm_backing *b;
	pthread_attr_t attr;
	sigset_t every, old;
	int ret;

	b = tm_zalloc(&pool->acct, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->pool = pool;
	b->owner = getpid();
	b->items_cap = WB_BATCH / (WB_REC_HDR + 16);
	b->buf = tm_os()->malloc(WB_BATCH);
	b->items = tm_os()->malloc(b->items_cap * sizeof(*b->items));
	b->chunks[0] =
		tm_zalloc(&pool->acct, WB_CHUNK_SEGS * sizeof(struct wb_seg));
	if (!b->buf || !b->items || !b->chunks[0]) {
		ret = -ENOMEM;
		goto free;
	}
	b->child_fd = -1;
	b->fd = open_file(path, &b->dir);
	if (b->fd < 0) {
		ret = b->fd;
		goto free;
	}
	/* Room for the first segment, or a clear error now rather than a
	 * failed write later; file systems without fallocate are let by. */
	ret = OS_FILE(fallocate)(b->fd, 0, 0, WB_SEG_SIZE);
	if (ret == -ENOSPC || ret == -EDQUOT)
		goto close;
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->wait_lock, NULL);
	pthread_cond_init(&b->wake, NULL);
	pthread_cond_init(&b->room, NULL);

	/* The writer takes no signals: a program's handler must not run
	 * on a library thread. */
	sigfillset(&every);
	pthread_sigmask(SIG_SETMASK, &every, &old);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	ret = -pthread_create(&b->thread, &attr, wb_writer_main, b);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		goto destroy;
	b->has_thread = 1;
	list_add(b);
	*out = b;
	return 0;

destroy:
	pthread_cond_destroy(&b->room);
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->wait_lock);
	pthread_mutex_destroy(&b->lock);
close:
	OS_FILE(close)(b->fd);
	free(b->dir);
free:
	tm_os()->free(b->items);
	tm_os()->free(b->buf);
	tm_free(&pool->acct, b->chunks[0]);
	tm_free(&pool->acct, b);
	return ret ? ret : -ENOSPC;
}

void wb_close(struct tm_backing *b)
{
	if (!b)
		return;
	list_del(b);
	if (b->has_thread && b->owner == getpid()) {
		pthread_mutex_lock(&b->wait_lock);
		b->stop = 1;
		pthread_cond_signal(&b->wake);
		pthread_mutex_unlock(&b->wait_lock);
		pthread_join(b->thread, NULL);
	}
	OS_FILE(close)(b->fd);
	free(b->dir);
	for (unsigned i = 0; i < WB_MAX_CHUNKS; i++)
		tm_free(&b->pool->acct, b->chunks[i]);
	tm_os()->free(b->cbuf);
	tm_os()->free(b->items);
	tm_os()->free(b->buf);
	pthread_cond_destroy(&b->room);
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->wait_lock);
	pthread_mutex_destroy(&b->lock);
	tm_free(&b->pool->acct, b);
}

/* ---- fork ------------------------------------------------------------ */

/*
 * Copy every segment that holds records into @to, at the same offsets,
 * so that the child's index points at the same bytes.  copy_file_range
 * copies in the kernel (a reflink where the file system has them);
 * pread/pwrite through a buffer where it is not supported.
 */
static int copy_segments(struct tm_backing *b, int to)
{
	/* A caller's own file ops may number descriptors their own way
	 * (tmem run's shim does): then only they may touch them. */
	int kernel_copy = OS_FILE(pread) == tm_os_default.pread &&
			  OS_FILE(pwrite) == tm_os_default.pwrite;

	for (uint32_t i = 0; i < b->nsegs; i++) {
		struct wb_seg *sg = seg(b, i);
		loff_t in = (loff_t)i << WB_SEG_SHIFT, out = in;
		size_t left = sg->fill;

		if (sg->state == SEG_FREE)
			continue;
		while (left) {
			ssize_t n = -1;

			errno = EOPNOTSUPP;
			if (kernel_copy)
				n = copy_file_range(b->fd, &in, to, &out, left,
						    0);
			if (n <= 0) {
				if (n < 0 && errno != EXDEV &&
				    errno != EOPNOTSUPP && errno != ENOSYS &&
				    errno != EINVAL)
					return -errno;
				if (!b->cbuf &&
				    !(b->cbuf = tm_os()->malloc(WB_SEG_SIZE)))
					return -ENOMEM;
				if (wb_read_all(b, b->cbuf, left, (uint64_t)in))
					return -EIO;
				for (size_t pos = 0; pos < left;) {
					long w = OS_FILE(pwrite)(
						to, b->cbuf + pos, left - pos,
						(uint64_t)out + pos);

					if (w <= 0)
						return w < 0 ? (int)w : -EIO;
					pos += (size_t)w;
				}
				break;
			}
			left -= (size_t)n;
		}
	}
	return 0;
}

TM_EXPORT void tmem_fork_prepare(void)
{
	struct tm_backing *b;

	pthread_mutex_lock(&all_lock);
	for (b = open_files; b; b = b->next) {
		pthread_mutex_lock(&b->lock);
		b->child_fd = -1;
		if (b->owner != getpid() || !get(b, C_SEGS))
			continue;
		b->child_fd = open_in_dir(b->dir);
		if (b->child_fd >= 0 && copy_segments(b, b->child_fd)) {
			OS_FILE(close)(b->child_fd);
			b->child_fd = -1;
		}
	}
}

TM_EXPORT void tmem_fork_parent(void)
{
	struct tm_backing *b;

	for (b = open_files; b; b = b->next) {
		if (b->child_fd >= 0)
			OS_FILE(close)(b->child_fd);
		b->child_fd = -1;
		pthread_mutex_unlock(&b->lock);
	}
	pthread_mutex_unlock(&all_lock);
}

TM_EXPORT void tmem_fork_child(void)
{
	struct tm_backing *b;

	for (b = open_files; b; b = b->next) {
		/* Only this thread exists: no pins, no writer, no waiters. */
		for (uint32_t i = 0; i < b->nsegs; i++)
			atomic_store(&seg(b, i)->readers, 0);
		b->has_thread = 0;
		b->asked = b->done = 0;
		b->stuck = 0;
		pthread_mutex_init(&b->wait_lock, NULL);
		pthread_cond_init(&b->wake, NULL);
		pthread_cond_init(&b->room, NULL);
		if (b->child_fd >= 0) {
			OS_FILE(close)(b->fd);
			b->fd = b->child_fd;
			b->child_fd = -1;
			b->owner = getpid();
		} else if (!get(b, C_SEGS)) {
			/* Nothing on file yet: a file of the child's own. */
			int fd = open_in_dir(b->dir);

			if (fd >= 0) {
				OS_FILE(close)(b->fd);
				b->fd = fd;
				b->owner = getpid();
			}
		}
		pthread_mutex_init(&b->lock, NULL);
	}
	pthread_mutex_init(&all_lock, NULL);
}

TM_EXPORT int tmem_pool_backing_fd(struct tmem_pool *pool)
{
	if (!pool || !pool->wb)
		return -ENOENT;
	return pool->wb->fd;
}

/* ---- reading back ----------------------------------------------------- */

void wb_pin(struct tm_backing *b, uint64_t loc)
{
	atomic_fetch_add(
		&seg(b, (uint32_t)(wb_loc_off(loc) >> WB_SEG_SHIFT))->readers,
		1);
}

int wb_read(struct tm_backing *b, uint64_t loc, uint64_t oid, uint32_t index,
	    void *page)
{
	struct wb_seg *sg = seg(b, (uint32_t)(wb_loc_off(loc) >> WB_SEG_SHIFT));
	uint32_t len = wb_loc_len(loc);
	union {
		struct wb_hdr h;
		uint8_t bytes[WB_REC_HDR + TM_PAGE_SIZE];
	} rec;
	const struct comp_ops *comp;
	int ret;

	ret = wb_read_all(b, &rec, WB_REC_HDR + len, wb_loc_off(loc));
	atomic_fetch_sub(&sg->readers, 1);
	if (ret) {
		add(b, C_RERR, 1);
		return -EIO;
	}
	if (rec.h.magic != WB_MAGIC || rec.h.len != len || rec.h.oid != oid ||
	    rec.h.index != index || rec_sum(&rec.h, &rec.h + 1) != rec.h.sum ||
	    !(comp = comp_get(rec.h.comp))) {
		add(b, C_CSUM, 1);
		return -EIO;
	}
	add(b, C_READ_PAGES, 1);
	if (len == TM_PAGE_SIZE) {
		memcpy(page, &rec.h + 1, TM_PAGE_SIZE);
		return 0;
	}
	ret = comp->decompress(&rec.h + 1, len, page);
	if (ret && ret != -ENOMEM) {
		add(b, C_CSUM, 1);
		ret = -EIO;
	}
	return ret;
}

void wb_release(struct tm_backing *b, uint64_t loc)
{
	uint32_t rec = WB_REC_HDR + wb_loc_len(loc);

	atomic_fetch_sub(
		&seg(b, (uint32_t)(wb_loc_off(loc) >> WB_SEG_SHIFT))->live,
		rec);
	add(b, C_LIVE, -(int64_t)rec);
}

/* ---- stats ------------------------------------------------------------ */

void wb_stats(struct tm_backing *b, struct tmem_stats *st)
{
	uint64_t file = get(b, C_FILE), live = get(b, C_LIVE);
	uint64_t payload = get(b, C_PAYLOAD);

	st->wb_segments = get(b, C_SEGS);
	st->wb_file_bytes = file;
	st->wb_live_bytes = live;
	st->wb_dead_bytes = file > live ? file - live : 0;
	st->wb_written_pages = get(b, C_WRITTEN_PAGES);
	st->wb_payload_bytes = payload;
	st->wb_bytes_written = get(b, C_BYTES_WRITTEN);
	st->wb_write_amp_pct =
		payload ? st->wb_bytes_written * 100 / payload : 0;
	st->wb_freed_bytes = get(b, C_FREED);
	st->wb_read_pages = get(b, C_READ_PAGES);
	st->wb_read_bytes = get(b, C_READ_BYTES);
	st->wb_cleaned_segments = get(b, C_CLEANED);
	st->wb_cleaner_moves = get(b, C_MOVES);
	st->wb_waits = get(b, C_WAITS);
	st->wb_overlimit_puts = get(b, C_OVERLIMIT);
	st->wb_write_errors = get(b, C_WERR);
	st->wb_read_errors = get(b, C_RERR);
	st->wb_checksum_errors = get(b, C_CSUM);
}
