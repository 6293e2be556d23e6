// `softndk perf --plot FILE`: bandwidth and latency against message size, drawn by gnuplot
// (SVG or PNG, from the file's extension). The gnuplot script is kept next to the chart as
// FILE.gp so it can be edited and re-run.
#pragma once

#include <string>
#include <vector>

#include "measure.h"

namespace softndk::cli {

// UsageError unless FILE ends in .svg or .png and FILE and FILE.gp can be written (their
// directory exists and is writable; an existing file is writable).
void check_plot_file(const std::string& file);
// Error when no gnuplot executable is on PATH (checked before a run, not after it).
void require_gnuplot();
// Writes FILE.gp and runs gnuplot on it. Throws Error when gnuplot fails.
void write_plot(const std::string& file, const std::string& title,
                const std::vector<Measurement>& results);

}  // namespace softndk::cli
