// Implementation of core/connection.h.
#include "core/connection.h"

#include <algorithm>
#include <cstring>

#include "util/log.h"
#include "util/status.h"

namespace softndk::core {

using transport::ConnectionParams;
using transport::SockAddr;

namespace {
// ProviderDisconnectReason values (project-defined, docs/architecture.md).
constexpr ULONG kReasonGraceful = 1;
constexpr ULONG kReasonAbort = 2;

std::vector<std::byte> bytes_of(const void* data, ULONG length) {
  auto* p = static_cast<const std::byte*>(data);
  return std::vector<std::byte>(p, p + (data != nullptr ? length : 0));
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Connector: the state machine

std::string_view Connector::to_string(State state) {
  switch (state) {
    case State::Idle:
      return "idle";
    case State::Connecting:
      return "connecting";
    case State::ConnectReplied:
      return "connect-replied";
    case State::Incoming:
      return "incoming";
    case State::Accepting:
      return "accepting";
    case State::Connected:
      return "connected";
    case State::Disconnecting:
      return "disconnecting";
    case State::Done:
      return "done";
  }
  return "?";
}

std::string_view Connector::state_name() {
  std::lock_guard lock(mutex_);
  return to_string(state_);
}

uint64_t Connector::transition_locked(State to, const char* event, NTSTATUS status) {
  SOFTNDK_LOG(Debug, "connector %p: %s -> %s (%s%s%s)", static_cast<void*>(this),
              to_string(state_).data(), to_string(to).data(), event,
              status != STATUS_SUCCESS ? ": " : "",
              status != STATUS_SUCCESS ? util::status_name(status) : "");
  state_ = to;
  return ++generation_;  // timers armed for an earlier state see a stale generation
}

// ---------------------------------------------------------------------------------------------
// Connector

Connector::Connector(Adapter* adapter)
    : Object(adapter, NdkObjectTypeConnector, adapter->tables().connector) {}

Connector::Connector(Listener* listener, transport::ConnectionPtr connection,
                     const ConnectionParams& request)
    : Object(listener->adapter(), NdkObjectTypeConnector, listener->adapter()->tables().connector),
      state_(State::Incoming),
      listener_(listener),
      endpoint_(listener->endpoint()),
      connection_(std::move(connection)) {
  listener_->add_ref();  // the listener is our antecedent
  const NDK_ADAPTER_INFO& info = adapter()->info();
  peer_data_ = request.private_data;
  peer_data_max_ = info.MaxCallerData;
  peer_inbound_ = request.inbound_read_limit;
  peer_outbound_ = request.outbound_read_limit;
  effective_inbound_ = std::min(peer_outbound_, info.MaxInboundReadLimit);
  effective_outbound_ = std::min(peer_inbound_, info.MaxOutboundReadLimit);
  have_connection_data_ = true;
  addresses_valid_ = true;
  connection_->set_events(this);
}

void Connector::begin_pending(Pending& pending, NDK_FN_REQUEST_COMPLETION completion,
                              void* context) {
  add_ref();
  pending.completion = completion;
  pending.context = context;
  pending.active = true;
}

Connector::Pending Connector::take(Pending& pending) {
  Pending taken = pending;
  pending = Pending{};
  return taken;
}

void Connector::finish_pending(Pending& taken, NTSTATUS status) {
  if (!taken.active) return;
  cancel_timeout();
  if (taken.completion != nullptr) taken.completion(taken.context, status);
  release();
}

void Connector::cancel_timeout() {
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    id = timer_id_;
    timer_id_ = 0;
  }
  if (id != 0 && adapter()->dispatcher().cancel(id)) release();  // the timer's reference
}

void Connector::arm_timeout(State expected, uint64_t generation) {
  cancel_timeout();
  add_ref();
  uint64_t id = adapter()->dispatcher().schedule(adapter()->config().connect_timeout_ms, [this,
                                                                                        expected,
                                                                                        generation] {
    Pending taken;
    {
      std::lock_guard lock(mutex_);
      timer_id_ = 0;
      if (state_ == expected && generation_ == generation) {
        transition_locked(State::Done, "timed out");
        taken = take(expected == State::Connecting      ? connect_
                     : expected == State::Disconnecting ? disconnect_
                                                        : accept_);
      }
    }
    if (taken.active) {
      if (connection_ != nullptr) connection_->cancel();
      if (expected == State::Disconnecting && qp_ != nullptr) qp_->abort_connection();
      if (expected != State::Disconnecting) {
        adapter()->counters().connect_failures.fetch_add(1, std::memory_order_relaxed);
        detach_qp();
      }
      finish_pending(taken, STATUS_IO_TIMEOUT);
    }
    release();
  });
  std::lock_guard lock(mutex_);
  timer_id_ = id;
}

void Connector::detach_qp() {
  Qp* qp = nullptr;
  {
    std::lock_guard lock(mutex_);
    qp = qp_;
  }
  if (qp != nullptr) qp->setup_failed(this);
}

bool Connector::connect_addresses(const sockaddr* source, ULONG source_length,
                                  SharedEndpoint* shared, const sockaddr* destination,
                                  ULONG destination_length, SockAddr* source_address,
                                  SockAddr* destination_address) const {
  if (!destination_address->assign(destination, destination_length) ||
      destination_address->is_wildcard() || destination_address->port() == 0)
    return false;
  if (shared != nullptr) {
    return shared->adapter() == adapter() &&
           shared->endpoint()->address().family() == destination_address->family();
  }
  return source_address->assign(source, source_length) &&
         source_address->family() == destination_address->family();
}

NTSTATUS Connector::connect(Qp* qp, const sockaddr* source, ULONG source_length,
                            SharedEndpoint* shared, const sockaddr* destination,
                            ULONG destination_length, ULONG inbound_limit, ULONG outbound_limit,
                            const void* private_data, ULONG private_data_length,
                            NDK_FN_REQUEST_COMPLETION completion, void* context) {
  const NDK_ADAPTER_INFO& info = adapter()->info();
  if (private_data_length > info.MaxCallerData) return STATUS_INVALID_BUFFER_SIZE;
  if (private_data_length != 0 && private_data == nullptr) return STATUS_INVALID_PARAMETER;
  if (qp == nullptr || qp->adapter() != adapter()) return STATUS_INVALID_PARAMETER;
  SockAddr source_address, destination_address;
  if (!connect_addresses(source, source_length, shared, destination, destination_length,
                         &source_address, &destination_address))
    return STATUS_INVALID_PARAMETER;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::Idle) return STATUS_INVALID_DEVICE_STATE;
  }
  if (!qp->attach(this)) return STATUS_CONNECTION_ACTIVE;
  transport::EndpointRef endpoint;
  NTSTATUS status = STATUS_SUCCESS;
  if (shared != nullptr) {
    endpoint = shared->endpoint();
  } else {
    status = adapter()->transport().bind(source_address, transport::EndpointUse::Connector,
                                         &endpoint);
  }
  if (status != STATUS_SUCCESS) {
    qp->setup_failed(this);
    return status;
  }
  ConnectionParams request;
  request.inbound_read_limit = own_inbound_ = std::min(inbound_limit, info.MaxInboundReadLimit);
  request.outbound_read_limit = own_outbound_ =
      std::min(outbound_limit, info.MaxOutboundReadLimit);
  request.private_data = bytes_of(private_data, private_data_length);
  uint64_t generation;
  {
    std::lock_guard lock(mutex_);
    qp_ = qp;
    qp_->add_ref();  // the QP is our antecedent from now on
    if (shared != nullptr) {
      shared_ = shared;
      shared_->add_ref();
    }
    endpoint_ = endpoint;
    generation = transition_locked(State::Connecting, "connect");
    begin_pending(connect_, completion, context);
  }
  return start_connection(qp, endpoint, destination_address, request, generation);
}

