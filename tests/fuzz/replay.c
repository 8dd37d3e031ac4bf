// SPDX-License-Identifier: MIT
/*
 * replay.c - run a fuzz target on saved inputs, without libFuzzer.
 *
 * Real fuzzing needs clang's -fsanitize=fuzzer; this driver lets every
 * build (gcc included, and the ASan, TSan and valgrind builds) run the
 * committed seed corpus and every crash reproducer saved next to it as an
 * ordinary test.  Arguments are files or directories (read one level
 * deep, in name order so a failure names the same input every run).
 * Each input is read into a buffer of exactly its size, so a sanitizer
 * sees an overread by the target as it would under libFuzzer.
 *
 * A failing input makes the target abort(); the driver prints the file
 * name first, so the log says which one.  An argument that cannot be read,
 * or a run with no input at all, fails too: a silently empty corpus would
 * make the test pass without testing anything.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long len;

	if (!f)
		goto fail;
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET))
		goto fail_close;
	/* Exactly @len bytes (malloc(0) may return NULL: take 1 then). */
	buf = malloc(len ? (size_t)len : 1);
	if (!buf)
		goto fail_close;
	if (fread(buf, 1, (size_t)len, f) != (size_t)len)
		goto fail_free;
	fclose(f);
	fprintf(stderr, "replay: %s (%ld bytes)\n", path, len);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	return 0;

fail_free:
	free(buf);
fail_close:
	fclose(f);
fail:
	fprintf(stderr, "replay: cannot read %s\n", path);
	return -1;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_input(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* Returns the number of inputs run, or -1 if one could not be read. */
static int run_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	int n, i, ran = 0;

	if (stat(path, &st)) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path) ? -1 : 1;
	n = scandir(path, &names, is_input, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		char file[PATH_MAX];

		snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
		if (ran >= 0 && !stat(file, &st) && S_ISREG(st.st_mode))
			ran = run_file(file) ? -1 : ran + 1;
		free(names[i]);
	}
	free(names);
	return ran;
}

int main(int argc, char **argv)
{
	int i, total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		int n = run_path(argv[i]);

		if (n < 0)
			return 1;
		total += n;
	}
	printf("replayed %d inputs\n", total);
	return total ? 0 : 1;
}
