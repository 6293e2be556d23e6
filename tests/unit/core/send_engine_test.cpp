// The send engine of a real queue pair (core/datapath/send_engine.h) as the link sees it: MSNs
// per untagged queue (RFC 5041 §5.3), segmentation at the link's segment size with
// contiguous MO/TO and L on the last segment only (RFC 5041 §5), the Send opcode chosen from
// the request (RFC 5040 §4.2, §6.5-6.7), inline data copied at post, Read Fence and the outbound
// read limit (RFC 5040 §5.2), and a Blocked link resuming the same message.
#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "engine_test_util.h"

namespace softndk::test {
namespace {

using transport::RxVerdict;
using transport::TxResult;
using wire::RdmapOpcode;
using wire::RdmapReadRequest;

constexpr ULONG kLocalWrite = NDK_MR_FLAG_ALLOW_LOCAL_WRITE;
constexpr ULONG kRemoteRead = NDK_MR_FLAG_ALLOW_REMOTE_READ;
constexpr ULONG kReadSink = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;

class SendEngine : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(rig.ok()); }
  void connect(ULONG ord = 8) {
    ConnectOptions setup;
    setup.ord = ord;
    ASSERT_TRUE(rig.connect_passive(setup));
    data = rig.region(4096, kLocalWrite);
    Bytes bytes = pattern(4096, 0x21);
    std::memcpy(data->buffer.data(), bytes.data(), bytes.size());
    sink = rig.region(4096, kReadSink);
  }
  Bytes data_bytes(size_t offset, size_t length) const {
    return Bytes(data->buffer.data() + offset, data->buffer.data() + offset + length);
  }
  // Answers our Read Request (a segment the link recorded) with `bytes` of data, one segment.
  void answer_read(const SentSegment& request, const Bytes& bytes) {
    ASSERT_EQ(RdmapOpcode::ReadRequest, request.header.ddp_.opcode_);
    EXPECT_EQ(RxVerdict::Place,
              rig.link().inject(read_response_segment(request.header.read_request_.sink_stag_,
                                                      request.header.read_request_.sink_to_),
                                bytes));
  }

  CoreRig rig;
  std::unique_ptr<Region> data, sink;
};

TEST_F(SendEngine, msns_count_sends_and_read_requests_on_separate_queues) {
  connect();
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 8, ctx(1)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 8, 8, ctx(2)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 0, 16, 0x10000, 0x700, ctx(3)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 16, 8, ctx(4)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 16, 16, 0x20000, 0x701, ctx(5)));
  ASSERT_TRUE(rig.link().wait_sent(5));
  const std::vector<SentSegment> sent = rig.link().sent();
  ASSERT_EQ(5u, sent.size());
  struct Want {
    RdmapOpcode opcode;
    uint32_t qn, msn;
  };
  const Want want[] = {{RdmapOpcode::Send, 0, 1},
                       {RdmapOpcode::Send, 0, 2},
                       {RdmapOpcode::ReadRequest, 1, 1},
                       {RdmapOpcode::Send, 0, 3},
                       {RdmapOpcode::ReadRequest, 1, 2}};
  for (size_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(::testing::Message() << "segment " << i);
    const wire::DdpHeader& d = sent[i].header.ddp_;
    EXPECT_EQ(want[i].opcode, d.opcode_);
    EXPECT_FALSE(d.tagged_);
    EXPECT_EQ(want[i].qn, d.qn_);
    EXPECT_EQ(want[i].msn, d.msn_);
    EXPECT_EQ(0u, d.mo_);
    EXPECT_TRUE(d.last_);
  }
  const RdmapReadRequest& first = sent[2].header.read_request_;
  EXPECT_EQ(16u, first.read_bytes_);
  EXPECT_EQ(0x700u, first.source_stag_);
  EXPECT_EQ(0x10000u, first.source_to_);
  EXPECT_EQ(0u, sent[2].header.payload_bytes_);
  EXPECT_EQ(46u, sent[2].header.ulpdu_bytes_) << "Read Request ULPDU is exactly 46 bytes";
  EXPECT_NE(first.sink_stag_, sent[4].header.read_request_.sink_stag_)
      << "each outstanding read has its own sink";
  EXPECT_EQ(data_bytes(8, 8), sent[1].payload);
  EXPECT_EQ(26u, sent[1].header.ulpdu_bytes_);
}

