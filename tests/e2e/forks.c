// SPDX-License-Identifier: MIT
/*
 * forks.c - e2e program: fill a heap block larger than the budget, then
 * (1) fork a child that verifies every page and rewrites half of them
 * while the parent does the same, (2) fork + exec this program in
 * "verify" mode, which fills and checks its own memory, (3) system().
 * Every process checks every byte it should see.
 *
 * usage: forks MIB | forks --child MIB
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

/* pages [from, to) of m */
static void fill(unsigned char *m, size_t from, size_t to, uint32_t tag)
{
	for (size_t i = from; i < to; i++)
		for (int k = 0; k < PAGE; k += 8) {
			uint64_t v =
				(k < 256) ? (i * 2654435761u) ^ tag : (size_t)k;

			memcpy(m + i * PAGE + k, &v, 8);
		}
}

static long verify(const unsigned char *m, size_t from, size_t to, uint32_t tag)
{
	for (size_t i = from; i < to; i++)
		for (int k = 0; k < PAGE; k += 8) {
			uint64_t v = (k < 256) ? (i * 2654435761u) ^ tag
					       : (size_t)k,
				 w;

			memcpy(&w, m + i * PAGE + k, 8);
			if (v != w)
				return (long)i;
		}
	return -1;
}

static int child_mode(size_t mib)
{
	size_t n = (mib << 20) / PAGE;
	unsigned char *m = malloc(n * PAGE);

	fill(m, 0, n, 0xc0ffee);
	if (verify(m, 0, n, 0xc0ffee) >= 0) {
		printf("Corruption! in the exec'd child\n");
		return 1;
	}
	free(m);
	return 0;
}

int main(int argc, char **argv)
{
	size_t mib, n;
	unsigned char *m;
	int status, rc = 0;
	char arg[32];
	pid_t pid;

	if (argc > 2 && !strcmp(argv[1], "--child"))
		return child_mode(strtoul(argv[2], NULL, 0));
	mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	n = (mib << 20) / PAGE;
	m = malloc(n * PAGE);
	if (!m)
		return 2;
	fill(m, 0, n, 1);

	pid = fork();
	if (pid == 0) {
		if (verify(m, 0, n, 1) >= 0)
			_exit(10);
		fill(m, 0, n / 2, 2);
		if (verify(m, 0, n / 2, 2) >= 0 || verify(m, n / 2, n, 1) >= 0)
			_exit(11);
		_exit(0);
	}
	fill(m, n / 2, n, 3);
	waitpid(pid, &status, 0);
	printf("fork child: %s\n", WIFEXITED(status) && !WEXITSTATUS(status)
					   ? "ok"
					   : "Corruption!");
	rc |= !(WIFEXITED(status) && !WEXITSTATUS(status));
	if (verify(m, 0, n / 2, 1) >= 0 || verify(m, n / 2, n, 3) >= 0) {
		printf("Corruption! in the parent after fork\n");
		rc = 1;
	}

	snprintf(arg, sizeof(arg), "%zu", mib);
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "--child", arg, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	printf("fork+exec child: %s\n",
	       WIFEXITED(status) && !WEXITSTATUS(status) ? "ok"
							 : "Corruption!");
	rc |= !(WIFEXITED(status) && !WEXITSTATUS(status));

	status = system("exit 3");
	printf("system: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	if (verify(m, 0, n / 2, 1) >= 0 || verify(m, n / 2, n, 3) >= 0) {
		printf("Corruption! in the parent at the end\n");
		rc = 1;
	}
	free(m);
	return rc;
}
