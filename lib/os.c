// SPDX-License-Identifier: MIT
/*
 * os.c - the thin OS layer: mmap, munmap, madvise and malloc behind one ops
 * table, plus the metadata allocation helpers that charge struct tm_acct.
 *
 * Why an ops table: the failure paths (ENOMEM from mmap or malloc, later
 * ENOSPC and EIO from the backing file) must be tested, and a test can
 * only make them happen on demand by swapping in failing ops (tm_os_set()).
 * The ops pointer is read when a module takes or returns a chunk (a zspage,
 * a leaf, a table) or does file I/O (a batch, a record read back), never
 * per stored byte, so the indirection costs nothing measurable.
 *
 * Metadata is charged by malloc_usable_size(), i.e. what malloc really set
 * aside for us, not what we asked for: the pool limit is an honest budget.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static int os_map(size_t len, void **out)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

static int os_unmap(void *addr, size_t len)
{
	return munmap(addr, len) ? -errno : 0;
}

static int os_discard(void *addr, size_t len)
{
	return madvise(addr, len, MADV_DONTNEED) ? -errno : 0;
}

/*
 * One MADV_POPULATE_WRITE for a zspage's run instead of a page fault per
 * page on first write: on virtual machines a fault can cost 10-20 us
 * (measured on the 2-vCPU test VM), the batched populate about 1 us a
 * page.  Kernels before 5.14 answer EINVAL; the pages then fault in on
 * first write as before, so the caller may ignore the result.
 */
static int os_populate(void *addr, size_t len)
{
#ifdef MADV_POPULATE_WRITE
	return madvise(addr, len, MADV_POPULATE_WRITE) ? -errno : 0;
#else
	(void)addr;
	(void)len;
	return -EINVAL;
#endif
}

/*
 * The page allocator's arenas are 2 MiB, exactly a huge page: with THP set
 * to "always", populating one 4 KiB run can fault in the whole 2 MiB
 * (measured on kernel 6.18 with THP forced on: one zspage, 2048 kB of
 * RSS, pool_bytes 4096), and pool_bytes would stop being the memory the
 * pool holds.  Kernels without THP answer EINVAL, which is harmless: then
 * there are no huge pages to refuse.
 */
static int os_nohuge(void *addr, size_t len)
{
	return madvise(addr, len, MADV_NOHUGEPAGE) ? -errno : 0;
}

static int os_open(const char *path, int flags, unsigned mode)
{
	int fd = open(path, flags | O_CLOEXEC, (mode_t)mode);

	return fd < 0 ? -errno : fd;
}

static int os_close(int fd)
{
	return close(fd) ? -errno : 0;
}

static long os_pread(int fd, void *buf, size_t n, uint64_t off)
{
	ssize_t r = pread(fd, buf, n, (off_t)off);

	return r < 0 ? -errno : (long)r;
}

static long os_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
	ssize_t r = pwrite(fd, buf, n, (off_t)off);

	return r < 0 ? -errno : (long)r;
}

static int os_fallocate(int fd, int mode, uint64_t off, uint64_t len)
{
	return fallocate(fd, mode, (off_t)off, (off_t)len) ? -errno : 0;
}

const struct tm_os_ops tm_os_default = {
	.map = os_map,
	.unmap = os_unmap,
	.discard = os_discard,
	.populate = os_populate,
	.nohuge = os_nohuge,
	.malloc = malloc,
	.realloc = realloc,
	.free = free,
	.open = os_open,
	.close = os_close,
	.pread = os_pread,
	.pwrite = os_pwrite,
	.fallocate = os_fallocate,
};

static const struct tm_os_ops *os_ops = &tm_os_default;

const struct tm_os_ops *tm_os(void)
{
	return os_ops;
}

void tm_os_set(const struct tm_os_ops *ops)
{
	os_ops = ops ? ops : &tm_os_default;
}

void acct_pool_add(struct tm_acct *a, uint64_t bytes)
{
	uint64_t now = atomic_fetch_add_explicit(&a->pool_bytes, bytes,
						 memory_order_relaxed) +
		       bytes;
	uint64_t peak =
		atomic_load_explicit(&a->pool_peak, memory_order_relaxed);

	while (now > peak &&
	       !atomic_compare_exchange_weak_explicit(&a->pool_peak, &peak, now,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

void acct_pool_sub(struct tm_acct *a, uint64_t bytes)
{
	atomic_fetch_sub_explicit(&a->pool_bytes, bytes, memory_order_relaxed);
}

static void charge(struct tm_acct *a, void *p, int sign)
{
	if (!a || !p)
		return;
	if (sign > 0)
		atomic_fetch_add_explicit(&a->meta_bytes, malloc_usable_size(p),
					  memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(&a->meta_bytes, malloc_usable_size(p),
					  memory_order_relaxed);
}

void *tm_alloc(struct tm_acct *a, size_t n)
{
	void *p = tm_os()->malloc(n);

	charge(a, p, 1);
	return p;
}

void *tm_zalloc(struct tm_acct *a, size_t n)
{
	void *p = tm_alloc(a, n);

	if (p)
		memset(p, 0, n);
	return p;
}

/* On failure the old block is kept, still charged, as realloc(3) does. */
void *tm_realloc(struct tm_acct *a, void *p, size_t n)
{
	size_t old = p ? malloc_usable_size(p) : 0;
	void *q = tm_os()->realloc(p, n);

	if (!q)
		return NULL;
	if (a) {
		atomic_fetch_sub_explicit(&a->meta_bytes, old,
					  memory_order_relaxed);
		charge(a, q, 1);
	}
	return q;
}

void tm_free(struct tm_acct *a, void *p)
{
	if (!p)
		return;
	charge(a, p, -1);
	tm_os()->free(p);
}
