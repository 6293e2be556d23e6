// Implementation of shm_setup.h.
#include "transport/shm/shm_setup.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace softndk::transport::shm {

WireAddress to_wire(const SockAddr& address) {
  WireAddress w{};
  w.family = static_cast<uint16_t>(address.family());
  w.port = address.port();
  if (address.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address.raw());
    std::memcpy(w.ip, &in->sin_addr, 4);
  } else if (address.family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address.raw());
    std::memcpy(w.ip, &in6->sin6_addr, 16);
  }
  return w;
}

bool from_wire(const WireAddress& w, SockAddr* out) {
  if (w.family == AF_INET) {
    uint32_t ip = 0;
    std::memcpy(&ip, w.ip, 4);
    *out = SockAddr::ipv4(ntohl(ip), w.port);
    return true;
  }
  if (w.family == AF_INET6) {
    in6_addr ip{};
    std::memcpy(&ip, w.ip, 16);
    *out = SockAddr::ipv6(ip, w.port);
    return true;
  }
  return false;
}

std::string endpoint_name(const std::string& fabric, const SockAddr& address) {
  return "softndk-shm/" + fabric + "/" + address.to_string();
}

namespace {
socklen_t make_abstract(const std::string& name, sockaddr_un* out) {
  std::memset(out, 0, sizeof *out);
  out->sun_family = AF_UNIX;
  size_t n = std::min(name.size(), sizeof out->sun_path - 1);
  std::memcpy(out->sun_path + 1, name.data(), n);  // sun_path[0] = 0: the abstract namespace
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
}
}  // namespace

bool bind_abstract(int fd, const std::string& name) {
  sockaddr_un address;
  socklen_t length = make_abstract(name, &address);
  return ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0;
}

bool connect_abstract(int fd, const std::string& name) {
  sockaddr_un address;
  socklen_t length = make_abstract(name, &address);
  return ::connect(fd, reinterpret_cast<sockaddr*>(&address), length) == 0;
}

int make_setup_socket() {
  return ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

bool send_setup(int fd, const SetupMessage& message, std::span<const int> fds) {
  iovec iov{const_cast<SetupMessage*>(&message), sizeof message};
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty() && fds.size() <= 2) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  for (;;) {
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(sizeof message)) return true;
    if (n < 0 && errno == EINTR) continue;
    if (n >= 0) errno = EMSGSIZE;
    return false;
  }
}

namespace {
// The descriptors of a received control message, taken out of it.
int take_fds(msghdr& msg, int fds[2]) {
  int count = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
      if (count < 2) {
        fds[count++] = received;
      } else {
        ::close(received);
        count = 3;  // too many: malformed (the first two are closed by the caller)
      }
    }
  }
  return count;
}

bool well_formed(const SetupMessage& m, int fd_count) {
  if (m.magic != kSetupMagic || m.version != kSetupVersion) return false;
  if (m.private_bytes > kMaxPrivateData) return false;
  switch (static_cast<SetupKind>(m.kind)) {
    case SetupKind::Request: return fd_count == 2;
    case SetupKind::Reply: return fd_count == 1;
    case SetupKind::Reject:
    case SetupKind::Ready: return fd_count == 0;
  }
  return false;
}
}  // namespace

RecvResult receive_setup(int fd, SetupMessage* message, int fds[2], int* fd_count) {
  *fd_count = 0;
  iovec iov{message, sizeof *message};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? RecvResult::WouldBlock
                                                           : RecvResult::Closed;
  if (n == 0) return RecvResult::Closed;
  int count = take_fds(msg, fds);
  bool ok = count <= 2 && n == static_cast<ssize_t>(sizeof *message) &&
            (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0 && well_formed(*message, count);
  if (!ok) {
    for (int i = 0; i < std::min(count, 2); ++i) ::close(fds[i]);
    return RecvResult::Malformed;
  }
  *fd_count = count;
  return RecvResult::Message;
}

bool peer_gone(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

bool peer_is_same_user(int fd) {
  ucred cred{};
  socklen_t length = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return false;
  return cred.uid == ::geteuid();
}

bool adopt_doorbell(int fd) {
  char link[64] = {};
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
  if (n <= 0 || std::strcmp(link, "anon_inode:[eventfd]") != 0) return false;
  int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

}  // namespace softndk::transport::shm
