#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/store.sh [--tmem PATH] [--no-zram] [--repeat N] [CORPUS...]
#
# The store benchmark, side by side in one run: for each corpus and each
# compressor, `tmem bench store` (tmem put/get vs the raw compressor on the
# same pages, and, as root with an unused /dev/zram0, the kernel's zram on
# the same pages), then put scaling from 1 to 2 threads.  Prints one table
# of medians and ratios; the raw JSON of every run goes to $OUT (default
# build-release/bench-store.jsonl).  Not a test: it asserts nothing, and
# the machine is noisy, so read medians and ratios, not single numbers.
#
# Corpus: the files named, else ../shared/corpus/*.pages.zst plus their
# concatenation ("mixed"), else pages captured from the demo workload with
# `tmem estimate` (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
tmem=build-release/tools/tmem
zram=--vs-zram
repeat=5
corpora=()
while [ $# -gt 0 ]; do
	case $1 in
	--tmem) tmem=$2; shift 2 ;;
	--no-zram) zram=; shift ;;
	--repeat) repeat=$2; shift 2 ;;
	-h | --help) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "bench/store.sh: unknown flag $1" >&2; exit 2 ;;
	*) corpora+=("$1"); shift ;;
	esac
done
if [ ! -x "$tmem" ]; then
	scripts/deps.sh
	[ -d build-release ] || meson setup build-release --buildtype=release >/dev/null
	ninja -C build-release >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ${#corpora[@]} -eq 0 ]; then
	shared=../shared/corpus
	if ls "$shared"/*.pages.zst >/dev/null 2>&1; then
		corpora=("$shared"/*.pages.zst)
		for f in "${corpora[@]}"; do zstd -qdc "$f"; done >"$work/mixed.pages"
		corpora+=("$work/mixed.pages")
	else
		echo "bench: no corpus given and none in $shared: capturing the demo workload" >&2
		perl scripts/demo-workload.pl 100000 >"$work/ready" &
		pid=$!
		for _ in $(seq 600); do grep -q READY "$work/ready" && break; sleep 0.2; done
		"$tmem" estimate "$pid" --compressor lz4 --save "$work/demo.pages" >/dev/null
		kill "$pid"
		corpora=("$work/demo.pages")
	fi
fi
if [ -n "$zram" ] && { [ "$(id -u)" -ne 0 ] || [ ! -e /sys/block/zram0 ]; }; then
	echo "bench: not root or no /dev/zram0: skipping the zram comparison" >&2
	zram=
fi

out=${OUT:-build-release/bench-store.jsonl}
mkdir -p "$(dirname "$out")"
: >"$out"
for c in "${corpora[@]}"; do
	name=$(basename "$c"); name=${name%%.*}
	for comp in lz4 zstd lzo; do
		echo "bench: $name $comp" >&2
		z=$zram
		[ "$comp" = zstd ] && ! grep -qw zstd /sys/block/zram0/comp_algorithm 2>/dev/null && z=
		"$tmem" bench store --corpus "$c" --compressor "$comp" --repeat "$repeat" --json $z |
			python3 -c 'import json,sys; d=json.load(sys.stdin); d["corpus"]=sys.argv[1]; d["compressor"]=sys.argv[2]; d["threads"]=1; print(json.dumps(d))' "$name" "$comp" >>"$out"
	done
	echo "bench: $name lz4, 2 threads" >&2
	"$tmem" bench store --corpus "$c" --compressor lz4 --threads 2 --repeat "$repeat" --json |
		python3 -c 'import json,sys; d=json.load(sys.stdin); d["corpus"]=sys.argv[1]; d["compressor"]="lz4"; d["threads"]=2; print(json.dumps(d))' "$name" >>"$out"
done

python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def r(a, b):
    return f"{a / b:5.2f}x" if b else "    -"
print()
print("tmem store vs raw compressor vs kernel zram (medians; ratios > 1 favour tmem)")
print(f"{'corpus':8} {'comp':5} {'put MB/s':>9} {'raw cmp':>8} {'put/raw':>7} {'get MB/s':>9} {'raw dec':>8} {'get/raw':>7}"
      f" {'zram wr':>8} {'put/zram':>8} {'zram rd':>8} {'get/zram':>8} {'density':>7} {'zram den':>8} {'over cmp':>8} {'meta B/pg':>9}")
for d in rows:
    if d["threads"] != 1:
        continue
    z = d.get("zram") or {}
    pages = d["orig_bytes"] / 4096
    den = d["orig_bytes"] / (d["pool_bytes"] + d["metadata_bytes"])
    zden = z["orig_data_size"] / z["mem_used_total"] if z.get("mem_used_total") else 0
    over = (d["pool_bytes"] + d["metadata_bytes"]) / d["compressed_bytes"] - 1 if d["compressed_bytes"] else 0
    print(f"{d['corpus']:8} {d['compressor']:5} {d['put_mbps']:9.0f} {d['raw_compress_mbps']:8.0f} {r(d['put_mbps'], d['raw_compress_mbps']):>7}"
          f" {d['get_mbps']:9.0f} {d['raw_decompress_mbps']:8.0f} {r(d['get_mbps'], d['raw_decompress_mbps']):>7}"
          f" {z.get('write_mbps', 0):8.0f} {r(d['put_mbps'], z.get('write_mbps', 0)):>8} {z.get('read_mbps', 0):8.0f} {r(d['get_mbps'], z.get('read_mbps', 0)):>8}"
          f" {den:7.3f} {zden:8.3f} {over * 100:7.1f}% {d['metadata_bytes'] / pages:9.1f}")
print()
print("put scaling, lz4 (2 threads vs 1, same run)")
for d2 in rows:
    if d2["threads"] != 2:
        continue
    d1 = next(d for d in rows if d["threads"] == 1 and d["corpus"] == d2["corpus"] and d["compressor"] == "lz4")
    print(f"{d2['corpus']:8} 1 thread {d1['put_mbps']:7.0f} MB/s   2 threads {d2['put_mbps']:7.0f} MB/s   {r(d2['put_mbps'], d1['put_mbps'])}")
PY
