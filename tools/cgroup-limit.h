/* SPDX-License-Identifier: MIT */
/*
 * cgroup-limit.h - the memory limit of the cgroup we run in, for
 * `tmem run --ram auto` in containers and Kubernetes pods without swap.
 */
#ifndef TMEM_CGROUP_LIMIT_H
#define TMEM_CGROUP_LIMIT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Values at or above this are "no limit": cgroup v1 writes LONG_MAX
 * rounded down to a page (9223372036854771712) for an unlimited group, and
 * no machine has 1 EiB of memory to limit.
 */
#define CGROUP_UNLIMITED (1ull << 60)

/*
 * What cgroup_auto_budget() keeps back from the limit, and the least
 * budget it hands out (the floor of `tmem run --ram`).
 */
#define CGROUP_MARGIN_DIV 8
#define CGROUP_MARGIN_MIN (32ull << 20)
#define CGROUP_BUDGET_MIN (16ull << 20)

/**
 * cgroup_memory_limit() - the tightest memory limit binding this process.
 * @limit: set to the limit in bytes on success.
 * @where: set to the path of the file that gave it, or to the file that
 *	could not be read on error; may be NULL.  Truncated to @len bytes,
 *	always NUL-terminated when @len > 0.
 * @len: size of @where.
 *
 * The limit is the minimum of memory.max (cgroup v2) or
 * memory.limit_in_bytes (v1) over the process's memory cgroup and every
 * ancestor up to the root of the mount, since a parent's limit binds its
 * children too.  The hierarchy used is the one that has the memory
 * controller: on hybrid machines that is v1, and a v2 group without
 * memory.max at any level has no memory controller.  Mount points come
 * from /proc/self/mountinfo.  When the group of /proc/self/cgroup is not
 * under the mount (a container that sees its host's paths but has only
 * its own group mounted), the mount's root stands for it.
 *
 * Return: 0 with @limit and @where set.  -ENOENT when no limit applies:
 * every level says "max" or at least CGROUP_UNLIMITED (@where is then the
 * nearest limit file), or there is no memory controller (@where is "");
 * also when /proc/self/cgroup or mountinfo does not exist (@where names
 * it).  -EINVAL when a limit file holds something that is not a number or
 * "max".  Another -errno when a file cannot be read.  Where a file is
 * missing or unreadable, tell the user what @where names.
 * Context: reads /proc and /sys; no locks.
 */
int cgroup_memory_limit(uint64_t *limit, char *where, size_t len);

/**
 * cgroup_memory_limit_at() - cgroup_memory_limit() on another tree.
 * @proc_self_cgroup: the file to read as /proc/self/cgroup.
 * @mountinfo: the file to read as /proc/self/mountinfo.
 * @root_prefix: put before every mount point ("" for the real tree); it is
 *	also part of @where.
 * @limit, @where, @len: as for cgroup_memory_limit().
 *
 * For tests, which build fake trees in a temporary directory.
 * Return: as cgroup_memory_limit().
 */
int cgroup_memory_limit_at(const char *proc_self_cgroup, const char *mountinfo,
			   const char *root_prefix, uint64_t *limit,
			   char *where, size_t len);

/**
 * cgroup_auto_budget() - the `--ram auto` budget under a cgroup limit.
 * @limit: from cgroup_memory_limit().
 *
 * The budget holds the program's resident memory and the pool, but the
 * limit charges more than that, and without swap going past it is an OOM
 * kill rather than a slowdown.  Kept back is max(@limit / 8, 32 MiB):
 *
 *  - A fixed part for what does not grow with the budget: `tmem run`
 *    itself, the shim's overshoot of its budget (+4.5 to +4.7 MiB in
 *    docs/run-vs-kernel.md, +8.5 MiB over --ram in the cgroup's charge),
 *    the stats pages in /dev/shm (tmpfs is charged), and the page cache
 *    of the program's binary and libraries, which can be reclaimed but
 *    then is read again at every fault.  32 MiB covers these for a
 *    mid-sized runtime (python, perl).
 *  - A part that grows with it: page tables and other kernel memory the
 *    cgroup is charged for, the program's own file cache, and the backing
 *    file's dirty and under-writeback pages, which reclaim has to wait for
 *    and whose share the kernel's dirty limits set as a fraction of the
 *    group's memory.  One eighth of 512 MiB is the 64 MiB slack above
 *    --ram that docs/run-vs-kernel.md gives tmem run's cgroup, within
 *    which its writeback runs held their budget.  It is not capped, so a
 *    large pod keeps back a lot: give --ram explicitly there to use more.
 *
 * Return: @limit less the margin, or 0 when that is below 16 MiB (the
 * caller refuses it: the limit is too small for tmem run).
 * Context: any.
 */
uint64_t cgroup_auto_budget(uint64_t limit);

#endif /* TMEM_CGROUP_LIMIT_H */
