// Queue-pair data path (Microsoft's NDKPI reference): exactly-once completions in posting order,
// gather/scatter, zero-length
// and large transfers, SILENT_SUCCESS, DEFER, INLINE, queue/SGE/flag limits, READ_FENCE and
// the outbound read limit. Every test runs on each test URI and on its "pending=always" twin.
#include <gtest/gtest.h>

#include <algorithm>

#include "fixtures.h"
#include "ndk_test.h"
#include "qp_datapath_helpers.h"

namespace {
using namespace ndktest;
using namespace ndktest::qpd;

class QpDatapath : public MemoryPairTest {};

constexpr size_t kSlot = 2048;

// ---------------------------------------------------------------------------------------------
// Exactly-once completions and ordering

TEST_P(QpDatapath, sends_complete_exactly_once_in_posting_order) {
  constexpr int kN = 32;
  auto size_of = [](int i) { return static_cast<ULONG>(1 + 37 * i); };
  ASSERT_TRUE(start({}, kN * kSlot, [&](ConnectedPairFixture& q) {
    for (int i = 0; i < kN; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, i * kSlot, kSlot, ctx(0x200 + i)));
  }));
  for (int i = 0; i < kN; ++i) fill(a->data() + i * kSlot, size_of(i), i);
  for (int i = 0; i < kN; ++i)
    ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, i * kSlot, size_of(i), ctx(0x100 + i)));

  std::vector<NDK_RESULT_EX> sent, received;
  ASSERT_TRUE(act().cq.collect(&sent, kN));
  ASSERT_TRUE(pas().cq.collect(&received, kN));
  for (int i = 0; i < kN; ++i) {
    EXPECT_TRUE(is_completion(sent[i], STATUS_SUCCESS, NdkOperationTypeSend, ctx(0x100 + i),
                              &act()))
        << "send #" << i;
    EXPECT_TRUE(is_completion(received[i], STATUS_SUCCESS, NdkOperationTypeReceive,
                              ctx(0x200 + i), &pas()))
        << "receive #" << i;
    EXPECT_EQ(size_of(i), received[i].BytesTransferred) << "receive #" << i;
    const unsigned char* slot = p->data() + i * kSlot;
    EXPECT_EQ(size_of(i), first_mismatch(slot, size_of(i), i)) << "message #" << i;
    EXPECT_EQ(0, slot[size_of(i)]) << "byte after message #" << i << " was written";
  }
  EXPECT_TRUE(stray_completions(act().cq).empty());
  EXPECT_TRUE(stray_completions(pas().cq).empty());
}

TEST_P(QpDatapath, writes_complete_exactly_once_in_posting_order) {
  constexpr int kN = 32;
  ASSERT_TRUE(start({}, kN * kSlot));
  for (int i = 0; i < kN; ++i) fill(a->data() + i * kSlot, 1000, 50 + i);
  for (int i = 0; i < kN; ++i) {
    NDK_SGE sge = a->sge(i * kSlot, 1000);
    ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0x300 + i), &sge, 1,
                                                  p->address(i * kSlot), p->remote_token(), 0));
  }
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(act().cq.collect(&done, kN));
  ASSERT_TRUE(fence());
  for (int i = 0; i < kN; ++i) {
    EXPECT_TRUE(is_completion(done[i], STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0x300 + i),
                              &act()))
        << "write #" << i;
    EXPECT_TRUE(holds(p->data() + i * kSlot, 1000, 50 + i)) << "write #" << i;
    EXPECT_EQ(0, p->data()[i * kSlot + 1000]);
  }
  EXPECT_TRUE(stray_completions(act().cq).empty());
  // Writes consume no receive and produce nothing at the target.
  EXPECT_TRUE(stray_completions(pas().cq).empty());
}

TEST_P(QpDatapath, reads_complete_exactly_once_in_posting_order) {
  constexpr int kN = 32;
  ASSERT_TRUE(start({}, kN * kSlot));
  for (int i = 0; i < kN; ++i) fill(p->data() + i * kSlot, 777, 90 + i);
  for (int i = 0; i < kN; ++i) {
    NDK_SGE sge = a->sge(i * kSlot, 777);
    ASSERT_NT(STATUS_SUCCESS, act().q()->NdkRead(act().qp, ctx(0x400 + i), &sge, 1,
                                                 p->address(i * kSlot), p->remote_token(), 0));
  }
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(act().cq.collect(&done, kN));
  for (int i = 0; i < kN; ++i) {
    EXPECT_TRUE(is_completion(done[i], STATUS_SUCCESS, NdkOperationTypeRead, ctx(0x400 + i),
                              &act()))
        << "read #" << i;
    EXPECT_EQ(777u, first_mismatch(a->data() + i * kSlot, 777, 90 + i)) << "read #" << i;
    EXPECT_EQ(0, a->data()[i * kSlot + 777]);
  }
  EXPECT_TRUE(stray_completions(act().cq).empty());
  EXPECT_TRUE(stray_completions(pas().cq).empty());
}

TEST_P(QpDatapath, mixed_initiator_requests_complete_in_posting_order) {
  constexpr int kN = 30;
  ASSERT_TRUE(start({}, kN * kSlot, [&](ConnectedPairFixture& q) {
    for (int i = 0; i < kN / 3; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, i * kSlot, kSlot, ctx(0x600 + i)));
  }));
  // Slots of the passive buffer: [0, 10) receive sends, [10, 20) take writes, [20, 30) are read.
  std::vector<ULONG> types;
  for (int i = 0; i < kN; ++i) {
    int k = i / 3;
    NTSTATUS s = STATUS_UNSUCCESSFUL;
    switch (i % 3) {
      case 0:
        fill(a->data() + i * kSlot, 100 + k, 1000 + i);
        s = post_send(act().qp, *a, i * kSlot, 100 + k, ctx(0x500 + i));
        types.push_back(NdkOperationTypeSend);
        break;
      case 1: {
        fill(a->data() + i * kSlot, 200 + k, 1000 + i);
        NDK_SGE sge = a->sge(i * kSlot, 200 + k);
        s = act().q()->NdkWrite(act().qp, ctx(0x500 + i), &sge, 1, p->address((10 + k) * kSlot),
                                p->remote_token(), 0);
        types.push_back(NdkOperationTypeWrite);
        break;
      }
      case 2: {
        fill(p->data() + (20 + k) * kSlot, 300 + k, 1000 + i);
        NDK_SGE sge = a->sge(i * kSlot, 300 + k);
        s = act().q()->NdkRead(act().qp, ctx(0x500 + i), &sge, 1, p->address((20 + k) * kSlot),
                               p->remote_token(), 0);
        types.push_back(NdkOperationTypeRead);
        break;
      }
    }
    ASSERT_NT(STATUS_SUCCESS, s) << "request #" << i;
  }
  std::vector<NDK_RESULT_EX> done, received;
  ASSERT_TRUE(act().cq.collect(&done, kN));
  ASSERT_TRUE(pas().cq.collect(&received, kN / 3));
  ASSERT_TRUE(fence());
  for (int i = 0; i < kN; ++i)
    EXPECT_TRUE(is_completion(done[i], STATUS_SUCCESS, types[i], ctx(0x500 + i), &act()))
        << "request #" << i;
  for (int k = 0; k < kN / 3; ++k) {
    EXPECT_TRUE(is_completion(received[k], STATUS_SUCCESS, NdkOperationTypeReceive,
                              ctx(0x600 + k), &pas()));
    EXPECT_EQ(static_cast<ULONG>(100 + k), received[k].BytesTransferred);
    EXPECT_EQ(100u + k, first_mismatch(p->data() + k * kSlot, 100 + k, 1000 + 3 * k));
    EXPECT_TRUE(holds(p->data() + (10 + k) * kSlot, 200 + k, 1000 + 3 * k + 1));
    EXPECT_EQ(300u + k,
              first_mismatch(a->data() + (3 * k + 2) * kSlot, 300 + k, 1000 + 3 * k + 2));
  }
  EXPECT_TRUE(stray_completions(act().cq).empty());
  EXPECT_TRUE(stray_completions(pas().cq).empty());
}

