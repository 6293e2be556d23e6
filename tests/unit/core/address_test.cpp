// Unit tests of transport/address.h.
#include "transport/address.h"

#include <gtest/gtest.h>

namespace softndk::transport {
namespace {

TEST(SockAddr, parses_and_prints_ipv4_and_ipv6) {
  SockAddr a;
  ASSERT_TRUE(SockAddr::parse("127.0.0.1:80", &a));
  EXPECT_EQ(AF_INET, a.family());
  EXPECT_EQ(80, a.port());
  EXPECT_EQ("127.0.0.1:80", a.to_string());
  EXPECT_TRUE(a.is_loopback());
  ASSERT_TRUE(SockAddr::parse("[::1]:9", &a));
  EXPECT_EQ(AF_INET6, a.family());
  EXPECT_EQ(28u, a.length());
  EXPECT_EQ("[::1]:9", a.to_string());
  ASSERT_TRUE(SockAddr::parse("::", &a));
  EXPECT_TRUE(a.is_wildcard());
  for (const char* bad : {"", "1.2.3", "1.2.3.4:70000", "[::1", "[::1]x", "host:1", "1.2.3.4:x"})
    EXPECT_FALSE(SockAddr::parse(bad, &a)) << bad;
}

TEST(SockAddr, assign_checks_family_and_length) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  SockAddr a;
  EXPECT_TRUE(a.assign(reinterpret_cast<sockaddr*>(&in), sizeof in));
  EXPECT_FALSE(a.assign(reinterpret_cast<sockaddr*>(&in), sizeof in - 1));
  in.sin_family = AF_UNIX;
  EXPECT_FALSE(a.assign(reinterpret_cast<sockaddr*>(&in), sizeof in));
  EXPECT_FALSE(a.assign(nullptr, 16));
}

TEST(SockAddr, ordering_and_equality_use_ip_and_port) {
  SockAddr a = SockAddr::ipv4(0x7f000001, 1), b = SockAddr::ipv4(0x7f000001, 2);
  EXPECT_TRUE(a < b);
  EXPECT_FALSE(b < a);
  EXPECT_FALSE(a == b);
  EXPECT_TRUE(a == a.with_port(1));
  EXPECT_TRUE(a.same_ip(b));
}

}  // namespace
}  // namespace softndk::transport
