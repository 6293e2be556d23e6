// Implementation of transport/tcp/socket_util.h.
#include "transport/tcp/socket_util.h"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <softndk/ndkpi.h>

namespace softndk::transport::tcp {

Status status_for_errno(int error) {
  switch (error) {
    case EADDRINUSE:
      return STATUS_SHARING_VIOLATION;
    case EADDRNOTAVAIL:
      return STATUS_INVALID_ADDRESS;
    case ECONNREFUSED:
    case ECONNRESET:
      return STATUS_CONNECTION_REFUSED;
    case ENETUNREACH:
    case ENETDOWN:
      return STATUS_NETWORK_UNREACHABLE;
    case EHOSTUNREACH:
    case EHOSTDOWN:
      return STATUS_HOST_UNREACHABLE;
    case ETIMEDOUT:
      return STATUS_IO_TIMEOUT;
    case ENOMEM:
    case ENOBUFS:
    case EMFILE:
    case ENFILE:
      return STATUS_INSUFFICIENT_RESOURCES;
    default:
      return STATUS_UNSUCCESSFUL;
  }
}

int make_tcp_socket(int family, uint32_t mss) {
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (mss != 0) {
    int value = static_cast<int>(mss);
    setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &value, sizeof value);
  }
  return fd;
}

void set_no_delay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void set_link_timeout(int fd, uint32_t timeout_ms) {
  unsigned int user_timeout = timeout_ms;
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  int idle = static_cast<int>(std::max<uint32_t>(timeout_ms / 3000, 1));
  int interval = static_cast<int>(std::max<uint32_t>(timeout_ms / 6000, 1));
  int count = 3;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

void set_abortive(int fd) {
  linger l{};
  l.l_onoff = 1;
  l.l_linger = 0;
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

void reset_connection(int fd) {
  set_abortive(fd);
  sockaddr unspecified{};
  unspecified.sa_family = AF_UNSPEC;
  ::connect(fd, &unspecified, sizeof unspecified);
}

bool peer_gone(int fd) {
  char byte;
  ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;
  if (n == 0) return true;
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

SockAddr socket_local_address(int fd) {
  SockAddr address;
  socklen_t length = sizeof(sockaddr_storage);
  if (getsockname(fd, address.raw(), &length) != 0) return SockAddr();
  return address;
}

}  // namespace softndk::transport::tcp
