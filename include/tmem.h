/* SPDX-License-Identifier: MIT */
/*
 * tmem.h - transcendent memory in user space: the one public header.
 *
 * A tmem pool stores page-sized data under a key (pool, object id, page
 * index).  tmem_put_page() stores or overwrites a page, tmem_get_page()
 * copies it back out, tmem_flush_page() and tmem_flush_object() drop pages.
 * Pages are kept compressed in memory (lz4, zstd or lzo1x) by a
 * zsmalloc-style allocator; a page made of one repeated 64-bit word is kept
 * as that word only.
 *
 * A persistent pool may be given a backing file (tmem_pool_set_backing()):
 * when the pool reaches its limit, its coldest pages are written back to
 * the file, still compressed, packed into log-structured segments, and a
 * get of such a page reads it back transparently.
 *
 * Pool kinds:
 *   TMEM_POOL_PERSISTENT  (frontswap semantics) a page stays until it is
 *                         flushed or the pool is destroyed.
 *   TMEM_POOL_EPHEMERAL   (cleancache semantics) pages may vanish under
 *                         pressure.  Not implemented yet: -EOPNOTSUPP.
 *
 * Conventions: every call that can fail returns 0 (or a count) on success
 * and a negative errno on failure; errno is never set.  Handles are opaque.
 * Destroy functions accept NULL.  All calls are thread-safe and
 * synchronous: when a call returns, its effect is complete.
 */
#ifndef TMEM_H
#define TMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Version.  MAJOR changes break the ABI, MINOR adds calls or stats fields,
 * PATCH fixes bugs.  The number is MAJOR*10000 + MINOR*100 + PATCH, so it
 * compares with the usual operators.
 */
#define TMEM_VERSION_MAJOR 0 /* incompatible API/ABI changes */
#define TMEM_VERSION_MINOR 1 /* new calls, new stats fields */
#define TMEM_VERSION_PATCH 0 /* fixes only */
#define TMEM_VERSION_NUMBER                                                    \
	(TMEM_VERSION_MAJOR * 10000 + TMEM_VERSION_MINOR * 100 +               \
	 TMEM_VERSION_PATCH)

#define TMEM_PAGE_SIZE 4096u /* every put and get moves this many bytes */

/**
 * tmem_version() - the version of the library actually loaded.
 *
 * Return: TMEM_VERSION_NUMBER of the library, which may differ from the
 * header the caller was built with.
 * Context: any.
 */
unsigned tmem_version(void);

/**
 * tmem_version_string() - the loaded library's version as "MAJOR.MINOR.PATCH".
 *
 * Return: a static string.
 * Context: any.
 */
const char *tmem_version_string(void);

/**
 * tmem_strerror() - describe a return code of this library.
 * @err: a value returned by a tmem call (0 or a negative errno).
 *
 * Return: a static string; never NULL.
 * Context: any.
 */
const char *tmem_strerror(int err);

/* --------------------------------------------------------------------- */
/* Pools                                                                  */
/* --------------------------------------------------------------------- */

struct tmem_pool; /* opaque */

enum tmem_pool_kind {
	TMEM_POOL_PERSISTENT = 0,
	TMEM_POOL_EPHEMERAL = 1, /* reserved: not implemented yet */
};

enum tmem_compressor {
	TMEM_COMP_LZ4 = 0, /* default: fastest */
	TMEM_COMP_ZSTD = 1, /* best ratio; see zstd_level */
	TMEM_COMP_LZO = 2, /* lzo1x-1, the seeds' original */
	TMEM_COMP_COUNT
};

enum tmem_allocator {
	TMEM_ALLOC_ZSMALLOC = 0, /* dense: size classes, multi-page zspages */
	TMEM_ALLOC_COUNT
};

