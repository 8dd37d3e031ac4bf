// SPDX-License-Identifier: MIT
/*
 * test-writeback.c - the writeback tier: pages beyond the pool limit go to
 * the backing file and come back byte for byte; the cleaner keeps the
 * file bounded; injected write and read faults lose no page; admission
 * never locks up; threads racing on the same keys while writeback and
 * cleaning run always read a page that was put.
 *
 * The backing file goes in $TMPDIR (default /tmp).
 */
#define TMEM_EXPERIMENTAL
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"
#include "pagegen.h"

static const char *tmpdir(void)
{
	const char *d = getenv("TMPDIR");

	return d && *d ? d : "/tmp";
}

static struct tmem_pool *backed_pool(uint64_t pool_max, unsigned accept,
				     unsigned comp)
{
	struct tmem_pool_params p;
	struct tmem_pool *pool = NULL;

	tmem_params_init(&p);
	p.pool_max = pool_max;
	p.accept_threshold = accept;
	p.compressor = comp;
	if (tmem_pool_create(&p, &pool))
		return NULL;
	if (tmem_pool_set_backing(pool, tmpdir())) {
		tmem_pool_destroy(pool);
		return NULL;
	}
	return pool;
}

static void stats(struct tmem_pool *pool, struct tmem_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	tmem_stats_get(pool, st);
}

/* A page of @kind for key (oid, i), version @v: every kind but zero and
 * same-filled pages differs per key and version. */
static void make(unsigned char *page, uint64_t oid, uint32_t i, unsigned v)
{
	enum pg_kind kinds[] = { PG_TEXT,   PG_TEXT,   PG_HALF,
				 PG_RANDOM, PG_SPARSE, PG_ZERO };

	pg_make(page, kinds[(i + v) % TM_N(kinds)],
		oid * 1000003u + i * 31u + v * 7919u);
}

static void test_errors(void)
{
	struct tmem_pool_params p;
	struct tmem_pool *pool = NULL;
	char path[512];

	tmem_params_init(&p);
	REQUIRE_EQ(tmem_pool_create(&p, &pool), 0);
	CHECK_EQ(tmem_pool_set_backing(NULL, tmpdir()), -EINVAL);
	CHECK_EQ(tmem_pool_set_backing(pool, NULL), -EINVAL);
	CHECK_EQ(tmem_pool_writeback(pool, 0, NULL), -EINVAL);
	CHECK_EQ(tmem_pool_set_backing(pool, "/nonexistent-dir/x/y"), -ENOENT);
	CHECK_EQ(tmem_pool_set_backing(pool, "/etc/passwd"), -EEXIST);
	/* A file path that does not exist: made and unlinked at once. */
	snprintf(path, sizeof(path), "%s/tmem-wb-test-%d", tmpdir(),
		 (int)getpid());
	CHECK_EQ(tmem_pool_set_backing(pool, path), 0);
	CHECK(access(path, F_OK) != 0);
	CHECK_EQ(tmem_pool_set_backing(pool, tmpdir()), -EBUSY);
	tmem_pool_destroy(pool);
}

/* Many more pages than fit: every page comes back identical. */
static void test_round_trip(void)
{
	enum { N = 6000 };
	struct tmem_pool *pool = backed_pool(512 << 10, 80, TMEM_COMP_LZ4);
	unsigned char page[PG_SIZE], out[PG_SIZE];
	struct tmem_stats st;
	unsigned bad = 0;

	REQUIRE(pool);
	for (uint32_t i = 0; i < N; i++) {
		make(page, 1, i, 0);
		REQUIRE_EQ(tmem_put_page(pool, 1, i, page), 0);
	}
	stats(pool, &st);
	CHECK_EQ(st.stored_pages, N);
	CHECK(st.wb_written_pages > N / 2);
	CHECK(st.wb_pages > N / 2);
	CHECK_EQ(st.wb_overlimit_puts, 0);
	CHECK_EQ(st.wb_write_errors, 0);
	/* Records are packed: no page is padded to 4 KiB. */
	CHECK(st.wb_payload_bytes <= st.wb_written_pages * (PG_SIZE + 32));
	CHECK(st.pool_bytes + st.metadata_bytes <= (512 << 10) + (256 << 10));
	for (uint32_t i = 0; i < N; i++) {
		memset(out, 0xa5, sizeof(out));
		make(page, 1, i, 0);
		if (tmem_get_page(pool, 1, i, out) ||
		    memcmp(page, out, PG_SIZE))
			bad++;
	}
	CHECK_EQ(bad, 0);
	stats(pool, &st);
	CHECK(st.wb_read_pages > N / 2);
	CHECK_EQ(st.wb_checksum_errors, 0);
	CHECK_EQ(st.wb_read_errors, 0);
	tmem_pool_destroy(pool);
}

