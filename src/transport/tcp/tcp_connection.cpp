// Implementation of transport/tcp/tcp_connection.h. Lock order: events_mutex_ -> rx_mutex_ ->
// mutex_ -> the engine's lock. Sockets are closed on the progress thread only.
#include "transport/tcp/tcp_connection.h"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <softndk/ndkpi.h>

#include "transport/tcp/socket_util.h"
#include "util/log.h"
#include "util/spin_lock.h"
#include "wire/ddp.h"
#include "wire/rdmap.h"

namespace softndk::transport::tcp {

namespace {

constexpr size_t kRxBufferBytes = 16384;  // staging for headers and small payloads
constexpr uint64_t kDrainTimeoutMs = 1000;    // iwarp.md 4.2 step 4
constexpr size_t kMaxIov = 72;
constexpr uint16_t kNoLimit = wire::kMpaMaxIrdOrd;  // 0x3FFF: "no IRD/ORD constraint" (1.4)
constexpr uint8_t kLayerLlp = 2;

uint16_t clamp_ird_ord(uint32_t value) {
  return static_cast<uint16_t>(std::min<uint32_t>(value, wire::kMpaMaxIrdOrd));
}

// A received IRD or ORD value as a read limit (0x3FFF: the peer does not constrain).
uint32_t limit_from_wire(uint16_t value) { return value; }

wire::TerminateReason to_wire(const TerminateReason& r) { return {r.layer, r.type, r.code}; }
TerminateReason from_wire(const wire::TerminateReason& r) { return {r.layer_, r.type_, r.code_}; }

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }
// The connection whose poll_receive() this thread is inside (close_now() must not wait for it).
thread_local const TcpConnection* t_polling = nullptr;

// Host-order segment header -> wire header (RFC 5041 §5, RFC 5040 §4).
wire::UlpduHeader ulpdu_for(const SegmentHeader& s, uint32_t read_msn_shift) {
  wire::UlpduHeader u;
  auto op = static_cast<wire::RdmapOpcode>(s.opcode);
  if (is_tagged(s.opcode)) {
    u.ddp_ = wire::make_tagged_header(op, s.last, s.stag, s.to);
  } else {
    uint32_t msn = s.msn + (s.opcode == Opcode::ReadRequest ? read_msn_shift : 0);
    u.ddp_ = wire::make_untagged_header(op, s.last, msn, s.mo, s.inval_stag);
    u.ddp_.qn_ = s.qn;
  }
  if (s.opcode == Opcode::ReadRequest)
    u.read_request_ = {s.sink_stag, s.sink_to, s.read_size, s.source_stag, s.source_to};
  return u;
}

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
// Construction

TcpConnection::TcpConnection(std::shared_ptr<TcpContext> context, int fd, SockAddr local,
                             SockAddr remote, ConnectionParams request, ConnectionEvents* events,
                             std::function<void()> release_tuple)
    : context_(std::move(context)),
      active_(true),
      local_(local),
      remote_(remote),
      request_(std::move(request)),
      release_tuple_(std::move(release_tuple)),
      fd_(fd),
      phase_(Phase::Connecting),
      events_(events) {}

TcpConnection::TcpConnection(std::shared_ptr<TcpContext> context, int fd, SockAddr local,
                             SockAddr remote, DeliverFn deliver)
    : context_(std::move(context)),
      active_(false),
      local_(local),
      remote_(remote),
      deliver_(std::move(deliver)),
      fd_(fd),
      phase_(Phase::AwaitRequest) {}

TcpConnection::~TcpConnection() {
  if (fd_ >= 0) {
    set_abortive(fd_);
    ::close(fd_);
  }
  if (release_tuple_) release_tuple_();
}

bool TcpConnection::start() {
  auto self = shared_from_this();
  std::lock_guard lock(mutex_);
  if (active_) {
    int rc = ::connect(fd_, remote_.raw(), remote_.length());
    if (rc != 0 && errno != EINPROGRESS) {
      Status status = status_for_errno(errno);
      ::close(fd_);
      fd_ = -1;
      phase_ = Phase::Closed;
      post_events([status](ConnectionEvents& e) { e.on_connect_failed(status, {}); });
      return true;
    }
    interest_ = EPOLLOUT;
  } else {
    set_no_delay(fd_);
    interest_ = EPOLLIN;
  }
  set_link_timeout(fd_, context_->options.link_timeout_ms);
  if (!context_->engine->add(fd_, interest_, self)) {
    ::close(fd_);
    fd_ = -1;
    phase_ = Phase::Closed;
    if (active_)
      post_events([](ConnectionEvents& e) {
        e.on_connect_failed(STATUS_INSUFFICIENT_RESOURCES, {});
      });
    return false;
  }
  arm_timer_locked(kSetupTimer, context_->options.setup_timeout_ms);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Event plumbing

void TcpConnection::post_events(std::function<void(ConnectionEvents&)> work) {
  auto self = shared_from_this();
  context_->executor->post([self, work = std::move(work)] {
    std::lock_guard lock(self->events_mutex_);
    if (self->events_ != nullptr) work(*self->events_);
  });
}

void TcpConnection::post_link_closed(LinkSink::CloseKind kind, const TerminateReason* reason,
                                     const SegmentHeader* offending) {
  auto self = shared_from_this();
  bool with_reason = reason != nullptr;
  bool with_header = offending != nullptr;
  TerminateReason r = with_reason ? *reason : TerminateReason{};
  SegmentHeader h = with_header ? *offending : SegmentHeader{};
  context_->executor->post([self, kind, with_reason, with_header, r, h] {
    std::lock_guard lock(self->events_mutex_);
    if (self->sink_ == nullptr || self->closed_notified_) return;
    self->closed_notified_ = true;
    self->sink_->link_closed(kind, with_reason ? &r : nullptr, with_header ? &h : nullptr);
  });
}

void TcpConnection::arm_timer_locked(uint32_t tag, uint64_t delay_ms) {
  context_->engine->cancel_timer(timer_id_);
  timer_id_ = context_->engine->arm_timer(delay_ms, weak_from_this(), tag);
}

void TcpConnection::set_events(ConnectionEvents* events) {
  std::lock_guard lock(events_mutex_);
  if (!cancelled_) events_ = events;
}

SockAddr TcpConnection::local_address() const {
  std::lock_guard lock(mutex_);
  return local_;
}

void TcpConnection::update_interest_locked() {
  if (fd_ < 0) return;
  uint32_t events = 0;
  switch (phase_) {
    case Phase::Connecting:
      events = EPOLLOUT;
      break;
    case Phase::AwaitComplete:
    case Phase::RequestDelivered:
      events = EPOLLRDHUP;  // only learn that the peer went away; leave its bytes queued
      break;
    case Phase::Closed:
      return;
    default:
      events = EPOLLIN;
      break;
  }
  if (consumer_owned_.load(std::memory_order_relaxed) && phase_ == Phase::Established)
    events = (events & ~static_cast<uint32_t>(EPOLLIN)) | EPOLLRDHUP;  // the consumer reads
  if (peer_fin_) events &= ~static_cast<uint32_t>(EPOLLIN | EPOLLRDHUP);
  if (phase_ != Phase::Connecting && !tx_queue_.empty() &&
      !(tx_hold_ && tx_queue_.front().core_payload))
    events |= EPOLLOUT;
  if (events == interest_) return;
  interest_ = events;
  context_->engine->modify(fd_, events, this);
}

void TcpConnection::on_io(uint32_t events) {
  Phase phase;
  {
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return;
    phase = phase_;
  }
  const uint32_t input = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
  switch (phase) {
    case Phase::Connecting:
      finish_connect();
      return;
    case Phase::AwaitReply:
      if ((events & EPOLLOUT) != 0) flush_tx();
      if ((events & input) != 0) read_reply();
      return;
    case Phase::AwaitRequest:
      if ((events & input) != 0) read_request();
      return;
    case Phase::AwaitComplete:
    case Phase::RequestDelivered:
      if ((events & EPOLLOUT) != 0) flush_tx();
      if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) setup_peer_gone();
      return;
    case Phase::AwaitRtr:
    case Phase::Established:
    case Phase::Closing:
      if ((events & EPOLLOUT) != 0) flush_tx();
      if ((events & input) != 0) receive();
      return;
    case Phase::Draining:
      if ((events & EPOLLOUT) != 0) flush_tx();
      if ((events & input) != 0) drain_input();
      return;
    case Phase::Closed:
      return;
  }
}

void TcpConnection::on_timer(uint32_t tag) {
  if (tag == kPollWatchdog) {
    poll_watchdog();
    return;
  }
  Phase phase;
  {
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return;
    phase = phase_;
  }
  if (tag == kDrainTimer) {
    if (phase == Phase::Draining || phase == Phase::Closing) close_now(true);
    return;
  }
  switch (phase) {
    case Phase::Connecting:
    case Phase::AwaitReply:
      fail_connect(STATUS_IO_TIMEOUT, {}, true);  // no Reply in time (iwarp.md 4.4)
      return;
    case Phase::AwaitRequest:
      close_now(true);  // no Request in time: close without a Reply
      return;
    case Phase::AwaitRtr:
      stop_rx();
      post_events([](ConnectionEvents& e) { e.on_setup_aborted(STATUS_IO_TIMEOUT); });
      close_now(true);
      return;
    case Phase::Closing:
      stop_rx();
      post_link_closed(LinkSink::CloseKind::Aborted, nullptr, nullptr);
      close_now(true);
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// MPA startup, initiator (RFC 5044 §7.1, RFC 6581 §5; iwarp.md 5.1)

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
    phase_ = Phase::Closed;
    post_events([](ConnectionEvents& e) { e.on_connect_failed(STATUS_INVALID_PARAMETER, {}); });
    context_->engine->post([self = shared_from_this()] { self->close_now(true); });
    return;
  }
  queue_owned_locked({frame.data(), encoded.bytes_});
  phase_ = Phase::AwaitReply;
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
    // Read exactly what the frame still needs: bytes behind it are the peer's FPDUs (1.1).
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
    // Closed or reset before a Reply: nobody accepted (iwarp.md 5.1 step 2).
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
  if (reply.markers_) {  // we cannot insert markers (iwarp.md 1.3)
    fail_connect(STATUS_CONNECTION_REFUSED, {}, true);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    crc_ = reply.crc_;  // CRC in both directions iff the Reply has C=1 (RFC 5044 §7.1.2)
  }
  if (options.request_crc && !reply.crc_) {
    fail_setup_terminate(static_cast<uint8_t>(wire::LlpErrorCode::InvalidMpaFrame));
    return;
  }
  ConnectionParams peer;
  peer.private_data.assign(reply.private_data_.begin(), reply.private_data_.end());
  Rtr rtr = Rtr::None;
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
      rtr = Rtr::Write;
    } else if (word.peer_to_peer_ && word.rtr_read_ && our_ord > 0) {
      rtr = Rtr::Read;
    } else {
      fail_setup_terminate(static_cast<uint8_t>(wire::LlpErrorCode::NoMatchingRtr));
      return;
    }
    peer.inbound_read_limit = limit_from_wire(word.ird_);
    peer.outbound_read_limit = limit_from_wire(word.ord_);
  } else {
    // Plain RFC 5044 (a Rev 1 Reply, or our Rev 1 Request): no limits, no RTR (1.5, 4.4).
    peer.inbound_read_limit = kNoLimit;
    peer.outbound_read_limit = kNoLimit;
  }
  {
    std::lock_guard lock(mutex_);
    if (phase_ != Phase::AwaitReply) return;
    rtr_ = rtr;
    phase_ = Phase::AwaitComplete;
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
  // RFC 6581 §9: the initiator sends the LLP Terminate in FPDU mode right after the Reply.
  wire::TerminateMessage message;
  message.reason_ = {kLayerLlp, 0, llp_code};
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
  if (peer_gone(fd_)) return STATUS_CONNECTION_ABORTED;  // the acceptor gave up (2.11.3)
  sink_ = sink;
  rx_sink_ = sink;
  reader_.emplace(crc_);
  rx_buf_.resize(kRxBufferBytes);
  phase_ = Phase::Established;
  set_pollable(true);
  // The RTR is our first FPDU (RFC 6581 §5; iwarp.md 1.4 "The RTR messages").
  if (rtr_ == Rtr::Write) {
    wire::UlpduHeader rtr;
    rtr.ddp_ = wire::make_tagged_header(wire::RdmapOpcode::Write, true, 1, 0);
    queue_control_fpdu_locked(rtr);
  } else if (rtr_ == Rtr::Read) {
    wire::UlpduHeader rtr;
    rtr.ddp_ = wire::make_untagged_header(wire::RdmapOpcode::ReadRequest, true, 1, 0);
    rtr.read_request_ = {0, 0, 0, 1, 0};
    queue_control_fpdu_locked(rtr);
    out_read_msn_shift_ = 1;
    await_rtr_response_ = true;
  }
  bool drained = false;
  write_queue_locked(&drained);
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
    // Enhanced Request too short for its IRD/ORD word: reject (iwarp.md 4.4).
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
    if (request.markers_) {  // we never insert markers: reject (iwarp.md 1.3)
      send_reject_locked({});
      return;
    }
    context_->engine->cancel_timer(timer_id_);
    timer_id_ = 0;
    phase_ = Phase::RequestDelivered;
    update_interest_locked();
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
  wire::MpaFrame reply;
  reply.kind_ = wire::MpaFrameKind::Reply;
  reply.reject_ = true;
  reply.revision_ = peer_request_.revision_ == 1 ? 1 : 2;
  reply.enhanced_ = peer_request_.has_ird_ord() || (reply.revision_ == 2 && peer_request_.enhanced_);
  reply.crc_ = peer_request_.crc_ || context_->options.request_crc;
  // Enhanced mode keeps the IRD/ORD word in a reject (iwarp.md 1.3): siw strips 4 bytes.
  reply.ird_ord_ = {peer_request_.ird_ord_.peer_to_peer_, false, false, false, 0, 0};
  reply.private_data_ = private_data.subspan(
      0, std::min<size_t>(private_data.size(), wire::kMpaMaxPrivateDataBytes - 4));
  std::array<std::byte, wire::kMpaMaxFrameBytes> frame;
  wire::EncodeResult encoded = wire::encode_mpa_frame(reply, frame);
  if (encoded.is_ok()) queue_owned_locked({frame.data(), encoded.bytes_});
  tx_closed_ = true;
  fin_after_tx_ = true;
  phase_ = Phase::Draining;
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
  if (peer_gone(fd_)) return STATUS_CONNECTION_ABORTED;  // the requester gave up (2.11.4)
  const wire::MpaIrdOrd& offer = peer_request_.ird_ord_;
  bool enhanced = peer_request_.has_ird_ord();
  bool p2p = enhanced && offer.peer_to_peer_;
  Rtr rtr = Rtr::None;
  if (p2p) {
    // Prefer Write, then Read, then Send (iwarp.md 0.1); like siw, Write if none was offered.
    rtr = offer.rtr_write_  ? Rtr::Write
          : offer.rtr_read_ ? Rtr::Read
          : offer.rtr_send_ ? Rtr::Send
                            : Rtr::Write;
  }
  uint16_t ird = clamp_ird_ord(reply.inbound_read_limit);
  if (rtr == Rtr::Read && ird == 0) ird = 1;  // the Read RTR needs one IRD slot
  uint16_t ord = clamp_ird_ord(reply.outbound_read_limit);
  wire::MpaFrame frame;
  frame.kind_ = wire::MpaFrameKind::Reply;
  frame.crc_ = peer_request_.crc_ || context_->options.request_crc;
  frame.revision_ = peer_request_.revision_;
  frame.enhanced_ = enhanced;
  frame.ird_ord_ = {p2p, rtr == Rtr::Send, rtr == Rtr::Write, rtr == Rtr::Read, ird, ord};
  frame.private_data_ = reply.private_data;
  std::array<std::byte, wire::kMpaMaxFrameBytes> bytes;
  wire::EncodeResult encoded = wire::encode_mpa_frame(frame, bytes);
  if (!encoded.is_ok()) return STATUS_INVALID_PARAMETER;
  crc_ = frame.crc_;
  rtr_ = rtr;
  peer_p2p_ = p2p;
  queue_owned_locked({bytes.data(), encoded.bytes_});
  sink_ = sink;
  rx_sink_ = sink;
  reader_.emplace(crc_);
  rx_buf_.resize(kRxBufferBytes);
  rx_rtr_ = rtr;
  await_first_fpdu_ = true;
  // Initiator sends first (RFC 5044 §7.1.3): no FPDU of ours leaves before its first one.
  tx_hold_ = true;
  bool drained = false;
  write_queue_locked(&drained);  // the Reply itself is not held
  if (p2p) {
    phase_ = Phase::AwaitRtr;
    arm_timer_locked(kSetupTimer, context_->options.setup_timeout_ms);
  } else {
    phase_ = Phase::Established;  // accept completes after the Reply (iwarp.md 5.1 step 3)
    set_pollable(true);
    post_events([](ConnectionEvents& e) { e.on_established(); });
  }
  update_interest_locked();
  return STATUS_SUCCESS;
}

