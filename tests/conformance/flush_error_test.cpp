// Flush, QP error state, peer errors and disconnect on the data path (Microsoft's NDKPI reference).
// Every test runs on each test URI and on its
// "pending=always" twin.
//
// Provider choice for posts on a QP in the error state (after a flush, a failed request or a
// completed disconnect): src/core/qp.cpp Qp::check_initiator_post accepts initiator requests in
// State::Error and the engine completes them with STATUS_CANCELLED (the first option of
// the NDKPI reference); Qp::post_receive likewise accepts and cancels receives. The tests
// below hold the provider to that choice.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "ndk_test.h"
#include "qp_datapath_helpers.h"
#include "transport_helpers.h"

namespace {
using namespace ndktest;
using namespace ndktest::qpd;

class FlushError : public MemoryPairTest {
 protected:
  // Splits completions of one CQ into receive-queue and initiator-queue entries (each queue is
  // ordered; the two are not ordered against each other).
  static void split(const std::vector<NDK_RESULT_EX>& all, std::vector<NDK_RESULT_EX>* receives,
                    std::vector<NDK_RESULT_EX>* initiator) {
    for (const NDK_RESULT_EX& r : all) {
      if (r.Type == NdkOperationTypeReceive || r.Type == NdkOperationTypeReceiveAndInvalidate)
        receives->push_back(r);
      else
        initiator->push_back(r);
    }
  }
  NTSTATUS disconnect(NDK_CONNECTOR* connector) {
    return sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
      return connector->Dispatch->NdkDisconnect(connector, cb, c);
    });
  }
};

// ---------------------------------------------------------------------------------------------
// NdkFlush

TEST_P(FlushError, flush_cancels_outstanding_receives_in_posting_order) {
  constexpr int kN = 8;
  ASSERT_TRUE(start({}, 64 * 1024, [&](ConnectedPairFixture& q) {
    for (int i = 0; i < kN; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, i * 1024, 1024, ctx(0x10 + i)));
  }));
  // Two receives complete normally first.
  ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, 10, ctx(0x1)));
  ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, 20, ctx(0x2)));
  std::vector<NDK_RESULT_EX> sent;
  ASSERT_TRUE(act().cq.collect(&sent, 2));
  std::vector<NDK_RESULT_EX> got;
  ASSERT_TRUE(pas().cq.collect(&got, 2));

  pas().q()->NdkFlush(pas().qp);
  ASSERT_TRUE(pas().cq.collect(&got, kN));
  for (int i = 0; i < kN; ++i)
    EXPECT_TRUE(is_completion(got[i], i < 2 ? STATUS_SUCCESS : STATUS_CANCELLED,
                              NdkOperationTypeReceive, ctx(0x10 + i), &pas()))
        << "receive #" << i;
  EXPECT_TRUE(stray_completions(pas().cq).empty()) << "more than one entry per receive";
  // The connection is torn down: the peer gets its disconnect event.
  EXPECT_TRUE(wait_until([&] { return act().disconnects.count.load() == 1; }))
      << "peer of the flushed QP got no disconnect event";
}

TEST_P(FlushError, flush_of_never_connected_qp_cancels_receives_in_posting_order) {
  QpFixture lone(GetParam());
  ASSERT_TRUE(lone.ok());
  std::vector<NDK_RESULT_EX> got;
  {
    Region buf(lone.pd, 64 * 1024, kMrAll);
    ASSERT_NT(STATUS_SUCCESS, buf.status());
    for (int i = 0; i < 6; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_receive(lone.qp, buf, i * 1024, 1024, ctx(0x20 + i)));
    EXPECT_TRUE(stray_completions(lone.cq).empty());
    lone.qp->Dispatch->NdkFlush(lone.qp);
    ASSERT_TRUE(lone.cq.collect(&got, 6));
    EXPECT_TRUE(stray_completions(lone.cq).empty());
    EXPECT_TRUE(lone.close_qp());
  }
  for (int i = 0; i < 6; ++i)
    EXPECT_TRUE(is_completion(got[i], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x20 + i),
                              &lone.qp_context))
        << "receive #" << i;
  EXPECT_TRUE(stray_completions(lone.cq).empty()) << "the QP close flushed receives twice";
}