// ---------------------------------------------------------------------------------------------
// Gather / scatter

TEST_P(QpDatapath, send_gathers_sges_in_order_and_receive_scatters_them) {
  ASSERT_TRUE(start({}, 64 * 1024, [&](ConnectedPairFixture& q) {
    NDK_SGE rx[3] = {p->sge(0, 250), p->sge(4096, 250), p->sge(8192, 600)};
    ASSERT_NT(STATUS_SUCCESS, q.passive.q()->NdkReceive(q.passive.qp, ctx(0x71), rx, 3));
  }));
  fill(a->data(), a->size(), 7);
  // Deliberately out of address order: the message is the SGEs in array order.
  NDK_SGE tx[4] = {a->sge(20000, 10), a->sge(5000, 300), a->sge(9000, 1), a->sge(100, 689)};
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkSend(act().qp, ctx(0x70), tx, 4, 0));
  std::vector<unsigned char> message;
  for (const NDK_SGE& s : tx) {
    auto* base = static_cast<unsigned char*>(s.VirtualAddress);
    message.insert(message.end(), base, base + s.Length);
  }
  ASSERT_EQ(1000u, message.size());

  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeSend, ctx(0x70), &act()));
  ASSERT_TRUE(pas().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x71), &pas()));
  EXPECT_EQ(1000u, r.BytesTransferred);
  const unsigned char* out = p->data();
  EXPECT_EQ(0, std::memcmp(out, message.data(), 250));
  EXPECT_EQ(0, std::memcmp(out + 4096, message.data() + 250, 250));
  EXPECT_EQ(0, std::memcmp(out + 8192, message.data() + 500, 500));
  EXPECT_EQ(0, out[250]);
  EXPECT_EQ(0, out[4096 + 250]);
  EXPECT_EQ(0, out[8192 + 500]) << "bytes beyond the message were written";
}

TEST_P(QpDatapath, write_gathers_and_read_scatters_sges) {
  ASSERT_TRUE(start());
  fill(a->data(), a->size(), 8);
  NDK_SGE tx[3] = {a->sge(12000, 123), a->sge(10, 400), a->sge(7000, 77)};
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0x81), tx, 3, p->address(30000),
                                                p->remote_token(), 0));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0x81), &act()));
  ASSERT_TRUE(fence());
  size_t at = 30000;
  for (const NDK_SGE& s : tx) {
    EXPECT_TRUE(holds_copy(p->data() + at, static_cast<unsigned char*>(s.VirtualAddress),
                           s.Length));
    at += s.Length;
  }
  EXPECT_EQ(0, p->data()[at]);

  // The read half needs three read SGEs (chelsio-t6 and siw have one).
  NDKTEST_REQUIRE(3, act().info().MaxReadRequestSge);
  fill(p->data() + 40000, 900, 9);
  NDK_SGE rx[3] = {a->sge(50000, 300), a->sge(1000, 300), a->sge(3000, 300)};
  std::memset(a->data() + 50000, 0, 301);
  std::memset(a->data() + 1000, 0, 301);
  std::memset(a->data() + 3000, 0, 301);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkRead(act().qp, ctx(0x82), rx, 3, p->address(40000),
                                               p->remote_token(), 0));
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeRead, ctx(0x82), &act()));
  EXPECT_EQ(300u, first_mismatch(a->data() + 50000, 300, 9, 0));
  EXPECT_EQ(300u, first_mismatch(a->data() + 1000, 300, 9, 300));
  EXPECT_EQ(300u, first_mismatch(a->data() + 3000, 300, 9, 600));
  EXPECT_EQ(0, a->data()[50300]);
  EXPECT_EQ(0, a->data()[1300]);
  EXPECT_EQ(0, a->data()[3300]);
}

// ---------------------------------------------------------------------------------------------
// Zero-length and large transfers

TEST_P(QpDatapath, zero_length_sends_consume_a_receive_each) {
  ASSERT_TRUE(start({}, 64 * 1024, [&](ConnectedPairFixture& q) {
    std::memset(p->data(), 0xEE, 3 * 256);
    for (int i = 0; i < 3; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, i * 256, 256, ctx(0x91 + i)));
  }));
  NDK_SGE unused = a->sge(0, 16);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkSend(act().qp, ctx(0x90), &unused, 0, 0));  // nSge 0
  NDK_SGE empty = a->sge(0, 0);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkSend(act().qp, ctx(0x94), &empty, 1, 0));  // Length 0
  fill(a->data(), 5, 3);
  ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, 5, ctx(0x95)));

  std::vector<NDK_RESULT_EX> sent, received;
  ASSERT_TRUE(act().cq.collect(&sent, 3));
  ASSERT_TRUE(pas().cq.collect(&received, 3));
  EXPECT_TRUE(is_completion(sent[0], STATUS_SUCCESS, NdkOperationTypeSend, ctx(0x90), &act()));
  EXPECT_TRUE(is_completion(sent[1], STATUS_SUCCESS, NdkOperationTypeSend, ctx(0x94), &act()));
  EXPECT_TRUE(is_completion(sent[2], STATUS_SUCCESS, NdkOperationTypeSend, ctx(0x95), &act()));
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(is_completion(received[i], STATUS_SUCCESS, NdkOperationTypeReceive,
                              ctx(0x91 + i), &pas()));
  EXPECT_EQ(0u, received[0].BytesTransferred);
  EXPECT_EQ(0u, received[1].BytesTransferred);
  EXPECT_EQ(5u, received[2].BytesTransferred);
  for (int i = 0; i < 512; ++i) ASSERT_EQ(0xEE, p->data()[i]) << "byte " << i;
  EXPECT_EQ(5u, first_mismatch(p->data() + 512, 5, 3));
  EXPECT_TRUE(stray_completions(pas().cq).empty());
}

