// SPDX-License-Identifier: MIT
/*
 * zsmalloc.c - the dense allocator for zpages: size classes, multi-page
 * zspages, handles that survive compaction.
 *
 * Layout.  Objects are rounded up to size classes 16 bytes apart (32 ..
 * 4096).  A class keeps its objects in zspages: runs of 1..ZS_MAX_PAGES
 * contiguous pages cut into equal slots.  Each class picks the zspage
 * length that wastes the least of the run's tail (the kernel's
 * get_pages_per_zspage), and adjacent classes that end up with the same
 * shape are merged into the larger, which leaves fewer half-filled
 * zspages.  A zspage is virtually contiguous (lib/pagealloc.c), so an
 * object may straddle a page boundary and is still plain bytes: map is a
 * pointer computation, not the kernel's copy into a per-CPU buffer.
 *
 * Handles.  Each class has a handle table; an entry packs the object's
 * zspage (index in the class's zspage table), its slot and its exact size.
 * The handle names the entry, not the bytes, so compaction can move an
 * object by rewriting the entry, and nobody else has to store the size.
 * Free slots are chained through their own first two bytes; free handle
 * entries and zspage-table entries are chained through themselves.  So
 * the metadata per object is one 8-byte entry plus its share of a ~40
 * byte zspage header.
 *
 * Filling.  A store takes a slot from the fullest non-full zspage
 * (fullness groups, as the kernel's ZS_ALMOST_FULL...), so partial
 * zspages fill up and sparse ones drain; a zspage whose last object is
 * freed goes back to the OS at once.  compact() moves the objects of the
 * sparsest zspages into the fullest, so the sparse ones empty.  evict()
 * empties whole zspages through a callback (seed 002's request); unused,
 * and unfit for writeback as it is (docs/design.md says why).
 *
 * Locking.  One reader-writer lock per class: map..unmap holds it shared
 * (readers decompress straight from the slot), store/free/compact/evict
 * hold it exclusive.  Nothing is global; the page allocator's mutex is
 * taken inside a class lock only to get or return a zspage's pages.
 * Lock order: class -> page allocator.
 *
 * Invariants (under the class lock): a zspage is linked in the group list
 * of its fullness iff it is not full; inuse == slots not on its free list;
 * every live handle entry names a live slot of a live zspage, and every
 * live slot is named by exactly one live entry.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pagealloc.h"
#include "zalloc.h"

#define ZS_MIN_SIZE                                                            \
	32u /* a free slot holds its link; a zpage is rarely smaller */
#define ZS_STEP 16u /* class spacing: 8 bytes of waste per object on average */
#define ZS_NR_SIZES ((TM_PAGE_SIZE - ZS_MIN_SIZE) / ZS_STEP + 1)
#define ZS_GROUPS 4 /* fullness groups of non-full zspages: inuse*4/objs */
#define ZS_FULL 0xff /* group of a full zspage (on no list) */
#define ZS_SMALL_ZSPAGES 8 /* a class's first zspages use the small layout */
#define ZS_SMALL_USAGE 90 /* percent of a small zspage its slots must use */
#define ZS_NO_SLOT 0xffffu
#define ZS_NIL 0xffffffffu /* no zspage */
#define ZS_CLASS_SHIFT 40 /* handle = (class + 1) << 40 | entry */
#define ZS_TABLE_MIN 4u /* first table size: a pool has ~120 classes */
#define ZS_TABLE_STEP 4096u /* most entries one growth adds (32 KiB) */

_Static_assert(ZS_NR_SIZES <= 255,
	       "class id + 1 must fit the handle's top byte");
_Static_assert(ZS_MAX_PAGES *TM_PAGE_SIZE / ZS_MIN_SIZE < ZS_NO_SLOT,
	       "slot numbers fit 16 bits");
_Static_assert(ZS_CLASS_SHIFT + 8 <= ZALLOC_HANDLE_BITS, "handle width");

