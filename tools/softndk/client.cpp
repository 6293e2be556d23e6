// Implementation of client.h.
#include "client.h"

#include <algorithm>
#include <random>

namespace softndk::cli {

namespace {

uint64_t random_session_id() {
  std::random_device device;
  uint64_t id = 0;
  while (id == 0) id = (uint64_t{device()} << 32) | device();
  return id;
}

// The source address: the adapter's own IP when it is of the server's family, else the
// wildcard of that family (the provider picks a local address).
SocketAddress source_for(const std::string& uri, const SocketAddress& server) {
  SocketAddress source;
  if (SocketAddress::parse(local_ip(split_uri(uri)), 0, &source) &&
      source.family() == server.family())
    return source;
  SocketAddress::parse(server.family() == AF_INET6 ? "::" : "0.0.0.0", 0, &source);
  return source;
}

}  // namespace

Client::Client(const ClientOptions& options, const SocketAddress& server)
    : adapter_(std::make_unique<Adapter>(options.uri)), server_(server) {
  const NDK_ADAPTER_INFO& info = adapter_->info();
  ConnectRequest request;
  request.session = random_session_id();
  request.data_links = options.data_links;
  request.sge = options.sge;
  request.client_depth = options.depth;
  // Twice the depth keeps a sender streaming while a credit is on its way back.
  server_receives_ = std::clamp<uint32_t>(2 * options.depth, kClientReceives,
                                          std::max<uint32_t>(info.MaxReceiveQueueDepth, 1));
  credit_batch_ = std::max<uint32_t>(1, server_receives_ / kCreditMessagesInFlight);
  request.server_receives = server_receives_;
  request.inline_bytes = options.inline_bytes;
  request.buffer_bytes = options.buffer_bytes;
  request.read_limit = std::clamp<uint32_t>(
      options.depth, 1, std::max<ULONG>(1, std::min(info.MaxOutboundReadLimit,
                                                    info.MaxInboundReadLimit)));
  request.flags = options.notifications ? kRequestNotifications : 0;

  session_ = std::make_unique<Session>(*adapter_, SessionShape::of_client(request), "the server");
  const SocketAddress source = source_for(options.uri, server);
  const auto start = Clock::now();
  request.role = Role::Control;
  session_->connect(session_->control(), source, server, request);
  request.role = Role::Data;
  for (uint16_t i = 0; i < options.data_links; ++i) {
    request.index = i;
    session_->connect(session_->link(i), source, server, request);
  }
  connect_seconds_ = std::chrono::duration<double>(Clock::now() - start).count();

  ControlMessage hello;
  hello.type = MessageType::Hello;
  hello.address = session_->data().address(0);
  hello.token = session_->data().remote_token();
  hello.bytes = options.buffer_bytes;
  session_->send_control(hello);
  ControlMessage welcome = session_->expect_control(MessageType::Welcome);
  peer_ = {welcome.address, welcome.token, welcome.bytes, welcome.adapter_flags,
           crc_of_flags(welcome.flags)};
}

Client::~Client() = default;

void Client::begin_test(const TestParams& params) {
  ControlMessage begin;
  begin.type = MessageType::TestBegin;
  begin.test = params;
  session_->send_control(begin);
  session_->expect_control(MessageType::TestReady);
  cpu_at_begin_ = CpuSample::now();
}

uint64_t Client::end_test(uint64_t messages_sent) {
  const CpuUse client_cpu = CpuUse::between(cpu_at_begin_, CpuSample::now());
  ControlMessage end;
  end.type = MessageType::TestEnd;
  end.count = messages_sent;
  session_->send_control(end);
  const ControlMessage done = session_->expect_control(MessageType::TestDone);
  server_wait_ = {(done.flags & kFlagServerNotified) != 0, done.notifications, client_cpu,
                  CpuUse{done.cpu_us, done.wall_us}};
  return done.count;
}

Client::Counters Client::finish() {
  Counters counters;
  counters.client = adapter_->counters();
  ControlMessage bye;
  bye.type = MessageType::Bye;
  session_->send_control(bye);
  counters.server = session_->expect_control(MessageType::ByeAck).counters;
  session_->disconnect_all();
  return counters;
}

}  // namespace softndk::cli
