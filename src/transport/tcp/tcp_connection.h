// One iWARP connection over one TCP socket: the MPA startup of either role (RFC 5044 §7.1,
// RFC 6581 §5; iwarp.md 1.1-1.4, 4.4, 5.1), then the Link: FPDU transmit with one sendmsg per
// FPDU (zero copy), FPDU receive with direct placement through the LinkSink, Terminate,
// graceful and abortive teardown (iwarp.md 1.6-1.10, 3.5, 4.1-4.3). Endpoints live elsewhere.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "transport/tcp/progress_engine.h"
#include "transport/tcp/tcp_transport.h"
#include "transport/transport.h"
#include "wire/fpdu.h"
#include "wire/fpdu_reader.h"
#include "wire/mpa.h"

namespace softndk::transport::tcp {

// What a transport shares with its connections and endpoints.
struct TcpContext {
  std::shared_ptr<ProgressEngine> engine;
  Executor* executor = nullptr;
  TcpOptions options;
  SockAddr ip;  // the one address this adapter owns
};

class TcpConnection final : public Connection,
                            public Link,
                            public IoHandler,
                            public std::enable_shared_from_this<TcpConnection> {
 public:
  // Delivers a parsed MPA Request to the listener (executor thread); false: refused.
  using DeliverFn = std::function<bool(ConnectionPtr, const ConnectionParams&)>;

  // Active side: `fd` is bound to `local`; start() connects it to `remote`.
  TcpConnection(std::shared_ptr<TcpContext> context, int fd, SockAddr local, SockAddr remote,
                ConnectionParams request, ConnectionEvents* events,
                std::function<void()> release_tuple);
  // Passive side: `fd` was accepted; the Request is read, then `deliver` is called.
  TcpConnection(std::shared_ptr<TcpContext> context, int fd, SockAddr local, SockAddr remote,
                DeliverFn deliver);
  ~TcpConnection() override;

  // Registers the socket with the engine and starts the first leg (connect / await Request).
  // Returns false when the engine refused the socket (the connection is then closed).
  bool start();

  // Connection
  SockAddr local_address() const override;
  SockAddr peer_address() const override { return remote_; }
  void set_events(ConnectionEvents* events) override;
  Status complete(LinkSink* sink) override;
  Status accept(const ConnectionParams& reply, LinkSink* sink) override;
  Status reject(std::span<const std::byte> private_data) override;
  Link* link() override { return this; }
  void cancel() override;

  // Link
  size_t max_segment_payload(bool tagged) const override;
  TxResult send(const TxSegment& segment) override;
  void terminate(const TerminateReason& reason, const SegmentHeader* offending) override;
  void disconnect() override;
  void abort() override;
  bool supports_poll_receive() const override;
  bool poll_receive() override;
  void stop_poll_receive() override;

  // IoHandler
  void on_io(uint32_t events) override;
  void on_timer(uint32_t tag) override;

 private:
  // Connection phases (iwarp.md 4.5), guarded by mutex_.
  enum class Phase : uint8_t {
    Connecting,        // initiator: TCP handshake in progress
    AwaitReply,        // initiator: MPA Request sent
    AwaitComplete,     // initiator: Reply accepted, on_reply posted; waiting for complete()
    AwaitRequest,      // responder: TCP accepted, waiting for the MPA Request
    RequestDelivered,  // responder: on_request delivered; waiting for accept()/reject()
    AwaitRtr,          // responder: Reply sent, waiting for the initiator's first FPDU
    Established,       // FPDU mode
    Closing,           // our FIN is queued or sent; waiting for the peer's
    Draining,          // Terminate or reject Reply sent: discard input until EOF or timeout
    Closed,
  };
  enum class Rtr : uint8_t { None, Write, Read, Send };
  enum TimerTag : uint32_t { kSetupTimer = 1, kDrainTimer = 2, kPollWatchdog = 3 };

  // One frame waiting for the socket: an FPDU (length + ULPDU header | payload | pad + CRC) or a
  // whole MPA frame. Core payload is referenced, everything else is owned.
  struct TxFrame {
    static constexpr size_t kHeadBytes = wire::kFpduLengthBytes + wire::kDdpUntaggedHeaderBytes +
                                         wire::kTerminateMaxBodyBytes;
    std::array<std::byte, kHeadBytes> head{};
    size_t head_bytes = 0;
    std::array<std::byte, wire::kFpduMaxTrailerBytes> trailer{};
    size_t trailer_bytes = 0;
    std::vector<ConstPiece> pieces;
    std::vector<std::byte> owned;  // payload copy or MPA frame bytes (pieces point into it)
    size_t total = 0;
    size_t sent = 0;
    bool core_payload = false;  // pieces point at the core's memory (link_writable when out)
  };

  // --- setup legs (progress thread unless noted) ---
  void finish_connect();
  void read_reply();
  void read_request();
  bool read_control_frame(wire::MpaFrameKind kind, wire::MpaFrame* frame, wire::MpaError* error,
                          bool* failed);
  void evaluate_reply(const wire::MpaFrame& reply);
  void evaluate_request(const wire::MpaFrame& request);
  void deliver_request(ConnectionParams params);  // executor thread
  void fail_connect(Status status, std::vector<std::byte> reject_data, bool abortive);
  void fail_setup_terminate(uint8_t llp_code);  // initiator: Terminate after a bad Reply
  void send_reject_locked(std::span<const std::byte> private_data);
  void setup_peer_gone();

  // --- transmit (any thread; *_locked: mutex_ held) ---
  size_t encode_segment_head(const SegmentHeader& header, TxFrame* frame) const;
  TxResult queue_control_fpdu_locked(const wire::UlpduHeader& header);
  void queue_owned_locked(std::span<const std::byte> bytes);
  bool write_queue_locked(bool* core_drained);
  void update_interest_locked();
  void detach_core_payload_locked();
  void flush_tx();  // progress thread: EPOLLOUT
  void handle_peer_fin();
  void handle_lost();
  void handle_malformed();
  void handle_peer_terminate();
  void enter_draining_locked(bool drop_unsent);
  void call_writable();
  void queue_terminate_locked(const wire::TerminateMessage& message);

  // --- receive (progress thread) ---
  enum class RxOutcome : uint8_t {
    None, PeerFin, Lost, Malformed, PeerTerminate, Stopped
  };
  void receive();
  // The receive loop; `rx` holds rx_mutex_ and is released before the outcome is handled.
  // polled: called by poll_receive() on a consumer's thread.
  void receive_locked(std::unique_lock<std::mutex>& rx, bool polled);
  bool process_buffered(RxOutcome* outcome);  // false: stop reading
  bool on_header(const wire::UlpduHeader& header, RxOutcome* outcome);
  bool place(std::span<const std::byte> payload);
  bool on_complete(RxOutcome* outcome);
  bool ensure_span();
  void drain_input();
  SegmentHeader to_segment(const wire::UlpduHeader& header) const;

  // --- teardown ---
  void close_now(bool abortive);  // progress thread
  void schedule_close(bool abortive);
  void post_events(std::function<void(ConnectionEvents&)> work);
  void post_link_closed(LinkSink::CloseKind kind, const TerminateReason* reason,
                        const SegmentHeader* offending);
  void arm_timer_locked(uint32_t tag, uint64_t delay_ms);
  void stop_rx();  // abort/terminate/cancel from any thread (see rx_mutex_)
  wire::TerminateMessage terminate_message(const TerminateReason& reason,
                                           const SegmentHeader* offending, bool inside_rx) const;

  const std::shared_ptr<TcpContext> context_;
  const bool active_;
  SockAddr local_;
  const SockAddr remote_;
  ConnectionParams request_;  // active: what we ask for
  DeliverFn deliver_;
  std::function<void()> release_tuple_;

  // Connection state and the transmit queue.
  mutable std::mutex mutex_;
  // max_segment_payload(): the last TCP_MAXSEG read and how many messages asked since.
  static constexpr uint32_t kMssRefreshMessages = 256;
  mutable std::atomic<int> mss_cache_{0};
  mutable std::atomic<uint32_t> mss_calls_{0};
  int fd_ = -1;  // written on the progress thread under mutex_; read by it without the lock
  Phase phase_;
  uint64_t timer_id_ = 0;
  uint32_t interest_ = 0;  // current epoll interest set
  bool peer_fin_ = false;  // EOF seen (input side done)
  bool crc_ = true;  // negotiated (RFC 5044 §7.1.2: on iff the Reply has C=1)
  Rtr rtr_ = Rtr::None;
  bool peer_p2p_ = false;
  wire::MpaFrame peer_request_{};   // responder: the Request's flags and IRD/ORD word
  std::deque<TxFrame> tx_queue_;
  bool tx_hold_ = false;      // responder: nothing leaves before the first inbound FPDU
  bool tx_closed_ = false;    // no more segments from the core
  bool fin_after_tx_ = false; // shutdown(SHUT_WR) once the queue is empty
  bool fin_sent_ = false;
  bool terminate_sent_ = false;
  bool writable_owed_ = false;  // a core send returned Blocked: link_writable when drained
  uint32_t out_read_msn_shift_ = 0;  // we sent a Read RTR: our Read Requests start at MSN 2

  // Control frames being read (setup).
  std::array<std::byte, wire::kMpaMaxFrameBytes> ctl_buf_{};
  size_t ctl_have_ = 0;

  // Receive path. rx_mutex_ is held while the progress thread calls the sink; abort/terminate
  // from other threads take it to wait delivery out; from inside delivery they see delivering_.
  std::mutex rx_mutex_;
  // Consumer-driven receive (poll_receive): allowed while established; threads inside it are
  // counted so close_now() never closes the socket under a poller's recv().
  std::atomic<bool> rx_pollable_{false};
  std::atomic<uint32_t> rx_pollers_{0};
  void set_pollable(bool on);
  // set_pollable(false), then wait until no consumer poll is inside the receive path (except
  // the calling thread's own, when it is one): the socket may then be reset or closed.
  void stop_pollers();
  // Busy-poll ownership: while a consumer keeps polling, the progress thread stops watching
  // EPOLLIN (no wake-up and no contention per FPDU; FIN, RST and errors still reach it). A
  // watchdog on the progress thread gives the socket back when the polls stop or slow down.
  static constexpr uint64_t kPollWatchdogMs = 1;
  static constexpr uint32_t kPollsToKeepOwnership = 32;  // per watchdog period
  static constexpr uint32_t kPollsBeforeOwnership = 64;
  std::atomic<uint32_t> consumer_polls_{0};
  std::atomic<bool> consumer_owned_{false};  // written under mutex_, read anywhere
  uint32_t polls_seen_ = 0;                       // under mutex_
  uint64_t watchdog_id_ = 0;                      // under mutex_
  void take_poll_ownership();
  void give_back_locked();
  void poll_watchdog();
  std::atomic<std::thread::id> delivering_{};
  LinkSink* rx_sink_ = nullptr;
  bool rx_closed_ = false;
  std::optional<wire::FpduReader> reader_;
  std::vector<std::byte> rx_buf_;
  size_t rx_begin_ = 0, rx_end_ = 0;
  enum class RxMode : uint8_t { None, Sink, Absorb, PeerTerminate };
  RxMode rx_mode_ = RxMode::None;
  bool rx_in_segment_ = false;  // rx_begin returned Place/Discard; rx_end is owed
  bool rx_place_ = false;
  bool rx_discard_rest_ = false;
  std::span<std::byte> rx_span_;
  size_t rx_span_fill_ = 0;
  size_t rx_left_ = 0;  // payload bytes of this segment not yet placed or dropped
  bool await_first_fpdu_ = false;    // responder: the first FPDU ends AwaitRtr / the hold
  Rtr rx_rtr_ = Rtr::None;           // the RTR negotiated, as the receive path sees it
  bool rx_post_established_ = false; // the first FPDU ended AwaitRtr: post on_established
  bool await_rtr_response_ = false;  // initiator: absorb the Read RTR's zero-length response
  std::atomic<uint32_t> in_read_msn_shift_{0};  // peer's Read RTR consumed its Read MSN 1
  std::atomic<uint32_t> in_send_msn_shift_{0};  // peer's Send RTR consumed its Send MSN 1
  wire::TerminateMessage peer_terminate_{};
  wire::ReceiveCheck rx_check_{};
  int rx_errno_ = 0;

  // Setup events and link_closed, delivered on the executor; cleared by cancel().
  std::recursive_mutex events_mutex_;
  ConnectionEvents* events_ = nullptr;
  LinkSink* sink_ = nullptr;
  bool closed_notified_ = false;
  bool cancelled_ = false;
};

}  // namespace softndk::transport::tcp
