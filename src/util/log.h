// Minimal diagnostics. Control-path only; the data path does not log.
// SOFTNDK_LOG=debug|info|warn|error (default warn) selects the level at first use.
#pragma once

#include <cstdarg>

namespace softndk::util {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

bool log_enabled(LogLevel level);
void log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace softndk::util

#define SOFTNDK_LOG(level, ...)                                                   \
  do {                                                                            \
    if (::softndk::util::log_enabled(::softndk::util::LogLevel::level))           \
      ::softndk::util::log(::softndk::util::LogLevel::level, __VA_ARGS__);        \
  } while (0)
