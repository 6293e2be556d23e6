// Implementation of core/datapath/receive_engine.h.
#include "core/datapath/receive_engine.h"

#include <algorithm>
#include <mutex>

#include "core/cq.h"
#include "core/datapath/terminate.h"
#include "core/pd.h"
#include "wire/opcode_table.h"

namespace softndk::core {

using transport::RxVerdict;
using wire::RdmapOpcode;
using wire::UlpduHeader;

// One entry per 4-bit opcode: the wire's table says which opcodes exist and which are Sends.
const std::array<ReceiveEngine::Handler, 16> ReceiveEngine::kHandlers = [] {
  std::array<Handler, 16> table{};
  for (const wire::OpcodeInfo& info : wire::kOpcodeTable) {
    const auto op = static_cast<RdmapOpcode>(info.opcode_);
    Handler handler{&ReceiveEngine::begin_unexpected, nullptr};
    if (!info.is_valid_) {
      // Never delivered: the decoder refuses it (receive check 5).
    } else if (wire::is_send(op)) {
      handler = {&ReceiveEngine::begin_send, &ReceiveEngine::end_send};
    } else if (op == RdmapOpcode::Write) {
      handler = {&ReceiveEngine::begin_write, nullptr};
    } else if (op == RdmapOpcode::ReadRequest) {
      handler = {&ReceiveEngine::begin_read_request, nullptr};
    } else if (op == RdmapOpcode::ReadResponse) {
      handler = {&ReceiveEngine::begin_read_response, &ReceiveEngine::end_read_response};
    }
    table[info.opcode_] = handler;  // Terminate: the link handles it, never delivered here
  }
  return table;
}();

ReceiveEngine::ReceiveEngine(Adapter& adapter, Host& host, const Queues& queues,
                             const LocalMemory& memory, Cq& receive_cq, void* qp_context,
                             TrafficCounters& traffic, uint32_t max_receive_sge)
    : adapter_(adapter),
      host_(host),
      queues_(queues),
      memory_(memory),
      receive_cq_(receive_cq),
      qp_context_(qp_context),
      traffic_(traffic),
      receive_sges_(std::max<uint32_t>(max_receive_sge, 1)) {}

void ReceiveEngine::prepare(wire::Rtr expected_rtr, uint32_t inbound_limit) {
  expected_rtr_ = expected_rtr;
  inbound_limit_ = inbound_limit;
}

// ---------------------------------------------------------------------------------------------
// Dispatch

RxVerdict ReceiveEngine::begin(const UlpduHeader& h) {
  header_ = &h;
  // closed is set after the link stopped delivering (the error path aborts it first), so an
  // unlocked read here only catches a delivery racing with that close; take_receive re-checks.
  if (queues_.rq.closed_relaxed()) {
    kind_ = Kind::Discard;
    left_ = segment_bytes_ = 0;
    return RxVerdict::Discard;
  }
  left_ = segment_bytes_ = h.payload_bytes_;
  error_ = AccessError::None;
  if (expected_rtr_ != wire::Rtr::None && absorb_rtr(h)) return RxVerdict::Discard;
  if (wire::is_rtr_response(h) && absorb_rtr_response()) return RxVerdict::Discard;
  if (interleaves(h)) return terminate(wire::kCheckInterleaving);
  RxVerdict verdict = (this->*kHandlers[static_cast<uint8_t>(h.ddp_.opcode_) & 0xF].begin)(h);
  if (verdict != RxVerdict::Terminate) track_open_message(h);
  return verdict;
}

bool ReceiveEngine::absorb_rtr_response() {
  // The answer to our Read RTR, which holds the oldest read slot until it arrives.
  {
    std::lock_guard lock(queues_.sq.lock());
    std::optional<OutboundReads::Entry> front = queues_.orq.front_locked();
    if (!front.has_value() || front->index != OutboundReads::kRtr) return false;
    queues_.orq.pop();
  }
  kind_ = Kind::Absorbed;
  host_.kick_send();  // a read held by the limit may go now
  return true;
}

bool ReceiveEngine::interleaves(const UlpduHeader& h) const {
  // Spec table 4.1 row 7: a new message may not start while another of the same model is
  // unfinished (a tagged and an untagged message may interleave).
  const wire::DdpHeader& d = h.ddp_;
  if (d.tagged_)
    return tagged_open_.open && (d.stag_ != tagged_open_.stag || d.to_ != tagged_open_.next_to);
  return untagged_open_.open && (d.qn_ != untagged_open_.qn || d.msn_ != untagged_open_.msn);
}

void ReceiveEngine::track_open_message(const UlpduHeader& h) {
  const wire::DdpHeader& d = h.ddp_;
  if (d.tagged_) {
    tagged_open_ = {!d.last_, d.stag_, d.to_ + h.payload_bytes_};
  } else {
    untagged_open_ = {!d.last_, d.qn_, d.msn_};
  }
}

bool ReceiveEngine::absorb_rtr(const UlpduHeader& h) {
  const wire::Rtr rtr = expected_rtr_;
  expected_rtr_ = wire::Rtr::None;  // only the first segment can be it
  if (!wire::is_rtr(rtr, h)) return false;
  kind_ = Kind::Absorbed;  // never reported to the consumer (RFC 6581 §5)
  if (rtr == wire::Rtr::Send) ++expected_msn_;
  if (rtr == wire::Rtr::Read) {
    // Answered with a zero-length Read Response, the responder's first message.
    ++expected_read_msn_;
    queues_.irq.push({h.read_request_, h.ddp_.msn_, true});
    host_.kick_send();
  }
  return true;
}

std::span<std::byte> ReceiveEngine::next_span(size_t max_bytes) {
  size_t want = static_cast<size_t>(std::min<uint64_t>(max_bytes, left_));
  std::span<std::byte> span;
  if (kind_ == Kind::Write) {
    lease_.for_each_span(target_, want, [&](std::byte* p, size_t n) {
      if (span.empty()) span = {p, n};
    });
    target_ += span.size();
  } else if (kind_ == Kind::Send || kind_ == Kind::ReadResponse) {
    span = cursor_.next(want, &error_);
  }
  left_ -= span.size();
  return span;
}

void ReceiveEngine::end(bool intact) {
  const UlpduHeader& h = *header_;
  cursor_.release();
  lease_.reset();
  Kind kind = kind_;
  kind_ = Kind::None;
  if (kind == Kind::Absorbed) return;
  if (intact) {
    TrafficCounters::add(traffic_.in_frames, 1);
    TrafficCounters::add(traffic_.in_octets, segment_bytes_ - left_);
  }
  if (kind == Kind::Discard || !intact) return;  // a broken segment completes nothing
  if (error_ != AccessError::None || left_ != 0) {
    // Our own receive or read sink is unusable: a local fault (DDP local catastrophic).
    if (kind == Kind::Send) receive_status_ = STATUS_ACCESS_VIOLATION;
    if (kind == Kind::ReadResponse) {
      std::lock_guard lock(queues_.sq.lock());
      queues_.sq.record_blame_locked(
          {Culprit::Read, STATUS_ACCESS_VIOLATION, provider_error_for_local(error_)});
    }
    terminate(wire::kCheckLocalPlacementFault);
    return;
  }
  if (kind == Kind::None) return;  // a Read Request: queued at its begin
  auto handler = kHandlers[static_cast<uint8_t>(h.ddp_.opcode_) & 0xF].end;
  if (handler != nullptr) (this->*handler)(h);
}

RxVerdict ReceiveEngine::terminate(const wire::ReceiveCheck& check) {
  cursor_.release();
  lease_.reset();
  kind_ = Kind::None;
  // Our own request this failure ends is charged when the link reports the close.
  transport::Link* link = host_.link();
  if (link != nullptr) link->terminate(wire::make_terminate(check, *header_));
  return RxVerdict::Terminate;
}

RxVerdict ReceiveEngine::begin_unexpected(const UlpduHeader&) {
  return terminate(wire::kCheckOpcode);
}

// ---------------------------------------------------------------------------------------------
// Send (RFC 5040 §5.3; receive checks 8-12)

RxVerdict ReceiveEngine::begin_send(const UlpduHeader& h) {
  const wire::DdpHeader& d = h.ddp_;
  if (d.qn_ != 0) return terminate(wire::kCheckQn);
  if (d.msn_ != expected_msn_) return terminate(wire::kCheckMsn);
  if (d.mo_ == 0 && !have_receive_) {
    // data.rnr: as if no receive were posted (the receive stays queued).
    if (fault(FaultPoint::DataRnr)) return terminate(wire::kCheckReceivePosted);
    if (!take_receive()) {
      // A failed SRQ (srq.error) is a local catastrophic error, not a missing receive.
      return terminate(queues_.srq != nullptr && queues_.srq->failed()
                           ? wire::kCheckLocalPlacementFault
                           : wire::kCheckReceivePosted);
    }
    have_receive_ = true;
    message_bytes_ = 0;
    receive_status_ = STATUS_CANCELLED;
  }
  if (!have_receive_ || d.mo_ != message_bytes_) return terminate(wire::kCheckMo);
  if (message_bytes_ + h.payload_bytes_ > receive_.capacity) {
    receive_status_ = STATUS_BUFFER_OVERFLOW;  // reported when the flush completes it
    return terminate(wire::kCheckReceiveBufferFits);
  }
  kind_ = Kind::Send;
  memory_.scatter(cursor_, receive_.sges, receive_.sge_count);
  // [policy] a receive whose SGEs cannot be walked to the message offset: reported as MO.
  if (cursor_.seek(message_bytes_) != AccessError::None) return terminate(wire::kCheckMo);
  return h.payload_bytes_ != 0 ? RxVerdict::Place : RxVerdict::Discard;
}

void ReceiveEngine::end_send(const UlpduHeader& h) {
  message_bytes_ = uint64_t{h.ddp_.mo_} + segment_bytes_;
  if (!h.ddp_.last_) return;
  ++expected_msn_;
  const wire::OpcodeInfo& info = wire::opcode_info(h.ddp_.opcode_);
  if (info.invalidates_stag_ && !check_invalidate(h)) return;
  complete_receive(STATUS_SUCCESS, message_bytes_, info.solicited_event_, h.ddp_.inval_stag_,
                   info.invalidates_stag_);
}

bool ReceiveEngine::check_invalidate(const UlpduHeader& h) {
  // Send with Invalidate (RFC 5040 §6.10; receive check 23): only a fast-registered MR or
  // a window of our PD may be invalidated by the peer.
  StagTable& stags = *memory_.stags;
  const uint32_t stag = h.ddp_.inval_stag_;
  StagKind target = stags.kind_of(stag);
  Lease check;
  AccessError error = stags.acquire(stag, memory_.pd, 0, 0, 0, &check);
  check.reset();
  bool allowed = target == StagKind::FastMr || target == StagKind::Window;
  if (error == AccessError::WrongPd || (error == AccessError::None && !allowed) ||
      error == AccessError::AccessRights) {
    receive_status_ = STATUS_ACCESS_VIOLATION;
    terminate(wire::kCheckInvalidateStagAccess);
    return false;
  }
  if (error != AccessError::None || !stags.invalidate(stag)) {
    receive_status_ = STATUS_ACCESS_VIOLATION;
    terminate(wire::kCheckInvalidateStagOther);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// RDMA Write (RFC 5040 §5.1; receive checks 14-18)

RxVerdict ReceiveEngine::begin_write(const UlpduHeader& h) {
  kind_ = Kind::Write;
  if (h.payload_bytes_ == 0) return RxVerdict::Discard;  // never validated (pings)
  StagTable& stags = *memory_.stags;
  AccessError error = stags.acquire(h.ddp_.stag_, memory_.pd, kAccessRemoteWrite, h.ddp_.to_,
                                    h.payload_bytes_, &lease_);
  if (error == AccessError::None && stags.kind_of(h.ddp_.stag_) == StagKind::Privileged)
    error = AccessError::InvalidStag;
  if (error == AccessError::None && fault(FaultPoint::DataAccess)) {
    lease_.reset();
    error = AccessError::InvalidStag;  // data.access: refused as a bad STag would be
  }
  if (error != AccessError::None) return terminate(check_for_tagged_access(error));
  target_ = h.ddp_.to_;
  return RxVerdict::Place;
}

// ---------------------------------------------------------------------------------------------
// RDMA Read (RFC 5040 §5.2; receive checks 19-22)

RxVerdict ReceiveEngine::begin_read_request(const UlpduHeader& h) {
  const wire::DdpHeader& d = h.ddp_;
  const wire::RdmapReadRequest& rr = h.read_request_;
  if (d.qn_ != 1) return terminate(wire::kCheckQn);
  if (d.msn_ != expected_read_msn_) return terminate(wire::kCheckMsn);
  uint32_t queued = queues_.irq.size();
  if (queued >= std::max<uint32_t>(inbound_limit_, 1) || queued >= queues_.irq.capacity())
    return terminate(wire::kCheckInboundReadsWithinIrd);
  if (rr.read_bytes_ != 0) {
    Lease check;
    AccessError error = memory_.stags->acquire(rr.source_stag_, memory_.pd, kAccessRemoteRead,
                                               rr.source_to_, rr.read_bytes_, &check);
    if (error == AccessError::None && fault(FaultPoint::DataAccess))
      error = AccessError::InvalidStag;  // data.access
    if (error != AccessError::None) return terminate(check_for_read_source(error));
  }
  ++expected_read_msn_;
  queues_.irq.push({rr, d.msn_, false});
  kind_ = Kind::None;
  host_.kick_send();
  return RxVerdict::Discard;
}

RxVerdict ReceiveEngine::begin_read_response(const UlpduHeader& h) {
  InitiatorWr* wr = nullptr;
  uint64_t index = 0;
  {
    std::lock_guard lock(queues_.sq.lock());
    std::optional<OutboundReads::Entry> front = queues_.orq.front_locked();
    if (front.has_value() && front->index != OutboundReads::kRtr) {
      index = front->index;
      wr = &queues_.sq.at(index);
    }
  }
  if (wr == nullptr) return terminate(wire::kCheckReadResponseOutstanding);
  if (h.ddp_.stag_ != sink_stag_for(index)) return terminate(wire::kCheckReadResponseStag);
  if (h.ddp_.to_ != wr->bytes_done || wr->bytes_done + h.payload_bytes_ > wr->total_bytes)
    return terminate(wire::kCheckReadResponseOffsetOrLength);
  kind_ = Kind::ReadResponse;
  memory_.read_sink(cursor_, wr->sges, wr->sge_count);
  cursor_.seek(wr->bytes_done);
  return h.payload_bytes_ != 0 ? RxVerdict::Place : RxVerdict::Discard;
}

void ReceiveEngine::end_read_response(const UlpduHeader& h) {
  InitiatorWr* wr;
  {
    std::lock_guard lock(queues_.sq.lock());
    wr = &queues_.sq.at(queues_.orq.front_locked()->index);
    wr->bytes_done += segment_bytes_;
  }
  if (!h.ddp_.last_) return;
  if (wr->bytes_done != wr->total_bytes) {
    terminate(wire::kCheckReadResponseOffsetOrLength);
    return;
  }
  NTSTATUS status = STATUS_SUCCESS;
  if ((wr->flags & NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE) != 0 && memory_.read_local_invalidate &&
      wr->sge_count != 0) {
    uint32_t token = wr->sges[0].MemoryRegionToken;
    StagTable& stags = *memory_.stags;
    if (stags.kind_of(token) != StagKind::FastMr || !stags.invalidate(token))
      status = STATUS_INVALID_DEVICE_STATE;
  }
  {
    std::lock_guard lock(queues_.sq.lock());
    queues_.orq.pop();
    InitiatorQueue::finish(*wr, status);
  }
  host_.report_initiator();
  host_.kick_send();  // a fenced request or a read held by the limit may go now
}

// ---------------------------------------------------------------------------------------------
// Receives and their completions

bool ReceiveEngine::fire_fault(FaultPlan& plan, FaultPoint point) {
  const TrafficSoFar so_far{traffic_.in_octets.load(std::memory_order_relaxed),
                            traffic_.in_frames.load(std::memory_order_relaxed)};
  FaultAction action;
  return plan.fire(point, this, "receive engine", &action, &so_far);
}

bool ReceiveEngine::take_receive() {
  if (queues_.srq != nullptr) return queues_.srq->take(&receive_, receive_sges_.data());
  std::lock_guard lock(queues_.rq.lock());  // against a concurrent flush only
  return queues_.rq.take_locked(&receive_, receive_sges_.data());
}

bool ReceiveEngine::push_receive(const NDK_RESULT_EX& result, bool solicited) {
  std::atomic<uint64_t>* reaped =
      queues_.srq == nullptr ? queues_.rq.reaped_counter() : nullptr;
  // False when the receive CQ has died (overrun, NDKPI): the queue pair goes to error.
  return receive_cq_.push(result, solicited, reaped);
}

void ReceiveEngine::complete_receive(NTSTATUS status, uint64_t bytes, bool solicited,
                                     uint32_t invalidated, bool with_invalidate) {
  NDK_RESULT_EX r{};
  r.Status = status;
  r.BytesTransferred = static_cast<ULONG>(bytes);
  r.QPContext = qp_context_;
  r.RequestContext = receive_.context;
  r.Type = with_invalidate ? NdkOperationTypeReceiveAndInvalidate : NdkOperationTypeReceive;
  r.TypeSpecificCompletionOutput = with_invalidate ? invalidated : 0;
  have_receive_ = false;
  if (!push_receive(r, solicited || status != STATUS_SUCCESS)) host_.receive_cq_failed();
}

void ReceiveEngine::close() {
  std::lock_guard lock(queues_.rq.lock());
  queues_.rq.close_locked();
  drain_locked();
}

void ReceiveEngine::flush_posted() {
  std::lock_guard lock(queues_.rq.lock());
  drain_locked();
}

void ReceiveEngine::drain_locked() {
  NDK_RESULT_EX r{};
  r.QPContext = qp_context_;
  r.Type = NdkOperationTypeReceive;
  if (have_receive_) {
    // The receive being filled when the connection broke (or the one that failed).
    r.Status = receive_status_;
    r.RequestContext = receive_.context;
    have_receive_ = false;
    push_receive(r, true);
  }
  r.Status = STATUS_CANCELLED;
  queues_.rq.drain_locked([&](void* context) {
    r.RequestContext = context;
    push_receive(r, true);
  });
}

}  // namespace softndk::core
