// A mutex that knows its owner in debug builds, for functions that require a lock to say so:
// SOFTNDK_ASSERT_HELD(mutex) at their top (fatal in debug builds when the calling thread does not
// hold it). In release builds (NDEBUG) `util::Mutex` is a plain std::mutex with no extra state
// and the macro compiles to nothing. Works with std::lock_guard and std::unique_lock.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>

#include "util/assert.h"

namespace softndk::util {

class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() {
    mutex_.lock();
    set_owner(std::this_thread::get_id());
  }
  bool try_lock() {
    if (!mutex_.try_lock()) return false;
    set_owner(std::this_thread::get_id());
    return true;
  }
  void unlock() {
    set_owner(std::thread::id{});
    mutex_.unlock();
  }

  // Debug builds: whether the calling thread holds this mutex. Release builds: true.
  bool held_by_this_thread() const {
#ifndef NDEBUG
    return owner_.load(std::memory_order_relaxed) == std::this_thread::get_id();
#else
    return true;
#endif
  }
  // Debug builds: whether the calling thread does not hold it. Release builds: true.
  bool not_held_by_this_thread() const {
#ifndef NDEBUG
    return owner_.load(std::memory_order_relaxed) != std::this_thread::get_id();
#else
    return true;
#endif
  }

 private:
  void set_owner([[maybe_unused]] std::thread::id id) {
#ifndef NDEBUG
    owner_.store(id, std::memory_order_relaxed);
#endif
  }

  std::mutex mutex_;
#ifndef NDEBUG
  // Written by the holder only; another thread reading it sees some other id, never its own.
  std::atomic<std::thread::id> owner_{};
#endif
};

}  // namespace softndk::util

#define SOFTNDK_ASSERT_HELD(mutex) \
  SOFTNDK_ASSERT((mutex).held_by_this_thread(), #mutex " must be held by this thread")
#define SOFTNDK_ASSERT_NOT_HELD(mutex) \
  SOFTNDK_ASSERT((mutex).not_held_by_this_thread(), #mutex " must not be held by this thread")
