/* Public C ABI of softndk: a portable rendition of the NDKPI declarations (ndkpi.h, ndkinfo.h and
 * the NDIS adapter open/close hooks). Names, member order, values and x64 layouts follow the
 * interface exactly so consumer code written against NDKPI compiles unchanged; the Windows base
 * types it relies on are given fixed-width Linux definitions here. C11 and C++20 compatible. */
#ifndef SOFTNDK_NDKPI_H_
#define SOFTNDK_NDKPI_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================================== */
/** @name Compile-time assertion helper
 *  Expands to C11 `_Static_assert` or C++ `static_assert`.
 *  @{ */
#ifdef __cplusplus
#define SOFTNDK_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define SOFTNDK_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
/** @} */

/* ============================================================================================== */
/** @name Portable Windows base types
 *  Fixed-width stand-ins for the Windows types used by NDKPI. Every `ULONG` is 32 bits (LP64
 *  `unsigned long` would be wrong). Each definition is skipped if the includer already provides
 *  it (macros are tested directly; typedefs through a `*_DEFINED` guard macro).
 *  @{ */
#ifndef VOID
#define VOID void
#endif
#ifndef CONST
#define CONST const
#endif
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

#ifndef _NTSTATUS_DEFINED
#define _NTSTATUS_DEFINED
/** Signed 32-bit status code; negative values are failures. */
typedef int32_t NTSTATUS;
#endif
#ifndef SOFTNDK_UCHAR_DEFINED
#define SOFTNDK_UCHAR_DEFINED
typedef uint8_t UCHAR;
#endif
#ifndef SOFTNDK_USHORT_DEFINED
#define SOFTNDK_USHORT_DEFINED
typedef uint16_t USHORT;
#endif
#ifndef SOFTNDK_LONG_DEFINED
#define SOFTNDK_LONG_DEFINED
typedef int32_t LONG;
#endif
#ifndef SOFTNDK_ULONG_DEFINED
#define SOFTNDK_ULONG_DEFINED
/** Always 32 bits, as on Windows (LLP64). */
typedef uint32_t ULONG;
#endif
#ifndef SOFTNDK_UINT32_DEFINED
#define SOFTNDK_UINT32_DEFINED
typedef uint32_t UINT32;
#endif
#ifndef SOFTNDK_UINT64_DEFINED
#define SOFTNDK_UINT64_DEFINED
typedef uint64_t UINT64;
#endif
#ifndef SOFTNDK_BOOLEAN_DEFINED
#define SOFTNDK_BOOLEAN_DEFINED
/** One byte; TRUE is 1 and FALSE is 0. */
typedef uint8_t BOOLEAN;
#endif
#ifndef SOFTNDK_SIZE_T_DEFINED
#define SOFTNDK_SIZE_T_DEFINED
typedef size_t SIZE_T;
#endif
#ifndef SOFTNDK_ULONG_PTR_DEFINED
#define SOFTNDK_ULONG_PTR_DEFINED
typedef uintptr_t ULONG_PTR;
#endif
#ifndef SOFTNDK_PVOID_DEFINED
#define SOFTNDK_PVOID_DEFINED
typedef void* PVOID;
#endif

#ifndef GUID_DEFINED
#define GUID_DEFINED
/** 128-bit interface identifier (16 bytes). */
typedef struct _GUID {
  uint32_t Data1;
  uint16_t Data2;
  uint16_t Data3;
  uint8_t Data4[8];
} GUID;
#endif

#ifndef SOFTNDK_LARGE_INTEGER_DEFINED
#define SOFTNDK_LARGE_INTEGER_DEFINED
/** 64-bit value that can also be viewed as a low/high 32-bit pair. (The unnamed inner struct is
 *  standard C11; in C++ it relies on the GNU/Clang extension.) */
typedef union _LARGE_INTEGER {
  int64_t QuadPart;
  struct {
    uint32_t LowPart;
    int32_t HighPart;
  };
} LARGE_INTEGER, *PLARGE_INTEGER;
#endif
#ifndef SOFTNDK_PHYSICAL_ADDRESS_DEFINED
#define SOFTNDK_PHYSICAL_ADDRESS_DEFINED
typedef LARGE_INTEGER PHYSICAL_ADDRESS, *PPHYSICAL_ADDRESS;
#endif

#ifndef SOFTNDK_GROUP_AFFINITY_DEFINED
#define SOFTNDK_GROUP_AFFINITY_DEFINED
/** CPU set hint: a processor group number and a bit mask of CPUs inside it. */
typedef struct _GROUP_AFFINITY {
  ULONG_PTR Mask;
  USHORT Group;
  USHORT Reserved[3];
} GROUP_AFFINITY, *PGROUP_AFFINITY;
#endif

#ifndef SOFTNDK_SOCKADDR_DEFINED
#define SOFTNDK_SOCKADDR_DEFINED
/** Native socket addresses: `sockaddr_in` (16 bytes) or `sockaddr_in6` (28 bytes) with the host's
 *  own AF_INET / AF_INET6 values. */
typedef struct sockaddr SOCKADDR, *PSOCKADDR;
#endif

#ifndef MAXULONG
#define MAXULONG 0xFFFFFFFFu
#endif

#ifndef NT_SUCCESS
/** True for success- and informational-class codes (including STATUS_PENDING). */
#define NT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)
#endif

#ifndef SOFTNDK_NDIS_STATUS_DEFINED
#define SOFTNDK_NDIS_STATUS_DEFINED
/** Status of the adapter open hook; numbered like NTSTATUS. */
typedef int32_t NDIS_STATUS, *PNDIS_STATUS;
#endif
#ifndef SOFTNDK_NDIS_HANDLE_DEFINED
#define SOFTNDK_NDIS_HANDLE_DEFINED
typedef void* NDIS_HANDLE;
#endif
/** @} */

/* ============================================================================================== */
/** @name Status codes
 *  Every NTSTATUS value NDK functions document, plus the few extra ones softndk uses for cases
 *  the interface leaves open, and the NDIS values returned by the adapter open hook.
 *  @{ */
