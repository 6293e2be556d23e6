// The endpoint rules shared by the socket transports (src/transport/endpoint_table.h), without
// sockets: port sharing per IP and wildcard, fabrics apart, shared-endpoint counting, the
// four-tuple rule, the dynamic range and its exhaustion, and the URI option value parsers.
#include "transport/endpoint_table.h"

#include <gtest/gtest.h>

#include <set>

namespace softndk::transport {
namespace {

SockAddr v4(const char* text) {
  SockAddr a;
  EXPECT_TRUE(SockAddr::parse(text, &a)) << text;
  return a;
}

TEST(EndpointTable, a_port_is_taken_per_ip_and_a_wildcard_takes_it_on_every_ip) {
  EndpointTable t;
  EXPECT_TRUE(t.add_endpoint("", v4("127.0.0.1:5000")));
  EXPECT_FALSE(t.add_endpoint("", v4("127.0.0.1:5000")));
  EXPECT_TRUE(t.port_in_use("", v4("127.0.0.1:5000")));
  EXPECT_FALSE(t.port_in_use("", v4("127.0.0.2:5000")));  // another IP of the host
  EXPECT_FALSE(t.port_in_use("", v4("127.0.0.1:5001")));
  EXPECT_TRUE(t.port_in_use("", v4("0.0.0.0:5000")));     // a wildcard would overlap
  EXPECT_FALSE(t.add_endpoint("", v4("0.0.0.0:5000")));
  EXPECT_TRUE(t.add_endpoint("", v4("0.0.0.0:5002")));
  EXPECT_TRUE(t.port_in_use("", v4("127.0.0.9:5002")));  // the wildcard holds every IP
  SockAddr v6;
  ASSERT_TRUE(SockAddr::parse("[::1]:5002", &v6));
  EXPECT_FALSE(t.port_in_use("", v6));  // families apart
}

TEST(EndpointTable, fabrics_are_independent_and_an_endpoint_is_gone_when_removed) {
  EndpointTable t;
  EXPECT_TRUE(t.add_endpoint("a", v4("127.0.0.1:6000")));
  EXPECT_TRUE(t.add_endpoint("b", v4("127.0.0.1:6000")));
  EXPECT_FALSE(t.add_endpoint("a", v4("127.0.0.1:6000")));
  t.remove_endpoint("a", v4("127.0.0.1:6000"));
  EXPECT_FALSE(t.port_in_use("a", v4("127.0.0.1:6000")));
  EXPECT_TRUE(t.port_in_use("b", v4("127.0.0.1:6000")));
  t.remove_endpoint("a", v4("127.0.0.1:6000"));  // removing twice is harmless
  EXPECT_TRUE(t.add_endpoint("a", v4("127.0.0.1:6000")));
}

TEST(EndpointTable, a_four_tuple_is_one_connection_at_a_time) {
  EndpointTable t;
  EXPECT_TRUE(t.add_connection("", v4("127.0.0.1:7000"), v4("127.0.0.1:8000")));
  EXPECT_FALSE(t.add_connection("", v4("127.0.0.1:7000"), v4("127.0.0.1:8000")));
  EXPECT_TRUE(t.add_connection("", v4("127.0.0.1:7000"), v4("127.0.0.1:8001")));
  EXPECT_TRUE(t.add_connection("x", v4("127.0.0.1:7000"), v4("127.0.0.1:8000")));
  t.remove_connection("", v4("127.0.0.1:7000"), v4("127.0.0.1:8000"));
  EXPECT_TRUE(t.add_connection("", v4("127.0.0.1:7000"), v4("127.0.0.1:8000")));
}

TEST(EndpointTable, port_zero_walks_the_dynamic_range_once_then_gives_up) {
  std::set<uint16_t> tried;
  NTSTATUS s = EndpointTable::bind_ephemeral([&](uint16_t port) -> NTSTATUS {
    EXPECT_GE(port, EndpointTable::kEphemeralFirst);
    EXPECT_LE(port, EndpointTable::kEphemeralLast);
    EXPECT_TRUE(tried.insert(port).second) << port;  // each port once
    return STATUS_SHARING_VIOLATION;
  });
  EXPECT_EQ(STATUS_TOO_MANY_ADDRESSES, s);
  EXPECT_EQ(size_t{EndpointTable::kEphemeralLast - EndpointTable::kEphemeralFirst + 1},
            tried.size());
  int calls = 0;
  s = EndpointTable::bind_ephemeral([&](uint16_t) -> NTSTATUS {
    return ++calls == 3 ? STATUS_INSUFFICIENT_RESOURCES : STATUS_SHARING_VIOLATION;
  });
  EXPECT_EQ(STATUS_INSUFFICIENT_RESOURCES, s);  // any other outcome ends the walk
  EXPECT_EQ(3, calls);
}

TEST(UriOptions, flags_and_bounded_decimals_only) {
  bool flag = false;
  EXPECT_TRUE(parse_option_flag("1", &flag));
  EXPECT_TRUE(flag);
  EXPECT_TRUE(parse_option_flag("0", &flag));
  EXPECT_FALSE(flag);
  for (const char* bad : {"", "2", "true", "01", " 1"}) {
    flag = true;
    EXPECT_FALSE(parse_option_flag(bad, &flag)) << bad;
    EXPECT_TRUE(flag) << "untouched on " << bad;
  }
  uint64_t v = 7;
  EXPECT_TRUE(parse_option_number("88", 88, 65535, &v));
  EXPECT_EQ(88u, v);
  EXPECT_TRUE(parse_option_number("65535", 88, 65535, &v));
  EXPECT_EQ(65535u, v);
  for (const char* bad : {"", "87", "65536", "-1", "1e3", "12345678901", "0x10", "4K"}) {
    v = 7;
    EXPECT_FALSE(parse_option_number(bad, 88, 65535, &v)) << bad;
    EXPECT_EQ(7u, v) << "untouched on " << bad;
  }
}

}  // namespace
}  // namespace softndk::transport
