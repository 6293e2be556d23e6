// Helpers for the memory-model conformance tests (memory_test.cpp, remote_access_test.cpp):
// MR / MW / PD objects with the MR requests, LAMs with the SGEs over their pages, fast-registered
// regions over LAM pages, guarded regions (a registered middle part between guard bytes of one
// allocation), request outcomes, and the checks for "this request failed and the connection
// broke" on a MemoryPairFixture (fixtures.h). Header-only; built on ndk_test.h and src/ndkxx.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <functional>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fixtures.h"
#include "ndk_test.h"
#include "transport_helpers.h"

namespace ndktest::mem {

inline std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

// ---------------------------------------------------------------------------------------------
// Byte checks

// Index of the first byte in [p, p + n) that differs from `value`, or n when all match.
inline size_t first_mismatch(const unsigned char* p, size_t n, unsigned char value) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != value) return i;
  return n;
}

inline unsigned char pattern_byte(size_t i, unsigned seed) {
  return static_cast<unsigned char>((i * 131u + seed * 17u + 7u) & 0xff);
}
inline void fill_pattern(unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) p[i] = pattern_byte(i, seed);
}
// Index of the first byte that differs from the pattern, or n.
inline size_t pattern_mismatch(const unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != pattern_byte(i, seed)) return i;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Object handles (closed in the destructor; declare them after the fixture / PD they live in)

class PdHandle {
 public:
  explicit PdHandle(const ndkxx::Adapter& adapter) { status = create_pd(adapter.get(), &pd); }
  ~PdHandle() { close(); }
  PdHandle(const PdHandle&) = delete;
  PdHandle& operator=(const PdHandle&) = delete;
  bool close() {
    bool ok = close_object(pd);
    pd = nullptr;
    return ok;
  }
  UINT32 privileged_token() const {
    UINT32 token = 0;
    pd->Dispatch->NdkGetPrivilegedMemoryRegionToken(pd, &token);
    return token;
  }
  NDK_PD* pd = nullptr;
  NTSTATUS status = STATUS_UNSUCCESSFUL;
};

inline UINT32 privileged_token(NDK_PD* pd) {
  UINT32 token = 0;
  pd->Dispatch->NdkGetPrivilegedMemoryRegionToken(pd, &token);
  return token;
}

// The MR requests with a timeout reported as a test failure.
inline NTSTATUS reported(const ndkxx::Outcome& outcome) {
  if (outcome.timed_out) ADD_FAILURE() << "request completion did not arrive within the timeout";
  return outcome.status;
}

class MrHandle {
 public:
  MrHandle(NDK_PD* pd, bool fast) { create_status = create_mr(pd, fast, &mr); }
  ~MrHandle() { close(); }
  MrHandle(const MrHandle&) = delete;
  MrHandle& operator=(const MrHandle&) = delete;

  NTSTATUS register_mdl(MDL* mdl, SIZE_T length, ULONG flags) {
    return reported(ndkxx::register_mr(mr, mdl, length, flags, ndkxx::Wait{kTimeout}));
  }
  NTSTATUS deregister() { return reported(ndkxx::deregister_mr(mr, ndkxx::Wait{kTimeout})); }
  NTSTATUS initialize_fast(ULONG pages, bool remote_access) {
    return reported(
        ndkxx::initialize_fast_register_mr(mr, pages, remote_access, ndkxx::Wait{kTimeout}));
  }
  UINT32 local_token() const { return mr->Dispatch->NdkGetLocalTokenFromMr(mr); }
  UINT32 remote_token() const { return mr->Dispatch->NdkGetRemoteTokenFromMr(mr); }
  NDK_OBJECT_HEADER* header() { return &mr->Header; }
  bool close() {
    bool ok = close_object(mr);
    mr = nullptr;
    return ok;
  }

  NDK_MR* mr = nullptr;
  NTSTATUS create_status = STATUS_UNSUCCESSFUL;
};

class MwHandle {
 public:
  explicit MwHandle(NDK_PD* pd) { create_status = create_mw(pd, &mw); }
  ~MwHandle() { close(); }
  MwHandle(const MwHandle&) = delete;
  MwHandle& operator=(const MwHandle&) = delete;
  UINT32 remote_token() const { return mw->Dispatch->NdkGetRemoteTokenFromMw(mw); }
  NDK_OBJECT_HEADER* header() { return &mw->Header; }
  bool close() {
    bool ok = close_object(mw);
    mw = nullptr;
    return ok;
  }
  NDK_MW* mw = nullptr;
  NTSTATUS create_status = STATUS_UNSUCCESSFUL;
};

