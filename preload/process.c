// SPDX-License-Identifier: MIT
/*
 * process.c - the process-level calls the shim must see: the ways to
 * fork that skip pthread_atfork handlers, and the calls that close
 * descriptors.
 *
 * Forks without atfork handlers (glibc's _Fork(), clone() without
 * CLONE_VM, syscall(SYS_fork / SYS_clone / SYS_clone3)) would give a
 * child that shares nothing with tmem's threads and has no userfaultfd
 * registration: every page in the pool would read as zeroes there.  They
 * are wrapped here in the same prepare / parent / child steps as fork().
 * A fork made with an inline system call instruction (no libc) cannot be
 * seen; docs/run.md says so.
 *
 * Descriptors: tmem's own (the userfaultfd, /proc/self/statm, a pidfd)
 * live near the top of the first 1024 (rg_high_fd()); close(),
 * close_range(), closefrom() and the raw syscalls skip them, and dup2()/
 * dup3() onto one first move it out of the way.  A program that closes
 * "every descriptor" (daemons, close_range(3, ~0U) before exec) then
 * keeps its memory served instead of losing the userfaultfd under it.
 *
 * Nothing here allocates; raw system calls go through raw_syscall(),
 * which never comes back into these wrappers.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "preload.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

long raw_syscall(long n, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
#else
#error "raw_syscall: add this architecture's system call instruction"
#endif
}

static long ret_errno(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Forks without atfork handlers                                       */
/* ------------------------------------------------------------------ */

static pid_t (*real_fork_)(void);
static int (*real_clone)(int (*)(void *), void *, int, void *, ...);
static int (*real_close)(int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_readv)(int, const struct iovec *, int);
static ssize_t (*real_preadv)(int, const struct iovec *, int, off_t);
static ssize_t (*real_preadv2)(int, const struct iovec *, int, off_t, int);

/* Resolved in the constructor, before the program runs. */
void process_init(void)
{
	real_fork_ = (pid_t(*)(void))dlsym(RTLD_NEXT, "_Fork");
	real_clone = (int (*)(int (*)(void *), void *, int, void *, ...))dlsym(
		RTLD_NEXT, "clone");
	real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	real_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	real_pread = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT,
								   "pread64");
	real_readv = (ssize_t(*)(int, const struct iovec *, int))dlsym(
		RTLD_NEXT, "readv");
	real_preadv = (ssize_t(*)(int, const struct iovec *, int, off_t))dlsym(
		RTLD_NEXT, "preadv64");
	real_preadv2 = (ssize_t(*)(int, const struct iovec *, int, off_t,
				   int))dlsym(RTLD_NEXT, "preadv64v2");
}

/* A raw fork-like system call with the fork handlers around it. */
static long fork_wrapped(long n, long a, long b, long c, long d, long e,
			 int shared_files)
{
	long r;

	shim_fork_prepare();
	if (shared_files)
		backing_fork_shares_files();
	r = raw_syscall(n, a, b, c, d, e, 0);
	if (r == 0)
		shim_fork_child(shared_files);
	else
		shim_fork_parent();
	return ret_errno(r);
}

SHIM_EXPORT pid_t _Fork(void)
{
	pid_t pid;

	if (!real_fork_)
		return (pid_t)ret_errno(
			raw_syscall(SYS_fork, 0, 0, 0, 0, 0, 0));
	if (!shim_active())
		return real_fork_();
	shim_fork_prepare();
	pid = real_fork_();
	if (pid == 0)
		shim_fork_child(0);
	else
		shim_fork_parent();
	return pid;
}

/* The child's entry: run the child handler on its stack, then the
 * program's function.  One clone at a time (under the fork locks). */
static struct {
	int (*fn)(void *);
	void *arg;
	int shared_files;
} clone_call;