TEST_P(QpDatapath, zero_length_writes_complete_and_touch_nothing) {
  ASSERT_TRUE(start());
  std::memset(p->data(), 0xEE, 4096);
  NDK_SGE unused = a->sge(0, 16);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0xA0), &unused, 0, p->address(0),
                                                p->remote_token(), 0));
  NDK_SGE empty = a->sge(0, 0);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0xA1), &empty, 1, p->address(64),
                                                p->remote_token(), 0));
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(act().cq.collect(&done, 2));
  EXPECT_TRUE(is_completion(done[0], STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0xA0), &act()));
  EXPECT_TRUE(is_completion(done[1], STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0xA1), &act()));
  EXPECT_TRUE(stray_completions(pas().cq).empty());
  // The connection is still healthy; once this later write is placed (fenced), a zero-length
  // write that wrongly moved bytes would have placed them as well.
  fill(a->data(), 100, 4);
  NDK_SGE sge = a->sge(0, 100);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0xA2), &sge, 1, p->address(2048),
                                                p->remote_token(), 0));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0xA2), &act()));
  ASSERT_TRUE(fence());
  EXPECT_TRUE(holds(p->data() + 2048, 100, 4));
  for (int i = 0; i < 4096; ++i) {
    if (i >= 2048 && i < 2148) continue;
    ASSERT_EQ(0xEE, p->data()[i]) << "byte " << i << " written by a zero-length write";
  }
}

TEST_P(QpDatapath, large_4mib_write_and_read_move_every_byte) {
  constexpr size_t kBig = size_t{4} << 20;
  ASSERT_TRUE(start({}, kBig));
  fill(a->data(), kBig, 11);
  NDK_SGE sge = a->sge(0, kBig);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0xB0), &sge, 1, p->address(0),
                                                p->remote_token(), 0));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0xB0), &act()));
  ASSERT_TRUE(fence());
  ASSERT_TRUE(holds(p->data(), kBig, 11));

  fill(p->data(), kBig, 12);
  std::memset(a->data(), 0, kBig);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkRead(act().qp, ctx(0xB1), &sge, 1, p->address(0),
                                               p->remote_token(), 0));
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeRead, ctx(0xB1), &act()));
  EXPECT_EQ(kBig, first_mismatch(a->data(), kBig, 12));
}

TEST_P(QpDatapath, large_4mib_send_moves_every_byte) {
  constexpr size_t kBig = size_t{4} << 20;
  ASSERT_TRUE(start({}, kBig, [&](ConnectedPairFixture& q) {
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 0, kBig, ctx(0xB3)));
  }));
  fill(a->data(), kBig, 13);
  ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, kBig, ctx(0xB2)));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeSend, ctx(0xB2), &act()));
  ASSERT_TRUE(pas().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0xB3), &pas()));
  EXPECT_EQ(kBig, r.BytesTransferred);
  EXPECT_EQ(kBig, first_mismatch(p->data(), kBig, 13));
}

// ---------------------------------------------------------------------------------------------
// SILENT_SUCCESS and DEFER

TEST_P(QpDatapath, silent_success_requests_produce_no_completion) {
  ASSERT_TRUE(start({}, 64 * 1024, [&](ConnectedPairFixture& q) {
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 0, 1024, ctx(0xC1)));
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 1024, 1024, ctx(0xC2)));
  }));
  fill(a->data(), 300, 21);            // silent send
  fill(a->data() + 4096, 400, 22);     // silent write
  fill(p->data() + 16384, 500, 23);    // silent read source
  fill(a->data() + 12288, 64, 24);     // signalled write
  ASSERT_NT(STATUS_SUCCESS,
            post_send(act().qp, *a, 0, 300, ctx(0xC0), NDK_OP_FLAG_SILENT_SUCCESS));
  NDK_SGE w = a->sge(4096, 400);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0xC3), &w, 1, p->address(8192),
                                                p->remote_token(), NDK_OP_FLAG_SILENT_SUCCESS));
  NDK_SGE rd = a->sge(8192, 500);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkRead(act().qp, ctx(0xC4), &rd, 1, p->address(16384),
                                               p->remote_token(), NDK_OP_FLAG_SILENT_SUCCESS));
  NDK_SGE w2 = a->sge(12288, 64);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0xC5), &w2, 1, p->address(20000),
                                                p->remote_token(), 0));
  // Only the signalled request reports.
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0xC5), &act()));
  auto stray = stray_completions(act().cq);
  EXPECT_TRUE(stray.empty()) << "first unexpected: " << (stray.empty() ? "" : describe(stray[0]));
  // ...but every silent request did its work.
  ASSERT_TRUE(pas().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0xC1), &pas()));
  EXPECT_EQ(300u, r.BytesTransferred);
  EXPECT_EQ(300u, first_mismatch(p->data(), 300, 21));
  // The writes give the target nothing to wait for: fence them. (The silent read's data is
  // ordered by the completion of the later write 0xC5: completions come in posting order.)
  ASSERT_TRUE(fence());
  EXPECT_TRUE(holds(p->data() + 8192, 400, 22));
  EXPECT_EQ(500u, first_mismatch(a->data() + 8192, 500, 23));
  EXPECT_TRUE(holds(p->data() + 20000, 64, 24));

  // A later signalled send still completes, and consumes the next receive.
  ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, 10, ctx(0xC6)));
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeSend, ctx(0xC6), &act()));
  ASSERT_TRUE(pas().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0xC2), &pas()));
  EXPECT_TRUE(stray_completions(act().cq).empty());
}

