// SPDX-License-Identifier: MIT
/*
 * stats-page.c - the live counters page of a managed process,
 * /dev/shm/tmem-<pid> (run-stats.h), which `tmem stat` and `tmem run`
 * read from outside.
 *
 * The page is created, sized and mapped here and its descriptor closed at
 * once (the mapping keeps the file), so the program never sees a tmem
 * descriptor for it.  A process that cannot have the file (no /dev/shm,
 * full, refused) keeps its counters in a private struct the caller gives:
 * counting never fails, only reading from outside does.
 *
 * Runs in the constructor and in a fork child: no malloc, no stdio.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "preload.h"

static void stats_path(char *buf, size_t len, pid_t pid)
{
	/* no snprintf in a fork child: build "/dev/shm/tmem-<pid>" by hand */
	const char *pre = TMEM_RUN_STATS_DIR "/" TMEM_RUN_STATS_PREFIX;
	char digits[24];
	size_t n = 0, k = 0;

	do {
		digits[n++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid && n < sizeof(digits));
	while (*pre && k + 1 < len)
		buf[k++] = *pre++;
	while (n && k + 1 < len)
		buf[k++] = digits[--n];
	buf[k] = 0;
}

static struct tmem_run_stats *map_page(void)
{
	char path[64];
	void *p;
	int fd;

	stats_path(path, sizeof(path), getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, TM_PAGE_SIZE))
		goto fail;
	p = sys_mmap(NULL, TM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		     0);
	if (p == MAP_FAILED)
		goto fail;
	close(fd);
	return p;
fail:
	close(fd);
	unlink(path);
	return NULL;
}

struct tmem_run_stats *stats_page_open(struct tmem_run_stats *local,
				       const char *compressor, uint64_t ram,
				       uint64_t pool_max)
{
	struct tmem_run_stats *st = map_page();

	if (!st)
		st = local;
	memset(st, 0, sizeof(*st));
	st->version = TMEM_RUN_STATS_VERSION;
	st->size = sizeof(*st);
	st->pid = getpid();
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
	char path[64];

	stats_path(path, sizeof(path), getpid());
	unlink(path);
}
