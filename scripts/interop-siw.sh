#!/usr/bin/env bash
# Interop of softndk with Linux soft-iWARP (siw) and rdma-core's tools, run by developers (not
# by CI). Given the siw-vm harness (a QEMU guest with siw, rping and perftest; its directory is
# the argument), it boots the guest once per siw variant and runs, with softndk's MPA CRC on and
# off (the tcp URI option crc=1|0):
#   rping-c2s   softndk ping --rping (host)        -> rping -s (guest)
#   rping-s2c   rping -c -v (guest)                -> softndk ping --rping --server (host)
#   pt-T-c2s    softndk perf --perftest -o T (host) -> ib_T_bw -R (guest), T = send write read
#   pt-T-s2c    ib_T_bw -R (guest)                 -> softndk perf --perftest --server -o T (host)
#   pt-Tlat-c2s, pt-Tlat-s2c  the same with ib_T_lat and -m lat (pt-writelat-s2c needs a siw
#               that sends an RTR, the p2p variants: see docs/interop.md)
# Each run is captured on the host's loopback (the slirp side of the guest's connections) and
# checked with tshark: MPA Request and Reply decoded, FPDUs decoded, every CRC good when the MPA
# Reply says CRC is in use, nothing malformed; the guest's kernel log must show no siw CRC error and no oops.
# A pass/fail table is printed at the end (and written to OUT/results.txt).
#
# usage: scripts/interop-siw.sh SIWVM_DIR [options]
#        scripts/interop-siw.sh --check PCAP    (only the tshark check of one capture, as a row's)
#   SIWVM_DIR            the siw-vm harness (start.sh, stop.sh, run-in-guest.sh); its cache is
#                        $SIWVM_CACHE (passed to it as SIWVM_DIR, default /tmp/siw-vm)
#   --softndk PATH       the softndk program (default build/default/tools/softndk/softndk)
#   --variants "LIST"    siw variants (default "stock crc stock-fixed crc-fixed")
#   --crc "LIST"         softndk CRC settings, on and/or off (default "on off")
#   --tests "LIST"       rping-c2s rping-s2c pt-send-c2s pt-send-s2c pt-write-c2s pt-write-s2c
#                        pt-read-c2s pt-read-s2c (default all those), pt-sendlat-c2s
#                        pt-sendlat-s2c pt-writelat-c2s pt-writelat-s2c pt-readlat-c2s pt-readlat-s2c
#   --pt-iters N         perftest iterations, -n (default 200)
#   --pt-size BYTES      perftest message size, -s (default 65536)
#   --count N            pings per run (default 20)
#   --size BYTES         rping's buffer size, -S: 23 to 65535 (default 32768: FPDUs larger than
#                        slirp's MSS, so that the guest meets re-segmented FPDUs)
#   --uri-extra OPTS     more tcp URI options for softndk, e.g. "mss=1400"
#   --complete-delay MS  softndk's rping client: pause before NdkCompleteConnectEx (default 200;
#                        0 shows siw 6.1's RTR race, see docs/interop.md)
#   --out DIR            logs and captures (default a new directory under /tmp)
# Needs root (dumpcap on lo, QEMU); installs tshark with apt-get when it is missing.
# Exit status: 0 when every row passed, 1 otherwise, 2 usage.
set -uo pipefail

