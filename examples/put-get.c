// SPDX-License-Identifier: MIT
/*
 * put-get.c - the smallest useful libtmem program: make a pool, store a
 * few pages, read them back, print the pool's statistics as JSON.
 *
 *   cc put-get.c $(pkg-config --cflags --libs tmem) -o put-get
 */
#include <stdio.h>
#include <string.h>

#include <tmem.h>

int main(void)
{
	static unsigned char page[TMEM_PAGE_SIZE], back[TMEM_PAGE_SIZE];
	struct tmem_pool_params params;
	struct tmem_stats st = { .size = sizeof(st) };
	struct tmem_pool *pool;
	char json[2048];
	uint32_t i;
	int ret;

	tmem_params_init(&params); /* defaults + TMEM_* environment */
	tmem_params_set(&params, "compressor", "zstd");
	ret = tmem_pool_create(&params, &pool);
	if (ret) {
		fprintf(stderr, "tmem_pool_create: %s\n", tmem_strerror(ret));
		return 1;
	}
	for (i = 0; i < 100; i++) {
		snprintf((char *)page, sizeof(page),
			 "page %u of object 42: some text that compresses", i);
		ret = tmem_put_page(pool, 42, i, page);
		if (ret) {
			fprintf(stderr, "put: %s\n", tmem_strerror(ret));
			return 1;
		}
	}
	for (i = 0; i < 100; i++) {
		snprintf((char *)page, sizeof(page),
			 "page %u of object 42: some text that compresses", i);
		ret = tmem_get_page(pool, 42, i, back);
		if (ret || memcmp(page, back, sizeof(page))) {
			fprintf(stderr, "get %u: %s\n", i,
				ret ? tmem_strerror(ret) : "wrong bytes");
			return 1;
		}
	}
	tmem_stats_get(pool, &st);
	tmem_stats_json(&st, json, sizeof(json));
	printf("%s\n", json);
	tmem_pool_destroy(pool);
	return 0;
}
