#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-stat.sh TMEM PRELOAD MAN - the stats pages of `tmem run` and `tmem stat`
# (preload/stats-page.c, tools/run-dir.c, tools/cmd-stat.c): pages do not
# outlive the processes or the run, whatever way a process ends; `tmem
# stat` refuses a dead process, a stale page and a page another user made;
# a file another user made is never written; the shim refuses a run
# directory that is open to others, not ours or a link; the compressor's
# name is escaped in JSON; the man page lists every JSON key.
#
# Needs userfaultfd (skips with 77 without it).  The pages of other users
# of /dev/shm are left alone: only pids and directories of this script's
# runs are looked at, and only what it made itself is removed.
#
# Prints "N passed, N failed" (", N skipped") and exits 1 on any failure.
set -u

usage="usage: test-stat.sh PATH-TO-tmem PATH-TO-libtmem-preload.so PATH-TO-tmem.1"
TMEM=${1:?$usage}
SHIM=${2:?$usage}
MAN=${3:?$usage}
SHM=/dev/shm
NOBODY=65534
tmp=$(mktemp -d)
bg=
made=()
cleanup() {
	# bash 5.2 has been seen running this in a $(...) subshell, as a
	# background job of ours ended: only the script itself cleans up
	[ "$BASHPID" = "$$" ] || return 0
	[ -n "$bg" ] && kill $bg 2>/dev/null
	rm -rf "$tmp" "${made[@]}"
}
trap cleanup EXIT
# Pages older than this are other runs' (other tests, other users).
stamp=$tmp/stamp
: >"$stamp"

passed=0 failed=0 skipped=0
out=$tmp/out err=$tmp/err rc=0

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

say() { echo "  $*"; }

# Skip when userfaultfd is not usable (the same check tmem run makes).
"$TMEM" run --ram 32M -- true 2>"$err"
if [ $? -eq 1 ] && grep -q userfaultfd "$err"; then
	cat "$err"
	echo "0 passed, 0 failed, 1 skipped"
	exit 77
fi

# The page files of process $1 wherever a tmem of any version keeps them,
# written since this script started.
pages_of() {
	local f
	for f in "$SHM/tmem-$1" "$SHM"/tmem-*/"$1"; do
		[ -f "$f" ] && [ "$f" -nt "$stamp" ] && echo "$f"
	done
}

# Wait up to 5 s for the file $1 to hold something.
wait_for() {
	local i
	for i in $(seq 50); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	say "$1 was not written"
	return 1
}

# Field 22 of /proc/$1/stat, the start time.
start_time() {
	perl -e 'open(my $f, "<", "/proc/$ARGV[0]/stat") or exit 1;
		 my $s = <$f>; $s =~ s/.*\) //s; print((split / /, $s)[19])' "$1"
}

# A page of the layout `tmem run` writes: $1 a real page, $2 the pid to
# put in it, $3 the start time to put in it; written to stdout.
forge_page() {
	perl -e 'local $/; open(my $f, "<", $ARGV[0]) or die; binmode $f;
		 my $p = <$f>; my $size = unpack("V", substr($p, 12, 4));
		 substr($p, 16, 8) = pack("q<", $ARGV[1]);
		 substr($p, $size - 8, 8) = pack("Q<", $ARGV[2]);
		 print $p' "$@"
}

# A page of a live managed process, copied to $tmp/real.page.
t_copy_page() {
	"$TMEM" run --ram 32M -- sh -c "echo \$\$ >$tmp/p0; exec sleep 30" \
		>/dev/null 2>&1 &
	bg=$!
	wait_for "$tmp/p0" || return 1
	sleep 0.5
	local f
	f=$(pages_of "$(cat "$tmp/p0")" | head -1)
	[ -n "$f" ] && cp "$f" "$tmp/real.page" || { say "no page found"; return 1; }
	kill $bg
	wait $bg 2>/dev/null
	bg=
}

# ---------------------------------------------------------------------
# No page outlives its process or the run
# ---------------------------------------------------------------------

