// Verifier memory rules (docs/verifier.md): buffers and registrations in use by outstanding
// requests, NdkInvalidate of NdkRegisterMr regions, fast-registers over valid registrations.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "verifier_fixture.h"

namespace vtest {
namespace {

class VerifierMemory : public ::testing::TestWithParam<std::string> {};

TEST_P(VerifierMemory, GatherBufferModifiedWhileTheSendIsOutstanding) {
  Buffer a(4096, 1), b(4096);
  Pair pair(GetParam(), "verify=log,checksum");
  NDK_MR* amr = pair.active.register_mr(a);
  NDK_MR* bmr = pair.passive.register_mr(b);
  ASSERT_TRUE(pair.connect());
  NDK_SGE recv = pair.passive.sge(bmr, b, 0, 4096);
  ASSERT_EQ(pair.passive.qp->Dispatch->NdkReceive(pair.passive.qp, nullptr, &recv, 1), STATUS_SUCCESS);
  NDK_SGE send = pair.active.sge(amr, a, 0, 256);
  ASSERT_EQ(pair.active.qp->Dispatch->NdkSend(pair.active.qp, nullptr, &send, 1, 0), STATUS_SUCCESS);
  a.data[10] = 0x77;  // before the completion was retrieved
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(pair.active.collect(&done, 1));
  EXPECT_TRUE(pair.active.reports->only(SOFTNDK_VERIFY_BUFFER_MODIFIED))
      << pair.active.reports->dump();
}

TEST_P(VerifierMemory, DeregisteringMemoryAnOutstandingReceiveUses) {
  Node n(GetParam(), "verify=strict");
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n.create_qp(), STATUS_SUCCESS);
  Buffer b(4096);
  NDK_MR* mr = n.register_mr(b);
  NDK_SGE sge = n.sge(mr, b, 0, 512);
  ASSERT_EQ(n.qp->Dispatch->NdkReceive(n.qp, nullptr, &sge, 1), STATUS_SUCCESS);
  EXPECT_EQ(mr->Dispatch->NdkDeregisterMr(mr, nullptr, nullptr), STATUS_INVALID_DEVICE_STATE);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_MEMORY_IN_USE)) << n.reports->dump();
  EXPECT_NE(mr->Dispatch->NdkGetLocalTokenFromMr(mr), 0u);  // strict: still registered
  n.close(n.qp);  // the receive is flushed: the memory is free again
  n.reports->clear();
  EXPECT_EQ(mr->Dispatch->NdkDeregisterMr(mr, nullptr, nullptr), STATUS_SUCCESS);
  EXPECT_TRUE(n.reports->all().empty()) << n.reports->dump();
}

TEST_P(VerifierMemory, InvalidateOfAnNdkRegisterMrRegion) {
  Buffer a(4096);
  Pair pair(GetParam());
  NDK_MR* mr = pair.active.register_mr(a);
  ASSERT_TRUE(pair.connect());
  EXPECT_EQ(pair.active.qp->Dispatch->NdkInvalidate(pair.active.qp, nullptr, &mr->Header, 0),
            STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(pair.active.reports->only(SOFTNDK_VERIFY_INVALIDATE_REGISTERED_MR))
      << pair.active.reports->dump();
}

TEST_P(VerifierMemory, FastRegisterOverAValidRegistration) {
  Buffer page(4096);
  Pair pair(GetParam(), "verify=strict");
  ASSERT_TRUE(pair.connect());
  Node& n = pair.active;
  alignas(NDK_LOGICAL_ADDRESS_MAPPING) unsigned char lam_storage[64];
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(lam_storage);
  ULONG lam_size = sizeof lam_storage, fbo = 0;
  ASSERT_EQ(n.adapter->Dispatch->NdkBuildLAM(n.adapter, &page.mdl, 4096, nullptr, nullptr, lam,
                                             &lam_size, &fbo),
            STATUS_SUCCESS);
  NDK_MR* mr = n.fast_mr(1);
  ASSERT_NE(mr, nullptr);
  auto fast_register = [&] {
    return n.qp->Dispatch->NdkFastRegister(n.qp, nullptr, mr, 1, lam->AdapterPageArray, 0, 4096,
                                           nullptr, NDK_OP_FLAG_ALLOW_LOCAL_WRITE);
  };
  ASSERT_EQ(fast_register(), STATUS_SUCCESS);
  EXPECT_TRUE(n.reports->all().empty()) << n.reports->dump();
  // Even strict mode lets it through: the NDKPI's answer is the completion's status.
  EXPECT_EQ(fast_register(), STATUS_SUCCESS);
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_FAST_REGISTER_VALID_MR)) << n.reports->dump();
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(n.collect(&done, 2));
  EXPECT_EQ(done[1].Status, STATUS_INVALID_DEVICE_STATE);
  // Invalidated, it may be registered again.
  n.reports->clear();
  ASSERT_EQ(n.qp->Dispatch->NdkInvalidate(n.qp, nullptr, &mr->Header, 0), STATUS_SUCCESS);
  EXPECT_EQ(fast_register(), STATUS_SUCCESS);
  ASSERT_TRUE(n.collect(&done, 4));
  EXPECT_TRUE(n.reports->all().empty()) << n.reports->dump();
  n.close(mr);
  n.adapter->Dispatch->NdkReleaseLAM(n.adapter, lam);
}