/* Overwrite and flush churn: the cleaner keeps the file bounded. */
static void test_churn(void)
{
	enum { N = 3000, ROUNDS = 12 };
	struct tmem_pool *pool = backed_pool(256 << 10, 80, TMEM_COMP_LZ4);
	unsigned char page[PG_SIZE], out[PG_SIZE];
	struct tmem_stats st;
	int64_t over = 0; /* the most the file was above its bound */
	unsigned bad = 0;

	REQUIRE(pool);
	for (unsigned r = 0; r < ROUNDS; r++) {
		for (uint32_t i = 0; i < N; i++) {
			make(page, 2, i, r);
			REQUIRE_EQ(tmem_put_page(pool, 2, i, page), 0);
		}
		for (uint32_t i = r % 3; i < N; i += 3)
			CHECK_EQ(tmem_flush_page(pool, 2, i), 0);
		stats(pool, &st);
		/* The bound the cleaner keeps: dead bytes at most half the
		 * file, give or take two segments and the two open heads. */
		if ((int64_t)st.wb_file_bytes - 2 * (int64_t)st.wb_live_bytes >
		    over)
			over = (int64_t)st.wb_file_bytes -
			       2 * (int64_t)st.wb_live_bytes;
	}
	stats(pool, &st);
	/* Without cleaning the file would hold every round's records. */
	CHECK(st.wb_cleaned_segments > 0);
	CHECK(over <= 4 << 20);
	CHECK(st.wb_bytes_written > 2 * st.wb_file_bytes);
	CHECK(st.wb_dead_bytes <= st.wb_file_bytes);
	for (uint32_t i = 0; i < N; i++) {
		int ret = tmem_get_page(pool, 2, i, out);

		make(page, 2, i, ROUNDS - 1);
		if (i % 3 == (ROUNDS - 1) % 3) {
			if (ret != -ENOENT)
				bad++;
		} else if (ret || memcmp(page, out, PG_SIZE)) {
			bad++;
		}
	}
	CHECK_EQ(bad, 0);
	tmem_pool_destroy(pool);
}

/* Every page of (oid, 0..n-1) at version v reads back whole. */
static unsigned verify(struct tmem_pool *pool, uint64_t oid, uint32_t n,
		       unsigned v)
{
	unsigned char page[PG_SIZE], out[PG_SIZE];
	unsigned bad = 0;

	for (uint32_t i = 0; i < n; i++) {
		make(page, oid, i, v);
		if (tmem_get_page(pool, oid, i, out) ||
		    memcmp(page, out, PG_SIZE))
			bad++;
	}
	return bad;
}

static void put_all(struct tmem_pool *pool, uint64_t oid, uint32_t n,
		    unsigned v)
{
	unsigned char page[PG_SIZE];

	for (uint32_t i = 0; i < n; i++) {
		make(page, oid, i, v);
		tmem_put_page(pool, oid, i, page);
	}
}

/* ---- injected faults ------------------------------------------------- */

static _Atomic int fail_write; /* -errno to return, 0 = pass */
static _Atomic int fail_read; /* -errno, 1 = short read, 2 = corrupt */

static long f_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
	int e = atomic_load(&fail_write);

	if (e)
		return e;
	return tm_os_default.pwrite(fd, buf, n, off);
}

static long f_pread(int fd, void *buf, size_t n, uint64_t off)
{
	int e = atomic_load(&fail_read);
	long r;

	if (e < 0)
		return e;
	if (e == 1)
		return off % 2 ? 0 : tm_os_default.pread(fd, buf, n / 2, off);
	r = tm_os_default.pread(fd, buf, n, off);
	if (e == 2 && r > 40)
		((unsigned char *)buf)[40] ^= 0x10;
	return r;
}

