// Implementation of abi/fault_hooks.h.
#include "abi/fault_hooks.h"

#include "util/log.h"

namespace softndk::abi {

CallFault fire_call_fault(core::FaultPlan* plan, core::FaultPoint point, const void* object,
                          const char* call) {
  core::FaultAction action;
  CallFault fault;
  if (!plan->fire(point, object, call, &action)) return fault;
  fault.fired = true;
  fault.pend = action.pend;
  fault.status = action.pend ? STATUS_PENDING : action.status;
  fault.delay_ms = action.delay_ms;
  return fault;
}

NTSTATUS deliver_create_later(core::Adapter* adapter, core::Object* created,
                              NDK_FN_CREATE_COMPLETION completion, void* context,
                              uint32_t delay_ms) {
  // The consumer has no handle yet, so nothing can close the object before the callback.
  adapter->dispatcher().post_after(delay_ms, [created, completion, context] {
    completion(context, STATUS_SUCCESS, created->header());
  });
  return STATUS_PENDING;
}

PendedRequest* begin_pended_request(core::Object* owner, NDK_FN_REQUEST_COMPLETION completion,
                                    void* context, uint32_t delay_ms) {
  owner->add_ref();  // released after the consumer's callback
  return new PendedRequest{owner->adapter(), owner, completion, context, delay_ms};
}

void pended_request_done(void* pended, NTSTATUS status) {
  auto* p = static_cast<PendedRequest*>(pended);
  p->adapter->dispatcher().post_after(p->delay_ms, [p, status] {
    p->completion(p->context, status);
    p->owner->release();
    delete p;
  });
}

NTSTATUS end_pended_request(PendedRequest* pended, NTSTATUS inline_status) {
  if (inline_status == STATUS_PENDING) return STATUS_PENDING;  // our completion follows
  if (inline_status == STATUS_SUCCESS) {
    pended_request_done(pended, STATUS_SUCCESS);
    return STATUS_PENDING;
  }
  // An inline failure (a bad argument, a wrong state): reported inline, no callback.
  pended->owner->release();
  delete pended;
  return inline_status;
}

}  // namespace softndk::abi
