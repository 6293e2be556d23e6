// The ten NDK dispatch tables: every slot of the NDK_*_DISPATCH tables, each a thin function that maps the
// consumer's object pointer to the core object, checks the obvious argument errors, and calls
// the core. This file is the exception firewall: nothing thrown crosses into the consumer.
#include "abi/dispatch.h"

#include <new>

#include "abi/fault_hooks.h"

#include "core/connection.h"
#include "core/cq.h"
#include "core/pd.h"
#include "core/qp.h"

namespace softndk::abi {
namespace {

using core::Adapter;
using core::Connector;
using core::Cq;
using core::FaultPoint;
using core::Listener;
using core::Mr;
using core::Mw;
using core::Object;
using core::Pd;
using core::Qp;
using core::SharedEndpoint;
using core::Srq;

template <class T, class Pub>
T* as(Pub* pub, NDK_OBJECT_TYPE type) {
  return Object::from<T>(pub, type);
}

// Runs `body` and turns any exception into an NTSTATUS.
template <class F>
NTSTATUS guarded(F&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return STATUS_INSUFFICIENT_RESOURCES;
  } catch (...) {
    return STATUS_INTERNAL_ERROR;
  }
}

// Finishes a create: inline or through the completion (pending mode), per the NDKPI create contract (NDK_FN_CREATE_COMPLETION).
// A pend fault (abi/fault_hooks.h) delays the completion instead.
template <class Pub>
NTSTATUS deliver(Adapter* adapter, Object* created, NDK_FN_CREATE_COMPLETION completion,
                 void* context, Pub** out, const CallFault& fault = {}) {
  if (fault.pend && completion != nullptr) [[unlikely]]
    return deliver_create_later(adapter, created, completion, context, fault.delay_ms);
  void* header = nullptr;
  NTSTATUS status = adapter->finish_create(created, completion, context, &header);
  if (status == STATUS_SUCCESS) *out = reinterpret_cast<Pub*>(header);
  return status;
}

// ---------------------------------------------------------------------------------------------
// Common slots

NTSTATUS close_object(NDK_OBJECT_HEADER* header, NDK_FN_CLOSE_COMPLETION completion,
                      void* context) {
  Object* object = Object::from_header(header, NdkObjectTypeUndefined);
  if (object == nullptr || object->type() == NdkObjectTypeAdapter) return STATUS_INVALID_PARAMETER;
  return guarded([&] { return object->close(completion, context); });
}

NTSTATUS query_extension(NDK_OBJECT_HEADER* header, GUID*, NDK_VERSION,
                         NDK_EXTENSION_INTERFACE* extension) {
  if (Object::from_header(header, NdkObjectTypeUndefined) == nullptr) return STATUS_INVALID_PARAMETER;
  if (extension != nullptr) extension->Dispatch = nullptr;
  return STATUS_NOT_SUPPORTED;  // softndk defines no private extensions
}

// ---------------------------------------------------------------------------------------------
// Adapter

NTSTATUS query_adapter_info(NDK_ADAPTER* pub, NDK_ADAPTER_INFO* info, ULONG* size) {
  Adapter* a = as<Adapter>(pub, NdkObjectTypeAdapter);
  if (a == nullptr) return STATUS_INVALID_PARAMETER;
  return a->query_info(info, size);
}

NTSTATUS create_cq(NDK_ADAPTER* pub, ULONG depth, NDK_FN_CQ_NOTIFICATION_CALLBACK notify,
                   PVOID notify_context, GROUP_AFFINITY*, NDK_FN_CREATE_COMPLETION completion,
                   PVOID context, NDK_CQ** out) {
  Adapter* a = as<Adapter>(pub, NdkObjectTypeAdapter);
  if (a == nullptr || out == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(a, FaultPoint::CreateCq, a, "NdkCreateCq");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    Cq* cq = nullptr;
    NTSTATUS s = Cq::create(a, depth, notify, notify_context, &cq);
    return s != STATUS_SUCCESS ? s : deliver(a, cq, completion, context, out, fault);
  });
}

