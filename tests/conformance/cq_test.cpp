// Completion-queue conformance (Microsoft's NDKPI reference): one-shot arming,
// re-arm merging, arming with completions already present, SOLICITED / ERRORS semantics,
// non-overlapping callbacks, NdkGetCqResults vs NdkGetCqResultsEx, ordering, NdkResizeCq,
// NdkControlCqInterruptModeration (parameters and effect) and CQ overrun.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "adapter_cq_helpers.h"
#include "ndk_test.h"
#include "transport_helpers.h"

namespace {
using namespace ndktest;
using namespace ndktest::acq;

class CqTest : public ::testing::TestWithParam<std::string> {};

constexpr size_t kSlot = 64;  // bytes per write / receive slot

// A connected pair (ConnectedPairFixture) with an instrumented CQ (NotifyCq) under the QP of one
// side:
// - Side::Active: the active QP's receive and initiator CQ; completions come from writes
//   (write(i) moves slot i of `src` to slot i of `dst` on the passive side);
// - Side::Passive: the passive QP's CQ; completions come from receives of the active side's
//   sends (`receives` receives of kSlot bytes pre-posted with contexts 1..receives).
// Placement at the passive side is checked after a fence (transport_helpers.h) that leaves no
// entry in the instrumented CQ: with Side::Active a silent Send into a receive of the passive
// QP (whose CQ is the pair's own), with Side::Passive a Read on the active QP (likewise).
enum class Side { Active, Passive };

struct InstrumentedCqPair {
  NotifyCq ncq;  // declared first: closed last, after the pair
  std::unique_ptr<ConnectedPairFixture> pair;
  std::unique_ptr<Region> src, dst, rx, tx, fence_sink;
  std::unique_ptr<FenceSource> fence_source;
  size_t fences = 0;
  Side side = Side::Active;

  bool setup(const std::string& uri, Side s, ULONG cq_depth, int receives = 0,
             QpSizes sizes = {64, 64, 4, 4, 128}) {
    side = s;
    pair = std::make_unique<ConnectedPairFixture>(uri);
    ConnectedPairFixture::Side& mine = s == Side::Active ? pair->active : pair->passive;
    if (mine.get() == nullptr) return ADD_FAILURE() << "adapter open failed", false;
    NTSTATUS st = ncq.create(mine.get(), cq_depth);
    if (st != STATUS_SUCCESS) return ADD_FAILURE() << "create CQ: " << status_name(st), false;
    bool ok = pair->connect([&](ConnectedPairFixture& p) {
      ConnectedPairFixture::Side& m = s == Side::Active ? p.active : p.passive;
      if (!m.replace_qp(ncq.cq, ncq.cq, sizes)) return;
      rx = std::make_unique<Region>(p.passive.pd, 256 * kSlot, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
      for (int i = 0; i < receives; ++i) {
        NTSTATUS r = post_receive(p.passive.qp, *rx, (i % 256) * kSlot, kSlot, ctx(i + 1));
        if (r != STATUS_SUCCESS) ADD_FAILURE() << "pre-post receive: " << status_name(r);
      }
    });
    if (!ok) return false;
    src = std::make_unique<Region>(pair->active.pd, 256 * kSlot, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    tx = std::make_unique<Region>(pair->active.pd, kSlot, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, 0x77);
    dst = std::make_unique<Region>(pair->passive.pd, 256 * kSlot, NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
    fence_source = std::make_unique<FenceSource>(pair->passive.pd);
    fence_sink = std::make_unique<Region>(
        pair->active.pd, kSlot, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK);
    for (size_t i = 0; i < 256; ++i)
      std::memset(src->data() + i * kSlot, static_cast<int>(marker(i)), kSlot);
    return src->status() == STATUS_SUCCESS && dst->status() == STATUS_SUCCESS &&
           tx->status() == STATUS_SUCCESS && fence_source->status == STATUS_SUCCESS &&
           fence_sink->status() == STATUS_SUCCESS && rx != nullptr &&
           rx->status() == STATUS_SUCCESS;
  }
  static unsigned char marker(size_t i) { return static_cast<unsigned char>(i % 255 + 1); }

  // RDMA write of slot i (i < 256), RequestContext i+1.
  NTSTATUS write(size_t i, ULONG flags = 0) {
    return post_write(pair->active.qp, *src, i * kSlot, kSlot, *dst, i * kSlot, ctx(i + 1), flags);
  }
  // The data of write(i) is at the passive side (check after a fence).
  bool landed(size_t i) { return dst->data()[i * kSlot + kSlot - 1] == marker(i); }
  // Side::Active: orders the writes posted so far before the checks of `dst` with a silent
  // zero-length Send into a receive posted here on the passive QP (no receive of its own is
  // outstanding there), whose completion goes to the pair's passive CQ: nothing reaches the
  // instrumented CQ.
  ::testing::AssertionResult fence_writes() {
    if (side != Side::Active) return ::testing::AssertionFailure() << "fence_writes: Side::Active";
    size_t slot = fences++ % 256;
    return send_fence(pair->active.qp, tx->sge(0, 0), pair->passive.qp, rx->sge(slot * kSlot, kSlot),
                      pair->passive.cq);
  }
  // Side::Passive: orders the sends posted so far (their placement and receive completions at
  // the passive side) before what the test does next, with a Read on the active QP of
  // fence_source into fence_sink. Completions of the active QP ahead of it (the sends') are
  // dropped.
  ::testing::AssertionResult fence_sends() {
    if (side != Side::Passive) return ::testing::AssertionFailure() << "fence_sends: Side::Passive";
    std::vector<NDK_RESULT_EX> earlier;
    return read_fence(pair->active.qp, pair->active.cq, fence_sink->sge(0, 1), *fence_source,
                      &earlier);
  }
  // Posts writes [from, to), fences them and checks that their data landed; then gives the
  // (local) write completions time to reach the CQ.
  bool write_and_settle(size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      NTSTATUS s = write(i);
      if (s != STATUS_SUCCESS) return ADD_FAILURE() << "write " << i << ": " << status_name(s), false;
    }
    ::testing::AssertionResult fenced = fence_writes();
    if (!fenced) return ADD_FAILURE() << "fence after writes [" << from << ", " << to << "): "
                                      << fenced.message(), false;
    for (size_t i = from; i < to; ++i) {
      if (!landed(i)) return ADD_FAILURE() << "write " << i << " was not placed", false;
    }
    quiet(std::chrono::milliseconds(50));
    return true;
  }
  // Active side send of 16 bytes (to the passive side's next receive).
  NTSTATUS send(uintptr_t context, ULONG flags = 0) {
    return post_send(pair->active.qp, *tx, 0, 16, ctx(context), flags);
  }
  // Waits for n more completions on the instrumented CQ and returns them.
  std::vector<NDK_RESULT_EX> take(size_t n) {
    std::vector<NDK_RESULT_EX> out;
    EXPECT_TRUE(ncq.collect(&out, n)) << "expected " << n << " completions, got " << out.size();
    return out;
  }

  ~InstrumentedCqPair() {
    src.reset();
    dst.reset();
    rx.reset();
    tx.reset();
    fence_source.reset();
    fence_sink.reset();
    if (pair != nullptr) {
      EXPECT_TRUE(pair->teardown());
    }
    ncq.close();   // before the adapter close, which waits for it
    pair.reset();
  }
};

// ---------------------------------------------------------------------------------------------
// Arming (4.1.2)

TEST_P(CqTest, arm_any_gives_one_callback_per_arm) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 64));
  rig.ncq.arm(NDK_CQ_NOTIFY_ANY);
  ASSERT_NT(STATUS_SUCCESS, rig.write(0));
  ASSERT_TRUE(rig.ncq.wait_calls(1));
  EXPECT_NT(STATUS_SUCCESS, rig.ncq.last_status.load());
  // No re-arm: more completions bring no callback.
  ASSERT_TRUE(rig.write_and_settle(1, 4));
  auto got = rig.take(4);
  quiet();
  EXPECT_EQ(1, rig.ncq.calls.load());
  // Re-arm with an empty CQ and nothing new: nothing is due.
  rig.ncq.arm(NDK_CQ_NOTIFY_ANY);
  quiet();
  EXPECT_EQ(1, rig.ncq.calls.load());
  // The next completion satisfies the new arm, once.
  ASSERT_NT(STATUS_SUCCESS, rig.write(4));
  ASSERT_TRUE(rig.ncq.wait_calls(2));
  rig.take(1);
  ASSERT_TRUE(rig.write_and_settle(5, 7));
  rig.take(2);
  quiet();
  EXPECT_EQ(2, rig.ncq.calls.load());
  EXPECT_EQ(0, rig.ncq.inside_arm.load());
}

