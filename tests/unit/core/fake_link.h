// A fake transport for unit tests of the core (src/core): implements transport::Transport,
// Endpoint, Connection and Link so that a real core::Adapter runs over it, while the test plays
// the peer and the wire. Nothing leaves the process and nothing is framed: the test
//   - drives connection setup: sees the core's request (active) or makes one (passive), answers
//     with chosen read limits and a chosen RTR (Connection::rtr()), and delivers on_reply /
//     on_established, posted on the adapter's executor as real transports do;
//   - sees every segment the core hands to Link::send (a copy of the wire::UlpduHeader and of the
//     payload bytes), every Terminate (the whole message), disconnect and abort calls, and
//     chooses what each send answers (Sent, Blocked, Closed, Refused);
//   - injects segments through the LinkSink the core gave (rx_begin / rx_next_span / rx_end,
//     placing the payload with transport::Placement as loopback and tcp do), writable reports,
//     and link_closed events of every CloseKind with a chosen Terminate message (posted on the
//     executor, once per link, as real transports do).
//
// Threads: injections run on the calling thread, serialized per link (as a transport's delivery
// thread). Executor work (setup events, link_closed) runs on the adapter's event thread. The
// core may call back into the link from inside an injection (send, terminate, abort), as it
// does with tcp's progress thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/adapter.h"
#include "transport/placement.h"
#include "transport/transport.h"
#include "wire/ddp.h"
#include "wire/rtr.h"

namespace softndk::test {

using namespace std::chrono_literals;
inline constexpr std::chrono::milliseconds kWaitTimeout = 10s;  // every wait is bounded by this

// One segment the core handed to Link::send, as the link saw it.
struct SentSegment {
  wire::UlpduHeader header;        // a copy (sizes as the core set them)
  std::vector<std::byte> payload;  // the gathered payload pieces, concatenated
  transport::TxResult answer = transport::TxResult::Sent;  // what the link answered
};

class FakeConnection;
class FakeTransport;

// The Link of one FakeConnection.
class FakeLink final : public transport::Link {
 public:
  using CloseKind = transport::LinkSink::CloseKind;

  // --- transport::Link (called by the core) ---
  size_t max_segment_payload(bool tagged) const override;
  transport::TxResult send(const transport::TxSegment& segment) override;
  void terminate(const wire::TerminateMessage& message) override;
  void disconnect() override;
  void abort() override;

  // --- what the core did ---
  std::vector<SentSegment> sent() const;  // segments accepted (Sent/Blocked) or Refused, in order
  size_t sent_count() const;
  SentSegment sent_at(size_t index) const;  // precondition: index < sent_count()
  // Waits until at least `count` segments were handed over; false on timeout.
  bool wait_sent(size_t count, std::chrono::milliseconds timeout = kWaitTimeout) const;
  size_t closed_sends() const;  // send() calls answered Closed (nothing was sent)
  std::vector<wire::TerminateMessage> terminates() const;
  bool wait_terminate(std::chrono::milliseconds timeout = kWaitTimeout) const;
  int disconnects() const;
  int aborts() const;
  // Contract breaches seen (e.g. a send while Blocked); empty when the core behaved.
  std::vector<std::string> violations() const;

  // --- how the link answers ---
  void set_max_segment_payload(size_t tagged, size_t untagged);
  // The answers to the next send() calls, in order; Sent once they are used up. Blocked: the
  // segment is taken, nothing more may be sent until writable(). Refused: the peer refused this
  // very segment, the link is closed now (deliver the Terminate with close()). Closed: nothing
  // was sent, the link is down.
  void answer_next(transport::TxResult answer);
  // A disconnect() is answered with link_closed(Graceful) at once (default: the test answers).
  void set_answer_disconnect(bool graceful) { answer_disconnect_ = graceful; }