NTSTATUS create_pd(NDK_ADAPTER* pub, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                   NDK_PD** out) {
  Adapter* a = as<Adapter>(pub, NdkObjectTypeAdapter);
  if (a == nullptr || out == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(a, FaultPoint::CreatePd, a, "NdkCreatePd");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    auto* pd = new Pd(a);
    if (pd->privileged_token() == 0) {
      pd->close(nullptr, nullptr);
      return STATUS_INSUFFICIENT_RESOURCES;
    }
    return deliver(a, pd, completion, context, out, fault);
  });
}

NTSTATUS create_shared_endpoint(NDK_ADAPTER* pub, const PSOCKADDR address, ULONG length,
                                NDK_FN_CREATE_COMPLETION completion, PVOID context,
                                NDK_SHARED_ENDPOINT** out) {
  Adapter* a = as<Adapter>(pub, NdkObjectTypeAdapter);
  if (a == nullptr || out == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault =
      call_fault(a, FaultPoint::CreateSharedEndpoint, a, "NdkCreateSharedEndpoint");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    SharedEndpoint* endpoint = nullptr;
    NTSTATUS s = SharedEndpoint::create(a, address, length, &endpoint);
    return s != STATUS_SUCCESS ? s : deliver(a, endpoint, completion, context, out, fault);
  });
}

NTSTATUS create_connector(NDK_ADAPTER* pub, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                          NDK_CONNECTOR** out) {
  Adapter* a = as<Adapter>(pub, NdkObjectTypeAdapter);
  if (a == nullptr || out == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(a, FaultPoint::CreateConnector, a, "NdkCreateConnector");
  if (fault.fails()) return fault.status;
  return guarded([&] { return deliver(a, new Connector(a), completion, context, out, fault); });
}

NTSTATUS create_listener(NDK_ADAPTER* pub, NDK_FN_CONNECT_EVENT_CALLBACK event,
                         PVOID event_context, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                         NDK_LISTENER** out) {
  Adapter* a = as<Adapter>(pub, NdkObjectTypeAdapter);
  if (a == nullptr || out == nullptr || event == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(a, FaultPoint::CreateListener, a, "NdkCreateListener");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    return deliver(a, new Listener(a, event, event_context), completion, context, out, fault);
  });
}

