#!/bin/sh
# SPDX-License-Identifier: MIT
#
# test-run.sh - `tmem run` end to end.  Each program runs once plainly and
# once under `tmem run --ram <small>`; stdout and exit status must be
# identical (every program also checks every byte itself and prints
# "Corruption!" on a mismatch).  Then: the budget is held, bad input and
# missing permission give the documented errors, signals and exit codes
# pass through, `tmem stat` reads a live process.
#
# usage: test-run.sh TMEM_RUN_BINARY E2E_BIN_DIR E2E_SRC_DIR
# Prints "N passed, N failed"; exits 1 on failure, 77 when userfaultfd is
# not usable here.
set -u
TMEM=$1
BIN=$2
SRC=$3
TMP=$(mktemp -d /tmp/tmem-test-run.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
SLACK_MB=8 # documented in docs/run.md

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

prog() {
	if [ -x "$BIN/e2e-$1" ]; then echo "$BIN/e2e-$1"; else echo "$BIN/$1"; fi
}

# Skip when userfaultfd is not usable (the same check tmem run makes).
"$TMEM" run --ram 32M -- true 2>"$TMP/probe"
if [ $? -eq 1 ] && grep -q userfaultfd "$TMP/probe"; then
	cat "$TMP/probe"
	echo "0 passed, 0 failed, 1 skipped"
	exit 77
fi

# same NAME RAM CMD... : same stdout and status with and without tmem
same() {
	name=$1
	ram=$2
	shift 2
	"$@" >"$TMP/plain.out" 2>"$TMP/plain.err"
	rc1=$?
	"$TMEM" run --ram "$ram" --stats-file "$TMP/$name.json" -- "$@" \
		>"$TMP/tmem.out" 2>"$TMP/tmem.err"
	rc2=$?
	if [ $rc1 -eq $rc2 ] && cmp -s "$TMP/plain.out" "$TMP/tmem.out" &&
		! grep -q Corruption "$TMP/tmem.out" &&
		grep -q '"faults"' "$TMP/$name.json"; then
		ok "$name: same output and status ($rc2) under --ram $ram"
	else
		bad "$name: plain rc=$rc1, tmem rc=$rc2"
		diff "$TMP/plain.out" "$TMP/tmem.out" | head -5
		head -5 "$TMP/tmem.err"
	fi
}

# expect NAME WANT_RC PATTERN CMD... : exit status and a stderr message
expect() {
	name=$1
	want=$2
	pat=$3
	shift 3
	"$@" >"$TMP/e.out" 2>"$TMP/e.err"
	rc=$?
	if [ $rc -eq "$want" ] && grep -q -- "$pat" "$TMP/e.err"; then
		ok "$name: exit $rc"
	else
		bad "$name: exit $rc, wanted $want and '$pat'"
		head -3 "$TMP/e.err"
	fi
}

json_field() {
	sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1"
}

# --- same behaviour -------------------------------------------------------
same fill-random-passes 48M "$(prog fill)" 128 3 7
# Its last pass reads every page in order: refaults there are read ahead.
ra=$(json_field "$TMP/fill-random-passes.json" readahead_pages)
if [ -n "$ra" ] && [ "$ra" -gt 1000 ]; then
	ok "read-ahead: $ra pages brought in ahead of the final scan"
else
	bad "read-ahead: readahead_pages=${ra:-?} after a sequential pass"
fi
same fill-many-chunks 32M "$(prog fill)" 96 2 11 1
same threads-checksums 48M "$(prog threads)" 64 100000
same fork-and-exec 48M "$(prog forks)" 96
same syscalls-on-evicted 40M "$(prog syscalls)" 48 "$TMP"
same realloc-mremap 32M "$(prog remap)" 96
same perl-interpreter 48M perl "$SRC/build.pl" 200000
if command -v python3 >/dev/null 2>&1; then
	same python-interpreter 48M python3 "$SRC/build.py" 200000
fi
same exit-status 32M sh -c 'echo out; exit 7'

# --- the budget is held ----------------------------------------------------
"$TMEM" run --ram 64M --stats-file "$TMP/budget.json" -- \
	"$(prog fill)" 96 2 3 8 compressible >"$TMP/b.out" 2>"$TMP/b.err"
rc=$?
peak=$(json_field "$TMP/budget.json" kernel_peak_rss_bytes)
limit=$(((64 + SLACK_MB) * 1024 * 1024))
if [ $rc -eq 0 ] && [ -n "$peak" ] && [ "$peak" -le $limit ]; then
	ok "budget: 96 MiB program under --ram 64M peaked at $((peak / 1048576)) MiB"
else
	bad "budget: rc=$rc peak=${peak:-?} bytes > 64M + ${SLACK_MB}M"
	cat "$TMP/b.err" | head -5
fi
# The ratio --stats reports is the pool's at its peak, not what is left at
# exit (the program freed its memory: that once read 0.10 here).
orig=$(json_field "$TMP/budget.json" peak_orig_bytes)
comp=$(json_field "$TMP/budget.json" peak_compressed_bytes)
if [ -n "$orig" ] && [ -n "$comp" ] && [ "$comp" -gt 0 ] &&
	[ "$orig" -ge $((2 * comp)) ] && [ "$orig" -ge $((16 << 20)) ]; then
	ok "ratio: the pool held $((orig / 1048576)) MiB in $((comp / 1048576)) MiB at its peak"
else
	bad "ratio: peak_orig_bytes=${orig:-?} peak_compressed_bytes=${comp:-?}"
fi

# --- errors ------------------------------------------------------------------
expect bad-size 2 "--ram" "$TMEM" run --ram 12Q -- true
expect small-budget 2 "minimum is 16M" "$TMEM" run --ram 8M -- true
expect missing-ram 2 "--ram" "$TMEM" run -- true
expect bad-flag 2 "unknown option" "$TMEM" run --ram 64M --nope -- true
expect bad-compressor 2 "--compressor" "$TMEM" run --ram 64M --compressor xz -- true
expect pool-over-ram 2 "--pool-max" "$TMEM" run --ram 64M --pool-max 1G -- true
expect not-found 127 "not found" "$TMEM" run --ram 64M -- /nonexistent/prog
expect not-executable 126 "permission denied" "$TMEM" run --ram 64M -- "$SRC/build.pl"

# --- signals pass through -----------------------------------------------------
sh -c 'kill -TERM $$'
want=$?
"$TMEM" run --ram 32M -- sh -c 'kill -TERM $$'
rc=$?
if [ $rc -eq $want ]; then ok "signal death re-raised ($rc)"; else bad "signal: $rc != $want"; fi

# --- tmem stat on a live process ------------------------------------------
"$TMEM" run --ram 32M -- "$(prog fill)" 64 40 >/dev/null 2>&1 &
tpid=$!
sleep 1
cpid=$(cat /proc/$tpid/task/$tpid/children 2>/dev/null | tr -d ' ')
if [ -n "$cpid" ] && "$TMEM" stat "$cpid" >"$TMP/stat.out" 2>&1 &&
	grep -q "faults served" "$TMP/stat.out"; then
	ok "tmem stat reads a live process"
else
	bad "tmem stat (child ${cpid:-none})"
	cat "$TMP/stat.out" 2>/dev/null | head -3
fi
wait $tpid
expect stat-not-managed 1 "not running under tmem" "$TMEM" stat 1

# --- missing permission (as an unprivileged user, when that is possible) ----
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 &&
	[ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" = 0 ]; then
	cp "$TMEM" "$TMP/tmem-run" && chmod 755 "$TMP" "$TMP/tmem-run"
	nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
	expect no-permission 1 "vm.unprivileged_userfaultfd=1" \
		$nobody "$TMP/tmem-run" run --ram 32M -- true
	expect fallback 0 "--fallback" $nobody "$TMP/tmem-run" run --ram 32M --fallback -- true
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
