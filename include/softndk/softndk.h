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
 *           | "0.0.0.0" | "[::]"      (every address of this host of that family)
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
 *         STATUS_INVALID_ADDRESS for a tcp address that is not an address of this host;
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
 * (established now). CqErrors counts CQ overruns and fatal CQ errors. The RDMA counters count DDP segments
 * ("frames") and their payload bytes sent and received by this adapter's queue pairs.
 * FaultsInjected counts the faults of the adapter's fault plans that fired (docs/faults.md);
 * it was appended last: a caller that passes the size of the structure without it gets
 * everything before it.
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
  UINT64 FaultsInjected;
} SOFTNDK_ADAPTER_COUNTERS;

/**
 * @brief Reads the adapter's counters.
 *
 * @param adapter   an adapter from SoftNdkOpenAdapter(Ex).
 * @param counters  out, optional: receives *size bytes of SOFTNDK_ADAPTER_COUNTERS.
 * @param size      in: bytes at counters; out: bytes written, or required. A size of at least
 *                  offsetof(SOFTNDK_ADAPTER_COUNTERS, FaultsInjected) (the structure before
 *                  FaultsInjected was appended) receives the fields that fit.
 * @return STATUS_SUCCESS; STATUS_BUFFER_TOO_SMALL (counters NULL or *size smaller than the
 *         oldest structure: the current size is stored); STATUS_INVALID_PARAMETER (not an adapter, size NULL).
 * Non-blocking; may be called from any thread, including callbacks. The counts are a
 * consistent-enough snapshot: each counter is exact, counters are not read atomically together.
 */
SOFTNDK_API NTSTATUS SoftNdkQueryAdapterCounters(NDK_ADAPTER* adapter,
                                                 SOFTNDK_ADAPTER_COUNTERS* counters,
                                                 ULONG* size);

/**
 * @brief Which transport an adapter runs on and how it moves data.
 *
 * Name is the URI scheme ("loopback", "tcp", "shm"). DataPath says, for people, how a payload
 * travels from the sender's memory to the receiver's and which copies it takes, e.g. for shm
 * "ring (two copies: ...)". Every connection of the adapter uses that path. Both strings are
 * static for the adapter's life (valid until it closes).
 */
typedef struct _SOFTNDK_ADAPTER_TRANSPORT {
  const char* Name;
  const char* DataPath;
} SOFTNDK_ADAPTER_TRANSPORT;

/**
 * @brief Reports the adapter's transport and data path.
 * @return STATUS_SUCCESS; STATUS_INVALID_PARAMETER (not an adapter, or transport NULL).
 * Non-blocking; may be called from any thread, including callbacks.
 */
SOFTNDK_API NTSTATUS SoftNdkQueryAdapterTransport(NDK_ADAPTER* adapter,
                                                  SOFTNDK_ADAPTER_TRANSPORT* transport);

/** @name Fault injection
 *  A fault plan makes chosen calls fail or pend, connections refuse, time out, reject, abort or
 *  close, data corrupt, drop, delay or miss its receive or STag, CQs overrun or fail, SRQs
 *  fail, adapter opens fail and peers vanish or go silent, reproducibly from a seed (docs/faults.md has the grammar and what each fault
 *  produces). The URI options `faults=PLAN` and `fault_seed=N` set it at open; without
 *  `faults=` in the URI the environment variables SOFTNDK_FAULTS and SOFTNDK_FAULT_SEED do.
 *  @{ */
/**
 * @brief Replaces the adapter's fault plan (NULL or "": no plan) with `plan`, seeded by `seed`.
 * @return STATUS_SUCCESS; STATUS_INVALID_PARAMETER when adapter is not an adapter, or the plan
 *         is malformed or asks for a fault the transport cannot produce (the reason is
 *         logged; the previous plan stays).
 * Faults that fired under the previous plan stay counted in FaultsInjected.
 */
