// SPDX-License-Identifier: MIT
/*
 * test-exports.c - linked against the real libtmem.so: the public calls
 * are exported and nothing internal leaks (c-rbtree's habit).
 */
#include <dlfcn.h>

#include "harness.h"
#include "tmem.h"

static const char *const public_syms[] = {
	"tmem_version",		 "tmem_version_string",
	"tmem_strerror",	 "tmem_params_init",
	"tmem_params_init_size", "tmem_params_set",
	"tmem_parse_size",	 "tmem_pool_create",
	"tmem_pool_destroy",	 "tmem_put_page",
	"tmem_get_page",	 "tmem_flush_page",
	"tmem_flush_object",	 "tmem_pool_compact",
	"tmem_stats_get",	 "tmem_stats_json",
	"tmem_class_stats_get",	 "tmem_option_info",
	"tmem_compressor_name",	 "tmem_compress_page",
	"tmem_decompress_page",	 "tmem_page_is_samefilled",
};

static const char *const internal_syms[] = {
	"idx_create", "idx_lookup",	"zs_ops",	"comp_get", "tm_alloc",
	"tm_os_set",  "samefill_check", "opt_validate", "tm_log",
};

static void test_exports(void)
{
	void *self = dlopen(TM_LIBTMEM_SO, RTLD_NOW | RTLD_LOCAL);
	unsigned i;

	REQUIRE(self != NULL);
	for (i = 0; i < TM_N(public_syms); i++) {
		int found = dlsym(self, public_syms[i]) != NULL;

		if (!found) {
			fputs("  missing export: ", stderr);
			fputs(public_syms[i], stderr);
			fputs("\n", stderr);
		}
		CHECK(found);
	}
	for (i = 0; i < TM_N(internal_syms); i++) {
		int found = dlsym(self, internal_syms[i]) != NULL;

		if (found) {
			fputs("  leaked symbol: ", stderr);
			fputs(internal_syms[i], stderr);
			fputs("\n", stderr);
		}
		CHECK(!found);
	}
	dlclose(self);
}

static void test_version(void)
{
	char want[32];

	CHECK_EQ(tmem_version(), TMEM_VERSION_NUMBER);
	snprintf(want, sizeof(want), "%d.%d.%d", TMEM_VERSION_MAJOR,
		 TMEM_VERSION_MINOR, TMEM_VERSION_PATCH);
	CHECK(!strcmp(tmem_version_string(), want));
}

int main(void)
{
	RUN(test_exports, "the .so exports the tmem_ API and nothing else");
	RUN(test_version, "the library reports the header's version");
	return th_finish();
}