TEST_F(SendEngine, send_is_segmented_at_the_link_size_with_contiguous_offsets) {
  connect();
  rig.link().set_max_segment_payload(100, 100);
  const SOFTNDK_ADAPTER_COUNTERS before = rig.counters();
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 250, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(3));
  const std::vector<SentSegment> sent = rig.link().sent();
  ASSERT_EQ(3u, sent.size());
  const uint32_t mo[] = {0, 100, 200};
  const size_t length[] = {100, 100, 50};
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(::testing::Message() << "segment " << i);
    const wire::DdpHeader& d = sent[i].header.ddp_;
    EXPECT_EQ(RdmapOpcode::Send, d.opcode_);
    EXPECT_EQ(1u, d.msn_) << "every segment of a message carries its MSN";
    EXPECT_EQ(mo[i], d.mo_);
    EXPECT_EQ(i == 2, d.last_) << "L on the last segment only";
    EXPECT_EQ(data_bytes(mo[i], length[i]), sent[i].payload);
  }
  expect_completions(rig, {{ctx(1), NdkOperationTypeSend, STATUS_SUCCESS}});
  const SOFTNDK_ADAPTER_COUNTERS after = rig.counters();
  EXPECT_EQ(before.RdmaOutFrames + 3, after.RdmaOutFrames);
  EXPECT_EQ(before.RdmaOutOctets + 250, after.RdmaOutOctets);
}

TEST_F(SendEngine, write_is_segmented_with_advancing_tagged_offsets) {
  connect();
  rig.link().set_max_segment_payload(100, 1000);  // tagged segments are 100 bytes
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_write(*data, 10, 250, 0x7000, 0x1234, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(3));
  const std::vector<SentSegment> sent = rig.link().sent();
  ASSERT_EQ(3u, sent.size());
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(::testing::Message() << "segment " << i);
    const wire::DdpHeader& d = sent[i].header.ddp_;
    EXPECT_EQ(RdmapOpcode::Write, d.opcode_);
    EXPECT_TRUE(d.tagged_);
    EXPECT_EQ(0x1234u, d.stag_);
    EXPECT_EQ(0x7000u + 100 * i, d.to_) << "TO = remote address + bytes already sent";
    EXPECT_EQ(i == 2, d.last_);
    EXPECT_EQ(data_bytes(10 + 100 * i, i == 2 ? 50 : 100), sent[i].payload);
  }
  expect_completions(rig, {{ctx(1), NdkOperationTypeWrite, STATUS_SUCCESS}});
}

TEST_F(SendEngine, read_response_is_segmented_like_a_write_to_the_requests_sink) {
  connect();
  rig.link().set_max_segment_payload(100, 1000);
  auto source = rig.region(4096, kRemoteRead);
  Bytes content = pattern(4096, 0x66);
  std::memcpy(source->buffer.data(), content.data(), content.size());
  RdmapReadRequest rr{0xABC, 0x5000, 250, source->token(), source->address(30)};
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(read_request(1, rr)));
  ASSERT_TRUE(rig.link().wait_sent(3));
  const std::vector<SentSegment> sent = rig.link().sent();
  ASSERT_EQ(3u, sent.size());
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(::testing::Message() << "segment " << i);
    const wire::DdpHeader& d = sent[i].header.ddp_;
    EXPECT_EQ(RdmapOpcode::ReadResponse, d.opcode_);
    EXPECT_TRUE(d.tagged_);
    EXPECT_EQ(0xABCu, d.stag_) << "STag = the request's Data Sink STag";
    EXPECT_EQ(0x5000u + 100 * i, d.to_) << "TO = sink TO + bytes already sent";
    EXPECT_EQ(i == 2, d.last_);
    size_t length = i == 2 ? 50 : 100;
    EXPECT_EQ(Bytes(content.begin() + 30 + 100 * i, content.begin() + 30 + 100 * i + length),
              sent[i].payload);
  }
  EXPECT_TRUE(rig.no_completion_for(20ms)) << "answering a read completes nothing locally";
}

