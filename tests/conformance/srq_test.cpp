// Shared receive queues (Microsoft's NDKPI reference). Every test runs on each test URI and on its
// "pending=always" twin.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "ndk_test.h"
#include "qp_datapath_helpers.h"

namespace {
using namespace ndktest;
using namespace ndktest::qpd;
using namespace std::chrono_literals;

class SharedReceiveQueue : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<SrqPairFixture> rig;
  std::unique_ptr<Region> a;  // active PD
  std::unique_ptr<Region> p;  // passive PD (SRQ receive buffers)

  void TearDown() override {
    a.reset();
    p.reset();
    if (rig) {
      EXPECT_TRUE(rig->teardown());
    }
    rig.reset();
  }

  // Creates the rig and one buffer per side; skips when the adapter has no SRQ support.
  bool start(SrqPairFixture::Options options = {}) {
    rig = std::make_unique<SrqPairFixture>(GetParam(), options);
    if (rig->passive.get() != nullptr && rig->passive.info().MaxSrqDepth == 0) {
      skipped = true;
      return false;
    }
    if (!rig->create()) return false;
    a = std::make_unique<Region>(rig->active.pd, 64 * 1024, kMrAll);
    p = std::make_unique<Region>(rig->passive.pd, 64 * 1024, kMrAll);
    return a->status() == STATUS_SUCCESS && p->status() == STATUS_SUCCESS;
  }
  bool skipped = false;

  // Active QP i sends `length` bytes of pattern `seed` and waits for its send completion.
  void send_from(int i, size_t offset, ULONG length, uint32_t seed, void* context) {
    fill(a->data() + offset, length, seed);
    ASSERT_NT(STATUS_SUCCESS, post_send(rig->aqp[i], *a, offset, length, context));
    NDK_RESULT_EX r{};
    ASSERT_TRUE(rig->active.cq.next(&r));
    EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeSend, context, &rig->actx[i]));
  }
  // Consumes one SRQ receive through active QP i and waits for its receive completion.
  void consume(int i, void* context) {
    send_from(i, 60000, 4, 1, ctx(0xFFF));
    NDK_RESULT_EX r{};
    ASSERT_TRUE(rig->prcq[i].next(&r));
    EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, context, &rig->pctx[i]));
  }
  // Waits (bounded) and returns the notification count once it has been stable for `quiet`.
  int settled_notifications(std::chrono::milliseconds quiet = 100ms) {
    std::this_thread::sleep_for(quiet);
    return rig->notifications.load();
  }
};

#define START_OR_SKIP(...)                                                  \
  do {                                                                      \
    bool started_ = start(__VA_ARGS__);                                     \
    if (skipped) GTEST_SKIP() << "adapter reports MaxSrqDepth == 0 (no SRQ)"; \
    ASSERT_TRUE(started_);                                                  \
  } while (0)

TEST_P(SharedReceiveQueue, create_srq_enforces_adapter_limits) {
  QpFixture lone(GetParam());
  ASSERT_TRUE(lone.ok());
  const NDK_ADAPTER_INFO& info = lone.info();
  if (info.MaxSrqDepth == 0) GTEST_SKIP() << "adapter reports MaxSrqDepth == 0 (no SRQ)";
  auto create = [&](ULONG depth, ULONG sge, NDK_SRQ** out) {
    *out = nullptr;
    return sync_create<NDK_SRQ>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_SRQ** o) {
          return lone.pd->Dispatch->NdkCreateSrq(lone.pd, depth, sge, 0, nullptr, nullptr,
                                                 nullptr, cb, c, o);
        },
        out);
  };
  NDK_SRQ* srq = nullptr;
  EXPECT_NT(STATUS_INVALID_PARAMETER, create(info.MaxSrqDepth + 1, 1, &srq));
  EXPECT_EQ(nullptr, srq);
  EXPECT_NT(STATUS_INVALID_PARAMETER, create(4, info.MaxReceiveRequestSge + 1, &srq));
  EXPECT_EQ(nullptr, srq);
  EXPECT_NT(STATUS_INVALID_PARAMETER, create(0, 1, &srq));  // a queue that can hold nothing
  EXPECT_EQ(nullptr, srq);
  ASSERT_NT(STATUS_SUCCESS, create(info.MaxSrqDepth, info.MaxReceiveRequestSge, &srq));
  ASSERT_NE(nullptr, srq);
  EXPECT_EQ(NdkObjectTypeSrq, srq->Header.ObjectType);
  EXPECT_TRUE(close_object(srq));
}

