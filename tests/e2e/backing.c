// SPDX-License-Identifier: MIT
/*
 * backing.c - e2e program for `tmem run --backing-file`: data that does
 * not fit the budget even compressed.  Fills MIB of heap, every other
 * page incompressible (random bytes from a seeded PRNG) and the rest
 * compressible (a random header, then text), then makes PASSES passes in
 * random order, each verifying every byte of a page against what it must
 * hold and rewriting it (a new generation), then verifies everything in
 * order.  Prints one line of counts and a checksum; on the first wrong
 * byte prints "Corruption!" and exits 1.
 *
 * With "fork", a child is forked after the first pass, while most pages
 * are on the parent's backing file: the child verifies every page,
 * rewrites half of them and verifies again, while the parent goes on
 * with its own passes; each checks only what it wrote itself.  The
 * parent prints after the child has exited, so the output is the same
 * with and without tmem.
 *
 * With "closeall", it first closes every descriptor from 3 up, as
 * daemons do (close_range() and close() one by one), then dup2()s
 * /dev/null onto each one that is still open (tmem's, which its close()
 * passes by): tmem's backing file must survive both.
 *
 * usage: backing MIB [PASSES] [SEED] [fork|closeall]
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define CHUNK (4u << 20) /* heap blocks: 4 MiB, as a program's arrays */
#define PER (CHUNK / PAGE)

static unsigned char **chunks;
static uint32_t *gen;
static size_t npages;
static uint64_t seed0;

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static unsigned char *page_at(size_t i)
{
	return chunks[i / PER] + (i % PER) * PAGE;
}

/* What page @i holds at generation @g. */
static void make_page(unsigned char *p, size_t i, uint32_t g)
{
	uint64_t s = (seed0 ^ (i * 0x9e3779b97f4a7c15ull)) +
		     g * 0xbf58476d1ce4e5b9ull + 1;
	char line[64];
	int len, k;

	if (i % 2 == 0) {
		for (k = 0; k < PAGE; k += 8) {
			uint64_t v = rng(&s);

			memcpy(p + k, &v, 8);
		}
		return;
	}
	for (k = 0; k < 64; k += 8) {
		uint64_t v = rng(&s);

		memcpy(p + k, &v, 8);
	}
	len = snprintf(line, sizeof(line), "page %zu, generation %u\n", i,
		       (unsigned)g);
	for (; k + len <= PAGE; k += len)
		memcpy(p + k, line, (size_t)len);
	memset(p + k, 0, (size_t)(PAGE - k));
}

static int check(size_t i, const char *when, int pass)
{
	unsigned char want[PAGE];

	make_page(want, i, gen[i]);
	if (!memcmp(page_at(i), want, PAGE))
		return 0;
	for (size_t k = 0; k < PAGE; k++)
		if (page_at(i)[k] != want[k]) {
			printf("Corruption! page %zu byte %zu %s %d: %02x, not "
			       "%02x\n",
			       i, k, when, pass, page_at(i)[k], want[k]);
			break;
		}
	return 1;
}

/* A pass over the pages i with i % @mod == @rem, in random order. */
static int pass_random(uint64_t *s, int pass, size_t mod, size_t rem)
{
	size_t n = (npages - rem + mod - 1) / mod;

	for (size_t k = 0; k < n; k++) {
		size_t i = (size_t)(rng(s) % n) * mod + rem;

		if (check(i, "pass", pass))
			return 1;
		gen[i]++;
		make_page(page_at(i), i, gen[i]);
	}
	return 0;
}

static int verify_all(const char *when, uint64_t *sum)
{
	for (size_t i = 0; i < npages; i++) {
		if (check(i, when, 0))
			return 1;
		for (int k = 0; k < PAGE; k += 256)
			*sum = *sum * 31 + page_at(i)[k];
	}
	return 0;
}

/* The fork child: everything as inherited, then the odd pages rewritten
 * twice, all of it verified again. */
static int child_main(void)
{
	uint64_t s = seed0 ^ 0x5eed, sum = 0;

	if (verify_all("in the child, as inherited", &sum))
		return 1;
	for (int pass = 0; pass < 2; pass++)
		if (pass_random(&s, pass, 2, 1))
			return 1;
	if (verify_all("in the child, at the end", &sum))
		return 1;
	printf("backing child: %zu pages checked, checksum %016" PRIx64 "\n",
	       npages, sum);
	return 0;
}

/* Close what a daemon would close, then take over what is left. */
static void close_all(void)
{
	int null;

	syscall(SYS_close_range, 3u, ~0u, 0u);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	null = open("/dev/null", O_RDWR);
	for (int fd = 3; fd < 1024; fd++)
		if (fd != null && fcntl(fd, F_GETFD) >= 0)
			dup2(null, fd);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	int passes = argc > 2 ? atoi(argv[2]) : 3;
	int forking = argc > 4 && !strcmp(argv[4], "fork");
	uint64_t s, sum = 0;
	size_t nchunks;
	pid_t child = -1;
	int status;

	seed0 = argc > 3 ? strtoull(argv[3], NULL, 0) : 1;
	if (argc > 4 && !strcmp(argv[4], "closeall"))
		close_all();
	s = seed0 | 1;
	npages = (mib << 20) / PAGE;
	nchunks = (npages + PER - 1) / PER;
	chunks = calloc(nchunks, sizeof(*chunks));
	gen = calloc(npages, sizeof(*gen));
	if (!chunks || !gen)
		return 2;
	for (size_t c = 0; c < nchunks; c++) {
		chunks[c] = malloc(CHUNK);
		if (!chunks[c]) {
			fprintf(stderr, "backing: out of memory\n");
			return 2;
		}
	}
	for (size_t i = 0; i < npages; i++)
		make_page(page_at(i), i, 0);
	for (int pass = 0; pass < passes; pass++) {
		if (pass_random(&s, pass, 1, 0))
			return 1;
		if (pass == 0 && forking) {
			fflush(stdout);
			child = fork();
			if (child < 0) {
				perror("backing: fork");
				return 2;
			}
			if (child == 0)
				exit(child_main());
		}
	}
	if (verify_all("at the end", &sum))
		return 1;
	if (child > 0) {
		if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			printf("backing: the child failed (status %d)\n",
			       status);
			return 1;
		}
	}
	printf("backing: %zu MiB, %zu pages, %d passes, checksum %016" PRIx64
	       "\n",
	       mib, npages, passes, sum);
	for (size_t c = 0; c < nchunks; c++)
		free(chunks[c]);
	free(chunks);
	free(gen);
	return 0;
}