TEST_P(QpDatapath, deferred_requests_complete_exactly_once_each) {
  ASSERT_TRUE(start({}, 64 * 1024, [&](ConnectedPairFixture& q) {
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 0, 1024, ctx(0xD8)));
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 1024, 1024, ctx(0xD9)));
  }));
  fill(a->data(), 32 * 1024, 31);
  fill(p->data() + 32768, 1000, 32);
  NDK_SGE s0 = a->sge(0, 100), w1 = a->sge(4096, 200), r2 = a->sge(40000, 1000),
          s3 = a->sge(8192, 300), w4 = a->sge(12288, 400), w5 = a->sge(16384, 500);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkSend(act().qp, ctx(0xD0), &s0, 1, NDK_OP_FLAG_DEFER));
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0xD1), &w1, 1, p->address(4096),
                                                p->remote_token(), NDK_OP_FLAG_DEFER));
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkRead(act().qp, ctx(0xD2), &r2, 1, p->address(32768),
                                               p->remote_token(), NDK_OP_FLAG_DEFER));
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkSend(act().qp, ctx(0xD3), &s3, 1, NDK_OP_FLAG_DEFER));
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0xD4), &w4, 1, p->address(12288),
                                                p->remote_token(), NDK_OP_FLAG_DEFER));
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0xD5), &w5, 1, p->address(16384),
                                                p->remote_token(), 0));  // ends the chain
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(act().cq.collect(&done, 6));
  const ULONG types[6] = {NdkOperationTypeSend, NdkOperationTypeWrite, NdkOperationTypeRead,
                          NdkOperationTypeSend, NdkOperationTypeWrite, NdkOperationTypeWrite};
  for (int i = 0; i < 6; ++i)
    EXPECT_TRUE(is_completion(done[i], STATUS_SUCCESS, types[i], ctx(0xD0 + i), &act()))
        << "request #" << i;
  EXPECT_TRUE(stray_completions(act().cq).empty());
  std::vector<NDK_RESULT_EX> received;
  ASSERT_TRUE(pas().cq.collect(&received, 2));
  EXPECT_TRUE(is_completion(received[0], STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0xD8),
                            &pas()));
  EXPECT_TRUE(is_completion(received[1], STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0xD9),
                            &pas()));
  EXPECT_EQ(100u, received[0].BytesTransferred);
  EXPECT_EQ(300u, received[1].BytesTransferred);
  EXPECT_EQ(0, std::memcmp(p->data(), a->data(), 100));
  EXPECT_EQ(0, std::memcmp(p->data() + 1024, a->data() + 8192, 300));
  ASSERT_TRUE(fence());
  EXPECT_TRUE(holds_copy(p->data() + 4096, a->data() + 4096, 200));
  EXPECT_TRUE(holds_copy(p->data() + 12288, a->data() + 12288, 400));
  EXPECT_TRUE(holds_copy(p->data() + 16384, a->data() + 16384, 500));
  EXPECT_EQ(1000u, first_mismatch(a->data() + 40000, 1000, 32));
}

// the NDKPI reference: a failing post first submits every earlier deferred request; the consumer
// then stops the chain (no final non-deferred request is posted).
TEST_P(QpDatapath, deferred_requests_are_submitted_when_a_later_post_fails_inline) {
  PairOptions options;
  options.sge = 2;
  ASSERT_TRUE(start(options, 64 * 1024, [&](ConnectedPairFixture& q) {
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 0, 1024, ctx(0xE9)));
  }));
  fill(a->data(), 8192, 41);
  NDK_SGE w = a->sge(0, 256), s = a->sge(4096, 128);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0xE0), &w, 1, p->address(8192),
                                                p->remote_token(), NDK_OP_FLAG_DEFER));
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkSend(act().qp, ctx(0xE1), &s, 1, NDK_OP_FLAG_DEFER));
  NDK_SGE three[3] = {a->sge(0, 1), a->sge(1, 1), a->sge(2, 1)};  // more than the QP's 2 SGEs
  ASSERT_NT(STATUS_INVALID_PARAMETER,
            act().q()->NdkSend(act().qp, ctx(0xE2), three, 3, NDK_OP_FLAG_DEFER));
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(act().cq.collect(&done, 2)) << "deferred requests were not submitted";
  EXPECT_TRUE(is_completion(done[0], STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0xE0), &act()));
  EXPECT_TRUE(is_completion(done[1], STATUS_SUCCESS, NdkOperationTypeSend, ctx(0xE1), &act()));
  EXPECT_TRUE(stray_completions(act().cq).empty()) << "the failed post produced a completion";
  NDK_RESULT_EX r{};
  ASSERT_TRUE(pas().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0xE9), &pas()));
  EXPECT_EQ(128u, r.BytesTransferred);
  EXPECT_EQ(0, std::memcmp(p->data(), a->data() + 4096, 128));
  // The write went before the send: its receive completion orders it (RFC 5040 ordering).
  EXPECT_TRUE(holds_copy(p->data() + 8192, a->data(), 256));
}

// ---------------------------------------------------------------------------------------------
// INLINE

TEST_P(QpDatapath, inline_send_source_is_reusable_when_post_returns) {
  ASSERT_TRUE(start({}, 64 * 1024, [&](ConnectedPairFixture& q) {
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 0, 1024, ctx(0xF1)));
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 1024, 1024, ctx(0xF2)));
  }));
  NDKTEST_REQUIRE(100, act().info().MaxInlineDataSize);
  // Unregistered memory with a garbage token: INLINE ignores MemoryRegionToken.
  std::vector<unsigned char> source(100);
  fill(source.data(), source.size(), 51);
  NDK_SGE sge{};
  sge.VirtualAddress = source.data();
  sge.Length = 100;
  sge.MemoryRegionToken = 0xDEADBEEF;
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkSend(act().qp, ctx(0xF0), &sge, 1, NDK_OP_FLAG_INLINE));
  std::memset(source.data(), 0xFF, source.size());
  fill(source.data(), 60, 52);
  sge.Length = 60;
  sge.MemoryRegionToken = 0x12345678;
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkSend(act().qp, ctx(0xF3), &sge, 1, NDK_OP_FLAG_INLINE));
  source.assign(source.size(), 0xAA);
  source.clear();
  source.shrink_to_fit();  // the memory is gone before the data could have moved lazily

  std::vector<NDK_RESULT_EX> sent, received;
  ASSERT_TRUE(act().cq.collect(&sent, 2));
  EXPECT_TRUE(is_completion(sent[0], STATUS_SUCCESS, NdkOperationTypeSend, ctx(0xF0), &act()));
  EXPECT_TRUE(is_completion(sent[1], STATUS_SUCCESS, NdkOperationTypeSend, ctx(0xF3), &act()));
  ASSERT_TRUE(pas().cq.collect(&received, 2));
  EXPECT_TRUE(is_completion(received[0], STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0xF1),
                            &pas()));
  EXPECT_EQ(100u, received[0].BytesTransferred);
  EXPECT_EQ(100u, first_mismatch(p->data(), 100, 51));
  EXPECT_EQ(60u, received[1].BytesTransferred);
  EXPECT_EQ(60u, first_mismatch(p->data() + 1024, 60, 52));
}

