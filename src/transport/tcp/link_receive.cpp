// Implementation of transport/tcp/tcp_connection.h, part 4: the receive loop, run by the progress
// thread (EPOLLIN) or by a consumer polling its CQ (consumer_poll.cpp), one at a time under
// rx_mutex_, which guards everything of the receive path (reader_, the staging buffer, rx_mode_,
// placement_, rx_sink_, rx_closed_). The FPDU reader (wire::FpduReader) checks the framing and
// the CRC (RFC 5044 section 4); on each header the sink's rx_begin decides, payload goes through
// transport/placement.h straight into the spans of rx_next_span (recv() into target memory when
// nothing is staged), and rx_end follows the CRC check. A receive that ends the input (FIN, loss,
// a malformed FPDU, the peer's Terminate) sets rx_closed_ before rx_mutex_ is released and is
// handled after it (link_teardown.cpp). The sink may call terminate/abort from inside a delivery:
// they see delivering_ and only set rx_closed_.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "transport/tcp/socket_util.h"
#include "transport/tcp/tcp_connection.h"

namespace softndk::transport::tcp {

void TcpConnection::receive() {
  std::unique_lock rx(rx_mutex_);
  after_receive(receive_locked(rx, false));
}

TcpConnection::RxDone TcpConnection::receive_locked(std::unique_lock<util::Mutex>& rx,
                                                    bool polled) {
  SOFTNDK_ASSERT_HELD(rx_mutex_);
  if (rx_closed_ || !reader_.has_value()) {
    // Nobody listens any more: the progress thread discards, sees EOF or the reset. Under
    // rx_mutex_, like abort()'s reset of the socket (ordered system calls on the socket).
    if (!polled) drain_input();
    rx.unlock();
    return {};
  }
  delivering_.store(std::this_thread::get_id());
  const bool was_waiting = await_first_fpdu_;
  RxDone done;
  done.outcome = receive_rounds();
  end_input(done.outcome);
  done.post_established = rx_post_established_;
  rx_post_established_ = false;
  done.first_fpdu = was_waiting && !await_first_fpdu_;
  delivering_.store(std::thread::id{});
  rx.unlock();
  return done;
}

void TcpConnection::after_receive(const RxDone& done) {
  if (done.post_established) post_events([](ConnectionEvents& e) { e.on_established(); });
  if (done.first_fpdu) flush_tx();  // the hold is over: our first FPDUs may leave
  handle_outcome(done.outcome);
}

TcpConnection::RxOutcome TcpConnection::receive_rounds() {
  RxOutcome outcome = RxOutcome::None;
  bool short_read = false;
  for (int round = 0;; ++round) {
    if (!process_buffered(&outcome)) break;
    // Nothing staged is left unprocessed here: stopping now leaves only bytes in the socket,
    // and level-triggered EPOLLIN brings us back for them (fairness between connections).
    // A read that returned less than asked emptied the socket: another recv would only
    // fail with EAGAIN (a system call per message for nothing).
    if (round == 32 || short_read) break;
    if (read_socket(&short_read, &outcome) == RxStep::Stop) break;
  }
  return outcome;
}

TcpConnection::RxStep TcpConnection::read_socket(bool* short_read, RxOutcome* outcome) {
  ssize_t n;
  const bool direct = reader_->state() == wire::FpduReaderState::Payload &&
                      rx_mode_ == RxMode::Sink && rx_place_ && !placement_.refused() &&
                      rx_begin_ == rx_end_;
  std::span<std::byte> room = direct ? placement_.room() : std::span<std::byte>{};
  if (direct && room.empty()) {
    if (rx_closed_) {
      *outcome = RxOutcome::Stopped;
      return RxStep::Stop;
    }
    return RxStep::Again;  // the sink refused the rest: read it into the staging buffer, drop it
  }
  if (direct) {
    // Direct data placement: from the socket straight into the target memory.
    size_t want = std::min(room.size(), reader_->payload_remaining());
    n = recv(fd_, room.data(), want, MSG_DONTWAIT);
    if (n > 0) {
      *short_read = static_cast<size_t>(n) < want;
      (void)reader_->consume_payload_external(room.first(static_cast<size_t>(n)));
      placement_.advance(static_cast<size_t>(n));
      return RxStep::Again;
    }
  } else {
    if (rx_begin_ == rx_end_) {
      rx_begin_ = rx_end_ = 0;
    } else if (rx_begin_ != 0) {
      std::memmove(rx_buf_.data(), rx_buf_.data() + rx_begin_, rx_end_ - rx_begin_);
      rx_end_ -= rx_begin_;
      rx_begin_ = 0;
    }
    size_t staging = rx_buf_.size() - rx_end_;
    n = recv(fd_, rx_buf_.data() + rx_end_, staging, MSG_DONTWAIT);
    if (n > 0) {
      *short_read = static_cast<size_t>(n) < staging;
      rx_end_ += static_cast<size_t>(n);
      return RxStep::Again;
    }
  }
  if (n == 0) {
    // FIN at an FPDU boundary is a graceful close; inside an FPDU, the link is lost (the
    // peer's last FPDU is incomplete).
    *outcome = reader_->at_fpdu_boundary() && rx_begin_ == rx_end_ ? RxOutcome::PeerFin
                                                                   : RxOutcome::Lost;
    rx_errno_ = tx_errno_.load(std::memory_order_acquire);
    // A send already took the socket's error (the pending error is reported once): the EOF
    // that follows ends a lost connection, not a graceful one.
    if (rx_errno_ != 0) *outcome = RxOutcome::Lost;
    return RxStep::Stop;
  }
  if (would_block(errno)) return RxStep::Stop;
  if (errno == EINTR) return RxStep::Again;
  rx_errno_ = errno;
  *outcome = RxOutcome::Lost;
  return RxStep::Stop;
}

void TcpConnection::end_input(RxOutcome outcome) {
  SOFTNDK_ASSERT_HELD(rx_mutex_);
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
}

void TcpConnection::handle_outcome(RxOutcome outcome) {
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
  SOFTNDK_ASSERT_HELD(rx_mutex_);
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
  if (h.ddp_.opcode_ == wire::RdmapOpcode::Terminate) {
    rx_mode_ = RxMode::PeerTerminate;  // acted on once its CRC checked out
    return true;
  }
  if (rx_sink_ == nullptr) return true;  // payload is dropped
  RxVerdict verdict = rx_sink_->rx_begin(h);
  if (verdict == RxVerdict::Terminate || rx_closed_) {
    *outcome = RxOutcome::Stopped;  // no rx_end after a Terminate verdict
    return false;
  }
  rx_mode_ = RxMode::Sink;
  rx_in_segment_ = true;
  rx_place_ = verdict == RxVerdict::Place;
  if (rx_place_) placement_.start(rx_sink_, h.payload_bytes_);
  return true;
}

bool TcpConnection::place(std::span<const std::byte> payload) {
  if (rx_mode_ != RxMode::Sink || !rx_place_) return true;  // dropped
  placement_.copy(payload);
  return !rx_closed_;
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
    case RxMode::PeerTerminate:
      peer_terminate_ = reader_->header().terminate_;
      *outcome = RxOutcome::PeerTerminate;
      return false;
    case RxMode::None:
      break;
  }
  if (await_first_fpdu_) {
    // The initiator's first FPDU (its RTR, absorbed by the core, or data): the responder may
    // send from now on (RFC 5044 section 7.1.3) and, in peer-to-peer mode, the connection is up.
    await_first_fpdu_ = false;
    std::lock_guard lock(mutex_);
    tx_hold_ = false;
    if (phase_ == Phase::AwaitRtr) {
      advance_locked(PhaseEvent::FirstFpdu);
      set_pollable(true);
      context_->engine->cancel_timer(timer_id_);
      timer_id_ = 0;
      rx_post_established_ = true;
    }
  }
  return true;
}

}  // namespace softndk::transport::tcp
