// Connection establishment and teardown (Microsoft's NDKPI reference):
// the three-leg handshake with every callback flavour, private data and the RDS algorithm,
// read-limit negotiation, connector addresses, connect failures, establishment failures,
// disconnect and the disconnect event, connector/QP lifetime.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "connection_helpers.h"

namespace {
using namespace conntest;

class ConnectionLifecycle : public ::testing::TestWithParam<std::string> {
 protected:
  std::string uri(const std::string& option = "") const {
    return option.empty() ? GetParam() : with_option(GetParam(), option);
  }
};

// ---------------------------------------------------------------------------------------------
// Handshake

// Full handshake with the given callback flavours; the QPs carry data both ways; then one side
// disconnects and the other side's registered flavour fires exactly once.
void handshake_variant(const std::string& uri, bool complete_ex, bool accept_ex,
                       bool active_disconnects) {
  DisconnectEvents aev, pev;  // outlive the rig
  ConnectedPairFixture rig(uri, uri);
  NDK_QP* aqp = rig.active.create_qp();
  NDK_QP* pqp = rig.passive.create_qp();
  HandshakeSpec spec;
  spec.complete_ex = complete_ex;
  spec.accept_ex = accept_ex;
  spec.active_events = &aev;
  spec.passive_events = &pev;
  spec.check_order = true;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp, pqp));
  ASSERT_NO_FATAL_FAILURE(ping(rig.active, aqp, rig.passive, pqp, 0xA1));
  ASSERT_NO_FATAL_FAILURE(ping(rig.passive, pqp, rig.active, aqp, 0xB2, 300));

  NDK_CONNECTOR* disconnecting = active_disconnects ? e.active : e.passive;
  DisconnectEvents& peer_events = active_disconnects ? pev : aev;
  DisconnectEvents& own_events = active_disconnects ? aev : pev;
  bool peer_ex = active_disconnects ? accept_ex : complete_ex;
  EXPECT_NT(STATUS_SUCCESS, disconnect(disconnecting));
  EXPECT_TRUE(wait_until([&] { return peer_events.count.load() >= 1; }));
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(1, peer_events.count.load());
  EXPECT_EQ(0, own_events.count.load());
  if (peer_ex) {
    EXPECT_NE(0u, peer_events.reason.load()) << "the _EX event should carry a reason";
  } else {
    EXPECT_EQ(0u, peer_events.reason.load()) << "the plain callback was registered";
  }
}

TEST_P(ConnectionLifecycle, handshake_plain_complete_connect_with_plain_accept_connects_qps) {
  handshake_variant(GetParam(), false, false, true);
}

TEST_P(ConnectionLifecycle, handshake_complete_connect_ex_with_accept_ex_connects_qps) {
  handshake_variant(GetParam(), true, true, false);
}

TEST_P(ConnectionLifecycle, handshake_complete_connect_ex_pairs_with_plain_accept) {
  handshake_variant(GetParam(), true, false, true);
}

TEST_P(ConnectionLifecycle, handshake_plain_complete_connect_pairs_with_accept_ex) {
  handshake_variant(GetParam(), false, true, false);
}

TEST_P(ConnectionLifecycle, handshake_between_listener_and_connector_of_one_adapter) {
  Incoming incoming;
  PdCqFixture n(GetParam());
  ASSERT_TRUE(n.ok());
  NDK_LISTENER* listener = n.create_listener(incoming);
  ASSERT_NE(nullptr, listener);
  ASSERT_NT(STATUS_SUCCESS, listen_on(listener, n.local()));
  sockaddr_storage dest = listener_address(listener);
  NDK_QP* q1 = n.create_qp();
  NDK_QP* q2 = n.create_qp();
  HandshakeSpec spec;
  spec.check_order = true;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(n, q1, n, q2, incoming, dest, spec, &e));
  ASSERT_NO_FATAL_FAILURE(ping(n, q1, n, q2, 0x3C));
  ASSERT_NO_FATAL_FAILURE(ping(n, q2, n, q1, 0x4D));
}

// ---------------------------------------------------------------------------------------------
// Private data (2.11.6, 6 item 25)

// Private data of `bytes` bytes sent by one side (the connect's when `from_active`, else the
// accept's) reaches the other padded with zeros to `max`, that side's RDS (MaxCallerData on the
// passive side, MaxCalleeData on the active one): read there, before the accept or after the
// connect completed, into a buffer 16 bytes longer than RDS, of which exactly RDS are written.
void padded_private_data_case(const std::string& uri, bool from_active, size_t bytes,
                              uint8_t seed) {
  ConnectedPairFixture rig(uri, uri);
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  const ULONG max =
      from_active ? rig.passive.info().MaxCallerData : rig.active.info().MaxCalleeData;
  ASSERT_GE(max, static_cast<ULONG>(bytes));
  std::vector<uint8_t> data = pattern_bytes(bytes, seed);
  HandshakeSpec spec;
  (from_active ? spec.connect_data : spec.accept_data) = data;
  NTSTATUS query = kNoCompletion, copy = kNoCompletion;
  ULONG rds = 0, copied_length = 0;
  std::vector<uint8_t> got;
  auto read = [&](NDK_CONNECTOR* c) {
    ULONG length = 0;
    query = c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, nullptr, &length);
    rds = length;
    got.assign(length + 16, 0xEE);
    copied_length = length + 16;  // larger than RDS: exactly RDS bytes are written
    copy = c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, got.data(), &copied_length);
  };
  (from_active ? spec.on_incoming : spec.on_replied) = read;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
  EXPECT_NT(STATUS_SUCCESS, query);
  EXPECT_EQ(max, rds) << (from_active ? "RDS on the passive side is MaxCallerData"
                                      : "RDS on the active side is MaxCalleeData");
  EXPECT_NT(STATUS_SUCCESS, copy);
  EXPECT_EQ(max, copied_length);
  ASSERT_EQ(max + 16, got.size());
  for (size_t i = 0; i < data.size(); ++i) EXPECT_EQ(data[i], got[i]) << "byte " << i;
  for (size_t i = data.size(); i < max; ++i) EXPECT_EQ(0, got[i]) << "padding byte " << i;
  for (size_t i = max; i < got.size(); ++i) EXPECT_EQ(0xEE, got[i]) << "beyond RDS " << i;
}

TEST_P(ConnectionLifecycle, connect_private_data_reaches_listener_side_padded_to_max_caller_data) {
  padded_private_data_case(GetParam(), true, 20, 0x10);
}

TEST_P(ConnectionLifecycle, accept_private_data_reaches_connector_side_padded_to_max_callee_data) {
  padded_private_data_case(GetParam(), false, 33, 0x60);
}

