// `softndk ping --rping`: rping's exchange (rdma-core's rping tool), so that softndk talks to
// `rping -s` as a client and serves `rping -c` as a server, over tcp://IP with any iWARP peer.
//
// What rping does on the wire (captured between two Linux soft-iWARP ends; documented in
// docs/interop.md): no consumer private data (the MPA Request carries only the RFC 6581 IRD/ORD
// words, 1/1); then, for each ping, the client
//   1. Sends a 16-byte advertisement of its source buffer (below), the server RDMA Reads it,
//   2. the server Sends 16 bytes (all zero: "go on"),
//   3. the client Sends an advertisement of its sink buffer, the server RDMA Writes what it read
//      there, then Sends 16 zero bytes again;
// the client with -v compares the two buffers. Once the count (-C) is reached it disconnects.
// The advertisement: buffer address (64 bits), its STag (remote token, 32 bits), its length
// (32 bits), all big-endian. The ping text: "rdma-ping-N: " then printable characters starting
// at 'A' + N, NUL-terminated.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "address.h"

namespace softndk::cli {

struct PingOptions;
// The CLI entry: `softndk ping --rping [--server]`.
int run_rping(const PingOptions& options);

namespace rping {

inline constexpr uint16_t kDefaultPort = 7174;  // rping's
inline constexpr size_t kMessageBytes = 16;     // every Send of either side
inline constexpr uint64_t kMaxPingBytes = uint64_t{64} << 20;

struct Advertisement {
  uint64_t address = 0;
  uint32_t rkey = 0;
  uint32_t length = 0;
};
using Message = std::array<std::byte, kMessageBytes>;
Message encode(const Advertisement& advertisement);
Advertisement decode(const Message& message);

// rping's ping data number `index` in `size` bytes (the last one NUL).
void fill_ping(std::byte* out, size_t size, uint64_t index);

struct ClientOptions {
  std::string uri;
  SocketAddress server;
  uint64_t count = 10;
  uint64_t size = 64;
  double interval_s = 0;
  bool verbose = false;  // print each ping's data, as rping -V
  // Pause between the connect's completion (the MPA Reply) and NdkCompleteConnectEx, which
  // sends the RTR. Works around a race of Linux siw 6.1 as a responder (docs/interop.md):
  // it installs its RTR handler only after sending the Reply, so an RTR that comes back at
  // once may meet the old handler, which drops the connection (and oopses iw_cm). The
  // command line takes it from SOFTNDK_RPING_COMPLETE_DELAY_MS.
  uint32_t complete_delay_ms = 0;
};
// Runs `count` pings against an rping server; returns the pings done (== count) or throws Error
// (a mismatch names the ping and the first differing byte).
uint64_t run_client(const ClientOptions& options);

struct ServerOptions {
  std::string uri;
  uint16_t port = kDefaultPort;  // 0: any (tests)
  uint64_t max_size = 64 * 1024;  // the largest ping a client may advertise
  bool verbose = false;
  // Bound of the wait for the client; none: until SIGINT/SIGTERM.
  std::optional<double> accept_timeout_s;
  std::function<void(const SocketAddress&)> on_listening;  // the address it listens on
};
// Serves one rping client until it disconnects; returns the pings served or throws Error (an
// advertisement larger than max_size, a failed read or write, a lost connection).
uint64_t run_server(const ServerOptions& options);

}  // namespace rping
}  // namespace softndk::cli
