// Implementation of call.h: the state a callback writes, the bounded waits, closes.
#include "ndkxx/call.h"

#include <softndk/softndk.h>

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace softndk::ndkxx {

namespace {

constexpr auto kStopCheck = std::chrono::milliseconds(100);
constexpr auto kPollInterval = std::chrono::microseconds(100);

std::atomic<int64_t> g_default_timeout_ns{
    std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::seconds(10)).count()};
std::atomic<uint64_t> g_order{0};
std::atomic<bool> g_close_failed{false};

void default_close_failure_handler(int type, const Outcome& outcome) {
  if (outcome.timed_out) {
    std::fprintf(stderr, "ndkxx: closing an NDK object (type %d) did not complete in time\n", type);
  } else {
    std::fprintf(stderr, "ndkxx: closing an NDK object (type %d) returned %s\n", type,
                 SoftNdkStatusName(outcome.status));
  }
}

std::atomic<CloseFailureHandler> g_close_failure_handler{&default_close_failure_handler};

}  // namespace

Clock::duration default_timeout() {
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(g_default_timeout_ns.load(std::memory_order_relaxed)));
}

void set_default_timeout(Clock::duration timeout) {
  g_default_timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
}

uint64_t next_order() { return g_order.fetch_add(1) + 1; }

// ---------------------------------------------------------------------------------------------
// Request

// What a callback writes. Counted references: the Request holds one and an armed call one more
// (the callback's), so a callback that comes after the Request gave up (a timeout) or was
// destroyed still writes live memory. Retention::Process states are never freed: keep_forever()
// keeps them reachable (a leak checker does not report them).
struct Request::State {
  std::mutex mutex;
  std::condition_variable cv;
  std::atomic<int> references{1};
  bool forever = false;
  std::atomic<bool> done{false};
  std::atomic<int> callbacks{0};
  NTSTATUS status = STATUS_PENDING;    // guarded by mutex
  NDK_OBJECT_HEADER* object = nullptr;  // guarded by mutex
  uint64_t order = 0;                   // guarded by mutex

