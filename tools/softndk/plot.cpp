// Implementation of plot.h.
#include "plot.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include "errors.h"

extern char** environ;

namespace softndk::cli {

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A gnuplot single-quoted string ('' stands for one quote).
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// Series name -> rows ordered by size.
using Series = std::map<std::string, std::vector<const Measurement*>>;

void write_block(std::ofstream& out, const std::string& id,
                 const std::vector<const Measurement*>& rows) {
  out << "$" << id << " << EOD\n";
  for (const Measurement* m : rows)
    out << m->size << " " << m->bytes_per_second() / 1e6 << " " << m->latency.p50_us << " "
        << m->latency.p99_us << "\n";
  out << "EOD\n";
}

}  // namespace

void check_plot_file(const std::string& file) {
  if (!ends_with(file, ".svg") && !ends_with(file, ".png"))
    throw UsageError("--plot FILE must end in .svg or .png");
  // Checked before the run: a chart that cannot be written must not cost a measurement.
  const size_t slash = file.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : slash == 0 ? "/" : file.substr(0, slash);
  if (access(dir.c_str(), F_OK) != 0)
    throw UsageError("--plot " + file + ": the directory " + dir + " does not exist");
  if (access(dir.c_str(), W_OK | X_OK) != 0)
    throw UsageError("--plot " + file + ": the directory " + dir + " is not writable");
  for (const std::string& path : {file, file + ".gp"})
    if (access(path.c_str(), F_OK) == 0 && access(path.c_str(), W_OK) != 0)
      throw UsageError("--plot " + file + ": " + path + " exists and is not writable");
}

void require_gnuplot() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  for (;;) {
    size_t colon = dirs.find(':', start);
    std::string dir = dirs.substr(start, colon == std::string::npos ? colon : colon - start);
    if (!dir.empty() && access((dir + "/gnuplot").c_str(), X_OK) == 0) return;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  throw Error("--plot needs gnuplot, which is not installed: apt-get install gnuplot-nox "
              "(scripts/setup.sh installs it)");
}

void write_plot(const std::string& file, const std::string& title,
                const std::vector<Measurement>& results) {
  Series series;
  for (const Measurement& m : results) series[m.name].push_back(&m);
  for (auto& [name, rows] : series)
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Measurement* a, const Measurement* b) { return a->size < b->size; });
  bool any_bandwidth = false;
  for (const Measurement& m : results) any_bandwidth = any_bandwidth || m.moves_data;

  const std::string script = file + ".gp";
  {
    std::ofstream out(script);
    if (!out) throw Error("cannot write " + script);
    if (ends_with(file, ".svg")) {
      out << "set terminal svg size 1000," << (any_bandwidth ? 900 : 500)
          << " dynamic enhanced background rgb 'white'\n";
    } else {
      out << "set terminal pngcairo size 1000," << (any_bandwidth ? 900 : 500) << "\n";
    }
    out << "set output " << quoted(file) << "\n";
    // One colour per series in both panels: p50 solid, p99 dashed.
    int index = 0;
    std::map<std::string, std::string> ids;
    std::map<std::string, int> colours;
    for (const auto& [name, rows] : series) {
      colours[name] = ++index;
      ids[name] = "s" + std::to_string(index);
      write_block(out, ids[name], rows);
    }
    // Sizes on a log-2 axis: 2 B and 8 MiB both readable, no size sits on zero.
    out << "set logscale x 2\nset format x '%.0b%B'\n"
        << "set grid\nset key outside right top\n"
        << "set xlabel 'message size [bytes]'\n"
        << "set multiplot layout " << (any_bandwidth ? 2 : 1) << ",1 title " << quoted(title)
        << "\n";
    if (any_bandwidth) {
      out << "set ylabel 'bandwidth [MB/s]'\nplot ";
      bool first = true;
      for (const auto& [name, rows] : series) {
        if (!rows.front()->moves_data) continue;
        out << (first ? "" : ", ") << "$" << ids[name]
            << " using 1:2 with linespoints linecolor " << colours[name] << " title "
            << quoted(name);
        first = false;
      }
      out << "\n";
    }
    out << "set ylabel 'latency [us]'\nset logscale y 10\nplot ";
    bool first = true;
    for (const auto& [name, rows] : series) {
      out << (first ? "" : ", ") << "$" << ids[name] << " using 1:3 with linespoints linecolor "
          << colours[name] << " title " << quoted(name + " p50") << ", $" << ids[name]
          << " using 1:4 with linespoints dashtype 2 linecolor " << colours[name] << " title "
          << quoted(name + " p99");
      first = false;
    }
    out << "\nunset multiplot\n";
    if (!out) throw Error("cannot write " + script);
  }

  pid_t pid = 0;
  const char* argv[] = {"gnuplot", script.c_str(), nullptr};
  if (posix_spawnp(&pid, "gnuplot", nullptr, nullptr, const_cast<char* const*>(argv), environ) != 0)
    throw Error("cannot run gnuplot (apt-get install gnuplot-nox; scripts/setup.sh installs it)");
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error("gnuplot failed on " + script);
}

}  // namespace softndk::cli