// Short buffer: the prefix is copied, RDS is stored, STATUS_BUFFER_TOO_SMALL; bytes past the
// given length are untouched. Checked on both sides, with a buffer shorter than the data and
// one longer than the data but shorter than RDS (padding zeros are part of the copy).
TEST_P(ConnectionLifecycle, connection_data_short_buffer_copies_prefix_and_returns_buffer_too_small) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  std::vector<uint8_t> connect_data = pattern_bytes(30, 0x21);
  std::vector<uint8_t> accept_data = pattern_bytes(5, 0x42);
  HandshakeSpec spec;
  spec.connect_data = connect_data;
  spec.accept_data = accept_data;
  struct Probe {
    NTSTATUS status = kNoCompletion;
    ULONG length = 0;
    std::vector<uint8_t> bytes;
  };
  auto probe = [](NDK_CONNECTOR* c, ULONG given) {
    Probe p;
    p.bytes.assign(64, 0xEE);
    p.length = given;
    p.status = c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, p.bytes.data(), &p.length);
    return p;
  };
  Probe passive, active;
  spec.on_incoming = [&](NDK_CONNECTOR* in) { passive = probe(in, 10); };
  spec.on_replied = [&](NDK_CONNECTOR* c) { active = probe(c, 20); };
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));

  EXPECT_NT(STATUS_BUFFER_TOO_SMALL, passive.status);
  EXPECT_EQ(rig.passive.info().MaxCallerData, passive.length);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(connect_data[i], passive.bytes[i]) << "byte " << i;
  for (int i = 10; i < 64; ++i) EXPECT_EQ(0xEE, passive.bytes[i]) << "untouched byte " << i;

  EXPECT_NT(STATUS_BUFFER_TOO_SMALL, active.status);
  EXPECT_EQ(rig.active.info().MaxCalleeData, active.length);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(accept_data[i], active.bytes[i]) << "byte " << i;
  for (int i = 5; i < 20; ++i) EXPECT_EQ(0, active.bytes[i]) << "padding byte " << i;
  for (int i = 20; i < 64; ++i) EXPECT_EQ(0xEE, active.bytes[i]) << "untouched byte " << i;
}

TEST_P(ConnectionLifecycle, connection_data_null_buffer_with_nonzero_length_is_invalid_parameter) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  HandshakeSpec spec;
  spec.connect_data = pattern_bytes(4, 1);
  spec.accept_data = pattern_bytes(4, 2);
  NTSTATUS passive = kNoCompletion, active = kNoCompletion;
  spec.on_incoming = [&](NDK_CONNECTOR* in) {
    ULONG length = 8;
    passive = in->Dispatch->NdkGetConnectionData(in, nullptr, nullptr, nullptr, &length);
  };
  spec.on_replied = [&](NDK_CONNECTOR* c) {
    ULONG length = 8;
    active = c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, nullptr, &length);
  };
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
  EXPECT_NT(STATUS_INVALID_PARAMETER, passive);
  EXPECT_NT(STATUS_INVALID_PARAMETER, active);
}

TEST_P(ConnectionLifecycle, private_data_of_exactly_the_maximum_size_is_delivered_whole) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  HandshakeSpec spec;
  spec.connect_data = pattern_bytes(rig.active.info().MaxCallerData, 0x33);
  spec.accept_data = pattern_bytes(rig.passive.info().MaxCalleeData, 0x77);
  std::vector<uint8_t> at_passive(spec.connect_data.size(), 0xEE);
  std::vector<uint8_t> at_active(spec.accept_data.size(), 0xEE);
  NTSTATUS ps = kNoCompletion, as = kNoCompletion;
  spec.on_incoming = [&](NDK_CONNECTOR* in) {
    ULONG length = static_cast<ULONG>(at_passive.size());
    ps = in->Dispatch->NdkGetConnectionData(in, nullptr, nullptr, at_passive.data(), &length);
  };
  spec.on_replied = [&](NDK_CONNECTOR* c) {
    ULONG length = static_cast<ULONG>(at_active.size());
    as = c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, at_active.data(), &length);
  };
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
  EXPECT_NT(STATUS_SUCCESS, ps);
  EXPECT_NT(STATUS_SUCCESS, as);
  EXPECT_EQ(spec.connect_data, at_passive);
  EXPECT_EQ(spec.accept_data, at_active);
}

TEST_P(ConnectionLifecycle, oversize_connect_private_data_fails_inline_and_leaves_qp_usable) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  NDK_QP* aqp = rig.active.create_qp();
  NDK_CONNECTOR* c = rig.active.create_connector();
  std::vector<uint8_t> data = pattern_bytes(rig.active.info().MaxCallerData + 1, 9);
  Op connect;
  start_connect(connect, c, aqp, rig.active.local(), rig.destination, 8, 8, data.data(),
                static_cast<ULONG>(data.size()));
  EXPECT_NT(STATUS_INVALID_BUFFER_SIZE, connect.returned()) << "must fail inline";
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(0, rig.incoming.count()) << "nothing may reach the listener";
  EXPECT_EQ(0, connect.callbacks());
  // The QP was not taken by the failed call.
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp));
}

TEST_P(ConnectionLifecycle, oversize_accept_private_data_fails_inline_invalid_buffer_size) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  PendingConnect pending;
  ASSERT_NO_FATAL_FAILURE(start_pending_connect(rig, &pending));
  auto& [c, in, connect] = pending;
  std::vector<uint8_t> data = pattern_bytes(rig.passive.info().MaxCalleeData + 1, 9);
  Op accept;
  start_accept(accept, in, rig.passive.create_qp(), true, nullptr, 8, 8, data.data(),
               static_cast<ULONG>(data.size()));
  EXPECT_NT(STATUS_INVALID_BUFFER_SIZE, accept.returned()) << "must fail inline";
  EXPECT_FALSE(connect.wait(kQuiet)) << "the requester must not see an accept";
}

TEST_P(ConnectionLifecycle, oversize_reject_private_data_fails_invalid_buffer_size) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  PendingConnect pending;
  ASSERT_NO_FATAL_FAILURE(start_pending_connect(rig, &pending));
  auto& [c, in, connect] = pending;
  std::vector<uint8_t> data = pattern_bytes(rig.passive.info().MaxCalleeData + 1, 9);
  EXPECT_NT(STATUS_INVALID_BUFFER_SIZE,
            in->Dispatch->NdkReject(in, data.data(), static_cast<ULONG>(data.size())));
  EXPECT_FALSE(connect.wait(kQuiet)) << "the requester must not see a reject";
}

TEST_P(ConnectionLifecycle, reject_with_private_data_refuses_connect_and_data_is_readable) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  PendingConnect pending;
  ASSERT_NO_FATAL_FAILURE(start_pending_connect(rig, &pending));
  auto& [c, in, connect] = pending;
  std::vector<uint8_t> data = pattern_bytes(40, 0x90);
  EXPECT_NT(STATUS_SUCCESS, in->Dispatch->NdkReject(in, data.data(), 40));
  EXPECT_NT(STATUS_CONNECTION_REFUSED, connect.result());

  const ULONG max = rig.active.info().MaxCalleeData;
  ULONG length = 0;
  EXPECT_NT(STATUS_SUCCESS, c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, nullptr, &length));
  EXPECT_EQ(max, length);
  std::vector<uint8_t> got(max, 0xEE);
  length = max;
  EXPECT_NT(STATUS_SUCCESS,
            c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, got.data(), &length));
  EXPECT_EQ(max, length);
  for (size_t i = 0; i < 40; ++i) EXPECT_EQ(data[i], got[i]) << "byte " << i;
  for (size_t i = 40; i < max; ++i) EXPECT_EQ(0, got[i]) << "padding byte " << i;

  // A refused connector is finished: it cannot complete.
  Op complete;
  start_complete(complete, c, true, nullptr);
  EXPECT_NT(STATUS_CONNECTION_INVALID, complete.result());
}

TEST_P(ConnectionLifecycle, reject_without_private_data_refuses_connect) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  PendingConnect pending;
  ASSERT_NO_FATAL_FAILURE(start_pending_connect(rig, &pending, "abcd", 4));
  auto& [c, in, connect] = pending;
  EXPECT_NT(STATUS_SUCCESS, in->Dispatch->NdkReject(in, nullptr, 0));
  EXPECT_NT(STATUS_CONNECTION_REFUSED, connect.result());
  ULONG length = 0;
  EXPECT_NT(STATUS_SUCCESS, c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, nullptr, &length));
  EXPECT_EQ(rig.active.info().MaxCalleeData, length);
}

