// Remote access checks (Microsoft's NDKPI reference): the target of an RDMA
// write or read grants exactly the rights, the bounds and the protection domain of the token's
// registration; a refused access fails the requester's request (STATUS_ACCESS_VIOLATION, or
// STATUS_REMOTE_RESOURCES for a read past the end), breaks the connection (both sides see a
// disconnect event, later requests are cancelled) and touches no byte of the target. Also
// local protection (receive and read sinks), memory windows and NdkSendAndInvalidate.
// Every test runs against each test URI and the same URI with pending=always.
#include <gtest/gtest.h>

#include <algorithm>

#include "fixtures.h"
#include "memory_helpers.h"
#include "ndk_test.h"

namespace {
using namespace ndktest;
using namespace ndktest::mem;

class RemoteAccessChecks : public ::testing::TestWithParam<std::string> {};

constexpr ULONG kRemoteRw = NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ;
constexpr ULONG kOpRemoteRw = NDK_OP_FLAG_ALLOW_REMOTE_WRITE | NDK_OP_FLAG_ALLOW_REMOTE_READ;
constexpr uint64_t kFrBase = 0x0000200000000000ull;
// Guarded target: 2000 registered bytes at offset 4196 of a 3-page allocation.
constexpr size_t kTotal = 3 * 4096;
constexpr size_t kOffset = 4096 + 100;
constexpr size_t kLength = 2000;

void* ctx(uintptr_t v) { return reinterpret_cast<void*>(v); }

// For each case: a fresh connected pair and guarded target (flags `flags`), then one refused
// access described by `run`.
void for_each_fresh_target(
    const std::string& uri, ULONG flags, int cases,
    const std::function<void(MemoryPairFixture&, GuardedRegion&, int)>& run) {
  for (int i = 0; i < cases; ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    MemoryPairFixture mp(uri);
    ASSERT_TRUE(mp.connect());
    GuardedRegion target(mp.passive.pd, kTotal, kOffset, kLength, flags);
    ASSERT_NT(STATUS_SUCCESS, target.status);
    run(mp, target, i);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// ---------------------------------------------------------------------------------------------
// Rights and bounds of normal registrations

TEST_P(RemoteAccessChecks, remote_write_and_read_inside_region_touch_only_the_grant) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  GuardedRegion target(mp.passive.pd, kTotal, kOffset, kLength, kRemoteRw);
  ASSERT_NT(STATUS_SUCCESS, target.status);
  // The whole region, exactly.
  fill_pattern(mp.active_buffer->data(), kLength, 2);
  NDK_SGE sge = mp.active_buffer->sge(0, kLength);
  ASSERT_TRUE(completed_with(rdma_write(mp.active, &sge, 1, target.base(),
                                        target.remote_token(), ctx(1)),
                             STATUS_SUCCESS, NdkOperationTypeWrite, ctx(1)));
  ASSERT_TRUE(mp.fence_writes());
  EXPECT_EQ(kLength, pattern_mismatch(target.buffer.data() + kOffset, kLength, 2));
  EXPECT_TRUE(target.guards_intact());
  // First and last byte alone.
  for (size_t at : {size_t{0}, kLength - 1}) {
    mp.active_buffer->data()[0] = 0xC4;
    NDK_SGE one = mp.active_buffer->sge(0, 1);
    ASSERT_TRUE(completed_with(rdma_write(mp.active, &one, 1, target.base() + at,
                                          target.remote_token(), ctx(2)),
                               STATUS_SUCCESS, NdkOperationTypeWrite, ctx(2)));
    ASSERT_TRUE(mp.fence_writes());
    EXPECT_EQ(1u, first_mismatch(target.buffer.data() + kOffset + at, 1, 0xC4));
  }
  EXPECT_TRUE(target.guards_intact());
  // Read it all back.
  std::memset(mp.active_buffer->data(), 0, kLength);
  ASSERT_TRUE(completed_with(rdma_read(mp.active, &sge, 1, target.base(),
                                       target.remote_token(), ctx(3)),
                             STATUS_SUCCESS, NdkOperationTypeRead, ctx(3)));
  EXPECT_EQ(0, std::memcmp(mp.active_buffer->data(), target.buffer.data() + kOffset, kLength));
}

TEST_P(RemoteAccessChecks, region_rights_allow_the_flagged_remote_operations) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  GuardedRegion read_only(mp.passive.pd, kTotal, kOffset, kLength,
                          NDK_MR_FLAG_ALLOW_REMOTE_READ);
  GuardedRegion write_only(mp.passive.pd, kTotal, kOffset, kLength,
                           NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
  ASSERT_NT(STATUS_SUCCESS, read_only.status);
  ASSERT_NT(STATUS_SUCCESS, write_only.status);
  fill_pattern(read_only.buffer.data() + kOffset, kLength, 4);
  NDK_SGE sge = mp.active_buffer->sge(0, kLength);
  EXPECT_TRUE(completed_with(rdma_read(mp.active, &sge, 1, read_only.base(),
                                       read_only.remote_token(), ctx(1)),
                             STATUS_SUCCESS, NdkOperationTypeRead, ctx(1)));
  EXPECT_EQ(kLength, pattern_mismatch(mp.active_buffer->data(), kLength, 4));
  fill_pattern(mp.active_buffer->data(), kLength, 5);
  EXPECT_TRUE(completed_with(rdma_write(mp.active, &sge, 1, write_only.base(),
                                        write_only.remote_token(), ctx(2)),
                             STATUS_SUCCESS, NdkOperationTypeWrite, ctx(2)));
  ASSERT_TRUE(mp.fence_writes());
  EXPECT_EQ(kLength, pattern_mismatch(write_only.buffer.data() + kOffset, kLength, 5));
  EXPECT_TRUE(write_only.guards_intact());
}

TEST_P(RemoteAccessChecks, remote_write_without_remote_write_right_fails_and_breaks_connection) {
  const ULONG flag_cases[] = {NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ,
                              NDK_MR_FLAG_ALLOW_REMOTE_READ, NDK_MR_FLAG_ALLOW_LOCAL_READ,
                              NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK};
  for (ULONG flags : flag_cases) {
    SCOPED_TRACE("flags " + hex(flags));
    for_each_fresh_target(GetParam(), flags, 1, [](MemoryPairFixture& mp, GuardedRegion& t, int) {
      expect_refused(mp, true, t.base(), 64, t.remote_token(), {STATUS_ACCESS_VIOLATION},
                     [&] { return t.untouched(); });
    });
  }
}

TEST_P(RemoteAccessChecks, remote_read_without_remote_read_right_fails_and_breaks_connection) {
  const ULONG flag_cases[] = {NDK_MR_FLAG_ALLOW_REMOTE_WRITE, NDK_MR_FLAG_ALLOW_LOCAL_WRITE,
                              NDK_MR_FLAG_ALLOW_LOCAL_READ,
                              NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK};
  for (ULONG flags : flag_cases) {
    SCOPED_TRACE("flags " + hex(flags));
    for_each_fresh_target(GetParam(), flags, 1, [](MemoryPairFixture& mp, GuardedRegion& t, int) {
      expect_refused(mp, false, t.base(), 64, t.remote_token(), {STATUS_ACCESS_VIOLATION},
                     [&] { return t.untouched(); });
    });
  }
}

// One access per case (of `length` bytes at `offset` from the start of the region, which may be
// negative) on a fresh pair and guarded target with remote read and write rights: refused.
struct Range {
  int64_t offset;
  ULONG length;
};

void refuse_each(const std::string& uri, bool write, const std::vector<Range>& cases,
                 const std::vector<NTSTATUS>& accepted) {
  for_each_fresh_target(uri, kRemoteRw, static_cast<int>(cases.size()),
                        [&](MemoryPairFixture& mp, GuardedRegion& t, int i) {
                          expect_refused(mp, write, t.base() + cases[i].offset, cases[i].length,
                                         t.remote_token(), accepted, [&] { return t.untouched(); });
                        });
}

// Straddling the end, starting at the end, and longer than the region.
const std::vector<Range> kPastTheEnd = {{kLength - 10, 20}, {kLength, 1}, {0, kLength + 1}};

TEST_P(RemoteAccessChecks, remote_write_past_region_end_fails_with_access_violation) {
  refuse_each(GetParam(), true, kPastTheEnd, {STATUS_ACCESS_VIOLATION});
}

TEST_P(RemoteAccessChecks, remote_write_before_region_start_fails_with_access_violation) {
  refuse_each(GetParam(), true, {{-10, 20}, {-1, 1}, {-100, 64}}, {STATUS_ACCESS_VIOLATION});
}

TEST_P(RemoteAccessChecks, remote_write_with_wrapping_address_range_fails) {
  for_each_fresh_target(GetParam(), kRemoteRw, 1,
                        [&](MemoryPairFixture& mp, GuardedRegion& t, int) {
                          expect_refused(
                              mp, true, UINT64_MAX - 15, 64, t.remote_token(),
                              {STATUS_ACCESS_VIOLATION}, [&] { return t.untouched(); }, true);
                        });
}

TEST_P(RemoteAccessChecks, remote_read_past_region_end_fails_with_remote_resources) {
  refuse_each(GetParam(), false, kPastTheEnd, {STATUS_REMOTE_RESOURCES});
}

TEST_P(RemoteAccessChecks, remote_read_before_region_start_fails) {
  // Outside the region, so "beyond the remote region" (REMOTE_RESOURCES) or a protection error.
  refuse_each(GetParam(), false, {{-10, 20}, {-1, 1}},
              {STATUS_REMOTE_RESOURCES, STATUS_ACCESS_VIOLATION});
}

TEST_P(RemoteAccessChecks, remote_read_with_wrapping_address_range_fails) {
  for_each_fresh_target(GetParam(), kRemoteRw, 1,
                        [&](MemoryPairFixture& mp, GuardedRegion& t, int) {
                          expect_refused(
                              mp, false, UINT64_MAX - 15, 64, t.remote_token(),
                              {STATUS_REMOTE_RESOURCES, STATUS_ACCESS_VIOLATION},
                              [&] { return t.untouched(); }, true);
                        });
}

// Tokens that name no registration: zero, a valid token with another key, all ones, junk.
UINT32 garbage_token(UINT32 valid, int i) {
  switch (i) {
    case 0:
      return 0;
    case 1:
      return valid ^ 0x1;
    case 2:
      return valid ^ 0x800;
    case 3:
      return 0xFFFFFFFFu;
    default:
      return 0xDEADBEEFu;
  }
}

// Five accesses, each on a fresh pair and guarded target, naming garbage_token(i): refused.
void refuse_garbage_tokens(const std::string& uri, bool write) {
  for_each_fresh_target(uri, kRemoteRw, 5, [&](MemoryPairFixture& mp, GuardedRegion& t, int i) {
    expect_refused(mp, write, t.base(), 64, garbage_token(t.remote_token(), i),
                   {STATUS_ACCESS_VIOLATION}, [&] { return t.untouched(); });
  });
}

TEST_P(RemoteAccessChecks, remote_write_with_garbage_token_fails) {
  refuse_garbage_tokens(GetParam(), true);
}

TEST_P(RemoteAccessChecks, remote_read_with_garbage_token_fails) {
  refuse_garbage_tokens(GetParam(), false);
}

// The target region lives in a second PD of the passive adapter; the passive QP is in the first.
void check_other_pd_token_refused(const std::string& uri, bool write) {
  MemoryPairFixture mp(uri);
  ASSERT_TRUE(mp.connect());
  PdHandle other(mp.passive);
  ASSERT_NT(STATUS_SUCCESS, other.status);
  GuardedRegion target(other.pd, kTotal, kOffset, kLength, kRemoteRw);
  ASSERT_NT(STATUS_SUCCESS, target.status);
  expect_refused(mp, write, target.base(), 64, target.remote_token(), {STATUS_ACCESS_VIOLATION},
                 [&] { return target.untouched(); });
}

TEST_P(RemoteAccessChecks, remote_write_with_token_of_another_pd_fails) {
  check_other_pd_token_refused(GetParam(), true);
}

TEST_P(RemoteAccessChecks, remote_read_with_token_of_another_pd_fails) {
  check_other_pd_token_refused(GetParam(), false);
}

// ---------------------------------------------------------------------------------------------
// Local protection

// A request of the active side that breaks local protection (Microsoft's NDKPI reference): refused
// inline with
// STATUS_ACCESS_VIOLATION (nothing queued; validating at post time is allowed), or completed
// with it; then the QP errors out and the peer is disconnected.
void expect_local_access_violation(MemoryPairFixture& mp, const Outcome& o, NDK_OPERATION_TYPE type,
                                   void* context) {
  if (o.inline_status != STATUS_SUCCESS) {
    EXPECT_NT(STATUS_ACCESS_VIOLATION, o.inline_status);
    EXPECT_TRUE(stays_empty(mp.active.cq));
    return;
  }
  EXPECT_TRUE(completed_with(o, STATUS_ACCESS_VIOLATION, type, context));
  expect_connection_broken(mp, false);
}

TEST_P(RemoteAccessChecks, receive_into_region_without_local_write_fails) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect({.receives = 0}));
  Region target(mp.passive.pd, 4096, NDK_MR_FLAG_ALLOW_REMOTE_READ, 0x11);
  ASSERT_NT(STATUS_SUCCESS, target.status());
  NTSTATUS posted = post_receive(mp.passive.qp, target, 0, 512, ctx(0xAA));
  if (posted != STATUS_SUCCESS) {
    // Validated at post time (Microsoft's NDKPI reference): refused inline, nothing queued.
    EXPECT_NT(STATUS_ACCESS_VIOLATION, posted);
    EXPECT_TRUE(stays_empty(mp.passive.cq));
    return;
  }
  std::memset(mp.active_buffer->data(), 0x5A, 100);
  Outcome sent = finish(mp.active.cq, post_send(mp.active.qp, *mp.active_buffer, 0, 100,
                                                     ctx(0xBB)));
  EXPECT_NT(STATUS_SUCCESS, sent.inline_status);
  EXPECT_EQ(NdkOperationTypeSend, sent.result.Type);
  EXPECT_EQ(ctx(0xBB), sent.result.RequestContext);
  NDK_RESULT_EX r{};
  ASSERT_TRUE(mp.passive.cq.next(&r));
  EXPECT_EQ(ctx(0xAA), r.RequestContext);
  EXPECT_EQ(NdkOperationTypeReceive, r.Type);
  EXPECT_NT(STATUS_ACCESS_VIOLATION, r.Status);
  EXPECT_EQ(4096u, first_mismatch(target.data(), 4096, 0x11));
  expect_connection_broken(mp, true);
}

