// SPDX-License-Identifier: MIT
/*
 * cmd-bench.c - `tmem bench store`: the store's put/get speed and density
 * on a page corpus, beside its own compressor's raw speed and (with
 * --vs-zram) the kernel's zram, all measured in the same run.
 *
 * Why side by side: the machines are shared and noisy, so absolute MB/s
 * drift from run to run; ratios of figures taken minutes apart are
 * meaningless, ratios of figures taken in one run are not.  For the same
 * reason every timed phase is repeated (--repeat, default 5) and the median
 * reported, and the repeats interleave the phases (put, get, compress,
 * decompress, put, ...) so a slow stretch of the machine hits all of them.
 *
 * What is timed: only the calls.  Workers are started once and kept across
 * phases (their compressor contexts are warm, thread creation is not
 * timed); each phase starts them through a barrier and ends at a second
 * one, and the wall time in between, on CLOCK_MONOTONIC, is the phase's
 * time.  With N threads, thread t handles the contiguous slice
 * [t*n/N, (t+1)*n/N) of the pages.  Gets and decompressions land in a
 * separate page array, poisoned and faulted in before the clock starts,
 * and compared with the corpus byte for byte after it stops.  A new pool
 * is made for every repeat, so every put is a first put, never an
 * overwrite.  The raw compressor gets the whole worst-case output buffer,
 * so it always compresses the whole page: it is the limit the put path
 * works against.
 */
#define TMEM_EXPERIMENTAL
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "pagefile.h"
#include "zram.h"

/*
 * Bytes kept per compressed page in the raw phases: at least the worst
 * case of the compressors (lzo1x: 4096 + 4096/16 + 64 + 3 = 4419; lz4 and
 * zstd need less), rounded up to a cache line.
 */
#define RAW_SLOT 4480
_Static_assert(RAW_SLOT >= TMEM_PAGE_SIZE + TMEM_PAGE_SIZE / 16 + 64 + 3,
	       "RAW_SLOT below the compressors' worst case");
#define THREADS_MAX 256
#define REPEAT_MAX 1000
#define POISON 0xa5

/* PH_REPUT puts every page again into the same pool: memory is reused. */
enum phase { PH_PUT, PH_GET, PH_COMPRESS, PH_DECOMPRESS, PH_REPUT, PH_EXIT };
#define NPHASES PH_EXIT

struct bench;

struct worker {
	struct bench *b;
	pthread_t tid;
	size_t first, end; /* the slice of pages */
	int err;
	size_t err_page;
};

struct bench {
	const char *corpus;
	struct cli_tunables t;
	unsigned threads, repeat;
	struct pagefile_buf pb, out;
	uint8_t *raw; /* RAW_SLOT bytes per page; see run_slice() */
	size_t *raw_off; /* where page i's compressed bytes are in @raw */
	int *raw_len;
	struct tmem_pool *pool;
	enum phase phase;
	pthread_barrier_t start, done;
	struct worker *w;
	/* results */
	struct tmem_stats st;
	uint64_t raw_bytes;
	double put_mbps, get_mbps, comp_mbps, decomp_mbps, reput_mbps;
	int json, vs_zram, zram_done;
	pthread_mutex_t gate; /* held while the workers are being started */
	struct zram_result z;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tmem bench store --corpus FILE [OPTIONS]\n"
		"\n"
		"Put every page of FILE into a tmem pool and get it back (verifying every\n"
		"byte), and compress and decompress the same pages with the raw compressor;\n"
		"report put/get MB/s, their ratio to the raw compressor, and the pool's\n"
		"density.  Every phase runs --repeat times; medians are reported.\n"
		"\n"
		"Options:\n"
		"  --corpus FILE                  page file: raw 4 KiB pages, or zstd-compressed\n"
		"  --threads N                    threads for put/get and the raw compressor (1..%d, default 1)\n"
		"  --repeat N                     runs of each timed phase (1..%d, default 5)\n"
		"  --vs-zram                      also measure /dev/zram0 (root; zram0 must be idle)\n"
		"  --json                         print one JSON object instead of a table\n"
		"  -h, --help                     show this help\n"
		"\n"
		"Tunables:\n",
		THREADS_MAX, REPEAT_MAX);
	cli_tunable_help(f);
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */
/* ------------------------------------------------------------------ */