TEST_P(SharedReceiveQueue, qps_sharing_an_srq_consume_its_receives_in_order) {
  START_OR_SKIP();
  for (int i = 0; i < 4; ++i)
    ASSERT_NT(STATUS_SUCCESS, rig->srq_receive(*p, i * 1024, 1024, ctx(0x10 + i)));
  ASSERT_TRUE(rig->connect(0));
  ASSERT_TRUE(rig->connect(1));
  // QP 0, QP 1, QP 0, QP 1: each consumes the oldest SRQ receive; the completion goes to the
  // consuming QP's receive CQ with that QP's context and the SRQ receive's context.
  const ULONG sizes[4] = {50, 60, 70, 80};
  for (int k = 0; k < 4; ++k) {
    int qp = k % 2;
    send_from(qp, k * 1024, sizes[k], 100 + k, ctx(0x20 + k));
    NDK_RESULT_EX r{};
    ASSERT_TRUE(rig->prcq[qp].next(&r)) << "message #" << k;
    EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x10 + k),
                              &rig->pctx[qp]))
        << "message #" << k;
    EXPECT_EQ(sizes[k], r.BytesTransferred);
    EXPECT_EQ(sizes[k], first_mismatch(p->data() + k * 1024, sizes[k], 100 + k));
  }
  EXPECT_TRUE(stray_completions(rig->prcq[0]).empty());
  EXPECT_TRUE(stray_completions(rig->prcq[1]).empty());
  EXPECT_TRUE(stray_completions(rig->passive.cq).empty());
}

TEST_P(SharedReceiveQueue, receive_on_srq_attached_qp_is_rejected) {
  START_OR_SKIP();
  NDK_SGE sge = p->sge(0, 64);
  EXPECT_NT(STATUS_INVALID_DEVICE_REQUEST,
            rig->pqp[0]->Dispatch->NdkReceive(rig->pqp[0], ctx(1), &sge, 1));
  ASSERT_TRUE(rig->connect(0));
  EXPECT_NT(STATUS_INVALID_DEVICE_REQUEST,
            rig->pqp[0]->Dispatch->NdkReceive(rig->pqp[0], ctx(2), &sge, 1));
  EXPECT_TRUE(stray_completions(rig->prcq[0]).empty());
}

TEST_P(SharedReceiveQueue, srq_receive_beyond_depth_or_sge_limit_is_rejected) {
  SrqPairFixture::Options options;
  options.srq_depth = 4;
  options.srq_sge = 2;
  START_OR_SKIP(options);
  for (int i = 0; i < 4; ++i)
    ASSERT_NT(STATUS_SUCCESS, rig->srq_receive(*p, i * 1024, 1024, ctx(0x30 + i)));
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, rig->srq_receive(*p, 8192, 1024, ctx(0x3F)));
  NDK_SGE three[3] = {p->sge(9000, 10), p->sge(9100, 10), p->sge(9200, 10)};
  EXPECT_NT(STATUS_INVALID_PARAMETER, rig->srq->Dispatch->NdkSrqReceive(rig->srq, ctx(0x3E),
                                                                        three, 3));
  ASSERT_TRUE(rig->connect(0));
  consume(0, ctx(0x30));
  // One was consumed: exactly one more fits.
  ASSERT_NT(STATUS_SUCCESS, rig->srq_receive(*p, 4096, 1024, ctx(0x34)));
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, rig->srq_receive(*p, 8192, 1024, ctx(0x3D)));
  for (int i = 1; i <= 4; ++i) consume(0, ctx(0x30 + i));
  EXPECT_TRUE(stray_completions(rig->prcq[0]).empty()) << "a rejected receive completed";
}

