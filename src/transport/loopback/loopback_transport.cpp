// Implementation of transport/loopback/loopback_transport.h.
#include "transport/loopback/loopback_transport.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include <softndk/ndkpi.h>

#include "transport/endpoint_table.h"
#include "transport/placement.h"
#include "util/spin_lock.h"

namespace softndk::transport::loopback {
namespace {

// Port 0: the dynamic range (RFC 6335), handed out in turn (in-process only: no other user).
constexpr uint16_t kEphemeralFirst = EndpointTable::kEphemeralFirst;
constexpr uint16_t kEphemeralLast = EndpointTable::kEphemeralLast;

class LoopbackTransport;
class LoopbackEndpoint;

// ---------------------------------------------------------------------------------------------
// The fabric: every loopback endpoint and connection of the process.

struct FourTuple {
  SockAddr local, remote;
  bool operator<(const FourTuple& o) const {
    if (local < o.local) return true;
    if (o.local < local) return false;
    return remote < o.remote;
  }
};

class Fabric {
 public:
  static Fabric& get() {
    static Fabric* fabric = new Fabric;  // never destroyed: adapters may outlive statics
    return *fabric;
  }
  std::mutex mutex;
  struct Entry {
    LoopbackEndpoint* raw;
    std::weak_ptr<LoopbackEndpoint> weak;
  };
  std::map<SockAddr, Entry> endpoints;  // key: (ip or wildcard, port)
  std::set<FourTuple> connections;
  std::set<LoopbackTransport*> transports;
  std::vector<std::weak_ptr<struct Pipe>> pipes;  // peer.vanish finds a transport's connections
  uint16_t next_ephemeral = kEphemeralFirst;
};

// ---------------------------------------------------------------------------------------------
// One direction-pair of a connection: each side receives into its own sink.

struct Side {
  std::recursive_mutex mutex;      // guards the pointers below; held while delivering events
  Executor* executor = nullptr;    // cleared by cancel(): nothing is posted afterwards
  LoopbackTransport* transport = nullptr;  // the adapter's (set at connect, never dereferenced
                                           // after the pipe closed)
  uint32_t silence_timeout_ms = 0;  // its adapter's link_timeout_ms= (peer.silent detection)
  ConnectionEvents* events = nullptr;
  LinkSink* sink = nullptr;
  // Deliveries into this side's sink (data path).
  util::SpinLock rx_lock;
  bool rx_open = false;
  std::atomic<std::thread::id> delivering{};
  Placement placement;  // under rx_lock
  bool closed_notified = false;
};

struct Pipe {
  std::mutex state_mutex;
  enum class Setup { Requested, Replied, Established, Failed } setup = Setup::Requested;
  bool closed = false;
  std::atomic<bool> silent{false};  // peer.silent: the link carries nothing either way
  FourTuple tuple;
  Side sides[2];  // 0 active, 1 passive
};

void post_to(Side& side, std::function<void(Side&)> work,
             const std::shared_ptr<Pipe>& keep_alive) {
  std::lock_guard lock(side.mutex);
  if (side.executor == nullptr) return;
  side.executor->post([&side, work = std::move(work), keep_alive] {
    std::lock_guard inner(side.mutex);
    work(side);
  });
}

// Closes the pipe once: the side `origin` is told `origin_kind`, the other `other_kind`.
void close_pipe(const std::shared_ptr<Pipe>& pipe, int origin, LinkSink::CloseKind origin_kind,
                LinkSink::CloseKind other_kind, const wire::TerminateMessage* terminate);
// Delivers one segment into side `to`'s sink on this thread (the one copy).
TxResult deliver(Pipe& pipe, int to, const TxSegment& segment);
// peer.vanish: every connection of that adapter's transport aborts, as if its process died.
void vanish(const LoopbackTransport* victim);

class LoopbackConnection;

class LoopbackLink final : public Link {
 public:
  LoopbackLink(std::shared_ptr<Pipe> pipe, int index) : pipe_(std::move(pipe)), index_(index) {}
  size_t max_segment_payload(bool) const override { return size_t{1} << 30; }
  TxResult send(const TxSegment& segment) override;
  void terminate(const wire::TerminateMessage& message) override;
  void disconnect() override;
  void abort() override;

