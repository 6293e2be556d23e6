// Implementation of session.h.
#include "session.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <thread>

namespace softndk::cli {

namespace {

constexpr ULONG kDataAccess = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                              NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;
constexpr size_t kBatch = 64;  // completions taken per NdkGetCqResultsEx
constexpr auto kLinkCheck = std::chrono::milliseconds(100);

size_t round_to_page(uint64_t bytes) {
  return static_cast<size_t>((std::max<uint64_t>(bytes, 1) + PAGE_SIZE - 1) / PAGE_SIZE *
                             PAGE_SIZE);
}

std::string hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08" PRIX32, value);
  return text;
}

}  // namespace

const char* tag_name(Tag tag) {
  switch (tag) {
    case Tag::ControlReceive: return "control receive";
    case Tag::ControlSend: return "control send";
    case Tag::Receive: return "receive";
    case Tag::Send: return "send";
    case Tag::Write: return "RDMA write";
    case Tag::Read: return "RDMA read";
    case Tag::FastRegister: return "fast-register";
    case Tag::Invalidate: return "invalidate";
    case Tag::Bind: return "bind";
  }
  return "request";
}

// ---------------------------------------------------------------------------------------------
// Shapes and limits

SessionShape SessionShape::of_client(const ConnectRequest& r) {
  SessionShape s;
  s.data_links = r.data_links;
  s.sge = r.sge;
  s.initiator_depth = r.client_depth;
  s.receive_depth = kClientReceives;
  s.inline_bytes = r.inline_bytes;
  s.buffer_bytes = r.buffer_bytes;
  s.read_limit = r.read_limit;
  s.notifications = (r.flags & kRequestNotifications) != 0;
  s.is_server = false;
  return s;
}

SessionShape SessionShape::of_server(const ConnectRequest& r) {
  SessionShape s = of_client(r);
  s.initiator_depth = kServerInitiatorDepth;
  s.receive_depth = r.server_receives;
  s.is_server = true;
  return s;
}

std::string check_limits(const SessionShape& s, const NDK_ADAPTER_INFO& info) {
  auto over = [](const std::string& what, uint64_t value, const char* field, uint64_t limit) {
    return what + " " + std::to_string(value) + " exceeds the adapter's " + field + " (" +
           std::to_string(limit) + ")";
  };
  if (s.initiator_depth > info.MaxInitiatorQueueDepth)
    return over("queue depth", s.initiator_depth, "MaxInitiatorQueueDepth",
                info.MaxInitiatorQueueDepth);
  if (s.receive_depth > info.MaxReceiveQueueDepth)
    return over("receive queue depth", s.receive_depth, "MaxReceiveQueueDepth",
                info.MaxReceiveQueueDepth);
  if (s.sge > info.MaxInitiatorRequestSge)
    return over("SGE count", s.sge, "MaxInitiatorRequestSge", info.MaxInitiatorRequestSge);
  if (s.sge > info.MaxReadRequestSge)
    return over("SGE count", s.sge, "MaxReadRequestSge", info.MaxReadRequestSge);
  if (s.inline_bytes > info.MaxInlineDataSize)
    return over("inline size", s.inline_bytes, "MaxInlineDataSize", info.MaxInlineDataSize);
  if (s.buffer_bytes > info.MaxTransferLength)
    return over("message size", s.buffer_bytes, "MaxTransferLength", info.MaxTransferLength);
  if (2 * round_to_page(s.buffer_bytes) > info.MaxRegistrationSize)
    return over("buffer size", 2 * round_to_page(s.buffer_bytes), "MaxRegistrationSize",
                info.MaxRegistrationSize);
  return "";
}

