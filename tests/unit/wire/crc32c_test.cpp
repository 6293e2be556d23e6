// CRC32c (ISA-L backed) against the CRC32c check values (RFC 3720 B.4), chaining across arbitrary splits, and the
// LSB-first wire form. Also byte_io big-endian helpers.
#include "wire/crc32c.h"

#include <gtest/gtest.h>

#include <random>

#include "wire/byte_io.h"
#include "wire_test_util.h"

namespace softndk::wire {
namespace {

using test::Bytes;
using test::from_hex;
using test::from_text;

std::uint32_t reference_crc32c(std::span<const std::byte> data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const std::byte b : data) {
    crc ^= static_cast<std::uint32_t>(b);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

TEST(Crc32c, spec_test_vectors_match) {
  EXPECT_EQ(crc32c(from_text("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c(Bytes(32, std::byte{0x00})), 0x8A9136AAu);
  EXPECT_EQ(crc32c(Bytes(32, std::byte{0xFF})), 0x62A8AB43u);
  EXPECT_EQ(crc32c(from_hex("00 0e c1 40 00 00 00 01 00 00 00 00 00 00 00 00")), 0x5F4CD3EBu);
}

TEST(Crc32c, wire_form_is_least_significant_byte_first) {
  const struct {
    std::uint32_t crc;
    const char* wire;
  } cases[] = {{0xE3069283u, "83 92 06 e3"},
               {0x8A9136AAu, "aa 36 91 8a"},
               {0x62A8AB43u, "43 ab a8 62"},
               {0x5F4CD3EBu, "eb d3 4c 5f"}};
  for (const auto& c : cases) {
    std::array<std::byte, 4> out{};
    store_crc32c(out, c.crc);
    EXPECT_EQ(test::to_hex(out), c.wire);
    EXPECT_EQ(load_crc32c(out), c.crc);
  }
}

TEST(Crc32c, empty_input_is_zero_and_update_is_identity) {
  EXPECT_EQ(crc32c({}), 0u);
  EXPECT_EQ(crc32c_update(0x12345678u, {}), 0x12345678u);
}

TEST(Crc32c, chained_updates_equal_one_shot_for_every_split) {
  const Bytes data = from_text("The quick brown fox jumps over the lazy dog, 0123456789!");
  const std::uint32_t whole = crc32c(data);
  EXPECT_EQ(whole, reference_crc32c(data));
  const std::span<const std::byte> s(data);
  for (std::size_t i = 0; i <= data.size(); ++i) {
    for (std::size_t j = i; j <= data.size(); ++j) {
      std::uint32_t st = crc32c_update(kCrc32cInitial, s.first(i));
      st = crc32c_update(st, s.subspan(i, j - i));
      st = crc32c_update(st, s.subspan(j));
      ASSERT_EQ(crc32c_finish(st), whole) << i << "," << j;
    }
  }
}

TEST(Crc32c, accumulator_matches_reference_on_random_data) {
  std::mt19937_64 rng(20240601);
  for (int round = 0; round < 200; ++round) {
    Bytes data(rng() % 3000);
    for (auto& b : data) b = static_cast<std::byte>(rng());
    Crc32c acc;
    std::size_t pos = 0;
    while (pos < data.size()) {
      const std::size_t n = std::min<std::size_t>(1 + rng() % 97, data.size() - pos);
      acc.update(std::span<const std::byte>(data).subspan(pos, n));
      pos += n;
    }
    ASSERT_EQ(acc.value(), reference_crc32c(data));
    acc.reset();
    EXPECT_EQ(acc.value(), 0u);
  }
}

TEST(ByteIo, big_endian_round_trip_at_fixed_offsets) {
  std::array<std::byte, 16> buf{};
  std::span<std::byte> s(buf);
  store_be16(s, 0, 0x0102);
  store_be32(s, 2, 0x03040506u);
  store_be64(s, 6, 0x0708090A0B0C0D0Eull);
  store_u8(s, 14, 0x0F);
  EXPECT_EQ(test::to_hex(std::span<const std::byte>(buf).first(15)),
            "01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f");
  std::span<const std::byte> c(buf);
  EXPECT_EQ(load_be16(c, 0), 0x0102);
  EXPECT_EQ(load_be32(c, 2), 0x03040506u);
  EXPECT_EQ(load_be64(c, 6), 0x0708090A0B0C0D0Eull);
  EXPECT_EQ(load_u8(c, 14), 0x0F);
  store_le32(buf.data(), 0x11223344u);
  EXPECT_EQ(test::to_hex(std::span<const std::byte>(buf).first(4)), "44 33 22 11");
  EXPECT_EQ(load_le32(buf.data()), 0x11223344u);
}

TEST(ByteIo, helpers_are_usable_in_constant_expressions) {
  constexpr std::array<std::byte, 4> kBytes{std::byte{0xDE}, std::byte{0xAD}, std::byte{0xBE},
                                            std::byte{0xEF}};
  static_assert(load_be32(kBytes.data()) == 0xDEADBEEFu);
  static_assert(load_le32(kBytes.data()) == 0xEFBEADDEu);
  static_assert(load_be16(kBytes.data() + 2) == 0xBEEF);
}

}  // namespace
}  // namespace softndk::wire
