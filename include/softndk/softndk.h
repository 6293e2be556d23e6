/* softndk host entry points (C ABI): opening and closing adapter instances, which on Windows is the
 * job of the NDIS open/close hooks, plus small helpers for MDL setup and status-code names.
 * Everything NDK itself (objects, dispatch tables, types, statuses) lives in <softndk/ndkpi.h>. */
#ifndef SOFTNDK_SOFTNDK_H_
#define SOFTNDK_SOFTNDK_H_

#include <stddef.h>

#include <softndk/ndkpi.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a function exported from the softndk shared object. */
#ifndef SOFTNDK_API
#define SOFTNDK_API __attribute__((visibility("default")))
#endif

/** @name Implemented interface version
 *  The highest NDKPI version softndk implements. For major 1 the highest minor is 2 (1.2).
 *  @{ */
#define SOFTNDK_NDK_VERSION_MAJOR 2
#define SOFTNDK_NDK_VERSION_MINOR 1
/** @} */

/**
 * @brief Opens an adapter instance, negotiating the highest implemented version (2.1).
 *
 * Equivalent to SoftNdkOpenAdapterEx(uri, {SOFTNDK_NDK_VERSION_MAJOR, 0}, adapter).
 *
 * The URI selects the transport backing the adapter:
 *
 * @code
 *   uri     = "loopback" [ "?" options ]                  in-process transport (available now)
 *           | "tcp://" address [ ":" port ] [ "?" options ]   TCP transport (planned)
 *           | "shm" [ "?" options ]                       shared-memory transport (planned)
 *   address = local IPv4 dotted quad | "[" local IPv6 address "]"   (an address of this host)
 *   port    = decimal 0..65535
 *   options = option *( "&" option )
 *   option  = key "=" value
 * @endcode
 *
 * Keys are case-sensitive and each scheme documents the keys it accepts.
 *
 * @param uri      NUL-terminated adapter URI (see above).
 * @param adapter  Receives the new adapter on success; untouched on failure.
 * @return STATUS_SUCCESS;
 *         STATUS_INVALID_PARAMETER for a NULL argument, a malformed URI, an unknown
 *         option key or an invalid option value;
 *         STATUS_NOT_SUPPORTED for a well-formed URI whose scheme is unknown or not built in;
 *         STATUS_INSUFFICIENT_RESOURCES (== NDIS_STATUS_RESOURCES) when out of resources;
 *         NDIS_STATUS_ADAPTER_NOT_READY when the transport cannot provide NDK service right now.
 *
 * May block. Must not be called from inside any NDK callback.
 */
SOFTNDK_API NTSTATUS SoftNdkOpenAdapter(const char* uri, NDK_ADAPTER** adapter);

/**
 * @brief Opens an adapter instance with explicit version negotiation.
 *
 * `version` holds the wanted major and the lowest minor the caller accepts. Negotiation:
 * - major 1: minor ≤ 2 succeeds and the adapter operates at 1.2;
 * - major 2: minor ≤ 1 succeeds and the adapter operates at 2.1;
 * - any other major, or a minor above the highest one of that major: NDIS_STATUS_BAD_VERSION.
 *
 * The operating version is what NDK_ADAPTER_INFO.Version and every object header (adapter
 * included) report. All dispatch slots are populated whatever version was negotiated.
 *
 * Other return values, the URI grammar and the calling context are as for SoftNdkOpenAdapter.
 * Argument and URI validation happen before version negotiation is reported.
 */
SOFTNDK_API NTSTATUS SoftNdkOpenAdapterEx(const char* uri, NDK_VERSION version,
                                          NDK_ADAPTER** adapter);

/**
 * @brief Closes an adapter instance opened by SoftNdkOpenAdapter(Ex).
 *
 * Blocks until every object created under the adapter has been closed by the consumer and every
 * callback for any of them has returned; on return no softndk callback code for this adapter is
 * running or will run again. Closing while children are still open is a consumer bug: the call
 * keeps waiting (and softndk logs it). Never call this from inside an NDK callback: it would wait
 * for itself. A NULL adapter is ignored.
 */
SOFTNDK_API void SoftNdkCloseAdapter(NDK_ADAPTER* adapter);

/**
 * @brief Fills a single-element MDL describing `length` bytes starting at `virtualAddress`.
 *
 * Sets Next = NULL, StartVa = virtualAddress rounded down to PAGE_SIZE, ByteOffset =
 * virtualAddress % PAGE_SIZE, ByteCount = length and MdlFlags = 0, so that
 * MmGetMdlVirtualAddress(mdl) == virtualAddress. The address is not dereferenced. Chain elements
 * afterwards by setting Next. A NULL `mdl` is ignored.
 */
SOFTNDK_API void SoftNdkInitializeMdl(MDL* mdl, void* virtualAddress, size_t length);

/**
 * @brief Returns the symbolic name of a status code, e.g. "STATUS_CANCELLED".
 *
 * Knows every NTSTATUS and NDIS_STATUS value defined in <softndk/ndkpi.h>. Values shared by two
 * names report the STATUS_ one (NDIS_STATUS_SUCCESS -> "STATUS_SUCCESS",
 * NDIS_STATUS_RESOURCES -> "STATUS_INSUFFICIENT_RESOURCES"). Any other value yields
 * "STATUS_0x%08X" formatted into a per-thread buffer that stays valid until the next call on the
 * same thread; known names are static strings. Never returns NULL; non-blocking; thread-safe.
 */
SOFTNDK_API const char* SoftNdkStatusName(NTSTATUS status);

/**
 * @brief Per-adapter counters, like NDK's performance counters (OID_NDK_STATISTICS).
 *
 * Connection counters count NDK connections of this adapter: Connects (outgoing connections
 * established), Accepts (incoming connections established), ConnectFailures (establishments
 * that failed: refused, rejected, timed out, aborted), ConnectionErrors (established
 * connections that ended abortively: Terminate, reset, local error), ActiveConnections
 * (established now). CqErrors counts CQ overruns. The RDMA counters count DDP segments
 * ("frames") and their payload bytes sent and received by this adapter's queue pairs.
 */
typedef struct _SOFTNDK_ADAPTER_COUNTERS {
  UINT64 Connects;
  UINT64 Accepts;
  UINT64 ConnectFailures;
  UINT64 ConnectionErrors;
  UINT64 ActiveConnections;
  UINT64 CqErrors;
  UINT64 RdmaInOctets;
  UINT64 RdmaOutOctets;
  UINT64 RdmaInFrames;
  UINT64 RdmaOutFrames;
} SOFTNDK_ADAPTER_COUNTERS;

/**
 * @brief Reads the adapter's counters.
 *
 * @param adapter   an adapter from SoftNdkOpenAdapter(Ex).
 * @param counters  out, optional: receives *size bytes of SOFTNDK_ADAPTER_COUNTERS.
 * @param size      in: bytes at counters; out: bytes written, or required.
 * @return STATUS_SUCCESS; STATUS_BUFFER_TOO_SMALL (counters NULL or *size too small: the
 *         required size is stored); STATUS_INVALID_PARAMETER (not an adapter, size NULL).
 * Non-blocking; may be called from any thread, including callbacks. The counts are a
 * consistent-enough snapshot: each counter is exact, counters are not read atomically together.
 */
SOFTNDK_API NTSTATUS SoftNdkQueryAdapterCounters(NDK_ADAPTER* adapter,
                                                 SOFTNDK_ADAPTER_COUNTERS* counters,
                                                 ULONG* size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SOFTNDK_SOFTNDK_H_ */
