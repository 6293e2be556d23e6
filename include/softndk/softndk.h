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

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SOFTNDK_SOFTNDK_H_ */
