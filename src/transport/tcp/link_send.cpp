// Implementation of transport/tcp/tcp_connection.h, part 3: the transmit side of the link. FPDU
// framing (RFC 5044 section 4: length | DDP/RDMAP header | payload | pad | CRC32c), one sendmsg per
// FPDU from the posting thread while the link is idle (the core's payload is referenced, never
// copied), the transmit queue the progress thread finishes on EPOLLOUT, and link_writable. The
// queue, the hold (the responder sends nothing before the initiator's first FPDU) and the FIN
// behind the queue are guarded by mutex_; call_writable() takes rx_mutex_ (the sink's lock).
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "transport/tcp/socket_util.h"
#include "transport/tcp/tcp_connection.h"

namespace softndk::transport::tcp {

namespace {

constexpr size_t kMaxIov = 72;

size_t build_iov(const std::byte* head, size_t head_bytes, const ConstPiece* pieces,
                 size_t piece_count, const std::byte* trailer, size_t trailer_bytes, size_t skip,
                 iovec* iov) {
  size_t n = 0;
  auto add = [&](const std::byte* p, size_t len) {
    if (len == 0) return;
    if (skip >= len) {
      skip -= len;
      return;
    }
    iov[n].iov_base = const_cast<std::byte*>(p + skip);
    iov[n].iov_len = len - skip;
    ++n;
    skip = 0;
  };
  add(head, head_bytes);
  for (size_t i = 0; i < piece_count; ++i) add(pieces[i].data, pieces[i].bytes);
  add(trailer, trailer_bytes);
  return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Transmit

size_t TcpConnection::max_segment_payload(bool tagged) const {
  // MULPDU follows the current EMSS (RFC 5044 section 5.2). The MSS of an established
  // connection rarely changes (path MTU), so it is re-read from the kernel every
  // kMssRefreshMessages messages rather than with a system call per message.
  uint32_t calls = mss_calls_.fetch_add(1, std::memory_order_relaxed);
  int mss = mss_cache_.load(std::memory_order_relaxed);
  if (mss <= 0 || calls % kMssRefreshMessages == 0) {
    int fresh = 0;
    {
      std::lock_guard lock(mutex_);
      if (fd_ >= 0) {
        socklen_t length = sizeof fresh;
        if (getsockopt(fd_, IPPROTO_TCP, TCP_MAXSEG, &fresh, &length) != 0) fresh = 0;
      }
    }
    if (fresh <= 0) fresh = 536;  // RFC 879 default
    mss_cache_.store(fresh, std::memory_order_relaxed);
    mss = fresh;
  }
  // max_fpdu= caps it further, e.g. for a peer behind a path that re-cuts the stream at a
  // smaller MSS than ours (a NAT relay, a VM's user-mode network).
  const uint32_t cap = context_->options.max_fpdu;
  if (cap != 0 && static_cast<uint32_t>(mss) > cap) mss = static_cast<int>(cap);
  size_t mulpdu = wire::mulpdu_for_emss(static_cast<size_t>(mss));
  size_t header = wire::ddp_header_bytes(tagged);
  return mulpdu > header ? mulpdu - header : 1;
}

namespace {
// Fills head (length + ULPDU header) and trailer (pad + CRC) of an FPDU around `pieces`.
bool frame_fpdu(const wire::UlpduHeader& header, const ConstPiece* pieces, size_t piece_count,
                bool crc, std::byte* head, size_t head_capacity, size_t* head_bytes,
                std::byte* trailer, size_t* trailer_bytes, size_t* total) {
  wire::EncodeResult encoded = wire::encode_ulpdu_header(
      header, {head + wire::kFpduLengthBytes, head_capacity - wire::kFpduLengthBytes});
  if (!encoded.is_ok()) return false;
  constexpr size_t kInline = 64;
  std::array<std::span<const std::byte>, kInline> inline_spans;
  std::vector<std::span<const std::byte>> spill;
  std::span<const std::span<const std::byte>> spans;
  if (piece_count <= kInline) {
    for (size_t i = 0; i < piece_count; ++i) inline_spans[i] = {pieces[i].data, pieces[i].bytes};
    spans = {inline_spans.data(), piece_count};
  } else {
    for (size_t i = 0; i < piece_count; ++i) spill.emplace_back(pieces[i].data, pieces[i].bytes);
    spans = spill;
  }
  wire::FpduFraming framing;
  if (wire::encode_fpdu_framing({head + wire::kFpduLengthBytes, encoded.bytes_}, spans, crc,
                                framing) != wire::EncodeError::None)
    return false;
  std::memcpy(head, framing.length_prefix_.data(), wire::kFpduLengthBytes);
  *head_bytes = wire::kFpduLengthBytes + encoded.bytes_;
  auto t = framing.trailer();
  std::memcpy(trailer, t.data(), t.size());
  *trailer_bytes = t.size();
  *total = framing.fpdu_bytes();
  return true;
}
}  // namespace

TxResult TcpConnection::send(const TxSegment& segment) {
  // crc_ is fixed before the core may send (complete()/accept()).
  TxFrame frame;
  if (!frame_fpdu(*segment.header, segment.pieces, segment.piece_count, crc_, frame.head.data(),
                  frame.head.size(), &frame.head_bytes, frame.trailer.data(),
                  &frame.trailer_bytes, &frame.total))
    return TxResult::Closed;
  if (segment.fault == TxFault::Corrupt && frame.trailer_bytes != 0) [[unlikely]] {
    // data.corrupt (docs/faults.md): one byte of the FPDU changes after its CRC was computed
    // (the last CRC byte: the core's payload is never written); the peer's CRC check fails.
    frame.trailer[frame.trailer_bytes - 1] ^= std::byte{0x5A};
  }
  std::lock_guard lock(mutex_);
  if (tx_closed_ || fd_ < 0 || (phase_ != Phase::Established && phase_ != Phase::AwaitRtr))
    return TxResult::Closed;
  if (tx_queue_.empty() && !tx_hold_) {
    // The link is idle: this thread hands the FPDU to the kernel, one sendmsg.
    iovec iov[kMaxIov];
    size_t count = 0;
    if (segment.piece_count + 2 <= kMaxIov) {
      count = build_iov(frame.head.data(), frame.head_bytes, segment.pieces, segment.piece_count,
                        frame.trailer.data(), frame.trailer_bytes, 0, iov);
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = count;
      ssize_t n;
      do {
        n = sendmsg(fd_, &msg, send_flags());
      } while (n < 0 && errno == EINTR);
      if (n == static_cast<ssize_t>(frame.total)) return TxResult::Sent;
      if (n < 0 && !would_block(errno)) {
        tx_errno_.store(errno, std::memory_order_release);
        tx_closed_ = true;  // the receive path reports the loss
        return TxResult::Closed;
      }
      frame.sent = n > 0 ? static_cast<size_t>(n) : 0;
    }
  }
  // Keep the remainder; the core keeps the payload valid until link_writable().
  frame.pieces.assign(segment.pieces, segment.pieces + segment.piece_count);
  frame.core_payload = true;
  tx_queue_.push_back(std::move(frame));
  writable_owed_ = true;
  bool drained = false;
  write_queue_locked(&drained);
  if (drained) return TxResult::Sent;  // the queue emptied: ours is out too
  update_interest_locked();
  return TxResult::Blocked;
}

TxResult TcpConnection::queue_control_fpdu_locked(const wire::UlpduHeader& header) {
  TxFrame frame;
  if (!frame_fpdu(header, nullptr, 0, crc_, frame.head.data(), frame.head.size(),
                  &frame.head_bytes, frame.trailer.data(), &frame.trailer_bytes, &frame.total))
    return TxResult::Closed;
  tx_queue_.push_back(std::move(frame));
  return TxResult::Blocked;
}

void TcpConnection::queue_owned_locked(std::span<const std::byte> bytes) {
  TxFrame frame;
  frame.owned.assign(bytes.begin(), bytes.end());
  frame.pieces.push_back({frame.owned.data(), frame.owned.size()});
  frame.total = bytes.size();
  tx_queue_.push_back(std::move(frame));
}

bool TcpConnection::write_queue_locked(bool* core_drained) {
  while (!tx_queue_.empty() && fd_ >= 0) {
    TxFrame& frame = tx_queue_.front();
    if (tx_hold_ && frame.core_payload) break;  // initiator sends first (RFC 5044 section 7.1.3)
    iovec iov[kMaxIov];
    size_t count = build_iov(frame.head.data(), frame.head_bytes, frame.pieces.data(),
                             std::min(frame.pieces.size(), kMaxIov - 2), frame.trailer.data(),
                             frame.trailer_bytes, frame.sent, iov);
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    ssize_t n = sendmsg(fd_, &msg, send_flags());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (would_block(errno)) break;
      tx_errno_.store(errno, std::memory_order_release);
      tx_queue_.clear();  // the receive path sees the reset and reports it
      tx_closed_ = true;
      writable_owed_ = false;
      return false;
    }
    frame.sent += static_cast<size_t>(n);
    if (frame.sent < frame.total) break;
    tx_queue_.pop_front();
  }
  if (tx_queue_.empty()) {
    if (writable_owed_) {
      writable_owed_ = false;
      *core_drained = true;
    }
    if (fin_after_tx_ && !fin_sent_ && fd_ >= 0) {
      ::shutdown(fd_, SHUT_WR);
      fin_sent_ = true;
    }
  }
  return true;
}

void TcpConnection::detach_core_payload_locked() {
  // The sink is about to hear link_closed: keep no pointer into its memory (copy what is left).
  for (TxFrame& frame : tx_queue_) {
    if (!frame.core_payload) continue;
    size_t bytes = 0;
    for (const ConstPiece& p : frame.pieces) bytes += p.bytes;
    std::vector<std::byte> copy(bytes);
    size_t at = 0;
    for (const ConstPiece& p : frame.pieces) {
      if (p.bytes != 0) std::memcpy(copy.data() + at, p.data, p.bytes);
      at += p.bytes;
    }
    frame.owned = std::move(copy);
    frame.pieces.assign(1, {frame.owned.data(), frame.owned.size()});
    frame.core_payload = false;
  }
  writable_owed_ = false;
}

void TcpConnection::flush_tx() {
  bool drained = false;
  bool close_graceful = false;
  {
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return;
    write_queue_locked(&drained);
    update_interest_locked();
    close_graceful = peer_fin_ && fin_sent_ && tx_queue_.empty() &&
                     (phase_ == Phase::Closing || phase_ == Phase::Draining);
  }
  if (close_graceful) {
    close_now(false);
    return;
  }
  if (drained) call_writable();
}

void TcpConnection::call_writable() {
  std::lock_guard rx(rx_mutex_);
  if (rx_closed_ || rx_sink_ == nullptr) return;
  delivering_.store(std::this_thread::get_id());
  rx_sink_->link_writable();
  delivering_.store(std::thread::id{});
}

}  // namespace softndk::transport::tcp
