// SPDX-License-Identifier: MIT
/*
 * madvise-batch.c - what dropping pages costs, one madvise() per page
 * against one process_madvise() per batch, while another thread of the
 * process runs on another CPU.
 *
 * Why this exists: tmem run's evictor drops a batch of scattered pages
 * with one process_madvise(MADV_DONTNEED) (preload/region.c,
 * drop_stored()).  Every madvise() in a multi-threaded process sends a
 * TLB shootdown to the other CPUs running it; process_madvise() over a
 * vector of ranges flushes once (Linux 6.13+ for MADV_DONTNEED on
 * oneself).  On a paravirtualized VM the shootdown is the dominant cost.
 *
 * usage: madvise-batch [BATCHES]   (default 400 batches of 256 pages)
 * Prints us per page for both, side by side, and their ratio.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define BATCH 256
#define PIDFD_SELF_THREAD (-10000) /* Linux 6.14+ */

static atomic_int stop;

/* The "program" on the other CPU: its TLB is what a drop must flush. */
static void *spin(void *arg)
{
	volatile char *p = arg;

	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		p[0]++;
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Every other page of a 2 * BATCH window: scattered, like victims. */
static void victims(struct iovec *iov, char *base)
{
	for (int k = 0; k < BATCH; k++) {
		iov[k].iov_base = base + (size_t)2 * k * PAGE;
		iov[k].iov_len = PAGE;
	}
}

int main(int argc, char **argv)
{
	long batches = argc > 1 ? atol(argv[1]) : 400;
	size_t len = (size_t)batches * 2 * BATCH * PAGE;
	struct iovec iov[BATCH];
	double per_page[2];
	char spot[64];
	pthread_t t;
	int pidfd;
	char *p;

	if (batches < 1) {
		fprintf(stderr, "usage: madvise-batch [BATCHES >= 1]\n");
		return 2;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED) {
		perror("madvise-batch: mmap");
		return 1;
	}
	pidfd = PIDFD_SELF_THREAD;
	victims(iov, p);
	memset(p, 1, PAGE);
	if (syscall(SYS_process_madvise, pidfd, iov, 1, MADV_DONTNEED, 0) !=
	    PAGE) {
		pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		if (pidfd < 0 || syscall(SYS_process_madvise, pidfd, iov, 1,
					 MADV_DONTNEED, 0) != PAGE) {
			fprintf(stderr, "madvise-batch: this kernel has no "
					"process_madvise(MADV_DONTNEED) on "
					"oneself\n");
			return 1;
		}
	}
	if (pthread_create(&t, NULL, spin, spot)) {
		fprintf(stderr, "madvise-batch: cannot start a thread\n");
		return 1;
	}
	for (int mode = 0; mode < 2; mode++) {
		double t0, spent = 0;

		memset(p, 1, len);
		for (long b = 0; b < batches; b++) {
			victims(iov, p + (size_t)b * 2 * BATCH * PAGE);
			t0 = now();
			if (mode == 0) {
				for (int k = 0; k < BATCH; k++)
					madvise(iov[k].iov_base, PAGE,
						MADV_DONTNEED);
			} else if (syscall(SYS_process_madvise, pidfd, iov,
					   BATCH, MADV_DONTNEED,
					   0) != BATCH * PAGE) {
				perror("madvise-batch: process_madvise");
				return 1;
			}
			spent += now() - t0;
		}
		per_page[mode] = spent / ((double)batches * BATCH) * 1e6;
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("drop %d scattered pages, another thread running: "
	       "madvise per page %.2f us/page, process_madvise per batch "
	       "%.2f us/page, ratio %.1fx\n",
	       BATCH, per_page[0], per_page[1], per_page[0] / per_page[1]);
	return 0;
}
