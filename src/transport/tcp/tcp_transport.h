// The iWARP-over-TCP transport (adapter URI "tcp://<local IP>", IPv4 or IPv6): MPA v2 connection
// setup (RFC 5044 section 7, RFC 6581), FPDU framing with CRC32c (RFC 5044), DDP/RDMAP segments
// (RFC 5041, RFC 5040) placed straight into target memory, Terminate and teardown. One progress
// thread per adapter. README.md in this folder maps the files.
#pragma once

#include <map>
#include <string>

#include "transport/transport.h"

namespace softndk::transport::tcp {

// Adapter-URI options this transport consumes (the rest go to the adapter):
//   crc=1|0       request MPA CRC (default 1; a peer may still turn it on, RFC 5044 section 7.1.2)
//   poll=0|1      progress thread polls instead of sleeping in epoll_wait (default 0)
//   consumer_rx=1|0  a consumer that polls an empty CQ receives waiting FPDUs of the CQ's
//                 connections on its own thread (default 1; 0: only the progress thread does)
//   mpa_rev=2|1   MPA revision of our Requests (default 2: enhanced, IRD/ORD, RTR)
//   mss=N         TCP_MAXSEG for our sockets, 88..65535 (default: the kernel's); FPDU sizes follow
//   link_timeout_ms=N  a peer that stops acknowledging (or answering keepalives) for N ms is
//                 gone: TCP_USER_TIMEOUT + keepalive, 1000..3600000 (default 30000)
// connect_timeout_ms (an adapter option, read but not consumed) also bounds the MPA waits.
struct TcpOptions {
  bool request_crc = true;
  bool poll = false;
  bool consumer_receive = true;
  uint8_t mpa_rev = 2;
  uint32_t mss = 0;
  uint32_t max_fpdu = 0;  // FPDUs sized to at most this EMSS (0: the connection's EMSS)
  bool fpdu_eor = false;  // MSG_EOR after each FPDU (docs/performance.md: costly)
  uint32_t setup_timeout_ms = 10000;  // MPA Reply, Request and RTR waits
  uint32_t link_timeout_ms = 30000;
};

// `address` is the part of the URI after "tcp://": "127.0.0.1", "[::1]" or "::1".
// STATUS_INVALID_PARAMETER for a malformed address or option value.
Status create_tcp_transport(const std::string& address,
                            std::map<std::string, std::string>& options, Executor* executor,
                            TransportPtr* out);

}  // namespace softndk::transport::tcp
