// softndk-demo: two adapters on one transport (default: loopback) connect through a listener and
// move data with send, RDMA write and RDMA read, then disconnect, printing each step and checking
// every byte. Uses only the public ABI (include/softndk) through src/ndkxx, the C++ layer over it.
// Exit status 0 on success.
#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "ndkxx/adapter.h"
#include "ndkxx/address.h"
#include "ndkxx/call.h"
#include "ndkxx/connection.h"
#include "ndkxx/cq.h"
#include "ndkxx/handle.h"
#include "ndkxx/memory.h"

namespace {

using namespace softndk::ndkxx;

[[noreturn]] void fail(const char* what, NTSTATUS status) {
  std::fprintf(stderr, "softndk-demo: %s failed: %s\n", what, SoftNdkStatusName(status));
  std::exit(1);
}

template <class T>
T* created(const Created<T>& created, const char* what) {
  if (!created.ok()) fail(what, created.status);
  return created.object;
}

constexpr size_t kBufferBytes = 1 << 20;
constexpr ULONG kAccess = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                          NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;

// One side: an adapter with a PD, a CQ, a QP, 1 MiB of registered memory and, once connected, a
// connector. Members close in reverse order: connector, memory, QP, CQ, PD, adapter.
struct Host {
  explicit Host(const std::string& uri) : adapter(uri) {
    if (adapter.open_status() != STATUS_SUCCESS) fail("open adapter", adapter.open_status());
    pd.reset(created(create<NDK_PD>([&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_PD** out) {
                       return adapter.d()->NdkCreatePd(adapter.get(), cb, ctx, out);
                     }),
                     "create PD"));
    NTSTATUS s = cq.create(adapter.get(), 256);
    if (s != STATUS_SUCCESS) fail("create CQ", s);
    qp.reset(created(create<NDK_QP>([&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_QP** out) {
                       return pd->Dispatch->NdkCreateQp(pd, cq.get(), cq.get(), this, 64, 64, 2, 2,
                                                        64, cb, ctx, out);
                     }),
                     "create QP"));
    memory = std::make_unique<Region>(pd, kBufferBytes, kAccess);
    if (memory->status() != STATUS_SUCCESS) fail("register MR", memory->status());
  }
  unsigned char* buffer() const { return memory->data(); }

