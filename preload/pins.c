// SPDX-License-Identifier: MIT
/*
 * pins.c - pages the kernel holds pinned, which must not be evicted.
 *
 * A pinned page (an io_uring registered buffer, an O_DIRECT read in
 * flight) is written by the kernel through the page itself, not through
 * the program's page table.  If the evictor dropped it, the kernel's
 * write would land in a page the program no longer maps, and the program
 * would read the pool's older copy: silent data loss.  The kernel does
 * not tell user space which pages are pinned, so the shim finds the pins
 * where they are made:
 *
 * - io_uring registered buffers: liburing makes its system calls itself
 *   (no libc call to interpose), but the kernel lists each ring's
 *   registered buffers in /proc/self/fdinfo ("UserBufs").  The evictor
 *   scans before its batches (at most every RG_PIN_SCAN_NS, and less
 *   often when a scan is slow: many descriptors) and pins the resident
 *   pages of every registered range (PS_PIN, until the range is freed).
 *   A registration between two scans can still lose a page that is
 *   evicted in that window (a few milliseconds); such a page is found by
 *   the next scan and reported on stderr, never silently.
 * - O_DIRECT reads into managed memory (read, pread, readv, preadv,
 *   preadv2): the shim wraps them; for a buffer that can be O_DIRECT
 *   (512-byte aligned address and length) in the region it asks the
 *   descriptor's flags, and an O_DIRECT read registers its ranges here,
 *   under rg.batch (so no eviction batch is in flight), for the length of
 *   the call.  The evictor skips pages in a registered range.
 *
 * Not covered: O_DIRECT reads submitted through io_uring or AIO into
 * buffers that are not registered (the pin outlives the call).
 *
 * Lock order as in region.c: the I/O table changes under rg.batch, which
 * every eviction batch holds throughout.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "region.h"

#define PIN_IO_SLOTS 64 /* O_DIRECT calls in flight at once, at most */
#define PIN_IOV_MAX 8 /* iovecs of one call registered one by one */
#define RG_PIN_SCAN_NS 5000000ull /* fdinfo scan: at most every 5 ms */

static struct {
	uintptr_t lo, hi; /* page-rounded; lo == hi: free */
} io[PIN_IO_SLOTS];
static _Atomic int io_used;
static uint64_t last_scan, scan_gap = RG_PIN_SCAN_NS;
static char dir_buf[8192], info_buf[8192];
static int warned_lost;

/* ------------------------------------------------------------------ */
/* O_DIRECT reads in flight                                            */
/* ------------------------------------------------------------------ */

/* Whether the evictor must leave page @i alone.  rg.batch held. */
bool pins_busy(size_t i)
{
	uintptr_t a = (uintptr_t)page_addr(i);

	if (!atomic_load_explicit(&io_used, memory_order_relaxed))
		return false;
	for (int k = 0; k < PIN_IO_SLOTS; k++)
		if (a >= io[k].lo && a < io[k].hi)
			return true;
	return false;
}

static bool may_be_direct(const void *p, size_t len)
{
	return len >= 512 && !((uintptr_t)p & 511) && !(len & 511) && rg.base &&
	       (const char *)p < rg.base + (rg.npages << TM_PAGE_SHIFT) &&
	       (const char *)p + len > rg.base;
}

/*
 * Register the ranges of an O_DIRECT read into the region, or none.
 * Returns a mask of the slots taken, for pins_io_end().
 */
uint64_t pins_io_begin(int fd, const struct iovec *iov, int n)
{
	uint64_t taken = 0;
	bool any = false;
	int fl;

	for (int k = 0; k < n && k < PIN_IOV_MAX; k++)
		any |= may_be_direct(iov[k].iov_base, iov[k].iov_len);
	if (!any)
		return 0;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || !(fl & O_DIRECT))
		return 0;
	pthread_mutex_lock(&rg.batch);
	for (int k = 0; k < n && k < PIN_IOV_MAX; k++) {
		uintptr_t lo = (uintptr_t)iov[k].iov_base & ~4095ul;
		uintptr_t hi =
			((uintptr_t)iov[k].iov_base + iov[k].iov_len + 4095) &
			~4095ul;

		for (int s = 0; s < PIN_IO_SLOTS; s++)
			if (io[s].lo == io[s].hi) {
				io[s].lo = lo;
				io[s].hi = hi;
				taken |= 1ull << s;
				break;
			}
	}
	atomic_fetch_add(&io_used, __builtin_popcountll(taken));
	pthread_mutex_unlock(&rg.batch);
	return taken;
}

void pins_io_end(uint64_t taken)
{
	if (!taken)
		return;
	pthread_mutex_lock(&rg.batch);
	for (int s = 0; s < PIN_IO_SLOTS; s++)
		if (taken & (1ull << s))
			io[s].lo = io[s].hi = 0;
	atomic_fetch_sub(&io_used, __builtin_popcountll(taken));
	pthread_mutex_unlock(&rg.batch);
}

/* ------------------------------------------------------------------ */
/* io_uring registered buffers                                         */
/* ------------------------------------------------------------------ */

