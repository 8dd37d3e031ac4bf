// SPDX-License-Identifier: MIT
/*
 * usemem.c - a usemem-style workload for comparing swap paths:
 *
 *   usemem [--size SIZE] [--passes N] [--seed S] [--order random|seq]
 *          [--corpus FILE] [--dump FILE]
 *
 * Allocate SIZE with malloc (a few large blocks), fill every 4 KiB page
 * with realistic contents, then make N passes over all pages, each in a
 * fresh seeded random order (or, with --order seq, first to last: a scan,
 * where read-ahead pays); a visit reads the page (its checksum must
 * match what was last written there) and writes a few words of it.
 *
 * Like vm-scalability's usemem it is meant to run in less memory than it
 * uses, so that most random visits fault a page back from wherever the
 * memory manager put it.  Unlike usemem, whose pages are patterns that
 * compress to almost nothing, these pages compress like real heaps,
 * because the compressed-memory systems being compared (kernel zswap,
 * `tmem run`) differ exactly in what compression costs and saves:
 * either pages of a corpus file (--corpus: raw 4 KiB pages or a zstd
 * file of them, streamed and cycled, so the corpus never sits in memory
 * beside the workload), or synthesized heap pages (synth_page()).
 *
 * Every visit checks the whole page against a per-page XXH3 checksum, so
 * a run is also a correctness test: a lost, stale or corrupted page makes
 * it exit 1.  The final checksum depends only on --size, --passes, --seed,
 * --order and the corpus, so runs of the same workload under different memory
 * managers must print the same one.
 *
 * Output: one line on stdout, "usemem: key=value ...", with fill_s and
 * passes_s (seconds, monotonic clock) and checksum.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#define PAGE 4096u
#define WORDS (PAGE / 8)
/* malloc blocks: a few large ones, as a big-array program would have */
#define BLOCK_BYTES (256ull << 20)
#define DEFAULT_SIZE (1536ull << 20)
#define ZSTD_MAGIC 0xFD2FB528u
#define MAX_REPORTED 10 /* mismatches printed before staying quiet */

