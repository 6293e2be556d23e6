// Adapter profiles (URI option profile=NAME): named sets of NDK_ADAPTER_INFO limits and
// capability flags that reproduce real NDK/RDMA providers, so a consumer meets on softndk the
// limits of the NIC it will be deployed on. docs/profiles.md gives the source of every value.
// The per-direction limit options (max_sq_depth, max_recv_sge, ...) live here too: they are
// how a URI overrides one side of an asymmetric limit.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <softndk/ndkpi.h>

namespace softndk::core {

struct AdapterConfig;

struct Profile {
  const char* name;
  const char* description;
  NDK_ADAPTER_INFO info;      // Version and RdmaTechnology are the adapter's own
  uint32_t max_frmr_pages;    // NdkInitializeFastRegisterMr's limit (STATUS_IMPLEMENTATION_LIMIT)
};

// Every profile, "softndk" (the default) first.
std::span<const Profile> profiles();
const Profile* find_profile(const std::string& name);

// Replaces the limits and flags of `config` by the profile's. Private-data limits stay within
// what the transport can carry (`transport_caller`, `transport_callee`); flags softndk does
// not implement (IN_ORDER_DMA) are never claimed.
void apply_profile(const Profile& profile, uint32_t transport_caller, uint32_t transport_callee,
                   AdapterConfig* config);

// The per-direction limit options. Returns false when `key` is not one of them; otherwise
// stores the option's status in *status (STATUS_INVALID_PARAMETER for a bad value).
bool apply_direction_option(const std::string& key, const std::string& value,
                            AdapterConfig* config, NTSTATUS* status);

}  // namespace softndk::core
