// Helpers for the memory-model conformance tests (memory_test.cpp, remote_access_test.cpp):
// MR / MW / PD handles over the public ABI, LAM building, fast-registered regions over LAM
// pages, guarded regions (a registered middle part between guard bytes of one allocation), a
// connected pair with pre-posted receives, and the checks for "this request failed and the
// connection broke". Header-only; built on ndk_test.h.
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

#include "ndk_test.h"
#include "transport_helpers.h"

namespace ndktest::mem {

// ---------------------------------------------------------------------------------------------
// URIs

// `uri` with option "key=value" set: replaces the key's value when the URI already has it
// (adapter URIs reject duplicate keys), appends it otherwise.
inline std::string with_option(const std::string& uri, const std::string& option) {
  const size_t query = uri.find('?');
  if (query == std::string::npos) return uri + "?" + option;
  const std::string key = option.substr(0, option.find('=') + 1);
  std::string out = uri.substr(0, query + 1);
  std::string rest = uri.substr(query + 1);
  bool replaced = false;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('&', start);
    if (end == std::string::npos) end = rest.size();
    std::string item = rest.substr(start, end - start);
    if (item.compare(0, key.size(), key) == 0) {
      item = option;
      replaced = true;
    }
    if (out.back() != '?') out += "&";
    out += item;
    start = end + 1;
  }
  if (!replaced) out += "&" + option;
  return out;
}

// Every test URI as given, plus the same URI with pending=always (every asynchronous function
// returns STATUS_PENDING and completes through its callback).
inline std::vector<std::string> inline_and_pending_uris() {
  std::vector<std::string> out;
  for (const std::string& uri : test_uris()) {
    out.push_back(uri);
    if (uri.find("pending=") == std::string::npos) out.push_back(with_option(uri, "pending=always"));
  }
  return out;
}

inline std::string uri_param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (char c : info.param) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

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
// Object handles (closed in the destructor; declare them after the QpPair / PD they live in)

class PdHandle {
 public:
  explicit PdHandle(Adapter& adapter) {
    status = sync_create<NDK_PD>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_PD** out) {
          return adapter.d()->NdkCreatePd(adapter.get(), cb, ctx, out);
        },
        &pd);
  }
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

class MrHandle {
 public:
  MrHandle(NDK_PD* pd, bool fast) {
    create_status = sync_create<NDK_MR>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_MR** out) {
          return pd->Dispatch->NdkCreateMr(pd, fast ? TRUE : FALSE, cb, ctx, out);
        },
        &mr);
  }
  ~MrHandle() { close(); }
  MrHandle(const MrHandle&) = delete;
  MrHandle& operator=(const MrHandle&) = delete;

  NTSTATUS register_mdl(MDL* mdl, SIZE_T length, ULONG flags) {
    return sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
      return mr->Dispatch->NdkRegisterMr(mr, mdl, length, flags, cb, ctx);
    });
  }
  NTSTATUS deregister() {
    return sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
      return mr->Dispatch->NdkDeregisterMr(mr, cb, ctx);
    });
  }
  NTSTATUS initialize_fast(ULONG pages, bool remote_access) {
    return sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
      return mr->Dispatch->NdkInitializeFastRegisterMr(mr, pages, remote_access ? TRUE : FALSE,
                                                       cb, ctx);
    });
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
  explicit MwHandle(NDK_PD* pd) {
    create_status = sync_create<NDK_MW>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_MW** out) {
          return pd->Dispatch->NdkCreateMw(pd, cb, ctx, out);
        },
        &mw);
  }
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

