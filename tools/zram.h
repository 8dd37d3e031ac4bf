/* SPDX-License-Identifier: MIT */
/*
 * zram.h - the kernel's zram (/dev/zram0) measured on the same pages as a
 * tmem pool, for `tmem bench store --vs-zram`.
 */
#ifndef TMEM_ZRAM_H
#define TMEM_ZRAM_H

#include <stdint.h>

#include "pagefile.h"

struct zram_result {
	char algorithm[32]; /* the kernel's name: "lz4", "lzo" ... */
	double write_mbps; /* medians over the repeats */
	double read_mbps;
	/* /sys/block/zram0/mm_stat after the writes */
	uint64_t orig_data_size;
	uint64_t compr_data_size;
	uint64_t mem_used_total;
	uint64_t same_pages;
	uint64_t huge_pages;
};

/*
 * Whether zram0 can be used now: it exists, we are root, it is idle.
 * Return: 0, or -errno after a message (-ENODEV, -EPERM, -EBUSY).
 */
int zram_usable(void);

/*
 * Write every page of @pb to an idle /dev/zram0 set to @compressor (the
 * tmem name), read them back verifying every byte, @repeat times; then
 * reset zram and restore its algorithm, on error paths too.
 *
 * Return: 0 with @res filled; 1 if zram offers no such compressor (a
 * message says so; nothing was measured); -errno after a message: -ENODEV
 * without zram0, -EPERM if not root, -EBUSY if zram0 is in use, -EIO if a
 * page read back differs, -EINTR if interrupted by SIGINT or SIGTERM.
 */
int zram_bench(const struct pagefile_buf *pb, const char *compressor,
	       unsigned repeat, struct zram_result *res);

#endif /* TMEM_ZRAM_H */