#ifndef STATUS_SUCCESS
#define STATUS_SUCCESS ((NTSTATUS)0x00000000L)
#endif
#ifndef STATUS_TIMEOUT
#define STATUS_TIMEOUT ((NTSTATUS)0x00000102L)
#endif
#ifndef STATUS_PENDING
#define STATUS_PENDING ((NTSTATUS)0x00000103L)
#endif
#ifndef STATUS_BUFFER_OVERFLOW
#define STATUS_BUFFER_OVERFLOW ((NTSTATUS)0x80000005L)
#endif
#ifndef STATUS_UNSUCCESSFUL
#define STATUS_UNSUCCESSFUL ((NTSTATUS)0xC0000001L)
#endif
#ifndef STATUS_ACCESS_VIOLATION
#define STATUS_ACCESS_VIOLATION ((NTSTATUS)0xC0000005L)
#endif
#ifndef STATUS_INVALID_PARAMETER
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)
#endif
#ifndef STATUS_INVALID_DEVICE_REQUEST
#define STATUS_INVALID_DEVICE_REQUEST ((NTSTATUS)0xC0000010L)
#endif
#ifndef STATUS_BUFFER_TOO_SMALL
#define STATUS_BUFFER_TOO_SMALL ((NTSTATUS)0xC0000023L)
#endif
#ifndef STATUS_INVALID_PARAMETER_MIX
#define STATUS_INVALID_PARAMETER_MIX ((NTSTATUS)0xC0000030L)
#endif
#ifndef STATUS_DATA_ERROR
#define STATUS_DATA_ERROR ((NTSTATUS)0xC000003EL)
#endif
#ifndef STATUS_SHARING_VIOLATION
#define STATUS_SHARING_VIOLATION ((NTSTATUS)0xC0000043L)
#endif
#ifndef STATUS_INSUFFICIENT_RESOURCES
#define STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009AL)
#endif
#ifndef STATUS_IO_TIMEOUT
#define STATUS_IO_TIMEOUT ((NTSTATUS)0xC00000B5L)
#endif
#ifndef STATUS_NOT_SUPPORTED
#define STATUS_NOT_SUPPORTED ((NTSTATUS)0xC00000BBL)
#endif
#ifndef STATUS_INTERNAL_ERROR
#define STATUS_INTERNAL_ERROR ((NTSTATUS)0xC00000E5L)
#endif
#ifndef STATUS_CANCELLED
#define STATUS_CANCELLED ((NTSTATUS)0xC0000120L)
#endif
#ifndef STATUS_REMOTE_RESOURCES
#define STATUS_REMOTE_RESOURCES ((NTSTATUS)0xC000013DL)
#endif
#ifndef STATUS_INVALID_ADDRESS
#define STATUS_INVALID_ADDRESS ((NTSTATUS)0xC0000141L)
#endif
#ifndef STATUS_INVALID_DEVICE_STATE
#define STATUS_INVALID_DEVICE_STATE ((NTSTATUS)0xC0000184L)
#endif
#ifndef STATUS_INVALID_BUFFER_SIZE
#define STATUS_INVALID_BUFFER_SIZE ((NTSTATUS)0xC0000206L)
#endif
#ifndef STATUS_TOO_MANY_ADDRESSES
#define STATUS_TOO_MANY_ADDRESSES ((NTSTATUS)0xC0000209L)
#endif
#ifndef STATUS_ADDRESS_ALREADY_EXISTS
#define STATUS_ADDRESS_ALREADY_EXISTS ((NTSTATUS)0xC000020AL)
#endif
#ifndef STATUS_CONNECTION_DISCONNECTED
#define STATUS_CONNECTION_DISCONNECTED ((NTSTATUS)0xC000020CL)
#endif
#ifndef STATUS_CONNECTION_RESET
#define STATUS_CONNECTION_RESET ((NTSTATUS)0xC000020DL)
#endif
#ifndef STATUS_CONNECTION_REFUSED
#define STATUS_CONNECTION_REFUSED ((NTSTATUS)0xC0000236L)
#endif
#ifndef STATUS_GRACEFUL_DISCONNECT
#define STATUS_GRACEFUL_DISCONNECT ((NTSTATUS)0xC0000237L)
#endif
#ifndef STATUS_CONNECTION_INVALID
#define STATUS_CONNECTION_INVALID ((NTSTATUS)0xC000023AL)
#endif
#ifndef STATUS_CONNECTION_ACTIVE
#define STATUS_CONNECTION_ACTIVE ((NTSTATUS)0xC000023BL)
#endif
#ifndef STATUS_NETWORK_UNREACHABLE
#define STATUS_NETWORK_UNREACHABLE ((NTSTATUS)0xC000023CL)
#endif
#ifndef STATUS_HOST_UNREACHABLE
#define STATUS_HOST_UNREACHABLE ((NTSTATUS)0xC000023DL)
#endif
#ifndef STATUS_REQUEST_ABORTED
#define STATUS_REQUEST_ABORTED ((NTSTATUS)0xC0000240L)
#endif
#ifndef STATUS_CONNECTION_ABORTED
#define STATUS_CONNECTION_ABORTED ((NTSTATUS)0xC0000241L)
#endif
#ifndef STATUS_IMPLEMENTATION_LIMIT
#define STATUS_IMPLEMENTATION_LIMIT ((NTSTATUS)0xC000042BL)
#endif

#ifndef NDIS_STATUS_SUCCESS
#define NDIS_STATUS_SUCCESS ((NDIS_STATUS)STATUS_SUCCESS)
#endif
#ifndef NDIS_STATUS_BAD_VERSION
#define NDIS_STATUS_BAD_VERSION ((NDIS_STATUS)0xC0010004L)
#endif
#ifndef NDIS_STATUS_ADAPTER_NOT_READY
#define NDIS_STATUS_ADAPTER_NOT_READY ((NDIS_STATUS)0xC0010011L)
#endif
#ifndef NDIS_STATUS_RESOURCES
/** Same value as STATUS_INSUFFICIENT_RESOURCES. */
#define NDIS_STATUS_RESOURCES ((NDIS_STATUS)STATUS_INSUFFICIENT_RESOURCES)
#endif
/** @} */

/* ============================================================================================== */
/** @name Pages and the portable MDL
 *  NDK adapter pages (LAM entries, fast-register page arrays) are always PAGE_SIZE bytes. The MDL
 *  is softndk's own chainable buffer descriptor replacing the kernel Memory Descriptor List: a
 *  page-aligned start address plus the offset of the first byte in that page and a byte count.
 *  The described address is used by providers as an identity, never dereferenced.
 *  @{ */
#ifndef PAGE_SIZE
#define PAGE_SIZE 4096
#endif
/* A PAGE_SIZE coming from elsewhere (e.g. <sys/user.h>, which must then be included first) has
 * to agree, or translation units would disagree about LAM and fast-register page math. */
SOFTNDK_STATIC_ASSERT(PAGE_SIZE == 4096, "NDK adapter pages are 4096 bytes");

typedef struct _MDL {
  struct _MDL* Next; /**< next element of the chain, or NULL */
  PVOID StartVa;     /**< PAGE_SIZE-aligned address of the first page */
  SIZE_T ByteCount;  /**< bytes described by this element */
  ULONG ByteOffset;  /**< offset of the first byte inside the first page */
  ULONG MdlFlags;    /**< reserved, 0 */
} MDL, *PMDL;

/** Address of the first byte described by `Mdl` (StartVa + ByteOffset). */
static inline PVOID MmGetMdlVirtualAddress(const MDL* Mdl) {
  return (PVOID)((uint8_t*)Mdl->StartVa + Mdl->ByteOffset);
}
/** Number of bytes described by this chain element. */
static inline SIZE_T MmGetMdlByteCount(const MDL* Mdl) {
  return Mdl->ByteCount;
}
/** Offset of the first described byte inside its page. */
static inline ULONG MmGetMdlByteOffset(const MDL* Mdl) {
  return Mdl->ByteOffset;
}
/** @} */

/* ============================================================================================== */
/** @name Versions, object types and the common object header
 *  Every NDK object starts with an NDK_OBJECT_HEADER carrying the negotiated interface version,
 *  its type tag and a block the provider zeroes and then leaves to the consumer.
 *  @{ */
typedef struct {
  USHORT Major;
  USHORT Minor;
} NDK_VERSION;

typedef enum _NDK_OBJECT_TYPE {
  NdkObjectTypeUndefined = 0,
  NdkObjectTypeAdapter = 1,
  NdkObjectTypeQp = 2,
  NdkObjectTypeCq = 3,
  NdkObjectTypeMr = 4,
  NdkObjectTypeMw = 5,
  NdkObjectTypePd = 6,
  NdkObjectTypeSharedEndpoint = 7,
  NdkObjectTypeConnector = 8,
  NdkObjectTypeListener = 9,
  NdkObjectTypeSrq = 10,
  NdkObjectTypeMax = 11
} NDK_OBJECT_TYPE;

