// SPDX-License-Identifier: MIT
/*
 * zram.c - measure the kernel's zram on the pages a tmem pool was measured
 * on, in the same run, so the two can be compared side by side.
 *
 * What is measured is what a swap path does to zram: one 4 KiB page per
 * pwrite()/pread() on /dev/zram0 opened with O_DIRECT (no page cache in
 * between, each call one page through the block layer and the compressor),
 * timed on CLOCK_MONOTONIC.  Reads land in a separate page-aligned array
 * and are compared with the originals after the clock stops, as the tmem
 * side does.  Between repeats the whole device is discarded (BLKDISCARD
 * frees every slot and so every zspage), which keeps the device ours for
 * the whole run instead of resetting it and racing another user for it.
 * mm_stat is read after the last repeat's writes.
 *
 * Safety: zram0 is shared with the rest of the machine.  It is used only if
 * idle (disksize 0, not in /proc/swaps, not mounted); setting disksize
 * fails with EBUSY if someone took it in between, and then it is left
 * alone.  Once we initialised it, every exit path resets it and puts the
 * original compressor back, including SIGINT and SIGTERM, which only set a
 * flag that the I/O loops check.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "zram.h"

#define ZRAM_SYS "/sys/block/zram0"
#define ZRAM_DEV "/dev/zram0"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int sys_read(const char *attr, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), ZRAM_SYS "/%s", attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return 0;
}

static int sys_write(const char *attr, const char *value)
{
	char path[128];
	size_t len = strlen(value);
	int fd, err = 0;

	snprintf(path, sizeof(path), ZRAM_SYS "/%s", attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		err = errno ? -errno : -EIO;
	close(fd);
	return err;
}

/* Whether a line of @file (/proc/swaps, /proc/mounts) names zram0. */
static int listed_in(const char *file)
{
	char line[512];
	FILE *f = fopen(file, "r");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, ZRAM_DEV, strlen(ZRAM_DEV)) &&
			(line[strlen(ZRAM_DEV)] == ' ' ||
			 line[strlen(ZRAM_DEV)] == '\t');
	fclose(f);
	return found;
}

int zram_usable(void)
{
	char buf[64];
	int err;

	if (access(ZRAM_SYS, F_OK)) {
		cli_error("--vs-zram: this machine has no " ZRAM_SYS
			  " (load the zram module: modprobe zram)");
		return -ENODEV;
	}
	if (geteuid() != 0) {
		cli_error("--vs-zram: configuring zram needs root");
		return -EPERM;
	}
	err = sys_read("disksize", buf, sizeof(buf));
	if (err) {
		cli_error(ZRAM_SYS "/disksize: %s", strerror(-err));
		return err;
	}
	if (strtoull(buf, NULL, 10) != 0 || listed_in("/proc/swaps") ||
	    listed_in("/proc/mounts")) {
		cli_error(
			"--vs-zram: " ZRAM_DEV
			" is in use (initialised, swap or mounted); leaving it alone");
		return -EBUSY;
	}
	return 0;
}

/* Whether @name is among the algorithms listed in @avail. */
static int offered(const char *avail, const char *name, char *cur,
		   size_t curlen)
{
	char copy[256], *tok, *save;
	int found = 0;

	snprintf(copy, sizeof(copy), "%s", avail);
	for (tok = strtok_r(copy, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save)) {
		size_t n = strlen(tok);

		if (tok[0] == '[' && n > 2 && tok[n - 1] == ']') {
			tok[n - 1] = '\0';
			tok++;
			snprintf(cur, curlen, "%s", tok);
		}
		found |= !strcmp(tok, name);
	}
	return found;
}

/*
 * From comp_algorithm ("[lzo-rle] lzo lz4"), the current algorithm into
 * @cur and the kernel's name for tmem compressor @want into @out; 1 if the
 * kernel offers none for it.
 */
static int pick_algorithm(const char *avail, const char *want, char *cur,
			  size_t curlen, char *out, size_t outlen)
{
	/* tmem uses lzo1x-1 itself; lzo-rle is the kernel's variant of it. */
	static const char *const names[][3] = {
		{ "lz4", "lz4", NULL },
		{ "zstd", "zstd", NULL },
		{ "lzo", "lzo", "lzo-rle" },
	};
	size_t i, k;

	cur[0] = '\0';
	offered(avail, "", cur, curlen);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(names[i][0], want))
			continue;
		for (k = 1; k < 3 && names[i][k]; k++) {
			if (offered(avail, names[i][k], cur, curlen)) {
				snprintf(out, outlen, "%s", names[i][k]);
				return 0;
			}
		}
	}
	return 1;
}

