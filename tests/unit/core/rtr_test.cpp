// The ready-to-receive message of MPA peer-to-peer mode (RFC 6581 §5) in the
// core: the active side sends it as its very first segment, the passive side absorbs it without
// reporting it to the consumer and without counting it as traffic; Send and Read RTRs consume
// MSN 1 of their queue, so the first real message of that queue carries MSN 2; a Read RTR is
// answered with a zero-length Read Response (the responder's first segment) and holds a read
// slot until then.
#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace softndk::test {
namespace {

using transport::RxVerdict;
using wire::RdmapOpcode;
using wire::RdmapReadRequest;
using wire::Rtr;

constexpr ULONG kLocalWrite = NDK_MR_FLAG_ALLOW_LOCAL_WRITE;
constexpr ULONG kRemoteRead = NDK_MR_FLAG_ALLOW_REMOTE_READ;
constexpr ULONG kRemoteWrite = NDK_MR_FLAG_ALLOW_REMOTE_WRITE;
constexpr ULONG kReadSink = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;

ConnectOptions with_rtr(Rtr rtr) {
  ConnectOptions s;
  s.rtr = rtr;
  return s;
}

// A zero-length segment exactly as RFC 6581 §5 describes each RTR (sizes set).
wire::UlpduHeader peer_rtr(Rtr rtr) {
  return wire::make_rtr(rtr, 1);
}

// ---------------------------------------------------------------------------------------------
// Passive side: absorbing the RTR

TEST(RtrPassive, zero_length_write_rtr_is_absorbed_without_completion_or_counting) {
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ASSERT_TRUE(rig.connect_passive(with_rtr(Rtr::Write)));
  auto receives = rig.region(4096, kLocalWrite);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  const SOFTNDK_ADAPTER_COUNTERS before = rig.counters();
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(peer_rtr(Rtr::Write)));
  EXPECT_TRUE(rig.no_completion_for());
  SOFTNDK_ADAPTER_COUNTERS after = rig.counters();
  EXPECT_EQ(before.RdmaInFrames, after.RdmaInFrames) << "the RTR is not consumer traffic";
  EXPECT_EQ(before.RdmaInOctets, after.RdmaInOctets);
  // The consumer's first Send is MSN 1 (a Write RTR consumes no MSN) and is counted.
  Bytes payload = pattern(8, 1);
  EXPECT_EQ(RxVerdict::Place, rig.link().inject(send_segment(1, 0, true), payload));
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_SUCCESS}});
  after = rig.counters();
  EXPECT_EQ(before.RdmaInFrames + 1, after.RdmaInFrames);
  EXPECT_EQ(before.RdmaInOctets + 8, after.RdmaInOctets);
  EXPECT_TRUE(rig.link().terminates().empty());
  EXPECT_EQ(0u, rig.link().sent_count()) << "a Write RTR is not answered";
}

TEST(RtrPassive, zero_length_send_rtr_consumes_msn_1_without_a_receive) {
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ASSERT_TRUE(rig.connect_passive(with_rtr(Rtr::Send)));
  auto receives = rig.region(4096, kLocalWrite);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  const SOFTNDK_ADAPTER_COUNTERS before = rig.counters();
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(peer_rtr(Rtr::Send)));
  EXPECT_TRUE(rig.no_completion_for()) << "RFC 6581 §5: absorbed, no receive used";
  EXPECT_EQ(before.RdmaInFrames, rig.counters().RdmaInFrames);
  // The first real Send carries MSN 2 and lands in the receive the RTR did not take.
  Bytes payload = pattern(8, 2);
  EXPECT_EQ(RxVerdict::Place, rig.link().inject(send_segment(2, 0, true), payload));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(rig.next_completion(&r));
  EXPECT_EQ(ctx(1), r.RequestContext);
  EXPECT_STATUS(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(8u, r.BytesTransferred);
  EXPECT_EQ(payload, Bytes(receives->buffer.data(), receives->buffer.data() + 8));
  EXPECT_TRUE(rig.link().terminates().empty());
}

