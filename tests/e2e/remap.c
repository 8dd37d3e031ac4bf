// SPDX-License-Identifier: MIT
/*
 * remap.c - e2e program: realloc of large heap blocks (grow and shrink),
 * anonymous mmap + mremap (grow in place, move, shrink), munmap, and
 * madvise(MADV_DONTNEED) reading back zeroes - every byte checked.
 *
 * usage: remap MIB
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096

static void pat(unsigned char *p, size_t from, size_t to, uint32_t tag)
{
	for (size_t i = from; i < to; i += 8) {
		uint64_t v = i * 0x9e3779b1u + tag;

		memcpy(p + i, &v, 8);
	}
}

static int chk(const unsigned char *p, size_t from, size_t to, uint32_t tag)
{
	for (size_t i = from; i < to; i += 8) {
		uint64_t v = i * 0x9e3779b1u + tag, w;

		memcpy(&w, p + i, 8);
		if (v != w)
			return 0;
	}
	return 1;
}

static int zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	size_t len = mib << 20, l2;
	unsigned char *p, *q, *r, *hold;
	int ok = 1;

	/* realloc: grow twice, shrink once */
	p = malloc(len / 4);
	pat(p, 0, len / 4, 1);
	p = realloc(p, len / 2);
	ok &= chk(p, 0, len / 4, 1);
	pat(p, len / 4, len / 2, 2);
	p = realloc(p, len);
	ok &= chk(p, 0, len / 4, 1) && chk(p, len / 4, len / 2, 2);
	p = realloc(p, len / 8);
	ok &= chk(p, 0, len / 8, 1);
	printf("realloc: %s\n", ok ? "ok" : "Corruption!");
	free(p);

	/* mmap, mremap grow (maybe in place), move, shrink */
	q = mmap(NULL, len / 2, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED)
		return 2;
	pat(q, 0, len / 2, 3);
	hold = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* may block growth */
	q = mremap(q, len / 2, len, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		return 2;
	ok &= chk(q, 0, len / 2, 3) && zero(q + len / 2, len / 2);
	pat(q, len / 2, len, 4);
	l2 = len / 4;
	r = mremap(q, len, l2, 0);
	ok &= r == q && chk(r, 0, l2, 3);
	printf("mremap: %s\n", ok ? "ok" : "Corruption!");

	/* MADV_DONTNEED reads back zeroes, the rest stays */
	madvise(r + PAGE, l2 / 2, MADV_DONTNEED);
	ok &= chk(r, 0, PAGE, 3) && zero(r + PAGE, l2 / 2) &&
	      chk(r, PAGE + l2 / 2, l2, 3);
	printf("madvise: %s\n", ok ? "ok" : "Corruption!");
	munmap(r, l2);
	munmap(hold, PAGE);

	/* a new mapping over freed space starts zeroed */
	q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	ok &= q != MAP_FAILED && zero(q, len);
	printf("fresh mmap: %s\n", ok ? "ok" : "Corruption!");
	munmap(q, len);
	return !ok;
}