  // --- the peer and the wire (called by the test) ---
  // Delivers one segment: sizes are set for `payload` (wire::set_segment_sizes), then rx_begin,
  // the payload placed through rx_next_span, rx_end(intact) unless the verdict was Terminate.
  // nullopt when the link no longer delivers (closed, terminated, aborted, not established).
  std::optional<transport::RxVerdict> inject(wire::UlpduHeader header,
                                             std::span<const std::byte> payload = {},
                                             bool intact = true);
  // A Blocked send finished: clears the block and calls LinkSink::link_writable().
  void writable();
  // Posts link_closed(kind, terminate) on the executor, once per link (false when the link had
  // already reported or started its close). Stops delivery and transmission first.
  bool close(CloseKind kind, std::optional<wire::TerminateMessage> terminate = std::nullopt);
  // True once the posted link_closed has run on the executor (in the sink, unless the
  // connection was cancelled first).
  bool closed_delivered() const { return closed_delivered_.load(); }
  bool wait_closed_delivered(std::chrono::milliseconds timeout = kWaitTimeout) const;

 private:
  friend class FakeConnection;
  explicit FakeLink(FakeConnection& owner) : owner_(owner) {}
  // Opens the data path into `sink` (accept / complete).
  void open(transport::LinkSink* sink);
  // Stops deliveries into the sink; when it returns no injection runs on another thread.
  void stop_rx();
  // Marks the link closed and posts link_closed once; false when already done.
  bool post_close(CloseKind kind, const wire::TerminateMessage* terminate);
  void note_violation(std::string what);

  FakeConnection& owner_;
  bool answer_disconnect_ = false;

  // Transmit side.
  mutable std::mutex tx_mutex_;
  mutable std::condition_variable tx_cv_;
  size_t max_tagged_ = 64 * 1024, max_untagged_ = 64 * 1024;
  std::deque<transport::TxResult> answers_;
  std::vector<SentSegment> sent_;
  size_t closed_sends_ = 0;
  bool tx_closed_ = false;
  bool blocked_ = false;
  bool opened_ = false;         // accept()/complete() gave the link a sink
  bool close_started_ = false;  // link_closed posted (or the close began)
  std::vector<wire::TerminateMessage> terminates_;
  int disconnects_ = 0;
  int aborts_ = 0;
  std::vector<std::string> violations_;

  // Receive side.
  std::mutex rx_mutex_;
  std::atomic<std::thread::id> delivering_{};
  transport::LinkSink* rx_sink_ = nullptr;  // under rx_mutex_
  bool rx_closed_ = false;                  // under rx_mutex_ (or by the delivering thread)
  transport::Placement placement_;          // under rx_mutex_
  std::atomic<bool> closed_delivered_{false};
};

// One connection: its setup legs and its link.
class FakeConnection final : public transport::Connection,
                             public std::enable_shared_from_this<FakeConnection> {
 public:
  enum class Role { Active, Passive };
  FakeConnection(Role role, transport::Executor* executor, transport::SockAddr local,
                 transport::SockAddr peer, transport::ConnectionParams request, wire::Rtr rtr);
  ~FakeConnection() override;

  // --- transport::Connection (called by the core) ---
  transport::SockAddr local_address() const override { return local_; }
  transport::SockAddr peer_address() const override { return peer_; }
  void set_events(transport::ConnectionEvents* events) override;
  transport::Status complete(transport::LinkSink* sink) override;
  transport::Status accept(const transport::ConnectionParams& reply,
                           transport::LinkSink* sink) override;
  transport::Status reject(std::span<const std::byte> private_data) override;
  transport::Link* link() override { return &link_; }
  wire::Rtr rtr() const override { return rtr_.load(); }
  void cancel() override;

  // --- what the core did ---
  Role role() const { return role_; }
  // Active: what the core asked for; passive: what the peer (the test) asked for.
  const transport::ConnectionParams& request() const { return request_; }
  std::optional<transport::ConnectionParams> accepted() const;  // passive: the core's reply
  bool completed() const;  // active: the core sent the ready leg
  bool rejected() const;
  bool cancelled() const;
  // Passive: whether the listener took the request (nullopt until it was delivered).
  std::optional<bool> request_taken() const;

  // --- setup driven by the test (posted on the executor) ---
  // Active: the peer accepts with `peer` (its IRD/ORD and private data) and chooses `rtr`.
  void reply(const transport::ConnectionParams& peer, wire::Rtr rtr);
  // Active: the peer refused (no listener, rejected...).
  void fail_connect(transport::Status status, std::vector<std::byte> reject_data = {});
  // Passive: the requester's ready leg arrived.
  void establish();
  // Either side during setup: the other side gave up.
  void abort_setup(transport::Status status);

  FakeLink& fake_link() { return link_; }

 private:
  friend class FakeLink;
  friend class FakeTransport;
  // Runs `work` on the executor with the events pointer, unless cancelled meanwhile.
  void post_event(std::function<void(transport::ConnectionEvents&)> work);
  void set_request_taken(bool taken);

  const Role role_;
  transport::Executor* const executor_;
  const transport::SockAddr local_, peer_;
  const transport::ConnectionParams request_;
  std::atomic<wire::Rtr> rtr_;

  // Held while an event or link_closed runs on the executor; cancel() takes it, so no event
  // runs after cancel() returns (recursive: an event handler may cancel).
  mutable std::recursive_mutex events_mutex_;
  transport::ConnectionEvents* events_ = nullptr;  // under events_mutex_
  transport::LinkSink* close_sink_ = nullptr;      // under events_mutex_ (link_closed, writable)

  mutable std::mutex state_mutex_;
  std::optional<transport::ConnectionParams> accepted_;
  bool replied_ = false, completed_ = false, rejected_ = false, cancelled_ = false;
  std::optional<bool> request_taken_;

  FakeLink link_{*this};
};
using FakeConnectionPtr = std::shared_ptr<FakeConnection>;

class FakeEndpoint final : public transport::Endpoint {
 public:
  FakeEndpoint(FakeTransport& transport, transport::SockAddr address, transport::EndpointUse use)
      : transport_(transport), address_(address), use_(use) {}
  ~FakeEndpoint() override;
  transport::SockAddr address() const override { return address_; }
  transport::Status listen(transport::ListenEvents* events) override;
  void stop_listening() override;
  transport::EndpointUse use() const { return use_; }
  // Runs on the executor. False: refused (nobody listens, or the listener refused).
  bool deliver(const FakeConnectionPtr& connection, const transport::ConnectionParams& request);
  bool listening() const;

