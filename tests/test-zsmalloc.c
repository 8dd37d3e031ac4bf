// SPDX-License-Identifier: MIT
/*
 * test-zsmalloc.c - the allocator through its ops table: objects of every
 * size come back byte-identical through stores, frees, compaction and
 * eviction; memory is accounted exactly and returned; failures leave the
 * pool unchanged; threads and a compactor do not disturb each other.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "harness.h"
#include "internal.h"
#include "zalloc.h"

#define NOBJ 6000

struct obj {
	uint64_t h;
	uint32_t len;
	uint64_t seed;
};

static void fill(unsigned char *p, uint32_t len, uint64_t seed)
{
	uint64_t s = seed | 1;
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(th_rand(&s) >> 56);
}

/* Map @o and compare its length and every byte with what was stored. */
static int intact(void *zp, const struct obj *o)
{
	unsigned char want[TM_PAGE_SIZE];
	const void *p;
	size_t len;
	int ok;

	fill(want, o->len, o->seed);
	p = zs_ops.map(zp, o->h, &len);
	ok = len == o->len && !memcmp(p, want, len);
	zs_ops.unmap(zp, o->h);
	return ok;
}

static int store(void *zp, struct obj *o, uint32_t len, uint64_t seed)
{
	unsigned char buf[TM_PAGE_SIZE];

	o->len = len;
	o->seed = seed;
	fill(buf, len, seed);
	return zs_ops.store(zp, buf, len, &o->h);
}

static void *new_pool(struct tm_acct *a)
{
	struct zalloc_config cfg = { .acct = a };
	void *zp = NULL;

	memset(a, 0, sizeof(*a));
	if (zs_ops.create(&cfg, &zp))
		return NULL;
	return zp;
}

static uint32_t rand_len(uint64_t *s)
{
	/* Mostly compressed-page sizes, some tiny, some whole pages. */
	switch (th_rand(s) % 10) {
	case 0:
		return 1 + th_rand(s) % 64;
	case 1:
		return TM_PAGE_SIZE;
	default:
		return 200 + th_rand(s) % 3400;
	}
}

static void test_roundtrip_free_store(void)
{
	static struct obj o[NOBJ];
	struct zalloc_stats st;
	struct tm_acct a;
	void *zp = new_pool(&a);
	uint64_t s = 7, used = 0;
	unsigned i, bad = 0;

	REQUIRE(zp);
	for (i = 0; i < NOBJ; i++) {
		CHECK_EQ(store(zp, &o[i], rand_len(&s), i), 0);
		used += o[i].len;
	}
	for (i = 0; i < NOBJ; i++)
		bad += !intact(zp, &o[i]);
	CHECK_EQ(bad, 0);
	zs_ops.stats(zp, &st);
	CHECK_EQ(st.objs, NOBJ);
	CHECK_EQ(st.used_bytes, used);
	CHECK_EQ(st.pool_bytes, atomic_load(&a.pool_bytes));
	CHECK(st.pool_bytes >= used);
	/* Free a random half, store new ones into the holes, check all. */
	for (i = 0; i < NOBJ; i++)
		if (th_rand(&s) & 1) {
			zs_ops.free(zp, o[i].h);
			CHECK_EQ(store(zp, &o[i], rand_len(&s), i + NOBJ), 0);
		}
	for (i = 0, bad = 0; i < NOBJ; i++)
		bad += !intact(zp, &o[i]);
	CHECK_EQ(bad, 0);
	/* Everything freed: every page went back. */
	for (i = 0; i < NOBJ; i++)
		zs_ops.free(zp, o[i].h);
	zs_ops.stats(zp, &st);
	CHECK_EQ(st.objs, 0);
	CHECK_EQ(st.used_bytes, 0);
	CHECK_EQ(st.zspages, 0);
	CHECK_EQ(atomic_load(&a.pool_bytes), 0);
	CHECK(atomic_load(&a.pool_peak) > 0);
	zs_ops.destroy(zp);
	CHECK_EQ(atomic_load(&a.meta_bytes), 0);
}

