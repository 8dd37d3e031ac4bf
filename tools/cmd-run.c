// SPDX-License-Identifier: MIT
/*
 * cmd-run.c - `tmem run`: start a program with its heap and anonymous
 * memory managed by libtmem-preload.so under a RAM budget.
 *
 * What it guarantees before the program starts, so failures are ours
 * and clear rather than the program's: flags and sizes are valid (exit 2
 * naming the flag), the budget is workable (>= 16 MiB) and so is the
 * pool limit (>= 1 MiB, <= the budget), userfaultfd is
 * usable in the mode tmem needs (faults inside system calls served), the
 * shim exists, and the program can be found and executed (127 and 126,
 * as shells do).  Without userfaultfd it refuses (exit 1) and says how to
 * allow it, unless --fallback asks to run unmanaged.
 *
 * With --backing-file, the directory the backing files go in is checked
 * the way the shim will use it (an unnamed file is made in it and
 * dropped) and must have room: a bad path exits 2, a full file system 1,
 * before the program starts (check_backing()).
 *
 * Then fork, exec with LD_PRELOAD (prepended, absolute path) and the
 * TMEM_RUN_* settings in the environment - so the shim follows every exec
 * and fork of the program - and wait.  The exit status is the program's;
 * a program killed by a signal makes tmem re-raise that signal on itself
 * with the default action, so the caller sees the same death.  SIGINT
 * and SIGQUIT are ignored while waiting (the terminal sends them to the
 * program too); SIGTERM, SIGHUP, SIGUSR1/2 are passed on to the program.
 *
 * Every managed process of the run keeps a stats page in one directory
 * made for the run (run-dir.c, named to the shim in TMEM_RUN_DIR).
 * While waiting, tmem run unlinks every few seconds the pages of
 * processes that are gone (those that ended by _exit or a signal could
 * not); at the end it reads the program's own page, which its shim left
 * for us, for --stats / --stats-file, adds the kernel's peak RSS of the
 * program from wait4(), and removes the directory with all in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cmd-run.h"
#include "run-dir.h"
#include "tmem.h"
#include "uffd.h"

#define RUN_MIN_RAM (16ull << 20) /* below this the shim's own use dominates */
/*
 * An eviction batch is 256 pages, 1 MiB: a smaller pool refuses most of
 * the first batch, and the budget is then not held at all.
 */
#define RUN_MIN_POOL (1ull << 20)
/*
 * Free space a backing file system must have when the run starts: the
 * library writes 1 MiB segments, and with fewer than a handful free the
 * first writebacks would fail at once (the run would go on, over its
 * budget, which is what the flag was given to avoid).
 */
#define RUN_MIN_BACKING_FREE (4ull << 20)
#define TMPFS_MAGIC_ 0x01021994 /* linux/magic.h TMPFS_MAGIC */
#define RAMFS_MAGIC_ 0x858458f6 /* linux/magic.h RAMFS_MAGIC */
#define SWEEP_SECONDS 2 /* pages of gone processes live at most this long */
#define PRELOAD_NAME "libtmem-preload.so"

static pid_t child;
static volatile sig_atomic_t sweep_due;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

static void on_alarm(int sig)
{
	(void)sig;
	sweep_due = 1;
}

