// FpduReader: every worked-example FPDU split at every one and two byte boundaries and fed one byte
// at a time, direct placement, CRC errors (check 1, also ahead of header errors), checks 2-6,
// the terminal Failed state, and a seeded random stream property test.
#include "wire/fpdu_reader.h"

#include <gtest/gtest.h>

#include <random>

#include "wire_test_util.h"

namespace softndk::wire {
namespace {

using test::Bytes;
using test::from_hex;
using test::read_stream;
using test::to_hex;

struct Expected {
  const char* hex;
  DdpHeader ddp;
  std::size_t payload_bytes;
};

std::vector<Expected> expectations() {
  return {
      {test::kSpec83WriteRtr, make_tagged_header(RdmapOpcode::Write, true, 1, 0), 0},
      {test::kSpec84Send, make_untagged_header(RdmapOpcode::Send, true, 1, 0), 13},
      {test::kSpec85ReadRequest, make_untagged_header(RdmapOpcode::ReadRequest, true, 1, 0), 0},
      {test::kSpec86ReadRtr, make_untagged_header(RdmapOpcode::ReadRequest, true, 1, 0), 0},
      {test::kSpec86ReadResponse, make_tagged_header(RdmapOpcode::ReadResponse, true, 0, 0), 0},
      {test::kSpec87TerminateCrc, make_untagged_header(RdmapOpcode::Terminate, true, 1, 0), 0},
      {test::kSpec88TerminateDdp, make_untagged_header(RdmapOpcode::Terminate, true, 1, 0), 0},
  };
}

void expect_single_fpdu(const test::ReadResult& r, const Expected& e, const std::string& where) {
  ASSERT_FALSE(r.malformed_) << where << " check " << int(r.check_.number_);
  ASSERT_EQ(r.fpdus_.size(), 1u) << where;
  const test::ReadFpdu& f = r.fpdus_[0];
  EXPECT_EQ(f.header_.ddp_, e.ddp) << where;
  EXPECT_EQ(f.payload_.size(), e.payload_bytes) << where;
  EXPECT_TRUE(f.crc_verified_) << where;
}

auto whole(std::size_t) {
  return std::size_t{1} << 20;
}

TEST(FpduReader, spec_examples_decode_with_their_fields) {
  for (const Expected& e : expectations()) {
    const Bytes fpdu = from_hex(e.hex);
    std::string error;
    const auto r = read_stream(fpdu, true, whole, &error);
    EXPECT_EQ(error, "");
    expect_single_fpdu(r, e, e.hex);
    EXPECT_EQ(r.consumed_bytes_, fpdu.size());
  }
  const Bytes send = from_hex(test::kSpec84Send);
  const auto r = read_stream(send, true, whole);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r.fpdus_[0].payload_.data()), 13),
            "Hello, iWARP!");
  const auto rr = read_stream(from_hex(test::kSpec85ReadRequest), true, whole);
  EXPECT_EQ(rr.fpdus_[0].header_.read_request_,
            (RdmapReadRequest{0xCD02, 0x2000, 64, 0xAB01, 0x1000}));
  const auto term = read_stream(from_hex(test::kSpec88TerminateDdp), true, whole);
  EXPECT_EQ(term.fpdus_[0].header_.terminate_.reason_, (TerminateReason{1, 2, 3}));
  EXPECT_EQ(term.fpdus_[0].header_.terminate_.ddp_segment_length_, 23);
}

TEST(FpduReader, every_example_split_at_every_one_and_two_boundaries) {
  for (const Expected& e : expectations()) {
    const Bytes fpdu = from_hex(e.hex);
    const std::size_t n = fpdu.size();
    for (std::size_t a = 0; a <= n; ++a) {
      for (std::size_t b = a; b <= n; ++b) {
        const std::size_t sizes[] = {a, b - a, n - b};
        std::size_t k = 0;
        std::vector<std::size_t> chunks;
        for (const std::size_t s : sizes) {
          if (s != 0) chunks.push_back(s);
        }
        std::string error;
        const auto r = read_stream(
            fpdu, true, [&](std::size_t) { return k < chunks.size() ? chunks[k++] : n; }, &error);
        const std::string where = std::string(e.hex).substr(0, 11) + " split " + std::to_string(a) +
                                  "/" + std::to_string(b);
        ASSERT_EQ(error, "") << where;
        expect_single_fpdu(r, e, where);
      }
    }
  }
}

