// SPDX-License-Identifier: MIT
/*
 * syscalls.c - e2e program: system calls on memory that is likely
 * evicted.  write() a large heap buffer to a file and to a pipe, read()
 * it back into another large heap buffer, then compare; the kernel's own
 * accesses must be served like the program's.
 *
 * usage: syscalls MIB DIR
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n > (8u << 20) ? (8u << 20) : n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, unsigned char *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	size_t len = mib << 20;
	unsigned char *a = malloc(len), *b = malloc(len), *c = malloc(len);
	char path[4096];
	int fd, pfd[2];
	pid_t pid;

	if (!a || !b || !c)
		return 2;
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = (i / PAGE) * 0x9e3779b97f4a7c15ull ^ (i & 0xfff);

		memcpy(a + i, &v, 8);
	}
	memset(b, 0x55, len); /* b is resident-then-evicted garbage */
	snprintf(path, sizeof(path), "%s/tmem-syscalls-%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write_all(fd, a, len) || lseek(fd, 0, SEEK_SET) ||
	    read_all(fd, b, len)) {
		perror("file round trip");
		return 2;
	}
	close(fd);
	unlink(path);
	printf("file round trip: %s\n",
	       memcmp(a, b, len) ? "Corruption!" : "ok");

	if (pipe(pfd))
		return 2;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		_exit(write_all(pfd[1], a, len) ? 1 : 0);
	}
	close(pfd[1]);
	memset(c, 0xaa, len);
	if (read_all(pfd[0], c, len))
		return 2;
	waitpid(pid, NULL, 0);
	printf("pipe round trip: %s\n",
	       memcmp(a, c, len) ? "Corruption!" : "ok");
	return memcmp(a, b, len) || memcmp(a, c, len);
}