TEST_P(RemoteAccessChecks, rdma_read_into_sink_without_read_sink_right_fails_when_required) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  if (mp.active.has(NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED))
    GTEST_SKIP() << "adapter reports NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED";
  Region source(mp.passive.pd, 4096, NDK_MR_FLAG_ALLOW_REMOTE_READ, 0x33);
  ASSERT_NT(STATUS_SUCCESS, source.status());
  Region sink(mp.active.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, 0x55);
  ASSERT_NT(STATUS_SUCCESS, sink.status());
  NDK_SGE sge = sink.sge(0, 1000);
  Outcome o = rdma_read(mp.active, &sge, 1, source.address(), source.remote_token(), ctx(1));
  EXPECT_EQ(4096u, first_mismatch(sink.data(), 4096, 0x55)) << "the sink was written";
  expect_local_access_violation(mp, o, NdkOperationTypeRead, ctx(1));
}

TEST_P(RemoteAccessChecks, rdma_read_into_sink_without_read_sink_right_works_when_not_required) {
  MemoryPairFixture mp(with_option(GetParam(), "read_sink_not_required=1"));
  ASSERT_TRUE(mp.connect());
  if (!mp.active.has(NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED))
    GTEST_SKIP() << "adapter does not report NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED";
  Region source(mp.passive.pd, 4096, NDK_MR_FLAG_ALLOW_REMOTE_READ);
  ASSERT_NT(STATUS_SUCCESS, source.status());
  fill_pattern(source.data(), 3000, 7);
  Region sink(mp.active.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, 0x55);
  ASSERT_NT(STATUS_SUCCESS, sink.status());
  NDK_SGE sge = sink.sge(0, 3000);
  EXPECT_TRUE(completed_with(
      rdma_read(mp.active, &sge, 1, source.address(), source.remote_token(), ctx(1)),
      STATUS_SUCCESS, NdkOperationTypeRead, ctx(1)));
  EXPECT_EQ(3000u, pattern_mismatch(sink.data(), 3000, 7));
  EXPECT_EQ(1096u, first_mismatch(sink.data() + 3000, 1096, 0x55));
}

