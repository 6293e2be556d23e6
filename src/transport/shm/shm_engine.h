// The shm adapter's progress engine: one thread per adapter that sleeps in epoll_wait when idle.
// It watches the setup sockets (listeners, connections in setup, and every connection's socket
// afterwards: its hangup is how a dead peer is noticed) and the adapter's doorbell, an eventfd
// that peers write only when this engine said it was going to sleep (the consumer_sleeping flag
// in the ring, see shm_segment.h). While awake it moves the data of every established link
// (receive rings, blocked transmits). Nothing here knows records or NDK.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace softndk::transport::shm {

// Owns a socket the engine watches.
class IoHandler {
 public:
  virtual ~IoHandler() = default;
  virtual void on_io(uint32_t events) = 0;  // progress thread
};

// An established link the engine moves data for (progress thread only).
class Progressable {
 public:
  virtual ~Progressable() = default;
  // Receives what waits in the ring and finishes a blocked transmit. True: did something.
  virtual bool progress() = 0;
  // About to sleep: raise the flags that make the peer ring the doorbell. False when the link
  // must not be slept on (a consumer is polling it): the engine then sleeps at most 1 ms.
  virtual bool prepare_sleep() = 0;
  // After prepare_sleep (its flags are seq_cst stores): true when work arrived meanwhile (do not sleep).
  virtual bool has_work() = 0;
  virtual void end_sleep() = 0;
};

class Engine {
 public:
  Engine();
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The doorbell peers write to (sent to them at setup); -1 when it could not be created.
  int doorbell() const { return doorbell_fd_; }
  // Any thread. Watches `fd` (level-triggered) and keeps `handler` alive until remove().
  bool add(int fd, uint32_t events, std::shared_ptr<IoHandler> handler);
  void modify(int fd, uint32_t events, IoHandler* handler);
  // Any thread: forgets `fd` (does not close it); the handler lives until the current batch ends.
  void remove(int fd, IoHandler* handler);
  // Any thread: moves data for `link` until remove_link.
  void add_link(std::shared_ptr<Progressable> link);
  void remove_link(Progressable* link);
  // Any thread: runs `task` on the progress thread (dropped after stop()).
  void post(std::function<void()> task);
  // Any thread: the progress thread looks at its links again soon.
  void wake();
  bool on_thread() const { return std::this_thread::get_id() == thread_id_.load(); }
  // Stops and joins the thread, drops every handler and link. Idempotent.
  void stop();

 private:
  void ensure_started_locked();
  void loop();
  bool run_links(std::vector<std::shared_ptr<Progressable>>& links);
  int sleep_timeout(std::vector<std::shared_ptr<Progressable>>& links);
  void handle(const epoll_event* events, int count);

  int epoll_fd_ = -1;
  int doorbell_fd_ = -1;
  std::mutex mutex_;
  bool started_ = false;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
  std::vector<std::function<void()>> tasks_;
  std::unordered_map<IoHandler*, std::shared_ptr<IoHandler>> handlers_;
  std::vector<std::shared_ptr<IoHandler>> graveyard_;
  std::vector<std::shared_ptr<Progressable>> links_;
  bool links_changed_ = false;
};

}  // namespace softndk::transport::shm
