// Errors of the softndk command line. Error carries a complete user-facing message (exit status
// 1); UsageError is a command-line mistake found after parsing (exit status 2). status_text()
// names an NTSTATUS the way every message of the tool does.
#pragma once

#include <softndk/ndkpi.h>

#include <stdexcept>
#include <string>

namespace softndk::cli {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, NTSTATUS status = STATUS_UNSUCCESSFUL)
      : std::runtime_error(message), status_(status) {}
  NTSTATUS status() const { return status_; }

 private:
  NTSTATUS status_;
};

// The peer ended the session with a Failure message (it was interrupted, or failed) and said
// why: "<peer> gave up: <reason>". The server logs it as "the client gave up", not as a failure.
class PeerGaveUp : public Error {
 public:
  PeerGaveUp(const std::string& peer, const std::string& reason)
      : Error(peer + " gave up: " + reason), reason_(reason) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "STATUS_CONNECTION_REFUSED (0xC0000236)".
std::string status_text(NTSTATUS status);

// Throws Error("<what> failed: STATUS_... (0x...)").
[[noreturn]] void throw_status(const std::string& what, NTSTATUS status);

}  // namespace softndk::cli
