// Implementation of ndk.h: the wait policy, closes, the adapter, the CQ wait strategies, memory
// (regions, LAMs, fast-register MRs).
#include "ndk.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <thread>

namespace softndk::cli {

// ---------------------------------------------------------------------------------------------
// Errors and the wait policy

std::string status_text(NTSTATUS status) {
  char code[16];
  std::snprintf(code, sizeof code, "0x%08" PRIX32, static_cast<uint32_t>(status));
  std::string name = SoftNdkStatusName(status);
  if (name.rfind("STATUS_0x", 0) == 0) return name;
  return name + " (" + code + ")";
}

void throw_status(const std::string& what, NTSTATUS status) {
  throw Error(what + " failed: " + status_text(status), status);
}

namespace {
std::atomic<int64_t> g_timeout_ns{std::chrono::nanoseconds(std::chrono::seconds(10)).count()};
std::atomic<bool> g_stop{false};
std::atomic<bool> g_counters_requested{false};

void print_close_failure(int type, const ndkxx::Outcome& outcome) {
  if (outcome.timed_out) {
    std::fprintf(stderr, "softndk: closing an NDK object (type %d) did not complete within %s\n",
                 type, timeout_text().c_str());
  } else {
    std::fprintf(stderr, "softndk: closing an NDK object (type %d) returned %s\n", type,
                 status_text(outcome.status).c_str());
  }
}
}  // namespace

void set_wait_timeout(Clock::duration timeout) {
  g_timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  ndkxx::set_default_timeout(timeout);
}

Clock::duration wait_timeout() {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(g_timeout_ns.load()));
}

std::string timeout_text() {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", std::chrono::duration<double>(wait_timeout()).count());
  return text;
}

Clock::time_point deadline_from_now() { return Clock::now() + wait_timeout(); }

void request_stop() { g_stop.store(true); }
void request_counters() { g_counters_requested.store(true); }
bool take_counters_request() { return g_counters_requested.exchange(false); }
bool stop_requested() { return g_stop.load(std::memory_order_relaxed); }
const std::atomic<bool>* stop_flag() { return &g_stop; }
void check_stop() {
  if (stop_requested()) throw Error("interrupted");
}

ndkxx::Wait stoppable_wait(bool spin) { return ndkxx::Wait{wait_timeout(), &g_stop, spin}; }

void install_close_failure_report() { ndkxx::set_close_failure_handler(&print_close_failure); }

void throw_unfinished(const std::string& what) {
  check_stop();
  throw Error(what + ": no completion within " + timeout_text(), STATUS_IO_TIMEOUT);
}

void close_object(void* object) {
  if (object == nullptr) return;
  const int type = static_cast<NDK_OBJECT_HEADER*>(object)->ObjectType;
  // A close never fails; only a provider that never completes it would keep us here.
  ndkxx::Outcome outcome = ndkxx::close(object, ndkxx::Wait{wait_timeout()});
  if (!outcome.ok()) print_close_failure(type, outcome);
}

bool close_failed() { return ndkxx::close_failed(); }

// ---------------------------------------------------------------------------------------------
// Adapter

std::string open_hint(NTSTATUS status) {
  switch (status) {
    case STATUS_NOT_SUPPORTED:
      return "the transport scheme is unknown or not built into this libsoftndk (see "
             "`softndk info` for the transports it has)";
    case STATUS_INVALID_PARAMETER:
      return "malformed URI, unknown option or invalid option value (README.md, \"Adapter "
             "URIs\")";
    case STATUS_INVALID_ADDRESS:
      return "the URI's address is not an address of this host (tcp://0.0.0.0 or tcp://[::] "
             "stands for every address)";
    case NDIS_STATUS_ADAPTER_NOT_READY:
      return "the transport cannot provide NDK service right now";
    case NDIS_STATUS_BAD_VERSION:
      return "NDKPI version not supported";
    case STATUS_INSUFFICIENT_RESOURCES:
      return "out of resources";
    default:
      return "";
  }
}

Adapter::Adapter(const std::string& uri) : ndkxx::Adapter(uri) {
  if (open_status() != STATUS_SUCCESS) {
    std::string hint = open_hint(open_status());
    throw Error("cannot open adapter \"" + uri + "\": " + status_text(open_status()) +
                    (hint.empty() ? "" : ": " + hint),
                open_status());
  }
  if (info_status() != STATUS_SUCCESS) throw_status("NdkQueryAdapterInfo", info_status());
}

