// The fault plan (core/faults.h): the grammar, the triggers, reproducibility from the seed.
#include "core/faults.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace softndk::core {
namespace {

std::unique_ptr<FaultPlan> plan(const std::string& spec, uint64_t seed = 1) {
  std::unique_ptr<FaultPlan> out;
  std::string error;
  EXPECT_EQ(STATUS_SUCCESS, FaultPlan::parse(spec, seed, &out, &error)) << spec << ": " << error;
  return out;
}

NTSTATUS parse_status(const std::string& spec, std::string* error) {
  std::unique_ptr<FaultPlan> out;
  return FaultPlan::parse(spec, 1, &out, error);
}

std::vector<bool> run(FaultPlan& p, FaultPoint point, int events) {
  std::vector<bool> fired;
  for (int i = 0; i < events; ++i) {
    FaultAction action;
    fired.push_back(p.fire(point, nullptr, "test", &action));
  }
  return fired;
}

TEST(FaultPlan, nth_event_fires_once_with_its_status) {
  auto p = plan("call.create_qp@3:IO_TIMEOUT");
  EXPECT_TRUE(p->watches(FaultPoint::CreateQp));
  EXPECT_FALSE(p->watches(FaultPoint::CreateCq));
  FaultAction action;
  EXPECT_FALSE(p->fire(FaultPoint::CreateQp, nullptr, "t", &action));
  EXPECT_FALSE(p->fire(FaultPoint::CreateQp, nullptr, "t", &action));
  EXPECT_TRUE(p->fire(FaultPoint::CreateQp, nullptr, "t", &action));
  EXPECT_EQ(STATUS_IO_TIMEOUT, action.status);
  EXPECT_FALSE(action.pend);
  EXPECT_EQ((std::vector<bool>{false, false, false}), run(*p, FaultPoint::CreateQp, 3));
  EXPECT_EQ(1u, p->fired());
}

TEST(FaultPlan, from_nth_fires_on_every_later_event) {
  auto p = plan("call.send@2+:STATUS_INSUFFICIENT_RESOURCES");
  EXPECT_EQ((std::vector<bool>{false, true, true, true}), run(*p, FaultPoint::Send, 4));
}

TEST(FaultPlan, defaults_are_the_first_event_and_insufficient_resources) {
  auto p = plan("call.register_mr");
  FaultAction action;
  ASSERT_TRUE(p->fire(FaultPoint::RegisterMr, nullptr, "t", &action));
  EXPECT_EQ(STATUS_INSUFFICIENT_RESOURCES, action.status);
}

TEST(FaultPlan, pend_delays_instead_of_failing) {
  auto p = plan("call.connect@1:pend=25;call.accept:pend");
  FaultAction action;
  ASSERT_TRUE(p->fire(FaultPoint::Connect, nullptr, "t", &action));
  EXPECT_TRUE(action.pend);
  EXPECT_EQ(25u, action.delay_ms);
  ASSERT_TRUE(p->fire(FaultPoint::Accept, nullptr, "t", &action));
  EXPECT_TRUE(action.pend);
  EXPECT_EQ(10u, action.delay_ms);
}

TEST(FaultPlan, probability_is_reproducible_from_the_seed) {
  auto a = plan("call.write@p0.3", 42);
  auto b = plan("call.write@p0.3", 42);
  auto c = plan("call.write@p0.3", 43);
  auto ra = run(*a, FaultPoint::Write, 400);
  auto rb = run(*b, FaultPoint::Write, 400);
  auto rc = run(*c, FaultPoint::Write, 400);
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, rc);
  size_t fired = 0;
  for (bool f : ra) fired += f ? 1 : 0;
  EXPECT_GT(fired, 80u);  // about 120 of 400
  EXPECT_LT(fired, 160u);
}

TEST(FaultPlan, traffic_triggers_fire_once_the_connection_has_sent_enough) {
  auto p = plan("conn.abort@bytes=1000;data.corrupt@msgs=3");
  FaultAction action;
  TrafficSoFar traffic{999, 1};
  EXPECT_FALSE(p->fire(FaultPoint::ConnAbort, nullptr, "t", &action, &traffic));
  traffic.bytes = 1000;
  EXPECT_TRUE(p->fire(FaultPoint::ConnAbort, nullptr, "t", &action, &traffic));
  EXPECT_FALSE(p->fire(FaultPoint::ConnAbort, nullptr, "t", &action, &traffic));
  traffic.messages = 2;
  EXPECT_FALSE(p->fire(FaultPoint::DataCorrupt, nullptr, "t", &action, &traffic));
  traffic.messages = 3;
  EXPECT_TRUE(p->fire(FaultPoint::DataCorrupt, nullptr, "t", &action, &traffic));
}