typedef struct _NDK_OBJECT_HEADER_RESERVED_BLOCK {
  PVOID rf[4];
} NDK_OBJECT_HEADER_RESERVED_BLOCK;

typedef struct _NDK_OBJECT_HEADER {
  NDK_VERSION Version;
  NDK_OBJECT_TYPE ObjectType;
  NDK_OBJECT_HEADER_RESERVED_BLOCK NdkReserved;
} NDK_OBJECT_HEADER;

/** Filled by a successful extension query: the extension's function table. */
typedef struct _NDK_EXTENSION_INTERFACE {
  CONST VOID* Dispatch;
} NDK_EXTENSION_INTERFACE;
/** @} */

/* ============================================================================================== */
/** @name Completion entries
 *  What NdkGetCqResults / NdkGetCqResultsEx copy out of a completion queue.
 *  @{ */
typedef struct _NDK_RESULT {
  NTSTATUS Status;
  ULONG BytesTransferred;
  PVOID QPContext;
  PVOID RequestContext;
} NDK_RESULT;

typedef enum _NDK_OPERATION_TYPE {
  NdkOperationTypeReceive = 1,
  NdkOperationTypeReceiveAndInvalidate = 32769, /* 0x8001 */
  NdkOperationTypeSend = 2,
  NdkOperationTypeFastRegister = 4,
  NdkOperationTypeBind = 8,
  NdkOperationTypeInvalidate = 16,
  NdkOperationTypeRead = 32,
  NdkOperationTypeWrite = 64
} NDK_OPERATION_TYPE;

typedef struct _NDK_RESULT_EX {
  NTSTATUS Status;
  ULONG BytesTransferred;
  PVOID QPContext;
  PVOID RequestContext;
  NDK_OPERATION_TYPE Type;
  ULONG ProviderErrorCode; /* NDKPI 2.1; occupies what used to be padding on x64 */
  ULONG_PTR TypeSpecificCompletionOutput;
} NDK_RESULT_EX;
/** @} */

/* ============================================================================================== */
/** @name Adapter information
 *  Limits and capabilities returned by NdkQueryAdapterInfo.
 *  @{ */
typedef enum _NDK_RDMA_TECHNOLOGY {
  NdkUndefined = 0,
  NdkiWarp = 1,
  NdkInfiniBand = 2,
  NdkRoCE = 3,
  NdkRoCEv2 = 4,
  NdkMaxTechnology = 5
} NDK_RDMA_TECHNOLOGY;

typedef struct _NDK_ADAPTER_INFO {
  NDK_VERSION Version;
  UINT32 VendorId;
  UINT32 DeviceId;
  SIZE_T MaxRegistrationSize;
  SIZE_T MaxWindowSize;
  ULONG FRMRPageCount;
  ULONG MaxInitiatorRequestSge;
  ULONG MaxReceiveRequestSge;
  ULONG MaxReadRequestSge;
  ULONG MaxTransferLength;
  ULONG MaxInlineDataSize;
  ULONG MaxInboundReadLimit;
  ULONG MaxOutboundReadLimit;
  ULONG MaxReceiveQueueDepth;
  ULONG MaxInitiatorQueueDepth;
  ULONG MaxSrqDepth;
  ULONG MaxCqDepth;
  ULONG LargeRequestThreshold;
  ULONG MaxCallerData;
  ULONG MaxCalleeData;
  ULONG AdapterFlags;
  NDK_RDMA_TECHNOLOGY RdmaTechnology; /* appended in a later revision of the structure */
} NDK_ADAPTER_INFO;

#define NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED 0x00000001
#define NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED 0x00000002
#define NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED 0x00000004
#define NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED 0x00000008
#define NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED 0x00000010
#define NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED 0x00000100
#define NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED 0x00010000
/** @} */

/* ============================================================================================== */
/** @name Scatter/gather elements and logical address mappings
 *  An SGE names local memory either by virtual address (normal MR token) or by adapter logical
 *  address (privileged PD token, address taken from a LAM built by NdkBuildLAM).
 *  @{ */
typedef PHYSICAL_ADDRESS NDK_LOGICAL_ADDRESS;

typedef struct _NDK_SGE {
  union {
    PVOID VirtualAddress;
    NDK_LOGICAL_ADDRESS LogicalAddress;
  };
  ULONG Length;
  UINT32 MemoryRegionToken;
} NDK_SGE;

/** Variable-length: the valid size is offsetof(AdapterPageArray) + 8 * AdapterPageCount. */
typedef struct _NDK_LOGICAL_ADDRESS_MAPPING {
  PVOID AdapterContext;
  ULONG AdapterPageCount;
  NDK_LOGICAL_ADDRESS AdapterPageArray[1];
} NDK_LOGICAL_ADDRESS_MAPPING;
/** @} */

/* ============================================================================================== */
/** @name Flag values
 *  Work-request flags (NDK_OP_FLAG_*), registration access flags (NDK_MR_FLAG_*) and CQ arm
 *  types (NDK_CQ_NOTIFY_*). Both REMOTE_WRITE values include their local-write bit.
 *  @{ */
#define NDK_OP_FLAG_SILENT_SUCCESS 0x00000001
#define NDK_OP_FLAG_READ_FENCE 0x00000002
#define NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT 0x00000004
#define NDK_OP_FLAG_ALLOW_REMOTE_READ 0x00000008
#define NDK_OP_FLAG_ALLOW_LOCAL_WRITE 0x00000010
#define NDK_OP_FLAG_ALLOW_REMOTE_WRITE 0x00000030
#define NDK_OP_FLAG_INLINE 0x00000040
#define NDK_OP_FLAG_RDMA_READ_SINK 0x00000080
#define NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE 0x00000100
#define NDK_OP_FLAG_DEFER 0x00000200

#define NDK_MR_FLAG_ALLOW_LOCAL_READ 0x00000000
#define NDK_MR_FLAG_ALLOW_LOCAL_WRITE 0x00000001
#define NDK_MR_FLAG_ALLOW_REMOTE_READ 0x00000002
#define NDK_MR_FLAG_ALLOW_REMOTE_WRITE 0x00000005
#define NDK_MR_FLAG_RDMA_READ_SINK 0x00000008

#define NDK_CQ_NOTIFY_ERRORS 0
#define NDK_CQ_NOTIFY_ANY 1
#define NDK_CQ_NOTIFY_SOLICITED 2
/** @} */

/* ============================================================================================== */
/** @name Object and dispatch-table forward declarations
 *  @{ */
typedef struct _NDK_ADAPTER NDK_ADAPTER;
typedef struct _NDK_CQ NDK_CQ;
typedef struct _NDK_MR NDK_MR;
typedef struct _NDK_MW NDK_MW;
typedef struct _NDK_SRQ NDK_SRQ;
typedef struct _NDK_QP NDK_QP;
typedef struct _NDK_PD NDK_PD;
typedef struct _NDK_SHARED_ENDPOINT NDK_SHARED_ENDPOINT;
typedef struct _NDK_CONNECTOR NDK_CONNECTOR;
typedef struct _NDK_LISTENER NDK_LISTENER;

