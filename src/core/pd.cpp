// Implementation of core/pd.h.
#include "core/pd.h"

#include <algorithm>

namespace softndk::core {

// ---------------------------------------------------------------------------------------------
// Pd

Pd::Pd(Adapter* adapter) : Object(adapter, NdkObjectTypePd, adapter->tables().pd) {
  StagTable& stags = adapter->stags();
  privileged_index_ = stags.allocate(StagKind::Privileged);
  privileged_token_ = privileged_index_ != 0 ? stags.fresh_stag(privileged_index_) : 0;
  // The privileged token is never published: it can never be used remotely, and local use
  // goes through the logical-address table instead of the STag table.
}

void Pd::on_destroy() {
  if (privileged_index_ != 0) adapter()->stags().free(privileged_index_);
}

// ---------------------------------------------------------------------------------------------
// Mr

Mr::Mr(Pd* pd, bool fast_register, uint32_t stag_index)
    : Object(pd->adapter(), NdkObjectTypeMr, pd->adapter()->tables().mr),
      pd_(pd),
      fast_(fast_register),
      stag_index_(stag_index) {
  pd_->add_ref();
}

NTSTATUS Mr::register_memory(MDL* mdl, SIZE_T length, ULONG flags,
                             NDK_FN_REQUEST_COMPLETION completion, void* context) {
  if (fast_ || state() != State::Created) return STATUS_INVALID_DEVICE_STATE;
  constexpr ULONG kKnown = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                           NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;
  if ((flags & ~kKnown) != 0) return STATUS_INVALID_PARAMETER;
  if (length == 0 || length > adapter()->info().MaxRegistrationSize)
    return STATUS_INVALID_PARAMETER;
  std::byte* start = contiguous_start(mdl, length);
  if (start == nullptr) return STATUS_INVALID_PARAMETER;
  RegionDescriptor region;
  region.kind = StagKind::Mr;
  region.pd = pd_;
  region.access = flags & kKnown;
  if ((flags & 0x4) != 0) region.access |= kAccessLocalWrite;  // remote write implies local
  region.base = reinterpret_cast<uintptr_t>(start);
  region.length = length;
  region.mapping.host_base = start;
  uint32_t stag = adapter()->stags().fresh_stag(stag_index_);
  if (!adapter()->stags().publish(stag, region)) return STATUS_INVALID_DEVICE_STATE;
  base_ = region.base;
  length_ = length;
  access_ = region.access;
  token_.store(stag, std::memory_order_release);
  state_.store(State::Registered, std::memory_order_release);
  return adapter()->finish_request(this, STATUS_SUCCESS, completion, context);
}

NTSTATUS Mr::deregister(NDK_FN_REQUEST_COMPLETION completion, void* context) {
  if (fast_ || state() != State::Registered) return STATUS_INVALID_DEVICE_STATE;
  adapter()->stags().invalidate(token());  // waits for leases in progress
  state_.store(State::Created, std::memory_order_release);
  return adapter()->finish_request(this, STATUS_SUCCESS, completion, context);
}

NTSTATUS Mr::initialize_fast(ULONG page_count, bool remote_access,
                             NDK_FN_REQUEST_COMPLETION completion, void* context) {
  if (!fast_) return STATUS_INVALID_DEVICE_STATE;
  // Re-initialization is allowed while no registration is valid.
  if (adapter()->stags().current(stag_index_) != 0) return STATUS_INVALID_DEVICE_STATE;
  if (page_count == 0 || page_count > adapter()->config().max_frmr_pages)
    return STATUS_IMPLEMENTATION_LIMIT;
  max_pages_ = page_count;
  remote_access_ = remote_access;
  pages_.assign(page_count, nullptr);
  token_.store(adapter()->stags().fresh_stag(stag_index_), std::memory_order_release);
  state_.store(State::FastInitialized, std::memory_order_release);
  return adapter()->finish_request(this, STATUS_SUCCESS, completion, context);
}

uint32_t Mr::next_fast_token() {
  uint32_t stag = adapter()->stags().fresh_stag(stag_index_);
  token_.store(stag, std::memory_order_release);
  return stag;
}

void Mr::on_close() {
  // Closing a registered MR deregisters it (docs/architecture.md, interpretations).
  adapter()->stags().invalidate(token());
}

void Mr::on_destroy() {
  adapter()->stags().free(stag_index_);
  pd_->release();
}

// ---------------------------------------------------------------------------------------------
// Mw

Mw::Mw(Pd* pd, uint32_t stag_index)
    : Object(pd->adapter(), NdkObjectTypeMw, pd->adapter()->tables().mw),
      pd_(pd),
      stag_index_(stag_index) {
  pd_->add_ref();
}

uint32_t Mw::prepare_bind(Mr* mr) {
  {
    std::lock_guard lock(mr_mutex_);
    if (bound_mr_ != mr) {
      mr->add_ref();  // the MR is the window's antecedent from now on ("NDKPI Object Lifetime Requirements")
      if (bound_mr_ != nullptr) bound_mr_->release();
      bound_mr_ = mr;
    }
  }
  uint32_t stag = adapter()->stags().fresh_stag(stag_index_);
  token_.store(stag, std::memory_order_release);
  return stag;
}

void Mw::on_destroy() {
  adapter()->stags().free(stag_index_);
  if (bound_mr_ != nullptr) bound_mr_->release();
  pd_->release();
}

// ---------------------------------------------------------------------------------------------
// Srq

Srq::Srq(Pd* pd, ULONG depth, ULONG max_sge, ULONG threshold,
         NDK_FN_SRQ_NOTIFICATION_CALLBACK cb, void* context)
    : Object(pd->adapter(), NdkObjectTypeSrq, pd->adapter()->tables().srq),
      pd_(pd),
      depth_(depth),
      max_sge_(max_sge),
      ring_(pd->adapter()->info().MaxSrqDepth),
      sge_storage_(size_t{pd->adapter()->info().MaxSrqDepth} * std::max<ULONG>(max_sge, 1)),
      threshold_(threshold),
      armed_(cb != nullptr && threshold > 0),
      callback_(cb),
      callback_context_(context) {
  pd_->add_ref();
  notify_task_.run = &Srq::run_notification;
  notify_task_.srq = this;
  for (size_t i = 0; i < ring_.size(); ++i) ring_[i].sges = &sge_storage_[i * std::max<ULONG>(max_sge, 1)];
}

NTSTATUS Srq::create(Pd* pd, ULONG depth, ULONG max_sge, ULONG threshold,
                     NDK_FN_SRQ_NOTIFICATION_CALLBACK callback, void* context, Srq** out) {
  const NDK_ADAPTER_INFO& info = pd->adapter()->info();
  if (info.MaxSrqDepth == 0) return STATUS_NOT_SUPPORTED;
  if (depth == 0 || depth > info.MaxSrqDepth || max_sge == 0 ||
      max_sge > info.MaxReceiveRequestSge)
    return STATUS_INVALID_PARAMETER;
  *out = new Srq(pd, depth, max_sge, threshold, callback, context);
  return STATUS_SUCCESS;
}

NTSTATUS Srq::post(void* context, const NDK_SGE* sges, ULONG count) {
  if (count > max_sge_ || (count != 0 && sges == nullptr)) return STATUS_INVALID_PARAMETER;
  uint64_t capacity = 0;
  for (ULONG i = 0; i < count; ++i) capacity += sges[i].Length;
  if (capacity > pd_->adapter()->info().MaxTransferLength) return STATUS_INVALID_PARAMETER;
  std::lock_guard lock(lock_);
  if (failed_.load(std::memory_order_relaxed)) return STATUS_INVALID_DEVICE_STATE;
  if (tail_ - head_ >= depth_) return STATUS_INSUFFICIENT_RESOURCES;
  ReceiveWr& wr = ring_[tail_ % ring_.size()];
  wr.context = context;
  wr.sge_count = count;
  wr.capacity = capacity;
  std::copy(sges, sges + count, wr.sges);
  ++tail_;
  return STATUS_SUCCESS;
}

bool Srq::take(ReceiveWr* out, NDK_SGE* sge_buffer) {
  std::lock_guard lock(lock_);
  if (head_ == tail_ || failed_.load(std::memory_order_relaxed)) return false;
  if (adapter()->faults() != nullptr && error_fault_locked()) [[unlikely]]
    return false;
  const ReceiveWr& wr = ring_[head_ % ring_.size()];
  out->context = wr.context;
  out->sge_count = wr.sge_count;
  out->capacity = wr.capacity;
  out->sges = sge_buffer;
  std::copy(wr.sges, wr.sges + wr.sge_count, sge_buffer);
  ++head_;
  if (armed_ && tail_ - head_ < threshold_) {
    armed_ = false;
    schedule_locked();
  }
  return true;
}

NTSTATUS Srq::modify(ULONG depth, ULONG threshold, NDK_FN_REQUEST_COMPLETION completion,
                     void* context) {
  {
    std::lock_guard lock(lock_);
    if (failed_.load(std::memory_order_relaxed)) return STATUS_INVALID_DEVICE_STATE;
    if (depth != 0) {
      if (depth > pd_->adapter()->info().MaxSrqDepth || depth < tail_ - head_)
        return STATUS_INVALID_PARAMETER;
      depth_ = depth;
    }
    if (threshold != 0) {
      threshold_ = threshold;
      armed_ = callback_ != nullptr;
      if (armed_ && tail_ - head_ < threshold_) {
        armed_ = false;
        schedule_locked();  // already below: notify promptly, on the event thread
      }
    }
  }
  return pd_->adapter()->finish_request(this, STATUS_SUCCESS, completion, context);
}

bool Srq::error_fault_locked() {
  FaultAction action;
  if (!adapter()->faults()->fire(FaultPoint::SrqError, this, "NdkSrqReceive taken", &action))
    return false;
  // NDK_FN_SRQ_NOTIFICATION_CALLBACK: after a fatal error neither the SRQ nor its queue pairs
  // can be used and nothing more completes. The consumer hears it through the notification
  // callback whether or not a threshold is armed; the queued receives are never completed; the
  // queue pairs learn it at their next post or incoming Send.
  failed_.store(true, std::memory_order_release);
  armed_ = false;
  if (callback_ != nullptr) schedule_locked(STATUS_INTERNAL_ERROR);
  return true;
}

void Srq::schedule_locked(NTSTATUS status) {
  // A queued threshold notification becomes the error's (one callback; the error wins).
  if (status != STATUS_SUCCESS) notify_status_ = status;
  if (adapter()->dispatcher().post_task(&notify_task_)) add_ref();
}

void Srq::run_notification(Task* task) {
  Srq* srq = static_cast<NotifyTask*>(task)->srq;
  NTSTATUS status;
  {
    std::lock_guard lock(srq->lock_);
    status = srq->notify_status_;
  }
  if (!srq->closing()) srq->callback_(srq->callback_context_, status);
  srq->release();
}

void Srq::on_destroy() {
  // Receives still queued here belong to no queue pair any more (every QP using this SRQ is
  // closed before the SRQ's close completes), so there is no CQ to report them to.
  pd_->release();
}

}  // namespace softndk::core
