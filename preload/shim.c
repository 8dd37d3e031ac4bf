// SPDX-License-Identifier: MIT
/*
 * shim.c - libtmem-preload.so's entry points: the constructor that sets
 * up the managed region, and the interposed malloc family and anonymous
 * mmap/munmap/mremap/madvise/mprotect.
 *
 * The heap: mimalloc 2.0 (Debian's libmimalloc.so.2) is dlopen'ed
 * RTLD_LOCAL - so its own malloc overrides stay private - and confined to
 * the region's first half with mi_manage_os_memory() and
 * mi_option_limit_os_alloc.  It commits with mprotect and decommits and
 * resets with madvise, which land in the interposers here, so memory it
 * frees is discarded (reads back as zeroes, pool copies dropped).
 *
 * Who gets which allocator: the program's threads get mimalloc; tmem's
 * own threads and the shim itself (rg_internal set) and anything before
 * the constructor get glibc's __libc_malloc, so tmem never depends on
 * managed memory it may have to fault in.  free() and friends route by
 * address: a pointer inside the region is mimalloc's, any other glibc's.
 * If mimalloc's arena runs out the program silently gets glibc memory
 * (unmanaged), never a failure tmem caused.
 *
 * Anonymous private mappings without MAP_FIXED/MAP_STACK/MAP_HUGETLB are
 * carved from the region's second half (carve.c); munmap discards them
 * and leaves them PROT_NONE for reuse.  File-backed and shared mappings,
 * and anything outside the region, go straight to the kernel.
 *
 * Lock order: carve lock -> region locks (region.c).  Fork: prepare takes
 * the carve lock and the region's locks, the child rebuilds its handler.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mimalloc.h>

#include "internal.h"
#include "preload.h"

#define SHIM_EXPORT __attribute__((visibility("default")))
#define PAGE_ROUND(n) (((n) + TM_PAGE_SIZE - 1) & ~(TM_PAGE_SIZE - 1))
#define SHIM_MIN_RAM (16ull << 20) /* matches `tmem run`'s minimum */
#define SHIM_DEFAULT_REGION (256ull << 30) /* virtual only (NORESERVE) */

__thread int rg_internal __attribute__((tls_model("initial-exec")));

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static struct {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*malloc_aligned)(size_t, size_t);
	void (*free)(void *);
	size_t (*usable_size)(const void *);
} mi;
static size_t (*libc_usable_size)(void *);
static char *arena_lo, *arena_hi, *carve_lo, *carve_hi;
static _Atomic int active;

/* ------------------------------------------------------------------ */
/* Raw system calls                                                    */
/* ------------------------------------------------------------------ */

void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

int sys_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}

int sys_mprotect(void *addr, size_t len, int prot)
{
	return (int)syscall(SYS_mprotect, addr, len, prot);
}

/* Closes even tmem's own descriptors, which close() refuses to. */
int sys_close(int fd)
{
	return (int)raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
}

/* ------------------------------------------------------------------ */
/* The malloc family                                                   */
/* ------------------------------------------------------------------ */

static inline bool use_mi(void)
{
	return atomic_load_explicit(&active, memory_order_acquire) &&
	       !rg_internal;
}

static inline bool in_arena(const void *p)
{
	return (const char *)p >= arena_lo && (const char *)p < arena_hi;
}

/* The program's own address-space limit, for large requests (process.c). */
static inline bool over_limit(size_t n)
{
	if (tm_likely(n < (64u << 20)) || !process_as_refuses(n))
		return false;
	errno = ENOMEM;
	return true;
}

SHIM_EXPORT void *malloc(size_t n)
{
	if (use_mi()) {
		if (over_limit(n))
			return NULL;
		void *p = mi.malloc(n);

		if (tm_likely(p != NULL))
			return p;
	}
	return __libc_malloc(n);
}

SHIM_EXPORT void free(void *p)
{
	if (!p)
		return;
	if (in_arena(p))
		mi.free(p);
	else
		__libc_free(p);
}

SHIM_EXPORT void *calloc(size_t n, size_t m)
{
	if (use_mi()) {
		if (over_limit(n * m > n ? n * m : m))
			return NULL;
		void *p = mi.calloc(n, m);

		if (tm_likely(p != NULL))
			return p;
	}
	return __libc_calloc(n, m);
}

SHIM_EXPORT size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (in_arena(p))
		return mi.usable_size(p);
	return libc_usable_size ? libc_usable_size(p) : 0;
}

