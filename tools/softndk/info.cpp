// `softndk info [URI]`: the adapter's NDK_ADAPTER_INFO, its flags decoded, its counters and the
// transports this libsoftndk has, as text or JSON (--json).
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "address.h"
#include "commands.h"
#include "counters.h"
#include "ndk.h"
#include "report.h"

namespace softndk::cli {

namespace {

struct FlagInfo {
  ULONG bit;
  const char* name;
  const char* meaning;
};
constexpr FlagInfo kFlags[] = {
    {NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED, "IN_ORDER_DMA_SUPPORTED",
     "incoming data is placed in byte order (last-byte polling is safe)"},
    {NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED, "RDMA_READ_SINK_NOT_REQUIRED",
     "read sinks need no RDMA_READ_SINK right"},
    {NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED, "CQ_INTERRUPT_MODERATION_SUPPORTED",
     "NdkControlCqInterruptModeration works"},
    {NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED, "MULTI_ENGINE_SUPPORTED",
     "connections are processed by several engines"},
    {NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED,
     "RDMA_READ_LOCAL_INVALIDATE_SUPPORTED", "NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE is honoured"},
    {NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED, "CQ_RESIZE_SUPPORTED", "NdkResizeCq may be used"},
    {NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED, "LOOPBACK_CONNECTIONS_SUPPORTED",
     "a local address may connect to itself on the same adapter"},
};

const char* technology_name(NDK_RDMA_TECHNOLOGY t) {
  switch (t) {
    case NdkUndefined: return "undefined";
    case NdkiWarp: return "iWARP";
    case NdkInfiniBand: return "InfiniBand";
    case NdkRoCE: return "RoCE";
    case NdkRoCEv2: return "RoCEv2";
    default: return "unknown";
  }
}

struct Field {
  const char* name;
  uint64_t value;
  bool is_size;  // print as bytes
};

std::vector<Field> fields_of(const NDK_ADAPTER_INFO& i) {
  return {{"MaxRegistrationSize", i.MaxRegistrationSize, true},
          {"MaxWindowSize", i.MaxWindowSize, true},
          {"FRMRPageCount", i.FRMRPageCount, false},
          {"MaxInitiatorRequestSge", i.MaxInitiatorRequestSge, false},
          {"MaxReceiveRequestSge", i.MaxReceiveRequestSge, false},
          {"MaxReadRequestSge", i.MaxReadRequestSge, false},
          {"MaxTransferLength", i.MaxTransferLength, true},
          {"MaxInlineDataSize", i.MaxInlineDataSize, true},
          {"MaxInboundReadLimit", i.MaxInboundReadLimit, false},
          {"MaxOutboundReadLimit", i.MaxOutboundReadLimit, false},
          {"MaxReceiveQueueDepth", i.MaxReceiveQueueDepth, false},
          {"MaxInitiatorQueueDepth", i.MaxInitiatorQueueDepth, false},
          {"MaxSrqDepth", i.MaxSrqDepth, false},
          {"MaxCqDepth", i.MaxCqDepth, false},
          {"LargeRequestThreshold", i.LargeRequestThreshold, true},
          {"MaxCallerData", i.MaxCallerData, true},
          {"MaxCalleeData", i.MaxCalleeData, true}};
}

// Which transports this libsoftndk has, found by opening a probe adapter of each scheme.
nlohmann::json probe_transports() {
  static const std::pair<const char*, const char*> kProbes[] = {
      {"loopback", "loopback"}, {"tcp", "tcp://127.0.0.1"}, {"shm", "shm"}};
  nlohmann::json result = nlohmann::json::object();
  for (const auto& [scheme, uri] : kProbes) {
    NDK_ADAPTER* adapter = nullptr;
    NTSTATUS status = SoftNdkOpenAdapter(uri, &adapter);
    if (status == STATUS_SUCCESS) {
      SoftNdkCloseAdapter(adapter);
      result[scheme] = "available";
    } else if (status == STATUS_NOT_SUPPORTED) {
      result[scheme] = "not built";
    } else {
      result[scheme] = std::string("built (probe ") + uri + ": " + SoftNdkStatusName(status) + ")";
    }
  }
  return result;
}

std::string version_of(const NDK_ADAPTER_INFO& i) {
  return std::to_string(i.Version.Major) + "." + std::to_string(i.Version.Minor);
}

void print_text(const Adapter& adapter, const SOFTNDK_ADAPTER_COUNTERS& counters,
                const nlohmann::json& transports) {
  const NDK_ADAPTER_INFO& i = adapter.info();
  const UriParts uri = split_uri(adapter.uri());
  std::printf("softndk adapter \"%s\"\n", adapter.uri().c_str());
  std::printf("  %-24s %s%s\n", "transport", uri.scheme.c_str(),
              is_in_process(uri) ? " (in-process fabric)" : "");
  std::printf("  %-24s %s\n", "NDKPI version", version_of(i).c_str());
  std::printf("  %-24s %s (%d)\n", "RdmaTechnology", technology_name(i.RdmaTechnology),
              static_cast<int>(i.RdmaTechnology));
  std::printf("  %-24s 0x%06" PRIX32 "\n", "VendorId", i.VendorId);
  std::printf("  %-24s %" PRIu32 "\n", "DeviceId", i.DeviceId);
  for (const Field& f : fields_of(i)) {
    if (f.is_size && f.value >= 1024) {
      std::printf("  %-24s %" PRIu64 " (%s)\n", f.name, f.value, format_size(f.value).c_str());
    } else {
      std::printf("  %-24s %" PRIu64 "\n", f.name, f.value);
    }
  }
  std::printf("  %-24s 0x%08" PRIX32 "\n", "AdapterFlags", i.AdapterFlags);
  for (const FlagInfo& f : kFlags)
    std::printf("    [%c] %-38s %s\n", (i.AdapterFlags & f.bit) != 0 ? 'x' : ' ', f.name,
                f.meaning);
  std::printf("  counters of this adapter instance (SoftNdkQueryAdapterCounters)\n");
  for (const CounterField& f : kCounterFields)
    std::printf("    %-22s %" PRIu64 "\n", f.name, counters.*f.member);
  std::printf("  transports of this libsoftndk\n");
  for (const auto& [scheme, state] : transports.items())
    std::printf("    %-22s %s\n", scheme.c_str(), state.get<std::string>().c_str());
}

nlohmann::json to_document(const Adapter& adapter, const SOFTNDK_ADAPTER_COUNTERS& counters,
                           const nlohmann::json& transports) {
  const NDK_ADAPTER_INFO& i = adapter.info();
  nlohmann::json info = {{"Version", {{"Major", i.Version.Major}, {"Minor", i.Version.Minor}}},
                         {"VendorId", i.VendorId},
                         {"DeviceId", i.DeviceId}};
  for (const Field& f : fields_of(i)) info[f.name] = f.value;
  info["AdapterFlags"] = i.AdapterFlags;
  info["RdmaTechnology"] = static_cast<int>(i.RdmaTechnology);
  nlohmann::json flags = nlohmann::json::object();
  for (const FlagInfo& f : kFlags) flags[f.name] = (i.AdapterFlags & f.bit) != 0;
  const UriParts uri = split_uri(adapter.uri());
  return {{"uri", adapter.uri()},
          {"transport", uri.scheme},
          {"in_process", is_in_process(uri)},
          {"version", version_of(i)},
          {"rdma_technology", technology_name(i.RdmaTechnology)},
          {"adapter_info", info},
          {"adapter_flags", flags},
          {"counters", to_json(counters)},
          {"transports", transports}};
}

}  // namespace

int run_info(const InfoOptions& options) {
  Adapter adapter(options.uri);
  const SOFTNDK_ADAPTER_COUNTERS counters = adapter.counters();
  const nlohmann::json transports = probe_transports();
  if (options.json) {
    std::printf("%s\n", to_document(adapter, counters, transports).dump(2).c_str());
  } else {
    print_text(adapter, counters, transports);
  }
  return 0;
}

}  // namespace softndk::cli