TEST_P(FlushError, posts_after_flush_are_accepted_and_complete_cancelled) {
  ASSERT_TRUE(start());
  act().q()->NdkFlush(act().qp);
  EXPECT_TRUE(stray_completions(act().cq).empty()) << "nothing was outstanding";

  const NDK_QP_DISPATCH* q = act().q();
  NDK_QP* qp = act().qp;
  NDK_SGE sge = a->sge(0, 64);
  uint64_t at = p->address(0);
  UINT32 token = p->remote_token();
  ASSERT_NT(STATUS_SUCCESS, q->NdkReceive(qp, ctx(0x30), &sge, 1));
  ASSERT_NT(STATUS_SUCCESS, q->NdkSend(qp, ctx(0x31), &sge, 1, 0));
  ASSERT_NT(STATUS_SUCCESS, q->NdkSend(qp, ctx(0x32), &sge, 1, NDK_OP_FLAG_SILENT_SUCCESS));
  ASSERT_NT(STATUS_SUCCESS, q->NdkWrite(qp, ctx(0x33), &sge, 1, at, token, 0));
  ASSERT_NT(STATUS_SUCCESS, q->NdkReceive(qp, ctx(0x34), &sge, 1));
  ASSERT_NT(STATUS_SUCCESS, q->NdkRead(qp, ctx(0x35), &sge, 1, at, token, 0));
  ASSERT_NT(STATUS_SUCCESS, q->NdkWrite(qp, ctx(0x36), &sge, 1, at, token,
                                        NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_DEFER));
  ASSERT_NT(STATUS_SUCCESS, q->NdkSend(qp, ctx(0x37), &sge, 1, NDK_OP_FLAG_INLINE));

  std::vector<NDK_RESULT_EX> all, receives, initiator;
  ASSERT_TRUE(act().cq.collect(&all, 8));
  split(all, &receives, &initiator);
  ASSERT_EQ(2u, receives.size());
  ASSERT_EQ(6u, initiator.size());
  EXPECT_TRUE(is_completion(receives[0], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x30),
                            &act()));
  EXPECT_TRUE(is_completion(receives[1], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x34),
                            &act()));
  const ULONG types[6] = {NdkOperationTypeSend,  NdkOperationTypeSend, NdkOperationTypeWrite,
                          NdkOperationTypeRead,  NdkOperationTypeWrite, NdkOperationTypeSend};
  const uintptr_t contexts[6] = {0x31, 0x32, 0x33, 0x35, 0x36, 0x37};
  for (int i = 0; i < 6; ++i)
    EXPECT_TRUE(is_completion(initiator[i], STATUS_CANCELLED, types[i], ctx(contexts[i]), &act()))
        << "initiator request #" << i << " (silent requests must report their cancellation)";
  EXPECT_TRUE(stray_completions(act().cq).empty());
  // Nothing reached the peer, and the peer saw the connection go.
  EXPECT_TRUE(stray_completions(pas().cq).empty());
  for (int i = 0; i < 64; ++i) ASSERT_EQ(0, p->data()[i]) << "a cancelled write ran";
  EXPECT_TRUE(wait_until([&] { return pas().disconnects.count.load() == 1; }));
}