  Adapter adapter;
  PdHandle pd;
  Cq cq;
  QpHandle qp;
  std::unique_ptr<Region> memory;
  ConnectorHandle connector;
  DisconnectEvents disconnects;
};

NDK_RESULT_EX wait_completion(Host& h, const char* what) {
  NDK_RESULT_EX r{};
  if (!h.cq.next(&r, Wait{default_timeout(), nullptr, /*spin=*/true}))
    fail(what, STATUS_IO_TIMEOUT);
  if (r.Status != STATUS_SUCCESS) fail(what, r.Status);
  return r;
}

double mbps(size_t bytes, Clock::duration d) {
  return bytes / std::chrono::duration<double>(d).count() / 1e6;
}

constexpr const char* kUsage =
    "usage: softndk-demo [URI]\n"
    "Two adapters on the transport of URI (default loopback; e.g. tcp://127.0.0.1) connect\n"
    "through a listener and move data with send, RDMA write and RDMA read, then disconnect,\n"
    "printing each step and checking every byte. Exit status 0 when every step succeeded.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2) {
    std::fprintf(stderr, "softndk-demo: one URI at most\n%s", kUsage);
    return 2;
  }
  const std::string arg = argc > 1 ? argv[1] : "loopback";
  if (arg == "-h" || arg == "--help" || arg == "help") {
    std::printf("%s", kUsage);
    return 0;
  }
  if (!arg.empty() && arg[0] == '-') {
    std::fprintf(stderr, "softndk-demo: unknown option \"%s\"\n%s", arg.c_str(), kUsage);
    return 2;
  }
  const std::string& uri = arg;
  std::printf("softndk-demo over \"%s\"\n", uri.c_str());
  set_close_failure_handler([](int, const Outcome& outcome) { fail("close", outcome.status); });
  Host a(uri), b(uri);
  const NDK_ADAPTER_INFO& info = a.adapter.info();
  std::printf("  adapters open: NDKPI %u.%u, max CQ depth %u, max inline %u, flags 0x%x\n",
              info.Version.Major, info.Version.Minor, info.MaxCqDepth, info.MaxInlineDataSize,
              info.AdapterFlags);

  // B listens on its local address, port chosen by the provider.
  ConnectEvents incoming;  // outlives the listener
  ListenerHandle listener(created(create_listener(b.adapter.get(), incoming), "create listener"));
  NTSTATUS s = listen(listener, b.adapter.local_address()).status;
  if (s != STATUS_SUCCESS) fail("listen", s);
  sockaddr_storage address{};
  local_address(listener.get(), &address);
  std::printf("  B listens on %s:%u\n", ip_of(address).c_str(), port_of(address));

  // B pre-posts a receive; A connects with private data.
  NDK_SGE recv_sge = b.memory->sge(0, 4096);
  s = b.qp->Dispatch->NdkReceive(b.qp, reinterpret_cast<void*>(1), &recv_sge, 1);
  if (s != STATUS_SUCCESS) fail("receive", s);
  a.connector.reset(created(create_connector(a.adapter.get()), "create connector"));
  const char hello[] = "hello from A";
  Handshake handshake;
  handshake.connector = a.connector;
  handshake.active_qp = a.qp;
  handshake.source = a.adapter.local_address(address.ss_family);
  handshake.destination = address;
  handshake.connect = {4, 4, hello, sizeof hello};
  handshake.active_disconnect = {&a.disconnects, false};
  handshake.incoming = &incoming;
  handshake.passive_qp = b.qp;
  handshake.accept = {4, 4};
  handshake.passive_disconnect = {&b.disconnects, false};
  handshake.on_incoming = [](NDK_CONNECTOR* in, Request&) {
    char data[256] = {};
    ULONG data_length = sizeof data;
    in->Dispatch->NdkGetConnectionData(in, nullptr, nullptr, data, &data_length);
    std::printf("  B got a connect request with private data \"%s\"\n", data);
  };
  Established established = establish(handshake);
  b.connector.reset(established.passive);
  if (!established.ok()) fail(established.step, established.status);
  std::printf("  connected A <-> B\n");

  // Send.
  std::memcpy(a.buffer(), "a message sent with NdkSend", 28);
  NDK_SGE send_sge = a.memory->sge(0, 28);
  s = a.qp->Dispatch->NdkSend(a.qp, nullptr, &send_sge, 1, 0);
  if (s != STATUS_SUCCESS) fail("send", s);
  wait_completion(a, "send completion");
  NDK_RESULT_EX r = wait_completion(b, "receive completion");
  std::printf("  send:  B received %u bytes: \"%s\"\n", r.BytesTransferred,
              reinterpret_cast<char*>(b.buffer()));

  // RDMA write of 1 MiB - 4 KiB into B's buffer at 4 KiB, then RDMA read of it back into A. B's
  // bytes are checked once the read completed: a write's completion says the data left A (on
  // iWARP: was handed to TCP, RFC 5040), a read that follows it on the connection
  // completes after the write was placed (3.7 rule 2).
  size_t bytes = kBufferBytes - 4096;
  auto pattern = [](size_t i) { return static_cast<unsigned char>(i * 7 + 3); };
  auto holds_pattern = [&](const unsigned char* p) {
    for (size_t i = 0; i < bytes; ++i)
      if (p[i] != pattern(i)) return false;
    return true;
  };
  for (size_t i = 0; i < bytes; ++i) a.buffer()[4096 + i] = pattern(i);
  UINT32 b_token = b.memory->remote_token();
  uint64_t b_address = b.memory->address(4096);
  NDK_SGE write_sge = a.memory->sge(4096, bytes);
  auto start = Clock::now();
  s = a.qp->Dispatch->NdkWrite(a.qp, nullptr, &write_sge, 1, b_address, b_token, 0);
  if (s != STATUS_SUCCESS) fail("write", s);
  wait_completion(a, "write completion");
  auto write_time = Clock::now() - start;
  std::memset(a.buffer() + 4096, 0, bytes);
  start = Clock::now();
  s = a.qp->Dispatch->NdkRead(a.qp, nullptr, &write_sge, 1, b_address, b_token, 0);
  if (s != STATUS_SUCCESS) fail("read", s);
  wait_completion(a, "read completion");
  auto read_time = Clock::now() - start;
  if (!holds_pattern(b.buffer() + 4096)) fail("write data check", 0);
  std::printf("  write: %zu bytes placed in B's memory (%.0f MB/s), verified\n", bytes,
              mbps(bytes, write_time));
  if (!holds_pattern(a.buffer() + 4096)) fail("read data check", 0);
  std::printf("  read:  %zu bytes read back from B's memory (%.0f MB/s), verified\n", bytes,
              mbps(bytes, read_time));

  // Graceful disconnect from A; B is told once.
  s = disconnect(a.connector).status;
  if (s != STATUS_SUCCESS) fail("disconnect", s);
  wait_until([&] { return b.disconnects.count.load() != 0; });
  std::printf("  disconnected; B saw %d disconnect event(s)\n", b.disconnects.count.load());

  // The connectors go before the listener (whose close waits for the connector it delivered).
  a.connector.reset();
  b.connector.reset();
  Outcome closed = listener.close();
  if (!closed.ok()) fail("close listener", closed.status);
  std::printf("softndk-demo: all steps succeeded\n");
  return b.disconnects.count.load() == 1 ? 0 : 1;
}
