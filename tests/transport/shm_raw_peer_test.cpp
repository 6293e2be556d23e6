// The shm transport against a peer driven by hand (src/transport/shm's setup messages and
// segment, src/wire's headers): a peer that writes malformed ring records, impossible ring
// positions or an RDMA Write outside the region it was granted gets a Terminate, the queue pair
// flushes, the disconnect event fires, and no byte outside the grant changes. Also: URI options
// are checked, and an adapter that connected and closed leaves no descriptor behind.
#include <gtest/gtest.h>
#include <dirent.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "connection_helpers.h"
#include "transport/shm/shm_segment.h"
#include "transport/shm/shm_setup.h"
#include "wire/ddp.h"

namespace {

using namespace conntest;
namespace shm = softndk::transport::shm;
namespace wire = softndk::wire;
using softndk::transport::SockAddr;

constexpr ULONG kRemoteFlags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                               NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;
constexpr uint32_t kRing = 64 * 1024;

std::string fabric() { return "rawpeer-" + std::to_string(::getpid()); }
std::string uri() { return "shm://" + fabric(); }

bool wait_readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

// softndk listening; the raw peer connects to it by hand.
struct RawPeer {
  Incoming incoming;
  PdCqFixture node{uri()};
  NDK_QP* qp = nullptr;
  NDK_LISTENER* listener = nullptr;
  DisconnectEvents events;
  int fd = -1;
  int bell = -1;       // our doorbell (the provider writes it)
  int peer_bell = -1;  // the provider's
  shm::Segment segment;
  shm::Ring tx, rx;

  ~RawPeer() {
    for (int d : {fd, bell, peer_bell})
      if (d >= 0) ::close(d);
  }
  void connect() {
    ASSERT_TRUE(node.ok());
    qp = node.create_qp();
    ASSERT_NE(nullptr, qp);
    listener = node.create_listener(incoming);
    ASSERT_NE(nullptr, listener);
    ASSERT_NT(STATUS_SUCCESS, listen_on(listener, node.local()));
    sockaddr_storage a = listener_address(listener);
    SockAddr to;
    ASSERT_TRUE(to.assign(reinterpret_cast<sockaddr*>(&a), sizeof(sockaddr_in)));
    fd = shm::make_setup_socket();
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(shm::connect_abstract(fd, shm::endpoint_name(fabric(), to)));
    int memfd = segment.create(kRing);
    ASSERT_GE(memfd, 0);
    bell = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    shm::SetupMessage m{};
    m.magic = shm::kSetupMagic;
    m.version = shm::kSetupVersion;
    m.kind = static_cast<uint8_t>(shm::SetupKind::Request);
    m.inbound_read_limit = 4;
    m.outbound_read_limit = 4;
    m.ring_bytes = kRing;
    m.from = shm::to_wire(SockAddr::ipv4(INADDR_LOOPBACK, 40000));
    m.to = shm::to_wire(to);
    int fds[2] = {memfd, bell};
    ASSERT_TRUE(shm::send_setup(fd, m, fds));
    ::close(memfd);
    NDK_CONNECTOR* in = incoming.next();
    ASSERT_NE(nullptr, in);
    Op accept;
    start_accept(accept, in, qp, true, &events);
    ASSERT_TRUE(wait_readable(fd, 5000));
    int got[2] = {-1, -1};
    int count = 0;
    ASSERT_EQ(shm::RecvResult::Message, shm::receive_setup(fd, &m, got, &count));
    ASSERT_EQ(static_cast<uint8_t>(shm::SetupKind::Reply), m.kind);
    peer_bell = got[0];
    m.kind = static_cast<uint8_t>(shm::SetupKind::Ready);
    ASSERT_TRUE(shm::send_setup(fd, m, {}));
    ASSERT_NT(STATUS_SUCCESS, accept.result());
    tx.bind(segment, 0);
    rx.bind(segment, 1);
  }
  // Writes one record (header as given, however wrong) and rings the provider.
  void write_record(const shm::RecordHeader& record, std::span<const std::byte> rest,
                    uint64_t publish) {
    tx.write(0, {reinterpret_cast<const std::byte*>(&record), sizeof record});
    tx.write(sizeof record, rest);
    tx.publish(publish);
    ring();
  }
  void write_segment(const wire::UlpduHeader& h, std::span<const std::byte> payload) {
    std::array<std::byte, shm::kMaxRecordHeaderBytes> head;
    wire::EncodeResult e = wire::encode_ulpdu_header(h, head);
    ASSERT_TRUE(e.is_ok());
    std::vector<std::byte> rest(head.begin(), head.begin() + e.bytes_);
    rest.insert(rest.end(), payload.begin(), payload.end());
    shm::RecordHeader r{};
    r.kind = static_cast<uint8_t>(shm::RecordKind::Segment);
    r.header_bytes = static_cast<uint8_t>(e.bytes_);
    r.payload_bytes = static_cast<uint32_t>(payload.size());
    r.bytes = static_cast<uint32_t>(sizeof r + rest.size());
    write_record(r, rest, shm::align8(r.bytes));
  }
  void ring() {
    uint64_t one = 1;
    ASSERT_EQ(8, ::write(peer_bell, &one, 8));
  }
  // The provider's Terminate, read from its ring (bounded wait).
  std::optional<wire::TerminateMessage> read_terminate() {
    for (int i = 0; i < 500; ++i) {
      uint64_t n = 0;
      if (rx.available(&n) && n >= sizeof(shm::RecordHeader)) {
        shm::RecordHeader r;
        rx.read(0, {reinterpret_cast<std::byte*>(&r), sizeof r});
        std::array<std::byte, shm::kMaxRecordHeaderBytes> head;
        if (r.kind != static_cast<uint8_t>(shm::RecordKind::Segment) ||
            r.header_bytes > head.size())
          return std::nullopt;
        rx.read(sizeof r, {head.data(), r.header_bytes});
        auto d = wire::decode_ulpdu_header({head.data(), r.header_bytes},
                                           size_t{r.header_bytes} + r.payload_bytes);
        if (!d.is_complete() || d.value_.ddp_.opcode_ != wire::RdmapOpcode::Terminate)
          return std::nullopt;
        return d.value_.terminate_;
      }
      ::usleep(10000);
    }
    return std::nullopt;
  }
  // The setup socket hangs up (the provider closed the connection).
  bool hung_up() {
    for (int i = 0; i < 500; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 10) == 1) {
        char b[512];
        ssize_t n = ::recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (n == 0 || (p.revents & POLLHUP) != 0) return true;
      }
    }
    return false;
  }
  void expect_flush_and_disconnect(void* receive_context) {
    NDK_RESULT_EX result{};
    ASSERT_TRUE(node.cq.next(&result));
    EXPECT_NE(STATUS_SUCCESS, result.Status);
    EXPECT_EQ(receive_context, result.RequestContext);
    EXPECT_TRUE(wait_until([&] { return events.count.load() == 1; }));
  }
};

