// Memory model conformance (Microsoft's NDKPI reference): memory
// region creation and registration, tokens, re-registration, deregistration and close,
// logical address mappings, fast registration over LAM pages, invalidation, the privileged
// token, and RDMA read with local invalidate. Every test runs against each test URI and the
// same URI with pending=always (asynchronous completion of every async function).
#include <gtest/gtest.h>

#include <set>

#include "fixtures.h"
#include "memory_helpers.h"
#include "ndk_test.h"

namespace {
using namespace ndktest;
using namespace ndktest::mem;

class MemoryModel : public ::testing::TestWithParam<std::string> {};

constexpr ULONG kRemoteRw = NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ;
constexpr ULONG kFrRemoteRw = NDK_OP_FLAG_ALLOW_REMOTE_WRITE | NDK_OP_FLAG_ALLOW_REMOTE_READ;
// A consumer-chosen base for fast registrations: page aligned, far from any host address.
constexpr uint64_t kFrBase = 0x0000100000000000ull;

void* ctx(uintptr_t v) { return reinterpret_cast<void*>(v); }

// ---------------------------------------------------------------------------------------------
// NdkCreateMr / NdkRegisterMr / NdkDeregisterMr

TEST_P(MemoryModel, create_mr_for_normal_and_fast_registration) {
  PdCqFixture node(GetParam());
  ASSERT_TRUE(node.ok());
  for (bool fast : {false, true}) {
    SCOPED_TRACE(fast ? "FastRegister TRUE" : "FastRegister FALSE");
    MrHandle mr(node.pd, fast);
    ASSERT_NT(STATUS_SUCCESS, mr.create_status);
    ASSERT_NE(nullptr, mr.mr);
    EXPECT_EQ(NdkObjectTypeMr, mr.mr->Header.ObjectType);
    EXPECT_EQ(node.info().Version.Major, mr.mr->Header.Version.Major);
    EXPECT_EQ(node.info().Version.Minor, mr.mr->Header.Version.Minor);
    EXPECT_NE(nullptr, mr.mr->Dispatch);
  }
}

TEST_P(MemoryModel, register_mr_accepts_every_flag_combination_with_distinct_tokens) {
  PdCqFixture node(GetParam());
  ASSERT_TRUE(node.ok());
  const UINT32 privileged = privileged_token(node.pd);
  EXPECT_NE(0u, privileged);
  const ULONG kFlagSet[] = {NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_MR_FLAG_ALLOW_REMOTE_READ,
                            NDK_MR_FLAG_ALLOW_REMOTE_WRITE, NDK_MR_FLAG_RDMA_READ_SINK};
  std::vector<std::unique_ptr<Buffer>> buffers;  // outlive the MRs below
  std::vector<std::unique_ptr<MrHandle>> mrs;
  std::set<UINT32> tokens;
  for (unsigned mask = 0; mask < 16; ++mask) {
    ULONG flags = NDK_MR_FLAG_ALLOW_LOCAL_READ;
    for (unsigned bit = 0; bit < 4; ++bit)
      if ((mask & (1u << bit)) != 0) flags |= kFlagSet[bit];
    SCOPED_TRACE("flags " + hex(flags));
    buffers.push_back(std::make_unique<Buffer>(8192));
    mrs.push_back(std::make_unique<MrHandle>(node.pd, false));
    MrHandle& mr = *mrs.back();
    ASSERT_NT(STATUS_SUCCESS, mr.create_status);
    ASSERT_NT(STATUS_SUCCESS, mr.register_mdl(buffers.back()->mdl(), 8192, flags));
    EXPECT_NE(0u, mr.local_token());
    EXPECT_NE(0u, mr.remote_token());
    EXPECT_NE(privileged, mr.local_token());
    EXPECT_NE(privileged, mr.remote_token());
    // Tokens are unique among live registrations of the node.
    EXPECT_TRUE(tokens.insert(mr.remote_token()).second) << "remote token reused";
  }
  // The privileged token does not change while MRs come and go.
  EXPECT_EQ(privileged, privileged_token(node.pd));
  for (auto& mr : mrs) EXPECT_NT(STATUS_SUCCESS, mr->deregister());
  mrs.clear();
}

TEST_P(MemoryModel, register_mr_rejects_zero_length) {
  PdCqFixture node(GetParam());
  ASSERT_TRUE(node.ok());
  Buffer buffer(4096);
  MrHandle mr(node.pd, false);
  ASSERT_NT(STATUS_SUCCESS, mr.create_status);
  EXPECT_NT(STATUS_INVALID_PARAMETER,
            mr.register_mdl(buffer.mdl(), 0, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  // The failed call left the MR unregistered: a valid registration still works.
  EXPECT_NT(STATUS_SUCCESS, mr.register_mdl(buffer.mdl(), 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
}

TEST_P(MemoryModel, register_mr_rejects_length_above_max_registration_size) {
  PdCqFixture node(GetParam());
  ASSERT_TRUE(node.ok());
  const SIZE_T max = node.info().MaxRegistrationSize;
  if (max == SIZE_MAX)
    GTEST_SKIP() << "MaxRegistrationSize is the largest SIZE_T: no length is above it";
  Buffer buffer(4096);
  // An MDL that claims max + 1 bytes (the provider treats the address as an identity and must
  // reject the length before using anything).
  MDL big{};
  SoftNdkInitializeMdl(&big, buffer.data(), max + 1);
  MrHandle mr(node.pd, false);
  ASSERT_NT(STATUS_SUCCESS, mr.create_status);
  EXPECT_NT(STATUS_INVALID_PARAMETER, mr.register_mdl(&big, max + 1, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  EXPECT_NT(STATUS_SUCCESS, mr.register_mdl(buffer.mdl(), 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
}

TEST_P(MemoryModel, register_mr_rejects_length_beyond_the_mdl_chain) {
  PdCqFixture node(GetParam());
  ASSERT_TRUE(node.ok());
  Buffer buffer(8192);
  MDL mdl{};
  SoftNdkInitializeMdl(&mdl, buffer.data(), 4096);
  MrHandle mr(node.pd, false);
  ASSERT_NT(STATUS_SUCCESS, mr.create_status);
  EXPECT_NT(STATUS_INVALID_PARAMETER, mr.register_mdl(&mdl, 8192, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
}

TEST_P(MemoryModel, register_mr_rejects_non_contiguous_mdl_chain) {
  PdCqFixture node(GetParam());
  ASSERT_TRUE(node.ok());
  Buffer buffer(4 * 4096);
  struct Case {
    const char* name;
    size_t second_offset;
  };
  // First element [0, 4096); the second starts after a gap, or overlaps the first.
  for (Case c : {Case{"gap", 8192}, Case{"overlap", 2048}}) {
    SCOPED_TRACE(c.name);
    MDL first{}, second{};
    SoftNdkInitializeMdl(&first, buffer.data(), 4096);
    SoftNdkInitializeMdl(&second, buffer.data() + c.second_offset, 4096);
    first.Next = &second;
    MrHandle mr(node.pd, false);
    ASSERT_NT(STATUS_SUCCESS, mr.create_status);
    EXPECT_NT(STATUS_INVALID_PARAMETER, mr.register_mdl(&first, 8192, kRemoteRw));
  }
  // Contiguity is required only over Length: a gap after Length bytes does not matter.
  MDL first{}, second{};
  SoftNdkInitializeMdl(&first, buffer.data(), 4096);
  SoftNdkInitializeMdl(&second, buffer.data() + 8192, 4096);
  first.Next = &second;
  MrHandle mr(node.pd, false);
  ASSERT_NT(STATUS_SUCCESS, mr.create_status);
  EXPECT_NT(STATUS_SUCCESS, mr.register_mdl(&first, 4096, kRemoteRw));
}

TEST_P(MemoryModel, register_mr_over_contiguous_chain_of_several_mdls_maps_every_element) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  // Three elements with unaligned boundaries: [100, 1100), [1100, 6100), [6100, 9100).
  Buffer target(3 * 4096, 0xEE);
  MDL m1{}, m2{}, m3{};
  SoftNdkInitializeMdl(&m1, target.data() + 100, 1000);
  SoftNdkInitializeMdl(&m2, target.data() + 1100, 5000);
  SoftNdkInitializeMdl(&m3, target.data() + 6100, 3000);
  m1.Next = &m2;
  m2.Next = &m3;
  MrHandle mr(mp.passive.pd, false);
  ASSERT_NT(STATUS_SUCCESS, mr.create_status);
  ASSERT_NT(STATUS_SUCCESS, mr.register_mdl(&m1, 9000, kRemoteRw));
  const uint64_t base = reinterpret_cast<uintptr_t>(target.data() + 100);

  fill_pattern(mp.active_buffer->data(), 9000, 1);
  NDK_SGE sge = mp.active_buffer->sge(0, 9000);
  EXPECT_TRUE(completed_with(rdma_write(mp.active, &sge, 1, base, mr.remote_token(), ctx(1)),
                             STATUS_SUCCESS, NdkOperationTypeWrite, ctx(1)));
  ASSERT_TRUE(mp.fence_writes());
  EXPECT_EQ(9000u, pattern_mismatch(target.data() + 100, 9000, 1));
  EXPECT_EQ(100u, first_mismatch(target.data(), 100, 0xEE));
  EXPECT_EQ(3 * 4096u - 9100, first_mismatch(target.data() + 9100, 3 * 4096 - 9100, 0xEE));

  std::memset(mp.active_buffer->data(), 0, 9000);
  EXPECT_TRUE(completed_with(rdma_read(mp.active, &sge, 1, base, mr.remote_token(), ctx(2)),
                             STATUS_SUCCESS, NdkOperationTypeRead, ctx(2)));
  EXPECT_EQ(9000u, pattern_mismatch(mp.active_buffer->data(), 9000, 1));
}

TEST_P(MemoryModel, register_mr_twice_is_invalid_device_state) {
  PdCqFixture node(GetParam());
  ASSERT_TRUE(node.ok());
  Buffer a(4096), b(4096);
  MrHandle mr(node.pd, false);
  ASSERT_NT(STATUS_SUCCESS, mr.create_status);
  ASSERT_NT(STATUS_SUCCESS, mr.register_mdl(a.mdl(), 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  const UINT32 token = mr.remote_token();
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE,
            mr.register_mdl(b.mdl(), 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE,
            mr.register_mdl(a.mdl(), 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  EXPECT_EQ(token, mr.remote_token()) << "a refused registration changed the live one";
  EXPECT_NT(STATUS_SUCCESS, mr.deregister());
}

TEST_P(MemoryModel, register_mr_on_fast_register_mr_is_invalid_device_state) {
  PdCqFixture node(GetParam());
  ASSERT_TRUE(node.ok());
  Buffer buffer(4096);
  MrHandle mr(node.pd, true);
  ASSERT_NT(STATUS_SUCCESS, mr.create_status);
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE,
            mr.register_mdl(buffer.mdl(), 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
  ASSERT_NT(STATUS_SUCCESS, mr.initialize_fast(4, TRUE));
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE,
            mr.register_mdl(buffer.mdl(), 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE));
}

TEST_P(MemoryModel, reregister_after_deregister_issues_new_token_and_old_token_fails_remotely) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  Buffer target(4096, 0x11);
  MrHandle mr(mp.passive.pd, false);
  ASSERT_NT(STATUS_SUCCESS, mr.create_status);
  ASSERT_NT(STATUS_SUCCESS, mr.register_mdl(target.mdl(), 4096, kRemoteRw));
  const UINT32 old_token = mr.remote_token();
  const uint64_t base = reinterpret_cast<uintptr_t>(target.data());
  ASSERT_TRUE(write_and_fence(mp, 0xA1, 64, base, old_token, ctx(1)));
  EXPECT_EQ(64u, first_mismatch(target.data(), 64, 0xA1));

  ASSERT_NT(STATUS_SUCCESS, mr.deregister());
  ASSERT_NT(STATUS_SUCCESS, mr.register_mdl(target.mdl(), 4096, kRemoteRw));
  const UINT32 new_token = mr.remote_token();
  EXPECT_NE(old_token, new_token) << "re-registration must issue a new key";
  EXPECT_NE(0u, new_token);

  ASSERT_TRUE(write_and_fence(mp, 0xB2, 64, base + 64, new_token, ctx(2)));
  EXPECT_EQ(64u, first_mismatch(target.data() + 64, 64, 0xB2));

  // The stale token of the first registration is refused and breaks the connection (the NDKPI
  // reference; on iWARP the write may have completed before the refusal came, RFC 5040).
  expect_refused(mp, true, base + 128, 64, old_token, {STATUS_ACCESS_VIOLATION},
                 [&] { return still_filled(target.data() + 128, 4096 - 128, 0x11); });
}

// Revoking a normal registration (deregister, or close) makes the remote token fail.
void check_revocation(const std::string& uri, bool by_close) {
  MemoryPairFixture mp(uri);
  ASSERT_TRUE(mp.connect());
  Buffer target(4096, 0x11);
  MrHandle mr(mp.passive.pd, false);
  ASSERT_NT(STATUS_SUCCESS, mr.create_status);
  ASSERT_NT(STATUS_SUCCESS, mr.register_mdl(target.mdl(), 4096, kRemoteRw));
  const UINT32 token = mr.remote_token();
  const uint64_t base = reinterpret_cast<uintptr_t>(target.data());
  ASSERT_TRUE(write_and_fence(mp, 0xA1, 32, base, token, ctx(1)));
  EXPECT_EQ(32u, first_mismatch(target.data(), 32, 0xA1));
  if (by_close) {
    ASSERT_TRUE(mr.close());
  } else {
    ASSERT_NT(STATUS_SUCCESS, mr.deregister());
  }
  // Refused (Microsoft's NDKPI reference).
  expect_refused(mp, true, base + 32, 32, token, {STATUS_ACCESS_VIOLATION},
                 [&] { return still_filled(target.data() + 32, 4096 - 32, 0x11); });
}

TEST_P(MemoryModel, deregister_mr_revokes_remote_access) {
  check_revocation(GetParam(), false);
}

TEST_P(MemoryModel, closing_registered_mr_revokes_remote_access) {
  check_revocation(GetParam(), true);
}

TEST_P(MemoryModel, mr_tokens_are_nonzero_and_differ_from_privileged_token) {
  PdCqFixture node(GetParam());
  ASSERT_TRUE(node.ok());
  const UINT32 privileged = privileged_token(node.pd);
  EXPECT_NE(0u, privileged);
  Buffer buffer(4096);
  MrHandle normal(node.pd, false);
  ASSERT_NT(STATUS_SUCCESS, normal.create_status);
  ASSERT_NT(STATUS_SUCCESS, normal.register_mdl(buffer.mdl(), 4096, kRemoteRw));
  MrHandle fast(node.pd, true);
  ASSERT_NT(STATUS_SUCCESS, fast.create_status);
  ASSERT_NT(STATUS_SUCCESS, fast.initialize_fast(node.info().FRMRPageCount, TRUE));
  for (MrHandle* mr : {&normal, &fast}) {
    EXPECT_NE(0u, mr->local_token());
    EXPECT_NE(0u, mr->remote_token());
    EXPECT_NE(privileged, mr->local_token());
    EXPECT_NE(privileged, mr->remote_token());
  }
  EXPECT_NE(normal.remote_token(), fast.remote_token());
  EXPECT_EQ(privileged, privileged_token(node.pd)) << "privileged token must be stable";
}

// ---------------------------------------------------------------------------------------------
// NdkBuildLAM / NdkReleaseLAM

TEST_P(MemoryModel, build_lam_reports_required_size_when_buffer_missing_or_too_small) {
  AdapterFixture adapter(GetParam());
  ASSERT_NE(nullptr, adapter.get());
  Buffer buffer(5 * 4096);
  struct Case {
    size_t offset, length;
    ULONG pages;
  };
  // Unaligned start: n = ceil((FBO + Length) / PAGE_SIZE).
  for (Case c : {Case{100, 3 * 4096, 4}, Case{0, 2 * 4096, 2}, Case{4000, 200, 2},
                 Case{4095, 1, 1}}) {
    SCOPED_TRACE("offset " + std::to_string(c.offset) + " length " + std::to_string(c.length));
    MDL mdl{};
    SoftNdkInitializeMdl(&mdl, buffer.data() + c.offset, c.length);
    const ULONG required = lam_bytes(c.pages);
    NDK_ADAPTER* a = adapter.get();
    ULONG size = 0, fbo = 0xffff;
    EXPECT_NT(STATUS_BUFFER_TOO_SMALL, sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* rc) {
                return a->Dispatch->NdkBuildLAM(a, &mdl, c.length, cb, rc, nullptr, &size, &fbo);
              }));
    EXPECT_EQ(required, size);

    // A buffer one byte short: still too small, and nothing is written past it.
    std::vector<uint64_t> storage(16, 0xCDCDCDCDCDCDCDCDull);
    auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(storage.data());
    const auto* bytes = reinterpret_cast<const unsigned char*>(storage.data());
    const size_t storage_bytes = storage.size() * 8;
    size = required - 1;
    EXPECT_NT(STATUS_BUFFER_TOO_SMALL, sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* rc) {
                return a->Dispatch->NdkBuildLAM(a, &mdl, c.length, cb, rc, lam, &size, &fbo);
              }));
    EXPECT_EQ(required, size);
    EXPECT_EQ(storage_bytes - (required - 1),
              first_mismatch(bytes + required - 1, storage_bytes - (required - 1), 0xCD));

    // Exactly the required size works.
    size = required;
    ASSERT_NT(STATUS_SUCCESS, sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* rc) {
                return a->Dispatch->NdkBuildLAM(a, &mdl, c.length, cb, rc, lam, &size, &fbo);
              }));
    EXPECT_EQ(required, size);
    EXPECT_EQ(c.pages, lam->AdapterPageCount);
    EXPECT_EQ(c.offset % 4096, fbo);
    // Nothing beyond the required size was written.
    EXPECT_EQ(storage_bytes - required,
              first_mismatch(bytes + required, storage_bytes - required, 0xCD));
    a->Dispatch->NdkReleaseLAM(a, lam);
  }
}

TEST_P(MemoryModel, build_lam_pages_are_aligned_and_not_logically_contiguous) {
  AdapterFixture adapter(GetParam());
  ASSERT_NE(nullptr, adapter.get());
  Buffer buffer(6 * 4096);
  MDL mdl{};
  SoftNdkInitializeMdl(&mdl, buffer.data() + 300, 4 * 4096 + 500);
  Lam lam(adapter.get(), &mdl, 4 * 4096 + 500);
  ASSERT_NT(STATUS_BUFFER_TOO_SMALL, lam.size_status());
  ASSERT_NT(STATUS_SUCCESS, lam.status());
  EXPECT_EQ(300u, lam.fbo());
  ASSERT_EQ(5u, lam.pages());
  std::set<int64_t> distinct;
  for (ULONG i = 0; i < lam.pages(); ++i) {
    EXPECT_EQ(0, lam.page(i) % 4096) << "page " << i << " not PAGE_SIZE aligned";
    EXPECT_TRUE(distinct.insert(lam.page(i)).second) << "page " << i << " repeated";
    if (i > 0) {
      EXPECT_NE(lam.page(i - 1) + 4096, lam.page(i))
          << "pages " << i - 1 << " and " << i << " are logically contiguous";
    }
  }
}

TEST_P(MemoryModel, build_lam_rejects_non_contiguous_mdl_chain) {
  AdapterFixture adapter(GetParam());
  ASSERT_NE(nullptr, adapter.get());
  Buffer buffer(4 * 4096);
  MDL first{}, second{};
  SoftNdkInitializeMdl(&first, buffer.data(), 4096);
  SoftNdkInitializeMdl(&second, buffer.data() + 8192, 4096);
  first.Next = &second;
  NDK_ADAPTER* a = adapter.get();
  std::vector<uint64_t> storage(16, 0);
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(storage.data());
  ULONG size = static_cast<ULONG>(storage.size() * 8), fbo = 0;
  NTSTATUS s = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* rc) {
    return a->Dispatch->NdkBuildLAM(a, &first, 8192, cb, rc, lam, &size, &fbo);
  });
  EXPECT_NT(STATUS_INVALID_PARAMETER, s);
  if (s == STATUS_SUCCESS) a->Dispatch->NdkReleaseLAM(a, lam);
  // A contiguous chain of two elements over the same length works.
  MDL c1{}, c2{};
  SoftNdkInitializeMdl(&c1, buffer.data() + 10, 5000);
  SoftNdkInitializeMdl(&c2, buffer.data() + 5010, 3192);
  c1.Next = &c2;
  Lam ok(a, &c1, 8192);
  EXPECT_NT(STATUS_SUCCESS, ok.status());
  if (ok.status() == STATUS_SUCCESS) {
    EXPECT_EQ(3u, ok.pages());
  }
}

TEST_P(MemoryModel, release_lam_leaves_mdl_chain_unchanged) {
  AdapterFixture adapter(GetParam());
  ASSERT_NE(nullptr, adapter.get());
  Buffer buffer(4 * 4096);
  MDL m1{}, m2{};
  SoftNdkInitializeMdl(&m1, buffer.data() + 700, 3000);
  SoftNdkInitializeMdl(&m2, buffer.data() + 3700, 6000);
  m1.Next = &m2;
  const MDL before1 = m1, before2 = m2;
  auto same = [](const MDL& x, const MDL& y) {
    return x.Next == y.Next && x.StartVa == y.StartVa && x.ByteCount == y.ByteCount &&
           x.ByteOffset == y.ByteOffset && x.MdlFlags == y.MdlFlags;
  };
  {
    Lam lam(adapter.get(), &m1, 9000);
    ASSERT_NT(STATUS_SUCCESS, lam.status());
    lam.release();
  }
  EXPECT_TRUE(same(before1, m1));
  EXPECT_TRUE(same(before2, m2));
  // The same chain maps again after the release.
  Lam again(adapter.get(), &m1, 9000);
  EXPECT_NT(STATUS_SUCCESS, again.status());
  if (again.status() == STATUS_SUCCESS) {
    EXPECT_EQ(700u, again.fbo());
    EXPECT_EQ(3u, again.pages());
  }
}

// ---------------------------------------------------------------------------------------------
// Fast registration

TEST_P(MemoryModel, initialize_fast_register_mr_makes_tokens_available) {
  PdCqFixture node(GetParam());
  ASSERT_TRUE(node.ok());
  for (bool remote : {false, true}) {
    MrHandle mr(node.pd, true);
    ASSERT_NT(STATUS_SUCCESS, mr.create_status);
    ASSERT_NT(STATUS_SUCCESS, mr.initialize_fast(node.info().FRMRPageCount, remote));
    EXPECT_NE(0u, mr.local_token());
    EXPECT_NE(0u, mr.remote_token());
    EXPECT_NE(privileged_token(node.pd), mr.local_token());
  }
}

TEST_P(MemoryModel, fast_register_maps_lam_pages_for_remote_write_and_read) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  // Region [300, 300 + 12788) of a 5-page buffer: FBO 300, 4 adapter pages.
  const size_t length = 3 * 4096 + 500;
  FastRegion fr(mp.passive, mp.passive.pd, 5 * 4096, 300, length, 4, true);
  ASSERT_TRUE(fr.ok());
  ASSERT_EQ(300u, fr.lam->fbo());
  ASSERT_EQ(4u, fr.lam->pages());
  const uint64_t base = kFrBase + fr.lam->fbo();  // ≡ FBO (mod PAGE_SIZE)
  NTSTATUS s = fr.post(mp.passive.qp, ctx(0xF1), kFrRemoteRw, base);
  const UINT32 token = fr.token;  // read right after NdkFastRegister returned
  ASSERT_TRUE(succeeds(mp.passive, s, NdkOperationTypeFastRegister, ctx(0xF1)));
  EXPECT_NE(0u, token);

  // A write crossing every page boundary of the region lands in the right host bytes.
  fill_pattern(mp.active_buffer->data(), 10000, 5);
  NDK_SGE sge = mp.active_buffer->sge(0, 10000);
  ASSERT_TRUE(completed_with(rdma_write(mp.active, &sge, 1, base + 1000, token, ctx(1)),
                             STATUS_SUCCESS, NdkOperationTypeWrite, ctx(1)));
  ASSERT_TRUE(mp.fence_writes());
  EXPECT_EQ(10000u, pattern_mismatch(fr.host(1000), 10000, 5));
  EXPECT_EQ(300u + 1000, first_mismatch(fr.buffer.data(), 1300, 0x3C));
  const size_t tail = 5 * 4096 - 11300;
  EXPECT_EQ(tail, first_mismatch(fr.buffer.data() + 11300, tail, 0x3C));

  // A small write in the last partial page, at the very end of the region.
  std::memset(mp.active_buffer->data(), 0x9D, 16);
  NDK_SGE last = mp.active_buffer->sge(0, 16);
  ASSERT_TRUE(completed_with(
      rdma_write(mp.active, &last, 1, base + length - 16, token, ctx(2)), STATUS_SUCCESS,
      NdkOperationTypeWrite, ctx(2)));
  ASSERT_TRUE(mp.fence_writes());
  EXPECT_EQ(16u, first_mismatch(fr.host(length - 16), 16, 0x9D));

  // Read the whole region back.
  for (size_t i = 0; i < length; ++i) fr.host()[i] = pattern_byte(i, 9);
  std::memset(mp.active_buffer->data(), 0, length);
  NDK_SGE all = mp.active_buffer->sge(0, static_cast<ULONG>(length));
  ASSERT_TRUE(completed_with(rdma_read(mp.active, &all, 1, base, token, ctx(3)),
                             STATUS_SUCCESS, NdkOperationTypeRead, ctx(3)));
  EXPECT_EQ(length, pattern_mismatch(mp.active_buffer->data(), length, 9));
  EXPECT_EQ(0, mp.active.disconnects.count.load());
}

TEST_P(MemoryModel, fast_register_rejects_page_count_above_initialized_maximum) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  // The LAM has 4 pages, the MR was initialized for 3.
  FastRegion fr(mp.passive, mp.passive.pd, 5 * 4096, 300, 3 * 4096 + 500, 3,
                true);
  ASSERT_TRUE(fr.ok());
  ASSERT_EQ(4u, fr.lam->pages());
  EXPECT_NT(STATUS_INVALID_PARAMETER,
            fr.post(mp.passive.qp, ctx(1), kFrRemoteRw, kFrBase + fr.lam->fbo()));
  EXPECT_TRUE(stays_empty(mp.passive.cq)) << "an inline failure produced a completion";
  // Three pages (within the maximum) are accepted.
  NTSTATUS s = fr.post(mp.passive.qp, ctx(2), kFrRemoteRw, kFrBase + fr.lam->fbo(), 3,
                       3 * 4096 - fr.lam->fbo());
  EXPECT_TRUE(succeeds(mp.passive, s, NdkOperationTypeFastRegister, ctx(2)));
}

TEST_P(MemoryModel, fast_register_rejects_length_beyond_pages_or_misaligned_base) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  // 2 pages with FBO 300: at most 2 * 4096 - 300 bytes.
  FastRegion fr(mp.passive, mp.passive.pd, 3 * 4096, 300, 5000, 2, true);
  ASSERT_TRUE(fr.ok());
  ASSERT_EQ(300u, fr.lam->fbo());
  ASSERT_EQ(2u, fr.lam->pages());
  NDK_QP* qp = mp.passive.qp;
  EXPECT_NT(STATUS_INVALID_PARAMETER,
            fr.post(qp, ctx(1), kFrRemoteRw, kFrBase + 300, 2, 2 * 4096 - 300 + 1));
  // BaseVirtualAddress must be ≡ FBO (mod PAGE_SIZE).
  for (uint64_t base : {kFrBase, kFrBase + 301, kFrBase + 4096 + 299}) {
    SCOPED_TRACE("base " + hex(base));
    EXPECT_NT(STATUS_INVALID_PARAMETER, fr.post(qp, ctx(2), kFrRemoteRw, base));
  }
  EXPECT_TRUE(stays_empty(mp.passive.cq)) << "an inline failure produced a completion";
  // The largest legal length at a legal base works.
  NTSTATUS s = fr.post(qp, ctx(3), kFrRemoteRw, kFrBase + 4096 + 300, 2, 2 * 4096 - 300);
  EXPECT_TRUE(succeeds(mp.passive, s, NdkOperationTypeFastRegister, ctx(3)));
}

TEST_P(MemoryModel, fast_register_remote_access_on_local_only_mr_is_access_violation) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  FastRegion fr(mp.passive, mp.passive.pd, 2 * 4096, 0, 8192, 2, false);
  ASSERT_TRUE(fr.ok());
  for (ULONG flags : {ULONG{NDK_OP_FLAG_ALLOW_REMOTE_READ}, ULONG{NDK_OP_FLAG_ALLOW_REMOTE_WRITE},
                      kFrRemoteRw}) {
    SCOPED_TRACE("flags " + hex(flags));
    EXPECT_NT(STATUS_ACCESS_VIOLATION, fr.post(mp.passive.qp, ctx(1), flags, kFrBase));
  }
  EXPECT_TRUE(stays_empty(mp.passive.cq)) << "an inline failure produced a completion";
  // Local rights only are fine.
  NTSTATUS s = fr.post(mp.passive.qp, ctx(2), NDK_OP_FLAG_ALLOW_LOCAL_WRITE, kFrBase);
  EXPECT_TRUE(succeeds(mp.passive, s, NdkOperationTypeFastRegister, ctx(2)));
}

TEST_P(MemoryModel, fast_register_of_valid_mr_completes_invalid_device_state_and_qp_stays_usable) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  Region other(mp.passive.pd, 4096, kRemoteRw, 0x11);
  ASSERT_NT(STATUS_SUCCESS, other.status());
  FastRegion fr(mp.passive, mp.passive.pd, 3 * 4096, 0, 2 * 4096, 2, true);
  ASSERT_TRUE(fr.ok());
  NDK_QP* qp = mp.passive.qp;
  ASSERT_TRUE(succeeds(mp.passive, fr.post(qp, ctx(1), kFrRemoteRw, kFrBase),
                       NdkOperationTypeFastRegister, ctx(1)));
  Outcome again = finish(mp.passive.cq, fr.post(qp, ctx(2), kFrRemoteRw, kFrBase + 8192));
  EXPECT_TRUE(completed_with(again, STATUS_INVALID_DEVICE_STATE, NdkOperationTypeFastRegister,
                             ctx(2)));
  // The QP and its connection are still usable.
  EXPECT_TRUE(stays_empty(mp.passive.cq));
  EXPECT_EQ(0, mp.passive.disconnects.count.load());
  EXPECT_EQ(0, mp.active.disconnects.count.load());
  std::memset(mp.active_buffer->data(), 0x42, 100);
  NDK_SGE sge = mp.active_buffer->sge(0, 100);
  EXPECT_TRUE(completed_with(rdma_write(mp.active, &sge, 1, other.address(), other.remote_token(),
                                        ctx(3)),
                             STATUS_SUCCESS, NdkOperationTypeWrite, ctx(3)));
  ASSERT_TRUE(mp.fence_writes());
  EXPECT_EQ(100u, first_mismatch(other.data(), 100, 0x42));
  // Invalidate, then a fresh fast-register works and its token reaches the pages.
  EXPECT_TRUE(succeeds(mp.passive, qp->Dispatch->NdkInvalidate(qp, ctx(4), fr.mr.header(), 0),
                       NdkOperationTypeInvalidate, ctx(4)));
  ASSERT_TRUE(succeeds(mp.passive, fr.post(qp, ctx(5), kFrRemoteRw, kFrBase),
                       NdkOperationTypeFastRegister, ctx(5)));
  EXPECT_TRUE(completed_with(rdma_write(mp.active, &sge, 1, kFrBase + 4000, fr.token, ctx(6)),
                             STATUS_SUCCESS, NdkOperationTypeWrite, ctx(6)));
  ASSERT_TRUE(mp.fence_writes());
  EXPECT_EQ(100u, first_mismatch(fr.host(4000), 100, 0x42));
}

