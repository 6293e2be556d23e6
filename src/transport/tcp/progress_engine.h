// The tcp adapter's progress engine: one thread with one epoll set (non-blocking sockets and an
// eventfd to wake it), tasks posted from other threads and one-shot timers. Started lazily;
// it sleeps in epoll_wait when idle unless polling mode was asked for. Nothing here knows MPA.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace softndk::transport::tcp {

// Implemented by everything that owns a socket (connections, listening endpoints).
class IoHandler {
 public:
  virtual ~IoHandler() = default;
  // Progress thread: epoll reported `events` for the handler's socket.
  virtual void on_io(uint32_t events) = 0;
  // Progress thread: a timer armed with `tag` expired (the handler was still alive).
  virtual void on_timer(uint32_t tag) = 0;
};

class ProgressEngine {
 public:
  explicit ProgressEngine(bool poll_mode);
  ~ProgressEngine();
  ProgressEngine(const ProgressEngine&) = delete;
  ProgressEngine& operator=(const ProgressEngine&) = delete;

  // Any thread. Registers `fd`; the engine keeps `handler` alive until remove(). False after
  // stop() or when epoll refuses the fd.
  bool add(int fd, uint32_t events, std::shared_ptr<IoHandler> handler);
  // Any thread: replaces the interest set of a registered fd (level-triggered).
  void modify(int fd, uint32_t events, IoHandler* handler);
  // Any thread: forgets `fd` (does not close it). The handler stays alive until the batch of
  // events the progress thread is handling (or handles next) is over.
  void remove(int fd, IoHandler* handler);
  // Any thread: runs `task` on the progress thread (dropped after stop()).
  void post(std::function<void()> task);
  // Any thread: on_timer(tag) after `delay_ms` unless cancelled or the handler is gone.
  uint64_t arm_timer(uint64_t delay_ms, std::weak_ptr<IoHandler> handler, uint32_t tag);
  void cancel_timer(uint64_t id);
  bool on_thread() const { return std::this_thread::get_id() == thread_id_.load(); }
  // Stops and joins the thread, then drops every handler. Idempotent.
  void stop();

 private:
  void ensure_started_locked();
  void loop();
  void wake();

  const bool poll_mode_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::mutex mutex_;
  bool started_ = false;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
  std::atomic<bool> sleeping_{false};
  std::vector<std::function<void()>> tasks_;
  std::unordered_map<IoHandler*, std::shared_ptr<IoHandler>> handlers_;
  std::vector<std::shared_ptr<IoHandler>> graveyard_;  // removed handlers, freed after a batch
  struct Timer {
    uint64_t id;
    std::weak_ptr<IoHandler> handler;
    uint32_t tag;
  };
  std::multimap<std::chrono::steady_clock::time_point, Timer> timers_;
  uint64_t next_timer_id_ = 1;
};

}  // namespace softndk::transport::tcp
