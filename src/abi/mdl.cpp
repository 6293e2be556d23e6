// SoftNdkInitializeMdl: fills one element of softndk's portable MDL (see <softndk/ndkpi.h>) from a
// virtual address and a length. The address is only split into page base + offset, never
// dereferenced.
#include <cstddef>
#include <cstdint>

#include <softndk/softndk.h>

extern "C" SOFTNDK_API void SoftNdkInitializeMdl(MDL* mdl, void* virtualAddress, size_t length) {
  if (mdl == nullptr) return;
  constexpr uintptr_t kPageSize = PAGE_SIZE;
  static_assert((kPageSize & (kPageSize - 1)) == 0, "PAGE_SIZE must be a power of two");
  const uintptr_t va = reinterpret_cast<uintptr_t>(virtualAddress);
  const uintptr_t offset = va & (kPageSize - 1);
  mdl->Next = nullptr;
  mdl->StartVa = reinterpret_cast<void*>(va - offset);
  mdl->ByteCount = length;
  mdl->ByteOffset = static_cast<ULONG>(offset);
  mdl->MdlFlags = 0;
}
