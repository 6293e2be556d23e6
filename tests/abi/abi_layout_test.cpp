// Runtime checks of the public ABI in <softndk/ndkpi.h>: x64 sizes and offsets of every NDK
// structure, dispatch-table slot order, base-type widths, and the numeric value of every NDK
// constant compared against the values published for NDKPI (table driven).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <type_traits>

#include <gtest/gtest.h>
#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

namespace {

constexpr bool kIs64Bit = sizeof(void*) == 8;

struct LayoutRow {
  const char* what;
  std::size_t actual;
  std::size_t expected;
};

constexpr LayoutRow Row(const char* what, std::size_t actual, std::size_t expected) {
  return LayoutRow{what, actual, expected};
}

#define SZ(type, size) Row("sizeof(" #type ")", sizeof(type), size)
#define OFF(type, member, off) Row(#type "." #member, offsetof(type, member), off)

void ExpectRows(const LayoutRow* rows, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(rows[i].actual, rows[i].expected) << rows[i].what;
  }
}

TEST(AbiLayout, BaseTypeWidths) {
  EXPECT_EQ(sizeof(ULONG), 4u);
  EXPECT_TRUE(std::is_unsigned_v<ULONG>);
  EXPECT_EQ(sizeof(USHORT), 2u);
  EXPECT_EQ(sizeof(UCHAR), 1u);
  EXPECT_EQ(sizeof(UINT32), 4u);
  EXPECT_EQ(sizeof(UINT64), 8u);
  EXPECT_EQ(sizeof(BOOLEAN), 1u);
  EXPECT_EQ(sizeof(NTSTATUS), 4u);
  EXPECT_TRUE(std::is_signed_v<NTSTATUS>);
  EXPECT_EQ(sizeof(NDIS_STATUS), 4u);
  EXPECT_EQ(sizeof(SIZE_T), sizeof(void*));
  EXPECT_EQ(sizeof(ULONG_PTR), sizeof(void*));
  EXPECT_EQ(sizeof(GUID), 16u);
  EXPECT_EQ(sizeof(LARGE_INTEGER), 8u);
  EXPECT_EQ(sizeof(NDK_LOGICAL_ADDRESS), 8u);
  EXPECT_EQ(sizeof(NDK_VERSION), 4u);
  EXPECT_EQ(offsetof(NDK_VERSION, Major), 0u);
  EXPECT_EQ(offsetof(NDK_VERSION, Minor), 2u);
  EXPECT_EQ(sizeof(NDK_OBJECT_TYPE), 4u);
  EXPECT_EQ(sizeof(NDK_OPERATION_TYPE), 4u);
  EXPECT_EQ(sizeof(NDK_RDMA_TECHNOLOGY), 4u);
  EXPECT_EQ(sizeof(NDIS_OPEN_NDK_ADAPTER_PARAMETERS), 12u);
  EXPECT_EQ(MAXULONG, 0xFFFFFFFFu);
  EXPECT_EQ(static_cast<ULONG>(MAXULONG), std::numeric_limits<ULONG>::max());
  EXPECT_EQ(PAGE_SIZE, 4096);
  EXPECT_EQ(TRUE, 1);
  EXPECT_EQ(FALSE, 0);
}

TEST(AbiLayout, LargeIntegerHalves) {
  LARGE_INTEGER li;
  li.QuadPart = -2;  // 0xFFFFFFFF'FFFFFFFE
  EXPECT_EQ(li.LowPart, 0xFFFFFFFEu);
  EXPECT_EQ(li.HighPart, -1);
  li.LowPart = 0x89ABCDEFu;
  li.HighPart = 0x01234567;
  EXPECT_EQ(static_cast<std::uint64_t>(li.QuadPart), 0x0123456789ABCDEFull);
  EXPECT_EQ(offsetof(LARGE_INTEGER, QuadPart), 0u);
}

