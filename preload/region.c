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
 *
 * Files: region.c (setup, budget, the program's discard/protect/move),
 * fault.c (fault service), evict.c (eviction), fork.c (fork children);
 * region.h holds what they share.
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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "region.h"
#include "uffd.h"

struct region rg;

int rg_contains(const void *addr, size_t len)
{
	const char *a = addr;

	return rg.base && a >= rg.base &&
	       a + len <= rg.base + (rg.npages << TM_PAGE_SHIFT);
}

/* ------------------------------------------------------------------ */
/* Budget                                                              */
/* ------------------------------------------------------------------ */

uint64_t rg_read_rss(void)
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

uint64_t rg_rss_estimate(void)
{
	return atomic_load_explicit(&rg.rss, memory_order_relaxed) +
	       (atomic_load_explicit(&rg.since, memory_order_relaxed)
		<< TM_PAGE_SHIFT);
}

void rg_kick_evictor(void)
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
void rg_throttle(void)
{
	uint64_t prev, cur;
	int rounds = 0;

	if (rg_rss_estimate() <= rg.hard || atomic_load(&rg.stuck))
		return;
	prev = rg_read_rss();
	while (prev > rg.hard && !atomic_load(&rg.stuck) && rounds++ < 50) {
		struct timespec ts = deadline_in(5000000);

		pthread_mutex_lock(&rg.tmu);
		rg.kicked = 1;
		pthread_cond_signal(&rg.kick);
		pthread_cond_timedwait(&rg.progress, &rg.tmu, &ts);
		pthread_mutex_unlock(&rg.tmu);
		cur = rg_read_rss();
		if (cur >= prev)
			break;
		prev = cur;
	}
}

/* ------------------------------------------------------------------ */
/* Program calls: discard, protect, move                               */
/* ------------------------------------------------------------------ */

/*
 * The part of [*first, *end) in area @a's touched bounds: pages outside
 * them were never faulted in nor flagged, so their state is all zero and
 * nothing needs doing there (a 100 GiB PROT_NONE reservation costs no
 * state table writes).  Returns false when the part is empty.
 */
static bool clip_touched(int a, size_t *first, size_t *end)
{
	if (rg.lo[a] == rg.hi[a])
		return false;
	if (*first < rg.lo[a])
		*first = rg.lo[a];
	if (*end > rg.hi[a])
		*end = rg.hi[a];
	return *first < *end;
}

/* Give back the state and stamp table pages wholly inside [first, end),
 * whose entries are all zero now. */
static void release_tables(size_t first, size_t end)
{
	uintptr_t s0 = ((uintptr_t)(rg.state + first) + TM_PAGE_SIZE - 1) &
		       ~(uintptr_t)(TM_PAGE_SIZE - 1);
	uintptr_t s1 =
		(uintptr_t)(rg.state + end) & ~(uintptr_t)(TM_PAGE_SIZE - 1);
	uintptr_t e0 = ((uintptr_t)(rg.evicted_at + first) + TM_PAGE_SIZE - 1) &
		       ~(uintptr_t)(TM_PAGE_SIZE - 1);
	uintptr_t e1 = (uintptr_t)(rg.evicted_at + end) &
		       ~(uintptr_t)(TM_PAGE_SIZE - 1);

	if (s1 > s0)
		sys_madvise((void *)s0, s1 - s0, MADV_DONTNEED);
	if (e1 > e0)
		sys_madvise((void *)e0, e1 - e0, MADV_DONTNEED);
}

/*
 * The pool cannot give back page @page, which it accepted: a read error
 * or a record failing its checksum on the backing file (-EIO), or a bug.
 * Nothing correct can be given to the program, and wrong bytes never
 * are: the process ends here, as the kernel ends one whose swap-in fails.
 */
void rg_lost_page(const void *page, int err)
{
	if (err == -EIO)
		tm_log("tmem: fatal: page %p could not be read back from the "
		       "backing file (read error, or a record that failed its "
		       "checksum): ending the process rather than giving it "
		       "wrong bytes\n",
		       page);
	else
		tm_log("tmem: fatal: page %p could not be read back from the "
		       "pool (%d)\n",
		       page, err);
	abort();
}

/*
 * Forget page @i's data: its pool copy flushed (counted in @pool), a
 * resident page counted in @res (the caller drops it), its state reset
 * to its @keep flags.  Called with rg.lock held.
 */
void rg_drop_page(size_t i, uint8_t keep, uint64_t *res, uint64_t *pool)
{
	uint8_t s = rg.state[i];

	if ((s & PS_MASK) == PS_POOL) {
		tmem_flush_page(rg.pool, RG_POOL_OID, (uint32_t)i);
		(*pool)++;
	} else if ((s & PS_MASK) == PS_RES) {
		(*res)++;
	}
	if (s & PS_PROT)
		rg.prot--;
	rg.state[i] = s & keep;
}

/*
 * Drop the pages of [first, end): pool copies flushed, present pages
 * dropped, states reset to their @keep flags.  Chunked, so the fault
 * handler is never held long.  Called with rg.batch held.
 */
static void drop_range(size_t first, size_t end, uint8_t keep)
{
	while (first < end) {
		size_t stop = first + RG_DISCARD_CHUNK < end
				      ? first + RG_DISCARD_CHUNK
				      : end;
		uint64_t res = 0, pool = 0;

		pthread_mutex_lock(&rg.lock);
		for (size_t i = first; i < stop; i++)
			if (rg.state[i])
				rg_drop_page(i, keep, &res, &pool);
		/* Only a page marked RES can be present (ZERO pages have no
		 * PTE, or are not tmem's). */
		if (res)
			sys_madvise(page_addr(first),
				    (stop - first) << TM_PAGE_SHIFT,
				    MADV_DONTNEED);
		pthread_mutex_unlock(&rg.lock);
		STAT_ADD(discarded_pages, res + pool);
		STAT_ADD(pool_pages, (uint64_t)0 - pool);
		STAT_ADD(region_resident_pages, (uint64_t)0 - res);
		first = stop;
	}
}

static void discard_keep(void *addr, size_t len, uint8_t keep)
{
	size_t first = page_index(addr);
	size_t end = page_index((char *)addr + len + TM_PAGE_SIZE - 1);

	pthread_mutex_lock(&rg.batch);
	for (int a = 0; a < 2; a++) {
		size_t f = first, e = end;

		if (clip_touched(a, &f, &e))
			drop_range(f, e, keep);
	}
	if (!keep) {
		pthread_mutex_lock(&rg.lock);
		release_tables(first, end);
		pthread_mutex_unlock(&rg.lock);
	}
	pthread_mutex_unlock(&rg.batch);
}

/*
 * Freed memory: it reads back as zeroes and its pool copies are dropped,
 * never restored.  The mapping's own flags (PROT_NONE, fork advice) stay.
 */
void rg_discard(void *addr, size_t len)
{
	discard_keep(addr, len, PS_KEEP);
}

/* The mapping there is gone or replaced: nothing of it is kept. */
void rg_forget(void *addr, size_t len)
{
	discard_keep(addr, len, 0);
}

/*
 * A fresh anonymous private mapping now covers [addr, addr+len) (the
 * program's MAP_FIXED, or the shim's own after munmap): register it, as
 * the one it replaced was, or it would be served by the kernel and never
 * evicted.  Its states must have been forgotten first.
 */
int rg_adopt(void *addr, size_t len)
{
	sys_madvise(addr, len, MADV_NOHUGEPAGE);
	return uffd_register(rg.uffd, addr, len);
}

/* A mapping tmem does not manage now covers [addr, addr+len): marked so
 * that nothing here treats its pages as tmem's (states forgotten). */
void rg_foreign(void *addr, size_t len)
{
	size_t first = page_index(addr);
	size_t end = page_index((char *)addr + len + TM_PAGE_SIZE - 1);

	pthread_mutex_lock(&rg.lock);
	touch_bounds(first);
	touch_bounds(end - 1);
	for (size_t i = first; i < end; i++)
		rg.state[i] = PS_FOREIGN;
	pthread_mutex_unlock(&rg.lock);
}

static bool is_foreign(uint8_t s)
{
	return s == PS_FOREIGN;
}

static bool is_managed(uint8_t s)
{
	return (s & PS_MASK) != PS_ZERO;
}

/* Whether any page state of [addr, addr+len) satisfies @pred. */
static bool any_page(const void *addr, size_t len, bool (*pred)(uint8_t))
{
	size_t first = page_index(addr);
	size_t end = page_index((const char *)addr + len + TM_PAGE_SIZE - 1);
	bool found = false;

	pthread_mutex_lock(&rg.lock);
	for (int a = 0; a < 2 && !found; a++) {
		size_t f = first, e = end;

		if (!clip_touched(a, &f, &e))
			continue;
		for (size_t i = f; i < e && !found; i++)
			found = pred(rg.state[i]);
	}
	pthread_mutex_unlock(&rg.lock);
	return found;
}

/* Whether any page of [addr, addr+len) belongs to a foreign mapping. */
bool rg_has_foreign(const void *addr, size_t len)
{
	return any_page(addr, len, is_foreign);
}

/* Whether any page of [addr, addr+len) holds managed data (RES, POOL). */
bool rg_has_managed(const void *addr, size_t len)
{
	return any_page(addr, len, is_managed);
}

/* MADV_WIPEONFORK / KEEPONFORK / DONTFORK / DOFORK, for fork.c to apply
 * in the child (the kernel applies them to the pages it copies). */
void rg_fork_advice(void *addr, size_t len, int advice)
{
	size_t first = page_index(addr);
	size_t end = page_index((char *)addr + len + TM_PAGE_SIZE - 1);
	uint8_t set = 0, clear = 0;

	if (advice == MADV_WIPEONFORK)
		set = PS_WIPE;
	else if (advice == MADV_KEEPONFORK)
		clear = PS_WIPE;
	else if (advice == MADV_DONTFORK)
		set = PS_NOFORK;
	else if (advice == MADV_DOFORK)
		clear = PS_NOFORK;
	pthread_mutex_lock(&rg.batch);
	pthread_mutex_lock(&rg.lock);
	if (set) {
		touch_bounds(first);
		touch_bounds(end - 1);
	}
	for (int a = 0; a < 2; a++) {
		size_t f = first, e = end;

		if (!set && !clip_touched(a, &f, &e))
			continue;
		if (set && a == 1)
			break; /* the whole range, once */
		for (size_t i = f; i < e; i++)
			if (rg.state[i] != PS_FOREIGN)
				rg.state[i] =
					(uint8_t)((rg.state[i] | set) & ~clear);
	}
	pthread_mutex_unlock(&rg.lock);
	pthread_mutex_unlock(&rg.batch);
}

/*
 * mprotect inside the region: PROT_NONE pages must never be read by the
 * evictor.  Only pages that hold data (RES, POOL) need the flag: a ZERO
 * page is never picked, so large reservations write nothing.
 */
void rg_protect(void *addr, size_t len, int prot)
{
	size_t first = page_index(addr);
	size_t end = page_index((char *)addr + len + TM_PAGE_SIZE - 1);

	pthread_mutex_lock(&rg.batch);
	pthread_mutex_lock(&rg.lock);
	for (int a = 0; a < 2; a++) {
		size_t f = first, e = end;

		if (!clip_touched(a, &f, &e))
			continue;
		for (size_t i = f; i < e; i++) {
			uint8_t s = rg.state[i];

			if (prot == PROT_NONE && (s & PS_MASK) &&
			    !(s & PS_NOACC))
				rg.state[i] = s | PS_NOACC;
			else if (prot != PROT_NONE && (s & PS_NOACC))
				rg.state[i] = s & (uint8_t)~PS_NOACC;
		}
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
					    (uint32_t)(s0 + k), rg_staging);
			if (err)
				rg_lost_page(page_addr(s0 + k), err);
			err = tmem_put_page(rg.pool, RG_POOL_OID,
					    (uint32_t)(d0 + k), rg_staging);
			if (!err) {
				rg.state[d0 + k] = PS_POOL;
				touch_bounds(d0 + k);
				STAT_ADD(pool_pages, 1);
			} else {
				/* Pool full: bring the copy in resident. */
				err = uffd_copy(rg.uffd, page_addr(d0 + k),
						rg_staging, TM_PAGE_SIZE, 1);
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
		rg_staging[k] = (unsigned char)(k < 2048 ? k % 7 : x);
	}
	for (int round = 0; round < 2; round++) {
		if (!tmem_put_page(rg.pool, RG_POOL_OID + 1, 0, rg_staging))
			tmem_get_page(rg.pool, RG_POOL_OID + 1, 0, rg_staging);
		tmem_flush_page(rg.pool, RG_POOL_OID + 1, 0);
		memset(rg_staging, 0, sizeof(rg_staging));
	}
	tmem_stats_get(rg.pool, &ps);
}

/*
 * What names this process to process_madvise(): PIDFD_SELF (6.14+, no
 * descriptor the program could close or reuse), else a pidfd of our own,
 * else -1 (drop_stored() then uses madvise()).  Probed on a scratch page.
 */
int rg_self_pidfd(void)
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
			sys_close(fd);
			fd = -1;
		}
	}
	sys_munmap(p, TM_PAGE_SIZE);
	return fd >= 0 ? rg_high_fd(fd) : fd;
}

