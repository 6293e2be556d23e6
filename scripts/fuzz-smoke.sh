#!/usr/bin/env bash
# Fuzz smoke test for the wire codecs: configures a clang build in build-fuzz/ with SOFTNDK_FUZZ=ON,
# builds every tests/fuzz/<codec>_fuzz target and runs each for N seconds (default 20) on a temp
# copy of tests/fuzz/corpus/<codec>/ (the repository is never modified). Exit status 1 on any crash,
# leak, timeout or invariant failure; reproducers are kept in build-fuzz/fuzz-artifacts/.
#
# usage: scripts/fuzz-smoke.sh [seconds-per-target]
# env:   SOFTNDK_FUZZ_BUILD_DIR   build directory (default <repo>/build-fuzz)
#        SOFTNDK_FUZZ_SOURCE_DIR  CMake source directory (default <repo>)
set -euo pipefail

seconds="${1:-20}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -lt 1 ]]; then
  echo "usage: $0 [seconds-per-target]" >&2
  exit 2
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source_dir="${SOFTNDK_FUZZ_SOURCE_DIR:-$repo}"
build_dir="${SOFTNDK_FUZZ_BUILD_DIR:-$repo/build-fuzz}"
corpus_root="$repo/tests/fuzz/corpus"
codecs=(crc32c mpa ddp terminate fpdu_reader)

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

cmake -S "$source_dir" -B "$build_dir" "${generator[@]}" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOFTNDK_FUZZ=ON -DSOFTNDK_BUILD_BENCH=OFF
cmake --build "$build_dir" --target "${codecs[@]/%/_fuzz}"

work="$(mktemp -d "${TMPDIR:-/tmp}/softndk-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
artifacts="$build_dir/fuzz-artifacts"
mkdir -p "$artifacts"

failed=()
for codec in "${codecs[@]}"; do
  binary="$(find "$build_dir" -type f -name "${codec}_fuzz" -perm -u+x | head -n 1)"
  if [[ -z "$binary" ]]; then
    echo "fuzz-smoke: ${codec}_fuzz was not built" >&2
    failed+=("$codec")
    continue
  fi
  mkdir -p "$work/$codec"
  if [[ -d "$corpus_root/$codec" ]]; then cp -R "$corpus_root/$codec/." "$work/$codec/"; fi
  echo "=== ${codec}_fuzz: ${seconds}s, $(find "$work/$codec" -type f | wc -l) seeds"
  if "$binary" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$artifacts/${codec}-" "$work/$codec" >"$work/$codec.log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$work/$codec.log" || true
  else
    echo "fuzz-smoke: ${codec}_fuzz FAILED; log tail:" >&2
    tail -n 40 "$work/$codec.log" >&2
    failed+=("$codec")
  fi
done

if [[ ${#failed[@]} -ne 0 ]]; then
  echo "fuzz-smoke: failures in: ${failed[*]} (artifacts in $artifacts)" >&2
  exit 1
fi
echo "fuzz-smoke: all ${#codecs[@]} targets ran ${seconds}s without a crash"
