/* SPDX-License-Identifier: MIT */
/*
 * backing.h - the writeback tier (lib/backing.c): a pool's coldest zpages
 * written, still compressed, to a log-structured backing file.
 *
 * A page on file is a record: a 32-byte header (magic, key, length,
 * compressor, xxh3 checksum of header and bytes) and the zpage's bytes,
 * packed back to back into WB_SEG_SIZE segments; a record never straddles
 * two segments.  The index slot of such a page holds its location, loc =
 * offset << 12 | (bytes - 1), tagged SLOT_FILE (lib/index.h).
 *
 * Lock order: wb lock (one writeback or cleaning pass at a time) ->
 * index shard -> size class -> page allocator.  The wait lock (puts that
 * wait for room, the writer's wake-ups) is a leaf: nothing is taken under
 * it.  No shard lock is ever held across file I/O.
 */
#ifndef TMEM_BACKING_H
#define TMEM_BACKING_H

#include <stdint.h>

#include "internal.h"

#define WB_SEG_SHIFT 20
#define WB_SEG_SIZE (1u << WB_SEG_SHIFT) /* 1 MiB segments */
#define WB_REC_HDR 32u /* record header bytes */
#define WB_BATCH (256u << 10) /* bytes written per batch: the in-flight bound */

struct tmem_pool;
struct tm_backing;

static inline uint64_t wb_loc(uint64_t off, uint32_t len)
{
	return off << 12 | (len - 1);
}
static inline uint64_t wb_loc_off(uint64_t loc)
{
	return loc >> 12;
}
static inline uint32_t wb_loc_len(uint64_t loc)
{
	return (uint32_t)(loc & 4095) + 1;
}

/* tmem_pool_set_backing() does the checks; this opens and starts. */
int wb_open(struct tmem_pool *pool, const char *path, struct tm_backing **out);
/* Stops the writer and closes the file; accepts NULL. */
void wb_close(struct tm_backing *b);

/*
 * The put path found the pool full: wake the writer and wait until usage
 * is below the accept threshold.  Return 0 when there is room, or
 * -ENOSPC when writeback could not make it (nothing left to write back,
 * or the file failing): the caller then stores above the limit.
 */
int wb_make_room(struct tm_backing *b);

/*
 * Called with the key's shard locked, for a slot that points at the file:
 * pins the record's segment so that the cleaner cannot free or reuse it.
 * wb_read() unpins it.
 */
void wb_pin(struct tm_backing *b, uint64_t loc);
/*
 * Read the record at @loc (pinned by wb_pin(), no lock held), verify it
 * is the page of (@oid, @index), decompress it into @page.  Return 0,
 * -EIO (read error, short read, failed verification), or -ENOMEM (the
 * thread's decompression context).
 */
int wb_read(struct tm_backing *b, uint64_t loc, uint64_t oid, uint32_t index,
	    void *page);
/* A slot that pointed at @loc was overwritten or flushed. */
void wb_release(struct tm_backing *b, uint64_t loc);

/*
 * tmem_pool_writeback(): write back on the calling thread until @bytes of
 * pool memory are freed (0: every page in memory).
 */
int wb_writeback_now(struct tm_backing *b, uint64_t bytes, uint64_t *written);

/* Fill the wb_* fields of @st. */
void wb_stats(struct tm_backing *b, struct tmem_stats *st);

#endif /* TMEM_BACKING_H */
