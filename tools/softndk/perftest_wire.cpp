// perftest.h's message codec and report lines: byte layouts as captured from perftest 6.06
// (docs/interop.md), every integer big-endian.
#include <bit>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "perftest.h"

namespace softndk::cli::perftest {

namespace {

void put_be(std::byte* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out[i] = static_cast<std::byte>(value >> (8 * (bytes - 1 - i)));
}

uint64_t get_be(const std::byte* in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | std::to_integer<uint64_t>(in[i]);
  return value;
}

uint64_t checked_be(const std::vector<std::byte>& message, size_t bytes) {
  return message.size() >= bytes ? get_be(message.data(), static_cast<int>(bytes)) : 0;
}

}  // namespace

const char* test_name(Test test) {
  switch (test) {
    case Test::Send: return "send";
    case Test::Write: return "write";
    case Test::Read: return "read";
  }
  return "?";
}

int dest_rounds(Test test, bool lat) {
  if (lat) return 4;
  return test == Test::Send ? 4 : 3;
}

int lat_syncs_after(Test test) { return test == Test::Write ? 0 : 1; }

DestMessage encode(const Dest& d) {
  DestMessage m{};
  put_be(&m[0], d.lid, 4);
  put_be(&m[4], d.out_reads, 4);
  put_be(&m[8], d.qpn, 4);
  put_be(&m[12], d.psn, 4);
  put_be(&m[16], d.rkey, 4);
  // [20, 24): the C struct's padding, left zero.
  put_be(&m[24], d.address, 8);
  std::memcpy(&m[32], d.gid.data(), d.gid.size());
  put_be(&m[48], d.srqn, 4);
  put_be(&m[52], d.gid_index, 4);
  return m;
}

Dest decode(const DestMessage& m) {
  Dest d;
  d.lid = static_cast<uint32_t>(get_be(&m[0], 4));
  d.out_reads = static_cast<uint32_t>(get_be(&m[4], 4));
  d.qpn = static_cast<uint32_t>(get_be(&m[8], 4));
  d.psn = static_cast<uint32_t>(get_be(&m[12], 4));
  d.rkey = static_cast<uint32_t>(get_be(&m[16], 4));
  d.address = get_be(&m[24], 8);
  std::memcpy(d.gid.data(), &m[32], d.gid.size());
  d.srqn = static_cast<uint32_t>(get_be(&m[48], 4));
  d.gid_index = static_cast<uint32_t>(get_be(&m[52], 4));
  return d;
}

std::vector<std::byte> version_message(const char* version) {
  std::vector<std::byte> m(kVersionBytes);
  for (size_t i = 0; i + 1 < kVersionBytes && version[i] != '\0'; ++i)
    m[i] = static_cast<std::byte>(version[i]);
  return m;
}

std::vector<std::byte> be32_message(uint32_t value) {
  std::vector<std::byte> m(4);
  put_be(m.data(), value, 4);
  return m;
}

std::vector<std::byte> mtu_message() { return {std::byte{'3'}, std::byte{0}}; }

std::vector<std::byte> be64_message(uint64_t value) {
  std::vector<std::byte> m(8);
  put_be(m.data(), value, 8);
  return m;
}

std::vector<std::byte> double_message(double value) {
  return be64_message(std::bit_cast<uint64_t>(value));
}

uint32_t be32_of(const std::vector<std::byte>& m) { return static_cast<uint32_t>(checked_be(m, 4)); }
uint64_t be64_of(const std::vector<std::byte>& m) { return checked_be(m, 8); }
double double_of(const std::vector<std::byte>& m) { return std::bit_cast<double>(be64_of(m)); }

std::string version_text(const std::vector<std::byte>& m) {
  std::string text;
  for (std::byte b : m) {
    if (b == std::byte{0}) break;
    const auto c = std::to_integer<unsigned char>(b);
    text += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  return text;
}

double version_value(const std::string& text) { return std::strtod(text.c_str(), nullptr); }

std::string report_header() {
  return " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]";
}

std::string report_line(const Report& r) {
  char line[160];
  std::snprintf(line, sizeof line, " %-10" PRIu64 " %-10" PRIu64 "       %-10.2f         %-10.2f"
                "           %-.6f",
                r.size, r.iterations, r.peak_mb_s, r.average_mb_s, r.message_rate_mpps);
  return line;
}

std::string latency_header() {
  return " #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    "
         "t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec]";
}

std::string latency_line(const LatencyReport& r) {
  char line[200];
  std::snprintf(line, sizeof line,
                " %-7" PRIu64 " %-10" PRIu64 "   %-7.2f        %-7.2f      %-7.2f          %-7.2f"
                "        %-7.2f         %-7.2f                %-7.2f",
                r.size, r.iterations, r.t_min, r.t_max, r.t_typical, r.t_avg, r.t_stdev, r.p99,
                r.p999);
  return line;
}

}  // namespace softndk::cli::perftest
