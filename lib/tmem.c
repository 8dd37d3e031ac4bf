// SPDX-License-Identifier: MIT
/*
 * tmem.c - the tmem API: pools, put/get/flush of pages.
 *
 * A pool is an index (key -> slot, lib/index.c), an allocator (zpages ->
 * handles, lib/zsmalloc.c) and a compressor (lib/compress.c).  A put runs
 * down the page-store pipeline of DESIGN.md:
 *   admission (pool limit, zswap-style hysteresis)
 *   -> same-filled check (one repeated word: kept as the word, no zpage)
 *   -> compress into the thread's scratch, capped at max_compressed
 *      (a page that does not fit is stored raw, in a whole page)
 *   -> allocator store -> index update -> free the replaced zpage.
 * With a backing file (lib/backing.c), a put that finds the pool full
 * waits while the writer thread writes the coldest zpages to the file,
 * and a get of a page on file reads its record back.  Dedup slots in
 * later.
 *
 * Concurrency: no global lock.  Compression runs with no lock held.  The
 * index shard lock is held only to swap a slot on put/flush, and across
 * the allocator's map/decompress/unmap on get: that keeps a concurrent
 * put or flush of the same key from freeing the zpage being read (the
 * handle would otherwise be freed and reused under the reader).  Freed
 * handles are released after the shard lock is dropped.
 * Lock order: shard -> allocator class -> page allocator.
 *
 * Failure: a put that fails leaves the key's previous page as it was; no
 * path drops or corrupts a stored page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/*
 * zswap's hysteresis: once usage reaches the limit, refuse until it falls
 * below accept_threshold percent of it, so a pool at its limit does not
 * flap between accepting and refusing on every page (pool_has_room()
 * says when a full pool takes puts again).
 */
static int admit(struct tmem_pool *pool)
{
	uint64_t used;

	if (!pool->limit)
		return 1;
	used = pool_usage(pool);
	if (atomic_load_explicit(&pool->full, memory_order_relaxed)) {
		if (!pool_has_room(pool))
			return 0;
		atomic_store_explicit(&pool->full, 0, memory_order_relaxed);
		return 1;
	}
	if (used >= pool->limit) {
		if (!atomic_exchange_explicit(&pool->full, 1,
					      memory_order_relaxed))
			atomic_fetch_add_explicit(&pool->pool_full_events, 1,
						  memory_order_relaxed);
		return 0;
	}
	return 1;
}

TM_EXPORT int tmem_pool_create(const struct tmem_pool_params *p,
			       struct tmem_pool **out)
{
	struct tmem_pool_params defaults, prm;
	struct zalloc_config zc = { 0 };
	struct tmem_pool *pool;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!p) {
		tmem_params_init(&defaults);
		p = &defaults;
	}
	/* Never read *p past p->size: the caller's struct may be older. */
	RETURN_ERR_IF(opt_params_import(p, &prm), -EINVAL,
		      "params size or bounds");
	if (prm.kind != TMEM_POOL_PERSISTENT)
		return -EOPNOTSUPP;

	pool = tm_os()->malloc(sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	memset(pool, 0, sizeof(*pool));
	pool->params = prm;
	pool->comp = comp_get(prm.compressor);
	pool->za = zalloc_get(prm.allocator);
	if (!pool->comp || !pool->za) {
		ret = -EINVAL;
		goto free_pool;
	}
	pool->limit = prm.pool_max;
	pool->accept = prm.pool_max / 100 * prm.accept_threshold +
		       prm.pool_max % 100 * prm.accept_threshold / 100;
	atomic_store(&pool->acct.meta_bytes, sizeof(*pool));

	ret = idx_create(&pool->acct, &pool->index);
	if (ret)
		goto free_pool;
	zc.acct = &pool->acct;
	ret = pool->za->create(&zc, &pool->zp);
	if (ret)
		goto destroy_index;
	*out = pool;
	return 0;

destroy_index:
	idx_destroy(pool->index);
free_pool:
	tm_os()->free(pool);
	return ret;
}

TM_EXPORT void tmem_pool_destroy(struct tmem_pool *pool)
{
	if (!pool)
		return;
	wb_close(pool->wb);
	/* The allocator frees every zpage at once; no per-handle frees. */
	pool->za->destroy(pool->zp);
	idx_destroy(pool->index);
	tm_os()->free(pool);
}