t_no_leak() {
	local p rp
	: >"$tmp/pids"
	"$TMEM" run --ram 32M -- sh -c "
		sh -c 'echo \$\$ >>$tmp/pids'
		sh -c 'echo \$\$ >>$tmp/pids; exit 3'
		sh -c 'echo \$\$ >>$tmp/pids; kill -KILL \$\$'
		sh -c 'echo \$\$ >>$tmp/pids; kill -TERM \$\$'
		echo \$\$ >>$tmp/pids; exit 5" >"$out" 2>"$err" &
	rp=$!
	wait $rp
	rc=$?
	[ $rc -eq 5 ] || { say "exit status $rc, not 5"; return 1; }
	[ "$(wc -l <"$tmp/pids")" -eq 5 ] || { say "not every process ran"; return 1; }
	for p in $(cat "$tmp/pids"); do
		[ -z "$(pages_of "$p")" ] || { say "left: $(pages_of "$p")"; return 1; }
	done
	! ls -d "$SHM/tmem-$rp".* 2>/dev/null || { say "run directory left"; return 1; }
}
test_case "pages of processes ended by exit, _exit or a signal do not outlive the run" t_no_leak

t_killed_run() {
	local rp
	# (the braces keep bash's own "Killed" line out of the log)
	{
		"$TMEM" run --ram 32M -- sh -c 'kill -KILL $$' >"$out" 2>"$err" &
		rp=$!
		wait $rp
		rc=$?
	} 2>/dev/null
	[ $rc -eq 137 ] || { say "exit status $rc, not 137"; return 1; }
	! ls -d "$SHM/tmem-$rp".* "$SHM/tmem-$rp" 2>/dev/null || { say "left behind"; return 1; }
}
test_case "a program killed by a signal leaves no page or directory" t_killed_run

# --stats into a pipe nobody reads: tmem run dies of SIGPIPE as it prints.
t_sigpipe() {
	local rp
	rm -f "$tmp/rp"
	sh -c "echo \$\$ >$tmp/rp; exec $TMEM run --ram 32M --stats -- sleep 0.5" 2>&1 | true
	rp=$(cat "$tmp/rp")
	[ -n "$rp" ] || return 1
	! ls -d "$SHM/tmem-$rp".* 2>/dev/null || { say "run directory left"; return 1; }
}
test_case "a tmem run that dies printing its --stats leaves no directory" t_sigpipe

# ---------------------------------------------------------------------
# tmem stat: live, dead, swept
# ---------------------------------------------------------------------

t_stat_dead() {
	local p rp
	rm -f "$tmp/p1"
	"$TMEM" run --ram 32M -- \
		sh -c "sleep 30 & echo \$! >$tmp/p1; wait; exec sleep 6" >/dev/null 2>&1 &
	bg=$!
	rp=$bg
	wait_for "$tmp/p1" || return 1
	p=$(cat "$tmp/p1")
	sleep 0.5
	"$TMEM" stat --json "$p" >"$out" 2>"$err"
	rc=$?
	[ $rc -eq 0 ] && grep -q "\"pid\": $p," "$out" || { say "live: exit $rc"; return 1; }
	cp "$out" "$tmp/live.json"
	kill -KILL "$p"
	sleep 0.3
	"$TMEM" stat "$p" >"$out" 2>"$err"
	rc=$?
	[ $rc -eq 1 ] || { say "dead: exit status $rc, not 1"; return 1; }
	grep -q "no such process $p" "$err" || { say "dead: not said"; return 1; }
	[ ! -s "$out" ] || { say "dead: figures printed"; return 1; }
	# The run goes on; within a sweep (2 s) the dead process's page goes.
	sleep 3
	[ -z "$(pages_of "$p")" ] || { say "not swept: $(pages_of "$p")"; return 1; }
	ls -d "$SHM/tmem-$rp".* >/dev/null || { say "no run directory"; return 1; }
	kill $bg
	wait $bg 2>/dev/null
	bg=
}
test_case "tmem stat: figures of a live process, exit 1 once it is killed; its page is swept" t_stat_dead