/*
 * The raw phases pack each thread's compressed pages densely from the start
 * of its slice's share of @raw (RAW_SLOT bytes per page, so the worst case
 * always fits), as a store would hold them: the decompression reads as
 * little memory as the pool's gets do.
 */
static int run_slice(struct bench *b, struct worker *w)
{
	const struct tmem_pool_params *p = &b->t.params;
	size_t i = w->first, off = w->first * RAW_SLOT;
	int err = 0;

	switch (b->phase) {
	case PH_PUT:
	case PH_REPUT:
		for (; i < w->end && !err; i++)
			err = tmem_put_page(b->pool, 0, (uint32_t)i,
					    pagefile_page(&b->pb, i));
		break;
	case PH_GET:
		for (; i < w->end && !err; i++)
			err = tmem_get_page(b->pool, 0, (uint32_t)i,
					    pagefile_page(&b->out, i));
		break;
	case PH_COMPRESS:
		for (; i < w->end && !err; i++) {
			err = tmem_compress_page(p->compressor, p->zstd_level,
						 pagefile_page(&b->pb, i),
						 b->raw + off, RAW_SLOT);
			b->raw_off[i] = off;
			b->raw_len[i] = err;
			if (err > 0) {
				off += (size_t)err;
				err = 0;
			}
		}
		break;
	case PH_DECOMPRESS:
		for (; i < w->end && !err; i++)
			err = tmem_decompress_page(p->compressor,
						   b->raw + b->raw_off[i],
						   (size_t)b->raw_len[i],
						   pagefile_page(&b->out, i));
		break;
	case PH_EXIT:
		break;
	}
	if (err)
		w->err_page = i - 1;
	return err;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;

	pthread_mutex_lock(&b->gate);
	pthread_mutex_unlock(&b->gate);
	for (;;) {
		pthread_barrier_wait(&b->start);
		if (b->phase == PH_EXIT)
			break;
		w->err = run_slice(b, w);
		pthread_barrier_wait(&b->done);
	}
	return NULL;
}

static const char *const phase_name[] = {
	[PH_PUT] = "put",
	[PH_GET] = "get",
	[PH_COMPRESS] = "raw compress",
	[PH_DECOMPRESS] = "raw decompress",
	[PH_REPUT] = "put (warm)",
	[PH_EXIT] = "exit",
};

/* Run @ph on every worker; its wall time in seconds, or -errno. */
static double run_phase(struct bench *b, enum phase ph)
{
	double t0;
	unsigned i;

	b->phase = ph;
	t0 = cli_now();
	pthread_barrier_wait(&b->start);
	pthread_barrier_wait(&b->done);
	t0 = cli_now() - t0;
	for (i = 0; i < b->threads; i++) {
		if (b->w[i].err) {
			cli_error("%s of page %zu failed: %s", phase_name[ph],
				  b->w[i].err_page, tmem_strerror(b->w[i].err));
			return b->w[i].err;
		}
	}
	return t0;
}

/*
 * The barriers count every worker, so they are sized once all workers
 * exist; until then the workers wait at the gate.
 */
static int start_workers(struct bench *b)
{
	unsigned i;
	int err = 0;

	b->w = calloc(b->threads, sizeof(*b->w));
	if (!b->w)
		return -ENOMEM;
	pthread_mutex_init(&b->gate, NULL);
	pthread_mutex_lock(&b->gate);
	for (i = 0; i < b->threads; i++) {
		b->w[i].b = b;
		b->w[i].first = b->pb.n * i / b->threads;
		b->w[i].end = b->pb.n * (i + 1) / b->threads;
		err = -pthread_create(&b->w[i].tid, NULL, worker_main,
				      &b->w[i]);
		if (err) {
			cli_error("starting thread %u: %s", i, strerror(-err));
			b->threads = i;
			break;
		}
	}
	pthread_barrier_init(&b->start, NULL, b->threads + 1);
	pthread_barrier_init(&b->done, NULL, b->threads + 1);
	pthread_mutex_unlock(&b->gate);
	return err;
}