TEST(RtrPassive, send_reusing_msn_1_after_a_send_rtr_is_out_of_range) {
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ASSERT_TRUE(rig.connect_passive(with_rtr(Rtr::Send)));
  auto receives = rig.region(4096, kLocalWrite);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(peer_rtr(Rtr::Send)));
  Bytes payload = pattern(8, 3);
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(send_segment(1, 0, true), payload));
  ASSERT_TRUE(rig.link().wait_terminate());
  expect_terminate(rig.link().terminates()[0], {kLayerDdp, 2, 0x03},
                   untagged_ddp_bytes(true, kOpSend, 0, 0, 1, 0), 18 + 8);
}

TEST(RtrPassive, read_rtr_is_answered_with_a_zero_length_read_response_once_connected) {
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ConnectOptions setup = with_rtr(Rtr::Read);
  setup.establish = false;
  ASSERT_TRUE(rig.connect_passive(setup));
  wire::UlpduHeader rtr = peer_rtr(Rtr::Read);
  rtr.read_request_.sink_stag_ = 0x77;  // arbitrary (RFC 6581 §5): echoed, never validated
  rtr.read_request_.sink_to_ = 0x1234;
  rtr.read_request_.source_stag_ = 0xdead0001;
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(rtr));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(0u, rig.link().sent_count()) << "nothing is sent before the connection is ready";
  ASSERT_TRUE(rig.establish());
  ASSERT_TRUE(rig.link().wait_sent(1));
  const SentSegment response = rig.link().sent_at(0);
  EXPECT_EQ(RdmapOpcode::ReadResponse, response.header.ddp_.opcode_);
  EXPECT_TRUE(response.header.ddp_.tagged_);
  EXPECT_TRUE(response.header.ddp_.last_);
  EXPECT_EQ(0x77u, response.header.ddp_.stag_) << "STag = the request's Data Sink STag";
  EXPECT_EQ(0x1234u, response.header.ddp_.to_) << "TO = the request's Data Sink TO";
  EXPECT_EQ(0u, response.header.payload_bytes_);
  EXPECT_TRUE(response.payload.empty());
  EXPECT_TRUE(rig.no_completion_for());
  const SOFTNDK_ADAPTER_COUNTERS counters = rig.counters();
  EXPECT_EQ(0u, counters.RdmaOutFrames) << "the RTR's answer is not consumer traffic";
  EXPECT_EQ(0u, counters.RdmaInFrames);
  EXPECT_TRUE(rig.link().terminates().empty());
}

TEST(RtrPassive, the_peers_first_real_read_request_after_a_read_rtr_carries_msn_2) {
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ASSERT_TRUE(rig.connect_passive(with_rtr(Rtr::Read)));
  auto source = rig.region(4096, kRemoteRead, nullptr, std::byte{0x5a});
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(peer_rtr(Rtr::Read)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  RdmapReadRequest rr{0x99, 0x40, 32, source->token(), source->address(8)};
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(read_request(2, rr)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  const SentSegment response = rig.link().sent_at(1);
  EXPECT_EQ(RdmapOpcode::ReadResponse, response.header.ddp_.opcode_);
  EXPECT_EQ(0x99u, response.header.ddp_.stag_);
  EXPECT_EQ(0x40u, response.header.ddp_.to_);
  EXPECT_TRUE(response.header.ddp_.last_);
  EXPECT_EQ(Bytes(32, std::byte{0x5a}), response.payload);
  EXPECT_TRUE(rig.link().terminates().empty());
}

TEST(RtrPassive, read_request_reusing_msn_1_after_a_read_rtr_is_out_of_range) {
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ASSERT_TRUE(rig.connect_passive(with_rtr(Rtr::Read)));
  auto source = rig.region(4096, kRemoteRead);
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(peer_rtr(Rtr::Read)));
  RdmapReadRequest rr{0x99, 0, 8, source->token(), source->address()};
  // MSN 1 is the RTR's: a Read Request with MSN 1 again fails row 9.
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(read_request(1, rr)));
  ASSERT_TRUE(rig.link().wait_terminate());
  expect_terminate(rig.link().terminates()[0], {kLayerDdp, 2, 0x03},
                   untagged_ddp_bytes(true, kOpReadRequest, 0, 1, 1, 0), 18 + 28);
}