NTSTATUS Connector::start_connection(Qp* qp, const transport::EndpointRef& endpoint,
                                     const SockAddr& destination_address,
                                     const ConnectionParams& request, uint64_t generation) {
  if (lose_request_fault()) [[unlikely]] {
    // conn.timeout (docs/faults.md): the request is lost, nobody ever answers.
    arm_timeout(State::Connecting, generation);
    return STATUS_PENDING;
  }
  transport::ConnectionPtr connection;
  NTSTATUS status = adapter()->transport().connect(endpoint, destination_address, request, this,
                                                   &connection);
  if (status != STATUS_SUCCESS) {
    Pending taken;
    {
      std::lock_guard lock(mutex_);
      transition_locked(State::Done, "connect refused inline", status);
      taken = take(connect_);
    }
    qp->setup_failed(this);
    adapter()->counters().connect_failures.fetch_add(1, std::memory_order_relaxed);
    release();  // the pending reference; no callback for an inline failure
    return status;
  }
  bool reply_arrived;
  {
    // Setup events run on the event thread and may overtake this call (no lock is held across
    // the transport call): a reply that came before connection_ was stored is finished here.
    std::lock_guard lock(mutex_);
    connection_ = connection;
    reply_arrived = reply_before_connection_;
    reply_before_connection_ = false;
  }
  if (reply_arrived) {
    add_ref();
    adapter()->dispatcher().post([this] {
      finish_reply();
      release();
    });
    return STATUS_PENDING;
  }
  arm_timeout(State::Connecting, generation);
  return STATUS_PENDING;
}

