// SPDX-License-Identifier: MIT
/*
 * comp-lzo.c - lzo1x-1 behind struct comp_ops.
 *
 * lzo1x-1 is what zram, zswap and the tmem seeds started with; it is kept
 * for comparison with them.  A page is one raw lzo1x stream, no header.
 *
 * lzo1x_1_compress() has no output capacity: it may write up to
 * COMP_WORST_CASE bytes for an incompressible page.  So unless the caller's
 * buffer is that large, it compresses into a per-thread buffer of that size
 * and copies the result out only if it fits the cap; a poorly compressing
 * page costs a full compression here, unlike lz4 and zstd.  The per-thread
 * state (see compress.c for the pattern) is that buffer and the
 * compressor's work memory (LZO1X_1_MEM_COMPRESS, 128 KiB on 64-bit), in
 * one allocation.
 *
 * lzo_init() checks that the library matches the header; it runs once
 * (pthread_once) before the first call and, should it fail, every call
 * returns -EINVAL: the library cannot be used.  Decompression uses
 * lzo1x_decompress_safe(), which checks every read and write against the
 * input and output lengths, and requires the stream to end exactly at
 * @len and to make exactly one page.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <lzo/lzo1x.h>

#include "compress.h"

/*
 * lzo's prototypes take non-const pointers for what they only read; go
 * through uintptr_t to drop the qualifier without a -Wcast-qual warning.
 */
#define LZO_IN(p) ((lzo_bytep)(uintptr_t)(p))

/* Per-thread state: the worst-case output buffer, then the work memory. */
struct lzo_tls {
	unsigned char out[COMP_WORST_CASE];
	_Alignas(16) unsigned char wrkmem[LZO1X_1_MEM_COMPRESS];
};

static pthread_key_t lzo_key;
static pthread_once_t lzo_once = PTHREAD_ONCE_INIT;
static int lzo_setup_err;
static __thread struct lzo_tls *lzo_tls;

static void drop_tls(void *t)
{
	lzo_tls = NULL;
	tm_free(NULL, t);
}

static void setup(void)
{
	if (lzo_init() != LZO_E_OK) {
		lzo_setup_err = -EINVAL;
		return;
	}
	if (pthread_key_create(&lzo_key, drop_tls))
		lzo_setup_err = -ENOMEM;
}

static int setup_once(void)
{
	if (pthread_once(&lzo_once, setup))
		return -EINVAL;
	return lzo_setup_err;
}

static int new_tls(struct lzo_tls **out)
{
	struct lzo_tls *t;
	int err = setup_once();

	if (err)
		return err;
	t = tm_alloc(NULL, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (pthread_setspecific(lzo_key, t)) {
		tm_free(NULL, t);
		return -ENOMEM;
	}
	lzo_tls = t;
	*out = t;
	return 0;
}

__attribute__((destructor)) static void free_main_tls(void)
{
	struct lzo_tls *t = lzo_tls;

	if (!t)
		return;
	pthread_setspecific(lzo_key, NULL);
	drop_tls(t);
}

static int lzo_compress(int level, const void *page, void *dst, size_t cap)
{
	struct lzo_tls *t = lzo_tls;
	lzo_uint n = 0;
	int err;

	(void)level;
	if (tm_unlikely(!t)) {
		err = new_tls(&t);
		if (err)
			return err;
	}
	if (cap >= COMP_WORST_CASE) {
		err = lzo1x_1_compress(LZO_IN(page), TM_PAGE_SIZE, dst, &n,
				       t->wrkmem);
		return err == LZO_E_OK ? (int)n : -EINVAL;
	}
	err = lzo1x_1_compress(LZO_IN(page), TM_PAGE_SIZE, t->out, &n,
			       t->wrkmem);
	if (err != LZO_E_OK)
		return -EINVAL;
	if (n > cap)
		return -ENOSPC;
	memcpy(dst, t->out, n);
	return (int)n;
}

static int lzo_decompress(const void *src, size_t len, void *page)
{
	lzo_uint n = TM_PAGE_SIZE;
	int err = setup_once();

	if (tm_unlikely(err))
		return err;
	err = lzo1x_decompress_safe(LZO_IN(src), len, page, &n, NULL);
	return err == LZO_E_OK && n == TM_PAGE_SIZE ? 0 : -EIO;
}

const struct comp_ops comp_lzo_ops = {
	.name = "lzo",
	.compress = lzo_compress,
	.decompress = lzo_decompress,
};
