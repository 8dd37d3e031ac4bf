#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-cli.sh TMEM - the tmem command as a user meets it: exit statuses and
# messages for bad command lines, help and version, `tmem estimate` on a
# process this script starts and on page files it makes, `tmem bench store
# --json`, and page files that must be refused.
#
# The page files are generated here with perl (no fixture files): a mix of
# same-filled, duplicate, text-like and random pages whose counts are known,
# so the JSON figures are checked exactly, not only for being numbers.
# The zstd variant is written by hand as frames of raw blocks, which any
# zstd decoder must accept, so the test needs no zstd program.
#
# Prints "N passed, N failed" (", N skipped") and exits 1 on any failure,
# 77 if everything was skipped.
set -u

TMEM=${1:?usage: test-cli.sh PATH-TO-tmem}
tmp=$(mktemp -d)
child=
cleanup() {
	# bash 5.2 has been seen running this in a $(...) subshell, as a
	# background job of ours ended: only the script itself cleans up
	[ "$BASHPID" = "$$" ] || return 0
	[ -n "$child" ] && kill "$child" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

passed=0 failed=0 skipped=0
out=$tmp/out err=$tmp/err rc=0

# test NAME FUNCTION: run FUNCTION, which returns 0 (pass), 77 (skip) or
# anything else (fail) and explains a failure on stderr.
test_case() {
	local name=$1 r
	shift
	"$@"
	r=$?
	if [ $r -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok:   $name"
	elif [ $r -eq 77 ]; then
		skipped=$((skipped + 1))
		echo "skip: $name"
	else
		failed=$((failed + 1))
		echo "FAIL: $name"
		echo "  stdout: $(head -c 600 "$out")"
		echo "  stderr: $(head -c 600 "$err")"
	fi
}

run() {
	"$TMEM" "$@" >"$out" 2>"$err"
	rc=$?
}

say() { echo "  $*"; }

# json EXPR: evaluate the perl expression EXPR with $j the JSON object
# printed on stdout; num(x) is true for a JSON number.
json() {
	perl -MJSON::PP -e '
		sub num { defined $_[0] && !ref $_[0] &&
			  $_[0] =~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/ }
		local $/; my $t = <STDIN>;
		our $j = eval { decode_json($t) };
		if (!$j) { print "  not one JSON object\n"; exit 1 }
		my $r = eval $ARGV[0];
		die $@ if $@;
		exit($r ? 0 : 1)' "$1" <"$out" || { say "JSON check failed: $1"; return 1; }
}

# expect_usage WORD ARGS...: exit status 2, one line naming WORD, the hint.
expect_usage() {
	local word=$1
	shift
	run "$@"
	[ $rc -eq 2 ] || { say "exit status $rc, not 2"; return 1; }
	grep -q -e "$word" "$err" || { say "stderr does not name $word"; return 1; }
	grep -q "Try 'tmem" "$err" || { say "no Try 'tmem ... --help'"; return 1; }
	[ ! -s "$out" ] || { say "something on stdout"; return 1; }
}

# expect_fail WORD ARGS...: exit status 1 and a message containing WORD.
expect_fail() {
	local word=$1
	shift
	run "$@"
	[ $rc -eq 1 ] || { say "exit status $rc, not 1"; return 1; }
	grep -q -e "$word" "$err" || { say "stderr does not say '$word'"; return 1; }
}

# ---------------------------------------------------------------------
# Page files
# ---------------------------------------------------------------------

# 300 pages: 30 zero pages (same-filled), 30 copies of one page (29 of them
# duplicates), 30 random pages, 210 text-like pages that differ.
NPAGES=300 NSAME=30 NDUP=29
perl -e '
	srand(7);
	for my $i (0 .. 299) {
		my $k = $i % 10;
		if ($k == 0) { print "\0" x 4096; next }
		if ($k == 1) { print pack("C*", map { int rand 256 } 1 .. 4096); next }
		my $s = "";
		my $n = 0;
		while (length($s) < 4096) {
			$s .= $k == 2 ? "the same page, again and again\n" :
			      "order $i-$n customer " . int(rand 1000) . " total " . ($n * 7 % 97) . "\n";
			$n++;
		}
		print substr($s, 0, 4096);
	}' >"$tmp/mix.pages"

# zstd FILE...: FILE's bytes as one zstd frame each (raw blocks), concatenated.
zstd_frames() {
	perl -e '
		for my $f (@ARGV) {
			open(my $h, "<", $f) or die; binmode $h;
			local $/; my $d = <$h>; my $n = length $d;
			# magic; single segment, 4-byte content size; no checksum
			print pack("V", 0xFD2FB528), pack("C", 0xA0), pack("V", $n);
			for (my $o = 0; $o < $n; $o += 131072) {
				my $len = $n - $o < 131072 ? $n - $o : 131072;
				my $hd = ($o + $len >= $n ? 1 : 0) | ($len << 3);
				print pack("C3", $hd & 255, ($hd >> 8) & 255, $hd >> 16),
				      substr($d, $o, $len);
			}
		}' "$@"
}
zstd_frames "$tmp/mix.pages" >"$tmp/mix.pages.zst"
zstd_frames "$tmp/mix.pages" "$tmp/mix.pages" >"$tmp/twice.pages.zst"
head -c $((5 * 4096 + 100)) "$tmp/mix.pages" >"$tmp/cut.pages"
: >"$tmp/empty.pages"
head -c 20000 "$tmp/mix.pages.zst" >"$tmp/cut.pages.zst"

# ---------------------------------------------------------------------
# Help and version
# ---------------------------------------------------------------------

t_help() {
	run --help
	[ $rc -eq 0 ] && grep -q estimate "$out" && grep -q bench "$out" &&
		grep -q run "$out" && grep -q stat "$out" || return 1
	run help
	[ $rc -eq 0 ] && grep -q estimate "$out"
}
t_cmd_help() {
	run estimate --help
	[ $rc -eq 0 ] && grep -q -- --pages "$out" && grep -q -- --save "$out" || return 1
	# Tunable flags come from the library's table.
	grep -q -- --compressor "$out" && grep -q -- --zstd-level "$out" &&
		grep -q -- --pool-max "$out" || { say "tunable flags missing"; return 1; }
	run help estimate
	[ $rc -eq 0 ] && grep -q -- --pages "$out" || return 1
	run bench store --help
	[ $rc -eq 0 ] && grep -q -- --corpus "$out" && grep -q -- --vs-zram "$out" || return 1
	run bench --help
	[ $rc -eq 0 ] && grep -q store "$out" || return 1
	run run --help
	[ $rc -eq 0 ] && grep -q -- --ram "$out" && grep -q -- --fallback "$out" || return 1
	grep -q -- "--pool-max SIZE .* 1M to --ram" "$out" || { say "run --help: no --pool-max bounds"; return 1; }
	grep -q "tmem stat PID" "$out" && grep -q "removes at exit" "$out" || return 1
	run help stat
	[ $rc -eq 0 ] && grep -q -- --json "$out" || return 1
	grep -q "Exits 1 if PID has exited" "$out" || { say "stat --help: exit status not said"; return 1; }
	run stat -h
	[ $rc -eq 0 ] && grep -q PID "$out"
}
t_version() {
	run --version
	[ $rc -eq 0 ] && grep -Eq '^tmem [0-9]+\.[0-9]+\.[0-9]+$' "$out"
}
test_case "--help and 'help' list the commands, exit 0" t_help
test_case "COMMAND --help shows its flags, tunables included, exit 0" t_cmd_help
test_case "--version prints 'tmem X.Y.Z', exit 0" t_version

# ---------------------------------------------------------------------
# Bad command lines: exit 2, the flag named
# ---------------------------------------------------------------------

test_case "no command is a usage error" expect_usage command
test_case "unknown command is named" expect_usage nosuchcmd nosuchcmd
test_case "unknown flag is named" expect_usage --bogus estimate --bogus 1
test_case "flag without its value is named" expect_usage --pages estimate --pages
test_case "value given to a plain flag is refused" expect_usage --json estimate --json=1 1
test_case "out-of-range tunable names the flag and its bounds" \
	expect_usage "--zstd-level: 25 is out of range [0-9]*\.\.[0-9]" estimate --zstd-level 25 1
test_case "bad size names the flag" expect_usage --pool-max estimate --pool-max 12Q 1
test_case "unknown compressor names the flag and the choices" \
	expect_usage "--compressor: 'foo' is not one of .*lz4" estimate --compressor foo 1
test_case "bad process id is refused" expect_usage PID estimate 12ab
test_case "estimate needs a PID or --pages" expect_usage --pages estimate
test_case "estimate takes a PID or --pages, not both" expect_usage "not both" estimate 1 --pages "$tmp/mix.pages"
t_env() {
	TMEM_COMPRESSOR=foo "$TMEM" estimate 1 >"$out" 2>"$err"
	rc=$?
	[ $rc -eq 2 ] && grep -q TMEM_COMPRESSOR "$err"
}
test_case "bad TMEM_<NAME> variable names it, exit 2" t_env
test_case "bench needs a benchmark name" expect_usage store bench
test_case "unknown benchmark is named" expect_usage nosuch bench nosuch
test_case "bench store needs --corpus" expect_usage --corpus bench store
test_case "--threads 0 is out of range" expect_usage --threads bench store --corpus "$tmp/mix.pages" --threads 0
test_case "--repeat must be a number" expect_usage --repeat bench store --corpus "$tmp/mix.pages" --repeat x
test_case "stray argument to bench store is named" expect_usage extra bench store --corpus "$tmp/mix.pages" extra

# tmem run and tmem stat check their command line before anything else, so
# these need no userfaultfd.
test_case "run --ram 0 is below the minimum, not missing" \
	expect_usage "--ram 0 is too small: the minimum is 16M" run --ram 0 -- true
test_case "run without --ram says it is required" expect_usage "--ram SIZE is required" run -- true
test_case "run --pool-max 1K is below the minimum 1M" \
	expect_usage "--pool-max 1K is too small: the minimum is 1M" run --ram 32M --pool-max 1K -- true
test_case "run --pool-max 0 is refused, not the default" \
	expect_usage "--pool-max 0 is too small: the minimum is 1M" run --ram 32M --pool-max 0 -- true
test_case "run --pool-max above --ram is refused" expect_usage --pool-max run --ram 32M --pool-max 64M -- true
test_case "run: a plain flag given a value is named" \
	expect_usage "'--stats=1' takes no value" run --ram 32M --stats=1 -- true
test_case "run: an unknown short flag is named, not said to need a value" \
	expect_usage "unknown option '-x'" run --ram 32M -x -- true
test_case "run: an unknown long flag is named" expect_usage --nope run --ram 32M --nope -- true
test_case "run: a flag without its value is named" expect_usage "'--stats-file' needs a value" run --ram 32M --stats-file
test_case "run: a bad compressor names the flag" expect_usage --compressor run --ram 32M --compressor xz -- true
test_case "run needs a program" expect_usage "no program" run --ram 32M

# --backing-file is checked before the program starts (which would print
# "started": expect_usage wants nothing on stdout).
mkdir "$tmp/wb" && : >"$tmp/wb/plain-file"
test_case "run --backing-file in a missing directory: exit 2, named" \
	expect_usage "$tmp/nodir/x: does not exist, nor does its directory $tmp/nodir" \
	run --ram 32M --backing-file "$tmp/nodir/x" -- echo started
test_case "run --backing-file DIR/ that is missing: exit 2" \
	expect_usage "$tmp/nodir/: no such directory" \
	run --ram 32M --backing-file "$tmp/nodir/" -- echo started
test_case "run --backing-file on an existing regular file: exit 2" \
	expect_usage "plain-file: exists and is not a directory" \
	run --ram 32M --backing-file "$tmp/wb/plain-file" -- echo started
test_case "run --backing-file under a regular file: exit 2" \
	expect_usage "plain-file is not a directory" \
	run --ram 32M --backing-file "$tmp/wb/plain-file/x" -- echo started
test_case "run --backing-file '' is refused" \
	expect_usage "the path is empty" run --ram 32M --backing-file "" -- echo started
test_case "run --backing-file needs a value" \
	expect_usage "'--backing-file' needs a value" run --ram 32M --backing-file

# A directory this user cannot write to: as root, as nobody (root writes
# anywhere), through a copy of tmem that nobody can run.
t_backing_unwritable() {
	mkdir -p "$tmp/wb/ro" && chmod 555 "$tmp/wb/ro" || return 1
	if [ "$(id -u)" -ne 0 ]; then
		expect_usage "$tmp/wb/ro is not writable by this user" \
			run --ram 32M --backing-file "$tmp/wb/ro" -- echo started
		return
	fi
	command -v setpriv >/dev/null || return 77
	cp "$TMEM" "$tmp/tmem-nobody" && chmod 755 "$tmp" "$tmp/wb" "$tmp/tmem-nobody" || return 1
	setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/tmem-nobody" \
		run --ram 32M --backing-file "$tmp/wb/ro" -- echo started >"$out" 2>"$err"
	rc=$?
	chmod 700 "$tmp"
	[ $rc -eq 2 ] || { say "exit status $rc, not 2"; return 1; }
	grep -q "$tmp/wb/ro is not writable by this user" "$err" || return 1
	[ ! -s "$out" ] || { say "the program ran"; return 1; }
}
test_case "run --backing-file in a directory not writable: exit 2" t_backing_unwritable

# A file system without room (a 2 MiB tmpfs, in a mount namespace of its
# own, when this user may make one): exit 1 before the program starts.
t_backing_full() {
	[ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null || return 77
	mkdir -p "$tmp/wb/small" || return 1
	unshare -m sh -c 'mount -t tmpfs -o size=2M tmem-test "$1" || exit 99
		shift; exec "$@"' sh "$tmp/wb/small" "$TMEM" run --ram 32M \
		--backing-file "$tmp/wb/small" -- echo started >"$out" 2>"$err"
	rc=$?
	[ $rc -ne 99 ] || return 77
	[ $rc -eq 1 ] || { say "exit status $rc, not 1"; return 1; }
	grep -q "$tmp/wb/small has no room: 2048 KiB free, the backing file needs at least 4 MiB" "$err" ||
		return 1
	[ ! -s "$out" ] || { say "the program ran"; return 1; }
}
test_case "run --backing-file on a full file system: exit 1, says so" t_backing_full
test_case "stat: an unknown flag is named" expect_usage --bogus stat --bogus 1
test_case "stat: a plain flag given a value is named" expect_usage "'--json=1' takes no value" stat --json=1 1
test_case "stat needs a PID" expect_usage "PID is missing" stat --json
test_case "stat takes one PID" expect_usage "'2' is extra" stat 1 2
test_case "stat: a bad PID is refused" expect_usage "not a process id" stat 12ab
test_case "stat: no such process: exit 1, says so" expect_fail "no such process 2147483647" stat 2147483647

# ---------------------------------------------------------------------
# Run-time failures: exit 1
# ---------------------------------------------------------------------

test_case "missing page file: exit 1" expect_fail "No such file" estimate --pages "$tmp/none.pages"
test_case "page file of a cut size: exit 1, says why" expect_fail 4096 estimate --pages "$tmp/cut.pages"
test_case "empty page file: exit 1" expect_fail "no pages" bench store --corpus "$tmp/empty.pages"
test_case "truncated zstd page file: exit 1" expect_fail "ends early" estimate --pages "$tmp/cut.pages.zst"
test_case "no such process: exit 1" expect_fail "no such process" estimate 2147483647

# Without ptrace permission and without root: as root, drop to nobody.
t_no_permission() {
	command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ] || return 77
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$TMEM" estimate 1 >"$out" 2>"$err"
	rc=$?
	[ $rc -ne 126 ] && [ $rc -ne 127 ] || return 77 # binary not reachable
	[ $rc -eq 1 ] && grep -q "permission as a debugger" "$err" || return 1
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$TMEM" bench store --corpus /dev/null --vs-zram >"$out" 2>"$err"
	rc=$?
	[ $rc -eq 1 ] && grep -Eq "needs root|no /sys/block/zram0" "$err"
}
test_case "no ptrace permission, no root for zram: exit 1, says what is needed" t_no_permission

# ---------------------------------------------------------------------
# estimate
# ---------------------------------------------------------------------

t_estimate_file() {
	run estimate --json --pages "$tmp/mix.pages"
	[ $rc -eq 0 ] || return 1
	json "\$j->{pages} == $NPAGES && \$j->{orig_bytes} == $NPAGES * 4096 &&
	      \$j->{samefill_pages} == $NSAME && \$j->{duplicate_pages} == $NDUP &&
	      @{\$j->{compressors}} == 3" || return 1
	# Every compressor stored every page and says what it cost.
	json 'for my $c (@{$j->{compressors}}) {
		return 0 unless $c->{stored_pages} == $j->{pages} &&
		    $c->{samefill_pages} == $j->{samefill_pages} &&
		    num($c->{compressed_bytes}) && $c->{compressed_bytes} > 0 &&
		    $c->{compressed_bytes} < $j->{orig_bytes} &&
		    $c->{projected_bytes} == $c->{pool_bytes} + $c->{metadata_bytes} &&
		    $c->{ratio} > 1 && $c->{dedup_saves_bytes} > 0 &&
		    num($c->{put_mbps}) && num($c->{get_mbps}) }
	      1'
}
test_case "estimate --pages --json: exact page counts, every compressor" t_estimate_file

t_estimate_zstd() {
	run estimate --json --compressor zstd --pages "$tmp/mix.pages.zst"
	[ $rc -eq 0 ] || return 1
	json "\$j->{pages} == $NPAGES && \$j->{duplicate_pages} == $NDUP &&
	      @{\$j->{compressors}} == 1 && \$j->{compressors}[0]{compressor} eq 'zstd'" || return 1
	run estimate --json --compressor lzo --pages "$tmp/twice.pages.zst"
	[ $rc -eq 0 ] || return 1
	# The second copy is all duplicates (its same-filled pages aside).
	json "\$j->{pages} == 2 * $NPAGES && \$j->{samefill_pages} == 2 * $NSAME &&
	      \$j->{duplicate_pages} == $NDUP + $NPAGES - $NSAME"
}
test_case "estimate reads zstd page files, concatenated frames too" t_estimate_zstd

t_estimate_pool_max() {
	run estimate --json --compressor lz4 --pool-max 128K --pages "$tmp/mix.pages"
	[ $rc -eq 0 ] || return 1
	# A full pool refuses puts; the refused pages are counted, the stored
	# ones still read back verified.
	json '$c = $j->{compressors}[0];
	      $c->{rejected_pages} > 0 && $c->{stored_pages} > 0 &&
	      $c->{stored_pages} + $c->{rejected_pages} == $j->{pages}'
}
test_case "estimate --pool-max counts the pages a full pool refuses" t_estimate_pool_max

t_estimate_table() {
	run estimate --pages "$tmp/mix.pages"
	[ $rc -eq 0 ] && grep -q lz4 "$out" && grep -q zstd "$out" && grep -q lzo "$out" &&
		grep -q ratio "$out"
}
test_case "estimate prints a table by default" t_estimate_table

t_estimate_pid() {
	local i
	perl -e 'my %h; my @a;
		 for my $i (1 .. 100000) { $h{"customer:$i"} = "name $i, city " . ($i % 97) . ", orders " . ($i * 3) }
		 push @a, [ map { $_ * 2 } 1 .. 50 ] for 1 .. 2000;
		 open(my $f, ">", $ARGV[0]); close $f;
		 sleep 300' "$tmp/ready" &
	child=$!
	for i in $(seq 100); do
		[ -e "$tmp/ready" ] && break
		sleep 0.1
	done
	[ -e "$tmp/ready" ] || { say "the perl child did not start"; return 1; }
	run estimate --json --save "$tmp/saved.pages" "$child"
	if [ $rc -eq 1 ] && grep -q "permission as a debugger" "$err"; then
		say "no ptrace permission here (not root, yama ptrace_scope > 0?)"
		return 77
	fi
	[ $rc -eq 0 ] || return 1
	# Over 100000 hash entries: a few MiB of heap at the very least.
	json "\$j->{source} eq 'process' && \$j->{pid} == $child &&
	      \$j->{comm} eq 'perl' && \$j->{pages} > 256 &&
	      \$j->{orig_bytes} == \$j->{pages} * 4096 && \$j->{mappings} > 0 &&
	      \$j->{compressors}[0]{ratio} > 1" || return 1
	local pages size
	pages=$(perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{pages}' <"$out")
	size=$(stat -c %s "$tmp/saved.pages")
	[ "$size" -eq $((pages * 4096)) ] || { say "--save wrote $size bytes for $pages pages"; return 1; }
	# What was saved reads back as the same pages.
	run estimate --json --compressor lz4 --pages "$tmp/saved.pages"
	[ $rc -eq 0 ] && json "\$j->{pages} == $pages"
}
test_case "estimate PID of a perl child: sane JSON, --save writes its pages" t_estimate_pid
[ -n "$child" ] && kill "$child" 2>/dev/null
child=

# ---------------------------------------------------------------------
# bench store
# ---------------------------------------------------------------------

t_bench_json() {
	local threads=$1 comp=$2
	run bench store --corpus "$tmp/mix.pages.zst" --json --repeat 2 \
		--threads "$threads" --compressor "$comp"
	[ $rc -eq 0 ] || return 1
	json 'for my $k (qw(orig_bytes compressed_bytes pool_bytes metadata_bytes
			  put_mbps get_mbps raw_compress_mbps raw_decompress_mbps
			  density put_ratio get_ratio metadata_per_page)) {
		unless (num($j->{$k})) { print "  $k missing\n"; return 0 } }
	      1' || return 1
	json "\$j->{orig_bytes} == $NPAGES * 4096 && \$j->{pages} == $NPAGES &&
	      \$j->{threads} == $threads && \$j->{compressor} eq '$comp' &&
	      \$j->{samefill_pages} == $NSAME && \$j->{compressed_bytes} > 0 &&
	      \$j->{pool_bytes} > 0 && \$j->{put_mbps} > 0 && \$j->{get_mbps} > 0 &&
	      \$j->{raw_compress_mbps} > 0 && \$j->{raw_decompress_mbps} > 0 &&
	      \$j->{density} > 1 && !exists \$j->{zram}"
}
test_case "bench store --json has every key, with numbers (1 thread, lz4)" t_bench_json 1 lz4
test_case "bench store --json with 2 threads and zstd" t_bench_json 2 zstd