TEST(RtrPassive, a_first_segment_that_is_not_the_rtr_is_processed_normally) {
  // [policy] any valid first FPDU ends the wait and is processed normally.
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ASSERT_TRUE(rig.connect_passive(with_rtr(Rtr::Write)));
  auto receives = rig.region(4096, kLocalWrite);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  Bytes payload = pattern(8, 4);
  EXPECT_EQ(RxVerdict::Place, rig.link().inject(send_segment(1, 0, true), payload));
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_SUCCESS}});
  EXPECT_EQ(1u, rig.counters().RdmaInFrames);
}

// ---------------------------------------------------------------------------------------------
// Active side: sending the RTR first

TEST(RtrActive, write_rtr_is_the_first_segment_and_consumes_no_msn) {
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ASSERT_TRUE(rig.connect_active(with_rtr(Rtr::Write)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  const SentSegment rtr = rig.link().sent_at(0);
  EXPECT_EQ(RdmapOpcode::Write, rtr.header.ddp_.opcode_);
  EXPECT_TRUE(rtr.header.ddp_.tagged_);
  EXPECT_TRUE(rtr.header.ddp_.last_);
  EXPECT_EQ(1u, rtr.header.ddp_.stag_) << "[policy] STag 1, like siw";
  EXPECT_EQ(0u, rtr.header.ddp_.to_);
  EXPECT_EQ(0u, rtr.header.payload_bytes_);
  EXPECT_EQ(14u, rtr.header.ulpdu_bytes_);
  auto data = rig.region(4096, kLocalWrite, nullptr, std::byte{1});
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 8, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  const SentSegment send = rig.link().sent_at(1);
  EXPECT_EQ(RdmapOpcode::Send, send.header.ddp_.opcode_);
  EXPECT_EQ(1u, send.header.ddp_.msn_);
  const SOFTNDK_ADAPTER_COUNTERS counters = rig.counters();
  EXPECT_EQ(1u, counters.RdmaOutFrames) << "the RTR is not consumer traffic";
  EXPECT_EQ(8u, counters.RdmaOutOctets);
}

TEST(RtrActive, send_rtr_is_msn_1_and_the_first_real_send_is_msn_2) {
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ASSERT_TRUE(rig.connect_active(with_rtr(Rtr::Send)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  const SentSegment rtr = rig.link().sent_at(0);
  EXPECT_EQ(RdmapOpcode::Send, rtr.header.ddp_.opcode_);
  EXPECT_FALSE(rtr.header.ddp_.tagged_);
  EXPECT_EQ(0u, rtr.header.ddp_.qn_);
  EXPECT_EQ(1u, rtr.header.ddp_.msn_);
  EXPECT_EQ(0u, rtr.header.ddp_.mo_);
  EXPECT_TRUE(rtr.header.ddp_.last_);
  EXPECT_EQ(0u, rtr.header.payload_bytes_);
  auto data = rig.region(4096, kLocalWrite, nullptr, std::byte{1});
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 8, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  EXPECT_EQ(2u, rig.link().sent_at(1).header.ddp_.msn_);
  expect_completions(rig, {{ctx(1), NdkOperationTypeSend, STATUS_SUCCESS}});
}

TEST(RtrActive, read_rtr_is_read_request_msn_1_and_its_response_is_absorbed) {
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ASSERT_TRUE(rig.connect_active(with_rtr(Rtr::Read)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  const SentSegment rtr = rig.link().sent_at(0);
  EXPECT_EQ(RdmapOpcode::ReadRequest, rtr.header.ddp_.opcode_);
  EXPECT_EQ(1u, rtr.header.ddp_.qn_);
  EXPECT_EQ(1u, rtr.header.ddp_.msn_);
  EXPECT_EQ(0u, rtr.header.ddp_.mo_);
  EXPECT_TRUE(rtr.header.ddp_.last_);
  EXPECT_EQ(0u, rtr.header.read_request_.read_bytes_);
  EXPECT_EQ(46u, rtr.header.ulpdu_bytes_);
  // Our first real read is MSN 2 of queue 1.
  auto sink = rig.region(4096, kReadSink);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 0, 16, 0x9000, 0x55, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  const SentSegment read = rig.link().sent_at(1);
  EXPECT_EQ(RdmapOpcode::ReadRequest, read.header.ddp_.opcode_);
  EXPECT_EQ(2u, read.header.ddp_.msn_);
  EXPECT_EQ(16u, read.header.read_request_.read_bytes_);
  EXPECT_EQ(0x55u, read.header.read_request_.source_stag_);
  EXPECT_EQ(0x9000u, read.header.read_request_.source_to_);
  // The peer answers the RTR first (zero length, to the RTR's sink): absorbed, nothing reported.
  EXPECT_EQ(RxVerdict::Discard,
            rig.link().inject(read_response_segment(rtr.header.read_request_.sink_stag_,
                                                    rtr.header.read_request_.sink_to_)));
  EXPECT_TRUE(rig.no_completion_for());
  EXPECT_EQ(0u, rig.counters().RdmaInFrames);
  // Then the real response completes the real read.
  Bytes data = pattern(16, 5);
  EXPECT_EQ(RxVerdict::Place,
            rig.link().inject(read_response_segment(read.header.read_request_.sink_stag_,
                                                    read.header.read_request_.sink_to_),
                              data));
  expect_completions(rig, {{ctx(1), NdkOperationTypeRead, STATUS_SUCCESS}});
  EXPECT_EQ(data, Bytes(sink->buffer.data(), sink->buffer.data() + 16));
  EXPECT_TRUE(rig.link().terminates().empty());
}

TEST(RtrActive, read_rtr_holds_a_read_slot_until_it_is_answered) {
  // RFC 6581 §5: the Read RTR is a Read Request like any other and holds an ORD slot until answered; with
  // ORD 1 our first read may leave only after the zero-length Read Response arrived (a peer
  // with IRD 1 would otherwise see two reads outstanding: table 4.1 row 21).
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ConnectOptions setup = with_rtr(Rtr::Read);
  setup.ord = 1;
  setup.peer_ird = 1;
  ASSERT_TRUE(rig.connect_active(setup));
  ASSERT_TRUE(rig.link().wait_sent(1));
  const SentSegment rtr = rig.link().sent_at(0);
  auto sink = rig.region(4096, kReadSink);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 0, 16, 0x9000, 0x55, ctx(1)));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(1u, rig.link().sent_count()) << "the read waits for the RTR's answer";
  EXPECT_EQ(RxVerdict::Discard,
            rig.link().inject(read_response_segment(rtr.header.read_request_.sink_stag_,
                                                    rtr.header.read_request_.sink_to_)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  EXPECT_EQ(2u, rig.link().sent_at(1).header.ddp_.msn_);
}

TEST(RtrActive, after_our_read_rtr_the_peers_first_read_request_is_msn_1) {
  // The RTR consumed MSN 1 of *our* queue 1 only; the peer's Read Requests start at 1.
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ASSERT_TRUE(rig.connect_active(with_rtr(Rtr::Read)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  auto source = rig.region(4096, kRemoteRead | kRemoteWrite, nullptr, std::byte{0x3c});
  RdmapReadRequest rr{0x42, 0, 8, source->token(), source->address()};
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(read_request(1, rr)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  EXPECT_EQ(RdmapOpcode::ReadResponse, rig.link().sent_at(1).header.ddp_.opcode_);
  EXPECT_EQ(Bytes(8, std::byte{0x3c}), rig.link().sent_at(1).payload);
  EXPECT_TRUE(rig.link().terminates().empty());
}

}  // namespace
}  // namespace softndk::test
