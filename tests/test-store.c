// SPDX-License-Identifier: MIT
/*
 * test-store.c - put/get/flush round trips through the public API, for
 * every compressor x allocator, on every kind of page.
 */
#include <errno.h>

#include "harness.h"
#include "pagegen.h"
#include "tmem.h"

static unsigned cfg_comp, cfg_alloc;

static struct tmem_pool *make_pool(void)
{
	struct tmem_pool_params p;
	struct tmem_pool *pool = NULL;

	tmem_params_init(&p);
	p.compressor = cfg_comp;
	p.allocator = cfg_alloc;
	if (tmem_pool_create(&p, &pool))
		return NULL;
	return pool;
}

static void stats(struct tmem_pool *pool, struct tmem_stats *st)
{
	st->size = sizeof(*st);
	tmem_stats_get(pool, st);
}

/* Kinds x seeds; each key's expected page is regenerated, never stored. */
#define PER_KIND 300

static void test_roundtrip_kinds(void)
{
	struct tmem_pool *pool = make_pool();
	unsigned char page[PG_SIZE], want[PG_SIZE];
	struct tmem_stats st;
	unsigned k, i;

	REQUIRE(pool);
	for (k = 0; k < PG_KINDS; k++)
		for (i = 0; i < PER_KIND; i++) {
			pg_make(page, k, i);
			CHECK_EQ(tmem_put_page(pool, k, i, page), 0);
		}
	for (k = 0; k < PG_KINDS; k++)
		for (i = 0; i < PER_KIND; i++) {
			pg_make(want, k, i);
			memset(page, 0xee, sizeof(page));
			CHECK_EQ(tmem_get_page(pool, k, i, page), 0);
			CHECK_MEM_EQ(page, want, PG_SIZE);
		}
	stats(pool, &st);
	CHECK_EQ(st.stored_pages, PG_KINDS * PER_KIND);
	CHECK_EQ(st.samefill_pages, 2 * PER_KIND); /* zero + same-filled */
	CHECK_EQ(st.raw_pages, PER_KIND); /* random pages do not compress */
	CHECK_EQ(st.orig_bytes, (uint64_t)PG_KINDS * PER_KIND * PG_SIZE);
	CHECK(st.compressed_bytes >= PER_KIND * (uint64_t)PG_SIZE);
	CHECK(st.compressed_bytes < st.orig_bytes);
	CHECK(st.pool_bytes >= st.compressed_bytes);
	CHECK(st.metadata_bytes > 0);
	CHECK_EQ(st.puts, PG_KINDS * PER_KIND);
	CHECK_EQ(st.gets, PG_KINDS * PER_KIND);
	tmem_pool_destroy(pool);
}

static void test_roundtrip_corpus(void)
{
	unsigned char *pages, out[PG_SIZE];
	struct tmem_pool *pool;
	size_t n = pg_load_corpus(1536, &pages), i;
	struct tmem_stats st;

	if (!n)
		free(pages);
	SKIP_IF(!n, "page corpus (../shared/corpus) not present");
	pool = make_pool();
	REQUIRE(pool);
	for (i = 0; i < n; i++)
		CHECK_EQ(tmem_put_page(pool, 7, (uint32_t)i,
				       pages + i * PG_SIZE),
			 0);
	for (i = 0; i < n; i++) {
		CHECK_EQ(tmem_get_page(pool, 7, (uint32_t)i, out), 0);
		CHECK_MEM_EQ(out, pages + i * PG_SIZE, PG_SIZE);
	}
	stats(pool, &st);
	CHECK_EQ(st.stored_pages, n);
	/* Real memory compresses: the pool must be smaller than the input. */
	CHECK(st.pool_bytes + st.metadata_bytes < n * PG_SIZE);
	tmem_pool_destroy(pool);
	free(pages);
}

/* Overwrite each key with every other kind, in a cycle. */
static void test_overwrite(void)
{
	struct tmem_pool *pool = make_pool();
	unsigned char page[PG_SIZE], want[PG_SIZE];
	struct tmem_stats st;
	unsigned k, round;

	REQUIRE(pool);
	for (round = 0; round < PG_KINDS; round++) {
		for (k = 0; k < 64; k++) {
			pg_make(page, (k + round) % PG_KINDS, k * 31 + round);
			CHECK_EQ(tmem_put_page(pool, 1, k, page), 0);
		}
		for (k = 0; k < 64; k++) {
			pg_make(want, (k + round) % PG_KINDS, k * 31 + round);
			CHECK_EQ(tmem_get_page(pool, 1, k, page), 0);
			CHECK_MEM_EQ(page, want, PG_SIZE);
		}
	}
	stats(pool, &st);
	CHECK_EQ(st.stored_pages, 64);
	CHECK_EQ(st.overwrites, 64 * (PG_KINDS - 1));
	CHECK_EQ(st.puts, 64 * PG_KINDS);
	tmem_pool_destroy(pool);
}

