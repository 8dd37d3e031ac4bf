/* SPDX-License-Identifier: MIT */
/*
 * pagefile.h - arrays of 4 KiB pages in memory, and the page file format
 * (raw pages concatenated, optionally zstd-compressed as a whole).
 */
#ifndef TMEM_PAGEFILE_H
#define TMEM_PAGEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "tmem.h"

/*
 * @data is page-aligned (O_DIRECT I/O may use it as is); @n pages are
 * valid; @cap bytes are mapped.
 */
struct pagefile_buf {
	uint8_t *data;
	size_t n;
	size_t cap;
};

static inline uint8_t *pagefile_page(const struct pagefile_buf *pb, size_t i)
{
	return pb->data + i * TMEM_PAGE_SIZE;
}

/* Make room for @bytes in all; 0 or -ENOMEM.  @pb may move. */
int pagefile_reserve(struct pagefile_buf *pb, size_t bytes);
/* Unmap @pb and zero it; accepts an empty buffer. */
void pagefile_free(struct pagefile_buf *pb);

/*
 * Read the page file @path (raw, or zstd-compressed: detected by its magic)
 * into @pb, which must be empty.  On failure a message naming @path is
 * printed (cli_error()) and -errno returned: -EINVAL for a size that is not
 * a whole number of pages, an empty file or bad zstd data.
 */
int pagefile_load(const char *path, struct pagefile_buf *pb);
/* Write @pb's pages to @path as a raw page file; prints on failure. */
int pagefile_save(const char *path, const struct pagefile_buf *pb);

#endif /* TMEM_PAGEFILE_H */