typedef struct _NDK_ADAPTER_DISPATCH NDK_ADAPTER_DISPATCH;
typedef struct _NDK_CQ_DISPATCH NDK_CQ_DISPATCH;
typedef struct _NDK_MR_DISPATCH NDK_MR_DISPATCH;
typedef struct _NDK_MW_DISPATCH NDK_MW_DISPATCH;
typedef struct _NDK_SRQ_DISPATCH NDK_SRQ_DISPATCH;
typedef struct _NDK_QP_DISPATCH NDK_QP_DISPATCH;
typedef struct _NDK_PD_DISPATCH NDK_PD_DISPATCH;
typedef struct _NDK_SHARED_ENDPOINT_DISPATCH NDK_SHARED_ENDPOINT_DISPATCH;
typedef struct _NDK_CONNECTOR_DISPATCH NDK_CONNECTOR_DISPATCH;
typedef struct _NDK_LISTENER_DISPATCH NDK_LISTENER_DISPATCH;
/** @} */

/* ============================================================================================== */
/** @name Objects
 *  Each object is the common header followed by its dispatch table pointer. The provider sets
 *  Dispatch before handing the object out and never reads it back (consumers may replace it).
 *  @{ */
struct _NDK_ADAPTER {
  NDK_OBJECT_HEADER Header;
  CONST NDK_ADAPTER_DISPATCH* Dispatch;
};
struct _NDK_CQ {
  NDK_OBJECT_HEADER Header;
  CONST NDK_CQ_DISPATCH* Dispatch;
};
struct _NDK_MR {
  NDK_OBJECT_HEADER Header;
  CONST NDK_MR_DISPATCH* Dispatch;
};
struct _NDK_MW {
  NDK_OBJECT_HEADER Header;
  CONST NDK_MW_DISPATCH* Dispatch;
};
struct _NDK_SRQ {
  NDK_OBJECT_HEADER Header;
  CONST NDK_SRQ_DISPATCH* Dispatch;
};
struct _NDK_QP {
  NDK_OBJECT_HEADER Header;
  CONST NDK_QP_DISPATCH* Dispatch;
};
struct _NDK_PD {
  NDK_OBJECT_HEADER Header;
  CONST NDK_PD_DISPATCH* Dispatch;
};
struct _NDK_SHARED_ENDPOINT {
  NDK_OBJECT_HEADER Header;
  CONST NDK_SHARED_ENDPOINT_DISPATCH* Dispatch;
};
struct _NDK_CONNECTOR {
  NDK_OBJECT_HEADER Header;
  CONST NDK_CONNECTOR_DISPATCH* Dispatch;
};
struct _NDK_LISTENER {
  NDK_OBJECT_HEADER Header;
  CONST NDK_LISTENER_DISPATCH* Dispatch;
};
/** @} */

/* ============================================================================================== */
/** @name Consumer callbacks
 *  Supplied by the consumer, invoked by the provider. Completion callbacks end a call that
 *  returned STATUS_PENDING (and only such a call); event callbacks report unsolicited events.
 *  None of them may block.
 *  @{ */
typedef VOID (*NDK_FN_CLOSE_COMPLETION)(PVOID Context);

typedef VOID (*NDK_FN_CREATE_COMPLETION)(PVOID Context, NTSTATUS Status,
                                         NDK_OBJECT_HEADER* pNdkObject);

typedef VOID (*NDK_FN_REQUEST_COMPLETION)(PVOID Context, NTSTATUS Status);

typedef VOID (*NDK_FN_CQ_NOTIFICATION_CALLBACK)(PVOID CqNotificationContext, NTSTATUS CqStatus);

typedef VOID (*NDK_FN_SRQ_NOTIFICATION_CALLBACK)(PVOID SrqNotificationContext, NTSTATUS SrqStatus);

typedef VOID (*NDK_FN_CONNECT_EVENT_CALLBACK)(PVOID ConnectEventContext,
                                              NDK_CONNECTOR* pNdkConnector);

typedef VOID (*NDK_FN_DISCONNECT_EVENT_CALLBACK)(PVOID DisconnectEventContext);

/** NDKPI 2.1: like NDK_FN_DISCONNECT_EVENT_CALLBACK plus a provider reason code (0 = none). */
typedef VOID (*NDK_FN_DISCONNECT_EVENT_CALLBACK_EX)(PVOID DisconnectEventContext,
                                                    ULONG ProviderDisconnectReason);
/** @} */

/* ============================================================================================== */
/** @name Provider functions common to every object type
 *  @{ */
typedef NTSTATUS (*NDK_FN_CLOSE_OBJECT)(NDK_OBJECT_HEADER* pNdkObject,
                                        NDK_FN_CLOSE_COMPLETION CloseCompletion,
                                        PVOID RequestContext);

typedef NTSTATUS (*NDK_FN_QUERY_EXTENSION_INTERFACE)(NDK_OBJECT_HEADER* pNdkObject,
                                                     GUID* ExtensionInterfaceID,
                                                     NDK_VERSION ExtensionInterfaceVersion,
                                                     NDK_EXTENSION_INTERFACE* pExtensionInterface);
/** @} */

/* ============================================================================================== */
/** @name Adapter functions
 *  NdkQueryAdapterInfo (and the slot-less _EX variant) may block; everything else must not.
 *  @{ */
typedef NTSTATUS (*NDK_FN_QUERY_ADAPTER_INFO)(NDK_ADAPTER* pNdkAdapter, NDK_ADAPTER_INFO* pInfo,
                                              ULONG* pBufferSize);

/** Declared for completeness only: no dispatch table has a slot for it. */
typedef NTSTATUS (*NDK_FN_QUERY_ADAPTER_INFO_EX)(NDK_ADAPTER* pNdkAdapter, NDK_VERSION Version,
                                                 NDK_ADAPTER_INFO* pInfo, ULONG* pBufferSize);

typedef NTSTATUS (*NDK_FN_CREATE_CQ)(NDK_ADAPTER* pNdkAdapter, ULONG CqDepth,
                                     NDK_FN_CQ_NOTIFICATION_CALLBACK CqNotification,
                                     PVOID CqNotificationContext, GROUP_AFFINITY* Affinity,
                                     NDK_FN_CREATE_COMPLETION CreateCompletion,
                                     PVOID RequestContext, NDK_CQ** ppNdkCq);

typedef NTSTATUS (*NDK_FN_CREATE_PD)(NDK_ADAPTER* pNdkAdapter,
                                     NDK_FN_CREATE_COMPLETION CreateCompletion,
                                     PVOID RequestContext, NDK_PD** ppNdkPd);

typedef NTSTATUS (*NDK_FN_CREATE_SHARED_ENDPOINT)(NDK_ADAPTER* pNdkAdapter,
                                                  CONST PSOCKADDR pAddress, ULONG AddressLength,
                                                  NDK_FN_CREATE_COMPLETION CreateCompletion,
                                                  PVOID RequestContext,
                                                  NDK_SHARED_ENDPOINT** ppNdkSharedEndpoint);

typedef NTSTATUS (*NDK_FN_CREATE_CONNECTOR)(NDK_ADAPTER* pNdkAdapter,
                                            NDK_FN_CREATE_COMPLETION CreateCompletion,
                                            PVOID RequestContext, NDK_CONNECTOR** ppNdkConnector);

typedef NTSTATUS (*NDK_FN_CREATE_LISTENER)(NDK_ADAPTER* pNdkAdapter,
                                           NDK_FN_CONNECT_EVENT_CALLBACK ConnectEvent,
                                           PVOID ConnectEventContext,
                                           NDK_FN_CREATE_COMPLETION CreateCompletion,
                                           PVOID RequestContext, NDK_LISTENER** ppNdkListener);

typedef NTSTATUS (*NDK_FN_BUILD_LAM)(NDK_ADAPTER* pNdkAdapter, MDL* Mdl, SIZE_T Length,
                                     NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                     PVOID RequestContext, NDK_LOGICAL_ADDRESS_MAPPING* pNdkLAM,
                                     ULONG* pLAMSize, ULONG* pFBO);

