// MPA Request/Reply codec (RFC 5044 §7.1, RFC 6581 §5). Pure: no I/O, no allocation.
#include "wire/mpa.h"

#include <algorithm>
#include <array>

#include "wire/byte_io.h"

namespace softndk::wire {
namespace {

constexpr std::array<std::byte, kMpaKeyBytes> make_key(const char (&text)[kMpaKeyBytes + 1]) {
  std::array<std::byte, kMpaKeyBytes> key{};
  for (std::size_t i = 0; i < kMpaKeyBytes; ++i) key[i] = static_cast<std::byte>(text[i]);
  return key;
}

constexpr auto kRequestKey = make_key("MPA ID Req Frame");
constexpr auto kReplyKey = make_key("MPA ID Rep Frame");

constexpr std::size_t kFlagsOffset = 16;
constexpr std::size_t kRevisionOffset = 17;
constexpr std::size_t kPdLengthOffset = 18;
constexpr std::uint16_t kIrdOrdValueMask = 0x3FFF;

const std::array<std::byte, kMpaKeyBytes>& key_for(MpaFrameKind kind) {
  return kind == MpaFrameKind::Request ? kRequestKey : kReplyKey;
}

}  // namespace

EncodeResult encode_mpa_frame(const MpaFrame& frame, std::span<std::byte> out) noexcept {
  if (frame.revision_ != 1 && frame.revision_ != 2) {
    return EncodeResult::fail(EncodeError::InvalidField);
  }
  if (frame.enhanced_ && frame.revision_ != 2) return EncodeResult::fail(EncodeError::InvalidField);
  if (frame.has_ird_ord() &&
      (frame.ird_ord_.ird_ > kMpaMaxIrdOrd || frame.ird_ord_.ord_ > kMpaMaxIrdOrd)) {
    return EncodeResult::fail(EncodeError::InvalidField);
  }
  const std::size_t pd_length = frame.pd_length();
  if (pd_length > kMpaMaxPrivateDataBytes) return EncodeResult::fail(EncodeError::InvalidField);
  const std::size_t total = kMpaHeaderBytes + pd_length;
  if (out.size() < total) return EncodeResult::fail(EncodeError::BufferTooSmall);

  const auto& key = key_for(frame.kind_);
  std::copy(key.begin(), key.end(), out.begin());
  std::uint8_t flags = 0;
  if (frame.markers_) flags |= kMpaFlagMarkers;
  if (frame.crc_) flags |= kMpaFlagCrc;
  if (frame.reject_) flags |= kMpaFlagReject;
  if (frame.enhanced_) flags |= kMpaFlagEnhanced;
  store_u8(out, kFlagsOffset, flags);
  store_u8(out, kRevisionOffset, frame.revision_);
  store_be16(out, kPdLengthOffset, static_cast<std::uint16_t>(pd_length));

  std::size_t offset = kMpaHeaderBytes;
  if (frame.has_ird_ord()) {
    const MpaIrdOrd& w = frame.ird_ord_;
    std::uint16_t ird = w.ird_;
    if (w.peer_to_peer_) ird |= kMpaIrdFlagPeerToPeer;
    if (w.rtr_send_) ird |= kMpaIrdFlagRtrSend;
    std::uint16_t ord = w.ord_;
    if (w.rtr_write_) ord |= kMpaOrdFlagRtrWrite;
    if (w.rtr_read_) ord |= kMpaOrdFlagRtrRead;
    store_be16(out, offset, ird);
    store_be16(out, offset + 2, ord);
    offset += kMpaIrdOrdBytes;
  }
  if (!frame.private_data_.empty()) {
    std::copy(frame.private_data_.begin(), frame.private_data_.end(), out.begin() + offset);
  }
  return EncodeResult::ok(total);
}

DecodeResult<MpaFrame, MpaError> decode_mpa_frame(std::span<const std::byte> in,
                                                  MpaFrameKind expected) noexcept {
  using Result = DecodeResult<MpaFrame, MpaError>;
  const auto& key = key_for(expected);
  const std::size_t key_seen = std::min(in.size(), kMpaKeyBytes);
  if (!std::equal(in.begin(), in.begin() + key_seen, key.begin())) {
    return Result::malformed(MpaError::BadKey);
  }
  if (in.size() < kMpaHeaderBytes) return Result::need_more(kMpaHeaderBytes - in.size());

  const std::uint8_t flags = load_u8(in, kFlagsOffset);
  const std::uint8_t revision = load_u8(in, kRevisionOffset);
  if (revision != 1 && revision != 2) return Result::malformed(MpaError::UnsupportedRevision);
  const std::size_t pd_length = load_be16(in, kPdLengthOffset);
  if (pd_length > kMpaMaxPrivateDataBytes) return Result::malformed(MpaError::PrivateDataTooLong);

  MpaFrame f;
  f.kind_ = expected;
  f.revision_ = revision;
  f.markers_ = (flags & kMpaFlagMarkers) != 0;
  f.crc_ = (flags & kMpaFlagCrc) != 0;
  f.reject_ = (flags & kMpaFlagReject) != 0;
  f.enhanced_ = revision == 2 && (flags & kMpaFlagEnhanced) != 0;
  if (f.has_ird_ord() && pd_length < kMpaIrdOrdBytes) {
    return Result::malformed(MpaError::IrdOrdMissing);
  }
  const std::size_t total = kMpaHeaderBytes + pd_length;
  if (in.size() < total) return Result::need_more(total - in.size());

  std::size_t offset = kMpaHeaderBytes;
  if (f.has_ird_ord()) {
    const std::uint16_t ird = load_be16(in, offset);
    const std::uint16_t ord = load_be16(in, offset + 2);
    f.ird_ord_.peer_to_peer_ = (ird & kMpaIrdFlagPeerToPeer) != 0;
    f.ird_ord_.rtr_send_ = (ird & kMpaIrdFlagRtrSend) != 0;
    f.ird_ord_.ird_ = ird & kIrdOrdValueMask;
    f.ird_ord_.rtr_write_ = (ord & kMpaOrdFlagRtrWrite) != 0;
    f.ird_ord_.rtr_read_ = (ord & kMpaOrdFlagRtrRead) != 0;
    f.ird_ord_.ord_ = ord & kIrdOrdValueMask;
    offset += kMpaIrdOrdBytes;
  }
  f.private_data_ = in.subspan(offset, total - offset);
  return Result::complete(f, total);
}

}  // namespace softndk::wire
