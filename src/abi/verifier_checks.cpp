// The verifier's work-request rules (abi/verifier.h): limits at post, requests outstanding until
// their completion is retrieved (context reuse, memory in use, buffer checksums), the
// fast-register view of each MR, NDK_OP_FLAG_DEFER batches, and the completions themselves.
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "abi/verifier.h"
#include "core/pd.h"
#include "core/qp.h"
#include "core/sgl.h"
#include "wire/crc32c.h"

namespace softndk::abi {

namespace {

std::string hex(const void* p) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", p);
  return text;
}

bool is_data(NDK_OPERATION_TYPE op) {
  return op == NdkOperationTypeSend || op == NdkOperationTypeWrite ||
         op == NdkOperationTypeRead || op == NdkOperationTypeReceive;
}

// Reads consumer memory without faulting on an unmapped page (process_vm_readv fails with
// EFAULT instead); false when some byte cannot be read.
bool hash_span(const std::byte* data, size_t bytes, uint32_t* state) {
  std::byte chunk[4096];
  while (bytes != 0) {
    size_t n = std::min(bytes, sizeof chunk);
    iovec local{chunk, n};
    iovec remote{const_cast<std::byte*>(data), n};
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (got < 0 && errno == EFAULT) return false;
    if (got < 0) {
      std::memcpy(chunk, data, n);  // not permitted here: read directly
    } else if (static_cast<size_t>(got) != n) {
      return false;
    }
    *state = wire::crc32c_update(*state, std::span<const std::byte>(chunk, n));
    data += n;
    bytes -= n;
  }
  return true;
}

// CRC32C of the bytes a gather list names, resolved through the QP's protection domain.
bool checksum_sges(core::Qp* qp, const std::vector<NDK_SGE>& sges, uint64_t* out) {
  core::Pd* pd = qp->pd();
  core::Adapter* adapter = qp->adapter();
  core::SglCursor cursor;
  cursor.reset(&adapter->stags(), &adapter->lams(), pd, pd->privileged_token(), 0, true,
               sges.data(), static_cast<uint32_t>(sges.size()));
  uint32_t state = wire::kCrc32cInitial;
  for (;;) {
    core::AccessError error;
    std::span<std::byte> span = cursor.next(SIZE_MAX, &error);
    if (error != core::AccessError::None) {
      cursor.release();
      return false;
    }
    if (span.empty()) break;
    if (!hash_span(span.data(), span.size(), &state)) {
      cursor.release();
      return false;
    }
  }
  cursor.release();
  *out = wire::crc32c_finish(state);
  return true;
}

const char* op_call(NDK_OPERATION_TYPE op) {
  switch (op) {
    case NdkOperationTypeSend: return "NdkSend";
    case NdkOperationTypeWrite: return "NdkWrite";
    case NdkOperationTypeRead: return "NdkRead";
    case NdkOperationTypeBind: return "NdkBind";
    case NdkOperationTypeFastRegister: return "NdkFastRegister";
    case NdkOperationTypeInvalidate: return "NdkInvalidate";
    default: return "NdkReceive";
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Posting

NTSTATUS Verifier::check_post(core::Object* owner, const Request& q) {
  ULONG max_sge = 0, inline_bytes = 0;
  const char* limit = "";
  bool reused = false;
  {
    std::lock_guard lock(mutex_);
    Record* r = record_locked(owner);
    // A QP with an SRQ has no receive queue: the core refuses NdkReceive (after_post reports).
    if (r == nullptr || (q.receive && r->srq != nullptr)) return STATUS_SUCCESS;
    if (q.receive) {
      max_sge = r->receive_sge;
      limit = owner->type() == NdkObjectTypeSrq ? "the SRQ's MaxReceiveRequestSge"
                                                : "the QP's MaxReceiveRequestSge";
    } else if (q.op == NdkOperationTypeRead) {
      max_sge = info().MaxReadRequestSge;
      limit = "the adapter's MaxReadRequestSge";
    } else {
      max_sge = r->initiator_sge;
      limit = "the QP's MaxInitiatorRequestSge";
    }
    inline_bytes = r->inline_bytes;
    const std::deque<Outstanding>& queue = q.receive ? r->rq : r->sq;
    reused = q.context != nullptr &&
             std::any_of(queue.begin(), queue.end(),
                         [&](const Outstanding& o) { return o.context == q.context; });
  }
  if (is_data(q.op) && (q.count == 0 || q.sges != nullptr)) {
    uint64_t total = 0;
    for (ULONG i = 0; i < q.count; ++i) total += q.sges[i].Length;
    bool is_inline = (q.flags & NDK_OP_FLAG_INLINE) != 0 &&
                     (q.op == NdkOperationTypeSend || q.op == NdkOperationTypeWrite);
    if (is_inline && total > inline_bytes) {
      return report(SOFTNDK_VERIFY_INLINE_LIMIT, q.call, owner, STATUS_INVALID_BUFFER_SIZE,
                    std::to_string(total) + " inline bytes, the QP was created with " +
                        "InlineDataSize " + std::to_string(inline_bytes));
    }
    if (!is_inline && q.count > max_sge) {
      return report(SOFTNDK_VERIFY_SGE_LIMIT, q.call, owner, STATUS_INVALID_PARAMETER,
                    std::to_string(q.count) + " SGEs, " + limit + " is " +
                        std::to_string(max_sge));
    }
    if (total > info().MaxTransferLength) {
      return report(SOFTNDK_VERIFY_TRANSFER_LIMIT, q.call, owner, STATUS_INVALID_PARAMETER,
                    std::to_string(total) + " bytes, MaxTransferLength is " +
                        std::to_string(info().MaxTransferLength));
    }
  }
  if (reused) {
    report(SOFTNDK_VERIFY_CONTEXT_REUSE, q.call, owner, STATUS_SUCCESS,
           "RequestContext " + hex(q.context) +
               " is already used by a request of this queue whose completion was not "
               "retrieved yet: the two completions cannot be told apart");
  }
  return STATUS_SUCCESS;
}

void Verifier::after_post(core::Object* owner, const Request& q, NTSTATUS status) {
  if (status == STATUS_INSUFFICIENT_RESOURCES) {
    ULONG depth = 0;
    {
      std::lock_guard lock(mutex_);
      if (Record* r = record_locked(owner); r != nullptr)
        depth = q.receive ? (owner->type() == NdkObjectTypeSrq ? r->depth : r->receive_depth)
                          : r->initiator_depth;
    }
    report_failed(SOFTNDK_VERIFY_QUEUE_DEPTH, q.call, owner, status,
                  "the queue already holds its depth (" + std::to_string(depth) +
                      ") of requests whose completions were not retrieved");
  }
  if (q.receive && status == STATUS_INVALID_DEVICE_REQUEST) {
    report_failed(SOFTNDK_VERIFY_CAPABILITY, q.call, owner, status,
                  "the QP was created with NdkCreateQpWithSrq: post its receives to the SRQ "
                  "(NdkSrqReceive)");
  }
  if (!q.receive && status == STATUS_CONNECTION_INVALID && owner->type() == NdkObjectTypeQp) {
    std::string_view state = static_cast<core::Qp*>(owner)->state_name();
    if (state == "idle" || state == "connecting") {
      report_failed(SOFTNDK_VERIFY_NOT_CONNECTED, q.call, owner, status,
                    "initiator request on a QP in state '" + std::string(state) +
                        "': post after NdkCompleteConnect/NdkAccept completed");
    }
  }
  Outstanding o;
  o.context = q.context;
  o.op = q.op;
  o.flags = q.flags;
  bool is_inline = (q.flags & NDK_OP_FLAG_INLINE) != 0 && q.op != NdkOperationTypeRead;
  if (is_data(q.op) && !is_inline && q.sges != nullptr) o.sges.assign(q.sges, q.sges + q.count);
  for (ULONG i = 0; q.pages != nullptr && i < q.page_count; ++i)
    o.pages.push_back(q.pages[i].QuadPart);
  if (status == STATUS_SUCCESS && checksum() && !o.sges.empty() &&
      (q.op == NdkOperationTypeSend || q.op == NdkOperationTypeWrite)) {
    o.checksummed = checksum_sges(static_cast<core::Qp*>(owner), o.sges, &o.checksum);
  }
  std::lock_guard lock(mutex_);
  Record* r = record_locked(owner);
  if (r == nullptr) return;
  if (!q.receive) {
    bool deferred = status == STATUS_SUCCESS && (q.flags & NDK_OP_FLAG_DEFER) != 0;
    if (deferred && !r->defer_open) {
      r->defer_open = true;
      r->defer_reported = false;
      r->defer_thread = thread_token();
      r->defer_at = Backtrace::capture(3);
    } else if (!deferred) {
      r->defer_open = false;  // a request without DEFER, or a failure, ends the batch
    }
  }
  if (status != STATUS_SUCCESS) return;
  o.sequence = ++sequence_;
  o.target = q.target != nullptr ? record_locked(q.target) : nullptr;
  o.bind_mr = q.bind_mr != nullptr ? record_locked(q.bind_mr) : nullptr;
  if (o.target != nullptr && q.op == NdkOperationTypeFastRegister) {
    o.target->fr_valid = true;
    o.target->fr_sequence = o.sequence;
  } else if (o.target != nullptr && q.op == NdkOperationTypeInvalidate) {
    o.target->fr_valid = false;
  } else if (o.target != nullptr && q.op == NdkOperationTypeBind) {
    o.target->bound_mr = o.bind_mr;
  }
  (q.receive ? r->rq : r->sq).push_back(std::move(o));
}

// ---------------------------------------------------------------------------------------------
// Memory

bool Verifier::in_use_locked(const Record* mr, const core::Object* qp, bool fenced,
                             std::string* user) {
  uint32_t index = core::StagTable::index_of(static_cast<core::Mr*>(mr->object)->token());
  for (auto& [object, r] : records_) {
    for (const std::deque<Outstanding>* queue : {&r->sq, &r->rq}) {
      for (const Outstanding& o : *queue) {
        bool uses = o.bind_mr == mr;
        for (const NDK_SGE& sge : o.sges)
          uses = uses || core::StagTable::index_of(sge.MemoryRegionToken) == index;
        if (!uses) continue;
        // The posting QP's own earlier sends and writes execute first; its earlier reads too
        // when the request carries NDK_OP_FLAG_READ_FENCE.
        bool ordered = object == qp && queue == &r->sq &&
                       (o.op != NdkOperationTypeRead || fenced) && o.bind_mr != mr;
        if (ordered) continue;
        *user = std::string("an outstanding ") + op_call(o.op) + " (RequestContext " +
                hex(o.context) + ") of " + (r->type == NdkObjectTypeSrq ? "SRQ " : "QP ") +
                hex(r->object->header()) + " uses it";
        return true;
      }
    }
  }
  return false;
}

NTSTATUS Verifier::check_memory_op(core::Object* qp, const Request& q) {
  if (q.target == nullptr || q.target->type() != NdkObjectTypeMr) return STATUS_SUCCESS;
  auto* mr = static_cast<core::Mr*>(q.target);
  if (q.op == NdkOperationTypeInvalidate && !mr->fast_register()) {
    return report(SOFTNDK_VERIFY_INVALIDATE_REGISTERED_MR, q.call, qp, STATUS_INVALID_PARAMETER,
                  "MR " + hex(mr->header()) +
                      " was registered with NdkRegisterMr: revoke it with NdkDeregisterMr");
  }
  std::string user;
  bool valid = false, used = false;
  {
    std::lock_guard lock(mutex_);
    Record* r = record_locked(mr);
    if (r == nullptr) return STATUS_SUCCESS;
    bool core_valid = adapter_->stags().current(mr->stag_index()) != 0;
    bool fr_pending = false;
    for (auto& [object, other] : records_)
      for (const Outstanding& o : other->sq)
        fr_pending = fr_pending || (o.target == r && o.op == NdkOperationTypeFastRegister);
    valid = r->fr_valid && (core_valid || fr_pending);
    if (q.op == NdkOperationTypeInvalidate)
      used = in_use_locked(r, qp, (q.flags & NDK_OP_FLAG_READ_FENCE) != 0, &user);
  }
  if (q.op == NdkOperationTypeFastRegister && valid) {
    // Strict mode too lets it through: the NDKPI's answer is the request's completion status
    // (STATUS_INVALID_DEVICE_STATE), which the core gives.
    report(SOFTNDK_VERIFY_FAST_REGISTER_VALID_MR, q.call, qp, STATUS_SUCCESS,
           "MR " + hex(mr->header()) +
               " still has a valid registration: invalidate it (NdkInvalidate, or the peer's "
               "NdkSendAndInvalidate) before registering it again; the request completes with "
               "STATUS_INVALID_DEVICE_STATE");
  }
  if (used) {
    return report(SOFTNDK_VERIFY_MEMORY_IN_USE, q.call, qp, STATUS_INVALID_DEVICE_STATE,
                  "invalidating MR " + hex(mr->header()) + " while " + user);
  }
  return STATUS_SUCCESS;
}

NTSTATUS Verifier::check_revoke(const char* call, core::Object* mr, bool closing) {
  std::string user;
  {
    std::lock_guard lock(mutex_);
    Record* r = record_locked(mr);
    if (r == nullptr || !in_use_locked(r, nullptr, false, &user)) return STATUS_SUCCESS;
  }
  return report(SOFTNDK_VERIFY_MEMORY_IN_USE, call, mr,
                closing ? STATUS_SUCCESS : STATUS_INVALID_DEVICE_STATE,
                (closing ? "closing the MR while " : "deregistering the MR while ") + user);
}

// ---------------------------------------------------------------------------------------------
// Completions

void Verifier::complete_receive_locked(Record* qp, const NDK_RESULT_EX& result) {
  std::deque<Outstanding>& rq = qp->srq != nullptr ? qp->srq->rq : qp->rq;
  auto it = std::find_if(rq.begin(), rq.end(), [&](const Outstanding& o) {
    return o.context == result.RequestContext;
  });
  if (it != rq.end()) rq.erase(it);
  if (result.Type != NdkOperationTypeReceiveAndInvalidate || result.Status != STATUS_SUCCESS)
    return;
  for (auto& [object, r] : records_) {
    if (r->type == NdkObjectTypeMr && r->fast && r->life != Record::Life::Retired &&
        static_cast<core::Mr*>(r->object)->token() == result.TypeSpecificCompletionOutput)
      r->fr_valid = false;  // the peer invalidated it
  }
}

void Verifier::complete_initiator_locked(Record* qp, const NDK_RESULT_EX& result,
                                         std::vector<std::string>* modified) {
  // Completions leave in posting order; silent successes before this one finished silently.
  auto it = std::find_if(qp->sq.begin(), qp->sq.end(), [&](const Outstanding& o) {
    return o.context == result.RequestContext && o.op == result.Type;
  });
  if (it == qp->sq.end()) return;
  Outstanding& o = *it;
  if (o.checksummed && qp->life != Record::Life::Retired) {
    uint64_t now = 0;
    bool readable = checksum_sges(static_cast<core::Qp*>(qp->object), o.sges, &now);
    if (!readable || now != o.checksum) {
      modified->push_back(std::string("the gather buffer of ") + op_call(o.op) +
                          " (RequestContext " + hex(o.context) + ") was " +
                          (readable ? "modified" : "freed or unmapped") +
                          " between the post and the retrieval of its completion");
    }
  }
  if (o.target != nullptr && o.op == NdkOperationTypeFastRegister &&
      result.Status != STATUS_SUCCESS && result.Status != STATUS_INVALID_DEVICE_STATE &&
      o.target->fr_sequence == o.sequence)
    o.target->fr_valid = false;  // the registration never happened
  if (o.op == NdkOperationTypeRead && result.Status == STATUS_SUCCESS && !o.sges.empty() &&
      (o.flags & NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE) != 0 &&
      (info().AdapterFlags & NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED) != 0) {
    for (auto& [object, r] : records_)
      if (r->type == NdkObjectTypeMr && r->fast && r->life != Record::Life::Retired &&
          static_cast<core::Mr*>(r->object)->token() == o.sges[0].MemoryRegionToken)
        r->fr_valid = false;
  }
  qp->sq.erase(qp->sq.begin(), it + 1);
}

void Verifier::process_results(core::Object* cq, NDK_RESULT_EX* results, ULONG count,
                               const char* call) {
  std::vector<std::pair<core::Object*, std::string>> findings;
  {
    std::lock_guard lock(mutex_);
    for (ULONG i = 0; i < count; ++i) {
      Record* qp = qp_record_from_context(results[i].QPContext);
      if (qp == nullptr) continue;
      results[i].QPContext = qp->consumer_context;
      if (results[i].Type == NdkOperationTypeReceive ||
          results[i].Type == NdkOperationTypeReceiveAndInvalidate) {
        complete_receive_locked(qp, results[i]);
        continue;
      }
      std::vector<std::string> modified;
      complete_initiator_locked(qp, results[i], &modified);
      for (std::string& m : modified) findings.emplace_back(qp->object, std::move(m));
    }
  }
  for (auto& [object, message] : findings)
    report(SOFTNDK_VERIFY_BUFFER_MODIFIED, call, object, STATUS_SUCCESS, message);
  (void)cq;
}

void Verifier::check_defer(core::Object* cq, core::Object* qp, const char* call) {
  std::vector<std::pair<core::Object*, Backtrace>> open;
  {
    std::lock_guard lock(mutex_);
    Record* cq_record = cq != nullptr ? record_locked(cq) : nullptr;
    for (auto& [object, r] : records_) {
      if (r->type != NdkObjectTypeQp || !r->defer_open || r->defer_reported ||
          r->life == Record::Life::Retired)
        continue;
      bool hit = qp != nullptr ? object == qp
                               : (r->initiator_cq == cq_record && cq_record != nullptr &&
                                  r->defer_thread == thread_token());
      if (!hit) continue;
      r->defer_reported = true;
      open.emplace_back(r->object, r->defer_at);
    }
  }
  for (auto& [object, where] : open) {
    report(SOFTNDK_VERIFY_DEFER_UNFLUSHED, call, object, STATUS_SUCCESS,
           std::string("a batch of NDK_OP_FLAG_DEFER requests was never ended by a request "
                       "without DEFER (detected at ") +
               call +
               "); a provider may hold them back forever. The first deferred request was "
               "posted at the backtrace below",
           &where);
  }
}

}  // namespace softndk::abi