NTSTATUS build_lam(NDK_ADAPTER* pub, MDL* mdl, SIZE_T length,
                   NDK_FN_REQUEST_COMPLETION completion, PVOID context,
                   NDK_LOGICAL_ADDRESS_MAPPING* lam, ULONG* lam_size, ULONG* fbo) {
  Adapter* a = as<Adapter>(pub, NdkObjectTypeAdapter);
  if (a == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(a, FaultPoint::BuildLam, a, "NdkBuildLAM");
  if (fault.fails()) return fault.status;  // nothing mapped, nothing written
  return guarded([&] {
    return request_with_fault(fault, a, completion, context, [&](auto done, void* ctx) {
      return a->build_lam(mdl, length, done, ctx, lam, lam_size, fbo);
    });
  });
}

void release_lam(NDK_ADAPTER* pub, NDK_LOGICAL_ADDRESS_MAPPING* lam) {
  Adapter* a = as<Adapter>(pub, NdkObjectTypeAdapter);
  if (a != nullptr) a->release_lam(lam);
}

// ---------------------------------------------------------------------------------------------
// CQ

NTSTATUS resize_cq(NDK_CQ* pub, ULONG depth, NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Cq* cq = as<Cq>(pub, NdkObjectTypeCq);
  if (cq == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(cq->adapter(), FaultPoint::ResizeCq, cq, "NdkResizeCq");
  if (fault.fails()) return fault.status;  // the CQ keeps its depth and its entries
  return guarded([&] {
    return request_with_fault(fault, cq, completion, context, [&](auto done, void* ctx) {
      return cq->resize(depth, done, ctx);
    });
  });
}

void arm_cq(NDK_CQ* pub, ULONG type) {
  Cq* cq = as<Cq>(pub, NdkObjectTypeCq);
  if (cq != nullptr) cq->arm(type);
}

ULONG get_cq_results(NDK_CQ* pub, NDK_RESULT results[], ULONG count) {
  Cq* cq = as<Cq>(pub, NdkObjectTypeCq);
  return cq == nullptr ? 0 : cq->poll(results, count);
}

ULONG get_cq_results_ex(NDK_CQ* pub, NDK_RESULT_EX results[], ULONG count) {
  Cq* cq = as<Cq>(pub, NdkObjectTypeCq);
  return cq == nullptr ? 0 : cq->poll_ex(results, count);
}

NTSTATUS control_cq_moderation(NDK_CQ* pub, ULONG interval, ULONG count) {
  Cq* cq = as<Cq>(pub, NdkObjectTypeCq);
  if (cq == nullptr) return STATUS_INVALID_PARAMETER;
  // Only an adapter that supports moderation can fail it (without the flag the answer is
  // STATUS_NOT_SUPPORTED, whatever the plan says); the previous settings stay.
  if (cq->adapter()->has_flag(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED)) {
    NTSTATUS f = post_fault(cq->adapter(), FaultPoint::ModerateCq, cq,
                            "NdkControlCqInterruptModeration");
    if (f != STATUS_SUCCESS) return f;
  }
  return cq->moderate(interval, count);
}

// ---------------------------------------------------------------------------------------------
// PD

NTSTATUS create_mr(NDK_PD* pub, BOOLEAN fast, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                   NDK_MR** out) {
  Pd* pd = as<Pd>(pub, NdkObjectTypePd);
  if (pd == nullptr || out == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(pd->adapter(), FaultPoint::CreateMr, pd, "NdkCreateMr");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    uint32_t index = pd->adapter()->stags().allocate(fast ? core::StagKind::FastMr
                                                         : core::StagKind::Mr);
    if (index == 0) return STATUS_INSUFFICIENT_RESOURCES;
    return deliver(pd->adapter(), new Mr(pd, fast != 0, index), completion, context, out, fault);
  });
}

NTSTATUS create_mw(NDK_PD* pub, NDK_FN_CREATE_COMPLETION completion, PVOID context, NDK_MW** out) {
  Pd* pd = as<Pd>(pub, NdkObjectTypePd);
  if (pd == nullptr || out == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(pd->adapter(), FaultPoint::CreateMw, pd, "NdkCreateMw");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    uint32_t index = pd->adapter()->stags().allocate(core::StagKind::Window);
    if (index == 0) return STATUS_INSUFFICIENT_RESOURCES;
    return deliver(pd->adapter(), new Mw(pd, index), completion, context, out, fault);
  });
}

NTSTATUS create_srq(NDK_PD* pub, ULONG depth, ULONG max_sge, ULONG threshold,
                    NDK_FN_SRQ_NOTIFICATION_CALLBACK notify, PVOID notify_context,
                    GROUP_AFFINITY*, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                    NDK_SRQ** out) {
  Pd* pd = as<Pd>(pub, NdkObjectTypePd);
  if (pd == nullptr || out == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(pd->adapter(), FaultPoint::CreateSrq, pd, "NdkCreateSrq");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    Srq* srq = nullptr;
    NTSTATUS s = Srq::create(pd, depth, max_sge, threshold, notify, notify_context, &srq);
    return s != STATUS_SUCCESS ? s : deliver(pd->adapter(), srq, completion, context, out, fault);
  });
}