static void stop_workers(struct bench *b)
{
	unsigned i;

	if (!b->w)
		return;
	b->phase = PH_EXIT;
	pthread_barrier_wait(&b->start);
	for (i = 0; i < b->threads; i++)
		pthread_join(b->w[i].tid, NULL);
	pthread_barrier_destroy(&b->start);
	pthread_barrier_destroy(&b->done);
	pthread_mutex_destroy(&b->gate);
	free(b->w);
	b->w = NULL;
}

/* ------------------------------------------------------------------ */
/* Measuring                                                           */
/* ------------------------------------------------------------------ */

static int verify(const struct bench *b, const char *what)
{
	size_t i;

	for (i = 0; i < b->pb.n; i++) {
		if (!memcmp(pagefile_page(&b->pb, i), pagefile_page(&b->out, i),
			    TMEM_PAGE_SIZE))
			continue;
		cli_error(
			"CORRUPTION: page %zu from %s differs from the corpus",
			i, what);
		return -EIO;
	}
	return 0;
}

/* One repeat of every phase; their times go into @t[0..NPHASES-1]. */
static int one_round(struct bench *b, double t[NPHASES], int last)
{
	double s;
	int err;

	err = tmem_pool_create(&b->t.params, &b->pool);
	if (err) {
		cli_error("creating the pool: %s", tmem_strerror(err));
		return err;
	}
	s = t[PH_PUT] = run_phase(b, PH_PUT);
	if (s < 0)
		goto destroy_pool;
	if (last) {
		b->st.size = sizeof(b->st);
		err = tmem_stats_get(b->pool, &b->st);
		if (err) {
			cli_error("reading the pool's statistics: %s",
				  tmem_strerror(err));
			goto destroy_pool;
		}
	}
	memset(b->out.data, POISON, b->pb.n * TMEM_PAGE_SIZE);
	s = t[PH_GET] = run_phase(b, PH_GET);
	if (s < 0 || (err = verify(b, "the pool")))
		goto destroy_pool;
	/*
	 * Warm put: the same pages again, over themselves.  The pool's
	 * memory is now reused instead of faulted in fresh, which is what a
	 * long-running pool mostly does; the first-fill put above pays for
	 * every new page (see docs/performance.md).
	 */
	s = t[PH_REPUT] = run_phase(b, PH_REPUT);
	if (s < 0)
		goto destroy_pool;
	memset(b->out.data, POISON, b->pb.n * TMEM_PAGE_SIZE);
	s = run_phase(b, PH_GET);
	if (s < 0 || (err = verify(b, "the pool after overwriting")))
		goto destroy_pool;
	tmem_pool_destroy(b->pool);
	b->pool = NULL;

	s = t[PH_COMPRESS] = run_phase(b, PH_COMPRESS);
	if (s < 0)
		return (int)s;
	memset(b->out.data, POISON, b->pb.n * TMEM_PAGE_SIZE);
	s = t[PH_DECOMPRESS] = run_phase(b, PH_DECOMPRESS);
	if (s < 0)
		return (int)s;
	return verify(b, "the raw compressor");
destroy_pool:
	tmem_pool_destroy(b->pool);
	b->pool = NULL;
	return s < 0 ? (int)s : err;
}

