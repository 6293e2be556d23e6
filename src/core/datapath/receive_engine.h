// The receive engine of one queue pair (RFC 5040 §5, §7; RFC 5041 §7; the receive checks (src/wire/README.md) rows
// 7-23): validates each incoming segment against what the queue pair granted, hands out the
// target memory for direct placement, and acts when a message ends: completes receives,
// invalidates, queues the peer's Read Requests for the send engine, finishes our reads. One
// begin/end handler pair per RDMAP opcode, dispatched through a table indexed by the opcode
// (wire/opcode_table.h). A violation becomes a Terminate built here from the receive check and
// the offending header, sent through the link; the RTR of the connection's startup is absorbed.
//
// Threads: begin/next_span/end run on the link's delivery thread, one segment at a time per
// link. close() runs on any thread after the link stopped delivering (Link::abort returned).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/adapter.h"
#include "core/datapath/initiator_queue.h"
#include "core/datapath/local_memory.h"
#include "core/datapath/read_queues.h"
#include "core/datapath/receive_queue.h"
#include "core/memory.h"
#include "core/sgl.h"
#include "transport/transport.h"
#include "wire/rtr.h"
#include "wire/terminate_codes.h"

namespace softndk::core {

class Cq;
class Srq;

class ReceiveEngine {
 public:
  // What the engine needs from its queue pair.
  class Host {
   public:
    virtual transport::Link* link() = 0;  // for Terminates; null when not connected
    virtual void kick_send() = 0;          // run the send engine after this segment
    virtual void report_initiator() = 0;   // report finished initiator requests in order
    virtual void receive_cq_failed() = 0;  // the receive CQ overran: enter the error state

   protected:
    ~Host() = default;
  };

  struct Queues {
    InitiatorQueue& sq;
    OutboundReads& orq;
    InboundReads& irq;
    ReceiveQueue& rq;
    Srq* srq;  // receives come from here when set
  };
  ReceiveEngine(Adapter& adapter, Host& host, const Queues& queues, const LocalMemory& memory,
                Cq& receive_cq, void* qp_context, TrafficCounters& traffic,
                uint32_t max_receive_sge);

  // Before the connection carries data: the RTR the peer will send first (passive side, None
  // otherwise; the answer to our own Read RTR is found by its slot in the ORQ) and the
  // effective inbound read limit (IRD).
  void prepare(wire::Rtr expected_rtr, uint32_t inbound_limit);

  // transport::LinkSink data calls, forwarded by the queue pair.
  transport::RxVerdict begin(const wire::UlpduHeader& header);
  std::span<std::byte> next_span(size_t max_bytes);
  void end(bool intact);

  // The error state: stops the receive path and flushes the receive being filled (with its
  // recorded status) and every queued one, in order.
  void close();
  // A receive posted on a closed queue: flush it behind the others.
  void flush_posted();

 private:
  enum class Kind : uint8_t { None, Send, Write, ReadResponse, Discard, Absorbed };
  struct Handler {
    transport::RxVerdict (ReceiveEngine::*begin)(const wire::UlpduHeader&);
    void (ReceiveEngine::*end)(const wire::UlpduHeader&);  // null: nothing to do at the end
  };
  static const std::array<Handler, 16> kHandlers;

  transport::RxVerdict begin_send(const wire::UlpduHeader& h);
  transport::RxVerdict begin_write(const wire::UlpduHeader& h);
  transport::RxVerdict begin_read_request(const wire::UlpduHeader& h);
  transport::RxVerdict begin_read_response(const wire::UlpduHeader& h);
  transport::RxVerdict begin_unexpected(const wire::UlpduHeader& h);
  void end_send(const wire::UlpduHeader& h);
  void end_read_response(const wire::UlpduHeader& h);
  // The first segment of a passive connection: absorbs the RTR (true) or lets it through.
  bool absorb_rtr(const wire::UlpduHeader& h);
  bool absorb_rtr_response();
  bool interleaves(const wire::UlpduHeader& h) const;
  void track_open_message(const wire::UlpduHeader& h);
  bool check_invalidate(const wire::UlpduHeader& h);
  transport::RxVerdict terminate(const wire::ReceiveCheck& check);
  bool take_receive();
  // data.rnr / data.access (docs/faults.md): true when the fault plan fires at `point`.
  bool fault(FaultPoint point) {
    FaultPlan* plan = adapter_.faults();
    return plan != nullptr && fire_fault(*plan, point);
  }
  bool fire_fault(FaultPlan& plan, FaultPoint point);
  void complete_receive(NTSTATUS status, uint64_t bytes, bool solicited, uint32_t invalidated,
                        bool with_invalidate);
  bool push_receive(const NDK_RESULT_EX& result, bool solicited);
  void drain_locked();

  Adapter& adapter_;
  Host& host_;
  Queues queues_;
  const LocalMemory& memory_;
  Cq& receive_cq_;
  void* qp_context_;
  TrafficCounters& traffic_;

  // Per connection.
  uint32_t expected_msn_ = 1;       // queue 0 (Sends)
  uint32_t expected_read_msn_ = 1;  // queue 1 (Read Requests)
  uint32_t inbound_limit_ = 0;
  wire::Rtr expected_rtr_ = wire::Rtr::None;
  // The message of each model whose last segment has not arrived (receive check 7).
  struct OpenTagged {
    bool open = false;
    uint32_t stag = 0;
    uint64_t next_to = 0;
  } tagged_open_;
  struct OpenUntagged {
    bool open = false;
    uint32_t qn = 0;
    uint32_t msn = 0;
  } untagged_open_;
  // The segment being received.
  const wire::UlpduHeader* header_ = nullptr;  // valid from begin to end (LinkSink contract)
  Kind kind_ = Kind::None;
  uint64_t left_ = 0;           // payload bytes of this segment not yet handed out
  uint64_t segment_bytes_ = 0;  // payload bytes of this segment
  AccessError error_ = AccessError::None;
  SglCursor cursor_;
  Lease lease_;
  uint64_t target_ = 0;  // next tagged offset (Write)
  // The receive being filled by a Send message (spans segments).
  bool have_receive_ = false;
  NTSTATUS receive_status_ = STATUS_CANCELLED;  // its status if it is flushed
  ReceiveWr receive_;
  std::vector<NDK_SGE> receive_sges_;  // SGEs of that receive (copied out of its queue)
  uint64_t message_bytes_ = 0;         // payload of the current Send message so far
};

}  // namespace softndk::core
