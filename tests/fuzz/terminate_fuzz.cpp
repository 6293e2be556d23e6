// Fuzzes decode_terminate on arbitrary bodies (the ULPDU bytes after the DDP header): parsing must
// stay inside the body, and a non-truncated result re-encodes to the same bytes (reserved bits 0).
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "wire/ddp.h"
#include "wire/rdmap.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace softndk::wire;
  const std::span<const std::byte> body(reinterpret_cast<const std::byte*>(data), size);
  const auto r = decode_terminate(body);
  SOFTNDK_FUZZ_CHECK(!r.is_need_more());
  if (r.is_malformed()) {
    SOFTNDK_FUZZ_CHECK(size < kTerminateFixedBytes);
    return 0;
  }
  const TerminateMessage& t = r.value_;
  SOFTNDK_FUZZ_CHECK(r.bytes_ <= size && r.bytes_ <= kTerminateMaxBodyBytes);
  SOFTNDK_FUZZ_CHECK(t.reason_.layer_ <= 0xF && t.reason_.type_ <= 0xF);
  SOFTNDK_FUZZ_CHECK(t.ddp_header_bytes_ == 0 || t.ddp_header_bytes_ == 14 ||
                     t.ddp_header_bytes_ == 18);
  SOFTNDK_FUZZ_CHECK(!t.read_request_.has_value() || t.has_rdmap_header_);
  if (t.ddp_header_bytes_ != 0) {
    // The included header is diagnostic: decoding it may fail but must stay in bounds.
    (void)decode_ddp_header(t.ddp_header());
  }
  if (t.truncated_) {
    SOFTNDK_FUZZ_CHECK(r.bytes_ < kTerminateMaxBodyBytes);
    return 0;
  }
  std::byte out[kTerminateMaxBodyBytes];
  const auto e = encode_terminate(t, out);
  SOFTNDK_FUZZ_CHECK(e.is_ok() && e.bytes_ == r.bytes_);
  for (std::size_t i = 0; i < e.bytes_; ++i) {
    std::byte want = body[i];
    if (i == 2) want &= std::byte{0xE0};  // M D R kept, reserved cleared
    if (i == 3) want = std::byte{0};
    SOFTNDK_FUZZ_CHECK(out[i] == want);
  }
  return 0;
}