// ---------------------------------------------------------------------------------------------
// Logical address mappings

constexpr size_t kLamHeaderBytes = 16;  // FIELD_OFFSET(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageArray)

inline ULONG lam_bytes(size_t pages) {
  return static_cast<ULONG>(kLamHeaderBytes + pages * sizeof(NDK_LOGICAL_ADDRESS));
}

// NdkBuildLAM with the size query first (ndkxx::Lam); released in the destructor (declare it
// before the MRs fast-registered over its pages, so that it is released after they are closed).
class Lam : public ndkxx::Lam {
 public:
  Lam(NDK_ADAPTER* adapter, MDL* mdl, SIZE_T length)
      : ndkxx::Lam(adapter, mdl, length, ndkxx::Wait{kTimeout}) {}

  // SGEs (one per page piece) describing bytes [offset, offset + length) of the mapped
  // buffer through logical addresses and `token` (the PD's privileged token).
  std::vector<NDK_SGE> sges(size_t offset, size_t length, UINT32 token) const {
    std::vector<NDK_SGE> out;
    size_t position = fbo() + offset;  // position within the page run
    while (length != 0) {
      size_t index = position / PAGE_SIZE;
      size_t in_page = position % PAGE_SIZE;
      size_t chunk = std::min<size_t>(length, PAGE_SIZE - in_page);
      NDK_SGE sge{};
      sge.LogicalAddress.QuadPart = page(index) + static_cast<int64_t>(in_page);
      sge.Length = static_cast<ULONG>(chunk);
      sge.MemoryRegionToken = token;
      out.push_back(sge);
      position += chunk;
      length -= chunk;
    }
    return out;
  }
};

// A buffer whose bytes [start, start + length) are mapped by a LAM and can be fast-registered
// on a fast-register MR (created and initialized here).
class FastRegion {
 public:
  FastRegion(const ndkxx::Adapter& adapter, NDK_PD* pd, size_t buffer_bytes, size_t start_offset,
             size_t region_length, ULONG max_pages, bool remote_access)
      : buffer(buffer_bytes, 0x3C), start(start_offset), length(region_length), mr(pd, true) {
    SoftNdkInitializeMdl(&mdl, buffer.data() + start, length);
    lam = std::make_unique<Lam>(adapter.get(), &mdl, length);
    if (mr.create_status == STATUS_SUCCESS) init_status = mr.initialize_fast(max_pages, remote_access);
  }
  ~FastRegion() {
    mr.close();
    lam.reset();
  }
  bool ok() const {
    return lam->status() == STATUS_SUCCESS && mr.create_status == STATUS_SUCCESS &&
           init_status == STATUS_SUCCESS;
  }
  // Posts NdkFastRegister of every LAM page (FBO from the LAM) at `base` (≡ FBO mod PAGE_SIZE)
  // and records the token read right after the call returned.
  NTSTATUS post(NDK_QP* qp, void* context, ULONG flags, uint64_t base_address,
                ULONG page_count = 0, SIZE_T bytes = 0) {
    if (page_count == 0) page_count = lam->pages();
    if (bytes == 0) bytes = length;
    NTSTATUS s = qp->Dispatch->NdkFastRegister(qp, context, mr.mr, page_count, lam->page_array(),
                                               lam->fbo(), bytes,
                                               reinterpret_cast<PVOID>(base_address), flags);
    if (s == STATUS_SUCCESS) {
      token = mr.remote_token();
      base = base_address;
    }
    return s;
  }
  unsigned char* host(size_t offset = 0) { return buffer.data() + start + offset; }

  Buffer buffer;
  MDL mdl{};
  size_t start;
  size_t length;
  std::unique_ptr<Lam> lam;
  MrHandle mr;
  NTSTATUS init_status = STATUS_UNSUCCESSFUL;
  UINT32 token = 0;
  uint64_t base = 0;
};