TM_EXPORT int tmem_pool_set_backing(struct tmem_pool *pool, const char *path)
{
	if (!pool || !path || !*path ||
	    pool->params.kind != TMEM_POOL_PERSISTENT)
		return -EINVAL;
	if (pool->wb)
		return -EBUSY;
	return wb_open(pool, path, &pool->wb);
}

TM_EXPORT int tmem_pool_writeback(struct tmem_pool *pool, uint64_t bytes,
				  uint64_t *written)
{
	if (written)
		*written = 0;
	if (!pool || !pool->wb)
		return -EINVAL;
	return wb_writeback_now(pool->wb, bytes, written);
}

/* Release what a slot that went away held (no shard lock held). */
static void release(struct tmem_pool *pool, const struct idx_ref *old)
{
	if (old->kind == IDX_HANDLE)
		pool->za->free(pool->zp, old->handle);
	else if (old->kind == IDX_FILE)
		wb_release(pool->wb, old->loc);
}

/* idx_leaves_release() callback. */
static void release_slot(void *arg, uint64_t slot)
{
	struct tmem_pool *pool = arg;
	uint64_t v = (slot & ~SLOT_PENDING) >> 2;

	if ((slot & SLOT_TAG_MASK) == SLOT_HANDLE)
		pool->za->free(pool->zp, v);
	else if ((slot & SLOT_TAG_MASK) == SLOT_FILE)
		wb_release(pool->wb, v);
}

/* Shard counters for a stored page; @old is what the key held. */
static void count_store(struct idx_shard *s, int samefill,
			const struct idx_ref *old)
{
	s->c.puts++;
	if (old->kind == IDX_EMPTY)
		s->c.stored_pages++;
	else
		s->c.overwrites++;
	if (old->kind == IDX_FILL)
		s->c.samefill_pages--;
	if (old->kind == IDX_FILE)
		s->c.file_pages--;
	if (samefill) {
		s->c.samefill_puts++;
		s->c.samefill_pages++;
	}
}

/* Keep the page as one word: no compression, no zpage. */
static int put_samefill(struct idx_shard *s, uint64_t oid, uint32_t index,
			uint64_t word, struct idx_ref *old)
{
	int ret;

	idx_lock(s);
	ret = idx_store_fill(s, oid, index, word, old);
	if (!ret)
		count_store(s, 1, old);
	idx_unlock(s);
	return ret;
}

static int put_zpage(struct tmem_pool *pool, struct idx_shard *s, uint64_t oid,
		     uint32_t index, const void *page, struct idx_ref *old)
{
	const void *src = page;
	uint64_t handle;
	void *buf;
	int ret, len;

	buf = comp_scratch();
	if (!buf)
		return -ENOMEM;
	len = pool->comp->compress(pool->params.zstd_level, page, buf,
				   pool->params.max_compressed);
	if (len == -ENOSPC)
		len = (int)TM_PAGE_SIZE; /* poor ratio: keep it raw */
	else if (len < 0)
		return len;
	else
		src = buf;
	ret = pool->za->store(pool->zp, src, (size_t)len, &handle);
	if (ret)
		return ret;

	/* A raw page is stored cold: writeback takes it first. */
	idx_lock(s);
	ret = idx_store_handle(s, oid, index, handle, src != page, old);
	if (!ret)
		count_store(s, 0, old);
	idx_unlock(s);
	if (ret)
		pool->za->free(pool->zp, handle);
	return ret;
}

TM_EXPORT int tmem_put_page(struct tmem_pool *pool, uint64_t oid,
			    uint32_t index, const void *page)
{
	struct idx_shard *s;
	struct idx_ref old;
	uint64_t word;
	int ret;

	if (!pool || !page)
		return -EINVAL;
	/* With a backing file a full pool makes room (or, when the file
	 * fails, stores above the limit); without one the caller keeps it. */
	if (!admit(pool)) {
		if (!pool->wb) {
			atomic_fetch_add_explicit(&pool->reject_pool_full, 1,
						  memory_order_relaxed);
			return -ENOSPC;
		}
		wb_make_room(pool->wb); /* counts a put above the limit */
	}
	s = idx_shard_of(pool->index, oid, index);
	if (samefill_check(page, &word))
		ret = put_samefill(s, oid, index, word, &old);
	else
		ret = put_zpage(pool, s, oid, index, page, &old);
	if (ret) {
		atomic_fetch_add_explicit(&pool->reject_alloc_fail, 1,
					  memory_order_relaxed);
		return ret;
	}
	release(pool, &old);
	return 0;
}