TEST_P(CqTest, no_callback_without_arm) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 64));
  ASSERT_TRUE(rig.write_and_settle(0, 5));
  auto got = rig.take(5);
  quiet();
  EXPECT_EQ(0, rig.ncq.calls.load());
}

TEST_P(CqTest, rearm_before_firing_merges_to_the_stronger_type) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Passive, 256, 40));
  const ULONG types[] = {NDK_CQ_NOTIFY_ERRORS, NDK_CQ_NOTIFY_SOLICITED, NDK_CQ_NOTIFY_ANY};
  auto rank = [](ULONG t) { return t == NDK_CQ_NOTIFY_ERRORS ? 0 : t == NDK_CQ_NOTIFY_SOLICITED ? 1 : 2; };
  const char* names[] = {"ERRORS", "SOLICITED", "ANY"};
  uintptr_t next_send = 1;
  for (ULONG first : types) {
    for (ULONG second : types) {
      SCOPED_TRACE(::testing::Message() << names[rank(first)] << " then " << names[rank(second)]);
      int merged = std::max(rank(first), rank(second));
      int base = rig.ncq.calls.load();
      rig.ncq.arm(first);
      rig.ncq.arm(second);
      // An ordinary receive satisfies only ANY.
      ASSERT_NT(STATUS_SUCCESS, rig.send(next_send++));
      rig.take(1);
      if (merged == 2) {
        EXPECT_TRUE(rig.ncq.wait_calls(base + 1));
        quiet(std::chrono::milliseconds(30));
        EXPECT_EQ(base + 1, rig.ncq.calls.load());
        continue;
      }
      quiet();
      EXPECT_EQ(base, rig.ncq.calls.load()) << "ordinary receive satisfied a weaker arm";
      // A solicited receive satisfies SOLICITED (and not ERRORS).
      ASSERT_NT(STATUS_SUCCESS, rig.send(next_send++, NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT));
      rig.take(1);
      if (merged == 1) {
        EXPECT_TRUE(rig.ncq.wait_calls(base + 1));
      } else {
        quiet();
        EXPECT_EQ(base, rig.ncq.calls.load()) << "ERRORS arm satisfied by a completion";
      }
      // (An ERRORS arm that stays pending merges harmlessly into the next combination.)
    }
  }
  for (NTSTATUS s : rig.ncq.status_list()) EXPECT_NT(STATUS_SUCCESS, s);
}