bool Connector::lose_request_fault() {
  FaultPlan* faults = adapter()->faults();
  FaultAction action;
  return faults != nullptr && faults->fire(FaultPoint::ConnTimeout, this, "NdkConnect", &action);
}

void Connector::finish_reply() {
  Pending taken;
  transport::ConnectionPtr connection;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::ConnectReplied) return;  // closed meanwhile: the close finished it
    taken = take(connect_);
    connection = connection_;
  }
  if (!taken.active) return;
  qp_->prepare(connection, effective_inbound_, effective_outbound_, true);
  finish_pending(taken, STATUS_SUCCESS);
}

void Connector::on_reply(const ConnectionParams& peer) {
  Pending taken;
  transport::ConnectionPtr connection;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::Connecting) return;
    const NDK_ADAPTER_INFO& info = adapter()->info();
    transition_locked(State::ConnectReplied, "reply");
    peer_data_ = peer.private_data;
    peer_data_max_ = info.MaxCalleeData;
    peer_inbound_ = peer.inbound_read_limit;
    peer_outbound_ = peer.outbound_read_limit;
    effective_outbound_ = std::min(own_outbound_, peer_inbound_);
    effective_inbound_ = std::min(own_inbound_, peer_outbound_);
    have_connection_data_ = true;
    addresses_valid_ = true;
    if (connection_ == nullptr) {
      reply_before_connection_ = true;  // connect() has not stored it yet: it finishes this
      return;
    }
    taken = take(connect_);
    connection = connection_;
  }
  qp_->prepare(connection, effective_inbound_, effective_outbound_, true);
  finish_pending(taken, STATUS_SUCCESS);
}

void Connector::on_connect_failed(NTSTATUS status, std::vector<std::byte> reject_data) {
  Pending taken;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::Connecting) return;
    transition_locked(State::Done, "connect failed", status);
    addresses_valid_ = false;
    if (status == STATUS_CONNECTION_REFUSED) {
      peer_data_ = std::move(reject_data);
      peer_data_max_ = adapter()->info().MaxCalleeData;
      have_connection_data_ = true;
    }
    taken = take(connect_);
  }
  adapter()->counters().connect_failures.fetch_add(1, std::memory_order_relaxed);
  detach_qp();
  finish_pending(taken, status);
}

