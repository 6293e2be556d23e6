// `softndk info [URI]`: the adapter's NDK_ADAPTER_INFO, its flags decoded, the transport's data
// path, the profile and URI options it runs with, its counters and the transports this libsoftndk has, as text or JSON
// (--json); `softndk info --profiles`: every adapter profile and its limits.
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

// Which transports this libsoftndk has, found by opening a probe adapter of each scheme (an shm
// adapter names its fabric; opening one binds nothing, so the probe meets no other process).
nlohmann::json probe_transports() {
  static const std::pair<const char*, const char*> kProbes[] = {
      {"loopback", "loopback"}, {"tcp", "tcp://127.0.0.1"}, {"shm", "shm://softndk-info-probe"}};
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

// What SoftNdkQueryAdapterSettings reports: the profile, the URI options over it, the verifier.
struct Settings {
  std::string profile = "softndk";
  std::string options;
  std::string verifier = "off";
  bool checksum = false;
  ULONG fast_register_pages = 0;
};

std::vector<std::string> split_options(const std::string& options) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start < options.size()) {
    size_t end = options.find('&', start);
    if (end == std::string::npos) end = options.size();
    if (end > start) items.push_back(options.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

Settings settings_of(const Adapter& adapter) {
  SOFTNDK_ADAPTER_SETTINGS raw{};
  NTSTATUS status = SoftNdkQueryAdapterSettings(adapter.get(), &raw);
  if (status != STATUS_SUCCESS) throw_status("SoftNdkQueryAdapterSettings", status);
  Settings s;
  if (raw.Profile != nullptr) s.profile = raw.Profile;
  // The options over the profile: every URI option but the one naming the profile.
  if (raw.Options != nullptr) {
    for (const std::string& item : split_options(raw.Options)) {
      if (item.rfind("profile=", 0) == 0) continue;
      s.options += (s.options.empty() ? "" : "&") + item;
    }
  }
  s.verifier = raw.VerifierMode == 2 ? "strict" : raw.VerifierMode == 1 ? "log" : "off";
  s.checksum = raw.VerifierChecksum != 0;
  s.fast_register_pages = raw.MaxFastRegisterPages;
  return s;
}


nlohmann::json settings_json(const Settings& s) {
  nlohmann::json overrides = nlohmann::json::object();
  for (const std::string& item : split_options(s.options)) {
    const size_t equals = item.find('=');
    overrides[item.substr(0, equals)] =
        equals == std::string::npos ? std::string() : item.substr(equals + 1);
  }
  return {{"profile", s.profile},
          {"options", overrides},
          {"verifier", s.verifier},
          {"verifier_checksum", s.checksum},
          {"max_fast_register_pages", s.fast_register_pages}};
}

void print_settings(const Settings& s) {
  std::printf("  %-24s %s\n", "profile", s.profile.c_str());
  std::printf("  %-24s %s\n", "URI options over it",
              s.options.empty() ? "(none)" : s.options.c_str());
  std::printf("  %-24s %s%s\n", "verifier", s.verifier.c_str(),
              s.checksum ? " (checksum)" : "");
  std::printf("  %-24s %lu\n", "fast-register page limit",
              static_cast<unsigned long>(s.fast_register_pages));
}

void print_text(const Adapter& adapter, const SOFTNDK_ADAPTER_COUNTERS& counters,
                const nlohmann::json& transports) {
  const NDK_ADAPTER_INFO& i = adapter.info();
  const UriParts uri = split_uri(adapter.uri());
  std::printf("%s\n", version_text().c_str());
  std::printf("softndk adapter \"%s\"\n", adapter.uri().c_str());
  std::printf("  %-24s %s%s\n", "transport", uri.scheme.c_str(),
              is_in_process(uri) ? " (in-process fabric)" : "");
  std::printf("  %-24s %s\n", "data path", adapter.data_path().c_str());
  print_settings(settings_of(adapter));
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
  return {{"softndk_version", release()},
          {"uri", adapter.uri()},
          {"transport", uri.scheme},
          {"settings", settings_json(settings_of(adapter))},
          {"in_process", is_in_process(uri)},
          {"data_path", adapter.data_path()},
          {"version", version_of(i)},
          {"rdma_technology", technology_name(i.RdmaTechnology)},
          {"adapter_info", info},
          {"adapter_flags", flags},
          {"counters", to_json(counters)},
          {"transports", transports}};
}

// Every profile SoftNdkGetProfile describes, in its order (the default first).
std::vector<SOFTNDK_PROFILE> all_profiles() {
  std::vector<SOFTNDK_PROFILE> profiles;
  for (ULONG index = 0;; ++index) {
    SOFTNDK_PROFILE p{};
    if (SoftNdkGetProfile(index, &p) != STATUS_SUCCESS) break;
    profiles.push_back(p);
  }
  return profiles;
}

int list_profiles(bool json) {
  const std::vector<SOFTNDK_PROFILE> profiles = all_profiles();
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (size_t n = 0; n < profiles.size(); ++n) {
      const SOFTNDK_PROFILE& p = profiles[n];
      nlohmann::json limits = nlohmann::json::object();
      for (const Field& f : fields_of(p.Info)) limits[f.name] = f.value;
      limits["VendorId"] = p.Info.VendorId;
      limits["DeviceId"] = p.Info.DeviceId;
      limits["AdapterFlags"] = p.Info.AdapterFlags;
      nlohmann::json flags = nlohmann::json::object();
      for (const FlagInfo& f : kFlags) flags[f.name] = (p.Info.AdapterFlags & f.bit) != 0;
      list.push_back({{"name", p.Name},
                      {"description", p.Description},
                      {"default", n == 0},
                      {"limits", limits},
                      {"adapter_flags", flags},
                      {"max_fast_register_pages", p.MaxFastRegisterPages}});
    }
    std::printf("%s\n", list.dump(2).c_str());
    return 0;
  }
  std::printf("adapter profiles (URI option profile=NAME; other URI options override them)\n");
  for (size_t n = 0; n < profiles.size(); ++n) {
    const SOFTNDK_PROFILE& p = profiles[n];
    std::printf("\n%s%s: %s\n", p.Name, n == 0 ? " (default)" : "", p.Description);
    for (const Field& f : fields_of(p.Info)) std::printf("  %-24s %" PRIu64 "\n", f.name, f.value);
    std::printf("  %-24s %lu\n", "fast-register page limit",
                static_cast<unsigned long>(p.MaxFastRegisterPages));
    for (const FlagInfo& f : kFlags)
      std::printf("    [%c] %s\n", (p.Info.AdapterFlags & f.bit) != 0 ? 'x' : ' ', f.name);
  }
  return 0;
}

}  // namespace

const char* release() { return SOFTNDK_RELEASE; }

std::string version_text() {
  return std::string("softndk ") + SOFTNDK_RELEASE + " (NDKPI " +
         std::to_string(SOFTNDK_NDK_VERSION_MAJOR) + "." +
         std::to_string(SOFTNDK_NDK_VERSION_MINOR) + ")";
}

int run_info(const InfoOptions& options) {
  if (options.profiles) return list_profiles(options.json);
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
