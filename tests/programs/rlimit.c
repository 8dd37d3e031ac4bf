// SPDX-License-Identifier: MIT
/*
 * rlimit.c - e2e regression program: an address-space limit.  With
 * LIMIT_MIB > 0 the program sets RLIMIT_AS itself, then starts threads,
 * maps a file and asks malloc for more than the limit (which must fail,
 * as it does without tmem).  In both modes it then works through
 * WORK_MIB MiB of heap (written, then verified in two passes) and prints
 * a checksum.  Run once plainly and once managed: the output must match.
 *
 * usage: rlimit LIMIT_MIB WORK_MIB FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define THREADS 4

static uint64_t expect(size_t i)
{
	return (i % 512) ? i & 0xff : i * 0x9E3779B97F4A7C15ull;
}

static void *thread_main(void *arg)
{
	uint64_t *out = arg, sum = 0;

	for (size_t i = 0; i < (1u << 20); i++)
		sum += expect(i);
	*out = sum;
	return NULL;
}

static const char *err(int e)
{
	return e ? strerrorname_np(e) : "ok";
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: rlimit LIMIT_MIB WORK_MIB FILE\n");
		return 2;
	}
	size_t limit = strtoul(argv[1], NULL, 0);
	size_t work = strtoul(argv[2], NULL, 0);
	pthread_t t[THREADS];
	uint64_t tsum[THREADS], sum = 0;
	int rc[THREADS];

	if (limit) {
		struct rlimit rl = { limit << 20, limit << 20 };

		printf("setrlimit(RLIMIT_AS, %zu MiB): %s\n", limit,
		       err(setrlimit(RLIMIT_AS, &rl) ? errno : 0));
	}

	for (int i = 0; i < THREADS; i++)
		rc[i] = pthread_create(&t[i], NULL, thread_main, &tsum[i]);
	for (int i = 0; i < THREADS; i++) {
		if (!rc[i])
			pthread_join(t[i], NULL);
		printf("thread %d: %s%s\n", i, err(rc[i]),
		       !rc[i] && tsum[i] != tsum[0] ? " (wrong sum)" : "");
	}

	int fd = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0600);
	void *m = MAP_FAILED;

	if (fd >= 0 && ftruncate(fd, 1 << 20) == 0)
		m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 0);
	printf("mmap of a 1 MiB file: %s\n", err(m == MAP_FAILED ? errno : 0));
	if (m != MAP_FAILED) {
		memset(m, 0x5a, 1 << 20);
		munmap(m, 1 << 20);
	}
	if (fd >= 0)
		close(fd);

	if (limit) {
		size_t big = limit * 3 / 2;
		void *p = malloc(big << 20);

		printf("malloc(%zu MiB) over the limit: %s\n", big,
		       p ? "succeeded" : "failed");
		free(p);
	}

	size_t n = (work << 20) / 8;
	uint64_t *w = malloc(n * 8);

	if (!w) {
		printf("malloc(%zu MiB): failed\n", work);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		w[i] = expect(i);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			if (w[i] != expect(i)) {
				printf("Corruption! word %zu\n", i);
				return 1;
			}
			sum = (sum ^ w[i]) * 0x9E3779B97F4A7C15ull;
			sum ^= sum >> 29;
		}
	printf("%zu MiB verified twice, checksum %016" PRIx64 "\n", work, sum);
	free(w);
	return 0;
}
