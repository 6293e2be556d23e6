// The workload of the seeded fault soak (docs/faults.md "The soak"), shared by the soak with
// both ends in one process (soak_test.cpp) and the tcp soak across two processes
// (soak_two_process_test.cpp): the random plan of a schedule, and one side of a connected pair
// that posts receives and random sends, writes and reads, then collects its completions and
// checks its own invariants. A violation is recorded as text, not as a gtest failure, so that a
// peer process can report it back.
#pragma once

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fault_support.h"

namespace faulttest {

// The value of the environment variable `name` as a count, `fallback` when unset or empty.
uint64_t env_count(const char* name, uint64_t fallback);

// The fault plan of a schedule (one or two random rules, those the transport supports) and the
// side it sits on, drawn from the schedule's generator.
struct SoakPlan {
  std::string plan;
  bool on_active = true;
};
SoakPlan draw_plan(std::mt19937_64& rng, bool loopback);

// Counts of one schedule or of many.
struct SoakTotals {
  uint64_t requests = 0, completions = 0, faults = 0, overruns = 0;
  void add(const SoakTotals& other) {
    requests += other.requests;
    completions += other.completions;
    faults += other.faults;
    overruns += other.overruns;
  }
};

// The memory of a side the peer reaches: where its registered 64 KiB begin, and their token.
struct SoakRemote {
  uint64_t base = 0;
  UINT32 token = 0;
};

// One side of a connected pair: its adapter, CQ and QP (the fixture `node`), its connector, its
// 64 KiB of memory (every right) and the peer's. Request contexts start at `first_context`.
// Layout of each side's memory: sources of sends and writes (and of the peer's reads)
// [0, 16 KiB), the peer's write targets [16, 32), receives [32, 48), read sinks [48, 64): no byte
// is written while something else reads or writes it.
class SoakSide {
 public:
  SoakSide(const char* name, PdCqFixture* node, NDK_QP* qp, NDK_CONNECTOR* connector,
           Region* local, SoakRemote remote, uintptr_t first_context);

  void post_receives(int count);
  // One random send (half of them), write into the peer or read from it, drawn from `rng`.
  void post_random(std::mt19937_64& rng);
  void flush() { qp_->Dispatch->NdkFlush(qp_); }
  // Polls until every request whose post succeeded completed (bounded by kTimeout), checking
  // each completion; adds the counts. A side whose CQ overran returns nothing more by
  // definition: it is counted as an overrun and not accounted.
  void collect(SoakTotals* totals);
  // Closes the connector, then the QP; after the QP, nothing may complete any more.
  void close_connector();
  void close_qp();
  void check_nothing_after_close();

  const std::vector<std::string>& violations() const { return violations_; }

 private:
  void track(NTSTATUS status, uintptr_t context);
  void violation(const std::string& text) { violations_.push_back(name_ + " side: " + text); }

  std::string name_;
  PdCqFixture* node_;
  NDK_QP* qp_;
  NDK_CONNECTOR* connector_;
  Region* local_;
  SoakRemote remote_;
  uintptr_t next_context_;
  std::set<uintptr_t> expected_;  // posted successfully
  std::set<uintptr_t> completed_;
  std::vector<std::string> violations_;
};

}  // namespace faulttest