// NdkBuildLAM with the size query first; released in the destructor (declare it before the
// MRs fast-registered over its pages, so that it is released after they are closed).
class Lam {
 public:
  Lam(NDK_ADAPTER* adapter, MDL* mdl, SIZE_T length) : adapter_(adapter) {
    ULONG size = 0;
    ULONG fbo_out = 0;
    size_status = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
      return adapter_->Dispatch->NdkBuildLAM(adapter_, mdl, length, cb, ctx, nullptr, &size,
                                             &fbo_out);
    });
    if (size_status != STATUS_BUFFER_TOO_SMALL) {
      status = size_status;
      return;
    }
    required_size = size;
    storage_.assign((size + 7) / 8 + 1, 0);
    auto* candidate = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(storage_.data());
    status = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
      return adapter_->Dispatch->NdkBuildLAM(adapter_, mdl, length, cb, ctx, candidate, &size,
                                             &fbo);
    });
    if (status == STATUS_SUCCESS) lam = candidate;
  }
  ~Lam() { release(); }
  Lam(const Lam&) = delete;
  Lam& operator=(const Lam&) = delete;
  void release() {
    if (lam != nullptr) adapter_->Dispatch->NdkReleaseLAM(adapter_, lam);
    lam = nullptr;
  }
  ULONG pages() const { return lam->AdapterPageCount; }
  int64_t page(size_t i) const { return lam->AdapterPageArray[i].QuadPart; }
  const NDK_LOGICAL_ADDRESS* page_array() const { return lam->AdapterPageArray; }

  // SGEs (one per page piece) describing bytes [offset, offset + length) of the mapped
  // buffer through logical addresses and `token` (the PD's privileged token).
  std::vector<NDK_SGE> sges(size_t offset, size_t length, UINT32 token) const {
    std::vector<NDK_SGE> out;
    size_t position = fbo + offset;  // position within the page run
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

  NDK_LOGICAL_ADDRESS_MAPPING* lam = nullptr;
  NTSTATUS size_status = STATUS_UNSUCCESSFUL;
  NTSTATUS status = STATUS_UNSUCCESSFUL;
  ULONG required_size = 0;
  ULONG fbo = 0;

 private:
  NDK_ADAPTER* adapter_;
  std::vector<uint64_t> storage_;
};

