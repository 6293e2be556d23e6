// Implementation of address.h.
#include "address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

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
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    size_t colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  uint16_t port_value = default_port;
  if (!port.empty() || (text.size() > 0 && text.back() == ':')) {
    char* end = nullptr;
    unsigned long v = std::strtoul(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || v > 65535) return false;
    port_value = static_cast<uint16_t>(v);
  }
  SocketAddress result;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&result.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&result.storage_);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port_value);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port_value);
  } else {
    return false;
  }
  *out = result;
  return true;
}

SocketAddress SocketAddress::from(const sockaddr* address, ULONG length) {
  SocketAddress result;
  std::memcpy(&result.storage_, address, std::min<size_t>(length, sizeof result.storage_));
  return result;
}

ULONG SocketAddress::length() const {
  return family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
}

void SocketAddress::set_port(uint16_t port) {
  if (family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  }
}

std::string SocketAddress::text() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, host,
              sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(port());
  }
  inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(port());
}

}  // namespace softndk::cli