typedef VOID (*NDK_FN_RELEASE_LAM)(NDK_ADAPTER* pNdkAdapter, NDK_LOGICAL_ADDRESS_MAPPING* pNdkLAM);
/** @} */

/* ============================================================================================== */
/** @name CQ functions
 *  @{ */
typedef NTSTATUS (*NDK_FN_RESIZE_CQ)(NDK_CQ* pNdkCq, ULONG CqDepth,
                                     NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                     PVOID RequestContext);

typedef VOID (*NDK_FN_ARM_CQ)(NDK_CQ* pNdkCq, ULONG Type);

typedef ULONG (*NDK_FN_GET_CQ_RESULTS)(NDK_CQ* pNdkCq, NDK_RESULT Results[], ULONG nResults);

typedef ULONG (*NDK_FN_GET_CQ_RESULTS_EX)(NDK_CQ* pNdkCq, NDK_RESULT_EX Results[], ULONG nResults);

typedef NTSTATUS (*NDK_FN_CONTROL_CQ_INTERRUPT_MODERATION)(NDK_CQ* pNdkCq, ULONG ModerationInterval,
                                                           ULONG ModerationCount);
/** @} */

/* ============================================================================================== */
/** @name PD functions
 *  @{ */
typedef NTSTATUS (*NDK_FN_CREATE_MR)(NDK_PD* pNdkPd, BOOLEAN FastRegister,
                                     NDK_FN_CREATE_COMPLETION CreateCompletion,
                                     PVOID RequestContext, NDK_MR** ppNdkMr);

typedef NTSTATUS (*NDK_FN_CREATE_MW)(NDK_PD* pNdkPd, NDK_FN_CREATE_COMPLETION CreateCompletion,
                                     PVOID RequestContext, NDK_MW** ppNdkMw);

typedef NTSTATUS (*NDK_FN_CREATE_SRQ)(NDK_PD* pNdkPd, ULONG SrqDepth, ULONG MaxReceiveRequestSge,
                                      ULONG NotifyThreshold,
                                      NDK_FN_SRQ_NOTIFICATION_CALLBACK SrqNotification,
                                      PVOID SrqNotificationContext, GROUP_AFFINITY* Affinity,
                                      NDK_FN_CREATE_COMPLETION CreateCompletion,
                                      PVOID RequestContext, NDK_SRQ** ppNdkSrq);

typedef NTSTATUS (*NDK_FN_CREATE_QP)(NDK_PD* pNdkPd, NDK_CQ* pReceiveCq, NDK_CQ* pInitiatorCq,
                                     PVOID QPContext, ULONG ReceiveQueueDepth,
                                     ULONG InitiatorQueueDepth, ULONG MaxReceiveRequestSge,
                                     ULONG MaxInitiatorRequestSge, ULONG InlineDataSize,
                                     NDK_FN_CREATE_COMPLETION CreateCompletion,
                                     PVOID RequestContext, NDK_QP** ppNdkQp);

typedef NTSTATUS (*NDK_FN_CREATE_QP_WITH_SRQ)(NDK_PD* pNdkPd, NDK_CQ* pReceiveCq,
                                              NDK_CQ* pInitiatorCq, NDK_SRQ* pSrq, PVOID QPContext,
                                              ULONG InitiatorQueueDepth,
                                              ULONG MaxInitiatorRequestSge, ULONG InlineDataSize,
                                              NDK_FN_CREATE_COMPLETION CreateCompletion,
                                              PVOID RequestContext, NDK_QP** ppNdkQp);

typedef VOID (*NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN)(NDK_PD* pNdkPd, UINT32* pToken);
/** @} */

/* ============================================================================================== */
/** @name MR and MW functions
 *  @{ */
typedef NTSTATUS (*NDK_FN_REGISTER_MR)(NDK_MR* pNdkMr, MDL* Mdl, SIZE_T Length, ULONG Flags,
                                       NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                       PVOID RequestContext);

typedef NTSTATUS (*NDK_FN_DEREGISTER_MR)(NDK_MR* pNdkMr,
                                         NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                         PVOID RequestContext);

typedef NTSTATUS (*NDK_FN_INITIALIZE_FAST_REGISTER_MR)(NDK_MR* pNdkMr, ULONG AdapterPageCount,
                                                       BOOLEAN RemoteAccess,
                                                       NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                                       PVOID RequestContext);

typedef UINT32 (*NDK_FN_GET_REMOTE_TOKEN_FROM_MR)(NDK_MR* pNdkMr);

typedef UINT32 (*NDK_FN_GET_LOCAL_TOKEN_FROM_MR)(NDK_MR* pNdkMr);

typedef UINT32 (*NDK_FN_GET_REMOTE_TOKEN_FROM_MW)(NDK_MW* pNdkMw);
/** @} */

/* ============================================================================================== */
/** @name SRQ functions
 *  @{ */
typedef NTSTATUS (*NDK_FN_MODIFY_SRQ)(NDK_SRQ* pNdkSrq, ULONG SrqDepth, ULONG NotifyThreshold,
                                      NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                      PVOID RequestContext);

typedef NTSTATUS (*NDK_FN_SRQ_RECEIVE)(NDK_SRQ* pNdkSrq, PVOID RequestContext, CONST NDK_SGE* pSgl,
                                       ULONG nSge);
/** @} */

/* ============================================================================================== */
/** @name QP functions (work requests)
 *  A STATUS_SUCCESS return means exactly one CQ entry will follow (none for a successful
 *  NDK_OP_FLAG_SILENT_SUCCESS request); any other return means nothing was queued.
 *  @{ */
typedef VOID (*NDK_FN_FLUSH)(NDK_QP* pNdkQp);

typedef NTSTATUS (*NDK_FN_SEND)(NDK_QP* pNdkQp, PVOID RequestContext, CONST NDK_SGE* pSgl,
                                ULONG nSge, ULONG Flags);

typedef NTSTATUS (*NDK_FN_RECEIVE)(NDK_QP* pNdkQp, PVOID RequestContext, CONST NDK_SGE* pSgl,
                                   ULONG nSge);

typedef NTSTATUS (*NDK_FN_BIND)(NDK_QP* pNdkQp, PVOID RequestContext, NDK_MR* pMr, NDK_MW* pMw,
                                PVOID VirtualAddress, SIZE_T Length, ULONG Flags);

typedef NTSTATUS (*NDK_FN_FAST_REGISTER)(NDK_QP* pNdkQp, PVOID RequestContext, NDK_MR* pMr,
                                         ULONG AdapterPageCount,
                                         CONST NDK_LOGICAL_ADDRESS* AdapterPageArray, ULONG FBO,
                                         SIZE_T Length, PVOID BaseVirtualAddress, ULONG Flags);

typedef NTSTATUS (*NDK_FN_INVALIDATE)(NDK_QP* pNdkQp, PVOID RequestContext,
                                      NDK_OBJECT_HEADER* pNdkMrOrMw, ULONG Flags);

typedef NTSTATUS (*NDK_FN_READ)(NDK_QP* pNdkQp, PVOID RequestContext, CONST NDK_SGE* pSgl,
                                ULONG nSge, UINT64 RemoteAddress, UINT32 RemoteToken, ULONG Flags);

