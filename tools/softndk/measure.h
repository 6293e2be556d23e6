// What `softndk perf` measures on the client side: a test specification, the measurement it
// yields (rate, bandwidth, latency percentiles from a streaming Histogram), and the loops that
// run data operations (perf_data.cpp) and memory operations (perf_memory.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client.h"
#include "cpu.h"
#include "histogram.h"
#include "protocol.h"

namespace softndk::cli {

class Progress;

struct TestSpec {
  Op op = Op::Send;
  Mode mode = Mode::Bandwidth;
  uint64_t size = 0;
  uint32_t sge = 1;
  uint32_t depth = 1;         // requests kept outstanding per data link (bandwidth, rate)
  uint32_t cq_mod = 1;        // one signaled request per cq_mod (the others silent)
  uint32_t inline_bytes = 0;  // sends and writes of at most this size go inline
  uint64_t iterations = 0;    // used when duration_s == 0
  double duration_s = 0;
};

// What a latency sample is.
enum class LatencyKind {
  OneWay,      // half the round trip of a ping-pong (send, write, sendinv latency)
  RoundTrip,   // the whole round trip (read latency: a read is one; ping)
  Completion,  // from posting a request to its completion (bandwidth, rate, fastreg, bind)
  Call,        // from calling the function to its completion (reg, dereg)
};
const char* latency_kind_name(LatencyKind kind);  // "one_way", "round_trip", ...

struct LatencySummary {
  uint64_t count = 0;
  double min_us = 0, avg_us = 0, stdev_us = 0, p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  static LatencySummary of(const Histogram& nanoseconds);
};

struct Measurement {
  std::string name;  // the row: "send", "write", "reg", "dereg", "invalidate-mr", ...
  Op op = Op::Send;
  Mode mode = Mode::Bandwidth;
  uint64_t size = 0;
  uint64_t iterations = 0;
  double seconds = 0;
  bool moves_data = true;  // bandwidth is meaningful
  LatencyKind latency_kind = LatencyKind::Completion;
  LatencySummary latency;
  // How the server waited for its completions during the test (its TestDone).
  bool server_notifications = false;
  uint64_t server_notification_count = 0;
  // CPU use of each process during the test (user + system over wall time); in-process runs
  // measure the one process twice.
  CpuUse client_cpu;
  CpuUse server_cpu;

  double ops_per_second() const { return seconds > 0 ? iterations / seconds : 0; }
  double bytes_per_second() const { return seconds > 0 ? iterations * double(size) / seconds : 0; }
};

// send/write/read in bandwidth, rate or latency mode: one measurement.
std::vector<Measurement> run_data_test(Client& client, const TestSpec& spec, Progress& progress);
// reg (+dereg), fastreg (+invalidate-mr), bind (+invalidate-mw), sendinv.
std::vector<Measurement> run_memory_test(Client& client, const TestSpec& spec,
                                         Progress& progress);

// Test loops share this: has the test run its course (iterations or duration)?
struct TestClock {
  explicit TestClock(const TestSpec& spec)
      : iterations(spec.duration_s > 0 ? UINT64_MAX : spec.iterations),
        start(Clock::now()),
        end(spec.duration_s > 0
                ? start + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(spec.duration_s))
                : Clock::time_point::max()) {}
  // Throws Error("interrupted") once SIGINT/SIGTERM asked to stop: a ping-pong whose replies
  // never leave the CQ empty long enough for a wait to notice the stop must still end.
  bool more(uint64_t done, Clock::time_point now) const {
    check_stop();
    return done < iterations && now < end;
  }
  uint64_t iterations;
  Clock::time_point start;
  Clock::time_point end;
};

inline uint64_t nanoseconds(Clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

}  // namespace softndk::cli
