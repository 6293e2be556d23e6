// The command line's rough edges, as a new user meets them: --version, `help`, the message for
// an unknown command or option; the adapter profiles and the settings `info` shows; a client
// that needs only its server's address (source address picked, host names) and a server on
// every address; a server's counters while it runs (--stats, SIGUSR1); SOFTNDK_LOG lines with
// state and status names; CPU use in perf; --plot's output path checked before the run; the
// server's log when a client gives up or a signal follows a clean session; `softndk-demo
// --help`; JSON output of an interrupted run. Shapes and messages, never timings.
#include "cli_harness.h"

namespace {

using namespace softndk_cli_test;

// The JSON document in a log that also holds other lines (stderr merged into stdout).
json json_in(const std::string& log) {
  const size_t first = log.find('{');
  const size_t last = log.rfind('}');
  if (first == std::string::npos || last == std::string::npos || last < first) return json();
  return json::parse(log.substr(first, last - first + 1), nullptr, false);
}

bool ipv6_loopback_available() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// ---------------------------------------------------------------------------------------------
// --version, help, unknown words

TEST(CliCommandLine, version_in_the_flag_in_info_and_in_its_json) {
  Result r = softndk({"--version"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "softndk ")) << r.out;
  EXPECT_TRUE(contains(r.out, "(NDKPI 2.1)")) << r.out;
  const std::string version_line = r.out.substr(0, r.out.find('\n'));
  Result short_flag = softndk({"-V"});
  EXPECT_RUN(0, short_flag);
  EXPECT_EQ(r.out, short_flag.out);
  Result info = softndk({"info"});
  EXPECT_RUN(0, info);
  EXPECT_TRUE(contains(info.out, version_line)) << info.out;
  Result doc = softndk({"info", "--json"});
  EXPECT_RUN(0, doc);
  const json j = parse(doc);
  ASSERT_TRUE(j["softndk_version"].is_string()) << doc.out;
  EXPECT_TRUE(contains(version_line, "softndk " + j["softndk_version"].get<std::string>() + " "))
      << version_line;
}

TEST(CliCommandLine, help_command_shows_the_program_or_a_command_help) {
  Result r = softndk({"help"});
  EXPECT_RUN(0, r);
  for (const char* part : {"Usage", "info", "ping", "perf", "help"})
    EXPECT_TRUE(contains(r.out, part)) << part << "\n" << r.out;
  r = softndk({"help", "perf"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "--op")) << r.out;
  EXPECT_TRUE(contains(r.out, "--stats")) << r.out;
  r = softndk({"help", "info"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "--profiles")) << r.out;
  r = softndk({"help", "nope"});
  EXPECT_RUN(2, r);
  EXPECT_TRUE(contains(r.err, "unknown command \"nope\"")) << r.err;
}

TEST(CliCommandLine, unknown_commands_options_and_arguments_are_named) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"nope"}, "softndk: unknown command \"nope\" (commands: info, ping, perf, chaos, help)"},
      {{"--bogus"}, "softndk: unknown option \"--bogus\""},
      {{"perf", "--no-such-flag"}, "softndk perf: unknown option \"--no-such-flag\""},
      {{"ping", "-Z"}, "softndk ping: unknown option \"-Z\""},
      {{"info", "loopback", "extra"}, "softndk info: unexpected argument \"extra\""},
      {{}, "softndk: a command is required (info, ping, perf, chaos, help)"},
  };
  for (const Case& c : cases) {
    Result r = softndk(c.args);
    EXPECT_EQ(2, r.status) << c.message << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, c.message)) << c.message << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, "--help")) << r.err;
  }
}

TEST(CliCommandLine, demo_help_is_help_not_a_uri) {
  Result r = run_program(SOFTNDK_DEMO_PATH, {"--help"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "usage: softndk-demo [URI]")) << r.out;
  EXPECT_FALSE(contains(r.out + r.err, "STATUS_")) << r.out << r.err;
  r = run_program(SOFTNDK_DEMO_PATH, {"--frobnicate"});
  EXPECT_RUN(2, r);
  EXPECT_TRUE(contains(r.err, "unknown option \"--frobnicate\"")) << r.err;
  r = run_program(SOFTNDK_DEMO_PATH, {"loopback"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "all steps succeeded")) << r.out;
}

