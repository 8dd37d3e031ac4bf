/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what every tmem subcommand shares: error and usage messages in
 * one format, the tunable flags derived from the library's table, number
 * parsing, timing, medians and human-readable sizes.
 */
#ifndef TMEM_CLI_H
#define TMEM_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tmem.h"

/* Exit statuses: 1 for a failure at run time, 2 for a bad command line. */
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/*
 * Long options' values for the tunables start here, far above any short
 * option character, so a command's own options never collide with them.
 */
#define CLI_TUNABLE_BASE 0x1000
#define CLI_TUNABLES_MAX 32 /* rows of tmem_option_info() we make flags of */

/* The command being run ("estimate", "bench store"), for messages. */
extern const char *cli_cmd;

/* "tmem <cmd>: <message>" on stderr ("tmem: ..." before a command). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cli_error() plus "Try 'tmem <cmd> --help'."; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The usual ending of a getopt_long() loop: turn '?' and ':' into a usage
 * error naming the flag.  @argv is what getopt_long() was given.
 */
int cli_getopt_error(int c, char *const argv[], const struct option *opts);

/*
 * Pool parameters set from TMEM_<NAME> environment variables and then from
 * the tunable flags; @given has bit i set when row i was given as a flag.
 */
struct cli_tunables {
	struct tmem_pool_params params;
	uint32_t given;
};

/* Fill @t from the environment; 0, or CLI_EXIT_USAGE after a message. */
int cli_tunables_init(struct cli_tunables *t);
/*
 * Append one long option per tunable (--pool-max for pool_max ...) to
 * @opts, which has room for @cap entries including the terminating zero
 * entry that is written after them.  Return the number of entries used.
 */
size_t cli_tunable_options(struct option *opts, size_t used, size_t cap);
/*
 * Handle getopt_long()'s value @c if it is a tunable flag: return 1 if it
 * was one and was set, 0 if @c is not a tunable, CLI_EXIT_USAGE after a
 * message naming the flag and the bounds.
 */
int cli_tunable_handle(struct cli_tunables *t, int c, const char *value);
/* Whether the tunable named @name was given as a flag. */
int cli_tunable_given(const struct cli_tunables *t, const char *name);
/* Print one help line per tunable flag. */
void cli_tunable_help(FILE *f);

/* Parse a whole decimal number into [@min, @max] for @flag. */
int cli_parse_uint(const char *flag, const char *s, unsigned min, unsigned max,
		   unsigned *out);

/* Seconds on CLOCK_MONOTONIC. */
double cli_now(void);
/* Median of @v (sorted in place); 0 when @n is 0. */
double cli_median(double *v, size_t n);
/* Bytes per second in MB/s (10^6 bytes), 0 for a zero time. */
double cli_mbps(uint64_t bytes, double seconds);
/* "12.3 MiB" into @buf. */
const char *cli_human(uint64_t bytes, char *buf, size_t len);
/* Whether progress lines should be shown (stderr is a terminal). */
int cli_progress_wanted(void);
/* @s as a JSON string, quoted and escaped. */
void cli_json_str(FILE *f, const char *s);

/* The commands (tools/cmd-*.c): argv[0] is the command's name. */
int cmd_estimate(int argc, char *argv[]);
int cmd_bench(int argc, char *argv[]);

#endif /* TMEM_CLI_H */
