// Terminate in the core (RFC 5040 §5.3, §7; NDKPI error completions): which receive check a
// remote access error is (the way Linux siw maps its access checks with siw_tagged_error() and
// siw_rdmap_error()), and what a Terminate, ours or the peer's, means for our requests: the
// completion status, the ProviderErrorCode, and which request is to blame. Building the message
// itself is the codec's (wire::make_terminate); sending it is the link's.
#pragma once

#include <cstdint>

#include <softndk/ndkpi.h>

#include "core/datapath/initiator_queue.h"
#include "core/memory.h"
#include "transport/transport.h"
#include "wire/terminate_codes.h"

namespace softndk::core {

// The check a refused tagged placement fails (RDMA Write target; receive checks 14-18).
const wire::ReceiveCheck& check_for_tagged_access(AccessError error);
// The check a refused Read Request source fails (row 22).
const wire::ReceiveCheck& check_for_read_source(AccessError error);

// ProviderErrorCode values (project-defined, docs/architecture.md): 0x01LLTTCC for a Terminate
// (layer, type, code), 0x02000000 | AccessError for a local access error, 0x03000000 for the
// loss of the transport.
uint32_t provider_error_for_terminate(const wire::TerminateReason& reason);
uint32_t provider_error_for_local(AccessError error);
inline constexpr uint32_t kProviderErrorTransportLoss = 0x03000000u;

// The completion status of the request a Terminate hit; read_request: it was our Read Request.
NTSTATUS status_for_terminate(const wire::TerminateReason& reason, bool read_request);

// What a closed link means for the initiator queue: the status and culprit of the failure.
// Graceful closes blame nothing (the caller does not ask).
Blame blame_for_close(transport::LinkSink::CloseKind kind, const wire::TerminateMessage* terminate);

}  // namespace softndk::core
