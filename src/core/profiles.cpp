// Implementation of core/profiles.h. Every value is sourced in docs/profiles.md (driver
// constants, vendor documentation, or a stated choice where nothing is published).
#include "core/profiles.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "core/adapter.h"

namespace softndk::core {

namespace {

constexpr ULONG kModeration = NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED;
constexpr ULONG kReadInvalidate = NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED;
constexpr ULONG kResize = NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED;
constexpr ULONG kLoopback = NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED;
constexpr ULONG kSinkFree = NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED;
constexpr SIZE_T kNoLimit = ~SIZE_T{0};

// Field order of NDK_ADAPTER_INFO: Version, VendorId, DeviceId, MaxRegistrationSize,
// MaxWindowSize, FRMRPageCount, MaxInitiatorRequestSge, MaxReceiveRequestSge, MaxReadRequestSge,
// MaxTransferLength, MaxInlineDataSize, MaxInboundReadLimit, MaxOutboundReadLimit,
// MaxReceiveQueueDepth, MaxInitiatorQueueDepth, MaxSrqDepth, MaxCqDepth, LargeRequestThreshold,
// MaxCallerData, MaxCalleeData, AdapterFlags, RdmaTechnology.
constexpr Profile kProfiles[] = {
    {"softndk", "softndk's own limits (the default)",
     {{0, 0}, 0x00534e, 1, SIZE_T{1} << 40, SIZE_T{1} << 40, 256, 16, 16, 16, 1u << 30, 256, 128,
      128, 16384, 16384, 16384, 1u << 20, 16384, 4096, 4096,
      kModeration | kReadInvalidate | kResize | kLoopback, NdkUndefined},
     1u << 20},
    {"mlx5", "NVIDIA/Mellanox ConnectX-5 (mlx5), RoCEv2",
     {{0, 0}, 0x0002c9, 0x1017, kNoLimit, kNoLimit, 256, 30, 32, 30, 1u << 30, 256, 16, 16, 32768,
      32768, 32767, 4194303, 16384, 56, 148, kModeration | kResize | kLoopback | kSinkFree,
      NdkUndefined},
     256},
    {"chelsio-t6", "Chelsio T6 (cxgb4), iWARP",
     {{0, 0}, 0x001425, 0, kNoLimit, kNoLimit, 128, 17, 4, 1, 0x7fffffff, 280, 32, 32, 8190, 8190,
      8190, 65518, 16384, 508, 508, kReadInvalidate | kLoopback, NdkUndefined},
     128},
    {"intel-e810", "Intel E810 (irdma), iWARP",
     {{0, 0}, 0x008086, 0x1592, SIZE_T{1} << 40, SIZE_T{1} << 40, 512, 13, 13, 13, 0x7fffffff, 101,
      127, 255, 32768, 4063, 0, 1048575, 16384, 508, 508, kReadInvalidate | kResize | kLoopback,
      NdkUndefined},
     512},
    {"siw", "Linux soft-iWARP (siw)",
     {{0, 0}, 0x626d74, 0, SIZE_T{1} << 30, SIZE_T{1} << 30, 256, 6, 6, 1, 1u << 30, 80, 128, 128,
      32768, 32768, 327680, 3276800, 16384, 508, 508, kReadInvalidate | kLoopback, NdkUndefined},
     256},
};

bool parse_u32(const std::string& text, uint64_t min, uint64_t max, ULONG* out) {
  if (text.empty() || text[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), &end, 0);
  if (errno != 0 || *end != '\0' || v < min || v > max) return false;
  *out = static_cast<ULONG>(v);
  return true;
}

}  // namespace

std::span<const Profile> profiles() { return kProfiles; }

const Profile* find_profile(const std::string& name) {
  for (const Profile& p : kProfiles)
    if (name == p.name) return &p;
  return nullptr;
}

void apply_profile(const Profile& profile, uint32_t transport_caller, uint32_t transport_callee,
                   AdapterConfig* config) {
  NDK_ADAPTER_INFO& info = config->info;
  NDK_VERSION version = info.Version;
  NDK_RDMA_TECHNOLOGY technology = info.RdmaTechnology;  // what the wire really is
  info = profile.info;
  info.Version = version;
  info.RdmaTechnology = technology;
  info.MaxCallerData = std::min(info.MaxCallerData, transport_caller);
  info.MaxCalleeData = std::min(info.MaxCalleeData, transport_callee);
  info.AdapterFlags &= ~ULONG{NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED};
  config->max_frmr_pages = profile.max_frmr_pages;
  config->profile = profile.name;
}

bool apply_direction_option(const std::string& key, const std::string& value,
                            AdapterConfig* config, NTSTATUS* status) {
  NDK_ADAPTER_INFO& i = config->info;
  struct Option {
    const char* key;
    ULONG* field;
    uint64_t min, max;
  };
  const Option options[] = {
      {"max_sq_depth", &i.MaxInitiatorQueueDepth, 1, 1u << 20},
      {"max_rq_depth", &i.MaxReceiveQueueDepth, 1, 1u << 20},
      {"max_send_sge", &i.MaxInitiatorRequestSge, 1, 256},
      {"max_recv_sge", &i.MaxReceiveRequestSge, 1, 256},
      {"max_read_sge", &i.MaxReadRequestSge, 1, 256},
      {"max_inbound_read", &i.MaxInboundReadLimit, 1, 16383},
      {"max_outbound_read", &i.MaxOutboundReadLimit, 1, 16383},
  };
  for (const Option& o : options) {
    if (key != o.key) continue;
    *status = parse_u32(value, o.min, o.max, o.field) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
    return true;
  }
  if (key == "frmr_max_pages") {
    ULONG pages = 0;
    *status = parse_u32(value, 1, 1u << 20, &pages) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
    if (*status == STATUS_SUCCESS) config->max_frmr_pages = pages;
    return true;
  }
  return false;
}

}  // namespace softndk::core
