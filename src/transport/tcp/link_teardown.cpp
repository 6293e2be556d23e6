// Implementation of transport/tcp/tcp_connection.h, part 6: the link's teardown. Graceful close
// (disconnect: FIN after the queue, link_closed(Graceful) at the peer's FIN; a peer's FIN is
// answered at once), Terminate (ours: RFC 5040 section 5.3, the FPDU on the wire finishes, the
// rest is dropped, FIN behind it, a bounded drain; the peer's: never answered), abort (RST now,
// connect(AF_UNSPEC)), cancel, and what the receive loop's end (FIN, loss, malformed FPDU,
// Terminate) leads to. Phases change through advance_locked() under mutex_ (connection_phase.h:
// Closing, Draining, Closed). stop_rx() and abort() take rx_mutex_ to wait a delivery out, unless
// the calling thread is the one delivering (delivering_). Sockets close on the progress thread.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <softndk/ndkpi.h>

#include "transport/tcp/socket_util.h"
#include "transport/tcp/tcp_connection.h"
#include "util/log.h"

namespace softndk::transport::tcp {

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
      advance_locked(PhaseEvent::Cancelled);  // nobody waits for the peer's FIN: bounded drain
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


void TcpConnection::queue_terminate_locked(const wire::TerminateMessage& message) {
  SOFTNDK_ASSERT_HELD(mutex_);
  // RFC 5040 section 5.3: finish the FPDU on the wire, drop what has not started, send the
  // Terminate once, FIN behind it, then drain.
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
  SOFTNDK_ASSERT_HELD(mutex_);
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
  advance_locked(PhaseEvent::TerminateQueued);
  set_pollable(false);
  arm_timer_locked(kDrainTimer, kDrainTimeoutMs);
  bool drained = false;
  write_queue_locked(&drained);
  update_interest_locked();
}

void TcpConnection::terminate(const wire::TerminateMessage& message) {
  stop_rx();
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    if (!terminate_sent_ && fd_ >= 0 && phase_ != Phase::Closed && phase_ != Phase::Draining) {
      first = true;
      queue_terminate_locked(message);
    }
  }
  if (first) post_link_closed(LinkSink::CloseKind::TerminateSent, &message);
}

void TcpConnection::disconnect() {
  std::lock_guard lock(mutex_);
  if (phase_ != Phase::Established || fd_ < 0) return;
  // Graceful close after everything queued: FIN, then wait for the peer's.
  advance_locked(PhaseEvent::Disconnect);
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
    reset_connection(fd_);  // RST now; the progress thread closes the socket
    advance_locked(PhaseEvent::Reset);
    context_->engine->cancel_timer(timer_id_);
    timer_id_ = 0;
    context_->engine->post([self = shared_from_this()] { self->close_now(true); });
  }
  if (notify) post_link_closed(LinkSink::CloseKind::Aborted, nullptr);
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
  advance_locked(PhaseEvent::SocketClosed);
  tx_queue_.clear();
  tx_closed_ = true;
  writable_owed_ = false;
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
    // The peer closed in order: answer with our FIN at once, no half-close (NDK has no
    // half-closed connection: see NDK_FN_DISCONNECT in Microsoft's NDKPI reference).
    peer_fin_ = true;
    detach_core_payload_locked();
    tx_closed_ = true;
    fin_after_tx_ = true;
    if (phase_ == Phase::Established) advance_locked(PhaseEvent::PeerFin);
    bool drained = false;
    write_queue_locked(&drained);
    update_interest_locked();
    close = fin_sent_ && tx_queue_.empty();
    if (!close) arm_timer_locked(kDrainTimer, context_->options.setup_timeout_ms);
  }
  post_link_closed(LinkSink::CloseKind::Graceful, nullptr);
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
    post_link_closed(LinkSink::CloseKind::Aborted, nullptr);
  }
}

void TcpConnection::handle_malformed() {
  // A framing or header check failed (CRC, header length, DDP/RDMAP version, opcode, length for
  // the opcode: src/wire/README.md's receive checks): Terminate, then drain. The offending
  // header is copied as received: it may not decode.
  wire::TerminateMessage message =
      wire::make_terminate(rx_check_, reader_->received_ddp_header(), reader_->ulpdu_bytes());
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
    post_link_closed(LinkSink::CloseKind::TerminateSent, &message);
  }
}

void TcpConnection::handle_peer_terminate() {
  // RFC 5040 section 5.3: stop processing input, FIN, drain, close; never answer a Terminate. The
  // core reads which of our segments it names.
  const wire::TerminateReason& reason = peer_terminate_.reason_;
  SOFTNDK_LOG(Info, "tcp %s: peer Terminate layer %u type %u code 0x%02x",
              remote_.to_string().c_str(), reason.layer_, reason.type_, reason.code_);
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
    post_link_closed(LinkSink::CloseKind::TerminateReceived, &peer_terminate_);
  }
}

}  // namespace softndk::transport::tcp
