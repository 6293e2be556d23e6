// Implementation of core/adapter.h.
#include "core/adapter.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "core/profiles.h"
#include "util/log.h"

namespace softndk::core {

AdapterConfig AdapterConfig::defaults(const transport::Capabilities& caps) {
  AdapterConfig c;
  NDK_ADAPTER_INFO& i = c.info;
  i.VendorId = 0x00534e;  // "SN": not an IEEE OUI; identifies softndk in diagnostics
  i.DeviceId = 1;
  i.MaxRegistrationSize = SIZE_T{1} << 40;
  i.MaxWindowSize = SIZE_T{1} << 40;
  i.FRMRPageCount = 256;
  i.MaxInitiatorRequestSge = 16;
  i.MaxReceiveRequestSge = 16;
  i.MaxReadRequestSge = 16;
  i.MaxTransferLength = 1u << 30;
  i.MaxInlineDataSize = 256;
  i.MaxInboundReadLimit = 128;
  i.MaxOutboundReadLimit = 128;
  i.MaxReceiveQueueDepth = 16384;
  i.MaxInitiatorQueueDepth = 16384;
  i.MaxSrqDepth = 16384;
  i.MaxCqDepth = 1u << 20;
  i.LargeRequestThreshold = 16384;
  i.MaxCallerData = caps.max_private_data_request;
  i.MaxCalleeData = caps.max_private_data_reply;
  i.AdapterFlags = NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED |
                   NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED |
                   NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED |
                   NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED;
  // tcp and shm carry RDMAP/DDP (RFC 5040/5041): a Send or Write completes when the link took it.
  i.RdmaTechnology = caps.name == "tcp" || caps.name == "shm" ? NdkiWarp : NdkUndefined;
  return c;
}

namespace {
bool parse_u64(const std::string& text, uint64_t* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), &end, 0);
  if (errno != 0 || *end != '\0' || text[0] == '-') return false;
  *out = v;
  return true;
}
}  // namespace

bool AdapterConfig::apply_fault_option(const std::string& key, const std::string& value,
                                       NTSTATUS* status) {
  if (key == "faults") {
    has_faults = true;
    faults = value;  // parsed when the adapter opens (Adapter::apply_fault_options)
    *status = STATUS_SUCCESS;
    return true;
  }
  if (key != "fault_seed") return false;
  *status = parse_u64(value, &fault_seed) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
  has_fault_seed = *status == STATUS_SUCCESS;
  return true;
}

NTSTATUS AdapterConfig::apply_option(const std::string& key, const std::string& value) {
  if (NTSTATUS s; apply_direction_option(key, value, this, &s)) return s;
  uint64_t v = 0;
  auto u32 = [&](ULONG* field, uint64_t min, uint64_t max) -> NTSTATUS {
    if (!parse_u64(value, &v) || v < min || v > max) return STATUS_INVALID_PARAMETER;
    *field = static_cast<ULONG>(v);
    return STATUS_SUCCESS;
  };
  auto flag = [&](uint32_t bit) -> NTSTATUS {
    if (value != "0" && value != "1") return STATUS_INVALID_PARAMETER;
    if (value == "1") {
      info.AdapterFlags |= bit;
    } else {
      info.AdapterFlags &= ~bit;
    }
    return STATUS_SUCCESS;
  };
  if (key == "max_cq_depth") return u32(&info.MaxCqDepth, 1, 1u << 24);
  if (key == "max_qp_depth") {
    NTSTATUS s = u32(&info.MaxInitiatorQueueDepth, 1, 1u << 20);
    if (s == STATUS_SUCCESS) info.MaxReceiveQueueDepth = info.MaxInitiatorQueueDepth;
    return s;
  }
  if (key == "max_srq_depth") return u32(&info.MaxSrqDepth, 0, 1u << 20);
  if (key == "max_sge") {
    NTSTATUS s = u32(&info.MaxInitiatorRequestSge, 1, 256);
    if (s == STATUS_SUCCESS)
      info.MaxReceiveRequestSge = info.MaxReadRequestSge = info.MaxInitiatorRequestSge;
    return s;
  }
  if (key == "max_inline") return u32(&info.MaxInlineDataSize, 0, 1u << 16);
  if (key == "max_read_limit") {
    NTSTATUS s = u32(&info.MaxInboundReadLimit, 1, 16383);
    if (s == STATUS_SUCCESS) info.MaxOutboundReadLimit = info.MaxInboundReadLimit;
    return s;
  }
  if (key == "max_transfer") return u32(&info.MaxTransferLength, 1, 0xffffffffu);
  if (key == "frmr_pages") return u32(&info.FRMRPageCount, 16, 1u << 20);
  if (key == "max_caller_data") return u32(&info.MaxCallerData, 0, 4096);
  if (key == "max_callee_data") return u32(&info.MaxCalleeData, 0, 4096);
  if (key == "read_sink_not_required") return flag(NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED);
  if (key == "cq_moderation") return flag(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED);
  if (key == "cq_resize") return flag(NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED);
  if (key == "read_local_invalidate")
    return flag(NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED);
  if (key == "max_stags") {
    if (!parse_u64(value, &v) || v < 16 || v > (1u << 20)) return STATUS_INVALID_PARAMETER;
    stag_capacity = static_cast<uint32_t>(v);
    return STATUS_SUCCESS;
  }
  if (key == "connect_timeout_ms") {
    if (!parse_u64(value, &v) || v < 1 || v > 600000) return STATUS_INVALID_PARAMETER;
    connect_timeout_ms = static_cast<uint32_t>(v);
    return STATUS_SUCCESS;
  }
  if (key == "pending") {
    if (value == "never") {
      pending = PendingMode::Never;
    } else if (value == "always") {
      pending = PendingMode::Always;
    } else if (value == "random") {
      pending = PendingMode::Random;
    } else {
      return STATUS_INVALID_PARAMETER;
    }
    return STATUS_SUCCESS;
  }
  if (NTSTATUS s; apply_fault_option(key, value, &s)) return s;
  if (key == "seed") {
    if (!parse_u64(value, &v)) return STATUS_INVALID_PARAMETER;
    seed = v;
    return STATUS_SUCCESS;
  }
  return STATUS_INVALID_PARAMETER;
}

