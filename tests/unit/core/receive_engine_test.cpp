// The receive engine of a real queue pair (core/datapath/receive_engine.h) against segments a
// fake peer injects: every receive check of RFC 5040/5041 (src/wire/terminate_codes.h) that belongs to the RDMAP engine
// (rows 8-12, 14-23) ends the connection with exactly the Terminate the table names (RFC 5040
// §4.8, §7.2; RFC 5041 §7.2): the reason, M=1 with the offending ULPDU length, D=1 with the
// offending DDP header as it was on the wire, R=1 with the Read Request header for row 22 only.
// Then the queue pair flushes and the consumer gets the disconnect event.
#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace softndk::test {
namespace {

using transport::RxVerdict;
using wire::RdmapOpcode;
using wire::RdmapReadRequest;

// Receive buffers, and remote-accessible memory of our side that the peer targets.
constexpr ULONG kLocalWrite = NDK_MR_FLAG_ALLOW_LOCAL_WRITE;
constexpr ULONG kRemoteWrite = NDK_MR_FLAG_ALLOW_REMOTE_WRITE;  // includes local write
constexpr ULONG kRemoteRead = NDK_MR_FLAG_ALLOW_REMOTE_READ;
constexpr ULONG kReadSink = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;
constexpr uint64_t kWrappingTo = ~uint64_t{0} - 7;  // TO + 16 overflows 64 bits

class ReceiveEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rig.ok());
    ASSERT_TRUE(rig.connect_passive());
    receives = rig.region(4096, kLocalWrite);
  }

  // The one Terminate the core sent.
  wire::TerminateMessage the_terminate() {
    EXPECT_TRUE(rig.link().wait_terminate(2s)) << "no Terminate";
    std::vector<wire::TerminateMessage> all = rig.link().terminates();
    EXPECT_EQ(1u, all.size()) << "exactly one Terminate per connection";
    return all.empty() ? wire::TerminateMessage{} : all.front();
  }

  CoreRig rig;
  std::unique_ptr<Region> receives;
};

// ---------------------------------------------------------------------------------------------
// Untagged: Send (table 4.1 rows 8-12)

TEST_F(ReceiveEngine, send_on_the_wrong_queue_is_terminated_as_invalid_qn) {
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  wire::UlpduHeader h = send_segment(1, 0, true);
  h.ddp_.qn_ = 1;  // the Read Request queue
  Bytes payload = pattern(8, 1);
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(h, payload));
  expect_terminate(the_terminate(), {kLayerDdp, 2, 0x01},
                   untagged_ddp_bytes(true, kOpSend, 0, 1, 1, 0), 18 + 8);
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(ReceiveEngine, send_with_an_unexpected_msn_is_terminated_as_msn_range) {
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  Bytes payload = pattern(8, 2);
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(send_segment(2, 0, true), payload));
  expect_terminate(the_terminate(), {kLayerDdp, 2, 0x03},
                   untagged_ddp_bytes(true, kOpSend, 0, 0, 2, 0), 18 + 8);
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(ReceiveEngine, send_without_a_posted_receive_is_terminated_as_no_buffer) {
  Bytes payload = pattern(8, 3);
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(send_segment(1, 0, true), payload));
  expect_terminate(the_terminate(), {kLayerDdp, 2, 0x02},
                   untagged_ddp_bytes(true, kOpSend, 0, 0, 1, 0), 18 + 8);
  expect_completions(rig, {});
  expect_abort_event(rig);
}