// ---------------------------------------------------------------------------------------------
// profiles and settings

TEST(CliProfiles, info_lists_every_profile_with_its_limits) {
  Result r = softndk({"info", "--profiles", "--json"});
  EXPECT_RUN(0, r);
  const json list = parse(r);
  ASSERT_TRUE(list.is_array()) << r.out;
  std::vector<std::string> names;
  for (const json& p : list) {
    ASSERT_TRUE(p["name"].is_string()) << p.dump();
    names.push_back(p["name"]);
    for (const char* key : {"MaxInitiatorQueueDepth", "MaxReceiveQueueDepth",
                            "MaxInitiatorRequestSge", "MaxReceiveRequestSge", "MaxReadRequestSge",
                            "MaxInlineDataSize", "MaxInboundReadLimit", "MaxOutboundReadLimit",
                            "FRMRPageCount", "MaxCqDepth", "MaxSrqDepth"})
      EXPECT_TRUE(p["limits"][key].is_number_unsigned()) << p["name"] << " " << key;
    EXPECT_TRUE(p["adapter_flags"]["CQ_RESIZE_SUPPORTED"].is_boolean()) << p["name"];
  }
  ASSERT_FALSE(names.empty());
  EXPECT_EQ("softndk", names.front());
  EXPECT_EQ(true, list[0]["default"]);
  for (const char* name : {"mlx5", "chelsio-t6", "intel-e810", "siw"})
    EXPECT_NE(names.end(), std::find(names.begin(), names.end(), name)) << name;
  // The limits listed are the ones an adapter with that profile reports.
  for (const json& p : list) {
    Result a = softndk({"info", "loopback?profile=" + p["name"].get<std::string>(), "--json"});
    EXPECT_RUN(0, a);
    const json info = parse(a)["adapter_info"];
    for (const char* key : {"MaxInitiatorQueueDepth", "MaxReceiveRequestSge", "MaxInlineDataSize"})
      EXPECT_EQ(p["limits"][key], info[key]) << p["name"] << " " << key;
  }
  r = softndk({"info", "--profiles"});
  EXPECT_RUN(0, r);
  for (const char* part : {"softndk (default)", "siw:", "mlx5:", "MaxInitiatorRequestSge"})
    EXPECT_TRUE(contains(r.out, part)) << part << "\n" << r.out;
}

TEST(CliProfiles, info_shows_the_profile_and_the_overrides_that_apply) {
  Result r = softndk({"info", "loopback?profile=siw&max_send_sge=3", "--json"});
  EXPECT_RUN(0, r);
  const json doc = parse(r);
  EXPECT_EQ("siw", doc["settings"]["profile"]) << r.out;
  EXPECT_EQ("3", doc["settings"]["options"]["max_send_sge"]) << r.out;
  EXPECT_EQ("off", doc["settings"]["verifier"]) << r.out;
  EXPECT_EQ(3u, doc["adapter_info"]["MaxInitiatorRequestSge"]);
  EXPECT_EQ(6u, doc["adapter_info"]["MaxReceiveRequestSge"]);  // siw's own
  r = softndk({"info", "loopback?verify=strict"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "profile                  softndk")) << r.out;
  EXPECT_TRUE(contains(r.out, "verifier                 strict")) << r.out;
  r = softndk({"info", "loopback?profile=mlx5&max_inline=64"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "profile                  mlx5")) << r.out;
  EXPECT_TRUE(contains(r.out, "max_inline=64")) << r.out;
}

// ---------------------------------------------------------------------------------------------
// addresses: open, every address, source address, host names

TEST(CliAddresses, an_address_of_another_host_fails_at_open) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  Result r = softndk({"info", "tcp://10.9.9.9"});
  EXPECT_RUN(1, r);
  EXPECT_TRUE(contains(r.err, "STATUS_INVALID_ADDRESS")) << r.err;
  EXPECT_TRUE(contains(r.err, "not an address of this host")) << r.err;
  r = softndk({"info", "tcp://0.0.0.0", "--json"});
  EXPECT_RUN(0, r);
  EXPECT_EQ("iWARP", parse(r)["rdma_technology"]);
}

