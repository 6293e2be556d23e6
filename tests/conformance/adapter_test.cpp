// Adapter conformance (Microsoft's NDKPI reference):
// adapter URIs, version negotiation and the version/type of every object header, the
// NdkQueryAdapterInfo size negotiation, honest and enforced limits, URI option overrides,
// NdkQueryExtension and the completeness of every dispatch table.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "adapter_cq_helpers.h"
#include "ndk_test.h"

namespace {
using namespace ndktest;
using namespace ndktest::acq;

class AdapterTest : public ::testing::TestWithParam<std::string> {};

bool reserved_is_zero(const NDK_OBJECT_HEADER* h) {
  for (PVOID p : h->NdkReserved.rf)
    if (p != nullptr) return false;
  return true;
}

NDK_ADAPTER_INFO query_info(NDK_ADAPTER* a) {
  NDK_ADAPTER_INFO info{};
  ULONG size = sizeof info;
  EXPECT_NT(STATUS_SUCCESS, a->Dispatch->NdkQueryAdapterInfo(a, &info, &size));
  EXPECT_EQ(sizeof(NDK_ADAPTER_INFO), size);
  return info;
}

// ---------------------------------------------------------------------------------------------
// Opening

TEST_P(AdapterTest, open_valid_uris_succeeds_with_adapter_header) {
  for (const std::string& uri :
       {GetParam(), with_option(GetParam(), "pending", "never"),
        with_option(GetParam(), "pending", "random"), with_option(GetParam(), "seed", "7"),
        with_option(with_option(GetParam(), "max_cq_depth", "64"), "cq_resize", "0")}) {
    SCOPED_TRACE(uri);
    NDK_ADAPTER* a = nullptr;
    ASSERT_NT(STATUS_SUCCESS, SoftNdkOpenAdapter(uri.c_str(), &a));
    ASSERT_NE(nullptr, a);
    EXPECT_EQ(NdkObjectTypeAdapter, a->Header.ObjectType);
    EXPECT_EQ(2, a->Header.Version.Major);
    EXPECT_EQ(1, a->Header.Version.Minor);
    EXPECT_TRUE(reserved_is_zero(&a->Header));
    EXPECT_NE(nullptr, a->Dispatch);
    SoftNdkCloseAdapter(a);
  }
}

TEST_P(AdapterTest, open_malformed_uri_returns_invalid_parameter) {
  const char* malformed[] = {
      "",
      "?",
      "loopback?",
      "loopback?x",
      "loopback?=1",
      "loopback?&",
      "loopback?seed=1&",
      "loopback?&seed=1",
      "loopback?seed=1&&pending=never",
      "loopback?seed=1&seed=1",
      "loopback?pending=never&seed=2&pending=always",
      "LOOPBACK",
      "Loopback",
      "loop back",
      "loopback://",
      "://127.0.0.1",
      "loopback://127.0.0.1",
  };
  for (const char* uri : malformed) {
    SCOPED_TRACE(std::string("uri \"") + uri + "\"");
    auto* sentinel = reinterpret_cast<NDK_ADAPTER*>(uintptr_t{0x5A5A5A50});
    NDK_ADAPTER* a = sentinel;
    EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter(uri, &a));
    EXPECT_EQ(sentinel, a) << "the out parameter must stay untouched on failure";
    a = sentinel;
    EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapterEx(uri, NDK_VERSION{1, 2}, &a));
    EXPECT_EQ(sentinel, a);
  }
}

TEST_P(AdapterTest, open_null_arguments_return_invalid_parameter) {
  NDK_ADAPTER* a = nullptr;
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter(nullptr, &a));
  EXPECT_EQ(nullptr, a);
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter(GetParam().c_str(), nullptr));
  EXPECT_NT(STATUS_INVALID_PARAMETER,
            SoftNdkOpenAdapterEx(GetParam().c_str(), NDK_VERSION{2, 1}, nullptr));
  SoftNdkCloseAdapter(nullptr);  // documented as ignored
}

