// SPDX-License-Identifier: MIT
/*
 * test-badinput.c - bad arguments, a full pool and failing memory give the
 * documented errno and corrupt nothing.
 *
 * Failures are injected through the OS layer's ops table (tm_os_set):
 * after N successful malloc/mmap calls, every further one fails, so each
 * allocation site on the put path is hit in turn.
 */
#include <errno.h>
#include <pthread.h>

#include "harness.h"
#include "internal.h"
#include "pagegen.h"
#include "pool.h"

static struct tmem_pool *new_pool(uint64_t pool_max, unsigned accept)
{
	struct tmem_pool_params p;
	struct tmem_pool *pool = NULL;

	tmem_params_init(&p);
	p.pool_max = pool_max;
	p.accept_threshold = accept;
	if (tmem_pool_create(&p, &pool))
		return NULL;
	return pool;
}

static void test_null_arguments(void)
{
	struct tmem_pool *pool = new_pool(0, 90);
	unsigned char page[PG_SIZE] = { 1 };
	struct tmem_stats st = { .size = sizeof(st) };

	REQUIRE(pool);
	CHECK_EQ(tmem_pool_create(NULL, NULL), -EINVAL);
	CHECK_EQ(tmem_put_page(NULL, 0, 0, page), -EINVAL);
	CHECK_EQ(tmem_put_page(pool, 0, 0, NULL), -EINVAL);
	CHECK_EQ(tmem_get_page(NULL, 0, 0, page), -EINVAL);
	CHECK_EQ(tmem_get_page(pool, 0, 0, NULL), -EINVAL);
	CHECK_EQ(tmem_flush_page(NULL, 0, 0), -EINVAL);
	CHECK_EQ(tmem_flush_object(NULL, 0), -EINVAL);
	CHECK_EQ(tmem_pool_compact(NULL, NULL), -EINVAL);
	CHECK_EQ(tmem_stats_get(NULL, &st), -EINVAL);
	CHECK_EQ(tmem_stats_get(pool, NULL), -EINVAL);
	st.size = 4; /* too small for the header */
	CHECK_EQ(tmem_stats_get(pool, &st), -EINVAL);
	CHECK_EQ(tmem_stats_json(NULL, NULL, 0), -EINVAL);
	CHECK_EQ(tmem_params_init_size(NULL, sizeof(struct tmem_pool_params)),
		 -EINVAL);
	tmem_pool_destroy(pool);
}

static void test_bad_params(void)
{
	struct tmem_pool_params p;
	struct tmem_pool *pool = (struct tmem_pool *)&p;

	tmem_params_init(&p);
	p.compressor = TMEM_COMP_COUNT;
	CHECK_EQ(tmem_pool_create(&p, &pool), -EINVAL);
	CHECK(pool == NULL); /* *out is cleared on failure */

	tmem_params_init(&p);
	p.zstd_level = 99;
	CHECK_EQ(tmem_pool_create(&p, &pool), -EINVAL);
	tmem_params_init(&p);
	p.accept_threshold = 101;
	CHECK_EQ(tmem_pool_create(&p, &pool), -EINVAL);
	tmem_params_init(&p);
	p.max_compressed = 4096;
	CHECK_EQ(tmem_pool_create(&p, &pool), -EINVAL);
	tmem_params_init(&p);
	p.size = 2; /* smaller than the size field itself */
	CHECK_EQ(tmem_pool_create(&p, &pool), -EINVAL);
	p.size = offsetof(struct tmem_pool_params, pool_max) + 4; /* cut */
	CHECK_EQ(tmem_pool_create(&p, &pool), -EINVAL);
	p.size = 0; /* never filled */
	CHECK_EQ(tmem_pool_create(&p, &pool), -EINVAL);
	tmem_params_init(&p);
	p.kind = TMEM_POOL_EPHEMERAL;
	CHECK_EQ(tmem_pool_create(&p, &pool), -EOPNOTSUPP);

	/* NULL params: the defaults. */
	CHECK_EQ(tmem_pool_create(NULL, &pool), 0);
	tmem_pool_destroy(pool);
}