TEST(AbiLayout, NtSuccess) {
  EXPECT_TRUE(NT_SUCCESS(STATUS_SUCCESS));
  EXPECT_TRUE(NT_SUCCESS(STATUS_PENDING));
  EXPECT_TRUE(NT_SUCCESS(STATUS_TIMEOUT));
  EXPECT_FALSE(NT_SUCCESS(STATUS_BUFFER_OVERFLOW));
  EXPECT_FALSE(NT_SUCCESS(STATUS_CANCELLED));
  EXPECT_FALSE(NT_SUCCESS(NDIS_STATUS_BAD_VERSION));
  EXPECT_LT(STATUS_INSUFFICIENT_RESOURCES, 0);
}

TEST(AbiLayout, X64StructLayouts) {
  if (!kIs64Bit) GTEST_SKIP() << "layouts are specified for 64-bit targets";
  const LayoutRow rows[] = {
      SZ(NDK_OBJECT_HEADER_RESERVED_BLOCK, 0x20),
      OFF(NDK_OBJECT_HEADER, Version, 0x00),
      OFF(NDK_OBJECT_HEADER, ObjectType, 0x04),
      OFF(NDK_OBJECT_HEADER, NdkReserved, 0x08),
      SZ(NDK_OBJECT_HEADER, 0x28),

      OFF(NDK_RESULT, Status, 0x00),
      OFF(NDK_RESULT, BytesTransferred, 0x04),
      OFF(NDK_RESULT, QPContext, 0x08),
      OFF(NDK_RESULT, RequestContext, 0x10),
      SZ(NDK_RESULT, 0x18),

      OFF(NDK_RESULT_EX, Status, 0x00),
      OFF(NDK_RESULT_EX, BytesTransferred, 0x04),
      OFF(NDK_RESULT_EX, QPContext, 0x08),
      OFF(NDK_RESULT_EX, RequestContext, 0x10),
      OFF(NDK_RESULT_EX, Type, 0x18),
      OFF(NDK_RESULT_EX, ProviderErrorCode, 0x1C),
      OFF(NDK_RESULT_EX, TypeSpecificCompletionOutput, 0x20),
      SZ(NDK_RESULT_EX, 0x28),

      OFF(NDK_ADAPTER_INFO, Version, 0x00),
      OFF(NDK_ADAPTER_INFO, VendorId, 0x04),
      OFF(NDK_ADAPTER_INFO, DeviceId, 0x08),
      OFF(NDK_ADAPTER_INFO, MaxRegistrationSize, 0x10),
      OFF(NDK_ADAPTER_INFO, MaxWindowSize, 0x18),
      OFF(NDK_ADAPTER_INFO, FRMRPageCount, 0x20),
      OFF(NDK_ADAPTER_INFO, MaxInitiatorRequestSge, 0x24),
      OFF(NDK_ADAPTER_INFO, MaxReceiveRequestSge, 0x28),
      OFF(NDK_ADAPTER_INFO, MaxReadRequestSge, 0x2C),
      OFF(NDK_ADAPTER_INFO, MaxTransferLength, 0x30),
      OFF(NDK_ADAPTER_INFO, MaxInlineDataSize, 0x34),
      OFF(NDK_ADAPTER_INFO, MaxInboundReadLimit, 0x38),
      OFF(NDK_ADAPTER_INFO, MaxOutboundReadLimit, 0x3C),
      OFF(NDK_ADAPTER_INFO, MaxReceiveQueueDepth, 0x40),
      OFF(NDK_ADAPTER_INFO, MaxInitiatorQueueDepth, 0x44),
      OFF(NDK_ADAPTER_INFO, MaxSrqDepth, 0x48),
      OFF(NDK_ADAPTER_INFO, MaxCqDepth, 0x4C),
      OFF(NDK_ADAPTER_INFO, LargeRequestThreshold, 0x50),
      OFF(NDK_ADAPTER_INFO, MaxCallerData, 0x54),
      OFF(NDK_ADAPTER_INFO, MaxCalleeData, 0x58),
      OFF(NDK_ADAPTER_INFO, AdapterFlags, 0x5C),
      OFF(NDK_ADAPTER_INFO, RdmaTechnology, 0x60),
      SZ(NDK_ADAPTER_INFO, 0x68),

      OFF(NDK_SGE, VirtualAddress, 0x00),
      OFF(NDK_SGE, LogicalAddress, 0x00),
      OFF(NDK_SGE, Length, 0x08),
      OFF(NDK_SGE, MemoryRegionToken, 0x0C),
      SZ(NDK_SGE, 0x10),

      OFF(NDK_LOGICAL_ADDRESS_MAPPING, AdapterContext, 0x00),
      OFF(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageCount, 0x08),
      OFF(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageArray, 0x10),
      SZ(NDK_EXTENSION_INTERFACE, 0x08),

      OFF(GROUP_AFFINITY, Mask, 0x00),
      OFF(GROUP_AFFINITY, Group, 0x08),
      OFF(GROUP_AFFINITY, Reserved, 0x0A),
      SZ(GROUP_AFFINITY, 0x10),
      OFF(GUID, Data1, 0x00),
      OFF(GUID, Data2, 0x04),
      OFF(GUID, Data3, 0x06),
      OFF(GUID, Data4, 0x08),

      OFF(MDL, Next, 0x00),
      OFF(MDL, StartVa, 0x08),
      OFF(MDL, ByteCount, 0x10),
      OFF(MDL, ByteOffset, 0x18),
      OFF(MDL, MdlFlags, 0x1C),
      SZ(MDL, 0x20),

      OFF(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, Version, 0x00),
      OFF(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, SwitchId, 0x04),
      OFF(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, VPortId, 0x08),
      SZ(NDIS_OBJECT_HEADER, 0x04),
      OFF(NDIS_NDK_PROVIDER_CHARACTERISTICS, Header, 0x00),
      OFF(NDIS_NDK_PROVIDER_CHARACTERISTICS, Flags, 0x04),
      OFF(NDIS_NDK_PROVIDER_CHARACTERISTICS, OpenNDKAdapterHandler, 0x08),
      OFF(NDIS_NDK_PROVIDER_CHARACTERISTICS, CloseNDKAdapterHandler, 0x10),
      SZ(NDIS_NDK_PROVIDER_CHARACTERISTICS, 0x18),
  };
  ExpectRows(rows, std::size(rows));
}

