// The verified QP, connector, listener and shared endpoint slots (abi/verifier_slots.h).
#include "abi/verifier_slots.h"
#include "core/connection.h"
#include "core/qp.h"

namespace softndk::abi::verified {

namespace {

// Posts one initiator request through the verifier: the queue held by this thread, the limits,
// the memory rules of memory requests, then the plain slot and what its status reveals.
NTSTATUS post_initiator(const void* pub, Verifier::Request q,
                        const std::function<NTSTATUS()>& post) {
  Entry e = enter(pub, NdkObjectTypeQp, q.call);
  if (e.object == nullptr) return e.status;
  Record* r = record(e.verifier, e.object);
  if (r == nullptr) return post();
  Guard guard(&r->initiator_guard, e.verifier, e.object, SOFTNDK_VERIFY_CONCURRENT_POST, q.call,
              kSecondPoster);
  if (guard.status() != STATUS_SUCCESS) return guard.status();
  NTSTATUS s = e.verifier->check_memory_op(e.object, q);
  if (s == STATUS_SUCCESS) s = e.verifier->check_post(e.object, q);
  if (s != STATUS_SUCCESS) {
    // A failed post ends a DEFER batch (the provider submits what it held).
    e.verifier->after_post(e.object, q, s);
    return s;
  }
  s = post();
  e.verifier->after_post(e.object, q, s);
  return s;
}

Object* object_of(const void* pub, NDK_OBJECT_TYPE type) {
  return Object::from_header(static_cast<const NDK_OBJECT_HEADER*>(pub), type);
}

std::string connector_state(Object* connector) {
  return std::string(static_cast<core::Connector*>(connector)->state_name());
}

// A connector call the core refused for its state (`refused`): reported with the rule.
void state_misuse(Entry& e, const char* call, NTSTATUS got, NTSTATUS refused,
                  const std::string& state, const char* rule) {
  if (got != refused) return;
  e.verifier->report_failed(SOFTNDK_VERIFY_CONNECTION_STATE, call, e.object, got,
                            std::string(call) + " on a connector in state '" + state + "': " +
                                rule);
}

void qp_in_use(Entry& e, const char* call, NTSTATUS got) {
  if (got != STATUS_CONNECTION_ACTIVE) return;
  e.verifier->report_failed(SOFTNDK_VERIFY_CONNECTION_STATE, call, e.object, got,
                            "the QP is already associated with a connector: one connection "
                            "per QP");
}

// The QP becomes the connector's antecedent (NDKPI 1.3).
void associate(Entry& e, NTSTATUS got, NDK_QP* qp, NDK_SHARED_ENDPOINT* shared) {
  if (got != STATUS_SUCCESS && got != STATUS_PENDING) return;
  Record* q = record(e.verifier, object_of(qp, NdkObjectTypeQp));
  Record* s = record(e.verifier, object_of(shared, NdkObjectTypeSharedEndpoint));
  std::lock_guard lock(e.verifier->mutex());
  if (Record* c = e.verifier->record_locked(e.object); c != nullptr) {
    c->connector_qp = q;
    if (s != nullptr) c->shared = s;
  }
}

constexpr const char* kOneConnection =
    "a connector makes one connection: create a new connector for another attempt";
constexpr const char* kCompleteOnce =
    "call it once, after NdkConnect completed successfully";
constexpr const char* kAcceptIncoming =
    "accept only a connector delivered by a connect event, once";
constexpr const char* kDataWindow =
    "only between the connect event and NdkAccept/NdkReject, or between NdkConnect's "
    "successful completion and NdkCompleteConnect/NdkReject";

}  // namespace

// ---------------------------------------------------------------------------------------------
// QP

void flush(NDK_QP* pub) {
  Entry e = enter(pub, NdkObjectTypeQp, "NdkFlush");
  if (e.object == nullptr) return;
  e.verifier->check_defer(nullptr, e.object, "NdkFlush");
  plain().qp->NdkFlush(pub);
}

NTSTATUS send(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count, ULONG flags) {
  return post_initiator(pub, {"NdkSend", NdkOperationTypeSend, context, sgl, count, flags, false},
                        [&] { return plain().qp->NdkSend(pub, context, sgl, count, flags); });
}

NTSTATUS send_and_invalidate(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count,
                             ULONG flags, UINT32 token) {
  return post_initiator(
      pub, {"NdkSendAndInvalidate", NdkOperationTypeSend, context, sgl, count, flags, false},
      [&] { return plain().qp->NdkSendAndInvalidate(pub, context, sgl, count, flags, token); });
}

NTSTATUS write(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count, UINT64 address,
               UINT32 token, ULONG flags) {
  return post_initiator(
      pub, {"NdkWrite", NdkOperationTypeWrite, context, sgl, count, flags, false},
      [&] { return plain().qp->NdkWrite(pub, context, sgl, count, address, token, flags); });
}

NTSTATUS read(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count, UINT64 address,
              UINT32 token, ULONG flags) {
  return post_initiator(
      pub, {"NdkRead", NdkOperationTypeRead, context, sgl, count, flags, false},
      [&] { return plain().qp->NdkRead(pub, context, sgl, count, address, token, flags); });
}

NTSTATUS bind(NDK_QP* pub, PVOID context, NDK_MR* mr, NDK_MW* mw, PVOID address, SIZE_T length,
              ULONG flags) {
  Object* owner = object_of(pub, NdkObjectTypeQp);
  Verifier* v = owner != nullptr ? Verifier::of(owner) : nullptr;
  NTSTATUS s = v != nullptr ? check_argument(v, mr, NdkObjectTypeMr, "NdkBind") : 0;
  if (s == STATUS_SUCCESS && v != nullptr) s = check_argument(v, mw, NdkObjectTypeMw, "NdkBind");
  if (s != STATUS_SUCCESS) return s;
  Verifier::Request q{"NdkBind", NdkOperationTypeBind, context, nullptr, 0, flags, false};
  q.target = object_of(mw, NdkObjectTypeMw);
  q.bind_mr = object_of(mr, NdkObjectTypeMr);
  return post_initiator(pub, q, [&] {
    return plain().qp->NdkBind(pub, context, mr, mw, address, length, flags);
  });
}

NTSTATUS fast_register(NDK_QP* pub, PVOID context, NDK_MR* mr, ULONG page_count,
                       const NDK_LOGICAL_ADDRESS* pages, ULONG fbo, SIZE_T length, PVOID base,
                       ULONG flags) {
  Object* owner = object_of(pub, NdkObjectTypeQp);
  Verifier* v = owner != nullptr ? Verifier::of(owner) : nullptr;
  NTSTATUS s = v != nullptr ? check_argument(v, mr, NdkObjectTypeMr, "NdkFastRegister") : 0;
  if (s != STATUS_SUCCESS) return s;
  Verifier::Request q{"NdkFastRegister", NdkOperationTypeFastRegister, context, nullptr, 0,
                      flags, false};
  q.target = object_of(mr, NdkObjectTypeMr);
  q.pages = pages;
  q.page_count = pages != nullptr ? page_count : 0;
  return post_initiator(pub, q, [&] {
    return plain().qp->NdkFastRegister(pub, context, mr, page_count, pages, fbo, length, base,
                                       flags);
  });
}

NTSTATUS invalidate(NDK_QP* pub, PVOID context, NDK_OBJECT_HEADER* target, ULONG flags) {
  Object* owner = object_of(pub, NdkObjectTypeQp);
  Verifier* v = owner != nullptr ? Verifier::of(owner) : nullptr;
  NTSTATUS s =
      v != nullptr ? check_argument(v, target, NdkObjectTypeUndefined, "NdkInvalidate") : 0;
  if (s != STATUS_SUCCESS) return s;
  Verifier::Request q{"NdkInvalidate", NdkOperationTypeInvalidate, context, nullptr, 0, flags,
                      false};
  q.target = object_of(target, NdkObjectTypeUndefined);
  return post_initiator(pub, q,
                        [&] { return plain().qp->NdkInvalidate(pub, context, target, flags); });
}

NTSTATUS receive(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count) {
  Entry e = enter(pub, NdkObjectTypeQp, "NdkReceive");
  if (e.object == nullptr) return e.status;
  Record* r = record(e.verifier, e.object);
  if (r == nullptr) return plain().qp->NdkReceive(pub, context, sgl, count);
  Guard guard(&r->receive_guard, e.verifier, e.object, SOFTNDK_VERIFY_CONCURRENT_POST,
              "NdkReceive", kSecondPoster);
  if (guard.status() != STATUS_SUCCESS) return guard.status();
  Verifier::Request q{"NdkReceive", NdkOperationTypeReceive, context, sgl, count, 0, true};
  NTSTATUS s = e.verifier->check_post(e.object, q);
  if (s != STATUS_SUCCESS) return s;
  s = plain().qp->NdkReceive(pub, context, sgl, count);
  e.verifier->after_post(e.object, q, s);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Shared endpoint, connector, listener

NTSTATUS shared_endpoint_address(NDK_SHARED_ENDPOINT* pub, PSOCKADDR address, ULONG* length) {
  Entry e = enter(pub, NdkObjectTypeSharedEndpoint, "NdkGetLocalAddress");
  if (e.object == nullptr) return e.status;
  return plain().shared_endpoint->NdkGetLocalAddress(pub, address, length);
}

NTSTATUS connect(NDK_CONNECTOR* pub, NDK_QP* qp, const PSOCKADDR source, ULONG source_length,
                 const PSOCKADDR destination, ULONG destination_length, ULONG inbound,
                 ULONG outbound, const PVOID data, ULONG data_length,
                 NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Entry e = enter(pub, NdkObjectTypeConnector, "NdkConnect");
  if (e.object == nullptr) return e.status;
  NTSTATUS s = check_argument(e.verifier, qp, NdkObjectTypeQp, "NdkConnect");
  if (s != STATUS_SUCCESS) return s;
  std::string state = connector_state(e.object);
  s = plain().connector->NdkConnect(pub, qp, source, source_length, destination,
                                    destination_length, inbound, outbound, data, data_length,
                                    completion, context);
  state_misuse(e, "NdkConnect", s, STATUS_INVALID_DEVICE_STATE, state, kOneConnection);
  qp_in_use(e, "NdkConnect", s);
  associate(e, s, qp, nullptr);
  return s;
}

NTSTATUS connect_with_shared_endpoint(NDK_CONNECTOR* pub, NDK_QP* qp,
                                      NDK_SHARED_ENDPOINT* endpoint, const PSOCKADDR destination,
                                      ULONG destination_length, ULONG inbound, ULONG outbound,
                                      const PVOID data, ULONG data_length,
                                      NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  const char* call = "NdkConnectWithSharedEndpoint";
  Entry e = enter(pub, NdkObjectTypeConnector, call);
  if (e.object == nullptr) return e.status;
  NTSTATUS s = check_argument(e.verifier, qp, NdkObjectTypeQp, call);
  if (s == STATUS_SUCCESS)
    s = check_argument(e.verifier, endpoint, NdkObjectTypeSharedEndpoint, call);
  if (s != STATUS_SUCCESS) return s;
  std::string state = connector_state(e.object);
  s = plain().connector->NdkConnectWithSharedEndpoint(pub, qp, endpoint, destination,
                                                      destination_length, inbound, outbound,
                                                      data, data_length, completion, context);
  state_misuse(e, call, s, STATUS_INVALID_DEVICE_STATE, state, kOneConnection);
  qp_in_use(e, call, s);
  associate(e, s, qp, endpoint);
  return s;
}

// NdkCompleteConnect and NdkCompleteConnectEx differ only in the disconnect callback's type.
template <auto Call, typename Event>
NTSTATUS complete_connect_as(const char* call, NDK_CONNECTOR* pub, Event event,
                             PVOID event_context, NDK_FN_REQUEST_COMPLETION completion,
                             PVOID context) {
  Entry e = enter(pub, NdkObjectTypeConnector, call);
  if (e.object == nullptr) return e.status;
  std::string state = connector_state(e.object);
  NTSTATUS s = (plain().connector->*Call)(pub, event, event_context, completion, context);
  state_misuse(e, call, s, STATUS_CONNECTION_INVALID, state, kCompleteOnce);
  return s;
}

NTSTATUS complete_connect(NDK_CONNECTOR* pub, NDK_FN_DISCONNECT_EVENT_CALLBACK event,
                          PVOID event_context, NDK_FN_REQUEST_COMPLETION completion,
                          PVOID context) {
  return complete_connect_as<&NDK_CONNECTOR_DISPATCH::NdkCompleteConnect>(
      "NdkCompleteConnect", pub, event, event_context, completion, context);
}

NTSTATUS complete_connect_ex(NDK_CONNECTOR* pub, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX event,
                             PVOID event_context, NDK_FN_REQUEST_COMPLETION completion,
                             PVOID context) {
  return complete_connect_as<&NDK_CONNECTOR_DISPATCH::NdkCompleteConnectEx>(
      "NdkCompleteConnectEx", pub, event, event_context, completion, context);
}

// NdkAccept and NdkAcceptEx likewise.
template <auto Call, typename Event>
NTSTATUS accept_as(const char* call, NDK_CONNECTOR* pub, NDK_QP* qp, ULONG inbound,
                   ULONG outbound, const PVOID data, ULONG data_length, Event event,
                   PVOID event_context, NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Entry e = enter(pub, NdkObjectTypeConnector, call);
  if (e.object == nullptr) return e.status;
  NTSTATUS s = check_argument(e.verifier, qp, NdkObjectTypeQp, call);
  if (s != STATUS_SUCCESS) return s;
  std::string state = connector_state(e.object);
  s = (plain().connector->*Call)(pub, qp, inbound, outbound, data, data_length, event,
                                 event_context, completion, context);
  state_misuse(e, call, s, STATUS_INVALID_DEVICE_STATE, state, kAcceptIncoming);
  qp_in_use(e, call, s);
  associate(e, s, qp, nullptr);
  return s;
}

NTSTATUS accept(NDK_CONNECTOR* pub, NDK_QP* qp, ULONG inbound, ULONG outbound, const PVOID data,
                ULONG data_length, NDK_FN_DISCONNECT_EVENT_CALLBACK event, PVOID event_context,
                NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  return accept_as<&NDK_CONNECTOR_DISPATCH::NdkAccept>("NdkAccept", pub, qp, inbound, outbound,
                                                       data, data_length, event, event_context,
                                                       completion, context);
}

NTSTATUS accept_ex(NDK_CONNECTOR* pub, NDK_QP* qp, ULONG inbound, ULONG outbound,
                   const PVOID data, ULONG data_length, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX event,
                   PVOID event_context, NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  return accept_as<&NDK_CONNECTOR_DISPATCH::NdkAcceptEx>("NdkAcceptEx", pub, qp, inbound,
                                                         outbound, data, data_length, event,
                                                         event_context, completion, context);
}

NTSTATUS reject(NDK_CONNECTOR* pub, const PVOID data, ULONG data_length) {
  Entry e = enter(pub, NdkObjectTypeConnector, "NdkReject");
  if (e.object == nullptr) return e.status;
  std::string state = connector_state(e.object);
  NTSTATUS s = plain().connector->NdkReject(pub, data, data_length);
  state_misuse(e, "NdkReject", s, STATUS_INVALID_DEVICE_STATE, state,
               "reject an incoming request before NdkAccept, or a reply before "
               "NdkCompleteConnect");
  return s;
}

NTSTATUS connection_data(NDK_CONNECTOR* pub, ULONG* inbound, ULONG* outbound, PVOID data,
                         ULONG* data_length) {
  Entry e = enter(pub, NdkObjectTypeConnector, "NdkGetConnectionData");
  if (e.object == nullptr) return e.status;
  std::string state = connector_state(e.object);
  NTSTATUS s = plain().connector->NdkGetConnectionData(pub, inbound, outbound, data, data_length);
  state_misuse(e, "NdkGetConnectionData", s, STATUS_CONNECTION_INVALID, state, kDataWindow);
  return s;
}

NTSTATUS connector_local_address(NDK_CONNECTOR* pub, PSOCKADDR address, ULONG* length) {
  Entry e = enter(pub, NdkObjectTypeConnector, "NdkGetLocalAddress");
  if (e.object == nullptr) return e.status;
  std::string state = connector_state(e.object);
  NTSTATUS s = plain().connector->NdkGetLocalAddress(pub, address, length);
  state_misuse(e, "NdkGetLocalAddress", s, STATUS_CONNECTION_INVALID, state,
               "addresses exist once a request was delivered or a connect completed");
  return s;
}

NTSTATUS connector_peer_address(NDK_CONNECTOR* pub, PSOCKADDR address, ULONG* length) {
  Entry e = enter(pub, NdkObjectTypeConnector, "NdkGetPeerAddress");
  if (e.object == nullptr) return e.status;
  std::string state = connector_state(e.object);
  NTSTATUS s = plain().connector->NdkGetPeerAddress(pub, address, length);
  state_misuse(e, "NdkGetPeerAddress", s, STATUS_CONNECTION_INVALID, state,
               "addresses exist once a request was delivered or a connect completed");
  return s;
}

NTSTATUS disconnect(NDK_CONNECTOR* pub, NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Entry e = enter(pub, NdkObjectTypeConnector, "NdkDisconnect");
  if (e.object == nullptr) return e.status;
  Record* qp = nullptr;
  {
    std::lock_guard lock(e.verifier->mutex());
    if (Record* c = e.verifier->record_locked(e.object); c != nullptr) qp = c->connector_qp;
  }
  if (qp != nullptr) e.verifier->check_defer(nullptr, qp->object, "NdkDisconnect");
  std::string state = connector_state(e.object);
  NTSTATUS s = plain().connector->NdkDisconnect(pub, completion, context);
  state_misuse(e, "NdkDisconnect", s, STATUS_CONNECTION_INVALID, state,
               "only a connected connector can be disconnected, once");
  return s;
}

NTSTATUS listen(NDK_LISTENER* pub, const PSOCKADDR address, ULONG length,
                NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Entry e = enter(pub, NdkObjectTypeListener, "NdkListen");
  if (e.object == nullptr) return e.status;
  NTSTATUS s = plain().listener->NdkListen(pub, address, length, completion, context);
  if (s == STATUS_INVALID_DEVICE_STATE) {
    e.verifier->report_failed(SOFTNDK_VERIFY_CONNECTION_STATE, "NdkListen", e.object, s,
                              "the listener already listens: NdkListen once per listener");
  }
  return s;
}

NTSTATUS listener_address(NDK_LISTENER* pub, PSOCKADDR address, ULONG* length) {
  Entry e = enter(pub, NdkObjectTypeListener, "NdkGetLocalAddress");
  if (e.object == nullptr) return e.status;
  return plain().listener->NdkGetLocalAddress(pub, address, length);
}

void control_connect_events(NDK_LISTENER* pub, BOOLEAN pause) {
  Entry e = enter(pub, NdkObjectTypeListener, "NdkControlConnectEvents");
  if (e.object != nullptr) plain().listener->NdkControlConnectEvents(pub, pause);
}

}  // namespace softndk::abi::verified