static int usage(FILE *f)
{
	fprintf(f, "usage: tmem run --ram SIZE [--pool-max SIZE] "
		   "[--compressor lz4|zstd|lzo]\n"
		   "                [--backing-file PATH|DIR] [--stats] "
		   "[--stats-file FILE]\n"
		   "                [--fallback] -- PROGRAM [ARGS...]\n"
		   "SIZE: bytes or K/M/G (KiB/MiB/GiB), e.g. 512M\n");
	if (f != stdout)
		return 2;
	fprintf(f,
		"\nRun PROGRAM unmodified with a RAM budget: when its resident "
		"memory nears\n--ram, cold pages of its heap and anonymous "
		"mappings are compressed into\nan in-process pool and dropped; "
		"a touch brings them back.  Output and\nexit status are the "
		"program's own.\n\n"
		"  --ram SIZE          budget for resident memory + pool + "
		"tmem's metadata\n"
		"                      (at least 16M; may be passed by ~4 MiB, "
		"see docs/run.md)\n"
		"  --pool-max SIZE     limit on the compressed pool, 1M to "
		"--ram (default\n"
		"                      3/4 of --ram); pages it cannot take "
		"stay resident,\n"
		"                      or go to the backing file\n"
		"  --compressor NAME   lz4 (default), zstd or lzo\n"
		"  --backing-file DIR  write the coldest compressed pages to an "
		"unnamed file\n"
		"                      (mode 0600, removed at exit) in DIR, so "
		"--ram holds for\n"
		"                      data of any size; a PATH that does not "
		"exist names its\n"
		"                      directory.  DIR must be writable and have "
		"4M free\n"
		"  --stats             print a summary to stderr at exit\n"
		"  --stats-file FILE   write that summary as JSON to FILE\n"
		"  --fallback          without userfaultfd permission, run the "
		"program\n"
		"                      unmanaged (with a warning) instead of "
		"failing\n"
		"  -h, --help          this text\n\n"
		"Needs userfaultfd: root, access to /dev/userfaultfd, or\n"
		"sysctl vm.unprivileged_userfaultfd=1.  Live counters of a "
		"running process of\nthe program: 'tmem stat PID', from the "
		"stats pages the run keeps in\n" TMEM_RUN_STATS_DIR
		"/" TMEM_RUN_STATS_PREFIX "<pid>.XXXXXX/ and removes at "
		"exit.\n\n"
		"Exit status: the program's (a signal that killed it is "
		"raised again); 2 for\na bad command line (a --backing-file "
		"that is missing or not writable\nincluded), 1 if tmem cannot "
		"run it managed (or the backing file system\nhas no room), "
		"127/126 if PROGRAM is not found or not executable.\n");
	return 0;
}

static int parse_size_flag(const char *flag, const char *s, uint64_t min,
			   const char *min_name, uint64_t *out)
{
	int err = tmem_parse_size(s, out);

	if (err)
		return cli_usage_error(
			"%s: '%s' is not a size (%s)", flag, s,
			err == -ERANGE ? "too large"
				       : "use bytes or K/M/G, e.g. 512M");
	if (*out < min)
		return cli_usage_error("%s %s is too small: the minimum is %s",
				       flag, s, min_name);
	return 0;
}

/* Absolute path of the shim: $TMEM_PRELOAD, beside the tool, installed. */
static int find_preload(char *out, size_t len)
{
	const char *env = getenv("TMEM_PRELOAD");
	char exe[PATH_MAX], cand[PATH_MAX + 64];
	const char *rel[] = { "/../preload/" PRELOAD_NAME, "/" PRELOAD_NAME };
	ssize_t n;

	if (env && *env)
		return realpath(env, out) ? 0 : -errno;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		*strrchr(exe, '/') = 0;
		for (size_t k = 0; k < sizeof(rel) / sizeof(rel[0]); k++) {
			snprintf(cand, sizeof(cand), "%s%s", exe, rel[k]);
			if (!access(cand, R_OK) && realpath(cand, out))
				return 0;
		}
	}
#ifdef TMEM_PRELOAD_INSTALLED
	if (!access(TMEM_PRELOAD_INSTALLED, R_OK) &&
	    strlen(TMEM_PRELOAD_INSTALLED) < len) {
		strcpy(out, TMEM_PRELOAD_INSTALLED);
		return 0;
	}
#endif
	(void)len;
	return -ENOENT;
}

/*
 * What execvp would do, decided before forking: 0 if runnable, else the
 * shell's status (127 not found, 126 found but not executable).
 */
static int check_program(const char *prog)
{
	const char *path = getenv("PATH");
	char cand[PATH_MAX];
	int found = 0;
	struct stat sb;

	if (strchr(prog, '/')) {
		if (stat(prog, &sb))
			return 127;
		return (!S_ISDIR(sb.st_mode) && !access(prog, X_OK)) ? 0 : 126;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t dl = colon ? (size_t)(colon - path) : strlen(path);

		snprintf(cand, sizeof(cand), "%.*s/%s", (int)dl,
			 dl ? path : ".", prog);
		if (!stat(cand, &sb) && !S_ISDIR(sb.st_mode)) {
			if (!access(cand, X_OK))
				return 0;
			found = 1;
		}
		path += dl + (colon ? 1 : 0);
		if (!colon)
			break;
	}
	return found ? 126 : 127;
}

/*
 * Make an unnamed file in @dir and drop it, as the library will:
 * O_TMPFILE, else a named file unlinked at once.  0 or -errno.
 */
