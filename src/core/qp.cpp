// Implementation of core/qp.h: creation, the state machine, the connection, the error state.
// The work requests are in qp_post.cpp, the protocol in core/datapath.
#include "core/qp.h"

#include <algorithm>

#include "core/connection.h"
#include "core/datapath/terminate.h"
#include "util/log.h"
#include "util/status.h"

namespace softndk::core {

namespace {
LocalMemory local_memory(Pd* pd) {
  Adapter* adapter = pd->adapter();
  LocalMemory memory;
  memory.stags = &adapter->stags();
  memory.lams = &adapter->lams();
  memory.pd = pd;
  memory.privileged_token = pd->privileged_token();
  memory.read_sink_required = !adapter->has_flag(NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED);
  memory.read_local_invalidate =
      adapter->has_flag(NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED);
  return memory;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// State machine

std::string_view Qp::to_string(State state) {
  switch (state) {
    case State::Idle:
      return "idle";
    case State::Connecting:
      return "connecting";
    case State::Connected:
      return "connected";
    case State::Disconnecting:
      return "disconnecting";
    case State::PeerClosed:
      return "peer-closed";
    case State::Error:
      return "error";
  }
  return "?";
}

bool Qp::transition(State from, State to, const char* event) {
  State expected = from;
  if (!state_.compare_exchange_strong(expected, to, std::memory_order_acq_rel)) return false;
  SOFTNDK_LOG(Debug, "qp %p: %s -> %s (%s)", static_cast<void*>(this), to_string(from).data(),
              to_string(to).data(), event);
  return true;
}

Qp::State Qp::enter_error_state(const char* event, NTSTATUS status) {
  State previous = state_.exchange(State::Error, std::memory_order_acq_rel);
  if (previous != State::Error) {
    SOFTNDK_LOG(Debug, "qp %p: %s -> error (%s%s%s)", static_cast<void*>(this),
                to_string(previous).data(), event, status != STATUS_SUCCESS ? ": " : "",
                status != STATUS_SUCCESS ? util::status_name(status) : "");
  }
  return previous;
}

// ---------------------------------------------------------------------------------------------
// Creation and destruction

Qp::Qp(const Params& p)
    : Object(p.pd->adapter(), NdkObjectTypeQp, p.pd->adapter()->tables().qp),
      pd_(p.pd),
      receive_cq_(p.receive_cq),
      initiator_cq_(p.initiator_cq),
      srq_(p.srq),
      qp_context_(p.context),
      receive_depth_(p.receive_depth),
      receive_sge_(p.receive_sge),
      initiator_sge_(p.initiator_sge),
      inline_bytes_(p.inline_bytes),
      memory_(local_memory(p.pd)),
      sq_(p.initiator_depth,
          std::max<size_t>({p.initiator_sge, p.pd->adapter()->info().MaxReadRequestSge, 1}),
          p.inline_bytes),
      orq_(p.pd->adapter()->info().MaxOutboundReadLimit),
      irq_(p.pd->adapter()->info().MaxInboundReadLimit),
      rq_(p.srq != nullptr ? 0 : p.receive_depth, p.receive_sge),
      send_(*p.pd->adapter(), sq_, orq_, irq_, memory_, traffic_),
      receive_(*p.pd->adapter(), *this, {sq_, orq_, irq_, rq_, p.srq}, memory_, *p.receive_cq,
               p.context, traffic_, p.pd->adapter()->info().MaxReceiveRequestSge) {
  pd_->add_ref();
  receive_cq_->add_ref();
  initiator_cq_->add_ref();
  if (srq_ != nullptr) srq_->add_ref();
  adapter()->register_traffic(&traffic_);
}

Qp::~Qp() = default;

NTSTATUS Qp::create(const Params& p, Qp** out) {
  Adapter* adapter = p.pd->adapter();
  const NDK_ADAPTER_INFO& info = adapter->info();
  if (p.receive_cq == nullptr || p.initiator_cq == nullptr) return STATUS_INVALID_PARAMETER;
  if (p.receive_cq->adapter() != adapter || p.initiator_cq->adapter() != adapter)
    return STATUS_INVALID_PARAMETER;
  if (p.receive_cq->closing() || p.initiator_cq->closing()) return STATUS_INVALID_PARAMETER;
  if (p.srq != nullptr) {
    if (p.srq->pd() != p.pd || p.srq->closing()) return STATUS_INVALID_PARAMETER;
  } else if (p.receive_depth == 0 || p.receive_depth > info.MaxReceiveQueueDepth ||
             p.receive_sge > info.MaxReceiveRequestSge) {
    return STATUS_INVALID_PARAMETER;
  }
  if (p.initiator_depth == 0 || p.initiator_depth > info.MaxInitiatorQueueDepth ||
      p.initiator_sge > info.MaxInitiatorRequestSge || p.inline_bytes > info.MaxInlineDataSize)
    return STATUS_INVALID_PARAMETER;
  *out = new Qp(p);
  return STATUS_SUCCESS;
}

void Qp::on_close() {
  stop_polling();  // before the link goes: no consumer poll reaches it afterwards
  abort_connection();
  enter_error(Blame{}, "closed");
  // Flush entries reach the CQs before the close can complete (NDKPI close rules).
  tx_.run([this] { run_tx(); });
}

void Qp::on_destroy() {
  adapter()->retire_traffic(&traffic_);
  receive_cq_->forget_counters(rq_.reaped_counter(), sq_.reaped_counter());
  initiator_cq_->forget_counters(rq_.reaped_counter(), sq_.reaped_counter());
  {
    std::lock_guard lock(connection_lock_);
    connection_.reset();
  }
  if (srq_ != nullptr) srq_->release();
  initiator_cq_->release();
  receive_cq_->release();
  pd_->release();
}

// ---------------------------------------------------------------------------------------------
// The send engine

void Qp::kick_tx() {
  ProgressScope scope;
  tx_.run([this] { run_tx(); });
}

void Qp::kick_tx_later() {
  if (tx_deferred_.exchange(true, std::memory_order_acq_rel)) return;
  add_ref();
  if (!ProgressScope::defer(this)) run_deferred();
}

void Qp::run_deferred() {
  tx_deferred_.store(false, std::memory_order_release);
  tx_.run([this] { run_tx(); });
  release();
}

void Qp::link_writable() {
  send_.writable();
  kick_tx_later();
}

transport::Link* Qp::link() {
  transport::Connection* c = connection();
  return c != nullptr ? c->link() : nullptr;
}

void Qp::report_initiator() {
  if (!sq_.report_in_order(*initiator_cq_, qp_context_))
    enter_error(Blame{}, "initiator CQ overrun");
}

void Qp::receive_cq_failed() {
  // CQ overrun (NDKPI): the QP is dead and its connection is aborted.
  enter_error(Blame{}, "receive CQ overrun");
}

void Qp::run_tx() {
  State state = state_.load(std::memory_order_acquire);
  if (state == State::Error) {
    send_.cancel_all();
    report_initiator();
    return;
  }
  transport::Link* l = link();
  if ((state != State::Connected && state != State::Disconnecting) || l == nullptr) {
    report_initiator();
    return;
  }
  if (send_.blocked()) return;
  SendEngine::Outcome outcome = send_.run(*l);
  if (outcome == SendEngine::Outcome::LocalError) {
    enter_error(Blame{}, "local access error");
  } else if (outcome == SendEngine::Outcome::Idle && state == State::Disconnecting &&
             disconnect_requested_ && !send_.in_message()) {
    disconnect_requested_ = false;
    l->disconnect();
  }
  report_initiator();
}

// ---------------------------------------------------------------------------------------------
// Connection

bool Qp::attach(Connector* connector) {
  std::lock_guard lock(connector_mutex_);
  if (connector_ != nullptr || !transition(State::Idle, State::Connecting, "connect/accept"))
    return false;
  connector_ = connector;
  return true;
}

void Qp::detach(Connector* connector) {
  std::lock_guard lock(connector_mutex_);
  if (connector_ == connector) connector_ = nullptr;
}

void Qp::setup_failed(Connector* connector) {
  {
    std::lock_guard lock(connector_mutex_);
    if (connector_ != connector) return;
    connector_ = nullptr;
  }
  if (transition(State::Connecting, State::Idle, "setup failed")) {
    // Nothing can transmit in Connecting; the receive path may still hold the raw pointer, so
    // the connection object is kept (owned) until the QP is destroyed or reconnected.
    std::lock_guard lock(connection_lock_);
    retired_connections_.push_back(std::move(connection_));
    connection_raw_.store(nullptr, std::memory_order_release);
  }
}

void Qp::notify_connector_closed(bool graceful, bool local) {
  Connector* connector;
  {
    std::lock_guard lock(connector_mutex_);
    connector = connector_;
    if (connector == nullptr) return;
    connector->add_ref();
  }
  adapter()->dispatcher().post([connector, graceful, local] {
    connector->qp_link_closed(graceful, local);
    connector->release();
  });
}

void Qp::prepare(transport::ConnectionPtr connection, uint32_t inbound_limit,
                 uint32_t outbound_limit, bool active) {
  // The RTR (RFC 6581 §5): the active side sends it first (a Read RTR is answered with a
  // zero-length Read Response it absorbs), the passive side absorbs it.
  wire::Rtr rtr = connection->rtr();
  send_.prepare(active ? rtr : wire::Rtr::None, outbound_limit);
  receive_.prepare(active ? wire::Rtr::None : rtr, inbound_limit);
  std::lock_guard lock(connection_lock_);
  connection_raw_.store(connection.get(), std::memory_order_release);
  connection_ = std::move(connection);
}

void Qp::connected() {
  if (!transition(State::Connecting, State::Connected, "established")) return;
  if (!counted_active_.exchange(true))
    adapter()->counters().active.fetch_add(1, std::memory_order_relaxed);
  transport::Link* l = link();
  if (l != nullptr && l->supports_poll_receive()) {
    // Consumers that poll our CQs receive our link's segments on their own thread.
    std::lock_guard lock(poll_mutex_);
    if (!polled_ && !closing()) {
      polled_ = true;
      receive_cq_->add_poll_source(this);
      if (initiator_cq_ != receive_cq_) initiator_cq_->add_poll_source(this);
    }
  }
  kick_tx();
}

void Qp::stop_polling() {
  std::lock_guard lock(poll_mutex_);
  if (!polled_) return;
  polled_ = false;
  receive_cq_->remove_poll_source(this);
  if (initiator_cq_ != receive_cq_) initiator_cq_->remove_poll_source(this);
}

void Qp::poll_rx() {
  // Registered only while the connection (and its link) is ours: see stop_polling().
  transport::Link* l = link();
  if (l != nullptr) l->poll_receive();
}

void Qp::poll_rx_stop() {
  transport::Link* l = link();
  if (l != nullptr) l->stop_poll_receive();
}

void Qp::connection_gone(bool error) {
  if (!counted_active_.exchange(false)) return;
  adapter()->counters().active.fetch_sub(1, std::memory_order_relaxed);
  if (error) adapter()->counters().connection_errors.fetch_add(1, std::memory_order_relaxed);
}

void Qp::disconnect() {
  if (transition(State::Connected, State::Disconnecting, "disconnect")) {
    disconnect_requested_ = true;
    kick_tx();
    return;
  }
  State state = state_.load(std::memory_order_acquire);
  if (state == State::PeerClosed || state == State::Error) {
    // The connection is already gone (the peer closed in order, or it was aborted or flushed):
    // there is nothing left to close; flush what is left and finish the disconnect.
    enter_error(Blame{}, "disconnect after the connection ended");
    notify_connector_closed(true, true);
  }
}

void Qp::abort_connection() {
  // A local abortive teardown (the connector closes): the link goes down now and the QP
  // enters the error state itself; the connection is cancelled right after, so no link_closed
  // notification would reach us.
  if (state_.load(std::memory_order_acquire) == State::Idle) return;
  enter_error(Blame{}, "connection aborted locally");
}

// ---------------------------------------------------------------------------------------------
// The error state

void Qp::enter_error(const Blame& blame, const char* event) {
  {
    std::lock_guard lock(sq_.lock());
    sq_.record_blame_locked(blame);
  }
  send_.stop();
  State previous =
      enter_error_state(event, blame.culprit != Culprit::None ? blame.status : STATUS_SUCCESS);
  connection_gone(false);
  if (previous != State::Error && previous != State::Idle) {
    transport::Link* l = link();
    if (l != nullptr) l->abort();  // after this no delivery into our memory is in progress
  }
  receive_.close();  // stops the receive path; what it held is flushed here, in order
  kick_tx_later();   // the send engine cancels and reports the initiator queue
}

void Qp::flush() {
  ProgressScope scope;
  enter_error(Blame{}, "flush");
}

void Qp::link_closed(CloseKind kind, const wire::TerminateMessage* terminate) {
  connection_gone(kind != CloseKind::Graceful);
  if (kind == CloseKind::Graceful) {
    peer_closed_gracefully();
    return;
  }
  State before = state_.load();
  if (before == State::Error) return;
  enter_error(blame_for_close(kind, terminate),
              kind == CloseKind::Aborted ? "link aborted" : "terminated");
  notify_connector_closed(false, before == State::Disconnecting);
}

void Qp::peer_closed_gracefully() {
  // The consumer's NdkDisconnect may move the state from connected to disconnecting at any
  // moment, also between a look at the state and a transition: look again until one holds.
  for (;;) {
    State state = state_.load(std::memory_order_acquire);
    if (state == State::Disconnecting) {
      // Our disconnect finished (or crossed the peer's): flush what is left (NDKPI NdkDisconnect).
      enter_error(Blame{}, "disconnected");
      notify_connector_closed(true, true);
      return;
    }
    if (state == State::Connected || state == State::Connecting) {
      if (!transition(state, State::PeerClosed, "peer disconnected")) continue;
      // Peer-initiated graceful disconnect: no flush (NDKPI disconnect event).
      notify_connector_closed(true, false);
      if (state == State::Connected) kick_tx_later();
      return;
    }
    return;  // idle, peer-closed or error: nothing is waiting for this close
  }
}

}  // namespace softndk::core
