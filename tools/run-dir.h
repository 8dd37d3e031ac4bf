/* SPDX-License-Identifier: MIT */
/*
 * run-dir.h - the stats pages of `tmem run` seen from the CLI
 * (tools/run-dir.c): the run's directory that `tmem run` makes, sweeps
 * and removes, and the search `tmem stat PID` makes for a live process's
 * page.  The layout is described in preload/run-stats.h.
 */
#ifndef TMEM_RUN_DIR_H
#define TMEM_RUN_DIR_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "run-stats.h"

struct run_dir {
	int fd; /* -1: the run has no directory */
	char path[PATH_MAX];
};

/*
 * Make a fresh directory for this run (/dev/shm/tmem-<ourpid>.XXXXXX,
 * 0700) and open it.  Return 0, or a negative errno with @rd->fd = -1.
 */
int run_dir_create(struct run_dir *rd);
/*
 * Unlink the pages of processes that no longer exist, except @keep's
 * (the program, whose page is read after it is reaped).
 */
void run_dir_sweep(const struct run_dir *rd, pid_t keep);
/* Remove the directory and every page in it; accepts fd -1. */
void run_dir_remove(struct run_dir *rd);
/*
 * Remove the directories that runs killed with SIGKILL left behind: ours
 * (owner, 0700, not a link), idle for a minute, whose run
 * and every page's process are gone.
 */
void run_dir_reclaim(void);

/*
 * Read page <@pid> of the directory @dfd into @st: a regular file of
 * owner @uid, closed to group and others, with our magic, version and
 * size and @st->pid == @pid.  Return 0, -ENOENT if there is none,
 * -EINVAL if it is not such a page.
 */
int run_page_read(int dfd, pid_t pid, uid_t uid, struct tmem_run_stats *st);

/* What `tmem stat` found for a process. */
enum run_page_found {
	RUN_PAGE_LIVE, /* @st is the live page of the process */
	RUN_PAGE_NONE, /* the process exists and has no page */
	RUN_PAGE_STALE, /* only pages left by dead processes with its pid */
	RUN_PAGE_GONE, /* no such process */
	RUN_PAGE_ZOMBIE, /* it has exited and is not reaped yet */
};

/*
 * Find the page of process @pid among all runs' directories: one whose
 * owner is an owner of the process (/proc/<pid>/status) and whose start
 * time is the process's (a page of an earlier process with the same pid
 * is stale).  @path gets the page's path when one was found.
 */
enum run_page_found run_page_find(pid_t pid, struct tmem_run_stats *st,
				  char *path, size_t len);

#endif /* TMEM_RUN_DIR_H */
