// The seeded fault soak (docs/faults.md): random fault schedules over a mixed workload of
// sends, receives, writes and reads in both directions on a connected pair, both ends in this
// process (the tcp soak across two processes: soak_two_process_test.cpp; the workload of both:
// soak_workload.h). Whatever fires, every request whose post succeeded completes exactly once
// (a failed post completes never), nothing unknown completes, and nothing completes after the
// queue pairs closed. The seed of a failing schedule is printed; SOFTNDK_FAULT_SOAK_SEED=N
// replays it alone.
//
// CI runs 200 schedules on loopback and 30 on tcp; SOFTNDK_FAULT_SOAK=N (and
// SOFTNDK_FAULT_SOAK_TCP=N) run N instead: the long soak is 10000 and 1000.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "soak_workload.h"

namespace faulttest {
namespace {

class Soak {
 public:
  Soak(const std::string& uri, uint64_t seed, SoakTotals* totals)
      : uri_(uri), seed_(seed), rng_(seed), totals_(totals) {}

  // Runs the schedule; failures are recorded with the seed in their trace.
  void run() {
    const bool loopback = is_loopback_uri(uri_);
    const SoakPlan plan = draw_plan(rng_, loopback);
    SCOPED_TRACE("fault soak seed " + std::to_string(seed_) + " on " + uri_ + ": plan '" +
                 plan.plan + "' on the " + (plan.on_active ? "active" : "passive") +
                 " side (replay: SOFTNDK_FAULT_SOAK_SEED=" + std::to_string(seed_) + ")");
    PairOptions options;
    // A silent link is noticed by the side that did not go silent (loopback option).
    if (loopback) options.active_uri = options.passive_uri = with_option(uri_, "link_timeout_ms", "30");
    options.cq_depth = 4096;
    MemoryPairFixture pair(uri_, options);
    const MemoryShape shape{64 * 1024, kMrAll, 0, 64 * 1024, kMrAll, 0, 0};
    Region* a = nullptr;
    Region* p = nullptr;
    ASSERT_TRUE(pair.connect(shape, [&](ConnectedPairFixture&) {
      a = pair.active_buffer.get();
      p = pair.passive_buffer.get();
    }));
    SoakSide sides[2] = {
        {"active", &pair.active, pair.active.qp, pair.active.connector, a,
         {p->address(), p->remote_token()}, 0x1000},
        {"passive", &pair.passive, pair.passive.qp, pair.passive.connector, p,
         {a->address(), a->remote_token()}, 0x100000}};
    for (SoakSide& s : sides) s.post_receives(24);
    ASSERT_TRUE(set_plan((plan.on_active ? pair.active : pair.passive).get(), plan.plan.c_str(),
                         seed_));
    const int operations = 20 + static_cast<int>(rng_() % 40);
    for (int i = 0; i < operations; ++i) sides[rng_() % 4 == 0 ? 0 : 1].post_random(rng_);
    // Everything outstanding ends: both queue pairs flush, then every completion is collected.
    for (SoakSide& s : sides) s.flush();
    for (SoakSide& s : sides) s.collect(totals_);
    for (SoakSide& s : sides) s.close_connector();
    for (SoakSide& s : sides) s.close_qp();
    for (SoakSide& s : sides) s.check_nothing_after_close();
    for (ConnectedPairFixture::Side* side : {&pair.active, &pair.passive}) {
      side->connector = nullptr;
      side->qp = nullptr;
    }
    for (SoakSide& s : sides)
      for (const std::string& v : s.violations()) ADD_FAILURE() << v;
  }

 private:
  std::string uri_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  SoakTotals* totals_;
};

void soak(const std::string& uri, uint64_t schedules, uint64_t first_seed) {
  if (const char* only = std::getenv("SOFTNDK_FAULT_SOAK_SEED"); only != nullptr && *only) {
    first_seed = std::strtoull(only, nullptr, 10);
    schedules = 1;
  }
  SoakTotals totals;
  for (uint64_t seed = first_seed; seed < first_seed + schedules; ++seed) {
    Soak(uri, seed, &totals).run();
    if (::testing::Test::HasFailure()) {
      std::fprintf(stderr, "fault soak: seed %" PRIu64 " on %s failed\n", seed, uri.c_str());
      return;
    }
  }
  std::printf("fault soak on %s: %" PRIu64 " schedules, %" PRIu64 " requests, %" PRIu64
              " completions, %" PRIu64 " faults fired, %" PRIu64 " CQ overruns, 0 violations\n",
              uri.c_str(), schedules, totals.requests, totals.completions, totals.faults,
              totals.overruns);
  // The schedules must exercise something: faults fire and requests complete.
  EXPECT_GT(totals.faults, schedules / 4);
  EXPECT_GT(totals.completions, schedules * 10);
}

TEST(FaultSoak, loopback_schedules_complete_every_request_exactly_once) {
  soak("loopback", env_count("SOFTNDK_FAULT_SOAK", 200), 1);
}

TEST(FaultSoak, tcp_schedules_complete_every_request_exactly_once) {
  soak("tcp://127.0.0.1", env_count("SOFTNDK_FAULT_SOAK_TCP", 30), 1000001);
}

}  // namespace
}  // namespace faulttest
