// Helpers shared by the verified dispatch slots (verifier_dispatch*.cpp) and the declarations
// of every verified slot, which verifier_dispatch.cpp puts into the tables.
#pragma once

#include <functional>
#include <string>

#include "abi/dispatch.h"
#include "abi/verifier.h"

namespace softndk::abi::verified {

using core::Object;

inline const core::DispatchTables& plain() { return dispatch_tables(); }

struct Entry {
  Object* object = nullptr;
  Verifier* verifier = nullptr;
  NTSTATUS status = STATUS_SUCCESS;
};

// A closed object in the quarantine, reported; false when `pub` is not one.
inline bool report_retired(const void* pub, NDK_OBJECT_TYPE type, const char* call) {
  Object* retired = Object::retired_from_header(static_cast<const NDK_OBJECT_HEADER*>(pub));
  if (retired == nullptr || (type != NdkObjectTypeUndefined && retired->type() != type))
    return false;
  Verifier::of(retired)->report_failed(
      SOFTNDK_VERIFY_CLOSED_OBJECT, call, retired, STATUS_INVALID_PARAMETER,
      "the object's close completed: the pointer is stale (a use after close)");
  return true;
}

// Maps the consumer's object pointer; reports an object that is closed or closing.
inline Entry enter(const void* pub, NDK_OBJECT_TYPE type, const char* call) {
  Entry e;
  e.object = Object::from_header(static_cast<const NDK_OBJECT_HEADER*>(pub), type);
  if (e.object == nullptr) {
    report_retired(pub, type, call);
    e.status = STATUS_INVALID_PARAMETER;
    return e;
  }
  e.verifier = Verifier::of(e.object);
  if (e.object->closing()) {
    e.status = e.verifier->report(SOFTNDK_VERIFY_CLOSING_OBJECT, call, e.object,
                                  STATUS_INVALID_DEVICE_STATE,
                                  "the object's close was already called: NDKPI allows no "
                                  "further call on it");
    if (e.status != STATUS_SUCCESS) e.object = nullptr;
  }
  return e;
}

// An object passed as an argument (a CQ to NdkCreateQp, an MR to NdkBind, ...).
inline NTSTATUS check_argument(Verifier* v, const void* pub, NDK_OBJECT_TYPE type,
                               const char* call) {
  if (pub == nullptr) return STATUS_SUCCESS;
  Object* o = Object::from_header(static_cast<const NDK_OBJECT_HEADER*>(pub), type);
  if (o == nullptr) return report_retired(pub, type, call) ? STATUS_INVALID_PARAMETER : 0;
  if (!o->closing()) return STATUS_SUCCESS;
  return v->report(SOFTNDK_VERIFY_CLOSING_OBJECT, call, o, STATUS_INVALID_PARAMETER,
                   "an argument's close was already called: it may not be used any more");
}

inline Record* record(Verifier* v, Object* o) {
  std::lock_guard lock(v->mutex());
  return o != nullptr ? v->record_locked(o) : nullptr;
}

// Holds one queue or CQ for the calling thread; reports a second thread.
class Guard {
 public:
  Guard(std::atomic<uint64_t>* slot, Verifier* v, Object* o, SOFTNDK_VERIFIER_RULE rule,
        const char* call, const char* what) {
    uint64_t expected = 0;
    uint64_t me = thread_token();
    if (slot->compare_exchange_strong(expected, me, std::memory_order_acq_rel)) {
      owned_ = slot;
    } else if (expected != me) {
      status_ = v->report(rule, call, o, STATUS_INVALID_DEVICE_STATE, what);
    }
  }
  ~Guard() {
    if (owned_ != nullptr) owned_->store(0, std::memory_order_release);
  }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  NTSTATUS status() const { return status_; }

