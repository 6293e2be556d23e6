// The softndk.h host entry points: adapter URIs, version negotiation (OPEN_NDK_ADAPTER_HANDLER, NDK_VERSION), the
// blocking adapter close, and the verifier and profile queries (abi/verifier.h, core/profiles.h).
#include <softndk/softndk.h>

#include <cctype>
#include <cstddef>
#include <map>
#include <memory>
#include <new>
#include <string>

#include <mutex>
#include <unordered_map>

#include "abi/dispatch.h"
#include "abi/uri.h"
#include "abi/verifier.h"
#include "core/adapter.h"
#include "core/dispatcher.h"
#include "core/profiles.h"
#include "transport/registry.h"

namespace softndk::abi {

NTSTATUS parse_uri(const char* text, ParsedUri* out) {
  if (text == nullptr) return STATUS_INVALID_PARAMETER;
  std::string uri(text);
  std::string head = uri;
  std::string query;
  if (auto q = uri.find('?'); q != std::string::npos) {
    head = uri.substr(0, q);
    query = uri.substr(q + 1);
    if (query.empty()) return STATUS_INVALID_PARAMETER;
  }
  if (auto sep = head.find("://"); sep != std::string::npos) {
    out->scheme = head.substr(0, sep);
    out->address = head.substr(sep + 3);
    if (out->address.empty()) return STATUS_INVALID_PARAMETER;
  } else {
    out->scheme = head;
    out->address.clear();
  }
  if (out->scheme.empty()) return STATUS_INVALID_PARAMETER;
  for (char c : out->scheme)
    if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)))
      return STATUS_INVALID_PARAMETER;
  out->options.clear();
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string item = query.substr(start, end - start);
    size_t eq = item.find('=');
    if (item.empty() || eq == std::string::npos || eq == 0) return STATUS_INVALID_PARAMETER;
    if (!out->options.emplace(item.substr(0, eq), item.substr(eq + 1)).second)
      return STATUS_INVALID_PARAMETER;  // the same key twice
    start = end + 1;
    if (end + 1 == query.size()) return STATUS_INVALID_PARAMETER;  // trailing '&'
  }
  return STATUS_SUCCESS;
}

NTSTATUS negotiate_version(NDK_VERSION requested, NDK_VERSION* result) {
  if (requested.Major == 1 && requested.Minor <= 2) {
    *result = {1, 2};
    return STATUS_SUCCESS;
  }
  if (requested.Major == 2 && requested.Minor <= SOFTNDK_NDK_VERSION_MINOR) {
    *result = {SOFTNDK_NDK_VERSION_MAJOR, SOFTNDK_NDK_VERSION_MINOR};
    return STATUS_SUCCESS;
  }
  return NDIS_STATUS_BAD_VERSION;
}

namespace {
// What SoftNdkQueryAdapterSettings reports beyond the adapter's own configuration.
std::mutex g_settings_mutex;
std::unordered_map<const void*, std::string> g_options;

std::string options_text(const std::map<std::string, std::string>& options) {
  std::string text;
  for (const auto& [key, value] : options) {
    if (!text.empty()) text += '&';
    text += key + '=' + value;
  }
  return text;
}
}  // namespace

}  // namespace softndk::abi

using softndk::abi::Verifier;
using softndk::abi::VerifyMode;
using softndk::abi::VerifyOptions;
using softndk::core::Adapter;