// Regression test for a provider bug fixed earlier (see git history).
TEST_P(ConnectionLifecycle, reject_without_private_data_reads_back_zeroed_data) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  PendingConnect pending;
  ASSERT_NO_FATAL_FAILURE(start_pending_connect(rig, &pending, "abcd", 4));
  auto& [c, in, connect] = pending;
  EXPECT_NT(STATUS_SUCCESS, in->Dispatch->NdkReject(in, nullptr, 0));
  EXPECT_NT(STATUS_CONNECTION_REFUSED, connect.result());
  const ULONG max = rig.active.info().MaxCalleeData;
  std::vector<uint8_t> got(max, 0xEE);
  ULONG length = max;
  EXPECT_NT(STATUS_SUCCESS,
            c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, got.data(), &length));
  EXPECT_EQ(max, length);
  for (size_t i = 0; i < max; ++i) EXPECT_EQ(0, got[i]) << "byte " << i;
}

// max_caller_data / max_callee_data are adapter options of every transport (src/core/adapter.cpp
// AdapterConfig::apply_option), as are max_read_limit and connect_timeout_ms below.
TEST_P(ConnectionLifecycle, private_data_limits_and_rds_follow_adapter_info) {
  std::string u = uri("max_caller_data=8&max_callee_data=12");
  ConnectedPairFixture rig(u, u);
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  ASSERT_EQ(8u, rig.active.info().MaxCallerData);
  ASSERT_EQ(12u, rig.active.info().MaxCalleeData);
  {
    Op connect;
    std::vector<uint8_t> nine = pattern_bytes(9, 1);
    start_connect(connect, rig.active.create_connector(), rig.active.create_qp(),
                  rig.active.local(), rig.destination, 8, 8, nine.data(), 9);
    EXPECT_NT(STATUS_INVALID_BUFFER_SIZE, connect.returned());
  }
  NDK_CONNECTOR* c = rig.active.create_connector();
  Op connect;
  std::vector<uint8_t> eight = pattern_bytes(8, 2);
  start_connect(connect, c, rig.active.create_qp(), rig.active.local(), rig.destination, 8, 8,
                eight.data(), 8);
  NDK_CONNECTOR* in = rig.incoming.next();
  ASSERT_NE(nullptr, in);
  ULONG length = 0;
  EXPECT_NT(STATUS_SUCCESS,
            in->Dispatch->NdkGetConnectionData(in, nullptr, nullptr, nullptr, &length));
  EXPECT_EQ(8u, length);
  NDK_QP* pqp = rig.passive.create_qp();
  std::vector<uint8_t> thirteen = pattern_bytes(13, 3);
  Op bad_accept;
  start_accept(bad_accept, in, pqp, true, nullptr, 8, 8, thirteen.data(), 13);
  EXPECT_NT(STATUS_INVALID_BUFFER_SIZE, bad_accept.returned());
  std::vector<uint8_t> twelve = pattern_bytes(12, 4);
  Op accept;
  start_accept(accept, in, pqp, true, nullptr, 8, 8, twelve.data(), 12);
  ASSERT_NT(STATUS_SUCCESS, connect.result());
  std::vector<uint8_t> got(32, 0xEE);
  length = 32;
  EXPECT_NT(STATUS_SUCCESS,
            c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, got.data(), &length));
  EXPECT_EQ(12u, length);
  EXPECT_TRUE(std::equal(twelve.begin(), twelve.end(), got.begin()));
  EXPECT_EQ(0xEE, got[12]);
  Op complete;
  start_complete(complete, c, true, nullptr);
  EXPECT_NT(STATUS_SUCCESS, complete.result());
  EXPECT_NT(STATUS_SUCCESS, accept.result());
}

// ---------------------------------------------------------------------------------------------
// Read limits (2.11.1): effective inbound = min(own inbound, adapter max, peer outbound), outbound
// likewise. The passive side reads them before accepting (computed from the request and its
// adapter maxima), the active side after its connect completed.

struct Limits {
  NTSTATUS status = kNoCompletion;
  ULONG inbound = 0xFFFF, outbound = 0xFFFF;
};

Limits read_limits(NDK_CONNECTOR* c) {
  Limits l;
  ULONG length = 0;
  l.status = c->Dispatch->NdkGetConnectionData(c, &l.inbound, &l.outbound, nullptr, &length);
  return l;
}

void limits_case(const std::string& active_uri, const std::string& passive_uri, ULONG ai,
                 ULONG ao, ULONG pi, ULONG po, Limits expected_passive, Limits expected_active) {
  ConnectedPairFixture rig(active_uri, passive_uri);
  HandshakeSpec spec;
  spec.active_inbound = ai;
  spec.active_outbound = ao;
  spec.passive_inbound = pi;
  spec.passive_outbound = po;
  Limits passive, active;
  spec.on_incoming = [&](NDK_CONNECTOR* in) { passive = read_limits(in); };
  spec.on_replied = [&](NDK_CONNECTOR* c) { active = read_limits(c); };
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
  EXPECT_NT(STATUS_SUCCESS, passive.status);
  EXPECT_EQ(expected_passive.inbound, passive.inbound) << "passive inbound";
  EXPECT_EQ(expected_passive.outbound, passive.outbound) << "passive outbound";
  EXPECT_NT(STATUS_SUCCESS, active.status);
  EXPECT_EQ(expected_active.inbound, active.inbound) << "active inbound";
  EXPECT_EQ(expected_active.outbound, active.outbound) << "active outbound";
}

TEST_P(ConnectionLifecycle, read_limits_negotiate_to_min_of_own_and_peer_values) {
  // Active asks in 9 / out 4; passive answers in 6 / out 7 (maxima 128 by default).
  // Passive (from the request): in = min(max, peer out 4) = 4, out = min(max, peer in 9) = 9.
  // Active: in = min(9, peer out 7) = 7, out = min(4, peer in 6) = 4.
  Limits passive, active;
  passive.inbound = 4;
  passive.outbound = 9;
  active.inbound = 7;
  active.outbound = 4;
  limits_case(GetParam(), GetParam(), 9, 4, 6, 7, passive, active);
}

TEST_P(ConnectionLifecycle, read_limits_are_capped_by_adapter_maxima) {
  std::string capped = uri("max_read_limit=4");
  {
    PdCqFixture probe(capped);
    ASSERT_TRUE(probe.ok());
    ASSERT_EQ(4u, probe.info().MaxInboundReadLimit);
    ASSERT_EQ(4u, probe.info().MaxOutboundReadLimit);
  }
  Limits four;
  four.inbound = 4;
  four.outbound = 4;
  limits_case(capped, capped, 100, 100, 100, 100, four, four);
}

TEST_P(ConnectionLifecycle, read_limits_are_capped_by_the_peer_adapter_maxima) {
  Limits four;
  four.inbound = 4;
  four.outbound = 4;
  {
    SCOPED_TRACE("passive adapter capped at 4");
    limits_case(GetParam(), uri("max_read_limit=4"), 100, 100, 100, 100, four, four);
  }
  {
    SCOPED_TRACE("active adapter capped at 4");
    limits_case(uri("max_read_limit=4"), GetParam(), 100, 100, 100, 100, four, four);
  }
}

// ---------------------------------------------------------------------------------------------
// Connector addresses (2.11.7, 2.11.8, 6 item 28)

