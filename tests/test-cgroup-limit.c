// SPDX-License-Identifier: MIT
/*
 * test-cgroup-limit.c - the cgroup memory limit behind `tmem run --ram
 * auto` (tools/cgroup-limit.c), on fake trees: a /proc/self/cgroup, a
 * mountinfo and the cgroup files, built in a temporary directory for
 * cgroup v2, v1, hybrid machines and containers; the limit and the file
 * it came from are checked byte for byte.  One check reads this machine.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-limit.h"
#include "harness.h"

#define MiB (1ull << 20)

/* Other mounts every fake mountinfo has, to be skipped. */
#define MNT_OTHERS                                                             \
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"              \
	"23 22 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc "   \
	"proc rw\n"

/* cgroup v2 as systemd mounts it. */
#define MNT_V2                                                                 \
	MNT_OTHERS "30 22 0:26 / /sys/fs/cgroup "                              \
		   "rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 "       \
		   "cgroup2 rw,nsdelegate,memory_recursiveprot\n"

/* A hybrid machine like the test VM: v1 controllers plus .../unified. */
#define MNT_HYBRID                                                             \
	MNT_OTHERS                                                             \
	"30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"  \
	"31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" \
	"34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup "      \
	"rw,memory\n"                                                          \
	"39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "     \
	"rw,name=systemd\n"                                                    \
	"40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 "   \
	"rw\n"

#define V1_UNLIMITED "9223372036854771712\n"

static char tmp[PATH_MAX]; /* the test's directory */
static char cur[PATH_MAX]; /* the current fake tree, also the root prefix */
static int trees;

/* @buf (PATH_MAX bytes) = @a @b: paths in the fake trees. */
static void join(char *buf, const char *a, const char *b)
{
	if ((size_t)snprintf(buf, PATH_MAX, "%s%s", a, b) >= PATH_MAX) {
		fprintf(stderr, "path too long: %s%s\n", a, b);
		exit(1);
	}
}

/* Start a new, empty fake tree. */
static void tree(void)
{
	char name[32];

	snprintf(name, sizeof(name), "/t%d", ++trees);
	join(cur, tmp, name);
	mkdir(cur, 0755);
}