TEST_F(SendEngine, send_opcode_follows_the_solicit_flag_and_the_invalidate_request) {
  connect();
  NDK_SGE sge = data->sge(0, 4);
  ASSERT_STATUS(STATUS_SUCCESS, rig.q()->NdkSend(rig.qp, ctx(1), &sge, 1, 0));
  ASSERT_STATUS(STATUS_SUCCESS,
                rig.q()->NdkSend(rig.qp, ctx(2), &sge, 1, NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT));
  ASSERT_STATUS(STATUS_SUCCESS, rig.q()->NdkSendAndInvalidate(rig.qp, ctx(3), &sge, 1, 0, 0x1111));
  ASSERT_STATUS(STATUS_SUCCESS,
                rig.q()->NdkSendAndInvalidate(rig.qp, ctx(4), &sge, 1,
                                              NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT, 0x2222));
  ASSERT_TRUE(rig.link().wait_sent(4));
  const std::vector<SentSegment> sent = rig.link().sent();
  ASSERT_EQ(4u, sent.size());
  const RdmapOpcode opcode[] = {RdmapOpcode::Send, RdmapOpcode::SendSE, RdmapOpcode::SendInvalidate,
                                RdmapOpcode::SendSEInvalidate};
  const uint32_t invalidate[] = {0, 0, 0x1111, 0x2222};
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(::testing::Message() << "segment " << i);
    EXPECT_EQ(opcode[i], sent[i].header.ddp_.opcode_);
    EXPECT_EQ(invalidate[i], sent[i].header.ddp_.inval_stag_);
    EXPECT_EQ(0u, sent[i].header.ddp_.qn_);
    EXPECT_EQ(i + 1, sent[i].header.ddp_.msn_) << "the four Send opcodes share queue 0's MSNs";
  }
  // The sender's completion of a Send with Invalidate is an ordinary Send (NDKPI NDK_FN_SEND_AND_INVALIDATE).
  expect_completions(rig, {{ctx(1), NdkOperationTypeSend, STATUS_SUCCESS},
                           {ctx(2), NdkOperationTypeSend, STATUS_SUCCESS},
                           {ctx(3), NdkOperationTypeSend, STATUS_SUCCESS},
                           {ctx(4), NdkOperationTypeSend, STATUS_SUCCESS}});
}

TEST_F(SendEngine, inline_data_is_copied_when_posted) {
  connect();
  rig.link().answer_next(TxResult::Blocked);  // hold the engine on a first Send
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 8, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  const Bytes original = data_bytes(100, 20);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 100, 20, ctx(2), NDK_OP_FLAG_INLINE));
  std::memset(data->buffer.data() + 100, 0xEE, 20);  // the consumer reuses its buffer at once
  EXPECT_EQ(1u, rig.link().sent_count());
  rig.link().writable();
  ASSERT_TRUE(rig.link().wait_sent(2));
  const SentSegment inline_send = rig.link().sent_at(1);
  EXPECT_EQ(RdmapOpcode::Send, inline_send.header.ddp_.opcode_);
  EXPECT_EQ(2u, inline_send.header.ddp_.msn_);
  EXPECT_EQ(original, inline_send.payload) << "inline data is the data at post time";
  expect_completions(rig, {{ctx(1), NdkOperationTypeSend, STATUS_SUCCESS},
                           {ctx(2), NdkOperationTypeSend, STATUS_SUCCESS}});
}

