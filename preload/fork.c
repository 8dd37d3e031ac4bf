// SPDX-License-Identifier: MIT
/*
 * fork.c - carrying the managed region into a fork child.
 *
 * The child has a copy-on-write copy of everything: the region's pages,
 * the pool and the page states, but not the userfaultfd registration (it
 * is not inherited) and not tmem's threads.  So the child opens its own
 * userfaultfd, registers the region and starts its own handler and
 * evictor over its own copy of the pool.  If it cannot, it brings every
 * pooled page back in and runs unmanaged.
 *
 * Fork handlers run in the forking thread; lock order as in region.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "region.h"
#include "uffd.h"

/*
 * Fork: no half-done batch may be copied (write-protected pages, pages
 * marked EVICT) and no pool call may be in flight, so prepare takes the
 * batch and state locks; the child, which lost the userfaultfd
 * registration, gets its own descriptor and threads over its own copy of
 * the pool.
 */
void rg_atfork_prepare(void)
{
	if (!rg.base)
		return;
	pthread_mutex_lock(&rg.batch);
	pthread_mutex_lock(&rg.lock);
	backing_fork_prepare();
}

void rg_atfork_parent(void)
{
	if (!rg.base)
		return;
	backing_fork_parent();
	pthread_mutex_unlock(&rg.lock);
	pthread_mutex_unlock(&rg.batch);
}

/* Without a handler the child would read dropped pages as zeroes.
 * Called with the child's userfaultfd closed (the region unregistered). */
static void restore_all(void)
{
	for (size_t a = 0; a < 2; a++)
		for (size_t i = rg.lo[a]; i < rg.hi[a]; i++)
			if ((rg.state[i] & PS_MASK) == PS_POOL &&
			    !(rg.state[i] & PS_NOACC) &&
			    !tmem_get_page(rg.pool, RG_POOL_OID, (uint32_t)i,
					   page_addr(i)))
				rg.state[i] = PS_RES | PS_PIN;
}

/*
 * MADV_WIPEONFORK and MADV_DONTFORK in the child.  The kernel gave the
 * child no pages for such ranges (a WIPEONFORK range is empty, a
 * DONTFORK one is not mapped at all), but the child's copy of the pool
 * still holds the parent's evicted pages: they are flushed here, before
 * anything can fault them in, and the states say ZERO.  A DONTFORK hole
 * gets a PROT_NONE reservation, so a touch is SIGSEGV as without tmem
 * and the address space stays the region's.
 */
static void apply_fork_advice(void)
{
	uint64_t res = 0, pool = 0;

	for (int a = 0; a < 2; a++) {
		for (size_t i = rg.lo[a]; i < rg.hi[a]; i++) {
			uint8_t s = rg.state[i];
			size_t n = 1;

			if (s == PS_FOREIGN || !(s & (PS_WIPE | PS_NOFORK)))
				continue;
			rg_drop_page(i, PS_WIPE, &res, &pool);
			if (!(s & PS_NOFORK))
				continue;
			/* the run of the hole, at most to the area's end */
			while (i + n < rg.hi[a] &&
			       (rg.state[i + n] & PS_NOFORK) &&
			       rg.state[i + n] != PS_FOREIGN) {
				rg_drop_page(i + n, 0, &res, &pool);
				n++;
			}
			rg.state[i] = 0;
			sys_mmap(page_addr(i), n << TM_PAGE_SHIFT, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
					 MAP_FIXED,
				 -1, 0);
			i += n - 1;
		}
	}
	STAT_ADD(pool_pages, (uint64_t)0 - pool);
	STAT_ADD(region_resident_pages, (uint64_t)0 - res);
}

/*
 * Start the child's threads while this (the forking) thread serves the
 * faults they raise before they reach their own loops: glibc's
 * start_thread reads the locale data, which the program's setlocale()
 * put in the managed heap, and that page may be in the pool.  Each
 * thread counts itself in rg.started and waits for rg.booting to clear,
 * so this thread is the only reader of the userfaultfd meanwhile.
 * Bounded: a thread that never starts is given up on after 10 s.
 */
static int start_threads_serving(void)
{
	uint64_t give_up = now_ns() + 10000000000ull;
	int want, err, fl, internal;

	/* Non-blocking meanwhile: a message that poll() announced can be
	 * withdrawn before read() (its thread was woken by a wake over a
	 * run and retried), and a blocking read would then wait for good. */
	fl = fcntl(rg.uffd, F_GETFL);
	fcntl(rg.uffd, F_SETFL, fl | O_NONBLOCK);
	atomic_store(&rg.started, 0);
	atomic_store(&rg.booting, 1);
	/* pthread_create() allocates (the new thread's DTV): from glibc's
	 * heap, not the managed one, which nobody serves yet. */
	internal = rg_internal;
	rg_internal = 1;
	want = rg_start_handlers();
	if (want < 0) {
		rg_internal = internal;
		fcntl(rg.uffd, F_SETFL, fl);
		atomic_store(&rg.booting, 0);
		return want;
	}
	err = rg_start_thread(rg_evictor_main);
	rg_internal = internal;
	if (!err)
		want++;
	while (atomic_load(&rg.started) < want && now_ns() < give_up) {
		int r = rg_serve_once(1);

		if (r < 0 && r != -EINTR && r != -EAGAIN) {
			err = r;
			break;
		}
	}
	if (!err && atomic_load(&rg.started) < want)
		err = -ETIMEDOUT;
	fcntl(rg.uffd, F_SETFL, fl);
	atomic_store(&rg.booting, 0);
	return err;
}

int rg_atfork_child(int shared_files)
{
	size_t len = rg.npages << TM_PAGE_SHIFT;
	uint64_t resident, pooled;
	enum uffd_how how;
	int fd = -1, err;

	if (!rg.base)
		return 0;
	rg_init_sync();
	/* before anything uses the pool: the library's state for the child */
	backing_fork_child(shared_files);
	/* A clone() child that shares the descriptor table would close the
	 * parent's: it leaves them (and they stay tmem's, untouchable). */
	if (!shared_files) {
		sys_close(rg.uffd);
		sys_close(rg.statm_fd);
		if (rg.pidfd >= 0)
			sys_close(rg.pidfd);
	}
	rg.pidfd = rg_self_pidfd();
	rg.statm_fd =
		rg_high_fd(open("/proc/self/statm", O_RDONLY | O_CLOEXEC));
	resident = rg.st->region_resident_pages;
	pooled = rg.st->pool_pages;
	stats_page_close(rg.st, &rg.st_local);
	rg.top = 0;
	rg.st = stats_page_open(&rg.st_local, rg.compressor, rg.ram,
				rg.pool_max);
	rg.st->region_resident_pages = resident;
	rg.st->pool_pages = pooled;
	backing_stats_reset();
	atomic_store(&rg.stuck, 0);
	apply_fork_advice();
	err = uffd_open(&fd, &how);
	if (!err) {
		rg.uffd = fd = rg_high_fd(fd);
		err = uffd_register(fd, rg.base, len);
	}
	if (!err)
		err = start_threads_serving();
	if (err) {
		tm_log("tmem: forked child cannot manage memory (%d): "
		       "bringing all its pages back in\n",
		       err);
		/* Closing the descriptor unregisters the region, so the
		 * pages can be written back without a handler. */
		if (fd >= 0)
			sys_close(fd);
		rg.uffd = -1;
		restore_all();
		rg.base = NULL;
	}
	return err;
}
