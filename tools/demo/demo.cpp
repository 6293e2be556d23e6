// softndk-demo: two adapters on one transport (default: loopback) connect through a listener and
// move data with send, RDMA write and RDMA read, then disconnect, printing each step and checking
// every byte. Uses only the public ABI (include/softndk). Exit status 0 on success.
#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTimeout = std::chrono::seconds(10);

[[noreturn]] void fail(const char* what, NTSTATUS status) {
  std::fprintf(stderr, "softndk-demo: %s failed: %s\n", what, SoftNdkStatusName(status));
  std::exit(1);
}

// One pending request: the callback fires iff the call returned STATUS_PENDING.
struct Wait {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  NTSTATUS status = STATUS_PENDING;
  NDK_OBJECT_HEADER* object = nullptr;
  static void request(void* c, NTSTATUS s) { static_cast<Wait*>(c)->finish(s, nullptr); }
  static void create(void* c, NTSTATUS s, NDK_OBJECT_HEADER* o) {  // NOLINT
    static_cast<Wait*>(c)->finish(s, o);
  }
  static void closed(void* c) { static_cast<Wait*>(c)->finish(STATUS_SUCCESS, nullptr); }
  void finish(NTSTATUS s, NDK_OBJECT_HEADER* o) {
    std::lock_guard lock(mutex);
    status = s;
    object = o;
    done = true;
    cv.notify_all();
  }
  NTSTATUS result(NTSTATUS returned, const char* what) {
    if (returned != STATUS_PENDING) return returned;
    std::unique_lock lock(mutex);
    if (!cv.wait_for(lock, kTimeout, [&] { return done; })) fail(what, STATUS_IO_TIMEOUT);
    return status;
  }
};

// Runs a create call; the object arrives inline (*out) or through the create completion.
template <class T, class Call>
T* created(Call&& call, const char* what) {
  Wait w;
  T* object = nullptr;
  NTSTATUS returned = call(&Wait::create, &w, &object);
  NTSTATUS s = w.result(returned, what);
  if (s != STATUS_SUCCESS) fail(what, s);
  return returned == STATUS_PENDING ? reinterpret_cast<T*>(w.object) : object;
}

void close(void* object) {
  auto* dispatch = *reinterpret_cast<NDK_FN_CLOSE_OBJECT* const*>(static_cast<char*>(object) +
                                                                   sizeof(NDK_OBJECT_HEADER));
  Wait w;
  w.result(dispatch[0](static_cast<NDK_OBJECT_HEADER*>(object), &Wait::closed, &w), "close");
}

struct Host {
  const char* name;
  NDK_ADAPTER* adapter = nullptr;
  NDK_PD* pd = nullptr;
  NDK_CQ* cq = nullptr;
  NDK_QP* qp = nullptr;
  NDK_MR* mr = nullptr;
  NDK_CONNECTOR* connector = nullptr;
  unsigned char* buffer = nullptr;
  MDL mdl{};
  std::atomic<int> disconnects{0};
};

constexpr size_t kBufferBytes = 1 << 20;

void cq_event(void*, NTSTATUS) {}
void on_disconnect(void* context) {
  static_cast<Host*>(context)->disconnects++;
}

void setup(Host& h, const std::string& uri) {
  NTSTATUS s = SoftNdkOpenAdapter(uri.c_str(), &h.adapter);
  if (s != STATUS_SUCCESS) fail("open adapter", s);
  const NDK_ADAPTER_DISPATCH* a = h.adapter->Dispatch;
  Wait w5;
  h.pd = created<NDK_PD>([&](auto cb, auto ctx, NDK_PD** out) {
    return a->NdkCreatePd(h.adapter, cb, ctx, out);
  }, "create PD");
  h.cq = created<NDK_CQ>([&](auto cb, auto ctx, NDK_CQ** out) {
    return a->NdkCreateCq(h.adapter, 256, cq_event, nullptr, nullptr, cb, ctx, out);
  }, "create CQ");
  h.qp = created<NDK_QP>([&](auto cb, auto ctx, NDK_QP** out) {
    return h.pd->Dispatch->NdkCreateQp(h.pd, h.cq, h.cq, &h, 64, 64, 2, 2, 64, cb, ctx, out);
  }, "create QP");
  h.buffer = static_cast<unsigned char*>(std::aligned_alloc(4096, kBufferBytes));
  std::memset(h.buffer, 0, kBufferBytes);
  SoftNdkInitializeMdl(&h.mdl, h.buffer, kBufferBytes);
  h.mr = created<NDK_MR>([&](auto cb, auto ctx, NDK_MR** out) {
    return h.pd->Dispatch->NdkCreateMr(h.pd, FALSE, cb, ctx, out);
  }, "create MR");
  ULONG flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;
  s = w5.result(h.mr->Dispatch->NdkRegisterMr(h.mr, &h.mdl, kBufferBytes, flags, &Wait::request,
                                              &w5),
                "register MR");
  if (s != STATUS_SUCCESS) fail("register MR", s);
}

