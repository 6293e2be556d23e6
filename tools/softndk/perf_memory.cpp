// The memory-management tests of `softndk perf` (client side), the work NDK consumers do around
// their data transfers: register + deregister (NdkRegisterMr/NdkDeregisterMr, timed per call),
// fast-register + invalidate of an MR and bind + invalidate of a window (work requests on data
// link 0: one pair at a time in latency mode, else pipelined over a pool of MRs/windows with
// `depth` requests outstanding), and send-and-invalidate (a ping-pong whose reply is an
// NdkSendAndInvalidate of a token the client fast-registered before the ping).
#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>

#include "measure.h"
#include "report.h"

namespace softndk::cli {

namespace {

constexpr ULONG kRemoteAccess = NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE;
constexpr uint32_t kMaxPool = 256;

// The final status of the request call `call` started, timed from call to completion: a
// spinning wait (no sleep) on a Request that reuses its state (no allocation per call).
NTSTATUS finish(ndkxx::Request& call, const char* what) {
  ndkxx::Outcome outcome = call.finish(stoppable_wait(/*spin=*/true));
  if (outcome.timed_out) throw_unfinished(what);
  return outcome.status;
}

TestParams params_of(const TestSpec& spec, Op op, uint64_t size) {
  TestParams p;
  p.op = op;
  p.mode = spec.mode;
  p.sge = static_cast<uint16_t>(spec.sge);
  p.cq_mod = 1;
  p.size = size;
  p.duration_ms = static_cast<uint32_t>(spec.duration_s * 1000);
  return p;
}

Measurement row(const std::string& name, const TestSpec& spec, uint64_t iterations,
                double seconds, LatencyKind kind, const Histogram& latency) {
  Measurement m;
  m.name = name;
  m.op = spec.op;
  m.mode = spec.mode;
  m.size = spec.size;
  m.iterations = iterations;
  m.seconds = seconds;
  m.moves_data = false;
  m.latency_kind = kind;
  m.latency = LatencySummary::of(latency);
  return m;
}

std::string label_of(const TestSpec& spec) {
  return std::string(op_name(spec.op)) + " " + format_size(spec.size);
}

[[noreturn]] void stalled(const char* what) {
  throw Error(std::string("no completion for ") + timeout_text() + " during the " + what +
              " test");
}

// ---- reg: NdkRegisterMr + NdkDeregisterMr, each timed from call to completion
std::vector<Measurement> run_register(Client& client, const TestSpec& spec, Progress& progress) {
  Session& s = client.session();
  client.begin_test(params_of(spec, Op::Register, spec.size));
  NDK_PD* pd = s.pd();
  Owned<NDK_MR> mr(create<NDK_MR>("NdkCreateMr", [&](auto cb, void* ctx, NDK_MR** out) {
    return pd->Dispatch->NdkCreateMr(pd, FALSE, cb, ctx, out);
  }));
  MDL mdl;
  SoftNdkInitializeMdl(&mdl, s.data().data() + s.send_offset(), spec.size);
  const ULONG flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                      NDK_MR_FLAG_ALLOW_REMOTE_WRITE;
  ndkxx::Request call;
  Histogram reg, dereg;
  TestClock clock(spec);
  uint64_t done = 0;
  auto now = clock.start;
  progress.start(label_of(spec), clock);
  while (clock.more(done, now)) {
    const auto t0 = Clock::now();
    call.start([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
      return mr->Dispatch->NdkRegisterMr(mr.get(), &mdl, spec.size, flags, cb, ctx);
    });
    NTSTATUS status = finish(call, "NdkRegisterMr");
    if (status != STATUS_SUCCESS) throw_status("NdkRegisterMr", status);
    const auto t1 = Clock::now();
    call.start([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
      return mr->Dispatch->NdkDeregisterMr(mr.get(), cb, ctx);
    });
    status = finish(call, "NdkDeregisterMr");
    if (status != STATUS_SUCCESS) throw_status("NdkDeregisterMr", status);
    now = Clock::now();
    reg.record(nanoseconds(t1 - t0));
    dereg.record(nanoseconds(now - t1));
    progress.update(++done, 0, now);
  }
  progress.finish();
  client.end_test(0);
  const double seconds = std::chrono::duration<double>(now - clock.start).count();
  return {row("reg", spec, done, seconds, LatencyKind::Call, reg),
          row("dereg", spec, done, seconds, LatencyKind::Call, dereg)};
}

// ---- fastreg / bind: a registering work request and the invalidate that undoes it
struct PairTest {
  const char* first_name;       // "fastreg", "bind"
  const char* invalidate_name;  // "invalidate-mr", "invalidate-mw"
  Tag first_tag;
  size_t pool;
  std::function<NTSTATUS(NDK_QP*, size_t index, void* context)> post_first;
  std::function<NTSTATUS(NDK_QP*, size_t index, void* context)> post_invalidate;
};

std::vector<Measurement> run_pairs(Client& client, const TestSpec& spec, const PairTest& t,
                                   Progress& progress) {
  Session& s = client.session();
  NDK_QP* qp = s.link(0).qp();
  const bool pipelined = spec.mode != Mode::Latency && spec.depth >= 2;
  const size_t pool = pipelined ? t.pool : 1;
  std::vector<Clock::time_point> first_time(pool), invalidate_time(pool);
  std::vector<size_t> free_list;
  for (size_t i = pool; i > 0; --i) free_list.push_back(i - 1);
  Histogram first, invalidate;
  TestClock clock(spec);
  uint64_t posted = 0, completed = 0, outstanding = 0;
  auto last = clock.start;
  progress.start(label_of(spec), clock);

  Session::Handler handler = [&](const NDK_RESULT_EX& r) {
    const auto now = Clock::now();
    const ContextParts c = split_context(r.RequestContext);
    if (c.tag == t.first_tag) {
      first.record(nanoseconds(now - first_time[c.slot]));
    } else if (c.tag == Tag::Invalidate) {
      invalidate.record(nanoseconds(now - invalidate_time[c.slot]));
      free_list.push_back(c.slot);
      ++completed;
      last = now;
      progress.update(completed, 0, now);
    } else {
      throw Error(std::string("unexpected ") + tag_name(c.tag) + " completion");
    }
    --outstanding;
  };
  auto post = [&](bool is_first, size_t index) {
    const auto now = Clock::now();
    (is_first ? first_time : invalidate_time)[index] = now;
    NTSTATUS status =
        is_first ? t.post_first(qp, index, make_context(t.first_tag, 0, static_cast<uint32_t>(index)))
                 : t.post_invalidate(qp, index,
                                     make_context(Tag::Invalidate, 0, static_cast<uint32_t>(index)));
    if (status != STATUS_SUCCESS)
      s.post_failed(is_first ? t.first_name : "NdkInvalidate", status);
    ++outstanding;
  };
  auto drain = [&] {
    while (outstanding != 0)
      if (!s.progress(handler, deadline_from_now())) stalled(t.first_name);
  };

  if (!pipelined) {
    auto now = clock.start;
    while (clock.more(posted, now)) {
      post(true, 0);
      drain();
      post(false, 0);
      ++posted;
      drain();
      now = Clock::now();
    }
  } else {
    bool posting = true;
    while (posting || outstanding != 0) {
      // In-order execution lets the invalidate follow its registration at once.
      while (posting && !free_list.empty() && outstanding + 2 <= spec.depth) {
        if (!clock.more(posted, Clock::now())) {
          posting = false;
          break;
        }
        const size_t index = free_list.back();
        free_list.pop_back();
        post(true, index);
        post(false, index);
        ++posted;
      }
      if ((posting || outstanding != 0) && !s.progress(handler, deadline_from_now()))
        stalled(t.first_name);
    }
  }
  progress.finish();
  client.end_test(0);
  const double seconds = std::chrono::duration<double>(last - clock.start).count();
  return {row(t.first_name, spec, completed, seconds, LatencyKind::Completion, first),
          row(t.invalidate_name, spec, completed, seconds, LatencyKind::Completion, invalidate)};
}

std::vector<Measurement> run_fast_register(Client& client, const TestSpec& spec,
                                           Progress& progress) {
  Session& s = client.session();
  client.begin_test(params_of(spec, Op::FastRegister, spec.size));
  std::byte* base = s.data().data() + s.send_offset();
  Lam lam(client.adapter(), base, spec.size);
  const size_t pool = std::clamp<size_t>(spec.depth / 2, 1, kMaxPool);
  std::vector<Owned<NDK_MR>> mrs;
  for (size_t i = 0; i < (spec.mode == Mode::Latency ? 1 : pool); ++i)
    mrs.push_back(fast_register_mr(s.pd(), lam.page_count()));
  PairTest t;
  t.first_name = "fastreg";
  t.invalidate_name = "invalidate-mr";
  t.first_tag = Tag::FastRegister;
  t.pool = mrs.size();
  t.post_first = [&](NDK_QP* qp, size_t i, void* ctx) {
    return qp->Dispatch->NdkFastRegister(qp, ctx, mrs[i].get(), lam.page_count(), lam.pages(),
                                         lam.fbo(), spec.size, base, kRemoteAccess);
  };
  t.post_invalidate = [&](NDK_QP* qp, size_t i, void* ctx) {
    return qp->Dispatch->NdkInvalidate(qp, ctx, &mrs[i]->Header, 0);
  };
  return run_pairs(client, spec, t, progress);
}

std::vector<Measurement> run_bind(Client& client, const TestSpec& spec, Progress& progress) {
  Session& s = client.session();
  client.begin_test(params_of(spec, Op::Bind, spec.size));
  NDK_PD* pd = s.pd();
  const size_t pool = std::clamp<size_t>(spec.depth / 2, 1, kMaxPool);
  std::vector<Owned<NDK_MW>> windows;
  for (size_t i = 0; i < (spec.mode == Mode::Latency ? 1 : pool); ++i)
    windows.emplace_back(create<NDK_MW>("NdkCreateMw", [&](auto cb, void* ctx, NDK_MW** out) {
      return pd->Dispatch->NdkCreateMw(pd, cb, ctx, out);
    }));
  std::byte* base = s.data().data() + s.send_offset();
  PairTest t;
  t.first_name = "bind";
  t.invalidate_name = "invalidate-mw";
  t.first_tag = Tag::Bind;
  t.pool = windows.size();
  t.post_first = [&](NDK_QP* qp, size_t i, void* ctx) {
    return qp->Dispatch->NdkBind(qp, ctx, s.data().mr(), windows[i].get(), base, spec.size,
                                 kRemoteAccess);
  };
  t.post_invalidate = [&](NDK_QP* qp, size_t i, void* ctx) {
    return qp->Dispatch->NdkInvalidate(qp, ctx, &windows[i]->Header, 0);
  };
  return run_pairs(client, spec, t, progress);
}

// ---- sendinv: fast-register (untimed), ping carrying the token, NdkSendAndInvalidate reply
std::vector<Measurement> run_send_invalidate(Client& client, const TestSpec& spec,
                                             Progress& progress) {
  Session& s = client.session();
  const uint64_t size = std::max<uint64_t>(spec.size, 4);  // the ping carries the token
  client.begin_test(params_of(spec, Op::SendInvalidate, size));
  std::byte* base = s.data().data() + s.send_offset();
  Lam lam(client.adapter(), base, size);
  Owned<NDK_MR> mr = fast_register_mr(s.pd(), lam.page_count());
  // Zero-based (legal since FBO is 0: the buffer is page-aligned): nobody addresses this
  // region, only its token matters.
  void* const zero_based = reinterpret_cast<void*>(static_cast<uintptr_t>(lam.fbo()));
  NDK_QP* qp = s.link(0).qp();
  NDK_SGE sges[256];
  const ULONG sge_count = s.fill_sges(s.send_offset(), size, spec.sge, sges);
  const ULONG inline_flag = size <= spec.inline_bytes ? NDK_OP_FLAG_INLINE : 0;

  Histogram latency;
  TestClock clock(spec);
  uint64_t done = 0;
  uint32_t token = 0;
  int initiator_done = 0;
  bool replied = false;
  Clock::time_point reply_time;
  progress.start(label_of(spec), clock);
  Session::Handler handler = [&](const NDK_RESULT_EX& r) {
    const ContextParts c = split_context(r.RequestContext);
    if (c.tag == Tag::Receive) {
      reply_time = Clock::now();
      if (r.Type != NdkOperationTypeReceiveAndInvalidate ||
          static_cast<uint32_t>(r.TypeSpecificCompletionOutput) != token)
        throw Error("the reply did not invalidate the token the ping carried (completion type " +
                    std::to_string(r.Type) + ")");
      s.post_receive(c.link, c.slot);
      replied = true;
    } else if (c.tag == Tag::FastRegister || c.tag == Tag::Send) {
      ++initiator_done;
    } else {
      throw Error(std::string("unexpected ") + tag_name(c.tag) + " completion");
    }
  };
  auto wait_for = [&](int requests, bool reply) {
    while (initiator_done < requests || (reply && !replied))
      if (!s.progress(handler, deadline_from_now())) stalled("sendinv");
  };

  auto now = clock.start;
  while (clock.more(done, now)) {
    initiator_done = 0;
    replied = false;
    NTSTATUS status = qp->Dispatch->NdkFastRegister(
        qp, make_context(Tag::FastRegister, 0, 0), mr.get(), lam.page_count(), lam.pages(),
        lam.fbo(), size, zero_based, kRemoteAccess);
    if (status != STATUS_SUCCESS) s.post_failed("NdkFastRegister", status);
    wait_for(1, false);
    token = mr->Dispatch->NdkGetRemoteTokenFromMr(mr.get());
    for (int i = 0; i < 4; ++i) base[i] = static_cast<std::byte>(token >> (8 * i));
    initiator_done = 0;
    const auto start = Clock::now();
    status = qp->Dispatch->NdkSend(qp, make_context(Tag::Send, 0, 0), sges, sge_count,
                                   inline_flag);
    if (status != STATUS_SUCCESS) s.post_failed("NdkSend", status);
    wait_for(1, true);
    latency.record(nanoseconds(reply_time - start) / 2);
    now = Clock::now();
    progress.update(++done, 0, now);
  }
  progress.finish();
  const uint64_t received = client.end_test(done);
  if (received != done)
    throw Error("the server received " + std::to_string(received) + " of " +
                std::to_string(done) + " pings");
  TestSpec shown = spec;
  shown.size = size;
  return {row("sendinv", shown, done, std::chrono::duration<double>(now - clock.start).count(),
              LatencyKind::OneWay, latency)};
}

}  // namespace

std::vector<Measurement> run_memory_test(Client& client, const TestSpec& spec,
                                         Progress& progress) {
  switch (spec.op) {
    case Op::Register: return run_register(client, spec, progress);
    case Op::FastRegister: return run_fast_register(client, spec, progress);
    case Op::Bind: return run_bind(client, spec, progress);
    case Op::SendInvalidate: return run_send_invalidate(client, spec, progress);
    default: throw Error(std::string("not a memory operation: ") + op_name(spec.op));
  }
}

}  // namespace softndk::cli