/*
 * Callers of every age: a struct that ends early (an older header) gets
 * the defaults for what it lacks, and nothing past its end is read (the
 * buffers are exactly that long, for ASan); a longer one (a newer header)
 * is accepted while the bytes this library does not know are zero.
 */
static void test_params_sizes(void)
{
	const size_t short_size =
		offsetof(struct tmem_pool_params, max_compressed);
	const size_t long_size = sizeof(struct tmem_pool_params) + 16;
	struct tmem_pool_params p;
	struct tmem_pool *pool = NULL;
	unsigned char *buf;
	uint32_t size;

	tmem_params_init(&p);
	p.compressor = TMEM_COMP_ZSTD;
	p.pool_max = 1 << 20;
	p.max_compressed = 1000; /* past the short struct: must not count */

	buf = malloc(short_size);
	REQUIRE(buf);
	memcpy(buf, &p, short_size);
	size = (uint32_t)short_size;
	memcpy(buf, &size, sizeof(size));
	CHECK_EQ(tmem_pool_create((struct tmem_pool_params *)buf, &pool), 0);
	if (pool) {
		CHECK_EQ(pool->params.size, sizeof(struct tmem_pool_params));
		CHECK_EQ(pool->params.compressor, TMEM_COMP_ZSTD);
		CHECK_EQ(pool->params.pool_max, 1 << 20);
		CHECK_EQ(pool->params.max_compressed, tmem_option_info(6)->def);
		tmem_pool_destroy(pool);
		pool = NULL;
	}
	free(buf);

	/* Only the size field: every tunable takes its default. */
	size = sizeof(size);
	CHECK_EQ(tmem_pool_create((struct tmem_pool_params *)&size, &pool), 0);
	if (pool) {
		CHECK_EQ(pool->params.compressor, TMEM_COMP_LZ4);
		CHECK_EQ(pool->params.pool_max, 0);
		tmem_pool_destroy(pool);
		pool = NULL;
	}

	buf = calloc(1, long_size);
	REQUIRE(buf);
	memcpy(buf, &p, sizeof(p));
	size = (uint32_t)long_size;
	memcpy(buf, &size, sizeof(size));
	CHECK_EQ(tmem_pool_create((struct tmem_pool_params *)buf, &pool), 0);
	if (pool) {
		CHECK_EQ(pool->params.max_compressed, 1000);
		tmem_pool_destroy(pool);
		pool = NULL;
	}
	buf[long_size - 1] = 1; /* a field this library does not know */
	CHECK_EQ(tmem_pool_create((struct tmem_pool_params *)buf, &pool),
		 -EINVAL);
	CHECK(pool == NULL);
	free(buf);
}

static void test_double_flush(void)
{
	struct tmem_pool *pool = new_pool(0, 90);
	unsigned char page[PG_SIZE], out[PG_SIZE];

	REQUIRE(pool);
	pg_make(page, PG_TEXT, 5);
	CHECK_EQ(tmem_put_page(pool, 1, 1, page), 0);
	CHECK_EQ(tmem_put_page(pool, 1, 2, page), 0);
	CHECK_EQ(tmem_flush_page(pool, 1, 1), 0);
	CHECK_EQ(tmem_flush_page(pool, 1, 1), -ENOENT);
	CHECK_EQ(tmem_flush_page(pool, 99, 1), -ENOENT);
	CHECK_EQ(tmem_get_page(pool, 1, 2, out), 0);
	CHECK_MEM_EQ(out, page, PG_SIZE);
	tmem_pool_destroy(pool);
}

