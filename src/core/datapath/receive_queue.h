// A queue pair's own receive queue (NdkReceive; unused with an SRQ, where it stays empty but
// still provides the receive path's lock and closed flag).
//
// Indices: tail_ is written by the consumer's posting thread (one producer per queue, no lock,
// its own cache line; the release publishes the slot); head_ is taken by the receive path and
// by flushes under lock_; reaped_ is written by the receive CQ's poller when the consumer
// retrieves the completion, which is when the slot is free again. closed_ is set under lock_
// when the queue pair enters the error state; a post that sees it flushes under lock_ (Dekker:
// both sides use seq_cst, so a receive published as the queue closes is flushed by one side).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include <softndk/ndkpi.h>

#include "core/pd.h"
#include "util/spin_lock.h"

namespace softndk::core {

class ReceiveQueue {
 public:
  ReceiveQueue(uint32_t depth, uint32_t max_sge);

  // Consumer: queues a receive; STATUS_INSUFFICIENT_RESOURCES when every slot is in use.
  NTSTATUS post(void* context, const NDK_SGE* sges, ULONG count, uint64_t capacity);
  bool closed() const { return closed_.load(std::memory_order_seq_cst); }
  bool closed_relaxed() const { return closed_.load(std::memory_order_acquire); }
  std::atomic<uint64_t>* reaped_counter() { return &reaped_; }

  util::SpinLock& lock() { return lock_; }
  // --- under lock() ---
  void close_locked() { closed_.store(true, std::memory_order_seq_cst); }
  // The oldest receive, its SGEs copied into `sge_buffer`; false when empty or closed.
  bool take_locked(ReceiveWr* out, NDK_SGE* sge_buffer);
  // Calls fn(context) for every queued receive, oldest first, and empties the queue.
  template <class Fn>
  void drain_locked(Fn&& fn) {
    while (head_ != tail_.load(std::memory_order_seq_cst)) fn(ring_[head_++ % ring_.size()].context);
  }

 private:
  const uint32_t depth_;
  std::vector<ReceiveWr> ring_;
  std::vector<NDK_SGE> sge_storage_;
  alignas(64) std::atomic<uint64_t> tail_{0};
  std::atomic<uint64_t> reaped_{0};
  alignas(64) util::SpinLock lock_;
  uint64_t head_ = 0;
  std::atomic<bool> closed_{false};
};

}  // namespace softndk::core