TEST_P(RemoteAccessChecks, send_gathering_outside_its_local_region_fails) {
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(i == 0 ? "SGE past the region end" : "SGE with a garbage token");
    MemoryPairFixture mp(GetParam());
    ASSERT_TRUE(mp.connect());
    Region source(mp.active.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, 0x33);
    ASSERT_NT(STATUS_SUCCESS, source.status());
    NDK_SGE sge = i == 0 ? source.sge(4096 - 10, 20) : source.sge(0, 20);
    if (i == 1) sge.MemoryRegionToken ^= 0x1;
    Outcome o = finish(mp.active.cq,
                       mp.active.q()->NdkSend(mp.active.qp, ctx(1), &sge, 1, 0));
    expect_local_access_violation(mp, o, NdkOperationTypeSend, ctx(1));
  }
}

// ---------------------------------------------------------------------------------------------
// Fast-registered regions

TEST_P(RemoteAccessChecks, fast_registered_region_bounds_are_enforced) {
  struct Case {
    bool write;
    int64_t offset;
    ULONG length;
    std::vector<NTSTATUS> accepted;
  };
  const size_t length = 8000;
  const Case cases[] = {
      {true, static_cast<int64_t>(length) - 10, 20, {STATUS_ACCESS_VIOLATION}},
      {true, -16, 32, {STATUS_ACCESS_VIOLATION}},
      {false, static_cast<int64_t>(length) - 10, 20, {STATUS_REMOTE_RESOURCES}},
  };
  for (const Case& c : cases) {
    MemoryPairFixture mp(GetParam());
    ASSERT_TRUE(mp.connect());
    FastRegion fr(mp.passive, mp.passive.pd, 3 * 4096, 0, length, 2, true);
    ASSERT_TRUE(fr.ok());
    ASSERT_TRUE(succeeds(mp.passive, fr.post(mp.passive.qp, ctx(1), kOpRemoteRw, kFrBase),
                         NdkOperationTypeFastRegister, ctx(1)));
    expect_refused(mp, c.write, kFrBase + c.offset, c.length, fr.token, c.accepted,
                   [&] { return still_filled(fr.buffer.data(), 3 * 4096, 0x3C); });
    if (HasFatalFailure()) return;
  }
}

