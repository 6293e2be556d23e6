// Implementation of adapter.h.
#include "ndkxx/adapter.h"

#include <cstdio>
#include <utility>

#include "ndkxx/address.h"
#include "ndkxx/call.h"

namespace softndk::ndkxx {

Adapter::Adapter(std::string uri) : uri_(std::move(uri)) {
  open_status_ = SoftNdkOpenAdapter(uri_.c_str(), &adapter_);
  query_info();
}

Adapter::Adapter(std::string uri, NDK_VERSION version) : uri_(std::move(uri)) {
  open_status_ = SoftNdkOpenAdapterEx(uri_.c_str(), version, &adapter_);
  query_info();
}

void Adapter::query_info() {
  if (open_status_ != STATUS_SUCCESS) {
    adapter_ = nullptr;
    return;
  }
  ULONG size = sizeof info_;
  info_status_ = adapter_->Dispatch->NdkQueryAdapterInfo(adapter_, &info_, &size);
}

Adapter::~Adapter() {
  if (adapter_ == nullptr) return;
  if (close_failed()) {
    std::fprintf(stderr, "ndkxx: leaving adapter \"%s\" open (an object of it did not close)\n",
                 uri_.c_str());
    return;
  }
  SoftNdkCloseAdapter(adapter_);
}

int Adapter::family() const { return uri_family(uri_); }

sockaddr_storage Adapter::local_address(int family) const {
  return uri_local_address(uri_, family);
}

bool Adapter::owns_family(int family) const { return uri_owns_family(uri_, family); }

NTSTATUS Adapter::query_counters(SOFTNDK_ADAPTER_COUNTERS* counters) const {
  ULONG size = sizeof *counters;
  return SoftNdkQueryAdapterCounters(adapter_, counters, &size);
}

}  // namespace softndk::ndkxx