TEST_F(ReceiveEngine, first_segment_with_a_nonzero_offset_is_terminated_as_invalid_mo) {
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  Bytes payload = pattern(8, 4);
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(send_segment(1, 4, true), payload));
  expect_terminate(the_terminate(), {kLayerDdp, 2, 0x04},
                   untagged_ddp_bytes(true, kOpSend, 0, 0, 1, 4), 18 + 8);
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(ReceiveEngine, segment_that_skips_message_bytes_is_terminated_as_invalid_mo) {
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  Bytes first = pattern(8, 5), second = pattern(8, 6);
  EXPECT_EQ(RxVerdict::Place, rig.link().inject(send_segment(1, 0, false), first));
  // MO must be 8 (the bytes already received); 12 leaves a hole.
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(send_segment(1, 12, true), second));
  expect_terminate(the_terminate(), {kLayerDdp, 2, 0x04},
                   untagged_ddp_bytes(true, kOpSend, 0, 0, 1, 12), 18 + 8);
  // The receive being filled never completed: it is flushed.
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(ReceiveEngine, send_longer_than_the_receive_is_terminated_and_overflows_the_receive) {
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 16, ctx(1)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 64, 16, ctx(2)));
  Bytes payload = pattern(32, 7);
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(send_segment(1, 0, true), payload));
  expect_terminate(the_terminate(), {kLayerDdp, 2, 0x05},
                   untagged_ddp_bytes(true, kOpSend, 0, 0, 1, 0), 18 + 32);
  // docs/architecture.md: a Send larger than the posted receive: the receiver sees STATUS_BUFFER_OVERFLOW.
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_BUFFER_OVERFLOW},
                           {ctx(2), NdkOperationTypeReceive, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(ReceiveEngine, segmented_send_lands_in_the_receive_and_completes_once) {
  // The positive path the checks above guard: MO contiguous, L on the last, MSN 1 then 2.
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 64, 64, ctx(2)));
  Bytes message = pattern(40, 8);
  std::span<const std::byte> m(message);
  EXPECT_EQ(RxVerdict::Place, rig.link().inject(send_segment(1, 0, false), m.subspan(0, 16)));
  EXPECT_EQ(RxVerdict::Place, rig.link().inject(send_segment(1, 16, false), m.subspan(16, 16)));
  EXPECT_TRUE(rig.no_completion_for(20ms));
  EXPECT_EQ(RxVerdict::Place, rig.link().inject(send_segment(1, 32, true), m.subspan(32)));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(rig.next_completion(&r));
  EXPECT_EQ(ctx(1), r.RequestContext);
  EXPECT_STATUS(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(40u, r.BytesTransferred);
  EXPECT_EQ(ULONG{NdkOperationTypeReceive}, static_cast<ULONG>(r.Type));
  EXPECT_EQ(message, Bytes(receives->buffer.data(), receives->buffer.data() + 40));
  Bytes next = pattern(4, 9);
  EXPECT_EQ(RxVerdict::Place,
            rig.link().inject(send_segment(2, 0, true, RdmapOpcode::SendSE), next));
  ASSERT_TRUE(rig.next_completion(&r));
  EXPECT_EQ(ctx(2), r.RequestContext);
  EXPECT_STATUS(STATUS_SUCCESS, r.Status);
  EXPECT_TRUE(rig.link().terminates().empty());
}

TEST_F(ReceiveEngine, send_scatters_across_the_receives_sges_in_order) {
  auto second = rig.region(4096, kLocalWrite);
  NDK_SGE sges[2] = {receives->sge(100, 10), second->sge(200, 30)};
  ASSERT_STATUS(STATUS_SUCCESS, rig.q()->NdkReceive(rig.qp, ctx(1), sges, 2));
  Bytes message = pattern(24, 20);
  EXPECT_EQ(RxVerdict::Place, rig.link().inject(send_segment(1, 0, true), message));
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_SUCCESS}});
  EXPECT_EQ(Bytes(message.begin(), message.begin() + 10),
            Bytes(receives->buffer.data() + 100, receives->buffer.data() + 110));
  EXPECT_EQ(Bytes(message.begin() + 10, message.end()),
            Bytes(second->buffer.data() + 200, second->buffer.data() + 214));
}

TEST_F(ReceiveEngine, receive_buffer_that_cannot_be_written_is_a_local_placement_fault) {
  // The receive names a token that is not ours (checked when the Send arrives, not at post:
  // docs/architecture.md): row 13, DDP / Local Catastrophic, +DDP; the receive fails with
  // STATUS_ACCESS_VIOLATION (docs/architecture.md: a local SGE with a wrong token).
  NDK_SGE bad = receives->sge(0, 64);
  bad.MemoryRegionToken ^= 0x1;
  ASSERT_STATUS(STATUS_SUCCESS, rig.q()->NdkReceive(rig.qp, ctx(1), &bad, 1));
  Bytes payload = pattern(8, 21);
  rig.link().inject(send_segment(1, 0, true), payload);
  expect_terminate(the_terminate(), {kLayerDdp, 0, 0x00},
                   untagged_ddp_bytes(true, kOpSend, 0, 0, 1, 0), 18 + 8);
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_ACCESS_VIOLATION}});
  expect_abort_event(rig);
  EXPECT_EQ(Bytes(64), Bytes(receives->buffer.data(), receives->buffer.data() + 64));
}

