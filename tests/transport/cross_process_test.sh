#!/usr/bin/env bash
# Cross-process test of the tcp transport: a server process and a client process (tcp_node, public
# ABI only) connect over tcp://<ip> and move data both ways, then disconnect; with "ops", they
# run the memory operations instead (SRQ, fast-register, send-and-invalidate, memory windows,
# refused accesses: ndk_node_ops.cpp). Every wait is bounded.
# usage: cross_process_test.sh <tcp_node> <ip> [ops]
set -euo pipefail
node="$1"; ip="$2"; mode="${3:-}"
uri="tcp://$ip"; [[ "$ip" == *:* ]] && uri="tcp://[$ip]"
work="$(mktemp -d)"; server=""
cleanup() { [[ -n "$server" ]] && kill "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
timeout 60 "$node" server "$uri" "$work/port" $mode >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 200); do [[ -s "$work/port" ]] && break; sleep 0.05; done
[[ -s "$work/port" ]] || { echo "server did not publish its port"; cat "$work/server.log"; exit 1; }
status=0
timeout 60 "$node" client "$uri" "$ip" "$(cat "$work/port")" $mode || status=$?
wait "$server" || { echo "server failed"; status=1; }
server=""
cat "$work/server.log"
[[ $status -eq 0 ]] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $status