TEST_P(AdapterTest, open_unknown_scheme_returns_not_supported) {
  for (const char* uri : {"nosuchscheme", "x9", "nosuchscheme://10.0.0.1:80",
                          "nosuchscheme://[::1]", "nosuchscheme?key=value"}) {
    SCOPED_TRACE(uri);
    auto* sentinel = reinterpret_cast<NDK_ADAPTER*>(uintptr_t{0x5A5A5A50});
    NDK_ADAPTER* a = sentinel;
    EXPECT_NT(STATUS_NOT_SUPPORTED, SoftNdkOpenAdapter(uri, &a));
    EXPECT_EQ(sentinel, a);
  }
}

TEST_P(AdapterTest, open_unknown_option_or_bad_value_returns_invalid_parameter) {
  const std::pair<const char*, const char*> bad[] = {
      {"nosuchoption", "1"},
      {"Pending", "always"},  // keys are case-sensitive
      {"max_cq_depth", ""},
      {"max_cq_depth", "abc"},
      {"max_cq_depth", "0"},
      {"max_cq_depth", "-1"},
      {"max_cq_depth", "12x"},
      {"max_cq_depth", "99999999999999999999999"},
      {"pending", "sometimes"},
      {"pending", "ALWAYS"},
      {"cq_resize", "2"},
      {"cq_moderation", "yes"},
      {"frmr_pages", "15"},  // FRMRPageCount must be at least 16
      {"max_sge", "0"},
      {"addr", "not-an-address"},
  };
  for (auto [key, value] : bad) {
    std::string uri = with_option(GetParam(), key, value);
    SCOPED_TRACE(uri);
    auto* sentinel = reinterpret_cast<NDK_ADAPTER*>(uintptr_t{0x5A5A5A50});
    NDK_ADAPTER* a = sentinel;
    EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter(uri.c_str(), &a));
    EXPECT_EQ(sentinel, a);
  }
}

// ---------------------------------------------------------------------------------------------
// Version negotiation (1.6, 5)

TEST_P(AdapterTest, version_negotiation_answers_highest_minor_and_every_header_carries_it) {
  struct Case {
    NDK_VERSION requested;
    NTSTATUS status;
    NDK_VERSION negotiated;
  };
  const Case cases[] = {
      {{1, 0}, STATUS_SUCCESS, {1, 2}},          {{1, 1}, STATUS_SUCCESS, {1, 2}},
      {{1, 2}, STATUS_SUCCESS, {1, 2}},          {{2, 0}, STATUS_SUCCESS, {2, 1}},
      {{2, 1}, STATUS_SUCCESS, {2, 1}},          {{1, 3}, NDIS_STATUS_BAD_VERSION, {}},
      {{2, 2}, NDIS_STATUS_BAD_VERSION, {}},     {{3, 0}, NDIS_STATUS_BAD_VERSION, {}},
      {{0, 0}, NDIS_STATUS_BAD_VERSION, {}},     {{1, 0xFFFF}, NDIS_STATUS_BAD_VERSION, {}},
      {{0xFFFF, 0}, NDIS_STATUS_BAD_VERSION, {}},
  };
  AdapterFixture probe(GetParam());  // only for the local address of this transport
  ASSERT_NT(STATUS_SUCCESS, probe.open_status());
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "requested " << c.requested.Major << "."
                                      << c.requested.Minor);
    EveryObjectFixture all(GetParam(), c.requested);
    ASSERT_NT(c.status, all.open_status());
    if (c.status != STATUS_SUCCESS) continue;
    ASSERT_NE(nullptr, all.get());
    EXPECT_EQ(c.negotiated.Major, all.get()->Header.Version.Major);
    EXPECT_EQ(c.negotiated.Minor, all.get()->Header.Version.Minor);
    EXPECT_EQ(NdkObjectTypeAdapter, all.get()->Header.ObjectType);
    NDK_ADAPTER_INFO info = query_info(all.get());
    EXPECT_EQ(c.negotiated.Major, info.Version.Major);
    EXPECT_EQ(c.negotiated.Minor, info.Version.Minor);

    ASSERT_TRUE(all.create(probe.local_address()));
    for (auto [header, type] : all.objects()) {
      SCOPED_TRACE(::testing::Message() << "object type " << type);
      EXPECT_EQ(type, header->ObjectType);
      EXPECT_EQ(c.negotiated.Major, header->Version.Major);
      EXPECT_EQ(c.negotiated.Minor, header->Version.Minor);
      EXPECT_TRUE(reserved_is_zero(header));
    }
    EXPECT_TRUE(all.close_all());
  }
}