SHIM_EXPORT void *realloc(void *p, size_t n)
{
	void *q;
	size_t old;

	if (!p)
		return malloc(n);
	if (!n) {
		free(p);
		return NULL;
	}
	if (over_limit(n))
		return NULL;
	if (in_arena(p)) {
		q = mi.realloc(p, n);
		if (q)
			return q;
		old = mi.usable_size(p);
	} else {
		if (!use_mi())
			return __libc_realloc(p, n);
		old = libc_usable_size ? libc_usable_size(p) : 0;
	}
	/* Move between allocators (or out of a full arena). */
	q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	free(p);
	return q;
}

SHIM_EXPORT void *reallocarray(void *p, size_t n, size_t m)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, m, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, bytes);
}

static void *aligned(size_t align, size_t n)
{
	if (use_mi()) {
		if (over_limit(n))
			return NULL;
		void *p = mi.malloc_aligned(n, align);

		if (p)
			return p;
	}
	return __libc_memalign(align, n);
}

SHIM_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (!align || (align & (align - 1)) || align % sizeof(void *))
		return EINVAL;
	p = aligned(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

SHIM_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (!align || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(align, n);
}

SHIM_EXPORT void *memalign(size_t align, size_t n)
{
	if (!align || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(align, n);
}

SHIM_EXPORT void *valloc(size_t n)
{
	return aligned(TM_PAGE_SIZE, n);
}

SHIM_EXPORT void *pvalloc(size_t n)
{
	return aligned(TM_PAGE_SIZE, PAGE_ROUND(n ? n : 1));
}

/* ------------------------------------------------------------------ */
/* Anonymous mappings                                                  */
/* ------------------------------------------------------------------ */

static bool in_carve(const void *p, size_t len)
{
	return (const char *)p >= carve_lo && (const char *)p + len <= carve_hi;
}

/* The part of [addr, addr+len) inside the region, if any. */
static bool clip(void *addr, size_t len, char **lo, char **hi)
{
	char *a = addr, *b = a + len;

	if (!atomic_load(&active) || b <= arena_lo || a >= carve_hi)
		return false;
	*lo = a < arena_lo ? arena_lo : a;
	*hi = b > carve_hi ? carve_hi : b;
	return true;
}

/*
 * Put a fresh reserved mapping (PROT_NONE, registered) over [p, p+len):
 * whatever the program had there - its anonymous pages, a file or memfd
 * it placed with MAP_FIXED, fork or mlock flags - really ends.  Returns
 * 0, or -errno with the range left out of the region's use.
 */
static int reset_range(char *p, size_t len)
{
	static int warned;
	int err = 0;

	rg_forget(p, len);
	if (sys_mmap(p, len, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		     -1, 0) == MAP_FAILED)
		err = -errno;
	else
		err = rg_adopt(p, len);
	if (err && !warned++)
		tm_log("tmem: cannot reset unmapped memory at %p (%s); its "
		       "address space is left unused\n",
		       (void *)p, strerror(-err));
	return err;
}

/* Make carved pages unusable again and give them back. */
static void unmap_carved(char *p, size_t len)
{
	if (!reset_range(p, len))
		carve_free(p, len);
}

/*
 * MAP_FIXED over the region: the program places a mapping in memory it
 * got from us (a reservation it commits, HotSpot's heap; a file or memfd
 * placed inside a reservation).  The pages that were there are forgotten
 * first.  A new anonymous private mapping is registered and managed like
 * the rest; anything else (file, shared, locked) is marked foreign, never
 * touched by the evictor, and ended for real by munmap.
 */
static void *fixed_in_region(void *addr, size_t len, int prot, int flags,
			     int fd, off_t off, char *lo, char *hi)
{
	const int keep_out = MAP_HUGETLB | MAP_LOCKED | MAP_GROWSDOWN;
	bool managed = (flags & MAP_ANONYMOUS) &&
		       (flags & MAP_TYPE) == MAP_PRIVATE && !(flags & keep_out);
	size_t n = PAGE_ROUND((size_t)(hi - lo));
	void *p;

	carve_lock();
	rg_forget(lo, n);
	p = sys_mmap(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED && in_carve(lo, n))
		carve_claim(lo, n);
	if (p != MAP_FAILED) {
		if (managed && rg_adopt(lo, n))
			managed = false;
		if (!managed)
			rg_foreign(lo, n);
	}
	carve_unlock();
	return p;
}

static void *shim_mmap(void *addr, size_t len, int prot, int flags, int fd,
		       off_t off)
{
	const int unmanaged = MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_STACK |
			      MAP_GROWSDOWN | MAP_HUGETLB | MAP_LOCKED |
			      MAP_32BIT;
	char *lo, *hi, *p;
	size_t n;

	if ((flags & MAP_FIXED) && !((uintptr_t)addr & (TM_PAGE_SIZE - 1)) &&
	    len && clip(addr, len, &lo, &hi))
		return fixed_in_region(addr, len, prot, flags, fd, off, lo, hi);
	if (!use_mi() || !(flags & MAP_ANONYMOUS) ||
	    (flags & MAP_TYPE) != MAP_PRIVATE || (flags & unmanaged) || !len ||
	    len > (size_t)(carve_hi - carve_lo)) {
		p = sys_mmap(addr, len, prot, flags, fd, off);
		if (p != MAP_FAILED && !rg_internal)
			process_mapped(p, len);
		return p;
	}
	n = PAGE_ROUND(len);
	carve_lock();
	p = carve_alloc(n);
	if (p && sys_mprotect(p, n, prot)) {
		carve_free(p, n);
		p = NULL;
	}
	if (p)
		rg_protect(p, n, prot);
	carve_unlock();
	if (!p)
		return sys_mmap(addr, len, prot, flags, fd, off);
	return p;
}

SHIM_EXPORT int munmap(void *addr, size_t len)
{
	char *lo, *hi;

	if (!clip(addr, len, &lo, &hi) || ((uintptr_t)addr & 4095) || !len)
		return sys_munmap(addr, len);
	hi = (char *)PAGE_ROUND((uintptr_t)hi);
	if ((char *)addr < lo && sys_munmap(addr, (size_t)(lo - (char *)addr)))
		return -1;
	if ((char *)addr + len > hi &&
	    sys_munmap(hi, (size_t)((char *)addr + len - hi)))
		return -1;
	carve_lock();
	if (in_carve(lo, (size_t)(hi - lo))) {
		unmap_carved(lo, (size_t)(hi - lo));
	} else {
		/* Not ours to unmap (mimalloc's arena): drop the data. */
		rg_discard(lo, (size_t)(hi - lo));
	}
	carve_unlock();
	return 0;
}

/*
 * mremap of a file or memfd mapping the program placed in its
 * reservation: the kernel moves or resizes it (out of the region when it
 * moves), and the part of the region it left is reset for reuse.  A
 * range that mixes such a mapping with managed pages is refused: the
 * kernel would move managed pages out without their pool copies.
 */
static void *remap_foreign(void *old, size_t old_len, size_t new_len, int flags,
			   void *fixed)
{
	size_t o = PAGE_ROUND(old_len), n = PAGE_ROUND(new_len);
	char *p;

	carve_lock();
	if (rg_has_managed(old, o)) {
		carve_unlock();
		errno = EINVAL;
		return MAP_FAILED;
	}
	p = (char *)syscall(SYS_mremap, old, old_len, new_len, flags, fixed);
	if (p != MAP_FAILED) {
		if (p != (char *)old) {
			if (!(flags & MREMAP_DONTUNMAP))
				reset_range(old, o);
		} else if (n < o) {
			reset_range((char *)old + n, o - n);
		}
		if (clip(p, n, &(char *){ NULL }, &(char *){ NULL }))
			rg_foreign(p, n);
	}
	carve_unlock();
	return p;
}

SHIM_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags,
			 ...)
{
	size_t o = PAGE_ROUND(old_len), n = PAGE_ROUND(new_len);
	void *fixed = NULL, *p;
	int err;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		fixed = va_arg(ap, void *);
		va_end(ap);
	}
	if (!atomic_load(&active) || !old_len || !in_carve(old, o))
		return (void *)syscall(SYS_mremap, old, old_len, new_len, flags,
				       fixed);
	if (rg_has_foreign(old, o))
		return remap_foreign(old, old_len, new_len, flags, fixed);
	if ((flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) || !new_len ||
	    ((uintptr_t)old & 4095)) {
		errno = EINVAL; /* not supported on managed memory */
		return MAP_FAILED;
	}
	carve_lock();
	if (n <= o) {
		if (n < o)
			unmap_carved((char *)old + n, o - n);
		carve_unlock();
		return old;
	}
	if (!carve_resize(old, o, n)) {
		sys_mprotect((char *)old + o, n - o, PROT_READ | PROT_WRITE);
		rg_protect((char *)old + o, n - o, PROT_READ | PROT_WRITE);
		carve_unlock();
		return old;
	}
	if (!(flags & MREMAP_MAYMOVE)) {
		carve_unlock();
		errno = ENOMEM;
		return MAP_FAILED;
	}
	p = carve_alloc(n);
	if (!p) {
		carve_unlock();
		errno = ENOMEM;
		return MAP_FAILED;
	}
	sys_mprotect(p, n, PROT_READ | PROT_WRITE);
	rg_protect(p, n, PROT_READ | PROT_WRITE);
	err = rg_move(p, old, o);
	if (err) {
		unmap_carved(p, n);
		carve_unlock();
		errno = -err;
		return MAP_FAILED;
	}
	rg_protect(old, o, PROT_NONE);
	sys_mprotect(old, o, PROT_NONE);
	carve_free(old, o);
	carve_unlock();
	return p;
}

