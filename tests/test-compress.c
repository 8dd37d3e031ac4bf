// SPDX-License-Identifier: MIT
/*
 * test-compress.c - the compressor ops, the per-thread contexts and the
 * same-filled page check.
 *
 * Every body runs for each compressor (and for zstd at several levels),
 * on synthetic pages of every kind and, when ../shared/corpus is there,
 * on real process pages.  Buffers handed to a compressor are followed by
 * guard bytes that are checked after every call: lz4, zstd and lzo are
 * system libraries not built with ASan, so an overrun by them (or by our
 * cap handling) would otherwise go unseen.
 */
#define TMEM_EXPERIMENTAL
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include <lz4.h>
#include <lzo/lzo1x.h>
#include <zstd.h>

#include "compress.h"
#include "harness.h"

#ifndef TM_CORPUS_DIR
#define TM_CORPUS_DIR "../shared/corpus"
#endif

#define PAGE TM_PAGE_SIZE
#define GUARD 64 /* bytes checked after each buffer */
#define GUARD_BYTE 0xa5

static const int zstd_levels[] = { 1, 3, 9, 19 };

/* --------------------------------------------------------------------- */
/* Pages and buffers                                                      */
/* --------------------------------------------------------------------- */

enum kind {
	K_ZERO,
	K_SAME, /* one repeated non-zero word */
	K_TEXT,
	K_LOWENT, /* random over 16 symbols: compressible, no long matches */
	K_HALF, /* half random, half zero */
	K_RANDOM, /* incompressible */
	K_COUNT
};

static const char *const kind_name[K_COUNT] = {
	"zero", "same-filled", "text", "low-entropy", "half-random", "random",
};

static void fill_random(unsigned char *p, size_t n, uint64_t *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(th_rand(s) >> 56);
}

static void fill_text(unsigned char *p, size_t n, uint64_t *s)
{
	static const char *const words[] = {
		"the ",	    "page ",	"memory ", "compressed ", "pool ",
		"object ",  "index ",	"key=",	   "value ",	  "\n",
		"{\"id\":", "\"name\"", ", ",	   "customer ",	  "order ",
	};
	size_t i = 0;

	while (i < n) {
		char tmp[32];
		uint64_t r = th_rand(s);
		int len, j;

		if (r % 4 == 0)
			len = snprintf(tmp, sizeof(tmp), "%u ",
				       (unsigned)(r >> 40) % 100000);
		else
			len = snprintf(tmp, sizeof(tmp), "%s",
				       words[(r >> 8) % TM_ARRAY_SIZE(words)]);
		for (j = 0; j < len && i < n; j++)
			p[i++] = (unsigned char)tmp[j];
	}
}

static void make_page(unsigned char *p, enum kind k, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
	size_t i;

	switch (k) {
	case K_ZERO:
		memset(p, 0, PAGE);
		break;
	case K_SAME:
		samefill_fill(p, th_rand(&s) | 1);
		break;
	case K_TEXT:
		fill_text(p, PAGE, &s);
		break;
	case K_LOWENT:
		for (i = 0; i < PAGE; i++)
			p[i] = (unsigned char)"abcdefghijklmnop"[th_rand(&s) %
								 16];
		break;
	case K_HALF:
		fill_random(p, PAGE / 2, &s);
		memset(p + PAGE / 2, 0, PAGE / 2);
		break;
	case K_RANDOM:
	default:
		fill_random(p, PAGE, &s);
		break;
	}
}

/* A buffer of @n bytes followed by GUARD guard bytes. */
static unsigned char *guarded(size_t n)
{
	unsigned char *b = malloc(n + GUARD);

	if (b)
		memset(b + n, GUARD_BYTE, GUARD);
	return b;
}

static int guard_ok(const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < GUARD; i++)
		if (b[n + i] != GUARD_BYTE)
			return 0;
	return 1;
}

/* The levels to try for compressor @c: only zstd has more than one. */
static size_t nlevels(unsigned c)
{
	return c == TMEM_COMP_ZSTD ? TM_ARRAY_SIZE(zstd_levels) : 1;
}

static int level_of(unsigned c, size_t i)
{
	return c == TMEM_COMP_ZSTD ? zstd_levels[i] : 0;
}

