// Differential fuzzer: ISA-L-backed wire::crc32c against a bitwise reference CRC32c (reflected
// polynomial 0x82F63B78) that exists only here, including chaining at an input-derived split.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "wire/crc32c.h"

namespace {

std::uint32_t reference_crc32c(std::span<const std::byte> data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const std::byte b : data) {
    crc ^= static_cast<std::uint32_t>(b);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace softndk::wire;
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  const std::uint32_t expected = reference_crc32c(in);
  SOFTNDK_FUZZ_CHECK(crc32c(in) == expected);

  // Chaining: split at a point derived from the input, and byte by byte for short inputs.
  const std::size_t split = size == 0 ? 0 : static_cast<std::size_t>(data[0]) % (size + 1);
  Crc32c acc;
  acc.update(in.first(split));
  acc.update(in.subspan(split));
  SOFTNDK_FUZZ_CHECK(acc.value() == expected);
  if (size <= 64) {
    std::uint32_t state = kCrc32cInitial;
    for (std::size_t i = 0; i < size; ++i) state = crc32c_update(state, in.subspan(i, 1));
    SOFTNDK_FUZZ_CHECK(crc32c_finish(state) == expected);
  }

  std::byte wire[4];
  store_crc32c(wire, expected);
  SOFTNDK_FUZZ_CHECK(static_cast<std::uint32_t>(wire[0]) == (expected & 0xFF));
  SOFTNDK_FUZZ_CHECK(load_crc32c(wire) == expected);
  return 0;
}
