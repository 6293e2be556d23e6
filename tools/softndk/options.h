// Command-line value parsing and checks shared by the softndk subcommands: sizes with binary
// suffixes, size lists and the 2 B - 8 MiB sweep, operation lists, and the placement of the two
// ends (in this process, `--server`, or a client of ADDRESS[:PORT]) for a given transport.
// Every check throws UsageError (exit status 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "address.h"
#include "protocol.h"

namespace softndk::cli {

// "4096", "4K", "4k", "4KiB", "4KB" (binary multiples), "1M", "1G" -> bytes.
std::optional<uint64_t> parse_size(const std::string& text);
// "64,4K,1M" -> sizes; UsageError naming the bad item.
std::vector<uint64_t> parse_size_list(const std::string& text);
// 2, 4, 8, ..., max (powers of two from 2 B; perftest's -a goes to 8 MiB).
std::vector<uint64_t> sweep_sizes(uint64_t max = uint64_t{8} << 20);
inline constexpr uint64_t kMaxMessageBytes = uint64_t{1} << 30;

// "send,write", "all" (send,write,read), "mem" (reg,fastreg,bind,sendinv) -> operations.
std::vector<Op> parse_op_list(const std::string& text);

// What an adapter opened with `uri` asks of MPA CRC: the URI's crc=1|0, else the transport's
// default (tcp: on); NotApplicable for a transport without a wire format (loopback).
CrcRequest crc_request_of(const std::string& uri);
// Schemes whose adapters take the crc=1|0 option (MPA over TCP).
bool has_mpa_crc(const std::string& uri);

// The adapter URI with `--crc` (`crc`: "", "on", "off") applied, and what it then requests.
struct CrcChoice {
  std::string uri;
  CrcRequest request = CrcRequest::NotApplicable;
  bool chosen = false;  // --crc or crc= in the URI: the user asked for `request`
};
// A server without a choice follows its clients: it adds crc=0 (MPA then uses CRC iff the
// client asks). UsageError when --crc contradicts the URI's crc= option. --crc over an
// in-process fabric has no effect (the caller says so).
CrcChoice apply_crc(const std::string& uri, const std::string& crc, bool server);

// Where the two ends of a `ping`/`perf` run are.
struct Placement {
  bool server = false;      // this process is a server (--server)
  bool in_process = false;  // both ends in this process (no peer address)
  SocketAddress peer;       // the server to connect to (client of another process)
  std::string uri;          // the adapter URI this process opens
};
// Checks --server / ADDRESS[:PORT] against the transport: an in-process fabric (loopback)
// cannot reach another process, which is a usage error with an explanation. Without --uri
// (`uri_given` false) a server listens on every IPv4 address (tcp://0.0.0.0) and a client of
// ADDRESS (an IP or a host name) opens tcp:// on the source address the kernel's routing
// picks for it; a client whose URI is a wildcard (tcp://0.0.0.0) gets that address too.
Placement place_ends(const std::string& command, const std::string& uri, bool uri_given,
                     bool server, const std::string& peer, std::optional<uint16_t> port);

}  // namespace softndk::cli
