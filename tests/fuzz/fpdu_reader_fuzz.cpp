// Fuzzes FpduReader. Input byte 0: bit 0 = CRC enabled, bits 1-7 seed the chunking; the rest is the
// TCP byte stream. The stream is read twice, once in one piece and once in input-derived chunks
// (1 byte and up, with direct placement on odd FPDUs); both runs must agree exactly.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.h"
#include "wire/fpdu_reader.h"

namespace {

using namespace softndk::wire;

struct Outcome {
  std::vector<std::byte> payload;  // all payload bytes in order
  std::vector<std::size_t> fpdu_payload_bytes;
  std::vector<DdpHeader> headers;
  bool malformed = false;
  TerminateReason reason{};
  std::size_t consumed = 0;
};

// Empties `out` but keeps its vectors' capacity: the two outcomes live across runs, so a run
// allocates nothing once the vectors have grown (allocation under ASan was most of the cost).
void clear(Outcome& out) {
  out.payload.clear();
  out.fpdu_payload_bytes.clear();
  out.headers.clear();
  out.malformed = false;
  out.reason = {};
  out.consumed = 0;
}

// chunk(i) yields the size of the i-th chunk (>= 1).
template <typename Chunk>
void run(std::span<const std::byte> stream, bool crc, Chunk chunk, bool place_externally,
         Outcome& out) {
  clear(out);
  FpduReader reader(crc);
  std::size_t pos = 0;
  std::size_t index = 0;
  std::size_t header_payload = 0;
  std::size_t seen_payload = 0;
  while (pos < stream.size() && !out.malformed) {
    std::size_t n = chunk(index++);
    if (n > stream.size() - pos) n = stream.size() - pos;
    std::span<const std::byte> in = stream.subspan(pos, n);
    pos += n;
    for (;;) {
      const FpduEvent ev = reader.feed(in);
      SOFTNDK_FUZZ_CHECK(ev.consumed_bytes_ <= in.size());
      out.consumed += ev.consumed_bytes_;
      in = in.subspan(ev.consumed_bytes_);
      if (ev.kind_ == FpduEventKind::NeedMore) {
        SOFTNDK_FUZZ_CHECK(in.empty() && ev.need_bytes_ > 0);
        break;
      }
      if (ev.kind_ == FpduEventKind::Malformed) {
        SOFTNDK_FUZZ_CHECK(ev.check_.number_ >= 1 && ev.check_.number_ <= 6);
        SOFTNDK_FUZZ_CHECK(reader.state() == FpduReaderState::Failed);
        out.malformed = true;
        out.reason = ev.check_.reason_;
        if (ev.check_.includes_ == TerminateIncludes::DdpHeader) {
          const auto h = reader.received_ddp_header();
          SOFTNDK_FUZZ_CHECK(h.size() == 14 || h.size() == 18);
        }
        const FpduEvent again = reader.feed(in);
        SOFTNDK_FUZZ_CHECK(again.kind_ == FpduEventKind::Malformed && again.consumed_bytes_ == 0);
        break;
      }
      if (ev.kind_ == FpduEventKind::Header) {
        SOFTNDK_FUZZ_CHECK(ev.header_ != nullptr);
        out.headers.push_back(ev.header_->ddp_);
        header_payload = ev.header_->payload_bytes_;
        seen_payload = 0;
        SOFTNDK_FUZZ_CHECK(reader.payload_remaining() == header_payload);
        // Direct placement: take payload "from the socket" ourselves for odd FPDUs.
        if (place_externally && (out.headers.size() & 1) != 0) {
          while (reader.payload_remaining() > 0 && !in.empty()) {
            const std::size_t k = std::min({reader.payload_remaining(), in.size(),
                                            std::size_t{1} + reader.payload_remaining() / 3});
            SOFTNDK_FUZZ_CHECK(reader.consume_payload_external(in.first(k)));
            out.payload.insert(out.payload.end(), in.begin(), in.begin() + k);
            out.consumed += k;
            seen_payload += k;
            in = in.subspan(k);
          }
        }
      } else if (ev.kind_ == FpduEventKind::Payload) {
        SOFTNDK_FUZZ_CHECK(!ev.payload_.empty());
        out.payload.insert(out.payload.end(), ev.payload_.begin(), ev.payload_.end());
        seen_payload += ev.payload_.size();
      } else if (ev.kind_ == FpduEventKind::Complete) {
        SOFTNDK_FUZZ_CHECK(seen_payload == header_payload);
        SOFTNDK_FUZZ_CHECK(ev.crc_verified_ == crc);
        SOFTNDK_FUZZ_CHECK(reader.at_fpdu_boundary());
        out.fpdu_payload_bytes.push_back(header_payload);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool crc = (data[0] & 1) != 0;
  std::uint32_t seed = data[0] >> 1;
  const std::span<const std::byte> stream(reinterpret_cast<const std::byte*>(data + 1), size - 1);

  static Outcome whole;
  static Outcome chunked;
  run(
      stream, crc, [](std::size_t) { return std::size_t{1} << 20; }, false, whole);
  run(
      stream, crc,
      [&](std::size_t) {
        seed = seed * 1103515245u + 12345u;
        const std::uint32_t r = seed >> 16;
        return std::size_t{1} + ((r & 3) == 0 ? r % 97 : r % 7);
      },
      true, chunked);

  SOFTNDK_FUZZ_CHECK(whole.malformed == chunked.malformed);
  SOFTNDK_FUZZ_CHECK(whole.reason == chunked.reason);
  SOFTNDK_FUZZ_CHECK(whole.headers == chunked.headers);
  SOFTNDK_FUZZ_CHECK(whole.fpdu_payload_bytes == chunked.fpdu_payload_bytes);
  SOFTNDK_FUZZ_CHECK(whole.payload == chunked.payload);
  SOFTNDK_FUZZ_CHECK(whole.consumed == chunked.consumed);
  return 0;
}