wire::UlpduHeader send_header(uint32_t msn) {
  wire::UlpduHeader h;
  h.ddp_ = wire::make_untagged_header(wire::RdmapOpcode::Send, true, msn, 0);
  return h;
}

TEST(ShmRawPeer, a_well_formed_send_is_received) {
  RawPeer p;
  ASSERT_NO_FATAL_FAILURE(p.connect());
  Region rx(p.node.pd, 4096, kRemoteFlags);
  ASSERT_NT(STATUS_SUCCESS, post_receive(p.qp, rx, 0, 4096, (void*)0x1));
  const char text[] = "hello over a hand-written ring";
  p.write_segment(send_header(1), {reinterpret_cast<const std::byte*>(text), sizeof text});
  NDK_RESULT_EX result{};
  ASSERT_TRUE(p.node.cq.next(&result));
  EXPECT_NT(STATUS_SUCCESS, result.Status);
  EXPECT_EQ(sizeof text, result.BytesTransferred);
  EXPECT_EQ(0, std::memcmp(rx.data(), text, sizeof text));
}

enum class Bad { RecordLength, Kind, DdpVersion, TailBeyondRing, HeaderTooLong };

class ShmMalformed : public ::testing::TestWithParam<Bad> {};

TEST_P(ShmMalformed, is_answered_with_a_terminate_and_the_queue_pair_flushes) {
  RawPeer p;
  ASSERT_NO_FATAL_FAILURE(p.connect());
  Region rx(p.node.pd, 4096, kRemoteFlags);
  ASSERT_NT(STATUS_SUCCESS, post_receive(p.qp, rx, 0, 4096, (void*)0x1));
  std::array<std::byte, shm::kMaxRecordHeaderBytes> head;
  wire::EncodeResult e = wire::encode_ulpdu_header(send_header(1), head);
  ASSERT_TRUE(e.is_ok());
  shm::RecordHeader r{};
  r.kind = static_cast<uint8_t>(shm::RecordKind::Segment);
  r.header_bytes = static_cast<uint8_t>(e.bytes_);
  r.payload_bytes = 8;
  r.bytes = static_cast<uint32_t>(sizeof r + e.bytes_ + 8);
  std::vector<std::byte> rest(head.begin(), head.begin() + e.bytes_);
  rest.resize(rest.size() + 8, std::byte{0x55});
  uint64_t publish = shm::align8(r.bytes);
  switch (GetParam()) {
    case Bad::RecordLength: r.bytes += 1000; break;
    case Bad::Kind: r.kind = 0x77; break;
    case Bad::DdpVersion: rest[1] = std::byte{0x40 | 0x2}; break;  // L=1, DDP version 2
    case Bad::TailBeyondRing: publish = kRing + 64; break;
    case Bad::HeaderTooLong:
      r.header_bytes = 200;
      r.bytes = static_cast<uint32_t>(sizeof r + 200 + 8);
      break;
  }
  p.write_record(r, rest, publish);
  auto terminate = p.read_terminate();
  ASSERT_TRUE(terminate.has_value());
  EXPECT_TRUE(p.hung_up());
  p.expect_flush_and_disconnect((void*)0x1);
  // The receive buffer got nothing of the malformed record.
  for (size_t i = 0; i < 4096; ++i) ASSERT_EQ(0, rx.data()[i]) << i;
}

