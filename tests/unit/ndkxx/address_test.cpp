// src/ndkxx/address.h: NDK socket addresses and the local addresses of adapter URIs.
#include <gtest/gtest.h>

#include "ndkxx/address.h"

namespace softndk::ndkxx {
namespace {

TEST(NdkxxAddress, ip_address_port_and_text) {
  sockaddr_storage v4 = ip_address("10.1.2.3", 5000);
  EXPECT_EQ(AF_INET, v4.ss_family);
  EXPECT_EQ(sizeof(sockaddr_in), address_length(v4));
  EXPECT_EQ(5000, port_of(v4));
  EXPECT_EQ("10.1.2.3", ip_of(v4));
  EXPECT_EQ(7, port_of(with_port(v4, 7)));
  sockaddr_storage v6 = ip_address("::1", 80);
  EXPECT_EQ(AF_INET6, v6.ss_family);
  EXPECT_EQ(sizeof(sockaddr_in6), address_length(v6));
  EXPECT_EQ("::1", ip_of(v6));
  EXPECT_EQ(AF_UNSPEC, ip_address("not-an-ip", 1).ss_family);
  EXPECT_EQ("family 0", ip_of(sockaddr_storage{}));
}

TEST(NdkxxAddress, uri_addresses) {
  EXPECT_TRUE(is_loopback_uri("loopback"));
  EXPECT_TRUE(is_loopback_uri("loopback?pending=always"));
  EXPECT_FALSE(is_loopback_uri("tcp://127.0.0.1"));
  EXPECT_EQ(AF_INET, uri_family("loopback"));
  EXPECT_EQ(AF_INET6, uri_family("tcp://[::1]?crc=0"));
  EXPECT_EQ(AF_INET6, uri_family("loopback?addr=fd00::1,10.0.0.1"));
  EXPECT_EQ("127.0.0.1", ip_of(uri_local_address("loopback")));
  EXPECT_EQ("::1", ip_of(uri_local_address("loopback", AF_INET6)));
  EXPECT_EQ("10.0.0.1", ip_of(uri_local_address("loopback?addr=fd00::1,10.0.0.1", AF_INET)));
  EXPECT_EQ("192.168.1.9", ip_of(uri_local_address("tcp://192.168.1.9:4000?poll=1")));
  EXPECT_TRUE(uri_owns_family("loopback", AF_INET6));
  EXPECT_FALSE(uri_owns_family("tcp://127.0.0.1", AF_INET6));
  EXPECT_FALSE(uri_owns_family("loopback?addr=10.1.2.3", AF_INET6));
}

}  // namespace
}  // namespace softndk::ndkxx
