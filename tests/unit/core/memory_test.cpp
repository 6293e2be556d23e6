// Unit tests of core/memory.h: the STag table (keys, publish/invalidate, access checks, leases)
// and the logical-address table.
#include "core/memory.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace softndk::core {
namespace {

RegionDescriptor region_over(std::vector<std::byte>& bytes, const void* pd, uint32_t access) {
  RegionDescriptor r;
  r.kind = StagKind::Mr;
  r.pd = pd;
  r.access = access;
  r.base = reinterpret_cast<uintptr_t>(bytes.data());
  r.length = bytes.size();
  r.mapping.host_base = bytes.data();
  return r;
}

TEST(StagTable, fresh_stags_change_key_and_keep_index) {
  StagTable table(64);
  uint32_t index = table.allocate(StagKind::Mr);
  ASSERT_NE(0u, index);
  std::set<uint32_t> seen;
  for (int i = 0; i < 50; ++i) {
    uint32_t stag = table.fresh_stag(index);
    EXPECT_EQ(index, StagTable::index_of(stag));
    EXPECT_NE(0u, stag);
    seen.insert(stag);
  }
  EXPECT_GT(seen.size(), 20u);  // random keys: not a counter stuck on a few values
  uint32_t a = table.fresh_stag(index);
  uint32_t b = table.fresh_stag(index);
  EXPECT_NE(a, b);  // consecutive registrations never reuse the key
}

TEST(StagTable, exhaustion_returns_zero) {
  StagTable table(4);  // index 0 is never used: 3 entries
  EXPECT_NE(0u, table.allocate(StagKind::Mr));
  EXPECT_NE(0u, table.allocate(StagKind::Mr));
  uint32_t last = table.allocate(StagKind::Mr);
  EXPECT_NE(0u, last);
  EXPECT_EQ(0u, table.allocate(StagKind::Mr));
  table.free(last);
  EXPECT_EQ(last, table.allocate(StagKind::Mr));
}

TEST(StagTable, access_checks_stag_pd_rights_bounds_wrap) {
  StagTable table(16);
  std::vector<std::byte> bytes(1000);
  int pd = 0, other_pd = 0;
  uint32_t stag = table.fresh_stag(table.allocate(StagKind::Mr));
  ASSERT_TRUE(table.publish(stag, region_over(bytes, &pd, kAccessRemoteRead)));
  uint64_t base = reinterpret_cast<uintptr_t>(bytes.data());
  Lease lease;
  EXPECT_EQ(AccessError::None, table.acquire(stag, &pd, kAccessRemoteRead, base, 1000, &lease));
  lease.reset();
  EXPECT_EQ(AccessError::None, table.acquire(stag, &pd, kAccessRemoteRead, base + 1000, 0, &lease));
  lease.reset();
  EXPECT_EQ(AccessError::InvalidStag, table.acquire(stag ^ 1, &pd, 0, base, 1, &lease));
  EXPECT_EQ(AccessError::InvalidStag, table.acquire(0, &pd, 0, base, 1, &lease));
  EXPECT_EQ(AccessError::WrongPd, table.acquire(stag, &other_pd, 0, base, 1, &lease));
  EXPECT_EQ(AccessError::AccessRights,
            table.acquire(stag, &pd, kAccessRemoteWrite, base, 1, &lease));
  EXPECT_EQ(AccessError::Bounds, table.acquire(stag, &pd, 0, base + 1, 1000, &lease));
  EXPECT_EQ(AccessError::Bounds, table.acquire(stag, &pd, 0, base - 1, 1, &lease));
  EXPECT_EQ(AccessError::Wrap, table.acquire(stag, &pd, 0, ~uint64_t{0} - 2, 16, &lease));
  EXPECT_FALSE(lease.held());
}

TEST(StagTable, publish_fails_while_valid_and_invalidate_needs_the_current_stag) {
  StagTable table(16);
  std::vector<std::byte> bytes(64);
  int pd = 0;
  uint32_t index = table.allocate(StagKind::FastMr);
  uint32_t first = table.fresh_stag(index);
  ASSERT_TRUE(table.publish(first, region_over(bytes, &pd, 0)));
  EXPECT_FALSE(table.publish(table.fresh_stag(index), region_over(bytes, &pd, 0)));
  EXPECT_EQ(first, table.current(index));
  EXPECT_FALSE(table.invalidate(first ^ 0x1));  // stale key
  EXPECT_TRUE(table.invalidate(first));
  EXPECT_FALSE(table.invalidate(first));  // already invalid
  EXPECT_EQ(0u, table.current(index));
  Lease lease;
  EXPECT_EQ(AccessError::InvalidStag, table.acquire(first, &pd, 0,
                                                    reinterpret_cast<uintptr_t>(bytes.data()), 1,
                                                    &lease));
}

TEST(StagTable, invalidate_waits_for_a_lease_held_by_another_thread) {
  StagTable table(16);
  std::vector<std::byte> bytes(64);
  int pd = 0;
  uint32_t stag = table.fresh_stag(table.allocate(StagKind::Mr));
  ASSERT_TRUE(table.publish(stag, region_over(bytes, &pd, 0)));
  std::atomic<bool> leased{false}, release{false}, invalidated{false};
  std::thread holder([&] {
    Lease lease;
    ASSERT_EQ(AccessError::None, table.acquire(stag, &pd, 0,
                                               reinterpret_cast<uintptr_t>(bytes.data()), 8,
                                               &lease));
    leased = true;
    while (!release) std::this_thread::yield();
  });
  while (!leased) std::this_thread::yield();
  std::thread invalidator([&] {
    EXPECT_TRUE(table.invalidate(stag));
    invalidated = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(invalidated.load());  // still waiting for the copy in progress
  release = true;
  holder.join();
  invalidator.join();
  EXPECT_TRUE(invalidated.load());
}

TEST(StagTable, invalidate_does_not_wait_for_a_lease_of_its_own_thread) {
  StagTable table(16);
  std::vector<std::byte> bytes(64);
  int pd = 0;
  uint32_t stag = table.fresh_stag(table.allocate(StagKind::Mr));
  ASSERT_TRUE(table.publish(stag, region_over(bytes, &pd, 0)));
  Lease lease;
  ASSERT_EQ(AccessError::None,
            table.acquire(stag, &pd, 0, reinterpret_cast<uintptr_t>(bytes.data()), 8, &lease));
  EXPECT_TRUE(table.invalidate(stag));  // would deadlock if it waited for itself
}

TEST(StagTable, paged_regions_map_offsets_to_their_pages) {
  StagTable table(16);
  std::vector<std::byte> page_a(4096), page_b(4096);
  std::byte* pages[2] = {page_a.data(), page_b.data()};
  int pd = 0;
  RegionDescriptor r;
  r.kind = StagKind::FastMr;
  r.pd = &pd;
  r.base = 0x10000 + 100;  // BaseVirtualAddress = FBO (mod 4096)
  r.length = 5000;
  r.mapping.pages = pages;
  r.mapping.page_count = 2;
  r.mapping.first_byte_offset = 100;
  uint32_t stag = table.fresh_stag(table.allocate(StagKind::FastMr));
  ASSERT_TRUE(table.publish(stag, r));
  Lease lease;
  ASSERT_EQ(AccessError::None, table.acquire(stag, &pd, 0, r.base, r.length, &lease));
  std::vector<std::pair<std::byte*, size_t>> spans;
  lease.for_each_span(r.base + 3990, 20, [&](std::byte* p, size_t n) { spans.emplace_back(p, n); });
  ASSERT_EQ(2u, spans.size());
  EXPECT_EQ(page_a.data() + 4090, spans[0].first);
  EXPECT_EQ(6u, spans[0].second);
  EXPECT_EQ(page_b.data(), spans[1].first);
  EXPECT_EQ(14u, spans[1].second);
}

TEST(LamTable, logical_pages_are_aligned_not_contiguous_and_resolve_back) {
  LamTable lams;
  alignas(4096) static std::byte memory[4096 * 4];
  int64_t logical[4];
  uint32_t count = 0, fbo = 0;
  uint64_t context = lams.map(memory + 10, 4096 * 3, &count, &fbo, logical, 4);
  ASSERT_NE(0u, context);
  EXPECT_EQ(4u, count);
  EXPECT_EQ(10u, fbo);
  for (uint32_t i = 0; i < count; ++i) {
    EXPECT_EQ(0, logical[i] % 4096);
    EXPECT_EQ(memory + 4096 * i, lams.resolve(logical[i]));
    EXPECT_EQ(memory + 4096 * i + 77, lams.resolve(logical[i] + 77));
    if (i > 0) {
      EXPECT_NE(logical[i - 1] + 4096, logical[i]);
    }
  }
  EXPECT_EQ(nullptr, lams.resolve(0));
  EXPECT_EQ(nullptr, lams.resolve(reinterpret_cast<intptr_t>(memory)));  // a VA is not logical
  lams.unmap(context);
  EXPECT_EQ(nullptr, lams.resolve(logical[0]));  // released: stale addresses fail
  uint64_t again = lams.map(memory, 4096, &count, &fbo, logical, 4);
  EXPECT_NE(context, again);  // slot reused with a new generation
  lams.unmap(again);
}

TEST(LamTable, too_small_output_is_refused) {
  LamTable lams;
  alignas(4096) static std::byte memory[4096 * 2];
  int64_t logical[1];
  uint32_t count = 0, fbo = 0;
  EXPECT_EQ(0u, lams.map(memory, 4096 * 2, &count, &fbo, logical, 1));
}

}  // namespace
}  // namespace softndk::core
