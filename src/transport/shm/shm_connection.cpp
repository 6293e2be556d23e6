// Implementation of shm_connection.h: construction, the setup legs and teardown of the socket.
// The data path is in shm_link.cpp.
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <softndk/ndkpi.h>

#include "transport/shm/shm_connection.h"

namespace softndk::transport::shm {

ShmConnection::ShmConnection(std::shared_ptr<ShmContext> context, int fd, SockAddr local,
                             SockAddr remote, ConnectionParams request,
                             ConnectionEvents* events, Status failure,
                             std::function<void()> release)
    : context_(std::move(context)),
      active_(true),
      request_(std::move(request)),
      release_(std::move(release)),
      failure_(failure),
      local_(local),
      remote_(remote),
      fd_(fd),
      phase_(Phase::AwaitReply),
      events_(events) {
  pending_pieces_.reserve(32);
}

ShmConnection::ShmConnection(std::shared_ptr<ShmContext> context, int fd, DeliverFn deliver)
    : context_(std::move(context)),
      active_(false),
      deliver_(std::move(deliver)),
      fd_(fd),
      phase_(Phase::AwaitRequest) {
  pending_pieces_.reserve(32);
}

ShmConnection::~ShmConnection() {
  if (fd_ >= 0) ::close(fd_);
  if (peer_doorbell_ >= 0) ::close(peer_doorbell_);
  if (release_) release_();
}

SockAddr ShmConnection::local_address() const {
  std::lock_guard lock(mutex_);
  return local_;
}

SockAddr ShmConnection::peer_address() const {
  std::lock_guard lock(mutex_);
  return remote_;
}

void ShmConnection::set_events(ConnectionEvents* events) {
  std::lock_guard lock(events_mutex_);
  events_ = events;
}

void ShmConnection::post_events(std::function<void(ConnectionEvents&)> work) {
  auto self = shared_from_this();
  context_->executor->post([self, work = std::move(work)] {
    std::lock_guard lock(self->events_mutex_);
    if (self->cancelled_ || self->events_ == nullptr) return;
    work(*self->events_);
  });
}

SetupMessage ShmConnection::make_message(SetupKind kind, const ConnectionParams& params) const {
  SetupMessage m{};
  m.magic = kSetupMagic;
  m.version = kSetupVersion;
  m.kind = static_cast<uint8_t>(kind);
  m.inbound_read_limit = params.inbound_read_limit;
  m.outbound_read_limit = params.outbound_read_limit;
  size_t bytes = std::min(params.private_data.size(), kMaxPrivateData);
  m.private_bytes = static_cast<uint16_t>(bytes);
  if (bytes != 0) std::memcpy(m.private_data, params.private_data.data(), bytes);
  m.ring_bytes = context_->options.ring_bytes;
  m.from = to_wire(local_);
  m.to = to_wire(remote_);
  return m;
}

void ShmConnection::start() {
  auto self = shared_from_this();
  if (active_ && fd_ < 0) {
    Status status = failure_;
    post_events([status](ConnectionEvents& e) { e.on_connect_failed(status, {}); });
    return;
  }
  bool ok = true;
  if (active_) {
    std::lock_guard lock(mutex_);
    int memfd = segment_.create(context_->options.ring_bytes);
    int fds[2] = {memfd, context_->engine->doorbell()};
    ok = memfd >= 0 && send_setup(fd_, make_message(SetupKind::Request, request_), fds);
    if (memfd >= 0) ::close(memfd);  // the mapping stays; the peer holds its own descriptor
    if (ok) {
      tx_ring_.bind(segment_, 0);
      rx_ring_.bind(segment_, 1);
    }
  }
  ok = ok && context_->engine->add(fd_, EPOLLIN | EPOLLRDHUP, self);
  if (!ok) {
    {
      std::lock_guard lock(mutex_);
      phase_ = Phase::Closed;
    }
    close_socket();
    if (active_) {
      post_events([](ConnectionEvents& e) {
        e.on_connect_failed(STATUS_INSUFFICIENT_RESOURCES, {});
      });
    }
  }
}

void ShmConnection::on_io(uint32_t events) {
  for (int round = 0; round < 4; ++round) {
    SetupMessage message;
    int fds[2] = {-1, -1};
    int count = 0;
    RecvResult result;
    Phase phase;
    {
      std::lock_guard lock(mutex_);
      if (fd_ < 0) return;
      result = receive_setup(fd_, &message, fds, &count);
      phase = phase_;
    }
    if (result == RecvResult::Message) {
      on_message(message, fds, count);
      continue;
    }
    if (result == RecvResult::WouldBlock && (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) == 0)
      return;
    // Hangup, error or a malformed message: the peer is gone or broken.
    if (phase == Phase::Established || phase == Phase::AwaitReady) {
      on_link_hangup();
      if (phase == Phase::AwaitReady) on_setup_hangup(phase);
    } else {
      on_setup_hangup(phase);
    }
    return;
  }
}

void ShmConnection::on_message(const SetupMessage& message, int fds[2], int fd_count) {
  Phase phase;
  {
    std::lock_guard lock(mutex_);
    phase = phase_;
  }
  auto kind = static_cast<SetupKind>(message.kind);
  if (phase == Phase::AwaitRequest && kind == SetupKind::Request) return on_request(message, fds);
  if (phase == Phase::AwaitReply && kind == SetupKind::Reply) return on_reply(message, fds);
  if (phase == Phase::AwaitReply && kind == SetupKind::Reject) {
    std::vector<std::byte> data(message.private_data,
                                message.private_data + message.private_bytes);
    {
      std::lock_guard lock(mutex_);
      phase_ = Phase::Closed;
    }
    post_events([data](ConnectionEvents& e) {
      e.on_connect_failed(STATUS_CONNECTION_REFUSED, data);
    });
    close_socket();
    return;
  }
  if (phase == Phase::AwaitReady && kind == SetupKind::Ready) {
    {
      std::lock_guard lock(mutex_);
      phase_ = Phase::Established;
    }
    post_events([](ConnectionEvents& e) { e.on_established(); });
    return;
  }
  // Anything else is a broken peer.
  for (int i = 0; i < fd_count; ++i) ::close(fds[i]);
  if (phase == Phase::Established || phase == Phase::AwaitReady) {
    on_link_hangup();
  } else {
    on_setup_hangup(phase);
  }
}

void ShmConnection::on_request(const SetupMessage& message, int fds[2]) {
  SockAddr from, to;
  bool ok = from_wire(message.from, &from) && from_wire(message.to, &to) &&
            from.family() == to.family() && adopt_doorbell(fds[1]);
  {
    std::lock_guard lock(mutex_);
    ok = ok && segment_.attach(fds[0], message.ring_bytes);
    ::close(fds[0]);
    if (ok) {
      peer_doorbell_ = fds[1];
      local_ = to;
      remote_ = from;
      tx_ring_.bind(segment_, 1);
      rx_ring_.bind(segment_, 0);
      phase_ = Phase::RequestDelivered;
    } else {
      ::close(fds[1]);
      phase_ = Phase::Closed;
    }
  }
  if (!ok) return close_socket();
  ConnectionParams params;
  params.inbound_read_limit = message.inbound_read_limit;
  params.outbound_read_limit = message.outbound_read_limit;
  params.private_data.assign(message.private_data, message.private_data + message.private_bytes);
  auto self = shared_from_this();
  context_->executor->post([self, params, to] {
    if (self->deliver_(self, params, to)) return;
    self->reject({});  // no listener took it: the requester is refused
  });
}

void ShmConnection::on_reply(const SetupMessage& message, int fds[2]) {
  if (!adopt_doorbell(fds[0])) {
    ::close(fds[0]);
    return on_setup_hangup(Phase::AwaitReply);
  }
  {
    std::lock_guard lock(mutex_);
    peer_doorbell_ = fds[0];
    phase_ = Phase::AwaitComplete;
  }
  ConnectionParams params;
  params.inbound_read_limit = message.inbound_read_limit;
  params.outbound_read_limit = message.outbound_read_limit;
  params.private_data.assign(message.private_data, message.private_data + message.private_bytes);
  post_events([params](ConnectionEvents& e) { e.on_reply(params); });
}

void ShmConnection::on_setup_hangup(Phase phase) {
  {
    std::lock_guard lock(mutex_);
    phase_ = Phase::Closed;
  }
  if (phase == Phase::AwaitReply) {
    post_events([](ConnectionEvents& e) {
      e.on_connect_failed(STATUS_CONNECTION_REFUSED, {});
    });
  } else if (phase == Phase::AwaitComplete || phase == Phase::RequestDelivered ||
             phase == Phase::AwaitReady) {
    post_events([](ConnectionEvents& e) { e.on_setup_aborted(STATUS_CONNECTION_ABORTED); });
  }
  close_socket();
}

void ShmConnection::open_link_locked(LinkSink* sink) {
  // events_mutex_, rx_mutex_ and mutex_ held.
  sink_ = sink;
  rx_sink_ = sink;
  {
    std::lock_guard tx(tx_lock_);
    tx_open_ = true;
  }
  rx_open_.store(true, std::memory_order_release);
}

Status ShmConnection::accept(const ConnectionParams& reply, LinkSink* sink) {
  std::lock_guard events(events_mutex_);
  std::lock_guard rx(rx_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (active_ || phase_ != Phase::RequestDelivered || fd_ < 0 || peer_gone(fd_))
      return STATUS_CONNECTION_ABORTED;
    int doorbell = context_->engine->doorbell();
    if (!send_setup(fd_, make_message(SetupKind::Reply, reply), {&doorbell, 1}))
      return STATUS_CONNECTION_ABORTED;
    phase_ = Phase::AwaitReady;
    open_link_locked(sink);  // the requester may send as soon as it has completed
  }
  engine_linked_.store(true);
  context_->engine->add_link(shared_from_this());
  return STATUS_SUCCESS;
}

Status ShmConnection::complete(LinkSink* sink) {
  std::lock_guard events(events_mutex_);
  std::lock_guard rx(rx_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (!active_ || phase_ != Phase::AwaitComplete || fd_ < 0 || hangup_seen_ || peer_gone(fd_))
      return STATUS_CONNECTION_ABORTED;
    if (!send_setup(fd_, make_message(SetupKind::Ready, {}), {}))
      return STATUS_CONNECTION_ABORTED;
    phase_ = Phase::Established;
    open_link_locked(sink);
  }
  engine_linked_.store(true);
  context_->engine->add_link(shared_from_this());
  return STATUS_SUCCESS;
}

Status ShmConnection::reject(std::span<const std::byte> private_data) {
  {
    std::lock_guard lock(mutex_);
    Phase expected = active_ ? Phase::AwaitComplete : Phase::RequestDelivered;
    // The other side gave up meanwhile (its close reaches our engine asynchronously).
    if (phase_ != expected || fd_ < 0 || peer_gone(fd_)) return STATUS_CONNECTION_ABORTED;
    phase_ = Phase::Closed;
    if (!active_) {
      ConnectionParams params;
      params.private_data.assign(private_data.begin(), private_data.end());
      send_setup(fd_, make_message(SetupKind::Reject, params), {});
    }
  }
  // The active side declines by closing: the acceptor sees the hangup.
  close_socket();
  return STATUS_SUCCESS;
}

void ShmConnection::cancel() {
  Phase phase;
  {
    std::lock_guard lock(mutex_);
    phase = phase_;
    if (phase != Phase::Established && phase != Phase::AwaitReady) phase_ = Phase::Closed;
  }
  // An established link is aborted by whoever cancels without disconnecting first; during
  // setup the closed socket tells the peer (refused or aborted).
  if (phase == Phase::Established || phase == Phase::AwaitReady) abort();
  {
    std::lock_guard lock(events_mutex_);
    cancelled_ = true;
    events_ = nullptr;
    sink_ = nullptr;
  }
  close_socket();
}

void ShmConnection::close_socket() {
  int fd;
  {
    std::lock_guard lock(mutex_);
    fd = fd_;
    fd_ = -1;
    if (phase_ != Phase::Established && phase_ != Phase::AwaitReady) phase_ = Phase::Closed;
  }
  if (engine_linked_.exchange(false)) context_->engine->remove_link(this);
  if (fd < 0) return;
  context_->engine->remove(fd, this);
  ::close(fd);
}

}  // namespace softndk::transport::shm