// On `family` (the adapters' local address of that family: 127.0.0.1 / ::1 on loopback, the
// URI's IP on tcp).
void addresses_case(const std::string& uri, int family) {
  ConnectedPairFixture rig(uri, uri);
  ASSERT_NO_FATAL_FAILURE(rig.listen(family));
  const ULONG expected_length = family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  const std::string ip = ip_of(rig.passive.local(family));
  EXPECT_EQ(family, rig.destination.ss_family);
  EXPECT_EQ(ip, ip_of(rig.destination));
  HandshakeSpec spec;
  // Valid on an incoming connector from delivery, on an outgoing one after its connect completed.
  sockaddr_storage in_local{}, in_peer{}, out_local{}, out_peer{};
  ULONG in_local_len = 0, in_peer_len = 0, out_local_len = 0, out_peer_len = 0;
  NTSTATUS s1 = kNoCompletion, s2 = kNoCompletion, s3 = kNoCompletion, s4 = kNoCompletion;
  spec.on_incoming = [&](NDK_CONNECTOR* in) {
    in_local_len = in_peer_len = sizeof(sockaddr_storage);
    s1 = in->Dispatch->NdkGetLocalAddress(in, sa(in_local), &in_local_len);
    s2 = in->Dispatch->NdkGetPeerAddress(in, sa(in_peer), &in_peer_len);
  };
  spec.on_replied = [&](NDK_CONNECTOR* c) {
    out_local_len = out_peer_len = sizeof(sockaddr_storage);
    s3 = c->Dispatch->NdkGetLocalAddress(c, sa(out_local), &out_local_len);
    s4 = c->Dispatch->NdkGetPeerAddress(c, sa(out_peer), &out_peer_len);
  };
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
  EXPECT_NT(STATUS_SUCCESS, s1);
  EXPECT_NT(STATUS_SUCCESS, s2);
  EXPECT_NT(STATUS_SUCCESS, s3);
  EXPECT_NT(STATUS_SUCCESS, s4);
  for (ULONG l : {in_local_len, in_peer_len, out_local_len, out_peer_len})
    EXPECT_EQ(expected_length, l);
  // Passive local = the listener's address; active peer = the listener's address.
  EXPECT_EQ(ip, ip_of(in_local));
  EXPECT_EQ(port_of(rig.destination), port_of(in_local));
  EXPECT_EQ(ip, ip_of(out_peer));
  EXPECT_EQ(port_of(rig.destination), port_of(out_peer));
  // Active local: an address of the active adapter with its own (non-zero, different) port,
  // which is what the passive side sees as its peer.
  EXPECT_EQ(ip, ip_of(out_local));
  EXPECT_NE(0, port_of(out_local));
  EXPECT_NE(port_of(rig.destination), port_of(out_local));
  EXPECT_EQ(ip, ip_of(in_peer));
  EXPECT_EQ(port_of(out_local), port_of(in_peer));
  // Still the same once connected.
  sockaddr_storage after = connector_local(e.active);
  EXPECT_EQ(port_of(out_local), port_of(after));
  after = connector_peer(e.passive);
  EXPECT_EQ(port_of(out_local), port_of(after));
  after = connector_local(e.passive);
  EXPECT_EQ(port_of(rig.destination), port_of(after));
  after = connector_peer(e.active);
  EXPECT_EQ(port_of(rig.destination), port_of(after));
  EXPECT_EQ(family, after.ss_family);
}

// A loopback adapter owns 127.0.0.0/8 and ::1; a tcp adapter exactly the IP of its URI.
#define SKIP_UNLESS_ADAPTER_OWNS(uri, family)                                          \
  do {                                                                                 \
    AdapterFixture probe_(uri);                                                               \
    if (probe_.get() != nullptr && !probe_.owns_family(family))                        \
      GTEST_SKIP() << "the adapter owns no " << (family == AF_INET6 ? "IPv6" : "IPv4") \
                   << " address (" << (uri) << ")";                                    \
  } while (0)

TEST_P(ConnectionLifecycle, connector_addresses_match_the_listener_ipv4) {
  SKIP_UNLESS_ADAPTER_OWNS(GetParam(), AF_INET);
  addresses_case(GetParam(), AF_INET);
}

TEST_P(ConnectionLifecycle, connector_addresses_match_the_listener_ipv6) {
  SKIP_UNLESS_ADAPTER_OWNS(GetParam(), AF_INET6);
  addresses_case(GetParam(), AF_INET6);
}

TEST_P(ConnectionLifecycle, connector_address_query_with_short_buffer_returns_buffer_too_small) {
  int families = 0;
  for (int family : {AF_INET, AF_INET6}) {
    SCOPED_TRACE(family == AF_INET ? "IPv4" : "IPv6");
    if (!AdapterFixture(GetParam()).owns_family(family)) continue;  // tcp: the URI's family only
    ++families;
    ConnectedPairFixture rig(GetParam(), GetParam());
    ASSERT_NO_FATAL_FAILURE(rig.listen(family));
    HandshakeSpec spec;
    Established e;
    ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
    const ULONG needed = family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    for (NDK_CONNECTOR* c : {e.active, e.passive}) {
      sockaddr_storage a{};
      ULONG length = 4;
      EXPECT_NT(STATUS_BUFFER_TOO_SMALL, c->Dispatch->NdkGetLocalAddress(c, sa(a), &length));
      EXPECT_EQ(needed, length);
      length = needed - 1;
      EXPECT_NT(STATUS_BUFFER_TOO_SMALL, c->Dispatch->NdkGetPeerAddress(c, sa(a), &length));
      EXPECT_EQ(needed, length);
      length = 0;
      EXPECT_NT(STATUS_BUFFER_TOO_SMALL, c->Dispatch->NdkGetPeerAddress(c, nullptr, &length));
      EXPECT_EQ(needed, length);
      length = needed;
      EXPECT_NT(STATUS_SUCCESS, c->Dispatch->NdkGetPeerAddress(c, sa(a), &length));
      EXPECT_EQ(needed, length);
    }
  }
  EXPECT_LE(1, families) << "the adapter owns no address of either family";
}

// NdkGetLocalAddress and NdkGetPeerAddress of `c` both fail with STATUS_CONNECTION_INVALID.
void expect_no_addresses(NDK_CONNECTOR* c) {
  sockaddr_storage a{};
  ULONG length = sizeof a;
  EXPECT_NT(STATUS_CONNECTION_INVALID, c->Dispatch->NdkGetLocalAddress(c, sa(a), &length));
  length = sizeof a;
  EXPECT_NT(STATUS_CONNECTION_INVALID, c->Dispatch->NdkGetPeerAddress(c, sa(a), &length));
}

TEST_P(ConnectionLifecycle,
       connector_address_query_before_connect_completes_is_connection_invalid) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  NDK_CONNECTOR* c = rig.active.create_connector();
  expect_no_addresses(c);
  // Connect delivered but not yet accepted: still not valid on the active side.
  Op connect;
  start_connect(connect, c, rig.active.create_qp(), rig.active.local(), rig.destination);
  ASSERT_NE(nullptr, rig.incoming.next());
  EXPECT_FALSE(connect.done());
  expect_no_addresses(c);
}

// Regression test for a provider bug fixed earlier (see git history).
TEST_P(ConnectionLifecycle, connector_address_query_after_refused_connect_is_connection_invalid) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  PendingConnect pending;
  ASSERT_NO_FATAL_FAILURE(start_pending_connect(rig, &pending));
  auto& [c, in, connect] = pending;
  ASSERT_NT(STATUS_SUCCESS, in->Dispatch->NdkReject(in, nullptr, 0));
  ASSERT_NT(STATUS_CONNECTION_REFUSED, connect.result());
  // 2.11.8 [interpretation]: valid on an outgoing connector once its connect has completed
  // successfully; otherwise STATUS_CONNECTION_INVALID.
  expect_no_addresses(c);
}

// ---------------------------------------------------------------------------------------------
// Connect failures (2.11.1)

