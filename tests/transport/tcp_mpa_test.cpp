// MPA and FPDU specifics of the tcp transport, checked against a peer driven by hand through
// src/wire: the responder waits for the RTR, Read RTRs in both roles, reject with private data,
// markers refused, CRC errors terminate, IRD/RTR mismatches, segmentation at MULPDU, CRC off.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "connection_helpers.h"
#include "raw_peer.h"

namespace {

using namespace conntest;
using rawpeer::bytes_of;
using rawpeer::RawSocket;
using rawpeer::string_of;
namespace wire = softndk::wire;

constexpr const char* kUri = "tcp://127.0.0.1";
constexpr ULONG kRegionBytes = 1 << 16;
constexpr ULONG kRemoteFlags =
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ | NDK_MR_FLAG_ALLOW_REMOTE_WRITE |
    NDK_MR_FLAG_RDMA_READ_SINK;

wire::UlpduHeader write_rtr();

// softndk as the responder: a listening node the raw peer connects to.
struct Responder {
  Incoming incoming;
  PdCqFixture node{kUri};
  NDK_QP* qp = nullptr;
  NDK_LISTENER* listener = nullptr;
  sockaddr_storage address{};
  void start() {
    ASSERT_TRUE(node.ok());
    qp = node.create_qp();
    ASSERT_NE(nullptr, qp);
    listener = node.create_listener(incoming);
    ASSERT_NE(nullptr, listener);
    ASSERT_NT(STATUS_SUCCESS, listen_on(listener, node.local()));
    address = listener_address(listener);
  }
  // The raw peer connects (CRC, Write RTR, IRD/ORD 4) and is accepted with `events`: after it
  // the connection is established on both sides and the peer's next Send carries MSN 1.
  void establish(RawSocket& peer, DisconnectEvents* events, Op& accept) {
    peer = RawSocket::connect_to(address);
    ASSERT_TRUE(peer.send_mpa(rawpeer::request_frame(true, true, 4, 4, {})));
    NDK_CONNECTOR* in = incoming.next();
    ASSERT_NE(nullptr, in);
    start_accept(accept, in, qp, true, events);
    std::vector<std::byte> storage;
    ASSERT_TRUE(peer.read_mpa(wire::MpaFrameKind::Reply, &storage).has_value());
    ASSERT_TRUE(peer.send_fpdu(write_rtr(), {}, true));
    ASSERT_NT(STATUS_SUCCESS, accept.result());
  }
};

wire::UlpduHeader write_rtr() {
  wire::UlpduHeader h;
  h.ddp_ = wire::make_tagged_header(wire::RdmapOpcode::Write, true, 1, 0);
  return h;
}

wire::UlpduHeader read_request(uint32_t msn, uint32_t sink_stag, uint32_t bytes,
                               uint32_t source_stag, uint64_t source_to) {
  wire::UlpduHeader h;
  h.ddp_ = wire::make_untagged_header(wire::RdmapOpcode::ReadRequest, true, msn, 0);
  h.read_request_ = {sink_stag, 0, bytes, source_stag, source_to};
  return h;
}

wire::UlpduHeader send_header(uint32_t msn) {
  wire::UlpduHeader h;
  h.ddp_ = wire::make_untagged_header(wire::RdmapOpcode::Send, true, msn, 0);
  return h;
}

TEST(TcpMpa, responder_waits_for_the_write_rtr_then_sends_and_receives) {
  Responder r;
  ASSERT_NO_FATAL_FAILURE(r.start());
  Region rx(r.node.pd, 4096, kRemoteFlags);
  ASSERT_NT(STATUS_SUCCESS, post_receive(r.qp, rx, 0, 4096, (void*)0x1));

  RawSocket peer = RawSocket::connect_to(r.address);
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(peer.send_mpa(rawpeer::request_frame(true, true, 4, 4, bytes_of("hello"))));
  NDK_CONNECTOR* in = r.incoming.next();
  ASSERT_NE(nullptr, in);
  char data[252] = {};
  ULONG length = sizeof data, inbound = 0, outbound = 0;
  ASSERT_NT(STATUS_SUCCESS,
            in->Dispatch->NdkGetConnectionData(in, &inbound, &outbound, data, &length));
  EXPECT_EQ(252u, length);  // RDS: MaxCallerData of tcp (256 with the IRD/ORD word)
  EXPECT_EQ(std::string("hello"), std::string(data, 5));
  EXPECT_EQ(4u, outbound);  // limited by the peer's IRD

  std::string reply_data = "world";
  Op accept;
  start_accept(accept, in, r.qp, true, nullptr, 8, 8, reply_data.data(),
               static_cast<ULONG>(reply_data.size()));
  std::vector<std::byte> storage;
  auto reply = peer.read_mpa(wire::MpaFrameKind::Reply, &storage);
  ASSERT_TRUE(reply.has_value());
  EXPECT_FALSE(reply->reject_);
  EXPECT_FALSE(reply->markers_);
  EXPECT_TRUE(reply->crc_);
  EXPECT_TRUE(reply->enhanced_);
  EXPECT_EQ(2, reply->revision_);
  EXPECT_TRUE(reply->ird_ord_.peer_to_peer_);
  EXPECT_TRUE(reply->ird_ord_.rtr_write_);  // Write preferred (our RTR policy: Write > Read > Send)
  EXPECT_FALSE(reply->ird_ord_.rtr_read_);
  EXPECT_EQ(4, reply->ird_ord_.ird_);  // min(own 8, peer ORD 4)
  EXPECT_EQ(4, reply->ird_ord_.ord_);
  EXPECT_EQ("world", string_of(reply->private_data_));

  // The responder sends nothing and does not complete the accept before the RTR (1.1, 1.4).
  EXPECT_FALSE(peer.wait_readable(150));
  EXPECT_FALSE(accept.done());
  ASSERT_TRUE(peer.send_fpdu(write_rtr(), {}, true));
  EXPECT_NT(STATUS_SUCCESS, accept.result());

  // The first Send of the peer carries MSN 1 (a Write RTR consumes no MSN).
  std::string text = "Hello, iWARP!";
  ASSERT_TRUE(peer.send_fpdu(send_header(1), bytes_of(text), true));
  NDK_RESULT_EX result{};
  ASSERT_TRUE(r.node.cq.next(&result));
  EXPECT_NT(STATUS_SUCCESS, result.Status);
  EXPECT_EQ(text.size(), result.BytesTransferred);
  EXPECT_EQ(0, std::memcmp(rx.data(), text.data(), text.size()));

  // Our Send reaches the peer as one FPDU with a good CRC.
  Region tx(r.node.pd, 4096, kRemoteFlags, 0x77);
  ASSERT_NT(STATUS_SUCCESS, post_send(r.qp, tx, 0, 100, (void*)0x2));
  auto fpdu = peer.read_fpdu();
  ASSERT_TRUE(fpdu.has_value());
  EXPECT_TRUE(fpdu->crc_matches);
  EXPECT_EQ(wire::RdmapOpcode::Send, fpdu->header.ddp_.opcode_);
  EXPECT_EQ(0u, fpdu->header.ddp_.qn_);
  EXPECT_EQ(1u, fpdu->header.ddp_.msn_);
  EXPECT_EQ(100u, fpdu->payload.size());
  ASSERT_TRUE(r.node.cq.next(&result));
  EXPECT_NT(STATUS_SUCCESS, result.Status);
}

TEST(TcpMpa, responder_answers_a_read_rtr_and_counts_read_msns_after_it) {
  Responder r;
  ASSERT_NO_FATAL_FAILURE(r.start());
  Region source(r.node.pd, 4096, kRemoteFlags, 0x3C);
  RawSocket peer = RawSocket::connect_to(r.address);
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(peer.send_mpa(rawpeer::request_frame(false, true, 4, 4, {})));  // only D offered
  NDK_CONNECTOR* in = r.incoming.next();
  ASSERT_NE(nullptr, in);
  Op accept;
  start_accept(accept, in, r.qp, true, nullptr);
  std::vector<std::byte> storage;
  auto reply = peer.read_mpa(wire::MpaFrameKind::Reply, &storage);
  ASSERT_TRUE(reply.has_value());
  EXPECT_TRUE(reply->ird_ord_.rtr_read_);
  EXPECT_FALSE(reply->ird_ord_.rtr_write_);
  EXPECT_GE(reply->ird_ord_.ird_, 1);
  // Read RTR: Read Request, MSN 1, size 0 (RFC 6581 section 5).
  ASSERT_TRUE(peer.send_fpdu(read_request(1, 0xABCD, 0, 1, 0), {}, true));
  auto response = peer.read_fpdu();
  ASSERT_TRUE(response.has_value());
  EXPECT_TRUE(response->crc_matches);
  EXPECT_EQ(wire::RdmapOpcode::ReadResponse, response->header.ddp_.opcode_);
  EXPECT_TRUE(response->header.ddp_.last_);
  EXPECT_EQ(0xABCDu, response->header.ddp_.stag_);
  EXPECT_TRUE(response->payload.empty());
  EXPECT_NT(STATUS_SUCCESS, accept.result());
  // The peer's first real Read Request carries MSN 2.
  ASSERT_TRUE(peer.send_fpdu(read_request(2, 0x77, 64, source.remote_token(), source.address()),
                             {}, true));
  auto data = peer.read_fpdu();
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(wire::RdmapOpcode::ReadResponse, data->header.ddp_.opcode_);
  EXPECT_EQ(0x77u, data->header.ddp_.stag_);
  ASSERT_EQ(64u, data->payload.size());
  EXPECT_EQ(std::byte{0x3C}, data->payload[0]);
}

TEST(TcpMpa, reject_sends_r_bit_ird_ord_word_and_private_data_then_fin) {
  Responder r;
  ASSERT_NO_FATAL_FAILURE(r.start());
  RawSocket peer = RawSocket::connect_to(r.address);
  ASSERT_TRUE(peer.send_mpa(rawpeer::request_frame(true, true, 4, 4, {})));
  NDK_CONNECTOR* in = r.incoming.next();
  ASSERT_NE(nullptr, in);
  std::string why = "not today";
  EXPECT_NT(STATUS_SUCCESS,
            in->Dispatch->NdkReject(in, why.data(), static_cast<ULONG>(why.size())));
  std::vector<std::byte> storage;
  auto reply = peer.read_mpa(wire::MpaFrameKind::Reply, &storage);
  ASSERT_TRUE(reply.has_value());
  EXPECT_TRUE(reply->reject_);
  EXPECT_TRUE(reply->enhanced_);  // the IRD/ORD word stays (enhanced mode, RFC 6581)
  EXPECT_EQ(why, string_of(reply->private_data_));
  EXPECT_TRUE(peer.closed_within(5000));
}

TEST(TcpMpa, request_asking_for_markers_is_rejected_without_a_connect_event) {
  Responder r;
  ASSERT_NO_FATAL_FAILURE(r.start());
  RawSocket peer = RawSocket::connect_to(r.address);
  auto request = rawpeer::request_frame(true, true, 4, 4, {});
  request.markers_ = true;
  ASSERT_TRUE(peer.send_mpa(request));
  std::vector<std::byte> storage;
  auto reply = peer.read_mpa(wire::MpaFrameKind::Reply, &storage);
  ASSERT_TRUE(reply.has_value());
  EXPECT_TRUE(reply->reject_);
  EXPECT_FALSE(reply->markers_);
  EXPECT_TRUE(peer.closed_within(5000));
  EXPECT_EQ(nullptr, r.incoming.next(ndkxx::Wait{std::chrono::milliseconds(100)}));
}

TEST(TcpMpa, bad_crc_is_answered_with_llp_crc_terminate_and_the_qp_flushes) {
  Responder r;
  ASSERT_NO_FATAL_FAILURE(r.start());
  Region rx(r.node.pd, 4096, kRemoteFlags);
  ASSERT_NT(STATUS_SUCCESS, post_receive(r.qp, rx, 0, 4096, (void*)0x1));
  RawSocket peer;
  DisconnectEvents events;
  Op accept;
  ASSERT_NO_FATAL_FAILURE(r.establish(peer, &events, accept));
  ASSERT_TRUE(peer.send_fpdu(send_header(1), bytes_of("corrupted"), true, /*corrupt_crc=*/true));
  auto terminate = peer.read_fpdu();
  ASSERT_TRUE(terminate.has_value());
  EXPECT_TRUE(terminate->crc_matches);
  ASSERT_EQ(wire::RdmapOpcode::Terminate, terminate->header.ddp_.opcode_);
  EXPECT_EQ(2u, terminate->header.ddp_.qn_);
  EXPECT_EQ(1u, terminate->header.ddp_.msn_);
  const wire::TerminateMessage& t = terminate->header.terminate_;
  EXPECT_EQ(2, t.reason_.layer_);  // LLP / MPA / CRC error (RFC 5040 section 7.2)
  EXPECT_EQ(0, t.reason_.type_);
  EXPECT_EQ(2, t.reason_.code_);
  EXPECT_FALSE(t.has_ddp_header_);
  EXPECT_TRUE(peer.closed_within(5000));
  // The receive that took the corrupted Send completes with an error, and the consumer hears of it.
  NDK_RESULT_EX result{};
  ASSERT_TRUE(r.node.cq.next(&result));
  EXPECT_NE(STATUS_SUCCESS, result.Status);
  EXPECT_EQ((void*)0x1, result.RequestContext);
  EXPECT_TRUE(wait_until([&] { return events.count.load() == 1; }));
}

// What the peer wrote before it reset the connection is still received (the kernel hands the
// bytes out before the reset): the receive completes with the Send's bytes, then the QP flushes
// the other receive and the consumer hears of the abort. Once with the consumer polling only
// after the reset (the progress thread meets data and reset together), once polling at once
// (the consumer's own receive meets them).
void expect_last_words_before_the_reset(bool poll_at_once) {
  Responder r;
  ASSERT_NO_FATAL_FAILURE(r.start());
  Region rx(r.node.pd, 4096, kRemoteFlags);
  ASSERT_NT(STATUS_SUCCESS, post_receive(r.qp, rx, 0, 2048, (void*)0x1));
  ASSERT_NT(STATUS_SUCCESS, post_receive(r.qp, rx, 2048, 2048, (void*)0x2));
  RawSocket peer;
  DisconnectEvents events;
  Op accept;
  ASSERT_NO_FATAL_FAILURE(r.establish(peer, &events, accept));
  ASSERT_TRUE(peer.send_fpdu(send_header(1), bytes_of("last words"), true));
  linger reset{1, 0};  // close() sends a reset instead of a FIN
  ASSERT_EQ(0, setsockopt(peer.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset));
  peer.close();
  if (!poll_at_once) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  NDK_RESULT_EX result{};
  ASSERT_TRUE(r.node.cq.next(&result));
  EXPECT_NT(STATUS_SUCCESS, result.Status);
  EXPECT_EQ((void*)0x1, result.RequestContext);
  EXPECT_EQ(10u, result.BytesTransferred);
  EXPECT_EQ("last words", std::string(reinterpret_cast<const char*>(rx.data()), 10));
  ASSERT_TRUE(r.node.cq.next(&result));
  EXPECT_NE(STATUS_SUCCESS, result.Status);  // flushed by the abort
  EXPECT_EQ((void*)0x2, result.RequestContext);
  EXPECT_TRUE(wait_until([&] { return events.count.load() == 1; }));
}

TEST(TcpMpa, a_send_written_just_before_a_reset_is_still_received) {
  expect_last_words_before_the_reset(false);
  expect_last_words_before_the_reset(true);
}

// softndk as the initiator: a raw listener takes the Request.
struct Initiator {
  explicit Initiator(const std::string& uri = kUri) : node(uri) {}
  PdCqFixture node;
  NDK_QP* qp = nullptr;
  NDK_CONNECTOR* connector = nullptr;
  RawSocket listener;
  sockaddr_storage address{};
  Op connect;
  RawSocket peer;
  void start(ULONG inbound = 8, ULONG outbound = 8, const std::string& data = "") {
    ASSERT_TRUE(node.ok());
    qp = node.create_qp();
    connector = node.create_connector();
    listener = RawSocket::listen_on("127.0.0.1", &address);
    ASSERT_TRUE(listener.valid());
    start_connect(connect, connector, qp, node.local(), address, inbound, outbound,
                  data.empty() ? nullptr : data.data(), static_cast<ULONG>(data.size()));
    peer = listener.accept_one();
    ASSERT_TRUE(peer.valid());
  }
};

wire::MpaFrame reply_frame(const wire::MpaFrame& request, bool write_rtr, bool read_rtr,
                           uint16_t ird, uint16_t ord) {
  wire::MpaFrame f;
  f.kind_ = wire::MpaFrameKind::Reply;
  f.crc_ = request.crc_;
  f.enhanced_ = true;
  f.revision_ = 2;
  f.ird_ord_ = {true, false, write_rtr, read_rtr, ird, ord};
  return f;
}

TEST(TcpMpa, initiator_request_then_read_rtr_and_read_msn_two) {
  Initiator i;
  ASSERT_NO_FATAL_FAILURE(i.start(6, 5, "ping"));
  std::vector<std::byte> storage;
  auto request = i.peer.read_mpa(wire::MpaFrameKind::Request, &storage);
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(std::byte{0x50}, storage[16]);  // C|E (the MPA flags byte)
  EXPECT_EQ(2, request->revision_);
  EXPECT_TRUE(request->ird_ord_.peer_to_peer_);
  EXPECT_TRUE(request->ird_ord_.rtr_write_);
  EXPECT_TRUE(request->ird_ord_.rtr_read_);
  EXPECT_FALSE(request->ird_ord_.rtr_send_);
  EXPECT_EQ(6, request->ird_ord_.ird_);
  EXPECT_EQ(5, request->ird_ord_.ord_);
  EXPECT_EQ("ping", string_of(request->private_data_));
  // Choose the Read RTR, as Chelsio and Intel do.
  ASSERT_TRUE(i.peer.send_mpa(reply_frame(*request, false, true, 4, 4)));
  ASSERT_NT(STATUS_SUCCESS, i.connect.result());
  ULONG inbound = 0, outbound = 0;
  ASSERT_NT(STATUS_SUCCESS,
            i.connector->Dispatch->NdkGetConnectionData(i.connector, &inbound, &outbound, nullptr,
                                                        nullptr));
  EXPECT_EQ(4u, inbound);
  EXPECT_EQ(4u, outbound);
  EXPECT_FALSE(i.peer.wait_readable(100));  // nothing before NdkCompleteConnect
  Op complete;
  start_complete(complete, i.connector, true, nullptr);
  ASSERT_NT(STATUS_SUCCESS, complete.result());
  auto rtr = i.peer.read_fpdu();
  ASSERT_TRUE(rtr.has_value());
  EXPECT_TRUE(rtr->crc_matches);
  ASSERT_EQ(wire::RdmapOpcode::ReadRequest, rtr->header.ddp_.opcode_);
  EXPECT_EQ(1u, rtr->header.ddp_.qn_);
  EXPECT_EQ(1u, rtr->header.ddp_.msn_);
  EXPECT_EQ(0u, rtr->header.read_request_.read_bytes_);
  wire::UlpduHeader answer;
  answer.ddp_ = wire::make_tagged_header(wire::RdmapOpcode::ReadResponse, true,
                                         rtr->header.read_request_.sink_stag_,
                                         rtr->header.read_request_.sink_to_);
  ASSERT_TRUE(i.peer.send_fpdu(answer, {}, true));

  Region sink(i.node.pd, 4096, kRemoteFlags);
  NDK_SGE sge = sink.sge(0, 32);
  ASSERT_NT(STATUS_SUCCESS,
            i.qp->Dispatch->NdkRead(i.qp, (void*)0x9, &sge, 1, 0x1000, 0xBEEF, 0));
  auto read = i.peer.read_fpdu();
  ASSERT_TRUE(read.has_value());
  ASSERT_EQ(wire::RdmapOpcode::ReadRequest, read->header.ddp_.opcode_);
  EXPECT_EQ(2u, read->header.ddp_.msn_);  // the RTR consumed MSN 1 (RFC 6581 section 5)
  EXPECT_EQ(32u, read->header.read_request_.read_bytes_);
  EXPECT_EQ(0xBEEFu, read->header.read_request_.source_stag_);
  EXPECT_EQ(0x1000u, read->header.read_request_.source_to_);
  std::vector<std::byte> payload(32, std::byte{0x42});
  answer.ddp_ = wire::make_tagged_header(wire::RdmapOpcode::ReadResponse, true,
                                         read->header.read_request_.sink_stag_,
                                         read->header.read_request_.sink_to_);
  ASSERT_TRUE(i.peer.send_fpdu(answer, payload, true));
  NDK_RESULT_EX result{};
  ASSERT_TRUE(i.node.cq.next(&result));
  EXPECT_NT(STATUS_SUCCESS, result.Status);
  EXPECT_EQ(NdkOperationTypeRead, result.Type);
  EXPECT_EQ(0x42, sink.data()[31]);
}

void expect_setup_terminate(Initiator& i, uint8_t code) {
  auto terminate = i.peer.read_fpdu();
  ASSERT_TRUE(terminate.has_value());
  ASSERT_EQ(wire::RdmapOpcode::Terminate, terminate->header.ddp_.opcode_);
  EXPECT_EQ(2, terminate->header.terminate_.reason_.layer_);
  EXPECT_EQ(0, terminate->header.terminate_.reason_.type_);
  EXPECT_EQ(code, terminate->header.terminate_.reason_.code_);
  EXPECT_TRUE(i.peer.closed_within(5000));
  EXPECT_NE(STATUS_SUCCESS, i.connect.result());
}

TEST(TcpMpa, initiator_terminates_a_reply_without_crc) {
  Initiator i;
  ASSERT_NO_FATAL_FAILURE(i.start());
  std::vector<std::byte> storage;
  auto request = i.peer.read_mpa(wire::MpaFrameKind::Request, &storage);
  ASSERT_TRUE(request.has_value());
  auto reply = reply_frame(*request, true, false, 4, 4);
  reply.crc_ = false;
  ASSERT_TRUE(i.peer.send_mpa(reply));
  expect_setup_terminate(i, 0x04);  // invalid MPA Reply (RFC 6581 section 9)
}

TEST(TcpMpa, initiator_terminates_a_reply_whose_ord_exceeds_its_ird) {
  Initiator i;
  ASSERT_NO_FATAL_FAILURE(i.start(2, 2));
  std::vector<std::byte> storage;
  auto request = i.peer.read_mpa(wire::MpaFrameKind::Request, &storage);
  ASSERT_TRUE(request.has_value());
  ASSERT_TRUE(i.peer.send_mpa(reply_frame(*request, true, false, 2, 9)));
  expect_setup_terminate(i, 0x06);  // insufficient IRD resources (RFC 6581 section 9)
}

TEST(TcpMpa, initiator_terminates_a_reply_without_an_offered_rtr) {
  Initiator i;
  ASSERT_NO_FATAL_FAILURE(i.start());
  std::vector<std::byte> storage;
  auto request = i.peer.read_mpa(wire::MpaFrameKind::Request, &storage);
  ASSERT_TRUE(request.has_value());
  auto reply = reply_frame(*request, false, false, 4, 4);
  reply.ird_ord_.rtr_send_ = true;  // never offered by softndk
  ASSERT_TRUE(i.peer.send_mpa(reply));
  expect_setup_terminate(i, 0x07);  // no matching RTR option
}

TEST(TcpMpa, reject_reply_refuses_the_connect_with_its_private_data) {
  Initiator i;
  ASSERT_NO_FATAL_FAILURE(i.start());
  std::vector<std::byte> storage;
  auto request = i.peer.read_mpa(wire::MpaFrameKind::Request, &storage);
  ASSERT_TRUE(request.has_value());
  auto reply = reply_frame(*request, false, false, 0, 0);
  reply.reject_ = true;
  const std::string busy = "busy";
  reply.private_data_ = bytes_of(busy);
  ASSERT_TRUE(i.peer.send_mpa(reply));
  i.peer.close();
  EXPECT_NT(STATUS_CONNECTION_REFUSED, i.connect.result());
  char data[252];
  ULONG length = sizeof data;
  ASSERT_NT(STATUS_SUCCESS, i.connector->Dispatch->NdkGetConnectionData(i.connector, nullptr,
                                                                        nullptr, data, &length));
  EXPECT_EQ(std::string("busy"), std::string(data, 4));
}

// Connects through the raw listener with the Write RTR and returns once the RTR arrived.
void establish_write_rtr(Initiator& i, bool crc) {
  std::vector<std::byte> storage;
  auto request = i.peer.read_mpa(wire::MpaFrameKind::Request, &storage);
  ASSERT_TRUE(request.has_value());
  ASSERT_EQ(crc, request->crc_);
  auto reply = reply_frame(*request, true, false, 4, 4);
  reply.crc_ = crc;
  ASSERT_TRUE(i.peer.send_mpa(reply));
  ASSERT_NT(STATUS_SUCCESS, i.connect.result());
  Op complete;
  start_complete(complete, i.connector, true, nullptr);
  ASSERT_NT(STATUS_SUCCESS, complete.result());
  auto rtr = i.peer.read_fpdu();
  ASSERT_TRUE(rtr.has_value());
  ASSERT_EQ(wire::RdmapOpcode::Write, rtr->header.ddp_.opcode_);
  EXPECT_TRUE(rtr->payload.empty());
  if (crc) {
    EXPECT_TRUE(rtr->crc_matches);
  } else {
    EXPECT_EQ(0u, rtr->crc_field);  // the field is present, zero (no CRC negotiated)
  }
}

// Sends 20000 bytes from an initiator opened with `uri` and checks, at the raw peer, that every
// FPDU's ULPDU fits the MULPDU of `emss` and that the message arrives whole and in order.
void expect_fpdus_of_at_most_mulpdu(const char* uri, size_t emss) {
  Initiator i(uri);
  ASSERT_NO_FATAL_FAILURE(i.start());
  ASSERT_NO_FATAL_FAILURE(establish_write_rtr(i, true));
  const size_t total = 20000;
  Region tx(i.node.pd, total, kRemoteFlags);
  for (size_t k = 0; k < total; ++k) tx.data()[k] = static_cast<unsigned char>(k * 7);
  ASSERT_NT(STATUS_SUCCESS, post_send(i.qp, tx, 0, total, (void*)0x5));
  size_t received = 0;
  int fpdus = 0;
  while (received < total) {
    auto f = i.peer.read_fpdu();
    ASSERT_TRUE(f.has_value());
    ++fpdus;
    EXPECT_TRUE(f->crc_matches);
    // MULPDU = EMSS - 6 - (EMSS mod 4), EMSS <= the clamped MSS (RFC 5044 section 5.2).
    EXPECT_LE(f->ulpdu_bytes, wire::mulpdu_for_emss(emss));
    EXPECT_EQ(wire::RdmapOpcode::Send, f->header.ddp_.opcode_);
    EXPECT_EQ(1u, f->header.ddp_.msn_);
    EXPECT_EQ(received, f->header.ddp_.mo_);  // contiguous MO
    EXPECT_EQ(received + f->payload.size() == total, f->header.ddp_.last_);
    for (size_t k = 0; k < f->payload.size(); ++k)
      ASSERT_EQ(static_cast<std::byte>((received + k) * 7), f->payload[k]);
    received += f->payload.size();
  }
  EXPECT_GE(fpdus, static_cast<int>(total / emss));
  NDK_RESULT_EX result{};
  ASSERT_TRUE(i.node.cq.next(&result));
  EXPECT_NT(STATUS_SUCCESS, result.Status);
}

TEST(TcpMpa, messages_are_cut_into_fpdus_of_at_most_mulpdu) {
  expect_fpdus_of_at_most_mulpdu("tcp://127.0.0.1?mss=600", 600);
}

// max_fpdu= caps the FPDU size below the connection's MSS (loopback's is about 64 KiB);
// fpdu_eor=1 (MSG_EOR after each FPDU) changes segmenting only, never the bytes.
TEST(TcpMpa, max_fpdu_caps_fpdus_below_the_mss_with_and_without_eor) {
  expect_fpdus_of_at_most_mulpdu("tcp://127.0.0.1?max_fpdu=600", 600);
  expect_fpdus_of_at_most_mulpdu("tcp://127.0.0.1?max_fpdu=1460&fpdu_eor=1", 1460);
}

TEST(TcpMpa, crc_off_policy_requests_no_crc_and_sends_zero_crc_fields) {
  Initiator i("tcp://127.0.0.1?crc=0");
  ASSERT_NO_FATAL_FAILURE(i.start());
  ASSERT_NO_FATAL_FAILURE(establish_write_rtr(i, false));
  Region tx(i.node.pd, 4096, kRemoteFlags, 0x11);
  ASSERT_NT(STATUS_SUCCESS, post_send(i.qp, tx, 0, 50, (void*)0x6));
  auto f = i.peer.read_fpdu();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(0u, f->crc_field);
  EXPECT_EQ(50u, f->payload.size());
  // Without CRC a corrupted-CRC FPDU from the peer is accepted (the field is not checked).
  wire::UlpduHeader w;
  w.ddp_ = wire::make_tagged_header(wire::RdmapOpcode::Write, true, 7, 0);
  ASSERT_TRUE(i.peer.send_fpdu(w, {}, false, /*corrupt_crc=*/true));
  EXPECT_FALSE(i.peer.closed_within(200));
}

// Two nodes (a listening pair) with a QP each; connect() establishes.
// Regions of a test are declared after it (closed before the nodes).
struct TwoNodes : ConnectedPairFixture {
  explicit TwoNodes(const char* uri) : ConnectedPairFixture(uri, uri) {}
  TwoNodes(const char* active_uri, const char* passive_uri)
      : ConnectedPairFixture(active_uri, passive_uri) {}
  void start() {  // fatal failures inside: call through ASSERT_NO_FATAL_FAILURE
    ASSERT_NO_FATAL_FAILURE(listen());
    aqp = active.create_qp();
    pqp = passive.create_qp();
  }
  void connect() {
    ASSERT_NO_FATAL_FAILURE(
        establish(active, aqp, passive, pqp, incoming, destination, HandshakeSpec{}, &e));
  }
  NDK_QP* aqp = nullptr;
  NDK_QP* pqp = nullptr;
  Established e;
};

TEST(TcpMpa, rev1_initiator_without_rtr_holds_the_responder_until_its_first_fpdu) {
  // MPA Rev 1 (RFC 5044): no IRD/ORD word and no RTR. The responder's accept completes after
  // the Reply, but its FPDUs wait for the initiator's first one (RFC 5044 section 7.1.3).
  TwoNodes n("tcp://127.0.0.1?mpa_rev=1", kUri);
  ASSERT_NO_FATAL_FAILURE(n.start());
  PdCqFixture &a = n.active, &p = n.passive;
  NDK_QP *aqp = n.aqp, *pqp = n.pqp;
  Region ar(a.pd, 4096, kRemoteFlags), pr(p.pd, 4096, kRemoteFlags, 0x21);
  ASSERT_NT(STATUS_SUCCESS, post_receive(aqp, ar, 0, 1024, (void*)1));
  ASSERT_NT(STATUS_SUCCESS, post_receive(pqp, pr, 2048, 1024, (void*)2));
  ASSERT_NO_FATAL_FAILURE(n.connect());
  // The responder sends first: held (completes locally or not, but nothing arrives).
  ASSERT_NT(STATUS_SUCCESS, post_send(pqp, pr, 0, 10, (void*)3));
  NDK_RESULT_EX r{};
  EXPECT_FALSE(a.cq.next(&r, std::chrono::milliseconds(150))) << "responder sent before the initiator";
  ASSERT_NT(STATUS_SUCCESS, post_send(aqp, ar, 2048, 20, (void*)4));
  std::vector<NDK_RESULT_EX> at_a, at_p;
  ASSERT_TRUE(a.cq.collect(&at_a, 2));
  ASSERT_TRUE(p.cq.collect(&at_p, 2));
  for (const auto& c : at_a) EXPECT_NT(STATUS_SUCCESS, c.Status);
  for (const auto& c : at_p) EXPECT_NT(STATUS_SUCCESS, c.Status);
  EXPECT_EQ(0x21, ar.data()[0]);
}

// An adapter opened on the wildcard address has every address of the host: it listens on
// 0.0.0.0 and a client reaches it through 127.0.0.1; data moves.
TEST(TcpMpa, a_wildcard_adapter_listens_on_every_address) {
  TwoNodes n(kUri, "tcp://0.0.0.0");
  ASSERT_NO_FATAL_FAILURE(n.start());
  EXPECT_EQ("0.0.0.0", ndkxx::ip_of(n.destination));
  const uint16_t port = ndkxx::port_of(n.destination);
  ASSERT_NE(0, port);
  n.destination = ndkxx::ip_address("127.0.0.1", port);
  PdCqFixture &a = n.active, &p = n.passive;
  Region ar(a.pd, 4096, kRemoteFlags, 0x31), pr(p.pd, 4096, kRemoteFlags);
  ASSERT_NT(STATUS_SUCCESS, post_receive(n.pqp, pr, 0, 1024, (void*)1));
  ASSERT_NO_FATAL_FAILURE(n.connect());
  ASSERT_NT(STATUS_SUCCESS, post_send(n.aqp, ar, 0, 100, (void*)2));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(p.cq.next(&r));
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(100u, r.BytesTransferred);
  EXPECT_EQ(0x31, pr.data()[0]);
  ASSERT_TRUE(a.cq.next(&r));
  EXPECT_NT(STATUS_SUCCESS, r.Status);
}

TEST(TcpMpa, polling_mode_moves_data) {
  TwoNodes n("tcp://127.0.0.1?poll=1");
  ASSERT_NO_FATAL_FAILURE(n.start());
  PdCqFixture &a = n.active, &p = n.passive;
  NDK_QP* aqp = n.aqp;
  ASSERT_NO_FATAL_FAILURE(n.connect());
  Region ar(a.pd, 1 << 20, kRemoteFlags, 0x44), pr(p.pd, 1 << 20, kRemoteFlags);
  for (int round = 0; round < 20; ++round) {
    NDK_SGE sge = ar.sge(0, 1 << 20);
    ASSERT_NT(STATUS_SUCCESS,
              aqp->Dispatch->NdkWrite(aqp, (void*)5, &sge, 1, pr.address(), pr.remote_token(), 0));
    NDK_RESULT_EX r{};
    ASSERT_TRUE(a.cq.next(&r));
    ASSERT_NT(STATUS_SUCCESS, r.Status);
  }
  NDK_SGE back = ar.sge(0, 1 << 20);
  std::memset(ar.data(), 0, 1 << 20);
  ASSERT_NT(STATUS_SUCCESS,
            aqp->Dispatch->NdkRead(aqp, (void*)6, &back, 1, pr.address(), pr.remote_token(), 0));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(a.cq.next(&r));
  ASSERT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(0x44, ar.data()[(1 << 20) - 1]);
}

// consumer_rx=1 (the default) lets a consumer polling an empty CQ receive its connections'
// FPDUs on its own thread; consumer_rx=0 leaves every receive to the progress thread. Both must
// move the same data with the same completions; the first side polls, the other waits.
TEST(TcpMpa, consumer_receive_on_and_off_move_the_same_data) {
  for (const char* uri : {"tcp://127.0.0.1?consumer_rx=0", "tcp://127.0.0.1?consumer_rx=1"}) {
    SCOPED_TRACE(uri);
    TwoNodes n(uri);
    ASSERT_NO_FATAL_FAILURE(n.start());
    PdCqFixture &a = n.active, &p = n.passive;
    NDK_QP *aqp = n.aqp, *pqp = n.pqp;
    Region ar(a.pd, kRegionBytes, kRemoteFlags), pr(p.pd, kRegionBytes, kRemoteFlags);
    ASSERT_NO_FATAL_FAILURE(n.connect());
    // Ping-pong of sends of growing sizes, every payload distinct: each side's receive lands
    // whole, in order, with its size.
    for (uint32_t round = 0; round < 64; ++round) {
      const ULONG bytes = 1 + round * 257;
      ASSERT_NT(STATUS_SUCCESS, post_receive(pqp, pr, 0, kRegionBytes / 2, (void*)1));
      for (ULONG i = 0; i < bytes; ++i)
        ar.data()[kRegionBytes / 2 + i] = static_cast<unsigned char>(round * 7 + i);
      ASSERT_NT(STATUS_SUCCESS, post_send(aqp, ar, kRegionBytes / 2, bytes, (void*)2));
      NDK_RESULT_EX r{};
      ASSERT_TRUE(a.cq.next(&r));
      ASSERT_NT(STATUS_SUCCESS, r.Status);
      EXPECT_EQ((void*)2, r.RequestContext);
      ASSERT_TRUE(p.cq.next(&r));
      ASSERT_NT(STATUS_SUCCESS, r.Status);
      EXPECT_EQ((void*)1, r.RequestContext);
      ASSERT_EQ(bytes, r.BytesTransferred);
      ASSERT_EQ(0, std::memcmp(pr.data(), ar.data() + kRegionBytes / 2, bytes))
          << "round " << round;
    }
    // A write then a read back of what it wrote (the read response follows the write).
    std::memset(ar.data(), 0x5A, 4096);
    NDK_SGE out = ar.sge(0, 4096);
    ASSERT_NT(STATUS_SUCCESS, aqp->Dispatch->NdkWrite(aqp, (void*)3, &out, 1, pr.address(8192),
                                                      pr.remote_token(), 0));
    NDK_SGE back = ar.sge(16384, 4096);
    ASSERT_NT(STATUS_SUCCESS, aqp->Dispatch->NdkRead(aqp, (void*)4, &back, 1, pr.address(8192),
                                                     pr.remote_token(), 0));
    std::vector<NDK_RESULT_EX> done;
    ASSERT_TRUE(a.cq.collect(&done, 2));
    for (const auto& c : done) EXPECT_NT(STATUS_SUCCESS, c.Status);
    EXPECT_EQ(0, std::memcmp(ar.data(), ar.data() + 16384, 4096));
  }
}

// A queue pair closes while another thread keeps polling the CQ it completes into (allowed:
// different objects). With consumer_rx the poll may be inside the QP's link at that moment;
// the close must wait for it, and every receive completes exactly once (success or flush).
TEST(TcpMpa, a_queue_pair_closes_while_another_thread_polls_its_cq) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    SCOPED_TRACE(attempt);
    TwoNodes n(kUri);
    ASSERT_NO_FATAL_FAILURE(n.start());
    PdCqFixture &a = n.active, &p = n.passive;
    NDK_QP *aqp = n.aqp, *pqp = n.pqp;
    Established& e = n.e;
    Region ar(a.pd, kRegionBytes, kRemoteFlags), pr(p.pd, kRegionBytes, kRemoteFlags);
    constexpr int kSends = 32, kSpare = 8;
    for (int i = 0; i < kSends + kSpare; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_receive(pqp, pr, 0, 1024, (void*)(uintptr_t)(100 + i)));
    ASSERT_NO_FATAL_FAILURE(n.connect());
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0}, flushed{0}, other{0};
    std::vector<int> seen(kSends + kSpare, 0);
    std::thread poller([&] {
      NDK_RESULT_EX r[8];
      while (!stop.load()) {
        ULONG got = p.cq.poll(r, 8);
        for (ULONG i = 0; i < got; ++i) {
          uintptr_t context = reinterpret_cast<uintptr_t>(r[i].RequestContext);
          if (context >= 100 && context < 100 + kSends + kSpare) ++seen[context - 100];
          if (r[i].Status == STATUS_SUCCESS) {
            ++ok;
          } else if (r[i].Status == STATUS_CANCELLED) {
            ++flushed;
          } else {
            ++other;
          }
        }
      }
    });
    for (int i = 0; i < kSends; ++i)
      ASSERT_NT(STATUS_SUCCESS, post_send(aqp, ar, 0, 64, (void*)(uintptr_t)(200 + i)));
    std::vector<NDK_RESULT_EX> sent;
    ASSERT_TRUE(a.cq.collect(&sent, kSends));
    // Some receives may still be on their way: the close races with the poller's receives.
    p.close(e.passive);
    p.close(pqp);
    ASSERT_TRUE(wait_until([&] { return ok.load() + flushed.load() + other.load() >= kSends + kSpare; }));
    stop = true;
    poller.join();
    EXPECT_EQ(0, other.load());
    for (int i = 0; i < kSends + kSpare; ++i) EXPECT_EQ(1, seen[i]) << "receive " << i;
    a.close(e.active);
  }
}