NTSTATUS Connector::complete_connect(NDK_FN_DISCONNECT_EVENT_CALLBACK event,
                                     NDK_FN_DISCONNECT_EVENT_CALLBACK_EX event_ex,
                                     void* event_context, NDK_FN_REQUEST_COMPLETION completion,
                                     void* context) {
  transport::ConnectionPtr connection;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::ConnectReplied) return STATUS_CONNECTION_INVALID;
    if (peer_gave_up_) {
      transition_locked(State::Done, "complete after the peer gave up");
      connection = nullptr;
    } else {
      connection = connection_;
      disconnect_event_ = event;
      disconnect_event_ex_ = event_ex;
      disconnect_event_context_ = event_context;
    }
  }
  if (connection == nullptr) {
    adapter()->counters().connect_failures.fetch_add(1, std::memory_order_relaxed);
    detach_qp();
    return STATUS_CONNECTION_ABORTED;
  }
  NTSTATUS status = connection->complete(qp_);
  {
    std::lock_guard lock(mutex_);
    transition_locked(status == STATUS_SUCCESS ? State::Connected : State::Done, "complete",
                      status);
    have_connection_data_ = false;
  }
  if (status != STATUS_SUCCESS) {
    adapter()->counters().connect_failures.fetch_add(1, std::memory_order_relaxed);
    detach_qp();
    return status;
  }
  adapter()->counters().connects.fetch_add(1, std::memory_order_relaxed);
  qp_->connected();
  return adapter()->finish_request(this, STATUS_SUCCESS, completion, context);
}

NTSTATUS Connector::accept(Qp* qp, ULONG inbound_limit, ULONG outbound_limit,
                           const void* private_data, ULONG private_data_length,
                           NDK_FN_DISCONNECT_EVENT_CALLBACK event,
                           NDK_FN_DISCONNECT_EVENT_CALLBACK_EX event_ex, void* event_context,
                           NDK_FN_REQUEST_COMPLETION completion, void* context) {
  const NDK_ADAPTER_INFO& info = adapter()->info();
  if (private_data_length > info.MaxCalleeData) return STATUS_INVALID_BUFFER_SIZE;
  if (private_data_length != 0 && private_data == nullptr) return STATUS_INVALID_PARAMETER;
  if (qp == nullptr || qp->adapter() != adapter()) return STATUS_INVALID_PARAMETER;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::Incoming) return STATUS_INVALID_DEVICE_STATE;
    if (peer_gave_up_) {
      transition_locked(State::Done, "accept after the peer gave up");
      return STATUS_CONNECTION_ABORTED;
    }
  }
  if (!qp->attach(this)) return STATUS_CONNECTION_ACTIVE;
  ConnectionParams reply;
  reply.inbound_read_limit = std::min({inbound_limit, info.MaxInboundReadLimit, peer_outbound_});
  reply.outbound_read_limit =
      std::min({outbound_limit, info.MaxOutboundReadLimit, peer_inbound_});
  reply.private_data = bytes_of(private_data, private_data_length);
  uint64_t generation;
  {
    std::lock_guard lock(mutex_);
    qp_ = qp;
    qp_->add_ref();
    effective_inbound_ = reply.inbound_read_limit;
    effective_outbound_ = reply.outbound_read_limit;
    disconnect_event_ = event;
    disconnect_event_ex_ = event_ex;
    disconnect_event_context_ = event_context;
    have_connection_data_ = false;
    generation = transition_locked(State::Accepting, "accept");
    begin_pending(accept_, completion, context);
  }
  qp->prepare(connection_, effective_inbound_, effective_outbound_, false);
  NTSTATUS status = connection_->accept(reply, qp);
  if (status != STATUS_SUCCESS) {
    Pending taken;
    {
      std::lock_guard lock(mutex_);
      transition_locked(State::Done, "accept failed", status);
      taken = take(accept_);
    }
    if (!taken.active) {
      // The requester gave up meanwhile and on_setup_aborted already completed the accept
      // through its callback: the accept is pending-and-done, not an inline failure.
      return STATUS_PENDING;
    }
    qp->setup_failed(this);
    release();  // the pending reference; no callback for an inline failure
    return status;
  }
  arm_timeout(State::Accepting, generation);
  return STATUS_PENDING;
}

