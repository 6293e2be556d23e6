// Adapter URIs: scheme[://address][?key=value&...] (softndk.h documents the grammar).
#pragma once

#include <map>
#include <string>

#include <softndk/ndkpi.h>

namespace softndk::abi {

struct ParsedUri {
  std::string scheme;
  std::string address;
  std::map<std::string, std::string> options;
};

NTSTATUS parse_uri(const char* text, ParsedUri* out);
// NDK_VERSION negotiation: major 1 -> 1.2, major 2 -> 2.1, otherwise NDIS_STATUS_BAD_VERSION.
NTSTATUS negotiate_version(NDK_VERSION requested, NDK_VERSION* result);

}  // namespace softndk::abi
