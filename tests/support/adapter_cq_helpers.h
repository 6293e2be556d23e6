// Helpers for the adapter / object-lifetime / completion-queue conformance tests
// (adapter_test.cpp, lifetime_test.cpp, cq_test.cpp). Header-only, public ABI only, built on
// ndk_test.h and fixtures.h (object creation, the ladder): callback recorders, raw object slots
// closed newest first, an instrumented CQ.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fixtures.h"
#include "ndk_test.h"

namespace ndktest::acq {

using namespace std::chrono_literals;

// How long a "nothing happens" check watches. Callbacks that are due are delivered promptly,
// so a wrong one shows up well within this.
constexpr auto kQuiet = std::chrono::milliseconds(150);

inline void quiet(std::chrono::milliseconds d = kQuiet) { std::this_thread::sleep_for(d); }

inline bool pends_always(const std::string& uri) {
  return uri.find("pending=always") != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// Recording callbacks

// An ordered, thread-safe log of named events (to check callback order).
struct EventLog {
  std::mutex mutex;
  std::vector<std::string> events;
  void add(const std::string& e) {
    std::lock_guard lock(mutex);
    events.push_back(e);
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mutex);
    return events;
  }
  // Index of the first occurrence, or -1.
  int index(const std::string& e) {
    std::lock_guard lock(mutex);
    auto it = std::find(events.begin(), events.end(), e);
    return it == events.end() ? -1 : static_cast<int>(it - events.begin());
  }
  int count(const std::string& e) {
    std::lock_guard lock(mutex);
    return static_cast<int>(std::count(events.begin(), events.end(), e));
  }
  std::string str() {
    std::lock_guard lock(mutex);
    std::string s;
    for (auto& e : events) s += e + " ";
    return s;
  }
};

// Counts invocations of a completion callback (request, create or close). Must outlive every
// callback it is given to.
struct Calls {
  std::atomic<int> count{0};
  std::atomic<NTSTATUS> status{STATUS_PENDING};
  std::atomic<NDK_OBJECT_HEADER*> object{nullptr};
  EventLog* log = nullptr;
  std::string name;
  std::chrono::milliseconds hold{0};  // sleep inside the callback (to widen race windows)

  Calls() = default;
  Calls(EventLog* l, std::string n) : log(l), name(std::move(n)) {}

  void hit() {
    if (log != nullptr) log->add(name + ":enter");
    if (hold.count() != 0) std::this_thread::sleep_for(hold);
    if (log != nullptr) log->add(name);
    count.fetch_add(1);
  }
  static void request(void* c, NTSTATUS s) {
    auto* self = static_cast<Calls*>(c);
    self->status = s;
    self->hit();
  }
  static void create(void* c, NTSTATUS s, NDK_OBJECT_HEADER* o) {
    auto* self = static_cast<Calls*>(c);
    self->status = s;
    self->object = o;
    self->hit();
  }
  static void close(void* c) { static_cast<Calls*>(c)->hit(); }
  bool wait(int n = 1, std::chrono::milliseconds timeout = kTimeout) {
    return wait_until([&] { return count.load() >= n; }, timeout);
  }
};

// Starts the close of `object` with `calls` as the completion; returns the close status.
inline NTSTATUS start_close(void* object, Calls* calls) {
  return ndkxx::close_function(object)(static_cast<NDK_OBJECT_HEADER*>(object), &Calls::close,
                                       calls);
}

// Owns raw NDK object pointers of a test and closes whatever is still open when it goes out of
// scope, newest first (a valid close order when successors are created after antecedents), so
// that a failing assertion never leaves an object open under an adapter whose (blocking) close
// would then wait forever. Declare it after the adapter. Set a slot to nullptr once the test
// closed the object itself.
class Objects {
 public:
  Objects() = default;
  Objects(const Objects&) = delete;
  Objects& operator=(const Objects&) = delete;
  ~Objects() { close_all(); }
  template <class T>
  T*& slot() {
    auto s = std::make_unique<Slot<T>>();
    T*& ref = s->object;
    slots_.push_back(std::move(s));
    return ref;
  }
  void close_all() {
    for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) (*it)->close();
  }

 private:
  struct SlotBase {
    virtual ~SlotBase() = default;
    virtual void close() = 0;
  };
  template <class T>
  struct Slot : SlotBase {
    T* object = nullptr;
    void close() override {
      if (object != nullptr) close_object(object);
      object = nullptr;
    }
  };
  std::vector<std::unique_ptr<SlotBase>> slots_;
};

// ---------------------------------------------------------------------------------------------
// Instrumented CQ

// Set while this thread is inside NdkArmCq (through NotifyCq::arm): a notification callback
// that sees it set was invoked synchronously from inside NdkArmCq.
inline thread_local bool t_inside_arm = false;

