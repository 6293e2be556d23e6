// Transport differences the conformance suite allows, in one place (header-only, public ABI).
//
// The loopback transport completes a Send or an RDMA Write after the target placed (or refused)
// it. iWARP (NDK_ADAPTER_INFO.RdmaTechnology == NdkiWarp, the tcp transport) completes it when
// it was handed to TCP: "local completion of a Send or Write means the data was handed to TCP (no
// remote acknowledgement exists)" (iwarp.md 3.7 rule 5, RFC 5040). Two consequences:
//  (a) the target's memory may be inspected only once the data has arrived: wait for it
//      (placed()/settled() below), or order it through a later Read or Send/Receive;
//  (b) a refusal by the peer (ndkpi.md 4.9: remote protection error, no receive posted, receive
//      too small) is detected by the peer later and reported with a Terminate (iwarp.md 4.1,
//      4.2): the requester's failing Send/Write may already have completed with STATUS_SUCCESS
//      (and requests posted behind it too, until the Terminate arrived). What must hold on
//      every transport is the abort: both sides get their disconnect event, outstanding and
//      later requests complete with an error (STATUS_CANCELLED), the target memory outside the
//      grant is untouched.
// Everything here is exact on other transports: no wait, no extra status accepted.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "ndk_test.h"

namespace ndktest {

// Skips the running test on transports other than loopback (tests of the loopback fabric:
// the whole 127.0.0.0/8 and ::1 owned by every adapter, the addr= option, ...). A macro: a
// GTEST_SKIP() inside a helper function would only return from the helper.
#define NDKTEST_SKIP_UNLESS_LOOPBACK(uri, why)                           \
  do {                                                                   \
    if (!::ndktest::is_loopback_uri(uri))                                \
      GTEST_SKIP() << "loopback fabric only (" << (uri) << "): " << why; \
  } while (0)

// (b) True when a Send or Write of `type` that the peer refuses may complete with
// STATUS_SUCCESS on `initiator` (iWARP only; a Read is completed by its response, so it
// always reports the refusal: iwarp.md 3.7 rule 5).
inline bool refusal_may_complete_successfully(const Adapter& initiator, ULONG type) {
  return initiator.iwarp() && (type == NdkOperationTypeSend || type == NdkOperationTypeWrite);
}

inline std::string status_names(const std::vector<NTSTATUS>& statuses) {
  std::string out;
  for (NTSTATUS s : statuses) out += (out.empty() ? "" : " or ") + status_name(s);
  return out;
}

// (b) The completion status of a request of `type` posted on `initiator` that the peer refuses:
// one of `accepted` (the ndkpi.md 4.9 status), or STATUS_SUCCESS where
// refusal_may_complete_successfully() (iwarp.md 3.7 rule 5). The caller must check the abort
// (the connection breaks) separately in either case.
inline ::testing::AssertionResult completes_or_fails_remotely(
    const Adapter& initiator, ULONG type, NTSTATUS status, const std::vector<NTSTATUS>& accepted) {
  if (std::find(accepted.begin(), accepted.end(), status) != accepted.end())
    return ::testing::AssertionSuccess();
  if (status == STATUS_SUCCESS && refusal_may_complete_successfully(initiator, type))
    return ::testing::AssertionSuccess() << "completed locally (iWARP), refused by the peer later";
  std::string expected = status_names(accepted);
  if (refusal_may_complete_successfully(initiator, type)) expected += " or STATUS_SUCCESS (iWARP)";
  return ::testing::AssertionFailure()
         << "completion status " << status_name(status) << ", expected " << expected;
}

// (a) How long to wait for the effect at the target of a completed Send/Write posted on
// `initiator`: nothing where its completion already implies placement, kTimeout on iWARP.
inline std::chrono::milliseconds placement_wait(const Adapter& initiator) {
  return initiator.iwarp() ? std::chrono::milliseconds(kTimeout) : std::chrono::milliseconds(0);
}

// (a) Returns value() as soon as it equals `expected`, else its value after placement_wait():
// EXPECT_EQ(n, settled(adapter, n, [&] { return first_mismatch(...); })) checks the target of
// a completed Write at once on loopback and after the bytes arrived on iWARP.
template <class T, class F>
T settled(const Adapter& initiator, T expected, F value) {
  T last = value();
  if (last == expected) return last;
  wait_until([&] { return (last = value()) == expected; }, placement_wait(initiator));
  return last;
}

// (a) settled() for a predicate.
inline bool placed(const Adapter& initiator, const std::function<bool()>& pred) {
  return settled(initiator, true, pred);
}

}  // namespace ndktest
