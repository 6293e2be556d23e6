// Streaming latency histogram for the softndk command line: log-linear buckets in the style of
// HdrHistogram, constant memory whatever the number of samples, mergeable. Values are unsigned
// integers (the tool records nanoseconds). Below 256 every value has its own bucket; above, each
// power of two [2^e, 2^(e+1)) is split into 128 equal buckets, so a reported percentile is within
// 1/128 (< 0.8 %) of the true sample. Not thread-safe: one recorder at a time.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace softndk::cli {

class Histogram {
 public:
  static constexpr unsigned kSubBucketBits = 7;
  static constexpr uint64_t kSubBucketCount = uint64_t{1} << kSubBucketBits;  // 128 per octave
  static constexpr uint64_t kLinearLimit = kSubBucketCount * 2;  // values below are exact
  static constexpr size_t kBucketCount =
      kLinearLimit + (64 - (kSubBucketBits + 1)) * kSubBucketCount;  // 7424 (58 KiB of counts)

  Histogram() : counts_(kBucketCount, 0) {}

  // Index of the bucket holding `value`.
  static constexpr size_t bucket_of(uint64_t value) {
    if (value < kLinearLimit) return static_cast<size_t>(value);
    const unsigned exponent = static_cast<unsigned>(std::bit_width(value)) - 1;  // >= 8
    const unsigned shift = exponent - kSubBucketBits;
    const uint64_t top = value >> shift;  // in [128, 256)
    return static_cast<size_t>(kLinearLimit + (exponent - kSubBucketBits - 1) * kSubBucketCount +
                               (top - kSubBucketCount));
  }
  // Smallest and largest value that fall into bucket `index`.
  static constexpr uint64_t bucket_lowest(size_t index) {
    if (index < kLinearLimit) return index;
    const uint64_t j = index - kLinearLimit;
    const unsigned shift = static_cast<unsigned>(j / kSubBucketCount) + 1;
    return (kSubBucketCount + j % kSubBucketCount) << shift;
  }
  static constexpr uint64_t bucket_highest(size_t index) {
    if (index < kLinearLimit) return index;
    const unsigned shift = static_cast<unsigned>((index - kLinearLimit) / kSubBucketCount) + 1;
    return bucket_lowest(index) + ((uint64_t{1} << shift) - 1);
  }

  void record(uint64_t value) {
    ++counts_[bucket_of(value)];
    ++count_;
    sum_ += value;
    sum_squares_ += static_cast<double>(value) * static_cast<double>(value);
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }

  void merge(const Histogram& other) {
    for (size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    sum_squares_ += other.sum_squares_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }

  void reset() { *this = Histogram(); }

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }
  double stdev() const {
    if (count_ < 2) return 0.0;
    const double m = mean();
    return std::sqrt(std::max(0.0, sum_squares_ / count_ - m * m));
  }

  // The value at or below which `percent` % of the samples lie (nearest rank), reported as the
  // highest value of its bucket and clamped to [min, max]: percentile(0) == min(),
  // percentile(100) == max(). 0 when empty.
  uint64_t percentile(double percent) const {
    if (count_ == 0) return 0;
    percent = std::clamp(percent, 0.0, 100.0);
    uint64_t rank = static_cast<uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<uint64_t>(rank, 1, count_);
    if (rank == 1) return min();  // the extremes are kept exactly
    if (rank == count_) return max_;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBucketCount; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::clamp(bucket_highest(i), min(), max_);
    }
    return max_;
  }

 private:
  std::vector<uint64_t> counts_;  // kBucketCount entries, allocated once
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  double sum_squares_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

}  // namespace softndk::cli