TEST_P(MemoryModel, invalidate_fast_registered_mr_revokes_its_token) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  FastRegion fr(mp.passive, mp.passive.pd, 2 * 4096, 0, 8192, 2, true);
  ASSERT_TRUE(fr.ok());
  NDK_QP* qp = mp.passive.qp;
  ASSERT_TRUE(succeeds(mp.passive, fr.post(qp, ctx(1), kFrRemoteRw, kFrBase),
                       NdkOperationTypeFastRegister, ctx(1)));
  const UINT32 token = fr.token;
  ASSERT_TRUE(write_and_fence(mp, 0x42, 64, kFrBase, token, ctx(2)));
  EXPECT_EQ(64u, first_mismatch(fr.host(), 64, 0x42));
  ASSERT_TRUE(succeeds(mp.passive, qp->Dispatch->NdkInvalidate(qp, ctx(3), fr.mr.header(), 0),
                       NdkOperationTypeInvalidate, ctx(3)));
  // Refused (Microsoft's NDKPI reference).
  expect_refused(mp, true, kFrBase + 64, 64, token, {STATUS_ACCESS_VIOLATION},
                 [&] { return still_filled(fr.host(64), 8192 - 64, 0x3C); });
}

TEST_P(MemoryModel, invalidate_of_invalid_mr_completes_invalid_device_state_and_qp_stays_usable) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  FastRegion fr(mp.passive, mp.passive.pd, 2 * 4096, 0, 8192, 2, true);
  ASSERT_TRUE(fr.ok());
  NDK_QP* qp = mp.passive.qp;
  auto invalidate = [&](uintptr_t c) {
    return finish(mp.passive.cq, qp->Dispatch->NdkInvalidate(qp, ctx(c), fr.mr.header(), 0));
  };
  // Initialized but never registered.
  EXPECT_TRUE(completed_with(invalidate(1), STATUS_INVALID_DEVICE_STATE,
                             NdkOperationTypeInvalidate, ctx(1)));
  ASSERT_TRUE(succeeds(mp.passive, fr.post(qp, ctx(2), kFrRemoteRw, kFrBase),
                       NdkOperationTypeFastRegister, ctx(2)));
  EXPECT_TRUE(completed_with(invalidate(3), STATUS_SUCCESS, NdkOperationTypeInvalidate, ctx(3)));
  // Already invalidated.
  EXPECT_TRUE(completed_with(invalidate(4), STATUS_INVALID_DEVICE_STATE,
                             NdkOperationTypeInvalidate, ctx(4)));
  // The QP stays usable: register again and take a remote write through the new token.
  EXPECT_EQ(0, mp.passive.disconnects.count.load());
  ASSERT_TRUE(succeeds(mp.passive, fr.post(qp, ctx(5), kFrRemoteRw, kFrBase),
                       NdkOperationTypeFastRegister, ctx(5)));
  std::memset(mp.active_buffer->data(), 0x42, 64);
  NDK_SGE sge = mp.active_buffer->sge(0, 64);
  EXPECT_TRUE(completed_with(rdma_write(mp.active, &sge, 1, kFrBase + 100, fr.token, ctx(6)),
                             STATUS_SUCCESS, NdkOperationTypeWrite, ctx(6)));
  ASSERT_TRUE(mp.fence_writes());
  EXPECT_EQ(64u, first_mismatch(fr.host(100), 64, 0x42));
  EXPECT_EQ(0, mp.active.disconnects.count.load());
}

