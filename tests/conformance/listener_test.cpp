// Listeners and endpoints (ndkpi.md 2.1.6, 2.3.5, 2.3.7, 2.10, 2.12, 4.5.1, 4.5.3, 4.5.4,
// 4.5.6, 6 items 35-38): listen addresses and ports, address conflicts across the fabric,
// wildcard listens, shared endpoints, pausing connect events, listener close semantics and
// accept/reject from inside the connect-event callback.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "connection_helpers.h"

namespace {
using namespace conntest;

class ListenerConformance : public ::testing::TestWithParam<std::string> {
 protected:
  std::string uri(const std::string& option = "") const {
    return option.empty() ? GetParam() : with_option(GetParam(), option);
  }
};

// The wildcard address of the adapter's family (0.0.0.0 or ::) with `port`.
sockaddr_storage wildcard_of(Node& n, uint16_t port) {
  return ip_addr(n.adapter().family() == AF_INET6 ? "::" : "0.0.0.0", port);
}

constexpr uint16_t kEphemeralFirst = 49152;

sockaddr_storage shared_endpoint_address(NDK_SHARED_ENDPOINT* se) {
  sockaddr_storage a{};
  ULONG length = sizeof a;
  EXPECT_NT(STATUS_SUCCESS, se->Dispatch->NdkGetLocalAddress(se, sa(a), &length));
  return a;
}

// ---------------------------------------------------------------------------------------------
// Listen addresses

// Every family the adapter owns an address of: both on loopback, the URI's on tcp.
TEST_P(ListenerConformance, listen_on_port_zero_reports_an_ephemeral_port) {
  int families = 0;
  for (int family : {AF_INET, AF_INET6}) {
    SCOPED_TRACE(family == AF_INET ? "IPv4" : "IPv6");
    Incoming incoming;
    Node n(GetParam());
    ASSERT_TRUE(n.ok());
    if (!n.adapter().owns_family(family)) continue;
    ++families;
    NDK_LISTENER* l = make_listener(n, incoming);
    ASSERT_NE(nullptr, l);
    ASSERT_NT(STATUS_SUCCESS, listen_on(l, n.local(family)));
    sockaddr_storage a{};
    ULONG length = sizeof a;
    ASSERT_NT(STATUS_SUCCESS, l->Dispatch->NdkGetLocalAddress(l, sa(a), &length));
    const ULONG needed = family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    EXPECT_EQ(needed, length);
    EXPECT_EQ(family, a.ss_family);
    EXPECT_EQ(ip_of(n.local(family)), ip_of(a));
    EXPECT_GE(port_of(a), kEphemeralFirst);
    // Short buffers report the size.
    length = 4;
    EXPECT_NT(STATUS_BUFFER_TOO_SMALL, l->Dispatch->NdkGetLocalAddress(l, sa(a), &length));
    EXPECT_EQ(needed, length);
    length = 0;
    EXPECT_NT(STATUS_BUFFER_TOO_SMALL, l->Dispatch->NdkGetLocalAddress(l, nullptr, &length));
    EXPECT_EQ(needed, length);
  }
  EXPECT_LE(1, families) << "the adapter owns no address of either family";
}

TEST_P(ListenerConformance, listen_twice_on_one_listener_is_invalid_device_state) {
  Rig rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.start());
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE, listen_on(rig.listener, rig.p.local()));
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE, listen_on(rig.listener, rig.dest));
  // Still listening where it was.
  EXPECT_EQ(port_of(rig.dest), port_of(listener_address(rig.listener)));
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(
      establish(rig.a, rig.a.qp(), rig.p, rig.p.qp(), rig.incoming, rig.dest, spec, &e));
}

