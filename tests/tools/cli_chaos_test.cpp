// `softndk chaos` as a consumer author runs it: schedules without faults and under plans pass
// with no violation and with work done, the same seed gives the same counts, usage errors exit
// 2, and the checker fails when the tool commits a violation itself (--self-test-violation).
#include "cli_harness.h"

namespace softndk_cli_test {
namespace {

// The counts a schedule's outcome is compared by.
std::vector<uint64_t> counts(const json& doc) {
  std::vector<uint64_t> out;
  for (const char* key :
       {"requests", "posted", "failed_inline", "completions", "faults_injected", "violations"})
    out.push_back(doc[key].get<uint64_t>());
  return out;
}

Result chaos(std::vector<std::string> args) {
  args.insert(args.begin(), "chaos");
  return softndk(args);
}

TEST(CliChaos, schedules_without_faults_pass_with_work_done_and_no_violation) {
  Result run = chaos({"--faults", "none", "--schedules", "3", "--ops", "150", "--json"});
  EXPECT_RUN(0, run);
  json doc = parse(run);
  EXPECT_EQ("chaos", doc["command"]);
  EXPECT_EQ(3u, doc["schedules"].get<uint64_t>());
  EXPECT_EQ(0u, doc["violations"].get<uint64_t>());
  EXPECT_EQ(0u, doc["faults_injected"].get<uint64_t>());
  EXPECT_EQ(0u, doc["failed_inline"].get<uint64_t>());
  // 150 operations per schedule, plus the receives that cover the sends and the invalidates.
  EXPECT_GE(doc["requests"].get<uint64_t>(), 3u * 150);
  // Without faults every request completes (successfully or flushed at the end).
  EXPECT_EQ(doc["posted"], doc["completions"]);
  EXPECT_TRUE(doc["passed"].get<bool>());
  EXPECT_TRUE(doc["failing_seeds"].empty());
  ASSERT_EQ(3u, doc["runs"].size());
  EXPECT_EQ(1u, doc["runs"][0]["seed"].get<uint64_t>());  // the first schedule is --seed's

  Result text = chaos({"--faults", "none", "--schedules", "2", "--ops", "50"});
  EXPECT_RUN(0, text);
  EXPECT_TRUE(contains(text.out, "softndk chaos over loopback: 2 schedules,")) << text.out;
  EXPECT_TRUE(contains(text.out, " 0 violations")) << text.out;
}

TEST(CliChaos, a_plan_fires_faults_and_breaks_no_invariant) {
  Result run = chaos({"--faults", "call.send@p0.2:INSUFFICIENT_RESOURCES;conn.abort@msgs=60",
                      "--schedules", "4", "--ops", "200", "--json"});
  EXPECT_RUN(0, run);
  json doc = parse(run);
  EXPECT_GT(doc["faults_injected"].get<uint64_t>(), 0u);
  EXPECT_GT(doc["failed_inline"].get<uint64_t>(), 0u);
  EXPECT_GT(doc["completions"].get<uint64_t>(), 0u);
  EXPECT_EQ(0u, doc["violations"].get<uint64_t>());
}

TEST(CliChaos, random_plans_fire_faults_and_break_no_invariant) {
  Result run = chaos({"--schedules", "30", "--ops", "120", "--seed", "7", "--json"});
  EXPECT_RUN(0, run);
  json doc = parse(run);
  EXPECT_GT(doc["faults_injected"].get<uint64_t>(), 0u);
  EXPECT_EQ(0u, doc["violations"].get<uint64_t>());
  std::set<std::string> plans;
  for (const json& r : doc["runs"]) plans.insert(r["plan"].get<std::string>());
  EXPECT_GT(plans.size(), 10u) << "each schedule draws its own plan";
}

TEST(CliChaos, the_same_seed_gives_the_same_counts) {
  const std::vector<std::string> args = {"--faults",
                                         "call.send@p0.2:INSUFFICIENT_RESOURCES;call.write@5:IO_TIMEOUT;"
                                         "call.invalidate@3",
                                         "--seed", "4711", "--schedules", "3", "--ops", "200",
                                         "--json"};
  Result first = chaos(args);
  Result second = chaos(args);
  EXPECT_RUN(0, first);
  EXPECT_RUN(0, second);
  json a = parse(first);
  json b = parse(second);
  EXPECT_GT(a["faults_injected"].get<uint64_t>(), 0u);
  EXPECT_EQ(counts(a), counts(b));
  ASSERT_EQ(a["runs"].size(), b["runs"].size());
  for (size_t i = 0; i < a["runs"].size(); ++i) {
    EXPECT_EQ(a["runs"][i]["seed"], b["runs"][i]["seed"]);
    EXPECT_EQ(counts(a["runs"][i]), counts(b["runs"][i])) << "schedule " << i;
  }
}

TEST(CliChaos, a_schedule_seed_replays_that_schedule) {
  Result all = chaos({"--seed", "99", "--schedules", "3", "--ops", "60", "--json"});
  EXPECT_RUN(0, all);
  json doc = parse(all);
  ASSERT_EQ(3u, doc["runs"].size());
  const json& third = doc["runs"][2];
  Result one = chaos({"--seed", std::to_string(third["seed"].get<uint64_t>()), "--schedules",
                      "1", "--ops", "60", "--json"});
  EXPECT_RUN(0, one);
  json replay = parse(one);
  ASSERT_EQ(1u, replay["runs"].size());
  EXPECT_EQ(third["plan"], replay["runs"][0]["plan"]);
  EXPECT_EQ(third["requests"], replay["runs"][0]["requests"]);
}

TEST(CliChaos, usage_errors_exit_2) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--schedules", "0"},
                                             {"--ops", "0"},
                                             {"--timeout", "0"},
                                             {"--seed", "x"},
                                             {"--faults", "call.nothing@1"},
                                             {"--faults", "call.send:pend"},
                                             {"--self-test-violation=bogus"},
                                             {"--no-such-option"},
                                             {"--uri", "tcp://0.0.0.0"},
                                             {"extra"}}) {
    Result run = chaos(args);
    EXPECT_RUN(2, run);
    EXPECT_TRUE(run.out.empty()) << run.out;
  }
  Result refused = chaos({"--faults", "call.send:pend"});
  EXPECT_TRUE(contains(refused.err, "--faults \"call.send:pend\": the adapter refused the plan"))
      << refused.err;
}

