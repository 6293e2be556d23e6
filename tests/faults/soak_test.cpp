// The seeded fault soak (docs/faults.md): random fault schedules over a mixed workload of
// sends, receives, writes and reads in both directions on a connected pair. Whatever fires,
// every request whose post succeeded completes exactly once (a failed post completes never),
// nothing unknown completes, and nothing completes after the queue pairs closed. The seed of a
// failing schedule is printed; SOFTNDK_FAULT_SOAK_SEED=N replays it alone.
//
// CI runs 200 schedules on loopback and 30 on tcp; SOFTNDK_FAULT_SOAK=N (and
// SOFTNDK_FAULT_SOAK_TCP=N) run N instead: the long soak is 10000 and 1000.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "fault_support.h"

namespace faulttest {
namespace {

uint64_t env_count(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

// One random rule of the plan: loopback may use every point, tcp the ones it implements.
std::string random_rule(std::mt19937_64& rng, bool loopback) {
  auto n = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const std::vector<std::string> common = {
      "call.send@p0.1:INSUFFICIENT_RESOURCES", "call.write@" + std::to_string(n(1, 20)) + ":IO_TIMEOUT",
      "call.read@" + std::to_string(n(1, 10)), "call.receive@p0.05:INVALID_DEVICE_STATE",
      "conn.abort@msgs=" + std::to_string(n(0, 40)),
      "conn.disconnect@msgs=" + std::to_string(n(0, 40)),
      "data.rnr@" + std::to_string(n(1, 30)), "data.access@" + std::to_string(n(1, 20)),
      "cq.overrun@" + std::to_string(n(1, 60)), "data.corrupt@" + std::to_string(n(1, 30))};
  const std::vector<std::string> loopback_only = {
      "data.drop@" + std::to_string(n(1, 30)),
      "data.delay@" + std::to_string(n(1, 30)) + ":ms=" + std::to_string(n(1, 5)),
      "peer.vanish@msgs=" + std::to_string(n(0, 40)),
      "peer.silent@msgs=" + std::to_string(n(0, 40))};
  size_t total = common.size() + (loopback ? loopback_only.size() : 0);
  size_t pick = std::uniform_int_distribution<size_t>(0, total - 1)(rng);
  return pick < common.size() ? common[pick] : loopback_only[pick - common.size()];
}

struct Totals {
  uint64_t requests = 0, completions = 0, faults = 0, overruns = 0;
};

class Soak {
 public:
  Soak(const std::string& uri, uint64_t seed, Totals* totals)
      : uri_(uri), seed_(seed), rng_(seed), totals_(totals) {}

  // Runs the schedule; failures are recorded with the seed in their trace.
  void run() {
    const bool loopback = is_loopback_uri(uri_);
    std::string plan = random_rule(rng_, loopback);
    if (coin(2)) plan += ";" + random_rule(rng_, loopback);
    const bool on_active = coin(2);
    SCOPED_TRACE("fault soak seed " + std::to_string(seed_) + " on " + uri_ + ": plan '" + plan +
                 "' on the " + (on_active ? "active" : "passive") + " side (replay: "
                 "SOFTNDK_FAULT_SOAK_SEED=" + std::to_string(seed_) + ")");
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
    Side sides[2] = {{&pair.active, a, p}, {&pair.passive, p, a}};
    for (Side& s : sides) post_receives(s, 24);
    ASSERT_TRUE(set_plan((on_active ? pair.active : pair.passive).get(), plan.c_str(), seed_));
    const int operations = 20 + static_cast<int>(rng_() % 40);
    for (int i = 0; i < operations; ++i) post_random(sides[coin(4) ? 0 : 1]);
    // Everything outstanding ends: both queue pairs flush, then every completion is collected.
    for (Side& s : sides) s.node->qp->Dispatch->NdkFlush(s.node->qp);
    for (Side& s : sides) collect(s);
    for (Side& s : sides) totals_->faults += faults_injected(s.node->get());
    for (Side& s : sides) {
      ASSERT_TRUE(s.node->close(s.node->connector)) << "close of a connector";
      s.node->connector = nullptr;
    }
    for (Side& s : sides) ASSERT_TRUE(s.node->close(s.node->qp)) << "close of a queue pair";
    for (Side& s : sides) {
      NDK_RESULT_EX r;
      EXPECT_EQ(0u, s.node->cq.poll(&r, 1)) << "a completion after the queue pair closed";
      s.node->qp = nullptr;
    }
  }

 private:
  struct Side {
    ConnectedPairFixture::Side* node;
    Region* local;
    Region* remote;
    std::set<uintptr_t> expected;  // posted, not yet completed
    std::set<uintptr_t> completed;
  };
  bool coin(int one_in) { return rng_() % one_in == 0; }

  void track(Side& s, NTSTATUS status, uintptr_t context) {
    if (status == STATUS_SUCCESS) s.expected.insert(context);
  }
  void post_receives(Side& s, int count) {
    for (int i = 0; i < count; ++i) {
      uintptr_t c = next_context_++;
      track(s, post_receive(s.node->qp, *s.local, 32768 + (i % 16) * 1024, 1024, ctx(c)), c);
    }
  }
  void post_random(Side& s) {
    uintptr_t c = next_context_++;
    const ULONG bytes = 1 + static_cast<ULONG>(rng_() % 1024);
    const size_t at = rng_() % 16 * 1024;
    // Memory of each side: sources of sends and writes (and of the peer's reads) [0, 16 KiB),
    // the peer's write targets [16, 32), receives [32, 48), read sinks [48, 64): no byte is
    // written while something else reads or writes it.
    NDK_SGE sge = s.local->sge(at, bytes);
    NDK_QP* qp = s.node->qp;
    switch (rng_() % 4) {
      case 0:
      case 1:
        track(s, post_send(qp, *s.local, at, bytes, ctx(c)), c);
        break;
      case 2:  // into the peer's [16 KiB, 32 KiB): nothing else there is read or written
        track(s, qp->Dispatch->NdkWrite(qp, ctx(c), &sge, 1, s.remote->address(16384 + at),
                                        s.remote->remote_token(), 0), c);
        break;
      default: {  // from the peer's sources [0, 16 KiB) into our [48 KiB, 64 KiB)
        NDK_SGE sink = s.local->sge(49152 + at, bytes);
        track(s, qp->Dispatch->NdkRead(qp, ctx(c), &sink, 1, s.remote->address(at),
                                       s.remote->remote_token(), 0), c);
        break;
      }
    }
  }
  void collect(Side& s) {
    auto unfinished = [&] { return s.completed.size() < s.expected.size(); };
    wait_until([&] {
      NDK_RESULT_EX r[32];
      ULONG n = s.node->cq.poll(r, 32);
      for (ULONG i = 0; i < n; ++i) {
        auto c = reinterpret_cast<uintptr_t>(r[i].RequestContext);
        EXPECT_TRUE(s.expected.count(c) == 1) << "completion of a request never posted: " << c;
        EXPECT_TRUE(s.completed.insert(c).second) << "request " << c << " completed twice";
      }
      return !unfinished() || counters(s.node->get()).CqErrors != 0;
    });
    totals_->requests += s.expected.size();
    totals_->completions += s.completed.size();
    // An overrun CQ returns nothing more (by definition): its requests cannot be accounted.
    if (counters(s.node->get()).CqErrors != 0) {
      ++totals_->overruns;
      return;
    }
    EXPECT_EQ(s.expected.size(), s.completed.size())
        << "requests posted that never completed (of " << s.expected.size() << ")";
  }

  std::string uri_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  Totals* totals_;
  uintptr_t next_context_ = 0x1000;
};

void soak(const std::string& uri, uint64_t schedules, uint64_t first_seed) {
  if (const char* only = std::getenv("SOFTNDK_FAULT_SOAK_SEED"); only != nullptr && *only) {
    first_seed = std::strtoull(only, nullptr, 10);
    schedules = 1;
  }
  Totals totals;
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
