// RDMAP (RFC 5040) header pieces that follow or live inside the DDP header: the opcode enum and
// control byte (§4.2), the 28-byte RDMA Read Request header (§4.4) and the Terminate message
// (§4.8) with its bounded decoder. Per-opcode facts live in opcode_table.h; DDP headers in ddp.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "wire/codec_result.h"
#include "wire/terminate_codes.h"

namespace softndk::wire {

// RFC 5040 §4.2 opcodes. 0x8-0xF are not implemented here (RFC 7306 is out of scope);
// values outside the enumerators may still be held (fixed underlying type) and are "invalid".
enum class RdmapOpcode : std::uint8_t {
  Write = 0x0,
  ReadRequest = 0x1,
  ReadResponse = 0x2,
  Send = 0x3,
  SendInvalidate = 0x4,
  SendSE = 0x5,
  SendSEInvalidate = 0x6,
  Terminate = 0x7,
};

// RDMAP control byte = DDP header byte 1 (RFC 5040 §4.2).
inline constexpr std::uint8_t kRdmapVersion = 1;
inline constexpr std::uint8_t kRdmapVersionMask = 0xC0;
inline constexpr std::uint8_t kRdmapVersionShift = 6;
inline constexpr std::uint8_t kRdmapOpcodeMask = 0x0F;

constexpr std::uint8_t rdmap_control_byte(RdmapOpcode opcode) {
  return static_cast<std::uint8_t>((kRdmapVersion << kRdmapVersionShift) |
                                   (static_cast<std::uint8_t>(opcode) & kRdmapOpcodeMask));
}

// --- RDMA Read Request header (RFC 5040 §4.4), follows the 18-byte untagged DDP header ---
inline constexpr std::size_t kRdmapReadRequestBytes = 28;

struct RdmapReadRequest {
  std::uint32_t sink_stag_ = 0;  // requester's buffer: where the Read Response goes
  std::uint64_t sink_to_ = 0;
  std::uint32_t read_bytes_ = 0;   // RDMA Read Message Size
  std::uint32_t source_stag_ = 0;  // responder's buffer being read
  std::uint64_t source_to_ = 0;

  friend constexpr bool operator==(const RdmapReadRequest&, const RdmapReadRequest&) = default;
};

// Writes the 28 bytes (RFC 5040 §4.4 order: sink first, then size, then source).
EncodeResult encode_read_request(const RdmapReadRequest& rr, std::span<std::byte> out) noexcept;
// Reads 28 bytes; NeedMore if fewer. Never Malformed (every bit pattern is a valid header).
DecodeResult<RdmapReadRequest, TerminateReason> decode_read_request(
    std::span<const std::byte> in) noexcept;

// --- Terminate message (RFC 5040 §4.8), follows the 18-byte untagged DDP header ---
inline constexpr std::size_t kTerminateFixedBytes = 4;             // layer/type, code, M/D/R + rsvd
inline constexpr std::size_t kTerminateSegmentLengthBytes = 2;     // present iff D=1
inline constexpr std::size_t kTerminateTaggedDdpHeaderBytes = 14;  // == kDdpTaggedHeaderBytes
inline constexpr std::size_t kTerminateMaxDdpHeaderBytes = 18;     // == kDdpUntaggedHeaderBytes
// Largest body this codec parses: fixed + segment length + untagged DDP header + Read Request.
inline constexpr std::size_t kTerminateMaxBodyBytes =
    kTerminateFixedBytes + kTerminateSegmentLengthBytes + kTerminateMaxDdpHeaderBytes +
    kRdmapReadRequestBytes;
static_assert(kTerminateMaxBodyBytes == 52);
inline constexpr std::uint16_t kTerminateFlagM = 0x8000;  // DDP Segment Length valid
inline constexpr std::uint16_t kTerminateFlagD = 0x4000;  // terminated DDP header included
inline constexpr std::uint16_t kTerminateFlagR = 0x2000;  // terminated RDMAP header included

struct TerminateMessage {
  TerminateReason reason_{};
  bool segment_length_valid_ = false;  // M
  bool has_ddp_header_ = false;        // D as sent
  bool has_rdmap_header_ = false;      // R as sent
  // Present iff D=1. [policy] we send the failing FPDU's ULPDU_Length; siw sends the payload
  // length.
  std::uint16_t ddp_segment_length_ = 0;
  // The terminated segment's DDP header bytes, verbatim (it may itself be malformed). Count is 0,
  // 14 (tagged) or 18 (untagged); decode derives it from the included header's T bit.
  std::uint8_t ddp_header_bytes_ = 0;
  std::array<std::byte, kTerminateMaxDdpHeaderBytes> ddp_header_{};
  std::optional<RdmapReadRequest> read_request_;  // the terminated Read Request header, if R=1
  // Decode only: a flag announced more than the ULPDU holds (siw's R=1 with no RDMAP header, or a
  // short body). The parts that did fit are reported; the rest is left empty.
  bool truncated_ = false;

  // Copies a received DDP header (14 or 18 bytes) into ddp_header_ and sets D; false if the
  // length is neither.
  bool set_ddp_header(std::span<const std::byte> header) noexcept;
  std::span<const std::byte> ddp_header() const noexcept {
    return {ddp_header_.data(), ddp_header_bytes_};
  }
};

// Body bytes encode_terminate() will write: 4 [+ 2 + 14/18 if D] [+ 28 if R].
std::size_t terminate_body_bytes(const TerminateMessage& t) noexcept;

// Encodes the Terminate body (ULPDU bytes 18..). InvalidField if layer/type > 15, if D is set
// without a 14/18-byte header, or R is set without read_request_. Reserved bits are sent as 0.
EncodeResult encode_terminate(const TerminateMessage& t, std::span<std::byte> out) noexcept;

// Decodes a received Terminate body = ULPDU bytes after the DDP header (pass exactly those bytes:
// all parsing is bounded by them). Malformed only when fewer than 4 bytes remain (receive check 6,
// reported as kCheckUlpduLengthForOpcode.reason_); everything else is diagnostic and decoded
// leniently. bytes_ = body bytes actually parsed.
DecodeResult<TerminateMessage, TerminateReason> decode_terminate(
    std::span<const std::byte> body) noexcept;

}  // namespace softndk::wire