TEST_P(ListenerConformance, listen_on_ip_the_adapter_does_not_own_is_invalid_address) {
  NDKTEST_SKIP_UNLESS_LOOPBACK(GetParam(), "the addr= option (an adapter owning 10.1.2.3)");
  Incoming i1, i2;
  Node owns_one(uri("addr=10.1.2.3"));
  Node plain(GetParam());
  ASSERT_TRUE(owns_one.ok());
  ASSERT_TRUE(plain.ok());
  NDK_LISTENER* l1 = make_listener(owns_one, i1);
  EXPECT_NT(STATUS_INVALID_ADDRESS, listen_on(l1, ip_addr("127.0.0.1", 0)));
  NDK_LISTENER* l1b = make_listener(owns_one, i1);
  EXPECT_NT(STATUS_INVALID_ADDRESS, listen_on(l1b, ip_addr("::1", 0)));
  NDK_LISTENER* l2 = make_listener(plain, i2);
  EXPECT_NT(STATUS_INVALID_ADDRESS, listen_on(l2, ip_addr("10.1.2.3", 0)));
}

TEST_P(ListenerConformance, adapter_owning_one_ip_listens_there_and_other_adapters_connect) {
  NDKTEST_SKIP_UNLESS_LOOPBACK(GetParam(), "the addr= option (an adapter owning 10.1.2.3)");
  Rig rig(GetParam(), uri("addr=10.1.2.3"));
  ASSERT_TRUE(rig.a.ok());
  ASSERT_TRUE(rig.p.ok());
  rig.listener = make_listener(rig.p, rig.incoming);
  ASSERT_NT(STATUS_SUCCESS, listen_on(rig.listener, ip_addr("10.1.2.3", 0)));
  rig.dest = listener_address(rig.listener);
  EXPECT_EQ("10.1.2.3", ip_of(rig.dest));
  NDK_QP* aqp = rig.a.qp();
  NDK_QP* pqp = rig.p.qp();
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig.a, aqp, rig.p, pqp, rig.incoming, rig.dest, spec, &e));
  EXPECT_EQ("10.1.2.3", ip_of(connector_local(e.passive)));
  EXPECT_EQ("10.1.2.3", ip_of(connector_peer(e.active)));
  ASSERT_NO_FATAL_FAILURE(ping(rig.a, aqp, rig.p, pqp, 0x31));
}

// ---------------------------------------------------------------------------------------------
// Conflicts (4.5.1): every live endpoint of the fabric counts

TEST_P(ListenerConformance, listen_on_address_held_by_a_listener_is_sharing_violation) {
  Incoming i1, i2;
  Node n(GetParam());
  Node other(GetParam());
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE(other.ok());
  NDK_LISTENER* l1 = make_listener(n, i1);
  ASSERT_NT(STATUS_SUCCESS, listen_on(l1, n.local()));
  sockaddr_storage held = listener_address(l1);
  EXPECT_NT(STATUS_SHARING_VIOLATION, listen_on(make_listener(n, i1), held));
  EXPECT_NT(STATUS_SHARING_VIOLATION, listen_on(make_listener(other, i2), held))
      << "another adapter of the fabric";
  NDK_SHARED_ENDPOINT* se = nullptr;
  EXPECT_NT(STATUS_SHARING_VIOLATION, other.shared_endpoint(held, &se));
  // Another IP with the same port is a different address (needs a second IP of the adapter:
  // the loopback fabric owns 127.0.0.0/8; a tcp adapter owns only its URI's IP).
  if (is_loopback(GetParam())) {
    EXPECT_NT(STATUS_SUCCESS,
              listen_on(make_listener(other, i2), ip_addr("127.0.0.2", port_of(held))));
  }
}

TEST_P(ListenerConformance, listen_on_address_held_by_a_shared_endpoint_is_sharing_violation) {
  Incoming incoming;
  Node n(GetParam());
  ASSERT_TRUE(n.ok());
  NDK_SHARED_ENDPOINT* se = nullptr;
  ASSERT_NT(STATUS_SUCCESS, n.shared_endpoint(n.local(), &se));
  sockaddr_storage held = shared_endpoint_address(se);
  EXPECT_NT(STATUS_SHARING_VIOLATION, listen_on(make_listener(n, incoming), held));
  EXPECT_NT(STATUS_SHARING_VIOLATION,
            listen_on(make_listener(n, incoming), wildcard_of(n, port_of(held))));
  NDK_SHARED_ENDPOINT* se2 = nullptr;
  EXPECT_NT(STATUS_SHARING_VIOLATION, n.shared_endpoint(held, &se2));
}

