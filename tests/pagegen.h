/* SPDX-License-Identifier: MIT */
/*
 * pagegen.h - pages of every kind the store must handle, for the tests:
 * random (incompressible), zero, same-filled, text-like, half-random, and
 * real process memory from the shared corpus when it is there.
 *
 * Every generated page is a pure function of (kind, seed), so a test can
 * regenerate what it expects instead of keeping copies.
 */
#ifndef TMEM_TEST_PAGEGEN_H
#define TMEM_TEST_PAGEGEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "harness.h"

#define PG_SIZE 4096

enum pg_kind {
	PG_RANDOM,
	PG_ZERO,
	PG_SAMEFILL,
	PG_TEXT,
	PG_HALF,
	PG_SPARSE, /* mostly zero with a few words set: compresses very well */
	PG_KINDS
};

static const char *const pg_kind_name[PG_KINDS] = {
	"random", "zero", "same-filled", "text", "half-random", "sparse",
};

static inline void pg_make(void *page, enum pg_kind kind, uint64_t seed)
{
	static const char *const words[] = {
		"customer", "order", "id", "name", "total", "{", "}", ":",
		"\"", ",", "2026-11-22", "status", "shipped", " ", "\n",
	};
	unsigned char *p = page;
	uint64_t s = seed * 2654435761u + 1 + kind;
	size_t i, n;

	switch (kind) {
	case PG_RANDOM:
		for (i = 0; i < PG_SIZE; i += 8) {
			uint64_t r = th_rand(&s);

			memcpy(p + i, &r, 8);
		}
		break;
	case PG_ZERO:
		memset(p, 0, PG_SIZE);
		break;
	case PG_SAMEFILL: {
		uint64_t w = th_rand(&s) | 1; /* never the zero word */

		for (i = 0; i < PG_SIZE; i += 8)
			memcpy(p + i, &w, 8);
		break;
	}
	case PG_TEXT:
		for (i = 0; i < PG_SIZE; i += n) {
			const char *w = words[th_rand(&s) % 15];

			n = strlen(w);
			if (n > PG_SIZE - i)
				n = PG_SIZE - i;
			memcpy(p + i, w, n);
		}
		break;
	case PG_HALF:
		pg_make(page, PG_TEXT, seed);
		for (i = PG_SIZE / 2; i < PG_SIZE; i += 8) {
			uint64_t r = th_rand(&s);

			memcpy(p + i, &r, 8);
		}
		break;
	case PG_SPARSE:
		memset(p, 0, PG_SIZE);
		for (i = 0; i < 8; i++) {
			uint64_t r = th_rand(&s);

			memcpy(p + (r % (PG_SIZE / 8)) * 8, &r, 8);
		}
		p[0] |= 1; /* never all zero */
		p[8] = 0x5a; /* never same-filled */
		break;
	default:
		break;
	}
}

/* Decompress up to @cap bytes of a .zst file; return whole pages' bytes. */
static inline size_t pg_read_zst(const char *path, unsigned char *dst,
				 size_t cap)
{
	ZSTD_DCtx *ds = ZSTD_createDCtx();
	FILE *f = fopen(path, "rb");
	unsigned char in[1 << 16];
	size_t out = 0, r;

	while (f && ds && out < cap && (r = fread(in, 1, sizeof(in), f))) {
		ZSTD_inBuffer ib = { in, r, 0 };

		while (ib.pos < ib.size && out < cap) {
			ZSTD_outBuffer ob = { dst + out, cap - out, 0 };

			if (ZSTD_isError(ZSTD_decompressStream(ds, &ob, &ib)))
				goto done;
			out += ob.pos;
		}
	}
done:
	if (f)
		fclose(f);
	ZSTD_freeDCtx(ds);
	return out - out % PG_SIZE;
}

/*
 * Load up to @max pages, an equal share from each *.pages.zst file of the
 * corpus (TM_CORPUS_DIR, beside the repository).  Returns the page count,
 * 0 if the corpus is not there (the project must not need it), and a
 * malloc'd array in *@out.
 */
static inline size_t pg_load_corpus(size_t max, unsigned char **out)
{
	unsigned char *pages = malloc(max * PG_SIZE + 1);
	size_t n = 0;
#ifdef TM_CORPUS_DIR
	static const char *const files[] = { "python", "node", "perl" };
	size_t i;

	for (i = 0; pages && i < 3; i++) {
		char path[4096];
		size_t share = (max - n) / (3 - i);

		snprintf(path, sizeof(path), "%s/%s.pages.zst", TM_CORPUS_DIR,
			 files[i]);
		n += pg_read_zst(path, pages + n * PG_SIZE, share * PG_SIZE) /
		     PG_SIZE;
	}
#endif
	*out = pages;
	return n;
}

#endif /* TMEM_TEST_PAGEGEN_H */
