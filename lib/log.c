// SPDX-License-Identifier: MIT
/*
 * log.c - logging and assertion failure through write(2).
 *
 * The preload shim, the fault-handler thread and code that runs before
 * main() must not allocate or use stdio (a malloc inside malloc deadlocks;
 * stdio may not be set up yet).  So the library logs with vsnprintf into a
 * stack buffer and one write(2) to stderr: no allocation, no locks, and
 * one message is one write, so lines from two threads do not interleave
 * mid-line.  Messages longer than the buffer are cut.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define LOG_LINE_MAX 512 /* one message; longer ones are cut */

void tm_log(const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, buf, (size_t)n);

		if (w <= 0)
			break;
		n -= (int)w;
	}
}

void tm_assert_fail(const char *expr, const char *file, int line)
{
	tm_log("tmem: assertion failed: %s (%s:%d)\n", expr, file, line);
	abort();
}
