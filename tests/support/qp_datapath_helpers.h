// Header-only helpers for the queue-pair data-path, flush/error and SRQ conformance tests
// (tests/conformance/qp_datapath_test.cpp, flush_error_test.cpp, srq_test.cpp): byte patterns,
// placement checks, completion checks, and MemoryPairTest, the gtest base class of a suite whose
// tests stand on a MemoryPairFixture (fixtures.h). Public ABI only.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.h"
#include "ndk_test.h"
#include "transport_helpers.h"

namespace ndktest::qpd {

// Every MR right the data-path tests need (local write, remote read/write, read sink).
constexpr ULONG kMrAll = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                         NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;

// Deterministic byte pattern: byte i of stream `seed`.
inline unsigned char pattern(uint32_t seed, size_t i) {
  uint32_t x = seed * 2654435761u + static_cast<uint32_t>(i) * 40503u + 0x5bd1e995u;
  x ^= x >> 13;
  x *= 0x85ebca6bu;
  x ^= x >> 16;
  return static_cast<unsigned char>(x);
}
inline void fill(unsigned char* p, size_t n, uint32_t seed) {
  for (size_t i = 0; i < n; ++i) p[i] = pattern(seed, i);
}
// Index of the first byte that differs from the pattern, or n.
inline size_t first_mismatch(const unsigned char* p, size_t n, uint32_t seed, size_t start = 0) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != pattern(seed, start + i)) return i;
  return n;
}

// Target memory of an RDMA write: the initiator's completion says nothing about placement at
// the target (RFC 5040), and the target gets no completion. Only a later read
// response or receive completion orders it: check the bytes after a fence
// (MemoryPairTest::fence(), read_fence()/send_fence() of transport_helpers.h), at once, with these.
inline ::testing::AssertionResult holds(const unsigned char* p, size_t n, uint32_t seed,
                                        size_t start = 0) {
  size_t at = first_mismatch(p, n, seed, start);
  if (at == n) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "byte " << at << " of " << n << " was not placed";
}
inline ::testing::AssertionResult holds_copy(const unsigned char* target,
                                             const unsigned char* source, size_t n) {
  size_t at = 0;
  while (at < n && target[at] == source[at]) ++at;
  if (at == n) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "byte " << at << " of " << n << " was not placed";
}

// Polls for `quiet` and returns every completion that showed up (expected: none).
inline std::vector<NDK_RESULT_EX> stray_completions(
    Cq& cq, std::chrono::milliseconds quiet = std::chrono::milliseconds(50)) {
  std::vector<NDK_RESULT_EX> out;
  auto deadline = std::chrono::steady_clock::now() + quiet;
  do {
    NDK_RESULT_EX r[16];
    ULONG n = cq.poll(r, 16);
    out.insert(out.end(), r, r + n);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  } while (std::chrono::steady_clock::now() < deadline);
  return out;
}

inline std::string describe(const NDK_RESULT_EX& r) {
  char buffer[160];
  std::snprintf(buffer, sizeof buffer, "{status=%s type=%u ctx=%p qp=%p bytes=%u}",
                status_name(r.Status).c_str(), static_cast<unsigned>(r.Type), r.RequestContext,
                r.QPContext, r.BytesTransferred);
  return buffer;
}

// One completion entry matches status, type, request context and QP context.
inline ::testing::AssertionResult is_completion(const NDK_RESULT_EX& r, NTSTATUS status,
                                                ULONG type, void* request, void* qp) {
  if (r.Status == status && static_cast<ULONG>(r.Type) == type && r.RequestContext == request &&
      r.QPContext == qp)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << describe(r) << ", want {status=" << status_name(status) << " type=" << type
         << " ctx=" << request << " qp=" << qp << "}";
}

inline void* ctx(uintptr_t v) { return reinterpret_cast<void*>(v); }

// Base of a suite whose tests stand on a connected pair with one registered buffer per side
// (all rights), created before the connection so that receives can be pre-posted. The buffers
// are closed before the pair.
class MemoryPairTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<MemoryPairFixture> pair;
  Region* a = nullptr;  // active side buffer
  Region* p = nullptr;  // passive side buffer

  void TearDown() override {
    a = p = nullptr;
    if (pair) {
      EXPECT_TRUE(pair->teardown());
    }
    pair.reset();
  }

  // Returns false (with failures recorded) when anything went wrong.
  bool start(PairOptions options = {}, size_t bytes = 64 * 1024,
             const std::function<void(ConnectedPairFixture&)>& before_connect = nullptr) {
    pair = std::make_unique<MemoryPairFixture>(GetParam(), options);
    const MemoryShape shape{bytes, kMrAll, 0, bytes, kMrAll, 0, 0};
    bool ok = pair->connect(shape, [&](ConnectedPairFixture& q) {
      a = pair->active_buffer.get();
      p = pair->passive_buffer.get();
      if (before_connect) before_connect(q);
    });
    return ok && a != nullptr && p != nullptr && !::testing::Test::HasFailure();
  }

  // Orders every Write posted so far on the active QP before the test looks at `p`
  // (MemoryPairFixture::fence_writes). Then check the written bytes at once (holds(),
  // holds_copy(), first_mismatch). Completions ahead of the fence's on the active CQ go to
  // *earlier, or are a failure.
  ::testing::AssertionResult fence(std::vector<NDK_RESULT_EX>* earlier = nullptr) {
    return pair->fence_writes(earlier);
  }

  ConnectedPairFixture::Side& act() { return pair->active; }
  ConnectedPairFixture::Side& pas() { return pair->passive; }
};

// The set-up of a test that posts from inside a provider callback (SrqPairFixture::
// run_in_callback): an SRQ pair whose notification fires when the SRQ runs empty (threshold 1),
// with QPs of `qp_depth`, a 64 KiB buffer with every right on each side and both QP pairs
// connected. `has_srq()` false: the adapter has no SRQs (skip).
struct CallbackPair {
  explicit CallbackPair(const std::string& uri, ULONG qp_depth = 32)
      : rig(uri, SrqPairFixture::Options{16, 4, 1, true, qp_depth, 4, 64}) {}
  bool has_srq() const {
    return rig.passive.get() == nullptr || rig.passive.info().MaxSrqDepth != 0;
  }
  // Creates and connects, with pattern `seed` in the first `pattern_bytes` bytes of the passive
  // buffer. Fatal failures inside: call through ASSERT_NO_FATAL_FAILURE.
  void start(size_t pattern_bytes, uint32_t seed) {
    ASSERT_TRUE(rig.create());
    ra = std::make_unique<Region>(rig.active.pd, 64 * 1024, kMrAll);
    rp = std::make_unique<Region>(rig.passive.pd, 64 * 1024, kMrAll);
    ASSERT_NT(STATUS_SUCCESS, ra->status());
    ASSERT_NT(STATUS_SUCCESS, rp->status());
    fill(rp->data(), pattern_bytes, seed);
    ASSERT_TRUE(rig.connect(0));
    ASSERT_TRUE(rig.connect(1));
  }

  SrqPairFixture rig;
  std::unique_ptr<Region> ra;  // active side buffer (closed before the rig)
  std::unique_ptr<Region> rp;  // passive side buffer
};

}  // namespace ndktest::qpd