static int rg_start_thread_arg(void *(*fn)(void *), void *arg)
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

int rg_start_thread(void *(*fn)(void *))
{
	return rg_start_thread_arg(fn, NULL);
}

/*
 * One fault handler per CPU, pinned: a faulting thread wakes every reader
 * of the userfaultfd, and the one on its own CPU runs as soon as it
 * sleeps, which costs ~5 us here against ~17 us (p50) to wake a handler
 * on the other vCPU.  One unpinned handler on a single-CPU process.
 */
int rg_start_handlers(void)
{
	cpu_set_t set;
	int n = 0, err = 0;

	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) < 2 ||
	    CPU_COUNT(&set) > RG_MAX_HANDLERS) {
		err = rg_start_thread(rg_handler_main);
		return err ? err : 1;
	}
	for (long c = 0; c < CPU_SETSIZE && !err; c++)
		if (CPU_ISSET(c, &set) &&
		    !(err = rg_start_thread_arg(rg_handler_main,
						(void *)(c + 1))))
			n++;
	return n ? n : err;
}

/*
 * Called first thing by every tmem thread.  In a fork child a new thread
 * can fault on managed memory before it runs a line of ours (glibc's
 * start_thread reads the locale, which setlocale() put in the managed
 * heap): the forking thread serves faults until each has started, then
 * lets them go (fork.c).
 */