TEST_F(SendEngine, read_fence_holds_a_request_until_earlier_reads_completed) {
  connect();
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 0, 16, 0x10000, 0x700, ctx(1)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 8, ctx(2)));
  // A Read does not hold later messages (RFC 5040 §5.2: only READ_FENCE waits): the unfenced Send goes at once.
  ASSERT_TRUE(rig.link().wait_sent(2));
  EXPECT_EQ(RdmapOpcode::Send, rig.link().sent_at(1).header.ddp_.opcode_);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 8, 8, ctx(3), NDK_OP_FLAG_READ_FENCE));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(2u, rig.link().sent_count()) << "the fenced Send waits for the read's response";
  EXPECT_TRUE(rig.no_completion_for(20ms)) << "the Send completes behind the read";
  answer_read(rig.link().sent_at(0), pattern(16, 1));
  ASSERT_TRUE(rig.link().wait_sent(3));
  const SentSegment fenced = rig.link().sent_at(2);
  EXPECT_EQ(RdmapOpcode::Send, fenced.header.ddp_.opcode_);
  EXPECT_EQ(2u, fenced.header.ddp_.msn_);
  EXPECT_EQ(data_bytes(8, 8), fenced.payload);
  expect_completions(rig, {{ctx(1), NdkOperationTypeRead, STATUS_SUCCESS},
                           {ctx(2), NdkOperationTypeSend, STATUS_SUCCESS},
                           {ctx(3), NdkOperationTypeSend, STATUS_SUCCESS}});
}

TEST_F(SendEngine, outbound_read_limit_holds_further_reads_and_what_follows_them) {
  connect(/*ord=*/1);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 0, 16, 0x10000, 0x700, ctx(1)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 16, 16, 0x20000, 0x701, ctx(2)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 8, ctx(3)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  std::this_thread::sleep_for(20ms);
  // ORD 1: one Read Request outstanding; the Send is behind the waiting read (in order).
  ASSERT_EQ(1u, rig.link().sent_count());
  answer_read(rig.link().sent_at(0), pattern(16, 2));
  ASSERT_TRUE(rig.link().wait_sent(3));
  const SentSegment second = rig.link().sent_at(1);
  EXPECT_EQ(RdmapOpcode::ReadRequest, second.header.ddp_.opcode_);
  EXPECT_EQ(2u, second.header.ddp_.msn_);
  EXPECT_EQ(0x701u, second.header.read_request_.source_stag_);
  EXPECT_EQ(RdmapOpcode::Send, rig.link().sent_at(2).header.ddp_.opcode_);
  answer_read(second, pattern(16, 3));
  expect_completions(rig, {{ctx(1), NdkOperationTypeRead, STATUS_SUCCESS},
                           {ctx(2), NdkOperationTypeRead, STATUS_SUCCESS},
                           {ctx(3), NdkOperationTypeSend, STATUS_SUCCESS}});
  EXPECT_EQ(pattern(16, 2), Bytes(sink->buffer.data(), sink->buffer.data() + 16));
  EXPECT_EQ(pattern(16, 3), Bytes(sink->buffer.data() + 16, sink->buffer.data() + 32));
}

TEST_F(SendEngine, active_side_reads_within_the_smaller_of_its_ord_and_the_peers_ird) {
  // RFC 6581 §5: the initiator uses ORD_eff = min(ORD_i, IRD_r).
  ConnectOptions options;
  options.ird = 5;
  options.ord = 6;
  options.peer_ird = 3;
  options.peer_ord = 9;
  ASSERT_TRUE(rig.connect_active(options));
  EXPECT_EQ(5u, rig.connection().request().inbound_read_limit) << "the IRD we asked for";
  EXPECT_EQ(6u, rig.connection().request().outbound_read_limit) << "the ORD we asked for";
  sink = rig.region(4096, kReadSink);
  for (uintptr_t i = 0; i < 4; ++i)
    ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 16 * i, 16, 0x10000, 0x700, ctx(i + 1)));
  ASSERT_TRUE(rig.link().wait_sent(3));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(3u, rig.link().sent_count()) << "ORD_eff = min(6, 3)";
  answer_read(rig.link().sent_at(0), pattern(16, 1));
  ASSERT_TRUE(rig.link().wait_sent(4));
  EXPECT_EQ(4u, rig.link().sent_at(3).header.ddp_.msn_);
}

