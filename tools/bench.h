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

#endif /* TMEM_BENCH_H */
