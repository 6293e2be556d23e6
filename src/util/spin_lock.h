// Small synchronization primitives for short, bounded critical sections on the data path.
// Nothing here sleeps in the kernel: the spin lock yields after a short burst of pause spins.
#pragma once

#include <atomic>
#include <thread>

namespace softndk::util {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Test-and-test-and-set lock. Holders must not call consumer callbacks or block.
class SpinLock {
 public:
  void lock() {
    for (int spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (spins++ < 64) {
          cpu_relax();
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  bool try_lock() {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

// Runs at most one instance of some work at a time, without blocking: a caller that finds the
// work running only records that another pass is needed, and the running owner makes it.
// (The "combining" pattern: the posting thread runs the send engine when it is idle.)
class Combiner {
 public:
  // Uncontended cost: one exchange, one store, one load.
  template <class F>
  void run(F&& work) {
    if (owner_.exchange(true, std::memory_order_acquire)) {
      // Busy: ask the owner for another pass. It may have released in the meantime, so
      // try once more to take it over rather than lose the pass.
      pending_.store(true, std::memory_order_seq_cst);
      if (owner_.exchange(true, std::memory_order_acquire)) return;
    }
    for (;;) {
      pending_.store(false, std::memory_order_relaxed);
      work();
      owner_.store(false, std::memory_order_seq_cst);
      if (!pending_.load(std::memory_order_seq_cst)) return;
      if (owner_.exchange(true, std::memory_order_acquire)) return;  // the new owner runs it
    }
  }
  bool running() const { return owner_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> pending_{false};
  std::atomic<bool> owner_{false};
};

}  // namespace softndk::util
