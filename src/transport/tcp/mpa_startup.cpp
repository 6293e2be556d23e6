// Implementation of transport/tcp/tcp_connection.h, part 2: the MPA startup legs of both roles
// (RFC 5044 section 7.1, RFC 6581 section 5) on the progress thread, and the consumer's calls that
// end them (complete, accept, reject). Phases change through advance_locked() (connection_phase.h)
// under mutex_; complete() and accept() also take events_mutex_ and rx_mutex_ (they install the
// sink and the receive state).
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <softndk/ndkpi.h>

#include "transport/tcp/socket_util.h"
#include "transport/tcp/tcp_connection.h"

namespace softndk::transport::tcp {

namespace {

constexpr uint16_t kNoLimit = wire::kMpaMaxIrdOrd;  // 0x3FFF: "no IRD/ORD constraint" (RFC 6581)

uint16_t clamp_ird_ord(uint32_t value) {
  return static_cast<uint16_t>(std::min<uint32_t>(value, wire::kMpaMaxIrdOrd));
}

// A received IRD or ORD value as a read limit (0x3FFF: the peer does not constrain).
uint32_t limit_from_wire(uint16_t value) { return value; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// MPA startup, initiator (RFC 5044 section 7.1, RFC 6581 section 5)

void TcpConnection::finish_connect() {
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error == 0) {
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    if (getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0)
      error = errno == ENOTCONN ? ECONNREFUSED : errno;
  }
  if (error != 0) {
    fail_connect(status_for_errno(error), {}, false);
    return;
  }
  set_no_delay(fd_);
  std::lock_guard lock(mutex_);
  SockAddr bound = socket_local_address(fd_);
  if (bound.valid()) local_ = bound;
  const TcpOptions& options = context_->options;
  wire::MpaFrame request;
  request.kind_ = wire::MpaFrameKind::Request;
  request.crc_ = options.request_crc;
  request.revision_ = options.mpa_rev;
  request.enhanced_ = options.mpa_rev == 2;
  uint16_t ird = clamp_ird_ord(request_.inbound_read_limit);
  uint16_t ord = clamp_ird_ord(request_.outbound_read_limit);
  // Peer-to-peer with Write and (when we may issue a read at all) Read RTR offered.
  request.ird_ord_ = {true, false, true, ord > 0, ird, ord};
  request.private_data_ = request_.private_data;
  std::array<std::byte, wire::kMpaMaxFrameBytes> frame;
  wire::EncodeResult encoded = wire::encode_mpa_frame(request, frame);
  if (!encoded.is_ok()) {
    advance_locked(PhaseEvent::Reset);
    post_events([](ConnectionEvents& e) { e.on_connect_failed(STATUS_INVALID_PARAMETER, {}); });
    context_->engine->post([self = shared_from_this()] { self->close_now(true); });
    return;
  }
  queue_owned_locked({frame.data(), encoded.bytes_});
  advance_locked(PhaseEvent::TcpConnected);
  bool drained = false;
  write_queue_locked(&drained);
  update_interest_locked();
}

bool TcpConnection::read_control_frame(wire::MpaFrameKind kind, wire::MpaFrame* frame,
                                       wire::MpaError* error, bool* failed) {
  *failed = false;
  *error = wire::MpaError::None;
  for (;;) {
    auto decoded = wire::decode_mpa_frame({ctl_buf_.data(), ctl_have_}, kind);
    if (decoded.is_complete()) {
      *frame = decoded.value_;
      return true;
    }
    if (decoded.is_malformed()) {
      *error = decoded.error_;
      *failed = true;
      return false;
    }
    // Read exactly what the frame still needs: bytes behind it are the peer's FPDUs
    // (RFC 5044 section 7.1: FPDUs may follow the frame at once).
    size_t need = std::min(ctl_have_ + decoded.bytes_, ctl_buf_.size());
    ssize_t n = recv(fd_, ctl_buf_.data() + ctl_have_, need - ctl_have_, MSG_DONTWAIT);
    if (n > 0) {
      ctl_have_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && would_block(errno)) return false;
    if (n < 0 && errno == EINTR) continue;
    rx_errno_ = n == 0 ? 0 : errno;
    *failed = true;
    return false;
  }
}

void TcpConnection::read_reply() {
  wire::MpaFrame reply;
  wire::MpaError error;
  bool failed;
  if (read_control_frame(wire::MpaFrameKind::Reply, &reply, &error, &failed)) {
    evaluate_reply(reply);
    return;
  }
  if (!failed) return;
  if (error == wire::MpaError::None) {
    // Closed or reset before a Reply: nobody accepted.
    fail_connect(rx_errno_ == ETIMEDOUT ? STATUS_IO_TIMEOUT : STATUS_CONNECTION_REFUSED, {},
                 true);
  } else if (error == wire::MpaError::BadKey || error == wire::MpaError::IrdOrdMissing) {
    {
      std::lock_guard lock(mutex_);
      crc_ = context_->options.request_crc;
    }
    fail_setup_terminate(static_cast<uint8_t>(wire::LlpErrorCode::InvalidMpaFrame));
  } else {
    fail_connect(STATUS_CONNECTION_ABORTED, {}, true);  // unsupported Rev / PD too long: close
  }
}

void TcpConnection::evaluate_reply(const wire::MpaFrame& reply) {
  const TcpOptions& options = context_->options;
  if (reply.reject_) {
    std::vector<std::byte> data(reply.private_data_.begin(), reply.private_data_.end());
    fail_connect(STATUS_CONNECTION_REFUSED, std::move(data), false);
    return;
  }
  if (reply.markers_) {  // we cannot insert markers (RFC 5044 section 7.1)
    fail_connect(STATUS_CONNECTION_REFUSED, {}, true);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    crc_ = reply.crc_;  // CRC in both directions iff the Reply has C=1 (RFC 5044 section 7.1.2)
  }
  if (options.request_crc && !reply.crc_) {
    fail_setup_terminate(static_cast<uint8_t>(wire::LlpErrorCode::InvalidMpaFrame));
    return;
  }
  ConnectionParams peer;
  peer.private_data.assign(reply.private_data_.begin(), reply.private_data_.end());
  wire::Rtr rtr = wire::Rtr::None;
  if (options.mpa_rev == 2 && reply.revision_ == 2) {
    if (!reply.enhanced_) {
      fail_setup_terminate(static_cast<uint8_t>(wire::LlpErrorCode::InvalidMpaFrame));
      return;
    }
    const wire::MpaIrdOrd& word = reply.ird_ord_;
    uint16_t our_ird = clamp_ird_ord(request_.inbound_read_limit);
    uint16_t our_ord = clamp_ird_ord(request_.outbound_read_limit);
    if (word.ord_ != kNoLimit && word.ord_ > our_ird) {
      fail_setup_terminate(static_cast<uint8_t>(wire::LlpErrorCode::InsufficientIrd));
      return;
    }
    if (word.peer_to_peer_ && word.rtr_write_) {
      rtr = wire::Rtr::Write;
    } else if (word.peer_to_peer_ && word.rtr_read_ && our_ord > 0) {
      rtr = wire::Rtr::Read;
    } else {
      fail_setup_terminate(static_cast<uint8_t>(wire::LlpErrorCode::NoMatchingRtr));
      return;
    }
    peer.inbound_read_limit = limit_from_wire(word.ird_);
    peer.outbound_read_limit = limit_from_wire(word.ord_);
  } else {
    // Plain RFC 5044 (a Rev 1 Reply, or our Rev 1 Request): no limits, no RTR.
    peer.inbound_read_limit = kNoLimit;
    peer.outbound_read_limit = kNoLimit;
  }
  {
    std::lock_guard lock(mutex_);
    if (phase_ != Phase::AwaitReply) return;
    rtr_ = rtr;
    advance_locked(PhaseEvent::ReplyAccepted);
    context_->engine->cancel_timer(timer_id_);
    timer_id_ = 0;
    update_interest_locked();
  }
  post_events([peer](ConnectionEvents& e) { e.on_reply(peer); });
}

void TcpConnection::fail_connect(Status status, std::vector<std::byte> reject_data,
                                 bool abortive) {
  post_events([status, data = std::move(reject_data)](ConnectionEvents& e) {
    e.on_connect_failed(status, data);
  });
  close_now(abortive);
}

void TcpConnection::fail_setup_terminate(uint8_t llp_code) {
  // RFC 6581 section 9: the initiator sends the LLP Terminate in FPDU mode right after the Reply.
  wire::TerminateMessage message =
      wire::make_terminate(wire::make_reason(static_cast<wire::LlpErrorCode>(llp_code)));
  {
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return;
    queue_terminate_locked(message);
  }
  post_events([](ConnectionEvents& e) {
    e.on_connect_failed(STATUS_CONNECTION_ABORTED, {});
  });
}

void TcpConnection::setup_peer_gone() {
  post_events([](ConnectionEvents& e) { e.on_setup_aborted(STATUS_CONNECTION_ABORTED); });
  close_now(true);
}

Status TcpConnection::complete(LinkSink* sink) {
  std::lock_guard events(events_mutex_);
  std::lock_guard rx(rx_mutex_);
  std::lock_guard lock(mutex_);
  if (!active_ || phase_ != Phase::AwaitComplete || fd_ < 0) return STATUS_CONNECTION_ABORTED;
  if (peer_gone(fd_)) return STATUS_CONNECTION_ABORTED;  // the acceptor gave up
  sink_ = sink;
  rx_sink_ = sink;
  reader_.emplace(crc_);
  rx_buf_.resize(kRxBufferBytes);
  advance_locked(PhaseEvent::Completed);
  set_pollable(true);
  // The core sends the RTR (rtr()) as its first message (RFC 6581 section 5).
  update_interest_locked();
  return STATUS_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// MPA startup, responder

void TcpConnection::read_request() {
  wire::MpaFrame request;
  wire::MpaError error;
  bool failed;
  if (read_control_frame(wire::MpaFrameKind::Request, &request, &error, &failed)) {
    evaluate_request(request);
    return;
  }
  if (!failed) return;
  if (error == wire::MpaError::IrdOrdMissing) {
    // Enhanced Request too short for its IRD/ORD word: reject (RFC 6581 section 5).
    std::lock_guard lock(mutex_);
    peer_request_ = wire::MpaFrame{};
    peer_request_.revision_ = 2;
    peer_request_.enhanced_ = true;
    send_reject_locked({});
    return;
  }
  close_now(true);  // wrong key, unsupported Rev, PD too long, EOF: close without a Reply
}

void TcpConnection::evaluate_request(const wire::MpaFrame& request) {
  ConnectionParams params;
  {
    std::lock_guard lock(mutex_);
    peer_request_ = request;
    peer_request_.private_data_ = {};
    if (request.markers_) {  // we never insert markers: reject (RFC 5044 section 7.1)
      send_reject_locked({});
      return;
    }
    context_->engine->cancel_timer(timer_id_);
    timer_id_ = 0;
    advance_locked(PhaseEvent::RequestReceived);
    update_interest_locked();
    if (request.has_ird_ord() && request.ird_ord_.peer_to_peer_) {
      // Prefer Write, then Read, then Send (RFC 6581 section 5 leaves it to the responder); like siw,
      // Write if none was offered. Known before delivery: the core absorbs it (rtr()).
      const wire::MpaIrdOrd& offer = request.ird_ord_;
      rtr_ = offer.rtr_write_  ? wire::Rtr::Write
             : offer.rtr_read_ ? wire::Rtr::Read
             : offer.rtr_send_ ? wire::Rtr::Send
                               : wire::Rtr::Write;
    }
  }
  if (request.has_ird_ord()) {
    params.inbound_read_limit = limit_from_wire(request.ird_ord_.ird_);
    params.outbound_read_limit = limit_from_wire(request.ird_ord_.ord_);
  } else {
    params.inbound_read_limit = kNoLimit;
    params.outbound_read_limit = kNoLimit;
  }
  params.private_data.assign(request.private_data_.begin(), request.private_data_.end());
  auto self = shared_from_this();
  context_->executor->post([self, params] { self->deliver_request(params); });
}

void TcpConnection::deliver_request(ConnectionParams params) {
  bool taken = deliver_ ? deliver_(shared_from_this(), params) : false;
  if (taken) return;
  std::lock_guard lock(mutex_);
  if (phase_ == Phase::RequestDelivered) send_reject_locked({});  // paused, closing, gone
}

void TcpConnection::send_reject_locked(std::span<const std::byte> private_data) {
  SOFTNDK_ASSERT_HELD(mutex_);
  wire::MpaFrame reply;
  reply.kind_ = wire::MpaFrameKind::Reply;
  reply.reject_ = true;
  reply.revision_ = peer_request_.revision_ == 1 ? 1 : 2;
  reply.enhanced_ = peer_request_.has_ird_ord() || (reply.revision_ == 2 && peer_request_.enhanced_);
  reply.crc_ = peer_request_.crc_ || context_->options.request_crc;
  // Enhanced mode keeps the IRD/ORD word in a reject (RFC 6581): siw strips 4 bytes.
  reply.ird_ord_ = {peer_request_.ird_ord_.peer_to_peer_, false, false, false, 0, 0};
  reply.private_data_ = private_data.subspan(
      0, std::min<size_t>(private_data.size(), wire::kMpaMaxPrivateDataBytes - 4));
  std::array<std::byte, wire::kMpaMaxFrameBytes> frame;
  wire::EncodeResult encoded = wire::encode_mpa_frame(reply, frame);
  if (encoded.is_ok()) queue_owned_locked({frame.data(), encoded.bytes_});
  tx_closed_ = true;
  fin_after_tx_ = true;
  advance_locked(PhaseEvent::Rejected);
  arm_timer_locked(kDrainTimer, context_->options.setup_timeout_ms);
  bool drained = false;
  write_queue_locked(&drained);
  update_interest_locked();
}

Status TcpConnection::accept(const ConnectionParams& reply, LinkSink* sink) {
  std::lock_guard events(events_mutex_);
  std::lock_guard rx(rx_mutex_);
  std::lock_guard lock(mutex_);
  if (active_ || phase_ != Phase::RequestDelivered || fd_ < 0) return STATUS_CONNECTION_ABORTED;
  if (peer_gone(fd_)) return STATUS_CONNECTION_ABORTED;  // the requester gave up
  const wire::MpaIrdOrd& offer = peer_request_.ird_ord_;
  bool enhanced = peer_request_.has_ird_ord();
  bool p2p = enhanced && offer.peer_to_peer_;
  const wire::Rtr rtr = rtr_;  // chosen when the request arrived
  uint16_t ird = clamp_ird_ord(reply.inbound_read_limit);
  if (rtr == wire::Rtr::Read && ird == 0) ird = 1;  // the Read RTR needs one IRD slot
  uint16_t ord = clamp_ird_ord(reply.outbound_read_limit);
  wire::MpaFrame frame;
  frame.kind_ = wire::MpaFrameKind::Reply;
  frame.crc_ = peer_request_.crc_ || context_->options.request_crc;
  frame.revision_ = peer_request_.revision_;
  frame.enhanced_ = enhanced;
  frame.ird_ord_ = {p2p, rtr == wire::Rtr::Send, rtr == wire::Rtr::Write,
                    rtr == wire::Rtr::Read, ird, ord};
  frame.private_data_ = reply.private_data;
  std::array<std::byte, wire::kMpaMaxFrameBytes> bytes;
  wire::EncodeResult encoded = wire::encode_mpa_frame(frame, bytes);
  if (!encoded.is_ok()) return STATUS_INVALID_PARAMETER;
  crc_ = frame.crc_;
  peer_p2p_ = p2p;
  queue_owned_locked({bytes.data(), encoded.bytes_});
  sink_ = sink;
  rx_sink_ = sink;
  reader_.emplace(crc_);
  rx_buf_.resize(kRxBufferBytes);
  await_first_fpdu_ = true;
  // Initiator sends first (RFC 5044 section 7.1.3): no FPDU of ours leaves before its first one.
  tx_hold_ = true;
  bool drained = false;
  write_queue_locked(&drained);  // the Reply itself is not held
  if (p2p) {
    advance_locked(PhaseEvent::AcceptedAwaitRtr);
    arm_timer_locked(kSetupTimer, context_->options.setup_timeout_ms);
  } else {
    advance_locked(PhaseEvent::AcceptedNoRtr);  // no RTR: accepted once the Reply is out
    set_pollable(true);
    post_events([](ConnectionEvents& e) { e.on_established(); });
  }
  update_interest_locked();
  return STATUS_SUCCESS;
}

Status TcpConnection::reject(std::span<const std::byte> private_data) {
  std::lock_guard lock(mutex_);
  if (active_) {
    // Declining an accepted connection: close abortively without any FPDU.
    if (phase_ != Phase::AwaitComplete || fd_ < 0) return STATUS_CONNECTION_ABORTED;
    reset_connection(fd_);
    tx_closed_ = true;
    advance_locked(PhaseEvent::Declined);
    context_->engine->post([self = shared_from_this()] { self->close_now(true); });
    return STATUS_SUCCESS;
  }
  if (phase_ != Phase::RequestDelivered || fd_ < 0) return STATUS_CONNECTION_ABORTED;
  if (peer_gone(fd_)) return STATUS_CONNECTION_ABORTED;  // the requester gave up
  send_reject_locked(private_data);
  return STATUS_SUCCESS;
}

}  // namespace softndk::transport::tcp
