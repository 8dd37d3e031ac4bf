// SPDX-License-Identifier: MIT
/*
 * test-model.c - long random sequences of put/get/flush/flush_object/
 * compact against a reference map, comparing every byte (lz4 fuzzer.c
 * style).  Not a benchmark.
 *
 *   test-model [-s SEED] [-i ITERATIONS] [-T SECONDS]
 *
 * The reference keeps, per key, the (kind, seed) of the page last put, so
 * expected bytes are regenerated rather than stored.  Keys come from a
 * small space (4 objects x 300 indexes) so overwrites, flushes of present
 * and absent keys, and object flushes all happen often.  Every config of
 * compressor x allocator runs.
 *
 * One pass has a small pool limit, and the mix of operations there
 * alternates between filling (mostly puts) until a put is refused and
 * draining (mostly flushes and compaction) until a put is accepted
 * again; with the plain mix the pool never filled (flushes kept up with
 * puts).  That pass asserts that the limit was reached, that a refused
 * put left the key's old page intact, and that puts were accepted again
 * after flushes.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pagegen.h"
#include "tmem.h"

#define NOBJ 4
#define NIDX 300

struct ref {
	int present;
	unsigned kind;
	uint64_t seed;
};

static uint64_t seed = 1;
static unsigned long iterations = 20000;
static double time_limit;

static struct ref model[NOBJ][NIDX];

enum op { OP_PUT, OP_GET, OP_FLUSH, OP_FLUSH_OBJECT, OP_COMPACT };

/*
 * Cumulative percentages of put, get, flush and flush_object; the rest
 * is compaction.  A limited pool fills, then drains, then fills again.
 */
static const unsigned mix_plain[4] = { 45, 85, 97, 99 };
static const unsigned mix_fill[4] = { 75, 95, 99, 99 };
static const unsigned mix_drain[4] = { 20, 35, 85, 90 };

static enum op pick(const unsigned *mix, unsigned r)
{
	enum op op = OP_PUT;

	while (op < OP_COMPACT && r >= mix[op])
		op++;
	return op;
}

/* What a limited pass saw. */
struct limit_seen {
	unsigned long refused; /* puts refused with -ENOSPC */
	unsigned long refused_kept; /* of those, over a stored page: intact */
	unsigned long reaccepted; /* refused, drained, then accepted */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_config(unsigned comp, uint64_t pool_max, int backed,
		       struct limit_seen *seen)
{
	unsigned char page[PG_SIZE], want[PG_SIZE];
	struct tmem_pool_params p;
	struct tmem_pool *pool;
	struct tmem_stats st;
	uint64_t rng = seed * 0x9E3779B97F4A7C15ull + comp + pool_max, stored;
	double start = now();
	const unsigned *mix = pool_max ? mix_fill : mix_plain;
	unsigned long it;
	unsigned o, i;

	memset(model, 0, sizeof(model));
	tmem_params_init(&p);
	p.compressor = comp;
	p.pool_max = pool_max;
	REQUIRE_EQ(tmem_pool_create(&p, &pool), 0);
	if (backed) {
		const char *dir = getenv("TMPDIR");

		REQUIRE_EQ(
			tmem_pool_set_backing(pool, dir && *dir ? dir : "/tmp"),
			0);
	}

	for (it = 0; it < iterations; it++) {
		enum op op = pick(mix, th_rand(&rng) % 100);
		uint64_t oid = th_rand(&rng) % NOBJ;
		uint32_t idx = th_rand(&rng) % NIDX;
		struct ref *r = &model[oid][idx];
		int ret;

		if (time_limit > 0 && (it & 255) == 0 &&
		    now() - start > time_limit)
			break;
		if (op == OP_PUT) {
			unsigned kind = th_rand(&rng) % PG_KINDS;
			uint64_t s = th_rand(&rng);

			pg_make(page, kind, s);
			ret = tmem_put_page(pool, oid, idx, page);
			if (ret == 0) {
				r->present = 1;
				r->kind = kind;
				r->seed = s;
				if (mix == mix_drain) {
					seen->reaccepted++;
					mix = mix_fill;
				}
			} else if (pool_max && !backed && ret == -ENOSPC) {
				seen->refused++;
				mix = mix_drain;
				if (r->present) {
					/* The old page, not the refused one. */
					CHECK_EQ(tmem_get_page(pool, oid, idx,
							       page),
						 0);
					pg_make(want, r->kind, r->seed);
					CHECK_MEM_EQ(page, want, PG_SIZE);
					seen->refused_kept++;
				}
			} else {
				CHECK_EQ(ret, 0);
			}
		} else if (op == OP_GET) {
			ret = tmem_get_page(pool, oid, idx, page);
			if (r->present) {
				CHECK_EQ(ret, 0);
				pg_make(want, r->kind, r->seed);
				CHECK_MEM_EQ(page, want, PG_SIZE);
			} else {
				CHECK_EQ(ret, -ENOENT);
			}
		} else if (op == OP_FLUSH) {
			ret = tmem_flush_page(pool, oid, idx);
			CHECK_EQ(ret, r->present ? 0 : -ENOENT);
			r->present = 0;
		} else if (op == OP_FLUSH_OBJECT) {
			int n = 0;

			for (i = 0; i < NIDX; i++) {
				n += model[oid][i].present;
				model[oid][i].present = 0;
			}
			CHECK_EQ(tmem_flush_object(pool, oid), n);
		} else {
			CHECK_EQ(tmem_pool_compact(pool, NULL), 0);
		}
		if (th_cur_failed) {
			fprintf(stderr,
				"  Corruption or error at iteration %lu "
				"(seed %llu)\n",
				it, (unsigned long long)seed);
			break;
		}
	}