Adapter::Adapter(NDK_VERSION version, const DispatchTables* tables)
    : Object(nullptr, NdkObjectTypeAdapter, tables->adapter), version_(version), tables_(tables) {
  header()->Version = version;
}

NTSTATUS Adapter::open(NDK_VERSION version, const TransportFactory& make_transport,
                       const std::map<std::string, std::string>& options,
                       const DispatchTables* tables, Adapter** out) {
  std::unique_ptr<Adapter> adapter(new Adapter(version, tables));
  NTSTATUS status = make_transport(&adapter->dispatcher_, &adapter->transport_);
  if (status != STATUS_SUCCESS) return status;
  const transport::Capabilities& caps = adapter->transport_->capabilities();
  AdapterConfig config = AdapterConfig::defaults(caps);
  // The profile first, so that every other option overrides its values.
  if (auto it = options.find("profile"); it != options.end()) {
    const Profile* profile = find_profile(it->second);
    if (profile == nullptr) {
      SOFTNDK_LOG(Warn, "adapter URI: unknown profile '%s'", it->second.c_str());
      return STATUS_INVALID_PARAMETER;
    }
    apply_profile(*profile, caps.max_private_data_request, caps.max_private_data_reply, &config);
  }
  for (const auto& [key, value] : options) {
    if (key == "profile") continue;
    status = config.apply_option(key, value);
    if (status != STATUS_SUCCESS) {
      SOFTNDK_LOG(Warn, "adapter URI: bad option '%s=%s'", key.c_str(), value.c_str());
      return status;
    }
  }
  config.info.Version = version;
  adapter->config_ = config;
  adapter->random_state_ = config.seed * 0x9E3779B97F4A7C15ull + 1;
  adapter->stags_ = std::make_unique<StagTable>(config.stag_capacity);
  status = adapter->apply_fault_options();
  if (status != STATUS_SUCCESS) return status;
  // call.open_adapter (docs/faults.md): the open fails as a provider that is out of resources
  // (NDIS_STATUS_RESOURCES) or whose NDK service is disabled (NDIS_STATUS_ADAPTER_NOT_READY)
  // fails it; the half-built adapter goes away with everything it started.
  if (FaultPlan* plan = adapter->faults(); plan != nullptr) {
    FaultAction action;
    if (plan->fire(FaultPoint::OpenAdapter, adapter.get(), "SoftNdkOpenAdapter", &action))
      return action.status;
  }
  *out = adapter.release();
  return STATUS_SUCCESS;
}

NTSTATUS Adapter::apply_fault_options() {
  // The URI wins; the environment serves consumers that cannot change their URI.
  std::string text = config_.faults;
  uint64_t seed = config_.fault_seed;
  if (!config_.has_faults) {
    const char* env = std::getenv("SOFTNDK_FAULTS");
    text = env != nullptr ? env : "";
  }
  if (!config_.has_fault_seed) {
    const char* env = std::getenv("SOFTNDK_FAULT_SEED");
    if (env != nullptr && *env != '\0' && !parse_u64(env, &seed)) {
      SOFTNDK_LOG(Warn, "SOFTNDK_FAULT_SEED: not a number: '%s'", env);
      return STATUS_INVALID_PARAMETER;
    }
  }
  if (text.empty()) {
    if (config_.has_faults) SOFTNDK_LOG(Warn, "adapter URI: empty fault plan");
    return config_.has_faults ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
  }
  return set_fault_plan(text, seed);
}