// the NDKPI reference: initiator requests still outstanding when NdkFlush is called
// complete once each, in posting order, with STATUS_CANCELLED -- including SILENT_SUCCESS ones
// and those waiting behind a READ_FENCE. To have requests outstanding, they are posted and
// flushed from inside a provider callback (the SRQ notification of an SrqPairFixture; posting from
// a callback is allowed, the NDKPI reference): a read posted there needs the peer's response, which
// the provider may deliver only after the callback returns.
TEST_P(FlushError, flush_cancels_unfinished_initiator_requests_in_order_including_silent) {
  CallbackPair trigger(GetParam());
  if (!trigger.has_srq())
    GTEST_SKIP() << "adapter reports MaxSrqDepth == 0 (the trigger needs an SRQ)";
  ASSERT_NO_FATAL_FAILURE(trigger.start(1000, 7));
  SrqPairFixture& rig = trigger.rig;
  Region& ra = *trigger.ra;
  Region& rp = *trigger.rp;
  {
    NTSTATUS posted[4] = {STATUS_PENDING, STATUS_PENDING, STATUS_PENDING, STATUS_PENDING};
    std::vector<NDK_RESULT_EX> before_flush;
    ASSERT_TRUE(rig.run_in_callback(rp, ra, [&] {
      NDK_QP* qp = rig.aqp[0];
      const NDK_QP_DISPATCH* q = qp->Dispatch;
      NDK_SGE sink = ra.sge(0, 1000);
      NDK_SGE src = ra.sge(4096, 100);
      posted[0] = q->NdkRead(qp, ctx(0xB0), &sink, 1, rp.address(0), rp.remote_token(), 0);
      posted[1] = q->NdkWrite(qp, ctx(0xB1), &src, 1, rp.address(8192), rp.remote_token(),
                              NDK_OP_FLAG_READ_FENCE | NDK_OP_FLAG_SILENT_SUCCESS);
      posted[2] = q->NdkSend(qp, ctx(0xB2), &src, 1, NDK_OP_FLAG_SILENT_SUCCESS);
      posted[3] = q->NdkWrite(qp, ctx(0xB3), &src, 1, rp.address(16384), rp.remote_token(), 0);
      NDK_RESULT_EX r[8];
      ULONG n = rig.active.cq.poll(r, 8);
      before_flush.assign(r, r + n);
      q->NdkFlush(qp);
    }));
    for (int i = 0; i < 4; ++i) ASSERT_NT(STATUS_SUCCESS, posted[i]) << "post #" << i;

    // Everything of QP 0 that ever completes has completed once the flush entries are in.
    std::vector<NDK_RESULT_EX> all = before_flush;
    auto later = stray_completions(rig.active.cq, std::chrono::milliseconds(300));
    all.insert(all.end(), later.begin(), later.end());
    std::vector<NDK_RESULT_EX> qp0;
    int trigger_sends = 0;
    for (const NDK_RESULT_EX& r : all) {
      if (r.QPContext == &rig.actx[0]) qp0.push_back(r);
      if (r.QPContext == &rig.actx[1] && r.RequestContext == ctx(SrqPairFixture::kTriggerContext))
        ++trigger_sends;
    }
    EXPECT_EQ(1, trigger_sends);

    const ULONG types[4] = {NdkOperationTypeRead, NdkOperationTypeWrite, NdkOperationTypeSend,
                            NdkOperationTypeWrite};
    const bool silent[4] = {false, true, true, false};
    // Walk the posting order: each request has at most one entry, entries are in order.
    size_t next = 0;
    bool cancelled_seen = false;
    NTSTATUS outcome[4];
    for (int i = 0; i < 4; ++i) {
      const NDK_RESULT_EX* r = nullptr;
      if (next < qp0.size() && qp0[next].RequestContext == ctx(0xB0 + i)) r = &qp0[next++];
      if (r == nullptr) {
        EXPECT_TRUE(silent[i]) << "request #" << i << " produced no completion";
        EXPECT_FALSE(cancelled_seen) << "request #" << i << " vanished after a cancellation";
        outcome[i] = STATUS_SUCCESS;  // silent success
        continue;
      }
      EXPECT_EQ(types[i], static_cast<ULONG>(r->Type)) << "request #" << i;
      EXPECT_TRUE(r->Status == STATUS_SUCCESS || r->Status == STATUS_CANCELLED)
          << "request #" << i << ": " << describe(*r);
      EXPECT_FALSE(silent[i] && r->Status == STATUS_SUCCESS)
          << "silent request #" << i << " reported its success";
      if (cancelled_seen) {
        EXPECT_NT(STATUS_CANCELLED, r->Status) << "request #" << i << " ran after a flushed one";
      }
      if (r->Status == STATUS_CANCELLED) cancelled_seen = true;
      outcome[i] = r->Status;
    }
    EXPECT_EQ(next, qp0.size()) << "extra or out-of-order completions; first unexpected: "
                                << (next < qp0.size() ? describe(qp0[next]) : "");
    // The fenced write cannot start before the read completed: when the flush cancelled the
    // read, the fenced write and everything behind it never started and must be reported as
    // cancelled (silent ones included). (Whether the read had completed is its own outcome,
    // not the poll before the flush: the read may complete between that poll and NdkFlush,
    // and the fenced write may then run and succeed silently.)
    if (outcome[0] == STATUS_CANCELLED) {
      EXPECT_NT(STATUS_CANCELLED, outcome[1]) << "fenced silent write";
      EXPECT_NT(STATUS_CANCELLED, outcome[2]) << "silent send behind the fence";
      EXPECT_NT(STATUS_CANCELLED, outcome[3]) << "write behind the fence";
    }
    if (outcome[1] == STATUS_CANCELLED) {
      for (int i = 0; i < 100; ++i)
        ASSERT_EQ(0, rp.data()[8192 + i]) << "a cancelled write reached the peer";
    }
    EXPECT_TRUE(stray_completions(rig.prcq[0]).empty());
    EXPECT_TRUE(wait_until([&] { return rig.pdis[0].count.load() == 1; }))
        << "peer of the flushed QP got no disconnect event";
  }
}

