// The initiator queue of a queue pair (NDKPI: sends, RDMA writes and reads, binds,
// fast-registers, invalidates): the preallocated ring of requests, who owns which index, the
// in-order reporting of completions to the initiator CQ, the cancellation of everything not
// yet reported, and which request a failure is charged to. The send engine executes the
// requests (send_engine.h); the receive engine finishes reads (receive_engine.h).
//
// Indices (monotonic; slot = index % depth):
//   posted_     written by the consumer's posting thread (one at a time per queue), release;
//   completed_  written under lock_ (the oldest request not yet reported);
//   reaped_     written by the initiator CQ's poller when the consumer retrieves a completion;
//   silent_done_ written under lock_ (silent successes free their slot when they finish).
// A slot is free again once reaped (or silently done): a CQ sized to the sum of its queues'
// depths never overruns.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <softndk/ndkpi.h>

#include "util/spin_lock.h"

namespace softndk::core {

class Cq;
class Mr;
class Object;

enum class WrOp : uint8_t { Send, Write, Read, Bind, FastRegister, Invalidate };

// NdkOperationType* of a request's completion.
NDK_OPERATION_TYPE operation_type(WrOp op);

struct InitiatorWr {
  WrOp op = WrOp::Send;
  uint32_t flags = 0;
  void* context = nullptr;
  uint32_t sge_count = 0;
  NDK_SGE* sges = nullptr;           // per-slot storage
  std::byte* inline_data = nullptr;  // per-slot storage (InlineDataSize bytes)
  bool is_inline = false;
  uint64_t total_bytes = 0;
  uint64_t remote_address = 0;
  uint32_t remote_token = 0;  // write/read target, or the STag a send invalidates
  bool invalidate_remote = false;
  // Memory operations.
  Object* target = nullptr;  // Mr or Mw (bind, fast-register, invalidate)
  Mr* bind_mr = nullptr;
  uint64_t address = 0;  // bind VA / fast-register base VA
  uint64_t length = 0;
  uint32_t new_stag = 0;  // STag chosen at post time (bind, fast-register)
  uint32_t fbo = 0;
  std::vector<NDK_LOGICAL_ADDRESS> pages;  // fast-register page list, copied at post
  // Outcome: status first, then `done` with release, by whoever finishes the request (the
  // send engine, the receive engine for reads, a flush under the queue's lock).
  std::atomic<bool> done{false};
  NTSTATUS status = STATUS_SUCCESS;
  uint32_t provider_error = 0;
  uint64_t bytes_done = 0;  // reads: response bytes placed so far
};

// Which outstanding request a failure is charged to (NDKPI: the request that failed completes
// with the error, everything after it is cancelled).
enum class Culprit : uint8_t {
  None,      // nothing outstanding is to blame: everything is cancelled
  Transmit,  // the send or write the link refused synchronously (loopback's verdict)
  Read,      // the oldest outstanding read
};

struct Blame {
  Culprit culprit = Culprit::None;
  NTSTATUS status = STATUS_CANCELLED;
  uint32_t provider_error = 0;
  // Read: the MSN of the Read Request a peer's Terminate named, when it named one; otherwise
  // the oldest outstanding read is to blame.
  bool has_read_msn = false;
  uint32_t read_msn = 0;
};

class InitiatorQueue {
 public:
  InitiatorQueue(uint32_t depth, size_t slot_sges, uint32_t inline_bytes);

  uint32_t depth() const { return depth_; }
  InitiatorWr& at(uint64_t index) { return slots_[index % depth_]; }

  // --- posting thread ---
  // Outstanding = posted and not yet retrieved from the CQ (silent successes: not finished).
  bool full() const;
  InitiatorWr& next_slot() { return at(posted_.load(std::memory_order_relaxed)); }
  // Resets the slot's outcome and publishes it to the send engine.
  void publish(InitiatorWr& wr);

  uint64_t posted() const { return posted_.load(std::memory_order_acquire); }
  std::atomic<uint64_t>* reaped_counter() { return &reaped_; }

  // Finishes a request once (send engine; for reads the receive engine or a flush, under lock()).
  static void finish(InitiatorWr& wr, NTSTATUS status, uint32_t provider_error = 0);

  // --- completion (any thread) ---
  util::SpinLock& lock() { return lock_; }
  // Reports finished requests, oldest first, up to the first unfinished one. False when `cq`
  // overran: the queue pair must go to the error state.
  bool report_in_order(Cq& cq, void* qp_context);
  // Caller holds lock(). A failure's first blame wins; a later one is ignored.
  void record_blame_locked(const Blame& blame);
  Blame take_blame_locked();
  // Caller holds lock(). The send or write the link refused (the Transmit culprit).
  void set_refused_locked(uint64_t index) { refused_index_ = index; }
  // Caller holds lock(). Charges the blame to `read_index` (Read) or the refused request
  // (Transmit), then cancels every request not yet reported: a request that finished but waits
  // behind an unfinished read is cancelled too, so nothing after a cancellation reports success.
  void cancel_unreported_locked(const Blame& blame, const uint64_t* read_index);

 private:
  static constexpr uint64_t kNoIndex = ~uint64_t{0};
  void charge_locked(uint64_t index, const Blame& blame, bool transmit_only);

  const uint32_t depth_;
  std::unique_ptr<InitiatorWr[]> slots_;
  std::vector<NDK_SGE> sge_storage_;
  std::vector<std::byte> inline_storage_;
  std::atomic<uint64_t> posted_{0};
  std::atomic<uint64_t> completed_{0};
  std::atomic<uint64_t> reaped_{0};
  std::atomic<uint64_t> silent_done_{0};
  util::SpinLock lock_;
  Blame blame_;                       // under lock_
  uint64_t refused_index_ = kNoIndex;  // under lock_
};

}  // namespace softndk::core