NTSTATUS create_qp_common(Pd* pd, NDK_CQ* rcq, NDK_CQ* icq, Srq* srq, PVOID qp_context,
                          ULONG receive_depth, ULONG initiator_depth, ULONG receive_sge,
                          ULONG initiator_sge, ULONG inline_bytes,
                          NDK_FN_CREATE_COMPLETION completion, PVOID context, NDK_QP** out) {
  Qp::Params p{pd,           as<Cq>(rcq, NdkObjectTypeCq), as<Cq>(icq, NdkObjectTypeCq),
               srq,          qp_context,                   receive_depth,
               initiator_depth, receive_sge,               initiator_sge,
               inline_bytes};
  CallFault fault = call_fault(pd->adapter(), FaultPoint::CreateQp, pd, "NdkCreateQp");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    Qp* qp = nullptr;
    NTSTATUS s = Qp::create(p, &qp);
    return s != STATUS_SUCCESS ? s : deliver(pd->adapter(), qp, completion, context, out, fault);
  });
}

NTSTATUS create_qp(NDK_PD* pub, NDK_CQ* rcq, NDK_CQ* icq, PVOID qp_context, ULONG receive_depth,
                   ULONG initiator_depth, ULONG receive_sge, ULONG initiator_sge,
                   ULONG inline_bytes, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                   NDK_QP** out) {
  Pd* pd = as<Pd>(pub, NdkObjectTypePd);
  if (pd == nullptr || out == nullptr) return STATUS_INVALID_PARAMETER;
  return create_qp_common(pd, rcq, icq, nullptr, qp_context, receive_depth, initiator_depth,
                          receive_sge, initiator_sge, inline_bytes, completion, context, out);
}

NTSTATUS create_qp_with_srq(NDK_PD* pub, NDK_CQ* rcq, NDK_CQ* icq, NDK_SRQ* srq_pub,
                            PVOID qp_context, ULONG initiator_depth, ULONG initiator_sge,
                            ULONG inline_bytes, NDK_FN_CREATE_COMPLETION completion,
                            PVOID context, NDK_QP** out) {
  Pd* pd = as<Pd>(pub, NdkObjectTypePd);
  Srq* srq = as<Srq>(srq_pub, NdkObjectTypeSrq);
  if (pd == nullptr || srq == nullptr || out == nullptr) return STATUS_INVALID_PARAMETER;
  return create_qp_common(pd, rcq, icq, srq, qp_context, 0, initiator_depth, 0, initiator_sge,
                          inline_bytes, completion, context, out);
}

void get_privileged_token(NDK_PD* pub, UINT32* token) {
  Pd* pd = as<Pd>(pub, NdkObjectTypePd);
  if (pd != nullptr && token != nullptr) *token = pd->privileged_token();
}

// ---------------------------------------------------------------------------------------------
// MR / MW

NTSTATUS register_mr(NDK_MR* pub, MDL* mdl, SIZE_T length, ULONG flags,
                     NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Mr* mr = as<Mr>(pub, NdkObjectTypeMr);
  if (mr == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(mr->adapter(), FaultPoint::RegisterMr, mr, "NdkRegisterMr");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    return request_with_fault(fault, mr, completion, context, [&](auto done, void* ctx) {
      return mr->register_memory(mdl, length, flags, done, ctx);
    });
  });
}

NTSTATUS deregister_mr(NDK_MR* pub, NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Mr* mr = as<Mr>(pub, NdkObjectTypeMr);
  if (mr == nullptr) return STATUS_INVALID_PARAMETER;
  return guarded([&] { return mr->deregister(completion, context); });
}

NTSTATUS initialize_fast_register_mr(NDK_MR* pub, ULONG pages, BOOLEAN remote,
                                     NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Mr* mr = as<Mr>(pub, NdkObjectTypeMr);
  if (mr == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(mr->adapter(), FaultPoint::InitializeFastRegisterMr, mr,
                               "NdkInitializeFastRegisterMr");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    return request_with_fault(fault, mr, completion, context, [&](auto done, void* ctx) {
      return mr->initialize_fast(pages, remote != 0, done, ctx);
    });
  });
}

UINT32 remote_token_from_mr(NDK_MR* pub) {
  Mr* mr = as<Mr>(pub, NdkObjectTypeMr);
  return mr == nullptr ? 0 : mr->token();
}

