// Implementation of core/datapath/receive_queue.h.
#include "core/datapath/receive_queue.h"

#include <algorithm>

namespace softndk::core {

ReceiveQueue::ReceiveQueue(uint32_t depth, uint32_t max_sge)
    : depth_(depth), ring_(depth), sge_storage_(size_t{std::max<uint32_t>(max_sge, 1)} * depth) {
  const size_t per_slot = std::max<uint32_t>(max_sge, 1);
  for (size_t i = 0; i < ring_.size(); ++i) ring_[i].sges = &sge_storage_[i * per_slot];
}

NTSTATUS ReceiveQueue::post(void* context, const NDK_SGE* sges, ULONG count, uint64_t capacity) {
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  if (tail - reaped_.load(std::memory_order_acquire) >= depth_)
    return STATUS_INSUFFICIENT_RESOURCES;
  ReceiveWr& wr = ring_[tail % ring_.size()];
  wr.context = context;
  wr.sge_count = count;
  wr.capacity = capacity;
  std::copy(sges, sges + count, wr.sges);
  tail_.store(tail + 1, std::memory_order_seq_cst);
  return STATUS_SUCCESS;
}

bool ReceiveQueue::take_locked(ReceiveWr* out, NDK_SGE* sge_buffer) {
  if (closed_.load(std::memory_order_relaxed) || head_ == tail_.load(std::memory_order_acquire))
    return false;
  const ReceiveWr& wr = ring_[head_ % ring_.size()];
  out->context = wr.context;
  out->sge_count = wr.sge_count;
  out->capacity = wr.capacity;
  out->sges = sge_buffer;
  std::copy(wr.sges, wr.sges + wr.sge_count, sge_buffer);
  ++head_;
  return true;
}

}  // namespace softndk::core