SOFTNDK_API NTSTATUS SoftNdkSetFaultPlan(NDK_ADAPTER* adapter, const char* plan, UINT64 seed);
/** @} */

/** @name Verifier mode
 *  An adapter opened with the URI option `verify=log|strict|1` (1 = log; append `,checksum` to
 *  also checksum gather buffers between post and completion), or, when the URI has no `verify`
 *  option, with the environment variable SOFTNDK_VERIFY set to the same values, checks every
 *  NDKPI rule a consumer can break at the call that breaks it. Each finding is logged to stderr
 *  and passed to the verifier callback. `strict` also fails the offending call (when it returns
 *  an NTSTATUS) with the status named in SOFTNDK_VERIFIER_REPORT.Status; closes never fail.
 *  docs/verifier.md describes every rule.
 *  @{ */
typedef enum _SOFTNDK_VERIFIER_RULE {
  SOFTNDK_VERIFY_CLOSE_ORDER = 1,          /**< antecedent closed before its successors (warning) */
  SOFTNDK_VERIFY_CLOSED_OBJECT = 2,        /**< a call on an object whose close completed */
  SOFTNDK_VERIFY_CLOSING_OBJECT = 3,       /**< a call on an object whose close is pending */
  SOFTNDK_VERIFY_QUEUE_DEPTH = 4,          /**< a post beyond the queue's depth */
  SOFTNDK_VERIFY_SGE_LIMIT = 5,            /**< more SGEs than the queue allows */
  SOFTNDK_VERIFY_INLINE_LIMIT = 6,         /**< inline data beyond InlineDataSize */
  SOFTNDK_VERIFY_TRANSFER_LIMIT = 7,       /**< a request beyond MaxTransferLength */
  SOFTNDK_VERIFY_CREATE_LIMIT = 8,         /**< an object sized beyond NDK_ADAPTER_INFO */
  SOFTNDK_VERIFY_CQ_OVERRUN_RISK = 9,      /**< CQ smaller than its queues' depths (warning) */
  SOFTNDK_VERIFY_CONCURRENT_CQ = 10,       /**< two threads in GetCqResults/ArmCq on one CQ */
  SOFTNDK_VERIFY_CONCURRENT_POST = 11,     /**< two threads posting to one queue */
  SOFTNDK_VERIFY_CALLBACK_CONTEXT = 12,    /**< a PASSIVE-level call inside a callback */
  SOFTNDK_VERIFY_DEFER_UNFLUSHED = 13,     /**< an NDK_OP_FLAG_DEFER batch never ended */
  SOFTNDK_VERIFY_BUFFER_MODIFIED = 14,     /**< a gather buffer changed while outstanding */
  SOFTNDK_VERIFY_MEMORY_IN_USE = 15,       /**< memory revoked while a request uses it */
  SOFTNDK_VERIFY_INVALIDATE_REGISTERED_MR = 16, /**< NdkInvalidate of an NdkRegisterMr MR */
  SOFTNDK_VERIFY_FAST_REGISTER_VALID_MR = 17,   /**< NdkFastRegister over a valid registration */
  SOFTNDK_VERIFY_CONTEXT_REUSE = 18,       /**< a RequestContext reused while outstanding (warning) */
  SOFTNDK_VERIFY_CONNECTION_STATE = 19,    /**< a connector call in the wrong state */
  SOFTNDK_VERIFY_NOT_CONNECTED = 20,       /**< an initiator request on a never-connected QP */
  SOFTNDK_VERIFY_CAPABILITY = 21,          /**< a call the adapter's flags/limits rule out */
  SOFTNDK_VERIFY_LEAK = 22                 /**< an object still open at adapter close */
} SOFTNDK_VERIFIER_RULE;

#define SOFTNDK_VERIFY_WARNING 1
#define SOFTNDK_VERIFY_ERROR 2

