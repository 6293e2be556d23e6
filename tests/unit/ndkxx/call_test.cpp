// src/ndkxx/call.h and handle.h against hand-driven "NDK functions": inline and pended calls,
// bounded waits (timeout, stop, spin), callbacks that come late or twice, creates, closes
// through slot 0 of a dispatch table, reuse of one Request, the close-failure handler.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "ndkxx/call.h"
#include "ndkxx/handle.h"

namespace softndk::ndkxx {
namespace {

using namespace std::chrono_literals;

// A pended call whose callback the test fires by hand.
struct Pended {
  NDK_FN_REQUEST_COMPLETION callback = nullptr;
  void* context = nullptr;
  NTSTATUS operator()(NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    callback = cb;
    context = ctx;
    return STATUS_PENDING;
  }
  void fire(NTSTATUS status) { callback(context, status); }
};

TEST(NdkxxRequest, inline_return_is_the_outcome_without_waiting) {
  Request r;
  EXPECT_EQ(STATUS_INVALID_PARAMETER,
            r.start([](NDK_FN_REQUEST_COMPLETION, void*) { return STATUS_INVALID_PARAMETER; }));
  EXPECT_TRUE(r.done());
  EXPECT_FALSE(r.pended());
  Outcome o = r.finish(Wait{0ms});
  EXPECT_EQ(STATUS_INVALID_PARAMETER, o.status);
  EXPECT_FALSE(o.pended);
  EXPECT_FALSE(o.timed_out);
  EXPECT_LT(r.begin_order(), r.end_order());
}

TEST(NdkxxRequest, pended_call_ends_with_its_callback_status) {
  Pended call;
  Request r;
  EXPECT_EQ(STATUS_PENDING, r.start(std::ref(call)));
  EXPECT_FALSE(r.done());
  std::thread late([&] {
    std::this_thread::sleep_for(20ms);
    call.fire(STATUS_CONNECTION_REFUSED);
  });
  Outcome o = r.finish();
  late.join();
  EXPECT_EQ(STATUS_CONNECTION_REFUSED, o.status);
  EXPECT_TRUE(o.pended);
  EXPECT_FALSE(o.timed_out);
  EXPECT_EQ(1, r.callbacks());
  EXPECT_EQ(r.begin_order(), r.end_order());  // the callback's stamp
  EXPECT_NE(0u, r.end_order());
}

TEST(NdkxxRequest, wait_is_bounded_and_a_late_callback_is_harmless) {
  Pended call;
  {
    Request r;
    r.start(std::ref(call));
    auto t0 = Clock::now();
    Outcome o = r.finish(Wait{30ms});
    EXPECT_GE(Clock::now() - t0, 30ms);
    EXPECT_TRUE(o.timed_out);
    EXPECT_EQ(STATUS_IO_TIMEOUT, o.status);
  }
  call.fire(STATUS_SUCCESS);  // after the Request is gone: its state is still the callback's
}

TEST(NdkxxRequest, stop_flag_ends_the_wait_early) {
  Pended call;
  std::atomic<bool> stop{false};
  Request r;
  r.start(std::ref(call));
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    stop = true;
  });
  auto t0 = Clock::now();
  EXPECT_FALSE(r.wait(Wait{10s, &stop}));
  EXPECT_LT(Clock::now() - t0, 5s);
  stopper.join();
  call.fire(STATUS_SUCCESS);
  EXPECT_TRUE(r.wait(Wait{0ms}));
}

TEST(NdkxxRequest, spin_wait_sees_the_callback) {
  Pended call;
  Request r;
  r.start(std::ref(call));
  std::thread late([&] { call.fire(STATUS_SUCCESS); });
  Outcome o = r.finish(Wait{10s, nullptr, true});
  late.join();
  EXPECT_TRUE(o.ok());
}

TEST(NdkxxRequest, one_request_runs_calls_one_after_the_other) {
  Request r;
  for (int i = 0; i < 3; ++i) {
    Pended call;
    r.start(std::ref(call));
    call.fire(i == 1 ? STATUS_CANCELLED : STATUS_SUCCESS);
    EXPECT_EQ(i == 1 ? STATUS_CANCELLED : STATUS_SUCCESS, r.finish().status);
    EXPECT_EQ(1, r.callbacks());
    EXPECT_EQ(STATUS_SUCCESS, r.start([](NDK_FN_REQUEST_COMPLETION, void*) {
      return STATUS_SUCCESS;
    }));
    EXPECT_EQ(0, r.callbacks());
  }
  // After a timed-out call the next one gets a fresh state; the late callback hits the old one.
  Pended stale;
  r.start(std::ref(stale));
  EXPECT_TRUE(r.finish(Wait{1ms}).timed_out);
  Pended fresh;
  r.start(std::ref(fresh));
  stale.fire(STATUS_CANCELLED);
  EXPECT_FALSE(r.done());
  fresh.fire(STATUS_SUCCESS);
  EXPECT_TRUE(r.finish().ok());
}