static int probe_dir(const char *dir)
{
	char name[PATH_MAX + 32];
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	/* the file system has no O_TMPFILE */
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	snprintf(name, sizeof(name), "%s/.tmem-probe.XXXXXX", dir);
	fd = mkostemp(name, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(name);
	close(fd);
	return 0;
}

/*
 * --backing-file @arg: the directory every managed process of the run
 * makes its own unnamed backing file in, as an absolute path in @dir
 * (the program may change directory before it forks or execs).  A path
 * that does not exist names its parent directory: each process needs a
 * file of its own, so the name itself is not used.  An existing file
 * that is not a directory is refused: it would not be written, and a
 * user giving one likely meant something else.  Returns 0; 2 after a
 * message for a bad path; 1 after a message for a file system without
 * RUN_MIN_BACKING_FREE free.
 */
static int check_backing(const char *arg, char *dir)
{
	char parent[PATH_MAX];
	const char *d = arg, *why;
	struct statvfs vfs;
	struct statfs fs;
	struct stat sb;
	uint64_t avail;
	int err;

	if (!*arg)
		return cli_usage_error("--backing-file: the path is empty");
	if (strlen(arg) >= sizeof(parent))
		return cli_usage_error("--backing-file: the path is too long");
	if (!stat(arg, &sb)) {
		if (!S_ISDIR(sb.st_mode))
			return cli_usage_error(
				"--backing-file %s: exists and is not a "
				"directory (give a directory, or the name of a "
				"file that does not exist yet)",
				arg);
	} else if (errno == ENOENT && arg[strlen(arg) - 1] == '/') {
		return cli_usage_error("--backing-file %s: no such directory",
				       arg);
	} else if (errno == ENOENT || errno == ENOTDIR) {
		char *slash;

		strcpy(parent, arg);
		slash = strrchr(parent, '/');
		if (!slash)
			strcpy(parent, ".");
		else if (slash == parent)
			parent[1] = 0;
		else
			*slash = 0;
		d = parent;
		if (stat(d, &sb))
			return cli_usage_error(
				"--backing-file %s: does not exist, nor does "
				"its directory %s%s%s",
				arg, d, errno == ENOENT ? "" : ": ",
				errno == ENOENT ? "" : strerror(errno));
		if (!S_ISDIR(sb.st_mode))
			return cli_usage_error(
				"--backing-file %s: %s is not a directory", arg,
				d);
	} else {
		return cli_usage_error("--backing-file %s: %s", arg,
				       strerror(errno));
	}
	if (!realpath(d, dir))
		return cli_usage_error("--backing-file %s: %s", arg,
				       strerror(errno));
	err = probe_dir(dir);
	if (err && err != -ENOSPC && err != -EDQUOT) {
		if (err == -EACCES || err == -EPERM)
			why = "is not writable by this user";
		else if (err == -EROFS)
			why = "is on a read-only file system";
		else
			why = "cannot hold a file";
		return cli_usage_error(
			"--backing-file %s: directory %s %s (%s)", arg, dir,
			why, strerror(-err));
	}
	if (statvfs(dir, &vfs))
		return cli_usage_error("--backing-file %s: %s", arg,
				       strerror(errno));
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (err || avail < RUN_MIN_BACKING_FREE) {
		cli_error("--backing-file %s: the file system of %s has no "
			  "room: %" PRIu64 " KiB free, the backing file needs "
			  "at least %llu MiB",
			  arg, dir, avail >> 10, RUN_MIN_BACKING_FREE >> 20);
		return CLI_EXIT_FAIL;
	}
	if (!statfs(dir, &fs) && ((unsigned long)fs.f_type == TMPFS_MAGIC_ ||
				  (unsigned long)fs.f_type == RAMFS_MAGIC_))
		cli_error("warning: --backing-file %s: %s is in memory "
			  "(tmpfs): pages written back still use RAM, outside "
			  "the budget",
			  arg, dir);
	return 0;
}

static int check_uffd(int fallback)
{
	enum uffd_how how;
	int fd, err = uffd_open(&fd, &how);

	if (!err) {
		close(fd);
		return 0;
	}
	if (how == UFFD_HOW_USER_ONLY)
		fprintf(stderr,
			"tmem run: userfaultfd is only allowed in user-mode-only "
			"mode here, where a system call (read, write...) that "
			"touches compressed memory would fail with EFAULT.\n");
	else
		fprintf(stderr,
			"tmem run: userfaultfd is not available (%s).\n",
			strerror(-err));
	fprintf(stderr,
		"tmem run: allow it with 'sysctl vm.unprivileged_userfaultfd=1' "
		"or give this user read-write access to /dev/userfaultfd%s\n",
		fallback ? "" : ", or pass --fallback to run unmanaged");
	if (!fallback)
		return 1;
	fprintf(stderr, "tmem run: warning: --fallback: running the program "
			"without memory management\n");
	return -1;
}

static int set_env(const char *preload, uint64_t ram, uint64_t pool_max,
		   const char *comp, const char *backing,
		   const struct run_dir *rd)
{
	const char *old = getenv("LD_PRELOAD");
	char num[32], *lp;
	size_t len = strlen(preload) + (old ? strlen(old) + 2 : 1);

	lp = malloc(len);
	if (!lp)
		return -ENOMEM;
	snprintf(lp, len, "%s%s%s", preload, old && *old ? " " : "",
		 old ? old : "");
	setenv("LD_PRELOAD", lp, 1);
	free(lp);
	snprintf(num, sizeof(num), "%" PRIu64, ram);
	setenv("TMEM_RUN_RAM", num, 1);
	if (pool_max) {
		snprintf(num, sizeof(num), "%" PRIu64, pool_max);
		setenv("TMEM_RUN_POOL_MAX", num, 1);
	} else {
		unsetenv("TMEM_RUN_POOL_MAX");
	}
	if (comp)
		setenv("TMEM_RUN_COMPRESSOR", comp, 1);
	else
		unsetenv("TMEM_RUN_COMPRESSOR");
	/* nor an outer run's backing directory */
	if (backing)
		setenv("TMEM_RUN_BACKING", backing, 1);
	else
		unsetenv("TMEM_RUN_BACKING");
	/* not an outer run's: its tmem run would not see our processes */
	if (rd->fd >= 0)
		setenv(TMEM_RUN_STATS_ENV, rd->path, 1);
	else
		unsetenv(TMEM_RUN_STATS_ENV);
	return 0;
}

/*
 * Read the program's page and remove the run's directory, then print:
 * a reader of our stderr that has gone (SIGPIPE) must not leave the
 * directory behind.
 */
static void finish(struct run_dir *rd, int dir_err, pid_t pid,
		   const struct rusage *ru, int stats, const char *stats_file)
{
	unsigned long long maxrss = (unsigned long long)ru->ru_maxrss * 1024;
	struct tmem_run_stats st;
	int have;
	FILE *f;

	have = rd->fd >= 0 && !run_page_read(rd->fd, pid, geteuid(), &st);
	run_dir_remove(rd);
	if (!stats && !stats_file)
		return;
	if (dir_err) {
		fprintf(stderr,
			"tmem run: no statistics: cannot make a directory in "
			"%s (%s)\n",
			TMEM_RUN_STATS_DIR, strerror(-dir_err));
		return;
	}
	if (!have) {
		fprintf(stderr, "tmem run: no statistics: the program ran "
				"unmanaged\n");
		return;
	}
	if (stats)
		run_stats_print(stderr, &st, maxrss);
	if (!stats_file)
		return;
	f = fopen(stats_file, "w");
	if (!f) {
		fprintf(stderr, "tmem run: --stats-file %s: %s\n", stats_file,
			strerror(errno));
		return;
	}
	run_stats_json(f, &st, maxrss);
	fclose(f);
}

/*
 * wait4() for the program, unlinking the pages of the run's processes
 * that are gone every SWEEP_SECONDS meanwhile.
 */
static int wait_program(const struct run_dir *rd, int *status,
			struct rusage *ru)
{
	struct itimerval every = { { SWEEP_SECONDS, 0 }, { SWEEP_SECONDS, 0 } };
	struct sigaction sa;

	if (rd->fd >= 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm; /* no SA_RESTART: wait4 returns */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &every, NULL);
	}
	while (wait4(child, status, 0, ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "tmem run: wait: %s\n",
				strerror(errno));
			return -1;
		}
		if (sweep_due) {
			sweep_due = 0;
			run_dir_sweep(rd, child);
		}
	}
	memset(&every, 0, sizeof(every));
	setitimer(ITIMER_REAL, &every, NULL);
	return 0;
}