t_bench_table() {
	run bench store --corpus "$tmp/mix.pages" --repeat 1 --compressor lzo
	[ $rc -eq 0 ] && grep -q "tmem pool" "$out" && grep -q "raw lzo" "$out"
}
test_case "bench store prints a table by default" t_bench_table

# ---------------------------------------------------------------------
# bench writeback
# ---------------------------------------------------------------------

# The pool holds a quarter of the data set: the rest must go to the file
# and come back (the bench verifies every get itself and exits 1 on a
# wrong byte); the JSON carries the keys the issue names.
t_bench_writeback() {
	run bench writeback --corpus "$tmp/mix.pages.zst" --json --repeat 1 \
		--scale 8 --dir "$tmp"
	[ $rc -eq 0 ] || return 1
	json 'for my $k (qw(pages_written_back bytes_written payload_bytes_written
			  write_amplification put_mbps get_mbps)) {
		unless (num($j->{$k})) { print "  $k missing\n"; return 0 } }
	      1' || return 1
	json '$j->{pages_written_back} > 0 &&
	      $j->{bytes_written} >= $j->{payload_bytes_written} &&
	      $j->{payload_bytes_written} > 0 && $j->{write_amplification} >= 1'
}
test_case "bench writeback --json: pages go to the file, keys present" t_bench_writeback
test_case "bench writeback needs --corpus" expect_usage --corpus bench writeback