struct NotifyCq {
  NDK_CQ* cq = nullptr;
  std::atomic<int> calls{0};         // notification callbacks entered
  std::atomic<int> returned{0};      // notification callbacks returned
  std::atomic<int> running{0};
  std::atomic<int> overlaps{0};      // a callback entered while another was running
  std::atomic<int> inside_arm{0};    // a callback ran synchronously inside NdkArmCq
  std::atomic<int> after_close{0};   // a callback after the close completed
  std::atomic<bool> close_done{false};
  std::atomic<int> close_calls{0};
  std::atomic<NTSTATUS> last_status{STATUS_PENDING};
  std::atomic<std::thread::id> last_thread{};
  std::mutex statuses_mutex;
  std::vector<NTSTATUS> statuses;
  EventLog* log = nullptr;
  std::chrono::milliseconds hold{0};  // time spent inside each callback
  // Runs inside the callback (after the counters were updated), e.g. to drain and re-arm.
  std::function<void(NotifyCq&, NTSTATUS)> on_notify;

  NotifyCq() = default;
  NotifyCq(const NotifyCq&) = delete;
  NotifyCq& operator=(const NotifyCq&) = delete;
  ~NotifyCq() { close(); }

  static void notify(void* context, NTSTATUS status) {
    auto* self = static_cast<NotifyCq*>(context);
    if (self->running.fetch_add(1) != 0) self->overlaps.fetch_add(1);
    if (t_inside_arm) self->inside_arm.fetch_add(1);
    if (self->close_done.load()) self->after_close.fetch_add(1);
    if (self->log != nullptr) self->log->add("notify:enter");
    {
      std::lock_guard lock(self->statuses_mutex);
      self->statuses.push_back(status);
    }
    self->last_status = status;
    self->last_thread = std::this_thread::get_id();
    self->calls.fetch_add(1);
    if (self->hold.count() != 0) std::this_thread::sleep_for(self->hold);
    if (self->on_notify) self->on_notify(*self, status);
    if (self->log != nullptr) self->log->add("notify:exit");
    self->running.fetch_sub(1);
    self->returned.fetch_add(1);
  }
  static void closed(void* context) {
    auto* self = static_cast<NotifyCq*>(context);
    if (self->log != nullptr) self->log->add("cq:closed");
    self->close_calls.fetch_add(1);
    self->close_done = true;
  }

  NTSTATUS create(NDK_ADAPTER* adapter, ULONG depth) {
    return sync_create<NDK_CQ>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_CQ** out) {
          return adapter->Dispatch->NdkCreateCq(adapter, depth, &NotifyCq::notify, this, nullptr,
                                                cb, ctx, out);
        },
        &cq);
  }
  void arm(ULONG type) {
    t_inside_arm = true;
    cq->Dispatch->NdkArmCq(cq, type);
    t_inside_arm = false;
  }
  ULONG poll(NDK_RESULT_EX* r, ULONG n) { return cq->Dispatch->NdkGetCqResultsEx(cq, r, n); }
  ULONG poll_plain(NDK_RESULT* r, ULONG n) { return cq->Dispatch->NdkGetCqResults(cq, r, n); }
  // Drains everything currently in the CQ.
  std::vector<NDK_RESULT_EX> drain() {
    std::vector<NDK_RESULT_EX> out;
    NDK_RESULT_EX r[32];
    for (ULONG got; (got = poll(r, 32)) != 0;) out.insert(out.end(), r, r + got);
    return out;
  }
  // Collects exactly n results within the timeout (appends to *out).
  bool collect(std::vector<NDK_RESULT_EX>* out, size_t n, std::chrono::milliseconds timeout = kTimeout) {
    return wait_until(
        [&] {
          NDK_RESULT_EX r[32];
          ULONG got = poll(r, static_cast<ULONG>(std::min<size_t>(32, n - std::min(n, out->size()))));
          out->insert(out->end(), r, r + got);
          return out->size() >= n;
        },
        timeout);
  }
  bool wait_calls(int n, std::chrono::milliseconds timeout = kTimeout) {
    return wait_until([&] { return calls.load() >= n; }, timeout);
  }
  std::vector<NTSTATUS> status_list() {
    std::lock_guard lock(statuses_mutex);
    return statuses;
  }
  // Starts the close (close_done is set on completion). Returns the close status.
  NTSTATUS start_close() {
    NDK_CQ* c = cq;
    cq = nullptr;
    NTSTATUS s = c->Dispatch->NdkCloseCq(&c->Header, &NotifyCq::closed, this);
    if (s == STATUS_SUCCESS) {
      if (log != nullptr) log->add("cq:closed");
      close_done = true;
    }
    return s;
  }
  // Closes (if still open) and waits for the close to complete. False on timeout.
  bool close() {
    if (cq != nullptr) {
      NTSTATUS s = start_close();
      if (s != STATUS_SUCCESS && s != STATUS_PENDING) {
        ADD_FAILURE() << "CQ close returned " << status_name(s);
        return false;
      }
    }
    if (!wait_until([&] { return close_done.load(); })) {
      ADD_FAILURE() << "CQ close completion did not arrive";
      return false;
    }
    return true;
  }
};

// RDMA write of `length` bytes from src[src_offset] to dst[dst_offset].
inline NTSTATUS post_write(NDK_QP* qp, const Region& src, size_t src_offset, ULONG length,
                           const Region& dst, size_t dst_offset, void* context, ULONG flags = 0) {
  NDK_SGE sge = src.sge(src_offset, length);
  return qp->Dispatch->NdkWrite(qp, context, &sge, 1, dst.address(dst_offset), dst.remote_token(),
                                flags);
}

inline void* ctx(uintptr_t v) { return reinterpret_cast<void*>(v); }

}  // namespace ndktest::acq