TEST_P(ConnectionLifecycle, connect_to_port_without_listener_is_refused) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  // A port held by a shared endpoint (bound, but nobody listens there).
  NDK_SHARED_ENDPOINT* se = nullptr;
  ASSERT_NT(STATUS_SUCCESS, rig.passive.create_shared_endpoint(rig.passive.local(), &se));
  sockaddr_storage target{};
  ULONG length = sizeof target;
  ASSERT_NT(STATUS_SUCCESS, se->Dispatch->NdkGetLocalAddress(se, sa(target), &length));
  Op connect;
  start_connect(connect, rig.active.create_connector(), rig.active.create_qp(), rig.active.local(),
                target);
  EXPECT_NT(STATUS_CONNECTION_REFUSED, connect.result());
  EXPECT_EQ(0, rig.incoming.count());
}

TEST_P(ConnectionLifecycle, connect_to_ip_no_adapter_owns_is_host_unreachable) {
  NDKTEST_SKIP_UNLESS_LOOPBACK(GetParam(), "the addr= option and a fabric that knows every owner");
  // The adapter owns only 10.1.2.3; nobody in the fabric owns 10.1.2.4.
  PdCqFixture a(uri("addr=10.1.2.3"));
  ASSERT_TRUE(a.ok());
  Op connect;
  start_connect(connect, a.create_connector(), a.create_qp(), ip_addr("10.1.2.3", 0),
                ip_addr("10.1.2.4", 5000));
  EXPECT_NT(STATUS_HOST_UNREACHABLE, connect.result());
  // Same from a default loopback adapter.
  PdCqFixture b(GetParam());
  ASSERT_TRUE(b.ok());
  Op connect2;
  start_connect(connect2, b.create_connector(), b.create_qp(), b.local(),
                ip_addr("10.1.2.4", 5000));
  EXPECT_NT(STATUS_HOST_UNREACHABLE, connect2.result());
}

TEST_P(ConnectionLifecycle, connect_from_source_ip_the_adapter_does_not_own_is_invalid_address) {
  NDKTEST_SKIP_UNLESS_LOOPBACK(GetParam(), "the addr= option (an adapter owning 10.1.2.3)");
  ConnectedPairFixture rig(uri("addr=10.1.2.3"), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  Op connect;
  start_connect(connect, rig.active.create_connector(), rig.active.create_qp(),
                ip_addr("127.0.0.1", 0), rig.destination);
  EXPECT_NT(STATUS_INVALID_ADDRESS, connect.result());
  EXPECT_EQ(0, rig.incoming.count());
  // From the address it owns the same connect works (the loopback fabric spans adapters).
  HandshakeSpec spec;
  spec.source = ip_addr("10.1.2.3", 0);
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
  EXPECT_EQ("10.1.2.3", ip_of(connector_peer(e.passive)));
}

TEST_P(ConnectionLifecycle, connect_from_source_port_in_use_is_sharing_violation) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  // The passive listener's own address:port is taken (listener and adapters share the fabric).
  PdCqFixture third(GetParam());
  ASSERT_TRUE(third.ok());
  NDK_QP* qp = third.create_qp();
  Op connect;
  start_connect(connect, third.create_connector(), qp, rig.destination, rig.destination);
  EXPECT_NT(STATUS_SHARING_VIOLATION, connect.result());
  EXPECT_EQ(0, rig.incoming.count());
  // The QP was not consumed by the failed connect.
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(third, qp, rig.passive, rig.passive.create_qp(), rig.incoming,
                                    rig.destination, spec, &e));
}

TEST_P(ConnectionLifecycle, connect_with_qp_of_established_connection_is_connection_active) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  NDK_QP* aqp = rig.active.create_qp();
  NDK_QP* pqp = rig.passive.create_qp();
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp, pqp));
  Op connect;
  start_connect(connect, rig.active.create_connector(), aqp, rig.active.local(), rig.destination);
  NTSTATUS s = connect.result();
  EXPECT_TRUE(s == STATUS_CONNECTION_ACTIVE || s == STATUS_INVALID_PARAMETER) << status_name(s);
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(1, rig.incoming.count()) << "the second connect must not reach the listener";
  ASSERT_NO_FATAL_FAILURE(ping(rig.active, aqp, rig.passive, pqp, 0x11));
}

TEST_P(ConnectionLifecycle, connect_with_qp_of_pending_connect_is_connection_active) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  NDK_QP* aqp = rig.active.create_qp();
  Op first;
  start_connect(first, rig.active.create_connector(), aqp, rig.active.local(), rig.destination);
  ASSERT_NE(nullptr, rig.incoming.next());
  Op second;
  start_connect(second, rig.active.create_connector(), aqp, rig.active.local(), rig.destination);
  NTSTATUS s = second.result();
  EXPECT_TRUE(s == STATUS_CONNECTION_ACTIVE || s == STATUS_INVALID_PARAMETER) << status_name(s);
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(1, rig.incoming.count());
}

TEST_P(ConnectionLifecycle, second_connect_on_one_connector_is_invalid_device_state) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  NDK_CONNECTOR* c = rig.active.create_connector();
  Op first;
  start_connect(first, c, rig.active.create_qp(), rig.active.local(), rig.destination);
  NDK_CONNECTOR* in = rig.incoming.next();
  ASSERT_NE(nullptr, in);
  Op second;
  start_connect(second, c, rig.active.create_qp(), rig.active.local(), rig.destination);
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE, second.result());
  // After the first connect failed the connector is finished (6 item 27): no retry on it.
  ASSERT_NT(STATUS_SUCCESS, in->Dispatch->NdkReject(in, nullptr, 0));
  ASSERT_NT(STATUS_CONNECTION_REFUSED, first.result());
  Op third;
  start_connect(third, c, rig.active.create_qp(), rig.active.local(), rig.destination);
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE, third.result());
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(1, rig.incoming.count());
}

TEST_P(ConnectionLifecycle, qp_of_refused_connect_connects_again_through_new_connector) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  NDK_QP* aqp = rig.active.create_qp();
  NDK_CONNECTOR* c = rig.active.create_connector();
  Op connect;
  start_connect(connect, c, aqp, rig.active.local(), rig.destination);
  NDK_CONNECTOR* in = rig.incoming.next();
  ASSERT_NE(nullptr, in);
  ASSERT_NT(STATUS_SUCCESS, in->Dispatch->NdkReject(in, nullptr, 0));
  ASSERT_NT(STATUS_CONNECTION_REFUSED, connect.result());  // "retryable"
  EXPECT_TRUE(rig.active.close(c));
  EXPECT_TRUE(rig.passive.close(in));
  NDK_QP* pqp = rig.passive.create_qp();
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp, pqp));
  ASSERT_NO_FATAL_FAILURE(ping(rig.active, aqp, rig.passive, pqp, 0x5A));
}

// ---------------------------------------------------------------------------------------------
// Establishment failures (2.11.3-2.11.5, 4.5.2-4.5.3, 6 items 26, 27, 29)

TEST_P(ConnectionLifecycle, accept_after_requester_closed_its_connector_is_connection_aborted) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  PendingConnect pending;
  ASSERT_NO_FATAL_FAILURE(start_pending_connect(rig, &pending));
  auto& [c, in, connect] = pending;
  rig.active.forget(c);
  CloseOp close;
  close.start(c);
  ASSERT_TRUE(close.wait());
  EXPECT_NT(STATUS_CANCELLED, connect.result());
  Op accept;
  start_accept(accept, in, rig.passive.create_qp(), true, nullptr);
  EXPECT_NT(STATUS_CONNECTION_ABORTED, accept.result());
}