// A buffer whose bytes [start, start + length) are mapped by a LAM and can be fast-registered
// on a fast-register MR (created and initialized here).
class FastRegion {
 public:
  FastRegion(Adapter& adapter, NDK_PD* pd, size_t buffer_bytes, size_t start_offset,
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
    return lam->status == STATUS_SUCCESS && mr.create_status == STATUS_SUCCESS &&
           init_status == STATUS_SUCCESS;
  }
  // Posts NdkFastRegister of every LAM page (FBO from the LAM) at `base` (≡ FBO mod PAGE_SIZE)
  // and records the token read right after the call returned.
  NTSTATUS post(NDK_QP* qp, void* context, ULONG flags, uint64_t base_address,
                ULONG page_count = 0, SIZE_T bytes = 0) {
    if (page_count == 0) page_count = lam->pages();
    if (bytes == 0) bytes = length;
    NTSTATUS s = qp->Dispatch->NdkFastRegister(qp, context, mr.mr, page_count, lam->page_array(),
                                               lam->fbo, bytes,
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
// A connected pair with receives pre-posted on the passive side, a scratch region on the
// active side (source of writes, sink of reads, with the RDMA-read-sink right) and the regions
// of its write fence (fence_writes()).

constexpr size_t kReceiveSlot = 512;
inline void* receive_context(int i) { return reinterpret_cast<void*>(uintptr_t{0x5000} + i); }

class MemPair {
 public:
  explicit MemPair(const std::string& uri, QpPairOptions options = {}) : pair(uri, options) {}
  ~MemPair() {
    active_buf.reset();
    passive_rx.reset();
    fence_sink.reset();
    fence_source.reset();
  }
  // Connects with `receives` receives of kReceiveSlot bytes posted on the passive QP first
  // (contexts receive_context(0..)); `extra` runs before the connection as well.
  bool connect(int receives = 2, const std::function<void(QpPair&)>& extra = nullptr) {
    posted_receives = receives;
    bool ok = pair.connect([&](QpPair& p) {
      passive_rx = std::make_unique<Region>(p.passive.pd, 4 * 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
      EXPECT_NT(STATUS_SUCCESS, passive_rx->status);
      for (int i = 0; i < receives; ++i)
        EXPECT_NT(STATUS_SUCCESS, post_receive(p.passive.qp, *passive_rx, i * kReceiveSlot,
                                               kReceiveSlot, receive_context(i)));
      active_buf = std::make_unique<Region>(
          p.active.pd, 16 * 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK, 0x77);
      EXPECT_NT(STATUS_SUCCESS, active_buf->status);
      if (extra) extra(p);
    });
    return ok && !::testing::Test::HasFatalFailure() && passive_rx->status == STATUS_SUCCESS &&
           active_buf->status == STATUS_SUCCESS;
  }

  // Orders the Writes posted so far on the active QP before what the test does next with the
  // target memory (checks it, changes the grant): a read fence (transport_helpers.h) of one
  // byte of fence_source into fence_sink, on every transport. Once it returned success the
  // Writes are placed: check the target at once (the bytes that should have landed, or the
  // bytes a Write left unchanged). The fence's completion is consumed here; any other
  // completion ahead of it on the active CQ is a failure (finish() every request first). Its
  // regions are registered at the first fence (tests without one have none).
  ::testing::AssertionResult fence_writes() {
    if (fence_source == nullptr) {
      fence_source = std::make_unique<FenceSource>(pair.passive.pd);
      fence_sink = std::make_unique<Region>(
          pair.active.pd, 64, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK);
    }
    if (fence_sink->status != STATUS_SUCCESS)
      return ::testing::AssertionFailure() << "fence sink: " << status_name(fence_sink->status);
    return read_fence(pair.active.qp, pair.active.cq, fence_sink->sge(0, 1), *fence_source);
  }

  QpPair pair;
  std::unique_ptr<Region> passive_rx;
  std::unique_ptr<Region> active_buf;
  // The fence's own: its source on the passive side and a read sink on the active side that no
  // test uses.
  std::unique_ptr<FenceSource> fence_source;
  std::unique_ptr<Region> fence_sink;
  int posted_receives = 0;
  int consumed_receives = 0;  // pre-posted receives already completed by messages
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

inline Outcome rdma_write(QpPair::Side& side, const NDK_SGE* sges, ULONG count, uint64_t address,
                          UINT32 token, void* context, ULONG flags = 0) {
  return finish(side.cq,
                side.q()->NdkWrite(side.qp, context, sges, count, address, token, flags));
}
inline Outcome rdma_read(QpPair::Side& side, const NDK_SGE* sges, ULONG count, uint64_t address,
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
// context, and a status of `accepted` (ndkpi.md 4.9) -- or STATUS_SUCCESS for a Write/Send on
// iWARP, where the refusal arrives after the local completion (iwarp.md 3.7 rule 5). Callers
// check the abort (expect_connection_broken) in every case.
inline ::testing::AssertionResult refused_remotely(const Outcome& o, const Adapter& initiator,
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
inline ::testing::AssertionResult succeeds(QpPair::Side& side, NTSTATUS inline_status,
                                           NDK_OPERATION_TYPE type, void* context) {
  return completed_with(finish(side.cq, inline_status), STATUS_SUCCESS, type, context);
}

// After a request broke the connection: the disconnect events arrive (on the passive side,
// and on the active side too when `active_event`), the receives still posted on the passive
// QP complete with STATUS_CANCELLED, and a later initiator request on the active QP is
// cancelled (accepted and completed with STATUS_CANCELLED, or refused inline with
// STATUS_CONNECTION_INVALID — ndkpi.md 4.1.5 rule 4 allows both). mp.consumed_receives
// receives of the passive QP were taken by messages before the break and are not checked here.
inline void expect_connection_broken(MemPair& mp, bool active_event) {
  QpPair& pair = mp.pair;
  EXPECT_TRUE(wait_until([&] { return pair.passive.disconnects.count.load() >= 1; }))
      << "passive side saw no disconnect event";
  if (active_event) {
    EXPECT_TRUE(wait_until([&] { return pair.active.disconnects.count.load() >= 1; }))
        << "active side saw no disconnect event";
  }
  int left = mp.posted_receives - mp.consumed_receives;
  if (left > 0) {
    std::vector<NDK_RESULT_EX> flushed;
    EXPECT_TRUE(pair.passive.cq.collect(&flushed, static_cast<size_t>(left)))
        << "posted receives were not flushed";
    for (const NDK_RESULT_EX& r : flushed) {
      EXPECT_NT(STATUS_CANCELLED, r.Status);
      EXPECT_EQ(NdkOperationTypeReceive, r.Type);
    }
  }
  NDK_SGE sge = mp.active_buf->sge(0, 8);
  void* late = reinterpret_cast<void*>(uintptr_t{0x1a7e});
  NTSTATUS s = pair.active.q()->NdkSend(pair.active.qp, late, &sge, 1, 0);
  if (s == STATUS_SUCCESS) {
    NDK_RESULT_EX r{};
    ASSERT_TRUE(pair.active.cq.next(&r)) << "late request never completed";
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

}  // namespace ndktest::mem
