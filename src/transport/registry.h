// The explicit list of transports an adapter URI can name ("loopback", later "tcp", "shm").
#pragma once

#include <map>
#include <string>
#include <vector>

#include "transport/transport.h"

namespace softndk::transport {

// Creates the transport for `scheme` ("loopback", "tcp", ...). `address` is the part after
// "scheme://" (may be empty); consumes the options the transport understands.
// STATUS_NOT_SUPPORTED for a scheme this build does not have.
Status create_transport(const std::string& scheme, const std::string& address,
                        std::map<std::string, std::string>& options, Executor* executor,
                        TransportPtr* out);

// Schemes this build has, for tools and the conformance suite.
std::vector<std::string> available_transports();

}  // namespace softndk::transport
