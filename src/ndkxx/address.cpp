// Implementation of address.h.
#include "ndkxx/address.h"

#include <arpa/inet.h>

#include <sstream>
#include <vector>

namespace softndk::ndkxx {

sockaddr_storage ip_address(const std::string& ip, uint16_t port) {
  sockaddr_storage s{};
  if (ip.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&s);
    if (inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr) != 1) return sockaddr_storage{};
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&s);
    if (inet_pton(AF_INET, ip.c_str(), &in->sin_addr) != 1) return sockaddr_storage{};
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
  }
  return s;
}

ULONG address_length(const sockaddr_storage& address) {
  return address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

uint16_t port_of(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

sockaddr_storage with_port(sockaddr_storage address, uint16_t port) {
  if (address.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
  }
  return address;
}

std::string ip_of(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, text,
              sizeof text);
  } else if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, text,
              sizeof text);
  } else {
    return "family " + std::to_string(address.ss_family);
  }
  return text;
}

bool is_loopback_uri(const std::string& uri) {
  return uri == "loopback" || uri.rfind("loopback?", 0) == 0;
}

namespace {

// The host of a scheme://host[:port][?query] URI ("" when there is none) and the IPs of the addr=
// option (empty when absent).
struct UriAddresses {
  std::string host;
  std::vector<std::string> addr_option;
};

UriAddresses uri_addresses(const std::string& uri) {
  UriAddresses out;
  const size_t query = uri.find('?');
  const std::string base = uri.substr(0, query);
  const size_t separator = base.find("://");
  // shm://NAME names a fabric, not an address: shm adapters own addresses like loopback ones.
  if (separator != std::string::npos && base.substr(0, separator) != "shm") {
    std::string rest = base.substr(separator + 3);
    if (!rest.empty() && rest.front() == '[') {
      out.host = rest.substr(1, rest.find(']') - 1);
    } else if (rest.find(':') == rest.rfind(':')) {  // host or host:port (not a bare IPv6)
      out.host = rest.substr(0, rest.find(':'));
    } else {
      out.host = rest;
    }
  }
  if (query != std::string::npos) {
    std::stringstream items(uri.substr(query + 1));
    std::string item;
    while (std::getline(items, item, '&')) {
      if (item.rfind("addr=", 0) != 0) continue;
      std::stringstream list(item.substr(5));
      std::string ip;
      while (std::getline(list, ip, ',')) {
        if (!ip.empty()) out.addr_option.push_back(ip);
      }
    }
  }
  return out;
}

int family_of_ip(const std::string& ip) {
  return ip.find(':') != std::string::npos ? AF_INET6 : AF_INET;
}

}  // namespace

int uri_family(const std::string& uri) {
  UriAddresses a = uri_addresses(uri);
  if (!a.host.empty()) return family_of_ip(a.host);
  if (!a.addr_option.empty()) return family_of_ip(a.addr_option.front());
  return AF_INET;
}

bool uri_owns_family(const std::string& uri, int family) {
  UriAddresses a = uri_addresses(uri);
  if (!a.host.empty()) return family_of_ip(a.host) == family;
  if (a.addr_option.empty()) return family == AF_INET || family == AF_INET6;
  for (const std::string& ip : a.addr_option)
    if (family_of_ip(ip) == family) return true;
  return false;
}

sockaddr_storage uri_local_address(const std::string& uri, int family) {
  if (family == AF_UNSPEC) family = uri_family(uri);
  UriAddresses a = uri_addresses(uri);
  std::string host = family == AF_INET6 ? "::1" : "127.0.0.1";
  if (!a.host.empty() && family_of_ip(a.host) == family) {
    host = a.host;
  } else {
    for (const std::string& ip : a.addr_option) {
      if (family_of_ip(ip) == family) {
        host = ip;
        break;
      }
    }
  }
  sockaddr_storage s = ip_address(host, 0);
  s.ss_family = static_cast<sa_family_t>(family);  // as before: the family even for a bad IP
  return s;
}

}  // namespace softndk::ndkxx