UINT32 local_token_from_mr(NDK_MR* pub) {
  Mr* mr = as<Mr>(pub, NdkObjectTypeMr);
  return mr == nullptr ? 0 : mr->token();
}

UINT32 remote_token_from_mw(NDK_MW* pub) {
  Mw* mw = as<Mw>(pub, NdkObjectTypeMw);
  return mw == nullptr ? 0 : mw->token();
}

// ---------------------------------------------------------------------------------------------
// SRQ

NTSTATUS modify_srq(NDK_SRQ* pub, ULONG depth, ULONG threshold,
                    NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Srq* srq = as<Srq>(pub, NdkObjectTypeSrq);
  if (srq == nullptr) return STATUS_INVALID_PARAMETER;
  return guarded([&] { return srq->modify(depth, threshold, completion, context); });
}

NTSTATUS srq_receive(NDK_SRQ* pub, PVOID context, const NDK_SGE* sgl, ULONG count) {
  Srq* srq = as<Srq>(pub, NdkObjectTypeSrq);
  if (srq == nullptr) return STATUS_INVALID_PARAMETER;
  if (NTSTATUS f = post_fault(srq->adapter(), FaultPoint::SrqReceive, srq, "NdkSrqReceive");
      f != STATUS_SUCCESS)
    return f;
  return srq->post(context, sgl, count);
}

// ---------------------------------------------------------------------------------------------
// QP

void flush(NDK_QP* pub) {
  Qp* qp = as<Qp>(pub, NdkObjectTypeQp);
  if (qp != nullptr) qp->flush();
}

NTSTATUS send(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count, ULONG flags) {
  Qp* qp = as<Qp>(pub, NdkObjectTypeQp);
  if (qp == nullptr) return STATUS_INVALID_PARAMETER;
  if (NTSTATUS f = post_fault(qp->adapter(), FaultPoint::Send, qp, "NdkSend"); f != STATUS_SUCCESS)
    return f;
  return qp->post_send(context, sgl, count, flags, false, 0);
}

NTSTATUS send_and_invalidate(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count,
                             ULONG flags, UINT32 token) {
  Qp* qp = as<Qp>(pub, NdkObjectTypeQp);
  if (qp == nullptr) return STATUS_INVALID_PARAMETER;
  if (NTSTATUS f = post_fault(qp->adapter(), FaultPoint::Send, qp, "NdkSendAndInvalidate"); f != STATUS_SUCCESS)
    return f;
  return qp->post_send(context, sgl, count, flags, true, token);
}

NTSTATUS receive(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count) {
  Qp* qp = as<Qp>(pub, NdkObjectTypeQp);
  if (qp == nullptr) return STATUS_INVALID_PARAMETER;
  if (NTSTATUS f = post_fault(qp->adapter(), FaultPoint::Receive, qp, "NdkReceive"); f != STATUS_SUCCESS)
    return f;
  return qp->post_receive(context, sgl, count);
}

NTSTATUS bind(NDK_QP* pub, PVOID context, NDK_MR* mr, NDK_MW* mw, PVOID address, SIZE_T length,
              ULONG flags) {
  Qp* qp = as<Qp>(pub, NdkObjectTypeQp);
  if (qp == nullptr) return STATUS_INVALID_PARAMETER;
  if (NTSTATUS f = post_fault(qp->adapter(), FaultPoint::Bind, qp, "NdkBind"); f != STATUS_SUCCESS)
    return f;
  return guarded([&] {
    return qp->post_bind(context, as<Mr>(mr, NdkObjectTypeMr), as<Mw>(mw, NdkObjectTypeMw),
                         reinterpret_cast<uintptr_t>(address), length, flags);
  });
}

