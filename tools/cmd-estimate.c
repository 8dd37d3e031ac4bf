// SPDX-License-Identifier: MIT
/*
 * cmd-estimate.c - `tmem estimate`: how much memory would tmem save on this
 * process (or page file)?
 *
 * The answer is measured, not modelled: the pages are put into a real tmem
 * pool per compressor, and the pool's own statistics (compressed_bytes,
 * pool_bytes + metadata_bytes) give the projected footprint, so the figure
 * includes size-class rounding, zspage slack and index metadata exactly as
 * the library would have them.  Every page is got back and compared
 * byte for byte; a difference is reported loudly and fails the command,
 * since an estimate built on a store that corrupts data is worthless.
 *
 * Duplicates: the store has no dedup yet, so what dedup would add is
 * computed beside it: pages equal to an earlier page that is not
 * same-filled (same-filled pages already cost nothing) are found with
 * XXH3-64 and confirmed with memcmp, and their compressed sizes (as the
 * pool would store them: raw above max_compressed) are what dedup would
 * save, before allocator rounding.
 *
 * Timing: put and get rates are one thread's, with the get side's
 * verification done outside the clock in chunks of GET_CHUNK pages, so the
 * check costs no extra memory for a process of many gigabytes.
 */
#define TMEM_EXPERIMENTAL
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cli.h"
#include "pagefile.h"
#include "procmem.h"

#define GET_CHUNK 256 /* pages got per timed burst: 1 MiB */

struct per_comp {
	const char *name;
	uint64_t rejected; /* puts refused (pool_max) */
	struct tmem_stats st;
	uint64_t dedup_saves;
	double put_s, get_s;
};

struct estimate {
	const char *pages_path; /* --pages, or NULL for a process */
	pid_t pid;
	char comm[64];
	struct procmem_info proc;
	struct pagefile_buf pb;
	uint64_t samefill;
	uint64_t dups;
	uint8_t *is_dup; /* one flag per page */
	struct per_comp comp[TMEM_COMP_COUNT];
	unsigned ncomp;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tmem estimate [OPTIONS] PID\n"
		"       tmem estimate [OPTIONS] --pages FILE\n"
		"\n"
		"Estimate what tmem would save on a running process's resident anonymous\n"
		"memory (or on a page file): the pages are stored in a real pool for each\n"
		"compressor, read back and verified.\n"
		"\n"
		"Options:\n"
		"  --pages FILE                   read pages from FILE (raw 4 KiB pages, or zstd)\n"
		"  --save FILE                    also write the pages to FILE as a raw page file\n"
		"  --json                         print one JSON object instead of a table\n"
		"  -h, --help                     show this help\n"
		"\n"
		"Tunables (every compressor is measured unless --compressor is given):\n");
	cli_tunable_help(f);
}

/* ------------------------------------------------------------------ */
/* Same-filled and duplicate pages                                     */
/* ------------------------------------------------------------------ */

