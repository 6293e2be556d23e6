// `softndk chaos`: runs seeded schedules of a consumer workload on a connected pair in this
// process under a fault plan (--faults, or a random one per schedule) and reports the
// invariants they broke (chaos.h, chaos_workload.cpp), with the seed that replays each failing
// schedule; the summary counts requests, completions, the faults that fired and violations.
#include <cinttypes>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "address.h"
#include "chaos.h"
#include "commands.h"
#include "ndk.h"

namespace softndk::cli {

namespace chaos {

// One random rule: the points every transport has, and on loopback those only it can produce
// (the distribution of tests/faults/soak_test.cpp).
std::string random_rule(std::mt19937_64& rng, bool loopback) {
  auto n = [&](int lo, int hi) {
    return std::to_string(std::uniform_int_distribution<int>(lo, hi)(rng));
  };
  const std::vector<std::string> common = {
      "call.send@p0.1:INSUFFICIENT_RESOURCES", "call.write@" + n(1, 20) + ":IO_TIMEOUT",
      "call.read@" + n(1, 10),                 "call.receive@p0.05:INVALID_DEVICE_STATE",
      "call.fast_register@" + n(1, 10),        "call.bind@" + n(1, 10),
      "call.invalidate@" + n(1, 20),           "conn.abort@msgs=" + n(0, 40),
      "conn.disconnect@msgs=" + n(0, 40),      "data.rnr@" + n(1, 30),
      "data.access@" + n(1, 20),               "cq.overrun@" + n(1, 60),
      "data.corrupt@" + n(1, 30)};
  const std::vector<std::string> loopback_only = {
      "data.drop@" + n(1, 30), "data.delay@" + n(1, 30) + ":ms=" + n(1, 5),
      "peer.vanish@msgs=" + n(0, 40), "peer.silent@msgs=" + n(0, 40)};
  const size_t total = common.size() + (loopback ? loopback_only.size() : 0);
  const size_t pick = std::uniform_int_distribution<size_t>(0, total - 1)(rng);
  return pick < common.size() ? common[pick] : loopback_only[pick - common.size()];
}

std::string random_plan(std::mt19937_64& rng, bool loopback) {
  std::string plan = random_rule(rng, loopback);
  if (rng() % 2 == 0) plan += ";" + random_rule(rng, loopback);
  return plan;
}

uint64_t next_seed(uint64_t seed) {
  // splitmix64, kept below 2^48: a seed stays exact in any JSON reader and short to type.
  uint64_t z = seed + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (z ^ (z >> 31)) & 0xFFFFFFFFFFFFull;
}

}  // namespace chaos

namespace {

using chaos::Result;

struct Run {
  uint64_t seed = 0;
  std::string plan;
  Result result;
};

struct Summary {
  std::vector<Run> runs;
  Result total;
  std::vector<uint64_t> failing;
  std::vector<std::string> skipped;
};

chaos::SelfTest self_test_of(const std::string& name) {
  if (name.empty()) return chaos::SelfTest::None;
  if (name == "double") return chaos::SelfTest::Double;
  if (name == "stray") return chaos::SelfTest::Stray;
  if (name == "outside") return chaos::SelfTest::Outside;
  if (name == "guard") return chaos::SelfTest::Guard;
  throw UsageError("--self-test-violation must be double, stray, outside or guard");
}

// The adapter opens (else Error, before any schedule), and a plan the transport refuses is a
// usage error.
void probe(const std::string& uri, const std::string& plan) {
  const UriParts parts = split_uri(uri);
  if (parts.host == "0.0.0.0" || parts.host == "::")
    throw UsageError("--uri " + uri + ": both ends run in this process on one address; give "
                     "one (tcp://127.0.0.1), not a wildcard");
  Adapter adapter(uri);
  if (plan.empty()) return;
  const NTSTATUS status = SoftNdkSetFaultPlan(adapter.get(), plan.c_str(), 1);
  if (status == STATUS_INVALID_PARAMETER)
    throw UsageError("--faults \"" + plan + "\": the adapter refused the plan (malformed, or a "
                     "fault " + split_uri(uri).scheme + " cannot produce; the log line above "
                     "says why; grammar: docs/faults.md)");
  if (status != STATUS_SUCCESS) throw_status("SoftNdkSetFaultPlan", status);
}

std::string shell_quote(const std::string& text) { return "'" + text + "'"; }

std::string replay_of(const ChaosOptions& o, uint64_t seed) {
  std::string line = "softndk chaos --seed " + std::to_string(seed) + " --schedules 1 --ops " +
                     std::to_string(o.ops);
  if (o.uri != "loopback") line += " --uri " + shell_quote(o.uri);
  if (!o.faults.empty()) line += " --faults " + shell_quote(o.faults);
  if (!o.self_test.empty()) line += " --self-test-violation=" + o.self_test;
  return line;
}

void add(Result& total, const Result& r) {
  total.requests += r.requests;
  total.posted += r.posted;
  total.failed_inline += r.failed_inline;
  total.completions += r.completions;
  total.faults += r.faults;
  total.cq_overruns += r.cq_overruns;
  total.violation_count += r.violation_count;
}

nlohmann::json counts_json(const Result& r) {
  return {{"requests", r.requests},       {"posted", r.posted},
          {"failed_inline", r.failed_inline}, {"completions", r.completions},
          {"faults_injected", r.faults},  {"cq_overruns", r.cq_overruns},
          {"violations", r.violation_count}};
}

void print_json(const ChaosOptions& o, const Summary& s) {
  nlohmann::json runs = nlohmann::json::array();
  for (const Run& run : s.runs) {
    nlohmann::json r = counts_json(run.result);
    r["seed"] = run.seed;
    r["plan"] = run.plan;
    r["violation_list"] = run.result.violations;
    if (run.result.violation_count != 0) r["replay"] = replay_of(o, run.seed);
    runs.push_back(r);
  }
  nlohmann::json doc = counts_json(s.total);
  doc["command"] = "chaos";
  doc["softndk_version"] = release();
  doc["uri"] = o.uri;
  doc["faults"] = o.faults.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.faults);
  doc["seed"] = o.seed;
  doc["schedules"] = s.runs.size();
  doc["ops"] = o.ops;
  doc["failing_seeds"] = s.failing;
  doc["skipped"] = s.skipped;
  doc["runs"] = runs;
  doc["passed"] = s.failing.empty();
  std::printf("%s\n", doc.dump(2).c_str());
}

void print_text(const ChaosOptions& o, const Summary& s) {
  const Result& t = s.total;
  std::printf("softndk chaos over %s: %zu schedules, %" PRIu64 " requests (%" PRIu64
              " failed inline), %" PRIu64 " completions, %" PRIu64 " faults fired, %" PRIu64
              " CQ overruns, %" PRIu64 " violations\n",
              o.uri.c_str(), s.runs.size(), t.requests, t.failed_inline, t.completions, t.faults,
              t.cq_overruns, t.violation_count);
  if (s.failing.empty()) return;
  std::string seeds;
  for (uint64_t seed : s.failing) seeds += " " + std::to_string(seed);
  std::printf("failing seeds:%s\n", seeds.c_str());
}

void check_options(const ChaosOptions& o) {
  if (o.schedules == 0 || o.schedules > 1000000)
    throw UsageError("--schedules must be 1 to 1000000");
  if (o.ops == 0 || o.ops > 10000000) throw UsageError("--ops must be 1 to 10000000");
  if (!(o.timeout_s > 0)) throw UsageError("--timeout must be positive");
  self_test_of(o.self_test);
}

}  // namespace