NTSTATUS fast_register(NDK_QP* pub, PVOID context, NDK_MR* mr, ULONG page_count,
                       const NDK_LOGICAL_ADDRESS* pages, ULONG fbo, SIZE_T length, PVOID base,
                       ULONG flags) {
  Qp* qp = as<Qp>(pub, NdkObjectTypeQp);
  if (qp == nullptr) return STATUS_INVALID_PARAMETER;
  if (NTSTATUS f = post_fault(qp->adapter(), FaultPoint::FastRegister, qp, "NdkFastRegister"); f != STATUS_SUCCESS)
    return f;
  return guarded([&] {
    return qp->post_fast_register(context, as<Mr>(mr, NdkObjectTypeMr), page_count, pages, fbo,
                                  length, reinterpret_cast<uintptr_t>(base), flags);
  });
}

NTSTATUS invalidate(NDK_QP* pub, PVOID context, NDK_OBJECT_HEADER* target, ULONG flags) {
  Qp* qp = as<Qp>(pub, NdkObjectTypeQp);
  if (qp == nullptr) return STATUS_INVALID_PARAMETER;
  if (NTSTATUS f = post_fault(qp->adapter(), FaultPoint::Invalidate, qp, "NdkInvalidate"); f != STATUS_SUCCESS)
    return f;
  return qp->post_invalidate(context, Object::from_header(target, NdkObjectTypeUndefined), flags);
}

NTSTATUS read(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count, UINT64 address,
              UINT32 token, ULONG flags) {
  Qp* qp = as<Qp>(pub, NdkObjectTypeQp);
  if (qp == nullptr) return STATUS_INVALID_PARAMETER;
  if (NTSTATUS f = post_fault(qp->adapter(), FaultPoint::Read, qp, "NdkRead"); f != STATUS_SUCCESS)
    return f;
  return qp->post_read(context, sgl, count, address, token, flags);
}

NTSTATUS write(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count, UINT64 address,
               UINT32 token, ULONG flags) {
  Qp* qp = as<Qp>(pub, NdkObjectTypeQp);
  if (qp == nullptr) return STATUS_INVALID_PARAMETER;
  if (NTSTATUS f = post_fault(qp->adapter(), FaultPoint::Write, qp, "NdkWrite"); f != STATUS_SUCCESS)
    return f;
  return qp->post_write(context, sgl, count, address, token, flags);
}

// ---------------------------------------------------------------------------------------------
// Shared endpoint, connector, listener

NTSTATUS shared_endpoint_address(NDK_SHARED_ENDPOINT* pub, PSOCKADDR address, ULONG* length) {
  SharedEndpoint* e = as<SharedEndpoint>(pub, NdkObjectTypeSharedEndpoint);
  if (e == nullptr) return STATUS_INVALID_PARAMETER;
  return e->local_address(address, length);
}

NTSTATUS connect(NDK_CONNECTOR* pub, NDK_QP* qp, const PSOCKADDR source, ULONG source_length,
                 const PSOCKADDR destination, ULONG destination_length, ULONG inbound,
                 ULONG outbound, const PVOID data, ULONG data_length,
                 NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Connector* c = as<Connector>(pub, NdkObjectTypeConnector);
  if (c == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(c->adapter(), FaultPoint::Connect, c, "NdkConnect");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    return request_with_fault(fault, c, completion, context, [&](auto done, void* ctx) {
      return c->connect(as<Qp>(qp, NdkObjectTypeQp), source, source_length, nullptr, destination,
                        destination_length, inbound, outbound, data, data_length, done, ctx);
    });
  });
}

NTSTATUS connect_with_shared_endpoint(NDK_CONNECTOR* pub, NDK_QP* qp,
                                      NDK_SHARED_ENDPOINT* endpoint, const PSOCKADDR destination,
                                      ULONG destination_length, ULONG inbound, ULONG outbound,
                                      const PVOID data, ULONG data_length,
                                      NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Connector* c = as<Connector>(pub, NdkObjectTypeConnector);
  SharedEndpoint* e = as<SharedEndpoint>(endpoint, NdkObjectTypeSharedEndpoint);
  if (c == nullptr || e == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault =
      call_fault(c->adapter(), FaultPoint::Connect, c, "NdkConnectWithSharedEndpoint");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    return request_with_fault(fault, c, completion, context, [&](auto done, void* ctx) {
      return c->connect(as<Qp>(qp, NdkObjectTypeQp), nullptr, 0, e, destination,
                        destination_length, inbound, outbound, data, data_length, done, ctx);
    });
  });
}

