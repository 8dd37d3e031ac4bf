/* SPDX-License-Identifier: MIT */
/*
 * preload.h - what the files of libtmem-preload.so share.  See README.md
 * for the rules every file here follows (no malloc, no stdio in the
 * fault path, the handler thread or before main).
 */
#ifndef TMEM_PRELOAD_H
#define TMEM_PRELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "run-stats.h"

/*
 * Set in tmem's own threads (fault handler, evictor) and around the
 * shim's own work: the malloc family then uses glibc's allocator and
 * mmap passes straight to the kernel, so tmem never touches managed
 * memory it might have to fault in itself.
 */
extern __thread int rg_internal __attribute__((tls_model("initial-exec")));

/* Settings parsed from TMEM_RUN_* once, in the constructor. */
struct rg_config {
	uint64_t ram; /* budget, bytes */
	uint64_t pool_max; /* pool limit, bytes */
	uint64_t region; /* virtual size reserved, bytes */
	char compressor[16];
	int top; /* this is the process `tmem run` started */
	const char *backing; /* TMEM_RUN_BACKING: a directory, or NULL */
};

/* Raw system calls: never interposed, never allocate. */
void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int sys_munmap(void *addr, size_t len);
int sys_madvise(void *addr, size_t len, int advice);
int sys_mprotect(void *addr, size_t len, int prot);
int sys_close(int fd);
long raw_syscall(long n, long a, long b, long c, long d, long e, long f);

/* shim.c: fork steps, shared with the fork wrappers of process.c. */
bool shim_active(void);
void shim_fork_prepare(void);
void shim_fork_parent(void);
void shim_fork_child(int shared_files);

/* process.c: forks without atfork handlers, descriptor calls. */
void process_init(void);
/* Lower-case hex digits at *p, advancing it (/proc files). */
uintptr_t process_hex(const char **p);
/* pins.c: O_DIRECT reads in flight keep their pages from the evictor. */
struct iovec;
uint64_t pins_io_begin(int fd, const struct iovec *iov, int n);
void pins_io_end(uint64_t taken);
long pins_uring_register(long fd, long op, long arg, long nr);
void process_mapped(void *addr, size_t len);
void process_limit_made_room(void);
bool process_as_refuses(size_t n);
bool shim_pool_mapping(uintptr_t start, uintptr_t end);

/* region.c: the managed region, its fault handler and evictor. */
int rg_init(const struct rg_config *cfg, void **arena, size_t *arena_len,
	    void **carve, size_t *carve_len);
int rg_contains(const void *addr, size_t len);
void rg_discard(void *addr, size_t len);
void rg_forget(void *addr, size_t len);
int rg_adopt(void *addr, size_t len);
void rg_foreign(void *addr, size_t len);
bool rg_has_foreign(const void *addr, size_t len);
bool rg_has_managed(const void *addr, size_t len);
bool rg_own_mapping(uintptr_t start, uintptr_t end);
uint64_t rg_reserved_bytes(void);
uint64_t rg_reserve_for(uint64_t region);
void rg_fork_advice(void *addr, size_t len, int advice);
void rg_protect(void *addr, size_t len, int prot);
int rg_move(void *dst, void *src, size_t len);
void rg_atfork_prepare(void);
void rg_atfork_parent(void);
int rg_atfork_child(int shared_files);
/* tmem's own descriptors: never closed by the program's calls (the
 * userfaultfd, statm, a pidfd, two backing files). */
#define RG_OWN_FDS 5
bool rg_owns_fd(int fd);
int rg_own_fds(int *fds); /* ascending; returns the count */
void rg_move_fd_away(int fd);
void rg_exit(void);

/* backing.c: the backing file (--backing-file), its descriptors, and
 * the file ops of the library's OS layer (shim.c). */
void backing_config(const char *dir);
void backing_setup(void);
int backing_fds(int *fds);
void backing_move_fd_away(int fd);
void backing_fork_prepare(void);
void backing_fork_shares_files(void);
void backing_fork_parent(void);
void backing_fork_child(int shared_files);
void backing_stats_reset(void);
int backing_open(const char *path, int flags, unsigned mode);
int backing_close(int fd);
long backing_pread(int fd, void *buf, size_t n, uint64_t off);
long backing_pwrite(int fd, const void *buf, size_t n, uint64_t off);
int backing_fallocate(int fd, int mode, uint64_t off, uint64_t len);

/* stats-page.c: <run dir>/<pid> (docs/run.md), or @local when it cannot
 * be had. */
struct tmem_run_stats *stats_page_open(struct tmem_run_stats *local,
				       const char *compressor, uint64_t ram,
				       uint64_t pool_max);
void stats_page_close(struct tmem_run_stats *st,
		      const struct tmem_run_stats *local);
void stats_page_remove(void);

/* carve.c: first-fit range allocator for anonymous mmap in the region. */
void carve_init(void *base, size_t len);
void *carve_alloc(size_t len);
void carve_free(void *addr, size_t len);
void carve_claim(void *addr, size_t len);
int carve_resize(void *addr, size_t old_len, size_t new_len);
void carve_lock(void);
void carve_unlock(void);

#endif /* TMEM_PRELOAD_H */
