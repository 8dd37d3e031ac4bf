/* SPDX-License-Identifier: MIT */
/*
 * compress.h - the compressor ops table (lib/compress.c and comp-*.c).
 *
 * Each compressor works on one page at a time with contexts and scratch
 * that belong to the calling thread (created on first use, freed when the
 * thread exits), so the put/get paths take no lock and share no state.
 */
#ifndef TMEM_COMPRESS_H
#define TMEM_COMPRESS_H

#include <stddef.h>

#include "internal.h"

/*
 * Bytes a compressor may need for one page in the worst case (lzo1x has no
 * output bound parameter: it needs n + n/16 + 64 + 3).
 */
#define COMP_WORST_CASE (TM_PAGE_SIZE + TM_PAGE_SIZE / 16 + 64 + 3)

struct comp_ops {
	const char *name;
	/*
	 * Compress one page into @dst (@cap bytes).  Return the size (> 0);
	 * -ENOSPC if the result would exceed @cap (the compressor may stop
	 * early: this is how poorly compressing pages are cut short);
	 * -ENOMEM if the thread's context could not be made.
	 */
	int (*compress)(int level, const void *page, void *dst, size_t cap);
	/*
	 * Decompress exactly @len bytes into one page.  Return 0; -EIO if
	 * the data is corrupt or does not make exactly one page; -ENOMEM.
	 */
	int (*decompress)(const void *src, size_t len, void *page);
};

extern const struct comp_ops comp_lz4_ops;
extern const struct comp_ops comp_zstd_ops;
extern const struct comp_ops comp_lzo_ops;

/* The ops for enum tmem_compressor @c, or NULL if @c is unknown. */
const struct comp_ops *comp_get(unsigned c);

/*
 * The calling thread's scratch buffer of COMP_WORST_CASE bytes (for the
 * put path's compressed output), or NULL if it could not be allocated.
 */
void *comp_scratch(void);

/*
 * 1 if @page is one 64-bit word repeated (stored in *@word), else 0.
 * Stops at the first differing word, so non-uniform pages cost little.
 */
int samefill_check(const void *page, uint64_t *word);
/* Fill @page with @word repeated. */
void samefill_fill(void *page, uint64_t word);

#endif /* TMEM_COMPRESS_H */