TEST(AbiLayout, ObjectLayouts) {
  if (!kIs64Bit) GTEST_SKIP() << "layouts are specified for 64-bit targets";
  const LayoutRow rows[] = {
#define OBJ(t) OFF(t, Header, 0x00), OFF(t, Dispatch, 0x28), SZ(t, 0x30)
      OBJ(NDK_ADAPTER),   OBJ(NDK_CQ),       OBJ(NDK_MR), OBJ(NDK_MW),
      OBJ(NDK_SRQ),       OBJ(NDK_QP),       OBJ(NDK_PD), OBJ(NDK_SHARED_ENDPOINT),
      OBJ(NDK_CONNECTOR), OBJ(NDK_LISTENER),
#undef OBJ
  };
  ExpectRows(rows, std::size(rows));
}

// Slot i of every table lives at byte offset 8 * i.
#define SLOT(t, member, index) Row(#t "." #member, offsetof(t, member), 8 * (index))

TEST(AbiLayout, DispatchTableSlotOrder) {
  if (!kIs64Bit) GTEST_SKIP() << "layouts are specified for 64-bit targets";
  const LayoutRow rows[] = {
      SLOT(NDK_ADAPTER_DISPATCH, NdkQueryExtension, 0),
      SLOT(NDK_ADAPTER_DISPATCH, NdkQueryAdapterInfo, 1),
      SLOT(NDK_ADAPTER_DISPATCH, NdkCreateCq, 2),
      SLOT(NDK_ADAPTER_DISPATCH, NdkCreatePd, 3),
      SLOT(NDK_ADAPTER_DISPATCH, NdkCreateSharedEndpoint, 4),
      SLOT(NDK_ADAPTER_DISPATCH, NdkCreateConnector, 5),
      SLOT(NDK_ADAPTER_DISPATCH, NdkCreateListener, 6),
      SLOT(NDK_ADAPTER_DISPATCH, NdkBuildLAM, 7),
      SLOT(NDK_ADAPTER_DISPATCH, NdkReleaseLAM, 8),
      SZ(NDK_ADAPTER_DISPATCH, 0x48),

      SLOT(NDK_CQ_DISPATCH, NdkCloseCq, 0),
      SLOT(NDK_CQ_DISPATCH, NdkQueryExtension, 1),
      SLOT(NDK_CQ_DISPATCH, NdkResizeCq, 2),
      SLOT(NDK_CQ_DISPATCH, NdkArmCq, 3),
      SLOT(NDK_CQ_DISPATCH, NdkGetCqResults, 4),
      SLOT(NDK_CQ_DISPATCH, NdkControlCqInterruptModeration, 5),
      SLOT(NDK_CQ_DISPATCH, NdkGetCqResultsEx, 6),
      SZ(NDK_CQ_DISPATCH, 0x38),

      SLOT(NDK_MR_DISPATCH, NdkCloseMr, 0),
      SLOT(NDK_MR_DISPATCH, NdkQueryExtension, 1),
      SLOT(NDK_MR_DISPATCH, NdkRegisterMr, 2),
      SLOT(NDK_MR_DISPATCH, NdkDeregisterMr, 3),
      SLOT(NDK_MR_DISPATCH, NdkInitializeFastRegisterMr, 4),
      SLOT(NDK_MR_DISPATCH, NdkGetRemoteTokenFromMr, 5),
      SLOT(NDK_MR_DISPATCH, NdkGetLocalTokenFromMr, 6),
      SZ(NDK_MR_DISPATCH, 0x38),

      SLOT(NDK_MW_DISPATCH, NdkCloseMw, 0),
      SLOT(NDK_MW_DISPATCH, NdkQueryExtension, 1),
      SLOT(NDK_MW_DISPATCH, NdkGetRemoteTokenFromMw, 2),
      SZ(NDK_MW_DISPATCH, 0x18),

      SLOT(NDK_SRQ_DISPATCH, NdkCloseSrq, 0),
      SLOT(NDK_SRQ_DISPATCH, NdkQueryExtension, 1),
      SLOT(NDK_SRQ_DISPATCH, NdkModifySrq, 2),
      SLOT(NDK_SRQ_DISPATCH, NdkSrqReceive, 3),
      SZ(NDK_SRQ_DISPATCH, 0x20),

      SLOT(NDK_QP_DISPATCH, NdkCloseQp, 0),
      SLOT(NDK_QP_DISPATCH, NdkQueryExtension, 1),
      SLOT(NDK_QP_DISPATCH, NdkFlush, 2),
      SLOT(NDK_QP_DISPATCH, NdkSend, 3),
      SLOT(NDK_QP_DISPATCH, NdkReceive, 4),
      SLOT(NDK_QP_DISPATCH, NdkBind, 5),
      SLOT(NDK_QP_DISPATCH, NdkFastRegister, 6),
      SLOT(NDK_QP_DISPATCH, NdkInvalidate, 7),
      SLOT(NDK_QP_DISPATCH, NdkRead, 8),
      SLOT(NDK_QP_DISPATCH, NdkWrite, 9),
      SLOT(NDK_QP_DISPATCH, NdkSendAndInvalidate, 10),
      SZ(NDK_QP_DISPATCH, 0x58),

      SLOT(NDK_PD_DISPATCH, NdkClosePd, 0),
      SLOT(NDK_PD_DISPATCH, NdkQueryExtension, 1),
      SLOT(NDK_PD_DISPATCH, NdkCreateMr, 2),
      SLOT(NDK_PD_DISPATCH, NdkCreateMw, 3),
      SLOT(NDK_PD_DISPATCH, NdkCreateSrq, 4),
      SLOT(NDK_PD_DISPATCH, NdkCreateQp, 5),
      SLOT(NDK_PD_DISPATCH, NdkCreateQpWithSrq, 6),
      SLOT(NDK_PD_DISPATCH, NdkGetPrivilegedMemoryRegionToken, 7),
      SZ(NDK_PD_DISPATCH, 0x40),

      SLOT(NDK_SHARED_ENDPOINT_DISPATCH, NdkCloseSharedEndpoint, 0),
      SLOT(NDK_SHARED_ENDPOINT_DISPATCH, NdkQueryExtension, 1),
      SLOT(NDK_SHARED_ENDPOINT_DISPATCH, NdkGetLocalAddress, 2),
      SZ(NDK_SHARED_ENDPOINT_DISPATCH, 0x18),

      SLOT(NDK_CONNECTOR_DISPATCH, NdkCloseConnector, 0),
      SLOT(NDK_CONNECTOR_DISPATCH, NdkQueryExtension, 1),
      SLOT(NDK_CONNECTOR_DISPATCH, NdkConnect, 2),
      SLOT(NDK_CONNECTOR_DISPATCH, NdkConnectWithSharedEndpoint, 3),
      SLOT(NDK_CONNECTOR_DISPATCH, NdkCompleteConnect, 4),
      SLOT(NDK_CONNECTOR_DISPATCH, NdkAccept, 5),
      SLOT(NDK_CONNECTOR_DISPATCH, NdkReject, 6),
      SLOT(NDK_CONNECTOR_DISPATCH, NdkGetConnectionData, 7),
      SLOT(NDK_CONNECTOR_DISPATCH, NdkGetLocalAddress, 8),
      SLOT(NDK_CONNECTOR_DISPATCH, NdkGetPeerAddress, 9),
      SLOT(NDK_CONNECTOR_DISPATCH, NdkDisconnect, 10),
      SLOT(NDK_CONNECTOR_DISPATCH, NdkCompleteConnectEx, 11),
      SLOT(NDK_CONNECTOR_DISPATCH, NdkAcceptEx, 12),
      SZ(NDK_CONNECTOR_DISPATCH, 0x68),

      SLOT(NDK_LISTENER_DISPATCH, NdkCloseListener, 0),
      SLOT(NDK_LISTENER_DISPATCH, NdkQueryExtension, 1),
      SLOT(NDK_LISTENER_DISPATCH, NdkListen, 2),
      SLOT(NDK_LISTENER_DISPATCH, NdkGetLocalAddress, 3),
      SLOT(NDK_LISTENER_DISPATCH, NdkControlConnectEvents, 4),
      SZ(NDK_LISTENER_DISPATCH, 0x28),
  };
  ExpectRows(rows, std::size(rows));
}
#undef SLOT