NDK_RESULT_EX wait_completion(Host& h, const char* what) {
  NDK_RESULT_EX r{};
  auto deadline = Clock::now() + kTimeout;
  while (h.cq->Dispatch->NdkGetCqResultsEx(h.cq, &r, 1) == 0) {
    if (Clock::now() > deadline) fail(what, STATUS_IO_TIMEOUT);
    std::this_thread::yield();
  }
  if (r.Status != STATUS_SUCCESS) fail(what, r.Status);
  return r;
}

NDK_SGE sge(Host& h, size_t offset, ULONG length) {
  NDK_SGE s{};
  s.VirtualAddress = h.buffer + offset;
  s.Length = length;
  s.MemoryRegionToken = h.mr->Dispatch->NdkGetLocalTokenFromMr(h.mr);
  return s;
}

std::mutex g_incoming_mutex;
std::condition_variable g_incoming_cv;
NDK_CONNECTOR* g_incoming = nullptr;
void on_connect(void*, NDK_CONNECTOR* c) {
  std::lock_guard lock(g_incoming_mutex);
  g_incoming = c;
  g_incoming_cv.notify_all();
}

double mbps(size_t bytes, Clock::duration d) {
  return bytes / std::chrono::duration<double>(d).count() / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string uri = argc > 1 ? argv[1] : "loopback";
  std::printf("softndk-demo over \"%s\"\n", uri.c_str());
  Host a{"A"}, b{"B"};
  setup(a, uri);
  setup(b, uri);
  NDK_ADAPTER_INFO info{};
  ULONG size = sizeof info;
  a.adapter->Dispatch->NdkQueryAdapterInfo(a.adapter, &info, &size);
  std::printf("  adapters open: NDKPI %u.%u, max CQ depth %u, max inline %u, flags 0x%x\n",
              info.Version.Major, info.Version.Minor, info.MaxCqDepth, info.MaxInlineDataSize,
              info.AdapterFlags);

  // B listens on 127.0.0.1, port chosen by the provider.
  Wait wlisten;
  NDK_LISTENER* listener = created<NDK_LISTENER>([&](auto cb, auto ctx, NDK_LISTENER** out) {
    return b.adapter->Dispatch->NdkCreateListener(b.adapter, on_connect, nullptr, cb, ctx, out);
  }, "create listener");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  NTSTATUS s = wlisten.result(
      listener->Dispatch->NdkListen(listener, reinterpret_cast<sockaddr*>(&address),
                                    sizeof address, &Wait::request, &wlisten),
      "listen");
  if (s != STATUS_SUCCESS) fail("listen", s);
  ULONG length = sizeof address;
  listener->Dispatch->NdkGetLocalAddress(listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::printf("  B listens on 127.0.0.1:%u\n", ntohs(address.sin_port));

  // B pre-posts a receive; A connects with private data.
  NDK_SGE recv_sge = sge(b, 0, 4096);
  s = b.qp->Dispatch->NdkReceive(b.qp, reinterpret_cast<void*>(1), &recv_sge, 1);
  if (s != STATUS_SUCCESS) fail("receive", s);
  a.connector = created<NDK_CONNECTOR>([&](auto cb, auto ctx, NDK_CONNECTOR** out) {
    return a.adapter->Dispatch->NdkCreateConnector(a.adapter, cb, ctx, out);
  }, "create connector");
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char hello[] = "hello from A";
  Wait wconnect;
  NTSTATUS connect_status = a.connector->Dispatch->NdkConnect(
      a.connector, a.qp, reinterpret_cast<sockaddr*>(&source), sizeof source,
      reinterpret_cast<sockaddr*>(&address), sizeof address, 4, 4, const_cast<char*>(hello),
      sizeof hello, &Wait::request, &wconnect);
  {
    std::unique_lock lock(g_incoming_mutex);
    if (!g_incoming_cv.wait_for(lock, kTimeout, [] { return g_incoming != nullptr; }))
      fail("connect event", STATUS_IO_TIMEOUT);
    b.connector = g_incoming;
  }
  char data[256] = {};
  ULONG data_length = sizeof data;
  b.connector->Dispatch->NdkGetConnectionData(b.connector, nullptr, nullptr, data, &data_length);
  std::printf("  B got a connect request with private data \"%s\"\n", data);
  Wait waccept;
  NTSTATUS accept_status = b.connector->Dispatch->NdkAccept(
      b.connector, b.qp, 4, 4, nullptr, 0, on_disconnect, &b, &Wait::request, &waccept);
  s = wconnect.result(connect_status, "connect");
  if (s != STATUS_SUCCESS) fail("connect", s);
  Wait wcomplete;
  s = wcomplete.result(a.connector->Dispatch->NdkCompleteConnect(a.connector, on_disconnect, &a,
                                                                 &Wait::request, &wcomplete),
                       "complete connect");
  if (s != STATUS_SUCCESS) fail("complete connect", s);
  s = waccept.result(accept_status, "accept");
  if (s != STATUS_SUCCESS) fail("accept", s);
  ULONG inbound = 0, outbound = 0;
  std::printf("  connected A <-> B\n");

  // Send.
  std::memcpy(a.buffer, "a message sent with NdkSend", 28);
  NDK_SGE send_sge = sge(a, 0, 28);
  s = a.qp->Dispatch->NdkSend(a.qp, nullptr, &send_sge, 1, 0);
  if (s != STATUS_SUCCESS) fail("send", s);
  wait_completion(a, "send completion");
  NDK_RESULT_EX r = wait_completion(b, "receive completion");
  std::printf("  send:  B received %u bytes: \"%s\"\n", r.BytesTransferred,
              reinterpret_cast<char*>(b.buffer));

  // RDMA write of 1 MiB - 4 KiB into B's buffer at 4 KiB, then RDMA read of it back into A.
  size_t bytes = kBufferBytes - 4096;
  for (size_t i = 0; i < bytes; ++i) a.buffer[4096 + i] = static_cast<unsigned char>(i * 7 + 3);
  UINT32 b_token = b.mr->Dispatch->NdkGetRemoteTokenFromMr(b.mr);
  uint64_t b_address = reinterpret_cast<uintptr_t>(b.buffer) + 4096;
  NDK_SGE write_sge = sge(a, 4096, static_cast<ULONG>(bytes));
  auto start = Clock::now();
  s = a.qp->Dispatch->NdkWrite(a.qp, nullptr, &write_sge, 1, b_address, b_token, 0);
  if (s != STATUS_SUCCESS) fail("write", s);
  wait_completion(a, "write completion");
  auto write_time = Clock::now() - start;
  if (std::memcmp(a.buffer + 4096, b.buffer + 4096, bytes) != 0) fail("write data check", 0);
  std::printf("  write: %zu bytes placed in B's memory (%.0f MB/s), verified\n", bytes,
              mbps(bytes, write_time));
  std::memset(a.buffer + 4096, 0, bytes);
  start = Clock::now();
  s = a.qp->Dispatch->NdkRead(a.qp, nullptr, &write_sge, 1, b_address, b_token, 0);
  if (s != STATUS_SUCCESS) fail("read", s);
  wait_completion(a, "read completion");
  auto read_time = Clock::now() - start;
  if (std::memcmp(a.buffer + 4096, b.buffer + 4096, bytes) != 0) fail("read data check", 0);
  std::printf("  read:  %zu bytes read back from B's memory (%.0f MB/s), verified\n", bytes,
              mbps(bytes, read_time));

  // Graceful disconnect from A; B is told once.
  Wait wdisconnect;
  s = wdisconnect.result(
      a.connector->Dispatch->NdkDisconnect(a.connector, &Wait::request, &wdisconnect),
      "disconnect");
  if (s != STATUS_SUCCESS) fail("disconnect", s);
  auto deadline = Clock::now() + kTimeout;
  while (b.disconnects.load() == 0 && Clock::now() < deadline) std::this_thread::yield();
  std::printf("  disconnected; B saw %d disconnect event(s)\n", b.disconnects.load());
  (void)inbound;
  (void)outbound;

  for (Host* h : {&a, &b}) close(h->connector);
  close(listener);
  for (Host* h : {&a, &b}) {
    close(h->qp);
    close(h->mr);
    close(h->cq);
    close(h->pd);
    SoftNdkCloseAdapter(h->adapter);
    std::free(h->buffer);
  }
  std::printf("softndk-demo: all steps succeeded\n");
  return b.disconnects.load() == 1 ? 0 : 1;
}
