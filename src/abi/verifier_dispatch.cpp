// The verified dispatch tables (abi/verifier.h): every slot checks the rules of its call, then
// calls the plain slot (abi/dispatch.cpp), then checks what the call's outcome reveals. Only
// adapters opened in verifier mode hand these tables out.
#include <memory>

#include "abi/verifier_slots.h"
#include "core/connection.h"
#include "core/cq.h"
#include "core/dispatcher.h"
#include "core/pd.h"
#include "core/qp.h"

namespace softndk::abi::verified {
namespace {

// ---------------------------------------------------------------------------------------------
// Common slots

const char* close_name(NDK_OBJECT_TYPE type) {
  switch (type) {
    case NdkObjectTypeQp: return "NdkCloseQp";
    case NdkObjectTypeCq: return "NdkCloseCq";
    case NdkObjectTypeMr: return "NdkCloseMr";
    case NdkObjectTypeMw: return "NdkCloseMw";
    case NdkObjectTypePd: return "NdkClosePd";
    case NdkObjectTypeSrq: return "NdkCloseSrq";
    case NdkObjectTypeSharedEndpoint: return "NdkCloseSharedEndpoint";
    case NdkObjectTypeConnector: return "NdkCloseConnector";
    case NdkObjectTypeListener: return "NdkCloseListener";
    default: return "NdkCloseObject";
  }
}

// A pending close completes through here: the record is closed for the verifier before the
// consumer hears of it (a consumer that waits for the completion may close the antecedent).
struct CloseCompletion {
  Verifier* verifier;
  Record* record;
  NDK_FN_CLOSE_COMPLETION completion;
  void* context;
  static void run(void* raw) {
    std::unique_ptr<CloseCompletion> c(static_cast<CloseCompletion*>(raw));
    if (c->record != nullptr) {
      std::lock_guard lock(c->verifier->mutex());
      c->record->life = Record::Life::Retired;
    }
    if (c->completion != nullptr) c->completion(c->context);
  }
};

NTSTATUS v_close(NDK_OBJECT_HEADER* header, NDK_FN_CLOSE_COMPLETION completion, void* context) {
  Object* o = Object::from_header(header, NdkObjectTypeUndefined);
  if (o == nullptr) {
    report_retired(header, NdkObjectTypeUndefined, "NdkCloseObject");
    return STATUS_INVALID_PARAMETER;
  }
  Verifier* v = Verifier::of(o);
  const char* call = close_name(o->type());
  if (o->closing()) {
    v->report_failed(SOFTNDK_VERIFY_CLOSING_OBJECT, call, o, STATUS_INVALID_DEVICE_STATE,
                     "a second close of the object (its first close is still pending)");
    return STATUS_INVALID_DEVICE_STATE;
  }
  if (o->type() == NdkObjectTypeQp) v->check_defer(nullptr, o, call);
  if (o->type() == NdkObjectTypeMr) v->check_revoke(call, o, true);
  std::string successors;
  Record* closing = nullptr;
  {
    std::lock_guard lock(v->mutex());
    if (Record* r = v->record_locked(o); r != nullptr) {
      closing = r;
      successors = v->open_successors_locked(r);
      r->life = Record::Life::Closing;
      r->sq.clear();
      r->rq.clear();
    }
  }
  if (!successors.empty()) {
    v->report(SOFTNDK_VERIFY_CLOSE_ORDER, call, o, STATUS_SUCCESS,
              "closed before its successors (" + successors +
                  " still open): allowed, the close stays pending until they are closed");
  }
  auto* trampoline = new CloseCompletion{v, closing, completion, context};
  NTSTATUS s = plain().pd->NdkClosePd(header, &CloseCompletion::run, trampoline);
  if (s != STATUS_PENDING) delete trampoline;
  return s;
}

NTSTATUS v_query_extension(NDK_OBJECT_HEADER* header, GUID* id, NDK_VERSION version,
                           NDK_EXTENSION_INTERFACE* extension) {
  Entry e = enter(header, NdkObjectTypeUndefined, "NdkQueryExtension");
  if (e.object == nullptr) return e.status;
  return plain().cq->NdkQueryExtension(header, id, version, extension);
}

// ---------------------------------------------------------------------------------------------
// Adapter

NTSTATUS v_query_adapter_info(NDK_ADAPTER* pub, NDK_ADAPTER_INFO* info, ULONG* size) {
  Entry e = enter(pub, NdkObjectTypeAdapter, "NdkQueryAdapterInfo");
  if (e.object == nullptr) return e.status;
  if (core::Dispatcher::on_event_thread()) {
    NTSTATUS s = e.verifier->report(SOFTNDK_VERIFY_CALLBACK_CONTEXT, "NdkQueryAdapterInfo",
                                    e.object, STATUS_INVALID_DEVICE_STATE,
                                    "NdkQueryAdapterInfo runs at PASSIVE_LEVEL and may block: "
                                    "never call it from inside an NDK callback");
    if (s != STATUS_SUCCESS) return s;
  }
  return plain().adapter->NdkQueryAdapterInfo(pub, info, size);
}

NTSTATUS v_create_cq(NDK_ADAPTER* pub, ULONG depth, NDK_FN_CQ_NOTIFICATION_CALLBACK notify,
                     PVOID notify_context, GROUP_AFFINITY* affinity,
                     NDK_FN_CREATE_COMPLETION completion, PVOID context, NDK_CQ** out) {
  Entry e = enter(pub, NdkObjectTypeAdapter, "NdkCreateCq");
  if (e.object == nullptr) return e.status;
  ULONG max = e.verifier->info().MaxCqDepth;
  if (depth == 0 || depth > max) {
    NTSTATUS s = e.verifier->report(SOFTNDK_VERIFY_CREATE_LIMIT, "NdkCreateCq", e.object,
                                    STATUS_INVALID_PARAMETER,
                                    "CqDepth " + std::to_string(depth) +
                                        " is outside 1..MaxCqDepth (" + std::to_string(max) + ")");
    if (s != STATUS_SUCCESS) return s;
  }
  auto* pending = new Record;
  pending->type = NdkObjectTypeCq;
  pending->depth = depth;
  return create_with(pending, out, [&] {
    return plain().adapter->NdkCreateCq(pub, depth, notify, notify_context, affinity,
                                        completion, context, out);
  });
}

NTSTATUS v_create_pd(NDK_ADAPTER* pub, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                     NDK_PD** out) {
  Entry e = enter(pub, NdkObjectTypeAdapter, "NdkCreatePd");
  if (e.object == nullptr) return e.status;
  auto* pending = new Record;
  pending->type = NdkObjectTypePd;
  return create_with(pending, out, [&] {
    return plain().adapter->NdkCreatePd(pub, completion, context, out);
  });
}

NTSTATUS v_create_shared_endpoint(NDK_ADAPTER* pub, const PSOCKADDR address, ULONG length,
                                  NDK_FN_CREATE_COMPLETION completion, PVOID context,
                                  NDK_SHARED_ENDPOINT** out) {
  Entry e = enter(pub, NdkObjectTypeAdapter, "NdkCreateSharedEndpoint");
  if (e.object == nullptr) return e.status;
  auto* pending = new Record;
  pending->type = NdkObjectTypeSharedEndpoint;
  return create_with(pending, out, [&] {
    return plain().adapter->NdkCreateSharedEndpoint(pub, address, length, completion, context,
                                                    out);
  });
}

NTSTATUS v_create_connector(NDK_ADAPTER* pub, NDK_FN_CREATE_COMPLETION completion,
                            PVOID context, NDK_CONNECTOR** out) {
  Entry e = enter(pub, NdkObjectTypeAdapter, "NdkCreateConnector");
  if (e.object == nullptr) return e.status;
  auto* pending = new Record;
  pending->type = NdkObjectTypeConnector;
  return create_with(pending, out, [&] {
    return plain().adapter->NdkCreateConnector(pub, completion, context, out);
  });
}

// The listener's connect event, through the verifier: the new connector's antecedent.
void on_connect_event(void* context, NDK_CONNECTOR* connector) {
  auto* listener = static_cast<Record*>(context);
  Verifier* v = listener->verifier;
  Object* c = Object::from_header(reinterpret_cast<NDK_OBJECT_HEADER*>(connector),
                                  NdkObjectTypeConnector);
  {
    std::lock_guard lock(v->mutex());
    if (Record* r = c != nullptr ? v->record_locked(c) : nullptr; r != nullptr)
      r->listener = listener;
  }
  listener->connect_event(listener->connect_event_context, connector);
}

NTSTATUS v_create_listener(NDK_ADAPTER* pub, NDK_FN_CONNECT_EVENT_CALLBACK event,
                           PVOID event_context, NDK_FN_CREATE_COMPLETION completion,
                           PVOID context, NDK_LISTENER** out) {
  Entry e = enter(pub, NdkObjectTypeAdapter, "NdkCreateListener");
  if (e.object == nullptr) return e.status;
  if (event == nullptr) {
    return plain().adapter->NdkCreateListener(pub, event, event_context, completion, context,
                                              out);
  }
  auto* pending = new Record;
  pending->type = NdkObjectTypeListener;
  pending->connect_event = event;
  pending->connect_event_context = event_context;
  return create_with(pending, out, [&] {
    return plain().adapter->NdkCreateListener(pub, on_connect_event, pending, completion,
                                              context, out);
  });
}

NTSTATUS v_build_lam(NDK_ADAPTER* pub, MDL* mdl, SIZE_T length,
                     NDK_FN_REQUEST_COMPLETION completion, PVOID context,
                     NDK_LOGICAL_ADDRESS_MAPPING* lam, ULONG* lam_size, ULONG* fbo) {
  Entry e = enter(pub, NdkObjectTypeAdapter, "NdkBuildLAM");
  if (e.object == nullptr) return e.status;
  NTSTATUS s = plain().adapter->NdkBuildLAM(pub, mdl, length, completion, context, lam,
                                            lam_size, fbo);
  if ((s == STATUS_SUCCESS || s == STATUS_PENDING) && lam != nullptr) e.verifier->lam_built(lam);
  return s;
}

void v_release_lam(NDK_ADAPTER* pub, NDK_LOGICAL_ADDRESS_MAPPING* lam) {
  Entry e = enter(pub, NdkObjectTypeAdapter, "NdkReleaseLAM");
  if (e.object == nullptr) return;
  std::string user;
  if (lam != nullptr && e.verifier->lam_in_use(lam, &user)) {
    NTSTATUS s = e.verifier->report(SOFTNDK_VERIFY_MEMORY_IN_USE, "NdkReleaseLAM", e.object,
                                    STATUS_INVALID_DEVICE_STATE,
                                    "releasing a logical address mapping while " + user +
                                        " (strict: the mapping is kept)");
    if (s != STATUS_SUCCESS) return;
  }
  if (lam != nullptr) e.verifier->lam_released(lam);
  plain().adapter->NdkReleaseLAM(pub, lam);
}


}  // namespace

// ---------------------------------------------------------------------------------------------
// The tables (slot order of NDKPI 1.4, as in abi/dispatch.cpp)

namespace {
const NDK_ADAPTER_DISPATCH kAdapter = {
    v_query_extension, v_query_adapter_info, v_create_cq, v_create_pd, v_create_shared_endpoint,
    v_create_connector, v_create_listener, v_build_lam, v_release_lam};
const NDK_CQ_DISPATCH kCq = {v_close,        v_query_extension,     resize_cq,        arm_cq,
                             get_cq_results, control_cq_moderation, get_cq_results_ex};
const NDK_PD_DISPATCH kPd = {v_close,    v_query_extension, create_mr,          create_mw,
                             create_srq, create_qp,         create_qp_with_srq, get_privileged_token};
const NDK_MR_DISPATCH kMr = {v_close,       v_query_extension,           register_mr,
                             deregister_mr, initialize_fast_register_mr, remote_token_from_mr,
                             local_token_from_mr};
const NDK_MW_DISPATCH kMw = {v_close, v_query_extension, remote_token_from_mw};
const NDK_SRQ_DISPATCH kSrq = {v_close, v_query_extension, modify_srq, srq_receive};
const NDK_QP_DISPATCH kQp = {v_close, v_query_extension, flush, send,  receive,
                             bind,    fast_register,     invalidate, read, write,
                             send_and_invalidate};
const NDK_SHARED_ENDPOINT_DISPATCH kSharedEndpoint = {v_close, v_query_extension,
                                                      shared_endpoint_address};
const NDK_CONNECTOR_DISPATCH kConnector = {
    v_close,         v_query_extension,       connect,        connect_with_shared_endpoint,
    complete_connect, accept,                 reject,         connection_data,
    connector_local_address, connector_peer_address, disconnect, complete_connect_ex,
    accept_ex};
const NDK_LISTENER_DISPATCH kListener = {v_close, v_query_extension, listen, listener_address,
                                         control_connect_events};
const core::DispatchTables kTables = {&kAdapter, &kCq, &kPd,  &kMr,           &kMw,
                                      &kSrq,     &kQp, &kSharedEndpoint, &kConnector, &kListener};
}  // namespace

}  // namespace softndk::abi::verified

namespace softndk::abi {
const core::DispatchTables& verified_dispatch_tables() { return verified::kTables; }
}  // namespace softndk::abi
