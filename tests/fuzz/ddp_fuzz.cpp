// Fuzzes the DDP/RDMAP header decoders. Input: 2-byte big-endian ULPDU length (clamped to what
// follows), then the ULPDU. Checks NeedMore bounds, prefix consistency, and decode -> encode ->
// decode stability of every accepted header.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "wire/ddp.h"

namespace {

using namespace softndk::wire;

bool same(const UlpduHeader& a, const UlpduHeader& b) {
  if (!(a.ddp_ == b.ddp_)) return false;
  if (a.ddp_.opcode_ == RdmapOpcode::ReadRequest) return a.read_request_ == b.read_request_;
  if (a.ddp_.opcode_ == RdmapOpcode::Terminate) {
    const TerminateMessage& x = a.terminate_;
    const TerminateMessage& y = b.terminate_;
    return x.reason_ == y.reason_ && x.segment_length_valid_ == y.segment_length_valid_ &&
           x.ddp_segment_length_ == y.ddp_segment_length_ &&
           x.ddp_header_bytes_ == y.ddp_header_bytes_ && x.ddp_header_ == y.ddp_header_ &&
           x.read_request_ == y.read_request_;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::span<const std::byte> all(reinterpret_cast<const std::byte*>(data), size);
  const std::size_t declared = (static_cast<std::size_t>(data[0]) << 8) | data[1];
  const auto body = all.subspan(2);
  const std::size_t ulpdu_bytes = std::min(declared, body.size());
  const auto ulpdu = body.first(ulpdu_bytes);

  const auto ddp = decode_ddp_header(body);
  if (ddp.is_complete()) {
    SOFTNDK_FUZZ_CHECK(ddp.bytes_ == 14 || ddp.bytes_ == 18);
    std::byte out[18];
    SOFTNDK_FUZZ_CHECK(encode_ddp_header(ddp.value_, out).bytes_ == ddp.bytes_);
    SOFTNDK_FUZZ_CHECK(decode_ddp_header(std::span<const std::byte>(out, ddp.bytes_)).value_ ==
                       ddp.value_);
  }

  const auto r = decode_ulpdu_header(ulpdu, ulpdu_bytes);
  // The whole ULPDU is present, so the decoder can never ask for more.
  SOFTNDK_FUZZ_CHECK(!r.is_need_more());
  if (r.is_malformed()) {
    SOFTNDK_FUZZ_CHECK(r.error_.number_ >= 2 && r.error_.number_ <= 6);
    return 0;
  }
  const UlpduHeader& h = r.value_;
  SOFTNDK_FUZZ_CHECK(h.header_bytes_ + h.payload_bytes_ == ulpdu_bytes);
  SOFTNDK_FUZZ_CHECK(r.bytes_ == h.header_bytes_ && h.header_bytes_ <= 70);

  // Shorter prefixes of the same ULPDU ask for more, never beyond the ULPDU.
  for (std::size_t n = 0; n < h.header_bytes_; n += 1 + n / 4) {
    const auto p = decode_ulpdu_header(ulpdu.first(n), ulpdu_bytes);
    SOFTNDK_FUZZ_CHECK(p.is_need_more());
    SOFTNDK_FUZZ_CHECK(p.bytes_ > 0 && n + p.bytes_ <= h.header_bytes_);
  }

  // Re-encode (only when the Terminate body is self-consistent) and decode again.
  if (h.ddp_.opcode_ == RdmapOpcode::Terminate && h.terminate_.truncated_) return 0;
  std::byte out[128];
  const auto e = encode_ulpdu_header(h, out);
  SOFTNDK_FUZZ_CHECK(e.is_ok());
  // A Terminate's re-encoding drops unparsed body bytes, so it is re-read as exactly its length.
  const bool is_terminate = h.ddp_.opcode_ == RdmapOpcode::Terminate;
  const std::size_t again_bytes = is_terminate ? e.bytes_ : e.bytes_ + h.payload_bytes_;
  const auto again = decode_ulpdu_header(std::span<const std::byte>(out, e.bytes_), again_bytes);
  SOFTNDK_FUZZ_CHECK(again.is_complete());
  SOFTNDK_FUZZ_CHECK(same(h, again.value_));
  SOFTNDK_FUZZ_CHECK(is_terminate || again.value_.header_bytes_ == h.header_bytes_);
  return 0;
}
