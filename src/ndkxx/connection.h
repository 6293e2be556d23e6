// Connections, written once: the disconnect and connect events, listening, the legs of the
// three-leg handshake (NDK_FN_CONNECT, NDK_FN_ACCEPT(_EX) on the delivered connector,
// NDK_FN_COMPLETE_CONNECT(_EX)) each started on a Request, and establish(), which runs all three
// in one process. A consumer whose sides live in two processes runs the legs itself. Not here:
// what a consumer says in its private data.
#pragma once

#include <softndk/ndkpi.h>

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "ndkxx/call.h"

namespace softndk::ndkxx {

// Counts a connection's disconnect events (NDK_FN_DISCONNECT_EVENT_CALLBACK or its _EX flavour,
// which also reports a reason; the plain flavour leaves `reason` 0).
struct DisconnectEvents {
  std::atomic<int> count{0};
  std::atomic<ULONG> reason{0};  // stored before count is raised
  static void on_disconnect(void* context);
  static void on_disconnect_ex(void* context, ULONG reason);
};

// The connectors a listener delivers (NDK_FN_CONNECT_EVENT_CALLBACK, context: this object), in
// order. The consumer owns each delivered connector and closes it.
class ConnectEvents {
 public:
  virtual ~ConnectEvents() = default;
  static void on_connect(void* context, NDK_CONNECTOR* connector);
  // The next delivered connector not taken yet; nullptr when none came within `wait`.
  NDK_CONNECTOR* next(const Wait& wait = {});
  int count() const { return count_.load(); }  // delivered so far

 protected:
  // Runs inside the connect-event callback (the provider's event thread), before the connector
  // is queued for next().
  virtual void delivered(NDK_CONNECTOR* connector) { (void)connector; }

 private:
  std::atomic<int> count_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<NDK_CONNECTOR*> queue_;
};

// NdkCreateListener on `adapter` delivering to `events`.
Created<NDK_LISTENER> create_listener(NDK_ADAPTER* adapter, ConnectEvents& events,
                                      const Wait& wait = {});
// NdkListen on `address` (port 0: the provider picks one; local_address() tells which).
Outcome listen(NDK_LISTENER* listener, const sockaddr_storage& address, const Wait& wait = {});
Created<NDK_CONNECTOR> create_connector(NDK_ADAPTER* adapter, const Wait& wait = {});

// NdkGetLocalAddress / NdkGetPeerAddress of a listener, connector or shared endpoint.
template <class T>
NTSTATUS local_address(T* object, sockaddr_storage* out) {
  *out = sockaddr_storage{};
  ULONG length = sizeof *out;
  return object->Dispatch->NdkGetLocalAddress(object, reinterpret_cast<sockaddr*>(out), &length);
}
NTSTATUS peer_address(NDK_CONNECTOR* connector, sockaddr_storage* out);

// What one side says in a leg: read limits and private data.
struct ConnectParams {
  ULONG inbound_read_limit = 8;
  ULONG outbound_read_limit = 8;
  const void* private_data = nullptr;
  ULONG private_data_bytes = 0;
};

// Which disconnect callback a side registers: the _EX flavour or the plain one, with `events` as
// its context (nullptr: no callback).
struct DisconnectCallback {
  DisconnectEvents* events = nullptr;
  bool ex = true;
};

// The legs, each started on `request` (its outcome: request.finish()).
NTSTATUS start_connect(Request& request, NDK_CONNECTOR* connector, NDK_QP* qp,
                       const sockaddr_storage& source, const sockaddr_storage& destination,
                       const ConnectParams& params);
NTSTATUS start_connect(Request& request, NDK_CONNECTOR* connector, NDK_QP* qp,
                       NDK_SHARED_ENDPOINT* endpoint, const sockaddr_storage& destination,
                       const ConnectParams& params);
NTSTATUS start_accept(Request& request, NDK_CONNECTOR* incoming, NDK_QP* qp,
                      const ConnectParams& params, DisconnectCallback disconnect);
NTSTATUS start_complete_connect(Request& request, NDK_CONNECTOR* connector,
                                DisconnectCallback disconnect);
Outcome disconnect(NDK_CONNECTOR* connector, const Wait& wait = {});

// One connection between a connector and a listener of the same process.
struct Handshake {
  // Active side: NdkConnect from `source`, or NdkConnectWithSharedEndpoint when `endpoint` is
  // set, to `destination`.
  NDK_CONNECTOR* connector = nullptr;
  NDK_QP* active_qp = nullptr;
  sockaddr_storage source{};
  NDK_SHARED_ENDPOINT* endpoint = nullptr;
  sockaddr_storage destination{};
  ConnectParams connect;
  DisconnectCallback active_disconnect;
  // Passive side: the listener delivers into `incoming`; its connector accepts on `passive_qp`.
  ConnectEvents* incoming = nullptr;
  NDK_QP* passive_qp = nullptr;
  ConnectParams accept;
  DisconnectCallback passive_disconnect;
  // Optional inspection points: on the delivered connector before the accept (with the pending
  // connect), and on the active connector once its connect completed, before the complete
  // (with the pending accept).
  std::function<void(NDK_CONNECTOR* incoming, Request& connect)> on_incoming;
  std::function<void(NDK_CONNECTOR* connector, Request& accept)> on_replied;
};

// How establish() ended: STATUS_SUCCESS, or the first failure and the step that failed.
struct Established {
  NTSTATUS status = STATUS_PENDING;
  const char* step = "";             // "NdkConnect", "connect event", "NdkAccept", ...
  NDK_CONNECTOR* passive = nullptr;  // the delivered connector (the caller owns it)
  bool ok() const { return status == STATUS_SUCCESS; }
};

// Runs the handshake: starts the connect, takes the connect event, starts the accept, waits for
// the connect, completes it, waits for the accept. Every wait is bounded by `wait`. The three
// legs run on the caller's Requests (a test may inspect them), or on its own.
Established establish(const Handshake& handshake, Request& connect, Request& accept,
                      Request& complete, const Wait& wait = {});
Established establish(const Handshake& handshake, const Wait& wait = {});

}  // namespace softndk::ndkxx
