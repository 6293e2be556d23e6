// Queue pair (NDKPI NDK_QP: NdkCreateQp, the work requests, NdkFlush): the object, its state
// machine, its connection, and the verbs' validation. The RDMAP protocol itself lives in
// core/datapath: the send engine (initiator queue -> link), the receive engine (link -> memory,
// completions, Terminates), the read queues and the receive queue, which this class owns and
// wires together. transport::LinkSink is implemented here and forwarded to the engines.
//
// Threads: the consumer posts to each queue serially (qp_post.cpp); the send engine runs on
// whichever thread kicks it (the posting thread first, the Combiner hands off otherwise); the
// receive engine runs on the link's delivery thread, one segment at a time. State changes go
// through transition()/enter_error() only, and each is logged (SOFTNDK_LOG=debug).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "core/adapter.h"
#include "core/cq.h"
#include "core/datapath/initiator_queue.h"
#include "core/datapath/local_memory.h"
#include "core/datapath/read_queues.h"
#include "core/datapath/receive_engine.h"
#include "core/datapath/receive_queue.h"
#include "core/datapath/send_engine.h"
#include "core/object.h"
#include "core/pd.h"
#include "core/progress.h"
#include "transport/transport.h"
#include "util/spin_lock.h"

namespace softndk::core {

class Connector;

class Qp final : public Object,
                 public transport::LinkSink,
                 public Deferred,
                 public RxPollSource,
                 private ReceiveEngine::Host {
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

  // NDK_QP_DISPATCH work requests (qp_post.cpp).
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
  // For diagnostics (verifier mode): the state's name ("idle", "connected", ...).
  std::string_view state_name() const { return to_string(state_.load(std::memory_order_acquire)); }
  bool attach(Connector* connector);   // false when already associated
  void detach(Connector* connector);   // the connector is closing
  // Establishment failed before data could flow: the QP may be connected again.
  void setup_failed(Connector* connector);
  // The connection will carry this QP's traffic with these effective read limits; inbound
  // segments may arrive from now on. active: we requested it (we send the RTR, if any).
  void prepare(transport::ConnectionPtr connection, uint32_t inbound_limit,
               uint32_t outbound_limit, bool active);
  // The connection is established on our side: start transmitting.
  void connected();
  // Local graceful disconnect: close in order; the connector hears back through
  // qp_link_closed().
  void disconnect();
  // Local abortive teardown (connector closed while connected).
  void abort_connection();

  // transport::LinkSink: data calls go straight to the receive engine.
  transport::RxVerdict rx_begin(const wire::UlpduHeader& header) override {
    return receive_.begin(header);
  }
  std::span<std::byte> rx_next_span(size_t max_bytes) override {
    return receive_.next_span(max_bytes);
  }
  void rx_end(bool intact) override { receive_.end(intact); }
  void link_writable() override;
  void link_closed(CloseKind kind, const wire::TerminateMessage* terminate) override;

  // Deferred
  void run_deferred() override;

  // RxPollSource: a consumer polls one of our CQs and found it empty.
  void poll_rx() override;
  void poll_rx_stop() override;

 private:
  // The queue pair's states (NDKPI: created, connecting, connected, disconnecting, and the
  // error state after a flush, a failure or the end of the connection).
  enum class State : uint8_t { Idle, Connecting, Connected, Disconnecting, PeerClosed, Error };
  static std::string_view to_string(State state);
  // The one way states change: `from` -> `to` if the state is still `from` (logged).
  bool transition(State from, State to, const char* event);
  // Any state -> Error (logged); returns the state it left.
  // `status`: what the failure completes the blamed request with, named in the log line.
  State enter_error_state(const char* event, NTSTATUS status = STATUS_SUCCESS);

  Qp(const Params& params);
  ~Qp() override;
  void on_close() override;
  void on_destroy() override;

  // Posting (qp_post.cpp).
  NTSTATUS check_initiator_post(ULONG flags, ULONG allowed_flags);
  NTSTATUS copy_sges(InitiatorWr& wr, const NDK_SGE* sges, ULONG count, ULONG flags,
                     ULONG max_sge, bool allow_inline);
  // The shared start of a Send, Write or Read: flags and state checked, the next slot filled
  // with op, flags, context and the SGEs (inline data copied when allowed and asked for).
  NTSTATUS begin_transfer(InitiatorWr*& wr, WrOp op, void* context, const NDK_SGE* sges,
                          ULONG count, ULONG flags, ULONG allowed_flags, ULONG max_sge,
                          bool allow_inline);
  NTSTATUS submit(InitiatorWr& wr);  // publishes the slot and kicks the engine

  // The send engine, under the transmit combiner.
  void kick_tx();
  void kick_tx_later();
  void run_tx();

  // ReceiveEngine::Host
  transport::Link* link() override;
  void kick_send() override { kick_tx_later(); }
  void report_initiator() override;
  void receive_cq_failed() override;

  // The error state: charges `blame`, aborts the link, flushes both queues.
  void enter_error(const Blame& blame, const char* event);
  void notify_connector_closed(bool graceful, bool local);
  void peer_closed_gracefully();  // link_closed(Graceful)
  // A CQ of this QP failed (overrun, fatal error) or its SRQ did: the QP is unusable (NDKPI
  // NDK_FN_CQ_NOTIFICATION_CALLBACK, NDK_FN_SRQ_NOTIFICATION_CALLBACK).
  bool cq_dead() const {
    return receive_cq_->failed() || initiator_cq_->failed() || (srq_ != nullptr && srq_->failed());
  }
  void stop_polling();
  void connection_gone(bool error);

  // Fixed at creation.
  Pd* pd_;
  Cq* receive_cq_;
  Cq* initiator_cq_;
  Srq* srq_;
  void* qp_context_;
  uint32_t receive_depth_, receive_sge_, initiator_sge_, inline_bytes_;

  std::atomic<State> state_{State::Idle};
  bool disconnect_requested_ = false;  // the send engine closes the link at a message boundary

  // Registered with the CQs as a poll source (under poll_mutex_, which a poll never takes).
  std::mutex poll_mutex_;
  bool polled_ = false;
  std::mutex connector_mutex_;
  Connector* connector_ = nullptr;
  // The data path reads the connection through this raw pointer: connection_ owns it and is
  // only replaced while the QP cannot transmit (Idle/Connecting), so it outlives every use.
  transport::Connection* connection() const {
    return connection_raw_.load(std::memory_order_acquire);
  }
  util::SpinLock connection_lock_;
  transport::ConnectionPtr connection_;  // under connection_lock_; kept until destruction
  std::atomic<transport::Connection*> connection_raw_{nullptr};
  std::vector<transport::ConnectionPtr> retired_connections_;  // failed setups, kept alive

  // The datapath (core/datapath), in construction order.
  LocalMemory memory_;
  TrafficCounters traffic_;  // SoftNdkQueryAdapterCounters
  InitiatorQueue sq_;
  OutboundReads orq_;
  InboundReads irq_;
  ReceiveQueue rq_;
  SendEngine send_;
  ReceiveEngine receive_;
  util::Combiner tx_;
  std::atomic<bool> tx_deferred_{false};
  std::atomic<bool> counted_active_{false};
};

}  // namespace softndk::core
