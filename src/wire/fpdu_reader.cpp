// FpduReader state machine (RFC 5044 §4-6; receive checks 1-6). Every consumed byte
// before the CRC field goes through crc_ exactly once, whether fed, buffered or placed externally.
#include "wire/fpdu_reader.h"

#include <algorithm>

#include "wire/byte_io.h"

namespace softndk::wire {

FpduEvent FpduReader::need_more(std::size_t consumed, std::size_t need) const noexcept {
  FpduEvent ev;
  ev.kind_ = FpduEventKind::NeedMore;
  ev.consumed_bytes_ = consumed;
  ev.need_bytes_ = need;
  return ev;
}

FpduEvent FpduReader::fail(std::size_t consumed, const ReceiveCheck& check) noexcept {
  state_ = FpduReaderState::Failed;
  pending_check_ = check;
  has_pending_check_ = true;
  FpduEvent ev;
  ev.kind_ = FpduEventKind::Malformed;
  ev.consumed_bytes_ = consumed;
  ev.check_ = check;
  return ev;
}

void FpduReader::start_trailer() noexcept {
  state_ = FpduReaderState::Trailer;
  trailer_have_ = 0;
  trailer_bytes_ = fpdu_trailer_bytes(ulpdu_bytes_);
}

std::span<const std::byte> FpduReader::received_ddp_header() const noexcept {
  if (header_have_ == 0) return {};
  const bool tagged = (static_cast<std::uint8_t>(header_bytes_[0]) & kDdpFlagTagged) != 0;
  const std::size_t n = ddp_header_bytes(tagged);
  if (header_have_ < n) return {};
  return {header_bytes_.data(), n};
}

bool FpduReader::consume_payload_external(std::span<const std::byte> placed) noexcept {
  if (state_ != FpduReaderState::Payload || placed.size() > payload_remaining_) return false;
  if (crc_enabled_) crc_.update(placed);
  payload_remaining_ -= placed.size();
  if (payload_remaining_ == 0) start_trailer();
  return true;
}

std::span<const std::byte> FpduReader::Input::take(std::size_t want) noexcept {
  const std::size_t n = std::min(want, bytes.size() - used);
  const auto piece = bytes.subspan(used, n);
  used += n;
  return piece;
}

FpduEvent FpduReader::feed(std::span<const std::byte> input) noexcept {
  Input in{input};
  for (;;) {
    std::optional<FpduEvent> event;
    switch (state_) {
      case FpduReaderState::AwaitLength:
        event = step_length(in);
        break;
      case FpduReaderState::AwaitHeader:
        event = step_header(in);
        break;
      case FpduReaderState::Payload:
        event = step_payload(in);
        break;
      case FpduReaderState::Discard:
        event = step_discard(in);
        break;
      case FpduReaderState::Trailer:
        event = step_trailer(in);
        break;
      case FpduReaderState::Failed: {
        FpduEvent ev;
        ev.kind_ = FpduEventKind::Malformed;
        ev.consumed_bytes_ = in.used;
        ev.check_ = pending_check_;
        return ev;
      }
    }
    if (event.has_value()) return *event;
  }
}

std::optional<FpduEvent> FpduReader::step_length(Input& in) noexcept {
  if (length_have_ == 0) {
    crc_.reset();
    header_have_ = 0;
    header_want_ = 0;
    has_pending_check_ = false;
  }
  const auto piece = in.take(kFpduLengthBytes - length_have_);
  std::copy(piece.begin(), piece.end(), length_bytes_.begin() + length_have_);
  length_have_ += piece.size();
  if (length_have_ < kFpduLengthBytes) return need_more(in.used, kFpduLengthBytes - length_have_);
  if (crc_enabled_) crc_.update(length_bytes_);
  ulpdu_bytes_ = load_be16(length_bytes_.data());
  length_have_ = 0;
  state_ = FpduReaderState::AwaitHeader;
  return std::nullopt;
}

std::optional<FpduEvent> FpduReader::step_header(Input& in) noexcept {
  if (header_have_ < header_want_) {
    // Collect what the last decode attempt asked for before decoding again: a header fed a byte
    // at a time is decoded two or three times, not once per byte.
    const auto piece = in.take(header_want_ - header_have_);
    std::copy(piece.begin(), piece.end(), header_bytes_.begin() + header_have_);
    header_have_ += piece.size();
    if (crc_enabled_) crc_.update(piece);
    if (header_have_ < header_want_) return need_more(in.used, header_want_ - header_have_);
  }
  const auto decoded = decode_ulpdu_header({header_bytes_.data(), header_have_}, ulpdu_bytes_);
  if (decoded.is_malformed()) {
    // Checks 2-6 failed; report only after the CRC field (check 1 comes first).
    pending_check_ = decoded.error_;
    has_pending_check_ = true;
    discard_remaining_ = ulpdu_bytes_ - header_have_;
    state_ = FpduReaderState::Discard;
    return std::nullopt;
  }
  if (decoded.is_complete()) {
    header_ = decoded.value_;
    payload_remaining_ = header_.payload_bytes_;
    state_ = FpduReaderState::Payload;
    if (payload_remaining_ == 0) start_trailer();
    FpduEvent ev;
    ev.kind_ = FpduEventKind::Header;
    ev.consumed_bytes_ = in.used;
    ev.header_ = &header_;
    return ev;
  }
  // NeedMore: decoded.bytes_ never exceeds the ULPDU nor kMaxHeaderBytes.
  header_want_ = header_have_ + decoded.bytes_;
  return std::nullopt;
}

std::optional<FpduEvent> FpduReader::step_payload(Input& in) noexcept {
  const auto piece = in.take(payload_remaining_);
  if (piece.empty()) return need_more(in.used, payload_remaining_);
  if (crc_enabled_) crc_.update(piece);
  payload_remaining_ -= piece.size();
  if (payload_remaining_ == 0) start_trailer();
  FpduEvent ev;
  ev.kind_ = FpduEventKind::Payload;
  ev.consumed_bytes_ = in.used;
  ev.payload_ = piece;
  return ev;
}

std::optional<FpduEvent> FpduReader::step_discard(Input& in) noexcept {
  const auto piece = in.take(discard_remaining_);
  if (crc_enabled_) crc_.update(piece);
  discard_remaining_ -= piece.size();
  if (discard_remaining_ > 0)
    return need_more(in.used, discard_remaining_ + fpdu_trailer_bytes(ulpdu_bytes_));
  start_trailer();
  return std::nullopt;
}

std::optional<FpduEvent> FpduReader::step_trailer(Input& in) noexcept {
  const std::size_t pad = trailer_bytes_ - kFpduCrcBytes;
  const auto piece = in.take(trailer_bytes_ - trailer_have_);
  for (const std::byte b : piece) {
    if (trailer_have_ < pad) {
      if (crc_enabled_) crc_.update({&b, 1});  // pad is covered by the CRC (RFC 5044 §6.5)
    } else {
      crc_bytes_[trailer_have_ - pad] = b;
    }
    ++trailer_have_;
  }
  if (trailer_have_ < trailer_bytes_) return need_more(in.used, trailer_bytes_ - trailer_have_);
  // Check 1 (RFC 5044 §6.5): CRC field is LSB first; ignored when CRC was not negotiated.
  if (crc_enabled_ && load_crc32c(crc_bytes_) != crc_.value()) return fail(in.used, kCheckCrc);
  if (has_pending_check_) return fail(in.used, pending_check_);
  state_ = FpduReaderState::AwaitLength;
  FpduEvent ev;
  ev.kind_ = FpduEventKind::Complete;
  ev.consumed_bytes_ = in.used;
  ev.header_ = &header_;
  ev.crc_verified_ = crc_enabled_;
  return ev;
}

}  // namespace softndk::wire