TEST_P(AdapterTest, open_validates_uri_syntax_before_reporting_bad_version) {
  NDK_ADAPTER* a = nullptr;
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapterEx("loopback?x", NDK_VERSION{3, 0}, &a));
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapterEx("LOOPBACK", NDK_VERSION{1, 3}, &a));
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapterEx(nullptr, NDK_VERSION{9, 9}, &a));
  EXPECT_EQ(nullptr, a);
}

// Regression test for a provider bug fixed earlier (see git history).
TEST_P(AdapterTest, open_validates_uri_options_before_reporting_bad_version) {
  NDK_ADAPTER* a = nullptr;
  EXPECT_NT(STATUS_INVALID_PARAMETER,
            SoftNdkOpenAdapterEx(with_option(GetParam(), "nosuchoption", "1").c_str(),
                                 NDK_VERSION{9, 9}, &a));
  EXPECT_NT(STATUS_INVALID_PARAMETER,
            SoftNdkOpenAdapterEx(with_option(GetParam(), "max_cq_depth", "abc").c_str(),
                                 NDK_VERSION{1, 3}, &a));
  EXPECT_EQ(nullptr, a);
}

TEST_P(AdapterTest, incoming_connector_carries_negotiated_version_and_type) {
  ConnectedPairFixture pair(GetParam());
  ASSERT_TRUE(pair.connect());
  NDK_CONNECTOR* incoming = pair.passive.connector;
  ASSERT_NE(nullptr, incoming);
  EXPECT_EQ(NdkObjectTypeConnector, incoming->Header.ObjectType);
  EXPECT_EQ(2, incoming->Header.Version.Major);
  EXPECT_EQ(1, incoming->Header.Version.Minor);
  EXPECT_TRUE(reserved_is_zero(&incoming->Header));
  ASSERT_NE(nullptr, incoming->Dispatch);
  auto* slots = reinterpret_cast<void* const*>(incoming->Dispatch);
  for (size_t i = 0; i < sizeof(NDK_CONNECTOR_DISPATCH) / sizeof(void*); ++i)
    EXPECT_NE(nullptr, slots[i]) << "connector slot " << i;
}

// ---------------------------------------------------------------------------------------------
// NdkQueryAdapterInfo (2.3.1, 6.43)

