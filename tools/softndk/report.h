// Output of the softndk command line: number formatting, the live progress line (stderr), the
// perftest-like tables of `perf`, JSON values (nlohmann::json) for measurements and counters,
// and the counters table. No measuring here.
#pragma once

#include <softndk/softndk.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "measure.h"

namespace softndk::cli {

// "2 B", "4 KiB", "1.5 MiB".
std::string format_size(uint64_t bytes);
bool stdout_is_terminal();

// A one-line live status on stderr, rewritten in place: shown with --progress (after 0.5 s) or,
// when stdout is a terminal, for tests that run longer than 2 s.
class Progress {
 public:
  Progress(bool forced, bool automatic);
  void start(const std::string& label, const TestClock& clock);
  // Cheap unless a refresh is due: call it as often as convenient.
  void update(uint64_t done, uint64_t bytes, Clock::time_point now) {
    if (enabled_ && now >= next_) print(done, bytes, now);
  }
  // Erases the line if one was shown.
  void finish();

 private:
  void print(uint64_t done, uint64_t bytes, Clock::time_point now);
  bool enabled_;
  bool forced_;
  bool shown_ = false;
  std::string label_;
  Clock::time_point start_{};
  Clock::time_point next_ = Clock::time_point::max();
  uint64_t iterations_ = 0;
  double duration_s_ = 0;
  size_t width_ = 0;
};

// The settings line(s) printed above the tables.
struct RunDescription {
  std::string uri;
  std::string server;  // ADDRESS:PORT
  bool in_process = false;
  Mode mode = Mode::Bandwidth;
  uint32_t data_links = 1;
  uint32_t depth = 1;
  uint32_t inline_bytes = 0;
  uint32_t sge = 1;
  // MPA CRC: what the client's and the server's adapters request and what the connections
  // use (on when either requests it, RFC 5044); "on", "off", "n/a" (no wire format).
  std::string crc;
  std::string crc_client;
  std::string crc_server;
  bool crc_chosen = false;  // the client asked for crc_client (--crc or crc= in the URI)
  bool notifications = false;
  uint32_t cq_mod = 1;
  uint64_t iterations = 0;  // when duration_s == 0
  double duration_s = 0;
};

// perftest-style text output of `perf`: a banner, then one table per operation.
class PerfTable {
 public:
  PerfTable(std::FILE* out, const RunDescription& run);
  void banner();
  // Starts the table of `op` (a header line and column titles).
  void begin(Op op, Mode mode);
  void row(const Measurement& m);
  // Closes the current table with a note on what its latency means.
  void end();

 private:
  std::FILE* out_;
  RunDescription run_;
  Op op_ = Op::Send;
  Mode mode_ = Mode::Bandwidth;
  bool open_ = false;
  LatencyKind kind_ = LatencyKind::Completion;
};

// Prints the counters of both sides as a two-column table.
void print_counters(std::FILE* out, const SOFTNDK_ADAPTER_COUNTERS& client,
                    const SOFTNDK_ADAPTER_COUNTERS& server);

nlohmann::json to_json(const SOFTNDK_ADAPTER_COUNTERS& counters);
nlohmann::json to_json(const LatencySummary& latency);
nlohmann::json to_json(const Measurement& m);
nlohmann::json to_json(const RunDescription& run);

}  // namespace softndk::cli
