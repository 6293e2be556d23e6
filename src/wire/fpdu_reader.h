// FpduReader: the incremental MPA/DDP/RDMAP receive state machine for one TCP direction in FPDU
// mode (RFC 5044 §4-6; receive checks 1-6). Fed arbitrary chunks (even 1 byte); reports
// each FPDU's header before its payload so the caller can place payload directly. No I/O, no heap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "wire/crc32c.h"
#include "wire/ddp.h"
#include "wire/fpdu.h"
#include "wire/terminate_codes.h"

namespace softndk::wire {

// AwaitLength -> AwaitHeader -> Payload -> Trailer -> (Complete) AwaitLength ...
// A header that fails checks 2-6 goes AwaitHeader -> Discard -> Trailer -> Failed, so the CRC of
// the offending FPDU is still verified first (check 1 precedes checks 2-6).
enum class FpduReaderState : std::uint8_t {
  AwaitLength,  // collecting the 2-byte ULPDU_Length
  AwaitHeader,  // collecting the DDP header and the opcode's RDMAP header
  Payload,      // payload_remaining() bytes of ULP payload left
  Discard,      // header was malformed: skipping (and CRCing) the rest of the ULPDU
  Trailer,      // pad + 4-byte CRC field
  Failed,       // terminal: a Malformed event was reported
};

enum class FpduEventKind : std::uint8_t {
  NeedMore,   // all offered input consumed; feed more (need_bytes_ says how much ends this step)
  Header,     // an FPDU header was decoded: header() / header_ are valid
  Payload,    // payload_ = next payload bytes, pointing INTO the input just fed
  Complete,   // the FPDU ended and its CRC (if enabled) matched
  Malformed,  // check_ says which receive check failed; the reader is now Failed
};

struct FpduEvent {
  FpduEventKind kind_ = FpduEventKind::NeedMore;
  std::size_t consumed_bytes_ = 0;        // every kind: advance the input by this much
  std::size_t need_bytes_ = 0;            // NeedMore: bytes that finish the current state
  const UlpduHeader* header_ = nullptr;   // Header, Complete: same object as header()
  std::span<const std::byte> payload_{};  // Payload
  bool crc_verified_ = false;             // Complete: true iff the CRC was checked (and matched)
  ReceiveCheck check_{};                  // Malformed: reason_ + includes_ for the Terminate
};

// clang-format off
// API contract (single-threaded; the owner serialises all calls):
//
//   FpduReader reader(crc_negotiated);        // after the MPA Request/Reply exchange
//   std::span<const std::byte> in = bytes_from_socket;
//   for (bool more = true; more;) {
//     const FpduEvent ev = reader.feed(in);
//     in = in.subspan(ev.consumed_bytes_);
//     switch (ev.kind_) {
//       case FpduEventKind::NeedMore:  more = false; break;   // read again (ev.need_bytes_ hint)
//       case FpduEventKind::Header:    pick the target for *ev.header_; break;
//       case FpduEventKind::Payload:   copy ev.payload_ (points into `in`) to the target; break;
//       case FpduEventKind::Complete:  act on the message (header() still valid); break;
//       case FpduEventKind::Malformed: send a Terminate for ev.check_ ("+DDP" part from
//                                      received_ddp_header() and ulpdu_bytes()), close; more = false;
//     }
//   }
//
// clang-format on
// Direct placement: after a Header event (state Payload), instead of feeding payload bytes the
// caller may receive up to payload_remaining() bytes straight into target memory and then report
// them with consume_payload_external(placed); both ways may be mixed within one FPDU, in order.
// Payload is placed BEFORE the CRC is known: nothing irrevocable (completions, invalidation) may be
// done before Complete. Header and Payload events come only for FPDUs whose header passed checks
// 2-6; a failing FPDU yields no Header event, just Malformed after its CRC field.
//
// Lifetimes: header(), received_ddp_header() and FpduEvent::header_ stay valid until the first
// feed() call after Complete (or forever after Malformed). FpduEvent::payload_ aliases the input.
class FpduReader {
 public:
  // Largest header kept: untagged DDP header + the 52-byte Terminate body this codec parses.
  static constexpr std::size_t kMaxHeaderBytes = kDdpUntaggedHeaderBytes + kTerminateMaxBodyBytes;

