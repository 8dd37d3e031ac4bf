#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deps.sh [--test]: install the Debian packages tmem needs to build (and,
# with --test, to run its whole test suite).  Installs only what is
# missing; uses sudo when not run as root.
set -euo pipefail

pkgs=(gcc libc6-dev meson ninja-build pkg-config
      liblz4-dev libzstd-dev liblzo2-dev libxxhash-dev libmimalloc-dev
      zstd perl python3 time)
if [ "${1:-}" = "--test" ]; then
	pkgs+=(valgrind clang-format default-jdk-headless) # the JVM: tests/test-programs.sh
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
	echo "deps.sh: apt-get not found; install these packages yourself: ${missing[*]}" >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "deps.sh: need root to install: ${missing[*]}" >&2
		exit 1
	}
	sudo=(sudo)
fi
echo "deps.sh: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