TEST_P(QpDatapath, inline_write_source_is_reusable_when_post_returns) {
  ASSERT_TRUE(start());
  NDKTEST_REQUIRE(128, act().info().MaxInlineDataSize);
  std::vector<unsigned char> source(128);
  fill(source.data(), 128, 53);
  NDK_SGE sge[2] = {};
  sge[0].VirtualAddress = source.data();
  sge[0].Length = 28;
  sge[0].MemoryRegionToken = 0xFFFFFFFF;
  sge[1].VirtualAddress = source.data() + 28;
  sge[1].Length = 100;
  sge[1].MemoryRegionToken = 0;
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0xF4), sge, 2, p->address(512),
                                                p->remote_token(), NDK_OP_FLAG_INLINE));
  std::memset(source.data(), 0, source.size());
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0xF4), &act()));
  ASSERT_TRUE(fence());
  EXPECT_TRUE(holds(p->data() + 512, 128, 53));
  EXPECT_TRUE(stray_completions(pas().cq).empty());
}

TEST_P(QpDatapath, inline_data_larger_than_qp_inline_size_is_rejected) {
  PairOptions options;
  options.inline_bytes = 128;
  ASSERT_TRUE(start(options, 64 * 1024, [&](ConnectedPairFixture& q) {
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 0, 1024, ctx(0xF9)));
  }));
  // The QP's inline size: 128, or the adapter's MaxInlineDataSize when that is smaller.
  const ULONG limit_bytes = std::min<ULONG>(128, act().info().MaxInlineDataSize);
  ASSERT_GT(limit_bytes, 64u);
  fill(a->data(), 1024, 54);
  NDK_SGE one = a->sge(0, limit_bytes + 1);
  EXPECT_NT(STATUS_INVALID_BUFFER_SIZE,
            act().q()->NdkSend(act().qp, ctx(0xF5), &one, 1, NDK_OP_FLAG_INLINE));
  NDK_SGE two[2] = {a->sge(0, 64), a->sge(64, limit_bytes - 63)};
  EXPECT_NT(STATUS_INVALID_BUFFER_SIZE,
            act().q()->NdkSend(act().qp, ctx(0xF6), two, 2, NDK_OP_FLAG_INLINE));
  EXPECT_NT(STATUS_INVALID_BUFFER_SIZE,
            act().q()->NdkWrite(act().qp, ctx(0xF7), &one, 1, p->address(0), p->remote_token(),
                                NDK_OP_FLAG_INLINE));
  // Exactly the limit is fine.
  NDK_SGE limit = a->sge(0, limit_bytes);
  ASSERT_NT(STATUS_SUCCESS,
            act().q()->NdkSend(act().qp, ctx(0xF8), &limit, 1, NDK_OP_FLAG_INLINE));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeSend, ctx(0xF8), &act()))
      << "a rejected inline post produced a completion";
  EXPECT_TRUE(stray_completions(act().cq).empty());
  ASSERT_TRUE(pas().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0xF9), &pas()));
  EXPECT_EQ(limit_bytes, r.BytesTransferred);
  EXPECT_EQ(limit_bytes, first_mismatch(p->data(), limit_bytes, 54));
}

TEST_P(QpDatapath, inline_send_may_use_more_sges_than_initiator_limit) {
  PairOptions options;
  options.sge = 4;
  options.inline_bytes = 128;
  ASSERT_TRUE(start(options, 64 * 1024, [&](ConnectedPairFixture& q) {
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 0, 1024, ctx(0x111)));
  }));
  NDKTEST_REQUIRE(128, act().info().MaxInlineDataSize);  // eight 16-byte SGEs inline
  fill(a->data(), 4096, 55);
  NDK_SGE eight[8];
  for (int i = 0; i < 8; ++i) {
    eight[i] = a->sge(i * 256, 16);
    eight[i].MemoryRegionToken = 0xBAD0000u + i;  // ignored with INLINE
  }
  // Control: without INLINE eight SGEs exceed the QP's MaxInitiatorRequestSge.
  EXPECT_NT(STATUS_INVALID_PARAMETER, act().q()->NdkSend(act().qp, ctx(0x10F), eight, 8, 0));
  ASSERT_NT(STATUS_SUCCESS,
            act().q()->NdkSend(act().qp, ctx(0x110), eight, 8, NDK_OP_FLAG_INLINE));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeSend, ctx(0x110), &act()));
  EXPECT_TRUE(stray_completions(act().cq).empty());
  ASSERT_TRUE(pas().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x111), &pas()));
  EXPECT_EQ(128u, r.BytesTransferred);
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(0, std::memcmp(p->data() + 16 * i, a->data() + 256 * i, 16))
        << "SGE #" << i;
}

// ---------------------------------------------------------------------------------------------
// Limits and validation

// the NDKPI reference: at most InitiatorQueueDepth requests are outstanding; a post
// beyond that fails inline with STATUS_INSUFFICIENT_RESOURCES and produces no completion. A
// request stays outstanding until its completion has been retrieved from the CQ (2.9: buffers
// stay in use "until the request's completion is retrieved"; RDMA convention; otherwise a
// consumer whose CQ holds the sum of its queue depths can still overrun it, 2.4.1/4.1.4).
// A queue slot is busy until the consumer retrieves the request's completion (Microsoft's NDKPI
// reference), so a CQ sized to the sum of its queues' depths can never overrun.
TEST_P(QpDatapath, initiator_queue_full_rejected_until_completions_reaped) {
  PairOptions options;
  options.depth = 4;
  ASSERT_TRUE(start(options));
  fill(a->data(), 4096, 61);
  for (int i = 0; i < 4; ++i) {
    NDK_SGE sge = a->sge(i * 64, 64);
    ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0x120 + i), &sge, 1,
                                                  p->address(i * 64), p->remote_token(), 0));
  }
  NDK_SGE sge = a->sge(1024, 64);
  NDK_SGE sink = a->sge(2048, 64);
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES,
            act().q()->NdkWrite(act().qp, ctx(0x12F), &sge, 1, p->address(1024),
                                p->remote_token(), 0));
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES,
            act().q()->NdkRead(act().qp, ctx(0x12E), &sink, 1, p->address(2048),
                               p->remote_token(), 0));
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(act().cq.collect(&done, 4));
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(is_completion(done[i], STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0x120 + i),
                              &act()));
  EXPECT_TRUE(stray_completions(act().cq).empty());
  // Reaped: the queue accepts requests again.
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0x124), &sge, 1, p->address(1024),
                                                p->remote_token(), 0));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0x124), &act()));
  ASSERT_TRUE(fence());
  EXPECT_TRUE(holds(p->data() + 1024, 64, 61, 1024));
}

