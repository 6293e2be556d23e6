#!/usr/bin/env bash
# Fails when a layer includes a layer above it (docs/architecture.md "Layers").
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
check() {  # folder, forbidden include pattern, why
  if grep -rnE "#include \"($2)" "src/$1" 2>/dev/null; then
    echo "layering: src/$1 must not include $2 ($3)"; fail=1
  fi
}
check util   'wire/|transport/|core/|abi/' "util is the bottom layer"
check wire   'transport/|core/|abi/'       "the codec is pure"
check transport 'core/|abi/'               "transports never reach into the core"
check core   'abi/|transport/(loopback|tcp|shm|registry)' "core knows only transport/transport.h"
if grep -rnE '#include "(core|transport|wire|util|abi)/' tools tests/conformance tests/support 2>/dev/null; then
  echo "layering: tools and the conformance suite use the public ABI only"; fail=1
fi
exit $fail
