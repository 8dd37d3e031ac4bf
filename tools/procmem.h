/* SPDX-License-Identifier: MIT */
/*
 * procmem.h - copy the resident private anonymous memory of a process.
 */
#ifndef TMEM_PROCMEM_H
#define TMEM_PROCMEM_H

#include <stdint.h>
#include <sys/types.h>

#include "pagefile.h"

struct procmem_info {
	uint64_t mappings; /* private anonymous mappings looked at */
	uint64_t mapped_pages; /* their size in pages */
	uint64_t swapped_pages; /* not resident: in swap (skipped) */
	uint64_t unreadable_pages; /* resident but vanished while read */
};

/*
 * Append the contents of every resident page of @pid's private anonymous
 * mappings (no path, [heap], [stack], [anon:...]) to @pb.  Prints a message
 * and returns -errno on failure: -ESRCH for no such process, -EACCES or
 * -EPERM without ptrace permission.
 */
int procmem_read(pid_t pid, struct pagefile_buf *pb, struct procmem_info *info);

#endif /* TMEM_PROCMEM_H */