TEST_P(ListenerConformance, listen_on_address_held_by_a_connector_is_sharing_violation) {
  Rig rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.start());
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(
      establish(rig.a, rig.a.qp(), rig.p, rig.p.qp(), rig.incoming, rig.dest, spec, &e));
  sockaddr_storage held = connector_local(e.active);
  ASSERT_NE(0, port_of(held));
  EXPECT_NT(STATUS_SHARING_VIOLATION, listen_on(make_listener(rig.p, rig.incoming2), held));
  NDK_SHARED_ENDPOINT* se = nullptr;
  EXPECT_NT(STATUS_SHARING_VIOLATION, rig.a.shared_endpoint(held, &se));
  Op connect;
  start_connect(connect, rig.a.connector(), rig.a.qp(), held, rig.dest);
  EXPECT_NT(STATUS_SHARING_VIOLATION, connect.result());
}

TEST_P(ListenerConformance, wildcard_and_specific_listens_on_one_port_conflict) {
  Incoming incoming;
  Node n(GetParam());
  ASSERT_TRUE(n.ok());
  {
    SCOPED_TRACE("wildcard first");
    NDK_LISTENER* wild = make_listener(n, incoming);
    ASSERT_NT(STATUS_SUCCESS, listen_on(wild, wildcard_of(n, 0)));
    uint16_t port = port_of(listener_address(wild));
    EXPECT_GE(port, kEphemeralFirst);
    EXPECT_NT(STATUS_SHARING_VIOLATION,
              listen_on(make_listener(n, incoming), with_port(n.local(), port)));
  }
  {
    SCOPED_TRACE("specific first");
    NDK_LISTENER* specific = make_listener(n, incoming);
    ASSERT_NT(STATUS_SUCCESS, listen_on(specific, n.local()));
    uint16_t port = port_of(listener_address(specific));
    EXPECT_NT(STATUS_SHARING_VIOLATION,
              listen_on(make_listener(n, incoming), wildcard_of(n, port)));
  }
}

TEST_P(ListenerConformance, wildcard_listener_receives_connections_for_every_owned_ip) {
  Rig rig(GetParam(), GetParam());
  ASSERT_TRUE(rig.a.ok());
  ASSERT_TRUE(rig.p.ok());
  rig.listener = make_listener(rig.p, rig.incoming);
  ASSERT_NT(STATUS_SUCCESS, listen_on(rig.listener, wildcard_of(rig.p, 0)));
  uint16_t port = port_of(listener_address(rig.listener));
  // Two IPs of the loopback range on loopback; a tcp adapter owns exactly its URI's IP.
  std::vector<std::string> owned = {ip_of(rig.p.local())};
  if (is_loopback(GetParam()) && rig.p.adapter().family() == AF_INET) owned.push_back("127.0.0.5");
  for (const std::string& ip : owned) {
    SCOPED_TRACE(ip);
    HandshakeSpec spec;
    Established e;
    ASSERT_NO_FATAL_FAILURE(establish(rig.a, rig.a.qp(), rig.p, rig.p.qp(), rig.incoming,
                                      ip_addr(ip.c_str(), port), spec, &e));
    sockaddr_storage local = connector_local(e.passive);
    EXPECT_EQ(ip, ip_of(local));
    EXPECT_EQ(port, port_of(local));
  }
}

// ---------------------------------------------------------------------------------------------
// Shared endpoints (2.3.5, 2.10, 2.11.2, 4.5.6)