static void test_bad_lengths(void)
{
	unsigned char buf[TM_PAGE_SIZE + 1] = { 0 };
	struct tm_acct a;
	void *zp = new_pool(&a);
	uint64_t h = 0;

	REQUIRE(zp);
	CHECK_EQ(zs_ops.store(zp, buf, 0, &h), -EINVAL);
	CHECK_EQ(zs_ops.store(zp, buf, TM_PAGE_SIZE + 1, &h), -EINVAL);
	CHECK_EQ(zs_ops.store(zp, buf, 1, &h), 0);
	CHECK(h != 0 && h >> ZALLOC_HANDLE_BITS == 0);
	zs_ops.destroy(zp);
	zs_ops.destroy(NULL);
}

/* pool_bytes is exactly the zspages' pages, class by class. */
static void test_accounting_exact(void)
{
	static struct obj o[2000];
	struct tmem_class_stats cs;
	struct zalloc_stats st;
	struct tm_acct a;
	void *zp = new_pool(&a);
	uint64_t s = 3, bytes = 0, objs = 0;
	unsigned i;

	REQUIRE(zp);
	for (i = 0; i < 2000; i++)
		CHECK_EQ(store(zp, &o[i], rand_len(&s), i), 0);
	for (i = 0; zs_ops.class_stats(zp, i, &cs) == 0; i++) {
		bytes += cs.pages * TM_PAGE_SIZE;
		CHECK(cs.pages >= cs.zspages);
		CHECK(cs.pages <= cs.zspages * cs.pages_per_zspage);
		CHECK(cs.objs_capacity <= cs.zspages * cs.objs_per_zspage);
		objs += cs.objs_inuse;
		CHECK(cs.objs_per_zspage * cs.obj_size <=
		      cs.pages_per_zspage * TM_PAGE_SIZE);
		CHECK(cs.pages_per_zspage >= 1 && cs.pages_per_zspage <= 8);
	}
	zs_ops.stats(zp, &st);
	CHECK_EQ(bytes, st.pool_bytes);
	CHECK_EQ(objs, 2000);
	zs_ops.destroy(zp);
	CHECK_EQ(atomic_load(&a.pool_bytes), 0);
}

static void test_compaction(void)
{
	static struct obj o[NOBJ];
	struct zalloc_stats before, after;
	struct tm_acct a;
	void *zp = new_pool(&a);
	uint64_t s = 11, freed;
	unsigned i, bad = 0;

	REQUIRE(zp);
	for (i = 0; i < NOBJ; i++)
		CHECK_EQ(store(zp, &o[i], 300 + th_rand(&s) % 2000, i), 0);
	/* Free 80%, scattered, so most zspages are sparse but not empty. */
	for (i = 0; i < NOBJ; i++)
		if (i % 5) {
			zs_ops.free(zp, o[i].h);
			o[i].h = 0;
		}
	zs_ops.stats(zp, &before);
	freed = zs_ops.compact(zp);
	zs_ops.stats(zp, &after);
	CHECK(freed > 0);
	CHECK_EQ(before.pool_bytes - after.pool_bytes, freed);
	CHECK(after.zspages < before.zspages);
	CHECK(after.pool_bytes < before.pool_bytes / 2);
	CHECK_EQ(after.objs, before.objs);
	for (i = 0; i < NOBJ; i += 5)
		bad += !intact(zp, &o[i]);
	CHECK_EQ(bad, 0);
	/* A second compaction finds nothing more to do. */
	CHECK_EQ(zs_ops.compact(zp), 0);
	zs_ops.destroy(zp);
}

struct evicted {
	unsigned n, fail_after;
	struct obj *objs;
	unsigned nobjs;
	unsigned bad;
};

