// SPDX-License-Identifier: MIT
/*
 * index.c - the object/page index: key (oid, index) -> slot.
 *
 * Shape.  Keys are grouped in leaves of IDX_LEAF_SLOTS consecutive page
 * indexes of one object; a leaf is found by hashing (oid, index >> 6).
 * The hash also picks one of 64 shards, each with its own mutex, leaf
 * hash table, object table and fill table.  Why:
 *  - Real users store runs of pages (a region of a program, a swap area,
 *    a file), so one 8-byte slot per page plus a 40-byte leaf header per
 *    64 pages costs ~8.7 bytes per page, within the 24-byte metadata
 *    budget with room for the allocator's handle table.
 *  - Sharding by leaf rather than by object spreads even a single huge
 *    object (one program region) over all shards, so two threads putting
 *    pages of one object rarely meet on a lock.  No lock is global.
 *  - flush_object must not scan the world: each shard keeps, per object,
 *    a list of that object's leaves in the shard (struct idx_obj), so a
 *    flush costs 64 lookups plus the object's own leaves.
 * What it gives up: a lone page of a sparse object costs a whole leaf
 * (~570 bytes); the ephemeral side (cleancache-like use, many small files)
 * may want smaller leaves later.
 *
 * Invariants (under the shard lock):
 *  - a leaf exists iff it holds at least one non-empty slot (used > 0);
 *  - an idx_obj exists iff its leaf list is non-empty;
 *  - every fill-table fid referenced by a slot is live, exactly once.
 * Lock order: shard lock -> (caller) allocator class lock.  The index
 * itself takes no other lock; accounting is atomic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "zalloc.h"

struct idx_leaf {
	uint64_t oid;
	uint32_t base; /* index >> IDX_LEAF_SHIFT */
	uint32_t used; /* non-empty slots */
	struct idx_leaf *hnext; /* hash chain */
	struct idx_leaf *onext, *oprev; /* the object's leaves, this shard */
	uint64_t ref; /* CLOCK reference bits, one per slot */
	uint64_t slot[IDX_LEAF_SLOTS];
};

struct idx_obj {
	uint64_t oid;
	struct idx_obj *next; /* hash chain */
	struct idx_leaf *leaves;
};

#define IDX_MIN_BUCKETS 4u /* per table; grown at load factor 1 */