void Connector::on_established() {
  Pending taken;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::Accepting) return;
    transition_locked(State::Connected, "established");
    taken = take(accept_);
  }
  adapter()->counters().accepts.fetch_add(1, std::memory_order_relaxed);
  qp_->connected();
  finish_pending(taken, STATUS_SUCCESS);
}

void Connector::on_setup_aborted(NTSTATUS status) {
  Pending taken;
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::Accepting) {
      transition_locked(State::Done, "setup aborted", status);
      taken = take(accept_);
    } else if (state_ == State::Incoming || state_ == State::ConnectReplied) {
      peer_gave_up_ = true;  // a later accept/reject/complete fails with CONNECTION_ABORTED
      peer_gave_up_status_ = status;
      return;
    } else {
      return;
    }
  }
  adapter()->counters().connect_failures.fetch_add(1, std::memory_order_relaxed);
  detach_qp();
  finish_pending(taken, status);
}

NTSTATUS Connector::reject(const void* private_data, ULONG private_data_length) {
  if (private_data_length > adapter()->info().MaxCalleeData) return STATUS_INVALID_BUFFER_SIZE;
  if (private_data_length != 0 && private_data == nullptr) return STATUS_INVALID_PARAMETER;
  transport::ConnectionPtr connection;
  bool active;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::Incoming && state_ != State::ConnectReplied)
      return STATUS_INVALID_DEVICE_STATE;
    active = state_ == State::ConnectReplied;
    bool gave_up = peer_gave_up_;
    transition_locked(State::Done, "reject");
    have_connection_data_ = false;
    if (gave_up) {
      if (active) {
        // Nothing to decline any more.
      }
      connection = nullptr;
    } else {
      connection = connection_;
    }
  }
  if (connection == nullptr) {
    if (active) detach_qp();
    return STATUS_CONNECTION_ABORTED;
  }
  NTSTATUS status = connection->reject(
      active ? std::span<const std::byte>{}
             : std::span<const std::byte>(static_cast<const std::byte*>(private_data),
                                          private_data != nullptr ? private_data_length : 0));
  if (active) detach_qp();
  return status;
}

NTSTATUS Connector::connection_data(ULONG* inbound_limit, ULONG* outbound_limit,
                                    void* private_data, ULONG* private_data_length) {
  std::lock_guard lock(mutex_);
  if (!have_connection_data_) return STATUS_CONNECTION_INVALID;
  if (inbound_limit != nullptr) *inbound_limit = effective_inbound_;
  if (outbound_limit != nullptr) *outbound_limit = effective_outbound_;
  if (private_data_length == nullptr) return STATUS_SUCCESS;
  // RDS: the direction's maximum, the received bytes followed by zeros (NDKPI NDK_FN_GET_CONNECTION_DATA).
  ULONG rds = peer_data_max_;
  if (private_data == nullptr) {
    if (*private_data_length != 0) return STATUS_INVALID_PARAMETER;
    *private_data_length = rds;
    return STATUS_SUCCESS;
  }
  ULONG copy = std::min(*private_data_length, rds);
  auto* out = static_cast<std::byte*>(private_data);
  size_t from_peer = std::min<size_t>(copy, peer_data_.size());
  if (from_peer != 0) std::memcpy(out, peer_data_.data(), from_peer);
  std::memset(out + from_peer, 0, copy - from_peer);
  NTSTATUS status = *private_data_length < rds ? STATUS_BUFFER_TOO_SMALL : STATUS_SUCCESS;
  *private_data_length = rds;
  return status;
}

