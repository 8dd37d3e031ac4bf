/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what every file of libtmem shares: the glossary, build-time
 * assertion tiers, the memory accounting every module charges, and the
 * thin OS layer.
 *
 * Glossary (one meaning each, everywhere in the code and docs):
 *   page     TMEM_PAGE_SIZE (4 KiB) bytes of caller data; also the unit
 *            the allocator takes from the OS.
 *   key      (pool, oid, index): where a page is stored.
 *   object   all pages of one oid in one pool.
 *   zpage    a page after compression (or a raw page that did not
 *            compress); what the allocator stores.
 *   handle   an opaque, non-zero 64-bit value naming one stored zpage.
 *            Fits in ZALLOC_HANDLE_BITS; stays valid when compaction
 *            moves the bytes; reach the bytes only between map and unmap.
 *   slot     the 64-bit word the index keeps per key: a tagged handle, a
 *            same-filled word reference, or (later) a writeback location.
 *   zspage   a run of 1..ZS_MAX_PAGES contiguous pages holding the objects
 *            of one size class; objects may straddle page boundaries.
 *   class    a size class: all objects of sizes in (prev size, size].
 *   pool     struct tmem_pool: an index + an allocator + a compressor.
 *   leaf     an index node holding IDX_LEAF_SLOTS consecutive slots of one
 *            object.
 *   shard    an independently locked part of the index.
 *
 * Lock order (never take a lock to the left while holding one to the
 * right): index shard -> size class -> page allocator.  Accounting is
 * lock-free (atomics), so it may be touched under any lock.
 */
#ifndef TMEM_INTERNAL_H
#define TMEM_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "tmem.h"

#define TM_PAGE_SIZE ((size_t)TMEM_PAGE_SIZE)
#define TM_PAGE_SHIFT 12
_Static_assert(TM_PAGE_SIZE == (1u << TM_PAGE_SHIFT), "page shift");

#define TM_EXPORT __attribute__((visibility("default")))
#define tm_likely(x) __builtin_expect(!!(x), 1)
#define tm_unlikely(x) __builtin_expect(!!(x), 0)
#define TM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TM_CACHELINE 64

/*
 * Assertions, three tiers chosen at build time with -DTM_DEBUG=N:
 *   tm_assert            N >= 1: cheap checks of arguments and state.
 *   tm_assert_internal   N >= 2: invariants inside a module.
 *   tm_assert_expensive  N >= 3: walks of whole structures (none are
 *                        written yet, so 3 checks what 2 does).
 * N is meson's debug_level option, whatever the buildtype: 1 by default
 * (scripts/test.sh's build/), 2 in its ASan build, 0 (no -DTM_DEBUG) for
 * none.  TM_DEBUGLOG(level, ...) prints when N >= level; RETURN_ERR_IF
 * logs its reason at level 2.  A failed assertion writes through write(2)
 * and aborts, without malloc.
 */