SHIM_EXPORT int madvise(void *addr, size_t len, int advice)
{
	char *lo, *hi;

	if (!clip(addr, len, &lo, &hi))
		return sys_madvise(addr, len, advice);
	switch (advice) {
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
	case MADV_FREE:
	case MADV_REMOVE:
		/* Freed memory reads back as zeroes and leaves the pool. */
		if ((uintptr_t)addr & 4095) {
			errno = EINVAL;
			return -1;
		}
		rg_discard(lo, PAGE_ROUND((size_t)(hi - lo)));
		break;
	case MADV_HUGEPAGE: /* would populate 2 MiB behind the handler */
		break;
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
	case MADV_DONTFORK:
	case MADV_DOFORK:
		/* The kernel applies them to the pages it copies; fork.c
		 * to the pool's copies and states in the child. */
		if (sys_madvise(lo, (size_t)(hi - lo), advice))
			return -1;
		rg_fork_advice(lo, (size_t)(hi - lo), advice);
		break;
	default:
		if (sys_madvise(lo, (size_t)(hi - lo), advice))
			return -1;
	}
	if ((char *)addr < lo &&
	    sys_madvise(addr, (size_t)(lo - (char *)addr), advice))
		return -1;
	if ((char *)addr + len > hi &&
	    sys_madvise(hi, (size_t)((char *)addr + len - hi), advice))
		return -1;
	return 0;
}

