// NTSTATUS names for logs, options and the public SoftNdkStatusName: every value declared in
// <softndk/ndkpi.h>, both ways.
#pragma once

#include <string_view>

#include <softndk/ndkpi.h>

namespace softndk::util {

// The value's name ("STATUS_CANCELLED"); unknown values as "STATUS_0x%08X" in a per-thread
// buffer valid until the next call on the thread. Never null.
const char* status_name(NTSTATUS status);
// The value of a name, with or without the STATUS_ prefix ("IO_TIMEOUT"); false if unknown.
bool status_from_name(std::string_view name, NTSTATUS* out);

}  // namespace softndk::util