TEST_P(SharedReceiveQueue, modify_srq_depth_zero_keeps_depth_and_cannot_shrink_below_posted) {
  SrqPairFixture::Options options;
  options.srq_depth = 4;
  START_OR_SKIP(options);
  const ULONG max_depth = rig->passive.info().MaxSrqDepth;
  ASSERT_NT(STATUS_SUCCESS, rig->modify(0, 0));
  for (int i = 0; i < 4; ++i)
    ASSERT_NT(STATUS_SUCCESS, rig->srq_receive(*p, i * 1024, 1024, ctx(0x40 + i)));
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, rig->srq_receive(*p, 0, 1024, ctx(0x4F)))
      << "depth 0 in NdkModifySrq must keep the depth (4)";
  EXPECT_NT(STATUS_INVALID_PARAMETER, rig->modify(3, 0)) << "shrunk below 4 posted receives";
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, rig->srq_receive(*p, 0, 1024, ctx(0x4E)))
      << "a rejected modify changed the depth";
  EXPECT_NT(STATUS_INVALID_PARAMETER, rig->modify(max_depth + 1, 0));
  ASSERT_NT(STATUS_SUCCESS, rig->modify(8, 0));
  for (int i = 4; i < 8; ++i)
    ASSERT_NT(STATUS_SUCCESS, rig->srq_receive(*p, i * 1024, 1024, ctx(0x40 + i)));
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, rig->srq_receive(*p, 0, 1024, ctx(0x4D)));
  ASSERT_NT(STATUS_SUCCESS, rig->modify(8, 0));  // exactly the number posted
  // The receives are all intact and in order.
  ASSERT_TRUE(rig->connect(0));
  for (int i = 0; i < 8; ++i) consume(0, ctx(0x40 + i));
  EXPECT_TRUE(stray_completions(rig->prcq[0]).empty());
}

// Section 6 item 23: armed at creation (callback + threshold), fires on the first transition
// below the threshold caused by a consumed receive, never at creation; one notification
// disarms.
TEST_P(SharedReceiveQueue, threshold_notification_fires_once_when_count_drops_below) {
  SrqPairFixture::Options options;
  options.threshold = 3;
  START_OR_SKIP(options);
  EXPECT_EQ(0, settled_notifications()) << "fired at creation (empty SRQ)";
  for (int i = 0; i < 5; ++i)
    ASSERT_NT(STATUS_SUCCESS, rig->srq_receive(*p, i * 1024, 1024, ctx(0x50 + i)));
  EXPECT_EQ(0, settled_notifications()) << "fired while receives were being posted";
  ASSERT_TRUE(rig->connect(0));
  consume(0, ctx(0x50));  // 4 left
  consume(0, ctx(0x51));  // 3 left: not below 3
  EXPECT_EQ(0, settled_notifications()) << "fired at count == threshold";
  consume(0, ctx(0x52));  // 2 left: below
  ASSERT_TRUE(wait_until([&] { return rig->notifications.load() >= 1; }))
      << "no notification when the count dropped below the threshold";
  EXPECT_NT(STATUS_SUCCESS, rig->notification_status.load());
  consume(0, ctx(0x53));  // 1 left: disarmed
  EXPECT_EQ(1, settled_notifications()) << "a notification without re-arming";
}

TEST_P(SharedReceiveQueue, modify_srq_rearms_the_threshold) {
  START_OR_SKIP();  // created with threshold 0: not armed
  for (int i = 0; i < 8; ++i)
    ASSERT_NT(STATUS_SUCCESS, rig->srq_receive(*p, i * 1024, 1024, ctx(0x60 + i)));
  ASSERT_TRUE(rig->connect(0));
  consume(0, ctx(0x60));  // 7 left
  EXPECT_EQ(0, settled_notifications()) << "notification without a threshold";
  ASSERT_NT(STATUS_SUCCESS, rig->modify(0, 6));  // 7 >= 6: armed, not due
  EXPECT_EQ(0, settled_notifications());
  consume(0, ctx(0x61));  // 6 left
  EXPECT_EQ(0, settled_notifications());
  consume(0, ctx(0x62));  // 5 left: fires
  ASSERT_TRUE(wait_until([&] { return rig->notifications.load() >= 1; }));
  consume(0, ctx(0x63));  // 4 left
  EXPECT_EQ(1, settled_notifications());
  // Re-arm again with a lower threshold.
  ASSERT_NT(STATUS_SUCCESS, rig->modify(0, 4));  // 4 is not below 4
  EXPECT_EQ(1, settled_notifications());
  consume(0, ctx(0x64));  // 3 left: fires
  ASSERT_TRUE(wait_until([&] { return rig->notifications.load() >= 2; }));
  EXPECT_EQ(2, settled_notifications());
  EXPECT_EQ(0, rig->notified_inside_modify.load());
}

