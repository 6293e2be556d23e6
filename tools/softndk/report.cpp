// Implementation of report.h.
#include "report.h"

#include <unistd.h>

#include <cinttypes>

#include "counters.h"

namespace softndk::cli {

namespace {

constexpr const char* kRule =
    "---------------------------------------------------------------------------------------------";
constexpr auto kAutomaticDelay = std::chrono::seconds(2);
constexpr auto kForcedDelay = std::chrono::milliseconds(500);
constexpr auto kRefresh = std::chrono::milliseconds(500);

const char* op_title(Op op) {
  switch (op) {
    case Op::Send: return "Send";
    case Op::Write: return "RDMA Write";
    case Op::Read: return "RDMA Read";
    case Op::Register: return "Register/Deregister MR";
    case Op::FastRegister: return "Fast-Register/Invalidate MR";
    case Op::Bind: return "Bind/Invalidate MW";
    case Op::SendInvalidate: return "Send-and-Invalidate";
    case Op::Ping: return "Ping";
  }
  return "?";
}

const char* mode_title(Mode mode) {
  switch (mode) {
    case Mode::Bandwidth: return "bandwidth";
    case Mode::Latency: return "latency";
    case Mode::Rate: return "message rate";
  }
  return "?";
}

const char* latency_note(LatencyKind kind) {
  switch (kind) {
    case LatencyKind::OneWay: return "latency: one-way, half the round trip of a ping-pong";
    case LatencyKind::RoundTrip: return "latency: the whole round trip (a read is one)";
    case LatencyKind::Completion:
      return "latency: from posting a request to its completion (queueing included)";
    case LatencyKind::Call: return "latency: from the call to its completion";
  }
  return "";
}

double megabytes_per_second(const Measurement& m) { return m.bytes_per_second() / 1e6; }

// CPU use of client and server during the test, as perftest's --cpu_util: "CPU cl/sv[%]".
constexpr const char* kCpuTitle = "CPU cl/sv[%]";
std::string cpu_cell(const Measurement& m) {
  char text[32];
  std::snprintf(text, sizeof text, "%5.0f/%-5.0f", m.client_cpu.percent(),
                m.server_cpu.percent());
  return std::string(text);
}

}  // namespace

std::string format_size(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (value == static_cast<uint64_t>(value)) {
    std::snprintf(text, sizeof text, "%" PRIu64 " %s", static_cast<uint64_t>(value), kUnits[unit]);
  } else {
    std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  }
  return text;
}

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }

// ---------------------------------------------------------------------------------------------
// Progress

Progress::Progress(bool forced, bool automatic) : enabled_(forced || automatic), forced_(forced) {}

void Progress::start(const std::string& label, const TestClock& clock) {
  if (!enabled_) return;
  label_ = label;
  start_ = clock.start;
  iterations_ = clock.iterations;
  duration_s_ = clock.end == Clock::time_point::max()
                    ? 0
                    : std::chrono::duration<double>(clock.end - clock.start).count();
  next_ = start_ + (forced_ ? Clock::duration(kForcedDelay) : Clock::duration(kAutomaticDelay));
}

void Progress::print(uint64_t done, uint64_t bytes, Clock::time_point now) {
  next_ = now + kRefresh;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  char line[160];
  int n;
  if (duration_s_ > 0) {
    n = std::snprintf(line, sizeof line, "  %s: %.1f/%.1f s", label_.c_str(), elapsed,
                      duration_s_);
  } else {
    n = std::snprintf(line, sizeof line, "  %s: %" PRIu64 "/%" PRIu64 " (%.0f%%) %.1f s",
                      label_.c_str(), done, iterations_, 100.0 * done / iterations_, elapsed);
  }
  if (n > 0 && static_cast<size_t>(n) < sizeof line && elapsed > 0) {
    if (bytes != 0) {
      std::snprintf(line + n, sizeof line - n, "  %.1f MB/s", bytes / elapsed / 1e6);
    } else {
      std::snprintf(line + n, sizeof line - n, "  %.0f ops/s", done / elapsed);
    }
  }
  std::string text = line;
  size_t width = text.size();
  if (width < width_) text.append(width_ - width, ' ');
  width_ = std::max(width_, width);
  std::fprintf(stderr, "\r%s", text.c_str());
  std::fflush(stderr);
  shown_ = true;
}

