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
# src/ndkxx (the C++ layer over the public ABI) includes <softndk/...>, its own headers, the
# standard library and the socket headers the NDK's addresses need: nothing else of the tree.
ndkxx_allowed='<softndk/[a-z_]+\.h>|"ndkxx/[a-z_]+\.h"|<[a-z_]+>|<(arpa/inet|netinet/in|sys/socket)\.h>'
if grep -rnE '^\s*#\s*include' src/ndkxx | grep -vE "#\s*include\s+($ndkxx_allowed)"; then
  echo "layering: src/ndkxx includes only <softndk/...>, ndkxx/, the standard and socket headers"
  fail=1
fi
# The conformance suite runs against any provider: its files include <softndk/...>, the standard
# library, gtest/nlohmann and tests/support (quoted, no path), nothing of src/.
suite_allowed='<softndk/[a-z_]+\.h>|<[a-z_]+>|<gtest/gtest\.h>|<nlohmann/json\.hpp>|<unistd\.h>|"[a-z_]+\.h"'
if grep -rnE '^\s*#\s*include' tests/conformance | grep -vE "#\s*include\s+($suite_allowed)"; then
  echo "layering: tests/conformance includes only <softndk/...>, the standard library, tests/support"
  fail=1
fi
exit $fail