static int measure(struct bench *b)
{
	uint64_t orig = (uint64_t)b->pb.n * TMEM_PAGE_SIZE;
	double *t = calloc(NPHASES * (size_t)b->repeat, sizeof(double));
	double med[NPHASES];
	unsigned r, ph;
	size_t i;
	int err;

	if (!t)
		return -ENOMEM;
	for (r = 0; r < b->repeat; r++) {
		double round[NPHASES] = { 0 };

		err = one_round(b, round, r == b->repeat - 1);
		if (err)
			goto free_times;
		for (ph = 0; ph < NPHASES; ph++)
			t[ph * b->repeat + r] = round[ph];
	}
	for (ph = 0; ph < NPHASES; ph++)
		med[ph] = cli_median(t + ph * b->repeat, b->repeat);
	b->put_mbps = cli_mbps(orig, med[PH_PUT]);
	b->reput_mbps = cli_mbps(orig, med[PH_REPUT]);
	b->get_mbps = cli_mbps(orig, med[PH_GET]);
	b->comp_mbps = cli_mbps(orig, med[PH_COMPRESS]);
	b->decomp_mbps = cli_mbps(orig, med[PH_DECOMPRESS]);
	for (i = 0; i < b->pb.n; i++)
		b->raw_bytes += (uint64_t)b->raw_len[i];
	err = 0;
free_times:
	free(t);
	return err;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static uint64_t pool_total(const struct bench *b)
{
	return b->st.pool_bytes + b->st.metadata_bytes;
}

static const char *comp_name(const struct bench *b)
{
	const char *n = tmem_compressor_name(b->t.params.compressor);

	return n ? n : "?";
}

static void print_json(const struct bench *b)
{
	const struct tmem_stats *st = &b->st;
	const struct zram_result *z = &b->z;

	printf("{\"corpus\":");
	cli_json_str(stdout, b->corpus);
	printf(",\"pages\":%zu,\"compressor\":\"%s\",\"zstd_level\":%d,"
	       "\"threads\":%u,\"repeat\":%u,",
	       b->pb.n, comp_name(b), b->t.params.zstd_level, b->threads,
	       b->repeat);
	printf("\"orig_bytes\":%llu,\"compressed_bytes\":%llu,"
	       "\"pool_bytes\":%llu,\"metadata_bytes\":%llu,"
	       "\"stored_pages\":%llu,\"samefill_pages\":%llu,"
	       "\"raw_pages\":%llu,\"metadata_per_page\":%.2f,"
	       "\"density\":%.4f,",
	       (unsigned long long)st->orig_bytes,
	       (unsigned long long)st->compressed_bytes,
	       (unsigned long long)st->pool_bytes,
	       (unsigned long long)st->metadata_bytes,
	       (unsigned long long)st->stored_pages,
	       (unsigned long long)st->samefill_pages,
	       (unsigned long long)st->raw_pages,
	       bench_div0((double)st->metadata_bytes, (double)st->stored_pages),
	       bench_div0((double)st->orig_bytes, (double)pool_total(b)));
	printf("\"put_mbps\":%.1f,\"get_mbps\":%.1f,"
	       "\"raw_compress_mbps\":%.1f,\"raw_decompress_mbps\":%.1f,"
	       "\"raw_compressed_bytes\":%llu,\"put_ratio\":%.3f,"
	       "\"get_ratio\":%.3f,\"put_warm_mbps\":%.1f,"
	       "\"put_warm_ratio\":%.3f",
	       b->put_mbps, b->get_mbps, b->comp_mbps, b->decomp_mbps,
	       (unsigned long long)b->raw_bytes,
	       bench_div0(b->put_mbps, b->comp_mbps),
	       bench_div0(b->get_mbps, b->decomp_mbps), b->reput_mbps,
	       bench_div0(b->reput_mbps, b->comp_mbps));
	if (b->vs_zram && !b->zram_done)
		printf(",\"zram\":null");
	else if (b->zram_done)
		printf(",\"zram\":{\"algorithm\":\"%s\",\"threads\":1,"
		       "\"write_mbps\":%.1f,\"read_mbps\":%.1f,"
		       "\"orig_data_size\":%llu,\"compr_data_size\":%llu,"
		       "\"mem_used_total\":%llu,\"same_pages\":%llu,"
		       "\"huge_pages\":%llu,\"density\":%.4f,"
		       "\"put_vs_write\":%.3f,\"get_vs_read\":%.3f}",
		       z->algorithm, z->write_mbps, z->read_mbps,
		       (unsigned long long)z->orig_data_size,
		       (unsigned long long)z->compr_data_size,
		       (unsigned long long)z->mem_used_total,
		       (unsigned long long)z->same_pages,
		       (unsigned long long)z->huge_pages,
		       bench_div0((double)z->orig_data_size,
				  (double)z->mem_used_total),
		       bench_div0(b->put_mbps, z->write_mbps),
		       bench_div0(b->get_mbps, z->read_mbps));
	printf("}\n");
}

static void print_table(const struct bench *b)
{
	const struct tmem_stats *st = &b->st;
	const struct zram_result *z = &b->z;
	char o[32], c[32], m[32], p[32], d[32], label[64];

	printf("tmem bench store: %s\n", b->corpus);
	printf("%zu pages (%s), %s, %u thread%s, median of %u runs; MB/s = 10^6 original bytes/s\n\n",
	       b->pb.n, cli_human(st->orig_bytes, o, sizeof(o)), comp_name(b),
	       b->threads, b->threads == 1 ? "" : "s", b->repeat);
	printf("%-34s %12s %12s\n", "", "write MB/s", "read MB/s");
	printf("%-34s %12.1f %12.1f\n", "tmem pool (put / get)", b->put_mbps,
	       b->get_mbps);
	printf("%-34s %12.1f %12s\n", "tmem pool, warm (put over itself)",
	       b->reput_mbps, "");
	snprintf(label, sizeof(label), "raw %s (compress / decompress)",
		 comp_name(b));
	printf("%-34s %12.1f %12.1f\n", label, b->comp_mbps, b->decomp_mbps);
	printf("%-34s %12.2f %12.2f\n", "  tmem / raw",
	       bench_div0(b->put_mbps, b->comp_mbps),
	       bench_div0(b->get_mbps, b->decomp_mbps));
	printf("%-34s %12.2f %12s\n", "  tmem warm / raw",
	       bench_div0(b->reput_mbps, b->comp_mbps), "");
	if (b->zram_done) {
		snprintf(label, sizeof(label),
			 "zram %s (O_DIRECT 4K, 1 thread)", z->algorithm);
		printf("%-34s %12.1f %12.1f\n", label, z->write_mbps,
		       z->read_mbps);
		printf("%-34s %12.2f %12.2f\n", "  tmem / zram",
		       bench_div0(b->put_mbps, z->write_mbps),
		       bench_div0(b->get_mbps, z->read_mbps));
	}
	printf("\n%-12s %12s %12s %12s %8s\n", "", "original", "compressed",
	       "memory used", "density");
	printf("%-12s %12s %12s %12s %8.2f\n", "tmem pool",
	       cli_human(st->orig_bytes, o, sizeof(o)),
	       cli_human(st->compressed_bytes, c, sizeof(c)),
	       cli_human(pool_total(b), m, sizeof(m)),
	       bench_div0((double)st->orig_bytes, (double)pool_total(b)));
	printf("%-12s %12s %12s %12s %8s\n", "raw", o,
	       cli_human(b->raw_bytes, c, sizeof(c)), "-", "-");
	if (b->zram_done)
		printf("%-12s %12s %12s %12s %8.2f\n", "zram",
		       cli_human(z->orig_data_size, o, sizeof(o)),
		       cli_human(z->compr_data_size, c, sizeof(c)),
		       cli_human(z->mem_used_total, m, sizeof(m)),
		       bench_div0((double)z->orig_data_size,
				  (double)z->mem_used_total));
	printf("\ntmem memory = pool %s + metadata %s (%.1f bytes per stored page); "
	       "%llu same-filled, %llu stored raw\n",
	       cli_human(st->pool_bytes, p, sizeof(p)),
	       cli_human(st->metadata_bytes, d, sizeof(d)),
	       bench_div0((double)st->metadata_bytes, (double)st->stored_pages),
	       (unsigned long long)st->samefill_pages,
	       (unsigned long long)st->raw_pages);
	if (b->zram_done)
		printf("zram memory = mem_used_total; %llu same-filled, %llu huge\n",
		       (unsigned long long)z->same_pages,
		       (unsigned long long)z->huge_pages);
	printf("density = original / memory used; every page read back was verified.\n");
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

enum {
	OPT_CORPUS = 'c',
	OPT_THREADS = 't',
	OPT_REPEAT = 'r',
	OPT_JSON = 'j',
	OPT_ZRAM = 'z',
	OPT_HELP = 'h',
};

/* 0 to go on, -1 after --help, or an exit status after a message. */
static int parse(struct bench *b, int argc, char *argv[])
{
	struct option opts[CLI_TUNABLES_MAX + 8] = {
		{ "corpus", required_argument, NULL, OPT_CORPUS },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "repeat", required_argument, NULL, OPT_REPEAT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "vs-zram", no_argument, NULL, OPT_ZRAM },
		{ "help", no_argument, NULL, OPT_HELP },
	};
	int c, err;

	err = cli_tunables_init(&b->t);
	if (err)
		return err;
	cli_tunable_options(opts, 6, sizeof(opts) / sizeof(opts[0]));
	b->threads = 1;
	b->repeat = 5;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CORPUS:
			b->corpus = optarg;
			break;
		case OPT_THREADS:
			if (cli_parse_uint("--threads", optarg, 1, THREADS_MAX,
					   &b->threads))
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
		case OPT_ZRAM:
			b->vs_zram = 1;
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
	return bench_args_done(argc, argv, b->corpus);
}

int bench_args_done(int argc, char *argv[], const char *corpus)
{
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'",
				       argv[optind]);
	if (!corpus)
		return cli_usage_error("--corpus FILE is required");
	return 0;
}