/*
 * Pool parameters.  Fill with tmem_params_init() (which applies the
 * defaults and then any TMEM_<NAME> environment variables), change what
 * you need, pass to tmem_pool_create().  Every field is a tunable of the
 * table documented in docs/tunables.md; tmem_params_set() sets one by
 * name from a string, with the bounds checked.
 *
 * @size:         sizeof(struct tmem_pool_params) as the caller was built,
 *                set by tmem_params_init().  The struct only ever grows at
 *                its end, so callers of every age work: the library reads
 *                the fields that lie wholly within @size and gives the
 *                rest their defaults (the table's, not the environment's);
 *                bytes past the library's own struct must be zero (a
 *                newer caller that sets a field this library does not
 *                know gets -EINVAL), as the kernel's copy_struct_from_user().
 * @kind:         enum tmem_pool_kind.
 * @compressor:   enum tmem_compressor.
 * @allocator:    enum tmem_allocator.
 * @zstd_level:   zstd compression level (1..19).
 * @pool_max:     bytes the pool (allocator memory + metadata) may hold;
 *                0 means no limit.  A put that would go above it fails
 *                with -ENOSPC, or, in a pool with a backing file, waits
 *                while the coldest pages are written back.
 * @accept_threshold: percent of @pool_max under which puts are accepted
 *                again once the pool was full (zswap's hysteresis); also
 *                where writeback stops.  A full pool accepts again as
 *                soon as it holds no allocator memory at all, so a limit
 *                below the metadata of an empty pool, or a threshold of
 *                0, cannot refuse every put forever.
 * @max_compressed: a page that does not compress to this many bytes or
 *                fewer is stored uncompressed in a whole page.
 */
struct tmem_pool_params {
	uint32_t size;
	uint32_t kind;
	uint32_t compressor;
	uint32_t allocator;
	int32_t zstd_level;
	uint32_t accept_threshold;
	uint64_t pool_max;
	uint32_t max_compressed;
	uint32_t reserved0;
};

/**
 * tmem_params_init_size() - fill the first @size bytes of @p with the
 * defaults, then apply TMEM_<NAME> environment variables to the fields
 * that lie within them.
 * @p:    parameters to fill.
 * @size: sizeof(*@p) as the caller was built; tmem_params_init() passes it.
 *
 * Writes exactly @size bytes (bytes of a newer caller's struct that this
 * library does not know are zeroed) and sets @p->size to @size.
 *
 * Return: 0; -EINVAL if @p is NULL, @size is smaller than the @size field,
 * larger than TMEM_PAGE_SIZE or ends inside a field, or an environment
 * variable holds a bad value (the defaults are kept for that field).
 * Context: any; reads the environment.
 */
int tmem_params_init_size(struct tmem_pool_params *p, size_t size);

/*
 * tmem_params_init() - tmem_params_init_size() with the caller's own
 * sizeof(*@p).  A macro, not a function, so that the size the caller was
 * built with reaches the library: a newer library never writes past an
 * older caller's struct.
 */
#define tmem_params_init(p) tmem_params_init_size((p), sizeof(*(p)))

/**
 * tmem_params_set() - set one tunable by name from a string.
 * @p:     parameters to change.
 * @name:  tunable name as in docs/tunables.md ("compressor", "pool_max", ...).
 * @value: the value; sizes accept a K/M/G/T suffix (powers of 1024, with or
 *         without "iB"), enums their names ("lz4").
 *
 * Return: 0; -ENOENT for an unknown name, or a tunable whose field lies
 * past @p->size; -EINVAL for a malformed value; -ERANGE for a value
 * outside the tunable's bounds (@p is unchanged).
 * Context: any.
 */
int tmem_params_set(struct tmem_pool_params *p, const char *name,
		    const char *value);

/**
 * tmem_parse_size() - parse a size: plain bytes or a K/M/G/T suffix
 * (powers of 1024; "K", "KB", "KiB" and lowercase forms are accepted).
 * @s:   the text.
 * @out: the size in bytes.
 *
 * Return: 0; -EINVAL if @s is not a size; -ERANGE if it overflows 64 bits.
 * Context: any.
 */
int tmem_parse_size(const char *s, uint64_t *out);

