// DDP segment headers (RFC 5041 §5: tagged 14 bytes, untagged 18 bytes, each embedding the RDMAP
// control byte) and the ULPDU header decoder = DDP header + RDMAP extra header with receive
// checks 2-6. Transport-independent: the MPA framing (fpdu.h, fpdu_reader.h) sits on top.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "wire/codec_result.h"
#include "wire/opcode_table.h"
#include "wire/rdmap.h"
#include "wire/terminate_codes.h"

namespace softndk::wire {

inline constexpr std::size_t kDdpTaggedHeaderBytes = 14;
inline constexpr std::size_t kDdpUntaggedHeaderBytes = 18;

// DDP control byte (RFC 5041 §5.1). 0x3C is reserved: 0 on send, ignored on receipt.
inline constexpr std::uint8_t kDdpFlagTagged = 0x80;
inline constexpr std::uint8_t kDdpFlagLast = 0x40;
inline constexpr std::uint8_t kDdpVersionMask = 0x03;
inline constexpr std::uint8_t kDdpVersion = 1;

constexpr std::size_t ddp_header_bytes(bool is_tagged) {
  return is_tagged ? kDdpTaggedHeaderBytes : kDdpUntaggedHeaderBytes;
}

// Host-order view of one DDP header. Tagged fields (stag_, to_) are meaningful iff tagged_;
// untagged fields (inval_stag_, qn_, msn_, mo_) iff !tagged_.
struct DdpHeader {
  bool tagged_ = false;
  bool last_ = false;
  RdmapOpcode opcode_ = RdmapOpcode::Write;
  std::uint32_t stag_ = 0;        // Data Sink STag (RFC 5041 §5.2)
  std::uint64_t to_ = 0;          // Data Sink tagged offset of this segment's first payload byte
  std::uint32_t inval_stag_ = 0;  // RsvdULP[8:39]; Invalidate STag for opcodes 0x4/0x6, else 0
  std::uint32_t qn_ = 0;          // RFC 5041 §5.3
  std::uint32_t msn_ = 0;
  std::uint32_t mo_ = 0;

