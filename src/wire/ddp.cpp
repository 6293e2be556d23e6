// DDP header codec and the ULPDU header decoder (RFC 5041 §5, RFC 5040 §4).
// All reads are explicit big-endian loads at fixed offsets (byte_io.h).
#include "wire/ddp.h"

#include <array>

#include "wire/byte_io.h"

namespace softndk::wire {

static_assert(kDdpTaggedHeaderBytes == kTerminateTaggedDdpHeaderBytes);
static_assert(kDdpUntaggedHeaderBytes == kTerminateMaxDdpHeaderBytes);

EncodeResult encode_ddp_header(const DdpHeader& header, std::span<std::byte> out) noexcept {
  const auto opcode = static_cast<std::uint8_t>(header.opcode_);
  if (opcode > kRdmapOpcodeMask) return EncodeResult::fail(EncodeError::InvalidField);
  const OpcodeInfo& info = opcode_info(opcode);
  if (!info.is_valid_ || info.is_tagged_ != header.tagged_) {
    return EncodeResult::fail(EncodeError::InvalidField);
  }
  const std::size_t n = header.header_bytes();
  if (out.size() < n) return EncodeResult::fail(EncodeError::BufferTooSmall);

  std::uint8_t control = kDdpVersion;
  if (header.tagged_) control |= kDdpFlagTagged;
  if (header.last_) control |= kDdpFlagLast;
  store_u8(out, 0, control);
  store_u8(out, 1, rdmap_control_byte(header.opcode_));
  if (header.tagged_) {
    store_be32(out, 2, header.stag_);  // RFC 5041 §5.2
    store_be64(out, 6, header.to_);
  } else {
    store_be32(out, 2, carries_invalidate_stag(header.opcode_) ? header.inval_stag_ : 0);
    store_be32(out, 6, header.qn_);  // RFC 5041 §5.3
    store_be32(out, 10, header.msn_);
    store_be32(out, 14, header.mo_);
  }
  return EncodeResult::ok(n);
}

DecodeResult<DdpHeader, ReceiveCheck> decode_ddp_header(std::span<const std::byte> in) noexcept {
  using Result = DecodeResult<DdpHeader, ReceiveCheck>;
  if (in.empty()) return Result::need_more(kDdpTaggedHeaderBytes);
  const std::uint8_t control = load_u8(in, 0);
  const bool tagged = (control & kDdpFlagTagged) != 0;
  const std::size_t n = ddp_header_bytes(tagged);
  if (in.size() < n) return Result::need_more(n - in.size());

  // Spec 4.1 check 3: DV (RFC 5041 §7.2 codes differ per buffer model).
  if ((control & kDdpVersionMask) != kDdpVersion) {
    return Result::malformed(tagged ? kCheckDdpVersionTagged : kCheckDdpVersionUntagged);
  }
  // Check 4: RV (RFC 5040 §4.2).
  const std::uint8_t rdmap_control = load_u8(in, 1);
  if ((rdmap_control >> kRdmapVersionShift) != kRdmapVersion) {
    return Result::malformed(kCheckRdmapVersion);
  }
  // Check 5: opcode implemented and consistent with T (RFC 5040 §4.2).
  const std::uint8_t opcode = rdmap_control & kRdmapOpcodeMask;
  const OpcodeInfo& info = opcode_info(opcode);
  if (!info.is_valid_ || info.is_tagged_ != tagged) return Result::malformed(kCheckOpcode);

  DdpHeader h;
  h.tagged_ = tagged;
  h.last_ = (control & kDdpFlagLast) != 0;
  h.opcode_ = static_cast<RdmapOpcode>(opcode);
  if (tagged) {
    h.stag_ = load_be32(in, 2);
    h.to_ = load_be64(in, 6);
  } else {
    h.inval_stag_ = carries_invalidate_stag(h.opcode_) ? load_be32(in, 2) : 0;
    h.qn_ = load_be32(in, 6);
    h.msn_ = load_be32(in, 10);
    h.mo_ = load_be32(in, 14);
  }
  return Result::complete(h, n);
}

DecodeResult<UlpduHeader, ReceiveCheck> decode_ulpdu_header(std::span<const std::byte> prefix,
                                                            std::size_t ulpdu_bytes) noexcept {
  using Result = DecodeResult<UlpduHeader, ReceiveCheck>;
  if (prefix.size() > ulpdu_bytes) prefix = prefix.first(ulpdu_bytes);

  // Check 2: long enough for the DDP header its T bit announces.
  if (ulpdu_bytes < kDdpTaggedHeaderBytes) return Result::malformed(kCheckUlpduTooShort);
  if (prefix.empty()) return Result::need_more(kDdpTaggedHeaderBytes);
  const bool tagged = (load_u8(prefix, 0) & kDdpFlagTagged) != 0;
  const std::size_t ddp_bytes = ddp_header_bytes(tagged);
  if (ulpdu_bytes < ddp_bytes) return Result::malformed(kCheckUlpduTooShort);

  // Checks 3-5.
  const auto ddp = decode_ddp_header(prefix);
  if (ddp.is_need_more()) return Result::need_more(ddp.bytes_);
  if (ddp.is_malformed()) return Result::malformed(ddp.error_);

  // Check 6.
  if (!ulpdu_length_fits_opcode(ddp.value_.opcode_, ulpdu_bytes)) {
    return Result::malformed(kCheckUlpduLengthForOpcode);
  }

  const std::size_t header_bytes = ulpdu_header_bytes(ddp.value_, ulpdu_bytes);
  if (prefix.size() < header_bytes) return Result::need_more(header_bytes - prefix.size());

  UlpduHeader h;
  h.ddp_ = ddp.value_;
  h.ulpdu_bytes_ = ulpdu_bytes;
  h.header_bytes_ = header_bytes;
  h.payload_bytes_ = ulpdu_bytes - header_bytes;
  const auto extra = prefix.subspan(ddp_bytes, header_bytes - ddp_bytes);
  if (h.ddp_.opcode_ == RdmapOpcode::ReadRequest) {
    h.read_request_ = decode_read_request(extra).value_;
  } else if (h.ddp_.opcode_ == RdmapOpcode::Terminate) {
    // Cannot be Malformed: check 6 guaranteed at least kTerminateFixedBytes.
    h.terminate_ = decode_terminate(extra).value_;
  }
  return Result::complete(h, header_bytes);
}

EncodeResult encode_ulpdu_header(const UlpduHeader& header, std::span<std::byte> out) noexcept {
  const EncodeResult ddp = encode_ddp_header(header.ddp_, out);
  if (!ddp.is_ok()) return ddp;
  EncodeResult extra = EncodeResult::ok(0);
  if (header.ddp_.opcode_ == RdmapOpcode::ReadRequest) {
    extra = encode_read_request(header.read_request_, out.subspan(ddp.bytes_));
  } else if (header.ddp_.opcode_ == RdmapOpcode::Terminate) {
    extra = encode_terminate(header.terminate_, out.subspan(ddp.bytes_));
  }
  if (!extra.is_ok()) return extra;
  return EncodeResult::ok(ddp.bytes_ + extra.bytes_);
}

void set_segment_sizes(UlpduHeader& header, std::size_t payload_bytes) noexcept {
  const OpcodeInfo& info = opcode_info(header.ddp_.opcode_);
  std::size_t extra = info.extra_header_bytes_;
  if (info.has_variable_header_) extra = terminate_body_bytes(header.terminate_);
  header.header_bytes_ = header.ddp_.header_bytes() + extra;
  header.payload_bytes_ = payload_bytes;
  header.ulpdu_bytes_ = header.header_bytes_ + payload_bytes;
}

TerminateMessage make_terminate(const ReceiveCheck& check, const UlpduHeader& offending) noexcept {
  TerminateMessage t = make_terminate(check.reason_);
  if (check.includes_ == TerminateIncludes::Nothing) return t;
  std::array<std::byte, kDdpUntaggedHeaderBytes> bytes{};
  const EncodeResult encoded = encode_ddp_header(offending.ddp_, bytes);
  if (!encoded.is_ok() || !t.set_ddp_header({bytes.data(), encoded.bytes_})) return t;
  t.segment_length_valid_ = true;
  t.ddp_segment_length_ = static_cast<std::uint16_t>(offending.ulpdu_bytes_);
  if (check.includes_ == TerminateIncludes::DdpAndReadRequestHeaders &&
      offending.ddp_.opcode_ == RdmapOpcode::ReadRequest) {
    t.read_request_ = offending.read_request_;
    t.has_rdmap_header_ = true;
  }
  return t;
}

TerminateMessage make_terminate(const ReceiveCheck& check,
                                std::span<const std::byte> received_ddp_header,
                                std::size_t ulpdu_bytes) noexcept {
  TerminateMessage t = make_terminate(check.reason_);
  if (check.includes_ == TerminateIncludes::Nothing) return t;
  if (!t.set_ddp_header(received_ddp_header)) return t;
  t.segment_length_valid_ = true;
  t.ddp_segment_length_ = static_cast<std::uint16_t>(ulpdu_bytes);
  return t;
}

std::optional<UlpduHeader> terminated_segment(const TerminateMessage& terminate) noexcept {
  if (!terminate.has_ddp_header_) return std::nullopt;
  const auto decoded = decode_ddp_header(terminate.ddp_header());
  if (!decoded.is_complete()) return std::nullopt;
  UlpduHeader h;
  h.ddp_ = decoded.value_;
  if (terminate.read_request_.has_value()) h.read_request_ = *terminate.read_request_;
  if (terminate.segment_length_valid_) h.ulpdu_bytes_ = terminate.ddp_segment_length_;
  return h;
}

}  // namespace softndk::wire