/**
 * tmem_pool_create() - create a pool.
 * @p:   parameters (from tmem_params_init()), or NULL for the defaults.
 * @out: the new pool.
 *
 * Return: 0; -EINVAL for bad parameters (a value out of bounds, or an
 * @p->size the library cannot take: see struct tmem_pool_params);
 * -EOPNOTSUPP for a pool kind not implemented yet; -ENOMEM.
 * Context: may block; allocates.
 */
int tmem_pool_create(const struct tmem_pool_params *p, struct tmem_pool **out);

/**
 * tmem_pool_set_backing() - give a persistent pool a backing file.
 * @pool: the pool; no other call may use it concurrently.
 * @path: a directory, in which an unnamed file is made (O_TMPFILE, else a
 *        file created and unlinked at once), or the path of a file that
 *        does not exist yet (created, then unlinked at once: the name only
 *        picks the file system).  The file is mode 0600 and has no name
 *        while the pool uses it, so nothing is left behind by a crash.
 *
 * From then on a put that finds the pool at @pool_max does not fail: it
 * wakes the pool's writer thread, which writes the coldest pages (a CLOCK
 * with a second chance; pages stored uncompressed go first) to the file
 * until usage is below @accept_threshold, and the put waits for room.
 * Pages go to the file still compressed, as records (key, length,
 * compressor, xxh3 checksum, bytes) packed back to back into 1 MiB
 * segments; a cleaner copies the live records of mostly dead segments
 * forward and punches the old ones out of the file.
 *
 * Reading back: a get of a written-back page reads and verifies its
 * record and decompresses it; the page stays on the file (it does not
 * come back into memory) until it is overwritten or flushed.
 *
 * Faults: a failed write (ENOSPC, EIO) loses nothing: the pages stay in
 * memory, the pool may then exceed @pool_max, the error is counted
 * (wb_write_errors) and logged once, and writeback is retried later.  A
 * get whose record cannot be read or fails verification returns -EIO.
 *
 * Return: 0; -EINVAL if @pool or @path is NULL or the pool is not
 * persistent; -EBUSY if the pool has a backing file already; -EEXIST if
 * @path names an existing file that is not a directory; -ENOSPC if the
 * file system has no room for a segment; another negative errno from
 * open(2) (-ENOENT, -EACCES, -EROFS, ...) or thread creation.
 * Context: may block; allocates; starts a thread.
 */
int tmem_pool_set_backing(struct tmem_pool *pool, const char *path);

/**
 * tmem_pool_writeback() - write back cold pages now, on the calling thread.
 * @pool:    a pool with a backing file.
 * @bytes:   write back pages until this much pool memory is freed, or no
 *           page is left in memory to write back; 0 writes back every
 *           page that is in memory.
 * @written: if not NULL, receives the number of pages written back.
 *
 * Return: 0; -EINVAL if @pool is NULL or has no backing file; the negative
 * errno of a failed write (the pages stay in memory).
 * Context: thread-safe; blocks on file I/O.
 */
int tmem_pool_writeback(struct tmem_pool *pool, uint64_t bytes,
			uint64_t *written);

/**
 * tmem_fork_prepare() - before fork(): pause writeback, copy backing files.
 *
 * A fork child gets a copy-on-write copy of every pool, but a backing file
 * is one file, which the parent goes on writing and cleaning.  A process
 * that forks while a pool has a backing file calls tmem_fork_prepare()
 * before fork(), tmem_fork_parent() in the parent and tmem_fork_child() in
 * the child after it (the three pthread_atfork() handlers; the library
 * does not register them itself, so that a caller that forks by raw
 * system calls, or holds locks of its own around fork, calls them in its
 * own order).  Prepare pauses writeback and cleaning and copies each
 * backing file's segments into a new unnamed file in the same directory
 * (copy_file_range(2): in the kernel, or a reflink where the file system
 * has them); the child gets the copy, so parent and child never write one
 * file.  Fork takes as long as that copy; a pool with nothing on file
 * copies nothing.  In the child, writeback runs on the thread that puts:
 * it has no writer thread.  Without these calls (or if the copy fails) a
 * child reads its pages on file from the parent's file, gets -EIO where
 * the parent has cleaned a segment meanwhile, and never writes back.
 * Context: may block on file I/O for as long as the copy takes.
 */
