// Keeps the data path iterative. Work that one queue pair's receive path wants to start on
// a transmit engine (its own, or after a loopback hand-off) is not run nested inside the
// current call chain: it is queued on the thread and run when the outermost ProgressScope on
// this thread ends, with no lock or memory reference held. Every public entry point that can
// move data, and every event-thread task, opens a scope.
#pragma once

namespace softndk::core {

class Deferred {
 public:
  virtual void run_deferred() = 0;
  // Intrusive link; owned by the thread that queued it until it runs.
  Deferred* deferred_next_ = nullptr;

 protected:
  ~Deferred() = default;
};

class ProgressScope {
 public:
  ProgressScope();
  ~ProgressScope();
  ProgressScope(const ProgressScope&) = delete;
  ProgressScope& operator=(const ProgressScope&) = delete;

  // Queue `work` to run when the outermost scope of this thread ends. Returns false when no
  // scope is open (the caller then runs the work itself).
  static bool defer(Deferred* work);
};

}  // namespace softndk::core