TEST_P(RemoteAccessChecks, fast_registered_region_grants_only_the_requested_rights) {
  struct Case {
    ULONG fr_flags;
    bool allowed_write;  // the allowed operation is a write (else a read)
  };
  const Case cases[] = {{NDK_OP_FLAG_ALLOW_REMOTE_READ, false},
                        {NDK_OP_FLAG_ALLOW_REMOTE_WRITE, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE("fast-register flags " + hex(c.fr_flags));
    MemoryPairFixture mp(GetParam());
    ASSERT_TRUE(mp.connect());
    FastRegion fr(mp.passive, mp.passive.pd, 2 * 4096, 0, 8192, 2, true);
    ASSERT_TRUE(fr.ok());
    ASSERT_TRUE(succeeds(mp.passive, fr.post(mp.passive.qp, ctx(1), c.fr_flags, kFrBase),
                         NdkOperationTypeFastRegister, ctx(1)));
    // The granted operation works (a write of the fill value keeps "untouched" true).
    std::memset(mp.active_buffer->data(), 0x3C, 64);
    NDK_SGE sge = mp.active_buffer->sge(0, 64);
    Outcome ok = c.allowed_write ? rdma_write(mp.active, &sge, 1, kFrBase, fr.token, ctx(2))
                                 : rdma_read(mp.active, &sge, 1, kFrBase, fr.token, ctx(2));
    ASSERT_TRUE(completed_with(ok, STATUS_SUCCESS,
                               c.allowed_write ? NdkOperationTypeWrite : NdkOperationTypeRead,
                               ctx(2)));
    // Placed (a write) before the target is inspected below.
    ASSERT_TRUE(mp.fence_writes());
    // The other one is refused.
    expect_refused(mp, !c.allowed_write, kFrBase + 64, 64, fr.token, {STATUS_ACCESS_VIOLATION},
                   [&] { return still_filled(fr.buffer.data(), 2 * 4096, 0x3C); });
    if (HasFatalFailure()) return;
  }
}

TEST_P(RemoteAccessChecks, rdma_read_into_fast_registered_sink_needs_read_sink_flag_when_required) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  if (mp.active.has(NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED))
    GTEST_SKIP() << "adapter reports NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED";
  Region source(mp.passive.pd, 4096, NDK_MR_FLAG_ALLOW_REMOTE_READ, 0x33);
  ASSERT_NT(STATUS_SUCCESS, source.status());
  // Local write but no NDK_OP_FLAG_RDMA_READ_SINK.
  FastRegion sink(mp.active, mp.active.pd, 2 * 4096, 0, 4096, 1, false);
  ASSERT_TRUE(sink.ok());
  NTSTATUS s = sink.post(mp.active.qp, ctx(1), NDK_OP_FLAG_ALLOW_LOCAL_WRITE, kFrBase);
  const UINT32 local = sink.mr.local_token();
  ASSERT_TRUE(succeeds(mp.active, s, NdkOperationTypeFastRegister, ctx(1)));
  NDK_SGE sge{};
  sge.VirtualAddress = reinterpret_cast<PVOID>(kFrBase);
  sge.Length = 1000;
  sge.MemoryRegionToken = local;
  Outcome o = rdma_read(mp.active, &sge, 1, source.address(), source.remote_token(), ctx(2));
  EXPECT_EQ(2 * 4096u, first_mismatch(sink.buffer.data(), 2 * 4096, 0x3C)) << "the sink was written";
  expect_local_access_violation(mp, o, NdkOperationTypeRead, ctx(2));
}