SHIM_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	char *lo, *hi;

	if (!clip(addr, len, &lo, &hi))
		return sys_mprotect(addr, len, prot);
	/* PROT_NONE: stop the evictor reading the pages before they go. */
	if (prot == PROT_NONE)
		rg_protect(lo, (size_t)(hi - lo), prot);
	if (sys_mprotect(addr, len, prot))
		return -1;
	if (prot != PROT_NONE)
		rg_protect(lo, (size_t)(hi - lo), prot);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

/*
 * The pool's reservations, so that mlockall() (process.c) can tell them
 * from the program's mappings.  Past the table's size a reservation is
 * not recorded, and mlockall() would lock it (populate it) like the
 * program's: the cost is memory, never data.
 */
#define SHIM_POOL_MAPS 4096 /* 8 GiB of pool in 2 MiB reservations */
static struct {
	uintptr_t start, end;
} pool_maps[SHIM_POOL_MAPS];
static pthread_mutex_t pool_maps_mu = PTHREAD_MUTEX_INITIALIZER;

static void pool_map_note(void *p, size_t len, bool add)
{
	uintptr_t want = add ? 0 : (uintptr_t)p;

	pthread_mutex_lock(&pool_maps_mu);
	for (size_t k = 0; k < SHIM_POOL_MAPS; k++)
		if (pool_maps[k].start == want) {
			pool_maps[k].start = add ? (uintptr_t)p : 0;
			pool_maps[k].end = add ? (uintptr_t)p + len : 0;
			break;
		}
	pthread_mutex_unlock(&pool_maps_mu);
}

bool shim_pool_mapping(uintptr_t start, uintptr_t end)
{
	bool found = false;

	pthread_mutex_lock(&pool_maps_mu);
	for (size_t k = 0; k < SHIM_POOL_MAPS && !found; k++)
		found = pool_maps[k].start && start < pool_maps[k].end &&
			end > pool_maps[k].start;
	pthread_mutex_unlock(&pool_maps_mu);
	return found;
}

