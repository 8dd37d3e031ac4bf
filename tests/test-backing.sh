#!/bin/sh
# SPDX-License-Identifier: MIT
#
# test-backing.sh - `tmem run --backing-file` end to end, on data that does
# not fit the budget even compressed: tests/e2e/backing.c fills 512 MiB
# (every other page random bytes) and verifies every byte over several
# passes.  Run plainly and under `tmem run --ram 64M --backing-file DIR`,
# stdout and exit status must be identical; the kernel's peak RSS must stay
# within the slack docs/run.md gives; the stats must show the file tier at
# work (pages written back and read back, no errors).  While it runs, the
# backing file must be unnamed (no entry in DIR) and mode 0600.  Then: a
# tiny pool (--pool-max 2M), a fork child reading pages its parent wrote
# back, a program that closes every descriptor and dup2()s over tmem's,
# a disk that fills (an 8 MiB tmpfs: pages stay in memory, the error is
# said once), and a PATH that does not exist (its directory is used, the
# name never made).
#
# usage: test-backing.sh TMEM E2E_BACKING_PROGRAM
# Prints "N passed, N failed"; exits 1 on failure, 77 when userfaultfd is
# not usable here.
set -u
TMEM=$1
PROG=$2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tmem-test-backing.XXXXXX")
DIR=$TMP/wb
mkdir "$DIR"
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
SLACK_MB=8 # documented in docs/run.md (Slack)

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

json_field() {
	sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1"
}

# Skip when userfaultfd is not usable (the same check tmem run makes).
"$TMEM" run --ram 32M -- true 2>"$TMP/probe"
if [ $? -eq 1 ] && grep -q userfaultfd "$TMP/probe"; then
	cat "$TMP/probe"
	echo "0 passed, 0 failed, 1 skipped"
	exit 77
fi

# The program's pid under the tmem run whose pid is $1 (waits up to 10 s).
program_pid() {
	for i in $(seq 100); do
		c=$(cat /proc/"$1"/task/"$1"/children 2>/dev/null | tr -d ' ')
		[ -n "$c" ] && { echo "$c"; return 0; }
		sleep 0.1
	done
	return 1
}

