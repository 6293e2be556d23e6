// Ownership of one adapter instance (SoftNdkOpenAdapter(Ex) / SoftNdkCloseAdapter), its
// NDK_ADAPTER_INFO and the local addresses its URI gives it. Opening does not throw: the open
// status is kept (the conformance suite checks it). Not here: the objects created on it.
#pragma once

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <sys/socket.h>

#include <string>

namespace softndk::ndkxx {

class Adapter {
 public:
  explicit Adapter(std::string uri);                 // SoftNdkOpenAdapter
  Adapter(std::string uri, NDK_VERSION version);     // SoftNdkOpenAdapterEx
  // SoftNdkCloseAdapter, which blocks until every object of the adapter is closed; left open
  // (with a line on stderr) once a close of this process did not complete (close_failed()).
  ~Adapter();
  Adapter(const Adapter&) = delete;
  Adapter& operator=(const Adapter&) = delete;

  NTSTATUS open_status() const { return open_status_; }  // STATUS_SUCCESS: get() is valid
  NTSTATUS info_status() const { return info_status_; }  // of NdkQueryAdapterInfo, once open
  NDK_ADAPTER* get() const { return adapter_; }
  const NDK_ADAPTER_DISPATCH* d() const { return adapter_->Dispatch; }
  const NDK_ADAPTER_INFO& info() const { return info_; }
  bool has(ULONG adapter_flag) const { return (info_.AdapterFlags & adapter_flag) != 0; }
  // iWARP (RdmaTechnology == NdkiWarp): a Send or Write completes when handed to TCP and a
  // remote error arrives later in a Terminate message (RFC 5040).
  bool iwarp() const { return info_.RdmaTechnology == NdkiWarp; }
  const std::string& uri() const { return uri_; }

  // Addresses from the URI (address.h): the adapter's family, a local address of `family` with
  // port 0 (AF_UNSPEC: family()), whether it owns an address of `family`.
  int family() const;
  sockaddr_storage local_address(int family = AF_UNSPEC) const;
  bool owns_family(int family) const;

  NTSTATUS query_counters(SOFTNDK_ADAPTER_COUNTERS* counters) const;

 private:
  void query_info();

  std::string uri_;
  NDK_ADAPTER* adapter_ = nullptr;
  NTSTATUS open_status_ = STATUS_UNSUCCESSFUL;
  NTSTATUS info_status_ = STATUS_UNSUCCESSFUL;
  NDK_ADAPTER_INFO info_{};
};

}  // namespace softndk::ndkxx