TEST_P(MemoryModel, each_fast_register_issues_a_new_token) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  FastRegion fr(mp.passive, mp.passive.pd, 2 * 4096, 0, 8192, 2, true);
  ASSERT_TRUE(fr.ok());
  NDK_QP* qp = mp.passive.qp;
  // Keys are random with a new one per registration: each token differs from the previous
  // registration's (an older one may recur by chance, so only neighbours are compared).
  UINT32 previous = 0;
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_TRUE(succeeds(mp.passive, fr.post(qp, ctx(10 + round), kFrRemoteRw, kFrBase),
                         NdkOperationTypeFastRegister, ctx(10 + round)));
    EXPECT_NE(0u, fr.token);
    EXPECT_NE(previous, fr.token) << "fast-register reused the previous token " << hex(fr.token);
    previous = fr.token;
    // Fenced: placed before the invalidate below (which would otherwise race the write on
    // iWARP).
    ASSERT_TRUE(write_and_fence(mp, static_cast<unsigned char>(0x10 + round), 32,
                                kFrBase + 32 * round, fr.token, ctx(20 + round)));
    EXPECT_EQ(32u, first_mismatch(fr.host(32 * round), 32, static_cast<unsigned char>(0x10 + round)));
    ASSERT_TRUE(succeeds(mp.passive,
                         qp->Dispatch->NdkInvalidate(qp, ctx(30 + round), fr.mr.header(), 0),
                         NdkOperationTypeInvalidate, ctx(30 + round)));
  }
}

