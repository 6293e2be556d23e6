// A softndk node over the public ABI only, for the cross-process and cross-host tests of the tcp
// transport: `server` listens and accepts one connection, `client` connects to it.
//   tcp_node server <uri> <port-file> [stream]
//   tcp_node client <uri> <server-ip> <port> [stream]
// Default mode: data both ways (Sends, an RDMA Write, an RDMA Read, private data), then a
// graceful disconnect; exit 0 when every check passed. Stream mode: both sides keep Sends and
// Writes in flight until the link dies; then every posted request must complete (with an error
// where it could not finish) and the disconnect must be reported; a summary line is printed.
#include <arpa/inet.h>
#include <softndk/ndkpi.h>
#include <softndk/softndk.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kWait = std::chrono::seconds(20);  // every wait is bounded
constexpr size_t kMessage = 64 * 1024;
constexpr ULONG kDepth = 64;
constexpr ULONG kWindow = 16;  // stream mode: requests of each kind kept in flight

[[noreturn]] void fail(const char* what, NTSTATUS status = 0) {
  std::fprintf(stderr, "tcp_node: %s failed: %s\n", what, SoftNdkStatusName(status));
  std::fflush(stderr);
  _exit(1);
}

struct Waiter {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  NTSTATUS status = STATUS_PENDING;
  static void request(void* context, NTSTATUS status) {
    auto* w = static_cast<Waiter*>(context);
    std::lock_guard lock(w->mutex);
    w->status = status;
    w->done = true;
    w->cv.notify_all();
  }
  static void created(void* context, NTSTATUS status, NDK_OBJECT_HEADER*) {
    request(context, status);
  }
  static void closed(void* context) { request(context, STATUS_SUCCESS); }
  NTSTATUS wait(NTSTATUS returned) {
    if (returned != STATUS_PENDING) return returned;
    std::unique_lock lock(mutex);
    if (!cv.wait_for(lock, kWait, [&] { return done; })) return STATUS_IO_TIMEOUT;
    return status;
  }
};

void close_object(void* object) {
  if (object == nullptr) return;
  auto* dispatch = *reinterpret_cast<NDK_FN_CLOSE_OBJECT* const*>(
      reinterpret_cast<char*>(object) + sizeof(NDK_OBJECT_HEADER));
  Waiter w;
  if (w.wait(dispatch[0](static_cast<NDK_OBJECT_HEADER*>(object), &Waiter::closed, &w)) !=
      STATUS_SUCCESS)
    fail("close");
}

void on_cq_event(void*, NTSTATUS) {}  // the node polls its CQ

std::atomic<int> g_disconnects{0};
std::atomic<ULONG> g_reason{0};
void on_disconnect(void*, ULONG reason) {
  g_reason = reason;
  g_disconnects.fetch_add(1);
}

std::mutex g_incoming_mutex;
std::condition_variable g_incoming_cv;
NDK_CONNECTOR* g_incoming = nullptr;
void on_connect_event(void*, NDK_CONNECTOR* connector) {
  std::lock_guard lock(g_incoming_mutex);
  g_incoming = connector;
  g_incoming_cv.notify_all();
}

struct Node {
  NDK_ADAPTER* adapter = nullptr;
  NDK_PD* pd = nullptr;
  NDK_CQ* cq = nullptr;
  NDK_QP* qp = nullptr;
  NDK_MR* mr = nullptr;
  NDK_CONNECTOR* connector = nullptr;
  NDK_LISTENER* listener = nullptr;
  std::vector<unsigned char> memory;
  MDL mdl{};
  uint32_t token = 0;

