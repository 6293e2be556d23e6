// Implementation of rping.h: the message codec, the ping data, and both ends of rping's exchange
// on src/ndkxx (through the command line's ndk.h: every wait bounded by --timeout and stopped by
// SIGINT/SIGTERM).
#include "rping.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <thread>

#include "commands.h"
#include "ndk.h"
#include "ndkxx/address.h"
#include "ndkxx/connection.h"
#include "options.h"

namespace softndk::cli::rping {

Message encode(const Advertisement& a) {
  Message m{};
  for (int i = 0; i < 8; ++i) m[i] = static_cast<std::byte>(a.address >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) m[8 + i] = static_cast<std::byte>(a.rkey >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) m[12 + i] = static_cast<std::byte>(a.length >> (24 - 8 * i));
  return m;
}

Advertisement decode(const Message& m) {
  Advertisement a;
  for (int i = 0; i < 8; ++i) a.address = (a.address << 8) | std::to_integer<uint64_t>(m[i]);
  for (int i = 0; i < 4; ++i) a.rkey = (a.rkey << 8) | std::to_integer<uint32_t>(m[8 + i]);
  for (int i = 0; i < 4; ++i) a.length = (a.length << 8) | std::to_integer<uint32_t>(m[12 + i]);
  return a;
}

void fill_ping(std::byte* out, size_t size, uint64_t index) {
  if (size == 0) return;
  char prefix[32];
  const int n = std::snprintf(prefix, sizeof prefix, "rdma-ping-%" PRIu64 ": ", index);
  size_t i = 0;
  for (; i < size && i < static_cast<size_t>(n); ++i) out[i] = static_cast<std::byte>(prefix[i]);
  // Printable characters 'A'..'z', starting at 'A' + index and wrapping.
  constexpr unsigned kFirst = 'A', kCount = 'z' - 'A' + 1;
  for (uint64_t c = index; i < size; ++i, ++c)
    out[i] = static_cast<std::byte>(kFirst + c % kCount);
  out[size - 1] = std::byte{0};
}

namespace {

// RequestContext values: the kind of request (receives: their slot).
constexpr uintptr_t kSendContext = 1, kReadContext = 2, kWriteContext = 3, kReceiveBase = 16;
constexpr uint32_t kReceiveSlots = 2;  // rping's peer sends one message at a time
constexpr ULONG kReadLimit = 1;        // rping asks IRD 1 / ORD 1

void* context(uintptr_t value) { return reinterpret_cast<void*>(value); }

// One rping connection's objects, on either side: a CQ, a PD, a QP with its connector, the
// message buffer (one send slot, kReceiveSlots receive slots) and the ping buffers.
class Endpoint {
 public:
  Endpoint(Adapter& adapter, uint64_t ping_bytes, bool server);
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;
  ~Endpoint();

  void connect(const SocketAddress& source, const SocketAddress& server);
  void accept(NDK_CONNECTOR* incoming);
  void disconnect();
  bool peer_gone() const { return disconnects_.count.load() != 0; }
  void set_complete_delay(uint32_t ms) { complete_delay_ms_ = ms; }

  void send(const Message& message);
  void read(const Advertisement& from, uint32_t length);   // into source()
  void write(const Advertisement& to, uint32_t length);    // from source()
  // Waits for the completion of the send / read / write in flight.
  void await(uintptr_t kind, const char* what);
  // The next received message; nullopt when the peer disconnected first (`end_ok`) .
  std::optional<Message> receive(const char* what, bool end_ok);

  Region& source() { return *source_; }      // client: the ping data; server: the read sink
  Region* sink() { return sink_.get(); }     // client only: where the server writes back
  Advertisement advertise(Region& region, uint32_t length) const {
    return {region.address(), region.remote_token(), length};
  }

 private:
  void create_qp();
  void post_receive(uint32_t slot);
  void post(const char* what, NTSTATUS status);
  bool take_one(Clock::time_point deadline);  // one completion sorted in; false at the deadline

