// DDP/RDMAP headers: the worked-example ULPDU headers (wire_test_util.h) byte for byte both ways, receive checks 2-6 in
// decode_ulpdu_header, the opcode table, Terminate encoding and its ULPDU-bounded decoding, and a
// seeded round trip of random headers.
#include "wire/ddp.h"

#include <gtest/gtest.h>

#include <random>

#include "wire/opcode_table.h"
#include "wire/rdmap.h"
#include "wire_test_util.h"

namespace softndk::wire {
namespace {

using test::Bytes;
using test::from_hex;
using test::to_hex;

// The ULPDU of an FPDU example (drops the length prefix, pad and CRC).
Bytes ulpdu_of(const char* fpdu_hex) {
  const Bytes f = from_hex(fpdu_hex);
  const std::size_t len = (static_cast<std::size_t>(f[0]) << 8) | static_cast<std::size_t>(f[1]);
  return Bytes(f.begin() + 2, f.begin() + 2 + static_cast<std::ptrdiff_t>(len));
}

std::string encode_hex(const UlpduHeader& h) {
  Bytes out(128);
  const auto r = encode_ulpdu_header(h, out);
  EXPECT_TRUE(r.is_ok());
  return to_hex(std::span(out).first(r.bytes_));
}

UlpduHeader decode_ok(std::span<const std::byte> ulpdu) {
  const auto r = decode_ulpdu_header(ulpdu, ulpdu.size());
  EXPECT_TRUE(r.is_complete()) << "check " << int(r.error_.number_);
  return r.value_;
}

ReceiveCheck decode_error(std::span<const std::byte> ulpdu) {
  const auto r = decode_ulpdu_header(ulpdu, ulpdu.size());
  EXPECT_TRUE(r.is_malformed());
  return r.error_;
}

UlpduHeader terminate_header(const TerminateMessage& t) {
  UlpduHeader h;
  h.ddp_ = make_untagged_header(RdmapOpcode::Terminate, true, 1, 0);
  h.terminate_ = t;
  return h;
}

TEST(Ddp, spec_8_3_write_rtr_header_both_ways) {
  const Bytes u = ulpdu_of(test::kSpec83WriteRtr);
  UlpduHeader h;
  h.ddp_ = make_tagged_header(RdmapOpcode::Write, true, 1, 0);
  EXPECT_EQ(encode_hex(h), to_hex(u));
  const UlpduHeader d = decode_ok(u);
  EXPECT_EQ(d.ddp_, h.ddp_);
  EXPECT_EQ(d.header_bytes_, 14u);
  EXPECT_EQ(d.payload_bytes_, 0u);
}

TEST(Ddp, spec_8_4_send_header_both_ways) {
  const Bytes u = ulpdu_of(test::kSpec84Send);
  ASSERT_EQ(u.size(), 31u);
  UlpduHeader h;
  h.ddp_ = make_untagged_header(RdmapOpcode::Send, true, 1, 0);
  EXPECT_EQ(encode_hex(h), to_hex(std::span(u).first(18)));
  const UlpduHeader d = decode_ok(u);
  EXPECT_EQ(d.ddp_, h.ddp_);
  EXPECT_EQ(d.ddp_.qn_, 0u);
  EXPECT_EQ(d.ddp_.msn_, 1u);
  EXPECT_EQ(d.ddp_.mo_, 0u);
  EXPECT_EQ(d.header_bytes_, 18u);
  EXPECT_EQ(d.payload_bytes_, 13u);
}

TEST(Ddp, spec_8_5_read_request_both_ways) {
  const Bytes u = ulpdu_of(test::kSpec85ReadRequest);
  UlpduHeader h;
  h.ddp_ = make_untagged_header(RdmapOpcode::ReadRequest, true, 1, 0);
  h.read_request_ = {.sink_stag_ = 0xCD02,
                     .sink_to_ = 0x2000,
                     .read_bytes_ = 64,
                     .source_stag_ = 0xAB01,
                     .source_to_ = 0x1000};
  EXPECT_EQ(encode_hex(h), to_hex(u));
  const UlpduHeader d = decode_ok(u);
  EXPECT_EQ(d.ddp_, h.ddp_);
  EXPECT_EQ(d.ddp_.qn_, 1u);
  EXPECT_EQ(d.read_request_, h.read_request_);
  EXPECT_EQ(d.header_bytes_, 46u);
  EXPECT_EQ(d.payload_bytes_, 0u);
}

TEST(Ddp, spec_8_5_read_response_header) {
  UlpduHeader h;
  h.ddp_ = make_tagged_header(RdmapOpcode::ReadResponse, true, 0xCD02, 0x2000);
  EXPECT_EQ(encode_hex(h), "c1 42 00 00 cd 02 00 00 00 00 00 00 20 00");
}

TEST(Ddp, spec_8_6_read_rtr_and_zero_length_read_response_both_ways) {
  const Bytes rr = ulpdu_of(test::kSpec86ReadRtr);
  UlpduHeader h;
  h.ddp_ = make_untagged_header(RdmapOpcode::ReadRequest, true, 1, 0);
  h.read_request_ = {.source_stag_ = 1};
  EXPECT_EQ(encode_hex(h), to_hex(rr));
  EXPECT_EQ(decode_ok(rr).read_request_, h.read_request_);

  const Bytes resp = ulpdu_of(test::kSpec86ReadResponse);
  UlpduHeader r;
  r.ddp_ = make_tagged_header(RdmapOpcode::ReadResponse, true, 0, 0);
  EXPECT_EQ(encode_hex(r), to_hex(resp));
  EXPECT_EQ(decode_ok(resp).ddp_, r.ddp_);
}

TEST(Ddp, spec_8_7_terminate_crc_error_both_ways) {
  const Bytes u = ulpdu_of(test::kSpec87TerminateCrc);
  TerminateMessage t;
  t.reason_ = make_reason(LlpErrorCode::CrcError);
  EXPECT_EQ(encode_hex(terminate_header(t)), to_hex(u));
  const UlpduHeader d = decode_ok(u);
  EXPECT_EQ(d.ddp_.qn_, 2u);
  EXPECT_EQ(d.ddp_.msn_, 1u);
  EXPECT_EQ(d.terminate_.reason_, kCheckCrc.reason_);
  EXPECT_FALSE(d.terminate_.segment_length_valid_);
  EXPECT_FALSE(d.terminate_.has_ddp_header_);
  EXPECT_FALSE(d.terminate_.has_rdmap_header_);
  EXPECT_FALSE(d.terminate_.truncated_);
  EXPECT_EQ(d.header_bytes_, 22u);
}

TEST(Ddp, spec_8_8_terminate_with_untagged_header_both_ways) {
  const Bytes u = ulpdu_of(test::kSpec88TerminateDdp);
  Bytes failing(18);
  ASSERT_TRUE(
      encode_ddp_header(make_untagged_header(RdmapOpcode::Send, true, 3, 0), failing).is_ok());
  TerminateMessage t;
  t.reason_ = kCheckMsn.reason_;
  t.segment_length_valid_ = true;
  t.ddp_segment_length_ = 23;
  ASSERT_TRUE(t.set_ddp_header(failing));
  EXPECT_EQ(encode_hex(terminate_header(t)), to_hex(u));

  const UlpduHeader d = decode_ok(u);
  const TerminateMessage& g = d.terminate_;
  EXPECT_EQ(g.reason_, (TerminateReason{1, 2, 3}));
  EXPECT_TRUE(g.segment_length_valid_);
  EXPECT_TRUE(g.has_ddp_header_);
  EXPECT_FALSE(g.has_rdmap_header_);
  EXPECT_EQ(g.ddp_segment_length_, 23);
  EXPECT_EQ(to_hex(g.ddp_header()), to_hex(failing));
  const auto inner = decode_ddp_header(g.ddp_header());
  ASSERT_TRUE(inner.is_complete());
  EXPECT_EQ(inner.value_.msn_, 3u);
  EXPECT_EQ(d.header_bytes_, 42u);
}

TEST(Ddp, first_two_bytes_per_opcode_match_spec_3_1) {
  const struct {
    RdmapOpcode op;
    bool last;
    const char* bytes;
  } rows[] = {{RdmapOpcode::Write, true, "c1 40"},
              {RdmapOpcode::Write, false, "81 40"},
              {RdmapOpcode::ReadRequest, true, "41 41"},
              {RdmapOpcode::ReadResponse, true, "c1 42"},
              {RdmapOpcode::ReadResponse, false, "81 42"},
              {RdmapOpcode::Send, true, "41 43"},
              {RdmapOpcode::Send, false, "01 43"},
              {RdmapOpcode::SendInvalidate, true, "41 44"},
              {RdmapOpcode::SendInvalidate, false, "01 44"},
              {RdmapOpcode::SendSE, true, "41 45"},
              {RdmapOpcode::SendSE, false, "01 45"},
              {RdmapOpcode::SendSEInvalidate, true, "41 46"},
              {RdmapOpcode::SendSEInvalidate, false, "01 46"},
              {RdmapOpcode::Terminate, true, "41 47"}};
  for (const auto& row : rows) {
    const OpcodeInfo& info = opcode_info(row.op);
    DdpHeader h = info.is_tagged_ ? make_tagged_header(row.op, row.last, 0, 0)
                                  : make_untagged_header(row.op, row.last, 1, 0);
    Bytes out(18);
    const auto r = encode_ddp_header(h, out);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(to_hex(std::span(out).first(2)), row.bytes) << info.name_;
    EXPECT_EQ(r.bytes_, info.is_tagged_ ? 14u : 18u);
  }
}

TEST(OpcodeTable, entries_follow_spec_3_1) {
  EXPECT_EQ(kOpcodeTable.size(), 16u);
  EXPECT_TRUE(opcode_info(RdmapOpcode::Write).is_tagged_);
  EXPECT_TRUE(opcode_info(RdmapOpcode::ReadResponse).is_tagged_);
  EXPECT_EQ(opcode_info(RdmapOpcode::ReadRequest).queue_number_, 1);
  EXPECT_EQ(opcode_info(RdmapOpcode::Terminate).queue_number_, 2);
  for (auto op : {RdmapOpcode::Send, RdmapOpcode::SendInvalidate, RdmapOpcode::SendSE,
                  RdmapOpcode::SendSEInvalidate}) {
    EXPECT_EQ(opcode_info(op).queue_number_, 0);
    EXPECT_TRUE(opcode_info(op).has_payload_);
    EXPECT_FALSE(opcode_info(op).is_tagged_);
  }
  EXPECT_EQ(opcode_info(RdmapOpcode::ReadRequest).extra_header_bytes_, 28);
  EXPECT_FALSE(opcode_info(RdmapOpcode::ReadRequest).has_payload_);
  EXPECT_EQ(opcode_info(RdmapOpcode::Terminate).extra_header_bytes_, 4);
  for (std::uint8_t op = 0; op < 16; ++op) EXPECT_EQ(opcode_info(op).is_valid_, op <= 7);
  EXPECT_EQ(to_string(RdmapOpcode::SendSEInvalidate), "SendWithSeAndInvalidate");
}

TEST(Ddp, inval_stag_only_for_invalidate_opcodes) {
  Bytes out(18);
  auto h = make_untagged_header(RdmapOpcode::SendInvalidate, true, 7, 0, 0x11223344);
  ASSERT_TRUE(encode_ddp_header(h, out).is_ok());
  EXPECT_EQ(to_hex(std::span(out).first(6)), "41 44 11 22 33 44");
  EXPECT_EQ(decode_ddp_header(out).value_.inval_stag_, 0x11223344u);

  h = make_untagged_header(RdmapOpcode::Send, true, 7, 0, 0x11223344);
  ASSERT_TRUE(encode_ddp_header(h, out).is_ok());
  EXPECT_EQ(to_hex(std::span(out).first(6)), "41 43 00 00 00 00");
  out[2] = std::byte{0xAA};  // RsvdULP of a plain Send is ignored on receipt
  EXPECT_EQ(decode_ddp_header(out).value_.inval_stag_, 0u);
}

TEST(Ddp, reserved_control_bits_are_ignored_on_receipt) {
  Bytes u = ulpdu_of(test::kSpec83WriteRtr);
  u[0] |= std::byte{0x3C};
  u[1] |= std::byte{0x30};
  const UlpduHeader d = decode_ok(u);
  EXPECT_EQ(d.ddp_, make_tagged_header(RdmapOpcode::Write, true, 1, 0));
}

TEST(Ddp, encoder_rejects_invalid_or_inconsistent_opcodes_and_small_buffers) {
  Bytes out(18);
  EXPECT_EQ(encode_ddp_header(make_tagged_header(RdmapOpcode::Send, true, 0, 0), out).error_,
            EncodeError::InvalidField);
  EXPECT_EQ(encode_ddp_header(make_untagged_header(RdmapOpcode::Write, true, 1, 0), out).error_,
            EncodeError::InvalidField);
  DdpHeader bad = make_untagged_header(RdmapOpcode::Send, true, 1, 0);
  bad.opcode_ = static_cast<RdmapOpcode>(9);
  EXPECT_EQ(encode_ddp_header(bad, out).error_, EncodeError::InvalidField);
  bad.opcode_ = static_cast<RdmapOpcode>(0x17);
  EXPECT_EQ(encode_ddp_header(bad, out).error_, EncodeError::InvalidField);
  EXPECT_EQ(encode_ddp_header(make_untagged_header(RdmapOpcode::Send, true, 1, 0),
                              std::span(out).first(17))
                .error_,
            EncodeError::BufferTooSmall);
  EXPECT_EQ(encode_ddp_header(make_tagged_header(RdmapOpcode::Write, true, 1, 0),
                              std::span(out).first(13))
                .error_,
            EncodeError::BufferTooSmall);
}

TEST(Ddp, ddp_header_decoder_needs_14_or_18_bytes) {
  const Bytes tagged = ulpdu_of(test::kSpec83WriteRtr);
  const Bytes untagged = ulpdu_of(test::kSpec84Send);
  EXPECT_EQ(decode_ddp_header({}).bytes_, 14u);
  for (std::size_t n = 1; n < 14; ++n) {
    EXPECT_EQ(decode_ddp_header(std::span(tagged).first(n)).bytes_, 14 - n);
  }
  for (std::size_t n = 1; n < 18; ++n) {
    EXPECT_EQ(decode_ddp_header(std::span(untagged).first(n)).bytes_, 18 - n);
  }
}

// ---- receive checks 2-6 ----

TEST(UlpduChecks, check2_ulpdu_shorter_than_a_ddp_header) {
  const Bytes tagged = ulpdu_of(test::kSpec83WriteRtr);
  for (std::size_t len = 0; len < 14; ++len) {
    const auto r = decode_ulpdu_header(std::span(tagged).first(len), len);
    ASSERT_TRUE(r.is_malformed());
    EXPECT_EQ(r.error_.reason_, (TerminateReason{0, 2, 7}));
    EXPECT_EQ(r.error_.number_, 2);
  }
  const Bytes untagged = ulpdu_of(test::kSpec84Send);
  for (std::size_t len = 14; len < 18; ++len) {
    EXPECT_EQ(decode_error(std::span(untagged).first(len)).number_, 2) << len;
    // Known as soon as byte 0 (T) is there.
    EXPECT_TRUE(decode_ulpdu_header(std::span(untagged).first(1), len).is_malformed());
  }
}

TEST(UlpduChecks, check3_ddp_version_code_depends_on_t) {
  Bytes tagged = ulpdu_of(test::kSpec83WriteRtr);
  Bytes untagged = ulpdu_of(test::kSpec84Send);
  for (const std::uint8_t dv : {0, 2, 3}) {
    tagged[0] = static_cast<std::byte>(0xC0 | dv);
    untagged[0] = static_cast<std::byte>(0x40 | dv);
    EXPECT_EQ(decode_error(tagged).reason_, (TerminateReason{1, 1, 4}));
    EXPECT_EQ(decode_error(untagged).reason_, (TerminateReason{1, 2, 6}));
    EXPECT_EQ(decode_error(untagged).includes_, TerminateIncludes::Nothing);
  }
  // DV is checked before RV.
  untagged[1] = std::byte{0x03};
  EXPECT_EQ(decode_error(untagged).number_, 3);
}

TEST(UlpduChecks, check4_rdmap_version) {
  Bytes u = ulpdu_of(test::kSpec84Send);
  for (const std::uint8_t rv : {0x03, 0x83, 0xC3}) {
    u[1] = std::byte{rv};
    EXPECT_EQ(decode_error(u).reason_, (TerminateReason{0, 2, 5}));
  }
  u[1] = std::byte{0x0F};  // RV 0 is reported before the invalid opcode
  EXPECT_EQ(decode_error(u).number_, 4);
}

TEST(UlpduChecks, check5_unknown_opcode_or_t_mismatch) {
  for (std::uint8_t op = 8; op < 16; ++op) {
    Bytes u = ulpdu_of(test::kSpec84Send);
    u[1] = static_cast<std::byte>(0x40 | op);
    EXPECT_EQ(decode_error(u).reason_, (TerminateReason{0, 2, 6})) << int(op);
    Bytes t = ulpdu_of(test::kSpec83WriteRtr);
    t[1] = static_cast<std::byte>(0x40 | op);
    EXPECT_EQ(decode_error(t).number_, 5) << int(op);
  }
  Bytes send_tagged = ulpdu_of(test::kSpec84Send);
  send_tagged[0] = std::byte{0xC1};  // T=1 with opcode Send
  EXPECT_EQ(decode_error(send_tagged).reason_, (TerminateReason{0, 2, 6}));
  Bytes write_untagged = ulpdu_of(test::kSpec84Send);
  write_untagged[1] = std::byte{0x40};  // T=0 with opcode Write
  EXPECT_EQ(decode_error(write_untagged).number_, 5);
}

TEST(UlpduChecks, check6_ulpdu_length_must_fit_the_opcode) {
  Bytes rr = ulpdu_of(test::kSpec85ReadRequest);
  for (const std::size_t len : {18u, 45u}) {
    const auto r = decode_ulpdu_header(rr, len);
    ASSERT_TRUE(r.is_malformed());
    EXPECT_EQ(r.error_.reason_, (TerminateReason{0, 2, 7}));
    EXPECT_EQ(r.error_.number_, 6);
    EXPECT_EQ(r.error_.includes_, TerminateIncludes::DdpHeader);
  }
  rr.resize(50);  // payload after a Read Request
  EXPECT_EQ(decode_error(rr).number_, 6);
  const Bytes term = ulpdu_of(test::kSpec87TerminateCrc);
  for (std::size_t len = 18; len < 22; ++len) {
    EXPECT_EQ(decode_error(std::span(term).first(len)).number_, 6) << len;
  }
  EXPECT_TRUE(decode_ulpdu_header(term, 22).is_complete());
  static_assert(ulpdu_length_fits_opcode(RdmapOpcode::Write, 14));
  static_assert(ulpdu_length_fits_opcode(RdmapOpcode::Send, 65535));
  static_assert(!ulpdu_length_fits_opcode(RdmapOpcode::ReadRequest, 47));
}

TEST(UlpduChecks, need_more_never_asks_beyond_the_ulpdu) {
  for (const Bytes& fpdu : test::spec_fpdu_examples()) {
    const std::size_t len =
        (static_cast<std::size_t>(fpdu[0]) << 8) | static_cast<std::size_t>(fpdu[1]);
    const auto u = std::span<const std::byte>(fpdu).subspan(2, len);
    const auto full = decode_ulpdu_header(u, len);
    ASSERT_TRUE(full.is_complete());
    for (std::size_t n = 0; n < full.bytes_; ++n) {
      const auto r = decode_ulpdu_header(u.first(n), len);
      ASSERT_TRUE(r.is_need_more()) << n;
      EXPECT_LE(n + r.bytes_, len);
      EXPECT_GE(r.bytes_, 1u);
    }
  }
}

// ---- Terminate ----

TEST(Terminate, encodes_untagged_header_and_read_request_70_byte_ulpdu) {
  const Bytes rr = ulpdu_of(test::kSpec85ReadRequest);
  TerminateMessage t;
  t.reason_ = kCheckReadSourceStagValid.reason_;
  t.segment_length_valid_ = true;
  t.ddp_segment_length_ = 46;
  ASSERT_TRUE(t.set_ddp_header(std::span(rr).first(18)));
  t.has_rdmap_header_ = true;
  t.read_request_ = decode_read_request(std::span(rr).subspan(18)).value_;
  EXPECT_EQ(terminate_body_bytes(t), 52u);
  Bytes out(70);
  const auto e = encode_ulpdu_header(terminate_header(t), out);
  ASSERT_TRUE(e.is_ok());
  ASSERT_EQ(e.bytes_, 70u);
  EXPECT_EQ(to_hex(std::span(out).subspan(18, 6)), "01 00 e0 00 00 2e");
  EXPECT_EQ(to_hex(std::span(out).subspan(24)), to_hex(rr));
  const UlpduHeader d = decode_ok(out);
  EXPECT_EQ(d.terminate_.read_request_, t.read_request_);
  EXPECT_EQ(to_hex(d.terminate_.ddp_header()), to_hex(std::span(rr).first(18)));
  EXPECT_FALSE(d.terminate_.truncated_);
  EXPECT_EQ(d.header_bytes_, 70u);
}

TEST(Terminate, encodes_tagged_header_38_byte_ulpdu) {
  const Bytes w = ulpdu_of(test::kSpec83WriteRtr);
  TerminateMessage t;
  t.reason_ = kCheckTaggedBounds.reason_;
  t.segment_length_valid_ = true;
  t.ddp_segment_length_ = 14;
  ASSERT_TRUE(t.set_ddp_header(w));
  Bytes out(38);
  ASSERT_EQ(encode_ulpdu_header(terminate_header(t), out).bytes_, 38u);
  const UlpduHeader d = decode_ok(out);
  EXPECT_EQ(d.terminate_.ddp_header_bytes_, 14);
  EXPECT_EQ(to_hex(d.terminate_.ddp_header()), to_hex(w));
  EXPECT_EQ(d.terminate_.reason_, (TerminateReason{1, 1, 1}));
}

TEST(Terminate, encoder_rejects_inconsistent_messages) {
  Bytes out(80);
  TerminateMessage t;
  t.reason_ = {16, 0, 0};
  EXPECT_EQ(encode_terminate(t, out).error_, EncodeError::InvalidField);
  t.reason_ = {0, 16, 0};
  EXPECT_EQ(encode_terminate(t, out).error_, EncodeError::InvalidField);
  t.reason_ = {};
  t.has_ddp_header_ = true;  // without bytes
  EXPECT_EQ(encode_terminate(t, out).error_, EncodeError::InvalidField);
  t.has_ddp_header_ = false;
  t.has_rdmap_header_ = true;  // without a Read Request
  EXPECT_EQ(encode_terminate(t, out).error_, EncodeError::InvalidField);
  t.has_rdmap_header_ = false;
  EXPECT_EQ(encode_terminate(t, std::span(out).first(3)).error_, EncodeError::BufferTooSmall);
  EXPECT_FALSE(t.set_ddp_header(std::span(out).first(15)));
}

TEST(Terminate, body_shorter_than_four_bytes_is_malformed) {
  const Bytes body = from_hex("20 02 00");
  for (std::size_t n = 0; n <= 3; ++n) {
    const auto r = decode_terminate(std::span(body).first(n));
    ASSERT_TRUE(r.is_malformed());
    EXPECT_EQ(r.error_, kCheckUlpduLengthForOpcode.reason_);
  }
}

TEST(Terminate, decoding_is_bounded_by_the_ulpdu_for_every_truncation) {
  const Bytes rr = ulpdu_of(test::kSpec85ReadRequest);
  TerminateMessage t;
  t.reason_ = kCheckReadSourceBounds.reason_;
  t.segment_length_valid_ = true;
  t.ddp_segment_length_ = 46;
  ASSERT_TRUE(t.set_ddp_header(std::span(rr).first(18)));
  t.has_rdmap_header_ = true;
  t.read_request_ = decode_read_request(std::span(rr).subspan(18)).value_;
  Bytes body(52);
  ASSERT_EQ(encode_terminate(t, body).bytes_, 52u);
  for (std::size_t n = 4; n <= 52; ++n) {
    // Copy into an exactly-sized buffer so ASan catches any read beyond the ULPDU.
    const Bytes cut(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(n));
    const auto r = decode_terminate(cut);
    ASSERT_TRUE(r.is_complete()) << n;
    const TerminateMessage& g = r.value_;
    EXPECT_LE(r.bytes_, n);
    EXPECT_TRUE(g.has_ddp_header_);
    EXPECT_TRUE(g.has_rdmap_header_);
    EXPECT_EQ(g.truncated_, n < 52) << n;
    EXPECT_EQ(g.ddp_segment_length_, n >= 6 ? 46 : 0) << n;
    EXPECT_EQ(g.ddp_header_bytes_, n >= 24 ? 18 : 0) << n;
    EXPECT_EQ(g.read_request_.has_value(), n == 52) << n;
  }
}

TEST(Terminate, siw_r_bit_without_read_request_header_is_tolerated) {
  const Bytes send = ulpdu_of(test::kSpec84Send);
  Bytes body = from_hex("01 09 e0 00 00 1f");  // RDMAP / Remote Protection / 0x09, M D R
  body.insert(body.end(), send.begin(), send.begin() + 18);
  const auto r = decode_terminate(body);
  ASSERT_TRUE(r.is_complete());
  EXPECT_TRUE(r.value_.has_rdmap_header_);
  EXPECT_FALSE(r.value_.read_request_.has_value());
  EXPECT_TRUE(r.value_.truncated_);
  EXPECT_EQ(r.value_.ddp_header_bytes_, 18);
  EXPECT_EQ(r.bytes_, 24u);
}

TEST(Terminate, cxgb4_llp_type_3_and_arbitrary_codes_are_reported_raw) {
  const auto r = decode_terminate(from_hex("23 02 00 00"));
  ASSERT_TRUE(r.is_complete());
  EXPECT_EQ(r.value_.reason_, (TerminateReason{2, 3, 2}));
}

TEST(Terminate, trailing_junk_beyond_52_body_bytes_is_payload) {
  Bytes u = ulpdu_of(test::kSpec87TerminateCrc);
  u.resize(200, std::byte{0xEE});
  const UlpduHeader d = decode_ok(u);
  EXPECT_EQ(d.header_bytes_, 70u);
  EXPECT_EQ(d.payload_bytes_, 130u);
  EXPECT_EQ(d.terminate_.reason_, (TerminateReason{2, 0, 2}));
}

// ---- property: random headers round-trip ----

TEST(Ddp, seeded_random_ulpdu_headers_round_trip) {
  std::mt19937_64 rng(5041);
  Bytes buf(128);
  for (int i = 0; i < 20000; ++i) {
    const auto op = static_cast<RdmapOpcode>(rng() % 8);
    const OpcodeInfo& info = opcode_info(op);
    UlpduHeader h;
    if (info.is_tagged_) {
      h.ddp_ = make_tagged_header(op, rng() & 1, static_cast<std::uint32_t>(rng()), rng());
    } else {
      h.ddp_ = make_untagged_header(
          op, rng() & 1, static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng()),
          carries_invalidate_stag(op) ? static_cast<std::uint32_t>(rng()) : 0);
      h.ddp_.qn_ = static_cast<std::uint32_t>(rng());  // any QN decodes; check 8 is the engine's
    }
    if (op == RdmapOpcode::ReadRequest) {
      h.read_request_ = {static_cast<std::uint32_t>(rng()), rng(),
                         static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng()),
                         rng()};
    }
    if (op == RdmapOpcode::Terminate) {
      TerminateMessage& t = h.terminate_;
      t.reason_ = {static_cast<std::uint8_t>(rng() & 0xF), static_cast<std::uint8_t>(rng() & 0xF),
                   static_cast<std::uint8_t>(rng())};
      t.segment_length_valid_ = rng() & 1;
      if (rng() & 1) {
        Bytes inner(18);
        const bool tagged = rng() & 1;
        for (auto& b : inner) b = static_cast<std::byte>(rng());
        inner[0] = (inner[0] & std::byte{0x7F}) | (tagged ? std::byte{0x80} : std::byte{0});
        ASSERT_TRUE(t.set_ddp_header(std::span(inner).first(tagged ? 14 : 18)));
        t.ddp_segment_length_ = static_cast<std::uint16_t>(rng());
      }
      if (rng() & 1) {
        t.has_rdmap_header_ = true;
        t.read_request_ = RdmapReadRequest{static_cast<std::uint32_t>(rng()), rng(), 7, 9, rng()};
      }
    }
    const auto e = encode_ulpdu_header(h, buf);
    ASSERT_TRUE(e.is_ok());
    const std::size_t payload = info.has_payload_ ? rng() % 1000 : 0;
    const std::size_t len = e.bytes_ + payload;
    const auto d = decode_ulpdu_header(std::span(buf).first(e.bytes_), len);
    ASSERT_TRUE(d.is_complete()) << "check " << int(d.error_.number_);
    ASSERT_EQ(d.bytes_, e.bytes_);
    ASSERT_EQ(d.value_.ddp_, h.ddp_);
    ASSERT_EQ(d.value_.payload_bytes_, payload);
    if (op == RdmapOpcode::ReadRequest) {
      ASSERT_EQ(d.value_.read_request_, h.read_request_);
    }
    if (op == RdmapOpcode::Terminate) {
      const TerminateMessage& a = h.terminate_;
      const TerminateMessage& b = d.value_.terminate_;
      ASSERT_EQ(a.reason_, b.reason_);
      ASSERT_EQ(a.segment_length_valid_, b.segment_length_valid_);
      ASSERT_EQ(a.has_ddp_header_, b.has_ddp_header_);
      ASSERT_EQ(a.has_rdmap_header_, b.has_rdmap_header_);
      ASSERT_EQ(a.ddp_segment_length_, b.ddp_segment_length_);
      ASSERT_EQ(to_hex(a.ddp_header()), to_hex(b.ddp_header()));
      ASSERT_EQ(a.read_request_, b.read_request_);
      ASSERT_FALSE(b.truncated_);
    }
  }
}

}  // namespace
}  // namespace softndk::wire
