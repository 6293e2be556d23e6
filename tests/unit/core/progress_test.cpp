// Unit tests of core/progress.h and util::Combiner: deferred work runs at the end of the
// outermost scope, iteratively; the combiner never runs work concurrently and never loses a pass.
#include "core/progress.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "util/spin_lock.h"

namespace softndk::core {
namespace {

struct Recorder final : Deferred {
  std::vector<int>* log;
  int id;
  Deferred* then = nullptr;
  void run_deferred() override {
    log->push_back(id);
    if (then != nullptr) ProgressScope::defer(then);
  }
};

TEST(ProgressScope, defer_without_scope_is_refused) {
  std::vector<int> log;
  Recorder r;
  r.log = &log;
  r.id = 1;
  EXPECT_FALSE(ProgressScope::defer(&r));
}

TEST(ProgressScope, work_runs_when_the_outermost_scope_ends_in_order_including_chained_work) {
  std::vector<int> log;
  Recorder a, b, c;
  a.log = b.log = c.log = &log;
  a.id = 1;
  b.id = 2;
  c.id = 3;
  a.then = &c;  // queued while draining
  {
    ProgressScope outer;
    {
      ProgressScope inner;
      EXPECT_TRUE(ProgressScope::defer(&a));
    }
    EXPECT_TRUE(log.empty());  // the inner scope does not drain
    EXPECT_TRUE(ProgressScope::defer(&b));
  }
  EXPECT_EQ((std::vector<int>{1, 2, 3}), log);
}

TEST(Combiner, runs_one_pass_at_a_time_and_loses_no_request) {
  util::Combiner combiner;
  std::atomic<int> inside{0}, overlap{0};
  std::atomic<int> requests{0}, served{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        requests.fetch_add(1);
        combiner.run([&] {
          if (inside.fetch_add(1) != 0) overlap.fetch_add(1);
          served.store(requests.load());
          inside.fetch_sub(1);
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(0, overlap.load());
  EXPECT_EQ(requests.load(), served.load());  // the last request was seen by some pass
}

}  // namespace
}  // namespace softndk::core
