// `softndk perf --perftest [--server]`: the command line's options checked against what the
// perftest exchange (perftest.h) supports, then one test as a client or a server.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "commands.h"
#include "ndk.h"
#include "options.h"
#include "perftest.h"

namespace softndk::cli {

namespace {

perftest::Test test_of(const std::string& ops) {
  if (ops == "send") return perftest::Test::Send;
  if (ops == "write") return perftest::Test::Write;
  if (ops == "read") return perftest::Test::Read;
  throw UsageError("--perftest runs one of --op send, write or read (ib_send_bw, ib_write_bw, "
                   "ib_read_bw), not \"" + ops + "\"");
}

// What the perftest exchange does not cover yet fails clearly instead of hanging a peer.
void check_supported(const PerfOptions& o) {
  if (o.mode != "bw" && o.mode != "lat")
    throw UsageError("--perftest runs the bandwidth (--mode bw: ib_*_bw) or latency (--mode lat: "
                     "ib_*_lat) tests, not --mode " + o.mode);
  if (o.all_sizes) throw UsageError("--perftest does not support --all (perftest's -a) yet");
  if (o.duration_s) throw UsageError("--perftest does not support --duration (perftest's -D)");
  if (o.qps != 1) throw UsageError("--perftest supports one QP (perftest's -q 1) only");
  if (o.sge != 1 || o.inline_bytes != 0 || o.cq_mod != 1 || o.events || o.json ||
      !o.plot.empty() || o.progress)
    throw UsageError("--perftest takes only --op, --size, --iters, --depth, --crc, --uri, "
                     "--port, --timeout and --server");
  if (o.stats_s != 0) throw UsageError("--perftest does not support --stats");
}

uint64_t size_of(const PerfOptions& o) {
  if (o.sizes.empty()) return o.mode == "lat" ? 2 : 65536;  // perftest's defaults
  const std::vector<uint64_t> sizes = parse_size_list(o.sizes);
  if (sizes.size() != 1) throw UsageError("--perftest runs one --size per test");
  return sizes.front();
}

void print_report(const char* title, const perftest::Report& r) {
  std::printf("%s\n%s\n%s\n", title, perftest::report_header().c_str(),
              perftest::report_line(r).c_str());
}

void print_latency(const char* title, const perftest::LatencyReport& r) {
  std::printf("%s\n%s\n%s\n", title, perftest::latency_header().c_str(),
              perftest::latency_line(r).c_str());
}

}  // namespace

int run_perftest(const PerfOptions& o) {
  check_supported(o);
  const perftest::Test test = test_of(o.ops);
  const uint64_t size = size_of(o);
  const uint64_t iterations = o.iterations.value_or(1000);  // perftest's default (bw and lat)
  if (o.timeout_s <= 0) throw UsageError("--timeout must be positive");
  set_wait_timeout(std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.timeout_s)));
  const uint16_t port = o.port.value_or(perftest::kDefaultPort);
  const Placement placement =
      place_ends("perf --perftest", o.uri, o.uri_given, o.server, o.peer, port);
  if (placement.in_process)
    throw UsageError("--perftest needs a peer: --server, or the perftest server's ADDRESS[:PORT]");
  const std::string uri = apply_crc(placement.uri, o.crc, placement.server).uri;
  const bool lat = o.mode == "lat";
  const std::string name = std::string(perftest::test_name(test)) + (lat ? "_lat" : "_bw");
  if (placement.server) {
    perftest::ServerOptions s;
    s.uri = uri;
    s.test = test;
    s.port = port;
    s.size = size;
    s.iterations = iterations;
    s.on_listening = [&](const SocketAddress& a) {
      std::printf("perftest %s server (perftest %s exchange) listening on %s\n", name.c_str(),
                  perftest::kVersion, a.text().c_str());
      std::fflush(stdout);
    };
    if (lat) {
      const perftest::LatencyReport l = perftest::run_latency_server(s);
      if (test == perftest::Test::Read)
        std::printf("served; perftest's read_lat server measures nothing\n");
      else
        print_latency("server's numbers:", l);
      return 0;
    }
    const perftest::Report r = perftest::run_server(s);
    print_report(test == perftest::Test::Send ? "server's numbers (receives):"
                                              : "client's numbers (as it reported them):",
                 r);
    return 0;
  }
  perftest::ClientOptions c;
  c.uri = uri;
  c.server = placement.peer;
  c.test = test;
  c.size = size;
  c.iterations = iterations;
  c.tx_depth = o.depth.value_or(perftest::kDefaultTxDepth);
  if (c.tx_depth == 0 || c.tx_depth > 16384) throw UsageError("--depth must be 1 to 16384");
  if (const char* delay = std::getenv("SOFTNDK_PERFTEST_COMPLETE_DELAY_MS"))
    c.complete_delay_ms = static_cast<uint32_t>(std::strtoul(delay, nullptr, 10));
  if (lat) {
    const perftest::LatencyReport l = perftest::run_latency_client(c);
    std::printf("perftest %s client of %s (perftest %s exchange)\n", name.c_str(),
                c.server.text().c_str(), perftest::kVersion);
    print_latency("", l);
    return 0;
  }
  const perftest::Report r = perftest::run_client(c);
  std::printf("perftest %s client of %s (perftest %s exchange)\n", name.c_str(),
              c.server.text().c_str(), perftest::kVersion);
  print_report("", r);
  return 0;
}

}  // namespace softndk::cli