TEST_P(AdapterTest, query_adapter_info_negotiates_buffer_size) {
  AdapterFixture adapter(GetParam());
  ASSERT_NT(STATUS_SUCCESS, adapter.open_status());
  NDK_ADAPTER* a = adapter.get();
  auto query = a->Dispatch->NdkQueryAdapterInfo;
  static_assert(sizeof(NDK_ADAPTER_INFO) == 0x68);
  static_assert(offsetof(NDK_ADAPTER_INFO, RdmaTechnology) == 0x60);

  // NULL buffer: a size query.
  ULONG size = 0;
  EXPECT_NT(STATUS_BUFFER_TOO_SMALL, query(a, nullptr, &size));
  EXPECT_EQ(0x68u, size);
  size = 0x68;
  EXPECT_NT(STATUS_BUFFER_TOO_SMALL, query(a, nullptr, &size));
  EXPECT_EQ(0x68u, size);

  // Full structure.
  NDK_ADAPTER_INFO full{};
  size = 0x68;
  ASSERT_NT(STATUS_SUCCESS, query(a, &full, &size));
  EXPECT_EQ(0x68u, size);

  unsigned char buffer[0x100];
  // Too small for either layout: nothing written, the full size reported.
  for (ULONG small : {0u, 1u, 0x20u, 0x5Fu}) {
    SCOPED_TRACE(small);
    std::memset(buffer, 0xCD, sizeof buffer);
    size = small;
    EXPECT_NT(STATUS_BUFFER_TOO_SMALL,
              query(a, reinterpret_cast<NDK_ADAPTER_INFO*>(buffer), &size));
    EXPECT_EQ(0x68u, size);
    for (unsigned char b : buffer) ASSERT_EQ(0xCD, b) << "written although too small";
  }

  // The older layout (everything before RdmaTechnology) for 0x60..0x67 bytes.
  for (ULONG old_size : {0x60u, 0x64u, 0x67u}) {
    SCOPED_TRACE(old_size);
    std::memset(buffer, 0xCD, sizeof buffer);
    size = old_size;
    EXPECT_NT(STATUS_SUCCESS, query(a, reinterpret_cast<NDK_ADAPTER_INFO*>(buffer), &size));
    EXPECT_EQ(0x60u, size);
    EXPECT_EQ(0, std::memcmp(buffer, &full, 0x60));
    for (size_t i = 0x60; i < sizeof buffer; ++i) ASSERT_EQ(0xCD, buffer[i]) << "byte " << i;
  }

  // A larger buffer gets the full structure and nothing beyond it.
  std::memset(buffer, 0xCD, sizeof buffer);
  size = sizeof buffer;
  EXPECT_NT(STATUS_SUCCESS, query(a, reinterpret_cast<NDK_ADAPTER_INFO*>(buffer), &size));
  EXPECT_EQ(0x68u, size);
  EXPECT_EQ(0, std::memcmp(buffer, &full, 0x68));
  for (size_t i = 0x68; i < sizeof buffer; ++i) ASSERT_EQ(0xCD, buffer[i]) << "byte " << i;
}

TEST_P(AdapterTest, adapter_info_reports_honest_limits_and_known_flags) {
  AdapterFixture adapter(GetParam());
  ASSERT_NT(STATUS_SUCCESS, adapter.open_status());
  const NDK_ADAPTER_INFO& info = adapter.info();
  EXPECT_EQ(2, info.Version.Major);
  EXPECT_EQ(1, info.Version.Minor);
  EXPECT_GE(info.FRMRPageCount, 16u);
  EXPECT_GE(info.MaxInitiatorRequestSge, 1u);
  EXPECT_GE(info.MaxReceiveRequestSge, 1u);
  EXPECT_GE(info.MaxReadRequestSge, 1u);
  EXPECT_GT(info.MaxTransferLength, 0u);
  EXPECT_GT(info.MaxRegistrationSize, 0u);
  EXPECT_GE(info.MaxInboundReadLimit, 1u);
  EXPECT_GE(info.MaxOutboundReadLimit, 1u);
  EXPECT_GE(info.MaxReceiveQueueDepth, 1u);
  EXPECT_GE(info.MaxInitiatorQueueDepth, 1u);
  EXPECT_GE(info.MaxCqDepth, 1u);
  EXPECT_LT(static_cast<int>(info.RdmaTechnology), static_cast<int>(NdkMaxTechnology));
  constexpr ULONG kKnownFlags =
      NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED | NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED |
      NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED | NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED |
      NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED | NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED |
      NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED;
  EXPECT_EQ(0u, info.AdapterFlags & ~kKnownFlags) << std::hex << info.AdapterFlags;
  // the NDKPI reference: single-host loopback connections are advertised (ConnectedPairFixture
  // relies on them).
  EXPECT_NE(0u, info.AdapterFlags & NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED);
}