NTSTATUS Connector::local_address(sockaddr* address, ULONG* length) {
  transport::ConnectionPtr connection;
  {
    std::lock_guard lock(mutex_);
    if (!addresses_valid_ || connection_ == nullptr) return STATUS_CONNECTION_INVALID;
    connection = connection_;
  }
  return copy_address(connection->local_address(), address, length);
}

NTSTATUS Connector::peer_address(sockaddr* address, ULONG* length) {
  transport::ConnectionPtr connection;
  {
    std::lock_guard lock(mutex_);
    if (!addresses_valid_ || connection_ == nullptr) return STATUS_CONNECTION_INVALID;
    connection = connection_;
  }
  return copy_address(connection->peer_address(), address, length);
}

NTSTATUS Connector::disconnect(NDK_FN_REQUEST_COMPLETION completion, void* context) {
  uint64_t generation;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::Connected) return STATUS_CONNECTION_INVALID;
    local_teardown_ = true;
    generation = transition_locked(State::Disconnecting, "disconnect");
    begin_pending(disconnect_, completion, context);
  }
  arm_timeout(State::Disconnecting, generation);
  qp_->disconnect();
  return STATUS_PENDING;
}

void Connector::qp_link_closed(bool graceful, bool local) {
  Pending taken;
  bool fire = false;
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::Disconnecting && local) {
      transition_locked(State::Done, "disconnected");
      taken = take(disconnect_);
    } else if (!local_teardown_ && !disconnect_event_fired_ && !closing()) {
      disconnect_event_fired_ = true;
      fire = true;
    }
  }
  finish_pending(taken, graceful ? STATUS_SUCCESS : STATUS_CONNECTION_ABORTED);
  if (fire) fire_disconnect_event(graceful ? kReasonGraceful : kReasonAbort);
}

void Connector::fire_disconnect_event(ULONG reason) {
  if (disconnect_event_ex_ != nullptr) {
    disconnect_event_ex_(disconnect_event_context_, reason);
  } else if (disconnect_event_ != nullptr) {
    disconnect_event_(disconnect_event_context_);
  }
}

void Connector::on_close() {
  cancel_timeout();
  Pending connect, accept, disconnect;
  State state;
  transport::ConnectionPtr connection;
  {
    std::lock_guard lock(mutex_);
    state = state_;
    local_teardown_ = true;
    transition_locked(State::Done, "closed");
    connect = take(connect_);
    accept = take(accept_);
    disconnect = take(disconnect_);
    connection = connection_;
  }
  if (state == State::Incoming && connection != nullptr) {
    connection->reject({});  // never accepted: the requester is refused
  } else if ((state == State::Connected || state == State::Disconnecting) && qp_ != nullptr) {
    qp_->abort_connection();  // closing a connected connector is abortive
  }
  if (connection != nullptr) connection->cancel();
  if (qp_ != nullptr) {
    if (state == State::Connecting || state == State::ConnectReplied ||
        state == State::Accepting) {
      qp_->setup_failed(this);
    }
    qp_->detach(this);
  }
  // Pending requests end before the close completes ("NDKPI Object Lifetime Requirements": a close cancels what is pending).
  auto cancel = [this](Pending p) {
    if (!p.active) return;
    adapter()->dispatcher().post([this, p]() mutable { finish_pending(p, STATUS_CANCELLED); });
  };
  cancel(connect);
  cancel(accept);
  cancel(disconnect);
}

void Connector::release_resources() {
  // The connection and the local address are free before the consumer hears of the close.
  if (connection_ != nullptr) connection_->cancel();
  connection_.reset();
  endpoint_.reset();
}

void Connector::on_destroy() {
  if (qp_ != nullptr) qp_->release();
  if (shared_ != nullptr) shared_->release();
  if (listener_ != nullptr) listener_->release();
}

}  // namespace softndk::core