  explicit FpduReader(bool crc_enabled) noexcept : crc_enabled_(crc_enabled) {}

  // Consumes a prefix of `input` and returns the first event it produces (NeedMore if none, after
  // consuming everything). An empty input is allowed. Bytes after the reported event (e.g. the next
  // FPDU behind a Complete) stay unconsumed: pass the rest of the input again.
  FpduEvent feed(std::span<const std::byte> input) noexcept;

  // Direct placement: `placed` are the next payload bytes of the current FPDU, already written to
  // their target by the caller. Updates the CRC and the payload count. Returns false (and changes
  // nothing) unless state() == Payload and placed.size() <= payload_remaining().
  [[nodiscard]] bool consume_payload_external(std::span<const std::byte> placed) noexcept;

  FpduReaderState state() const noexcept { return state_; }
  // True between FPDUs (no byte of the next FPDU seen): an EOF here is a clean close (RFC 5044 §7.1: an FPDU boundary).
  bool at_fpdu_boundary() const noexcept {
    return state_ == FpduReaderState::AwaitLength && length_have_ == 0;
  }
  std::size_t payload_remaining() const noexcept { return payload_remaining_; }
  std::size_t ulpdu_bytes() const noexcept { return ulpdu_bytes_; }
  bool crc_enabled() const noexcept { return crc_enabled_; }
  const UlpduHeader& header() const noexcept { return header_; }
  // The current FPDU's DDP header bytes as received (14/18), or empty if not fully received.
  std::span<const std::byte> received_ddp_header() const noexcept;

  // Back to AwaitLength, forgetting everything (e.g. reuse for a new connection).
  void reset(bool crc_enabled) noexcept { *this = FpduReader(crc_enabled); }

 private:
  // The unconsumed rest of one feed() call.
  struct Input {
    std::span<const std::byte> bytes;
    std::size_t used = 0;
    std::span<const std::byte> take(std::size_t want) noexcept;  // up to `want` bytes
  };
  // One step per state: an event to report, or nullopt to go on with the next state.
  std::optional<FpduEvent> step_length(Input& in) noexcept;
  std::optional<FpduEvent> step_header(Input& in) noexcept;
  std::optional<FpduEvent> step_payload(Input& in) noexcept;
  std::optional<FpduEvent> step_discard(Input& in) noexcept;
  std::optional<FpduEvent> step_trailer(Input& in) noexcept;
  FpduEvent need_more(std::size_t consumed, std::size_t need) const noexcept;
  FpduEvent fail(std::size_t consumed, const ReceiveCheck& check) noexcept;
  void start_trailer() noexcept;

  bool crc_enabled_;
  FpduReaderState state_ = FpduReaderState::AwaitLength;
  std::size_t length_have_ = 0;   // bytes of length_bytes_ received
  std::size_t header_have_ = 0;   // bytes of header_bytes_ received (this FPDU)
  std::size_t header_want_ = 0;   // bytes the last decode attempt needs before trying again
  std::size_t trailer_have_ = 0;  // bytes of pad + CRC field received
  std::size_t ulpdu_bytes_ = 0;
  std::size_t payload_remaining_ = 0;
  std::size_t discard_remaining_ = 0;
  std::size_t trailer_bytes_ = 0;  // pad + CRC field of the current FPDU
  Crc32c crc_;
  bool has_pending_check_ = false;
  ReceiveCheck pending_check_{};  // from checks 2-6, reported after the CRC was verified
  UlpduHeader header_{};
  std::array<std::byte, kFpduLengthBytes> length_bytes_{};
  std::array<std::byte, kFpduCrcBytes> crc_bytes_{};
  std::array<std::byte, kMaxHeaderBytes> header_bytes_{};
};

}  // namespace softndk::wire