NTSTATUS Adapter::set_fault_plan(std::string_view text, uint64_t seed) {
  std::unique_ptr<FaultPlan> plan;
  if (!text.empty()) {
    std::string error;
    NTSTATUS status = FaultPlan::parse(text, seed, &plan, &error);
    if (status == STATUS_SUCCESS && !plan->check_transport(transport_->capabilities().name, &error))
      status = STATUS_INVALID_PARAMETER;
    if (status != STATUS_SUCCESS) {
      SOFTNDK_LOG(Warn, "fault plan '%.*s': %s", static_cast<int>(text.size()), text.data(),
                  error.c_str());
      return status;
    }
    SOFTNDK_LOG(Info, "fault plan '%.*s', seed %llu", static_cast<int>(text.size()), text.data(),
                static_cast<unsigned long long>(seed));
  }
  std::lock_guard lock(faults_mutex_);
  faults_.store(plan.get(), std::memory_order_release);
  if (plan != nullptr) fault_plans_.push_back(std::move(plan));
  return STATUS_SUCCESS;
}

uint64_t Adapter::faults_injected() {
  std::lock_guard lock(faults_mutex_);
  uint64_t total = 0;
  for (const auto& plan : fault_plans_) total += plan->fired();
  return total;
}

Adapter::~Adapter() {
  dispatcher_.stop();   // no task may run while members go away
  transport_.reset();
}

void Adapter::child_destroyed() {
  if (children_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard lock(close_mutex_);
    close_cv_.notify_all();
  }
}

void Adapter::close_blocking() {
  {
    std::unique_lock lock(close_mutex_);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (children_.load(std::memory_order_acquire) != 0) {
      if (close_cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
          children_.load() != 0) {
        SOFTNDK_LOG(Warn,
                    "adapter close: %lld objects are still open; waiting for the consumer to "
                    "close them (a consumer bug: CLOSE_NDK_ADAPTER_HANDLER)",
                    static_cast<long long>(children_.load()));
        deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      }
    }
  }
  if (observer_ != nullptr) observer_->on_children_closed();
  // Every child is gone, so every close completion has returned; let queued work finish.
  dispatcher_.stop();
}

bool Adapter::should_pend() {
  switch (config_.pending) {
    case PendingMode::Never:
      return false;
    case PendingMode::Always:
      return true;
    case PendingMode::Random: {
      std::lock_guard lock(random_mutex_);
      random_state_ ^= random_state_ << 13;
      random_state_ ^= random_state_ >> 7;
      random_state_ ^= random_state_ << 17;
      return (random_state_ & 1) != 0;
    }
  }
  return false;
}

NTSTATUS Adapter::finish_request(Object* owner, NTSTATUS status,
                                 NDK_FN_REQUEST_COMPLETION completion, void* context) {
  if (completion == nullptr || !should_pend()) return status;
  owner->add_ref();
  dispatcher_.post([owner, status, completion, context] {
    completion(context, status);
    owner->release();
  });
  return STATUS_PENDING;
}

NTSTATUS Adapter::finish_create(Object* created, NDK_FN_CREATE_COMPLETION completion,
                                void* context, void** out) {
  if (completion == nullptr || !should_pend()) {
    *out = created->header();
    return STATUS_SUCCESS;
  }
  dispatcher_.post([created, completion, context] {
    completion(context, STATUS_SUCCESS, created->header());
  });
  return STATUS_PENDING;
}

void Adapter::register_traffic(TrafficCounters* traffic) {
  std::lock_guard lock(traffic_mutex_);
  traffic_.push_back(traffic);
}

void Adapter::retire_traffic(TrafficCounters* traffic) {
  std::lock_guard lock(traffic_mutex_);
  retired_[0] += traffic->in_octets.load(std::memory_order_relaxed);
  retired_[1] += traffic->out_octets.load(std::memory_order_relaxed);
  retired_[2] += traffic->in_frames.load(std::memory_order_relaxed);
  retired_[3] += traffic->out_frames.load(std::memory_order_relaxed);
  traffic_.erase(std::remove(traffic_.begin(), traffic_.end(), traffic), traffic_.end());
}