TEST_P(ConnectionLifecycle, reject_after_requester_closed_its_connector_is_connection_aborted) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  PendingConnect pending;
  ASSERT_NO_FATAL_FAILURE(start_pending_connect(rig, &pending));
  auto& [c, in, connect] = pending;
  EXPECT_TRUE(rig.active.close(c));
  EXPECT_NT(STATUS_CANCELLED, connect.result());
  // The notice travels asynchronously; either way the reject must report the abandonment.
  EXPECT_NT(STATUS_CONNECTION_ABORTED, in->Dispatch->NdkReject(in, nullptr, 0));
}

TEST_P(ConnectionLifecycle, requester_reject_after_reply_aborts_pending_accept) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  PendingConnect pending;
  ASSERT_NO_FATAL_FAILURE(start_pending_connect(rig, &pending));
  auto& [c, in, connect] = pending;
  Op accept;
  start_accept(accept, in, rig.passive.create_qp(), true, nullptr);
  ASSERT_NT(STATUS_SUCCESS, connect.result());
  EXPECT_FALSE(accept.done());
  EXPECT_NT(STATUS_SUCCESS, c->Dispatch->NdkReject(c, nullptr, 0));
  EXPECT_NT(STATUS_CONNECTION_ABORTED, accept.result());
  Op complete;
  start_complete(complete, c, true, nullptr);
  EXPECT_NT(STATUS_CONNECTION_INVALID, complete.result()) << "a rejected connector is finished";
}

TEST_P(ConnectionLifecycle, pending_accept_times_out_when_requester_never_completes) {
  std::string u = uri("connect_timeout_ms=200");
  ConnectedPairFixture rig(u, u);
  PendingConnect pending;
  ASSERT_NO_FATAL_FAILURE(start_pending_connect(rig, &pending));
  auto& [c, in, connect] = pending;
  auto started = std::chrono::steady_clock::now();
  Op accept;
  start_accept(accept, in, rig.passive.create_qp(), true, nullptr);
  ASSERT_NT(STATUS_SUCCESS, connect.result());
  EXPECT_NT(STATUS_IO_TIMEOUT, accept.result());
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, std::chrono::milliseconds(150)) << "timed out before the configured 200 ms";
  // The establishment is over for the requester as well.
  Op complete;
  start_complete(complete, c, true, nullptr);
  NTSTATUS s = complete.result();
  EXPECT_TRUE(s == STATUS_CONNECTION_ABORTED || s == STATUS_IO_TIMEOUT) << status_name(s);
}

TEST_P(ConnectionLifecycle, connect_times_out_when_listener_never_answers) {
  std::string u = uri("connect_timeout_ms=200");
  ConnectedPairFixture rig(u, u);
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  Op connect;
  start_connect(connect, rig.active.create_connector(), rig.active.create_qp(), rig.active.local(),
                rig.destination);
  NDK_CONNECTOR* in = rig.incoming.next();
  ASSERT_NE(nullptr, in);
  EXPECT_NT(STATUS_IO_TIMEOUT, connect.result());
  // The requester gave up before the consumer acted (4.5.3).
  Op accept;
  start_accept(accept, in, rig.passive.create_qp(), true, nullptr);
  EXPECT_NT(STATUS_CONNECTION_ABORTED, accept.result());
}

TEST_P(ConnectionLifecycle, complete_connect_outside_the_replied_state_is_connection_invalid) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  NDK_CONNECTOR* c = rig.active.create_connector();
  {
    SCOPED_TRACE("idle connector");
    Op complete;
    start_complete(complete, c, false, nullptr);
    EXPECT_NT(STATUS_CONNECTION_INVALID, complete.result());
  }
  NDK_QP* aqp = rig.active.create_qp();
  NDK_QP* pqp = rig.passive.create_qp();
  Op connect;
  start_connect(connect, c, aqp, rig.active.local(), rig.destination);
  NDK_CONNECTOR* in = rig.incoming.next();
  ASSERT_NE(nullptr, in);
  {
    SCOPED_TRACE("connect still pending");
    Op complete;
    start_complete(complete, c, true, nullptr);
    EXPECT_NT(STATUS_CONNECTION_INVALID, complete.result());
  }
  {
    SCOPED_TRACE("incoming (passive) connector");
    Op complete;
    start_complete(complete, in, true, nullptr);
    EXPECT_NT(STATUS_CONNECTION_INVALID, complete.result());
  }
  // The establishment itself is unaffected.
  Op accept;
  start_accept(accept, in, pqp, true, nullptr);
  ASSERT_NT(STATUS_SUCCESS, connect.result());
  Op complete;
  start_complete(complete, c, true, nullptr);
  ASSERT_NT(STATUS_SUCCESS, complete.result());
  ASSERT_NT(STATUS_SUCCESS, accept.result());
  {
    SCOPED_TRACE("already connected");
    Op again;
    start_complete(again, c, true, nullptr);
    EXPECT_NT(STATUS_CONNECTION_INVALID, again.result());
  }
  ASSERT_NO_FATAL_FAILURE(ping(rig.active, aqp, rig.passive, pqp, 0x66));
}

TEST_P(ConnectionLifecycle, close_during_pending_connect_completes_it_cancelled_before_the_close) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  NDK_CONNECTOR* c = rig.active.create_connector();
  Op connect;
  start_connect(connect, c, rig.active.create_qp(), rig.active.local(), rig.destination);
  ASSERT_NE(nullptr, rig.incoming.next());
  ASSERT_FALSE(connect.done());
  rig.active.forget(c);
  CloseOp close;
  close.start(c);
  ASSERT_TRUE(close.wait());
  ASSERT_TRUE(connect.done()) << "the close completed before the pending connect";
  EXPECT_NT(STATUS_CANCELLED, connect.result());
  EXPECT_LT(connect.seq_end(), close.seq_end());
  EXPECT_EQ(1, connect.callbacks());
}

TEST_P(ConnectionLifecycle, close_during_pending_accept_completes_it_cancelled_and_aborts_requester) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  PendingConnect pending;
  ASSERT_NO_FATAL_FAILURE(start_pending_connect(rig, &pending));
  auto& [c, in, connect] = pending;
  Op accept;
  start_accept(accept, in, rig.passive.create_qp(), true, nullptr);
  ASSERT_NT(STATUS_SUCCESS, connect.result());
  ASSERT_FALSE(accept.done());
  rig.passive.forget(in);
  CloseOp close;
  close.start(in);
  ASSERT_TRUE(close.wait());
  ASSERT_TRUE(accept.done()) << "the close completed before the pending accept";
  EXPECT_NT(STATUS_CANCELLED, accept.result());
  EXPECT_LT(accept.seq_end(), close.seq_end());
  // The accepting peer gave up: the requester cannot complete.
  Op complete;
  start_complete(complete, c, true, nullptr);
  EXPECT_NT(STATUS_CONNECTION_ABORTED, complete.result());
}

// ---------------------------------------------------------------------------------------------
// Disconnect (2.1.7, 2.1.8, 2.11.9, 4.5.7, 6 items 32, 33)

TEST_P(ConnectionLifecycle, disconnect_completes_and_only_the_peer_gets_one_plain_event) {
  DisconnectEvents aev, pev;  // outlive the rig
  ConnectedPairFixture rig(GetParam(), GetParam());
  HandshakeSpec spec;
  spec.complete_ex = spec.accept_ex = false;
  spec.active_events = &aev;
  spec.passive_events = &pev;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
  EXPECT_NT(STATUS_SUCCESS, disconnect(e.active));
  EXPECT_TRUE(wait_until([&] { return pev.count.load() >= 1; })) << "no peer disconnect event";
  // The peer answers with its own disconnect; still no event on the side that started.
  EXPECT_NT(STATUS_SUCCESS, disconnect(e.passive));
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(1, pev.count.load());
  EXPECT_EQ(0, aev.count.load());
}