std::string describe_connect_failure(NTSTATUS status, const std::string& peer,
                                     const std::optional<std::string>& rejection) {
  const std::string code = " (" + status_text(status) + ")";
  switch (status) {
    case STATUS_CONNECTION_REFUSED:
      if (rejection) return "connection to " + peer + " rejected by the server: " + *rejection;
      return "connection to " + peer + " refused: nothing listens there" + code +
             "; start `softndk perf --server` (or `softndk ping --server`) on that host";
    case STATUS_HOST_UNREACHABLE:
      return "cannot reach " + peer + ": host unreachable" + code +
             "; no adapter of this transport owns that address";
    case STATUS_NETWORK_UNREACHABLE:
      return "cannot reach " + peer + ": network unreachable" + code;
    case STATUS_IO_TIMEOUT:
      return "connecting to " + peer + " timed out" + code +
             ": no answer; check the address and that nothing drops the traffic";
    case STATUS_INVALID_ADDRESS:
      return "cannot connect to " + peer + " from this adapter: the source address is not one of "
             "the adapter's addresses" + code;
    case STATUS_CONNECTION_ABORTED:
      return "connection to " + peer + " aborted during establishment" + code;
    default:
      return "connecting to " + peer + " failed: " + status_text(status);
  }
}

// ---------------------------------------------------------------------------------------------
// Session

Session::Session(Adapter& adapter, const SessionShape& shape, std::string peer_name)
    : adapter_(adapter),
      shape_(shape),
      peer_name_(std::move(peer_name)),
      cq_(adapter, 4 * kControlSlots + shape.data_links * (shape.initiator_depth +
                                                            shape.receive_depth) + 64,
          shape.notifications) {
  std::string limits = check_limits(shape, adapter.info());
  if (!limits.empty()) throw Error(limits);
  pd_.reset(create<NDK_PD>("NdkCreatePd", [&](auto cb, void* ctx, NDK_PD** out) {
    return adapter.d()->NdkCreatePd(adapter.get(), cb, ctx, out);
  }));
  control_buffer_ = std::make_unique<Region>(pd_.get(), 2 * kControlSlots * kControlMessageBytes,
                                             NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  send_offset_ = round_to_page(shape.buffer_bytes);
  data_ = std::make_unique<Region>(pd_.get(), 2 * send_offset_, kDataAccess);
  for (uint32_t i = 0; i < shape.data_links; ++i) links_.push_back(std::make_unique<Link>(i));
}

Session::~Session() = default;

bool Session::any_peer_gone() const {
  if (control_.peer_gone()) return true;
  for (const auto& l : links_)
    if (l->peer_gone()) return true;
  return false;
}

void Session::create_qp(Link& link, bool is_control) {
  const ULONG receives = is_control ? kControlSlots : shape_.receive_depth;
  const ULONG initiator = is_control ? kControlSlots : shape_.initiator_depth;
  const ULONG sge = is_control ? 1 : shape_.sge;
  const ULONG inline_bytes = is_control ? 0 : shape_.inline_bytes;
  link.qp_.reset(create<NDK_QP>("NdkCreateQp", [&](auto cb, void* ctx, NDK_QP** out) {
    return pd_->Dispatch->NdkCreateQp(pd_.get(), cq_.get(), cq_.get(), &link, receives,
                                      initiator, sge, sge, inline_bytes, cb, ctx, out);
  }));
  // Receives go in before the connection exists (Microsoft's NDKPI reference).
  for (uint32_t slot = 0; slot < receives; ++slot) {
    if (is_control) {
      post_control_receive(slot);
    } else {
      post_receive(link.index(), slot);
    }
  }
}

void Session::connect(Link& link, const SocketAddress& source, const SocketAddress& server,
                      const ConnectRequest& request) {
  const bool is_control = &link == &control_;
  create_qp(link, is_control);
  link.connector_.reset(
      create<NDK_CONNECTOR>("NdkCreateConnector", [&](auto cb, void* ctx, NDK_CONNECTOR** out) {
        return adapter_.d()->NdkCreateConnector(adapter_.get(), cb, ctx, out);
      }));
  std::vector<std::byte> private_data = encode_request(request);
  NDK_CONNECTOR* c = link.connector();
  ndkxx::ConnectParams params{shape_.read_limit, shape_.read_limit, private_data.data(),
                              static_cast<ULONG>(private_data.size())};
  ndkxx::Request connect;
  ndkxx::start_connect(connect, c, link.qp(), source.storage(), server.storage(), params);
  ndkxx::Outcome outcome = connect.finish(stoppable_wait());
  if (outcome.timed_out) {
    check_stop();
    throw Error(describe_connect_failure(STATUS_IO_TIMEOUT, server.text(), std::nullopt) +
                    " (no completion within " + timeout_text() + ")",
                STATUS_IO_TIMEOUT);
  }
  NTSTATUS status = outcome.status;
  if (status != STATUS_SUCCESS) {
    std::optional<std::string> rejection;
    if (status == STATUS_CONNECTION_REFUSED) {
      // The reject private data (Microsoft's NDKPI reference): RDS first, then the bytes.
      ULONG length = 0;
      if (c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, nullptr, &length) ==
              STATUS_SUCCESS &&
          length != 0) {
        std::vector<std::byte> data(length);
        if (c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, data.data(), &length) ==
            STATUS_SUCCESS)
          rejection = decode_rejection(data);
      }
    }
    throw Error(describe_connect_failure(status, server.text(), rejection), status);
  }
  ndkxx::Request complete;
  ndkxx::start_complete_connect(complete, c, {&link.disconnects_, true});
  outcome = complete.finish(stoppable_wait());
  if (outcome.timed_out) throw_unfinished("NdkCompleteConnectEx");
  status = outcome.status;
  if (status != STATUS_SUCCESS)
    throw Error("completing the connection to " + server.text() + " failed: " +
                    status_text(status) +
                    (status == STATUS_CONNECTION_ABORTED ? " (the server gave it up)" : ""),
                status);
}