 private:
  void close_both(LinkSink::CloseKind local_kind, LinkSink::CloseKind peer_kind,
                  const wire::TerminateMessage* terminate) {
    close_pipe(pipe_, index_, local_kind, peer_kind, terminate);
  }
  TxResult send_with_fault(const TxSegment& segment);
  TxResult delay(const TxSegment& segment);
  void fall_silent();
  std::shared_ptr<Pipe> pipe_;
  int index_;
};

class LoopbackConnection final : public Connection {
 public:
  LoopbackConnection(std::shared_ptr<Pipe> pipe, int index)
      : pipe_(std::move(pipe)), index_(index), link_(pipe_, index) {}
  ~LoopbackConnection() override { cancel(); }
  SockAddr local_address() const override {
    return index_ == 0 ? pipe_->tuple.local : pipe_->tuple.remote;
  }
  SockAddr peer_address() const override {
    return index_ == 0 ? pipe_->tuple.remote : pipe_->tuple.local;
  }
  void set_events(ConnectionEvents* events) override {
    std::lock_guard lock(self().mutex);
    self().events = events;
  }
  Status complete(LinkSink* sink) override;
  Status accept(const ConnectionParams& reply, LinkSink* sink) override;
  Status reject(std::span<const std::byte> private_data) override;
  Link* link() override { return &link_; }
  void cancel() override;

 private:
  Side& self() { return pipe_->sides[index_]; }
  Side& peer() { return pipe_->sides[1 - index_]; }
  std::shared_ptr<Pipe> pipe_;
  int index_;
  LoopbackLink link_;
  bool cancelled_ = false;
};

// ---------------------------------------------------------------------------------------------

class LoopbackEndpoint final : public Endpoint {
 public:
  LoopbackEndpoint(LoopbackTransport* transport, SockAddr address, EndpointUse use)
      : transport_(transport), address_(address), use_(use) {}
  ~LoopbackEndpoint() override;
  SockAddr address() const override { return address_; }
  Status listen(ListenEvents* events) override {
    std::lock_guard lock(listen_mutex_);
    events_ = events;
    return STATUS_SUCCESS;
  }
  void stop_listening() override {
    std::lock_guard lock(listen_mutex_);
    events_ = nullptr;
  }
  bool listening() {
    std::lock_guard lock(listen_mutex_);
    return events_ != nullptr;
  }
  // Runs on the listener's executor. False: refused.
  bool deliver(ConnectionPtr connection, const ConnectionParams& request) {
    std::lock_guard lock(listen_mutex_);
    if (events_ == nullptr) return false;
    return events_->on_request(std::move(connection), request);
  }
  LoopbackTransport* transport() const { return transport_; }
  EndpointUse use() const { return use_; }

 private:
  LoopbackTransport* transport_;
  SockAddr address_;
  EndpointUse use_;
  std::recursive_mutex listen_mutex_;  // held while a request is delivered
  ListenEvents* events_ = nullptr;
};

class LoopbackTransport final : public Transport {
 public:
  LoopbackTransport(Executor* executor, std::vector<SockAddr> addresses, uint32_t timeout_ms)
      : executor_(executor), addresses_(std::move(addresses)), timeout_ms_(timeout_ms) {
    caps_.name = "loopback";
    caps_.data_path =
        "direct (one copy: from the sender's memory into the receiver's, in this process)";
    caps_.direct_placement = true;
    caps_.in_order_placement = true;
    caps_.max_private_data_request = 56;
    caps_.max_private_data_reply = 148;
    std::lock_guard lock(Fabric::get().mutex);
    Fabric::get().transports.insert(this);
  }
  ~LoopbackTransport() override {
    std::lock_guard lock(Fabric::get().mutex);
    Fabric::get().transports.erase(this);
  }
  const Capabilities& capabilities() const override { return caps_; }
  bool owns_address(const SockAddr& ip) const override {
    if (addresses_.empty()) return ip.is_loopback();
    for (const SockAddr& a : addresses_)
      if (a.same_ip(ip)) return true;
    return false;
  }
  SockAddr default_local(int family, const SockAddr& preferred) const {
    if (owns_address(preferred)) return preferred.with_port(0);
    for (const SockAddr& a : addresses_)
      if (a.family() == family) return a.with_port(0);
    if (family == AF_INET6) return SockAddr::ipv6(in6addr_loopback, 0);
    return SockAddr::ipv4(INADDR_LOOPBACK, 0);
  }
  Status bind(const SockAddr& local, EndpointUse use, EndpointRef* out) override;
  Status connect(const EndpointRef& local, const SockAddr& remote,
                 const ConnectionParams& request, ConnectionEvents* events,
                 ConnectionPtr* out) override;
  Executor* executor() const { return executor_; }
  uint32_t timeout_ms() const { return timeout_ms_; }

