// One iWARP connection over one TCP socket: the MPA startup of either role (RFC 5044 section 7.1,
// RFC 6581), then the Link: FPDU transmit with one sendmsg per FPDU (zero copy), FPDU receive with
// direct placement through the LinkSink, Terminate, graceful and abortive teardown. Endpoints live
// in tcp_transport.cpp. One class, its implementation split by concern (README.md has the map):
//
//   connection_phase.{h,cpp}  the phase state machine (pure; the only place phase_ changes)
//   tcp_connection.cpp        construction, start, event plumbing, epoll and timer dispatch
//   mpa_startup.cpp           the MPA Request/Reply legs of both roles, complete/accept/reject
//   link_send.cpp             FPDU framing, the transmit queue, sendmsg, link_writable
//   link_receive.cpp          the receive loop: FpduReader, direct placement, the sink's calls
//   consumer_poll.cpp         poll_receive on consumers' threads, busy-poll ownership, watchdog
//   link_teardown.cpp         disconnect, Terminate and drain, abort, close, the receive's ends
//
// Locks, in this order: events_mutex_ (ConnectionEvents/LinkSink pointers, held while an event
// runs) -> rx_mutex_ (the receive state below it; held while the sink is called) -> mutex_
// (phase, socket, transmit queue, timers) -> the engine's lock. Functions named *_locked require
// mutex_ (asserted in debug builds, util/lock_assert.h); the receive functions require rx_mutex_.
#pragma once

#include <sys/socket.h>

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