static int clone_child(void *unused)
{
	(void)unused;
	shim_fork_child(clone_call.shared_files);
	/* glibc ends a clone() child with exit(2), which ends one thread:
	 * with tmem's threads in it the process must end as a whole. */
	_exit(clone_call.fn(clone_call.arg));
}

SHIM_EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	pid_t *ptid, *ctid;
	void *tls;
	va_list ap;
	int r;

	va_start(ap, arg);
	ptid = va_arg(ap, pid_t *);
	tls = va_arg(ap, void *);
	ctid = va_arg(ap, pid_t *);
	va_end(ap);
	if (!real_clone) {
		errno = ENOSYS;
		return -1;
	}
	if ((flags & CLONE_VM) || !shim_active())
		return real_clone(fn, stack, flags, arg, ptid, tls, ctid);
	shim_fork_prepare();
	clone_call.fn = fn;
	clone_call.arg = arg;
	clone_call.shared_files = !!(flags & CLONE_FILES);
	if (clone_call.shared_files)
		backing_fork_shares_files();
	r = real_clone(clone_child, stack, flags, NULL, ptid, tls, ctid);
	shim_fork_parent();
	return r;
}

/* ------------------------------------------------------------------ */
/* Descriptors                                                         */
/* ------------------------------------------------------------------ */

SHIM_EXPORT int close(int fd)
{
	if (rg_owns_fd(fd)) {
		errno = EBADF; /* to the program, it is not open */
		return -1;
	}
	if (real_close)
		return real_close(fd);
	return (int)ret_errno(raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0));
}

/* close_range() over [first, last] less tmem's descriptors. */
static long close_range_around(unsigned first, unsigned last, unsigned flags)
{
	int own[RG_OWN_FDS];
	int n = rg_own_fds(own);
	long r = 0;

	if (flags & CLOSE_RANGE_CLOEXEC) /* ours are close-on-exec anyway */
		return raw_syscall(SYS_close_range, first, last, flags, 0, 0,
				   0);
	for (int k = 0; k < n && first <= last; k++) {
		unsigned fd = (unsigned)own[k];

		if (fd < first || fd > last)
			continue;
		if (fd > first) {
			r = raw_syscall(SYS_close_range, first, fd - 1, flags,
					0, 0, 0);
			if (r < 0)
				return r;
		}
		if (fd == ~0u)
			return 0;
		first = fd + 1;
	}
	if (first <= last)
		r = raw_syscall(SYS_close_range, first, last, flags, 0, 0, 0);
	return r;
}

SHIM_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	return (int)ret_errno(close_range_around(first, last, (unsigned)flags));
}

SHIM_EXPORT void closefrom(int lowfd)
{
	close_range_around((unsigned)(lowfd < 0 ? 0 : lowfd), ~0u, 0);
}

SHIM_EXPORT int dup2(int oldfd, int newfd)
{
	if (oldfd != newfd)
		rg_move_fd_away(newfd);
	return (int)ret_errno(raw_syscall(SYS_dup2, oldfd, newfd, 0, 0, 0, 0));
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (oldfd != newfd)
		rg_move_fd_away(newfd);
	return (int)ret_errno(
		raw_syscall(SYS_dup3, oldfd, newfd, flags, 0, 0, 0));
}

/* ------------------------------------------------------------------ */
/* mlockall                                                            */
/* ------------------------------------------------------------------ */

/*
 * mlockall() as the kernel does it would lock (and, without MCL_ONFAULT,
 * populate) the whole 256 GiB region and the pool's reservations, and
 * count them against RLIMIT_MEMLOCK.  So the shim locks every mapping
 * but tmem's own, one mlock2() each, read from /proc/self/maps; managed
 * memory stays under the budget (it is in RAM either way: tmem has no
 * backing file yet).  MCL_FUTURE locks what the program maps outside the
 * region from then on through mmap(); brk growth and thread stacks glibc
 * maps itself are not seen.  docs/run.md says so.
 */
