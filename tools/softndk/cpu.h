// CPU use of this process over an interval, as perftest's --cpu_util reports it: user plus system
// time (getrusage, every thread of the process: the provider's progress threads included) over
// the wall-clock time, in percent (above 100 when several threads run at once).
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>

namespace softndk::cli {

struct CpuSample {
  uint64_t cpu_us = 0;   // user + system time of the process so far
  uint64_t wall_us = 0;  // steady clock

  static CpuSample now() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto us = [](const timeval& t) {
      return static_cast<uint64_t>(t.tv_sec) * 1000000 + static_cast<uint64_t>(t.tv_usec);
    };
    CpuSample s;
    s.cpu_us = us(usage.ru_utime) + us(usage.ru_stime);
    s.wall_us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
    return s;
  }
};

// CPU time and wall time between two samples.
struct CpuUse {
  uint64_t cpu_us = 0;
  uint64_t wall_us = 0;
  static CpuUse between(const CpuSample& from, const CpuSample& to) {
    return {to.cpu_us - from.cpu_us, to.wall_us - from.wall_us};
  }
  bool known() const { return wall_us != 0; }
  double percent() const { return wall_us != 0 ? 100.0 * cpu_us / wall_us : 0; }
};

}  // namespace softndk::cli
