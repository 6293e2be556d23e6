// `softndk ping [ADDRESS[:PORT]]`: connectivity and round-trip time to a softndk server. Each
// ping is a send the server echoes back; the reply must carry the same bytes. Without an
// address, a server runs on a thread of this process; with --server, this process is one.
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "histogram.h"
#include "measure.h"
#include "options.h"
#include "report.h"
#include "rping.h"
#include "server.h"

namespace softndk::cli {

namespace {

constexpr uint64_t kMinPingBytes = 16;

void fill_ping(std::byte* out, uint64_t size, uint64_t seq) {
  for (uint64_t i = 0; i < 8; ++i) out[i] = static_cast<std::byte>(seq >> (8 * i));
  for (uint64_t i = 8; i < size; ++i) out[i] = static_cast<std::byte>((seq * 31 + i) & 0xFF);
}

struct PingResult {
  uint64_t sent = 0;
  uint64_t received = 0;
  double seconds = 0;
  double connect_ms = 0;
  Histogram rtt;
};

// Fills `result` as the pings go, so that an interrupted run still reports those that completed.
void ping(Client& client, const PingOptions& o, PingResult& result) {
  Session& s = client.session();
  result.connect_ms = client.connect_seconds() * 1e3;
  TestParams params;
  params.op = Op::Ping;
  params.mode = Mode::Latency;
  params.size = o.size;
  client.begin_test(params);

  std::byte* request = s.data().data() + s.send_offset();
  const std::byte* reply = s.data().data();
  NDK_SGE sge = s.data().sge(s.send_offset(), o.size);
  NDK_QP* qp = s.link(0).qp();
  bool sent = false, replied = false;
  uint32_t reply_slot = 0;
  Clock::time_point reply_time;
  Session::Handler handler = [&](const NDK_RESULT_EX& r) {
    const ContextParts c = split_context(r.RequestContext);
    if (c.tag == Tag::Receive) {
      reply_time = Clock::now();
      if (r.BytesTransferred != o.size)
        throw Error("the reply has " + std::to_string(r.BytesTransferred) + " bytes, the ping " +
                    std::to_string(o.size));
      reply_slot = c.slot;
      replied = true;
    } else if (c.tag == Tag::Send) {
      sent = true;
    } else {
      throw Error(std::string("unexpected ") + tag_name(c.tag) + " completion");
    }
  };

  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.interval_s));
  const auto start = Clock::now();
  for (uint64_t seq = 1; seq <= o.count; ++seq) {
    fill_ping(request, o.size, seq);
    sent = replied = false;
    const auto t0 = Clock::now();
    NTSTATUS status = qp->Dispatch->NdkSend(qp, make_context(Tag::Send, 0, 0), &sge, 1, 0);
    if (status != STATUS_SUCCESS) s.post_failed("NdkSend", status);
    ++result.sent;
    while (!sent || !replied) {
      if (!s.progress(handler, deadline_from_now()))
        throw Error("no reply to ping seq=" + std::to_string(seq) + " from " +
                    client.server().text() + " within " + timeout_text());
    }
    for (uint64_t i = 0; i < o.size; ++i)
      if (reply[i] != request[i])
        throw Error("the reply to ping seq=" + std::to_string(seq) + " differs at byte " +
                    std::to_string(i));
    s.post_receive(0, reply_slot);  // after the check: nothing else arrives meanwhile
    ++result.received;
    const uint64_t rtt = nanoseconds(reply_time - t0);
    result.rtt.record(rtt);
    if (!o.json) {
      std::printf("%" PRIu64 " bytes from %s: seq=%" PRIu64 " time=%.1f us\n", o.size,
                  client.server().text().c_str(), seq, rtt / 1e3);
      std::fflush(stdout);
    }
    if (seq < o.count) {
      while (Clock::now() < t0 + interval) {
        check_stop();
        std::this_thread::sleep_for(std::min<Clock::duration>(t0 + interval - Clock::now(),
                                                              std::chrono::milliseconds(50)));
      }
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const uint64_t echoed = client.end_test(result.sent);
  if (echoed != result.sent)
    throw Error("the server counted " + std::to_string(echoed) + " of " +
                std::to_string(result.sent) + " pings");
}

void print_summary(const std::string& server, const PingResult& r) {
  const LatencySummary l = LatencySummary::of(r.rtt);
  std::printf("--- %s softndk ping statistics ---\n", server.c_str());
  std::printf("%" PRIu64 " sent, %" PRIu64 " received, %.0f%% lost, time %.0f ms\n", r.sent,
              r.received, r.sent ? 100.0 * (r.sent - r.received) / r.sent : 0.0, r.seconds * 1e3);
  std::printf("rtt min/avg/p50/p99/p99.9/max = %.1f/%.1f/%.1f/%.1f/%.1f/%.1f us\n", l.min_us,
              l.avg_us, l.p50_us, l.p99_us, l.p999_us, l.max_us);
}

void print_result(const PingOptions& o, const Placement& placement, const std::string& server,
                  const PingResult& result, bool interrupted) {
  if (o.json) {
    nlohmann::json doc = {{"command", "ping"},
                          {"softndk_version", release()},
                          {"uri", placement.uri},
                          {"server", server},
                          {"in_process", placement.in_process},
                          {"bytes", o.size},
                          {"sent", result.sent},
                          {"received", result.received},
                          {"seconds", result.seconds},
                          {"connect_ms", result.connect_ms},
                          {"rtt_us", to_json(LatencySummary::of(result.rtt))},
                          {"interrupted", interrupted}};
    std::printf("%s\n", doc.dump(2).c_str());
  } else {
    print_summary(server, result);
  }
  std::fflush(stdout);
}

}  // namespace

int run_ping(const PingOptions& o) {
  if (o.rping) return run_rping(o);
  if (o.count == 0) throw UsageError("--count must be at least 1");
  if (o.size < kMinPingBytes || o.size > kMaxMessageBytes)
    throw UsageError("--size must be 16 B to 1 GiB (a ping carries its sequence number)");
  if (o.timeout_s <= 0) throw UsageError("--timeout must be positive");
  if (o.interval_s < 0 || o.interval_s >= o.timeout_s)
    throw UsageError("--interval must be at least 0 and below --timeout");
  set_wait_timeout(std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.timeout_s)));
  const Placement placement = place_ends("ping", o.uri, o.uri_given, o.server, o.peer, o.port);
  if (!placement.server && o.stats_s != 0)
    throw UsageError("--stats is an option of --server (a client prints its counters at the end)");
  if (placement.server) return run_server(placement.uri, o.port, "", o.stats_s);

  std::unique_ptr<LocalServer> local;
  if (placement.in_process)
    local = std::make_unique<LocalServer>(placement.uri, o.port.value_or(0));
  const SocketAddress server = local ? local->address() : placement.peer;
  PingResult result;
  const auto start = Clock::now();
  try {
    if (!o.json) {
      std::printf("PING %s over %s%s: %" PRIu64 "-byte messages\n", server.text().c_str(),
                  placement.uri.c_str(), local ? " (both ends in this process)" : "", o.size);
      std::fflush(stdout);
    }
    ClientOptions options;
    options.uri = placement.uri;
    options.buffer_bytes = o.size;
    options.notifications = o.events;
    Client client(options, server);
    if (!o.json) {
      std::printf("connected in %.2f ms (control and data connection)\n",
                  client.connect_seconds() * 1e3);
      std::fflush(stdout);
    }
    try {
      ping(client, o, result);
    } catch (const Error& e) {
      client.abandon(e.what());
      throw;
    }
    client.finish();
  } catch (const Error& e) {
    std::optional<std::string> server_error = local ? local->finish() : std::nullopt;
    // Interrupted (SIGINT/SIGTERM): what completed is still reported, as ping(8) does.
    if (stop_requested() && (o.json || result.sent != 0)) {
      result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      print_result(o, placement, server.text(), result, /*interrupted=*/true);
    }
    if (server_error) throw Error(std::string(e.what()) + "; the in-process server: " + *server_error);
    throw;
  }
  if (local) {
    if (std::optional<std::string> error = local->finish())
      throw Error("the in-process server: " + *error);
  }
  print_result(o, placement, server.text(), result, /*interrupted=*/false);
  return 0;
}

}  // namespace softndk::cli