/*
 * Compress @page with @c at @level and cap COMP_WORST_CASE, decompress it
 * and compare.  Returns the compressed size, or a negative errno.
 */
static int round_trip(unsigned c, int level, const unsigned char *page)
{
	const struct comp_ops *ops = comp_get(c);
	unsigned char *z = guarded(COMP_WORST_CASE);
	unsigned char *out = guarded(PAGE);
	int n, err;

	if (!z || !out) {
		free(z);
		free(out);
		return -ENOMEM;
	}
	n = ops->compress(level, page, z, COMP_WORST_CASE);
	CHECK(n > 0);
	CHECK(guard_ok(z, COMP_WORST_CASE));
	if (n > 0) {
		CHECK(n <= (int)COMP_WORST_CASE);
		err = ops->decompress(z, (size_t)n, out);
		CHECK_EQ(err, 0);
		CHECK_MEM_EQ(out, page, PAGE);
		CHECK(guard_ok(out, PAGE));
	}
	free(z);
	free(out);
	return n;
}

/* --------------------------------------------------------------------- */
/* Round trips                                                            */
/* --------------------------------------------------------------------- */

static void t_roundtrip_synthetic(void)
{
	unsigned char *page = malloc(PAGE);
	unsigned c;
	size_t l;
	int k;
	uint64_t seed;

	REQUIRE(page);
	for (c = 0; c < TMEM_COMP_COUNT; c++)
		for (l = 0; l < nlevels(c); l++)
			for (k = 0; k < K_COUNT; k++)
				for (seed = 1; seed <= 4; seed++) {
					int before = th_cur_failed, n;

					make_page(page, (enum kind)k, seed);
					n = round_trip(c, level_of(c, l), page);
					if (th_cur_failed != before)
						fprintf(stderr,
							"  (%s level %d, %s "
							"page, seed %" PRIu64
							")\n",
							tmem_compressor_name(c),
							level_of(c, l),
							kind_name[k], seed);
					/* Uniform pages must shrink a lot. */
					if (k == K_ZERO || k == K_SAME)
						CHECK(n > 0 && n < 256);
				}
	free(page);
}

/* Pages of every *.pages.zst in the corpus directory, concatenated. */
struct corpus {
	unsigned char *pages;
	size_t npages;
};

static int corpus_add_file(struct corpus *co, const char *path)
{
	unsigned char in[1 << 16];
	ZSTD_DStream *ds = ZSTD_createDStream();
	FILE *f = fopen(path, "rb");
	size_t cap = co->npages * PAGE, len = cap, r;
	int err = -EIO;

	if (!ds || !f)
		goto out;
	while ((r = fread(in, 1, sizeof(in), f)) > 0) {
		ZSTD_inBuffer ib = { in, r, 0 };

		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob;
			size_t ret;

			if (cap - len < sizeof(in) * 4) {
				unsigned char *p;

				cap = cap ? cap * 2 : 16u << 20;
				p = realloc(co->pages, cap);
				if (!p)
					goto out;
				co->pages = p;
			}
			ob.dst = co->pages + len;
			ob.size = cap - len;
			ob.pos = 0;
			ret = ZSTD_decompressStream(ds, &ob, &ib);
			if (ZSTD_isError(ret))
				goto out;
			len += ob.pos;
		}
	}
	co->npages = len / PAGE;
	err = 0;
out:
	if (f)
		fclose(f);
	ZSTD_freeDStream(ds);
	return err;
}