void tmem_fork_prepare(void);
/* tmem_fork_parent() - after fork(), in the parent: resume writeback. */
void tmem_fork_parent(void);
/* tmem_fork_child() - after fork(), in the child: take the copies. */
void tmem_fork_child(void);

/**
 * tmem_pool_destroy() - drop every page of @pool and free it.
 * @pool: the pool, or NULL.
 *
 * No other call may use @pool concurrently or afterwards.
 * Context: may block.
 */
void tmem_pool_destroy(struct tmem_pool *pool);

/* --------------------------------------------------------------------- */
/* Pages                                                                  */
/* --------------------------------------------------------------------- */

/**
 * tmem_put_page() - store a copy of a page under (@oid, @index).
 * @pool:  the pool.
 * @oid:   object id (any value).
 * @index: page index inside the object.
 * @page:  TMEM_PAGE_SIZE bytes to copy; any alignment.
 *
 * An existing page under the same key is replaced.  If the put fails, the
 * page previously stored under the key (if any) is left as it was.
 *
 * Return: 0; -EINVAL if @pool or @page is NULL; -ENOSPC if the pool is at
 * its limit (pool_max) - the caller keeps the page itself or writes it
 * elsewhere; -ENOMEM if memory for the page or its metadata could not be
 * had.
 * Context: thread-safe; may block briefly on internal locks; allocates.
 */
int tmem_put_page(struct tmem_pool *pool, uint64_t oid, uint32_t index,
		  const void *page);

/**
 * tmem_get_page() - copy the page stored under (@oid, @index) into @page.
 * @pool:  the pool.
 * @oid:   object id.
 * @index: page index.
 * @page:  TMEM_PAGE_SIZE bytes to fill; any alignment.
 *
 * The page stays in the pool (a persistent get is not exclusive).
 *
 * A get allocates nothing, with one exception: the first get of a thread
 * from a zstd pool creates that thread's decompression context (about
 * 100 KiB, kept until the thread exits), as the first put of a thread
 * creates its compression context.  lz4 and lzo decompress without one.
 *
 * Return: 0; -ENOENT if no page is stored under the key (@page is then
 * untouched); -EINVAL if @pool or @page is NULL; -ENOMEM if the thread's
 * decompression context could not be allocated (the page stays stored and
 * @page is untouched: try again when memory is back); -EIO if the stored
 * data failed to decompress (a bug or memory corruption; @page is
 * undefined).
 * Context: thread-safe; may block briefly on internal locks; allocates
 * only as said above.
 */
int tmem_get_page(struct tmem_pool *pool, uint64_t oid, uint32_t index,
		  void *page);

/**
 * tmem_flush_page() - drop the page stored under (@oid, @index).
 * @pool:  the pool.
 * @oid:   object id.
 * @index: page index.
 *
 * Return: 0; -ENOENT if no page was stored under the key; -EINVAL if
 * @pool is NULL.
 * Context: thread-safe; may block briefly on internal locks.
 */
int tmem_flush_page(struct tmem_pool *pool, uint64_t oid, uint32_t index);

/**
 * tmem_flush_object() - drop every page of object @oid.
 * @pool: the pool.
 * @oid:  object id.
 *
 * Return: the number of pages dropped (0 if the object had none); -EINVAL
 * if @pool is NULL.  Pages put concurrently with the flush may survive it.
 * Context: thread-safe; may block.
 */
int tmem_flush_object(struct tmem_pool *pool, uint64_t oid);

/**
 * tmem_pool_compact() - move objects out of sparsely used zspages and give
 * the emptied pages back to the operating system.
 * @pool:  the pool.
 * @freed: if not NULL, receives the number of bytes given back.
 *
 * Stored pages are unaffected; puts and gets may run concurrently.
 *
 * Return: 0; -EINVAL if @pool is NULL.
 * Context: thread-safe; may block; takes each size class's lock in turn.
 */
