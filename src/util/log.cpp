// Implementation of util/log.h: a level read once from SOFTNDK_LOG, output to stderr.
#include "util/log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace softndk::util {
namespace {
LogLevel read_level() {
  const char* env = std::getenv("SOFTNDK_LOG");
  if (env == nullptr) return LogLevel::Warn;
  if (std::strcmp(env, "debug") == 0) return LogLevel::Debug;
  if (std::strcmp(env, "info") == 0) return LogLevel::Info;
  if (std::strcmp(env, "error") == 0) return LogLevel::Error;
  if (std::strcmp(env, "off") == 0) return LogLevel::Off;
  return LogLevel::Warn;
}
}  // namespace

bool log_enabled(LogLevel level) {
  static const LogLevel threshold = read_level();
  return level >= threshold;
}

void log(LogLevel level, const char* fmt, ...) {
  static const char* const kNames[] = {"debug", "info", "warn", "error", "off"};
  char line[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(line, sizeof line, fmt, args);
  va_end(args);
  std::fprintf(stderr, "softndk %s: %s\n", kNames[static_cast<int>(level)], line);
}

}  // namespace softndk::util