static int find_duplicates(struct estimate *e)
{
	size_t n = e->pb.n, cap = 2, i;
	uint64_t *hashes;
	size_t *slots; /* page index + 1; 0 for empty */

	while (cap < 2 * n)
		cap *= 2;
	e->is_dup = calloc(n, 1);
	hashes = calloc(cap, sizeof(*hashes));
	slots = calloc(cap, sizeof(*slots));
	if (!e->is_dup || !hashes || !slots) {
		free(hashes);
		free(slots);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const uint8_t *page = pagefile_page(&e->pb, i);
		uint64_t h;
		size_t s;

		if (tmem_page_is_samefilled(page, NULL)) {
			e->samefill++;
			continue;
		}
		h = XXH3_64bits(page, TMEM_PAGE_SIZE);
		/* Linear probing; a hash match is confirmed by the bytes. */
		for (s = h & (cap - 1); slots[s]; s = (s + 1) & (cap - 1))
			if (hashes[s] == h &&
			    !memcmp(pagefile_page(&e->pb, slots[s] - 1), page,
				    TMEM_PAGE_SIZE))
				break;
		if (slots[s]) {
			e->is_dup[i] = 1;
			e->dups++;
		} else {
			slots[s] = i + 1;
			hashes[s] = h;
		}
	}
	free(hashes);
	free(slots);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Measuring one compressor                                            */
/* ------------------------------------------------------------------ */

static int dedup_savings(struct estimate *e, const struct tmem_pool_params *p,
			 struct per_comp *pc)
{
	static uint8_t dst[2 * TMEM_PAGE_SIZE];
	size_t cap = p->max_compressed < sizeof(dst) ? p->max_compressed
						     : sizeof(dst);
	size_t i;

	for (i = 0; i < e->pb.n; i++) {
		int len;

		if (!e->is_dup[i])
			continue;
		len = tmem_compress_page(p->compressor, p->zstd_level,
					 pagefile_page(&e->pb, i), dst, cap);
		if (len == -ENOSPC)
			len = TMEM_PAGE_SIZE;
		if (len < 0)
			return len;
		pc->dedup_saves += (uint64_t)len;
	}
	return 0;
}

/* Get every page back in timed chunks and compare them untimed. */
static int get_and_verify(struct estimate *e, struct tmem_pool *pool,
			  uint8_t *rejected, struct per_comp *pc)
{
	static uint8_t out[GET_CHUNK][TMEM_PAGE_SIZE];
	size_t i, k, n = e->pb.n;
	int err;

	for (i = 0; i < n; i += GET_CHUNK) {
		size_t m = n - i < GET_CHUNK ? n - i : GET_CHUNK;
		double t0 = cli_now();

		for (k = 0; k < m; k++) {
			err = tmem_get_page(pool, 0, (uint32_t)(i + k), out[k]);
			if (err && !(err == -ENOENT && rejected[i + k])) {
				cli_error(
					"getting page %zu back from the %s pool failed: %s",
					i + k, pc->name, tmem_strerror(err));
				return -EIO;
			}
		}
		pc->get_s += cli_now() - t0;
		for (k = 0; k < m; k++) {
			if (rejected[i + k] ||
			    !memcmp(out[k], pagefile_page(&e->pb, i + k),
				    TMEM_PAGE_SIZE))
				continue;
			cli_error(
				"CORRUPTION: page %zu read back from the %s pool differs from what was put",
				i + k, pc->name);
			return -EIO;
		}
	}
	return 0;
}

static int measure(struct estimate *e, const struct tmem_pool_params *params,
		   struct per_comp *pc)
{
	struct tmem_pool_params p = *params;
	struct tmem_pool *pool = NULL;
	uint8_t *rejected = calloc(e->pb.n, 1);
	size_t i;
	double t0;
	int err = -ENOMEM;

	if (!rejected)
		goto fail;
	err = tmem_params_set(&p, "compressor", pc->name);
	if (!err)
		err = tmem_pool_create(&p, &pool);
	if (err) {
		cli_error("creating a %s pool: %s", pc->name,
			  tmem_strerror(err));
		goto free_rejected;
	}
	t0 = cli_now();
	for (i = 0; i < e->pb.n; i++) {
		err = tmem_put_page(pool, 0, (uint32_t)i,
				    pagefile_page(&e->pb, i));
		if (err == -ENOSPC) {
			rejected[i] = 1;
			pc->rejected++;
		} else if (err) {
			cli_error("putting page %zu into the %s pool: %s", i,
				  pc->name, tmem_strerror(err));
			goto destroy_pool;
		}
	}
	pc->put_s = cli_now() - t0;
	pc->st.size = sizeof(pc->st);
	err = tmem_stats_get(pool, &pc->st);
	if (!err)
		err = get_and_verify(e, pool, rejected, pc);
	if (!err)
		err = dedup_savings(e, &p, pc);
	if (err && err != -EIO)
		cli_error("%s pool: %s", pc->name, tmem_strerror(err));
destroy_pool:
	tmem_pool_destroy(pool);
free_rejected:
	free(rejected);
fail:
	return err;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static uint64_t projected(const struct per_comp *pc)
{
	return pc->st.pool_bytes + pc->st.metadata_bytes;
}

static double ratio(const struct per_comp *pc)
{
	uint64_t proj = projected(pc);

	return proj ? (double)pc->st.orig_bytes / (double)proj : 0;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

static void print_json(const struct estimate *e)
{
	uint64_t orig = (uint64_t)e->pb.n * TMEM_PAGE_SIZE;
	unsigned c;

	printf("{");
	if (e->pages_path) {
		printf("\"source\":\"file\",\"file\":");
		cli_json_str(stdout, e->pages_path);
	} else {
		printf("\"source\":\"process\",\"pid\":%d,\"comm\":",
		       (int)e->pid);
		cli_json_str(stdout, e->comm);
		printf(",\"mappings\":%llu,\"mapped_pages\":%llu,"
		       "\"swapped_pages\":%llu,\"unreadable_pages\":%llu",
		       (unsigned long long)e->proc.mappings,
		       (unsigned long long)e->proc.mapped_pages,
		       (unsigned long long)e->proc.swapped_pages,
		       (unsigned long long)e->proc.unreadable_pages);
	}
	printf(",\"page_size\":%u,\"pages\":%zu,\"orig_bytes\":%llu,"
	       "\"samefill_pages\":%llu,\"duplicate_pages\":%llu,"
	       "\"compressors\":[",
	       TMEM_PAGE_SIZE, e->pb.n, (unsigned long long)orig,
	       (unsigned long long)e->samefill, (unsigned long long)e->dups);
	for (c = 0; c < e->ncomp; c++) {
		const struct per_comp *pc = &e->comp[c];

		printf("%s{\"compressor\":\"%s\",\"stored_pages\":%llu,"
		       "\"rejected_pages\":%llu,\"samefill_pages\":%llu,"
		       "\"raw_pages\":%llu,\"compressed_bytes\":%llu,"
		       "\"pool_bytes\":%llu,\"metadata_bytes\":%llu,"
		       "\"projected_bytes\":%llu,\"ratio\":%.3f,"
		       "\"dedup_saves_bytes\":%llu,\"put_seconds\":%.6f,"
		       "\"get_seconds\":%.6f,\"put_mbps\":%.1f,"
		       "\"get_mbps\":%.1f,\"verified\":true}",
		       c ? "," : "", pc->name,
		       (unsigned long long)pc->st.stored_pages,
		       (unsigned long long)pc->rejected,
		       (unsigned long long)pc->st.samefill_pages,
		       (unsigned long long)pc->st.raw_pages,
		       (unsigned long long)pc->st.compressed_bytes,
		       (unsigned long long)pc->st.pool_bytes,
		       (unsigned long long)pc->st.metadata_bytes,
		       (unsigned long long)projected(pc), ratio(pc),
		       (unsigned long long)pc->dedup_saves, pc->put_s,
		       pc->get_s, cli_mbps(pc->st.orig_bytes, pc->put_s),
		       cli_mbps(pc->st.orig_bytes, pc->get_s));
	}
	printf("]}\n");
}

static void print_table(const struct estimate *e)
{
	uint64_t orig = (uint64_t)e->pb.n * TMEM_PAGE_SIZE;
	char a[32], b[32], d[32];
	unsigned c;

	if (e->pages_path)
		printf("Page file %s\n", e->pages_path);
	else
		printf("Process %d (%s): %llu private anonymous mappings, %llu pages swapped out (not counted)\n",
		       (int)e->pid, e->comm,
		       (unsigned long long)e->proc.mappings,
		       (unsigned long long)e->proc.swapped_pages);
	printf("%zu pages (%s), same-filled %llu (%.1f%%), duplicates %llu (%.1f%%)\n\n",
	       e->pb.n, cli_human(orig, a, sizeof(a)),
	       (unsigned long long)e->samefill, pct(e->samefill, e->pb.n),
	       (unsigned long long)e->dups, pct(e->dups, e->pb.n));
	printf("%-10s %12s %12s %7s %12s %9s %9s\n", "compressor", "compressed",
	       "pool+meta", "ratio", "dedup saves", "put MB/s", "get MB/s");
	for (c = 0; c < e->ncomp; c++) {
		const struct per_comp *pc = &e->comp[c];

		printf("%-10s %12s %12s %7.2f %12s %9.0f %9.0f\n", pc->name,
		       cli_human(pc->st.compressed_bytes, a, sizeof(a)),
		       cli_human(projected(pc), b, sizeof(b)), ratio(pc),
		       cli_human(pc->dedup_saves, d, sizeof(d)),
		       cli_mbps(pc->st.orig_bytes, pc->put_s),
		       cli_mbps(pc->st.orig_bytes, pc->get_s));
		if (pc->rejected)
			printf("%-10s %llu pages refused: pool at --pool-max\n",
			       "", (unsigned long long)pc->rejected);
	}
	printf("\nratio = original / (pool + metadata); every page was read back and verified.\n");
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

static void read_comm(struct estimate *e)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)e->pid);
	snprintf(e->comm, sizeof(e->comm), "?");
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(e->comm, sizeof(e->comm), f))
		e->comm[strcspn(e->comm, "\n")] = '\0';
	fclose(f);
}