static void test_write_faults(void)
{
	enum { N = 3000 };
	struct tm_os_ops ops = tm_os_default;
	struct tmem_pool *pool;
	unsigned char page[PG_SIZE];
	struct tmem_stats st;
	uint64_t n = 0;
	int errs[] = { -ENOSPC, -EIO };

	ops.pwrite = f_pwrite;
	tm_os_set(&ops);
	for (unsigned e = 0; e < TM_N(errs); e++) {
		pool = backed_pool(256 << 10, 80, TMEM_COMP_LZ4);
		REQUIRE(pool);
		atomic_store(&fail_write, errs[e]);
		for (uint32_t i = 0; i < N; i++) {
			make(page, 3, i, e);
			/* The put succeeds: the page stays in memory. */
			CHECK_EQ(tmem_put_page(pool, 3, i, page), 0);
		}
		stats(pool, &st);
		CHECK(st.wb_write_errors >= 1);
		CHECK(st.wb_overlimit_puts > 0);
		CHECK_EQ(st.wb_written_pages, 0);
		CHECK_EQ(tmem_pool_writeback(pool, 0, &n), errs[e]);
		CHECK_EQ(n, 0);
		CHECK_EQ(verify(pool, 3, N, e), 0);
		/* The disk is back: writeback works again, nothing lost. */
		atomic_store(&fail_write, 0);
		CHECK_EQ(tmem_pool_writeback(pool, 0, &n), 0);
		CHECK(n > N / 2);
		CHECK_EQ(verify(pool, 3, N, e), 0);
		tmem_pool_destroy(pool);
	}
	tm_os_set(NULL);
}

static void test_read_faults(void)
{
	enum { N = 500 };
	struct tm_os_ops ops = tm_os_default;
	struct tmem_pool *pool = backed_pool(0, 80, TMEM_COMP_LZ4);
	unsigned char page[PG_SIZE], out[PG_SIZE];
	struct tmem_stats st;
	uint64_t n = 0;
	unsigned bad = 0;
	uint64_t want = 0;

	REQUIRE(pool);
	for (uint32_t i = 0; i < N; i++) {
		unsigned char z[PG_SIZE];
		int len;

		pg_make(page, i % 2 ? PG_TEXT : PG_SPARSE, i);
		REQUIRE_EQ(tmem_put_page(pool, 4, i, page), 0);
		len = tmem_compress_page(TMEM_COMP_LZ4, 0, page, z, 3584);
		want += 32 + (len > 0 ? (unsigned)len : PG_SIZE);
	}
	REQUIRE_EQ(tmem_pool_writeback(pool, 0, &n), 0);
	stats(pool, &st);
	REQUIRE_EQ(st.wb_pages, N);
	REQUIRE_EQ(n, N);
	/* Records are packed back to back: a 32-byte header and the zpage,
	 * no padding to 4 KiB (zswap writes 4096 bytes a page). */
	CHECK_EQ(st.wb_payload_bytes, want);
	CHECK_EQ(st.wb_bytes_written, want);
	CHECK_EQ(st.wb_file_bytes, want);
	CHECK_EQ(st.wb_live_bytes, want);
	CHECK(want < N * 2048ull);
	ops.pread = f_pread;
	tm_os_set(&ops);
	/* EIO, a short read, a flipped bit: -EIO, never wrong bytes. */
	for (int mode = 0; mode < 3; mode++) {
		unsigned eio = 0;

		atomic_store(&fail_read, mode == 0 ? -EIO : mode);
		for (uint32_t i = 0; i < N; i++) {
			int ret;

			pg_make(page, i % 2 ? PG_TEXT : PG_SPARSE, i);
			memset(out, 0, sizeof(out));
			ret = tmem_get_page(pool, 4, i, out);
			if (ret == -EIO)
				eio++;
			else if (ret || memcmp(page, out, PG_SIZE))
				bad++;
		}
		CHECK(eio > N / 3);
		CHECK_EQ(bad, 0);
	}
	stats(pool, &st);
	CHECK(st.wb_read_errors > 0);
	CHECK(st.wb_checksum_errors > 0);
	/* The pages were not lost: read faults gone, all come back. */
	atomic_store(&fail_read, 0);
	tm_os_set(NULL);
	for (uint32_t i = 0; i < N; i++) {
		pg_make(page, i % 2 ? PG_TEXT : PG_SPARSE, i);
		if (tmem_get_page(pool, 4, i, out) ||
		    memcmp(page, out, PG_SIZE))
			bad++;
	}
	CHECK_EQ(bad, 0);
	tmem_pool_destroy(pool);
}

/* ---- admission ------------------------------------------------------- */

