// Tests for the portable MDL: SoftNdkInitializeMdl and the MmGetMdl* helpers of
// <softndk/ndkpi.h>. Addresses are identities, so arbitrary (even unmapped) values are used.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>
#include <softndk/softndk.h>

namespace {

void* Va(uintptr_t v) {
  return reinterpret_cast<void*>(v);
}

MDL Poisoned() {
  MDL m;
  std::memset(&m, 0xA5, sizeof(m));
  return m;
}

TEST(Mdl, SplitsAddressIntoPageAndOffset) {
  MDL m = Poisoned();
  SoftNdkInitializeMdl(&m, Va(0x7f0000012345), 100);
  EXPECT_EQ(m.Next, nullptr);
  EXPECT_EQ(m.StartVa, Va(0x7f0000012000));
  EXPECT_EQ(m.ByteOffset, 0x345u);
  EXPECT_EQ(m.ByteCount, 100u);
  EXPECT_EQ(m.MdlFlags, 0u);
  EXPECT_EQ(MmGetMdlVirtualAddress(&m), Va(0x7f0000012345));
  EXPECT_EQ(MmGetMdlByteCount(&m), 100u);
  EXPECT_EQ(MmGetMdlByteOffset(&m), 0x345u);
}

TEST(Mdl, PageAlignedAddressHasZeroOffset) {
  MDL m = Poisoned();
  SoftNdkInitializeMdl(&m, Va(0x10000), 3 * PAGE_SIZE);
  EXPECT_EQ(m.StartVa, Va(0x10000));
  EXPECT_EQ(m.ByteOffset, 0u);
  EXPECT_EQ(m.ByteCount, static_cast<SIZE_T>(3 * PAGE_SIZE));
}

TEST(Mdl, LastByteOfPage) {
  MDL m = Poisoned();
  SoftNdkInitializeMdl(&m, Va(0x20000 + PAGE_SIZE - 1), 2);
  EXPECT_EQ(m.StartVa, Va(0x20000));
  EXPECT_EQ(m.ByteOffset, static_cast<ULONG>(PAGE_SIZE - 1));
}

TEST(Mdl, ZeroLengthAndNullAddress) {
  MDL m = Poisoned();
  SoftNdkInitializeMdl(&m, nullptr, 0);
  EXPECT_EQ(m.StartVa, nullptr);
  EXPECT_EQ(m.ByteOffset, 0u);
  EXPECT_EQ(m.ByteCount, 0u);
  EXPECT_EQ(m.Next, nullptr);
}

TEST(Mdl, LengthAbove4GiBIsKept) {
  if (sizeof(SIZE_T) < 8) GTEST_SKIP();
  MDL m = Poisoned();
  const size_t big = (size_t{1} << 33) + 7;
  SoftNdkInitializeMdl(&m, Va(0x1000), big);
  EXPECT_EQ(m.ByteCount, big);
}

TEST(Mdl, NullMdlIsIgnored) {
  SoftNdkInitializeMdl(nullptr, Va(0x1234), 1);
}

TEST(Mdl, RealBufferChain) {
  // Describe one heap buffer as a two-element, virtually contiguous chain.
  std::vector<unsigned char> buf(3 * PAGE_SIZE);
  unsigned char* base = buf.data() + 10;
  const size_t first = PAGE_SIZE;
  const size_t second = PAGE_SIZE + 50;
  MDL a, b;
  SoftNdkInitializeMdl(&a, base, first);
  SoftNdkInitializeMdl(&b, base + first, second);
  a.Next = &b;
  EXPECT_EQ(MmGetMdlVirtualAddress(&a), base);
  EXPECT_EQ(static_cast<unsigned char*>(MmGetMdlVirtualAddress(a.Next)),
            static_cast<unsigned char*>(MmGetMdlVirtualAddress(&a)) + MmGetMdlByteCount(&a));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.StartVa) % PAGE_SIZE, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.StartVa) % PAGE_SIZE, 0u);
  EXPECT_EQ(b.Next, nullptr);
}

}  // namespace