TEST_P(ListenerConformance, shared_endpoint_on_port_zero_reports_an_ephemeral_port) {
  Node n(GetParam());
  ASSERT_TRUE(n.ok());
  int families = 0;
  for (int family : {AF_INET, AF_INET6}) {
    SCOPED_TRACE(family == AF_INET ? "IPv4" : "IPv6");
    if (!n.adapter().owns_family(family)) continue;  // tcp: the URI's family only
    ++families;
    NDK_SHARED_ENDPOINT* se = nullptr;
    ASSERT_NT(STATUS_SUCCESS, n.shared_endpoint(n.local(family), &se));
    const ULONG needed = family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    sockaddr_storage a{};
    ULONG length = sizeof a;
    ASSERT_NT(STATUS_SUCCESS, se->Dispatch->NdkGetLocalAddress(se, sa(a), &length));
    EXPECT_EQ(needed, length);
    EXPECT_EQ(family, a.ss_family);
    EXPECT_EQ(ip_of(n.local(family)), ip_of(a));
    EXPECT_GE(port_of(a), kEphemeralFirst);
    length = 4;
    EXPECT_NT(STATUS_BUFFER_TOO_SMALL, se->Dispatch->NdkGetLocalAddress(se, sa(a), &length));
    EXPECT_EQ(needed, length);
  }
  EXPECT_LE(1, families) << "the adapter owns no address of either family";
}

TEST_P(ListenerConformance, shared_endpoint_on_ip_the_adapter_does_not_own_is_invalid_address) {
  NDKTEST_SKIP_UNLESS_LOOPBACK(GetParam(), "the addr= option (an adapter owning 10.1.2.3)");
  Node owns_one(uri("addr=10.1.2.3"));
  Node plain(GetParam());
  ASSERT_TRUE(owns_one.ok());
  ASSERT_TRUE(plain.ok());
  NDK_SHARED_ENDPOINT* se = nullptr;
  EXPECT_NT(STATUS_INVALID_ADDRESS, owns_one.shared_endpoint(ip_addr("127.0.0.1", 0), &se));
  EXPECT_NT(STATUS_INVALID_ADDRESS, plain.shared_endpoint(ip_addr("10.1.2.3", 0), &se));
  EXPECT_NT(STATUS_SUCCESS, owns_one.shared_endpoint(ip_addr("10.1.2.3", 0), &se));
}

// Two listeners on the passive node; `count` connections through one shared endpoint.
struct SharedRig {
  explicit SharedRig(const std::string& uri) : a(uri), p(uri) {}
  Node a;
  Incoming in1, in2;
  Node p;
  NDK_LISTENER* l1 = nullptr;
  NDK_LISTENER* l2 = nullptr;
  sockaddr_storage d1{}, d2{};
  NDK_SHARED_ENDPOINT* se = nullptr;
  sockaddr_storage se_address{};
  void start() {
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(p.ok());
    l1 = make_listener(p, in1);
    l2 = make_listener(p, in2);
    ASSERT_NT(STATUS_SUCCESS, listen_on(l1, p.local()));
    ASSERT_NT(STATUS_SUCCESS, listen_on(l2, p.local()));
    d1 = listener_address(l1);
    d2 = listener_address(l2);
    ASSERT_NE(port_of(d1), port_of(d2));
    ASSERT_NT(STATUS_SUCCESS, a.shared_endpoint(a.local(), &se));
    se_address = shared_endpoint_address(se);
  }
};