// ---------------------------------------------------------------------------------------------
// Limits enforced by the creates (2.3.3, 2.6.3, 2.6.4)

TEST_P(AdapterTest, create_cq_rejects_zero_and_depth_above_max) {
  AdapterFixture adapter(GetParam());
  ASSERT_NT(STATUS_SUCCESS, adapter.open_status());
  Objects objects;
  NDK_CQ*& cq = objects.slot<NDK_CQ>();
  EXPECT_NT(STATUS_INVALID_PARAMETER, create_cq(adapter.get(), 0, &cq));
  EXPECT_EQ(nullptr, cq);
  ULONG max = adapter.info().MaxCqDepth;
  if (max != MAXULONG) {
    EXPECT_NT(STATUS_INVALID_PARAMETER, create_cq(adapter.get(), max + 1, &cq));
    EXPECT_NT(STATUS_INVALID_PARAMETER, create_cq(adapter.get(), MAXULONG, &cq));
    EXPECT_EQ(nullptr, cq);
  }
  ASSERT_NT(STATUS_SUCCESS, create_cq(adapter.get(), 1, &cq));
  EXPECT_TRUE(close_object(cq));
  cq = nullptr;
}

TEST_P(AdapterTest, max_cq_depth_option_is_reported_and_enforced) {
  AdapterFixture adapter(with_option(GetParam(), "max_cq_depth", "8"));
  ASSERT_NT(STATUS_SUCCESS, adapter.open_status());
  Objects objects;
  EXPECT_EQ(8u, adapter.info().MaxCqDepth);
  NDK_CQ*& cq = objects.slot<NDK_CQ>();
  EXPECT_NT(STATUS_INVALID_PARAMETER, create_cq(adapter.get(), 9, &cq));
  EXPECT_EQ(nullptr, cq);
  ASSERT_NT(STATUS_SUCCESS, create_cq(adapter.get(), 8, &cq));
  if (adapter.has(NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED)) {
    EXPECT_NT(STATUS_INVALID_PARAMETER, sync_request([&](NDK_FN_REQUEST_COMPLETION c, void* x) {
                return cq->Dispatch->NdkResizeCq(cq, 9, c, x);
              }));
  }
  EXPECT_TRUE(close_object(cq));
  cq = nullptr;
}

TEST_P(AdapterTest, create_qp_rejects_each_size_above_its_limit) {
  std::string uri = with_option(with_option(with_option(GetParam(), "max_qp_depth", "32"),
                                            "max_sge", "4"),
                                "max_inline", "64");
  AdapterFixture adapter(uri);
  ASSERT_NT(STATUS_SUCCESS, adapter.open_status());
  Objects objects;
  const NDK_ADAPTER_INFO& info = adapter.info();
  EXPECT_EQ(32u, info.MaxReceiveQueueDepth);
  EXPECT_EQ(32u, info.MaxInitiatorQueueDepth);
  EXPECT_EQ(4u, info.MaxReceiveRequestSge);
  EXPECT_EQ(4u, info.MaxInitiatorRequestSge);
  EXPECT_EQ(64u, info.MaxInlineDataSize);

  NDK_CQ*& cq = objects.slot<NDK_CQ>();
  NDK_PD*& pd = objects.slot<NDK_PD>();
  ASSERT_NT(STATUS_SUCCESS, create_cq(adapter.get(), 64, &cq));
  ASSERT_NT(STATUS_SUCCESS, create_pd(adapter.get(), &pd));
  const QpSizes at_limit{info.MaxReceiveQueueDepth, info.MaxInitiatorQueueDepth,
                         info.MaxReceiveRequestSge, info.MaxInitiatorRequestSge,
                         info.MaxInlineDataSize};
  NDK_QP* qp = nullptr;
  EXPECT_NT(STATUS_SUCCESS, create_qp(pd, cq, cq, nullptr, at_limit, &qp));
  EXPECT_TRUE(close_object(qp));
  for (int which = 0; which < 5; ++which) {
    SCOPED_TRACE(::testing::Message() << "size #" << which << " above its limit");
    QpSizes s = at_limit;
    ULONG* fields[] = {&s.receive_depth, &s.initiator_depth, &s.receive_sge, &s.initiator_sge,
                       &s.inline_bytes};
    *fields[which] += 1;
    qp = nullptr;
    EXPECT_NT(STATUS_INVALID_PARAMETER, create_qp(pd, cq, cq, nullptr, s, &qp));
    EXPECT_EQ(nullptr, qp);
    if (qp != nullptr) close_object(qp);
    *fields[which] = MAXULONG;
    qp = nullptr;
    EXPECT_NT(STATUS_INVALID_PARAMETER, create_qp(pd, cq, cq, nullptr, s, &qp));
    if (qp != nullptr) close_object(qp);
  }
  EXPECT_TRUE(close_object(pd));
  pd = nullptr;
  EXPECT_TRUE(close_object(cq));
  cq = nullptr;
}

