// The hardware floor of an in-process message between two threads, for bench/compare and
// docs/performance.md: two threads hand one cache line back and forth (thread 0 stores a
// sequence number into `ping` and spins until thread 1 echoes it into `pong`). One iteration is
// one round trip; the `one_way_s` counter (seconds) is half of it: what any loopback send
// between a poster and a polling consumer on another CPU pays at least once, before any
// provider code. Both threads spin: with fewer than two idle CPUs the numbers show preemption.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>

namespace {

struct alignas(64) Line {
  std::atomic<uint64_t> value{0};
};
Line ping, pong;

void BM_CacheLineHandoff(benchmark::State& state) {
  // Every run of the benchmark gives both threads the same iteration count, so both lines hold
  // the same total at the start of a run: each thread continues from its own line's value.
  if (state.thread_index() == 0) {
    uint64_t next = ping.value.load(std::memory_order_relaxed);
    for (auto _ : state) {
      ++next;
      ping.value.store(next, std::memory_order_release);
      while (pong.value.load(std::memory_order_acquire) != next) {
      }
    }
    state.counters["one_way_s"] = benchmark::Counter(
        static_cast<double>(state.iterations()) * 2,
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  } else {
    uint64_t next = pong.value.load(std::memory_order_relaxed);
    for (auto _ : state) {
      ++next;
      while (ping.value.load(std::memory_order_acquire) != next) {
      }
      pong.value.store(next, std::memory_order_release);
    }
  }
}
BENCHMARK(BM_CacheLineHandoff)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
