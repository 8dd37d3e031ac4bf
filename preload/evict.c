// SPDX-License-Identifier: MIT
/*
 * evict.c - the evictor thread: keeps the resident set under the budget
 * by a CLOCK over touched pages (reference bit from refaults, a protected
 * set from the refault distance), write-protecting each batch in spans,
 * storing it into the pool, dropping it with one process_madvise() and
 * settling page states under rg.lock.  Why each step is built this way is
 * at the step; the region's design and lock order are in region.c.
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

		if ((s & PS_MASK) == PS_RES && !(s & (PS_NOACC | PS_PIN)) &&
		    !pins_busy(i)) {
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
static void spans_wp(const size_t *v, uint8_t *ok, size_t n,
		     const size_t *first, const size_t *count, size_t m, int wp)
{
	for (size_t j = 0; j < m; j++) {
		if (!uffd_wp(rg.uffd, page_addr(first[j]),
			     count[j] << TM_PAGE_SHIFT, wp))
			continue;
		for (size_t k = 0; k < n; k++)
			if (v[k] >= first[j] && v[k] < first[j] + count[j] &&
			    uffd_wp(rg.uffd, page_addr(v[k]), TM_PAGE_SIZE,
				    wp) &&
			    wp)
				ok[k] = 3; /* a writer could not be stopped */
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
 * refused stay RES; undroppable ones (mlocked) and ones whose write
 * protection failed (ok 3) are flushed from the pool if stored, and pinned.
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
		} else if (ok[k] == 3) {
			/* Not write-protectable, so never safe to evict. */
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
	memset(ok, 1, n);
	spans_wp(v, ok, n, sfirst, scount, m, 1);
	for (size_t k = 0; k < n; k++) {
		int err;

		if (ok[k] == 3) {
			STAT_ADD(evict_kept, 1);
			continue;
		}
		err = tmem_put_page(rg.pool, RG_POOL_OID, (uint32_t)v[k],
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
	spans_wp(v, ok, n, sfirst, scount, m, 0);
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

	rg.last_stats = now_ns();
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
	STAT_SET(writebacks, ps.wb_written_pages);
	STAT_SET(backing_pages, ps.wb_pages);
	STAT_SET(backing_file_bytes, ps.wb_file_bytes);
	STAT_SET(backing_bytes_written, ps.wb_bytes_written);
	STAT_SET(backing_read_pages, ps.wb_read_pages);
	STAT_SET(backing_waits, ps.wb_waits);
	STAT_SET(backing_write_errors, ps.wb_write_errors);
	STAT_SET(backing_read_errors,
		 ps.wb_read_errors + ps.wb_checksum_errors);
	/* a state byte and an eviction stamp per page of the clock's domain */
	for (int a = 0; a < 2; a++)
		meta += (rg.hi[a] - rg.lo[a]) * (1 + sizeof(*rg.evicted_at));
	STAT_SET(shim_metadata_bytes,
		 (meta + TM_PAGE_SIZE - 1) & ~(TM_PAGE_SIZE - 1));
}

/*
 * Said once, with the figures a user needs to pick a budget: what is
 * resident, what of it tmem could evict, and the rest (program text and
 * libraries, stacks, glibc's heap, tmem's pool and tables), which no
 * budget below it can hold.
 */
static void budget_message(void)
{
	uint64_t rss = rg_read_rss() >> 20;
	uint64_t managed =
		(rg.st->region_resident_pages << TM_PAGE_SHIFT) >> 20;
	uint64_t pool = (rg.st->pool_bytes + rg.st->pool_metadata_bytes) >> 20;

	tm_log("tmem: cannot hold the budget (--ram %llu MiB; eviction aims "
	       "at %llu MiB): %llu MiB resident, of which %llu MiB is managed "
	       "memory tmem cannot evict now (hot, pinned or mlocked) and "
	       "%llu MiB the pool; the rest (program text, libraries, stacks, "
	       "unmanaged heap) is not evictable: a budget below about %llu "
	       "MiB cannot hold\n",
	       (unsigned long long)(rg.ram >> 20),
	       (unsigned long long)(rg.low >> 20), (unsigned long long)rss,
	       (unsigned long long)managed, (unsigned long long)pool,
	       (unsigned long long)(rss > managed ? rss - managed : rss) + 4);
}

/*
 * Nothing resident could be evicted, but the budget counts the pool too:
 * with a backing file, write the pool's coldest pages to it (and compact)
 * until the process is back under the low mark.  Without one,
 * tmem_pool_writeback() says -EINVAL and nothing changes.  Return whether
 * any page went to the file.
 */
static int shrink_pool(void)
{
	uint64_t rss = rg_read_rss(), n = 0;

	if (rss <= rg.low || tmem_pool_writeback(rg.pool, rss - rg.low, &n))
		return 0;
	update_pool_stats();
	return n > 0;
}

void *rg_evictor_main(void *arg)
{
	(void)arg;
	rg_thread_started();
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
		if (rg_read_rss() <= rg.high)
			continue;
		while (rg_read_rss() > rg.low) {
			size_t got;

			pins_scan();
			got = evict_batch();

			/* Also while eviction runs without a pause (a program
			 * streaming through more than the budget, with a backing
			 * file): the counters must not stay as they were when
			 * it began. */
			if (rg.refusals ||
			    now_ns() - rg.last_stats > RG_STATS_NS)
				update_pool_stats();

			pthread_mutex_lock(&rg.tmu);
			pthread_cond_broadcast(&rg.progress);
			pthread_mutex_unlock(&rg.tmu);
			if (!got && shrink_pool()) {
				atomic_store(&rg.stuck, 0);
				continue;
			}
			if (!got) {
				if (!rg.warned_budget && !rg.warned_pool_full) {
					rg.warned_budget = 1;
					budget_message();
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