// ---------------------------------------------------------------------------------------------
// QP close

TEST_P(FlushError, closing_qp_reports_cancelled_receives_before_close_completes) {
  QpFixture lone(GetParam());
  ASSERT_TRUE(lone.ok());
  {
    Region buf(lone.pd, 64 * 1024, kMrAll);
    ASSERT_NT(STATUS_SUCCESS, buf.status());
    for (int i = 0; i < 5; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_receive(lone.qp, buf, i * 1024, 1024, ctx(0x40 + i)));
    ASSERT_TRUE(lone.close_qp());
  }
  // The close has completed: every flush entry is already in the CQ (no waiting).
  NDK_RESULT_EX r[8];
  ULONG n = lone.cq.poll(r, 8);
  ASSERT_EQ(5u, n);
  for (ULONG i = 0; i < n; ++i)
    EXPECT_TRUE(is_completion(r[i], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x40 + i),
                              &lone.qp_context))
        << "receive #" << i;
  EXPECT_TRUE(stray_completions(lone.cq).empty());
}

TEST_P(FlushError, closing_connected_qp_reports_cancelled_receives_before_close_completes) {
  ASSERT_TRUE(start({}, 64 * 1024, [&](ConnectedPairFixture& q) {
    for (int i = 0; i < 4; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, i * 1024, 1024, ctx(0x50 + i)));
  }));
  ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, 100, ctx(0x5F)));
  NDK_RESULT_EX first{};
  ASSERT_TRUE(pas().cq.next(&first));
  EXPECT_TRUE(is_completion(first, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x50), &pas()));
  // The QP is the connector's antecedent: close the connector first, then the QP.
  ASSERT_TRUE(pas().close(pas().connector));
  pas().connector = nullptr;
  ASSERT_TRUE(pas().close(pas().qp));
  pas().qp = nullptr;
  NDK_RESULT_EX r[8];
  ULONG n = pas().cq.poll(r, 8);
  ASSERT_EQ(3u, n) << "flush entries missing after the QP close completed";
  for (ULONG i = 0; i < n; ++i)
    EXPECT_TRUE(is_completion(r[i], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x51 + i),
                              &pas()))
        << "receive #" << i + 1;
  EXPECT_TRUE(stray_completions(pas().cq).empty());
  // Closing a connected connector is abortive: the peer hears about it.
  EXPECT_TRUE(wait_until([&] { return act().disconnects.count.load() == 1; }));
}

