// Big-endian (network order) load/store helpers for the wire codecs, plus the one little-endian
// 32-bit pair used for the MPA CRC field. Explicit byte shifts only: no struct overlays, no
// bitfields, no alignment assumptions (style.md rule 7.1). Callers guarantee the bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace softndk::wire {

constexpr std::uint8_t load_u8(const std::byte* p) noexcept {
  return static_cast<std::uint8_t>(p[0]);
}

constexpr std::uint16_t load_be16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>((static_cast<unsigned>(p[0]) << 8) |
                                    static_cast<unsigned>(p[1]));
}

constexpr std::uint32_t load_be32(const std::byte* p) noexcept {
  return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
         (static_cast<std::uint32_t>(p[2]) << 8) | static_cast<std::uint32_t>(p[3]);
}

constexpr std::uint64_t load_be64(const std::byte* p) noexcept {
  return (static_cast<std::uint64_t>(load_be32(p)) << 32) | load_be32(p + 4);
}

constexpr std::uint32_t load_le32(const std::byte* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

constexpr void store_u8(std::byte* p, std::uint8_t v) noexcept {
  p[0] = std::byte{v};
}

constexpr void store_be16(std::byte* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v);
}

constexpr void store_be32(std::byte* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::byte>(v >> 24);
  p[1] = static_cast<std::byte>(v >> 16);
  p[2] = static_cast<std::byte>(v >> 8);
  p[3] = static_cast<std::byte>(v);
}

constexpr void store_be64(std::byte* p, std::uint64_t v) noexcept {
  store_be32(p, static_cast<std::uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<std::uint32_t>(v));
}

constexpr void store_le32(std::byte* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::byte>(v);
  p[1] = static_cast<std::byte>(v >> 8);
  p[2] = static_cast<std::byte>(v >> 16);
  p[3] = static_cast<std::byte>(v >> 24);
}

// Span + offset forms. Precondition: offset + field size <= s.size().
constexpr std::uint8_t load_u8(std::span<const std::byte> s, std::size_t offset) noexcept {
  return load_u8(s.data() + offset);
}
constexpr std::uint16_t load_be16(std::span<const std::byte> s, std::size_t offset) noexcept {
  return load_be16(s.data() + offset);
}
constexpr std::uint32_t load_be32(std::span<const std::byte> s, std::size_t offset) noexcept {
  return load_be32(s.data() + offset);
}
constexpr std::uint64_t load_be64(std::span<const std::byte> s, std::size_t offset) noexcept {
  return load_be64(s.data() + offset);
}
constexpr void store_u8(std::span<std::byte> s, std::size_t offset, std::uint8_t v) noexcept {
  store_u8(s.data() + offset, v);
}
constexpr void store_be16(std::span<std::byte> s, std::size_t offset, std::uint16_t v) noexcept {
  store_be16(s.data() + offset, v);
}
constexpr void store_be32(std::span<std::byte> s, std::size_t offset, std::uint32_t v) noexcept {
  store_be32(s.data() + offset, v);
}
constexpr void store_be64(std::span<std::byte> s, std::size_t offset, std::uint64_t v) noexcept {
  store_be64(s.data() + offset, v);
}

}  // namespace softndk::wire
