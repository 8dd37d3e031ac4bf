// SPDX-License-Identifier: MIT
/*
 * threads.c - e2e program: writer threads rewrite random pages of a
 * shared heap block (each page carries its own checksum) while reader
 * threads verify random pages, all while eviction runs underneath.  A
 * page is locked by its stripe so a reader never sees a half-written
 * page; any checksum mismatch is corruption.  Output is deterministic.
 *
 * usage: threads MIB [ROUNDS]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096
#define STRIPES 1024
#define WRITERS 3
#define READERS 3

static unsigned char *mem;
static size_t npages;
static long rounds;
static pthread_mutex_t stripe[STRIPES];
static int bad;

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t sum(const unsigned char *p)
{
	uint64_t h = 1469598103934665603ull;

	for (int k = 8; k < PAGE; k++)
		h = (h ^ p[k]) * 1099511628211ull;
	return h;
}

static void write_page(unsigned char *p, uint64_t *s)
{
	uint64_t h;

	for (int k = 8; k < PAGE; k += 8) {
		uint64_t v = (k & 64) ? rng(s) & 0x0f0f : (uint64_t)k;

		memcpy(p + k, &v, 8);
	}
	h = sum(p);
	memcpy(p, &h, 8);
}

static int check_page(const unsigned char *p)
{
	uint64_t h;

	memcpy(&h, p, 8);
	return h == sum(p);
}

static void *writer(void *arg)
{
	uint64_t s = (uintptr_t)arg * 7919 + 1;

	for (long r = 0; r < rounds; r++) {
		size_t i = rng(&s) % npages;

		pthread_mutex_lock(&stripe[i % STRIPES]);
		if (!check_page(mem + i * PAGE))
			__atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
		write_page(mem + i * PAGE, &s);
		pthread_mutex_unlock(&stripe[i % STRIPES]);
	}
	return NULL;
}

static void *reader(void *arg)
{
	uint64_t s = (uintptr_t)arg * 104729 + 3;

	for (long r = 0; r < rounds; r++) {
		size_t i = rng(&s) % npages;

		pthread_mutex_lock(&stripe[i % STRIPES]);
		if (!check_page(mem + i * PAGE))
			__atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&stripe[i % STRIPES]);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	pthread_t t[WRITERS + READERS];
	uint64_t s = 42;

	rounds = argc > 2 ? atol(argv[2]) : 100000;
	npages = (mib << 20) / PAGE;
	mem = malloc(npages * PAGE);
	if (!mem)
		return 2;
	for (int k = 0; k < STRIPES; k++)
		pthread_mutex_init(&stripe[k], NULL);
	for (size_t i = 0; i < npages; i++)
		write_page(mem + i * PAGE, &s);
	for (uintptr_t k = 0; k < WRITERS; k++)
		pthread_create(&t[k], NULL, writer, (void *)k);
	for (uintptr_t k = 0; k < READERS; k++)
		pthread_create(&t[WRITERS + k], NULL, reader, (void *)k);
	for (int k = 0; k < WRITERS + READERS; k++)
		pthread_join(t[k], NULL);
	for (size_t i = 0; i < npages; i++)
		if (!check_page(mem + i * PAGE))
			bad = 1;
	if (bad) {
		printf("Corruption! a page checksum did not match\n");
		return 1;
	}
	printf("threads: %zu MiB, %d writers, %d readers, all pages intact\n",
	       mib, WRITERS, READERS);
	free(mem);
	return 0;
}
