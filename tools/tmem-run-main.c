// SPDX-License-Identifier: MIT
/*
 * tmem-run-main.c - a stand-alone driver for `tmem run` and `tmem stat`
 * (tmem-run run ..., tmem-run stat PID), used by tests/test-run.sh until
 * the subcommands are wired into the tmem dispatcher.
 */
#include <stdio.h>
#include <string.h>

#include "cmd-run.h"

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "stat"))
		return cmd_stat(argc - 1, argv + 1);
	fprintf(stderr, "usage: %s run|stat ...\n", argv[0]);
	return 2;
}
