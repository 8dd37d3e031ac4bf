// SPDX-License-Identifier: MIT
/*
 * fill.c - e2e program: fill MiB of heap with known page contents, then
 * make random passes that verify every byte of a page and rewrite it,
 * then verify everything once more.  Prints one checksum line; exits 1 on
 * the first corrupted byte.  Its output must be identical with and
 * without `tmem run`.
 *
 * usage: fill MIB [PASSES] [SEED] [CHUNK_MIB] [compressible]
 * ("compressible" keeps only the mostly-zero and small-integer pages.)
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Realistic-ish content: text-like runs, small numbers, some noise. */
static int no_noise;

static void make_page(unsigned char *p, uint64_t page, uint32_t gen)
{
	uint64_t s = page * 0x9e3779b97f4a7c15ull + gen + 1;

	for (int k = 0; k < PAGE; k += 8) {
		uint64_t r = rng(&s);
		uint64_t v;

		switch ((page + gen) % (no_noise ? 2 : 4)) {
		case 0: /* mostly zero with a header */
			v = k < 64 ? r : 0;
			break;
		case 1: /* small integers */
			v = (r & 0xff) | ((uint64_t)k << 32);
			break;
		case 2: /* text */
			v = 0x2065687420666f20ull + (r & 0x0707070707070707ull);
			break;
		default: /* noise */
			v = r;
		}
		memcpy(p + k, &v, 8);
	}
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	int passes = argc > 2 ? atoi(argv[2]) : 2;
	uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 0) : 1;
	size_t chunk = (argc > 4 ? strtoul(argv[4], NULL, 0) : 8) << 20;
	size_t npages = (mib << 20) / PAGE, per = chunk / PAGE;
	size_t nchunks = (npages + per - 1) / per;
	unsigned char **chunks = calloc(nchunks, sizeof(*chunks));
	uint32_t *gen = calloc(npages, sizeof(*gen));
	unsigned char want[PAGE];
	uint64_t sum = 0;

	no_noise = argc > 5 && !strcmp(argv[5], "compressible");
	if (!chunks || !gen)
		return 2;
	for (size_t c = 0; c < nchunks; c++) {
		chunks[c] = malloc(chunk);
		if (!chunks[c]) {
			fprintf(stderr, "fill: out of memory\n");
			return 2;
		}
	}
#define PAGEP(i) (chunks[(i) / per] + ((i) % per) * PAGE)
	for (size_t i = 0; i < npages; i++)
		make_page(PAGEP(i), i, 0);
	for (int pass = 0; pass < passes; pass++) {
		for (size_t k = 0; k < npages; k++) {
			size_t i = rng(&seed) % npages;

			make_page(want, i, gen[i]);
			if (memcmp(PAGEP(i), want, PAGE)) {
				printf("Corruption! page %zu pass %d\n", i,
				       pass);
				return 1;
			}
			gen[i]++;
			make_page(PAGEP(i), i, gen[i]);
		}
	}
	for (size_t i = 0; i < npages; i++) {
		make_page(want, i, gen[i]);
		if (memcmp(PAGEP(i), want, PAGE)) {
			printf("Corruption! page %zu at the end\n", i);
			return 1;
		}
		for (int k = 0; k < PAGE; k += 512)
			sum = sum * 31 + PAGEP(i)[k];
	}
	printf("fill: %zu MiB, %d passes, checksum %016" PRIx64 "\n", mib,
	       passes, sum);
	for (size_t c = 0; c < nchunks; c++)
		free(chunks[c]);
	free(chunks);
	free(gen);
	return 0;
}