static _Atomic int mcl_future; /* 0, or 1 + MLOCK_ONFAULT */
static char maps_buf[16384];
static pthread_mutex_t maps_mu = PTHREAD_MUTEX_INITIALIZER;

uintptr_t process_hex(const char **p)
{
	uintptr_t v = 0;

	for (;; (*p)++) {
		char c = **p;

		if (c >= '0' && c <= '9')
			v = v * 16 + (uintptr_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uintptr_t)(c - 'a' + 10);
		else
			return v;
	}
}

static bool tmem_mapping(uintptr_t s, uintptr_t e)
{
	return rg_own_mapping(s, e) || shim_pool_mapping(s, e);
}

static long lock_current(unsigned mlock_flags)
{
	size_t have = 0;
	long err = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&maps_mu);
	for (;;) {
		ssize_t n = read(fd, maps_buf + have, sizeof(maps_buf) - have);
		char *line = maps_buf, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		while ((nl = memchr(line, '\n',
				    have - (size_t)(line - maps_buf)))) {
			const char *p = line;
			uintptr_t s = process_hex(&p), e;

			p++;
			e = process_hex(&p);
			line = nl + 1;
			/* [vsyscall] lies in the kernel's half: not a VMA */
			if (e <= s || (intptr_t)s < 0 || tmem_mapping(s, e))
				continue;
			err = raw_syscall(SYS_mlock2, (long)s, (long)(e - s),
					  mlock_flags, 0, 0, 0);
			/* mlock2() fails where populating fails (PROT_NONE
			 * guard pages, a file's end); mlockall() locks those
			 * all the same and ignores it. */
			if (err == -ENOMEM && !mlock_flags)
				err = raw_syscall(SYS_mlock2, (long)s,
						  (long)(e - s), MLOCK_ONFAULT,
						  0, 0, 0);
			if (err)
				goto out;
		}
		have -= (size_t)(line - maps_buf);
		memmove(maps_buf, line, have);
	}
out:
	pthread_mutex_unlock(&maps_mu);
	sys_close(fd);
	return err;
}

SHIM_EXPORT int mlockall(int flags)
{
	const int known = MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT;
	unsigned onfault = (flags & MCL_ONFAULT) ? MLOCK_ONFAULT : 0;

	if (!shim_active())
		return (int)ret_errno(
			raw_syscall(SYS_mlockall, flags, 0, 0, 0, 0, 0));
	if ((flags & ~known) || !(flags & (MCL_CURRENT | MCL_FUTURE))) {
		errno = EINVAL;
		return -1;
	}
	if (flags & MCL_CURRENT) {
		long err = lock_current(onfault);

		if (err)
			return (int)ret_errno(err);
	}
	if (flags & MCL_FUTURE)
		atomic_store(&mcl_future, 1 + (int)onfault);
	return 0;
}

SHIM_EXPORT int munlockall(void)
{
	atomic_store(&mcl_future, 0);
	return (int)ret_errno(raw_syscall(SYS_munlockall, 0, 0, 0, 0, 0, 0));
}

/* A mapping the program made outside the region: MCL_FUTURE locks it. */
void process_mapped(void *addr, size_t len)
{
	int f = atomic_load_explicit(&mcl_future, memory_order_relaxed);

	if (f)
		raw_syscall(SYS_mlock2, (long)addr, (long)len, f - 1, 0, 0, 0);
}

/* ------------------------------------------------------------------ */
/* RLIMIT_AS                                                           */
/* ------------------------------------------------------------------ */

/*
 * The region (256 GiB reserved, NORESERVE) counts against RLIMIT_AS, as
 * any mapping does: a program that sets an address-space limit would
 * then fail to start threads or map files.  The limit it sets or reads
 * is its own: the kernel is given it plus tmem's reservation, and
 * getrlimit() gives back what the program set.  (Managed memory inside
 * the region is not charged against the program's limit: docs/run.md.)
 */