int tmem_pool_compact(struct tmem_pool *pool, uint64_t *freed);

/* --------------------------------------------------------------------- */
/* Statistics                                                             */
/* --------------------------------------------------------------------- */

/*
 * One versioned struct, generated from one list.  Gauges describe the pool
 * now; counters only grow.  Exactness: tmem_stats_get() reads each internal
 * shard and size class under its own lock in turn, so every field is exact
 * for that part but the total is not one atomic snapshot while other
 * threads are changing the pool.  In a quiet pool every figure is exact.
 *
 * X(name, kind, unit, description), kind being gauge or counter (a token:
 * paste it, e.g. MY_##kind, to treat the two apart).  The list is the
 * struct's layout, and callers read fields by offset, so it is
 * append-only: a new field of either kind goes at the end, and no field
 * moves or goes away.  (Version 1 kept gauges before counters, so adding a
 * gauge would have moved every counter; its offsets are unchanged.)
 */
#define TMEM_STATS_FIELDS(X)                                                   \
	X(stored_pages, gauge, pages, "pages stored now")                      \
	X(samefill_pages, gauge, pages,                                        \
	  "stored pages kept as one repeated word")                            \
	X(raw_pages, gauge, pages,                                             \
	  "stored pages kept uncompressed (poor ratio)")                       \
	X(orig_bytes, gauge, bytes, "stored_pages * page size")                \
	X(compressed_bytes, gauge, bytes, "sum of stored objects' sizes")      \
	X(pool_bytes, gauge, bytes, "memory the allocator holds from the OS")  \
	X(pool_peak_bytes, gauge, bytes, "highest pool_bytes so far")          \
	X(metadata_bytes, gauge, bytes,                                        \
	  "index, handle tables, zspage headers")                              \
	X(zspages, gauge, zspages, "zspages allocated")                        \
	X(pool_full, gauge, flag,                                              \
	  "1 while puts are refused for the pool limit")                       \
	X(puts, counter, calls, "tmem_put_page calls that stored a page")      \
	X(overwrites, counter, calls, "puts that replaced an existing page")   \
	X(samefill_puts, counter, calls, "puts of a same-filled page")         \
	X(gets, counter, calls, "tmem_get_page calls that found the page")     \
	X(get_misses, counter, calls, "tmem_get_page calls with no such page") \
	X(flushes, counter, pages, "pages dropped by flush_page/flush_object") \
	X(flush_objects, counter, calls, "tmem_flush_object calls")            \
	X(reject_pool_full, counter, calls, "puts refused: pool at its limit") \
	X(reject_alloc_fail, counter, calls, "puts refused: out of memory")    \
	X(compactions, counter, calls, "tmem_pool_compact runs")               \
	X(compacted_bytes, counter, bytes,                                     \
	  "bytes returned to the OS by compaction")                            \
	X(pool_full_events, counter, calls,                                    \
	  "times the pool reached its limit")                                  \
	X(wb_pages, gauge, pages, "pages on the backing file now")             \
	X(wb_segments, gauge, segments, "backing file segments in use")        \
	X(wb_file_bytes, gauge, bytes,                                         \
	  "bytes of records in the backing file, live and dead")               \
	X(wb_live_bytes, gauge, bytes, "bytes of records still current")       \
	X(wb_dead_bytes, gauge, bytes,                                         \
	  "bytes of overwritten or flushed records not yet cleaned")           \
	X(wb_write_amp_pct, gauge, percent,                                    \
	  "100 * wb_bytes_written / wb_payload_bytes")                         \
	X(wb_written_pages, counter, pages, "pages written back to the file")  \
	X(wb_payload_bytes, counter, bytes,                                    \
	  "record bytes written for pages written back")                       \
	X(wb_bytes_written, counter, bytes,                                    \
	  "all bytes written to the file, cleaning included")                  \
	X(wb_freed_bytes, counter, bytes,                                      \
	  "pool memory given back by writeback and the compaction after it")   \
	X(wb_read_pages, counter, pages, "gets served from the file")          \
	X(wb_read_bytes, counter, bytes,                                       \
	  "bytes read from the file by gets and the cleaner")                  \
	X(wb_cleaned_segments, counter, segments,                              \
	  "segments the cleaner emptied and freed")                            \
	X(wb_cleaner_moves, counter, pages,                                    \
	  "live records the cleaner copied forward")                           \
	X(wb_waits, counter, calls, "puts that waited for writeback")          \
	X(wb_overlimit_puts, counter, calls,                                   \
	  "puts stored above pool_max: writeback could not make room")         \
	X(wb_write_errors, counter, calls,                                     \
	  "failed writes (ENOSPC, EIO): the pages stayed in memory")           \
	X(wb_read_errors, counter, calls,                                      \
	  "gets that failed with -EIO: read error or short read")              \
	X(wb_checksum_errors, counter, calls,                                  \
	  "records that failed verification when read")

