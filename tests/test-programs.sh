#!/bin/sh
# SPDX-License-Identifier: MIT
#
# test-programs.sh - real programs under `tmem run` with budgets far below
# their footprint, and regression programs for patterns that once broke.
# Each program runs once plainly and once under `tmem run --ram SMALL
# --stats-file F.json`, both under `timeout` (a hang is a failure); stdout
# and exit status must be identical, and pages must really have been
# evicted ("pages_compressed" or "refaults" > 0 in F.json), and the
# kernel's peak RSS of the managed run must stay below 1.5 x --ram: far
# below the footprint, the budget not given up.  (test-run.sh holds
# single programs to the documented slack, --ram + 8 MiB; processes that
# fork on a loaded 2-CPU machine pass it by a few MiB now and then.)
#
#   python-pool     python3 multiprocessing.Pool (fork), 150 MiB, --ram 64M
#   python-fork     python3 os.fork() after building 160 MiB, --ram 64M
#   perl-fork       perl: a 150 MiB hash, two forked children, --ram 64M
#   jvm             java -Xmx1g, 400 MiB live, --ram 128M; its peak must
#                   also be under half the plain run's
#   filemap         file windows mapped MAP_FIXED into own reservations
#   mlockall-root   mlockall + 64 MiB, as root, inside a 1 GiB memory cgroup
#   mlockall-user   mlockall + 2 MiB without CAP_IPC_LOCK: same result
#   rlimit-as       the program sets RLIMIT_AS 2 GiB: threads, file mmap,
#                   malloc past the limit fails, then 64 MiB under --ram 32M
#   ulimit-v        `ulimit -v` before tmem run: managed, or a message that
#                   names the address-space limit
#   reserve         a 100 GiB PROT_NONE reservation, 64 MiB used, --ram 32M:
#                   peak within --ram + 8 MiB
#
# usage: test-programs.sh TMEM_BINARY PROGRAMS_BIN_DIR PROGRAMS_SRC_DIR [TEST...]
# With TEST names, runs only those.  Prints "ok NAME" or "FAIL NAME" for
# each, then "N passed, N failed"; exits 1 on failure, 77 when
# userfaultfd is not usable here.
set -u
TMEM=$1
BIN=$2
SRC=$3
shift 3
ONLY=" $* "
TMP=$(mktemp -d /tmp/tmem-test-programs.XXXXXX)
CG=
pass=0
fail=0
SLACK_MB=8 # documented in docs/run.md
MIB=1048576

cleanup() {
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		# only what this script started can be in it
		for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
		sleep 1
		rmdir "$CG" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
skip() { echo "skip $1"; }
want() { [ "$ONLY" = "  " ] || case "$ONLY" in *" $1 "*) true ;; *) false ;; esac; }

json_field() {
	sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1" 2>/dev/null
}

# Skip when userfaultfd is not usable (the same check tmem run makes).
"$TMEM" run --ram 32M -- true 2>"$TMP/probe"
if [ $? -eq 1 ] && grep -q userfaultfd "$TMP/probe"; then
	cat "$TMP/probe"
	echo "0 passed, 0 failed, 1 skipped"
	exit 77
fi

have_time=false
[ -x /usr/bin/time ] && have_time=true

# run_pair NAME RAM SECONDS CMD...: CMD plainly, then under tmem run, each
# under `timeout SECONDS`, with $wrap (a command prefix) before both; the
# statistics go to $jdir.  Sets rc1 rc2 peak1 (bytes, when /usr/bin/time
# is there) peak2 json.
wrap=
jdir=$TMP
run_pair() {
	name=$1
	ram=$2
	secs=$3
	shift 3
	json="$jdir/$name.json"
	rm -f "$json" "$jdir/plain.rss"
	if $have_time; then
		$wrap timeout -k 5 "$secs" /usr/bin/time -f %M -o "$jdir/plain.rss" \
			"$@" >"$TMP/plain.out" 2>"$TMP/plain.err"
	else
		$wrap timeout -k 5 "$secs" "$@" >"$TMP/plain.out" 2>"$TMP/plain.err"
	fi
	rc1=$?
	peak1=$(tail -1 "$jdir/plain.rss" 2>/dev/null | grep -x '[0-9]*')
	[ -n "$peak1" ] && peak1=$((peak1 * 1024))
	t0=$(date +%s)
	$wrap timeout -k 5 "$secs" "$TMEM" run --ram "$ram" --stats-file "$json" \
		-- "$@" >"$TMP/tmem.out" 2>"$TMP/tmem.err"
	rc2=$?
	secs=$(($(date +%s) - t0))
	peak2=$(json_field "$json" kernel_peak_rss_bytes)
}

