// Implementation of core/dispatcher.h.
#include "core/dispatcher.h"

#include "core/progress.h"

namespace softndk::core {

namespace {
thread_local bool t_event_thread = false;
}  // namespace

Dispatcher::Dispatcher() : thread_([this] { loop(); }) {}

bool Dispatcher::on_event_thread() { return t_event_thread; }

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::post(std::function<void()> work) {
  {
    std::lock_guard lock(mutex_);
    functions_.push_back(std::move(work));
  }
  wake_.notify_one();
}

void Dispatcher::post_after(uint64_t delay_ms, std::function<void()> work) {
  schedule(delay_ms, std::move(work));
}

uint64_t Dispatcher::schedule(uint64_t delay_ms, std::function<void()> work) {
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    id = next_timer_id_++;
    timers_.emplace(std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms),
                    Timer{id, std::move(work)});
  }
  wake_.notify_one();
  return id;
}

bool Dispatcher::cancel(uint64_t id) {
  std::lock_guard lock(mutex_);
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->second.id == id) {
      timers_.erase(it);
      return true;
    }
  }
  return false;
}

bool Dispatcher::post_task(Task* task) {
  {
    std::lock_guard lock(mutex_);
    if (task->queued) return false;
    task->queued = true;
    task->next = nullptr;
    if (tasks_tail_ != nullptr) {
      tasks_tail_->next = task;
    } else {
      tasks_head_ = task;
    }
    tasks_tail_ = task;
  }
  wake_.notify_one();
  return true;
}

void Dispatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::loop() {
  t_event_thread = true;
  std::unique_lock lock(mutex_);
  for (;;) {
    // Due timers first become ordinary work.
    auto now = std::chrono::steady_clock::now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      functions_.push_back(std::move(timers_.begin()->second.work));
      timers_.erase(timers_.begin());
    }
    if (tasks_head_ != nullptr) {
      Task* task = tasks_head_;
      tasks_head_ = task->next;
      if (tasks_head_ == nullptr) tasks_tail_ = nullptr;
      task->queued = false;
      lock.unlock();
      {
        ProgressScope scope;
        task->run(task);
      }
      lock.lock();
      continue;
    }
    if (!functions_.empty()) {
      std::vector<std::function<void()>> batch;
      batch.swap(functions_);
      lock.unlock();
      for (auto& fn : batch) {
        ProgressScope scope;
        fn();
      }
      batch.clear();
      lock.lock();
      continue;
    }
    // Timers still pending at stop are dropped: the adapter close has waited for every
    // object, so what remains are timeouts of objects that no longer exist.
    if (stopping_) return;
    if (timers_.empty()) {
      wake_.wait(lock);
    } else {
      // Copy the deadline: cancel() may erase that timer while we wait.
      auto deadline = timers_.begin()->first;
      wake_.wait_until(lock, deadline);
    }
  }
}

}  // namespace softndk::core