/* Fill to the limit: -ENOSPC, stored pages intact, hysteresis honoured. */
static void test_full_pool(void)
{
	const uint64_t limit = 256 * 1024;
	struct tmem_pool *pool = new_pool(limit, 50);
	unsigned char page[PG_SIZE], out[PG_SIZE];
	struct tmem_stats st = { .size = sizeof(st) };
	uint32_t i, stored = 0, refused_at;
	int ret = 0;

	REQUIRE(pool);
	for (i = 0; i < 10000; i++) {
		pg_make(page, PG_RANDOM, i);
		ret = tmem_put_page(pool, 0, i, page);
		if (ret)
			break;
		stored++;
	}
	CHECK_EQ(ret, -ENOSPC);
	REQUIRE(stored > 0 && stored < 10000);
	refused_at = stored;
	tmem_stats_get(pool, &st);
	CHECK_EQ(st.pool_full, 1);
	CHECK_EQ(st.reject_pool_full, 1);
	CHECK_EQ(st.pool_full_events, 1);
	/* Within the documented slack: one zspage (8 pages) and a leaf. */
	CHECK(st.pool_bytes + st.metadata_bytes <= limit + 8 * PG_SIZE + 1024);

	/* Overwriting a stored key is refused too, and keeps the old page. */
	pg_make(page, PG_TEXT, 1);
	CHECK_EQ(tmem_put_page(pool, 0, 0, page), -ENOSPC);
	pg_make(page, PG_ZERO, 0);
	CHECK_EQ(tmem_put_page(pool, 0, 1, page), -ENOSPC);
	for (i = 0; i < stored; i++) {
		pg_make(page, PG_RANDOM, i);
		CHECK_EQ(tmem_get_page(pool, 0, i, out), 0);
		CHECK_MEM_EQ(out, page, PG_SIZE);
	}
	/* Freeing a little is not enough: the threshold is 50%. */
	CHECK_EQ(tmem_flush_page(pool, 0, 0), 0);
	pg_make(page, PG_RANDOM, 0);
	CHECK_EQ(tmem_put_page(pool, 0, 0, page), -ENOSPC);
	/* Below half of the limit, puts are accepted again. */
	for (i = 0; i < refused_at * 2 / 3; i++)
		tmem_flush_page(pool, 0, i);
	tmem_pool_compact(pool, NULL);
	CHECK_EQ(tmem_put_page(pool, 0, 0, page), 0);
	tmem_stats_get(pool, &st);
	CHECK_EQ(st.pool_full, 0);
	for (i = refused_at * 2 / 3; i < stored; i++) {
		pg_make(page, PG_RANDOM, i);
		CHECK_EQ(tmem_get_page(pool, 0, i, out), 0);
		CHECK_MEM_EQ(out, page, PG_SIZE);
	}
	tmem_pool_destroy(pool);
}

/*
 * docs/tunables.md's slack of pool_max: admission is checked before a put,
 * so one put may go past the limit by what it allocates.  Fill a pool
 * with raw pages (one object per zspage, so a class's handle table and
 * zspage table take their largest growth step, 32 + 96 KiB, at the same
 * put, near the 18,800th page) and check each put against the bound.
 */
static void test_one_put_slack(void)
{
	const uint32_t n = 20000;
	struct tmem_stats st = { .size = sizeof(st) };
	struct tmem_pool *pool = new_pool(0, 90);
	unsigned char page[PG_SIZE];
	uint64_t prev, worst = 0, bound;
	uint32_t i, at = 0;

	REQUIRE(pool);
	tmem_stats_get(pool, &st);
	prev = st.pool_bytes + st.metadata_bytes;
	for (i = 0; i < n; i++) {
		pg_make(page, PG_RANDOM, i);
		if (tmem_put_page(pool, i / 64, i, page))
			break;
		tmem_stats_get(pool, &st);
		if (st.pool_bytes + st.metadata_bytes > prev + worst) {
			worst = st.pool_bytes + st.metadata_bytes - prev;
			at = i;
		}
		prev = st.pool_bytes + st.metadata_bytes;
	}
	CHECK_EQ(i, n);
	/*
	 * One zspage (8 pages), one table step of each kind, a leaf and an
	 * object record, the doubling of one shard's leaf and object tables
	 * ((leaves + objects) / 8 bytes: 8 bytes a bucket, 1/64 of them),
	 * and malloc's rounding of two large blocks to pages.
	 */
	bound = 8 * PG_SIZE + (32 + 96 + 1) * 1024 + (2 * (n / 64)) / 8 +
		2 * PG_SIZE;
	fprintf(stderr,
		"  worst one-put growth of pool + metadata: %llu bytes "
		"(put %u of %u raw pages); bound %llu\n",
		(unsigned long long)worst, at + 1, n,
		(unsigned long long)bound);
	CHECK(worst <= bound);
	tmem_pool_destroy(pool);
}

