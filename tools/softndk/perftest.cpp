// Implementation of perftest.h: both ends of perftest's exchange (perftest_link.h carries the
// connections), the data phases of the bandwidth tests and the command line's entry.
#include "perftest.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "commands.h"
#include "ndk.h"
#include "ndkxx/address.h"
#include "options.h"
#include "perftest_lat.h"
#include "perftest_link.h"

namespace softndk::cli::perftest {

namespace {

constexpr ULONG kMaxReadLimit = 128;  // softndk's adapter maximum, siw's too
constexpr uint32_t kCreditSlots = 32;  // credit writes in flight (send server)
constexpr int kConnectAttempts = 10;   // perftest's client retries the test connection so
constexpr auto kConnectRetryPause = std::chrono::milliseconds(100);

const std::vector<std::byte> kZeroSync(kDestBytes);

std::vector<std::byte> bytes_of(const DestMessage& m) { return {m.begin(), m.end()}; }

DestMessage dest_of(const std::vector<std::byte>& m) {
  DestMessage d{};
  std::memcpy(d.data(), m.data(), std::min(m.size(), d.size()));
  return d;
}

Owned<NDK_PD> make_pd(Adapter& adapter) {
  return Owned<NDK_PD>(create<NDK_PD>("NdkCreatePd", [&](auto cb, void* ctx, NDK_PD** out) {
    return adapter.d()->NdkCreatePd(adapter.get(), cb, ctx, out);
  }));
}

// Rows 1-5 of the exchange; returns the peer's version text.
std::string exchange_parameters(Control& c, bool client) {
  const std::string peer =
      version_text(c.exchange(client, version_message(kVersion), kVersionBytes, "its version"));
  if (version_value(peer) < kOldestPeerVersion)
    throw Error("the peer announces perftest version \"" + peer +
                "\"; softndk speaks the exchange of perftest 5.70 and later (6.06 checked)");
  c.exchange(client, be32_message(kCycleBuffer), 4, "its cycle buffer size");
  c.exchange(client, be32_message(kCacheLine), 4, "its cache line size");
  c.exchange(client, mtu_message(), 2, "its MTU");
  c.exchange(client, kZeroSync, kDestBytes, "the sync before the test connection");
  return peer;
}

// After the test connection: the zero sync and the destination rounds; returns the peer's.
Dest exchange_dests(Control& c, bool client, Test test, const Dest& mine, bool lat = false) {
  c.exchange(client, kZeroSync, kDestBytes, "the sync after the test connection");
  Dest peer;
  for (int round = 0; round < dest_rounds(test, lat); ++round)
    peer = decode(dest_of(c.exchange(client, bytes_of(encode(mine)), kDestBytes,
                                     "its destination (rkey and address)")));
  return peer;
}

// perftest's numbers from the completion times: average over the whole run, peak over the
// fastest run of max(`window`, an eighth of the iterations) consecutive completions (completions
// come in batches, so a shorter run would measure the batching).
Report numbers(uint64_t size, Clock::time_point start, const std::vector<Clock::time_point>& at,
               uint32_t window) {
  Report r;
  r.size = size;
  r.iterations = at.size();
  if (at.empty()) return r;
  constexpr double kMiB = 1024.0 * 1024.0;
  const double seconds = std::chrono::duration<double>(at.back() - start).count();
  if (seconds > 0) {
    r.average_mb_s = static_cast<double>(size) * static_cast<double>(at.size()) / seconds / kMiB;
    r.message_rate_mpps = static_cast<double>(at.size()) / seconds / 1e6;
  }
  const size_t w = std::clamp<size_t>(std::max<size_t>(window, at.size() / 8), 1, at.size());
  for (size_t i = w - 1; i < at.size(); ++i) {
    const Clock::time_point from = i + 1 == w ? start : at[i - w];
    const double s = std::chrono::duration<double>(at[i] - from).count();
    if (s > 0) r.peak_mb_s = std::max(r.peak_mb_s, static_cast<double>(size * w) / s / kMiB);
  }
  r.peak_mb_s = std::max(r.peak_mb_s, r.average_mb_s);
  return r;
}

// The client's data phase of write/read: `depth` requests in flight to the peer's buffer.
Report drive_rdma(Link& link, Region& local, const Dest& peer, Test test, uint64_t size,
                  uint64_t iterations, uint32_t depth) {
  std::vector<Clock::time_point> done;
  done.reserve(iterations);
  const NDK_SGE sge = local.sge(0, size);
  uint64_t posted = 0;
  Clock::time_point start;
  NDK_RESULT_EX r[64];
  while (done.size() < iterations) {
    check_stop();
    for (; posted < iterations && posted - done.size() < depth; ++posted) {
      if (posted == 0) start = Clock::now();
      if (test == Test::Write)
        link.write(sge, peer.address, peer.rkey);
      else
        link.read(sge, peer.address, peer.rkey);
    }
    const ULONG n = link.take(r, 64, deadline_from_now());
    if (n == 0) throw Error("no RDMA completion within " + timeout_text());
    const Clock::time_point now = Clock::now();
    for (ULONG i = 0; i < n; ++i)
      if (reinterpret_cast<uintptr_t>(r[i].RequestContext) != kSend) done.push_back(now);
  }
  return numbers(size, start, done, depth);
}

// The credit word is written by the peer's RDMA Write, which no NDK completion announces on
// this side: polled as memory a device writes (outside C++'s model, hence not instrumented by
// ThreadSanitizer, whose report would be the transport's placement copy against this load).
__attribute__((no_sanitize("thread"))) uint32_t load_credit(const std::byte* word) {
  uint32_t value = 0;
  __atomic_load(reinterpret_cast<const uint32_t*>(word), &value, __ATOMIC_ACQUIRE);
  return value;  // the receiver writes it in its host order; both ends little-endian here
}

// The client's data phase of send: at most the receiver's depth beyond its last credit.
Report drive_send(Link& link, Region& source, const std::byte* credit, uint64_t size,
                  uint64_t iterations, uint32_t depth) {
  const uint64_t window = std::min<uint64_t>(kDefaultRxDepth, iterations);
  std::vector<Clock::time_point> done;
  done.reserve(iterations);
  const NDK_SGE sge = source.sge(0, size);
  uint64_t posted = 0;
  Clock::time_point start;
  Clock::time_point credit_deadline = deadline_from_now();
  NDK_RESULT_EX r[64];
  while (done.size() < iterations) {
    check_stop();
    for (; posted < iterations && posted - done.size() < depth &&
           posted - load_credit(credit) < window;
         ++posted) {
      if (posted == 0) start = Clock::now();
      link.send(sge);
      credit_deadline = deadline_from_now();
    }
    if (posted == done.size()) {  // nothing in flight: waiting for the receiver's credit
      if (Clock::now() > credit_deadline)
        throw Error("no credit from the receiver within " + timeout_text() + " (" +
                    std::to_string(posted) + " sends done, credit " +
                    std::to_string(load_credit(credit)) + ")");
      std::this_thread::yield();
      continue;
    }
    const ULONG n = link.take(r, 64, deadline_from_now());
    if (n == 0) throw Error("no send completion within " + timeout_text());
    const Clock::time_point now = Clock::now();
    for (ULONG i = 0; i < n; ++i) done.push_back(now);
  }
  return numbers(size, start, done, depth);
}

// What the server's send side holds: the receive buffer and the credit words it writes from.
struct Receiver {
  Region& buffer;
  Region& credits;
  uint64_t size = 0;
  uint32_t depth = 0;
};

void post_receives(Link& link, const Receiver& rx) {
  for (uint32_t i = 0; i < rx.depth; ++i) link.receive(rx.buffer.sge(0, rx.size), kReceiveBase);
}

// The server's data phase of send: counts receives, reposts each, and RDMA-Writes the running
// count into the client's credit word every depth/3 receives.
Report serve_send(Link& link, const Receiver& rx, const Dest& client, uint64_t iterations) {
  const uint32_t period = std::max<uint32_t>(1, rx.depth / 3);
  std::vector<Clock::time_point> at;
  at.reserve(iterations);
  uint32_t writes_out = 0, slot = 0;
  bool credit_due = false;
  auto write_credit = [&] {
    if (writes_out >= kCreditSlots) {
      credit_due = true;
      return;
    }
    const auto count = static_cast<uint32_t>(at.size());
    std::memcpy(rx.credits.data() + 4 * slot, &count, 4);
    link.write(rx.credits.sge(4 * slot, 4), client.address, client.rkey);
    slot = (slot + 1) % kCreditSlots;
    ++writes_out;
    credit_due = false;
  };
  NDK_RESULT_EX r[64];
  while (at.size() < iterations) {
    check_stop();
    const ULONG n = link.take(r, 64, deadline_from_now());
    if (n == 0)
      throw Error("no send from the client within " + timeout_text() + " (" +
                  std::to_string(at.size()) + " of " + std::to_string(iterations) + " received)");
    const Clock::time_point now = Clock::now();
    for (ULONG i = 0; i < n; ++i) {
      if (reinterpret_cast<uintptr_t>(r[i].RequestContext) == kWrite) {
        --writes_out;
        if (credit_due) write_credit();
        continue;
      }
      at.push_back(now);
      link.receive(rx.buffer.sge(0, rx.size), kReceiveBase);
      if (at.size() % period == 0) write_credit();
    }
  }
  return numbers(rx.size, at.empty() ? Clock::now() : at.front(), at, period);
}

// Rows 10-11 of write/read: the client's report values, then the last sync. Returns the
// client's numbers (the server's answers carry nothing perftest reads).
Report exchange_reports(Control& c, bool client, const Report& mine, const Dest& dest) {
  const std::vector<std::byte> zero(8);
  auto value = [&](const std::vector<std::byte>& out, const char* what) {
    return c.exchange(client, client ? out : zero, 8, what);
  };
  Report r;
  r.size = be64_of(value(be64_message(mine.size), "the report's message size"));
  r.iterations = be64_of(value(be64_message(mine.iterations), "the report's iterations"));
  r.peak_mb_s = double_of(value(double_message(mine.peak_mb_s), "the report's peak"));
  r.average_mb_s = double_of(value(double_message(mine.average_mb_s), "the report's average"));
  r.message_rate_mpps =
      double_of(value(double_message(mine.message_rate_mpps), "the report's message rate"));
  c.exchange(client, bytes_of(encode(dest)), kDestBytes, "the last sync");
  return client ? mine : r;
}

void check_sizes(uint64_t size, uint64_t iterations) {
  if (size == 0 || size > (uint64_t{1} << 30)) throw UsageError("--size must be 1 B to 1 GiB");
  if (iterations == 0) throw UsageError("--iters must be at least 1");
}

Dest local_dest(const Region& target, uint32_t out_reads, size_t offset = 0) {
  Dest d;
  d.out_reads = out_reads;
  d.qpn = 1;
  d.psn = static_cast<uint32_t>(Clock::now().time_since_epoch().count()) & 0xffffff;
  d.rkey = target.remote_token();
  d.address = target.address(offset);
  return d;
}

ULONG data_flags(Test test, bool server) {
  const ULONG local = NDK_MR_FLAG_ALLOW_LOCAL_WRITE;
  if (server) {
    if (test == Test::Write) return local | NDK_MR_FLAG_ALLOW_REMOTE_WRITE;
    if (test == Test::Read) return local | NDK_MR_FLAG_ALLOW_REMOTE_READ;
    return local;
  }
  return test == Test::Read ? local | NDK_MR_FLAG_RDMA_READ_SINK : local;
}

std::unique_ptr<Link> connect_test(Adapter& adapter, NDK_PD* pd, const LinkShape& shape,
                                   const ClientOptions& o, const SocketAddress& source,
                                   ULONG outbound) {
  for (int attempt = 1;; ++attempt) {
    auto link = std::make_unique<Link>(adapter, pd, shape);
    try {
      link->connect(source, o.server, 0, outbound, o.complete_delay_ms);
      return link;
    } catch (const Error&) {
      // The server makes its test listener only after the sync: retry as perftest does.
      if (attempt >= kConnectAttempts || stop_requested()) throw;
    }
    std::this_thread::sleep_for(kConnectRetryPause);
  }
}

}  // namespace

Report run_client(const ClientOptions& o) {
  check_sizes(o.size, o.iterations);
  Adapter adapter(o.uri);
  Owned<NDK_PD> pd = make_pd(adapter);
  const sockaddr_storage local = ndkxx::uri_local_address(o.uri, o.server.family());
  const SocketAddress source = SocketAddress::from(reinterpret_cast<const sockaddr*>(&local),
                                                   ndkxx::address_length(local));
  Control control(adapter, pd.get());
  control.link().connect(source, o.server, 0, 0, o.complete_delay_ms);
  exchange_parameters(control, true);
  Region data(pd.get(), o.size, data_flags(o.test, false));
  Region credit(pd.get(), 64, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
  const uint32_t depth = static_cast<uint32_t>(std::min<uint64_t>(o.tx_depth, o.iterations));
  const ULONG want_reads = o.test == Test::Read ? std::min<ULONG>(kMaxReadLimit, depth) : 0;
  std::unique_ptr<Link> test =
      connect_test(adapter, pd.get(), {2 * depth + 16, depth + 4, 1}, o, source, want_reads);
  uint32_t run_depth = depth;
  ULONG inbound = 0, outbound = 0;
  if (o.test == Test::Read) {
    test->read_limits(&inbound, &outbound);
    run_depth = std::max<uint32_t>(1, std::min<uint32_t>(depth, outbound));
  }
  const Dest mine = local_dest(o.test == Test::Send ? credit : data, std::max<ULONG>(outbound, 1));
  const Dest peer = exchange_dests(control, true, o.test, mine);
  const Report report =
      o.test == Test::Send
          ? drive_send(*test, data, credit.data(), o.size, o.iterations, run_depth)
          : drive_rdma(*test, data, peer, o.test, o.size, o.iterations, run_depth);
  control.exchange(true, bytes_of(encode(mine)), kDestBytes, "the end-of-test sync");
  if (o.test != Test::Send) exchange_reports(control, true, report, mine);
  test->disconnect();
  control.link().disconnect();
  return report;
}

namespace {

NDK_CONNECTOR* wait_for_client(ndkxx::ConnectEvents& events, const ServerOptions& o,
                               const char* what) {
  const Clock::time_point deadline =
      o.accept_timeout_s ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(*o.accept_timeout_s))
                         : Clock::time_point::max();
  for (;;) {
    check_stop();
    if (NDK_CONNECTOR* c = events.next(ndkxx::Wait{std::chrono::milliseconds(100), stop_flag()}))
      return c;
    if (Clock::now() >= deadline) throw Error(std::string("no perftest client's ") + what);
  }
}

}  // namespace

Report run_server(const ServerOptions& o) {
  check_sizes(o.size, o.iterations);
  Adapter adapter(o.uri);
  ndkxx::ConnectEvents events;
  // Declared before the connections: a listener's close waits for the connectors it delivered.
  Owned<NDK_LISTENER> listener(create<NDK_LISTENER>(
      "NdkCreateListener", [&](auto cb, void* ctx, NDK_LISTENER** out) {
        return adapter.d()->NdkCreateListener(adapter.get(), &ndkxx::ConnectEvents::on_connect,
                                              &events, cb, ctx, out);
      }));
  const sockaddr_storage address = ndkxx::with_port(ndkxx::uri_local_address(o.uri), o.port);
  ndkxx::Outcome listened = ndkxx::listen(listener.get(), address, stoppable_wait());
  if (!listened.ok())
    throw Error("cannot listen on " + ndkxx::ip_of(address) + ":" + std::to_string(o.port) +
                    ": " + status_text(listened.status),
                listened.status);
  sockaddr_storage bound{};
  if (NTSTATUS s = ndkxx::local_address(listener.get(), &bound); s != STATUS_SUCCESS)
    throw_status("NdkGetLocalAddress (listener)", s);
  Owned<NDK_PD> pd = make_pd(adapter);
  Control control(adapter, pd.get());
  if (o.on_listening)
    o.on_listening(SocketAddress::from(reinterpret_cast<const sockaddr*>(&bound),
                                       ndkxx::address_length(bound)));
  control.link().accept(wait_for_client(events, o, "control connection"), 0, 0);
  exchange_parameters(control, false);
  const bool send = o.test == Test::Send;
  Region data(pd.get(), std::max<uint64_t>(o.size, kCycleBuffer), data_flags(o.test, true));
  Region credits(pd.get(), 4 * kCreditSlots,
                 NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
  const uint32_t rx_depth =
      send ? static_cast<uint32_t>(std::min<uint64_t>(kDefaultRxDepth, o.iterations)) : 1;
  Link test(adapter, pd.get(), {rx_depth + kCreditSlots + 16, kCreditSlots + 4, rx_depth + 1});
  const Receiver rx{data, credits, o.size, rx_depth};
  if (send) post_receives(test, rx);  // before the client can send
  test.accept(wait_for_client(events, o, "test connection"), kMaxReadLimit, 1);
  const Dest mine = local_dest(send ? credits : data, kMaxReadLimit);
  const Dest client = exchange_dests(control, false, o.test, mine);
  Report report;
  if (send) report = serve_send(test, rx, client, o.iterations);
  // Write/read: the client works on this memory while the server waits for its sync.
  control.exchange(false, bytes_of(encode(mine)), kDestBytes, "the end-of-test sync",
                   /*unbounded=*/true);
  if (!send) report = exchange_reports(control, false, {}, mine);
  test.disconnect();
  control.link().disconnect();
  return report;
}

namespace {

constexpr uint32_t kLatReceives = 16;

ULONG latency_flags(Test test, bool server) {
  const ULONG local = NDK_MR_FLAG_ALLOW_LOCAL_WRITE;
  if (test == Test::Write) return local | NDK_MR_FLAG_ALLOW_REMOTE_WRITE;
  if (test == Test::Read) return server ? local | NDK_MR_FLAG_ALLOW_REMOTE_READ
                                        : local | NDK_MR_FLAG_RDMA_READ_SINK;
  return local;
}

// The syncs after a latency test's data phase; the first one waits without a bound on a
// server whose client is still measuring (read).
void latency_syncs(Control& c, bool client, Test test, const Dest& mine) {
  for (int k = 0; k < lat_syncs_after(test); ++k)
    c.exchange(client, bytes_of(encode(mine)), kDestBytes, "the end-of-test sync",
               /*unbounded=*/!client && k == 0);
}

}  // namespace

// The buffer of a latency test: write: [0, size) the source, [size, 2 size) the target the peer
// writes (advertised); send: [0, size) the receives, [size, 2 size) the source; read: the sink
// (client) or the source (server, advertised).
LatencyReport run_latency_client(const ClientOptions& o) {
  check_sizes(o.size, o.iterations);
  Adapter adapter(o.uri);
  Owned<NDK_PD> pd = make_pd(adapter);
  const sockaddr_storage local = ndkxx::uri_local_address(o.uri, o.server.family());
  const SocketAddress source = SocketAddress::from(reinterpret_cast<const sockaddr*>(&local),
                                                   ndkxx::address_length(local));
  Control control(adapter, pd.get());
  control.link().connect(source, o.server, 0, 0, o.complete_delay_ms);
  exchange_parameters(control, true);
  Region buffer(pd.get(), 2 * o.size, latency_flags(o.test, false));
  std::unique_ptr<Link> test =
      connect_test(adapter, pd.get(), {kLatReceives + 8, 8, kLatReceives + 1}, o, source,
                   o.test == Test::Read ? 1 : 0);
  if (o.test == Test::Send) post_lat_receives(*test, buffer, o.size, kLatReceives);
  const Dest mine = local_dest(buffer, 1, o.test == Test::Write ? o.size : 0);
  const Dest peer = exchange_dests(control, true, o.test, mine, /*lat=*/true);
  std::vector<Clock::time_point> posts;
  if (o.test == Test::Write)
    posts = ping_pong_write(*test, buffer, o.size, o.size, peer, o.iterations, false);
  else if (o.test == Test::Send)
    posts = ping_pong_send(*test, buffer, o.size, o.iterations, false);
  else
    posts = read_one_at_a_time(*test, buffer, o.size, peer, o.iterations);
  latency_syncs(control, true, o.test, mine);
  test->disconnect();
  control.link().disconnect();
  return latency_of(o.size, posts, o.test != Test::Read);
}

LatencyReport run_latency_server(const ServerOptions& o) {
  check_sizes(o.size, o.iterations);
  Adapter adapter(o.uri);
  ndkxx::ConnectEvents events;
  Owned<NDK_LISTENER> listener(create<NDK_LISTENER>(
      "NdkCreateListener", [&](auto cb, void* ctx, NDK_LISTENER** out) {
        return adapter.d()->NdkCreateListener(adapter.get(), &ndkxx::ConnectEvents::on_connect,
                                              &events, cb, ctx, out);
      }));
  const sockaddr_storage address = ndkxx::with_port(ndkxx::uri_local_address(o.uri), o.port);
  ndkxx::Outcome listened = ndkxx::listen(listener.get(), address, stoppable_wait());
  if (!listened.ok())
    throw Error("cannot listen on " + ndkxx::ip_of(address) + ":" + std::to_string(o.port) +
                    ": " + status_text(listened.status),
                listened.status);
  sockaddr_storage bound{};
  if (NTSTATUS s = ndkxx::local_address(listener.get(), &bound); s != STATUS_SUCCESS)
    throw_status("NdkGetLocalAddress (listener)", s);
  Owned<NDK_PD> pd = make_pd(adapter);
  Control control(adapter, pd.get());
  if (o.on_listening)
    o.on_listening(SocketAddress::from(reinterpret_cast<const sockaddr*>(&bound),
                                       ndkxx::address_length(bound)));
  control.link().accept(wait_for_client(events, o, "control connection"), 0, 0);
  exchange_parameters(control, false);
  Region buffer(pd.get(), 2 * o.size, latency_flags(o.test, true));
  Link test(adapter, pd.get(), {kLatReceives + 8, 8, kLatReceives + 1});
  if (o.test == Test::Send) post_lat_receives(test, buffer, o.size, kLatReceives);
  test.accept(wait_for_client(events, o, "test connection"), kMaxReadLimit, 1);
  const Dest mine = local_dest(buffer, 1, o.test == Test::Write ? o.size : 0);
  const Dest client = exchange_dests(control, false, o.test, mine, /*lat=*/true);
  std::vector<Clock::time_point> posts;
  if (o.test == Test::Write)
    posts = ping_pong_write(test, buffer, o.size, o.size, client, o.iterations, true);
  else if (o.test == Test::Send)
    posts = ping_pong_send(test, buffer, o.size, o.iterations, true);
  latency_syncs(control, false, o.test, mine);
  test.disconnect();
  control.link().disconnect();
  return latency_of(o.size, posts, true);
}

}  // namespace softndk::cli::perftest