static int corpus_load(struct corpus *co)
{
	const char *dir = getenv("TMEM_TEST_CORPUS");
	struct dirent *de;
	DIR *d;
	int err = 0;

	co->pages = NULL;
	co->npages = 0;
	if (!dir)
		dir = TM_CORPUS_DIR;
	d = opendir(dir);
	if (!d)
		return -ENOENT;
	while (!err && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char path[PATH_MAX];

		if (n < 10 || strcmp(de->d_name + n - 10, ".pages.zst"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		err = corpus_add_file(co, path);
	}
	closedir(d);
	if (!err && !co->npages)
		err = -ENOENT;
	return err;
}

/*
 * Every real page round-trips with every compressor, and the cap decides
 * exactly: a page whose full compressed size fits the cap is never
 * refused, one that does not is always refused with -ENOSPC.
 */
static void t_roundtrip_corpus(void)
{
	unsigned caps[] = { PAGE * 3 / 4, PAGE / 2 };
	struct corpus co;
	unsigned char *z = guarded(COMP_WORST_CASE);
	unsigned char *out = guarded(PAGE);
	unsigned c;
	size_t i, j;
	int loaded = corpus_load(&co);

	if (loaded) {
		free(co.pages);
		free(z);
		free(out);
	}
	SKIP_IF(loaded, "no page corpus (" TM_CORPUS_DIR ")");
	REQUIRE(z && out);
	fprintf(stderr, "  %zu corpus pages\n", co.npages);
	for (c = 0; c < TMEM_COMP_COUNT; c++) {
		const struct comp_ops *ops = comp_get(c);
		int level = c == TMEM_COMP_ZSTD ? 3 : 0;
		size_t bad = 0, total = 0;

		for (i = 0; i < co.npages && bad < 5; i++) {
			const unsigned char *page = co.pages + i * PAGE;
			int n, m, err;

			n = ops->compress(level, page, z, COMP_WORST_CASE);
			if (n <= 0) {
				CHECK(n > 0);
				bad++;
				continue;
			}
			total += (size_t)n;
			err = ops->decompress(z, (size_t)n, out);
			if (err || memcmp(out, page, PAGE)) {
				CHECK_EQ(err, 0);
				CHECK_MEM_EQ(out, page, PAGE);
				bad++;
			}
			for (j = 0; j < TM_ARRAY_SIZE(caps); j++) {
				m = ops->compress(level, page, z, caps[j]);
				if ((size_t)n <= caps[j])
					CHECK_EQ(m, n);
				else
					CHECK_EQ(m, -ENOSPC);
			}
			CHECK(guard_ok(z, COMP_WORST_CASE));
			CHECK(guard_ok(out, PAGE));
		}
		if (bad)
			fprintf(stderr, "  %s: page %zu failed\n", ops->name,
				i - 1);
		else
			fprintf(stderr, "  %s: ratio %.2f\n", ops->name,
				(double)co.npages * PAGE / (double)total);
	}
	free(co.pages);
	free(z);
	free(out);
}

/* Changing the zstd level on one thread's context keeps results right. */
static void t_zstd_level_changes(void)
{
	unsigned char *page = malloc(PAGE);
	int level, pass;

	REQUIRE(page);
	for (pass = 0; pass < 2; pass++)
		for (level = 1; level <= 19; level++) {
			int l = pass ? 20 - level : level;

			make_page(page, K_TEXT, (uint64_t)l);
			CHECK(round_trip(TMEM_COMP_ZSTD, l, page) > 0);
		}
	free(page);
}

/* --------------------------------------------------------------------- */
/* Capacity                                                               */
/* --------------------------------------------------------------------- */

/*
 * With cap = size - 1, or any smaller cap, compress returns -ENOSPC and
 * writes nothing past the cap; with cap = size exactly it succeeds.
 */
static void t_enospc_small_cap(void)
{
	unsigned char *page = malloc(PAGE);
	unsigned char *z = malloc(COMP_WORST_CASE + GUARD);
	unsigned c;
	int k;

	REQUIRE(page && z);
	for (c = 0; c < TMEM_COMP_COUNT; c++) {
		const struct comp_ops *ops = comp_get(c);
		int level = c == TMEM_COMP_ZSTD ? 3 : 0;

		for (k = 0; k < K_COUNT; k++) {
			size_t caps[4];
			size_t j;
			int n;

			make_page(page, (enum kind)k, 7);
			n = ops->compress(level, page, z, COMP_WORST_CASE);
			REQUIRE(n > 0);
			caps[0] = (size_t)n - 1;
			caps[1] = (size_t)n / 2;
			caps[2] = 1;
			caps[3] = (size_t)n;
			for (j = 0; j < TM_ARRAY_SIZE(caps); j++) {
				int m;

				memset(z, 0, COMP_WORST_CASE + GUARD);
				memset(z + caps[j], GUARD_BYTE, GUARD);
				m = ops->compress(level, page, z, caps[j]);
				CHECK(guard_ok(z, caps[j]));
				if (caps[j] == (size_t)n)
					CHECK_EQ(m, n);
				else
					CHECK_EQ(m, -ENOSPC);
			}
		}
	}
	free(page);
	free(z);
}

/* A random page does not fit in a page: every compressor says -ENOSPC. */
static void t_enospc_incompressible(void)
{
	unsigned char *page = malloc(PAGE);
	unsigned char *z = guarded(PAGE);
	unsigned c;
	uint64_t seed;

	REQUIRE(page && z);
	for (c = 0; c < TMEM_COMP_COUNT; c++)
		for (seed = 1; seed <= 8; seed++) {
			make_page(page, K_RANDOM, seed);
			CHECK_EQ(comp_get(c)->compress(3, page, z, PAGE),
				 -ENOSPC);
			CHECK(guard_ok(z, PAGE));
			CHECK_EQ(
				tmem_compress_page(c, 3, page, z, PAGE * 3 / 4),
				-ENOSPC);
			CHECK(guard_ok(z, PAGE));
		}
	free(page);
	free(z);
}

/* --------------------------------------------------------------------- */
/* Corrupt input                                                          */
/* --------------------------------------------------------------------- */

/* Every proper prefix of a valid zpage is rejected with -EIO. */
static void t_decompress_truncated(void)
{
	unsigned char *page = malloc(PAGE);
	unsigned char *z = malloc(COMP_WORST_CASE);
	unsigned char *out = guarded(PAGE);
	unsigned c;
	int k;

	REQUIRE(page && z && out);
	for (c = 0; c < TMEM_COMP_COUNT; c++) {
		const struct comp_ops *ops = comp_get(c);

		for (k = 0; k < K_COUNT; k++) {
			int n, len, bad = 0;

			make_page(page, (enum kind)k, 3);
			n = ops->compress(1, page, z, COMP_WORST_CASE);
			REQUIRE(n > 0);
			for (len = 0; len < n; len++) {
				/* A copy of exactly @len bytes, for ASan. */
				unsigned char *t = malloc((size_t)len + 1);

				REQUIRE(t);
				memcpy(t, z, (size_t)len);
				if (ops->decompress(t, (size_t)len, out) !=
				    -EIO)
					bad++;
				free(t);
			}
			CHECK_EQ(bad, 0);
			CHECK(guard_ok(out, PAGE));
		}
	}
	free(page);
	free(z);
	free(out);
}

/*
 * Flipping any byte of a zpage gives either -EIO or some page (a flipped
 * literal is still a valid stream); never a crash or an overrun.
 */
static void t_decompress_corrupted(void)
{
	unsigned char *page = malloc(PAGE);
	unsigned char *z = malloc(COMP_WORST_CASE);
	unsigned char *out = guarded(PAGE);
	uint64_t s = 42;
	unsigned c;
	int k;

	REQUIRE(page && z && out);
	for (c = 0; c < TMEM_COMP_COUNT; c++) {
		const struct comp_ops *ops = comp_get(c);

		for (k = 0; k < K_COUNT; k++) {
			int n, i, eio = 0, other = 0;

			make_page(page, (enum kind)k, 5);
			n = ops->compress(1, page, z, COMP_WORST_CASE);
			REQUIRE(n > 0);
			for (i = 0; i < n; i++) {
				unsigned char old = z[i];
				int err;

				z[i] ^= (unsigned char)(1 + th_rand(&s) % 255);
				err = ops->decompress(z, (size_t)n, out);
				z[i] = old;
				if (err == -EIO)
					eio++;
				else if (err != 0)
					other++;
			}
			CHECK_EQ(other, 0);
			CHECK(guard_ok(out, PAGE));
			/* The untouched stream still decodes. */
			CHECK_EQ(ops->decompress(z, (size_t)n, out), 0);
			CHECK_MEM_EQ(out, page, PAGE);
			(void)eio;
		}
	}
	free(page);
	free(z);
	free(out);
}

/* Random bytes are (almost always) not a zpage; never a crash. */
static void t_decompress_garbage(void)
{
	unsigned char *junk = malloc(COMP_WORST_CASE);
	unsigned char *out = guarded(PAGE);
	uint64_t s = 99;
	unsigned c;
	int i;

	REQUIRE(junk && out);
	for (c = 0; c < TMEM_COMP_COUNT; c++) {
		int eio = 0;

		for (i = 0; i < 2000; i++) {
			size_t len = th_rand(&s) % COMP_WORST_CASE;
			int err;

			fill_random(junk, len, &s);
			err = comp_get(c)->decompress(junk, len, out);
			CHECK(err == 0 || err == -EIO);
			eio += err == -EIO;
		}
		CHECK(eio > 1900);
		CHECK(guard_ok(out, PAGE));
	}
	free(junk);
	free(out);
}

/*
 * Valid streams that decode to less or more than one page, and a valid
 * page followed by extra bytes, are not zpages: -EIO.
 */
static void t_decompress_wrong_size(void)
{
	static const size_t sizes[] = { 0,	  1,	    PAGE / 2,
					PAGE - 1, PAGE + 1, 2 * PAGE };
	unsigned char *src = calloc(1, 2 * PAGE);
	unsigned char *z = malloc(2 * COMP_WORST_CASE + 16);
	unsigned char *out = guarded(PAGE);
	unsigned char *wrk = malloc(LZO1X_1_MEM_COMPRESS);
	size_t i;

	REQUIRE(src && z && out && wrk);
	REQUIRE_EQ(lzo_init(), LZO_E_OK);
	fill_text(src, 2 * PAGE, &(uint64_t){ 11 });
	for (i = 0; i < TM_ARRAY_SIZE(sizes); i++) {
		size_t zn;
		lzo_uint ln = 0;
		int n;

		n = LZ4_compress_default((const char *)src, (char *)z,
					 (int)sizes[i], 2 * COMP_WORST_CASE);
		REQUIRE(n > 0);
		CHECK_EQ(comp_lz4_ops.decompress(z, (size_t)n, out), -EIO);

		zn = ZSTD_compress(z, 2 * COMP_WORST_CASE, src, sizes[i], 3);
		REQUIRE(!ZSTD_isError(zn));
		CHECK_EQ(comp_zstd_ops.decompress(z, zn, out), -EIO);

		REQUIRE_EQ(lzo1x_1_compress(src, sizes[i], z, &ln, wrk),
			   LZO_E_OK);
		CHECK_EQ(comp_lzo_ops.decompress(z, ln, out), -EIO);
		CHECK(guard_ok(out, PAGE));
	}

	/* A good zpage with one byte after it. */
	for (i = 0; i < TMEM_COMP_COUNT; i++) {
		const struct comp_ops *ops = comp_get((unsigned)i);
		int n = ops->compress(3, src, z, COMP_WORST_CASE);

		REQUIRE(n > 0);
		z[n] = 0;
		CHECK_EQ(ops->decompress(z, (size_t)n, out), 0);
		CHECK_EQ(ops->decompress(z, (size_t)n + 1, out), -EIO);
	}
	free(src);
	free(z);
	free(out);
	free(wrk);
}

/* --------------------------------------------------------------------- */
/* Threads and memory                                                     */
/* --------------------------------------------------------------------- */

#define THREADS 8
#define THREAD_PAGES 150

struct worker {
	pthread_t tid;
	uint64_t seed;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned char page[PAGE], out[PAGE], z[COMP_WORST_CASE];
	uint64_t s = w->seed;
	int i;

	for (i = 0; i < THREAD_PAGES; i++) {
		unsigned c = (unsigned)(th_rand(&s) % TMEM_COMP_COUNT);
		const struct comp_ops *ops = comp_get(c);
		int level = 1 + (int)(th_rand(&s) % 5);
		unsigned char *dst = i % 2 ? comp_scratch() : z;
		int n;

		make_page(page, (enum kind)(th_rand(&s) % K_COUNT),
			  th_rand(&s));
		if (!dst) {
			w->failures++;
			continue;
		}
		n = ops->compress(level, page, dst, COMP_WORST_CASE);
		if (n <= 0 || ops->decompress(dst, (size_t)n, out) ||
		    memcmp(out, page, PAGE))
			w->failures++;
	}
	return NULL;
}

/* Threads compressing at once each get right results (run under TSan). */
static void t_threads(void)
{
	struct worker w[THREADS];
	int i, started = 0, failures = 0;

	for (i = 0; i < THREADS; i++) {
		w[i].seed = 1000 + (uint64_t)i;
		w[i].failures = 0;
		if (pthread_create(&w[i].tid, NULL, work, &w[i]))
			break;
		started++;
	}
	CHECK_EQ(started, THREADS);
	for (i = 0; i < started; i++) {
		pthread_join(w[i].tid, NULL);
		failures += w[i].failures;
	}
	CHECK_EQ(failures, 0);
}

/* OS ops whose malloc fails or counts, to observe the per-thread state. */
static atomic_long live_allocs;
static int fail_malloc;

static void *count_malloc(size_t n)
{
	void *p;

	if (fail_malloc)
		return NULL;
	p = malloc(n);
	if (p)
		atomic_fetch_add(&live_allocs, 1);
	return p;
}

static void *count_realloc(void *p, size_t n)
{
	void *q;

	if (fail_malloc)
		return NULL;
	q = realloc(p, n);
	if (q && !p)
		atomic_fetch_add(&live_allocs, 1);
	return q;
}

static void count_free(void *p)
{
	if (p)
		atomic_fetch_sub(&live_allocs, 1);
	free(p);
}

static const struct tm_os_ops counting_os = {
	.map = NULL,
	.unmap = NULL,
	.discard = NULL,
	.malloc = count_malloc,
	.realloc = count_realloc,
	.free = count_free,
};

struct enomem_result {
	int comp[TMEM_COMP_COUNT];
	int decomp[TMEM_COMP_COUNT];
	int scratch_null;
	int comp_after[TMEM_COMP_COUNT];
};

static void *enomem_thread(void *arg)
{
	struct enomem_result *r = arg;
	unsigned char page[PAGE], z[COMP_WORST_CASE], out[PAGE];
	unsigned c;

	make_page(page, K_TEXT, 1);
	fail_malloc = 1;
	for (c = 0; c < TMEM_COMP_COUNT; c++) {
		r->comp[c] = comp_get(c)->compress(3, page, z, sizeof(z));
		r->decomp[c] = comp_get(c)->decompress(z, 10, out);
	}
	r->scratch_null = comp_scratch() == NULL;
	fail_malloc = 0;
	for (c = 0; c < TMEM_COMP_COUNT; c++) {
		int n = comp_get(c)->compress(3, page, z, sizeof(z));

		r->comp_after[c] =
			n > 0 && !comp_get(c)->decompress(z, (size_t)n, out) &&
			!memcmp(out, page, PAGE);
	}
	return NULL;
}

/*
 * A thread whose contexts cannot be allocated gets -ENOMEM (and a NULL
 * scratch), not a crash; once memory is back the same thread works.
 */
static void t_enomem(void)
{
	struct enomem_result r;
	pthread_t tid;
	unsigned c;

	memset(&r, 0, sizeof(r));
	tm_os_set(&counting_os);
	REQUIRE_EQ(pthread_create(&tid, NULL, enomem_thread, &r), 0);
	pthread_join(tid, NULL);
	tm_os_set(NULL);
	for (c = 0; c < TMEM_COMP_COUNT; c++) {
		CHECK_EQ(r.comp[c], -ENOMEM);
		CHECK_EQ(r.comp_after[c], 1);
	}
	/* lz4 and lzo decode without state; zstd needs its context. */
	CHECK_EQ(r.decomp[TMEM_COMP_LZ4], -EIO);
	CHECK_EQ(r.decomp[TMEM_COMP_ZSTD], -ENOMEM);
	CHECK_EQ(r.decomp[TMEM_COMP_LZO], -EIO);
	CHECK(r.scratch_null);
}

static void *use_everything(void *arg)
{
	unsigned char page[PAGE], out[PAGE];
	unsigned c;
	int *ok = arg;

	make_page(page, K_TEXT, 2);
	*ok = comp_scratch() != NULL;
	for (c = 0; c < TMEM_COMP_COUNT; c++) {
		unsigned char *z = comp_scratch();
		int n = comp_get(c)->compress(3, page, z, COMP_WORST_CASE);

		*ok &= n > 0 && !comp_get(c)->decompress(z, (size_t)n, out);
	}
	return NULL;
}

/* Everything a thread allocated for compression is freed when it exits. */
static void t_thread_exit_frees(void)
{
	pthread_t tid;
	long during;
	int ok = 0;

	atomic_store(&live_allocs, 0);
	tm_os_set(&counting_os);
	REQUIRE_EQ(pthread_create(&tid, NULL, use_everything, &ok), 0);
	pthread_join(tid, NULL);
	during = atomic_load(&live_allocs);
	tm_os_set(NULL);
	CHECK(ok);
	CHECK_EQ(during, 0);
}

/* --------------------------------------------------------------------- */
/* Same-filled pages                                                      */
/* --------------------------------------------------------------------- */

/*
 * A page that differs from a uniform one in any single byte is not
 * same-filled, at any alignment of the buffer.
 */
static void t_samefill_every_position(void)
{
	static const uint64_t words[] = { 0, ~0ull, 0x0123456789abcdefull,
					  0xdeadbeefdeadbeefull };
	unsigned char *buf = malloc(PAGE + 8);
	size_t off, w, i;

	REQUIRE(buf);
	for (off = 0; off < 8; off++) {
		unsigned char *p = buf + off;

		for (w = 0; w < TM_ARRAY_SIZE(words); w++) {
			uint64_t got = 1;
			int misses = 0;

			samefill_fill(p, words[w]);
			CHECK_EQ(samefill_check(p, &got), 1);
			CHECK(got == words[w]);
			for (i = 0; i < PAGE; i++) {
				p[i] ^= 0x10;
				misses += samefill_check(p, NULL) != 0;
				p[i] ^= 0x10;
			}
			CHECK_EQ(misses, 0);
			CHECK_EQ(samefill_check(p, NULL), 1);
		}
	}
	free(buf);
}

/* samefill_fill() writes the word in memory order, at any alignment. */
static void t_samefill_fill(void)
{
	unsigned char *buf = malloc(PAGE + 16);
	uint64_t word = 0x1122334455667788ull;
	size_t off, i;

	REQUIRE(buf);
	for (off = 0; off < 8; off++) {
		unsigned char *p = buf + off;
		int bad = 0;

		memset(buf, 0xee, PAGE + 16);
		samefill_fill(p, word);
		for (i = 0; i < PAGE; i += 8)
			bad += memcmp(p + i, &word, 8) != 0;
		CHECK_EQ(bad, 0);
		CHECK_EQ(buf[off + PAGE], 0xee);
		if (off)
			CHECK_EQ(buf[off - 1], 0xee);
		samefill_fill(p, 0x4242424242424242ull);
		for (i = 0; i < PAGE; i++)
			bad += p[i] != 0x42;
		CHECK_EQ(bad, 0);
	}
	free(buf);
}

/* Pages with a uniform head or tail, or a repeated 32-bit word pair. */
static void t_samefill_near_misses(void)
{
	unsigned char *p = malloc(PAGE);
	uint64_t word = 7;

	REQUIRE(p);
	memset(p, 0, PAGE);
	p[PAGE - 1] = 1;
	CHECK_EQ(samefill_check(p, &word), 0);
	CHECK_EQ(word, 7);
	memset(p, 0, PAGE);
	p[0] = 1;
	CHECK_EQ(samefill_check(p, NULL), 0);
	memset(p, 0, PAGE);
	p[PAGE / 2 + 3] = 1;
	CHECK_EQ(samefill_check(p, NULL), 0);
	/* Period 4 bytes is also period 8: same-filled. */
	memset(p, 0, PAGE);
	for (size_t i = 0; i < PAGE; i += 4)
		memcpy(p + i, "abcd", 4);
	CHECK_EQ(samefill_check(p, &word), 1);
	CHECK_MEM_EQ(&word, "abcdabcd", 8);
	/* Period 16 bytes is not. */
	for (size_t i = 0; i < PAGE; i += 16)
		memcpy(p + i, "0123456789abcdef", 16);
	CHECK_EQ(samefill_check(p, NULL), 0);
	free(p);
}

/* --------------------------------------------------------------------- */
/* Public calls                                                           */
/* --------------------------------------------------------------------- */

static void t_public_api(void)
{
	unsigned char *page = malloc(PAGE), *out = malloc(PAGE);
	unsigned char z[COMP_WORST_CASE];
	uint64_t word = 0;
	unsigned c;

	REQUIRE(page && out);
	CHECK(!strcmp(tmem_compressor_name(TMEM_COMP_LZ4), "lz4"));
	CHECK(!strcmp(tmem_compressor_name(TMEM_COMP_ZSTD), "zstd"));
	CHECK(!strcmp(tmem_compressor_name(TMEM_COMP_LZO), "lzo"));
	CHECK(tmem_compressor_name(TMEM_COMP_COUNT) == NULL);
	CHECK(tmem_compressor_name(UINT_MAX) == NULL);
	CHECK(comp_get(TMEM_COMP_COUNT) == NULL);

	make_page(page, K_TEXT, 9);
	CHECK_EQ(tmem_compress_page(TMEM_COMP_COUNT, 1, page, z, sizeof(z)),
		 -EINVAL);
	CHECK_EQ(tmem_compress_page(TMEM_COMP_LZ4, 1, NULL, z, sizeof(z)),
		 -EINVAL);
	CHECK_EQ(tmem_compress_page(TMEM_COMP_LZ4, 1, page, NULL, 100),
		 -EINVAL);
	CHECK_EQ(tmem_compress_page(TMEM_COMP_ZSTD, 0, page, z, sizeof(z)),
		 -EINVAL);
	CHECK_EQ(tmem_compress_page(TMEM_COMP_ZSTD, 20, page, z, sizeof(z)),
		 -EINVAL);
	CHECK_EQ(tmem_compress_page(TMEM_COMP_LZ4, 1, page, z, 0), -ENOSPC);
	CHECK_EQ(tmem_decompress_page(TMEM_COMP_COUNT, z, 10, out), -EINVAL);
	CHECK_EQ(tmem_decompress_page(TMEM_COMP_LZ4, NULL, 10, out), -EINVAL);
	CHECK_EQ(tmem_decompress_page(TMEM_COMP_LZ4, z, 10, NULL), -EINVAL);
	for (c = 0; c < TMEM_COMP_COUNT; c++) {
		/* Levels other than zstd's are ignored. */
		int n = tmem_compress_page(c, c == TMEM_COMP_ZSTD ? 19 : -5,
					   page, z, sizeof(z));

		REQUIRE(n > 0);
		memset(out, 0, PAGE);
		CHECK_EQ(tmem_decompress_page(c, z, (size_t)n, out), 0);
		CHECK_MEM_EQ(out, page, PAGE);
		CHECK_EQ(tmem_decompress_page(c, z, (size_t)n - 1, out), -EIO);
	}
	CHECK_EQ(tmem_page_is_samefilled(page, &word), 0);
	CHECK_EQ(tmem_page_is_samefilled(NULL, &word), 0);
	samefill_fill(page, 0xabcdef);
	CHECK_EQ(tmem_page_is_samefilled(page, &word), 1);
	CHECK_EQ(word, 0xabcdef);
	CHECK_EQ(tmem_page_is_samefilled(page, NULL), 1);
	free(page);
	free(out);
}

int main(void)
{
	RUN(t_roundtrip_synthetic,
	    "every compressor round-trips every kind of page byte-identically");
	RUN(t_roundtrip_corpus,
	    "real pages round-trip; the cap refuses exactly the pages over it");
	RUN(t_zstd_level_changes,
	    "zstd round-trips while the level changes on one context");
	RUN(t_enospc_small_cap,
	    "a cap below the compressed size gives -ENOSPC, no write past it");
	RUN(t_enospc_incompressible,
	    "random pages do not fit in a page: -ENOSPC");
	RUN(t_decompress_truncated, "every truncated zpage gives -EIO");
	RUN(t_decompress_corrupted,
	    "corrupted zpages give -EIO or a page, never an overrun");
	RUN(t_decompress_garbage, "random bytes give -EIO, never a crash");
	RUN(t_decompress_wrong_size,
	    "streams of another size or with trailing bytes give -EIO");
	RUN(t_threads, "threads compressing concurrently get right results");
	RUN(t_enomem, "failed context allocation gives -ENOMEM, then recovers");
	RUN(t_thread_exit_frees, "a thread's contexts are freed when it exits");
	RUN(t_samefill_every_position,
	    "one differing byte anywhere, at any alignment, is not same-filled");
	RUN(t_samefill_fill, "samefill_fill writes the word at any alignment");
	RUN(t_samefill_near_misses,
	    "uniform heads and tails are not same-filled; period 4 is");
	RUN(t_public_api,
	    "tmem_compress_page and friends check arguments and round-trip");
	return th_finish();
}
