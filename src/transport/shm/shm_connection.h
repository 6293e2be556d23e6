// One shm connection: the setup legs over the setup socket (shm_setup.h), then the Link over
// the two rings of the connection's segment (shm_segment.h): records written by the posting
// thread, received by the adapter's engine thread or a consumer polling its CQ, placed straight
// into target memory through the LinkSink. See README.md for the protocol, threads and locks.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "transport/placement.h"
#include "transport/shm/shm_engine.h"
#include "transport/shm/shm_segment.h"
#include "transport/shm/shm_setup.h"
#include "transport/transport.h"
#include "util/spin_lock.h"

namespace softndk::transport::shm {

struct ShmOptions {
  uint32_t ring_bytes = 1u << 20;       // per direction
  uint32_t segment_payload = 128 * 1024;  // largest payload of one record
  uint32_t disconnect_timeout_ms = 10000;
  bool consumer_receive = true;           // Link::poll_receive
};

// Counters of one adapter (softndk info shows them through the adapter's counters).
struct ShmCounters {
  std::atomic<uint64_t> records_sent{0};
  std::atomic<uint64_t> records_received{0};
  std::atomic<uint64_t> doorbells_rung{0};
  std::atomic<uint64_t> sends_blocked{0};
};

// What a transport shares with its endpoints and connections.
struct ShmContext {
  std::shared_ptr<Engine> engine;
  Executor* executor = nullptr;
  std::string fabric;
  ShmOptions options;
  ShmCounters counters;
};

class ShmConnection final : public Connection,
                            public Link,
                            public IoHandler,
                            public Progressable,
                            public std::enable_shared_from_this<ShmConnection> {
 public:
  // Hands a received Request to the listener (executor thread); false: refused.
  using DeliverFn =
      std::function<bool(ConnectionPtr, const ConnectionParams&, const SockAddr& to)>;

  // Active side: `fd` is connected to the listener's setup socket (or -1: `failure` is
  // reported once start() runs).
  ShmConnection(std::shared_ptr<ShmContext> context, int fd, SockAddr local, SockAddr remote,
                ConnectionParams request, ConnectionEvents* events, Status failure,
                std::function<void()> release);
  // Passive side: `fd` was accepted; the Request follows.
  ShmConnection(std::shared_ptr<ShmContext> context, int fd, DeliverFn deliver);
  ~ShmConnection() override;
  // Sends the Request (active) and starts watching the socket.
  void start();

  // Connection
  SockAddr local_address() const override;
  SockAddr peer_address() const override;
  void set_events(ConnectionEvents* events) override;
  Status complete(LinkSink* sink) override;
  Status accept(const ConnectionParams& reply, LinkSink* sink) override;
  Status reject(std::span<const std::byte> private_data) override;
  Link* link() override { return this; }
  void cancel() override;

  // Link
  size_t max_segment_payload(bool) const override { return context_->options.segment_payload; }
  TxResult send(const TxSegment& segment) override;
  void terminate(const wire::TerminateMessage& message) override;
  void disconnect() override;
  void abort() override;
  bool supports_poll_receive() const override { return context_->options.consumer_receive; }
  bool poll_receive() override;
  void stop_poll_receive() override;

  // IoHandler (the setup socket)
  void on_io(uint32_t events) override;
  // Progressable (engine thread)
  bool progress() override;
  bool prepare_sleep() override;
  bool has_work() override;
  void end_sleep() override;

 private:
  enum class Phase : uint8_t {
    AwaitReply,        // active: Request sent
    AwaitComplete,     // active: Reply received, on_reply posted
    AwaitRequest,      // passive: accepted, waiting for the Request
    RequestDelivered,  // passive: waiting for accept()/reject()
    AwaitReady,        // passive: Reply sent, data may already flow
    Established,
    Closed,            // setup failed or the socket is closed
  };

  // --- setup (shm_connection.cpp) ---
  SetupMessage make_message(SetupKind kind, const ConnectionParams& params) const;
  void on_message(const SetupMessage& message, int fds[2], int fd_count);
  void on_request(const SetupMessage& message, int fds[2]);
  void on_reply(const SetupMessage& message, int fds[2]);
  void on_setup_hangup(Phase phase);
  void on_link_hangup();
  void post_events(std::function<void(ConnectionEvents&)> work);
  void close_socket();  // any thread: stop watching, close; the link leaves the engine
  void open_link_locked(LinkSink* sink);

  // --- data path (shm_link.cpp) ---
  enum class RxStop : uint8_t { None, Empty, Closed };
  bool receive_locked(int budget, RxStop* stop);
  RxStop receive_record(uint64_t available);
  RxStop deliver_segment(const RecordHeader& record);
  void malformed(const wire::TerminateMessage& message);
  bool write_record_locked(RecordKind kind, std::span<const std::byte> header,
                           const ConstPiece* pieces, size_t piece_count, uint64_t payload);
  bool write_segment_locked(const wire::UlpduHeader& header, const ConstPiece* pieces,
                            size_t piece_count);
  void ring_peer_if_sleeping();
  void ring_peer_if_waiting();
  bool flush_blocked();
  void peer_disconnected();
  void stop_rx();
  void report_closed(LinkSink::CloseKind kind, const wire::TerminateMessage* terminate);

  const std::shared_ptr<ShmContext> context_;
  const bool active_;
  ConnectionParams request_;
  DeliverFn deliver_;
  std::function<void()> release_;
  Status failure_ = 0;

  // Setup state and the socket.
  mutable std::mutex mutex_;
  SockAddr local_, remote_;  // under mutex_ (the passive side learns them from the Request)
  int fd_ = -1;
  Phase phase_;
  bool hangup_seen_ = false;
  int peer_doorbell_ = -1;  // fixed once the link opens
  Segment segment_;
  Ring tx_ring_, rx_ring_;

  // Transmit, under tx_lock_.
  util::SpinLock tx_lock_;
  bool tx_open_ = false;      // the core may send
  bool tx_final_ = false;     // Terminate, Disconnect or close: nothing more leaves
  bool tx_blocked_ = false;   // a segment waits for room (pending_*)
  bool disconnect_owed_ = false;
  wire::UlpduHeader pending_header_{};
  std::vector<ConstPiece> pending_pieces_;
  std::atomic<bool> tx_waiting_{false};  // engine: flush_blocked() when there is room
  std::atomic<uint64_t> tx_need_{0};

  // Receive, under rx_mutex_ (engine thread, or a polling consumer with try_lock).
  std::mutex rx_mutex_;
  std::atomic<bool> rx_open_{false};
  LinkSink* rx_sink_ = nullptr;
  Placement placement_;
  std::atomic<std::thread::id> delivering_{};
  std::atomic<int64_t> polled_at_{0};  // steady clock ns of the last consumer poll; 0: none
  std::atomic<bool> closed_reported_{false};
  std::atomic<bool> engine_linked_{false};

  // Setup events and link_closed, delivered on the executor; cleared by cancel().
  std::recursive_mutex events_mutex_;
  ConnectionEvents* events_ = nullptr;
  LinkSink* sink_ = nullptr;
  bool cancelled_ = false;
};

}  // namespace softndk::transport::shm
