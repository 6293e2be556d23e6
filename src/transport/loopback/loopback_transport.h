// The in-process loopback transport: every adapter opened with "loopback" in this process
// joins one fabric addressed by IP and port (IPv4 and IPv6). A connection is a pair of pipe
// sides; a segment sent on one side is placed straight into the peer's memory by the sending
// thread (one copy, no staging). Control events travel through each adapter's executor.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "transport/transport.h"

namespace softndk::transport::loopback {

struct LoopbackOptions {
  // Addresses the adapter owns; empty: 127.0.0.0/8 and ::1.
  std::vector<SockAddr> addresses;
};

// Creates a transport for one adapter. Consumes the options it understands ("addr") from
// `options`; STATUS_INVALID_PARAMETER for a malformed value.
Status create_loopback_transport(std::map<std::string, std::string>& options, Executor* executor,
                                 TransportPtr* out);

}  // namespace softndk::transport::loopback