/* Fill until refused, flush everything, and puts must be taken again. */
static void fill_empty_fill(uint64_t pool_max, unsigned accept)
{
	struct tmem_pool_params p;
	struct tmem_pool *pool = NULL;
	unsigned char page[PG_SIZE];
	uint32_t n = 0;

	tmem_params_init(&p);
	p.pool_max = pool_max;
	p.accept_threshold = accept;
	REQUIRE_EQ(tmem_pool_create(&p, &pool), 0);
	for (int round = 0; round < 3; round++) {
		uint32_t stored = 0;

		for (n = 0; n < 20000; n++) {
			pg_make(page, PG_TEXT, n);
			if (tmem_put_page(pool, 5, n, page))
				break;
			stored++;
		}
		CHECK(n < 20000); /* the limit was reached */
		if (pool_max > 64 << 10)
			CHECK(stored > 0);
		tmem_flush_object(pool, 5);
		make(page, 5, 1, 0);
		CHECK_EQ(tmem_put_page(pool, 5, 1, page), 0);
		tmem_flush_object(pool, 5);
	}
	tmem_pool_destroy(pool);
}

static void test_admission(void)
{
	struct tmem_pool_params p;
	struct tmem_pool *pool = NULL;
	struct tmem_stats st;

	fill_empty_fill(1 << 20, 0);
	fill_empty_fill(1 << 20, 100);
	fill_empty_fill(1 << 20, 90);
	/* A limit below the metadata of an empty pool. */
	tmem_params_init(&p);
	REQUIRE_EQ(tmem_pool_create(&p, &pool), 0);
	stats(pool, &st);
	tmem_pool_destroy(pool);
	fill_empty_fill(st.metadata_bytes / 2, 90);
}

/* ---- threads ---------------------------------------------------------- */

/*
 * Shared keys: a page carries its key and a version, and the rest of the
 * page is derived from them, so a reader can tell a whole page that was
 * put from anything else.
 */
static void stamp(unsigned char *page, uint32_t key, uint64_t ver)
{
	uint64_t s = ver * 7919u + key;

	if (ver % 4 == 3) {
		pg_make(page, PG_RANDOM, s); /* raw: first to go to file */
	} else {
		pg_make(page, PG_TEXT, s);
	}
	memcpy(page, &key, 4);
	memcpy(page + 8, &ver, 8);
}

static int stamped_ok(const unsigned char *page, uint32_t key)
{
	unsigned char want[PG_SIZE];
	uint32_t k;
	uint64_t ver;

	memcpy(&k, page, 4);
	memcpy(&ver, page + 8, 8);
	if (k != key)
		return 0;
	stamp(want, key, ver);
	return !memcmp(want, page, PG_SIZE);
}

struct racer {
	struct tmem_pool *pool;
	unsigned id;
	unsigned bad;
	unsigned ops;
};

#define SHARED_KEYS 512u
#define RACE_OPS 20000u

static void *race(void *arg)
{
	struct racer *r = arg;
	unsigned char page[PG_SIZE], out[PG_SIZE];
	uint64_t rnd = 0x9e3779b97f4a7c15ull * (r->id + 1);

	for (unsigned k = 0; k < RACE_OPS; k++) {
		uint32_t key = (uint32_t)(th_rand(&rnd) % SHARED_KEYS);
		unsigned op = (unsigned)(th_rand(&rnd) % 10);
		int ret;

		if (op < 5) {
			stamp(page, key, th_rand(&rnd) >> 8);
			if (tmem_put_page(r->pool, 6, key, page))
				r->bad++;
		} else if (op < 9) {
			ret = tmem_get_page(r->pool, 6, key, out);
			if (ret == 0 ? !stamped_ok(out, key) : ret != -ENOENT)
				r->bad++;
		} else {
			tmem_flush_page(r->pool, 6, key);
		}
		r->ops++;
	}
	return NULL;
}

static void *pusher(void *arg)
{
	struct racer *r = arg;

	for (int k = 0; k < 200; k++) {
		uint64_t n;

		tmem_pool_writeback(r->pool, 64 << 10, &n);
		r->ops++;
	}
	return NULL;
}