// ---------------------------------------------------------------------------------------------
// Failing requests

// the NDKPI reference: SILENT_SUCCESS suppresses only successful completions. A remote access
// error moves the QP to the error state (4.1.5 rule 6): the request fails with
// STATUS_ACCESS_VIOLATION (4.9) and everything behind it is cancelled.
// iWARP (RFC 5040, and the NDKPI reference): the write completes locally when handed to TCP --
// successfully, hence silently -- and the target's refusal arrives later as a Terminate. There
// the test waits for the abort (both disconnect events) before posting the later requests, and
// the failing write has either no completion or a failed one.
TEST_P(FlushError, failing_silent_write_produces_completion_and_cancels_the_rest) {
  ASSERT_TRUE(start());
  const bool may_succeed_locally =
      refusal_may_complete_successfully(act(), NdkOperationTypeWrite);
  fill(a->data(), 1024, 5);
  const size_t size = p->size();
  NDK_SGE sge = a->sge(0, 200);  // 200 bytes at 100 before the end: out of bounds
  ASSERT_NT(STATUS_SUCCESS,
            act().q()->NdkWrite(act().qp, ctx(0x60), &sge, 1, p->address(size - 100),
                                p->remote_token(), NDK_OP_FLAG_SILENT_SUCCESS));
  NDK_RESULT_EX r{};
  if (may_succeed_locally) {
    ASSERT_TRUE(wait_until([&] {
      return act().disconnects.count.load() == 1 && pas().disconnects.count.load() == 1;
    })) << "the refused write did not abort the connection: disconnect events: active "
        << act().disconnects.count.load() << ", passive " << pas().disconnects.count.load();
    auto failed = stray_completions(act().cq);
    EXPECT_GE(1u, failed.size()) << "more than one completion for one silent request";
    if (!failed.empty()) {
      EXPECT_TRUE(is_completion(failed[0], STATUS_ACCESS_VIOLATION, NdkOperationTypeWrite,
                                ctx(0x60), &act()));
      EXPECT_NE(0u, failed[0].ProviderErrorCode) << "project rule: failed completions carry a code";
    }
  } else {
    ASSERT_TRUE(act().cq.next(&r)) << "a failed silent request produced no completion";
    EXPECT_TRUE(
        is_completion(r, STATUS_ACCESS_VIOLATION, NdkOperationTypeWrite, ctx(0x60), &act()));
    EXPECT_NE(0u, r.ProviderErrorCode) << "project rule: failed completions carry a code";
  }
  // The QP is in the error state now: later requests are cancelled, silent or not.
  NDK_SGE ok = a->sge(0, 16);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0x61), &ok, 1, p->address(0),
                                                p->remote_token(), NDK_OP_FLAG_SILENT_SUCCESS));
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0x62), &ok, 1, p->address(0),
                                                p->remote_token(), 0));
  std::vector<NDK_RESULT_EX> rest;
  ASSERT_TRUE(act().cq.collect(&rest, 2));
  EXPECT_TRUE(is_completion(rest[0], STATUS_CANCELLED, NdkOperationTypeWrite, ctx(0x61), &act()));
  EXPECT_TRUE(is_completion(rest[1], STATUS_CANCELLED, NdkOperationTypeWrite, ctx(0x62), &act()));
  EXPECT_TRUE(stray_completions(act().cq).empty());
  for (int i = 0; i < 16; ++i) ASSERT_EQ(0, p->data()[i]) << "a cancelled write ran";
  // The target aborts the connection: both sides get their disconnect event.
  EXPECT_TRUE(wait_until([&] {
    return act().disconnects.count.load() == 1 && pas().disconnects.count.load() == 1;
  })) << "disconnect events: active " << act().disconnects.count.load() << ", passive "
      << pas().disconnects.count.load();
}

