#!/usr/bin/env bash
# The conformance suite on the shm transport (CTest entry conformance_shm): a fabric of its own
# per run (shm://conformance-<pid>), so that concurrent runs on one host never meet, minus the
# tests named in <exclude-file> (see run_conformance_tcp.sh for the format).
# usage: run_conformance_shm.sh <conformance_test> <exclude-file> [uri options, e.g. ?ring_kib=64]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/run_conformance_tcp.sh" "$1" "shm://conformance-$$${3:-}" "$2"