TEST_P(CqTest, arm_with_unreported_completions_fires_promptly_but_not_inside_arm) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 64));
  ASSERT_TRUE(rig.write_and_settle(0, 3));  // present, never notified
  EXPECT_EQ(0, rig.ncq.calls.load());
  rig.ncq.arm(NDK_CQ_NOTIFY_ANY);
  int right_after = rig.ncq.calls.load();
  EXPECT_EQ(0, rig.ncq.inside_arm.load()) << "callback invoked synchronously inside NdkArmCq";
  ASSERT_TRUE(rig.ncq.wait_calls(1)) << "arm with fresh completions present was not satisfied";
  // If the count was already 1 when NdkArmCq returned, it ran on another thread (not inside).
  EXPECT_TRUE(right_after == 0 || rig.ncq.last_thread.load() != std::this_thread::get_id());
  EXPECT_NE(std::this_thread::get_id(), rig.ncq.last_thread.load());
  EXPECT_NT(STATUS_SUCCESS, rig.ncq.last_status.load());
  rig.take(3);
  quiet();
  EXPECT_EQ(1, rig.ncq.calls.load());
  // Completions that arrive after the last callback while disarmed: the next arm fires too.
  ASSERT_TRUE(rig.write_and_settle(3, 5));
  EXPECT_EQ(1, rig.ncq.calls.load());
  rig.ncq.arm(NDK_CQ_NOTIFY_ANY);
  EXPECT_EQ(0, rig.ncq.inside_arm.load()) << "callback invoked synchronously inside NdkArmCq";
  ASSERT_TRUE(rig.ncq.wait_calls(2));
  rig.take(2);
  quiet();
  EXPECT_EQ(2, rig.ncq.calls.load());
}

TEST_P(CqTest, solicited_arm_fires_on_solicited_receive_present_at_arm_time) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Passive, 64, 4));
  ASSERT_NT(STATUS_SUCCESS, rig.send(1, NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT));
  // The solicited receive is complete (placed, its entry in the CQ) before the arm.
  ASSERT_TRUE(rig.fence_sends());
  ASSERT_EQ(0x77, rig.rx->data()[15]) << "the send's data was not placed";
  quiet(std::chrono::milliseconds(50));
  rig.ncq.arm(NDK_CQ_NOTIFY_SOLICITED);
  EXPECT_EQ(0, rig.ncq.inside_arm.load());
  EXPECT_TRUE(rig.ncq.wait_calls(1));
  auto got = rig.take(1);
  ASSERT_EQ(1u, got.size());
  EXPECT_EQ(ctx(1), got[0].RequestContext);
}

TEST_P(CqTest, drain_and_rearm_inside_callback_never_overlaps_and_loses_nothing) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 256));
  std::mutex mutex;
  std::vector<NDK_RESULT_EX> drained;
  std::atomic<int> count_changed_inside_arm{0};
  rig.ncq.hold = std::chrono::milliseconds(2);
  rig.ncq.on_notify = [&](NotifyCq& self, NTSTATUS) {
    auto got = self.drain();
    {
      std::lock_guard lock(mutex);
      drained.insert(drained.end(), got.begin(), got.end());
    }
    int before = self.calls.load();
    self.arm(NDK_CQ_NOTIFY_ANY);  // the usual consumer loop
    // Callbacks never overlap (rule 5): a due one waits until this one returned.
    if (self.calls.load() != before) count_changed_inside_arm.fetch_add(1);
  };
  rig.ncq.arm(NDK_CQ_NOTIFY_ANY);
  constexpr size_t kWrites = 120;
  for (size_t i = 0; i < kWrites; ++i) {
    // Stay within the QP depth: wait until at most 32 writes are unreported.
    ASSERT_TRUE(wait_until([&] {
      std::lock_guard lock(mutex);
      return i - drained.size() < 32;
    }));
    ASSERT_NT(STATUS_SUCCESS, rig.write(i));
    if (i % 7 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(wait_until([&] {
    std::lock_guard lock(mutex);
    return drained.size() == kWrites;
  })) << "completions were left in the CQ without a notification";
  quiet();
  EXPECT_EQ(0, rig.ncq.overlaps.load());
  EXPECT_EQ(0, rig.ncq.inside_arm.load());
  EXPECT_EQ(0, count_changed_inside_arm.load());
  EXPECT_GE(rig.ncq.calls.load(), 2);
  std::lock_guard lock(mutex);
  ASSERT_EQ(kWrites, drained.size());
  for (size_t i = 0; i < kWrites; ++i) {
    EXPECT_EQ(ctx(i + 1), drained[i].RequestContext) << i;
    EXPECT_NT(STATUS_SUCCESS, drained[i].Status);
  }
}

// ---------------------------------------------------------------------------------------------
// Arm types (2.4.2, 4.1.2 rule 6)

TEST_P(CqTest, solicited_arm_ignores_ordinary_receive_and_fires_on_solicited_one) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Passive, 64, 8));
  rig.ncq.arm(NDK_CQ_NOTIFY_SOLICITED);
  ASSERT_NT(STATUS_SUCCESS, rig.send(1));
  ASSERT_NT(STATUS_SUCCESS, rig.send(2));
  auto got = rig.take(2);
  quiet();
  EXPECT_EQ(0, rig.ncq.calls.load()) << "ordinary receives satisfied a SOLICITED arm";
  ASSERT_NT(STATUS_SUCCESS, rig.send(3, NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT));
  ASSERT_TRUE(rig.ncq.wait_calls(1));
  EXPECT_NT(STATUS_SUCCESS, rig.ncq.last_status.load());
  got = rig.take(1);
  ASSERT_EQ(1u, got.size());
  EXPECT_EQ(ctx(3), got[0].RequestContext);
  EXPECT_EQ(NdkOperationTypeReceive, got[0].Type);
  EXPECT_EQ(16u, got[0].BytesTransferred);
  // One-shot: a further solicited receive without re-arming brings nothing.
  ASSERT_NT(STATUS_SUCCESS, rig.send(4, NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT));
  rig.take(1);
  quiet();
  EXPECT_EQ(1, rig.ncq.calls.load());
}

