// SPDX-License-Identifier: MIT
/*
 * writeback.c - the writer of the writeback tier: batches of cold zpages
 * to a log-structured backing file, the cleaner, the writer thread.
 *
 * Why a log: pages go out still compressed (a zpage of the corpus is
 * ~1.6 KiB against zswap's 4 KiB a page), packed back to back, so the file
 * is written sequentially in large batches, and an overwrite or flush
 * only marks a record dead.  A cleaner copies the live records of the
 * emptiest segments forward and punches the emptied segments out of the
 * file, so the file stays bounded under churn (as log-structured file
 * systems do; greedy choice: least live bytes first).
 *
 * Coldness: the index keeps a CLOCK reference bit per slot (set by a
 * compressed put and by a get); the writer sweeps shard after shard,
 * clearing set bits and taking slots whose bit is clear.  A page stored
 * raw (it did not compress) is stored with its bit clear, so it is the
 * first to go: a whole page of the pool for 4 KiB of file is the worst
 * bargain the pool holds.
 *
 * The race seed 001 describes for zswap (a load during writeback; a page
 * added to the LRU twice) cannot happen here by construction:
 *  - a victim's bytes are copied into the batch under the shard lock, and
 *    the slot is marked SLOT_PENDING in the same critical section;
 *  - after the batch is on disk, the commit points the slot at the record
 *    only if it still holds exactly the marked word; every put and flush
 *    writes a word without the mark, so a key changed in between (even to
 *    a handle that was freed and reused) keeps its new value and the
 *    record is simply dead;
 *  - a get of a page on file pins its segment under the shard lock and
 *    reads with no lock held; the cleaner frees a segment only when no
 *    slot points into it (live bytes 0) and no reader holds a pin, so the
 *    bytes a get reads are the record it looked up, verified by checksum.
 * There is no separate LRU list to keep consistent with the index: the
 * age lives in the index slots themselves.
 *
 * Freeing pool memory: freeing a zpage frees memory only when its zspage
 * empties; writeback takes the coldest pages wherever they sit, so after
 * each round the pool is compacted (zsmalloc's compaction moves the
 * survivors together).  wb_freed_bytes counts what rounds gave back.
 *
 * Faults: a failed or short write loses nothing (the victims' slots still
 * hold their handles; their marks are harmless), is counted, logged once,
 * and writeback pauses WB_RETRY_NS before trying again; puts meanwhile
 * are stored above the limit.  A record that fails verification on read
 * is -EIO, never wrong bytes.
 */
#include <errno.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backing-int.h"

/* ---- segments (under the wb lock) ------------------------------------- */

static int open_head(struct tm_backing *b)
{
	struct wb_seg *sg;
	uint32_t i;

	if (b->head[b->cur])
		return 0;
	if (b->free_head) {
		i = b->free_head - 1;
		b->free_head = seg(b, i)->next;
	} else {
		i = b->nsegs;
		if (i >> WB_CHUNK_SHIFT >= WB_MAX_CHUNKS)
			return -EFBIG;
		if (!b->chunks[i >> WB_CHUNK_SHIFT]) {
			b->chunks[i >> WB_CHUNK_SHIFT] = tm_zalloc(
				&b->pool->acct,
				WB_CHUNK_SEGS * sizeof(struct wb_seg));
			if (!b->chunks[i >> WB_CHUNK_SHIFT])
				return -ENOMEM;
		}
		b->nsegs++;
	}
	sg = seg(b, i);
	tm_assert_internal(atomic_load(&sg->live) == 0);
	sg->fill = 0;
	sg->state = SEG_OPEN;
	b->head[b->cur] = i + 1;
	add(b, C_SEGS, 1);
	return 0;
}

static void free_seg(struct tm_backing *b, uint32_t i)
{
	struct wb_seg *sg = seg(b, i);

	/* Give the blocks back; where punching is not supported the
	 * segment is still reused, so the file stays bounded. */
	OS_FILE(fallocate)
	(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	 (uint64_t)i << WB_SEG_SHIFT, WB_SEG_SIZE);
	add(b, C_FILE, -(int64_t)sg->fill);
	add(b, C_SEGS, -1);
	sg->fill = 0;
	sg->state = SEG_FREE;
	sg->next = b->free_head;
	b->free_head = i + 1;
}