static int evict_cb(void *arg, uint64_t h, const void *p, size_t len)
{
	struct evicted *ev = arg;
	unsigned char want[TM_PAGE_SIZE];
	unsigned i;

	if (ev->n == ev->fail_after)
		return -EIO;
	for (i = 0; i < ev->nobjs; i++)
		if (ev->objs[i].h == h)
			break;
	if (i == ev->nobjs || ev->objs[i].len != len) {
		ev->bad++;
		return 0;
	}
	fill(want, (uint32_t)len, ev->objs[i].seed);
	if (memcmp(p, want, len))
		ev->bad++;
	ev->objs[i].h = 0; /* the allocator frees it now */
	ev->n++;
	return 0;
}

static void test_evict(void)
{
	static struct obj o[1500];
	struct evicted ev = { 0, ~0u, o, 1500, 0 };
	struct zalloc_stats before, after;
	struct tm_acct a;
	void *zp = new_pool(&a);
	uint64_t s = 5;
	unsigned i, bad = 0;
	int r;

	REQUIRE(zp);
	for (i = 0; i < 1500; i++)
		CHECK_EQ(store(zp, &o[i], 1000 + th_rand(&s) % 200, i), 0);
	zs_ops.stats(zp, &before);
	r = zs_ops.evict(zp, 3, evict_cb, &ev);
	zs_ops.stats(zp, &after);
	CHECK_EQ(r, 3);
	CHECK_EQ(ev.bad, 0);
	CHECK(ev.n > 0);
	CHECK_EQ(after.zspages, before.zspages - 3);
	CHECK_EQ(after.objs, before.objs - ev.n);
	for (i = 0; i < 1500; i++)
		if (o[i].h)
			bad += !intact(zp, &o[i]);
	CHECK_EQ(bad, 0);

	/* A callback that fails stops eviction and keeps the object. */
	ev.fail_after = ev.n;
	r = zs_ops.evict(zp, 1, evict_cb, &ev);
	CHECK_EQ(r, -EIO);
	zs_ops.stats(zp, &before);
	CHECK_EQ(before.objs, after.objs);
	for (i = 0, bad = 0; i < 1500; i++)
		if (o[i].h)
			bad += !intact(zp, &o[i]);
	CHECK_EQ(bad, 0);
	zs_ops.destroy(zp);
}

/* ---- failure injection --------------------------------------------------- */

static _Atomic int failing;

static int f_map(size_t len, void **out)
{
	return atomic_load(&failing) ? -ENOMEM : tm_os_default.map(len, out);
}

static void *f_malloc(size_t n)
{
	return atomic_load(&failing) ? NULL : malloc(n);
}

static void *f_realloc(void *p, size_t n)
{
	return atomic_load(&failing) ? NULL : realloc(p, n);
}

static void test_failures_leave_pool_unchanged(void)
{
	static struct obj o[3000];
	struct tm_os_ops ops = tm_os_default;
	struct zalloc_stats before, after;
	struct tm_acct a;
	void *zp;
	uint64_t s = 9;
	unsigned i, refused = 0, bad = 0;

	ops.map = f_map;
	ops.malloc = f_malloc;
	ops.realloc = f_realloc;
	tm_os_set(&ops);
	zp = new_pool(&a);
	if (!zp)
		tm_os_set(NULL);
	REQUIRE(zp);
	for (i = 0; i < 1500; i++)
		CHECK_EQ(store(zp, &o[i], rand_len(&s), i), 0);
	zs_ops.stats(zp, &before);
	atomic_store(&failing, 1);
	/* Stores that need a new zspage or a bigger table fail cleanly;
	 * those that fit in existing room may still succeed. */
	for (i = 1500; i < 3000; i++) {
		int r = store(zp, &o[i], rand_len(&s), i);

		if (r) {
			CHECK_EQ(r, -ENOMEM);
			o[i].h = 0;
			refused++;
		}
	}
	atomic_store(&failing, 0);
	tm_os_set(NULL);
	CHECK(refused > 0);
	zs_ops.stats(zp, &after);
	CHECK_EQ(after.objs, before.objs + (1500 - refused));
	for (i = 0; i < 3000; i++)
		if (o[i].h)
			bad += !intact(zp, &o[i]);
	CHECK_EQ(bad, 0);
	/* And the pool still works. */
	CHECK_EQ(store(zp, &o[0], 777, 4242), 0);
	CHECK(intact(zp, &o[0]));
	zs_ops.destroy(zp);
}