TEST(FpduReader, all_examples_as_one_stream_one_byte_at_a_time) {
  Bytes stream;
  for (const Expected& e : expectations()) {
    const Bytes f = from_hex(e.hex);
    stream.insert(stream.end(), f.begin(), f.end());
  }
  std::string error;
  const auto r = read_stream(
      stream, true, [](std::size_t) { return std::size_t{1}; }, &error);
  EXPECT_EQ(error, "");
  ASSERT_FALSE(r.malformed_);
  ASSERT_EQ(r.fpdus_.size(), expectations().size());
  for (std::size_t i = 0; i < r.fpdus_.size(); ++i) {
    EXPECT_EQ(r.fpdus_[i].header_.ddp_, expectations()[i].ddp) << i;
  }
  EXPECT_EQ(r.consumed_bytes_, stream.size());
}

TEST(FpduReader, crc_off_ignores_the_crc_field) {
  for (const char* hex : {test::kSpec84SendNoCrc, test::kSpec84Send}) {
    const auto r = read_stream(from_hex(hex), false, whole);
    ASSERT_FALSE(r.malformed_);
    ASSERT_EQ(r.fpdus_.size(), 1u);
    EXPECT_FALSE(r.fpdus_[0].crc_verified_);
    EXPECT_EQ(r.fpdus_[0].payload_.size(), 13u);
  }
  // The same zero CRC field is a CRC error when CRC was negotiated.
  const auto bad = read_stream(from_hex(test::kSpec84SendNoCrc), true, whole);
  ASSERT_TRUE(bad.malformed_);
  EXPECT_EQ(bad.check_.reason_, (TerminateReason{2, 0, 2}));
}

TEST(FpduReader, any_corrupted_byte_after_the_length_is_llp_crc_error) {
  for (const Expected& e : expectations()) {
    const Bytes good = from_hex(e.hex);
    for (std::size_t i = 2; i < good.size(); ++i) {
      for (const std::uint8_t flip : {0x01, 0x80, 0xFF}) {
        Bytes bad = good;
        bad[i] ^= std::byte{flip};
        const auto r = read_stream(bad, true, whole);
        ASSERT_TRUE(r.malformed_) << e.hex << " byte " << i;
        // Check 1 comes first even when the corruption also breaks the header (checks 2-6).
        EXPECT_EQ(r.check_.reason_, kCheckCrc.reason_) << e.hex << " byte " << i;
        EXPECT_EQ(r.check_.number_, 1);
        EXPECT_EQ(r.check_.includes_, TerminateIncludes::Nothing);
        EXPECT_EQ(r.fpdus_.size(), 0u);
        EXPECT_EQ(r.consumed_bytes_, good.size());  // the whole FPDU, its CRC field included
      }
    }
  }
}

// Wraps `ulpdu` into an FPDU with a correct CRC (or a wrong one).
Bytes frame(const Bytes& ulpdu, bool good_crc = true) {
  Bytes out(fpdu_bytes(ulpdu.size()));
  EXPECT_TRUE(encode_fpdu(ulpdu, true, out).is_ok());
  if (!good_crc) out.back() ^= std::byte{1};
  return out;
}

Bytes ulpdu_of(const char* hex) {
  const Bytes f = from_hex(hex);
  return Bytes(f.begin() + 2,
               f.begin() + 2 + ((static_cast<int>(f[0]) << 8) | static_cast<int>(f[1])));
}

ReceiveCheck read_error(const Bytes& fpdu) {
  std::string error;
  const auto r = read_stream(fpdu, true, whole, &error);
  EXPECT_TRUE(r.malformed_);
  EXPECT_TRUE(r.fpdus_.empty());
  EXPECT_EQ(r.consumed_bytes_, fpdu.size());  // reported only after the whole FPDU
  // The same result byte by byte.
  const auto slow = read_stream(fpdu, true, [](std::size_t) { return std::size_t{1}; });
  EXPECT_TRUE(slow.malformed_);
  EXPECT_EQ(slow.check_.reason_, r.check_.reason_);
  return r.check_;
}