/*
 * 2: one list with a kind per field (the layout of 1 is unchanged).
 * 3: the backing file's fields (wb_*) appended.
 */
#define TMEM_STATS_VERSION 3

struct tmem_stats {
	uint32_t size; /* sizeof(struct tmem_stats) the caller was built with */
	uint32_t version; /* TMEM_STATS_VERSION of the library that filled it */
#define TMEM_STATS_FIELD_(name, kind, unit, desc) uint64_t name;
	TMEM_STATS_FIELDS(TMEM_STATS_FIELD_)
#undef TMEM_STATS_FIELD_
};

/**
 * tmem_stats_get() - read the pool's statistics.
 * @pool: the pool.
 * @st:   filled; set @st->size to sizeof(*st) first (tmem_stats_get()
 *        fills only what fits, so an older caller keeps working).
 *
 * Return: 0; -EINVAL if an argument is NULL or @st->size is too small to
 * hold the header.
 * Context: thread-safe; takes each shard's and size class's lock in turn.
 */
int tmem_stats_get(struct tmem_pool *pool, struct tmem_stats *st);

/**
 * tmem_stats_json() - render @st as one JSON object.
 * @st:  statistics from tmem_stats_get().
 * @buf: where to write (NUL-terminated when @len > 0); may be NULL if @len
 *       is 0.
 * @len: size of @buf.
 *
 * Return: the length of the whole JSON text (excluding the NUL), which may
 * exceed @len - 1: then the text was truncated, call again with more room;
 * -EINVAL if @st is NULL.
 * Context: any; no allocation.
 */
int tmem_stats_json(const struct tmem_stats *st, char *buf, size_t len);

/*
 * Per-size-class statistics of the zsmalloc allocator (zsmalloc's
 * /sys/kernel/debug/zsmalloc/<pool>/classes).
 */
struct tmem_class_stats {
	uint32_t size; /* sizeof(struct tmem_class_stats) */
	uint32_t obj_size; /* bytes per object slot in this class */
	uint32_t pages_per_zspage; /* of a grown class; its first zspages */
	uint32_t objs_per_zspage; /* may be shorter (see docs/design.md) */
	uint64_t zspages; /* zspages allocated */
	uint64_t objs_inuse; /* live objects */
	uint64_t objs_capacity; /* slots in all its zspages */
	uint64_t used_bytes; /* sum of live objects' exact sizes */
	uint64_t pages; /* pages held by this class's zspages */
};

/**
 * tmem_class_stats_get() - statistics of size class @idx.
 * @pool: the pool.
 * @idx:  class number, 0 .. tmem_class_count() - 1.
 * @cs:   filled; set @cs->size first, as for tmem_stats_get().
 *
 * Return: 0; -EINVAL for a NULL argument or @cs->size too small; -ENOENT
 * if @idx is past the last class.  Classes are listed in increasing
 * obj_size; a class that merged into a larger one is not listed.
 * Context: thread-safe; takes that class's lock.
 */
