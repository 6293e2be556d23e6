// The shared-memory transport (adapter URI "shm://NAME"): NDK between processes of one host
// through a shared segment per connection. See README.md.
#pragma once

#include <map>
#include <string>

#include "transport/transport.h"

namespace softndk::transport::shm {

// `fabric` is NAME (letters, digits, '-', '_', '.'; 1..64 characters). Consumes the options
// it understands (addr=, ring_kib=, segment_kib=, consumer_rx=, disconnect_timeout_ms=).
Status create_shm_transport(const std::string& fabric,
                            std::map<std::string, std::string>& options, Executor* executor,
                            TransportPtr* out);

}  // namespace softndk::transport::shm
