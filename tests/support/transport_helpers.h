// Transport differences the conformance suite allows, in one place (header-only, public ABI).
//
// The loopback transport completes a Send or an RDMA Write after the target placed (or refused)
// it. iWARP (NDK_ADAPTER_INFO.RdmaTechnology == NdkiWarp, the tcp transport) completes it when
// it was handed to TCP: "local completion of a Send or Write means the data was handed to TCP (no
// remote acknowledgement exists)" (RFC 5040). Two consequences:
//  (a) the target's memory may be inspected only once the data has been placed, and an RDMA
//      Write gives the target no completion: the suite orders it with a fence (below) on every
//      transport, never by polling the target memory (the transport may still be writing it,
//      a data race). A Read posted on the same QP after the Writes completes only after they
//      were placed (RFC 5040 ordering: the data sink processes messages in TCP order, a Read
//      Request that follows a Write returns data that includes it), and so does the target's
//      receive completion of a later Send. After the fence the target is checked at once: bytes
//      that should have landed and did not, or bytes that should not have changed and did, fail;
// (b) a refusal by the peer (Microsoft's NDKPI reference) is detected by the peer later and
// reported with a Terminate (RFC 5040's Terminate,
//      4.2): the requester's failing Send/Write may already have completed with STATUS_SUCCESS
//      (and requests posted behind it too, until the Terminate arrived). What must hold on
//      every transport is the abort: both sides get their disconnect event, outstanding and
//      later requests complete with an error (STATUS_CANCELLED), the target memory outside the
//      grant is untouched (checked again once the target has seen the abort, which it raised
//      after processing the refused request).
// The (a) fences run on every transport (one code path); the (b) allowances are exact on other
// transports (no extra status accepted).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ndk_test.h"
#include "ndkxx/adapter.h"
#include "ndkxx/handle.h"

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
// always reports the refusal: RFC 5040).
inline bool refusal_may_complete_successfully(const ndkxx::Adapter& initiator, ULONG type) {
  return initiator.iwarp() && (type == NdkOperationTypeSend || type == NdkOperationTypeWrite);
}

inline std::string status_names(const std::vector<NTSTATUS>& statuses) {
  std::string out;
  for (NTSTATUS s : statuses) out += (out.empty() ? "" : " or ") + status_name(s);
  return out;
}

// (b) The completion status of a request of `type` posted on `initiator` that the peer refuses:
// one of `accepted` (the NDKPI reference's status), or STATUS_SUCCESS where
// refusal_may_complete_successfully() (RFC 5040). The caller must check the abort
// (the connection breaks) separately in either case.
inline ::testing::AssertionResult completes_or_fails_remotely(
    const ndkxx::Adapter& initiator, ULONG type, NTSTATUS status,
    const std::vector<NTSTATUS>& accepted) {
  if (std::find(accepted.begin(), accepted.end(), status) != accepted.end())
    return ::testing::AssertionSuccess();
  if (status == STATUS_SUCCESS && refusal_may_complete_successfully(initiator, type))
    return ::testing::AssertionSuccess() << "completed locally (iWARP), refused by the peer later";
  std::string expected = status_names(accepted);
  if (refusal_may_complete_successfully(initiator, type)) expected += " or STATUS_SUCCESS (iWARP)";
  return ::testing::AssertionFailure()
         << "completion status " << status_name(status) << ", expected " << expected;
}

// (a) Fences. The request context of a fence's own request (never used by a test).
inline void* fence_context() { return reinterpret_cast<void*>(uintptr_t{0xFE11CE}); }

// Waits (bounded by kTimeout) for the completion of the request with `context` on `cq` and
// checks that it succeeded with `type`. Completions that come before it are appended to
// *earlier, or are a failure when `earlier` is null (the caller expected none).
inline ::testing::AssertionResult await_fence(Cq& cq, void* context, ULONG type,
                                              std::vector<NDK_RESULT_EX>* earlier) {
  for (;;) {
    NDK_RESULT_EX r{};
    if (!cq.next(&r)) return ::testing::AssertionFailure() << "the fence never completed";
    if (r.RequestContext != context) {
      if (earlier == nullptr)
        return ::testing::AssertionFailure()
               << "unexpected completion (context " << r.RequestContext << ", type " << r.Type
               << ", " << status_name(r.Status) << ") ahead of the fence";
      earlier->push_back(r);
      continue;
    }
    if (r.Status != STATUS_SUCCESS || static_cast<ULONG>(r.Type) != type)
      return ::testing::AssertionFailure() << "the fence completed with " << status_name(r.Status)
                                           << ", type " << r.Type;
    return ::testing::AssertionSuccess();
  }
}

