// Verifier rules (docs/verifier.md) over the public ABI: each test breaks one rule and sees that
// report, and a correct consumer raises none. Memory rules are in verifier_memory_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "verifier_fixture.h"

namespace vtest {
namespace {

using namespace std::chrono_literals;

class Verifier : public ::testing::TestWithParam<std::string> {};

// A full connect / send / write / read / disconnect / close cycle raises nothing.
TEST_P(Verifier, CorrectConsumerRaisesNothing) {
  std::shared_ptr<Reports> active_reports, passive_reports;
  {
    Buffer a(8192, 0xa5), b(8192, 0);  // outlive the pair's registrations
    Pair pair(GetParam(), "verify=strict,checksum");
    active_reports = pair.active.reports;
    passive_reports = pair.passive.reports;
    NDK_MR* amr = pair.active.register_mr(a);
    NDK_MR* bmr = pair.passive.register_mr(b);
    ASSERT_TRUE(amr && bmr);
    ASSERT_TRUE(pair.connect());
    NDK_SGE recv = pair.passive.sge(bmr, b, 0, 4096);
    ASSERT_EQ(pair.passive.qp->Dispatch->NdkReceive(pair.passive.qp, &b, &recv, 1), STATUS_SUCCESS);
    NDK_SGE send = pair.active.sge(amr, a, 0, 1024);
    ASSERT_EQ(pair.active.qp->Dispatch->NdkSend(pair.active.qp, &a, &send, 1, 0), STATUS_SUCCESS);
    UINT32 token = bmr->Dispatch->NdkGetRemoteTokenFromMr(bmr);
    uint64_t remote = reinterpret_cast<uintptr_t>(b.data) + 4096;
    NDK_SGE write = pair.active.sge(amr, a, 1024, 1024);
    ASSERT_EQ(pair.active.qp->Dispatch->NdkWrite(pair.active.qp, &write, &write, 1, remote, token, 0),
              STATUS_SUCCESS);
    NDK_SGE read = pair.active.sge(amr, a, 4096, 1024);
    ASSERT_EQ(pair.active.qp->Dispatch->NdkRead(pair.active.qp, &read, &read, 1, remote, token, 0),
              STATUS_SUCCESS);
    std::vector<NDK_RESULT_EX> done, received;
    ASSERT_TRUE(pair.active.collect(&done, 3));
    ASSERT_TRUE(pair.passive.collect(&received, 1));
    for (const NDK_RESULT_EX& r : done) EXPECT_EQ(r.Status, STATUS_SUCCESS);
    EXPECT_EQ(received[0].QPContext, &pair.passive);  // the consumer's QPContext comes back
    EXPECT_EQ(std::memcmp(a.data + 1024, a.data + 4096, 1024), 0);
    ASSERT_TRUE(pair.disconnect());
  }
  EXPECT_TRUE(active_reports->all().empty()) << active_reports->dump();
  EXPECT_TRUE(passive_reports->all().empty()) << passive_reports->dump();
}

TEST_P(Verifier, CloseOrderIsAWarningAndTheClosePends) {
  Node n(GetParam());
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n.create_qp(), STATUS_SUCCESS);
  NDK_PD* pd = n.pd;
  Waiter w;
  NTSTATUS s = pd->Dispatch->NdkClosePd(&pd->Header, &Waiter::close, &w);
  EXPECT_EQ(s, STATUS_PENDING);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_CLOSE_ORDER)) << n.reports->dump();
  EXPECT_EQ(n.reports->all()[0].severity, SOFTNDK_VERIFY_WARNING);
  n.objects.erase(std::find(n.objects.begin(), n.objects.end(), pd));
  n.close(n.qp);
  EXPECT_EQ(w.wait(s), STATUS_SUCCESS);  // the PD's close completes once the QP is gone
}