TEST_P(SharedReceiveQueue, modify_srq_with_count_already_below_fires_promptly) {
  START_OR_SKIP();
  ASSERT_NT(STATUS_SUCCESS, rig->srq_receive(*p, 0, 1024, ctx(0x70)));
  ASSERT_NT(STATUS_SUCCESS, rig->modify(0, 5));  // 1 < 5
  ASSERT_TRUE(wait_until([&] { return rig->notifications.load() >= 1; }))
      << "no notification although the count was already below the threshold";
  EXPECT_NT(STATUS_SUCCESS, rig->notification_status.load());
  EXPECT_EQ(0, rig->notified_inside_modify.load())
      << "the notification ran inside NdkModifySrq (must be delivered asynchronously)";
  EXPECT_EQ(1, settled_notifications()) << "one arm, more than one notification";
  // "Below" is strict: one queued receive is not below threshold 1.
  ASSERT_NT(STATUS_SUCCESS, rig->modify(0, 1));
  EXPECT_EQ(1, settled_notifications()) << "fired with the count equal to the threshold";
}

// NotifyThreshold 0 leaves the threshold and the armed/disarmed state unchanged.
TEST_P(SharedReceiveQueue, modify_srq_threshold_zero_keeps_threshold_and_arm_state) {
  SrqPairFixture::Options options;
  options.threshold = 3;
  START_OR_SKIP(options);
  for (int i = 0; i < 6; ++i)
    ASSERT_NT(STATUS_SUCCESS, rig->srq_receive(*p, i * 1024, 1024, ctx(0x80 + i)));
  ASSERT_NT(STATUS_SUCCESS, rig->modify(0, 0));
  ASSERT_NT(STATUS_SUCCESS, rig->modify(16, 0));
  ASSERT_TRUE(rig->connect(0));
  for (int i = 0; i < 3; ++i) consume(0, ctx(0x80 + i));  // 3 left
  EXPECT_EQ(0, settled_notifications());
  consume(0, ctx(0x83));  // 2 left: still armed with threshold 3
  ASSERT_TRUE(wait_until([&] { return rig->notifications.load() >= 1; }))
      << "NdkModifySrq(threshold 0) disarmed the SRQ or changed its threshold";
  // Disarmed now; threshold 0 must not re-arm.
  ASSERT_NT(STATUS_SUCCESS, rig->modify(0, 0));
  for (int i = 0; i < 6; ++i)
    ASSERT_NT(STATUS_SUCCESS, rig->srq_receive(*p, (8 + i) * 1024, 1024, ctx(0x90 + i)));
  consume(0, ctx(0x84));
  consume(0, ctx(0x85));
  for (int i = 0; i < 6; ++i) consume(0, ctx(0x90 + i));  // count crosses below 3 again
  EXPECT_EQ(1, settled_notifications()) << "NdkModifySrq(threshold 0) re-armed the SRQ";
  EXPECT_EQ(0, rig->notified_inside_modify.load());
}

// the NDKPI reference: receives belong to the SRQ, not to a QP; flushing (or closing) one QP
// leaves them for the other QPs.
TEST_P(SharedReceiveQueue, flush_or_close_of_a_qp_does_not_touch_srq_receives) {
  START_OR_SKIP();
  for (int i = 0; i < 4; ++i)
    ASSERT_NT(STATUS_SUCCESS, rig->srq_receive(*p, i * 1024, 1024, ctx(0xA0 + i)));
  ASSERT_TRUE(rig->connect(0));
  ASSERT_TRUE(rig->connect(1));
  consume(0, ctx(0xA0));
  rig->pqp[0]->Dispatch->NdkFlush(rig->pqp[0]);
  EXPECT_TRUE(stray_completions(rig->prcq[0], 100ms).empty())
      << "NdkFlush reported SRQ receives on the flushed QP";
  EXPECT_TRUE(wait_until([&] { return rig->adis[0].count.load() == 1; }))
      << "peer of the flushed QP got no disconnect event";
  consume(1, ctx(0xA1));
  // Closing the flushed QP does not cancel them either.
  ASSERT_TRUE(rig->passive.close(rig->pcon[0]));
  rig->pcon[0] = nullptr;
  ASSERT_TRUE(rig->passive.close(rig->pqp[0]));
  rig->pqp[0] = nullptr;
  EXPECT_TRUE(stray_completions(rig->prcq[0]).empty());
  consume(1, ctx(0xA2));
  consume(1, ctx(0xA3));
  EXPECT_TRUE(stray_completions(rig->prcq[1]).empty());
}

INSTANTIATE_TEST_SUITE_P(SrqUris, SharedReceiveQueue,
                         ::testing::ValuesIn(inline_and_pending_uris()), indexed_uri_param_name);

}  // namespace
