// SPDX-License-Identifier: MIT
/*
 * filemap.c - e2e program: file mappings placed inside the program's own
 * anonymous reservations, the way databases and runtimes window over a
 * file.  Each phase reserves 64 MiB PROT_NONE, maps 1 MiB chunks of a
 * file MAP_SHARED|MAP_FIXED into it at varying places, checks and
 * rewrites them, gives most back to the reservation (a PROT_NONE
 * MAP_FIXED mapping over them, some unmapped first), allocates heap and
 * anonymous memory in between, and at the end of the phase unmaps the
 * whole reservation with the windows still mapped in it.  Fresh anonymous
 * memory must read as zeroes, every heap and anonymous block keeps its
 * bytes, and the file on disk ends up exactly as written through the
 * mappings (read back with pread, not through a mapping).
 *
 * usage: filemap FILE PHASES HEAP_MIB
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1ul << 20)
#define CHUNKS 16 /* the file: 16 chunks of 1 MiB */
#define RESERVE (64 * MIB)
#define SLOTS (RESERVE / MIB)
#define ROUNDS 24 /* file windows mapped per phase */
#define ANON 8 /* anonymous 1 MiB mappings kept at a time */

static uint32_t gen[CHUNKS]; /* how often each chunk was rewritten */
static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* word w of a 1 MiB block named by (kind, id, g) */
static uint64_t word(uint64_t kind, uint64_t id, uint64_t g, size_t w)
{
	if (w % 8) /* compressible, as real data */
		return w % 8;
	return (kind << 56 | id << 32 | g << 20 | w) * 0x9E3779B97F4A7C15ull;
}

static void fill(uint64_t *p, uint64_t kind, uint64_t id, uint64_t g)
{
	for (size_t w = 0; w < MIB / 8; w++)
		p[w] = word(kind, id, g, w);
}

/* returns the number of wrong words */
static size_t check(const uint64_t *p, uint64_t kind, uint64_t id, uint64_t g)
{
	size_t bad = 0;

	for (size_t w = 0; w < MIB / 8; w++)
		bad += p[w] != word(kind, id, g, w);
	return bad;
}

static size_t nonzero(const uint64_t *p)
{
	size_t bad = 0;

	for (size_t w = 0; w < MIB / 8; w++)
		bad += p[w] != 0;
	return bad;
}

static int fail(const char *what, size_t id, size_t bad)
{
	printf("Corruption! %s %zu: %zu wrong words\n", what, id, bad);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: filemap FILE PHASES HEAP_MIB\n");
		return 2;
	}
	const char *path = argv[1];
	int phases = atoi(argv[2]);
	size_t nheap = strtoul(argv[3], NULL, 0);
	uint64_t **heap = calloc(nheap, sizeof(*heap));
	uint32_t *hgen = calloc(nheap, sizeof(*hgen));
	uint64_t *anon[ANON] = { 0 };
	uint32_t agen[ANON] = { 0 };
	size_t bad, windows = 0, unmaps = 0, rereserves = 0;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || ftruncate(fd, CHUNKS * MIB) || !heap || !hgen) {
		perror("filemap: setup");
		return 2;
	}
	for (size_t k = 0; k < CHUNKS; k++) {
		uint64_t *buf = malloc(MIB);

		fill(buf, 1, k, 0);
		if (pwrite(fd, buf, MIB, (off_t)(k * MIB)) != (ssize_t)MIB) {
			perror("filemap: pwrite");
			return 2;
		}
		free(buf);
	}
	for (size_t i = 0; i < nheap; i++) {
		heap[i] = malloc(MIB);
		fill(heap[i], 2, i, 0);
	}

	for (int ph = 0; ph < phases; ph++) {
		char *res = mmap(NULL, RESERVE, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				 -1, 0);

		if (res == MAP_FAILED) {
			perror("filemap: reserve");
			return 2;
		}
		for (int r = 0; r < ROUNDS; r++) {
			size_t k = next() % CHUNKS, s = next() % SLOTS;
			size_t h = next() % nheap, a = next() % ANON;
			char *at = res + s * MIB;
			uint64_t *p = mmap(at, MIB, PROT_READ | PROT_WRITE,
					   MAP_SHARED | MAP_FIXED, fd,
					   (off_t)(k * MIB));

			if (p == MAP_FAILED || (char *)p != at) {
				printf("mmap MAP_FIXED of chunk %zu: %s\n", k,
				       strerror(errno));
				return 1;
			}
			windows++;
			bad = check(p, 1, k, gen[k]);
			if (bad)
				return fail("file window", k, bad);
			fill(p, 1, k, ++gen[k]);
			/*
			 * Give the window back to the reservation: unmap it
			 * first (nothing else can land in the hole: one
			 * thread, no allocation in between) or map over it;
			 * or leave it until the reservation goes.
			 */
			if (r % 3 == 0) {
				munmap(p, MIB);
				unmaps++;
			}
			if (r % 3 != 2) {
				mmap(p, MIB, PROT_NONE,
				     MAP_PRIVATE | MAP_ANONYMOUS |
					     MAP_NORESERVE | MAP_FIXED,
				     -1, 0);
				rereserves++;
			}

			/* the heap: check one block, replace another */
			bad = check(heap[h], 2, h, hgen[h]);
			if (bad)
				return fail("heap block", h, bad);
			free(heap[h]);
			heap[h] = malloc(MIB);
			fill(heap[h], 2, h, ++hgen[h]);

			/* anonymous memory: must be fresh, then keeps data */
			if (anon[a]) {
				bad = check(anon[a], 3, a, agen[a]);
				if (bad)
					return fail("anonymous block", a, bad);
				munmap(anon[a], MIB);
			}
			anon[a] = mmap(NULL, MIB, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (anon[a] == MAP_FAILED) {
				perror("filemap: mmap");
				return 2;
			}
			bad = nonzero(anon[a]);
			if (bad)
				return fail("fresh anonymous block", a, bad);
			fill(anon[a], 3, a, ++agen[a]);
		}
		munmap(res, RESERVE);
	}

	for (size_t i = 0; i < nheap; i++) {
		bad = check(heap[i], 2, i, hgen[i]);
		if (bad)
			return fail("heap block", i, bad);
		free(heap[i]);
	}
	for (size_t a = 0; a < ANON; a++) {
		bad = anon[a] ? check(anon[a], 3, a, agen[a]) : 0;
		if (bad)
			return fail("anonymous block", a, bad);
	}
	close(fd);

	/* the file as the kernel has it, read without a mapping */
	uint64_t *buf = malloc(MIB);
	uint64_t sum = 0;

	fd = open(path, O_RDONLY);
	for (size_t k = 0; k < CHUNKS; k++) {
		if (pread(fd, buf, MIB, (off_t)(k * MIB)) != (ssize_t)MIB) {
			perror("filemap: pread");
			return 2;
		}
		bad = check(buf, 1, k, gen[k]);
		if (bad)
			return fail("file on disk, chunk", k, bad);
		sum += gen[k];
	}
	printf("filemap: %d phases, %zu windows (%zu unmapped, %zu "
	       "re-reserved), %zu MiB heap, file rewritten %" PRIu64
	       " times: ok\n",
	       phases, windows, unmaps, rereserves, nheap, sum);
	return 0;
}
