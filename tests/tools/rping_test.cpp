// rping's exchange (tools/softndk/rping.h): the advertisement and the ping data byte for byte as
// captured between two Linux soft-iWARP ends running rdma-core's rping, and softndk's rping
// client against softndk's rping server over loopback and tcp://127.0.0.1 (the server is the
// scripted peer of the client and the other way round), including a server that refuses an
// advertisement too large for it.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <future>
#include <string>
#include <thread>

#include "ndk.h"
#include "ndkxx/adapter.h"
#include "rping.h"

namespace {

using namespace softndk::cli;

std::vector<std::byte> bytes_of_hex(const std::string& hex) {
  std::vector<std::byte> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::byte>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// The payload of rping's first Send (client to server), as captured.
constexpr const char* kCapturedAdvertisement = "000056437325e450bc59150000000040";

TEST(RpingCodec, AdvertisementIsAddressRkeyLengthBigEndian) {
  const std::vector<std::byte> wire = bytes_of_hex(kCapturedAdvertisement);
  rping::Message m{};
  ASSERT_EQ(wire.size(), m.size());
  std::memcpy(m.data(), wire.data(), m.size());
  const rping::Advertisement a = rping::decode(m);
  EXPECT_EQ(a.address, 0x000056437325e450u);
  EXPECT_EQ(a.rkey, 0xbc591500u);
  EXPECT_EQ(a.length, 64u);
  EXPECT_EQ(rping::encode(a), m);
  const rping::Message other = rping::encode({0x0102030405060708u, 0x090a0b0cu, 0x0d0e0f10u});
  for (size_t i = 0; i < other.size(); ++i)
    EXPECT_EQ(std::to_integer<unsigned>(other[i]), i + 1) << "byte " << i;
}

TEST(RpingCodec, PingDataAsCaptured) {
  // The 64-byte source buffers of pings 0 and 1, as the server read them.
  const char* captured[] = {
      "72646d612d70696e672d303a204142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
      "606162636465666768696a6b6c6d6e6f70717200",
      "72646d612d70696e672d313a2042434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60"
      "6162636465666768696a6b6c6d6e6f7071727300"};
  for (uint64_t index = 0; index < 2; ++index) {
    const std::vector<std::byte> want = bytes_of_hex(captured[index]);
    ASSERT_EQ(want.size(), 64u);
    std::vector<std::byte> got(64, std::byte{0xEE});
    rping::fill_ping(got.data(), got.size(), index);
    EXPECT_EQ(got, want) << "ping " << index;
  }
}

TEST(RpingCodec, LongPingDataStaysPrintableAndEndsWithNul) {
  std::vector<std::byte> data(300);
  rping::fill_ping(data.data(), data.size(), 7);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(data.data()), 13), "rdma-ping-7: ");
  for (size_t i = 13; i + 1 < data.size(); ++i) {
    const auto c = std::to_integer<int>(data[i]);
    EXPECT_TRUE(c >= 'A' && c <= 'z') << "byte " << i << " is " << c;
  }
  EXPECT_EQ(data.back(), std::byte{0});
}

bool tcp_available() {
  softndk::ndkxx::Adapter adapter("tcp://127.0.0.1");
  return adapter.open_status() == STATUS_SUCCESS;
}

struct PingRun {
  uint64_t served = 0;
  uint64_t pinged = 0;
  std::string server_error;
  std::string client_error;
};

// A server on a thread (port chosen by the system), then the client against it.
PingRun client_against_server(const std::string& uri, uint64_t count, uint64_t size,
                          uint64_t server_max) {
  set_wait_timeout(std::chrono::seconds(10));
  PingRun run;
  std::promise<SocketAddress> listening;
  std::future<SocketAddress> address = listening.get_future();
  std::thread server([&] {
    rping::ServerOptions s;
    s.uri = uri;
    s.port = 0;
    s.max_size = server_max;
    s.accept_timeout_s = 10;
    s.on_listening = [&](const SocketAddress& a) { listening.set_value(a); };
    try {
      run.served = rping::run_server(s);
    } catch (const std::exception& e) {
      run.server_error = e.what();
      try {  // failed before listening: the client learns it from the future
        listening.set_exception(std::current_exception());
      } catch (const std::future_error&) {
      }
    }
  });
  if (address.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    server.join();
    ADD_FAILURE() << "the server did not listen: " << run.server_error;
    return run;
  }
  try {
    rping::ClientOptions c;
    c.uri = uri;
    c.server = address.get();
    c.count = count;
    c.size = size;
    run.pinged = rping::run_client(c);
  } catch (const std::exception& e) {
    run.client_error = e.what();
  }
  server.join();
  return run;
}

class RpingTransport : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam().rfind("tcp", 0) == 0 && !tcp_available())
      GTEST_SKIP() << "no tcp transport in this libsoftndk";
  }
};

TEST_P(RpingTransport, ClientAgainstServerValidatesEveryPing) {
  PingRun run = client_against_server(GetParam(), 3, 64, 64 * 1024);
  EXPECT_EQ(run.client_error, "");
  EXPECT_EQ(run.server_error, "");
  EXPECT_EQ(run.pinged, 3u);
  EXPECT_EQ(run.served, 3u);
}

TEST_P(RpingTransport, LargePingsSpanManySegments) {
  PingRun run = client_against_server(GetParam(), 2, 200 * 1024, 256 * 1024);
  EXPECT_EQ(run.client_error, "");
  EXPECT_EQ(run.server_error, "");
  EXPECT_EQ(run.pinged, 2u);
  EXPECT_EQ(run.served, 2u);
}

TEST_P(RpingTransport, ServerRefusesAnAdvertisementLargerThanItsBuffer) {
  PingRun run = client_against_server(GetParam(), 1, 8192, 4096);
  EXPECT_NE(run.server_error.find("advertised 8192 bytes"), std::string::npos)
      << run.server_error;
  EXPECT_NE(run.client_error, "");
  EXPECT_EQ(run.pinged, 0u);
  EXPECT_EQ(run.served, 0u);
}

// The program: rping needs a peer (an in-process fabric has no rping on it), which is a usage
// error (exit status 2) with a message, and a size below rping's advertisement is refused.
int exit_status(const std::string& arguments) {
  const int status =
      std::system((std::string(SOFTNDK_CLI_PATH) + " " + arguments + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(RpingCli, UsageErrors) {
  EXPECT_EQ(exit_status("ping --rping"), 2);
  EXPECT_EQ(exit_status("ping --rping --uri loopback"), 2);
  if (tcp_available()) {
    EXPECT_EQ(exit_status("ping --rping --uri tcp://127.0.0.1 -s 8 127.0.0.1:1"), 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, RpingTransport,
                         ::testing::Values("loopback", "tcp://127.0.0.1"),
                         [](const auto& p) {
                           return p.param == "loopback" ? std::string("loopback")
                                                           : std::string("tcp");
                         });

}  // namespace