TEST_F(ReceiveEngine, untagged_message_starting_inside_an_unfinished_send_is_terminated) {
  // Row 7: no new message of the same model (untagged) while one is unfinished: RDMAP / Remote
  // Operation / Catastrophic localized, +DDP of the segment that started the new message.
  auto source = rig.region(4096, kRemoteRead);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  Bytes first = pattern(8, 22);
  EXPECT_EQ(RxVerdict::Place, rig.link().inject(send_segment(1, 0, false), first));
  RdmapReadRequest rr{0x10, 0, 8, source->token(), source->address()};
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(read_request(1, rr)));
  expect_terminate(the_terminate(), {kLayerRdmap, 2, 0x07},
                   untagged_ddp_bytes(true, kOpReadRequest, 0, 1, 1, 0), 18 + 28);
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(ReceiveEngine, tagged_message_starting_inside_an_unfinished_write_is_terminated) {
  auto a = rig.region(4096, kRemoteWrite);
  auto b = rig.region(4096, kRemoteWrite);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  Bytes payload = pattern(16, 23);
  EXPECT_EQ(RxVerdict::Place,
            rig.link().inject(write_segment(a->token(), a->address(), false), payload));
  ASSERT_EQ(RxVerdict::Terminate,
            rig.link().inject(write_segment(b->token(), b->address(), true), payload));
  expect_terminate(the_terminate(), {kLayerRdmap, 2, 0x07},
                   tagged_ddp_bytes(true, kOpWrite, b->token(), b->address()), 14 + 16);
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(ReceiveEngine, zero_length_send_consumes_a_receive_and_completes_with_no_bytes) {
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 64, 64, ctx(2)));
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(send_segment(1, 0, true)));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(rig.next_completion(&r));
  EXPECT_EQ(ctx(1), r.RequestContext);
  EXPECT_STATUS(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(0u, r.BytesTransferred);
  Bytes payload = pattern(4, 24);
  EXPECT_EQ(RxVerdict::Place, rig.link().inject(send_segment(2, 0, true), payload));
  ASSERT_TRUE(rig.next_completion(&r));
  EXPECT_EQ(ctx(2), r.RequestContext);
  EXPECT_EQ(4u, r.BytesTransferred);
}

// ---------------------------------------------------------------------------------------------
// Tagged: RDMA Write (rows 14-18)

class WriteChecks : public ReceiveEngine {
 protected:
  void SetUp() override {
    ReceiveEngine::SetUp();
    target = rig.region(4096, kRemoteWrite);
    ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  }
  // Injects a Write of `bytes` and checks the Terminate and the flush.
  void expect_write_terminated(uint32_t stag, uint64_t to, size_t bytes, Reason reason) {
    Bytes payload = pattern(bytes, 10);
    ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(write_segment(stag, to), payload));
    expect_terminate(the_terminate(), reason, tagged_ddp_bytes(true, kOpWrite, stag, to),
                     14 + bytes);
    expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_CANCELLED}});
    expect_abort_event(rig);
    EXPECT_EQ(Bytes(4096), Bytes(target->buffer.data(), target->buffer.data() + 4096))
        << "nothing may be placed before the checks passed";
  }
  std::unique_ptr<Region> target;
};

TEST_F(WriteChecks, write_to_an_invalid_stag_is_terminated_as_invalid_stag) {
  expect_write_terminated(target->token() ^ 0x1, target->address(), 16, {kLayerDdp, 1, 0x00});
}

TEST_F(WriteChecks, write_to_another_protection_domains_stag_is_terminated_as_not_associated) {
  NDK_PD* other = rig.create_pd();
  auto foreign = rig.region(4096, kRemoteWrite, other);
  expect_write_terminated(foreign->token(), foreign->address(), 16, {kLayerDdp, 1, 0x02});
}