// A normal registration of bytes [offset, offset + length) inside a larger allocation whose
// other bytes are guards: remote accesses must never touch them.
class GuardedRegion {
 public:
  static constexpr unsigned char kGuard = 0xEE;
  static constexpr unsigned char kInitial = 0x11;
  GuardedRegion(NDK_PD* pd, size_t total_bytes, size_t region_offset, size_t region_length,
                ULONG flags)
      : buffer(total_bytes, kGuard), offset(region_offset), length(region_length), mr(pd, false) {
    std::memset(buffer.data() + offset, kInitial, length);
    SoftNdkInitializeMdl(&mdl, buffer.data() + offset, length);
    if (mr.create_status == STATUS_SUCCESS) status = mr.register_mdl(&mdl, length, flags);
  }
  uint64_t base() { return reinterpret_cast<uintptr_t>(buffer.data() + offset); }
  UINT32 remote_token() const { return mr.remote_token(); }
  // Guards still kGuard and the region still kInitial.
  ::testing::AssertionResult untouched() {
    size_t before = first_mismatch(buffer.data(), offset, kGuard);
    if (before != offset) return ::testing::AssertionFailure() << "guard byte " << before << " changed";
    size_t inside = first_mismatch(buffer.data() + offset, length, kInitial);
    if (inside != length)
      return ::testing::AssertionFailure() << "region byte " << inside << " changed";
    size_t tail = buffer.size() - offset - length;
    size_t after = first_mismatch(buffer.data() + offset + length, tail, kGuard);
    if (after != tail)
      return ::testing::AssertionFailure() << "guard byte " << offset + length + after << " changed";
    return ::testing::AssertionSuccess();
  }
  ::testing::AssertionResult guards_intact() {
    size_t before = first_mismatch(buffer.data(), offset, kGuard);
    if (before != offset) return ::testing::AssertionFailure() << "guard byte " << before << " changed";
    size_t tail = buffer.size() - offset - length;
    size_t after = first_mismatch(buffer.data() + offset + length, tail, kGuard);
    if (after != tail)
      return ::testing::AssertionFailure() << "guard byte " << offset + length + after << " changed";
    return ::testing::AssertionSuccess();
  }

  Buffer buffer;
  MDL mdl{};
  size_t offset;
  size_t length;
  MrHandle mr;
  NTSTATUS status = STATUS_UNSUCCESSFUL;
};

// ---------------------------------------------------------------------------------------------
// Posting and completions

// Outcome of one initiator request: the inline status, and the completion when it was queued.
struct Outcome {
  NTSTATUS inline_status = STATUS_UNSUCCESSFUL;
  bool completed = false;
  NDK_RESULT_EX result{};
  // The final status: the completion's when queued, else the inline one.
  NTSTATUS status() const { return inline_status == STATUS_SUCCESS ? result.Status : inline_status; }
};

// Waits for the completion of a request that returned `inline_status` (when SUCCESS) on `cq`.
inline Outcome finish(Cq& cq, NTSTATUS inline_status) {
  Outcome o;
  o.inline_status = inline_status;
  if (inline_status != STATUS_SUCCESS) return o;
  o.completed = cq.next(&o.result);
  if (!o.completed) {
    ADD_FAILURE() << "no completion within the timeout";
    o.result.Status = STATUS_IO_TIMEOUT;
  }
  return o;
}

using Side = ConnectedPairFixture::Side;

inline Outcome rdma_write(Side& side, const NDK_SGE* sges, ULONG count, uint64_t address,
                          UINT32 token, void* context, ULONG flags = 0) {
  return finish(side.cq,
                side.q()->NdkWrite(side.qp, context, sges, count, address, token, flags));
}
inline Outcome rdma_read(Side& side, const NDK_SGE* sges, ULONG count, uint64_t address,
                         UINT32 token, void* context, ULONG flags = 0) {
  return finish(side.cq, side.q()->NdkRead(side.qp, context, sges, count, address, token, flags));
}