NTSTATUS complete_connect(NDK_CONNECTOR* pub, NDK_FN_DISCONNECT_EVENT_CALLBACK event,
                          PVOID event_context, NDK_FN_REQUEST_COMPLETION completion,
                          PVOID context) {
  Connector* c = as<Connector>(pub, NdkObjectTypeConnector);
  if (c == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(c->adapter(), FaultPoint::CompleteConnect, c, "NdkCompleteConnect");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    return request_with_fault(fault, c, completion, context, [&](auto done, void* ctx) {
      return c->complete_connect(event, nullptr, event_context, done, ctx);
    });
  });
}

NTSTATUS complete_connect_ex(NDK_CONNECTOR* pub, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX event,
                             PVOID event_context, NDK_FN_REQUEST_COMPLETION completion,
                             PVOID context) {
  Connector* c = as<Connector>(pub, NdkObjectTypeConnector);
  if (c == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(c->adapter(), FaultPoint::CompleteConnect, c, "NdkCompleteConnectEx");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    return request_with_fault(fault, c, completion, context, [&](auto done, void* ctx) {
      return c->complete_connect(nullptr, event, event_context, done, ctx);
    });
  });
}

NTSTATUS accept(NDK_CONNECTOR* pub, NDK_QP* qp, ULONG inbound, ULONG outbound, const PVOID data,
                ULONG data_length, NDK_FN_DISCONNECT_EVENT_CALLBACK event, PVOID event_context,
                NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Connector* c = as<Connector>(pub, NdkObjectTypeConnector);
  if (c == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(c->adapter(), FaultPoint::Accept, c, "NdkAccept");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    return request_with_fault(fault, c, completion, context, [&](auto done, void* ctx) {
      return c->accept(as<Qp>(qp, NdkObjectTypeQp), inbound, outbound, data, data_length, event,
                       nullptr, event_context, done, ctx);
    });
  });
}

NTSTATUS accept_ex(NDK_CONNECTOR* pub, NDK_QP* qp, ULONG inbound, ULONG outbound,
                   const PVOID data, ULONG data_length, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX event,
                   PVOID event_context, NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Connector* c = as<Connector>(pub, NdkObjectTypeConnector);
  if (c == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(c->adapter(), FaultPoint::Accept, c, "NdkAcceptEx");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    return request_with_fault(fault, c, completion, context, [&](auto done, void* ctx) {
      return c->accept(as<Qp>(qp, NdkObjectTypeQp), inbound, outbound, data, data_length, nullptr,
                       event, event_context, done, ctx);
    });
  });
}

NTSTATUS reject(NDK_CONNECTOR* pub, const PVOID data, ULONG data_length) {
  Connector* c = as<Connector>(pub, NdkObjectTypeConnector);
  if (c == nullptr) return STATUS_INVALID_PARAMETER;
  return guarded([&] { return c->reject(data, data_length); });
}

NTSTATUS connection_data(NDK_CONNECTOR* pub, ULONG* inbound, ULONG* outbound, PVOID data,
                         ULONG* data_length) {
  Connector* c = as<Connector>(pub, NdkObjectTypeConnector);
  if (c == nullptr) return STATUS_INVALID_PARAMETER;
  return c->connection_data(inbound, outbound, data, data_length);
}

NTSTATUS connector_local_address(NDK_CONNECTOR* pub, PSOCKADDR address, ULONG* length) {
  Connector* c = as<Connector>(pub, NdkObjectTypeConnector);
  if (c == nullptr) return STATUS_INVALID_PARAMETER;
  return c->local_address(address, length);
}