  explicit Node(const std::string& uri) {
    NTSTATUS s = SoftNdkOpenAdapter(uri.c_str(), &adapter);
    if (s != STATUS_SUCCESS) fail("open adapter", s);
    Waiter w1;
    s = w1.wait(adapter->Dispatch->NdkCreatePd(adapter, &Waiter::created, &w1, &pd));
    if (s != STATUS_SUCCESS) fail("create PD", s);
    Waiter w2;
    s = w2.wait(adapter->Dispatch->NdkCreateCq(adapter, 4 * kDepth, &on_cq_event, nullptr,
                                               nullptr, &Waiter::created, &w2, &cq));
    if (s != STATUS_SUCCESS) fail("create CQ", s);
    Waiter w3;
    s = w3.wait(pd->Dispatch->NdkCreateQp(pd, cq, cq, nullptr, kDepth, kDepth, 4, 4, 0,
                                          &Waiter::created, &w3, &qp));
    if (s != STATUS_SUCCESS) fail("create QP", s);
    // Regions: [0, 2M) receive buffers, [2M, 3M) send data, [3M, 4M) RDMA target.
    memory.assign(4u << 20, 0);
    SoftNdkInitializeMdl(&mdl, memory.data(), memory.size());
    Waiter w4;
    s = w4.wait(pd->Dispatch->NdkCreateMr(pd, FALSE, &Waiter::created, &w4, &mr));
    if (s != STATUS_SUCCESS) fail("create MR", s);
    Waiter w5;
    s = w5.wait(mr->Dispatch->NdkRegisterMr(
        mr, &mdl, memory.size(),
        NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
            NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK,
        &Waiter::request, &w5));
    if (s != STATUS_SUCCESS) fail("register MR", s);
    token = mr->Dispatch->NdkGetRemoteTokenFromMr(mr);
  }
  ~Node() {
    close_object(connector);
    close_object(listener);
    close_object(qp);
    close_object(mr);
    close_object(cq);
    close_object(pd);
    SoftNdkCloseAdapter(adapter);
  }
  unsigned char* at(size_t offset) { return memory.data() + offset; }
  NDK_SGE sge(size_t offset, ULONG length) {
    NDK_SGE s{};
    s.VirtualAddress = at(offset);
    s.Length = length;
    s.MemoryRegionToken = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
    return s;
  }
  void post_receive(size_t slot) {
    NDK_SGE s = sge(slot * kMessage, kMessage);
    NTSTATUS st = qp->Dispatch->NdkReceive(qp, reinterpret_cast<void*>(slot + 1), &s, 1);
    if (st != STATUS_SUCCESS) fail("post receive", st);
  }
  // Waits for one completion of `type` (others are returned through *other when given).
  NDK_RESULT_EX next(NDK_OPERATION_TYPE type) {
    auto deadline = Clock::now() + kWait;
    for (;;) {
      NDK_RESULT_EX r{};
      if (cq->Dispatch->NdkGetCqResultsEx(cq, &r, 1) == 1) {
        if (r.Status != STATUS_SUCCESS) fail("request completion", r.Status);
        if (r.Type == type) return r;
        continue;
      }
      if (Clock::now() > deadline) fail("waiting for a completion", STATUS_IO_TIMEOUT);
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
};

void fill(unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>((i * 131 + seed) >> 3);
}
bool check(const unsigned char* p, size_t n, unsigned seed, size_t first = 0) {
  for (size_t i = first; i < n; ++i)
    if (p[i] != static_cast<unsigned char>((i * 131 + seed) >> 3)) return false;
  return true;
}

// The advertisement at the start of a message: where the sender's RDMA target lives.
struct Advert {
  uint64_t address;
  uint32_t token;
  uint32_t length;
};

sockaddr_storage address_of(const std::string& ip, uint16_t port) {
  sockaddr_storage s{};
  if (ip.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&s);
    in6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr);
    in6->sin6_port = htons(port);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&s);
    in->sin_family = AF_INET;
    inet_pton(AF_INET, ip.c_str(), &in->sin_addr);
    in->sin_port = htons(port);
  }
  return s;
}
ULONG length_of(const sockaddr_storage& s) {
  return s.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}
std::string ip_of_uri(const std::string& uri) {
  std::string rest = uri.substr(uri.find("://") + 3);
  rest = rest.substr(0, rest.find('?'));
  if (!rest.empty() && rest.front() == '[') rest = rest.substr(1, rest.find(']') - 1);
  return rest;
}

void send(Node& n, size_t offset, ULONG length, void* context) {
  NDK_SGE s = n.sge(offset, length);
  NTSTATUS st = n.qp->Dispatch->NdkSend(n.qp, context, &s, 1, 0);
  if (st != STATUS_SUCCESS) fail("post send", st);
}

// ---------------------------------------------------------------------------------------------
// Default mode

constexpr size_t kSendArea = 2u << 20;
constexpr size_t kTargetArea = 3u << 20;

