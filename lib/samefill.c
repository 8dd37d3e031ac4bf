// SPDX-License-Identifier: MIT
/*
 * samefill.c - pages made of one repeated 64-bit word.
 *
 * A zeroed page, or one filled with a poison pattern such as 0xdeadbeef...,
 * is common in real memory (zram counts them as "same" pages).  The store
 * keeps such a page as its word in the index slot: no compression and no
 * allocation.  samefill_check() runs on every put, before the compressor,
 * so it must cost almost nothing on the many pages that are not uniform.
 *
 * Why it is built this way:
 *   - Pages come from the caller at any alignment, so words are loaded
 *     with memcpy (the compiler turns it into one unaligned load on x86 and
 *     arm64; a cast would be undefined behaviour and trap elsewhere).
 *   - The last word is compared first: a page with a uniform head (a
 *     partly used buffer, a zeroed struct followed by data) is refused
 *     without walking it.
 *   - The loop compares four words per iteration and folds the four
 *     differences into one test, so the common "uniform so far" case costs
 *     one branch per 32 bytes; it stops within 32 bytes of the first
 *     mismatch.
 *
 * No state, no locks: callable from any thread and from the preload shim.
 */
#include <string.h>

#include "compress.h"

#define SAMEFILL_WORDS (TM_PAGE_SIZE / sizeof(uint64_t))
#define SAMEFILL_UNROLL 4 /* words compared per iteration */
_Static_assert(SAMEFILL_WORDS % SAMEFILL_UNROLL == 0,
	       "the unrolled loop must cover the page exactly");

static inline uint64_t load(const unsigned char *p, size_t i)
{
	uint64_t w;

	memcpy(&w, p + i * sizeof(w), sizeof(w));
	return w;
}

int samefill_check(const void *page, uint64_t *word)
{
	const unsigned char *p = page;
	uint64_t w = load(p, 0);
	size_t i;

	if (load(p, SAMEFILL_WORDS - 1) != w)
		return 0;
	for (i = 0; i < SAMEFILL_WORDS; i += SAMEFILL_UNROLL) {
		uint64_t diff = (load(p, i) ^ w) | (load(p, i + 1) ^ w) |
				(load(p, i + 2) ^ w) | (load(p, i + 3) ^ w);

		if (diff)
			return 0;
	}
	if (word)
		*word = w;
	return 1;
}

/* A word of one repeated byte (zero above all) is a plain memset. */
static int is_byte_pattern(uint64_t word)
{
	return word == (word & 0xff) * 0x0101010101010101ull;
}

void samefill_fill(void *page, uint64_t word)
{
	unsigned char *p = page;
	size_t i;

	if (is_byte_pattern(word)) {
		memset(p, (int)(word & 0xff), TM_PAGE_SIZE);
		return;
	}
	for (i = 0; i < SAMEFILL_WORDS; i++)
		memcpy(p + i * sizeof(word), &word, sizeof(word));
}