TEST_F(WriteChecks, write_without_remote_write_right_is_terminated_as_access_rights) {
  auto read_only = rig.region(4096, kLocalWrite | kRemoteRead);
  // Write access rights [policy]: RDMAP / Remote Protection / Access Rights Violation.
  expect_write_terminated(read_only->token(), read_only->address(), 16, {kLayerRdmap, 1, 0x02});
}

TEST_F(WriteChecks, write_past_the_region_end_is_terminated_as_bounds_violation) {
  expect_write_terminated(target->token(), target->address(4096 - 8), 16, {kLayerDdp, 1, 0x01});
}

TEST_F(WriteChecks, write_whose_offset_wraps_is_terminated_as_to_wrap) {
  expect_write_terminated(target->token(), kWrappingTo, 16, {kLayerDdp, 1, 0x03});
}

TEST_F(WriteChecks, valid_write_places_and_zero_length_write_is_never_validated) {
  Bytes payload = pattern(32, 11);
  EXPECT_EQ(RxVerdict::Place,
            rig.link().inject(write_segment(target->token(), target->address(100)), payload));
  EXPECT_EQ(payload, Bytes(target->buffer.data() + 100, target->buffer.data() + 132));
  // RFC 5040 §5.1: a zero-length Write's STag and TO are not validated.
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(write_segment(0xdead0001, kWrappingTo)));
  EXPECT_TRUE(rig.link().terminates().empty());
  EXPECT_TRUE(rig.no_completion_for(20ms));  // a Write completes nothing at the data sink
}

// ---------------------------------------------------------------------------------------------
// RDMA Read Request at the data source (rows 21-22)

TEST(ReceiveEngineReads, read_request_beyond_the_inbound_limit_is_terminated) {
  CoreRig rig;
  ASSERT_TRUE(rig.ok());
  ConnectOptions setup;
  setup.ird = 1;  // our inbound read limit (IRD) is 1
  ASSERT_TRUE(rig.connect_passive(setup));
  auto source = rig.region(4096, kRemoteRead);
  auto data = rig.region(4096, kLocalWrite);
  // Hold our send engine (the link is Blocked on our own Send), so no Read Response is sent
  // and the first Read Request stays outstanding.
  rig.link().answer_next(transport::TxResult::Blocked);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 8, ctx(7)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  RdmapReadRequest rr{0x1111, 0, 16, source->token(), source->address()};
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(read_request(1, rr)));
  EXPECT_TRUE(rig.link().terminates().empty()) << "one read is within IRD 1";
  rr.sink_stag_ = 0x2222;
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(read_request(2, rr)));
  EXPECT_TRUE(rig.link().wait_terminate());
  ASSERT_EQ(1u, rig.link().terminates().size());
  // Row 21: RDMAP / Remote Operation / Catastrophic localized, +DDP (not the Read Request).
  expect_terminate(rig.link().terminates()[0], {kLayerRdmap, 2, 0x07},
                   untagged_ddp_bytes(true, kOpReadRequest, 0, 1, 2, 0), 18 + 28);
  // Our own Terminate blames none of our requests: the blocked Send is cancelled.
  expect_completions(rig, {{ctx(7), NdkOperationTypeSend, STATUS_CANCELLED}});
  expect_abort_event(rig);
  EXPECT_EQ(1u, rig.link().sent_count()) << "no Read Response after the Terminate";
}

