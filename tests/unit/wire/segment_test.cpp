// What the RDMAP engines build with the codec: segment sizes of a header a sender fills, the
// Terminate for a failed receive check (RFC 5040 §4.8: which headers it carries), the segment a
// received Terminate names, the Send opcode chosen from the table, and the RTR messages of
// RFC 6581 §5 (what an initiator sends first and how a responder recognises it).
#include <gtest/gtest.h>

#include <array>

#include "wire/ddp.h"
#include "wire/opcode_table.h"
#include "wire/rtr.h"
#include "wire/terminate_codes.h"

namespace softndk::wire {
namespace {

UlpduHeader read_request(uint32_t msn) {
  UlpduHeader h;
  h.ddp_ = make_untagged_header(RdmapOpcode::ReadRequest, true, msn, 0);
  h.read_request_ = {0x80000007, 0x10, 4096, 0x1234, 0x7000};
  set_segment_sizes(h, 0);
  return h;
}

TEST(Segment, sizes_follow_the_opcode_headers) {
  UlpduHeader write;
  write.ddp_ = make_tagged_header(RdmapOpcode::Write, true, 5, 0);
  set_segment_sizes(write, 100);
  EXPECT_EQ(kDdpTaggedHeaderBytes, write.header_bytes_);
  EXPECT_EQ(100u, write.payload_bytes_);
  EXPECT_EQ(kDdpTaggedHeaderBytes + 100, write.ulpdu_bytes_);
  UlpduHeader rr = read_request(1);
  EXPECT_EQ(kDdpUntaggedHeaderBytes + kRdmapReadRequestBytes, rr.ulpdu_bytes_);  // 46
  UlpduHeader t;
  t.ddp_ = make_untagged_header(RdmapOpcode::Terminate, true, 1, 0);
  t.terminate_ = make_terminate(kCheckMsn, rr);
  set_segment_sizes(t, 0);
  EXPECT_EQ(kDdpUntaggedHeaderBytes + terminate_body_bytes(t.terminate_), t.ulpdu_bytes_);
}

TEST(Segment, sizes_match_what_the_decoder_reports) {
  UlpduHeader send;
  send.ddp_ = make_untagged_header(RdmapOpcode::SendSE, false, 9, 64);
  set_segment_sizes(send, 32);
  std::array<std::byte, 128> bytes{};
  auto encoded = encode_ulpdu_header(send, bytes);
  ASSERT_TRUE(encoded.is_ok());
  auto decoded = decode_ulpdu_header({bytes.data(), send.ulpdu_bytes_}, send.ulpdu_bytes_);
  ASSERT_TRUE(decoded.is_complete());
  EXPECT_EQ(send.header_bytes_, decoded.value_.header_bytes_);
  EXPECT_EQ(send.payload_bytes_, decoded.value_.payload_bytes_);
}

TEST(Terminate, for_a_ddp_check_carries_the_offending_ddp_header_and_ulpdu_length) {
  UlpduHeader send;
  send.ddp_ = make_untagged_header(RdmapOpcode::Send, true, 3, 0);
  set_segment_sizes(send, 200);
  TerminateMessage t = make_terminate(kCheckMsn, send);
  EXPECT_EQ(kCheckMsn.reason_, t.reason_);
  ASSERT_TRUE(t.has_ddp_header_);
  EXPECT_TRUE(t.segment_length_valid_);
  EXPECT_EQ(kDdpUntaggedHeaderBytes + 200u, t.ddp_segment_length_);
  EXPECT_FALSE(t.has_rdmap_header_);
  std::array<std::byte, kDdpUntaggedHeaderBytes> expected{};
  ASSERT_TRUE(encode_ddp_header(send.ddp_, expected).is_ok());
  auto got = t.ddp_header();
  ASSERT_EQ(expected.size(), got.size());
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), got.begin()));
}

TEST(Terminate, for_a_read_source_check_also_carries_the_read_request_header) {
  UlpduHeader rr = read_request(4);
  TerminateMessage t = make_terminate(kCheckReadSourceBounds, rr);
  ASSERT_TRUE(t.has_ddp_header_);
  ASSERT_TRUE(t.has_rdmap_header_);
  ASSERT_TRUE(t.read_request_.has_value());
  EXPECT_EQ(rr.read_request_, *t.read_request_);
  // The same header under a DDP-only check carries no RDMAP header.
  EXPECT_FALSE(make_terminate(kCheckMsn, rr).has_rdmap_header_);
}

TEST(Terminate, for_a_framing_check_carries_nothing_or_the_header_as_received) {
  UlpduHeader send;
  send.ddp_ = make_untagged_header(RdmapOpcode::Send, true, 3, 0);
  TerminateMessage crc = make_terminate(kCheckCrc, send);
  EXPECT_FALSE(crc.has_ddp_header_);
  EXPECT_FALSE(crc.segment_length_valid_);
  std::array<std::byte, kDdpUntaggedHeaderBytes> raw{};
  raw.fill(std::byte{0xA5});  // need not decode
  TerminateMessage t = make_terminate(kCheckUlpduLengthForOpcode, raw, 77);
  ASSERT_TRUE(t.has_ddp_header_);
  EXPECT_EQ(77u, t.ddp_segment_length_);
  EXPECT_TRUE(std::equal(raw.begin(), raw.end(), t.ddp_header().begin()));
  EXPECT_FALSE(make_terminate(kCheckUlpduLengthForOpcode, std::span<const std::byte>{}, 77)
                   .has_ddp_header_);
}