TEST_P(CqTest, solicited_and_any_arms_are_satisfied_by_an_error_completion) {
  for (ULONG type : {NDK_CQ_NOTIFY_SOLICITED, NDK_CQ_NOTIFY_ANY}) {
    SCOPED_TRACE(type == NDK_CQ_NOTIFY_ANY ? "ANY" : "SOLICITED");
    InstrumentedCqPair rig;
    ASSERT_TRUE(rig.setup(GetParam(), Side::Passive, 64, 4));
    rig.ncq.arm(type);
    // Flushing cancels the 4 receives: error completions.
    rig.pair->passive.q()->NdkFlush(rig.pair->passive.qp);
    ASSERT_TRUE(rig.ncq.wait_calls(1)) << "error completion did not satisfy the arm";
    EXPECT_NT(STATUS_SUCCESS, rig.ncq.last_status.load());
    auto got = rig.take(4);
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_NT(STATUS_CANCELLED, got[i].Status);
      EXPECT_EQ(ctx(i + 1), got[i].RequestContext);
    }
    quiet();
    EXPECT_EQ(1, rig.ncq.calls.load());
  }
}

TEST_P(CqTest, errors_arm_is_not_satisfied_by_completions) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Passive, 64, 8));
  rig.ncq.arm(NDK_CQ_NOTIFY_ERRORS);
  ASSERT_NT(STATUS_SUCCESS, rig.send(1));
  ASSERT_NT(STATUS_SUCCESS, rig.send(2, NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT));
  rig.take(2);
  rig.pair->passive.q()->NdkFlush(rig.pair->passive.qp);  // 6 cancelled receives
  auto got = rig.take(6);
  for (auto& r : got) EXPECT_NT(STATUS_CANCELLED, r.Status);
  quiet();
  EXPECT_EQ(0, rig.ncq.calls.load()) << "an ERRORS arm fired for ordinary/error completions";
}

// ---------------------------------------------------------------------------------------------
// Results (2.4.3, 2.4.4, 4.1.3)

TEST_P(CqTest, get_cq_results_returns_the_prefix_of_results_ex_and_both_can_be_mixed) {
  static_assert(sizeof(NDK_RESULT) == 0x18);
  static_assert(offsetof(NDK_RESULT_EX, Status) == offsetof(NDK_RESULT, Status));
  static_assert(offsetof(NDK_RESULT_EX, BytesTransferred) == offsetof(NDK_RESULT, BytesTransferred));
  static_assert(offsetof(NDK_RESULT_EX, QPContext) == offsetof(NDK_RESULT, QPContext));
  static_assert(offsetof(NDK_RESULT_EX, RequestContext) == offsetof(NDK_RESULT, RequestContext));
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 64));
  ASSERT_TRUE(rig.write_and_settle(0, 8));
  void* qp_context = &rig.pair->active;
  size_t next = 1;
  // Plain results: sentinel beyond nResults stays untouched.
  auto take_plain = [&](ULONG n) {
    NDK_RESULT r[4];
    std::memset(r, 0xCD, sizeof r);
    ULONG got = 0;
    ASSERT_TRUE(wait_until([&] {
      got += rig.ncq.poll_plain(r + got, n - got);
      return got == n;
    }));
    for (ULONG i = 0; i < n; ++i, ++next) {
      EXPECT_NT(STATUS_SUCCESS, r[i].Status);
      EXPECT_EQ(qp_context, r[i].QPContext);
      EXPECT_EQ(ctx(next), r[i].RequestContext);
    }
    auto* tail = reinterpret_cast<unsigned char*>(r + n);
    for (size_t b = 0; b < (4 - n) * sizeof(NDK_RESULT); ++b) ASSERT_EQ(0xCD, tail[b]);
  };
  auto take_ex = [&](ULONG n) {
    NDK_RESULT_EX r[4];
    std::memset(r, 0xCD, sizeof r);
    ULONG got = 0;
    ASSERT_TRUE(wait_until([&] {
      got += rig.ncq.poll(r + got, n - got);
      return got == n;
    }));
    for (ULONG i = 0; i < n; ++i, ++next) {
      EXPECT_NT(STATUS_SUCCESS, r[i].Status);
      EXPECT_EQ(qp_context, r[i].QPContext);
      EXPECT_EQ(ctx(next), r[i].RequestContext);
      EXPECT_EQ(NdkOperationTypeWrite, r[i].Type);
      EXPECT_EQ(0u, r[i].ProviderErrorCode);
    }
    auto* tail = reinterpret_cast<unsigned char*>(r + n);
    for (size_t b = 0; b < (4 - n) * sizeof(NDK_RESULT_EX); ++b) ASSERT_EQ(0xCD, tail[b]);
  };
  // nResults == 0 removes nothing.
  NDK_RESULT none[1];
  EXPECT_EQ(0u, rig.ncq.poll_plain(none, 0));
  take_plain(1);
  take_ex(2);
  take_plain(3);
  take_ex(1);
  take_plain(1);
  EXPECT_EQ(9u, next);
  NDK_RESULT_EX extra[4];
  EXPECT_EQ(0u, rig.ncq.poll(extra, 4));
  NDK_RESULT extra_plain[4];
  EXPECT_EQ(0u, rig.ncq.poll_plain(extra_plain, 4));
}

TEST_P(CqTest, receive_completions_through_plain_results_carry_bytes_and_contexts) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Passive, 64, 4));
  for (uintptr_t i = 1; i <= 3; ++i) ASSERT_NT(STATUS_SUCCESS, rig.send(100 + i));
  NDK_RESULT r[3];
  ULONG got = 0;
  ASSERT_TRUE(wait_until([&] {
    got += rig.ncq.poll_plain(r + got, 3 - got);
    return got == 3;
  }));
  for (ULONG i = 0; i < 3; ++i) {
    EXPECT_NT(STATUS_SUCCESS, r[i].Status);
    EXPECT_EQ(16u, r[i].BytesTransferred);
    EXPECT_EQ(&rig.pair->passive, r[i].QPContext);
    EXPECT_EQ(ctx(i + 1), r[i].RequestContext);
  }
}