# why_not WANT_EVICT PEAK_LIMIT_BYTES: prints what is wrong with the last
# run_pair (nothing when all is well).
why_not() {
	if [ $rc2 -eq 124 ] || [ $rc2 -eq 137 ] && [ $rc1 -ne $rc2 ]; then
		echo "managed run hung or was killed (status $rc2, plain $rc1)"
	elif [ $rc1 -ne $rc2 ]; then
		echo "status $rc2, plain $rc1"
	elif ! cmp -s "$TMP/plain.out" "$TMP/tmem.out"; then
		echo "stdout differs"
	elif grep -q Corruption "$TMP/tmem.out"; then
		echo "corruption"
	elif [ ! -s "$json" ]; then
		echo "no statistics (ran unmanaged?)"
	elif [ "$1" = evict ] && [ "$(json_field "$json" pages_compressed)" = 0 ] &&
		[ "$(json_field "$json" refaults)" = 0 ]; then
		echo "nothing was evicted"
	elif [ -n "$2" ] && [ "${peak2:-0}" -gt "$2" ]; then
		echo "peak RSS $((peak2 / MIB)) MiB > $(($2 / MIB)) MiB"
	fi
}

# report NAME WANT_EVICT PEAK_LIMIT_BYTES: ok or FAIL for the last run_pair
report() {
	what=$(why_not "$2" "$3")
	fig="peak $((${peak2:-0} / MIB)) MiB"
	[ -n "$peak1" ] && fig="$fig (plain $((peak1 / MIB)) MiB)"
	fig="$fig, $(json_field "$json" pages_compressed) pages compressed, ${secs}s"
	if [ -z "$what" ]; then
		ok "$1: same output and status ($rc2) under --ram $ram, $fig"
		return 0
	fi
	bad "$1: $what; $fig"
	diff "$TMP/plain.out" "$TMP/tmem.out" | head -5
	grep -v '^$' "$TMP/tmem.err" | head -5
	return 1
}

# same NAME RAM SECONDS CMD...: run_pair, report; peak below 1.5 x RAM
same() {
	run_pair "$@"
	report "$1" evict $(($(echo "$2" | tr -d M) * 3 / 2 * MIB))
}

# --- real programs that fork after allocating ------------------------------
if command -v python3 >/dev/null 2>&1; then
	want python-pool && same python-pool 64M 180 python3 "$SRC/fork_data.py" pool 150
	want python-fork && same python-fork 64M 180 python3 "$SRC/fork_data.py" fork 160
else
	want python-pool && skip "python-pool: no python3"
	want python-fork && skip "python-fork: no python3"
fi
want perl-fork && same perl-fork 64M 180 perl "$SRC/fork_hash.pl" 150

# --- a JVM: its heap must be managed ---------------------------------------
if want jvm; then
	if command -v javac >/dev/null 2>&1 && command -v java >/dev/null 2>&1 &&
		javac -d "$TMP/java" "$SRC/Checksum.java" 2>"$TMP/javac.err"; then
		run_pair jvm 128M 180 java -Xmx1g -cp "$TMP/java" Checksum 400
		# HotSpot commits its heap with MAP_FIXED: managed means
		# evictions and a peak under half the plain run's.
		limit=$((192 * MIB))
		[ -n "$peak1" ] && limit=$((peak1 / 2))
		report jvm evict $limit
	else
		skip "jvm: no java/javac (Debian: default-jdk-headless)"
		head -3 "$TMP/javac.err" 2>/dev/null
	fi
fi

# --- file windows inside the program's own reservations ---------------------
want filemap && same filemap 24M 120 "$BIN/prog-filemap" "$TMP/filemap.dat" 6 48

