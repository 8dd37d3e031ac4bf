// SPDX-License-Identifier: MIT
/*
 * test-concurrency.c - several threads putting, getting and flushing
 * overlapping keys while another compacts: no lost or torn page.
 * Not a benchmark; meant to run under TSan too.
 *
 *   test-concurrency [-s SEED] [-i ITERATIONS_PER_THREAD]
 *
 * Pages on shared keys describe themselves: a header (magic, oid, index,
 * version, kind) and a body generated from it, or, for same-filled pages,
 * a word that packs the same fields.  A reader cannot know which version
 * it will see, but whatever it sees must be a whole, valid page for that
 * key: a torn page (half of one version, half of another), a page of
 * another key or garbage fails the check.  Keys owned by one thread are
 * also checked exactly, for lost updates.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "harness.h"
#include "pagegen.h"
#include "tmem.h"

#define NTHREADS 4
#define SHARED_OBJS 2
#define SHARED_IDX 256
#define OWN_IDX 200
#define MAGIC 0x746d656d70616765ull /* "tmempage" */

static struct tmem_pool *pool;
static uint64_t seed = 42;
static unsigned long iterations = 20000;
static _Atomic int stop_compactor;
static _Atomic long errors;

struct hdr {
	uint64_t magic, oid, idx, version, kind;
};

static void make_page(unsigned char *p, uint64_t oid, uint32_t idx,
		      uint64_t version, unsigned kind)
{
	struct hdr h = { MAGIC, oid, idx, version, kind };

	if (kind == 2) { /* same-filled: one word packs the fields */
		uint64_t w = 0xA5ull << 56 | (oid & 0xff) << 48 |
			     (uint64_t)(idx & 0xffff) << 32 |
			     (version & 0xffffffff);
		size_t i;

		for (i = 0; i < PG_SIZE; i += 8)
			memcpy(p + i, &w, 8);
		return;
	}
	pg_make(p, kind ? PG_TEXT : PG_RANDOM,
		oid * 1000003 + idx * 7919 + version);
	memcpy(p, &h, sizeof(h));
}

/* 1 if @p is a whole page some put for (oid, idx) could have stored. */
static int valid_page(const unsigned char *p, uint64_t oid, uint32_t idx)
{
	unsigned char want[PG_SIZE];
	struct hdr h;
	uint64_t w;

	memcpy(&w, p, 8);
	if (w >> 56 == 0xA5) {
		make_page(want, oid, idx, w & 0xffffffff, 2);
		return !memcmp(p, want, PG_SIZE);
	}
	memcpy(&h, p, sizeof(h));
	if (h.magic != MAGIC || h.oid != oid || h.idx != idx || h.kind > 1)
		return 0;
	make_page(want, oid, idx, h.version, (unsigned)h.kind);
	return !memcmp(p, want, PG_SIZE);
}

/* Same-filled pages keep only 32 bits of the version. */
#define VERSION_MASK(p) (is_fill(p) ? 0xffffffffull : UINT64_MAX)

static int is_fill(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w >> 56 == 0xA5;
}

static uint64_t page_version(const unsigned char *p)
{
	struct hdr h;

	if (is_fill(p)) {
		uint64_t w;

		memcpy(&w, p, 8);
		return w & 0xffffffff;
	}
	memcpy(&h, p, sizeof(h));
	return h.version;
}

static void fail(const char *what, uint64_t oid, uint32_t idx, int ret)
{
	atomic_fetch_add(&errors, 1);
	fprintf(stderr, "  %s: oid %llu idx %u ret %d\n", what,
		(unsigned long long)oid, idx, ret);
}

