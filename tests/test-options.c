// SPDX-License-Identifier: MIT
/*
 * test-options.c - the tunables table: sizes, bounds, the environment,
 * and docs/tunables.md naming every tunable.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "harness.h"
#include "tmem.h"

static void test_parse_size(void)
{
	static const struct {
		const char *s;
		int ret;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 },
		{ "4096", 0, 4096 },
		{ "4096B", 0, 4096 },
		{ "1K", 0, 1024 },
		{ "1k", 0, 1024 },
		{ "1KB", 0, 1024 },
		{ "1KiB", 0, 1024 },
		{ "512M", 0, 512ull << 20 },
		{ "512MiB", 0, 512ull << 20 },
		{ "2G", 0, 2ull << 30 },
		{ "2g", 0, 2ull << 30 },
		{ "3T", 0, 3ull << 40 },
		{ "", -EINVAL, 0 },
		{ "G", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "1.5G", -EINVAL, 0 },
		{ "12X", -EINVAL, 0 },
		{ "1GG", -EINVAL, 0 },
		{ "99999999999999999999", -ERANGE, 0 },
		{ "17179869184G", -ERANGE, 0 },
	};
	unsigned i;

	for (i = 0; i < TM_N(cases); i++) {
		uint64_t v = 12345;
		int r = tmem_parse_size(cases[i].s, &v);

		if (r != cases[i].ret)
			fprintf(stderr, "  parse_size(\"%s\")\n", cases[i].s);
		CHECK_EQ(r, cases[i].ret);
		if (!cases[i].ret)
			CHECK_EQ(v, cases[i].v);
	}
	CHECK_EQ(tmem_parse_size(NULL, NULL), -EINVAL);
}

static void test_params_set(void)
{
	struct tmem_pool_params p;

	CHECK_EQ(tmem_params_init(&p), 0);
	CHECK_EQ(p.size, sizeof(p));
	CHECK_EQ(p.compressor, TMEM_COMP_LZ4);
	CHECK_EQ(p.pool_max, 0);
	CHECK_EQ(tmem_params_set(&p, "compressor", "zstd"), 0);
	CHECK_EQ(p.compressor, TMEM_COMP_ZSTD);
	CHECK_EQ(tmem_params_set(&p, "compressor", "LZO"), 0);
	CHECK_EQ(p.compressor, TMEM_COMP_LZO);
	CHECK_EQ(tmem_params_set(&p, "compressor", "gzip"), -EINVAL);
	CHECK_EQ(p.compressor, TMEM_COMP_LZO);
	CHECK_EQ(tmem_params_set(&p, "pool_max", "1G"), 0);
	CHECK_EQ(p.pool_max, 1ull << 30);
	CHECK_EQ(tmem_params_set(&p, "pool_max", "lots"), -EINVAL);
	CHECK_EQ(tmem_params_set(&p, "zstd_level", "19"), 0);
	CHECK_EQ(p.zstd_level, 19);
	CHECK_EQ(tmem_params_set(&p, "zstd_level", "20"), -ERANGE);
	CHECK_EQ(tmem_params_set(&p, "zstd_level", "0"), -ERANGE);
	CHECK_EQ(tmem_params_set(&p, "zstd_level", "3x"), -EINVAL);
	CHECK_EQ(p.zstd_level, 19);
	CHECK_EQ(tmem_params_set(&p, "accept_threshold", "101"), -ERANGE);
	CHECK_EQ(tmem_params_set(&p, "max_compressed", "4K"), -ERANGE);
	CHECK_EQ(tmem_params_set(&p, "max_compressed", "3000"), 0);
	CHECK_EQ(p.max_compressed, 3000);
	CHECK_EQ(tmem_params_set(&p, "no_such_thing", "1"), -ENOENT);
	CHECK_EQ(tmem_params_set(NULL, "pool_max", "1"), -EINVAL);
}

/* The exported symbol behind the macro, for binaries built before it. */
int(tmem_params_init)(struct tmem_pool_params *p);

/*
 * A caller built against an older, shorter struct: init and set never
 * write past its size, and the environment does not count as an error
 * for the fields it lacks.
 */
