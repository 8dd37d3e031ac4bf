#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh [RECORDS]: the main job, from a fresh Debian 12 machine.
#   1. installs the Debian packages tmem needs (scripts/deps.sh)
#   2. builds tmem (build-release/)
#   3. tmem run: a program that fills 1 GiB of heap with realistic pages and
#      rewrites them in random order (bench/usemem) runs with a 512 MiB RAM
#      budget, after a plain run for comparison, and prints tmem's stats
#   4. starts a real program (perl building an order book; RECORDS orders,
#      default 200000, about 370 MiB of heap) and runs `tmem estimate` on
#      it: how much would tmem save on this program, per compressor?
#   5. runs the store benchmark (`tmem bench store`) on the pages just
#      captured, once per compressor, and prints the tables.
# Reading another process's memory needs a debugger's permission, and
# tmem run needs userfaultfd: the script uses sudo for those when not root
# (and when vm.unprivileged_userfaultfd is 0 and /dev/userfaultfd is closed).
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-200000}
case $records in '' | *[!0-9]*) echo "usage: $0 [RECORDS]" >&2; exit 2 ;; esac

scripts/deps.sh
if [ ! -d build-release ]; then
	meson setup build-release --buildtype=release >/dev/null
fi
ninja -C build-release >/dev/null
tmem=build-release/tools/tmem

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

usemem=(build-release/bench/usemem --size 1G --passes 1)
echo "== a program that needs 1 GiB: bench/usemem fills 1 GiB of heap-like pages,"
echo "   then reads, checks and rewrites every page once in random order"
echo "-- without tmem (all of it resident)"
/usr/bin/env time -f "   %e s wall, peak resident %M KiB" "${usemem[@]}" 2>&1 ||
	{ echo "demo: usemem failed without tmem" >&2; exit 1; }
runas=()
if [ "$(id -u)" -ne 0 ] && [ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" != 1 ] &&
	! [ -r /dev/userfaultfd -a -w /dev/userfaultfd ]; then
	runas=("${sudo[@]}")
fi
echo "-- tmem run --ram 512M --stats (cold pages compressed into tmem's pool)"
/usr/bin/env time -f "   %e s wall" "${runas[@]}" "$tmem" run --ram 512M --stats -- "${usemem[@]}" 2>&1 ||
	{ echo "demo: usemem failed under tmem run" >&2; exit 1; }
echo

echo "== starting a real program: perl building an order book of $records orders"
perl scripts/demo-workload.pl "$records" >"$work/ready" &
pid=$!
for _ in $(seq 600); do
	grep -q READY "$work/ready" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || { echo "demo: the workload died" >&2; exit 1; }
	sleep 0.2
done
grep -q READY "$work/ready" || { echo "demo: the workload did not get ready" >&2; exit 1; }

echo
echo "== tmem estimate $pid: what tmem would make of its memory"
"${sudo[@]}" "$tmem" estimate "$pid" --save "$work/demo.pages"
"${sudo[@]}" chown "$(id -u):$(id -g)" "$work/demo.pages" 2>/dev/null || true
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null || true
pid=

# Side by side with the kernel's zram when we may use it: root, and a
# zram0 that nobody uses (it is reset afterwards).  zram here has no zstd.
zram=()
if [ "$(id -u)" -eq 0 ] && [ -e /sys/block/zram0 ] &&
	[ "$(cat /sys/block/zram0/disksize 2>/dev/null)" = 0 ]; then
	zram=(--vs-zram)
fi
for c in lz4 zstd lzo; do
	z=("${zram[@]}")
	grep -qw "$c" /sys/block/zram0/comp_algorithm 2>/dev/null || z=()
	echo
	echo "== tmem bench store --corpus (those pages) --compressor $c ${z[*]}"
	"$tmem" bench store --corpus "$work/demo.pages" --compressor "$c" "${z[@]}"
done