#ifndef TM_DEBUG
#define TM_DEBUG 0
#endif
void tm_assert_fail(const char *expr, const char *file, int line);
#define tm_assert_at_(lvl, e)                                                  \
	do {                                                                   \
		if (TM_DEBUG >= (lvl) && tm_unlikely(!(e)))                    \
			tm_assert_fail(#e, __FILE__, __LINE__);                \
	} while (0)
#define tm_assert(e) tm_assert_at_(1, e)
#define tm_assert_internal(e) tm_assert_at_(2, e)
#define tm_assert_expensive(e) tm_assert_at_(3, e)

/* Logging through write(2): usable in the shim and fault handler too. */
void tm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define TM_DEBUGLOG(level, ...)                                                \
	do {                                                                   \
		if (TM_DEBUG >= (level))                                       \
			tm_log(__VA_ARGS__);                                   \
	} while (0)
#define RETURN_ERR_IF(cond, err, why)                                          \
	do {                                                                   \
		if (tm_unlikely(cond)) {                                       \
			TM_DEBUGLOG(2, "%s:%d: %s\n", __FILE__, __LINE__,      \
				    why);                                      \
			return (err);                                          \
		}                                                              \
	} while (0)

/*
 * Accounting.  One struct tm_acct per pool; every module that takes memory
 * for the pool charges it here, at the moment it takes or gives back a
 * chunk (a zspage, a leaf, a table), never per byte of payload.  So the
 * pool limit check on the put path is two relaxed loads.
 *   pool_bytes   pages the allocator holds from the OS (exact).
 *   meta_bytes   malloc'd metadata, counted by malloc_usable_size().
 */
struct tm_acct {
	_Atomic uint64_t pool_bytes;
	_Atomic uint64_t pool_peak;
	_Atomic uint64_t meta_bytes;
};

void acct_pool_add(struct tm_acct *a, uint64_t bytes);
void acct_pool_sub(struct tm_acct *a, uint64_t bytes);

/*
 * Metadata allocation, charged to @a (which may be NULL: not charged).
 * Goes through the OS layer so tests can make it fail.
 */
void *tm_alloc(struct tm_acct *a, size_t n);
void *tm_zalloc(struct tm_acct *a, size_t n);
void *tm_realloc(struct tm_acct *a, void *p, size_t n);
void tm_free(struct tm_acct *a, void *p);

/*
 * The OS layer (lib/os.c).  Every syscall and malloc of the library goes
 * through these, so tests can inject ENOMEM, ENOSPC or EIO by installing
 * other ops with tm_os_set().  Preconditions: lengths are whole pages and
 * addresses page-aligned for map/unmap/discard.  Return 0 or -errno.
 */
struct tm_os_ops {
	int (*map)(size_t len, void **out); /* private anon RW, NORESERVE */
	int (*unmap)(void *addr, size_t len);
	int (*discard)(void *addr, size_t len); /* give pages back, zeroed */
	/* fault pages in, writable; may be NULL (they fault in on use) */
	int (*populate)(void *addr, size_t len);
	/*
	 * keep a mapping out of transparent huge pages (MADV_NOHUGEPAGE);
	 * may be NULL (then THP "always" may back it with 2 MiB pages)
	 */
	int (*nohuge)(void *addr, size_t len);
	void *(*malloc)(size_t n);
	void *(*realloc)(void *p, size_t n);
	void (*free)(void *p);
	/*
	 * The backing file (lib/backing.c).  open returns a descriptor or
	 * -errno; pread/pwrite the bytes moved (maybe short) or -errno;
	 * fallocate as fallocate(2).  NULL in a test's table means the
	 * default's.
	 */
	int (*open)(const char *path, int flags, unsigned mode);
	int (*close)(int fd);
	long (*pread)(int fd, void *buf, size_t n, uint64_t off);
	long (*pwrite)(int fd, const void *buf, size_t n, uint64_t off);
	int (*fallocate)(int fd, int mode, uint64_t off, uint64_t len);
};
extern const struct tm_os_ops tm_os_default;
/* The ops in force; reads one pointer (not on per-page hot paths). */
const struct tm_os_ops *tm_os(void);
/* Tests only: install @ops (NULL restores the default); not thread-safe. */
void tm_os_set(const struct tm_os_ops *ops);

/*
 * Check every field of @p against the tunables table's bounds (options.c).
 * Return 0 or -EINVAL.
 */
int opt_validate(const struct tmem_pool_params *p);
/*
 * Read a caller's @p (p->size bytes, maybe an older or newer layout) into
 * @out, a whole struct of this library: fields past p->size take the
 * table's defaults.  Return 0, or -EINVAL for a size that is not a layout
 * (see struct tmem_pool_params), unknown non-zero bytes, or a value out
 * of bounds.
 */
int opt_params_import(const struct tmem_pool_params *p,
		      struct tmem_pool_params *out);

#endif /* TMEM_INTERNAL_H */