Status TcpConnection::reject(std::span<const std::byte> private_data) {
  std::lock_guard lock(mutex_);
  if (active_) {
    // Declining an accepted connection: close abortively without any FPDU (iwarp.md 5.1).
    if (phase_ != Phase::AwaitComplete || fd_ < 0) return STATUS_CONNECTION_ABORTED;
    reset_connection(fd_);
    tx_closed_ = true;
    phase_ = Phase::Closed;
    context_->engine->post([self = shared_from_this()] { self->close_now(true); });
    return STATUS_SUCCESS;
  }
  if (phase_ != Phase::RequestDelivered || fd_ < 0) return STATUS_CONNECTION_ABORTED;
  if (peer_gone(fd_)) return STATUS_CONNECTION_ABORTED;  // the requester gave up (2.11.5)
  send_reject_locked(private_data);
  return STATUS_SUCCESS;
}

void TcpConnection::cancel() {
  {
    std::lock_guard lock(events_mutex_);
    if (cancelled_) return;
    cancelled_ = true;
    events_ = nullptr;
    sink_ = nullptr;
  }
  bool finishing = false;
  {
    std::lock_guard lock(mutex_);
    finishing = phase_ == Phase::Closing || phase_ == Phase::Draining || phase_ == Phase::Closed;
  }
  if (finishing) {
    stop_rx();
    std::lock_guard lock(mutex_);
    if (phase_ == Phase::Closing) {
      phase_ = Phase::Draining;  // nobody waits for the peer's FIN any more: bounded drain
      arm_timer_locked(kDrainTimer, kDrainTimeoutMs);
    }
  } else {
    abort();
  }
  if (release_tuple_) {
    release_tuple_();
    release_tuple_ = nullptr;
  }
}

