// Small socket helpers for the tcp transport: errno -> NTSTATUS for the NDK connection calls,
// non-blocking socket creation with the options every softndk socket gets, and RST closes.
#pragma once

#include <cstdint>

#include "transport/address.h"
#include "transport/transport.h"

namespace softndk::transport::tcp {

// ndkpi.md 2.11.1 / 2.12.1: EADDRINUSE -> SHARING_VIOLATION, EADDRNOTAVAIL -> INVALID_ADDRESS,
// ECONNREFUSED/ECONNRESET -> CONNECTION_REFUSED, ENETUNREACH -> NETWORK_UNREACHABLE,
// EHOSTUNREACH -> HOST_UNREACHABLE, ETIMEDOUT -> IO_TIMEOUT, otherwise a generic failure.
Status status_for_errno(int error);

// A non-blocking, close-on-exec TCP socket for `family` with SO_REUSEADDR (shared endpoints and
// accepted connections share local ports), IPV6_V6ONLY for IPv6, and TCP_MAXSEG = mss when
// mss != 0. -1 with errno on failure.
int make_tcp_socket(int family, uint32_t mss);

// TCP_NODELAY (one FPDU per segment, iwarp.md 1.9).
void set_no_delay(int fd);

// SO_LINGER {1, 0}: the next close() sends a RST (abortive close, iwarp.md 4.3).
void set_abortive(int fd);

// getsockname as a SockAddr (invalid on failure).
SockAddr socket_local_address(int fd);

}  // namespace softndk::transport::tcp
