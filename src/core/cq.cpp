// Implementation of core/cq.h.
#include "core/cq.h"

#include <algorithm>
#include <cstring>

namespace softndk::core {

namespace {
int rank_of(ULONG type) {
  switch (type) {
    case NDK_CQ_NOTIFY_ERRORS:
      return 0;
    case NDK_CQ_NOTIFY_SOLICITED:
      return 1;
    case NDK_CQ_NOTIFY_ANY:
      return 2;
    default:
      return -2;
  }
}
}  // namespace

Cq::Cq(Adapter* adapter, ULONG depth, NDK_FN_CQ_NOTIFICATION_CALLBACK callback, void* context)
    : Object(adapter, NdkObjectTypeCq, adapter->tables().cq),
      ring_(make_ring(depth)),
      ring_size_(depth),
      callback_(callback),
      callback_context_(context) {
  notify_task_.run = &Cq::run_notification;
  notify_task_.cq = this;
}

NTSTATUS Cq::create(Adapter* adapter, ULONG depth, NDK_FN_CQ_NOTIFICATION_CALLBACK callback,
                    void* callback_context, Cq** out) {
  if (depth == 0 || depth > adapter->info().MaxCqDepth || callback == nullptr)
    return STATUS_INVALID_PARAMETER;
  *out = new Cq(adapter, depth, callback, callback_context);
  return STATUS_SUCCESS;
}

NTSTATUS Cq::fire_failure_fault(FaultPlan& plan) {
  FaultAction action;
  if (plan.fire(FaultPoint::CqOverrun, this, "completion", &action)) return STATUS_BUFFER_OVERFLOW;
  // A fatal CQ error (NDK_FN_CQ_NOTIFICATION_CALLBACK: STATUS_INTERNAL_ERROR, typically the
  // hardware failing): the same consequences as an overrun, another status.
  if (plan.fire(FaultPoint::CqError, this, "completion", &action)) return STATUS_INTERNAL_ERROR;
  return STATUS_SUCCESS;
}

bool Cq::push(const NDK_RESULT_EX& result, bool solicited, std::atomic<uint64_t>* reaped) {
  std::lock_guard lock(lock_);
  if (failed_.load(std::memory_order_relaxed)) return false;
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  if (tail - head_seen_ >= ring_size_) head_seen_ = head_.load(std::memory_order_acquire);
  // cq.overrun (docs/faults.md): this push overruns as a full ring would; cq.error: it finds
  // the CQ broken.
  NTSTATUS failure = tail - head_seen_ >= ring_size_ ? STATUS_BUFFER_OVERFLOW : failure_fault();
  if (failure != STATUS_SUCCESS) [[unlikely]] {
    // Overrun or fatal error ("NDKPI Completion Handling Requirements"): the CQ is dead and
    // reports nothing more.
    failed_.store(true, std::memory_order_release);
    adapter()->counters().cq_errors.fetch_add(1, std::memory_order_relaxed);
    error_status_ = failure;
    error_unreported_ = true;
    if (arm_rank_ != kDisarmed) {
      arm_rank_ = kDisarmed;
      schedule_now_locked();
    }
    return false;
  }
  Entry& e = ring_[tail % ring_size_];
  e.result = result;
  e.reaped = reaped;
  e.seq.store(tail + 1, std::memory_order_release);  // published: the consumer may take it
  tail_.store(tail + 1, std::memory_order_relaxed);
  if (solicited) last_solicited_ = tail + 1;
  if (due_) {
    if (moderation_count_ != 0 && ++due_count_ >= moderation_count_) schedule_now_locked();
  } else if (arm_rank_ == 2 || (arm_rank_ == 1 && solicited)) {
    notification_due_locked();
  }
  return true;
}

void Cq::notification_due_locked() {
  arm_rank_ = kDisarmed;
  if (moderation_interval_us_ == 0 && moderation_count_ == 0) {
    schedule_now_locked();
    return;
  }
  due_ = true;
  due_count_ = 1;
  if (moderation_count_ != 0 && due_count_ >= moderation_count_) {
    schedule_now_locked();
    return;
  }
  if (moderation_interval_us_ != 0) {
    uint64_t generation = ++due_generation_;
    uint64_t delay_ms = (uint64_t{moderation_interval_us_} + 999) / 1000;
    add_ref();
    adapter()->dispatcher().post_after(delay_ms, [this, generation] {
      {
        std::lock_guard lock(lock_);
        if (due_ && due_generation_ == generation) schedule_now_locked();
      }
      release();
    });
  }
}

void Cq::schedule_now_locked() {
  due_ = false;
  ++due_generation_;
  if (adapter()->dispatcher().post_task(&notify_task_)) add_ref();
}

void Cq::run_notification(Task* task) {
  Cq* cq = static_cast<NotifyTask*>(task)->cq;
  NTSTATUS status;
  bool dead_already;
  {
    std::lock_guard lock(cq->lock_);
    status = cq->error_unreported_ ? cq->error_status_ : STATUS_SUCCESS;
    // A failed CQ whose error was reported says nothing more: two arms racing the error's
    // notification could otherwise queue a second, successful one after it.
    dead_already = !cq->error_unreported_ && cq->failed_.load(std::memory_order_relaxed);
    cq->error_unreported_ = false;
    cq->notified_at_ = cq->tail_.load(std::memory_order_relaxed);
  }
  // After the close started the consumer expects no more callbacks; skip the queued one.
  if (!cq->closing() && !dead_already) cq->callback_(cq->callback_context_, status);
  cq->release();
}

void Cq::arm(ULONG type) {
  int rank = rank_of(type);
  if (rank < 0) return;  // not a notification type: nothing to arm
  if (poll_source_count_.load(std::memory_order_relaxed) != 0) {
    // A consumer that waits no longer polls: the links' own progress must deliver again.
    std::lock_guard lock(poll_lock_);
    for (RxPollSource* source : poll_sources_) source->poll_rx_stop();
  }
  std::lock_guard lock(lock_);
  if (error_unreported_) {
    // A CQ error that happened while disarmed is reported at the next arm (NDKPI NDK_FN_ARM_CQ).
    arm_rank_ = kDisarmed;
    schedule_now_locked();
    return;
  }
  if (failed_.load(std::memory_order_relaxed) || due_) return;
  arm_rank_ = std::max(arm_rank_, rank);
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  uint64_t head = head_.load(std::memory_order_relaxed);  // the caller is the consumer
  bool fresh_any = tail != head && tail > notified_at_;
  bool fresh_solicited = last_solicited_ > head && last_solicited_ > notified_at_;
  if (arm_rank_ == 2 ? fresh_any : (arm_rank_ == 1 && fresh_solicited)) notification_due_locked();
}

void Cq::add_poll_source(RxPollSource* source) {
  std::lock_guard lock(poll_lock_);
  poll_sources_.push_back(source);
  poll_source_count_.store(poll_sources_.size(), std::memory_order_relaxed);
}

void Cq::remove_poll_source(RxPollSource* source) {
  std::lock_guard lock(poll_lock_);
  std::erase(poll_sources_, source);
  poll_source_count_.store(poll_sources_.size(), std::memory_order_relaxed);
}

void Cq::poll_sources() {
  std::lock_guard lock(poll_lock_);
  size_t count = poll_sources_.size();
  size_t rounds = std::min(count, kPollSourcesPerCall);
  for (size_t i = 0; i < rounds; ++i) {
    if (poll_next_ >= count) poll_next_ = 0;
    poll_sources_[poll_next_++]->poll_rx();
  }
}

template <class Out>
ULONG Cq::drain(Out* results, ULONG capacity) {
  if (results == nullptr || capacity == 0) return 0;
  for (int pass = 0;; ++pass) {
    ULONG n = 0;
    {
      std::lock_guard lock(consumer_lock_);
      if (failed_.load(std::memory_order_acquire)) return 0;
      uint64_t head = head_.load(std::memory_order_relaxed);
      while (n < capacity) {
        const Entry& e = ring_[head % ring_size_];
        if (e.seq.load(std::memory_order_acquire) != head + 1) break;  // not published yet
        if (e.reaped != nullptr) {
          // Single writer per counter: the consumer of this CQ, serialized by the consumer.
          e.reaped->store(e.reaped->load(std::memory_order_relaxed) + 1,
                          std::memory_order_release);
        }
        if constexpr (sizeof(Out) == sizeof(NDK_RESULT_EX)) {
          results[n] = e.result;
        } else {
          // NDK_RESULT is the first 0x18 bytes of NDK_RESULT_EX.
          std::memcpy(&results[n], &e.result, sizeof(NDK_RESULT));
        }
        ++n;
        ++head;
      }
      if (n != 0) head_.store(head, std::memory_order_release);
    }
    // Empty. Busy polling: receive what waits on the CQ's connections from this thread (no
    // wake-up of, and no hand-off from, the progress thread), then look once more. Outside
    // consumer_lock_: the receive path may release the last reference of a queue pair.
    if (n != 0 || pass != 0 || poll_source_count_.load(std::memory_order_relaxed) == 0) return n;
    poll_sources();
  }
}

ULONG Cq::poll(NDK_RESULT* results, ULONG capacity) { return drain(results, capacity); }
ULONG Cq::poll_ex(NDK_RESULT_EX* results, ULONG capacity) { return drain(results, capacity); }

NTSTATUS Cq::resize(ULONG depth, NDK_FN_REQUEST_COMPLETION completion, void* context) {
  if (!adapter()->has_flag(NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED)) return STATUS_NOT_SUPPORTED;
  if (depth == 0 || depth > adapter()->info().MaxCqDepth) return STATUS_INVALID_PARAMETER;
  {
    // Not serialized with polls by the consumer ("NDKPI Completion Handling Requirements"): consumer_lock_ keeps them out
    // while the entries move; lock_ keeps the producers out.
    std::lock_guard consumer(consumer_lock_);
    std::lock_guard lock(lock_);
    uint64_t tail = tail_.load(std::memory_order_relaxed);
    uint64_t head = head_.load(std::memory_order_relaxed);
    if (tail - head > depth) return STATUS_INVALID_PARAMETER;
    std::unique_ptr<Entry[]> ring = make_ring(depth);
    for (uint64_t i = head; i != tail; ++i) {
      Entry& from = ring_[i % ring_size_];
      Entry& to = ring[i % depth];
      to.result = from.result;
      to.reaped = from.reaped;
      to.seq.store(from.seq.load(std::memory_order_relaxed), std::memory_order_relaxed);
    }
    ring_.swap(ring);
    ring_size_ = depth;
    head_seen_ = head;
  }
  return adapter()->finish_request(this, STATUS_SUCCESS, completion, context);
}

NTSTATUS Cq::moderate(ULONG interval_us, ULONG count) {
  if (!adapter()->has_flag(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED))
    return STATUS_NOT_SUPPORTED;
  std::lock_guard lock(lock_);
  bool count_unbounded = count == MAXULONG || count > ring_size_;
  if (interval_us == MAXULONG && count_unbounded) return STATUS_INVALID_PARAMETER_MIX;
  if (interval_us == 0 || count <= 1) {
    moderation_interval_us_ = moderation_count_ = 0;
  } else {
    moderation_interval_us_ = interval_us == MAXULONG ? 0 : interval_us;
    moderation_count_ = count_unbounded ? 0 : count;
  }
  // Newest settings win at once: a notification held back under the old ones is released.
  if (due_) schedule_now_locked();
  return STATUS_SUCCESS;
}

void Cq::forget_counters(const std::atomic<uint64_t>* a, const std::atomic<uint64_t>* b) {
  std::lock_guard consumer(consumer_lock_);
  std::lock_guard lock(lock_);
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  for (uint64_t i = head_.load(std::memory_order_relaxed); i != tail; ++i) {
    Entry& e = ring_[i % ring_size_];
    if (e.reaped == a || e.reaped == b) e.reaped = nullptr;
  }
}

void Cq::on_close() {
  std::lock_guard lock(lock_);
  arm_rank_ = kDisarmed;
  due_ = false;
  ++due_generation_;
}

}  // namespace softndk::core