 private:
  Executor* executor_;
  std::vector<SockAddr> addresses_;
  uint32_t timeout_ms_;
  Capabilities caps_;
};

LoopbackEndpoint::~LoopbackEndpoint() {
  std::lock_guard lock(Fabric::get().mutex);
  auto it = Fabric::get().endpoints.find(address_);
  if (it != Fabric::get().endpoints.end() && it->second.raw == this)
    Fabric::get().endpoints.erase(it);
}

// True when (ip, port) collides with a live endpoint: same IP, or a wildcard on either side.
bool port_in_use(const Fabric& fabric, const SockAddr& ip, uint16_t port) {
  for (const auto& [key, endpoint] : fabric.endpoints) {
    (void)endpoint;
    if (key.port() != port || key.family() != ip.family()) continue;
    if (key.same_ip(ip) || key.is_wildcard() || ip.is_wildcard()) return true;
  }
  return false;
}

Status LoopbackTransport::bind(const SockAddr& local, EndpointUse use, EndpointRef* out) {
  if (!local.valid()) return STATUS_INVALID_PARAMETER;
  if (!local.is_wildcard() && !owns_address(local)) return STATUS_INVALID_ADDRESS;
  Fabric& fabric = Fabric::get();
  std::lock_guard lock(fabric.mutex);
  uint16_t port = local.port();
  if (port == 0) {
    bool found = false;
    for (uint32_t tries = 0; tries <= kEphemeralLast - kEphemeralFirst; ++tries) {
      uint16_t candidate = fabric.next_ephemeral;
      fabric.next_ephemeral =
          candidate == kEphemeralLast ? kEphemeralFirst : static_cast<uint16_t>(candidate + 1);
      if (!port_in_use(fabric, local, candidate)) {
        port = candidate;
        found = true;
        break;
      }
    }
    if (!found) return STATUS_TOO_MANY_ADDRESSES;
  } else if (port_in_use(fabric, local, port)) {
    return STATUS_SHARING_VIOLATION;
  }
  auto endpoint = std::make_shared<LoopbackEndpoint>(this, local.with_port(port), use);
  fabric.endpoints[local.with_port(port)] = {endpoint.get(), endpoint};
  *out = endpoint;
  return STATUS_SUCCESS;
}

Status LoopbackTransport::connect(const EndpointRef& local, const SockAddr& remote,
                                  const ConnectionParams& request, ConnectionEvents* events,
                                  ConnectionPtr* out) {
  auto* local_endpoint = static_cast<LoopbackEndpoint*>(local.get());
  SockAddr local_address = local_endpoint->address();
  if (local_address.is_wildcard())
    local_address = default_local(remote.family(), remote).with_port(local_address.port());
  Fabric& fabric = Fabric::get();
  auto pipe = std::make_shared<Pipe>();
  pipe->tuple = {local_address, remote};
  std::shared_ptr<LoopbackEndpoint> listener;
  bool reachable = false;
  {
    std::lock_guard lock(fabric.mutex);
    if (fabric.connections.count(pipe->tuple) != 0) return STATUS_ADDRESS_ALREADY_EXISTS;
    for (LoopbackTransport* t : fabric.transports) reachable = reachable || t->owns_address(remote);
    auto find_listener = [&](const SockAddr& key) -> std::shared_ptr<LoopbackEndpoint> {
      auto it = fabric.endpoints.find(key);
      if (it == fabric.endpoints.end() || it->second.raw->use() != EndpointUse::Listener)
        return nullptr;
      return it->second.weak.lock();
    };
    listener = find_listener(remote);
    if (listener == nullptr) {
      SockAddr wildcard = remote.family() == AF_INET6 ? SockAddr::ipv6(in6addr_any, remote.port())
                                                      : SockAddr::ipv4(INADDR_ANY, remote.port());
      listener = find_listener(wildcard);
      if (listener != nullptr && !listener->transport()->owns_address(remote)) listener = nullptr;
    }
    fabric.connections.insert(pipe->tuple);
    std::erase_if(fabric.pipes, [](const std::weak_ptr<Pipe>& p) { return p.expired(); });
    // Set before the pipe is visible to peer.vanish, which compares them under this lock.
    pipe->sides[0].transport = this;
    pipe->sides[0].silence_timeout_ms = timeout_ms_;
    if (listener != nullptr) {
      pipe->sides[1].transport = listener->transport();
      pipe->sides[1].silence_timeout_ms = listener->transport()->timeout_ms();
    }
    fabric.pipes.push_back(pipe);
  }
  Side& active = pipe->sides[0];
  active.executor = executor_;
  active.events = events;
  auto connection = std::make_shared<LoopbackConnection>(pipe, 0);
  *out = connection;
  if (!reachable || listener == nullptr) {
    Status status = reachable ? STATUS_CONNECTION_REFUSED : STATUS_HOST_UNREACHABLE;
    {
      std::lock_guard lock(pipe->state_mutex);
      pipe->setup = Pipe::Setup::Failed;
    }
    post_to(active, [status](Side& s) {
      if (s.events != nullptr) s.events->on_connect_failed(status, {});
    }, pipe);
    return STATUS_SUCCESS;
  }
  Side& passive = pipe->sides[1];
  passive.executor = listener->transport()->executor();
  passive.executor->post([pipe, listener, request] {
    auto incoming = std::make_shared<LoopbackConnection>(pipe, 1);
    bool taken = listener->deliver(incoming, request);
    if (!taken) {
      {
        std::lock_guard lock(pipe->state_mutex);
        pipe->setup = Pipe::Setup::Failed;
      }
      incoming->cancel();
      post_to(pipe->sides[0], [](Side& s) {
        if (s.events != nullptr) s.events->on_connect_failed(STATUS_CONNECTION_REFUSED, {});
      }, pipe);
    }
  });
  return STATUS_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// Connection setup legs

Status LoopbackConnection::accept(const ConnectionParams& reply, LinkSink* sink) {
  {
    std::lock_guard lock(pipe_->state_mutex);
    if (pipe_->setup != Pipe::Setup::Requested) return STATUS_CONNECTION_ABORTED;
    pipe_->setup = Pipe::Setup::Replied;
  }
  {
    std::lock_guard lock(self().mutex);
    self().sink = sink;
  }
  {
    std::lock_guard rx(self().rx_lock);
    self().rx_open = true;  // the requester may send as soon as it has completed
  }
  post_to(peer(), [reply](Side& s) {
    if (s.events != nullptr) s.events->on_reply(reply);
  }, pipe_);
  return STATUS_SUCCESS;
}

Status LoopbackConnection::reject(std::span<const std::byte> private_data) {
  bool passive = index_ == 1;
  {
    std::lock_guard lock(pipe_->state_mutex);
    Pipe::Setup expected = passive ? Pipe::Setup::Requested : Pipe::Setup::Replied;
    if (pipe_->setup != expected) return STATUS_CONNECTION_ABORTED;
    pipe_->setup = Pipe::Setup::Failed;
  }
  if (passive) {
    std::vector<std::byte> data(private_data.begin(), private_data.end());
    post_to(peer(), [data](Side& s) {
      if (s.events != nullptr) s.events->on_connect_failed(STATUS_CONNECTION_REFUSED, data);
    }, pipe_);
  } else {
    post_to(peer(), [](Side& s) {
      if (s.events != nullptr) s.events->on_setup_aborted(STATUS_CONNECTION_ABORTED);
    }, pipe_);
  }
  return STATUS_SUCCESS;
}

Status LoopbackConnection::complete(LinkSink* sink) {
  {
    std::lock_guard lock(pipe_->state_mutex);
    if (pipe_->setup != Pipe::Setup::Replied || index_ != 0) return STATUS_CONNECTION_ABORTED;
    pipe_->setup = Pipe::Setup::Established;
  }
  {
    std::lock_guard lock(self().mutex);
    self().sink = sink;
  }
  {
    std::lock_guard rx(self().rx_lock);
    self().rx_open = true;
  }
  post_to(peer(), [](Side& s) {
    if (s.events != nullptr) s.events->on_established();
  }, pipe_);
  return STATUS_SUCCESS;
}

void LoopbackConnection::cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  bool tell_peer = false;
  {
    std::lock_guard lock(pipe_->state_mutex);
    if (pipe_->setup == Pipe::Setup::Requested || pipe_->setup == Pipe::Setup::Replied) {
      pipe_->setup = Pipe::Setup::Failed;
      tell_peer = true;
    }
  }
  if (tell_peer) {
    // Giving up during establishment: a waiting requester is refused, a waiting acceptor (or a
    // requester that has the reply) learns the other side abandoned it.
    bool passive = index_ == 1;
    post_to(peer(), [passive](Side& s) {
      if (s.events == nullptr) return;
      if (passive) {
        s.events->on_connect_failed(STATUS_CONNECTION_REFUSED, {});
        s.events->on_setup_aborted(STATUS_CONNECTION_ABORTED);
      } else {
        s.events->on_setup_aborted(STATUS_CONNECTION_ABORTED);
      }
    }, pipe_);
  }
  // An established link is aborted by whoever cancels without disconnecting first.
  link_.abort();
  {
    std::lock_guard lock(self().mutex);
    self().executor = nullptr;
    self().events = nullptr;
    self().sink = nullptr;
  }
  std::lock_guard lock(Fabric::get().mutex);
  if (index_ == 0) Fabric::get().connections.erase(pipe_->tuple);
}

// ---------------------------------------------------------------------------------------------
// Data path

TxResult LoopbackLink::send(const TxSegment& segment) {
  if (segment.fault != TxFault::None) [[unlikely]] return send_with_fault(segment);
  if (pipe_->silent.load(std::memory_order_acquire)) [[unlikely]] {
    std::lock_guard lock(pipe_->state_mutex);
    if (!pipe_->closed) return TxResult::Sent;  // peer.silent: swallowed
  }
  return deliver(*pipe_, 1 - index_, segment);
}

TxResult deliver(Pipe& pipe, int to, const TxSegment& segment) {
  Side& peer = pipe.sides[to];
  std::lock_guard rx(peer.rx_lock);
  if (!peer.rx_open) return TxResult::Closed;
  // The sink pointer changes only under rx_lock while rx_open, so it is stable here.
  LinkSink* sink = peer.sink;
  if (sink == nullptr) return TxResult::Closed;
  peer.delivering.store(std::this_thread::get_id(), std::memory_order_relaxed);
  RxVerdict verdict = sink->rx_begin(*segment.header);
  if (verdict == RxVerdict::Place) {
    // One copy, from the sender's gather list straight into the receiver's memory.
    peer.placement.start(sink, segment.header->payload_bytes_);
    for (size_t i = 0; i < segment.piece_count && peer.placement.left() != 0; ++i)
      peer.placement.copy({segment.pieces[i].data, segment.pieces[i].bytes});
  }
  if (verdict != RxVerdict::Terminate) sink->rx_end(true);
  peer.delivering.store(std::thread::id{}, std::memory_order_relaxed);
  return peer.rx_open ? TxResult::Sent : TxResult::Refused;
}

void close_pipe(const std::shared_ptr<Pipe>& pipe_, int index_, LinkSink::CloseKind local_kind,
                LinkSink::CloseKind peer_kind, const wire::TerminateMessage* terminate) {
  {
    std::lock_guard lock(pipe_->state_mutex);
    if (pipe_->closed) return;
    pipe_->closed = true;
  }
  std::optional<wire::TerminateMessage> message;
  if (terminate != nullptr) message = *terminate;
  for (int i = 0; i < 2; ++i) {
    Side& side = pipe_->sides[i];
    // Stop deliveries into this side. Wait out one in progress on another thread, so that
    // no byte lands in the sink's memory after the close is reported.
    if (side.delivering.load() != std::this_thread::get_id()) {
      std::lock_guard rx(side.rx_lock);
      side.rx_open = false;
    } else {
      side.rx_open = false;  // this thread is inside that delivery and holds rx_lock
    }
    LinkSink::CloseKind kind = i == index_ ? local_kind : peer_kind;
    post_to(side, [kind, message](Side& s) {
      if (s.sink == nullptr || s.closed_notified) return;
      s.closed_notified = true;
      s.sink->link_closed(kind, message.has_value() ? &*message : nullptr);
    }, pipe_);
  }
}

void LoopbackLink::terminate(const wire::TerminateMessage& message) {
  // Both sides learn the whole message; the peer's may name one of its segments.
  close_both(LinkSink::CloseKind::TerminateSent, LinkSink::CloseKind::TerminateReceived,
             &message);
}

void LoopbackLink::disconnect() {
  {
    // peer.silent: the peer never answers; the disconnect's own timeout ends it (the connector).
    std::lock_guard lock(pipe_->state_mutex);
    if (pipe_->silent.load() && !pipe_->closed) return;
  }
  // No half-close: the peer answers at once (docs/architecture.md, interpretations: no half-closed state), both sides see a graceful close.
  close_both(LinkSink::CloseKind::Graceful, LinkSink::CloseKind::Graceful, nullptr);
}

void LoopbackLink::abort() {
  {
    std::lock_guard lock(pipe_->state_mutex);
    if (pipe_->setup != Pipe::Setup::Established) {
      // Not (or no longer) carrying data: just stop deliveries into our side.
      Side& own = pipe_->sides[index_];
      if (own.delivering.load() != std::this_thread::get_id()) {
        std::lock_guard rx(own.rx_lock);
        own.rx_open = false;
      } else {
        own.rx_open = false;
      }
      if (pipe_->setup != Pipe::Setup::Replied) return;
    }
  }
  close_both(LinkSink::CloseKind::Aborted, LinkSink::CloseKind::Aborted, nullptr);
}

// ---------------------------------------------------------------------------------------------
// Faults the core marked on a segment (docs/faults.md)

TxResult LoopbackLink::send_with_fault(const TxSegment& segment) {
  switch (segment.fault) {
    case TxFault::Corrupt: {
      // What the peer's link does with an FPDU whose CRC fails (RFC 5044): it terminates with
      // the MPA CRC error; the segment is never placed.
      wire::TerminateMessage message = wire::make_terminate(wire::kCheckCrc, *segment.header);
      close_pipe(pipe_, 1 - index_, LinkSink::CloseKind::TerminateSent,
                 LinkSink::CloseKind::TerminateReceived, &message);
      return TxResult::Refused;
    }
    case TxFault::Drop: {
      std::lock_guard lock(pipe_->state_mutex);
      return pipe_->closed ? TxResult::Closed : TxResult::Sent;  // lost after it left
    }
    case TxFault::Delay:
      return delay(segment);
    case TxFault::Silence:
      fall_silent();
      return TxResult::Sent;
    case TxFault::VanishPeer:
      vanish(pipe_->sides[1 - index_].transport);
      return TxResult::Closed;
    case TxFault::None:
      break;
  }
  return deliver(*pipe_, 1 - index_, segment);
}

TxResult LoopbackLink::delay(const TxSegment& segment) {
  // Held: the core sends nothing more until link_writable(), so order is kept; the payload
  // stays the core's (valid until then), the header and the piece list are copied.
  struct Held {
    wire::UlpduHeader header;
    std::vector<ConstPiece> pieces;
  };
  auto held = std::make_shared<Held>();
  held->header = *segment.header;
  held->pieces.assign(segment.pieces, segment.pieces + segment.piece_count);
  Side& self = pipe_->sides[index_];
  std::lock_guard lock(self.mutex);
  if (self.executor == nullptr) return TxResult::Closed;
  self.executor->post_after(segment.fault_ms, [pipe = pipe_, index = index_, held] {
    TxSegment later{&held->header, held->pieces.data(), held->pieces.size()};
    // A closed pipe delivers nothing (deliver checks under the receiver's rx_lock, which the
    // close takes), so the payload is never read after the sender's link went.
    TxResult result =
        pipe->silent.load() ? TxResult::Sent : deliver(*pipe, 1 - index, later);
    Side& side = pipe->sides[index];
    std::lock_guard inner(side.mutex);
    if (result == TxResult::Sent && side.sink != nullptr && !side.closed_notified)
      side.sink->link_writable();
  });
  return TxResult::Blocked;
}

void LoopbackLink::fall_silent() {
  {
    std::lock_guard lock(pipe_->state_mutex);
    if (pipe_->closed || pipe_->silent.exchange(true)) return;
  }
  // Each side whose adapter has link_timeout_ms= notices the silence after that long and aborts
  // (like TCP_USER_TIMEOUT/keepalive on tcp); without it the link just stays quiet.
  for (int i = 0; i < 2; ++i) {
    Side& side = pipe_->sides[i];
    std::lock_guard lock(side.mutex);
    if (side.executor == nullptr || side.silence_timeout_ms == 0) continue;
    side.executor->post_after(side.silence_timeout_ms, [pipe = pipe_, i] {
      close_pipe(pipe, i, LinkSink::CloseKind::Aborted, LinkSink::CloseKind::Aborted, nullptr);
    });
  }
}

void vanish(const LoopbackTransport* victim) {
  // Pointers are only compared (the adapter may be closing): every pipe of the victim aborts.
  std::vector<std::shared_ptr<Pipe>> mine;
  {
    std::lock_guard lock(Fabric::get().mutex);
    for (const auto& weak : Fabric::get().pipes) {
      std::shared_ptr<Pipe> pipe = weak.lock();
      if (pipe != nullptr &&
          (pipe->sides[0].transport == victim || pipe->sides[1].transport == victim))
        mine.push_back(std::move(pipe));
    }
  }
  for (const auto& pipe : mine) {
    int own = pipe->sides[0].transport == victim ? 0 : 1;
    close_pipe(pipe, own, LinkSink::CloseKind::Aborted, LinkSink::CloseKind::Aborted, nullptr);
  }
}

}  // namespace

Status create_loopback_transport(std::map<std::string, std::string>& options, Executor* executor,
                                 TransportPtr* out) {
  std::vector<SockAddr> addresses;
  auto it = options.find("addr");
  if (it != options.end()) {
    std::stringstream list(it->second);
    std::string item;
    while (std::getline(list, item, ',')) {
      SockAddr a;
      if (!SockAddr::parse(item, &a) || a.is_wildcard()) return STATUS_INVALID_PARAMETER;
      addresses.push_back(a);
    }
    if (addresses.empty()) return STATUS_INVALID_PARAMETER;
    options.erase(it);
  }
  // link_timeout_ms (as on tcp): how long a silent link (peer.silent, docs/faults.md) goes unnoticed.
  uint32_t timeout_ms = 0;
  if (auto t = options.find("link_timeout_ms"); t != options.end()) {
    char* end = nullptr;
    unsigned long value = std::strtoul(t->second.c_str(), &end, 10);
    if (t->second.empty() || *end != '\0' || value == 0 || value > 600000)
      return STATUS_INVALID_PARAMETER;
    timeout_ms = static_cast<uint32_t>(value);
    options.erase(t);
  }
  *out = std::make_unique<LoopbackTransport>(executor, std::move(addresses), timeout_ms);
  return STATUS_SUCCESS;
}

}  // namespace softndk::transport::loopback
