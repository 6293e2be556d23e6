// MPA Request/Reply codec: the worked-example Request and Reply byte for byte both ways, flags and reserved bits, Rev 1/2,
// PD_Length limits, the enhanced IRD/ORD word, incremental decoding and a seeded round trip.
#include "wire/mpa.h"

#include <gtest/gtest.h>

#include <random>

#include "wire_test_util.h"

namespace softndk::wire {
namespace {

using test::Bytes;
using test::from_hex;
using test::from_text;
using test::to_hex;

MpaFrame spec81_request(std::span<const std::byte> pd) {
  MpaFrame f;
  f.kind_ = MpaFrameKind::Request;
  f.crc_ = true;
  f.enhanced_ = true;
  f.revision_ = 2;
  f.ird_ord_ = {
      .peer_to_peer_ = true, .rtr_write_ = true, .rtr_read_ = true, .ird_ = 16, .ord_ = 16};
  f.private_data_ = pd;
  return f;
}

TEST(Mpa, spec_8_1_request_encodes_byte_exact) {
  const Bytes hello = from_text("hello");
  Bytes out(64);
  const auto r = encode_mpa_frame(spec81_request(hello), out);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r.bytes_, 29u);
  EXPECT_EQ(to_hex(std::span(out).first(r.bytes_)), to_hex(from_hex(test::kSpec81MpaRequest)));
}

TEST(Mpa, spec_8_1_request_decodes_fields) {
  const Bytes in = from_hex(test::kSpec81MpaRequest);
  const auto r = decode_mpa_frame(in, MpaFrameKind::Request);
  ASSERT_TRUE(r.is_complete());
  EXPECT_EQ(r.bytes_, 29u);
  const MpaFrame& f = r.value_;
  EXPECT_EQ(f.kind_, MpaFrameKind::Request);
  EXPECT_FALSE(f.markers_);
  EXPECT_TRUE(f.crc_);
  EXPECT_FALSE(f.reject_);
  EXPECT_TRUE(f.enhanced_);
  EXPECT_EQ(f.revision_, 2);
  EXPECT_TRUE(f.ird_ord_.peer_to_peer_);
  EXPECT_FALSE(f.ird_ord_.rtr_send_);
  EXPECT_TRUE(f.ird_ord_.rtr_write_);
  EXPECT_TRUE(f.ird_ord_.rtr_read_);
  EXPECT_EQ(f.ird_ord_.ird_, 16);
  EXPECT_EQ(f.ird_ord_.ord_, 16);
  EXPECT_EQ(to_hex(f.private_data_), "68 65 6c 6c 6f");
  EXPECT_EQ(f.private_data_.data(), in.data() + 24);  // points into the input
}

TEST(Mpa, spec_8_2_reply_round_trips_byte_exact) {
  MpaFrame f;
  f.kind_ = MpaFrameKind::Reply;
  f.crc_ = true;
  f.enhanced_ = true;
  f.revision_ = 2;
  f.ird_ord_ = {.peer_to_peer_ = true, .rtr_write_ = true, .ird_ = 16, .ord_ = 16};
  Bytes out(24);
  const auto r = encode_mpa_frame(f, out);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(to_hex(out), to_hex(from_hex(test::kSpec82MpaReply)));

  const Bytes in = from_hex(test::kSpec82MpaReply);
  const auto d = decode_mpa_frame(in, MpaFrameKind::Reply);
  ASSERT_TRUE(d.is_complete());
  EXPECT_EQ(d.bytes_, 24u);
  EXPECT_EQ(d.value_.ird_ord_, f.ird_ord_);
  EXPECT_TRUE(d.value_.crc_);
  EXPECT_TRUE(d.value_.enhanced_);
  EXPECT_FALSE(d.value_.reject_);
  EXPECT_TRUE(d.value_.private_data_.empty());
}

TEST(Mpa, reject_reply_keeps_ird_ord_word_and_flags_0x70) {
  const Bytes reject_data = from_text("no");
  MpaFrame f;
  f.kind_ = MpaFrameKind::Reply;
  f.crc_ = true;
  f.reject_ = true;
  f.enhanced_ = true;
  f.ird_ord_ = {.peer_to_peer_ = true, .rtr_write_ = true, .ird_ = 16, .ord_ = 16};
  f.private_data_ = reject_data;
  Bytes out(64);
  const auto r = encode_mpa_frame(f, out);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(to_hex(std::span(out).subspan(16, r.bytes_ - 16)), "70 02 00 06 80 10 80 10 6e 6f");
  const auto d = decode_mpa_frame(std::span(out).first(r.bytes_), MpaFrameKind::Reply);
  ASSERT_TRUE(d.is_complete());
  EXPECT_TRUE(d.value_.reject_);
  EXPECT_EQ(to_hex(d.value_.private_data_), "6e 6f");
}

TEST(Mpa, keys_differ_between_request_and_reply) {
  const Bytes req = from_hex(test::kSpec81MpaRequest);
  const Bytes rep = from_hex(test::kSpec82MpaReply);
  EXPECT_EQ(decode_mpa_frame(req, MpaFrameKind::Reply).error_, MpaError::BadKey);
  EXPECT_EQ(decode_mpa_frame(rep, MpaFrameKind::Request).error_, MpaError::BadKey);
}

TEST(Mpa, bad_key_is_reported_as_soon_as_a_wrong_byte_is_visible) {
  Bytes in = from_hex(test::kSpec81MpaRequest);
  in[9] = std::byte{'X'};
  for (std::size_t n = 0; n <= 9; ++n) {
    const auto r = decode_mpa_frame(std::span(in).first(n), MpaFrameKind::Request);
    EXPECT_TRUE(r.is_need_more()) << n;
  }
  for (std::size_t n = 10; n <= in.size(); ++n) {
    const auto r = decode_mpa_frame(std::span(in).first(n), MpaFrameKind::Request);
    ASSERT_TRUE(r.is_malformed()) << n;
    EXPECT_EQ(r.error_, MpaError::BadKey);
  }
}

TEST(Mpa, every_proper_prefix_needs_exactly_the_missing_bytes) {
  for (const char* hex : {test::kSpec81MpaRequest, test::kSpec82MpaReply}) {
    const Bytes in = from_hex(hex);
    const auto kind = hex == test::kSpec81MpaRequest ? MpaFrameKind::Request : MpaFrameKind::Reply;
    for (std::size_t n = 0; n < in.size(); ++n) {
      const auto r = decode_mpa_frame(std::span(in).first(n), kind);
      ASSERT_TRUE(r.is_need_more()) << n;
      const std::size_t expect = n < kMpaHeaderBytes ? kMpaHeaderBytes - n : in.size() - n;
      EXPECT_EQ(r.bytes_, expect) << n;
    }
  }
}

TEST(Mpa, bytes_after_the_frame_are_left_for_the_fpdu_stream) {
  Bytes in = from_hex(test::kSpec82MpaReply);
  const Bytes rtr = from_hex(test::kSpec83WriteRtr);
  in.insert(in.end(), rtr.begin(), rtr.end());
  const auto r = decode_mpa_frame(in, MpaFrameKind::Reply);
  ASSERT_TRUE(r.is_complete());
  EXPECT_EQ(r.bytes_, 24u);
}

TEST(Mpa, reserved_flag_bits_are_ignored_on_receipt) {
  Bytes in = from_hex(test::kSpec81MpaRequest);
  in[16] = std::byte{0x5F};  // C|E + all four reserved bits (siw's private 0x08 included)
  const auto r = decode_mpa_frame(in, MpaFrameKind::Request);
  ASSERT_TRUE(r.is_complete());
  EXPECT_TRUE(r.value_.crc_);
  EXPECT_TRUE(r.value_.enhanced_);
  EXPECT_FALSE(r.value_.markers_);
  EXPECT_FALSE(r.value_.reject_);
  EXPECT_EQ(to_hex(r.value_.private_data_), "68 65 6c 6c 6f");
}

TEST(Mpa, reserved_flag_bits_are_zero_on_send) {
  MpaFrame f;
  f.revision_ = 1;
  f.markers_ = true;
  f.crc_ = true;
  Bytes out(20);
  ASSERT_TRUE(encode_mpa_frame(f, out).is_ok());
  EXPECT_EQ(static_cast<unsigned>(out[16]), 0xC0u);
}

TEST(Mpa, rev1_has_no_ird_ord_word_and_ignores_the_e_bit) {
  Bytes in = from_hex(test::kSpec81MpaRequest);
  in[17] = std::byte{1};
  const auto r = decode_mpa_frame(in, MpaFrameKind::Request);
  ASSERT_TRUE(r.is_complete());
  EXPECT_EQ(r.value_.revision_, 1);
  EXPECT_FALSE(r.value_.enhanced_);
  EXPECT_FALSE(r.value_.has_ird_ord());
  EXPECT_EQ(r.value_.private_data_.size(), 9u);  // the word is consumer data in Rev 1

  MpaFrame f;
  f.revision_ = 1;
  f.enhanced_ = true;
  Bytes out(64);
  EXPECT_EQ(encode_mpa_frame(f, out).error_, EncodeError::InvalidField);
}

TEST(Mpa, rev2_without_e_carries_plain_private_data) {
  const Bytes pd = from_text("abc");
  MpaFrame f;
  f.kind_ = MpaFrameKind::Reply;
  f.revision_ = 2;
  f.private_data_ = pd;
  Bytes out(64);
  const auto r = encode_mpa_frame(f, out);
  ASSERT_EQ(r.bytes_, 23u);
  EXPECT_EQ(to_hex(std::span(out).subspan(16, 7)), "00 02 00 03 61 62 63");
  const auto d = decode_mpa_frame(std::span(out).first(23), MpaFrameKind::Reply);
  ASSERT_TRUE(d.is_complete());
  EXPECT_FALSE(d.value_.enhanced_);
  EXPECT_EQ(to_hex(d.value_.private_data_), "61 62 63");
}

TEST(Mpa, unsupported_revisions_are_malformed) {
  for (const int rev : {0, 3, 255}) {
    Bytes in = from_hex(test::kSpec82MpaReply);
    in[17] = static_cast<std::byte>(rev);
    EXPECT_EQ(decode_mpa_frame(in, MpaFrameKind::Reply).error_, MpaError::UnsupportedRevision);
    MpaFrame f;
    f.revision_ = static_cast<std::uint8_t>(rev);
    Bytes out(64);
    EXPECT_EQ(encode_mpa_frame(f, out).error_, EncodeError::InvalidField);
  }
}

TEST(Mpa, pd_length_512_is_accepted_and_513_is_malformed) {
  Bytes in(kMpaHeaderBytes + 512, std::byte{0x5A});
  const Bytes header = from_hex("4d 50 41 20 49 44 20 52 65 71 20 46 72 61 6d 65 40 01 02 00");
  std::copy(header.begin(), header.end(), in.begin());
  const auto ok = decode_mpa_frame(in, MpaFrameKind::Request);
  ASSERT_TRUE(ok.is_complete());
  EXPECT_EQ(ok.value_.private_data_.size(), 512u);

  in[19] = std::byte{0x01};  // PD_Length 513
  EXPECT_EQ(decode_mpa_frame(std::span(in).first(20), MpaFrameKind::Request).error_,
            MpaError::PrivateDataTooLong);

  MpaFrame f;
  f.enhanced_ = true;
  const Bytes big(509);
  f.private_data_ = big;  // 509 + 4 = 513
  Bytes out(kMpaMaxFrameBytes + 8);
  EXPECT_EQ(encode_mpa_frame(f, out).error_, EncodeError::InvalidField);
  const Bytes fits(508);
  f.private_data_ = fits;
  EXPECT_EQ(encode_mpa_frame(f, out).bytes_, kMpaMaxFrameBytes);
}

TEST(Mpa, enhanced_frame_shorter_than_ird_ord_word_is_malformed) {
  Bytes in = from_hex("4d 50 41 20 49 44 20 52 65 71 20 46 72 61 6d 65 50 02 00 03 80 10 c0");
  EXPECT_EQ(decode_mpa_frame(std::span(in).first(20), MpaFrameKind::Request).error_,
            MpaError::IrdOrdMissing);
  EXPECT_EQ(decode_mpa_frame(in, MpaFrameKind::Request).error_, MpaError::IrdOrdMissing);
}

TEST(Mpa, ird_ord_values_use_14_bits) {
  MpaFrame f = spec81_request({});
  f.ird_ord_ = {.rtr_send_ = true, .ird_ = kMpaMaxIrdOrd, .ord_ = 0};
  Bytes out(64);
  const auto r = encode_mpa_frame(f, out);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(to_hex(std::span(out).subspan(20, 4)), "7f ff 00 00");
  const auto d = decode_mpa_frame(std::span(out).first(r.bytes_), MpaFrameKind::Request);
  EXPECT_EQ(d.value_.ird_ord_, f.ird_ord_);

  f.ird_ord_.ird_ = kMpaMaxIrdOrd + 1;
  EXPECT_EQ(encode_mpa_frame(f, out).error_, EncodeError::InvalidField);
  f.ird_ord_.ird_ = 1;
  f.ird_ord_.ord_ = 0x8000;
  EXPECT_EQ(encode_mpa_frame(f, out).error_, EncodeError::InvalidField);
}

TEST(Mpa, encoder_reports_a_too_small_buffer) {
  const Bytes hello = from_text("hello");
  Bytes out(28);
  EXPECT_EQ(encode_mpa_frame(spec81_request(hello), out).error_, EncodeError::BufferTooSmall);
  EXPECT_EQ(encode_mpa_frame(spec81_request(hello), {}).error_, EncodeError::BufferTooSmall);
}

TEST(Mpa, seeded_random_frames_round_trip) {
  std::mt19937 rng(5044);
  Bytes pd(kMpaMaxPrivateDataBytes);
  for (auto& b : pd) b = static_cast<std::byte>(rng());
  Bytes out(kMpaMaxFrameBytes);
  for (int i = 0; i < 5000; ++i) {
    MpaFrame f;
    f.kind_ = (rng() & 1) ? MpaFrameKind::Request : MpaFrameKind::Reply;
    f.revision_ = static_cast<std::uint8_t>(1 + (rng() & 1));
    f.markers_ = rng() & 1;
    f.crc_ = rng() & 1;
    f.reject_ = rng() & 1;
    f.enhanced_ = f.revision_ == 2 && (rng() & 1);
    f.ird_ord_ = {};
    if (f.has_ird_ord()) {
      f.ird_ord_ = {.peer_to_peer_ = static_cast<bool>(rng() & 1),
                    .rtr_send_ = static_cast<bool>(rng() & 1),
                    .rtr_write_ = static_cast<bool>(rng() & 1),
                    .rtr_read_ = static_cast<bool>(rng() & 1),
                    .ird_ = static_cast<std::uint16_t>(rng() & 0x3FFF),
                    .ord_ = static_cast<std::uint16_t>(rng() & 0x3FFF)};
    }
    const std::size_t max_pd = kMpaMaxPrivateDataBytes - (f.has_ird_ord() ? 4 : 0);
    f.private_data_ = std::span<const std::byte>(pd).first(rng() % (max_pd + 1));
    const auto e = encode_mpa_frame(f, out);
    ASSERT_TRUE(e.is_ok());
    ASSERT_EQ(e.bytes_, f.frame_bytes());
    const auto d = decode_mpa_frame(std::span(out).first(e.bytes_), f.kind_);
    ASSERT_TRUE(d.is_complete());
    ASSERT_EQ(d.bytes_, e.bytes_);
    const MpaFrame& g = d.value_;
    ASSERT_EQ(g.revision_, f.revision_);
    ASSERT_EQ(g.markers_, f.markers_);
    ASSERT_EQ(g.crc_, f.crc_);
    ASSERT_EQ(g.reject_, f.reject_);
    ASSERT_EQ(g.enhanced_, f.enhanced_);
    ASSERT_EQ(g.ird_ord_, f.ird_ord_);
    ASSERT_TRUE(std::equal(g.private_data_.begin(), g.private_data_.end(), f.private_data_.begin(),
                           f.private_data_.end()));
  }
}

}  // namespace
}  // namespace softndk::wire