SOFTNDK_ADAPTER_COUNTERS Adapter::counters() const {
  SOFTNDK_ADAPTER_COUNTERS counters{};
  NTSTATUS status = query_counters(&counters);
  if (status != STATUS_SUCCESS) throw_status("SoftNdkQueryAdapterCounters", status);
  return counters;
}

std::string Adapter::data_path() const {
  SOFTNDK_ADAPTER_TRANSPORT transport{};
  NTSTATUS status = SoftNdkQueryAdapterTransport(get(), &transport);
  if (status != STATUS_SUCCESS) throw_status("SoftNdkQueryAdapterTransport", status);
  return transport.DataPath != nullptr ? transport.DataPath : "";
}

// ---------------------------------------------------------------------------------------------
// Cq

Cq::Cq(Adapter& adapter, ULONG depth, bool notifications) : notifications_(notifications) {
  NTSTATUS status = cq_.create(adapter.get(), depth, stoppable_wait());
  if (status == STATUS_IO_TIMEOUT) throw_unfinished("NdkCreateCq");
  if (status != STATUS_SUCCESS) throw_status("NdkCreateCq", status);
}

ULONG Cq::wait(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline) {
  return notifications_ ? wait_notified(results, capacity, deadline)
                        : wait_polling(results, capacity, deadline);
}

ULONG Cq::wait_polling(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline) {
  for (uint32_t spins = 1;; ++spins) {
    ULONG n = poll(results, capacity);
    if (n != 0) return n;
    if ((spins & 1023) == 0) {
      check_stop();
      if (Clock::now() >= deadline) return 0;
      std::this_thread::yield();  // be fair when the cores are oversubscribed
    }
  }
}

ULONG Cq::wait_notified(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline) {
  for (;;) {
    ULONG n = poll(results, capacity);
    if (n != 0) return n;
    NTSTATUS error = cq_.last_notification_status();
    if (error != STATUS_SUCCESS) throw Error("CQ error notification: " + status_text(error));
    // Arm, then poll once more: a completion that arrived between the poll and the arm is
    // either returned here or triggers the callback (Microsoft's NDKPI reference).
    const uint64_t seen = cq_.notification_count();
    cq_.arm(NDK_CQ_NOTIFY_ANY);
    n = poll(results, capacity);
    if (n != 0) return n;
    if (!cq_.wait_notification(seen, deadline, &g_stop)) {
      check_stop();
      return 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Memory

Region::Region(NDK_PD* pd, size_t bytes, ULONG flags)
    : region_(pd, bytes, flags, 0, stoppable_wait()) {
  if (region_.status() == STATUS_IO_TIMEOUT) throw_unfinished("registering memory");
  if (region_.status() != STATUS_SUCCESS)
    throw_status("registering " + std::to_string(bytes) + " bytes", region_.status());
}

namespace {
MDL mdl_of(std::byte* data, size_t bytes) {
  MDL mdl{};
  SoftNdkInitializeMdl(&mdl, data, bytes);
  return mdl;
}
}  // namespace

Lam::Lam(Adapter& adapter, std::byte* data, size_t bytes)
    : mdl_(mdl_of(data, bytes)), lam_(adapter.get(), &mdl_, bytes, stoppable_wait()) {
  if (lam_.size_status() != STATUS_BUFFER_TOO_SMALL)
    throw_status("NdkBuildLAM (size)", lam_.size_status());
  if (lam_.status() == STATUS_IO_TIMEOUT) throw_unfinished("NdkBuildLAM");
  if (lam_.status() != STATUS_SUCCESS) throw_status("NdkBuildLAM", lam_.status());
}

Owned<NDK_MR> fast_register_mr(NDK_PD* pd, ULONG pages) {
  Owned<NDK_MR> mr(create<NDK_MR>("NdkCreateMr (fast-register)", [&](auto cb, void* ctx,
                                                                     NDK_MR** out) {
    return pd->Dispatch->NdkCreateMr(pd, TRUE, cb, ctx, out);
  }));
  NDK_MR* m = mr.get();
  request("NdkInitializeFastRegisterMr", [&](auto cb, void* ctx) {
    return m->Dispatch->NdkInitializeFastRegisterMr(m, pages, TRUE, cb, ctx);
  });
  return mr;
}

}  // namespace softndk::cli
