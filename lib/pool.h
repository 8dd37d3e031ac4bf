/* SPDX-License-Identifier: MIT */
/*
 * pool.h - struct tmem_pool, shared by tmem.c (the API) and stats.c.
 */
#ifndef TMEM_POOL_H
#define TMEM_POOL_H

#include "backing.h"
#include "compress.h"
#include "index.h"
#include "internal.h"
#include "zalloc.h"

struct tmem_pool {
	struct tmem_pool_params params;
	const struct comp_ops *comp;
	const struct zalloc_ops *za;
	void *zp; /* the allocator's pool */
	struct tm_index *index;
	struct tm_acct acct;

	/* Admission (zswap's hysteresis): bytes, derived from params. */
	uint64_t limit; /* 0 = none */
	uint64_t accept; /* refuse until usage falls below this */
	_Atomic int full;

	/* Slow-path counters: rejects and maintenance, not per put/get. */
	_Atomic uint64_t reject_pool_full;
	_Atomic uint64_t reject_alloc_fail;
	_Atomic uint64_t pool_full_events;
	_Atomic uint64_t flush_objects;
	_Atomic uint64_t compactions;
	_Atomic uint64_t compacted_bytes;

	struct tm_backing *wb; /* the backing file, or NULL */
};

/* What admission compares with the limit: allocator memory + metadata. */
static inline uint64_t pool_usage(struct tmem_pool *pool)
{
	return atomic_load_explicit(&pool->acct.pool_bytes,
				    memory_order_relaxed) +
	       atomic_load_explicit(&pool->acct.meta_bytes,
				    memory_order_relaxed);
}

/*
 * A full pool takes puts again once usage is below the accept threshold,
 * or once it holds no allocator memory at all: the index's tables never
 * shrink, and a limit below them (or a threshold of 0) would otherwise
 * refuse every put forever.  Admission and the writer's target both.
 */
static inline int pool_has_room(struct tmem_pool *pool)
{
	return pool_usage(pool) < pool->accept ||
	       !atomic_load_explicit(&pool->acct.pool_bytes,
				     memory_order_relaxed);
}

#endif /* TMEM_POOL_H */
