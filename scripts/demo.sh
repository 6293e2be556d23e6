#!/usr/bin/env bash
# The main job: set up, build (release) and run the loopback demo: two adapters connect and move
# data with send, RDMA write and RDMA read. Usage: scripts/demo.sh [adapter URI]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSOFTNDK_BUILD_TESTS=OFF \
  -DSOFTNDK_BUILD_BENCH=OFF >/dev/null
cmake --build build/release --target softndk-demo
exec build/release/tools/demo/softndk-demo "${1:-loopback}"
