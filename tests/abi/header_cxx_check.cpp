// Compile-only check: the public headers build as C++20 with warnings as errors, and every NDK
// function typedef and dispatch slot has exactly the signature transcribed independently below
// from the NDKPI definitions (parameter order included; top-level CONST vanishes from the type).
#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <cstdint>
#include <type_traits>

namespace {

using std::is_same_v;
using u8 = std::uint8_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using i32 = std::int32_t;
using Sa = sockaddr;

// ---- base types ----
static_assert(is_same_v<NTSTATUS, i32>);
static_assert(is_same_v<ULONG, u32>);
static_assert(is_same_v<USHORT, std::uint16_t>);
static_assert(is_same_v<UINT32, u32>);
static_assert(is_same_v<UINT64, u64>);
static_assert(is_same_v<BOOLEAN, u8>);
static_assert(is_same_v<SIZE_T, std::size_t>);
static_assert(is_same_v<ULONG_PTR, std::uintptr_t>);
static_assert(is_same_v<PVOID, void*>);
static_assert(is_same_v<PSOCKADDR, sockaddr*>);
static_assert(is_same_v<NDIS_STATUS, i32>);
static_assert(is_same_v<NDIS_HANDLE, void*>);
static_assert(is_same_v<NDK_LOGICAL_ADDRESS, LARGE_INTEGER>);
static_assert(is_same_v<PMDL, MDL*>);
static_assert(std::is_signed_v<NTSTATUS> && std::is_unsigned_v<ULONG>);

// ---- consumer callbacks (8) ----
static_assert(is_same_v<NDK_FN_CLOSE_COMPLETION, void (*)(void*)>);
static_assert(is_same_v<NDK_FN_CREATE_COMPLETION, void (*)(void*, i32, NDK_OBJECT_HEADER*)>);
static_assert(is_same_v<NDK_FN_REQUEST_COMPLETION, void (*)(void*, i32)>);
static_assert(is_same_v<NDK_FN_CQ_NOTIFICATION_CALLBACK, void (*)(void*, i32)>);
static_assert(is_same_v<NDK_FN_SRQ_NOTIFICATION_CALLBACK, void (*)(void*, i32)>);
static_assert(is_same_v<NDK_FN_CONNECT_EVENT_CALLBACK, void (*)(void*, NDK_CONNECTOR*)>);
static_assert(is_same_v<NDK_FN_DISCONNECT_EVENT_CALLBACK, void (*)(void*)>);
static_assert(is_same_v<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, void (*)(void*, u32)>);

using CreateCb = NDK_FN_CREATE_COMPLETION;
using ReqCb = NDK_FN_REQUEST_COMPLETION;

// ---- provider functions (55) ----
static_assert(
    is_same_v<NDK_FN_CLOSE_OBJECT, i32 (*)(NDK_OBJECT_HEADER*, NDK_FN_CLOSE_COMPLETION, void*)>);
static_assert(is_same_v<NDK_FN_QUERY_EXTENSION_INTERFACE,
                        i32 (*)(NDK_OBJECT_HEADER*, GUID*, NDK_VERSION, NDK_EXTENSION_INTERFACE*)>);
static_assert(is_same_v<NDK_FN_QUERY_ADAPTER_INFO, i32 (*)(NDK_ADAPTER*, NDK_ADAPTER_INFO*, u32*)>);
static_assert(is_same_v<NDK_FN_QUERY_ADAPTER_INFO_EX,
                        i32 (*)(NDK_ADAPTER*, NDK_VERSION, NDK_ADAPTER_INFO*, u32*)>);
static_assert(
    is_same_v<NDK_FN_CREATE_CQ, i32 (*)(NDK_ADAPTER*, u32, NDK_FN_CQ_NOTIFICATION_CALLBACK, void*,
                                        GROUP_AFFINITY*, CreateCb, void*, NDK_CQ**)>);
static_assert(is_same_v<NDK_FN_CREATE_PD, i32 (*)(NDK_ADAPTER*, CreateCb, void*, NDK_PD**)>);
static_assert(is_same_v<NDK_FN_CREATE_SHARED_ENDPOINT,
                        i32 (*)(NDK_ADAPTER*, Sa*, u32, CreateCb, void*, NDK_SHARED_ENDPOINT**)>);
static_assert(
    is_same_v<NDK_FN_CREATE_CONNECTOR, i32 (*)(NDK_ADAPTER*, CreateCb, void*, NDK_CONNECTOR**)>);
static_assert(is_same_v<NDK_FN_CREATE_LISTENER, i32 (*)(NDK_ADAPTER*, NDK_FN_CONNECT_EVENT_CALLBACK,
                                                        void*, CreateCb, void*, NDK_LISTENER**)>);
static_assert(is_same_v<NDK_FN_BUILD_LAM, i32 (*)(NDK_ADAPTER*, MDL*, std::size_t, ReqCb, void*,
                                                  NDK_LOGICAL_ADDRESS_MAPPING*, u32*, u32*)>);
static_assert(is_same_v<NDK_FN_RELEASE_LAM, void (*)(NDK_ADAPTER*, NDK_LOGICAL_ADDRESS_MAPPING*)>);
static_assert(is_same_v<NDK_FN_RESIZE_CQ, i32 (*)(NDK_CQ*, u32, ReqCb, void*)>);
static_assert(is_same_v<NDK_FN_ARM_CQ, void (*)(NDK_CQ*, u32)>);
static_assert(is_same_v<NDK_FN_GET_CQ_RESULTS, u32 (*)(NDK_CQ*, NDK_RESULT*, u32)>);
static_assert(is_same_v<NDK_FN_CONTROL_CQ_INTERRUPT_MODERATION, i32 (*)(NDK_CQ*, u32, u32)>);
static_assert(is_same_v<NDK_FN_GET_CQ_RESULTS_EX, u32 (*)(NDK_CQ*, NDK_RESULT_EX*, u32)>);
static_assert(is_same_v<NDK_FN_CREATE_MR, i32 (*)(NDK_PD*, u8, CreateCb, void*, NDK_MR**)>);
static_assert(is_same_v<NDK_FN_CREATE_MW, i32 (*)(NDK_PD*, CreateCb, void*, NDK_MW**)>);
static_assert(
    is_same_v<NDK_FN_CREATE_SRQ, i32 (*)(NDK_PD*, u32, u32, u32, NDK_FN_SRQ_NOTIFICATION_CALLBACK,
                                         void*, GROUP_AFFINITY*, CreateCb, void*, NDK_SRQ**)>);
static_assert(is_same_v<NDK_FN_CREATE_QP, i32 (*)(NDK_PD*, NDK_CQ*, NDK_CQ*, void*, u32, u32, u32,
                                                  u32, u32, CreateCb, void*, NDK_QP**)>);
static_assert(
    is_same_v<NDK_FN_CREATE_QP_WITH_SRQ, i32 (*)(NDK_PD*, NDK_CQ*, NDK_CQ*, NDK_SRQ*, void*, u32,
                                                 u32, u32, CreateCb, void*, NDK_QP**)>);
static_assert(is_same_v<NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN, void (*)(NDK_PD*, u32*)>);
static_assert(
    is_same_v<NDK_FN_REGISTER_MR, i32 (*)(NDK_MR*, MDL*, std::size_t, u32, ReqCb, void*)>);
static_assert(is_same_v<NDK_FN_DEREGISTER_MR, i32 (*)(NDK_MR*, ReqCb, void*)>);
static_assert(
    is_same_v<NDK_FN_INITIALIZE_FAST_REGISTER_MR, i32 (*)(NDK_MR*, u32, u8, ReqCb, void*)>);
static_assert(is_same_v<NDK_FN_GET_REMOTE_TOKEN_FROM_MR, u32 (*)(NDK_MR*)>);
static_assert(is_same_v<NDK_FN_GET_LOCAL_TOKEN_FROM_MR, u32 (*)(NDK_MR*)>);
static_assert(is_same_v<NDK_FN_GET_REMOTE_TOKEN_FROM_MW, u32 (*)(NDK_MW*)>);
static_assert(is_same_v<NDK_FN_MODIFY_SRQ, i32 (*)(NDK_SRQ*, u32, u32, ReqCb, void*)>);
static_assert(is_same_v<NDK_FN_SRQ_RECEIVE, i32 (*)(NDK_SRQ*, void*, const NDK_SGE*, u32)>);
static_assert(is_same_v<NDK_FN_FLUSH, void (*)(NDK_QP*)>);
static_assert(is_same_v<NDK_FN_SEND, i32 (*)(NDK_QP*, void*, const NDK_SGE*, u32, u32)>);
static_assert(is_same_v<NDK_FN_RECEIVE, i32 (*)(NDK_QP*, void*, const NDK_SGE*, u32)>);
static_assert(
    is_same_v<NDK_FN_BIND, i32 (*)(NDK_QP*, void*, NDK_MR*, NDK_MW*, void*, std::size_t, u32)>);
static_assert(
    is_same_v<NDK_FN_FAST_REGISTER, i32 (*)(NDK_QP*, void*, NDK_MR*, u32, const LARGE_INTEGER*, u32,
                                            std::size_t, void*, u32)>);
static_assert(is_same_v<NDK_FN_INVALIDATE, i32 (*)(NDK_QP*, void*, NDK_OBJECT_HEADER*, u32)>);
static_assert(is_same_v<NDK_FN_READ, i32 (*)(NDK_QP*, void*, const NDK_SGE*, u32, u64, u32, u32)>);
static_assert(is_same_v<NDK_FN_WRITE, i32 (*)(NDK_QP*, void*, const NDK_SGE*, u32, u64, u32, u32)>);
static_assert(
    is_same_v<NDK_FN_SEND_AND_INVALIDATE, i32 (*)(NDK_QP*, void*, const NDK_SGE*, u32, u32, u32)>);
static_assert(
    is_same_v<NDK_FN_GET_SHARED_ENDPOINT_LOCAL_ADDRESS, i32 (*)(NDK_SHARED_ENDPOINT*, Sa*, u32*)>);
static_assert(is_same_v<NDK_FN_CONNECT, i32 (*)(NDK_CONNECTOR*, NDK_QP*, Sa*, u32, Sa*, u32, u32,
                                                u32, void*, u32, ReqCb, void*)>);
static_assert(is_same_v<NDK_FN_CONNECT_WITH_SHARED_ENDPOINT,
                        i32 (*)(NDK_CONNECTOR*, NDK_QP*, NDK_SHARED_ENDPOINT*, Sa*, u32, u32, u32,
                                void*, u32, ReqCb, void*)>);
static_assert(
    is_same_v<NDK_FN_COMPLETE_CONNECT,
              i32 (*)(NDK_CONNECTOR*, NDK_FN_DISCONNECT_EVENT_CALLBACK, void*, ReqCb, void*)>);
static_assert(
    is_same_v<NDK_FN_ACCEPT, i32 (*)(NDK_CONNECTOR*, NDK_QP*, u32, u32, void*, u32,
                                     NDK_FN_DISCONNECT_EVENT_CALLBACK, void*, ReqCb, void*)>);
static_assert(is_same_v<NDK_FN_REJECT, i32 (*)(NDK_CONNECTOR*, void*, u32)>);
static_assert(
    is_same_v<NDK_FN_GET_CONNECTION_DATA, i32 (*)(NDK_CONNECTOR*, u32*, u32*, void*, u32*)>);
static_assert(is_same_v<NDK_FN_GET_LOCAL_ADDRESS, i32 (*)(NDK_CONNECTOR*, Sa*, u32*)>);
static_assert(is_same_v<NDK_FN_GET_PEER_ADDRESS, i32 (*)(NDK_CONNECTOR*, Sa*, u32*)>);
static_assert(is_same_v<NDK_FN_DISCONNECT, i32 (*)(NDK_CONNECTOR*, ReqCb, void*)>);
static_assert(is_same_v<NDK_FN_DISCONNECT_EX, i32 (*)(NDK_CONNECTOR*, u8, ReqCb, void*)>);
static_assert(
    is_same_v<NDK_FN_COMPLETE_CONNECT_EX,
              i32 (*)(NDK_CONNECTOR*, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, void*, ReqCb, void*)>);
static_assert(
    is_same_v<NDK_FN_ACCEPT_EX, i32 (*)(NDK_CONNECTOR*, NDK_QP*, u32, u32, void*, u32,
                                        NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, void*, ReqCb, void*)>);
static_assert(is_same_v<NDK_FN_LISTEN, i32 (*)(NDK_LISTENER*, Sa*, u32, ReqCb, void*)>);
static_assert(is_same_v<NDK_FN_GET_LISTENER_LOCAL_ADDRESS, i32 (*)(NDK_LISTENER*, Sa*, u32*)>);
static_assert(is_same_v<NDK_FN_CONTROL_CONNECT_EVENTS, void (*)(NDK_LISTENER*, u8)>);

// ---- host hooks ----
static_assert(is_same_v<OPEN_NDK_ADAPTER_HANDLER,
                        i32 (*)(void*, NDIS_OPEN_NDK_ADAPTER_PARAMETERS*, NDK_ADAPTER**)>);
static_assert(is_same_v<CLOSE_NDK_ADAPTER_HANDLER, void (*)(void*, NDK_ADAPTER*)>);

// ---- softndk entry points ----
static_assert(is_same_v<decltype(&SoftNdkOpenAdapter), i32 (*)(const char*, NDK_ADAPTER**)>);
static_assert(
    is_same_v<decltype(&SoftNdkOpenAdapterEx), i32 (*)(const char*, NDK_VERSION, NDK_ADAPTER**)>);
static_assert(is_same_v<decltype(&SoftNdkCloseAdapter), void (*)(NDK_ADAPTER*)>);
static_assert(is_same_v<decltype(&SoftNdkInitializeMdl), void (*)(MDL*, void*, std::size_t)>);
static_assert(is_same_v<decltype(&SoftNdkStatusName), const char* (*)(i32)>);

// ---- dispatch slot types (order is checked by offset in abi_layout_test) ----
#define SLOT(table, slot, fn) static_assert(is_same_v<decltype(table::slot), fn>, #table "." #slot)
SLOT(NDK_ADAPTER_DISPATCH, NdkQueryExtension, NDK_FN_QUERY_EXTENSION_INTERFACE);
SLOT(NDK_ADAPTER_DISPATCH, NdkQueryAdapterInfo, NDK_FN_QUERY_ADAPTER_INFO);
SLOT(NDK_ADAPTER_DISPATCH, NdkCreateCq, NDK_FN_CREATE_CQ);
SLOT(NDK_ADAPTER_DISPATCH, NdkCreatePd, NDK_FN_CREATE_PD);
SLOT(NDK_ADAPTER_DISPATCH, NdkCreateSharedEndpoint, NDK_FN_CREATE_SHARED_ENDPOINT);
SLOT(NDK_ADAPTER_DISPATCH, NdkCreateConnector, NDK_FN_CREATE_CONNECTOR);
SLOT(NDK_ADAPTER_DISPATCH, NdkCreateListener, NDK_FN_CREATE_LISTENER);
SLOT(NDK_ADAPTER_DISPATCH, NdkBuildLAM, NDK_FN_BUILD_LAM);
SLOT(NDK_ADAPTER_DISPATCH, NdkReleaseLAM, NDK_FN_RELEASE_LAM);

SLOT(NDK_CQ_DISPATCH, NdkCloseCq, NDK_FN_CLOSE_OBJECT);
SLOT(NDK_CQ_DISPATCH, NdkQueryExtension, NDK_FN_QUERY_EXTENSION_INTERFACE);
SLOT(NDK_CQ_DISPATCH, NdkResizeCq, NDK_FN_RESIZE_CQ);
SLOT(NDK_CQ_DISPATCH, NdkArmCq, NDK_FN_ARM_CQ);
SLOT(NDK_CQ_DISPATCH, NdkGetCqResults, NDK_FN_GET_CQ_RESULTS);
SLOT(NDK_CQ_DISPATCH, NdkControlCqInterruptModeration, NDK_FN_CONTROL_CQ_INTERRUPT_MODERATION);
SLOT(NDK_CQ_DISPATCH, NdkGetCqResultsEx, NDK_FN_GET_CQ_RESULTS_EX);

SLOT(NDK_MR_DISPATCH, NdkCloseMr, NDK_FN_CLOSE_OBJECT);
SLOT(NDK_MR_DISPATCH, NdkQueryExtension, NDK_FN_QUERY_EXTENSION_INTERFACE);
SLOT(NDK_MR_DISPATCH, NdkRegisterMr, NDK_FN_REGISTER_MR);
SLOT(NDK_MR_DISPATCH, NdkDeregisterMr, NDK_FN_DEREGISTER_MR);
SLOT(NDK_MR_DISPATCH, NdkInitializeFastRegisterMr, NDK_FN_INITIALIZE_FAST_REGISTER_MR);
SLOT(NDK_MR_DISPATCH, NdkGetRemoteTokenFromMr, NDK_FN_GET_REMOTE_TOKEN_FROM_MR);
SLOT(NDK_MR_DISPATCH, NdkGetLocalTokenFromMr, NDK_FN_GET_LOCAL_TOKEN_FROM_MR);

SLOT(NDK_MW_DISPATCH, NdkCloseMw, NDK_FN_CLOSE_OBJECT);
SLOT(NDK_MW_DISPATCH, NdkQueryExtension, NDK_FN_QUERY_EXTENSION_INTERFACE);
SLOT(NDK_MW_DISPATCH, NdkGetRemoteTokenFromMw, NDK_FN_GET_REMOTE_TOKEN_FROM_MW);

SLOT(NDK_SRQ_DISPATCH, NdkCloseSrq, NDK_FN_CLOSE_OBJECT);
SLOT(NDK_SRQ_DISPATCH, NdkQueryExtension, NDK_FN_QUERY_EXTENSION_INTERFACE);
SLOT(NDK_SRQ_DISPATCH, NdkModifySrq, NDK_FN_MODIFY_SRQ);
SLOT(NDK_SRQ_DISPATCH, NdkSrqReceive, NDK_FN_SRQ_RECEIVE);

SLOT(NDK_QP_DISPATCH, NdkCloseQp, NDK_FN_CLOSE_OBJECT);
SLOT(NDK_QP_DISPATCH, NdkQueryExtension, NDK_FN_QUERY_EXTENSION_INTERFACE);
SLOT(NDK_QP_DISPATCH, NdkFlush, NDK_FN_FLUSH);
SLOT(NDK_QP_DISPATCH, NdkSend, NDK_FN_SEND);
SLOT(NDK_QP_DISPATCH, NdkReceive, NDK_FN_RECEIVE);
SLOT(NDK_QP_DISPATCH, NdkBind, NDK_FN_BIND);
SLOT(NDK_QP_DISPATCH, NdkFastRegister, NDK_FN_FAST_REGISTER);
SLOT(NDK_QP_DISPATCH, NdkInvalidate, NDK_FN_INVALIDATE);
SLOT(NDK_QP_DISPATCH, NdkRead, NDK_FN_READ);
SLOT(NDK_QP_DISPATCH, NdkWrite, NDK_FN_WRITE);
SLOT(NDK_QP_DISPATCH, NdkSendAndInvalidate, NDK_FN_SEND_AND_INVALIDATE);

SLOT(NDK_PD_DISPATCH, NdkClosePd, NDK_FN_CLOSE_OBJECT);
SLOT(NDK_PD_DISPATCH, NdkQueryExtension, NDK_FN_QUERY_EXTENSION_INTERFACE);
SLOT(NDK_PD_DISPATCH, NdkCreateMr, NDK_FN_CREATE_MR);
SLOT(NDK_PD_DISPATCH, NdkCreateMw, NDK_FN_CREATE_MW);
SLOT(NDK_PD_DISPATCH, NdkCreateSrq, NDK_FN_CREATE_SRQ);
SLOT(NDK_PD_DISPATCH, NdkCreateQp, NDK_FN_CREATE_QP);
SLOT(NDK_PD_DISPATCH, NdkCreateQpWithSrq, NDK_FN_CREATE_QP_WITH_SRQ);
SLOT(NDK_PD_DISPATCH, NdkGetPrivilegedMemoryRegionToken, NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN);

SLOT(NDK_SHARED_ENDPOINT_DISPATCH, NdkCloseSharedEndpoint, NDK_FN_CLOSE_OBJECT);
SLOT(NDK_SHARED_ENDPOINT_DISPATCH, NdkQueryExtension, NDK_FN_QUERY_EXTENSION_INTERFACE);
SLOT(NDK_SHARED_ENDPOINT_DISPATCH, NdkGetLocalAddress, NDK_FN_GET_SHARED_ENDPOINT_LOCAL_ADDRESS);

SLOT(NDK_CONNECTOR_DISPATCH, NdkCloseConnector, NDK_FN_CLOSE_OBJECT);
SLOT(NDK_CONNECTOR_DISPATCH, NdkQueryExtension, NDK_FN_QUERY_EXTENSION_INTERFACE);
SLOT(NDK_CONNECTOR_DISPATCH, NdkConnect, NDK_FN_CONNECT);
SLOT(NDK_CONNECTOR_DISPATCH, NdkConnectWithSharedEndpoint, NDK_FN_CONNECT_WITH_SHARED_ENDPOINT);
SLOT(NDK_CONNECTOR_DISPATCH, NdkCompleteConnect, NDK_FN_COMPLETE_CONNECT);
SLOT(NDK_CONNECTOR_DISPATCH, NdkAccept, NDK_FN_ACCEPT);
SLOT(NDK_CONNECTOR_DISPATCH, NdkReject, NDK_FN_REJECT);
SLOT(NDK_CONNECTOR_DISPATCH, NdkGetConnectionData, NDK_FN_GET_CONNECTION_DATA);
SLOT(NDK_CONNECTOR_DISPATCH, NdkGetLocalAddress, NDK_FN_GET_LOCAL_ADDRESS);
SLOT(NDK_CONNECTOR_DISPATCH, NdkGetPeerAddress, NDK_FN_GET_PEER_ADDRESS);
SLOT(NDK_CONNECTOR_DISPATCH, NdkDisconnect, NDK_FN_DISCONNECT);
SLOT(NDK_CONNECTOR_DISPATCH, NdkCompleteConnectEx, NDK_FN_COMPLETE_CONNECT_EX);
SLOT(NDK_CONNECTOR_DISPATCH, NdkAcceptEx, NDK_FN_ACCEPT_EX);

SLOT(NDK_LISTENER_DISPATCH, NdkCloseListener, NDK_FN_CLOSE_OBJECT);
SLOT(NDK_LISTENER_DISPATCH, NdkQueryExtension, NDK_FN_QUERY_EXTENSION_INTERFACE);
SLOT(NDK_LISTENER_DISPATCH, NdkListen, NDK_FN_LISTEN);
SLOT(NDK_LISTENER_DISPATCH, NdkGetLocalAddress, NDK_FN_GET_LISTENER_LOCAL_ADDRESS);
SLOT(NDK_LISTENER_DISPATCH, NdkControlConnectEvents, NDK_FN_CONTROL_CONNECT_EVENTS);
#undef SLOT

// ---- object dispatch pointers are pointers to const tables ----
static_assert(is_same_v<decltype(NDK_ADAPTER::Dispatch), const NDK_ADAPTER_DISPATCH*>);
static_assert(is_same_v<decltype(NDK_CQ::Dispatch), const NDK_CQ_DISPATCH*>);
static_assert(is_same_v<decltype(NDK_MR::Dispatch), const NDK_MR_DISPATCH*>);
static_assert(is_same_v<decltype(NDK_MW::Dispatch), const NDK_MW_DISPATCH*>);
static_assert(is_same_v<decltype(NDK_SRQ::Dispatch), const NDK_SRQ_DISPATCH*>);
static_assert(is_same_v<decltype(NDK_QP::Dispatch), const NDK_QP_DISPATCH*>);
static_assert(is_same_v<decltype(NDK_PD::Dispatch), const NDK_PD_DISPATCH*>);
static_assert(
    is_same_v<decltype(NDK_SHARED_ENDPOINT::Dispatch), const NDK_SHARED_ENDPOINT_DISPATCH*>);
static_assert(is_same_v<decltype(NDK_CONNECTOR::Dispatch), const NDK_CONNECTOR_DISPATCH*>);
static_assert(is_same_v<decltype(NDK_LISTENER::Dispatch), const NDK_LISTENER_DISPATCH*>);

// ---- the public types are plain C data ----
static_assert(std::is_standard_layout_v<NDK_ADAPTER_INFO> && std::is_trivial_v<NDK_ADAPTER_INFO>);
static_assert(std::is_standard_layout_v<NDK_RESULT_EX> && std::is_trivial_v<NDK_RESULT_EX>);
static_assert(std::is_standard_layout_v<NDK_SGE> && std::is_trivial_v<NDK_SGE>);
static_assert(std::is_standard_layout_v<NDK_QP> && std::is_trivial_v<NDK_QP>);
static_assert(std::is_standard_layout_v<MDL> && std::is_trivial_v<MDL>);

// Constants usable in constant expressions / switch labels.
constexpr bool IsConnectRetryable(NTSTATUS s) {
  switch (s) {
    case STATUS_NETWORK_UNREACHABLE:
    case STATUS_HOST_UNREACHABLE:
    case STATUS_CONNECTION_REFUSED:
    case STATUS_IO_TIMEOUT:
      return true;
    default:
      return false;
  }
}
static_assert(IsConnectRetryable(STATUS_IO_TIMEOUT) && !IsConnectRetryable(STATUS_TIMEOUT));

}  // namespace
