// SPDX-License-Identifier: MIT
/*
 * region.c - the managed region: one big reserved range of anonymous
 * memory, registered with userfaultfd, in which the program's heap and
 * anonymous mappings live.  A handler thread serves its missing faults
 * (from the compressed pool, or with zeroes); an evictor thread keeps the
 * process's resident set under the budget by compressing cold pages into
 * the pool and dropping them.
 *
 * Per-page state (one byte per page, in a NORESERVE table): ZERO (not
 * populated, nothing stored), RES (present), POOL (dropped, stored in the
 * pool), EVICT (present, write-protected, being stored), plus REF (faulted
 * back from the pool since the clock hand passed: hot), PROT (refaulted
 * soon after its eviction: the clock passes it by, see refault_class()),
 * NOACC (PROT_NONE, never read it) and PIN (could not be dropped, e.g.
 * mlocked).
 *
 * Eviction without races (write-protect, store, drop): a batch of victims
 * is write-protected, so a concurrent writer blocks in a WP fault while a
 * reader goes on; each page is stored from its place in the region; then,
 * under the state lock, the stored pages are marked POOL and dropped with
 * MADV_DONTNEED; last the range is unprotected, which wakes the writers,
 * whose retried access is now a missing fault served from the pool.  A
 * write can never land between the store and the drop.  UFFDIO_MOVE was
 * not used: it fails (EBUSY) on pages shared with a forked child.
 *
 * Faulting a page back flushes it from the pool (no clean copy is kept):
 * memory is counted once, and a discarded page can never come back stale.
 *
 * Lock order: rg.batch (a whole eviction batch, or a program's discard/
 * protect call) -> rg.lock (page states, pool calls, the uffd ioctls that
 * change presence) -> rg.tmu (wakeups only).  Nobody touches managed
 * memory while holding rg.lock, so the handler can always make progress.
 * The fault handler takes only rg.lock; it never waits for a batch except
 * through the bounded budget throttle.
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

#include "internal.h"
#include "preload.h"
#include "uffd.h"

#define PS_ZERO 0
#define PS_RES 1
#define PS_POOL 2
#define PS_EVICT 3
#define PS_MASK 3
#define PS_REF 0x04
#define PS_NOACC 0x08
#define PS_PIN 0x10
#define PS_PROT 0x20

#define RG_BATCH 256 /* pages per eviction step: 64-512 amortize the ioctls */
#define RG_SCAN_MAX (64 * RG_BATCH) /* clock steps per batch at most */
#define RG_DISCARD_CHUNK 512 /* pages per lock hold when discarding */
#define RG_POOL_OID 0
#define RG_ALIGN (64ul << 20) /* mimalloc arenas want segment alignment */
#define RG_PIDFD_SELF (-10000) /* PIDFD_SELF_THREAD (Linux 6.14+): our mm */
#define RG_FAULT_AROUND 16 /* fresh pages a first write installs at most */
#define RG_READAHEAD 16 /* pooled pages a sequential refault brings at most */
#define RG_SPAN_GAP 1024 /* pages between victims in one WP span at most */
#define RG_MAX_HANDLERS 16 /* pinned handlers, one per CPU, up to this */
#define RG_MAX_PAGES (1ull << 32) /* pool page index is 32 bits */
#define RG_PROT_SHARE 240 /* protected pages: at most this /256 of resident */
#define RG_PROT_DISTANCE 2 /* refault distance protecting: x resident pages */
_Static_assert(RG_BATCH >= 64 && RG_BATCH <= 512, "batch size");

static struct {
	char *base; /* region start, RG_ALIGN aligned */
	size_t npages;
	size_t arena_pages; /* [0, arena_pages): mimalloc; rest: mmap carve */
	uint8_t *state;
	uint32_t *evicted_at; /* per page: rg.evictions when it left */
	uint32_t evictions; /* pages dropped so far (wraps; differences only) */
	size_t prot; /* pages with PS_PROT */
	size_t ra_next, ra_window; /* read-ahead: where a sequential refault
				    * would come next, and the run it gets */
	int uffd;
	struct tmem_pool *pool;
	pthread_mutex_t lock, batch, tmu;
	pthread_cond_t kick, progress;
	int kicked;
	/* touched bounds per area, in page indexes: the clock's domain */
	size_t lo[2], hi[2];
	size_t hand;
	uint64_t ram, high, low, hard;
	_Atomic uint64_t rss; /* bytes at the last statm read */
	_Atomic uint64_t since; /* pages installed since that read */
	_Atomic int stuck; /* evictor found nothing to evict */
	int statm_fd;
	int pidfd; /* process_madvise() on ourselves: RG_PIDFD_SELF, an fd, -1 */
	struct tmem_run_stats *st;
	struct tmem_run_stats st_local; /* when no shm page could be had */
	int warned_pool_full, warned_budget;
	int compacted_since_refusal;
	uint64_t refusals, last_compact;
	int top;
	char compressor[16];
	uint64_t pool_max;
} rg;

