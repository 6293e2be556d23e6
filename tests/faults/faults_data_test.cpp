// Data, completion-queue and peer faults (docs/faults.md): a corrupted FPDU ends in the MPA CRC
// Terminate, a dropped or delayed message (loopback), a receive-not-ready and a remote access
// error the receive engine raises, a CQ overrun, a peer adapter that vanishes and a link that
// goes silent until a timeout notices.
#include "connection_helpers.h"
#include "fault_support.h"

namespace faulttest {
namespace {

class DataFaultTest : public FaultPairTest {
 protected:
  // After a Terminate: the requests of the active side complete once each, not successfully
  // after the culprit; returns the ProviderErrorCode of the first error.
  ULONG first_error_code(const std::vector<NDK_RESULT_EX>& results) {
    for (const NDK_RESULT_EX& r : results)
      if (r.Status != STATUS_SUCCESS) return r.ProviderErrorCode;
    return 0;
  }
};

TEST_P(DataFaultTest, corrupted_segment_ends_in_the_crc_terminate) {
  ASSERT_TRUE(start(4));
  ASSERT_TRUE(set_plan(act().get(), "data.corrupt@2"));
  EXPECT_NT(STATUS_SUCCESS, send(0, 32, 1));
  EXPECT_NT(STATUS_SUCCESS, send(0, 32, 2));
  std::vector<NDK_RESULT_EX> received;
  ASSERT_TRUE(pas().cq.collect(&received, 4));
  EXPECT_TRUE(is_completion(received[0], STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x100),
                            &pas()));
  // The corrupted message was never placed: its receive and the rest are flushed, charged with
  // the Terminate the receiver sent (the MPA CRC error, RFC 5044).
  for (int i = 1; i < 4; ++i) {
    EXPECT_NT(STATUS_CANCELLED, received[i].Status) << "receive #" << i;
  }
  std::vector<NDK_RESULT_EX> sent;
  ASSERT_TRUE(act().cq.collect(&sent, 2));
  EXPECT_NT(STATUS_SUCCESS, sent[0].Status);
  if (!act().iwarp()) {
    // Loopback's verdict is synchronous: the corrupted message is the culprit.
    EXPECT_NT(STATUS_CONNECTION_RESET, sent[1].Status);
    EXPECT_EQ(kTerminateCrc, sent[1].ProviderErrorCode);
  } else if (sent[1].Status != STATUS_SUCCESS) {
    // iWARP: handed to TCP, then the Terminate (which names no segment) flushes what was not
    // reported yet.
    EXPECT_NT(STATUS_CANCELLED, sent[1].Status);
  }
  EXPECT_TRUE(both_disconnected(kReasonAbort));
  EXPECT_EQ(1u, faults_injected(act().get()));
}

TEST_P(DataFaultTest, rnr_terminates_as_if_no_receive_were_posted) {
  ASSERT_TRUE(start(2));
  ASSERT_TRUE(set_plan(pas().get(), "data.rnr"));
  EXPECT_NT(STATUS_SUCCESS, send(0, 32, 1));
  std::vector<NDK_RESULT_EX> sent, received;
  ASSERT_TRUE(act().cq.collect(&sent, 1));
  EXPECT_TRUE(completes_or_fails_remotely(act(), NdkOperationTypeSend, sent[0].Status,
                                          {STATUS_CONNECTION_ABORTED}));
  if (sent[0].Status != STATUS_SUCCESS) {
    EXPECT_EQ(kTerminateNoBuffer, sent[0].ProviderErrorCode);
  }
  // Both receives were still posted: each is flushed, none consumed.
  ASSERT_TRUE(pas().cq.collect(&received, 2));
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(is_completion(received[i], STATUS_CANCELLED, NdkOperationTypeReceive,
                              ctx(0x100 + i), &pas()));
  EXPECT_TRUE(both_disconnected(kReasonAbort));
  EXPECT_EQ(1u, faults_injected(pas().get()));
}

TEST_P(DataFaultTest, access_fault_refuses_a_valid_write_like_a_bad_stag) {
  ASSERT_TRUE(start(2));
  ASSERT_TRUE(set_plan(pas().get(), "data.access"));
  NDK_SGE sge = a->sge(0, 64);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(1), &sge, 1, p->address(128),
                                                p->remote_token(), 0));
  std::vector<NDK_RESULT_EX> sent;
  ASSERT_TRUE(act().cq.collect(&sent, 1));
  EXPECT_TRUE(completes_or_fails_remotely(act(), NdkOperationTypeWrite, sent[0].Status,
                                          {STATUS_ACCESS_VIOLATION}));
  if (sent[0].Status != STATUS_SUCCESS) {
    EXPECT_EQ(kTerminateTaggedStag, sent[0].ProviderErrorCode);
  }
  EXPECT_TRUE(both_disconnected(kReasonAbort));
  for (int i = 0; i < 64; ++i) ASSERT_EQ(0, p->data()[128 + i]) << "the refused write landed";
  EXPECT_EQ(1u, faults_injected(pas().get()));
}

