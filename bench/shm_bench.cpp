// Micro-benchmarks of the shm transport through the public ABI: two adapters of one fabric
// (shm://bench-<pid>) in this process, connected QPs, each side polled by its own thread (the
// same code path as two processes: the segment, the rings and the doorbell). 64 B ping-pong
// (one-way latency = half the round trip), RDMA Write bandwidth with a window of requests in
// flight, and the message rate of 64 B Sends on one QP.
#include <benchmark/benchmark.h>

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "bench_pair.h"
#include "ndkxx/adapter.h"
#include "ndkxx/call.h"
#include "ndkxx/connection.h"
#include "ndkxx/cq.h"
#include "ndkxx/handle.h"
#include "ndkxx/memory.h"

namespace {

using namespace softndk::ndkxx;
using softndk::bench::ok;
using softndk::bench::Pair;
using softndk::bench::Side;

constexpr size_t kBufferBytes = 8 << 20;
constexpr ULONG kDepth = 512;
constexpr ULONG kWindow = 64;  // requests in flight (bandwidth, rate)

std::string bench_uri() { return "shm://bench-" + std::to_string(::getpid()); }

// Never torn down: the benchmark process exits right after the last benchmark.
Pair& pair() {
  static Pair* p = new Pair(bench_uri(), kBufferBytes, kDepth);
  return *p;
}

// B echoes every message it receives (same size) until `stop`; its receives are reposted.
struct Echo {
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::thread thread;
  Echo(Side& b, size_t bytes) {
    for (ULONG i = 0; i < kWindow; ++i) {
      NDK_SGE r = b.sge(0, bytes);
      b.qp->Dispatch->NdkReceive(b.qp, reinterpret_cast<void*>(1), &r, 1);
    }
    thread = std::thread([this, &b, bytes] {
      const NDK_SGE reply = b.sge(kBufferBytes / 2, bytes);
      const NDK_SGE receive = b.sge(0, bytes);
      NDK_RESULT_EX r[16];
      while (!stop.load(std::memory_order_relaxed)) {
        ULONG got = b.cq.poll(r, 16);
        for (ULONG i = 0; i < got; ++i) {
          if (r[i].Status != STATUS_SUCCESS) failed = true;
          if (r[i].Type != NdkOperationTypeReceive) continue;
          if (!ok(b.qp->Dispatch->NdkReceive(b.qp, reinterpret_cast<void*>(1), &receive, 1)) ||
              !ok(b.qp->Dispatch->NdkSend(b.qp, nullptr, &reply, 1, 0)))
            failed = true;
        }
      }
    });
  }
  ~Echo() {
    stop = true;
    thread.join();
  }
};

void BM_ShmPingPong(benchmark::State& state) {
  Pair& p = pair();
  if (!p.ready) return state.SkipWithError("shm pair not connected");
  const size_t bytes = static_cast<size_t>(state.range(0));
  const NDK_SGE send = p.a.sge(kBufferBytes / 2, bytes);
  const NDK_SGE receive = p.a.sge(0, bytes);
  {
    Echo echo(p.b, bytes);
    for (auto _ : state) {
      NDK_RESULT_EX r{};
      if (!ok(p.a.qp->Dispatch->NdkReceive(p.a.qp, nullptr, &receive, 1)) ||
          !ok(p.a.qp->Dispatch->NdkSend(p.a.qp, nullptr, &send, 1, 0)))
        return state.SkipWithError("post failed");
      for (int completions = 0; completions < 2; ++completions)
        if (!p.a.next(&r)) return state.SkipWithError("ping-pong failed");
    }
    if (echo.failed) state.SkipWithError("echo failed");
  }
  state.counters["one_way_us"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 2e-6, benchmark::Counter::kIsRate |
                                                          benchmark::Counter::kInvert);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ShmPingPong)->Arg(64)->UseRealTime();

// RDMA Writes of `bytes` from A into B's memory, kWindow in flight.
void BM_ShmWriteBandwidth(benchmark::State& state) {
  Pair& p = pair();
  if (!p.ready) return state.SkipWithError("shm pair not connected");
  const size_t bytes = static_cast<size_t>(state.range(0));
  const NDK_SGE sge = p.a.sge(0, bytes);
  const uint64_t remote = p.b.memory->address();
  const UINT32 token = p.b.memory->remote_token();
  const ULONG window = bytes >= (1u << 20) ? 8 : kWindow;
  ULONG outstanding = 0;
  for (auto _ : state) {
    while (outstanding < window) {
      if (!ok(p.a.qp->Dispatch->NdkWrite(p.a.qp, nullptr, &sge, 1, remote, token, 0)))
        return state.SkipWithError("write failed");
      ++outstanding;
    }
    NDK_RESULT_EX r{};
    if (!p.a.next(&r)) return state.SkipWithError("write completion failed");
    --outstanding;
  }
  for (NDK_RESULT_EX r{}; outstanding != 0; --outstanding)
    if (!p.a.next(&r)) return state.SkipWithError("write completion failed");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ShmWriteBandwidth)->Arg(64)->Arg(4096)->Arg(65536)->Arg(1 << 20)->UseRealTime();

// 64 B Sends on one QP, kWindow in flight; B's thread reposts receives (and echoes nothing).
void BM_ShmSendRate(benchmark::State& state) {
  Pair& p = pair();
  if (!p.ready) return state.SkipWithError("shm pair not connected");
  const size_t bytes = static_cast<size_t>(state.range(0));
  const NDK_SGE sge = p.a.sge(0, bytes);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> received{0};
  // B's queue may still hold the echo's receives: post what fits (kDepth - kWindow).
  for (ULONG i = 0; i < kDepth - kWindow; ++i) {
    NDK_SGE r = p.b.sge(0, bytes);
    p.b.qp->Dispatch->NdkReceive(p.b.qp, nullptr, &r, 1);
  }
  std::thread receiver([&] {
    const NDK_SGE r = p.b.sge(0, bytes);
    NDK_RESULT_EX results[64];
    while (!stop.load(std::memory_order_relaxed)) {
      ULONG got = p.b.cq.poll(results, 64);
      for (ULONG i = 0; i < got; ++i) p.b.qp->Dispatch->NdkReceive(p.b.qp, nullptr, &r, 1);
      received.fetch_add(got, std::memory_order_relaxed);
    }
  });
  uint64_t sent = 0;
  ULONG outstanding = 0;
  for (auto _ : state) {
    // Never more in flight than B has receives for (RNR would abort the connection): with
    // nothing of ours in flight, wait for B to catch up.
    for (;;) {
      while (outstanding < kWindow &&
             sent - received.load(std::memory_order_relaxed) < kDepth / 2) {
        if (!ok(p.a.qp->Dispatch->NdkSend(p.a.qp, nullptr, &sge, 1, 0))) break;
        ++outstanding;
        ++sent;
      }
      if (outstanding != 0) break;
      std::this_thread::yield();
    }
    NDK_RESULT_EX r{};
    if (!p.a.next(&r)) {
      stop = true;
      receiver.join();
      static std::string why;
      why = "send completion failed: " + std::string(SoftNdkStatusName(r.Status));
      return state.SkipWithError(why.c_str());
    }
    --outstanding;
  }
  for (NDK_RESULT_EX r{}; outstanding != 0; --outstanding) p.a.next(&r);
  const auto deadline = Clock::now() + default_timeout();
  while (received.load() < sent && Clock::now() < deadline) std::this_thread::yield();
  stop = true;
  receiver.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ShmSendRate)->Arg(64)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
