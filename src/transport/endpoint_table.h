// The NDK endpoint rules that the socket-based transports (tcp, shm) enforce above the
// kernel's: one listener or connector per address and port unless it is a shared endpoint
// (NDK_FN_CREATE_SHARED_ENDPOINT), a wildcard endpoint taking its port on every address, no two
// connections with the same four-tuple (NDK_FN_CONNECT: STATUS_ADDRESS_ALREADY_EXISTS), and
// port 0 drawn from the dynamic range 49152-65535 (RFC 6335) whatever the kernel's range is.
// One table per transport kind and process; `fabric` separates independent namespaces (an shm
// fabric name; "" for tcp).
#pragma once

#include <softndk/ndkpi.h>

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "transport/address.h"

namespace softndk::transport {

class EndpointTable {
 public:
  static constexpr uint16_t kEphemeralFirst = 49152;
  static constexpr uint16_t kEphemeralLast = 65535;

  // True when `address`'s port is held by an endpoint on the same IP or on a wildcard of its
  // family (or `address` is a wildcard and any endpoint holds the port).
  bool port_in_use(const std::string& fabric, const SockAddr& address) const;
  // Records an endpoint on `address`; false (nothing recorded) when port_in_use().
  bool add_endpoint(const std::string& fabric, const SockAddr& address);
  void remove_endpoint(const std::string& fabric, const SockAddr& address);

  // Records a connection; false when one with the same four-tuple exists.
  bool add_connection(const std::string& fabric, const SockAddr& local, const SockAddr& remote);
  void remove_connection(const std::string& fabric, const SockAddr& local,
                         const SockAddr& remote);

  // Port 0: tries the dynamic range from a random start until `try_port` returns something
  // other than STATUS_SHARING_VIOLATION; STATUS_TOO_MANY_ADDRESSES when every port is taken.
  static NTSTATUS bind_ephemeral(const std::function<NTSTATUS(uint16_t)>& try_port);

 private:
  // The endpoints on one fabric, family and port: their addresses (a few: one per IP, or the
  // wildcard alone). Looked up by port, never scanned whole (10,000 connections: 10,000
  // endpoints).
  using PortKey = std::tuple<std::string, int, uint16_t>;
  using Tuple = std::tuple<std::string, SockAddr, SockAddr>;
  bool port_in_use_locked(const std::string& fabric, const SockAddr& address) const;
  mutable std::mutex mutex_;
  std::map<PortKey, std::vector<SockAddr>> endpoints_;
  std::set<Tuple> connections_;
};

// URI option values ("?key=value"): "0" or "1"; a decimal in [min, max] (at most 10 digits).
// False, and *out untouched, on anything else.
bool parse_option_flag(const std::string& value, bool* out);
bool parse_option_number(const std::string& value, uint64_t min, uint64_t max, uint64_t* out);

}  // namespace softndk::transport