/* ---- batches ---------------------------------------------------------- */

/*
 * Start a batch in head @which (WB_HOT or WB_COLD): set how many bytes it
 * may take.
 */
static int batch_begin(struct tm_backing *b, unsigned which)
{
	int ret;

	tm_assert_internal(!b->nitems);
	b->cur = which;
	ret = open_head(b);

	if (ret)
		return ret;
	b->cap = WB_SEG_SIZE - seg(b, b->head[which] - 1)->fill;
	if (b->cap > WB_BATCH)
		b->cap = WB_BATCH;
	return 0;
}

static int batch_room(struct tm_backing *b, size_t len)
{
	return b->nitems < b->items_cap && b->used + WB_REC_HDR + len <= b->cap;
}

/* Append a record; the caller checked batch_room(). */
static void batch_add(struct tm_backing *b, uint64_t oid, uint32_t index,
		      const void *src, size_t len, unsigned comp,
		      uint64_t expect, int move)
{
	uint8_t *at = b->buf + b->used;
	struct wb_item *it = &b->items[b->nitems++];
	struct wb_hdr h; /* records are packed: headers are unaligned */

	memset(&h, 0, sizeof(h));
	h.magic = WB_MAGIC;
	h.len = (uint16_t)len;
	h.comp = (uint8_t)comp;
	h.index = index;
	h.oid = oid;
	memcpy(at + WB_REC_HDR, src, len);
	h.sum = rec_sum(&h, at + WB_REC_HDR);
	memcpy(at, &h, sizeof(h));
	b->used += WB_REC_HDR + (uint32_t)len;
	it->oid = oid;
	it->index = index;
	it->len = (uint32_t)len;
	it->expect = expect;
	it->move = (uint32_t)move;
}

static void write_failed(struct tm_backing *b, int err)
{
	add(b, C_WERR, 1);
	b->retry_ns = now_ns() + WB_RETRY_NS;
	if (!b->logged) {
		b->logged = 1;
		tm_log("tmem: writing the backing file failed: %s; pages stay "
		       "in memory (the pool may exceed its limit), retrying "
		       "every second\n",
		       strerror(-err));
	}
}

/* The batch was not written: take the marks off its slots again. */
static void batch_abandon(struct tm_backing *b)
{
	struct tmem_pool *pool = b->pool;

	for (unsigned k = 0; k < b->nitems; k++) {
		struct wb_item *it = &b->items[k];
		struct idx_shard *s =
			idx_shard_of(pool->index, it->oid, it->index);
		struct idx_ref old;

		idx_lock(s);
		idx_replace_if(s, it->oid, it->index, it->expect,
			       it->expect & ~SLOT_PENDING, &old);
		idx_unlock(s);
	}
	b->used = 0;
	b->nitems = 0;
}

/*
 * Write the batch at the head and commit each record whose slot is still
 * as marked.  Return the number of pages committed that came from memory
 * (*@freed: their zpage bytes), or -errno if the write failed.
 */
static int batch_flush(struct tm_backing *b, uint64_t *freed)
{
	struct tmem_pool *pool = b->pool;
	uint32_t si = b->head[b->cur] - 1, pos = 0;
	struct wb_seg *sg = seg(b, si);
	uint64_t base = ((uint64_t)si << WB_SEG_SHIFT) + sg->fill;
	int committed = 0;

	while (pos < b->used) {
		long n = OS_FILE(pwrite)(b->fd, b->buf + pos, b->used - pos,
					 base + pos);

		if (n <= 0) {
			write_failed(b, n < 0 ? (int)n : -EIO);
			batch_abandon(b);
			return n < 0 ? (int)n : -EIO;
		}
		pos += (uint32_t)n;
	}
	sg->fill += b->used;
	add(b, C_FILE, b->used);
	add(b, C_BYTES_WRITTEN, b->used);

	pos = 0;
	for (unsigned k = 0; k < b->nitems; k++) {
		struct wb_item *it = &b->items[k];
		uint32_t rec = WB_REC_HDR + it->len;
		uint64_t loc = wb_loc(base + pos, it->len);
		struct idx_shard *s =
			idx_shard_of(pool->index, it->oid, it->index);
		struct idx_ref old;
		int r;

		pos += rec;
		if (!it->move)
			add(b, C_PAYLOAD, rec);
		idx_lock(s);
		r = idx_replace_if(s, it->oid, it->index, it->expect,
				   loc << 2 | SLOT_FILE, &old);
		if (!r) {
			atomic_fetch_add(&sg->live, rec);
			add(b, C_LIVE, rec);
			if (old.kind == IDX_HANDLE)
				s->c.file_pages++;
		}
		idx_unlock(s);
		if (r)
			continue; /* changed meanwhile: the record is dead */
		if (old.kind == IDX_HANDLE) {
			pool->za->free(pool->zp, old.handle);
			*freed += it->len;
			committed++;
			add(b, C_WRITTEN_PAGES, 1);
		} else {
			wb_release(b, old.loc);
			add(b, C_MOVES, 1);
		}
	}
	b->used = 0;
	b->nitems = 0;
	if (sg->fill + WB_REC_HDR + TM_PAGE_SIZE > WB_SEG_SIZE) {
		sg->state = SEG_SEALED;
		b->head[b->cur] = 0;
	}
	return committed;
}

