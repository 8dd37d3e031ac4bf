// SPDX-License-Identifier: MIT
/*
 * comp-lz4.c - lz4 (block format, acceleration 1) behind struct comp_ops.
 *
 * lz4 is the default compressor: the fastest of the three by far, at a
 * ratio a little below zstd's.  A page is one lz4 block with no frame
 * around it: the store knows the compressed length (it is the object's
 * size) and the decompressed length (always one page), which is all the
 * block decoder needs, so a frame header would only waste bytes.
 *
 * The compression state (LZ4_sizeofState(), about 16 KiB) is per thread
 * (see compress.c for the pattern): LZ4_compress_fast_extState() with the
 * caller's state instead of LZ4_compress_default(), which would put it on
 * the stack of every put.  With a cap below LZ4_compressBound() lz4 runs
 * in limited-output mode and gives up as soon as the output would pass the
 * cap, which is how the put path cuts a poorly compressing page short.
 *
 * Decompression needs no state.  LZ4_decompress_safe() never reads past
 * the input nor writes past the page, whatever the input; the page is
 * valid only if it decodes to exactly TM_PAGE_SIZE bytes.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>

#include <lz4.h>

#include "compress.h"

#define LZ4_ACCEL 1 /* lz4's default; higher trades ratio for speed */

static pthread_key_t lz4_key;
static pthread_once_t lz4_once = PTHREAD_ONCE_INIT;
static int lz4_key_err;
static __thread void *lz4_state;

static void drop_state(void *state)
{
	lz4_state = NULL;
	tm_free(NULL, state);
}

static void make_key(void)
{
	lz4_key_err = pthread_key_create(&lz4_key, drop_state);
}

static void *new_state(void)
{
	void *state;

	if (pthread_once(&lz4_once, make_key) || lz4_key_err)
		return NULL;
	state = tm_alloc(NULL, (size_t)LZ4_sizeofState());
	if (!state)
		return NULL;
	if (pthread_setspecific(lz4_key, state)) {
		tm_free(NULL, state);
		return NULL;
	}
	lz4_state = state;
	return state;
}

__attribute__((destructor)) static void free_main_state(void)
{
	void *state = lz4_state;

	if (!state)
		return;
	pthread_setspecific(lz4_key, NULL);
	drop_state(state);
}

static int lz4_compress(int level, const void *page, void *dst, size_t cap)
{
	void *state = lz4_state;
	int n;

	(void)level;
	if (tm_unlikely(!state)) {
		state = new_state();
		if (!state)
			return -ENOMEM;
	}
	if (cap > INT_MAX)
		cap = INT_MAX;
	n = LZ4_compress_fast_extState(state, page, dst, (int)TM_PAGE_SIZE,
				       (int)cap, LZ4_ACCEL);
	return n > 0 ? n : -ENOSPC;
}

static int lz4_decompress(const void *src, size_t len, void *page)
{
	int n;

	if (len > INT_MAX)
		return -EIO;
	n = LZ4_decompress_safe(src, page, (int)len, (int)TM_PAGE_SIZE);
	return n == (int)TM_PAGE_SIZE ? 0 : -EIO;
}

const struct comp_ops comp_lz4_ops = {
	.name = "lz4",
	.compress = lz4_compress,
	.decompress = lz4_decompress,
};
