// The shared segment of one shm connection and its two rings (see README.md, "Segment layout").
// The active side creates the segment (a sealed memfd: no file in any directory, owner-only,
// gone when the last process that maps it unmaps or dies), the passive side receives it over
// the setup socket (SCM_RIGHTS) and checks it before mapping. Ring 0 carries active -> passive,
// ring 1 passive -> active. Each ring is a single-producer single-consumer byte ring of records
// (RecordHeader | encoded ULPDU header | payload), 8-byte aligned, that may wrap.
//
// Everything in the segment is written by an untrusted peer: the positions and records are
// copied out and checked before use, a bad value is a protocol error, never a wild access.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace softndk::transport::shm {

inline constexpr uint64_t kSegmentMagic = 0x31'6d'68'73'6b'64'6e'73ull;  // "sndkshm1"
inline constexpr uint32_t kSegmentVersion = 1;
inline constexpr size_t kSegmentHeaderBytes = 4096;
inline constexpr uint32_t kMinRingBytes = 64 * 1024;
inline constexpr uint32_t kMaxRingBytes = 64 * 1024 * 1024;

// One ring's control words, each on its own cache line.
struct RingControl {
  alignas(64) uint64_t tail;        // producer: bytes ever published
  alignas(64) uint64_t head;        // consumer: bytes ever consumed
  alignas(64) uint32_t consumer_sleeping;  // consumer: ring the doorbell after publishing
  uint32_t producer_waiting;               // producer: ring the doorbell after consuming
};

struct MemfdHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t ring_bytes;  // per direction, a power of two
  RingControl rings[2];
};
static_assert(sizeof(MemfdHeader) <= kSegmentHeaderBytes);

// A record in a ring. bytes = sizeof(RecordHeader) + header_bytes + payload_bytes; the next
// record starts at the next multiple of 8.
enum class RecordKind : uint8_t {
  Segment = 1,          // a DDP segment (the Terminate too: opcode Terminate)
  Disconnect = 2,       // graceful close after everything before it
  DisconnectReply = 3,  // the answer to Disconnect
};
struct RecordHeader {
  uint32_t bytes;
  uint8_t kind;
  uint8_t header_bytes;
  uint16_t reserved;
  uint32_t payload_bytes;
  uint32_t reserved2;
};
static_assert(sizeof(RecordHeader) == 16);
inline constexpr size_t kMaxRecordHeaderBytes = 80;  // DDP 18 + Terminate body 52, rounded up

constexpr uint64_t align8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }
constexpr size_t segment_bytes(uint32_t ring_bytes) {
  return kSegmentHeaderBytes + 2 * size_t{ring_bytes};
}
constexpr bool valid_ring_bytes(uint64_t n) {
  return n >= kMinRingBytes && n <= kMaxRingBytes && (n & (n - 1)) == 0;
}

// A mapping of a segment (owner of the mapping, not of the descriptor).
class Segment {
 public:
  Segment() = default;
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  // Active side: a new sealed memfd of ring_bytes per direction, mapped. Returns the memfd
  // (the caller sends and closes it) or -1 with errno.
  int create(uint32_t ring_bytes);
  // Passive side: checks the received memfd (seals, size, header) and maps it. False: refused.
  bool attach(int fd, uint32_t ring_bytes);
  MemfdHeader* header() const { return reinterpret_cast<MemfdHeader*>(base_); }
  std::byte* ring_data(int index) const {
    return base_ + kSegmentHeaderBytes + static_cast<size_t>(index) * ring_bytes_;
  }
  uint32_t ring_bytes() const { return ring_bytes_; }
  bool mapped() const { return base_ != nullptr; }

 private:
  std::byte* base_ = nullptr;
  size_t bytes_ = 0;
  uint32_t ring_bytes_ = 0;
};

// One direction of a segment seen from one side. The producer and the consumer each keep their
// own position privately and publish it; the peer's published position is checked.
class Ring {
 public:
  void bind(const Segment& segment, int index) {
    data_ = segment.ring_data(index);
    control_ = &segment.header()->rings[index];
    capacity_ = segment.ring_bytes();
    mine_ = 0;
  }
  uint64_t capacity() const { return capacity_; }

  // --- producer ---
  // Bytes free for records; false when the consumer's published head is impossible.
  bool free_bytes(uint64_t* out) const;
  void write(uint64_t offset_from_tail, std::span<const std::byte> bytes);
  void publish(uint64_t bytes);  // tail += bytes (seq_cst)
  uint64_t tail() const { return mine_; }

  // --- consumer ---
  // Bytes published and not consumed; false when the producer's tail is impossible.
  bool available(uint64_t* out) const;
  void read(uint64_t offset_from_head, std::span<std::byte> out) const;
  // The payload at offset_from_head as at most two spans of the ring (it may wrap).
  void spans(uint64_t offset_from_head, uint64_t bytes, std::span<const std::byte> out[2]) const;
  void consume(uint64_t bytes);  // head += bytes (seq_cst)
  // From a thread that is not the consumer (the engine deciding whether to sleep): true when
  // the published tail differs from the published head (or either is impossible).
  bool published_unread() const;

  // --- wake-up flags. Positions and flags are all seq_cst: a side stores its flag, then loads
  // the other side's position; the other stores its position, then loads the flag (Dekker):
  // one of the two sees the other, so a wake-up is never lost. ---
  std::atomic_ref<uint32_t> consumer_sleeping() const {
    return std::atomic_ref<uint32_t>(control_->consumer_sleeping);
  }
  std::atomic_ref<uint32_t> producer_waiting() const {
    return std::atomic_ref<uint32_t>(control_->producer_waiting);
  }

 private:
  void copy_in(uint64_t position, const std::byte* from, uint64_t bytes);
  std::byte* data_ = nullptr;
  RingControl* control_ = nullptr;
  uint64_t capacity_ = 0;
  uint64_t mine_ = 0;  // our own position: the tail (producer) or the head (consumer)
};

}  // namespace softndk::transport::shm
