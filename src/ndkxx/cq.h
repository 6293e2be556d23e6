// A completion queue with bounded waits: polling (next, collect) and notifications (the CQ's
// callback counts them and wakes wait_notification()). Not here: instrumented CQs that check
// the notification rules themselves (tests/support).
#pragma once

#include <softndk/ndkpi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "ndkxx/call.h"
#include "ndkxx/handle.h"

namespace softndk::ndkxx {

class Cq {
 public:
  Cq() = default;
  ~Cq() { cq_.reset(); }
  Cq(const Cq&) = delete;
  Cq& operator=(const Cq&) = delete;

  // NdkCreateCq of `depth` entries with this object's notification callback.
  NTSTATUS create(NDK_ADAPTER* adapter, ULONG depth, const Wait& wait = {});
  NDK_CQ* get() const { return cq_.get(); }
  CqHandle& handle() { return cq_; }

  ULONG poll(NDK_RESULT_EX* results, ULONG capacity) {
    return cq_->Dispatch->NdkGetCqResultsEx(cq_.get(), results, capacity);
  }
  // Polls until one completion arrived (see wait_until()); false when the wait ended first.
  bool next(NDK_RESULT_EX* result, const Wait& wait = {});
  bool next(NDK_RESULT_EX* result, Clock::duration timeout) { return next(result, Wait{timeout}); }
  // Polls until exactly `count` completions are in *out (appended); false when the wait ended
  // first.
  bool collect(std::vector<NDK_RESULT_EX>* out, size_t count, const Wait& wait = {});
  bool collect(std::vector<NDK_RESULT_EX>* out, size_t count, Clock::duration timeout) {
    return collect(out, count, Wait{timeout});
  }

  void arm(ULONG type) { cq_->Dispatch->NdkArmCq(cq_.get(), type); }
  uint64_t notification_count() const { return notifications_.load(); }
  NTSTATUS last_notification_status() const { return last_status_.load(); }
  // Waits until more than `seen` notifications came; false at `deadline` or once *stop is true.
  bool wait_notification(uint64_t seen, Clock::time_point deadline,
                         const std::atomic<bool>* stop = nullptr);

 private:
  static void on_notification(void* context, NTSTATUS status);

  std::mutex mutex_;  // with cv_: wait_notification
  std::condition_variable cv_;
  std::atomic<uint64_t> notifications_{0};
  std::atomic<NTSTATUS> last_status_{STATUS_SUCCESS};
  CqHandle cq_;  // last: closed (no more callbacks) before the members above go
};

}  // namespace softndk::ndkxx
