// `softndk perf`: the plan (operations, mode, sizes, iterations or duration) from the options,
// the run against a server (in this process when no address is given), the perftest-like
// tables or the JSON document, the counters and the optional chart. Also `--server`.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "measure.h"
#include "options.h"
#include "perftest.h"
#include "plot.h"
#include "report.h"
#include "server.h"

namespace softndk::cli {

namespace {

constexpr uint32_t kMaxSge = 256;
constexpr uint32_t kMaxDepth = 16384;
constexpr uint32_t kMaxDataLinks = 64;

struct Plan {
  std::vector<Op> ops;
  Mode mode = Mode::Bandwidth;
  std::vector<uint64_t> sizes;  // empty: each operation's default
  std::optional<uint64_t> iterations;
  double duration_s = 0;
  uint32_t depth = 1;

  std::vector<uint64_t> sizes_for(Op op) const {
    if (!sizes.empty()) return sizes;
    if (is_memory_op(op) || mode == Mode::Bandwidth) return {65536};
    return {2};
  }
  uint64_t iterations_for(Op op) const {
    if (iterations) return *iterations;
    if (is_memory_op(op) || mode == Mode::Latency) return 1000;
    return 5000;
  }
  uint64_t largest() const {
    uint64_t largest = 0;
    for (Op op : ops)
      for (uint64_t s : sizes_for(op)) largest = std::max(largest, s);
    return largest;
  }
};

Plan plan_of(const PerfOptions& o) {
  Plan p;
  p.ops = parse_op_list(o.ops);
  std::optional<Mode> mode = parse_mode(o.mode);
  if (!mode) throw UsageError("unknown mode \"" + o.mode + "\" (bw, lat, rate)");
  p.mode = *mode;
  if (o.all_sizes) {
    p.sizes = sweep_sizes();
  } else if (!o.sizes.empty()) {
    p.sizes = parse_size_list(o.sizes);
  }
  if (o.iterations && *o.iterations == 0) throw UsageError("--iters must be at least 1");
  p.iterations = o.iterations;
  if (o.duration_s) {
    if (!(*o.duration_s > 0) || *o.duration_s > 86400)
      throw UsageError("--duration must be above 0 and at most 86400 seconds");
    p.duration_s = *o.duration_s;
  }
  if (o.qps == 0 || o.qps > kMaxDataLinks) throw UsageError("--qps must be 1 to 64");
  p.depth = o.depth.value_or(p.mode == Mode::Latency ? 1 : 128);
  if (p.depth == 0 || p.depth > kMaxDepth) throw UsageError("--depth must be 1 to 16384");
  if (o.sge == 0 || o.sge > kMaxSge) throw UsageError("--sge must be 1 to 256");
  if (o.cq_mod == 0 || (p.mode != Mode::Latency && o.cq_mod > p.depth))
    throw UsageError("--cq-mod must be 1 to the depth (" + std::to_string(p.depth) + ")");
  if (o.inline_bytes > 65536) throw UsageError("--inline must be at most 65536");
  if (o.timeout_s <= 0) throw UsageError("--timeout must be positive");
  if (!o.plot.empty()) check_plot_file(o.plot);
  return p;
}

void note_crc_without_effect(const std::string& uri, const std::string& crc) {
  if (!crc.empty() && is_in_process(split_uri(uri)))
    std::fprintf(stderr, "softndk: note: --crc has no effect over %s (no wire format)\n",
                 split_uri(uri).scheme.c_str());
}

std::string title_of(const RunDescription& r, const Plan& p) {
  std::string ops;
  for (Op op : p.ops) ops += (ops.empty() ? "" : ",") + std::string(op_name(op));
  return "softndk perf " + ops + " (" + mode_name(r.mode) + ") over " + r.uri;
}

// Every operation at every size, printing the tables as the rows come (text mode); `results`
// grows row by row, so that an interrupted run still has what completed.
void run_tests(Client& client, const Plan& plan, const PerfOptions& o, PerfTable& table,
               Progress& progress, std::vector<Measurement>& results) {
  if (!o.json) table.banner();
  for (Op op : plan.ops) {
    if (!o.json) table.begin(op, plan.mode);
    for (uint64_t size : plan.sizes_for(op)) {
      TestSpec spec;
      spec.op = op;
      spec.mode = plan.mode;
      spec.size = size;
      spec.sge = o.sge;
      spec.depth = plan.depth;
      spec.cq_mod = plan.mode == Mode::Latency ? 1 : o.cq_mod;
      spec.inline_bytes = o.inline_bytes;
      spec.iterations = plan.iterations_for(op);
      spec.duration_s = plan.duration_s;
      std::vector<Measurement> rows = is_memory_op(op) ? run_memory_test(client, spec, progress)
                                                       : run_data_test(client, spec, progress);
      for (Measurement& m : rows) {
        m.server_notifications = client.server_wait().notifications;
        m.server_notification_count = client.server_wait().notification_count;
        m.client_cpu = client.server_wait().client_cpu;
        m.server_cpu = client.server_wait().server_cpu;
        if (!o.json) table.row(m);
        results.push_back(std::move(m));
      }
    }
    if (!o.json) table.end();
  }
}

struct Outcome {
  std::vector<Measurement> results;
  std::optional<Client::Counters> counters;  // none when the run was interrupted
};

void print_json(const RunDescription& run, const Outcome& outcome) {
  nlohmann::json rows = nlohmann::json::array();
  for (const Measurement& m : outcome.results) rows.push_back(to_json(m));
  nlohmann::json counters = nullptr;
  if (outcome.counters)
    counters = {{"client", to_json(outcome.counters->client)},
                {"server", to_json(outcome.counters->server)}};
  nlohmann::json doc = {{"command", "perf"},
                        {"softndk_version", release()},
                        {"uri", run.uri},
                        {"server", run.server},
                        {"in_process", run.in_process},
                        {"settings", to_json(run)},
                        {"results", rows},
                        {"counters", counters},
                        {"interrupted", !outcome.counters.has_value()}};
  std::printf("%s\n", doc.dump(2).c_str());
  std::fflush(stdout);
}

}  // namespace

int run_server(const std::string& uri, std::optional<uint16_t> port, const std::string& crc,
               double stats_s) {
  note_crc_without_effect(uri, crc);
  if (stats_s < 0 || stats_s > 86400) throw UsageError("--stats must be 0 to 86400 seconds");
  ServerOptions options;
  options.uri = apply_crc(uri, crc, /*server=*/true).uri;
  options.port = port.value_or(kDefaultPort);
  options.stats_s = stats_s;
  Server server(options);
  server.serve();
  return 0;
}

int run_perf(const PerfOptions& o) {
  if (o.perftest) return run_perftest(o);
  const Plan plan = plan_of(o);
  set_wait_timeout(std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.timeout_s)));
  const Placement placement = place_ends("perf", o.uri, o.uri_given, o.server, o.peer, o.port);
  if (!placement.server && o.stats_s != 0)
    throw UsageError("--stats is an option of --server (a client prints its counters at the end)");
  if (placement.server) return run_server(placement.uri, o.port, o.crc, o.stats_s);
  if (!o.plot.empty()) require_gnuplot();

  RunDescription run;
  note_crc_without_effect(placement.uri, o.crc);
  const CrcChoice crc = apply_crc(placement.uri, o.crc, /*server=*/false);
  const std::string& uri = crc.uri;
  run.crc_client = crc_name(crc.request);
  run.crc_chosen = crc.chosen;
  run.uri = placement.uri;
  run.in_process = placement.in_process;
  run.mode = plan.mode;
  run.data_links = o.qps;
  run.depth = plan.depth;
  run.inline_bytes = o.inline_bytes;
  run.sge = o.sge;
  run.notifications = o.events;
  run.cq_mod = o.cq_mod;
  // One count for the banner, unless the operations' defaults differ (0: see each row).
  run.iterations = plan.iterations_for(plan.ops.front());
  for (Op op : plan.ops)
    if (plan.iterations_for(op) != run.iterations) run.iterations = 0;
  run.duration_s = plan.duration_s;

  std::unique_ptr<LocalServer> local;
  if (placement.in_process) local = std::make_unique<LocalServer>(uri, o.port.value_or(0));
  const SocketAddress server = local ? local->address() : placement.peer;
  run.server = server.text();

  Outcome outcome;
  try {
    ClientOptions options;
    options.uri = uri;
    options.data_links = static_cast<uint16_t>(o.qps);
    options.sge = static_cast<uint16_t>(o.sge);
    options.depth = std::max<uint32_t>(plan.depth, 2);  // write latency posts two requests
    options.inline_bytes = o.inline_bytes;
    options.buffer_bytes = std::max<uint64_t>(plan.largest(), 4);
    options.notifications = o.events;
    Client client(options, server);
    // MPA uses CRC when either side requests it (RFC 5044 7.1.2): report what the connections
    // use, and say so when that is not what was asked.
    const CrcRequest used = negotiated_crc(crc.request, client.peer().crc);
    run.crc = crc_name(used);
    run.crc_server = crc_name(client.peer().crc);
    if (crc.chosen && crc.request == CrcRequest::Off && used == CrcRequest::On)
      std::fprintf(stderr,
                   "softndk: warning: --crc %s is not in effect: the server requests MPA CRC "
                   "(--crc on, or crc=1 in its URI) and MPA uses CRC when either side asks "
                   "(RFC 5044); this run measures CRC %s\n",
                   crc_name(crc.request), run.crc.c_str());

    PerfTable table(stdout, run);
    Progress progress(o.progress, stdout_is_terminal());
    try {
      run_tests(client, plan, o, table, progress, outcome.results);
    } catch (const Error& e) {
      progress.finish();
      client.abandon(e.what());
      throw;
    }
    outcome.counters = client.finish();
  } catch (const Error& e) {
    std::optional<std::string> server_error = local ? local->finish() : std::nullopt;
    // Interrupted (SIGINT/SIGTERM): the rows that completed are still a JSON document (the text
    // tables have printed them already).
    if (stop_requested() && o.json) {
      outcome.counters.reset();
      print_json(run, outcome);
    }
    if (server_error)
      throw Error(std::string(e.what()) + "; the in-process server: " + *server_error);
    throw;
  }
  if (local) {
    if (std::optional<std::string> error = local->finish())
      throw Error("the in-process server: " + *error);
  }

  if (o.json) {
    print_json(run, outcome);
  } else {
    print_counters(stdout, outcome.counters->client, outcome.counters->server);
  }
  const std::vector<Measurement>& results = outcome.results;
  if (!o.plot.empty()) {
    write_plot(o.plot, title_of(run, plan), results);
    std::fprintf(o.json ? stderr : stdout, "chart written to %s (gnuplot script %s.gp)\n",
                 o.plot.c_str(), o.plot.c_str());
  }
  return 0;
}

}  // namespace softndk::cli