TEST(Terminate, names_the_segment_it_carries) {
  UlpduHeader rr = read_request(6);
  auto named = terminated_segment(make_terminate(kCheckReadSourceStagValid, rr));
  ASSERT_TRUE(named.has_value());
  EXPECT_EQ(RdmapOpcode::ReadRequest, named->ddp_.opcode_);
  EXPECT_EQ(6u, named->ddp_.msn_);
  EXPECT_EQ(rr.read_request_, named->read_request_);
  EXPECT_EQ(rr.ulpdu_bytes_, named->ulpdu_bytes_);
  EXPECT_FALSE(terminated_segment(make_terminate(kCheckCrc.reason_)).has_value());
  std::array<std::byte, kDdpUntaggedHeaderBytes> bad{};  // DDP version 0: does not decode
  EXPECT_FALSE(terminated_segment(make_terminate(kCheckMo, bad, 18)).has_value());
}

TEST(OpcodeTable, send_opcodes_come_from_the_table) {
  EXPECT_EQ(RdmapOpcode::Send, send_opcode(false, false));
  EXPECT_EQ(RdmapOpcode::SendInvalidate, send_opcode(false, true));
  EXPECT_EQ(RdmapOpcode::SendSE, send_opcode(true, false));
  EXPECT_EQ(RdmapOpcode::SendSEInvalidate, send_opcode(true, true));
  for (uint8_t op = 0; op < 16; ++op) {
    bool expected = op >= 3 && op <= 6;
    EXPECT_EQ(expected, is_send(static_cast<RdmapOpcode>(op))) << int(op);
    EXPECT_EQ(op == 4 || op == 6, carries_invalidate_stag(static_cast<RdmapOpcode>(op)));
  }
}

TEST(Rtr, messages_are_the_zero_length_first_messages_of_rfc_6581) {
  UlpduHeader write = make_rtr(Rtr::Write);
  EXPECT_TRUE(write.ddp_.tagged_);
  EXPECT_TRUE(write.ddp_.last_);
  EXPECT_EQ(RdmapOpcode::Write, write.ddp_.opcode_);
  EXPECT_EQ(0u, write.payload_bytes_);
  EXPECT_EQ(kDdpTaggedHeaderBytes, write.ulpdu_bytes_);
  UlpduHeader read = make_rtr(Rtr::Read, 1);
  EXPECT_EQ(RdmapOpcode::ReadRequest, read.ddp_.opcode_);
  EXPECT_EQ(1u, read.ddp_.qn_);
  EXPECT_EQ(1u, read.ddp_.msn_);
  EXPECT_EQ(0u, read.read_request_.read_bytes_);
  EXPECT_EQ(46u, read.ulpdu_bytes_);
  UlpduHeader send = make_rtr(Rtr::Send, 1);
  EXPECT_EQ(RdmapOpcode::Send, send.ddp_.opcode_);
  EXPECT_EQ(0u, send.ddp_.qn_);
  for (Rtr kind : {Rtr::Write, Rtr::Read, Rtr::Send}) {
    EXPECT_TRUE(is_rtr(kind, make_rtr(kind, 1))) << to_string(kind);
    for (Rtr other : {Rtr::Write, Rtr::Read, Rtr::Send}) {
      if (other != kind) {
        EXPECT_FALSE(is_rtr(kind, make_rtr(other, 1))) << to_string(kind);
      }
    }
  }
  EXPECT_FALSE(is_rtr(Rtr::None, make_rtr(Rtr::Write)));
}

TEST(Rtr, data_is_not_mistaken_for_an_rtr) {
  UlpduHeader write;
  write.ddp_ = make_tagged_header(RdmapOpcode::Write, true, 5, 0);
  set_segment_sizes(write, 1);
  EXPECT_FALSE(is_rtr(Rtr::Write, write));
  UlpduHeader read = make_rtr(Rtr::Read, 2);  // not the first Read Request
  EXPECT_FALSE(is_rtr(Rtr::Read, read));
  read = make_rtr(Rtr::Read, 1);
  read.read_request_.read_bytes_ = 8;
  EXPECT_FALSE(is_rtr(Rtr::Read, read));
  UlpduHeader send = make_rtr(Rtr::Send, 1);
  send.ddp_.last_ = false;
  EXPECT_FALSE(is_rtr(Rtr::Send, send));
  UlpduHeader response;
  response.ddp_ = make_tagged_header(RdmapOpcode::ReadResponse, true, 0, 0);
  set_segment_sizes(response, 0);
  EXPECT_TRUE(is_rtr_response(response));
  set_segment_sizes(response, 4);
  EXPECT_FALSE(is_rtr_response(response));
}

}  // namespace
}  // namespace softndk::wire