#include "transport/placement.h"
#include "transport/tcp/connection_phase.h"
#include "transport/tcp/progress_engine.h"
#include "transport/tcp/tcp_transport.h"
#include "transport/transport.h"
#include "util/lock_assert.h"
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
  wire::Rtr rtr() const override { return rtr_; }
  void cancel() override;

  // Link
  size_t max_segment_payload(bool tagged) const override;
  TxResult send(const TxSegment& segment) override;
  void terminate(const wire::TerminateMessage& message) override;
  void disconnect() override;
  void abort() override;
  bool supports_poll_receive() const override;
  bool poll_receive() override;
  void stop_poll_receive() override;

  // IoHandler
  void on_io(uint32_t events) override;
  void on_timer(uint32_t tag) override;

 private:
  // Staging for headers and small payloads of the receive path.
  static constexpr size_t kRxBufferBytes = 16384;
  // The bounded drain after a Terminate (sent or received) or a cancelled close.
  static constexpr uint64_t kDrainTimeoutMs = 1000;
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

  // --- plumbing (tcp_connection.cpp) ---
  // The only place phase_ changes: connection_phase.h's transition, logged by name. mutex_ held.
  // False (phase unchanged, logged): the event is not legal in the current phase.
  bool advance_locked(PhaseEvent event);
  void post_events(std::function<void(ConnectionEvents&)> work);
  void post_link_closed(LinkSink::CloseKind kind, const wire::TerminateMessage* terminate);
  void arm_timer_locked(uint32_t tag, uint64_t delay_ms);
  void update_interest_locked();

  // --- MPA startup (mpa_startup.cpp; progress thread unless noted) ---
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

  // --- transmit (link_send.cpp; any thread; *_locked: mutex_ held) ---
  TxResult queue_control_fpdu_locked(const wire::UlpduHeader& header);
  void queue_owned_locked(std::span<const std::byte> bytes);
  bool write_queue_locked(bool* core_drained);
  void detach_core_payload_locked();
  void flush_tx();  // progress thread: EPOLLOUT
  // sendmsg flags of an FPDU: with fpdu_eor=1, MSG_EOR ends a TCP record after each FPDU, so
  // the kernel starts the next FPDU in a new segment instead of appending it to a partly
  // filled one (RFC 5044 section 8: FPDUs aligned with TCP segments, as far as a sender can).
  int send_flags() const {
    return MSG_NOSIGNAL | MSG_DONTWAIT | (context_->options.fpdu_eor ? MSG_EOR : 0);
  }
  void call_writable();

  // --- receive (link_receive.cpp; progress thread or a consumer's poll; rx_mutex_ held) ---
  enum class RxOutcome : uint8_t {
    None, PeerFin, Lost, Malformed, PeerTerminate, Stopped
  };
  enum class RxStep : uint8_t { Again, Stop };
  void receive();
  // What a receive loop leaves to do once rx_mutex_ is released.
  struct RxDone {
    RxOutcome outcome = RxOutcome::None;
    bool post_established = false;  // the first FPDU established the connection
    bool first_fpdu = false;        // our held FPDUs may leave now
  };
  // The receive loop; `rx` holds rx_mutex_ and is released on return. polled: called by
  // poll_receive() on a consumer's thread. after_receive() then acts on the result, without
  // rx_mutex_ and (for a poller) after the poller has counted itself out: its handlers take
  // rx_mutex_ (stop_rx), which abort() holds while it waits for the pollers to leave.
  RxDone receive_locked(std::unique_lock<util::Mutex>& rx, bool polled);
  void after_receive(const RxDone& done);
  RxOutcome receive_rounds();                    // feed, place, read until a stop
  RxStep read_socket(bool* short_read, RxOutcome* outcome);  // one recv (direct or staged)
  void end_input(RxOutcome outcome);             // rx_end(false) owed, rx_closed_
  void handle_outcome(RxOutcome outcome);        // rx_mutex_ released
  bool process_buffered(RxOutcome* outcome);  // false: stop reading
  bool on_header(const wire::UlpduHeader& header, RxOutcome* outcome);
  bool place(std::span<const std::byte> payload);
  bool on_complete(RxOutcome* outcome);

  // --- teardown (link_teardown.cpp) ---
  void close_now(bool abortive);  // progress thread
  void stop_rx();  // abort/terminate/cancel from any thread (see rx_mutex_)
  void drain_input();
  void handle_peer_fin();
  void handle_lost();
  void handle_malformed();
  void handle_peer_terminate();
  void enter_draining_locked(bool drop_unsent);
  void queue_terminate_locked(const wire::TerminateMessage& message);

  const std::shared_ptr<TcpContext> context_;
  const bool active_;
  SockAddr local_;
  const SockAddr remote_;
  ConnectionParams request_;  // active: what we ask for
  DeliverFn deliver_;
  std::function<void()> release_tuple_;

  // Connection state and the transmit queue.
  mutable util::Mutex mutex_;
  // max_segment_payload(): the last TCP_MAXSEG read and how many messages asked since.
  static constexpr uint32_t kMssRefreshMessages = 256;
  mutable std::atomic<int> mss_cache_{0};
  mutable std::atomic<uint32_t> mss_calls_{0};
  int fd_ = -1;  // written on the progress thread under mutex_; read by it without the lock
  Phase phase_;  // connection_phase.h; changed by advance_locked() only
  uint64_t timer_id_ = 0;
  uint32_t interest_ = 0;  // current epoll interest set
  bool peer_fin_ = false;  // EOF seen (input side done)
  bool crc_ = true;  // negotiated (on iff the Reply has C=1, RFC 5044 section 7.1.2)
  wire::Rtr rtr_ = wire::Rtr::None;  // fixed before on_reply / the request's delivery
  bool peer_p2p_ = false;
  wire::MpaFrame peer_request_{};   // responder: the Request's flags and IRD/ORD word
  std::deque<TxFrame> tx_queue_;
  bool tx_hold_ = false;      // responder: nothing leaves before the first inbound FPDU
  bool tx_closed_ = false;    // no more segments from the core
  bool fin_after_tx_ = false; // shutdown(SHUT_WR) once the queue is empty
  bool fin_sent_ = false;
  bool terminate_sent_ = false;
  bool writable_owed_ = false;  // a core send returned Blocked: link_writable when drained

  // Control frames being read (setup).
  std::array<std::byte, wire::kMpaMaxFrameBytes> ctl_buf_{};
  size_t ctl_have_ = 0;

  // Receive path. rx_mutex_ is held while the progress thread calls the sink; abort/terminate
  // from other threads take it to wait delivery out; from inside delivery they see delivering_.
  util::Mutex rx_mutex_;
  // Consumer-driven receive (consumer_poll.cpp, poll_receive): allowed while established; threads
  // inside it are counted so close_now() never closes the socket under a poller's recv().
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
  enum class RxMode : uint8_t { None, Sink, PeerTerminate };
  RxMode rx_mode_ = RxMode::None;
  bool rx_in_segment_ = false;  // rx_begin returned Place/Discard; rx_end is owed
  bool rx_place_ = false;       // the verdict was Place: payload goes through placement_
  Placement placement_;         // into the sink's spans (transport/placement.h)
  bool await_first_fpdu_ = false;    // responder: the first FPDU ends AwaitRtr / the hold
  bool rx_post_established_ = false; // the first FPDU ended AwaitRtr: post on_established
  wire::TerminateMessage peer_terminate_{};
  wire::ReceiveCheck rx_check_{};
  int rx_errno_ = 0;
  // The error a sendmsg() took from the socket (ETIMEDOUT of TCP_USER_TIMEOUT, a reset): the
  // receive path then reads EOF, which is a loss, not the peer's graceful close.
  std::atomic<int> tx_errno_{0};

  // Setup events and link_closed, delivered on the executor; cleared by cancel().
  std::recursive_mutex events_mutex_;
  ConnectionEvents* events_ = nullptr;
  LinkSink* sink_ = nullptr;
  bool closed_notified_ = false;
  bool cancelled_ = false;
};

}  // namespace softndk::transport::tcp
