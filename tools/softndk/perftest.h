// `softndk perf --perftest`: perftest's exchange (linux-rdma/perftest, `ib_send_bw`,
// `ib_write_bw`, `ib_read_bw` with -R, its rdma_cm mode), so that softndk measures against a
// perftest server as a client and serves a perftest client as a server, over tcp://IP with any
// iWARP peer.
//
// What perftest 6.06 (Debian 12's 4.5+0.17-1) does on the wire, captured between two Linux
// soft-iWARP ends (docs/interop.md, "perftest's rdma_cm exchange"): the client makes a control
// connection (IRD/ORD 0/0, no private data), then one test connection to the same port. Every
// control message is one Send, the client's first, the server answering with the same size:
//   version text (16 bytes, NUL-padded), cycle buffer (4, big-endian), cache line (4,
//   big-endian), MTU (2: an ASCII digit and NUL), a 56-byte zero sync, [test connection], a
//   56-byte zero sync, then 56-byte destinations (kDestRounds of them), the data phase, one
//   more destination, and for write/read the client's five 8-byte report values and a last
//   destination.
// The destination is perftest's `pingpong_dest` with every integer big-endian: LID, outstanding
// reads, QP number, PSN, rkey, 4 bytes padding, buffer address (64 bits), GID (16 raw bytes),
// SRQ number, GID index. Only the rkey and the address matter over rdma_cm: the RDMA target of
// write/read, and for send the peer's credit word (iWARP has no RNR retry, so perftest's send
// receiver RDMA-Writes its running receive count, a 32-bit word in host order, into the sender's
// credit word; the sender keeps at most the receive depth unacknowledged).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "address.h"

namespace softndk::cli {

struct PerfOptions;
// The CLI entry: `softndk perf --perftest [--server]`.
int run_perftest(const PerfOptions& options);

namespace perftest {

inline constexpr uint16_t kDefaultPort = 18515;   // perftest's
inline constexpr size_t kMaxMessageBytes = 56;    // perftest's control receive
inline constexpr size_t kVersionBytes = 16;
inline constexpr size_t kDestBytes = 56;
inline constexpr const char* kVersion = "6.06";   // what softndk announces (below 6.28: no
                                                   // parameter negotiation)
inline constexpr double kOldestPeerVersion = 5.70;  // perftest refuses older peers itself
inline constexpr uint32_t kCycleBuffer = 4096;
inline constexpr uint32_t kCacheLine = 64;
inline constexpr uint32_t kDefaultRxDepth = 512;  // perftest's receive depth of send tests
inline constexpr uint32_t kDefaultTxDepth = 128;

enum class Test { Send, Write, Read };
const char* test_name(Test test);  // "send", "write", "read"
// 56-byte destination exchanges between the zero sync after the test connection and the data
// phase (perftest 6.06, one QP): bandwidth send 4, write and read 3; latency (`lat`) 4.
int dest_rounds(Test test, bool lat = false);
// Destination exchanges after the data phase of a latency test: write 0, send and read 1.
int lat_syncs_after(Test test);

// perftest's `struct pingpong_dest`.
struct Dest {
  uint32_t lid = 0;
  uint32_t out_reads = 0;
  uint32_t qpn = 0;
  uint32_t psn = 0;
  uint32_t rkey = 0;
  uint64_t address = 0;
  std::array<uint8_t, 16> gid{};
  uint32_t srqn = 0;
  uint32_t gid_index = 0;
};
using DestMessage = std::array<std::byte, kDestBytes>;
DestMessage encode(const Dest& dest);
Dest decode(const DestMessage& message);

// The small control messages, as sent.
std::vector<std::byte> version_message(const char* version);
std::vector<std::byte> be32_message(uint32_t value);
std::vector<std::byte> mtu_message();            // "3" and NUL: 1024 bytes, what siw says
std::vector<std::byte> be64_message(uint64_t value);
std::vector<std::byte> double_message(double value);  // IEEE bits, big-endian
uint32_t be32_of(const std::vector<std::byte>& message);
uint64_t be64_of(const std::vector<std::byte>& message);
double double_of(const std::vector<std::byte>& message);
// The version text of a version message (up to the first NUL) and its value (atof, 0 if none).
std::string version_text(const std::vector<std::byte>& message);
double version_value(const std::string& text);

// perftest's numbers of one run (print_report_bw): MB/s of 2^20 bytes, Mpps.
struct Report {
  uint64_t size = 0;
  uint64_t iterations = 0;
  double peak_mb_s = 0;
  double average_mb_s = 0;
  double message_rate_mpps = 0;
};
// The perftest-style table line: "#bytes #iterations BW peak BW average MsgRate".
std::string report_header();
std::string report_line(const Report& report);

// perftest's latency numbers (print_report_lat), in microseconds.
struct LatencyReport {
  uint64_t size = 0;
  uint64_t iterations = 0;
  double t_min = 0, t_max = 0, t_typical = 0, t_avg = 0, t_stdev = 0, p99 = 0, p999 = 0;
};
std::string latency_header();
std::string latency_line(const LatencyReport& report);

struct ClientOptions {
  std::string uri;
  SocketAddress server;
  Test test = Test::Write;
  uint64_t size = 65536;
  uint64_t iterations = 1000;
  uint32_t tx_depth = kDefaultTxDepth;
  // Pause between a connect's completion and NdkCompleteConnectEx (siw 6.1's responder RTR
  // race, docs/interop.md); the command line takes it from SOFTNDK_PERFTEST_COMPLETE_DELAY_MS.
  uint32_t complete_delay_ms = 0;
};
// One test against a perftest server: returns the client's numbers, or throws Error.
Report run_client(const ClientOptions& options);
// One latency test (ib_write_lat, ib_send_lat, ib_read_lat) against a perftest server.
LatencyReport run_latency_client(const ClientOptions& options);

struct ServerOptions {
  std::string uri;
  Test test = Test::Write;
  uint16_t port = kDefaultPort;  // 0: any (tests)
  uint64_t size = 65536;         // the largest message the client may use
  uint64_t iterations = 1000;    // send: the receives to count (as the client's -n)
  std::optional<double> accept_timeout_s;  // none: until SIGINT/SIGTERM
  std::function<void(const SocketAddress&)> on_listening;
};
// Serves one perftest client (one test); returns the numbers it reports: the client's for
// write/read (as perftest's server prints them), its own for send. Throws Error.
Report run_server(const ServerOptions& options);
// Serves one perftest latency client; returns this side's numbers (read: none, perftest's
// read_lat server only syncs).
LatencyReport run_latency_server(const ServerOptions& options);

}  // namespace perftest
}  // namespace softndk::cli