typedef NTSTATUS (*NDK_FN_WRITE)(NDK_QP* pNdkQp, PVOID RequestContext, CONST NDK_SGE* pSgl,
                                 ULONG nSge, UINT64 RemoteAddress, UINT32 RemoteToken, ULONG Flags);

/** NDKPI 1.2. */
typedef NTSTATUS (*NDK_FN_SEND_AND_INVALIDATE)(NDK_QP* pNdkQp, PVOID RequestContext,
                                               CONST NDK_SGE* pSgl, ULONG nSge, ULONG Flags,
                                               UINT32 RemoteToken);
/** @} */

/* ============================================================================================== */
/** @name Shared endpoint function
 *  @{ */
typedef NTSTATUS (*NDK_FN_GET_SHARED_ENDPOINT_LOCAL_ADDRESS)(
    NDK_SHARED_ENDPOINT* pNdkSharedEndpoint, PSOCKADDR pAddress, ULONG* pAddressLength);
/** @} */

/* ============================================================================================== */
/** @name Connector functions
 *  Note the NdkReject argument order: private-data pointer, then its length.
 *  @{ */
typedef NTSTATUS (*NDK_FN_CONNECT)(NDK_CONNECTOR* pNdkConnector, NDK_QP* pNdkQp,
                                   CONST PSOCKADDR pSrcAddress, ULONG SrcAddressLength,
                                   CONST PSOCKADDR pDestAddress, ULONG DestAddressLength,
                                   ULONG InboundReadLimit, ULONG OutboundReadLimit,
                                   CONST PVOID pPrivateData, ULONG PrivateDataLength,
                                   NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                   PVOID RequestContext);

typedef NTSTATUS (*NDK_FN_CONNECT_WITH_SHARED_ENDPOINT)(
    NDK_CONNECTOR* pNdkConnector, NDK_QP* pNdkQp, NDK_SHARED_ENDPOINT* pNdkSharedEndpoint,
    CONST PSOCKADDR pDestAddress, ULONG DestAddressLength, ULONG InboundReadLimit,
    ULONG OutboundReadLimit, CONST PVOID pPrivateData, ULONG PrivateDataLength,
    NDK_FN_REQUEST_COMPLETION RequestCompletion, PVOID RequestContext);

typedef NTSTATUS (*NDK_FN_COMPLETE_CONNECT)(NDK_CONNECTOR* pNdkConnector,
                                            NDK_FN_DISCONNECT_EVENT_CALLBACK DisconnectEvent,
                                            PVOID DisconnectEventContext,
                                            NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                            PVOID RequestContext);

typedef NTSTATUS (*NDK_FN_ACCEPT)(NDK_CONNECTOR* pNdkConnector, NDK_QP* pNdkQp,
                                  ULONG InboundReadLimit, ULONG OutboundReadLimit,
                                  CONST PVOID pPrivateData, ULONG PrivateDataLength,
                                  NDK_FN_DISCONNECT_EVENT_CALLBACK DisconnectEvent,
                                  PVOID DisconnectEventContext,
                                  NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                  PVOID RequestContext);

typedef NTSTATUS (*NDK_FN_REJECT)(NDK_CONNECTOR* pNdkConnector, CONST PVOID pPrivateData,
                                  ULONG PrivateDataLength);

typedef NTSTATUS (*NDK_FN_GET_CONNECTION_DATA)(NDK_CONNECTOR* pNdkConnector,
                                               ULONG* pInboundReadLimit, ULONG* pOutboundReadLimit,
                                               PVOID pPrivateData, ULONG* pPrivateDataLength);

typedef NTSTATUS (*NDK_FN_GET_LOCAL_ADDRESS)(NDK_CONNECTOR* pNdkConnector, PSOCKADDR pAddress,
                                             ULONG* pAddressLength);

typedef NTSTATUS (*NDK_FN_GET_PEER_ADDRESS)(NDK_CONNECTOR* pNdkConnector, PSOCKADDR pAddress,
                                            ULONG* pAddressLength);

typedef NTSTATUS (*NDK_FN_DISCONNECT)(NDK_CONNECTOR* pNdkConnector,
                                      NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                      PVOID RequestContext);

/** Declared for completeness only: no dispatch table has a slot for it. */
typedef NTSTATUS (*NDK_FN_DISCONNECT_EX)(NDK_CONNECTOR* pNdkConnector, BOOLEAN Abortive,
                                         NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                         PVOID RequestContext);

/** NDKPI 2.1. */
typedef NTSTATUS (*NDK_FN_COMPLETE_CONNECT_EX)(NDK_CONNECTOR* pNdkConnector,
                                               NDK_FN_DISCONNECT_EVENT_CALLBACK_EX DisconnectEvent,
                                               PVOID DisconnectEventContext,
                                               NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                               PVOID RequestContext);

/** NDKPI 2.1. */
typedef NTSTATUS (*NDK_FN_ACCEPT_EX)(NDK_CONNECTOR* pNdkConnector, NDK_QP* pNdkQp,
                                     ULONG InboundReadLimit, ULONG OutboundReadLimit,
                                     CONST PVOID pPrivateData, ULONG PrivateDataLength,
                                     NDK_FN_DISCONNECT_EVENT_CALLBACK_EX DisconnectEvent,
                                     PVOID DisconnectEventContext,
                                     NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                     PVOID RequestContext);
/** @} */

/* ============================================================================================== */
/** @name Listener functions
 *  @{ */
typedef NTSTATUS (*NDK_FN_LISTEN)(NDK_LISTENER* pNdkListener, CONST PSOCKADDR pAddress,
                                  ULONG AddressLength, NDK_FN_REQUEST_COMPLETION RequestCompletion,
                                  PVOID RequestContext);

typedef NTSTATUS (*NDK_FN_GET_LISTENER_LOCAL_ADDRESS)(NDK_LISTENER* pNdkListener,
                                                      PSOCKADDR pAddress, ULONG* pAddressLength);

typedef VOID (*NDK_FN_CONTROL_CONNECT_EVENTS)(NDK_LISTENER* pNdkListener, BOOLEAN Pause);
/** @} */

/* ============================================================================================== */
/** @name Dispatch tables
 *  Plain arrays of function pointers in a fixed order, without size or version field: consumers
 *  gate the later slots on the negotiated version. A provider fills every slot. The adapter has
 *  no close slot (it is closed through the host hook).
 *  @{ */
struct _NDK_ADAPTER_DISPATCH {
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_QUERY_ADAPTER_INFO NdkQueryAdapterInfo;
  NDK_FN_CREATE_CQ NdkCreateCq;
  NDK_FN_CREATE_PD NdkCreatePd;
  NDK_FN_CREATE_SHARED_ENDPOINT NdkCreateSharedEndpoint;
  NDK_FN_CREATE_CONNECTOR NdkCreateConnector;
  NDK_FN_CREATE_LISTENER NdkCreateListener;
  NDK_FN_BUILD_LAM NdkBuildLAM;
  NDK_FN_RELEASE_LAM NdkReleaseLAM;
};

struct _NDK_CQ_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseCq;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_RESIZE_CQ NdkResizeCq;
  NDK_FN_ARM_CQ NdkArmCq;
  NDK_FN_GET_CQ_RESULTS NdkGetCqResults;
  NDK_FN_CONTROL_CQ_INTERRUPT_MODERATION NdkControlCqInterruptModeration;
  NDK_FN_GET_CQ_RESULTS_EX NdkGetCqResultsEx; /* NDKPI 1.2 */
};

