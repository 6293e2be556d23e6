// Adapter URIs and socket addresses as the softndk command line sees them: which transport a
// URI names, whether it is an in-process fabric, the local IP it owns, and "IP[:PORT]" /
// "[IPv6]:PORT" parsing and printing. The adapter itself parses URIs; this is only what the tool
// needs to pick listen, source and destination addresses.
#pragma once

#include <softndk/ndkpi.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>

namespace softndk::cli {

// ND port used when none is given: the port `softndk <cmd> --server` listens on and the port a
// client connects to (perftest's default).
inline constexpr uint16_t kDefaultPort = 18515;

struct UriParts {
  std::string scheme;  // "loopback", "tcp", ...
  std::string host;    // from "scheme://host[:port]", brackets removed; may be empty
  std::string port;    // the authority's port, if any
  std::string query;   // after '?', without it
};

UriParts split_uri(const std::string& uri);

// True for transports whose fabric exists only inside one process (loopback): a server and a
// client in two processes cannot reach each other over them.
bool is_in_process(const UriParts& uri);

// The value of option `key` in the URI's query ("tcp://IP?crc=0" -> "0"), if it has it.
std::optional<std::string> uri_option(const std::string& uri, const std::string& key);

// The URI with "key=value" appended to its options.
std::string with_option(const std::string& uri, const std::string& key, const std::string& value);

// The local IP an adapter opened with this URI owns: the URI's host (tcp://IP), the first
// address of a loopback "addr=" option, else 127.0.0.1.
std::string local_ip(const UriParts& uri);

class SocketAddress {
 public:
  SocketAddress() = default;
  // "1.2.3.4", "1.2.3.4:5", "::1", "[::1]", "[::1]:5"; `default_port` when no port is given.
  static bool parse(const std::string& text, uint16_t default_port, SocketAddress* out);
  static SocketAddress from(const sockaddr* address, ULONG length);
  // As parse(), and also "NAME[:PORT]" for a host name (getaddrinfo): its IPv4 address when it
  // has one, else its IPv6 address; `family` (AF_INET, AF_INET6) asks for that family only.
  // "" on success, else why not ("cannot resolve host \"x\": Name or service not known").
  static std::string resolve(const std::string& text, uint16_t default_port, int family,
                             SocketAddress* out);

  const sockaddr_storage& storage() const { return storage_; }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage_); }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  ULONG length() const;
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  void set_port(uint16_t port);
  // "1.2.3.4:5" or "[::1]:5".
  std::string text() const;

 private:
  sockaddr_storage storage_{};
};

// The address of this host the kernel's routing uses to reach `destination` (a UDP socket
// connected to it: no packet is sent), as ndpingpong and perftest pick their source address.
// Nothing when there is no route.
std::optional<SocketAddress> source_address_for(const SocketAddress& destination);

// "tcp://IP" for an IPv4 address, "tcp://[IP]" for an IPv6 one.
std::string tcp_uri_of(const SocketAddress& address);

}  // namespace softndk::cli