TEST_P(Verifier, UseOfAClosedObjectIsCaughtNotAUseAfterFree) {
  Node n(GetParam());
  ASSERT_TRUE(n.ok());
  NDK_CQ* cq = nullptr;
  ASSERT_EQ(n.adapter->Dispatch->NdkCreateCq(n.adapter, 8, [](void*, NTSTATUS) {}, nullptr,
                                             nullptr, nullptr, nullptr, &cq),
            STATUS_SUCCESS);
  const NDK_CQ_DISPATCH* d = cq->Dispatch;
  ASSERT_EQ(d->NdkCloseCq(&cq->Header, nullptr, nullptr), STATUS_SUCCESS);
  NDK_RESULT_EX r;
  EXPECT_EQ(d->NdkGetCqResultsEx(cq, &r, 1), 0u);  // the stale pointer meets the quarantine
  EXPECT_EQ(d->NdkResizeCq(cq, 16, nullptr, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_CLOSED_OBJECT)) << n.reports->dump();
  EXPECT_EQ(n.reports->count(SOFTNDK_VERIFY_CLOSED_OBJECT), 2u);
}

TEST_P(Verifier, UseOfAClosingObjectFailsInStrictMode) {
  Node n(GetParam(), "verify=strict");
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n.create_qp(), STATUS_SUCCESS);
  NDK_CQ* cq = n.cq;
  Waiter w;
  NTSTATUS s = cq->Dispatch->NdkCloseCq(&cq->Header, &Waiter::close, &w);  // pends: the QP uses it
  ASSERT_EQ(s, STATUS_PENDING);
  n.objects.erase(std::find(n.objects.begin(), n.objects.end(), cq));
  n.reports->clear();
  EXPECT_EQ(cq->Dispatch->NdkControlCqInterruptModeration(cq, 10, 2), STATUS_INVALID_DEVICE_STATE);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_CLOSING_OBJECT)) << n.reports->dump();
  n.close(n.qp);
  EXPECT_EQ(w.wait(s), STATUS_SUCCESS);
}

TEST_P(Verifier, PostingBeyondTheQueueDepth) {
  Node n(GetParam());
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n.create_qp(4), STATUS_SUCCESS);
  Buffer b(4096);
  NDK_MR* mr = n.register_mr(b);
  NDK_SGE sge = n.sge(mr, b, 0, 64);
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(n.qp->Dispatch->NdkReceive(n.qp, &b.data[i], &sge, 1), STATUS_SUCCESS);
  EXPECT_EQ(n.reports->all().size(), 0u) << n.reports->dump();
  EXPECT_EQ(n.qp->Dispatch->NdkReceive(n.qp, &b.data[5], &sge, 1), STATUS_INSUFFICIENT_RESOURCES);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_QUEUE_DEPTH)) << n.reports->dump();
}

TEST_P(Verifier, TooManySgesFailInStrictMode) {
  Node n(GetParam(), "verify=strict");
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n.create_qp(16, 2), STATUS_SUCCESS);
  Buffer b(4096);
  NDK_MR* mr = n.register_mr(b);
  NDK_SGE sges[3] = {n.sge(mr, b, 0, 64), n.sge(mr, b, 64, 64), n.sge(mr, b, 128, 64)};
  EXPECT_EQ(n.qp->Dispatch->NdkReceive(n.qp, nullptr, sges, 2), STATUS_SUCCESS);
  EXPECT_EQ(n.qp->Dispatch->NdkReceive(n.qp, nullptr, sges, 3), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_SGE_LIMIT)) << n.reports->dump();
  EXPECT_EQ(n.reports->all()[0].status, STATUS_INVALID_PARAMETER);
}

TEST_P(Verifier, InlineBeyondInlineDataSize) {
  Pair pair(GetParam());
  ASSERT_TRUE(pair.connect());
  unsigned char data[65] = {};
  NDK_SGE sge{};
  sge.VirtualAddress = data;
  sge.Length = sizeof data;  // the QP was created with InlineDataSize 64
  EXPECT_EQ(pair.active.qp->Dispatch->NdkSend(pair.active.qp, nullptr, &sge, 1, NDK_OP_FLAG_INLINE),
            STATUS_INVALID_BUFFER_SIZE);
  EXPECT_TRUE(pair.active.reports->only(SOFTNDK_VERIFY_INLINE_LIMIT)) << pair.active.reports->dump();
}

TEST_P(Verifier, TransferBeyondMaxTransferLength) {
  Node n(GetParam(), "verify=log&max_transfer=4096");
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n.create_qp(), STATUS_SUCCESS);
  Buffer b(8192);
  NDK_MR* mr = n.register_mr(b);
  NDK_SGE sge = n.sge(mr, b, 0, 8192);
  EXPECT_EQ(n.qp->Dispatch->NdkReceive(n.qp, nullptr, &sge, 1), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_TRANSFER_LIMIT)) << n.reports->dump();
}

