// Implementation of transport/registry.h: one line per transport, no static registration.
#include "transport/registry.h"

#include <softndk/ndkpi.h>

#include "transport/loopback/loopback_transport.h"
#include "transport/shm/shm_transport.h"
#include "transport/tcp/tcp_transport.h"

namespace softndk::transport {

Status create_transport(const std::string& scheme, const std::string& address,
                        std::map<std::string, std::string>& options, Executor* executor,
                        TransportPtr* out) {
  if (scheme == "loopback") {
    if (!address.empty()) return STATUS_INVALID_PARAMETER;
    return loopback::create_loopback_transport(options, executor, out);
  }
  if (scheme == "tcp") return tcp::create_tcp_transport(address, options, executor, out);
  if (scheme == "shm") return shm::create_shm_transport(address, options, executor, out);
  return STATUS_NOT_SUPPORTED;
}

std::vector<std::string> available_transports() { return {"loopback", "tcp", "shm"}; }

}  // namespace softndk::transport
