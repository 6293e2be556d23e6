// The softndk server (`softndk ping --server`, `softndk perf --server`): listens on the adapter's
// address, runs one session at a time (a control connection plus its data connections) and
// answers the client's tests; rejects, with a reason the client prints, requests it cannot
// serve (busy, other protocol version, limits). LocalServer runs one on a thread of this
// process: how `ping` and `perf` work with no peer address (e.g. over the loopback fabric).
#pragma once

#include <softndk/ndkpi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "address.h"
#include "ndk.h"
#include "protocol.h"

namespace softndk::cli {

struct ServerOptions {
  std::string uri = "loopback";
  uint16_t port = kDefaultPort;  // 0: any free port
  bool once = false;             // return after one session; a failed session throws
  bool verbose = true;           // a line per session on stdout
  const std::atomic<bool>* stop = nullptr;  // extra stop flag (LocalServer)
  double stats_s = 0;  // print the adapter's counters this often while serving (0: never)
};

class Server {
 public:
  // Opens the adapter and listens on local_ip(uri):port. Throws Error.
  explicit Server(const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const SocketAddress& address() const { return address_; }
  Adapter& adapter() { return adapter_; }
  // Serves sessions until a stop is requested (or after one session with `once`).
  void serve();

 private:
  struct Incoming {
    NDK_CONNECTOR* connector;
    ConnectRequest request;
    std::string peer;
  };
  static void on_connect_event(void* context, NDK_CONNECTOR* connector);
  void reject(NDK_CONNECTOR* connector, const std::string& reason);
  bool stopping() const;
  std::optional<Incoming> next_incoming(Clock::time_point deadline);
  void run_session(const Incoming& control);
  // The counters line: every options_.stats_s and on SIGUSR1, on its own thread (sessions
  // block the serving thread), until serve() returns.
  void report_counters_until(const std::atomic<bool>& done);
  void print_counters_line();

  ServerOptions options_;
  Adapter adapter_;
  SocketAddress address_;
  CrcRequest crc_;  // what the adapter asks of MPA CRC; clients learn it from the Welcome
  std::mutex mutex_;  // guards incoming_
  std::condition_variable cv_;
  std::deque<Incoming> incoming_;
  std::atomic<uint64_t> active_session_{0};  // session id being served, 0 when idle
  uint64_t sessions_ = 0;
  Owned<NDK_LISTENER> listener_;  // last: closed before the members its callback uses
};

class LocalServer {
 public:
  // Starts a server (port 0 = any) on its own thread for one session and waits until it
  // listens; throws its error if it could not start.
  LocalServer(const std::string& uri, uint16_t port);
  ~LocalServer();
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  const SocketAddress& address() const { return address_; }
  // Stops the server if it still runs, waits for its thread and returns why it failed, if it
  // did. Safe to call more than once.
  std::optional<std::string> finish();

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;  // guards started_, error_
  std::condition_variable cv_;
  bool started_ = false;
  std::optional<std::string> error_;
  SocketAddress address_;
  std::thread thread_;
};

}  // namespace softndk::cli