static void test_flush(void)
{
	struct tmem_pool *pool = make_pool();
	unsigned char page[PG_SIZE], want[PG_SIZE];
	struct tmem_stats st;
	unsigned i;

	REQUIRE(pool);
	for (i = 0; i < 200; i++) {
		pg_make(page, i % PG_KINDS, i);
		CHECK_EQ(tmem_put_page(pool, 3, i, page), 0);
		CHECK_EQ(tmem_put_page(pool, 4, i, page), 0);
	}
	/* Flush the even pages of object 3. */
	for (i = 0; i < 200; i += 2)
		CHECK_EQ(tmem_flush_page(pool, 3, i), 0);
	for (i = 0; i < 200; i++) {
		memset(page, 0xab, sizeof(page));
		pg_make(want, i % PG_KINDS, i);
		if (i % 2 == 0) {
			CHECK_EQ(tmem_get_page(pool, 3, i, page), -ENOENT);
			/* A miss leaves the caller's buffer alone. */
			CHECK_EQ(page[0], 0xab);
			CHECK_EQ(page[PG_SIZE - 1], 0xab);
		} else {
			CHECK_EQ(tmem_get_page(pool, 3, i, page), 0);
			CHECK_MEM_EQ(page, want, PG_SIZE);
		}
	}
	/* Object 4 is untouched by object 3's flushes. */
	for (i = 0; i < 200; i++) {
		pg_make(want, i % PG_KINDS, i);
		CHECK_EQ(tmem_get_page(pool, 4, i, page), 0);
		CHECK_MEM_EQ(page, want, PG_SIZE);
	}
	CHECK_EQ(tmem_flush_object(pool, 3), 100);
	CHECK_EQ(tmem_flush_object(pool, 3), 0);
	CHECK_EQ(tmem_get_page(pool, 3, 1, page), -ENOENT);
	CHECK_EQ(tmem_flush_object(pool, 4), 200);
	stats(pool, &st);
	CHECK_EQ(st.stored_pages, 0);
	CHECK_EQ(st.samefill_pages, 0);
	CHECK_EQ(st.compressed_bytes, 0);
	CHECK_EQ(st.flushes, 400);
	/* Every zpage is gone, so every page went back to the OS. */
	CHECK_EQ(st.pool_bytes, 0);
	tmem_pool_destroy(pool);
}

/* Sparse keys: page indexes far apart, oids at the extremes. */
static void test_sparse_keys(void)
{
	static const uint64_t oids[] = { 0, 1, UINT64_MAX, 1ull << 63,
					 0x123456789abcdefull };
	static const uint32_t idx[] = { 0, 63, 64, 65, 4095, 1u << 20,
					UINT32_MAX - 1, UINT32_MAX };
	struct tmem_pool *pool = make_pool();
	unsigned char page[PG_SIZE], want[PG_SIZE];
	unsigned o, i;

	REQUIRE(pool);
	for (o = 0; o < TM_N(oids); o++)
		for (i = 0; i < TM_N(idx); i++) {
			pg_make(page, PG_TEXT, o * 100 + i);
			CHECK_EQ(tmem_put_page(pool, oids[o], idx[i], page), 0);
		}
	for (o = 0; o < TM_N(oids); o++)
		for (i = 0; i < TM_N(idx); i++) {
			pg_make(want, PG_TEXT, o * 100 + i);
			CHECK_EQ(tmem_get_page(pool, oids[o], idx[i], page), 0);
			CHECK_MEM_EQ(page, want, PG_SIZE);
		}
	CHECK_EQ(tmem_flush_object(pool, UINT64_MAX), (int)TM_N(idx));
	CHECK_EQ(tmem_get_page(pool, 1, UINT32_MAX, page), 0);
	tmem_pool_destroy(pool);
}

/* Destroying a pool that still holds pages frees everything (ASan/LSan). */
static void test_destroy_full(void)
{
	struct tmem_pool *pool = make_pool();
	unsigned char page[PG_SIZE];
	unsigned i;

	REQUIRE(pool);
	for (i = 0; i < 1000; i++) {
		pg_make(page, i % PG_KINDS, i);
		CHECK_EQ(tmem_put_page(pool, i % 7, i, page), 0);
	}
	tmem_pool_destroy(pool);
	tmem_pool_destroy(NULL);
}

static void test_unaligned_buffers(void)
{
	struct tmem_pool *pool = make_pool();
	unsigned char *buf = malloc(PG_SIZE + 16), *out = malloc(PG_SIZE + 16);
	unsigned k;

	REQUIRE(pool && buf && out);
	for (k = 0; k < PG_KINDS; k++) {
		pg_make(buf + 3, k, k);
		CHECK_EQ(tmem_put_page(pool, 9, k, buf + 3), 0);
		CHECK_EQ(tmem_get_page(pool, 9, k, out + 5), 0);
		CHECK_MEM_EQ(out + 5, buf + 3, PG_SIZE);
	}
	free(buf);
	free(out);
	tmem_pool_destroy(pool);
}

int main(void)
{
	for (cfg_comp = 0; cfg_comp < TMEM_COMP_COUNT; cfg_comp++) {
		for (cfg_alloc = 0; cfg_alloc < TMEM_ALLOC_COUNT; cfg_alloc++) {
			fprintf(stderr, "== compressor %s, allocator %u\n",
				tmem_compressor_name(cfg_comp), cfg_alloc);
			RUN(test_roundtrip_kinds,
			    "every kind of page comes back byte-identical");
			RUN(test_roundtrip_corpus,
			    "real process pages come back byte-identical");
			RUN(test_overwrite,
			    "overwriting a key with any kind of page returns the newest");
			RUN(test_flush,
			    "flushed pages are gone, others stay, memory is returned");
			RUN(test_sparse_keys,
			    "extreme and sparse keys are stored independently");
			RUN(test_destroy_full,
			    "destroying a pool with pages frees everything");
			RUN(test_unaligned_buffers,
			    "unaligned put and get buffers work");
		}
	}
	return th_finish();
}
