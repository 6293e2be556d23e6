// FPDU framing for senders (RFC 5044 §4.1, §6.5). CRC over the gather list without copying it.
#include "wire/fpdu.h"

#include <algorithm>

#include "wire/byte_io.h"

namespace softndk::wire {

EncodeError encode_fpdu_framing(std::span<const std::byte> ulpdu_header,
                                std::span<const std::span<const std::byte>> payload,
                                bool crc_enabled, FpduFraming& framing) noexcept {
  std::size_t ulpdu_bytes = ulpdu_header.size();
  for (const auto& piece : payload) {
    if (piece.size() > kFpduMaxUlpduBytes - std::min(ulpdu_bytes, kFpduMaxUlpduBytes)) {
      return EncodeError::InvalidField;
    }
    ulpdu_bytes += piece.size();
  }
  if (ulpdu_bytes > kFpduMaxUlpduBytes) return EncodeError::InvalidField;

  framing.ulpdu_bytes_ = ulpdu_bytes;
  store_be16(framing.length_prefix_.data(), static_cast<std::uint16_t>(ulpdu_bytes));
  const std::size_t pad = fpdu_pad_bytes(ulpdu_bytes);
  std::fill(framing.trailer_.begin(), framing.trailer_.end(), std::byte{0});
  framing.trailer_bytes_ = static_cast<std::uint8_t>(pad + kFpduCrcBytes);

  std::uint32_t crc = 0;
  if (crc_enabled) {
    Crc32c acc;
    acc.update(framing.length_prefix_);
    acc.update(ulpdu_header);
    for (const auto& piece : payload) acc.update(piece);
    acc.update(std::span<const std::byte>(framing.trailer_.data(), pad));
    crc = acc.value();
  }
  store_crc32c(std::span<std::byte, kFpduCrcBytes>(framing.trailer_.data() + pad, kFpduCrcBytes),
               crc);
  return EncodeError::None;
}

EncodeResult encode_fpdu(std::span<const std::byte> ulpdu, bool crc_enabled,
                         std::span<std::byte> out) noexcept {
  if (ulpdu.size() > kFpduMaxUlpduBytes) return EncodeResult::fail(EncodeError::InvalidField);
  const std::size_t total = fpdu_bytes(ulpdu.size());
  if (out.size() < total) return EncodeResult::fail(EncodeError::BufferTooSmall);
  FpduFraming framing;
  const EncodeError error = encode_fpdu_framing(ulpdu, {}, crc_enabled, framing);
  if (error != EncodeError::None) return EncodeResult::fail(error);
  auto it = std::copy(framing.length_prefix_.begin(), framing.length_prefix_.end(), out.begin());
  it = std::copy(ulpdu.begin(), ulpdu.end(), it);
  const auto trailer = framing.trailer();
  std::copy(trailer.begin(), trailer.end(), it);
  return EncodeResult::ok(total);
}

}  // namespace softndk::wire
