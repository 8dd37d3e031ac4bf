// SPDX-License-Identifier: MIT
/*
 * comp-zstd.c - zstd behind struct comp_ops.
 *
 * zstd gives the best ratio of the three, at a speed set by the level
 * (the pool's zstd_level tunable, passed on every call).  A page is one
 * standard zstd frame: its few header bytes are kept because they make a
 * stored page checkable with the zstd tool and cost well under 1% of a
 * typical zpage.
 *
 * Contexts are per thread (see compress.c for the pattern), created
 * separately on first use: a thread that only reads pages back never
 * builds a compression context.  ZSTD_compressCCtx() takes the level with
 * each call and keeps the context's workspace between calls, so a stable
 * level costs no allocation after the first page; zstd sizes its tables
 * for a 4 KiB input, which keeps even high levels' contexts small.
 *
 * zstd allocates through the OS layer (ZSTD_customMem), so allocation
 * failures can be injected like everywhere else; they come back as
 * -ENOMEM and the next call tries again.  ZSTD_createCCtx_advanced() is in
 * zstd's static-linking section but exported by libzstd.so since 1.3; it
 * is the only such call used here.
 *
 * zstd's bit streams want a few bytes of slack at the end of the output:
 * given exactly the room a page compresses to, ZSTD_compressCCtx() fails
 * (by 8 or 9 bytes on the corpus pages).  zstd also has no early exit: it
 * compresses the whole 4 KiB block before finding it does not fit.  So,
 * below the bound of one page, it compresses into a per-thread buffer of
 * that bound and copies the result if it fits the cap: the cap then
 * refuses exactly the pages larger than it, for one memcpy of the output
 * (well under 1% of the compression time).
 *
 * ZSTD_decompressDCtx() is safe on any input; with room for exactly one
 * page, a frame that declares or produces more fails, and one that
 * produces less is caught by the size check.
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_customMem, *_advanced() */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "compress.h"

/* ZSTD_COMPRESSBOUND() of one page: any page fits, compressed or raw. */
#define ZSTD_PAGE_BOUND ZSTD_COMPRESSBOUND(TM_PAGE_SIZE)

struct zstd_tls {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	unsigned char out[ZSTD_PAGE_BOUND];
};

static pthread_key_t zstd_key;
static pthread_once_t zstd_once = PTHREAD_ONCE_INIT;
static int zstd_key_err;
static __thread struct zstd_tls *zstd_tls;

static void *zstd_alloc(void *opaque, size_t n)
{
	(void)opaque;
	return tm_os()->malloc(n);
}

static void zstd_free(void *opaque, void *p)
{
	(void)opaque;
	tm_os()->free(p);
}

static const ZSTD_customMem zstd_mem = {
	.customAlloc = zstd_alloc,
	.customFree = zstd_free,
	.opaque = NULL,
};

static void drop_tls(void *arg)
{
	struct zstd_tls *t = arg;

	zstd_tls = NULL;
	ZSTD_freeCCtx(t->cctx);
	ZSTD_freeDCtx(t->dctx);
	tm_free(NULL, t);
}

static void make_key(void)
{
	zstd_key_err = pthread_key_create(&zstd_key, drop_tls);
}

static struct zstd_tls *new_tls(void)
{
	struct zstd_tls *t;

	if (pthread_once(&zstd_once, make_key) || zstd_key_err)
		return NULL;
	t = tm_zalloc(NULL, sizeof(*t));
	if (!t)
		return NULL;
	if (pthread_setspecific(zstd_key, t)) {
		tm_free(NULL, t);
		return NULL;
	}
	zstd_tls = t;
	return t;
}

static inline struct zstd_tls *get_tls(void)
{
	struct zstd_tls *t = zstd_tls;

	return tm_likely(t != NULL) ? t : new_tls();
}

__attribute__((destructor)) static void free_main_tls(void)
{
	struct zstd_tls *t = zstd_tls;

	if (!t)
		return;
	pthread_setspecific(zstd_key, NULL);
	drop_tls(t);
}

static int zstd_result(size_t n)
{
	if (tm_likely(!ZSTD_isError(n)))
		return (int)n;
	switch (ZSTD_getErrorCode(n)) {
	case ZSTD_error_dstSize_tooSmall:
		return -ENOSPC;
	case ZSTD_error_memory_allocation:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

static int zstd_compress(int level, const void *page, void *dst, size_t cap)
{
	struct zstd_tls *t = get_tls();
	size_t n;

	if (tm_unlikely(!t))
		return -ENOMEM;
	if (tm_unlikely(!t->cctx)) {
		t->cctx = ZSTD_createCCtx_advanced(zstd_mem);
		if (!t->cctx)
			return -ENOMEM;
	}
	if (cap >= ZSTD_PAGE_BOUND) {
		n = ZSTD_compressCCtx(t->cctx, dst, cap, page, TM_PAGE_SIZE,
				      level);
		return zstd_result(n);
	}
	n = ZSTD_compressCCtx(t->cctx, t->out, sizeof(t->out), page,
			      TM_PAGE_SIZE, level);
	if (tm_unlikely(ZSTD_isError(n)))
		return zstd_result(n);
	if (n > cap)
		return -ENOSPC;
	memcpy(dst, t->out, n);
	return (int)n;
}

static int zstd_decompress(const void *src, size_t len, void *page)
{
	struct zstd_tls *t = get_tls();
	size_t n;

	if (tm_unlikely(!t))
		return -ENOMEM;
	if (tm_unlikely(!t->dctx)) {
		t->dctx = ZSTD_createDCtx_advanced(zstd_mem);
		if (!t->dctx)
			return -ENOMEM;
	}
	n = ZSTD_decompressDCtx(t->dctx, page, TM_PAGE_SIZE, src, len);
	if (tm_likely(n == TM_PAGE_SIZE))
		return 0;
	if (ZSTD_isError(n) &&
	    ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation)
		return -ENOMEM;
	return -EIO;
}

const struct comp_ops comp_zstd_ops = {
	.name = "zstd",
	.compress = zstd_compress,
	.decompress = zstd_decompress,
};
