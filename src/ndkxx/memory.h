// Host memory for the NDK: page-aligned buffers with an MDL, memory regions registered over them,
// the MR requests (register, deregister, fast-register initialization) and logical address
// mappings (NdkBuildLAM with its size query). Not here: posting work requests.
#pragma once

#include <softndk/ndkpi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ndkxx/call.h"
#include "ndkxx/handle.h"

namespace softndk::ndkxx {

// Page-aligned host memory (at least one page) filled with `fill`, and an MDL of its first
// `bytes` bytes.
class Buffer {
 public:
  explicit Buffer(size_t bytes, unsigned char fill = 0);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  MDL* mdl() { return &mdl_; }

 private:
  unsigned char* data_;
  size_t size_;
  MDL mdl_{};
};

// NdkCreateMr (fast or not) in `pd`.
Created<NDK_MR> create_mr(NDK_PD* pd, bool fast_register, const Wait& wait = {});
// NdkRegisterMr of `length` bytes of `mdl` with NDK_MR_FLAG_* `flags`.
Outcome register_mr(NDK_MR* mr, MDL* mdl, SIZE_T length, ULONG flags, const Wait& wait = {});
Outcome deregister_mr(NDK_MR* mr, const Wait& wait = {});
Outcome initialize_fast_register_mr(NDK_MR* mr, ULONG pages, bool remote_access,
                                    const Wait& wait = {});

// A Buffer registered in `pd` with `flags` (normal registration). Usable when status() is
// STATUS_SUCCESS; closing the MR (the destructor) deregisters it before the memory is freed.
class Region {
 public:
  Region(NDK_PD* pd, size_t bytes, ULONG flags, unsigned char fill = 0, const Wait& wait = {});
  NTSTATUS status() const { return status_; }  // of the create, else of the registration
  unsigned char* data() const { return buffer_.data(); }
  size_t size() const { return buffer_.size(); }
  Buffer& buffer() { return buffer_; }
  NDK_MR* mr() const { return mr_.get(); }
  UINT32 local_token() const { return local_token_; }
  UINT32 remote_token() const { return remote_token_; }
  uint64_t address(size_t offset = 0) const {
    return reinterpret_cast<uintptr_t>(buffer_.data()) + offset;
  }
  // One SGE of `length` bytes at `offset`, with the local token.
  NDK_SGE sge(size_t offset, size_t length) const;

 private:
  Buffer buffer_;
  MrHandle mr_;  // after buffer_: closed (deregistered) before the memory is freed
  NTSTATUS status_ = STATUS_UNSUCCESSFUL;
  UINT32 local_token_ = 0;
  UINT32 remote_token_ = 0;
};

// A logical address mapping of `length` bytes of `mdl` (NdkBuildLAM after its size query),
// released with NdkReleaseLAM. Usable when status() is STATUS_SUCCESS.
class Lam {
 public:
  Lam(NDK_ADAPTER* adapter, MDL* mdl, SIZE_T length, const Wait& wait = {});
  ~Lam() { release(); }
  Lam(const Lam&) = delete;
  Lam& operator=(const Lam&) = delete;
  void release();

  NTSTATUS size_status() const { return size_status_; }  // of the size query (BUFFER_TOO_SMALL)
  NTSTATUS status() const { return status_; }
  ULONG required_size() const { return required_size_; }
  ULONG fbo() const { return fbo_; }
  NDK_LOGICAL_ADDRESS_MAPPING* get() const { return lam_; }
  ULONG pages() const { return lam_->AdapterPageCount; }
  int64_t page(size_t index) const { return lam_->AdapterPageArray[index].QuadPart; }
  const NDK_LOGICAL_ADDRESS* page_array() const { return lam_->AdapterPageArray; }

 private:
  NDK_ADAPTER* adapter_;
  std::vector<uint64_t> storage_;
  NDK_LOGICAL_ADDRESS_MAPPING* lam_ = nullptr;
  NTSTATUS size_status_ = STATUS_UNSUCCESSFUL;
  NTSTATUS status_ = STATUS_UNSUCCESSFUL;
  ULONG required_size_ = 0;
  ULONG fbo_ = 0;
};

}  // namespace softndk::ndkxx