TEST(CliChaos, a_kind_the_adapter_cannot_do_is_skipped_and_named) {
  // A fast-register page limit below the 4 pages chaos fast-registers.
  Result run = chaos({"--uri", "loopback?frmr_max_pages=1", "--faults", "none", "--schedules",
                      "2", "--ops", "100", "--json"});
  EXPECT_RUN(0, run);
  json doc = parse(run);
  ASSERT_EQ(1u, doc["skipped"].size()) << doc["skipped"];
  EXPECT_TRUE(contains(doc["skipped"][0].get<std::string>(),
                       "fast-register + invalidate: NdkInitializeFastRegisterMr failed: "
                       "STATUS_IMPLEMENTATION_LIMIT"))
      << doc["skipped"][0];
  EXPECT_TRUE(contains(run.err, "softndk chaos: note: skipped fast-register")) << run.err;
  EXPECT_EQ(0u, doc["violations"].get<uint64_t>());
  EXPECT_GT(doc["completions"].get<uint64_t>(), 0u);

  Result full = chaos({"--faults", "none", "--schedules", "1", "--ops", "50", "--json"});
  EXPECT_RUN(0, full);
  EXPECT_TRUE(parse(full)["skipped"].empty()) << "the default adapter does every kind";
}

TEST(CliChaos, the_self_test_option_is_hidden_from_help) {
  Result help = chaos({"--help"});
  EXPECT_RUN(0, help);
  EXPECT_TRUE(contains(help.out, "--schedules")) << help.out;
  EXPECT_FALSE(contains(help.out, "self-test")) << help.out;
}

// --self-test-violation: the tool itself breaks one invariant per schedule; chaos must say which
// and fail with the seeds.
void expect_caught(const std::string& kind, const std::string& message) {
  SCOPED_TRACE(kind);
  Result run = chaos({"--self-test-violation=" + kind, "--faults", "none", "--seed", "5",
                      "--schedules", "2", "--ops", "80", "--json"});
  EXPECT_RUN(1, run);
  json doc = parse(run);
  EXPECT_EQ(2u, doc["violations"].get<uint64_t>()) << "one per schedule";
  EXPECT_FALSE(doc["passed"].get<bool>());
  ASSERT_EQ(2u, doc["failing_seeds"].size());
  EXPECT_EQ(5u, doc["failing_seeds"][0].get<uint64_t>());
  const json& violations = doc["runs"][0]["violation_list"];
  ASSERT_EQ(1u, violations.size());
  EXPECT_TRUE(contains(violations[0].get<std::string>(), message)) << violations[0];
  EXPECT_TRUE(contains(doc["runs"][0]["replay"].get<std::string>(),
                       "softndk chaos --seed 5 --schedules 1"))
      << doc["runs"][0]["replay"];
  EXPECT_TRUE(contains(run.err, "softndk chaos: seed 5: ")) << run.err;

  Result text = chaos({"--self-test-violation=" + kind, "--faults", "none", "--seed", "5",
                       "--schedules", "1", "--ops", "80"});
  EXPECT_RUN(1, text);
  EXPECT_TRUE(contains(text.out, "schedule 1 (seed 5, plan 'none'): 1 violations; replay: "))
      << text.out;
  EXPECT_TRUE(contains(text.out, "failing seeds: 5")) << text.out;
}

TEST(CliChaos, the_checker_catches_a_request_reported_twice) {
  expect_caught("double", "completed twice");
}

TEST(CliChaos, the_checker_catches_a_stray_completion) {
  expect_caught("stray", "carries RequestContext 0xbad0, which no request was posted with");
}

TEST(CliChaos, the_checker_catches_a_byte_outside_every_granted_region) {
  expect_caught("outside", "the passive side's memory: 1 byte(s) at offset 90111 (the canary "
                           "at the end of the registered range) changed");
}

TEST(CliChaos, an_access_to_a_guard_page_ends_the_run_naming_it_and_the_seed) {
  Result run = chaos({"--self-test-violation=guard", "--faults", "none", "--seed", "5",
                      "--schedules", "2", "--ops", "80", "--json"});
  EXPECT_RUN(1, run);
  EXPECT_TRUE(contains(run.err, "softndk chaos: seed 5: an access landed in the guard page "
                                "before the passive side's memory"))
      << run.err;
  EXPECT_TRUE(contains(run.err, "replay: softndk chaos --seed 5 --schedules 1")) << run.err;
}

TEST(CliChaos, tcp_schedules_fire_faults_and_break_no_invariant) {
  if (!tcp_available()) GTEST_SKIP() << "this libsoftndk has no tcp transport";
  Result run = chaos({"--uri", "tcp://127.0.0.1", "--schedules", "6", "--ops", "100", "--json"});
  EXPECT_RUN(0, run);
  json doc = parse(run);
  EXPECT_EQ(0u, doc["violations"].get<uint64_t>());
  EXPECT_GT(doc["completions"].get<uint64_t>(), 0u);
  EXPECT_GT(doc["faults_injected"].get<uint64_t>(), 0u);
}

}  // namespace
}  // namespace softndk_cli_test
