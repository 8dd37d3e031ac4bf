// SPDX-License-Identifier: MIT
/*
 * fault.c - fault service: the handler threads read the userfaultfd and
 * install each missing page, decompressed from the pool (with read-ahead
 * on sequential refaults) or zeroed (with fault-around on a first write),
 * and lift stray write protection.  The rules for stale messages, the
 * refault distance and why pages go in without a wake are at each
 * function; the region's design and lock order are in region.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
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

unsigned char rg_staging[RG_READAHEAD * TM_PAGE_SIZE]
	__attribute__((aligned(4096)));
/* Zeroes to install: one page, or a fault-around run. */
static const unsigned char zero_src[RG_FAULT_AROUND * TM_PAGE_SIZE]
	__attribute__((aligned(4096)));

/* ------------------------------------------------------------------ */
/* Fault service                                                       */
/* ------------------------------------------------------------------ */

/*
 * A refault's class: PS_PROT when the page came back within fewer
 * evictions (its refault distance) than RG_PROT_DISTANCE times the
 * resident pages, i.e. it would most likely have stayed had it been
 * protected.  This is the kernel's workingset rule (mm/workingset.c,
 * which compares with the resident lists: 1x; on bench/usemem 768M under
 * --ram 445M, 1x and 4x left ~368K refaults, 1.5x to 3x 352-362K, one run
 * each), on two sets where the kernel has
 * active and inactive lists: the clock never takes a protected page
 * while the protected set is within its share of the resident ones
 * (RG_PROT_SHARE), so a page that keeps coming back, or a working set
 * that fits, is not pushed out by pages that are only passing through
 * (a scan, a loop over more data than the budget, a random pass over
 * everything).  tmem cannot see the accessed bit of resident pages:
 * refaults are all it knows, and this makes the most of them.
 * Called with rg.lock held.
 */
static uint8_t refault_class(size_t i)
{
	uint32_t distance = rg.evictions - rg.evicted_at[i];

	if (distance >= RG_PROT_DISTANCE * rg.st->region_resident_pages)
		return 0;
	rg.prot++;
	return PS_PROT;
}

/*
 * Where a run of at most @max pages from @i ends: the runs one fault
 * installs stay in @i's area (arena or mmap carve), whose pages belong to
 * different mappings, and in the region.
 */
static size_t run_end(size_t i, size_t max)
{
	size_t end = i + max;

	if (i < rg.arena_pages && end > rg.arena_pages)
		end = rg.arena_pages;
	return end < rg.npages ? end : rg.npages;
}

/*
 * The never-touched pages from @i on, in its area, at most
 * RG_FAULT_AROUND: the run a first write installs at once.  Called with
 * rg.lock held; a ZERO page has no PTE (every fault in the region comes
 * here), so UFFDIO_COPY over the run cannot meet a present page.
 */
static size_t zero_run(size_t i)
{
	size_t end = run_end(i, RG_FAULT_AROUND), n = 0;

	while (i + n < end && rg.state[i + n] == PS_ZERO)
		n++;
	return n;
}

/*
 * Read-ahead for refaults, as swap readahead in the kernel: a refault at
 * the page right after the last run served is a sequential scan, and its
 * run doubles (2, 4, ... RG_READAHEAD pages); any other refault starts
 * again at one page.  The run is the POOL pages from @i on (settled, so
 * surely not mapped), in its area.  A random access pattern never pays
 * for it; a scan over evicted memory takes one fault per run instead of
 * one per page.  Called with rg.lock held.
 */
static size_t readahead_run(size_t i)
{
	size_t end, n = 1;

	rg.ra_window =
		i == rg.ra_next ? (rg.ra_window < 2 ? 2 : rg.ra_window * 2) : 1;
	if (rg.ra_window > RG_READAHEAD)
		rg.ra_window = RG_READAHEAD;
	end = run_end(i, rg.ra_window);
	while (i + n < end && rg.state[i + n] == PS_POOL)
		n++;
	return n;
}

