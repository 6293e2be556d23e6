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
      ring_(depth),
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

bool Cq::push(const NDK_RESULT_EX& result, bool solicited, std::atomic<uint64_t>* reaped) {
  std::lock_guard lock(lock_);
  if (failed_.load(std::memory_order_relaxed)) return false;
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  if (tail - head_ >= ring_.size()) {
    // Overrun (ndkpi.md 4.1.4): the CQ is dead and reports nothing more.
    failed_.store(true, std::memory_order_release);
    adapter()->counters().cq_errors.fetch_add(1, std::memory_order_relaxed);
    error_status_ = STATUS_BUFFER_OVERFLOW;
    error_unreported_ = true;
    if (arm_rank_ != kDisarmed) {
      arm_rank_ = kDisarmed;
      schedule_now_locked();
    }
    return false;
  }
  ring_[tail % ring_.size()] = Entry{result, reaped};
  tail_.store(tail + 1, std::memory_order_release);
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
  {
    std::lock_guard lock(cq->lock_);
    status = cq->error_unreported_ ? cq->error_status_ : STATUS_SUCCESS;
    cq->error_unreported_ = false;
    cq->notified_at_ = cq->tail_.load(std::memory_order_relaxed);
  }
  // After the close started the consumer expects no more callbacks; skip the queued one.
  if (!cq->closing()) cq->callback_(cq->callback_context_, status);
  cq->release();
}

void Cq::arm(ULONG type) {
  int rank = rank_of(type);
  if (rank < 0) return;  // not a notification type: nothing to arm
  std::lock_guard lock(lock_);
  if (error_unreported_) {
    // A CQ error that happened while disarmed is reported at the next arm (ndkpi.md 4.1.2).
    arm_rank_ = kDisarmed;
    schedule_now_locked();
    return;
  }
  if (failed_.load(std::memory_order_relaxed) || due_) return;
  arm_rank_ = std::max(arm_rank_, rank);
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  bool fresh_any = tail != head_ && tail > notified_at_;
  bool fresh_solicited = last_solicited_ > head_ && last_solicited_ > notified_at_;
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
  if (tail_.load(std::memory_order_acquire) == head_) {
    // Empty. Busy polling: receive what waits on the CQ's connections from this thread (no
    // wake-up of, and no hand-off from, the progress thread), then look again.
    if (poll_source_count_.load(std::memory_order_relaxed) == 0) return 0;
    poll_sources();
    if (tail_.load(std::memory_order_acquire) == head_) return 0;  // still empty: no lock
  }
  std::lock_guard lock(lock_);
  if (failed_.load(std::memory_order_relaxed)) return 0;
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  ULONG n = 0;
  while (head_ != tail && n < capacity) {
    const Entry& e = ring_[head_ % ring_.size()];
    const NDK_RESULT_EX& r = e.result;
    if (e.reaped != nullptr) {
      // Single writer per counter: the consumer of this CQ, serialized by the consumer.
      e.reaped->store(e.reaped->load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    if constexpr (sizeof(Out) == sizeof(NDK_RESULT_EX)) {
      results[n] = r;
    } else {
      // NDK_RESULT is the first 0x18 bytes of NDK_RESULT_EX.
      std::memcpy(&results[n], &r, sizeof(NDK_RESULT));
    }
    ++n;
    ++head_;
  }
  return n;
}

ULONG Cq::poll(NDK_RESULT* results, ULONG capacity) { return drain(results, capacity); }
ULONG Cq::poll_ex(NDK_RESULT_EX* results, ULONG capacity) { return drain(results, capacity); }

NTSTATUS Cq::resize(ULONG depth, NDK_FN_REQUEST_COMPLETION completion, void* context) {
  if (!adapter()->has_flag(NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED)) return STATUS_NOT_SUPPORTED;
  if (depth == 0 || depth > adapter()->info().MaxCqDepth) return STATUS_INVALID_PARAMETER;
  {
    std::lock_guard lock(lock_);
    uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_ > depth) return STATUS_INVALID_PARAMETER;
    std::vector<Entry> ring(depth);
    for (uint64_t i = head_; i != tail; ++i) ring[i % depth] = ring_[i % ring_.size()];
    ring_.swap(ring);
  }
  return adapter()->finish_request(this, STATUS_SUCCESS, completion, context);
}

NTSTATUS Cq::moderate(ULONG interval_us, ULONG count) {
  if (!adapter()->has_flag(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED))
    return STATUS_NOT_SUPPORTED;
  std::lock_guard lock(lock_);
  bool count_unbounded = count == MAXULONG || count > ring_.size();
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
  std::lock_guard lock(lock_);
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  for (uint64_t i = head_; i != tail; ++i) {
    Entry& e = ring_[i % ring_.size()];
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
