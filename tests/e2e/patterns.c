// SPDX-License-Identifier: MIT
/*
 * patterns.c - e2e program: memory-use patterns of real programs that
 * hung or lost data under `tmem run` (issue 12).  One subcommand per
 * pattern; each fills its memory with a known pattern, does what the
 * program it stands for does (fork without atfork handlers, close every
 * descriptor in a child, map files over anonymous reservations, decommit
 * with MAP_FIXED, pin buffers for io_uring or O_DIRECT, MADV_WIPEONFORK
 * and MADV_DONTFORK), checks every byte it reads back and prints exactly
 * one line: "ok NAME", "ok NAME (skipped: why)" or "FAIL NAME: why"
 * ("Corruption!" in it when a byte was wrong).  Exit 0 on ok, 1 on FAIL.
 *
 * The output does not depend on the run: tests/test-patterns.sh runs
 * each subcommand plainly and under `tmem run --ram <small>` and wants
 * the same line and status.  The sizes are chosen against the budgets
 * that script uses (32M-64M): the data is several times the budget, so
 * the pages the test reads back were evicted to the pool first.
 *
 * Children report through their exit status (the CH_* codes), never
 * through stdio; those made without atfork handlers only read memory and
 * make system calls before they exit.  A child that does not finish
 * within CHILD_WAIT_S is killed and reported as hung, so a hang is a FAIL
 * line rather than a stuck suite.
 *
 * usage: patterns NAME [DIR]    (DIR for temporary files: default /tmp)
 *        patterns list
 */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <linux/io_uring.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wchar.h>

#define PAGE 4096
#define MIB (1ul << 20)
#define BIG_MIB 192 /* data of the fork patterns: 3x a 64M budget */
#define PRESSURE_MIB 128 /* what pushes a smaller buffer out of 32M-64M */
#define SAMPLE_STEP 4 /* children check every 4th page: 48 MiB of 192 */
#define CHILD_WAIT_S 15 /* below the script's timeout, above any pass */
#define HEAD_WORDS 32 /* per-page unique words; the rest compresses */

/* What a child's exit status means. */
enum {
	CH_OK = 0,
	CH_ZEROES = 10, /* read zeroes where data was */
	CH_WRONG = 11, /* read other wrong bytes */
	CH_SETUP = 12, /* a system call the pattern needs failed */
	CH_LOCALE = 13, /* the locale did not survive the fork */
	CH_SECRET = 14, /* a MADV_WIPEONFORK page still held its data */
	CH_READ = 15, /* a MADV_DONTFORK page could be read */
	CH_SEGV = 16, /* SIGSEGV, but not on the MADV_DONTFORK page */
	CH_PIPE = 17, /* a pipe gave back other bytes than were written */
	CH_HANG = 99, /* not an exit status: killed after CHILD_WAIT_S */
};

static const char *name;
static const char *dir = "/tmp";

static int ok(void)
{
	printf("ok %s\n", name);
	return 0;
}

static int skip(const char *why)
{
	printf("ok %s (skipped: %s)\n", name, why);
	return 0;
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return 1;
}

/* ------------------------------------------------------------------ */
/* Data: a pattern every page of which is different and checkable      */
/* ------------------------------------------------------------------ */

/*
 * Word k of page i: unique words in the page's head, then one word
 * repeated, still the page's own.  Compresses 25-35:1 (measured), so the
 * data of every pattern fits the pool of a 32M-64M budget, which holds.
 */
static uint64_t word(size_t i, size_t k, uint64_t tag)
{
	if (k < HEAD_WORDS)
		return (i * 0x9e3779b97f4a7c15ull) ^ (tag << 8) ^ k;
	return ((uint64_t)i << 24) ^ (tag * 0x0101010101ull);
}

static void put_page(unsigned char *pg, size_t i, uint64_t tag)
{
	for (size_t k = 0; k < PAGE / 8; k++) {
		uint64_t v = word(i, k, tag);

		memcpy(pg + k * 8, &v, 8);
	}
}

/* Byte offset of the first wrong byte in page i, or -1. */
static long page_bad(const unsigned char *pg, size_t i, uint64_t tag)
{
	for (size_t k = 0; k < PAGE / 8; k++) {
		uint64_t v = word(i, k, tag), w;

		memcpy(&w, pg + k * 8, 8);
		if (v != w) {
			for (size_t b = 0; b < 8; b++)
				if (pg[k * 8 + b] != ((unsigned char *)&v)[b])
					return (long)(k * 8 + b);
		}
	}
	return -1;
}

static void fill(unsigned char *m, size_t pages, uint64_t tag)
{
	for (size_t i = 0; i < pages; i++)
		put_page(m + i * PAGE, i, tag);
}

/* Offset of the first wrong byte in every step-th page of m, or -1. */
static long long first_bad(const unsigned char *m, size_t pages, size_t step,
			   uint64_t tag)
{
	for (size_t i = 0; i < pages; i += step) {
		long b = page_bad(m + i * PAGE, i, tag);

		if (b >= 0)
			return (long long)(i * PAGE) + b;
	}
	return -1;
}

