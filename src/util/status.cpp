// Implementation of util/status.h: the NTSTATUS / NDIS_STATUS values declared in
// <softndk/ndkpi.h> and their names. The table is constexpr and checked at compile time for
// duplicate values; values shared by a STATUS_ and an NDIS_STATUS_ name resolve to the STATUS_
// name.
#include "util/status.h"

#include <cstdint>
#include <cstdio>

namespace {

struct StatusName {
  NTSTATUS value;
  const char* name;
};

constexpr StatusName MakeRow(NTSTATUS value, const char* name) {
  return StatusName{value, name};
}

#define SOFTNDK_STATUS_ROW(s) MakeRow(s, #s)

// NDIS_STATUS_SUCCESS (== STATUS_SUCCESS) and NDIS_STATUS_RESOURCES
// (== STATUS_INSUFFICIENT_RESOURCES) are intentionally absent: their STATUS_ twins answer for them.
constexpr StatusName kStatusNames[] = {
    SOFTNDK_STATUS_ROW(STATUS_SUCCESS),
    SOFTNDK_STATUS_ROW(STATUS_TIMEOUT),
    SOFTNDK_STATUS_ROW(STATUS_PENDING),
    SOFTNDK_STATUS_ROW(STATUS_BUFFER_OVERFLOW),
    SOFTNDK_STATUS_ROW(STATUS_UNSUCCESSFUL),
    SOFTNDK_STATUS_ROW(STATUS_ACCESS_VIOLATION),
    SOFTNDK_STATUS_ROW(STATUS_INVALID_PARAMETER),
    SOFTNDK_STATUS_ROW(STATUS_INVALID_DEVICE_REQUEST),
    SOFTNDK_STATUS_ROW(STATUS_BUFFER_TOO_SMALL),
    SOFTNDK_STATUS_ROW(STATUS_INVALID_PARAMETER_MIX),
    SOFTNDK_STATUS_ROW(STATUS_DATA_ERROR),
    SOFTNDK_STATUS_ROW(STATUS_SHARING_VIOLATION),
    SOFTNDK_STATUS_ROW(STATUS_INSUFFICIENT_RESOURCES),
    SOFTNDK_STATUS_ROW(STATUS_IO_TIMEOUT),
    SOFTNDK_STATUS_ROW(STATUS_NOT_SUPPORTED),
    SOFTNDK_STATUS_ROW(STATUS_INTERNAL_ERROR),
    SOFTNDK_STATUS_ROW(STATUS_CANCELLED),
    SOFTNDK_STATUS_ROW(STATUS_REMOTE_RESOURCES),
    SOFTNDK_STATUS_ROW(STATUS_INVALID_ADDRESS),
    SOFTNDK_STATUS_ROW(STATUS_INVALID_DEVICE_STATE),
    SOFTNDK_STATUS_ROW(STATUS_INVALID_BUFFER_SIZE),
    SOFTNDK_STATUS_ROW(STATUS_TOO_MANY_ADDRESSES),
    SOFTNDK_STATUS_ROW(STATUS_ADDRESS_ALREADY_EXISTS),
    SOFTNDK_STATUS_ROW(STATUS_CONNECTION_DISCONNECTED),
    SOFTNDK_STATUS_ROW(STATUS_CONNECTION_RESET),
    SOFTNDK_STATUS_ROW(STATUS_CONNECTION_REFUSED),
    SOFTNDK_STATUS_ROW(STATUS_GRACEFUL_DISCONNECT),
    SOFTNDK_STATUS_ROW(STATUS_CONNECTION_INVALID),
    SOFTNDK_STATUS_ROW(STATUS_CONNECTION_ACTIVE),
    SOFTNDK_STATUS_ROW(STATUS_NETWORK_UNREACHABLE),
    SOFTNDK_STATUS_ROW(STATUS_HOST_UNREACHABLE),
    SOFTNDK_STATUS_ROW(STATUS_REQUEST_ABORTED),
    SOFTNDK_STATUS_ROW(STATUS_CONNECTION_ABORTED),
    SOFTNDK_STATUS_ROW(STATUS_IMPLEMENTATION_LIMIT),
    SOFTNDK_STATUS_ROW(NDIS_STATUS_BAD_VERSION),
    SOFTNDK_STATUS_ROW(NDIS_STATUS_ADAPTER_NOT_READY),
};

#undef SOFTNDK_STATUS_ROW

constexpr bool ValuesAreUnique() {
  for (const auto& a : kStatusNames) {
    int seen = 0;
    for (const auto& b : kStatusNames) seen += (a.value == b.value) ? 1 : 0;
    if (seen != 1) return false;
  }
  return true;
}
static_assert(ValuesAreUnique(), "every status value must have exactly one name");
static_assert(NDIS_STATUS_SUCCESS == STATUS_SUCCESS, "NDIS success aliases STATUS_SUCCESS");
static_assert(NDIS_STATUS_RESOURCES == STATUS_INSUFFICIENT_RESOURCES,
              "NDIS_STATUS_RESOURCES aliases STATUS_INSUFFICIENT_RESOURCES");

}  // namespace

namespace softndk::util {

const char* status_name(NTSTATUS status) {
  for (const auto& row : kStatusNames) {
    if (row.value == status) return row.name;
  }
  // "STATUS_0x" + 8 hex digits + NUL = 18 bytes.
  thread_local char unknown[24];
  std::snprintf(unknown, sizeof(unknown), "STATUS_0x%08X",
                static_cast<unsigned>(static_cast<uint32_t>(status)));
  return unknown;
}

bool status_from_name(std::string_view name, NTSTATUS* out) {
  for (const auto& row : kStatusNames) {
    std::string_view full(row.name);
    std::string_view bare = full;
    if (bare.substr(0, 7) == "STATUS_") bare.remove_prefix(7);
    if (name == full || name == bare) {
      *out = row.value;
      return true;
    }
  }
  return false;
}

}  // namespace softndk::util