/*
 * Handle-table entry.  Live: size in bits 0-12, slot in bits 13-23,
 * zspage index (32 bits: the table stops growing short of ZS_NIL) in
 * bits 24-55; bits 56-63 clear.  Free: bit 63 set, the next free entry in
 * the low 32 bits.
 */
#define HE_FREE (1ull << 63)
#define HE_SIZE(e) ((uint32_t)((e)&0x1fff))
#define HE_SLOT(e) ((uint32_t)(((e) >> 13) & 0x7ff))
#define HE_ZSPAGE(e) ((uint32_t)(((e) >> 24) & 0xffffffffu))
#define HE_MAKE(zs, slot, size)                                                \
	((uint64_t)(zs) << 24 | (uint64_t)(slot) << 13 | (uint64_t)(size))
#define HE_NONE 0xffffffffu
_Static_assert(ZS_MAX_PAGES *TM_PAGE_SIZE / ZS_MIN_SIZE <= 0x7ff + 1,
	       "slot field is 11 bits");
_Static_assert(TM_PAGE_SIZE <= 0x1fff, "size field is 13 bits");
_Static_assert(24 + 32 < 63, "a live entry's zspage index stays below HE_FREE");

/*
 * A zspage's header lives in its class's zspage table (24 bytes, no
 * malloc of its own); it is named by its index there, which is what handle
 * entries and the fullness lists hold.  Its length is not stored: a
 * zspage has the class's big layout iff it has that layout's slot count.
 */
struct zspage {
	char *base; /* NULL: a free table entry, chained through next */
	uint32_t prev, next; /* its fullness group's list, ZS_NIL ends */
	uint16_t inuse;
	uint16_t free; /* first free slot, ZS_NO_SLOT if none */
	uint16_t objs; /* slots in this zspage */
	uint8_t group;
	uint8_t moving; /* a compaction source */
};
_Static_assert(sizeof(struct zspage) == 24, "zspage header size");

struct zs_class {
	pthread_rwlock_t lock;
	uint32_t size; /* slot size */
	uint16_t pages; /* per zspage: the layout that wastes least */
	uint16_t objs; /* slots per zspage of that layout */
	uint16_t small_pages; /* the layout for a class's first zspages */
	uint16_t small_objs;
	uint32_t id;
	uint32_t groups[ZS_GROUPS]; /* list heads, ZS_NIL if empty */
	struct zspage *zst; /* the zspage table; it moves when it grows */
	uint32_t zst_cap, zst_used, zst_free;
	uint64_t nzspages;
	uint64_t capacity; /* slots in all zspages */
	uint64_t npages; /* pages in all zspages */
	uint64_t *ht; /* handle table */
	uint32_t ht_cap, ht_used, ht_free;
	uint64_t objs_inuse, used_bytes;
	uint64_t raw_objs; /* objects of exactly one page */
};

struct zs_pool {
	struct tm_acct *acct;
	struct pa *pa;
	unsigned nclasses;
	struct zs_class *classes;
	uint8_t size_class[ZS_NR_SIZES]; /* size step -> class id */
};

/*
 * Next capacity of a handle or zspage table: +25% (so on average ~10% of
 * a table is unused: these tables are most of the allocator's metadata),
 * at most ZS_TABLE_STEP entries at once (bounded overshoot of pool_max).
 */
static uint32_t next_cap(uint32_t cap)
{
	uint32_t step = cap / 4;

	if (cap < ZS_TABLE_MIN)
		return ZS_TABLE_MIN;
	if (step < ZS_TABLE_MIN)
		step = ZS_TABLE_MIN;
	return cap + (step < ZS_TABLE_STEP ? step : ZS_TABLE_STEP);
}

/* ---- class layout ---------------------------------------------------- */

