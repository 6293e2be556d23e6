// The pieces of the softndk command line below the program: size and operation parsing, where
// the two ends run for a transport, the MPA CRC choice of each end, the client/server protocol
// codec, the failure messages of connection setup and resource limits.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "errors.h"
#include "measure.h"
#include "ndk.h"
#include "options.h"
#include "protocol.h"
#include "session.h"

namespace softndk::cli {
namespace {

TEST(Options, sizes_take_binary_suffixes) {
  EXPECT_EQ(2u, parse_size("2"));
  EXPECT_EQ(4096u, parse_size("4K"));
  EXPECT_EQ(4096u, parse_size("4k"));
  EXPECT_EQ(4096u, parse_size("4KiB"));
  EXPECT_EQ(4096u, parse_size("4KB"));
  EXPECT_EQ(8u << 20, parse_size("8M"));
  EXPECT_EQ(1u << 30, parse_size("1G"));
  EXPECT_EQ(100u, parse_size("100B"));
  for (const char* bad : {"", "K", "4X", "-1", "4 K", "1.5M", "4KK"})
    EXPECT_FALSE(parse_size(bad).has_value()) << bad;
}

TEST(Options, size_lists_and_the_sweep) {
  EXPECT_EQ((std::vector<uint64_t>{64, 4096, 1u << 20}), parse_size_list("64,4K,1M"));
  EXPECT_THROW(parse_size_list("64,,1M"), UsageError);
  EXPECT_THROW(parse_size_list("0"), UsageError);
  EXPECT_THROW(parse_size_list("2G"), UsageError);
  std::vector<uint64_t> sweep = sweep_sizes();
  ASSERT_EQ(23u, sweep.size());
  EXPECT_EQ(2u, sweep.front());
  EXPECT_EQ(8u << 20, sweep.back());
}

TEST(Options, operation_lists) {
  EXPECT_EQ((std::vector<Op>{Op::Send, Op::Write, Op::Read}), parse_op_list("all"));
  EXPECT_EQ((std::vector<Op>{Op::Register, Op::FastRegister, Op::Bind, Op::SendInvalidate}),
            parse_op_list("mem"));
  EXPECT_EQ((std::vector<Op>{Op::Write, Op::Register}), parse_op_list("write,reg"));
  EXPECT_THROW(parse_op_list("ping"), UsageError);
  EXPECT_THROW(parse_op_list("send,"), UsageError);
}

TEST(Options, an_in_process_fabric_keeps_both_ends_in_this_process) {
  Placement p = place_ends("ping", "loopback", true, false, "", std::nullopt);
  EXPECT_TRUE(p.in_process);
  EXPECT_FALSE(p.server);
  try {
    place_ends("ping", "loopback", true, true, "", std::nullopt);
    FAIL() << "--server over loopback accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string::npos, std::string(e.what()).find("in-process fabric"));
  }
  EXPECT_THROW(place_ends("perf", "loopback?addr=10.0.0.1", true, false, "10.0.0.1", std::nullopt),
               UsageError);
}

TEST(Options, other_transports_place_server_and_client) {
  Placement server = place_ends("perf", "tcp://127.0.0.1", true, true, "", std::nullopt);
  EXPECT_TRUE(server.server);
  Placement client = place_ends("perf", "tcp://127.0.0.1", true, false, "127.0.0.1", std::nullopt);
  EXPECT_FALSE(client.in_process);
  EXPECT_EQ("127.0.0.1:18515", client.peer.text());
  client = place_ends("perf", "tcp://[::1]", true, false, "[::1]:7000", std::nullopt);
  EXPECT_EQ("[::1]:7000", client.peer.text());
  EXPECT_EQ("10.0.0.2:99", place_ends("perf", "tcp://10.0.0.1", true, false, "10.0.0.2", 99).peer.text());
  EXPECT_THROW(place_ends("perf", "tcp://127.0.0.1", true, true, "127.0.0.1", std::nullopt), UsageError);
  EXPECT_THROW(place_ends("perf", "tcp://127.0.0.1", true, false, "[::1]", std::nullopt), UsageError);
  EXPECT_THROW(place_ends("perf", "tcp://127.0.0.1", true, false, "host.example", std::nullopt),
               UsageError);
}

TEST(Options, without_a_uri_two_processes_use_tcp_from_the_routed_source_address) {
  Placement server = place_ends("perf", "loopback", false, true, "", std::nullopt);
  EXPECT_TRUE(server.server);
  EXPECT_EQ("tcp://0.0.0.0", server.uri);
  Placement client = place_ends("perf", "loopback", false, false, "127.0.0.1:7000", std::nullopt);
  EXPECT_FALSE(client.in_process);
  EXPECT_EQ("tcp://127.0.0.1", client.uri);
  EXPECT_EQ("127.0.0.1:7000", client.peer.text());
  // A wildcard adapter URI keeps its options and gets the routed address.
  client = place_ends("perf", "tcp://0.0.0.0?crc=0", true, false, "127.0.0.1", std::nullopt);
  EXPECT_EQ("tcp://127.0.0.1?crc=0", client.uri);
  // A URI with an address is kept as given; in one process nothing changes.
  EXPECT_EQ("tcp://10.0.0.1",
            place_ends("perf", "tcp://10.0.0.1", true, false, "10.0.0.2", std::nullopt).uri);
  Placement local = place_ends("ping", "loopback", false, false, "", std::nullopt);
  EXPECT_TRUE(local.in_process);
  EXPECT_EQ("loopback", local.uri);
}

TEST(Address, host_names_resolve_and_the_source_address_is_routed) {
  SocketAddress a;
  EXPECT_EQ("", SocketAddress::resolve("localhost:5", 9, AF_INET, &a));
  EXPECT_EQ("127.0.0.1:5", a.text());
  EXPECT_NE("", SocketAddress::resolve("127.0.0.1", 9, AF_INET6, &a));
  EXPECT_EQ("", SocketAddress::resolve("127.0.0.1", 9, AF_UNSPEC, &a));
  EXPECT_EQ("127.0.0.1:9", a.text());
  SocketAddress bad;
  EXPECT_NE("", SocketAddress::resolve("localhost:99999", 9, AF_INET, &bad));
  EXPECT_NE("", SocketAddress::resolve("a:b:c", 9, AF_UNSPEC, &bad));
  std::optional<SocketAddress> source = source_address_for(a);  // 127.0.0.1:9
  ASSERT_TRUE(source.has_value());
  EXPECT_EQ(0, source->port());
  source = source_address_for(a);
  ASSERT_TRUE(source.has_value());
  EXPECT_EQ("tcp://127.0.0.1", tcp_uri_of(*source));
  SocketAddress v6;
  ASSERT_TRUE(SocketAddress::parse("[fd00::1]:5", 0, &v6));
  EXPECT_EQ("tcp://[fd00::1]", tcp_uri_of(v6));
}

TEST(Address, uris_and_their_local_address) {
  UriParts tcp = split_uri("tcp://10.1.2.3?crc=0");
  EXPECT_EQ("tcp", tcp.scheme);
  EXPECT_EQ("10.1.2.3", tcp.host);
  EXPECT_EQ("crc=0", tcp.query);
  EXPECT_EQ("::1", split_uri("tcp://[::1]:5").host);
  EXPECT_EQ("5", split_uri("tcp://[::1]:5").port);
  EXPECT_TRUE(is_in_process(split_uri("loopback?pending=always")));
  EXPECT_FALSE(is_in_process(tcp));
  EXPECT_EQ("127.0.0.1", local_ip(split_uri("loopback")));
  EXPECT_EQ("10.0.0.1", local_ip(split_uri("loopback?pending=never&addr=10.0.0.1,fd00::1")));
  EXPECT_EQ("10.1.2.3", local_ip(tcp));
  EXPECT_EQ("tcp://1.2.3.4?crc=1", with_option("tcp://1.2.3.4", "crc", "1"));
  EXPECT_EQ("tcp://1.2.3.4?a=b&crc=0", with_option("tcp://1.2.3.4?a=b", "crc", "0"));
}

TEST(Address, uri_options_are_found_by_exact_key) {
  EXPECT_EQ("0", uri_option("tcp://1.2.3.4?crc=0", "crc"));
  EXPECT_EQ("1", uri_option("tcp://1.2.3.4?poll=1&crc=1&mss=1000", "crc"));
  EXPECT_FALSE(uri_option("tcp://1.2.3.4?crcx=1&xcrc=0", "crc").has_value());
  EXPECT_FALSE(uri_option("tcp://1.2.3.4", "crc").has_value());
  EXPECT_FALSE(uri_option("loopback", "crc").has_value());
}

TEST(Crc, what_an_adapter_requests_follows_the_uri_and_the_transport_default) {
  EXPECT_EQ(CrcRequest::On, crc_request_of("tcp://127.0.0.1"));  // the tcp default: crc=1
  EXPECT_EQ(CrcRequest::On, crc_request_of("tcp://127.0.0.1?crc=1"));
  EXPECT_EQ(CrcRequest::Off, crc_request_of("tcp://127.0.0.1?crc=0"));
  EXPECT_EQ(CrcRequest::NotApplicable, crc_request_of("loopback"));
  EXPECT_EQ(CrcRequest::NotApplicable, crc_request_of("loopback?pending=always"));
}

TEST(Crc, a_server_without_a_choice_follows_the_client) {
  CrcChoice server = apply_crc("tcp://127.0.0.1", "", /*server=*/true);
  EXPECT_EQ("tcp://127.0.0.1?crc=0", server.uri);
  EXPECT_EQ(CrcRequest::Off, server.request);
  EXPECT_FALSE(server.chosen);
  server = apply_crc("tcp://127.0.0.1", "on", true);
  EXPECT_EQ("tcp://127.0.0.1?crc=1", server.uri);
  EXPECT_EQ(CrcRequest::On, server.request);
  server = apply_crc("tcp://127.0.0.1?crc=1", "", true);  // the URI's choice stays
  EXPECT_EQ("tcp://127.0.0.1?crc=1", server.uri);
  EXPECT_EQ(CrcRequest::On, server.request);
  EXPECT_TRUE(server.chosen);
  // A client without a choice asks what its transport asks by default (tcp: CRC).
  CrcChoice client = apply_crc("tcp://127.0.0.1", "", /*server=*/false);
  EXPECT_EQ("tcp://127.0.0.1", client.uri);
  EXPECT_EQ(CrcRequest::On, client.request);
  EXPECT_FALSE(client.chosen);
  client = apply_crc("tcp://127.0.0.1?mss=1000", "off", false);
  EXPECT_EQ("tcp://127.0.0.1?mss=1000&crc=0", client.uri);
  EXPECT_EQ(CrcRequest::Off, client.request);
  EXPECT_TRUE(client.chosen);
  client = apply_crc("tcp://127.0.0.1?crc=0", "off", false);  // agreeing: not added twice
  EXPECT_EQ("tcp://127.0.0.1?crc=0", client.uri);
  EXPECT_THROW(apply_crc("tcp://127.0.0.1?crc=1", "off", false), UsageError);
  EXPECT_THROW(apply_crc("tcp://127.0.0.1?crc=0", "on", true), UsageError);
  client = apply_crc("loopback", "off", false);  // no wire format
  EXPECT_EQ("loopback", client.uri);
  EXPECT_EQ(CrcRequest::NotApplicable, client.request);
  EXPECT_EQ("loopback", apply_crc("loopback", "", true).uri);
}

TEST(Crc, mpa_uses_crc_when_either_side_asks) {
  using enum CrcRequest;
  EXPECT_EQ(Off, negotiated_crc(Off, Off));
  EXPECT_EQ(On, negotiated_crc(Off, On));
  EXPECT_EQ(On, negotiated_crc(On, Off));
  EXPECT_EQ(On, negotiated_crc(On, On));
  EXPECT_EQ(NotApplicable, negotiated_crc(NotApplicable, NotApplicable));
  EXPECT_EQ(NotApplicable, negotiated_crc(Off, NotApplicable));
  EXPECT_STREQ("off", crc_name(Off));
  EXPECT_STREQ("on", crc_name(On));
  EXPECT_STREQ("n/a", crc_name(NotApplicable));
  for (CrcRequest r : {Off, On, NotApplicable}) EXPECT_EQ(r, crc_of_flags(crc_flags(r)));
  EXPECT_EQ(NotApplicable, crc_of_flags(kFlagServerNotified));
}

TEST(Protocol, connect_requests_round_trip_in_48_bytes) {
  ConnectRequest r;
  r.role = Role::Data;
  r.index = 3;
  r.session = 0x0123456789ABCDEFull;
  r.data_links = 4;
  r.sge = 7;
  r.client_depth = 128;
  r.server_receives = 256;
  r.inline_bytes = 64;
  r.buffer_bytes = 8u << 20;
  r.read_limit = 16;
  r.flags = kRequestNotifications;
  std::vector<std::byte> bytes = encode_request(r);
  ASSERT_EQ(kConnectRequestBytes, bytes.size());
  EXPECT_EQ(std::byte{'S'}, bytes[0]);  // little-endian magic "SNDK"
  ConnectRequest d;
  uint8_t version = 0;
  ASSERT_EQ(RequestCheck::Ok, decode_request(bytes, &d, &version));
  EXPECT_EQ(Role::Data, d.role);
  EXPECT_EQ(3, d.index);
  EXPECT_EQ(r.session, d.session);
  EXPECT_EQ(4, d.data_links);
  EXPECT_EQ(7, d.sge);
  EXPECT_EQ(128u, d.client_depth);
  EXPECT_EQ(256u, d.server_receives);
  EXPECT_EQ(64u, d.inline_bytes);
  EXPECT_EQ(8u << 20, d.buffer_bytes);
  EXPECT_EQ(16u, d.read_limit);
  EXPECT_EQ(kRequestNotifications, d.flags);
  // Zero padding after the request (the RDS of private data) is ignored.
  bytes.resize(56);
  EXPECT_EQ(RequestCheck::Ok, decode_request(bytes, &d, &version));
}

TEST(Protocol, foreign_and_other_version_requests_are_recognized) {
  ConnectRequest d;
  uint8_t version = 0;
  std::vector<std::byte> zeros(56);
  EXPECT_EQ(RequestCheck::NotSoftndk, decode_request(zeros, &d, &version));
  EXPECT_EQ(RequestCheck::NotSoftndk, decode_request({}, &d, &version));
  std::vector<std::byte> bytes = encode_request(ConnectRequest{});
  bytes[4] = std::byte{9};
  EXPECT_EQ(RequestCheck::OtherVersion, decode_request(bytes, &d, &version));
  EXPECT_EQ(9, version);
}

TEST(Protocol, rejections_carry_a_reason_within_the_limit) {
  std::vector<std::byte> bytes = encode_rejection("busy: try later", 148);
  EXPECT_LE(bytes.size(), 148u);
  EXPECT_EQ("busy: try later", decode_rejection(bytes));
  bytes.resize(148);  // the receiver's RDS: zero padded
  EXPECT_EQ("busy: try later", decode_rejection(bytes));
  std::vector<std::byte> small = encode_rejection(std::string(500, 'x'), 40);
  EXPECT_EQ(40u, small.size());
  EXPECT_EQ(std::string(31, 'x'), decode_rejection(small));
  EXPECT_FALSE(decode_rejection(std::vector<std::byte>(148)).has_value());
}

TEST(Protocol, control_messages_round_trip) {
  ControlMessage m;
  m.type = MessageType::ByeAck;
  m.address = 0x7F0000001000;
  m.bytes = 65536;
  m.token = 0xABCDEF01;
  m.adapter_flags = 0x10114;
  m.test.op = Op::SendInvalidate;
  m.test.mode = Mode::Rate;
  m.test.sge = 3;
  m.test.cq_mod = 16;
  m.test.size = 1u << 20;
  m.test.credit_batch = 64;
  m.test.duration_ms = 1500;
  m.count = 123456789;
  m.flags = kFlagCrcApplies | kFlagServerNotified;
  m.notifications = 0x1122334455667788ull;
  m.counters.Connects = 1;
  m.counters.RdmaOutFrames = 99;
  m.counters.RdmaInOctets = 1ull << 40;
  m.text = std::string(200, 'y');
  std::array<std::byte, kControlMessageBytes> bytes{};
  encode_message(m, bytes);
  ControlMessage d;
  ASSERT_TRUE(decode_message(bytes, &d));
  EXPECT_EQ(MessageType::ByeAck, d.type);
  EXPECT_EQ(m.address, d.address);
  EXPECT_EQ(m.bytes, d.bytes);
  EXPECT_EQ(m.token, d.token);
  EXPECT_EQ(m.adapter_flags, d.adapter_flags);
  EXPECT_EQ(Op::SendInvalidate, d.test.op);
  EXPECT_EQ(Mode::Rate, d.test.mode);
  EXPECT_EQ(3, d.test.sge);
  EXPECT_EQ(16u, d.test.cq_mod);
  EXPECT_EQ(1u << 20, d.test.size);
  EXPECT_EQ(64u, d.test.credit_batch);
  EXPECT_EQ(1500u, d.test.duration_ms);
  EXPECT_EQ(m.count, d.count);
  EXPECT_EQ(m.flags, d.flags);
  EXPECT_EQ(m.notifications, d.notifications);
  EXPECT_EQ(1u, d.counters.Connects);
  EXPECT_EQ(99u, d.counters.RdmaOutFrames);
  EXPECT_EQ(1ull << 40, d.counters.RdmaInOctets);
  EXPECT_EQ(std::string(kControlTextBytes - 1, 'y'), d.text);
  EXPECT_EQ(std::byte{kProtocolVersion}, bytes[6]);
  EXPECT_EQ(std::byte{kFlagCrcApplies | kFlagServerNotified}, bytes[7]);
  bytes[6] = std::byte{1};  // the version without the flags and the notification count
  EXPECT_FALSE(decode_message(bytes, &d));
  bytes[6] = std::byte{kProtocolVersion};
  bytes[0] = std::byte{0};
  EXPECT_FALSE(decode_message(bytes, &d));
  EXPECT_FALSE(decode_message(std::span<const std::byte>(bytes).first(100), &d));
}

TEST(Messages, each_connect_failure_says_what_happened) {
  auto text = [](NTSTATUS s, std::optional<std::string> reason = std::nullopt) {
    return describe_connect_failure(s, "10.0.0.2:18515", reason);
  };
  EXPECT_NE(std::string::npos, text(STATUS_CONNECTION_REFUSED).find("refused: nothing listens"));
  EXPECT_NE(std::string::npos, text(STATUS_CONNECTION_REFUSED).find("STATUS_CONNECTION_REFUSED"));
  EXPECT_EQ("connection to 10.0.0.2:18515 rejected by the server: busy",
            text(STATUS_CONNECTION_REFUSED, "busy"));
  EXPECT_NE(std::string::npos, text(STATUS_HOST_UNREACHABLE).find("host unreachable"));
  EXPECT_NE(std::string::npos, text(STATUS_HOST_UNREACHABLE).find("STATUS_HOST_UNREACHABLE"));
  EXPECT_NE(std::string::npos, text(STATUS_NETWORK_UNREACHABLE).find("network unreachable"));
  EXPECT_NE(std::string::npos, text(STATUS_IO_TIMEOUT).find("timed out"));
  EXPECT_NE(std::string::npos, text(STATUS_IO_TIMEOUT).find("STATUS_IO_TIMEOUT"));
  EXPECT_NE(std::string::npos, text(STATUS_INSUFFICIENT_RESOURCES).find("failed: STATUS_"));
}

TEST(Messages, limits_name_the_adapter_field) {
  NDK_ADAPTER_INFO info{};
  info.MaxInitiatorQueueDepth = 64;
  info.MaxReceiveQueueDepth = 64;
  info.MaxInitiatorRequestSge = 4;
  info.MaxReadRequestSge = 4;
  info.MaxInlineDataSize = 128;
  info.MaxTransferLength = 1u << 20;
  info.MaxRegistrationSize = 1u << 30;
  SessionShape s;
  s.initiator_depth = 16;
  s.receive_depth = 16;
  s.sge = 2;
  s.inline_bytes = 64;
  s.buffer_bytes = 4096;
  EXPECT_EQ("", check_limits(s, info));
  s.receive_depth = 256;
  EXPECT_EQ("receive queue depth 256 exceeds the adapter's MaxReceiveQueueDepth (64)",
            check_limits(s, info));
  s.receive_depth = 16;
  s.inline_bytes = 512;
  EXPECT_NE(std::string::npos, check_limits(s, info).find("MaxInlineDataSize (128)"));
  s.inline_bytes = 0;
  s.buffer_bytes = 8u << 20;
  EXPECT_NE(std::string::npos, check_limits(s, info).find("MaxTransferLength"));
}

TEST(Messages, statuses_are_named_with_their_code) {
  EXPECT_EQ("STATUS_CONNECTION_REFUSED (0xC0000236)", status_text(STATUS_CONNECTION_REFUSED));
  EXPECT_EQ("STATUS_0x12345678", status_text(0x12345678));
}

// SIGINT/SIGTERM: every test loop asks the clock for more, so the stop ends it even when no
// wait ever runs out of completions (in a child: the stop is for the whole process).
TEST(TestClockDeathTest, a_requested_stop_ends_the_test_loop) {
  EXPECT_EXIT(
      {
        TestSpec spec;
        spec.iterations = 1000;
        const TestClock clock(spec);
        if (!clock.more(0, Clock::now())) std::_Exit(1);
        request_stop();
        try {
          clock.more(1, Clock::now());
        } catch (const Error& e) {
          std::_Exit(std::string(e.what()) == "interrupted" ? 3 : 2);
        }
        std::_Exit(0);
      },
      testing::ExitedWithCode(3), "");
}

}  // namespace
}  // namespace softndk::cli
