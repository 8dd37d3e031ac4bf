#!/bin/sh
# SPDX-License-Identifier: MIT
#
# test-patterns.sh - `tmem run` against memory-use patterns of real
# programs that hung or lost data (issue 12; tests/e2e/patterns.c).  Each
# subcommand runs once plainly, where it must print "ok NAME", and once
# under `tmem run --ram <small>`; stdout and exit status must be the same,
# and where the pattern is about evicted data the run must have evicted
# pages.  Every run has a timeout: a hang is a FAIL line, not a stuck
# suite.
#
# usage: test-patterns.sh TMEM_BINARY PATTERNS_BINARY [NAME...]
# (NAME...: only those patterns; PATTERNS_TIMEOUT=SECONDS: the timeout of
# each run, 60 by default)
# Prints "N passed, N failed"; exits 1 on failure, 77 when userfaultfd is
# not usable here.
set -u
TMEM=$1
PROG=$2
shift 2
TMP=$(mktemp -d /tmp/tmem-test-patterns.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
LIMIT=${PATTERNS_TIMEOUT:-60} # seconds a run may take; under 20 when it works

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

# Skip when userfaultfd is not usable (the same check tmem run makes).
"$TMEM" run --ram 32M -- true 2>"$TMP/probe"
if [ $? -eq 1 ] && grep -q userfaultfd "$TMP/probe"; then
	cat "$TMP/probe"
	echo "0 passed, 0 failed, 1 skipped"
	exit 77
fi

# show FILE...: the first lines of those that are not empty
show() {
	for f in "$@"; do
		[ -s "$f" ] && head -3 "$f"
	done
}

json_field() {
	sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1" 2>/dev/null
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# pattern NAME RAM EVICT: EVICT=1 when the run must have evicted pages.
# The figures are the process tmem run started (the parent, for the fork
# patterns: what it evicted before the fork is what the child reads).
pattern() {
	name=$1
	ram=$2
	evict=$3
	dir="$TMP/$name"
	mkdir -p "$dir"
	timeout -k 5 "$LIMIT" "$PROG" "$name" "$dir" \
		</dev/null >"$TMP/plain.out" 2>"$TMP/plain.err"
	rc1=$?
	if [ $rc1 -ne 0 ] || ! grep -q "^ok $name" "$TMP/plain.out"; then
		bad "$name: fails without tmem (rc=$rc1)"
		show "$TMP/plain.out" "$TMP/plain.err"
		return
	fi
	rm -f "$TMP/$name.json"
	t0=$(now_ms)
	timeout -k 5 "$LIMIT" "$TMEM" run --ram "$ram" \
		--stats-file "$TMP/$name.json" -- "$PROG" "$name" "$dir" \
		</dev/null >"$TMP/tmem.out" 2>"$TMP/tmem.err"
	rc2=$?
	secs=$(($(now_ms) - t0))
	secs="$((secs / 1000)).$((secs % 1000 / 100)) s"
	if [ $rc2 -eq 124 ] || [ $rc2 -eq 137 ]; then
		bad "$name: hangs under --ram $ram (killed after $LIMIT s)"
		show "$TMP/tmem.out" "$TMP/tmem.err"
		return
	fi
	evicted=$(json_field "$TMP/$name.json" pages_compressed)
	refaults=$(json_field "$TMP/$name.json" refaults)
	figures="${evicted:-?} pages evicted, ${refaults:-?} refaults, $secs"
	if [ $rc1 -ne $rc2 ] || ! cmp -s "$TMP/plain.out" "$TMP/tmem.out" ||
		grep -q Corruption "$TMP/tmem.out"; then
		bad "$name: plain rc=$rc1, tmem rc=$rc2 under --ram $ram ($figures)"
		diff "$TMP/plain.out" "$TMP/tmem.out" | grep '^[<>]' | head -4
		grep -v '^tmem: the compressed pool' "$TMP/tmem.err" | head -3
	elif ! grep -q '"faults"' "$TMP/$name.json" 2>/dev/null; then
		bad "$name: no --stats-file from tmem run (did the shim run?)"
		show "$TMP/tmem.err"
	elif [ "$evict" = 1 ] && [ "${evicted:-0}" -eq 0 ]; then
		bad "$name: nothing evicted under --ram $ram: the test proves nothing"
	else
		ok "$name: same output and status ($rc2) under --ram $ram ($figures)"
	fi
}

# name ram evict: the fork patterns fill 192 MiB, the pinned-buffer ones
# 32 MiB and push it out with 128 MiB more.
table="
fork-locale 64M 1
fork-thread 64M 1
fixed-file 32M 0
memfd-ring 32M 0
fixed-recommit 48M 1
uring-fixed 64M 1
odirect-preadv 48M 1
fork-underscore 64M 1
fork-syscall 64M 1
fork-clone 64M 1
close-range 64M 1
daemon 64M 1
wipeonfork 32M 0
wipeonfork-evicted 32M 1
dontfork 32M 0
"
for n in "$@"; do
	echo "$table" | grep -q "^$n " || bad "$n: no such pattern"
done
echo "$table" | while read -r name ram evict; do
	[ -n "$name" ] || continue
	if [ $# -gt 0 ]; then
		want=0
		for n in "$@"; do [ "$n" = "$name" ] && want=1; done
		[ $want = 1 ] || continue
	fi
	echo "$name $ram $evict"
done >"$TMP/run-list"
while read -r name ram evict; do
	pattern "$name" "$ram" "$evict"
done <"$TMP/run-list"

# Every subcommand of the program has a line above.
for name in $("$PROG" list); do
	echo "$table" | grep -q "^$name " ||
		bad "$name: in the program but not in this script"
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