// ---------------------------------------------------------------------------------------------
// Privileged token

TEST_P(MemoryModel, privileged_token_sges_with_lam_addresses_send_and_receive) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect({.receives = 0}));
  const size_t length = 9000;
  // Receiver: bytes [1000, 10000) of a 4-page buffer, one SGE per LAM page piece.
  Buffer rbuf(4 * 4096, 0x00);
  MDL rmdl{};
  SoftNdkInitializeMdl(&rmdl, rbuf.data() + 1000, length);
  Lam rlam(mp.passive.get(), &rmdl, length);
  ASSERT_NT(STATUS_SUCCESS, rlam.status());
  std::vector<NDK_SGE> rsges = rlam.sges(0, length, privileged_token(mp.passive.pd));
  ASSERT_EQ(3u, rsges.size());
  ASSERT_NT(STATUS_SUCCESS, mp.passive.q()->NdkReceive(mp.passive.qp, ctx(0xAA),
                                                            rsges.data(), 3));
  // Sender: bytes [3000, 12000) of another buffer, through its own LAM.
  Buffer sbuf(4 * 4096, 0x00);
  fill_pattern(sbuf.data() + 3000, length, 3);
  MDL smdl{};
  SoftNdkInitializeMdl(&smdl, sbuf.data() + 3000, length);
  Lam slam(mp.active.get(), &smdl, length);
  ASSERT_NT(STATUS_SUCCESS, slam.status());
  std::vector<NDK_SGE> ssges = slam.sges(0, length, privileged_token(mp.active.pd));
  ASSERT_EQ(3u, ssges.size());
  EXPECT_TRUE(succeeds(mp.active,
                       mp.active.q()->NdkSend(mp.active.qp, ctx(0xBB), ssges.data(), 3, 0),
                       NdkOperationTypeSend, ctx(0xBB)));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(mp.passive.cq.next(&r));
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(NdkOperationTypeReceive, r.Type);
  EXPECT_EQ(ctx(0xAA), r.RequestContext);
  EXPECT_EQ(length, r.BytesTransferred);
  EXPECT_EQ(length, pattern_mismatch(rbuf.data() + 1000, length, 3));
  EXPECT_EQ(1000u, first_mismatch(rbuf.data(), 1000, 0));
  EXPECT_EQ(4 * 4096u - 10000, first_mismatch(rbuf.data() + 10000, 4 * 4096 - 10000, 0));
}