struct _NDK_MR_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseMr;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_REGISTER_MR NdkRegisterMr;
  NDK_FN_DEREGISTER_MR NdkDeregisterMr;
  NDK_FN_INITIALIZE_FAST_REGISTER_MR NdkInitializeFastRegisterMr;
  NDK_FN_GET_REMOTE_TOKEN_FROM_MR NdkGetRemoteTokenFromMr;
  NDK_FN_GET_LOCAL_TOKEN_FROM_MR NdkGetLocalTokenFromMr;
};

struct _NDK_MW_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseMw;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_GET_REMOTE_TOKEN_FROM_MW NdkGetRemoteTokenFromMw;
};

struct _NDK_SRQ_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseSrq;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_MODIFY_SRQ NdkModifySrq;
  NDK_FN_SRQ_RECEIVE NdkSrqReceive;
};

struct _NDK_QP_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseQp;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_FLUSH NdkFlush;
  NDK_FN_SEND NdkSend;
  NDK_FN_RECEIVE NdkReceive;
  NDK_FN_BIND NdkBind;
  NDK_FN_FAST_REGISTER NdkFastRegister;
  NDK_FN_INVALIDATE NdkInvalidate;
  NDK_FN_READ NdkRead;
  NDK_FN_WRITE NdkWrite;
  NDK_FN_SEND_AND_INVALIDATE NdkSendAndInvalidate; /* NDKPI 1.2 */
};

struct _NDK_PD_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkClosePd;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_CREATE_MR NdkCreateMr;
  NDK_FN_CREATE_MW NdkCreateMw;
  NDK_FN_CREATE_SRQ NdkCreateSrq;
  NDK_FN_CREATE_QP NdkCreateQp;
  NDK_FN_CREATE_QP_WITH_SRQ NdkCreateQpWithSrq;
  NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN NdkGetPrivilegedMemoryRegionToken;
};

struct _NDK_SHARED_ENDPOINT_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseSharedEndpoint;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_GET_SHARED_ENDPOINT_LOCAL_ADDRESS NdkGetLocalAddress;
};

struct _NDK_CONNECTOR_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseConnector;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_CONNECT NdkConnect;
  NDK_FN_CONNECT_WITH_SHARED_ENDPOINT NdkConnectWithSharedEndpoint;
  NDK_FN_COMPLETE_CONNECT NdkCompleteConnect;
  NDK_FN_ACCEPT NdkAccept;
  NDK_FN_REJECT NdkReject;
  NDK_FN_GET_CONNECTION_DATA NdkGetConnectionData;
  NDK_FN_GET_LOCAL_ADDRESS NdkGetLocalAddress;
  NDK_FN_GET_PEER_ADDRESS NdkGetPeerAddress;
  NDK_FN_DISCONNECT NdkDisconnect;
  NDK_FN_COMPLETE_CONNECT_EX NdkCompleteConnectEx; /* NDKPI 2.1 */
  NDK_FN_ACCEPT_EX NdkAcceptEx;                    /* NDKPI 2.1 */
};

struct _NDK_LISTENER_DISPATCH {
  NDK_FN_CLOSE_OBJECT NdkCloseListener;
  NDK_FN_QUERY_EXTENSION_INTERFACE NdkQueryExtension;
  NDK_FN_LISTEN NdkListen;
  NDK_FN_GET_LISTENER_LOCAL_ADDRESS NdkGetLocalAddress;
  NDK_FN_CONTROL_CONNECT_EVENTS NdkControlConnectEvents;
};
/** @} */

/* ============================================================================================== */
/** @name Host (NDIS) adapter open/close hooks
 *  How a host creates and destroys adapter instances. Both hooks may block and must never be
 *  called from inside an NDK callback. The requested version carries the major and the lowest
 *  minor the consumer accepts; the provider answers with its highest minor of that major.
 *  @{ */
#ifndef SOFTNDK_NDIS_OBJECT_HEADER_DEFINED
#define SOFTNDK_NDIS_OBJECT_HEADER_DEFINED
/** Minimal NDIS structure header (type tag, revision, size in bytes). */
typedef struct _NDIS_OBJECT_HEADER {
  UCHAR Type;
  UCHAR Revision;
  USHORT Size;
} NDIS_OBJECT_HEADER, *PNDIS_OBJECT_HEADER;
#endif

typedef struct _NDIS_OPEN_NDK_ADAPTER_PARAMETERS {
  NDK_VERSION Version;
  ULONG SwitchId;
  ULONG VPortId;
} NDIS_OPEN_NDK_ADAPTER_PARAMETERS, *PNDIS_OPEN_NDK_ADAPTER_PARAMETERS;

typedef NDIS_STATUS (*OPEN_NDK_ADAPTER_HANDLER)(NDIS_HANDLE MiniportAdapterContext,
                                                PNDIS_OPEN_NDK_ADAPTER_PARAMETERS Parameters,
                                                NDK_ADAPTER** ppNdkAdapter);

typedef VOID (*CLOSE_NDK_ADAPTER_HANDLER)(NDIS_HANDLE MiniportAdapterContext,
                                          NDK_ADAPTER* pNdkAdapter);

typedef struct _NDIS_NDK_PROVIDER_CHARACTERISTICS {
  NDIS_OBJECT_HEADER Header;
  ULONG Flags; /* 0 */
  OPEN_NDK_ADAPTER_HANDLER OpenNDKAdapterHandler;
  CLOSE_NDK_ADAPTER_HANDLER CloseNDKAdapterHandler;
} NDIS_NDK_PROVIDER_CHARACTERISTICS, *PNDIS_NDK_PROVIDER_CHARACTERISTICS;
/** @} */

/* ============================================================================================== */
/** @name Layout checks
 *  Widths that hold on every target, then the x64 offsets and sizes of the interface (checked
 *  only when pointers are 64 bits wide; 32-bit targets are not supported by NDKPI 2.1).
 *  @{ */
SOFTNDK_STATIC_ASSERT(sizeof(ULONG) == 4, "ULONG must be 32 bits");
SOFTNDK_STATIC_ASSERT(sizeof(USHORT) == 2, "USHORT must be 16 bits");
SOFTNDK_STATIC_ASSERT(sizeof(BOOLEAN) == 1, "BOOLEAN must be 1 byte");
SOFTNDK_STATIC_ASSERT(sizeof(NTSTATUS) == 4, "NTSTATUS must be 32 bits");
SOFTNDK_STATIC_ASSERT(sizeof(GUID) == 16, "GUID must be 16 bytes");
SOFTNDK_STATIC_ASSERT(sizeof(LARGE_INTEGER) == 8, "LARGE_INTEGER must be 8 bytes");
SOFTNDK_STATIC_ASSERT(sizeof(NDK_VERSION) == 4, "NDK_VERSION must be 4 bytes");
SOFTNDK_STATIC_ASSERT(sizeof(NDK_OBJECT_TYPE) == 4, "NDK_OBJECT_TYPE must be 4 bytes");
SOFTNDK_STATIC_ASSERT(sizeof(NDK_OPERATION_TYPE) == 4, "NDK_OPERATION_TYPE must be 4 bytes");
SOFTNDK_STATIC_ASSERT(sizeof(NDK_RDMA_TECHNOLOGY) == 4, "NDK_RDMA_TECHNOLOGY must be 4 bytes");
SOFTNDK_STATIC_ASSERT(sizeof(NDIS_OPEN_NDK_ADAPTER_PARAMETERS) == 12,
                      "NDIS_OPEN_NDK_ADAPTER_PARAMETERS must be 12 bytes");