# zram0 is the machine's: used only if present, we are root, and it is idle.
t_bench_zram() {
	if [ ! -e /sys/block/zram0 ]; then
		expect_fail "zram0" bench store --corpus "$tmp/mix.pages" --vs-zram
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		expect_fail "root" bench store --corpus "$tmp/mix.pages" --vs-zram
		return
	fi
	run bench store --corpus "$tmp/mix.pages" --json --repeat 1 --vs-zram
	if [ $rc -eq 1 ] && grep -Eq "in use|taken by someone" "$err"; then
		say "zram0 is busy"
		return 77
	fi
	[ $rc -eq 0 ] || return 1
	[ "$(cat /sys/block/zram0/disksize)" = 0 ] || { say "zram0 was not reset"; return 1; }
	json "num(\$j->{zram}{write_mbps}) && num(\$j->{zram}{read_mbps}) &&
	      \$j->{zram}{orig_data_size} == $NPAGES * 4096 &&
	      \$j->{zram}{mem_used_total} > 0 && num(\$j->{zram}{compr_data_size}) &&
	      \$j->{zram}{density} > 1"
}
test_case "bench store --vs-zram: measured, or a clear refusal" t_bench_zram

if [ $skipped -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ] || exit 1
[ $passed -eq 0 ] && [ $skipped -gt 0 ] && exit 77
exit 0
