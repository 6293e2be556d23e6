// CRC32c over ISA-L's crc32_iscsi. ISA-L convention (checked by crc32c_test against the RFC 3720 / RFC 5044 §6.5 check values):
// the seed is the raw register (start 0xFFFFFFFF) and the return value is the register without
// the final inversion, which is exactly the chaining state crc32c_update() promises.
#include "wire/crc32c.h"

#include <isa-l/crc.h>

namespace softndk::wire {

std::uint32_t crc32c_update(std::uint32_t state, std::span<const std::byte> data) noexcept {
  // crc32_iscsi takes a non-const pointer and an int length; it does not write the buffer.
  constexpr std::size_t kMaxPiece = std::size_t{1} << 30;
  auto* p = reinterpret_cast<unsigned char*>(const_cast<std::byte*>(data.data()));
  std::size_t left = data.size();
  while (left > 0) {
    const std::size_t n = left < kMaxPiece ? left : kMaxPiece;
    state = crc32_iscsi(p, static_cast<int>(n), state);
    p += n;
    left -= n;
  }
  return state;
}

}  // namespace softndk::wire