TEST_F(ReceiveEngine, zero_length_read_request_is_answered_without_checking_its_source) {
  // Table 4.1 row 22 applies to size > 0 only; a zero-size request gets one zero-length Read
  // Response (RFC 5040 §5.2).
  RdmapReadRequest rr{0x61, 0x80, 0, 0xdead0001, kWrappingTo};
  EXPECT_EQ(RxVerdict::Discard, rig.link().inject(read_request(1, rr)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  const SentSegment response = rig.link().sent_at(0);
  EXPECT_EQ(RdmapOpcode::ReadResponse, response.header.ddp_.opcode_);
  EXPECT_EQ(0x61u, response.header.ddp_.stag_);
  EXPECT_EQ(0x80u, response.header.ddp_.to_);
  EXPECT_TRUE(response.header.ddp_.last_);
  EXPECT_TRUE(response.payload.empty());
  EXPECT_TRUE(rig.link().terminates().empty());
}

enum class BadSource { InvalidStag, OtherPd, NoRemoteRead, PastEnd, Wraps };

struct BadSourceCase {
  BadSource kind;
  Reason reason;  // row 22: RDMAP / Remote Protection / code
  const char* name;
};

void PrintTo(const BadSourceCase& c, std::ostream* os) {
  *os << c.name;
}

class ReadSourceChecks : public ReceiveEngine,
                         public ::testing::WithParamInterface<BadSourceCase> {};

TEST_P(ReadSourceChecks, read_request_with_a_bad_source_is_terminated_with_its_header) {
  const BadSourceCase& c = GetParam();
  NDK_PD* other = c.kind == BadSource::OtherPd ? rig.create_pd() : nullptr;
  auto source =
      rig.region(4096, c.kind == BadSource::NoRemoteRead ? kRemoteWrite : kRemoteRead, other);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  RdmapReadRequest rr{0xABCD, 0x2000, 16, source->token(), source->address()};
  if (c.kind == BadSource::InvalidStag) rr.source_stag_ ^= 0x1;
  if (c.kind == BadSource::PastEnd) rr.source_to_ = source->address(4096 - 8);
  if (c.kind == BadSource::Wraps) rr.source_to_ = kWrappingTo;
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(read_request(1, rr)));
  expect_terminate(the_terminate(), c.reason, untagged_ddp_bytes(true, kOpReadRequest, 0, 1, 1, 0),
                   18 + 28, rr);
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_CANCELLED}});
  expect_abort_event(rig);
  EXPECT_EQ(0u, rig.link().sent_count()) << "no Read Response for a refused request";
}

INSTANTIATE_TEST_SUITE_P(
    Row22, ReadSourceChecks,
    ::testing::Values(BadSourceCase{BadSource::InvalidStag, {kLayerRdmap, 1, 0x00}, "invalid_stag"},
                      BadSourceCase{BadSource::OtherPd, {kLayerRdmap, 1, 0x03}, "other_pd"},
                      BadSourceCase{
                          BadSource::NoRemoteRead, {kLayerRdmap, 1, 0x02}, "no_remote_read"},
                      BadSourceCase{BadSource::PastEnd, {kLayerRdmap, 1, 0x01}, "past_end"},
                      BadSourceCase{BadSource::Wraps, {kLayerRdmap, 1, 0x04}, "wraps"}),
    [](const ::testing::TestParamInfo<BadSourceCase>& param_info) {
      return param_info.param.name;
    });

// ---------------------------------------------------------------------------------------------
// RDMA Read Response at the requester (rows 19-20)