TEST_P(ListenerConformance, connections_through_one_shared_endpoint_share_its_local_port) {
  SharedRig r(GetParam());
  ASSERT_NO_FATAL_FAILURE(r.start());
  NDK_QP* q1 = r.a.qp();
  NDK_QP* q2 = r.a.qp();
  NDK_QP* p1 = r.p.qp();
  NDK_QP* p2 = r.p.qp();
  HandshakeSpec spec;
  spec.shared = r.se;
  Established e1, e2;
  ASSERT_NO_FATAL_FAILURE(establish(r.a, q1, r.p, p1, r.in1, r.d1, spec, &e1));
  ASSERT_NO_FATAL_FAILURE(establish(r.a, q2, r.p, p2, r.in2, r.d2, spec, &e2));
  const uint16_t port = port_of(r.se_address);
  EXPECT_EQ(port, port_of(connector_local(e1.active)));
  EXPECT_EQ(port, port_of(connector_local(e2.active)));
  EXPECT_EQ(port, port_of(connector_peer(e1.passive)));
  EXPECT_EQ(port, port_of(connector_peer(e2.passive)));
  EXPECT_EQ(port_of(r.d1), port_of(connector_peer(e1.active)));
  EXPECT_EQ(port_of(r.d2), port_of(connector_peer(e2.active)));
  ASSERT_NO_FATAL_FAILURE(ping(r.a, q1, r.p, p1, 0x71));
  ASSERT_NO_FATAL_FAILURE(ping(r.a, q2, r.p, p2, 0x72));
}

TEST_P(ListenerConformance, second_connection_to_one_listener_via_shared_endpoint_is_address_already_exists) {
  SharedRig r(GetParam());
  ASSERT_NO_FATAL_FAILURE(r.start());
  HandshakeSpec spec;
  spec.shared = r.se;
  Established e1;
  ASSERT_NO_FATAL_FAILURE(establish(r.a, r.a.qp(), r.p, r.p.qp(), r.in1, r.d1, spec, &e1));
  NDK_QP* q = r.a.qp();
  Op connect;
  start_connect_shared(connect, r.a.connector(), q, r.se, r.d1);
  EXPECT_NT(STATUS_ADDRESS_ALREADY_EXISTS, connect.result());
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(1, r.in1.events.load()) << "the duplicate 4-tuple must not reach the listener";
  // The other destination is fine, with the same QP.
  Established e2;
  ASSERT_NO_FATAL_FAILURE(establish(r.a, q, r.p, r.p.qp(), r.in2, r.d2, spec, &e2));
}

TEST_P(ListenerConformance, shared_endpoint_close_pends_while_its_connectors_are_open) {
  SharedRig r(GetParam());
  ASSERT_NO_FATAL_FAILURE(r.start());
  NDK_QP* q = r.a.qp();
  NDK_QP* pq = r.p.qp();
  HandshakeSpec spec;
  spec.shared = r.se;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(r.a, q, r.p, pq, r.in1, r.d1, spec, &e));
  r.a.forget(r.se);
  CloseOp se_close;
  EXPECT_NT(STATUS_PENDING, se_close.start(r.se));
  EXPECT_FALSE(se_close.wait(kQuiet)) << "closed while a connector still uses it";
  ASSERT_NO_FATAL_FAILURE(ping(r.a, q, r.p, pq, 0x19)) << "the connection must keep working";
  // Its address:port is still reserved.
  NDK_SHARED_ENDPOINT* again = nullptr;
  EXPECT_NT(STATUS_SHARING_VIOLATION, r.a.shared_endpoint(r.se_address, &again));
  r.a.forget(e.active);
  CloseOp connector_close;
  connector_close.start(e.active);
  ASSERT_TRUE(connector_close.wait());
  ASSERT_TRUE(se_close.wait()) << "shared endpoint close did not complete";
  EXPECT_LT(connector_close.seq_begin(), se_close.seq_end());
  EXPECT_NT(STATUS_SUCCESS, r.a.shared_endpoint(r.se_address, &again))
      << "the port should be free once every reference is gone";
}

// ---------------------------------------------------------------------------------------------
// Pause / resume (2.12.3, 6 item 38)

