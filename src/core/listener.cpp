// Implementation of core/listener.h.
#include "core/listener.h"

#include <algorithm>
#include <cstring>
#include <vector>
#include <thread>

#include "core/connection.h"
#include "util/log.h"
#include "util/status.h"

namespace softndk::core {

using transport::ConnectionParams;
using transport::SockAddr;

NTSTATUS copy_address(const SockAddr& address, sockaddr* out, ULONG* length) {
  if (length == nullptr) return STATUS_INVALID_PARAMETER;
  ULONG needed = address.length();
  if (out == nullptr || *length < needed) {
    *length = needed;
    return STATUS_BUFFER_TOO_SMALL;
  }
  std::memcpy(out, address.raw(), needed);
  *length = needed;
  return STATUS_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// Listener

std::string_view Listener::to_string(State state) {
  switch (state) {
    case State::Idle:
      return "idle";
    case State::Listening:
      return "listening";
    case State::Closed:
      return "closed";
  }
  return "?";
}

bool Listener::transition(State from, State to, const char* event) {
  State expected = from;
  if (!state_.compare_exchange_strong(expected, to, std::memory_order_acq_rel)) return false;
  SOFTNDK_LOG(Debug, "listener %p: %s -> %s (%s)", static_cast<void*>(this),
              to_string(from).data(), to_string(to).data(), event);
  return true;
}

Listener::Listener(Adapter* adapter, NDK_FN_CONNECT_EVENT_CALLBACK callback, void* context)
    : Object(adapter, NdkObjectTypeListener, adapter->tables().listener),
      callback_(callback),
      callback_context_(context) {}

NTSTATUS Listener::listen(const sockaddr* address, ULONG length,
                          NDK_FN_REQUEST_COMPLETION completion, void* context) {
  SockAddr local;
  if (!local.assign(address, length)) return STATUS_INVALID_PARAMETER;
  std::lock_guard lock(mutex_);
  if (state_.load(std::memory_order_acquire) != State::Idle) return STATUS_INVALID_DEVICE_STATE;
  transport::EndpointRef endpoint;
  NTSTATUS status =
      adapter()->transport().bind(local, transport::EndpointUse::Listener, &endpoint);
  if (status != STATUS_SUCCESS) return status;
  status = endpoint->listen(this);
  if (status != STATUS_SUCCESS) return status;
  endpoint_ = endpoint;
  transition(State::Idle, State::Listening, "listen");
  return adapter()->finish_request(this, STATUS_SUCCESS, completion, context);
}

NTSTATUS Listener::local_address(sockaddr* address, ULONG* length) {
  transport::EndpointRef endpoint;
  {
    std::lock_guard lock(mutex_);
    endpoint = endpoint_;
  }
  if (endpoint == nullptr) return STATUS_INVALID_DEVICE_STATE;
  return copy_address(endpoint->address(), address, length);
}

void Listener::control(bool pause) {
  paused_.store(pause, std::memory_order_seq_cst);
  if (pause && !adapter()->dispatcher().on_dispatcher_thread()) {
    // No connect event may start after this returns: wait out one that is starting.
    while (in_event_.load(std::memory_order_seq_cst)) std::this_thread::yield();
  }
}

bool Listener::on_request(transport::ConnectionPtr connection, const ConnectionParams& request) {
  in_event_.store(true, std::memory_order_seq_cst);
  if (paused_.load(std::memory_order_seq_cst) ||
      state_.load(std::memory_order_acquire) != State::Listening || closing()) {
    in_event_.store(false, std::memory_order_seq_cst);
    return false;  // as if nobody listened: the requester is refused
  }
  if (FaultPlan* faults = adapter()->faults(); faults != nullptr) [[unlikely]] {
    bool refused = false;
    if (answer_request_fault(faults, connection, &refused)) {
      in_event_.store(false, std::memory_order_seq_cst);
      return !refused;
    }
  }
  auto* connector = new Connector(this, std::move(connection), request);
  callback_(callback_context_, connector->as_public<NDK_CONNECTOR>());
  in_event_.store(false, std::memory_order_seq_cst);
  return true;
}

bool Listener::answer_request_fault(FaultPlan* faults, const transport::ConnectionPtr& connection,
                                    bool* refused) {
  FaultAction action;
  if (faults->fire(FaultPoint::ConnRefuse, this, "connect request", &action)) {
    *refused = true;  // as if nobody listened: STATUS_CONNECTION_REFUSED at the requester
    return true;
  }
  if (!faults->fire(FaultPoint::ConnReject, this, "connect request", &action)) return false;
  // NdkReject with the rule's private data (at most what a reply carries).
  size_t bytes = std::min<size_t>(action.data.size(), adapter()->info().MaxCalleeData);
  NTSTATUS status = connection->reject(std::span<const std::byte>(action.data.data(), bytes));
  if (status != STATUS_SUCCESS) {
    SOFTNDK_LOG(Warn, "fault conn.reject: the reject failed: %s", util::status_name(status));
  }
  // Not under mutex_: this runs inside the endpoint's delivery, which listen() (holding mutex_)
  // may be entering.
  std::lock_guard lock(rejected_mutex_);
  rejected_.push_back(connection);  // kept until the listener closes: the reply goes out
  return true;
}

void Listener::on_close() {
  transport::EndpointRef endpoint;
  {
    std::lock_guard lock(mutex_);
    endpoint = endpoint_;
    if (!transition(State::Listening, State::Closed, "closed"))
      transition(State::Idle, State::Closed, "closed");
  }
  // New requests are refused from now on (NDKPI NdkCloseListener); the endpoint itself lives
  // on while accepted connectors hold it.
  if (endpoint != nullptr) endpoint->stop_listening();
  std::vector<transport::ConnectionPtr> rejected;
  {
    std::lock_guard lock(rejected_mutex_);
    rejected.swap(rejected_);
  }
  std::lock_guard lock(mutex_);
  endpoint_.reset();
}

// ---------------------------------------------------------------------------------------------
// SharedEndpoint

SharedEndpoint::SharedEndpoint(Adapter* adapter, transport::EndpointRef endpoint)
    : Object(adapter, NdkObjectTypeSharedEndpoint, adapter->tables().shared_endpoint),
      endpoint_(std::move(endpoint)) {}

NTSTATUS SharedEndpoint::create(Adapter* adapter, const sockaddr* address, ULONG length,
                                SharedEndpoint** out) {
  SockAddr local;
  if (!local.assign(address, length)) return STATUS_INVALID_PARAMETER;
  transport::EndpointRef endpoint;
  NTSTATUS status = adapter->transport().bind(local, transport::EndpointUse::Shared, &endpoint);
  if (status != STATUS_SUCCESS) return status;
  *out = new SharedEndpoint(adapter, std::move(endpoint));
  return STATUS_SUCCESS;
}

NTSTATUS SharedEndpoint::local_address(sockaddr* address, ULONG* length) {
  return copy_address(endpoint_->address(), address, length);
}

}  // namespace softndk::core
