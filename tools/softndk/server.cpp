// Implementation of server.h: the listener, session admission, and the Responder, which answers
// each test of a session (replies for latency tests, credits for send streams, nothing for
// one-sided operations) until the client says Bye. Through a test in which it has nothing to do
// the server sleeps on a CQ notification instead of spinning.
#include "server.h"

#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

#include "counters.h"
#include "cpu.h"
#include "options.h"
#include "session.h"

namespace softndk::cli {

namespace {

constexpr auto kStopCheck = std::chrono::milliseconds(100);

void close_without_waiting(NDK_CONNECTOR* connector) {
  // Inside a callback nothing may wait for the event thread: let the close finish on its own.
  connector->Dispatch->NdkCloseConnector(&connector->Header, [](void*) {}, nullptr);
}

std::string peer_of(NDK_CONNECTOR* connector) {
  sockaddr_storage address{};
  ULONG length = sizeof address;
  if (connector->Dispatch->NdkGetPeerAddress(connector, reinterpret_cast<sockaddr*>(&address),
                                             &length) != STATUS_SUCCESS)
    return "?";
  return SocketAddress::from(reinterpret_cast<sockaddr*>(&address), length).text();
}

uint32_t load_le32(const std::byte* p) {
  return uint32_t{std::to_integer<uint8_t>(p[0])} | uint32_t{std::to_integer<uint8_t>(p[1])} << 8 |
         uint32_t{std::to_integer<uint8_t>(p[2])} << 16 |
         uint32_t{std::to_integer<uint8_t>(p[3])} << 24;
}

// Tests in which the server only waits for the client's TestEnd: RDMA writes and reads land and
// are served by the provider, memory operations are the client's own. The server's reaction
// time is no part of what they measure, so its thread sleeps on a CQ notification (polling
// would take a CPU from the client and the provider's progress threads). Latency tests with
// replies, send streams (credits), sendinv and ping keep the client's choice (--events).
bool server_idle_during(const TestParams& test) {
  switch (test.op) {
    case Op::Write: return test.mode != Mode::Latency;
    case Op::Read:
    case Op::Register:
    case Op::FastRegister:
    case Op::Bind: return true;
    default: return false;
  }
}

// Answers the tests of one session on the server side.
class Responder {
 public:
  Responder(Session& session, uint64_t client_address, uint32_t client_token)
      : s_(session),
        client_address_(client_address),
        client_token_(client_token),
        uncredited_(session.link_count(), 0) {}

  // Until the client's Bye.
  void run() {
    auto handler = [this](const NDK_RESULT_EX& r) { on_completion(r); };
    for (;;) {
      while (std::optional<ControlMessage> m = s_.take_control())
        if (!on_control(*m)) return;
      if (ending_ && received_ >= end_count_ && outstanding_ == 0) {
        ControlMessage done;
        done.type = MessageType::TestDone;
        done.count = received_;
        const bool notified = s_.cq().notifications();
        done.flags = notified ? kFlagServerNotified : 0;
        done.notifications = s_.cq().notification_count() - notifications_at_begin_;
        const CpuUse cpu = CpuUse::between(cpu_at_begin_, CpuSample::now());
        done.cpu_us = cpu.cpu_us;
        done.wall_us = cpu.wall_us;
        if (notified) ++notified_tests_;
        notifications_ += done.notifications;
        s_.set_notifications(s_.shape().notifications);  // back to the client's choice
        s_.send_control(done);
        in_test_ = ending_ = false;
      }
      // While a test runs the client may be busy for as long as it likes (one-sided
      // operations show nothing here); the connection's liveness bounds that wait.
      const auto deadline = in_test_ && !ending_ ? Clock::time_point::max() : deadline_from_now();
      if (!s_.progress(handler, deadline))
        throw Error("no message from the client within " + timeout_text());
    }
  }

  uint64_t tests() const { return tests_; }
  uint64_t notified_tests() const { return notified_tests_; }
  uint64_t notifications() const { return notifications_; }

