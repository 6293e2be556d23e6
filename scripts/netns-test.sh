#!/usr/bin/env bash
# Across hosts: a softndk server and client (tests/transport/tcp_node, public ABI) in two network
# namespaces joined by a veth pair move data both ways (RDMA Writes and Reads), then the link is
# cut mid-transfer. Passes when every posted request completed (with an error where it could not
# finish), nothing hung, and both sides reported the disconnect. Namespaces are always removed.
# Needs root and `ip netns`; exits 77 (skipped, with the reason) otherwise.
# usage: scripts/netns-test.sh <tcp_node> [down|delete]
set -euo pipefail
node="${1:?usage: netns-test.sh <tcp_node> [down|delete]}"
cut="${2:-down}"

if [ "$(id -u)" -ne 0 ]; then echo "SKIPPED: network namespaces need root"; exit 77; fi
if ! command -v ip >/dev/null 2>&1; then echo "SKIPPED: iproute2 (ip) is missing"; exit 77; fi

tag="$$"
ns_a="softndk-a-$tag"; ns_b="softndk-b-$tag"
veth_a="sndka$tag"; veth_b="sndkb$tag"
veth_a="${veth_a:0:15}"; veth_b="${veth_b:0:15}"
ip_a="10.213.7.1"; ip_b="10.213.7.2"   # inside our own namespaces only
work="$(mktemp -d "${TMPDIR:-/tmp}/softndk-netns.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if ! ip netns add "$ns_a" 2>"$work/err"; then
  echo "SKIPPED: cannot create network namespaces here: $(cat "$work/err")"; exit 77
fi
ip netns add "$ns_b"
ip link add "$veth_a" type veth peer name "$veth_b"
ip link set "$veth_a" netns "$ns_a"
ip link set "$veth_b" netns "$ns_b"
ip -n "$ns_a" addr add "$ip_a/24" dev "$veth_a"
ip -n "$ns_b" addr add "$ip_b/24" dev "$veth_b"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set "$veth_a" up
ip -n "$ns_b" link set "$veth_b" up

opts="link_timeout_ms=3000"
ip netns exec "$ns_a" timeout 150 "$node" server "tcp://$ip_a?$opts" "$work/port" stream \
  >"$work/server.log" 2>&1 &
pids+=($!); server=$!
for _ in $(seq 1 200); do [ -s "$work/port" ] && break; sleep 0.05; done
if [ ! -s "$work/port" ]; then echo "server did not start"; cat "$work/server.log"; exit 1; fi
ip netns exec "$ns_b" timeout 150 "$node" client "tcp://$ip_b?$opts" "$ip_a" "$(cat "$work/port")" \
  stream >"$work/client.log" 2>&1 &
pids+=($!); client=$!

sleep 3  # data flows both ways meanwhile
if ! kill -0 "$server" 2>/dev/null || ! kill -0 "$client" 2>/dev/null; then
  echo "a side ended before the cut"; cat "$work/server.log" "$work/client.log"; exit 1
fi
echo "netns-test: cutting the link ($cut) mid-transfer"
if [ "$cut" = "delete" ]; then
  ip -n "$ns_a" link del "$veth_a"
else
  ip -n "$ns_a" link set "$veth_a" down
fi

status=0
wait "$server" || status=$?
server_status=$status
status=0
wait "$client" || status=$?
client_status=$status
pids=()
cat "$work/server.log" "$work/client.log"
ok=1
for side in server client; do
  grep -q "tcp_node $side: link-cut ok" "$work/$side.log" || { echo "FAIL: $side"; ok=0; }
  grep -q "disconnect_events=1" "$work/$side.log" || { echo "FAIL: $side saw no disconnect event"; ok=0; }
done
[ "$server_status" -eq 0 ] && [ "$client_status" -eq 0 ] || ok=0
if [ "$ok" -eq 1 ]; then echo "1 passed, 0 failed"; exit 0; fi
echo "0 passed, 1 failed"
exit 1