void rg_thread_started(void)
{
	atomic_fetch_add(&rg.started, 1);
	while (atomic_load(&rg.booting)) {
		struct timespec ts = { .tv_nsec = 100000 };

		nanosleep(&ts, NULL);
	}
}

/* Whether [start, end) overlaps the region's reservation or its tables:
 * tmem's own, which mlockall() must not populate. */
bool rg_own_mapping(uintptr_t start, uintptr_t end)
{
	uintptr_t r[3][2] = {
		{ (uintptr_t)rg.raw, (uintptr_t)rg.raw + rg.raw_len },
		{ (uintptr_t)rg.state, (uintptr_t)rg.state + rg.table_len },
		{ (uintptr_t)rg.evicted_at,
		  (uintptr_t)rg.evicted_at +
			  rg.table_len * sizeof(*rg.evicted_at) },
	};

	if (!rg.base)
		return false;
	for (int k = 0; k < 3; k++)
		if (start < r[k][1] && end > r[k][0])
			return true;
	return false;
}

/* Address space a region of @region bytes reserves with its tables. */
uint64_t rg_reserve_for(uint64_t region)
{
	uint64_t len = region & ~(uint64_t)(RG_ALIGN - 1);
	uint64_t table = ((len >> TM_PAGE_SHIFT) + TM_PAGE_SIZE - 1) &
			 ~(uint64_t)(TM_PAGE_SIZE - 1);

	return len + RG_ALIGN + table * (1 + sizeof(uint32_t));
}