TEST(AbiLayout, LamBufferSizeFormula) {
  if (!kIs64Bit) GTEST_SKIP() << "layouts are specified for 64-bit targets";
  // Required LAM size for n pages is 16 + 8 * n on x64.
  for (std::size_t n : {1u, 2u, 17u}) {
    EXPECT_EQ(
        offsetof(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageArray) + n * sizeof(NDK_LOGICAL_ADDRESS),
        16 + 8 * n);
  }
}

// ---- constants ----

struct ConstRow {
  const char* name;
  long long actual;
  long long expected;
};

constexpr ConstRow Const(const char* name, long long actual, long long expected) {
  return ConstRow{name, actual, expected};
}
// NTSTATUS values are compared as their unsigned 32-bit patterns.
constexpr ConstRow Status(const char* name, NTSTATUS actual, std::uint32_t expected) {
  return ConstRow{name, static_cast<std::uint32_t>(actual), expected};
}

#define K(name, value) Const(#name, name, value)
#define S(name, value) Status(#name, name, value##u)

TEST(AbiConstants, NdkValuesMatchPublishedHeader) {
  const ConstRow rows[] = {
      K(NdkObjectTypeUndefined, 0),
      K(NdkObjectTypeAdapter, 1),
      K(NdkObjectTypeQp, 2),
      K(NdkObjectTypeCq, 3),
      K(NdkObjectTypeMr, 4),
      K(NdkObjectTypeMw, 5),
      K(NdkObjectTypePd, 6),
      K(NdkObjectTypeSharedEndpoint, 7),
      K(NdkObjectTypeConnector, 8),
      K(NdkObjectTypeListener, 9),
      K(NdkObjectTypeSrq, 10),
      K(NdkObjectTypeMax, 11),

      K(NdkOperationTypeReceive, 1),
      K(NdkOperationTypeReceiveAndInvalidate, 0x8001),
      K(NdkOperationTypeSend, 2),
      K(NdkOperationTypeFastRegister, 4),
      K(NdkOperationTypeBind, 8),
      K(NdkOperationTypeInvalidate, 16),
      K(NdkOperationTypeRead, 32),
      K(NdkOperationTypeWrite, 64),

      K(NdkUndefined, 0),
      K(NdkiWarp, 1),
      K(NdkInfiniBand, 2),
      K(NdkRoCE, 3),
      K(NdkRoCEv2, 4),
      K(NdkMaxTechnology, 5),

      K(NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED, 0x00000001),
      K(NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED, 0x00000002),
      K(NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED, 0x00000004),
      K(NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED, 0x00000008),
      K(NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED, 0x00000010),
      K(NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED, 0x00000100),
      K(NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED, 0x00010000),

      K(NDK_OP_FLAG_SILENT_SUCCESS, 0x00000001),
      K(NDK_OP_FLAG_READ_FENCE, 0x00000002),
      K(NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT, 0x00000004),
      K(NDK_OP_FLAG_ALLOW_REMOTE_READ, 0x00000008),
      K(NDK_OP_FLAG_ALLOW_LOCAL_WRITE, 0x00000010),
      K(NDK_OP_FLAG_ALLOW_REMOTE_WRITE, 0x00000030),
      K(NDK_OP_FLAG_INLINE, 0x00000040),
      K(NDK_OP_FLAG_RDMA_READ_SINK, 0x00000080),
      K(NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE, 0x00000100),
      K(NDK_OP_FLAG_DEFER, 0x00000200),

      K(NDK_MR_FLAG_ALLOW_LOCAL_READ, 0x00000000),
      K(NDK_MR_FLAG_ALLOW_LOCAL_WRITE, 0x00000001),
      K(NDK_MR_FLAG_ALLOW_REMOTE_READ, 0x00000002),
      K(NDK_MR_FLAG_ALLOW_REMOTE_WRITE, 0x00000005),
      K(NDK_MR_FLAG_RDMA_READ_SINK, 0x00000008),

      K(NDK_CQ_NOTIFY_ERRORS, 0),
      K(NDK_CQ_NOTIFY_ANY, 1),
      K(NDK_CQ_NOTIFY_SOLICITED, 2),

      K(SOFTNDK_NDK_VERSION_MAJOR, 2),
      K(SOFTNDK_NDK_VERSION_MINOR, 1),
  };
  for (const auto& r : rows) EXPECT_EQ(r.actual, r.expected) << r.name;
}

