// The send engine of one queue pair (RFC 5040 §5, §6): turns the initiator queue into RDMAP
// messages on the link, in posting order. Owns the outgoing MSN counters (queue 0 for Sends,
// queue 1 for Read Requests, the RTR included), segmentation to the link's segment size,
// gathering from local memory, the Read Requests of the ORQ and the Read Responses the IRQ
// owes the peer, and executes memory requests in order with the data requests.
//
// Threads: run() and cancel_all() execute under the queue pair's transmit combiner, one thread
// at a time (the posting thread first, otherwise whoever kicks it). writable() may come from
// the link's thread at any time. Nothing here allocates after construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "core/adapter.h"
#include "core/datapath/initiator_queue.h"
#include "core/datapath/local_memory.h"
#include "core/datapath/read_queues.h"
#include "core/sgl.h"
#include "transport/transport.h"
#include "wire/ddp.h"
#include "wire/rtr.h"

namespace softndk::core {

class SendEngine {
 public:
  SendEngine(Adapter& adapter, InitiatorQueue& sq, OutboundReads& orq, InboundReads& irq,
             const LocalMemory& memory, TrafficCounters& traffic);

  // Before the connection carries data: the RTR to send as the first message (active side,
  // wire::Rtr::None otherwise) and the effective outbound read limit (ORD).
  void prepare(wire::Rtr rtr, uint32_t outbound_limit);

  enum class Outcome : uint8_t {
    Idle,        // everything posted so far is on the link
    Waiting,     // the next request waits for earlier reads (fence, read limit) or a stop
    Blocked,     // the link is full: run again after writable()
    LinkDown,    // the link refused or is closed: the queue pair's error path follows
    LocalError,  // a request failed a local check (finished with the error): enter error
  };
  Outcome run(transport::Link& link);
  // True while a message has been partly handed over (a disconnect waits for its end).
  bool in_message() const { return message_started_; }

  // Link::send returned Blocked until this: the link's thread reports it is writable again
  // (the caller then kicks the engine).
  void writable() { blocked_.store(false, std::memory_order_release); }
  bool blocked() const { return blocked_.load(std::memory_order_acquire); }

  // The queue pair entered the error state: stop before the next request.
  void stop() { stopped_.store(true, std::memory_order_release); }
  // The flush: charges the recorded blame, cancels everything not yet reported, forgets the
  // read queues and the message in progress.
  void cancel_all();

 private:
  enum class Step : uint8_t { Done, Blocked, Failed, Wait, LocalError };
  Step execute(transport::Link& link, InitiatorWr& wr, uint64_t index);
  Step send_rtr(transport::Link& link);
  Step transmit_message(transport::Link& link, InitiatorWr& wr);
  Step gather(InitiatorWr& wr, uint64_t max_payload, size_t* piece_count, uint64_t* bytes);
  Step send_read_request(transport::Link& link, InitiatorWr& wr, uint64_t index);
  Step send_read_response(transport::Link& link);
  bool check_read_sink(InitiatorWr& wr);
  // Hands header_ + pieces_[0, piece_count) to the link; tracks blocking.
  transport::TxResult hand_over(transport::Link& link, size_t piece_count, uint64_t bytes);
  void count_out(uint64_t bytes);
  // The fault plan's say on the segment about to go (docs/faults.md): conn.abort and
  // conn.disconnect end the link here (false: send nothing), the data and peer faults mark it.
  bool segment_faults(FaultPlan& plan, transport::Link& link, transport::TxSegment* segment);

  Adapter& adapter_;
  InitiatorQueue& sq_;
  OutboundReads& orq_;
  InboundReads& irq_;
  const LocalMemory& memory_;
  TrafficCounters& traffic_;

  uint64_t next_ = 0;                  // next initiator request to execute
  uint64_t message_offset_ = 0;        // bytes of the current message already handed over
  bool message_started_ = false;
  uint64_t response_offset_ = 0;       // bytes of the front Read Response already sent
  uint32_t send_msn_ = 1, read_msn_ = 1;
  uint32_t outbound_limit_ = 0;
  uint64_t bytes_sent_ = 0, messages_sent_ = 0;  // the bytes=/msgs= fault triggers
  wire::Rtr rtr_owed_ = wire::Rtr::None;
  // Set before each send, cleared when it went out or when the link reports writable (any
  // thread), so a writable report is never lost.
  std::atomic<bool> blocked_{false};
  std::atomic<bool> stopped_{false};
  SglCursor cursor_;
  std::vector<transport::ConstPiece> pieces_;
  wire::UlpduHeader header_;  // the segment being handed over (the link may keep a pointer
                              // only during send)
};

}  // namespace softndk::core
