// Execution of the memory requests of the initiator queue (NDKPI NdkBind, NdkFastRegister,
// NdkInvalidate): they run in the send engine, in posting order with the data requests, when
// every earlier request has been handed to the link (and, with READ_FENCE, every earlier read
// has completed). Validation of the arguments happened at post time.
#pragma once

#include <softndk/ndkpi.h>

#include "core/datapath/initiator_queue.h"
#include "core/datapath/local_memory.h"

namespace softndk::core {

// Publishes the window, the fast-registered region, or invalidates the target's STag. Returns
// the request's completion status.
NTSTATUS execute_memory_op(const LocalMemory& memory, InitiatorWr& wr);

}  // namespace softndk::core
