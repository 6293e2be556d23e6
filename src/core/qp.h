// Queue pair (ndkpi.md 2.9, 4.1.3, 4.1.5, 4.2, 4.3, 4.6.7, 4.7): the initiator queue and its
// transmit engine, the receive queue, RDMA read bookkeeping (outbound ORQ, inbound IRQ), the
// receive path behind transport::LinkSink, flush and the error state.
//
// Threads: the consumer posts to each queue serially; the transmit engine runs on whichever
// thread kicks it (posting thread first, Combiner hand-off otherwise); the receive path runs
// on the link's delivery thread, one segment at a time. Completions of one queue leave in
// posting order (sq_lock_ orders initiator completions between engine and receive path).
#pragma once

#include <atomic>
#include <memory>
#include <cstdint>
#include <mutex>
#include <vector>

#include "core/adapter.h"
#include "core/cq.h"
#include "core/object.h"
#include "core/pd.h"
#include "core/progress.h"
#include "core/sgl.h"
#include "transport/transport.h"
#include "util/spin_lock.h"

namespace softndk::core {

class Connector;

enum class WrOp : uint8_t { Send, Write, Read, Bind, FastRegister, Invalidate };

struct InitiatorWr {
  WrOp op = WrOp::Send;
  uint32_t flags = 0;
  void* context = nullptr;
  uint32_t sge_count = 0;
  NDK_SGE* sges = nullptr;        // per-slot storage
  std::byte* inline_data = nullptr;  // per-slot storage (InlineDataSize bytes)
  bool is_inline = false;
  uint64_t total_bytes = 0;
  uint64_t remote_address = 0;
  uint32_t remote_token = 0;      // write/read target, or the STag a send invalidates
  bool invalidate_remote = false;
  // Memory operations.
  Object* target = nullptr;       // Mr or Mw (bind, fast-register, invalidate)
  Mr* bind_mr = nullptr;
  uint64_t address = 0;           // bind VA / fast-register base VA
  uint64_t length = 0;
  uint32_t new_stag = 0;          // STag chosen at post time (bind, fast-register)
  uint32_t fbo = 0;
  std::vector<NDK_LOGICAL_ADDRESS> pages;  // fast-register page list, copied at post
  // Outcome.
  // Release-stored after status by whoever finishes the request; read under sq_lock_.
  std::atomic<bool> done{false};
  NTSTATUS status = STATUS_SUCCESS;
  uint32_t provider_error = 0;
  uint64_t bytes_done = 0;
};

class Qp final : public Object, public transport::LinkSink, public Deferred, public RxPollSource {
 public:
  struct Params {
    Pd* pd;
    Cq* receive_cq;
    Cq* initiator_cq;
    Srq* srq;
    void* context;
    ULONG receive_depth, initiator_depth, receive_sge, initiator_sge, inline_bytes;
  };
  static NTSTATUS create(const Params& params, Qp** out);

  // NDK_QP_DISPATCH work requests.
  void flush();
  NTSTATUS post_send(void* context, const NDK_SGE* sges, ULONG count, ULONG flags,
                     bool invalidate, uint32_t remote_token);
  NTSTATUS post_receive(void* context, const NDK_SGE* sges, ULONG count);
  NTSTATUS post_write(void* context, const NDK_SGE* sges, ULONG count, uint64_t address,
                      uint32_t token, ULONG flags);
  NTSTATUS post_read(void* context, const NDK_SGE* sges, ULONG count, uint64_t address,
                     uint32_t token, ULONG flags);
  NTSTATUS post_bind(void* context, Mr* mr, Mw* mw, uint64_t address, uint64_t length,
                     ULONG flags);
  NTSTATUS post_fast_register(void* context, Mr* mr, ULONG page_count,
                              const NDK_LOGICAL_ADDRESS* pages, ULONG fbo, uint64_t length,
                              uint64_t base, ULONG flags);
  NTSTATUS post_invalidate(void* context, Object* target, ULONG flags);

  // Connection management (called by the connector).
  Pd* pd() const { return pd_; }
  bool attach(Connector* connector);   // false when already associated
  void detach(Connector* connector);   // the connector is closing
  // Establishment failed before data could flow: the QP may be connected again.
  void setup_failed(Connector* connector);
  // The connection will carry this QP's traffic with these effective read limits; inbound
  // segments may arrive from now on.
  void prepare(transport::ConnectionPtr connection, uint32_t inbound_limit,
               uint32_t outbound_limit);
  // The connection is established on our side: start transmitting.
  void connected();
  bool is_connected() const { return state_.load() == State::Connected; }
  // Local graceful disconnect: close in order; the connector hears back through
  // disconnect_finished().
  void disconnect();
  // Local abortive teardown (connector closed while connected).
  void abort_connection();

