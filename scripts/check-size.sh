#!/usr/bin/env bash
# Fails when a source file in src/ is longer than 700 lines or a function in src/ longer than 80
# lines (clang-tidy readability-function-size over the build's compile_commands.json).
# Usage: scripts/check-size.sh [build dir, default build/default]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/default}
fail=0
while read -r lines file; do
  [ "$file" = total ] && continue
  if [ "$lines" -gt 700 ]; then echo "size: $file has $lines lines (at most 700)"; fail=1; fi
done < <(git ls-files 'src/*.cpp' 'src/*.h' | xargs wc -l)
if ! command -v clang-tidy >/dev/null; then
  echo "size: clang-tidy not found; function sizes not checked"; exit $fail
fi
config='{CheckOptions: [{key: readability-function-size.LineThreshold, value: 80}]}'
for f in $(git ls-files 'src/*.cpp'); do
  out=$(clang-tidy -p "$build" --quiet --checks='-*,readability-function-size' --config="$config" \
        "$f" 2>/dev/null | grep 'warning:' || true)
  if [ -n "$out" ]; then echo "$out"; fail=1; fi
done
[ $fail -eq 0 ] && echo "size: every file <= 700 lines, every function <= 80 lines"
exit $fail