TEST_F(SendEngine, passive_side_replies_with_limits_the_requester_can_use) {
  // RFC 6581 §5: IRD_r = min(local inbound, adapter max, ORD_i), ORD_r = min(local outbound,
  // adapter max, IRD_i); our reads then stay within ORD_r.
  ConnectOptions options;
  options.ird = 4;
  options.ord = 8;
  options.peer_ird = 2;
  options.peer_ord = 7;
  ASSERT_TRUE(rig.connect_passive(options));
  ASSERT_TRUE(rig.connection().accepted().has_value());
  EXPECT_EQ(4u, rig.connection().accepted()->inbound_read_limit);
  EXPECT_EQ(2u, rig.connection().accepted()->outbound_read_limit);
  sink = rig.region(4096, kReadSink);
  for (uintptr_t i = 0; i < 3; ++i)
    ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 16 * i, 16, 0x10000, 0x700, ctx(i + 1)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(2u, rig.link().sent_count()) << "at most ORD_r = 2 reads outstanding";
}

TEST_F(SendEngine, blocked_link_resumes_the_same_message_when_writable) {
  connect();
  rig.link().set_max_segment_payload(100, 100);
  rig.link().answer_next(TxResult::Sent);
  rig.link().answer_next(TxResult::Blocked);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 250, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 300, 10, ctx(2)));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(2u, rig.link().sent_count()) << "nothing more until the link is writable";
  EXPECT_TRUE(rig.no_completion_for(20ms)) << "a message not fully handed over is not complete";
  rig.link().writable();
  ASSERT_TRUE(rig.link().wait_sent(4));
  const std::vector<SentSegment> sent = rig.link().sent();
  ASSERT_EQ(4u, sent.size());
  EXPECT_EQ(1u, sent[2].header.ddp_.msn_);
  EXPECT_EQ(200u, sent[2].header.ddp_.mo_) << "the same message continues where it stopped";
  EXPECT_TRUE(sent[2].header.ddp_.last_);
  EXPECT_EQ(data_bytes(200, 50), sent[2].payload);
  EXPECT_EQ(2u, sent[3].header.ddp_.msn_);
  EXPECT_EQ(0u, sent[3].header.ddp_.mo_);
  EXPECT_EQ(data_bytes(300, 10), sent[3].payload);
  expect_completions(rig, {{ctx(1), NdkOperationTypeSend, STATUS_SUCCESS},
                           {ctx(2), NdkOperationTypeSend, STATUS_SUCCESS}});
}