// ---------------------------------------------------------------------------------------------
// Memory windows

// A 4-page buffer registered with `mr_flags` and a window object, both in `pd`.
struct WindowSetup {
  static constexpr size_t kBytes = 4 * 4096;
  static constexpr size_t kWindowOffset = 4096 + 100;
  static constexpr size_t kWindowLength = 5000;
  WindowSetup(NDK_PD* pd, ULONG mr_flags) : buffer(kBytes, 0x11), mr(pd, false), mw(pd) {
    if (mr.create_status == STATUS_SUCCESS)
      status = mr.register_mdl(buffer.mdl(), kBytes, mr_flags);
    if (mw.create_status != STATUS_SUCCESS) status = mw.create_status;
  }
  uint64_t mr_base() { return reinterpret_cast<uintptr_t>(buffer.data()); }
  uint64_t window() { return mr_base() + kWindowOffset; }
  // Posts NdkBind on `side`'s QP and records the window token right after the call returned.
  NTSTATUS post_bind(ConnectedPairFixture::Side& side, void* context, uint64_t address,
                     size_t length, ULONG flags) {
    NTSTATUS s = side.q()->NdkBind(side.qp, context, mr.mr, mw.mw,
                                   reinterpret_cast<PVOID>(address), length, flags);
    if (s == STATUS_SUCCESS) token = mw.remote_token();
    return s;
  }
  // Binds the whole window with `flags` on `side`'s QP (context ctx(1)) and waits for the bind's
  // successful completion.
  ::testing::AssertionResult bind_window(ConnectedPairFixture::Side& side,
                                         ULONG flags = kOpRemoteRw) {
    return succeeds(side, post_bind(side, ctx(1), window(), kWindowLength, flags),
                    NdkOperationTypeBind, ctx(1));
  }
  ::testing::AssertionResult untouched() { return still_filled(buffer.data(), kBytes, 0x11); }

  Buffer buffer;
  MrHandle mr;  // declared before the window: the window is closed first
  MwHandle mw;
  NTSTATUS status = STATUS_UNSUCCESSFUL;
  UINT32 token = 0;
};

TEST_P(RemoteAccessChecks, window_bound_inside_mr_grants_remote_write_and_read_inside_it) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  WindowSetup w(mp.passive.pd, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  ASSERT_NT(STATUS_SUCCESS, w.status);
  ASSERT_TRUE(w.bind_window(mp.passive));
  EXPECT_NE(0u, w.token);
  EXPECT_NE(w.mr.remote_token(), w.token);
  // Write 3000 bytes at window offset 1000 (crossing a page boundary of the buffer).
  fill_pattern(mp.active_buffer->data(), 3000, 11);
  NDK_SGE sge = mp.active_buffer->sge(0, 3000);
  ASSERT_TRUE(completed_with(rdma_write(mp.active, &sge, 1, w.window() + 1000, w.token, ctx(2)),
                             STATUS_SUCCESS, NdkOperationTypeWrite, ctx(2)));
  const size_t landed = w.kWindowOffset + 1000;
  ASSERT_TRUE(mp.fence_writes());
  EXPECT_EQ(3000u, pattern_mismatch(w.buffer.data() + landed, 3000, 11));
  EXPECT_EQ(landed, first_mismatch(w.buffer.data(), landed, 0x11));
  EXPECT_EQ(w.kBytes - landed - 3000,
            first_mismatch(w.buffer.data() + landed + 3000, w.kBytes - landed - 3000, 0x11));
  // Read the whole window back.
  std::memset(mp.active_buffer->data(), 0, w.kWindowLength);
  NDK_SGE all = mp.active_buffer->sge(0, w.kWindowLength);
  ASSERT_TRUE(completed_with(rdma_read(mp.active, &all, 1, w.window(), w.token, ctx(3)),
                             STATUS_SUCCESS, NdkOperationTypeRead, ctx(3)));
  EXPECT_EQ(0, std::memcmp(mp.active_buffer->data(), w.buffer.data() + w.kWindowOffset,
                           w.kWindowLength));
}