TEST(FaultPlan, actions_of_connection_and_data_points) {
  auto p = plan("conn.reject@1:data=cafe01;data.delay@2+:ms=7");
  FaultAction action;
  ASSERT_TRUE(p->fire(FaultPoint::ConnReject, nullptr, "t", &action));
  EXPECT_EQ((std::vector<std::byte>{std::byte{0xca}, std::byte{0xfe}, std::byte{0x01}}),
            action.data);
  EXPECT_FALSE(p->fire(FaultPoint::DataDelay, nullptr, "t", &action));
  ASSERT_TRUE(p->fire(FaultPoint::DataDelay, nullptr, "t", &action));
  EXPECT_EQ(7u, action.delay_ms);
}

TEST(FaultPlan, every_rule_on_a_point_counts_and_the_first_match_fires) {
  auto p = plan("call.send@2:IO_TIMEOUT;call.send@3:INVALID_DEVICE_STATE");
  FaultAction action;
  EXPECT_FALSE(p->fire(FaultPoint::Send, nullptr, "t", &action));
  ASSERT_TRUE(p->fire(FaultPoint::Send, nullptr, "t", &action));
  EXPECT_EQ(STATUS_IO_TIMEOUT, action.status);
  ASSERT_TRUE(p->fire(FaultPoint::Send, nullptr, "t", &action));
  EXPECT_EQ(STATUS_INVALID_DEVICE_STATE, action.status);
}

TEST(FaultPlan, every_point_has_a_name_that_parses) {
  for (size_t i = 0; i < kFaultPointCount; ++i) {
    auto point = static_cast<FaultPoint>(i);
    std::string spec(to_string(point));
    auto p = plan(spec);
    ASSERT_NE(nullptr, p) << spec;
    EXPECT_TRUE(p->watches(point)) << spec;
  }
}

TEST(FaultPlan, malformed_plans_are_refused_with_a_reason) {
  for (const char* bad :
       {"", ";", "call.nothing", "call.send@0", "call.send@x", "call.send@p0", "call.send@p1.5",
        "call.send:NOT_A_STATUS", "call.send:SUCCESS", "call.send:PENDING", "call.send@bytes=5",
        "conn.abort@msgs=", "conn.reject:data=abc", "data.delay:ms=x", "data.corrupt:IO_TIMEOUT",
        "cq.error:INTERNAL_ERROR", "srq.error@msgs=1", "call.open_adapter@bytes=1",
        "call.send;;call.read"}) {
    std::string error;
    EXPECT_EQ(STATUS_INVALID_PARAMETER, parse_status(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(FaultPlan, pend_is_refused_for_posting_calls) {
  for (const char* bad : {"call.send:pend", "call.receive:pend=5", "call.write:pend",
                          "call.read:pend", "call.bind:pend", "call.fast_register:pend",
                          "call.invalidate:pend", "call.srq_receive:pend",
                          "call.moderate_cq:pend", "call.open_adapter:pend=3"}) {
    std::string error;
    EXPECT_EQ(STATUS_INVALID_PARAMETER, parse_status(bad, &error)) << bad;
    EXPECT_NE(std::string::npos, error.find("cannot pend")) << bad << ": " << error;
  }
  for (const char* good : {"call.create_qp:pend", "call.register_mr:pend=1",
                           "call.initialize_fast_register_mr:pend", "call.listen:pend",
                           "call.complete_connect:pend", "call.disconnect:pend",
                           "call.build_lam:pend", "call.resize_cq:pend=2"}) {
    EXPECT_NE(nullptr, plan(good)) << good;
  }
}

TEST(FaultPlan, loopback_only_points_are_refused_on_other_transports) {
  std::string error;
  EXPECT_TRUE(plan("data.drop;data.delay:ms=5;peer.vanish")->check_transport("loopback", &error));
  for (const char* spec : {"data.drop", "call.send;data.delay:ms=3", "peer.vanish@msgs=2"}) {
    error.clear();
    EXPECT_FALSE(plan(spec)->check_transport("tcp", &error)) << spec;
    EXPECT_NE(std::string::npos, error.find("not available on tcp")) << error;
  }
  EXPECT_TRUE(
      plan("data.rnr;data.access;data.corrupt;conn.abort@bytes=10")->check_transport("tcp", &error));
  EXPECT_FALSE(plan("peer.silent")->check_transport("tcp", &error));
}

}  // namespace
}  // namespace softndk::core
