// Micro-benchmarks of the data path through the public ABI on the loopback transport: post +
// poll of send/receive, RDMA write and RDMA read between two connected adapters, and the CQ
// ring (a batch of completions produced, then drained; an empty poll).
#include <benchmark/benchmark.h>

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <algorithm>
#include <memory>

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

constexpr size_t kBufferBytes = 1 << 20;
constexpr ULONG kDepth = 1024;


// Never torn down: the benchmark process exits right after the last benchmark.
Pair& pair() {
  static Pair* p = new Pair("loopback", kBufferBytes, kDepth);
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
  const uint64_t remote = p.b.memory->address();
  const UINT32 token = p.b.memory->remote_token();
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
  const uint64_t remote = p.b.memory->address();
  const UINT32 token = p.b.memory->remote_token();
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
  const uint64_t remote = p.b.memory->address();
  const UINT32 token = p.b.memory->remote_token();
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
    benchmark::DoNotOptimize(p.a.cq.poll(results, 16));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CqPollEmpty);

}  // namespace

BENCHMARK_MAIN();