/* Like first_bad(), every page, page j of m being page i0 + j. */
static long long pages_bad(const unsigned char *m, size_t i0, size_t pages,
			   uint64_t tag)
{
	for (size_t j = 0; j < pages; j++) {
		long b = page_bad(m + j * PAGE, i0 + j, tag);

		if (b >= 0)
			return (long long)(j * PAGE) + b;
	}
	return -1;
}

/* The child's verdict on its data: CH_OK, CH_ZEROES or CH_WRONG. */
static int child_check(const unsigned char *m, size_t pages, uint64_t tag)
{
	long long b = first_bad(m, pages, SAMPLE_STEP, tag);

	if (b < 0)
		return CH_OK;
	return m[b] ? CH_WRONG : CH_ZEROES;
}

/* Offset of the first non-zero byte of p, or -1. */
static long long nonzero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return (long long)i;
	return -1;
}

/*
 * The FAIL line for pages [0, pages) of m, page j being page i0 + j, of
 * which byte b is the first wrong one: how many pages are wrong, how many
 * of those read as zeroes, and the first wrong byte.
 */
static int report_bad(const char *what, const unsigned char *m, size_t pages,
		      long long b, size_t i0, uint64_t tag)
{
	unsigned char want[PAGE];
	size_t wrong = 0, zero = 0;

	for (size_t j = 0; j < pages; j++) {
		if (page_bad(m + j * PAGE, i0 + j, tag) < 0)
			continue;
		wrong++;
		zero += nonzero(m + j * PAGE, PAGE) < 0;
	}
	put_page(want, i0 + (size_t)b / PAGE, tag);
	return fail("Corruption! %s: %zu of %zu pages wrong, %zu of them "
		    "zeroes; first at byte %lld: 0x%02x, wanted 0x%02x",
		    what, wrong, pages, zero, b, m[b], want[b % PAGE]);
}

/* Allocate, touch and free enough memory to push colder data out. */
static int pressure(size_t mib)
{
	unsigned char *p = malloc(mib * MIB);

	if (!p)
		return -1;
	fill(p, mib * MIB / PAGE, 0x5eed);
	/* The stores are the point: keep the compiler from dropping them. */
	__asm__ volatile("" : : "r"(p) : "memory");
	free(p);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Children                                                            */
/* ------------------------------------------------------------------ */

/* Wait for pid; kill it if it has not ended after CHILD_WAIT_S. */
static int wait_child(pid_t pid)
{
	int status;

	for (int ms = 0; ms < CHILD_WAIT_S * 1000; ms += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -CH_HANG;
}

static const char *child_why(int code)
{
	switch (code) {
	case CH_ZEROES:
		return "Corruption! the child read zeroes where data was";
	case CH_WRONG:
		return "Corruption! the child read wrong bytes";
	case CH_SETUP:
		return "a system call failed in the child";
	case CH_LOCALE:
		return "the child lost the locale";
	case CH_SECRET:
		return "the child read a MADV_WIPEONFORK page's data";
	case CH_READ:
		return "the child read a MADV_DONTFORK page";
	case CH_SEGV:
		return "the child got SIGSEGV away from the MADV_DONTFORK page";
	case CH_PIPE:
		return "Corruption! a pipe in the child gave back other bytes";
	default:
		return "unexpected exit status";
	}
}

/* Wait for a child that should exit with want; FAIL line if not. */
static int child_result(pid_t pid, int want)
{
	int st;

	if (pid < 0)
		return fail("fork: %s", strerror(errno));
	st = wait_child(pid);
	if (st == -CH_HANG)
		return fail("the child hung (killed after %d s)", CHILD_WAIT_S);
	if (st < 0)
		return fail("waitpid: %s", strerror(errno));
	if (WIFSIGNALED(st))
		return fail("the child was killed by signal %d (%s)",
			    WTERMSIG(st), strsignal(WTERMSIG(st)));
	if (WEXITSTATUS(st) != want)
		return fail("child exit %d: %s", WEXITSTATUS(st),
			    child_why(WEXITSTATUS(st)));
	return 0;
}

/* The fork patterns' data: BIG_MIB, filled, most of it evicted by now. */
static unsigned char *big_data(uint64_t tag)
{
	unsigned char *m = malloc(BIG_MIB * MIB);

	if (m)
		fill(m, BIG_MIB * MIB / PAGE, tag);
	return m;
}

static int parent_check(const unsigned char *m, uint64_t tag)
{
	long long b = first_bad(m, BIG_MIB * MIB / PAGE, SAMPLE_STEP, tag);

	if (b >= 0)
		return report_bad("the parent's data after the fork", m,
				  BIG_MIB * MIB / PAGE, b, 0, tag);
	return 0;
}

/* ------------------------------------------------------------------ */
/* 1. fork after the locale data was evicted; a thread in the child    */
/* ------------------------------------------------------------------ */

static int locale_ok(void)
{
	wchar_t wc = 0;
	mbstate_t st;

	memset(&st, 0, sizeof(st));
	if (strcmp(nl_langinfo(CODESET), "UTF-8"))
		return 0;
	/* U+00E9 in UTF-8: the conversion tables must be readable */
	return mbrtowc(&wc, "\xc3\xa9", 2, &st) == 2 && wc == 0xe9;
}

static int fork_locale(void)
{
	unsigned char *m;
	pid_t pid;

	if (!setlocale(LC_ALL, "C.UTF-8"))
		return skip("no C.UTF-8 locale here");
	m = big_data(1);
	if (!m)
		return fail("malloc %d MiB failed", BIG_MIB);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r = child_check(m, BIG_MIB * MIB / PAGE, 1);

		_exit(r ? r : locale_ok() ? CH_OK : CH_LOCALE);
	}
	if (child_result(pid, CH_OK) || parent_check(m, 1))
		return 1;
	if (!locale_ok())
		return fail("the parent lost the locale");
	free(m);
	return ok();
}

static unsigned char *thread_data;

static void *check_thread(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)child_check(thread_data, BIG_MIB * MIB / PAGE,
					     2);
}