static _Atomic int as_adjusted; /* the kernel's limit holds the region */

static rlim_t add_reserve(rlim_t v)
{
	uint64_t r = rg_reserved_bytes();

	return v == RLIM_INFINITY || v + r < v ? RLIM_INFINITY : v + r;
}

static rlim_t sub_reserve(rlim_t v)
{
	uint64_t r = rg_reserved_bytes();

	return v == RLIM_INFINITY ? v : v > r ? v - r : 0;
}

static long prlimit_as(const struct rlimit *nw, struct rlimit *old)
{
	struct rlimit k, o;
	long r;

	if (nw) {
		k.rlim_cur = add_reserve(nw->rlim_cur);
		k.rlim_max = add_reserve(nw->rlim_max);
	}
	r = raw_syscall(SYS_prlimit64, 0, RLIMIT_AS, nw ? (long)&k : 0,
			(long)&o, 0, 0);
	if (r)
		return r;
	if (old) {
		old->rlim_cur = atomic_load(&as_adjusted)
					? sub_reserve(o.rlim_cur)
					: o.rlim_cur;
		old->rlim_max = atomic_load(&as_adjusted)
					? sub_reserve(o.rlim_max)
					: o.rlim_max;
	}
	if (nw)
		atomic_store(&as_adjusted, 1);
	return 0;
}

static bool own_as(pid_t pid, int resource)
{
	return resource == RLIMIT_AS && shim_active() &&
	       (pid == 0 || pid == getpid());
}

static int do_prlimit(pid_t pid, int resource, const struct rlimit *nw,
		      struct rlimit *old)
{
	if (own_as(pid, resource))
		return (int)ret_errno(prlimit_as(nw, old));
	return (int)ret_errno(raw_syscall(SYS_prlimit64, pid, resource,
					  (long)nw, (long)old, 0, 0));
}

/*
 * Exported under the plain and the 64 names with explicit symbols, as
 * mmap is in shim.c: with _FILE_OFFSET_BITS=64 the header renames them,
 * and programs built either way must land here (rlim_t is 64 bits).
 */
_Static_assert(sizeof(rlim_t) == 8, "setrlimit and setrlimit64 are one");
#define RLIMIT_EXPORTS(X)                                                      \
	X(setrlimit, int r, const struct rlimit *rl,                           \
	  do_prlimit(0, r, rl, NULL))                                          \
	X(getrlimit, int r, struct rlimit *rl, do_prlimit(0, r, NULL, rl))
#define RLIMIT_DEFINE(name, a1, a2, call)                                      \
	SHIM_EXPORT int shim_##name(a1, a2) __asm__(#name);                    \
	SHIM_EXPORT int shim_##name##64(a1, a2) __asm__(#name "64");           \
	int shim_##name(a1, a2)                                                \
	{                                                                      \
		return call;                                                   \
	}                                                                      \
	int shim_##name##64(a1, a2)                                            \
	{                                                                      \
		return call;                                                   \
	}
RLIMIT_EXPORTS(RLIMIT_DEFINE)

SHIM_EXPORT int shim_prlimit(pid_t pid, int r, const struct rlimit *nw,
			     struct rlimit *old) __asm__("prlimit");
SHIM_EXPORT int shim_prlimit64(pid_t pid, int r, const struct rlimit *nw,
			       struct rlimit *old) __asm__("prlimit64");

int shim_prlimit(pid_t pid, int r, const struct rlimit *nw, struct rlimit *old)
{
	return do_prlimit(pid, r, nw, old);
}

int shim_prlimit64(pid_t pid, int r, const struct rlimit *nw,
		   struct rlimit *old)
{
	return do_prlimit(pid, r, nw, old);
}

/*
 * A large allocation the program's own RLIMIT_AS would refuse without
 * tmem: what it asks for exceeds its limit less what it maps outside
 * tmem's reservation.  Managed memory it already holds in the region is
 * not counted (an approximation: docs/run.md).  Only allocations of
 * 64 MiB and more are checked: one statm read each.
 */
