// softndk: the command line of softndk (`info`, `ping`, `perf`, `chaos`), built on CLI11. Exit status:
// 0 success, 1 runtime failure (the message names the NTSTATUS), 2 usage error.
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "errors.h"
#include "ndk.h"
#include "options.h"

namespace {

using namespace softndk::cli;

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

void on_signal(int) { request_stop(); }
void on_counters_signal(int) { request_counters(); }

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = &on_signal;
  action.sa_flags = SA_RESETHAND;  // a second signal ends the process the usual way
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  struct sigaction counters {};
  counters.sa_handler = &on_counters_signal;
  counters.sa_flags = SA_RESTART;
  sigemptyset(&counters.sa_mask);
  sigaction(SIGUSR1, &counters, nullptr);  // a server prints its counters
}

// Options both `ping` and `perf` have.
struct EndpointFlags {
  CLI::Option* port = nullptr;
  unsigned port_value = 0;
  CLI::Option* uri = nullptr;
};

void add_endpoint_options(CLI::App* cmd, std::string& uri, std::string& peer, bool& server,
                          EndpointFlags& flags, double& timeout, bool& events, bool& json,
                          double& stats) {
  cmd->add_option("address", peer,
                  "the server: IPv4[:PORT], [IPv6][:PORT] or HOST[:PORT] (over tcp, from the "
                  "source address routing picks); none: both ends run in this process");
  cmd->add_flag("--server", server,
                "run as the server other hosts connect to (listens on the URI's address; "
                "without --uri on every IPv4 address, tcp://0.0.0.0)");
  flags.uri = cmd->add_option("-u,--uri", uri,
                              "adapter URI: the transport (default loopback in one process, "
                              "tcp between processes)");
  cmd->add_option("--stats", stats,
                  "with --server: print the adapter's counters every SECONDS (SIGUSR1 prints "
                  "them at once)");
  flags.port = cmd->add_option("-p,--port", flags.port_value,
                               "the server's ND port: where --server listens and where a client "
                               "connects when ADDRESS has none (default 18515); with both ends in "
                               "this process, where that server listens (default any)")
                   ->check(CLI::Range(0, 65535));
  cmd->add_option("--timeout", timeout, "bound of every wait, in seconds")->capture_default_str();
  cmd->add_flag("-e,--events", events,
                "wait for completions with CQ notifications (NdkArmCq) instead of polling");
  cmd->add_flag("--json", json, "print one JSON document instead of text");
}

std::optional<uint16_t> port_of(const EndpointFlags& flags) {
  if (flags.port->count() == 0) return std::nullopt;
  return static_cast<uint16_t>(flags.port_value);
}

constexpr const char* kCommands = "info, ping, perf, chaos, help";

int usage_error(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "%s: %s\nRun `%s --help` for more information.\n", command.c_str(),
               message.c_str(), command.c_str());
  return kExitUsage;
}

// Words on the command line that no option or positional argument took (every command allows
// extras so that they can be named here): the first one is the mistake.
std::optional<int> report_extras(CLI::App& app) {
  if (!app.remaining().empty()) {
    const std::string word = app.remaining().front();
    if (word.size() > 1 && word[0] == '-')
      return usage_error("softndk", "unknown option \"" + word + "\"");
    return usage_error("softndk", "unknown command \"" + word + "\" (commands: " +
                                      std::string(kCommands) + ")");
  }
  for (CLI::App* cmd : app.get_subcommands()) {
    if (cmd->remaining().empty()) continue;
    const std::string word = cmd->remaining().front();
    const std::string name = "softndk " + cmd->get_name();
    if (word.size() > 1 && word[0] == '-')
      return usage_error(name, "unknown option \"" + word + "\"");
    return usage_error(name, "unexpected argument \"" + word + "\"");
  }
  return std::nullopt;
}

// `softndk help [COMMAND]`.
int run_help(CLI::App& app, const std::string& topic) {
  // App::help() would describe the selected subcommand (`help` itself): format directly.
  if (topic.empty()) {
    std::printf("%s", app.get_formatter()->make_help(&app, "softndk", CLI::AppFormatMode::Normal)
                          .c_str());
    return 0;
  }
  for (CLI::App* cmd : app.get_subcommands({}))
    if (cmd->get_name() == topic) {
      std::printf("%s", cmd->get_formatter()
                            ->make_help(cmd, "softndk " + topic, CLI::AppFormatMode::Sub)
                            .c_str());
      return 0;
    }
  return usage_error("softndk help", "unknown command \"" + topic + "\" (commands: " +
                                         std::string(kCommands) + ")");
}