  constexpr std::size_t header_bytes() const { return ddp_header_bytes(tagged_); }
  friend constexpr bool operator==(const DdpHeader&, const DdpHeader&) = default;
};

constexpr DdpHeader make_tagged_header(RdmapOpcode opcode, bool last, std::uint32_t stag,
                                       std::uint64_t to) {
  DdpHeader h;
  h.tagged_ = true;
  h.last_ = last;
  h.opcode_ = opcode;
  h.stag_ = stag;
  h.to_ = to;
  return h;
}

// QN defaults to the opcode's queue (opcode_table.h).
constexpr DdpHeader make_untagged_header(RdmapOpcode opcode, bool last, std::uint32_t msn,
                                         std::uint32_t mo, std::uint32_t inval_stag = 0) {
  DdpHeader h;
  h.tagged_ = false;
  h.last_ = last;
  h.opcode_ = opcode;
  h.qn_ = opcode_info(opcode).queue_number_;
  h.msn_ = msn;
  h.mo_ = mo;
  h.inval_stag_ = inval_stag;
  return h;
}

// True for opcodes whose RsvdULP[8:39] carries an Invalidate STag (RFC 5040 §4.3).
constexpr bool carries_invalidate_stag(RdmapOpcode opcode) {
  return opcode_info(opcode).invalidates_stag_;
}

// Writes 14 or 18 bytes. InvalidField if the opcode is not valid or does not match tagged_.
// inval_stag_ is written only for opcodes 0x4/0x6 (0 otherwise).
EncodeResult encode_ddp_header(const DdpHeader& header, std::span<std::byte> out) noexcept;

// Decodes one DDP header from the start of `in` with receive check 3 (DV), 4 (RV) and
// 5 (opcode known and consistent with T), in that order. NeedMore until 14/18 bytes are present.
// Reserved bits are ignored; inval_stag_ is 0 unless the opcode carries it.
DecodeResult<DdpHeader, ReceiveCheck> decode_ddp_header(std::span<const std::byte> in) noexcept;

// Spec 4.1 check 6: does a ULPDU of `ulpdu_bytes` fit `opcode`? (Read Request exactly 46, Terminate
// at least 22, others at least their DDP header.) Precondition: opcode is valid.
constexpr bool ulpdu_length_fits_opcode(RdmapOpcode opcode, std::size_t ulpdu_bytes) {
  const OpcodeInfo& info = opcode_info(opcode);
  const std::size_t fixed = ddp_header_bytes(info.is_tagged_) + info.extra_header_bytes_;
  if (ulpdu_bytes < fixed) return false;
  if (!info.has_payload_ && !info.has_variable_header_) return ulpdu_bytes == fixed;
  return true;
}

// A decoded ULPDU header: the DDP header plus the opcode's RDMAP header.
struct UlpduHeader {
  DdpHeader ddp_{};
  RdmapReadRequest read_request_{};  // valid iff ddp_.opcode_ == ReadRequest
  TerminateMessage terminate_{};     // valid iff ddp_.opcode_ == Terminate
  std::size_t ulpdu_bytes_ = 0;      // whole ULPDU (= MPA ULPDU_Length)
  std::size_t header_bytes_ = 0;     // DDP header + decoded RDMAP header
  // ULP payload after the headers. For a Terminate: body bytes beyond the 52 this codec parses
  // (diagnostic junk; ignore them).
  std::size_t payload_bytes_ = 0;
};

// Header bytes decode_ulpdu_header() consumes for a valid header (DDP header + RDMAP header).
// Precondition: ulpdu_length_fits_opcode(ddp.opcode_, ulpdu_bytes).
constexpr std::size_t ulpdu_header_bytes(const DdpHeader& ddp, std::size_t ulpdu_bytes) {
  const OpcodeInfo& info = opcode_info(ddp.opcode_);
  const std::size_t base = ddp.header_bytes();
  if (info.has_variable_header_) {
    const std::size_t body = ulpdu_bytes - base;
    return base + (body < kTerminateMaxBodyBytes ? body : kTerminateMaxBodyBytes);
  }
  return base + info.extra_header_bytes_;
}

// Decodes the header of a ULPDU whose total length is `ulpdu_bytes`, given its first bytes in
// `prefix` (more than the header is fine). Applies receive checks 2-6 in order; Malformed carries
// the check (reason_ + includes_). NeedMore{n}: n more prefix bytes are needed (never beyond
// ulpdu_bytes). Complete: bytes_ = header_bytes_. Usable without MPA (loopback/shm segments).
DecodeResult<UlpduHeader, ReceiveCheck> decode_ulpdu_header(std::span<const std::byte> prefix,
                                                            std::size_t ulpdu_bytes) noexcept;

// Writes the DDP header plus the RDMAP header for the opcode (Read Request: read_request_;
// Terminate: terminate_ body). ulpdu_bytes_/header_bytes_/payload_bytes_ are ignored.
EncodeResult encode_ulpdu_header(const UlpduHeader& header, std::span<std::byte> out) noexcept;

// Sets header_bytes_, payload_bytes_ and ulpdu_bytes_ of a header a sender built, for a segment
// carrying `payload_bytes` of ULP payload (the sizes a receiver's decoder would report).
void set_segment_sizes(UlpduHeader& header, std::size_t payload_bytes) noexcept;

// The Terminate for a failed receive check (RFC 5040 §4.8, §7): the
// check's layer/type/code and, as its includes_ asks, the offending segment's DDP header (encoded
// from `offending`), its ULPDU length, and its Read Request header.
TerminateMessage make_terminate(const ReceiveCheck& check, const UlpduHeader& offending) noexcept;
// The same from the offending segment's DDP header bytes as received (framing and header checks
// 1-6, where the header may not decode): they are copied verbatim.
TerminateMessage make_terminate(const ReceiveCheck& check,
                                std::span<const std::byte> received_ddp_header,
                                std::size_t ulpdu_bytes) noexcept;
// A Terminate that names no segment (LLP errors, RFC 5044 §8).
constexpr TerminateMessage make_terminate(const TerminateReason& reason) noexcept {
  TerminateMessage t;
  t.reason_ = reason;
  return t;
}

// The offending segment a received Terminate names, decoded from the DDP header it carries (and
// its Read Request header when R=1); nullopt when it carries none or the header does not decode.
std::optional<UlpduHeader> terminated_segment(const TerminateMessage& terminate) noexcept;

}  // namespace softndk::wire