	/* Final sweep: every key exactly as the model says. */
	stored = 0;
	for (o = 0; o < NOBJ; o++)
		for (i = 0; i < NIDX; i++) {
			struct ref *r = &model[o][i];
			int ret = tmem_get_page(pool, o, i, page);

			if (!r->present) {
				CHECK_EQ(ret, -ENOENT);
				continue;
			}
			stored++;
			CHECK_EQ(ret, 0);
			pg_make(want, r->kind, r->seed);
			CHECK_MEM_EQ(page, want, PG_SIZE);
		}
	st.size = sizeof(st);
	CHECK_EQ(tmem_stats_get(pool, &st), 0);
	CHECK_EQ(st.stored_pages, stored);
	CHECK_EQ(st.reject_pool_full, seen->refused);
	if (backed) {
		/* The limit was really hit: pages went to the file and
		 * came back from it, with no error and none refused. */
		fprintf(stderr,
			"  backed pool: %llu pages written back, %llu read "
			"back, %llu segments cleaned\n",
			(unsigned long long)st.wb_written_pages,
			(unsigned long long)st.wb_read_pages,
			(unsigned long long)st.wb_cleaned_segments);
		CHECK(st.wb_written_pages > 0);
		CHECK(st.wb_read_pages > 0);
		CHECK_EQ(st.wb_write_errors + st.wb_read_errors +
				 st.wb_checksum_errors,
			 0);
		CHECK_EQ(st.reject_pool_full, 0);
	}
	tmem_pool_destroy(pool);
}

static unsigned cur_comp;

static void test_unlimited(void)
{
	struct limit_seen seen = { 0 };

	run_config(cur_comp, 0, 0, &seen);
	CHECK_EQ(seen.refused, 0);
}

static void test_limited(void)
{
	struct limit_seen seen = { 0 };

	/*
	 * An empty pool's metadata is ~35 KiB; the rest holds about a third
	 * of the key space, so filling reaches the limit within a few
	 * hundred puts.
	 */
	run_config(cur_comp, 512 * 1024, 0, &seen);
	fprintf(stderr,
		"  limited pool: %lu puts refused (%lu over a stored page, "
		"kept), accepted again %lu times\n",
		seen.refused, seen.refused_kept, seen.reaccepted);
	CHECK(seen.refused > 0);
	CHECK(seen.refused_kept > 0);
	CHECK(seen.reaccepted > 0);
}

static void test_backed(void)
{
	struct limit_seen seen = { 0 };

	/* The limited pool's limit, with a backing file: no put refused. */
	run_config(cur_comp, 512 * 1024, 1, &seen);
	CHECK_EQ(seen.refused, 0);
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "s:i:T:")) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'i':
			iterations = strtoul(optarg, NULL, 0);
			break;
		case 'T':
			time_limit = strtod(optarg, NULL);
			break;
		default:
			fprintf(stderr,
				"usage: %s [-s SEED] [-i ITER] [-T SEC]\n",
				argv[0]);
			return 2;
		}
	}
	if (seed == 0) {
		seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20;
		if (seed == 0)
			seed = 1;
	}
	printf("test-model: seed %llu, %lu iterations\n",
	       (unsigned long long)seed, iterations);
	fflush(stdout);
	for (cur_comp = 0; cur_comp < TMEM_COMP_COUNT; cur_comp++) {
		fprintf(stderr, "== compressor %s\n",
			tmem_compressor_name(cur_comp));
		RUN(test_unlimited,
		    "random put/get/flush sequences match the reference map");
		RUN(test_limited,
		    "with a small pool limit, refused puts keep the old page");
		RUN(test_backed, "with a small limit and a backing file, "
				 "pages go to file and match the map");
	}
	return th_finish();
}
