// Histogram (tools/softndk/histogram.h): bucket geometry, exact small values, percentiles of
// known distributions within one bucket of the exact nearest-rank value, merge, statistics.
#include "histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace softndk::cli {
namespace {

// The exact nearest-rank percentile of sorted samples.
uint64_t exact_percentile(const std::vector<uint64_t>& sorted, double percent) {
  uint64_t rank = static_cast<uint64_t>(std::ceil(percent / 100.0 * sorted.size()));
  rank = std::clamp<uint64_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void expect_within_one_bucket(std::vector<uint64_t> samples, const char* what) {
  Histogram h;
  for (uint64_t v : samples) h.record(v);
  std::sort(samples.begin(), samples.end());
  for (double p : {0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const uint64_t exact = exact_percentile(samples, p);
    const uint64_t reported = h.percentile(p);
    EXPECT_EQ(Histogram::bucket_of(exact), Histogram::bucket_of(reported))
        << what << " p" << p << ": exact " << exact << ", reported " << reported;
  }
  EXPECT_EQ(samples.front(), h.min()) << what;
  EXPECT_EQ(samples.back(), h.max()) << what;
  EXPECT_EQ(samples.front(), h.percentile(0)) << what;
  EXPECT_EQ(samples.back(), h.percentile(100)) << what;
}

TEST(Histogram, buckets_tile_the_whole_range_with_bounded_relative_width) {
  EXPECT_EQ(0u, Histogram::bucket_lowest(0));
  for (size_t i = 0; i + 1 < Histogram::kBucketCount; ++i) {
    ASSERT_EQ(Histogram::bucket_highest(i) + 1, Histogram::bucket_lowest(i + 1)) << i;
    const uint64_t width = Histogram::bucket_highest(i) - Histogram::bucket_lowest(i) + 1;
    if (Histogram::bucket_lowest(i) >= Histogram::kLinearLimit) {
      ASSERT_LE(width * Histogram::kSubBucketCount, Histogram::bucket_lowest(i)) << i;
    }
  }
  EXPECT_EQ(UINT64_MAX, Histogram::bucket_highest(Histogram::kBucketCount - 1));
  EXPECT_EQ(Histogram::kBucketCount - 1, Histogram::bucket_of(UINT64_MAX));
}

TEST(Histogram, every_value_falls_into_its_bucket) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = random() >> (random() % 64);
    const size_t b = Histogram::bucket_of(v);
    ASSERT_LE(Histogram::bucket_lowest(b), v);
    ASSERT_GE(Histogram::bucket_highest(b), v);
  }
}

TEST(Histogram, small_values_are_exact) {
  Histogram h;
  for (uint64_t v = 0; v < Histogram::kLinearLimit; ++v) h.record(v);
  EXPECT_EQ(256u, h.count());
  EXPECT_EQ(127u, h.percentile(50));  // rank 128 of 0..255
  EXPECT_EQ(0u, h.percentile(0));
  EXPECT_EQ(255u, h.percentile(100));
  EXPECT_EQ(253u, h.percentile(99));  // rank ceil(253.44) = 254
  EXPECT_DOUBLE_EQ(127.5, h.mean());
}

TEST(Histogram, empty_reports_zeros) {
  Histogram h;
  EXPECT_EQ(0u, h.count());
  EXPECT_EQ(0u, h.percentile(50));
  EXPECT_EQ(0u, h.min());
  EXPECT_EQ(0u, h.max());
  EXPECT_EQ(0.0, h.mean());
}

TEST(Histogram, uniform_distribution_percentiles_within_one_bucket) {
  std::vector<uint64_t> samples;
  for (uint64_t v = 1; v <= 1000000; v += 7) samples.push_back(v);
  expect_within_one_bucket(samples, "uniform");
  Histogram h;
  for (uint64_t v : samples) h.record(v);
  EXPECT_NEAR(500000.0, static_cast<double>(h.percentile(50)), 500000.0 / 128);
  EXPECT_NEAR(990000.0, static_cast<double>(h.percentile(99)), 990000.0 / 128);
}

TEST(Histogram, exponential_and_lognormal_latencies_within_one_bucket) {
  std::mt19937_64 random(42);
  std::exponential_distribution<double> exponential(1.0 / 5000.0);  // mean 5 us in ns
  std::lognormal_distribution<double> lognormal(9.0, 1.5);          // long tail
  std::vector<uint64_t> a, b;
  for (int i = 0; i < 200000; ++i) {
    a.push_back(static_cast<uint64_t>(exponential(random)));
    b.push_back(static_cast<uint64_t>(lognormal(random)));
  }
  expect_within_one_bucket(a, "exponential");
  expect_within_one_bucket(b, "lognormal");
}

TEST(Histogram, a_constant_and_an_outlier) {
  std::vector<uint64_t> samples(9999, 12345);
  samples.push_back(987654321);
  expect_within_one_bucket(samples, "constant+outlier");
  Histogram h;
  for (uint64_t v : samples) h.record(v);
  EXPECT_EQ(987654321u, h.max());
  EXPECT_EQ(Histogram::bucket_of(12345), Histogram::bucket_of(h.percentile(99.9)));
  EXPECT_EQ(987654321u, h.percentile(99.999));
}

TEST(Histogram, merge_equals_recording_everything_in_one) {
  std::mt19937_64 random(3);
  Histogram a, b, all;
  for (int i = 0; i < 50000; ++i) {
    uint64_t v = random() % 10000000;
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  EXPECT_EQ(all.count(), a.count());
  EXPECT_EQ(all.min(), a.min());
  EXPECT_EQ(all.max(), a.max());
  EXPECT_DOUBLE_EQ(all.mean(), a.mean());
  for (double p : {10.0, 50.0, 99.0, 99.9}) EXPECT_EQ(all.percentile(p), a.percentile(p)) << p;
}

TEST(Histogram, mean_and_standard_deviation) {
  Histogram h;
  for (uint64_t v : {2, 4, 4, 4, 5, 5, 7, 9}) h.record(v);
  EXPECT_DOUBLE_EQ(5.0, h.mean());
  EXPECT_DOUBLE_EQ(2.0, h.stdev());
}

TEST(Histogram, memory_does_not_grow_with_samples) {
  // The only storage is the fixed bucket array: recording a million samples allocates nothing.
  static_assert(Histogram::kBucketCount == 256 + 56 * 128);
  Histogram h;
  for (uint64_t i = 0; i < 1000000; ++i) h.record(i * 977);
  EXPECT_EQ(1000000u, h.count());
  h.reset();
  EXPECT_EQ(0u, h.count());
}

}  // namespace
}  // namespace softndk::cli
