// Adapter profiles (docs/profiles.md) over the public ABI: each profile's NdkQueryAdapterInfo
// report, and every limit it reports enforced exactly: objects and requests at the limit work,
// one beyond fails, per direction (send/receive depth and SGEs, read SGEs, inline size, FRMR
// pages, SRQ support, CQ moderation and resize). URI options override a profile.
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <vector>

#include "verifier_fixture.h"

namespace vtest {
namespace {

struct Case {
  std::string uri;
  SOFTNDK_PROFILE profile;
};

// What gtest prints for a case ("uri profile"), instead of the raw bytes of the structure.
void PrintTo(const Case& c, std::ostream* os) { *os << c.uri << ' ' << c.profile.Name; }

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const std::string& uri : uris()) {
    SOFTNDK_PROFILE p;
    for (ULONG i = 0; SoftNdkGetProfile(i, &p) == STATUS_SUCCESS; ++i) out.push_back({uri, p});
  }
  return out;
}

class Profiles : public ::testing::TestWithParam<Case> {
 protected:
  std::string options() const { return std::string("profile=") + GetParam().profile.Name; }
  const NDK_ADAPTER_INFO& want() const { return GetParam().profile.Info; }
};

TEST(ProfileList, DefaultFirstAndTheFourProviders) {
  std::vector<std::string> names;
  SOFTNDK_PROFILE p;
  for (ULONG i = 0; SoftNdkGetProfile(i, &p) == STATUS_SUCCESS; ++i) names.push_back(p.Name);
  ASSERT_GE(names.size(), 5u);
  EXPECT_EQ(names[0], "softndk");
  for (const char* n : {"mlx5", "chelsio-t6", "intel-e810", "siw"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_EQ(SoftNdkGetProfile(99, &p), STATUS_INVALID_PARAMETER);
  NDK_ADAPTER* a = nullptr;
  EXPECT_EQ(SoftNdkOpenAdapter("loopback?profile=no-such-nic", &a), STATUS_INVALID_PARAMETER);
}

TEST_P(Profiles, ReportsTheProfilesLimits) {
  Node n(GetParam().uri, options());
  ASSERT_TRUE(n.ok());
  const NDK_ADAPTER_INFO& i = n.info;
  EXPECT_EQ(i.VendorId, want().VendorId);
  EXPECT_EQ(i.MaxInitiatorRequestSge, want().MaxInitiatorRequestSge);
  EXPECT_EQ(i.MaxReceiveRequestSge, want().MaxReceiveRequestSge);
  EXPECT_EQ(i.MaxReadRequestSge, want().MaxReadRequestSge);
  EXPECT_EQ(i.MaxInlineDataSize, want().MaxInlineDataSize);
  EXPECT_EQ(i.MaxInboundReadLimit, want().MaxInboundReadLimit);
  EXPECT_EQ(i.MaxOutboundReadLimit, want().MaxOutboundReadLimit);
  EXPECT_EQ(i.MaxReceiveQueueDepth, want().MaxReceiveQueueDepth);
  EXPECT_EQ(i.MaxInitiatorQueueDepth, want().MaxInitiatorQueueDepth);
  EXPECT_EQ(i.MaxSrqDepth, want().MaxSrqDepth);
  EXPECT_EQ(i.MaxCqDepth, want().MaxCqDepth);
  EXPECT_EQ(i.FRMRPageCount, want().FRMRPageCount);
  EXPECT_EQ(i.AdapterFlags, want().AdapterFlags);
  EXPECT_LE(i.MaxCallerData, want().MaxCallerData);  // within what the transport carries
  SOFTNDK_ADAPTER_SETTINGS s;
  ASSERT_EQ(SoftNdkQueryAdapterSettings(n.adapter, &s), STATUS_SUCCESS);
  EXPECT_STREQ(s.Profile, GetParam().profile.Name);
  EXPECT_EQ(s.MaxFastRegisterPages, GetParam().profile.MaxFastRegisterPages);
}

TEST_P(Profiles, QueueDepthsAndSgesPerDirection) {
  Node n(GetParam().uri, options());
  ASSERT_TRUE(n.ok());
  const NDK_ADAPTER_INFO& i = n.info;
  auto create = [&](ULONG rq, ULONG sq, ULONG rsge, ULONG ssge, ULONG inline_bytes) {
    NDK_QP* qp = nullptr;
    NTSTATUS s = n.pd->Dispatch->NdkCreateQp(n.pd, n.cq, n.cq, nullptr, rq, sq, rsge, ssge,
                                             inline_bytes, nullptr, nullptr, &qp);
    if (s == STATUS_SUCCESS) n.close(qp);
    return s;
  };
  ULONG rq = i.MaxReceiveQueueDepth, sq = i.MaxInitiatorQueueDepth;
  EXPECT_EQ(create(rq, 8, 1, 1, 0), STATUS_SUCCESS);
  EXPECT_EQ(create(rq + 1, 8, 1, 1, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(create(8, sq, 1, 1, 0), STATUS_SUCCESS);
  EXPECT_EQ(create(8, sq + 1, 1, 1, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(create(8, 8, i.MaxReceiveRequestSge, i.MaxInitiatorRequestSge, i.MaxInlineDataSize),
            STATUS_SUCCESS);
  EXPECT_EQ(create(8, 8, i.MaxReceiveRequestSge + 1, 1, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(create(8, 8, 1, i.MaxInitiatorRequestSge + 1, 0), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(create(8, 8, 1, 1, i.MaxInlineDataSize + 1), STATUS_INVALID_PARAMETER);
}

TEST_P(Profiles, ReceiveSgesAtPostTime) {
  Node n(GetParam().uri, options());
  ASSERT_TRUE(n.ok());
  ULONG max = n.info.MaxReceiveRequestSge;
  ASSERT_EQ(n.pd->Dispatch->NdkCreateQp(n.pd, n.cq, n.cq, nullptr, 8, 8, max, 1, 0, nullptr,
                                        nullptr, &n.qp),
            STATUS_SUCCESS);
  n.objects.push_back(n.qp);
  std::vector<NDK_SGE> sges(max + 1);
  Buffer b(4096);
  NDK_MR* mr = n.register_mr(b);
  for (ULONG k = 0; k <= max; ++k) sges[k] = n.sge(mr, b, 0, 8);
  EXPECT_EQ(n.qp->Dispatch->NdkReceive(n.qp, nullptr, sges.data(), max), STATUS_SUCCESS);
  EXPECT_EQ(n.qp->Dispatch->NdkReceive(n.qp, nullptr, sges.data(), max + 1),
            STATUS_INVALID_PARAMETER);
}

TEST_P(Profiles, CqSrqAndFastRegisterLimits) {
  Node n(GetParam().uri, options());
  ASSERT_TRUE(n.ok());
  const NDK_ADAPTER_INFO& i = n.info;
  NDK_CQ* cq = nullptr;
  EXPECT_EQ(n.adapter->Dispatch->NdkCreateCq(n.adapter, i.MaxCqDepth + 1, [](void*, NTSTATUS) {},
                                             nullptr, nullptr, nullptr, nullptr, &cq),
            STATUS_INVALID_PARAMETER);
  NDK_SRQ* srq = nullptr;
  NTSTATUS s = n.pd->Dispatch->NdkCreateSrq(n.pd, 8, i.MaxReceiveRequestSge, 0, nullptr, nullptr,
                                            nullptr, nullptr, nullptr, &srq);
  if (i.MaxSrqDepth == 0) {
    EXPECT_EQ(s, STATUS_NOT_SUPPORTED);
  } else {
    EXPECT_EQ(s, STATUS_SUCCESS);
    if (s == STATUS_SUCCESS) n.close(srq);
    EXPECT_EQ(n.pd->Dispatch->NdkCreateSrq(n.pd, i.MaxSrqDepth + 1, 1, 0, nullptr, nullptr,
                                           nullptr, nullptr, nullptr, &srq),
              STATUS_INVALID_PARAMETER);
  }
  ULONG pages = GetParam().profile.MaxFastRegisterPages;
  NDK_MR* mr = n.fast_mr(pages);
  EXPECT_NE(mr, nullptr) << pages << " pages";
  if (mr != nullptr) n.close(mr);
  NDK_MR* over = nullptr;
  ASSERT_EQ(n.pd->Dispatch->NdkCreateMr(n.pd, TRUE, nullptr, nullptr, &over), STATUS_SUCCESS);
  EXPECT_EQ(over->Dispatch->NdkInitializeFastRegisterMr(over, pages + 1, TRUE, nullptr, nullptr),
            STATUS_IMPLEMENTATION_LIMIT);
  over->Dispatch->NdkCloseMr(&over->Header, nullptr, nullptr);
}

TEST_P(Profiles, CqModerationAndResizeFollowTheFlags) {
  Node n(GetParam().uri, options());
  ASSERT_TRUE(n.ok());
  bool moderation = (n.info.AdapterFlags & NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED) != 0;
  bool resize = (n.info.AdapterFlags & NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED) != 0;
  EXPECT_EQ(n.cq->Dispatch->NdkControlCqInterruptModeration(n.cq, 100, 4),
            moderation ? STATUS_SUCCESS : STATUS_NOT_SUPPORTED);
  EXPECT_EQ(n.cq->Dispatch->NdkResizeCq(n.cq, 512, nullptr, nullptr),
            resize ? STATUS_SUCCESS : STATUS_NOT_SUPPORTED);
}

TEST_P(Profiles, ReadSgesAtPostTime) {
  Buffer a(8192), b(8192);
  Pair pair(GetParam().uri, options());
  NDK_MR* amr = pair.active.register_mr(a);
  NDK_MR* bmr = pair.passive.register_mr(b);
  ASSERT_TRUE(pair.connect());
  ULONG max = pair.active.info.MaxReadRequestSge;
  std::vector<NDK_SGE> sges(max + 1);
  for (ULONG k = 0; k <= max; ++k) sges[k] = pair.active.sge(amr, a, 8 * k, 8);
  UINT32 token = bmr->Dispatch->NdkGetRemoteTokenFromMr(bmr);
  uint64_t remote = reinterpret_cast<uintptr_t>(b.data);
  NDK_QP* qp = pair.active.qp;
  EXPECT_EQ(qp->Dispatch->NdkRead(qp, nullptr, sges.data(), max + 1, remote, token, 0),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(qp->Dispatch->NdkRead(qp, nullptr, sges.data(), max, remote, token, 0), STATUS_SUCCESS);
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(pair.active.collect(&done, 1));
  EXPECT_EQ(done[0].Status, STATUS_SUCCESS);
}

// Read limits are capped per direction: the active side has the profile, the passive side
// softndk's own limits (128 each way), both ask for far more.
TEST_P(Profiles, ReadLimitsAreCappedPerDirection) {
  Pair pair(GetParam().uri, options(), "verify=log");
  ASSERT_TRUE(pair.connect(16, 100000));
  const NDK_ADAPTER_INFO& mine = pair.active.info;
  const NDK_ADAPTER_INFO& peer = pair.passive.info;
  EXPECT_EQ(pair.effective_inbound, std::min(mine.MaxInboundReadLimit, peer.MaxOutboundReadLimit));
  EXPECT_EQ(pair.effective_outbound,
            std::min(mine.MaxOutboundReadLimit, peer.MaxInboundReadLimit));
}

TEST_P(Profiles, UriOptionsOverrideTheProfile) {
  Node n(GetParam().uri, options() + "&max_send_sge=3&max_rq_depth=100&cq_resize=1");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.info.MaxInitiatorRequestSge, 3u);
  EXPECT_EQ(n.info.MaxReceiveQueueDepth, 100u);
  EXPECT_EQ(n.info.MaxReceiveRequestSge, want().MaxReceiveRequestSge);
  EXPECT_NE(n.info.AdapterFlags & NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED, 0u);
}

INSTANTIATE_TEST_SUITE_P(All, Profiles, ::testing::ValuesIn(cases()), [](const auto& p) {
  std::string name = uri_name(p.param.uri) + "_" + p.param.profile.Name;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

}  // namespace
}  // namespace vtest
