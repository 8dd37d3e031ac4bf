/* SPDX-License-Identifier: MIT */
/*
 * harness.h - the tiny test harness every tests/test-*.c uses.
 *
 * A test program is a plain main() that calls RUN(fn) for each test body.
 * CHECK* record a failure (with file, line and values) and go on, so one
 * run shows every broken expectation; REQUIRE* end the current test body.
 * The program prints "N passed, N failed" (and ", N skipped") at the end
 * and exits 0 on pass, 1 on failure, 77 if everything was skipped - the
 * codes meson and automake understand.
 */
#ifndef TMEM_TEST_HARNESS_H
#define TMEM_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int th_passed, th_failed, th_skipped;
static int th_cur_failed, th_cur_skipped;

#define CHECK(cond)                                                         \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",       \
				__FILE__, __LINE__, #cond);                  \
			th_cur_failed++;                                     \
		}                                                            \
	} while (0)

#define CHECK_EQ(a, b)                                                      \
	do {                                                                 \
		long long th_a_ = (long long)(a), th_b_ = (long long)(b);   \
		if (th_a_ != th_b_) {                                        \
			fprintf(stderr,                                      \
				"  %s:%d: CHECK_EQ(%s, %s) failed: %lld != " \
				"%lld\n",                                    \
				__FILE__, __LINE__, #a, #b, th_a_, th_b_);   \
			th_cur_failed++;                                     \
		}                                                            \
	} while (0)

#define CHECK_MEM_EQ(a, b, n)                                               \
	do {                                                                 \
		const unsigned char *th_p_ = (const void *)(a);              \
		const unsigned char *th_q_ = (const void *)(b);              \
		size_t th_n_ = (n), th_i_;                                   \
		for (th_i_ = 0; th_i_ < th_n_; th_i_++)                      \
			if (th_p_[th_i_] != th_q_[th_i_])                    \
				break;                                       \
		if (th_i_ != th_n_) {                                        \
			fprintf(stderr,                                      \
				"  %s:%d: Corruption! %s and %s differ at "  \
				"byte %zu of %zu (0x%02x != 0x%02x)\n",      \
				__FILE__, __LINE__, #a, #b, th_i_, th_n_,    \
				th_p_[th_i_], th_q_[th_i_]);                 \
			th_cur_failed++;                                     \
		}                                                            \
	} while (0)

#define REQUIRE(cond)                                                       \
	do {                                                                 \
		int th_before_ = th_cur_failed;                              \
		CHECK(cond);                                                 \
		if (th_cur_failed != th_before_)                             \
			return;                                              \
	} while (0)

#define REQUIRE_EQ(a, b)                                                    \
	do {                                                                 \
		int th_before_ = th_cur_failed;                              \
		CHECK_EQ(a, b);                                              \
		if (th_cur_failed != th_before_)                             \
			return;                                              \
	} while (0)

/* End the current test body as skipped, saying why. */
#define SKIP_IF(cond, why)                                                  \
	do {                                                                 \
		if (cond) {                                                  \
			fprintf(stderr, "  skipped: %s\n", why);             \
			th_cur_skipped = 1;                                  \
			return;                                              \
		}                                                            \
	} while (0)

static inline void th_run(void (*fn)(void), const char *name)
{
	th_cur_failed = 0;
	th_cur_skipped = 0;
	fprintf(stderr, "test: %s\n", name);
	fn();
	if (th_cur_failed) {
		th_failed++;
		fprintf(stderr, "FAIL: %s\n", name);
	} else if (th_cur_skipped) {
		th_skipped++;
	} else {
		th_passed++;
	}
}

/* RUN(fn, "behaviour in words") */
#define RUN(fn, name) th_run(fn, name)

static inline int th_finish(void)
{
	if (th_skipped)
		printf("%d passed, %d failed, %d skipped\n", th_passed,
		       th_failed, th_skipped);
	else
		printf("%d passed, %d failed\n", th_passed, th_failed);
	if (th_failed)
		return 1;
	if (!th_passed && th_skipped)
		return 77;
	return 0;
}

#define TM_N(a) (sizeof(a) / sizeof((a)[0]))

/* xorshift64*: the tests' deterministic random source. */
static inline uint64_t th_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#endif /* TMEM_TEST_HARNESS_H */
