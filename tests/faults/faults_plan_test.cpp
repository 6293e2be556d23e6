// The fault plan of an adapter (docs/faults.md): given in the URI, the environment or
// SoftNdkSetFaultPlan; refused when malformed or impossible on the transport; reproducible from
// its seed; counted in FaultsInjected (and the counters' older, smaller size still works).
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "fault_support.h"

namespace faulttest {
namespace {

class FaultPlanTest : public ::testing::TestWithParam<std::string> {};

// Creates a CQ; its status (inline, or the completion's), closing what was created.
NTSTATUS try_create_cq(NDK_ADAPTER* adapter) {
  NDK_CQ* cq = nullptr;
  NTSTATUS status = create_cq(adapter, 16, &cq);
  if (cq != nullptr) {
    EXPECT_TRUE(close_object(cq));
  }
  return status;
}

TEST_P(FaultPlanTest, uri_plan_fails_the_chosen_call_once_and_counts_it) {
  AdapterFixture adapter(with_option(GetParam(), "faults", "call.create_cq@2:IO_TIMEOUT"));
  ASSERT_TRUE(adapter.opened());
  EXPECT_EQ(0u, faults_injected(adapter.get()));
  EXPECT_NT(STATUS_SUCCESS, try_create_cq(adapter.get()));
  EXPECT_NT(STATUS_IO_TIMEOUT, try_create_cq(adapter.get()));
  EXPECT_NT(STATUS_SUCCESS, try_create_cq(adapter.get()));
  EXPECT_EQ(1u, faults_injected(adapter.get()));
}

TEST_P(FaultPlanTest, malformed_uri_plan_refuses_the_open) {
  for (const char* plan : {"call.nothing", "call.send:pend", "conn.abort@msgs=x", ""}) {
    NDK_ADAPTER* adapter = nullptr;
    EXPECT_NT(STATUS_INVALID_PARAMETER,
              SoftNdkOpenAdapter(with_option(GetParam(), "faults", plan).c_str(), &adapter))
        << plan;
    EXPECT_EQ(nullptr, adapter);
  }
  NDK_ADAPTER* adapter = nullptr;
  EXPECT_NT(STATUS_INVALID_PARAMETER,
            SoftNdkOpenAdapter(with_option(GetParam(), "fault_seed", "x").c_str(), &adapter));
}

TEST_P(FaultPlanTest, loopback_only_faults_are_refused_on_other_transports) {
  for (const char* plan : {"data.drop", "data.delay:ms=5", "peer.vanish@msgs=1"}) {
    NDK_ADAPTER* adapter = nullptr;
    NTSTATUS status = SoftNdkOpenAdapter(with_option(GetParam(), "faults", plan).c_str(), &adapter);
    if (is_loopback_uri(GetParam())) {
      EXPECT_NT(STATUS_SUCCESS, status) << plan;
      SoftNdkCloseAdapter(adapter);
    } else {
      EXPECT_NT(STATUS_INVALID_PARAMETER, status) << plan << " must not be a silent success";
    }
  }
}

TEST_P(FaultPlanTest, environment_plan_applies_unless_the_uri_has_one) {
  ASSERT_EQ(0, setenv("SOFTNDK_FAULTS", "call.create_cq:INVALID_DEVICE_STATE", 1));
  ASSERT_EQ(0, setenv("SOFTNDK_FAULT_SEED", "5", 1));
  {
    AdapterFixture from_env(GetParam());
    ASSERT_TRUE(from_env.opened());
    EXPECT_NT(STATUS_INVALID_DEVICE_STATE, try_create_cq(from_env.get()));
    EXPECT_EQ(1u, faults_injected(from_env.get()));
  }
  {
    AdapterFixture uri_wins(with_option(GetParam(), "faults", "call.create_pd"));
    ASSERT_TRUE(uri_wins.opened());
    EXPECT_NT(STATUS_SUCCESS, try_create_cq(uri_wins.get()));
    EXPECT_EQ(0u, faults_injected(uri_wins.get()));
  }
  ASSERT_EQ(0, setenv("SOFTNDK_FAULTS", "call.nothing", 1));
  NDK_ADAPTER* adapter = nullptr;
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter(GetParam().c_str(), &adapter));
  unsetenv("SOFTNDK_FAULTS");
  unsetenv("SOFTNDK_FAULT_SEED");
}

TEST_P(FaultPlanTest, set_fault_plan_replaces_refuses_and_removes) {
  AdapterFixture adapter(GetParam());
  ASSERT_TRUE(adapter.opened());
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkSetFaultPlan(nullptr, "call.create_cq", 1));
  ASSERT_TRUE(set_plan(adapter.get(), "call.create_cq@1+:IO_TIMEOUT"));
  EXPECT_NT(STATUS_IO_TIMEOUT, try_create_cq(adapter.get()));
  // A bad plan leaves the previous one in place.
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkSetFaultPlan(adapter.get(), "call.create_cq@0", 1));
  EXPECT_NT(STATUS_IO_TIMEOUT, try_create_cq(adapter.get()));
  ASSERT_TRUE(set_plan(adapter.get(), nullptr));
  EXPECT_NT(STATUS_SUCCESS, try_create_cq(adapter.get()));
  ASSERT_TRUE(set_plan(adapter.get(), "call.create_cq:INSUFFICIENT_RESOURCES"));
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, try_create_cq(adapter.get()));
  ASSERT_TRUE(set_plan(adapter.get(), ""));
  EXPECT_NT(STATUS_SUCCESS, try_create_cq(adapter.get()));
  EXPECT_EQ(3u, faults_injected(adapter.get())) << "faults of replaced plans stay counted";
}