/*
 * A missing fault on a page the pool holds (POOL), or may hold (EVICT:
 * picked by the evictor, maybe stored, maybe dropped).  Called with
 * rg.lock held.
 *
 * The message can be stale: a faulting thread is also woken by wakes
 * that are not its own (an unprotect or a wake over a range), retries,
 * and may fault again, so a second message for the same page can reach
 * the other handler after the first was served, and the evictor may have
 * picked the page again meanwhile.  An EVICT page that is still mapped
 * must then be left alone: not yet stored (-ENOENT), or stored but not
 * yet dropped (UFFDIO_COPY says -EEXIST).  Taking it back from the pool
 * there would let the evictor's drop throw away its only copy.
 */
static size_t serve_stored(char *page, size_t i, uint8_t s)
{
	size_t n = (s & PS_MASK) == PS_POOL ? readahead_run(i) : 1;
	int err = tmem_get_page(rg.pool, RG_POOL_OID, (uint32_t)i, rg_staging);

	if (err == -ENOENT && (s & PS_MASK) == PS_EVICT) {
		STAT_ADD(stale_faults, 1); /* still mapped, not stored yet */
		return 1;
	}
	if (err)
		rg_lost_page(page, err);
	for (size_t k = 1; k < n; k++)
		if (tmem_get_page(rg.pool, RG_POOL_OID, (uint32_t)(i + k),
				  rg_staging + (k << TM_PAGE_SHIFT))) {
			n = k;
			break;
		}
	/* Pool copies are flushed only once installed: a failed run falls
	 * back to the faulting page alone. */
	if (n > 1 &&
	    uffd_copy(rg.uffd, page, rg_staging, n << TM_PAGE_SHIFT, 0))
		n = 1;
	if (n == 1)
		err = uffd_copy(rg.uffd, page, rg_staging, TM_PAGE_SIZE, 0);
	if (err == -EEXIST) {
		STAT_ADD(stale_faults, 1); /* still mapped; copy stays pooled */
		return 1;
	}
	if (err) {
		tm_log("tmem: fatal: UFFDIO_COPY at %p failed (%d)\n",
		       (void *)page, err);
		abort();
	}
	rg.ra_next = i + n;
	for (size_t k = 0; k < n; k++)
		tmem_flush_page(rg.pool, RG_POOL_OID, (uint32_t)(i + k));
	rg.state[i] =
		(uint8_t)((s & ~PS_MASK) | PS_RES | PS_REF | refault_class(i));
	/* Read ahead, not yet used: no reference bit. */
	for (size_t k = 1; k < n; k++)
		rg.state[i + k] =
			(uint8_t)((rg.state[i + k] & ~PS_MASK) | PS_RES);
	atomic_fetch_add(&rg.since, n);
	STAT_ADD(refaults, 1);
	STAT_ADD(readahead_pages, n - 1);
	STAT_ADD(pool_pages, (uint64_t)0 - n);
	STAT_ADD(region_resident_pages, n);
	return n;
}

