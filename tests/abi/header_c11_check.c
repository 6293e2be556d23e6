/* Compile-only check: the public headers must build as strict ISO C11 with warnings as errors.
 * Also checks, at compile time, that a C provider can fill every dispatch table by slot name and
 * that the NDK constants are usable in constant expressions. */
#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <softndk/ndkpi.h> /* second inclusion must be harmless */

_Static_assert(NT_SUCCESS(STATUS_SUCCESS), "success is success");
_Static_assert(NT_SUCCESS(STATUS_PENDING), "STATUS_PENDING is success-class");
_Static_assert(NT_SUCCESS(STATUS_TIMEOUT), "STATUS_TIMEOUT is success-class");
_Static_assert(!NT_SUCCESS(STATUS_BUFFER_OVERFLOW), "warnings are not success");
_Static_assert(!NT_SUCCESS(STATUS_CANCELLED), "errors are not success");
_Static_assert(NDIS_STATUS_RESOURCES == STATUS_INSUFFICIENT_RESOURCES, "NDIS alias");
_Static_assert(NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE == 0x100, "header value, not the doc's");
_Static_assert(NDK_OP_FLAG_DEFER == 0x200, "DEFER");
_Static_assert((NDK_OP_FLAG_ALLOW_REMOTE_WRITE & NDK_OP_FLAG_ALLOW_LOCAL_WRITE) != 0,
               "remote write includes local write");
_Static_assert((NDK_MR_FLAG_ALLOW_REMOTE_WRITE & NDK_MR_FLAG_ALLOW_LOCAL_WRITE) != 0,
               "remote write includes local write");
_Static_assert(NdkOperationTypeReceiveAndInvalidate == (NdkOperationTypeReceive | 0x8000),
               "receive-and-invalidate is receive with bit 15");
_Static_assert(SOFTNDK_NDK_VERSION_MAJOR == 2 && SOFTNDK_NDK_VERSION_MINOR == 1, "version 2.1");
_Static_assert(PAGE_SIZE == 4096, "NDK adapter page size");
_Static_assert(sizeof(ULONG) == 4, "ULONG is 32-bit in C too");

/* Stub provider functions with exactly the typedef'd signatures. */
static NTSTATUS StubClose(NDK_OBJECT_HEADER* pNdkObject, NDK_FN_CLOSE_COMPLETION CloseCompletion,
                          PVOID RequestContext) {
  (void)pNdkObject;
  (void)CloseCompletion;
  (void)RequestContext;
  return STATUS_SUCCESS;
}
static NTSTATUS StubQueryExtension(NDK_OBJECT_HEADER* pNdkObject, GUID* ExtensionInterfaceID,
                                   NDK_VERSION ExtensionInterfaceVersion,
                                   NDK_EXTENSION_INTERFACE* pExtensionInterface) {
  (void)pNdkObject;
  (void)ExtensionInterfaceID;
  (void)ExtensionInterfaceVersion;
  (void)pExtensionInterface;
  return STATUS_NOT_SUPPORTED;
}
static NTSTATUS StubReject(NDK_CONNECTOR* pNdkConnector, CONST PVOID pPrivateData,
                           ULONG PrivateDataLength) {
  (void)pNdkConnector;
  (void)pPrivateData;
  (void)PrivateDataLength;
  return STATUS_SUCCESS;
}
static VOID StubArmCq(NDK_CQ* pNdkCq, ULONG Type) {
  (void)pNdkCq;
  (void)Type;
}
static ULONG StubGetCqResultsEx(NDK_CQ* pNdkCq, NDK_RESULT_EX Results[], ULONG nResults) {
  (void)pNdkCq;
  (void)Results;
  (void)nResults;
  return 0;
}

const NDK_CONNECTOR_DISPATCH softndk_c11_connector_dispatch = {
    .NdkCloseConnector = StubClose,
    .NdkQueryExtension = StubQueryExtension,
    .NdkReject = StubReject,
    .NdkAcceptEx = NULL,
};
const NDK_CQ_DISPATCH softndk_c11_cq_dispatch = {
    .NdkCloseCq = StubClose,
    .NdkQueryExtension = StubQueryExtension,
    .NdkArmCq = StubArmCq,
    .NdkGetCqResultsEx = StubGetCqResultsEx,
};

/* Header helpers and unnamed members are usable from C. */
SIZE_T softndk_c11_mdl_total(const MDL* mdl);
SIZE_T softndk_c11_mdl_total(const MDL* mdl) {
  SIZE_T total = 0;
  for (; mdl != NULL; mdl = mdl->Next) {
    total += MmGetMdlByteCount(mdl);
    (void)MmGetMdlVirtualAddress(mdl);
    (void)MmGetMdlByteOffset(mdl);
  }
  return total;
}

uint32_t softndk_c11_low_part(NDK_SGE sge);
uint32_t softndk_c11_low_part(NDK_SGE sge) {
  return sge.LogicalAddress.LowPart;
}