// A consumer that polled hard owns its socket's receive (the progress thread stops watching
// it). When it stops polling without arming, the progress thread must take over again: the
// peer's RDMA Read is still answered and its send still lands. When it arms its CQ instead,
// the notification must come.
TEST(TcpMpa, the_progress_thread_takes_over_when_the_consumer_stops_polling) {
  TwoNodes n(kUri);
  ASSERT_NO_FATAL_FAILURE(n.start());
  PdCqFixture &a = n.active, &p = n.passive;
  NDK_QP *aqp = n.aqp, *pqp = n.pqp;
  Region ar(a.pd, kRegionBytes, kRemoteFlags), pr(p.pd, kRegionBytes, kRemoteFlags, 0x3C);
  ASSERT_NO_FATAL_FAILURE(n.connect());
  auto poll_hard = [&](std::chrono::milliseconds how_long) {
    NDK_RESULT_EX r{};
    auto end = std::chrono::steady_clock::now() + how_long;
    ULONG got = 0;
    while (std::chrono::steady_clock::now() < end) got += p.cq.poll(&r, 1);
    EXPECT_EQ(0u, got) << "nothing was expected on p's CQ yet";
  };
  // 1. p polls hard (takes the receive), then stops without arming: a's Read of p's memory
  //    needs p's side to receive the Read Request and answer it.
  poll_hard(std::chrono::milliseconds(30));
  NDK_SGE sink = ar.sge(0, 4096);
  ASSERT_NT(STATUS_SUCCESS,
            aqp->Dispatch->NdkRead(aqp, (void*)1, &sink, 1, pr.address(0), pr.remote_token(), 0));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(a.cq.next(&r)) << "the Read was not answered once p stopped polling";
  ASSERT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(0x3C, ar.data()[4095]);
  // 2. p polls hard again, then arms its CQ and waits: a's send must produce the notification.
  ASSERT_NT(STATUS_SUCCESS, post_receive(pqp, pr, 8192, 1024, (void*)2));
  poll_hard(std::chrono::milliseconds(30));
  uint64_t before = p.cq.notification_count();
  p.cq.arm(NDK_CQ_NOTIFY_ANY);
  ASSERT_NT(STATUS_SUCCESS, post_send(aqp, ar, 0, 100, (void*)3));
  EXPECT_TRUE(wait_until([&] { return p.cq.notification_count() > before; }))
      << "no notification for a receive that arrived after the arm";
  ASSERT_TRUE(p.cq.next(&r));
  ASSERT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(100u, r.BytesTransferred);
}