// Checks a completion's status, type and context.
inline ::testing::AssertionResult completed_with(const Outcome& o, NTSTATUS status,
                                                 NDK_OPERATION_TYPE type, void* context) {
  if (o.inline_status != STATUS_SUCCESS)
    return ::testing::AssertionFailure() << "request failed inline: " << status_name(o.inline_status);
  if (!o.completed) return ::testing::AssertionFailure() << "no completion";
  if (o.result.Status != status)
    return ::testing::AssertionFailure() << "completion status " << status_name(o.result.Status)
                                         << ", expected " << status_name(status);
  if (o.result.Type != type)
    return ::testing::AssertionFailure() << "completion type " << o.result.Type << ", expected "
                                         << type;
  if (o.result.RequestContext != context)
    return ::testing::AssertionFailure() << "completion context " << o.result.RequestContext
                                         << ", expected " << context;
  return ::testing::AssertionSuccess();
}

// A request of `type` that the peer refuses (remote protection error): completed with type and
// context, and a status of `accepted` (Microsoft's NDKPI reference) -- or STATUS_SUCCESS for a
// Write/Send on
// iWARP, where the refusal arrives after the local completion (RFC 5040). Callers
// check the abort (expect_connection_broken) in every case.
inline ::testing::AssertionResult refused_remotely(const Outcome& o,
                                                   const ndkxx::Adapter& initiator,
                                                   NDK_OPERATION_TYPE type, void* context,
                                                   const std::vector<NTSTATUS>& accepted) {
  if (o.inline_status != STATUS_SUCCESS)
    return ::testing::AssertionFailure()
           << "request failed inline: " << status_name(o.inline_status)
           << " (a remote protection error is not known at post time)";
  if (!o.completed) return ::testing::AssertionFailure() << "no completion";
  if (o.result.Type != type)
    return ::testing::AssertionFailure()
           << "completion type " << o.result.Type << ", expected " << type;
  if (o.result.RequestContext != context)
    return ::testing::AssertionFailure()
           << "completion context " << o.result.RequestContext << ", expected " << context;
  return completes_or_fails_remotely(initiator, type, o.result.Status, accepted);
}

// Posts a work request on `side` and waits for its successful completion of `type`.
inline ::testing::AssertionResult succeeds(Side& side, NTSTATUS inline_status,
                                           NDK_OPERATION_TYPE type, void* context) {
  return completed_with(finish(side.cq, inline_status), STATUS_SUCCESS, type, context);
}

// After a request broke the connection: the disconnect events arrive (on the passive side,
// and on the active side too when `active_event`), the receives still posted on the passive
// QP complete with STATUS_CANCELLED, and a later initiator request on the active QP is
// cancelled (accepted and completed with STATUS_CANCELLED, or refused inline with
// STATUS_CONNECTION_INVALID — the NDKPI reference allows both). mp.consumed_receives
// receives of the passive QP were taken by messages before the break and are not checked here.
inline void expect_connection_broken(MemoryPairFixture& mp, bool active_event) {
  EXPECT_TRUE(wait_until([&] { return mp.passive.disconnects.count.load() >= 1; }))
      << "passive side saw no disconnect event";
  if (active_event) {
    EXPECT_TRUE(wait_until([&] { return mp.active.disconnects.count.load() >= 1; }))
        << "active side saw no disconnect event";
  }
  int left = mp.posted_receives - mp.consumed_receives;
  if (left > 0) {
    std::vector<NDK_RESULT_EX> flushed;
    EXPECT_TRUE(mp.passive.cq.collect(&flushed, static_cast<size_t>(left)))
        << "posted receives were not flushed";
    for (const NDK_RESULT_EX& r : flushed) {
      EXPECT_NT(STATUS_CANCELLED, r.Status);
      EXPECT_EQ(NdkOperationTypeReceive, r.Type);
    }
  }
  NDK_SGE sge = mp.active_buffer->sge(0, 8);
  void* late = reinterpret_cast<void*>(uintptr_t{0x1a7e});
  NTSTATUS s = mp.active.q()->NdkSend(mp.active.qp, late, &sge, 1, 0);
  if (s == STATUS_SUCCESS) {
    NDK_RESULT_EX r{};
    ASSERT_TRUE(mp.active.cq.next(&r)) << "late request never completed";
    EXPECT_NT(STATUS_CANCELLED, r.Status);
    EXPECT_EQ(late, r.RequestContext);
  } else {
    EXPECT_NT(STATUS_CONNECTION_INVALID, s);
  }
}

// True when nothing arrives on `cq` for `quiet` (used to show a failure left no stray entry).
inline bool stays_empty(Cq& cq, std::chrono::milliseconds quiet = std::chrono::milliseconds(50)) {
  NDK_RESULT_EX r{};
  return !cq.next(&r, quiet);
}