void server_exchange(Node& n) {
  // 1. The client's first message: its advertisement + pattern 1.
  NDK_RESULT_EX r = n.next(NdkOperationTypeReceive);
  size_t slot = reinterpret_cast<uintptr_t>(r.RequestContext) - 1;
  if (r.BytesTransferred != kMessage) fail("first message length");
  Advert peer;
  std::memcpy(&peer, n.at(slot * kMessage), sizeof peer);
  if (!check(n.at(slot * kMessage), kMessage, 1, sizeof peer))
    fail("first message contents");
  // 2. RDMA Write pattern 2 into the client's target, then a Send with our advertisement.
  fill(n.at(kSendArea), kMessage, 2);
  NDK_SGE s = n.sge(kSendArea, kMessage);
  NTSTATUS st = n.qp->Dispatch->NdkWrite(n.qp, nullptr, &s, 1, peer.address, peer.token, 0);
  if (st != STATUS_SUCCESS) fail("post write", st);
  n.next(NdkOperationTypeWrite);
  fill(n.at(kTargetArea), kMessage, 4);  // what the client will read
  Advert mine{reinterpret_cast<uintptr_t>(n.at(kTargetArea)), n.token, kMessage};
  fill(n.at(kSendArea + kMessage), kMessage, 3);
  std::memcpy(n.at(kSendArea + kMessage), &mine, sizeof mine);
  send(n, kSendArea + kMessage, kMessage, nullptr);
  n.next(NdkOperationTypeSend);
  // 3. "BYE", then the client's disconnect.
  r = n.next(NdkOperationTypeReceive);
  slot = reinterpret_cast<uintptr_t>(r.RequestContext) - 1;
  if (r.BytesTransferred != 3 || std::memcmp(n.at(slot * kMessage), "BYE", 3) != 0)
    fail("BYE message");
  auto deadline = Clock::now() + kWait;
  while (g_disconnects.load() == 0) {
    if (Clock::now() > deadline) fail("waiting for the disconnect event", STATUS_IO_TIMEOUT);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  Waiter w;
  st = w.wait(n.connector->Dispatch->NdkDisconnect(n.connector, &Waiter::request, &w));
  if (st != STATUS_SUCCESS) fail("server disconnect", st);
  std::printf("tcp_node server: ok (disconnect reason %lu)\n", (unsigned long)g_reason.load());
}

void client_exchange(Node& n) {
  Advert mine{reinterpret_cast<uintptr_t>(n.at(kTargetArea)), n.token, kMessage};
  fill(n.at(kSendArea), kMessage, 1);
  std::memcpy(n.at(kSendArea), &mine, sizeof mine);
  send(n, kSendArea, kMessage, nullptr);
  n.next(NdkOperationTypeSend);
  // The server's Send arrives after its RDMA Write has been placed (RFC 5040 §5.5).
  NDK_RESULT_EX r = n.next(NdkOperationTypeReceive);
  size_t slot = reinterpret_cast<uintptr_t>(r.RequestContext) - 1;
  if (!check(n.at(kTargetArea), kMessage, 2)) fail("RDMA Write contents");
  Advert peer;
  std::memcpy(&peer, n.at(slot * kMessage), sizeof peer);
  if (!check(n.at(slot * kMessage), kMessage, 3, sizeof peer))
    fail("second message contents");
  // RDMA Read the server's target into our send area.
  NDK_SGE s = n.sge(kSendArea + kMessage, kMessage);
  NTSTATUS st = n.qp->Dispatch->NdkRead(n.qp, nullptr, &s, 1, peer.address, peer.token, 0);
  if (st != STATUS_SUCCESS) fail("post read", st);
  n.next(NdkOperationTypeRead);
  if (!check(n.at(kSendArea + kMessage), kMessage, 4)) fail("RDMA Read contents");
  std::memcpy(n.at(kSendArea + 2 * kMessage), "BYE", 3);
  send(n, kSendArea + 2 * kMessage, 3, nullptr);
  n.next(NdkOperationTypeSend);
  Waiter w;
  st = w.wait(n.connector->Dispatch->NdkDisconnect(n.connector, &Waiter::request, &w));
  if (st != STATUS_SUCCESS) fail("client disconnect", st);
  std::printf("tcp_node client: ok\n");
}

// ---------------------------------------------------------------------------------------------
// Stream mode: traffic both ways until the link dies.

void stream(Node& n, const char* role) {
  // Sends complete when handed to TCP, so a stream of them would outrun the peer's receives:
  // after one advertisement Send each way, the traffic is RDMA Writes and Reads.
  uint64_t posted = 0, completed = 0, succeeded = 0, failed = 0;
  uint64_t outstanding_writes = 0, outstanding_reads = 0;
  constexpr uint64_t kReads = 4;
  bool link_dead = false;
  Advert peer{};
  bool have_peer = false;
  Advert mine{reinterpret_cast<uintptr_t>(n.at(kTargetArea)), n.token, kMessage};
  std::memcpy(n.at(kSendArea), &mine, sizeof mine);
  send(n, kSendArea, kMessage, reinterpret_cast<void*>(1));
  ++posted;
  auto last_progress = Clock::now();
  auto dead_since = Clock::time_point{};
  for (;;) {
    NDK_RESULT_EX results[32];
    ULONG got = n.cq->Dispatch->NdkGetCqResultsEx(n.cq, results, 32);
    for (ULONG i = 0; i < got; ++i) {
      const NDK_RESULT_EX& r = results[i];
      if (r.Type == NdkOperationTypeReceive) {
        if (r.Status == STATUS_SUCCESS && !have_peer) {
          size_t slot = reinterpret_cast<uintptr_t>(r.RequestContext) - 1;
          std::memcpy(&peer, n.at(slot * kMessage), sizeof peer);
          have_peer = true;
        }
        continue;
      }
      ++completed;
      if (r.Status == STATUS_SUCCESS) {
        ++succeeded;
      } else {
        ++failed;
        link_dead = true;
      }
      if (r.Type == NdkOperationTypeWrite) --outstanding_writes;
      if (r.Type == NdkOperationTypeRead) --outstanding_reads;
      last_progress = Clock::now();
    }
    if (g_disconnects.load() != 0) link_dead = true;
    if (!link_dead && have_peer) {
      while (outstanding_writes < kWindow) {
        NDK_SGE s = n.sge(kSendArea, kMessage);
        NTSTATUS st = n.qp->Dispatch->NdkWrite(n.qp, reinterpret_cast<void*>(3), &s, 1,
                                               peer.address, peer.token, 0);
        if (st != STATUS_SUCCESS) {
          link_dead = true;
          break;
        }
        ++posted;
        ++outstanding_writes;
      }
      while (!link_dead && outstanding_reads < kReads) {
        NDK_SGE s = n.sge(kSendArea + kMessage, kMessage);
        // From a part of the peer's target its Writes never touch (no data race by design).
        NTSTATUS st = n.qp->Dispatch->NdkRead(n.qp, reinterpret_cast<void*>(4), &s, 1,
                                              peer.address + (512u << 10), peer.token, 0);
        if (st != STATUS_SUCCESS) {
          link_dead = true;
          break;
        }
        ++posted;
        ++outstanding_reads;
      }
    }
    if (link_dead && dead_since == Clock::time_point{}) {
      dead_since = Clock::now();
      std::printf("tcp_node %s: link down after %llu successful requests\n", role,
                  (unsigned long long)succeeded);
      std::fflush(stdout);
    }
    if (link_dead && completed == posted && g_disconnects.load() != 0) break;
    if (link_dead && Clock::now() - dead_since > std::chrono::seconds(30)) {
      std::printf("tcp_node %s: HANG posted=%llu completed=%llu disconnect_events=%d\n", role,
                  (unsigned long long)posted, (unsigned long long)completed,
                  g_disconnects.load());
      std::fflush(stdout);
      _exit(2);
    }
    if (!link_dead && Clock::now() - last_progress > std::chrono::seconds(120)) {
      std::printf("tcp_node %s: no progress and no error for 120 s\n", role);
      std::fflush(stdout);
      _exit(3);
    }
    if (got == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::printf(
      "tcp_node %s: link-cut ok posted=%llu completed=%llu succeeded=%llu failed=%llu "
      "disconnect_events=%d reason=%lu\n",
      role, (unsigned long long)posted, (unsigned long long)completed,
      (unsigned long long)succeeded, (unsigned long long)failed, g_disconnects.load(),
      (unsigned long)g_reason.load());
  std::fflush(stdout);
}

int run_server(const std::string& uri, const std::string& port_file, bool streaming) {
  Node n(uri);
  Waiter w;
  NTSTATUS s = w.wait(n.adapter->Dispatch->NdkCreateListener(
      n.adapter, &on_connect_event, nullptr, &Waiter::created, &w, &n.listener));
  if (s != STATUS_SUCCESS) fail("create listener", s);
  sockaddr_storage local = address_of(ip_of_uri(uri), 0);
  Waiter w2;
  s = w2.wait(n.listener->Dispatch->NdkListen(n.listener, reinterpret_cast<sockaddr*>(&local),
                                              length_of(local), &Waiter::request, &w2));
  if (s != STATUS_SUCCESS) fail("listen", s);
  ULONG length = sizeof local;
  s = n.listener->Dispatch->NdkGetLocalAddress(n.listener, reinterpret_cast<sockaddr*>(&local),
                                               &length);
  if (s != STATUS_SUCCESS) fail("listener address", s);
  uint16_t port = ntohs(local.ss_family == AF_INET6
                            ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                            : reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  for (size_t slot = 0; slot < 32; ++slot) n.post_receive(slot);
  {
    std::unique_lock lock(g_incoming_mutex);
    if (!g_incoming_cv.wait_for(lock, std::chrono::seconds(60), [] { return g_incoming != nullptr; }))
      fail("waiting for a connect request", STATUS_IO_TIMEOUT);
    n.connector = g_incoming;
  }
  char data[256] = {};
  ULONG data_length = sizeof data;
  s = n.connector->Dispatch->NdkGetConnectionData(n.connector, nullptr, nullptr, data,
                                                  &data_length);
  if (s != STATUS_SUCCESS || std::strcmp(data, "softndk-client") != 0)
    fail("request private data", s);
  static const char kReply[] = "softndk-server";
  Waiter w3;
  s = w3.wait(n.connector->Dispatch->NdkAcceptEx(n.connector, n.qp, 8, 8, (void*)kReply,
                                                 sizeof kReply, &on_disconnect, nullptr,
                                                 &Waiter::request, &w3));
  if (s != STATUS_SUCCESS) fail("accept", s);
  if (streaming) {
    stream(n, "server");
  } else {
    server_exchange(n);
  }
  return 0;
}

int run_client(const std::string& uri, const std::string& ip, uint16_t port, bool streaming) {
  Node n(uri);
  for (size_t slot = 0; slot < 32; ++slot) n.post_receive(slot);
  Waiter w;
  NTSTATUS s = w.wait(n.adapter->Dispatch->NdkCreateConnector(n.adapter, &Waiter::created, &w,
                                                              &n.connector));
  if (s != STATUS_SUCCESS) fail("create connector", s);
  sockaddr_storage local = address_of(ip_of_uri(uri), 0);
  sockaddr_storage remote = address_of(ip, port);
  static const char kRequest[] = "softndk-client";
  Waiter w2;
  s = w2.wait(n.connector->Dispatch->NdkConnect(
      n.connector, n.qp, reinterpret_cast<sockaddr*>(&local), length_of(local),
      reinterpret_cast<sockaddr*>(&remote), length_of(remote), 8, 8, (void*)kRequest,
      sizeof kRequest, &Waiter::request, &w2));
  if (s != STATUS_SUCCESS) fail("connect", s);
  char data[256] = {};
  ULONG data_length = sizeof data;
  s = n.connector->Dispatch->NdkGetConnectionData(n.connector, nullptr, nullptr, data,
                                                  &data_length);
  if (s != STATUS_SUCCESS || std::strcmp(data, "softndk-server") != 0)
    fail("reply private data", s);
  Waiter w3;
  s = w3.wait(n.connector->Dispatch->NdkCompleteConnectEx(n.connector, &on_disconnect, nullptr,
                                                          &Waiter::request, &w3));
  if (s != STATUS_SUCCESS) fail("complete connect", s);
  if (streaming) {
    stream(n, "client");
  } else {
    client_exchange(n);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string role = argc > 1 ? argv[1] : "";
  if (role == "server" && argc >= 4) {
    bool streaming = argc > 4 && std::string(argv[4]) == "stream";
    return run_server(argv[2], argv[3], streaming);
  }
  if (role == "client" && argc >= 5) {
    bool streaming = argc > 5 && std::string(argv[5]) == "stream";
    return run_client(argv[2], argv[3], static_cast<uint16_t>(std::atoi(argv[4])), streaming);
  }
  std::fprintf(stderr,
               "usage: tcp_node server <uri> <port-file> [stream]\n"
               "       tcp_node client <uri> <server-ip> <port> [stream]\n");
  return 2;
}