TEST_P(ConnectionLifecycle, disconnect_ex_event_reaches_only_the_peer_with_nonzero_reason) {
  DisconnectEvents aev, pev;  // outlive the rig
  ConnectedPairFixture rig(GetParam(), GetParam());
  HandshakeSpec spec;
  spec.active_events = &aev;
  spec.passive_events = &pev;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
  EXPECT_NT(STATUS_SUCCESS, disconnect(e.passive));
  EXPECT_TRUE(wait_until([&] { return aev.count.load() >= 1; })) << "no peer disconnect event";
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(1, aev.count.load());
  EXPECT_NE(0u, aev.reason.load());
  EXPECT_EQ(0, pev.count.load());
}

TEST_P(ConnectionLifecycle, both_sides_disconnecting_at_once_complete_successfully) {
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    DisconnectEvents aev, pev;  // outlive the rig
    ConnectedPairFixture rig(GetParam(), GetParam());
    HandshakeSpec spec;
    spec.active_events = &aev;
    spec.passive_events = &pev;
    Established e;
    ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
    Op da, dp;
    da.start([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
      return e.active->Dispatch->NdkDisconnect(e.active, cb, ctx);
    });
    dp.start([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
      return e.passive->Dispatch->NdkDisconnect(e.passive, cb, ctx);
    });
    EXPECT_NT(STATUS_SUCCESS, da.result());
    EXPECT_NT(STATUS_SUCCESS, dp.result());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // The event may race with the own disconnect (2.1.7) but fires at most once.
    EXPECT_LE(aev.count.load(), 1);
    EXPECT_LE(pev.count.load(), 1);
  }
}

TEST_P(ConnectionLifecycle, closing_connected_connector_gives_peer_an_abort_disconnect_event) {
  DisconnectEvents graceful_peer, abort_peer, a1, a2;  // outlive the rig
  ConnectedPairFixture rig(GetParam(), GetParam());
  // Connection 1 ends gracefully, connection 2 abortively: the _EX reasons differ (6 item 33).
  NDK_QP* aqp1 = rig.active.create_qp();
  NDK_QP* aqp2 = rig.active.create_qp();
  HandshakeSpec spec1;
  spec1.active_events = &a1;
  spec1.passive_events = &graceful_peer;
  Established e1;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec1, &e1, aqp1));
  HandshakeSpec spec2;
  spec2.active_events = &a2;
  spec2.passive_events = &abort_peer;
  Established e2;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec2, &e2, aqp2));
  EXPECT_NT(STATUS_SUCCESS, disconnect(e1.active));
  EXPECT_TRUE(rig.active.close(e2.active));
  EXPECT_TRUE(wait_until([&] { return graceful_peer.count.load() >= 1; }));
  EXPECT_TRUE(wait_until([&] { return abort_peer.count.load() >= 1; })) << "no abort event";
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(1, graceful_peer.count.load());
  EXPECT_EQ(1, abort_peer.count.load());
  EXPECT_NE(0u, graceful_peer.reason.load());
  EXPECT_NE(0u, abort_peer.reason.load());
  EXPECT_NE(graceful_peer.reason.load(), abort_peer.reason.load())
      << "graceful and abortive disconnects should be distinguishable";
  EXPECT_EQ(0, a1.count.load());
  EXPECT_EQ(0, a2.count.load());
}

TEST_P(ConnectionLifecycle, peer_graceful_disconnect_leaves_receives_until_own_disconnect_flushes) {
  DisconnectEvents pev;  // outlive the rig
  ConnectedPairFixture rig(GetParam(), GetParam());
  NDK_QP* aqp = rig.active.create_qp();
  NDK_QP* pqp = rig.passive.create_qp();
  HandshakeSpec spec;
  spec.passive_events = &pev;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp, pqp));
  Region rx(rig.passive.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  ASSERT_NT(STATUS_SUCCESS, rx.status());
  for (uintptr_t i = 1; i <= 3; ++i)
    ASSERT_NT(STATUS_SUCCESS, post_receive(pqp, rx, i * 512, 512, (void*)(0xF00 + i)));

  EXPECT_NT(STATUS_SUCCESS, disconnect(e.active));
  ASSERT_TRUE(wait_until([&] { return pev.count.load() == 1; }));
  std::this_thread::sleep_for(kQuiet);
  NDK_RESULT_EX r{};
  EXPECT_EQ(0u, rig.passive.cq.poll(&r, 1))
      << "a peer-initiated graceful disconnect must not flush";

  EXPECT_NT(STATUS_SUCCESS, disconnect(e.passive));
  std::vector<NDK_RESULT_EX> flushed;
  ASSERT_TRUE(rig.passive.cq.collect(&flushed, 3)) << "own disconnect did not flush the receives";
  for (uintptr_t i = 0; i < 3; ++i) {
    EXPECT_NT(STATUS_CANCELLED, flushed[i].Status);
    EXPECT_EQ(NdkOperationTypeReceive, flushed[i].Type);
    EXPECT_EQ((void*)(0xF01 + i), flushed[i].RequestContext) << "FIFO order";
  }
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(0u, rig.passive.cq.poll(&r, 1));
}

TEST_P(ConnectionLifecycle, own_disconnect_flushes_own_outstanding_receives) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  NDK_QP* aqp = rig.active.create_qp();
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp));
  Region rx(rig.active.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  ASSERT_NT(STATUS_SUCCESS, rx.status());
  ASSERT_NT(STATUS_SUCCESS, post_receive(aqp, rx, 0, 512, (void*)0xA1));
  ASSERT_NT(STATUS_SUCCESS, post_receive(aqp, rx, 512, 512, (void*)0xA2));
  EXPECT_NT(STATUS_SUCCESS, disconnect(e.active));
  std::vector<NDK_RESULT_EX> flushed;
  ASSERT_TRUE(rig.active.cq.collect(&flushed, 2));
  EXPECT_NT(STATUS_CANCELLED, flushed[0].Status);
  EXPECT_NT(STATUS_CANCELLED, flushed[1].Status);
  EXPECT_EQ((void*)0xA1, flushed[0].RequestContext);
  EXPECT_EQ((void*)0xA2, flushed[1].RequestContext);
}

TEST_P(ConnectionLifecycle, disconnect_before_connection_is_connection_invalid) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  NDK_CONNECTOR* c = rig.active.create_connector();
  {
    SCOPED_TRACE("idle connector");
    EXPECT_NT(STATUS_CONNECTION_INVALID, disconnect(c));
  }
  Op connect;
  start_connect(connect, c, rig.active.create_qp(), rig.active.local(), rig.destination);
  NDK_CONNECTOR* in = rig.incoming.next();
  ASSERT_NE(nullptr, in);
  {
    SCOPED_TRACE("connect pending");
    EXPECT_NT(STATUS_CONNECTION_INVALID, disconnect(c));
  }
  {
    SCOPED_TRACE("incoming connector, not accepted");
    EXPECT_NT(STATUS_CONNECTION_INVALID, disconnect(in));
  }
}

// Observed (src/core/qp.cpp Qp::attach: only an Idle QP attaches; a disconnected QP stays in
// its error state): a QP whose connection was disconnected cannot be connected again, even
// after its old connector is closed; the connect fails inline with STATUS_CONNECTION_ACTIVE.
TEST_P(ConnectionLifecycle, disconnected_qp_cannot_connect_again_connection_active) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  NDK_QP* aqp = rig.active.create_qp();
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp));
  EXPECT_NT(STATUS_SUCCESS, disconnect(e.active));
  EXPECT_TRUE(rig.active.close(e.active));
  Op connect;
  start_connect(connect, rig.active.create_connector(), aqp, rig.active.local(), rig.destination);
  EXPECT_NT(STATUS_CONNECTION_ACTIVE, connect.result());
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(1, rig.incoming.count());
}