TEST(AbiConstants, StatusValuesMatchPublishedHeader) {
  const ConstRow rows[] = {
      S(STATUS_SUCCESS, 0x00000000),
      S(STATUS_TIMEOUT, 0x00000102),
      S(STATUS_PENDING, 0x00000103),
      S(STATUS_BUFFER_OVERFLOW, 0x80000005),
      S(STATUS_UNSUCCESSFUL, 0xC0000001),
      S(STATUS_ACCESS_VIOLATION, 0xC0000005),
      S(STATUS_INVALID_PARAMETER, 0xC000000D),
      S(STATUS_INVALID_DEVICE_REQUEST, 0xC0000010),
      S(STATUS_BUFFER_TOO_SMALL, 0xC0000023),
      S(STATUS_INVALID_PARAMETER_MIX, 0xC0000030),
      S(STATUS_DATA_ERROR, 0xC000003E),
      S(STATUS_SHARING_VIOLATION, 0xC0000043),
      S(STATUS_INSUFFICIENT_RESOURCES, 0xC000009A),
      S(STATUS_IO_TIMEOUT, 0xC00000B5),
      S(STATUS_NOT_SUPPORTED, 0xC00000BB),
      S(STATUS_INTERNAL_ERROR, 0xC00000E5),
      S(STATUS_CANCELLED, 0xC0000120),
      S(STATUS_REMOTE_RESOURCES, 0xC000013D),
      S(STATUS_INVALID_ADDRESS, 0xC0000141),
      S(STATUS_INVALID_DEVICE_STATE, 0xC0000184),
      S(STATUS_INVALID_BUFFER_SIZE, 0xC0000206),
      S(STATUS_TOO_MANY_ADDRESSES, 0xC0000209),
      S(STATUS_ADDRESS_ALREADY_EXISTS, 0xC000020A),
      S(STATUS_CONNECTION_DISCONNECTED, 0xC000020C),
      S(STATUS_CONNECTION_RESET, 0xC000020D),
      S(STATUS_CONNECTION_REFUSED, 0xC0000236),
      S(STATUS_GRACEFUL_DISCONNECT, 0xC0000237),
      S(STATUS_CONNECTION_INVALID, 0xC000023A),
      S(STATUS_CONNECTION_ACTIVE, 0xC000023B),
      S(STATUS_NETWORK_UNREACHABLE, 0xC000023C),
      S(STATUS_HOST_UNREACHABLE, 0xC000023D),
      S(STATUS_REQUEST_ABORTED, 0xC0000240),
      S(STATUS_CONNECTION_ABORTED, 0xC0000241),
      S(STATUS_IMPLEMENTATION_LIMIT, 0xC000042B),
      S(NDIS_STATUS_SUCCESS, 0x00000000),
      S(NDIS_STATUS_BAD_VERSION, 0xC0010004),
      S(NDIS_STATUS_ADAPTER_NOT_READY, 0xC0010011),
      S(NDIS_STATUS_RESOURCES, 0xC000009A),
  };
  for (const auto& r : rows) EXPECT_EQ(r.actual, r.expected) << r.name;
}
#undef K
#undef S

