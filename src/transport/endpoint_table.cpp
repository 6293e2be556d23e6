// Implementation of endpoint_table.h.
#include "transport/endpoint_table.h"

#include <algorithm>
#include <random>

namespace softndk::transport {

bool EndpointTable::port_in_use_locked(const std::string& fabric,
                                       const SockAddr& address) const {
  auto it = endpoints_.find({fabric, address.family(), address.port()});
  if (it == endpoints_.end()) return false;
  for (const SockAddr& held : it->second) {
    if (held.same_ip(address) || held.is_wildcard() || address.is_wildcard()) return true;
  }
  return false;
}

bool EndpointTable::port_in_use(const std::string& fabric, const SockAddr& address) const {
  std::lock_guard lock(mutex_);
  return port_in_use_locked(fabric, address);
}

bool EndpointTable::add_endpoint(const std::string& fabric, const SockAddr& address) {
  std::lock_guard lock(mutex_);
  if (port_in_use_locked(fabric, address)) return false;
  endpoints_[{fabric, address.family(), address.port()}].push_back(address);
  return true;
}

void EndpointTable::remove_endpoint(const std::string& fabric, const SockAddr& address) {
  std::lock_guard lock(mutex_);
  auto it = endpoints_.find({fabric, address.family(), address.port()});
  if (it == endpoints_.end()) return;
  auto& held = it->second;
  auto entry = std::find_if(held.begin(), held.end(),
                            [&](const SockAddr& a) { return a.same_ip(address); });
  if (entry != held.end()) held.erase(entry);
  if (held.empty()) endpoints_.erase(it);
}

bool EndpointTable::add_connection(const std::string& fabric, const SockAddr& local,
                                   const SockAddr& remote) {
  std::lock_guard lock(mutex_);
  return connections_.insert({fabric, local, remote}).second;
}

void EndpointTable::remove_connection(const std::string& fabric, const SockAddr& local,
                                      const SockAddr& remote) {
  std::lock_guard lock(mutex_);
  connections_.erase({fabric, local, remote});
}

NTSTATUS EndpointTable::bind_ephemeral(const std::function<NTSTATUS(uint16_t)>& try_port) {
  const uint32_t span = kEphemeralLast - kEphemeralFirst + 1;
  // A random start (seeded once per thread: random_device opens the kernel's source each time).
  thread_local std::minstd_rand rng{std::random_device{}()};
  const uint32_t start = static_cast<uint32_t>(rng()) % span;
  for (uint32_t i = 0; i < span; ++i) {
    const auto port = static_cast<uint16_t>(kEphemeralFirst + (start + i) % span);
    NTSTATUS status = try_port(port);
    if (status != STATUS_SHARING_VIOLATION) return status;
  }
  return STATUS_TOO_MANY_ADDRESSES;
}

bool parse_option_flag(const std::string& value, bool* out) {
  if (value != "0" && value != "1") return false;
  *out = value == "1";
  return true;
}

bool parse_option_number(const std::string& value, uint64_t min, uint64_t max, uint64_t* out) {
  if (value.empty() || value.size() > 10) return false;
  uint64_t v = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

}  // namespace softndk::transport