 private:
  std::atomic<uint64_t>* owned_ = nullptr;
  NTSTATUS status_ = STATUS_SUCCESS;
};

inline constexpr const char* kSecondPoller =
    "another thread is in NdkGetCqResults(Ex)/NdkArmCq on this CQ: the consumer serializes them";
inline constexpr const char* kSecondPoster =
    "another thread is posting to this queue: the consumer posts to each queue serially";

// Runs a create with `pending` as the record of the object it builds on this thread.
template <class Out>
NTSTATUS create_with(Record* pending, Out** out, const std::function<NTSTATUS()>& create) {
  if (out == nullptr) {
    delete pending;
    return STATUS_INVALID_PARAMETER;
  }
  Verifier::expect_creation(pending);
  NTSTATUS status = create();
  Verifier::take_pending(pending);  // deletes it when no object took it
  return status;
}

// Slots defined in verifier_dispatch_queues.cpp and verifier_dispatch_qp.cpp.
NTSTATUS resize_cq(NDK_CQ* pub, ULONG depth, NDK_FN_REQUEST_COMPLETION completion, PVOID context);
void arm_cq(NDK_CQ* pub, ULONG type);
ULONG get_cq_results(NDK_CQ* pub, NDK_RESULT results[], ULONG count);
ULONG get_cq_results_ex(NDK_CQ* pub, NDK_RESULT_EX results[], ULONG count);
NTSTATUS control_cq_moderation(NDK_CQ* pub, ULONG interval, ULONG count);
NTSTATUS create_mr(NDK_PD* pub, BOOLEAN fast, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                   NDK_MR** out);
NTSTATUS create_mw(NDK_PD* pub, NDK_FN_CREATE_COMPLETION completion, PVOID context, NDK_MW** out);
NTSTATUS create_srq(NDK_PD* pub, ULONG depth, ULONG max_sge, ULONG threshold,
                    NDK_FN_SRQ_NOTIFICATION_CALLBACK notify, PVOID notify_context,
                    GROUP_AFFINITY* affinity, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                    NDK_SRQ** out);
NTSTATUS create_qp(NDK_PD* pub, NDK_CQ* rcq, NDK_CQ* icq, PVOID qp_context, ULONG receive_depth,
                   ULONG initiator_depth, ULONG receive_sge, ULONG initiator_sge,
                   ULONG inline_bytes, NDK_FN_CREATE_COMPLETION completion, PVOID context,
                   NDK_QP** out);
NTSTATUS create_qp_with_srq(NDK_PD* pub, NDK_CQ* rcq, NDK_CQ* icq, NDK_SRQ* srq,
                            PVOID qp_context, ULONG initiator_depth, ULONG initiator_sge,
                            ULONG inline_bytes, NDK_FN_CREATE_COMPLETION completion,
                            PVOID context, NDK_QP** out);
void get_privileged_token(NDK_PD* pub, UINT32* token);
NTSTATUS register_mr(NDK_MR* pub, MDL* mdl, SIZE_T length, ULONG flags,
                     NDK_FN_REQUEST_COMPLETION completion, PVOID context);
NTSTATUS deregister_mr(NDK_MR* pub, NDK_FN_REQUEST_COMPLETION completion, PVOID context);
NTSTATUS initialize_fast_register_mr(NDK_MR* pub, ULONG pages, BOOLEAN remote,
                                     NDK_FN_REQUEST_COMPLETION completion, PVOID context);
UINT32 remote_token_from_mr(NDK_MR* pub);
UINT32 local_token_from_mr(NDK_MR* pub);
UINT32 remote_token_from_mw(NDK_MW* pub);
NTSTATUS modify_srq(NDK_SRQ* pub, ULONG depth, ULONG threshold,
                    NDK_FN_REQUEST_COMPLETION completion, PVOID context);
NTSTATUS srq_receive(NDK_SRQ* pub, PVOID context, const NDK_SGE* sgl, ULONG count);

void flush(NDK_QP* pub);
NTSTATUS send(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count, ULONG flags);
NTSTATUS send_and_invalidate(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count,
                             ULONG flags, UINT32 token);
NTSTATUS receive(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count);
NTSTATUS bind(NDK_QP* pub, PVOID context, NDK_MR* mr, NDK_MW* mw, PVOID address, SIZE_T length,
              ULONG flags);
NTSTATUS fast_register(NDK_QP* pub, PVOID context, NDK_MR* mr, ULONG page_count,
                       const NDK_LOGICAL_ADDRESS* pages, ULONG fbo, SIZE_T length, PVOID base,
                       ULONG flags);
NTSTATUS invalidate(NDK_QP* pub, PVOID context, NDK_OBJECT_HEADER* target, ULONG flags);
NTSTATUS read(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count, UINT64 address,
              UINT32 token, ULONG flags);
NTSTATUS write(NDK_QP* pub, PVOID context, const NDK_SGE* sgl, ULONG count, UINT64 address,
               UINT32 token, ULONG flags);
NTSTATUS shared_endpoint_address(NDK_SHARED_ENDPOINT* pub, PSOCKADDR address, ULONG* length);
NTSTATUS connect(NDK_CONNECTOR* pub, NDK_QP* qp, const PSOCKADDR source, ULONG source_length,
                 const PSOCKADDR destination, ULONG destination_length, ULONG inbound,
                 ULONG outbound, const PVOID data, ULONG data_length,
                 NDK_FN_REQUEST_COMPLETION completion, PVOID context);
NTSTATUS connect_with_shared_endpoint(NDK_CONNECTOR* pub, NDK_QP* qp,
                                      NDK_SHARED_ENDPOINT* endpoint, const PSOCKADDR destination,
                                      ULONG destination_length, ULONG inbound, ULONG outbound,
                                      const PVOID data, ULONG data_length,
                                      NDK_FN_REQUEST_COMPLETION completion, PVOID context);
NTSTATUS complete_connect(NDK_CONNECTOR* pub, NDK_FN_DISCONNECT_EVENT_CALLBACK event,
                          PVOID event_context, NDK_FN_REQUEST_COMPLETION completion,
                          PVOID context);
NTSTATUS complete_connect_ex(NDK_CONNECTOR* pub, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX event,
                             PVOID event_context, NDK_FN_REQUEST_COMPLETION completion,
                             PVOID context);
NTSTATUS accept(NDK_CONNECTOR* pub, NDK_QP* qp, ULONG inbound, ULONG outbound, const PVOID data,
                ULONG data_length, NDK_FN_DISCONNECT_EVENT_CALLBACK event, PVOID event_context,
                NDK_FN_REQUEST_COMPLETION completion, PVOID context);
NTSTATUS accept_ex(NDK_CONNECTOR* pub, NDK_QP* qp, ULONG inbound, ULONG outbound,
                   const PVOID data, ULONG data_length, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX event,
                   PVOID event_context, NDK_FN_REQUEST_COMPLETION completion, PVOID context);
NTSTATUS reject(NDK_CONNECTOR* pub, const PVOID data, ULONG data_length);
NTSTATUS connection_data(NDK_CONNECTOR* pub, ULONG* inbound, ULONG* outbound, PVOID data,
                         ULONG* data_length);
NTSTATUS connector_local_address(NDK_CONNECTOR* pub, PSOCKADDR address, ULONG* length);
NTSTATUS connector_peer_address(NDK_CONNECTOR* pub, PSOCKADDR address, ULONG* length);
NTSTATUS disconnect(NDK_CONNECTOR* pub, NDK_FN_REQUEST_COMPLETION completion, PVOID context);
NTSTATUS listen(NDK_LISTENER* pub, const PSOCKADDR address, ULONG length,
                NDK_FN_REQUEST_COMPLETION completion, PVOID context);
NTSTATUS listener_address(NDK_LISTENER* pub, PSOCKADDR address, ULONG* length);
void control_connect_events(NDK_LISTENER* pub, BOOLEAN pause);

}  // namespace softndk::abi::verified
