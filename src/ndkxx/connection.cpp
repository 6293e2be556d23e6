// Implementation of connection.h.
#include "ndkxx/connection.h"

#include "ndkxx/address.h"

namespace softndk::ndkxx {

void DisconnectEvents::on_disconnect(void* context) {
  static_cast<DisconnectEvents*>(context)->count.fetch_add(1);
}

void DisconnectEvents::on_disconnect_ex(void* context, ULONG reason) {
  auto* self = static_cast<DisconnectEvents*>(context);
  self->reason = reason;
  self->count.fetch_add(1);
}

void ConnectEvents::on_connect(void* context, NDK_CONNECTOR* connector) {
  auto* self = static_cast<ConnectEvents*>(context);
  self->count_.fetch_add(1);
  self->delivered(connector);
  std::lock_guard lock(self->mutex_);
  self->queue_.push_back(connector);
  self->cv_.notify_all();
}

NDK_CONNECTOR* ConnectEvents::next(const Wait& wait) {
  const auto deadline = Clock::now() + wait.timeout;
  std::unique_lock lock(mutex_);
  while (queue_.empty()) {
    if (wait.stop != nullptr && wait.stop->load()) return nullptr;
    const auto now = Clock::now();
    if (now >= deadline) return nullptr;
    cv_.wait_until(lock, wait.stop != nullptr
                             ? std::min(deadline, now + std::chrono::milliseconds(100))
                             : deadline);
  }
  NDK_CONNECTOR* connector = queue_.front();
  queue_.pop_front();
  return connector;
}

Created<NDK_LISTENER> create_listener(NDK_ADAPTER* adapter, ConnectEvents& events,
                                      const Wait& wait) {
  return create<NDK_LISTENER>(
      [&](NDK_FN_CREATE_COMPLETION callback, void* context, NDK_LISTENER** out) {
        return adapter->Dispatch->NdkCreateListener(adapter, &ConnectEvents::on_connect, &events,
                                                    callback, context, out);
      },
      wait);
}

Outcome listen(NDK_LISTENER* listener, const sockaddr_storage& address, const Wait& wait) {
  sockaddr_storage a = address;
  return request(
      [&](NDK_FN_REQUEST_COMPLETION callback, void* context) {
        return listener->Dispatch->NdkListen(listener, as_sockaddr(a), address_length(a),
                                             callback, context);
      },
      wait);
}

Created<NDK_CONNECTOR> create_connector(NDK_ADAPTER* adapter, const Wait& wait) {
  return create<NDK_CONNECTOR>(
      [&](NDK_FN_CREATE_COMPLETION callback, void* context, NDK_CONNECTOR** out) {
        return adapter->Dispatch->NdkCreateConnector(adapter, callback, context, out);
      },
      wait);
}

NTSTATUS peer_address(NDK_CONNECTOR* connector, sockaddr_storage* out) {
  *out = sockaddr_storage{};
  ULONG length = sizeof *out;
  return connector->Dispatch->NdkGetPeerAddress(connector, as_sockaddr(*out), &length);
}

// ---------------------------------------------------------------------------------------------
// The legs

NTSTATUS start_connect(Request& request, NDK_CONNECTOR* connector, NDK_QP* qp,
                       const sockaddr_storage& source, const sockaddr_storage& destination,
                       const ConnectParams& params) {
  sockaddr_storage from = source, to = destination;
  return request.start([&](NDK_FN_REQUEST_COMPLETION callback, void* context) {
    return connector->Dispatch->NdkConnect(
        connector, qp, as_sockaddr(from), address_length(from), as_sockaddr(to),
        address_length(to), params.inbound_read_limit, params.outbound_read_limit,
        const_cast<void*>(params.private_data), params.private_data_bytes, callback, context);
  });
}

NTSTATUS start_connect(Request& request, NDK_CONNECTOR* connector, NDK_QP* qp,
                       NDK_SHARED_ENDPOINT* endpoint, const sockaddr_storage& destination,
                       const ConnectParams& params) {
  sockaddr_storage to = destination;
  return request.start([&](NDK_FN_REQUEST_COMPLETION callback, void* context) {
    return connector->Dispatch->NdkConnectWithSharedEndpoint(
        connector, qp, endpoint, as_sockaddr(to), address_length(to), params.inbound_read_limit,
        params.outbound_read_limit, const_cast<void*>(params.private_data),
        params.private_data_bytes, callback, context);
  });
}

NTSTATUS start_accept(Request& request, NDK_CONNECTOR* incoming, NDK_QP* qp,
                      const ConnectParams& params, DisconnectCallback disconnect) {
  return request.start([&](NDK_FN_REQUEST_COMPLETION callback, void* context) {
    auto* data = const_cast<void*>(params.private_data);
    if (disconnect.ex)
      return incoming->Dispatch->NdkAcceptEx(
          incoming, qp, params.inbound_read_limit, params.outbound_read_limit, data,
          params.private_data_bytes,
          disconnect.events != nullptr ? &DisconnectEvents::on_disconnect_ex : nullptr,
          disconnect.events, callback, context);
    return incoming->Dispatch->NdkAccept(
        incoming, qp, params.inbound_read_limit, params.outbound_read_limit, data,
        params.private_data_bytes,
        disconnect.events != nullptr ? &DisconnectEvents::on_disconnect : nullptr,
        disconnect.events, callback, context);
  });
}

NTSTATUS start_complete_connect(Request& request, NDK_CONNECTOR* connector,
                                DisconnectCallback disconnect) {
  return request.start([&](NDK_FN_REQUEST_COMPLETION callback, void* context) {
    if (disconnect.ex)
      return connector->Dispatch->NdkCompleteConnectEx(
          connector, disconnect.events != nullptr ? &DisconnectEvents::on_disconnect_ex : nullptr,
          disconnect.events, callback, context);
    return connector->Dispatch->NdkCompleteConnect(
        connector, disconnect.events != nullptr ? &DisconnectEvents::on_disconnect : nullptr,
        disconnect.events, callback, context);
  });
}

Outcome disconnect(NDK_CONNECTOR* connector, const Wait& wait) {
  return request(
      [&](NDK_FN_REQUEST_COMPLETION callback, void* context) {
        return connector->Dispatch->NdkDisconnect(connector, callback, context);
      },
      wait);
}

// ---------------------------------------------------------------------------------------------
// The handshake

Established establish(const Handshake& h, Request& connect, Request& accept, Request& complete,
                      const Wait& wait) {
  Established e;
  auto failed = [&](NTSTATUS status, const char* step) {
    e.status = status;
    e.step = step;
    return e;
  };
  NTSTATUS s = h.endpoint != nullptr
                   ? start_connect(connect, h.connector, h.active_qp, h.endpoint, h.destination,
                                   h.connect)
                   : start_connect(connect, h.connector, h.active_qp, h.source, h.destination,
                                   h.connect);
  if (s != STATUS_PENDING && s != STATUS_SUCCESS) return failed(s, "NdkConnect");
  e.passive = h.incoming->next(wait);
  if (e.passive == nullptr) return failed(STATUS_IO_TIMEOUT, "connect event");
  if (h.on_incoming) h.on_incoming(e.passive, connect);
  s = start_accept(accept, e.passive, h.passive_qp, h.accept, h.passive_disconnect);
  if (s != STATUS_PENDING && s != STATUS_SUCCESS) return failed(s, "NdkAccept");
  Outcome o = connect.finish(wait);
  if (!o.ok()) return failed(o.status, "NdkConnect");
  if (h.on_replied) h.on_replied(h.connector, accept);
  start_complete_connect(complete, h.connector, h.active_disconnect);
  o = complete.finish(wait);
  if (!o.ok()) return failed(o.status, "NdkCompleteConnect");
  o = accept.finish(wait);
  if (!o.ok()) return failed(o.status, "NdkAccept");
  e.status = STATUS_SUCCESS;
  return e;
}

Established establish(const Handshake& handshake, const Wait& wait) {
  Request connect, accept, complete;
  return establish(handshake, connect, accept, complete, wait);
}

}  // namespace softndk::ndkxx
