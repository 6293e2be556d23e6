// Socket addresses as the NDK functions take them (a sockaddr_storage with the length of its
// family), and the local addresses an adapter owns according to its URI ("tcp://<ip>",
// "loopback?addr=<ip>[,<ip>]", "shm://NAME?addr=<ip>[,<ip>]", the loopback range otherwise). Not here: parsing "IP:PORT" text
// for users (tools/softndk/address.h).
#pragma once

#include <softndk/ndkpi.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace softndk::ndkxx {

// `ip` (IPv4 dotted or IPv6 text, no brackets) and `port`; family AF_UNSPEC when `ip` is neither.
sockaddr_storage ip_address(const std::string& ip, uint16_t port);
// The length the NDK functions take: sizeof(sockaddr_in6) for AF_INET6, sizeof(sockaddr_in)
// otherwise.
ULONG address_length(const sockaddr_storage& address);
uint16_t port_of(const sockaddr_storage& address);
sockaddr_storage with_port(sockaddr_storage address, uint16_t port);
// The IP as text ("family N" for anything but IPv4 and IPv6).
std::string ip_of(const sockaddr_storage& address);

inline sockaddr* as_sockaddr(sockaddr_storage& address) {
  return reinterpret_cast<sockaddr*>(&address);
}

// True for the loopback transport's URIs ("loopback", "loopback?...").
bool is_loopback_uri(const std::string& uri);
// The family an adapter of `uri` is in: the family of the IP of a scheme://<ip> URI, of the first
// IP of an addr= option, AF_INET otherwise.
int uri_family(const std::string& uri);
// A local address of an adapter of `uri`, port 0: the URI's IP, the first IP of `family` in an
// addr= option, else 127.0.0.1 or ::1 (loopback adapters own the whole loopback range).
// AF_UNSPEC means uri_family().
sockaddr_storage uri_local_address(const std::string& uri, int family = AF_UNSPEC);
// True when an adapter of `uri` owns an address of `family` (scheme://<ip>: that IP's family;
// addr=: any of its IPs; otherwise both families).
bool uri_owns_family(const std::string& uri, int family);

}  // namespace softndk::ndkxx
