// Tests for SoftNdkStatusName: every status declared in <softndk/ndkpi.h> maps to its own name,
// aliased NDIS values map to the STATUS_ name, and unknown values are formatted per thread.
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <softndk/softndk.h>

namespace {

struct NameRow {
  NTSTATUS value;
  const char* expected;
};

constexpr NameRow Name(NTSTATUS value, const char* expected) {
  return NameRow{value, expected};
}

#define N(s) Name(s, #s)

TEST(StatusNames, EveryKnownStatusHasItsName) {
  const NameRow rows[] = {
      N(STATUS_SUCCESS),
      N(STATUS_TIMEOUT),
      N(STATUS_PENDING),
      N(STATUS_BUFFER_OVERFLOW),
      N(STATUS_UNSUCCESSFUL),
      N(STATUS_ACCESS_VIOLATION),
      N(STATUS_INVALID_PARAMETER),
      N(STATUS_INVALID_DEVICE_REQUEST),
      N(STATUS_BUFFER_TOO_SMALL),
      N(STATUS_INVALID_PARAMETER_MIX),
      N(STATUS_DATA_ERROR),
      N(STATUS_SHARING_VIOLATION),
      N(STATUS_INSUFFICIENT_RESOURCES),
      N(STATUS_IO_TIMEOUT),
      N(STATUS_NOT_SUPPORTED),
      N(STATUS_INTERNAL_ERROR),
      N(STATUS_CANCELLED),
      N(STATUS_REMOTE_RESOURCES),
      N(STATUS_INVALID_ADDRESS),
      N(STATUS_INVALID_DEVICE_STATE),
      N(STATUS_INVALID_BUFFER_SIZE),
      N(STATUS_TOO_MANY_ADDRESSES),
      N(STATUS_ADDRESS_ALREADY_EXISTS),
      N(STATUS_CONNECTION_DISCONNECTED),
      N(STATUS_CONNECTION_RESET),
      N(STATUS_CONNECTION_REFUSED),
      N(STATUS_GRACEFUL_DISCONNECT),
      N(STATUS_CONNECTION_INVALID),
      N(STATUS_CONNECTION_ACTIVE),
      N(STATUS_NETWORK_UNREACHABLE),
      N(STATUS_HOST_UNREACHABLE),
      N(STATUS_REQUEST_ABORTED),
      N(STATUS_CONNECTION_ABORTED),
      N(STATUS_IMPLEMENTATION_LIMIT),
      N(NDIS_STATUS_BAD_VERSION),
      N(NDIS_STATUS_ADAPTER_NOT_READY),
  };
  for (const auto& r : rows) {
    const char* got = SoftNdkStatusName(r.value);
    ASSERT_NE(got, nullptr) << r.expected;
    EXPECT_STREQ(got, r.expected);
  }
}
#undef N

TEST(StatusNames, AliasesResolveToStatusName) {
  EXPECT_STREQ(SoftNdkStatusName(NDIS_STATUS_SUCCESS), "STATUS_SUCCESS");
  EXPECT_STREQ(SoftNdkStatusName(NDIS_STATUS_RESOURCES), "STATUS_INSUFFICIENT_RESOURCES");
}

TEST(StatusNames, KnownNamesAreStatic) {
  const char* a = SoftNdkStatusName(STATUS_CANCELLED);
  SoftNdkStatusName(static_cast<NTSTATUS>(0xDEADBEEFu));
  EXPECT_EQ(a, SoftNdkStatusName(STATUS_CANCELLED));
  EXPECT_STREQ(a, "STATUS_CANCELLED");
}

TEST(StatusNames, UnknownValuesAreFormattedAsHex) {
  EXPECT_STREQ(SoftNdkStatusName(static_cast<NTSTATUS>(0xC0000022u)), "STATUS_0xC0000022");
  EXPECT_STREQ(SoftNdkStatusName(static_cast<NTSTATUS>(0xFFFFFFFFu)), "STATUS_0xFFFFFFFF");
  EXPECT_STREQ(SoftNdkStatusName(1), "STATUS_0x00000001");
  EXPECT_STREQ(SoftNdkStatusName(static_cast<NTSTATUS>(0x80000000u)), "STATUS_0x80000000");
}

TEST(StatusNames, UnknownBufferIsPerThread) {
  const char* mine = SoftNdkStatusName(static_cast<NTSTATUS>(0xC0000111u));
  std::string other;
  std::thread t([&] {
    other = SoftNdkStatusName(static_cast<NTSTATUS>(0xC0000222u));
    for (int i = 0; i < 1000; ++i) SoftNdkStatusName(static_cast<NTSTATUS>(0xC0000300u + i));
  });
  t.join();
  EXPECT_EQ(other, "STATUS_0xC0000222");
  EXPECT_STREQ(mine, "STATUS_0xC0000111");  // untouched by the other thread
}

}  // namespace