void Progress::finish() {
  if (shown_) {
    std::fprintf(stderr, "\r%s\r", std::string(width_, ' ').c_str());
    std::fflush(stderr);
  }
  shown_ = false;
  width_ = 0;
  next_ = Clock::time_point::max();
}

// ---------------------------------------------------------------------------------------------
// PerfTable

PerfTable::PerfTable(std::FILE* out, const RunDescription& run) : out_(out), run_(run) {}

void PerfTable::banner() {
  const RunDescription& r = run_;
  std::fprintf(out_, "%s\n", kRule);
  std::fprintf(out_, " softndk perf over %s (%s, server %s)\n", r.uri.c_str(),
               r.in_process ? "both ends in this process" : "remote server", r.server.c_str());
  std::string crc = r.crc;
  if (r.crc_chosen && r.crc != r.crc_client)
    crc += " (asked " + r.crc_client + "; the server requests CRC)";
  std::fprintf(out_, " mode %s | data QPs %u | depth %u | inline %u B | SGEs %u | CRC %s\n",
               mode_title(r.mode), r.data_links, r.depth, r.inline_bytes, r.sge, crc.c_str());
  if (r.duration_s > 0) {
    std::fprintf(out_, " completions %s | cq-mod %u | %.3g s per size\n",
                 r.notifications ? "notifications (NdkArmCq)" : "polling", r.cq_mod,
                 r.duration_s);
  } else if (r.iterations != 0) {
    std::fprintf(out_, " completions %s | cq-mod %u | %" PRIu64 " iterations per size\n",
                 r.notifications ? "notifications (NdkArmCq)" : "polling", r.cq_mod,
                 r.iterations);
  } else {
    std::fprintf(out_, " completions %s | cq-mod %u | each operation's default iterations\n",
                 r.notifications ? "notifications (NdkArmCq)" : "polling", r.cq_mod);
  }
  std::fflush(out_);
}

void PerfTable::begin(Op op, Mode mode) {
  op_ = op;
  mode_ = mode;
  open_ = true;
  std::fprintf(out_, "%s\n", kRule);
  if (is_memory_op(op)) {
    std::fprintf(out_, " %s\n", op_title(op));
    std::fprintf(out_, " %-14s %9s %12s %14s %10s %10s %10s %10s %s\n", "op", "#bytes",
                 "#iterations", "ops/s", "p50[us]", "p99[us]", "p99.9[us]", "max[us]",
                 kCpuTitle);
  } else if (mode == Mode::Latency) {
    std::fprintf(out_, " %s %s\n", op_title(op), mode_title(mode));
    std::fprintf(out_, " %9s %12s %10s %10s %10s %10s %10s %10s %s\n", "#bytes", "#iterations",
                 "t_min[us]", "t_avg[us]", "p50[us]", "p99[us]", "p99.9[us]", "t_max[us]",
                 kCpuTitle);
  } else {
    std::fprintf(out_, " %s %s\n", op_title(op), mode_title(mode));
    std::fprintf(out_, " %9s %12s %14s %15s %10s %10s %10s %10s %s\n", "#bytes", "#iterations",
                 "BW avg[MB/s]", "MsgRate[Mmsg/s]", "p50[us]", "p99[us]", "p99.9[us]", "max[us]",
                 kCpuTitle);
  }
  std::fflush(out_);
}

void PerfTable::row(const Measurement& m) {
  const LatencySummary& l = m.latency;
  kind_ = m.latency_kind;
  if (is_memory_op(op_)) {
    std::fprintf(out_,
                 " %-14s %9" PRIu64 " %12" PRIu64 " %14.1f %10.2f %10.2f %10.2f %10.2f %s\n",
                 m.name.c_str(), m.size, m.iterations, m.ops_per_second(), l.p50_us, l.p99_us,
                 l.p999_us, l.max_us, cpu_cell(m).c_str());
  } else if (mode_ == Mode::Latency) {
    std::fprintf(out_,
                 " %9" PRIu64 " %12" PRIu64 " %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f %s\n",
                 m.size, m.iterations, l.min_us, l.avg_us, l.p50_us, l.p99_us, l.p999_us,
                 l.max_us, cpu_cell(m).c_str());
  } else {
    std::fprintf(out_,
                 " %9" PRIu64 " %12" PRIu64 " %14.2f %15.6f %10.2f %10.2f %10.2f %10.2f %s\n",
                 m.size, m.iterations, megabytes_per_second(m), m.ops_per_second() / 1e6, l.p50_us,
                 l.p99_us, l.p999_us, l.max_us, cpu_cell(m).c_str());
  }
  std::fflush(out_);
}