/* ---- writeback -------------------------------------------------------- */

/* idx_clock() callback, under the shard lock: copy a cold zpage in. */
static int take_zpage(void *arg, uint64_t oid, uint32_t index, uint64_t slot)
{
	struct tm_backing *b = arg;
	struct tmem_pool *pool = b->pool;
	uint64_t h = (slot & ~SLOT_PENDING) >> 2;
	const void *src;
	size_t len;
	int ok;

	if (b->nitems >= b->items_cap)
		return -1;
	src = pool->za->map(pool->zp, h, &len);
	ok = batch_room(b, len);
	if (ok)
		batch_add(b, oid, index, src, len, pool->params.compressor,
			  slot | SLOT_PENDING, 0);
	pool->za->unmap(pool->zp, h);
	return ok ? 1 : -1;
}

/*
 * Fill the batch with cold zpages, shard after shard.  Gives up after two
 * turns of every shard's hand (the first may only clear reference bits).
 */
static unsigned gather_cold(struct tm_backing *b)
{
	struct tm_index *ix = b->pool->index;
	unsigned nshards = TM_ARRAY_SIZE(ix->shards), idle = 0;

	while (idle < 2 * nshards * 2) {
		struct idx_shard *s = &ix->shards[b->shard_hand];
		int r;

		idx_lock(s);
		r = idx_clock(s, WB_CLOCK_BUCKETS, 1u << SLOT_HANDLE,
			      take_zpage, b);
		idx_unlock(s);
		if (r < 0)
			break; /* the batch is full */
		/* A shard smaller than a visit was swept whole. */
		idle = r ? 0 : idle + 1;
		b->shard_hand = (b->shard_hand + 1) % nshards;
	}
	return b->nitems;
}

static void compact(struct tmem_pool *pool)
{
	uint64_t n = pool->za->compact(pool->zp);

	atomic_fetch_add_explicit(&pool->compactions, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&pool->compacted_bytes, n,
				  memory_order_relaxed);
}

/*
 * Write back cold pages until the pool's usage is below @target.  Return
 * 0, WB_NOTHING_LEFT if no page is left in memory to write back, or the
 * error of a failed write (-EIO during the pause after one).
 */
static int writeback(struct tm_backing *b, uint64_t target, uint64_t *written)
{
	struct tmem_pool *pool = b->pool;
	uint64_t before = atomic_load(&pool->acct.pool_bytes), since = 0;
	uint64_t after, used;
	int ret = 0;

	while (pool_usage(pool) >= target) {
		uint64_t freed = 0;
		int n;

		if (b->retry_ns && now_ns() < b->retry_ns) {
			ret = -EIO;
			break;
		}
		ret = batch_begin(b, WB_HOT);
		if (ret)
			break;
		if (!gather_cold(b)) {
			compact(pool);
			ret = pool_usage(pool) < target ? 0 : WB_NOTHING_LEFT;
			break;
		}
		n = batch_flush(b, &freed);
		if (n < 0) {
			ret = n;
			break;
		}
		b->retry_ns = 0;
		if (written)
			*written += (uint64_t)n;
		since += freed;
		/* Freed zpages free memory once their zspages empty or
		 * compaction merges them: compact when enough is loose. */
		used = pool_usage(pool);
		if (target && (used < target || since >= used - target)) {
			compact(pool);
			since = 0;
		}
	}
	if (since)
		compact(pool);
	after = atomic_load(&pool->acct.pool_bytes);
	if (before > after)
		add(b, C_FREED, (int64_t)(before - after));
	return ret;
}

