// What one queue pair's engines check memory against: the adapter's STag and logical-address
// tables, the queue pair's protection domain and privileged token, and the read-sink rule
// (NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED). Fixed at queue pair creation.
#pragma once

#include <cstdint>

#include <softndk/ndkpi.h>

#include "core/memory.h"
#include "core/sgl.h"

namespace softndk::core {

class Pd;

// NDK_OP_FLAG_ALLOW_REMOTE_WRITE includes the local-write bit: this is the bit it adds.
inline constexpr ULONG kOpFlagRemoteWriteOnly =
    NDK_OP_FLAG_ALLOW_REMOTE_WRITE & ~NDK_OP_FLAG_ALLOW_LOCAL_WRITE;

struct LocalMemory {
  StagTable* stags = nullptr;
  const LamTable* lams = nullptr;
  Pd* pd = nullptr;
  uint32_t privileged_token = 0;
  bool read_sink_required = true;
  bool read_local_invalidate = false;  // NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED

  // A gather list the provider reads (send, write source).
  void gather(SglCursor& cursor, const NDK_SGE* sges, uint32_t count) const {
    cursor.reset(stags, lams, pd, privileged_token, 0, true, sges, count);
  }
  // A receive buffer the provider writes.
  void scatter(SglCursor& cursor, const NDK_SGE* sges, uint32_t count) const {
    cursor.reset(stags, lams, pd, privileged_token, kAccessLocalWrite, true, sges, count);
  }
  // A read sink: local write, and the read-sink right unless the adapter waives it (then the
  // privileged token is allowed too).
  void read_sink(SglCursor& cursor, const NDK_SGE* sges, uint32_t count) const {
    cursor.reset(stags, lams, pd, privileged_token,
                 kAccessLocalWrite | (read_sink_required ? kAccessReadSink : 0),
                 !read_sink_required, sges, count);
  }
};

}  // namespace softndk::core