TEST_P(MemoryModel, privileged_token_sge_spanning_two_lam_pages_needs_one_sge_per_page) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect({.receives = 0}));
  // 5000 bytes from offset 3000: 1096 bytes in the first page, 3904 in the second.
  const size_t length = 5000;
  Buffer rbuf(3 * 4096, 0x00);
  MDL rmdl{};
  SoftNdkInitializeMdl(&rmdl, rbuf.data() + 3000, length);
  Lam rlam(mp.passive.get(), &rmdl, length);
  ASSERT_NT(STATUS_SUCCESS, rlam.status());
  ASSERT_EQ(2u, rlam.pages());
  std::vector<NDK_SGE> rsges = rlam.sges(0, length, privileged_token(mp.passive.pd));
  ASSERT_EQ(2u, rsges.size());
  EXPECT_EQ(1096u, rsges[0].Length);
  EXPECT_EQ(3904u, rsges[1].Length);
  ASSERT_NT(STATUS_SUCCESS, mp.passive.q()->NdkReceive(mp.passive.qp, ctx(0xAA),
                                                            rsges.data(), 2));
  fill_pattern(mp.active_buffer->data(), length, 4);
  NDK_SGE sge = mp.active_buffer->sge(0, length);
  EXPECT_TRUE(succeeds(mp.active,
                       mp.active.q()->NdkSend(mp.active.qp, ctx(0xBB), &sge, 1, 0),
                       NdkOperationTypeSend, ctx(0xBB)));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(mp.passive.cq.next(&r));
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(length, r.BytesTransferred);
  EXPECT_EQ(length, pattern_mismatch(rbuf.data() + 3000, length, 4));
  EXPECT_EQ(3000u, first_mismatch(rbuf.data(), 3000, 0));
  EXPECT_EQ(3 * 4096u - 8000, first_mismatch(rbuf.data() + 8000, 3 * 4096 - 8000, 0));
}