NTSTATUS Adapter::query_counters(void* out, ULONG* size) {
  struct Layout {
    uint64_t connects, accepts, connect_failures, connection_errors, active, cq_errors, in_octets,
        out_octets, in_frames, out_frames, faults_injected;
  };
  // Callers built before FaultsInjected was appended pass the older, smaller size: they get
  // the counters they know.
  constexpr ULONG kOld = offsetof(Layout, faults_injected);
  if (size == nullptr) return STATUS_INVALID_PARAMETER;
  if (out == nullptr || *size < kOld) {
    *size = sizeof(Layout);
    return STATUS_BUFFER_TOO_SMALL;
  }
  Layout c{};
  c.connects = counters_.connects.load();
  c.accepts = counters_.accepts.load();
  c.connect_failures = counters_.connect_failures.load();
  c.connection_errors = counters_.connection_errors.load();
  c.active = counters_.active.load();
  c.cq_errors = counters_.cq_errors.load();
  {
    std::lock_guard lock(traffic_mutex_);
    c.in_octets = retired_[0];
    c.out_octets = retired_[1];
    c.in_frames = retired_[2];
    c.out_frames = retired_[3];
    for (TrafficCounters* t : traffic_) {
      c.in_octets += t->in_octets.load(std::memory_order_relaxed);
      c.out_octets += t->out_octets.load(std::memory_order_relaxed);
      c.in_frames += t->in_frames.load(std::memory_order_relaxed);
      c.out_frames += t->out_frames.load(std::memory_order_relaxed);
    }
  }
  c.faults_injected = faults_injected();
  const ULONG written = *size >= sizeof c ? ULONG{sizeof c} : kOld;
  std::memcpy(out, &c, written);
  *size = written;
  return STATUS_SUCCESS;
}

std::byte* contiguous_start(const MDL* mdl, SIZE_T length) {
  if (mdl == nullptr || length == 0) return nullptr;
  auto* start = static_cast<std::byte*>(MmGetMdlVirtualAddress(mdl));
  std::byte* expected = start;
  SIZE_T covered = 0;
  for (const MDL* m = mdl; m != nullptr && covered < length; m = m->Next) {
    if (static_cast<std::byte*>(MmGetMdlVirtualAddress(m)) != expected) return nullptr;
    covered += m->ByteCount;
    expected += m->ByteCount;
  }
  return covered >= length ? start : nullptr;
}

NTSTATUS Adapter::build_lam(MDL* mdl, SIZE_T length, NDK_FN_REQUEST_COMPLETION completion,
                            void* context, NDK_LOGICAL_ADDRESS_MAPPING* lam, ULONG* lam_size,
                            ULONG* fbo) {
  if (mdl == nullptr || lam_size == nullptr || fbo == nullptr || length == 0)
    return STATUS_INVALID_PARAMETER;
  std::byte* start = contiguous_start(mdl, length);
  if (start == nullptr) return STATUS_INVALID_PARAMETER;
  uint64_t first = reinterpret_cast<uintptr_t>(start) % PAGE_SIZE;
  uint64_t pages = (first + length + PAGE_SIZE - 1) / PAGE_SIZE;
  uint64_t required = offsetof(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageArray) +
                      pages * sizeof(NDK_LOGICAL_ADDRESS);
  if (required > 0xffffffffu) return STATUS_INVALID_PARAMETER;
  if (lam == nullptr || *lam_size < required) {
    *lam_size = static_cast<ULONG>(required);
    return STATUS_BUFFER_TOO_SMALL;
  }
  uint32_t page_count = 0;
  uint32_t offset = 0;
  static_assert(sizeof(NDK_LOGICAL_ADDRESS) == sizeof(int64_t));
  uint64_t context_value = lams_.map(start, length, &page_count, &offset,
                                     reinterpret_cast<int64_t*>(lam->AdapterPageArray),
                                     static_cast<uint32_t>(pages));
  if (context_value == 0) return STATUS_INSUFFICIENT_RESOURCES;
  lam->AdapterContext = reinterpret_cast<PVOID>(context_value);
  lam->AdapterPageCount = page_count;
  *lam_size = static_cast<ULONG>(required);
  *fbo = offset;
  return finish_request(this, STATUS_SUCCESS, completion, context);
}

void Adapter::release_lam(NDK_LOGICAL_ADDRESS_MAPPING* lam) {
  if (lam == nullptr) return;
  lams_.unmap(reinterpret_cast<uint64_t>(lam->AdapterContext));
  lam->AdapterContext = nullptr;
}

NTSTATUS Adapter::query_info(NDK_ADAPTER_INFO* info, ULONG* size) {
  if (size == nullptr) return STATUS_INVALID_PARAMETER;
  constexpr ULONG kFull = sizeof(NDK_ADAPTER_INFO);
  constexpr ULONG kOld = offsetof(NDK_ADAPTER_INFO, RdmaTechnology);
  if (info == nullptr || *size < kOld) {
    *size = kFull;
    return STATUS_BUFFER_TOO_SMALL;
  }
  ULONG written = *size >= kFull ? kFull : kOld;
  std::memcpy(info, &config_.info, written);
  *size = written;
  return STATUS_SUCCESS;
}

}  // namespace softndk::core