TEST_P(ListenerConformance, paused_listener_refuses_without_event_and_resumed_listener_accepts) {
  Rig rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.start());
  rig.listener->Dispatch->NdkControlConnectEvents(rig.listener, TRUE);
  Op refused;
  start_connect(refused, rig.a.connector(), rig.a.qp(), rig.a.local(), rig.dest);
  EXPECT_NT(STATUS_CONNECTION_REFUSED, refused.result());
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(0, rig.incoming.events.load()) << "a paused listener delivered a connect event";
  // Not queued for later either.
  rig.listener->Dispatch->NdkControlConnectEvents(rig.listener, FALSE);
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(0, rig.incoming.events.load()) << "the refused request was delivered on resume";
  NDK_QP* aqp = rig.a.qp();
  NDK_QP* pqp = rig.p.qp();
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig.a, aqp, rig.p, pqp, rig.incoming, rig.dest, spec, &e));
  EXPECT_EQ(1, rig.incoming.events.load());
  ASSERT_NO_FATAL_FAILURE(ping(rig.a, aqp, rig.p, pqp, 0x29));
}

// ---------------------------------------------------------------------------------------------
// Listener close (2.2.1, 4.5.4, 4.5.6)

TEST_P(ListenerConformance, listener_close_refuses_new_requests_and_pends_while_its_connector_is_open) {
  Rig rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.start());
  NDK_QP* aqp = rig.a.qp();
  NDK_QP* pqp = rig.p.qp();
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig.a, aqp, rig.p, pqp, rig.incoming, rig.dest, spec, &e));
  rig.p.forget(rig.listener);
  CloseOp listener_close;
  EXPECT_NT(STATUS_PENDING, listener_close.start(rig.listener));
  // Refused immediately, without an event.
  Op connect;
  start_connect(connect, rig.a.connector(), rig.a.qp(), rig.a.local(), rig.dest);
  EXPECT_NT(STATUS_CONNECTION_REFUSED, connect.result());
  EXPECT_EQ(1, rig.incoming.events.load());
  EXPECT_FALSE(listener_close.wait(kQuiet)) << "closed while a delivered connector is open";
  ASSERT_NO_FATAL_FAILURE(ping(rig.a, aqp, rig.p, pqp, 0x44)) << "accepted connection must live on";
  rig.p.forget(e.passive);
  CloseOp connector_close;
  connector_close.start(e.passive);
  ASSERT_TRUE(connector_close.wait());
  ASSERT_TRUE(listener_close.wait()) << "listener close did not complete";
  EXPECT_LT(connector_close.seq_begin(), listener_close.seq_end());
}

TEST_P(ListenerConformance, listener_port_stays_in_use_until_its_connectors_are_closed) {
  Rig rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.start());
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(
      establish(rig.a, rig.a.qp(), rig.p, rig.p.qp(), rig.incoming, rig.dest, spec, &e));
  rig.p.forget(rig.listener);
  CloseOp listener_close;
  listener_close.start(rig.listener);
  Incoming& second = rig.incoming2;
  NDK_LISTENER* l2 = make_listener(rig.p, second);
  EXPECT_NT(STATUS_SHARING_VIOLATION, listen_on(l2, rig.dest));
  NDK_SHARED_ENDPOINT* se = nullptr;
  EXPECT_NT(STATUS_SHARING_VIOLATION, rig.a.shared_endpoint(rig.dest, &se));
  EXPECT_TRUE(rig.p.close(e.passive));
  ASSERT_TRUE(listener_close.wait());
  NDK_LISTENER* l3 = make_listener(rig.p, second);
  ASSERT_NT(STATUS_SUCCESS, listen_on(l3, rig.dest)) << "the port should be free now";
  Established e2;
  ASSERT_NO_FATAL_FAILURE(
      establish(rig.a, rig.a.qp(), rig.p, rig.p.qp(), second, rig.dest, spec, &e2));
  EXPECT_EQ(1, rig.incoming.events.load()) << "the closed listener delivered an event";
}