static int fork_thread(void)
{
	pid_t pid;

	if (!setlocale(LC_ALL, "C.UTF-8"))
		return skip("no C.UTF-8 locale here");
	thread_data = big_data(2);
	if (!thread_data)
		return fail("malloc %d MiB failed", BIG_MIB);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		pthread_t t;
		void *r;

		if (pthread_create(&t, NULL, check_thread, NULL) ||
		    pthread_join(t, &r))
			_exit(CH_SETUP);
		_exit((int)(intptr_t)r);
	}
	if (child_result(pid, CH_OK) || parent_check(thread_data, 2))
		return 1;
	free(thread_data);
	return ok();
}

/* ------------------------------------------------------------------ */
/* 2. shared mappings placed with MAP_FIXED in anonymous reservations  */
/* ------------------------------------------------------------------ */

static int temp_file(char *path, size_t len, const char *what)
{
	int fd;

	snprintf(path, 4096, "%s/tmem-patterns-%s-%d", dir, what,
		 (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0 && ftruncate(fd, (off_t)len)) {
		close(fd);
		unlink(path);
		fd = -1;
	}
	return fd;
}

static int fixed_file(void)
{
	const size_t res = 2 * MIB, flen = MIB, at = 512 * 1024;
	unsigned char *r, *f, *a, *back;
	char path[4096];
	long long b;
	int fd;

	fd = temp_file(path, flen, "fixed");
	if (fd < 0)
		return fail("cannot create a file in %s: %s", dir,
			    strerror(errno));
	r = mmap(NULL, res, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return fail("mmap reservation: %s", strerror(errno));
	f = mmap(r + at, flen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	if (f != r + at)
		return fail("mmap file MAP_FIXED: %s", strerror(errno));
	fill(f, flen / PAGE, 3);
	if (munmap(r, res))
		return fail("munmap: %s", strerror(errno));
	close(fd);

	/* Fresh anonymous memory: zeroes, and not the file's pages. */
	a = mmap(NULL, res, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (a == MAP_FAILED)
		return fail("mmap anonymous: %s", strerror(errno));
	b = nonzero(a, res);
	if (b >= 0) {
		unlink(path);
		return fail("Corruption! fresh anonymous memory is not zero at "
			    "byte %lld (0x%02x)",
			    b, a[b]);
	}
	memset(a, 0xee, res);
	munmap(a, res);

	/* The file keeps what was written to it, and only that. */
	back = malloc(flen);
	fd = open(path, O_RDONLY);
	unlink(path);
	if (!back || fd < 0 || pread(fd, back, flen, 0) != (ssize_t)flen)
		return fail("reading the file back: %s", strerror(errno));
	close(fd);
	b = first_bad(back, flen / PAGE, 1, 3);
	if (b >= 0)
		return report_bad("the file after anonymous memory reused its "
				  "place",
				  back, flen / PAGE, b, 0, 3);
	free(back);
	return ok();
}

/* The "magic ring buffer": one memfd mapped twice, back to back. */
static int memfd_ring(void)
{
	const size_t n = MIB;
	unsigned char rec[200], *r, *v1, *v2, *q, *m2, *a;
	long long b;
	int fd;

	fd = memfd_create("tmem-ring", 0);
	if (fd < 0 || ftruncate(fd, (off_t)n))
		return fail("memfd_create: %s", strerror(errno));
	r = mmap(NULL, 2 * n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return fail("mmap reservation: %s", strerror(errno));
	v1 = mmap(r, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	v2 = mmap(r + n, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		  0);
	if (v1 != r || v2 != r + n)
		return fail("mmap memfd MAP_FIXED: %s", strerror(errno));

	/* One view's writes are the other's; a record wraps around. */
	fill(v1, n / PAGE, 4);
	b = first_bad(v2, n / PAGE, 1, 4);
	if (b >= 0)
		return report_bad("the second view", v2, n / PAGE, b, 0, 4);
	for (size_t i = 0; i < sizeof(rec); i++)
		rec[i] = (unsigned char)(i * 7 + 1);
	memcpy(v1 + n - 100, rec, sizeof(rec));
	if (memcmp(v1, rec + 100, 100) || memcmp(v2 + n - 100, rec, 100))
		return fail("Corruption! a record written across the end of "
			    "the first view did not wrap to the start");
	put_page(v1, 0, 4);
	put_page(v1 + n - PAGE, n / PAGE - 1, 4);

	/* Grow the first view: it moves, and stays the memfd's. */
	if (ftruncate(fd, (off_t)(2 * n)))
		return fail("ftruncate: %s", strerror(errno));
	q = mremap(v1, n, 2 * n, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		return fail("mremap of the first view: %s", strerror(errno));
	b = first_bad(q, n / PAGE, 1, 4);
	if (b >= 0)
		return report_bad("the moved view", q, n / PAGE, b, 0, 4);
	fill(q + n, n / PAGE, 5);
	put_page(q, 0, 6);
	if (page_bad(v2, 0, 6) >= 0)
		return fail("Corruption! a write through the moved view did "
			    "not reach the second view");
	m2 = malloc(n);
	if (!m2 || pread(fd, m2, n, (off_t)n) != (ssize_t)n)
		return fail("pread memfd: %s", strerror(errno));
	b = first_bad(m2, n / PAGE, 1, 5);
	if (b >= 0)
		return report_bad("the memfd behind the grown view", m2,
				  n / PAGE, b, 0, 5);
	free(m2);

	/* Unmap everything; a new mapping of the memfd has it all. */
	if (munmap(q, 2 * n) || munmap(r, 2 * n))
		return fail("munmap: %s", strerror(errno));
	m2 = mmap(NULL, 2 * n, PROT_READ, MAP_SHARED, fd, 0);
	if (m2 == MAP_FAILED)
		return fail("mmap memfd again: %s", strerror(errno));
	close(fd);
	b = page_bad(m2, 0, 6);
	if (b < 0) {
		b = pages_bad(m2 + PAGE, 1, n / PAGE - 1, 4);
		b = b < 0 ? b : b + PAGE;
	}
	if (b >= 0)
		return fail("Corruption! the memfd mapped again differs at "
			    "byte %lld",
			    b);
	b = first_bad(m2 + n, n / PAGE, 1, 5);
	if (b >= 0)
		return report_bad("the memfd's second half mapped again",
				  m2 + n, n / PAGE, b, 0, 5);
	munmap(m2, 2 * n);
	/* And the reservation's place holds zeroes when reused. */
	a = mmap(NULL, 2 * n, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return fail("mmap anonymous: %s", strerror(errno));
	b = nonzero(a, 2 * n);
	if (b >= 0)
		return fail("Corruption! fresh anonymous memory is not zero at "
			    "byte %lld (0x%02x)",
			    b, a[b]);
	munmap(a, 2 * n);
	return ok();
}

/* ------------------------------------------------------------------ */
/* 3. decommit and recommit with MAP_FIXED (a Java heap)                */
/* ------------------------------------------------------------------ */

static int fixed_recommit(void)
{
	const size_t len = 64 * MIB;
	unsigned char *p, *q;
	long long b;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return fail("mmap: %s", strerror(errno));
	fill(p, len / PAGE, 7);
	b = first_bad(p, len / PAGE, 1, 7);
	if (b >= 0)
		return report_bad("the heap before the decommit", p, len / PAGE,
				  b, 0, 7);
	/* Uncommit, commit, use: no read in between, as a JVM does. */
	q = mmap(p, len, PROT_NONE,
		 MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1,
		 0);
	if (q != p)
		return fail("mmap MAP_FIXED PROT_NONE: %s", strerror(errno));
	if (mprotect(p, len, PROT_READ | PROT_WRITE))
		return fail("mprotect: %s", strerror(errno));
	fill(p, len / PAGE, 8);
	if (pressure(2 * len / MIB))
		return fail("malloc for pressure failed");
	b = first_bad(p, len / PAGE, 1, 8);
	if (b >= 0)
		return report_bad("recommitted memory after pressure", p,
				  len / PAGE, b, 0, 8);
	/* Decommitted memory reads back as zeroes when committed again. */
	if (mmap(p, len, PROT_NONE,
		 MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1,
		 0) != p ||
	    mprotect(p, len, PROT_READ | PROT_WRITE))
		return fail("decommit, commit: %s", strerror(errno));
	b = nonzero(p, len);
	if (b >= 0)
		return fail("Corruption! recommitted memory is not zero at "
			    "byte %lld (0x%02x)",
			    b, p[b]);
	munmap(p, len);
	return ok();
}

/* ------------------------------------------------------------------ */
/* 4. pinned buffers: io_uring fixed buffers, O_DIRECT                 */
/* ------------------------------------------------------------------ */

#define PIN_MIB 32 /* the file and the buffers */

/* Write PIN_MIB of the pattern tag to a new file; its fd, or -1. */
static int pattern_file(char *path, const char *what, uint64_t tag)
{
	static unsigned char chunk[64 * 1024];
	const size_t per = sizeof(chunk) / PAGE;
	int fd = temp_file(path, 0, what);

	for (size_t i = 0; fd >= 0 && i < PIN_MIB * MIB / PAGE; i += per) {
		for (size_t j = 0; j < per; j++)
			put_page(chunk + j * PAGE, i + j, tag);
		if (pwrite(fd, chunk, sizeof(chunk), (off_t)(i * PAGE)) !=
		    (ssize_t)sizeof(chunk)) {
			close(fd);
			unlink(path);
			return -1;
		}
	}
	if (fd >= 0 && fsync(fd)) {
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* A minimal io_uring, by raw system calls: one read at a time. */
struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *sq_map, *cq_map;
	size_t sq_len, cq_len, sqes_len;
};

static void *at(void *base, unsigned off)
{
	return (char *)base + off;
}

static void ring_exit(struct ring *u)
{
	if (u->sqes)
		munmap(u->sqes, u->sqes_len);
	if (u->cq_map)
		munmap(u->cq_map, u->cq_len);
	if (u->sq_map)
		munmap(u->sq_map, u->sq_len);
	close(u->fd);
}

static int ring_init(struct ring *u)
{
	const int prot = PROT_READ | PROT_WRITE, fl = MAP_SHARED | MAP_POPULATE;
	struct io_uring_params p;
	void *m;

	memset(u, 0, sizeof(*u));
	memset(&p, 0, sizeof(p));
	u->fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (u->fd < 0)
		return -errno;
	u->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	u->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(*u->cqes);
	u->sqes_len = p.sq_entries * sizeof(*u->sqes);
	m = mmap(NULL, u->sq_len, prot, fl, u->fd, IORING_OFF_SQ_RING);
	u->sq_map = m == MAP_FAILED ? NULL : m;
	m = mmap(NULL, u->cq_len, prot, fl, u->fd, IORING_OFF_CQ_RING);
	u->cq_map = m == MAP_FAILED ? NULL : m;
	m = mmap(NULL, u->sqes_len, prot, fl, u->fd, IORING_OFF_SQES);
	u->sqes = m == MAP_FAILED ? NULL : m;
	if (!u->sq_map || !u->cq_map || !u->sqes) {
		int err = -errno;

		ring_exit(u);
		return err;
	}
	u->sq_tail = at(u->sq_map, p.sq_off.tail);
	u->sq_mask = at(u->sq_map, p.sq_off.ring_mask);
	u->sq_array = at(u->sq_map, p.sq_off.array);
	u->cq_head = at(u->cq_map, p.cq_off.head);
	u->cq_tail = at(u->cq_map, p.cq_off.tail);
	u->cq_mask = at(u->cq_map, p.cq_off.ring_mask);
	u->cqes = at(u->cq_map, p.cq_off.cqes);
	return 0;
}

/* READ_FIXED from registered buffer 0; bytes read or -errno. */
static int ring_read_fixed(struct ring *u, int fd, void *buf, unsigned len,
			   off_t off)
{
	unsigned tail = *u->sq_tail, idx = tail & *u->sq_mask, head;
	struct io_uring_sqe *sqe = &u->sqes[idx];
	int res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ_FIXED;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)buf;
	sqe->len = len;
	sqe->off = (uint64_t)off;
	sqe->buf_index = 0;
	u->sq_array[idx] = idx;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	for (unsigned submit = 1;; submit = 0) {
		if (syscall(__NR_io_uring_enter, u->fd, submit, 1,
			    IORING_ENTER_GETEVENTS, NULL, 0) < 0 &&
		    errno != EINTR)
			return -errno;
		head = *u->cq_head;
		if (head != __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE))
			break;
	}
	res = u->cqes[head & *u->cq_mask].res;
	__atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static int uring_fixed(void)
{
	const size_t len = PIN_MIB * MIB;
	struct ring u;
	struct iovec iov;
	unsigned char *buf;
	char path[4096];
	long long b;
	int fd, err;

	err = ring_init(&u);
	if (err == -ENOSYS || err == -EPERM)
		return skip("io_uring is not available here");
	if (err)
		return fail("io_uring_setup: %s", strerror(-err));
	fd = pattern_file(path, "uring", 9);
	if (fd < 0)
		return fail("cannot write a file in %s: %s", dir,
			    strerror(errno));
	unlink(path);
	if (posix_memalign((void **)&buf, PAGE, len))
		return fail("posix_memalign failed");
	fill(buf, len / PAGE, 10);
	iov.iov_base = buf;
	iov.iov_len = len;
	if (syscall(__NR_io_uring_register, u.fd, IORING_REGISTER_BUFFERS, &iov,
		    1))
		return fail("IORING_REGISTER_BUFFERS: %s", strerror(errno));
	/* The registered buffer goes cold; the kernel keeps it pinned. */
	if (pressure(PRESSURE_MIB))
		return fail("malloc for pressure failed");
	for (size_t done = 0; done < len;) {
		int r = ring_read_fixed(&u, fd, buf + done,
					(unsigned)(len - done), (off_t)done);

		if (r <= 0)
			return fail("IORING_OP_READ_FIXED at %zu: %s", done,
				    r ? strerror(-r) : "end of file");
		done += (size_t)r;
	}
	b = first_bad(buf, len / PAGE, 1, 9);
	if (b >= 0)
		return report_bad("what READ_FIXED read into the registered "
				  "buffer",
				  buf, len / PAGE, b, 0, 9);
	syscall(__NR_io_uring_register, u.fd, IORING_UNREGISTER_BUFFERS, NULL,
		0);
	ring_exit(&u);
	close(fd);
	free(buf);
	return ok();
}

#define DIRECT_BUFS 8
#define DIRECT_ROUNDS 8 /* one catches the loss about half the time */
#define CHURN_MIB 96 /* a thread rewrites this all along: evictions go on */

static int churn_stop;

/* Touch every page of 96 MiB again and again, until told to stop. */
static void *churn(void *arg)
{
	unsigned char *p = arg;

	for (unsigned t = 0;; t++) {
		for (size_t i = 0; i < CHURN_MIB * MIB / PAGE; i++) {
			if (__atomic_load_n(&churn_stop, __ATOMIC_RELAXED))
				return NULL;
			p[i * PAGE + HEAD_WORDS * 8 + t % 64] =
				(unsigned char)t;
		}
	}
}

/* One preadv() after the other until the buffers hold the file. */
static int read_direct(int fd, const struct iovec *iov, size_t per)
{
	for (size_t done = 0; done < PIN_MIB * MIB;) {
		struct iovec v[DIRECT_BUFS];
		int n = 0;
		ssize_t r;

		for (int k = 0; k < DIRECT_BUFS; k++) {
			size_t s = (size_t)k * per;

			if (done >= s + per)
				continue;
			v[n].iov_base = (char *)iov[k].iov_base +
					(done > s ? done - s : 0);
			v[n].iov_len = s + per - (done > s ? done : s);
			n++;
		}
		r = preadv(fd, v, n, (off_t)done);
		if (r <= 0)
			return fail("preadv O_DIRECT at %zu: %s", done,
				    r ? strerror(errno) : "end of file");
		done += (size_t)r;
	}
	return 0;
}

static int odirect_preadv(void)
{
	const size_t per = PIN_MIB * MIB / DIRECT_BUFS;
	struct iovec iov[DIRECT_BUFS];
	unsigned char *busy;
	char path[4096];
	pthread_t t;
	int fd, dfd, rc = 0;

	fd = pattern_file(path, "direct", 11);
	if (fd < 0)
		return fail("cannot write a file in %s: %s", dir,
			    strerror(errno));
	dfd = open(path, O_RDONLY | O_DIRECT);
	unlink(path);
	close(fd);
	if (dfd < 0 && errno == EINVAL)
		return skip("no O_DIRECT on the temporary directory");
	if (dfd < 0)
		return fail("open O_DIRECT: %s", strerror(errno));
	for (int k = 0; k < DIRECT_BUFS; k++) {
		if (posix_memalign(&iov[k].iov_base, PAGE, per))
			return fail("posix_memalign failed");
		iov[k].iov_len = per;
	}
	busy = malloc(CHURN_MIB * MIB);
	if (!busy)
		return fail("malloc %d MiB failed", CHURN_MIB);
	fill(busy, CHURN_MIB * MIB / PAGE, 0xb5);
	if (pthread_create(&t, NULL, churn, busy))
		return fail("pthread_create failed");
	for (int round = 0; !rc && round < DIRECT_ROUNDS; round++) {
		/* Stale contents, then pressure: the buffers go cold. */
		for (int k = 0; k < DIRECT_BUFS; k++)
			fill(iov[k].iov_base, per / PAGE, 12 + round);
		if (pressure(PRESSURE_MIB)) {
			rc = fail("malloc for pressure failed");
			break;
		}
		rc = read_direct(dfd, iov, per);
		/* Page indexes run on from one buffer to the next. */
		for (int k = 0; !rc && k < DIRECT_BUFS; k++) {
			const unsigned char *m = iov[k].iov_base;
			size_t i0 = (size_t)k * per / PAGE;
			long long b = pages_bad(m, i0, per / PAGE, 11);

			if (b >= 0) {
				char what[64];

				snprintf(what, sizeof(what),
					 "O_DIRECT preadv, round %d, buffer %d",
					 round, k);
				rc = report_bad(what, m, per / PAGE, b, i0, 11);
			}
		}
	}
	__atomic_store_n(&churn_stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	close(dfd);
	for (int k = 0; k < DIRECT_BUFS; k++)
		free(iov[k].iov_base);
	free(busy);
	return rc ? rc : ok();
}

/* ------------------------------------------------------------------ */
/* 5. children made without atfork handlers                            */
/* ------------------------------------------------------------------ */

static unsigned char *raw_data;

static int raw_child(void *arg)
{
	(void)arg;
	return child_check(raw_data, BIG_MIB * MIB / PAGE, 20);
}

static int fork_raw(int how)
{
	const size_t stack_len = 256 * 1024;
	unsigned char *stack = NULL;
	pid_t pid;

	raw_data = big_data(20);
	if (!raw_data)
		return fail("malloc %d MiB failed", BIG_MIB);
	if (how == 2) {
		stack = mmap(NULL, stack_len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (stack == MAP_FAILED)
			return fail("mmap stack: %s", strerror(errno));
	}
	fflush(stdout);
	if (how == 0)
		pid = _Fork();
	else if (how == 1)
		pid = (pid_t)syscall(SYS_fork);
	else
		pid = clone(raw_child, stack + stack_len, SIGCHLD, NULL);
	if (pid == 0)
		_exit(raw_child(NULL));
	if (child_result(pid, CH_OK) || parent_check(raw_data, 20))
		return 1;
	if (stack)
		munmap(stack, stack_len);
	free(raw_data);
	return ok();
}

static int fork_underscore(void)
{
	return fork_raw(0);
}

static int fork_syscall(void)
{
	return fork_raw(1);
}

static int fork_clone(void)
{
	return fork_raw(2);
}

/* ------------------------------------------------------------------ */
/* 6. children that close every descriptor                             */
/* ------------------------------------------------------------------ */

/* A message through a pipe: CH_OK, or CH_SETUP / CH_PIPE. */
static int pipe_send(int w, const char *msg)
{
	size_t n = strlen(msg);

	return write(w, msg, n) == (ssize_t)n ? CH_OK : CH_SETUP;
}

static int pipe_expect(int r, const char *msg)
{
	char got[64];
	size_t n = strlen(msg);

	if (read(r, got, n) != (ssize_t)n)
		return CH_SETUP;
	return memcmp(got, msg, n) ? CH_PIPE : CH_OK;
}

static int close_range_child(void)
{
	unsigned char *m = big_data(21);
	pid_t pid;

	if (!m)
		return fail("malloc %d MiB failed", BIG_MIB);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int p[2], q[2], r;

		if (close_range(3, ~0U, 0) || pipe(p) || pipe(q))
			_exit(CH_SETUP);
		r = pipe_send(p[1], "before the data");
		if (!r)
			r = child_check(m, BIG_MIB * MIB / PAGE, 21);
		if (!r)
			r = pipe_send(q[1], "after the data");
		if (!r)
			r = pipe_expect(p[0], "before the data");
		if (!r)
			r = pipe_expect(q[0], "after the data");
		_exit(r);
	}
	if (child_result(pid, CH_OK) || parent_check(m, 21))
		return 1;
	free(m);
	return ok();
}

/* The daemon's report: one status byte through a FIFO it opens. */
static void daemon_main(const unsigned char *m, const char *fifo)
{
	unsigned char code;
	int fd;

	for (int i = 0; i < 1024; i++)
		close(i);
	if (chdir("/") || open("/dev/null", O_RDWR) != 0 || dup(0) != 1 ||
	    dup(0) != 2)
		_exit(CH_SETUP);
	code = (unsigned char)child_check(m, BIG_MIB * MIB / PAGE, 22);
	fd = open(fifo, O_WRONLY);
	if (fd < 0 || write(fd, &code, 1) != 1)
		_exit(CH_SETUP);
	_exit(0);
}

static int daemon_double_fork(void)
{
	unsigned char *m = big_data(22), code;
	char fifo[4096];
	struct pollfd pfd;
	int p[2], fd, st;
	pid_t pid, gpid = -1;

	if (!m)
		return fail("malloc %d MiB failed", BIG_MIB);
	snprintf(fifo, sizeof(fifo), "%s/tmem-patterns-fifo-%d", dir,
		 (int)getpid());
	if (mkfifo(fifo, 0600) || pipe(p))
		return fail("mkfifo/pipe: %s", strerror(errno));
	fd = open(fifo, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return fail("open fifo: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		setsid();
		gpid = fork();
		if (gpid == 0)
			daemon_main(m, fifo);
		_exit(write(p[1], &gpid, sizeof(gpid)) != sizeof(gpid));
	}
	close(p[1]);
	st = child_result(pid, 0);
	if (!st && read(p[0], &gpid, sizeof(gpid)) != sizeof(gpid))
		st = fail("no daemon pid from the first child");
	close(p[0]);
	if (!st && gpid < 0)
		st = fail("the first child could not fork the daemon");
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (!st && poll(&pfd, 1, CHILD_WAIT_S * 1000) <= 0) {
		kill(gpid, SIGKILL);
		st = fail("the daemon hung (killed after %d s)", CHILD_WAIT_S);
	}
	if (!st && read(fd, &code, 1) != 1)
		st = fail("the daemon reported nothing (it died)");
	if (!st && code)
		st = fail("daemon status %d: %s", code, child_why(code));
	close(fd);
	unlink(fifo);
	if (st || parent_check(m, 22))
		return 1;
	free(m);
	return ok();
}

/* ------------------------------------------------------------------ */
/* 7. MADV_WIPEONFORK, MADV_DONTFORK                                   */
/* ------------------------------------------------------------------ */

#define ADV_LEN (64 * 1024)
static const char secret[] = "SECRET-KEY";

static void put_secrets(char *p)
{
	for (size_t i = 0; i + sizeof(secret) <= ADV_LEN; i += sizeof(secret))
		memcpy(p + i, secret, sizeof(secret));
}

static int secrets_bad(const char *p)
{
	for (size_t i = 0; i + sizeof(secret) <= ADV_LEN; i += sizeof(secret))
		if (memcmp(p + i, secret, sizeof(secret)))
			return 1;
	return 0;
}

/*
 * Push [p, p + len) out with pressure, a second time if it is still
 * resident (run plainly, it always is).  Not a condition of the test: a
 * shim may keep such pages resident, but if it evicts them the child must
 * still read zeroes.  The current shim does evict them (checked with
 * mincore() when this was written).
 */
static int evict_pages(void *p, size_t len)
{
	unsigned char vec[ADV_LEN / PAGE];

	for (int tries = 0; tries < 2; tries++) {
		int resident = 0;

		if (pressure(PRESSURE_MIB))
			return fail("malloc for pressure failed");
		if (mincore(p, len, vec))
			return fail("mincore: %s", strerror(errno));
		for (size_t i = 0; i < len / PAGE; i++)
			resident |= vec[i] & 1;
		if (!resident)
			break;
	}
	return 0;
}

static int wipe_on_fork(int evict)
{
	char *p = mmap(NULL, ADV_LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t pid;

	if (p == MAP_FAILED)
		return fail("mmap: %s", strerror(errno));
	put_secrets(p);
	if (madvise(p, ADV_LEN, MADV_WIPEONFORK))
		return errno == EINVAL ? skip("no MADV_WIPEONFORK here")
				       : fail("madvise: %s", strerror(errno));
	if (evict && evict_pages(p, ADV_LEN))
		return 1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* Zeroes, every byte: a wiped page is a fresh page. */
		_exit(nonzero((unsigned char *)p, ADV_LEN) < 0 ? CH_OK
							       : CH_SECRET);
	}
	if (child_result(pid, CH_OK))
		return 1;
	if (secrets_bad(p))
		return fail("Corruption! the parent lost its data on fork");
	munmap(p, ADV_LEN);
	return ok();
}

static int wipeonfork(void)
{
	return wipe_on_fork(0);
}

static int wipeonfork_evicted(void)
{
	return wipe_on_fork(1);
}

static char *dontfork_page;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	char *a = si->si_addr;

	(void)sig;
	(void)uc;
	_exit(a >= dontfork_page && a < dontfork_page + ADV_LEN ? CH_OK
								: CH_SEGV);
}

static int dontfork(void)
{
	struct sigaction sa;
	pid_t pid;

	dontfork_page = mmap(NULL, ADV_LEN, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dontfork_page == MAP_FAILED)
		return fail("mmap: %s", strerror(errno));
	put_secrets(dontfork_page);
	if (madvise(dontfork_page, ADV_LEN, MADV_DONTFORK))
		return fail("madvise: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_segv;
		sa.sa_flags = SA_SIGINFO;
		if (sigaction(SIGSEGV, &sa, NULL))
			_exit(CH_SETUP);
		/* Not in the child: this read must raise SIGSEGV. */
		(void)*(volatile char *)(dontfork_page + ADV_LEN / 2);
		_exit(CH_READ);
	}
	if (child_result(pid, CH_OK))
		return 1;
	if (secrets_bad(dontfork_page))
		return fail("Corruption! the parent lost its data on fork");
	munmap(dontfork_page, ADV_LEN);
	return ok();
}

/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	int (*fn)(void);
} patterns[] = {
	{ "fork-locale", fork_locale },
	{ "fork-thread", fork_thread },
	{ "fixed-file", fixed_file },
	{ "memfd-ring", memfd_ring },
	{ "fixed-recommit", fixed_recommit },
	{ "uring-fixed", uring_fixed },
	{ "odirect-preadv", odirect_preadv },
	{ "fork-underscore", fork_underscore },
	{ "fork-syscall", fork_syscall },
	{ "fork-clone", fork_clone },
	{ "close-range", close_range_child },
	{ "daemon", daemon_double_fork },
	{ "wipeonfork", wipeonfork },
	{ "wipeonfork-evicted", wipeonfork_evicted },
	{ "dontfork", dontfork },
};

int main(int argc, char **argv)
{
	const size_t n = sizeof(patterns) / sizeof(patterns[0]);

	if (argc > 2)
		dir = argv[2];
	if (argc > 1 && !strcmp(argv[1], "list")) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", patterns[i].name);
		return 0;
	}
	for (size_t i = 0; argc > 1 && i < n; i++) {
		if (!strcmp(argv[1], patterns[i].name)) {
			name = patterns[i].name;
			return patterns[i].fn();
		}
	}
	fprintf(stderr, "usage: patterns NAME [DIR]; patterns list\n");
	return 2;
}