/* ---- failure injection ------------------------------------------------ */

static long fail_after = -1; /* allocations left before failing; -1: never */

static int fail_now(void)
{
	if (fail_after < 0)
		return 0;
	if (fail_after == 0)
		return 1;
	fail_after--;
	return 0;
}

static int f_map(size_t len, void **out)
{
	return fail_now() ? -ENOMEM : tm_os_default.map(len, out);
}

static void *f_malloc(size_t n)
{
	return fail_now() ? NULL : malloc(n);
}

static void *f_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : realloc(p, n);
}

static const struct tm_os_ops failing_ops = {
	.map = f_map,
	.unmap = NULL, /* filled at run time from the defaults */
};

static void test_alloc_failures(void)
{
	struct tm_os_ops ops = failing_ops;
	unsigned char page[PG_SIZE], out[PG_SIZE];
	struct tmem_pool *pool = new_pool(0, 90);
	unsigned ok = 0, enomem = 0, i, k;
	long n;

	REQUIRE(pool);
	ops.unmap = tm_os_default.unmap;
	ops.discard = tm_os_default.discard;
	ops.populate = tm_os_default.populate;
	ops.malloc = f_malloc;
	ops.realloc = f_realloc;
	ops.free = free;
	/* Keys 0..99 hold known pages before any failure. */
	for (i = 0; i < 100; i++) {
		pg_make(page, i % PG_KINDS, i);
		CHECK_EQ(tmem_put_page(pool, 0, i, page), 0);
	}
	tm_os_set(&ops);
	/* Let n allocations succeed, then fail, for growing n: every
	 * allocation site on the put path fails once. */
	for (n = 0; n < 64; n++) {
		for (k = 0; k < 40; k++) {
			uint32_t key = (uint32_t)(n * 40 + k) % 100;
			uint32_t newkey = 1000 + (uint32_t)(n * 40 + k);
			int r;

			fail_after = n;
			pg_make(page, PG_TEXT, newkey);
			r = tmem_put_page(pool, 1, newkey, page);
			if (r == 0)
				ok++;
			else if (r == -ENOMEM)
				enomem++;
			else
				CHECK_EQ(r, -ENOMEM);
			/* Overwrite attempts on known keys must either
			 * succeed or leave the old page. */
			pg_make(page, PG_SPARSE, key);
			r = tmem_put_page(pool, 0, key, page);
			fail_after = -1;
			if (r == 0) {
				/* Restore the known content. */
				pg_make(page, key % PG_KINDS, key);
				CHECK_EQ(tmem_put_page(pool, 0, key, page), 0);
			} else {
				CHECK_EQ(r, -ENOMEM);
			}
		}
	}
	fail_after = -1;
	tm_os_set(NULL);
	CHECK(enomem > 0);
	CHECK(ok > 0);
	for (i = 0; i < 100; i++) {
		pg_make(page, i % PG_KINDS, i);
		CHECK_EQ(tmem_get_page(pool, 0, i, out), 0);
		CHECK_MEM_EQ(out, page, PG_SIZE);
	}
	/* Every put that reported success is there. */
	for (n = 0; n < 64 * 40; n++) {
		int r = tmem_get_page(pool, 1, 1000 + (uint32_t)n, out);

		if (r == 0) {
			pg_make(page, PG_TEXT, 1000 + (uint32_t)n);
			CHECK_MEM_EQ(out, page, PG_SIZE);
		} else {
			CHECK_EQ(r, -ENOENT);
		}
	}
	tmem_pool_destroy(pool);
}

static void test_pool_create_failure(void)
{
	struct tm_os_ops ops = tm_os_default;
	struct tmem_pool *pool;
	long n;
	int created = 0;

	ops.map = f_map;
	ops.malloc = f_malloc;
	ops.realloc = f_realloc;
	tm_os_set(&ops);
	for (n = 0; n < 400 && !created; n++) {
		int r;

		fail_after = n;
		pool = NULL;
		r = tmem_pool_create(NULL, &pool);
		fail_after = -1;
		if (r == 0) {
			created = 1;
			tmem_pool_destroy(pool);
		} else {
			CHECK_EQ(r, -ENOMEM);
			CHECK(pool == NULL);
		}
	}
	tm_os_set(NULL);
	CHECK(created);
}