TEST_P(AdapterTest, create_srq_rejects_depth_and_sge_above_limits) {
  std::string uri = with_option(with_option(GetParam(), "max_srq_depth", "32"), "max_sge", "4");
  AdapterFixture adapter(uri);
  ASSERT_NT(STATUS_SUCCESS, adapter.open_status());
  Objects objects;
  const NDK_ADAPTER_INFO& info = adapter.info();
  ASSERT_EQ(32u, info.MaxSrqDepth);
  ASSERT_EQ(4u, info.MaxReceiveRequestSge);
  NDK_PD*& pd = objects.slot<NDK_PD>();
  ASSERT_NT(STATUS_SUCCESS, create_pd(adapter.get(), &pd));
  NDK_SRQ*& srq = objects.slot<NDK_SRQ>();
  EXPECT_NT(STATUS_SUCCESS, create_srq(pd, 32, 4, &srq));
  EXPECT_TRUE(close_object(srq));
  srq = nullptr;
  EXPECT_NT(STATUS_INVALID_PARAMETER, create_srq(pd, 33, 4, &srq));
  EXPECT_NT(STATUS_INVALID_PARAMETER, create_srq(pd, MAXULONG, 4, &srq));
  EXPECT_NT(STATUS_INVALID_PARAMETER, create_srq(pd, 32, 5, &srq));
  EXPECT_NT(STATUS_INVALID_PARAMETER, create_srq(pd, 32, MAXULONG, &srq));
  EXPECT_EQ(nullptr, srq);
  if (srq != nullptr) {
    close_object(srq);
    srq = nullptr;
  }
  EXPECT_TRUE(close_object(pd));
  pd = nullptr;
}