TEST_P(ListenerConformance, listener_close_without_connectors_frees_its_port) {
  Rig rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.start());
  EXPECT_TRUE(rig.p.close(rig.listener));
  Incoming& second = rig.incoming2;
  NDK_LISTENER* l2 = make_listener(rig.p, second);
  ASSERT_NT(STATUS_SUCCESS, listen_on(l2, rig.dest));
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(
      establish(rig.a, rig.a.qp(), rig.p, rig.p.qp(), second, rig.dest, spec, &e));
  EXPECT_EQ(0, rig.incoming.events.load());
}

TEST_P(ListenerConformance, closing_unhandled_incoming_connector_refuses_requester_and_ends_listener_close) {
  Rig rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.start());
  NDK_CONNECTOR* c = rig.a.connector();
  Op connect;
  start_connect(connect, c, rig.a.qp(), rig.a.local(), rig.dest);
  NDK_CONNECTOR* in = rig.incoming.next();
  ASSERT_NE(nullptr, in);
  rig.p.forget(rig.listener);
  CloseOp listener_close;
  EXPECT_NT(STATUS_PENDING, listener_close.start(rig.listener));
  EXPECT_FALSE(listener_close.wait(kQuiet)) << "closed while an unhandled connector is open";
  EXPECT_FALSE(connect.done());
  EXPECT_TRUE(rig.p.close(in));
  NTSTATUS s = connect.result();
  EXPECT_TRUE(s == STATUS_CONNECTION_REFUSED || s == STATUS_CONNECTION_ABORTED) << status_name(s);
  EXPECT_TRUE(listener_close.wait());
}

// ---------------------------------------------------------------------------------------------
// Connect events (2.1.6, 4.5.3)

TEST_P(ListenerConformance, listener_delivers_one_event_per_request) {
  Rig rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.start());
  NDK_CONNECTOR* c1 = rig.a.connector();
  NDK_CONNECTOR* c2 = rig.a.connector();
  Op k1, k2;
  start_connect(k1, c1, rig.a.qp(), rig.a.local(), rig.dest);
  start_connect(k2, c2, rig.a.qp(), rig.a.local(), rig.dest);
  NDK_CONNECTOR* in1 = rig.incoming.next();
  NDK_CONNECTOR* in2 = rig.incoming.next();
  ASSERT_NE(nullptr, in1);
  ASSERT_NE(nullptr, in2);
  EXPECT_NE(in1, in2);
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(2, rig.incoming.events.load());
  EXPECT_NE(port_of(connector_peer(in1)), port_of(connector_peer(in2)));
  Op a1, a2;
  start_accept(a1, in1, rig.p.qp(), true, nullptr);
  start_accept(a2, in2, rig.p.qp(), false, nullptr);
  ASSERT_NT(STATUS_SUCCESS, k1.result());
  ASSERT_NT(STATUS_SUCCESS, k2.result());
  Op f1, f2;
  start_complete(f1, c1, true, nullptr);
  start_complete(f2, c2, false, nullptr);
  EXPECT_NT(STATUS_SUCCESS, f1.result());
  EXPECT_NT(STATUS_SUCCESS, f2.result());
  EXPECT_NT(STATUS_SUCCESS, a1.result());
  EXPECT_NT(STATUS_SUCCESS, a2.result());
}

