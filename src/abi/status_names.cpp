// SoftNdkStatusName (softndk.h): the names live in util/status.h, shared with the logs.
#include <softndk/softndk.h>

#include "util/status.h"

extern "C" SOFTNDK_API const char* SoftNdkStatusName(NTSTATUS status) {
  return softndk::util::status_name(status);
}
