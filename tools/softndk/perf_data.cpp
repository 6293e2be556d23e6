// The data-operation tests of `softndk perf` (client side): send, RDMA write and RDMA read as
// streams (bandwidth and message rate: `depth` requests outstanding per data link, one signaled
// completion per `cq_mod`) and as ping-pongs (latency). Send streams are flow-controlled by
// credits: the server returns one zero-byte message per credit_batch receives it re-posted,
// because a send finding no receive aborts an iWARP connection.
#include <algorithm>

#include "measure.h"
#include "report.h"

namespace softndk::cli {

namespace {

constexpr uint32_t kMaxSge = 256;

Tag tag_of(Op op) {
  switch (op) {
    case Op::Write: return Tag::Write;
    case Op::Read: return Tag::Read;
    default: return Tag::Send;
  }
}

const char* function_of(Op op) {
  switch (op) {
    case Op::Write: return "NdkWrite";
    case Op::Read: return "NdkRead";
    default: return "NdkSend";
  }
}

NTSTATUS post_op(Op op, NDK_QP* qp, void* context, const NDK_SGE* sges, ULONG count,
                 const PeerBuffer& peer, ULONG flags) {
  switch (op) {
    case Op::Write:
      return qp->Dispatch->NdkWrite(qp, context, sges, count, peer.address, peer.token, flags);
    case Op::Read:
      return qp->Dispatch->NdkRead(qp, context, sges, count, peer.address, peer.token, flags);
    default:
      return qp->Dispatch->NdkSend(qp, context, sges, count, flags);
  }
}

TestParams params_of(const TestSpec& spec, uint32_t credit_batch) {
  TestParams p;
  p.op = spec.op;
  p.mode = spec.mode;
  p.sge = static_cast<uint16_t>(spec.sge);
  p.cq_mod = spec.cq_mod;
  p.size = spec.size;
  p.credit_batch = credit_batch;
  p.duration_ms = static_cast<uint32_t>(spec.duration_s * 1000);
  return p;
}

[[noreturn]] void stalled(const TestSpec& spec) {
  throw Error(std::string("no completion for ") + timeout_text() + " during the " +
              op_name(spec.op) + " test");
}

void check_received(uint64_t sent, uint64_t received) {
  if (sent != received)
    throw Error("the server received " + std::to_string(received) + " of the " +
                std::to_string(sent) + " messages sent");
}

std::string label_of(const TestSpec& spec) {
  return std::string(op_name(spec.op)) + " " + mode_name(spec.mode) + " " +
         format_size(spec.size);
}

// A stream reads the clock once per batch of posts and once per batch of completions, not for
// every post and every completion: a signaled request takes the time of the last clock read if
// fewer than kPostsPerClockRead requests went out since (else it reads the clock), and a
// completion the time at which its batch was first handled (Session::completion_time()).
// A latency sample is thus at least the request's own post-to-completion time, and more by at
// most the posting of the (< kPostsPerClockRead) requests posted between the clock read and it.
constexpr uint64_t kPostsPerClockRead = 16;

// Bandwidth and message rate.
Measurement run_stream(Client& client, const TestSpec& spec, Progress& progress) {
  Session& s = client.session();
  const size_t links = s.link_count();
  const uint32_t batch = client.credit_batch();
  if (spec.op == Op::Send && spec.cq_mod > client.server_receives() - batch)
    throw Error("--cq-mod " + std::to_string(spec.cq_mod) + " is larger than the send credits (" +
                std::to_string(client.server_receives() - batch) + ")");
  client.begin_test(params_of(spec, batch));

  NDK_SGE sges[kMaxSge];
  const ULONG sge_count = s.fill_sges(s.send_offset(), spec.size, spec.sge, sges);
  const ULONG inline_flag =
      spec.op != Op::Read && spec.size <= spec.inline_bytes ? NDK_OP_FLAG_INLINE : 0;
  const Tag tag = tag_of(spec.op);
  struct LinkState {
    NDK_QP* qp = nullptr;
    uint64_t posted = 0;
    uint64_t completed = 0;  // a signaled completion also completes the silent requests before it
    uint64_t credits = 0;
    uint64_t credit_messages = 0;
    std::vector<Clock::time_point> post_time;  // of signaled requests, by sequence % depth
  };
  std::vector<LinkState> state(links);
  for (size_t i = 0; i < links; ++i) {
    state[i].qp = s.link(i).qp();
    state[i].credits = client.server_receives();
    state[i].post_time.resize(spec.depth);
  }
  Histogram latency;
  TestClock clock(spec);
  uint64_t posted = 0, completed = 0;
  Clock::time_point last = clock.start;
  progress.start(label_of(spec), clock);

  Session::Handler handler = [&](const NDK_RESULT_EX& r) {
    const auto now = s.completion_time();
    const ContextParts c = split_context(r.RequestContext);
    LinkState& l = state[c.link];
    if (c.tag == Tag::Receive) {  // a credit: the server posted `batch` receives again
      s.post_receive(c.link, c.slot);
      l.credits += batch;
      ++l.credit_messages;
      return;
    }
    if (c.tag != tag) throw Error(std::string("unexpected ") + tag_name(c.tag) + " completion");
    const uint64_t sequence =
        l.completed + static_cast<uint32_t>(c.slot - static_cast<uint32_t>(l.completed));
    latency.record(nanoseconds(now - l.post_time[sequence % spec.depth]));
    completed += sequence + 1 - l.completed;
    l.completed = sequence + 1;
    last = now;
    progress.update(completed, completed * spec.size, now);
  };

  bool posting = true;
  while (posting || completed < posted) {
    // The posts of this round: the clock is read before the first (never carried over a wait
    // for completions) and again before a signaled request kPostsPerClockRead posts later.
    Clock::time_point now{};
    bool have_clock = false;
    uint64_t since_clock_read = 0;
    for (size_t i = 0; i < links && posting; ++i) {
      LinkState& l = state[i];
      for (;;) {
        if (posted >= clock.iterations) {
          posting = false;
          break;
        }
        // A group of cq_mod requests, the last one signaled (a shorter last group at the end).
        const uint64_t group = std::min<uint64_t>(spec.cq_mod, clock.iterations - posted);
        if (l.posted - l.completed + group > spec.depth) break;
        if (spec.op == Op::Send && l.credits < group) break;
        if (!have_clock) {
          now = Clock::now();
          have_clock = true;
          since_clock_read = 0;
        }
        if (!clock.more(posted, now)) {  // the duration is over
          posting = false;
          break;
        }
        for (uint64_t k = 0; k < group; ++k, ++since_clock_read) {
          const uint64_t sequence = l.posted + k;
          const bool signaled = k + 1 == group;
          if (signaled) {
            if (since_clock_read >= kPostsPerClockRead) {
              now = Clock::now();
              since_clock_read = 0;
            }
            l.post_time[sequence % spec.depth] = now;
          }
          NTSTATUS status = post_op(
              spec.op, l.qp, make_context(tag, static_cast<uint32_t>(i),
                                          static_cast<uint32_t>(sequence)),
              sges, sge_count, client.peer(),
              inline_flag | (signaled ? 0 : NDK_OP_FLAG_SILENT_SUCCESS));
          if (status != STATUS_SUCCESS) s.post_failed(function_of(spec.op), status);
        }
        l.posted += group;
        posted += group;
        if (spec.op == Op::Send) l.credits -= group;
      }
    }
    if ((posting || completed < posted) && !s.progress_within(handler, wait_timeout()))
      stalled(spec);
  }
  // Every credit the server sent must be in before the next test starts counting afresh.
  if (spec.op == Op::Send) {
    for (LinkState& l : state)
      while (l.credit_messages < l.posted / batch)
        if (!s.progress(handler, deadline_from_now())) stalled(spec);
  }
  progress.finish();
  const uint64_t received = client.end_test(spec.op == Op::Send ? posted : 0);
  if (spec.op == Op::Send) check_received(posted, received);

  Measurement m;
  m.name = op_name(spec.op);
  m.op = spec.op;
  m.mode = spec.mode;
  m.size = spec.size;
  m.iterations = posted;
  m.seconds = std::chrono::duration<double>(last - clock.start).count();
  m.latency_kind = LatencyKind::Completion;
  m.latency = LatencySummary::of(latency);
  return m;
}

// Latency: one request at a time. Send: ping, pong. Write: a write and a zero-byte send behind
// it (without NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED the target may not poll the last byte),
// answered the same way. Read: a read is a round trip by itself.
Measurement run_ping_pong(Client& client, const TestSpec& spec, Progress& progress) {
  Session& s = client.session();
  const size_t links = s.link_count();
  client.begin_test(params_of(spec, 1));
  NDK_SGE sges[kMaxSge];
  const ULONG sge_count = s.fill_sges(s.send_offset(), spec.size, spec.sge, sges);
  const ULONG inline_flag =
      spec.op != Op::Read && spec.size <= spec.inline_bytes ? NDK_OP_FLAG_INLINE : 0;
  const Tag tag = tag_of(spec.op);
  const bool is_read = spec.op == Op::Read;
  const uint32_t initiator_requests = spec.op == Op::Write ? 2 : 1;

  Histogram latency;
  TestClock clock(spec);
  uint64_t done = 0;
  uint32_t initiator_done = 0;
  bool replied = false;
  Clock::time_point reply_time, initiator_time;
  progress.start(label_of(spec), clock);

  Session::Handler handler = [&](const NDK_RESULT_EX& r) {
    const ContextParts c = split_context(r.RequestContext);
    if (c.tag == Tag::Receive) {
      reply_time = s.completion_time();
      s.post_receive(c.link, c.slot);
      replied = true;
    } else if (c.tag == tag || c.tag == Tag::Send) {
      initiator_time = s.completion_time();
      ++initiator_done;
    } else {
      throw Error(std::string("unexpected ") + tag_name(c.tag) + " completion");
    }
  };

  auto now = clock.start;
  while (clock.more(done, now)) {
    const uint32_t link = static_cast<uint32_t>(done % links);
    NDK_QP* qp = s.link(link).qp();
    initiator_done = 0;
    replied = false;
    const auto start = Clock::now();
    const auto deadline = start + wait_timeout();
    NTSTATUS status = post_op(spec.op, qp, make_context(tag, link, 0), sges, sge_count,
                              client.peer(), inline_flag);
    if (status != STATUS_SUCCESS) s.post_failed(function_of(spec.op), status);
    if (spec.op == Op::Write) {
      status = qp->Dispatch->NdkSend(qp, make_context(Tag::Send, link, 0), nullptr, 0, 0);
      if (status != STATUS_SUCCESS) s.post_failed("NdkSend", status);
    }
    while (initiator_done < initiator_requests || (!is_read && !replied))
      if (!s.progress(handler, deadline)) stalled(spec);
    const uint64_t round_trip = nanoseconds((is_read ? initiator_time : reply_time) - start);
    latency.record(is_read ? round_trip : round_trip / 2);
    ++done;
    now = Clock::now();
    progress.update(done, done * spec.size, now);
  }
  progress.finish();
  const uint64_t received = client.end_test(is_read ? 0 : done);
  if (!is_read) check_received(done, received);

  Measurement m;
  m.name = op_name(spec.op);
  m.op = spec.op;
  m.mode = spec.mode;
  m.size = spec.size;
  m.iterations = done;
  m.seconds = std::chrono::duration<double>(now - clock.start).count();
  m.latency_kind = is_read ? LatencyKind::RoundTrip : LatencyKind::OneWay;
  m.latency = LatencySummary::of(latency);
  return m;
}

}  // namespace

const char* latency_kind_name(LatencyKind kind) {
  switch (kind) {
    case LatencyKind::OneWay: return "one_way";
    case LatencyKind::RoundTrip: return "round_trip";
    case LatencyKind::Completion: return "completion";
    case LatencyKind::Call: return "call";
  }
  return "?";
}

LatencySummary LatencySummary::of(const Histogram& h) {
  LatencySummary s;
  s.count = h.count();
  s.min_us = h.min() / 1e3;
  s.avg_us = h.mean() / 1e3;
  s.stdev_us = h.stdev() / 1e3;
  s.p50_us = h.percentile(50) / 1e3;
  s.p99_us = h.percentile(99) / 1e3;
  s.p999_us = h.percentile(99.9) / 1e3;
  s.max_us = h.max() / 1e3;
  return s;
}

std::vector<Measurement> run_data_test(Client& client, const TestSpec& spec, Progress& progress) {
  if (spec.mode == Mode::Latency) return {run_ping_pong(client, spec, progress)};
  return {run_stream(client, spec, progress)};
}

}  // namespace softndk::cli
