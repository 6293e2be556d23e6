// util::Mutex (src/util/lock_assert.h): a working mutex in every build (lock, try_lock from
// another thread, unlock; std::lock_guard and std::unique_lock), and in debug builds an owner that
// SOFTNDK_ASSERT_HELD checks (fatal when the calling thread does not hold it).
#include "util/lock_assert.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>

namespace softndk::util {
namespace {

bool try_lock_elsewhere(Mutex& mutex) {
  return std::async(std::launch::async, [&mutex] {
           if (!mutex.try_lock()) return false;
           mutex.unlock();
           return true;
         })
      .get();
}

TEST(UtilMutex, ExcludesOtherThreads) {
  Mutex mutex;
  EXPECT_TRUE(try_lock_elsewhere(mutex));
  {
    std::lock_guard lock(mutex);
    EXPECT_FALSE(try_lock_elsewhere(mutex));
  }
  EXPECT_TRUE(try_lock_elsewhere(mutex));
  std::unique_lock lock(mutex, std::try_to_lock);
  ASSERT_TRUE(lock.owns_lock());
  EXPECT_FALSE(try_lock_elsewhere(mutex));
  lock.unlock();
  EXPECT_TRUE(try_lock_elsewhere(mutex));
}

#ifndef NDEBUG
TEST(UtilMutex, KnowsItsOwnerInDebugBuilds) {
  Mutex mutex;
  EXPECT_FALSE(mutex.held_by_this_thread());
  EXPECT_TRUE(mutex.not_held_by_this_thread());
  std::unique_lock lock(mutex);
  EXPECT_TRUE(mutex.held_by_this_thread());
  EXPECT_FALSE(mutex.not_held_by_this_thread());
  bool elsewhere = std::async(std::launch::async, [&mutex] {
                     return mutex.held_by_this_thread();
                   }).get();
  EXPECT_FALSE(elsewhere);
  SOFTNDK_ASSERT_HELD(mutex);
  lock.unlock();
  EXPECT_FALSE(mutex.held_by_this_thread());
  SOFTNDK_ASSERT_NOT_HELD(mutex);
}

TEST(UtilMutexDeathTest, AssertHeldFailsWhenNotHeld) {
  Mutex mutex;
  EXPECT_DEATH(SOFTNDK_ASSERT_HELD(mutex), "must be held");
  std::lock_guard lock(mutex);
  EXPECT_DEATH(SOFTNDK_ASSERT_NOT_HELD(mutex), "must not be held");
}
#else
TEST(UtilMutex, AddsNothingInReleaseBuilds) {
  // No owner is recorded: the wrapper is exactly a std::mutex and the checks always pass.
  EXPECT_EQ(sizeof(std::mutex), sizeof(Mutex));
  Mutex mutex;
  EXPECT_TRUE(mutex.held_by_this_thread());
  EXPECT_TRUE(mutex.not_held_by_this_thread());
}
#endif

}  // namespace
}  // namespace softndk::util
