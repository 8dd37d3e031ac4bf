// SPDX-License-Identifier: MIT
/*
 * stats.c - struct tmem_stats: gathering and JSON rendering.
 *
 * Counters live where they are cheap to update: per index shard (under the
 * shard lock the put/get already holds), in the allocator (per class,
 * under the class lock), in the accounting atomics, and in the pool for
 * slow-path events.  Nothing is written to a shared cache line per page.
 * Reading sums them, locking one shard at a time: each part is exact,
 * the total is not one atomic snapshot while the pool is busy (the header
 * says so).
 *
 * The struct is versioned and sized: a caller built against an older,
 * shorter struct passes its size and gets the fields it knows, which is
 * why the field list (the TMEM_STATS_FIELDS X-macro in tmem.h) only grows
 * at its end, gauges and counters alike.  The struct and the JSON come
 * from that list, and tests/test-stats.c checks docs/stats.md against it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pool.h"

static uint64_t load(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

TM_EXPORT int tmem_stats_get(struct tmem_pool *pool, struct tmem_stats *st)
{
	struct tmem_stats all;
	struct zalloc_stats zs;
	uint32_t size;
	unsigned i;

	if (!pool || !st || st->size < 2 * sizeof(uint32_t))
		return -EINVAL;
	size = st->size;
	memset(&all, 0, sizeof(all));

	for (i = 0; i < TM_ARRAY_SIZE(pool->index->shards); i++) {
		struct idx_shard *s = &pool->index->shards[i];

		idx_lock(s);
		all.stored_pages += s->c.stored_pages;
		all.samefill_pages += s->c.samefill_pages;
		all.puts += s->c.puts;
		all.overwrites += s->c.overwrites;
		all.samefill_puts += s->c.samefill_puts;
		all.gets += s->c.gets;
		all.get_misses += s->c.get_misses;
		all.flushes += s->c.flushes;
		all.wb_pages += s->c.file_pages;
		idx_unlock(s);
	}
	pool->za->stats(pool->zp, &zs);
	all.raw_pages = zs.raw_objs;
	all.orig_bytes = all.stored_pages * TM_PAGE_SIZE;
	all.compressed_bytes = zs.used_bytes;
	all.pool_bytes = load(&pool->acct.pool_bytes);
	all.pool_peak_bytes = load(&pool->acct.pool_peak);
	all.metadata_bytes = load(&pool->acct.meta_bytes);
	all.zspages = zs.zspages;
	all.pool_full = (uint64_t)atomic_load(&pool->full);
	all.flush_objects = load(&pool->flush_objects);
	all.reject_pool_full = load(&pool->reject_pool_full);
	all.reject_alloc_fail = load(&pool->reject_alloc_fail);
	all.compactions = load(&pool->compactions);
	all.compacted_bytes = load(&pool->compacted_bytes);
	all.pool_full_events = load(&pool->pool_full_events);
	if (pool->wb)
		wb_stats(pool->wb, &all);

	all.size = size < sizeof(all) ? size : sizeof(all);
	all.version = TMEM_STATS_VERSION;
	memcpy(st, &all, all.size);
	return 0;
}

TM_EXPORT int tmem_class_stats_get(struct tmem_pool *pool, unsigned idx,
				   struct tmem_class_stats *cs)
{
	struct tmem_class_stats c;
	uint32_t size;
	int ret;

	if (!pool || !cs || cs->size < sizeof(uint32_t))
		return -EINVAL;
	size = cs->size < sizeof(c) ? cs->size : sizeof(c);
	memset(&c, 0, sizeof(c));
	ret = pool->za->class_stats(pool->zp, idx, &c);
	if (ret)
		return ret;
	c.size = size;
	memcpy(cs, &c, size);
	return 0;
}

/* Append to a bounded buffer, counting what would have been written. */
struct jbuf {
	char *p;
	size_t len;
	size_t n;
};

static void jraw(struct jbuf *b, const char *s)
{
	for (; *s; s++, b->n++)
		if (b->n + 1 < b->len)
			b->p[b->n] = *s;
}

static void jput(struct jbuf *b, const char *name, uint64_t v, int first)
{
	char tmp[96];

	snprintf(tmp, sizeof(tmp), "%s\"%s\":%llu", first ? "" : ",", name,
		 (unsigned long long)v);
	jraw(b, tmp);
}

TM_EXPORT int tmem_stats_json(const struct tmem_stats *st, char *buf,
			      size_t len)
{
	struct jbuf b = { buf, len, 0 };
	struct tmem_stats s;

	if (!st || (!buf && len))
		return -EINVAL;
	/* Fields the caller's struct lacks read as 0. */
	memset(&s, 0, sizeof(s));
	memcpy(&s, st, st->size < sizeof(s) ? st->size : sizeof(s));

	jraw(&b, "{");
	jput(&b, "version", s.version, 1);
#define TMEM_JSON_FIELD_(name, kind, unit, desc) jput(&b, #name, s.name, 0);
	TMEM_STATS_FIELDS(TMEM_JSON_FIELD_)
#undef TMEM_JSON_FIELD_
	jraw(&b, "}");
	if (len)
		buf[b.n < len ? b.n : len - 1] = '\0';
	return b.n > INT32_MAX ? -EINVAL : (int)b.n;
}