int run_chaos(const ChaosOptions& o) {
  check_options(o);
  set_wait_timeout(std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.timeout_s)));
  const UriParts parts = split_uri(o.uri);
  const bool loopback = parts.scheme == "loopback";
  std::string uri = o.uri;
  // A silent link (peer.silent) is noticed by the side that did not go silent.
  if (loopback && !uri_option(uri, "link_timeout_ms")) uri = with_option(uri, "link_timeout_ms", "30");
  const bool random_plans = o.faults.empty();
  const bool no_faults = o.faults == "none";
  probe(uri, random_plans || no_faults ? std::string() : o.faults);

  Summary s;
  uint64_t seed = o.seed;
  for (uint64_t i = 0; i < o.schedules; ++i, seed = chaos::next_seed(seed)) {
    chaos::Schedule schedule;
    schedule.seed = seed;
    schedule.uri = uri;
    schedule.ops = o.ops;
    schedule.self_test = self_test_of(o.self_test);
    std::mt19937_64 plan_rng(seed ^ 0xC4A05C4A05ull);
    schedule.plan = random_plans ? chaos::random_plan(plan_rng, loopback)
                    : no_faults  ? std::string()
                                 : o.faults;
    Run run{seed, schedule.plan, {}};
    try {
      run.result = chaos::run_schedule(schedule);
    } catch (const Error& e) {
      check_stop();
      throw Error("schedule of seed " + std::to_string(seed) + ": " + e.what() + " (replay: " +
                      replay_of(o, seed) + ")",
                  e.status());
    }
    if (i == 0) s.skipped = run.result.skipped;
    add(s.total, run.result);
    if (run.result.violation_count != 0) {
      s.failing.push_back(seed);
      if (!o.json)
        std::printf("schedule %" PRIu64 " (seed %" PRIu64 ", plan '%s'): %" PRIu64
                    " violations; replay: %s\n",
                    i + 1, seed, run.plan.empty() ? "none" : run.plan.c_str(),
                    run.result.violation_count,
                    replay_of(o, seed).c_str());
    }
    s.runs.push_back(std::move(run));
  }
  for (const std::string& why : s.skipped)
    std::fprintf(stderr, "softndk chaos: note: skipped %s\n", why.c_str());
  if (o.json) {
    print_json(o, s);
  } else {
    print_text(o, s);
  }
  std::fflush(stdout);
  return s.failing.empty() ? 0 : 1;
}

}  // namespace softndk::cli
