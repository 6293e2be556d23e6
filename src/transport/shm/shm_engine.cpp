// Implementation of shm_engine.h.
#include "transport/shm/shm_engine.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace softndk::transport::shm {
namespace {
constexpr int kMaxEvents = 32;
constexpr int kPolledSleepMs = 1;
}  // namespace

Engine::Engine() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  doorbell_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ >= 0 && doorbell_fd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the doorbell
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, doorbell_fd_, &ev);
  }
}

Engine::~Engine() {
  stop();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (doorbell_fd_ >= 0) ::close(doorbell_fd_);
}

void Engine::ensure_started_locked() {
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { loop(); });
}

bool Engine::add(int fd, uint32_t events, std::shared_ptr<IoHandler> handler) {
  std::lock_guard lock(mutex_);
  if (stopping_ || epoll_fd_ < 0) return false;
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler.get();
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  handlers_[handler.get()] = std::move(handler);
  ensure_started_locked();
  return true;
}

void Engine::modify(int fd, uint32_t events, IoHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

void Engine::remove(int fd, IoHandler* handler) {
  std::lock_guard lock(mutex_);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  auto it = handlers_.find(handler);
  if (it == handlers_.end()) return;
  graveyard_.push_back(std::move(it->second));
  handlers_.erase(it);
}

void Engine::add_link(std::shared_ptr<Progressable> link) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    links_.push_back(std::move(link));
    links_changed_ = true;
    ensure_started_locked();
  }
  wake();
}

void Engine::remove_link(Progressable* link) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(links_.begin(), links_.end(),
                         [link](const auto& l) { return l.get() == link; });
  if (it == links_.end()) return;
  links_.erase(it);
  links_changed_ = true;
}

void Engine::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
    ensure_started_locked();
  }
  wake();
}

void Engine::wake() {
  if (on_thread()) return;  // it looks at everything before it sleeps
  uint64_t one = 1;
  ssize_t n = ::write(doorbell_fd_, &one, sizeof one);
  (void)n;  // EAGAIN: the counter is saturated, a wake-up is pending anyway
}

void Engine::stop() {
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  if (thread.joinable()) {
    uint64_t one = 1;
    ssize_t n = ::write(doorbell_fd_, &one, sizeof one);
    (void)n;
    thread.join();
  }
  std::unordered_map<IoHandler*, std::shared_ptr<IoHandler>> handlers;
  std::vector<std::shared_ptr<Progressable>> links;
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(mutex_);
    handlers.swap(handlers_);
    links.swap(links_);
    tasks.swap(tasks_);
    graveyard_.clear();
  }
}

bool Engine::run_links(std::vector<std::shared_ptr<Progressable>>& links) {
  bool busy = false;
  for (auto& link : links) busy = link->progress() || busy;
  return busy;
}

// Raises every link's sleep flags; the timeout for epoll_wait (0: work arrived meanwhile).
int Engine::sleep_timeout(std::vector<std::shared_ptr<Progressable>>& links) {
  int timeout = -1;
  for (auto& link : links) {
    if (!link->prepare_sleep()) timeout = kPolledSleepMs;
  }
  // The flags were stored seq_cst; has_work() loads the positions seq_cst (see Ring).
  {
    std::lock_guard lock(mutex_);
    if (!tasks_.empty() || links_changed_ || stopping_) return 0;  // posted from this thread
  }
  for (auto& link : links) {
    if (link->has_work()) return 0;
  }
  return timeout;
}

void Engine::handle(const epoll_event* events, int count) {
  for (int i = 0; i < count; ++i) {
    auto* handler = static_cast<IoHandler*>(events[i].data.ptr);
    if (handler == nullptr) {
      uint64_t value = 0;
      ssize_t n = ::read(doorbell_fd_, &value, sizeof value);
      (void)n;
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      if (handlers_.find(handler) == handlers_.end()) continue;  // removed in this batch
    }
    handler->on_io(events[i].events);
  }
}

void Engine::loop() {
  thread_id_.store(std::this_thread::get_id());
  std::vector<std::shared_ptr<Progressable>> links;
  std::vector<std::function<void()>> tasks;
  epoll_event events[kMaxEvents];
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      tasks.swap(tasks_);
      if (links_changed_) {
        links = links_;
        links_changed_ = false;
      }
    }
    for (auto& task : tasks) task();
    bool busy = !tasks.empty();
    tasks.clear();
    busy = run_links(links) || busy;
    int timeout = busy ? 0 : sleep_timeout(links);
    int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    if (!busy) {
      for (auto& link : links) link->end_sleep();
    }
    if (n > 0) handle(events, n);
    std::vector<std::shared_ptr<IoHandler>> dead;
    {
      std::lock_guard lock(mutex_);
      dead.swap(graveyard_);
    }
  }
  thread_id_.store(std::thread::id{});
}

}  // namespace softndk::transport::shm
