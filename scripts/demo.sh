#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh [RECORDS]: the main job, from a fresh Debian 12 machine.
#   1. installs the Debian packages tmem needs (scripts/deps.sh)
#   2. builds tmem (build-release/)
#   3. starts a real program (perl building an order book; RECORDS orders,
#      default 200000, about 250 MiB of heap) and runs `tmem estimate` on
#      it: how much would tmem save on this program, per compressor?
#   4. runs the store benchmark (`tmem bench store`) on the pages just
#      captured, once per compressor, and prints the tables.
# Reading another process's memory needs a debugger's permission: the
# script uses sudo for `tmem estimate` when not run as root.
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

echo "== starting a real program: perl building an order book of $records orders"
perl scripts/demo-workload.pl "$records" >"$work/ready" &
pid=$!
for _ in $(seq 600); do
	grep -q READY "$work/ready" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || { echo "demo: the workload died" >&2; exit 1; }
	sleep 0.2
done
grep -q READY "$work/ready" || { echo "demo: the workload did not get ready" >&2; exit 1; }

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo
echo "== tmem estimate $pid: what tmem would make of its memory"
"${sudo[@]}" "$tmem" estimate "$pid" --save "$work/demo.pages"
"${sudo[@]}" chown "$(id -u):$(id -g)" "$work/demo.pages" 2>/dev/null || true
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null || true
pid=

for c in lz4 zstd lzo; do
	echo
	echo "== tmem bench store --corpus (those pages) --compressor $c"
	"$tmem" bench store --corpus "$work/demo.pages" --compressor "$c"
done
