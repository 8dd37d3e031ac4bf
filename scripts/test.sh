#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test.sh: the whole test suite, as CI runs it.
#   1. installs what is missing (scripts/deps.sh --test)
#   2. checks formatting (clang-format, kernel style)
#   3. build/       release-like build with -Werror: every test
#   4. build-asan/  ASan + UBSan: every test
#   5. build-tsan/  TSan: the concurrency suite
#   6. valgrind     memcheck over the quick store suite
# and ends with one line "tests: N passed, N failed, N skipped" summed
# from meson's test logs.  Exit status 0 only if nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

scripts/deps.sh --test || exit 1

status=0
rm -f build*/meson-logs/testlog*.json
step() { printf '\n=== %s\n' "$*"; }

step "format check (clang-format --dry-run -Werror)"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
if ! clang-format --dry-run -Werror $files; then
	echo "format: run clang-format -i on the files above" >&2
	status=1
fi

setup() { # DIR ARGS...
	local dir=$1
	shift
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null || meson setup --wipe "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

run() { # DIR MESON-TEST-ARGS...
	local dir=$1
	shift
	ninja -C "$dir" >"$dir.build.log" 2>&1 || { cat "$dir.build.log"; echo "build failed: $dir" >&2; status=1; return; }
	meson test -C "$dir" --print-errorlogs "$@" || status=1
}

step "build (-Werror), all tests"
setup build -Dwerror=true -Ddebug_level=1
run build

step "ASan + UBSan build, all tests"
setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Ddebug_level=2
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run build-asan

step "TSan build, concurrency suite"
setup build-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false
TSAN_OPTIONS=halt_on_error=1 run build-tsan --suite concurrency

step "valgrind memcheck, quick store tests"
run build --setup valgrind --suite valgrind

step "summary"
python3 - "$top" <<'PY'
import json, os, sys
top = sys.argv[1]
passed = failed = skipped = 0
for d in ("build", "build-asan", "build-tsan"):
    log = os.path.join(top, d, "meson-logs")
    if not os.path.isdir(log):
        continue
    for name in sorted(os.listdir(log)):
        if not (name.startswith("testlog") and name.endswith(".json")):
            continue
        with open(os.path.join(log, name)) as f:
            for line in f:
                r = json.loads(line).get("result")
                if r in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif r == "SKIP":
                    skipped += 1
                else:
                    failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
PY
[ $? -eq 0 ] || status=1
exit $status