TEST_P(DataFaultTest, access_fault_refuses_a_valid_read) {
  ASSERT_TRUE(start(2));
  ASSERT_TRUE(set_plan(pas().get(), "data.access"));
  NDK_SGE sge = a->sge(0, 64);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkRead(act().qp, ctx(1), &sge, 1, p->address(0),
                                               p->remote_token(), 0));
  std::vector<NDK_RESULT_EX> sent;
  ASSERT_TRUE(act().cq.collect(&sent, 1));
  EXPECT_NT(STATUS_ACCESS_VIOLATION, sent[0].Status);
  EXPECT_TRUE(both_disconnected(kReasonAbort));
}

TEST_P(DataFaultTest, cq_overrun_fails_the_cq_as_a_full_one_does) {
  ASSERT_TRUE(start(4));
  ASSERT_TRUE(set_plan(pas().get(), "cq.overrun@2"));
  pas().cq.arm(NDK_CQ_NOTIFY_ANY);
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 1));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 2));
  // The second completion overruns: the CQ's notification reports STATUS_BUFFER_OVERFLOW (at
  // once when armed, else at the next arm) and the CQ returns nothing more, not even the entry
  // before it ("NDKPI Completion Handling Requirements").
  EXPECT_TRUE(wait_until([&] {
    if (pas().cq.last_notification_status() == STATUS_BUFFER_OVERFLOW) return true;
    pas().cq.arm(NDK_CQ_NOTIFY_ANY);
    return false;
  })) << "last notification status " << status_name(pas().cq.last_notification_status())
       << " after " << pas().cq.notification_count() << " notifications, CqErrors "
       << counters(pas().get()).CqErrors;
  EXPECT_TRUE(stray_completions(pas().cq).empty()) << "an overrun CQ reported more";
  EXPECT_EQ(1u, counters(pas().get()).CqErrors);
  EXPECT_EQ(1u, faults_injected(pas().get()));
  EXPECT_TRUE(wait_until([&] { return act().disconnects.count.load() == 1; }))
      << "the peer of the dead QP kept its connection";
  EXPECT_NT(STATUS_CONNECTION_INVALID, post_receive(pas().qp, *p, 0, 64, ctx(9)));
}

INSTANTIATE_TEST_SUITE_P(Uris, DataFaultTest, ::testing::ValuesIn(fault_uris()), uri_param_name);

// ---------------------------------------------------------------------------------------------
// Loopback only: drop, delay, vanish, and silent (tcp's silence: peer_death_test.cpp)

class LoopbackFaultTest : public FaultPairTest {};

