// Implementation of core/progress.h.
#include "core/progress.h"

namespace softndk::core {
namespace {
// initial-exec: no __tls_get_addr call on every post from the shared library.
__attribute__((tls_model("initial-exec"))) thread_local int t_depth = 0;
__attribute__((tls_model("initial-exec"))) thread_local Deferred* t_head = nullptr;
__attribute__((tls_model("initial-exec"))) thread_local Deferred* t_tail = nullptr;
}  // namespace

ProgressScope::ProgressScope() { ++t_depth; }

ProgressScope::~ProgressScope() {
  if (t_depth > 1) {
    --t_depth;
    return;
  }
  // Outermost: drain. New work queued while draining runs in this same loop.
  while (t_head != nullptr) {
    Deferred* work = t_head;
    t_head = work->deferred_next_;
    if (t_head == nullptr) t_tail = nullptr;
    work->deferred_next_ = nullptr;
    work->run_deferred();
  }
  --t_depth;
}

bool ProgressScope::defer(Deferred* work) {
  if (t_depth == 0) return false;
  work->deferred_next_ = nullptr;
  if (t_tail != nullptr) {
    t_tail->deferred_next_ = work;
  } else {
    t_head = work;
  }
  t_tail = work;
  return true;
}

}  // namespace softndk::core