# --- mlockall ------------------------------------------------------------------
# As root, mlockall once made the kernel populate the whole 256 GiB
# region: run it only inside a memory cgroup capped at 1 GiB, never
# without one.  make_cgroup sets CG (v2, or v1's memory hierarchy).
make_cgroup() {
	[ "$(id -u)" = 0 ] || return 1
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		self=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
		for parent in "$self" /sys/fs/cgroup; do
			CG=$parent/tmem-test-programs-$$
			mkdir "$CG" 2>/dev/null || continue
			if echo $((1 << 30)) >"$CG/memory.max" 2>/dev/null; then
				echo 0 >"$CG/memory.swap.max" 2>/dev/null
				return 0
			fi
			rmdir "$CG"
		done
	elif [ -d /sys/fs/cgroup/memory ]; then
		self=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)
		for parent in "/sys/fs/cgroup/memory$self" /sys/fs/cgroup/memory; do
			CG=$parent/tmem-test-programs-$$
			mkdir "$CG" 2>/dev/null || continue
			if echo $((1 << 30)) >"$CG/memory.limit_in_bytes" 2>/dev/null; then
				echo $((1 << 30)) >"$CG/memory.memsw.limit_in_bytes" 2>/dev/null
				return 0
			fi
			rmdir "$CG"
		done
	fi
	CG=
	return 1
}
# capped CMD...: CMD inside the cgroup (not run at all if it cannot join)
capped() {
	sh -c 'echo $$ >"$0/cgroup.procs" || exit 99; exec "$@"' "$CG" "$@"
}

if want mlockall-root || want mlockall-user; then
	if ! make_cgroup; then
		skip "mlockall: no memory cgroup to cap it in (needs root and cgroup v1 or v2)"
	else
		if want mlockall-root; then
			# mlocked pages are never evicted (docs/run.md): no
			# eviction asked, but no more than the program's memory.
			wrap=capped
			run_pair mlockall-root 32M 60 "$BIN/prog-mlock" 64
			wrap=
			report mlockall-root keep $((256 * MIB))
		fi
		# Without CAP_IPC_LOCK (but with CAP_SYS_PTRACE, so that
		# userfaultfd works whatever vm.unprivileged_userfaultfd says).
		nobody="prlimit --memlock=8388608 setpriv --reuid=65534"
		nobody="$nobody --regid=65534 --clear-groups"
		nobody="$nobody --inh-caps=+sys_ptrace --ambient-caps=+sys_ptrace"
		if want mlockall-user && command -v setpriv >/dev/null 2>&1; then
			u=$TMP/nobody
			mkdir "$u" && chmod 755 "$TMP" && chmod 777 "$u" &&
				cp "$TMEM" "$(dirname "$TMEM")/../preload/libtmem-preload.so" \
					"$BIN/prog-mlock" "$u/" 2>/dev/null
			if $nobody test -x "$u/tmem" -a -r "$u/libtmem-preload.so" \
				-a -x "$u/prog-mlock" 2>/dev/null; then
				save=$TMEM
				TMEM=$u/tmem
				wrap="capped $nobody"
				jdir=$u
				run_pair mlockall-user 32M 60 "$u/prog-mlock" 2
				wrap=
				jdir=$TMP
				TMEM=$save
				report mlockall-user keep $((64 * MIB))
			else
				skip "mlockall-user: cannot run as uid 65534 here"
			fi
		fi
	fi
fi

# --- address-space limits ---------------------------------------------------
want rlimit-as && same rlimit-as 32M 60 "$BIN/prog-rlimit" 2048 64 "$TMP/rlimit.dat"
ulimited() { (ulimit -v 4000000 && exec "$@"); }
if want ulimit-v; then
	# The limit set before tmem run: either the program runs managed
	# (with evictions), or unmanaged after a message naming the limit.
	wrap=ulimited
	run_pair ulimit-v 32M 60 "$BIN/prog-rlimit" 0 64 "$TMP/rlimit.dat"
	wrap=
	msg=$(grep -Ei -m1 'RLIMIT_AS|address.space|ulimit -v' "$TMP/tmem.err")
	if [ -n "$msg" ] && [ $rc1 -eq $rc2 ] && cmp -s "$TMP/plain.out" "$TMP/tmem.out"; then
		ok "ulimit-v: same output and status ($rc2), unmanaged, and says why: $msg"
	else
		report ulimit-v evict $(((32 + SLACK_MB) * MIB))
	fi
fi

# --- a large reservation costs no resident memory -----------------------------
if want reserve; then
	run_pair reserve 32M 60 "$BIN/prog-reserve" 100 64
	report reserve evict $(((32 + SLACK_MB) * MIB))
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
