// Test support over the public ABI only (include/softndk, through src/ndkxx): the test URIs and
// their pending=always twins, bounded waits that report a timeout as a test failure, closes and
// status names. The fixture ladder (adapter -> PD/CQ -> connected pair -> memory) is in
// fixtures.h. Used by the conformance suite and the transport tests.
#pragma once

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ndkxx/address.h"
#include "ndkxx/call.h"
#include "ndkxx/connection.h"
#include "ndkxx/cq.h"
#include "ndkxx/memory.h"

namespace ndktest {

namespace ndkxx = softndk::ndkxx;
using namespace std::chrono_literals;

constexpr auto kTimeout = std::chrono::seconds(10);  // every wait is bounded by this

using ndkxx::Buffer;
using ndkxx::Cq;
using ndkxx::DisconnectEvents;
using ndkxx::Region;
using ndkxx::is_loopback_uri;

// ---------------------------------------------------------------------------------------------
// URIs

// URIs under test: SOFTNDK_TEST_URIS (comma separated) or "loopback".
std::vector<std::string> test_uris();

// `uri` with option "key=value" set: the key's value replaced when the URI has it (adapter URIs
// reject duplicate keys), else appended.
std::string with_option(const std::string& uri, const std::string& key, const std::string& value);
// The same with "key=value" in one string.
std::string with_option(const std::string& uri, const std::string& option);

// Every test URI as given, plus the same URI with pending=always (every asynchronous function
// returns STATUS_PENDING and completes through its callback), unless it names pending= itself.
std::vector<std::string> inline_and_pending_uris();
// Every test URI with pending=always only.
std::vector<std::string> pending_uris();

// gtest parameter names from URIs: alphanumerics kept, everything else '_'; the indexed flavour
// appends "_<index>".
std::string uri_param_name(const ::testing::TestParamInfo<std::string>& info);
std::string indexed_uri_param_name(const ::testing::TestParamInfo<std::string>& info);

// ---------------------------------------------------------------------------------------------
// Calls (ndkxx), with a timeout reported as a test failure

// The final status of a request function: inline, or its completion's. STATUS_IO_TIMEOUT and a
// failure when the completion did not come within kTimeout.
template <class F>
NTSTATUS sync_request(F&& start) {
  ndkxx::Outcome outcome = ndkxx::request(std::forward<F>(start), ndkxx::Wait{kTimeout});
  if (outcome.timed_out) ADD_FAILURE() << "request completion did not arrive within the timeout";
  return outcome.status;
}

// The same for a create function; *out is what the provider delivered (even on a failure).
template <class Obj, class F>
NTSTATUS sync_create(F&& start, Obj** out) {
  ndkxx::Created<Obj> created = ndkxx::create<Obj>(std::forward<F>(start), ndkxx::Wait{kTimeout});
  if (created.timed_out) ADD_FAILURE() << "create completion did not arrive within the timeout";
  *out = created.object;
  return created.status;
}

// Closes any object but the adapter (nullptr: nothing), waiting for a pending close. A close
// that returns anything but STATUS_SUCCESS/STATUS_PENDING, or whose completion does not come,
// fails the test. False then.
bool close_object(void* object);

// Makes closes that fail inside destructors (ndkxx handles) test failures. Idempotent; every
// fixture calls it.
void report_close_failures_as_test_failures();

// Waits until pred() is true, polling; false on timeout.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = kTimeout) {
  return ndkxx::wait_until(pred, timeout);
}

// ---------------------------------------------------------------------------------------------
// The data path

NTSTATUS post_receive(NDK_QP* qp, const Region& region, size_t offset, ULONG length,
                      void* context);
NTSTATUS post_send(NDK_QP* qp, const Region& region, size_t offset, ULONG length, void* context,
                   ULONG flags = 0);

std::string status_name(NTSTATUS status);

}  // namespace ndktest

// gtest-friendly status comparison: prints names.
#define EXPECT_NT(expected, actual) \
  EXPECT_EQ(ndktest::status_name(expected), ndktest::status_name(actual))
#define ASSERT_NT(expected, actual) \
  ASSERT_EQ(ndktest::status_name(expected), ndktest::status_name(actual))
