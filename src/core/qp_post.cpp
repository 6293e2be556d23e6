// The work requests of core/qp.h: argument and state checks at post time (NDKPI
// NDK_FN_SEND, NDK_FN_RECEIVE, NDK_FN_WRITE, NDK_FN_READ, NDK_FN_BIND, NDK_FN_FAST_REGISTER,
// NDK_FN_INVALIDATE), filling the preallocated slot, and the kick of the send engine. Local
// SGEs are checked when the request executes, not here (a fast-register posted just before may
// make them valid).
#include <algorithm>
#include <cstring>

#include "core/qp.h"

namespace softndk::core {

namespace {
constexpr ULONG kKnownOpFlags = 0x3ff;
}  // namespace

NTSTATUS Qp::check_initiator_post(ULONG flags, ULONG allowed_flags) {
  if ((flags & ~allowed_flags & kKnownOpFlags) != 0 || (flags & ~kKnownOpFlags) != 0)
    return STATUS_INVALID_PARAMETER;
  State state = state_.load(std::memory_order_acquire);
  if (cq_dead()) return STATUS_CONNECTION_INVALID;
  if (state != State::Connected && state != State::Error) return STATUS_CONNECTION_INVALID;
  if (sq_.full()) return STATUS_INSUFFICIENT_RESOURCES;
  return STATUS_SUCCESS;
}

NTSTATUS Qp::copy_sges(InitiatorWr& wr, const NDK_SGE* sges, ULONG count, ULONG flags,
                       ULONG max_sge, bool allow_inline) {
  if (count != 0 && sges == nullptr) return STATUS_INVALID_PARAMETER;
  uint64_t total = 0;
  for (ULONG i = 0; i < count; ++i) total += sges[i].Length;
  if (total > adapter()->info().MaxTransferLength) return STATUS_INVALID_PARAMETER;
  wr.total_bytes = total;
  wr.is_inline = allow_inline && (flags & NDK_OP_FLAG_INLINE) != 0;
  if (wr.is_inline) {
    if (total > inline_bytes_) return STATUS_INVALID_BUFFER_SIZE;
    std::byte* out = wr.inline_data;
    for (ULONG i = 0; i < count; ++i) {
      if (sges[i].Length != 0) std::memcpy(out, sges[i].VirtualAddress, sges[i].Length);
      out += sges[i].Length;
    }
    wr.sge_count = 0;
    return STATUS_SUCCESS;
  }
  if (count > max_sge) return STATUS_INVALID_PARAMETER;
  std::copy(sges, sges + count, wr.sges);
  wr.sge_count = count;
  return STATUS_SUCCESS;
}

NTSTATUS Qp::submit(InitiatorWr& wr) {
  sq_.publish(wr);
  kick_tx();
  return STATUS_SUCCESS;
}

NTSTATUS Qp::begin_transfer(InitiatorWr*& wr, WrOp op, void* context, const NDK_SGE* sges,
                            ULONG count, ULONG flags, ULONG allowed_flags, ULONG max_sge,
                            bool allow_inline) {
  NTSTATUS s = check_initiator_post(flags, allowed_flags);
  if (s != STATUS_SUCCESS) return s;
  InitiatorWr& slot = sq_.next_slot();
  s = copy_sges(slot, sges, count, allow_inline ? flags : 0, max_sge, allow_inline);
  if (s != STATUS_SUCCESS) return s;
  slot.op = op;
  slot.flags = flags;
  slot.context = context;
  wr = &slot;
  return STATUS_SUCCESS;
}

NTSTATUS Qp::post_send(void* context, const NDK_SGE* sges, ULONG count, ULONG flags,
                       bool invalidate, uint32_t remote_token) {
  constexpr ULONG kAllowed = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
                             NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT | NDK_OP_FLAG_INLINE |
                             NDK_OP_FLAG_DEFER;
  InitiatorWr* wr = nullptr;
  NTSTATUS s = begin_transfer(wr, WrOp::Send, context, sges, count, flags, kAllowed,
                              initiator_sge_, true);
  if (s != STATUS_SUCCESS) return s;
  wr->invalidate_remote = invalidate;
  wr->remote_token = remote_token;
  return submit(*wr);
}

NTSTATUS Qp::post_write(void* context, const NDK_SGE* sges, ULONG count, uint64_t address,
                        uint32_t token, ULONG flags) {
  constexpr ULONG kAllowed = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
                             NDK_OP_FLAG_INLINE | NDK_OP_FLAG_DEFER;
  InitiatorWr* wr = nullptr;
  NTSTATUS s = begin_transfer(wr, WrOp::Write, context, sges, count, flags, kAllowed,
                              initiator_sge_, true);
  if (s != STATUS_SUCCESS) return s;
  wr->remote_address = address;
  wr->remote_token = token;
  return submit(*wr);
}

NTSTATUS Qp::post_read(void* context, const NDK_SGE* sges, ULONG count, uint64_t address,
                       uint32_t token, ULONG flags) {
  constexpr ULONG kAllowed = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
                             NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE | NDK_OP_FLAG_DEFER;
  InitiatorWr* wr = nullptr;
  NTSTATUS s = begin_transfer(wr, WrOp::Read, context, sges, count, flags, kAllowed,
                              adapter()->info().MaxReadRequestSge, false);
  if (s != STATUS_SUCCESS) return s;
  wr->remote_address = address;
  wr->remote_token = token;
  return submit(*wr);
}

NTSTATUS Qp::post_bind(void* context, Mr* mr, Mw* mw, uint64_t address, uint64_t length,
                       ULONG flags) {
  constexpr ULONG kAllowed = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
                             NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE |
                             NDK_OP_FLAG_DEFER;
  NTSTATUS s = check_initiator_post(flags, kAllowed);
  if (s != STATUS_SUCCESS) return s;
  if (mr == nullptr || mw == nullptr || mr->fast_register() || mr->pd() != pd_ ||
      mw->pd() != pd_)
    return STATUS_INVALID_PARAMETER;
  if (mr->state() != Mr::State::Registered) return STATUS_INVALID_DEVICE_STATE;
  if (length > adapter()->info().MaxWindowSize || address < mr->base() ||
      address - mr->base() > mr->length() || length > mr->length() - (address - mr->base()))
    return STATUS_INVALID_PARAMETER;
  // A window granting remote write needs local write on the MR (NDKPI NDK_FN_BIND).
  if ((flags & kOpFlagRemoteWriteOnly) != 0 && (mr->access() & kAccessLocalWrite) == 0)
    return STATUS_ACCESS_VIOLATION;
  InitiatorWr& wr = sq_.next_slot();
  wr.op = WrOp::Bind;
  wr.flags = flags;
  wr.context = context;
  wr.target = mw;
  wr.bind_mr = mr;
  wr.address = address;
  wr.length = length;
  wr.total_bytes = 0;
  wr.new_stag = mw->prepare_bind(mr);
  return submit(wr);
}

NTSTATUS Qp::post_fast_register(void* context, Mr* mr, ULONG page_count,
                                const NDK_LOGICAL_ADDRESS* pages, ULONG fbo, uint64_t length,
                                uint64_t base, ULONG flags) {
  constexpr ULONG kAllowed = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
                             NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_LOCAL_WRITE |
                             NDK_OP_FLAG_ALLOW_REMOTE_WRITE | NDK_OP_FLAG_RDMA_READ_SINK |
                             NDK_OP_FLAG_DEFER;
  NTSTATUS s = check_initiator_post(flags, kAllowed);
  if (s != STATUS_SUCCESS) return s;
  if (mr == nullptr || !mr->fast_register() || mr->pd() != pd_) return STATUS_INVALID_PARAMETER;
  if (mr->state() != Mr::State::FastInitialized) return STATUS_INVALID_DEVICE_STATE;
  if (page_count == 0 || page_count > mr->max_pages() || pages == nullptr) return STATUS_INVALID_PARAMETER;
  if (fbo >= PAGE_SIZE || length == 0 || length > uint64_t{page_count} * PAGE_SIZE - fbo ||
      base % PAGE_SIZE != fbo || base + length < base ||
      length > adapter()->info().MaxRegistrationSize)
    return STATUS_INVALID_PARAMETER;
  if ((flags & (NDK_OP_FLAG_ALLOW_REMOTE_READ | kOpFlagRemoteWriteOnly)) != 0 && !mr->remote_access_allowed())
    return STATUS_ACCESS_VIOLATION;
  InitiatorWr& wr = sq_.next_slot();
  wr.op = WrOp::FastRegister;
  wr.flags = flags;
  wr.context = context;
  wr.target = mr;
  wr.address = base;
  wr.length = length;
  wr.fbo = fbo;
  wr.total_bytes = 0;
  wr.pages.assign(pages, pages + page_count);
  wr.new_stag = mr->next_fast_token();
  return submit(wr);
}

NTSTATUS Qp::post_invalidate(void* context, Object* target, ULONG flags) {
  constexpr ULONG kAllowed =
      NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE | NDK_OP_FLAG_DEFER;
  NTSTATUS s = check_initiator_post(flags, kAllowed);
  if (s != STATUS_SUCCESS) return s;
  if (target == nullptr) return STATUS_INVALID_PARAMETER;
  if (target->type() == NdkObjectTypeMr) {
    auto* mr = static_cast<Mr*>(target);
    // NdkRegisterMr regions are revoked with NdkDeregisterMr, never NdkInvalidate.
    if (!mr->fast_register() || mr->pd() != pd_) return STATUS_INVALID_PARAMETER;
  } else if (target->type() == NdkObjectTypeMw) {
    if (static_cast<Mw*>(target)->pd() != pd_) return STATUS_INVALID_PARAMETER;
  } else {
    return STATUS_INVALID_PARAMETER;
  }
  InitiatorWr& wr = sq_.next_slot();
  wr.op = WrOp::Invalidate;
  wr.flags = flags;
  wr.context = context;
  wr.target = target;
  wr.total_bytes = 0;
  return submit(wr);
}

NTSTATUS Qp::post_receive(void* context, const NDK_SGE* sges, ULONG count) {
  if (srq_ != nullptr) return STATUS_INVALID_DEVICE_REQUEST;
  if (count > receive_sge_ || (count != 0 && sges == nullptr)) return STATUS_INVALID_PARAMETER;
  uint64_t capacity = 0;
  for (ULONG i = 0; i < count; ++i) capacity += sges[i].Length;
  if (capacity > adapter()->info().MaxTransferLength) return STATUS_INVALID_PARAMETER;
  if (cq_dead()) return STATUS_CONNECTION_INVALID;
  // Single producer (the consumer serializes posts per queue, NDKPI): no lock.
  NTSTATUS status = rq_.post(context, sges, count, capacity);
  if (status != STATUS_SUCCESS) return status;
  // In the error state the receive is accepted and cancelled, after every older one (NDKPI
  // flush rules): see ReceiveQueue for the handshake with the closing side.
  if (rq_.closed()) receive_.flush_posted();
  return STATUS_SUCCESS;
}
}  // namespace softndk::core