TEST_P(RemoteAccessChecks, window_refuses_access_outside_window_inside_mr) {
  struct Case {
    bool write;
    int64_t offset;  // from the window start
    ULONG length;
    std::vector<NTSTATUS> accepted;
  };
  const Case cases[] = {
      {true, -16, 32, {STATUS_ACCESS_VIOLATION}},
      {true, static_cast<int64_t>(WindowSetup::kWindowLength) - 10, 20, {STATUS_ACCESS_VIOLATION}},
      {true, -static_cast<int64_t>(WindowSetup::kWindowOffset), 64, {STATUS_ACCESS_VIOLATION}},
      {false, static_cast<int64_t>(WindowSetup::kWindowLength) - 10, 20, {STATUS_REMOTE_RESOURCES}},
  };
  for (const Case& c : cases) {
    MemoryPairFixture mp(GetParam());
    ASSERT_TRUE(mp.connect());
    WindowSetup w(mp.passive.pd, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    ASSERT_NT(STATUS_SUCCESS, w.status);
    ASSERT_TRUE(w.bind_window(mp.passive));
    expect_refused(mp, c.write, w.window() + c.offset, c.length, w.token, c.accepted,
                   [&] { return w.untouched(); });
    if (HasFatalFailure()) return;
  }
}

TEST_P(RemoteAccessChecks, read_only_window_refuses_remote_write) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  WindowSetup w(mp.passive.pd, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  ASSERT_NT(STATUS_SUCCESS, w.status);
  ASSERT_TRUE(w.bind_window(mp.passive, NDK_OP_FLAG_ALLOW_REMOTE_READ));
  NDK_SGE sge = mp.active_buffer->sge(0, 64);
  EXPECT_TRUE(completed_with(rdma_read(mp.active, &sge, 1, w.window(), w.token, ctx(2)),
                             STATUS_SUCCESS, NdkOperationTypeRead, ctx(2)));
  EXPECT_EQ(64u, first_mismatch(mp.active_buffer->data(), 64, 0x11));
  expect_refused(mp, true, w.window(), 64, w.token, {STATUS_ACCESS_VIOLATION},
                 [&] { return w.untouched(); });
}

TEST_P(RemoteAccessChecks, bind_remote_write_window_on_mr_without_local_write_is_access_violation) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  WindowSetup w(mp.passive.pd, NDK_MR_FLAG_ALLOW_REMOTE_READ);
  ASSERT_NT(STATUS_SUCCESS, w.status);
  for (ULONG flags : {ULONG{NDK_OP_FLAG_ALLOW_REMOTE_WRITE}, kOpRemoteRw}) {
    SCOPED_TRACE("flags " + hex(flags));
    EXPECT_NT(STATUS_ACCESS_VIOLATION,
              w.post_bind(mp.passive, ctx(1), w.window(), w.kWindowLength, flags));
  }
  EXPECT_TRUE(stays_empty(mp.passive.cq)) << "an inline failure produced a completion";
  // A read-only window on the same MR is fine.
  EXPECT_TRUE(succeeds(mp.passive,
                       w.post_bind(mp.passive, ctx(2), w.window(), w.kWindowLength,
                                   NDK_OP_FLAG_ALLOW_REMOTE_READ),
                       NdkOperationTypeBind, ctx(2)));
}

TEST_P(RemoteAccessChecks, bind_range_outside_mr_is_invalid_parameter) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  WindowSetup w(mp.passive.pd, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  ASSERT_NT(STATUS_SUCCESS, w.status);
  struct Case {
    const char* name;
    int64_t offset;
    size_t length;
  };
  const int64_t bytes = static_cast<int64_t>(w.kBytes);
  const Case cases[] = {{"starts before the MR", -100, 200},
                        {"ends past the MR", bytes - 100, 200},
                        {"longer than the MR", 0, w.kBytes + 1},
                        {"starts at the MR end", bytes, 1},
                        {"wholly after the MR", bytes + 4096, 100}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_NT(STATUS_INVALID_PARAMETER,
              w.post_bind(mp.passive, ctx(1), w.mr_base() + c.offset, c.length, kOpRemoteRw));
  }
  EXPECT_TRUE(stays_empty(mp.passive.cq)) << "an inline failure produced a completion";
  // The whole MR is a valid window.
  EXPECT_TRUE(succeeds(mp.passive,
                       w.post_bind(mp.passive, ctx(2), w.mr_base(), w.kBytes, kOpRemoteRw),
                       NdkOperationTypeBind, ctx(2)));
}

TEST_P(RemoteAccessChecks, invalidated_window_token_fails) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  WindowSetup w(mp.passive.pd, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  ASSERT_NT(STATUS_SUCCESS, w.status);
  ASSERT_TRUE(w.bind_window(mp.passive));
  // The write leaves the bytes as they were (the fill: "untouched" holds): fenced, it is placed
  // before the revocation below.
  ASSERT_TRUE(write_and_fence(mp, 0x11, 64, w.window(), w.token, ctx(2)));
  NDK_QP* qp = mp.passive.qp;
  ASSERT_TRUE(succeeds(mp.passive, qp->Dispatch->NdkInvalidate(qp, ctx(3), w.mw.header(), 0),
                       NdkOperationTypeInvalidate, ctx(3)));
  expect_refused(mp, true, w.window(), 64, w.token, {STATUS_ACCESS_VIOLATION},
                 [&] { return w.untouched(); });
}

