// The softndk.h host entry points: adapter URIs, version negotiation (ndkpi.md 1.6) and the
// blocking adapter close.
#include <softndk/softndk.h>

#include <cctype>
#include <map>
#include <new>
#include <string>

#include "abi/dispatch.h"
#include "abi/uri.h"
#include "core/adapter.h"
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

}  // namespace softndk::abi

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
    Adapter* created = nullptr;
    status = Adapter::open(
        negotiated,
        [&](softndk::transport::Executor* executor, softndk::transport::TransportPtr* out) {
          return softndk::transport::create_transport(parsed.scheme, parsed.address, options,
                                                      executor, out);
        },
        // Options left after the transport took its own are adapter limits and policies.
        options, &softndk::abi::dispatch_tables(), &created);
    if (status != STATUS_SUCCESS) return status;
    if (version_status != STATUS_SUCCESS) {
      created->close_blocking();
      delete created;
      return version_status;
    }
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
  a->close_blocking();
  delete a;
}

extern "C" NTSTATUS SoftNdkQueryAdapterCounters(NDK_ADAPTER* adapter,
                                                SOFTNDK_ADAPTER_COUNTERS* counters, ULONG* size) {
  static_assert(sizeof(SOFTNDK_ADAPTER_COUNTERS) == 80);
  Adapter* a = softndk::core::Object::from<Adapter>(adapter, NdkObjectTypeAdapter);
  if (a == nullptr) return STATUS_INVALID_PARAMETER;
  return a->query_counters(counters, size);
}