/*
 * A zstd get allocates the thread's decompression context on the thread's
 * first get.  Without memory that get must say -ENOMEM (not -EIO, "the
 * data is corrupt"), leave the caller's buffer alone and keep the page;
 * the same thread's next get, with memory back, must work.
 */
struct first_get {
	struct tmem_pool *pool;
	long allow; /* allocations that succeed before the failures */
	int during, untouched, after, same;
};

static void *first_get_thread(void *arg)
{
	struct first_get *g = arg;
	unsigned char out[PG_SIZE], want[PG_SIZE], poison[PG_SIZE];

	memset(poison, 0xee, sizeof(poison));
	memcpy(out, poison, sizeof(out));
	fail_after = g->allow;
	g->during = tmem_get_page(g->pool, 0, 0, out);
	fail_after = -1;
	g->untouched = !memcmp(out, poison, PG_SIZE);
	g->after = tmem_get_page(g->pool, 0, 0, out);
	pg_make(want, PG_TEXT, 7);
	g->same = !memcmp(out, want, PG_SIZE);
	return NULL;
}

static void test_first_zstd_get_enomem(void)
{
	struct tm_os_ops ops = tm_os_default;
	struct tmem_pool_params p;
	struct tmem_pool *pool;
	unsigned char page[PG_SIZE];
	int refused = 0;
	long n;

	tmem_params_init(&p);
	p.compressor = TMEM_COMP_ZSTD;
	REQUIRE_EQ(tmem_pool_create(&p, &pool), 0);
	pg_make(page, PG_TEXT, 7);
	CHECK_EQ(tmem_put_page(pool, 0, 0, page), 0);
	ops.malloc = f_malloc;
	ops.realloc = f_realloc;
	tm_os_set(&ops);
	/* Fail each allocation of a fresh thread's first get in turn. */
	for (n = 0; n < 4; n++) {
		struct first_get g = { .pool = pool, .allow = n };
		pthread_t tid;

		if (pthread_create(&tid, NULL, first_get_thread, &g)) {
			CHECK(0);
			break;
		}
		pthread_join(tid, NULL);
		if (g.during == -ENOMEM) {
			refused++;
			CHECK(g.untouched);
		} else {
			CHECK_EQ(g.during, 0);
		}
		CHECK_EQ(g.after, 0);
		CHECK(g.same);
	}
	tm_os_set(NULL);
	CHECK(refused > 0);
	tmem_pool_destroy(pool);
}

static void test_strerror(void)
{
	CHECK(strstr(tmem_strerror(-ENOSPC), "limit") != NULL);
	CHECK(strlen(tmem_strerror(-ENOMEM)) > 0);
	CHECK(strlen(tmem_strerror(-12345)) > 0);
	CHECK(strcmp(tmem_strerror(0), "success") == 0);
}

int main(void)
{
	RUN(test_null_arguments, "NULL arguments give -EINVAL");
	RUN(test_bad_params, "out-of-range parameters give -EINVAL");
	RUN(test_params_sizes,
	    "an older, shorter params struct gets defaults; a newer one needs zeros past ours");
	RUN(test_double_flush,
	    "a double flush gives -ENOENT and harms nothing");
	RUN(test_full_pool,
	    "a full pool refuses with -ENOSPC, keeps its pages, and accepts again below the threshold");
	RUN(test_one_put_slack,
	    "one put grows pool + metadata by no more than the documented slack");
	RUN(test_alloc_failures,
	    "allocation failures give -ENOMEM and keep every stored page");
	RUN(test_pool_create_failure,
	    "pool creation fails cleanly at every allocation");
	RUN(test_first_zstd_get_enomem,
	    "a thread's first zstd get without memory gives -ENOMEM, then works");
	RUN(test_strerror, "tmem_strerror describes the library's errors");
	return th_finish();
}