// (a) The remote end of a read fence: a registration (remote read only) in `pd`, the PD of the
// peer's QP, of bytes of a static page that is never written and never freed. Why not any
// region of the test: ThreadSanitizer orders a socket's sender before its receiver at the start
// of sendmsg(), and records the reads of the payload only when sendmsg() returned, possibly after
// the receiver has acted on the data; a Read source that the test writes or frees right after
// the Read completed would then be reported as a race (or a use after free) with the transport
// sending the Read Response. The registration is closed with this object; the page stays.
class FenceSource {
 public:
  explicit FenceSource(NDK_PD* pd) {
    SoftNdkInitializeMdl(&mdl_, page(), kBytes);
    ndkxx::Created<NDK_MR> mr = ndkxx::create_mr(pd, false, ndkxx::Wait{kTimeout});
    status = mr.status;
    if (!mr.ok()) return;
    mr_.reset(mr.object);
    status = ndkxx::register_mr(mr_, &mdl_, kBytes, NDK_MR_FLAG_ALLOW_REMOTE_READ,
                                ndkxx::Wait{kTimeout})
                 .status;
  }
  FenceSource(const FenceSource&) = delete;
  FenceSource& operator=(const FenceSource&) = delete;
  uint64_t address() const { return reinterpret_cast<uintptr_t>(page()); }
  UINT32 remote_token() const { return mr_->Dispatch->NdkGetRemoteTokenFromMr(mr_); }

  NTSTATUS status = STATUS_UNSUCCESSFUL;

 private:
  static constexpr size_t kBytes = 64;
  static unsigned char* page() {
    alignas(4096) static unsigned char bytes[4096];  // zero, read by fences only
    return bytes;
  }
  MDL mdl_{};
  ndkxx::MrHandle mr_;
};

// (a) Read fence: posts a 1-byte RDMA Read of `source` (a FenceSource in the PD of the peer's
// QP) into `sink` (1 byte, with the read-sink right) on `qp`, and waits for its completion on
// `cq`, the QP's initiator CQ (see await_fence for `earlier`). When it returns success, every
// Write posted earlier on `qp` has been placed at the peer, and its bytes are visible to this
// thread.
inline ::testing::AssertionResult read_fence(NDK_QP* qp, Cq& cq, NDK_SGE sink,
                                             const FenceSource& source,
                                             std::vector<NDK_RESULT_EX>* earlier = nullptr) {
  if (source.status != STATUS_SUCCESS)
    return ::testing::AssertionFailure() << "fence source: " << status_name(source.status);
  sink.Length = 1;
  NTSTATUS s = qp->Dispatch->NdkRead(qp, fence_context(), &sink, 1, source.address(),
                                     source.remote_token(), 0);
  if (s != STATUS_SUCCESS) return ::testing::AssertionFailure() << "fence read: " << status_name(s);
  return await_fence(cq, fence_context(), NdkOperationTypeRead, earlier);
}

// (a) Send fence: posts a receive of `receive` (no other receive may be outstanding on
// `target_qp`) with the fence context, then a Send of `source` with `send_flags` (by default
// SILENT_SUCCESS: no entry in the initiator CQ) on `qp`, and waits for the receive's
// completion on `target_cq`. When it returns success, every Write posted earlier on `qp` has
// been placed at the peer, and its bytes are visible to this thread.
inline ::testing::AssertionResult send_fence(NDK_QP* qp, NDK_SGE source, NDK_QP* target_qp,
                                             NDK_SGE receive, Cq& target_cq,
                                             ULONG send_flags = NDK_OP_FLAG_SILENT_SUCCESS,
                                             std::vector<NDK_RESULT_EX>* earlier = nullptr) {
  NTSTATUS s = target_qp->Dispatch->NdkReceive(target_qp, fence_context(), &receive, 1);
  if (s != STATUS_SUCCESS)
    return ::testing::AssertionFailure() << "fence receive: " << status_name(s);
  s = qp->Dispatch->NdkSend(qp, fence_context(), &source, 1, send_flags);
  if (s != STATUS_SUCCESS) return ::testing::AssertionFailure() << "fence send: " << status_name(s);
  return await_fence(target_cq, fence_context(), NdkOperationTypeReceive, earlier);
}

}  // namespace ndktest
