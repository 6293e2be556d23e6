// Connection setup of the shm transport: the messages exchanged over the setup socket (an
// abstract Unix SOCK_SEQPACKET socket named after the fabric and the listener's address), the
// descriptors they carry (SCM_RIGHTS), and the checks of what a peer sends. The setup socket
// stays open for the connection's lifetime: its hangup tells that the peer closed or died.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "transport/address.h"

namespace softndk::transport::shm {

inline constexpr uint32_t kSetupMagic = 0x6b64'6e73;  // "sndk"
inline constexpr uint8_t kSetupVersion = 1;
inline constexpr size_t kMaxPrivateData = 252;

enum class SetupKind : uint8_t {
  Request = 1,  // active -> passive; fds: segment memfd, the active adapter's doorbell
  Reply = 2,    // passive -> active; fd: the passive adapter's doorbell
  Reject = 3,   // passive -> active (refused, with private data)
  Ready = 4,    // active -> passive (NdkCompleteConnect)
};

struct WireAddress {
  uint16_t family;
  uint16_t port;
  uint8_t ip[16];
};

struct SetupMessage {
  uint32_t magic;
  uint8_t kind;
  uint8_t version;
  uint16_t private_bytes;
  uint32_t inbound_read_limit;
  uint32_t outbound_read_limit;
  uint32_t ring_bytes;
  uint32_t reserved;
  WireAddress from;
  WireAddress to;
  std::byte private_data[kMaxPrivateData];
};

WireAddress to_wire(const SockAddr& address);
// False when the family is not IPv4/IPv6.
bool from_wire(const WireAddress& wire, SockAddr* out);

// The abstract socket name of `address` in fabric `fabric` (without the leading NUL).
std::string endpoint_name(const std::string& fabric, const SockAddr& address);
// Binds `fd` (AF_UNIX) to the abstract name. errno EADDRINUSE when taken.
bool bind_abstract(int fd, const std::string& name);
bool connect_abstract(int fd, const std::string& name);
int make_setup_socket();  // SOCK_SEQPACKET, non-blocking, close-on-exec

// Sends one message with up to two descriptors. False on any failure (errno kept).
bool send_setup(int fd, const SetupMessage& message, std::span<const int> fds);

enum class RecvResult { Message, WouldBlock, Closed, Malformed };
// Receives one message; *fd_count descriptors (at most 2) go to fds[] and belong to the caller
// (closed here on Malformed). The message is checked for magic, version, kind and sizes.
RecvResult receive_setup(int fd, SetupMessage* message, int fds[2], int* fd_count);

// True when the peer of the connected setup socket `fd` closed it (or died): checked at once,
// without waiting for the engine to notice the hangup.
bool peer_gone(int fd);
// True when the peer of the connected socket `fd` runs as our effective user.
bool peer_is_same_user(int fd);
// True when `fd` is an eventfd (a doorbell): we will write to it. Made non-blocking.
bool adopt_doorbell(int fd);

}  // namespace softndk::transport::shm