// The same limit with requests that are certainly unfinished: reads posted from inside a
// provider callback (the SRQ notification of an SrqPairFixture) wait for the peer's responses,
// which the provider may deliver only after the callback returns.
TEST_P(QpDatapath, initiator_queue_full_of_unfinished_requests_rejected) {
  CallbackPair trigger(GetParam(), 4);
  if (!trigger.has_srq())
    GTEST_SKIP() << "adapter reports MaxSrqDepth == 0 (the trigger needs an SRQ)";
  ASSERT_NO_FATAL_FAILURE(trigger.start(4096, 17));
  SrqPairFixture& rig = trigger.rig;
  Region& ra = *trigger.ra;
  Region& rp = *trigger.rp;
  {
    NTSTATUS posted[4] = {STATUS_PENDING, STATUS_PENDING, STATUS_PENDING, STATUS_PENDING};
    NTSTATUS fifth = STATUS_PENDING;
    bool some_completed = false;
    ASSERT_TRUE(rig.run_in_callback(rp, ra, [&] {
      NDK_QP* qp = rig.aqp[0];
      for (int i = 0; i < 4; ++i) {
        NDK_SGE sink = ra.sge(i * 1024, 1000);
        posted[i] = qp->Dispatch->NdkRead(qp, ctx(0xC0 + i), &sink, 1, rp.address(i * 1024),
                                          rp.remote_token(), 0);
      }
      // Nothing is reaped here; peek whether any of them already produced its completion.
      NDK_RESULT_EX r[8];
      ULONG n = rig.active.cq.poll(r, 8);
      for (ULONG k = 0; k < n; ++k) some_completed |= r[k].QPContext == &rig.actx[0];
      NDK_SGE src = ra.sge(8192, 10);
      fifth = qp->Dispatch->NdkWrite(qp, ctx(0xC4), &src, 1, rp.address(20000),
                                     rp.remote_token(), 0);
    }));
    for (int i = 0; i < 4; ++i) ASSERT_NT(STATUS_SUCCESS, posted[i]) << "read #" << i;
    if (!some_completed) {
      EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, fifth)
          << "4 unfinished reads fill a depth-4 initiator queue";
    }
    auto later = stray_completions(rig.active.cq, std::chrono::milliseconds(300));
    std::vector<NDK_RESULT_EX> qp0;
    for (const NDK_RESULT_EX& r : later)
      if (r.QPContext == &rig.actx[0]) qp0.push_back(r);
    if (!some_completed) {
      ASSERT_EQ(4u, qp0.size());
      for (int i = 0; i < 4; ++i) {
        EXPECT_TRUE(is_completion(qp0[i], STATUS_SUCCESS, NdkOperationTypeRead, ctx(0xC0 + i),
                                  &rig.actx[0]));
        EXPECT_EQ(1000u, first_mismatch(ra.data() + i * 1024, 1000, 17, i * 1024));
      }
    }
    // Once they completed, the queue takes requests again.
    NDK_SGE src = ra.sge(8192, 10);
    fill(ra.data() + 8192, 10, 18);
    ASSERT_NT(STATUS_SUCCESS, rig.aqp[0]->Dispatch->NdkWrite(rig.aqp[0], ctx(0xC5), &src, 1,
                                                             rp.address(20000), rp.remote_token(),
                                                             0));
    NDK_RESULT_EX r{};
    ASSERT_TRUE(rig.active.cq.next(&r));
    EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0xC5), &rig.actx[0]));
    // Fence the write on QP 0 (read into a byte of ra that no check uses); completions of QP 1
    // that may still come are not this test's concern.
    FenceSource fence_source(rig.passive.pd);
    std::vector<NDK_RESULT_EX> earlier;
    ASSERT_TRUE(read_fence(rig.aqp[0], rig.active.cq, ra.sge(60000, 1), fence_source, &earlier));
    EXPECT_TRUE(holds(rp.data() + 20000, 10, 18));
  }
}

TEST_P(QpDatapath, receive_queue_full_rejected_until_receives_complete) {
  PairOptions options;
  options.depth = 4;
  ASSERT_TRUE(start(options, 64 * 1024, [&](ConnectedPairFixture& q) {
    for (int i = 0; i < 4; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, i * 1024, 1024, ctx(0x130 + i)));
    EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES,
              post_receive(q.passive.qp, *p, 8192, 1024, ctx(0x13F)));
  }));
  ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, 8, ctx(0x140)));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(pas().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x130), &pas()));
  // The first send's slot is free once its completion is retrieved (depth 4 for 4 more sends).
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeSend, ctx(0x140), &act()));
  // One receive completed and was reaped: one more fits, but not two.
  ASSERT_NT(STATUS_SUCCESS, post_receive(pas().qp, *p, 4096, 1024, ctx(0x134)));
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, post_receive(pas().qp, *p, 8192, 1024, ctx(0x13E)));
  for (int i = 1; i <= 4; ++i)
    ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, 8, ctx(0x140 + i)));
  std::vector<NDK_RESULT_EX> received;
  ASSERT_TRUE(pas().cq.collect(&received, 4));
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(is_completion(received[i], STATUS_SUCCESS, NdkOperationTypeReceive,
                              ctx(0x131 + i), &pas()));
  EXPECT_TRUE(stray_completions(pas().cq).empty()) << "a rejected receive produced a completion";
  std::vector<NDK_RESULT_EX> sent;
  ASSERT_TRUE(act().cq.collect(&sent, 4));
}

TEST_P(QpDatapath, more_sges_than_qp_limit_rejected) {
  PairOptions options;
  options.sge = 4;
  ASSERT_TRUE(start(options, 64 * 1024, [&](ConnectedPairFixture& q) {
    NDK_SGE five[5];
    for (int i = 0; i < 5; ++i) five[i] = p->sge(i * 100, 100);
    EXPECT_NT(STATUS_INVALID_PARAMETER, q.passive.q()->NdkReceive(q.passive.qp, ctx(0x15F), five, 5));
    NDK_SGE four[4];
    for (int i = 0; i < 4; ++i) four[i] = p->sge(i * 100, 100);
    ASSERT_NT(STATUS_SUCCESS, q.passive.q()->NdkReceive(q.passive.qp, ctx(0x151), four, 4));
  }));
  fill(a->data(), 4096, 62);
  NDK_SGE five[5];
  for (int i = 0; i < 5; ++i) five[i] = a->sge(i * 10, 10);
  EXPECT_NT(STATUS_INVALID_PARAMETER, act().q()->NdkSend(act().qp, ctx(0x15A), five, 5, 0));
  EXPECT_NT(STATUS_INVALID_PARAMETER, act().q()->NdkWrite(act().qp, ctx(0x15B), five, 5,
                                                          p->address(2048), p->remote_token(), 0));
  // Exactly the limit works: 4 SGEs gathered into 4 scattered receive SGEs.
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkSend(act().qp, ctx(0x150), five, 4, 0));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeSend, ctx(0x150), &act()));
  ASSERT_TRUE(pas().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x151), &pas()));
  EXPECT_EQ(40u, r.BytesTransferred);
  EXPECT_EQ(40u, first_mismatch(p->data(), 40, 62));
  EXPECT_TRUE(stray_completions(act().cq).empty());
  EXPECT_TRUE(stray_completions(pas().cq).empty());
}