TEST_P(CqTest, completions_of_one_queue_arrive_in_posting_order) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Passive, 256, 60));
  // Initiator queue (active side, the pair's own CQ): writes and sends interleaved.
  Region& dst = *rig.dst;
  std::vector<uintptr_t> expected;
  for (uintptr_t i = 0; i < 60; ++i) {
    if (i % 3 == 0) {
      ASSERT_NT(STATUS_SUCCESS, rig.send(1000 + i));
    } else {
      ASSERT_NT(STATUS_SUCCESS, post_write(rig.pair->active.qp, *rig.src, i * kSlot, kSlot, dst,
                                           i * kSlot, ctx(1000 + i)));
    }
    expected.push_back(1000 + i);
  }
  std::vector<NDK_RESULT_EX> initiator;
  ASSERT_TRUE(rig.pair->active.cq.collect(&initiator, 60));
  for (size_t i = 0; i < 60; ++i) {
    EXPECT_EQ(ctx(expected[i]), initiator[i].RequestContext) << i;
    EXPECT_EQ(i % 3 == 0 ? NdkOperationTypeSend : NdkOperationTypeWrite, initiator[i].Type) << i;
  }
  // Receive queue (passive side, instrumented CQ): receives complete in posting order.
  auto receives = rig.take(20);
  for (size_t i = 0; i < receives.size(); ++i) {
    EXPECT_EQ(ctx(i + 1), receives[i].RequestContext) << i;
    EXPECT_EQ(NdkOperationTypeReceive, receives[i].Type);
  }
}

// ---------------------------------------------------------------------------------------------
// NdkResizeCq (2.4.1, 6.22)

NTSTATUS resize(NDK_CQ* cq, ULONG depth) {
  return sync_request([&](NDK_FN_REQUEST_COMPLETION c, void* x) {
    return cq->Dispatch->NdkResizeCq(cq, depth, c, x);
  });
}

TEST_P(CqTest, resize_grows_shrinks_to_occupancy_rejects_below_and_above_and_keeps_entries) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 16));
  const ndkxx::Adapter& adapter = rig.pair->active;
  if (!adapter.has(NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED))
    GTEST_SKIP() << "adapter does not report NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED";
  ASSERT_TRUE(rig.write_and_settle(0, 6));  // occupancy 6
  NDK_CQ* cq = rig.ncq.cq;
  EXPECT_NT(STATUS_INVALID_PARAMETER, resize(cq, 5));  // below occupancy: no change
  EXPECT_NT(STATUS_INVALID_PARAMETER, resize(cq, 1));
  ULONG max = adapter.info().MaxCqDepth;
  if (max != MAXULONG) {
    EXPECT_NT(STATUS_INVALID_PARAMETER, resize(cq, max + 1));
  }
  EXPECT_NT(STATUS_SUCCESS, resize(cq, 64));  // bigger
  ASSERT_TRUE(rig.write_and_settle(6, 10));   // occupancy 10
  EXPECT_NT(STATUS_SUCCESS, resize(cq, 12));  // smaller but enough
  EXPECT_NT(STATUS_SUCCESS, resize(cq, 10));  // exactly the occupancy
  EXPECT_NT(STATUS_INVALID_PARAMETER, resize(cq, 9));
  auto got = rig.take(10);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NT(STATUS_SUCCESS, got[i].Status);
    EXPECT_EQ(ctx(i + 1), got[i].RequestContext) << "entry " << i << " not preserved in order";
    EXPECT_EQ(NdkOperationTypeWrite, got[i].Type);
  }
  NDK_RESULT_EX extra;
  EXPECT_EQ(0u, rig.ncq.poll(&extra, 1));
  // The CQ still works at its new size.
  ASSERT_TRUE(rig.write_and_settle(10, 20));
  got = rig.take(10);
  ASSERT_EQ(10u, got.size());
  EXPECT_EQ(ctx(11), got.front().RequestContext);
  EXPECT_EQ(ctx(20), got.back().RequestContext);
}

TEST_P(CqTest, resize_bigger_capacity_is_usable) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 4));
  if (!rig.pair->active.has(NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED))
    GTEST_SKIP() << "adapter does not report NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED";
  ASSERT_NT(STATUS_SUCCESS, resize(rig.ncq.cq, 40));
  rig.ncq.arm(NDK_CQ_NOTIFY_ERRORS);
  ASSERT_TRUE(rig.write_and_settle(0, 30));  // far beyond the original depth
  auto got = rig.take(30);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NT(STATUS_SUCCESS, got[i].Status);
    EXPECT_EQ(ctx(i + 1), got[i].RequestContext);
  }
  quiet();
  EXPECT_EQ(0, rig.ncq.calls.load()) << "overrun reported although the CQ was enlarged";
}

TEST_P(CqTest, resize_smaller_capacity_is_enforced) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 64));
  if (!rig.pair->active.has(NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED))
    GTEST_SKIP() << "adapter does not report NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED";
  ASSERT_NT(STATUS_SUCCESS, resize(rig.ncq.cq, 4));
  rig.ncq.arm(NDK_CQ_NOTIFY_ERRORS);
  for (size_t i = 0; i < 5; ++i) ASSERT_NT(STATUS_SUCCESS, rig.write(i));
  ASSERT_TRUE(rig.ncq.wait_calls(1)) << "5 completions in a CQ resized to 4 did not overrun";
  EXPECT_NT(STATUS_BUFFER_OVERFLOW, rig.ncq.last_status.load());
}