NTSTATUS connector_peer_address(NDK_CONNECTOR* pub, PSOCKADDR address, ULONG* length) {
  Connector* c = as<Connector>(pub, NdkObjectTypeConnector);
  if (c == nullptr) return STATUS_INVALID_PARAMETER;
  return c->peer_address(address, length);
}

NTSTATUS disconnect(NDK_CONNECTOR* pub, NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Connector* c = as<Connector>(pub, NdkObjectTypeConnector);
  if (c == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(c->adapter(), FaultPoint::Disconnect, c, "NdkDisconnect");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    return request_with_fault(fault, c, completion, context,
                              [&](auto done, void* ctx) { return c->disconnect(done, ctx); });
  });
}

NTSTATUS listen(NDK_LISTENER* pub, const PSOCKADDR address, ULONG length,
                NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Listener* l = as<Listener>(pub, NdkObjectTypeListener);
  if (l == nullptr) return STATUS_INVALID_PARAMETER;
  CallFault fault = call_fault(l->adapter(), FaultPoint::Listen, l, "NdkListen");
  if (fault.fails()) return fault.status;
  return guarded([&] {
    return request_with_fault(fault, l, completion, context, [&](auto done, void* ctx) {
      return l->listen(address, length, done, ctx);
    });
  });
}

NTSTATUS listener_address(NDK_LISTENER* pub, PSOCKADDR address, ULONG* length) {
  Listener* l = as<Listener>(pub, NdkObjectTypeListener);
  if (l == nullptr) return STATUS_INVALID_PARAMETER;
  return l->local_address(address, length);
}

void control_connect_events(NDK_LISTENER* pub, BOOLEAN pause) {
  Listener* l = as<Listener>(pub, NdkObjectTypeListener);
  if (l != nullptr) l->control(pause != 0);
}

// ---------------------------------------------------------------------------------------------
// The tables (the slot order of the NDK_*_DISPATCH structures; every slot filled)

const NDK_ADAPTER_DISPATCH kAdapter = {
    query_extension, query_adapter_info, create_cq, create_pd, create_shared_endpoint,
    create_connector, create_listener, build_lam, release_lam};
const NDK_CQ_DISPATCH kCq = {close_object,   query_extension,       resize_cq,        arm_cq,
                             get_cq_results, control_cq_moderation, get_cq_results_ex};
const NDK_PD_DISPATCH kPd = {close_object, query_extension, create_mr,          create_mw,
                             create_srq,   create_qp,       create_qp_with_srq, get_privileged_token};
const NDK_MR_DISPATCH kMr = {close_object,
                             query_extension,
                             register_mr,
                             deregister_mr,
                             initialize_fast_register_mr,
                             remote_token_from_mr,
                             local_token_from_mr};
const NDK_MW_DISPATCH kMw = {close_object, query_extension, remote_token_from_mw};
const NDK_SRQ_DISPATCH kSrq = {close_object, query_extension, modify_srq, srq_receive};
const NDK_QP_DISPATCH kQp = {close_object, query_extension, flush, send,  receive,
                             bind,         fast_register,   invalidate, read, write,
                             send_and_invalidate};
const NDK_SHARED_ENDPOINT_DISPATCH kSharedEndpoint = {close_object, query_extension,
                                                      shared_endpoint_address};
const NDK_CONNECTOR_DISPATCH kConnector = {close_object,
                                           query_extension,
                                           connect,
                                           connect_with_shared_endpoint,
                                           complete_connect,
                                           accept,
                                           reject,
                                           connection_data,
                                           connector_local_address,
                                           connector_peer_address,
                                           disconnect,
                                           complete_connect_ex,
                                           accept_ex};
const NDK_LISTENER_DISPATCH kListener = {close_object, query_extension, listen, listener_address,
                                         control_connect_events};

const core::DispatchTables kTables = {&kAdapter,  &kCq, &kPd,             &kMr,
                                      &kMw,       &kSrq, &kQp, &kSharedEndpoint,
                                      &kConnector, &kListener};

}  // namespace

const core::DispatchTables& dispatch_tables() { return kTables; }

}  // namespace softndk::abi