void PerfTable::end() {
  if (!open_) return;
  std::fprintf(out_, "%s\n %s\n %s\n", kRule, latency_note(kind_),
               run_.in_process ? "CPU: user+system time over wall time of this process during "
                                 "each test (both ends are in it: cl = sv)"
                               : "CPU: user+system time over wall time of the client and of the "
                                 "server process during each test");
  std::fflush(out_);
  open_ = false;
}

// ---------------------------------------------------------------------------------------------
// Counters and JSON

void print_counters(std::FILE* out, const SOFTNDK_ADAPTER_COUNTERS& client,
                    const SOFTNDK_ADAPTER_COUNTERS& server) {
  std::fprintf(out, "%s\n %-22s %16s %16s\n", kRule, "adapter counters", "client", "server");
  for (const CounterField& f : kCounterFields)
    std::fprintf(out, " %-22s %16" PRIu64 " %16" PRIu64 "\n", f.name, client.*f.member,
                 server.*f.member);
  std::fflush(out);
}

nlohmann::json to_json(const SOFTNDK_ADAPTER_COUNTERS& counters) {
  nlohmann::json j = nlohmann::json::object();
  for (const CounterField& f : kCounterFields) j[f.name] = counters.*f.member;
  return j;
}

nlohmann::json to_json(const LatencySummary& l) {
  return {{"count", l.count}, {"min", l.min_us},   {"avg", l.avg_us},     {"stdev", l.stdev_us},
          {"p50", l.p50_us},  {"p99", l.p99_us},   {"p99_9", l.p999_us}, {"max", l.max_us}};
}

nlohmann::json to_json(const Measurement& m) {
  nlohmann::json j = {{"op", op_name(m.op)},
                      {"name", m.name},
                      {"mode", mode_name(m.mode)},
                      {"bytes", m.size},
                      {"iterations", m.iterations},
                      {"seconds", m.seconds},
                      {"ops_per_second", m.ops_per_second()},
                      {"latency_kind", latency_kind_name(m.latency_kind)},
                      {"latency_us", to_json(m.latency)},
                      {"server_completions", m.server_notifications ? "notifications" : "polling"},
                      {"server_cq_notifications", m.server_notification_count},
                      {"cpu_percent",
                       {{"client", m.client_cpu.percent()}, {"server", m.server_cpu.percent()}}}};
  if (m.moves_data) {
    j["mb_per_second"] = m.bytes_per_second() / 1e6;
    j["gbit_per_second"] = m.bytes_per_second() * 8 / 1e9;
  } else {
    j["mb_per_second"] = nullptr;
    j["gbit_per_second"] = nullptr;
  }
  return j;
}

nlohmann::json to_json(const RunDescription& r) {
  nlohmann::json j = {{"mode", mode_name(r.mode)},
                      {"qps", r.data_links},
                      {"depth", r.depth},
                      {"inline", r.inline_bytes},
                      {"sge", r.sge},
                      {"completions", r.notifications ? "notifications" : "polling"},
                      {"cq_mod", r.cq_mod},
                      {"crc", r.crc},
                      {"crc_requested", {{"client", r.crc_client}, {"server", r.crc_server}}}};
  if (r.duration_s > 0 || r.iterations == 0) {
    j["iterations"] = nullptr;
  } else {
    j["iterations"] = r.iterations;
  }
  j["duration_s"] = r.duration_s > 0 ? nlohmann::json(r.duration_s) : nlohmann::json(nullptr);
  return j;
}

}  // namespace softndk::cli