TEST(TcpMpa, uri_options_are_validated) {
  NDK_ADAPTER* a = nullptr;
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter("tcp://127.0.0.1?crc=2", &a));
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter("tcp://127.0.0.1?mpa_rev=3", &a));
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter("tcp://127.0.0.1?mss=10", &a));
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter("tcp://127.0.0.1?max_fpdu=10", &a));
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter("tcp://127.0.0.1?fpdu_eor=2", &a));
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter("tcp://127.0.0.1?consumer_rx=2", &a));
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter("tcp://0.0.0.0:5", &a));
  EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter("tcp://nonsense", &a));
  // An address of another host (TEST-NET-1, RFC 5737) is refused at open.
  EXPECT_NT(STATUS_INVALID_ADDRESS, SoftNdkOpenAdapter("tcp://192.0.2.1", &a));
  ASSERT_NT(STATUS_SUCCESS, SoftNdkOpenAdapter("tcp://[::1]?poll=1&crc=0&mpa_rev=1", &a));
  NDK_ADAPTER_INFO info{};
  ULONG size = sizeof info;
  ASSERT_NT(STATUS_SUCCESS, a->Dispatch->NdkQueryAdapterInfo(a, &info, &size));
  EXPECT_EQ(252u, info.MaxCallerData);
  EXPECT_EQ(252u, info.MaxCalleeData);
  EXPECT_EQ(NdkiWarp, info.RdmaTechnology);
  SoftNdkCloseAdapter(a);
}

}  // namespace