TEST(CliAddresses, a_server_on_every_address_and_a_client_with_only_its_address) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  const uint16_t port = free_tcp_port();
  ServerProcess server(std::vector<std::string>{"--port", std::to_string(port)}, port);
  ASSERT_TRUE(server.listening()) << server.output();
  EXPECT_TRUE(contains(server.output(), "listening on 0.0.0.0:" + std::to_string(port)))
      << server.output();
  // No --uri: tcp from the source address routing picks.
  Result r = softndk({"ping", "127.0.0.1:" + std::to_string(port), "-c", "2", "-i", "0"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "over tcp://127.0.0.1")) << r.out;
  EXPECT_TRUE(contains(r.out, "2 sent, 2 received")) << r.out;
  // A host name.
  r = softndk({"ping", "localhost", "--port", std::to_string(port), "-c", "1", "--json"});
  EXPECT_RUN(0, r);
  EXPECT_EQ(1u, parse(r)["received"]);
  // A wildcard client URI gets the routed source address too.
  r = softndk({"perf", "localhost:" + std::to_string(port), "--uri", "tcp://0.0.0.0", "--op",
               "write", "-s", "4K", "-n", "20", "--json"});
  EXPECT_RUN(0, r);
  EXPECT_EQ("tcp://127.0.0.1", parse(r)["uri"]);
  r = softndk({"ping", "no-such-host.invalid", "-c", "1"});
  EXPECT_RUN(2, r);
  EXPECT_TRUE(contains(r.err, "cannot resolve host \"no-such-host.invalid\"")) << r.err;
  EXPECT_EQ(0, server.stop()) << server.output();
}

TEST(CliAddresses, a_server_on_every_ipv6_address) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback on this host";
  const uint16_t port = free_tcp_port();
  ServerProcess server("tcp://[::]", port);
  ASSERT_TRUE(server.listening()) << server.output();
  Result r = softndk({"ping", "[::1]:" + std::to_string(port), "-c", "1", "-i", "0"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "over tcp://[::1]")) << r.out;
  EXPECT_EQ(0, server.stop()) << server.output();
}

// ---------------------------------------------------------------------------------------------
// a running server: counters, a client that gives up, a signal after a clean session

TEST(CliServer, counters_every_period_and_on_sigusr1_while_it_runs) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  const uint16_t port = free_tcp_port();
  ServerProcess periodic("tcp://127.0.0.1", port, {"--stats", "0.2"});
  ASSERT_TRUE(periodic.listening()) << periodic.output();
  EXPECT_TRUE(periodic.wait_for("counters Connects=0 Accepts=0", 2)) << periodic.output();
  EXPECT_EQ(0, periodic.stop()) << periodic.output();

  const uint16_t port2 = free_tcp_port();
  ServerProcess server("tcp://127.0.0.1", port2);
  ASSERT_TRUE(server.listening()) << server.output();
  EXPECT_TRUE(contains(server.output(), "kill -USR1")) << server.output();
  EXPECT_TRUE(contains(server.output(), "data path: TCP socket (")) << server.output();
  EXPECT_FALSE(contains(server.output(), "counters Connects=")) << server.output();
  BackgroundProcess client({"perf", "127.0.0.1:" + std::to_string(port2), "--uri",
                            "tcp://127.0.0.1", "--op", "write", "-s", "4K", "-D", "30"},
                           "client" + std::to_string(port2));
  ASSERT_TRUE(server.wait_for("session 1 from", 1)) << server.output();
  server.signal(SIGUSR1);
  EXPECT_TRUE(server.wait_for("(a session is running)", 1)) << server.output();
  EXPECT_TRUE(contains(server.output(), "Accepts=2")) << server.output();
  client.signal(SIGINT);
  EXPECT_EQ(1, client.wait_exit(std::chrono::seconds(20))) << client.output();
  EXPECT_EQ(0, server.stop()) << server.output();
}