// The SMB Direct pattern: the peer's NdkSendAndInvalidate revokes a fast-registered MR, seen
// through the plain NdkGetCqResults; registering it again raises nothing.
TEST_P(VerifierMemory, RemoteInvalidationMakesTheMrRegistrableAgain) {
  Buffer a(4096), b(4096), page(4096);
  Pair pair(GetParam(), "verify=strict");
  NDK_MR* amr = pair.active.register_mr(a);
  NDK_MR* bmr = pair.passive.register_mr(b);
  ASSERT_TRUE(pair.connect());
  Node& p = pair.passive;
  alignas(NDK_LOGICAL_ADDRESS_MAPPING) unsigned char lam_storage[64];
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(lam_storage);
  ULONG lam_size = sizeof lam_storage, fbo = 0;
  ASSERT_EQ(p.adapter->Dispatch->NdkBuildLAM(p.adapter, &page.mdl, 4096, nullptr, nullptr, lam,
                                             &lam_size, &fbo),
            STATUS_SUCCESS);
  NDK_MR* fmr = p.fast_mr(1);
  ASSERT_NE(fmr, nullptr);
  auto fast_register = [&] {
    return p.qp->Dispatch->NdkFastRegister(p.qp, nullptr, fmr, 1, lam->AdapterPageArray, 0, 4096,
                                           nullptr, NDK_OP_FLAG_ALLOW_REMOTE_WRITE);
  };
  ASSERT_EQ(fast_register(), STATUS_SUCCESS);
  UINT32 token = fmr->Dispatch->NdkGetRemoteTokenFromMr(fmr);
  NDK_SGE recv = p.sge(bmr, b, 0, 4096);
  ASSERT_EQ(p.qp->Dispatch->NdkReceive(p.qp, nullptr, &recv, 1), STATUS_SUCCESS);
  NDK_SGE send = pair.active.sge(amr, a, 0, 64);
  ASSERT_EQ(pair.active.qp->Dispatch->NdkSendAndInvalidate(pair.active.qp, nullptr, &send, 1, 0,
                                                           token),
            STATUS_SUCCESS);
  std::vector<NDK_RESULT> results;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (results.size() < 2 && std::chrono::steady_clock::now() < deadline) {  // FR + receive
    NDK_RESULT r[4];
    ULONG got = p.cq->Dispatch->NdkGetCqResults(p.cq, r, 4);
    results.insert(results.end(), r, r + got);
  }
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(fast_register(), STATUS_SUCCESS);
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(p.collect(&done, 1));
  EXPECT_TRUE(p.reports->all().empty()) << p.reports->dump();
  p.close(fmr);
  p.adapter->Dispatch->NdkReleaseLAM(p.adapter, lam);
}

TEST_P(VerifierMemory, ReleasingALogicalAddressMappingInUse) {
  Node n(GetParam(), "verify=strict");
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n.create_qp(), STATUS_SUCCESS);
  Buffer page(4096);
  alignas(NDK_LOGICAL_ADDRESS_MAPPING) unsigned char lam_storage[64];
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(lam_storage);
  ULONG lam_size = sizeof lam_storage, fbo = 0;
  ASSERT_EQ(n.adapter->Dispatch->NdkBuildLAM(n.adapter, &page.mdl, 4096, nullptr, nullptr, lam,
                                             &lam_size, &fbo),
            STATUS_SUCCESS);
  UINT32 privileged = 0;
  n.pd->Dispatch->NdkGetPrivilegedMemoryRegionToken(n.pd, &privileged);
  NDK_SGE sge{};
  sge.LogicalAddress = lam->AdapterPageArray[0];
  sge.Length = 512;
  sge.MemoryRegionToken = privileged;
  ASSERT_EQ(n.qp->Dispatch->NdkReceive(n.qp, nullptr, &sge, 1), STATUS_SUCCESS);
  n.adapter->Dispatch->NdkReleaseLAM(n.adapter, lam);  // strict: refused, the mapping is kept
  EXPECT_TRUE(n.reports->only(SOFTNDK_VERIFY_MEMORY_IN_USE)) << n.reports->dump();
  EXPECT_NE(lam->AdapterContext, nullptr);
  n.close(n.qp);
  n.reports->clear();
  n.adapter->Dispatch->NdkReleaseLAM(n.adapter, lam);
  EXPECT_TRUE(n.reports->all().empty()) << n.reports->dump();
}

INSTANTIATE_TEST_SUITE_P(Uris, VerifierMemory, ::testing::ValuesIn(uris()),
                         [](const auto& p) { return uri_name(p.param); });

}  // namespace
}  // namespace vtest
