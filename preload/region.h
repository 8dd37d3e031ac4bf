/* SPDX-License-Identifier: MIT */
/*
 * region.h - what the files of the managed region share: page states,
 * constants, the region's one struct (rg) and small helpers.  region.c
 * sets up and serves program calls, fault.c serves faults, evict.c
 * evicts, fork.c carries the region into fork children.  The design and
 * lock order are at the top of region.c.
 */
#ifndef TMEM_PRELOAD_REGION_H
#define TMEM_PRELOAD_REGION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"
#include "preload.h"

#define PS_ZERO 0
#define PS_RES 1
#define PS_POOL 2
#define PS_EVICT 3
#define PS_MASK 3
#define PS_REF 0x04
#define PS_NOACC 0x08
#define PS_PIN 0x10
#define PS_PROT 0x20
#define PS_WIPE 0x40 /* MADV_WIPEONFORK: a fork child sees zeroes */
#define PS_NOFORK 0x80 /* MADV_DONTFORK: not in a fork child at all */
/* Not tmem's: a file, shared or locked mapping the program placed with
 * MAP_FIXED.  PIN on a ZERO page means this and only this. */
#define PS_FOREIGN PS_PIN
/* What discarding a page keeps: flags of the mapping, not of the data. */
#define PS_KEEP (PS_NOACC | PS_WIPE | PS_NOFORK)

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
#define RG_STATS_NS 50000000ull /* pool counters on the stats page: this old */
_Static_assert(RG_BATCH >= 64 && RG_BATCH <= 512, "batch size");

struct region {
	char *base; /* region start, RG_ALIGN aligned */
	char *raw; /* the reservation it is in */
	size_t raw_len, table_len; /* its length; the state table's */
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
	_Atomic int started; /* tmem threads past their start (fork.c) */
	_Atomic int booting; /* they wait while the forking thread serves */
	int statm_fd;
	int pidfd; /* process_madvise() on ourselves: RG_PIDFD_SELF, an fd, -1 */
	struct tmem_run_stats *st;
	struct tmem_run_stats st_local; /* when no shm page could be had */
	int warned_pool_full, warned_budget;
	int compacted_since_refusal;
	uint64_t refusals, last_compact, last_stats;
	int top;
	char compressor[16];
	uint64_t pool_max;
};

extern struct region rg;

/* Decompressed pages to install (fault.c): one, or a read-ahead run.
 * Used only under rg.lock. */
extern unsigned char rg_staging[RG_READAHEAD * TM_PAGE_SIZE];

#define STAT_ADD(f, n)                                                         \
	atomic_fetch_add_explicit((_Atomic uint64_t *)&rg.st->f, (n),          \
				  memory_order_relaxed)
#define STAT_SET(f, v)                                                         \
	atomic_store_explicit((_Atomic uint64_t *)&rg.st->f, (v),              \
			      memory_order_relaxed)

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* @ns from now, for pthread_cond_timedwait (CLOCK_REALTIME). */
static inline struct timespec deadline_in(long ns)
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

static inline char *page_addr(size_t i)
{
	return rg.base + (i << TM_PAGE_SHIFT);
}

static inline size_t page_index(const void *addr)
{
	return (size_t)((const char *)addr - rg.base) >> TM_PAGE_SHIFT;
}

static inline void touch_bounds(size_t i)
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

/* region.c */
uint64_t rg_read_rss(void);
uint64_t rg_rss_estimate(void);
void rg_kick_evictor(void);
void rg_throttle(void);
int rg_start_thread(void *(*fn)(void *));
int rg_start_handlers(void);
void rg_init_sync(void);
int rg_self_pidfd(void);
int rg_high_fd(int fd);
void rg_drop_page(size_t i, uint8_t keep, uint64_t *res, uint64_t *pool);
void rg_thread_started(void);
void rg_lost_page(const void *page, int err) __attribute__((noreturn));
/* fault.c */
void *rg_handler_main(void *arg);
int rg_serve_once(int timeout_ms);
/* pins.c */
bool pins_busy(size_t i);
void pins_scan(void);
/* evict.c */
void *rg_evictor_main(void *arg);

#endif /* TMEM_PRELOAD_REGION_H */