TEST_P(CqTest, resize_without_capability_returns_not_supported) {
  AdapterFixture adapter(with_option(GetParam(), "cq_resize", "0"));
  ASSERT_NT(STATUS_SUCCESS, adapter.open_status());
  ASSERT_FALSE(adapter.has(NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED));
  NDK_CQ* cq = nullptr;
  ASSERT_NT(STATUS_SUCCESS, create_cq(adapter.get(), 16, &cq));
  EXPECT_NT(STATUS_NOT_SUPPORTED, resize(cq, 32));
  EXPECT_NT(STATUS_NOT_SUPPORTED, resize(cq, 8));
  EXPECT_TRUE(close_object(cq));
}

// ---------------------------------------------------------------------------------------------
// NdkControlCqInterruptModeration (2.4.5)

TEST_P(CqTest, moderation_parameter_table) {
  AdapterFixture adapter(GetParam());
  ASSERT_NT(STATUS_SUCCESS, adapter.open_status());
  if (!adapter.has(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED))
    GTEST_SKIP() << "adapter does not report NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED";
  NDK_CQ* cq = nullptr;
  constexpr ULONG kDepth = 16;
  ASSERT_NT(STATUS_SUCCESS, create_cq(adapter.get(), kDepth, &cq));
  struct Case {
    ULONG interval, count;
    NTSTATUS status;
  };
  const Case cases[] = {
      {MAXULONG, MAXULONG, STATUS_INVALID_PARAMETER_MIX},   // both unbounded
      {MAXULONG, kDepth + 1, STATUS_INVALID_PARAMETER_MIX},  // count above depth = unbounded
      {MAXULONG, 1000000, STATUS_INVALID_PARAMETER_MIX},
      {0, 0, STATUS_SUCCESS},                                // no moderation
      {0, 5, STATUS_SUCCESS},
      {0, MAXULONG, STATUS_SUCCESS},
      {100, 0, STATUS_SUCCESS},
      {100, 1, STATUS_SUCCESS},
      {MAXULONG, 0, STATUS_SUCCESS},  // count 0/1: no moderation whatever the interval
      {MAXULONG, 1, STATUS_SUCCESS},
      {MAXULONG, 4, STATUS_SUCCESS},           // count only
      {MAXULONG, kDepth, STATUS_SUCCESS},
      {100, MAXULONG, STATUS_SUCCESS},         // interval only
      {100, kDepth + 1, STATUS_SUCCESS},
      {100, 4, STATUS_SUCCESS},                // both finite
      {1, 2, STATUS_SUCCESS},
      {MAXULONG - 1, 2, STATUS_SUCCESS},       // huge interval may be rounded down
      {0, 0, STATUS_SUCCESS},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "interval " << c.interval << " count " << c.count);
    NTSTATUS s = cq->Dispatch->NdkControlCqInterruptModeration(cq, c.interval, c.count);
    EXPECT_NT(c.status, s);  // never STATUS_PENDING, even in pending mode
  }
  EXPECT_TRUE(close_object(cq));
}

TEST_P(CqTest, moderation_without_capability_returns_not_supported) {
  AdapterFixture adapter(with_option(GetParam(), "cq_moderation", "0"));
  ASSERT_NT(STATUS_SUCCESS, adapter.open_status());
  ASSERT_FALSE(adapter.has(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED));
  NDK_CQ* cq = nullptr;
  ASSERT_NT(STATUS_SUCCESS, create_cq(adapter.get(), 16, &cq));
  const std::pair<ULONG, ULONG> cases[] = {
      {0, 0}, {100, 4}, {MAXULONG, 4}, {100, MAXULONG}, {MAXULONG, MAXULONG}};
  for (auto [interval, count] : cases) {
    SCOPED_TRACE(::testing::Message() << "interval " << interval << " count " << count);
    EXPECT_NT(STATUS_NOT_SUPPORTED,
              cq->Dispatch->NdkControlCqInterruptModeration(cq, interval, count));
  }
  EXPECT_TRUE(close_object(cq));
}

TEST_P(CqTest, count_moderation_holds_the_notification_until_count_completions) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 64));
  if (!rig.pair->active.has(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED))
    GTEST_SKIP() << "adapter does not report NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED";
  ASSERT_NT(STATUS_SUCCESS, rig.ncq.cq->Dispatch->NdkControlCqInterruptModeration(rig.ncq.cq,
                                                                                 MAXULONG, 4));
  rig.ncq.arm(NDK_CQ_NOTIFY_ANY);
  ASSERT_TRUE(rig.write_and_settle(0, 1));
  quiet();
  EXPECT_EQ(0, rig.ncq.calls.load()) << "notified after 1 of 4 completions";
  ASSERT_TRUE(rig.write_and_settle(1, 3));
  quiet();
  EXPECT_EQ(0, rig.ncq.calls.load()) << "notified after 3 of 4 completions";
  ASSERT_NT(STATUS_SUCCESS, rig.write(3));
  ASSERT_TRUE(rig.ncq.wait_calls(1)) << "count reached but no notification";
  EXPECT_NT(STATUS_SUCCESS, rig.ncq.last_status.load());
  auto got = rig.take(4);  // moderation never changes what is in the CQ
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(ctx(i + 1), got[i].RequestContext);
}

TEST_P(CqTest, interval_bound_releases_a_notification_the_count_would_hold) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 64));
  if (!rig.pair->active.has(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED))
    GTEST_SKIP() << "adapter does not report NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED";
  for (ULONG count : {ULONG{32}, MAXULONG}) {  // both finite; interval only
    SCOPED_TRACE(count);
    ASSERT_NT(STATUS_SUCCESS,
              rig.ncq.cq->Dispatch->NdkControlCqInterruptModeration(rig.ncq.cq, 50000, count));
    int base = rig.ncq.calls.load();
    rig.ncq.arm(NDK_CQ_NOTIFY_ANY);
    size_t i = count == 32 ? 0 : 1;
    ASSERT_NT(STATUS_SUCCESS, rig.write(i));
    EXPECT_TRUE(rig.ncq.wait_calls(base + 1)) << "the interval bound never released it";
    rig.take(1);
  }
}

