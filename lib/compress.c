// SPDX-License-Identifier: MIT
/*
 * compress.c - the compressor table, the per-thread scratch buffer and the
 * experimental public calls that expose the raw compressor path.
 *
 * Each compressor (comp-lz4.c, comp-zstd.c, comp-lzo.c) is one struct
 * comp_ops and owns its per-thread context; this file only maps enum
 * tmem_compressor to those ops.  A pool picks its ops once at creation, so
 * the put and get paths call through one pointer and never look here.
 *
 * Per-thread state, here and in every comp-*.c, follows one pattern:
 *   - a __thread pointer gives the hot path the state with one TLS load;
 *   - the state is allocated on first use through the OS layer (so tests
 *     can make it fail: the caller gets -ENOMEM or NULL, never a crash)
 *     and registered with a pthread key whose destructor frees it when
 *     the thread exits;
 *   - the main thread's keys are not run at exit(), so a library
 *     destructor frees the state of the thread that unloads the library.
 *     Other threads still running at exit keep theirs until the process
 *     ends.
 * Nothing on the compress or decompress path is shared between threads:
 * no locks, no atomics after the one-time key creation.
 *
 * The scratch buffer is COMP_WORST_CASE bytes so the put path can compress
 * into it with any cap, then copy exactly the compressed size into the
 * allocator's object.  It is separate from every compressor's own
 * buffers, so a caller may hold data in it across a compress call.
 */
#define TMEM_EXPERIMENTAL
#include <errno.h>
#include <pthread.h>

#include "compress.h"

/* The bounds of the zstd_level tunable (struct tmem_pool_params). */
#define COMP_ZSTD_LEVEL_MIN 1
#define COMP_ZSTD_LEVEL_MAX 19

static const struct comp_ops *const comp_table[TMEM_COMP_COUNT] = {
	[TMEM_COMP_LZ4] = &comp_lz4_ops,
	[TMEM_COMP_ZSTD] = &comp_zstd_ops,
	[TMEM_COMP_LZO] = &comp_lzo_ops,
};

const struct comp_ops *comp_get(unsigned c)
{
	return c < TM_ARRAY_SIZE(comp_table) ? comp_table[c] : NULL;
}

/* --------------------------------------------------------------------- */
/* Per-thread scratch                                                     */
/* --------------------------------------------------------------------- */

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_err;
static __thread void *scratch_buf;

static void drop_scratch(void *buf)
{
	scratch_buf = NULL;
	tm_free(NULL, buf);
}

static void make_scratch_key(void)
{
	scratch_key_err = pthread_key_create(&scratch_key, drop_scratch);
}

static void *new_scratch(void)
{
	void *buf;

	if (pthread_once(&scratch_once, make_scratch_key) || scratch_key_err)
		return NULL;
	buf = tm_alloc(NULL, COMP_WORST_CASE);
	if (!buf)
		return NULL;
	if (pthread_setspecific(scratch_key, buf)) {
		tm_free(NULL, buf);
		return NULL;
	}
	scratch_buf = buf;
	return buf;
}

void *comp_scratch(void)
{
	if (tm_likely(scratch_buf != NULL))
		return scratch_buf;
	return new_scratch();
}

__attribute__((destructor)) static void free_main_scratch(void)
{
	void *buf = scratch_buf;

	if (!buf)
		return;
	pthread_setspecific(scratch_key, NULL);
	drop_scratch(buf);
}

/* --------------------------------------------------------------------- */
/* Public calls                                                           */
/* --------------------------------------------------------------------- */

TM_EXPORT const char *tmem_compressor_name(unsigned c)
{
	const struct comp_ops *ops = comp_get(c);

	return ops ? ops->name : NULL;
}

TM_EXPORT int tmem_compress_page(unsigned c, int level, const void *page,
				 void *dst, size_t cap)
{
	const struct comp_ops *ops = comp_get(c);

	RETURN_ERR_IF(!ops, -EINVAL, "unknown compressor");
	RETURN_ERR_IF(!page || !dst, -EINVAL, "NULL buffer");
	RETURN_ERR_IF(c == TMEM_COMP_ZSTD && (level < COMP_ZSTD_LEVEL_MIN ||
					      level > COMP_ZSTD_LEVEL_MAX),
		      -EINVAL, "zstd level out of range");
	if (cap == 0)
		return -ENOSPC;
	return ops->compress(level, page, dst, cap);
}

TM_EXPORT int tmem_decompress_page(unsigned c, const void *src, size_t len,
				   void *page)
{
	const struct comp_ops *ops = comp_get(c);

	RETURN_ERR_IF(!ops, -EINVAL, "unknown compressor");
	RETURN_ERR_IF(!src || !page, -EINVAL, "NULL buffer");
	return ops->decompress(src, len, page);
}

TM_EXPORT int tmem_page_is_samefilled(const void *page, uint64_t *word)
{
	if (!page)
		return 0;
	return samefill_check(page, word);
}
