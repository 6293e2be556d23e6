// Call faults at the ABI (fail inline leaving nothing behind, or pend with a delayed
// completion) and connection faults (refuse, reject with private data, time out, abort or close
// gracefully after N messages), on every test URI (docs/faults.md).
#include <cstring>

#include "connection_helpers.h"
#include "fault_support.h"

namespace faulttest {
namespace {

using conntest::Op;

// ---------------------------------------------------------------------------------------------
// call.*

class CallFaultTest : public FaultPairTest {};

TEST_P(CallFaultTest, failed_post_returns_its_status_and_leaves_nothing_behind) {
  ASSERT_TRUE(start(4));
  ASSERT_TRUE(set_plan(act().get(), "call.send@2:INSUFFICIENT_RESOURCES;call.write:IO_TIMEOUT;"
                                    "call.read:INVALID_DEVICE_STATE;call.receive:INVALID_DEVICE_REQUEST"));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 0x1));
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, send(0, 16, 0x2));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 0x3));
  NDK_SGE sge = a->sge(0, 8);
  EXPECT_NT(STATUS_IO_TIMEOUT, act().q()->NdkWrite(act().qp, ctx(0x4), &sge, 1, p->address(0),
                                                   p->remote_token(), 0));
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE,
            act().q()->NdkRead(act().qp, ctx(0x5), &sge, 1, p->address(0), p->remote_token(), 0));
  EXPECT_NT(STATUS_INVALID_DEVICE_REQUEST, post_receive(act().qp, *a, 0, 64, ctx(0x6)));
  std::vector<NDK_RESULT_EX> got;
  ASSERT_TRUE(act().cq.collect(&got, 2));
  EXPECT_TRUE(is_completion(got[0], STATUS_SUCCESS, NdkOperationTypeSend, ctx(0x1), &act()));
  EXPECT_TRUE(is_completion(got[1], STATUS_SUCCESS, NdkOperationTypeSend, ctx(0x3), &act()));
  std::vector<NDK_RESULT_EX> received;
  ASSERT_TRUE(pas().cq.collect(&received, 2));
  EXPECT_TRUE(stray_completions(act().cq).empty()) << "a failed post left a completion";
  EXPECT_TRUE(stray_completions(pas().cq).empty()) << "a failed post reached the peer";
  EXPECT_EQ(4u, faults_injected(act().get()));
}

TEST_P(CallFaultTest, pended_create_and_register_complete_through_their_callbacks) {
  AdapterFixture adapter(with_option(GetParam(), "faults",
                                     "call.create_cq:pend=30;call.create_pd:pend;"
                                     "call.create_mr:pend=5;call.register_mr:pend=20"));
  ASSERT_TRUE(adapter.opened());
  Op cq_op;
  NTSTATUS s = cq_op.start_create<NDK_CQ>([&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_CQ** out) {
    return adapter.d()->NdkCreateCq(adapter.get(), 8, noop_cq_notify, nullptr, nullptr, cb, c,
                                    out);
  });
  EXPECT_NT(STATUS_PENDING, s);
  EXPECT_NT(STATUS_SUCCESS, cq_op.result());
  NDK_CQ* cq = cq_op.object<NDK_CQ>();
  ASSERT_NE(nullptr, cq);
  Op pd_op;
  EXPECT_NT(STATUS_PENDING, pd_op.start_create<NDK_PD>([&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_PD** out) {
    return adapter.d()->NdkCreatePd(adapter.get(), cb, c, out);
  }));
  EXPECT_NT(STATUS_SUCCESS, pd_op.result());
  NDK_PD* pd = pd_op.object<NDK_PD>();
  ASSERT_NE(nullptr, pd);
  Op mr_op;
  EXPECT_NT(STATUS_PENDING, mr_op.start_create<NDK_MR>([&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_MR** out) {
    return pd->Dispatch->NdkCreateMr(pd, FALSE, cb, c, out);
  }));
  EXPECT_NT(STATUS_SUCCESS, mr_op.result());
  NDK_MR* mr = mr_op.object<NDK_MR>();
  ASSERT_NE(nullptr, mr);
  std::vector<unsigned char> memory(8192);
  MDL mdl;
  SoftNdkInitializeMdl(&mdl, memory.data(), memory.size());
  Op reg;
  EXPECT_NT(STATUS_PENDING, reg.start([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
    return mr->Dispatch->NdkRegisterMr(mr, &mdl, memory.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE, cb,
                                       c);
  }));
  EXPECT_NT(STATUS_SUCCESS, reg.result());
  EXPECT_NE(0u, mr->Dispatch->NdkGetLocalTokenFromMr(mr));
  // An inline failure under a pend fault stays inline (no callback): a second registration.
  ASSERT_TRUE(set_plan(adapter.get(), "call.register_mr:pend"));
  Op again;
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE, again.start([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
    return mr->Dispatch->NdkRegisterMr(mr, &mdl, memory.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE, cb,
                                       c);
  }));
  EXPECT_EQ(5u, faults_injected(adapter.get()));
  Op dereg;
  dereg.start([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
    return mr->Dispatch->NdkDeregisterMr(mr, cb, c);
  });
  EXPECT_NT(STATUS_SUCCESS, dereg.result());
  EXPECT_TRUE(close_object(mr));
  EXPECT_TRUE(close_object(pd));
  EXPECT_TRUE(close_object(cq));
}