#if UINTPTR_MAX == UINT64_MAX
#define SOFTNDK_ASSERT_SIZE(type, size) \
  SOFTNDK_STATIC_ASSERT(sizeof(type) == (size), "x64 size of " #type)
#define SOFTNDK_ASSERT_OFFSET(type, member, off) \
  SOFTNDK_STATIC_ASSERT(offsetof(type, member) == (off), "x64 offset of " #type "." #member)

SOFTNDK_ASSERT_SIZE(NDK_OBJECT_HEADER_RESERVED_BLOCK, 0x20);
SOFTNDK_ASSERT_OFFSET(NDK_OBJECT_HEADER, Version, 0x00);
SOFTNDK_ASSERT_OFFSET(NDK_OBJECT_HEADER, ObjectType, 0x04);
SOFTNDK_ASSERT_OFFSET(NDK_OBJECT_HEADER, NdkReserved, 0x08);
SOFTNDK_ASSERT_SIZE(NDK_OBJECT_HEADER, 0x28);

SOFTNDK_ASSERT_SIZE(NDK_ADAPTER, 0x30);
SOFTNDK_ASSERT_SIZE(NDK_CQ, 0x30);
SOFTNDK_ASSERT_SIZE(NDK_MR, 0x30);
SOFTNDK_ASSERT_SIZE(NDK_MW, 0x30);
SOFTNDK_ASSERT_SIZE(NDK_SRQ, 0x30);
SOFTNDK_ASSERT_SIZE(NDK_QP, 0x30);
SOFTNDK_ASSERT_SIZE(NDK_PD, 0x30);
SOFTNDK_ASSERT_SIZE(NDK_SHARED_ENDPOINT, 0x30);
SOFTNDK_ASSERT_SIZE(NDK_CONNECTOR, 0x30);
SOFTNDK_ASSERT_SIZE(NDK_LISTENER, 0x30);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER, Dispatch, 0x28);
SOFTNDK_ASSERT_OFFSET(NDK_CQ, Dispatch, 0x28);
SOFTNDK_ASSERT_OFFSET(NDK_MR, Dispatch, 0x28);
SOFTNDK_ASSERT_OFFSET(NDK_MW, Dispatch, 0x28);
SOFTNDK_ASSERT_OFFSET(NDK_SRQ, Dispatch, 0x28);
SOFTNDK_ASSERT_OFFSET(NDK_QP, Dispatch, 0x28);
SOFTNDK_ASSERT_OFFSET(NDK_PD, Dispatch, 0x28);
SOFTNDK_ASSERT_OFFSET(NDK_SHARED_ENDPOINT, Dispatch, 0x28);
SOFTNDK_ASSERT_OFFSET(NDK_CONNECTOR, Dispatch, 0x28);
SOFTNDK_ASSERT_OFFSET(NDK_LISTENER, Dispatch, 0x28);

SOFTNDK_ASSERT_OFFSET(NDK_RESULT, Status, 0x00);
SOFTNDK_ASSERT_OFFSET(NDK_RESULT, BytesTransferred, 0x04);
SOFTNDK_ASSERT_OFFSET(NDK_RESULT, QPContext, 0x08);
SOFTNDK_ASSERT_OFFSET(NDK_RESULT, RequestContext, 0x10);
SOFTNDK_ASSERT_SIZE(NDK_RESULT, 0x18);
SOFTNDK_ASSERT_OFFSET(NDK_RESULT_EX, Status, 0x00);
SOFTNDK_ASSERT_OFFSET(NDK_RESULT_EX, BytesTransferred, 0x04);
SOFTNDK_ASSERT_OFFSET(NDK_RESULT_EX, QPContext, 0x08);
SOFTNDK_ASSERT_OFFSET(NDK_RESULT_EX, RequestContext, 0x10);
SOFTNDK_ASSERT_OFFSET(NDK_RESULT_EX, Type, 0x18);
SOFTNDK_ASSERT_OFFSET(NDK_RESULT_EX, ProviderErrorCode, 0x1C);
SOFTNDK_ASSERT_OFFSET(NDK_RESULT_EX, TypeSpecificCompletionOutput, 0x20);
SOFTNDK_ASSERT_SIZE(NDK_RESULT_EX, 0x28);

SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, Version, 0x00);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, VendorId, 0x04);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, DeviceId, 0x08);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxRegistrationSize, 0x10);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxWindowSize, 0x18);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, FRMRPageCount, 0x20);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxInitiatorRequestSge, 0x24);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxReceiveRequestSge, 0x28);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxReadRequestSge, 0x2C);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxTransferLength, 0x30);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxInlineDataSize, 0x34);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxInboundReadLimit, 0x38);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxOutboundReadLimit, 0x3C);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxReceiveQueueDepth, 0x40);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxInitiatorQueueDepth, 0x44);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxSrqDepth, 0x48);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxCqDepth, 0x4C);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, LargeRequestThreshold, 0x50);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxCallerData, 0x54);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, MaxCalleeData, 0x58);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, AdapterFlags, 0x5C);
SOFTNDK_ASSERT_OFFSET(NDK_ADAPTER_INFO, RdmaTechnology, 0x60);
SOFTNDK_ASSERT_SIZE(NDK_ADAPTER_INFO, 0x68);

SOFTNDK_ASSERT_OFFSET(NDK_SGE, VirtualAddress, 0x00);
SOFTNDK_ASSERT_OFFSET(NDK_SGE, LogicalAddress, 0x00);
SOFTNDK_ASSERT_OFFSET(NDK_SGE, Length, 0x08);
SOFTNDK_ASSERT_OFFSET(NDK_SGE, MemoryRegionToken, 0x0C);
SOFTNDK_ASSERT_SIZE(NDK_SGE, 0x10);

SOFTNDK_ASSERT_OFFSET(NDK_LOGICAL_ADDRESS_MAPPING, AdapterContext, 0x00);
SOFTNDK_ASSERT_OFFSET(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageCount, 0x08);
SOFTNDK_ASSERT_OFFSET(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageArray, 0x10);
SOFTNDK_ASSERT_SIZE(NDK_EXTENSION_INTERFACE, 0x08);
SOFTNDK_ASSERT_SIZE(GROUP_AFFINITY, 0x10);

SOFTNDK_ASSERT_SIZE(NDK_ADAPTER_DISPATCH, 0x48);
SOFTNDK_ASSERT_SIZE(NDK_CQ_DISPATCH, 0x38);
SOFTNDK_ASSERT_SIZE(NDK_MR_DISPATCH, 0x38);
SOFTNDK_ASSERT_SIZE(NDK_MW_DISPATCH, 0x18);
SOFTNDK_ASSERT_SIZE(NDK_SRQ_DISPATCH, 0x20);
SOFTNDK_ASSERT_SIZE(NDK_QP_DISPATCH, 0x58);
SOFTNDK_ASSERT_SIZE(NDK_PD_DISPATCH, 0x40);
SOFTNDK_ASSERT_SIZE(NDK_SHARED_ENDPOINT_DISPATCH, 0x18);
SOFTNDK_ASSERT_SIZE(NDK_CONNECTOR_DISPATCH, 0x68);
SOFTNDK_ASSERT_SIZE(NDK_LISTENER_DISPATCH, 0x28);

SOFTNDK_ASSERT_SIZE(NDIS_NDK_PROVIDER_CHARACTERISTICS, 0x18);

#undef SOFTNDK_ASSERT_SIZE
#undef SOFTNDK_ASSERT_OFFSET
#endif /* UINTPTR_MAX == UINT64_MAX */
/** @} */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SOFTNDK_NDKPI_H_ */