void Session::accept(Link& link, NDK_CONNECTOR* incoming) {
  link.connector_.reset(incoming);
  create_qp(link, &link == &control_);
  ndkxx::Request accept;
  ndkxx::start_accept(accept, incoming, link.qp(), {shape_.read_limit, shape_.read_limit},
                      {&link.disconnects_, true});
  ndkxx::Outcome outcome = accept.finish(stoppable_wait());
  if (outcome.timed_out) throw_unfinished("NdkAcceptEx");
  if (!outcome.ok()) throw_status("NdkAcceptEx", outcome.status);
}

void Session::disconnect_all() {
  expect_disconnect_ = true;
  auto disconnect = [](Link& link) {
    NDK_CONNECTOR* c = link.connector();
    if (c == nullptr || link.qp() == nullptr) return;
    // The connection ends either way (a failure, a timeout, a stop): closing the connector
    // finishes it.
    ndkxx::disconnect(c, stoppable_wait());
  };
  for (auto& l : links_) disconnect(*l);
  disconnect(control_);
}

void Session::check_links() {
  if (expect_disconnect_) return;
  if (!any_peer_gone()) return;
  // A Failure message that arrived first says why: take in what the CQ still holds (the
  // session is over, other completions no longer matter). The connections are separate, so a
  // data connection's abort can overtake the Failure the peer sent just before it on the
  // control connection: give that message a moment (200 ms) to arrive.
  NDK_RESULT_EX results[kBatch];
  const auto grace = Clock::now() + std::chrono::milliseconds(200);
  for (;;) {
    for (ULONG n; (n = cq_.poll(results, kBatch)) != 0;) {
      for (ULONG i = 0; i < n; ++i) {
        ControlMessage m;
        ContextParts c = split_context(results[i].RequestContext);
        if (results[i].Status == STATUS_SUCCESS && c.tag == Tag::ControlReceive &&
            decode_message({control_buffer_->data() + c.slot * kControlMessageBytes,
                            results[i].BytesTransferred},
                           &m))
          inbox_.push_back(m);
      }
    }
    for (const ControlMessage& m : inbox_)
      if (m.type == MessageType::Failure) throw PeerGaveUp(peer_name_, m.text);
    if (Clock::now() >= grace) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // ProviderDisconnectReason 1: the peer disconnected gracefully; otherwise an abort, which
  // either side may have caused (a Terminate, a reset, a local error).
  auto lost = [&](const Link& l, const std::string& which) {
    if (l.disconnect_reason() == 1)
      throw Error("connection lost: " + peer_name_ + " disconnected the " + which + " connection");
    throw Error("connection lost: the " + which + " connection to " + peer_name_ +
                " was aborted (disconnect reason " + std::to_string(l.disconnect_reason()) + ")");
  };
  if (control_.peer_gone()) lost(control_, "control");
  for (const auto& l : links_)
    if (l->peer_gone()) lost(*l, "data");
}

void Session::fail_completion(const NDK_RESULT_EX& r) {
  ContextParts c = split_context(r.RequestContext);
  // A flush after the peer left explains itself better as the lost connection.
  if (expect_disconnect_ && r.Status == STATUS_CANCELLED) return;
  check_links();
  for (const ControlMessage& m : inbox_)
    if (m.type == MessageType::Failure) throw PeerGaveUp(peer_name_, m.text);
  std::string where = c.tag == Tag::ControlReceive || c.tag == Tag::ControlSend
                          ? "the control link"
                          : "data link " + std::to_string(c.link);
  throw Error(std::string(tag_name(c.tag)) + " on " + where + " completed with " +
                  status_text(r.Status) +
                  (r.ProviderErrorCode != 0 ? ", provider error " + hex(r.ProviderErrorCode) : ""),
              r.Status);
}

bool Session::progress(const Handler& handler, Clock::time_point deadline) {
  NDK_RESULT_EX results[kBatch];
  // Completions already there are taken without reading the clock for a wait slice.
  ULONG n = cq_.poll(results, kBatch);
  while (n == 0) {
    const auto slice = std::min(deadline, Clock::now() + kLinkCheck);
    n = cq_.wait(results, kBatch, slice);
    if (n == 0) {
      check_links();
      if (slice >= deadline) return false;
    }
  }
  dispatch(results, n, handler);
  return true;
}

bool Session::progress_within(const Handler& handler, Clock::duration timeout) {
  NDK_RESULT_EX results[kBatch];
  ULONG n = cq_.poll(results, kBatch);
  if (n == 0) return progress(handler, Clock::now() + timeout);
  dispatch(results, n, handler);
  return true;
}

void Session::dispatch(const NDK_RESULT_EX* results, ULONG n, const Handler& handler) {
  completion_time_valid_ = false;
  for (ULONG i = 0; i < n; ++i) {
    const NDK_RESULT_EX& r = results[i];
    if (r.Status != STATUS_SUCCESS) {
      fail_completion(r);
      continue;  // a flushed request during the expected disconnect
    }
    ContextParts c = split_context(r.RequestContext);
    if (c.tag == Tag::ControlReceive) {
      ControlMessage m;
      const std::byte* slot = control_buffer_->data() + c.slot * kControlMessageBytes;
      if (!decode_message({slot, r.BytesTransferred}, &m))
        throw Error("protocol error: " + peer_name_ + " sent a malformed control message");
      inbox_.push_back(m);
      post_control_receive(c.slot);
    } else if (c.tag == Tag::ControlSend) {
      // Nothing to do: control sends are fire-and-forget, their slots rotate.
    } else if (handler) {
      handler(r);
    } else {
      throw Error(std::string("unexpected ") + tag_name(c.tag) + " completion");
    }
  }
}

void Session::post_control_receive(uint32_t slot) {
  NDK_SGE sge = control_buffer_->sge(slot * kControlMessageBytes, kControlMessageBytes);
  NDK_QP* qp = control_.qp();
  NTSTATUS s = qp->Dispatch->NdkReceive(qp, make_context(Tag::ControlReceive, 0, slot), &sge, 1);
  if (s != STATUS_SUCCESS) throw_status("NdkReceive (control)", s);
}

void Session::send_control(const ControlMessage& message) {
  // Request/response traffic: at most two sends are ever outstanding, far below kControlSlots.
  uint32_t slot = kControlSlots + next_control_send_++ % kControlSlots;
  std::byte* bytes = control_buffer_->data() + slot * kControlMessageBytes;
  encode_message(message, std::span<std::byte, kControlMessageBytes>(bytes, kControlMessageBytes));
  NDK_SGE sge = control_buffer_->sge(slot * kControlMessageBytes, kControlMessageBytes);
  NDK_QP* qp = control_.qp();
  NTSTATUS s = qp->Dispatch->NdkSend(qp, make_context(Tag::ControlSend, 0, slot), &sge, 1, 0);
  if (s != STATUS_SUCCESS) {
    check_links();
    throw_status(std::string("sending the ") + message_name(message.type) + " control message", s);
  }
}

void Session::send_failure(const std::string& why) {
  try {
    if (control_.qp() == nullptr || control_.peer_gone()) return;
    ControlMessage failure;
    failure.type = MessageType::Failure;
    failure.text = why;
    send_control(failure);
    // Let the message leave before the connections close; completions are no longer checked.
    expect_disconnect_ = true;
    const auto deadline = Clock::now() + std::chrono::milliseconds(200);
    NDK_RESULT_EX results[kBatch];
    while (Clock::now() < deadline && !any_peer_gone()) {
      ULONG n = cq_.poll(results, kBatch);
      bool sent = false;
      for (ULONG i = 0; i < n; ++i)
        sent = sent || split_context(results[i].RequestContext).tag == Tag::ControlSend;
      if (sent) break;
      std::this_thread::yield();
    }
    // Then end the control connection gracefully: closing a connector aborts its connection,
    // and a reset can overtake a message the peer has not read yet (seen: the server then
    // reported "the control connection to the client was aborted" instead of our reason).
    // The FIN follows the Failure in order. Bounded: the peer may be gone.
    if (NDK_CONNECTOR* c = control_.connector(); c != nullptr && !control_.peer_gone())
      ndkxx::disconnect(c, ndkxx::Wait{std::chrono::milliseconds(500)});
  } catch (const std::exception&) {
    // The session is being given up anyway.
  }
}

void Session::post_failed(const std::string& what, NTSTATUS status) {
  check_links();
  throw Error(what + " failed: " + status_text(status) +
                  (status == STATUS_CONNECTION_INVALID
                       ? " (the connection to " + peer_name_ + " no longer works)"
                       : ""),
              status);
}

std::optional<ControlMessage> Session::take_control() {
  if (inbox_.empty()) return std::nullopt;
  ControlMessage m = inbox_.front();
  inbox_.pop_front();
  return m;
}

ControlMessage Session::expect_control(MessageType type, const Handler& handler) {
  const auto deadline = deadline_from_now();
  for (;;) {
    if (std::optional<ControlMessage> m = take_control()) {
      if (m->type == MessageType::Failure) throw PeerGaveUp(peer_name_, m->text);
      if (m->type != type)
        throw Error(std::string("protocol error: expected ") + message_name(type) + " from " +
                    peer_name_ + ", got " + message_name(m->type));
      return *m;
    }
    if (!progress(handler, deadline))
      throw Error(std::string("no ") + message_name(type) + " message from " + peer_name_ +
                  " within " + timeout_text());
  }
}

void Session::post_receive(uint32_t link, uint32_t slot) {
  NDK_SGE sge = data_->sge(0, shape_.buffer_bytes);
  NDK_QP* qp = links_[link]->qp();
  NTSTATUS s = qp->Dispatch->NdkReceive(qp, make_context(Tag::Receive, link, slot), &sge, 1);
  if (s != STATUS_SUCCESS) throw_status("NdkReceive", s);
}

ULONG Session::fill_sges(size_t offset, uint64_t bytes, uint32_t count, NDK_SGE* out) const {
  uint64_t pieces = std::clamp<uint64_t>(count, 1, std::max<uint64_t>(bytes, 1));
  uint64_t base = bytes / pieces;
  for (uint64_t i = 0; i < pieces; ++i) {
    uint64_t length = i + 1 == pieces ? bytes - base * (pieces - 1) : base;
    out[i] = data_->sge(offset + base * i, length);
  }
  return static_cast<ULONG>(pieces);
}

}  // namespace softndk::cli