// The privileged token grants local access only: a peer naming it fails like any bad token.
void check_privileged_token_refused_remotely(const std::string& uri, bool write) {
  MemoryPairFixture mp(uri);
  ASSERT_TRUE(mp.connect());
  Buffer target(2 * 4096, 0x11);
  MDL mdl{};
  SoftNdkInitializeMdl(&mdl, target.data(), 2 * 4096);
  Lam lam(mp.passive.get(), &mdl, 2 * 4096);
  ASSERT_NT(STATUS_SUCCESS, lam.status());
  const UINT32 token = privileged_token(mp.passive.pd);
  // the NDKPI reference; a write may have completed locally first on iWARP (RFC 5040).
  expect_refused(mp, write, lam.page(0) + 16, 256, token, {STATUS_ACCESS_VIOLATION},
                 [&] { return still_filled(target.data(), 2 * 4096, 0x11); });
}

TEST_P(MemoryModel, privileged_token_is_refused_for_remote_write) {
  check_privileged_token_refused_remotely(GetParam(), true);
}

TEST_P(MemoryModel, privileged_token_is_refused_for_remote_read) {
  check_privileged_token_refused_remotely(GetParam(), false);
}

TEST_P(MemoryModel, privileged_token_lam_sink_takes_rdma_read_when_sink_right_not_required) {
  MemoryPairFixture mp(with_option(GetParam(), "read_sink_not_required=1"));
  ASSERT_TRUE(mp.connect());
  if (!mp.active.has(NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED))
    GTEST_SKIP() << "adapter does not report NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED";
  NDKTEST_REQUIRE(2, mp.active.info().MaxReadRequestSge);  // the LAM's two pages
  Region source(mp.passive.pd, 8192, NDK_MR_FLAG_ALLOW_REMOTE_READ);
  ASSERT_NT(STATUS_SUCCESS, source.status());
  fill_pattern(source.data(), 5000, 8);
  Buffer sink(3 * 4096, 0x00);
  MDL mdl{};
  SoftNdkInitializeMdl(&mdl, sink.data() + 2500, 5000);
  Lam lam(mp.active.get(), &mdl, 5000);
  ASSERT_NT(STATUS_SUCCESS, lam.status());
  std::vector<NDK_SGE> sges = lam.sges(0, 5000, privileged_token(mp.active.pd));
  ASSERT_EQ(2u, sges.size());
  EXPECT_TRUE(completed_with(rdma_read(mp.active, sges.data(), 2, source.address(),
                                       source.remote_token(), ctx(1)),
                             STATUS_SUCCESS, NdkOperationTypeRead, ctx(1)));
  EXPECT_EQ(5000u, pattern_mismatch(sink.data() + 2500, 5000, 8));
  EXPECT_EQ(3 * 4096u - 7500, first_mismatch(sink.data() + 7500, 3 * 4096 - 7500, 0));
  EXPECT_EQ(2500u, first_mismatch(sink.data(), 2500, 0));
}