enum {
	OPT_RAM = 1,
	OPT_POOL_MAX,
	OPT_COMP,
	OPT_STATS,
	OPT_STATS_FILE,
	OPT_FALLBACK,
	OPT_BACKING,
	OPT_HELP
};

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ram", required_argument, NULL, OPT_RAM },
		{ "pool-max", required_argument, NULL, OPT_POOL_MAX },
		{ "compressor", required_argument, NULL, OPT_COMP },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "stats-file", required_argument, NULL, OPT_STATS_FILE },
		{ "fallback", no_argument, NULL, OPT_FALLBACK },
		{ "backing-file", required_argument, NULL, OPT_BACKING },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t ram = 0, pool_max = 0;
	const char *comp = NULL, *stats_file = NULL, *backing = NULL;
	int stats = 0, fallback = 0, managed, opt, status, rc, dir_err = 0;
	int ram_given = 0, pool_given = 0;
	struct run_dir rd = { .fd = -1 };
	char preload[PATH_MAX], backing_dir[PATH_MAX];
	struct sigaction sa;
	struct rusage ru;

	cli_cmd = "run";
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_RAM:
			if (parse_size_flag("--ram", optarg, RUN_MIN_RAM, "16M",
					    &ram))
				return 2;
			ram_given = 1;
			break;
		case OPT_POOL_MAX:
			if (parse_size_flag("--pool-max", optarg, RUN_MIN_POOL,
					    "1M", &pool_max))
				return 2;
			pool_given = 1;
			break;
		case OPT_COMP:
			if (strcmp(optarg, "lz4") && strcmp(optarg, "zstd") &&
			    strcmp(optarg, "lzo"))
				return cli_usage_error(
					"--compressor: '%s' is not "
					"one of lz4, zstd, lzo",
					optarg);
			comp = optarg;
			break;
		case OPT_STATS:
			stats = 1;
			break;
		case OPT_STATS_FILE:
			stats_file = optarg;
			break;
		case OPT_FALLBACK:
			fallback = 1;
			break;
		case OPT_BACKING:
			backing = optarg;
			break;
		case 'h':
		case OPT_HELP:
			return usage(stdout);
		case ':':
			return cli_usage_error("option '%s' needs a value",
					       argv[optind - 1]);
		default:
			/* getopt sets optopt to a known flag given a value */
			if (optopt >= OPT_RAM && optopt <= OPT_HELP)
				return cli_usage_error(
					"option '%s' takes no value",
					argv[optind - 1]);
			return cli_usage_error("unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (!ram_given)
		return cli_usage_error("--ram SIZE is required");
	if (pool_given && pool_max > ram)
		return cli_usage_error(
			"--pool-max must not exceed --ram (the pool "
			"is part of the budget)");
	if (optind >= argc)
		return cli_usage_error("no program given");
	if (backing) {
		rc = check_backing(backing, backing_dir);
		if (rc)
			return rc;
	}
	rc = check_program(argv[optind]);
	if (rc) {
		fprintf(stderr, "tmem run: %s: %s\n", argv[optind],
			rc == 127 ? "command not found" : "permission denied");
		return rc;
	}
	managed = check_uffd(fallback);
	if (managed > 0)
		return 1;
	managed = managed == 0;
	if (managed && find_preload(preload, sizeof(preload))) {
		fprintf(stderr, "tmem run: cannot find " PRELOAD_NAME
				" (set TMEM_PRELOAD to its path)\n");
		return 1;
	}
	if (managed) {
		run_dir_reclaim();
		dir_err = run_dir_create(&rd);
	}
	if (managed && set_env(preload, ram, pool_max, comp,
			       backing ? backing_dir : NULL, &rd)) {
		fprintf(stderr, "tmem run: out of memory\n");
		run_dir_remove(&rd);
		return 1;
	}
	fflush(NULL);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	child = fork();
	if (child < 0) {
		fprintf(stderr, "tmem run: fork: %s\n", strerror(errno));
		run_dir_remove(&rd);
		return 1;
	}
	if (child == 0) {
		char num[24];

		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGUSR1, SIG_DFL);
		signal(SIGUSR2, SIG_DFL);
		snprintf(num, sizeof(num), "%d", (int)getpid());
		setenv("TMEM_RUN_TOP", num, 1);
		execvp(argv[optind], argv + optind);
		rc = errno == ENOENT ? 127 : 126;
		fprintf(stderr, "tmem run: %s: %s\n", argv[optind],
			strerror(errno));
		_exit(rc);
	}
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	if (wait_program(&rd, &status, &ru)) {
		run_dir_remove(&rd);
		return 1;
	}
	finish(&rd, dir_err, child, &ru, stats, stats_file);
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		sigset_t set;

		fflush(NULL);
		signal(sig, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		/* No core dump of tmem itself for the program's crash. */
		setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
		raise(sig);
		return 128 + sig;
	}
	return WEXITSTATUS(status);
}
