// A small fixture over the public ABI for the verifier and profile tests: adapters opened with a
// verifier callback that records every report, bounded waits for NDK's "inline or pending"
// completions, registered buffers and a connected QP pair.
#pragma once

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vtest {

// SOFTNDK_TEST_URIS (comma separated) or loopback and tcp://127.0.0.1.
std::vector<std::string> uris();
std::string with_option(const std::string& uri, const std::string& option);
std::string uri_name(const std::string& uri);  // a gtest parameter name

struct Report {
  ULONG rule;
  ULONG severity;
  std::string call, message;
  NTSTATUS status;
  const void* object;
};

class Reports {
 public:
  static void callback(void* context, const SOFTNDK_VERIFIER_REPORT* report);
  std::vector<Report> all();
  size_t count(ULONG rule);
  bool wait_for(ULONG rule, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True when at least one report was made and every one is of `rule`.
  bool only(ULONG rule);
  std::string dump();
  void clear();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Report> reports_;
};

// One request, create or close completion.
struct Waiter {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  NTSTATUS status = STATUS_PENDING;
  NDK_OBJECT_HEADER* object = nullptr;
  static void request(void* context, NTSTATUS status);
  static void create(void* context, NTSTATUS status, NDK_OBJECT_HEADER* object);
  static void close(void* context);
  // The final status of a call that returned `returned`.
  NTSTATUS wait(NTSTATUS returned);
};

struct Buffer {
  explicit Buffer(size_t bytes, unsigned char fill = 0);
  ~Buffer();
  unsigned char* data;
  size_t size;
  MDL mdl;
};

class Node {
 public:
  // Opens `uri` with `options` appended ("verify=log" by default) and creates a PD and a CQ.
  explicit Node(const std::string& uri, const std::string& options = "verify=log",
                ULONG cq_depth = 256);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  bool ok() const { return adapter != nullptr && pd != nullptr && cq != nullptr; }
  NTSTATUS create_qp(ULONG depth = 16, ULONG sge = 4, ULONG inline_bytes = 64, NDK_QP** out = nullptr);
  NDK_MR* register_mr(Buffer& buffer, ULONG flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE |
                                                    NDK_MR_FLAG_ALLOW_REMOTE_READ |
                                                    NDK_MR_FLAG_ALLOW_REMOTE_WRITE |
                                                    NDK_MR_FLAG_RDMA_READ_SINK);
  NDK_MR* fast_mr(ULONG pages);
  bool close(void* object);  // waits for a pending close; removes it from the teardown list
  NDK_SGE sge(NDK_MR* mr, Buffer& buffer, size_t offset, ULONG length);
  // Polls until `n` completions arrived (NdkGetCqResultsEx).
  bool collect(std::vector<NDK_RESULT_EX>* out, size_t n);
  void close_all();  // every object this node created, in NDKPI's recommended order

  NTSTATUS open_status = STATUS_UNSUCCESSFUL;
  NDK_ADAPTER* adapter = nullptr;
  NDK_ADAPTER_INFO info{};
  NDK_PD* pd = nullptr;
  NDK_CQ* cq = nullptr;
  NDK_QP* qp = nullptr;
  std::shared_ptr<Reports> reports = std::make_shared<Reports>();
  std::vector<void*> objects;  // created, in creation order

 private:
  static int rank(void* object);
};

// Two nodes whose QPs are connected (the passive one through a listener).
class Pair {
 public:
  explicit Pair(const std::string& uri, const std::string& options = "verify=log",
                const std::string& passive_options = "");  // "": the same as the active side
  ~Pair();
  // Creates the QPs and connects them, asking for `read_limit` reads each way; the active
  // connector's effective read limits (NdkGetConnectionData) land in effective_inbound/outbound.
  bool connect(ULONG depth = 16, ULONG read_limit = 4);
  ULONG effective_inbound = 0, effective_outbound = 0;
  bool disconnect();
  Node active, passive;
  NDK_CONNECTOR* active_connector = nullptr;
  NDK_CONNECTOR* passive_connector = nullptr;
  NDK_LISTENER* listener = nullptr;

 private:
  static void on_connect(void* context, NDK_CONNECTOR* connector);
  std::mutex mutex_;
  std::condition_variable cv_;
};

}  // namespace vtest
