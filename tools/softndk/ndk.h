// Thin helpers over the public NDK ABI (include/softndk only) for the softndk command line:
// bounded waits for the "inline status, or STATUS_PENDING and a callback" calls, ownership that
// closes an object on scope exit, the adapter, a CQ that waits by polling or by notification,
// and registered memory. Every wait is bounded by wait_timeout() (--timeout) and ends early
// when a stop was requested (SIGINT/SIGTERM).
#pragma once

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "errors.h"

namespace softndk::cli {

using Clock = std::chrono::steady_clock;

// ---- process-wide wait policy
void set_wait_timeout(Clock::duration timeout);
Clock::duration wait_timeout();
std::string timeout_text();  // "10 s"
Clock::time_point deadline_from_now();
// Set by the SIGINT/SIGTERM handler; waits notice it within ~100 ms.
void request_stop();
bool stop_requested();
// Throws Error("interrupted") once a stop was requested.
void check_stop();

// ---- asynchronous calls
// Shared state of one possibly-pending call. The callback holds its own reference, so a
// callback that arrives after a timeout never touches freed memory.
class PendingCall {
 public:
  PendingCall();
  // A context for the callback (owns one reference). If the call did not return
  // STATUS_PENDING the callback never comes: give the context back with forget().
  void* context();
  static void forget(void* context);
  static void on_request(void* context, NTSTATUS status);
  static void on_create(void* context, NTSTATUS status, NDK_OBJECT_HEADER* object);
  static void on_close(void* context);
  // Waits for the callback; false after wait_timeout() or, when `stoppable`, a stop request.
  bool wait(bool stoppable = true);
  NTSTATUS status() const;
  NDK_OBJECT_HEADER* object() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

using RequestStart = std::function<NTSTATUS(NDK_FN_REQUEST_COMPLETION, void*)>;
// Final status of a request function: its inline status or, when STATUS_PENDING, the status
// its completion reports. Throws Error when the completion does not come in time.
NTSTATUS run_request(const std::string& what, const RequestStart& start);
// run_request, throwing unless the final status is STATUS_SUCCESS.
void request(const std::string& what, const RequestStart& start);

// Runs a create function: the object arrives inline or through the create completion.
template <class T, class Start>
T* create(const std::string& what, Start&& start) {
  PendingCall call;
  T* object = nullptr;
  void* context = call.context();
  NTSTATUS status = start(&PendingCall::on_create, context, &object);
  if (status != STATUS_PENDING) {
    PendingCall::forget(context);
    if (status != STATUS_SUCCESS) throw_status(what, status);
    return object;
  }
  if (!call.wait()) throw Error(what + ": no completion within " + timeout_text());
  if (call.status() != STATUS_SUCCESS) throw_status(what, call.status());
  return reinterpret_cast<T*>(call.object());  // every NDK object starts with its header
}

// Closes any NDK object except the adapter, waiting for a pending close. Never throws: a close
// that does not complete in time is reported on stderr, the object is leaked and close_failed()
// becomes true (the adapter is then left open instead of blocking forever).
void close_object(void* object);
bool close_failed();

// Owns an NDK object and closes it on destruction.
template <class T>
class Owned {
 public:
  Owned() = default;
  explicit Owned(T* object) : object_(object) {}
  Owned(Owned&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  Owned& operator=(Owned&& other) noexcept {
    if (this != &other) reset(std::exchange(other.object_, nullptr));
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { reset(); }

  void reset(T* object = nullptr) {
    if (object_ != nullptr) close_object(object_);
    object_ = object;
  }
  T* get() const { return object_; }
  T* operator->() const { return object_; }
  explicit operator bool() const { return object_ != nullptr; }

 private:
  T* object_ = nullptr;
};

// ---- adapter
class Adapter {
 public:
  // Opens the adapter; throws Error naming the URI, the status and what it usually means.
  explicit Adapter(const std::string& uri);
  ~Adapter();
  Adapter(const Adapter&) = delete;
  Adapter& operator=(const Adapter&) = delete;

  NDK_ADAPTER* get() const { return adapter_; }
  const NDK_ADAPTER_DISPATCH* d() const { return adapter_->Dispatch; }
  const NDK_ADAPTER_INFO& info() const { return info_; }
  const std::string& uri() const { return uri_; }
  SOFTNDK_ADAPTER_COUNTERS counters() const;

 private:
  std::string uri_;
  NDK_ADAPTER* adapter_ = nullptr;
  NDK_ADAPTER_INFO info_{};
};

// What an adapter-open status usually means, for messages ("" if nothing useful to add).
std::string open_hint(NTSTATUS status);

// ---- completion queue
class Cq {
 public:
  // notifications: wait() arms the CQ (NDK_CQ_NOTIFY_ANY) and sleeps until the notification
  // callback instead of spinning on NdkGetCqResultsEx.
  Cq(Adapter& adapter, ULONG depth, bool notifications);
  ~Cq();
  Cq(const Cq&) = delete;
  Cq& operator=(const Cq&) = delete;

  NDK_CQ* get() const { return cq_.get(); }
  bool notifications() const { return notifications_; }
  // Switches how wait() waits (one thread uses the CQ: call it between waits). The
  // notification callback stays registered either way; a leftover arm is harmless.
  void set_notifications(bool notifications) { notifications_ = notifications; }
  ULONG poll(NDK_RESULT_EX* results, ULONG capacity);
  // Up to `capacity` completions, waiting until at least one arrived; 0 once `deadline` passed.
  // Throws Error on a CQ error notification (overrun) and when a stop was requested.
  ULONG wait(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline);
  uint64_t notification_count() const { return notification_count_.load(); }

 private:
  static void on_notification(void* context, NTSTATUS status);
  ULONG wait_polling(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline);
  ULONG wait_notified(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline);

  bool notifications_;
  std::mutex mutex_;  // guards notified_, error_
  std::condition_variable cv_;
  bool notified_ = false;
  NTSTATUS error_ = STATUS_SUCCESS;
  std::atomic<uint64_t> notification_count_{0};
  Owned<NDK_CQ> cq_;  // last: closed (no more callbacks) before the members above go away
};

// ---- memory
// Page-aligned host memory, zero-filled.
class HostBuffer {
 public:
  explicit HostBuffer(size_t bytes);
  ~HostBuffer();
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  std::byte* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::byte* data_;
  size_t size_;
};

// Host memory registered with NdkRegisterMr (closing the MR deregisters it).
class Region {
 public:
  Region(NDK_PD* pd, size_t bytes, ULONG flags);
  std::byte* data() const { return buffer_.data(); }
  size_t size() const { return buffer_.size(); }
  uint64_t address(size_t offset = 0) const {
    return reinterpret_cast<uintptr_t>(buffer_.data()) + offset;
  }
  NDK_MR* mr() const { return mr_.get(); }
  UINT32 local_token() const { return local_token_; }
  UINT32 remote_token() const { return remote_token_; }
  NDK_SGE sge(size_t offset, size_t bytes) const;

 private:
  HostBuffer buffer_;
  MDL mdl_{};
  Owned<NDK_MR> mr_;  // after buffer_: deregistered before the memory is freed
  UINT32 local_token_ = 0;
  UINT32 remote_token_ = 0;
};

}  // namespace softndk::cli