// Repeated: an immediate accept makes the reply race with the requester's NdkConnect.
// Regression test for a provider bug fixed earlier (see git history).
TEST_P(ListenerConformance, accept_inside_connect_event_callback_establishes_the_connection) {
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    DisconnectEvents pev;  // outlive the rig
    Rig rig(GetParam(), GetParam());
    ASSERT_NO_FATAL_FAILURE(rig.start());
    NDK_QP* aqp = rig.a.qp();
    NDK_QP* pqp = rig.p.qp();
    std::vector<uint8_t> request = pattern_bytes(12, 0x50);
    std::vector<uint8_t> reply = pattern_bytes(24, 0x80);
    Op accept;
    NTSTATUS data_status = kNoCompletion, peer_status = kNoCompletion;
    std::vector<uint8_t> seen(request.size(), 0);
    ULONG rds = 0;
    rig.incoming.on_event = [&](NDK_CONNECTOR* in) {
      ULONG length = 0;
      in->Dispatch->NdkGetConnectionData(in, nullptr, nullptr, nullptr, &length);
      rds = length;
      std::vector<uint8_t> all(length, 0xEE);
      data_status = in->Dispatch->NdkGetConnectionData(in, nullptr, nullptr, all.data(), &length);
      std::copy(all.begin(), all.begin() + std::min(all.size(), seen.size()), seen.begin());
      sockaddr_storage peer{};
      ULONG peer_length = sizeof peer;
      peer_status = in->Dispatch->NdkGetPeerAddress(in, sa(peer), &peer_length);
      start_accept(accept, in, pqp, true, &pev, 8, 8, reply.data(),
                   static_cast<ULONG>(reply.size()));
    };
    NDK_CONNECTOR* c = rig.a.connector();
    Op connect;
    start_connect(connect, c, aqp, rig.a.local(), rig.dest, 8, 8, request.data(),
                  static_cast<ULONG>(request.size()));
    ASSERT_NE(nullptr, rig.incoming.next());
    EXPECT_NT(STATUS_SUCCESS, data_status);
    EXPECT_EQ(rig.p.info().MaxCallerData, rds);
    EXPECT_EQ(request, seen);
    EXPECT_NT(STATUS_SUCCESS, peer_status);
    ASSERT_TRUE(accept.returned() == STATUS_PENDING || accept.returned() == STATUS_SUCCESS)
        << status_name(accept.returned());
    ASSERT_NT(STATUS_SUCCESS, connect.result());
    std::vector<uint8_t> got(reply.size(), 0);
    ULONG length = static_cast<ULONG>(got.size());
    EXPECT_NT(STATUS_BUFFER_TOO_SMALL,
              c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, got.data(), &length));
    EXPECT_EQ(reply, got);
    Op complete;
    start_complete(complete, c, true, nullptr);
    ASSERT_NT(STATUS_SUCCESS, complete.result());
    ASSERT_NT(STATUS_SUCCESS, accept.result());
    ASSERT_NO_FATAL_FAILURE(ping(rig.a, aqp, rig.p, pqp, 0x93));
    EXPECT_NT(STATUS_SUCCESS, disconnect(c));
    EXPECT_TRUE(wait_until([&] { return pev.count.load() == 1; }));
  }
}

TEST_P(ListenerConformance, reject_inside_connect_event_callback_refuses_with_private_data) {
  Rig rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.start());
  std::vector<uint8_t> why = pattern_bytes(16, 0xC0);
  NTSTATUS reject_status = kNoCompletion;
  rig.incoming.on_event = [&](NDK_CONNECTOR* in) {
    reject_status = in->Dispatch->NdkReject(in, why.data(), static_cast<ULONG>(why.size()));
  };
  NDK_CONNECTOR* c = rig.a.connector();
  Op connect;
  start_connect(connect, c, rig.a.qp(), rig.a.local(), rig.dest);
  ASSERT_NE(nullptr, rig.incoming.next());
  EXPECT_NT(STATUS_SUCCESS, reject_status);
  EXPECT_NT(STATUS_CONNECTION_REFUSED, connect.result());
  std::vector<uint8_t> got(why.size(), 0);
  ULONG length = static_cast<ULONG>(got.size());
  EXPECT_NT(STATUS_BUFFER_TOO_SMALL,
            c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, got.data(), &length));
  EXPECT_EQ(rig.a.info().MaxCalleeData, length);
  EXPECT_EQ(why, got);
}

INSTANTIATE_TEST_SUITE_P(Lsn, ListenerConformance, ::testing::ValuesIn(ndktest::test_uris()));
INSTANTIATE_TEST_SUITE_P(LsnPending, ListenerConformance, ::testing::ValuesIn(pending_uris()));

}  // namespace
