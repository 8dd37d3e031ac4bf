/* SPDX-License-Identifier: MIT */
/*
 * bench.h - the benchmarks of `tmem bench` that live in their own files;
 * cmd_bench() (cmd-bench.c) dispatches to them.  argv[0] is the
 * benchmark's name.
 */
#ifndef TMEM_BENCH_H
#define TMEM_BENCH_H

/* `tmem bench writeback` (bench-writeback.c). */
int bench_writeback(int argc, char *argv[]);

/*
 * What every benchmark checks after getopt (cmd-bench.c): no stray
 * argument and a --corpus.  Return 0, or the usage exit status after
 * saying what is wrong.
 */
int bench_args_done(int argc, char *argv[], const char *corpus);

/* a / b, or 0 when b is 0: ratios of figures that may be empty. */
static inline double bench_div0(double a, double b)
{
	return b > 0 ? a / b : 0;
}

#endif /* TMEM_BENCH_H */
