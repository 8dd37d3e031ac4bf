// SPDX-License-Identifier: MIT
/*
 * options.c - the tunables table: the one place every tunable is defined.
 *
 * Each row gives a name, its environment variable (TMEM_<NAME>), type,
 * unit, default, bounds and a one-line help, and the offset of its field
 * in struct tmem_pool_params.  Everything else is derived from the table:
 * tmem_params_init() applies the defaults and the environment,
 * tmem_params_set() sets a field from a string (the CLI's --pool-max etc.
 * go through it), tmem_option_info() lets tools list the rows, and
 * docs/tunables.md is checked against it by tests/test-options.c.
 *
 * Values outside the bounds are rejected with -ERANGE rather than clamped:
 * a user who asks for an impossible value should hear about it, not get a
 * different one silently.  Sizes take K/M/G/T suffixes in powers of 1024.
 *
 * The struct grows only at its end, and every call here takes the caller's
 * size (p->size, or the sizeof the tmem_params_init() macro passes): a
 * field is read or written only if it lies wholly within it, and the
 * fields past it take the table's defaults (opt_params_import()).  So a
 * caller built against an older, shorter struct is never written past and
 * still gets a pool; a newer, longer one is accepted while the bytes this
 * library does not know are zero (the kernel's copy_struct_from_user()).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

/* Field sizes the table can write. */
enum opt_width { W32 = 4, W64 = 8 };

struct opt_row {
	struct tmem_option_info info;
	size_t offset;
	enum opt_width width;
};

#define GIB (1024ull * 1024 * 1024)

/*
 * The first published layout (0.1.0): the size callers built against it
 * pass, and what the tmem_params_init symbol of binaries built before it
 * became a macro fills.  Fixed forever.
 */
#define PARAMS_SIZE_VER0 40u
_Static_assert(offsetof(struct tmem_pool_params, reserved0) + 4 ==
		       PARAMS_SIZE_VER0,
	       "the first layout ends after reserved0");

/* Beyond this a caller's size is garbage, not a newer struct (kernel's cap). */
#define PARAMS_SIZE_MAX TM_PAGE_SIZE

/*
 * pool_max is capped at 1 PiB: larger is surely a typo, and the cap keeps
 * size arithmetic far from overflow.  max_compressed below 256 would send
 * almost every page to the raw class; 4095 keeps at least one byte of
 * gain for a page to be stored compressed.
 */
static const struct opt_row rows[] = {
	{ { "kind", "TMEM_KIND", "",
	    "pool kind: persistent pages stay until flushed",
	    "persistent|ephemeral", TMEM_OPT_ENUM, TMEM_POOL_PERSISTENT, 0, 1 },
	  offsetof(struct tmem_pool_params, kind),
	  W32 },
	{ { "compressor", "TMEM_COMPRESSOR", "", "compressor for stored pages",
	    "lz4|zstd|lzo", TMEM_OPT_ENUM, TMEM_COMP_LZ4, 0,
	    TMEM_COMP_COUNT - 1 },
	  offsetof(struct tmem_pool_params, compressor),
	  W32 },
	{ { "allocator", "TMEM_ALLOCATOR", "", "allocator for compressed pages",
	    "zsmalloc", TMEM_OPT_ENUM, TMEM_ALLOC_ZSMALLOC, 0,
	    TMEM_ALLOC_COUNT - 1 },
	  offsetof(struct tmem_pool_params, allocator),
	  W32 },
	{ { "zstd_level", "TMEM_ZSTD_LEVEL", "level",
	    "zstd compression level (higher: smaller, slower)", NULL,
	    TMEM_OPT_INT, 3, 1, 19 },
	  offsetof(struct tmem_pool_params, zstd_level),
	  W32 },
	{ { "pool_max", "TMEM_POOL_MAX", "bytes",
	    "limit on pool memory + metadata; 0 = no limit", NULL,
	    TMEM_OPT_SIZE, 0, 0, 1024 * 1024 * GIB },
	  offsetof(struct tmem_pool_params, pool_max),
	  W64 },
	{ { "accept_threshold", "TMEM_ACCEPT_THRESHOLD", "percent",
	    "once full, accept puts again below this percent of pool_max", NULL,
	    TMEM_OPT_UINT, 90, 0, 100 },
	  offsetof(struct tmem_pool_params, accept_threshold),
	  W32 },
	{ { "max_compressed", "TMEM_MAX_COMPRESSED", "bytes",
	    "pages that compress worse than this are stored uncompressed", NULL,
	    TMEM_OPT_SIZE, 3584, 256, 4095 },
	  offsetof(struct tmem_pool_params, max_compressed),
	  W32 },
};

TM_EXPORT const struct tmem_option_info *tmem_option_info(unsigned i)
{
	return i < TM_ARRAY_SIZE(rows) ? &rows[i].info : NULL;
}

