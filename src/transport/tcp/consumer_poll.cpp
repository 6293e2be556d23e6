// Implementation of transport/tcp/tcp_connection.h, part 5: consumer polling. A consumer whose
// CQ is empty receives on its own thread what waits in the socket (poll_receive: try_lock of
// rx_mutex_, then the same receive loop as the progress thread). Pollers are counted
// (rx_pollers_, a Dekker pair with rx_pollable_) so nobody closes or resets the socket under a
// poller's recv(). While a consumer keeps polling, it owns the socket's input: the progress thread
// stops watching EPOLLIN until the watchdog (a 1 ms timer on the progress thread) or
// stop_poll_receive() gives it back. consumer_owned_, polls_seen_ and watchdog_id_ are guarded by
// mutex_ (consumer_owned_ is also read without it, as a hint).
#include "transport/tcp/tcp_connection.h"
#include "util/spin_lock.h"

namespace softndk::transport::tcp {

namespace {

// The connection whose poll_receive() this thread is inside (close_now() must not wait for it).
thread_local const TcpConnection* t_polling = nullptr;

}  // namespace

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
  RxDone done;
  if (rx_pollable_.load(std::memory_order_seq_cst)) {
    std::unique_lock rx(rx_mutex_, std::try_to_lock);
    if (rx.owns_lock()) {
      const TcpConnection* outer = t_polling;
      t_polling = this;
      done = receive_locked(rx, true);
      t_polling = outer;
      ran = true;
    }
  }
  // Out before the outcome is handled: a handler waits for rx_mutex_ (stop_rx), and an abort()
  // on another thread holds it while it waits for the pollers to leave.
  rx_pollers_.fetch_sub(1, std::memory_order_release);
  after_receive(done);
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
  SOFTNDK_ASSERT_HELD(mutex_);
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

}  // namespace softndk::transport::tcp
