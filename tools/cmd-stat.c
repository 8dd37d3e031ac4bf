// SPDX-License-Identifier: MIT
/*
 * cmd-stat.c - `tmem stat PID`: the live counters of a process running
 * under `tmem run`, read from the stats page its shim keeps in its run's
 * directory, /dev/shm/tmem-<runpid>.XXXXXX/<pid> (run-dir.c finds it);
 * and the printers `tmem run --stats` shares.
 *
 * The page is read without locking while the shim updates it, so each
 * number is exact on its own but the set is not one instant (the same
 * disclaimer as tmem_stats_get()).  Only a page with the right magic,
 * version, size and pid, made by the process itself, is believed: a
 * process that is gone, or a zombie, gets an error and no figures, not
 * the last figures its page held.  The compressor's name comes from the
 * page, which another process wrote: it is printed escaped.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-run.h"
#include "run-dir.h"

/*
 * Pages held / their compressed size (same-filled pages count as held
 * and take nothing, as zram's mm_stat counts them), when the pool was at
 * its largest: at exit it holds what the program had not freed, if
 * anything.  0 before the pool held a compressed page.
 */
static double ratio(const struct tmem_run_stats *st)
{
	if (!st->peak_compressed_bytes)
		return 0.0;
	return (double)st->peak_orig_bytes / (double)st->peak_compressed_bytes;
}

/* The page's compressor name, into @buf if set, else "default". */
static const char *comp_name(const struct tmem_run_stats *st, char *buf,
			     size_t len)
{
	size_t n = strnlen(st->compressor, sizeof(st->compressor));

	if (!n)
		return "default";
	if (n >= len)
		n = len - 1;
	memcpy(buf, st->compressor, n);
	buf[n] = 0;
	return buf;
}