TEST(FpduReader, check2_ulpdu_too_short) {
  for (std::size_t len : {0u, 1u, 2u, 13u}) {
    Bytes u = ulpdu_of(test::kSpec83WriteRtr);
    u.resize(len);
    EXPECT_EQ(read_error(frame(u)).reason_, (TerminateReason{0, 2, 7})) << len;
    EXPECT_EQ(read_error(frame(u, false)).reason_, kCheckCrc.reason_) << len;
  }
  for (std::size_t len = 14; len < 18; ++len) {
    Bytes u = ulpdu_of(test::kSpec84Send);
    u.resize(len);
    EXPECT_EQ(read_error(frame(u)).number_, 2) << len;
  }
}

TEST(FpduReader, check3_ddp_version) {
  Bytes t = ulpdu_of(test::kSpec83WriteRtr);
  t[0] = std::byte{0xC2};
  EXPECT_EQ(read_error(frame(t)).reason_, (TerminateReason{1, 1, 4}));
  Bytes u = ulpdu_of(test::kSpec84Send);
  u[0] = std::byte{0x40};
  EXPECT_EQ(read_error(frame(u)).reason_, (TerminateReason{1, 2, 6}));
  EXPECT_EQ(read_error(frame(u, false)).reason_, kCheckCrc.reason_);
}

TEST(FpduReader, check4_rdmap_version) {
  Bytes u = ulpdu_of(test::kSpec84Send);
  u[1] = std::byte{0x83};
  EXPECT_EQ(read_error(frame(u)).reason_, (TerminateReason{0, 2, 5}));
}

TEST(FpduReader, check5_opcode) {
  Bytes u = ulpdu_of(test::kSpec84Send);
  u[1] = std::byte{0x48};
  EXPECT_EQ(read_error(frame(u)).reason_, (TerminateReason{0, 2, 6}));
  Bytes t = ulpdu_of(test::kSpec83WriteRtr);
  t[1] = std::byte{0x43};  // Send opcode with T=1
  EXPECT_EQ(read_error(frame(t)).reason_, (TerminateReason{0, 2, 6}));
}

TEST(FpduReader, check6_length_for_opcode_carries_the_ddp_header) {
  Bytes rr = ulpdu_of(test::kSpec85ReadRequest);
  rr.push_back(std::byte{0});  // payload after a Read Request
  const Bytes fpdu = frame(rr);
  FpduReader reader(true);
  const FpduEvent ev = reader.feed(fpdu);
  ASSERT_EQ(ev.kind_, FpduEventKind::Malformed);
  EXPECT_EQ(ev.check_.reason_, (TerminateReason{0, 2, 7}));
  EXPECT_EQ(ev.check_.number_, 6);
  EXPECT_EQ(ev.check_.includes_, TerminateIncludes::DdpHeader);
  EXPECT_EQ(to_hex(reader.received_ddp_header()), to_hex(std::span(rr).first(18)));
  EXPECT_EQ(reader.ulpdu_bytes(), 47u);

  Bytes term = ulpdu_of(test::kSpec87TerminateCrc);
  term.resize(21);
  EXPECT_EQ(read_error(frame(term)).number_, 6);
  Bytes short_rr = ulpdu_of(test::kSpec85ReadRequest);
  short_rr.resize(45);
  EXPECT_EQ(read_error(frame(short_rr)).number_, 6);
}