TEST_P(FaultPlanTest, the_same_seed_gives_the_same_faults) {
  auto pattern = [&](uint64_t seed) {
    AdapterFixture adapter(GetParam());
    EXPECT_TRUE(adapter.opened());
    EXPECT_TRUE(set_plan(adapter.get(), "call.create_cq@p0.5", seed));
    std::string out;
    for (int i = 0; i < 40; ++i) out += try_create_cq(adapter.get()) == STATUS_SUCCESS ? '.' : 'x';
    return out;
  };
  std::string first = pattern(11);
  EXPECT_EQ(first, pattern(11));
  EXPECT_NE(first, pattern(12));
  EXPECT_NE(std::string::npos, first.find('x'));
  EXPECT_NE(std::string::npos, first.find('.'));
}

TEST_P(FaultPlanTest, counters_query_accepts_the_size_before_faults_injected) {
  AdapterFixture adapter(with_option(GetParam(), "faults", "call.create_cq"));
  ASSERT_TRUE(adapter.opened());
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, try_create_cq(adapter.get()));
  SOFTNDK_ADAPTER_COUNTERS c;
  std::memset(&c, 0xAB, sizeof c);
  ULONG size = offsetof(SOFTNDK_ADAPTER_COUNTERS, FaultsInjected);
  ASSERT_NT(STATUS_SUCCESS, SoftNdkQueryAdapterCounters(adapter.get(), &c, &size));
  EXPECT_EQ(offsetof(SOFTNDK_ADAPTER_COUNTERS, FaultsInjected), size);
  EXPECT_EQ(0u, c.ActiveConnections);
  EXPECT_EQ(0xABABABABABABABABull, c.FaultsInjected) << "written beyond the caller's size";
  size = sizeof c;
  ASSERT_NT(STATUS_SUCCESS, SoftNdkQueryAdapterCounters(adapter.get(), &c, &size));
  EXPECT_EQ(sizeof c, size);
  EXPECT_EQ(1u, c.FaultsInjected);
  size = offsetof(SOFTNDK_ADAPTER_COUNTERS, FaultsInjected) - 1;
  EXPECT_NT(STATUS_BUFFER_TOO_SMALL, SoftNdkQueryAdapterCounters(adapter.get(), &c, &size));
  EXPECT_EQ(sizeof c, size);
}

INSTANTIATE_TEST_SUITE_P(Uris, FaultPlanTest, ::testing::ValuesIn(fault_uris()), uri_param_name);

}  // namespace
}  // namespace faulttest
