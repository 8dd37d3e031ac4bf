// SPDX-License-Identifier: MIT
/*
 * bench-writeback.c - `tmem bench writeback`: a pool four times too small
 * for its data set, with a backing file, under a skewed load; how fast it
 * stays, and how many bytes its writeback costs the disk.
 *
 * The data set is the corpus's pages (--scale N times, under distinct
 * keys).  The pool limit is a quarter of the data set *as the pool holds
 * it*: the pool + metadata bytes an unlimited pool takes for the whole
 * data set, measured first in the same run.  A quarter of the original
 * bytes would hold about 60% of the pages at lz4's ratio of ~2.4, and
 * little would be written back; a quarter of the stored size keeps a
 * quarter of the pages in memory and sends three quarters to the file,
 * which is the case the tier exists for.  --pool-max overrides it.
 *
 * Each repeat runs the same seeded workload twice, side by side: on an
 * unlimited pool without a file ("memory") and on the limited pool with a
 * backing file ("writeback").  The workload: every key is put once, in key
 * order (the first keys are thus the coldest); then --ops operations on
 * keys drawn from a Zipf distribution (exponent --zipf, ranks mapped to
 * keys by a seeded permutation, so the hot keys are spread over the put
 * order): --get-percent of them gets, the rest overwrites with another
 * corpus page.  The operations are generated before anything is timed.
 *
 * Timing: one CLOCK_MONOTONIC read per operation, charged to its kind;
 * rates are page bytes (4096 per call) per second of those calls.  Gets
 * land in a batch of buffers that is compared with the expected corpus
 * pages byte for byte after every BATCH operations, outside the clock; a
 * mismatch or a failed get ends the benchmark with an error (exit 1).
 * After the timed operations every key is got and compared once more,
 * untimed (after the stats are read, so those gets are not counted).
 * Rates are medians of --repeat runs; the counters are those of the last.
 */
#define TMEM_EXPERIMENTAL
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "pagefile.h"

#define REPEAT_MAX 1000
#define SCALE_MAX 1024
/* Gets verified together; a page each, so a small multiple of cache. */
#define BATCH 64
#define POISON 0xa5
#define OP_GET UINT32_MAX /* struct wb_op.page of a get */

struct wb_op {
	uint32_t key;
	uint32_t page; /* corpus page an overwrite puts; OP_GET for a get */
};

enum config { CFG_MEM, CFG_WB, NCFG };

/* Seconds spent in each kind of call, one run. */
struct wb_times {
	double put, get, overwrite;
};

struct wbench {
	const char *corpus, *dir;
	struct cli_tunables t;
	unsigned repeat, scale, get_pct, seed;
	double zipf;
	uint64_t nops, ngets;
	size_t nkeys;
	struct pagefile_buf pb;
	struct wb_op *ops;
	uint32_t *cur; /* the corpus page each key holds now */
	uint8_t *batch; /* BATCH pages of gets awaiting verification */
	uint32_t batch_page[BATCH];
	uint32_t batch_key[BATCH];
	uint64_t pool_max, mem_total;
	int json, pool_max_given;
	/* results: times per repeat, stats of the last repeat */
	struct wb_times *times[NCFG];
	struct tmem_stats st[NCFG];
	double put_mbps[NCFG], get_mbps[NCFG], ow_mbps[NCFG];
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tmem bench writeback --corpus FILE [OPTIONS]\n"
		"\n"
		"Put every page of FILE into a pool limited to a quarter of the data set\n"
		"(its size in an unlimited pool) with a backing file, then get and overwrite\n"
		"Zipf-distributed keys, verifying every page got back; the same workload runs\n"
		"on an unlimited pool beside it.  Reports put/get MB/s, pages written back and\n"
		"read back, bytes written to the file per page written back, the cleaner's\n"
		"write amplification and the pool memory freed per byte written back.\n"
		"\n"
		"Options:\n"
		"  --corpus FILE                  page file: raw 4 KiB pages, or zstd-compressed\n"
		"  --dir DIR                      where the (unnamed) backing file is made\n"
		"                                 (default $TMPDIR, else /tmp)\n"
		"  --scale N                      the data set is the corpus N times (1..%d, default 1)\n"
		"  --ops N                        gets and overwrites after the puts\n"
		"                                 (default 20 per key)\n"
		"  --get-percent P                share of gets among them (0..100, default 80)\n"
		"  --zipf S                       Zipf exponent of the keys (0..5, default 0.99)\n"
		"  --seed S                       seed of the workload (default 1)\n"
		"  --repeat N                     runs; rates are medians (1..%d, default 3)\n"
		"  --json                         print one JSON object instead of a table\n"
		"  -h, --help                     show this help\n"
		"\n"
		"Tunables (--pool-max overrides the quarter; default compressor lz4):\n",
		SCALE_MAX, REPEAT_MAX);
	cli_tunable_help(f);
}

