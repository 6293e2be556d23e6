// Unit tests of abi/uri.h: adapter URI grammar and version negotiation.
#include "abi/uri.h"

#include <gtest/gtest.h>

namespace softndk::abi {
namespace {

TEST(Uri, parses_scheme_address_and_options) {
  ParsedUri u;
  ASSERT_EQ(STATUS_SUCCESS, parse_uri("loopback", &u));
  EXPECT_EQ("loopback", u.scheme);
  EXPECT_TRUE(u.address.empty());
  EXPECT_TRUE(u.options.empty());
  ASSERT_EQ(STATUS_SUCCESS, parse_uri("tcp://[::1]:5000?crc=0&max_sge=4", &u));
  EXPECT_EQ("tcp", u.scheme);
  EXPECT_EQ("[::1]:5000", u.address);
  EXPECT_EQ("0", u.options.at("crc"));
  EXPECT_EQ("4", u.options.at("max_sge"));
  ASSERT_EQ(STATUS_SUCCESS, parse_uri("loopback?addr=", &u));  // empty value is the key's business
}

TEST(Uri, rejects_malformed_text) {
  ParsedUri u;
  for (const char* bad : {"", "?", "loopback?", "loopback?x", "loopback?=1", "loopback?a=1&",
                          "loopback?a=1&a=2", "LOOPBACK", "tcp://", "lo op", "loop-back"}) {
    EXPECT_EQ(STATUS_INVALID_PARAMETER, parse_uri(bad, &u)) << bad;
  }
  EXPECT_EQ(STATUS_INVALID_PARAMETER, parse_uri(nullptr, &u));
}

TEST(Version, negotiates_the_highest_minor_of_the_major) {
  NDK_VERSION v{};
  EXPECT_EQ(STATUS_SUCCESS, negotiate_version({1, 0}, &v));
  EXPECT_EQ(1, v.Major);
  EXPECT_EQ(2, v.Minor);
  EXPECT_EQ(STATUS_SUCCESS, negotiate_version({2, 0}, &v));
  EXPECT_EQ(2, v.Major);
  EXPECT_EQ(1, v.Minor);
  EXPECT_EQ(NDIS_STATUS_BAD_VERSION, negotiate_version({1, 3}, &v));
  EXPECT_EQ(NDIS_STATUS_BAD_VERSION, negotiate_version({2, 2}, &v));
  EXPECT_EQ(NDIS_STATUS_BAD_VERSION, negotiate_version({3, 0}, &v));
  EXPECT_EQ(NDIS_STATUS_BAD_VERSION, negotiate_version({0, 9}, &v));
}

}  // namespace
}  // namespace softndk::abi