// the NDKPI reference: an incoming send larger than the posted receive: the receive completes
// with STATUS_BUFFER_OVERFLOW, the send with STATUS_CONNECTION_ABORTED, the connection is
// aborted (both QPs in error, both sides get the disconnect event), and the remaining requests
// are cancelled. iWARP (RFC 5040): both sends may complete with STATUS_SUCCESS when
// they were handed to TCP before the receiver's Terminate arrived (the receiver discards what
// follows the failing message, RFC 5040's Terminate); never a success after a failure.
TEST_P(FlushError, send_larger_than_receive_overflows_and_aborts_connection) {
  ASSERT_TRUE(start({}, 64 * 1024, [&](ConnectedPairFixture& q) {
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 0, 100, ctx(0x70)));
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 4096, 4096, ctx(0x71)));
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 8192, 4096, ctx(0x72)));
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.active.qp, *a, 32768, 4096, ctx(0x73)));
  }));
  fill(a->data(), 200, 6);
  ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, 200, ctx(0x78)));
  // A request behind the failing one (accepted either before or after the QP noticed).
  ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, 10, ctx(0x79)));

  std::vector<NDK_RESULT_EX> at_passive;
  ASSERT_TRUE(pas().cq.collect(&at_passive, 3));
  EXPECT_TRUE(is_completion(at_passive[0], STATUS_BUFFER_OVERFLOW, NdkOperationTypeReceive,
                            ctx(0x70), &pas()));
  EXPECT_TRUE(is_completion(at_passive[1], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x71),
                            &pas()));
  EXPECT_TRUE(is_completion(at_passive[2], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x72),
                            &pas()));
  EXPECT_TRUE(stray_completions(pas().cq).empty());

  std::vector<NDK_RESULT_EX> all, receives, initiator;
  ASSERT_TRUE(act().cq.collect(&all, 3));
  split(all, &receives, &initiator);
  ASSERT_EQ(2u, initiator.size());
  ASSERT_EQ(1u, receives.size());
  const ndkxx::Adapter& sender = act();
  EXPECT_TRUE(
      is_completion(initiator[0], initiator[0].Status, NdkOperationTypeSend, ctx(0x78), &act()));
  EXPECT_TRUE(completes_or_fails_remotely(sender, NdkOperationTypeSend, initiator[0].Status,
                                          {STATUS_CONNECTION_ABORTED}));
  EXPECT_TRUE(
      is_completion(initiator[1], initiator[1].Status, NdkOperationTypeSend, ctx(0x79), &act()));
  if (initiator[0].Status == STATUS_SUCCESS) {
    // Only possible on iWARP (checked above): handed to TCP before the Terminate came too.
    EXPECT_TRUE(initiator[1].Status == STATUS_SUCCESS || initiator[1].Status == STATUS_CANCELLED)
        << describe(initiator[1]);
  } else {
    EXPECT_NT(STATUS_CANCELLED, initiator[1].Status) << "a request behind the failed one";
  }
  EXPECT_TRUE(is_completion(receives[0], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x73),
                            &act()));
  EXPECT_TRUE(stray_completions(act().cq).empty());
  EXPECT_TRUE(wait_until([&] {
    return act().disconnects.count.load() == 1 && pas().disconnects.count.load() == 1;
  })) << "disconnect events: active " << act().disconnects.count.load() << ", passive "
      << pas().disconnects.count.load();
  EXPECT_EQ(0, p->data()[4096]) << "data of the aborted send landed in a later receive";
}

