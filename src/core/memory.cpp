// Implementation of core/memory.h.
#include "core/memory.h"

#include <thread>

namespace softndk::core {

namespace {
// Leases held by this thread, so that an invalidation never waits for a lease its own thread
// holds further up the stack (loopback delivers synchronously: a peer's Send with Invalidate
// can arrive while our engine still leases the region it reads from).
constexpr int kMaxThreadLeases = 16;
__attribute__((tls_model("initial-exec"))) thread_local const void* t_leases[kMaxThreadLeases];
__attribute__((tls_model("initial-exec"))) thread_local int t_lease_count = 0;

void note_lease(const void* entry) {
  if (t_lease_count < kMaxThreadLeases) t_leases[t_lease_count++] = entry;
}
void forget_lease(const void* entry) {
  for (int i = t_lease_count - 1; i >= 0; --i) {
    if (t_leases[i] == entry) {
      t_leases[i] = t_leases[--t_lease_count];
      return;
    }
  }
}
uint64_t own_leases(const void* entry) {
  uint64_t n = 0;
  for (int i = 0; i < t_lease_count; ++i) n += t_leases[i] == entry ? 1 : 0;
  return n;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Lease

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    reset();
    entry_ = other.entry_;
    parent_ = other.parent_;
    region_ = other.region_;
    host_region_ = other.host_region_;
    other.entry_ = other.parent_ = nullptr;
  }
  return *this;
}

void Lease::reset() {
  if (parent_ != nullptr) {
    forget_lease(parent_);
    parent_->word.fetch_sub(1, std::memory_order_release);
  }
  if (entry_ != nullptr) {
    forget_lease(entry_);
    entry_->word.fetch_sub(1, std::memory_order_release);
  }
  entry_ = parent_ = nullptr;
}

// ---------------------------------------------------------------------------------------------
// StagTable

StagTable::StagTable(uint32_t capacity)
    : capacity_(capacity), entries_(new Lease::Entry[capacity]), keys_(std::random_device{}()) {
  free_list_.reserve(capacity);
  for (uint32_t i = capacity - 1; i >= 1; --i) free_list_.push_back(i);  // index 0: never used
}

StagTable::~StagTable() { delete[] entries_; }

Lease::Entry* StagTable::entry(uint32_t index) const {
  return (index == 0 || index >= capacity_) ? nullptr : &entries_[index];
}

uint32_t StagTable::allocate(StagKind kind) {
  std::lock_guard lock(alloc_mutex_);
  if (free_list_.empty()) return 0;
  uint32_t index = free_list_.back();
  free_list_.pop_back();
  entries_[index].kind = kind;
  return index;
}

void StagTable::free(uint32_t index) {
  Lease::Entry* e = entry(index);
  if (e == nullptr) return;
  invalidate(current(index));
  std::lock_guard lock(alloc_mutex_);
  e->kind = StagKind::Free;
  free_list_.push_back(index);
}

uint32_t StagTable::fresh_stag(uint32_t index) {
  Lease::Entry* e = entry(index);
  std::lock_guard lock(alloc_mutex_);
  uint32_t key;
  do {
    key = static_cast<uint32_t>(keys_()) & ((1u << kKeyBits) - 1);
  } while (key == e->last_key);
  e->last_key = key;
  return (index << kKeyBits) | key;
}

uint32_t StagTable::current(uint32_t index) const {
  Lease::Entry* e = entry(index);
  return e == nullptr ? 0 : static_cast<uint32_t>(e->word.load(std::memory_order_acquire) >> 32);
}

StagKind StagTable::kind_of(uint32_t stag) const {
  Lease::Entry* e = entry(index_of(stag));
  return e == nullptr ? StagKind::Free : e->kind;
}

bool StagTable::publish(uint32_t stag, const RegionDescriptor& region) {
  Lease::Entry* e = entry(index_of(stag));
  if (e == nullptr || stag == 0) return false;
  std::lock_guard lock(e->write_lock);
  if ((e->word.load(std::memory_order_acquire) >> 32) != 0) return false;
  // No lease can exist while the entry is invalid, so the descriptor is ours to write.
  e->region = region;
  uint64_t word = e->word.load(std::memory_order_relaxed);
  while (!e->word.compare_exchange_weak(word, (uint64_t{stag} << 32) | (word & 0xffffffffu),
                                        std::memory_order_release)) {
  }
  return true;
}

bool StagTable::invalidate(uint32_t stag) {
  Lease::Entry* e = entry(index_of(stag));
  if (e == nullptr || stag == 0) return false;
  std::lock_guard lock(e->write_lock);
  uint64_t word = e->word.load(std::memory_order_acquire);
  do {
    if ((word >> 32) != stag) return false;
  } while (!e->word.compare_exchange_weak(word, word & 0xffffffffu, std::memory_order_acq_rel));
  // Leases are held only around copies; wait for the ones in progress on other threads.
  uint64_t mine = own_leases(e);
  for (int spins = 0; (e->word.load(std::memory_order_acquire) & 0xffffffffu) > mine; ++spins) {
    if (spins < 128) {
      util::cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  return true;
}

bool StagTable::lease_entry(Lease::Entry* e, uint32_t stag) {
  uint64_t word = e->word.fetch_add(1, std::memory_order_acquire);
  if ((word >> 32) != stag) {
    e->word.fetch_sub(1, std::memory_order_release);
    return false;
  }
  note_lease(e);
  return true;
}

AccessError StagTable::acquire(uint32_t stag, const void* pd, uint32_t rights, uint64_t address,
                               uint64_t bytes, Lease* lease) {
  lease->reset();
  Lease::Entry* e = entry(index_of(stag));
  if (e == nullptr || stag == 0 || !lease_entry(e, stag)) return AccessError::InvalidStag;
  Lease held;
  held.entry_ = e;
  held.region_ = &e->region;
  held.host_region_ = &e->region;
  const RegionDescriptor& r = e->region;
  if (r.pd != pd) return AccessError::WrongPd;
  if ((r.access & rights) != rights) return AccessError::AccessRights;
  if (bytes != 0 && address + bytes < address) return AccessError::Wrap;
  // A zero-byte access touches nothing: only the STag, PD and right are checked (e.g. the STag
  // named by a Send with Invalidate).
  if (bytes != 0 && (address < r.base || address - r.base > r.length ||
                     bytes > r.length - (address - r.base)))
    return AccessError::Bounds;
  if (r.kind == StagKind::Window) {
    // A window is usable only while its MR is registered under the STag it was bound to.
    Lease::Entry* mr = entry(index_of(r.parent_stag));
    if (mr == nullptr || !lease_entry(mr, r.parent_stag)) return AccessError::InvalidStag;
    held.parent_ = mr;
    held.host_region_ = &mr->region;
  }
  *lease = std::move(held);
  return AccessError::None;
}

// ---------------------------------------------------------------------------------------------
// LamTable

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kLogicalTag = uint64_t{1} << 62;
constexpr int kSlotShift = 44;       // 16 bits of slot index
constexpr int kGenerationShift = 32;  // 12 bits of generation
constexpr uint32_t kGenerationMask = 0xfff;
constexpr int kPageShift = 12;        // 20 bits of page number
constexpr uint32_t kMaxPages = 1u << 20;
constexpr uint32_t kMaxSlots = 1u << 16;
}  // namespace

LamTable::LamTable() { slots_.reserve(64); }

uint64_t LamTable::map(std::byte* host, uint64_t bytes, uint32_t* page_count,
                       uint32_t* first_byte_offset, int64_t* logical, uint32_t logical_capacity) {
  uint64_t fbo = reinterpret_cast<uintptr_t>(host) % kPage;
  uint64_t pages = (fbo + bytes + kPage - 1) / kPage;
  if (pages == 0 || pages > kMaxPages || pages > logical_capacity) return 0;
  std::lock_guard lock(mutex_);
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if (slots_.size() >= kMaxSlots) return 0;
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[index];
  s.host_first_page = host - fbo;
  s.page_count = static_cast<uint32_t>(pages);
  s.generation = (s.generation + 1) & kGenerationMask;
  s.live = true;
  uint64_t base = kLogicalTag | (uint64_t{index} << kSlotShift) |
                  (uint64_t{s.generation} << kGenerationShift);
  for (uint64_t i = 0; i < pages; ++i) {
    uint64_t page_number = pages - 1 - i;  // reversed: never logically contiguous
    logical[i] = static_cast<int64_t>(base | (page_number << kPageShift));
  }
  *page_count = static_cast<uint32_t>(pages);
  *first_byte_offset = static_cast<uint32_t>(fbo);
  // Context: slot + generation + 1 so that 0 means "none".
  return ((uint64_t{index} << 12) | s.generation) + 1;
}

void LamTable::unmap(uint64_t context) {
  if (context == 0) return;
  uint64_t value = context - 1;
  uint32_t index = static_cast<uint32_t>(value >> 12);
  uint32_t generation = static_cast<uint32_t>(value & kGenerationMask);
  std::lock_guard lock(mutex_);
  if (index >= slots_.size()) return;
  Slot& s = slots_[index];
  if (!s.live || s.generation != generation) return;
  s.live = false;
  free_slots_.push_back(index);
}

std::byte* LamTable::resolve(int64_t logical_signed) const {
  uint64_t logical = static_cast<uint64_t>(logical_signed);
  if ((logical & kLogicalTag) == 0 || (logical >> 63) != 0) return nullptr;
  uint32_t index = static_cast<uint32_t>((logical >> kSlotShift) & (kMaxSlots - 1));
  uint32_t generation = static_cast<uint32_t>((logical >> kGenerationShift) & kGenerationMask);
  uint32_t page_number = static_cast<uint32_t>((logical >> kPageShift) & (kMaxPages - 1));
  std::lock_guard lock(mutex_);
  if (index >= slots_.size()) return nullptr;
  const Slot& s = slots_[index];
  if (!s.live || s.generation != generation || page_number >= s.page_count) return nullptr;
  uint64_t host_page = s.page_count - 1 - page_number;
  return s.host_first_page + host_page * kPage + (logical % kPage);
}

}  // namespace softndk::core