/* Decompressed pages to install: one, or a read-ahead run. */
static unsigned char staging[RG_READAHEAD * TM_PAGE_SIZE]
	__attribute__((aligned(4096)));
/* Zeroes to install: one page, or a fault-around run. */
static const unsigned char zero_src[RG_FAULT_AROUND * TM_PAGE_SIZE]
	__attribute__((aligned(4096)));

#define STAT_ADD(f, n)                                                         \
	atomic_fetch_add_explicit((_Atomic uint64_t *)&rg.st->f, (n),          \
				  memory_order_relaxed)
#define STAT_SET(f, v)                                                         \
	atomic_store_explicit((_Atomic uint64_t *)&rg.st->f, (v),              \
			      memory_order_relaxed)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* @ns from now, for pthread_cond_timedwait (CLOCK_REALTIME). */
static struct timespec deadline_in(long ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ns;
	while (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

static char *page_addr(size_t i)
{
	return rg.base + (i << TM_PAGE_SHIFT);
}

static size_t page_index(const void *addr)
{
	return (size_t)((const char *)addr - rg.base) >> TM_PAGE_SHIFT;
}

int rg_contains(const void *addr, size_t len)
{
	const char *a = addr;

	return rg.base && a >= rg.base &&
	       a + len <= rg.base + (rg.npages << TM_PAGE_SHIFT);
}

static void touch_bounds(size_t i)
{
	int area = i >= rg.arena_pages;

	if (rg.hi[area] == rg.lo[area]) {
		rg.lo[area] = i;
		rg.hi[area] = i + 1;
	} else if (i < rg.lo[area]) {
		rg.lo[area] = i;
	} else if (i >= rg.hi[area]) {
		rg.hi[area] = i + 1;
	}
}

/* ------------------------------------------------------------------ */
/* Budget                                                              */
/* ------------------------------------------------------------------ */

static uint64_t read_rss(void)
{
	char buf[128];
	ssize_t n = pread(rg.statm_fd, buf, sizeof(buf) - 1, 0);
	uint64_t res = 0;
	char *p = buf;

	if (n <= 0)
		return atomic_load(&rg.rss);
	buf[n] = 0;
	while (*p && *p != ' ')
		p++;
	while (*p == ' ')
		p++;
	while (*p >= '0' && *p <= '9')
		res = res * 10 + (uint64_t)(*p++ - '0');
	res <<= TM_PAGE_SHIFT;
	atomic_store(&rg.rss, res);
	atomic_store(&rg.since, 0);
	STAT_SET(rss_bytes, res);
	if (res > rg.st->peak_rss_bytes)
		STAT_SET(peak_rss_bytes, res);
	return res;
}

static uint64_t rss_estimate(void)
{
	return atomic_load_explicit(&rg.rss, memory_order_relaxed) +
	       (atomic_load_explicit(&rg.since, memory_order_relaxed)
		<< TM_PAGE_SHIFT);
}

static void kick_evictor(void)
{
	pthread_mutex_lock(&rg.tmu);
	rg.kicked = 1;
	pthread_cond_signal(&rg.kick);
	pthread_mutex_unlock(&rg.tmu);
}

/*
 * Hold the faulting program above the budget while the evictor makes
 * progress.  Bounded: as soon as a batch does not lower the resident set
 * (nothing evictable, pool full) the program goes on and memory grows;
 * tmem never blocks it for good.
 */
static void throttle(void)
{
	uint64_t prev, cur;
	int rounds = 0;

	if (rss_estimate() <= rg.hard || atomic_load(&rg.stuck))
		return;
	prev = read_rss();
	while (prev > rg.hard && !atomic_load(&rg.stuck) && rounds++ < 50) {
		struct timespec ts = deadline_in(5000000);

		pthread_mutex_lock(&rg.tmu);
		rg.kicked = 1;
		pthread_cond_signal(&rg.kick);
		pthread_cond_timedwait(&rg.progress, &rg.tmu, &ts);
		pthread_mutex_unlock(&rg.tmu);
		cur = read_rss();
		if (cur >= prev)
			break;
		prev = cur;
	}
}

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
	int err = tmem_get_page(rg.pool, RG_POOL_OID, (uint32_t)i, staging);

	if (err == -ENOENT && (s & PS_MASK) == PS_EVICT) {
		STAT_ADD(stale_faults, 1); /* still mapped, not stored yet */
		return 1;
	}
	if (err) {
		/* The pool lost a page it accepted: nothing correct can be
		 * given to the program. */
		tm_log("tmem: fatal: page %p could not be read back from the "
		       "pool (%d)\n",
		       (void *)page, err);
		abort();
	}
	for (size_t k = 1; k < n; k++)
		if (tmem_get_page(rg.pool, RG_POOL_OID, (uint32_t)(i + k),
				  staging + (k << TM_PAGE_SHIFT))) {
			n = k;
			break;
		}
	/* Pool copies are flushed only once installed: a failed run falls
	 * back to the faulting page alone. */
	if (n > 1 && uffd_copy(rg.uffd, page, staging, n << TM_PAGE_SHIFT, 0))
		n = 1;
	if (n == 1)
		err = uffd_copy(rg.uffd, page, staging, TM_PAGE_SIZE, 0);
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
	throttle();
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
	if (rss_estimate() > rg.high)
		kick_evictor();
}

static void *handler_main(void *arg)
{
	struct uffd_msg msg[32];
	long cpu = (long)arg - 1;

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

/* ------------------------------------------------------------------ */
/* Eviction                                                            */
/* ------------------------------------------------------------------ */

/*
 * The next page index of the clock's domain: the touched part of the
 * arena, then the touched part of the mmap area (always above it).
 */
static size_t clock_next(size_t i)
{
	i++;
	for (int a = 0; a < 2; a++) {
		if (rg.lo[a] == rg.hi[a])
			continue;
		if (i < rg.lo[a])
			return rg.lo[a];
		if (i < rg.hi[a])
			return i;
	}
	return rg.lo[0] < rg.hi[0] ? rg.lo[0] : rg.lo[1];
}

static size_t pick_victims(size_t *v, size_t *swept)
{
	size_t n = 0, scanned = 0;
	size_t i = rg.hand;
	size_t prot_cap =
		(size_t)(rg.st->region_resident_pages * RG_PROT_SHARE / 256);

	if (rg.lo[0] == rg.hi[0] && rg.lo[1] == rg.hi[1])
		return 0;
	if (!(i >= rg.lo[0] && i < rg.hi[0]) &&
	    !(i >= rg.lo[1] && i < rg.hi[1]))
		i = clock_next(i - 1);
	while (n < RG_BATCH && scanned++ < RG_SCAN_MAX) {
		uint8_t s = rg.state[i];

		if ((s & PS_MASK) == PS_RES && !(s & (PS_NOACC | PS_PIN))) {
			if (s & PS_PROT) {
				/* Over its share: back to the clock, with
				 * one more turn to prove itself. */
				if (rg.prot > prot_cap) {
					rg.state[i] = (uint8_t)(s & ~PS_PROT);
					rg.prot--;
				}
			} else if (s & PS_REF)
				rg.state[i] = s & (uint8_t)~PS_REF;
			else {
				rg.state[i] =
					(uint8_t)((s & ~PS_MASK) | PS_EVICT);
				v[n++] = i;
			}
		}
		i = clock_next(i);
	}
	rg.hand = i;
	*swept += scanned;
	return n;
}

static void pool_refused(int err)
{
	rg.refusals++;
	/* Flushed refaults leave zspages sparse: compact before giving up. */
	if (!rg.compacted_since_refusal || rg.warned_pool_full)
		return;
	rg.warned_pool_full = 1;
	STAT_SET(budget_exceeded, 1);
	tm_log("tmem: the compressed pool cannot take more pages (%s); "
	       "keeping them resident: memory may grow past --ram\n",
	       err == -ENOSPC ? "pool limit --pool-max reached"
			      : "out of memory");
}

/*
 * Group sorted victims into spans for write protection: a span may hold
 * pages that are not victims (hot, or not present), because on this kind
 * of machine every protection change costs a TLB shootdown to the other
 * CPUs (measured: tens of us on the 2-vCPU VM), while changing one more
 * PTE costs ~1-2 us.  A hot page caught in a span and written during the
 * batch takes a stray WP fault, which the handler lifts (serve()).
 */
static size_t victim_spans(const size_t *v, size_t n, size_t *first,
			   size_t *count)
{
	size_t m = 0;

	for (size_t k = 0; k < n; k++) {
		if (m && v[k] > first[m - 1] &&
		    v[k] - (first[m - 1] + count[m - 1]) < RG_SPAN_GAP &&
		    (v[k] < rg.arena_pages) ==
			    (first[m - 1] < rg.arena_pages)) {
			count[m - 1] = v[k] + 1 - first[m - 1];
			continue;
		}
		first[m] = v[k];
		count[m++] = 1;
	}
	return m;
}

/* Protect or unprotect the spans; a span that fails (a range tmem did
 * not register, e.g. a program's MAP_FIXED inside the region) falls back
 * to the victims' own runs. */
static void spans_wp(const size_t *v, size_t n, const size_t *first,
		     const size_t *count, size_t m, int wp)
{
	for (size_t j = 0; j < m; j++) {
		if (!uffd_wp(rg.uffd, page_addr(first[j]),
			     count[j] << TM_PAGE_SHIFT, wp))
			continue;
		for (size_t k = 0; k < n; k++)
			if (v[k] >= first[j] && v[k] < first[j] + count[j])
				uffd_wp(rg.uffd, page_addr(v[k]), TM_PAGE_SIZE,
					wp);
	}
}

/*
 * Drop the stored victims (ok[k] == 1), without rg.lock: one
 * process_madvise() over all their runs, so the kernel flushes the TLBs
 * once for the batch (one madvise() per run costs a shootdown each: ~50 us
 * a page measured here with the program running on the other CPU, against
 * ~1 us a page batched: bench/madvise-batch).  Faults go on meanwhile: a victim stays EVICT
 * until settle_batch(), and a missing fault on an EVICT page is served from
 * the pool, which already holds it.  A page the handler has installed
 * again is never dropped twice: only a failed or partial call falls back,
 * under rg.lock, to madvise() over the pages still EVICT (kernels before
 * 6.13 refuse MADV_DONTNEED in process_madvise()).  A run that cannot be
 * dropped (mlocked) gets ok[k] = 2.
 */
static void drop_stored(const size_t *v, uint8_t *ok, size_t n)
{
	struct iovec iov[RG_BATCH];
	size_t runs = 0, bytes = 0, k = 0;

	while (k < n) {
		size_t c = 1;

		if (ok[k] != 1) {
			k++;
			continue;
		}
		while (k + c < n && ok[k + c] == 1 && v[k + c] == v[k] + c)
			c++;
		iov[runs].iov_base = page_addr(v[k]);
		iov[runs++].iov_len = c << TM_PAGE_SHIFT;
		bytes += c << TM_PAGE_SHIFT;
		k += c;
	}
	if (!runs ||
	    (rg.pidfd != -1 && syscall(SYS_process_madvise, rg.pidfd, iov, runs,
				       MADV_DONTNEED, 0) == (long)bytes))
		return;
	pthread_mutex_lock(&rg.lock);
	for (k = 0; k < n; k++) {
		size_t c = 1;

		if (ok[k] != 1 || (rg.state[v[k]] & PS_MASK) != PS_EVICT)
			continue;
		while (k + c < n && ok[k + c] == 1 && v[k + c] == v[k] + c &&
		       (rg.state[v[k + c]] & PS_MASK) == PS_EVICT)
			c++;
		if (sys_madvise(page_addr(v[k]), c << TM_PAGE_SHIFT,
				MADV_DONTNEED))
			memset(ok + k, 2, c);
		k += c - 1;
	}
	pthread_mutex_unlock(&rg.lock);
}

/*
 * After the drop, under rg.lock: stored and dropped victims become POOL
 * (or stay RES if a fault brought them back already); victims the pool
 * refused stay RES; undroppable ones are flushed from the pool and pinned.
 * Returns the pages that left the region.
 */
static size_t settle_batch(const size_t *v, const uint8_t *ok, size_t n)
{
	size_t dropped = 0;

	for (size_t k = 0; k < n; k++) {
		size_t i = v[k];
		uint8_t s = rg.state[i];

		if (ok[k] == 2) {
			tmem_flush_page(rg.pool, RG_POOL_OID, (uint32_t)i);
			rg.state[i] =
				(uint8_t)((s & ~PS_MASK) | PS_RES | PS_PIN);
		} else if (!ok[k]) {
			rg.state[i] = (uint8_t)((s & ~PS_MASK) | PS_RES);
		} else {
			if ((s & PS_MASK) == PS_EVICT)
				rg.state[i] =
					(uint8_t)((s & ~PS_MASK & ~PS_REF) |
						  PS_POOL);
			rg.evicted_at[i] = ++rg.evictions;
			dropped++;
		}
	}
	STAT_ADD(pool_pages, dropped);
	STAT_ADD(region_resident_pages, (uint64_t)0 - dropped);
	return dropped;
}

/* One batch: returns the number of pages dropped from the region. */
static size_t evict_batch(void)
{
	static size_t v[RG_BATCH], sfirst[RG_BATCH], scount[RG_BATCH];
	static uint8_t ok[RG_BATCH];
	size_t n, m, dropped = 0;
	uint64_t t0 = now_ns();

	pthread_mutex_lock(&rg.batch);
	/* A window of hot or already pooled pages is not "nothing to evict":
	 * only two whole turns of the clock without a victim are (the first
	 * turn clears the reference bits).  The lock is let go between
	 * windows so faults are served meanwhile. */
	for (size_t swept = 0;;) {
		size_t turn;

		pthread_mutex_lock(&rg.lock);
		n = pick_victims(v, &swept);
		turn = rg.hi[0] - rg.lo[0] + rg.hi[1] - rg.lo[1];
		pthread_mutex_unlock(&rg.lock);
		if (n || swept > 2 * turn + 1)
			break;
	}
	if (!n)
		goto out_batch;
	m = victim_spans(v, n, sfirst, scount);
	spans_wp(v, n, sfirst, scount, m, 1);
	for (size_t k = 0; k < n; k++) {
		int err = tmem_put_page(rg.pool, RG_POOL_OID, (uint32_t)v[k],
					page_addr(v[k]));

		ok[k] = !err;
		if (err) {
			pool_refused(err);
			STAT_ADD(evict_kept, 1);
		}
	}
	drop_stored(v, ok, n);
	pthread_mutex_lock(&rg.lock);
	dropped = settle_batch(v, ok, n);
	pthread_mutex_unlock(&rg.lock);
	/* Unprotect last: it wakes writers, which now refault from the pool. */
	spans_wp(v, n, sfirst, scount, m, 0);
	STAT_ADD(pages_compressed, dropped);
	STAT_ADD(evict_batches, 1);
out_batch:
	pthread_mutex_unlock(&rg.batch);
	STAT_ADD(evict_ns, now_ns() - t0);
	return dropped;
}

static void update_pool_stats(void)
{
	struct tmem_stats ps = { .size = sizeof(ps) };
	size_t meta = 0;

	if (tmem_stats_get(rg.pool, &ps))
		return;
	/* Compaction walks every class: a few times a second at most. */
	if ((rg.refusals ||
	     ps.pool_bytes > ps.compressed_bytes / 2 * 3 + (4u << 20)) &&
	    now_ns() - rg.last_compact > 250000000ull) {
		rg.last_compact = now_ns();
		tmem_pool_compact(rg.pool, NULL);
		rg.compacted_since_refusal = rg.refusals > 0;
		rg.refusals = 0;
		if (tmem_stats_get(rg.pool, &ps))
			return;
	}
	STAT_SET(pool_bytes, ps.pool_bytes);
	/* The ratio at the pool's peak is what `--stats` reports: at exit
	 * the program has freed most of its memory, and so the pool. */
	if (ps.pool_bytes + ps.metadata_bytes > rg.st->pool_peak_bytes) {
		STAT_SET(pool_peak_bytes, ps.pool_bytes + ps.metadata_bytes);
		STAT_SET(peak_orig_bytes, ps.orig_bytes);
		STAT_SET(peak_compressed_bytes, ps.compressed_bytes);
	}
	STAT_SET(pool_metadata_bytes, ps.metadata_bytes);
	STAT_SET(compressed_bytes, ps.compressed_bytes);
	STAT_SET(samefill_pages, ps.samefill_puts);
	/* a state byte and an eviction stamp per page of the clock's domain */
	for (int a = 0; a < 2; a++)
		meta += (rg.hi[a] - rg.lo[a]) * (1 + sizeof(*rg.evicted_at));
	STAT_SET(shim_metadata_bytes,
		 (meta + TM_PAGE_SIZE - 1) & ~(TM_PAGE_SIZE - 1));
}

static void *evictor_main(void *arg)
{
	(void)arg;
	rg_internal = 1;
	prctl(PR_SET_NAME, "tmem-evict");
	for (;;) {
		struct timespec ts = deadline_in(20000000);

		pthread_mutex_lock(&rg.tmu);
		if (!rg.kicked)
			pthread_cond_timedwait(&rg.kick, &rg.tmu, &ts);
		rg.kicked = 0;
		pthread_mutex_unlock(&rg.tmu);

		update_pool_stats();
		if (read_rss() <= rg.high)
			continue;
		while (read_rss() > rg.low) {
			size_t got = evict_batch();

			if (rg.refusals)
				update_pool_stats();

			pthread_mutex_lock(&rg.tmu);
			pthread_cond_broadcast(&rg.progress);
			pthread_mutex_unlock(&rg.tmu);
			if (!got) {
				if (!rg.warned_budget && !rg.warned_pool_full) {
					rg.warned_budget = 1;
					tm_log("tmem: cannot hold the budget: "
					       "the rest of the resident "
					       "memory is not evictable\n");
				}
				STAT_SET(budget_exceeded, 1);
				atomic_store(&rg.stuck, 1);
				/* Retrying at once would only write-protect
				 * and refuse the same pages again. */
				usleep(rg.warned_pool_full ? 500000 : 100000);
				break;
			}
			atomic_store(&rg.stuck, 0);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Program calls: discard, protect, move                               */
/* ------------------------------------------------------------------ */

/*
 * Freed memory: it reads back as zeroes and its pool copies are dropped,
 * never restored.  Chunked, so the fault handler is never held long.
 */
void rg_discard(void *addr, size_t len)
{
	size_t first = page_index(addr);
	size_t end = page_index((char *)addr + len + TM_PAGE_SIZE - 1);

	pthread_mutex_lock(&rg.batch);
	while (first < end) {
		size_t stop = first + RG_DISCARD_CHUNK < end
				      ? first + RG_DISCARD_CHUNK
				      : end;
		uint64_t res = 0, pool = 0;

		pthread_mutex_lock(&rg.lock);
		for (size_t i = first; i < stop; i++) {
			uint8_t s = rg.state[i];

			if ((s & PS_MASK) == PS_POOL) {
				tmem_flush_page(rg.pool, RG_POOL_OID,
						(uint32_t)i);
				pool++;
			} else if ((s & PS_MASK) == PS_RES) {
				res++;
			}
			if (s & PS_PROT)
				rg.prot--;
			rg.state[i] = s & PS_NOACC;
		}
		sys_madvise(page_addr(first), (stop - first) << TM_PAGE_SHIFT,
			    MADV_DONTNEED);
		pthread_mutex_unlock(&rg.lock);
		STAT_ADD(discarded_pages, res + pool);
		STAT_ADD(pool_pages, (uint64_t)0 - pool);
		STAT_ADD(region_resident_pages, (uint64_t)0 - res);
		first = stop;
	}
	pthread_mutex_unlock(&rg.batch);
}

/* mprotect inside the region: PROT_NONE pages must never be read. */
void rg_protect(void *addr, size_t len, int prot)
{
	size_t first = page_index(addr);
	size_t end = page_index((char *)addr + len + TM_PAGE_SIZE - 1);

	pthread_mutex_lock(&rg.batch);
	pthread_mutex_lock(&rg.lock);
	for (size_t i = first; i < end; i++) {
		if (prot == PROT_NONE)
			rg.state[i] |= PS_NOACC;
		else
			rg.state[i] &= (uint8_t)~PS_NOACC;
	}
	pthread_mutex_unlock(&rg.lock);
	pthread_mutex_unlock(&rg.batch);
}

/*
 * Move the contents of [src, src+len) to [dst, dst+len), both in the
 * region, dst not populated (freshly carved).  Resident pages are copied
 * in with UFFDIO_COPY, pooled pages are re-keyed in the pool, then src is
 * discarded.  Used by mremap; costs a copy per resident page.
 */
int rg_move(void *dst, void *src, size_t len)
{
	size_t s0 = page_index(src), d0 = page_index(dst);
	size_t n = len >> TM_PAGE_SHIFT;
	int err = 0;

	pthread_mutex_lock(&rg.batch);
	for (size_t k = 0; k < n && !err; k++) {
		uint8_t s;

		pthread_mutex_lock(&rg.lock);
		s = rg.state[s0 + k];
		switch (s & PS_MASK) {
		case PS_RES:
			err = uffd_copy(rg.uffd, page_addr(d0 + k),
					page_addr(s0 + k), TM_PAGE_SIZE, 1);
			if (err == -EEXIST)
				err = 0;
			rg.state[d0 + k] = PS_RES;
			touch_bounds(d0 + k);
			STAT_ADD(region_resident_pages, 1);
			break;
		case PS_POOL:
			err = tmem_get_page(rg.pool, RG_POOL_OID,
					    (uint32_t)(s0 + k), staging);
			if (!err)
				err = tmem_put_page(rg.pool, RG_POOL_OID,
						    (uint32_t)(d0 + k),
						    staging);
			if (!err) {
				rg.state[d0 + k] = PS_POOL;
				touch_bounds(d0 + k);
				STAT_ADD(pool_pages, 1);
			} else {
				/* Pool full: bring the copy in resident. */
				err = uffd_copy(rg.uffd, page_addr(d0 + k),
						staging, TM_PAGE_SIZE, 1);
				rg.state[d0 + k] = PS_RES;
				touch_bounds(d0 + k);
				STAT_ADD(region_resident_pages, 1);
			}
			break;
		default:
			break;
		}
		pthread_mutex_unlock(&rg.lock);
	}
	pthread_mutex_unlock(&rg.batch);
	if (!err)
		rg_discard(src, len);
	return err;
}

/* ------------------------------------------------------------------ */
/* Setup, stats page, fork                                             */
/* ------------------------------------------------------------------ */

/*
 * Run the pool's paths once, so every lazily bound function they call
 * (liblz4 is not linked -z now) is resolved before the handler threads
 * depend on it: a symbol lookup could otherwise read managed memory.
 */
static void warm_up(void)
{
	struct tmem_stats ps = { .size = sizeof(ps) };
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t k = 0; k < TM_PAGE_SIZE; k++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		staging[k] = (unsigned char)(k < 2048 ? k % 7 : x);
	}
	for (int round = 0; round < 2; round++) {
		if (!tmem_put_page(rg.pool, RG_POOL_OID + 1, 0, staging))
			tmem_get_page(rg.pool, RG_POOL_OID + 1, 0, staging);
		tmem_flush_page(rg.pool, RG_POOL_OID + 1, 0);
		memset(staging, 0, sizeof(staging));
	}
	tmem_stats_get(rg.pool, &ps);
}

/*
 * What names this process to process_madvise(): PIDFD_SELF (6.14+, no
 * descriptor the program could close or reuse), else a pidfd of our own,
 * else -1 (drop_stored() then uses madvise()).  Probed on a scratch page.
 */
static int self_pidfd(void)
{
	char *p = sys_mmap(NULL, TM_PAGE_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iovec iov = { .iov_base = p, .iov_len = TM_PAGE_SIZE };
	int fd = RG_PIDFD_SELF;

	if (p == MAP_FAILED)
		return -1;
	if (syscall(SYS_process_madvise, fd, &iov, 1, MADV_DONTNEED, 0) !=
	    TM_PAGE_SIZE) {
		fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		if (fd >= 0 && syscall(SYS_process_madvise, fd, &iov, 1,
				       MADV_DONTNEED, 0) != TM_PAGE_SIZE) {
			close(fd);
			fd = -1;
		}
	}
	sys_munmap(p, TM_PAGE_SIZE);
	return fd;
}

static int start_thread_arg(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int err;

	/* tmem's threads take no signals: a program handler running on
	 * them could touch managed memory and wait on itself. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = -pthread_create(&t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

static int start_thread(void *(*fn)(void *))
{
	return start_thread_arg(fn, NULL);
}

/*
 * One fault handler per CPU, pinned: a faulting thread wakes every reader
 * of the userfaultfd, and the one on its own CPU runs as soon as it
 * sleeps, which costs ~5 us here against ~17 us (p50) to wake a handler
 * on the other vCPU.  One unpinned handler on a single-CPU process.
 */
static int start_handlers(void)
{
	cpu_set_t set;
	int n = 0, err = 0;

	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) < 2 ||
	    CPU_COUNT(&set) > RG_MAX_HANDLERS)
		return start_thread(handler_main);
	for (long c = 0; c < CPU_SETSIZE && !err; c++)
		if (CPU_ISSET(c, &set) &&
		    !(err = start_thread_arg(handler_main, (void *)(c + 1))))
			n++;
	return n ? 0 : err;
}

static void init_sync(void)
{
	pthread_mutex_init(&rg.lock, NULL);
	pthread_mutex_init(&rg.batch, NULL);
	pthread_mutex_init(&rg.tmu, NULL);
	pthread_cond_init(&rg.kick, NULL);
	pthread_cond_init(&rg.progress, NULL);
	rg.kicked = 0;
}

static void set_watermarks(void)
{
	uint64_t gap = rg.ram / 16 > (2u << 20) ? rg.ram / 16 : (2u << 20);
	uint64_t hyst = rg.ram / 32 > (1u << 20) ? rg.ram / 32 : (1u << 20);

	rg.high = rg.ram - gap;
	/* faults wait only when the evictor is this far behind (the slack) */
	rg.hard =
		rg.ram + (rg.ram / 16 < (4u << 20) ? rg.ram / 16 : (4u << 20));
	rg.low = rg.high - hyst;
}

int rg_init(const struct rg_config *cfg, void **arena, size_t *arena_len,
	    void **carve, size_t *carve_len)
{
	struct tmem_pool_params pp;
	size_t len = (size_t)cfg->region, table;
	enum uffd_how how;
	char *raw;
	int err;

	if (len >> TM_PAGE_SHIFT > RG_MAX_PAGES)
		len = (size_t)(RG_MAX_PAGES << TM_PAGE_SHIFT);
	len &= ~(RG_ALIGN - 1);
	rg.ram = cfg->ram;
	rg.pool_max = cfg->pool_max;
	rg.top = cfg->top;
	memcpy(rg.compressor, cfg->compressor, sizeof(rg.compressor));
	set_watermarks();
	init_sync();

	err = uffd_open(&rg.uffd, &how);
	if (err)
		return err;
	raw = sys_mmap(NULL, len + RG_ALIGN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED) {
		err = -errno;
		goto close_uffd;
	}
	rg.base = (char *)(((uintptr_t)raw + RG_ALIGN - 1) & ~(RG_ALIGN - 1));
	rg.npages = len >> TM_PAGE_SHIFT;
	rg.arena_pages = rg.npages / 2;
	table = (rg.npages + TM_PAGE_SIZE - 1) & ~(TM_PAGE_SIZE - 1);
	rg.state = sys_mmap(NULL, table, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (rg.state == MAP_FAILED) {
		err = -errno;
		goto unmap_region;
	}
	rg.evicted_at = sys_mmap(
		NULL, table * sizeof(*rg.evicted_at), PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (rg.evicted_at == MAP_FAILED) {
		err = -errno;
		goto unmap_table;
	}
	/* THP would make one fault populate 2 MiB behind our back. */
	sys_madvise(rg.base, len, MADV_NOHUGEPAGE);
	err = uffd_register(rg.uffd, rg.base, len);
	if (err)
		goto unmap_table;

	tmem_params_init(&pp);
	pp.pool_max = cfg->pool_max;
	if (cfg->compressor[0]) {
		err = tmem_params_set(&pp, "compressor", cfg->compressor);
		if (err)
			goto unmap_table;
	}
	err = tmem_pool_create(&pp, &rg.pool);
	if (err)
		goto unmap_table;
	rg.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (rg.statm_fd < 0) {
		err = -errno;
		goto destroy_pool;
	}
	rg.pidfd = self_pidfd();
	rg.st = stats_page_open(&rg.st_local, rg.compressor, rg.ram,
				rg.pool_max);
	read_rss();
	warm_up();
	err = start_handlers();
	if (!err)
		err = start_thread(evictor_main);
	if (err)
		goto destroy_pool; /* a started handler thread is harmless */
	*arena = rg.base;
	*arena_len = rg.arena_pages << TM_PAGE_SHIFT;
	*carve = page_addr(rg.arena_pages);
	*carve_len = (rg.npages - rg.arena_pages) << TM_PAGE_SHIFT;
	return 0;

destroy_pool:
	tmem_pool_destroy(rg.pool);
	rg.pool = NULL;
unmap_table:
	if (rg.evicted_at != MAP_FAILED)
		sys_munmap(rg.evicted_at, table * sizeof(*rg.evicted_at));
	sys_munmap(rg.state, table);
unmap_region:
	sys_munmap(raw, len + RG_ALIGN);
	rg.base = NULL;
close_uffd:
	close(rg.uffd);
	return err;
}

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
}

void rg_atfork_parent(void)
{
	if (!rg.base)
		return;
	pthread_mutex_unlock(&rg.lock);
	pthread_mutex_unlock(&rg.batch);
}

/* Without a handler the child would read dropped pages as zeroes. */
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

int rg_atfork_child(void)
{
	size_t len = rg.npages << TM_PAGE_SHIFT;
	uint64_t resident, pooled;
	enum uffd_how how;
	int fd, err;

	if (!rg.base)
		return 0;
	init_sync();
	close(rg.uffd);
	close(rg.statm_fd);
	if (rg.pidfd >= 0)
		close(rg.pidfd);
	rg.pidfd = self_pidfd();
	rg.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	resident = rg.st->region_resident_pages;
	pooled = rg.st->pool_pages;
	stats_page_close(rg.st, &rg.st_local);
	rg.top = 0;
	rg.st = stats_page_open(&rg.st_local, rg.compressor, rg.ram,
				rg.pool_max);
	rg.st->region_resident_pages = resident;
	rg.st->pool_pages = pooled;
	atomic_store(&rg.stuck, 0);
	err = uffd_open(&fd, &how);
	if (!err) {
		rg.uffd = fd;
		err = uffd_register(fd, rg.base, len);
	}
	if (!err)
		err = start_handlers();
	if (!err)
		err = start_thread(evictor_main);
	if (err) {
		tm_log("tmem: forked child cannot manage memory (%d): "
		       "bringing all its pages back in\n",
		       err);
		restore_all();
		rg.base = NULL;
	}
	return err;
}

/* The program exits: remove the stats page unless `tmem run` reads it. */
void rg_exit(void)
{
	if (!rg.base || rg.top || rg.st == &rg.st_local)
		return;
	stats_page_remove();
}