usage() { sed -n '2,/^# Needs root/p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

# Checks a capture; prints "ok (...)" or what failed. Whether MPA CRC is in use is read from the
# MPA Reply (its C flag): then every FPDU must carry a good CRC, else none may be checked bad.
wire_check() {  # pcap [connections, default 1]
  local pcap="$1" conns="${2:-1}" problems=() fpdus good bad bad_pkts reply crc=off
  local opts=(-o tcp.try_heuristic_first:TRUE --disable-heuristic rpcrdma_iwarp
              --disable-heuristic smb_direct_iwarp)
  ts() { tshark -r "$pcap" "${opts[@]}" "$@" 2>/dev/null; }
  # A client may retry a connection the guest refused (perftest's test connection, made before
  # the server listens again): Requests that got no Reply are allowed, Replies are counted.
  [ "$(ts -Y iwarp_mpa.req | wc -l)" -ge "$conns" ] || problems+=("fewer than $conns MPA Requests decoded")
  [ "$(ts -Y iwarp_mpa.rep | wc -l)" = "$conns" ] || problems+=("not $conns MPA Replies decoded")
  reply="$(ts -Y iwarp_mpa.rep -T fields -e tcp.payload | head -n 1)"
  # Byte 16 of the Reply holds M C R and the reserved bits: C is 0x40.
  [ -n "$reply" ] && (( 0x${reply:32:2} & 0x40 )) && crc=on
  local drops
  # dumpcap's own report at its end (PCAP.log, written by capture_start).
  drops="$(cat "$pcap.log" 2>/dev/null | sed -n 's|.*received/dropped on interface.*: [0-9]*/\([0-9]*\) .*|\1|p' | head -n 1)"
  [ "${drops:-0}" = 0 ] || problems+=("the capture dropped $drops packets: not judged")
  fpdus="$(ts -T fields -e iwarp_mpa.ulpdulength | tr ',' '\n' | grep -c . || true)"
  [ "$fpdus" -gt 0 ] || problems+=("no FPDU decoded")
  local verbose
  verbose="$(ts -V)"
  good="$(grep -c 'Good CRC32' <<<"$verbose" || true)"
  bad="$(grep -c 'Bad CRC32' <<<"$verbose" || true)"
  [ "$bad" = 0 ] || problems+=("$bad bad CRCs")
  if [ "$crc" = on ]; then
    [ "$good" = "$fpdus" ] || problems+=("$good good CRCs for $fpdus FPDUs")
  fi
  bad_pkts="$(ts -Y '_ws.malformed || _ws.expert.severity == error' | wc -l)"
  [ "$bad_pkts" = 0 ] || problems+=("$bad_pkts malformed/error packets")
  if [ ${#problems[@]} -eq 0 ]; then
    echo "ok ($fpdus FPDUs, MPA CRC $crc)"
  else
    (IFS=';'; echo "${problems[*]} (MPA CRC $crc)")
  fi
}

if [ "${1:-}" = --check ]; then
  [ -r "${2:-}" ] || usage
  wire_check "$2" "${3:-1}"
  exit 0
fi
[ $# -ge 1 ] || usage
[ "$1" = "-h" ] || [ "$1" = "--help" ] && usage
VM="$(cd "$1" && pwd)" || usage
shift
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SOFTNDK="$ROOT/build/default/tools/softndk/softndk"
VARIANTS="stock crc stock-fixed crc-fixed"
CRCS="on off"
TESTS="rping-c2s rping-s2c pt-send-c2s pt-send-s2c pt-write-c2s pt-write-s2c pt-read-c2s pt-read-s2c"
PT_ITERS=200
PT_SIZE=65536
COUNT=20
SIZE=32768
URI_EXTRA=""
COMPLETE_DELAY=200
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --softndk) SOFTNDK="$2"; shift ;;
    --variants) VARIANTS="$2"; shift ;;
    --crc) CRCS="$2"; shift ;;
    --tests) TESTS="$2"; shift ;;
    --count) COUNT="$2"; shift ;;
    --pt-iters) PT_ITERS="$2"; shift ;;
    --pt-size) PT_SIZE="$2"; shift ;;
    --size) SIZE="$2"; shift ;;
    --uri-extra) URI_EXTRA="$2"; shift ;;
    --complete-delay) COMPLETE_DELAY="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    *) echo "interop-siw: unknown option $1" >&2; usage ;;
  esac
  shift
done
[ -x "$VM/start.sh" ] || { echo "interop-siw: $VM/start.sh not found" >&2; exit 2; }
[ -x "$SOFTNDK" ] || { echo "interop-siw: $SOFTNDK is not built" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "interop-siw: needs root (dumpcap on lo, QEMU)" >&2; exit 2; }
export SIWVM_DIR="${SIWVM_CACHE:-/tmp/siw-vm}"
export SIWVM_NAME="${SIWVM_NAME:-interop}"
OUT="${OUT:-$(mktemp -d /tmp/softndk-interop.XXXXXX)}"
mkdir -p "$OUT"