/* Address space tmem reserves now: the region and its two tables. */
uint64_t rg_reserved_bytes(void)
{
	return rg.base ? rg_reserve_for(rg.npages << TM_PAGE_SHIFT) : 0;
}

bool rg_owns_fd(int fd)
{
	int c[RG_OWN_FDS], n;

	if (fd < 0 || !rg.base)
		return false;
	n = rg_own_fds(c);
	for (int k = 0; k < n; k++)
		if (c[k] == fd)
			return true;
	return false;
}

int rg_own_fds(int *fds)
{
	int n = 0, c[RG_OWN_FDS] = { rg.uffd, rg.statm_fd, rg.pidfd, -1, -1 };

	if (!rg.base)
		return 0;
	backing_fds(c + 3);
	for (int k = 0; k < RG_OWN_FDS; k++)
		if (c[k] >= 0) {
			int j = n++;

			while (j > 0 && fds[j - 1] > c[k]) {
				fds[j] = fds[j - 1];
				j--;
			}
			fds[j] = c[k];
		}
	return n;
}

/* dup2()/dup3() onto one of ours: ours moves first, the program gets the
 * number it asked for. */
void rg_move_fd_away(int fd)
{
	int *own[3] = { &rg.uffd, &rg.statm_fd, &rg.pidfd };

	if (!rg_owns_fd(fd))
		return;
	backing_move_fd_away(fd);
	for (int k = 0; k < 3; k++) {
		int nfd;

		if (*own[k] != fd)
			continue;
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 64);
		if (nfd >= 0)
			*own[k] = nfd; /* the old number is the program's now */
	}
}

