/* SPDX-License-Identifier: MIT */
/*
 * cmd-run.h - the `tmem run` and `tmem stat` subcommands (tools/cmd-run.c,
 * tools/cmd-stat.c), called by the tmem dispatcher with argv[0] being the
 * subcommand name.  Each returns the process exit status.
 */
#ifndef TMEM_CMD_RUN_H
#define TMEM_CMD_RUN_H

#include <stdio.h>

#include "run-stats.h"

/* tmem run --ram SIZE [options] -- PROGRAM ARGS... */
int cmd_run(int argc, char **argv);
/* tmem stat [--json] PID */
int cmd_stat(int argc, char **argv);

/* Shared by both: one stats page as text lines or as one JSON object.
 * @maxrss is the kernel's peak RSS in bytes (0 if unknown). */
void run_stats_print(FILE *f, const struct tmem_run_stats *st,
		     unsigned long long maxrss);
void run_stats_json(FILE *f, const struct tmem_run_stats *st,
		    unsigned long long maxrss);

#endif /* TMEM_CMD_RUN_H */
