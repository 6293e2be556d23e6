// The softndk command line's view of the NDK ABI, on src/ndkxx (public ABI only): the process-wide
// wait policy (--timeout, and a stop on SIGINT/SIGTERM that ends every wait within ~100 ms), calls
// that throw Error with a message naming what failed, and the adapter, CQ and memory the
// commands use. The waits themselves, the handles and the closes are ndkxx's.
#pragma once

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "errors.h"
#include "ndkxx/adapter.h"
#include "ndkxx/call.h"
#include "ndkxx/cq.h"
#include "ndkxx/handle.h"
#include "ndkxx/memory.h"

namespace softndk::cli {

using Clock = std::chrono::steady_clock;

// ---- process-wide wait policy
void set_wait_timeout(Clock::duration timeout);  // also ndkxx's default timeout
Clock::duration wait_timeout();
std::string timeout_text();  // "10 s"
Clock::time_point deadline_from_now();
// Set by the SIGINT/SIGTERM handler; waits notice it within ~100 ms.
void request_stop();
// SIGUSR1: a server prints its adapter's counters (once per request, at its next check).
void request_counters();
bool take_counters_request();
bool stop_requested();
const std::atomic<bool>* stop_flag();
// Throws Error("interrupted") once a stop was requested.
void check_stop();
// A wait of wait_timeout() that a stop ends early (`spin`: see ndkxx::Wait).
ndkxx::Wait stoppable_wait(bool spin = false);
// Installs the command line's close-failure report (a line on stderr; see close_failed()).
void install_close_failure_report();

// ---- asynchronous calls
// Final status of a request function (ndkxx::request): its inline status or, when it pended, its
// completion's. Throws Error when the completion does not come in time (or a stop came).
template <class F>
NTSTATUS run_request(const std::string& what, F&& start);
// run_request, throwing unless the final status is STATUS_SUCCESS.
template <class F>
void request(const std::string& what, F&& start);
// Runs a create function: the object arrives inline or through the create completion.
template <class T, class F>
T* create(const std::string& what, F&& start);

// Throws the Error of a call that did not end (a stop request, or the timeout).
[[noreturn]] void throw_unfinished(const std::string& what);

template <class F>
NTSTATUS run_request(const std::string& what, F&& start) {
  ndkxx::Outcome outcome = ndkxx::request(std::forward<F>(start), stoppable_wait());
  if (outcome.timed_out) throw_unfinished(what);
  return outcome.status;
}

template <class F>
void request(const std::string& what, F&& start) {
  NTSTATUS status = run_request(what, std::forward<F>(start));
  if (status != STATUS_SUCCESS) throw_status(what, status);
}

template <class T, class F>
T* create(const std::string& what, F&& start) {
  ndkxx::Created<T> created = ndkxx::create<T>(std::forward<F>(start), stoppable_wait());
  if (created.timed_out) throw_unfinished(what);
  if (!created.ok()) throw_status(what, created.status);
  return created.object;
}

// Closes any NDK object except the adapter, waiting for a pending close (through a stop request
// too: objects left open would keep the adapter from closing). Never throws: a close that does
// not complete in time is reported on stderr and the object is leaked; close_failed() then
// becomes true and the adapter is left open instead of blocking forever.
void close_object(void* object);
bool close_failed();

// Owns an NDK object and closes it on destruction.
template <class T>
using Owned = ndkxx::Handle<T>;

// ---- adapter
// An open adapter; the constructor throws Error naming the URI, the status and what it usually
// means.
class Adapter : public ndkxx::Adapter {
 public:
  explicit Adapter(const std::string& uri);
  SOFTNDK_ADAPTER_COUNTERS counters() const;
  // How the transport moves data between two adapters (SoftNdkQueryAdapterTransport).
  std::string data_path() const;
};

// What an adapter-open status usually means, for messages ("" if nothing useful to add).
std::string open_hint(NTSTATUS status);

// ---- completion queue
class Cq {
 public:
  // notifications: wait() arms the CQ (NDK_CQ_NOTIFY_ANY) and sleeps until the notification
  // callback instead of spinning on NdkGetCqResultsEx.
  Cq(Adapter& adapter, ULONG depth, bool notifications);
  Cq(const Cq&) = delete;
  Cq& operator=(const Cq&) = delete;

  NDK_CQ* get() const { return cq_.get(); }
  bool notifications() const { return notifications_; }
  // Switches how wait() waits (one thread uses the CQ: call it between waits). The
  // notification callback stays registered either way; a leftover arm is harmless.
  void set_notifications(bool notifications) { notifications_ = notifications; }
  ULONG poll(NDK_RESULT_EX* results, ULONG capacity) { return cq_.poll(results, capacity); }
  // Up to `capacity` completions, waiting until at least one arrived; 0 once `deadline` passed.
  // Throws Error on a CQ error notification (overrun) and when a stop was requested.
  ULONG wait(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline);
  uint64_t notification_count() const { return cq_.notification_count(); }

 private:
  ULONG wait_polling(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline);
  ULONG wait_notified(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline);

  bool notifications_;
  ndkxx::Cq cq_;
};

// ---- memory
// Host memory (page-aligned, zero-filled) registered with NdkRegisterMr; throws Error when it
// cannot be. Closing the MR deregisters it before the memory is freed.
class Region {
 public:
  Region(NDK_PD* pd, size_t bytes, ULONG flags);
  std::byte* data() const { return reinterpret_cast<std::byte*>(region_.data()); }
  size_t size() const { return region_.size(); }
  uint64_t address(size_t offset = 0) const { return region_.address(offset); }
  NDK_MR* mr() const { return region_.mr(); }
  UINT32 local_token() const { return region_.local_token(); }
  UINT32 remote_token() const { return region_.remote_token(); }
  NDK_SGE sge(size_t offset, size_t bytes) const { return region_.sge(offset, bytes); }

 private:
  ndkxx::Region region_;
};

// A logical address mapping (NdkBuildLAM) of host memory, released on destruction; throws Error
// when it cannot be built. For NdkFastRegister (`perf fastreg`, `sendinv`, `chaos`).
class Lam {
 public:
  Lam(Adapter& adapter, std::byte* data, size_t bytes);
  ULONG page_count() const { return lam_.pages(); }
  const NDK_LOGICAL_ADDRESS* pages() const { return lam_.page_array(); }
  ULONG fbo() const { return lam_.fbo(); }

 private:
  MDL mdl_;
  ndkxx::Lam lam_;  // after mdl_: built from it
};

// A fast-register MR in `pd` initialized for `pages` adapter pages with remote access; throws
// Error (its status() tells STATUS_NOT_SUPPORTED apart).
Owned<NDK_MR> fast_register_mr(NDK_PD* pd, ULONG pages);

}  // namespace softndk::cli