static int read_mm_stat(struct zram_result *res)
{
	unsigned long long v[8] = { 0 };
	char buf[256];
	int err = sys_read("mm_stat", buf, sizeof(buf));

	if (err)
		return err;
	if (sscanf(buf, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 6)
		return -EINVAL;
	res->orig_data_size = v[0];
	res->compr_data_size = v[1];
	res->mem_used_total = v[2];
	res->same_pages = v[5];
	res->huge_pages = v[7];
	return 0;
}

/* One timed pass of one-page O_DIRECT calls; seconds, or -errno. */
static double pass(int fd, uint8_t *buf, size_t n, int write_pass)
{
	double t0 = cli_now();
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t *p = buf + i * TMEM_PAGE_SIZE;
		off_t off = (off_t)i * TMEM_PAGE_SIZE;
		ssize_t r = write_pass ? pwrite(fd, p, TMEM_PAGE_SIZE, off)
				       : pread(fd, p, TMEM_PAGE_SIZE, off);

		if (interrupted)
			return -EINTR;
		if (r != TMEM_PAGE_SIZE)
			return r < 0 ? -errno : -EIO;
	}
	return cli_now() - t0;
}

/* The repeats, on an initialised zram0 of at least @pb's size. */
static int measure(const struct pagefile_buf *pb, unsigned repeat,
		   struct zram_result *res)
{
	struct pagefile_buf out = { 0 };
	double *wt = calloc(repeat, sizeof(double));
	double *rt = calloc(repeat, sizeof(double));
	uint64_t range[2] = { 0, (uint64_t)pb->n * TMEM_PAGE_SIZE };
	size_t i;
	unsigned r;
	int fd, err = -ENOMEM;

	if (!wt || !rt || pagefile_reserve(&out, range[1]))
		goto free_bufs;
	fd = open(ZRAM_DEV, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		cli_error(ZRAM_DEV ": %s", strerror(-err));
		goto free_bufs;
	}
	for (r = 0; r < repeat; r++) {
		if (r > 0 && ioctl(fd, BLKDISCARD, range)) {
			err = -errno;
			cli_error(ZRAM_DEV ": discard: %s", strerror(-err));
			goto close_fd;
		}
		wt[r] = pass(fd, pb->data, pb->n, 1);
		if (wt[r] >= 0 && r == repeat - 1) {
			err = read_mm_stat(res);
			if (err) {
				cli_error(ZRAM_SYS "/mm_stat: %s",
					  strerror(-err));
				goto close_fd;
			}
		}
		/* Fault the target in now, and poison it against stale hits. */
		memset(out.data, 0xa5, range[1]);
		rt[r] = wt[r] < 0 ? wt[r] : pass(fd, out.data, pb->n, 0);
		if (wt[r] < 0 || rt[r] < 0) {
			err = (int)(wt[r] < 0 ? wt[r] : rt[r]);
			cli_error(ZRAM_DEV ": %s %s",
				  wt[r] < 0 ? "write" : "read", strerror(-err));
			goto close_fd;
		}
		for (i = 0; i < pb->n; i++) {
			if (memcmp(pagefile_page(pb, i), pagefile_page(&out, i),
				   TMEM_PAGE_SIZE)) {
				cli_error(
					ZRAM_DEV
					": page %zu read back differs from what was written",
					i);
				err = -EIO;
				goto close_fd;
			}
		}
	}
	res->write_mbps = cli_mbps(range[1], cli_median(wt, repeat));
	res->read_mbps = cli_mbps(range[1], cli_median(rt, repeat));
	err = 0;
close_fd:
	close(fd);
free_bufs:
	pagefile_free(&out);
	free(wt);
	free(rt);
	return err;
}

int zram_bench(const struct pagefile_buf *pb, const char *compressor,
	       unsigned repeat, struct zram_result *res)
{
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	char avail[256], orig[32], size[32];
	int err;

	memset(res, 0, sizeof(*res));
	err = zram_usable();
	if (err)
		return err;
	err = sys_read("comp_algorithm", avail, sizeof(avail));
	if (err) {
		cli_error(ZRAM_SYS "/comp_algorithm: %s", strerror(-err));
		return err;
	}
	if (pick_algorithm(avail, compressor, orig, sizeof(orig),
			   res->algorithm, sizeof(res->algorithm))) {
		avail[strcspn(avail, "\n")] = '\0';
		cli_error(
			"zram here offers no %s (it has: %s); skipping the zram comparison",
			compressor, avail);
		return 1;
	}
	interrupted = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	err = sys_write("comp_algorithm", res->algorithm);
	if (err) {
		cli_error(ZRAM_SYS "/comp_algorithm: setting %s: %s",
			  res->algorithm, strerror(-err));
		goto restore_signals;
	}
	snprintf(size, sizeof(size), "%llu",
		 (unsigned long long)pb->n * TMEM_PAGE_SIZE);
	err = sys_write("disksize", size);
	if (err) {
		if (err == -EBUSY)
			cli_error(
				"--vs-zram: " ZRAM_DEV
				" was taken by someone else; leaving it alone");
		else
			cli_error(ZRAM_SYS "/disksize: %s", strerror(-err));
		goto restore_algorithm;
	}
	err = measure(pb, repeat, res);
	if (interrupted) {
		err = -EINTR;
		cli_error("interrupted; zram0 reset");
	}
	if (sys_write("reset", "1"))
		cli_error("could not reset " ZRAM_DEV
			  ": run 'echo 1 > " ZRAM_SYS "/reset'");
restore_algorithm:
	/* Fails harmlessly (EBUSY) if someone else holds zram0 now. */
	if (orig[0] && strcmp(orig, res->algorithm))
		sys_write("comp_algorithm", orig);
restore_signals:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return err;
}