/* ---- cleaning --------------------------------------------------------- */

int wb_read_all(struct tm_backing *b, void *buf, size_t n, uint64_t off)
{
	size_t pos = 0;

	while (pos < n) {
		long r = OS_FILE(pread)(b->fd, (char *)buf + pos, n - pos,
					off + pos);

		if (r <= 0)
			return r < 0 ? (int)r : -EIO;
		pos += (size_t)r;
	}
	add(b, C_READ_BYTES, (int64_t)n);
	return 0;
}

/* Copy segment @si's live records to the cold head.  Return 0 or -errno. */
static int clean_seg(struct tm_backing *b, uint32_t si)
{
	struct tmem_pool *pool = b->pool;
	uint32_t fill = seg(b, si)->fill, pos = 0;
	uint64_t base = (uint64_t)si << WB_SEG_SHIFT, freed = 0;
	int ret;

	if (!b->cbuf) {
		b->cbuf = tm_os()->malloc(WB_SEG_SIZE);
		if (!b->cbuf)
			return -ENOMEM;
	}
	ret = wb_read_all(b, b->cbuf, fill, base);
	if (ret) {
		add(b, C_RERR, 1);
		return ret;
	}
	ret = batch_begin(b, WB_COLD);
	while (!ret && pos + WB_REC_HDR <= fill) {
		const uint8_t *payload = b->cbuf + pos + WB_REC_HDR;
		struct wb_hdr hh, *h = &hh;
		uint64_t loc;
		struct idx_shard *s;
		struct idx_ref ref;

		memcpy(h, b->cbuf + pos, sizeof(*h));
		if (h->magic != WB_MAGIC || !h->len || h->len > TM_PAGE_SIZE ||
		    pos + WB_REC_HDR + h->len > fill) {
			add(b, C_CSUM, 1);
			return -EIO; /* lost the thread of records */
		}
		loc = wb_loc(base + pos, h->len);
		pos += WB_REC_HDR + h->len;
		if (rec_sum(h, payload) != h->sum) {
			add(b, C_CSUM, 1);
			continue; /* its get will say -EIO */
		}
		if (!batch_room(b, h->len)) {
			ret = batch_flush(b, &freed);
			if (ret < 0)
				break;
			ret = batch_begin(b, WB_COLD);
			if (ret)
				break;
		}
		s = idx_shard_of(pool->index, h->oid, h->index);
		idx_lock(s);
		idx_peek(s, h->oid, h->index, &ref);
		if (ref.kind == IDX_FILE && ref.loc == loc &&
		    !idx_replace_if(s, h->oid, h->index, ref.slot,
				    ref.slot | SLOT_PENDING, &ref))
			batch_add(b, h->oid, h->index, payload, h->len, h->comp,
				  ref.slot | SLOT_PENDING, 1);
		idx_unlock(s);
	}
	if (!ret && b->nitems)
		ret = batch_flush(b, &freed);
	return ret < 0 ? ret : 0;
}

/*
 * Free what is free; clean the emptiest segments while dead bytes are over
 * half the file (and two segments).  Half, not less: on the corpus under
 * Zipf overwrites a quarter cost a write amplification of 1.4-1.6, half
 * 1.0-1.2, and a file of twice the live records is still smaller than the
 * swap space zswap would take for the same pages (4 KiB each).
 */
static void clean(struct tm_backing *b)
{
	for (int pass = 0; pass < 16; pass++) {
		uint64_t file = get(b, C_FILE), live = get(b, C_LIVE);
		uint32_t best = UINT32_MAX;
		int64_t best_live = INT64_MAX;

		for (uint32_t i = 0; i < b->nsegs; i++) {
			struct wb_seg *sg = seg(b, i);
			int64_t l = atomic_load(&sg->live);

			if (sg->state != SEG_SEALED)
				continue;
			if (!l && !atomic_load(&sg->readers)) {
				free_seg(b, i);
				add(b, C_CLEANED, 1);
				continue;
			}
			if (l < best_live) {
				best_live = l;
				best = i;
			}
		}
		file = get(b, C_FILE);
		live = get(b, C_LIVE);
		if (best == UINT32_MAX || file - live < file / 2 ||
		    file - live < 2 * WB_SEG_SIZE)
			return;
		if (b->retry_ns && now_ns() < b->retry_ns)
			return;
		if (clean_seg(b, best))
			return;
	}
}

