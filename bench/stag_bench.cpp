// Micro-benchmarks of the STag lookup every remote access and every local SGE goes through
// (src/core/memory.h StagTable::acquire): a granted access with its lease released, a refused
// one (stale key), and the granted path from several threads at once on one entry.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <vector>

#include "core/memory.h"

namespace softndk::core {
namespace {

struct Fixture {
  StagTable table{1024};
  std::vector<std::byte> bytes = std::vector<std::byte>(1 << 20);
  int pd = 0;
  uint32_t stag = 0;
  uint64_t base = 0;

  Fixture() {
    stag = table.fresh_stag(table.allocate(StagKind::Mr));
    RegionDescriptor r;
    r.kind = StagKind::Mr;
    r.pd = &pd;
    r.access = kAccessLocalWrite | kAccessRemoteRead | kAccessRemoteWrite;
    r.base = reinterpret_cast<uintptr_t>(bytes.data());
    r.length = bytes.size();
    r.mapping.host_base = bytes.data();
    table.publish(stag, r);
    base = r.base;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_StagAcquireGranted(benchmark::State& state) {
  Fixture& f = fixture();
  Lease lease;
  for (auto _ : state) {
    AccessError e = f.table.acquire(f.stag, &f.pd, kAccessRemoteWrite, f.base + 4096, 4096, &lease);
    benchmark::DoNotOptimize(e);
    lease.reset();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StagAcquireGranted);
BENCHMARK(BM_StagAcquireGranted)->Threads(2)->UseRealTime();

void BM_StagAcquireStaleKey(benchmark::State& state) {
  Fixture& f = fixture();
  Lease lease;
  const uint32_t stale = f.stag ^ 1;  // same index, another key
  for (auto _ : state) {
    AccessError e = f.table.acquire(stale, &f.pd, kAccessRemoteWrite, f.base, 64, &lease);
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StagAcquireStaleKey);

// Acquire plus walking the granted range to host spans (what placement does before memcpy).
void BM_StagAcquireAndSpans(benchmark::State& state) {
  Fixture& f = fixture();
  Lease lease;
  const uint64_t bytes = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    f.table.acquire(f.stag, &f.pd, kAccessRemoteRead, f.base, bytes, &lease);
    lease.for_each_span(f.base, bytes, [](std::byte* host, size_t n) {
      benchmark::DoNotOptimize(host);
      benchmark::DoNotOptimize(n);
    });
    lease.reset();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StagAcquireAndSpans)->Arg(64)->Arg(65536);

}  // namespace
}  // namespace softndk::core

BENCHMARK_MAIN();
