// The inline-or-pending wait, written once for every consumer of the NDK ABI in this tree (tests,
// tools, bench, demo). An NDK function that takes a completion callback either returns its final
// status inline, and then never calls back, or returns STATUS_PENDING and calls back exactly
// once (NDK_FN_REQUEST_COMPLETION in Microsoft's NDKPI reference). Request runs one such call
// and waits for it, always with a bound; request(), create() and close() run one call to its
// end. The objects are in handle.h.
#pragma once

#include <softndk/ndkpi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>

namespace softndk::ndkxx {

using Clock = std::chrono::steady_clock;

// The bound of a wait that names none: 10 s, or what set_default_timeout() set (one value for
// the process; the command line sets it from --timeout).
Clock::duration default_timeout();
void set_default_timeout(Clock::duration timeout);

// How long one wait may last.
struct Wait {
  Clock::duration timeout = default_timeout();
  // Set: the wait also ends, unfinished, once *stop is true (noticed within 100 ms).
  const std::atomic<bool>* stop = nullptr;
  // Poll with std::this_thread::yield() instead of sleeping on a condition variable: the lowest
  // wake-up latency (for measurements), at the price of a busy core.
  bool spin = false;
};

// The end of one call.
struct Outcome {
  // The inline status, or the callback's; STATUS_IO_TIMEOUT when the callback did not come.
  NTSTATUS status = STATUS_PENDING;
  bool pended = false;     // the call returned STATUS_PENDING
  bool timed_out = false;  // it pended and the wait ended first (its bound, or a stop)
  bool ok() const { return status == STATUS_SUCCESS; }
};

// How long a Request keeps the state its callback writes.
enum class Retention {
  // Until the call is over: a callback after an inline return is a breach of the NDK contract
  // and writes freed memory (AddressSanitizer reports it). After a timeout the state stays
  // until the late callback came, so that one is harmless.
  Call,
  // For the life of the process: a late or a second callback lands in live memory and is
  // counted by callbacks(). For the tests of that contract.
  Process,
};

// Order stamps: each start, inline return and callback of a Request takes the next value of one
// process-wide counter, so that a consumer can tell which of two calls ended first.
uint64_t next_order();

// One call of an NDK function that takes a completion callback. A Request may run several calls
// one after the other (no allocation per call while they complete).
class Request {
 public:
  explicit Request(Retention retention = Retention::Call);
  ~Request();
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  // Runs `call(callback, context)`, an NDK function taking an NDK_FN_REQUEST_COMPLETION, and
  // returns what it returned.
  template <class F>
  NTSTATUS start(F&& call) {
    void* context = arm();
    return record_return(call(&Request::on_request, context));
  }
  // Runs `call(callback, context, &object)`, an NDK create function.
  template <class T, class F>
  NTSTATUS start_create(F&& call) {
    void* context = arm();
    T* object = nullptr;
    NTSTATUS status = record_return(call(&Request::on_create, context, &object));
    if (status != STATUS_PENDING) set_inline_object(reinterpret_cast<NDK_OBJECT_HEADER*>(object));
    return status;
  }
  // Starts the close of any object but the adapter (slot 0 of every other dispatch table).
  NTSTATUS start_close(void* object);

  bool started() const { return started_; }
  NTSTATUS returned() const { return returned_; }  // what the call returned
  bool pended() const { return pended_; }          // it returned STATUS_PENDING
  bool done() const;                               // over: returned inline, or called back
  // True when the call is over within `wait`.
  bool wait(const Wait& wait = {});
  // Waits (see wait()), then tells how the call ended.
  Outcome finish(const Wait& wait = {});
  // The object of a create: written inline to the call's out parameter, or the callback's.
  template <class T>
  T* object() const {
    return reinterpret_cast<T*>(object_header());
  }
  // Callbacks of the current call so far (more than one, or one after an inline return, is a
  // breach of the contract; reliable with Retention::Process).
  int callbacks() const;
  // Where the call ended in next_order(): between begin_order() (its start) and end_order() (its
  // return) for an inline result; both are the callback's stamp for a pended one (0 until then).
  uint64_t begin_order() const;
  uint64_t end_order() const;

 private:
  struct State;
  static void on_request(void* context, NTSTATUS status);
  static void on_create(void* context, NTSTATUS status, NDK_OBJECT_HEADER* object);
  static void on_close(void* context);
  static void keep_forever(State* state);  // a Retention::Process state
  void* arm();
  NTSTATUS record_return(NTSTATUS status);
  void set_inline_object(NDK_OBJECT_HEADER* object);
  NDK_OBJECT_HEADER* object_header() const;

  Retention retention_;
  State* state_ = nullptr;
  bool started_ = false;
  bool pended_ = false;
  NTSTATUS returned_ = STATUS_PENDING;
  uint64_t begin_order_ = 0;
  uint64_t end_order_ = 0;
};

// One request call from start to end.
template <class F>
Outcome request(F&& call, const Wait& wait = {}) {
  Request r;
  r.start(std::forward<F>(call));
  return r.finish(wait);
}

// One create call from start to end; `object` is what the provider delivered even on a failure
// (a provider must leave it untouched then, which callers may check).
template <class T>
struct Created : Outcome {
  T* object = nullptr;
};

template <class T, class F>
Created<T> create(F&& call, const Wait& wait = {}) {
  Request r;
  r.start_create<T>(std::forward<F>(call));
  Created<T> created;
  static_cast<Outcome&>(created) = r.finish(wait);
  created.object = r.object<T>();
  return created;
}

// The close function of any object but the adapter: every closable object is { header, dispatch
// table } and slot 0 of every table is its close (NDK_FN_CLOSE_OBJECT, "NDKPI Object Lifetime
// Requirements").
NDK_FN_CLOSE_OBJECT close_function(void* object);

// Closes `object` (nullptr: nothing to do) and waits for a pending close. A close that does not
// end within the wait leaves the object open: close_failed() is true from then on.
Outcome close(void* object, const Wait& wait = {});

// Closes that failed where nobody can be told (handle destructors) go to one handler per process:
// by default a line on stderr; tests turn it into a test failure, the command line into its own
// message. `type` is the object's NDK_OBJECT_TYPE.
using CloseFailureHandler = void (*)(int type, const Outcome& outcome);
void set_close_failure_handler(CloseFailureHandler handler);  // nullptr: the default
void report_close_failure(int type, const Outcome& outcome);
// True once a close of this process did not complete: an object stays open, so closing its
// adapter would block forever (Adapter then leaves the adapter open).
bool close_failed();

// Polls `done` until it is true: every 100 us (or yielding, with wait.spin), within the wait.
// False when the wait ended first.
bool wait_until(const std::function<bool()>& done, const Wait& wait = {});
bool wait_until(const std::function<bool()>& done, Clock::duration timeout);

}  // namespace softndk::ndkxx