// the NDKPI reference: a send arriving with no receive posted aborts the connection; the sender's
// request fails (STATUS_CONNECTION_ABORTED, or STATUS_IO_TIMEOUT after a retry budget) -- or,
// on iWARP, completed successfully when handed to TCP (RFC 5040) before the
// receiver's Terminate came back. The abort is required either way.
TEST_P(FlushError, send_without_posted_receive_aborts_connection) {
  ASSERT_TRUE(start());
  ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, 64, ctx(0x80)));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_EQ(ctx(0x80), r.RequestContext);
  EXPECT_EQ(&act(), r.QPContext);
  EXPECT_EQ(NdkOperationTypeSend, r.Type);
  EXPECT_TRUE(completes_or_fails_remotely(act(), NdkOperationTypeSend, r.Status,
                                          {STATUS_CONNECTION_ABORTED, STATUS_IO_TIMEOUT}));
  EXPECT_TRUE(wait_until([&] {
    return act().disconnects.count.load() == 1 && pas().disconnects.count.load() == 1;
  })) << "disconnect events: active " << act().disconnects.count.load() << ", passive "
      << pas().disconnects.count.load();
  // Both QPs are in the error state: posts are accepted and cancelled.
  ASSERT_NT(STATUS_SUCCESS, post_receive(pas().qp, *p, 0, 1024, ctx(0x81)));
  ASSERT_TRUE(pas().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x81), &pas()));
  ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, 8, ctx(0x82)));
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_CANCELLED, NdkOperationTypeSend, ctx(0x82), &act()));
  EXPECT_TRUE(stray_completions(act().cq).empty());
  EXPECT_TRUE(stray_completions(pas().cq).empty());
}

// ---------------------------------------------------------------------------------------------
// Disconnect

TEST_P(FlushError, disconnect_cancels_posted_receives_but_peer_keeps_its_own) {
  ASSERT_TRUE(start({}, 64 * 1024, [&](ConnectedPairFixture& q) {
    for (int i = 0; i < 3; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_receive(q.active.qp, *a, i * 1024, 1024, ctx(0x90 + i)));
    for (int i = 0; i < 2; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, i * 1024, 1024, ctx(0x98 + i)));
  }));
  ASSERT_NT(STATUS_SUCCESS, disconnect(act().connector));
  std::vector<NDK_RESULT_EX> got;
  ASSERT_TRUE(act().cq.collect(&got, 3));
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(is_completion(got[i], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x90 + i),
                              &act()))
        << "receive #" << i;
  EXPECT_TRUE(stray_completions(act().cq).empty());
  EXPECT_TRUE(wait_until([&] { return pas().disconnects.count.load() == 1; }));
  EXPECT_EQ(0, act().disconnects.count.load()) << "own disconnect reported as an event";
  // A peer-initiated graceful disconnect does not flush (Microsoft's NDKPI reference).
  EXPECT_TRUE(stray_completions(pas().cq).empty());
}

TEST_P(FlushError, posts_after_disconnect_complete_cancelled) {
  ASSERT_TRUE(start());
  ASSERT_NT(STATUS_SUCCESS, disconnect(act().connector));
  EXPECT_TRUE(stray_completions(act().cq).empty());
  NDK_SGE sge = a->sge(0, 32);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkSend(act().qp, ctx(0xA0), &sge, 1, 0));
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0xA1), &sge, 1, p->address(0),
                                                p->remote_token(), NDK_OP_FLAG_SILENT_SUCCESS));
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkReceive(act().qp, ctx(0xA2), &sge, 1));
  std::vector<NDK_RESULT_EX> all, receives, initiator;
  ASSERT_TRUE(act().cq.collect(&all, 3));
  split(all, &receives, &initiator);
  ASSERT_EQ(2u, initiator.size());
  ASSERT_EQ(1u, receives.size());
  EXPECT_TRUE(is_completion(initiator[0], STATUS_CANCELLED, NdkOperationTypeSend, ctx(0xA0),
                            &act()));
  EXPECT_TRUE(is_completion(initiator[1], STATUS_CANCELLED, NdkOperationTypeWrite, ctx(0xA1),
                            &act()));
  EXPECT_TRUE(is_completion(receives[0], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0xA2),
                            &act()));
  EXPECT_TRUE(stray_completions(act().cq).empty());
  EXPECT_TRUE(stray_completions(pas().cq).empty()) << "data crossed a closed connection";
}

INSTANTIATE_TEST_SUITE_P(FlushErrorUris, FlushError, ::testing::ValuesIn(inline_and_pending_uris()),
                         indexed_uri_param_name);

}  // namespace