// ---------------------------------------------------------------------------------------------
// NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE

// Reads 5000 bytes into a fast-registered sink on the active side (flags `read_flags`), then
// invalidates the sink MR locally and returns that invalidate's status.
NTSTATUS read_then_invalidate_sink(MemoryPairFixture& mp, ULONG read_flags) {
  Region source(mp.passive.pd, 8192, NDK_MR_FLAG_ALLOW_REMOTE_READ);
  EXPECT_NT(STATUS_SUCCESS, source.status());
  fill_pattern(source.data(), 5000, 6);
  FastRegion sink(mp.active, mp.active.pd, 3 * 4096, 200, 5000, 2, false);
  EXPECT_TRUE(sink.ok());
  if (!sink.ok()) return STATUS_UNSUCCESSFUL;
  NDK_QP* qp = mp.active.qp;
  const uint64_t base = kFrBase + sink.lam->fbo();
  NTSTATUS s = sink.post(qp, ctx(1), NDK_OP_FLAG_ALLOW_LOCAL_WRITE | NDK_OP_FLAG_RDMA_READ_SINK,
                         base);
  const UINT32 local = sink.mr.local_token();
  EXPECT_TRUE(succeeds(mp.active, s, NdkOperationTypeFastRegister, ctx(1)));
  NDK_SGE sge{};
  sge.VirtualAddress = reinterpret_cast<PVOID>(base);
  sge.Length = 5000;
  sge.MemoryRegionToken = local;
  EXPECT_TRUE(completed_with(rdma_read(mp.active, &sge, 1, source.address(),
                                       source.remote_token(), ctx(2), read_flags),
                             STATUS_SUCCESS, NdkOperationTypeRead, ctx(2)));
  EXPECT_EQ(5000u, pattern_mismatch(sink.host(), 5000, 6));
  Outcome inv = finish(mp.active.cq, qp->Dispatch->NdkInvalidate(qp, ctx(3), sink.mr.header(), 0));
  EXPECT_NT(STATUS_SUCCESS, inv.inline_status);
  EXPECT_EQ(NdkOperationTypeInvalidate, inv.result.Type);
  EXPECT_EQ(ctx(3), inv.result.RequestContext);
  // Either way the QP stays connected.
  EXPECT_EQ(0, mp.passive.disconnects.count.load());
  EXPECT_EQ(0, mp.active.disconnects.count.load());
  return inv.status();
}

TEST_P(MemoryModel, read_with_local_invalidate_invalidates_first_sge_fast_registered_mr) {
  MemoryPairFixture mp(GetParam());
  ASSERT_TRUE(mp.connect());
  if (!mp.active.has(NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED))
    GTEST_SKIP() << "adapter lacks NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED";
  // Control: without the flag the sink stays registered, so the local invalidate succeeds.
  EXPECT_NT(STATUS_SUCCESS, read_then_invalidate_sink(mp, 0));
  // With the flag the read already invalidated it.
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE,
            read_then_invalidate_sink(mp, NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE));
}

TEST_P(MemoryModel, read_local_invalidate_flag_is_ignored_without_adapter_support) {
  MemoryPairFixture mp(with_option(GetParam(), "read_local_invalidate=0"));
  ASSERT_TRUE(mp.connect());
  if (mp.active.has(NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED))
    GTEST_SKIP() << "cannot turn NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED off";
  EXPECT_NT(STATUS_SUCCESS, read_then_invalidate_sink(mp, NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE));
}

INSTANTIATE_TEST_SUITE_P(Memory, MemoryModel, ::testing::ValuesIn(inline_and_pending_uris()),
                         uri_param_name);

}  // namespace