/* ---- the page allocator under the OS layer ---------------------------- */

static int refuse_discard(void *addr, size_t len)
{
	(void)addr;
	(void)len;
	return -EAGAIN;
}

/*
 * pool_bytes counts the pages the pool holds.  A zspage whose discard the
 * OS refused still holds its pages: it must stay counted, be counted once
 * when it is reused, and be counted out when the pool goes.
 */
static void test_failed_discard_stays_counted(void)
{
	struct tm_os_ops ops = tm_os_default;
	struct tm_acct a;
	void *zp = new_pool(&a);
	struct obj o;
	uint64_t held;

	REQUIRE(zp);
	ops.discard = refuse_discard;
	CHECK_EQ(store(zp, &o, 1000, 1), 0);
	held = atomic_load(&a.pool_bytes);
	CHECK(held > 0);
	tm_os_set(&ops);
	zs_ops.free(zp, o.h); /* the zspage empties; its discard fails */
	tm_os_set(NULL);
	CHECK_EQ(atomic_load(&a.pool_bytes), held);
	/* Reused as it is: counted once, and the new object is intact. */
	CHECK_EQ(store(zp, &o, 1000, 2), 0);
	CHECK_EQ(atomic_load(&a.pool_bytes), held);
	CHECK_EQ(atomic_load(&a.pool_peak), held);
	CHECK(intact(zp, &o));
	/* A discard that works gives it back. */
	zs_ops.free(zp, o.h);
	CHECK_EQ(atomic_load(&a.pool_bytes), 0);
	/* Held when the pool goes: destroy counts it out. */
	CHECK_EQ(store(zp, &o, 1000, 3), 0);
	tm_os_set(&ops);
	zs_ops.free(zp, o.h);
	tm_os_set(NULL);
	CHECK_EQ(atomic_load(&a.pool_bytes), held);
	zs_ops.destroy(zp);
	CHECK_EQ(atomic_load(&a.pool_bytes), 0);
}

/*
 * /proc/self/smaps figures ("THPeligible", "Rss") of the mapping holding
 * @addr, or -1 if the kernel does not report them.
 */