if ! command -v tshark >/dev/null 2>&1 || ! command -v dumpcap >/dev/null 2>&1; then
  echo "interop-siw: installing tshark"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" |
    debconf-set-selections 2>/dev/null || true
  apt-get install -y -qq tshark >/dev/null || { echo "interop-siw: no tshark" >&2; exit 2; }
fi

# Host ports: H2G forwards host 127.0.0.1:$H2G to the guest's 7174 (rping -s there);
# the guest reaches host 127.0.0.1:$G2H at 10.0.2.100:$G2H (softndk's server).
H2G=$((20000 + RANDOM % 10000))
G2H=$((H2G + 1))
H2P=$((H2G + 2))  # host 127.0.0.1:$H2P -> the guest's 18515 (perftest servers there)
GUEST_IP=10.0.2.15
HOSTPEER=10.0.2.100

guest() { "$VM/run-in-guest.sh" "$@"; }
ROWS=()
FAILED=0
DUMPCAP_PID=""
SERVER_PID=""
cleanup() {
  [ -n "$DUMPCAP_PID" ] && kill -INT "$DUMPCAP_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  "$VM/stop.sh" >/dev/null 2>&1
}
trap cleanup EXIT

capture_start() {  # pcap
  # A large buffer: perftest's 64 KiB messages make loopback segments of up to 64 KiB, and the
  # default 2 MiB dropped two thirds of them (the check below then meets gaps, not bad CRCs).
  dumpcap -q -B 256 -i lo -f "tcp port $H2G or tcp port $G2H or tcp port $H2P" -w "$1" 2>"$1.log" &
  DUMPCAP_PID=$!
  for _ in $(seq 1 100); do
    grep -q "Capturing on" "$1.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "interop-siw: dumpcap did not start: $(cat "$1.log")" >&2
  return 1
}

capture_stop() {
  sleep 0.5
  [ -n "$DUMPCAP_PID" ] && kill -INT "$DUMPCAP_PID" 2>/dev/null && wait "$DUMPCAP_PID" 2>/dev/null
  DUMPCAP_PID=""
}

# Kernel trouble in the guest since the run began (siw CRC errors, oopses). An oops is read from
# the serial log on the host (the guest may not answer any more) and marks the guest for a reboot.
OOPSES=0
NEED_BOOT=0
guest_errors() {
  local console="$SIWVM_DIR/run/$SIWVM_NAME/console.log" n
  n="$(grep -cE 'kernel BUG|BUG:|Oops' "$console" 2>/dev/null || true)"
  if [ "${n:-0}" -gt "$OOPSES" ]; then
    OOPSES="$n"
    NEED_BOOT=1
    grep -E 'kernel BUG|BUG:|Oops' "$console" | tail -n 1 | sed 's/^\[ *[0-9.]*\] //'
    return
  fi
  guest -t 30 'dmesg -c' 2>/dev/null | grep -E 'crc error|siw.*(error|terminate)' | head -3
}

boot() {  # variant
  "$VM/stop.sh" >/dev/null 2>&1
  OOPSES=0
  NEED_BOOT=0
  "$VM/start.sh" -v "$1" -f "$H2G:7174" -f "$H2P:18515" -g "$G2H" >>"$OUT/start-$1.log" 2>&1 || return 1
  guest -t 30 'dmesg -c >/dev/null' >/dev/null 2>&1
  return 0
}

softndk_uri() {  # on|off
  local uri="tcp://127.0.0.1?crc=$([ "$1" = on ] && echo 1 || echo 0)"
  [ -n "$URI_EXTRA" ] && uri="$uri&$URI_EXTRA"
  echo "$uri"
}