bool process_as_refuses(size_t n)
{
	struct rlimit k;
	char buf[64];
	uint64_t vm, limit;
	ssize_t got;
	int fd;

	if (n < (64u << 20) || !atomic_load(&as_adjusted) ||
	    raw_syscall(SYS_prlimit64, 0, RLIMIT_AS, 0, (long)&k, 0, 0) ||
	    k.rlim_cur == RLIM_INFINITY)
		return false;
	limit = sub_reserve(k.rlim_cur);
	fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	got = read(fd, buf, sizeof(buf) - 1);
	sys_close(fd);
	buf[got > 0 ? got : 0] = 0;
	vm = (uint64_t)strtoull(buf, NULL, 10) * 4096;
	vm = vm > rg_reserved_bytes() ? vm - rg_reserved_bytes() : 0;
	return vm + n > limit;
}

/* After the region is reserved: a limit set before it was made room. */
void process_limit_made_room(void)
{
	atomic_store(&as_adjusted, 1);
}

/* ------------------------------------------------------------------ */
/* Reads that may be O_DIRECT                                          */
/* ------------------------------------------------------------------ */

/*
 * Wrapped so that an O_DIRECT read into managed memory keeps its pages
 * from the evictor for the length of the call (pins.c).  The next
 * function is called for the read itself: cancellation points stay so.
 */

static ssize_t io_done(ssize_t r, uint64_t taken)
{
	int e = errno;

	pins_io_end(taken);
	errno = e;
	return r;
}

static uint64_t io_begin(int fd, void *buf, size_t n)
{
	struct iovec v = { .iov_base = buf, .iov_len = n };

	return shim_active() ? pins_io_begin(fd, &v, 1) : 0;
}

static uint64_t iov_begin(int fd, const struct iovec *iov, int n)
{
	return shim_active() && n > 0 ? pins_io_begin(fd, iov, n) : 0;
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	uint64_t t = io_begin(fd, buf, n);

	if (!real_read)
		return io_done(ret_errno(raw_syscall(SYS_read, fd, (long)buf,
						     (long)n, 0, 0, 0)),
			       t);
	return io_done(real_read(fd, buf, n), t);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	uint64_t t = iov_begin(fd, iov, n);

	if (!real_readv)
		return io_done(ret_errno(raw_syscall(SYS_readv, fd, (long)iov,
						     n, 0, 0, 0)),
			       t);
	return io_done(real_readv(fd, iov, n), t);
}

static ssize_t do_pread(int fd, void *buf, size_t n, off_t off)
{
	uint64_t t = io_begin(fd, buf, n);

	if (!real_pread)
		return io_done(ret_errno(raw_syscall(SYS_pread64, fd, (long)buf,
						     (long)n, off, 0, 0)),
			       t);
	return io_done(real_pread(fd, buf, n, off), t);
}

static ssize_t do_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	uint64_t t = iov_begin(fd, iov, n);

	if (!real_preadv)
		return io_done(ret_errno(raw_syscall(SYS_preadv, fd, (long)iov,
						     n, off, 0, 0)),
			       t);
	return io_done(real_preadv(fd, iov, n, off), t);
}

static ssize_t do_preadv2(int fd, const struct iovec *iov, int n, off_t off,
			  int flags)
{
	uint64_t t = iov_begin(fd, iov, n);

	if (!real_preadv2)
		return io_done(ret_errno(raw_syscall(SYS_preadv2, fd, (long)iov,
						     n, off, 0, flags)),
			       t);
	return io_done(real_preadv2(fd, iov, n, off, flags), t);
}

/* Plain and 64 names, as for mmap in shim.c (off_t is 64 bits). */
SHIM_EXPORT ssize_t shim_pread(int fd, void *buf, size_t n,
			       off_t off) __asm__("pread");
