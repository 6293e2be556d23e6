// Walks a scatter/gather list as host memory: each local SGE is checked (token, PD, right,
// bounds) through the STag table, or through the logical-address table for the privileged
// token, and yields contiguous host spans. Used for send gather, receive scatter and read sinks.
#pragma once

#include <cstdint>
#include <span>

#include <softndk/ndkpi.h>

#include "core/memory.h"

namespace softndk::core {

class SglCursor {
 public:
  void reset(StagTable* stags, const LamTable* lams, const void* pd, uint32_t privileged_token,
             uint32_t rights, bool privileged_allowed, const NDK_SGE* sges, uint32_t count);
  // Moves to byte `offset` of the list (forward only, or back to 0 after reset()).
  AccessError seek(uint64_t offset);
  // The next host span of at most max_bytes at the current position; empty at the end of the
  // list. On an access error returns empty and sets *error.
  std::span<std::byte> next(size_t max_bytes, AccessError* error);
  void release() {
    lease_.reset();
    entered_ = false;
  }

 private:
  AccessError enter_current();

  StagTable* stags_ = nullptr;
  const LamTable* lams_ = nullptr;
  const void* pd_ = nullptr;
  uint32_t privileged_token_ = 0;
  uint32_t rights_ = 0;
  bool privileged_allowed_ = true;
  const NDK_SGE* sges_ = nullptr;
  uint32_t count_ = 0;
  uint32_t index_ = 0;
  uint64_t offset_in_sge_ = 0;
  uint64_t position_ = 0;
  bool entered_ = false;
  Lease lease_;
};

}  // namespace softndk::core