TEST(FpduReader, failed_state_is_terminal) {
  Bytes u = ulpdu_of(test::kSpec84Send);
  u[0] = std::byte{0x42};
  Bytes stream = frame(u);
  const Bytes next = from_hex(test::kSpec83WriteRtr);
  stream.insert(stream.end(), next.begin(), next.end());
  FpduReader reader(true);
  const FpduEvent ev = reader.feed(stream);
  ASSERT_EQ(ev.kind_, FpduEventKind::Malformed);
  EXPECT_EQ(ev.consumed_bytes_, stream.size() - next.size());  // stops at the failing FPDU's end
  EXPECT_EQ(reader.state(), FpduReaderState::Failed);
  const FpduEvent again = reader.feed(std::span(stream).subspan(ev.consumed_bytes_));
  EXPECT_EQ(again.kind_, FpduEventKind::Malformed);
  EXPECT_EQ(again.consumed_bytes_, 0u);
  EXPECT_EQ(again.check_.reason_, ev.check_.reason_);
  EXPECT_FALSE(reader.consume_payload_external({}));
  reader.reset(true);
  EXPECT_TRUE(reader.at_fpdu_boundary());
  EXPECT_EQ(reader.feed(next).kind_, FpduEventKind::Header);
}

TEST(FpduReader, direct_placement_mixed_with_payload_events) {
  const Bytes fpdu = from_hex(test::kSpec84Send);
  for (std::size_t buffered = 0; buffered <= 13; ++buffered) {
    for (std::size_t piece = 1; piece <= 13; ++piece) {
      FpduReader reader(true);
      // The transport read the header plus `buffered` payload bytes into its staging buffer.
      std::span<const std::byte> staging = std::span(fpdu).first(20 + buffered);
      FpduEvent ev = reader.feed(staging);
      ASSERT_EQ(ev.kind_, FpduEventKind::Header);
      EXPECT_EQ(ev.consumed_bytes_, 20u);
      EXPECT_EQ(ev.header_->payload_bytes_, 13u);
      staging = staging.subspan(ev.consumed_bytes_);
      Bytes target;
      if (!staging.empty()) {
        ev = reader.feed(staging);
        ASSERT_EQ(ev.kind_, FpduEventKind::Payload);
        target.insert(target.end(), ev.payload_.begin(), ev.payload_.end());
        EXPECT_EQ(ev.payload_.data(), staging.data());  // zero copy: points into the input
      }
      // The rest arrives straight from the "socket" into target memory.
      std::size_t pos = 20 + buffered;
      while (reader.payload_remaining() > 0) {
        const std::size_t n = std::min(piece, reader.payload_remaining());
        target.insert(target.end(), fpdu.begin() + pos, fpdu.begin() + pos + n);
        ASSERT_TRUE(reader.consume_payload_external(std::span(target).last(n)));
        pos += n;
      }
      EXPECT_EQ(reader.state(), FpduReaderState::Trailer);
      ev = reader.feed(std::span(fpdu).subspan(pos));
      ASSERT_EQ(ev.kind_, FpduEventKind::Complete);
      EXPECT_TRUE(ev.crc_verified_);
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(target.data()), target.size()),
                "Hello, iWARP!");
      EXPECT_TRUE(reader.at_fpdu_boundary());
    }
  }
}

TEST(FpduReader, external_placement_of_corrupted_payload_fails_the_crc) {
  const Bytes fpdu = from_hex(test::kSpec84Send);
  FpduReader reader(true);
  ASSERT_EQ(reader.feed(std::span(fpdu).first(20)).kind_, FpduEventKind::Header);
  Bytes placed(fpdu.begin() + 20, fpdu.begin() + 33);
  placed[5] = std::byte{'!'};
  ASSERT_TRUE(reader.consume_payload_external(placed));
  const FpduEvent ev = reader.feed(std::span(fpdu).subspan(33));
  ASSERT_EQ(ev.kind_, FpduEventKind::Malformed);
  EXPECT_EQ(ev.check_.reason_, kCheckCrc.reason_);
}

TEST(FpduReader, external_placement_misuse_is_refused) {
  const Bytes fpdu = from_hex(test::kSpec84Send);
  FpduReader reader(true);
  const Bytes payload(fpdu.begin() + 20, fpdu.begin() + 33);
  EXPECT_FALSE(reader.consume_payload_external(payload));  // no header yet
  ASSERT_EQ(reader.feed(std::span(fpdu).first(20)).kind_, FpduEventKind::Header);
  const Bytes too_much(14);
  EXPECT_FALSE(reader.consume_payload_external(too_much));
  EXPECT_EQ(reader.payload_remaining(), 13u);
  ASSERT_TRUE(reader.consume_payload_external(payload));
  EXPECT_FALSE(reader.consume_payload_external(std::span(payload).first(1)));
  EXPECT_EQ(reader.feed(std::span(fpdu).subspan(33)).kind_, FpduEventKind::Complete);
}