run_rping_c2s() {  # crc logfile
  guest -t 30 "pkill -x rping; rm -f /tmp/srv.log" >/dev/null 2>&1
  guest -t 30 --bg srv "rping -s -a $GUEST_IP -p 7174 -v -S $SIZE" >/dev/null || return 1
  guest -t 40 "siwvm-wait-listen 7174 30" >/dev/null || { echo "rping -s did not listen"; return 1; }
  SOFTNDK_RPING_COMPLETE_DELAY_MS="$COMPLETE_DELAY" timeout 120 "$SOFTNDK" ping --rping -u "$(softndk_uri "$1")" -c "$COUNT" -i 0 -s "$SIZE" \
    --timeout 30 "127.0.0.1:$H2G" >"$2" 2>&1
  local rc=$?
  sleep 1
  guest -t 30 'cat /tmp/srv.log' >>"$2" 2>&1
  [ $rc = 0 ] || { echo "softndk exit $rc: $(tail -n 1 "$2")"; return 1; }
  grep -q "$COUNT pings" "$2" || { echo "softndk did not report $COUNT pings"; return 1; }
  return 0
}

run_rping_s2c() {  # crc logfile
  timeout 150 "$SOFTNDK" ping --rping --server -u "$(softndk_uri "$1")" -p "$G2H" -s "$SIZE" \
    --timeout 30 >"$2.server" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 50); do grep -qs listening "$2.server" && break; sleep 0.1; done
  guest -t 120 "rping -c -a $HOSTPEER -p $G2H -C $COUNT -v -S $SIZE" >"$2" 2>&1
  local rc=$?
  wait "$SERVER_PID"
  local src=$?
  SERVER_PID=""
  cat "$2.server" >>"$2"
  [ $rc = 0 ] || { echo "rping -c exit $rc: $(grep -v 'ping data' "$2" | head -n 2 | tr '\n' ' ')"; return 1; }
  [ "$(grep -c '^ping data' "$2")" = "$COUNT" ] || { echo "rping -c printed $(grep -c '^ping data' "$2") pings"; return 1; }
  [ $src = 0 ] || { echo "softndk server exit $src: $(tail -n 1 "$2.server")"; return 1; }
  return 0
}

# perftest's tool and softndk's mode for a test word: send -> ib_send_bw / bw, sendlat ->
# ib_send_lat / lat.
pt_tool() { case "$1" in *lat) echo "ib_${1%lat}_lat" ;; *) echo "ib_$1_bw" ;; esac; }
pt_mode() { case "$1" in *lat) echo "-m lat -o ${1%lat}" ;; *) echo "-m bw -o $1" ;; esac; }

run_pt_c2s() {  # test crc logfile
  local tool
  tool="$(pt_tool "$1")"
  guest -t 30 "pkill -x $tool; rm -f /tmp/srv.log" >/dev/null 2>&1
  guest -t 30 --bg srv "$tool -d siw0 -R -p 18515 -n $PT_ITERS -s $PT_SIZE" >/dev/null || return 1
  guest -t 40 "siwvm-wait-listen 18515 30" >/dev/null || { echo "$tool did not listen"; return 1; }
  # shellcheck disable=SC2046
  SOFTNDK_PERFTEST_COMPLETE_DELAY_MS="$COMPLETE_DELAY" timeout 150 "$SOFTNDK" perf --perftest $(pt_mode "$1") \
    -u "$(softndk_uri "$2")" -n "$PT_ITERS" -s "$PT_SIZE" --timeout 60 "127.0.0.1:$H2P" >"$3" 2>&1
  local rc=$?
  sleep 2
  guest -t 30 'cat /tmp/srv.log' >>"$3" 2>&1
  [ $rc = 0 ] || { echo "softndk exit $rc: $(tail -n 1 "$3")"; return 1; }
  # Result lines (size, iterations, then the numbers): softndk's and the guest server's.
  # ib_read_lat's server prints no numbers.
  [ "$(grep -cE "^ *$PT_SIZE +$PT_ITERS +[0-9.]+ +[0-9.]+" "$3")" -ge "$([ "$1" = readlat ] && echo 1 || echo 2)" ] ||
    { echo "not both ends printed a result line"; return 1; }
  return 0
}

