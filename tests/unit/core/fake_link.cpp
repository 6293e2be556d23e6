// Implementation of fake_link.h.
#include "fake_link.h"

#include <softndk/ndkpi.h>

#include <utility>

namespace softndk::test {

using transport::RxVerdict;
using transport::TxResult;

// ---------------------------------------------------------------------------------------------
// FakeLink: transmit side (the core sends)

size_t FakeLink::max_segment_payload(bool tagged) const {
  std::lock_guard lock(tx_mutex_);
  return tagged ? max_tagged_ : max_untagged_;
}

TxResult FakeLink::send(const transport::TxSegment& segment) {
  TxResult answer = TxResult::Sent;
  {
    std::lock_guard lock(tx_mutex_);
    if (blocked_) violations_.push_back("send() while the previous send is Blocked");
    if (tx_closed_) {
      ++closed_sends_;
      return TxResult::Closed;
    }
    if (!answers_.empty()) {
      answer = answers_.front();
      answers_.pop_front();
    }
    if (answer == TxResult::Closed) {
      ++closed_sends_;
      tx_closed_ = true;
      return TxResult::Closed;
    }
    SentSegment copy;
    copy.header = *segment.header;
    copy.answer = answer;
    for (size_t i = 0; i < segment.piece_count; ++i) {
      const transport::ConstPiece& piece = segment.pieces[i];
      copy.payload.insert(copy.payload.end(), piece.data, piece.data + piece.bytes);
    }
    if (copy.payload.size() != segment.header->payload_bytes_)
      violations_.push_back("send(): payload pieces do not add up to header.payload_bytes_");
    sent_.push_back(std::move(copy));
    if (answer == TxResult::Blocked) blocked_ = true;
    if (answer == TxResult::Refused) tx_closed_ = true;  // the peer refused it: the link is down
    tx_cv_.notify_all();
  }
  // The peer that refused a segment ended the link: nothing is delivered any more (outside
  // tx_mutex_: an injection holding rx_mutex_ may be sending).
  if (answer == TxResult::Refused) stop_rx();
  return answer;
}

void FakeLink::terminate(const wire::TerminateMessage& message) {
  {
    std::lock_guard lock(tx_mutex_);
    terminates_.push_back(message);
    tx_cv_.notify_all();
  }
  post_close(CloseKind::TerminateSent, &message);
}

void FakeLink::disconnect() {
  {
    std::lock_guard lock(tx_mutex_);
    ++disconnects_;
  }
  if (answer_disconnect_) post_close(CloseKind::Graceful, nullptr);
}

void FakeLink::abort() {
  bool opened;
  {
    std::lock_guard lock(tx_mutex_);
    ++aborts_;
    opened = opened_;
  }
  stop_rx();  // when abort returns, no injection runs on another thread
  if (opened) post_close(CloseKind::Aborted, nullptr);
}

std::vector<SentSegment> FakeLink::sent() const {
  std::lock_guard lock(tx_mutex_);
  return sent_;
}

size_t FakeLink::sent_count() const {
  std::lock_guard lock(tx_mutex_);
  return sent_.size();
}

SentSegment FakeLink::sent_at(size_t index) const {
  std::lock_guard lock(tx_mutex_);
  return sent_.at(index);
}

bool FakeLink::wait_sent(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(tx_mutex_);
  return tx_cv_.wait_for(lock, timeout, [&] { return sent_.size() >= count; });
}

size_t FakeLink::closed_sends() const {
  std::lock_guard lock(tx_mutex_);
  return closed_sends_;
}

std::vector<wire::TerminateMessage> FakeLink::terminates() const {
  std::lock_guard lock(tx_mutex_);
  return terminates_;
}

bool FakeLink::wait_terminate(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(tx_mutex_);
  return tx_cv_.wait_for(lock, timeout, [&] { return !terminates_.empty(); });
}

int FakeLink::disconnects() const {
  std::lock_guard lock(tx_mutex_);
  return disconnects_;
}

int FakeLink::aborts() const {
  std::lock_guard lock(tx_mutex_);
  return aborts_;
}

std::vector<std::string> FakeLink::violations() const {
  std::lock_guard lock(tx_mutex_);
  return violations_;
}

void FakeLink::set_max_segment_payload(size_t tagged, size_t untagged) {
  std::lock_guard lock(tx_mutex_);
  max_tagged_ = tagged;
  max_untagged_ = untagged;
}

void FakeLink::answer_next(TxResult answer) {
  std::lock_guard lock(tx_mutex_);
  answers_.push_back(answer);
}

// ---------------------------------------------------------------------------------------------
// FakeLink: receive side (the test delivers)

void FakeLink::open(transport::LinkSink* sink) {
  {
    std::lock_guard rx(rx_mutex_);
    rx_sink_ = sink;
    rx_closed_ = false;
  }
  std::lock_guard lock(tx_mutex_);
  opened_ = true;
}

void FakeLink::stop_rx() {
  if (delivering_.load() == std::this_thread::get_id()) {
    // This thread is inside inject() and holds rx_mutex_.
    rx_closed_ = true;
    rx_sink_ = nullptr;
    return;
  }
  std::lock_guard rx(rx_mutex_);
  rx_closed_ = true;
  rx_sink_ = nullptr;
}

std::optional<RxVerdict> FakeLink::inject(wire::UlpduHeader header,
                                          std::span<const std::byte> payload, bool intact) {
  wire::set_segment_sizes(header, payload.size());
  std::lock_guard rx(rx_mutex_);
  if (rx_closed_ || rx_sink_ == nullptr) return std::nullopt;
  transport::LinkSink* sink = rx_sink_;
  delivering_.store(std::this_thread::get_id());
  RxVerdict verdict = sink->rx_begin(header);
  if (verdict == RxVerdict::Place) {
    // As loopback and tcp do: the payload goes straight into the spans the sink hands out.
    placement_.start(sink, payload.size());
    placement_.copy(payload);
  }
  if (verdict != RxVerdict::Terminate) sink->rx_end(intact);
  delivering_.store(std::thread::id{});
  return verdict;
}

void FakeLink::writable() {
  {
    std::lock_guard lock(tx_mutex_);
    blocked_ = false;
  }
  // Serialized with link_closed (LinkSink contract) by the connection's events mutex.
  std::lock_guard lock(owner_.events_mutex_);
  if (owner_.close_sink_ != nullptr) owner_.close_sink_->link_writable();
}

bool FakeLink::close(CloseKind kind, std::optional<wire::TerminateMessage> terminate) {
  return post_close(kind, terminate.has_value() ? &*terminate : nullptr);
}

bool FakeLink::post_close(CloseKind kind, const wire::TerminateMessage* terminate) {
  {
    std::lock_guard lock(tx_mutex_);
    if (close_started_) return false;
    close_started_ = true;
    tx_closed_ = true;
  }
  stop_rx();
  std::optional<wire::TerminateMessage> message;
  if (terminate != nullptr) message = *terminate;
  std::shared_ptr<FakeConnection> self = owner_.shared_from_this();
  owner_.executor_->post([self, kind, message] {
    {
      std::lock_guard lock(self->events_mutex_);
      if (self->close_sink_ != nullptr)
        self->close_sink_->link_closed(kind, message.has_value() ? &*message : nullptr);
    }
    self->link_.closed_delivered_.store(true);
  });
  return true;
}

bool FakeLink::wait_closed_delivered(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_delivered_.load()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(200us);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// FakeConnection

FakeConnection::FakeConnection(Role role, transport::Executor* executor, transport::SockAddr local,
                               transport::SockAddr peer, transport::ConnectionParams request,
                               wire::Rtr rtr)
    : role_(role),
      executor_(executor),
      local_(local),
      peer_(peer),
      request_(std::move(request)),
      rtr_(rtr) {}

FakeConnection::~FakeConnection() = default;

void FakeConnection::set_events(transport::ConnectionEvents* events) {
  std::lock_guard lock(events_mutex_);
  events_ = events;
}

transport::Status FakeConnection::complete(transport::LinkSink* sink) {
  {
    std::lock_guard lock(state_mutex_);
    if (role_ != Role::Active || !replied_ || cancelled_ || completed_)
      return STATUS_CONNECTION_ABORTED;
    completed_ = true;
  }
  {
    std::lock_guard lock(events_mutex_);
    close_sink_ = sink;
  }
  link_.open(sink);
  return STATUS_SUCCESS;
}

transport::Status FakeConnection::accept(const transport::ConnectionParams& reply,
                                         transport::LinkSink* sink) {
  {
    std::lock_guard lock(state_mutex_);
    if (role_ != Role::Passive || cancelled_ || accepted_.has_value() || rejected_)
      return STATUS_CONNECTION_ABORTED;
    accepted_ = reply;
  }
  {
    std::lock_guard lock(events_mutex_);
    close_sink_ = sink;
  }
  link_.open(sink);  // the requester may send as soon as it has our reply
  return STATUS_SUCCESS;
}

transport::Status FakeConnection::reject(std::span<const std::byte>) {
  std::lock_guard lock(state_mutex_);
  if (cancelled_ || rejected_) return STATUS_CONNECTION_ABORTED;
  rejected_ = true;
  return STATUS_SUCCESS;
}

void FakeConnection::cancel() {
  {
    std::lock_guard lock(state_mutex_);
    if (cancelled_) return;
    cancelled_ = true;
  }
  link_.stop_rx();
  {
    std::lock_guard lock(link_.tx_mutex_);
    link_.tx_closed_ = true;
  }
  // No event after this returns: one running on the executor holds events_mutex_.
  std::lock_guard lock(events_mutex_);
  events_ = nullptr;
  close_sink_ = nullptr;
}

std::optional<transport::ConnectionParams> FakeConnection::accepted() const {
  std::lock_guard lock(state_mutex_);
  return accepted_;
}

bool FakeConnection::completed() const {
  std::lock_guard lock(state_mutex_);
  return completed_;
}

bool FakeConnection::rejected() const {
  std::lock_guard lock(state_mutex_);
  return rejected_;
}

bool FakeConnection::cancelled() const {
  std::lock_guard lock(state_mutex_);
  return cancelled_;
}

std::optional<bool> FakeConnection::request_taken() const {
  std::lock_guard lock(state_mutex_);
  return request_taken_;
}

void FakeConnection::set_request_taken(bool taken) {
  std::lock_guard lock(state_mutex_);
  request_taken_ = taken;
}

void FakeConnection::post_event(std::function<void(transport::ConnectionEvents&)> work) {
  std::shared_ptr<FakeConnection> self = shared_from_this();
  executor_->post([self, work = std::move(work)] {
    std::lock_guard lock(self->events_mutex_);
    if (self->events_ != nullptr) work(*self->events_);
  });
}

void FakeConnection::reply(const transport::ConnectionParams& peer, wire::Rtr rtr) {
  rtr_.store(rtr);  // valid from on_reply on (Connection::rtr)
  {
    std::lock_guard lock(state_mutex_);
    replied_ = true;
  }
  post_event([peer](transport::ConnectionEvents& events) { events.on_reply(peer); });
}

void FakeConnection::fail_connect(transport::Status status, std::vector<std::byte> reject_data) {
  post_event([status, reject_data](transport::ConnectionEvents& events) {
    events.on_connect_failed(status, reject_data);
  });
}

void FakeConnection::establish() {
  post_event([](transport::ConnectionEvents& events) { events.on_established(); });
}

void FakeConnection::abort_setup(transport::Status status) {
  post_event([status](transport::ConnectionEvents& events) { events.on_setup_aborted(status); });
}

// ---------------------------------------------------------------------------------------------
// FakeEndpoint

FakeEndpoint::~FakeEndpoint() {
  transport_.unbind(address_, this);
}

transport::Status FakeEndpoint::listen(transport::ListenEvents* events) {
  std::lock_guard lock(mutex_);
  events_ = events;
  return STATUS_SUCCESS;
}

void FakeEndpoint::stop_listening() {
  std::lock_guard lock(mutex_);
  events_ = nullptr;
}

bool FakeEndpoint::listening() const {
  std::lock_guard lock(mutex_);
  return events_ != nullptr;
}

bool FakeEndpoint::deliver(const FakeConnectionPtr& connection,
                           const transport::ConnectionParams& request) {
  std::lock_guard lock(mutex_);
  if (events_ == nullptr) return false;
  return events_->on_request(connection, request);
}

// ---------------------------------------------------------------------------------------------
// FakeTransport

FakeTransport::FakeTransport(transport::Executor* executor) : executor_(executor) {
  caps_.name = "fake";
  caps_.direct_placement = true;
  caps_.in_order_placement = true;
}

FakeTransport::~FakeTransport() = default;

core::Adapter::TransportFactory FakeTransport::factory(FakeTransport** out) {
  return [out](transport::Executor* executor, transport::TransportPtr* transport) {
    auto fake = std::make_unique<FakeTransport>(executor);
    *out = fake.get();
    *transport = std::move(fake);
    return NTSTATUS{STATUS_SUCCESS};
  };
}

transport::Status FakeTransport::bind(const transport::SockAddr& local, transport::EndpointUse use,
                                      transport::EndpointRef* out) {
  if (!local.valid()) return STATUS_INVALID_PARAMETER;
  if (!local.is_wildcard() && !owns_address(local)) return STATUS_INVALID_ADDRESS;
  std::lock_guard lock(mutex_);
  auto in_use = [&](uint16_t port) {
    for (const auto& [address, endpoint] : endpoints_) {
      if (address.port() == port && address.family() == local.family() && !endpoint.expired() &&
          (address.same_ip(local) || address.is_wildcard() || local.is_wildcard()))
        return true;
    }
    return false;
  };
  uint16_t port = local.port();
  if (port == 0) {
    while (in_use(next_port_)) ++next_port_;
    port = next_port_++;
  } else if (in_use(port)) {
    return STATUS_SHARING_VIOLATION;
  }
  auto endpoint = std::make_shared<FakeEndpoint>(*this, local.with_port(port), use);
  endpoints_[local.with_port(port)] = endpoint;
  *out = endpoint;
  return STATUS_SUCCESS;
}

void FakeTransport::unbind(const transport::SockAddr& address, FakeEndpoint*) {
  std::lock_guard lock(mutex_);
  auto it = endpoints_.find(address);
  if (it != endpoints_.end() && it->second.expired()) endpoints_.erase(it);
}

transport::Status FakeTransport::connect(const transport::EndpointRef& local,
                                         const transport::SockAddr& remote,
                                         const transport::ConnectionParams& request,
                                         transport::ConnectionEvents* events,
                                         transport::ConnectionPtr* out) {
  transport::SockAddr local_address = local->address();
  if (local_address.is_wildcard())
    local_address = transport::SockAddr::ipv4(0x7f000001, local_address.port());
  auto connection = std::make_shared<FakeConnection>(
      FakeConnection::Role::Active, executor_, local_address, remote, request, wire::Rtr::None);
  connection->set_events(events);
  {
    std::lock_guard lock(mutex_);
    outgoing_.push_back(connection);
  }
  cv_.notify_all();
  *out = connection;
  return STATUS_SUCCESS;
}

FakeConnectionPtr FakeTransport::wait_outgoing(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!cv_.wait_for(lock, timeout, [&] { return !outgoing_.empty(); })) return nullptr;
  FakeConnectionPtr next = outgoing_.front();
  outgoing_.pop_front();
  return next;
}

FakeConnectionPtr FakeTransport::incoming(const transport::SockAddr& to,
                                          const transport::SockAddr& from,
                                          const transport::ConnectionParams& request,
                                          wire::Rtr rtr) {
  std::shared_ptr<FakeEndpoint> endpoint;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [address, weak] : endpoints_) {
      std::shared_ptr<FakeEndpoint> candidate = weak.lock();
      if (candidate == nullptr || candidate->use() != transport::EndpointUse::Listener) continue;
      if (address.port() == to.port() && (address.same_ip(to) || address.is_wildcard())) {
        endpoint = candidate;
        break;
      }
    }
  }
  if (endpoint == nullptr) return nullptr;
  auto connection = std::make_shared<FakeConnection>(FakeConnection::Role::Passive, executor_, to,
                                                     from, request, rtr);
  executor_->post([endpoint, connection, request] {
    connection->set_request_taken(endpoint->deliver(connection, request));
  });
  return connection;
}

}  // namespace softndk::test
