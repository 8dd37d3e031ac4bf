// SPDX-License-Identifier: MIT
/*
 * mlock.c - e2e regression program: mlockall(MCL_CURRENT | MCL_FUTURE),
 * then allocate, fill and verify MIB MiB.  Prints what mlockall returned
 * and a checksum; a plain run and a managed one must print the same.
 * Under tmem (as root) mlockall once made the kernel populate the whole
 * 256 GiB region: run this only inside a memory cgroup with a cap.
 *
 * usage: mlock MIB
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	size_t n = (mib << 20) / 8;
	int rc = mlockall(MCL_CURRENT | MCL_FUTURE);
	uint64_t *p, sum = 0;

	printf("mlockall: %s\n", rc ? strerrorname_np(errno) : "ok");
	fflush(stdout);
	p = malloc(n * 8);
	if (!p) {
		printf("malloc %zu MiB: failed\n", mib);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		p[i] = (i % 512) ? i & 0xff : i * 0x9E3779B97F4A7C15ull;
	for (size_t i = 0; i < n; i++) {
		if (p[i] !=
		    ((i % 512) ? i & 0xff : i * 0x9E3779B97F4A7C15ull)) {
			printf("Corruption! word %zu\n", i);
			return 1;
		}
		sum = (sum ^ p[i]) * 0x9E3779B97F4A7C15ull;
		sum ^= sum >> 29;
	}
	printf("%zu MiB verified, checksum %016" PRIx64 "\n", mib, sum);
	free(p);
	return 0;
}
