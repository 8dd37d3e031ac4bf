// SPDX-License-Identifier: MIT
/*
 * fuzz-decompress.c - libFuzzer target for the compressor ops.
 *
 * Two properties, for each of lz4, zstd and lzo:
 *   1. Any bytes handed to decompress give 0 or -EIO, and nothing is
 *      written outside the page.  A stored zpage can be corrupted in
 *      memory (or, later, on the backing file); the get path must turn
 *      that into -EIO, never into an overrun.
 *   2. A page built from the input compresses (with cap COMP_WORST_CASE it
 *      always fits), decompresses to the same bytes, and the cap chosen by
 *      the input refuses it exactly when it is larger: with a cap at
 *      least the full size the output is the same bytes, below it the
 *      answer is -ENOSPC, and nothing is written past the cap.
 *
 * The compressors are system libraries built without sanitizers, so ASan
 * cannot see their stores; every output buffer is followed by guard bytes
 * that are checked after each call instead.  Every failure calls abort()
 * so libFuzzer and the replay driver both report it as a crash.
 *
 * Input layout for the round trip (all optional, short inputs still run):
 *   byte 0     padding mode (even: zeros, odd: repeat the input) and level
 *   bytes 1-2  the cap, modulo COMP_WORST_CASE + 1
 *   the rest   page contents, cut or padded to one page
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

#define GUARD 64
#define GUARD_BYTE 0x5a

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, unsigned c)
{
	fprintf(stderr, "fuzz-decompress: %s (%s)\n", what, comp_get(c)->name);
	abort();
}

static void check_guard(const unsigned char *buf, size_t n, unsigned c)
{
	size_t i;

	for (i = 0; i < GUARD; i++)
		if (buf[n + i] != GUARD_BYTE)
			fail("write past the end of a buffer", c);
}

static void build_page(unsigned char *page, const uint8_t *data, size_t size)
{
	const uint8_t *body = size > 3 ? data + 3 : data;
	size_t n = size > 3 ? size - 3 : size, i;

	if (n > TM_PAGE_SIZE)
		n = TM_PAGE_SIZE;
	memcpy(page, body, n);
	if (n == 0 || !(data[0] & 1)) {
		memset(page + n, 0, TM_PAGE_SIZE - n);
		return;
	}
	for (i = n; i < TM_PAGE_SIZE; i++)
		page[i] = page[i - n];
}

static void round_trip(unsigned c, const uint8_t *data, size_t size,
		       unsigned char *page, unsigned char *z, unsigned char *z2,
		       unsigned char *out)
{
	const struct comp_ops *ops = comp_get(c);
	/* Levels 1..9 only: the high ones cost milliseconds per page. */
	int level = size ? 1 + (data[0] >> 1) % 9 : 3;
	size_t cap = size >= 3 ? (((size_t)data[1] << 8) | data[2]) %
					 (COMP_WORST_CASE + 1)
			       : TM_PAGE_SIZE;
	int n, m;

	n = ops->compress(level, page, z, COMP_WORST_CASE);
	check_guard(z, COMP_WORST_CASE, c);
	if (n <= 0 || (size_t)n > COMP_WORST_CASE)
		fail("a page did not fit in COMP_WORST_CASE", c);
	memset(out, 0, TM_PAGE_SIZE);
	if (ops->decompress(z, (size_t)n, out))
		fail("own output did not decompress", c);
	check_guard(out, TM_PAGE_SIZE, c);
	if (memcmp(out, page, TM_PAGE_SIZE))
		fail("round trip changed the page", c);

	memset(z2 + cap, GUARD_BYTE, GUARD);
	m = ops->compress(level, page, z2, cap);
	check_guard(z2, cap, c);
	if ((size_t)n <= cap) {
		if (m != n || memcmp(z, z2, (size_t)n))
			fail("a page that fits the cap was refused or changed",
			     c);
	} else if (m != -ENOSPC) {
		fail("a page over the cap was not refused with -ENOSPC", c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char page[TM_PAGE_SIZE];
	static unsigned char out[TM_PAGE_SIZE + GUARD];
	static unsigned char z[COMP_WORST_CASE + GUARD];
	static unsigned char z2[COMP_WORST_CASE + GUARD];
	unsigned c;

	memset(out + TM_PAGE_SIZE, GUARD_BYTE, GUARD);
	memset(z + COMP_WORST_CASE, GUARD_BYTE, GUARD);
	for (c = 0; c < TMEM_COMP_COUNT; c++) {
		int err = comp_get(c)->decompress(data, size, out);

		if (err != 0 && err != -EIO)
			fail("decompress gave neither 0 nor -EIO", c);
		check_guard(out, TM_PAGE_SIZE, c);
	}
	build_page(page, data, size);
	for (c = 0; c < TMEM_COMP_COUNT; c++)
		round_trip(c, data, size, page, z, z2, out);
	return 0;
}
