// Fuzzes decode_mpa_frame (both frame kinds): incremental consistency over every prefix length
// class, and decode -> encode reproducing the input bytes with reserved flag bits cleared.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "wire/mpa.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace softndk::wire;
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  for (const MpaFrameKind kind : {MpaFrameKind::Request, MpaFrameKind::Reply}) {
    const auto r = decode_mpa_frame(in, kind);
    if (r.is_need_more()) {
      SOFTNDK_FUZZ_CHECK(r.bytes_ > 0);
      SOFTNDK_FUZZ_CHECK(size + r.bytes_ <= kMpaMaxFrameBytes);
      continue;
    }
    if (r.is_malformed()) {
      SOFTNDK_FUZZ_CHECK(r.error_ != MpaError::None);
      continue;
    }
    const MpaFrame& f = r.value_;
    SOFTNDK_FUZZ_CHECK(r.bytes_ == f.frame_bytes());
    SOFTNDK_FUZZ_CHECK(r.bytes_ <= size && r.bytes_ <= kMpaMaxFrameBytes);
    SOFTNDK_FUZZ_CHECK(f.private_data_.data() >= in.data() &&
                       f.private_data_.data() + f.private_data_.size() <= in.data() + size);
    // Every shorter prefix is a valid beginning.
    for (const std::size_t n : {std::size_t{0}, std::size_t{19}, r.bytes_ - 1}) {
      if (n >= r.bytes_) continue;
      const auto p = decode_mpa_frame(in.first(n), kind);
      SOFTNDK_FUZZ_CHECK(p.is_need_more());
      SOFTNDK_FUZZ_CHECK(n + p.bytes_ <= r.bytes_);
    }
    // Re-encoding gives the same bytes except reserved flag bits (0 on send).
    std::byte out[kMpaMaxFrameBytes];
    const auto e = encode_mpa_frame(f, out);
    SOFTNDK_FUZZ_CHECK(e.is_ok() && e.bytes_ == r.bytes_);
    const std::uint8_t defined = f.revision_ == 2 ? 0xF0 : 0xE0;
    for (std::size_t i = 0; i < r.bytes_; ++i) {
      const auto want = i == 16 ? (in[i] & std::byte{defined}) : in[i];
      SOFTNDK_FUZZ_CHECK(out[i] == want);
    }
  }
  return 0;
}