TEST_F(ReceiveEngine, read_response_without_an_outstanding_read_is_terminated_as_unexpected) {
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  Bytes payload = pattern(8, 12);
  ASSERT_EQ(RxVerdict::Terminate,
            rig.link().inject(read_response_segment(0x80000000u, 0), payload));
  // Row 19 [policy]: RDMAP / Remote Operation / Unexpected opcode, +DDP.
  expect_terminate(the_terminate(), {kLayerRdmap, 2, 0x06},
                   tagged_ddp_bytes(true, kOpReadResponse, 0x80000000u, 0), 14 + 8);
  expect_completions(rig, {{ctx(1), NdkOperationTypeReceive, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

class ReadResponseChecks : public ReceiveEngine {
 protected:
  void SetUp() override {
    ReceiveEngine::SetUp();
    sink = rig.region(4096, kReadSink);
    ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 0, 16, 0x10000, 0x4321, ctx(5)));
    ASSERT_TRUE(rig.link().wait_sent(1));
    request = rig.link().sent_at(0).header;
    ASSERT_EQ(RdmapOpcode::ReadRequest, request.ddp_.opcode_);
  }
  std::unique_ptr<Region> sink;
  wire::UlpduHeader request;  // our Read Request as the peer saw it
};

TEST_F(ReadResponseChecks, read_response_to_another_sink_stag_is_terminated_as_invalid_stag) {
  const uint32_t wrong = request.read_request_.sink_stag_ + 1;
  const uint64_t to = request.read_request_.sink_to_;
  Bytes payload = pattern(16, 13);
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(read_response_segment(wrong, to), payload));
  // Row 20: DDP / Tagged / Invalid STag, +DDP.
  expect_terminate(the_terminate(), {kLayerDdp, 1, 0x00},
                   tagged_ddp_bytes(true, kOpReadResponse, wrong, to), 14 + 16);
  // Our own Terminate blames nothing: the read is cancelled.
  expect_completions(rig, {{ctx(5), NdkOperationTypeRead, STATUS_CANCELLED}});
  expect_abort_event(rig);
  EXPECT_EQ(Bytes(16), Bytes(sink->buffer.data(), sink->buffer.data() + 16));
}

TEST_F(ReadResponseChecks, read_response_at_a_noncontiguous_offset_is_terminated_as_bounds) {
  const uint32_t stag = request.read_request_.sink_stag_;
  const uint64_t to = request.read_request_.sink_to_ + 4;  // must start at the sink TO
  Bytes payload = pattern(12, 14);
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(read_response_segment(stag, to), payload));
  // Row 20: DDP / Tagged / Base or bounds violation, +DDP.
  expect_terminate(the_terminate(), {kLayerDdp, 1, 0x01},
                   tagged_ddp_bytes(true, kOpReadResponse, stag, to), 14 + 12);
  expect_completions(rig, {{ctx(5), NdkOperationTypeRead, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(ReadResponseChecks, read_response_longer_than_the_read_is_terminated_as_bounds) {
  const uint32_t stag = request.read_request_.sink_stag_;
  const uint64_t to = request.read_request_.sink_to_;
  Bytes payload = pattern(24, 15);  // 16 were asked for
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(read_response_segment(stag, to), payload));
  expect_terminate(the_terminate(), {kLayerDdp, 1, 0x01},
                   tagged_ddp_bytes(true, kOpReadResponse, stag, to), 14 + 24);
  expect_completions(rig, {{ctx(5), NdkOperationTypeRead, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(ReadResponseChecks, segmented_read_response_completes_the_read) {
  const uint32_t stag = request.read_request_.sink_stag_;
  const uint64_t to = request.read_request_.sink_to_;
  Bytes data = pattern(16, 16);
  std::span<const std::byte> d(data);
  EXPECT_EQ(RxVerdict::Place,
            rig.link().inject(read_response_segment(stag, to, false), d.subspan(0, 10)));
  EXPECT_TRUE(rig.no_completion_for(20ms));
  EXPECT_EQ(RxVerdict::Place,
            rig.link().inject(read_response_segment(stag, to + 10, true), d.subspan(10)));
  expect_completions(rig, {{ctx(5), NdkOperationTypeRead, STATUS_SUCCESS}});
  EXPECT_EQ(data, Bytes(sink->buffer.data(), sink->buffer.data() + 16));
  EXPECT_TRUE(rig.link().terminates().empty());
}

// ---------------------------------------------------------------------------------------------
// Send with Invalidate (row 23; RFC 5040 §6.10, NDKPI NDK_FN_SEND_AND_INVALIDATE)

class InvalidateChecks : public ReceiveEngine {
 protected:
  // Binds a window of `mr` (remote read) and returns its token.
  UINT32 bind_window(NDK_MW* mw, Region& mr) {
    NTSTATUS s = rig.q()->NdkBind(rig.qp, ctx(90), mr.mr, mw, mr.buffer.data(), 4096,
                                  NDK_OP_FLAG_ALLOW_REMOTE_READ);
    EXPECT_STATUS(STATUS_SUCCESS, s);
    NDK_RESULT_EX r{};
    EXPECT_TRUE(rig.next_completion(&r));
    EXPECT_STATUS(STATUS_SUCCESS, r.Status);
    EXPECT_EQ(ULONG{NdkOperationTypeBind}, static_cast<ULONG>(r.Type));
    return mw->Dispatch->NdkGetRemoteTokenFromMw(mw);
  }
};

TEST_F(InvalidateChecks, send_with_invalidate_of_a_window_invalidates_it_and_reports_it) {
  Region& mr = rig.keep(rig.region(4096, kRemoteWrite));
  NDK_MW* mw = rig.create_mw();
  const UINT32 window = bind_window(mw, mr);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  Bytes payload = pattern(8, 17);
  EXPECT_EQ(
      RxVerdict::Place,
      rig.link().inject(send_segment(1, 0, true, RdmapOpcode::SendInvalidate, window), payload));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(rig.next_completion(&r));
  EXPECT_EQ(ctx(1), r.RequestContext);
  EXPECT_STATUS(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(ULONG{NdkOperationTypeReceiveAndInvalidate}, static_cast<ULONG>(r.Type));
  EXPECT_EQ(uint64_t{window}, r.TypeSpecificCompletionOutput);
  EXPECT_TRUE(rig.link().terminates().empty());
  // The window is invalid now: a Read Request naming it fails row 22 (invalid STag).
  RdmapReadRequest rr{0x1, 0, 8, window, mr.address()};
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(read_request(1, rr)));
  expect_terminate(the_terminate(), {kLayerRdmap, 1, 0x00},
                   untagged_ddp_bytes(true, kOpReadRequest, 0, 1, 1, 0), 18 + 28, rr);
}

TEST_F(InvalidateChecks, send_with_invalidate_of_a_registered_mr_is_terminated_as_access) {
  auto mr = rig.region(4096, kRemoteWrite);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 64, 64, ctx(2)));
  Bytes payload = pattern(8, 18);
  // An NdkRegisterMr region may not be invalidated remotely (NDKPI NDK_FN_SEND_AND_INVALIDATE: only fast-register
  // MRs and windows): RDMAP / Remote Protection / STag cannot be invalidated, +DDP (no R).
  rig.link().inject(send_segment(1, 0, true, RdmapOpcode::SendInvalidate, mr->token()), payload);
  expect_terminate(the_terminate(), {kLayerRdmap, 1, 0x09},
                   untagged_ddp_bytes(true, kOpSendInvalidate, mr->token(), 0, 1, 0), 18 + 8);
  std::vector<NDK_RESULT_EX> got;
  ASSERT_TRUE(rig.collect(&got, 2));
  EXPECT_EQ(ctx(1), got[0].RequestContext);
  EXPECT_NE(status_name(STATUS_SUCCESS), status_name(got[0].Status))
      << "the receive of a Send whose invalidation failed must not succeed";
  EXPECT_EQ(ctx(2), got[1].RequestContext);
  EXPECT_STATUS(STATUS_CANCELLED, got[1].Status);
  expect_abort_event(rig);
}

TEST_F(InvalidateChecks, send_with_invalidate_of_an_invalid_stag_is_terminated_as_operation) {
  Region& mr = rig.keep(rig.region(4096, kRemoteWrite));
  NDK_MW* mw = rig.create_mw();
  const UINT32 window = bind_window(mw, mr);
  ASSERT_STATUS(STATUS_SUCCESS, rig.q()->NdkInvalidate(
                                    rig.qp, ctx(91), reinterpret_cast<NDK_OBJECT_HEADER*>(mw), 0));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(rig.next_completion(&r));
  ASSERT_STATUS(STATUS_SUCCESS, r.Status);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_receive(*receives, 0, 64, ctx(1)));
  Bytes payload = pattern(8, 19);
  // Already invalid: RDMAP / Remote Operation / STag cannot be invalidated, +DDP.
  rig.link().inject(send_segment(1, 0, true, RdmapOpcode::SendSEInvalidate, window), payload);
  expect_terminate(the_terminate(), {kLayerRdmap, 2, 0x09},
                   untagged_ddp_bytes(true, kOpSendSEInvalidate, window, 0, 1, 0), 18 + 8);
  std::vector<NDK_RESULT_EX> got;
  ASSERT_TRUE(rig.collect(&got, 1));
  EXPECT_EQ(ctx(1), got[0].RequestContext);
  EXPECT_NE(status_name(STATUS_SUCCESS), status_name(got[0].Status));
  expect_abort_event(rig);
}

}  // namespace
}  // namespace softndk::test