TEST_P(Verifier, ObjectsSizedBeyondTheAdapterLimits) {
  Node n(GetParam(), "verify=log&max_qp_depth=64");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.create_qp(65), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_CREATE_LIMIT)) << n.reports->dump();
}

TEST_P(Verifier, CqSmallerThanItsQueuesIsAWarning) {
  Node n(GetParam(), "verify=strict", 8);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.create_qp(16), STATUS_SUCCESS);  // 16 receives + 16 initiator requests > 8
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_CQ_OVERRUN_RISK)) << n.reports->dump();
  EXPECT_EQ(n.reports->all()[0].severity, SOFTNDK_VERIFY_WARNING);
}

TEST_P(Verifier, TwoThreadsPollingOneCq) {
  Node n(GetParam(), "verify=strict");
  ASSERT_TRUE(n.ok());
  std::atomic<bool> stop{false};
  auto poll = [&] {
    NDK_RESULT_EX r[4];
    auto end = std::chrono::steady_clock::now() + 10s;
    while (!stop && std::chrono::steady_clock::now() < end) n.cq->Dispatch->NdkGetCqResultsEx(n.cq, r, 4);
  };
  std::thread t1(poll), t2(poll);
  EXPECT_TRUE(n.reports->wait_for(SOFTNDK_VERIFY_CONCURRENT_CQ, 10s));
  stop = true;
  t1.join();
  t2.join();
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_CONCURRENT_CQ)) << n.reports->dump();
}

// Deterministic overlap: the verifier reports the reused RequestContext while the first thread
// is inside NdkReceive; the report callback makes a second thread post to the same queue then.
TEST_P(Verifier, TwoThreadsPostingToOneQueue) {
  Node n(GetParam(), "verify=strict");
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n.create_qp(), STATUS_SUCCESS);
  struct Context {
    Node* node;
    std::shared_ptr<Reports> reports;
    NTSTATUS second = STATUS_PENDING;
  } c{&n, n.reports, STATUS_PENDING};
  SoftNdkSetVerifierCallback(
      n.adapter,
      [](void* context, const SOFTNDK_VERIFIER_REPORT* report) {
        auto* ctx = static_cast<Context*>(context);
        Reports::callback(ctx->reports.get(), report);
        if (report->Rule != SOFTNDK_VERIFY_CONTEXT_REUSE) return;
        NDK_QP* qp = ctx->node->qp;
        std::thread other([&] { ctx->second = qp->Dispatch->NdkReceive(qp, nullptr, nullptr, 0); });
        other.join();
      },
      &c);
  int context = 0;
  ASSERT_EQ(n.qp->Dispatch->NdkReceive(n.qp, &context, nullptr, 0), STATUS_SUCCESS);
  EXPECT_EQ(n.qp->Dispatch->NdkReceive(n.qp, &context, nullptr, 0), STATUS_SUCCESS);
  EXPECT_EQ(c.second, STATUS_INVALID_DEVICE_STATE);  // strict: the overlapping post fails
  EXPECT_EQ(n.reports->count(SOFTNDK_VERIFY_CONCURRENT_POST), 1u) << n.reports->dump();
  EXPECT_EQ(n.reports->all().size(), 2u) << n.reports->dump();  // and the context reuse
  SoftNdkSetVerifierCallback(n.adapter, &Reports::callback, n.reports.get());
}

// The NDKPI forbids PASSIVE_LEVEL calls (NdkQueryAdapterInfo, adapter open/close) in callbacks.
TEST_P(Verifier, PassiveCallInsideACallback) {
  Node n(GetParam(), "verify=strict&pending=always");
  ASSERT_TRUE(n.ok());
  struct Context {
    NDK_ADAPTER* adapter;
    Waiter done;
    NTSTATUS query = STATUS_PENDING;
  } c{n.adapter, {}, STATUS_PENDING};
  NDK_PD* pd = nullptr;
  NTSTATUS s = n.adapter->Dispatch->NdkCreatePd(
      n.adapter,
      [](void* context, NTSTATUS status, NDK_OBJECT_HEADER* object) {
        auto* ctx = static_cast<Context*>(context);
        NDK_ADAPTER_INFO info;
        ULONG size = sizeof info;
        ctx->query = ctx->adapter->Dispatch->NdkQueryAdapterInfo(ctx->adapter, &info, &size);
        Waiter::create(&ctx->done, status, object);
      },
      &c, &pd);
  ASSERT_EQ(c.done.wait(s), STATUS_SUCCESS);
  n.objects.push_back(c.done.object);
  EXPECT_EQ(c.query, STATUS_INVALID_DEVICE_STATE);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_CALLBACK_CONTEXT)) << n.reports->dump();
}