SHIM_EXPORT ssize_t shim_pread64(int fd, void *buf, size_t n,
				 off_t off) __asm__("pread64");
SHIM_EXPORT ssize_t shim_preadv(int fd, const struct iovec *iov, int n,
				off_t off) __asm__("preadv");
SHIM_EXPORT ssize_t shim_preadv64(int fd, const struct iovec *iov, int n,
				  off_t off) __asm__("preadv64");
SHIM_EXPORT ssize_t shim_preadv2(int fd, const struct iovec *iov, int n,
				 off_t off, int flags) __asm__("preadv2");
SHIM_EXPORT ssize_t shim_preadv64v2(int fd, const struct iovec *iov, int n,
				    off_t off, int flags) __asm__("preadv64v2");

ssize_t shim_pread(int fd, void *buf, size_t n, off_t off)
{
	return do_pread(fd, buf, n, off);
}

ssize_t shim_pread64(int fd, void *buf, size_t n, off_t off)
{
	return do_pread(fd, buf, n, off);
}

ssize_t shim_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	return do_preadv(fd, iov, n, off);
}

ssize_t shim_preadv64(int fd, const struct iovec *iov, int n, off_t off)
{
	return do_preadv(fd, iov, n, off);
}

ssize_t shim_preadv2(int fd, const struct iovec *iov, int n, off_t off,
		     int flags)
{
	return do_preadv2(fd, iov, n, off, flags);
}

ssize_t shim_preadv64v2(int fd, const struct iovec *iov, int n, off_t off,
			int flags)
{
	return do_preadv2(fd, iov, n, off, flags);
}

/* ------------------------------------------------------------------ */
/* syscall(2)                                                          */
/* ------------------------------------------------------------------ */

SHIM_EXPORT long syscall(long n, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, n);
	for (int k = 0; k < 6; k++)
		a[k] = va_arg(ap, long);
	va_end(ap);
	if (!shim_active())
		return ret_errno(
			raw_syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]));
	switch (n) {
	case SYS_fork:
		return fork_wrapped(n, 0, 0, 0, 0, 0, 0);
	case SYS_clone:
		/* Only the fork-like form (no new stack) returns here in
		 * the child; a clone onto a new stack needs assembly. */
		if (!(a[0] & CLONE_VM) && !a[1])
			return fork_wrapped(n, a[0], a[1], a[2], a[3], a[4],
					    !!(a[0] & CLONE_FILES));
		break;
	case SYS_clone3: {
		const struct clone_args *ca = (const void *)a[0];

		if (ca && !(ca->flags & CLONE_VM) && !ca->stack)
			return fork_wrapped(n, a[0], a[1], 0, 0, 0,
					    !!(ca->flags & CLONE_FILES));
		break;
	}
	case SYS_close:
		return close((int)a[0]);
	case SYS_close_range:
		return ret_errno(close_range_around(
			(unsigned)a[0], (unsigned)a[1], (unsigned)a[2]));
	case SYS_dup2:
		return dup2((int)a[0], (int)a[1]);
	case SYS_dup3:
		return dup3((int)a[0], (int)a[1], (int)a[2]);
	case SYS_io_uring_register:
		return ret_errno(pins_uring_register(a[0], a[1], a[2], a[3]));
	case SYS_setrlimit:
	case SYS_getrlimit:
		if (own_as(0, (int)a[0]))
			return ret_errno(prlimit_as(
				n == SYS_setrlimit ? (void *)a[1] : NULL,
				n == SYS_getrlimit ? (void *)a[1] : NULL));
		break;
	case SYS_prlimit64:
		if (own_as((pid_t)a[0], (int)a[1]))
			return ret_errno(
				prlimit_as((void *)a[2], (void *)a[3]));
		break;
	default:
		break;
	}
	return ret_errno(raw_syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]));
}
