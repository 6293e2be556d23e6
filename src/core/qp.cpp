// Implementation of core/qp.h.
#include "core/qp.h"

#include <algorithm>
#include <cstring>

#include "core/connection.h"
#include "util/log.h"

namespace softndk::core {

using transport::Opcode;
using transport::RxVerdict;
using transport::SegmentHeader;
using transport::TxResult;

namespace {
constexpr size_t kMaxPieces = 64;
constexpr uint32_t kSinkTagBit = 0x80000000u;
constexpr ULONG kKnownOpFlags = 0x3ff;

// Terminate codes (RFC 5040 §7, RFC 5041 §7; iwarp.md 3.6).
constexpr uint8_t kLayerRdmap = 0, kLayerDdp = 1, kLayerLlp = 2;
constexpr uint8_t kRdmapProtection = 1, kRdmapOperation = 2;
constexpr uint8_t kDdpLocal = 0, kDdpTagged = 1, kDdpUntagged = 2;

uint32_t op_type(WrOp op) {
  switch (op) {
    case WrOp::Send:
      return NdkOperationTypeSend;
    case WrOp::Write:
      return NdkOperationTypeWrite;
    case WrOp::Read:
      return NdkOperationTypeRead;
    case WrOp::Bind:
      return NdkOperationTypeBind;
    case WrOp::FastRegister:
      return NdkOperationTypeFastRegister;
    case WrOp::Invalidate:
      return NdkOperationTypeInvalidate;
  }
  return 0;
}
}  // namespace

NTSTATUS status_for_terminate(const transport::TerminateReason& r, bool read_request) {
  if (r.layer == kLayerLlp) return STATUS_CONNECTION_RESET;
  bool bounds = (r.layer == kLayerRdmap && r.type == kRdmapProtection && r.code == 0x01) ||
                (r.layer == kLayerDdp && r.type == kDdpTagged && r.code == 0x01);
  if (bounds) return read_request ? STATUS_REMOTE_RESOURCES : STATUS_ACCESS_VIOLATION;
  if ((r.layer == kLayerRdmap && r.type == kRdmapProtection) ||
      (r.layer == kLayerDdp && r.type == kDdpTagged) ||
      (r.layer == kLayerRdmap && r.code == 0x09))
    return STATUS_ACCESS_VIOLATION;
  return STATUS_CONNECTION_ABORTED;
}

uint32_t provider_error_for_terminate(const transport::TerminateReason& r) {
  // 0x01LLTTCC: "terminate" class, then layer, type and code of the Terminate.
  return 0x01000000u | (uint32_t{r.layer} << 16) | (uint32_t{r.type} << 8) | r.code;
}

// ---------------------------------------------------------------------------------------------
// Creation and destruction

Qp::Qp(const Params& p)
    : Object(p.pd->adapter(), NdkObjectTypeQp, p.pd->adapter()->tables().qp),
      pd_(p.pd),
      receive_cq_(p.receive_cq),
      initiator_cq_(p.initiator_cq),
      srq_(p.srq),
      qp_context_(p.context),
      receive_depth_(p.receive_depth),
      initiator_depth_(p.initiator_depth),
      receive_sge_(p.receive_sge),
      initiator_sge_(p.initiator_sge),
      inline_bytes_(p.inline_bytes),
      privileged_token_(p.pd->privileged_token()),
      read_sink_required_(
          !p.pd->adapter()->has_flag(NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED)) {
  pd_->add_ref();
  receive_cq_->add_ref();
  initiator_cq_->add_ref();
  if (srq_ != nullptr) srq_->add_ref();
  const NDK_ADAPTER_INFO& info = adapter()->info();
  size_t slot_sges = std::max<size_t>({initiator_sge_, info.MaxReadRequestSge, 1});
  sq_ = std::make_unique<InitiatorWr[]>(initiator_depth_);
  sq_size_ = initiator_depth_;
  sq_sge_storage_.resize(slot_sges * initiator_depth_);
  sq_inline_storage_.resize(size_t{inline_bytes_} * initiator_depth_);
  for (size_t i = 0; i < sq_size_; ++i) {
    sq_[i].sges = &sq_sge_storage_[i * slot_sges];
    sq_[i].inline_data = inline_bytes_ != 0 ? &sq_inline_storage_[i * inline_bytes_] : nullptr;
  }
  tx_pieces_.resize(kMaxPieces);
  orq_.resize(std::max<ULONG>(info.MaxOutboundReadLimit, 1));
  irq_.resize(std::max<ULONG>(info.MaxInboundReadLimit, 1));
  size_t rq_sges = std::max<size_t>(receive_sge_, 1);
  rq_.resize(srq_ != nullptr ? 0 : receive_depth_);
  rq_sge_storage_.resize(srq_ != nullptr ? 0 : rq_sges * receive_depth_);
  for (size_t i = 0; i < rq_.size(); ++i) rq_[i].sges = &rq_sge_storage_[i * rq_sges];
  rx_sge_buffer_.resize(std::max<size_t>(info.MaxReceiveRequestSge, 1));
  adapter()->register_traffic(&traffic_);
}

Qp::~Qp() = default;

NTSTATUS Qp::create(const Params& p, Qp** out) {
  Adapter* adapter = p.pd->adapter();
  const NDK_ADAPTER_INFO& info = adapter->info();
  if (p.receive_cq == nullptr || p.initiator_cq == nullptr) return STATUS_INVALID_PARAMETER;
  if (p.receive_cq->adapter() != adapter || p.initiator_cq->adapter() != adapter)
    return STATUS_INVALID_PARAMETER;
  if (p.receive_cq->closing() || p.initiator_cq->closing()) return STATUS_INVALID_PARAMETER;
  if (p.srq != nullptr) {
    if (p.srq->pd() != p.pd || p.srq->closing()) return STATUS_INVALID_PARAMETER;
  } else if (p.receive_depth == 0 || p.receive_depth > info.MaxReceiveQueueDepth ||
             p.receive_sge > info.MaxReceiveRequestSge) {
    return STATUS_INVALID_PARAMETER;
  }
  if (p.initiator_depth == 0 || p.initiator_depth > info.MaxInitiatorQueueDepth ||
      p.initiator_sge > info.MaxInitiatorRequestSge || p.inline_bytes > info.MaxInlineDataSize)
    return STATUS_INVALID_PARAMETER;
  *out = new Qp(p);
  return STATUS_SUCCESS;
}

void Qp::on_close() {
  stop_polling();  // before the link goes: no consumer poll reaches it afterwards
  abort_connection();
  enter_error(STATUS_CANCELLED, 0, kNoCulprit);
  // Flush entries reach the CQs before the close can complete (ndkpi.md 4.1.5 rule 5).
  tx_.run([this] { run_tx(); });
}

void Qp::on_destroy() {
  adapter()->retire_traffic(&traffic_);
  receive_cq_->forget_counters(&rq_reaped_, &sq_reaped_);
  initiator_cq_->forget_counters(&rq_reaped_, &sq_reaped_);
  {
    std::lock_guard lock(connection_lock_);
    connection_.reset();
  }
  if (srq_ != nullptr) srq_->release();
  initiator_cq_->release();
  receive_cq_->release();
  pd_->release();
}

// ---------------------------------------------------------------------------------------------
// Posting

NTSTATUS Qp::check_initiator_post(ULONG flags, ULONG allowed_flags) {
  if ((flags & ~allowed_flags & kKnownOpFlags) != 0 || (flags & ~kKnownOpFlags) != 0)
    return STATUS_INVALID_PARAMETER;
  State state = state_.load(std::memory_order_acquire);
  if (cq_dead()) return STATUS_CONNECTION_INVALID;
  if (state != State::Connected && state != State::Error) return STATUS_CONNECTION_INVALID;
  // Outstanding = posted and not yet retrieved from the CQ (silent successes: not finished).
  if (sq_posted_.load(std::memory_order_relaxed) -
          (sq_reaped_.load(std::memory_order_acquire) +
           sq_silent_done_.load(std::memory_order_acquire)) >=
      initiator_depth_)
    return STATUS_INSUFFICIENT_RESOURCES;
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
  wr.done.store(false, std::memory_order_relaxed);
  wr.status = STATUS_SUCCESS;
  wr.provider_error = 0;
  wr.bytes_done = 0;
  // The consumer serializes posts on a queue: a plain store publishes the slot.
  sq_posted_.store(sq_posted_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  kick_tx();
  return STATUS_SUCCESS;
}

NTSTATUS Qp::post_send(void* context, const NDK_SGE* sges, ULONG count, ULONG flags,
                       bool invalidate, uint32_t remote_token) {
  constexpr ULONG kAllowed = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
                             NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT | NDK_OP_FLAG_INLINE |
                             NDK_OP_FLAG_DEFER;
  NTSTATUS s = check_initiator_post(flags, kAllowed);
  if (s != STATUS_SUCCESS) return s;
  InitiatorWr& wr = next_slot();
  s = copy_sges(wr, sges, count, flags, initiator_sge_, true);
  if (s != STATUS_SUCCESS) return s;
  wr.op = WrOp::Send;
  wr.flags = flags;
  wr.context = context;
  wr.invalidate_remote = invalidate;
  wr.remote_token = remote_token;
  return submit(wr);
}

NTSTATUS Qp::post_write(void* context, const NDK_SGE* sges, ULONG count, uint64_t address,
                        uint32_t token, ULONG flags) {
  constexpr ULONG kAllowed = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
                             NDK_OP_FLAG_INLINE | NDK_OP_FLAG_DEFER;
  NTSTATUS s = check_initiator_post(flags, kAllowed);
  if (s != STATUS_SUCCESS) return s;
  InitiatorWr& wr = next_slot();
  s = copy_sges(wr, sges, count, flags, initiator_sge_, true);
  if (s != STATUS_SUCCESS) return s;
  wr.op = WrOp::Write;
  wr.flags = flags;
  wr.context = context;
  wr.remote_address = address;
  wr.remote_token = token;
  return submit(wr);
}

NTSTATUS Qp::post_read(void* context, const NDK_SGE* sges, ULONG count, uint64_t address,
                       uint32_t token, ULONG flags) {
  constexpr ULONG kAllowed = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
                             NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE | NDK_OP_FLAG_DEFER;
  NTSTATUS s = check_initiator_post(flags, kAllowed);
  if (s != STATUS_SUCCESS) return s;
  InitiatorWr& wr = next_slot();
  s = copy_sges(wr, sges, count, 0, adapter()->info().MaxReadRequestSge, false);
  if (s != STATUS_SUCCESS) return s;
  wr.op = WrOp::Read;
  wr.flags = flags;
  wr.context = context;
  wr.remote_address = address;
  wr.remote_token = token;
  return submit(wr);
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
  // A window granting remote write needs local write on the MR (ndkpi.md 2.9.4).
  if ((flags & 0x20) != 0 && (mr->access() & kAccessLocalWrite) == 0)
    return STATUS_ACCESS_VIOLATION;
  InitiatorWr& wr = next_slot();
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
  if ((flags & (NDK_OP_FLAG_ALLOW_REMOTE_READ | 0x20)) != 0 && !mr->remote_access_allowed())
    return STATUS_ACCESS_VIOLATION;
  InitiatorWr& wr = next_slot();
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
  InitiatorWr& wr = next_slot();
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
  // Single producer (the consumer serializes posts per queue, ndkpi.md 4.3): no lock. The
  // slot is published by the release of rq_tail_; slots are reused only once reaped.
  uint64_t tail = rq_tail_.load(std::memory_order_relaxed);
  if (tail - rq_reaped_.load(std::memory_order_acquire) >= receive_depth_)
    return STATUS_INSUFFICIENT_RESOURCES;
  ReceiveWr& wr = rq_[tail % rq_.size()];
  wr.context = context;
  wr.sge_count = count;
  wr.capacity = capacity;
  std::copy(sges, sges + count, wr.sges);
  rq_tail_.store(tail + 1, std::memory_order_seq_cst);
  // In the error state the receive is accepted and cancelled, after every older one
  // (ndkpi.md 4.1.5). Dekker with enter_error (rx_closed_ then rq_tail_, both seq_cst): a
  // receive published as the queue closes is drained by one side or the other, under rx_lock_.
  if (rx_closed_.load(std::memory_order_seq_cst)) {
    std::lock_guard lock(rx_lock_);
    drain_receives_locked();
  }
  return STATUS_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// Transmit engine

void Qp::kick_tx() {
  ProgressScope scope;
  tx_.run([this] { run_tx(); });
}

void Qp::kick_tx_later() {
  if (tx_deferred_.exchange(true, std::memory_order_acq_rel)) return;
  add_ref();
  if (!ProgressScope::defer(this)) run_deferred();
}

void Qp::run_deferred() {
  tx_deferred_.store(false, std::memory_order_release);
  tx_.run([this] { run_tx(); });
  release();
}

void Qp::link_writable() {
  tx_blocked_.store(false, std::memory_order_release);
  kick_tx_later();
}

void Qp::run_tx() {
  State state = state_.load(std::memory_order_acquire);
  if (state == State::Error) {
    fail_all_initiator();
    return;
  }
  transport::Connection* conn = connection();
  if (state != State::Connected && state != State::Disconnecting) {
    complete_initiator_in_order();
    return;
  }
  if (tx_blocked_.load(std::memory_order_acquire) || conn == nullptr) return;
  for (;;) {
    if (irq_head_.load(std::memory_order_acquire) != irq_tail_.load(std::memory_order_acquire)) {
      Step s = send_read_response();
      if (s == Step::Blocked || s == Step::Failed) break;
      continue;
    }
    uint64_t posted = sq_posted_.load(std::memory_order_acquire);
    if (sq_exec_ == posted) {
      if (state == State::Disconnecting && disconnect_requested_ && !tx_message_started_) {
        disconnect_requested_ = false;
        conn->link()->disconnect();
      }
      break;
    }
    if (state_.load(std::memory_order_acquire) == State::Error) break;
    uint64_t slot = sq_exec_;
    InitiatorWr& wr = sq_[slot % sq_size_];
    if ((wr.flags & NDK_OP_FLAG_READ_FENCE) != 0 &&
        orq_head_.load(std::memory_order_acquire) != orq_tail_.load(std::memory_order_acquire))
      break;  // waits until every earlier read completed
    Step step = Step::Done;
    switch (wr.op) {
      case WrOp::Send:
      case WrOp::Write:
        step = transmit_message(wr);
        if (step == Step::Done) finish_wr(wr, STATUS_SUCCESS);
        break;
      case WrOp::Read:
        if (orq_tail_.load() - orq_head_.load() >= std::max<uint32_t>(outbound_limit_, 1)) {
          step = Step::Wait;
          break;
        }
        step = send_read_request(wr, static_cast<uint32_t>(slot));
        break;
      case WrOp::Bind:
      case WrOp::FastRegister:
      case WrOp::Invalidate:
        finish_wr(wr, execute_memory_op(wr));
        break;
    }
    if (step == Step::Wait || step == Step::Failed) break;
    if (step == Step::Blocked && wr.op != WrOp::Read) break;  // same message continues later
    ++sq_exec_;
    tx_message_offset_ = 0;
    tx_message_started_ = false;
    if (step == Step::Blocked) break;
  }
  complete_initiator_in_order();
}

Qp::Step Qp::transmit_message(InitiatorWr& wr) {
  transport::Connection* conn = connection();
  if (conn == nullptr) return Step::Failed;
  transport::Link* link = conn->link();
  bool tagged = wr.op == WrOp::Write;
  size_t max_payload = std::max<size_t>(link->max_segment_payload(tagged), 1);
  if (!tx_message_started_ && !wr.is_inline) {
    tx_cursor_.reset(&adapter()->stags(), &adapter()->lams(), pd_, privileged_token_, 0, true,
                     wr.sges, wr.sge_count);
  }
  while (!tx_message_started_ || tx_message_offset_ < wr.total_bytes) {
    size_t pieces = 0;
    uint64_t bytes = 0;
    if (wr.is_inline) {
      bytes = std::min<uint64_t>(wr.total_bytes - tx_message_offset_, max_payload);
      if (bytes != 0) tx_pieces_[pieces++] = {wr.inline_data + tx_message_offset_, bytes};
    } else {
      while (bytes < max_payload && pieces < kMaxPieces) {
        AccessError error;
        std::span<std::byte> span = tx_cursor_.next(max_payload - bytes, &error);
        if (error != AccessError::None) {
          tx_cursor_.release();
          finish_wr(wr, STATUS_ACCESS_VIOLATION, 0x02000000u | static_cast<uint32_t>(error));
          enter_error(STATUS_CANCELLED, 0, kNoCulprit);
          return Step::Failed;
        }
        if (span.empty()) break;
        tx_pieces_[pieces++] = {span.data(), span.size()};
        bytes += span.size();
      }
      // Local gather needs no lease across the hand-off: the consumer keeps its own buffers
      // valid until the completion (ndkpi.md 2.9), and holding one could block a nested
      // invalidation of the same region.
      tx_cursor_.release();
    }
    transport::TxSegment seg;
    SegmentHeader& h = seg.header;
    h.last = tx_message_offset_ + bytes == wr.total_bytes;
    if (tagged) {
      h.opcode = Opcode::Write;
      h.stag = wr.remote_token;
      h.to = wr.remote_address + tx_message_offset_;
    } else {
      bool solicited = (wr.flags & NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT) != 0;
      h.opcode = wr.invalidate_remote
                     ? (solicited ? Opcode::SendSolicitedInvalidate : Opcode::SendInvalidate)
                     : (solicited ? Opcode::SendSolicited : Opcode::Send);
      h.qn = 0;
      h.msn = send_msn_;
      h.mo = static_cast<uint32_t>(tx_message_offset_);
      h.inval_stag = wr.invalidate_remote ? wr.remote_token : 0;
    }
    seg.pieces = tx_pieces_.data();
    seg.piece_count = pieces;
    seg.payload_bytes = bytes;
    tx_blocked_.store(true, std::memory_order_release);
    TxResult result = link->send(seg);
    if (result != TxResult::Blocked) tx_blocked_.store(false, std::memory_order_release);
    if (result == TxResult::Refused) {
      std::lock_guard lock(sq_lock_);
      tx_failed_slot_ = sq_exec_;  // the peer refused this message: the culprit
      return Step::Failed;
    }
    // The link was already down (a Terminate for an earlier message, a loss): this message was
    // never sent and is cancelled with the rest; the Terminate names its own culprit.
    if (result == TxResult::Closed) return Step::Failed;
    TrafficCounters::add(traffic_.out_frames, 1);
    TrafficCounters::add(traffic_.out_octets, bytes);
    tx_message_started_ = true;
    tx_message_offset_ += bytes;
    if (h.last && !tagged) ++send_msn_;
    if (result == TxResult::Blocked) return Step::Blocked;
  }
  return Step::Done;
}

Qp::Step Qp::send_read_request(InitiatorWr& wr, uint32_t slot) {
  transport::Connection* conn = connection();
  if (conn == nullptr) return Step::Failed;
  // Check the local sink now, so a bad sink fails this request before anything is asked.
  uint32_t rights = kAccessLocalWrite | (read_sink_required_ ? kAccessReadSink : 0);
  SglCursor check;
  check.reset(&adapter()->stags(), &adapter()->lams(), pd_, privileged_token_, rights,
              !read_sink_required_, wr.sges, wr.sge_count);
  for (;;) {
    AccessError error;
    std::span<std::byte> span = check.next(SIZE_MAX, &error);
    if (error != AccessError::None) {
      check.release();
      finish_wr(wr, STATUS_ACCESS_VIOLATION, 0x02000000u | static_cast<uint32_t>(error));
      enter_error(STATUS_CANCELLED, 0, kNoCulprit);
      return Step::Failed;
    }
    if (span.empty()) break;
  }
  check.release();
  {
    std::lock_guard lock(sq_lock_);
    uint32_t tail = orq_tail_.load(std::memory_order_relaxed);
    orq_[tail % orq_.size()] = slot;
    orq_tail_.store(tail + 1, std::memory_order_release);
  }
  transport::TxSegment seg;
  SegmentHeader& h = seg.header;
  h.opcode = Opcode::ReadRequest;
  h.last = true;
  h.qn = 1;
  h.msn = read_msn_++;
  h.mo = 0;
  h.sink_stag = kSinkTagBit | (slot & ~kSinkTagBit);
  h.sink_to = 0;
  h.read_size = static_cast<uint32_t>(wr.total_bytes);
  h.source_stag = wr.remote_token;
  h.source_to = wr.remote_address;
  tx_blocked_.store(true, std::memory_order_release);
  TxResult result = conn->link()->send(seg);
  if (result != TxResult::Blocked) tx_blocked_.store(false, std::memory_order_release);
  if (result == TxResult::Closed || result == TxResult::Refused) return Step::Failed;
  TrafficCounters::add(traffic_.out_frames, 1);
  if (result == TxResult::Blocked) return Step::Blocked;
  return Step::Done;
}

Qp::Step Qp::send_read_response() {
  transport::Connection* conn = connection();
  if (conn == nullptr) return Step::Failed;
  transport::Link* link = conn->link();
  uint32_t head = irq_head_.load(std::memory_order_relaxed);
  const InboundRead& read = irq_[head % irq_.size()];
  size_t max_payload = std::max<size_t>(link->max_segment_payload(true), 1);
  Lease lease;
  if (read.size != 0) {
    AccessError error = adapter()->stags().acquire(read.source_stag, pd_, kAccessRemoteRead,
                                                   read.source_to, read.size, &lease);
    if (error != AccessError::None) {
      // Invalidated between request and response: the peer may not see this memory any more.
      SegmentHeader offending;
      offending.opcode = Opcode::ReadRequest;
      offending.qn = 1;
      transport::TerminateReason reason{kLayerRdmap, kRdmapProtection, 0x00};
      link->terminate(reason, &offending);
      return Step::Failed;
    }
  }
  do {
    uint64_t bytes = std::min<uint64_t>(read.size - irq_offset_, max_payload);
    size_t pieces = 0;
    if (bytes != 0) {
      lease.for_each_span(read.source_to + irq_offset_, bytes, [&](std::byte* p, size_t n) {
        if (pieces < kMaxPieces) tx_pieces_[pieces++] = {p, n};
      });
      if (pieces == kMaxPieces) {
        // Too fragmented for one segment: send what fits.
        bytes = 0;
        for (size_t i = 0; i < pieces; ++i) bytes += tx_pieces_[i].bytes;
      }
    }
    transport::TxSegment seg;
    SegmentHeader& h = seg.header;
    h.opcode = Opcode::ReadResponse;
    h.stag = read.sink_stag;
    h.to = read.sink_to + irq_offset_;
    h.last = irq_offset_ + bytes == read.size;
    seg.pieces = tx_pieces_.data();
    seg.piece_count = pieces;
    seg.payload_bytes = bytes;
    tx_blocked_.store(true, std::memory_order_release);
    TxResult result = link->send(seg);
    if (result != TxResult::Blocked) tx_blocked_.store(false, std::memory_order_release);
    if (result == TxResult::Closed || result == TxResult::Refused) return Step::Failed;
    TrafficCounters::add(traffic_.out_frames, 1);
    TrafficCounters::add(traffic_.out_octets, bytes);
    irq_offset_ += bytes;
    if (h.last) {
      irq_offset_ = 0;
      irq_head_.store(head + 1, std::memory_order_release);
    }
    if (result == TxResult::Blocked) return Step::Blocked;
    if (h.last) break;
  } while (true);
  return Step::Done;
}

NTSTATUS Qp::execute_memory_op(InitiatorWr& wr) {
  StagTable& stags = adapter()->stags();
  switch (wr.op) {
    case WrOp::Bind: {
      auto* mw = static_cast<Mw*>(wr.target);
      if (stags.current(mw->stag_index()) != 0) return STATUS_INVALID_DEVICE_STATE;
      if (wr.bind_mr->state() != Mr::State::Registered) return STATUS_INVALID_DEVICE_STATE;
      RegionDescriptor region;
      region.kind = StagKind::Window;
      region.pd = pd_;
      region.access = ((wr.flags & NDK_OP_FLAG_ALLOW_REMOTE_READ) != 0 ? kAccessRemoteRead : 0) |
                      ((wr.flags & 0x20) != 0 ? kAccessRemoteWrite : 0);
      region.base = wr.address;
      region.length = wr.length;
      region.parent_stag = wr.bind_mr->token();
      return stags.publish(wr.new_stag, region) ? STATUS_SUCCESS : STATUS_INVALID_DEVICE_STATE;
    }
    case WrOp::FastRegister: {
      auto* mr = static_cast<Mr*>(wr.target);
      if (stags.current(mr->stag_index()) != 0) return STATUS_INVALID_DEVICE_STATE;
      std::vector<std::byte*>& pages = mr->page_storage();
      for (size_t i = 0; i < wr.pages.size(); ++i) {
        if (wr.pages[i].QuadPart % PAGE_SIZE != 0) return STATUS_INVALID_PARAMETER;
        std::byte* host = adapter()->lams().resolve(wr.pages[i].QuadPart);
        if (host == nullptr) return STATUS_ACCESS_VIOLATION;
        pages[i] = host;
      }
      RegionDescriptor region;
      region.kind = StagKind::FastMr;
      region.pd = pd_;
      region.access = ((wr.flags & NDK_OP_FLAG_ALLOW_REMOTE_READ) != 0 ? kAccessRemoteRead : 0) |
                      ((wr.flags & NDK_OP_FLAG_ALLOW_LOCAL_WRITE) != 0 ? kAccessLocalWrite : 0) |
                      ((wr.flags & 0x20) != 0 ? kAccessRemoteWrite : 0) |
                      ((wr.flags & NDK_OP_FLAG_RDMA_READ_SINK) != 0 ? kAccessReadSink : 0);
      if (!read_sink_required_) region.access |= kAccessReadSink;
      region.base = wr.address;
      region.length = wr.length;
      region.mapping.pages = pages.data();
      region.mapping.page_count = static_cast<uint32_t>(wr.pages.size());
      region.mapping.first_byte_offset = wr.fbo;
      return stags.publish(wr.new_stag, region) ? STATUS_SUCCESS : STATUS_INVALID_DEVICE_STATE;
    }
    case WrOp::Invalidate: {
      uint32_t index = wr.target->type() == NdkObjectTypeMr
                           ? static_cast<Mr*>(wr.target)->stag_index()
                           : static_cast<Mw*>(wr.target)->stag_index();
      uint32_t current = stags.current(index);
      // Already invalid (locally, by a peer's Send with Invalidate, or never registered).
      if (current == 0 || !stags.invalidate(current)) return STATUS_INVALID_DEVICE_STATE;
      return STATUS_SUCCESS;
    }
    default:
      return STATUS_INTERNAL_ERROR;
  }
}

void Qp::finish_wr(InitiatorWr& wr, NTSTATUS status, uint32_t provider_error) {
  // Runs in the transmit engine, which excludes the flush (same combiner); the receive path
  // only finishes reads, which the engine never finishes once they were sent. No lock needed.
  if (wr.done.load(std::memory_order_relaxed)) return;
  wr.status = status;
  wr.provider_error = status == STATUS_SUCCESS ? 0 : provider_error;
  wr.done.store(true, std::memory_order_release);
}

void Qp::complete_initiator_in_order() {
  bool cq_failed = false;
  {
    std::lock_guard lock(sq_lock_);
    uint64_t completed = sq_completed_.load(std::memory_order_relaxed);
    uint64_t posted = sq_posted_.load(std::memory_order_acquire);
    while (completed < posted) {
      InitiatorWr& wr = sq_[completed % sq_size_];
      if (!wr.done.load(std::memory_order_acquire)) break;
      if (wr.status != STATUS_SUCCESS || (wr.flags & NDK_OP_FLAG_SILENT_SUCCESS) == 0) {
        NDK_RESULT_EX r{};
        r.Status = wr.status;
        r.BytesTransferred = static_cast<ULONG>(wr.total_bytes);
        r.QPContext = qp_context_;
        r.RequestContext = wr.context;
        r.Type = static_cast<NDK_OPERATION_TYPE>(op_type(wr.op));
        r.ProviderErrorCode = wr.provider_error;
        if (!initiator_cq_->push(r, wr.status != STATUS_SUCCESS, &sq_reaped_)) cq_failed = true;
      } else {
        sq_silent_done_.store(sq_silent_done_.load(std::memory_order_relaxed) + 1,
                              std::memory_order_release);
      }
      ++completed;
      sq_completed_.store(completed, std::memory_order_release);
    }
  }
  if (cq_failed) enter_error(STATUS_CANCELLED, 0, kNoCulprit);
}

void Qp::apply_culprit_locked() {
  if (culprit_kind_ == kNoCulprit) return;
  int kind = culprit_kind_;
  culprit_kind_ = kNoCulprit;
  if (kind == kCulpritRead) {
    if (orq_head_.load() != orq_tail_.load()) {
      InitiatorWr& wr = sq_[orq_[orq_head_.load() % orq_.size()] % sq_size_];
      if (!wr.done.load(std::memory_order_acquire)) {
        wr.status = culprit_status_;
        wr.provider_error = culprit_error_;
        wr.done.store(true, std::memory_order_release);
      }
    }
    return;
  }
  // The message whose transmission the link refused (loopback: the peer's verdict is
  // synchronous). A message already handed over completed locally (iWARP semantics): then
  // nothing outstanding is to blame and everything is cancelled (ndkpi.md 4.9).
  uint64_t slot = tx_failed_slot_;
  tx_failed_slot_ = kNoSlot;
  if (slot == kNoSlot || slot < sq_completed_.load()) return;
  InitiatorWr& wr = sq_[slot % sq_size_];
  if (!wr.done.load(std::memory_order_acquire) && (wr.op == WrOp::Send || wr.op == WrOp::Write)) {
    wr.status = culprit_status_;
    wr.provider_error = culprit_error_;
    wr.done.store(true, std::memory_order_release);
  }
}

void Qp::fail_all_initiator() {
  {
    std::lock_guard lock(sq_lock_);
    apply_culprit_locked();
    uint64_t posted = sq_posted_.load(std::memory_order_acquire);
    for (uint64_t i = sq_completed_.load(); i < posted; ++i) {
      InitiatorWr& wr = sq_[i % sq_size_];
      // Not yet reported means not completed: a request that finished but waits behind an
      // unfinished read (in-order completion) is flushed too, like every later one, so that
      // nothing after a cancellation reports success (ndkpi.md 4.1.5).
      if (!wr.done.load(std::memory_order_acquire) || wr.status == STATUS_SUCCESS) {
        wr.status = STATUS_CANCELLED;
        wr.provider_error = 0;
        wr.done.store(true, std::memory_order_release);
      }
    }
    sq_exec_ = posted;
    orq_head_.store(orq_tail_.load());
    irq_head_.store(irq_tail_.load());
    tx_message_offset_ = 0;
    tx_message_started_ = false;
  }
  complete_initiator_in_order();
}

// ---------------------------------------------------------------------------------------------
// Receive path

bool Qp::push_receive(const NDK_RESULT_EX& result, bool solicited) {
  // False when the receive CQ has died (overrun): the caller moves the QP to the error state.
  return receive_cq_->push(result, solicited, srq_ == nullptr ? &rq_reaped_ : nullptr);
}

void Qp::complete_receive(NTSTATUS status, uint64_t bytes, bool solicited, uint32_t invalidated,
                          bool with_invalidate, uint32_t provider_error) {
  NDK_RESULT_EX r{};
  r.Status = status;
  r.BytesTransferred = static_cast<ULONG>(bytes);
  r.QPContext = qp_context_;
  r.RequestContext = rx_receive_.context;
  r.Type = with_invalidate ? NdkOperationTypeReceiveAndInvalidate : NdkOperationTypeReceive;
  r.ProviderErrorCode = status == STATUS_SUCCESS ? 0 : provider_error;
  r.TypeSpecificCompletionOutput = with_invalidate ? invalidated : 0;
  rx_have_receive_ = false;
  if (!push_receive(r, solicited || status != STATUS_SUCCESS)) {
    // CQ overrun (ndkpi.md 4.1.4): the QP is dead and its connection is aborted.
    enter_error(STATUS_CANCELLED, 0, kNoCulprit);
  }
}

bool Qp::take_receive() {
  if (srq_ != nullptr) return srq_->take(&rx_receive_, rx_sge_buffer_.data());
  std::lock_guard lock(rx_lock_);  // against a concurrent flush only: local in steady state
  if (rx_closed_.load(std::memory_order_relaxed) ||
      rq_head_ == rq_tail_.load(std::memory_order_acquire))
    return false;
  const ReceiveWr& wr = rq_[rq_head_ % rq_.size()];
  rx_receive_.context = wr.context;
  rx_receive_.sge_count = wr.sge_count;
  rx_receive_.capacity = wr.capacity;
  rx_receive_.sges = rx_sge_buffer_.data();
  std::copy(wr.sges, wr.sges + wr.sge_count, rx_sge_buffer_.data());
  ++rq_head_;
  return true;
}

RxVerdict Qp::terminate_rx(uint8_t layer, uint8_t type, uint8_t code,
                           const SegmentHeader& header) {
  rx_cursor_.release();
  rx_lease_.reset();
  rx_kind_ = RxKind::None;
  transport::Connection* conn = connection();
  transport::TerminateReason reason{layer, type, code};
  // Our own request that this failure ends is charged in enter_error via link_closed.
  if (conn != nullptr) conn->link()->terminate(reason, &header);
  return RxVerdict::Terminate;
}

RxVerdict Qp::access_terminate(AccessError error, bool read_request, const SegmentHeader& h) {
  if (read_request) {
    switch (error) {
      case AccessError::WrongPd:
        return terminate_rx(kLayerRdmap, kRdmapProtection, 0x03, h);
      case AccessError::AccessRights:
        return terminate_rx(kLayerRdmap, kRdmapProtection, 0x02, h);
      case AccessError::Bounds:
        return terminate_rx(kLayerRdmap, kRdmapProtection, 0x01, h);
      case AccessError::Wrap:
        return terminate_rx(kLayerRdmap, kRdmapProtection, 0x04, h);
      default:
        return terminate_rx(kLayerRdmap, kRdmapProtection, 0x00, h);
    }
  }
  switch (error) {
    case AccessError::WrongPd:
      return terminate_rx(kLayerDdp, kDdpTagged, 0x02, h);
    case AccessError::AccessRights:
      return terminate_rx(kLayerRdmap, kRdmapProtection, 0x02, h);
    case AccessError::Bounds:
      return terminate_rx(kLayerDdp, kDdpTagged, 0x01, h);
    case AccessError::Wrap:
      return terminate_rx(kLayerDdp, kDdpTagged, 0x03, h);
    default:
      return terminate_rx(kLayerDdp, kDdpTagged, 0x00, h);
  }
}

RxVerdict Qp::rx_begin(const SegmentHeader& h, uint32_t payload_bytes) {
  // rx_closed_ is set after the link stopped delivering (enter_error aborts it first), so an
  // unlocked read here only catches a delivery racing with that close; take_receive re-checks.
  if (rx_closed_.load(std::memory_order_acquire)) {
    rx_kind_ = RxKind::Discard;
    rx_left_ = 0;
    return RxVerdict::Discard;
  }
  rx_header_ = h;
  rx_left_ = payload_bytes;
  rx_segment_bytes_ = payload_bytes;
  rx_error_ = AccessError::None;
  switch (h.opcode) {
    case Opcode::Send:
    case Opcode::SendInvalidate:
    case Opcode::SendSolicited:
    case Opcode::SendSolicitedInvalidate: {
      if (h.qn != 0) return terminate_rx(kLayerDdp, kDdpUntagged, 0x01, h);
      if (h.msn != rx_expected_msn_) return terminate_rx(kLayerDdp, kDdpUntagged, 0x03, h);
      if (h.mo == 0 && !rx_have_receive_) {
        if (!take_receive()) return terminate_rx(kLayerDdp, kDdpUntagged, 0x02, h);
        rx_have_receive_ = true;
        rx_message_bytes_ = 0;
        rx_receive_status_ = STATUS_CANCELLED;
      }
      if (!rx_have_receive_ || h.mo != rx_message_bytes_)
        return terminate_rx(kLayerDdp, kDdpUntagged, 0x04, h);
      if (rx_message_bytes_ + payload_bytes > rx_receive_.capacity) {
        rx_receive_status_ = STATUS_BUFFER_OVERFLOW;  // reported when the flush completes it
        return terminate_rx(kLayerDdp, kDdpUntagged, 0x05, h);
      }
      rx_kind_ = RxKind::Send;
      rx_cursor_.reset(&adapter()->stags(), &adapter()->lams(), pd_, privileged_token_,
                       kAccessLocalWrite, true, rx_receive_.sges, rx_receive_.sge_count);
      if (rx_cursor_.seek(rx_message_bytes_) != AccessError::None)
        return terminate_rx(kLayerDdp, kDdpUntagged, 0x04, h);
      return payload_bytes != 0 ? RxVerdict::Place : RxVerdict::Discard;
    }
    case Opcode::Write: {
      rx_kind_ = RxKind::Write;
      if (payload_bytes == 0) return RxVerdict::Discard;  // never validated (RTR, pings)
      AccessError error = adapter()->stags().acquire(h.stag, pd_, kAccessRemoteWrite, h.to,
                                                     payload_bytes, &rx_lease_);
      if (error == AccessError::None && adapter()->stags().kind_of(h.stag) == StagKind::Privileged)
        error = AccessError::InvalidStag;
      if (error != AccessError::None) return access_terminate(error, false, h);
      rx_target_ = h.to;
      return RxVerdict::Place;
    }
    case Opcode::ReadRequest: {
      if (h.qn != 1) return terminate_rx(kLayerDdp, kDdpUntagged, 0x01, h);
      if (h.msn != rx_expected_read_msn_) return terminate_rx(kLayerDdp, kDdpUntagged, 0x03, h);
      uint32_t queued = irq_tail_.load() - irq_head_.load();
      if (queued >= std::max<uint32_t>(inbound_limit_, 1) || queued >= irq_.size())
        return terminate_rx(kLayerRdmap, kRdmapOperation, 0x07, h);
      if (h.read_size != 0) {
        Lease check;
        AccessError error = adapter()->stags().acquire(h.source_stag, pd_, kAccessRemoteRead,
                                                       h.source_to, h.read_size, &check);
        if (error != AccessError::None) return access_terminate(error, true, h);
      }
      ++rx_expected_read_msn_;
      uint32_t tail = irq_tail_.load(std::memory_order_relaxed);
      irq_[tail % irq_.size()] = {h.sink_stag, h.sink_to, h.read_size, h.source_stag,
                                  h.source_to};
      irq_tail_.store(tail + 1, std::memory_order_release);
      rx_kind_ = RxKind::None;
      kick_tx_later();
      return RxVerdict::Discard;
    }
    case Opcode::ReadResponse: {
      InitiatorWr* wr = nullptr;
      uint32_t slot = 0;
      {
        std::lock_guard lock(sq_lock_);
        if (orq_head_.load() != orq_tail_.load()) {
          slot = static_cast<uint32_t>(orq_[orq_head_.load() % orq_.size()]);
          wr = &sq_[slot % sq_size_];
        }
      }
      if (wr == nullptr) return terminate_rx(kLayerRdmap, kRdmapOperation, 0x06, h);
      if (h.stag != (kSinkTagBit | (slot & ~kSinkTagBit)))
        return terminate_rx(kLayerDdp, kDdpTagged, 0x00, h);
      if (h.to != wr->bytes_done || wr->bytes_done + payload_bytes > wr->total_bytes)
        return terminate_rx(kLayerDdp, kDdpTagged, 0x01, h);
      rx_kind_ = RxKind::ReadResponse;
      uint32_t rights = kAccessLocalWrite | (read_sink_required_ ? kAccessReadSink : 0);
      rx_cursor_.reset(&adapter()->stags(), &adapter()->lams(), pd_, privileged_token_, rights,
                       !read_sink_required_, wr->sges, wr->sge_count);
      rx_cursor_.seek(wr->bytes_done);
      return payload_bytes != 0 ? RxVerdict::Place : RxVerdict::Discard;
    }
    default:
      return terminate_rx(kLayerRdmap, kRdmapOperation, 0x06, h);
  }
}

std::span<std::byte> Qp::rx_next_span(size_t max_bytes) {
  size_t want = static_cast<size_t>(std::min<uint64_t>(max_bytes, rx_left_));
  std::span<std::byte> span;
  if (rx_kind_ == RxKind::Write) {
    rx_lease_.for_each_span(rx_target_, want, [&](std::byte* p, size_t n) {
      if (span.empty()) span = {p, n};
    });
    rx_target_ += span.size();
  } else if (rx_kind_ == RxKind::Send || rx_kind_ == RxKind::ReadResponse) {
    span = rx_cursor_.next(want, &rx_error_);
  }
  rx_left_ -= span.size();
  return span;
}

void Qp::rx_end(bool intact) {
  const SegmentHeader& h = rx_header_;
  rx_cursor_.release();
  rx_lease_.reset();
  RxKind kind = rx_kind_;
  rx_kind_ = RxKind::None;
  if (intact) {
    TrafficCounters::add(traffic_.in_frames, 1);
    TrafficCounters::add(traffic_.in_octets, rx_segment_bytes_ - rx_left_);
  }
  if (kind == RxKind::Discard) return;
  if (!intact) return;  // the link is breaking; nothing of this segment completes
  if (rx_error_ != AccessError::None || rx_left_ != 0) {
    // Our own receive or read sink is unusable: a local fault (DDP local catastrophic).
    if (kind == RxKind::Send) rx_receive_status_ = STATUS_ACCESS_VIOLATION;
    if (kind == RxKind::ReadResponse) {
      std::lock_guard lock(sq_lock_);
      culprit_kind_ = kCulpritRead;
      culprit_status_ = STATUS_ACCESS_VIOLATION;
      culprit_error_ = 0x02000000u | static_cast<uint32_t>(rx_error_);
    }
    terminate_rx(kLayerDdp, kDdpLocal, 0x00, h);
    return;
  }
  switch (kind) {
    case RxKind::Send: {
      rx_message_bytes_ = uint64_t{h.mo} + rx_segment_bytes_;
      if (!h.last) return;
      ++rx_expected_msn_;
      bool with_invalidate =
          h.opcode == Opcode::SendInvalidate || h.opcode == Opcode::SendSolicitedInvalidate;
      bool solicited =
          h.opcode == Opcode::SendSolicited || h.opcode == Opcode::SendSolicitedInvalidate;
      if (with_invalidate) {
        StagTable& stags = adapter()->stags();
        StagKind target = stags.kind_of(h.inval_stag);
        Lease check;
        AccessError error = stags.acquire(h.inval_stag, pd_, 0, 0, 0, &check);
        check.reset();
        bool allowed = target == StagKind::FastMr || target == StagKind::Window;
        if (error == AccessError::WrongPd || (error == AccessError::None && !allowed) ||
            error == AccessError::AccessRights) {
          rx_receive_status_ = STATUS_ACCESS_VIOLATION;
          terminate_rx(kLayerRdmap, kRdmapProtection, 0x09, h);
          return;
        }
        if (error != AccessError::None || !stags.invalidate(h.inval_stag)) {
          rx_receive_status_ = STATUS_ACCESS_VIOLATION;
          terminate_rx(kLayerRdmap, kRdmapOperation, 0x09, h);
          return;
        }
      }
      complete_receive(STATUS_SUCCESS, rx_message_bytes_, solicited, h.inval_stag,
                       with_invalidate);
      return;
    }
    case RxKind::ReadResponse: {
      InitiatorWr* wr;
      {
        std::lock_guard lock(sq_lock_);
        uint32_t slot = static_cast<uint32_t>(orq_[orq_head_.load() % orq_.size()]);
        wr = &sq_[slot % sq_size_];
        wr->bytes_done += rx_segment_bytes_;
      }
      if (!h.last) return;
      if (wr->bytes_done != wr->total_bytes) {
        terminate_rx(kLayerDdp, kDdpTagged, 0x01, h);
        return;
      }
      NTSTATUS status = STATUS_SUCCESS;
      if ((wr->flags & NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE) != 0 &&
          adapter()->has_flag(NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED) &&
          wr->sge_count != 0) {
        uint32_t token = wr->sges[0].MemoryRegionToken;
        StagTable& stags = adapter()->stags();
        if (stags.kind_of(token) != StagKind::FastMr || !stags.invalidate(token))
          status = STATUS_INVALID_DEVICE_STATE;
      }
      {
        std::lock_guard lock(sq_lock_);
        orq_head_.fetch_add(1, std::memory_order_acq_rel);
        if (!wr->done.load(std::memory_order_acquire)) {
          wr->status = status;
          wr->done.store(true, std::memory_order_release);
        }
      }
      complete_initiator_in_order();
      kick_tx_later();  // a fenced request or a read held by the limit may go now
      return;
    }
    default:
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Connection and error state

bool Qp::attach(Connector* connector) {
  std::lock_guard lock(connector_mutex_);
  if (connector_ != nullptr || state_.load() != State::Idle) return false;
  connector_ = connector;
  state_.store(State::Connecting, std::memory_order_release);
  return true;
}

void Qp::detach(Connector* connector) {
  std::lock_guard lock(connector_mutex_);
  if (connector_ == connector) connector_ = nullptr;
}

void Qp::setup_failed(Connector* connector) {
  {
    std::lock_guard lock(connector_mutex_);
    if (connector_ != connector) return;
    connector_ = nullptr;
  }
  State expected = State::Connecting;
  if (state_.compare_exchange_strong(expected, State::Idle)) {
    // Nothing can transmit in Connecting; the receive path may still hold the raw pointer, so
    // the connection object is kept (owned) until the QP is destroyed or reconnected.
    std::lock_guard lock(connection_lock_);
    retired_connections_.push_back(std::move(connection_));
    connection_raw_.store(nullptr, std::memory_order_release);
  }
}

void Qp::notify_connector_closed(bool graceful, bool local) {
  Connector* connector;
  {
    std::lock_guard lock(connector_mutex_);
    connector = connector_;
    if (connector == nullptr) return;
    connector->add_ref();
  }
  adapter()->dispatcher().post([connector, graceful, local] {
    connector->qp_link_closed(graceful, local);
    connector->release();
  });
}

void Qp::prepare(transport::ConnectionPtr connection, uint32_t inbound_limit,
                 uint32_t outbound_limit) {
  inbound_limit_ = inbound_limit;
  outbound_limit_ = outbound_limit;
  std::lock_guard lock(connection_lock_);
  connection_raw_.store(connection.get(), std::memory_order_release);
  connection_ = std::move(connection);
}

void Qp::connected() {
  State expected = State::Connecting;
  if (state_.compare_exchange_strong(expected, State::Connected)) {
    if (!counted_active_.exchange(true))
      adapter()->counters().active.fetch_add(1, std::memory_order_relaxed);
    transport::Connection* c = connection();
    if (c != nullptr && c->link()->supports_poll_receive()) {
      // Consumers that poll our CQs receive our link's segments on their own thread.
      std::lock_guard lock(poll_mutex_);
      if (!polled_ && !closing()) {
        polled_ = true;
        receive_cq_->add_poll_source(this);
        if (initiator_cq_ != receive_cq_) initiator_cq_->add_poll_source(this);
      }
    }
    kick_tx();
  }
}

void Qp::stop_polling() {
  std::lock_guard lock(poll_mutex_);
  if (!polled_) return;
  polled_ = false;
  receive_cq_->remove_poll_source(this);
  if (initiator_cq_ != receive_cq_) initiator_cq_->remove_poll_source(this);
}

void Qp::poll_rx() {
  // Registered only while the connection (and its link) is ours: see stop_polling().
  transport::Connection* c = connection();
  if (c != nullptr) c->link()->poll_receive();
}

void Qp::poll_rx_stop() {
  transport::Connection* c = connection();
  if (c != nullptr) c->link()->stop_poll_receive();
}

void Qp::connection_gone(bool error) {
  if (!counted_active_.exchange(false)) return;
  adapter()->counters().active.fetch_sub(1, std::memory_order_relaxed);
  if (error) adapter()->counters().connection_errors.fetch_add(1, std::memory_order_relaxed);
}

void Qp::disconnect() {
  SOFTNDK_LOG(Debug, "qp %p: disconnect in state %d", this, static_cast<int>(state_.load()));
  State expected = State::Connected;
  if (state_.compare_exchange_strong(expected, State::Disconnecting)) {
    disconnect_requested_ = true;
    kick_tx();
    return;
  }
  if (expected == State::PeerClosed || expected == State::Error) {
    // The connection is already gone (the peer closed in order, or it was aborted or flushed):
    // there is nothing left to close; flush what is left and finish the disconnect.
    enter_error(STATUS_CANCELLED, 0, kNoCulprit);
    notify_connector_closed(true, true);
  }
}

void Qp::abort_connection() {
  // A local abortive teardown (the connector closes): the link goes down now and the QP
  // enters the error state itself; the connection is cancelled right after, so no link_closed
  // notification would reach us.
  if (state_.load(std::memory_order_acquire) == State::Idle) return;
  enter_error(STATUS_CANCELLED, 0, kNoCulprit);
}

void Qp::enter_error(NTSTATUS culprit_status, uint32_t provider_error, int culprit_kind) {
  {
    std::lock_guard lock(sq_lock_);
    if (culprit_kind != kNoCulprit && culprit_kind_ == kNoCulprit) {
      culprit_kind_ = culprit_kind;
      culprit_status_ = culprit_status;
      culprit_error_ = provider_error;
    }
  }
  State previous = state_.exchange(State::Error, std::memory_order_acq_rel);
  SOFTNDK_LOG(Debug, "qp %p: error state (was %d), culprit %d status 0x%x", this,
              static_cast<int>(previous), culprit_kind, static_cast<unsigned>(culprit_status));
  connection_gone(false);
  if (previous != State::Error) {
    transport::Connection* conn = connection();
    if (conn != nullptr && previous != State::Idle && conn->link() != nullptr)
      conn->link()->abort();  // after this no delivery into our memory is in progress
  }
  {
    // rx_closed_ stops the receive path; what it held is flushed here, in order.
    std::lock_guard lock(rx_lock_);
    rx_closed_.store(true, std::memory_order_seq_cst);
    drain_receives_locked();
  }
  kick_tx_later();
}

void Qp::drain_receives_locked() {
  NDK_RESULT_EX r{};
  r.QPContext = qp_context_;
  r.Type = NdkOperationTypeReceive;
  if (rx_have_receive_) {
    // The receive being filled when the connection broke (or the one that failed).
    r.Status = rx_receive_status_;
    r.RequestContext = rx_receive_.context;
    rx_have_receive_ = false;
    push_receive(r, true);
  }
  r.Status = STATUS_CANCELLED;
  while (rq_head_ != rq_tail_.load(std::memory_order_seq_cst)) {
    r.RequestContext = rq_[rq_head_ % rq_.size()].context;
    ++rq_head_;
    push_receive(r, true);
  }
}

void Qp::flush() {
  ProgressScope scope;
  enter_error(STATUS_CANCELLED, 0, kNoCulprit);
}

void Qp::link_closed(CloseKind kind, const transport::TerminateReason* terminate,
                     const SegmentHeader* offending) {
  SOFTNDK_LOG(Debug, "qp %p: link closed kind %d in state %d", this, static_cast<int>(kind),
              static_cast<int>(state_.load()));
  connection_gone(kind != CloseKind::Graceful);
  if (kind == CloseKind::Graceful) {
    if (state_.load(std::memory_order_acquire) == State::Disconnecting) {
      // Our disconnect finished: flush what is left (ndkpi.md 2.11.9).
      enter_error(STATUS_CANCELLED, 0, kNoCulprit);
      notify_connector_closed(true, true);
      return;
    }
    State expected = State::Connected;
    if (state_.compare_exchange_strong(expected, State::PeerClosed)) {
      // Peer-initiated graceful disconnect: no flush (ndkpi.md 2.1.7).
      notify_connector_closed(true, false);
      kick_tx_later();
      return;
    }
    expected = State::Connecting;
    if (state_.compare_exchange_strong(expected, State::PeerClosed))
      notify_connector_closed(true, false);
    return;
  }
  State before = state_.load();
  if (before == State::Error) return;
  NTSTATUS status = STATUS_CONNECTION_RESET;
  int culprit = kCulpritTransmit;
  uint32_t error = 0x03000000u;  // transport loss
  if (terminate != nullptr) {
    bool read = offending != nullptr && offending->opcode == Opcode::ReadRequest;
    status = status_for_terminate(*terminate, read);
    error = provider_error_for_terminate(*terminate);
    culprit = offending == nullptr ? kNoCulprit : (read ? kCulpritRead : kCulpritTransmit);
  }
  enter_error(status, error, culprit);
  notify_connector_closed(false, before == State::Disconnecting);
}

}  // namespace softndk::core