/* Pin the resident pages of [lo, hi); report pages already evicted. */
static void pin_range(uintptr_t lo, uintptr_t hi)
{
	size_t lost = 0;

	if (!rg.base || hi <= (uintptr_t)rg.base ||
	    lo >= (uintptr_t)rg.base + (rg.npages << TM_PAGE_SHIFT))
		return;
	if (lo < (uintptr_t)rg.base)
		lo = (uintptr_t)rg.base;
	if (hi > (uintptr_t)rg.base + (rg.npages << TM_PAGE_SHIFT))
		hi = (uintptr_t)rg.base + (rg.npages << TM_PAGE_SHIFT);
	pthread_mutex_lock(&rg.lock);
	for (size_t i = page_index((void *)lo);
	     i < page_index((void *)(hi + 4095)); i++) {
		uint8_t s = rg.state[i];

		if ((s & PS_MASK) == PS_RES)
			rg.state[i] = s | PS_PIN;
		else if ((s & PS_MASK) == PS_POOL)
			lost++;
	}
	pthread_mutex_unlock(&rg.lock);
	if (lost && !warned_lost++)
		tm_log("tmem: %zu pages of an io_uring registered buffer at "
		       "%p were evicted before tmem saw the registration: "
		       "reads into them may be lost (docs/run.md)\n",
		       lost, (void *)lo);
}

/* @dir then @name into @buf (64 bytes): no snprintf in the evictor. */
static void join(char *buf, const char *dir, const char *name)
{
	size_t k = 0;

	while (*dir && k < 63)
		buf[k++] = *dir++;
	while (*name && k < 63)
		buf[k++] = *name++;
	buf[k] = 0;
}

/* The "UserBufs" lines of one io_uring descriptor's fdinfo. */
static void scan_ring(const char *name)
{
	char path[64];
	const char *p;
	ssize_t n;
	int fd;

	join(path, "/proc/self/fdinfo/", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, info_buf, sizeof(info_buf) - 1);
	sys_close(fd);
	if (n <= 0)
		return;
	info_buf[n] = 0;
	p = strstr(info_buf, "UserBufs:");
	if (!p)
		return;
	p = strchr(p, '\n');
	/* lines "%5u: 0x%llx/%u" until one without "0x" */
	while (p && *p == '\n') {
		const char *x = strstr(p + 1, "0x"), *eol = strchr(p + 1, '\n');
		uintptr_t addr, len;

		if (!x || (eol && x > eol))
			break;
		x += 2;
		addr = process_hex(&x);
		if (*x != '/')
			break;
		x++;
		len = (uintptr_t)strtoull(x, NULL, 10);
		pin_range(addr, addr + len);
		p = eol;
	}
}

/*
 * io_uring_register() made through libc's syscall(): buffer
 * registrations are done under rg.batch, so no eviction batch runs while
 * the kernel pins the pages (faulting in, through the handler, those in
 * the pool), and the pages are pinned in the states before any batch can
 * pick them.  No window, unlike the scan.
 */
long pins_uring_register(long fd, long op, long arg, long nr)
{
	long r;

	if (op != IORING_REGISTER_BUFFERS && op != IORING_REGISTER_BUFFERS2 &&
	    op != IORING_REGISTER_BUFFERS_UPDATE)
		return raw_syscall(SYS_io_uring_register, fd, op, arg, nr, 0,
				   0);
	pthread_mutex_lock(&rg.batch);
	r = raw_syscall(SYS_io_uring_register, fd, op, arg, nr, 0, 0);
	if (r >= 0) {
		const struct iovec *iov = (const void *)arg;
		long n = nr;

		if (op != IORING_REGISTER_BUFFERS) {
			/* struct io_uring_rsrc_register / _update2: data */
			const struct io_uring_rsrc_update2 *u =
				(const void *)arg;

			iov = (const void *)(uintptr_t)u->data;
			n = u->nr;
		}
		for (long k = 0; iov && k < n; k++)
			if (iov[k].iov_base)
				pin_range((uintptr_t)iov[k].iov_base,
					  (uintptr_t)iov[k].iov_base +
						  iov[k].iov_len);
	}
	pthread_mutex_unlock(&rg.batch);
	return r;
}

/*
 * Find the program's io_uring descriptors and pin their registered
 * buffers.  Called by the evictor before a batch, without rg.lock.
 */
void pins_scan(void)
{
	uint64_t t0 = now_ns(), took;
	int dfd;

	if (t0 - last_scan < scan_gap)
		return;
	dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, dir_buf, sizeof(dir_buf));

		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct dirent64 *d =
				(struct dirent64 *)(void *)(dir_buf + off);
			char path[64], link[32];
			ssize_t l;

			off += d->d_reclen;
			if (d->d_name[0] == '.')
				continue;
			join(path, "/proc/self/fd/", d->d_name);
			l = readlink(path, link, sizeof(link) - 1);
			if (l <= 0)
				continue;
			link[l] = 0;
			if (!strcmp(link, "anon_inode:[io_uring]"))
				scan_ring(d->d_name);
		}
	}
	sys_close(dfd);
	last_scan = now_ns();
	took = last_scan - t0;
	/* keep scans under ~1% of the evictor's time */
	scan_gap = took * 100 > RG_PIN_SCAN_NS ? took * 100 : RG_PIN_SCAN_NS;
}
