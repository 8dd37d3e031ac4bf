/* SPDX-License-Identifier: MIT */
/*
 * run-stats.h - the live counters a process managed by `tmem run` keeps
 * in a page of shared memory, read by `tmem stat PID` and by `tmem run
 * --stats` after the program ends.
 *
 * Layout: each `tmem run` makes one directory for its whole run,
 * /dev/shm/tmem-<runpid>.XXXXXX (mkdtemp: mode 0700, a name nobody could
 * have made ready), and passes it in TMEM_RUN_DIR.  Each managed process
 * creates the file <pid> in it (O_EXCL, O_NOFOLLOW, 0600) and only if the
 * directory is a real one, ours and 0700; it unlinks the file when it
 * exits normally.  `tmem run` removes pages of processes that are gone
 * while it waits and the whole directory when the program ends, so pages
 * of processes that end by _exit or a signal do not outlive the run.
 * @start_time tells a page of a live process from one of a dead process
 * whose pid was reused.
 *
 * The page is written by the shim with relaxed atomic stores and read by
 * other processes without a lock: each field is exact on its own, the set
 * is not one snapshot.  New fields go at the end of the list, and
 * @version changes whenever the layout does (@start_time, after the list,
 * moves then).  X(name, unit, description)
 *
 * Versions: 2, one directory per run; 3, the backing file's fields.
 */
#ifndef TMEM_RUN_STATS_H
#define TMEM_RUN_STATS_H

#include <stdint.h>

#define TMEM_RUN_STATS_MAGIC 0x746d656d72756e31ull /* "tmemrun1" */
#define TMEM_RUN_STATS_VERSION 3
#define TMEM_RUN_STATS_DIR "/dev/shm"
#define TMEM_RUN_STATS_PREFIX "tmem-" /* + "<runpid>.XXXXXX" */
#define TMEM_RUN_STATS_ENV "TMEM_RUN_DIR"
/* Longest TMEM_RUN_DIR the shim takes (it keeps a copy, no malloc). */
#define TMEM_RUN_STATS_DIR_MAX 256

#define TMEM_RUN_STATS_FIELDS(X)                                               \
	X(ram_bytes, bytes, "budget (--ram)")                                  \
	X(pool_max_bytes, bytes, "pool limit (--pool-max)")                    \
	X(rss_bytes, bytes, "resident set now, pool included")                 \
	X(peak_rss_bytes, bytes, "highest resident set seen by the shim")      \
	X(region_resident_pages, pages, "managed pages resident now")          \
	X(pool_pages, pages, "managed pages held compressed now")              \
	X(pool_bytes, bytes, "memory the pool holds (allocator)")              \
	X(pool_metadata_bytes, bytes, "pool index and tables")                 \
	X(shim_metadata_bytes, bytes, "page state table touched")              \
	X(compressed_bytes, bytes, "sum of compressed page sizes")             \
	X(pages_compressed, pages, "pages put into the pool")                  \
	X(samefill_pages, pages, "puts of same-filled pages")                  \
	X(faults, faults, "missing faults served")                             \
	X(refaults, faults, "faults served from the pool")                     \
	X(zero_faults, faults, "faults served with a zero page")               \
	X(wp_faults, faults, "writes that waited for an eviction batch")       \
	X(fault_ns, ns, "time spent serving faults")                           \
	X(evict_batches, calls, "eviction batches")                            \
	X(evict_ns, ns, "time spent in eviction batches")                      \
	X(evict_kept, pages, "pages the pool refused (kept resident)")         \
	X(discarded_pages, pages, "pages freed by the program (dropped)")      \
	X(writebacks, pages, "pages written back to the backing file")         \
	X(budget_exceeded, flag, "1 once memory grew past --ram")              \
	X(pool_peak_bytes, bytes, "highest pool + metadata seen")              \
	X(stale_faults, faults, "fault messages for pages already in place")   \
	X(peak_orig_bytes, bytes, "pages the pool held at its peak, bytes")    \
	X(peak_compressed_bytes, bytes, "their compressed size")               \
	X(readahead_pages, pages, "pooled pages brought in ahead of a scan")   \
	X(backing, flag, "1 if the pool has a backing file (--backing-file)")  \
	X(backing_pages, pages, "pages on the backing file now")               \
	X(backing_file_bytes, bytes, "records in the file now, live and dead") \
	X(backing_bytes_written, bytes,                                        \
	  "bytes written to the file, cleaning included")                      \
	X(backing_read_pages, pages, "pool reads served from the file")        \
	X(backing_waits, calls, "pool puts that waited for writeback")         \
	X(backing_write_errors, calls,                                         \
	  "failed writes (ENOSPC, EIO): the pages stayed in memory")           \
	X(backing_read_errors, calls,                                          \
	  "reads of the file that failed or did not verify")

struct tmem_run_stats {
	uint64_t magic;
	uint32_t version;
	uint32_t size; /* sizeof(struct tmem_run_stats) */
	int64_t pid;
	char compressor[16];
#define TMEM_RUN_STATS_FIELD_(name, unit, desc) uint64_t name;
	TMEM_RUN_STATS_FIELDS(TMEM_RUN_STATS_FIELD_)
#undef TMEM_RUN_STATS_FIELD_
	/* field 22 of /proc/<pid>/stat (clock ticks after boot), 0 unknown */
	uint64_t start_time;
};

#endif /* TMEM_RUN_STATS_H */