TEST(FpduReader, need_more_hints_end_the_current_step) {
  const Bytes fpdu = from_hex(test::kSpec84Send);
  FpduReader reader(true);
  FpduEvent ev = reader.feed({});
  EXPECT_EQ(ev.kind_, FpduEventKind::NeedMore);
  EXPECT_EQ(ev.need_bytes_, 2u);
  ev = reader.feed(std::span(fpdu).first(2));
  EXPECT_EQ(ev.need_bytes_, 14u);  // T still unknown: at least a tagged header
  ev = reader.feed(std::span(fpdu).subspan(2, 14));
  EXPECT_EQ(ev.need_bytes_, 4u);  // untagged: 4 more header bytes
  ev = reader.feed(std::span(fpdu).subspan(16, 4));
  ASSERT_EQ(ev.kind_, FpduEventKind::Header);
  ev = reader.feed({});
  EXPECT_EQ(ev.need_bytes_, 13u);  // payload
  EXPECT_TRUE(reader.consume_payload_external(std::span(fpdu).subspan(20, 13)));
  ev = reader.feed({});
  EXPECT_EQ(ev.need_bytes_, 7u);  // pad 3 + CRC 4
  EXPECT_FALSE(reader.at_fpdu_boundary());
  ev = reader.feed(std::span(fpdu).subspan(33));
  EXPECT_EQ(ev.kind_, FpduEventKind::Complete);
  EXPECT_EQ(&reader.header(), ev.header_);
  EXPECT_EQ(reader.header().payload_bytes_, 13u);  // still valid after Complete
}

TEST(FpduReader, long_terminate_body_is_header_plus_ignorable_payload) {
  Bytes u = ulpdu_of(test::kSpec88TerminateDdp);
  u.resize(300, std::byte{0xEE});
  std::string error;
  const auto r = read_stream(
      frame(u), true, [](std::size_t i) { return 1 + i % 5; }, &error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(r.fpdus_.size(), 1u);
  EXPECT_EQ(r.fpdus_[0].header_.header_bytes_, 70u);
  EXPECT_EQ(r.fpdus_[0].payload_.size(), 230u);
  EXPECT_EQ(r.fpdus_[0].header_.terminate_.reason_, (TerminateReason{1, 2, 3}));
}

TEST(FpduReader, maximum_ulpdu_is_accepted) {
  Bytes header(18);
  ASSERT_TRUE(
      encode_ddp_header(make_untagged_header(RdmapOpcode::Send, true, 1, 0), header).is_ok());
  Bytes u(65535, std::byte{0x77});
  std::copy(header.begin(), header.end(), u.begin());
  const auto r = read_stream(frame(u), true, [](std::size_t i) { return 1000 + i; });
  ASSERT_FALSE(r.malformed_);
  ASSERT_EQ(r.fpdus_.size(), 1u);
  EXPECT_EQ(r.fpdus_[0].payload_.size(), 65535u - 18u);
}

// A random valid FPDU: header per opcode, payload within `max_payload`.
Bytes random_fpdu(std::mt19937_64& rng, bool crc, UlpduHeader& h, Bytes& payload) {
  const auto op = static_cast<RdmapOpcode>(rng() % 8);
  const OpcodeInfo& info = opcode_info(op);
  h = UlpduHeader{};
  if (info.is_tagged_) {
    h.ddp_ = make_tagged_header(op, rng() & 1, static_cast<std::uint32_t>(rng()), rng());
  } else {
    h.ddp_ = make_untagged_header(
        op, rng() & 1, static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng()),
        carries_invalidate_stag(op) ? static_cast<std::uint32_t>(rng()) : 0);
  }
  if (op == RdmapOpcode::ReadRequest) {
    h.read_request_ = {static_cast<std::uint32_t>(rng()), rng(), static_cast<std::uint32_t>(rng()),
                       static_cast<std::uint32_t>(rng()), rng()};
  }
  if (op == RdmapOpcode::Terminate) h.terminate_.reason_ = {1, 2, static_cast<std::uint8_t>(rng())};
  Bytes ulpdu(128);
  const auto e = encode_ulpdu_header(h, ulpdu);
  EXPECT_TRUE(e.is_ok());
  ulpdu.resize(e.bytes_);
  payload.assign(info.has_payload_ ? rng() % (rng() % 8 == 0 ? 5000 : 60) : 0, std::byte{0});
  for (auto& b : payload) b = static_cast<std::byte>(rng());
  const std::span<const std::byte> pieces[] = {payload};
  FpduFraming framing;
  EXPECT_EQ(encode_fpdu_framing(ulpdu, pieces, crc, framing), EncodeError::None);
  Bytes out(framing.length_prefix().begin(), framing.length_prefix().end());
  out.insert(out.end(), ulpdu.begin(), ulpdu.end());
  out.insert(out.end(), payload.begin(), payload.end());
  out.insert(out.end(), framing.trailer().begin(), framing.trailer().end());
  return out;
}

