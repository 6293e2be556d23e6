// Helpers of the fault-injection tests (docs/faults.md), over the public ABI only: the URIs the
// tests run on, the adapter counters, setting a plan, and a connected pair with a registered
// buffer per side whose plans are set after the connection is up.
#pragma once

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fixtures.h"
#include "ndk_test.h"
#include "qp_datapath_helpers.h"

namespace faulttest {

using namespace ndktest;
using namespace ndktest::qpd;

// SOFTNDK_TEST_URIS (comma separated) or loopback and tcp://127.0.0.1.
std::vector<std::string> fault_uris();
// The same, loopback ones only (faults only the in-process link can produce).
std::vector<std::string> loopback_uris();

// SoftNdkQueryAdapterCounters (a failure when it fails).
SOFTNDK_ADAPTER_COUNTERS counters(NDK_ADAPTER* adapter);
inline uint64_t faults_injected(NDK_ADAPTER* adapter) { return counters(adapter).FaultsInjected; }
// SoftNdkSetFaultPlan, a failure unless it succeeds.
::testing::AssertionResult set_plan(NDK_ADAPTER* adapter, const char* plan, uint64_t seed = 1);

// Reads exactly `bytes` from the pipe or socket `fd` within `timeout`; false on a timeout, an
// error or the end of the stream (the tests with a peer process).
bool read_within(int fd, void* out, size_t bytes, std::chrono::milliseconds timeout);

// The ProviderErrorCode of a completion charged with a Terminate (docs/architecture.md:
// 0x01LLTTCC, the Terminate's layer, error type and code; RFC 5040 7.1, RFC 5041 7.2, RFC
// 5044 8).
constexpr ULONG kTerminateCrc = 0x01020002;           // LLP (MPA), CRC error
constexpr ULONG kTerminateNoBuffer = 0x01010202;      // DDP untagged, MSN: no buffer available
constexpr ULONG kTerminateTaggedStag = 0x01010100;    // DDP tagged, invalid STag
constexpr ULONG kReasonGraceful = 1;                  // ProviderDisconnectReason (ndkxx)
constexpr ULONG kReasonAbort = 2;

// A connected pair with one 64 KiB buffer per side (every right) and `receives` receives of
// 1 KiB pre-posted on the passive QP (contexts 0x100 + i).
class FaultPairTest : public ::testing::TestWithParam<std::string> {
 protected:
  void TearDown() override;
  // False (failures recorded) when the pair could not be built.
  bool start(int receives = 4, PairOptions options = {});
  ConnectedPairFixture::Side& act() { return pair->active; }
  ConnectedPairFixture::Side& pas() { return pair->passive; }
  NTSTATUS send(size_t offset, ULONG bytes, uintptr_t context, ULONG flags = 0) {
    return post_send(act().qp, *a, offset, bytes, ctx(context), flags);
  }
  // Both sides got their disconnect event with `reason` (ndkxx's _EX callbacks).
  ::testing::AssertionResult both_disconnected(ULONG reason);

  std::unique_ptr<MemoryPairFixture> pair;
  Region* a = nullptr;
  Region* p = nullptr;
};

}  // namespace faulttest