typedef struct _SOFTNDK_VERIFIER_REPORT {
  ULONG Rule;              /**< SOFTNDK_VERIFIER_RULE */
  ULONG Severity;          /**< SOFTNDK_VERIFY_WARNING or SOFTNDK_VERIFY_ERROR */
  const char* RuleName;    /**< e.g. "queue-depth" */
  const char* Reference;   /**< the NDKPI page or section of the rule, e.g. "NDK_FN_CREATE_QP" */
  const char* Call;        /**< the call that broke it, e.g. "NdkSend" */
  NDK_OBJECT_TYPE ObjectType;
  const void* Object;      /**< the object as the consumer sees it (NDK_QP*, ...), or NULL */
  NDK_ADAPTER* Adapter;    /**< NULL for SoftNdkOpenAdapter(Ex) */
  NTSTATUS Status;         /**< what strict mode returns instead; STATUS_SUCCESS: the call proceeds */
  const char* Message;
  const char* Backtrace;   /**< one frame per line; for leaks, where the object was created */
} SOFTNDK_VERIFIER_REPORT;

typedef void (*SOFTNDK_VERIFIER_CALLBACK)(void* context, const SOFTNDK_VERIFIER_REPORT* report);

/**
 * @brief Registers the callback that receives verifier reports.
 *
 * adapter NULL sets the process-wide callback, used for adapters without their own and for
 * reports outside any adapter; a NULL callback removes it. The report and its strings are valid
 * during the call only. The callback runs on the thread that broke the rule (which may be inside
 * a provider call: it must not call into softndk). Reports are made only in verifier mode.
 * @return STATUS_SUCCESS; STATUS_INVALID_PARAMETER when adapter is not an adapter.
 */
SOFTNDK_API NTSTATUS SoftNdkSetVerifierCallback(NDK_ADAPTER* adapter,
                                                SOFTNDK_VERIFIER_CALLBACK callback,
                                                void* context);
/** @} */

/** @name Adapter profiles
 *  The URI option `profile=NAME` gives the adapter the limits and capability flags of a real
 *  provider (docs/profiles.md gives the source of every value); other URI options override
 *  them. RdmaTechnology stays the transport's.
 *  @{ */
typedef struct _SOFTNDK_PROFILE {
  const char* Name;            /**< e.g. "mlx5"; static storage */
  const char* Description;     /**< static storage */
  NDK_ADAPTER_INFO Info;       /**< Version and RdmaTechnology are 0 */
  ULONG MaxFastRegisterPages;  /**< NdkInitializeFastRegisterMr's AdapterPageCount limit */
} SOFTNDK_PROFILE;

/**
 * @brief Describes profile number `index` (0 is "softndk", the default).
 * @return STATUS_SUCCESS; STATUS_INVALID_PARAMETER past the last profile or for a NULL profile.
 */
SOFTNDK_API NTSTATUS SoftNdkGetProfile(ULONG index, SOFTNDK_PROFILE* profile);

typedef struct _SOFTNDK_ADAPTER_SETTINGS {
  const char* Profile;         /**< the profile applied ("softndk" without profile=) */
  const char* Options;         /**< the URI options applied over it, "key=value&..."; may be "" */
  ULONG VerifierMode;          /**< 0 off, 1 log, 2 strict */
  ULONG VerifierChecksum;      /**< 1 when gather buffers are checksummed */
  ULONG MaxFastRegisterPages;
} SOFTNDK_ADAPTER_SETTINGS;

/**
 * @brief Reports how the adapter was configured. Strings stay valid until the adapter closes.
 * @return STATUS_SUCCESS; STATUS_INVALID_PARAMETER (not an adapter, or settings NULL).
 */
SOFTNDK_API NTSTATUS SoftNdkQueryAdapterSettings(NDK_ADAPTER* adapter,
                                                 SOFTNDK_ADAPTER_SETTINGS* settings);
/** @} */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SOFTNDK_SOFTNDK_H_ */