TM_EXPORT int tmem_get_page(struct tmem_pool *pool, uint64_t oid,
			    uint32_t index, void *page)
{
	struct idx_shard *s;
	struct idx_ref ref;
	const void *src;
	size_t len;
	int ret = 0;

	if (!pool || !page)
		return -EINVAL;
	s = idx_shard_of(pool->index, oid, index);
	idx_lock(s);
	idx_lookup(s, oid, index, &ref);
	switch (ref.kind) {
	case IDX_EMPTY:
		s->c.get_misses++;
		idx_unlock(s);
		return -ENOENT;
	case IDX_FILL:
		samefill_fill(page, ref.word);
		break;
	case IDX_FILE:
		/* No shard lock across file I/O: the pin keeps the record's
		 * segment from being cleaned away under the read. */
		wb_pin(pool->wb, ref.loc);
		s->c.gets++;
		s->c.file_reads++;
		idx_unlock(s);
		return wb_read(pool->wb, ref.loc, oid, index, page);
	case IDX_HANDLE:
		src = pool->za->map(pool->zp, ref.handle, &len);
		if (len == TM_PAGE_SIZE)
			memcpy(page, src, TM_PAGE_SIZE);
		else
			ret = pool->comp->decompress(src, len, page);
		pool->za->unmap(pool->zp, ref.handle);
		/* -ENOMEM: the thread's context (see tmem.h); else corrupt. */
		if (ret && ret != -ENOMEM)
			ret = -EIO;
		break;
	}
	s->c.gets++;
	idx_unlock(s);
	return ret;
}

TM_EXPORT int tmem_flush_page(struct tmem_pool *pool, uint64_t oid,
			      uint32_t index)
{
	struct idx_shard *s;
	struct idx_ref old;
	int ret;

	if (!pool)
		return -EINVAL;
	s = idx_shard_of(pool->index, oid, index);
	idx_lock(s);
	ret = idx_remove(s, oid, index, &old);
	if (!ret) {
		s->c.flushes++;
		s->c.stored_pages--;
		if (old.kind == IDX_FILL)
			s->c.samefill_pages--;
		if (old.kind == IDX_FILE)
			s->c.file_pages--;
	}
	idx_unlock(s);
	release(pool, &old);
	return ret;
}

TM_EXPORT int tmem_flush_object(struct tmem_pool *pool, uint64_t oid)
{
	uint64_t total = 0;
	unsigned i;

	if (!pool)
		return -EINVAL;
	for (i = 0; i < TM_ARRAY_SIZE(pool->index->shards); i++) {
		struct idx_shard *s = &pool->index->shards[i];
		uint64_t pages = 0, fills = 0, files = 0;
		struct idx_leaf *list;

		idx_lock(s);
		list = idx_detach_object(s, oid, &pages, &fills, &files);
		s->c.flushes += pages;
		s->c.stored_pages -= pages;
		s->c.samefill_pages -= fills;
		s->c.file_pages -= files;
		idx_unlock(s);
		idx_leaves_release(pool->index, list, release_slot, pool);
		total += pages;
	}
	atomic_fetch_add_explicit(&pool->flush_objects, 1,
				  memory_order_relaxed);
	return total > INT32_MAX ? INT32_MAX : (int)total;
}

TM_EXPORT int tmem_pool_compact(struct tmem_pool *pool, uint64_t *freed)
{
	uint64_t n;

	if (!pool)
		return -EINVAL;
	n = pool->za->compact(pool->zp);
	atomic_fetch_add_explicit(&pool->compactions, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&pool->compacted_bytes, n,
				  memory_order_relaxed);
	if (freed)
		*freed = n;
	return 0;
}