static void test_params_older_caller(void)
{
	const size_t short_size =
		offsetof(struct tmem_pool_params, max_compressed);
	unsigned char buf[sizeof(struct tmem_pool_params) + 8];
	struct tmem_pool_params *p = (struct tmem_pool_params *)buf;
	size_t i;
	int clean = 1;

	setenv("TMEM_MAX_COMPRESSED", "1000", 1);
	memset(buf, 0xaa, sizeof(buf));
	CHECK_EQ(tmem_params_init_size(p, short_size), 0);
	CHECK_EQ(p->size, short_size);
	CHECK_EQ(p->compressor, TMEM_COMP_LZ4);
	for (i = short_size; i < sizeof(buf); i++)
		clean &= buf[i] == 0xaa;
	CHECK(clean);
	CHECK_EQ(tmem_params_set(p, "max_compressed", "2000"), -ENOENT);
	CHECK_EQ(tmem_params_set(p, "pool_max", "1M"), 0);
	for (i = short_size; i < sizeof(buf); i++)
		clean &= buf[i] == 0xaa;
	CHECK(clean);
	unsetenv("TMEM_MAX_COMPRESSED");

	/* Sizes that cannot be a layout. */
	CHECK_EQ(tmem_params_init_size(p, 2), -EINVAL);
	CHECK_EQ(tmem_params_init_size(
			 p, offsetof(struct tmem_pool_params, pool_max) + 4),
		 -EINVAL);
	/* A newer, longer struct: what this library lacks is zeroed. */
	memset(buf, 0xaa, sizeof(buf));
	CHECK_EQ(tmem_params_init_size(p, sizeof(buf)), 0);
	CHECK_EQ(p->size, sizeof(buf));
	CHECK_EQ(buf[sizeof(buf) - 1], 0);
	/* The symbol binaries built before the macro call: the first layout. */
	memset(buf, 0xaa, sizeof(buf));
	CHECK_EQ((tmem_params_init)(p), 0);
	CHECK_EQ(p->size, 40);
	CHECK_EQ(buf[40], 0xaa);
}

static void test_environment(void)
{
	struct tmem_pool_params p;

	setenv("TMEM_COMPRESSOR", "zstd", 1);
	setenv("TMEM_POOL_MAX", "64M", 1);
	CHECK_EQ(tmem_params_init(&p), 0);
	CHECK_EQ(p.compressor, TMEM_COMP_ZSTD);
	CHECK_EQ(p.pool_max, 64ull << 20);
	/* A bad value is reported and that field keeps its default. */
	setenv("TMEM_ZSTD_LEVEL", "99", 1);
	CHECK_EQ(tmem_params_init(&p), -EINVAL);
	CHECK_EQ(p.zstd_level, tmem_option_info(3)->def);
	CHECK_EQ(p.compressor, TMEM_COMP_ZSTD);
	unsetenv("TMEM_COMPRESSOR");
	unsetenv("TMEM_POOL_MAX");
	unsetenv("TMEM_ZSTD_LEVEL");
}

static void test_table(void)
{
	const struct tmem_option_info *o;
	unsigned i;

	for (i = 0; (o = tmem_option_info(i)); i++) {
		CHECK(o->name && o->env && o->help && o->unit);
		CHECK(o->min <= o->def && o->def <= o->max);
		CHECK(!strncmp(o->env, "TMEM_", 5));
		if (o->type == TMEM_OPT_ENUM)
			CHECK(o->choices != NULL);
	}
	CHECK(i >= 6);
	CHECK(!strcmp(tmem_option_info(3)->name, "zstd_level"));
}

/* docs/tunables.md is the user's reference: it must list every row. */
static void test_docs_list_every_tunable(void)
{
	const struct tmem_option_info *o;
	char *doc = NULL;
	size_t len = 0;
	FILE *f = fopen(TM_SOURCE_DIR "/docs/tunables.md", "r");
	unsigned i;

	REQUIRE(f);
	doc = malloc(1 << 20);
	REQUIRE(doc);
	len = fread(doc, 1, (1 << 20) - 1, f);
	doc[len] = '\0';
	fclose(f);
	for (i = 0; (o = tmem_option_info(i)); i++) {
		char want[128];

		snprintf(want, sizeof(want), "`%s`", o->name);
		if (!strstr(doc, want))
			fprintf(stderr, "  docs/tunables.md lacks %s\n", want);
		CHECK(strstr(doc, want) != NULL);
		CHECK(strstr(doc, o->env) != NULL);
	}
	free(doc);
}

int main(void)
{
	RUN(test_parse_size,
	    "sizes parse with K/M/G/T suffixes, bad ones fail");
	RUN(test_params_set, "tunables are set by name with bounds checked");
	RUN(test_params_older_caller,
	    "init and set never write past an older caller's struct");
	RUN(test_environment, "TMEM_<NAME> environment variables apply");
	RUN(test_table, "every row of the table is complete and consistent");
	RUN(test_docs_list_every_tunable,
	    "docs/tunables.md lists every tunable");
	return th_finish();
}