INSTANTIATE_TEST_SUITE_P(Records, ShmMalformed,
                         ::testing::Values(Bad::RecordLength, Bad::Kind, Bad::DdpVersion,
                                           Bad::TailBeyondRing, Bad::HeaderTooLong),
                         [](const ::testing::TestParamInfo<Bad>& param) -> std::string {
                           switch (param.param) {
                             case Bad::RecordLength: return "record_length";
                             case Bad::Kind: return "unknown_kind";
                             case Bad::DdpVersion: return "ddp_version";
                             case Bad::TailBeyondRing: return "tail_beyond_ring";
                             case Bad::HeaderTooLong: return "header_too_long";
                           }
                           return "unknown";
                         });

// A peer can never write outside what it was granted: an RDMA Write that starts inside the
// region and runs past its end is refused before a byte lands (the receiving core's bounds
// check, RFC 5041 tagged buffer checks), the peer gets a DDP Terminate, the region is untouched.
TEST(ShmRawPeer, a_write_past_the_granted_region_is_terminated_and_touches_nothing) {
  RawPeer p;
  ASSERT_NO_FATAL_FAILURE(p.connect());
  Region rx(p.node.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  ASSERT_NT(STATUS_SUCCESS, post_receive(p.qp, rx, 0, 4096, (void*)0x1));
  Region target(p.node.pd, 4096, kRemoteFlags, 0xCD);
  wire::UlpduHeader h;
  h.ddp_ = wire::make_tagged_header(wire::RdmapOpcode::Write, true, target.remote_token(),
                                    target.address(4000));
  std::vector<std::byte> payload(200, std::byte{0xEE});
  p.write_segment(h, payload);
  auto terminate = p.read_terminate();
  ASSERT_TRUE(terminate.has_value());
  EXPECT_EQ(1, terminate->reason_.layer_);  // DDP
  EXPECT_TRUE(p.hung_up());
  p.expect_flush_and_disconnect((void*)0x1);
  for (size_t i = 0; i < 4096; ++i) ASSERT_EQ(0xCD, target.data()[i]) << i;
}

int open_descriptors() {
  int count = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (::readdir(dir) != nullptr) ++count;
  ::closedir(dir);
  return count;
}

TEST(ShmTransport, connected_adapters_leave_no_descriptor_behind_when_closed) {
  { ConnectedPairFixture warm(uri()); }  // first use of anything process-wide
  int before = open_descriptors();
  {
    ConnectedPairFixture pair(uri());
    ASSERT_TRUE(pair.connect());
    EXPECT_GT(open_descriptors(), before);
  }
  EXPECT_EQ(before, open_descriptors());
}

TEST(ShmTransport, uri_options_are_validated) {
  NDK_ADAPTER* a = nullptr;
  for (const char* bad : {"shm://", "shm://bad/name", "shm://x?ring_kib=100", "shm://x?ring_kib=8",
                          "shm://x?consumer_rx=2", "shm://x?addr=0.0.0.0",
                          "shm://x?ring_kib=64&segment_kib=32", "shm://x?disconnect_timeout_ms=1"}) {
    EXPECT_NT(STATUS_INVALID_PARAMETER, SoftNdkOpenAdapter(bad, &a)) << bad;
  }
  for (const char* good : {"shm://x", "shm://x?ring_kib=64&segment_kib=16&consumer_rx=0",
                           "shm://a.b-c_d?addr=127.0.0.2,::1"}) {
    ASSERT_NT(STATUS_SUCCESS, SoftNdkOpenAdapter(good, &a)) << good;
    SoftNdkCloseAdapter(a);
  }
}

}  // namespace