static void serve(uint64_t addr, uint64_t flags)
{
	char *page = (char *)(uintptr_t)(addr & ~(uint64_t)(TM_PAGE_SIZE - 1));
	uint64_t t0 = now_ns();
	size_t i, n;
	uint8_t s;
	int err;

	if (!rg_contains(page, TM_PAGE_SIZE)) {
		tm_log("tmem: fault outside the region at %p\n", (void *)page);
		uffd_wake(rg.uffd, page, TM_PAGE_SIZE);
		return;
	}
	i = page_index(page);
	if (flags & UFFD_PAGEFAULT_FLAG_WP) {
		pthread_mutex_lock(&rg.lock);
		/* An evicting page is unprotected by the evictor at the end
		 * of its batch, which wakes this writer; anything else is a
		 * stray protection: lift it now. */
		if ((rg.state[i] & PS_MASK) != PS_EVICT)
			uffd_wp(rg.uffd, page, TM_PAGE_SIZE, 0);
		pthread_mutex_unlock(&rg.lock);
		STAT_ADD(wp_faults, 1);
		return;
	}
	rg_throttle();
	pthread_mutex_lock(&rg.lock);
	s = rg.state[i];
	if ((s & PS_MASK) == PS_POOL || (s & PS_MASK) == PS_EVICT) {
		n = serve_stored(page, i, s);
	} else {
		n = 1;
		/* First write into fresh memory: the program is most likely
		 * filling it, so install the never-touched pages after it
		 * too, one fault for a run instead of one a page.  If that
		 * fails, the faulting page alone, as for any other fault. */
		if ((s & PS_MASK) == PS_ZERO &&
		    (flags & UFFD_PAGEFAULT_FLAG_WRITE)) {
			n = zero_run(i); /* 0 if flagged, e.g. NOACC */
			if (n < 2 || uffd_copy(rg.uffd, page, zero_src,
					       n << TM_PAGE_SHIFT, 0))
				n = 1;
		}
		if (n == 1) {
			if (flags & UFFD_PAGEFAULT_FLAG_WRITE)
				err = uffd_copy(rg.uffd, page, zero_src,
						TM_PAGE_SIZE, 0);
			else
				err = uffd_zeropage(rg.uffd, page, TM_PAGE_SIZE,
						    0);
			/* -EEXIST: another thread's fault installed it */
			if (err && err != -EEXIST)
				tm_log("tmem: cannot map a zero page at %p "
				       "(%d)\n",
				       (void *)page, err);
		}
		if ((s & PS_MASK) == PS_ZERO) {
			for (size_t k = i; k < i + n; k++)
				rg.state[k] =
					(uint8_t)((rg.state[k] & ~PS_MASK) |
						  PS_RES);
			touch_bounds(i);
			touch_bounds(i + n - 1);
			STAT_ADD(region_resident_pages, n);
		}
		if (flags & UFFD_PAGEFAULT_FLAG_WRITE)
			atomic_fetch_add(&rg.since, n);
		STAT_ADD(zero_faults, 1);
	}
	pthread_mutex_unlock(&rg.lock);
	/* Installed without waking (see uffd_copy()): wake the faulting
	 * thread only now, so it cannot preempt us while we hold rg.lock;
	 * and any other thread waiting in the run installed with it. */
	uffd_wake(rg.uffd, page, n << TM_PAGE_SHIFT);
	STAT_ADD(faults, 1);
	STAT_ADD(fault_ns, now_ns() - t0);
	if (rg_rss_estimate() > rg.high)
		rg_kick_evictor();
}

/*
 * Serve what one read of the userfaultfd returns, after waiting up to
 * @timeout_ms for it to be readable.  Used by the forking thread in a
 * fork child while the child's own threads start (fork.c).  Returns the
 * messages served, or -errno.
 */
int rg_serve_once(int timeout_ms)
{
	struct uffd_msg msg[8];
	struct pollfd p = { .fd = rg.uffd, .events = POLLIN };
	ssize_t n;
	int r = poll(&p, 1, timeout_ms);

	if (r <= 0)
		return r < 0 ? -errno : 0;
	n = read(rg.uffd, msg, sizeof(msg));
	if (n < 0)
		return -errno;
	for (size_t k = 0; k < (size_t)n / sizeof(msg[0]); k++)
		if (msg[k].event == UFFD_EVENT_PAGEFAULT)
			serve(msg[k].arg.pagefault.address,
			      msg[k].arg.pagefault.flags);
	return (int)((size_t)n / sizeof(msg[0]));
}

void *rg_handler_main(void *arg)
{
	struct uffd_msg msg[32];
	long cpu = (long)arg - 1;

	rg_thread_started();
	rg_internal = 1;
	/* Named so that top -H, ps -L and perf tell tmem's threads apart. */
	prctl(PR_SET_NAME, "tmem-fault");
	if (cpu >= 0) {
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET((int)cpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
	}
	for (;;) {
		ssize_t n = read(rg.uffd, msg, sizeof(msg));

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			tm_log("tmem: fault handler stopped: userfaultfd read "
			       "failed (%d)\n",
			       errno);
			return NULL;
		}
		for (size_t k = 0; k < (size_t)n / sizeof(msg[0]); k++)
			if (msg[k].event == UFFD_EVENT_PAGEFAULT)
				serve(msg[k].arg.pagefault.address,
				      msg[k].arg.pagefault.flags);
	}
}
