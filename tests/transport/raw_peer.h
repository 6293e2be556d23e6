// A hand-driven iWARP peer for the tcp transport tests: a blocking TCP socket with bounded waits
// that speaks MPA startup frames and FPDUs through src/wire (RFC 5044, RFC 6581, RFC 5041,
// RFC 5040). The tests put it on one side and softndk (public ABI) on the other.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wire/crc32c.h"
#include "wire/ddp.h"
#include "wire/fpdu.h"
#include "wire/mpa.h"

namespace rawpeer {

inline std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string string_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

struct Fpdu {
  size_t ulpdu_bytes = 0;
  softndk::wire::UlpduHeader header{};
  std::vector<std::byte> payload;
  uint32_t crc_field = 0;
  bool crc_matches = false;  // the CRC field equals CRC32c of length + ULPDU + pad
};

class RawSocket {
 public:
  RawSocket() = default;
  explicit RawSocket(int fd) : fd_(fd) {}
  ~RawSocket() { close(); }
  RawSocket(RawSocket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  RawSocket& operator=(RawSocket&& o) noexcept {
    close();
    fd_ = o.fd_;
    o.fd_ = -1;
    return *this;
  }
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  static RawSocket connect_to(const sockaddr_storage& address) {
    int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t length = address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
      ::close(fd);
      return RawSocket();
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return RawSocket(fd);
  }
  // A listening socket on `ip` (port chosen by the kernel); *address gets ip:port.
  static RawSocket listen_on(const char* ip, sockaddr_storage* address) {
    sockaddr_storage a{};
    bool v6 = std::strchr(ip, ':') != nullptr;
    socklen_t length;
    if (v6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&a);
      in6->sin6_family = AF_INET6;
      inet_pton(AF_INET6, ip, &in6->sin6_addr);
      length = sizeof(sockaddr_in6);
    } else {
      auto* in = reinterpret_cast<sockaddr_in*>(&a);
      in->sin_family = AF_INET;
      inet_pton(AF_INET, ip, &in->sin_addr);
      length = sizeof(sockaddr_in);
    }
    int fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), length) != 0 || ::listen(fd, 8) != 0) {
      ::close(fd);
      return RawSocket();
    }
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
    *address = a;
    return RawSocket(fd);
  }
  RawSocket accept_one(int timeout_ms = 10000) {
    if (!wait_readable(timeout_ms)) return RawSocket();
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return RawSocket(fd);
  }

  bool wait_readable(int timeout_ms) const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
  }
  bool send_all(std::span<const std::byte> data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data = data.subspan(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads exactly `n` bytes within the timeout; false on EOF, error or timeout.
  bool recv_exact(void* out, size_t n, int timeout_ms = 10000) {
    auto* p = static_cast<char*>(out);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (n != 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0 || !wait_readable(static_cast<int>(left))) return false;
      ssize_t got = ::recv(fd_, p, n, 0);
      if (got <= 0) return false;
      p += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }
  // True when the peer closed (EOF or reset) within the timeout, discarding data before it.
  bool closed_within(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buffer[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0 || !wait_readable(static_cast<int>(left))) return false;
      ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
      if (got <= 0) return true;
    }
  }

  // --- MPA startup frames (RFC 5044 section 7.1) ---
  bool send_mpa(const softndk::wire::MpaFrame& frame) {
    std::byte buffer[softndk::wire::kMpaMaxFrameBytes];
    auto encoded = softndk::wire::encode_mpa_frame(frame, buffer);
    return encoded.is_ok() && send_all({buffer, encoded.bytes_});
  }
  // Reads one frame; `storage` keeps the bytes private_data_ points into.
  std::optional<softndk::wire::MpaFrame> read_mpa(softndk::wire::MpaFrameKind kind,
                                                  std::vector<std::byte>* storage) {
    storage->assign(softndk::wire::kMpaHeaderBytes, std::byte{0});
    if (!recv_exact(storage->data(), storage->size())) return std::nullopt;
    size_t pd = (std::to_integer<size_t>((*storage)[18]) << 8) |
                std::to_integer<size_t>((*storage)[19]);
    if (pd > softndk::wire::kMpaMaxPrivateDataBytes) return std::nullopt;
    storage->resize(softndk::wire::kMpaHeaderBytes + pd);
    if (pd != 0 && !recv_exact(storage->data() + softndk::wire::kMpaHeaderBytes, pd))
      return std::nullopt;
    auto decoded = softndk::wire::decode_mpa_frame(*storage, kind);
    if (!decoded.is_complete()) return std::nullopt;
    return decoded.value_;
  }

  // --- FPDUs (RFC 5044 section 4) ---
  bool send_fpdu(const softndk::wire::UlpduHeader& header, std::span<const std::byte> payload,
                 bool crc, bool corrupt_crc = false) {
    std::byte head[2 + 18 + 52];
    auto encoded = softndk::wire::encode_ulpdu_header(header, {head + 2, sizeof head - 2});
    if (!encoded.is_ok()) return false;
    std::span<const std::byte> pieces[1] = {payload};
    softndk::wire::FpduFraming framing;
    if (softndk::wire::encode_fpdu_framing({head + 2, encoded.bytes_}, pieces, crc, framing) !=
        softndk::wire::EncodeError::None)
      return false;
    std::memcpy(head, framing.length_prefix_.data(), 2);
    std::vector<std::byte> out(head, head + 2 + encoded.bytes_);
    out.insert(out.end(), payload.begin(), payload.end());
    auto trailer = framing.trailer();
    out.insert(out.end(), trailer.begin(), trailer.end());
    if (corrupt_crc) out.back() ^= std::byte{0x5A};
    return send_all(out);
  }
  std::optional<Fpdu> read_fpdu(int timeout_ms = 10000) {
    std::byte length[2];
    if (!recv_exact(length, 2, timeout_ms)) return std::nullopt;
    Fpdu f;
    f.ulpdu_bytes = (std::to_integer<size_t>(length[0]) << 8) | std::to_integer<size_t>(length[1]);
    size_t rest = f.ulpdu_bytes + softndk::wire::fpdu_trailer_bytes(f.ulpdu_bytes);
    std::vector<std::byte> body(2 + rest);
    body[0] = length[0];
    body[1] = length[1];
    if (!recv_exact(body.data() + 2, rest, timeout_ms)) return std::nullopt;
    auto decoded = softndk::wire::decode_ulpdu_header({body.data() + 2, f.ulpdu_bytes},
                                                       f.ulpdu_bytes);
    if (!decoded.is_complete()) return std::nullopt;
    f.header = decoded.value_;
    f.payload.assign(body.begin() + 2 + static_cast<ptrdiff_t>(f.header.header_bytes_),
                     body.begin() + 2 + static_cast<ptrdiff_t>(f.ulpdu_bytes));
    f.crc_field = softndk::wire::load_crc32c(
        std::span<const std::byte, 4>(body.data() + body.size() - 4, 4));
    f.crc_matches = f.crc_field == softndk::wire::crc32c({body.data(), body.size() - 4});
    return f;
  }

 private:
  int fd_ = -1;
};

// An MPA Request as softndk sends it (Rev 2, C|E, the IRD/ORD word), for a peer that plays the initiator.
inline softndk::wire::MpaFrame request_frame(bool write_rtr, bool read_rtr, uint16_t ird,
                                             uint16_t ord, std::span<const std::byte> data) {
  softndk::wire::MpaFrame f;
  f.kind_ = softndk::wire::MpaFrameKind::Request;
  f.crc_ = true;
  f.enhanced_ = true;
  f.revision_ = 2;
  f.ird_ord_ = {true, false, write_rtr, read_rtr, ird, ord};
  f.private_data_ = data;
  return f;
}

}  // namespace rawpeer
