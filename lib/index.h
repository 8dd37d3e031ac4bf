/* SPDX-License-Identifier: MIT */
/*
 * index.h - the object/page index (lib/index.c): key (oid, index) -> slot.
 *
 * A slot is one 64-bit word, tagged in its low 2 bits:
 *   0                   empty
 *   (handle << 2) | 1   an allocator handle (zpage in the allocator)
 *   (fid << 2) | 2      a same-filled page: fid 0 is the zero word, other
 *                       fids name a word in the shard's fill table
 *   (loc << 2) | 3      a record in the backing file (lib/backing.h
 *                       encodes loc: offset and length)
 * and bit 63 (SLOT_PENDING) is set while writeback or the cleaner copies
 * the slot's bytes to the file: the copier commits (points the slot at
 * the new record) only if the slot still holds exactly the word it
 * marked.  Every store and remove writes a word without the bit, so an
 * overwrite or flush during the copy, even one that reuses the same
 * handle, makes the commit fail instead of pointing the key at stale
 * bytes.  Readers ignore the bit.
 *
 * Each leaf keeps one reference bit per slot for the CLOCK that picks
 * pages to write back: set when a page is stored compressed or read,
 * cleared as the hand passes (a second chance).
 *
 * The index owns fill-table entries: it frees them itself when a slot is
 * replaced or removed.  It hands allocator handles and file locations
 * back to the caller, who releases them after dropping the shard lock
 * (lock order: shard -> class; the allocator's free takes the class
 * lock).
 */
#ifndef TMEM_INDEX_H
#define TMEM_INDEX_H

#include <pthread.h>
#include <stdint.h>

#include "internal.h"

#define IDX_LEAF_SHIFT 6
#define IDX_LEAF_SLOTS (1u << IDX_LEAF_SHIFT) /* 64 slots: 512 B per leaf */
#define IDX_SHARD_BITS 6 /* 64 shards: see index.c on why */

#define SLOT_TAG_MASK 3u
#define SLOT_HANDLE 1u
#define SLOT_FILL 2u
#define SLOT_FILE 3u
#define SLOT_PENDING (1ull << 63)

struct idx_leaf;
struct idx_obj;

/*
 * Per-shard counters of the store, updated under the shard lock, summed
 * by tmem_stats_get(): no shared cache line is written per put or get.
 */
struct idx_counters {
	uint64_t stored_pages;
	uint64_t samefill_pages;
	uint64_t puts;
	uint64_t overwrites;
	uint64_t samefill_puts;
	uint64_t gets;
	uint64_t get_misses;
	uint64_t flushes;
	uint64_t file_pages; /* slots pointing at the backing file */
	uint64_t file_reads; /* gets served from the file */
};

struct idx_shard {
	pthread_mutex_t lock;
	struct idx_leaf **leaf_buckets; /* key (oid, index >> LEAF_SHIFT) */
	uint32_t leaf_mask;
	uint64_t nleaves;
	struct idx_obj **obj_buckets; /* key oid: this shard's part of it */
	uint32_t obj_mask;
	uint64_t nobjs;
	uint64_t *fills; /* fill words; free entries chain through them */
	uint32_t nfills; /* entries in use or on the free list */
	uint32_t fills_cap;
	uint32_t fill_free; /* head of the free list, 0 = empty */
	uint32_t hand; /* CLOCK: the next leaf bucket to visit */
	struct idx_counters c;
	struct tm_acct *acct;
} __attribute__((aligned(TM_CACHELINE)));

struct tm_index {
	struct tm_acct *acct;
	struct idx_shard shards[1u << IDX_SHARD_BITS];
};

/* What a slot holds, decoded. */
enum idx_kind { IDX_EMPTY = 0, IDX_HANDLE, IDX_FILL, IDX_FILE };
struct idx_ref {
	enum idx_kind kind;
	uint64_t handle; /* IDX_HANDLE */
	uint64_t word; /* IDX_FILL */
	uint64_t loc; /* IDX_FILE */
	uint64_t slot; /* the raw word, SLOT_PENDING included */
};