/* comp_name() with what is not printable ASCII as '?', for a terminal. */
static const char *comp_text(const struct tmem_run_stats *st, char *buf,
			     size_t len)
{
	const char *name = comp_name(st, buf, len);

	for (char *c = buf; name == buf && *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	return name;
}

static double mib(uint64_t b)
{
	return (double)b / (1024.0 * 1024.0);
}

void run_stats_print(FILE *f, const struct tmem_run_stats *st,
		     unsigned long long maxrss)
{
	char comp[sizeof(st->compressor) + 1];

	fprintf(f, "tmem: pid %" PRId64 ", budget %.1f MiB, compressor %s\n",
		st->pid, mib(st->ram_bytes), comp_text(st, comp, sizeof(comp)));
	if (maxrss)
		fprintf(f, "tmem:   peak resident     %.1f MiB (kernel)\n",
			mib(maxrss));
	fprintf(f, "tmem:   peak resident     %.1f MiB (sampled by tmem)\n",
		mib(st->peak_rss_bytes));
	fprintf(f,
		"tmem:   pool              %.1f MiB (+%.1f MiB metadata), "
		"%" PRIu64 " pages; peak %.1f MiB with metadata\n",
		mib(st->pool_bytes), mib(st->pool_metadata_bytes),
		st->pool_pages, mib(st->pool_peak_bytes));
	fprintf(f,
		"tmem:   pages compressed  %" PRIu64 " (same-filled %" PRIu64
		", refused %" PRIu64 ")\n",
		st->pages_compressed, st->samefill_pages, st->evict_kept);
	fprintf(f,
		"tmem:   faults served     %" PRIu64 " (refaults %" PRIu64
		", zero %" PRIu64 ", write-waits %" PRIu64 ", stale %" PRIu64
		"; %" PRIu64 " pages read ahead)\n",
		st->faults, st->refaults, st->zero_faults, st->wp_faults,
		st->stale_faults, st->readahead_pages);
	fprintf(f, "tmem:   compression ratio %.2f (pool at its peak)\n",
		ratio(st));
	fprintf(f, "tmem:   fault service     %.3f s, eviction %.3f s\n",
		(double)st->fault_ns / 1e9, (double)st->evict_ns / 1e9);
	if (!st->backing) {
		fprintf(f, "tmem:   backing file      none\n");
	} else {
		fprintf(f,
			"tmem:   backing file      %" PRIu64
			" pages written back, %" PRIu64 " on the file now "
			"(%.1f MiB of records); %.1f MiB written\n",
			st->writebacks, st->backing_pages,
			mib(st->backing_file_bytes),
			mib(st->backing_bytes_written));
		fprintf(f,
			"tmem:                     %" PRIu64
			" pages read back, %" PRIu64 " puts waited for "
			"writeback; errors: %" PRIu64 " write, %" PRIu64
			" read\n",
			st->backing_read_pages, st->backing_waits,
			st->backing_write_errors, st->backing_read_errors);
	}
	if (st->budget_exceeded)
		fprintf(f, "tmem:   budget exceeded (see the message above)\n");
}

void run_stats_json(FILE *f, const struct tmem_run_stats *st,
		    unsigned long long maxrss)
{
	char comp[sizeof(st->compressor) + 1];

	fprintf(f, "{\"pid\": %" PRId64 ", \"compressor\": ", st->pid);
	cli_json_str(f, comp_name(st, comp, sizeof(comp)));
#define FIELD_(name, unit, desc)                                               \
	fprintf(f, ", \"%s\": %" PRIu64, #name, st->name);
	TMEM_RUN_STATS_FIELDS(FIELD_)
#undef FIELD_
	fprintf(f, ", \"kernel_peak_rss_bytes\": %llu", maxrss);
	fprintf(f, ", \"compression_ratio\": %.4f}\n", ratio(st));
}

static int usage(FILE *f)
{
	fprintf(f, "usage: tmem stat [--json] PID\n");
	if (f != stdout)
		return 2;
	fprintf(f,
		"\nShow the live counters of process PID, which runs under "
		"'tmem run' (read\nfrom its stats page, %s/%s<run>/PID).  "
		"Exits 1 if PID has exited, or\nis not managed by tmem run.\n\n"
		"  --json      one JSON object instead of text\n"
		"  -h, --help  this text\n",
		TMEM_RUN_STATS_DIR, TMEM_RUN_STATS_PREFIX);
	return 0;
}

int cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tmem_run_stats st;
	char path[PATH_MAX], *end;
	int json = 0, opt;
	long pid;

	cli_cmd = "stat";
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = 1;
			break;
		case 'h':
			return usage(stdout);
		default:
			/* getopt sets optopt to a known flag given a value */
			if (optopt == 'j' || optopt == 'h')
				return cli_usage_error(
					"option '%s' takes no value",
					argv[optind - 1]);
			return cli_usage_error("unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("PID is missing");
	if (optind + 1 < argc)
		return cli_usage_error("one PID only: '%s' is extra",
				       argv[optind + 1]);
	errno = 0;
	pid = strtol(argv[optind], &end, 10);
	if (errno || *end || pid <= 0 || pid > INT32_MAX)
		return cli_usage_error("'%s' is not a process id (PID)",
				       argv[optind]);
	switch (run_page_find((pid_t)pid, &st, path, sizeof(path))) {
	case RUN_PAGE_LIVE:
		break;
	case RUN_PAGE_GONE:
		fprintf(stderr,
			"tmem stat: no such process %ld: it has exited, "
			"or never ran\n",
			pid);
		return 1;
	case RUN_PAGE_ZOMBIE:
		fprintf(stderr,
			"tmem stat: process %ld has exited (a zombie not yet "
			"reaped)\n",
			pid);
		return 1;
	case RUN_PAGE_STALE:
		fprintf(stderr,
			"tmem stat: process %ld is not running under tmem run "
			"(%s was left by an earlier process with that pid)\n",
			pid, path);
		return 1;
	default:
		fprintf(stderr,
			"tmem stat: process %ld is not running under tmem run "
			"(no stats page %s/%s*/%ld)\n",
			pid, TMEM_RUN_STATS_DIR, TMEM_RUN_STATS_PREFIX, pid);
		return 1;
	}
	if (json)
		run_stats_json(stdout, &st, 0);
	else
		run_stats_print(stdout, &st, 0);
	return 0;
}