 private:
  FakeTransport& transport_;
  const transport::SockAddr address_;
  const transport::EndpointUse use_;
  mutable std::recursive_mutex mutex_;  // held while a request is delivered
  transport::ListenEvents* events_ = nullptr;
};

class FakeTransport final : public transport::Transport {
 public:
  explicit FakeTransport(transport::Executor* executor);
  ~FakeTransport() override;

  // The factory for core::Adapter::open: creates the transport with the adapter's executor and
  // stores it in `*out` (owned by the adapter; valid until the adapter is closed).
  static core::Adapter::TransportFactory factory(FakeTransport** out);

  // --- transport::Transport (called by the core) ---
  const transport::Capabilities& capabilities() const override { return caps_; }
  bool owns_address(const transport::SockAddr& ip) const override { return ip.is_loopback(); }
  transport::Status bind(const transport::SockAddr& local, transport::EndpointUse use,
                         transport::EndpointRef* out) override;
  transport::Status connect(const transport::EndpointRef& local, const transport::SockAddr& remote,
                            const transport::ConnectionParams& request,
                            transport::ConnectionEvents* events,
                            transport::ConnectionPtr* out) override;

  // --- the test ---
  // The next connection the core started (NdkConnect), in order; nullptr on timeout.
  FakeConnectionPtr wait_outgoing(std::chrono::milliseconds timeout = kWaitTimeout);
  // A peer at `from` asks to connect to our endpoint at `to` (the listener's address) with
  // `request` (its IRD/ORD, private data) and the RTR the startup negotiated. Delivered to the
  // listener on the executor; nullptr when no endpoint is bound there.
  FakeConnectionPtr incoming(const transport::SockAddr& to, const transport::SockAddr& from,
                             const transport::ConnectionParams& request, wire::Rtr rtr);
  transport::Executor* executor() const { return executor_; }

 private:
  friend class FakeEndpoint;
  void unbind(const transport::SockAddr& address, FakeEndpoint* endpoint);

  transport::Executor* const executor_;
  transport::Capabilities caps_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<transport::SockAddr, std::weak_ptr<FakeEndpoint>> endpoints_;
  uint16_t next_port_ = 49152;
  std::deque<FakeConnectionPtr> outgoing_;
};

}  // namespace softndk::test