TEST_P(RemoteAccessChecks, mr_close_pends_until_bound_window_is_closed) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  WindowSetup w(mp.passive.pd, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  ASSERT_NT(STATUS_SUCCESS, w.status);
  ASSERT_TRUE(w.bind_window(mp.passive));
  ndkxx::Request close(ndkxx::Retention::Process);
  NDK_MR* mr = w.mr.mr;
  w.mr.mr = nullptr;  // closed here, not by the handle
  NTSTATUS s = close.start_close(mr);
  EXPECT_NT(STATUS_PENDING, s) << "the bound window is a successor of the MR";
  if (s != STATUS_PENDING) return;
  EXPECT_FALSE(close.wait(ndkxx::Wait{std::chrono::milliseconds(100)}))
      << "MR close completed while its window was open";
  EXPECT_TRUE(w.mw.close());
  EXPECT_TRUE(close.wait(ndkxx::Wait{kTimeout}))
      << "MR close never completed after the window closed";
  EXPECT_EQ(1, close.callbacks());
}

TEST_P(RemoteAccessChecks, each_bind_issues_a_new_window_token) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  WindowSetup w(mp.passive.pd, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  ASSERT_NT(STATUS_SUCCESS, w.status);
  NDK_QP* qp = mp.passive.qp;
  // Keys are random with a new one per bind: each token differs from the previous binding's
  // (a token of an older binding may recur by chance, so only neighbours are compared).
  UINT32 previous = 0;
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_TRUE(succeeds(mp.passive,
                         w.post_bind(mp.passive, ctx(10 + round), w.window(),
                                     w.kWindowLength, kOpRemoteRw),
                         NdkOperationTypeBind, ctx(10 + round)));
    EXPECT_NE(0u, w.token);
    EXPECT_NE(previous, w.token) << "bind reused the previous token " << hex(w.token);
    previous = w.token;
    const unsigned char value = static_cast<unsigned char>(0x20 + round);
    // Fenced: placed before the invalidate below (which would otherwise race the write on
    // iWARP).
    ASSERT_TRUE(write_and_fence(mp, value, 16, w.window() + 16 * round, w.token, ctx(20 + round)));
    EXPECT_EQ(16u, first_mismatch(w.buffer.data() + w.kWindowOffset + 16 * round, 16, value));
    ASSERT_TRUE(succeeds(mp.passive,
                         qp->Dispatch->NdkInvalidate(qp, ctx(30 + round), w.mw.header(), 0),
                         NdkOperationTypeInvalidate, ctx(30 + round)));
  }
}

TEST_P(RemoteAccessChecks, deregistering_mr_makes_its_bound_window_unusable) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  WindowSetup w(mp.passive.pd, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  ASSERT_NT(STATUS_SUCCESS, w.status);
  ASSERT_TRUE(w.bind_window(mp.passive));
  // The write leaves the bytes as they were (the fill: "untouched" holds): fenced, it is placed
  // before the revocation below.
  ASSERT_TRUE(write_and_fence(mp, 0x11, 64, w.window(), w.token, ctx(2)));
  // the NDKPI reference: deregistering with a bound window is allowed; the window dies.
  ASSERT_NT(STATUS_SUCCESS, w.mr.deregister());
  expect_refused(mp, true, w.window(), 64, w.token, {STATUS_ACCESS_VIOLATION},
                 [&] { return w.untouched(); });
}

// ---------------------------------------------------------------------------------------------
// NdkSendAndInvalidate

// A fast-registered region on the passive side with its token, ready for a peer's
// NdkSendAndInvalidate.
void fast_register_passive(MemoryPairFixture& mp, FastRegion& fr) {
  ASSERT_TRUE(fr.ok());
  ASSERT_TRUE(succeeds(mp.passive, fr.post(mp.passive.qp, ctx(0xF1), kOpRemoteRw, kFrBase),
                       NdkOperationTypeFastRegister, ctx(0xF1)));
}

Outcome send_and_invalidate(MemoryPairFixture& mp, ULONG bytes, UINT32 token, void* context) {
  fill_pattern(mp.active_buffer->data(), bytes, 12);
  NDK_SGE sge = mp.active_buffer->sge(0, bytes);
  return finish(mp.active.cq, mp.active.q()->NdkSendAndInvalidate(
                                       mp.active.qp, context, &sge, 1, 0, token));
}

// Regression test for a provider bug fixed earlier (see git history).
TEST_P(RemoteAccessChecks, send_and_invalidate_reports_receive_and_invalidate_with_the_token) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  FastRegion fr(mp.passive, mp.passive.pd, 2 * 4096, 0, 8192, 2, true);
  fast_register_passive(mp, fr);
  if (HasFatalFailure()) return;
  const UINT32 token = fr.token;
  // Sender side: an ordinary send completion.
  EXPECT_TRUE(completed_with(send_and_invalidate(mp, 100, token, ctx(0x5E)), STATUS_SUCCESS,
                             NdkOperationTypeSend, ctx(0x5E)));
  // Receiver side: receive-and-invalidate naming the token.
  NDK_RESULT_EX r{};
  ASSERT_TRUE(mp.passive.cq.next(&r));
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(NdkOperationTypeReceiveAndInvalidate, r.Type);
  EXPECT_EQ(0x8001, static_cast<int>(r.Type));
  EXPECT_EQ(token, static_cast<UINT32>(r.TypeSpecificCompletionOutput));
  EXPECT_EQ(100u, r.BytesTransferred);
  EXPECT_EQ(receive_context(0), r.RequestContext);
  EXPECT_EQ(&mp.passive, r.QPContext);
  EXPECT_EQ(100u, pattern_mismatch(mp.passive_buffer->data(), 100, 12));
  mp.consumed_receives = 1;
  // Invalidated already: a local invalidate fails, and the QP stays usable.
  NDK_QP* qp = mp.passive.qp;
  EXPECT_TRUE(completed_with(
      finish(mp.passive.cq, qp->Dispatch->NdkInvalidate(qp, ctx(2), fr.mr.header(), 0)),
      STATUS_INVALID_DEVICE_STATE, NdkOperationTypeInvalidate, ctx(2)));
  EXPECT_EQ(0, mp.passive.disconnects.count.load());
  // And the peer can no longer use the token.
  expect_refused(mp, true, kFrBase, 64, token, {STATUS_ACCESS_VIOLATION},
                 [&] { return still_filled(fr.buffer.data(), 2 * 4096, 0x3C); });
}

