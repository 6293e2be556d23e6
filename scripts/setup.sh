#!/usr/bin/env bash
# Installs the Debian 12 packages softndk needs to build and test (idempotent; runs apt-get
# only when something is missing). See README.md "Dependencies" for why each is here.
set -euo pipefail
packages=(
  cmake ninja-build g++ clang lld libclang-rt-14-dev   # build, sanitizers, libFuzzer
  clang-tidy                                           # scripts/check-size.sh (function sizes)
  libgtest-dev libgmock-dev libbenchmark-dev           # tests and micro-benchmarks
  libisal-dev                                          # CRC32c for MPA (iWARP)
  libcli11-dev nlohmann-json3-dev                      # the softndk command line
  gnuplot-nox                                          # softndk perf --plot (SVG/PNG charts)
  pandoc                                               # man pages: docs/man/*.md to roff
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