// ---------------------------------------------------------------------------------------------
// Transmit

size_t TcpConnection::max_segment_payload(bool tagged) const {
  // MULPDU follows the current EMSS (RFC 5044 §5.2; iwarp.md 1.9). The MSS of an established
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
  // crc_ and out_read_msn_shift_ are fixed before the core may send (complete()/accept()).
  TxFrame frame;
  wire::UlpduHeader header = ulpdu_for(segment.header, out_read_msn_shift_);
  if (!frame_fpdu(header, segment.pieces, segment.piece_count, crc_, frame.head.data(),
                  frame.head.size(), &frame.head_bytes, frame.trailer.data(),
                  &frame.trailer_bytes, &frame.total))
    return TxResult::Closed;
  std::lock_guard lock(mutex_);
  if (tx_closed_ || fd_ < 0 || (phase_ != Phase::Established && phase_ != Phase::AwaitRtr))
    return TxResult::Closed;
  if (tx_queue_.empty() && !tx_hold_) {
    // The link is idle: this thread hands the FPDU to the kernel, one sendmsg (iwarp.md 1.9).
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
        n = sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      } while (n < 0 && errno == EINTR);
      if (n == static_cast<ssize_t>(frame.total)) return TxResult::Sent;
      if (n < 0 && !would_block(errno)) {
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
    if (tx_hold_ && frame.core_payload) break;  // initiator sends first (RFC 5044 §7.1.3)
    iovec iov[kMaxIov];
    size_t count = build_iov(frame.head.data(), frame.head_bytes, frame.pieces.data(),
                             std::min(frame.pieces.size(), kMaxIov - 2), frame.trailer.data(),
                             frame.trailer_bytes, frame.sent, iov);
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    ssize_t n = sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (would_block(errno)) break;
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

void TcpConnection::queue_terminate_locked(const wire::TerminateMessage& message) {
  // RFC 5040 §5.3, iwarp.md 4.2: finish the FPDU on the wire, drop what has not started, send
  // the Terminate once, FIN behind it, then drain.
  if (terminate_sent_ || fd_ < 0) return;
  terminate_sent_ = true;
  std::deque<TxFrame> keep;
  for (TxFrame& frame : tx_queue_) {
    if (frame.sent != 0) keep.push_back(std::move(frame));
  }
  tx_queue_.swap(keep);
  detach_core_payload_locked();
  tx_hold_ = false;
  wire::UlpduHeader header;
  header.ddp_ = wire::make_untagged_header(wire::RdmapOpcode::Terminate, true, 1, 0);
  header.terminate_ = message;
  queue_control_fpdu_locked(header);
  enter_draining_locked(false);
}

void TcpConnection::enter_draining_locked(bool drop_unsent) {
  if (drop_unsent) {
    std::deque<TxFrame> keep;
    for (TxFrame& frame : tx_queue_) {
      if (frame.sent != 0) keep.push_back(std::move(frame));
    }
    tx_queue_.swap(keep);
    detach_core_payload_locked();
  }
  tx_hold_ = false;
  tx_closed_ = true;
  fin_after_tx_ = true;
  phase_ = Phase::Draining;
  set_pollable(false);
  arm_timer_locked(kDrainTimer, kDrainTimeoutMs);
  bool drained = false;
  write_queue_locked(&drained);
  update_interest_locked();
}

wire::TerminateMessage TcpConnection::terminate_message(const TerminateReason& reason,
                                                        const SegmentHeader* offending,
                                                        bool inside_rx) const {
  wire::TerminateMessage t;
  t.reason_ = to_wire(reason);
  if (reason.layer == kLayerLlp) return t;  // LLP errors carry nothing (iwarp.md 3.5)
  bool rdmap_protection = reason.layer == 0 && reason.type == 1;
  if (inside_rx && reader_.has_value()) {
    // The offending segment as received: its DDP header verbatim, its ULPDU length.
    std::span<const std::byte> ddp = reader_->received_ddp_header();
    if (!ddp.empty() && t.set_ddp_header(ddp)) {
      t.segment_length_valid_ = true;
      t.ddp_segment_length_ = static_cast<uint16_t>(reader_->ulpdu_bytes());
      const wire::UlpduHeader& h = reader_->header();
      if (rdmap_protection && h.ddp_.opcode_ == wire::RdmapOpcode::ReadRequest) {
        t.read_request_ = h.read_request_;
        t.has_rdmap_header_ = true;
      }
      return t;
    }
  }
  if (offending != nullptr) {
    SegmentHeader s = *offending;
    if (s.opcode == Opcode::ReadRequest) s.msn += in_read_msn_shift_;
    if (is_send(s.opcode)) s.msn += in_send_msn_shift_;
    wire::UlpduHeader u = ulpdu_for(s, 0);
    std::array<std::byte, wire::kDdpUntaggedHeaderBytes> bytes{};
    wire::EncodeResult encoded = wire::encode_ddp_header(u.ddp_, bytes);
    if (encoded.is_ok() && t.set_ddp_header({bytes.data(), encoded.bytes_})) {
      t.segment_length_valid_ = true;
      t.ddp_segment_length_ = static_cast<uint16_t>(
          encoded.bytes_ + (s.opcode == Opcode::ReadRequest ? wire::kRdmapReadRequestBytes : 0));
      if (rdmap_protection && s.opcode == Opcode::ReadRequest) {
        t.read_request_ = u.read_request_;
        t.has_rdmap_header_ = true;
      }
    }
  }
  return t;
}

void TcpConnection::terminate(const TerminateReason& reason, const SegmentHeader* offending) {
  bool inside = delivering_.load() == std::this_thread::get_id();
  wire::TerminateMessage message = terminate_message(reason, offending, inside);
  stop_rx();
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    if (!terminate_sent_ && fd_ >= 0 && phase_ != Phase::Closed && phase_ != Phase::Draining) {
      first = true;
      queue_terminate_locked(message);
    }
  }
  if (first) post_link_closed(LinkSink::CloseKind::Terminated, &reason, nullptr);
}

void TcpConnection::disconnect() {
  std::lock_guard lock(mutex_);
  if (phase_ != Phase::Established || fd_ < 0) return;
  // Graceful close after everything queued (iwarp.md 4.3): FIN, then wait for the peer's.
  phase_ = Phase::Closing;
  tx_closed_ = true;
  fin_after_tx_ = true;
  arm_timer_locked(kSetupTimer, context_->options.setup_timeout_ms);
  bool drained = false;
  write_queue_locked(&drained);
  update_interest_locked();
}

void TcpConnection::stop_rx() {
  if (delivering_.load() == std::this_thread::get_id()) {
    rx_closed_ = true;  // this thread is inside a delivery and holds rx_mutex_
    return;
  }
  std::lock_guard rx(rx_mutex_);
  rx_closed_ = true;
  rx_sink_ = nullptr;
}

void TcpConnection::abort() {
  // stop_rx(), keeping rx_mutex_ (unless this thread is inside a delivery and holds it) across
  // the reset below: no receive (progress thread or consumer poll) is inside recv() on the
  // socket while it is reset.
  std::unique_lock rx(rx_mutex_, std::defer_lock);
  if (delivering_.load() != std::this_thread::get_id()) rx.lock();
  rx_closed_ = true;
  if (rx.owns_lock()) rx_sink_ = nullptr;
  stop_pollers();
  bool notify = false;
  {
    std::lock_guard lock(mutex_);
    if (phase_ == Phase::Closed || fd_ < 0) return;
    // After a Terminate (sent or received) the peer knows: let the bounded drain close it.
    if (phase_ == Phase::Draining) return;
    notify = phase_ == Phase::Established || phase_ == Phase::Closing;
    tx_queue_.clear();
    writable_owed_ = false;
    tx_closed_ = true;
    reset_connection(fd_);  // RST now (iwarp.md 4.3); the progress thread closes the socket
    phase_ = Phase::Closed;
    context_->engine->cancel_timer(timer_id_);
    timer_id_ = 0;
    context_->engine->post([self = shared_from_this()] { self->close_now(true); });
  }
  if (notify) post_link_closed(LinkSink::CloseKind::Aborted, nullptr, nullptr);
}

void TcpConnection::close_now(bool abortive) {
  // Sockets close on the progress thread only: it may be inside recv() on this one (draining),
  // and the descriptor could be reused under it. A receive on a consumer's thread (poll_receive)
  // that ends the connection gets here too: the progress thread does it, right away.
  if (!context_->engine->on_thread()) {
    set_pollable(false);
    context_->engine->post([self = shared_from_this(), abortive] { self->close_now(abortive); });
    return;
  }
  // No consumer may be inside recv() on this descriptor when it closes (and is reused). Waited
  // for before taking mutex_: a poller's delivery may need mutex_ (sends, Terminates).
  stop_pollers();
  std::lock_guard lock(mutex_);
  if (fd_ < 0) return;
  context_->engine->cancel_timer(timer_id_);
  timer_id_ = 0;
  context_->engine->cancel_timer(watchdog_id_);
  watchdog_id_ = 0;
  consumer_owned_.store(false, std::memory_order_relaxed);
  context_->engine->remove(fd_, this);
  if (abortive) set_abortive(fd_);
  ::close(fd_);
  fd_ = -1;
  phase_ = Phase::Closed;
  tx_queue_.clear();
  tx_closed_ = true;
  writable_owed_ = false;
}

// ---------------------------------------------------------------------------------------------
// Receive (progress thread)

SegmentHeader TcpConnection::to_segment(const wire::UlpduHeader& h) const {
  SegmentHeader s;
  s.opcode = static_cast<Opcode>(h.ddp_.opcode_);
  s.last = h.ddp_.last_;
  if (h.ddp_.tagged_) {
    s.stag = h.ddp_.stag_;
    s.to = h.ddp_.to_;
  } else {
    s.qn = h.ddp_.qn_;
    s.msn = h.ddp_.msn_;
    s.mo = h.ddp_.mo_;
    s.inval_stag = h.ddp_.inval_stag_;
    // An RTR of type Read or Send consumed MSN 1 of its queue (RFC 6581 §5, iwarp.md 1.4).
    if (s.opcode == Opcode::ReadRequest) s.msn -= in_read_msn_shift_;
    if (is_send(s.opcode)) s.msn -= in_send_msn_shift_;
  }
  if (s.opcode == Opcode::ReadRequest) {
    s.sink_stag = h.read_request_.sink_stag_;
    s.sink_to = h.read_request_.sink_to_;
    s.read_size = h.read_request_.read_bytes_;
    s.source_stag = h.read_request_.source_stag_;
    s.source_to = h.read_request_.source_to_;
  }
  return s;
}

bool TcpConnection::supports_poll_receive() const { return context_->options.consumer_receive; }

void TcpConnection::set_pollable(bool on) {
  rx_pollable_.store(on && context_->options.consumer_receive, std::memory_order_seq_cst);
}

void TcpConnection::stop_pollers() {
  set_pollable(false);
  const uint32_t self = t_polling == this ? 1 : 0;
  while (rx_pollers_.load(std::memory_order_acquire) > self) util::cpu_relax();
}

bool TcpConnection::poll_receive() {
  if (!rx_pollable_.load(std::memory_order_relaxed)) return false;
  // Dekker with close_now(): count ourselves in, then look at the flag again (both seq_cst).
  rx_pollers_.fetch_add(1, std::memory_order_seq_cst);
  bool ran = false;
  if (rx_pollable_.load(std::memory_order_seq_cst)) {
    std::unique_lock rx(rx_mutex_, std::try_to_lock);
    if (rx.owns_lock()) {
      const TcpConnection* outer = t_polling;
      t_polling = this;
      receive_locked(rx, true);
      t_polling = outer;
      ran = true;
    }
  }
  rx_pollers_.fetch_sub(1, std::memory_order_release);
  if (ran) {
    uint32_t polls = consumer_polls_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (polls % kPollsBeforeOwnership == 0 && !consumer_owned_.load(std::memory_order_relaxed))
      take_poll_ownership();
  }
  return ran;
}

void TcpConnection::take_poll_ownership() {
  std::lock_guard lock(mutex_);
  if (consumer_owned_.load(std::memory_order_relaxed) || fd_ < 0 ||
      phase_ != Phase::Established)
    return;
  consumer_owned_.store(true, std::memory_order_relaxed);
  polls_seen_ = consumer_polls_.load(std::memory_order_relaxed);
  update_interest_locked();
  watchdog_id_ = context_->engine->arm_timer(kPollWatchdogMs, weak_from_this(), kPollWatchdog);
}

void TcpConnection::give_back_locked() {
  if (!consumer_owned_.load(std::memory_order_relaxed)) return;
  consumer_owned_.store(false, std::memory_order_relaxed);
  context_->engine->cancel_timer(watchdog_id_);
  watchdog_id_ = 0;
  update_interest_locked();  // EPOLLIN again: level-triggered, so waiting bytes wake it now
}

void TcpConnection::stop_poll_receive() {
  if (!consumer_owned_.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mutex_);
  give_back_locked();
}

void TcpConnection::poll_watchdog() {
  std::lock_guard lock(mutex_);
  if (!consumer_owned_.load(std::memory_order_relaxed)) return;
  watchdog_id_ = 0;
  uint32_t polls = consumer_polls_.load(std::memory_order_relaxed);
  if (fd_ >= 0 && phase_ == Phase::Established && polls - polls_seen_ >= kPollsToKeepOwnership) {
    polls_seen_ = polls;  // still polling hard: keep it for another period
    watchdog_id_ = context_->engine->arm_timer(kPollWatchdogMs, weak_from_this(), kPollWatchdog);
    return;
  }
  give_back_locked();
}

void TcpConnection::receive() {
  std::unique_lock rx(rx_mutex_);
  receive_locked(rx, false);
}

void TcpConnection::receive_locked(std::unique_lock<std::mutex>& rx, bool polled) {
  RxOutcome outcome = RxOutcome::None;
  bool post_established = false;
  bool first_fpdu = false;
  {
    if (rx_closed_ || !reader_.has_value()) {
      // Nobody listens any more: the progress thread discards, sees EOF or the reset. Under
      // rx_mutex_, like abort()'s reset of the socket (ordered system calls on the socket).
      if (!polled) drain_input();
      rx.unlock();
      return;
    }
    delivering_.store(std::this_thread::get_id());
    bool was_waiting = await_first_fpdu_;
    bool short_read = false;
    for (int round = 0;; ++round) {
      if (!process_buffered(&outcome)) break;
      // Nothing staged is left unprocessed here: stopping now leaves only bytes in the socket,
      // and level-triggered EPOLLIN brings us back for them (fairness between connections).
      // A read that returned less than asked emptied the socket: another recv would only
      // fail with EAGAIN (a system call per message for nothing).
      if (round == 32 || short_read) break;
      ssize_t n;
      bool direct = reader_->state() == wire::FpduReaderState::Payload &&
                    rx_mode_ == RxMode::Sink && rx_place_ && !rx_discard_rest_ &&
                    rx_begin_ == rx_end_;
      if (direct && !ensure_span()) {
        if (rx_closed_) {
          outcome = RxOutcome::Stopped;
          break;
        }
        continue;  // the sink refused the rest: read it into the staging buffer and drop it
      }
      if (direct) {
        // Direct data placement: from the socket straight into the target memory.
        size_t want = std::min(rx_span_.size() - rx_span_fill_, reader_->payload_remaining());
        n = recv(fd_, rx_span_.data() + rx_span_fill_, want, MSG_DONTWAIT);
        if (n > 0) {
          short_read = static_cast<size_t>(n) < want;
          std::span<const std::byte> placed(rx_span_.data() + rx_span_fill_,
                                            static_cast<size_t>(n));
          (void)reader_->consume_payload_external(placed);
          rx_span_fill_ += static_cast<size_t>(n);
          rx_left_ -= static_cast<size_t>(n);
          continue;
        }
      } else {
        if (rx_begin_ == rx_end_) {
          rx_begin_ = rx_end_ = 0;
        } else if (rx_begin_ != 0) {
          std::memmove(rx_buf_.data(), rx_buf_.data() + rx_begin_, rx_end_ - rx_begin_);
          rx_end_ -= rx_begin_;
          rx_begin_ = 0;
        }
        size_t room = rx_buf_.size() - rx_end_;
        n = recv(fd_, rx_buf_.data() + rx_end_, room, MSG_DONTWAIT);
        if (n > 0) {
          short_read = static_cast<size_t>(n) < room;
          rx_end_ += static_cast<size_t>(n);
          continue;
        }
      }
      if (n == 0) {
        // FIN at an FPDU boundary is a graceful close; inside an FPDU, LLP 0x01 (4.3).
        outcome = reader_->at_fpdu_boundary() && rx_begin_ == rx_end_ ? RxOutcome::PeerFin
                                                                      : RxOutcome::Lost;
        rx_errno_ = 0;
        break;
      }
      if (would_block(errno)) break;
      if (errno == EINTR) continue;
      rx_errno_ = errno;
      outcome = RxOutcome::Lost;
      break;
    }
    if ((outcome == RxOutcome::Lost || outcome == RxOutcome::Malformed) && rx_in_segment_ &&
        rx_sink_ != nullptr && !rx_closed_) {
      rx_in_segment_ = false;
      rx_sink_->rx_end(false);  // CRC failed or the link broke mid-segment
    }
    if (outcome == RxOutcome::PeerFin || outcome == RxOutcome::Lost ||
        outcome == RxOutcome::Malformed || outcome == RxOutcome::PeerTerminate) {
      // The input ends here, before rx_mutex_ is released: another thread's receive (the
      // progress thread after a consumer's poll, or the reverse) only drains from now on, so
      // the FIN behind a Terminate cannot be reported as a graceful close ahead of it.
      rx_closed_ = true;
    }
    post_established = rx_post_established_;
    rx_post_established_ = false;
    first_fpdu = was_waiting && !await_first_fpdu_;
    delivering_.store(std::thread::id{});
    rx.unlock();
  }
  if (post_established) post_events([](ConnectionEvents& e) { e.on_established(); });
  if (first_fpdu) flush_tx();  // the hold is over: our first FPDUs may leave
  switch (outcome) {
    case RxOutcome::None:
    case RxOutcome::Stopped:
      return;
    case RxOutcome::PeerFin:
      handle_peer_fin();
      return;
    case RxOutcome::Lost:
      handle_lost();
      return;
    case RxOutcome::Malformed:
      handle_malformed();
      return;
    case RxOutcome::PeerTerminate:
      handle_peer_terminate();
      return;
  }
}

bool TcpConnection::process_buffered(RxOutcome* outcome) {
  for (;;) {
    if (rx_closed_) {
      *outcome = RxOutcome::Stopped;  // terminate/abort from inside the sink
      return false;
    }
    std::span<const std::byte> in(rx_buf_.data() + rx_begin_, rx_end_ - rx_begin_);
    wire::FpduEvent event = reader_->feed(in);
    rx_begin_ += event.consumed_bytes_;
    switch (event.kind_) {
      case wire::FpduEventKind::NeedMore:
        return true;
      case wire::FpduEventKind::Header:
        if (!on_header(*event.header_, outcome)) return false;
        break;
      case wire::FpduEventKind::Payload:
        if (!place(event.payload_)) {
          *outcome = RxOutcome::Stopped;
          return false;
        }
        break;
      case wire::FpduEventKind::Complete:
        if (!on_complete(outcome)) return false;
        break;
      case wire::FpduEventKind::Malformed:
        rx_check_ = event.check_;
        *outcome = RxOutcome::Malformed;
        return false;
    }
  }
}

bool TcpConnection::on_header(const wire::UlpduHeader& h, RxOutcome* outcome) {
  rx_mode_ = RxMode::None;
  rx_in_segment_ = false;
  rx_place_ = false;
  rx_discard_rest_ = false;
  rx_span_ = {};
  rx_span_fill_ = 0;
  rx_left_ = h.payload_bytes_;
  const wire::RdmapOpcode op = h.ddp_.opcode_;
  if (op == wire::RdmapOpcode::Terminate) {
    rx_mode_ = RxMode::PeerTerminate;  // acted on once its CRC checked out
    return true;
  }
  if (await_first_fpdu_) {
    bool rtr = false;
    switch (rx_rtr_) {
      case Rtr::Write:
        rtr = op == wire::RdmapOpcode::Write && h.payload_bytes_ == 0 && h.ddp_.last_;
        break;
      case Rtr::Read:
        rtr = op == wire::RdmapOpcode::ReadRequest && h.read_request_.read_bytes_ == 0 &&
              h.ddp_.msn_ == 1;
        break;
      case Rtr::Send:
        rtr = wire::opcode_info(op).queue_number_ == 0 && !h.ddp_.tagged_ &&
              h.payload_bytes_ == 0 && h.ddp_.msn_ == 1 && h.ddp_.last_;
        break;
      case Rtr::None:
        break;
    }
    if (rtr) {
      rx_mode_ = RxMode::Absorb;  // never reported to the consumer (iwarp.md 1.4)
      return true;
    }
  } else if (await_rtr_response_ && op == wire::RdmapOpcode::ReadResponse &&
             h.payload_bytes_ == 0 && h.ddp_.last_) {
    rx_mode_ = RxMode::Absorb;
    return true;
  }
  if (rx_sink_ == nullptr) return true;  // payload is dropped
  RxVerdict verdict = rx_sink_->rx_begin(to_segment(h), static_cast<uint32_t>(h.payload_bytes_));
  if (verdict == RxVerdict::Terminate || rx_closed_) {
    *outcome = RxOutcome::Stopped;  // no rx_end after a Terminate verdict
    return false;
  }
  rx_mode_ = RxMode::Sink;
  rx_in_segment_ = true;
  rx_place_ = verdict == RxVerdict::Place;
  return true;
}

bool TcpConnection::ensure_span() {
  if (rx_discard_rest_) return false;
  if (rx_span_fill_ < rx_span_.size()) return true;
  rx_span_ = rx_sink_->rx_next_span(rx_left_);
  rx_span_fill_ = 0;
  if (rx_span_.empty() || rx_closed_) {
    rx_discard_rest_ = true;  // the sink failed a local check; rx_end reports it
    return false;
  }
  return true;
}

bool TcpConnection::place(std::span<const std::byte> payload) {
  if (rx_mode_ != RxMode::Sink || !rx_place_) {
    rx_left_ -= std::min(rx_left_, payload.size());
    return true;
  }
  while (!payload.empty()) {
    if (!ensure_span()) {
      if (rx_closed_) return false;
      rx_left_ -= std::min(rx_left_, payload.size());
      return true;
    }
    size_t n = std::min(rx_span_.size() - rx_span_fill_, payload.size());
    std::memcpy(rx_span_.data() + rx_span_fill_, payload.data(), n);
    rx_span_fill_ += n;
    rx_left_ -= n;
    payload = payload.subspan(n);
  }
  return true;
}

bool TcpConnection::on_complete(RxOutcome* outcome) {
  RxMode mode = rx_mode_;
  rx_mode_ = RxMode::None;
  switch (mode) {
    case RxMode::Sink:
      rx_in_segment_ = false;
      rx_sink_->rx_end(true);
      if (rx_closed_) {
        *outcome = RxOutcome::Stopped;
        return false;
      }
      break;
    case RxMode::Absorb:
      if (await_first_fpdu_) {
        if (rx_rtr_ == Rtr::Read) {
          // Answer the Read RTR with a zero-length Read Response, our first FPDU.
          const wire::RdmapReadRequest& rr = reader_->header().read_request_;
          wire::UlpduHeader response;
          response.ddp_ = wire::make_tagged_header(wire::RdmapOpcode::ReadResponse, true,
                                                   rr.sink_stag_, rr.sink_to_);
          std::lock_guard lock(mutex_);
          queue_control_fpdu_locked(response);
          in_read_msn_shift_ = 1;
        } else if (rx_rtr_ == Rtr::Send) {
          in_send_msn_shift_ = 1;
        }
      } else {
        await_rtr_response_ = false;
      }
      break;
    case RxMode::PeerTerminate:
      peer_terminate_ = reader_->header().terminate_;
      *outcome = RxOutcome::PeerTerminate;
      return false;
    case RxMode::None:
      break;
  }
  if (await_first_fpdu_) {
    await_first_fpdu_ = false;
    std::lock_guard lock(mutex_);
    tx_hold_ = false;
    if (phase_ == Phase::AwaitRtr) {
      phase_ = Phase::Established;
      set_pollable(true);
      context_->engine->cancel_timer(timer_id_);
      timer_id_ = 0;
      rx_post_established_ = true;
    }
  }
  return true;
}

void TcpConnection::drain_input() {
  std::array<std::byte, 4096> scratch;
  for (int round = 0; round < 16; ++round) {
    ssize_t n = recv(fd_, scratch.data(), scratch.size(), MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && would_block(errno)) return;
    if (n < 0 && errno == EINTR) continue;
    bool close_graceful = false;
    {
      std::lock_guard lock(mutex_);
      peer_fin_ = true;
      close_graceful = n == 0 && fin_sent_ && tx_queue_.empty();
      update_interest_locked();
    }
    if (close_graceful || n < 0) close_now(n < 0);
    return;
  }
}

void TcpConnection::handle_peer_fin() {
  Phase phase;
  {
    std::lock_guard lock(mutex_);
    phase = phase_;
  }
  stop_rx();
  if (phase == Phase::AwaitRtr) {
    post_events([](ConnectionEvents& e) { e.on_setup_aborted(STATUS_CONNECTION_ABORTED); });
    close_now(false);
    return;
  }
  bool close = false;
  {
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return;
    // The peer closed in order: answer with our FIN at once, no half-close (ndkpi.md 4.5.7).
    peer_fin_ = true;
    detach_core_payload_locked();
    tx_closed_ = true;
    fin_after_tx_ = true;
    if (phase_ == Phase::Established) phase_ = Phase::Closing;
    bool drained = false;
    write_queue_locked(&drained);
    update_interest_locked();
    close = fin_sent_ && tx_queue_.empty();
    if (!close) arm_timer_locked(kDrainTimer, context_->options.setup_timeout_ms);
  }
  post_link_closed(LinkSink::CloseKind::Graceful, nullptr, nullptr);
  if (close) close_now(false);
}

void TcpConnection::handle_lost() {
  Phase phase;
  {
    std::lock_guard lock(mutex_);
    phase = phase_;
  }
  stop_rx();
  close_now(true);
  if (phase == Phase::AwaitRtr) {
    post_events([](ConnectionEvents& e) { e.on_setup_aborted(STATUS_CONNECTION_ABORTED); });
  } else {
    post_link_closed(LinkSink::CloseKind::Aborted, nullptr, nullptr);
  }
}

void TcpConnection::handle_malformed() {
  // A framing or header check of iwarp.md 4.1 (rows 1-6) failed: Terminate, then drain.
  wire::TerminateMessage message;
  message.reason_ = rx_check_.reason_;
  if (rx_check_.includes_ != wire::TerminateIncludes::Nothing) {
    std::span<const std::byte> ddp = reader_->received_ddp_header();
    if (!ddp.empty() && message.set_ddp_header(ddp)) {
      message.segment_length_valid_ = true;
      message.ddp_segment_length_ = static_cast<uint16_t>(reader_->ulpdu_bytes());
    }
  }
  TerminateReason reason = from_wire(rx_check_.reason_);
  Phase phase;
  {
    std::lock_guard lock(mutex_);
    phase = phase_;
  }
  stop_rx();
  {
    std::lock_guard lock(mutex_);
    queue_terminate_locked(message);
  }
  if (phase == Phase::AwaitRtr) {
    post_events([](ConnectionEvents& e) { e.on_setup_aborted(STATUS_CONNECTION_ABORTED); });
  } else {
    post_link_closed(LinkSink::CloseKind::Terminated, &reason, nullptr);
  }
}

void TcpConnection::handle_peer_terminate() {
  // iwarp.md 4.2: log, stop processing input, FIN, drain, close; never answer a Terminate.
  TerminateReason reason = from_wire(peer_terminate_.reason_);
  SOFTNDK_LOG(Info, "tcp %s: peer Terminate layer %u type %u code 0x%02x",
              remote_.to_string().c_str(), reason.layer, reason.type, reason.code);
  std::optional<SegmentHeader> offending;
  if (peer_terminate_.has_ddp_header_) {
    auto decoded = wire::decode_ddp_header(peer_terminate_.ddp_header());
    if (decoded.is_complete()) {
      wire::UlpduHeader u;
      u.ddp_ = decoded.value_;
      if (peer_terminate_.read_request_.has_value()) u.read_request_ = *peer_terminate_.read_request_;
      SegmentHeader s = to_segment(u);
      // It is one of our segments: undo the receive-side shifts, apply ours.
      if (s.opcode == Opcode::ReadRequest) s.msn = u.ddp_.msn_ - out_read_msn_shift_;
      if (is_send(s.opcode)) s.msn = u.ddp_.msn_;
      offending = s;
    }
  }
  Phase phase;
  {
    std::lock_guard lock(mutex_);
    phase = phase_;
  }
  stop_rx();
  {
    std::lock_guard lock(mutex_);
    terminate_sent_ = true;  // a received Terminate is never answered with one
    if (fd_ >= 0 && phase_ != Phase::Closed) enter_draining_locked(true);
  }
  if (phase == Phase::AwaitRtr) {
    post_events([](ConnectionEvents& e) { e.on_setup_aborted(STATUS_CONNECTION_ABORTED); });
  } else {
    post_link_closed(LinkSink::CloseKind::Terminated, &reason,
                     offending.has_value() ? &*offending : nullptr);
  }
}

}  // namespace softndk::transport::tcp