// ---------------------------------------------------------------------------------------------
// Accesses that must succeed, and accesses that must be refused

// `n` bytes at `p` all still `fill` (else the first that is not).
inline ::testing::AssertionResult still_filled(const unsigned char* p, size_t n,
                                               unsigned char fill) {
  size_t at = first_mismatch(p, n, fill);
  if (at == n) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "byte " << at << " changed";
}

// An RDMA write of `bytes` bytes of `value` from the start of the active buffer to `address`
// (with `token`) that completes successfully with `context`, then fenced: its bytes are placed
// at the target once this returned success (MemoryPairFixture::fence_writes).
inline ::testing::AssertionResult write_and_fence(MemoryPairFixture& mp, unsigned char value,
                                                  ULONG bytes, uint64_t address, UINT32 token,
                                                  void* context) {
  std::memset(mp.active_buffer->data(), value, bytes);
  NDK_SGE sge = mp.active_buffer->sge(0, bytes);
  ::testing::AssertionResult written =
      completed_with(rdma_write(mp.active, &sge, 1, address, token, context), STATUS_SUCCESS,
                     NdkOperationTypeWrite, context);
  if (!written) return written;
  return mp.fence_writes();
}

// The request context of expect_refused()'s request.
inline void* refused_context() {
  return reinterpret_cast<void*>(uintptr_t{0xBAD});
}

inline bool one_of(NTSTATUS status, const std::vector<NTSTATUS>& accepted) {
  return std::find(accepted.begin(), accepted.end(), status) != accepted.end();
}

// Posts an RDMA write (of 0x5A bytes) or read (into 0x77 bytes) from the active side that the
// passive side must refuse, and checks: the request was accepted at post time, completed with
// one of `accepted`, the target is untouched, a read sink is untouched, and the connection
// broke. With `inline_ok` (a range the requester can see is malformed) an inline refusal with
// STATUS_INVALID_PARAMETER or one of `accepted` is fine too (then nothing breaks).
// iWARP (Microsoft's NDKPI reference): a write completes when handed to TCP, so it may
// report STATUS_SUCCESS and the refusal arrives as the peer's Terminate; the abort and the
// untouched target are required all the same (checked again once the passive side has seen the
// abort, i.e. has processed the write). A read always reports the refusal.
inline void expect_refused(MemoryPairFixture& mp, bool write, uint64_t address, ULONG length,
                           UINT32 token, const std::vector<NTSTATUS>& accepted,
                           const std::function<::testing::AssertionResult()>& target_untouched,
                           bool inline_ok = false) {
  SCOPED_TRACE(std::string(write ? "write" : "read") + " at " + hex(address) + " length " +
               std::to_string(length) + " token " + hex(token));
  unsigned char* local = mp.active_buffer->data();
  std::memset(local, write ? 0x5A : 0x77, length);
  NDK_SGE sge = mp.active_buffer->sge(0, length);
  Outcome o = write ? rdma_write(mp.active, &sge, 1, address, token, refused_context())
                    : rdma_read(mp.active, &sge, 1, address, token, refused_context());
  if (inline_ok && o.inline_status != STATUS_SUCCESS) {
    EXPECT_TRUE(one_of(o.inline_status, accepted) || o.inline_status == STATUS_INVALID_PARAMETER)
        << status_name(o.inline_status);
    EXPECT_TRUE(stays_empty(mp.active.cq)) << "an inline failure produced a completion";
    EXPECT_TRUE(target_untouched());
    return;
  }
  ASSERT_NT(STATUS_SUCCESS, o.inline_status) << "a remote protection error is not known at post";
  ASSERT_TRUE(o.completed);
  EXPECT_TRUE(refused_remotely(o, mp.active, write ? NdkOperationTypeWrite : NdkOperationTypeRead,
                               refused_context(), accepted));
  EXPECT_TRUE(target_untouched());
  if (!write) {
    EXPECT_EQ(length, first_mismatch(local, length, 0x77)) << "the read sink changed";
  }
  expect_connection_broken(mp, true);
  EXPECT_TRUE(target_untouched()) << "after the abort";
}

}  // namespace ndktest::mem