static void *worker(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	uint64_t rng = seed * 0x9E3779B97F4A7C15ull + t, own_oid = 100 + t;
	static _Thread_local unsigned char page[PG_SIZE];
	uint64_t own_version[OWN_IDX] = { 0 };
	unsigned long it;
	uint32_t i;

	for (it = 0; it < iterations; it++) {
		unsigned op = th_rand(&rng) % 100;
		uint64_t oid = th_rand(&rng) % SHARED_OBJS;
		uint32_t idx = th_rand(&rng) % SHARED_IDX;
		uint64_t version = ((it + 1) << 8) | t; /* never 0 */
		int ret;

		if (op < 40) {
			make_page(page, oid, idx, version, th_rand(&rng) % 3);
			ret = tmem_put_page(pool, oid, idx, page);
			if (ret)
				fail("put", oid, idx, ret);
		} else if (op < 80) {
			ret = tmem_get_page(pool, oid, idx, page);
			if (ret == 0 && !valid_page(page, oid, idx))
				fail("torn or foreign page", oid, idx, ret);
			else if (ret && ret != -ENOENT)
				fail("get", oid, idx, ret);
		} else if (op < 92) {
			ret = tmem_flush_page(pool, oid, idx);
			if (ret && ret != -ENOENT)
				fail("flush", oid, idx, ret);
		} else if (op < 93) {
			ret = tmem_flush_object(pool, oid);
			if (ret < 0)
				fail("flush_object", oid, 0, ret);
		} else {
			/* Own keys: exact, no other writer. */
			idx = th_rand(&rng) % OWN_IDX;
			own_version[idx] = version;
			make_page(page, own_oid, idx, version,
				  th_rand(&rng) % 3);
			ret = tmem_put_page(pool, own_oid, idx, page);
			if (ret)
				fail("own put", own_oid, idx, ret);
		}
	}
	/* Every own key holds exactly its last version (kind may vary). */
	for (i = 0; i < OWN_IDX; i++) {
		int ret = tmem_get_page(pool, own_oid, i, page);

		if (!own_version[i]) {
			if (ret != -ENOENT)
				fail("own key appeared", own_oid, i, ret);
			continue;
		}
		if (ret || !valid_page(page, own_oid, i)) {
			fail("own key lost", own_oid, i, ret);
			continue;
		}
		if (page_version(page) != (own_version[i] & VERSION_MASK(page)))
			fail("own key has an old version", own_oid, i, 0);
	}
	return NULL;
}

static void *compactor(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_compactor)) {
		struct tmem_stats st = { .size = sizeof(st) };

		tmem_pool_compact(pool, NULL);
		tmem_stats_get(pool, &st);
		usleep(1000);
	}
	return NULL;
}

static void run(unsigned comp)
{
	pthread_t th[NTHREADS], ct;
	struct tmem_pool_params p;
	struct tmem_stats st;
	unsigned char page[PG_SIZE];
	uint64_t present = 0, o;
	uint32_t i;
	unsigned t;

	tmem_params_init(&p);
	p.compressor = comp;
	REQUIRE_EQ(tmem_pool_create(&p, &pool), 0);
	atomic_store(&errors, 0);
	atomic_store(&stop_compactor, 0);
	REQUIRE_EQ(pthread_create(&ct, NULL, compactor, NULL), 0);
	for (t = 0; t < NTHREADS; t++)
		REQUIRE_EQ(pthread_create(&th[t], NULL, worker,
					  (void *)(uintptr_t)t),
			   0);
	for (t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	atomic_store(&stop_compactor, 1);
	pthread_join(ct, NULL);
	CHECK_EQ(atomic_load(&errors), 0);

	/* Quiet now: every shared key is a valid page or absent, and the
	 * stored-pages gauge agrees with what is there. */
	for (o = 0; o < SHARED_OBJS; o++)
		for (i = 0; i < SHARED_IDX; i++) {
			int ret = tmem_get_page(pool, o, i, page);

			if (ret == 0) {
				present++;
				CHECK(valid_page(page, o, i));
			} else {
				CHECK_EQ(ret, -ENOENT);
			}
		}
	for (t = 0; t < NTHREADS; t++)
		for (i = 0; i < OWN_IDX; i++)
			if (tmem_get_page(pool, 100 + t, i, page) == 0)
				present++;
	st.size = sizeof(st);
	CHECK_EQ(tmem_stats_get(pool, &st), 0);
	CHECK_EQ(st.stored_pages, present);
	tmem_pool_destroy(pool);
}

static unsigned cur_comp;

static void test_threads(void)
{
	run(cur_comp);
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "s:i:")) != -1) {
		if (c == 's')
			seed = strtoull(optarg, NULL, 0);
		else if (c == 'i')
			iterations = strtoul(optarg, NULL, 0);
		else
			return 2;
	}
	printf("test-concurrency: seed %llu, %lu iterations per thread\n",
	       (unsigned long long)seed, iterations);
	fflush(stdout);
	for (cur_comp = 0; cur_comp < TMEM_COMP_COUNT; cur_comp++) {
		fprintf(stderr, "== compressor %s\n",
			tmem_compressor_name(cur_comp));
		RUN(test_threads,
		    "threads on overlapping keys never see a torn or lost page");
	}
	return th_finish();
}