TEST(FpduReader, seeded_random_streams_in_random_chunks_round_trip) {
  std::mt19937_64 rng(5044);
  for (int round = 0; round < 300; ++round) {
    const bool crc = round % 3 != 0;
    Bytes stream;
    std::vector<UlpduHeader> headers;
    std::vector<Bytes> payloads;
    const int count = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < count; ++i) {
      UlpduHeader h;
      Bytes payload;
      const Bytes f = random_fpdu(rng, crc, h, payload);
      stream.insert(stream.end(), f.begin(), f.end());
      headers.push_back(h);
      payloads.push_back(payload);
    }
    const std::size_t max_chunk = 1 + rng() % 100;
    std::mt19937 chunk_rng(static_cast<std::uint32_t>(rng()));
    std::string error;
    const auto r = read_stream(
        stream, crc, [&](std::size_t) { return 1 + chunk_rng() % max_chunk; }, &error);
    ASSERT_EQ(error, "") << round;
    ASSERT_FALSE(r.malformed_) << round;
    ASSERT_EQ(r.fpdus_.size(), headers.size());
    for (std::size_t i = 0; i < headers.size(); ++i) {
      ASSERT_EQ(r.fpdus_[i].header_.ddp_, headers[i].ddp_);
      ASSERT_EQ(r.fpdus_[i].payload_, payloads[i]);
      ASSERT_EQ(r.fpdus_[i].crc_verified_, crc);
      if (headers[i].ddp_.opcode_ == RdmapOpcode::ReadRequest) {
        ASSERT_EQ(r.fpdus_[i].header_.read_request_, headers[i].read_request_);
      }
      if (headers[i].ddp_.opcode_ == RdmapOpcode::Terminate) {
        ASSERT_EQ(r.fpdus_[i].header_.terminate_.reason_, headers[i].terminate_.reason_);
      }
    }
  }
}

TEST(FpduReader, truncated_stream_is_not_at_a_boundary) {
  const Bytes fpdu = from_hex(test::kSpec83WriteRtr);
  for (std::size_t n = 1; n < fpdu.size(); ++n) {
    FpduReader reader(true);
    std::span<const std::byte> in = std::span(fpdu).first(n);
    while (true) {
      const FpduEvent ev = reader.feed(in);
      in = in.subspan(ev.consumed_bytes_);
      ASSERT_NE(ev.kind_, FpduEventKind::Malformed);
      ASSERT_NE(ev.kind_, FpduEventKind::Complete);
      if (ev.kind_ == FpduEventKind::NeedMore) break;
    }
    EXPECT_FALSE(reader.at_fpdu_boundary()) << n;  // EOF here is LLP 0x01 (RFC 5044 §7.1: an FPDU boundary)
  }
}

}  // namespace
}  // namespace softndk::wire
