// RDMAP Read Request and Terminate codecs (RFC 5040 §4.4, §4.8). Terminate decoding is bounded by
// the body span the caller passes; nothing here trusts the flags of a received Terminate.
#include "wire/rdmap.h"

#include <algorithm>

#include "wire/byte_io.h"

namespace softndk::wire {

EncodeResult encode_read_request(const RdmapReadRequest& rr, std::span<std::byte> out) noexcept {
  if (out.size() < kRdmapReadRequestBytes) return EncodeResult::fail(EncodeError::BufferTooSmall);
  store_be32(out, 0, rr.sink_stag_);
  store_be64(out, 4, rr.sink_to_);
  store_be32(out, 12, rr.read_bytes_);
  store_be32(out, 16, rr.source_stag_);
  store_be64(out, 20, rr.source_to_);
  return EncodeResult::ok(kRdmapReadRequestBytes);
}

DecodeResult<RdmapReadRequest, TerminateReason> decode_read_request(
    std::span<const std::byte> in) noexcept {
  using Result = DecodeResult<RdmapReadRequest, TerminateReason>;
  if (in.size() < kRdmapReadRequestBytes)
    return Result::need_more(kRdmapReadRequestBytes - in.size());
  RdmapReadRequest rr;
  rr.sink_stag_ = load_be32(in, 0);
  rr.sink_to_ = load_be64(in, 4);
  rr.read_bytes_ = load_be32(in, 12);
  rr.source_stag_ = load_be32(in, 16);
  rr.source_to_ = load_be64(in, 20);
  return Result::complete(rr, kRdmapReadRequestBytes);
}

bool TerminateMessage::set_ddp_header(std::span<const std::byte> header) noexcept {
  if (header.size() != kTerminateTaggedDdpHeaderBytes &&
      header.size() != kTerminateMaxDdpHeaderBytes)
    return false;
  std::copy(header.begin(), header.end(), ddp_header_.begin());
  ddp_header_bytes_ = static_cast<std::uint8_t>(header.size());
  has_ddp_header_ = true;
  return true;
}

std::size_t terminate_body_bytes(const TerminateMessage& t) noexcept {
  std::size_t n = kTerminateFixedBytes;
  if (t.has_ddp_header_) n += kTerminateSegmentLengthBytes + t.ddp_header_bytes_;
  if (t.has_rdmap_header_) n += kRdmapReadRequestBytes;
  return n;
}

EncodeResult encode_terminate(const TerminateMessage& t, std::span<std::byte> out) noexcept {
  if (t.reason_.layer_ > 0x0F || t.reason_.type_ > 0x0F) {
    return EncodeResult::fail(EncodeError::InvalidField);
  }
  if (t.has_ddp_header_ != (t.ddp_header_bytes_ != 0) ||
      (t.ddp_header_bytes_ != 0 && t.ddp_header_bytes_ != kTerminateTaggedDdpHeaderBytes &&
       t.ddp_header_bytes_ != kTerminateMaxDdpHeaderBytes)) {
    return EncodeResult::fail(EncodeError::InvalidField);
  }
  if (t.has_rdmap_header_ != t.read_request_.has_value()) {
    return EncodeResult::fail(EncodeError::InvalidField);
  }
  const std::size_t total = terminate_body_bytes(t);
  if (out.size() < total) return EncodeResult::fail(EncodeError::BufferTooSmall);

  store_u8(out, 0, static_cast<std::uint8_t>((t.reason_.layer_ << 4) | t.reason_.type_));
  store_u8(out, 1, t.reason_.code_);
  std::uint16_t flags = 0;
  if (t.segment_length_valid_) flags |= kTerminateFlagM;
  if (t.has_ddp_header_) flags |= kTerminateFlagD;
  if (t.has_rdmap_header_) flags |= kTerminateFlagR;
  store_be16(out, 2, flags);
  std::size_t offset = kTerminateFixedBytes;
  if (t.has_ddp_header_) {
    store_be16(out, offset, t.ddp_segment_length_);
    offset += kTerminateSegmentLengthBytes;
    std::copy_n(t.ddp_header_.begin(), t.ddp_header_bytes_, out.begin() + offset);
    offset += t.ddp_header_bytes_;
  }
  if (t.has_rdmap_header_) {
    offset += encode_read_request(*t.read_request_, out.subspan(offset)).bytes_;
  }
  return EncodeResult::ok(offset);
}

DecodeResult<TerminateMessage, TerminateReason> decode_terminate(
    std::span<const std::byte> body) noexcept {
  using Result = DecodeResult<TerminateMessage, TerminateReason>;
  if (body.size() < kTerminateFixedBytes) {
    // Spec 4.1 check 6 (Terminate ULPDU >= 22), RDMAP / Remote Operation / 0x07 [policy].
    return Result::malformed(
        make_reason(RdmapErrorType::RemoteOperation, RdmapErrorCode::CatastrophicLocalized));
  }
  TerminateMessage t;
  const std::uint8_t layer_type = load_u8(body, 0);
  t.reason_.layer_ = static_cast<std::uint8_t>(layer_type >> 4);
  t.reason_.type_ = static_cast<std::uint8_t>(layer_type & 0x0F);
  t.reason_.code_ = load_u8(body, 1);
  const std::uint16_t flags = load_be16(body, 2);
  t.segment_length_valid_ = (flags & kTerminateFlagM) != 0;
  t.has_ddp_header_ = (flags & kTerminateFlagD) != 0;
  t.has_rdmap_header_ = (flags & kTerminateFlagR) != 0;

  std::size_t offset = kTerminateFixedBytes;
  if (t.has_ddp_header_) {
    if (body.size() < offset + kTerminateSegmentLengthBytes) {
      t.truncated_ = true;
      return Result::complete(t, offset);
    }
    t.ddp_segment_length_ = load_be16(body, offset);
    offset += kTerminateSegmentLengthBytes;
    // The included header's own T bit says how long it is (RFC 5041 §5.1); Wireshark guesses from
    // the error type instead (as cxgb4 does).
    if (body.size() <= offset) {
      t.truncated_ = true;
      return Result::complete(t, offset);
    }
    const std::size_t header_bytes = (load_u8(body, offset) & 0x80) != 0
                                         ? kTerminateTaggedDdpHeaderBytes
                                         : kTerminateMaxDdpHeaderBytes;
    if (body.size() < offset + header_bytes) {
      t.truncated_ = true;
      return Result::complete(t, offset);
    }
    std::copy_n(body.begin() + offset, header_bytes, t.ddp_header_.begin());
    t.ddp_header_bytes_ = static_cast<std::uint8_t>(header_bytes);
    offset += header_bytes;
  }
  if (t.has_rdmap_header_) {
    if (body.size() < offset + kRdmapReadRequestBytes) {
      t.truncated_ = true;  // siw sets R=1 on Send-with-Invalidate errors without the header
      return Result::complete(t, offset);
    }
    t.read_request_ = decode_read_request(body.subspan(offset)).value_;
    offset += kRdmapReadRequestBytes;
  }
  return Result::complete(t, offset);
}

}  // namespace softndk::wire