CLI::App* add_chaos_command(CLI::App& app, ChaosOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "chaos", "Run a consumer workload under fault plans and check NDK's invariants online");
  cmd->add_option("-u,--uri", o.uri,
                  "adapter URI of both ends, in this process (loopback, tcp://127.0.0.1, ...)")
      ->capture_default_str();
  cmd->add_option("--faults", o.faults,
                  "fault plan of every schedule (docs/faults.md), on both adapters; none: no "
                  "faults; default: a random plan per schedule");
  cmd->add_option("--seed", o.seed,
                  "seed of the first schedule (fault_seed and the workload); each next schedule "
                  "derives its own")
      ->capture_default_str();
  cmd->add_option("-n,--schedules", o.schedules, "schedules to run")->capture_default_str();
  cmd->add_option("--ops", o.ops, "workload operations per schedule")->capture_default_str();
  cmd->add_option("--timeout", o.timeout_s, "bound of every wait, in seconds")
      ->capture_default_str();
  cmd->add_flag("--json", o.json, "print one JSON document instead of text");
  // Test-only (hidden): the tool commits one violation itself, so that a test sees the checker
  // fail (docs/faults.md, "softndk chaos").
  cmd->add_option("--self-test-violation", o.self_test,
                  "commit one violation: double, stray, outside or guard")
      ->check(CLI::IsMember({"double", "stray", "outside", "guard"}))
      ->group("");
  return cmd;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"softndk: adapter information, connectivity and performance of softndk, the "
               "user-space NDKPI provider",
               "softndk"};
  app.require_subcommand(0, 1);
  app.allow_extras();
  app.set_version_flag("-V,--version", version_text());
  app.footer("Exit status: 0 success, 1 runtime failure, 2 usage error. See softndk(1) and "
             "`softndk help COMMAND`.");

  // ---- help
  std::string help_topic;
  CLI::App* help_cmd = app.add_subcommand("help", "Show this help, or a command's help");
  help_cmd->add_option("command", help_topic, "info, ping, perf or chaos");

  // ---- info
  InfoOptions info;
  CLI::App* info_cmd = app.add_subcommand(
      "info", "Show an adapter's NDK_ADAPTER_INFO, flags, counters and the transports built in");
  info_cmd->add_option("uri", info.uri, "adapter URI (default loopback)");
  info_cmd->add_option("-u,--uri", info.uri, "adapter URI, as the positional argument");
  info_cmd->add_flag("--json", info.json, "print a JSON document");
  info_cmd->add_flag("--profiles", info.profiles,
                     "list the adapter profiles (?profile=NAME) and their limits instead");

  // ---- ping
  PingOptions ping;
  EndpointFlags ping_flags;
  std::string ping_size = "64";
  CLI::App* ping_cmd = app.add_subcommand(
      "ping", "Connect to a softndk server and measure round trips of echoed sends");
  add_endpoint_options(ping_cmd, ping.uri, ping.peer, ping.server, ping_flags, ping.timeout_s,
                       ping.events, ping.json, ping.stats_s);
  ping_cmd->add_option("-c,--count", ping.count, "pings to send")->capture_default_str();
  ping_cmd->add_option("-i,--interval", ping.interval_s, "seconds between pings")
      ->capture_default_str();
  ping_cmd->add_option("-s,--size", ping_size, "bytes per ping (16 B to 1 GiB; 4K, 1M...)")
      ->capture_default_str();
  ping_cmd->add_flag("--rping", ping.rping,
                     "speak rping's exchange (rdma-core): client of `rping -s`, or with --server "
                     "the server of `rping -c`; port default 7174");

  // ---- perf
  PerfOptions perf;
  EndpointFlags perf_flags;
  CLI::App* perf_cmd = app.add_subcommand(
      "perf", "Measure bandwidth, latency and message rate of data and memory operations");
  add_endpoint_options(perf_cmd, perf.uri, perf.peer, perf.server, perf_flags, perf.timeout_s,
                       perf.events, perf.json, perf.stats_s);
  perf_cmd
      ->add_option("-o,--op", perf.ops,
                   "operations, comma separated: send, write, read, reg, fastreg, bind, sendinv; "
                   "all = send,write,read; mem = reg,fastreg,bind,sendinv")
      ->capture_default_str();
  perf_cmd->add_option("-m,--mode", perf.mode, "bw (bandwidth), lat (latency), rate (message rate)")
      ->capture_default_str()
      ->check(CLI::IsMember({"bw", "lat", "rate"}));
  CLI::Option* size_opt = perf_cmd->add_option(
      "-s,--size", perf.sizes,
      "message sizes, comma separated (4K, 1M...); default 64 KiB (bw, memory ops) or 2 B");
  perf_cmd->add_flag("-a,--all", perf.all_sizes, "sweep sizes 2 B to 8 MiB (powers of two)")
      ->excludes(size_opt);
  uint64_t iterations = 0;
  double duration = 0;
  CLI::Option* iters_opt = perf_cmd->add_option(
      "-n,--iters", iterations,
      "iterations per size (all data QPs together); default 5000 (bw, rate) or 1000");
  CLI::Option* duration_opt =
      perf_cmd->add_option("-D,--duration", duration, "seconds per size instead of iterations")
          ->excludes(iters_opt);
  perf_cmd->add_option("-q,--qps", perf.qps, "data QPs (connections), 1 to 64")
      ->capture_default_str();
  uint32_t depth = 0;
  CLI::Option* depth_opt = perf_cmd->add_option(
      "-t,--depth", depth, "requests outstanding per QP (default 128; 1 in lat mode)");
  perf_cmd->add_option("-I,--inline", perf.inline_bytes,
                       "sends and writes up to this size go inline (NDK_OP_FLAG_INLINE)")
      ->capture_default_str();
  perf_cmd->add_option("-S,--sge", perf.sge, "SGEs per request, 1 to 256")->capture_default_str();
  perf_cmd->add_option("--crc", perf.crc, "MPA CRC of the transport (the URI option crc=1|0)")
      ->check(CLI::IsMember({"on", "off"}));
  perf_cmd->add_option("-Q,--cq-mod", perf.cq_mod, "one signaled completion per N requests")
      ->capture_default_str();
  perf_cmd->add_flag("--progress", perf.progress,
                     "show the live progress line even when stdout is not a terminal");
  perf_cmd->add_option("--plot", perf.plot,
                       "draw bandwidth and latency against size into FILE.svg or FILE.png "
                       "(gnuplot)");
  perf_cmd->add_flag("--perftest", perf.perftest,
                     "speak perftest's exchange (ib_send_bw, ib_write_bw, ib_read_bw with -R; "
                     "-m lat: ib_*_lat): client of a perftest server, or with --server the "
                     "server of a perftest client; one --op, one --size, --iters (default "
                     "1000), port default 18515");

  // ---- chaos
  ChaosOptions chaos;
  CLI::App* chaos_cmd = add_chaos_command(app, chaos);

  for (CLI::App* cmd : app.get_subcommands({})) cmd->allow_extras();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (std::optional<int> status = report_extras(app)) return *status;
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  if (std::optional<int> status = report_extras(app)) return *status;
  if (*help_cmd) return run_help(app, help_topic);
  if (app.get_subcommands().empty())
    return usage_error("softndk", std::string("a command is required (") + kCommands + ")");
  install_signal_handlers();
  install_close_failure_report();

  const char* command = "softndk";
  try {
    if (*info_cmd) {
      command = "softndk info";
      return run_info(info);
    }
    if (*ping_cmd) {
      command = "softndk ping";
      ping.port = port_of(ping_flags);
      ping.uri_given = ping_flags.uri->count() != 0;
      std::optional<uint64_t> size = parse_size(ping_size);
      if (!size) throw UsageError("bad --size \"" + ping_size + "\"");
      ping.size = *size;
      return run_ping(ping);
    }
    if (*chaos_cmd) {
      command = "softndk chaos";
      return run_chaos(chaos);
    }
    command = "softndk perf";
    perf.port = port_of(perf_flags);
    perf.uri_given = perf_flags.uri->count() != 0;
    if (iters_opt->count() != 0) perf.iterations = iterations;
    if (duration_opt->count() != 0) perf.duration_s = duration;
    if (depth_opt->count() != 0) perf.depth = depth;
    return run_perf(perf);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: %s\nRun with --help for more information.\n", command, e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    // After SIGINT/SIGTERM every other message is a consequence of stopping.
    std::fprintf(stderr, "%s: %s%s\n", command, stop_requested() ? "" : "error: ",
                 stop_requested() ? "interrupted" : e.what());
    return kExitRuntime;
  }
}