/* ------------------------------------------------------------------ */
/* The workload                                                        */
/* ------------------------------------------------------------------ */

/* splitmix64: small, seedable, and good enough for a benchmark. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rnd_unit(uint64_t *s)
{
	return (double)(rnd(s) >> 11) * 0x1.0p-53;
}

/*
 * The operations, drawn once: key ranks from the Zipf CDF (binary search),
 * ranks to keys through a permutation, overwrite pages uniform among the
 * corpus pages other than the key's current one.
 */
static int make_ops(struct wbench *b)
{
	double *cdf = malloc(b->nkeys * sizeof(*cdf));
	uint32_t *perm = malloc(b->nkeys * sizeof(*perm));
	uint64_t s = b->seed, i;
	size_t n = b->pb.n, k;
	double sum = 0;
	int err = -ENOMEM;

	b->ops = malloc(b->nops * sizeof(*b->ops));
	if (!cdf || !perm || !b->ops)
		goto out;
	for (k = 0; k < b->nkeys; k++) {
		sum += pow((double)(k + 1), -b->zipf);
		cdf[k] = sum;
		perm[k] = (uint32_t)k;
	}
	for (k = b->nkeys - 1; k > 0; k--) {
		size_t j = rnd(&s) % (k + 1);
		uint32_t x = perm[k];

		perm[k] = perm[j];
		perm[j] = x;
	}
	for (k = 0; k < b->nkeys; k++)
		b->cur[k] = (uint32_t)(k % n);
	b->ngets = 0;
	for (i = 0; i < b->nops; i++) {
		double u = rnd_unit(&s) * sum;
		size_t lo = 0, hi = b->nkeys - 1;
		struct wb_op *op = &b->ops[i];

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		op->key = perm[lo];
		if (rnd(&s) % 100 < b->get_pct || n < 2) {
			op->page = OP_GET;
			b->ngets++;
			continue;
		}
		op->page =
			(uint32_t)((b->cur[op->key] + 1 + rnd(&s) % (n - 1)) %
				   n);
		b->cur[op->key] = op->page;
	}
	err = 0;
out:
	free(cdf);
	free(perm);
	return err;
}

/* ------------------------------------------------------------------ */
/* One run                                                             */
/* ------------------------------------------------------------------ */

static int verify_batch(struct wbench *b, unsigned used)
{
	unsigned j;

	for (j = 0; j < used; j++) {
		if (!memcmp(b->batch + (size_t)j * TMEM_PAGE_SIZE,
			    pagefile_page(&b->pb, b->batch_page[j]),
			    TMEM_PAGE_SIZE))
			continue;
		cli_error(
			"CORRUPTION: key %u read back differs from corpus page %u",
			b->batch_key[j], b->batch_page[j]);
		return -EIO;
	}
	memset(b->batch, POISON, (size_t)used * TMEM_PAGE_SIZE);
	return 0;
}

static int put_all(struct wbench *b, struct tmem_pool *pool, double *secs)
{
	double t0 = cli_now();
	size_t k;
	int err;

	for (k = 0; k < b->nkeys; k++) {
		err = tmem_put_page(pool, 0, (uint32_t)k,
				    pagefile_page(&b->pb, k % b->pb.n));
		if (err) {
			cli_error("put of key %zu failed: %s", k,
				  tmem_strerror(err));
			return err;
		}
	}
	*secs = cli_now() - t0;
	return 0;
}

