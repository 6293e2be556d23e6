// End-to-end smoke: connect two adapters, move data with send, write and read, disconnect.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "ndk_test.h"

namespace {
using namespace ndktest;

class Smoke : public ::testing::TestWithParam<std::string> {};

TEST_P(Smoke, connect_send_write_read_disconnect) {
  ConnectedPairFixture pair(GetParam());
  std::unique_ptr<Region> rx_a, rx_b;
  ASSERT_TRUE(pair.connect([&](ConnectedPairFixture& p) {
    rx_b = std::make_unique<Region>(p.passive.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE |
                                                            NDK_MR_FLAG_ALLOW_REMOTE_WRITE |
                                                            NDK_MR_FLAG_ALLOW_REMOTE_READ);
    ASSERT_NT(STATUS_SUCCESS, rx_b->status());
    ASSERT_NT(STATUS_SUCCESS, post_receive(p.passive.qp, *rx_b, 0, 1024, (void*)0x11));
  }));
  Region tx(pair.active.pd, 4096,
            NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK, 0xAB);
  ASSERT_NT(STATUS_SUCCESS, tx.status());

  // Send.
  ASSERT_NT(STATUS_SUCCESS, post_send(pair.active.qp, tx, 0, 100, (void*)0x22));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(pair.active.cq.next(&r));
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(NdkOperationTypeSend, r.Type);
  EXPECT_EQ((void*)0x22, r.RequestContext);
  ASSERT_TRUE(pair.passive.cq.next(&r));
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(NdkOperationTypeReceive, r.Type);
  EXPECT_EQ(100u, r.BytesTransferred);
  EXPECT_EQ((void*)0x11, r.RequestContext);
  EXPECT_EQ(&pair.passive, r.QPContext);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(0xAB, rx_b->data()[i]);

  // Write into the passive region at offset 2048.
  NDK_SGE sge = tx.sge(0, 512);
  std::memset(tx.data(), 0x5C, 512);
  ASSERT_NT(STATUS_SUCCESS, pair.active.q()->NdkWrite(pair.active.qp, (void*)0x33, &sge, 1,
                                                      rx_b->address(2048), rx_b->remote_token(), 0));
  ASSERT_TRUE(pair.active.cq.next(&r));
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(NdkOperationTypeWrite, r.Type);

  // Read it back into the start of tx. The read also orders the write: on iWARP the write
  // completed when handed to TCP (RFC 5040), and the target gets no completion; a
  // read that follows it on the connection completes after it was placed (3.7 rule 2).
  std::memset(tx.data(), 0, 512);
  ASSERT_NT(STATUS_SUCCESS, pair.active.q()->NdkRead(pair.active.qp, (void*)0x44, &sge, 1,
                                                     rx_b->address(2048), rx_b->remote_token(), 0));
  ASSERT_TRUE(pair.active.cq.next(&r));
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(NdkOperationTypeRead, r.Type);
  for (int i = 0; i < 512; ++i)
    ASSERT_EQ(0x5C, rx_b->data()[2048 + i]) << "the written bytes are not at the target";
  for (int i = 0; i < 512; ++i) ASSERT_EQ(0x5C, tx.data()[i]);

  // Graceful disconnect from the active side; the passive side gets its event.
  NTSTATUS s = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    return pair.active.connector->Dispatch->NdkDisconnect(pair.active.connector, cb, ctx);
  });
  EXPECT_NT(STATUS_SUCCESS, s);
  EXPECT_TRUE(wait_until([&] { return pair.passive.disconnects.count.load() == 1; }));
  EXPECT_EQ(0, pair.active.disconnects.count.load());
  rx_b.reset();
}

INSTANTIATE_TEST_SUITE_P(Uris, Smoke, ::testing::ValuesIn(ndktest::test_uris()));

}  // namespace