  // transport::LinkSink
  transport::RxVerdict rx_begin(const transport::SegmentHeader& header,
                                uint32_t payload_bytes) override;
  std::span<std::byte> rx_next_span(size_t max_bytes) override;
  void rx_end(bool intact) override;
  void link_writable() override;
  void link_closed(CloseKind kind, const transport::TerminateReason* terminate,
                   const transport::SegmentHeader* offending) override;

  // Deferred
  void run_deferred() override;

  // RxPollSource: a consumer polls one of our CQs and found it empty.
  void poll_rx() override;
  void poll_rx_stop() override;

 private:
  enum class State : uint8_t { Idle, Connecting, Connected, Disconnecting, PeerClosed, Error };

  Qp(const Params& params);
  ~Qp() override;
  void on_close() override;
  void on_destroy() override;

  NTSTATUS check_initiator_post(ULONG flags, ULONG allowed_flags);
  InitiatorWr& next_slot() { return sq_[sq_posted_ % sq_size_]; }
  NTSTATUS copy_sges(InitiatorWr& wr, const NDK_SGE* sges, ULONG count, ULONG flags,
                     ULONG max_sge, bool allow_inline);
  NTSTATUS submit(InitiatorWr& wr);  // publishes the slot and kicks the engine

  // Transmit engine.
  void kick_tx();
  void kick_tx_later();
  void run_tx();
  enum class Step { Done, Blocked, Failed, Wait };
  Step transmit_message(InitiatorWr& wr);
  Step send_read_request(InitiatorWr& wr, uint32_t slot);
  Step send_read_response();
  NTSTATUS execute_memory_op(InitiatorWr& wr);
  void finish_wr(InitiatorWr& wr, NTSTATUS status, uint32_t provider_error = 0);
  void complete_initiator_in_order();
  void fail_all_initiator();

  // Receive path helpers.
  transport::RxVerdict terminate_rx(uint8_t layer, uint8_t type, uint8_t code,
                                    const transport::SegmentHeader& header);
  transport::RxVerdict access_terminate(AccessError error, bool read_request,
                                        const transport::SegmentHeader& header);
  bool take_receive();
  void complete_receive(NTSTATUS status, uint64_t bytes, bool solicited, uint32_t invalidated,
                        bool with_invalidate, uint32_t provider_error = 0);
  void drain_receives_locked();  // caller holds rx_lock_
  void push_initiator(const NDK_RESULT_EX& result, bool error);
  bool push_receive(const NDK_RESULT_EX& result, bool solicited);
  // A CQ of this QP overran: the QP is unusable (ndkpi.md 4.1.4).
  bool cq_dead() const { return receive_cq_->failed() || initiator_cq_->failed(); }

  // State changes.
  // Culprit kinds: which outstanding request a failure is charged to.
  enum Culprit : int { kNoCulprit = 0, kCulpritTransmit = 1, kCulpritRead = 2 };
  void enter_error(NTSTATUS culprit_status, uint32_t provider_error, int culprit_kind);
  void apply_culprit_locked();
  NTSTATUS culprit_status_ = STATUS_CANCELLED;
  uint32_t culprit_error_ = 0;
  int culprit_kind_ = kNoCulprit;
  bool disconnect_requested_ = false;  // tx engine closes the link at a message boundary
  static constexpr uint64_t kNoSlot = ~uint64_t{0};
  uint64_t tx_failed_slot_ = kNoSlot;  // under sq_lock_: the send/write the link refused
  bool tx_message_started_ = false;
  void notify_connector_closed(bool graceful, bool local);

  // Fixed at creation.
  Pd* pd_;
  Cq* receive_cq_;
  Cq* initiator_cq_;
  Srq* srq_;
  void* qp_context_;
  uint32_t receive_depth_, initiator_depth_, receive_sge_, initiator_sge_, inline_bytes_;
  uint32_t privileged_token_;
  bool read_sink_required_;

  std::atomic<State> state_{State::Idle};
  // Registered with the CQs as a poll source (under poll_mutex_, which a poll never takes).
  std::mutex poll_mutex_;
  bool polled_ = false;
  void stop_polling();
  std::mutex connector_mutex_;
  Connector* connector_ = nullptr;
  // The data path reads the connection through this raw pointer: connection_ owns it and is
  // only replaced while the QP cannot transmit (Idle/Connecting), so it outlives every use.
  transport::Connection* connection() const { return connection_raw_.load(std::memory_order_acquire); }
  util::SpinLock connection_lock_;
  transport::ConnectionPtr connection_;  // under connection_lock_; kept until destruction
  std::atomic<transport::Connection*> connection_raw_{nullptr};
  std::vector<transport::ConnectionPtr> retired_connections_;  // failed setups, kept alive
  uint32_t inbound_limit_ = 0, outbound_limit_ = 0;

