// Listeners and shared endpoints (NDKPI NDK_LISTENER: NdkListen, NdkControlConnectEventHandler,
// the connect event callback; NDK_SHARED_ENDPOINT), and the address query both share with the
// connector. A listener delivers each incoming request as a new passive connector
// (core/connection.h); the wire form of the request belongs to the transport.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include "core/adapter.h"
#include "core/object.h"
#include "transport/transport.h"

namespace softndk::core {

class Listener final : public Object, public transport::ListenEvents {
 public:
  Listener(Adapter* adapter, NDK_FN_CONNECT_EVENT_CALLBACK callback, void* context);
  NTSTATUS listen(const sockaddr* address, ULONG length, NDK_FN_REQUEST_COMPLETION completion,
                  void* context);
  NTSTATUS local_address(sockaddr* address, ULONG* length);
  // NdkControlConnectEventHandler: pausing refuses new requests (the requester sees
  // STATUS_CONNECTION_REFUSED) until resumed; independent of the listening state.
  void control(bool pause);
  const transport::EndpointRef& endpoint() const { return endpoint_; }

  // transport::ListenEvents
  bool on_request(transport::ConnectionPtr connection,
                  const transport::ConnectionParams& request) override;

 private:
  enum class State : uint8_t { Idle, Listening, Closed };
  static std::string_view to_string(State state);
  bool transition(State from, State to, const char* event);  // the one way state_ changes

  void on_close() override;
  NDK_FN_CONNECT_EVENT_CALLBACK callback_;
  void* callback_context_;
  std::atomic<State> state_{State::Idle};
  std::mutex mutex_;  // listen() and close against each other; guards endpoint_
  transport::EndpointRef endpoint_;
  std::atomic<bool> paused_{false};
  std::atomic<bool> in_event_{false};  // a connect event is being delivered
  // conn.refuse / conn.reject (docs/faults.md): true when a fault answered the request.
  bool answer_request_fault(FaultPlan* faults, const transport::ConnectionPtr& connection,
                            bool* refused);
  std::mutex rejected_mutex_;
  std::vector<transport::ConnectionPtr> rejected_;  // under rejected_mutex_
};

class SharedEndpoint final : public Object {
 public:
  static NTSTATUS create(Adapter* adapter, const sockaddr* address, ULONG length,
                         SharedEndpoint** out);
  NTSTATUS local_address(sockaddr* address, ULONG* length);
  const transport::EndpointRef& endpoint() const { return endpoint_; }

 private:
  SharedEndpoint(Adapter* adapter, transport::EndpointRef endpoint);
  void release_resources() override { endpoint_.reset(); }
  transport::EndpointRef endpoint_;
};

// Writes `address` for an NDK address query (STATUS_BUFFER_TOO_SMALL with the size).
NTSTATUS copy_address(const transport::SockAddr& address, sockaddr* out, ULONG* length);

}  // namespace softndk::core