TEST_P(LoopbackFaultTest, dropped_message_completes_at_the_sender_and_never_arrives) {
  ASSERT_TRUE(start(2));
  ASSERT_TRUE(set_plan(act().get(), "data.drop"));
  EXPECT_NT(STATUS_SUCCESS, send(0, 32, 1));
  std::vector<NDK_RESULT_EX> sent;
  ASSERT_TRUE(act().cq.collect(&sent, 1));
  EXPECT_TRUE(is_completion(sent[0], STATUS_SUCCESS, NdkOperationTypeSend, ctx(1), &act()));
  EXPECT_TRUE(stray_completions(pas().cq).empty()) << "the dropped message arrived";
  EXPECT_EQ(1u, faults_injected(act().get()));
  // Its receive stays posted until the flush.
  pas().q()->NdkFlush(pas().qp);
  std::vector<NDK_RESULT_EX> flushed;
  ASSERT_TRUE(pas().cq.collect(&flushed, 2));
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(is_completion(flushed[i], STATUS_CANCELLED, NdkOperationTypeReceive,
                              ctx(0x100 + i), &pas()));
}

TEST_P(LoopbackFaultTest, delayed_message_arrives_intact_and_in_order) {
  ASSERT_TRUE(start(4));
  ASSERT_TRUE(set_plan(act().get(), "data.delay@1:ms=40"));
  EXPECT_NT(STATUS_SUCCESS, send(0, 100, 1));
  EXPECT_NT(STATUS_SUCCESS, send(100, 50, 2));
  std::vector<NDK_RESULT_EX> sent, received;
  ASSERT_TRUE(act().cq.collect(&sent, 2));
  ASSERT_TRUE(pas().cq.collect(&received, 2));
  EXPECT_TRUE(is_completion(received[0], STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x100),
                            &pas()));
  EXPECT_EQ(100u, received[0].BytesTransferred);
  EXPECT_TRUE(is_completion(received[1], STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x101),
                            &pas()));
  EXPECT_EQ(50u, received[1].BytesTransferred);
  EXPECT_TRUE(holds_copy(p->data(), a->data(), 100));
  EXPECT_TRUE(holds_copy(p->data() + 1024, a->data() + 100, 50));
  EXPECT_EQ(1u, faults_injected(act().get()));
}

TEST_P(LoopbackFaultTest, vanished_peer_aborts_every_connection_of_its_adapter) {
  ASSERT_TRUE(start(2));
  ASSERT_TRUE(set_plan(act().get(), "peer.vanish@msgs=1"));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 1));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 2));
  std::vector<NDK_RESULT_EX> sent, received;
  ASSERT_TRUE(act().cq.collect(&sent, 2));
  EXPECT_NT(STATUS_SUCCESS, sent[0].Status);
  EXPECT_NE(STATUS_SUCCESS, sent[1].Status);
  ASSERT_TRUE(pas().cq.collect(&received, 2));
  EXPECT_NT(STATUS_SUCCESS, received[0].Status);
  EXPECT_NT(STATUS_CANCELLED, received[1].Status);
  EXPECT_TRUE(both_disconnected(kReasonAbort));
  EXPECT_EQ(1u, faults_injected(act().get()));
}

TEST_P(LoopbackFaultTest, silent_link_is_aborted_by_the_side_with_a_timeout) {
  PairOptions options;
  options.passive_uri = with_option(GetParam(), "link_timeout_ms", "100");
  ASSERT_TRUE(start(2, options));
  ASSERT_TRUE(set_plan(act().get(), "peer.silent@msgs=1"));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 1));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 2));  // swallowed: it completes, never arrives
  std::vector<NDK_RESULT_EX> sent, received;
  ASSERT_TRUE(act().cq.collect(&sent, 2));
  EXPECT_NT(STATUS_SUCCESS, sent[1].Status);
  ASSERT_TRUE(pas().cq.collect(&received, 2));
  EXPECT_NT(STATUS_SUCCESS, received[0].Status);
  EXPECT_NT(STATUS_CANCELLED, received[1].Status);
  EXPECT_TRUE(both_disconnected(kReasonAbort));
  EXPECT_EQ(1u, faults_injected(act().get()));
}

INSTANTIATE_TEST_SUITE_P(Uris, LoopbackFaultTest, ::testing::ValuesIn(loopback_uris()),
                         uri_param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LoopbackFaultTest);

}  // namespace
}  // namespace faulttest