  Adapter& adapter_;
  Cq cq_;
  Owned<NDK_PD> pd_;
  std::unique_ptr<Region> messages_;  // [0,16) send, then the receive slots
  std::unique_ptr<Region> source_;
  std::unique_ptr<Region> sink_;
  ndkxx::DisconnectEvents disconnects_;
  Owned<NDK_QP> qp_;
  Owned<NDK_CONNECTOR> connector_;  // after qp_: closed first
  std::deque<uint32_t> received_;   // slots, in order of arrival
  uintptr_t done_[4] = {};          // completed sends, reads, writes not awaited yet
  bool disconnected_ = false;
  uint32_t complete_delay_ms_ = 0;
};

Endpoint::Endpoint(Adapter& adapter, uint64_t ping_bytes, bool server)
    : adapter_(adapter), cq_(adapter, 16, true) {
  pd_.reset(create<NDK_PD>("NdkCreatePd", [&](auto cb, void* ctx, NDK_PD** out) {
    return adapter.d()->NdkCreatePd(adapter.get(), cb, ctx, out);
  }));
  messages_ = std::make_unique<Region>(pd_.get(), (1 + kReceiveSlots) * kMessageBytes,
                                       NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  const ULONG local = NDK_MR_FLAG_ALLOW_LOCAL_WRITE;
  source_ = std::make_unique<Region>(
      pd_.get(), ping_bytes,
      server ? local | NDK_MR_FLAG_RDMA_READ_SINK : local | NDK_MR_FLAG_ALLOW_REMOTE_READ);
  if (!server)
    sink_ = std::make_unique<Region>(pd_.get(), ping_bytes, NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
}

Endpoint::~Endpoint() {
  // The QP and connector close first (members in reverse order), then memory, PD and CQ.
  connector_.reset();
  qp_.reset();
}

void Endpoint::create_qp() {
  qp_.reset(create<NDK_QP>("NdkCreateQp", [&](auto cb, void* ctx, NDK_QP** out) {
    return pd_->Dispatch->NdkCreateQp(pd_.get(), cq_.get(), cq_.get(), this, kReceiveSlots, 4, 1,
                                      1, 0, cb, ctx, out);
  }));
  for (uint32_t slot = 0; slot < kReceiveSlots; ++slot) post_receive(slot);
}

void Endpoint::post_receive(uint32_t slot) {
  NDK_SGE sge = messages_->sge((1 + slot) * kMessageBytes, kMessageBytes);
  post("NdkReceive", qp_->Dispatch->NdkReceive(qp_.get(), context(kReceiveBase + slot), &sge, 1));
}

void Endpoint::post(const char* what, NTSTATUS status) {
  if (status == STATUS_SUCCESS) return;
  if (peer_gone()) throw Error(std::string(what) + ": the peer disconnected", status);
  throw_status(what, status);
}

void Endpoint::connect(const SocketAddress& source, const SocketAddress& server) {
  create_qp();
  connector_.reset(
      create<NDK_CONNECTOR>("NdkCreateConnector", [&](auto cb, void* ctx, NDK_CONNECTOR** out) {
        return adapter_.d()->NdkCreateConnector(adapter_.get(), cb, ctx, out);
      }));
  ndkxx::Request connect;
  ndkxx::start_connect(connect, connector_.get(), qp_.get(), source.storage(), server.storage(),
                       {kReadLimit, kReadLimit, nullptr, 0});
  ndkxx::Outcome outcome = connect.finish(stoppable_wait());
  if (outcome.timed_out) throw_unfinished("connecting to " + server.text());
  if (!outcome.ok())
    throw Error("connecting to the rping server " + server.text() + " failed: " +
                    status_text(outcome.status),
                outcome.status);
  if (complete_delay_ms_ > 0)  // see ClientOptions::complete_delay_ms
    std::this_thread::sleep_for(std::chrono::milliseconds(complete_delay_ms_));
  ndkxx::Request complete;
  ndkxx::start_complete_connect(complete, connector_.get(), {&disconnects_, true});
  outcome = complete.finish(stoppable_wait());
  if (outcome.timed_out) throw_unfinished("NdkCompleteConnectEx");
  if (!outcome.ok()) throw_status("NdkCompleteConnectEx", outcome.status);
}

void Endpoint::accept(NDK_CONNECTOR* incoming) {
  connector_.reset(incoming);
  create_qp();
  ndkxx::Request accept;
  ndkxx::start_accept(accept, incoming, qp_.get(), {kReadLimit, kReadLimit, nullptr, 0},
                      {&disconnects_, true});
  ndkxx::Outcome outcome = accept.finish(stoppable_wait());
  if (outcome.timed_out) throw_unfinished("NdkAcceptEx");
  if (!outcome.ok()) throw_status("NdkAcceptEx", outcome.status);
}

void Endpoint::disconnect() {
  disconnected_ = true;
  if (connector_.get() != nullptr) ndkxx::disconnect(connector_.get(), stoppable_wait());
}

void Endpoint::send(const Message& message) {
  std::memcpy(messages_->data(), message.data(), kMessageBytes);
  NDK_SGE sge = messages_->sge(0, kMessageBytes);
  post("NdkSend", qp_->Dispatch->NdkSend(qp_.get(), context(kSendContext), &sge, 1, 0));
}

void Endpoint::read(const Advertisement& from, uint32_t length) {
  NDK_SGE sge = source_->sge(0, length);
  post("NdkRead", qp_->Dispatch->NdkRead(qp_.get(), context(kReadContext), &sge, 1, from.address,
                                         from.rkey, 0));
}

void Endpoint::write(const Advertisement& to, uint32_t length) {
  NDK_SGE sge = source_->sge(0, length);
  post("NdkWrite", qp_->Dispatch->NdkWrite(qp_.get(), context(kWriteContext), &sge, 1,
                                           to.address, to.rkey, 0));
}

const char* kind_name(uintptr_t kind) {
  switch (kind) {
    case kSendContext: return "send";
    case kReadContext: return "RDMA read";
    case kWriteContext: return "RDMA write";
    default: return "receive";
  }
}

bool Endpoint::take_one(Clock::time_point deadline) {
  NDK_RESULT_EX r{};
  if (cq_.wait(&r, 1, deadline) == 0) return false;
  const auto kind = reinterpret_cast<uintptr_t>(r.RequestContext);
  if (r.Status != STATUS_SUCCESS) {
    // A flushed receive is the end of the connection (rping never leaves one to flush before).
    if (r.Status == STATUS_CANCELLED && (kind >= kReceiveBase || disconnected_ || peer_gone())) {
      disconnected_ = true;
      return true;  // flushed at the end of the connection
    }
    throw Error(std::string("the ") + kind_name(kind) + " failed: " + status_text(r.Status) +
                    (peer_gone() ? " (the peer disconnected)" : ""),
                r.Status);
  }
  if (kind >= kReceiveBase) {
    if (r.BytesTransferred != kMessageBytes)
      throw Error("the peer sent a " + std::to_string(r.BytesTransferred) +
                  "-byte message; rping's are " + std::to_string(kMessageBytes));
    received_.push_back(static_cast<uint32_t>(kind - kReceiveBase));
  } else {
    ++done_[kind];
  }
  return true;
}

void Endpoint::await(uintptr_t kind, const char* what) {
  const Clock::time_point deadline = deadline_from_now();
  while (done_[kind] == 0) {
    if (!take_one(deadline))
      throw Error(std::string("no completion of the ") + what + " within " + timeout_text());
  }
  --done_[kind];
}

std::optional<Message> Endpoint::receive(const char* what, bool end_ok) {
  const Clock::time_point deadline = deadline_from_now();
  while (received_.empty()) {
    // Once the peer is gone, only what the CQ already holds can still come.
    const bool gone = peer_gone() || disconnected_;
    const Clock::time_point slice =
        gone ? Clock::now() : std::min(deadline, Clock::now() + std::chrono::milliseconds(50));
    if (take_one(slice)) continue;
    if (gone) {
      if (end_ok) return std::nullopt;
      throw Error(std::string("the peer disconnected instead of sending its ") + what);
    }
    if (Clock::now() >= deadline)
      throw Error(std::string("no ") + what + " from the peer within " + timeout_text());
  }
  const uint32_t slot = received_.front();
  received_.pop_front();
  Message m;
  std::memcpy(m.data(), messages_->data() + (1 + slot) * kMessageBytes, kMessageBytes);
  post_receive(slot);
  return m;
}

std::string printable(const std::byte* data, size_t size) {
  std::string text;
  for (size_t i = 0; i < size && data[i] != std::byte{0}; ++i) text += static_cast<char>(data[i]);
  return text;
}

void one_client_ping(Endpoint& e, const ClientOptions& o, uint64_t index) {
  const auto length = static_cast<uint32_t>(o.size);
  fill_ping(e.source().data(), o.size, index);
  std::memset(e.sink()->data(), 0, o.size);
  e.send(encode(e.advertise(e.source(), length)));
  e.await(kSendContext, "advertisement send");
  if (!e.receive("go-ahead after the RDMA read", false))
    throw Error("the server disconnected during ping " + std::to_string(index));
  e.send(encode(e.advertise(*e.sink(), length)));
  e.await(kSendContext, "advertisement send");
  if (!e.receive("go-ahead after the RDMA write", false))
    throw Error("the server disconnected during ping " + std::to_string(index));
  const std::byte* sent = e.source().data();
  const std::byte* back = e.sink()->data();
  for (uint64_t i = 0; i < o.size; ++i) {
    if (sent[i] != back[i])
      throw Error("ping " + std::to_string(index) + ": the data written back differs at byte " +
                  std::to_string(i));
  }
  if (o.verbose) std::printf("ping data: %s\n", printable(back, o.size).c_str());
}

}  // namespace

uint64_t run_client(const ClientOptions& o) {
  if (o.size < kMessageBytes || o.size > kMaxPingBytes)
    throw UsageError("--size must be 16 B to 64 MiB with --rping");
  Adapter adapter(o.uri);
  Endpoint e(adapter, o.size, false);
  e.set_complete_delay(o.complete_delay_ms);
  // From the URI's own address, any port.
  const sockaddr_storage local = ndkxx::uri_local_address(o.uri, o.server.family());
  const SocketAddress source = SocketAddress::from(reinterpret_cast<const sockaddr*>(&local),
                                                   ndkxx::address_length(local));
  e.connect(source, o.server);
  const auto interval = std::chrono::duration<double>(o.interval_s);
  uint64_t done = 0;
  for (uint64_t index = 0; index < o.count; ++index) {
    check_stop();
    if (index != 0 && o.interval_s > 0)
      std::this_thread::sleep_for(interval);
    one_client_ping(e, o, index);
    ++done;
  }
  e.disconnect();
  return done;
}

namespace {

// One ping as the server: the advertised source is read, then written back to the advertised
// sink. False when the client disconnected instead of sending the next advertisement.
bool serve_one(Endpoint& e, const ServerOptions& o, uint64_t index) {
  std::optional<Message> m = e.receive("advertisement", true);
  if (!m) return false;
  const Advertisement from = decode(*m);
  if (from.length == 0 || from.length > o.max_size)
    throw Error("ping " + std::to_string(index) + ": the client advertised " +
                std::to_string(from.length) + " bytes; this server takes 1 to " +
                std::to_string(o.max_size) + " (--size)");
  e.read(from, from.length);
  e.await(kReadContext, "RDMA read of the client's ping data");
  e.send(Message{});
  e.await(kSendContext, "go-ahead send");
  m = e.receive("sink advertisement", false);
  if (!m) throw Error("the client disconnected during ping " + std::to_string(index));
  const Advertisement to = decode(*m);
  if (to.length < from.length)
    throw Error("ping " + std::to_string(index) + ": the client's sink holds " +
                std::to_string(to.length) + " bytes, its ping " + std::to_string(from.length));
  e.write(to, from.length);
  e.await(kWriteContext, "RDMA write of the ping data");
  e.send(Message{});
  e.await(kSendContext, "go-ahead send");
  if (o.verbose)
    std::printf("server ping data: %s\n", printable(e.source().data(), from.length).c_str());
  return true;
}

NDK_CONNECTOR* wait_for_client(ndkxx::ConnectEvents& events, const ServerOptions& o) {
  const Clock::time_point deadline =
      o.accept_timeout_s ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(*o.accept_timeout_s))
                         : Clock::time_point::max();
  for (;;) {
    check_stop();
    if (NDK_CONNECTOR* c = events.next(ndkxx::Wait{std::chrono::milliseconds(100), stop_flag()}))
      return c;
    if (Clock::now() >= deadline) throw Error("no rping client connected in time");
  }
}

}  // namespace

uint64_t run_server(const ServerOptions& o) {
  Adapter adapter(o.uri);
  ndkxx::ConnectEvents events;
  // Declared before the endpoint: a listener's close waits for the connectors it delivered.
  Owned<NDK_LISTENER> listener(create<NDK_LISTENER>(
      "NdkCreateListener", [&](auto cb, void* ctx, NDK_LISTENER** out) {
        return adapter.d()->NdkCreateListener(adapter.get(), &ndkxx::ConnectEvents::on_connect,
                                              &events, cb, ctx, out);
      }));
  const sockaddr_storage address = ndkxx::with_port(ndkxx::uri_local_address(o.uri), o.port);
  ndkxx::Outcome listened = ndkxx::listen(listener.get(), address, stoppable_wait());
  if (!listened.ok())
    throw Error("cannot listen on " + ndkxx::ip_of(address) + ":" + std::to_string(o.port) +
                    ": " + status_text(listened.status),
                listened.status);
  sockaddr_storage bound{};
  if (NTSTATUS s = ndkxx::local_address(listener.get(), &bound); s != STATUS_SUCCESS)
    throw_status("NdkGetLocalAddress (listener)", s);
  Endpoint e(adapter, o.max_size, true);
  if (o.on_listening)
    o.on_listening(SocketAddress::from(reinterpret_cast<const sockaddr*>(&bound),
                                       ndkxx::address_length(bound)));
  e.accept(wait_for_client(events, o));  // one client, as rping -s
  uint64_t served = 0;
  while (serve_one(e, o, served)) ++served;
  e.disconnect();
  return served;
}

}  // namespace softndk::cli::rping

namespace softndk::cli {

int run_rping(const PingOptions& o) {
  set_wait_timeout(std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.timeout_s)));
  const Placement placement = place_ends("ping --rping", o.uri, o.uri_given, o.server, o.peer,
                                         o.port.value_or(rping::kDefaultPort));
  if (placement.in_process)
    throw UsageError("--rping needs a peer: --server, or the rping server's ADDRESS[:PORT]");
  if (placement.server) {
    rping::ServerOptions s;
    s.uri = placement.uri;
    s.port = o.port.value_or(rping::kDefaultPort);
    s.max_size = std::max<uint64_t>(o.size, 64 * 1024);
    s.verbose = !o.json;
    s.on_listening = [](const SocketAddress& a) {
      std::printf("rping server listening on %s\n", a.text().c_str());
      std::fflush(stdout);
    };
    const uint64_t served = rping::run_server(s);
    std::printf("rping server: %" PRIu64 " pings served, client disconnected\n", served);
    return 0;
  }
  rping::ClientOptions c;
  c.uri = placement.uri;
  c.server = placement.peer;
  c.count = o.count;
  c.size = o.size;
  c.interval_s = o.interval_s;
  c.verbose = !o.json;
  if (const char* delay = std::getenv("SOFTNDK_RPING_COMPLETE_DELAY_MS"))
    c.complete_delay_ms = static_cast<uint32_t>(std::strtoul(delay, nullptr, 10));
  const uint64_t done = rping::run_client(c);
  std::printf("rping client: %" PRIu64 " pings to %s, each read, written back and validated\n",
              done, c.server.text().c_str());
  return 0;
}

}  // namespace softndk::cli
