// The adapter: root of the object tree. Owns the limits it reports (and enforces), the
// transport instance, the event thread, the STag and logical-address tables, and the count of
// live children that the blocking adapter close waits for (CLOSE_NDK_ADAPTER_HANDLER).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <softndk/ndkpi.h>

#include "core/dispatcher.h"
#include "core/faults.h"
#include "core/memory.h"
#include "core/object.h"
#include "transport/transport.h"

namespace softndk::core {

// Dispatch tables, supplied by the ABI layer; the core only stores them in new objects.
struct DispatchTables {
  const NDK_ADAPTER_DISPATCH* adapter;
  const NDK_CQ_DISPATCH* cq;
  const NDK_PD_DISPATCH* pd;
  const NDK_MR_DISPATCH* mr;
  const NDK_MW_DISPATCH* mw;
  const NDK_SRQ_DISPATCH* srq;
  const NDK_QP_DISPATCH* qp;
  const NDK_SHARED_ENDPOINT_DISPATCH* shared_endpoint;
  const NDK_CONNECTOR_DISPATCH* connector;
  const NDK_LISTENER_DISPATCH* listener;
};

// How asynchronous functions finish: inline whenever possible (the default), always through
// STATUS_PENDING and the completion callback, or a seeded random mix of both.
enum class PendingMode { Never, Always, Random };

struct AdapterConfig {
  NDK_ADAPTER_INFO info{};  // limits and flags reported and enforced
  PendingMode pending = PendingMode::Never;
  uint32_t stag_capacity = 1u << 16;
  uint32_t connect_timeout_ms = 10000;  // reply, ready leg, disconnect handshake
  uint64_t seed = 1;
  uint32_t max_frmr_pages = 1u << 20;  // NdkInitializeFastRegisterMr's AdapterPageCount limit
  std::string profile = "softndk";      // core/profiles.h
  // Fault injection (docs/faults.md): the URI's `faults=` and `fault_seed=`.
  bool has_faults = false;
  std::string faults;
  bool has_fault_seed = false;
  uint64_t fault_seed = 1;

