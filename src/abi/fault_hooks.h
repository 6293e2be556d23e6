// The call faults of a fault plan at the NDK ABI (docs/faults.md, core/faults.h): each slot of
// abi/dispatch.cpp asks here before it calls the core. Without a plan (the usual case) the
// cost is one load and one predictable branch (Adapter::faults() is null); everything else is
// out of line. A fired fault either fails the call inline with its status (nothing is left
// behind: no object, no queued request, no completion), or, for the calls that may pend in
// NDKPI, makes it return STATUS_PENDING and delivers its real outcome after the delay.
#pragma once

#include <cstdint>

#include <softndk/ndkpi.h>

#include "core/adapter.h"
#include "core/faults.h"
#include "core/object.h"

namespace softndk::abi {

struct CallFault {
  bool fired = false;
  bool pend = false;
  NTSTATUS status = STATUS_SUCCESS;
  uint32_t delay_ms = 0;
  bool fails() const { return fired && !pend; }
};

CallFault fire_call_fault(core::FaultPlan* plan, core::FaultPoint point, const void* object,
                          const char* call);

inline CallFault call_fault(core::Adapter* adapter, core::FaultPoint point, const void* object,
                            const char* call) {
  core::FaultPlan* plan = adapter->faults();
  if (plan == nullptr) [[likely]] return {};
  return fire_call_fault(plan, point, object, call);
}

// A posting call (NdkSend ...): STATUS_SUCCESS to go on, else the status to return.
inline NTSTATUS post_fault(core::Adapter* adapter, core::FaultPoint point, const void* object,
                           const char* call) {
  core::FaultPlan* plan = adapter->faults();
  if (plan == nullptr) [[likely]] return STATUS_SUCCESS;
  CallFault fault = fire_call_fault(plan, point, object, call);
  return fault.fired ? fault.status : STATUS_SUCCESS;
}

// A create that a pend fault delays: the object exists now, its completion runs after the
// delay on the adapter's event thread. Returns STATUS_PENDING.
NTSTATUS deliver_create_later(core::Adapter* adapter, core::Object* created,
                              NDK_FN_CREATE_COMPLETION completion, void* context,
                              uint32_t delay_ms);

// A request (NdkRegisterMr, NdkConnect ...) under a pend fault: runs `body(completion,
// context)` now with a completion of ours, and hands its outcome to the consumer's completion
// `delay_ms` later. An inline failure is returned inline (no callback); a success, inline or
// pending, becomes STATUS_PENDING. `owner` stays alive until the callback ran.
struct PendedRequest {
  core::Adapter* adapter;
  core::Object* owner;
  NDK_FN_REQUEST_COMPLETION completion;
  void* context;
  uint32_t delay_ms;
};
void pended_request_done(void* pended, NTSTATUS status);
PendedRequest* begin_pended_request(core::Object* owner, NDK_FN_REQUEST_COMPLETION completion,
                                    void* context, uint32_t delay_ms);
NTSTATUS end_pended_request(PendedRequest* pended, NTSTATUS inline_status);

template <class Body>
NTSTATUS request_with_fault(const CallFault& fault, core::Object* owner,
                            NDK_FN_REQUEST_COMPLETION completion, void* context, Body&& body) {
  if (!fault.pend || completion == nullptr) [[likely]] return body(completion, context);
  PendedRequest* pended = begin_pended_request(owner, completion, context, fault.delay_ms);
  return end_pended_request(pended, body(&pended_request_done, static_cast<void*>(pended)));
}

}  // namespace softndk::abi