TM_EXPORT int tmem_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || !out)
		return -EINVAL;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL; /* no sign, no empty string */
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	case 'b':
	case 'B':
		if (end[1] == '\0')
			end++;
		break;
	default:
		break;
	}
	if (shift) {
		/* "K", "KB", "KiB" (any case) all mean 1024. */
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
	}
	if (*end != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_enum(const char *choices, const char *value, int64_t *out)
{
	const char *p = choices;
	size_t n = strlen(value);
	int64_t i = 0;

	while (*p) {
		size_t len = strcspn(p, "|");

		if (len == n && !strncasecmp(p, value, n)) {
			*out = i;
			return 0;
		}
		p += len;
		if (*p == '|')
			p++;
		i++;
	}
	return -EINVAL;
}

static int parse_value(const struct tmem_option_info *in, const char *value,
		       int64_t *out)
{
	uint64_t u;
	char *end;
	long long v;
	int ret;

	switch (in->type) {
	case TMEM_OPT_ENUM:
		return parse_enum(in->choices, value, out);
	case TMEM_OPT_SIZE:
		ret = tmem_parse_size(value, &u);
		if (ret)
			return ret;
		if (u > (uint64_t)INT64_MAX)
			return -ERANGE;
		*out = (int64_t)u;
		return 0;
	case TMEM_OPT_UINT:
	case TMEM_OPT_INT:
		if (!*value)
			return -EINVAL;
		errno = 0;
		v = strtoll(value, &end, 10);
		if (*end)
			return -EINVAL;
		if (errno == ERANGE)
			return -ERANGE;
		*out = v;
		return 0;
	}
	return -EINVAL;
}

static void store(struct tmem_pool_params *p, const struct opt_row *r,
		  int64_t v)
{
	char *field = (char *)p + r->offset;

	if (r->width == W64) {
		uint64_t u = (uint64_t)v;

		memcpy(field, &u, sizeof(u));
	} else {
		uint32_t u = (uint32_t)v;

		memcpy(field, &u, sizeof(u));
	}
}

static const struct opt_row *find_row(const char *name)
{
	size_t i;

	for (i = 0; i < TM_ARRAY_SIZE(rows); i++)
		if (!strcmp(rows[i].info.name, name))
			return &rows[i];
	return NULL;
}

/* Whether row @r's field lies wholly within @size bytes; -1 if it is cut. */
static int row_within(const struct opt_row *r, size_t size)
{
	if (r->offset + r->width <= size)
		return 1;
	return r->offset < size ? -1 : 0;
}

TM_EXPORT int tmem_params_set(struct tmem_pool_params *p, const char *name,
			      const char *value)
{
	const struct opt_row *r;
	int64_t v;
	int ret;

	if (!p || !name || !value)
		return -EINVAL;
	r = find_row(name);
	if (!r || row_within(r, p->size) != 1)
		return -ENOENT;
	ret = parse_value(&r->info, value, &v);
	if (ret)
		return ret;
	if (v < r->info.min || v > r->info.max)
		return -ERANGE;
	store(p, r, v);
	return 0;
}

/* Check that @size can be a caller's struct size; 0 or -EINVAL. */
static int check_size(size_t size)
{
	size_t i;

	if (size < sizeof(uint32_t) || size > PARAMS_SIZE_MAX)
		return -EINVAL;
	for (i = 0; i < TM_ARRAY_SIZE(rows); i++)
		if (row_within(&rows[i], size) < 0)
			return -EINVAL;
	return 0;
}

/* The whole struct of this library, with the table's defaults. */
static void defaults(struct tmem_pool_params *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	for (i = 0; i < TM_ARRAY_SIZE(rows); i++)
		store(p, &rows[i], rows[i].info.def);
}

TM_EXPORT int tmem_params_init_size(struct tmem_pool_params *p, size_t size)
{
	struct tmem_pool_params d;
	size_t i;
	int ret = 0;

	if (!p || check_size(size))
		return -EINVAL;
	defaults(&d);
	memset(p, 0, size);
	memcpy(p, &d, size < sizeof(d) ? size : sizeof(d));
	p->size = (uint32_t)size;
	for (i = 0; i < TM_ARRAY_SIZE(rows); i++) {
		const char *env = getenv(rows[i].info.env);

		if (env && row_within(&rows[i], size) == 1 &&
		    tmem_params_set(p, rows[i].info.name, env))
			ret = -EINVAL;
	}
	return ret;
}

/*
 * The entry point of binaries built when tmem_params_init() was a function:
 * their struct is the first layout.
 */
#undef tmem_params_init
TM_EXPORT int tmem_params_init(struct tmem_pool_params *p);
TM_EXPORT int tmem_params_init(struct tmem_pool_params *p)
{
	return tmem_params_init_size(p, PARAMS_SIZE_VER0);
}

int opt_params_import(const struct tmem_pool_params *p,
		      struct tmem_pool_params *out)
{
	const unsigned char *raw = (const unsigned char *)p;
	size_t size = p->size, i;

	if (check_size(size))
		return -EINVAL;
	for (i = sizeof(*out); i < size; i++)
		if (raw[i])
			return -EINVAL; /* a field this library does not know */
	defaults(out);
	for (i = 0; i < TM_ARRAY_SIZE(rows); i++)
		if (row_within(&rows[i], size) == 1)
			memcpy((char *)out + rows[i].offset,
			       raw + rows[i].offset, rows[i].width);
	return opt_validate(out);
}

int opt_validate(const struct tmem_pool_params *p)
{
	size_t i;

	for (i = 0; i < TM_ARRAY_SIZE(rows); i++) {
		const char *field = (const char *)p + rows[i].offset;
		int64_t v;

		if (rows[i].width == W64) {
			uint64_t u;

			memcpy(&u, field, sizeof(u));
			if (u > (uint64_t)INT64_MAX)
				return -EINVAL;
			v = (int64_t)u;
		} else if (rows[i].info.type == TMEM_OPT_INT) {
			int32_t s;

			memcpy(&s, field, sizeof(s));
			v = s;
		} else {
			uint32_t u;

			memcpy(&u, field, sizeof(u));
			v = u;
		}
		if (v < rows[i].info.min || v > rows[i].info.max)
			return -EINVAL;
	}
	return 0;
}
