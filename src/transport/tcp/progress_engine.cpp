// Implementation of transport/tcp/progress_engine.h.
#include "transport/tcp/progress_engine.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "util/log.h"
#include "util/spin_lock.h"

namespace softndk::transport::tcp {

namespace {
constexpr int kMaxEvents = 64;
// Marks the eventfd in epoll_event.data.ptr (never a handler address).
char wake_marker;
}  // namespace

ProgressEngine::ProgressEngine(bool poll_mode) : poll_mode_(poll_mode) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ >= 0 && wake_fd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &wake_marker;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  }
}

ProgressEngine::~ProgressEngine() {
  stop();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

void ProgressEngine::ensure_started_locked() {
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { loop(); });
}

void ProgressEngine::wake() {
  if (poll_mode_ || !sleeping_.load(std::memory_order_seq_cst)) return;
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;
}

bool ProgressEngine::add(int fd, uint32_t events, std::shared_ptr<IoHandler> handler) {
  IoHandler* raw = handler.get();
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || epoll_fd_ < 0) return false;
    ensure_started_locked();
    handlers_[raw] = std::move(handler);
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = raw;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    std::shared_ptr<IoHandler> drop;
    std::lock_guard lock(mutex_);
    auto it = handlers_.find(raw);
    if (it != handlers_.end()) {
      drop = std::move(it->second);
      handlers_.erase(it);
    }
    return false;
  }
  wake();
  return true;
}

void ProgressEngine::modify(int fd, uint32_t events, IoHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

void ProgressEngine::remove(int fd, IoHandler* handler) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  std::lock_guard lock(mutex_);
  auto it = handlers_.find(handler);
  if (it == handlers_.end()) return;
  graveyard_.push_back(std::move(it->second));
  handlers_.erase(it);
}

void ProgressEngine::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    ensure_started_locked();
    tasks_.push_back(std::move(task));
  }
  wake();
}

uint64_t ProgressEngine::arm_timer(uint64_t delay_ms, std::weak_ptr<IoHandler> handler,
                                   uint32_t tag) {
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return 0;
    ensure_started_locked();
    id = next_timer_id_++;
    timers_.emplace(std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms),
                    Timer{id, std::move(handler), tag});
  }
  wake();
  return id;
}

void ProgressEngine::cancel_timer(uint64_t id) {
  if (id == 0) return;
  std::weak_ptr<IoHandler> drop;
  std::lock_guard lock(mutex_);
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->second.id == id) {
      drop = std::move(it->second.handler);
      timers_.erase(it);
      return;
    }
  }
}

void ProgressEngine::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;
  if (thread_.joinable()) thread_.join();
  // Drop what is left outside the lock: handler destructors may call back into the engine.
  std::unordered_map<IoHandler*, std::shared_ptr<IoHandler>> handlers;
  std::vector<std::function<void()>> tasks;
  std::multimap<std::chrono::steady_clock::time_point, Timer> timers;
  std::vector<std::shared_ptr<IoHandler>> graveyard;
  {
    std::lock_guard lock(mutex_);
    handlers.swap(handlers_);
    tasks.swap(tasks_);
    timers.swap(timers_);
    graveyard.swap(graveyard_);
  }
}

void ProgressEngine::loop() {
  thread_id_.store(std::this_thread::get_id());
  epoll_event events[kMaxEvents];
  std::vector<std::function<void()>> tasks;
  for (;;) {
    int timeout_ms = -1;
    {
      std::unique_lock lock(mutex_);
      if (stopping_) break;
      tasks.swap(tasks_);
      lock.unlock();
      for (auto& task : tasks) task();
      tasks.clear();
      lock.lock();
      // Due timers.
      auto now = std::chrono::steady_clock::now();
      while (!timers_.empty() && timers_.begin()->first <= now) {
        Timer timer = std::move(timers_.begin()->second);
        timers_.erase(timers_.begin());
        lock.unlock();
        if (auto handler = timer.handler.lock()) handler->on_timer(timer.tag);
        lock.lock();
        now = std::chrono::steady_clock::now();
      }
      if (!tasks_.empty() || stopping_) {
        timeout_ms = 0;
      } else if (!timers_.empty()) {
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
                        timers_.begin()->first - now)
                        .count() +
                    1;
        timeout_ms = static_cast<int>(std::min<int64_t>(wait, 1000));
      }
      // Polling mode spins only while there is something to poll.
      if (poll_mode_ && !handlers_.empty()) timeout_ms = 0;
      if (timeout_ms != 0) sleeping_.store(true, std::memory_order_seq_cst);
      if (timeout_ms != 0 && !tasks_.empty()) timeout_ms = 0;
    }
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    sleeping_.store(false, std::memory_order_relaxed);
    if (n < 0 && errno != EINTR) {
      SOFTNDK_LOG(Error, "tcp: epoll_wait failed (errno %d)", errno);
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == &wake_marker) {
        uint64_t value;
        ssize_t r = read(wake_fd_, &value, sizeof value);
        (void)r;
        continue;
      }
      static_cast<IoHandler*>(events[i].data.ptr)->on_io(events[i].events);
    }
    if (n == 0 && poll_mode_) util::cpu_relax();
    std::vector<std::shared_ptr<IoHandler>> removed;
    {
      std::lock_guard lock(mutex_);
      removed.swap(graveyard_);
    }
  }
  thread_id_.store(std::thread::id{});
}

}  // namespace softndk::transport::tcp
