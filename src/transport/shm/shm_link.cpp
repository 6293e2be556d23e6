// Implementation of shm_connection.h, the data path: records into the transmit ring (posting
// thread), records out of the receive ring into the sink (engine thread or a polling consumer),
// the doorbell protocol, Terminate, graceful and abortive close.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>

#include <softndk/ndkpi.h>

#include "transport/shm/shm_connection.h"
#include "util/log.h"
#include "wire/terminate_codes.h"

namespace softndk::transport::shm {
namespace {

constexpr int kEngineBudget = 64;   // records per link per engine pass
constexpr int kPollBudget = 16;     // records per consumer poll
constexpr int64_t kPolledNs = 1'000'000;  // a consumer that polled within 1 ms owns the ring

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void ring_doorbell(int fd) {
  uint64_t one = 1;
  ssize_t n = ::write(fd, &one, sizeof one);
  (void)n;  // EAGAIN: the counter is saturated, the peer is woken anyway
}

// A record that is not a well-formed segment (framing of the ring): nothing to name.
wire::TerminateMessage framing_terminate() {
  return wire::make_terminate(wire::kCheckUlpduTooShort.reason_);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Transmit

bool ShmConnection::write_record_locked(RecordKind kind, std::span<const std::byte> header,
                                        const ConstPiece* pieces, size_t piece_count,
                                        uint64_t payload) {
  uint64_t bytes = sizeof(RecordHeader) + header.size() + payload;
  uint64_t need = align8(bytes);
  uint64_t room = 0;
  if (!tx_ring_.free_bytes(&room)) {
    tx_final_ = true;  // the peer broke its head: nothing more leaves (the hangup follows)
    return false;
  }
  if (room < need) return false;
  RecordHeader record{};
  record.bytes = static_cast<uint32_t>(bytes);
  record.kind = static_cast<uint8_t>(kind);
  record.header_bytes = static_cast<uint8_t>(header.size());
  record.payload_bytes = static_cast<uint32_t>(payload);
  tx_ring_.write(0, {reinterpret_cast<const std::byte*>(&record), sizeof record});
  tx_ring_.write(sizeof record, header);
  uint64_t at = sizeof record + header.size();
  for (size_t i = 0; i < piece_count; ++i) {
    tx_ring_.write(at, {pieces[i].data, pieces[i].bytes});
    at += pieces[i].bytes;
  }
  tx_ring_.publish(need);
  context_->counters.records_sent.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool ShmConnection::write_segment_locked(const wire::UlpduHeader& header,
                                         const ConstPiece* pieces, size_t piece_count) {
  std::array<std::byte, kMaxRecordHeaderBytes> encoded;
  wire::EncodeResult e = wire::encode_ulpdu_header(header, encoded);
  if (!e.is_ok()) return false;
  return write_record_locked(RecordKind::Segment, {encoded.data(), e.bytes_}, pieces, piece_count,
                             header.payload_bytes_);
}

// After publishing: the peer's engine sleeps on this ring only with consumer_sleeping set.
void ShmConnection::ring_peer_if_sleeping() {
  auto flag = tx_ring_.consumer_sleeping();  // after the seq_cst publish of the tail
  if (flag.load(std::memory_order_seq_cst) != 0 && flag.exchange(0) != 0) {
    ring_doorbell(peer_doorbell_);
    context_->counters.doorbells_rung.fetch_add(1, std::memory_order_relaxed);
  }
}

// After consuming: the peer's producer waits for room only with producer_waiting set.
void ShmConnection::ring_peer_if_waiting() {
  auto flag = rx_ring_.producer_waiting();  // after the seq_cst store of the head
  if (flag.load(std::memory_order_seq_cst) != 0 && flag.exchange(0) != 0) {
    ring_doorbell(peer_doorbell_);
    context_->counters.doorbells_rung.fetch_add(1, std::memory_order_relaxed);
  }
}

TxResult ShmConnection::send(const TxSegment& segment) {
  const wire::UlpduHeader& header = *segment.header;
  {
    std::lock_guard tx(tx_lock_);
    if (!tx_open_ || tx_final_) return TxResult::Closed;
    if (header.payload_bytes_ > context_->options.segment_payload) return TxResult::Closed;
    if (!write_segment_locked(header, segment.pieces, segment.piece_count)) {
      if (tx_final_) return TxResult::Closed;
      // No room: the segment waits (the core keeps the payload), the peer rings us when it
      // consumed something, the engine finishes it and calls link_writable().
      tx_ring_.producer_waiting().store(1, std::memory_order_seq_cst);
      if (!write_segment_locked(header, segment.pieces, segment.piece_count)) {
        pending_header_ = header;
        pending_pieces_.assign(segment.pieces, segment.pieces + segment.piece_count);
        tx_blocked_ = true;
        tx_need_.store(align8(sizeof(RecordHeader) + kMaxRecordHeaderBytes +
                              header.payload_bytes_));
        tx_waiting_.store(true, std::memory_order_release);
        context_->counters.sends_blocked.fetch_add(1, std::memory_order_relaxed);
        context_->engine->wake();
        return TxResult::Blocked;
      }
    }
  }
  ring_peer_if_sleeping();
  return TxResult::Sent;
}

// Engine thread: finishes a blocked segment and an owed Disconnect. True: something left.
bool ShmConnection::flush_blocked() {
  bool writable = false;
  bool wrote = false;
  {
    std::lock_guard tx(tx_lock_);
    if (tx_blocked_ && !tx_final_) {
      if (write_segment_locked(pending_header_, pending_pieces_.data(), pending_pieces_.size())) {
        tx_blocked_ = false;
        pending_pieces_.clear();
        writable = true;
        wrote = true;
      }
    }
    if (!tx_blocked_ && disconnect_owed_ && !tx_final_) {
      if (write_record_locked(RecordKind::Disconnect, {}, nullptr, 0, 0)) {
        disconnect_owed_ = false;
        tx_final_ = true;
        wrote = true;
      }
    }
    bool still = (tx_blocked_ || disconnect_owed_) && !tx_final_;
    if (still) tx_ring_.producer_waiting().store(1, std::memory_order_seq_cst);
    tx_waiting_.store(still, std::memory_order_release);
  }
  if (wrote) ring_peer_if_sleeping();
  if (writable && rx_sink_ != nullptr && !closed_reported_.load()) rx_sink_->link_writable();
  return wrote;
}

// ---------------------------------------------------------------------------------------------
// Receive

// rx_mutex_ held. Processes at most `budget` records. True: processed at least one.
bool ShmConnection::receive_locked(int budget, RxStop* stop) {
  bool any = false;
  *stop = RxStop::None;
  // This thread holds rx_mutex_: a close from inside (a Terminate, a Disconnect, the core's
  // terminate() or abort() from rx_begin/rx_end) must not wait for it.
  delivering_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  for (int i = 0; i < budget; ++i) {
    if (!rx_open_.load(std::memory_order_acquire)) {
      *stop = RxStop::Closed;
      break;
    }
    uint64_t available = 0;
    if (!rx_ring_.available(&available)) {
      malformed(framing_terminate());
      *stop = RxStop::Closed;
      break;
    }
    if (available == 0) {
      *stop = RxStop::Empty;
      break;
    }
    any = true;
    RxStop s = receive_record(available);
    if (s == RxStop::Closed) {
      *stop = s;
      break;
    }
  }
  delivering_.store(std::thread::id{}, std::memory_order_relaxed);
  if (any) ring_peer_if_waiting();
  return any;
}

ShmConnection::RxStop ShmConnection::receive_record(uint64_t available) {
  RecordHeader record;
  if (available < sizeof record) {
    malformed(framing_terminate());
    return RxStop::Closed;
  }
  rx_ring_.read(0, {reinterpret_cast<std::byte*>(&record), sizeof record});
  uint64_t expected = sizeof record + uint64_t{record.header_bytes} + record.payload_bytes;
  if (record.bytes != expected || align8(expected) > available ||
      record.header_bytes > kMaxRecordHeaderBytes ||
      record.payload_bytes > rx_ring_.capacity() / 2) {
    malformed(framing_terminate());
    return RxStop::Closed;
  }
  context_->counters.records_received.fetch_add(1, std::memory_order_relaxed);
  switch (static_cast<RecordKind>(record.kind)) {
    case RecordKind::Segment: {
      RxStop s = deliver_segment(record);
      if (s == RxStop::Closed) return s;
      break;
    }
    case RecordKind::Disconnect:
      rx_ring_.consume(align8(expected));
      peer_disconnected();
      return RxStop::Closed;
    case RecordKind::DisconnectReply:
      rx_ring_.consume(align8(expected));
      stop_rx();
      report_closed(LinkSink::CloseKind::Graceful, nullptr);
      return RxStop::Closed;
    default:
      malformed(framing_terminate());
      return RxStop::Closed;
  }
  rx_ring_.consume(align8(expected));
  return RxStop::None;
}

ShmConnection::RxStop ShmConnection::deliver_segment(const RecordHeader& record) {
  std::array<std::byte, kMaxRecordHeaderBytes> bytes;
  std::span<std::byte> prefix{bytes.data(), record.header_bytes};
  rx_ring_.read(sizeof record, prefix);
  size_t ulpdu = size_t{record.header_bytes} + record.payload_bytes;
  auto decoded = wire::decode_ulpdu_header(prefix, ulpdu);
  std::span<const std::byte> ddp{bytes.data(),
                                 std::min<size_t>(record.header_bytes, wire::kDdpUntaggedHeaderBytes)};
  if (decoded.is_malformed()) {
    malformed(wire::make_terminate(decoded.error_, ddp, ulpdu));
    return RxStop::Closed;
  }
  if (!decoded.is_complete() || decoded.bytes_ != record.header_bytes) {
    malformed(wire::make_terminate(wire::kCheckUlpduLengthForOpcode, ddp, ulpdu));
    return RxStop::Closed;
  }
  const wire::UlpduHeader& header = decoded.value_;
  if (header.ddp_.opcode_ == wire::RdmapOpcode::Terminate) {
    stop_rx();
    report_closed(LinkSink::CloseKind::TerminateReceived, &header.terminate_);
    return RxStop::Closed;
  }
  LinkSink* sink = rx_sink_;
  RxVerdict verdict = sink->rx_begin(header);
  if (verdict == RxVerdict::Place) {
    // The one copy of the unprivileged path: from the ring straight into the target memory.
    std::span<const std::byte> parts[2];
    rx_ring_.spans(sizeof record + record.header_bytes, record.payload_bytes, parts);
    placement_.start(sink, record.payload_bytes);
    placement_.copy(parts[0]);
    placement_.copy(parts[1]);
  }
  if (verdict != RxVerdict::Terminate) sink->rx_end(true);
  return verdict == RxVerdict::Terminate ? RxStop::Closed : RxStop::None;
}

// A record the peer should never have written: our Terminate (the link's own, like a framing
// error on tcp), then close.
void ShmConnection::malformed(const wire::TerminateMessage& message) { terminate(message); }

// ---------------------------------------------------------------------------------------------
// Progress

bool ShmConnection::poll_receive() {
  if (!rx_open_.load(std::memory_order_acquire)) return false;
  polled_at_.store(now_ns(), std::memory_order_relaxed);
  std::unique_lock rx(rx_mutex_, std::try_to_lock);
  if (!rx.owns_lock()) return false;
  RxStop stop;
  receive_locked(kPollBudget, &stop);
  return true;
}

void ShmConnection::stop_poll_receive() {
  polled_at_.store(0, std::memory_order_relaxed);
  context_->engine->wake();
}

bool ShmConnection::progress() {
  bool did = false;
  if (rx_open_.load(std::memory_order_acquire)) {
    std::unique_lock rx(rx_mutex_, std::try_to_lock);  // a polling consumer is at it otherwise
    if (rx.owns_lock()) {
      RxStop stop;
      did = receive_locked(kEngineBudget, &stop);
    }
  }
  if (tx_waiting_.load(std::memory_order_acquire)) did = flush_blocked() || did;
  return did;
}

bool ShmConnection::prepare_sleep() {
  if (!rx_open_.load(std::memory_order_acquire)) return true;
  int64_t polled = polled_at_.load(std::memory_order_relaxed);
  if (polled != 0 && now_ns() - polled < kPolledNs) return false;
  rx_ring_.consumer_sleeping().store(1, std::memory_order_seq_cst);
  return true;
}

bool ShmConnection::has_work() {
  uint64_t n = 0;
  // Not rx_ring_.available(): the consumer's own position belongs to whoever holds rx_mutex_.
  if (rx_open_.load(std::memory_order_acquire) && rx_ring_.published_unread()) return true;
  if (tx_waiting_.load(std::memory_order_acquire)) {
    std::lock_guard tx(tx_lock_);
    if (!tx_ring_.free_bytes(&n) || n >= tx_need_.load()) return true;
  }
  return false;
}

void ShmConnection::end_sleep() {
  if (rx_open_.load(std::memory_order_relaxed))
    rx_ring_.consumer_sleeping().store(0, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------
// Close

// Stops deliveries into the sink: after it no rx call is running on another thread or starts.
void ShmConnection::stop_rx() {
  if (delivering_.load() == std::this_thread::get_id()) {
    rx_open_.store(false);  // inside that delivery, holding rx_mutex_
    return;
  }
  std::lock_guard rx(rx_mutex_);
  rx_open_.store(false);
}

void ShmConnection::report_closed(LinkSink::CloseKind kind,
                                  const wire::TerminateMessage* terminate) {
  if (closed_reported_.exchange(true)) return;
  static const char* const kNames[] = {"graceful", "aborted", "terminate sent",
                                       "terminate received"};
  SOFTNDK_LOG(Debug, "shm link %p: closed (%s)", static_cast<void*>(this),
              kNames[static_cast<int>(kind)]);
  {
    std::lock_guard tx(tx_lock_);
    tx_open_ = false;
    tx_final_ = true;
    tx_blocked_ = false;
    pending_pieces_.clear();  // no payload pointer is kept after link_closed
    tx_waiting_.store(false);
  }
  std::optional<wire::TerminateMessage> message;
  if (terminate != nullptr) message = *terminate;
  auto self = shared_from_this();
  context_->executor->post([self, kind, message] {
    std::lock_guard lock(self->events_mutex_);
    if (self->sink_ == nullptr || self->cancelled_) return;
    self->sink_->link_closed(kind, message.has_value() ? &*message : nullptr);
  });
  // The peer sees the socket's hangup after everything we wrote into the ring.
  context_->engine->post([self] { self->close_socket(); });
}

void ShmConnection::peer_disconnected() {
  SOFTNDK_LOG(Debug, "shm link %p: the peer disconnects", static_cast<void*>(this));
  // No half-close: answer at once, both sides see a graceful close.
  bool wrote = false;
  {
    std::lock_guard tx(tx_lock_);
    wrote = write_record_locked(RecordKind::DisconnectReply, {}, nullptr, 0, 0);
    tx_final_ = true;
  }
  if (wrote) ring_peer_if_sleeping();
  stop_rx();
  report_closed(LinkSink::CloseKind::Graceful, nullptr);
}

void ShmConnection::on_link_hangup() {
  {
    std::lock_guard lock(mutex_);
    hangup_seen_ = true;
  }
  {
    // Everything the peer wrote before it went is still delivered (a Terminate, a Disconnect).
    std::lock_guard rx(rx_mutex_);
    RxStop stop = RxStop::None;
    while (stop == RxStop::None) receive_locked(kEngineBudget, &stop);
  }
  stop_rx();
  report_closed(LinkSink::CloseKind::Aborted, nullptr);
}

void ShmConnection::terminate(const wire::TerminateMessage& message) {
  bool wrote = false;
  {
    std::lock_guard tx(tx_lock_);
    if (!tx_final_ && !closed_reported_.load()) {
      tx_blocked_ = false;  // what has not started is dropped (RFC 5040: Terminate ends it)
      wire::UlpduHeader header;
      header.ddp_ = wire::make_untagged_header(wire::RdmapOpcode::Terminate, true, 1, 0);
      header.terminate_ = message;
      wrote = write_segment_locked(header, nullptr, 0);
      tx_final_ = true;
    }
  }
  if (wrote) ring_peer_if_sleeping();
  stop_rx();
  report_closed(LinkSink::CloseKind::TerminateSent, &message);
}

void ShmConnection::disconnect() {
  bool wrote = false;
  {
    std::lock_guard tx(tx_lock_);
    if (tx_final_ || closed_reported_.load()) return;
    tx_open_ = false;
    if (!tx_blocked_ && write_record_locked(RecordKind::Disconnect, {}, nullptr, 0, 0)) {
      tx_final_ = true;
      wrote = true;
    } else if (!tx_final_) {
      disconnect_owed_ = true;  // after the blocked segment / when there is room
      tx_ring_.producer_waiting().store(1, std::memory_order_seq_cst);
      tx_waiting_.store(true, std::memory_order_release);
      tx_need_.store(align8(sizeof(RecordHeader)));
    }
  }
  SOFTNDK_LOG(Debug, "shm link %p: disconnect (%s)", static_cast<void*>(this),
              wrote ? "written" : "waits for room");
  if (wrote) ring_peer_if_sleeping();
  context_->engine->wake();
  // A peer that never answers: the link is aborted after the timeout.
  std::weak_ptr<ShmConnection> weak = weak_from_this();
  context_->executor->post_after(context_->options.disconnect_timeout_ms, [weak] {
    auto self = weak.lock();
    if (self == nullptr || self->closed_reported_.load()) return;
    self->stop_rx();
    self->report_closed(LinkSink::CloseKind::Aborted, nullptr);
  });
}

void ShmConnection::abort() {
  stop_rx();
  report_closed(LinkSink::CloseKind::Aborted, nullptr);
}

}  // namespace softndk::transport::shm
