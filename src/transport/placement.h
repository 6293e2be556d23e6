// Direct placement of one segment's payload into the spans a LinkSink hands out
// (LinkSink::rx_next_span): the one loop every transport uses, whether the payload comes as the
// sender's gather list (loopback), a staging buffer, or straight from a socket into the span
// (tcp's direct receive). No allocation; one instance per link direction, reset per segment.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>

#include "transport/transport.h"

namespace softndk::transport {

class Placement {
 public:
  // A segment whose verdict was Place starts: `payload_bytes` will be handed to `sink`.
  void start(LinkSink* sink, size_t payload_bytes) {
    sink_ = sink;
    left_ = payload_bytes;
    span_ = {};
    filled_ = 0;
    refused_ = false;
  }
  // Payload bytes of this segment not yet placed or dropped.
  size_t left() const { return left_; }
  // True once the sink returned an empty span: the rest of the segment is dropped (the core
  // failed a local check and ends the connection in rx_end).
  bool refused() const { return refused_; }

  // Where the next payload bytes go: the unfilled rest of the current span, asking the sink for
  // a new one when it is full. Empty when the sink refused the rest or nothing is left.
  std::span<std::byte> room() {
    if (refused_ || left_ == 0) return {};
    if (filled_ == span_.size()) {
      span_ = sink_->rx_next_span(left_);
      filled_ = 0;
      if (span_.empty()) {
        refused_ = true;
        return {};
      }
    }
    return span_.subspan(filled_);
  }
  // `bytes` were written into room() directly (e.g. by recv()), or are dropped after a refusal.
  void advance(size_t bytes) {
    if (!refused_) filled_ += bytes;
    left_ -= std::min(left_, bytes);
  }
  // Copies `bytes` (the next payload bytes) into the sink's spans; after a refusal they are
  // dropped.
  void copy(std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
      std::span<std::byte> out = room();
      if (out.empty()) {
        advance(bytes.size());
        return;
      }
      size_t n = std::min(out.size(), bytes.size());
      std::memcpy(out.data(), bytes.data(), n);
      advance(n);
      bytes = bytes.subspan(n);
    }
  }

 private:
  LinkSink* sink_ = nullptr;
  size_t left_ = 0;
  std::span<std::byte> span_;
  size_t filled_ = 0;
  bool refused_ = false;
};

}  // namespace softndk::transport
