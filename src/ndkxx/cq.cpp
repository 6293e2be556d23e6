// Implementation of cq.h.
#include "ndkxx/cq.h"

#include <algorithm>

namespace softndk::ndkxx {

namespace {
constexpr auto kStopCheck = std::chrono::milliseconds(100);
}  // namespace

NTSTATUS Cq::create(NDK_ADAPTER* adapter, ULONG depth, const Wait& wait) {
  Created<NDK_CQ> created = ndkxx::create<NDK_CQ>(
      [&](NDK_FN_CREATE_COMPLETION callback, void* context, NDK_CQ** out) {
        return adapter->Dispatch->NdkCreateCq(adapter, depth, &Cq::on_notification, this, nullptr,
                                              callback, context, out);
      },
      wait);
  if (created.ok()) cq_.reset(created.object);
  return created.status;
}

void Cq::on_notification(void* context, NTSTATUS status) {
  auto* self = static_cast<Cq*>(context);
  std::lock_guard lock(self->mutex_);
  self->last_status_ = status;
  self->notifications_.fetch_add(1);
  self->cv_.notify_all();
}

bool Cq::next(NDK_RESULT_EX* result, const Wait& wait) {
  return wait_until([&] { return poll(result, 1) == 1; }, wait);
}

bool Cq::collect(std::vector<NDK_RESULT_EX>* out, size_t count, const Wait& wait) {
  return wait_until(
      [&] {
        NDK_RESULT_EX results[64];
        ULONG got = poll(results, static_cast<ULONG>(std::min<size_t>(64, count - out->size())));
        out->insert(out->end(), results, results + got);
        return out->size() >= count;
      },
      wait);
}

bool Cq::wait_notification(uint64_t seen, Clock::time_point deadline,
                           const std::atomic<bool>* stop) {
  std::unique_lock lock(mutex_);
  while (notifications_.load() <= seen) {
    if (stop != nullptr && stop->load()) return false;
    const auto now = Clock::now();
    if (now >= deadline) return false;
    cv_.wait_until(lock, stop != nullptr ? std::min(deadline, now + kStopCheck) : deadline);
  }
  return true;
}

}  // namespace softndk::ndkxx
