// The verified CQ, PD, MR, MW and SRQ slots (abi/verifier_slots.h).
#include "abi/verifier_slots.h"
#include "core/adapter.h"
#include "core/pd.h"

namespace softndk::abi::verified {

namespace {

NTSTATUS capability(Entry& e, bool supported, const char* call, const char* flag) {
  if (supported) return STATUS_SUCCESS;
  return e.verifier->report(SOFTNDK_VERIFY_CAPABILITY, call, e.object, STATUS_NOT_SUPPORTED,
                            std::string("the adapter does not report ") + flag +
                                ": the consumer must not call " + call);
}

NTSTATUS limit(Entry& e, bool within, const char* call, const std::string& what) {
  if (within) return STATUS_SUCCESS;
  return e.verifier->report(SOFTNDK_VERIFY_CREATE_LIMIT, call, e.object,
                            STATUS_INVALID_PARAMETER, what);
}

std::string over(const char* name, ULONG value, const char* limit_name, ULONG limit_value) {
  return std::string(name) + " " + std::to_string(value) + " is above " + limit_name + " (" +
         std::to_string(limit_value) + ")";
}

// The CQ may now overrun: the depths of the queues completing into it exceed its depth.
void check_cq_load(Verifier* v, Object* cq, const char* call, Object* at) {  // `at`: the CQ
  uint64_t load = 0;
  ULONG depth = 0;
  {
    std::lock_guard lock(v->mutex());
    Record* r = v->record_locked(cq);
    if (r == nullptr) return;
    load = v->cq_load_locked(r);
    depth = r->depth;
  }
  if (load <= depth) return;
  v->report(SOFTNDK_VERIFY_CQ_OVERRUN_RISK, call, at, STATUS_SUCCESS,
            "the CQ holds " + std::to_string(depth) + " completions but its queues can have " +
                std::to_string(load) +
                " outstanding: a burst overruns it, which kills the CQ and its QPs");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// CQ

NTSTATUS resize_cq(NDK_CQ* pub, ULONG depth, NDK_FN_REQUEST_COMPLETION completion,
                   PVOID context) {
  Entry e = enter(pub, NdkObjectTypeCq, "NdkResizeCq");
  if (e.object == nullptr) return e.status;
  const NDK_ADAPTER_INFO& info = e.verifier->info();
  NTSTATUS s = capability(e, (info.AdapterFlags & NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED) != 0,
                          "NdkResizeCq", "NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED");
  if (s == STATUS_SUCCESS)
    s = limit(e, depth != 0 && depth <= info.MaxCqDepth, "NdkResizeCq",
              over("CqDepth", depth, "MaxCqDepth", info.MaxCqDepth));
  if (s != STATUS_SUCCESS) return s;
  s = plain().cq->NdkResizeCq(pub, depth, completion, context);
  if (s == STATUS_SUCCESS || s == STATUS_PENDING) {
    {
      std::lock_guard lock(e.verifier->mutex());
      if (Record* r = e.verifier->record_locked(e.object); r != nullptr) r->depth = depth;
    }
    check_cq_load(e.verifier, e.object, "NdkResizeCq", e.object);
  }
  return s;
}

void arm_cq(NDK_CQ* pub, ULONG type) {
  Entry e = enter(pub, NdkObjectTypeCq, "NdkArmCq");
  if (e.object == nullptr) return;
  Record* r = record(e.verifier, e.object);
  if (r == nullptr) return plain().cq->NdkArmCq(pub, type);
  Guard guard(&r->cq_guard, e.verifier, e.object, SOFTNDK_VERIFY_CONCURRENT_CQ, "NdkArmCq",
              kSecondPoller);
  if (guard.status() != STATUS_SUCCESS) return;
  e.verifier->check_defer(e.object, nullptr, "NdkArmCq");
  plain().cq->NdkArmCq(pub, type);
}

ULONG get_cq_results_ex(NDK_CQ* pub, NDK_RESULT_EX results[], ULONG count) {
  Entry e = enter(pub, NdkObjectTypeCq, "NdkGetCqResultsEx");
  if (e.object == nullptr) return 0;
  Record* r = record(e.verifier, e.object);
  if (r == nullptr) return 0;
  Guard guard(&r->cq_guard, e.verifier, e.object, SOFTNDK_VERIFY_CONCURRENT_CQ,
              "NdkGetCqResultsEx", kSecondPoller);
  if (guard.status() != STATUS_SUCCESS) return 0;
  e.verifier->check_defer(e.object, nullptr, "NdkGetCqResultsEx");
  ULONG n = plain().cq->NdkGetCqResultsEx(pub, results, count);
  e.verifier->process_results(e.object, results, n, "NdkGetCqResultsEx");
  return n;
}

ULONG get_cq_results(NDK_CQ* pub, NDK_RESULT results[], ULONG count) {
  Entry e = enter(pub, NdkObjectTypeCq, "NdkGetCqResults");
  if (e.object == nullptr) return 0;
  Record* r = record(e.verifier, e.object);
  if (r == nullptr || results == nullptr) return 0;
  Guard guard(&r->cq_guard, e.verifier, e.object, SOFTNDK_VERIFY_CONCURRENT_CQ,
              "NdkGetCqResults", kSecondPoller);
  if (guard.status() != STATUS_SUCCESS) return 0;
  e.verifier->check_defer(e.object, nullptr, "NdkGetCqResults");
  // Polled as NDK_RESULT_EX so that the verifier sees each completion's type.
  ULONG done = 0;
  while (done < count) {
    NDK_RESULT_EX chunk[32];
    ULONG want = std::min<ULONG>(count - done, 32);
    ULONG n = plain().cq->NdkGetCqResultsEx(pub, chunk, want);
    e.verifier->process_results(e.object, chunk, n, "NdkGetCqResults");
    for (ULONG i = 0; i < n; ++i) std::memcpy(&results[done + i], &chunk[i], sizeof(NDK_RESULT));
    done += n;
    if (n < want) break;
  }
  return done;
}

NTSTATUS control_cq_moderation(NDK_CQ* pub, ULONG interval, ULONG count) {
  Entry e = enter(pub, NdkObjectTypeCq, "NdkControlCqInterruptModeration");
  if (e.object == nullptr) return e.status;
  NTSTATUS s = capability(
      e, (e.verifier->info().AdapterFlags & NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED),
      "NdkControlCqInterruptModeration", "NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED");
  if (s != STATUS_SUCCESS) return s;
  Record* r = record(e.verifier, e.object);
  if (r == nullptr) return plain().cq->NdkControlCqInterruptModeration(pub, interval, count);
  Guard guard(&r->moderation_guard, e.verifier, e.object, SOFTNDK_VERIFY_CONCURRENT_CQ,
              "NdkControlCqInterruptModeration",
              "another thread is in NdkControlCqInterruptModeration on this CQ");
  if (guard.status() != STATUS_SUCCESS) return guard.status();
  return plain().cq->NdkControlCqInterruptModeration(pub, interval, count);
}

// ---------------------------------------------------------------------------------------------
// PD

NTSTATUS create_mr(NDK_PD* pub, BOOLEAN fast, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                   NDK_MR** out) {
  Entry e = enter(pub, NdkObjectTypePd, "NdkCreateMr");
  if (e.object == nullptr) return e.status;
  auto* pending = new Record;
  pending->type = NdkObjectTypeMr;
  pending->parent = record(e.verifier, e.object);
  pending->fast = fast != 0;
  return create_with(pending, out,
                     [&] { return plain().pd->NdkCreateMr(pub, fast, completion, context, out); });
}

NTSTATUS create_mw(NDK_PD* pub, NDK_FN_CREATE_COMPLETION completion, PVOID context, NDK_MW** out) {
  Entry e = enter(pub, NdkObjectTypePd, "NdkCreateMw");
  if (e.object == nullptr) return e.status;
  auto* pending = new Record;
  pending->type = NdkObjectTypeMw;
  pending->parent = record(e.verifier, e.object);
  return create_with(pending, out,
                     [&] { return plain().pd->NdkCreateMw(pub, completion, context, out); });
}

NTSTATUS create_srq(NDK_PD* pub, ULONG depth, ULONG max_sge, ULONG threshold,
                    NDK_FN_SRQ_NOTIFICATION_CALLBACK notify, PVOID notify_context,
                    GROUP_AFFINITY* affinity, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                    NDK_SRQ** out) {
  Entry e = enter(pub, NdkObjectTypePd, "NdkCreateSrq");
  if (e.object == nullptr) return e.status;
  const NDK_ADAPTER_INFO& info = e.verifier->info();
  NTSTATUS s = capability(e, info.MaxSrqDepth != 0, "NdkCreateSrq", "SRQs (MaxSrqDepth is 0)");
  if (s == STATUS_SUCCESS)
    s = limit(e, depth != 0 && depth <= info.MaxSrqDepth, "NdkCreateSrq",
              over("SrqDepth", depth, "MaxSrqDepth", info.MaxSrqDepth));
  if (s == STATUS_SUCCESS)
    s = limit(e, max_sge != 0 && max_sge <= info.MaxReceiveRequestSge, "NdkCreateSrq",
              over("MaxReceiveRequestSge", max_sge, "the adapter's MaxReceiveRequestSge",
                   info.MaxReceiveRequestSge));
  if (s != STATUS_SUCCESS) return s;
  auto* pending = new Record;
  pending->type = NdkObjectTypeSrq;
  pending->parent = record(e.verifier, e.object);
  pending->depth = depth;
  pending->receive_sge = max_sge;
  return create_with(pending, out, [&] {
    return plain().pd->NdkCreateSrq(pub, depth, max_sge, threshold, notify, notify_context,
                                    affinity, completion, context, out);
  });
}

namespace {

// The sizes NdkCreateQp(WithSrq) asks for, against NDK_ADAPTER_INFO.
NTSTATUS check_qp_sizes(Entry& e, const char* call, const Record& q, bool with_srq) {
  const NDK_ADAPTER_INFO& i = e.verifier->info();
  NTSTATUS s = STATUS_SUCCESS;
  if (!with_srq) {
    s = limit(e, q.receive_depth != 0 && q.receive_depth <= i.MaxReceiveQueueDepth, call,
              over("ReceiveQueueDepth", q.receive_depth, "MaxReceiveQueueDepth",
                   i.MaxReceiveQueueDepth));
    if (s == STATUS_SUCCESS)
      s = limit(e, q.receive_sge <= i.MaxReceiveRequestSge, call,
                over("MaxReceiveRequestSge", q.receive_sge, "the adapter's",
                     i.MaxReceiveRequestSge));
  }
  if (s == STATUS_SUCCESS)
    s = limit(e, q.initiator_depth != 0 && q.initiator_depth <= i.MaxInitiatorQueueDepth, call,
              over("InitiatorQueueDepth", q.initiator_depth, "MaxInitiatorQueueDepth",
                   i.MaxInitiatorQueueDepth));
  if (s == STATUS_SUCCESS)
    s = limit(e, q.initiator_sge <= i.MaxInitiatorRequestSge, call,
              over("MaxInitiatorRequestSge", q.initiator_sge, "the adapter's",
                   i.MaxInitiatorRequestSge));
  if (s == STATUS_SUCCESS)
    s = limit(e, q.inline_bytes <= i.MaxInlineDataSize, call,
              over("InlineDataSize", q.inline_bytes, "MaxInlineDataSize", i.MaxInlineDataSize));
  return s;
}

NTSTATUS create_qp_checked(Entry& e, const char* call, NDK_CQ* rcq, NDK_CQ* icq, Record* q,
                           NDK_QP** out, const std::function<NTSTATUS(void*)>& create) {
  NTSTATUS s = check_argument(e.verifier, rcq, NdkObjectTypeCq, call);
  if (s == STATUS_SUCCESS) s = check_argument(e.verifier, icq, NdkObjectTypeCq, call);
  if (s == STATUS_SUCCESS) s = check_qp_sizes(e, call, *q, q->srq != nullptr);
  if (s != STATUS_SUCCESS) {
    delete q;
    return s;
  }
  auto* rcq_object = Object::from_header(reinterpret_cast<NDK_OBJECT_HEADER*>(rcq),
                                         NdkObjectTypeCq);
  auto* icq_object = Object::from_header(reinterpret_cast<NDK_OBJECT_HEADER*>(icq),
                                         NdkObjectTypeCq);
  q->receive_cq = record(e.verifier, rcq_object);
  q->initiator_cq = record(e.verifier, icq_object);
  q->parent = record(e.verifier, e.object);
  s = create_with(q, out, [&] { return create(q); });  // the QP's context is its record
  if (s != STATUS_SUCCESS && s != STATUS_PENDING) return s;
  if (rcq_object != nullptr) check_cq_load(e.verifier, rcq_object, call, rcq_object);
  if (icq_object != nullptr && icq_object != rcq_object)
    check_cq_load(e.verifier, icq_object, call, icq_object);
  return s;
}

}  // namespace

NTSTATUS create_qp(NDK_PD* pub, NDK_CQ* rcq, NDK_CQ* icq, PVOID qp_context, ULONG receive_depth,
                   ULONG initiator_depth, ULONG receive_sge, ULONG initiator_sge,
                   ULONG inline_bytes, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                   NDK_QP** out) {
  Entry e = enter(pub, NdkObjectTypePd, "NdkCreateQp");
  if (e.object == nullptr) return e.status;
  auto* q = new Record;
  q->type = NdkObjectTypeQp;
  q->consumer_context = qp_context;
  q->receive_depth = receive_depth;
  q->initiator_depth = initiator_depth;
  q->receive_sge = receive_sge;
  q->initiator_sge = initiator_sge;
  q->inline_bytes = inline_bytes;
  return create_qp_checked(e, "NdkCreateQp", rcq, icq, q, out, [&](void* qp_record) {
    return plain().pd->NdkCreateQp(pub, rcq, icq, qp_record, receive_depth, initiator_depth,
                                   receive_sge, initiator_sge, inline_bytes, completion,
                                   context, out);
  });
}

NTSTATUS create_qp_with_srq(NDK_PD* pub, NDK_CQ* rcq, NDK_CQ* icq, NDK_SRQ* srq,
                            PVOID qp_context, ULONG initiator_depth, ULONG initiator_sge,
                            ULONG inline_bytes, NDK_FN_CREATE_COMPLETION completion,
                            PVOID context, NDK_QP** out) {
  Entry e = enter(pub, NdkObjectTypePd, "NdkCreateQpWithSrq");
  if (e.object == nullptr) return e.status;
  NTSTATUS s = check_argument(e.verifier, srq, NdkObjectTypeSrq, "NdkCreateQpWithSrq");
  if (s != STATUS_SUCCESS) return s;
  Object* srq_object = Object::from_header(reinterpret_cast<NDK_OBJECT_HEADER*>(srq),
                                           NdkObjectTypeSrq);
  auto* q = new Record;
  q->type = NdkObjectTypeQp;
  q->consumer_context = qp_context;
  q->srq = record(e.verifier, srq_object);
  q->initiator_depth = initiator_depth;
  q->initiator_sge = initiator_sge;
  q->inline_bytes = inline_bytes;
  if (q->srq == nullptr) {
    delete q;
    return plain().pd->NdkCreateQpWithSrq(pub, rcq, icq, srq, qp_context, initiator_depth,
                                          initiator_sge, inline_bytes, completion, context, out);
  }
  return create_qp_checked(e, "NdkCreateQpWithSrq", rcq, icq, q, out, [&](void* qp_record) {
    return plain().pd->NdkCreateQpWithSrq(pub, rcq, icq, srq, qp_record, initiator_depth,
                                          initiator_sge, inline_bytes, completion, context, out);
  });
}

void get_privileged_token(NDK_PD* pub, UINT32* token) {
  Entry e = enter(pub, NdkObjectTypePd, "NdkGetPrivilegedMemoryRegionToken");
  if (e.object != nullptr) plain().pd->NdkGetPrivilegedMemoryRegionToken(pub, token);
}

// ---------------------------------------------------------------------------------------------
// MR, MW

NTSTATUS register_mr(NDK_MR* pub, MDL* mdl, SIZE_T length, ULONG flags,
                     NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Entry e = enter(pub, NdkObjectTypeMr, "NdkRegisterMr");
  if (e.object == nullptr) return e.status;
  return plain().mr->NdkRegisterMr(pub, mdl, length, flags, completion, context);
}

NTSTATUS deregister_mr(NDK_MR* pub, NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Entry e = enter(pub, NdkObjectTypeMr, "NdkDeregisterMr");
  if (e.object == nullptr) return e.status;
  NTSTATUS s = e.verifier->check_revoke("NdkDeregisterMr", e.object, false);
  if (s != STATUS_SUCCESS) return s;
  return plain().mr->NdkDeregisterMr(pub, completion, context);
}

NTSTATUS initialize_fast_register_mr(NDK_MR* pub, ULONG pages, BOOLEAN remote,
                                     NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Entry e = enter(pub, NdkObjectTypeMr, "NdkInitializeFastRegisterMr");
  if (e.object == nullptr) return e.status;
  uint32_t max = e.verifier->adapter()->config().max_frmr_pages;
  if (pages == 0 || pages > max) {
    NTSTATUS s = e.verifier->report(
        SOFTNDK_VERIFY_CREATE_LIMIT, "NdkInitializeFastRegisterMr", e.object,
        STATUS_IMPLEMENTATION_LIMIT,
        "AdapterPageCount " + std::to_string(pages) + " is outside the adapter's 1.." +
            std::to_string(max) + " (FRMRPageCount " +
            std::to_string(e.verifier->info().FRMRPageCount) + ")");
    if (s != STATUS_SUCCESS) return s;
  }
  NTSTATUS s = plain().mr->NdkInitializeFastRegisterMr(pub, pages, remote, completion, context);
  if (s == STATUS_SUCCESS || s == STATUS_PENDING) {
    std::lock_guard lock(e.verifier->mutex());
    if (Record* r = e.verifier->record_locked(e.object); r != nullptr) r->fr_valid = false;
  }
  return s;
}

UINT32 remote_token_from_mr(NDK_MR* pub) {
  Entry e = enter(pub, NdkObjectTypeMr, "NdkGetRemoteTokenFromMr");
  return e.object == nullptr ? 0 : plain().mr->NdkGetRemoteTokenFromMr(pub);
}

UINT32 local_token_from_mr(NDK_MR* pub) {
  Entry e = enter(pub, NdkObjectTypeMr, "NdkGetLocalTokenFromMr");
  return e.object == nullptr ? 0 : plain().mr->NdkGetLocalTokenFromMr(pub);
}

UINT32 remote_token_from_mw(NDK_MW* pub) {
  Entry e = enter(pub, NdkObjectTypeMw, "NdkGetRemoteTokenFromMw");
  return e.object == nullptr ? 0 : plain().mw->NdkGetRemoteTokenFromMw(pub);
}

// ---------------------------------------------------------------------------------------------
// SRQ

NTSTATUS modify_srq(NDK_SRQ* pub, ULONG depth, ULONG threshold,
                    NDK_FN_REQUEST_COMPLETION completion, PVOID context) {
  Entry e = enter(pub, NdkObjectTypeSrq, "NdkModifySrq");
  if (e.object == nullptr) return e.status;
  ULONG max = e.verifier->info().MaxSrqDepth;
  NTSTATUS s = limit(e, depth <= max, "NdkModifySrq", over("SrqDepth", depth, "MaxSrqDepth", max));
  if (s != STATUS_SUCCESS) return s;
  s = plain().srq->NdkModifySrq(pub, depth, threshold, completion, context);
  if ((s == STATUS_SUCCESS || s == STATUS_PENDING) && depth != 0) {
    std::lock_guard lock(e.verifier->mutex());
    if (Record* r = e.verifier->record_locked(e.object); r != nullptr) r->depth = depth;
  }
  return s;
}

NTSTATUS srq_receive(NDK_SRQ* pub, PVOID context, const NDK_SGE* sgl, ULONG count) {
  Entry e = enter(pub, NdkObjectTypeSrq, "NdkSrqReceive");
  if (e.object == nullptr) return e.status;
  Record* r = record(e.verifier, e.object);
  if (r == nullptr) return plain().srq->NdkSrqReceive(pub, context, sgl, count);
  Guard guard(&r->receive_guard, e.verifier, e.object, SOFTNDK_VERIFY_CONCURRENT_POST,
              "NdkSrqReceive", kSecondPoster);
  if (guard.status() != STATUS_SUCCESS) return guard.status();
  Verifier::Request q{"NdkSrqReceive", NdkOperationTypeReceive, context, sgl, count, 0, true};
  NTSTATUS s = e.verifier->check_post(e.object, q);
  if (s != STATUS_SUCCESS) return s;
  s = plain().srq->NdkSrqReceive(pub, context, sgl, count);
  e.verifier->after_post(e.object, q, s);
  return s;
}

}  // namespace softndk::abi::verified
