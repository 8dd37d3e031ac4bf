// SPDX-License-Identifier: MIT
/*
 * test-stats.c - the stats struct: exact gauges in a quiet pool, the
 * size/version protocol, per-class stats and the JSON rendering.
 */
#include <errno.h>

#include "harness.h"
#include "pagegen.h"
#include "tmem.h"

static void test_gauges_exact(void)
{
	struct tmem_stats st = { .size = sizeof(st) };
	struct tmem_class_stats cs = { .size = sizeof(cs) };
	unsigned char page[PG_SIZE];
	struct tmem_pool *pool;
	uint64_t objs = 0, used = 0, last = 0;
	unsigned i;

	REQUIRE_EQ(tmem_pool_create(NULL, &pool), 0);
	for (i = 0; i < 600; i++) {
		pg_make(page, i % PG_KINDS, i);
		CHECK_EQ(tmem_put_page(pool, 0, i, page), 0);
	}
	CHECK_EQ(tmem_get_page(pool, 0, 5, page), 0);
	CHECK_EQ(tmem_get_page(pool, 1, 5, page), -ENOENT);
	CHECK_EQ(tmem_stats_get(pool, &st), 0);
	CHECK_EQ(st.size, sizeof(st));
	CHECK_EQ(st.version, TMEM_STATS_VERSION);
	CHECK_EQ(st.stored_pages, 600);
	CHECK_EQ(st.samefill_pages, 200);
	CHECK_EQ(st.samefill_puts, 200);
	CHECK_EQ(st.raw_pages, 100);
	CHECK_EQ(st.puts, 600);
	CHECK_EQ(st.gets, 1);
	CHECK_EQ(st.get_misses, 1);
	CHECK_EQ(st.orig_bytes, 600 * PG_SIZE);
	CHECK(st.pool_peak_bytes >= st.pool_bytes);
	CHECK(st.zspages > 0);

	/* The per-class table adds up to the pool's figures. */
	for (i = 0; tmem_class_stats_get(pool, i, &cs) == 0; i++) {
		CHECK(cs.obj_size > last);
		last = cs.obj_size;
		CHECK(cs.objs_inuse <= cs.objs_capacity);
		CHECK_EQ(cs.objs_capacity, cs.zspages * cs.objs_per_zspage);
		objs += cs.objs_inuse;
		used += cs.used_bytes;
	}
	CHECK(i > 10);
	CHECK_EQ(last, PG_SIZE);
	CHECK_EQ(objs, 600 - 200);
	CHECK_EQ(used, st.compressed_bytes);
	CHECK_EQ(tmem_class_stats_get(pool, i, &cs), -ENOENT);
	tmem_pool_destroy(pool);
}

static void test_old_caller_size(void)
{
	struct tmem_stats st;
	struct tmem_pool *pool;
	unsigned char page[PG_SIZE];

	REQUIRE_EQ(tmem_pool_create(NULL, &pool), 0);
	pg_make(page, PG_TEXT, 1);
	CHECK_EQ(tmem_put_page(pool, 0, 0, page), 0);
	/* A caller that knows only the header and the first gauge. */
	memset(&st, 0xee, sizeof(st));
	st.size = 2 * sizeof(uint32_t) + sizeof(uint64_t);
	CHECK_EQ(tmem_stats_get(pool, &st), 0);
	CHECK_EQ(st.size, 2 * sizeof(uint32_t) + sizeof(uint64_t));
	CHECK_EQ(st.stored_pages, 1);
	CHECK_EQ(st.samefill_pages, 0xeeeeeeeeeeeeeeeeull); /* untouched */
	tmem_pool_destroy(pool);
}

static void test_json(void)
{
	struct tmem_stats st = { .size = sizeof(st) };
	struct tmem_pool *pool;
	unsigned char page[PG_SIZE];
	char buf[4096], small[16];
	int n, m;

	REQUIRE_EQ(tmem_pool_create(NULL, &pool), 0);
	pg_make(page, PG_TEXT, 1);
	CHECK_EQ(tmem_put_page(pool, 0, 0, page), 0);
	CHECK_EQ(tmem_stats_get(pool, &st), 0);
	n = tmem_stats_json(&st, buf, sizeof(buf));
	CHECK(n > 0 && (size_t)n < sizeof(buf));
	CHECK_EQ(strlen(buf), n);
	CHECK(buf[0] == '{' && buf[n - 1] == '}');
	CHECK(strstr(buf, "\"stored_pages\":1,") != NULL);
	CHECK(strstr(buf, "\"puts\":1,") != NULL);
	CHECK(strstr(buf, "\"version\":1,") != NULL);
#define FIELD_(name, unit, desc) CHECK(strstr(buf, "\"" #name "\":") != NULL);
	TMEM_STATS_GAUGES(FIELD_)
	TMEM_STATS_COUNTERS(FIELD_)
#undef FIELD_
	/* Truncation: the full length is returned, the buffer terminated. */
	m = tmem_stats_json(&st, small, sizeof(small));
	CHECK_EQ(m, n);
	CHECK_EQ(strlen(small), sizeof(small) - 1);
	CHECK(!strncmp(small, buf, sizeof(small) - 1));
	CHECK_EQ(tmem_stats_json(&st, NULL, 0), n);
	tmem_pool_destroy(pool);
}

int main(void)
{
	RUN(test_gauges_exact, "gauges and class stats are exact in a quiet pool");
	RUN(test_old_caller_size, "a smaller stats struct gets only what fits");
	RUN(test_json, "JSON has every field and truncates safely");
	return th_finish();
}
