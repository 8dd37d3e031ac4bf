// SPDX-License-Identifier: MIT
/*
 * fuzz-store.c - libFuzzer target for a tmem pool, through the public API
 * only, checked against a reference model.
 *
 * The input is a pool configuration followed by a sequence of operations
 * on a small key space (KEY_OIDS objects x KEY_INDICES pages, with oids
 * and indices spread out so index nodes are split and joined).  The model
 * remembers, per key, whether a page is stored and how to rebuild its
 * bytes (a page kind and a seed), so it needs no page storage of its own.
 * After every operation the pool must agree with the model:
 *   - a get returns exactly the page last put (byte for byte), or -ENOENT
 *     and leaves the caller's buffer untouched;
 *   - a failed put (-ENOSPC with a pool limit, -ENOMEM) keeps the old page;
 *   - flush_page and flush_object drop exactly what the model drops and
 *     say so in their return values;
 *   - the statistics of this quiet, single-threaded pool are exact
 *     (tmem.h): page and same-filled counts, and every counter the model
 *     can predict.
 * At the end every key is read back, then the pool is destroyed.  Any
 * disagreement prints what differed and calls abort().
 *
 * Input layout:
 *   byte 0  compressor          byte 1  pool limit (0: none)
 *   byte 2  zstd level
 *   then operations, each an opcode byte and its operand bytes (see
 *   step()); missing operand bytes read as zero, so every input is valid.
 */
#define TMEM_EXPERIMENTAL
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmem.h"

#define PAGE TMEM_PAGE_SIZE
#define KEY_OIDS 4
#define KEY_INDICES 8
#define NKEYS (KEY_OIDS * KEY_INDICES)
#define MAX_OPS 400 /* per input: keeps each run short */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t oids[KEY_OIDS] = { 0, 1, 1ull << 40, UINT64_MAX };
static const uint32_t indices[KEY_INDICES] = { 0,  1,	2,     63,
					       64, 511, 65536, UINT32_MAX };

enum kind { K_ZERO, K_SAME, K_TEXT, K_HALF, K_RANDOM, K_COUNT };

struct slot {
	int present;
	enum kind kind;
	uint32_t seed;
};

