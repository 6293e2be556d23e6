// Small socket helpers for the tcp transport: errno -> NTSTATUS for the NDK connection calls,
// non-blocking socket creation with the options every softndk socket gets, and RST closes.
#pragma once

#include <cerrno>
#include <cstdint>

#include "transport/address.h"
#include "transport/transport.h"

namespace softndk::transport::tcp {

// NDK_FN_CONNECT / NDK_FN_LISTEN statuses (Microsoft NDKPI reference): EADDRINUSE -> SHARING_VIOLATION, EADDRNOTAVAIL -> INVALID_ADDRESS,
// ECONNREFUSED/ECONNRESET -> CONNECTION_REFUSED, ENETUNREACH -> NETWORK_UNREACHABLE,
// EHOSTUNREACH -> HOST_UNREACHABLE, ETIMEDOUT -> IO_TIMEOUT, otherwise a generic failure.
Status status_for_errno(int error);

// A non-blocking, close-on-exec TCP socket for `family` with SO_REUSEADDR (shared endpoints and
// accepted connections share local ports), IPV6_V6ONLY for IPv6, and TCP_MAXSEG = mss when
// mss != 0. -1 with errno on failure.
int make_tcp_socket(int family, uint32_t mss);

// TCP_NODELAY (one FPDU per segment: RFC 5044 section 5).
void set_no_delay(int fd);

// A peer that stops acknowledging data, or answering keepalive probes, for `timeout_ms` is
// declared gone by the kernel (TCP_USER_TIMEOUT, SO_KEEPALIVE): the link then fails instead of
// retransmitting for many minutes.
void set_link_timeout(int fd, uint32_t timeout_ms);

// SO_LINGER {1, 0}: the next close() sends a RST (abortive close).
void set_abortive(int fd);

// Resets the connection now, keeping the descriptor open (connect(AF_UNSPEC) makes the kernel
// send a RST and drop the connection): an abortive close another thread may still poll.
void reset_connection(int fd);

// True when the peer has closed or reset the connection (a non-blocking peek sees EOF or an
// error); data waiting to be read does not count.
bool peer_gone(int fd);

// EAGAIN or EWOULDBLOCK: a non-blocking socket call that would have waited.
inline bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

// getsockname as a SockAddr (invalid on failure).
SockAddr socket_local_address(int fd);

}  // namespace softndk::transport::tcp