static int mixed(struct wbench *b, struct tmem_pool *pool, struct wb_times *t)
{
	unsigned used = 0;
	double t0, t1;
	uint64_t i;
	size_t k;
	int err = 0;

	for (k = 0; k < b->nkeys; k++)
		b->cur[k] = (uint32_t)(k % b->pb.n);
	t0 = cli_now();
	for (i = 0; i < b->nops; i++) {
		const struct wb_op *op = &b->ops[i];

		if (op->page == OP_GET) {
			b->batch_key[used] = op->key;
			b->batch_page[used] = b->cur[op->key];
			err = tmem_get_page(pool, 0, op->key,
					    b->batch + (size_t)used *
							       TMEM_PAGE_SIZE);
			t1 = cli_now();
			t->get += t1 - t0;
			used++;
		} else {
			err = tmem_put_page(pool, 0, op->key,
					    pagefile_page(&b->pb, op->page));
			b->cur[op->key] = op->page;
			t1 = cli_now();
			t->overwrite += t1 - t0;
		}
		if (err) {
			cli_error("%s of key %u failed: %s",
				  op->page == OP_GET ? "get" : "overwrite",
				  op->key, tmem_strerror(err));
			return err;
		}
		t0 = t1;
		if (used == BATCH || i + 1 == b->nops) {
			err = verify_batch(b, used);
			if (err)
				return err;
			used = 0;
			t0 = cli_now();
		}
	}
	return 0;
}

/* Untimed: every key, so that a page lost on a cold key is found too. */
static int verify_all(struct wbench *b, struct tmem_pool *pool)
{
	unsigned used = 0;
	size_t k;
	int err;

	for (k = 0; k < b->nkeys; k++) {
		b->batch_key[used] = (uint32_t)k;
		b->batch_page[used] = b->cur[k];
		err = tmem_get_page(pool, 0, (uint32_t)k,
				    b->batch + (size_t)used * TMEM_PAGE_SIZE);
		if (err) {
			cli_error("final get of key %zu failed: %s", k,
				  tmem_strerror(err));
			return err;
		}
		if (++used == BATCH || k + 1 == b->nkeys) {
			err = verify_batch(b, used);
			if (err)
				return err;
			used = 0;
		}
	}
	return 0;
}

static int read_stats(struct tmem_pool *pool, struct tmem_stats *st)
{
	int err;

	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	err = tmem_stats_get(pool, st);
	if (err)
		cli_error("reading the pool's statistics: %s",
			  tmem_strerror(err));
	else if (st->version < 3) {
		cli_error("the library's statistics (version %u) have no "
			  "writeback fields",
			  st->version);
		err = -EPROTO;
	}
	return err;
}

/*
 * The data set's size in an unlimited pool (pool + metadata after every
 * key is put), which sets the writeback pool's limit.  Untimed; it also
 * takes the first run's costs (faulting in the corpus, the allocator's
 * first arenas) off the timed runs.
 */
static int size_pool(struct wbench *b)
{
	struct tmem_pool_params p = b->t.params;
	struct tmem_pool *pool;
	struct tmem_stats st;
	double secs;
	int err;

	p.pool_max = 0;
	err = tmem_pool_create(&p, &pool);
	if (err) {
		cli_error("creating the pool: %s", tmem_strerror(err));
		return err;
	}
	err = put_all(b, pool, &secs);
	if (!err)
		err = read_stats(pool, &st);
	if (!err) {
		b->mem_total = st.pool_bytes + st.metadata_bytes;
		if (!b->pool_max)
			b->pool_max = b->mem_total / 4;
	}
	tmem_pool_destroy(pool);
	return err;
}

/* One configuration, one repeat. */
static int run_config(struct wbench *b, enum config c, struct wb_times *t,
		      int last)
{
	struct tmem_pool_params p = b->t.params;
	struct tmem_pool *pool;
	int err;

	p.pool_max = c == CFG_WB ? b->pool_max : 0;
	err = tmem_pool_create(&p, &pool);
	if (err) {
		cli_error("creating the pool: %s", tmem_strerror(err));
		return err;
	}
	if (c == CFG_WB) {
		err = tmem_pool_set_backing(pool, b->dir);
		if (err) {
			/* an open(2) errno: tmem_strerror() words them for keys */
			cli_error("backing file in %s: %s", b->dir,
				  strerror(-err));
			goto destroy;
		}
	}
	err = put_all(b, pool, &t->put);
	if (err)
		goto destroy;
	err = mixed(b, pool, t);
	if (!err && last)
		err = read_stats(pool, &b->st[c]);
	if (!err)
		err = verify_all(b, pool);
destroy:
	tmem_pool_destroy(pool);
	return err;
}