TEST(CliServer, an_interrupted_client_gave_up_it_is_no_protocol_error) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  const uint16_t port = free_tcp_port();
  ServerProcess server("tcp://127.0.0.1", port);
  ASSERT_TRUE(server.listening()) << server.output();
  for (const char* op : {"send", "write"}) {
    BackgroundProcess client({"perf", "127.0.0.1:" + std::to_string(port), "--uri",
                              "tcp://127.0.0.1", "--op", op, "-m", "lat", "-D", "30"},
                             std::string("client_") + op);
    ASSERT_TRUE(server.wait_for(" data connection(s)", op == std::string("send") ? 1 : 2))
        << server.output();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // into the test
    client.signal(SIGINT);
    EXPECT_EQ(1, client.wait_exit(std::chrono::seconds(20))) << client.output();
    EXPECT_TRUE(contains(client.output(), "interrupted")) << client.output();
  }
  EXPECT_TRUE(server.wait_for("ended: the client gave up (interrupted)", 2)) << server.output();
  EXPECT_FALSE(contains(server.output(), "unexpected Failure")) << server.output();
  EXPECT_FALSE(contains(server.output(), "failed")) << server.output();
  EXPECT_EQ(0, server.stop()) << server.output();
}

TEST(CliServer, a_signal_right_after_a_clean_session_does_not_fail_it) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  for (int round = 0; round < 3; ++round) {
    const uint16_t port = free_tcp_port();
    ServerProcess server("tcp://127.0.0.1", port);
    ASSERT_TRUE(server.listening()) << server.output();
    Result r = softndk({"ping", "127.0.0.1:" + std::to_string(port), "--uri", "tcp://127.0.0.1",
                        "-c", "1"});
    EXPECT_RUN(0, r);
    // At once: the server may still be closing the session the client has left.
    EXPECT_EQ(0, server.stop()) << server.output();
    const std::string log = server.output();
    EXPECT_TRUE(contains(log, "session 1 from 127.0.0.1:")) << log;
    EXPECT_FALSE(contains(log, "failed")) << log;
  }
}

// ---------------------------------------------------------------------------------------------
// SOFTNDK_LOG, CPU use, --plot's path, interrupted JSON

TEST(CliOutput, softndk_log_lines_name_states_and_statuses) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  setenv("SOFTNDK_LOG", "debug", 1);
  Result r = softndk({"ping", "127.0.0.1:" + std::to_string(free_tcp_port()), "--uri",
                      "tcp://127.0.0.1", "-c", "1"});
  Result ok = softndk({"ping", "-c", "1"});
  unsetenv("SOFTNDK_LOG");
  EXPECT_RUN(1, r);
  EXPECT_TRUE(contains(r.err, "softndk debug: connector ")) << r.err;
  EXPECT_TRUE(contains(r.err, "idle -> connecting (connect)")) << r.err;
  EXPECT_TRUE(contains(r.err, "connecting -> done (connect failed: STATUS_CONNECTION_REFUSED)"))
      << r.err;
  EXPECT_RUN(0, ok);
  EXPECT_TRUE(contains(ok.err, "softndk debug: qp ")) << ok.err;
  EXPECT_TRUE(contains(ok.err, "-> connected")) << ok.err;
}

TEST(CliOutput, perf_reports_the_cpu_use_of_client_and_server) {
  Result r = softndk({"perf", "--op", "write,reg", "-s", "4K", "-D", "0.3", "--json"});
  EXPECT_RUN(0, r);
  const json doc = parse(r);
  for (const json& m : doc["results"]) {
    const json& cpu = m["cpu_percent"];
    ASSERT_TRUE(cpu["client"].is_number() && cpu["server"].is_number()) << m.dump();
    EXPECT_GT(cpu["client"].get<double>(), 0.0) << m["name"];  // a busy client
    EXPECT_GE(cpu["server"].get<double>(), 0.0) << m["name"];
  }
  r = softndk({"perf", "--op", "send", "-s", "64", "-n", "200"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "CPU cl/sv[%]")) << r.out;
  EXPECT_TRUE(contains(r.out, "both ends are in it")) << r.out;
  if (!tcp_available()) return;
  const uint16_t port = free_tcp_port();
  ServerProcess server("tcp://127.0.0.1", port);
  ASSERT_TRUE(server.listening()) << server.output();
  // A send stream: the server polls for the receives it credits back.
  r = softndk({"perf", "127.0.0.1:" + std::to_string(port), "--uri", "tcp://127.0.0.1", "--op",
               "send", "-s", "64", "-D", "0.3", "--json"});
  EXPECT_RUN(0, r);
  const json tcp_doc = parse(r);
  const json& m = tcp_doc["results"][0];
  EXPECT_GT(m["cpu_percent"]["server"].get<double>(), 0.0) << m.dump();
  EXPECT_GT(m["cpu_percent"]["client"].get<double>(), 0.0) << m.dump();
  EXPECT_EQ(0, server.stop()) << server.output();
}

