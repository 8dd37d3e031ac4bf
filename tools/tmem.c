// SPDX-License-Identifier: MIT
/*
 * tmem.c - the tmem command: finds the subcommand and hands it argv.
 *
 * Each subcommand lives in its own tools/cmd-*.c, parses its own flags
 * (getopt_long on argv with its name as argv[0]) and returns the exit
 * status: 0, 1 for a failure at run time, 2 for a bad command line (see
 * cli.h).  Adding a command is one row in the table below.  `tmem help
 * COMMAND` is the same as `tmem COMMAND --help`, so each command's help
 * text exists once.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd-run.h"

struct command {
	const char *name;
	int (*run)(int argc, char *argv[]);
	const char *summary;
};

static const struct command commands[] = {
	{ "run", cmd_run,
	  "run a program with a RAM budget, cold pages compressed" },
	{ "stat", cmd_stat, "live counters of a process under 'tmem run'" },
	{ "estimate", cmd_estimate,
	  "what tmem would save on a process's memory or a page file" },
	{ "bench", cmd_bench,
	  "benchmarks: 'bench store' (a pool vs its compressor and zram), "
	  "'bench writeback'" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: tmem COMMAND [OPTIONS]\n"
		   "       tmem --help | --version\n"
		   "\n"
		   "Commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "  %-10s %s\n", "help", "this text, or a command's help");
	fprintf(f,
		"\nRun 'tmem COMMAND --help' for a command's options.\n"
		"Pool tunables are also read from TMEM_<NAME> environment variables.\n");
}

static const struct command *find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int unknown(const char *name)
{
	fprintf(stderr,
		"tmem: unknown command '%s'\n"
		"Try 'tmem --help'.\n",
		name);
	return CLI_EXIT_USAGE;
}

int main(int argc, char *argv[])
{
	const struct command *cmd;

	if (argc < 2) {
		fprintf(stderr,
			"tmem: needs a command (run, stat, estimate, bench)\n"
			"Try 'tmem --help'.\n");
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    (!strcmp(argv[1], "help") && argc == 2)) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") ||
	    !strcmp(argv[1], "version")) {
		printf("tmem %s\n", tmem_version_string());
		return 0;
	}
	if (!strcmp(argv[1], "help")) {
		char help[] = "--help";
		char *sub[] = { argv[2], help, NULL };

		cmd = find(argv[2]);
		return cmd ? cmd->run(2, sub) : unknown(argv[2]);
	}
	if (argv[1][0] == '-') {
		fprintf(stderr,
			"tmem: unknown flag '%s'\n"
			"Try 'tmem --help'.\n",
			argv[1]);
		return CLI_EXIT_USAGE;
	}
	cmd = find(argv[1]);
	return cmd ? cmd->run(argc - 1, argv + 1) : unknown(argv[1]);
}
