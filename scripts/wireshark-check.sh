#!/usr/bin/env bash
# Wireshark-clean iWARP traffic: captures a real loopback session of the tcp
# transport (tests/transport/tcp_capture_session: connect with private data, Send, Write, Read,
# Send with Invalidate, a provoked Terminate, disconnect) with dumpcap and checks it with tshark:
# both MPA Requests and Replies decoded, every FPDU decoded, every CRC good, no malformed packet
# and no error-level expert item. Installs tshark (Debian package) when it is missing.
# Needs root (capturing on lo); exits 77 (skipped, with the reason) otherwise.
# usage: scripts/wireshark-check.sh <tcp_capture_session> [ip]     (ip: 127.0.0.1 or ::1)
set -euo pipefail
session="${1:?usage: wireshark-check.sh <tcp_capture_session> [ip]}"
ip="${2:-127.0.0.1}"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIPPED: capturing on lo needs root (dumpcap); run as root to check the traffic"
  exit 77
fi
if ! command -v tshark >/dev/null 2>&1 || ! command -v dumpcap >/dev/null 2>&1; then
  echo "wireshark-check: installing tshark"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" |
    debconf-set-selections 2>/dev/null || true
  if ! { apt-get update -qq && apt-get install -y -qq tshark >/dev/null; }; then
    echo "SKIPPED: tshark could not be installed"
    exit 77
  fi
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/softndk-wireshark.XXXXXX")"
dumpcap_pid=""
cleanup() {
  if [ -n "$dumpcap_pid" ]; then kill -INT "$dumpcap_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Two adjacent ports nothing else uses (not 5445, which Wireshark gives to another protocol).
port=$((41000 + RANDOM % 8000))
pcap="$work/run.pcapng"
dumpcap -q -i lo -f "tcp portrange $port-$((port + 1))" -w "$pcap" 2>"$work/dumpcap.log" &
dumpcap_pid=$!
for _ in $(seq 1 100); do
  grep -q "Capturing on" "$work/dumpcap.log" 2>/dev/null && break
  kill -0 "$dumpcap_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q "Capturing on" "$work/dumpcap.log"; then
  echo "SKIPPED: dumpcap cannot capture on lo here:"; cat "$work/dumpcap.log"; exit 77
fi

out="$(timeout 120 "$session" "$ip" "$port" 2>&1)" || { echo "$out"; echo "session failed"; exit 1; }
sleep 1
kill -INT "$dumpcap_pid"; wait "$dumpcap_pid" 2>/dev/null || true; dumpcap_pid=""
expected_fpdus="$(echo "$out" | sed -n 's/.*fpdus=\([0-9]*\).*/\1/p')"

opts=(-o tcp.try_heuristic_first:TRUE --disable-heuristic rpcrdma_iwarp
      --disable-heuristic smb_direct_iwarp)
ts() { tshark -r "$pcap" "${opts[@]}" "$@" 2>/dev/null; }

failures=0
check() {  # name, actual, expected
  if [ "$2" = "$3" ]; then echo "ok   $1: $2"; else echo "FAIL $1: $2 (expected $3)"; failures=$((failures + 1)); fi
}
check "MPA Requests decoded" "$(ts -Y iwarp_mpa.req | wc -l)" 2
check "MPA Replies decoded" "$(ts -Y iwarp_mpa.rep | wc -l)" 2
fpdus="$(ts -T fields -e iwarp_mpa.ulpdulength | tr ',' '\n' | grep -c . || true)"
check "FPDUs decoded" "$fpdus" "$expected_fpdus"
verbose="$(ts -V)"
check "FPDUs with a good CRC" "$(grep -c 'Good CRC32' <<<"$verbose" || true)" "$expected_fpdus"
check "bad CRCs" "$(grep -c 'Bad CRC32' <<<"$verbose" || true)" 0
check "malformed or error-level packets" \
  "$(ts -Y '_ws.malformed || _ws.expert.severity == error' | wc -l)" 0
check "expert error section" "$(ts -Y frame -q -z expert,error | grep -c '^Errors' || true)" 0
opcodes="$(ts -T fields -e iwarp_rdma.opcode | tr ',' '\n' | grep . | sort -u | tr '\n' ' ')"
for op in 0x00 0x01 0x02 0x03 0x04 0x07; do
  case " $opcodes" in *" $op "*) echo "ok   opcode $op present" ;;
    *) echo "FAIL opcode $op missing (seen: $opcodes)"; failures=$((failures + 1)) ;; esac
done
term="$(ts -Y 'iwarp_rdma.opcode == 0x07' -T fields -e iwarp_rdma.term_layer -e iwarp_rdma.term_etype_ddp -e iwarp_rdma.term_errcode_ddp_tagged | head -n 1)"
check "Terminate layer/type/code (DDP tagged invalid STag)" "$(echo $term)" "0x01 0x01 0x00"
echo "--- expert summary (Wireshark <= 4.4 warns about the Res and Rev fields of every MPA Rev 2 Request)"
ts -Y frame -q -z expert,warn | sed -n '1,20p'
if [ "$failures" -eq 0 ]; then echo "1 passed, 0 failed"; exit 0; fi
echo "0 passed, 1 failed"
exit 1