TEST_P(QpDatapath, read_sge_count_is_bounded_by_max_read_request_sge) {
  PairOptions options;
  options.sge = 2;
  ASSERT_TRUE(start(options));
  const ULONG max_read = act().info().MaxReadRequestSge;
  ASSERT_GE(max_read, 1u);
  fill(p->data(), 4096, 63);
  std::vector<NDK_SGE> sges;
  for (ULONG i = 0; i <= max_read; ++i) sges.push_back(a->sge(8192 + i * 32, 16));
  EXPECT_NT(STATUS_INVALID_PARAMETER,
            act().q()->NdkRead(act().qp, ctx(0x16F), sges.data(), max_read + 1, p->address(0),
                               p->remote_token(), 0));
  // MaxReadRequestSge (not the QP's initiator SGE limit of 2) bounds a read.
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkRead(act().qp, ctx(0x160), sges.data(), max_read,
                                               p->address(0), p->remote_token(), 0));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeRead, ctx(0x160), &act()));
  for (ULONG i = 0; i < max_read; ++i) {
    EXPECT_EQ(16u, first_mismatch(a->data() + 8192 + i * 32, 16, 63, i * 16)) << "SGE #" << i;
    EXPECT_EQ(0, a->data()[8192 + i * 32 + 16]);
  }
  EXPECT_TRUE(stray_completions(act().cq).empty());
}

TEST_P(QpDatapath, inapplicable_and_unknown_flags_rejected) {
  ASSERT_TRUE(start({}, 64 * 1024, [&](ConnectedPairFixture& q) {
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 0, 1024, ctx(0x17F)));
  }));
  fill(a->data(), 64, 64);
  NDK_SGE sge = a->sge(0, 64);
  const NDK_QP_DISPATCH* q = act().q();
  NDK_QP* qp = act().qp;
  uint64_t at = p->address(4096);
  UINT32 token = p->remote_token();
  EXPECT_NT(STATUS_INVALID_PARAMETER, q->NdkRead(qp, ctx(0x170), &sge, 1, at, token,
                                                 NDK_OP_FLAG_INLINE));
  EXPECT_NT(STATUS_INVALID_PARAMETER, q->NdkRead(qp, ctx(0x171), &sge, 1, at, token,
                                                 NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT));
  EXPECT_NT(STATUS_INVALID_PARAMETER, q->NdkRead(qp, ctx(0x172), &sge, 1, at, token, 0x80000000u));
  EXPECT_NT(STATUS_INVALID_PARAMETER, q->NdkWrite(qp, ctx(0x173), &sge, 1, at, token,
                                                  NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT));
  EXPECT_NT(STATUS_INVALID_PARAMETER, q->NdkWrite(qp, ctx(0x174), &sge, 1, at, token,
                                                  NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE));
  EXPECT_NT(STATUS_INVALID_PARAMETER, q->NdkWrite(qp, ctx(0x175), &sge, 1, at, token,
                                                  NDK_OP_FLAG_ALLOW_REMOTE_WRITE));
  EXPECT_NT(STATUS_INVALID_PARAMETER, q->NdkSend(qp, ctx(0x176), &sge, 1, 0x400));
  EXPECT_NT(STATUS_INVALID_PARAMETER, q->NdkSend(qp, ctx(0x177), &sge, 1,
                                                 NDK_OP_FLAG_ALLOW_REMOTE_READ));
  EXPECT_NT(STATUS_INVALID_PARAMETER, q->NdkSend(qp, ctx(0x178), &sge, 1,
                                                 NDK_OP_FLAG_RDMA_READ_SINK));
  EXPECT_NT(STATUS_INVALID_PARAMETER, q->NdkSend(qp, ctx(0x179), &sge, 1,
                                                 NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE));
  EXPECT_TRUE(stray_completions(act().cq).empty()) << "a rejected post produced a completion";
  // Nothing was queued and the QP is healthy: the one receive goes to this send.
  ASSERT_NT(STATUS_SUCCESS, q->NdkSend(qp, ctx(0x17A), &sge, 1, NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(act().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeSend, ctx(0x17A), &act()));
  ASSERT_TRUE(pas().cq.next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x17F), &pas()));
  EXPECT_EQ(64u, r.BytesTransferred);
  for (int i = 0; i < 64; ++i) ASSERT_EQ(0, p->data()[4096 + i]) << "a rejected write ran";
}

TEST_P(QpDatapath, initiator_requests_on_never_connected_qp_rejected_receives_accepted) {
  QpFixture lone(GetParam());
  ASSERT_TRUE(lone.ok());
  {
    Region buf(lone.pd, 4096, kMrAll);
    ASSERT_NT(STATUS_SUCCESS, buf.status());
    NDK_SGE sge = buf.sge(0, 64);
    const NDK_QP_DISPATCH* q = lone.qp->Dispatch;
    EXPECT_NT(STATUS_CONNECTION_INVALID, q->NdkSend(lone.qp, ctx(1), &sge, 1, 0));
    EXPECT_NT(STATUS_CONNECTION_INVALID,
              q->NdkSend(lone.qp, ctx(2), &sge, 1, NDK_OP_FLAG_SILENT_SUCCESS));
    EXPECT_NT(STATUS_CONNECTION_INVALID,
              q->NdkWrite(lone.qp, ctx(3), &sge, 1, buf.address(1024), buf.remote_token(), 0));
    EXPECT_NT(STATUS_CONNECTION_INVALID,
              q->NdkRead(lone.qp, ctx(4), &sge, 1, buf.address(1024), buf.remote_token(), 0));
    EXPECT_NT(STATUS_SUCCESS, q->NdkReceive(lone.qp, ctx(5), &sge, 1));
    EXPECT_TRUE(stray_completions(lone.cq).empty());
    EXPECT_TRUE(lone.close_qp());
  }
  // The QP close flushes the posted receive (and nothing else).
  std::vector<NDK_RESULT_EX> flushed;
  ASSERT_TRUE(lone.cq.collect(&flushed, 1));
  EXPECT_TRUE(is_completion(flushed[0], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(5),
                            &lone.qp_context));
  EXPECT_TRUE(stray_completions(lone.cq).empty());
}

