#!/usr/bin/env bash
# Cross-process tests of the shm transport (shm_node, public ABI only), in a fabric of their own:
#   exchange  a server and a client process move data both ways (Send, RDMA Write, RDMA Read,
#             private data), then disconnect gracefully;
#   kill      both stream Writes and Reads; the server is killed with SIGKILL: the client's
#             requests must all complete (with an error where they could not finish) and its
#             disconnect event must fire, in bounded time;
#   nodump    the kill test with both processes non-dumpable (prctl(PR_SET_DUMPABLE, 0): the
#             kernel refuses cross-memory attach between them), the data goes through the rings;
#   ops       the memory operations over three connections (tests/transport/ndk_node_ops.cpp):
#             receives through an SRQ, fast-register, send-and-invalidate, a memory window bound
#             and invalidated, accesses with invalidated tokens and past a window's end refused.
# Each node also checks that it leaked no descriptor. Every wait is bounded.
# usage: shm_cross_process_test.sh <shm_node> exchange|kill|nodump|ops
set -euo pipefail
node="$1"; what="$2"
uri="shm://xproc-$$"
work="$(mktemp -d)"; server=""
cleanup() { [[ -n "$server" ]] && kill -9 "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
mode=""; [[ "$what" == kill ]] && mode=stream; [[ "$what" == nodump ]] && mode=stream-nodump
[[ "$what" == ops ]] && mode=ops
# The server runs without a `timeout` wrapper so that $server is the node itself (SIGKILL must
# reach it); the cleanup trap kills it in every case.
"$node" server "$uri" "$work/port" $mode >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 200); do [[ -s "$work/port" ]] && break; sleep 0.05; done
[[ -s "$work/port" ]] || { echo "server did not publish its port"; cat "$work/server.log"; exit 1; }
status=0
if [[ -z "$mode" || "$mode" == ops ]]; then
  timeout 60 "$node" client "$uri" 127.0.0.1 "$(cat "$work/port")" $mode || status=$?
  for _ in $(seq 1 400); do kill -0 "$server" 2>/dev/null || break; sleep 0.05; done
  wait "$server" || { echo "server failed"; status=1; }
  server=""
  cat "$work/server.log"
else
  timeout 60 "$node" client "$uri" 127.0.0.1 "$(cat "$work/port")" $mode >"$work/client.log" 2>&1 &
  client=$!
  # Once connected, let traffic flow, then kill the server with requests outstanding on both
  # sides (slow builds, e.g. ThreadSanitizer, take seconds to connect).
  for _ in $(seq 1 600); do grep -q connected "$work/client.log" 2>/dev/null && break; sleep 0.05; done
  sleep 1
  kill -9 "$server"; wait "$server" 2>/dev/null || true; server=""
  wait "$client" || status=$?
  cat "$work/client.log"
  grep -q "link-cut ok" "$work/client.log" || { echo "the client did not finish cleanly"; status=1; }
  grep -q "link down after 0 successful" "$work/client.log" && { echo "no traffic before the kill"; status=1; }
fi
[[ $status -eq 0 ]] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $status
