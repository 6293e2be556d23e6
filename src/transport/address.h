// Socket addresses as the core and transports pass them around: a value type over
// sockaddr_storage, IPv4 and IPv6, with comparison, wildcard tests and printing.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace softndk::transport {

class SockAddr {
 public:
  SockAddr() { std::memset(&storage_, 0, sizeof storage_); }

  // Copies a consumer-supplied address. False when the family or length is not IPv4/IPv6.
  bool assign(const sockaddr* addr, uint32_t length);
  static SockAddr ipv4(uint32_t host_order_ip, uint16_t port);
  static SockAddr ipv6(const in6_addr& ip, uint16_t port);
  // Parses "1.2.3.4", "1.2.3.4:5", "::1", "[::1]:5". False on anything else.
  static bool parse(const std::string& text, SockAddr* out);

  int family() const { return storage_.ss_family; }
  bool valid() const { return family() == AF_INET || family() == AF_INET6; }
  uint32_t length() const;  // 16 for IPv4, 28 for IPv6, 0 otherwise
  const sockaddr* raw() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* raw() { return reinterpret_cast<sockaddr*>(&storage_); }

  uint16_t port() const;  // host order
  void set_port(uint16_t port);
  bool is_wildcard() const;  // 0.0.0.0 or ::
  bool is_loopback() const;  // 127.0.0.0/8 or ::1
  bool same_ip(const SockAddr& other) const;
  SockAddr with_port(uint16_t port) const {
    SockAddr copy = *this;
    copy.set_port(port);
    return copy;
  }
  bool operator==(const SockAddr& other) const { return same_ip(other) && port() == other.port(); }
  bool operator<(const SockAddr& other) const;
  std::string to_string() const;  // "1.2.3.4:5" or "[::1]:5"

 private:
  sockaddr_storage storage_;
};

}  // namespace softndk::transport