// After a peer abort the connection is already gone: NdkDisconnect must end promptly (with any
// status) instead of waiting for the provider's disconnect timeout (default 10 s).
TEST_P(ConnectionLifecycle, disconnect_after_peer_abort_completes_without_waiting_for_timeout) {
  DisconnectEvents pev;  // outlive the rig
  ConnectedPairFixture rig(GetParam(), GetParam());
  HandshakeSpec spec;
  spec.passive_events = &pev;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
  EXPECT_TRUE(rig.active.close(e.active));
  ASSERT_TRUE(wait_until([&] { return pev.count.load() == 1; }));
  Op d;
  d.start([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    return e.passive->Dispatch->NdkDisconnect(e.passive, cb, ctx);
  });
  EXPECT_TRUE(d.wait(std::chrono::seconds(3)))
      << "NdkDisconnect after a peer abort is still pending after 3 s";
  if (d.done()) {
    NTSTATUS s = d.result();
    EXPECT_NE(STATUS_PENDING, s);
  }
}

TEST_P(ConnectionLifecycle, disconnect_after_local_flush_completes_without_waiting_for_timeout) {
  DisconnectEvents pev;  // outlive the rig
  ConnectedPairFixture rig(GetParam(), GetParam());
  NDK_QP* aqp = rig.active.create_qp();
  HandshakeSpec spec;
  spec.passive_events = &pev;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp));
  aqp->Dispatch->NdkFlush(aqp);
  // 4.1.5 rule 4: the connection is torn down abortively; the peer gets a disconnect event.
  EXPECT_TRUE(wait_until([&] { return pev.count.load() == 1; }));
  Op d;
  d.start([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    return e.active->Dispatch->NdkDisconnect(e.active, cb, ctx);
  });
  EXPECT_TRUE(d.wait(std::chrono::seconds(3)))
      << "NdkDisconnect after NdkFlush is still pending after 3 s";
}

// ---------------------------------------------------------------------------------------------
// Connector and QP lifetime (1.3, 2.2.1, 4.3)

TEST_P(ConnectionLifecycle, qp_close_pends_until_its_connector_is_closed) {
  DisconnectEvents pev;  // outlive the rig
  ConnectedPairFixture rig(GetParam(), GetParam());
  NDK_QP* aqp = rig.active.create_qp();
  HandshakeSpec spec;
  spec.passive_events = &pev;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp));
  rig.active.forget(aqp);
  CloseOp qp_close;
  EXPECT_NT(STATUS_PENDING, qp_close.start(aqp));
  EXPECT_FALSE(qp_close.wait(kQuiet)) << "QP close completed while its connector is open";
  // Closing the QP flushes it, which tears the connection down (4.1.5): the peer hears of it.
  EXPECT_TRUE(wait_until([&] { return pev.count.load() == 1; }));
  rig.active.forget(e.active);
  CloseOp connector_close;
  connector_close.start(e.active);
  ASSERT_TRUE(connector_close.wait());
  ASSERT_TRUE(qp_close.wait());
  EXPECT_LT(connector_close.seq_begin(), qp_close.seq_end());
}

// After a local connector close the connection is gone (abortive, 2.2.1; the QP is then in the
// error state, 4.1.5): an initiator request posted on the QP afterwards either fails inline with
// STATUS_CONNECTION_INVALID or is accepted and completes (not successfully) while the QP lives on.
TEST_P(ConnectionLifecycle, qp_request_posted_after_connector_close_fails_or_completes) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  NDK_QP* aqp = rig.active.create_qp();
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp));
  Region target(rig.passive.pd, 4096, NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
  Region source(rig.active.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, 0x77);
  ASSERT_NT(STATUS_SUCCESS, target.status());
  ASSERT_NT(STATUS_SUCCESS, source.status());
  EXPECT_TRUE(rig.active.close(e.active));
  NDK_SGE sge = source.sge(0, 64);
  NTSTATUS s = aqp->Dispatch->NdkWrite(aqp, (void*)0xAB, &sge, 1, target.address(0),
                                       target.remote_token(), 0);
  if (s == STATUS_SUCCESS) {
    NDK_RESULT_EX r{};
    ASSERT_TRUE(rig.active.cq.next(&r, std::chrono::seconds(3)))
        << "write accepted after the connector close never completed";
    EXPECT_EQ((void*)0xAB, r.RequestContext);
    EXPECT_NE(ndktest::status_name(STATUS_SUCCESS), ndktest::status_name(r.Status));
  } else {
    EXPECT_NT(STATUS_CONNECTION_INVALID, s);
  }
}

TEST_P(ConnectionLifecycle, closing_connector_while_another_thread_posts_on_its_qp_is_safe) {
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ConnectedPairFixture rig(GetParam(), GetParam());
    NDK_QP* aqp = rig.active.create_qp(32);
    HandshakeSpec spec;
    Established e;
    ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp));
    Region target(rig.passive.pd, 4096, NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
    Region source(rig.active.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, 0x77);
    ASSERT_NT(STATUS_SUCCESS, target.status());
    ASSERT_NT(STATUS_SUCCESS, source.status());
    std::atomic<bool> closed{false};
    uint64_t posted = 0, completed = 0;
    std::vector<NTSTATUS> unexpected;
    std::thread poster([&] {
      NDK_SGE sge = source.sge(0, 256);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      int after_close = 0;
      while (std::chrono::steady_clock::now() < deadline) {
        if (closed.load() && ++after_close > 300) break;
        NTSTATUS s = aqp->Dispatch->NdkWrite(aqp, (void*)(uintptr_t)(posted + 1), &sge, 1,
                                             target.address(0), target.remote_token(), 0);
        if (s == STATUS_SUCCESS) {
          ++posted;
        } else if (s != STATUS_INSUFFICIENT_RESOURCES && s != STATUS_CONNECTION_INVALID) {
          unexpected.push_back(s);
        }
        NDK_RESULT_EX r[16];
        completed += rig.active.cq.poll(r, 16);  // this thread is the CQ's only consumer meanwhile
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + 4 * round));
    rig.active.forget(e.active);
    CloseOp close;
    close.start(e.active);
    closed = true;
    EXPECT_TRUE(close.wait());
    poster.join();
    // Closing the QP flushes whatever is still outstanding into the CQ before the close
    // completes (4.1.5 rule 5): every accepted request then has exactly one completion.
    EXPECT_TRUE(rig.active.close(aqp));
    std::vector<NDK_RESULT_EX> rest;
    if (completed < posted) rig.active.cq.collect(&rest, posted - completed);
    completed += rest.size();
    EXPECT_GT(posted, 0u);
    EXPECT_EQ(posted, completed) << "posted requests without a completion";
    for (NTSTATUS s : unexpected) ADD_FAILURE() << "unexpected post status " << status_name(s);
    NDK_RESULT_EX r{};
    EXPECT_EQ(0u, rig.active.cq.poll(&r, 1)) << "more completions than posted requests";
  }
}

INSTANTIATE_TEST_SUITE_P(Conn, ConnectionLifecycle, ::testing::ValuesIn(ndktest::test_uris()));
INSTANTIATE_TEST_SUITE_P(ConnPending, ConnectionLifecycle, ::testing::ValuesIn(pending_uris()));

}  // namespace