TEST_P(Verifier, DeferredBatchNeverEnded) {
  Buffer a(4096), b(4096);
  Pair pair(GetParam());
  NDK_MR* amr = pair.active.register_mr(a);
  NDK_MR* bmr = pair.passive.register_mr(b);
  ASSERT_TRUE(pair.connect());
  NDK_SGE recv = pair.passive.sge(bmr, b, 0, 4096);
  ASSERT_EQ(pair.passive.qp->Dispatch->NdkReceive(pair.passive.qp, nullptr, &recv, 1), STATUS_SUCCESS);
  NDK_SGE send = pair.active.sge(amr, a, 0, 64);
  ASSERT_EQ(pair.active.qp->Dispatch->NdkSend(pair.active.qp, nullptr, &send, 1, NDK_OP_FLAG_DEFER),
            STATUS_SUCCESS);
  NDK_RESULT_EX r[4];
  pair.active.cq->Dispatch->NdkGetCqResultsEx(pair.active.cq, r, 4);  // waits without ending it
  EXPECT_TRUE(pair.active.reports->only(SOFTNDK_VERIFY_DEFER_UNFLUSHED))
      << pair.active.reports->dump();
  std::vector<NDK_RESULT_EX> received;  // softndk submitted it anyway
  EXPECT_TRUE(pair.passive.collect(&received, 1));
}

TEST_P(Verifier, RequestContextReusedWhileOutstanding) {
  Node n(GetParam());
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n.create_qp(), STATUS_SUCCESS);
  int context = 0;
  EXPECT_EQ(n.qp->Dispatch->NdkReceive(n.qp, &context, nullptr, 0), STATUS_SUCCESS);
  EXPECT_EQ(n.reports->all().size(), 0u);
  EXPECT_EQ(n.qp->Dispatch->NdkReceive(n.qp, &context, nullptr, 0), STATUS_SUCCESS);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_CONTEXT_REUSE)) << n.reports->dump();
  EXPECT_EQ(n.reports->all()[0].severity, SOFTNDK_VERIFY_WARNING);
}

TEST_P(Verifier, ConnectorCallsInTheWrongState) {
  Node n(GetParam());
  ASSERT_TRUE(n.ok());
  NDK_CONNECTOR* c = nullptr;
  ASSERT_EQ(n.adapter->Dispatch->NdkCreateConnector(n.adapter, nullptr, nullptr, &c), STATUS_SUCCESS);
  n.objects.push_back(c);
  EXPECT_EQ(c->Dispatch->NdkCompleteConnect(c, nullptr, nullptr, nullptr, nullptr),
            STATUS_CONNECTION_INVALID);
  EXPECT_EQ(c->Dispatch->NdkDisconnect(c, nullptr, nullptr), STATUS_CONNECTION_INVALID);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_CONNECTION_STATE)) << n.reports->dump();
  EXPECT_EQ(n.reports->count(SOFTNDK_VERIFY_CONNECTION_STATE), 2u);
}

TEST_P(Verifier, InitiatorRequestOnANeverConnectedQp) {
  Node n(GetParam());
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n.create_qp(), STATUS_SUCCESS);
  EXPECT_EQ(n.qp->Dispatch->NdkSend(n.qp, nullptr, nullptr, 0, 0), STATUS_CONNECTION_INVALID);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_NOT_CONNECTED)) << n.reports->dump();
}

TEST_P(Verifier, ResizeWithoutTheCapability) {
  Node n(GetParam(), "verify=strict&profile=chelsio-t6");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.cq->Dispatch->NdkResizeCq(n.cq, 512, nullptr, nullptr), STATUS_NOT_SUPPORTED);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_CAPABILITY)) << n.reports->dump();
}

