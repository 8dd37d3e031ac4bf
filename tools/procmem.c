// SPDX-License-Identifier: MIT
/*
 * procmem.c - copy a running process's anonymous memory, the pages a swap
 * path (and so tmem) would see.
 *
 * Which pages: the private anonymous mappings of /proc/PID/maps (no path,
 * [heap], [stack], named [anon:...] ones), readable ones only; never the
 * kernel's [vdso]/[vvar]/[vsyscall], never file-backed or shared memory,
 * which the kernel writes back to files or keeps in shmem rather than
 * swapping through zswap's frontswap path.  Of those, resident pages only:
 * /proc/PID/pagemap bit 63 ("present"); pages already in swap (bit 62) are
 * counted and skipped, and never-touched pages cost nothing anywhere.
 *
 * How: contiguous runs of present pages are read with one pread() of
 * /proc/PID/mem each, a chunk of pagemap entries at a time, so a big
 * process costs a few syscalls per megabyte.  The process is not stopped:
 * it is an estimate, and stopping a production process for seconds is
 * worse than a few pages read mid-change.  A page that vanishes between
 * pagemap and the read (the process unmapped it) makes the run's read
 * fail; the run is then retried page by page and the lost pages counted.
 *
 * Permission: /proc/PID/mem needs what ptrace needs (root, or the same user
 * with kernel.yama.ptrace_scope=0); the error says exactly that.  Pagemap
 * hides page frame numbers from non-root readers, but the present bit we
 * use is always there.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "procmem.h"

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_CHUNK 512 /* pagemap entries read at once: 2 MiB of memory */
#define PROGRESS_STEP (256ull << 20) /* bytes read between progress lines */

struct reader {
	pid_t pid;
	int mem, pagemap;
	struct pagefile_buf *pb;
	struct procmem_info *info;
	uint64_t next_progress;
	int progress; /* show progress lines; 2 once one was shown */
};

static void explain(pid_t pid, const char *what, int err)
{
	if (err == -ENOENT || err == -ESRCH)
		cli_error("no such process: %d", (int)pid);
	else if (err == -EACCES || err == -EPERM)
		cli_error(
			"reading the memory of process %d needs the same permission as a debugger: run as root or as the same user with kernel.yama.ptrace_scope=0",
			(int)pid);
	else
		cli_error("/proc/%d/%s: %s", (int)pid, what, strerror(-err));
}

/* Whether a maps line's mapping is private anonymous memory we want. */
static int wanted(const char *perms, unsigned long inode, const char *path)
{
	if (perms[0] != 'r' || perms[3] != 'p' || inode != 0)
		return 0;
	return !*path || !strcmp(path, "[heap]") ||
	       !strncmp(path, "[stack", 6) || !strncmp(path, "[anon:", 6);
}

static void progress(struct reader *r)
{
	uint64_t bytes = (uint64_t)r->pb->n * TMEM_PAGE_SIZE;
	char h[32];

	if (!r->progress || bytes < r->next_progress)
		return;
	r->next_progress = bytes + PROGRESS_STEP;
	fprintf(stderr, "\rtmem: %s: read %s of process %d", cli_cmd,
		cli_human(bytes, h, sizeof(h)), (int)r->pid);
	r->progress = 2;
}

/* Read @npages present pages at @addr; page by page if the run fails. */
static int read_run(struct reader *r, uint64_t addr, size_t npages)
{
	size_t len = npages * TMEM_PAGE_SIZE, i;
	ssize_t got;

	if (pagefile_reserve(r->pb, (r->pb->n + npages) * TMEM_PAGE_SIZE))
		return -ENOMEM;
	got = pread(r->mem, pagefile_page(r->pb, r->pb->n), len, (off_t)addr);
	if (got == (ssize_t)len) {
		r->pb->n += npages;
		return 0;
	}
	if (got < 0 && (errno == EACCES || errno == EPERM))
		return -errno;
	for (i = 0; i < npages; i++) {
		got = pread(r->mem, pagefile_page(r->pb, r->pb->n),
			    TMEM_PAGE_SIZE, (off_t)(addr + i * TMEM_PAGE_SIZE));
		if (got == TMEM_PAGE_SIZE)
			r->pb->n++;
		else
			r->info->unreadable_pages++;
	}
	return 0;
}