TEST_P(AdapterTest, default_limits_are_enforced_by_creates) {
  AdapterFixture adapter(GetParam());
  ASSERT_NT(STATUS_SUCCESS, adapter.open_status());
  Objects objects;
  const NDK_ADAPTER_INFO& info = adapter.info();
  NDK_CQ*& cq = objects.slot<NDK_CQ>();
  NDK_PD*& pd = objects.slot<NDK_PD>();
  ASSERT_NT(STATUS_SUCCESS, create_cq(adapter.get(), 16, &cq));
  ASSERT_NT(STATUS_SUCCESS, create_pd(adapter.get(), &pd));
  const QpSizes base{4, 4, 1, 1, 0};
  for (int which = 0; which < 5; ++which) {
    QpSizes s = base;
    ULONG* fields[] = {&s.receive_depth, &s.initiator_depth, &s.receive_sge, &s.initiator_sge,
                       &s.inline_bytes};
    ULONG limits[] = {info.MaxReceiveQueueDepth, info.MaxInitiatorQueueDepth,
                      info.MaxReceiveRequestSge, info.MaxInitiatorRequestSge,
                      info.MaxInlineDataSize};
    if (limits[which] == MAXULONG) continue;
    *fields[which] = limits[which] + 1;
    SCOPED_TRACE(::testing::Message() << "size #" << which << " = " << *fields[which]);
    NDK_QP* qp = nullptr;
    EXPECT_NT(STATUS_INVALID_PARAMETER, create_qp(pd, cq, cq, nullptr, s, &qp));
    if (qp != nullptr) close_object(qp);
  }
  if (info.MaxSrqDepth != 0 && info.MaxSrqDepth != MAXULONG) {
    NDK_SRQ*& srq = objects.slot<NDK_SRQ>();
    EXPECT_NT(STATUS_INVALID_PARAMETER, create_srq(pd, info.MaxSrqDepth + 1, 1, &srq));
    if (info.MaxReceiveRequestSge != MAXULONG) {
      EXPECT_NT(STATUS_INVALID_PARAMETER, create_srq(pd, 4, info.MaxReceiveRequestSge + 1, &srq));
    }
    if (srq != nullptr) {
      close_object(srq);
      srq = nullptr;
    }
  }
  EXPECT_TRUE(close_object(pd));
  pd = nullptr;
  EXPECT_TRUE(close_object(cq));
  cq = nullptr;
}

TEST_P(AdapterTest, option_overrides_change_reported_info) {
  {
    AdapterFixture a(with_option(with_option(GetParam(), "cq_resize", "0"), "cq_moderation", "0"));
    ASSERT_NT(STATUS_SUCCESS, a.open_status());
    EXPECT_FALSE(a.has(NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED));
    EXPECT_FALSE(a.has(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED));
  }
  {
    AdapterFixture a(with_option(with_option(GetParam(), "cq_resize", "1"), "cq_moderation", "1"));
    ASSERT_NT(STATUS_SUCCESS, a.open_status());
    EXPECT_TRUE(a.has(NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED));
    EXPECT_TRUE(a.has(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED));
  }
  {
    AdapterFixture a(with_option(GetParam(), "read_sink_not_required", "1"));
    ASSERT_NT(STATUS_SUCCESS, a.open_status());
    EXPECT_TRUE(a.has(NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED));
  }
  {
    AdapterFixture a(
        with_option(with_option(GetParam(), "frmr_pages", "32"), "max_read_limit", "3"));
    ASSERT_NT(STATUS_SUCCESS, a.open_status());
    EXPECT_EQ(32u, a.info().FRMRPageCount);
    EXPECT_EQ(3u, a.info().MaxInboundReadLimit);
    EXPECT_EQ(3u, a.info().MaxOutboundReadLimit);
  }
  {
    // MaxSrqDepth 0 means "no SRQs": the create must fail (any failure, never a success).
    AdapterFixture a(with_option(GetParam(), "max_srq_depth", "0"));
    ASSERT_NT(STATUS_SUCCESS, a.open_status());
    EXPECT_EQ(0u, a.info().MaxSrqDepth);
    Objects objects;
    NDK_PD*& pd = objects.slot<NDK_PD>();
    NDK_SRQ*& srq = objects.slot<NDK_SRQ>();
    ASSERT_NT(STATUS_SUCCESS, create_pd(a.get(), &pd));
    NTSTATUS s = create_srq(pd, 1, 1, &srq);
    EXPECT_FALSE(NT_SUCCESS(s)) << status_name(s);
  }
}

// ---------------------------------------------------------------------------------------------
// NdkQueryExtension (2.2.2) and dispatch tables (1.4)

