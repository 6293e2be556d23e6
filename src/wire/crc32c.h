// CRC32c (Castagnoli) as used by the MPA CRC field (RFC 5044 §6.5), computed with ISA-L,
// plus the wire form of the CRC field (the only least-significant-byte-first field of iWARP).
// The running value is the CRC register before the final inversion, so pieces can be chained.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/byte_io.h"

namespace softndk::wire {

// Register value before any input (RFC 3385 / iSCSI parameter set).
inline constexpr std::uint32_t kCrc32cInitial = 0xFFFFFFFFu;
inline constexpr std::size_t kCrc32cWireBytes = 4;

// Advances the CRC register over `data`. Chain calls to CRC data that arrives in pieces:
//   state = crc32c_update(kCrc32cInitial, a); state = crc32c_update(state, b); crc32c_finish(state)
// equals crc32c(a ++ b).
std::uint32_t crc32c_update(std::uint32_t state, std::span<const std::byte> data) noexcept;

// Final inversion: register -> CRC32c value.
constexpr std::uint32_t crc32c_finish(std::uint32_t state) noexcept {
  return ~state;
}

// One-shot CRC32c value of `data` ("123456789" -> 0xE3069283).
inline std::uint32_t crc32c(std::span<const std::byte> data) noexcept {
  return crc32c_finish(crc32c_update(kCrc32cInitial, data));
}

// Accumulator for a CRC over several pieces (FPDU prefix, header, payload pieces, pad).
class Crc32c {
 public:
  constexpr Crc32c() = default;
  void update(std::span<const std::byte> data) noexcept { state_ = crc32c_update(state_, data); }
  constexpr std::uint32_t value() const noexcept { return crc32c_finish(state_); }
  constexpr std::uint32_t state() const noexcept { return state_; }
  constexpr void reset() noexcept { state_ = kCrc32cInitial; }

 private:
  std::uint32_t state_ = kCrc32cInitial;
};

// Writes `crc` in MPA wire order: least-significant byte first (RFC 5044 §6.5).
constexpr void store_crc32c(std::span<std::byte, kCrc32cWireBytes> out,
                            std::uint32_t crc) noexcept {
  store_le32(out.data(), crc);
}

// Reads an MPA CRC field (least-significant byte first).
constexpr std::uint32_t load_crc32c(std::span<const std::byte, kCrc32cWireBytes> in) noexcept {
  return load_le32(in.data());
}

}  // namespace softndk::wire