extern "C" NTSTATUS SoftNdkOpenAdapterEx(const char* uri, NDK_VERSION version,
                                         NDK_ADAPTER** adapter) {
  if (uri == nullptr || adapter == nullptr) return STATUS_INVALID_PARAMETER;
  try {
    softndk::abi::ParsedUri parsed;
    NTSTATUS status = softndk::abi::parse_uri(uri, &parsed);
    if (status != STATUS_SUCCESS) return status;
    // The URI (scheme, address, options) is judged before the version (softndk.h): a bad URI
    // reports the URI error even when the version is also unsupported.
    NDK_VERSION negotiated{SOFTNDK_NDK_VERSION_MAJOR, SOFTNDK_NDK_VERSION_MINOR};
    NTSTATUS version_status = softndk::abi::negotiate_version(version, &negotiated);
    std::map<std::string, std::string> options = parsed.options;
    VerifyOptions verify;
    if (!softndk::abi::take_verify_options(&options, &verify)) return STATUS_INVALID_PARAMETER;
    if (verify.mode != VerifyMode::Off && softndk::core::Dispatcher::on_event_thread()) {
      status = Verifier::report_global(
          verify, SOFTNDK_VERIFY_CALLBACK_CONTEXT, "SoftNdkOpenAdapter",
          STATUS_INVALID_DEVICE_STATE,
          "opening an adapter runs at PASSIVE_LEVEL and may block: never from a callback");
      if (status != STATUS_SUCCESS) return status;
    }
    const softndk::core::DispatchTables* tables = verify.mode != VerifyMode::Off
                                                       ? &softndk::abi::verified_dispatch_tables()
                                                       : &softndk::abi::dispatch_tables();
    Adapter* created = nullptr;
    status = Adapter::open(
        negotiated,
        [&](softndk::transport::Executor* executor, softndk::transport::TransportPtr* out) {
          return softndk::transport::create_transport(parsed.scheme, parsed.address, options,
                                                      executor, out);
        },
        // Options left after the transport took its own are adapter limits and policies.
        options, tables, &created);
    if (status != STATUS_SUCCESS) return status;
    std::unique_ptr<Verifier> verifier;
    if (verify.mode != VerifyMode::Off) {
      verifier = std::make_unique<Verifier>(created, verify);
      created->set_observer(verifier.get());
    }
    if (version_status != STATUS_SUCCESS) {
      created->close_blocking();
      delete created;
      return version_status;
    }
    {
      std::map<std::string, std::string> applied = parsed.options;
      applied.erase("verify");
      std::lock_guard lock(softndk::abi::g_settings_mutex);
      softndk::abi::g_options[created] = softndk::abi::options_text(applied);
    }
    verifier.release();  // owned by the adapter's observer slot until SoftNdkCloseAdapter
    *adapter = created->as_public<NDK_ADAPTER>();
    return STATUS_SUCCESS;
  } catch (const std::bad_alloc&) {
    return STATUS_INSUFFICIENT_RESOURCES;
  } catch (...) {
    return STATUS_INTERNAL_ERROR;
  }
}

extern "C" NTSTATUS SoftNdkOpenAdapter(const char* uri, NDK_ADAPTER** adapter) {
  return SoftNdkOpenAdapterEx(uri, NDK_VERSION{2, 0}, adapter);
}

extern "C" void SoftNdkCloseAdapter(NDK_ADAPTER* adapter) {
  Adapter* a = softndk::core::Object::from<Adapter>(adapter, NdkObjectTypeAdapter);
  if (a == nullptr) return;
  std::unique_ptr<Verifier> verifier(Verifier::of_adapter(a));
  if (verifier != nullptr && softndk::core::Dispatcher::on_event_thread()) {
    NTSTATUS s = verifier->report(
        SOFTNDK_VERIFY_CALLBACK_CONTEXT, "SoftNdkCloseAdapter", a, STATUS_INVALID_DEVICE_STATE,
        "the adapter close blocks until every callback returned: never call it from a callback "
        "(strict, or from this adapter's own callbacks: the adapter stays open)");
    if (s != STATUS_SUCCESS || a->dispatcher().on_dispatcher_thread()) {
      verifier.release();
      return;
    }
  }
  if (verifier != nullptr) verifier->report_leaks();
  a->close_blocking();
  delete a;
  std::lock_guard lock(softndk::abi::g_settings_mutex);
  softndk::abi::g_options.erase(a);
}

