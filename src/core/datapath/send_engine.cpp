// Implementation of core/datapath/send_engine.h.
#include "core/datapath/send_engine.h"

#include <algorithm>
#include <mutex>

#include "core/datapath/memory_ops.h"
#include "core/datapath/terminate.h"

namespace softndk::core {

using transport::Link;
using transport::TxResult;

namespace {
constexpr size_t kMaxPieces = 64;
}  // namespace

SendEngine::SendEngine(Adapter& adapter, InitiatorQueue& sq, OutboundReads& orq,
                       InboundReads& irq, const LocalMemory& memory, TrafficCounters& traffic)
    : adapter_(adapter),
      sq_(sq), orq_(orq), irq_(irq), memory_(memory), traffic_(traffic), pieces_(kMaxPieces) {}

void SendEngine::prepare(wire::Rtr rtr, uint32_t outbound_limit) {
  rtr_owed_ = rtr;
  outbound_limit_ = outbound_limit;
}

void SendEngine::count_out(uint64_t bytes) {
  TrafficCounters::add(traffic_.out_frames, 1);
  TrafficCounters::add(traffic_.out_octets, bytes);
}

TxResult SendEngine::hand_over(Link& link, size_t piece_count, uint64_t bytes) {
  wire::set_segment_sizes(header_, bytes);
  transport::TxSegment segment{&header_, pieces_.data(), piece_count};
  if (FaultPlan* plan = adapter_.faults(); plan != nullptr) [[unlikely]] {
    if (!segment_faults(*plan, link, &segment)) return TxResult::Closed;
  }
  blocked_.store(true, std::memory_order_release);
  TxResult result = link.send(segment);
  if (result != TxResult::Blocked) blocked_.store(false, std::memory_order_release);
  if (result == TxResult::Sent || result == TxResult::Blocked) {
    bytes_sent_ += bytes;
    if (header_.ddp_.last_) ++messages_sent_;
  }
  return result;
}

bool SendEngine::segment_faults(FaultPlan& plan, Link& link, transport::TxSegment* segment) {
  const TrafficSoFar so_far{bytes_sent_, messages_sent_};
  FaultAction action;
  auto fires = [&](FaultPoint point) {
    return plan.fire(point, this, "send engine", &action, &so_far);
  };
  if (fires(FaultPoint::ConnAbort)) {
    link.abort();  // both sides see the connection abort; everything outstanding flushes
    return false;
  }
  // A graceful close happens between messages.
  if (!message_started_ && response_offset_ == 0 && fires(FaultPoint::ConnDisconnect)) {
    link.disconnect();
    return false;
  }
  if (fires(FaultPoint::PeerVanish)) {
    segment->fault = transport::TxFault::VanishPeer;
  } else if (fires(FaultPoint::PeerSilent)) {
    segment->fault = transport::TxFault::Silence;
  } else if (fires(FaultPoint::DataCorrupt)) {
    segment->fault = transport::TxFault::Corrupt;
  } else if (fires(FaultPoint::DataDrop)) {
    segment->fault = transport::TxFault::Drop;
  } else if (fires(FaultPoint::DataDelay)) {
    segment->fault = transport::TxFault::Delay;
    segment->fault_ms = action.delay_ms;
  }
  return true;
}

SendEngine::Outcome SendEngine::run(Link& link) {
  if (rtr_owed_ != wire::Rtr::None) {
    Step step = send_rtr(link);
    if (step == Step::Failed) return Outcome::LinkDown;
    if (step == Step::Blocked) return Outcome::Blocked;
  }
  for (;;) {
    // Read Responses go between our messages, never inside one (RFC 5040 §5: no interleaving).
    if (!irq_.empty() && !message_started_) {
      Step step = send_read_response(link);
      if (step == Step::Blocked) return Outcome::Blocked;
      if (step == Step::Failed) return Outcome::LinkDown;
      continue;
    }
    if (stopped_.load(std::memory_order_acquire)) return Outcome::Waiting;
    if (next_ == sq_.posted()) return Outcome::Idle;
    InitiatorWr& wr = sq_.at(next_);
    if ((wr.flags & NDK_OP_FLAG_READ_FENCE) != 0 && !orq_.empty())
      return Outcome::Waiting;  // until every earlier read completed
    Step step = execute(link, wr, next_);
    switch (step) {
      case Step::Wait:
        return Outcome::Waiting;
      case Step::Failed:
        return Outcome::LinkDown;
      case Step::LocalError:
        return Outcome::LocalError;
      case Step::Blocked:
        if (wr.op != WrOp::Read) return Outcome::Blocked;  // the same message continues later
        break;
      case Step::Done:
        break;
    }
    ++next_;
    message_offset_ = 0;
    message_started_ = false;
    if (step == Step::Blocked) return Outcome::Blocked;
  }
}

SendEngine::Step SendEngine::execute(Link& link, InitiatorWr& wr, uint64_t index) {
  switch (wr.op) {
    case WrOp::Send:
    case WrOp::Write: {
      Step step = transmit_message(link, wr);
      if (step == Step::Done) InitiatorQueue::finish(wr, STATUS_SUCCESS);
      return step;
    }
    case WrOp::Read:
      if (orq_.size() >= std::max<uint32_t>(outbound_limit_, 1)) return Step::Wait;
      return send_read_request(link, wr, index);
    case WrOp::Bind:
    case WrOp::FastRegister:
    case WrOp::Invalidate:
      InitiatorQueue::finish(wr, execute_memory_op(memory_, wr));
      return Step::Done;
  }
  return Step::Done;
}

SendEngine::Step SendEngine::send_rtr(Link& link) {
  // The RTR consumes the first MSN of its queue (RFC 6581 §5); it is not consumer traffic. A
  // Read RTR holds a read slot until its zero-length response arrives.
  uint32_t msn = 0;
  if (rtr_owed_ == wire::Rtr::Read) {
    msn = read_msn_++;
    std::lock_guard lock(sq_.lock());
    orq_.push_locked({OutboundReads::kRtr, msn});
  } else if (rtr_owed_ == wire::Rtr::Send) {
    msn = send_msn_++;
  }
  header_ = wire::make_rtr(rtr_owed_, msn);
  rtr_owed_ = wire::Rtr::None;
  TxResult result = hand_over(link, 0, 0);
  if (result == TxResult::Closed || result == TxResult::Refused) return Step::Failed;
  return result == TxResult::Blocked ? Step::Blocked : Step::Done;
}

SendEngine::Step SendEngine::gather(InitiatorWr& wr, uint64_t max_payload, size_t* piece_count,
                                    uint64_t* bytes) {
  size_t pieces = 0;
  uint64_t total = 0;
  if (wr.is_inline) {
    total = std::min<uint64_t>(wr.total_bytes - message_offset_, max_payload);
    if (total != 0) pieces_[pieces++] = {wr.inline_data + message_offset_, total};
  } else {
    while (total < max_payload && pieces < kMaxPieces) {
      AccessError error;
      std::span<std::byte> span = cursor_.next(max_payload - total, &error);
      if (error != AccessError::None) {
        cursor_.release();
        InitiatorQueue::finish(wr, STATUS_ACCESS_VIOLATION, provider_error_for_local(error));
        return Step::LocalError;
      }
      if (span.empty()) break;
      pieces_[pieces++] = {span.data(), span.size()};
      total += span.size();
    }
    // Local gather needs no lease across the hand-off: the consumer keeps its own buffers
    // valid until the completion (NDKPI), and holding one could block a nested invalidation of
    // the same region.
    cursor_.release();
  }
  *piece_count = pieces;
  *bytes = total;
  return Step::Done;
}

SendEngine::Step SendEngine::transmit_message(Link& link, InitiatorWr& wr) {
  const bool tagged = wr.op == WrOp::Write;
  const uint64_t max_payload = std::max<size_t>(link.max_segment_payload(tagged), 1);
  if (!message_started_ && !wr.is_inline) memory_.gather(cursor_, wr.sges, wr.sge_count);
  while (!message_started_ || message_offset_ < wr.total_bytes) {
    size_t pieces = 0;
    uint64_t bytes = 0;
    if (gather(wr, max_payload, &pieces, &bytes) == Step::LocalError) return Step::LocalError;
    const bool last = message_offset_ + bytes == wr.total_bytes;
    if (tagged) {
      header_.ddp_ = wire::make_tagged_header(wire::RdmapOpcode::Write, last, wr.remote_token,
                                              wr.remote_address + message_offset_);
    } else {
      const bool solicited = (wr.flags & NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT) != 0;
      header_.ddp_ = wire::make_untagged_header(
          wire::send_opcode(solicited, wr.invalidate_remote), last, send_msn_,
          static_cast<uint32_t>(message_offset_), wr.invalidate_remote ? wr.remote_token : 0);
    }
    TxResult result = hand_over(link, pieces, bytes);
    if (result == TxResult::Refused) {
      std::lock_guard lock(sq_.lock());
      sq_.set_refused_locked(next_);  // the peer refused this message: the culprit
      return Step::Failed;
    }
    // The link was already down (a Terminate for an earlier message, a loss): this message was
    // never sent and is cancelled with the rest; the Terminate names its own culprit.
    if (result == TxResult::Closed) return Step::Failed;
    count_out(bytes);
    message_started_ = true;
    message_offset_ += bytes;
    if (last && !tagged) ++send_msn_;
    if (result == TxResult::Blocked) return Step::Blocked;
  }
  return Step::Done;
}

bool SendEngine::check_read_sink(InitiatorWr& wr) {
  // Checked before anything is asked, so a bad sink fails this request alone.
  SglCursor check;
  memory_.read_sink(check, wr.sges, wr.sge_count);
  for (;;) {
    AccessError error;
    std::span<std::byte> span = check.next(SIZE_MAX, &error);
    if (error != AccessError::None) {
      check.release();
      InitiatorQueue::finish(wr, STATUS_ACCESS_VIOLATION, provider_error_for_local(error));
      return false;
    }
    if (span.empty()) break;
  }
  check.release();
  return true;
}

SendEngine::Step SendEngine::send_read_request(Link& link, InitiatorWr& wr, uint64_t index) {
  if (!check_read_sink(wr)) return Step::LocalError;
  const uint32_t msn = read_msn_++;
  {
    std::lock_guard lock(sq_.lock());
    orq_.push_locked({index, msn});
  }
  header_.ddp_ = wire::make_untagged_header(wire::RdmapOpcode::ReadRequest, true, msn, 0);
  header_.read_request_ = {sink_stag_for(index), 0, static_cast<uint32_t>(wr.total_bytes),
                           wr.remote_token, wr.remote_address};
  TxResult result = hand_over(link, 0, 0);
  if (result == TxResult::Closed || result == TxResult::Refused) return Step::Failed;
  count_out(0);
  return result == TxResult::Blocked ? Step::Blocked : Step::Done;
}

SendEngine::Step SendEngine::send_read_response(Link& link) {
  const InboundRead& read = irq_.front();
  const wire::RdmapReadRequest& rr = read.request;
  const uint64_t max_payload = std::max<size_t>(link.max_segment_payload(true), 1);
  Lease lease;
  if (rr.read_bytes_ != 0) {
    AccessError error = memory_.stags->acquire(rr.source_stag_, memory_.pd, kAccessRemoteRead,
                                               rr.source_to_, rr.read_bytes_, &lease);
    if (error != AccessError::None) {
      // Invalidated between request and response: the peer may not see this memory any more.
      wire::UlpduHeader offending;
      offending.ddp_ =
          wire::make_untagged_header(wire::RdmapOpcode::ReadRequest, true, read.msn, 0);
      offending.read_request_ = rr;
      wire::set_segment_sizes(offending, 0);
      link.terminate(wire::make_terminate(wire::kCheckReadSourceStagValid, offending));
      return Step::Failed;
    }
  }
  for (;;) {
    uint64_t bytes = std::min<uint64_t>(rr.read_bytes_ - response_offset_, max_payload);
    size_t pieces = 0;
    if (bytes != 0) {
      lease.for_each_span(rr.source_to_ + response_offset_, bytes, [&](std::byte* p, size_t n) {
        if (pieces < kMaxPieces) pieces_[pieces++] = {p, n};
      });
      if (pieces == kMaxPieces) {
        // Too fragmented for one segment: send what fits.
        bytes = 0;
        for (size_t i = 0; i < pieces; ++i) bytes += pieces_[i].bytes;
      }
    }
    const bool last = response_offset_ + bytes == rr.read_bytes_;
    header_.ddp_ = wire::make_tagged_header(wire::RdmapOpcode::ReadResponse, last, rr.sink_stag_,
                                            rr.sink_to_ + response_offset_);
    TxResult result = hand_over(link, pieces, bytes);
    if (result == TxResult::Closed || result == TxResult::Refused) return Step::Failed;
    if (!read.rtr) count_out(bytes);
    response_offset_ += bytes;
    if (last) {
      response_offset_ = 0;
      irq_.pop();
    }
    if (result == TxResult::Blocked) return Step::Blocked;
    if (last) return Step::Done;
  }
}

void SendEngine::cancel_all() {
  std::lock_guard lock(sq_.lock());
  Blame blame = sq_.take_blame_locked();
  // The read a Terminate named, else the oldest; the Read RTR is nobody's request.
  std::optional<OutboundReads::Entry> read =
      blame.has_read_msn ? orq_.find_locked(blame.read_msn) : orq_.front_locked();
  const bool charge = read.has_value() && read->index != OutboundReads::kRtr;
  sq_.cancel_unreported_locked(blame, charge ? &read->index : nullptr);
  next_ = sq_.posted();
  orq_.clear();
  irq_.clear();
  message_offset_ = 0;
  message_started_ = false;
  response_offset_ = 0;
}

}  // namespace softndk::core
