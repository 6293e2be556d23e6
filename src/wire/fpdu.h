// MPA FPDU framing for senders (RFC 5044 §4, §6): pad and MULPDU arithmetic,
// the length prefix + pad/CRC trailer around a gather list (zero-copy writev), and a contiguous
// encoder for small FPDUs. Markers are never used (RFC 5044 §5: MPA markers are optional and never used here). Receiving lives in fpdu_reader.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/codec_result.h"
#include "wire/crc32c.h"

namespace softndk::wire {

inline constexpr std::size_t kFpduLengthBytes = 2;              // ULPDU_Length field
inline constexpr std::size_t kFpduCrcBytes = kCrc32cWireBytes;  // 4
inline constexpr std::size_t kFpduMaxPadBytes = 3;
inline constexpr std::size_t kFpduMaxUlpduBytes = 0xFFFF;
inline constexpr std::size_t kFpduMaxTrailerBytes = kFpduMaxPadBytes + kFpduCrcBytes;

// PAD so that 2 + L + pad is a multiple of 4 (RFC 5044 §4.1: counted from 2 + L, not from L).
constexpr std::size_t fpdu_pad_bytes(std::size_t ulpdu_bytes) {
  return (4 - ((kFpduLengthBytes + ulpdu_bytes) % 4)) % 4;
}

// Bytes after the ULPDU: pad + CRC field (present even when CRC is off).
constexpr std::size_t fpdu_trailer_bytes(std::size_t ulpdu_bytes) {
  return fpdu_pad_bytes(ulpdu_bytes) + kFpduCrcBytes;
}

// Whole FPDU on the wire: 2 + L + pad + 4, always a multiple of 4.
constexpr std::size_t fpdu_bytes(std::size_t ulpdu_bytes) {
  return kFpduLengthBytes + ulpdu_bytes + fpdu_trailer_bytes(ulpdu_bytes);
}

// MULPDU = EMSS - 6 - (EMSS mod 4) without markers, capped at 65535 (RFC 5044 §5.2).
// Returns 0 when EMSS is too small to carry any ULPDU.
constexpr std::size_t mulpdu_for_emss(std::size_t emss) {
  const std::size_t overhead = kFpduLengthBytes + kFpduCrcBytes + (emss % 4);
  if (emss <= overhead) return 0;
  const std::size_t mulpdu = emss - overhead;
  return mulpdu < kFpduMaxUlpduBytes ? mulpdu : kFpduMaxUlpduBytes;
}

// Length prefix and trailer for one FPDU whose ULPDU is given elsewhere. A TCP sender writes
// length_prefix() | ULPDU header | payload pieces... | trailer() with one writev/sendmsg.
struct FpduFraming {
  std::array<std::byte, kFpduLengthBytes> length_prefix_{};
  std::array<std::byte, kFpduMaxTrailerBytes> trailer_{};  // pad zeros, then CRC LSB first
  std::uint8_t trailer_bytes_ = 0;
  std::size_t ulpdu_bytes_ = 0;

  std::span<const std::byte> length_prefix() const { return length_prefix_; }
  std::span<const std::byte> trailer() const { return {trailer_.data(), trailer_bytes_}; }
  std::size_t fpdu_bytes() const { return wire::fpdu_bytes(ulpdu_bytes_); }
};

// Fills `framing` for ULPDU = ulpdu_header ++ payload[0] ++ payload[1] ++ ...; the CRC32c covers
// prefix, ULPDU and pad (RFC 5044 §6.5) when crc_enabled, else the CRC field is zero. Payload bytes
// are read once (for the CRC) and never copied. InvalidField if the ULPDU exceeds 65535 bytes.
EncodeError encode_fpdu_framing(std::span<const std::byte> ulpdu_header,
                                std::span<const std::span<const std::byte>> payload,
                                bool crc_enabled, FpduFraming& framing) noexcept;

// Writes a whole FPDU for a contiguous ULPDU into `out` (control messages, tests).
EncodeResult encode_fpdu(std::span<const std::byte> ulpdu, bool crc_enabled,
                         std::span<std::byte> out) noexcept;

}  // namespace softndk::wire
