// Implementation of transport/address.h.
#include "transport/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <tuple>

namespace softndk::transport {

bool SockAddr::assign(const sockaddr* addr, uint32_t length) {
  std::memset(&storage_, 0, sizeof storage_);
  if (addr == nullptr) return false;
  if (addr->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    std::memcpy(&storage_, addr, sizeof(sockaddr_in));
    return true;
  }
  if (addr->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    std::memcpy(&storage_, addr, sizeof(sockaddr_in6));
    return true;
  }
  return false;
}

SockAddr SockAddr::ipv4(uint32_t host_order_ip, uint16_t port) {
  SockAddr a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage_);
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(host_order_ip);
  in->sin_port = htons(port);
  return a;
}

SockAddr SockAddr::ipv6(const in6_addr& ip, uint16_t port) {
  SockAddr a;
  auto* in = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  in->sin6_family = AF_INET6;
  in->sin6_addr = ip;
  in->sin6_port = htons(port);
  return a;
}

bool SockAddr::parse(const std::string& text, SockAddr* out) {
  std::string host = text;
  std::string port_text;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) return false;
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return false;
      port_text = host.substr(close + 2);
    }
    host = host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    auto colon = host.find(':');
    port_text = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  unsigned long port = 0;
  if (!port_text.empty()) {
    char* end = nullptr;
    port = std::strtoul(port_text.c_str(), &end, 10);
    if (*end != '\0' || port > 65535) return false;
  }
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    *out = ipv4(ntohl(v4.s_addr), static_cast<uint16_t>(port));
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    *out = ipv6(v6, static_cast<uint16_t>(port));
    return true;
  }
  return false;
}

uint32_t SockAddr::length() const {
  if (family() == AF_INET) return sizeof(sockaddr_in);
  if (family() == AF_INET6) return sizeof(sockaddr_in6);
  return 0;
}

uint16_t SockAddr::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

void SockAddr::set_port(uint16_t port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

bool SockAddr::is_wildcard() const {
  if (family() == AF_INET)
    return reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr == htonl(INADDR_ANY);
  if (family() == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr);
  return false;
}

bool SockAddr::is_loopback() const {
  if (family() == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr) >> 24) == 127;
  if (family() == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr);
  return false;
}

bool SockAddr::same_ip(const SockAddr& other) const {
  if (family() != other.family()) return false;
  if (family() == AF_INET)
    return reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&other.storage_)->sin_addr.s_addr;
  if (family() == AF_INET6)
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(&other.storage_)->sin6_addr,
                       sizeof(in6_addr)) == 0;
  return false;
}

bool SockAddr::operator<(const SockAddr& other) const {
  if (family() != other.family()) return family() < other.family();
  int c = 0;
  if (family() == AF_INET)
    c = std::memcmp(&reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr,
                    &reinterpret_cast<const sockaddr_in*>(&other.storage_)->sin_addr, 4);
  else if (family() == AF_INET6)
    c = std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr,
                    &reinterpret_cast<const sockaddr_in6*>(&other.storage_)->sin6_addr, 16);
  if (c != 0) return c < 0;
  return port() < other.port();
}

std::string SockAddr::to_string() const {
  // Built by appending (GCC 12 at -O3 warns falsely on "[" + std::string(...)).
  char buf[INET6_ADDRSTRLEN] = "?";
  std::string out;
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
    out.append(buf);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof buf);
    out.append("[").append(buf).append("]");
  } else {
    return "?";
  }
  out.append(":").append(std::to_string(port()));
  return out;
}

}  // namespace softndk::transport
