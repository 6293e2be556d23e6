// Implementation of memory.h.
#include "ndkxx/memory.h"

#include <softndk/softndk.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace softndk::ndkxx {

Buffer::Buffer(size_t bytes, unsigned char fill) : size_(bytes) {
  size_t rounded = (bytes + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
  if (rounded == 0) rounded = PAGE_SIZE;
  data_ = static_cast<unsigned char*>(std::aligned_alloc(PAGE_SIZE, rounded));
  if (data_ == nullptr) throw std::bad_alloc();
  std::memset(data_, fill, rounded);
  SoftNdkInitializeMdl(&mdl_, data_, bytes);
}

Buffer::~Buffer() { std::free(data_); }

Created<NDK_MR> create_mr(NDK_PD* pd, bool fast_register, const Wait& wait) {
  return create<NDK_MR>(
      [&](NDK_FN_CREATE_COMPLETION callback, void* context, NDK_MR** out) {
        return pd->Dispatch->NdkCreateMr(pd, fast_register ? TRUE : FALSE, callback, context, out);
      },
      wait);
}

Outcome register_mr(NDK_MR* mr, MDL* mdl, SIZE_T length, ULONG flags, const Wait& wait) {
  return request(
      [&](NDK_FN_REQUEST_COMPLETION callback, void* context) {
        return mr->Dispatch->NdkRegisterMr(mr, mdl, length, flags, callback, context);
      },
      wait);
}

Outcome deregister_mr(NDK_MR* mr, const Wait& wait) {
  return request(
      [&](NDK_FN_REQUEST_COMPLETION callback, void* context) {
        return mr->Dispatch->NdkDeregisterMr(mr, callback, context);
      },
      wait);
}

Outcome initialize_fast_register_mr(NDK_MR* mr, ULONG pages, bool remote_access,
                                    const Wait& wait) {
  return request(
      [&](NDK_FN_REQUEST_COMPLETION callback, void* context) {
        return mr->Dispatch->NdkInitializeFastRegisterMr(mr, pages, remote_access ? TRUE : FALSE,
                                                         callback, context);
      },
      wait);
}

Region::Region(NDK_PD* pd, size_t bytes, ULONG flags, unsigned char fill, const Wait& wait)
    : buffer_(bytes, fill) {
  Created<NDK_MR> created = create_mr(pd, false, wait);
  status_ = created.status;
  if (!created.ok()) return;
  mr_.reset(created.object);
  status_ = register_mr(mr_, buffer_.mdl(), bytes, flags, wait).status;
  if (status_ != STATUS_SUCCESS) return;
  local_token_ = mr_->Dispatch->NdkGetLocalTokenFromMr(mr_);
  remote_token_ = mr_->Dispatch->NdkGetRemoteTokenFromMr(mr_);
}

NDK_SGE Region::sge(size_t offset, size_t length) const {
  NDK_SGE sge{};
  sge.VirtualAddress = buffer_.data() + offset;
  sge.Length = static_cast<ULONG>(length);
  sge.MemoryRegionToken = local_token_;
  return sge;
}

Lam::Lam(NDK_ADAPTER* adapter, MDL* mdl, SIZE_T length, const Wait& wait) : adapter_(adapter) {
  ULONG size = 0;
  ULONG fbo = 0;
  size_status_ = request(
                     [&](NDK_FN_REQUEST_COMPLETION callback, void* context) {
                       return adapter_->Dispatch->NdkBuildLAM(adapter_, mdl, length, callback,
                                                              context, nullptr, &size, &fbo);
                     },
                     wait)
                     .status;
  if (size_status_ != STATUS_BUFFER_TOO_SMALL) {
    status_ = size_status_;
    return;
  }
  required_size_ = size;
  storage_.assign((size + 7) / 8 + 1, 0);
  auto* candidate = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(storage_.data());
  status_ = request(
                [&](NDK_FN_REQUEST_COMPLETION callback, void* context) {
                  return adapter_->Dispatch->NdkBuildLAM(adapter_, mdl, length, callback, context,
                                                         candidate, &size, &fbo_);
                },
                wait)
                .status;
  if (status_ == STATUS_SUCCESS) lam_ = candidate;
}

void Lam::release() {
  if (lam_ != nullptr) adapter_->Dispatch->NdkReleaseLAM(adapter_, lam_);
  lam_ = nullptr;
}

}  // namespace softndk::ndkxx
