// Implementation of address.h.
#include "address.h"

#include <netdb.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "ndkxx/address.h"

namespace softndk::cli {

UriParts split_uri(const std::string& uri) {
  UriParts parts;
  std::string rest = uri;
  size_t question = rest.find('?');
  if (question != std::string::npos) {
    parts.query = rest.substr(question + 1);
    rest = rest.substr(0, question);
  }
  size_t slashes = rest.find("://");
  if (slashes == std::string::npos) {
    parts.scheme = rest;
    return parts;
  }
  parts.scheme = rest.substr(0, slashes);
  std::string authority = rest.substr(slashes + 3);
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    parts.host = authority.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < authority.size() && authority[close + 1] == ':')
      parts.port = authority.substr(close + 2);
    return parts;
  }
  size_t colon = authority.find(':');
  parts.host = authority.substr(0, colon);
  if (colon != std::string::npos) parts.port = authority.substr(colon + 1);
  return parts;
}

bool is_in_process(const UriParts& uri) { return uri.scheme == "loopback"; }

std::optional<std::string> uri_option(const std::string& uri, const std::string& key) {
  const std::string query = split_uri(uri).query;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    std::string option = query.substr(start, end == std::string::npos ? end : end - start);
    if (option.size() > key.size() && option.compare(0, key.size(), key) == 0 &&
        option[key.size()] == '=')
      return option.substr(key.size() + 1);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return std::nullopt;
}

std::string with_option(const std::string& uri, const std::string& key, const std::string& value) {
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
}

std::string local_ip(const UriParts& uri) {
  if (!uri.host.empty()) return uri.host;
  size_t start = 0;
  while (start <= uri.query.size()) {
    size_t end = uri.query.find('&', start);
    std::string option = uri.query.substr(start, end == std::string::npos ? end : end - start);
    if (option.rfind("addr=", 0) == 0) {
      std::string list = option.substr(5);
      return list.substr(0, list.find(','));
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "127.0.0.1";
}

bool SocketAddress::parse(const std::string& text, uint16_t default_port, SocketAddress* out) {
  std::string host = text;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return false;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return false;
      port = text.substr(close + 2);
      if (port.empty()) return false;  // "[::1]:"
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    size_t colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.empty()) return false;  // "1.2.3.4:"
  }
  uint16_t port_value = default_port;
  if (!port.empty()) {
    char* end = nullptr;
    unsigned long v = std::strtoul(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || v > 65535) return false;
    port_value = static_cast<uint16_t>(v);
  }
  SocketAddress result;
  result.storage_ = ndkxx::ip_address(host, port_value);
  if (result.family() == AF_UNSPEC) return false;
  *out = result;
  return true;
}

std::string SocketAddress::resolve(const std::string& text, uint16_t default_port, int family,
                                   SocketAddress* out) {
  if (parse(text, default_port, out)) {
    if (family != AF_UNSPEC && out->family() != family)
      return "\"" + text + "\" is not an " + (family == AF_INET6 ? "IPv6" : "IPv4") + " address";
    return "";
  }
  // A host name: "NAME" or "NAME:PORT" (IPv6 literals are parse()'s).
  std::string host = text;
  std::string port;
  const size_t colon = text.find(':');
  if (colon != std::string::npos) {
    if (text.find(':', colon + 1) != std::string::npos) return "bad address \"" + text + "\"";
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  uint16_t port_value = default_port;
  if (colon != std::string::npos) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || v > 65535) return "bad port in \"" + text + "\"";
    port_value = static_cast<uint16_t>(v);
  }
  if (host.empty()) return "bad address \"" + text + "\"";
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int error = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (error != 0)
    return "cannot resolve host \"" + host + "\": " + gai_strerror(error);
  const addrinfo* chosen = nullptr;
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    if (chosen == nullptr || (chosen->ai_family == AF_INET6 && a->ai_family == AF_INET)) chosen = a;
  }
  if (chosen != nullptr) {
    *out = from(chosen->ai_addr, static_cast<ULONG>(chosen->ai_addrlen));
    out->set_port(port_value);
  }
  freeaddrinfo(list);
  if (chosen == nullptr) return "host \"" + host + "\" has no IP address";
  return "";
}

std::optional<SocketAddress> source_address_for(const SocketAddress& destination) {
  const int fd = ::socket(destination.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  SocketAddress probe = destination;
  if (probe.port() == 0) probe.set_port(kDefaultPort);
  std::optional<SocketAddress> source;
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  if (::connect(fd, probe.get(), probe.length()) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
    source = SocketAddress::from(reinterpret_cast<sockaddr*>(&local), length);
    source->set_port(0);
  }
  ::close(fd);
  return source;
}

std::string tcp_uri_of(const SocketAddress& address) {
  const std::string text = address.text();  // "IP:PORT" or "[IP]:PORT"
  return "tcp://" + text.substr(0, text.rfind(':'));
}

SocketAddress SocketAddress::from(const sockaddr* address, ULONG length) {
  SocketAddress result;
  std::memcpy(&result.storage_, address, std::min<size_t>(length, sizeof result.storage_));
  return result;
}

ULONG SocketAddress::length() const { return ndkxx::address_length(storage_); }

uint16_t SocketAddress::port() const { return ndkxx::port_of(storage_); }

void SocketAddress::set_port(uint16_t port) { storage_ = ndkxx::with_port(storage_, port); }

std::string SocketAddress::text() const {
  if (family() == AF_INET6) return "[" + ndkxx::ip_of(storage_) + "]:" + std::to_string(port());
  sockaddr_storage v4 = storage_;
  v4.ss_family = AF_INET;
  return ndkxx::ip_of(v4) + ":" + std::to_string(port());
}

}  // namespace softndk::cli