/* ---- the writer thread ------------------------------------------------- */

/*
 * One round: write back to the accept threshold when a put asked for room
 * (@asked) and there is none, or when the pool is at its limit.  A waiter
 * waits for pool_has_room(), so an asked round must not stop short of it.
 */
static int round_once(struct tm_backing *b, int asked)
{
	struct tmem_pool *pool = b->pool;
	int ret = 0;

	pthread_mutex_lock(&b->lock);
	if (asked ? !pool_has_room(pool)
		  : pool->limit && pool_usage(pool) >= pool->limit)
		ret = writeback(b, pool->accept, NULL);
	clean(b);
	pthread_mutex_unlock(&b->lock);
	return ret;
}

void *wb_writer_main(void *arg)
{
	struct tm_backing *b = arg;
	struct timespec ts;

	pthread_mutex_lock(&b->wait_lock);
	while (!b->stop) {
		uint64_t ticket;
		int ret, asked;

		if (b->asked == b->done) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += WB_IDLE_NS / 1000000000ull;
			pthread_cond_timedwait(&b->wake, &b->wait_lock, &ts);
			if (b->stop)
				break;
		}
		ticket = b->asked;
		asked = ticket != b->done;
		pthread_mutex_unlock(&b->wait_lock);
		ret = round_once(b, asked);
		pthread_mutex_lock(&b->wait_lock);
		b->done = ticket;
		b->stuck = ret != 0;
		if (ret)
			b->quiet_until = now_ns() + WB_WAIT_NS / 5;
		pthread_cond_broadcast(&b->room);
	}
	pthread_mutex_unlock(&b->wait_lock);
	return NULL;
}

int wb_make_room(struct tm_backing *b)
{
	struct tmem_pool *pool = b->pool;
	struct timespec ts;
	uint64_t ticket;
	int ret = -ENOSPC;

	if (b->owner != getpid()) {
		/* A fork child shares the parent's file: it must not write
		 * to it (tmem_fork_child() gives it a file of its own). */
		add(b, C_OVERLIMIT, 1);
		return -ENOSPC;
	}
	if (!b->has_thread) {
		pthread_mutex_lock(&b->lock);
		writeback(b, pool->accept, NULL);
		clean(b);
		pthread_mutex_unlock(&b->lock);
		ret = pool_has_room(pool) ? 0 : -ENOSPC;
		goto out;
	}
	pthread_mutex_lock(&b->wait_lock);
	if (b->stuck && now_ns() < b->quiet_until) {
		pthread_mutex_unlock(&b->wait_lock);
		goto out;
	}
	add(b, C_WAITS, 1);
	ticket = ++b->asked;
	pthread_cond_signal(&b->wake);
	for (;;) {
		if (pool_has_room(pool)) {
			ret = 0;
			break;
		}
		if (b->done >= ticket && b->stuck)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)WB_WAIT_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&b->room, &b->wait_lock, &ts);
		if (b->done >= ticket && !pool_has_room(pool) && !b->stuck) {
			/* Served, but others took the room: ask again. */
			ticket = ++b->asked;
			pthread_cond_signal(&b->wake);
		}
	}
	pthread_mutex_unlock(&b->wait_lock);
out:
	if (ret)
		add(b, C_OVERLIMIT, 1);
	return ret;
}

int wb_writeback_now(struct tm_backing *b, uint64_t bytes, uint64_t *written)
{
	struct tmem_pool *pool = b->pool;
	uint64_t used = pool_usage(pool), n = 0;
	int ret;

	if (b->owner != getpid())
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	b->retry_ns = 0; /* asked for now: no pause after an old error */
	ret = writeback(b, bytes && bytes < used ? used - bytes : 0, &n);
	clean(b);
	pthread_mutex_unlock(&b->lock);
	if (written)
		*written = n;
	return ret == WB_NOTHING_LEFT ? 0 : ret;
}