run_pt_s2c() {  # test crc logfile
  local tool
  tool="$(pt_tool "$1")"
  # shellcheck disable=SC2046
  timeout 180 "$SOFTNDK" perf --perftest --server $(pt_mode "$1") -u "$(softndk_uri "$2")" -p "$G2H" \
    -n "$PT_ITERS" -s "$PT_SIZE" --timeout 60 >"$3.server" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 50); do grep -qs listening "$3.server" && break; sleep 0.1; done
  guest -t 170 "$tool -d siw0 -R -p $G2H -n $PT_ITERS -s $PT_SIZE $HOSTPEER" >"$3" 2>&1
  local rc=$?
  wait "$SERVER_PID"
  local src=$?
  SERVER_PID=""
  cat "$3.server" >>"$3"
  [ $rc = 0 ] || { echo "$tool exit $rc: $(tail -n 2 "$3" | tr '\n' ' ')"; return 1; }
  [ "$(grep -cE "^ *$PT_SIZE +$PT_ITERS +[0-9.]+ +[0-9.]+" "$3")" -ge "$([ "$1" = readlat ] && echo 1 || echo 2)" ] ||
    { echo "not both ends printed a result line"; return 1; }
  [ $src = 0 ] || { echo "softndk server exit $src: $(tail -n 1 "$3.server")"; return 1; }
  return 0
}

record() {  # variant crc test result detail
  ROWS+=("$(printf '%-12s %-4s %-10s %-5s %s' "$1" "$2" "$3" "$4" "$5")")
  [ "$4" = PASS ] || FAILED=$((FAILED + 1))
  echo "interop-siw: $1 crc=$2 $3: $4 $5"
}

for variant in $VARIANTS; do
  echo "interop-siw: booting siw variant $variant"
  if ! boot "$variant"; then
    for crc in $CRCS; do for t in $TESTS; do record "$variant" "$crc" "$t" FAIL "guest did not start"; done; done
    continue
  fi
  for crc in $CRCS; do
    for t in $TESTS; do
      base="$OUT/$variant-crc$crc-$t"
      if [ "$NEED_BOOT" = 1 ] && ! boot "$variant"; then
        record "$variant" "$crc" "$t" FAIL "guest did not restart after an oops"
        continue
      fi
      capture_start "$base.pcapng" || { record "$variant" "$crc" "$t" FAIL "no capture"; continue; }
      case "$t" in
        rping-c2s) why="$(run_rping_c2s "$crc" "$base.log")" ;;
        rping-s2c) why="$(run_rping_s2c "$crc" "$base.log")" ;;
        pt-*-c2s) why="$(run_pt_c2s "$(cut -d- -f2 <<<"$t")" "$crc" "$base.log")" ;;
        pt-*-s2c) why="$(run_pt_s2c "$(cut -d- -f2 <<<"$t")" "$crc" "$base.log")" ;;
        *) why="unknown test" ;;
      esac
      rc=$?
      capture_stop
      kernel="$(guest_errors)"
      conns=1
      [[ "$t" == pt-* ]] && conns=2  # perftest: a control and a test connection
      wire="$(wire_check "$base.pcapng" "$conns")"
      if [ $rc = 0 ] && [ -z "$kernel" ] && [[ "$wire" == ok* ]]; then
        record "$variant" "$crc" "$t" PASS "$wire"
      else
        record "$variant" "$crc" "$t" FAIL "${why:+$why; }${kernel:+siw: $(echo "$kernel" | head -n 1); }wire: $wire"
      fi
    done
  done
  "$VM/stop.sh" >/dev/null 2>&1
done

{
  echo "softndk interop with siw: $(date -u '+%Y-%m-%d %H:%M UTC'); count $COUNT, size $SIZE, perftest -n $PT_ITERS -s $PT_SIZE, complete delay $COMPLETE_DELAY ms${URI_EXTRA:+, uri +$URI_EXTRA}"
  printf '%-12s %-4s %-10s %-5s %s\n' variant crc test result detail
  for r in "${ROWS[@]}"; do echo "$r"; done
  echo "$(( ${#ROWS[@]} - FAILED )) passed, $FAILED failed; logs and captures in $OUT"
} | tee "$OUT/results.txt"
[ "$FAILED" = 0 ]
