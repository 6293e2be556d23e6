// Memory model (NDKPI NDK_FN_REGISTER_MR, NDK_FN_FAST_REGISTER, NDK_FN_BIND, NDK_FN_BUILD_LAM): the STag table (index plus a random key, a new key on every
// registration, fast-register and bind), regions and their host mapping, access checks that
// turn (STag, address, length, right) into host spans, and the logical-address table behind
// NdkBuildLAM. Remote peers reach memory only through StagTable::acquire, which checks the
// STag, protection domain, right and bounds before any byte is touched.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <random>
#include <span>
#include <vector>

#include "util/spin_lock.h"

namespace softndk::core {

// Access rights inside the provider. Values match NDK_MR_FLAG_* bit for bit.
constexpr uint32_t kAccessLocalWrite = 0x1;
constexpr uint32_t kAccessRemoteRead = 0x2;
constexpr uint32_t kAccessRemoteWrite = 0x4;
constexpr uint32_t kAccessReadSink = 0x8;

enum class StagKind : uint8_t { Free, Mr, FastMr, Window, Privileged };

// Why an access was refused; mapped to Terminate codes and NTSTATUS by the caller.
enum class AccessError : uint8_t {
  None,
  InvalidStag,     // unknown, invalidated or stale key
  WrongPd,         // STag of another protection domain
  AccessRights,    // right not granted
  Bounds,          // outside the region
  Wrap,            // address + length overflows 64 bits
};

// Where a region's bytes live in this process.
struct Mapping {
  std::byte* host_base = nullptr;         // contiguous (NdkRegisterMr): host = base + offset
  std::byte* const* pages = nullptr;      // paged (fast-register): one host pointer per page
  uint32_t page_count = 0;
  uint32_t first_byte_offset = 0;         // FBO inside the first page
};

struct RegionDescriptor {
  StagKind kind = StagKind::Free;
  const void* pd = nullptr;
  uint32_t access = 0;
  uint64_t base = 0;    // first valid address (absolute, not zero-based)
  uint64_t length = 0;
  Mapping mapping;
  // Windows: the region they expose comes from this MR entry, under this STag.
  uint32_t parent_stag = 0;
};

class StagTable;

// A granted access: keeps the entry (and a window's MR) from being invalidated while held.
// Hold it only around copies, never across a call that could invalidate the same STag.
class Lease {
 public:
  Lease() = default;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Lease(Lease&& other) noexcept { *this = std::move(other); }
  Lease& operator=(Lease&& other) noexcept;
  ~Lease() { reset(); }
  void reset();
  bool held() const { return entry_ != nullptr; }

  // Calls fn(std::byte* host, size_t bytes) for each host piece of [address, address + bytes).
  // The range must have been granted by acquire().
  template <class Fn>
  void for_each_span(uint64_t address, uint64_t bytes, Fn&& fn) const;
  const RegionDescriptor& region() const { return *region_; }

 private:
  friend class StagTable;
  struct Entry;
  Entry* entry_ = nullptr;
  Entry* parent_ = nullptr;
  const RegionDescriptor* region_ = nullptr;     // the window's or MR's descriptor
  const RegionDescriptor* host_region_ = nullptr;  // where host pointers come from
};

class StagTable {
 public:
  explicit StagTable(uint32_t capacity);
  ~StagTable();

  // Reserve an entry for an MR, window or privileged token; 0 when the table is full.
  uint32_t allocate(StagKind kind);
  void free(uint32_t index);
  static uint32_t index_of(uint32_t stag) { return stag >> kKeyBits; }
  // A fresh STag for `index` with a new random key (the entry stays as it is).
  uint32_t fresh_stag(uint32_t index);

  // Makes `stag` valid with `region`. False when the entry is currently valid.
  bool publish(uint32_t stag, const RegionDescriptor& region);
  // Invalidates `stag` and waits until no lease on it remains. False when `stag` is not the
  // entry's currently valid STag (already invalid, stale key, unknown).
  bool invalidate(uint32_t stag);
  // The entry's valid STag, or 0.
  uint32_t current(uint32_t index) const;
  StagKind kind_of(uint32_t stag) const;

