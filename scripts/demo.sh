#!/usr/bin/env bash
# The main job: set up, build (release) and show softndk working with its command line
# (docs/cli.md): `softndk ping` connects two adapters and times echoed sends, then a short
# `softndk perf` sweep measures send, RDMA write and RDMA read at a few sizes (a few seconds).
# Both ends run in this process over the adapter URI (default: the loopback fabric).
# softndk-demo, the step-by-step walk through the API, is built as well.
# Usage: scripts/demo.sh [adapter URI]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSOFTNDK_BUILD_TESTS=OFF \
  -DSOFTNDK_BUILD_BENCH=OFF >/dev/null
cmake --build build/release --target softndk-cli softndk-demo
softndk=build/release/tools/softndk/softndk
uri="${1:-loopback}"
"$softndk" ping --uri "$uri" --count 5 --interval 0.05
echo
"$softndk" perf --uri "$uri" --op send,write,read --size 64,4K,64K,1M --duration 0.25
