// SPDX-License-Identifier: MIT
/*
 * pagefile.c - load and save page files: raw 4 KiB pages concatenated, the
 * corpus format of /work/shared/corpus, optionally zstd-compressed.
 *
 * A compressed file is recognised by the zstd frame magic in its first four
 * bytes and decompressed with libzstd's streaming API straight into the
 * page array, so neither the compressed nor the decompressed file is ever
 * held twice; concatenated frames are accepted as zstd(1) does.  A raw
 * file whose first bytes happen to be the magic is misread as zstd and then
 * refused with a clear message: page files of real memory do not start so.
 *
 * The page array is one anonymous mapping grown with mremap(): it stays
 * page-aligned (the zram benchmark hands it to O_DIRECT I/O as is) and
 * growing it never copies.  Its size must be a whole number of pages; a
 * file that is not is refused rather than padded, because a cut page
 * usually means a truncated or foreign file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include "cli.h"
#include "pagefile.h"

#define ZSTD_MAGIC 0xFD2FB528u /* little-endian bytes 28 b5 2f fd */
#define READ_CHUNK (1u << 20) /* raw files are read this much at a time */

int pagefile_reserve(struct pagefile_buf *pb, size_t bytes)
{
	size_t cap = pb->cap ? pb->cap : (size_t)1 << 20;
	void *p;

	if (bytes <= pb->cap)
		return 0;
	while (cap < bytes)
		cap *= 2;
	if (pb->data)
		p = mremap(pb->data, pb->cap, cap, MREMAP_MAYMOVE);
	else
		p = mmap(NULL, cap, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	pb->data = p;
	pb->cap = cap;
	return 0;
}

void pagefile_free(struct pagefile_buf *pb)
{
	if (pb->data)
		munmap(pb->data, pb->cap);
	memset(pb, 0, sizeof(*pb));
}

/* read(2) until @len bytes or end of file; the count, or -errno. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, (char *)buf + got, len - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Raw file: @head (already read, @hlen bytes) then the rest of @fd. */
static int load_raw(int fd, const void *head, size_t hlen, size_t *total,
		    struct pagefile_buf *pb)
{
	size_t used = hlen;
	ssize_t r;

	if (pagefile_reserve(pb, READ_CHUNK))
		return -ENOMEM;
	memcpy(pb->data, head, hlen);
	do {
		if (pagefile_reserve(pb, used + READ_CHUNK))
			return -ENOMEM;
		r = read_full(fd, pb->data + used, READ_CHUNK);
		if (r < 0)
			return (int)r;
		used += (size_t)r;
	} while (r > 0);
	*total = used;
	return 0;
}

/* Decompress @fd (whose first @hlen bytes are in @head) into @pb. */
static int load_zstd(const char *path, int fd, const void *head, size_t hlen,
		     size_t *total, struct pagefile_buf *pb)
{
	size_t in_cap = ZSTD_DStreamInSize(), out_min = ZSTD_DStreamOutSize();
	ZSTD_DStream *ds = ZSTD_createDStream();
	void *inbuf = malloc(in_cap);
	size_t used = 0, last = 1;
	int err = -ENOMEM;
	ssize_t r;

	if (!ds || !inbuf)
		goto free_bufs;
	memcpy(inbuf, head, hlen);
	r = (ssize_t)hlen;
	for (;;) {
		ZSTD_inBuffer in = { inbuf, (size_t)r, 0 };

		if (r == 0)
			break;
		for (;;) {
			ZSTD_outBuffer out;

			err = pagefile_reserve(pb, used + out_min);
			if (err)
				goto free_bufs;
			out.dst = pb->data + used;
			out.size = pb->cap - used;
			out.pos = 0;
			last = ZSTD_decompressStream(ds, &out, &in);
			if (ZSTD_isError(last)) {
				cli_error("%s: not valid zstd data: %s", path,
					  ZSTD_getErrorName(last));
				err = -EINVAL;
				goto free_bufs;
			}
			used += out.pos;
			/*
			 * A full output buffer may hide more output, unless
			 * the frame just ended (0): calling again would
			 * start waiting for the next frame.
			 */
			if (in.pos == in.size &&
			    (out.pos < out.size || last == 0))
				break;
		}
		r = read_full(fd, inbuf, in_cap);
		if (r < 0) {
			err = (int)r;
			cli_error("%s: %s", path, strerror(-err));
			goto free_bufs;
		}
	}
	if (last != 0) {
		cli_error("%s: the zstd data ends early (truncated file?)",
			  path);
		err = -EINVAL;
		goto free_bufs;
	}
	*total = used;
	err = 0;
free_bufs:
	free(inbuf);
	ZSTD_freeDStream(ds);
	return err;
}

int pagefile_load(const char *path, struct pagefile_buf *pb)
{
	unsigned char head[4];
	size_t total = 0;
	ssize_t hlen;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		cli_error("%s: %s", path, strerror(-err));
		return err;
	}
	hlen = read_full(fd, head, sizeof(head));
	if (hlen < 0) {
		err = (int)hlen;
		cli_error("%s: %s", path, strerror(-err));
		goto close_fd;
	}
	if (hlen == 4 &&
	    ((uint32_t)head[0] | (uint32_t)head[1] << 8 |
	     (uint32_t)head[2] << 16 | (uint32_t)head[3] << 24) == ZSTD_MAGIC) {
		err = load_zstd(path, fd, head, (size_t)hlen, &total, pb);
		if (err)
			goto free_pages;
	} else {
		err = load_raw(fd, head, (size_t)hlen, &total, pb);
		if (err) {
			cli_error("%s: %s", path, strerror(-err));
			goto free_pages;
		}
	}
	if (total == 0 || total % TMEM_PAGE_SIZE) {
		if (total == 0)
			cli_error("%s: holds no pages", path);
		else
			cli_error(
				"%s: %zu bytes is not a whole number of %u-byte pages (truncated or not a page file?)",
				path, total, TMEM_PAGE_SIZE);
		err = -EINVAL;
		goto free_pages;
	}
	pb->n = total / TMEM_PAGE_SIZE;
	close(fd);
	return 0;
free_pages:
	pagefile_free(pb);
close_fd:
	close(fd);
	return err;
}

int pagefile_save(const char *path, const struct pagefile_buf *pb)
{
	size_t len = pb->n * TMEM_PAGE_SIZE, done = 0;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		cli_error("%s: %s", path, strerror(-err));
		return err;
	}
	while (done < len) {
		ssize_t w = write(fd, pb->data + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err = -errno;
			break;
		}
		done += (size_t)w;
	}
	if (close(fd) && !err)
		err = -errno;
	if (err)
		cli_error("%s: %s", path, strerror(-err));
	return err;
}
