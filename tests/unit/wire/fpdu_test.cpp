// FPDU sender framing: the pad rule (RFC 5044 §4.1), the MULPDU rule (RFC 5044 §5.2), and every worked-example FPDU
// rebuilt byte for byte from header + payload gather lists (any split) with CRC on and off.
#include "wire/fpdu.h"

#include <gtest/gtest.h>

#include <random>

#include "wire/ddp.h"
#include "wire_test_util.h"

namespace softndk::wire {
namespace {

using test::Bytes;
using test::from_hex;
using test::to_hex;

Bytes assemble(const FpduFraming& framing, std::span<const std::byte> header,
               std::span<const std::span<const std::byte>> payload) {
  Bytes out(framing.length_prefix().begin(), framing.length_prefix().end());
  out.insert(out.end(), header.begin(), header.end());
  for (const auto& piece : payload) out.insert(out.end(), piece.begin(), piece.end());
  out.insert(out.end(), framing.trailer().begin(), framing.trailer().end());
  return out;
}

TEST(Fpdu, pad_table_of_spec_1_6) {
  const struct {
    std::size_t ulpdu;
    std::size_t pad;
  } rows[] = {{14, 0}, {31, 3}, {46, 0}, {21, 1}, {64, 2}, {0, 2}, {1, 1}, {2, 0}, {65535, 3}};
  for (const auto& row : rows) {
    EXPECT_EQ(fpdu_pad_bytes(row.ulpdu), row.pad) << row.ulpdu;
    EXPECT_EQ(fpdu_bytes(row.ulpdu) % 4, 0u);
    EXPECT_EQ(fpdu_bytes(row.ulpdu), 2 + row.ulpdu + row.pad + 4);
  }
  static_assert(fpdu_bytes(14) == 20);  // zero-length Write: minimum meaningful FPDU
  static_assert(fpdu_bytes(46) == 52);
  static_assert(fpdu_bytes(22) == 28 && fpdu_bytes(38) == 44 && fpdu_bytes(42) == 48 &&
                fpdu_bytes(70) == 76);  // Terminates (RFC 5040 §4.8)
}

TEST(Fpdu, mulpdu_table_of_spec_1_9) {
  const struct {
    std::size_t emss, mulpdu, tagged_payload, send_payload;
  } rows[] = {{1448, 1442, 1428, 1424},
              {1460, 1454, 1440, 1436},
              {8948, 8942, 8928, 8924},
              {65483, 65474, 65460, 65456}};
  for (const auto& row : rows) {
    const std::size_t m = mulpdu_for_emss(row.emss);
    EXPECT_EQ(m, row.mulpdu) << row.emss;
    EXPECT_EQ(m - kDdpTaggedHeaderBytes, row.tagged_payload);
    EXPECT_EQ(m - kDdpUntaggedHeaderBytes, row.send_payload);
    EXPECT_LE(fpdu_bytes(m), row.emss);
    EXPECT_EQ(fpdu_pad_bytes(m), 0u);
  }
  EXPECT_EQ(mulpdu_for_emss(0), 0u);
  EXPECT_EQ(mulpdu_for_emss(6), 0u);
  EXPECT_EQ(mulpdu_for_emss(8), 2u);
  EXPECT_EQ(mulpdu_for_emss(1u << 20), 65535u);
}

TEST(Fpdu, every_spec_example_is_rebuilt_from_any_gather_split) {
  for (const Bytes& fpdu : test::spec_fpdu_examples()) {
    const std::size_t len =
        (static_cast<std::size_t>(fpdu[0]) << 8) | static_cast<std::size_t>(fpdu[1]);
    const auto ulpdu = std::span<const std::byte>(fpdu).subspan(2, len);
    const std::size_t header_bytes = decode_ulpdu_header(ulpdu, len).bytes_;
    ASSERT_GT(header_bytes, 0u);
    const auto header = ulpdu.first(header_bytes);
    const auto payload = ulpdu.subspan(header_bytes);
    for (std::size_t cut1 = 0; cut1 <= payload.size(); ++cut1) {
      for (std::size_t cut2 = cut1; cut2 <= payload.size(); ++cut2) {
        const std::span<const std::byte> pieces[] = {
            payload.first(cut1), payload.subspan(cut1, cut2 - cut1), payload.subspan(cut2)};
        FpduFraming framing;
        ASSERT_EQ(encode_fpdu_framing(header, pieces, true, framing), EncodeError::None);
        ASSERT_EQ(framing.fpdu_bytes(), fpdu.size());
        ASSERT_EQ(to_hex(assemble(framing, header, pieces)), to_hex(fpdu));
      }
    }
    Bytes out(fpdu.size());
    const auto r = encode_fpdu(ulpdu, true, out);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(to_hex(out), to_hex(fpdu));
  }
}

TEST(Fpdu, crc_off_writes_a_zero_crc_field) {
  const Bytes with_crc = from_hex(test::kSpec84Send);
  const auto ulpdu = std::span<const std::byte>(with_crc).subspan(2, 31);
  Bytes out(40);
  ASSERT_EQ(encode_fpdu(ulpdu, false, out).bytes_, 40u);
  EXPECT_EQ(to_hex(out), to_hex(from_hex(test::kSpec84SendNoCrc)));
  FpduFraming framing;
  ASSERT_EQ(encode_fpdu_framing(ulpdu.first(18), std::array{ulpdu.subspan(18)}, false, framing),
            EncodeError::None);
  EXPECT_EQ(to_hex(framing.trailer()), "00 00 00 00 00 00 00");
}

TEST(Fpdu, send_hello_built_from_a_header_and_text) {
  Bytes header(18);
  ASSERT_TRUE(
      encode_ddp_header(make_untagged_header(RdmapOpcode::Send, true, 1, 0), header).is_ok());
  const Bytes hello = test::from_text("Hello, ");
  const Bytes iwarp = test::from_text("iWARP!");
  const std::span<const std::byte> pieces[] = {hello, iwarp};
  FpduFraming framing;
  ASSERT_EQ(encode_fpdu_framing(header, pieces, true, framing), EncodeError::None);
  EXPECT_EQ(to_hex(framing.length_prefix()), "00 1f");
  EXPECT_EQ(to_hex(framing.trailer()), "00 00 00 13 43 08 1e");
  EXPECT_EQ(to_hex(assemble(framing, header, pieces)), to_hex(from_hex(test::kSpec84Send)));
}

TEST(Fpdu, ulpdu_longer_than_65535_is_rejected) {
  const Bytes header(18);
  const Bytes big(65535 - 18);
  const Bytes one(1);
  FpduFraming framing;
  const std::span<const std::byte> fits[] = {big};
  EXPECT_EQ(encode_fpdu_framing(header, fits, true, framing), EncodeError::None);
  EXPECT_EQ(framing.fpdu_bytes(), 2u + 65535u + 3u + 4u);
  const std::span<const std::byte> too_big[] = {big, one};
  EXPECT_EQ(encode_fpdu_framing(header, too_big, true, framing), EncodeError::InvalidField);
  const Bytes huge(70000);
  EXPECT_EQ(encode_fpdu_framing(huge, {}, true, framing), EncodeError::InvalidField);
  Bytes out(80000);
  EXPECT_EQ(encode_fpdu(huge, true, out).error_, EncodeError::InvalidField);
  EXPECT_EQ(encode_fpdu(header, true, std::span(out).first(23)).error_,
            EncodeError::BufferTooSmall);
}

TEST(Fpdu, framing_crc_equals_crc_over_the_contiguous_fpdu) {
  std::mt19937 rng(6581);
  for (int i = 0; i < 300; ++i) {
    Bytes ulpdu(14 + rng() % 2000);
    for (auto& b : ulpdu) b = static_cast<std::byte>(rng());
    Bytes out(fpdu_bytes(ulpdu.size()));
    ASSERT_TRUE(encode_fpdu(ulpdu, true, out).is_ok());
    const auto covered = std::span<const std::byte>(out).first(out.size() - 4);
    EXPECT_EQ(load_crc32c(std::span<const std::byte, 4>(out.data() + out.size() - 4, 4)),
              crc32c(covered));
    for (std::size_t k = 2 + ulpdu.size(); k < covered.size(); ++k) {
      EXPECT_EQ(out[k], std::byte{0});  // pad
    }
  }
}

}  // namespace
}  // namespace softndk::wire