/* The zspage length (1..max) that wastes the least, fewest pages on ties. */
static unsigned best_pages(unsigned size, unsigned max)
{
	unsigned best = 1, p;
	uint64_t best_used = 0;

	for (p = 1; p <= max; p++) {
		uint64_t span = p * TM_PAGE_SIZE;
		uint64_t used = span / size * size;

		/* used/span > best_used/(best pages): compare crosswise. */
		if (used * best * TM_PAGE_SIZE > best_used * span) {
			best = p;
			best_used = used;
		}
	}
	return best;
}

/*
 * The layout for a class's first ZS_SMALL_ZSPAGES zspages: the shortest
 * run whose slots use at least ZS_SMALL_USAGE percent of it.  A class
 * leaves one zspage partly empty on average, so while a class is small
 * that half-empty zspage, not the tail of each run, is its main waste:
 * short runs first, the least-waste runs once the class has grown (on
 * the corpus this took pool overhead over the objects' sizes from 20%
 * to about 8% for a 16 MiB input, and changes nothing for big pools).
 */
static unsigned small_layout(unsigned size, unsigned best)
{
	unsigned p;

	for (p = 1; p < best; p++)
		if (p * TM_PAGE_SIZE / size * size * 100 >=
		    ZS_SMALL_USAGE * p * TM_PAGE_SIZE)
			return p;
	return best;
}

