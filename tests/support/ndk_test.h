// Test support over the public ABI only (include/softndk): bounded waits, wrappers that turn
// NDK's "inline or STATUS_PENDING + callback" into one final status, and a fixture ladder
// (adapter -> PD/CQ -> QP -> connected pair). Used by the conformance suite and the tools.
#pragma once

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ndktest {

using namespace std::chrono_literals;
constexpr auto kTimeout = std::chrono::seconds(10);  // every wait is bounded by this

// URIs under test: SOFTNDK_TEST_URIS (comma separated) or "loopback".
std::vector<std::string> test_uris();

// A one-shot completion: a request callback that records the status.
struct Completion {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  int count = 0;
  NTSTATUS status = STATUS_PENDING;
  NDK_OBJECT_HEADER* object = nullptr;

  static void request(void* context, NTSTATUS status);
  static void create(void* context, NTSTATUS status, NDK_OBJECT_HEADER* object);
  static void close(void* context);
  // Waits for the callback; false on timeout.
  bool wait(std::chrono::milliseconds timeout = kTimeout);
};

// Calls `start(callback, context)`; if it returns STATUS_PENDING waits for the callback and
// returns its status (STATUS_IO_TIMEOUT-like 0xC00000B5 if it never came). Otherwise returns
// the inline status, failing the test if a callback arrives anyway.
NTSTATUS sync_request(const std::function<NTSTATUS(NDK_FN_REQUEST_COMPLETION, void*)>& start);
template <class Obj>
NTSTATUS sync_create(const std::function<NTSTATUS(NDK_FN_CREATE_COMPLETION, void*, Obj**)>& start,
                     Obj** out);
// Closes any object; waits for the close completion when pending. False on timeout.
bool close_object(void* object);

// The length of a socket address for the NDK calls: sizeof(sockaddr_in6) for AF_INET6,
// sizeof(sockaddr_in) otherwise.
inline ULONG sockaddr_length(const sockaddr_storage& address) {
  return address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// True for the loopback transport's URIs ("loopback", "loopback?...").
inline bool is_loopback_uri(const std::string& uri) {
  return uri == "loopback" || uri.rfind("loopback?", 0) == 0;
}

// Waits until pred() is true, polling; false on timeout.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = kTimeout);

// Page-aligned memory with an MDL describing it.
struct Buffer {
  explicit Buffer(size_t bytes, unsigned char fill = 0);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  unsigned char* data() { return data_; }
  size_t size() const { return size_; }
  MDL* mdl() { return &mdl_; }

 private:
  unsigned char* data_;
  size_t size_;
  MDL mdl_;
};

class Adapter {
 public:
  explicit Adapter(const std::string& uri);
  ~Adapter();
  NDK_ADAPTER* get() const { return adapter_; }
  NTSTATUS open_status() const { return open_status_; }
  const NDK_ADAPTER_INFO& info() const { return info_; }
  const NDK_ADAPTER_DISPATCH* d() const { return adapter_->Dispatch; }
  bool has(ULONG flag) const { return (info_.AdapterFlags & flag) != 0; }
  const std::string& uri() const { return uri_; }
  // The adapter's own address family: the family of the IP of a tcp://<ip> URI, of the first
  // IP of a loopback?addr=IP[,IP] URI, AF_INET otherwise.
  int family() const;
  // A local address of this adapter with port 0: the IP of a tcp://<ip> URI, the first IP of
  // the requested family of a loopback?addr= list, else 127.0.0.1 / ::1 (the loopback adapter
  // owns the whole loopback range). AF_UNSPEC (the default) means family().
  sockaddr_storage local_address(int family = AF_UNSPEC) const;
  // True when the adapter owns an address of `family` (tcp: the URI's IP only; loopback: any
  // addr= IP of that family, or without addr= both families).
  bool owns_family(int family) const;
  // iWARP (RDMAP over TCP, NDK_ADAPTER_INFO.RdmaTechnology == NdkiWarp): a Send or Write
  // completes locally when handed to TCP, and a remote error arrives later as a Terminate
  // (iwarp.md 3.7 rule 5, 4.2).
  bool iwarp() const { return info_.RdmaTechnology == NdkiWarp; }

 private:
  std::string uri_;
  NDK_ADAPTER* adapter_ = nullptr;
  NTSTATUS open_status_;
  NDK_ADAPTER_INFO info_{};
};

// CQ with a notification counter.
struct Cq {
  NDK_CQ* cq = nullptr;
  std::atomic<int> notifications{0};
  std::atomic<NTSTATUS> last_status{STATUS_SUCCESS};
  static void notify(void* context, NTSTATUS status);
  NTSTATUS create(Adapter& adapter, ULONG depth);
  ULONG poll(NDK_RESULT_EX* results, ULONG n) { return cq->Dispatch->NdkGetCqResultsEx(cq, results, n); }
  // Waits for one completion; false on timeout.
  bool next(NDK_RESULT_EX* result, std::chrono::milliseconds timeout = kTimeout);
  // Collects exactly n completions; false on timeout.
  bool collect(std::vector<NDK_RESULT_EX>* out, size_t n,
               std::chrono::milliseconds timeout = kTimeout);
  ~Cq();
};

// A registered memory region over a Buffer.
struct Region {
  Buffer buffer;
  NDK_MR* mr = nullptr;
  Region(NDK_PD* pd, size_t bytes, ULONG flags, unsigned char fill = 0);
  ~Region();
  NTSTATUS status = STATUS_UNSUCCESSFUL;
  UINT32 local_token() const { return mr->Dispatch->NdkGetLocalTokenFromMr(mr); }
  UINT32 remote_token() const { return mr->Dispatch->NdkGetRemoteTokenFromMr(mr); }
  uint64_t address(size_t offset = 0) { return reinterpret_cast<uintptr_t>(buffer.data()) + offset; }
  NDK_SGE sge(size_t offset, ULONG length) {
    NDK_SGE s{};
    s.VirtualAddress = buffer.data() + offset;
    s.Length = length;
    s.MemoryRegionToken = local_token();
    return s;
  }
};

// Disconnect-event recorder.
struct DisconnectEvents {
  std::atomic<int> count{0};
  std::atomic<ULONG> reason{0};
  static void plain(void* context);
  static void ex(void* context, ULONG reason);
};

// Two adapters (or one, for same-adapter tests), each with PD, CQ and QP; connected through a
// listener on the passive side. Receives can be pre-posted with `before_connect`.
struct QpPairOptions {
  ULONG depth = 64;
  ULONG sge = 4;
  ULONG inline_bytes = 128;
  ULONG cq_depth = 1024;
  ULONG read_limit = 8;
  std::string active_uri;   // default: the test URI
  std::string passive_uri;  // default: the test URI
};

class QpPair {
 public:
  explicit QpPair(const std::string& uri, QpPairOptions options = {});
  ~QpPair();
  // Creates everything and connects. Returns false (with a failure recorded) on any error.
  bool connect(const std::function<void(QpPair&)>& before_connect = nullptr);

  struct Side {
    std::unique_ptr<Adapter> adapter;
    NDK_PD* pd = nullptr;
    Cq cq;
    NDK_QP* qp = nullptr;
    NDK_CONNECTOR* connector = nullptr;
    DisconnectEvents disconnects;
    const NDK_QP_DISPATCH* q() const { return qp->Dispatch; }
  };
  Side active, passive;
  NDK_LISTENER* listener = nullptr;
  QpPairOptions options;
  std::string uri;

  // Tear down in the recommended order; returns false if any close timed out.
  bool teardown();

 private:
  bool torn_down_ = false;
  static void on_connect_event(void* context, NDK_CONNECTOR* connector);
  std::mutex incoming_mutex_;
  std::condition_variable incoming_cv_;
  NDK_CONNECTOR* incoming_ = nullptr;
};

// Helpers for the data path.
NTSTATUS post_receive(NDK_QP* qp, Region& region, size_t offset, ULONG length, void* context);
NTSTATUS post_send(NDK_QP* qp, Region& region, size_t offset, ULONG length, void* context,
                   ULONG flags = 0);

std::string status_name(NTSTATUS status);

}  // namespace ndktest

// gtest-friendly status comparison: prints names.
#define EXPECT_NT(expected, actual) \
  EXPECT_EQ(ndktest::status_name(expected), ndktest::status_name(actual))
#define ASSERT_NT(expected, actual) \
  ASSERT_EQ(ndktest::status_name(expected), ndktest::status_name(actual))

#include "ndk_test_impl.h"
