// Result types shared by every wire codec: DecodeStatus/DecodeResult (Complete, NeedMore{bytes},
// Malformed{error}) and EncodeResult (bytes written or an error). No codec logic lives here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace softndk::wire {

enum class DecodeStatus : std::uint8_t {
  Complete,   // value_ is valid; bytes_ = bytes the encoded unit occupies at the input's start
  NeedMore,   // input is a valid prefix so far; bytes_ = at least this many more bytes needed
  Malformed,  // input can never become valid; error_ says why
};

template <typename Value, typename Error>
struct DecodeResult {
  DecodeStatus status_ = DecodeStatus::NeedMore;
  std::size_t bytes_ = 0;
  Value value_{};
  Error error_{};

  static constexpr DecodeResult complete(const Value& value, std::size_t bytes) {
    DecodeResult r;
    r.status_ = DecodeStatus::Complete;
    r.bytes_ = bytes;
    r.value_ = value;
    return r;
  }
  static constexpr DecodeResult need_more(std::size_t bytes) {
    DecodeResult r;
    r.status_ = DecodeStatus::NeedMore;
    r.bytes_ = bytes;
    return r;
  }
  static constexpr DecodeResult malformed(const Error& error) {
    DecodeResult r;
    r.status_ = DecodeStatus::Malformed;
    r.error_ = error;
    return r;
  }

  constexpr bool is_complete() const { return status_ == DecodeStatus::Complete; }
  constexpr bool is_need_more() const { return status_ == DecodeStatus::NeedMore; }
  constexpr bool is_malformed() const { return status_ == DecodeStatus::Malformed; }
};

enum class EncodeError : std::uint8_t {
  None,
  BufferTooSmall,  // the caller's output span cannot hold the encoded unit
  InvalidField,    // a value cannot be represented on the wire (out of range, inconsistent)
};

struct EncodeResult {
  EncodeError error_ = EncodeError::None;
  std::size_t bytes_ = 0;  // bytes written when error_ == None, else 0

  static constexpr EncodeResult ok(std::size_t bytes) { return {EncodeError::None, bytes}; }
  static constexpr EncodeResult fail(EncodeError error) { return {error, 0}; }
  constexpr bool is_ok() const { return error_ == EncodeError::None; }
};

}  // namespace softndk::wire
