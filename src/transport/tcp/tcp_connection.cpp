// Implementation of transport/tcp/tcp_connection.h, part 1: construction, start, the event
// plumbing (ConnectionEvents and link_closed posted to the executor, timers), the phase's one
// transition point, and the dispatch of epoll events and timers by phase. The other parts:
// mpa_startup.cpp, link_send.cpp, link_receive.cpp, consumer_poll.cpp, link_teardown.cpp.
// Lock order: events_mutex_ -> rx_mutex_ -> mutex_ -> the engine's lock.
#include "transport/tcp/tcp_connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <softndk/ndkpi.h>

#include "transport/tcp/socket_util.h"
#include "util/log.h"

namespace softndk::transport::tcp {

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
      advance_locked(PhaseEvent::SetupFailed);
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
    advance_locked(PhaseEvent::SetupFailed);
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

void TcpConnection::post_link_closed(LinkSink::CloseKind kind,
                                     const wire::TerminateMessage* terminate) {
  auto self = shared_from_this();
  std::optional<wire::TerminateMessage> message;
  if (terminate != nullptr) message = *terminate;
  context_->executor->post([self, kind, message] {
    std::lock_guard lock(self->events_mutex_);
    if (self->sink_ == nullptr || self->closed_notified_) return;
    self->closed_notified_ = true;
    self->sink_->link_closed(kind, message.has_value() ? &*message : nullptr);
  });
}

bool TcpConnection::advance_locked(PhaseEvent event) {
  SOFTNDK_ASSERT_HELD(mutex_);
  const std::optional<Phase> next = transition(phase_, event);
  if (!next.has_value()) {
    SOFTNDK_LOG(Debug, "tcp %s: %s ignored in phase %s", remote_.to_string().c_str(),
                to_string(event), to_string(phase_));
    return false;
  }
  SOFTNDK_LOG(Debug, "tcp %s: %s -> %s (%s)", remote_.to_string().c_str(), to_string(phase_),
              to_string(*next), to_string(event));
  phase_ = *next;
  return true;
}

void TcpConnection::arm_timer_locked(uint32_t tag, uint64_t delay_ms) {
  SOFTNDK_ASSERT_HELD(mutex_);
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
  SOFTNDK_ASSERT_HELD(mutex_);
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
      fail_connect(STATUS_IO_TIMEOUT, {}, true);  // no Reply in time: refused
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
      post_link_closed(LinkSink::CloseKind::Aborted, nullptr);
      close_now(true);
      return;
    default:
      return;
  }
}

}  // namespace softndk::transport::tcp