TEST_P(CqTest, newer_moderation_settings_release_a_held_notification) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 64));
  if (!rig.pair->active.has(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED))
    GTEST_SKIP() << "adapter does not report NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED";
  NDK_CQ* cq = rig.ncq.cq;
  ASSERT_NT(STATUS_SUCCESS, cq->Dispatch->NdkControlCqInterruptModeration(cq, MAXULONG, 8));
  rig.ncq.arm(NDK_CQ_NOTIFY_ANY);
  ASSERT_TRUE(rig.write_and_settle(0, 2));
  quiet();
  EXPECT_EQ(0, rig.ncq.calls.load());
  ASSERT_NT(STATUS_SUCCESS, cq->Dispatch->NdkControlCqInterruptModeration(cq, 0, 0));
  EXPECT_TRUE(rig.ncq.wait_calls(1)) << "switching moderation off did not release it";
  rig.take(2);
}

// ---------------------------------------------------------------------------------------------
// Overrun (2.1.4, 4.1.4)

// After an overrun: nothing can be polled and posting on the QP fails inline.
void expect_dead_qp(NotifyCq& ncq, NDK_QP* qp, Region& local, Region& remote) {
  NDK_RESULT plain[4];
  NDK_RESULT_EX ex[4];
  EXPECT_EQ(0u, ncq.poll_plain(plain, 4)) << "results reported after the overrun";
  EXPECT_EQ(0u, ncq.poll(ex, 4)) << "results reported after the overrun";
  NDK_SGE sge = local.sge(0, 16);
  EXPECT_NT(STATUS_CONNECTION_INVALID, qp->Dispatch->NdkSend(qp, ctx(901), &sge, 1, 0));
  EXPECT_NT(STATUS_CONNECTION_INVALID,
            qp->Dispatch->NdkWrite(qp, ctx(902), &sge, 1, remote.address(), remote.remote_token(), 0));
  EXPECT_NT(STATUS_CONNECTION_INVALID, qp->Dispatch->NdkReceive(qp, ctx(903), &sge, 1));
}

TEST_P(CqTest, overrun_while_armed_reports_buffer_overflow_and_kills_the_qp) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 2));
  rig.ncq.arm(NDK_CQ_NOTIFY_ERRORS);  // completions do not satisfy it; the overrun does
  for (size_t i = 0; i < 3; ++i) ASSERT_NT(STATUS_SUCCESS, rig.write(i));
  ASSERT_TRUE(rig.ncq.wait_calls(1)) << "no notification for the overrun";
  EXPECT_NT(STATUS_BUFFER_OVERFLOW, rig.ncq.last_status.load());
  expect_dead_qp(rig.ncq, rig.pair->active.qp, *rig.src, *rig.dst);
  quiet();
  EXPECT_EQ(1, rig.ncq.calls.load());
  // the NDKPI reference: the connection is aborted; the peer sees it.
  EXPECT_TRUE(wait_until([&] { return rig.pair->passive.disconnects.count.load() == 1; }))
      << "the peer was not told that the connection died";
}

TEST_P(CqTest, overrun_while_disarmed_is_reported_at_the_next_arm) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Active, 2));
  for (size_t i = 0; i < 3; ++i) ASSERT_NT(STATUS_SUCCESS, rig.write(i));
  // Wait until the CQ died (probe writes add completions to the overrun, which is fine).
  size_t probe = 3;
  ASSERT_TRUE(wait_until([&] {
    NTSTATUS s = rig.write(probe % 256);
    if (s == STATUS_SUCCESS) ++probe;
    return s == STATUS_CONNECTION_INVALID;
  })) << "posting never failed after the overrun";
  quiet();
  EXPECT_EQ(0, rig.ncq.calls.load()) << "notification without an arm";
  rig.ncq.arm(NDK_CQ_NOTIFY_ANY);
  ASSERT_TRUE(rig.ncq.wait_calls(1)) << "the remembered overrun was not reported at the arm";
  EXPECT_NT(STATUS_BUFFER_OVERFLOW, rig.ncq.last_status.load());
  EXPECT_EQ(0, rig.ncq.inside_arm.load());
  expect_dead_qp(rig.ncq, rig.pair->active.qp, *rig.src, *rig.dst);
  // Reported once: a further arm brings nothing more.
  rig.ncq.arm(NDK_CQ_NOTIFY_ANY);
  quiet();
  EXPECT_EQ(1, rig.ncq.calls.load());
}

// Overruns the passive side's receive CQ (depth 2) with 3 receives (silent sends on the active
// side), with an ERRORS arm in place.
void overrun_receive_cq(InstrumentedCqPair& rig) {
  rig.ncq.arm(NDK_CQ_NOTIFY_ERRORS);
  for (uintptr_t i = 1; i <= 3; ++i)
    ASSERT_NT(STATUS_SUCCESS, rig.send(i, NDK_OP_FLAG_SILENT_SUCCESS));
  ASSERT_TRUE(rig.ncq.wait_calls(1)) << "no notification for the overrun";
  EXPECT_NT(STATUS_BUFFER_OVERFLOW, rig.ncq.last_status.load());
}

TEST_P(CqTest, receive_overrun_reports_buffer_overflow_and_kills_the_qp) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Passive, 2, 4));
  ASSERT_NO_FATAL_FAILURE(overrun_receive_cq(rig));
  expect_dead_qp(rig.ncq, rig.pair->passive.qp, *rig.rx, *rig.dst);
  quiet();
  EXPECT_EQ(1, rig.ncq.calls.load());
}