/*
 * Move one of tmem's descriptors out of the program's way, to the top of
 * the first 1024 (where programs that close "all" descriptors by number
 * still reach, but which they rarely open themselves; the shim refuses to
 * close it, see process.c).  Not higher: a descriptor at a large number
 * makes the kernel grow the descriptor table to it.
 */
int rg_high_fd(int fd)
{
	struct rlimit rl;
	long top = 1024;
	int nfd;

	if (fd < 0)
		return fd;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)top)
		top = (long)rl.rlim_cur;
	if (top < 64)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, (int)(top - 32));
	if (nfd < 0)
		return fd;
	sys_close(fd);
	return nfd;
}

void rg_init_sync(void)
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
	size_t len = (size_t)cfg->region, table = 0;
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
	rg_init_sync();

	err = uffd_open(&rg.uffd, &how);
	if (err)
		return err;
	raw = sys_mmap(NULL, len + RG_ALIGN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED) {
		err = -errno;
		goto close_uffd;
	}
	rg.raw = raw;
	rg.raw_len = len + RG_ALIGN;
	rg.base = (char *)(((uintptr_t)raw + RG_ALIGN - 1) & ~(RG_ALIGN - 1));
	rg.npages = len >> TM_PAGE_SHIFT;
	rg.arena_pages = rg.npages / 2;
	table = (rg.npages + TM_PAGE_SIZE - 1) & ~(TM_PAGE_SIZE - 1);
	rg.table_len = table;
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
	rg.pidfd = rg_self_pidfd();
	rg.uffd = rg_high_fd(rg.uffd);
	rg.statm_fd = rg_high_fd(rg.statm_fd);
	rg.st = stats_page_open(&rg.st_local, rg.compressor, rg.ram,
				rg.pool_max);
	backing_config(cfg->backing);
	backing_setup();
	rg_read_rss();
	warm_up();
	err = rg_start_handlers();
	if (err > 0)
		err = rg_start_thread(rg_evictor_main);
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

/* The program exits: remove the stats page unless `tmem run` reads it. */
void rg_exit(void)
{
	if (!rg.base || rg.top || rg.st == &rg.st_local)
		return;
	stats_page_remove();
}