static int measure(struct wbench *b)
{
	double *v = calloc(b->repeat, sizeof(*v));
	uint64_t put_bytes = (uint64_t)b->nkeys * TMEM_PAGE_SIZE;
	uint64_t get_bytes = b->ngets * TMEM_PAGE_SIZE;
	uint64_t ow_bytes = (b->nops - b->ngets) * TMEM_PAGE_SIZE;
	unsigned r, c;
	int err = -ENOMEM;

	for (c = 0; c < NCFG; c++)
		b->times[c] = calloc(b->repeat, sizeof(struct wb_times));
	if (!v || !b->times[CFG_MEM] || !b->times[CFG_WB])
		goto out;
	err = size_pool(b);
	if (err)
		goto out;
	for (r = 0; r < b->repeat; r++) {
		for (c = 0; c < NCFG; c++) {
			err = run_config(b, c, &b->times[c][r],
					 r + 1 == b->repeat);
			if (err)
				goto out;
		}
	}
	for (c = 0; c < NCFG; c++) {
		for (r = 0; r < b->repeat; r++)
			v[r] = b->times[c][r].put;
		b->put_mbps[c] = cli_mbps(put_bytes, cli_median(v, b->repeat));
		for (r = 0; r < b->repeat; r++)
			v[r] = b->times[c][r].get;
		b->get_mbps[c] = cli_mbps(get_bytes, cli_median(v, b->repeat));
		for (r = 0; r < b->repeat; r++)
			v[r] = b->times[c][r].overwrite;
		b->ow_mbps[c] = cli_mbps(ow_bytes, cli_median(v, b->repeat));
	}
	err = 0;
out:
	free(v);
	return err;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

/* The derived figures, for both outputs. */
struct wb_derived {
	double per_page; /* record bytes per page written back */
	double all_per_page; /* all file bytes per page written back */
	double wamp; /* all file bytes / record bytes of written-back pages */
	double freed_per_byte; /* pool bytes freed per record byte */
	double hit_file; /* share of gets served from the file */
};

static void derive(const struct wbench *b, struct wb_derived *d)
{
	const struct tmem_stats *s = &b->st[CFG_WB];

	d->per_page = bench_div0((double)s->wb_payload_bytes,
				 (double)s->wb_written_pages);
	d->all_per_page = bench_div0((double)s->wb_bytes_written,
				     (double)s->wb_written_pages);
	d->wamp = bench_div0((double)s->wb_bytes_written,
			     (double)s->wb_payload_bytes);
	d->freed_per_byte = bench_div0((double)s->wb_freed_bytes,
				       (double)s->wb_payload_bytes);
	d->hit_file = bench_div0((double)s->wb_read_pages, (double)b->ngets);
}

static const char *comp_name(const struct wbench *b)
{
	const char *n = tmem_compressor_name(b->t.params.compressor);

	return n ? n : "?";
}

#define U(x) ((unsigned long long)(x))

static void print_json(const struct wbench *b)
{
	const struct tmem_stats *s = &b->st[CFG_WB];
	struct wb_derived d;

	derive(b, &d);
	printf("{\"corpus\":");
	cli_json_str(stdout, b->corpus);
	printf(",\"dir\":");
	cli_json_str(stdout, b->dir);
	printf(",\"pages\":%zu,\"scale\":%u,\"keys\":%zu,\"compressor\":\"%s\","
	       "\"ops\":%llu,\"gets\":%llu,\"overwrites\":%llu,"
	       "\"zipf\":%.3f,\"seed\":%u,\"repeat\":%u,",
	       b->pb.n, b->scale, b->nkeys, comp_name(b), U(b->nops),
	       U(b->ngets), U(b->nops - b->ngets), b->zipf, b->seed, b->repeat);
	printf("\"data_bytes\":%llu,\"unlimited_pool_bytes\":%llu,"
	       "\"pool_max\":%llu,\"pool_max_given\":%s,"
	       "\"pool_end_bytes\":%llu,"
	       "\"pool_peak_bytes\":%llu,",
	       U((uint64_t)b->nkeys * TMEM_PAGE_SIZE), U(b->mem_total),
	       U(b->pool_max), b->pool_max_given ? "true" : "false",
	       U(s->pool_bytes + s->metadata_bytes), U(s->pool_peak_bytes));
	printf("\"put_mbps\":%.1f,\"get_mbps\":%.1f,\"overwrite_mbps\":%.1f,"
	       "\"memory_put_mbps\":%.1f,\"memory_get_mbps\":%.1f,"
	       "\"memory_overwrite_mbps\":%.1f,\"put_ratio\":%.3f,"
	       "\"get_ratio\":%.3f,\"overwrite_ratio\":%.3f,",
	       b->put_mbps[CFG_WB], b->get_mbps[CFG_WB], b->ow_mbps[CFG_WB],
	       b->put_mbps[CFG_MEM], b->get_mbps[CFG_MEM], b->ow_mbps[CFG_MEM],
	       bench_div0(b->put_mbps[CFG_WB], b->put_mbps[CFG_MEM]),
	       bench_div0(b->get_mbps[CFG_WB], b->get_mbps[CFG_MEM]),
	       bench_div0(b->ow_mbps[CFG_WB], b->ow_mbps[CFG_MEM]));
	printf("\"pages_written_back\":%llu,\"pages_read_back\":%llu,"
	       "\"bytes_written\":%llu,\"payload_bytes_written\":%llu,"
	       "\"bytes_per_page_written_back\":%.1f,"
	       "\"all_bytes_per_page_written_back\":%.1f,"
	       "\"write_amplification\":%.4f,"
	       "\"pool_bytes_freed\":%llu,\"freed_per_byte_written\":%.4f,",
	       U(s->wb_written_pages), U(s->wb_read_pages),
	       U(s->wb_bytes_written), U(s->wb_payload_bytes), d.per_page,
	       d.all_per_page, d.wamp, U(s->wb_freed_bytes), d.freed_per_byte);
	printf("\"file_pages\":%llu,\"segments\":%llu,\"file_bytes\":%llu,"
	       "\"live_bytes\":%llu,\"dead_bytes\":%llu,"
	       "\"cleaned_segments\":%llu,\"cleaner_moves\":%llu,"
	       "\"read_bytes\":%llu,\"waits\":%llu,\"overlimit_puts\":%llu,"
	       "\"write_errors\":%llu,\"read_errors\":%llu,"
	       "\"checksum_errors\":%llu}\n",
	       U(s->wb_pages), U(s->wb_segments), U(s->wb_file_bytes),
	       U(s->wb_live_bytes), U(s->wb_dead_bytes),
	       U(s->wb_cleaned_segments), U(s->wb_cleaner_moves),
	       U(s->wb_read_bytes), U(s->wb_waits), U(s->wb_overlimit_puts),
	       U(s->wb_write_errors), U(s->wb_read_errors),
	       U(s->wb_checksum_errors));
}

static const char *met(int ok)
{
	return ok ? "met" : "NOT met";
}

static void print_table(const struct wbench *b)
{
	const struct tmem_stats *s = &b->st[CFG_WB];
	char h[6][32];
	struct wb_derived d;
	unsigned c;

	derive(b, &d);
	printf("tmem bench writeback: %s\n", b->corpus);
	printf("%zu keys (%s; the corpus's %zu pages x%u), %s; pool limit %s "
	       "(%s; the data set takes %s in an unlimited pool); file in %s\n",
	       b->nkeys,
	       cli_human((uint64_t)b->nkeys * TMEM_PAGE_SIZE, h[0],
			 sizeof(h[0])),
	       b->pb.n, b->scale, comp_name(b),
	       cli_human(b->pool_max, h[1], sizeof(h[1])),
	       b->pool_max_given ? "--pool-max" : "a quarter",
	       cli_human(b->mem_total, h[2], sizeof(h[2])), b->dir);
	printf("then %llu ops on Zipf(%.2f) keys: %llu gets, %llu overwrites; "
	       "seed %u; median of %u runs; MB/s = 10^6 page bytes/s\n\n",
	       U(b->nops), b->zipf, U(b->ngets), U(b->nops - b->ngets), b->seed,
	       b->repeat);
	printf("%-26s %10s %10s %14s\n", "", "put MB/s", "get MB/s",
	       "overwrite MB/s");
	for (c = 0; c < NCFG; c++)
		printf("%-26s %10.1f %10.1f %14.1f\n",
		       c == CFG_MEM ? "unlimited pool, no file"
				    : "quarter pool + file",
		       b->put_mbps[c], b->get_mbps[c], b->ow_mbps[c]);
	printf("%-26s %9.2fx %9.2fx %13.2fx\n\n", "  with file / without",
	       bench_div0(b->put_mbps[CFG_WB], b->put_mbps[CFG_MEM]),
	       bench_div0(b->get_mbps[CFG_WB], b->get_mbps[CFG_MEM]),
	       bench_div0(b->ow_mbps[CFG_WB], b->ow_mbps[CFG_MEM]));
	printf("written back  %llu pages; read back %llu (%.1f%% of gets)\n",
	       U(s->wb_written_pages), U(s->wb_read_pages), 100 * d.hit_file);
	printf("file writes   %s: records of pages written back %s, "
	       "cleaning %s\n",
	       cli_human(s->wb_bytes_written, h[0], sizeof(h[0])),
	       cli_human(s->wb_payload_bytes, h[1], sizeof(h[1])),
	       cli_human(s->wb_bytes_written - s->wb_payload_bytes, h[2],
			 sizeof(h[2])));
	printf("per page      %.0f bytes written back (zswap: 4096; target "
	       "<= 2048: %s); %.0f with cleaning\n",
	       d.per_page, met(d.per_page <= 2048), d.all_per_page);
	printf("write amp.    %.3f (target <= 1.3: %s); cleaner emptied %llu "
	       "segments, moved %llu records\n",
	       d.wamp, met(d.wamp <= 1.3), U(s->wb_cleaned_segments),
	       U(s->wb_cleaner_moves));
	printf("pool freed    %.2f bytes of pool memory per byte written back "
	       "(%s freed)\n",
	       d.freed_per_byte,
	       cli_human(s->wb_freed_bytes, h[0], sizeof(h[0])));
	printf("file now      %llu pages, %llu segments, %s of records "
	       "(live %s, dead %s)\n",
	       U(s->wb_pages), U(s->wb_segments),
	       cli_human(s->wb_file_bytes, h[0], sizeof(h[0])),
	       cli_human(s->wb_live_bytes, h[1], sizeof(h[1])),
	       cli_human(s->wb_dead_bytes, h[2], sizeof(h[2])));
	printf("pool now      %s (pool + metadata; limit %s), allocator peak "
	       "%s; %llu puts waited, %llu stored over the limit\n",
	       cli_human(s->pool_bytes + s->metadata_bytes, h[0], sizeof(h[0])),
	       cli_human(b->pool_max, h[1], sizeof(h[1])),
	       cli_human(s->pool_peak_bytes, h[2], sizeof(h[2])),
	       U(s->wb_waits), U(s->wb_overlimit_puts));
	printf("errors        %llu write, %llu read, %llu checksum\n",
	       U(s->wb_write_errors), U(s->wb_read_errors),
	       U(s->wb_checksum_errors));
	printf("every page got back was verified byte for byte.\n");
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

enum {
	OPT_CORPUS = 'c',
	OPT_DIR = 'd',
	OPT_SCALE = 's',
	OPT_OPS = 'o',
	OPT_GETPCT = 'g',
	OPT_ZIPF = 'z',
	OPT_SEED = 'S',
	OPT_REPEAT = 'r',
	OPT_JSON = 'j',
	OPT_HELP = 'h',
};

static int parse_ops(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		return -1;
	*out = strtoull(s, &end, 10);
	return errno || *end || *out > UINT32_MAX ? -1 : 0;
}

static int parse_zipf(const char *s, double *out)
{
	char *end;

	errno = 0;
	if (!s || !*s || *s == ' ')
		return -1;
	*out = strtod(s, &end);
	return errno || *end || !(*out >= 0 && *out <= 5) ? -1 : 0;
}

/* 0 to go on, -1 after --help, or an exit status after a message. */
static int parse(struct wbench *b, int argc, char *argv[])
{
	struct option opts[CLI_TUNABLES_MAX + 12] = {
		{ "corpus", required_argument, NULL, OPT_CORPUS },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "scale", required_argument, NULL, OPT_SCALE },
		{ "ops", required_argument, NULL, OPT_OPS },
		{ "get-percent", required_argument, NULL, OPT_GETPCT },
		{ "zipf", required_argument, NULL, OPT_ZIPF },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "repeat", required_argument, NULL, OPT_REPEAT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
	};
	int c, err, ops_given = 0;
	const char *tmp = getenv("TMPDIR");

	err = cli_tunables_init(&b->t);
	if (err)
		return err;
	cli_tunable_options(opts, 10, sizeof(opts) / sizeof(opts[0]));
	b->dir = tmp && *tmp ? tmp : "/tmp";
	b->scale = 1;
	b->get_pct = 80;
	b->zipf = 0.99;
	b->seed = 1;
	b->repeat = 3;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CORPUS:
			b->corpus = optarg;
			break;
		case OPT_DIR:
			b->dir = optarg;
			break;
		case OPT_SCALE:
			if (cli_parse_uint("--scale", optarg, 1, SCALE_MAX,
					   &b->scale))
				return CLI_EXIT_USAGE;
			break;
		case OPT_OPS:
			if (parse_ops(optarg, &b->nops))
				return cli_usage_error(
					"--ops: '%s' is not a number of operations (0..%u)",
					optarg, UINT32_MAX);
			ops_given = 1;
			break;
		case OPT_GETPCT:
			if (cli_parse_uint("--get-percent", optarg, 0, 100,
					   &b->get_pct))
				return CLI_EXIT_USAGE;
			break;
		case OPT_ZIPF:
			if (parse_zipf(optarg, &b->zipf))
				return cli_usage_error(
					"--zipf: '%s' is not an exponent in 0..5",
					optarg);
			break;
		case OPT_SEED:
			if (cli_parse_uint("--seed", optarg, 0, UINT32_MAX,
					   &b->seed))
				return CLI_EXIT_USAGE;
			break;
		case OPT_REPEAT:
			if (cli_parse_uint("--repeat", optarg, 1, REPEAT_MAX,
					   &b->repeat))
				return CLI_EXIT_USAGE;
			break;
		case OPT_JSON:
			b->json = 1;
			break;
		case OPT_HELP:
			usage(stdout);
			return -1;
		default:
			err = cli_tunable_handle(&b->t, c, optarg);
			if (err == 1)
				break;
			return err ? err : cli_getopt_error(c, argv, opts);
		}
	}
	err = bench_args_done(argc, argv, b->corpus);
	if (err)
		return err;
	if (b->t.params.kind != TMEM_POOL_PERSISTENT)
		return cli_usage_error(
			"--kind: only persistent pools have a backing file");
	if (cli_tunable_given(&b->t, "pool_max")) {
		b->pool_max = b->t.params.pool_max;
		b->pool_max_given = 1;
		if (!b->pool_max)
			return cli_usage_error(
				"--pool-max 0 (no limit) would write nothing back");
	}
	if (!ops_given)
		b->nops = UINT64_MAX; /* 20 per key, once the keys are known */
	return 0;
}

