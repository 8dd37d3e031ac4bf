/* SPDX-License-Identifier: MIT */
/*
 * backing-int.h - what the two files of the writeback tier share: the
 * record format, the segment table and struct tm_backing.  backing.c
 * owns the file (opening, fork, reading back, stats); writeback.c the
 * writer (batches, CLOCK writeback, cleaning, the writer thread).
 */
#ifndef TMEM_BACKING_INT_H
#define TMEM_BACKING_INT_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include <xxhash.h>

#include "backing.h"
#include "pool.h"

#define WB_MAGIC 0x31524d54u /* "TMR1" */
#define WB_CHUNK_SHIFT 10
#define WB_CHUNK_SEGS (1u << WB_CHUNK_SHIFT)
#define WB_MAX_CHUNKS 1024u /* 1M segments: a 1 TiB file */
#define WB_RETRY_NS 1000000000ull /* pause after a failed write */
#define WB_IDLE_NS 1000000000ull /* the writer's wake-up when idle */
#define WB_WAIT_NS 50000000ull /* a waiting put rechecks this often */
#define WB_CLOCK_BUCKETS 64u /* leaf buckets per shard visit */
#define WB_HOT 0
#define WB_COLD 1
#define WB_NOTHING_LEFT 1 /* writeback(): every page is on file already */

struct wb_hdr {
	uint32_t magic;
	uint16_t len; /* payload bytes, 1..TM_PAGE_SIZE */
	uint8_t comp; /* enum tmem_compressor */
	uint8_t zero;
	uint32_t index;
	uint32_t zero2;
	uint64_t oid;
	uint64_t sum; /* xxh3 of the 24 bytes above, then the payload */
};
_Static_assert(sizeof(struct wb_hdr) == WB_REC_HDR, "record header");

enum seg_state { SEG_FREE = 0, SEG_OPEN, SEG_SEALED };

struct wb_seg {
	_Atomic int64_t live; /* bytes of records that slots point at */
	_Atomic uint32_t readers; /* gets reading it now */
	uint32_t fill; /* bytes written; under the wb lock */
	uint32_t state; /* enum seg_state; under the wb lock */
	uint32_t next; /* free list, 1-based */
};

/* One record of the batch being built. */
struct wb_item {
	uint64_t oid;
	uint64_t expect; /* the slot word as marked, SLOT_PENDING set */
	uint32_t index;
	uint32_t len; /* payload */
	uint32_t move; /* the cleaner's: the slot pointed at the file */
};

enum {
	C_WRITTEN_PAGES,
	C_PAYLOAD,
	C_BYTES_WRITTEN,
	C_FREED,
	C_READ_PAGES,
	C_READ_BYTES,
	C_CLEANED,
	C_MOVES,
	C_WAITS,
	C_OVERLIMIT,
	C_WERR,
	C_RERR,
	C_CSUM,
	C_LIVE, /* gauges from here */
	C_FILE,
	C_SEGS,
	C_COUNT
};

struct tm_backing {
	struct tmem_pool *pool;
	int fd;
	pid_t owner; /* the process whose file this is */
	char *dir; /* absolute: where a fork child's file is made */
	int child_fd; /* tmem_fork_prepare()'s copy for the child, or -1 */
	struct tm_backing *next; /* every open backing file (fork) */

	pthread_mutex_t lock; /* the wb lock: everything below to "wait" */
	struct wb_seg *chunks[WB_MAX_CHUNKS];
	uint32_t nsegs; /* segments the file has had */
	uint32_t free_head; /* 1-based, 0 = none */
	/*
	 * Two open segments, 1-based, 0 = none: pages written back go to
	 * head[WB_HOT], records the cleaner moves to head[WB_COLD].  A
	 * record that survived a cleaning is likely to survive the next, so
	 * keeping it apart from fresh ones leaves segments either mostly
	 * live or mostly dead, which is what makes cleaning cheap.
	 */
	uint32_t head[2];
	unsigned cur; /* the head the batch being built goes to */
	uint8_t *buf; /* the batch: WB_BATCH bytes */
	uint32_t used, cap; /* bytes in buf, bytes this batch may take */
	struct wb_item *items;
	unsigned nitems, items_cap;
	uint8_t *cbuf; /* the cleaner's copy of a segment */
	unsigned shard_hand;
	uint64_t retry_ns; /* after a failed write: not before this */
	int logged;

	pthread_mutex_t wait_lock; /* the writer and waiting puts */
	pthread_cond_t wake, room;
	uint64_t asked, done; /* requests for room, and served */
	uint64_t quiet_until; /* a round could not make room: until then
			       * puts do not wait */
	int stop, stuck, has_thread;
	pthread_t thread;

	_Atomic uint64_t c[C_COUNT];
};

/*
 * File I/O through the OS layer, read at each call so that a test can
 * inject faults into a pool that is already open.
 */
#define OS_FILE(op) (tm_os()->op ? tm_os()->op : tm_os_default.op)

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void add(struct tm_backing *b, unsigned i, int64_t v)
{
	atomic_fetch_add_explicit(&b->c[i], (uint64_t)v, memory_order_relaxed);
}

static inline uint64_t get(struct tm_backing *b, unsigned i)
{
	return atomic_load_explicit(&b->c[i], memory_order_relaxed);
}

static inline struct wb_seg *seg(struct tm_backing *b, uint32_t i)
{
	return &b->chunks[i >> WB_CHUNK_SHIFT][i & (WB_CHUNK_SEGS - 1)];
}

static inline uint64_t rec_sum(const struct wb_hdr *h, const void *payload)
{
	return XXH3_64bits_withSeed(
		payload, h->len, XXH3_64bits(h, offsetof(struct wb_hdr, sum)));
}

/* writeback.c, for backing.c */
void *wb_writer_main(void *arg);
int wb_read_all(struct tm_backing *b, void *buf, size_t n, uint64_t off);

#endif /* TMEM_BACKING_INT_H */
