// SPDX-License-Identifier: MIT
/*
 * carve.c - the range allocator behind the shim's anonymous mmap: hands
 * out page-aligned ranges of the region's mmap half, first fit.
 *
 * Why this simple: programs make few large anonymous mappings (the heap
 * goes through mimalloc's arena), so a sorted array of free extents in
 * static memory is enough, needs no malloc (it runs inside mmap, which
 * the allocator itself may call) and coalesces neighbours on free.  If the
 * array is full a freed range is leaked (its pages were discarded, so it
 * costs address space only) and counted once in a message.
 *
 * Locking: one mutex, carve_lock(), taken by the callers around a whole
 * mmap/munmap/mremap so the range and the page states change together;
 * it comes before the region's locks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "internal.h"
#include "preload.h"

#define CARVE_MAX_EXTENTS 8192 /* 128 KiB of .bss; beyond it frees leak */

struct extent {
	uintptr_t start, len;
};

static struct extent ext[CARVE_MAX_EXTENTS];
static size_t next_count;
static pthread_mutex_t carve_mu = PTHREAD_MUTEX_INITIALIZER;
static int warned_full;

void carve_lock(void)
{
	pthread_mutex_lock(&carve_mu);
}

void carve_unlock(void)
{
	pthread_mutex_unlock(&carve_mu);
}

void carve_init(void *base, size_t len)
{
	ext[0].start = (uintptr_t)base;
	ext[0].len = len;
	next_count = 1;
}

void *carve_alloc(size_t len)
{
	for (size_t k = 0; k < next_count; k++) {
		if (ext[k].len < len)
			continue;
		uintptr_t p = ext[k].start;

		ext[k].start += len;
		ext[k].len -= len;
		if (!ext[k].len) {
			for (size_t j = k + 1; j < next_count; j++)
				ext[j - 1] = ext[j];
			next_count--;
		}
		return (void *)p;
	}
	return NULL;
}

void carve_free(void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr;
	size_t k = 0;

	while (k < next_count && ext[k].start < a)
		k++;
	/* merge with the previous and/or the next extent */
	if (k > 0 && ext[k - 1].start + ext[k - 1].len == a) {
		ext[k - 1].len += len;
		if (k < next_count && a + len == ext[k].start) {
			ext[k - 1].len += ext[k].len;
			for (size_t j = k + 1; j < next_count; j++)
				ext[j - 1] = ext[j];
			next_count--;
		}
		return;
	}
	if (k < next_count && a + len == ext[k].start) {
		ext[k].start = a;
		ext[k].len += len;
		return;
	}
	if (next_count == CARVE_MAX_EXTENTS) {
		if (!warned_full++)
			tm_log("tmem: too many holes in the mmap area; freed "
			       "address space is leaked\n");
		return;
	}
	for (size_t j = next_count; j > k; j--)
		ext[j] = ext[j - 1];
	ext[k].start = a;
	ext[k].len = len;
	next_count++;
}

/*
 * Take [addr, addr+len) out of the free extents, wherever it lies: the
 * program placed a mapping there with MAP_FIXED (into a range it had
 * unmapped, re-reserving it), so it is the program's again and must not
 * be handed out.  A split that finds the array full leaks the range.
 */
void carve_claim(void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, b = a + len;

	for (size_t k = 0; k < next_count; k++) {
		uintptr_t s = ext[k].start, e = s + ext[k].len;

		if (e <= a || s >= b)
			continue;
		if (s < a && e > b) { /* split in two */
			if (next_count == CARVE_MAX_EXTENTS) {
				ext[k].len = a - s;
				return;
			}
			for (size_t j = next_count; j > k + 1; j--)
				ext[j] = ext[j - 1];
			next_count++;
			ext[k].len = a - s;
			ext[k + 1].start = b;
			ext[k + 1].len = e - b;
			return;
		}
		if (s < a) {
			ext[k].len = a - s;
		} else if (e > b) {
			ext[k].start = b;
			ext[k].len = e - b;
		} else { /* wholly inside: drop the extent */
			for (size_t j = k + 1; j < next_count; j++)
				ext[j - 1] = ext[j];
			next_count--;
			k--;
		}
	}
}

/* Grow or shrink [addr, addr+old_len) in place; -ENOMEM if it cannot grow. */
int carve_resize(void *addr, size_t old_len, size_t new_len)
{
	uintptr_t end = (uintptr_t)addr + old_len;

	if (new_len <= old_len) {
		if (new_len < old_len)
			carve_free((char *)addr + new_len, old_len - new_len);
		return 0;
	}
	for (size_t k = 0; k < next_count; k++) {
		if (ext[k].start != end)
			continue;
		if (ext[k].len < new_len - old_len)
			return -ENOMEM;
		ext[k].start += new_len - old_len;
		ext[k].len -= new_len - old_len;
		if (!ext[k].len) {
			for (size_t j = k + 1; j < next_count; j++)
				ext[j - 1] = ext[j];
			next_count--;
		}
		return 0;
	}
	return -ENOMEM;
}