TEST(AbiConstants, FlagRelations) {
  // Remote write always carries the local-write bit.
  EXPECT_EQ(NDK_OP_FLAG_ALLOW_REMOTE_WRITE & NDK_OP_FLAG_ALLOW_LOCAL_WRITE,
            NDK_OP_FLAG_ALLOW_LOCAL_WRITE);
  EXPECT_EQ(NDK_MR_FLAG_ALLOW_REMOTE_WRITE & NDK_MR_FLAG_ALLOW_LOCAL_WRITE,
            NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  // The documentation once listed 0x200 for read-local-invalidate; the header value is 0x100.
  EXPECT_NE(NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE, NDK_OP_FLAG_DEFER);
}

// ---- sockets: native address families, never Windows numbering ----

TEST(AbiSockets, NativeAddressFamilies) {
  static_assert(std::is_same_v<PSOCKADDR, sockaddr*>);
  EXPECT_EQ(sizeof(sockaddr_in), 16u);
  EXPECT_EQ(sizeof(sockaddr_in6), 28u);
  // The header must not override the host's AF_INET6 with the Windows value (23).
  int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd >= 0) {
    sockaddr_in6 sin6{};
    socklen_t len = sizeof(sin6);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_loopback;
    // Binding an IPv6 address proves AF_INET6 is the value this kernel understands.
    if (bind(fd, reinterpret_cast<PSOCKADDR>(&sin6), sizeof(sin6)) == 0) {
      ASSERT_EQ(getsockname(fd, reinterpret_cast<PSOCKADDR>(&sin6), &len), 0);
      EXPECT_EQ(reinterpret_cast<PSOCKADDR>(&sin6)->sa_family, AF_INET6);
    }
    close(fd);
  }
#ifdef __linux__
  EXPECT_EQ(AF_INET6, 10);
#endif
  EXPECT_NE(AF_INET6, 23) << "Windows AF_INET6 leaked into a non-Windows build";
}

}  // namespace