 private:
  bool on_control(const ControlMessage& m) {
    switch (m.type) {
      case MessageType::TestBegin:
        if (in_test_) throw Error("protocol error: TestBegin during a test");
        if (m.test.size > s_.shape().buffer_bytes || m.test.sge == 0 || m.test.credit_batch == 0)
          fail("test parameters out of range (size " + std::to_string(m.test.size) + ")");
        test_ = m.test;
        in_test_ = true;
        received_ = 0;
        std::fill(uncredited_.begin(), uncredited_.end(), 0);
        ++tests_;
        notifications_at_begin_ = s_.cq().notification_count();
        cpu_at_begin_ = CpuSample::now();
        {
          ControlMessage ready;
          ready.type = MessageType::TestReady;
          s_.send_control(ready);
        }
        // From here until TestDone the next progress() waits this way.
        s_.set_notifications(s_.shape().notifications || server_idle_during(test_));
        return true;
      case MessageType::TestEnd:
        if (!in_test_) throw Error("protocol error: TestEnd outside a test");
        ending_ = true;
        end_count_ = m.count;
        return true;
      case MessageType::Bye:
        return false;
      case MessageType::Failure:
        // The client stopped (interrupted, or its own error) and said why: not a protocol
        // error of the server's.
        throw PeerGaveUp("the client", m.text);
      default:
        throw Error(std::string("protocol error: unexpected ") + message_name(m.type));
    }
  }

  [[noreturn]] void fail(const std::string& why) {
    ControlMessage failure;
    failure.type = MessageType::Failure;
    failure.text = why;
    s_.send_control(failure);
    throw Error(why);
  }

  // Accounts for a request the server posted (its completion decrements outstanding_).
  void posted(NTSTATUS status, const char* what) {
    if (status != STATUS_SUCCESS) s_.post_failed(what, status);
    ++outstanding_;
  }

  void on_completion(const NDK_RESULT_EX& r) {
    ContextParts c = split_context(r.RequestContext);
    if (c.tag == Tag::Send || c.tag == Tag::Write) {
      --outstanding_;
      return;
    }
    if (c.tag != Tag::Receive || !in_test_)
      throw Error(std::string("unexpected ") + tag_name(c.tag) + " completion");
    ++received_;
    NDK_QP* qp = s_.link(c.link).qp();
    const bool reply_inline = test_.size != 0 && test_.size <= s_.shape().inline_bytes;
    NDK_SGE sges[256];
    if (test_.op == Op::SendInvalidate) {
      // The token to invalidate is in the first four bytes; read it before the receive is
      // posted again.
      uint32_t token = load_le32(s_.data().data());
      s_.post_receive(c.link, c.slot);
      ULONG n = s_.fill_sges(s_.send_offset(), test_.size, test_.sge, sges);
      posted(qp->Dispatch->NdkSendAndInvalidate(qp, make_context(Tag::Send, c.link, 0), sges, n,
                                                  reply_inline ? NDK_OP_FLAG_INLINE : 0, token),
           "NdkSendAndInvalidate");
      return;
    }
    s_.post_receive(c.link, c.slot);
    switch (test_.op) {
      case Op::Send:
        if (test_.mode == Mode::Latency) {
          reply_send(qp, c.link, s_.send_offset(), reply_inline, sges);
        } else if (++uncredited_[c.link] == test_.credit_batch) {
          // test_.credit_batch receives are posted again: hand them back as one credit.
          uncredited_[c.link] = 0;
          posted(qp->Dispatch->NdkSend(qp, make_context(Tag::Send, c.link, 0), nullptr, 0, 0),
               "NdkSend (credit)");
        }
        return;
      case Op::Ping:
        // Echo the bytes received: the next ping cannot arrive before this reply left.
        reply_send(qp, c.link, 0, false, sges);
        return;
      case Op::Write: {
        // The client's zero-byte send says its write landed; answer with a write and a send.
        ULONG n = s_.fill_sges(s_.send_offset(), test_.size, test_.sge, sges);
        posted(qp->Dispatch->NdkWrite(qp, make_context(Tag::Write, c.link, 0), sges, n,
                                        client_address_, client_token_,
                                        reply_inline ? NDK_OP_FLAG_INLINE : 0),
             "NdkWrite");
        posted(qp->Dispatch->NdkSend(qp, make_context(Tag::Send, c.link, 0), nullptr, 0, 0),
             "NdkSend");
        return;
      }
      default:
        throw Error(std::string("protocol error: a message arrived during a ") +
                    op_name(test_.op) + " test");
    }
  }

