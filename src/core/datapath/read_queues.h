// The RDMA Read bookkeeping of one queue pair (RFC 5040 §5.2, §6.4; NDKPI read limits):
//   OutboundReads (ORQ): our reads sent and not yet answered, oldest first, as initiator-queue
//     indices. Pushed by the send engine and looked up by the receive engine under the
//     initiator queue's lock; the receive engine pops the front when its response ends.
//   InboundReads (IRQ): the peer's Read Requests accepted and not yet answered. Pushed by the
//     receive engine (one thread at a time per link), popped by the send engine.
// Both are fixed-size rings sized from the adapter's read limits; clear() runs in a flush,
// when neither engine uses them.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "wire/rdmap.h"

namespace softndk::core {

class OutboundReads {
 public:
  // The entry of our Read RTR (RFC 6581 §5): it holds a read slot until its zero-length
  // response arrives, but belongs to no initiator request.
  static constexpr uint64_t kRtr = ~uint64_t{0};
  struct Entry {
    uint64_t index;  // initiator-queue index, or kRtr
    uint32_t msn;    // the Read Request's MSN (a Terminate names it)
  };

  explicit OutboundReads(uint32_t capacity) : ring_(capacity == 0 ? 1 : capacity) {}
  uint32_t size() const {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }
  bool empty() const { return size() == 0; }
  // Caller holds the initiator queue's lock.
  void push_locked(const Entry& entry) {
    uint32_t tail = tail_.load(std::memory_order_relaxed);
    ring_[tail % ring_.size()] = entry;
    tail_.store(tail + 1, std::memory_order_release);
  }
  // Caller holds the initiator queue's lock.
  std::optional<Entry> front_locked() const {
    if (empty()) return std::nullopt;
    return ring_[head_.load(std::memory_order_relaxed) % ring_.size()];
  }
  // Caller holds the initiator queue's lock: the outstanding read with this MSN.
  std::optional<Entry> find_locked(uint32_t msn) const {
    for (uint32_t i = head_.load(std::memory_order_relaxed); i != tail_.load(); ++i) {
      const Entry& entry = ring_[i % ring_.size()];
      if (entry.msn == msn) return entry;
    }
    return std::nullopt;
  }
  void pop() { head_.fetch_add(1, std::memory_order_acq_rel); }
  void clear() { head_.store(tail_.load()); }

 private:
  std::vector<Entry> ring_;
  std::atomic<uint32_t> head_{0}, tail_{0};
};

// The Data Sink STag of our Read Request for initiator-queue index `index` (RFC 5040 §4.4): we
// never advertise the sink's real STag; the Read Response is matched against the ORQ instead.
inline constexpr uint32_t kSinkTagBit = 0x80000000u;
constexpr uint32_t sink_stag_for(uint64_t index) {
  return kSinkTagBit | (static_cast<uint32_t>(index) & ~kSinkTagBit);
}

struct InboundRead {
  wire::RdmapReadRequest request;
  uint32_t msn = 0;   // the Read Request's MSN (for a Terminate that names it)
  bool rtr = false;   // the peer's Read RTR (RFC 6581 §5): answered, but not counted as traffic
};

class InboundReads {
 public:
  explicit InboundReads(uint32_t capacity) : ring_(capacity == 0 ? 1 : capacity) {}
  uint32_t capacity() const { return static_cast<uint32_t>(ring_.size()); }
  uint32_t size() const {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }
  bool empty() const { return size() == 0; }
  // Receive engine.
  void push(const InboundRead& read) {
    uint32_t tail = tail_.load(std::memory_order_relaxed);
    ring_[tail % ring_.size()] = read;
    tail_.store(tail + 1, std::memory_order_release);
  }
  // Send engine: the oldest request (non-empty queue), then pop() once it is answered.
  const InboundRead& front() const {
    return ring_[head_.load(std::memory_order_relaxed) % ring_.size()];
  }
  void pop() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  void clear() { head_.store(tail_.load()); }

 private:
  std::vector<InboundRead> ring_;
  std::atomic<uint32_t> head_{0}, tail_{0};
};

}  // namespace softndk::core