static long smaps_field(const void *addr, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	size_t flen = strlen(field);
	int inside = 0;
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			if (inside)
				break;
			inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		} else if (inside && !strncmp(line, field, flen) &&
			   line[flen] == ':') {
			v = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static _Atomic int maps_seen, nohuge_seen;

/* Map like the default, then ask for huge pages: THP "always" by hand. */
static int huge_map(size_t len, void **out)
{
	int r = tm_os_default.map(len, out);

	if (!r) {
		madvise(*out, len, MADV_HUGEPAGE);
		atomic_fetch_add(&maps_seen, 1);
	}
	return r;
}

static int count_nohuge(void *addr, size_t len)
{
	atomic_fetch_add(&nohuge_seen, 1);
	return tm_os_default.nohuge(addr, len);
}

/*
 * One small zspage must cost its own pages, not a 2 MiB huge page: every
 * arena is marked MADV_NOHUGEPAGE through the OS layer, which overrides
 * THP "always" (emulated here with MADV_HUGEPAGE on each new mapping).
 */
static void test_arenas_refuse_huge_pages(void)
{
	struct tm_os_ops ops = tm_os_default;
	struct tm_acct a;
	const void *p;
	void *zp;
	struct obj o;
	long eligible, rss;
	size_t len;

	ops.map = huge_map;
	ops.nohuge = count_nohuge;
	atomic_store(&maps_seen, 0);
	atomic_store(&nohuge_seen, 0);
	tm_os_set(&ops);
	zp = new_pool(&a);
	if (zp && store(zp, &o, 1000, 1)) {
		zs_ops.destroy(zp);
		zp = NULL;
	}
	tm_os_set(NULL);
	REQUIRE(zp);
	CHECK(atomic_load(&maps_seen) > 0);
	CHECK_EQ(atomic_load(&nohuge_seen), atomic_load(&maps_seen));
	p = zs_ops.map(zp, o.h, &len);
	eligible = smaps_field(p, "THPeligible");
	rss = smaps_field(p, "Rss");
	zs_ops.unmap(zp, o.h);
	fprintf(stderr,
		"  arena after one store: THPeligible %ld, Rss %ld kB, "
		"pool_bytes %llu\n",
		eligible, rss, (unsigned long long)atomic_load(&a.pool_bytes));
	if (eligible >= 0)
		CHECK_EQ(eligible, 0);
	if (rss >= 0)
		CHECK(rss * 1024 <= (long)atomic_load(&a.pool_bytes));
	zs_ops.destroy(zp);
}

/* ---- threads ---------------------------------------------------------- */

#define TH 4
#define TH_OBJS 800
#define TH_ROUNDS 6

static void *the_pool;
static _Atomic int stop;
static _Atomic unsigned thread_bad;

static void *worker(void *arg)
{
	static _Thread_local struct obj o[TH_OBJS];
	uint64_t s = 100 + (uintptr_t)arg;
	unsigned r, i;

	for (r = 0; r < TH_ROUNDS; r++) {
		for (i = 0; i < TH_OBJS; i++)
			if (store(the_pool, &o[i], rand_len(&s),
				  (uintptr_t)arg << 32 | r << 16 | i))
				atomic_fetch_add(&thread_bad, 1);
		for (i = 0; i < TH_OBJS; i++)
			if (!intact(the_pool, &o[i]))
				atomic_fetch_add(&thread_bad, 1);
		for (i = 0; i < TH_OBJS; i++)
			if (i % 3)
				zs_ops.free(the_pool, o[i].h);
		for (i = 0; i < TH_OBJS; i += 3) {
			if (!intact(the_pool, &o[i]))
				atomic_fetch_add(&thread_bad, 1);
			zs_ops.free(the_pool, o[i].h);
		}
	}
	return NULL;
}

static void *compactor(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		zs_ops.compact(the_pool);
	return NULL;
}

static void test_threads_with_compactor(void)
{
	pthread_t th[TH], ct;
	struct zalloc_stats st;
	struct tm_acct a;
	uintptr_t t;

	the_pool = new_pool(&a);
	REQUIRE(the_pool);
	atomic_store(&stop, 0);
	atomic_store(&thread_bad, 0);
	pthread_create(&ct, NULL, compactor, NULL);
	for (t = 0; t < TH; t++)
		pthread_create(&th[t], NULL, worker, (void *)t);
	for (t = 0; t < TH; t++)
		pthread_join(th[t], NULL);
	atomic_store(&stop, 1);
	pthread_join(ct, NULL);
	CHECK_EQ(atomic_load(&thread_bad), 0);
	zs_ops.stats(the_pool, &st);
	CHECK_EQ(st.objs, 0);
	CHECK_EQ(atomic_load(&a.pool_bytes), 0);
	zs_ops.destroy(the_pool);
}

int main(void)
{
	RUN(test_roundtrip_free_store,
	    "objects of every size come back identical through free and reuse");
	RUN(test_bad_lengths, "lengths 0 and over a page are refused");
	RUN(test_accounting_exact, "pool bytes are exactly the zspages' pages");
	RUN(test_compaction,
	    "compaction returns sparse zspages and keeps every object intact");
	RUN(test_evict,
	    "eviction hands every object of whole zspages to the callback");
	RUN(test_failed_discard_stays_counted,
	    "a zspage whose discard failed stays in pool_bytes until reused or destroyed");
	RUN(test_arenas_refuse_huge_pages,
	    "arenas are kept out of huge pages: one zspage costs its own pages");
	RUN(test_failures_leave_pool_unchanged,
	    "failed allocations give -ENOMEM and leave the pool unchanged");
	RUN(test_threads_with_compactor,
	    "threads storing, mapping and freeing beside a compactor lose nothing");
	return th_finish();
}