t_stat_stale() {
	local s d
	[ -s "$tmp/real.page" ] || t_copy_page || return 1
	sleep 30 &
	s=$!
	d=$(mktemp -d -p "$SHM" tmem-test.XXXXXX) && made+=("$d")
	forge_page "$tmp/real.page" "$s" 1 >"$d/$s"
	chmod 600 "$d/$s"
	"$TMEM" stat "$s" >"$out" 2>"$err"
	rc=$?
	kill $s
	[ $rc -eq 1 ] || { say "exit status $rc, not 1"; return 1; }
	grep -q "earlier process" "$err" || { say "stale page not named"; return 1; }
	# The same page with the process's own start time is believed.
	sleep 30 &
	s=$!
	forge_page "$tmp/real.page" "$s" "$(start_time $s)" >"$d/$s"
	chmod 600 "$d/$s"
	"$TMEM" stat --json "$s" >"$out" 2>"$err"
	rc=$?
	kill $s
	[ $rc -eq 0 ] && grep -q "\"pid\": $s," "$out"
}
test_case "tmem stat: a page left by an earlier process with the pid is stale, exit 1" t_stat_stale

t_stat_forged() {
	local s d
	[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null || return 77
	[ -s "$tmp/real.page" ] || t_copy_page || return 1
	sleep 30 &
	s=$!
	[ ! -e "$SHM/tmem-$s" ] || { kill $s; say "$SHM/tmem-$s exists already"; return 77; }
	forge_page "$tmp/real.page" "$s" "$(start_time $s)" >"$tmp/forged"
	chmod 644 "$tmp/forged"
	chmod 755 "$tmp"
	# Another user makes the page where either layout would look.
	d=$(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups \
		sh -c "umask 077; cp $tmp/forged $SHM/tmem-$s &&
			d=\$(mktemp -d -p $SHM tmem-forged.XXXXXX) &&
			cp $tmp/forged \$d/$s && echo \$d")
	[ -e "$SHM/tmem-$s" ] && made+=("$SHM/tmem-$s")
	[ -n "$d" ] && made+=("$d")
	[ -n "$d" ] && [ -e "$d/$s" ] || { kill $s; say "could not forge"; return 77; }
	"$TMEM" stat "$s" >"$out" 2>"$err"
	rc=$?
	kill $s
	[ $rc -eq 1 ] && grep -q "not running under tmem run" "$err" &&
		[ ! -s "$out" ]
}
test_case "tmem stat: a page another user made is not believed" t_stat_forged

# The man page lists every key of `tmem stat --json`.
t_man_keys() {
	[ -s "$tmp/live.json" ] || return 77
	perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die;
		my $j = decode_json(<$f>); open($f, "<", $ARGV[1]) or die;
		my $man = <$f>; $man =~ s/\\-/-/g; $man =~ s/\s+/ /g;
		my @miss = grep { $man !~ /\b\Q$_\E\b/ } sort keys %$j;
		print "  not in the man page: @miss\n" if @miss; exit(@miss ? 1 : 0)' \
		"$tmp/live.json" "$MAN"
}
test_case "tools/tmem.1 lists every key tmem stat --json prints" t_man_keys

# ---------------------------------------------------------------------
# Nothing is written into a file or directory someone else made
# ---------------------------------------------------------------------

# In a new pid namespace the pids are known in advance: tmem run is 1,
# the program 2, its child 3.
t_precreated() {
	local f
	[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
		unshare -p -f -m --mount-proc true 2>/dev/null || return 77
	for f in 2 3; do
		[ -e "$SHM/tmem-$f" ] && { say "$SHM/tmem-$f exists already"; return 77; }
		setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups \
			sh -c "umask 0; : >$SHM/tmem-$f" || return 77
		made+=("$SHM/tmem-$f")
	done
	unshare -p -f -m --mount-proc "$TMEM" run --ram 32M --stats -- \
		sh -c 'sh -c "exit 0"; exit 0' >"$out" 2>"$err"
	rc=$?
	[ $rc -eq 0 ] || { say "exit status $rc"; return 1; }
	for f in 2 3; do
		[ "$(stat -c '%s %u %a' "$SHM/tmem-$f")" = "0 $NOBODY 666" ] ||
			{ say "$SHM/tmem-$f was written: $(stat -c '%s %u %a' "$SHM/tmem-$f")"; return 1; }
	done
	# The run still kept its statistics, in its own directory.
	grep -q "faults served" "$err" || { say "no statistics"; return 1; }
}
test_case "a file another user made at a pid's page path is never written" t_precreated

# The shim run by hand with TMEM_RUN_DIR=$1: the name of the page it made
# for a `sleep` (as seen while it runs), then whether it is gone at exit.
shim_page() {
	LD_PRELOAD=$SHIM TMEM_RUN_RAM=32M TMEM_RUN_DIR=$1 sleep 0.5 &
	local s=$! i
	for i in $(seq 10); do
		[ -e "$2/$s" ] && break
		sleep 0.05
	done
	if [ -e "$2/$s" ]; then echo made; else echo none; fi
	wait $s
	[ -e "$2/$s" ] && echo left
	ls -A "$2" | grep -q . && echo other
}

t_shim_dir() {
	local good=$tmp/good open=$tmp/open theirs=$tmp/theirs r
	mkdir -m 700 "$good" && mkdir -m 777 "$open" && mkdir -m 700 "$theirs" || return 1
	r=$(shim_page "$good" "$good")
	[ "$r" = made ] || { say "own 0700 directory: '$r'"; return 1; }
	r=$(shim_page "$open" "$open")
	[ "$r" = none ] || { say "0777 directory: '$r'"; return 1; }
	ln -s "$good" "$tmp/link"
	r=$(shim_page "$tmp/link" "$good")
	[ "$r" = none ] || { say "link to a directory: '$r'"; return 1; }
	[ "$(id -u)" -eq 0 ] || return 0
	chown $NOBODY "$theirs"
	r=$(shim_page "$theirs" "$theirs")
	[ "$r" = none ] || { say "another user's directory: '$r'"; return 1; }
}
test_case "the shim makes its page only in a real directory of its own, 0700" t_shim_dir

# ---------------------------------------------------------------------
# The compressor's name is escaped
# ---------------------------------------------------------------------

t_json_escape() {
	local p f
	rm -f "$tmp/p2"
	"$TMEM" run --ram 32M -- sh -c "echo \$\$ >$tmp/p2; exec sleep 30" \
		>/dev/null 2>&1 &
	bg=$!
	wait_for "$tmp/p2" || return 1
	p=$(cat "$tmp/p2")
	sleep 0.5
	f=$(pages_of "$p" | head -1)
	[ -n "$f" ] || { say "no page"; return 1; }
	# 16 bytes, no terminating NUL: a quote, a backslash, a control byte.
	printf 'a"b\\c\001defghijklm' |
		dd of="$f" bs=1 seek=24 count=16 conv=notrunc 2>/dev/null
	"$TMEM" stat --json "$p" >"$out" 2>"$err"
	rc=$?
	[ $rc -eq 0 ] || { say "exit status $rc"; return 1; }
	perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
		exit($j->{compressor} eq "a\"b\\c\x01defghijklm" ? 0 : 1)' <"$out" ||
		{ say "not that name in one JSON object"; return 1; }
	"$TMEM" stat "$p" >"$out" 2>"$err"
	grep -q 'compressor a"b\\c?defghijklm$' "$out" || { say "text: not shown safely"; return 1; }
	kill $bg
	wait $bg 2>/dev/null
	bg=
}
test_case "tmem stat --json escapes the compressor name (quote, backslash, control, 16 bytes)" t_json_escape

# ---------------------------------------------------------------------
# Directories left by killed runs are reclaimed
# ---------------------------------------------------------------------

# A pid that is surely gone: a child that has been reaped.
dead_pid() {
	sh -c 'exit 0' &
	local p=$!
	wait $p
	echo $p
}

t_reclaim() {
	local dead old fresh live
	dead=$(dead_pid)
	old=$SHM/tmem-$dead.rcl0ld
	fresh=$SHM/tmem-$dead.rclnew
	live=$SHM/tmem-$$.rclliv
	made+=("$old" "$fresh" "$live")
	mkdir -m 0700 "$old" "$fresh" "$live" || return 1
	: >"$old/$dead"
	: >"$fresh/$dead"
	: >"$live/$dead"
	touch -d '-5 minutes' "$old" "$live"
	"$TMEM" run --ram 32M -- true >"$out" 2>"$err" || return 1
	[ ! -e "$old" ] || { say "an idle dead run's directory is still there"; return 1; }
	[ -e "$fresh" ] || { say "a directory touched just now was removed"; return 1; }
	[ -e "$live" ] || { say "the directory of a live run was removed"; return 1; }
}
test_case "tmem run removes directories of killed runs, not fresh or live ones" t_reclaim

if [ $skipped -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ] || exit 1
[ $passed -eq 0 ] && [ $skipped -gt 0 ] && exit 77
exit 0
