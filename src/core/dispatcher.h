// The adapter's event thread: runs every consumer callback (CQ/SRQ notifications, connect and
// disconnect events, completions of pending requests, close completions) and control-path
// timers. One thread per adapter, so callbacks of one adapter never run concurrently with each
// other; it stops only at adapter close, after the last callback has returned.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "transport/transport.h"

namespace softndk::core {

// An intrusive, allocation-free task for the hot notification path (one per CQ/SRQ).
struct Task {
  void (*run)(Task*) = nullptr;
  Task* next = nullptr;
  bool queued = false;  // guarded by the dispatcher lock
};

class Dispatcher final : public transport::Executor {
 public:
  Dispatcher();
  ~Dispatcher() override;  // stops and joins

  // transport::Executor
  void post(std::function<void()> work) override;
  void post_after(uint64_t delay_ms, std::function<void()> work) override;

  // A timer that can be cancelled; returns its id (never 0).
  uint64_t schedule(uint64_t delay_ms, std::function<void()> work);
  // True when the timer was removed before it ran (its work will never run).
  bool cancel(uint64_t id);

  // Queue an intrusive task unless it is already queued. Returns true if queued now.
  bool post_task(Task* task);
  bool on_dispatcher_thread() const { return std::this_thread::get_id() == thread_.get_id(); }
  // True on any adapter's event thread, i.e. inside a consumer callback (verifier mode).
  static bool on_event_thread();
  // Runs everything queued, then stops the thread. Called by the adapter close only.
  void stop();

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::function<void()>> functions_;
  Task* tasks_head_ = nullptr;
  Task* tasks_tail_ = nullptr;
  struct Timer {
    uint64_t id;
    std::function<void()> work;
  };
  std::multimap<std::chrono::steady_clock::time_point, Timer> timers_;
  uint64_t next_timer_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace softndk::core
