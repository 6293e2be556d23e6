// SoftNdkQueryAdapterCounters (softndk.h): size negotiation, and exact counts of connections,
// failures, frames and octets for a known traffic pattern.
#include <gtest/gtest.h>

#include <cstddef>

#include "fixtures.h"
#include "ndk_test.h"

namespace {
using namespace ndktest;

SOFTNDK_ADAPTER_COUNTERS counters_of(const ndkxx::Adapter& adapter) {
  SOFTNDK_ADAPTER_COUNTERS c{};
  ULONG size = sizeof c;
  EXPECT_NT(STATUS_SUCCESS, SoftNdkQueryAdapterCounters(adapter.get(), &c, &size));
  EXPECT_EQ(sizeof c, size);
  return c;
}

class Counters : public ::testing::TestWithParam<std::string> {};

TEST_P(Counters, query_negotiates_the_size) {
  AdapterFixture adapter(GetParam());
  ASSERT_NE(nullptr, adapter.get());
  ULONG size = 0;
  EXPECT_NT(STATUS_BUFFER_TOO_SMALL, SoftNdkQueryAdapterCounters(adapter.get(), nullptr, &size));
  EXPECT_EQ(sizeof(SOFTNDK_ADAPTER_COUNTERS), size);
  SOFTNDK_ADAPTER_COUNTERS c{};
  // The size before FaultsInjected was appended is still served (tests/faults checks it); less
  // is too small.
  size = offsetof(SOFTNDK_ADAPTER_COUNTERS, FaultsInjected) - 1;
  EXPECT_NT(STATUS_BUFFER_TOO_SMALL, SoftNdkQueryAdapterCounters(adapter.get(), &c, &size));
  EXPECT_EQ(sizeof(SOFTNDK_ADAPTER_COUNTERS), size);
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkQueryAdapterCounters(nullptr, &c, &size));
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkQueryAdapterCounters(adapter.get(), &c, nullptr));
  c = counters_of(adapter);
  EXPECT_EQ(0u, c.Connects + c.Accepts + c.ActiveConnections + c.RdmaOutFrames);
}

TEST_P(Counters, count_connections_frames_and_octets_exactly) {
  ConnectedPairFixture pair(GetParam());
  std::unique_ptr<Region> target;
  ASSERT_TRUE(pair.connect([&](ConnectedPairFixture& p) {
    target = std::make_unique<Region>(p.passive.pd, 8192,
                                      NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE |
                                          NDK_MR_FLAG_ALLOW_REMOTE_READ);
    for (int i = 0; i < 3; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_receive(p.passive.qp, *target, 0, 4096, nullptr));
  }));
  SOFTNDK_ADAPTER_COUNTERS a = counters_of(pair.active);
  SOFTNDK_ADAPTER_COUNTERS p = counters_of(pair.passive);
  EXPECT_EQ(1u, a.Connects);
  EXPECT_EQ(0u, a.Accepts);
  EXPECT_EQ(1u, a.ActiveConnections);
  EXPECT_EQ(1u, p.Accepts);
  EXPECT_EQ(0u, p.Connects);
  EXPECT_EQ(1u, p.ActiveConnections);
  uint64_t a_out_frames = a.RdmaOutFrames, a_out_octets = a.RdmaOutOctets;
  uint64_t p_in_frames = p.RdmaInFrames, p_in_octets = p.RdmaInOctets;

  Region source(pair.active.pd, 8192, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK);
  // The write goes between the two sends: the target gives a write no completion, and the
  // second send's receive completion comes after the write was placed and counted (in-order
  // processing, RFC 5040 ordering; on loopback the write completes placed anyway).
  ASSERT_NT(STATUS_SUCCESS, post_send(pair.active.qp, source, 0, 100, nullptr));
  NDK_SGE sge = source.sge(0, 1000);
  ASSERT_NT(STATUS_SUCCESS, pair.active.q()->NdkWrite(pair.active.qp, nullptr, &sge, 1,
                                                      target->address(4096),
                                                      target->remote_token(), 0));
  ASSERT_NT(STATUS_SUCCESS, post_send(pair.active.qp, source, 0, 300, nullptr));
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(pair.active.cq.collect(&done, 3));
  done.clear();
  ASSERT_TRUE(pair.passive.cq.collect(&done, 2));
  a = counters_of(pair.active);
  p = counters_of(pair.passive);
  // Segments are at most one per message here (small messages); a transport may add its own
  // frames for setup (RTR), which is why the deltas are measured after connecting.
  EXPECT_EQ(3u, a.RdmaOutFrames - a_out_frames);
  EXPECT_EQ(1400u, a.RdmaOutOctets - a_out_octets);
  EXPECT_EQ(3u, p.RdmaInFrames - p_in_frames);
  EXPECT_EQ(1400u, p.RdmaInOctets - p_in_octets);

  // A graceful disconnect ends the connection without counting an error.
  NTSTATUS s = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    return pair.active.connector->Dispatch->NdkDisconnect(pair.active.connector, cb, ctx);
  });
  EXPECT_NT(STATUS_SUCCESS, s);
  EXPECT_TRUE(wait_until([&] { return counters_of(pair.passive).ActiveConnections == 0; }));
  EXPECT_EQ(0u, counters_of(pair.active).ActiveConnections);
  EXPECT_EQ(0u, counters_of(pair.active).ConnectionErrors);
  EXPECT_EQ(0u, counters_of(pair.passive).ConnectionErrors);
  target.reset();
}

TEST_P(Counters, count_a_refused_connect_as_a_failure) {
  PdCqFixture node(GetParam(), 16);
  ASSERT_TRUE(node.ok());
  NDK_QP* qp = node.create_qp({4, 4, 1, 1, 0}, nullptr);
  ASSERT_NE(nullptr, qp);
  NDK_CONNECTOR* connector = node.create_connector();
  ASSERT_NE(nullptr, connector);
  sockaddr_storage source = node.local_address();
  sockaddr_storage destination = node.local_address();
  // Port 9 (sin_port and sin6_port share their offset): nobody listens there.
  reinterpret_cast<sockaddr_in*>(&destination)->sin_port = htons(9);
  NTSTATUS s = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    return connector->Dispatch->NdkConnect(connector, qp, reinterpret_cast<sockaddr*>(&source),
                                           ndkxx::address_length(source),
                                           reinterpret_cast<sockaddr*>(&destination),
                                           ndkxx::address_length(destination), 1, 1, nullptr, 0,
                                           cb, ctx);
  });
  EXPECT_NT(STATUS_CONNECTION_REFUSED, s);
  SOFTNDK_ADAPTER_COUNTERS c = counters_of(node);
  EXPECT_EQ(1u, c.ConnectFailures);
  EXPECT_EQ(0u, c.Connects);
  EXPECT_EQ(0u, c.ActiveConnections);
}

INSTANTIATE_TEST_SUITE_P(Uris, Counters, ::testing::ValuesIn(ndktest::test_uris()));

}  // namespace