int bench_writeback(int argc, char *argv[])
{
	struct wbench b = { 0 };
	unsigned c;
	int err;

	cli_cmd = "bench writeback";
	err = parse(&b, argc, argv);
	if (err)
		return err < 0 ? 0 : err; /* -1: help was shown */
	err = pagefile_load(b.corpus, &b.pb);
	if (err)
		return CLI_EXIT_FAIL;
	err = -ENOMEM;
	b.nkeys = b.pb.n * b.scale;
	if (b.nkeys > UINT32_MAX) {
		cli_error("%zu keys: more than a pool object holds", b.nkeys);
		goto free_all;
	}
	if (b.nops == UINT64_MAX)
		b.nops = 20 * (uint64_t)b.nkeys;
	b.cur = malloc(b.nkeys * sizeof(*b.cur));
	b.batch = malloc((size_t)BATCH * TMEM_PAGE_SIZE);
	if (!b.cur || !b.batch || make_ops(&b)) {
		cli_error("out of memory for %zu keys and %llu operations",
			  b.nkeys, U(b.nops));
		goto free_all;
	}
	memset(b.batch, POISON, (size_t)BATCH * TMEM_PAGE_SIZE);
	err = measure(&b);
	if (!err && b.json)
		print_json(&b);
	else if (!err)
		print_table(&b);
free_all:
	for (c = 0; c < NCFG; c++)
		free(b.times[c]);
	free(b.ops);
	free(b.cur);
	free(b.batch);
	pagefile_free(&b.pb);
	return err ? CLI_EXIT_FAIL : 0;
}
