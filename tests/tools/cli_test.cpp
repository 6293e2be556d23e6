// The softndk program as a user sees it: exit status (0 ok, 1 runtime failure, 2 usage error),
// text and JSON output with their documented fields (docs/cli.md), counters, the progress line
// and charts. Checks shapes and consistency, never timings. Over TCP too when it is built:
// in-process and as two processes (server and client), with rejection and refusal messages.
#include <unistd.h>

#include "cli_harness.h"

namespace {

using namespace softndk_cli_test;

void expect_latency_summary(const json& l, const std::string& where) {
  for (const char* key : {"count", "min", "avg", "stdev", "p50", "p99", "p99_9", "max"})
    EXPECT_TRUE(l.contains(key)) << where << ": " << key;
  EXPECT_LE(l["min"].get<double>(), l["p50"].get<double>()) << where;
  EXPECT_LE(l["p50"].get<double>(), l["p99"].get<double>()) << where;
  EXPECT_LE(l["p99"].get<double>(), l["p99_9"].get<double>()) << where;
  EXPECT_LE(l["p99_9"].get<double>(), l["max"].get<double>()) << where;
}

void expect_counters(const json& c, const std::string& where) {
  for (const char* key : {"Connects", "Accepts", "ConnectFailures", "ConnectionErrors",
                          "ActiveConnections", "CqErrors", "RdmaInOctets", "RdmaOutOctets",
                          "RdmaInFrames", "RdmaOutFrames"})
    EXPECT_TRUE(c.contains(key) && c[key].is_number_unsigned()) << where << ": " << key;
}

// ---------------------------------------------------------------------------------------------
// info

TEST(CliInfo, json_has_the_adapter_info_flags_counters_and_transports) {
  Result r = softndk({"info", "loopback", "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  EXPECT_EQ("loopback", doc["uri"]);
  EXPECT_EQ("loopback", doc["transport"]);
  EXPECT_EQ(true, doc["in_process"]);
  EXPECT_EQ("2.1", doc["version"]);
  EXPECT_EQ("undefined", doc["rdma_technology"]);
  const json& info = doc["adapter_info"];
  EXPECT_EQ(2, info["Version"]["Major"]);
  EXPECT_EQ(1, info["Version"]["Minor"]);
  for (const char* key :
       {"VendorId", "DeviceId", "MaxRegistrationSize", "MaxWindowSize", "FRMRPageCount",
        "MaxInitiatorRequestSge", "MaxReceiveRequestSge", "MaxReadRequestSge",
        "MaxTransferLength", "MaxInlineDataSize", "MaxInboundReadLimit", "MaxOutboundReadLimit",
        "MaxReceiveQueueDepth", "MaxInitiatorQueueDepth", "MaxSrqDepth", "MaxCqDepth",
        "LargeRequestThreshold", "MaxCallerData", "MaxCalleeData", "AdapterFlags",
        "RdmaTechnology"})
    EXPECT_TRUE(info.contains(key)) << key;
  EXPECT_GE(info["FRMRPageCount"].get<unsigned>(), 16u);
  const json& flags = doc["adapter_flags"];
  EXPECT_EQ(7u, flags.size());
  EXPECT_EQ(false, flags["IN_ORDER_DMA_SUPPORTED"]);
  EXPECT_EQ(true, flags["CQ_RESIZE_SUPPORTED"]);
  expect_counters(doc["counters"], "info");
  EXPECT_EQ(0u, doc["counters"]["Connects"]);
  EXPECT_EQ("available", doc["transports"]["loopback"]);
}

TEST(CliInfo, json_reflects_the_uri_options) {
  Result r = softndk({"info", "--uri", "loopback?max_cq_depth=1234&max_inline=100&cq_resize=0",
                   "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  EXPECT_EQ(1234u, doc["adapter_info"]["MaxCqDepth"]);
  EXPECT_EQ(100u, doc["adapter_info"]["MaxInlineDataSize"]);
  EXPECT_EQ(false, doc["adapter_flags"]["CQ_RESIZE_SUPPORTED"]);
  EXPECT_EQ(0u, doc["adapter_info"]["AdapterFlags"].get<unsigned>() & 0x100);
}

TEST(CliInfo, text_shows_fields_flags_and_counters) {
  Result r = softndk({"info"});
  EXPECT_RUN(0, r);
  for (const char* part : {"softndk adapter \"loopback\"", "NDKPI version            2.1",
                           "MaxCqDepth", "MaxInlineDataSize", "[x] CQ_RESIZE_SUPPORTED",
                           "[ ] IN_ORDER_DMA_SUPPORTED", "RdmaOutFrames", "loopback               available"})
    EXPECT_TRUE(contains(r.out, part)) << part << "\n" << r.out;
}

// The data path comes from the library (SoftNdkQueryAdapterTransport), per transport: shm moves
// data through its ring only (no cross-memory attach yet), loopback copies once in-process. shm
// is built on every Linux build, so its probe must find it.
TEST(CliInfo, shows_the_data_path_of_the_transport) {
  Result r = softndk({"info", "--uri", "loopback", "--json"});
  EXPECT_RUN(0, r);
  EXPECT_EQ(0u, parse(r)["data_path"].get<std::string>().rfind("direct (one copy:", 0))
      << r.out;
  EXPECT_EQ("available", parse(r)["transports"]["shm"]) << r.out;
  const std::string uri = "shm://cli-info-" + std::to_string(getpid());
  r = softndk({"info", "--uri", uri, "--json"});
  EXPECT_RUN(0, r);
  const std::string path = parse(r)["data_path"].get<std::string>();
  EXPECT_EQ(0u, path.rfind("ring (two copies: the sender into the connection's shared-memory "
                           "ring, the receiver out of it",
                           0))
      << path;
  EXPECT_TRUE(contains(path, "no cross-memory attach")) << path;
  r = softndk({"info", "--uri", uri});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "  data path                ring (two copies: ")) << r.out;
}

TEST(CliInfo, a_bad_uri_fails_with_the_status_named) {
  Result r = softndk({"info", "bogus://x"});
  EXPECT_RUN(1, r);
  EXPECT_TRUE(contains(r.err, "STATUS_NOT_SUPPORTED")) << r.err;
  EXPECT_TRUE(contains(r.err, "bogus://x")) << r.err;
  r = softndk({"info", "loopback?no_such_option=1"});
  EXPECT_RUN(1, r);
  EXPECT_TRUE(contains(r.err, "STATUS_INVALID_PARAMETER")) << r.err;
  r = softndk({"info", "loopback?max_cq_depth=0"});
  EXPECT_RUN(1, r);
  EXPECT_TRUE(contains(r.err, "STATUS_INVALID_PARAMETER")) << r.err;
}

// ---------------------------------------------------------------------------------------------
// ping

TEST(CliPing, in_process_prints_each_reply_and_the_percentiles) {
  Result r = softndk({"ping", "-c", "3", "-i", "0"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "over loopback (both ends in this process)")) << r.out;
  EXPECT_TRUE(contains(r.out, "connected in")) << r.out;
  EXPECT_TRUE(contains(r.out, "64 bytes from 127.0.0.1:")) << r.out;
  for (const char* seq : {"seq=1 time=", "seq=2 time=", "seq=3 time="})
    EXPECT_TRUE(contains(r.out, seq)) << seq << "\n" << r.out;
  EXPECT_TRUE(contains(r.out, "3 sent, 3 received, 0% lost")) << r.out;
  EXPECT_TRUE(contains(r.out, "rtt min/avg/p50/p99/p99.9/max = ")) << r.out;
}

TEST(CliPing, json_has_counts_and_round_trip_percentiles) {
  Result r = softndk({"ping", "-c", "5", "-i", "0", "-s", "1K", "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  EXPECT_EQ("ping", doc["command"]);
  EXPECT_EQ(true, doc["in_process"]);
  EXPECT_EQ(1024u, doc["bytes"]);
  EXPECT_EQ(5u, doc["sent"]);
  EXPECT_EQ(5u, doc["received"]);
  EXPECT_GT(doc["connect_ms"].get<double>(), 0.0);
  expect_latency_summary(doc["rtt_us"], "ping");
  EXPECT_EQ(5u, doc["rtt_us"]["count"]);
}

TEST(CliPing, notification_mode_and_pending_completions_work_too) {
  Result r = softndk({"ping", "-c", "3", "-i", "0", "-e", "--uri", "loopback?pending=always",
                   "--json"});
  EXPECT_RUN(0, r);
  EXPECT_EQ(3u, parse(r)["received"]);
}

TEST(CliPing, two_processes_over_loopback_is_a_usage_error_that_explains_why) {
  Result r = softndk({"ping", "--server", "--uri", "loopback"});
  EXPECT_RUN(2, r);
  EXPECT_TRUE(contains(r.err, "in-process fabric")) << r.err;
  EXPECT_TRUE(contains(r.err, "--uri")) << r.err;
  r = softndk({"ping", "127.0.0.1", "--uri", "loopback"});
  EXPECT_RUN(2, r);
  EXPECT_TRUE(contains(r.err, "in-process fabric")) << r.err;
  r = softndk({"perf", "--server", "--uri", "loopback"});
  EXPECT_RUN(2, r);
}

// ---------------------------------------------------------------------------------------------
// perf

TEST(CliPerf, write_json_has_the_documented_fields) {
  Result r = softndk({"perf", "--op", "write", "--size", "4096", "--iters", "100", "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  EXPECT_EQ("perf", doc["command"]);
  EXPECT_EQ("loopback", doc["uri"]);
  EXPECT_EQ(true, doc["in_process"]);
  EXPECT_TRUE(doc["server"].is_string());
  const json& s = doc["settings"];
  EXPECT_EQ("bw", s["mode"]);
  EXPECT_EQ(1u, s["qps"]);
  EXPECT_EQ(128u, s["depth"]);
  EXPECT_EQ(0u, s["inline"]);
  EXPECT_EQ(1u, s["sge"]);
  EXPECT_EQ("n/a", s["crc"]);
  EXPECT_EQ("n/a", s["crc_requested"]["client"]);
  EXPECT_EQ("n/a", s["crc_requested"]["server"]);
  EXPECT_EQ("polling", s["completions"]);
  EXPECT_EQ(1u, s["cq_mod"]);
  EXPECT_EQ(100u, s["iterations"]);
  EXPECT_TRUE(s["duration_s"].is_null());
  ASSERT_EQ(1u, doc["results"].size());
  const json& m = doc["results"][0];
  EXPECT_EQ("write", m["op"]);
  EXPECT_EQ("write", m["name"]);
  EXPECT_EQ("bw", m["mode"]);
  EXPECT_EQ(4096u, m["bytes"]);
  EXPECT_EQ(100u, m["iterations"]);
  EXPECT_GT(m["seconds"].get<double>(), 0.0);
  EXPECT_GT(m["ops_per_second"].get<double>(), 0.0);
  EXPECT_GT(m["mb_per_second"].get<double>(), 0.0);
  EXPECT_NEAR(m["gbit_per_second"].get<double>(), m["mb_per_second"].get<double>() * 8 / 1000,
              1e-6 * m["mb_per_second"].get<double>());
  EXPECT_EQ("completion", m["latency_kind"]);
  expect_latency_summary(m["latency_us"], "write");
  EXPECT_EQ(100u, m["latency_us"]["count"]);
  EXPECT_EQ("notifications", m["server_completions"]);  // nothing to do: the server sleeps
  EXPECT_TRUE(m["server_cq_notifications"].is_number_unsigned());
  const json& c = doc["counters"];
  expect_counters(c["client"], "client");
  expect_counters(c["server"], "server");
  EXPECT_EQ(2u, c["client"]["Connects"]);  // control + one data connection
  EXPECT_EQ(2u, c["server"]["Accepts"]);
  EXPECT_EQ(2u, c["client"]["ActiveConnections"]);
  EXPECT_GE(c["client"]["RdmaOutOctets"].get<uint64_t>(), 100u * 4096);
  EXPECT_GE(c["server"]["RdmaInOctets"].get<uint64_t>(), 100u * 4096);
}

// The server sleeps on a CQ notification through tests in which it has nothing to do (RDMA
// write and read streams, read latency, memory operations) and keeps the client's way of
// waiting where it answers (send streams: credits; write and send latency: replies).
TEST(CliPerf, the_server_waits_on_notifications_only_when_it_has_nothing_to_do) {
  Result r = softndk({"perf", "--op", "write,read,send,reg", "-s", "4K", "-n", "100", "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  std::vector<std::string> waits;
  for (const json& m : doc["results"])
    waits.push_back(m["name"].get<std::string>() + ":" + m["server_completions"].get<std::string>());
  EXPECT_EQ((std::vector<std::string>{"write:notifications", "read:notifications", "send:polling",
                                      "reg:notifications", "dereg:notifications"}),
            waits);
  r = softndk({"perf", "--op", "all", "-m", "lat", "-s", "8", "-n", "20", "--json"});
  EXPECT_RUN(0, r);
  doc = parse(r);
  waits.clear();
  for (const json& m : doc["results"])
    waits.push_back(m["name"].get<std::string>() + ":" + m["server_completions"].get<std::string>());
  EXPECT_EQ((std::vector<std::string>{"send:polling", "write:polling", "read:notifications"}),
            waits);
  // With --events the server follows the client everywhere.
  r = softndk({"perf", "--op", "send", "-e", "-s", "4K", "-n", "100", "--json"});
  EXPECT_RUN(0, r);
  EXPECT_EQ("notifications", parse(r)["results"][0]["server_completions"]);
}

TEST(CliPerf, latency_of_every_data_operation) {
  Result r = softndk({"perf", "--op", "all", "-m", "lat", "-s", "8,4K", "-n", "50", "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  ASSERT_EQ(6u, doc["results"].size());
  std::vector<std::string> kinds;
  for (const json& m : doc["results"]) {
    EXPECT_EQ("lat", m["mode"]);
    EXPECT_EQ(50u, m["iterations"]);
    EXPECT_EQ(50u, m["latency_us"]["count"]);
    expect_latency_summary(m["latency_us"], m["name"]);
    kinds.push_back(m["op"].get<std::string>() + ":" + m["latency_kind"].get<std::string>());
  }
  EXPECT_EQ((std::vector<std::string>{"send:one_way", "send:one_way", "write:one_way",
                                      "write:one_way", "read:round_trip", "read:round_trip"}),
            kinds);
}

TEST(CliPerf, memory_operations_report_rate_and_percentiles_without_bandwidth) {
  Result r = softndk({"perf", "--op", "mem", "-n", "50", "-s", "4K", "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  std::vector<std::string> names;
  for (const json& m : doc["results"]) {
    names.push_back(m["name"]);
    EXPECT_TRUE(m["mb_per_second"].is_null()) << m["name"];
    EXPECT_GT(m["ops_per_second"].get<double>(), 0.0) << m["name"];
    EXPECT_EQ(50u, m["iterations"]) << m["name"];
    EXPECT_EQ(50u, m["latency_us"]["count"]) << m["name"];
  }
  EXPECT_EQ((std::vector<std::string>{"reg", "dereg", "fastreg", "invalidate-mr", "bind",
                                      "invalidate-mw", "sendinv"}),
            names);
  r = softndk({"perf", "--op", "fastreg,bind", "-m", "lat", "-n", "20", "-s", "64K", "--json"});
  EXPECT_RUN(0, r);
  EXPECT_EQ(4u, parse(r)["results"].size());
}

TEST(CliPerf, text_tables_and_counters) {
  Result r = softndk({"perf", "--op", "send", "-m", "rate", "-n", "1000", "-q", "2"});
  EXPECT_RUN(0, r);
  for (const char* part : {"softndk perf over loopback", "data QPs 2", "Send message rate",
                           "MsgRate[Mmsg/s]", "p99.9[us]", "1000 iterations per size",
                           "adapter counters", "RdmaOutFrames", "latency: from posting"})
    EXPECT_TRUE(contains(r.out, part)) << part << "\n" << r.out;
  r = softndk({"perf", "--op", "reg", "-n", "10"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "Register/Deregister MR")) << r.out;
  EXPECT_TRUE(contains(r.out, " dereg ")) << r.out;
}

TEST(CliPerf, duration_mode_still_reports_percentiles) {
  Result r = softndk({"perf", "--op", "write", "-s", "64", "-D", "0.3", "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  EXPECT_TRUE(doc["settings"]["iterations"].is_null());
  EXPECT_DOUBLE_EQ(0.3, doc["settings"]["duration_s"].get<double>());
  const json& m = doc["results"][0];
  EXPECT_GT(m["iterations"].get<uint64_t>(), 0u);
  EXPECT_EQ(m["iterations"], m["latency_us"]["count"]);
  expect_latency_summary(m["latency_us"], "duration");
}

TEST(CliPerf, notifications_qps_sges_inline_and_cq_moderation) {
  Result r = softndk({"perf", "--op", "send,write,read", "-e", "-q", "3", "-S", "4", "-I", "64",
                   "-s", "64,1000", "-Q", "8", "-t", "32", "-n", "400", "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  EXPECT_EQ("notifications", doc["settings"]["completions"]);
  EXPECT_EQ(3u, doc["settings"]["qps"]);
  ASSERT_EQ(6u, doc["results"].size());
  for (const json& m : doc["results"]) {
    EXPECT_EQ(400u, m["iterations"]) << m["name"];
    EXPECT_EQ(50u, m["latency_us"]["count"]) << m["name"];  // one signaled per 8
    expect_latency_summary(m["latency_us"], m["name"]);
    EXPECT_EQ("notifications", m["server_completions"]) << m["name"];
  }
  EXPECT_EQ(4u, doc["counters"]["client"]["Connects"]);
}

TEST(CliPerf, progress_line_on_request) {
  Result r = softndk({"perf", "--op", "write", "-s", "64K", "-D", "1.2", "--progress"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.err, "\r  write bw 64 KiB: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "MB/s")) << r.err;
  r = softndk({"perf", "--op", "write", "-s", "64K", "-D", "1.2"});  // stdout is not a terminal
  EXPECT_RUN(0, r);
  EXPECT_FALSE(contains(r.err, "\r")) << r.err;
}

TEST(CliPerf, plot_draws_a_chart_with_gnuplot) {
  if (system("command -v gnuplot >/dev/null 2>&1") != 0) GTEST_SKIP() << "gnuplot not installed";
  const std::string chart = temp_path("chart.svg");
  Result r = softndk({"perf", "--op", "write,reg", "-s", "64,4K", "-n", "50", "--plot", chart});
  EXPECT_RUN(0, r);
  std::string svg = read_file(chart);
  EXPECT_TRUE(contains(svg, "<svg")) << svg.substr(0, 200);
  std::string script = read_file(chart + ".gp");
  EXPECT_TRUE(contains(script, "bandwidth [MB/s]")) << script;
  EXPECT_TRUE(contains(script, "'reg p50'")) << script;
  EXPECT_TRUE(contains(script, "set logscale x 2")) << script;  // 64 B does not sit on zero
  std::remove(chart.c_str());
  std::remove((chart + ".gp").c_str());
}

TEST(CliPerf, usage_errors_exit_2) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"nope"},
      {"perf", "--no-such-flag"},
      {"perf", "--mode", "fast"},
      {"perf", "--op", "jump"},
      {"perf", "--size", "0"},
      {"perf", "--size", "12Q"},
      {"perf", "-s", "64", "-a"},
      {"perf", "-n", "5", "-D", "1"},
      {"perf", "-D", "0"},
      {"perf", "--iters", "0"},
      {"perf", "--qps", "0"},
      {"perf", "--qps", "65"},
      {"perf", "--cq-mod", "300"},
      {"perf", "--sge", "0"},
      {"perf", "--crc", "maybe"},
      {"perf", "--plot", "chart.txt"},
      {"perf", "--port", "70000"},
      {"ping", "--size", "8"},
      {"ping", "--count", "0"},
      {"ping", "--interval", "20"},
      {"ping", "not-an-address", "--uri", "tcp://127.0.0.1"},
  };
  for (const auto& args : cases) {
    Result r = softndk(args);
    std::string line;
    for (const std::string& a : args) line += a + " ";
    EXPECT_EQ(2, r.status) << "softndk " << line << "\n" << r.out << r.err;
    EXPECT_FALSE(r.err.empty()) << "softndk " << line;
  }
}

TEST(CliPerf, help_exits_0) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"perf", "--help"}, {"ping", "--help"}, {"info", "--help"}}) {
    Result r = softndk(args);
    EXPECT_RUN(0, r);
    EXPECT_TRUE(contains(r.out, "Usage")) << r.out;
  }
}

TEST(CliPerf, runtime_failures_exit_1_naming_the_status) {
  Result r = softndk({"perf", "--uri", "loopback?max_inline=16", "-I", "64", "-n", "10"});
  EXPECT_RUN(1, r);
  EXPECT_TRUE(contains(r.err, "MaxInlineDataSize")) << r.err;
  r = softndk({"perf", "--uri", "nothing", "-n", "10"});
  EXPECT_RUN(1, r);
  EXPECT_TRUE(contains(r.err, "STATUS_NOT_SUPPORTED")) << r.err;
}

// ---------------------------------------------------------------------------------------------
// TCP, when this libsoftndk has it: in-process, and server + client as two processes

TEST(CliTcp, in_process_ping_and_perf) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  Result r = softndk({"ping", "--uri", "tcp://127.0.0.1", "-c", "2", "-i", "0", "--json"});
  EXPECT_RUN(0, r);
  EXPECT_EQ(2u, parse(r)["received"]);
  r = softndk({"perf", "--uri", "tcp://127.0.0.1", "--op", "send,write,read", "-s", "4K", "-n",
               "100", "--crc", "off", "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  EXPECT_EQ("off", doc["settings"]["crc"]);  // the in-process server uses the client's URI
  EXPECT_EQ("off", doc["settings"]["crc_requested"]["server"]);
  EXPECT_EQ(3u, doc["results"].size());
  // --crc against the URI's own crc= is a usage error (the adapter takes a key once).
  r = softndk({"perf", "--uri", "tcp://127.0.0.1?crc=1", "--crc", "off", "-n", "10"});
  EXPECT_RUN(2, r);
  EXPECT_TRUE(contains(r.err, "contradicts crc=1")) << r.err;
}

// MPA uses CRC when either side asks (RFC 5044): a server started without --crc does not ask,
// so the client's choice decides, and the client reports what the connections use.
TEST(CliTcp, the_client_choice_of_crc_decides_against_a_default_server) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  const uint16_t port = free_tcp_port();
  ServerProcess server("tcp://127.0.0.1", port);
  ASSERT_TRUE(server.listening()) << server.output();
  EXPECT_TRUE(contains(server.output(), "MPA CRC: not requested")) << server.output();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Result r = softndk({"perf", address, "--uri", "tcp://127.0.0.1", "--crc", "off", "--op",
                      "write", "-s", "4K", "-n", "100", "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  EXPECT_EQ("off", doc["settings"]["crc"]);
  EXPECT_EQ("off", doc["settings"]["crc_requested"]["client"]);
  EXPECT_EQ("off", doc["settings"]["crc_requested"]["server"]);
  EXPECT_FALSE(contains(r.err, "warning")) << r.err;
  EXPECT_EQ("notifications", doc["results"][0]["server_completions"]);
  r = softndk({"perf", address, "--uri", "tcp://127.0.0.1", "--op", "write", "-s", "4K", "-n",
               "100", "--json"});  // the client's transport default: CRC
  EXPECT_RUN(0, r);
  doc = parse(r);
  EXPECT_EQ("on", doc["settings"]["crc"]);
  EXPECT_EQ("on", doc["settings"]["crc_requested"]["client"]);
  EXPECT_EQ("off", doc["settings"]["crc_requested"]["server"]);
  r = softndk({"perf", address, "--uri", "tcp://127.0.0.1", "--crc", "on", "--op", "send", "-s",
               "4K", "-n", "100", "--json"});
  EXPECT_RUN(0, r);
  doc = parse(r);
  EXPECT_EQ("on", doc["settings"]["crc"]);
  EXPECT_EQ("polling", doc["results"][0]["server_completions"]);
  EXPECT_TRUE(server.wait_for(" ended: ", 3)) << server.output();
  EXPECT_EQ(0, server.stop()) << server.output();
  // The server's log says how it waited: the write tests on notifications, the send test not.
  const std::string log = server.output();
  EXPECT_TRUE(contains(log, "ended: 1 test(s), 1 of them waited on CQ notifications")) << log;
  EXPECT_TRUE(contains(log, "ended: 1 test(s), 0 of them waited on CQ notifications")) << log;
}

TEST(CliTcp, a_server_that_requests_crc_overrides_the_client_and_the_client_says_so) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  const uint16_t port = free_tcp_port();
  ServerProcess server("tcp://127.0.0.1", port, {"--crc", "on"});
  ASSERT_TRUE(server.listening()) << server.output();
  EXPECT_TRUE(contains(server.output(), "MPA CRC: requested")) << server.output();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Result r = softndk({"perf", address, "--uri", "tcp://127.0.0.1", "--crc", "off", "--op",
                      "write", "-s", "4K", "-n", "100", "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  EXPECT_EQ("on", doc["settings"]["crc"]);
  EXPECT_EQ("off", doc["settings"]["crc_requested"]["client"]);
  EXPECT_EQ("on", doc["settings"]["crc_requested"]["server"]);
  EXPECT_TRUE(contains(r.err, "warning: --crc off is not in effect")) << r.err;
  r = softndk({"perf", address, "--uri", "tcp://127.0.0.1", "--crc", "off", "--op", "write",
               "-s", "4K", "-n", "100"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "CRC on (asked off; the server requests CRC)")) << r.out;
}

TEST(CliTcp, server_and_client_in_two_processes) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  const uint16_t port = free_tcp_port();
  ServerProcess server("tcp://127.0.0.1", port);
  ASSERT_TRUE(server.listening()) << server.output();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Result r = softndk({"ping", address, "--uri", "tcp://127.0.0.1", "-c", "2", "-i", "0"});
  EXPECT_RUN(0, r);
  EXPECT_TRUE(contains(r.out, "2 sent, 2 received")) << r.out;
  r = softndk({"perf", address, "--uri", "tcp://127.0.0.1", "--op", "write,sendinv", "-m", "lat",
               "-n", "50", "--json"});
  EXPECT_RUN(0, r);
  json doc = parse(r);
  EXPECT_EQ(false, doc["in_process"]);
  EXPECT_EQ(2u, doc["results"].size());
  EXPECT_GE(doc["counters"]["server"]["Accepts"].get<uint64_t>(), 4u);  // ping's and perf's
  EXPECT_EQ(0, server.stop()) << server.output();
  EXPECT_TRUE(contains(server.output(), "session 2 from 127.0.0.1:")) << server.output();
}

TEST(CliTcp, a_server_that_cannot_serve_rejects_with_its_reason) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  const uint16_t port = free_tcp_port();
  ServerProcess server("tcp://127.0.0.1?max_qp_depth=64", port);
  ASSERT_TRUE(server.listening()) << server.output();
  Result r = softndk({"perf", "127.0.0.1:" + std::to_string(port), "--uri", "tcp://127.0.0.1",
                   "--op", "write", "-n", "10"});
  EXPECT_RUN(1, r);
  EXPECT_TRUE(contains(r.err, "rejected by the server")) << r.err;
  EXPECT_TRUE(contains(r.err, "MaxReceiveQueueDepth (64)")) << r.err;
}

TEST(CliTcp, nothing_listening_is_refused) {
  if (!tcp_available()) GTEST_SKIP() << "no tcp transport in this libsoftndk";
  Result r = softndk({"ping", "127.0.0.1:" + std::to_string(free_tcp_port()), "--uri",
                   "tcp://127.0.0.1", "-c", "1"});
  EXPECT_RUN(1, r);
  EXPECT_TRUE(contains(r.err, "refused: nothing listens there")) << r.err;
  EXPECT_TRUE(contains(r.err, "STATUS_CONNECTION_REFUSED")) << r.err;
}

}  // namespace