struct model {
	struct slot s[NKEYS];
	int limited; /* the pool has a pool_max: puts may get -ENOSPC */
	struct tmem_stats want; /* the counters the model can predict */
};

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t next(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static void die(const char *what, int key, long long got, long long want)
{
	fprintf(stderr, "fuzz-store: %s (key %d): got %lld, want %lld\n", what,
		key, got, want);
	abort();
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static void make_page(unsigned char *p, enum kind k, uint32_t seed)
{
	uint64_t s =
		((uint64_t)seed << 8 | (unsigned)k) * 0x9e3779b97f4a7c15ull + 1;
	uint64_t w;
	size_t i;

	switch (k) {
	case K_ZERO:
		memset(p, 0, PAGE);
		break;
	case K_SAME:
		w = rnd(&s);
		for (i = 0; i < PAGE; i += 8)
			memcpy(p + i, &w, 8);
		break;
	case K_TEXT:
		for (i = 0; i < PAGE; i++)
			p[i] = (unsigned char)"tmem page object, "[rnd(&s) % 3 +
								   i % 15];
		break;
	case K_HALF:
		for (i = 0; i < PAGE / 2; i++)
			p[i] = (unsigned char)rnd(&s);
		memset(p + PAGE / 2, 0, PAGE / 2);
		break;
	case K_RANDOM:
	default:
		for (i = 0; i < PAGE; i++)
			p[i] = (unsigned char)(rnd(&s) >> 56);
		break;
	}
}

static int is_samefilled(const struct slot *s)
{
	unsigned char page[PAGE];

	make_page(page, s->kind, s->seed);
	return tmem_page_is_samefilled(page, NULL);
}

static void check_page(struct tmem_pool *pool, struct model *m, int key,
		       unsigned misalign)
{
	static unsigned char buf[PAGE + 8], want[PAGE];
	unsigned char *got = buf + misalign;
	int err;

	memset(buf, 0xcc, sizeof(buf));
	err = tmem_get_page(pool, oids[key / KEY_INDICES],
			    indices[key % KEY_INDICES], got);
	if (!m->s[key].present) {
		size_t i;

		if (err != -ENOENT)
			die("get of an absent key", key, err, -ENOENT);
		for (i = 0; i < sizeof(buf); i++)
			if (buf[i] != 0xcc)
				die("a missed get wrote the page", key,
				    (long long)i, -1);
		m->want.get_misses++;
		return;
	}
	if (err)
		die("get of a stored key", key, err, 0);
	make_page(want, m->s[key].kind, m->s[key].seed);
	if (memcmp(got, want, PAGE)) {
		size_t i = 0;

		while (got[i] == want[i])
			i++;
		die("get returned other bytes; first difference at", key,
		    (long long)i, -1);
	}
	m->want.gets++;
}

static void do_put(struct tmem_pool *pool, struct model *m, int key,
		   enum kind k, uint32_t seed, unsigned misalign)
{
	static unsigned char buf[PAGE + 8];
	struct slot s = { 1, k, seed };
	int err;

	make_page(buf + misalign, k, seed);
	err = tmem_put_page(pool, oids[key / KEY_INDICES],
			    indices[key % KEY_INDICES], buf + misalign);
	if (err == -ENOSPC && m->limited) {
		m->want.reject_pool_full++;
		return;
	}
	if (err == -ENOMEM) {
		m->want.reject_alloc_fail++;
		return;
	}
	if (err)
		die("put", key, err, 0);
	m->want.puts++;
	m->want.overwrites += (uint64_t)m->s[key].present;
	m->want.samefill_puts += (uint64_t)is_samefilled(&s);
	m->s[key] = s;
}

static void do_flush_page(struct tmem_pool *pool, struct model *m, int key)
{
	int err = tmem_flush_page(pool, oids[key / KEY_INDICES],
				  indices[key % KEY_INDICES]);
	int want = m->s[key].present ? 0 : -ENOENT;

	if (err != want)
		die("flush_page", key, err, want);
	m->want.flushes += (uint64_t)m->s[key].present;
	m->s[key].present = 0;
}

static void do_flush_object(struct tmem_pool *pool, struct model *m, int oid)
{
	int i, want = 0, got;

	for (i = 0; i < KEY_INDICES; i++) {
		want += m->s[oid * KEY_INDICES + i].present;
		m->s[oid * KEY_INDICES + i].present = 0;
	}
	got = tmem_flush_object(pool, oids[oid]);
	if (got != want)
		die("flush_object count", oid * KEY_INDICES, got, want);
	m->want.flushes += (uint64_t)want;
	m->want.flush_objects++;
}

#define CHECK_STAT(field)                                                      \
	do {                                                                   \
		if (st.field != m->want.field)                                 \
			die("stats " #field, -1, (long long)st.field,          \
			    (long long)m->want.field);                         \
	} while (0)

static void check_stats(struct tmem_pool *pool, struct model *m)
{
	struct tmem_stats st;
	uint64_t stored = 0, same = 0;
	int i, err;

	for (i = 0; i < NKEYS; i++) {
		stored += (uint64_t)m->s[i].present;
		same += (uint64_t)(m->s[i].present && is_samefilled(&m->s[i]));
	}
	m->want.stored_pages = stored;
	m->want.samefill_pages = same;
	m->want.orig_bytes = stored * PAGE;
	memset(&st, 0xff, sizeof(st));
	st.size = sizeof(st);
	err = tmem_stats_get(pool, &st);
	if (err)
		die("stats_get", -1, err, 0);
	if (st.version != TMEM_STATS_VERSION)
		die("stats version", -1, st.version, TMEM_STATS_VERSION);
	CHECK_STAT(stored_pages);
	CHECK_STAT(samefill_pages);
	CHECK_STAT(orig_bytes);
	CHECK_STAT(puts);
	CHECK_STAT(overwrites);
	CHECK_STAT(samefill_puts);
	CHECK_STAT(gets);
	CHECK_STAT(get_misses);
	CHECK_STAT(flushes);
	CHECK_STAT(flush_objects);
	CHECK_STAT(reject_pool_full);
	CHECK_STAT(reject_alloc_fail);
	if (st.raw_pages + st.samefill_pages > st.stored_pages)
		die("raw + same-filled pages over stored pages", -1,
		    (long long)(st.raw_pages + st.samefill_pages),
		    (long long)st.stored_pages);
	if (st.compressed_bytes > (stored - same) * PAGE)
		die("compressed_bytes over a page per stored page", -1,
		    (long long)st.compressed_bytes,
		    (long long)((stored - same) * PAGE));
	if (st.pool_peak_bytes < st.pool_bytes)
		die("pool_peak_bytes below pool_bytes", -1,
		    (long long)st.pool_peak_bytes, (long long)st.pool_bytes);
}

/*
 * One operation: an opcode byte, then its operands.  Keys are one byte
 * (modulo NKEYS), seeds two.  Returns 0 at the end of the input.
 */
static int step(struct tmem_pool *pool, struct model *m, struct input *in)
{
	uint8_t op;
	int key;
	uint64_t freed;

	if (!in->left)
		return 0;
	op = next(in);
	key = next(in) % NKEYS;
	switch (op % 8) {
	case 0:
	case 1:
	case 2: {
		enum kind k = (enum kind)(next(in) % K_COUNT);
		uint32_t seed = next(in);

		seed = seed << 8 | next(in);
		do_put(pool, m, key, k, seed, op % 8 == 2 ? 1 + op / 8 % 7 : 0);
		break;
	}
	case 3:
	case 4:
		check_page(pool, m, key, op % 8 == 4 ? 1 + op / 8 % 7 : 0);
		break;
	case 5:
		do_flush_page(pool, m, key);
		break;
	case 6:
		do_flush_object(pool, m, key % KEY_OIDS);
		break;
	case 7:
	default:
		if (op & 0x80) {
			if (tmem_pool_compact(pool, &freed))
				die("compact", -1, -1, 0);
		}
		check_stats(pool, m);
		break;
	}
	return 1;
}

static void check_bad_arguments(void)
{
	unsigned char page[PAGE] = { 0 };
	struct tmem_stats st = { .size = sizeof(st) };

	if (tmem_put_page(NULL, 0, 0, page) != -EINVAL ||
	    tmem_get_page(NULL, 0, 0, page) != -EINVAL ||
	    tmem_flush_page(NULL, 0, 0) != -EINVAL ||
	    tmem_flush_object(NULL, 0) != -EINVAL ||
	    tmem_pool_compact(NULL, NULL) != -EINVAL ||
	    tmem_stats_get(NULL, &st) != -EINVAL)
		die("a NULL pool was not refused with -EINVAL", -1, 0, -EINVAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct tmem_pool_params p;
	struct tmem_pool *pool;
	struct model m;
	uint8_t limit;
	int i, err;

	memset(&m, 0, sizeof(m));
	if (tmem_params_init(&p))
		die("params_init", -1, -1, 0);
	p.compressor = next(&in) % TMEM_COMP_COUNT;
	limit = next(&in);
	/*
	 * 0: no limit; else 64 KiB .. 4 MiB, so that the limit is reached.
	 * Through the tunables table, which knows the smallest limit a pool
	 * accepts: a limit below it runs without one.
	 */
	if (limit) {
		char val[32];

		snprintf(val, sizeof(val), "%uK", (limit % 64 + 1) * 64);
		err = tmem_params_set(&p, "pool_max", val);
		if (err && err != -ERANGE)
			die("params_set pool_max", -1, err, 0);
	}
	m.limited = p.pool_max != 0;
	/* Levels 1..9 only: the high ones cost milliseconds per page. */
	p.zstd_level = 1 + next(&in) % 9;
	err = tmem_pool_create(&p, &pool);
	if (err)
		die("pool_create", -1, err, 0);
	if (size == 0)
		check_bad_arguments();

	for (i = 0; i < MAX_OPS && step(pool, &m, &in); i++)
		;
	check_stats(pool, &m);
	for (i = 0; i < NKEYS; i++)
		check_page(pool, &m, i, 0);
	check_stats(pool, &m);
	tmem_pool_destroy(pool);
	return 0;
}
