// The softndk subcommands: their options (filled by the CLI11 parser in main.cpp) and entry
// points. Each returns the exit status (0 ok, 1 runtime failure) and throws UsageError for a
// command-line mistake (2); Error escaping is a runtime failure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace softndk::cli {

struct InfoOptions {
  std::string uri = "loopback";
  bool json = false;
};
int run_info(const InfoOptions& options);

struct PingOptions {
  std::string uri = "loopback";
  std::string peer;  // ADDRESS[:PORT]; empty: both ends in this process
  bool server = false;
  std::optional<uint16_t> port;
  uint64_t count = 10;
  double interval_s = 0.1;
  uint64_t size = 64;
  bool events = false;
  double timeout_s = 10;
  bool json = false;
};
int run_ping(const PingOptions& options);

struct PerfOptions {
  std::string uri = "loopback";
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
};
int run_perf(const PerfOptions& options);

// `--server` of ping and perf: serves sessions until SIGINT/SIGTERM.
int run_server(const std::string& uri, std::optional<uint16_t> port, const std::string& crc);

}  // namespace softndk::cli
