// Micro-benchmarks of the data path through the public ABI on the loopback transport: post +
// poll of send/receive, RDMA write and RDMA read between two connected adapters, and the CQ
// ring (a batch of completions produced, then drained; an empty poll).
#include <benchmark/benchmark.h>

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <arpa/inet.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace {

constexpr size_t kBufferBytes = 1 << 20;
constexpr ULONG kDepth = 1024;

struct Waiter {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  NTSTATUS status = STATUS_PENDING;
  static void on_request(void* c, NTSTATUS s) {
    auto* w = static_cast<Waiter*>(c);
    std::lock_guard lock(w->mutex);
    w->status = s;
    w->done = true;
    w->cv.notify_all();
  }
  NTSTATUS result(NTSTATUS returned) {
    if (returned != STATUS_PENDING) return returned;
    std::unique_lock lock(mutex);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; });
    return done ? status : STATUS_IO_TIMEOUT;
  }
};

bool ok(NTSTATUS s) { return s == STATUS_SUCCESS; }

struct Side {
  NDK_ADAPTER* adapter = nullptr;
  NDK_PD* pd = nullptr;
  NDK_CQ* cq = nullptr;
  NDK_QP* qp = nullptr;
  NDK_MR* mr = nullptr;
  NDK_CONNECTOR* connector = nullptr;
  unsigned char* buffer = nullptr;
  MDL mdl{};
  UINT32 token = 0;

  bool open() {
    if (!ok(SoftNdkOpenAdapter("loopback", &adapter))) return false;
    const NDK_ADAPTER_DISPATCH* a = adapter->Dispatch;
    if (!ok(a->NdkCreatePd(adapter, nullptr, nullptr, &pd))) return false;
    if (!ok(a->NdkCreateCq(adapter, 4 * kDepth, [](void*, NTSTATUS) {}, nullptr, nullptr,
                           nullptr, nullptr, &cq)))
      return false;
    if (!ok(pd->Dispatch->NdkCreateQp(pd, cq, cq, nullptr, kDepth, kDepth, 1, 1, 64, nullptr,
                                      nullptr, &qp)))
      return false;
    if (!ok(pd->Dispatch->NdkCreateMr(pd, FALSE, nullptr, nullptr, &mr))) return false;
    buffer = static_cast<unsigned char*>(std::aligned_alloc(4096, kBufferBytes));
    std::memset(buffer, 0, kBufferBytes);
    SoftNdkInitializeMdl(&mdl, buffer, kBufferBytes);
    Waiter w;
    if (!ok(w.result(mr->Dispatch->NdkRegisterMr(
            mr, &mdl, kBufferBytes,
            NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK,
            &Waiter::on_request, &w))))
      return false;
    token = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
    return true;
  }
  NDK_SGE sge(size_t offset, size_t bytes) const {
    NDK_SGE s{};
    s.VirtualAddress = buffer + offset;
    s.Length = static_cast<ULONG>(bytes);
    s.MemoryRegionToken = token;
    return s;
  }
  // Polls until `n` completions arrived; false on an error completion.
  bool drain(ULONG n) {
    NDK_RESULT_EX results[64];
    while (n != 0) {
      ULONG got = cq->Dispatch->NdkGetCqResultsEx(cq, results, std::min<ULONG>(n, 64));
      for (ULONG i = 0; i < got; ++i)
        if (results[i].Status != STATUS_SUCCESS) return false;
      n -= got;
    }
    return true;
  }
};

// Two loopback adapters with one connected QP pair, for the whole benchmark run.
struct Pair {
  Side a, b;
  bool ready = false;
  std::mutex mutex;
  std::condition_variable cv;
  NDK_CONNECTOR* incoming = nullptr;

  Pair() { ready = connect(); }
  static void on_connect(void* context, NDK_CONNECTOR* c) {
    auto* p = static_cast<Pair*>(context);
    std::lock_guard lock(p->mutex);
    p->incoming = c;
    p->cv.notify_all();
  }
  bool connect() {
    if (!a.open() || !b.open()) return false;
    NDK_LISTENER* listener = nullptr;
    if (!ok(b.adapter->Dispatch->NdkCreateListener(b.adapter, &Pair::on_connect, this, nullptr,
                                                   nullptr, &listener)))
      return false;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    Waiter listen;
    if (!ok(listen.result(listener->Dispatch->NdkListen(listener, reinterpret_cast<sockaddr*>(&address),
                                                        sizeof address, &Waiter::on_request, &listen))))
      return false;
    ULONG length = sizeof address;
    listener->Dispatch->NdkGetLocalAddress(listener, reinterpret_cast<sockaddr*>(&address), &length);
    if (!ok(a.adapter->Dispatch->NdkCreateConnector(a.adapter, nullptr, nullptr, &a.connector)))
      return false;
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    Waiter connect;
    NTSTATUS connect_status = a.connector->Dispatch->NdkConnect(
        a.connector, a.qp, reinterpret_cast<sockaddr*>(&source), sizeof source,
        reinterpret_cast<sockaddr*>(&address), sizeof address, 8, 8, nullptr, 0,
        &Waiter::on_request, &connect);
    {
      std::unique_lock lock(mutex);
      if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return incoming != nullptr; }))
        return false;
      b.connector = incoming;
    }
    Waiter accept;
    NTSTATUS accept_status = b.connector->Dispatch->NdkAccept(b.connector, b.qp, 8, 8, nullptr, 0,
                                                              nullptr, nullptr,
                                                              &Waiter::on_request, &accept);
    if (!ok(connect.result(connect_status))) return false;
    Waiter complete;
    if (!ok(complete.result(a.connector->Dispatch->NdkCompleteConnect(
            a.connector, nullptr, nullptr, &Waiter::on_request, &complete))))
      return false;
    return ok(accept.result(accept_status));
  }
};