static int load(struct estimate *e)
{
	int err;

	if (e->pages_path)
		return pagefile_load(e->pages_path, &e->pb);
	read_comm(e);
	err = procmem_read(e->pid, &e->pb, &e->proc);
	if (!err && !e->pb.n) {
		cli_error("process %d has no resident private anonymous pages",
			  (int)e->pid);
		err = -ENODATA;
	}
	return err;
}

enum { OPT_PAGES = 'p', OPT_SAVE = 's', OPT_JSON = 'j', OPT_HELP = 'h' };

int cmd_estimate(int argc, char *argv[])
{
	struct option opts[CLI_TUNABLES_MAX + 8] = {
		{ "pages", required_argument, NULL, OPT_PAGES },
		{ "save", required_argument, NULL, OPT_SAVE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
	};
	struct estimate e = { 0 };
	struct cli_tunables t;
	const char *save = NULL;
	int json = 0, c, err;
	unsigned i, pid;

	cli_cmd = "estimate";
	err = cli_tunables_init(&t);
	if (err)
		return err;
	cli_tunable_options(opts, 4, sizeof(opts) / sizeof(opts[0]));
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_PAGES:
			e.pages_path = optarg;
			break;
		case OPT_SAVE:
			save = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			err = cli_tunable_handle(&t, c, optarg);
			if (err == 1)
				break;
			return err ? err : cli_getopt_error(c, argv, opts);
		}
	}
	if (optind < argc - 1)
		return cli_usage_error("too many arguments: '%s'",
				       argv[optind + 1]);
	if (optind == argc && !e.pages_path)
		return cli_usage_error("needs a process id or --pages FILE");
	if (optind < argc && e.pages_path)
		return cli_usage_error(
			"give a process id or --pages FILE, not both");
	if (optind < argc) {
		if (cli_parse_uint("PID", argv[optind], 1, INT_MAX, &pid))
			return CLI_EXIT_USAGE;
		e.pid = (pid_t)pid;
	}

	err = load(&e);
	if (!err && e.pb.n > UINT32_MAX) {
		cli_error("%zu pages: more than one pool object holds", e.pb.n);
		err = -EFBIG;
	}
	if (!err && save)
		err = pagefile_save(save, &e.pb);
	if (!err) {
		err = find_duplicates(&e);
		if (err)
			cli_error("out of memory");
	}
	for (i = 0; !err && i < TMEM_COMP_COUNT; i++) {
		const char *name = tmem_compressor_name(i);

		if (cli_tunable_given(&t, "compressor") &&
		    i != t.params.compressor)
			continue;
		e.comp[e.ncomp].name = name;
		err = measure(&e, &t.params, &e.comp[e.ncomp]);
		e.ncomp++;
	}
	if (!err && json)
		print_json(&e);
	else if (!err)
		print_table(&e);
	free(e.is_dup);
	pagefile_free(&e.pb);
	return err ? CLI_EXIT_FAIL : 0;
}