static int build_classes(struct zs_pool *zp, unsigned max_pages)
{
	unsigned pages[ZS_NR_SIZES], objs[ZS_NR_SIZES];
	int i, n = 0, id, g;

	for (i = 0; i < (int)ZS_NR_SIZES; i++) {
		unsigned size = ZS_MIN_SIZE + i * ZS_STEP;

		pages[i] = best_pages(size, max_pages);
		objs[i] = pages[i] * TM_PAGE_SIZE / size;
	}
	/* Count the classes that survive merging (largest first). */
	for (i = ZS_NR_SIZES - 1; i >= 0; i--)
		if (i == ZS_NR_SIZES - 1 || pages[i] != pages[i + 1] ||
		    objs[i] != objs[i + 1])
			n++;
	zp->classes = tm_zalloc(zp->acct, n * sizeof(*zp->classes));
	if (!zp->classes)
		return -ENOMEM;
	zp->nclasses = n;
	/* Class ids increase with size; merged sizes map to the larger. */
	id = n;
	for (i = ZS_NR_SIZES - 1; i >= 0; i--) {
		if (i == ZS_NR_SIZES - 1 || pages[i] != pages[i + 1] ||
		    objs[i] != objs[i + 1]) {
			struct zs_class *c = &zp->classes[--id];
			pthread_rwlockattr_t attr;

			c->size = ZS_MIN_SIZE + i * ZS_STEP;
			c->pages = (uint16_t)pages[i];
			c->objs = (uint16_t)objs[i];
			c->small_pages =
				(uint16_t)small_layout(c->size, pages[i]);
			c->small_objs = (uint16_t)(c->small_pages *
						   TM_PAGE_SIZE / c->size);
			c->id = (uint32_t)id;
			c->zst_free = ZS_NIL;
			for (g = 0; g < ZS_GROUPS; g++)
				c->groups[g] = ZS_NIL;
			c->ht_free = HE_NONE;
			/* Writers first: compaction must not starve under a
			 * stream of gets. */
			pthread_rwlockattr_init(&attr);
			pthread_rwlockattr_setkind_np(
				&attr,
				PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
			pthread_rwlock_init(&c->lock, &attr);
			pthread_rwlockattr_destroy(&attr);
		}
		zp->size_class[i] = (uint8_t)id;
	}
	return 0;
}

static struct zs_class *class_of_size(struct zs_pool *zp, size_t len)
{
	size_t i = len <= ZS_MIN_SIZE
			   ? 0
			   : (len - ZS_MIN_SIZE + ZS_STEP - 1) / ZS_STEP;

	return &zp->classes[zp->size_class[i]];
}

static struct zs_class *class_of_handle(struct zs_pool *zp, uint64_t h)
{
	unsigned id = (unsigned)(h >> ZS_CLASS_SHIFT) - 1;

	tm_assert(id < zp->nclasses);
	return &zp->classes[id];
}

/* ---- fullness groups ------------------------------------------------- */

static unsigned group_of(const struct zs_class *c, const struct zspage *z)
{
	(void)c;
	return z->inuse == z->objs ? ZS_FULL : z->inuse * ZS_GROUPS / z->objs;
}

static uint32_t zs_idx(const struct zs_class *c, const struct zspage *z)
{
	return (uint32_t)(z - c->zst);
}

static unsigned zs_pages(const struct zs_class *c, const struct zspage *z)
{
	return z->objs == c->objs ? c->pages : c->small_pages;
}

static void unlink_zspage(struct zs_class *c, struct zspage *z)
{
	if (z->group == ZS_FULL)
		return;
	if (z->prev != ZS_NIL)
		c->zst[z->prev].next = z->next;
	else
		c->groups[z->group] = z->next;
	if (z->next != ZS_NIL)
		c->zst[z->next].prev = z->prev;
	z->prev = z->next = ZS_NIL;
}

static void link_zspage(struct zs_class *c, struct zspage *z)
{
	z->group = (uint8_t)group_of(c, z);
	if (z->group == ZS_FULL)
		return;
	z->prev = ZS_NIL;
	z->next = c->groups[z->group];
	if (z->next != ZS_NIL)
		c->zst[z->next].prev = zs_idx(c, z);
	c->groups[z->group] = zs_idx(c, z);
}

/* Walk a fullness group's list. */
static struct zspage *first(struct zs_class *c, int g)
{
	return c->groups[g] == ZS_NIL ? NULL : &c->zst[c->groups[g]];
}

static struct zspage *next(struct zs_class *c, struct zspage *z)
{
	return z->next == ZS_NIL ? NULL : &c->zst[z->next];
}

/* Move @z to the group its inuse count now calls for. */
static void regroup(struct zs_class *c, struct zspage *z)
{
	if (group_of(c, z) == z->group)
		return;
	unlink_zspage(c, z);
	link_zspage(c, z);
}

/* ---- zspages ---------------------------------------------------------- */

static char *slot_addr(const struct zs_class *c, const struct zspage *z,
		       unsigned slot)
{
	return z->base + (size_t)slot * c->size;
}

static uint16_t slot_next(const struct zs_class *c, const struct zspage *z,
			  unsigned slot)
{
	uint16_t next;

	memcpy(&next, slot_addr(c, z, slot), sizeof(next));
	return next;
}

static void set_slot_next(const struct zs_class *c, struct zspage *z,
			  unsigned slot, uint16_t next)
{
	memcpy(slot_addr(c, z, slot), &next, sizeof(next));
}

/*
 * A new empty zspage, linked in its group.  May move the zspage table:
 * the caller must hold no other zspage pointer across this call.
 */
static struct zspage *new_zspage(struct zs_pool *zp, struct zs_class *c)
{
	struct zspage *z;
	uint32_t idx;
	unsigned i, pages;
	void *base;

	if (c->zst_free == ZS_NIL && c->zst_used == c->zst_cap) {
		uint32_t cap = next_cap(c->zst_cap);
		struct zspage *t;

		if (c->zst_cap >= ZS_NIL - ZS_TABLE_STEP)
			return NULL;
		t = tm_realloc(zp->acct, c->zst, cap * sizeof(*t));
		if (!t)
			return NULL;
		c->zst = t;
		c->zst_cap = cap;
	}
	/* Small zspages while the class is small: see small_layout(). */
	pages = c->nzspages < ZS_SMALL_ZSPAGES ? c->small_pages : c->pages;
	if (pa_alloc(zp->pa, pages, &base))
		return NULL;
	if (c->zst_free != ZS_NIL) {
		idx = c->zst_free;
		c->zst_free = c->zst[idx].next;
	} else {
		idx = c->zst_used++;
	}
	z = &c->zst[idx];
	memset(z, 0, sizeof(*z));
	z->base = base;
	z->objs = (uint16_t)(pages * TM_PAGE_SIZE / c->size);
	/* Chain every slot: slot i -> i + 1, the last -> none. */
	for (i = 0; i < z->objs; i++)
		set_slot_next(c, z, i, i + 1 < z->objs ? i + 1 : ZS_NO_SLOT);
	z->free = 0;
	z->group = ZS_FULL; /* not linked yet */
	link_zspage(c, z);
	c->nzspages++;
	c->capacity += z->objs;
	c->npages += pages;
	return z;
}

static void free_zspage(struct zs_pool *zp, struct zs_class *c,
			struct zspage *z)
{
	unsigned pages = zs_pages(c, z);

	tm_assert_internal(z->inuse == 0);
	unlink_zspage(c, z);
	pa_free(zp->pa, z->base, pages);
	z->base = NULL;
	z->next = c->zst_free;
	c->zst_free = zs_idx(c, z);
	c->nzspages--;
	c->capacity -= z->objs;
	c->npages -= pages;
}

static struct zspage *zspage_at(const struct zs_class *c, uint32_t idx)
{
	tm_assert_internal(idx < c->zst_used && c->zst[idx].base);
	return &c->zst[idx];
}

/* Take a free slot of @z (which must have one). */
static unsigned take_slot(struct zs_class *c, struct zspage *z)
{
	unsigned slot = z->free;

	tm_assert_internal(slot != ZS_NO_SLOT);
	z->free = slot_next(c, z, slot);
	z->inuse++;
	regroup(c, z);
	return slot;
}

static void put_slot(struct zs_class *c, struct zspage *z, unsigned slot)
{
	set_slot_next(c, z, slot, z->free);
	z->free = (uint16_t)slot;
	z->inuse--;
	regroup(c, z);
}

/* The fullest zspage with a free slot, or NULL. */
static struct zspage *fullest_partial(struct zs_class *c)
{
	int g;

	for (g = ZS_GROUPS - 1; g >= 0; g--)
		if (c->groups[g] != ZS_NIL)
			return &c->zst[c->groups[g]];
	return NULL;
}

/* ---- handle table ----------------------------------------------------- */

static int ht_reserve(struct zs_pool *zp, struct zs_class *c)
{
	uint32_t cap;
	uint64_t *t;

	if (c->ht_free != HE_NONE || c->ht_used < c->ht_cap)
		return 0;
	cap = next_cap(c->ht_cap);
	if (c->ht_cap >= HE_NONE - ZS_TABLE_STEP)
		return -ENOMEM; /* entry numbers must stay below HE_NONE */
	t = tm_realloc(zp->acct, c->ht, cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	c->ht = t;
	c->ht_cap = cap;
	return 0;
}

static uint32_t ht_take(struct zs_class *c)
{
	uint32_t e;

	if (c->ht_free != HE_NONE) {
		e = c->ht_free;
		c->ht_free = (uint32_t)c->ht[e];
	} else {
		e = c->ht_used++;
	}
	return e;
}

static void ht_put(struct zs_class *c, uint32_t e)
{
	c->ht[e] = HE_FREE | c->ht_free;
	c->ht_free = e;
}

static uint32_t handle_entry(uint64_t h)
{
	return (uint32_t)(h & ((1ull << ZS_CLASS_SHIFT) - 1));
}

/* ---- ops -------------------------------------------------------------- */

static int zs_create(const struct zalloc_config *cfg, void **out)
{
	unsigned max = cfg->max_pages_per_zspage ? cfg->max_pages_per_zspage
						 : ZS_MAX_PAGES;
	struct zs_pool *zp;

	if (max > ZS_MAX_PAGES)
		return -EINVAL;
	zp = tm_zalloc(cfg->acct, sizeof(*zp));
	if (!zp)
		return -ENOMEM;
	zp->acct = cfg->acct;
	if (pa_create(cfg->acct, &zp->pa))
		goto free_pool;
	if (build_classes(zp, max))
		goto destroy_pa;
	*out = zp;
	return 0;

destroy_pa:
	pa_destroy(zp->pa);
free_pool:
	tm_free(cfg->acct, zp);
	return -ENOMEM;
}

static void zs_destroy(void *p)
{
	struct zs_pool *zp = p;
	unsigned i;

	if (!zp)
		return;
	for (i = 0; i < zp->nclasses; i++) {
		struct zs_class *c = &zp->classes[i];

		tm_free(zp->acct, c->zst);
		tm_free(zp->acct, c->ht);
		pthread_rwlock_destroy(&c->lock);
	}
	pa_destroy(zp->pa); /* unmaps every arena: all pages at once */
	tm_free(zp->acct, zp->classes);
	tm_free(zp->acct, zp);
}

static int zs_store(void *p, const void *src, size_t len, uint64_t *handle)
{
	struct zs_pool *zp = p;
	struct zs_class *c;
	struct zspage *z;
	unsigned slot;
	uint32_t e;

	if (!len || len > TM_PAGE_SIZE)
		return -EINVAL;
	c = class_of_size(zp, len);
	pthread_rwlock_wrlock(&c->lock);
	if (ht_reserve(zp, c))
		goto enomem;
	z = fullest_partial(c);
	if (!z) {
		z = new_zspage(zp, c);
		if (!z)
			goto enomem;
	}
	slot = take_slot(c, z);
	memcpy(slot_addr(c, z, slot), src, len);
	e = ht_take(c);
	c->ht[e] = HE_MAKE(zs_idx(c, z), slot, len);
	c->objs_inuse++;
	c->used_bytes += len;
	c->raw_objs += len == TM_PAGE_SIZE;
	pthread_rwlock_unlock(&c->lock);
	*handle = (uint64_t)(c->id + 1) << ZS_CLASS_SHIFT | e;
	return 0;
enomem:
	pthread_rwlock_unlock(&c->lock);
	return -ENOMEM;
}

/* Free the object of live entry @e (class locked exclusive). */
static void free_entry(struct zs_pool *zp, struct zs_class *c, uint32_t e)
{
	uint64_t he = c->ht[e];
	struct zspage *z = zspage_at(c, HE_ZSPAGE(he));

	tm_assert_internal(!(he & HE_FREE));
	put_slot(c, z, HE_SLOT(he));
	ht_put(c, e);
	c->objs_inuse--;
	c->used_bytes -= HE_SIZE(he);
	c->raw_objs -= HE_SIZE(he) == TM_PAGE_SIZE;
	if (!z->inuse)
		free_zspage(zp, c, z);
}

static void zs_free(void *p, uint64_t handle)
{
	struct zs_pool *zp = p;
	struct zs_class *c = class_of_handle(zp, handle);

	pthread_rwlock_wrlock(&c->lock);
	free_entry(zp, c, handle_entry(handle));
	pthread_rwlock_unlock(&c->lock);
}

static const void *zs_map(void *p, uint64_t handle, size_t *len)
{
	struct zs_pool *zp = p;
	struct zs_class *c = class_of_handle(zp, handle);
	uint64_t he;

	pthread_rwlock_rdlock(&c->lock);
	he = c->ht[handle_entry(handle)];
	tm_assert_internal(!(he & HE_FREE));
	*len = HE_SIZE(he);
	return slot_addr(c, zspage_at(c, HE_ZSPAGE(he)), HE_SLOT(he));
}

static void zs_unmap(void *p, uint64_t handle)
{
	pthread_rwlock_unlock(&class_of_handle(p, handle)->lock);
}

/* ---- compaction and eviction ------------------------------------------ */

static int by_inuse_desc(const void *a, const void *b)
{
	const struct zspage *x = *(struct zspage *const *)a;
	const struct zspage *y = *(struct zspage *const *)b;

	return (int)y->inuse - (int)x->inuse;
}

/*
 * Compact one class (locked exclusive).  Sort the partial zspages fullest
 * first; the shortest prefix whose free slots can take every object of
 * the rest keeps its objects, the rest are sources.  One pass over the
 * handle table moves each object living in a source into the fullest
 * destination with room; each source is freed as its last object leaves.
 * No per-object back pointer is needed, at the price of reading the
 * class's whole handle table once per compaction.  Returns pages freed.
 */
static uint64_t compact_class(struct zs_pool *zp, struct zs_class *c)
{
	struct zspage **v, *z;
	uint64_t n = 0, k, room = 0, rest = 0, nsrc, pages = 0;
	uint32_t e, d = 0;
	int g;

	for (g = 0; g < ZS_GROUPS; g++)
		for (z = first(c, g); z; z = next(c, z))
			n++;
	if (n < 2)
		return 0;
	/* Scratch, not pool metadata: freed before returning. */
	v = tm_alloc(NULL, n * sizeof(*v));
	if (!v)
		return 0;
	n = 0;
	for (g = 0; g < ZS_GROUPS; g++)
		for (z = first(c, g); z; z = next(c, z)) {
			v[n++] = z;
			rest += z->inuse;
		}
	qsort(v, n, sizeof(*v), by_inuse_desc);
	for (k = 0; k < n && room < rest; k++) {
		room += v[k]->objs - v[k]->inuse;
		rest -= v[k]->inuse;
	}
	nsrc = n - k;
	if (!nsrc)
		goto out;
	for (e = k; e < n; e++) {
		v[e]->moving = 1;
		pages += zs_pages(c, v[e]);
	}

	for (e = 0; e < c->ht_used; e++) {
		uint64_t he = c->ht[e];
		struct zspage *src, *dst;
		unsigned slot;

		if (he & HE_FREE)
			continue;
		src = zspage_at(c, HE_ZSPAGE(he));
		if (!src->moving)
			continue;
		while (v[d]->inuse == v[d]->objs)
			d++;
		tm_assert_internal(d < k);
		dst = v[d];
		slot = take_slot(c, dst);
		memcpy(slot_addr(c, dst, slot), slot_addr(c, src, HE_SLOT(he)),
		       HE_SIZE(he));
		c->ht[e] = HE_MAKE(zs_idx(c, dst), slot, HE_SIZE(he));
		put_slot(c, src, HE_SLOT(he));
		if (!src->inuse)
			free_zspage(zp, c, src);
	}
out:
	tm_free(NULL, v);
	return pages;
}

static uint64_t zs_compact(void *p)
{
	struct zs_pool *zp = p;
	uint64_t pages = 0;
	unsigned i;

	for (i = 0; i < zp->nclasses; i++) {
		struct zs_class *c = &zp->classes[i];

		pthread_rwlock_wrlock(&c->lock);
		pages += compact_class(zp, c);
		pthread_rwlock_unlock(&c->lock);
	}
	return pages * TM_PAGE_SIZE;
}

/* The class holding the most zspages, or NULL if all are empty. */
static struct zs_class *biggest_class(struct zs_pool *zp)
{
	struct zs_class *best = NULL;
	uint64_t most = 0;
	unsigned i;

	for (i = 0; i < zp->nclasses; i++) {
		struct zs_class *c = &zp->classes[i];
		uint64_t n;

		pthread_rwlock_rdlock(&c->lock);
		n = c->nzspages;
		pthread_rwlock_unlock(&c->lock);
		if (n > most) {
			most = n;
			best = c;
		}
	}
	return best;
}

/*
 * Empty one zspage of @c (locked exclusive) through @fn: the emptiest
 * partial one (least data to hand over per page freed), else any.
 * Return 1 if the zspage was freed, or @fn's error.
 */
static int evict_one(struct zs_pool *zp, struct zs_class *c, zalloc_evict_fn fn,
		     void *arg)
{
	struct zspage *victim = NULL;
	uint32_t e, i;
	int g, ret;

	for (g = 0; g < ZS_GROUPS && !victim; g++)
		victim = first(c, g);
	for (i = 0; i < c->zst_used && !victim; i++)
		if (c->zst[i].base)
			victim = &c->zst[i];
	if (!victim)
		return 0;
	for (e = 0; e < c->ht_used; e++) {
		uint64_t he = c->ht[e];
		int last;

		if ((he & HE_FREE) || HE_ZSPAGE(he) != zs_idx(c, victim))
			continue;
		ret = fn(arg, (uint64_t)(c->id + 1) << ZS_CLASS_SHIFT | e,
			 slot_addr(c, victim, HE_SLOT(he)), HE_SIZE(he));
		if (ret)
			return ret;
		last = victim->inuse == 1;
		free_entry(zp, c, e);
		if (last)
			return 1;
	}
	tm_assert_internal(0); /* inuse said there were more objects */
	return 0;
}

static int zs_evict(void *p, unsigned nr, zalloc_evict_fn fn, void *arg)
{
	struct zs_pool *zp = p;
	unsigned done = 0;
	int ret = 0;

	while (done < nr) {
		struct zs_class *c = biggest_class(zp);

		if (!c)
			break;
		pthread_rwlock_wrlock(&c->lock);
		ret = evict_one(zp, c, fn, arg);
		pthread_rwlock_unlock(&c->lock);
		if (ret <= 0)
			break;
		done++;
	}
	return done ? (int)done : ret;
}

/* ---- statistics ------------------------------------------------------- */

static void zs_stats(void *p, struct zalloc_stats *st)
{
	struct zs_pool *zp = p;
	unsigned i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < zp->nclasses; i++) {
		struct zs_class *c = &zp->classes[i];

		pthread_rwlock_rdlock(&c->lock);
		st->zspages += c->nzspages;
		st->objs += c->objs_inuse;
		st->used_bytes += c->used_bytes;
		st->raw_objs += c->raw_objs;
		pthread_rwlock_unlock(&c->lock);
	}
	st->pool_bytes = atomic_load_explicit(&zp->acct->pool_bytes,
					      memory_order_relaxed);
}

static int zs_class_stats(void *p, unsigned idx, struct tmem_class_stats *cs)
{
	struct zs_pool *zp = p;
	struct zs_class *c;

	if (idx >= zp->nclasses)
		return -ENOENT;
	c = &zp->classes[idx];
	pthread_rwlock_rdlock(&c->lock);
	cs->obj_size = c->size;
	cs->pages_per_zspage = c->pages;
	cs->objs_per_zspage = c->objs;
	cs->zspages = c->nzspages;
	cs->objs_inuse = c->objs_inuse;
	cs->objs_capacity = c->capacity;
	cs->pages = c->npages;
	cs->used_bytes = c->used_bytes;
	pthread_rwlock_unlock(&c->lock);
	return 0;
}

const struct zalloc_ops zs_ops = {
	.name = "zsmalloc",
	.create = zs_create,
	.destroy = zs_destroy,
	.store = zs_store,
	.free = zs_free,
	.map = zs_map,
	.unmap = zs_unmap,
	.compact = zs_compact,
	.evict = zs_evict,
	.stats = zs_stats,
	.class_stats = zs_class_stats,
};

const struct zalloc_ops *zalloc_get(unsigned a)
{
	return a == TMEM_ALLOC_ZSMALLOC ? &zs_ops : NULL;
}
