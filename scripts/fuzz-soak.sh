#!/usr/bin/env bash
# Fuzz soak of the wire decoders (not run by CI; scripts/fuzz-smoke.sh is the short version):
# builds the libFuzzer targets like fuzz-smoke.sh and runs each one for RUNS executions (default
# 10^8) on a temporary copy of its committed corpus, then prints executions per second and the
# corpus growth of each. Exit status 1 on any crash, leak, timeout or invariant failure.
#
# usage: scripts/fuzz-soak.sh [runs] [codec...]
# env:   SOFTNDK_FUZZ_BUILD_DIR   build directory (default <repo>/build-fuzz)
#        SOFTNDK_FUZZ_MAX_LEN     -max_len for fpdu_reader (default 1024: streams of a few FPDUs;
#                                 longer inputs add bytes, not new reader states)
set -euo pipefail
runs="${1:-100000000}"
shift || true
codecs=("$@")
[ ${#codecs[@]} -eq 0 ] && codecs=(crc32c mpa ddp terminate fpdu_reader)
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${SOFTNDK_FUZZ_BUILD_DIR:-$repo/build-fuzz}"
cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOFTNDK_FUZZ=ON -DSOFTNDK_BUILD_BENCH=OFF >/dev/null
cmake --build "$build_dir" --target "${codecs[@]/%/_fuzz}"
work="$(mktemp -d "${TMPDIR:-/tmp}/softndk-fuzz-soak.XXXXXX")"
trap 'rm -rf "$work"' EXIT
artifacts="$build_dir/fuzz-artifacts"
mkdir -p "$artifacts"
failed=()
for codec in "${codecs[@]}"; do
  mkdir -p "$work/$codec"
  cp -R "$repo/tests/fuzz/corpus/$codec/." "$work/$codec/"
  extra=()
  [ "$codec" = fpdu_reader ] && extra=(-max_len="${SOFTNDK_FUZZ_MAX_LEN:-1024}")
  start=$(date +%s)
  if "$build_dir/tests/fuzz/${codec}_fuzz" -runs="$runs" -timeout=10 -print_final_stats=1 \
      "${extra[@]}" -artifact_prefix="$artifacts/${codec}-" "$work/$codec" >"$work/$codec.log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$codec.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$codec.log")
    echo "${codec}_fuzz: $execs executions in $(( $(date +%s) - start )) s ($rate exec/s), no crash"
  else
    echo "${codec}_fuzz FAILED; log tail:" >&2
    tail -n 40 "$work/$codec.log" >&2
    failed+=("$codec")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz-soak: failures in ${failed[*]} (artifacts in $artifacts)" >&2; exit 1; }