static int os_map(size_t len, void **out)
{
	void *p = sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	pool_map_note(p, len, true);
	*out = p;
	return 0;
}

static int os_unmap(void *addr, size_t len)
{
	pool_map_note(addr, len, false);
	return sys_munmap(addr, len) ? -errno : 0;
}

static int os_discard(void *addr, size_t len)
{
	return sys_madvise(addr, len, MADV_DONTNEED) ? -errno : 0;
}

/* A zspage's run in one call, not a fault per page (see lib/os.c). */
static int os_populate(void *addr, size_t len)
{
	return sys_madvise(addr, len, MADV_POPULATE_WRITE) ? -errno : 0;
}

/* Huge pages would make one zspage cost 2 MiB of RSS. */
static int os_nohuge(void *addr, size_t len)
{
	return sys_madvise(addr, len, MADV_NOHUGEPAGE) ? -errno : 0;
}

/* The pool's own memory: glibc's heap and plain mappings, never managed. */
static const struct tm_os_ops shim_os = {
	.map = os_map,
	.unmap = os_unmap,
	.discard = os_discard,
	.populate = os_populate,
	.nohuge = os_nohuge,
	.malloc = __libc_malloc,
	.realloc = __libc_realloc,
	.free = __libc_free,
	/* the backing file's descriptors are tmem's (backing.c) */
	.open = backing_open,
	.close = backing_close,
	.pread = backing_pread,
	.pwrite = backing_pwrite,
	.fallocate = backing_fallocate,
};

static uint64_t env_size(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	uint64_t v;

	if (!s || !*s || tmem_parse_size(s, &v))
		return def;
	return v;
}

bool shim_active(void)
{
	return atomic_load_explicit(&active, memory_order_acquire);
}

void shim_fork_prepare(void)
{
	carve_lock();
	rg_atfork_prepare();
}

void shim_fork_parent(void)
{
	rg_atfork_parent();
	carve_unlock();
}

void shim_fork_child(int shared_files)
{
	rg_atfork_child(shared_files);
	carve_unlock();
}

/*
 * An address-space limit set before `tmem run` (ulimit -v) would refuse
 * the region, or leave the program none of its own: raise it by what
 * tmem reserves when the hard limit allows (or we may raise that), else
 * reserve a smaller region that fits in half of what is left, else run
 * unmanaged and say why.  Returns false for the last case.
 */
static bool make_room(struct rg_config *cfg)
{
	uint64_t need = rg_reserve_for(cfg->region);
	struct rlimit rl, nw;
	long vm = 0;
	char buf[64];
	int fd;

	if (raw_syscall(SYS_prlimit64, 0, RLIMIT_AS, 0, (long)&rl, 0, 0) ||
	    rl.rlim_cur == RLIM_INFINITY)
		return true;
	nw.rlim_cur = rl.rlim_cur + need;
	nw.rlim_max = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > nw.rlim_cur
			      ? rl.rlim_max
			      : nw.rlim_cur;
	if (!raw_syscall(SYS_prlimit64, 0, RLIMIT_AS, (long)&nw, 0, 0, 0)) {
		process_limit_made_room();
		return true;
	}
	fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = 0;
		vm = strtol(buf, NULL, 10) * TM_PAGE_SIZE;
		sys_close(fd);
	}
	if (rl.rlim_cur > (rlim_t)vm)
		cfg->region =
			((rl.rlim_cur - (rlim_t)vm) / 2) & ~((64ull << 20) - 1);
	else
		cfg->region = 0;
	if (cfg->region >= 4 * cfg->ram && cfg->region >= (256ull << 20))
		return true;
	tm_log("tmem: the address-space limit (ulimit -v, RLIMIT_AS: %llu "
	       "MiB) leaves no room for the managed region and cannot be "
	       "raised; running unmanaged (remove the limit or raise its "
	       "hard value)\n",
	       (unsigned long long)(rl.rlim_cur >> 20));
	return false;
}

static void on_child(void)
{
	shim_fork_child(0);
}