// Regression test for a provider bug fixed earlier (see git history).
TEST_P(CqTest, receive_overrun_aborts_the_connection_and_the_peer_sees_it) {
  InstrumentedCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), Side::Passive, 2, 4));
  ASSERT_NO_FATAL_FAILURE(overrun_receive_cq(rig));
  EXPECT_TRUE(wait_until([&] { return rig.pair->active.disconnects.count.load() == 1; }))
      << "the peer was not told that the connection died";
}

// A pair whose active QP has separate receive and initiator CQs; one of them is a small
// instrumented CQ, the other the pair's own (large) CQ.
struct SplitCqPair {
  NotifyCq small;  // declared first: outlives the pair's QPs
  std::unique_ptr<ConnectedPairFixture> pair;
  std::unique_ptr<Region> rx, tx, src, dst;

  bool setup(const std::string& uri, bool small_is_receive_cq) {
    pair = std::make_unique<ConnectedPairFixture>(uri);
    if (pair->active.get() == nullptr) return ADD_FAILURE() << "adapter open", false;
    NTSTATUS s = small.create(pair->active.get(), 2);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create CQ: " << status_name(s), false;
    bool ok = pair->connect([&](ConnectedPairFixture& p) {
      NDK_CQ* big = p.active.cq.get();
      if (!p.active.replace_qp(small_is_receive_cq ? small.cq : big,
                               small_is_receive_cq ? big : small.cq))
        return;
      rx = std::make_unique<Region>(p.active.pd, 4 * kSlot, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
      if (small_is_receive_cq) {
        for (int i = 0; i < 4; ++i) {
          NTSTATUS r = post_receive(p.active.qp, *rx, i * kSlot, kSlot, ctx(i + 1));
          if (r != STATUS_SUCCESS) ADD_FAILURE() << "pre-post receive: " << status_name(r);
        }
      }
    });
    if (!ok) return false;
    tx = std::make_unique<Region>(pair->passive.pd, kSlot, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, 0x42);
    src = std::make_unique<Region>(pair->active.pd, kSlot, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, 0x43);
    dst = std::make_unique<Region>(pair->passive.pd, 8 * kSlot, NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
    return rx->status() == STATUS_SUCCESS && tx->status() == STATUS_SUCCESS &&
           src->status() == STATUS_SUCCESS && dst->status() == STATUS_SUCCESS;
  }
  ~SplitCqPair() {
    rx.reset();
    tx.reset();
    src.reset();
    dst.reset();
    if (pair != nullptr) {
      EXPECT_TRUE(pair->teardown());
    }
    small.close();  // before the adapter close, which waits for it
    pair.reset();
  }
};

// Regression test for a provider bug fixed earlier (see git history).
TEST_P(CqTest, receive_cq_overrun_makes_initiator_posts_fail_on_a_qp_with_separate_cqs) {
  SplitCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), true));
  rig.small.arm(NDK_CQ_NOTIFY_ERRORS);
  for (uintptr_t i = 1; i <= 3; ++i)
    ASSERT_NT(STATUS_SUCCESS, post_send(rig.pair->passive.qp, *rig.tx, 0, 16, ctx(i),
                                        NDK_OP_FLAG_SILENT_SUCCESS));
  ASSERT_TRUE(rig.small.wait_calls(1)) << "no notification for the receive CQ overrun";
  EXPECT_NT(STATUS_BUFFER_OVERFLOW, rig.small.last_status.load());
  NDK_QP* qp = rig.pair->active.qp;
  NDK_SGE sge = rig.src->sge(0, 16);
  EXPECT_NT(STATUS_CONNECTION_INVALID, qp->Dispatch->NdkReceive(qp, ctx(51), &sge, 1));
  // The QP is dead as a whole: its initiator queue, whose CQ is fine, included.
  EXPECT_NT(STATUS_CONNECTION_INVALID, qp->Dispatch->NdkSend(qp, ctx(50), &sge, 1, 0));
  EXPECT_NT(STATUS_CONNECTION_INVALID,
            qp->Dispatch->NdkWrite(qp, ctx(52), &sge, 1, rig.dst->address(), rig.dst->remote_token(), 0));
  NDK_RESULT_EX r[8];
  EXPECT_EQ(0u, rig.small.poll(r, 8));
}

// Regression test for a provider bug fixed earlier (see git history).
TEST_P(CqTest, initiator_cq_overrun_makes_receive_posts_fail_on_a_qp_with_separate_cqs) {
  SplitCqPair rig;
  ASSERT_TRUE(rig.setup(GetParam(), false));
  rig.small.arm(NDK_CQ_NOTIFY_ERRORS);
  for (size_t i = 0; i < 3; ++i)
    ASSERT_NT(STATUS_SUCCESS, post_write(rig.pair->active.qp, *rig.src, 0, 16, *rig.dst,
                                         i * kSlot, ctx(i + 1)));
  ASSERT_TRUE(rig.small.wait_calls(1)) << "no notification for the initiator CQ overrun";
  EXPECT_NT(STATUS_BUFFER_OVERFLOW, rig.small.last_status.load());
  NDK_QP* qp = rig.pair->active.qp;
  NDK_SGE sge = rig.rx->sge(0, 16);
  EXPECT_NT(STATUS_CONNECTION_INVALID, qp->Dispatch->NdkSend(qp, ctx(50), &sge, 1, 0));
  EXPECT_NT(STATUS_CONNECTION_INVALID, qp->Dispatch->NdkReceive(qp, ctx(51), &sge, 1));
  NDK_RESULT_EX r[8];
  EXPECT_EQ(0u, rig.small.poll(r, 8));
}

INSTANTIATE_TEST_SUITE_P(Uris, CqTest, ::testing::ValuesIn(ndktest::test_uris()));
INSTANTIATE_TEST_SUITE_P(PendingUris, CqTest, ::testing::ValuesIn(ndktest::pending_uris()));

}  // namespace
