// MPA startup frames (RFC 5044 §7.1 Request/Reply, RFC 6581 §5 enhanced IRD/ORD word;
// RFC 6581 §5): value type, encoder into a caller buffer, incremental-safe decoder. Negotiation
// policy (what to answer, when to reject) belongs to the connection manager, not here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/codec_result.h"

namespace softndk::wire {

inline constexpr std::size_t kMpaKeyBytes = 16;
inline constexpr std::size_t kMpaHeaderBytes = 20;           // key + flags + rev + PD_Length
inline constexpr std::size_t kMpaMaxPrivateDataBytes = 512;  // RFC 5044 §7.1, IRD/ORD included
inline constexpr std::size_t kMpaIrdOrdBytes = 4;            // RFC 6581 §5
inline constexpr std::size_t kMpaMaxFrameBytes = kMpaHeaderBytes + kMpaMaxPrivateDataBytes;
inline constexpr std::uint16_t kMpaMaxIrdOrd = 0x3FFF;  // 14-bit IRD / ORD

// Flags byte (offset 16). 0x0F (and 0x10 in Rev 1) are reserved: 0 on send, ignored on receipt.
inline constexpr std::uint8_t kMpaFlagMarkers = 0x80;   // M
inline constexpr std::uint8_t kMpaFlagCrc = 0x40;       // C
inline constexpr std::uint8_t kMpaFlagReject = 0x20;    // R
inline constexpr std::uint8_t kMpaFlagEnhanced = 0x10;  // E (RFC 6581, Rev 2 only)

// IRD word (private data 0..1) and ORD word (2..3), RFC 6581 §5.
inline constexpr std::uint16_t kMpaIrdFlagPeerToPeer = 0x8000;  // A
inline constexpr std::uint16_t kMpaIrdFlagRtrSend = 0x4000;     // B: zero-length Send RTR
inline constexpr std::uint16_t kMpaOrdFlagRtrWrite = 0x8000;    // C: zero-length RDMA Write RTR
inline constexpr std::uint16_t kMpaOrdFlagRtrRead = 0x4000;     // D: zero-length RDMA Read RTR

enum class MpaFrameKind : std::uint8_t { Request, Reply };

struct MpaIrdOrd {
  bool peer_to_peer_ = false;  // A
  bool rtr_send_ = false;      // B
  bool rtr_write_ = false;     // C
  bool rtr_read_ = false;      // D
  std::uint16_t ird_ = 0;      // 0..0x3FFF
  std::uint16_t ord_ = 0;      // 0..0x3FFF

  friend constexpr bool operator==(const MpaIrdOrd&, const MpaIrdOrd&) = default;
};

struct MpaFrame {
  MpaFrameKind kind_ = MpaFrameKind::Request;
  bool markers_ = false;   // M
  bool crc_ = false;       // C
  bool reject_ = false;    // R: meaningful in a Reply only (RFC 5044 §7.1); reported as received
  bool enhanced_ = false;  // E; decode sets it only with Rev 2 (in Rev 1 the bit is reserved)
  std::uint8_t revision_ = 2;
  MpaIrdOrd ird_ord_{};  // on the wire iff revision_ == 2 && enhanced_
  // Consumer private data (after the IRD/ORD word when enhanced). Decode: points into the input.
  std::span<const std::byte> private_data_{};

  constexpr bool has_ird_ord() const { return revision_ == 2 && enhanced_; }
  // PD_Length this frame carries: consumer data + 4 when enhanced.
  constexpr std::size_t pd_length() const {
    return private_data_.size() + (has_ird_ord() ? kMpaIrdOrdBytes : 0);
  }
  constexpr std::size_t frame_bytes() const { return kMpaHeaderBytes + pd_length(); }
};

enum class MpaError : std::uint8_t {
  None,
  BadKey,               // not "MPA ID Req Frame" / "MPA ID Rep Frame" as expected
  UnsupportedRevision,  // Rev other than 1 or 2 [policy]
  PrivateDataTooLong,   // PD_Length > 512
  IrdOrdMissing,        // Rev 2 + E with PD_Length < 4 (a responder rejects it)
};

// Writes the frame. Reserved flag bits are 0; E is written only with Rev 2. InvalidField for a
// revision other than 1/2, E with Rev 1, IRD/ORD > 0x3FFF, or PD_Length > 512.
EncodeResult encode_mpa_frame(const MpaFrame& frame, std::span<std::byte> out) noexcept;

// Decodes a frame of kind `expected` from the start of `in`. Incremental-safe: call again with a
// longer prefix after NeedMore{n}. A key mismatch is reported as soon as a wrong byte is visible.
// Complete: bytes_ = 20 + PD_Length; bytes after that are the peer's first FPDUs (RFC 5044 §7.1.2) and
// must be kept by the caller. private_data_ points into `in`.
DecodeResult<MpaFrame, MpaError> decode_mpa_frame(std::span<const std::byte> in,
                                                  MpaFrameKind expected) noexcept;

}  // namespace softndk::wire