int idx_create(struct tm_acct *acct, struct tm_index **out);
/* Frees the index itself; the caller has dropped every handle already. */
void idx_destroy(struct tm_index *ix);

/* The shard a key lives in; lock it before any call below. */
struct idx_shard *idx_shard_of(struct tm_index *ix, uint64_t oid,
			       uint32_t index);
void idx_lock(struct idx_shard *s);
void idx_unlock(struct idx_shard *s);

/*
 * Decode the slot of a key.  idx_lookup() counts as a use for the CLOCK
 * (a get); idx_peek() does not (writeback and cleaning look too).
 */
void idx_lookup(struct idx_shard *s, uint64_t oid, uint32_t index,
		struct idx_ref *ref);
void idx_peek(struct idx_shard *s, uint64_t oid, uint32_t index,
	      struct idx_ref *ref);

/*
 * Store @handle (or the same-filled @word) under a key.  *@old receives
 * what the key held before: IDX_EMPTY, IDX_FILL (the index has released
 * the fill entry itself) or IDX_HANDLE (the caller must free old->handle,
 * after unlocking).  Return 0, or -ENOMEM if a leaf or fill entry could
 * not be allocated (nothing changed).
 */
int idx_store_handle(struct idx_shard *s, uint64_t oid, uint32_t index,
		     uint64_t handle, int hot, struct idx_ref *old);
int idx_store_fill(struct idx_shard *s, uint64_t oid, uint32_t index,
		   uint64_t word, struct idx_ref *old);

/*
 * Remove a key; *@old as for idx_store_handle().  Return 0, or -ENOENT if
 * the key held nothing.
 */
int idx_remove(struct idx_shard *s, uint64_t oid, uint32_t index,
	       struct idx_ref *old);

/*
 * Writeback's commit: if the key's slot is exactly @expect (SLOT_PENDING
 * included), make it @slot and return 0 with *@old decoded from @expect;
 * else change nothing and return -ESTALE.
 */
int idx_replace_if(struct idx_shard *s, uint64_t oid, uint32_t index,
		   uint64_t expect, uint64_t slot, struct idx_ref *old);

/*
 * The CLOCK hand: visit up to @buckets leaf buckets of shard @s (locked)
 * from where the hand stopped.  A slot of a kind in @kinds (a bit mask of
 * 1 << SLOT_tag) with its reference bit set loses the bit; one without is
 * offered to @fn, which returns 1 to take it (the slot gets SLOT_PENDING),
 * 0 to pass, or -1 to stop (the hand stays on that leaf's bucket).  Slots
 * marked SLOT_PENDING are skipped: whoever marked them must commit or
 * unmark them.  One call visits each bucket at most once.
 * Return the number of slots taken, or -1 if @fn stopped the walk.
 */
int idx_clock(struct idx_shard *s, unsigned buckets, unsigned kinds,
	      int (*fn)(void *arg, uint64_t oid, uint32_t index, uint64_t slot),
	      void *arg);

/*
 * Take every leaf of @oid out of shard @s (locked), releasing fill
 * entries; adds the pages to *@pages, the same-filled ones to *@fills and
 * those on the backing file to *@files.
 * Returns the detached leaves for idx_leaves_release(), to be called
 * after unlocking.
 */
struct idx_leaf *idx_detach_object(struct idx_shard *s, uint64_t oid,
				   uint64_t *pages, uint64_t *fills,
				   uint64_t *files);
/*
 * Call @fn on every allocator handle and file slot in the detached @list
 * (with the raw slot word), then free the leaves.  No lock needed: the
 * leaves are no longer reachable.
 */
void idx_leaves_release(struct tm_index *ix, struct idx_leaf *list,
			void (*fn)(void *arg, uint64_t slot), void *arg);

#endif /* TMEM_INDEX_H */