  void release() {
    if (forever) return;
    if (references.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // The callback: runs on a provider thread, exactly once per pended call.
  void complete(NTSTATUS s, NDK_OBJECT_HEADER* o) {
    {
      std::lock_guard lock(mutex);
      status = s;
      object = o;
      order = next_order();
      callbacks.fetch_add(1);
      done.store(true, std::memory_order_release);
      cv.notify_all();
    }
    release();
  }
};

void Request::keep_forever(State* state) {
  static std::mutex mutex;
  static auto* kept = new std::vector<std::unique_ptr<State>>;  // never destroyed
  state->forever = true;
  std::lock_guard lock(mutex);
  kept->emplace_back(state);
}

Request::Request(Retention retention) : retention_(retention) {}

Request::~Request() {
  if (state_ != nullptr) state_->release();
}

void Request::on_request(void* context, NTSTATUS status) {
  static_cast<State*>(context)->complete(status, nullptr);
}

void Request::on_create(void* context, NTSTATUS status, NDK_OBJECT_HEADER* object) {
  static_cast<State*>(context)->complete(status, object);
}

void Request::on_close(void* context) {
  static_cast<State*>(context)->complete(STATUS_SUCCESS, nullptr);
}

void* Request::arm() {
  // A state whose callback may still come (a timed-out call), or any state of a Process request,
  // is left to its callback; otherwise it is reused.
  const bool reusable = state_ != nullptr && retention_ == Retention::Call &&
                        (!pended_ || state_->done.load(std::memory_order_acquire));
  if (reusable) {
    std::lock_guard lock(state_->mutex);
    state_->status = STATUS_PENDING;
    state_->object = nullptr;
    state_->order = 0;
    state_->callbacks = 0;
    state_->done = false;
  } else {
    if (state_ != nullptr) state_->release();
    state_ = new State;
    if (retention_ == Retention::Process) keep_forever(state_);
  }
  state_->references.fetch_add(1);  // the callback's
  started_ = true;
  pended_ = false;
  returned_ = STATUS_PENDING;
  begin_order_ = next_order();
  return state_;
}

NTSTATUS Request::record_return(NTSTATUS status) {
  end_order_ = next_order();
  returned_ = status;
  pended_ = status == STATUS_PENDING;
  if (!pended_) state_->release();  // no callback will come for it
  return status;
}

void Request::set_inline_object(NDK_OBJECT_HEADER* object) {
  std::lock_guard lock(state_->mutex);
  state_->object = object;
}

NDK_OBJECT_HEADER* Request::object_header() const {
  if (state_ == nullptr) return nullptr;
  std::lock_guard lock(state_->mutex);
  return state_->object;
}

NTSTATUS Request::start_close(void* object) {
  NDK_FN_CLOSE_OBJECT close = close_function(object);
  void* context = arm();
  return record_return(close(static_cast<NDK_OBJECT_HEADER*>(object), &Request::on_close, context));
}

bool Request::done() const {
  if (!started_) return false;
  return !pended_ || state_->done.load(std::memory_order_acquire);
}

bool Request::wait(const Wait& wait) {
  if (!started_) return false;
  if (!pended_) return true;
  const auto deadline = Clock::now() + wait.timeout;
  auto stopped = [&] { return wait.stop != nullptr && wait.stop->load(std::memory_order_relaxed); };
  if (wait.spin) {
    while (!state_->done.load(std::memory_order_acquire)) {
      if (stopped() || Clock::now() >= deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }
  std::unique_lock lock(state_->mutex);
  while (!state_->done.load(std::memory_order_relaxed)) {
    if (stopped()) return false;
    const auto now = Clock::now();
    if (now >= deadline) return false;
    state_->cv.wait_until(lock, wait.stop != nullptr ? std::min(deadline, now + kStopCheck)
                                                     : deadline);
  }
  return true;
}

Outcome Request::finish(const Wait& wait) {
  Outcome outcome;
  outcome.pended = pended_;
  if (!started_) {
    outcome.status = STATUS_INVALID_DEVICE_STATE;
    return outcome;
  }
  if (!pended_) {
    outcome.status = returned_;
    return outcome;
  }
  if (!this->wait(wait)) {
    outcome.timed_out = true;
    outcome.status = STATUS_IO_TIMEOUT;
    return outcome;
  }
  std::lock_guard lock(state_->mutex);
  outcome.status = state_->status;
  return outcome;
}

int Request::callbacks() const { return state_ == nullptr ? 0 : state_->callbacks.load(); }

uint64_t Request::begin_order() const {
  if (!pended_) return begin_order_;
  std::lock_guard lock(state_->mutex);
  return state_->order;
}

uint64_t Request::end_order() const {
  if (!pended_) return end_order_;
  std::lock_guard lock(state_->mutex);
  return state_->order;
}

// ---------------------------------------------------------------------------------------------
// Closes

NDK_FN_CLOSE_OBJECT close_function(void* object) {
  auto* table = *reinterpret_cast<NDK_FN_CLOSE_OBJECT* const*>(static_cast<char*>(object) +
                                                               sizeof(NDK_OBJECT_HEADER));
  return table[0];
}

Outcome close(void* object, const Wait& wait) {
  if (object == nullptr) {
    Outcome nothing;
    nothing.status = STATUS_SUCCESS;
    return nothing;
  }
  Request r;
  r.start_close(object);
  Outcome outcome = r.finish(wait);
  if (outcome.timed_out) g_close_failed = true;
  return outcome;
}

void set_close_failure_handler(CloseFailureHandler handler) {
  g_close_failure_handler = handler != nullptr ? handler : &default_close_failure_handler;
}

void report_close_failure(int type, const Outcome& outcome) {
  g_close_failure_handler.load()(type, outcome);
}

bool close_failed() { return g_close_failed.load(); }

bool wait_until(const std::function<bool()>& done, const Wait& wait) {
  const auto deadline = Clock::now() + wait.timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    if (wait.stop != nullptr && wait.stop->load(std::memory_order_relaxed)) return false;
    if (wait.spin) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(kPollInterval);
    }
  }
  return true;
}

bool wait_until(const std::function<bool()>& done, Clock::duration timeout) {
  return wait_until(done, Wait{timeout});
}

}  // namespace softndk::ndkxx
