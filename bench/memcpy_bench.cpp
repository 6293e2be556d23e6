// The memory-bandwidth reference of bench/compare: memcpy of N bytes between two buffers that
// stay the same from one iteration to the next, which is what a loopback RDMA write of N bytes
// does (one memcpy from the initiator's registered buffer into the target's, the same buffers
// every time: softndk perf reuses its send and receive areas). Bandwidth = bytes copied per
// second of wall-clock time (each byte read once and written once, as by the write), like
// softndk perf, iperf3 and the others measure: on a shared machine a descheduled copy counts.
//
// The buffers are page aligned, touched before the loop, and the copy goes through glibc's
// memcpy (the one src/transport/loopback calls), so its size-dependent strategy (vector moves,
// `rep movsb`, non-temporal stores above __x86_shared_non_temporal_threshold) is the same.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

void BM_Memcpy(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  const size_t allocated = (bytes + 4095) / 4096 * 4096;
  std::unique_ptr<void, FreeDeleter> src(std::aligned_alloc(4096, allocated));
  std::unique_ptr<void, FreeDeleter> dst(std::aligned_alloc(4096, allocated));
  if (!src || !dst) {
    state.SkipWithError("out of memory");
    return;
  }
  std::memset(src.get(), 0x5a, allocated);
  std::memset(dst.get(), 0, allocated);
  for (auto _ : state) {
    std::memcpy(dst.get(), src.get(), bytes);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

}  // namespace

// 64 B, 4 KiB, 64 KiB and 1 MiB: the sizes of the bench/compare table.
BENCHMARK(BM_Memcpy)->Arg(64)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20)->UseRealTime();

BENCHMARK_MAIN();