extern "C" NTSTATUS SoftNdkQueryAdapterCounters(NDK_ADAPTER* adapter,
                                                SOFTNDK_ADAPTER_COUNTERS* counters, ULONG* size) {
  static_assert(sizeof(SOFTNDK_ADAPTER_COUNTERS) == 88);
  static_assert(offsetof(SOFTNDK_ADAPTER_COUNTERS, FaultsInjected) == 80);
  Adapter* a = softndk::core::Object::from<Adapter>(adapter, NdkObjectTypeAdapter);
  if (a == nullptr) return STATUS_INVALID_PARAMETER;
  return a->query_counters(counters, size);
}

extern "C" NTSTATUS SoftNdkQueryAdapterTransport(NDK_ADAPTER* adapter,
                                                 SOFTNDK_ADAPTER_TRANSPORT* transport) {
  Adapter* a = softndk::core::Object::from<Adapter>(adapter, NdkObjectTypeAdapter);
  if (a == nullptr || transport == nullptr) return STATUS_INVALID_PARAMETER;
  // The transport's capabilities are fixed when it is created and live as long as the adapter.
  const softndk::transport::Capabilities& caps = a->transport().capabilities();
  transport->Name = caps.name.c_str();
  transport->DataPath = caps.data_path.c_str();
  return STATUS_SUCCESS;
}

extern "C" NTSTATUS SoftNdkSetFaultPlan(NDK_ADAPTER* adapter, const char* plan, UINT64 seed) {
  Adapter* a = softndk::core::Object::from<Adapter>(adapter, NdkObjectTypeAdapter);
  if (a == nullptr) return STATUS_INVALID_PARAMETER;
  try {
    return a->set_fault_plan(plan != nullptr ? std::string_view(plan) : std::string_view{}, seed);
  } catch (const std::bad_alloc&) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
}

extern "C" NTSTATUS SoftNdkSetVerifierCallback(NDK_ADAPTER* adapter,
                                               SOFTNDK_VERIFIER_CALLBACK callback,
                                               void* context) {
  if (adapter == nullptr) {
    Verifier::set_global_callback(callback, context);
    return STATUS_SUCCESS;
  }
  Adapter* a = softndk::core::Object::from<Adapter>(adapter, NdkObjectTypeAdapter);
  if (a == nullptr) return STATUS_INVALID_PARAMETER;
  if (Verifier* v = Verifier::of_adapter(a); v != nullptr) v->set_callback(callback, context);
  return STATUS_SUCCESS;
}

extern "C" NTSTATUS SoftNdkGetProfile(ULONG index, SOFTNDK_PROFILE* profile) {
  auto all = softndk::core::profiles();
  if (profile == nullptr || index >= all.size()) return STATUS_INVALID_PARAMETER;
  const softndk::core::Profile& p = all[index];
  profile->Name = p.name;
  profile->Description = p.description;
  profile->Info = p.info;
  profile->MaxFastRegisterPages = p.max_frmr_pages;
  return STATUS_SUCCESS;
}

extern "C" NTSTATUS SoftNdkQueryAdapterSettings(NDK_ADAPTER* adapter,
                                                SOFTNDK_ADAPTER_SETTINGS* settings) {
  Adapter* a = softndk::core::Object::from<Adapter>(adapter, NdkObjectTypeAdapter);
  if (a == nullptr || settings == nullptr) return STATUS_INVALID_PARAMETER;
  Verifier* v = Verifier::of_adapter(a);
  settings->Profile = a->config().profile.c_str();
  {
    std::lock_guard lock(softndk::abi::g_settings_mutex);
    settings->Options = softndk::abi::g_options[a].c_str();
  }
  settings->VerifierMode = v != nullptr ? static_cast<ULONG>(v->mode()) : 0;
  settings->VerifierChecksum = v != nullptr && v->checksum() ? 1 : 0;
  settings->MaxFastRegisterPages = a->config().max_frmr_pages;
  return STATUS_SUCCESS;
}