static uint64_t mix(uint64_t x)
{
	/* A 64-bit finaliser (murmur3 fmix64): spreads sequential keys. */
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t leaf_hash(uint64_t oid, uint32_t base)
{
	return mix(oid * 0x9e3779b97f4a7c15ULL + base);
}

int idx_create(struct tm_acct *acct, struct tm_index **out)
{
	struct tm_index *ix;
	unsigned i;

	/* Shards are cache-line aligned so two threads never share a line. */
	ix = aligned_alloc(TM_CACHELINE, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	memset(ix, 0, sizeof(*ix));
	ix->acct = acct;
	atomic_fetch_add_explicit(&acct->meta_bytes, sizeof(*ix),
				  memory_order_relaxed);
	for (i = 0; i < TM_ARRAY_SIZE(ix->shards); i++) {
		pthread_mutex_init(&ix->shards[i].lock, NULL);
		ix->shards[i].acct = acct;
	}
	*out = ix;
	return 0;
}

void idx_destroy(struct tm_index *ix)
{
	unsigned i;

	if (!ix)
		return;
	for (i = 0; i < TM_ARRAY_SIZE(ix->shards); i++) {
		struct idx_shard *s = &ix->shards[i];
		uint32_t b;

		for (b = 0; s->leaf_buckets && b <= s->leaf_mask; b++) {
			struct idx_leaf *l = s->leaf_buckets[b], *n;

			for (; l; l = n) {
				n = l->hnext;
				tm_free(ix->acct, l);
			}
		}
		for (b = 0; s->obj_buckets && b <= s->obj_mask; b++) {
			struct idx_obj *o = s->obj_buckets[b], *n;

			for (; o; o = n) {
				n = o->next;
				tm_free(ix->acct, o);
			}
		}
		tm_free(ix->acct, s->leaf_buckets);
		tm_free(ix->acct, s->obj_buckets);
		tm_free(ix->acct, s->fills);
		pthread_mutex_destroy(&s->lock);
	}
	atomic_fetch_sub_explicit(&ix->acct->meta_bytes, sizeof(*ix),
				  memory_order_relaxed);
	free(ix);
}

struct idx_shard *idx_shard_of(struct tm_index *ix, uint64_t oid,
			       uint32_t index)
{
	uint64_t h = leaf_hash(oid, index >> IDX_LEAF_SHIFT);

	return &ix->shards[h >> (64 - IDX_SHARD_BITS)];
}

void idx_lock(struct idx_shard *s)
{
	pthread_mutex_lock(&s->lock);
}

void idx_unlock(struct idx_shard *s)
{
	pthread_mutex_unlock(&s->lock);
}

/* ---- hash tables ----------------------------------------------------- */

/*
 * Double a chained table.  On allocation failure the old table is kept:
 * a long chain is slow, not wrong.
 */
static void grow_leaf_table(struct idx_shard *s)
{
	uint32_t nb =
		s->leaf_buckets ? (s->leaf_mask + 1) * 2 : IDX_MIN_BUCKETS;
	struct idx_leaf **t = tm_zalloc(s->acct, nb * sizeof(*t));
	uint32_t b;

	if (!t)
		return;
	for (b = 0; s->leaf_buckets && b <= s->leaf_mask; b++) {
		struct idx_leaf *l = s->leaf_buckets[b], *n;

		for (; l; l = n) {
			uint64_t h = leaf_hash(l->oid, l->base);

			n = l->hnext;
			l->hnext = t[h & (nb - 1)];
			t[h & (nb - 1)] = l;
		}
	}
	tm_free(s->acct, s->leaf_buckets);
	s->leaf_buckets = t;
	s->leaf_mask = nb - 1;
}

static void grow_obj_table(struct idx_shard *s)
{
	uint32_t nb = s->obj_buckets ? (s->obj_mask + 1) * 2 : IDX_MIN_BUCKETS;
	struct idx_obj **t = tm_zalloc(s->acct, nb * sizeof(*t));
	uint32_t b;

	if (!t)
		return;
	for (b = 0; s->obj_buckets && b <= s->obj_mask; b++) {
		struct idx_obj *o = s->obj_buckets[b], *n;

		for (; o; o = n) {
			n = o->next;
			o->next = t[mix(o->oid) & (nb - 1)];
			t[mix(o->oid) & (nb - 1)] = o;
		}
	}
	tm_free(s->acct, s->obj_buckets);
	s->obj_buckets = t;
	s->obj_mask = nb - 1;
}

static struct idx_leaf *find_leaf(struct idx_shard *s, uint64_t oid,
				  uint32_t base)
{
	struct idx_leaf *l;

	if (!s->leaf_buckets)
		return NULL;
	l = s->leaf_buckets[leaf_hash(oid, base) & s->leaf_mask];
	while (l && (l->oid != oid || l->base != base))
		l = l->hnext;
	return l;
}

static struct idx_obj **find_obj(struct idx_shard *s, uint64_t oid)
{
	struct idx_obj **pp;

	if (!s->obj_buckets)
		return NULL;
	pp = &s->obj_buckets[mix(oid) & s->obj_mask];
	while (*pp && (*pp)->oid != oid)
		pp = &(*pp)->next;
	return *pp ? pp : NULL;
}

/* Find or make the leaf for (oid, base); NULL only when out of memory. */
static struct idx_leaf *get_leaf(struct idx_shard *s, uint64_t oid,
				 uint32_t base)
{
	struct idx_leaf *l = find_leaf(s, oid, base);
	struct idx_obj **op, *o;
	uint64_t h;

	if (l)
		return l;
	if (s->nleaves >= (uint64_t)s->leaf_mask + 1 || !s->leaf_buckets)
		grow_leaf_table(s);
	if (s->nobjs >= (uint64_t)s->obj_mask + 1 || !s->obj_buckets)
		grow_obj_table(s);
	if (!s->leaf_buckets || !s->obj_buckets)
		return NULL;

	l = tm_alloc(s->acct, sizeof(*l));
	if (!l)
		return NULL;
	op = find_obj(s, oid);
	if (op) {
		o = *op;
	} else {
		o = tm_alloc(s->acct, sizeof(*o));
		if (!o) {
			tm_free(s->acct, l);
			return NULL;
		}
		o->oid = oid;
		o->leaves = NULL;
		o->next = s->obj_buckets[mix(oid) & s->obj_mask];
		s->obj_buckets[mix(oid) & s->obj_mask] = o;
		s->nobjs++;
	}
	memset(l, 0, sizeof(*l));
	l->oid = oid;
	l->base = base;
	h = leaf_hash(oid, base);
	l->hnext = s->leaf_buckets[h & s->leaf_mask];
	s->leaf_buckets[h & s->leaf_mask] = l;
	s->nleaves++;
	l->onext = o->leaves;
	if (o->leaves)
		o->leaves->oprev = l;
	o->leaves = l;
	return l;
}

/* Unlink an emptied leaf from both lists and free it (and its object). */
static void put_leaf(struct idx_shard *s, struct idx_leaf *l)
{
	struct idx_leaf **pp =
		&s->leaf_buckets[leaf_hash(l->oid, l->base) & s->leaf_mask];
	struct idx_obj **op;

	tm_assert_internal(l->used == 0);
	while (*pp != l)
		pp = &(*pp)->hnext;
	*pp = l->hnext;
	s->nleaves--;

	if (l->oprev) {
		l->oprev->onext = l->onext;
	} else {
		op = find_obj(s, l->oid);
		tm_assert_internal(op && (*op)->leaves == l);
		(*op)->leaves = l->onext;
		if (!l->onext) {
			struct idx_obj *o = *op;

			*op = o->next;
			s->nobjs--;
			tm_free(s->acct, o);
		}
	}
	if (l->onext)
		l->onext->oprev = l->oprev;
	tm_free(s->acct, l);
}

/* ---- fill table ------------------------------------------------------ */

/*
 * Same-filled pages other than zero pages are rare but must keep their
 * whole 64-bit word; a per-shard table of words (fid 1..) holds them, with
 * freed entries chained through the words themselves.
 */
static int fill_alloc(struct idx_shard *s, uint64_t word, uint32_t *fid)
{
	uint32_t f;

	if (s->fill_free) {
		f = s->fill_free;
		s->fill_free = (uint32_t)s->fills[f];
	} else {
		if (s->nfills + 1 >= s->fills_cap) {
			uint32_t cap = s->fills_cap ? s->fills_cap * 2 : 8;
			uint64_t *t;

			if (cap > (UINT32_MAX >> 2))
				return -ENOMEM;
			t = tm_realloc(s->acct, s->fills, cap * sizeof(*t));
			if (!t)
				return -ENOMEM;
			s->fills = t;
			s->fills_cap = cap;
		}
		f = ++s->nfills; /* fid 0 means the zero word */
	}
	s->fills[f] = word;
	*fid = f;
	return 0;
}

static void fill_release(struct idx_shard *s, uint64_t slot)
{
	uint32_t f = (uint32_t)(slot >> 2);

	if (f) {
		s->fills[f] = s->fill_free;
		s->fill_free = f;
	}
}

/* ---- slots ----------------------------------------------------------- */

/* Decode @slot; a fill word is read from the shard's table. */
static void decode(struct idx_shard *s, uint64_t slot, struct idx_ref *ref)
{
	uint64_t v = (slot & ~SLOT_PENDING) >> 2;

	ref->kind = IDX_EMPTY;
	ref->handle = 0;
	ref->word = 0;
	ref->loc = 0;
	ref->slot = slot;
	switch (slot & SLOT_TAG_MASK) {
	case SLOT_HANDLE:
		ref->kind = IDX_HANDLE;
		ref->handle = v;
		break;
	case SLOT_FILL:
		ref->kind = IDX_FILL;
		ref->word = v ? s->fills[v] : 0;
		break;
	case SLOT_FILE:
		ref->kind = IDX_FILE;
		ref->loc = v;
		break;
	default:
		tm_assert_internal(slot == 0);
		break;
	}
}

static void lookup(struct idx_shard *s, uint64_t oid, uint32_t index,
		   struct idx_ref *ref, int use)
{
	struct idx_leaf *l = find_leaf(s, oid, index >> IDX_LEAF_SHIFT);
	unsigned i = index & (IDX_LEAF_SLOTS - 1);

	decode(s, l ? l->slot[i] : 0, ref);
	if (l && use)
		l->ref |= 1ull << i;
}

void idx_lookup(struct idx_shard *s, uint64_t oid, uint32_t index,
		struct idx_ref *ref)
{
	lookup(s, oid, index, ref, 1);
}

void idx_peek(struct idx_shard *s, uint64_t oid, uint32_t index,
	      struct idx_ref *ref)
{
	lookup(s, oid, index, ref, 0);
}

/* Decode a slot that is going away; its fill entry is released. */
static void decode_old(struct idx_shard *s, uint64_t slot, struct idx_ref *old)
{
	decode(s, slot, old);
	if (old->kind == IDX_FILL)
		fill_release(s, slot);
}

static int store_slot(struct idx_shard *s, uint64_t oid, uint32_t index,
		      uint64_t slot, int hot, struct idx_ref *old)
{
	struct idx_leaf *l = get_leaf(s, oid, index >> IDX_LEAF_SHIFT);
	unsigned i = index & (IDX_LEAF_SLOTS - 1);
	uint64_t prev;

	if (!l)
		return -ENOMEM;
	prev = l->slot[i];
	l->slot[i] = slot;
	if (hot)
		l->ref |= 1ull << i;
	else
		l->ref &= ~(1ull << i);
	if (!prev)
		l->used++;
	decode_old(s, prev, old);
	return 0;
}

int idx_store_handle(struct idx_shard *s, uint64_t oid, uint32_t index,
		     uint64_t handle, int hot, struct idx_ref *old)
{
	tm_assert(handle && handle >> ZALLOC_HANDLE_BITS == 0);
	return store_slot(s, oid, index, handle << 2 | SLOT_HANDLE, hot, old);
}

int idx_replace_if(struct idx_shard *s, uint64_t oid, uint32_t index,
		   uint64_t expect, uint64_t slot, struct idx_ref *old)
{
	struct idx_leaf *l = find_leaf(s, oid, index >> IDX_LEAF_SHIFT);
	unsigned i = index & (IDX_LEAF_SLOTS - 1);

	tm_assert(expect && slot);
	if (!l || l->slot[i] != expect)
		return -ESTALE;
	l->slot[i] = slot;
	decode_old(s, expect, old);
	return 0;
}

int idx_clock(struct idx_shard *s, unsigned buckets, unsigned kinds,
	      int (*fn)(void *arg, uint64_t oid, uint32_t index, uint64_t slot),
	      void *arg)
{
	int taken = 0;

	if (!s->leaf_buckets || !s->nleaves)
		return 0;
	if (buckets > s->leaf_mask + 1)
		buckets = s->leaf_mask + 1; /* one turn at most */
	for (; buckets; buckets--) {
		struct idx_leaf *l;

		s->hand &= s->leaf_mask; /* the table may have grown */
		for (l = s->leaf_buckets[s->hand]; l; l = l->hnext) {
			for (unsigned i = 0; i < IDX_LEAF_SLOTS; i++) {
				uint64_t bit = 1ull << i, v = l->slot[i];
				int r;

				/* Pending: taken already, by this pass. */
				if (!(kinds & 1u << (v & SLOT_TAG_MASK)) ||
				    !v || (v & SLOT_PENDING))
					continue;
				if (l->ref & bit) {
					l->ref &= ~bit;
					continue;
				}
				r = fn(arg, l->oid,
				       l->base << IDX_LEAF_SHIFT | i, v);
				if (r < 0)
					return -1;
				if (r > 0) {
					l->slot[i] = v | SLOT_PENDING;
					taken++;
				}
			}
		}
		s->hand++;
	}
	return taken;
}

int idx_store_fill(struct idx_shard *s, uint64_t oid, uint32_t index,
		   uint64_t word, struct idx_ref *old)
{
	uint32_t fid = 0;
	int ret;

	if (word) {
		ret = fill_alloc(s, word, &fid);
		if (ret)
			return ret;
	}
	ret = store_slot(s, oid, index, (uint64_t)fid << 2 | SLOT_FILL, 0, old);
	if (ret < 0)
		fill_release(s, (uint64_t)fid << 2);
	return ret;
}

int idx_remove(struct idx_shard *s, uint64_t oid, uint32_t index,
	       struct idx_ref *old)
{
	struct idx_leaf *l = find_leaf(s, oid, index >> IDX_LEAF_SHIFT);
	uint64_t slot;

	if (!l || !l->slot[index & (IDX_LEAF_SLOTS - 1)]) {
		decode(s, 0, old);
		return -ENOENT;
	}
	slot = l->slot[index & (IDX_LEAF_SLOTS - 1)];
	l->slot[index & (IDX_LEAF_SLOTS - 1)] = 0;
	decode_old(s, slot, old);
	if (--l->used == 0)
		put_leaf(s, l);
	return 0;
}

struct idx_leaf *idx_detach_object(struct idx_shard *s, uint64_t oid,
				   uint64_t *pages, uint64_t *fills,
				   uint64_t *files)
{
	struct idx_obj **op = find_obj(s, oid), *o;
	struct idx_leaf *l, *list;
	unsigned i;

	if (!op)
		return NULL;
	o = *op;
	list = o->leaves;
	*op = o->next;
	s->nobjs--;
	tm_free(s->acct, o);

	for (l = list; l; l = l->onext) {
		struct idx_leaf **pp =
			&s->leaf_buckets[leaf_hash(l->oid, l->base) &
					 s->leaf_mask];

		while (*pp != l)
			pp = &(*pp)->hnext;
		*pp = l->hnext;
		s->nleaves--;
		*pages += l->used;
		/* Fill entries live in the shard: release them now. */
		for (i = 0; i < IDX_LEAF_SLOTS; i++) {
			if ((l->slot[i] & SLOT_TAG_MASK) == SLOT_FILL) {
				fill_release(s, l->slot[i]);
				(*fills)++;
				l->slot[i] = 0;
			} else if ((l->slot[i] & SLOT_TAG_MASK) == SLOT_FILE) {
				(*files)++;
			}
		}
	}
	return list;
}

void idx_leaves_release(struct tm_index *ix, struct idx_leaf *list,
			void (*fn)(void *arg, uint64_t slot), void *arg)
{
	struct idx_leaf *l, *n;
	unsigned i;

	for (l = list; l; l = n) {
		n = l->onext;
		for (i = 0; i < IDX_LEAF_SLOTS; i++)
			if (l->slot[i])
				fn(arg, l->slot[i]);
		tm_free(ix->acct, l);
	}
}
