/* SPDX-License-Identifier: MIT */
/*
 * pagealloc.h - runs of 1..ZS_MAX_PAGES contiguous pages for zspages
 * (lib/pagealloc.c).
 */
#ifndef TMEM_PAGEALLOC_H
#define TMEM_PAGEALLOC_H

#include "internal.h"

/*
 * Most pages one zspage may span.  8 as the kernel's default
 * CONFIG_ZSMALLOC_CHAIN_SIZE: enough for every class to find a layout
 * that wastes under ~4% of a zspage, few enough that a half-used zspage
 * at the end of each class stays small.
 */
#define ZS_MAX_PAGES 8u

/* Pages reserved from the OS at a time: 2 MiB, one huge-page extent. */
#define PA_ARENA_PAGES 512u

struct pa;

int pa_create(struct tm_acct *acct, struct pa **out);
/* Unmaps every arena; runs still handed out become invalid. */
void pa_destroy(struct pa *pa);
/*
 * A run of @npages (1..ZS_MAX_PAGES) zero-filled contiguous pages, charged
 * to pool_bytes.  Return 0 or -ENOMEM.
 */
int pa_alloc(struct pa *pa, unsigned npages, void **out);
/*
 * Give a run back: its memory returns to the OS at once.  If the OS
 * refuses the discard, the pages stay counted in pool_bytes until the run
 * is handed out again or the allocator is destroyed.
 */
void pa_free(struct pa *pa, void *run, unsigned npages);

#endif /* TMEM_PAGEALLOC_H */