TEST_F(SendEngine, message_blocked_on_its_last_segment_completes_once_without_a_resend) {
  connect();
  rig.link().answer_next(TxResult::Blocked);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_write(*data, 0, 64, 0x8000, 0x99, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  EXPECT_TRUE(rig.no_completion_for(20ms));
  rig.link().writable();
  expect_completions(rig, {{ctx(1), NdkOperationTypeWrite, STATUS_SUCCESS}});
  EXPECT_EQ(1u, rig.link().sent_count()) << "the segment the link took is not sent again";
}

TEST_F(SendEngine, graceful_disconnect_waits_for_the_message_in_progress) {
  // Graceful close (RFC 5040 §5.3): stop starting new messages, let the one in progress finish, then close.
  connect();
  rig.link().set_max_segment_payload(100, 100);
  rig.link().answer_next(TxResult::Sent);
  rig.link().answer_next(TxResult::Blocked);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 250, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  AsyncCall disconnect;
  NTSTATUS returned = rig.connector->Dispatch->NdkDisconnect(
      rig.connector, &AsyncCall::request_done, disconnect.context());
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(0, rig.link().disconnects()) << "the Send is still being handed over";
  rig.link().writable();
  ASSERT_TRUE(wait_until([&] { return rig.link().disconnects() == 1; }));
  EXPECT_EQ(3u, rig.link().sent_count());
  EXPECT_TRUE(rig.link().sent_at(2).header.ddp_.last_);
  ASSERT_TRUE(rig.link().close(transport::LinkSink::CloseKind::Graceful));  // the peer answers
  EXPECT_STATUS(STATUS_SUCCESS, disconnect.wait(returned));
  expect_completions(rig, {{ctx(1), NdkOperationTypeSend, STATUS_SUCCESS}});
  EXPECT_EQ(0, rig.disconnect_events()) << "our own disconnect raises no disconnect event";
}

TEST_F(SendEngine, blocked_read_response_resumes_where_it_stopped) {
  connect();
  rig.link().set_max_segment_payload(100, 1000);
  rig.link().answer_next(TxResult::Blocked);
  auto source = rig.region(4096, kRemoteRead);
  Bytes content = pattern(4096, 0x31);
  std::memcpy(source->buffer.data(), content.data(), content.size());
  RdmapReadRequest rr{0xA1, 0x100, 250, source->token(), source->address()};
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(read_request(1, rr)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(1u, rig.link().sent_count());
  rig.link().writable();
  ASSERT_TRUE(rig.link().wait_sent(3));
  const std::vector<SentSegment> sent = rig.link().sent();
  ASSERT_EQ(3u, sent.size());
  for (size_t i = 1; i < 3; ++i) {
    SCOPED_TRACE(::testing::Message() << "segment " << i);
    EXPECT_EQ(RdmapOpcode::ReadResponse, sent[i].header.ddp_.opcode_);
    EXPECT_EQ(0x100u + 100 * i, sent[i].header.ddp_.to_);
    EXPECT_EQ(i == 2, sent[i].header.ddp_.last_);
    size_t length = i == 2 ? 50 : 100;
    EXPECT_EQ(Bytes(content.begin() + 100 * i, content.begin() + 100 * i + length),
              sent[i].payload);
  }
  EXPECT_TRUE(rig.link().terminates().empty());
}

TEST_F(SendEngine, read_source_revoked_before_its_response_is_terminated_naming_the_request) {
  // The source is checked again when the response is generated (RFC 5040 §5.2): a region
  // deregistered meanwhile fails row 22 (invalid STag) with the Read Request's headers.
  connect();
  rig.link().set_max_segment_payload(100, 1000);
  rig.link().answer_next(TxResult::Blocked);  // the first response stalls the engine
  auto first = rig.region(4096, kRemoteRead);
  auto second = rig.region(4096, kRemoteRead);
  RdmapReadRequest rr1{0xA1, 0, 250, first->token(), first->address()};
  RdmapReadRequest rr2{0xA2, 0x40, 16, second->token(), second->address(8)};
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(read_request(1, rr1)));
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(read_request(2, rr2)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  AsyncCall deregister;
  ASSERT_STATUS(STATUS_SUCCESS, deregister.wait(second->mr->Dispatch->NdkDeregisterMr(
                                    second->mr, &AsyncCall::request_done, deregister.context())));
  rig.link().writable();
  ASSERT_TRUE(rig.link().wait_terminate());
  EXPECT_EQ(3u, rig.link().sent_count()) << "the first response finishes, the second never starts";
  expect_terminate(rig.link().terminates()[0], {kLayerRdmap, 1, 0x00},
                   untagged_ddp_bytes(true, kOpReadRequest, 0, 1, 2, 0), 18 + 28, rr2);
  expect_abort_event(rig);
}

TEST_F(SendEngine, read_response_waits_for_the_end_of_the_message_in_progress) {
  // [policy] never interleave segments of different messages; inbound Read
  // Responses are sent between outbound messages.
  connect();
  rig.link().set_max_segment_payload(100, 100);
  rig.link().answer_next(TxResult::Sent);
  rig.link().answer_next(TxResult::Blocked);
  auto source = rig.region(4096, kRemoteRead);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 250, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  RdmapReadRequest rr{0xA1, 0, 8, source->token(), source->address()};
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(read_request(1, rr)));
  rig.link().writable();
  ASSERT_TRUE(rig.link().wait_sent(4));
  const std::vector<SentSegment> sent = rig.link().sent();
  EXPECT_EQ(RdmapOpcode::Send, sent[2].header.ddp_.opcode_);
  EXPECT_EQ(200u, sent[2].header.ddp_.mo_);
  EXPECT_EQ(RdmapOpcode::ReadResponse, sent[3].header.ddp_.opcode_);
  expect_completions(rig, {{ctx(1), NdkOperationTypeSend, STATUS_SUCCESS}});
}

}  // namespace
}  // namespace softndk::test