  void reply_send(NDK_QP* qp, uint32_t link, size_t offset, bool is_inline, NDK_SGE* sges) {
    ULONG n = s_.fill_sges(offset, test_.size, test_.sge, sges);
    posted(qp->Dispatch->NdkSend(qp, make_context(Tag::Send, link, 0), sges, n,
                                   is_inline ? NDK_OP_FLAG_INLINE : 0),
         "NdkSend");
  }

  Session& s_;
  uint64_t client_address_;
  uint32_t client_token_;
  TestParams test_;
  bool in_test_ = false;
  bool ending_ = false;
  uint64_t end_count_ = 0;
  uint64_t received_ = 0;
  uint64_t outstanding_ = 0;  // the server's own sends and writes not yet completed
  std::vector<uint32_t> uncredited_;
  uint64_t notifications_at_begin_ = 0;
  CpuSample cpu_at_begin_;
  uint64_t tests_ = 0;
  uint64_t notified_tests_ = 0;  // tests through which the server waited on notifications
  uint64_t notifications_ = 0;   // CQ notifications during those tests
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Server

Server::Server(const ServerOptions& options)
    : options_(options), adapter_(options.uri), crc_(crc_request_of(options.uri)) {
  const std::string ip = local_ip(split_uri(options.uri));
  if (!SocketAddress::parse(ip, options.port, &address_))
    throw Error("cannot listen: \"" + ip + "\" (from the URI) is not an IP address");
  listener_.reset(create<NDK_LISTENER>("NdkCreateListener", [&](auto cb, void* ctx,
                                                                NDK_LISTENER** out) {
    return adapter_.d()->NdkCreateListener(adapter_.get(), &Server::on_connect_event, this, cb,
                                           ctx, out);
  }));
  NDK_LISTENER* l = listener_.get();
  NTSTATUS status = run_request("NdkListen", [&](auto cb, void* ctx) {
    return l->Dispatch->NdkListen(l, address_.get(), address_.length(), cb, ctx);
  });
  if (status != STATUS_SUCCESS) {
    std::string why = status == STATUS_SHARING_VIOLATION ? ": the address is in use"
                      : status == STATUS_INVALID_ADDRESS ? ": not an address of this adapter"
                                                         : "";
    throw Error("cannot listen on " + address_.text() + why + " (" + status_text(status) + ")",
                status);
  }
  sockaddr_storage bound{};
  ULONG length = sizeof bound;
  status = l->Dispatch->NdkGetLocalAddress(l, reinterpret_cast<sockaddr*>(&bound), &length);
  if (status != STATUS_SUCCESS) throw_status("NdkGetLocalAddress (listener)", status);
  address_ = SocketAddress::from(reinterpret_cast<sockaddr*>(&bound), length);
}

Server::~Server() {
  // Requests still queued were never answered: refuse them, then stop listening.
  std::deque<Incoming> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(incoming_);
  }
  for (Incoming& i : left) {
    reject(i.connector, "the server is shutting down");
    close_object(i.connector);
  }
  listener_.reset();
}

bool Server::stopping() const {
  return stop_requested() || (options_.stop != nullptr && options_.stop->load());
}

void Server::reject(NDK_CONNECTOR* connector, const std::string& reason) {
  std::vector<std::byte> data = encode_rejection(reason, adapter_.info().MaxCalleeData);
  connector->Dispatch->NdkReject(connector, data.data(), static_cast<ULONG>(data.size()));
}

void Server::on_connect_event(void* context, NDK_CONNECTOR* connector) {
  auto* self = static_cast<Server*>(context);
  Incoming in{connector, {}, peer_of(connector)};
  std::vector<std::byte> data(self->adapter_.info().MaxCallerData + 1);
  ULONG length = static_cast<ULONG>(data.size());
  NTSTATUS status = connector->Dispatch->NdkGetConnectionData(connector, nullptr, nullptr,
                                                              data.data(), &length);
  data.resize(status == STATUS_SUCCESS ? length : 0);
  uint8_t version = 0;
  std::string refusal;
  switch (decode_request(data, &in.request, &version)) {
    case RequestCheck::NotSoftndk:
      refusal = "this is a softndk server; connect with `softndk ping` or `softndk perf`";
      break;
    case RequestCheck::OtherVersion:
      refusal = "the client speaks softndk protocol " + std::to_string(version) +
                ", this server speaks " + std::to_string(kProtocolVersion);
      break;
    case RequestCheck::Ok: {
      uint64_t active = self->active_session_.load();
      if (active != 0 && in.request.session != active)
        refusal = "busy: the server is running a session for another client; try again when "
                  "it ends";
      break;
    }
  }
  if (!refusal.empty()) {
    self->reject(connector, refusal);
    close_without_waiting(connector);
    if (self->options_.verbose) {
      std::printf("refused %s: %s\n", in.peer.c_str(), refusal.c_str());
      std::fflush(stdout);
    }
    return;
  }
  std::lock_guard lock(self->mutex_);
  self->incoming_.push_back(in);
  self->cv_.notify_one();
}

std::optional<Server::Incoming> Server::next_incoming(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  while (incoming_.empty()) {
    if (stopping()) return std::nullopt;
    auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    cv_.wait_until(lock, std::min(deadline, now + kStopCheck));
  }
  Incoming in = incoming_.front();
  incoming_.pop_front();
  return in;
}

void Server::print_counters_line() {
  const SOFTNDK_ADAPTER_COUNTERS c = adapter_.counters();
  std::string line = "counters";
  for (const CounterField& f : kCounterFields)
    line += std::string(" ") + f.name + "=" + std::to_string(c.*f.member);
  const uint64_t active = active_session_.load();
  line += active != 0 ? " (a session is running)" : " (idle)";
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void Server::report_counters_until(const std::atomic<bool>& done) {
  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options_.stats_s));
  auto next = options_.stats_s > 0 ? Clock::now() + period : Clock::time_point::max();
  while (!done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const bool asked = take_counters_request();
    const auto now = Clock::now();
    if (!asked && now < next) continue;
    if (now >= next) next = now + period;
    try {
      print_counters_line();
    } catch (const Error& e) {
      std::fprintf(stderr, "softndk: %s\n", e.what());
    }
  }
}

void Server::serve() {
  std::atomic<bool> done{false};
  std::thread reporter;
  if (options_.verbose) reporter = std::thread([&] { report_counters_until(done); });
  struct Join {
    std::atomic<bool>& done;
    std::thread& thread;
    ~Join() {
      done = true;
      if (thread.joinable()) thread.join();
    }
  } join{done, reporter};
  if (options_.verbose) {
    std::printf("softndk server listening on %s (%s); serves `softndk ping` and `softndk perf`\n",
                address_.text().c_str(), options_.uri.c_str());
    std::printf("data path: %s\n", adapter_.data_path().c_str());
    std::printf("counters: `kill -USR1 %d`%s\n", static_cast<int>(getpid()),
                options_.stats_s > 0 ? ", and every --stats period" : " (or --stats SECONDS)");
    if (crc_ == CrcRequest::On) {
      std::printf("MPA CRC: requested (every connection uses CRC, whatever the client asks)\n");
    } else if (crc_ == CrcRequest::Off) {
      std::printf("MPA CRC: not requested (each client's --crc decides)\n");
    }
    std::fflush(stdout);
  }
  while (!stopping()) {
    std::optional<Incoming> in = next_incoming(Clock::now() + kStopCheck);
    if (!in) continue;
    if (in->request.role != Role::Control) {
      reject(in->connector, "no such session on this server: the control connection comes first");
      close_object(in->connector);
      continue;
    }
    SessionShape shape = SessionShape::of_server(in->request);
    std::string limits = check_limits(shape, adapter_.info());
    if (!limits.empty()) {
      reject(in->connector, "the server's " + limits);
      close_object(in->connector);
      continue;
    }
    active_session_ = in->request.session;
    ++sessions_;
    try {
      run_session(*in);
    } catch (const PeerGaveUp& e) {
      active_session_ = 0;
      if (options_.once) throw;
      std::printf("session %" PRIu64 " from %s ended: the client gave up (%s)\n", sessions_,
                  in->peer.c_str(), e.reason().c_str());
      std::fflush(stdout);
      continue;
    } catch (const Error& e) {
      active_session_ = 0;
      if (options_.once) throw;
      std::printf("session %" PRIu64 " from %s failed: %s\n", sessions_, in->peer.c_str(),
                  e.what());
      std::fflush(stdout);
      if (close_failed()) throw Error("the server cannot go on: an NDK object did not close");
      continue;
    }
    active_session_ = 0;
    if (options_.once) return;
  }
}

void Server::run_session(const Incoming& control) {
  const ConnectRequest& request = control.request;
  SessionShape shape = SessionShape::of_server(request);
  Session session(adapter_, shape, "the client");
  session.accept(session.control(), control.connector);
  // The data connections of this session, in any order.
  std::vector<bool> connected(shape.data_links, false);
  for (uint16_t n = 0; n < shape.data_links; ++n) {
    std::optional<Incoming> in = next_incoming(deadline_from_now());
    if (!in) {
      check_stop();
      throw Error("the client opened " + std::to_string(n) + " of " +
                  std::to_string(shape.data_links) + " data connections within " +
                  timeout_text());
    }
    const ConnectRequest& r = in->request;
    if (r.session != request.session || r.role != Role::Data || r.index >= shape.data_links ||
        connected[r.index]) {
      reject(in->connector, "busy: the server is running another session");
      close_object(in->connector);
      --n;
      continue;
    }
    connected[r.index] = true;
    session.accept(session.link(r.index), in->connector);
  }
  ControlMessage hello = session.expect_control(MessageType::Hello);
  ControlMessage welcome;
  welcome.type = MessageType::Welcome;
  welcome.address = session.data().address(0);
  welcome.token = session.data().remote_token();
  welcome.bytes = shape.buffer_bytes;
  welcome.adapter_flags = adapter_.info().AdapterFlags;
  welcome.flags = crc_flags(crc_);
  session.send_control(welcome);
  if (options_.verbose) {
    std::printf("session %" PRIu64 " from %s: %u data connection(s)\n", sessions_,
                control.peer.c_str(), shape.data_links);
    std::fflush(stdout);
  }

  Responder responder(session, hello.address, hello.token);
  try {
    responder.run();
  } catch (const PeerGaveUp&) {
    throw;  // nobody to tell
  } catch (const Error& e) {
    session.send_failure(e.what());
    throw;
  }
  // From the Bye on, a new client's request waits in the queue instead of being refused busy.
  active_session_ = 0;

  ControlMessage ack;
  ack.type = MessageType::ByeAck;
  ack.counters = adapter_.counters();
  session.send_control(ack);
  // The client disconnects once it has the ByeAck; wait for that before closing, so the ByeAck
  // is not flushed away.
  session.expect_disconnect();
  const auto deadline = deadline_from_now();
  auto all_gone = [&] {
    if (!session.control().peer_gone()) return false;
    for (size_t i = 0; i < session.link_count(); ++i)
      if (!session.link(i).peer_gone()) return false;
    return true;
  };
  // The session is complete: a stop requested now (SIGINT/SIGTERM shortly after the client
  // left) ends this wait, not the session, which is logged as ended.
  try {
    while (!all_gone() && Clock::now() < deadline && !stopping())
      session.progress({}, Clock::now() + kStopCheck);
  } catch (const Error&) {
    if (!stopping()) throw;
  }
  if (options_.verbose) {
    std::printf("session %" PRIu64 " from %s ended: %" PRIu64 " test(s), %" PRIu64
                " of them waited on CQ notifications (%" PRIu64 " notifications)\n",
                sessions_, control.peer.c_str(), responder.tests(), responder.notified_tests(),
                responder.notifications());
    std::fflush(stdout);
  }
}

// ---------------------------------------------------------------------------------------------
// LocalServer

LocalServer::LocalServer(const std::string& uri, uint16_t port) {
  thread_ = std::thread([this, uri, port] {
    try {
      ServerOptions options;
      options.uri = uri;
      options.port = port;
      options.once = true;
      options.verbose = false;
      options.stop = &stop_;
      Server server(options);
      {
        std::lock_guard lock(mutex_);
        address_ = server.address();
        started_ = true;
        cv_.notify_all();
      }
      server.serve();
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex_);
      error_ = e.what();
      started_ = true;
      cv_.notify_all();
    }
  });
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return started_; });
  if (error_) {
    std::string error = *error_;
    lock.unlock();
    thread_.join();
    throw Error(error);
  }
}

LocalServer::~LocalServer() { finish(); }

std::optional<std::string> LocalServer::finish() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  return error_;
}

}  // namespace softndk::cli