  // Initiator queue: slots [sq_completed_, sq_posted_). sq_posted_ is written by the poster,
  // sq_exec_ by the engine, sq_completed_ under sq_lock_.
  std::unique_ptr<InitiatorWr[]> sq_;
  size_t sq_size_ = 0;
  std::vector<NDK_SGE> sq_sge_storage_;
  std::vector<std::byte> sq_inline_storage_;
  std::atomic<uint64_t> sq_posted_{0};
  uint64_t sq_exec_ = 0;
  std::atomic<uint64_t> sq_completed_{0};
  // Slots become free when the consumer retrieves the completion (sq_reaped_, written by the
  // initiator CQ's poller) or, for silent successes, when the request finished.
  std::atomic<uint64_t> sq_reaped_{0};
  std::atomic<uint64_t> sq_silent_done_{0};  // written under sq_lock_
  util::SpinLock sq_lock_;
  util::Combiner tx_;
  std::atomic<bool> tx_deferred_{false};
  // Waiting for link_writable. Set before each send, cleared when the send went out or when
  // the link reports writable (any thread), so a writable report is never lost.
  std::atomic<bool> tx_blocked_{false};
  uint64_t tx_message_offset_ = 0;     // bytes of the current message already handed over
  uint32_t send_msn_ = 1, read_msn_ = 1;
  SglCursor tx_cursor_;
  std::vector<transport::ConstPiece> tx_pieces_;
  // Outbound reads in flight (slot numbers), oldest first.
  std::vector<uint64_t> orq_;
  std::atomic<uint32_t> orq_head_{0}, orq_tail_{0};
  // Inbound read requests waiting for their response (written by rx, read by the engine).
  struct InboundRead {
    uint32_t sink_stag;
    uint64_t sink_to;
    uint32_t size;
    uint32_t source_stag;
    uint64_t source_to;
  };
  std::vector<InboundRead> irq_;
  std::atomic<uint32_t> irq_head_{0}, irq_tail_{0};
  uint64_t irq_offset_ = 0;  // bytes of the front response already sent

  // Receive queue (own; unused with an SRQ): slots [rq_head_, rq_tail_). The consumer's posts
  // publish with rq_tail_ (single producer, no lock, its own cache line); the receive path
  // and flushes take from rq_head_ under rx_lock_, which the posting thread never touches
  // unless the queue is closed.
  std::vector<ReceiveWr> rq_;
  std::vector<NDK_SGE> rq_sge_storage_;
  alignas(64) std::atomic<uint64_t> rq_tail_{0};
  std::atomic<uint64_t> rq_reaped_{0};  // written by the receive CQ's poller (the consumer)
  alignas(64) util::SpinLock rx_lock_;
  uint64_t rq_head_ = 0;
  std::atomic<bool> rx_closed_{false};  // written under rx_lock_
  // The message being received.
  enum class RxKind : uint8_t { None, Send, Write, ReadResponse, Discard };
  RxKind rx_kind_ = RxKind::None;
  bool rx_have_receive_ = false;
  NTSTATUS rx_receive_status_ = STATUS_CANCELLED;  // status if the current receive is flushed
  ReceiveWr rx_receive_;
  std::vector<NDK_SGE> rx_sge_buffer_;  // SGEs of an SRQ receive being filled
  uint64_t rx_message_bytes_ = 0;       // payload bytes of the current message so far
  uint32_t rx_expected_msn_ = 1;
  uint32_t rx_expected_read_msn_ = 1;
  transport::SegmentHeader rx_header_;
  SglCursor rx_cursor_;
  Lease rx_lease_;
  uint64_t rx_target_ = 0;   // next target address (tagged)
  uint64_t rx_left_ = 0;     // payload bytes left in this segment
  uint64_t rx_segment_bytes_ = 0;
  AccessError rx_error_ = AccessError::None;

  // Counters (SoftNdkQueryAdapterCounters).
  TrafficCounters traffic_;
  std::atomic<bool> counted_active_{false};
  void connection_gone(bool error);
};

// Maps a peer's Terminate reason to the completion status of the request it hit
// (ndkpi.md 4.9); read_request: the terminated message was our Read Request.
NTSTATUS status_for_terminate(const transport::TerminateReason& reason, bool read_request);
uint32_t provider_error_for_terminate(const transport::TerminateReason& reason);

}  // namespace softndk::core