TEST(CliOutput, plot_path_is_checked_before_the_run) {
  Result r = softndk({"perf", "--op", "write", "-n", "10", "--plot", "/no/such/dir/chart.svg"});
  EXPECT_RUN(2, r);
  EXPECT_TRUE(contains(r.err, "the directory /no/such/dir does not exist")) << r.err;
  EXPECT_FALSE(contains(r.out, "RDMA Write")) << r.out;  // nothing ran
  if (geteuid() != 0) {
    r = softndk({"perf", "--op", "write", "-n", "10", "--plot", "/proc/chart.svg"});
    EXPECT_RUN(2, r);
    EXPECT_TRUE(contains(r.err, "is not writable")) << r.err;
  }
}

TEST(CliOutput, an_interrupted_ping_still_prints_its_json) {
  BackgroundProcess ping({"ping", "-c", "100000", "-i", "0.01", "--json"}, "interrupted_ping");
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  ping.signal(SIGINT);
  EXPECT_EQ(1, ping.wait_exit(std::chrono::seconds(20))) << ping.output();
  const std::string log = ping.output();
  const json doc = json_in(log);
  ASSERT_TRUE(doc.is_object()) << log;
  EXPECT_EQ(true, doc["interrupted"]) << log;
  EXPECT_GE(doc["sent"].get<uint64_t>(), 1u) << log;
  EXPECT_EQ(doc["received"], doc["rtt_us"]["count"]) << log;
  EXPECT_TRUE(contains(log, "interrupted")) << log;
}

TEST(CliOutput, an_interrupted_perf_prints_the_rows_that_completed) {
  BackgroundProcess perf({"perf", "--op", "write,read", "-s", "4K", "-D", "1", "--progress",
                          "--json"},
                         "interrupted_perf");
  // The progress line of the second operation: the first one's row is complete.
  ASSERT_TRUE(perf.wait_for("read bw 4 KiB", 1)) << perf.output();
  perf.signal(SIGINT);
  EXPECT_EQ(1, perf.wait_exit(std::chrono::seconds(20))) << perf.output();
  const std::string log = perf.output();
  const json doc = json_in(log);
  ASSERT_TRUE(doc.is_object()) << log;
  EXPECT_EQ(true, doc["interrupted"]) << log;
  ASSERT_GE(doc["results"].size(), 1u) << log;
  EXPECT_EQ("write", doc["results"][0]["name"]) << log;
  EXPECT_TRUE(doc["counters"].is_null()) << log;
}

// A ping-pong over tcp (consumer-side receive) is answered before its CQ wait ever looks at
// the stop: the test loop itself must see it (it ran on for the whole -D before).
TEST(CliOutput, an_interrupted_latency_test_stops_at_once) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  BackgroundProcess perf({"perf", "--uri", "tcp://127.0.0.1", "--op", "write", "-m", "lat", "-s",
                          "64", "-D", "60", "--progress"},
                         "interrupted_latency");
  ASSERT_TRUE(perf.wait_for("write lat", 5)) << perf.output();
  perf.signal(SIGINT);
  EXPECT_EQ(1, perf.wait_exit(std::chrono::seconds(10))) << perf.output();
  EXPECT_TRUE(contains(perf.output(), "interrupted")) << perf.output();
}

}  // namespace