static int bind_mimalloc(void)
{
	void (*opt_set)(mi_option_t, long);
	void *h = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return -ENOENT;
	mi.malloc = (void *(*)(size_t))dlsym(h, "mi_malloc");
	mi.calloc = (void *(*)(size_t, size_t))dlsym(h, "mi_calloc");
	mi.realloc = (void *(*)(void *, size_t))dlsym(h, "mi_realloc");
	mi.malloc_aligned =
		(void *(*)(size_t, size_t))dlsym(h, "mi_malloc_aligned");
	mi.free = (void (*)(void *))dlsym(h, "mi_free");
	mi.usable_size = (size_t(*)(const void *))dlsym(h, "mi_usable_size");
	opt_set = (void (*)(mi_option_t, long))dlsym(h, "mi_option_set");
	if (!mi.malloc || !mi.calloc || !mi.realloc || !mi.malloc_aligned ||
	    !mi.free || !mi.usable_size || !opt_set)
		return -ENOENT;
	/* Only the arena we give it; no memory of its own from the OS. */
	opt_set(mi_option_limit_os_alloc, 1);
	return 0;
}

__attribute__((constructor)) static void shim_init(void)
{
	bool (*manage)(void *, size_t, bool, bool, bool, int);
	struct rg_config cfg = { 0 };
	void *arena, *carve;
	size_t arena_len, carve_len;
	const char *s;
	int err;

	process_init();
	if (!getenv("TMEM_RUN_RAM"))
		return;
	rg_internal = 1;
	libc_usable_size =
		(size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
	tm_os_set(&shim_os);
	cfg.ram = env_size("TMEM_RUN_RAM", 0);
	if (cfg.ram < SHIM_MIN_RAM) {
		tm_log("tmem: TMEM_RUN_RAM is missing or below 16M; running "
		       "unmanaged\n");
		goto out;
	}
	cfg.pool_max = env_size("TMEM_RUN_POOL_MAX", cfg.ram / 4 * 3);
	cfg.region = env_size("TMEM_RUN_REGION", SHIM_DEFAULT_REGION);
	if (!make_room(&cfg))
		goto out;
	s = getenv("TMEM_RUN_COMPRESSOR");
	if (s)
		strncpy(cfg.compressor, s, sizeof(cfg.compressor) - 1);
	cfg.backing = getenv("TMEM_RUN_BACKING");
	s = getenv("TMEM_RUN_TOP");
	cfg.top = s && (pid_t)strtol(s, NULL, 10) == getpid();

	err = bind_mimalloc();
	if (err) {
		tm_log("tmem: cannot load libmimalloc.so.2 (install "
		       "libmimalloc2.0); running unmanaged\n");
		goto out;
	}
	err = rg_init(&cfg, &arena, &arena_len, &carve, &carve_len);
	if (err) {
		tm_log("tmem: cannot set up managed memory (%s); running "
		       "unmanaged\n",
		       strerror(-err));
		goto out;
	}
	manage = (bool (*)(void *, size_t, bool, bool, bool, int))dlsym(
		RTLD_DEFAULT, "mi_manage_os_memory");
	if (!manage)
		manage = (bool (*)(void *, size_t, bool, bool, bool, int))dlsym(
			dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_NOLOAD),
			"mi_manage_os_memory");
	if (!manage || !manage(arena, arena_len, false, false, true, -1)) {
		tm_log("tmem: mimalloc refused the managed arena; running "
		       "unmanaged\n");
		goto out;
	}
	carve_init(carve, carve_len);
	arena_lo = arena;
	arena_hi = (char *)arena + arena_len;
	carve_lo = carve;
	carve_hi = (char *)carve + carve_len;
	pthread_atfork(shim_fork_prepare, shim_fork_parent, on_child);
	atomic_store_explicit(&active, 1, memory_order_release);
out:
	rg_internal = 0;
}

__attribute__((destructor)) static void shim_fini(void)
{
	rg_exit();
}

/*
 * Exported under both names with explicit symbols: with
 * _FILE_OFFSET_BITS=64 the header renames mmap to mmap64, and programs
 * built either way must land here.  off_t is 64 bits on every target.
 */
_Static_assert(sizeof(off_t) == 8, "mmap and mmap64 are the same call");
SHIM_EXPORT void *shim_mmap_plain(void *addr, size_t len, int prot, int flags,
				  int fd, off_t off) __asm__("mmap");
SHIM_EXPORT void *shim_mmap_64(void *addr, size_t len, int prot, int flags,
			       int fd, off_t off) __asm__("mmap64");

void *shim_mmap_plain(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off)
{
	return shim_mmap(addr, len, prot, flags, fd, off);
}

void *shim_mmap_64(void *addr, size_t len, int prot, int flags, int fd,
		   off_t off)
{
	return shim_mmap(addr, len, prot, flags, fd, off);
}