int tmem_class_stats_get(struct tmem_pool *pool, unsigned idx,
			 struct tmem_class_stats *cs);

/* --------------------------------------------------------------------- */
/* Tunables                                                               */
/* --------------------------------------------------------------------- */

/* What a tunable's value means; see struct tmem_option_info. */
enum tmem_option_type {
	TMEM_OPT_SIZE = 0, /* bytes, with K/M/G/T suffixes */
	TMEM_OPT_UINT = 1, /* a plain unsigned number */
	TMEM_OPT_INT = 2, /* a signed number */
	TMEM_OPT_ENUM = 3, /* one of the names in choices */
};

/*
 * One row of the tunables table (lib/options.c), the single source for
 * the environment variables, the CLI flags, struct tmem_pool_params and
 * docs/tunables.md.
 */
struct tmem_option_info {
	const char *name; /* "pool_max"; env TMEM_POOL_MAX; flag --pool-max */
	const char *env; /* "TMEM_POOL_MAX" */
	const char *unit; /* "bytes", "percent", ... */
	const char *help; /* one line */
	const char *choices; /* for TMEM_OPT_ENUM: "lz4|zstd|lzo" */
	enum tmem_option_type type;
	int64_t def; /* default (enum: the index in choices) */
	int64_t min; /* bounds, inclusive */
	int64_t max;
};

/**
 * tmem_option_info() - row @i of the tunables table.
 * @i: 0, 1, ... until NULL is returned.
 *
 * Return: the row, or NULL past the end.
 * Context: any.
 */
const struct tmem_option_info *tmem_option_info(unsigned i);

/**
 * tmem_compressor_name() - "lz4", "zstd" or "lzo" for @c.
 * @c: enum tmem_compressor.
 *
 * Return: the name, or NULL for an unknown value.
 * Context: any.
 */
const char *tmem_compressor_name(unsigned c);

#ifdef TMEM_EXPERIMENTAL
/*
 * Unstable calls: may change or go in any release.  Define
 * TMEM_EXPERIMENTAL before including this header to use them.
 */

/**
 * tmem_compress_page() - compress one page with @c, as the pool would.
 * @c:     enum tmem_compressor.
 * @level: zstd level (ignored by the others).
 * @page:  TMEM_PAGE_SIZE bytes.
 * @dst:   output buffer.
 * @cap:   its size.
 *
 * Uses the calling thread's compressor context.  This is the raw compressor
 * path that benchmarks compare the pool against.
 *
 * Return: the compressed size (> 0); -ENOSPC if it does not fit in @cap;
 * -EINVAL for a bad argument; -ENOMEM if no context could be made.
 * Context: thread-safe.
 */
int tmem_compress_page(unsigned c, int level, const void *page, void *dst,
		       size_t cap);

/**
 * tmem_decompress_page() - decompress @len bytes made by
 * tmem_compress_page() with the same @c into one page.
 *
 * Return: 0; -EIO if the data is not a valid compressed page; -EINVAL for
 * a bad argument; -ENOMEM if no context could be made.
 * Context: thread-safe.
 */
int tmem_decompress_page(unsigned c, const void *src, size_t len, void *page);

/**
 * tmem_pool_backing_fd() - the descriptor of @pool's backing file, for a
 * caller that must keep it from being closed (tmem run's shim guards it
 * against a program's close_range()).
 *
 * Return: the descriptor; -ENOENT if @pool is NULL or has no backing file.
 * Context: any.
 */
int tmem_pool_backing_fd(struct tmem_pool *pool);

/**
 * tmem_page_is_samefilled() - whether @page is one 64-bit word repeated.
 * @page: TMEM_PAGE_SIZE bytes, 8-byte aligned or not.
 * @word: if not NULL and the page is same-filled, receives the word.
 *
 * Return: 1 if same-filled, 0 if not.
 * Context: any.
 */
int tmem_page_is_samefilled(const void *page, uint64_t *word);
#endif /* TMEM_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif

#endif /* TMEM_H */