  static AdapterConfig defaults(const transport::Capabilities& caps);
  // Applies one "key=value" option of the adapter URI; STATUS_INVALID_PARAMETER when the key
  // is unknown or the value malformed or out of range.
  NTSTATUS apply_option(const std::string& key, const std::string& value);
  // faults= and fault_seed=: true when `key` is one of them (*status set).
  bool apply_fault_option(const std::string& key, const std::string& value, NTSTATUS* status);
};

class Qp;

// Data-path counters of one queue pair: each field has a single writer (the transmit engine or
// the receive path), so relaxed stores without read-modify-write contention suffice.
struct TrafficCounters {
  std::atomic<uint64_t> out_frames{0}, out_octets{0}, in_frames{0}, in_octets{0};
  static void add(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

struct ConnectionCounters {
  std::atomic<uint64_t> connects{0}, accepts{0}, connect_failures{0}, connection_errors{0},
      active{0}, cq_errors{0};
};

class Adapter final : public Object {
 public:
  // Creates the transport through `make_transport` (given this adapter's executor), derives
  // the limits from its capabilities and applies the remaining URI options.
  using TransportFactory =
      std::function<NTSTATUS(transport::Executor*, transport::TransportPtr*)>;
  static NTSTATUS open(NDK_VERSION version, const TransportFactory& make_transport,
                       const std::map<std::string, std::string>& options,
                       const DispatchTables* tables, Adapter** out);
  ~Adapter() override;

  NDK_VERSION version() const { return version_; }
  const NDK_ADAPTER_INFO& info() const { return config_.info; }
  const AdapterConfig& config() const { return config_; }
  bool has_flag(uint32_t flag) const { return (config_.info.AdapterFlags & flag) != 0; }
  const DispatchTables& tables() const { return *tables_; }
  Dispatcher& dispatcher() { return dispatcher_; }
  transport::Transport& transport() { return *transport_; }
  StagTable& stags() { return *stags_; }
  LamTable& lams() { return lams_; }

  // Verifier mode (abi/verifier.h); set once at open, before any child exists.
  ObjectObserver* observer() const { return observer_; }
  void set_observer(ObjectObserver* observer) { observer_ = observer; }

  void child_created() { children_.fetch_add(1, std::memory_order_relaxed); }
  void child_destroyed();
  // Blocks until every child is closed and every callback has returned, then stops.
  void close_blocking();

  // Finishes an asynchronous request with `status`: returned inline, or (pending mode)
  // STATUS_PENDING now and the callback later. `owner` is kept alive until the callback ran.
  NTSTATUS finish_request(Object* owner, NTSTATUS status, NDK_FN_REQUEST_COMPLETION completion,
                          void* context);
  // Same for create functions: on success either stores the object in *out and returns
  // STATUS_SUCCESS, or returns STATUS_PENDING and delivers it through the callback.
  NTSTATUS finish_create(Object* created, NDK_FN_CREATE_COMPLETION completion, void* context,
                         void** out);
  // Whether the next asynchronous function should go through STATUS_PENDING.
  bool should_pend();

  // NdkBuildLAM / NdkReleaseLAM.
  NTSTATUS build_lam(MDL* mdl, SIZE_T length, NDK_FN_REQUEST_COMPLETION completion, void* context,
                     NDK_LOGICAL_ADDRESS_MAPPING* lam, ULONG* lam_size, ULONG* fbo);
  void release_lam(NDK_LOGICAL_ADDRESS_MAPPING* lam);
  NTSTATUS query_info(NDK_ADAPTER_INFO* info, ULONG* size);

  // Fault injection (core/faults.h, docs/faults.md). faults() is the one load the hooks make:
  // null (the usual case) means no plan, and the hook costs a predictable branch.
  FaultPlan* faults() const { return faults_.load(std::memory_order_acquire); }
  // Replaces the plan (empty text: none). STATUS_INVALID_PARAMETER (logged, plan unchanged)
  // for a malformed plan or one the transport cannot honour.
  NTSTATUS set_fault_plan(std::string_view text, uint64_t seed);
  uint64_t faults_injected();

  // Counters (softndk.h SoftNdkQueryAdapterCounters).
  ConnectionCounters& counters() { return counters_; }
  void register_traffic(TrafficCounters* traffic);
  void retire_traffic(TrafficCounters* traffic);  // adds its totals, forgets it
  NTSTATUS query_counters(void* out, ULONG* size);

 private:
  NDK_VERSION version_;
  AdapterConfig config_;
  const DispatchTables* tables_;
  ObjectObserver* observer_ = nullptr;
  std::unique_ptr<StagTable> stags_;
  LamTable lams_;
  transport::TransportPtr transport_;
  std::atomic<int64_t> children_{0};
  std::mutex close_mutex_;
  std::condition_variable close_cv_;
  ConnectionCounters counters_;
  std::mutex traffic_mutex_;
  std::vector<TrafficCounters*> traffic_;
  uint64_t retired_[4] = {0, 0, 0, 0};
  std::atomic<FaultPlan*> faults_{nullptr};
  std::mutex faults_mutex_;
  // Every plan ever set, kept until the adapter goes: a hook may still use a replaced one.
  std::vector<std::unique_ptr<FaultPlan>> fault_plans_;
  std::mutex random_mutex_;
  uint64_t random_state_ = 1;
  Dispatcher dispatcher_;  // its thread starts after everything above exists

  Adapter(NDK_VERSION version, const DispatchTables* tables);
  NTSTATUS apply_fault_options();  // at open: the URI's plan, else SOFTNDK_FAULTS
};

// Validates an MDL chain for Length bytes: every element begins where the previous one ended.
// Returns the start address, or nullptr (STATUS_INVALID_PARAMETER) when not contiguous.
std::byte* contiguous_start(const MDL* mdl, SIZE_T length);

}  // namespace softndk::core