static int read_mapping(struct reader *r, uint64_t start, uint64_t end)
{
	uint64_t entries[PM_CHUNK];
	uint64_t vpn = start / TMEM_PAGE_SIZE, last = end / TMEM_PAGE_SIZE;
	int err;

	while (vpn < last) {
		size_t n = last - vpn < PM_CHUNK ? last - vpn : PM_CHUNK;
		size_t i = 0, run;
		ssize_t got = pread(r->pagemap, entries, n * sizeof(entries[0]),
				    (off_t)(vpn * sizeof(entries[0])));

		if (got < 0)
			return -errno;
		n = (size_t)got / sizeof(entries[0]);
		if (!n)
			break; /* the mapping went away under us */
		while (i < n) {
			if (!(entries[i] & PM_PRESENT)) {
				if (entries[i] & PM_SWAPPED)
					r->info->swapped_pages++;
				i++;
				continue;
			}
			for (run = 1; i + run < n; run++)
				if (!(entries[i + run] & PM_PRESENT))
					break;
			err = read_run(r, (vpn + i) * TMEM_PAGE_SIZE, run);
			if (err)
				return err;
			i += run;
		}
		vpn += n;
		progress(r);
	}
	return 0;
}

/* Walk /proc/PID/maps and read every wanted mapping. */
static int walk_maps(struct reader *r, FILE *maps)
{
	char *line = NULL;
	size_t cap = 0;
	int err = 0;

	while (getline(&line, &cap, maps) > 0) {
		unsigned long long start, end, off;
		unsigned long inode;
		unsigned dmaj, dmin;
		char perms[8];
		int pos = 0;
		char *path;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %lu %n", &start,
			   &end, perms, &off, &dmaj, &dmin, &inode, &pos) < 7 ||
		    strlen(perms) < 4)
			continue;
		path = line + pos;
		path[strcspn(path, "\n")] = '\0';
		if (!wanted(perms, inode, path))
			continue;
		r->info->mappings++;
		r->info->mapped_pages += (end - start) / TMEM_PAGE_SIZE;
		err = read_mapping(r, start, end);
		if (err)
			break;
	}
	free(line);
	return err;
}

static int open_proc(pid_t pid, const char *what)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int procmem_read(pid_t pid, struct pagefile_buf *pb, struct procmem_info *info)
{
	struct reader r = { .pid = pid, .pb = pb, .info = info };
	FILE *maps;
	int fd, err;

	memset(info, 0, sizeof(*info));
	if (sysconf(_SC_PAGESIZE) != TMEM_PAGE_SIZE) {
		cli_error("the system page size is not %u bytes",
			  TMEM_PAGE_SIZE);
		return -EOPNOTSUPP;
	}
	r.progress = cli_progress_wanted();
	r.next_progress = PROGRESS_STEP;
	fd = open_proc(pid, "maps");
	if (fd < 0) {
		explain(pid, "maps", fd);
		return fd;
	}
	maps = fdopen(fd, "r");
	if (!maps) {
		close(fd);
		return -ENOMEM;
	}
	r.pagemap = open_proc(pid, "pagemap");
	if (r.pagemap < 0) {
		err = r.pagemap;
		explain(pid, "pagemap", err);
		goto close_maps;
	}
	r.mem = open_proc(pid, "mem");
	if (r.mem < 0) {
		err = r.mem;
		explain(pid, "mem", err);
		goto close_pagemap;
	}
	err = walk_maps(&r, maps);
	if (r.progress == 2) {
		r.next_progress = 0; /* the final total */
		progress(&r);
		fputc('\n', stderr);
	}
	if (err)
		explain(pid, "mem", err);
	close(r.mem);
close_pagemap:
	close(r.pagemap);
close_maps:
	fclose(maps);
	return err;
}