TEST_P(QpDatapath, receives_posted_before_connect_are_consumed_after_it) {
  NTSTATUS early_send = STATUS_PENDING;
  ASSERT_TRUE(start({}, 64 * 1024, [&](ConnectedPairFixture& q) {
    NDK_SGE sge = a->sge(0, 8);
    early_send = q.active.q()->NdkSend(q.active.qp, ctx(0x18F), &sge, 1, 0);
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 0, 512, ctx(0x181)));
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.active.qp, *a, 8192, 512, ctx(0x182)));
  }));
  EXPECT_NT(STATUS_CONNECTION_INVALID, early_send);
  fill(a->data(), 200, 65);
  fill(p->data() + 4096, 300, 66);
  ASSERT_NT(STATUS_SUCCESS, post_send(act().qp, *a, 0, 200, ctx(0x183)));
  ASSERT_NT(STATUS_SUCCESS, post_send(pas().qp, *p, 4096, 300, ctx(0x184)));
  std::vector<NDK_RESULT_EX> at_active, at_passive;
  ASSERT_TRUE(act().cq.collect(&at_active, 2));
  ASSERT_TRUE(pas().cq.collect(&at_passive, 2));
  auto find = [](std::vector<NDK_RESULT_EX>& v, void* c) -> NDK_RESULT_EX* {
    for (auto& r : v)
      if (r.RequestContext == c) return &r;
    return nullptr;
  };
  NDK_RESULT_EX* r = find(at_passive, ctx(0x181));
  ASSERT_NE(nullptr, r);
  EXPECT_TRUE(is_completion(*r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x181), &pas()));
  EXPECT_EQ(200u, r->BytesTransferred);
  r = find(at_active, ctx(0x182));
  ASSERT_NE(nullptr, r);
  EXPECT_TRUE(is_completion(*r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x182), &act()));
  EXPECT_EQ(300u, r->BytesTransferred);
  EXPECT_NE(nullptr, find(at_active, ctx(0x183)));
  EXPECT_NE(nullptr, find(at_passive, ctx(0x184)));
  EXPECT_EQ(nullptr, find(at_active, ctx(0x18F))) << "the rejected early send completed";
  EXPECT_EQ(200u, first_mismatch(p->data(), 200, 65));
  EXPECT_EQ(300u, first_mismatch(a->data() + 8192, 300, 66));
}

// ---------------------------------------------------------------------------------------------
// READ_FENCE and the outbound read limit

TEST_P(QpDatapath, read_fenced_send_carries_data_of_earlier_read) {
  ASSERT_TRUE(start({}, 64 * 1024, [&](ConnectedPairFixture& q) {
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 32768, 4096, ctx(0x191)));
    ASSERT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, 40960, 4096, ctx(0x192)));
  }));
  for (int round = 0; round < 2; ++round) {
    size_t src = round * 8192;  // passive data to fetch
    size_t local = 16384 + round * 4096;
    fill(p->data() + src, 3000, 70 + round);
    std::memset(a->data() + local, 0, 3000);
    NDK_SGE sink = a->sge(local, 3000);
    // Round 1 also defers the read, so only the fence orders the two.
    ULONG read_flags = round == 0 ? 0 : NDK_OP_FLAG_DEFER;
    ASSERT_NT(STATUS_SUCCESS, act().q()->NdkRead(act().qp, ctx(0x1A0 + round), &sink, 1,
                                                 p->address(src), p->remote_token(), read_flags));
    ASSERT_NT(STATUS_SUCCESS, act().q()->NdkSend(act().qp, ctx(0x1B0 + round), &sink, 1,
                                                 NDK_OP_FLAG_READ_FENCE));
    std::vector<NDK_RESULT_EX> done;
    ASSERT_TRUE(act().cq.collect(&done, 2));
    EXPECT_TRUE(is_completion(done[0], STATUS_SUCCESS, NdkOperationTypeRead, ctx(0x1A0 + round),
                              &act()));
    EXPECT_TRUE(is_completion(done[1], STATUS_SUCCESS, NdkOperationTypeSend, ctx(0x1B0 + round),
                              &act()));
    NDK_RESULT_EX r{};
    ASSERT_TRUE(pas().cq.next(&r));
    EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x191 + round),
                              &pas()));
    EXPECT_EQ(3000u, r.BytesTransferred);
    EXPECT_EQ(3000u, first_mismatch(p->data() + 32768 + round * 8192, 3000, 70 + round))
        << "the fenced send did not carry the read data (round " << round << ")";
  }
}

TEST_P(QpDatapath, reads_beyond_outbound_read_limit_queue_and_complete) {
  PairOptions options;
  options.read_limit = 1;
  ASSERT_TRUE(start(options));
  constexpr int kN = 12;
  for (int i = 0; i < kN; ++i) fill(p->data() + i * 1024, 1000, 80 + i);
  for (int i = 0; i < kN; ++i) {
    NDK_SGE sge = a->sge(16384 + i * 1024, 1000);
    ASSERT_NT(STATUS_SUCCESS, act().q()->NdkRead(act().qp, ctx(0x1C0 + i), &sge, 1,
                                                 p->address(i * 1024), p->remote_token(), 0))
        << "read #" << i << " was not queued";
  }
  // A write behind them all, fenced.
  fill(a->data() + 32768, 100, 99);
  NDK_SGE w = a->sge(32768, 100);
  ASSERT_NT(STATUS_SUCCESS, act().q()->NdkWrite(act().qp, ctx(0x1CF), &w, 1, p->address(20000),
                                                p->remote_token(), NDK_OP_FLAG_READ_FENCE));
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(act().cq.collect(&done, kN + 1));
  for (int i = 0; i < kN; ++i) {
    EXPECT_TRUE(is_completion(done[i], STATUS_SUCCESS, NdkOperationTypeRead, ctx(0x1C0 + i),
                              &act()));
    EXPECT_EQ(1000u, first_mismatch(a->data() + 16384 + i * 1024, 1000, 80 + i));
  }
  EXPECT_TRUE(is_completion(done[kN], STATUS_SUCCESS, NdkOperationTypeWrite, ctx(0x1CF), &act()));
  ASSERT_TRUE(fence());
  EXPECT_TRUE(holds(p->data() + 20000, 100, 99));
  EXPECT_TRUE(stray_completions(act().cq).empty());
}

INSTANTIATE_TEST_SUITE_P(QpDatapathUris, QpDatapath, ::testing::ValuesIn(inline_and_pending_uris()),
                         indexed_uri_param_name);

}  // namespace
