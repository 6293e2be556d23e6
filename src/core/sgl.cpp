// Implementation of core/sgl.h.
#include "core/sgl.h"

#include <algorithm>

namespace softndk::core {

void SglCursor::reset(StagTable* stags, const LamTable* lams, const void* pd,
                      uint32_t privileged_token, uint32_t rights, bool privileged_allowed,
                      const NDK_SGE* sges, uint32_t count) {
  lease_.reset();
  stags_ = stags;
  lams_ = lams;
  pd_ = pd;
  privileged_token_ = privileged_token;
  rights_ = rights;
  privileged_allowed_ = privileged_allowed;
  sges_ = sges;
  count_ = count;
  index_ = 0;
  offset_in_sge_ = 0;
  position_ = 0;
  entered_ = false;
}

AccessError SglCursor::enter_current() {
  const NDK_SGE& sge = sges_[index_];
  entered_ = true;
  if (sge.MemoryRegionToken == privileged_token_ && privileged_token_ != 0) {
    if (!privileged_allowed_) return AccessError::AccessRights;
    return lams_->for_each_span(sge.LogicalAddress.QuadPart, sge.Length,
                                [](std::byte*, size_t) {})
               ? AccessError::None
               : AccessError::InvalidStag;
  }
  if (stags_->kind_of(sge.MemoryRegionToken) == StagKind::Window) return AccessError::InvalidStag;
  return stags_->acquire(sge.MemoryRegionToken, pd_, rights_,
                         reinterpret_cast<uintptr_t>(sge.VirtualAddress), sge.Length, &lease_);
}

AccessError SglCursor::seek(uint64_t offset) {
  if (offset < position_) return AccessError::Bounds;
  while (position_ < offset && index_ < count_) {
    uint64_t left = sges_[index_].Length - offset_in_sge_;
    uint64_t step = std::min(left, offset - position_);
    offset_in_sge_ += step;
    position_ += step;
    if (offset_in_sge_ == sges_[index_].Length) {
      ++index_;
      offset_in_sge_ = 0;
      entered_ = false;
      lease_.reset();
    }
  }
  return position_ == offset ? AccessError::None : AccessError::Bounds;
}

std::span<std::byte> SglCursor::next(size_t max_bytes, AccessError* error) {
  *error = AccessError::None;
  while (index_ < count_ && offset_in_sge_ == sges_[index_].Length) {
    ++index_;
    offset_in_sge_ = 0;
    entered_ = false;
    lease_.reset();
  }
  if (index_ >= count_ || max_bytes == 0) return {};
  if (!entered_) {
    *error = enter_current();
    if (*error != AccessError::None) return {};
  }
  const NDK_SGE& sge = sges_[index_];
  uint64_t left = std::min<uint64_t>(sge.Length - offset_in_sge_, max_bytes);
  std::byte* host = nullptr;
  uint64_t bytes = 0;
  if (sge.MemoryRegionToken == privileged_token_ && privileged_token_ != 0) {
    uint64_t address = static_cast<uint64_t>(sge.LogicalAddress.QuadPart) + offset_in_sge_;
    host = lams_->resolve(static_cast<int64_t>(address));
    if (host == nullptr) {
      *error = AccessError::InvalidStag;
      return {};
    }
    bytes = std::min<uint64_t>(left, 4096 - address % 4096);
  } else {
    uint64_t address = reinterpret_cast<uintptr_t>(sge.VirtualAddress) + offset_in_sge_;
    lease_.for_each_span(address, left, [&](std::byte* p, size_t n) {
      if (host == nullptr) {
        host = p;
        bytes = n;
      }
    });
  }
  offset_in_sge_ += bytes;
  position_ += bytes;
  return {host, static_cast<size_t>(bytes)};
}

}  // namespace softndk::core
