// SPDX-License-Identifier: MIT
/*
 * reserve.c - e2e regression program: a large PROT_NONE reservation, as
 * runtimes make for their heaps (and sanitizers for their shadows), with
 * a small part of it committed and used.  Reserves RESERVE_GIB GiB,
 * commits WORK_MIB MiB at its start with mprotect, fills it, verifies it
 * in three passes and prints a checksum.  Under a budget below WORK_MIB
 * the reservation itself must cost no resident memory.
 *
 * usage: reserve RESERVE_GIB WORK_MIB
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static uint64_t expect(size_t i, int pass)
{
	return (i % 512) ? (i + pass) & 0xff
			 : (i + pass) * 0x9E3779B97F4A7C15ull;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: reserve RESERVE_GIB WORK_MIB\n");
		return 2;
	}
	size_t gib = strtoul(argv[1], NULL, 0);
	size_t mib = strtoul(argv[2], NULL, 0);
	size_t n = (mib << 20) / 8;
	uint64_t *p, sum = 0;

	p = mmap(NULL, gib << 30, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("reserve: mmap");
		return 2;
	}
	if (mprotect(p, mib << 20, PROT_READ | PROT_WRITE)) {
		perror("reserve: mprotect");
		return 2;
	}
	for (size_t i = 0; i < n; i++)
		p[i] = expect(i, 0);
	for (int pass = 0; pass < 3; pass++)
		for (size_t i = 0; i < n; i++) {
			if (p[i] != expect(i, pass)) {
				printf("Corruption! word %zu, pass %d\n", i,
				       pass);
				return 1;
			}
			p[i] = expect(i, pass + 1);
			sum = (sum ^ p[i]) * 0x9E3779B97F4A7C15ull;
			sum ^= sum >> 29;
		}
	munmap(p, gib << 30);
	printf("reserved %zu GiB, used %zu MiB, checksum %016" PRIx64 "\n", gib,
	       mib, sum);
	return 0;
}