TEST_P(AdapterTest, query_extension_returns_not_supported_on_every_object_type) {
  EveryObjectFixture all(GetParam());
  ASSERT_NT(STATUS_SUCCESS, all.open_status());
  ASSERT_TRUE(all.create(all.local_address()));
  GUID guids[] = {{0, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}},
                  {0x12345678, 0x9abc, 0xdef0, {1, 2, 3, 4, 5, 6, 7, 8}}};
  NDK_VERSION versions[] = {{1, 0}, {2, 1}};
  for (GUID& g : guids) {
    for (NDK_VERSION v : versions) {
      NDK_EXTENSION_INTERFACE ext{};
      NDK_ADAPTER* a = all.get();
      EXPECT_NT(STATUS_NOT_SUPPORTED, a->Dispatch->NdkQueryExtension(&a->Header, &g, v, &ext));
      for (auto [header, type] : all.objects()) {
        SCOPED_TRACE(::testing::Message() << "object type " << type);
        // Slot 1 of every closable table is NdkQueryExtension.
        auto* table = *reinterpret_cast<NDK_FN_QUERY_EXTENSION_INTERFACE* const*>(
            reinterpret_cast<char*>(header) + sizeof(NDK_OBJECT_HEADER));
        EXPECT_NT(STATUS_NOT_SUPPORTED, table[1](header, &g, v, &ext));
      }
    }
  }
  EXPECT_TRUE(all.close_all());
}

template <class Table>
void expect_all_slots(const Table* table, size_t expected_slots, const char* name) {
  ASSERT_NE(nullptr, table) << name;
  EXPECT_EQ(expected_slots, sizeof(Table) / sizeof(void*)) << name;
  auto* slots = reinterpret_cast<void* const*>(table);
  for (size_t i = 0; i < sizeof(Table) / sizeof(void*); ++i)
    EXPECT_NE(nullptr, slots[i]) << name << " slot " << i;
}

TEST_P(AdapterTest, every_dispatch_slot_of_every_table_is_populated) {
  EveryObjectFixture all(GetParam());
  ASSERT_NT(STATUS_SUCCESS, all.open_status());
  ASSERT_TRUE(all.create(all.local_address()));
  expect_all_slots(all.get()->Dispatch, 9, "adapter");
  expect_all_slots(all.cq->Dispatch, 7, "cq");
  expect_all_slots(all.pd->Dispatch, 8, "pd");
  expect_all_slots(all.mr->Dispatch, 7, "mr");
  expect_all_slots(all.fast_mr->Dispatch, 7, "fast mr");
  expect_all_slots(all.mw->Dispatch, 3, "mw");
  expect_all_slots(all.qp->Dispatch, 11, "qp");
  expect_all_slots(all.connector->Dispatch, 13, "connector");
  expect_all_slots(all.listener->Dispatch, 5, "listener");
  expect_all_slots(all.endpoint->Dispatch, 3, "shared endpoint");
  if (all.srq != nullptr) {
    expect_all_slots(all.srq->Dispatch, 4, "srq");
    expect_all_slots(all.srq_qp->Dispatch, 11, "qp with srq");
  }
  // Tables are populated whatever version was negotiated (Microsoft's NDKPI reference).
  EveryObjectFixture all_old(GetParam(), NDK_VERSION{1, 1});
  ASSERT_NT(STATUS_SUCCESS, all_old.open_status());
  expect_all_slots(all_old.get()->Dispatch, 9, "adapter 1.2");
  ASSERT_TRUE(all_old.create(all.local_address()));
  expect_all_slots(all_old.cq->Dispatch, 7, "cq 1.2");
  expect_all_slots(all_old.qp->Dispatch, 11, "qp 1.2");
  expect_all_slots(all_old.connector->Dispatch, 13, "connector 1.2");
  EXPECT_TRUE(all_old.close_all());
  EXPECT_TRUE(all.close_all());
}

INSTANTIATE_TEST_SUITE_P(Uris, AdapterTest, ::testing::ValuesIn(ndktest::test_uris()));
INSTANTIATE_TEST_SUITE_P(PendingUris, AdapterTest, ::testing::ValuesIn(ndktest::pending_uris()));

}  // namespace
