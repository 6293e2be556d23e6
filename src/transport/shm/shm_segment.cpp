// Implementation of shm_segment.h.
#include "transport/shm/shm_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

namespace softndk::transport::shm {
namespace {

// The mappings of this process by memfd inode: when both ends of a connection live in one
// process, the passive side uses the active side's mapping instead of a second one. The shared
// words then have one address in the process, as atomics should (ThreadSanitizer, for one, only
// sees the synchronization of an atomic through one address).
struct Mappings {
  static Mappings& get() {
    static Mappings* mappings = new Mappings;  // never destroyed: segments may outlive statics
    return *mappings;
  }
  struct Entry {
    std::byte* base;
    size_t bytes;
    int users;
  };
  std::mutex mutex;
  std::map<std::pair<dev_t, ino_t>, Entry> by_inode;
};

std::byte* map_shared(int fd, size_t bytes, const struct stat& st) {
  Mappings& m = Mappings::get();
  std::lock_guard lock(m.mutex);
  auto it = m.by_inode.find({st.st_dev, st.st_ino});
  if (it != m.by_inode.end() && it->second.bytes == bytes) {
    ++it->second.users;
    return it->second.base;
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return nullptr;
  m.by_inode[{st.st_dev, st.st_ino}] = {static_cast<std::byte*>(base), bytes, 1};
  return static_cast<std::byte*>(base);
}

void unmap_shared(std::byte* base, size_t bytes) {
  Mappings& m = Mappings::get();
  std::lock_guard lock(m.mutex);
  for (auto it = m.by_inode.begin(); it != m.by_inode.end(); ++it) {
    if (it->second.base != base) continue;
    if (--it->second.users == 0) {
      ::munmap(base, bytes);
      m.by_inode.erase(it);
    }
    return;
  }
  ::munmap(base, bytes);
}

}  // namespace

Segment::~Segment() {
  if (base_ != nullptr) unmap_shared(base_, bytes_);
}

int Segment::create(uint32_t ring_bytes) {
  if (!valid_ring_bytes(ring_bytes)) {
    errno = EINVAL;
    return -1;
  }
  int fd = ::memfd_create("softndk-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  size_t bytes = segment_bytes(ring_bytes);
  std::byte* base = nullptr;
  struct stat st {};
  if (::fchmod(fd, 0600) == 0 && ::ftruncate(fd, static_cast<off_t>(bytes)) == 0 &&
      ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0 &&
      ::fstat(fd, &st) == 0) {
    base = map_shared(fd, bytes, st);
  }
  if (base == nullptr) {
    int error = errno;
    ::close(fd);
    errno = error;
    return -1;
  }
  base_ = base;
  bytes_ = bytes;
  ring_bytes_ = ring_bytes;
  MemfdHeader* h = header();  // a fresh memfd is zero-filled: positions and flags are 0
  h->ring_bytes = ring_bytes;
  h->version = kSegmentVersion;
  std::atomic_ref<uint64_t>(h->magic).store(kSegmentMagic, std::memory_order_release);
  return fd;
}

bool Segment::attach(int fd, uint32_t ring_bytes) {
  if (!valid_ring_bytes(ring_bytes)) return false;
  // The size may not change under us (a shrink would turn our accesses into SIGBUS).
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & F_SEAL_SHRINK) == 0 || (seals & F_SEAL_SEAL) == 0) return false;
  struct stat st {};
  size_t bytes = segment_bytes(ring_bytes);
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
      static_cast<uint64_t>(st.st_size) != bytes)
    return false;
  std::byte* base = map_shared(fd, bytes, st);
  if (base == nullptr) return false;
  base_ = base;
  bytes_ = bytes;
  ring_bytes_ = ring_bytes;
  const MemfdHeader* h = header();
  if (std::atomic_ref<uint64_t>(header()->magic).load(std::memory_order_acquire) !=
          kSegmentMagic ||
      h->version != kSegmentVersion || h->ring_bytes != ring_bytes) {
    unmap_shared(base_, bytes_);
    base_ = nullptr;
    return false;
  }
  return true;
}

// --- Ring ---

bool Ring::free_bytes(uint64_t* out) const {
  uint64_t head = std::atomic_ref<uint64_t>(control_->head).load(std::memory_order_seq_cst);
  uint64_t used = mine_ - head;
  if (head > mine_ || used > capacity_) return false;
  *out = capacity_ - used;
  return true;
}

void Ring::copy_in(uint64_t position, const std::byte* from, uint64_t bytes) {
  if (bytes == 0) return;  // an empty body (a Disconnect record) may come with a null pointer
  uint64_t offset = position & (capacity_ - 1);
  uint64_t first = std::min(bytes, capacity_ - offset);
  std::memcpy(data_ + offset, from, first);
  if (first < bytes) std::memcpy(data_, from + first, bytes - first);
}

void Ring::write(uint64_t offset_from_tail, std::span<const std::byte> bytes) {
  copy_in(mine_ + offset_from_tail, bytes.data(), bytes.size());
}

void Ring::publish(uint64_t bytes) {
  mine_ += bytes;
  std::atomic_ref<uint64_t>(control_->tail).store(mine_, std::memory_order_seq_cst);
}

bool Ring::available(uint64_t* out) const {
  uint64_t tail = std::atomic_ref<uint64_t>(control_->tail).load(std::memory_order_seq_cst);
  if (tail < mine_ || tail - mine_ > capacity_) return false;
  *out = tail - mine_;
  return true;
}

void Ring::read(uint64_t offset_from_head, std::span<std::byte> out) const {
  std::span<const std::byte> parts[2];
  if (out.empty()) return;
  spans(offset_from_head, out.size(), parts);
  std::memcpy(out.data(), parts[0].data(), parts[0].size());
  if (!parts[1].empty()) std::memcpy(out.data() + parts[0].size(), parts[1].data(), parts[1].size());
}

void Ring::spans(uint64_t offset_from_head, uint64_t bytes,
                 std::span<const std::byte> out[2]) const {
  uint64_t offset = (mine_ + offset_from_head) & (capacity_ - 1);
  uint64_t first = std::min(bytes, capacity_ - offset);
  out[0] = {data_ + offset, first};
  out[1] = {data_, bytes - first};
}

bool Ring::published_unread() const {
  uint64_t tail = std::atomic_ref<uint64_t>(control_->tail).load(std::memory_order_seq_cst);
  uint64_t head = std::atomic_ref<uint64_t>(control_->head).load(std::memory_order_seq_cst);
  return tail != head;
}

void Ring::consume(uint64_t bytes) {
  mine_ += bytes;
  std::atomic_ref<uint64_t>(control_->head).store(mine_, std::memory_order_seq_cst);
}

}  // namespace softndk::transport::shm
