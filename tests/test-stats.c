// SPDX-License-Identifier: MIT
/*
 * test-stats.c - the stats struct: exact gauges in a quiet pool, the
 * size/version protocol, per-class stats and the JSON rendering.
 */
#include <errno.h>
#include <stddef.h>

#include "harness.h"
#include "pagegen.h"
#include "tmem.h"

/*
 * Callers read stats fields by offset: a field, once published, never
 * moves.  These are the offsets of version 1; a new field of either kind
 * goes after the last one.
 */
#define AT(field, off)                                                         \
	_Static_assert(offsetof(struct tmem_stats, field) == (off),            \
		       #field " keeps its offset")
AT(size, 0);
AT(version, 4);
AT(stored_pages, 8);
AT(samefill_pages, 16);
AT(raw_pages, 24);
AT(orig_bytes, 32);
AT(compressed_bytes, 40);
AT(pool_bytes, 48);
AT(pool_peak_bytes, 56);
AT(metadata_bytes, 64);
AT(zspages, 72);
AT(pool_full, 80);
AT(puts, 88);
AT(overwrites, 96);
AT(samefill_puts, 104);
AT(gets, 112);
AT(get_misses, 120);
AT(flushes, 128);
AT(flush_objects, 136);
AT(reject_pool_full, 144);
AT(reject_alloc_fail, 152);
AT(compactions, 160);
AT(compacted_bytes, 168);
AT(pool_full_events, 176);
#undef AT
_Static_assert(sizeof(struct tmem_stats) >= 184, "fields are only appended");

static void test_gauges_exact(void)
{
	struct tmem_stats st = { .size = sizeof(st) };
	struct tmem_class_stats cs = { .size = sizeof(cs) };
	unsigned char page[PG_SIZE];
	struct tmem_pool *pool;
	uint64_t objs = 0, used = 0, last = 0, pages = 0;
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
		CHECK(cs.objs_capacity <= cs.zspages * cs.objs_per_zspage);
		CHECK(cs.objs_capacity >= cs.zspages);
		pages += cs.pages;
		objs += cs.objs_inuse;
		used += cs.used_bytes;
	}
	CHECK(i > 10);
	CHECK_EQ(last, PG_SIZE);
	CHECK_EQ(objs, 600 - 200);
	CHECK_EQ(used, st.compressed_bytes);
	CHECK_EQ(pages * PG_SIZE, st.pool_bytes);
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
	snprintf(small, sizeof(small), "\"version\":%d,", TMEM_STATS_VERSION);
	CHECK(strstr(buf, small) != NULL);
#define FIELD_(name, kind, unit, desc)                                         \
	CHECK(strstr(buf, "\"" #name "\":") != NULL);
	TMEM_STATS_FIELDS(FIELD_)
#undef FIELD_
	/* Truncation: the full length is returned, the buffer terminated. */
	m = tmem_stats_json(&st, small, sizeof(small));
	CHECK_EQ(m, n);
	CHECK_EQ(strlen(small), sizeof(small) - 1);
	CHECK(!strncmp(small, buf, sizeof(small) - 1));
	CHECK_EQ(tmem_stats_json(&st, NULL, 0), n);
	tmem_pool_destroy(pool);
}

/* The field list, in order, with each field's kind and unit. */
struct field {
	const char *name, *kind, *unit;
	size_t offset;
};

static const struct field fields[] = {
#define FIELD_(name, kind, unit, desc)                                         \
	{ #name, #kind, #unit, offsetof(struct tmem_stats, name) },
	TMEM_STATS_FIELDS(FIELD_)
#undef FIELD_
};

/*
 * The list is the layout: offsets follow it with no gap, and every kind
 * is a gauge or a counter whatever its place.
 */
static void test_list_is_layout(void)
{
	size_t off = 2 * sizeof(uint32_t);
	unsigned i;

	for (i = 0; i < TM_N(fields); i++) {
		CHECK_EQ(fields[i].offset, off);
		CHECK(!strcmp(fields[i].kind, "gauge") ||
		      !strcmp(fields[i].kind, "counter"));
		off += sizeof(uint64_t);
	}
	CHECK_EQ(sizeof(struct tmem_stats), off);
}

/* docs/stats.md lists every field, in layout order, with kind and unit. */
static void test_docs_list_every_field(void)
{
	FILE *f = fopen(TM_SOURCE_DIR "/docs/stats.md", "r");
	const char *last = NULL;
	char *doc;
	size_t len;
	unsigned i;

	REQUIRE(f);
	doc = malloc(1 << 20);
	if (!doc)
		fclose(f);
	REQUIRE(doc);
	len = fread(doc, 1, (1 << 20) - 1, f);
	doc[len] = '\0';
	fclose(f);
	for (i = 0; i < TM_N(fields); i++) {
		char want[160];
		const char *at;

		snprintf(want, sizeof(want), "| `%s` | %s | %s |",
			 fields[i].name, fields[i].kind, fields[i].unit);
		at = strstr(doc, want);
		if (!at)
			fprintf(stderr, "  docs/stats.md lacks %s\n", want);
		CHECK(at != NULL);
		CHECK(!at || !last || at > last);
		if (at)
			last = at;
	}
	free(doc);
}

int main(void)
{
	RUN(test_gauges_exact,
	    "gauges and class stats are exact in a quiet pool");
	RUN(test_old_caller_size, "a smaller stats struct gets only what fits");
	RUN(test_json, "JSON has every field and truncates safely");
	RUN(test_list_is_layout,
	    "the field list is the struct's layout, each field a gauge or a counter");
	RUN(test_docs_list_every_field,
	    "docs/stats.md lists every field in layout order");
	return th_finish();
}
