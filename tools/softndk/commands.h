// The softndk subcommands: their options (filled by the CLI11 parser in main.cpp) and entry
// points. Each returns the exit status (0 ok, 1 runtime failure) and throws UsageError for a
// command-line mistake (2); Error escaping is a runtime failure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace softndk::cli {

// "softndk 0.1.0 (NDKPI 2.1)": `softndk --version`, `softndk info`.
std::string version_text();
// The release alone ("0.1.0"), for JSON documents.
const char* release();

struct InfoOptions {
  std::string uri = "loopback";
  bool json = false;
  bool profiles = false;  // list the adapter profiles instead of one adapter
};
int run_info(const InfoOptions& options);

struct PingOptions {
  std::string uri = "loopback";
  bool uri_given = false;  // --uri: else tcp between processes, loopback in one
  double stats_s = 0;      // --server: print the adapter's counters this often (0: never)
  std::string peer;  // ADDRESS[:PORT]; empty: both ends in this process
  bool server = false;
  std::optional<uint16_t> port;
  uint64_t count = 10;
  double interval_s = 0.1;
  uint64_t size = 64;
  bool events = false;
  double timeout_s = 10;
  bool json = false;
  bool rping = false;  // rping's exchange (rping.h) instead of softndk's
};
int run_ping(const PingOptions& options);

struct PerfOptions {
  std::string uri = "loopback";
  bool uri_given = false;
  double stats_s = 0;
  std::string peer;
  bool server = false;
  std::optional<uint16_t> port;
  std::string ops = "send";
  std::string mode = "bw";
  std::string sizes;  // empty: the mode's default
  bool all_sizes = false;
  std::optional<uint64_t> iterations;
  std::optional<double> duration_s;
  uint32_t qps = 1;
  std::optional<uint32_t> depth;
  uint32_t inline_bytes = 0;
  uint32_t sge = 1;
  std::string crc;  // "", "on", "off"
  bool events = false;
  uint32_t cq_mod = 1;
  double timeout_s = 10;
  bool json = false;
  bool progress = false;
  std::string plot;
  bool perftest = false;  // perftest's exchange (perftest.h) instead of softndk's
};
int run_perf(const PerfOptions& options);

// `softndk chaos`: seeded schedules of a consumer workload under fault plans, both ends in this
// process; 0 when no schedule broke an invariant, 1 otherwise (the failing seeds are listed).
struct ChaosOptions {
  std::string uri = "loopback";
  std::string faults;  // a plan (docs/faults.md); "none"; empty: a random plan per schedule
  uint64_t seed = 1;
  uint64_t schedules = 20;
  uint64_t ops = 200;
  double timeout_s = 10;
  bool json = false;
  std::string self_test;  // hidden --self-test-violation: double, stray, outside, guard
};
int run_chaos(const ChaosOptions& options);

// `--server` of ping and perf: serves sessions until SIGINT/SIGTERM; prints the adapter's
// counters every `stats_s` seconds (0: never) and on SIGUSR1.
int run_server(const std::string& uri, std::optional<uint16_t> port, const std::string& crc,
               double stats_s);

}  // namespace softndk::cli