static int bench_store(int argc, char *argv[])
{
	struct bench b = { 0 };
	int err;

	cli_cmd = "bench store";
	err = parse(&b, argc, argv);
	if (err)
		return err < 0 ? 0 : err; /* -1: help was shown */
	if (b.vs_zram && zram_usable())
		return CLI_EXIT_FAIL;
	err = pagefile_load(b.corpus, &b.pb);
	if (err)
		return CLI_EXIT_FAIL;
	err = -ENOMEM;
	if (b.pb.n > UINT32_MAX ||
	    pagefile_reserve(&b.out, b.pb.n * TMEM_PAGE_SIZE))
		goto out_of_memory;
	b.raw = malloc(b.pb.n * RAW_SLOT);
	b.raw_off = calloc(b.pb.n, sizeof(*b.raw_off));
	b.raw_len = calloc(b.pb.n, sizeof(*b.raw_len));
	if (!b.raw || !b.raw_off || !b.raw_len)
		goto out_of_memory;
	if (b.threads > b.pb.n)
		b.threads = (unsigned)b.pb.n;
	err = start_workers(&b);
	if (!err)
		err = measure(&b);
	stop_workers(&b);
	if (!err && b.vs_zram) {
		err = zram_bench(&b.pb, comp_name(&b), b.repeat, &b.z);
		b.zram_done = err == 0;
		if (err == 1)
			err = 0;
	}
	if (!err && b.json)
		print_json(&b);
	else if (!err)
		print_table(&b);
	goto free_all;
out_of_memory:
	cli_error("out of memory for %zu pages", b.pb.n);
free_all:
	free(b.raw);
	free(b.raw_off);
	free(b.raw_len);
	pagefile_free(&b.out);
	pagefile_free(&b.pb);
	return err ? CLI_EXIT_FAIL : 0;
}

static void bench_usage(FILE *f)
{
	fprintf(f,
		"Usage: tmem bench BENCHMARK [OPTIONS]\n"
		"\n"
		"Benchmarks:\n"
		"  store      put/get speed and density of a pool on a page corpus,\n"
		"             beside the raw compressor and (--vs-zram) the kernel's zram\n"
		"  writeback  a pool a quarter of the corpus's size with a backing file:\n"
		"             put/get speed, bytes written per page written back, write\n"
		"             amplification, beside an unlimited pool\n"
		"\n"
		"Run 'tmem bench BENCHMARK --help' for its options.\n");
}

int cmd_bench(int argc, char *argv[])
{
	cli_cmd = "bench";
	if (argc < 2)
		return cli_usage_error("needs a benchmark: store or writeback");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		bench_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "store"))
		return bench_store(argc - 1, argv + 1);
	if (!strcmp(argv[1], "writeback"))
		return bench_writeback(argc - 1, argv + 1);
	return cli_usage_error("unknown benchmark '%s'", argv[1]);
}