static void test_threads(void)
{
	enum { T = 3 };
	struct tmem_pool *pool = backed_pool(192 << 10, 70, TMEM_COMP_LZ4);
	struct racer rs[T + 1];
	pthread_t th[T + 1];
	struct tmem_stats st;
	unsigned bad = 0;

	REQUIRE(pool);
	for (unsigned i = 0; i <= T; i++) {
		rs[i] = (struct racer){ .pool = pool, .id = i };
		pthread_create(&th[i], NULL, i < T ? race : pusher, &rs[i]);
	}
	for (unsigned i = 0; i <= T; i++) {
		pthread_join(th[i], NULL);
		bad += rs[i].bad;
	}
	CHECK_EQ(bad, 0);
	stats(pool, &st);
	fprintf(stderr, "  %llu written back, %llu read back, %llu cleaned\n",
		(unsigned long long)st.wb_written_pages,
		(unsigned long long)st.wb_read_pages,
		(unsigned long long)st.wb_cleaned_segments);
	CHECK(st.wb_written_pages > 0);
	CHECK(st.wb_read_pages > 0);
	CHECK(st.wb_cleaned_segments > 0);
	CHECK_EQ(st.wb_checksum_errors, 0);
	CHECK_EQ(st.wb_read_errors, 0);
	/* Every key still stored reads back whole. */
	for (uint32_t key = 0; key < SHARED_KEYS; key++) {
		unsigned char out[PG_SIZE];
		int ret = tmem_get_page(pool, 6, key, out);

		if (ret == 0 ? !stamped_ok(out, key) : ret != -ENOENT)
			bad++;
	}
	CHECK_EQ(bad, 0);
	tmem_pool_destroy(pool);
}

/*
 * Across fork the child keeps its pages on file while the parent
 * rewrites, flushes and cleans its own file: with the fork calls, the
 * child has a copy and reads every page back.
 */
static void fork_case(void)
{
	enum { N = 3000 };
	struct tmem_pool *pool = backed_pool(0, 80, TMEM_COMP_LZ4);
	struct tmem_stats st;
	uint64_t n;
	int status = -1;
	pid_t pid;

	REQUIRE(pool);
	put_all(pool, 7, N, 0);
	REQUIRE_EQ(tmem_pool_writeback(pool, 0, &n), 0);
	stats(pool, &st);
	REQUIRE(st.wb_pages > N / 2);
	tmem_fork_prepare();
	pid = fork();
	if (pid == 0) {
		unsigned bad;

		tmem_fork_child();
		usleep(200000); /* let the parent churn its file first */
		bad = verify(pool, 7, N, 0);
		/* The child writes back to its own file. */
		put_all(pool, 7, N, 5);
		if (tmem_pool_writeback(pool, 0, &n) || !n)
			bad++;
		bad += verify(pool, 7, N, 5);
		_exit(bad ? 1 : 0);
	}
	tmem_fork_parent();
	REQUIRE(pid > 0);
	for (unsigned r = 1; r < 4; r++) {
		put_all(pool, 7, N, r);
		CHECK_EQ(tmem_pool_writeback(pool, 0, &n), 0);
	}
	CHECK_EQ(verify(pool, 7, N, 3), 0);
	stats(pool, &st);
	CHECK(st.wb_cleaned_segments > 0);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(verify(pool, 7, N, 3), 0);
	tmem_pool_destroy(pool);
}

static _Atomic unsigned long own_preads;

/* A caller's own op (not the default's function): counts its calls. */
static long counting_pread(int fd, void *buf, size_t n, uint64_t off)
{
	atomic_fetch_add(&own_preads, 1);
	return tm_os_default.pread(fd, buf, n, off);
}

static void test_fork(void)
{
	struct tm_os_ops ops = tm_os_default;

	/* The kernel copies (copy_file_range) ... */
	fork_case();
	/* ... unless the caller's own file ops are installed: then the copy
	 * goes through them, as tmem run's descriptor numbers require. */
	ops.pread = counting_pread;
	tm_os_set(&ops);
	fork_case();
	tm_os_set(NULL);
	CHECK(atomic_load(&own_preads) > 0);
}

int main(void)
{
	RUN(test_errors, "set_backing: bad paths, a file path, twice");
	RUN(test_round_trip, "pages beyond the limit go to file, come back");
	RUN(test_churn, "overwrite and flush churn: the file stays bounded");
	RUN(test_write_faults, "ENOSPC and EIO on write: no page lost");
	RUN(test_read_faults, "EIO, short read, corruption: -EIO, no loss");
	RUN(test_admission, "accept_threshold 0/100, tiny limit: no lockup");
	RUN(test_threads, "racing put/get/flush with writeback and cleaning");
	RUN(test_fork, "a fork child keeps its pages on file; parent cleans");
	return th_finish();
}
