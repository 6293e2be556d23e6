// Completion queue (NDKPI NDK_FN_CREATE_CQ, NDK_FN_ARM_CQ, NDK_FN_GET_CQ_RESULTS; "NDKPI Completion Handling Requirements"): a ring of results filled by any number of producers
// (queue pairs on any thread) and drained by one serialized consumer; arming, notification and
// interrupt moderation; resize; overrun (or a fatal CQ error, fault cq.error), which kills the CQ
// and the queue pairs using it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/adapter.h"
#include "core/dispatcher.h"
#include "core/object.h"
#include "util/spin_lock.h"

namespace softndk::core {

// Something a consumer's poll may drive when it finds the CQ empty: a queue pair whose link
// can receive on the caller's thread (transport::Link::poll_receive, busy polling).
class RxPollSource {
 public:
  virtual void poll_rx() = 0;
  // The consumer arms the CQ to wait for a notification: stop relying on its polls.
  virtual void poll_rx_stop() = 0;

 protected:
  ~RxPollSource() = default;
};

class Cq final : public Object {
 public:
  static NTSTATUS create(Adapter* adapter, ULONG depth, NDK_FN_CQ_NOTIFICATION_CALLBACK callback,
                         void* callback_context, Cq** out);

  // Producer side. False when the CQ has failed (overrun or fatal error, now or earlier): the
  // caller's queue pair must go to the error state. `solicited`: matches a SOLICITED arm
  // (solicited receives and every error completion).
  // `reaped` (optional) is the posting queue's counter of retrieved completions: the poller
  // bumps it when the consumer takes the entry, which is when the queue slot is free again.
  bool push(const NDK_RESULT_EX& result, bool solicited,
            std::atomic<uint64_t>* reaped = nullptr);
  // A queue pair goes away: entries still queued stop referring to its counters.
  void forget_counters(const std::atomic<uint64_t>* a, const std::atomic<uint64_t>* b);
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  // Sources polled (at most kPollSourcesPerCall per empty poll, round robin). After
  // remove_poll_source() returns, the source is not being polled and will not be.
  void add_poll_source(RxPollSource* source);
  void remove_poll_source(RxPollSource* source);

  // Consumer side (serialized by the consumer).
  ULONG poll(NDK_RESULT* results, ULONG capacity);
  ULONG poll_ex(NDK_RESULT_EX* results, ULONG capacity);
  void arm(ULONG type);
  NTSTATUS resize(ULONG depth, NDK_FN_REQUEST_COMPLETION completion, void* context);
  NTSTATUS moderate(ULONG interval_us, ULONG count);

 private:
  // cq.overrun and cq.error: the status the CQ fails with at this push (STATUS_SUCCESS: none);
  // the one branch on the push path when there is no fault plan.
  NTSTATUS failure_fault() {
    FaultPlan* plan = adapter()->faults();
    return plan == nullptr ? STATUS_SUCCESS : fire_failure_fault(*plan);
  }
  NTSTATUS fire_failure_fault(FaultPlan& plan);
  Cq(Adapter* adapter, ULONG depth, NDK_FN_CQ_NOTIFICATION_CALLBACK callback, void* context);
  void on_close() override;
  static void run_notification(Task* task);
  void notification_due_locked();  // the arm is satisfied: disarm and schedule (with moderation)
  void schedule_now_locked();
  template <class Out>
  ULONG drain(Out* results, ULONG capacity);

  static constexpr int kDisarmed = -1;
  void poll_sources();
  static constexpr size_t kPollSourcesPerCall = 4;

  // The ring. An entry is published by its sequence word (position + 1, written last with
  // release): the consumer reads entries, never the producers' tail, so in steady state a
  // completion costs the consumer one cache line (the entry's).
  struct alignas(64) Entry {
    NDK_RESULT_EX result;
    std::atomic<uint64_t>* reaped;
    std::atomic<uint64_t> seq{0};
  };
  static std::unique_ptr<Entry[]> make_ring(size_t depth) {
    return std::unique_ptr<Entry[]>(new Entry[depth]());
  }
  // Read-mostly: replaced by resize (under both locks), failed_ set once.
  std::unique_ptr<Entry[]> ring_;
  size_t ring_size_;
  std::atomic<bool> failed_{false};

  // Consumer side: the serialized consumer's position. consumer_lock_ is taken by polls (one
  // thread at a time, so it stays in that thread's cache) and by resize and forget_counters,
  // which must not move or rewrite entries under a poll.
  alignas(64) util::SpinLock consumer_lock_;
  std::atomic<uint64_t> head_{0};

  // Producer side, under lock_ (queue pairs on any thread, arming, notification).
  alignas(64) util::SpinLock lock_;
  std::atomic<uint64_t> tail_{0};   // written under lock_
  uint64_t head_seen_ = 0;          // last head_ read by a producer (re-read when full)
  uint64_t last_solicited_ = 0;     // position+1 of the newest solicited entry
  uint64_t notified_at_ = 0;        // tail_ when the last callback was invoked
  int arm_rank_ = kDisarmed;        // 0 ERRORS < 1 SOLICITED < 2 ANY
  bool error_unreported_ = false;
  NTSTATUS error_status_ = STATUS_SUCCESS;
  // Moderation (0 = none).
  uint32_t moderation_interval_us_ = 0;
  uint32_t moderation_count_ = 0;
  bool due_ = false;               // satisfied, waiting for moderation to release it
  uint32_t due_count_ = 0;         // completions since the arm was satisfied
  uint64_t due_generation_ = 0;    // guards stale moderation timers

  // Poll sources: the list and the polls are under poll_lock_ (the consumer's empty polls and
  // queue pairs joining or leaving); poll_source_count_ lets an empty poll skip the lock.
  alignas(64) util::SpinLock poll_lock_;
  std::vector<RxPollSource*> poll_sources_;
  size_t poll_next_ = 0;
  std::atomic<size_t> poll_source_count_{0};

  NDK_FN_CQ_NOTIFICATION_CALLBACK callback_;
  void* callback_context_;
  struct NotifyTask : Task {
    Cq* cq;
  } notify_task_;
};

}  // namespace softndk::core
