// perftest's exchange (tools/softndk/perftest.h): the control messages and the 56-byte
// destination byte for byte as captured from perftest 6.06 (Debian 12's 4.5+0.17-1) between two
// Linux soft-iWARP ends (docs/interop.md), and softndk's perftest client against softndk's
// perftest server over tcp://127.0.0.1 and loopback for each bandwidth test, including a server
// whose client never comes and a receiver that counts what the sender sent.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <future>
#include <string>
#include <thread>

#include "ndk.h"
#include "ndkxx/adapter.h"
#include "perftest.h"
#include "perftest_lat.h"

namespace {

using namespace softndk::cli;

std::vector<std::byte> bytes_of_hex(const std::string& hex) {
  std::vector<std::byte> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::byte>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Payloads of the Sends of `ib_write_bw -R -n 5 -s 64` (client side), as captured.
constexpr const char* kVersionPayload = "362e3036000000000000000000000000";
constexpr const char* kCycleBufferPayload = "00001000";
constexpr const char* kCacheLinePayload = "00000040";
constexpr const char* kMtuPayload = "3300";
constexpr const char* kClientDest =
    "0000000000000001000000030073da0b9e834e00000000000000560adcdec000525400123456000000000000"
    "000000000000000000000000";
// ib_read_bw's client destination: outstanding reads 128.
constexpr const char* kReadClientDest =
    "00000000000000800000000300 4abd8e7609bf0000000000000055d1e0b330005254001234560000000000"
    "00000000000000000000000000";
// The report values of that write run: size 64, 5 iterations, peak 0.47 MB/s.
constexpr const char* kReportSize = "0000000000000040";
constexpr const char* kReportIterations = "0000000000000005";
constexpr const char* kReportPeak = "3fde42b23dc7e66f";

std::string strip(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  return s;
}

TEST(PerftestCodec, SmallMessagesAsCaptured) {
  EXPECT_EQ(perftest::version_message(perftest::kVersion), bytes_of_hex(kVersionPayload));
  EXPECT_EQ(perftest::version_text(bytes_of_hex(kVersionPayload)), "6.06");
  EXPECT_DOUBLE_EQ(perftest::version_value("6.06"), 6.06);
  EXPECT_EQ(perftest::be32_message(perftest::kCycleBuffer), bytes_of_hex(kCycleBufferPayload));
  EXPECT_EQ(perftest::be32_message(perftest::kCacheLine), bytes_of_hex(kCacheLinePayload));
  EXPECT_EQ(perftest::be32_of(bytes_of_hex(kCacheLinePayload)), 64u);
  EXPECT_EQ(perftest::mtu_message(), bytes_of_hex(kMtuPayload));
  EXPECT_EQ(perftest::be64_message(64), bytes_of_hex(kReportSize));
  EXPECT_EQ(perftest::be64_of(bytes_of_hex(kReportIterations)), 5u);
  const double peak = perftest::double_of(bytes_of_hex(kReportPeak));
  EXPECT_NEAR(peak, 0.47, 0.005);
  EXPECT_EQ(perftest::double_message(peak), bytes_of_hex(kReportPeak));
  const std::vector<std::byte> other = perftest::be32_message(0x01020304u);
  for (size_t i = 0; i < other.size(); ++i)
    EXPECT_EQ(std::to_integer<unsigned>(other[i]), i + 1) << "byte " << i;
}

TEST(PerftestCodec, DestinationIsPingpongDestBigEndian) {
  const std::vector<std::byte> wire = bytes_of_hex(kClientDest);
  perftest::DestMessage m{};
  ASSERT_EQ(wire.size(), m.size());
  std::memcpy(m.data(), wire.data(), m.size());
  const perftest::Dest d = perftest::decode(m);
  EXPECT_EQ(d.lid, 0u);
  EXPECT_EQ(d.out_reads, 1u);
  EXPECT_EQ(d.qpn, 3u);
  EXPECT_EQ(d.psn, 0x73da0bu);
  EXPECT_EQ(d.rkey, 0x9e834e00u);
  EXPECT_EQ(d.address, 0x0000560adcdec000u);
  EXPECT_EQ(d.gid[0], 0x52u);
  EXPECT_EQ(d.gid[5], 0x56u);
  EXPECT_EQ(d.srqn, 0u);
  EXPECT_EQ(d.gid_index, 0u);
  EXPECT_EQ(perftest::encode(d), m);  // the captured padding was zero

  const std::vector<std::byte> read_wire = bytes_of_hex(strip(kReadClientDest));
  ASSERT_EQ(read_wire.size(), m.size());
  std::memcpy(m.data(), read_wire.data(), m.size());
  const perftest::Dest r = perftest::decode(m);
  EXPECT_EQ(r.out_reads, 128u);
  EXPECT_EQ(r.rkey, 0x7609bf00u);
  EXPECT_EQ(r.address, 0x000055d1e0b33000u);

  perftest::Dest mine;
  mine.rkey = 0x11223344u;
  mine.address = 0x0102030405060708u;
  const perftest::DestMessage e = perftest::encode(mine);
  EXPECT_EQ(std::to_integer<unsigned>(e[16]), 0x11u);
  EXPECT_EQ(std::to_integer<unsigned>(e[19]), 0x44u);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(std::to_integer<unsigned>(e[24 + i]), i + 1);
}

TEST(PerftestCodec, DestRoundsAsCaptured) {
  EXPECT_EQ(perftest::dest_rounds(perftest::Test::Send), 4);
  EXPECT_EQ(perftest::dest_rounds(perftest::Test::Write), 3);
  EXPECT_EQ(perftest::dest_rounds(perftest::Test::Read), 3);
  // The latency tests (ib_*_lat -R -n 5 -s 64, captured): 4 rounds, then write 0 syncs, send
  // and read 1.
  for (perftest::Test t : {perftest::Test::Send, perftest::Test::Write, perftest::Test::Read})
    EXPECT_EQ(perftest::dest_rounds(t, true), 4) << perftest::test_name(t);
  EXPECT_EQ(perftest::lat_syncs_after(perftest::Test::Write), 0);
  EXPECT_EQ(perftest::lat_syncs_after(perftest::Test::Send), 1);
  EXPECT_EQ(perftest::lat_syncs_after(perftest::Test::Read), 1);
}

bool tcp_available() {
  softndk::ndkxx::Adapter adapter("tcp://127.0.0.1");
  return adapter.open_status() == STATUS_SUCCESS;
}

struct Outcome {
  perftest::Report server;
  perftest::Report client;
  std::string server_error;
  std::string client_error;
};

// A server on a thread (port chosen by the system), then the client against it.
Outcome client_against_server(const std::string& uri, perftest::Test test, uint64_t size,
                          uint64_t iterations, bool client_comes = true) {
  set_wait_timeout(std::chrono::seconds(10));
  Outcome run;
  std::promise<SocketAddress> listening;
  std::future<SocketAddress> address = listening.get_future();
  std::thread server([&] {
    perftest::ServerOptions s;
    s.uri = uri;
    s.test = test;
    s.port = 0;
    s.size = size;
    s.iterations = iterations;
    s.accept_timeout_s = client_comes ? 10 : 0.5;
    s.on_listening = [&](const SocketAddress& a) { listening.set_value(a); };
    try {
      run.server = perftest::run_server(s);
    } catch (const std::exception& e) {
      run.server_error = e.what();
      try {
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
  if (client_comes) {
    try {
      perftest::ClientOptions c;
      c.uri = uri;
      c.server = address.get();
      c.test = test;
      c.size = size;
      c.iterations = iterations;
      run.client = perftest::run_client(c);
    } catch (const std::exception& e) {
      run.client_error = e.what();
    }
  }
  server.join();
  return run;
}

struct Case {
  std::string uri;
  perftest::Test test;
};

class PerftestRun : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (GetParam().uri.rfind("tcp", 0) == 0 && !tcp_available())
      GTEST_SKIP() << "no tcp transport in this libsoftndk";
  }
};

TEST_P(PerftestRun, ClientAgainstServer) {
  const Case& c = GetParam();
  // 1200 sends exceed the receiver's depth of 512: the credit words must flow.
  const uint64_t iterations = 1200, size = 8192;
  const Outcome run = client_against_server(c.uri, c.test, size, iterations);
  ASSERT_EQ(run.client_error, "");
  ASSERT_EQ(run.server_error, "");
  EXPECT_EQ(run.client.size, size);
  EXPECT_EQ(run.client.iterations, iterations);
  EXPECT_GT(run.client.average_mb_s, 0);
  EXPECT_GE(run.client.peak_mb_s, run.client.average_mb_s);
  EXPECT_GT(run.client.message_rate_mpps, 0);
  // Write/read: the server reports the client's numbers as they came over the wire; send: its
  // own count of receives.
  EXPECT_EQ(run.server.size, size);
  EXPECT_EQ(run.server.iterations, iterations);
  if (c.test != perftest::Test::Send) {
    EXPECT_EQ(run.server.average_mb_s, run.client.average_mb_s);
    EXPECT_EQ(run.server.peak_mb_s, run.client.peak_mb_s);
  } else {
    EXPECT_GT(run.server.average_mb_s, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tests, PerftestRun,
    ::testing::Values(Case{"tcp://127.0.0.1", perftest::Test::Send},
                      Case{"tcp://127.0.0.1", perftest::Test::Write},
                      Case{"tcp://127.0.0.1", perftest::Test::Read},
                      Case{"loopback", perftest::Test::Send},
                      Case{"loopback", perftest::Test::Write},
                      Case{"loopback", perftest::Test::Read}),
    [](const ::testing::TestParamInfo<Case>& p) {
      return std::string(p.param.uri == "loopback" ? "loopback_" : "tcp_") +
             perftest::test_name(p.param.test);
    });

struct LatencyOutcome {
  perftest::LatencyReport server;
  perftest::LatencyReport client;
  std::string server_error;
  std::string client_error;
};

LatencyOutcome latency_client_against_server(const std::string& uri, perftest::Test test,
                                             uint64_t size, uint64_t iterations) {
  set_wait_timeout(std::chrono::seconds(10));
  LatencyOutcome run;
  std::promise<SocketAddress> listening;
  std::future<SocketAddress> address = listening.get_future();
  std::thread server([&] {
    perftest::ServerOptions s;
    s.uri = uri;
    s.test = test;
    s.port = 0;
    s.size = size;
    s.iterations = iterations;
    s.accept_timeout_s = 10;
    s.on_listening = [&](const SocketAddress& a) { listening.set_value(a); };
    try {
      run.server = perftest::run_latency_server(s);
    } catch (const std::exception& e) {
      run.server_error = e.what();
      try {
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
    perftest::ClientOptions c;
    c.uri = uri;
    c.server = address.get();
    c.test = test;
    c.size = size;
    c.iterations = iterations;
    run.client = perftest::run_latency_client(c);
  } catch (const std::exception& e) {
    run.client_error = e.what();
  }
  server.join();
  return run;
}

class PerftestLatency : public PerftestRun {};

TEST_P(PerftestLatency, ClientAgainstServer) {
  const Case& c = GetParam();
  const uint64_t iterations = 300, size = 64;
  const LatencyOutcome run = latency_client_against_server(c.uri, c.test, size, iterations);
  ASSERT_EQ(run.client_error, "");
  ASSERT_EQ(run.server_error, "");
  // The posts of every iteration were timed: iterations - 1 gaps, the top 2 left out.
  EXPECT_EQ(run.client.size, size);
  EXPECT_EQ(run.client.iterations, iterations);
  EXPECT_GT(run.client.t_min, 0);
  EXPECT_LE(run.client.t_min, run.client.t_typical);
  EXPECT_LE(run.client.t_typical, run.client.p99);
  EXPECT_LE(run.client.p99, run.client.p999);
  EXPECT_LE(run.client.p999, run.client.t_max);
  EXPECT_GE(run.client.t_avg, run.client.t_min);
  // Write and send are ping-pongs: the server times its own posts; read's server only syncs.
  EXPECT_EQ(run.server.iterations, c.test == perftest::Test::Read ? 0u : iterations);
}

INSTANTIATE_TEST_SUITE_P(
    Tests, PerftestLatency,
    ::testing::Values(Case{"tcp://127.0.0.1", perftest::Test::Send},
                      Case{"tcp://127.0.0.1", perftest::Test::Write},
                      Case{"tcp://127.0.0.1", perftest::Test::Read},
                      Case{"loopback", perftest::Test::Send},
                      Case{"loopback", perftest::Test::Write},
                      Case{"loopback", perftest::Test::Read}),
    [](const ::testing::TestParamInfo<Case>& p) {
      return std::string(p.param.uri == "loopback" ? "loopback_" : "tcp_") +
             perftest::test_name(p.param.test);
    });

TEST(PerftestLatencyStats, AsPerftestComputesThem) {
  // Posts 0, 10, 30, 60, 100, 150 us apart by 10, 20, 30, 40, 50: halved 5..25, top 2 left out.
  const auto t0 = std::chrono::steady_clock::time_point{};
  std::vector<std::chrono::steady_clock::time_point> posts;
  for (int us : {0, 10, 30, 60, 100, 150}) posts.push_back(t0 + std::chrono::microseconds(us));
  const perftest::LatencyReport r = perftest::latency_of(8, posts, true);
  EXPECT_EQ(r.iterations, 6u);
  EXPECT_DOUBLE_EQ(r.t_min, 5);
  EXPECT_DOUBLE_EQ(r.t_max, 15);
  EXPECT_DOUBLE_EQ(r.t_typical, 10);
  EXPECT_DOUBLE_EQ(r.t_avg, 10);
  const perftest::LatencyReport read = perftest::latency_of(8, posts, false);
  EXPECT_DOUBLE_EQ(read.t_min, 10);
  EXPECT_DOUBLE_EQ(read.t_max, 30);
}

TEST(PerftestServer, NoClientIsAnErrorNotAHang) {
  const Outcome run = client_against_server("loopback", perftest::Test::Write, 64, 10, false);
  EXPECT_NE(run.server_error.find("no perftest client"), std::string::npos) << run.server_error;
}

}  // namespace