# The backing file of process $1, as "mode link-target" lines (waits up
# to 10 s for one to be opened).
backing_fds() {
	for i in $(seq 100); do
		found=
		for fd in /proc/"$1"/fd/*; do
			t=$(readlink "$fd" 2>/dev/null) || continue
			case $t in
			"$DIR"/*)
				echo "$(stat -L -c %a "$fd" 2>/dev/null) $t"
				found=1
				;;
			esac
		done
		[ -n "$found" ] && return 0
		sleep 0.1
	done
	return 1
}

# same NAME ARGS-TO-TMEM-RUN -- PROGRAM-ARGS: same stdout and status.
same() {
	name=$1
	shift
	args=
	while [ "$1" != -- ]; do
		args="$args $1"
		shift
	done
	shift
	"$PROG" "$@" >"$TMP/plain.out" 2>"$TMP/plain.err"
	rc1=$?
	# shellcheck disable=SC2086
	"$TMEM" run $args --stats-file "$TMP/$name.json" -- "$PROG" "$@" \
		>"$TMP/tmem.out" 2>"$TMP/$name.err"
	rc2=$?
	if [ $rc1 -eq 0 ] && [ $rc1 -eq $rc2 ] &&
		cmp -s "$TMP/plain.out" "$TMP/tmem.out" &&
		! grep -q Corruption "$TMP/tmem.out"; then
		ok "$name: same output and status ($rc2):$args"
	else
		bad "$name: plain rc=$rc1, tmem rc=$rc2:$args"
		diff "$TMP/plain.out" "$TMP/tmem.out" | head -5
		head -5 "$TMP/$name.err"
	fi
}

# used NAME: the stats of run NAME show the file tier written and read,
# without errors.
used() {
	j=$TMP/$1.json
	wb=$(json_field "$j" writebacks)
	rd=$(json_field "$j" backing_read_pages)
	on=$(json_field "$j" backing)
	we=$(json_field "$j" backing_write_errors)
	re=$(json_field "$j" backing_read_errors)
	if [ "${on:-0}" -eq 1 ] && [ "${wb:-0}" -gt 0 ] && [ "${rd:-0}" -gt 0 ] &&
		[ "${we:-1}" -eq 0 ] && [ "${re:-1}" -eq 0 ]; then
		ok "$1: $wb pages written back, $rd read back, no errors"
	else
		bad "$1: backing=${on:-?} writebacks=${wb:-?} read back=${rd:-?} errors=${we:-?}/${re:-?}"
	fi
}

# --- 512 MiB, half incompressible, under --ram 64M ----------------------
"$PROG" 512 3 7 >"$TMP/plain.out" 2>"$TMP/plain.err"
rc1=$?
"$TMEM" run --ram 64M --backing-file "$DIR" --stats-file "$TMP/big.json" \
	-- "$PROG" 512 3 7 >"$TMP/tmem.out" 2>"$TMP/big.err" &
tpid=$!
cpid=$(program_pid $tpid)
fds=$(backing_fds "$cpid")
left=$(ls -A "$DIR")
wait $tpid
rc2=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s "$TMP/plain.out" "$TMP/tmem.out" &&
	! grep -q Corruption "$TMP/tmem.out"; then
	ok "512 MiB, half incompressible, under --ram 64M: same output and status"
else
	bad "512 MiB: plain rc=$rc1, tmem rc=$rc2"
	diff "$TMP/plain.out" "$TMP/tmem.out" | head -5
	head -5 "$TMP/big.err"
fi
peak=$(json_field "$TMP/big.json" kernel_peak_rss_bytes)
limit=$(((64 + SLACK_MB) * 1024 * 1024))
if [ -n "$peak" ] && [ "$peak" -gt 0 ] && [ "$peak" -le $limit ]; then
	ok "budget: peak $((peak / 1048576)) MiB <= 64M + ${SLACK_MB}M for 512 MiB of data"
else
	bad "budget: peak=${peak:-?} bytes > 64M + ${SLACK_MB}M"
	grep tmem: "$TMP/big.err" | head -5
fi
used big
if ! grep -q "budget exceeded\|cannot" "$TMP/big.err"; then
	ok "no budget or backing file message"
else
	bad "messages: $(head -3 "$TMP/big.err")"
fi
# The backing file: open in DIR, unnamed, mode 0600.
if [ -n "$fds" ] && [ -z "$left" ] &&
	! echo "$fds" | grep -qv '^600 .* (deleted)$'; then
	ok "the backing file is unnamed and 0600: $fds"
else
	bad "backing file: fds '${fds:-none}', in $DIR: '${left}'"
fi
if [ -z "$(ls -A "$DIR")" ]; then
	ok "nothing is left in the backing directory"
else
	bad "left in $DIR: $(ls -A "$DIR")"
fi

# --- a tiny pool: nearly every page goes to the file ----------------------
same tiny-pool --ram 32M --pool-max 2M --backing-file "$DIR" -- 96 3 11
used tiny-pool

# --- a fork child reads the pages its parent wrote back -------------------
same fork --ram 32M --pool-max 8M --backing-file "$DIR" -- 96 3 5 fork
used fork

# --- a program that closes every descriptor, then dup2()s over the rest --
same close-all --ram 32M --pool-max 8M --backing-file "$DIR" -- 64 2 9 closeall
used close-all

# --- the disk fills: nothing is lost, the budget gives, said once --------
# (an 8 MiB tmpfs in a mount namespace of its own, when root may make one)
if [ "$(id -u)" -eq 0 ] && mkdir "$TMP/small" &&
	unshare -m sh -c 'mount -t tmpfs -o size=8M tmem-test "$1"' sh "$TMP/small" 2>/dev/null; then
	"$PROG" 64 2 3 >"$TMP/plain.out" 2>/dev/null
	rc1=$?
	unshare -m sh -c 'mount -t tmpfs -o size=8M tmem-test "$1" || exit 99
		shift; exec "$@"' sh "$TMP/small" "$TMEM" run --ram 32M --pool-max 8M \
		--backing-file "$TMP/small" --stats-file "$TMP/full.json" -- \
		"$PROG" 64 2 3 >"$TMP/tmem.out" 2>"$TMP/full.err"
	rc2=$?
	we=$(json_field "$TMP/full.json" backing_write_errors)
	said=$(grep -c "writing the backing file failed: No space left on device" "$TMP/full.err")
	if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s "$TMP/plain.out" "$TMP/tmem.out" &&
		[ "${we:-0}" -gt 0 ] && [ "$said" -eq 1 ]; then
		ok "full disk: same output, $we failed writes, said once"
	else
		bad "full disk: rc $rc1/$rc2, write errors ${we:-?}, said $said times"
		head -5 "$TMP/full.err"
	fi
else
	echo "skip full disk: cannot mount a small tmpfs here"
fi

# --- a PATH that does not exist: its directory holds the file ------------
same new-path --ram 32M --backing-file "$DIR/not-made" -- 64 2 3
if [ ! -e "$DIR/not-made" ] && [ -z "$(ls -A "$DIR")" ]; then
	ok "new-path: $DIR/not-made was never made"
else
	bad "new-path: left in $DIR: $(ls -A "$DIR")"
fi
used new-path

# --- an interpreter with the default pool limit ---------------------------
# python's own text, libraries and unmanaged heap take ~16 MiB, and the
# pool may grow to 3/4 of --ram: together more than the budget.  When
# nothing resident can be evicted, the evictor must write the pool's
# coldest pages to the file (without that, the run peaked at 80-90 MiB
# and said it could not hold the budget).
if command -v python3 >/dev/null; then
	cat >"$TMP/fill.py" <<'PY'
import hashlib, random
random.seed(1)
a = [random.randbytes(4096) if i % 2 else (b"row %d " % i) * 400
     for i in range(60000)]
h = hashlib.sha256()
for p in range(2):
    for x in a:
        h.update(x)
print(h.hexdigest())
PY
	python3 "$TMP/fill.py" >"$TMP/plain.out"
	rc1=$?
	"$TMEM" run --ram 64M --backing-file "$DIR" --stats-file "$TMP/py.json" \
		-- python3 "$TMP/fill.py" >"$TMP/tmem.out" 2>"$TMP/py.err"
	rc2=$?
	peak=$(json_field "$TMP/py.json" kernel_peak_rss_bytes)
	if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s "$TMP/plain.out" "$TMP/tmem.out" &&
		[ -n "$peak" ] && [ "$peak" -le $limit ] &&
		! grep -q "cannot hold" "$TMP/py.err"; then
		ok "python, 234 MiB under --ram 64M: same output, peak $((peak / 1048576)) MiB"
	else
		bad "python: rc $rc1/$rc2, peak ${peak:-?} bytes (limit $limit)"
		head -3 "$TMP/py.err"
	fi
	used py
else
	echo "skip python: no python3"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