TEST_P(Verifier, ObjectsStillOpenAtAdapterCloseAreReportedWithTheirCreation) {
  auto n = std::make_unique<Node>(GetParam());
  ASSERT_TRUE(n->ok());
  NDK_CQ* cq = n->cq;
  n->objects.erase(std::find(n->objects.begin(), n->objects.end(), cq));
  n->close_all();  // everything but the CQ, which another thread closes late
  std::shared_ptr<Reports> reports = n->reports;
  std::thread closer([&] {
    reports->wait_for(SOFTNDK_VERIFY_LEAK, 10s);
    cq->Dispatch->NdkCloseCq(&cq->Header, nullptr, nullptr);
  });
  n.reset();  // SoftNdkCloseAdapter reports the CQ, then waits for it
  closer.join();
  EXPECT_TRUE(reports->only(SOFTNDK_VERIFY_LEAK)) << reports->dump();
}

TEST_P(Verifier, OpeningAnAdapterInsideACallback) {
  Node n(GetParam(), "verify=strict&pending=always");
  ASSERT_TRUE(n.ok());
  Reports global;
  SoftNdkSetVerifierCallback(nullptr, &Reports::callback, &global);
  struct Context {
    std::string uri;
    Waiter done;
    NTSTATUS open = STATUS_PENDING;
  } c{with_option(GetParam(), "verify=strict"), {}, STATUS_PENDING};
  NDK_PD* pd = nullptr;
  NTSTATUS s = n.adapter->Dispatch->NdkCreatePd(
      n.adapter,
      [](void* context, NTSTATUS status, NDK_OBJECT_HEADER* object) {
        auto* ctx = static_cast<Context*>(context);
        NDK_ADAPTER* other = nullptr;
        ctx->open = SoftNdkOpenAdapter(ctx->uri.c_str(), &other);
        Waiter::create(&ctx->done, status, object);
      },
      &c, &pd);
  ASSERT_EQ(c.done.wait(s), STATUS_SUCCESS);
  n.objects.push_back(c.done.object);
  SoftNdkSetVerifierCallback(nullptr, nullptr, nullptr);
  EXPECT_EQ(c.open, STATUS_INVALID_DEVICE_STATE);
  EXPECT_TRUE(global.only(SOFTNDK_VERIFY_CALLBACK_CONTEXT)) << global.dump();
  EXPECT_TRUE(n.reports->all().empty()) << n.reports->dump();
}

INSTANTIATE_TEST_SUITE_P(Uris, Verifier, ::testing::ValuesIn(uris()),
                         [](const auto& p) { return uri_name(p.param); });

}  // namespace
}  // namespace vtest

namespace vtest {
namespace {

TEST(VerifierOptions, UriAndEnvironment) {
  NDK_ADAPTER* a = nullptr;
  EXPECT_EQ(SoftNdkOpenAdapter("loopback?verify=sometimes", &a), STATUS_INVALID_PARAMETER);
  SOFTNDK_ADAPTER_SETTINGS settings;
  setenv("SOFTNDK_VERIFY", "strict,checksum", 1);
  ASSERT_EQ(SoftNdkOpenAdapter("loopback", &a), STATUS_SUCCESS);
  ASSERT_EQ(SoftNdkQueryAdapterSettings(a, &settings), STATUS_SUCCESS);
  EXPECT_EQ(settings.VerifierMode, 2u);
  EXPECT_EQ(settings.VerifierChecksum, 1u);
  SoftNdkCloseAdapter(a);
  ASSERT_EQ(SoftNdkOpenAdapter("loopback?verify=0&max_sge=3", &a), STATUS_SUCCESS);  // URI wins
  ASSERT_EQ(SoftNdkQueryAdapterSettings(a, &settings), STATUS_SUCCESS);
  EXPECT_EQ(settings.VerifierMode, 0u);
  EXPECT_STREQ(settings.Options, "max_sge=3");
  EXPECT_STREQ(settings.Profile, "softndk");
  SoftNdkCloseAdapter(a);
  unsetenv("SOFTNDK_VERIFY");
  ASSERT_EQ(SoftNdkOpenAdapter("loopback?verify=1", &a), STATUS_SUCCESS);
  ASSERT_EQ(SoftNdkQueryAdapterSettings(a, &settings), STATUS_SUCCESS);
  EXPECT_EQ(settings.VerifierMode, 1u);
  SoftNdkCloseAdapter(a);
}

}  // namespace
}  // namespace vtest