TEST_P(CallFaultTest, pended_connection_calls_still_connect_and_disconnect) {
  const std::string plan =
      "call.connect:pend=20;call.accept:pend=10;call.complete_connect:pend;call.listen:pend;"
      "call.disconnect:pend=15";
  ConnectedPairFixture rig(with_option(GetParam(), "faults", plan));
  ASSERT_TRUE(rig.connect());
  EXPECT_EQ(2u, faults_injected(rig.active.get()));   // connect, complete-connect
  EXPECT_EQ(2u, faults_injected(rig.passive.get()));  // listen, accept
  EXPECT_NT(STATUS_SUCCESS, conntest::disconnect(rig.active.connector));
  EXPECT_EQ(3u, faults_injected(rig.active.get()));
  EXPECT_TRUE(wait_until([&] { return rig.passive.disconnects.count.load() == 1; }));
}

TEST_P(CallFaultTest, failed_connect_leaves_the_qp_free_to_connect) {
  ConnectedPairFixture rig(GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  NDK_QP* qp = rig.active.create_qp();
  NDK_CONNECTOR* c = rig.active.create_connector();
  ASSERT_TRUE(qp != nullptr && c != nullptr);
  ASSERT_TRUE(set_plan(rig.active.get(), "call.connect:IO_TIMEOUT"));
  Op op;
  EXPECT_NT(STATUS_IO_TIMEOUT,
            conntest::start_connect(op, c, qp, rig.active.local(), rig.destination));
  EXPECT_EQ(1u, faults_injected(rig.active.get()));
  ASSERT_TRUE(rig.connect()) << "the failed connect left state behind";
}

INSTANTIATE_TEST_SUITE_P(Uris, CallFaultTest, ::testing::ValuesIn(fault_uris()), uri_param_name);

// ---------------------------------------------------------------------------------------------
// conn.refuse / conn.reject / conn.timeout

class ConnFaultTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Connects a new QP of the active side to the listener; the connect's final status.
  NTSTATUS try_connect(ConnectedPairFixture& rig, NDK_CONNECTOR** connector) {
    NDK_QP* qp = rig.active.create_qp();
    *connector = rig.active.create_connector();
    EXPECT_TRUE(qp != nullptr && *connector != nullptr);
    Op op;
    NTSTATUS s = conntest::start_connect(op, *connector, qp, rig.active.local(), rig.destination);
    EXPECT_NT(STATUS_PENDING, s);
    return op.result();
  }
};

