// SPDX-License-Identifier: MIT
/*
 * pagealloc.c - the page allocator under zsmalloc: runs of 1..ZS_MAX_PAGES
 * contiguous pages, carved from 2 MiB reservations.
 *
 * Why reservations: zspages must be virtually contiguous (so an object
 * that straddles a page boundary is plain contiguous bytes), and one mmap
 * per zspage would cost a syscall and a VMA each.  An arena is reserved
 * with MAP_NORESERVE, so its untouched pages cost nothing; a run's pages
 * become resident when zsmalloc writes objects into them.
 *
 * Why runs go back to the OS at once: pool_bytes must be exact - the
 * pool limit is a real memory budget - so a freed run is discarded
 * (MADV_DONTNEED: the physical pages are released and read back as
 * zeros) and only its address is kept, on a free list for runs of the
 * same length.  The free lists are arrays outside the runs, because
 * writing a link into a discarded run would fault a page back in.
 * Arenas are marked MADV_NOHUGEPAGE: each is one huge page's extent, and
 * under THP "always" a huge page would hold 2 MiB for one 4 KiB run.
 *
 * A run whose discard fails still holds its pages, so it stays counted in
 * pool_bytes (we keep the count honest rather than retry a call that just
 * failed): it goes on the free list marked "held", and stays counted
 * until the pool is destroyed or the run is handed out again (zeroed by
 * hand, and not counted twice).
 *
 * What it gives up: a freed run is reused only for a zspage of the same
 * length, so address space (not memory) can grow when the mix of classes
 * shifts.  Address space is cheap on 64-bit; memory is what we account.
 *
 * Invariants: pool_bytes == (pages handed out + free pages whose discard
 * failed) * TM_PAGE_SIZE; every free run not marked held is discarded.
 * Lock: one mutex, taken only when a zspage is created or freed (the
 * innermost lock: class -> page alloc).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "pagealloc.h"

struct pa_stack {
	void **runs;
	uint32_t n, cap;
};

/* Marks a free-list run whose discard failed (runs are page-aligned). */
#define PA_HELD ((uintptr_t)1)

struct pa {
	pthread_mutex_t lock;
	struct tm_acct *acct;
	void **arenas; /* every reservation, for destroy */
	uint32_t narenas, arenas_cap;
	uint64_t pages_out; /* handed out, not yet freed */
	uint64_t pages_held; /* free but not discarded: still counted */
	char *bump; /* next unused page of the newest arena */
	uint32_t bump_left; /* pages left there */
	struct pa_stack free[ZS_MAX_PAGES + 1]; /* by run length */
};

int pa_create(struct tm_acct *acct, struct pa **out)
{
	struct pa *pa = tm_zalloc(acct, sizeof(*pa));

	if (!pa)
		return -ENOMEM;
	pthread_mutex_init(&pa->lock, NULL);
	pa->acct = acct;
	*out = pa;
	return 0;
}

void pa_destroy(struct pa *pa)
{
	unsigned i;

	if (!pa)
		return;
	acct_pool_sub(pa->acct,
		      (pa->pages_out + pa->pages_held) * TM_PAGE_SIZE);
	for (i = 0; i < pa->narenas; i++)
		tm_os()->unmap(pa->arenas[i], PA_ARENA_PAGES * TM_PAGE_SIZE);
	for (i = 0; i <= ZS_MAX_PAGES; i++)
		tm_free(pa->acct, pa->free[i].runs);
	tm_free(pa->acct, pa->arenas);
	pthread_mutex_destroy(&pa->lock);
	tm_free(pa->acct, pa);
}

static int grow(struct tm_acct *acct, void ***arr, uint32_t *cap)
{
	uint32_t ncap = *cap ? *cap * 2 : 8;
	void **n = tm_realloc(acct, *arr, ncap * sizeof(**arr));

	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

/* Reserve a new arena; the rest of the old one is given up (it holds no
 * memory: those pages were never touched). */
static int new_arena(struct pa *pa)
{
	void *a;
	int ret;

	if (pa->narenas == pa->arenas_cap &&
	    grow(pa->acct, &pa->arenas, &pa->arenas_cap))
		return -ENOMEM;
	ret = tm_os()->map(PA_ARENA_PAGES * TM_PAGE_SIZE, &a);
	if (ret)
		return -ENOMEM;
	/* Failure only means huge pages stay possible (see lib/os.c). */
	if (tm_os()->nohuge)
		tm_os()->nohuge(a, PA_ARENA_PAGES * TM_PAGE_SIZE);
	pa->arenas[pa->narenas++] = a;
	pa->bump = a;
	pa->bump_left = PA_ARENA_PAGES;
	return 0;
}

int pa_alloc(struct pa *pa, unsigned npages, void **out)
{
	struct pa_stack *fs = &pa->free[npages];
	size_t len = npages * TM_PAGE_SIZE;
	uintptr_t held = 0;
	int ret = 0;

	tm_assert(npages >= 1 && npages <= ZS_MAX_PAGES);
	pthread_mutex_lock(&pa->lock);
	if (fs->n) {
		uintptr_t run = (uintptr_t)fs->runs[--fs->n];

		held = run & PA_HELD;
		*out = (void *)(run & ~PA_HELD);
	} else {
		if (pa->bump_left < npages) {
			ret = new_arena(pa);
			if (ret)
				goto unlock;
		}
		*out = pa->bump;
		pa->bump += len;
		pa->bump_left -= npages;
	}
	pa->pages_out += npages;
	if (held)
		pa->pages_held -= npages;
	else
		acct_pool_add(pa->acct, len);
unlock:
	pthread_mutex_unlock(&pa->lock);
	if (ret)
		return ret;
	/* A held run is resident and still holds its old objects. */
	if (held)
		memset(*out, 0, len);
	/*
	 * Fault the run in with one call: zsmalloc writes it at once (the
	 * free-slot chain), and one populate is ~10x cheaper than a fault
	 * per page on a VM.  A failure only means the pages fault in later.
	 */
	else if (tm_os()->populate)
		tm_os()->populate(*out, len);
	return 0;
}

void pa_free(struct pa *pa, void *run, unsigned npages)
{
	struct pa_stack *fs = &pa->free[npages];
	size_t len = npages * TM_PAGE_SIZE;
	uintptr_t held;

	tm_assert(npages >= 1 && npages <= ZS_MAX_PAGES);
	/*
	 * Discard first: the memory is returned even if the free list cannot
	 * grow (then the address range is lost until destroy, and the memory
	 * too only if the discard failed - it then stays counted).
	 */
	held = tm_os()->discard(run, len) ? PA_HELD : 0;
	pthread_mutex_lock(&pa->lock);
	pa->pages_out -= npages;
	if (held)
		pa->pages_held += npages; /* until reused or destroyed */
	else
		acct_pool_sub(pa->acct, len);
	if (fs->n < fs->cap || !grow(pa->acct, &fs->runs, &fs->cap))
		fs->runs[fs->n++] = (void *)((uintptr_t)run | held);
	pthread_mutex_unlock(&pa->lock);
}