// Never torn down: the benchmark process exits right after the last benchmark.
Pair& pair() {
  static Pair* p = new Pair;
  return *p;
}

void BM_SendReceivePostPoll(benchmark::State& state) {
  Pair& p = pair();
  if (!p.ready) return state.SkipWithError("loopback pair not connected");
  const size_t bytes = static_cast<size_t>(state.range(0));
  const NDK_SGE send = p.a.sge(0, bytes);
  const NDK_SGE receive = p.b.sge(0, kBufferBytes);
  for (auto _ : state) {
    if (!ok(p.b.qp->Dispatch->NdkReceive(p.b.qp, nullptr, &receive, 1)) ||
        !ok(p.a.qp->Dispatch->NdkSend(p.a.qp, nullptr, &send, 1, 0)) || !p.a.drain(1) ||
        !p.b.drain(1))
      return state.SkipWithError("send/receive failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * bytes);
}
BENCHMARK(BM_SendReceivePostPoll)->Arg(8)->Arg(4096)->Arg(65536);

void BM_WritePostPoll(benchmark::State& state) {
  Pair& p = pair();
  if (!p.ready) return state.SkipWithError("loopback pair not connected");
  const size_t bytes = static_cast<size_t>(state.range(0));
  const NDK_SGE sge = p.a.sge(0, bytes);
  const uint64_t remote = reinterpret_cast<uintptr_t>(p.b.buffer);
  const UINT32 token = p.b.mr->Dispatch->NdkGetRemoteTokenFromMr(p.b.mr);
  for (auto _ : state) {
    if (!ok(p.a.qp->Dispatch->NdkWrite(p.a.qp, nullptr, &sge, 1, remote, token, 0)) ||
        !p.a.drain(1))
      return state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * bytes);
}
BENCHMARK(BM_WritePostPoll)->Arg(8)->Arg(4096)->Arg(65536);

void BM_ReadPostPoll(benchmark::State& state) {
  Pair& p = pair();
  if (!p.ready) return state.SkipWithError("loopback pair not connected");
  const size_t bytes = static_cast<size_t>(state.range(0));
  const NDK_SGE sge = p.a.sge(0, bytes);
  const uint64_t remote = reinterpret_cast<uintptr_t>(p.b.buffer);
  const UINT32 token = p.b.mr->Dispatch->NdkGetRemoteTokenFromMr(p.b.mr);
  for (auto _ : state) {
    if (!ok(p.a.qp->Dispatch->NdkRead(p.a.qp, nullptr, &sge, 1, remote, token, 0)) ||
        !p.a.drain(1))
      return state.SkipWithError("read failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * bytes);
}
BENCHMARK(BM_ReadPostPoll)->Arg(8)->Arg(4096)->Arg(65536);

// The CQ ring: `batch` completions produced (zero-byte writes), then drained in one pass.
void BM_CqRingProduceDrain(benchmark::State& state) {
  Pair& p = pair();
  if (!p.ready) return state.SkipWithError("loopback pair not connected");
  const ULONG batch = static_cast<ULONG>(state.range(0));
  const uint64_t remote = reinterpret_cast<uintptr_t>(p.b.buffer);
  const UINT32 token = p.b.mr->Dispatch->NdkGetRemoteTokenFromMr(p.b.mr);
  for (auto _ : state) {
    for (ULONG i = 0; i < batch; ++i)
      if (!ok(p.a.qp->Dispatch->NdkWrite(p.a.qp, nullptr, nullptr, 0, remote, token, 0)))
        return state.SkipWithError("write failed");
    if (!p.a.drain(batch)) return state.SkipWithError("completion failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch);
}
BENCHMARK(BM_CqRingProduceDrain)->Arg(1)->Arg(16)->Arg(256);

// What a polling consumer pays when nothing completed.
void BM_CqPollEmpty(benchmark::State& state) {
  Pair& p = pair();
  if (!p.ready) return state.SkipWithError("loopback pair not connected");
  NDK_RESULT_EX results[16];
  for (auto _ : state)
    benchmark::DoNotOptimize(p.a.cq->Dispatch->NdkGetCqResultsEx(p.a.cq, results, 16));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CqPollEmpty);

}  // namespace

BENCHMARK_MAIN();