TEST_P(ConnFaultTest, refuse_at_the_listener_refuses_the_connect) {
  ConnectedPairFixture rig(GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  ASSERT_TRUE(set_plan(rig.passive.get(), "conn.refuse"));
  NDK_CONNECTOR* c = nullptr;
  EXPECT_NT(STATUS_CONNECTION_REFUSED, try_connect(rig, &c));
  EXPECT_EQ(0, rig.incoming.count()) << "a refused request reached the consumer";
  EXPECT_EQ(1u, faults_injected(rig.passive.get()));
  EXPECT_EQ(1u, counters(rig.active.get()).ConnectFailures);
  ASSERT_TRUE(rig.connect()) << "only the first request is refused";
}

TEST_P(ConnFaultTest, reject_at_the_listener_carries_its_private_data) {
  ConnectedPairFixture rig(GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  ASSERT_TRUE(set_plan(rig.passive.get(), "conn.reject:data=C0FFEE01"));
  NDK_CONNECTOR* c = nullptr;
  EXPECT_NT(STATUS_CONNECTION_REFUSED, try_connect(rig, &c));
  ASSERT_NE(nullptr, c);
  ULONG inbound = 0, outbound = 0, length = 512;
  std::vector<unsigned char> data(length, 0x55);
  ASSERT_NT(STATUS_SUCCESS,
            c->Dispatch->NdkGetConnectionData(c, &inbound, &outbound, data.data(), &length));
  ASSERT_GE(length, 4u);
  const unsigned char expected[4] = {0xC0, 0xFF, 0xEE, 0x01};
  EXPECT_EQ(0, std::memcmp(expected, data.data(), 4));
  for (size_t i = 4; i < length; ++i) EXPECT_EQ(0, data[i]) << "byte " << i;
  EXPECT_EQ(0, rig.incoming.count());
  EXPECT_EQ(1u, faults_injected(rig.passive.get()));
}

TEST_P(ConnFaultTest, lost_request_times_the_connect_out) {
  ConnectedPairFixture rig(with_option(GetParam(), "connect_timeout_ms", "200"), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  ASSERT_TRUE(set_plan(rig.active.get(), "conn.timeout"));
  NDK_CONNECTOR* c = nullptr;
  EXPECT_NT(STATUS_IO_TIMEOUT, try_connect(rig, &c));
  EXPECT_EQ(0, rig.incoming.count()) << "the lost request reached the listener";
  EXPECT_EQ(1u, faults_injected(rig.active.get()));
  EXPECT_EQ(1u, counters(rig.active.get()).ConnectFailures);
}

INSTANTIATE_TEST_SUITE_P(Uris, ConnFaultTest, ::testing::ValuesIn(fault_uris()), uri_param_name);

// ---------------------------------------------------------------------------------------------
// conn.abort / conn.disconnect

class LinkFaultTest : public FaultPairTest {};

TEST_P(LinkFaultTest, abort_after_n_messages_aborts_both_sides_and_flushes) {
  ASSERT_TRUE(start(4));
  ASSERT_TRUE(set_plan(act().get(), "conn.abort@msgs=2"));
  for (uintptr_t i = 1; i <= 3; ++i) EXPECT_NT(STATUS_SUCCESS, send(0, 32, i));
  std::vector<NDK_RESULT_EX> sent;
  ASSERT_TRUE(act().cq.collect(&sent, 3));
  // Loopback reports the two messages before the abort; over tcp a request handed to TCP may
  // still be unreported when the link aborts (then it is cancelled), and an abort (a TCP reset)
  // may discard what the peer has not read yet.
  const bool exact = !act().iwarp();
  int succeeded = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ctx(i + 1), sent[i].RequestContext);
    const bool ok = sent[i].Status == STATUS_SUCCESS;
    if (ok) {
      EXPECT_EQ(succeeded, i) << "a success after a cancellation";
      ++succeeded;
    } else {
      EXPECT_NT(STATUS_CANCELLED, sent[i].Status) << "request #" << i;
    }
  }
  EXPECT_LE(succeeded, 2) << "the request after the abort succeeded";
  if (exact) {
    EXPECT_EQ(2, succeeded);
  }
  std::vector<NDK_RESULT_EX> received;
  ASSERT_TRUE(pas().cq.collect(&received, 4));
  int arrived = 0;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ctx(0x100 + i), received[i].RequestContext);
    if (received[i].Status == STATUS_SUCCESS) {
      EXPECT_EQ(arrived++, i);
    } else {
      EXPECT_NT(STATUS_CANCELLED, received[i].Status) << "receive #" << i;
    }
  }
  EXPECT_LE(arrived, 2);
  if (exact) {
    EXPECT_EQ(2, arrived);
  }
  EXPECT_TRUE(both_disconnected(kReasonAbort));
  EXPECT_EQ(1u, faults_injected(act().get()));
  EXPECT_TRUE(stray_completions(act().cq).empty());
  EXPECT_TRUE(stray_completions(pas().cq).empty());
}

TEST_P(LinkFaultTest, disconnect_after_n_bytes_closes_gracefully_without_flush) {
  ASSERT_TRUE(start(4));
  ASSERT_TRUE(set_plan(act().get(), "conn.disconnect@bytes=100"));
  EXPECT_NT(STATUS_SUCCESS, send(0, 64, 1));
  EXPECT_NT(STATUS_SUCCESS, send(0, 64, 2));
  std::vector<NDK_RESULT_EX> sent, received;
  ASSERT_TRUE(act().cq.collect(&sent, 2));
  ASSERT_TRUE(pas().cq.collect(&received, 2));
  EXPECT_NT(STATUS_SUCCESS, received[1].Status);
  // 128 bytes are out: the next message finds the link closed in order.
  EXPECT_NT(STATUS_SUCCESS, send(0, 64, 3));
  EXPECT_TRUE(both_disconnected(kReasonGraceful));
  EXPECT_TRUE(stray_completions(pas().cq).empty()) << "a graceful close flushed the receives";
  EXPECT_EQ(1u, faults_injected(act().get()));
  // The consumer's own disconnect ends it and flushes what is left.
  EXPECT_NT(STATUS_SUCCESS, conntest::disconnect(pas().connector));
  std::vector<NDK_RESULT_EX> flushed;
  ASSERT_TRUE(pas().cq.collect(&flushed, 2));
  for (const NDK_RESULT_EX& r : flushed) EXPECT_NT(STATUS_CANCELLED, r.Status);
}

INSTANTIATE_TEST_SUITE_P(Uris, LinkFaultTest, ::testing::ValuesIn(fault_uris()), uri_param_name);

}  // namespace
}  // namespace faulttest