/* Write @text to @rel in the tree, making the directories on the way. */
static void put(const char *rel, const char *text)
{
	char path[PATH_MAX];
	size_t n;
	FILE *f;

	join(path, cur, rel);
	n = strlen(path);
	for (size_t i = strlen(cur) + 1; i < n; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		mkdir(path, 0755);
		path[i] = '/';
	}
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* Make directory @rel in the tree, with its parents. */
static void dir(const char *rel)
{
	char file[PATH_MAX], path[PATH_MAX];

	join(file, rel, "/x");
	put(file, "");
	join(path, cur, file);
	unlink(path);
}

/*
 * The limit of the current tree must be @ret and @limit, from the file
 * @where in the tree (NULL: @where must be "").
 */
static void expect_at(int line, int ret, uint64_t limit, const char *where)
{
	char pc[PATH_MAX], mi[PATH_MAX], got[PATH_MAX], want[PATH_MAX];
	uint64_t v = 12345;
	int r;

	join(pc, cur, "/proc-self-cgroup");
	join(mi, cur, "/mountinfo");
	memset(got, 'x', sizeof(got));
	r = cgroup_memory_limit_at(pc, mi, cur, &v, got, sizeof(got));
	join(want, where ? cur : "", where ? where : "");
	if (r != ret || (!r && v != limit) || strcmp(got, want))
		fprintf(stderr,
			"  line %d: got %d, %" PRIu64 ", '%s'; want %d, "
			"%" PRIu64 ", '%s'\n",
			line, r, v, got, ret, limit, want);
	CHECK_EQ(r, ret);
	if (!ret)
		CHECK_EQ(v, limit);
	else
		CHECK_EQ(v, 12345); /* untouched on failure */
	CHECK_MEM_EQ(got, want, strlen(want) + 1);
}

#define expect(ret, limit, where) expect_at(__LINE__, ret, limit, where)

static void test_v2_limit(void)
{
	tree();
	put("/proc-self-cgroup", "0::/user.slice/app.scope\n");
	put("/mountinfo", MNT_V2);
	put("/sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n");
	put("/sys/fs/cgroup/user.slice/memory.max", "max\n");
	put("/sys/fs/cgroup/user.slice/app.scope/memory.max", "536870912\n");
	expect(0, 512 * MiB, "/sys/fs/cgroup/user.slice/app.scope/memory.max");
}

static void test_v2_max(void)
{
	tree();
	put("/proc-self-cgroup", "0::/user.slice/app.scope\n");
	put("/mountinfo", MNT_V2);
	put("/sys/fs/cgroup/user.slice/memory.max", "max\n");
	put("/sys/fs/cgroup/user.slice/app.scope/memory.max", "max\n");
	expect(-ENOENT, 0, "/sys/fs/cgroup/user.slice/app.scope/memory.max");
}

static void test_v2_parent(void)
{
	tree();
	put("/proc-self-cgroup", "0::/kubepods/pod1/ctr\n");
	put("/mountinfo", MNT_V2);
	put("/sys/fs/cgroup/kubepods/memory.max", "1073741824\n");
	put("/sys/fs/cgroup/kubepods/pod1/memory.max", "268435456\n");
	put("/sys/fs/cgroup/kubepods/pod1/ctr/memory.max", "max\n");
	expect(0, 256 * MiB, "/sys/fs/cgroup/kubepods/pod1/memory.max");

	/* A group without the controller is charged to its ancestor. */
	tree();
	put("/proc-self-cgroup", "0::/a/b/c\n");
	put("/mountinfo", MNT_V2);
	put("/sys/fs/cgroup/a/memory.max", "104857600\n");
	dir("/sys/fs/cgroup/a/b/c");
	expect(0, 100 * MiB, "/sys/fs/cgroup/a/memory.max");
}

static void test_v1_limit(void)
{
	tree();
	put("/proc-self-cgroup", "5:devices:/docker/abc\n"
				 "4:memory:/docker/abc\n"
				 "1:name=systemd:/docker/abc\n");
	put("/mountinfo", MNT_OTHERS
	    "34 22 0:31 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup "
	    "rw,memory\n");
	put("/sys/fs/cgroup/memory/memory.limit_in_bytes", V1_UNLIMITED);
	put("/sys/fs/cgroup/memory/docker/memory.limit_in_bytes", V1_UNLIMITED);
	put("/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
	    "268435456\n");
	expect(0, 256 * MiB,
	       "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes");

	/* Controllers sharing a hierarchy; "memory" only as a whole word. */
	tree();
	put("/proc-self-cgroup", "6:memoryx:/no\n"
				 "3:cpu,memory:/job\n");
	put("/mountinfo", MNT_OTHERS
	    "33 22 0:30 / /cg/mx rw - cgroup cgroup rw,memoryx\n"
	    "34 22 0:31 / /cg/cpu\\040mem rw - cgroup cgroup rw,cpu,memory\n");
	put("/cg/mx/no/memory.limit_in_bytes", "4096\n");
	put("/cg/cpu mem/memory.limit_in_bytes", V1_UNLIMITED);
	put("/cg/cpu mem/job/memory.limit_in_bytes", "67108864\n");
	expect(0, 64 * MiB, "/cg/cpu mem/job/memory.limit_in_bytes");

	/* Two mounts of the hierarchy: the one that holds our group. */
	tree();
	put("/proc-self-cgroup", "4:memory:/job\n");
	put("/mountinfo", MNT_OTHERS
	    "33 22 0:31 /other /mnt/other rw - cgroup cgroup rw,memory\n"
	    "34 22 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
	put("/mnt/other/memory.limit_in_bytes", "4096\n");
	put("/mnt/other/job/memory.limit_in_bytes", "4096\n");
	put("/sys/fs/cgroup/memory/job/memory.limit_in_bytes", "8388608\n");
	expect(0, 8 * MiB, "/sys/fs/cgroup/memory/job/memory.limit_in_bytes");
}

static void test_v1_unlimited(void)
{
	tree();
	put("/proc-self-cgroup", "4:memory:/user/1000\n0::/\n");
	put("/mountinfo", MNT_HYBRID);
	put("/sys/fs/cgroup/memory/memory.limit_in_bytes", V1_UNLIMITED);
	put("/sys/fs/cgroup/memory/user/memory.limit_in_bytes", V1_UNLIMITED);
	put("/sys/fs/cgroup/memory/user/1000/memory.limit_in_bytes",
	    "1152921504606846976\n"); /* 1 << 60: unlimited too */
	put("/sys/fs/cgroup/unified/memory.pressure", "");
	expect(-ENOENT, 0,
	       "/sys/fs/cgroup/memory/user/1000/memory.limit_in_bytes");
}

static void test_hybrid(void)
{
	tree();
	put("/proc-self-cgroup", "9:name=systemd:/\n"
				 "4:memory:/process_api/960f\n"
				 "1:cpu:/\n"
				 "0::/\n");
	put("/mountinfo", MNT_HYBRID);
	put("/sys/fs/cgroup/memory/memory.limit_in_bytes", V1_UNLIMITED);
	put("/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes",
	    "2147483648\n");
	put("/sys/fs/cgroup/memory/process_api/960f/memory.limit_in_bytes",
	    V1_UNLIMITED);
	put("/sys/fs/cgroup/unified/memory.pressure", "");
	put("/sys/fs/cgroup/cpu/memory.limit_in_bytes", "4096\n"); /* decoy */
	expect(0, 2048 * MiB,
	       "/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes");

	/* The other way round: v1 has only cpu, memory is in cgroup2. */
	tree();
	put("/proc-self-cgroup", "1:cpu:/\n0::/svc\n");
	put("/mountinfo", MNT_OTHERS
	    "31 22 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
	    "40 22 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
	put("/sys/fs/cgroup/unified/svc/memory.max", "33554432\n");
	expect(0, 32 * MiB, "/sys/fs/cgroup/unified/svc/memory.max");
}

static void test_container(void)
{
	/* cgroup namespace: we see "/", the mount is our own group. */
	tree();
	put("/proc-self-cgroup", "0::/\n");
	put("/mountinfo",
	    MNT_OTHERS "30 22 0:26 / /sys/fs/cgroup ro,nosuid - cgroup2 "
		       "cgroup rw\n");
	put("/sys/fs/cgroup/memory.max", "805306368\n");
	expect(0, 768 * MiB, "/sys/fs/cgroup/memory.max");

	/* No namespace: the host's path, our group bind-mounted (root). */
	tree();
	put("/proc-self-cgroup", "4:memory:/docker/abc\n");
	put("/mountinfo",
	    MNT_OTHERS "34 22 0:31 /docker/abc /sys/fs/cgroup/memory ro - "
		       "cgroup cgroup rw,memory\n");
	put("/sys/fs/cgroup/memory/memory.limit_in_bytes", "134217728\n");
	expect(0, 128 * MiB, "/sys/fs/cgroup/memory/memory.limit_in_bytes");

	/* A parent bind-mounted: the group is below the mount's root. */
	tree();
	put("/proc-self-cgroup", "4:memory:/kubepods/pod1\n");
	put("/mountinfo",
	    MNT_OTHERS "34 22 0:31 /kubepods /sys/fs/cgroup/memory ro - "
		       "cgroup cgroup rw,memory\n");
	put("/sys/fs/cgroup/memory/memory.limit_in_bytes", "1073741824\n");
	put("/sys/fs/cgroup/memory/pod1/memory.limit_in_bytes", "268435456\n");
	expect(0, 256 * MiB,
	       "/sys/fs/cgroup/memory/pod1/memory.limit_in_bytes");

	/*
	 * The group is not in the mount at all: the mount's root, not a
	 * group that happens to have the name of an ancestor of ours.
	 */
	tree();
	put("/proc-self-cgroup", "0::/kubepods/burstable/pod1/ctr\n");
	put("/mountinfo", MNT_V2);
	put("/sys/fs/cgroup/memory.max", "419430400\n");
	put("/sys/fs/cgroup/kubepods/memory.max", "104857600\n");
	expect(0, 400 * MiB, "/sys/fs/cgroup/memory.max");
}

static void test_no_controller(void)
{
	/* v2 without memory enabled anywhere. */
	tree();
	put("/proc-self-cgroup", "0::/user.slice\n");
	put("/mountinfo", MNT_V2);
	put("/sys/fs/cgroup/cgroup.controllers", "cpu io pids\n");
	put("/sys/fs/cgroup/user.slice/memory.pressure", "");
	expect(-ENOENT, 0, NULL);

	/* A memory line but no memory mount, and no cgroup mount at all. */
	tree();
	put("/proc-self-cgroup", "4:memory:/x\n0::/x\n");
	put("/mountinfo", MNT_OTHERS);
	expect(-ENOENT, 0, NULL);

	/* No cgroups in the kernel: no /proc/self/cgroup. */
	tree();
	put("/mountinfo", MNT_V2);
	expect(-ENOENT, 0, "/proc-self-cgroup");
}

static void test_garbage(void)
{
	static const char *const bad[] = {
		"",
		"\n",
		"12abc\n",
		"-1\n",
		" 4096\n",
		"4096\n\n",
		"maximum\n",
		"99999999999999999999999\n",
		/* longer than any limit file */
		("1234567890123456789012345678901234567890123456789012345678901234"
		 "567890\n"),
		("0000000000000000000000000000000000000000000000000000000000000000"
		 "4096\n"),
	};

	for (size_t i = 0; i < TM_N(bad); i++) {
		tree();
		put("/proc-self-cgroup", "0::/a\n");
		put("/mountinfo", MNT_V2);
		put("/sys/fs/cgroup/memory.max", "max\n");
		put("/sys/fs/cgroup/a/memory.max", bad[i]);
		expect(-EINVAL, 0, "/sys/fs/cgroup/a/memory.max");
	}

	/* A parent's garbage is an error too, not a skipped level. */
	tree();
	put("/proc-self-cgroup", "4:memory:/a/b\n");
	put("/mountinfo", MNT_HYBRID);
	put("/sys/fs/cgroup/memory/a/memory.limit_in_bytes", "lots\n");
	put("/sys/fs/cgroup/memory/a/b/memory.limit_in_bytes", "4194304\n");
	expect(-EINVAL, 0, "/sys/fs/cgroup/memory/a/memory.limit_in_bytes");

	/* A limit "file" that cannot be read. */
	tree();
	put("/proc-self-cgroup", "0::/a\n");
	put("/mountinfo", MNT_V2);
	dir("/sys/fs/cgroup/a/memory.max");
	expect(-EISDIR, 0, "/sys/fs/cgroup/a/memory.max");
}

static void test_where_short(void)
{
	char pc[PATH_MAX], mi[PATH_MAX], got[8];
	uint64_t v = 0;

	tree();
	put("/proc-self-cgroup", "0::/\n");
	put("/mountinfo", MNT_V2);
	put("/sys/fs/cgroup/memory.max", "65536\n");
	join(pc, cur, "/proc-self-cgroup");
	join(mi, cur, "/mountinfo");
	memset(got, 'x', sizeof(got));
	CHECK_EQ(cgroup_memory_limit_at(pc, mi, cur, &v, got, 4), 0);
	CHECK_EQ(v, 65536);
	CHECK_MEM_EQ(got, cur, 3);
	CHECK_EQ(got[3], '\0');
	CHECK_EQ(got[4], 'x');
	v = 0;
	CHECK_EQ(cgroup_memory_limit_at(pc, mi, cur, &v, NULL, 0), 0);
	CHECK_EQ(v, 65536);
	CHECK_EQ(cgroup_memory_limit_at(pc, mi, cur, NULL, NULL, 0), -EINVAL);
}

static void test_budget(void)
{
	static const struct {
		uint64_t limit, budget;
	} cases[] = {
		{ 0, 0 },
		{ 16 * MiB, 0 },
		{ 48 * MiB - 1, 0 },
		{ 48 * MiB, 16 * MiB }, /* the 32 MiB floor of the margin */
		{ 64 * MiB, 32 * MiB },
		{ 256 * MiB, 224 * MiB }, /* where 1/8 reaches 32 MiB */
		{ 512 * MiB, 448 * MiB },
		{ 8192 * MiB, 7168 * MiB },
		{ CGROUP_UNLIMITED - 8,
		  CGROUP_UNLIMITED - 8 - (1ull << 57) + 1 },
	};

	for (size_t i = 0; i < TM_N(cases); i++) {
		if (cgroup_auto_budget(cases[i].limit) != cases[i].budget)
			fprintf(stderr, "  limit %" PRIu64 "\n",
				cases[i].limit);
		CHECK_EQ(cgroup_auto_budget(cases[i].limit), cases[i].budget);
	}
}

static void test_this_machine(void)
{
	char where[PATH_MAX];
	uint64_t v = 0;
	int r;

	SKIP_IF(access("/proc/self/cgroup", R_OK), "no /proc/self/cgroup");
	r = cgroup_memory_limit(&v, where, sizeof(where));
	fprintf(stderr, "  this machine: %d (%s), %" PRIu64 " from '%s'\n", r,
		r ? strerror(-r) : "a limit", v, where);
	CHECK(r == 0 || r == -ENOENT);
	if (!r) {
		CHECK(v < CGROUP_UNLIMITED);
		CHECK(where[0] == '/');
	}
}

static int rm(const char *path, const struct stat *st, int flag,
	      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/test-cgroup-limit.XXXXXX");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_v2_limit, "v2: the group's memory.max, from its file");
	RUN(test_v2_max, "v2: max at every level is no limit (-ENOENT)");
	RUN(test_v2_parent, "v2: a tighter ancestor's limit wins");
	RUN(test_v1_limit, "v1: memory.limit_in_bytes of the memory mount");
	RUN(test_v1_unlimited, "v1: the huge unlimited value is no limit");
	RUN(test_hybrid, "hybrid: the hierarchy with the memory controller");
	RUN(test_container, "container: the mount's root stands for the group");
	RUN(test_no_controller, "no memory controller is no limit (-ENOENT)");
	RUN(test_garbage, "garbage in a limit file is -EINVAL, not a number");
	RUN(test_where_short, "a short @where is cut and NUL-terminated");
	RUN(test_budget, "the auto budget keeps max(limit/8, 32 MiB) back");
	RUN(test_this_machine, "this machine: 0 or -ENOENT, nothing else");
	nftw(tmp, rm, 16, FTW_DEPTH | FTW_PHYS);
	return th_finish();
}