TEST(NdkxxRequest, process_retention_counts_contract_breaches) {
  Request twice(Retention::Process);
  Pended call;
  twice.start(std::ref(call));
  call.fire(STATUS_SUCCESS);
  call.fire(STATUS_SUCCESS);
  EXPECT_EQ(2, twice.callbacks());

  Request after_inline(Retention::Process);
  NDK_FN_REQUEST_COMPLETION cb = nullptr;
  void* ctx = nullptr;
  after_inline.start([&](NDK_FN_REQUEST_COMPLETION c, void* x) {
    cb = c;
    ctx = x;
    return STATUS_SUCCESS;
  });
  cb(ctx, STATUS_SUCCESS);
  EXPECT_EQ(1, after_inline.callbacks());
  EXPECT_EQ(STATUS_SUCCESS, after_inline.finish().status);
}

struct FakeObject {
  NDK_OBJECT_HEADER Header{};
  const NDK_FN_CLOSE_OBJECT* Dispatch = nullptr;
};

TEST(NdkxxCreate, object_comes_inline_or_through_the_callback) {
  FakeObject a, b;
  Created<FakeObject> inline_one = create<FakeObject>(
      [&](NDK_FN_CREATE_COMPLETION, void*, FakeObject** out) {
        *out = &a;
        return STATUS_SUCCESS;
      });
  EXPECT_TRUE(inline_one.ok());
  EXPECT_EQ(&a, inline_one.object);
  Created<FakeObject> pended = create<FakeObject>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, FakeObject**) {
        cb(ctx, STATUS_SUCCESS, &b.Header);  // before returning: allowed for a pended call
        return STATUS_PENDING;
      });
  EXPECT_TRUE(pended.ok());
  EXPECT_TRUE(pended.pended);
  EXPECT_EQ(&b, pended.object);
  // On an inline failure the out parameter is reported as the provider left it.
  Created<FakeObject> failed = create<FakeObject>(
      [&](NDK_FN_CREATE_COMPLETION, void*, FakeObject** out) {
        *out = &a;
        return STATUS_INVALID_PARAMETER;
      });
  EXPECT_EQ(STATUS_INVALID_PARAMETER, failed.status);
  EXPECT_EQ(&a, failed.object);
}

// Closes through slot 0: inline, pended (completed from another thread), never.
std::atomic<int> g_closes{0};
NTSTATUS close_inline(NDK_OBJECT_HEADER*, NDK_FN_CLOSE_COMPLETION, void*) {
  ++g_closes;
  return STATUS_SUCCESS;
}
NTSTATUS close_pended(NDK_OBJECT_HEADER*, NDK_FN_CLOSE_COMPLETION cb, void* ctx) {
  ++g_closes;
  std::thread([cb, ctx] {
    std::this_thread::sleep_for(10ms);
    cb(ctx);
  }).detach();
  return STATUS_PENDING;
}
NDK_FN_CLOSE_COMPLETION g_never_callback = nullptr;
void* g_never_context = nullptr;
NTSTATUS close_never(NDK_OBJECT_HEADER*, NDK_FN_CLOSE_COMPLETION cb, void* ctx) {
  ++g_closes;
  g_never_callback = cb;
  g_never_context = ctx;
  return STATUS_PENDING;
}

std::atomic<int> g_reported{0};
void count_report(int, const Outcome& outcome) {
  EXPECT_TRUE(outcome.timed_out);
  ++g_reported;
}

TEST(NdkxxClose, handle_closes_through_slot_zero_and_reports_a_close_that_never_ends) {
  const NDK_FN_CLOSE_OBJECT inline_table[] = {&close_inline};
  const NDK_FN_CLOSE_OBJECT pended_table[] = {&close_pended};
  const NDK_FN_CLOSE_OBJECT never_table[] = {&close_never};
  FakeObject a, b, c;
  a.Dispatch = inline_table;
  b.Dispatch = pended_table;
  c.Dispatch = never_table;
  g_closes = 0;
  { Handle<FakeObject> h(&a); }
  EXPECT_EQ(1, g_closes.load());
  EXPECT_TRUE(close(&b).ok());
  EXPECT_EQ(2, g_closes.load());
  EXPECT_TRUE(close(nullptr).ok());
  EXPECT_FALSE(close_failed());
  set_close_failure_handler(&count_report);
  set_default_timeout(20ms);
  { Handle<FakeObject> h(&c); }
  set_default_timeout(10s);
  set_close_failure_handler(nullptr);
  EXPECT_EQ(1, g_reported.load());
  EXPECT_TRUE(close_failed());
  g_never_callback(g_never_context);  // late: lands in the state the callback still holds
}

}  // namespace
}  // namespace softndk::ndkxx
