#!/usr/bin/env bash
# Every test: set up, then build and run the whole suite twice, as a normal build and under
# AddressSanitizer + UndefinedBehaviorSanitizer; then the short fuzz run of the wire decoders.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs=$(nproc)
scripts/check-layers.sh

run_suite() {  # name, extra cmake args...
  local dir="build/$1"; shift
  echo "=== build $dir"
  cmake -S . -B "$dir" -G Ninja -DSOFTNDK_BUILD_BENCH=OFF "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "=== test $dir"
  if ! ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 300 \
      ${CTEST_EXCLUDE:+-E "$CTEST_EXCLUDE"}; then
    failure_digest "$dir"
    return 1
  fi
}

# After a failed ctest run: why each test failed, printed last so that a log cut to its head and
# tail still shows it (gtest failures, sanitizer reports with their first stack).
failure_digest() {  # build dir
  local log="$1/Testing/Temporary/LastTest.log"
  echo "=== failure digest ($1)"
  cat "$1/Testing/Temporary/LastTestsFailed.log" 2>/dev/null || true
  [ -f "$log" ] || return 0
  grep -a -A 4 -E ': Failure$' "$log" | head -n 60 || true
  grep -a -E '^\[  FAILED  \] .*\)$|^\[  FAILED  \] [^ ]+$' "$log" | sort -u | head -n 30 || true
  grep -a -m 3 -A 30 -E 'WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" |
    head -n 90 || true
}

run_suite default -DCMAKE_BUILD_TYPE=RelWithDebInfo
# No source file over 700 lines, no function over 80 (uses that build's compile_commands.json).
scripts/check-size.sh build/default
scripts/test-install.sh build/default  # install, CMake/pkg-config/.deb consumers, lintian (docs/packaging.md)
# The main job (README) builds in Release: make sure that tree builds and the demo runs.
echo "=== main job"
scripts/demo.sh >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_suite asan-ubsan -DCMAKE_BUILD_TYPE=Debug -DSOFTNDK_SANITIZE=address,undefined
# The threading code (core, transports) under ThreadSanitizer: everything, the conformance suite
# over loopback and over tcp (IPv4 and IPv6) included.
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  run_suite tsan -DCMAKE_BUILD_TYPE=Debug -DSOFTNDK_SANITIZE=thread
if [ -x scripts/fuzz-smoke.sh ]; then
  echo "=== fuzz smoke"
  scripts/fuzz-smoke.sh "${SOFTNDK_FUZZ_SECONDS:-15}"
fi
echo "=== all tests passed"
