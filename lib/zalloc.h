/* SPDX-License-Identifier: MIT */
/*
 * zalloc.h - the allocator ops table (the kernel's zpool_driver pattern).
 *
 * An allocator stores zpages (1..TM_PAGE_SIZE bytes each) and hands out
 * handles, not pointers.  Callers reach the bytes only between map() and
 * unmap(); compaction may move the bytes between two such brackets, and
 * the handle stays valid.  zsmalloc (lib/zsmalloc.c) is the dense one;
 * zbud will come with ephemeral pools.
 */
#ifndef TMEM_ZALLOC_H
#define TMEM_ZALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/*
 * Handles are non-zero and below 2^ZALLOC_HANDLE_BITS, so the index can
 * keep a handle and a 2-bit tag in one 64-bit slot.
 */
#define ZALLOC_HANDLE_BITS 56

struct zalloc_config {
	struct tm_acct *acct; /* charged for pages and metadata */
	unsigned max_pages_per_zspage; /* 1..ZS_MAX_PAGES; 0 = default */
};

struct zalloc_stats {
	uint64_t pool_bytes; /* pages held from the OS * TM_PAGE_SIZE */
	uint64_t zspages;
	uint64_t objs; /* live objects */
	uint64_t used_bytes; /* sum of live objects' exact sizes */
	uint64_t raw_objs; /* live objects of exactly TM_PAGE_SIZE bytes */
};

/*
 * Called by evict() for each live object of a zspage being emptied, under
 * the allocator's class lock: it must not call into the allocator.  Return
 * 0 when the object has been dealt with (written elsewhere, or dropped):
 * the allocator then frees it and its handle becomes invalid.  Return a
 * negative errno to stop eviction; the object stays.
 */
typedef int (*zalloc_evict_fn)(void *arg, uint64_t handle, const void *obj,
			       size_t len);

struct zalloc_ops {
	const char *name;
	int (*create)(const struct zalloc_config *cfg, void **out);
	void (*destroy)(void *zp); /* accepts NULL; frees every object */
	/*
	 * Allocate @len bytes (1..TM_PAGE_SIZE), copy @src in, return the
	 * handle.  -EINVAL for a bad length, -ENOMEM if no memory.
	 */
	int (*store)(void *zp, const void *src, size_t len, uint64_t *handle);
	void (*free)(void *zp, uint64_t handle);
	/*
	 * Read access: returns the bytes and their exact length.  Until
	 * unmap(), the object cannot move; other maps may run concurrently,
	 * and store/free/compact of the same size class wait.  Never nest two
	 * maps in one thread.
	 */
	const void *(*map)(void *zp, uint64_t handle, size_t *len);
	void (*unmap)(void *zp, uint64_t handle);
	/* Move objects to empty sparse zspages; return bytes freed. */
	uint64_t (*compact)(void *zp);
	/*
	 * Free up to @nr_zspages whole zspages by evicting their objects
	 * through @fn.  Return the number of zspages freed, or the negative
	 * errno @fn returned if it stopped before any was freed.
	 */
	int (*evict)(void *zp, unsigned nr_zspages, zalloc_evict_fn fn,
		     void *arg);
	void (*stats)(void *zp, struct zalloc_stats *st);
	/* Per-class stats for class @idx; -ENOENT past the last class. */
	int (*class_stats)(void *zp, unsigned idx, struct tmem_class_stats *cs);
};

extern const struct zalloc_ops zs_ops;

/* The ops for enum tmem_allocator @a, or NULL if @a is unknown. */
const struct zalloc_ops *zalloc_get(unsigned a);

#endif /* TMEM_ZALLOC_H */