/* splitmix64: tiny, fast, and good enough to drive contents and orders */
struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) without a division (Lemire's multiply-shift). */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* A generator for stream @k of seed @seed: streams are independent. */
static struct rng rng_stream(uint64_t seed, uint64_t k)
{
	struct rng r = { seed * 0xd1342543de82ef95ull + k };

	rng_next(&r);
	return r;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --- synthetic heap pages ------------------------------------------- */

/*
 * Words for text fragments: identifiers, keys, log and prose words, as
 * the strings of an interpreter's heap look.  Text from a vocabulary
 * repeats within a page, which is what makes real string data compress.
 */
static const char *const vocab[] = {
	"the",	     "and",	  "of",		 "to",		"in",
	"is",	     "for",	  "with",	 "on",		"that",
	"id",	     "name",	  "user",	 "customer",	"order",
	"item",	     "price",	  "total",	 "status",	"created",
	"updated",   "email",	  "address",	 "city",	"country",
	"value",     "key",	  "type",	 "count",	"index",
	"list",	     "dict",	  "map",	 "object",	"string",
	"number",    "error",	  "warning",	 "info",	"debug",
	"request",   "response",  "session",	 "token",	"cache",
	"GET",	     "POST",	  "HTTP/1.1",	 "200",		"404",
	"/api/v1",   "/static",	  "/index.html", "Mozilla/5.0", "localhost",
	"self",	     "None",	  "True",	 "False",	"null",
	"undefined", "function",  "return",	 "module",	"import",
	"__init__",  "__dict__",  "prototype",	 "length",	"buffer",
	"data",	     "result",	  "config",	 "default",	"options",
	"timestamp", "2024-03-1", "T12:34:",	 "UTC",		"ms",
	"payment",   "shipping",  "pending",	 "complete",	"cancelled",
	"quantity",  "discount",  "currency",	 "EUR",		"USD",
	"first",     "last",	  "phone",	 "street",	"region",
	"parse",     "format",	  "encode",	 "decode",	"json",
};

#define NVOCAB (sizeof(vocab) / sizeof(vocab[0]))

/*
 * Pointers share their high bits: two arenas, as a glibc heap (0x55..)
 * and mmap'ed arenas (0x7f..) would be, 16-byte aligned within 64 MiB.
 */
static const uint64_t arena[2] = { 0x000055d4c3a00000ull,
				   0x00007f3a91200000ull };

static uint64_t pointer(struct rng *r, uint64_t near)
{
	/* Objects point near each other more often than not. */
	if (near && rng_below(r, 4))
		return (near & ~0xffffull) | (rng_next(r) & 0xfff0);
	return arena[rng_below(r, 2)] + (rng_next(r) & 0x3fffff0);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/*
 * What a word of an object holds.  Allocators put objects of one size in
 * a page (pymalloc pools, mimalloc pages, slabs), and a program fills
 * them with objects of a few classes: the same kinds of values recur at
 * the same offsets, every object carries its class's type pointer, many
 * fields are NULL or small.  That repetition, zeroes and strings are
 * where real heaps' compressibility comes from; no single value is.
 */
enum word_kind {
	W_CONST, /* the same in every object of a class: type, vtable */
	W_SMALL, /* reference count, length, flags, enum */
	W_PTR, /* pointer to another object */
	W_ZERO, /* NULL, unused field, padding */
	W_HASH, /* cached hash, id: random */
	W_TEXT, /* inline characters */
	W_DOUBLE, /* a number */
	W_KINDS
};

static const unsigned word_weight[W_KINDS] = { 6, 22, 28, 30, 2, 8, 4 };

static unsigned pick(struct rng *r, const unsigned *w, unsigned n)
{
	unsigned tot = 0, k;

	for (k = 0; k < n; k++)
		tot += w[k];
	tot = (unsigned)rng_below(r, tot);
	for (k = 0; k < n - 1; k++) {
		if (tot < w[k])
			break;
		tot -= w[k];
	}
	return k;
}

static uint64_t number(struct rng *r)
{
	/* prices and measurements: some round, most not */
	double d = rng_below(r, 3) ? (double)rng_below(r, 1000000) / 100
				   : (double)rng_below(r, 1000);
	uint64_t v;

	memcpy(&v, &d, 8);
	return v;
}

/* One word of kind @k; @cls is the class's constant, @near a pointer. */
static uint64_t word(unsigned k, struct rng *r, uint64_t cls, uint64_t *near)
{
	const char *w;
	uint64_t v = 0;
	size_t len;

	switch (k) {
	case W_CONST:
		return cls;
	case W_SMALL:
		return rng_below(r, rng_below(r, 2) ? 8 : 1000);
	case W_PTR:
		return *near = pointer(r, *near);
	case W_ZERO:
		return 0;
	case W_HASH:
		return rng_next(r);
	case W_TEXT:
		w = vocab[rng_below(r, NVOCAB)];
		len = strlen(w);
		memcpy(&v, w, len < 8 ? len : 8);
		return v;
	default:
		return number(r);
	}
}

/* A slab page: objects of one size and layout, some slots free. */
static void slab_page(uint8_t *p, struct rng *r)
{
	static const size_t sizes[] = { 16, 24, 32, 48, 64, 80, 96, 128, 256 };
	size_t sz = sizes[rng_below(r, sizeof(sizes) / sizeof(sizes[0]))];
	size_t words = sz / 8, off, i;
	unsigned char layout[32];
	uint64_t cls = pointer(r, 0), near = 0;
	unsigned freed = (unsigned)rng_below(r, 40); /* percent of slots */

	layout[0] = W_CONST;
	layout[1] = W_SMALL;
	for (i = 2; i < words; i++)
		layout[i] = (unsigned char)pick(r, word_weight, W_KINDS);
	for (off = 0; off + sz <= PAGE; off += sz) {
		if (rng_below(r, 100) < freed) {
			/* a free slot: a free-list link, then zeroes */
			memset(p + off, 0, sz);
			if (rng_below(r, 2))
				put64(p + off, pointer(r, near));
			continue;
		}
		for (i = 0; i < words; i++)
			put64(p + off + 8 * i, word(layout[i], r, cls, &near));
	}
	memset(p + off, 0, PAGE - off);
}

/*
 * A string of a page's record format: the page's keys in order, each with
 * a value (a word or a number).  Strings made on one pattern - JSON
 * records, log lines, repeated identifiers - are what real heaps hold,
 * and their shared keys are what make string pages compress.
 */
struct pattern {
	const char *key[6];
	unsigned nkeys;
	const char *value[8]; /* the words values are made of */
	const char *sep; /* between a key and its value */
	const char *end; /* after a value */
};

static void pattern_init(struct pattern *pt, struct rng *r)
{
	static const char *const sep[] = { "\": \"", "=", ": ", " " };
	static const char *const end[] = { "\", \"", "&", "\n", " " };
	unsigned k = (unsigned)rng_below(r, 4);

	pt->nkeys = 2 + (unsigned)rng_below(r, 5);
	for (unsigned i = 0; i < pt->nkeys; i++)
		pt->key[i] = vocab[rng_below(r, NVOCAB)];
	for (unsigned i = 0; i < 8; i++)
		pt->value[i] = vocab[rng_below(r, NVOCAB)];
	pt->sep = sep[k];
	pt->end = end[k];
}

static size_t append(uint8_t *p, size_t n, size_t cap, const char *s)
{
	size_t len = strlen(s);

	if (len > cap - n)
		len = cap - n;
	memcpy(p + n, s, len);
	return n + len;
}

/* A string into @p (at most @cap bytes, cap >= 1), NUL-terminated; size. */
static size_t text(uint8_t *p, size_t cap, const struct pattern *pt,
		   struct rng *r)
{
	unsigned nkeys = 1 + (unsigned)rng_below(r, pt->nkeys);
	size_t n = 0;

	cap--;
	for (unsigned i = 0; i < nkeys; i++) {
		char num[24];

		n = append(p, n, cap, pt->key[i]);
		n = append(p, n, cap, pt->sep);
		if (rng_below(r, 3)) {
			n = append(p, n, cap, pt->value[rng_below(r, 8)]);
		} else {
			snprintf(num, sizeof(num), "%" PRIu64,
				 rng_below(r, rng_below(r, 2) ? 100 : 100000));
			n = append(p, n, cap, num);
		}
		n = append(p, n, cap, pt->end);
	}
	p[n] = 0;
	return n + 1;
}

/* A page of string objects: type, refcount, length, hash, characters. */
static void string_page(uint8_t *p, struct rng *r)
{
	uint64_t cls = pointer(r, 0);
	struct pattern pt;
	size_t off = 0;

	pattern_init(&pt, r);
	while (off + 48 <= PAGE) {
		size_t n = text(p + off + 32, PAGE - off - 32, &pt, r);
		size_t end = (off + 32 + n + 15) & ~(size_t)15;

		if (end > PAGE)
			end = PAGE;
		put64(p + off, cls);
		put64(p + off + 8, 1 + rng_below(r, 4));
		put64(p + off + 16, n - 1);
		/* the hash is computed lazily: often not yet */
		put64(p + off + 24, rng_below(r, 3) ? 0 : rng_next(r));
		memset(p + off + 32 + n, 0, end - off - 32 - n);
		off = end;
	}
	memset(p + off, 0, PAGE - off);
}

/* A page of one array: small integers, numbers or pointers. */
static void array_page(uint8_t *p, struct rng *r)
{
	unsigned k = (unsigned)rng_below(r, 3);
	uint64_t near = 0, x = 0;

	for (size_t off = 0; off < PAGE; off += 8) {
		/* values repeat: flags, counts, default entries */
		if (!rng_below(r, 2)) {
			put64(p + off, x);
			continue;
		}
		if (k == 0)
			x = rng_below(r, 2) ? 0 : rng_below(r, 100);
		else if (k == 1)
			x = rng_below(r, 3) ? number(r) : 0;
		else
			/* a hash table of pointers: many buckets empty */
			x = rng_below(r, 2) ? near = pointer(r, near) : 0;
		put64(p + off, x);
	}
}

static const unsigned page_weight[] = {
	55, /* slab */
	25, /* strings */
	15, /* arrays */
};

/*
 * A page that compresses like a real process heap, checked against the
 * project's corpus of python, perl and node memory with `tmem estimate`
 * (lz4, pool + metadata: corpus 1.9-2.65, 2.43 mixed; these pages 2.53):
 * ~1% zero pages, ~3% incompressible ones (compressed or encrypted data,
 * random keys), and heap pages: slabs of objects, strings, arrays.
 */
static void synth_page(uint8_t *p, struct rng *r)
{
	unsigned k = (unsigned)rng_below(r, 1000);

	if (k < 10) {
		memset(p, 0, PAGE);
		return;
	}
	if (k < 40) {
		for (size_t off = 0; off < PAGE; off += 8)
			put64(p + off, rng_next(r));
		return;
	}
	switch (pick(r, page_weight, 3)) {
	case 0:
		slab_page(p, r);
		break;
	case 1:
		string_page(p, r);
		break;
	default:
		array_page(p, r);
		break;
	}
}

/*
 * A visit's write: a few words change the way a running program changes
 * its data, so a page stays about as compressible as it was: zero stays
 * zero (still stored, so the page is dirtied), small integers stay small,
 * text stays text, pointers move within their arena.
 */
static void touch(uint8_t *p, struct rng *r)
{
	for (int k = 0; k < 4; k++) {
		size_t off = 8 * rng_below(r, WORDS);
		uint64_t v, x = rng_next(r);
		uint8_t lo;

		memcpy(&v, p + off, 8);
		lo = (uint8_t)v;
		if (v == 0)
			;
		else if (v < 65536)
			v = 1 + x % 1000;
		else if (lo >= 0x20 && lo < 0x7f)
			v = (v & ~0xffull) | (uint64_t)('a' + x % 26);
		else
			v ^= x & 0xff0;
		memcpy(p + off, &v, 8);
	}
}

/* --- corpus pages, streamed ----------------------------------------- */

/*
 * Pages of @path in order, from the start again at its end.  zstd files
 * are decompressed as they are read: the corpus costs buffers, not its
 * size, in the measured process.
 */
struct corpus {
	const char *path;
	int fd;
	int zstd;
	ZSTD_DStream *ds;
	uint8_t *in;
	size_t in_cap;
	ZSTD_inBuffer ib;
	size_t last; /* zstd's last hint: 0 when a frame just ended */
	uint64_t pages; /* read since the last rewind */
};

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int corpus_open(struct corpus *c, const char *path)
{
	uint8_t head[4];
	ssize_t n;

	memset(c, 0, sizeof(*c));
	c->path = path;
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0) {
		fprintf(stderr, "usemem: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = read_full(c->fd, head, sizeof(head));
	c->zstd = n == 4 && ((uint32_t)head[0] | (uint32_t)head[1] << 8 |
			     (uint32_t)head[2] << 16 |
			     (uint32_t)head[3] << 24) == ZSTD_MAGIC;
	if (lseek(c->fd, 0, SEEK_SET) < 0) {
		fprintf(stderr, "usemem: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (c->zstd) {
		c->in_cap = ZSTD_DStreamInSize();
		c->in = malloc(c->in_cap);
		c->ds = ZSTD_createDStream();
		if (!c->in || !c->ds) {
			fprintf(stderr, "usemem: out of memory\n");
			return -1;
		}
		ZSTD_initDStream(c->ds);
	}
	return 0;
}

static int corpus_rewind(struct corpus *c)
{
	if (c->pages == 0) {
		fprintf(stderr, "usemem: %s: holds no pages\n", c->path);
		return -1;
	}
	if (lseek(c->fd, 0, SEEK_SET) < 0) {
		fprintf(stderr, "usemem: %s: %s\n", c->path, strerror(errno));
		return -1;
	}
	if (c->zstd)
		ZSTD_initDStream(c->ds);
	c->ib.size = c->ib.pos = 0;
	c->last = 0;
	c->pages = 0;
	return 0;
}

/* Decompress one page into @dst: 1, or 0 at a clean end, or -1. */
static int corpus_zstd_page(struct corpus *c, uint8_t *dst)
{
	ZSTD_outBuffer ob = { dst, PAGE, 0 };

	while (ob.pos < PAGE) {
		if (c->ib.pos == c->ib.size) {
			ssize_t n = read_full(c->fd, c->in, c->in_cap);

			if (n < 0) {
				fprintf(stderr, "usemem: %s: %s\n", c->path,
					strerror(errno));
				return -1;
			}
			if (n == 0)
				break;
			c->ib.src = c->in;
			c->ib.size = (size_t)n;
			c->ib.pos = 0;
		}
		c->last = ZSTD_decompressStream(c->ds, &ob, &c->ib);
		if (ZSTD_isError(c->last)) {
			fprintf(stderr, "usemem: %s: not valid zstd data: %s\n",
				c->path, ZSTD_getErrorName(c->last));
			return -1;
		}
	}
	if (ob.pos == PAGE)
		return 1;
	if (c->last) {
		fprintf(stderr,
			"usemem: %s: the zstd data ends early (truncated "
			"file?)\n",
			c->path);
		return -1;
	}
	if (ob.pos == 0)
		return 0;
	fprintf(stderr, "usemem: %s: not a whole number of 4 KiB pages\n",
		c->path);
	return -1;
}

static int corpus_page(struct corpus *c, uint8_t *dst)
{
	for (int tries = 0; tries < 2; tries++) {
		int got;

		if (c->zstd) {
			got = corpus_zstd_page(c, dst);
		} else {
			ssize_t n = read_full(c->fd, dst, PAGE);

			if (n < 0) {
				fprintf(stderr, "usemem: %s: %s\n", c->path,
					strerror(errno));
				return -1;
			}
			if (n > 0 && n < (ssize_t)PAGE) {
				fprintf(stderr,
					"usemem: %s: not a whole number of "
					"4 KiB pages\n",
					c->path);
				return -1;
			}
			got = n == PAGE;
		}
		if (got < 0)
			return -1;
		if (got) {
			c->pages++;
			return 0;
		}
		if (corpus_rewind(c))
			return -1;
	}
	return -1;
}

static void corpus_close(struct corpus *c)
{
	if (c->fd >= 0)
		close(c->fd);
	ZSTD_freeDStream(c->ds);
	free(c->in);
}

/* --- the workload --------------------------------------------------- */

struct mem {
	uint8_t **block; /* page-aligned starts */
	void **raw; /* what malloc returned, for mem_free() */
	size_t nblocks;
	size_t pages;
	size_t per_block; /* pages per block */
};

static uint8_t *page_at(const struct mem *m, size_t i)
{
	return m->block[i / m->per_block] + (i % m->per_block) * PAGE;
}

/*
 * Each block is malloc'ed with a page to spare and used from its first
 * page boundary: a workload page must be one memory page, or every visit
 * would fault two pages in and the comparison would measure that.
 */
static int mem_alloc(struct mem *m, uint64_t size)
{
	m->pages = size / PAGE;
	m->per_block = BLOCK_BYTES / PAGE;
	m->nblocks = (m->pages + m->per_block - 1) / m->per_block;
	m->block = calloc(m->nblocks, sizeof(*m->block));
	m->raw = calloc(m->nblocks, sizeof(*m->raw));
	if (!m->block || !m->raw)
		return -1;
	for (size_t b = 0; b < m->nblocks; b++) {
		size_t n = m->pages - b * m->per_block;
		uint8_t *p;

		if (n > m->per_block)
			n = m->per_block;
		p = malloc(n * PAGE + PAGE);
		if (!p)
			return -1;
		m->raw[b] = p;
		m->block[b] = (uint8_t *)(((uintptr_t)p + PAGE - 1) &
					  ~(uintptr_t)(PAGE - 1));
	}
	return 0;
}

static void mem_free(struct mem *m)
{
	for (size_t b = 0; m->raw && b < m->nblocks; b++)
		free(m->raw[b]);
	free(m->raw);
	free(m->block);
}

static int dump(const char *path, const struct mem *m)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		goto fail;
	for (size_t i = 0; i < m->pages; i++) {
		const uint8_t *p = page_at(m, i);
		size_t done = 0;

		while (done < PAGE) {
			ssize_t n = write(fd, p + done, PAGE - done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				goto fail;
			done += (size_t)n;
		}
	}
	if (close(fd))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "usemem: --dump %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* "1.5G", "256M", "4096": bytes, rounded down to whole pages; 0 if bad. */
static uint64_t parse_size(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v <= 0)
		return 0;
	switch (*end) {
	case 'k':
	case 'K':
		v *= 1024;
		end++;
		break;
	case 'm':
	case 'M':
		v *= 1024 * 1024;
		end++;
		break;
	case 'g':
	case 'G':
		v *= 1024.0 * 1024 * 1024;
		end++;
		break;
	case 't':
	case 'T':
		v *= 1024.0 * 1024 * 1024 * 1024;
		end++;
		break;
	}
	if (end[0] == 'i' && end[1] == 'B' && end[-1] > '9')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || v >= 18e18)
		return 0;
	return (uint64_t)v / PAGE * PAGE;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: usemem [--size SIZE] [--passes N] [--seed S] "
		"[--order random|seq] [--corpus FILE] [--dump FILE]\n"
		"  --size SIZE    memory to use, bytes or K/M/G (default 1.5G)\n"
		"  --passes N     passes over all pages (default 2)\n"
		"  --order O      order of a pass: random (default: a new "
		"seeded\n"
		"                 permutation each pass) or seq (first to "
		"last page)\n"
		"  --seed S       seed of contents and orders (default 1)\n"
		"  --corpus FILE  cycle the pages of FILE (raw 4 KiB pages or "
		"zstd of them)\n"
		"                 instead of synthesizing heap-like pages\n"
		"  --dump FILE    write the filled pages to FILE (raw), to check "
		"them with\n"
		"                 `tmem estimate --pages FILE`\n"
		"Prints one line: fill and pass times, final checksum.  Exit 1 "
		"if a page\n"
		"read back differs from what was written.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "passes", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 'S' },
		{ "corpus", required_argument, NULL, 'c' },
		{ "dump", required_argument, NULL, 'd' },
		{ "order", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size = DEFAULT_SIZE, seed = 1, passes = 2, bad = 0, final;
	const char *corpus_path = NULL, *dump_path = NULL;
	int sequential = 0;
	struct corpus corpus = { .fd = -1 };
	struct mem m = { 0 };
	double t0, t1, tp, t2;
	uint64_t *sum;
	uint32_t *perm;
	struct rng r;
	char *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			size = parse_size(optarg);
			if (!size) {
				fprintf(stderr,
					"usemem: --size: '%s' is not a size "
					"of at least 4K (bytes or K/M/G)\n",
					optarg);
				return 2;
			}
			break;
		case 'p':
		case 'S':
			errno = 0;
			*(opt == 'p' ? &passes : &seed) =
				strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || *optarg == '-') {
				fprintf(stderr,
					"usemem: --%s: '%s' is not a number\n",
					opt == 'p' ? "passes" : "seed", optarg);
				return 2;
			}
			break;
		case 'c':
			corpus_path = optarg;
			break;
		case 'd':
			dump_path = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "random") && strcmp(optarg, "seq")) {
				fprintf(stderr,
					"usemem: --order: '%s' is not random "
					"or seq\n",
					optarg);
				return 2;
			}
			sequential = !strcmp(optarg, "seq");
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usemem: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (size / PAGE > UINT32_MAX) {
		fprintf(stderr, "usemem: --size: at most 16T\n");
		return 2;
	}
	if (corpus_path && corpus_open(&corpus, corpus_path))
		return 1;
	if (mem_alloc(&m, size)) {
		fprintf(stderr, "usemem: cannot allocate %" PRIu64 " bytes\n",
			size);
		return 1;
	}
	sum = malloc(m.pages * sizeof(*sum));
	perm = malloc(m.pages * sizeof(*perm));
	if (!sum || !perm) {
		fprintf(stderr, "usemem: out of memory\n");
		return 1;
	}

	t0 = now();
	r = rng_stream(seed, 0);
	for (size_t i = 0; i < m.pages; i++) {
		uint8_t *p = page_at(&m, i);

		if (corpus_path) {
			if (corpus_page(&corpus, p))
				return 1;
		} else {
			synth_page(p, &r);
		}
		sum[i] = XXH3_64bits(p, PAGE);
	}
	t1 = now();
	if (corpus_path)
		corpus_close(&corpus);
	if (dump_path && dump(dump_path, &m))
		return 1;

	/* The dump is not part of either timing. */
	tp = now();
	for (uint64_t pass = 0; pass < passes; pass++) {
		size_t i;

		r = rng_stream(seed, 1 + pass);
		for (i = 0; i < m.pages; i++)
			perm[i] = (uint32_t)i;
		/* The rng still drives the visits' writes in seq order. */
		for (i = m.pages - 1; i > 0 && !sequential; i--) {
			size_t j = rng_below(&r, i + 1);
			uint32_t t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
		}
		for (i = 0; i < m.pages; i++) {
			uint8_t *p = page_at(&m, perm[i]);

			if (XXH3_64bits(p, PAGE) != sum[perm[i]]) {
				if (bad++ < MAX_REPORTED)
					fprintf(stderr,
						"usemem: pass %" PRIu64
						": page %" PRIu32
						" differs from what was "
						"written\n",
						pass + 1, perm[i]);
			}
			touch(p, &r);
			sum[perm[i]] = XXH3_64bits(p, PAGE);
		}
	}
	t2 = now();
	final = XXH3_64bits(sum, m.pages * sizeof(*sum));
	printf("usemem: size=%" PRIu64 " pages=%zu passes=%" PRIu64
	       " seed=%" PRIu64 " order=%s source=%s fill_s=%.3f passes_s=%.3f "
	       "mismatches=%" PRIu64 " checksum=%016" PRIx64 "\n",
	       (uint64_t)m.pages * PAGE, m.pages, passes, seed,
	       sequential ? "seq" : "random",
	       corpus_path ? "corpus" : "synthetic", t1 - t0, t2 - tp, bad,
	       final);
	free(perm);
	free(sum);
	mem_free(&m);
	if (bad) {
		fprintf(stderr, "usemem: %" PRIu64 " mismatched page visits\n",
			bad);
		return 1;
	}
	return 0;
}