// Regression test for a provider bug fixed earlier (see git history).
TEST_P(RemoteAccessChecks, send_and_invalidate_through_non_ex_poll_is_a_receive_and_invalidates) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  FastRegion fr(mp.passive, mp.passive.pd, 2 * 4096, 0, 8192, 2, true);
  fast_register_passive(mp, fr);
  if (HasFatalFailure()) return;
  const UINT32 token = fr.token;
  EXPECT_TRUE(completed_with(send_and_invalidate(mp, 200, token, ctx(0x5E)), STATUS_SUCCESS,
                             NdkOperationTypeSend, ctx(0x5E)));
  NDK_CQ* cq = mp.passive.cq.get();
  NDK_RESULT r{};
  ASSERT_TRUE(wait_until([&] { return cq->Dispatch->NdkGetCqResults(cq, &r, 1) == 1; }));
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(200u, r.BytesTransferred);
  EXPECT_EQ(receive_context(0), r.RequestContext);
  EXPECT_EQ(&mp.passive, r.QPContext);
  EXPECT_EQ(200u, pattern_mismatch(mp.passive_buffer->data(), 200, 12));
  mp.consumed_receives = 1;
  NDK_QP* qp = mp.passive.qp;
  EXPECT_TRUE(completed_with(
      finish(mp.passive.cq, qp->Dispatch->NdkInvalidate(qp, ctx(2), fr.mr.header(), 0)),
      STATUS_INVALID_DEVICE_STATE, NdkOperationTypeInvalidate, ctx(2)));
  expect_refused(mp, true, kFrBase, 64, token, {STATUS_ACCESS_VIOLATION},
                 [&] { return still_filled(fr.buffer.data(), 2 * 4096, 0x3C); });
}

// Regression test for a provider bug fixed earlier (see git history).
TEST_P(RemoteAccessChecks, send_and_invalidate_of_window_token_unbinds_the_window) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  WindowSetup w(mp.passive.pd, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  ASSERT_NT(STATUS_SUCCESS, w.status);
  ASSERT_TRUE(w.bind_window(mp.passive));
  EXPECT_TRUE(completed_with(send_and_invalidate(mp, 64, w.token, ctx(0x5E)), STATUS_SUCCESS,
                             NdkOperationTypeSend, ctx(0x5E)));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(mp.passive.cq.next(&r));
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(NdkOperationTypeReceiveAndInvalidate, r.Type);
  EXPECT_EQ(w.token, static_cast<UINT32>(r.TypeSpecificCompletionOutput));
  mp.consumed_receives = 1;
  NDK_QP* qp = mp.passive.qp;
  EXPECT_TRUE(completed_with(
      finish(mp.passive.cq, qp->Dispatch->NdkInvalidate(qp, ctx(2), w.mw.header(), 0)),
      STATUS_INVALID_DEVICE_STATE, NdkOperationTypeInvalidate, ctx(2)));
  expect_refused(mp, true, w.window(), 64, w.token, {STATUS_ACCESS_VIOLATION},
                 [&] { return w.untouched(); });
}

// NdkSendAndInvalidate naming a token the receiver cannot invalidate: the receiving provider
// aborts the connection; the receive does not complete successfully.
void check_send_and_invalidate_aborts(MemoryPairFixture& mp, UINT32 token) {
  Outcome sent = send_and_invalidate(mp, 64, token, ctx(0x5E));
  EXPECT_NT(STATUS_SUCCESS, sent.inline_status);
  EXPECT_EQ(NdkOperationTypeSend, sent.result.Type);
  EXPECT_EQ(ctx(0x5E), sent.result.RequestContext);
  NDK_RESULT_EX r{};
  ASSERT_TRUE(mp.passive.cq.next(&r)) << "the consumed receive never completed";
  EXPECT_EQ(receive_context(0), r.RequestContext);
  EXPECT_NE(status_name(STATUS_SUCCESS), status_name(r.Status));
  mp.consumed_receives = 1;
  expect_connection_broken(mp, true);
}

TEST_P(RemoteAccessChecks, send_and_invalidate_of_registered_mr_token_aborts_connection) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  Region normal(mp.passive.pd, 4096, kRemoteRw, 0x11);
  ASSERT_NT(STATUS_SUCCESS, normal.status());
  check_send_and_invalidate_aborts(mp, normal.remote_token());
}

TEST_P(RemoteAccessChecks, send_and_invalidate_of_garbage_token_aborts_connection) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  check_send_and_invalidate_aborts(mp, 0x00ABC123u);
}

INSTANTIATE_TEST_SUITE_P(RemoteAccess, RemoteAccessChecks,
                         ::testing::ValuesIn(inline_and_pending_uris()), uri_param_name);

}  // namespace
