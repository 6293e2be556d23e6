// Implementation of core/datapath/initiator_queue.h.
#include "core/datapath/initiator_queue.h"

#include <array>
#include <mutex>

#include "core/cq.h"

namespace softndk::core {

namespace {
constexpr std::array<NDK_OPERATION_TYPE, 6> kOperationTypes = {
    NdkOperationTypeSend,         // WrOp::Send
    NdkOperationTypeWrite,        // WrOp::Write
    NdkOperationTypeRead,         // WrOp::Read
    NdkOperationTypeBind,         // WrOp::Bind
    NdkOperationTypeFastRegister, // WrOp::FastRegister
    NdkOperationTypeInvalidate,   // WrOp::Invalidate
};
}  // namespace

NDK_OPERATION_TYPE operation_type(WrOp op) { return kOperationTypes[static_cast<size_t>(op)]; }

InitiatorQueue::InitiatorQueue(uint32_t depth, size_t slot_sges, uint32_t inline_bytes)
    : depth_(depth),
      slots_(std::make_unique<InitiatorWr[]>(depth)),
      sge_storage_(slot_sges * depth),
      inline_storage_(size_t{inline_bytes} * depth) {
  for (size_t i = 0; i < depth_; ++i) {
    slots_[i].sges = &sge_storage_[i * slot_sges];
    slots_[i].inline_data = inline_bytes != 0 ? &inline_storage_[i * inline_bytes] : nullptr;
  }
}

bool InitiatorQueue::full() const {
  return posted_.load(std::memory_order_relaxed) -
             (reaped_.load(std::memory_order_acquire) +
              silent_done_.load(std::memory_order_acquire)) >=
         depth_;
}

void InitiatorQueue::publish(InitiatorWr& wr) {
  wr.done.store(false, std::memory_order_relaxed);
  wr.status = STATUS_SUCCESS;
  wr.provider_error = 0;
  wr.bytes_done = 0;
  // The consumer serializes posts on a queue: a plain store publishes the slot.
  posted_.store(posted_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void InitiatorQueue::finish(InitiatorWr& wr, NTSTATUS status, uint32_t provider_error) {
  if (wr.done.load(std::memory_order_relaxed)) return;
  wr.status = status;
  wr.provider_error = status == STATUS_SUCCESS ? 0 : provider_error;
  wr.done.store(true, std::memory_order_release);
}

bool InitiatorQueue::report_in_order(Cq& cq, void* qp_context) {
  bool cq_ok = true;
  std::lock_guard lock(lock_);
  uint64_t completed = completed_.load(std::memory_order_relaxed);
  uint64_t posted = posted_.load(std::memory_order_acquire);
  while (completed < posted) {
    InitiatorWr& wr = at(completed);
    if (!wr.done.load(std::memory_order_acquire)) break;
    if (wr.status != STATUS_SUCCESS || (wr.flags & NDK_OP_FLAG_SILENT_SUCCESS) == 0) {
      NDK_RESULT_EX r{};
      r.Status = wr.status;
      r.BytesTransferred = static_cast<ULONG>(wr.total_bytes);
      r.QPContext = qp_context;
      r.RequestContext = wr.context;
      r.Type = operation_type(wr.op);
      r.ProviderErrorCode = wr.provider_error;
      if (!cq.push(r, wr.status != STATUS_SUCCESS, &reaped_)) cq_ok = false;
    } else {
      silent_done_.store(silent_done_.load(std::memory_order_relaxed) + 1,
                         std::memory_order_release);
    }
    ++completed;
    completed_.store(completed, std::memory_order_release);
  }
  return cq_ok;
}

void InitiatorQueue::record_blame_locked(const Blame& blame) {
  if (blame.culprit != Culprit::None && blame_.culprit == Culprit::None) blame_ = blame;
}

Blame InitiatorQueue::take_blame_locked() {
  Blame blame = blame_;
  blame_ = Blame{};
  return blame;
}

void InitiatorQueue::charge_locked(uint64_t index, const Blame& blame, bool transmit_only) {
  if (index < completed_.load(std::memory_order_relaxed)) return;
  InitiatorWr& wr = at(index);
  if (wr.done.load(std::memory_order_acquire)) return;
  if (transmit_only && wr.op != WrOp::Send && wr.op != WrOp::Write) return;
  wr.status = blame.status;
  wr.provider_error = blame.provider_error;
  wr.done.store(true, std::memory_order_release);
}

void InitiatorQueue::cancel_unreported_locked(const Blame& blame, const uint64_t* read_index) {
  if (blame.culprit == Culprit::Read && read_index != nullptr) {
    charge_locked(*read_index, blame, false);
  } else if (blame.culprit == Culprit::Transmit && refused_index_ != kNoIndex) {
    // The message whose transmission the link refused (loopback: the peer's verdict is
    // synchronous). A message already handed over completed locally (iWARP semantics): then
    // nothing outstanding is to blame and everything is cancelled.
    charge_locked(refused_index_, blame, true);
  }
  refused_index_ = kNoIndex;
  uint64_t posted = posted_.load(std::memory_order_acquire);
  for (uint64_t i = completed_.load(std::memory_order_relaxed); i < posted; ++i) {
    InitiatorWr& wr = at(i);
    if (!wr.done.load(std::memory_order_acquire) || wr.status == STATUS_SUCCESS) {
      wr.status = STATUS_CANCELLED;
      wr.provider_error = 0;
      wr.done.store(true, std::memory_order_release);
    }
  }
}

}  // namespace softndk::core
