// Implementation of core/datapath/memory_ops.h.
#include "core/datapath/memory_ops.h"

#include "core/pd.h"

namespace softndk::core {

namespace {

constexpr ULONG kAllowRemoteWrite = kOpFlagRemoteWriteOnly;

NTSTATUS bind(const LocalMemory& memory, InitiatorWr& wr) {
  StagTable& stags = *memory.stags;
  auto* mw = static_cast<Mw*>(wr.target);
  if (stags.current(mw->stag_index()) != 0) return STATUS_INVALID_DEVICE_STATE;
  if (wr.bind_mr->state() != Mr::State::Registered) return STATUS_INVALID_DEVICE_STATE;
  RegionDescriptor region;
  region.kind = StagKind::Window;
  region.pd = memory.pd;
  region.access = ((wr.flags & NDK_OP_FLAG_ALLOW_REMOTE_READ) != 0 ? kAccessRemoteRead : 0) |
                  ((wr.flags & kAllowRemoteWrite) != 0 ? kAccessRemoteWrite : 0);
  region.base = wr.address;
  region.length = wr.length;
  region.parent_stag = wr.bind_mr->token();
  return stags.publish(wr.new_stag, region) ? STATUS_SUCCESS : STATUS_INVALID_DEVICE_STATE;
}

NTSTATUS fast_register(const LocalMemory& memory, InitiatorWr& wr) {
  StagTable& stags = *memory.stags;
  auto* mr = static_cast<Mr*>(wr.target);
  if (stags.current(mr->stag_index()) != 0) return STATUS_INVALID_DEVICE_STATE;
  std::vector<std::byte*>& pages = mr->page_storage();
  for (size_t i = 0; i < wr.pages.size(); ++i) {
    if (wr.pages[i].QuadPart % PAGE_SIZE != 0) return STATUS_INVALID_PARAMETER;
    std::byte* host = memory.lams->resolve(wr.pages[i].QuadPart);
    if (host == nullptr) return STATUS_ACCESS_VIOLATION;
    pages[i] = host;
  }
  RegionDescriptor region;
  region.kind = StagKind::FastMr;
  region.pd = memory.pd;
  region.access = ((wr.flags & NDK_OP_FLAG_ALLOW_REMOTE_READ) != 0 ? kAccessRemoteRead : 0) |
                  ((wr.flags & NDK_OP_FLAG_ALLOW_LOCAL_WRITE) != 0 ? kAccessLocalWrite : 0) |
                  ((wr.flags & kAllowRemoteWrite) != 0 ? kAccessRemoteWrite : 0) |
                  ((wr.flags & NDK_OP_FLAG_RDMA_READ_SINK) != 0 ? kAccessReadSink : 0);
  if (!memory.read_sink_required) region.access |= kAccessReadSink;
  region.base = wr.address;
  region.length = wr.length;
  region.mapping.pages = pages.data();
  region.mapping.page_count = static_cast<uint32_t>(wr.pages.size());
  region.mapping.first_byte_offset = wr.fbo;
  return stags.publish(wr.new_stag, region) ? STATUS_SUCCESS : STATUS_INVALID_DEVICE_STATE;
}

NTSTATUS invalidate(const LocalMemory& memory, InitiatorWr& wr) {
  StagTable& stags = *memory.stags;
  uint32_t index = wr.target->type() == NdkObjectTypeMr
                       ? static_cast<Mr*>(wr.target)->stag_index()
                       : static_cast<Mw*>(wr.target)->stag_index();
  uint32_t current = stags.current(index);
  // Already invalid (locally, by a peer's Send with Invalidate, or never registered).
  if (current == 0 || !stags.invalidate(current)) return STATUS_INVALID_DEVICE_STATE;
  return STATUS_SUCCESS;
}

}  // namespace

NTSTATUS execute_memory_op(const LocalMemory& memory, InitiatorWr& wr) {
  switch (wr.op) {
    case WrOp::Bind:
      return bind(memory, wr);
    case WrOp::FastRegister:
      return fast_register(memory, wr);
    case WrOp::Invalidate:
      return invalidate(memory, wr);
    default:
      return STATUS_INTERNAL_ERROR;
  }
}

}  // namespace softndk::core