  // Checks `stag` for `pd` with `rights` over [address, address + bytes) and leases it.
  // bytes == 0 checks only the STag, PD and rights (no bounds: nothing is touched).
  AccessError acquire(uint32_t stag, const void* pd, uint32_t rights, uint64_t address,
                      uint64_t bytes, Lease* lease);

  static constexpr uint32_t kKeyBits = 12;

 private:
  friend class Lease;
  Lease::Entry* entry(uint32_t index) const;
  bool lease_entry(Lease::Entry* e, uint32_t stag);

  uint32_t capacity_;
  Lease::Entry* entries_;
  std::mutex alloc_mutex_;
  std::vector<uint32_t> free_list_;
  std::minstd_rand keys_;
};

struct Lease::Entry {
  std::atomic<uint64_t> word{0};  // (valid stag << 32) | active leases
  util::SpinLock write_lock;      // serializes publish/invalidate of this entry
  StagKind kind = StagKind::Free;
  uint32_t last_key = 0;
  RegionDescriptor region;
};

template <class Fn>
void Lease::for_each_span(uint64_t address, uint64_t bytes, Fn&& fn) const {
  const RegionDescriptor& host = *host_region_;
  uint64_t offset = address - host.base;
  if (host.mapping.host_base != nullptr) {
    if (bytes != 0) fn(host.mapping.host_base + offset, static_cast<size_t>(bytes));
    return;
  }
  constexpr uint64_t kPage = 4096;
  uint64_t position = host.mapping.first_byte_offset + offset;
  while (bytes != 0) {
    uint64_t page = position / kPage;
    uint64_t in_page = position % kPage;
    uint64_t chunk = std::min<uint64_t>(bytes, kPage - in_page);
    fn(host.mapping.pages[page] + in_page, static_cast<size_t>(chunk));
    position += chunk;
    bytes -= chunk;
  }
}

// ---------------------------------------------------------------------------------------------
// Logical addresses (NdkBuildLAM / NdkReleaseLAM, the privileged token, fast-register pages).
// A logical page address encodes (slot, generation, page number); page numbers run in reverse
// order of the host pages, so consecutive host pages are never logically contiguous: a
// consumer that assumes contiguity fails loudly instead of working by accident.
class LamTable {
 public:
  LamTable();
  // Maps the page-aligned host range covering [host, host + bytes). Returns the context to
  // store in AdapterContext (0 on exhaustion) and fills `logical` (page_count entries).
  uint64_t map(std::byte* host, uint64_t bytes, uint32_t* page_count, uint32_t* first_byte_offset,
               int64_t* logical, uint32_t logical_capacity);
  void unmap(uint64_t context);
  // Host pointer of a logical address, nullptr when it is not part of a live mapping.
  std::byte* resolve(int64_t logical) const;
  // Calls fn(host, bytes) for each page piece of [logical, logical + bytes); false when any
  // byte is outside a live mapping (nothing is called then).
  template <class Fn>
  bool for_each_span(int64_t logical, uint64_t bytes, Fn&& fn) const;

 private:
  struct Slot {
    std::byte* host_first_page = nullptr;
    uint32_t page_count = 0;
    uint32_t generation = 0;
    bool live = false;
  };
  mutable std::mutex mutex_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
};

template <class Fn>
bool LamTable::for_each_span(int64_t logical, uint64_t bytes, Fn&& fn) const {
  constexpr uint64_t kPage = 4096;
  // Validate first so that nothing is touched on failure.
  for (uint64_t done = 0; done < bytes;) {
    uint64_t in_page = (static_cast<uint64_t>(logical) + done) % kPage;
    if (resolve(static_cast<int64_t>(static_cast<uint64_t>(logical) + done)) == nullptr)
      return false;
    done += std::min<uint64_t>(bytes - done, kPage - in_page);
  }
  for (uint64_t done = 0; done < bytes;) {
    uint64_t address = static_cast<uint64_t>(logical) + done;
    uint64_t in_page = address % kPage;
    uint64_t chunk = std::min<uint64_t>(bytes - done, kPage - in_page);
    fn(resolve(static_cast<int64_t>(address)), static_cast<size_t>(chunk));
    done += chunk;
  }
  return true;
}

}  // namespace softndk::core
