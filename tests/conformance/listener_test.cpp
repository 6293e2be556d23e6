// Listeners and endpoints (Microsoft's NDKPI reference): listen addresses and ports, address
// conflicts across the fabric,
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
sockaddr_storage wildcard_of(PdCqFixture& n, uint16_t port) {
  return ip_addr(n.family() == AF_INET6 ? "::" : "0.0.0.0", port);
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
    PdCqFixture n(GetParam());
    ASSERT_TRUE(n.ok());
    if (!n.owns_family(family)) continue;
    ++families;
    NDK_LISTENER* l = n.create_listener(incoming);
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
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE, listen_on(rig.listener, rig.passive.local()));
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE, listen_on(rig.listener, rig.destination));
  // Still listening where it was.
  EXPECT_EQ(port_of(rig.destination), port_of(listener_address(rig.listener)));
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
}

TEST_P(ListenerConformance, listen_on_ip_the_adapter_does_not_own_is_invalid_address) {
  NDKTEST_SKIP_UNLESS_LOOPBACK(GetParam(), "the addr= option (an adapter owning 10.1.2.3)");
  Incoming i1, i2;
  PdCqFixture owns_one(uri("addr=10.1.2.3"));
  PdCqFixture plain(GetParam());
  ASSERT_TRUE(owns_one.ok());
  ASSERT_TRUE(plain.ok());
  NDK_LISTENER* l1 = owns_one.create_listener(i1);
  EXPECT_NT(STATUS_INVALID_ADDRESS, listen_on(l1, ip_addr("127.0.0.1", 0)));
  NDK_LISTENER* l1b = owns_one.create_listener(i1);
  EXPECT_NT(STATUS_INVALID_ADDRESS, listen_on(l1b, ip_addr("::1", 0)));
  NDK_LISTENER* l2 = plain.create_listener(i2);
  EXPECT_NT(STATUS_INVALID_ADDRESS, listen_on(l2, ip_addr("10.1.2.3", 0)));
}

TEST_P(ListenerConformance, adapter_owning_one_ip_listens_there_and_other_adapters_connect) {
  NDKTEST_SKIP_UNLESS_LOOPBACK(GetParam(), "the addr= option (an adapter owning 10.1.2.3)");
  ConnectedPairFixture rig(GetParam(), uri("addr=10.1.2.3"));
  ASSERT_TRUE(rig.active.ok());
  ASSERT_TRUE(rig.passive.ok());
  rig.listener = rig.passive.create_listener(rig.incoming);
  ASSERT_NT(STATUS_SUCCESS, listen_on(rig.listener, ip_addr("10.1.2.3", 0)));
  rig.destination = listener_address(rig.listener);
  EXPECT_EQ("10.1.2.3", ip_of(rig.destination));
  NDK_QP* aqp = rig.active.create_qp();
  NDK_QP* pqp = rig.passive.create_qp();
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp, pqp));
  EXPECT_EQ("10.1.2.3", ip_of(connector_local(e.passive)));
  EXPECT_EQ("10.1.2.3", ip_of(connector_peer(e.active)));
  ASSERT_NO_FATAL_FAILURE(ping(rig.active, aqp, rig.passive, pqp, 0x31));
}

// ---------------------------------------------------------------------------------------------
// Conflicts (4.5.1): every live endpoint of the fabric counts

TEST_P(ListenerConformance, listen_on_address_held_by_a_listener_is_sharing_violation) {
  Incoming i1, i2;
  PdCqFixture n(GetParam());
  PdCqFixture other(GetParam());
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE(other.ok());
  NDK_LISTENER* l1 = n.create_listener(i1);
  ASSERT_NT(STATUS_SUCCESS, listen_on(l1, n.local()));
  sockaddr_storage held = listener_address(l1);
  EXPECT_NT(STATUS_SHARING_VIOLATION, listen_on(n.create_listener(i1), held));
  EXPECT_NT(STATUS_SHARING_VIOLATION, listen_on(other.create_listener(i2), held))
      << "another adapter of the fabric";
  NDK_SHARED_ENDPOINT* se = nullptr;
  EXPECT_NT(STATUS_SHARING_VIOLATION, other.create_shared_endpoint(held, &se));
  // Another IP with the same port is a different address (needs a second IP of the adapter:
  // the loopback fabric owns 127.0.0.0/8; a tcp adapter owns only its URI's IP).
  if (is_loopback(GetParam())) {
    EXPECT_NT(STATUS_SUCCESS,
              listen_on(other.create_listener(i2), ip_addr("127.0.0.2", port_of(held))));
  }
}

TEST_P(ListenerConformance, listen_on_address_held_by_a_shared_endpoint_is_sharing_violation) {
  Incoming incoming;
  PdCqFixture n(GetParam());
  ASSERT_TRUE(n.ok());
  NDK_SHARED_ENDPOINT* se = nullptr;
  ASSERT_NT(STATUS_SUCCESS, n.create_shared_endpoint(n.local(), &se));
  sockaddr_storage held = shared_endpoint_address(se);
  EXPECT_NT(STATUS_SHARING_VIOLATION, listen_on(n.create_listener(incoming), held));
  EXPECT_NT(STATUS_SHARING_VIOLATION,
            listen_on(n.create_listener(incoming), wildcard_of(n, port_of(held))));
  NDK_SHARED_ENDPOINT* se2 = nullptr;
  EXPECT_NT(STATUS_SHARING_VIOLATION, n.create_shared_endpoint(held, &se2));
}

TEST_P(ListenerConformance, listen_on_address_held_by_a_connector_is_sharing_violation) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
  sockaddr_storage held = connector_local(e.active);
  ASSERT_NE(0, port_of(held));
  EXPECT_NT(STATUS_SHARING_VIOLATION, listen_on(rig.passive.create_listener(rig.incoming2), held));
  NDK_SHARED_ENDPOINT* se = nullptr;
  EXPECT_NT(STATUS_SHARING_VIOLATION, rig.active.create_shared_endpoint(held, &se));
  Op connect;
  start_connect(connect, rig.active.create_connector(), rig.active.create_qp(), held,
                rig.destination);
  EXPECT_NT(STATUS_SHARING_VIOLATION, connect.result());
}

TEST_P(ListenerConformance, wildcard_and_specific_listens_on_one_port_conflict) {
  Incoming incoming;
  PdCqFixture n(GetParam());
  ASSERT_TRUE(n.ok());
  {
    SCOPED_TRACE("wildcard first");
    NDK_LISTENER* wild = n.create_listener(incoming);
    ASSERT_NT(STATUS_SUCCESS, listen_on(wild, wildcard_of(n, 0)));
    uint16_t port = port_of(listener_address(wild));
    EXPECT_GE(port, kEphemeralFirst);
    EXPECT_NT(STATUS_SHARING_VIOLATION,
              listen_on(n.create_listener(incoming), with_port(n.local(), port)));
  }
  {
    SCOPED_TRACE("specific first");
    NDK_LISTENER* specific = n.create_listener(incoming);
    ASSERT_NT(STATUS_SUCCESS, listen_on(specific, n.local()));
    uint16_t port = port_of(listener_address(specific));
    EXPECT_NT(STATUS_SHARING_VIOLATION,
              listen_on(n.create_listener(incoming), wildcard_of(n, port)));
  }
}

TEST_P(ListenerConformance, wildcard_listener_receives_connections_for_every_owned_ip) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_TRUE(rig.active.ok());
  ASSERT_TRUE(rig.passive.ok());
  rig.listener = rig.passive.create_listener(rig.incoming);
  ASSERT_NT(STATUS_SUCCESS, listen_on(rig.listener, wildcard_of(rig.passive, 0)));
  uint16_t port = port_of(listener_address(rig.listener));
  // Two IPs of the loopback range on loopback; a tcp adapter owns exactly its URI's IP.
  std::vector<std::string> owned = {ip_of(rig.passive.local())};
  if (is_loopback(GetParam()) && rig.passive.family() == AF_INET) owned.push_back("127.0.0.5");
  for (const std::string& ip : owned) {
    SCOPED_TRACE(ip);
    HandshakeSpec spec;
    Established e;
    ASSERT_NO_FATAL_FAILURE(establish(rig.active, rig.active.create_qp(), rig.passive,
                                      rig.passive.create_qp(), rig.incoming,
                                      ip_addr(ip.c_str(), port), spec, &e));
    sockaddr_storage local = connector_local(e.passive);
    EXPECT_EQ(ip, ip_of(local));
    EXPECT_EQ(port, port_of(local));
  }
}

// ---------------------------------------------------------------------------------------------
// Shared endpoints (2.3.5, 2.10, 2.11.2, 4.5.6)

TEST_P(ListenerConformance, shared_endpoint_on_port_zero_reports_an_ephemeral_port) {
  PdCqFixture n(GetParam());
  ASSERT_TRUE(n.ok());
  int families = 0;
  for (int family : {AF_INET, AF_INET6}) {
    SCOPED_TRACE(family == AF_INET ? "IPv4" : "IPv6");
    if (!n.owns_family(family)) continue;  // tcp: the URI's family only
    ++families;
    NDK_SHARED_ENDPOINT* se = nullptr;
    ASSERT_NT(STATUS_SUCCESS, n.create_shared_endpoint(n.local(family), &se));
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
  PdCqFixture owns_one(uri("addr=10.1.2.3"));
  PdCqFixture plain(GetParam());
  ASSERT_TRUE(owns_one.ok());
  ASSERT_TRUE(plain.ok());
  NDK_SHARED_ENDPOINT* se = nullptr;
  EXPECT_NT(STATUS_INVALID_ADDRESS, owns_one.create_shared_endpoint(ip_addr("127.0.0.1", 0), &se));
  EXPECT_NT(STATUS_INVALID_ADDRESS, plain.create_shared_endpoint(ip_addr("10.1.2.3", 0), &se));
  EXPECT_NT(STATUS_SUCCESS, owns_one.create_shared_endpoint(ip_addr("10.1.2.3", 0), &se));
}

// A listening pair with a second listener on the passive side (events into incoming2) and a
// shared endpoint on the active side.
struct SharedEndpointPair : ConnectedPairFixture {
  explicit SharedEndpointPair(const std::string& uri) : ConnectedPairFixture(uri, uri) {}
  NDK_LISTENER* listener2 = nullptr;
  sockaddr_storage destination2{};
  NDK_SHARED_ENDPOINT* se = nullptr;
  sockaddr_storage se_address{};
  void start() {
    ASSERT_NO_FATAL_FAILURE(listen());
    listener2 = passive.create_listener(incoming2);
    ASSERT_NT(STATUS_SUCCESS, listen_on(listener2, passive.local()));
    destination2 = listener_address(listener2);
    ASSERT_NE(port_of(destination), port_of(destination2));
    ASSERT_NT(STATUS_SUCCESS, active.create_shared_endpoint(active.local(), &se));
    se_address = shared_endpoint_address(se);
  }
};

TEST_P(ListenerConformance, connections_through_one_shared_endpoint_share_its_local_port) {
  SharedEndpointPair r(GetParam());
  ASSERT_NO_FATAL_FAILURE(r.start());
  NDK_QP* q1 = r.active.create_qp();
  NDK_QP* q2 = r.active.create_qp();
  NDK_QP* p1 = r.passive.create_qp();
  NDK_QP* p2 = r.passive.create_qp();
  HandshakeSpec spec;
  spec.shared = r.se;
  Established e1, e2;
  ASSERT_NO_FATAL_FAILURE(establish(r, spec, &e1, q1, p1));
  ASSERT_NO_FATAL_FAILURE(
      establish(r.active, q2, r.passive, p2, r.incoming2, r.destination2, spec, &e2));
  const uint16_t port = port_of(r.se_address);
  EXPECT_EQ(port, port_of(connector_local(e1.active)));
  EXPECT_EQ(port, port_of(connector_local(e2.active)));
  EXPECT_EQ(port, port_of(connector_peer(e1.passive)));
  EXPECT_EQ(port, port_of(connector_peer(e2.passive)));
  EXPECT_EQ(port_of(r.destination), port_of(connector_peer(e1.active)));
  EXPECT_EQ(port_of(r.destination2), port_of(connector_peer(e2.active)));
  ASSERT_NO_FATAL_FAILURE(ping(r.active, q1, r.passive, p1, 0x71));
  ASSERT_NO_FATAL_FAILURE(ping(r.active, q2, r.passive, p2, 0x72));
}

TEST_P(ListenerConformance, second_connection_to_one_listener_via_shared_endpoint_is_address_already_exists) {
  SharedEndpointPair r(GetParam());
  ASSERT_NO_FATAL_FAILURE(r.start());
  HandshakeSpec spec;
  spec.shared = r.se;
  Established e1;
  ASSERT_NO_FATAL_FAILURE(establish(r, spec, &e1));
  NDK_QP* q = r.active.create_qp();
  Op connect;
  start_connect_shared(connect, r.active.create_connector(), q, r.se, r.destination);
  EXPECT_NT(STATUS_ADDRESS_ALREADY_EXISTS, connect.result());
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(1, r.incoming.count()) << "the duplicate 4-tuple must not reach the listener";
  // The other destination is fine, with the same QP.
  Established e2;
  ASSERT_NO_FATAL_FAILURE(establish(r.active, q, r.passive, r.passive.create_qp(), r.incoming2,
                                    r.destination2, spec, &e2));
}

TEST_P(ListenerConformance, shared_endpoint_close_pends_while_its_connectors_are_open) {
  SharedEndpointPair r(GetParam());
  ASSERT_NO_FATAL_FAILURE(r.start());
  NDK_QP* q = r.active.create_qp();
  NDK_QP* pq = r.passive.create_qp();
  HandshakeSpec spec;
  spec.shared = r.se;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(r, spec, &e, q, pq));
  r.active.forget(r.se);
  CloseOp se_close;
  EXPECT_NT(STATUS_PENDING, se_close.start(r.se));
  EXPECT_FALSE(se_close.wait(kQuiet)) << "closed while a connector still uses it";
  ASSERT_NO_FATAL_FAILURE(ping(r.active, q, r.passive, pq, 0x19))
      << "the connection must keep working";
  // Its address:port is still reserved.
  NDK_SHARED_ENDPOINT* again = nullptr;
  EXPECT_NT(STATUS_SHARING_VIOLATION, r.active.create_shared_endpoint(r.se_address, &again));
  r.active.forget(e.active);
  CloseOp connector_close;
  connector_close.start(e.active);
  ASSERT_TRUE(connector_close.wait());
  ASSERT_TRUE(se_close.wait()) << "shared endpoint close did not complete";
  EXPECT_LT(connector_close.seq_begin(), se_close.seq_end());
  EXPECT_NT(STATUS_SUCCESS, r.active.create_shared_endpoint(r.se_address, &again))
      << "the port should be free once every reference is gone";
}

// ---------------------------------------------------------------------------------------------
// Pause / resume (2.12.3, 6 item 38)

TEST_P(ListenerConformance, paused_listener_refuses_without_event_and_resumed_listener_accepts) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  rig.listener->Dispatch->NdkControlConnectEvents(rig.listener, TRUE);
  Op refused;
  start_connect(refused, rig.active.create_connector(), rig.active.create_qp(), rig.active.local(),
                rig.destination);
  EXPECT_NT(STATUS_CONNECTION_REFUSED, refused.result());
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(0, rig.incoming.count()) << "a paused listener delivered a connect event";
  // Not queued for later either.
  rig.listener->Dispatch->NdkControlConnectEvents(rig.listener, FALSE);
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(0, rig.incoming.count()) << "the refused request was delivered on resume";
  NDK_QP* aqp = rig.active.create_qp();
  NDK_QP* pqp = rig.passive.create_qp();
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp, pqp));
  EXPECT_EQ(1, rig.incoming.count());
  ASSERT_NO_FATAL_FAILURE(ping(rig.active, aqp, rig.passive, pqp, 0x29));
}

// ---------------------------------------------------------------------------------------------
// Listener close (2.2.1, 4.5.4, 4.5.6)

TEST_P(ListenerConformance, listener_close_refuses_new_requests_and_pends_while_its_connector_is_open) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  NDK_QP* aqp = rig.active.create_qp();
  NDK_QP* pqp = rig.passive.create_qp();
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e, aqp, pqp));
  rig.passive.forget(rig.listener);
  CloseOp listener_close;
  EXPECT_NT(STATUS_PENDING, listener_close.start(rig.listener));
  // Refused immediately, without an event.
  Op connect;
  start_connect(connect, rig.active.create_connector(), rig.active.create_qp(), rig.active.local(),
                rig.destination);
  EXPECT_NT(STATUS_CONNECTION_REFUSED, connect.result());
  EXPECT_EQ(1, rig.incoming.count());
  EXPECT_FALSE(listener_close.wait(kQuiet)) << "closed while a delivered connector is open";
  ASSERT_NO_FATAL_FAILURE(ping(rig.active, aqp, rig.passive, pqp, 0x44))
      << "accepted connection must live on";
  rig.passive.forget(e.passive);
  CloseOp connector_close;
  connector_close.start(e.passive);
  ASSERT_TRUE(connector_close.wait());
  ASSERT_TRUE(listener_close.wait()) << "listener close did not complete";
  EXPECT_LT(connector_close.seq_begin(), listener_close.seq_end());
}

TEST_P(ListenerConformance, listener_port_stays_in_use_until_its_connectors_are_closed) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig, spec, &e));
  rig.passive.forget(rig.listener);
  CloseOp listener_close;
  listener_close.start(rig.listener);
  Incoming& second = rig.incoming2;
  NDK_LISTENER* l2 = rig.passive.create_listener(second);
  EXPECT_NT(STATUS_SHARING_VIOLATION, listen_on(l2, rig.destination));
  NDK_SHARED_ENDPOINT* se = nullptr;
  EXPECT_NT(STATUS_SHARING_VIOLATION, rig.active.create_shared_endpoint(rig.destination, &se));
  EXPECT_TRUE(rig.passive.close(e.passive));
  ASSERT_TRUE(listener_close.wait());
  NDK_LISTENER* l3 = rig.passive.create_listener(second);
  ASSERT_NT(STATUS_SUCCESS, listen_on(l3, rig.destination)) << "the port should be free now";
  Established e2;
  ASSERT_NO_FATAL_FAILURE(establish(rig.active, rig.active.create_qp(), rig.passive,
                                    rig.passive.create_qp(), second, rig.destination, spec, &e2));
  EXPECT_EQ(1, rig.incoming.count()) << "the closed listener delivered an event";
}

TEST_P(ListenerConformance, listener_close_without_connectors_frees_its_port) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  EXPECT_TRUE(rig.passive.close(rig.listener));
  Incoming& second = rig.incoming2;
  NDK_LISTENER* l2 = rig.passive.create_listener(second);
  ASSERT_NT(STATUS_SUCCESS, listen_on(l2, rig.destination));
  HandshakeSpec spec;
  Established e;
  ASSERT_NO_FATAL_FAILURE(establish(rig.active, rig.active.create_qp(), rig.passive,
                                    rig.passive.create_qp(), second, rig.destination, spec, &e));
  EXPECT_EQ(0, rig.incoming.count());
}

TEST_P(ListenerConformance, closing_unhandled_incoming_connector_refuses_requester_and_ends_listener_close) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  PendingConnect pending;
  ASSERT_NO_FATAL_FAILURE(start_pending_connect(rig, &pending));
  auto& [c, in, connect] = pending;
  rig.passive.forget(rig.listener);
  CloseOp listener_close;
  EXPECT_NT(STATUS_PENDING, listener_close.start(rig.listener));
  EXPECT_FALSE(listener_close.wait(kQuiet)) << "closed while an unhandled connector is open";
  EXPECT_FALSE(connect.done());
  EXPECT_TRUE(rig.passive.close(in));
  NTSTATUS s = connect.result();
  EXPECT_TRUE(s == STATUS_CONNECTION_REFUSED || s == STATUS_CONNECTION_ABORTED) << status_name(s);
  EXPECT_TRUE(listener_close.wait());
}

// ---------------------------------------------------------------------------------------------
// Connect events (2.1.6, 4.5.3)

TEST_P(ListenerConformance, listener_delivers_one_event_per_request) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  NDK_CONNECTOR* c1 = rig.active.create_connector();
  NDK_CONNECTOR* c2 = rig.active.create_connector();
  Op k1, k2;
  start_connect(k1, c1, rig.active.create_qp(), rig.active.local(), rig.destination);
  start_connect(k2, c2, rig.active.create_qp(), rig.active.local(), rig.destination);
  NDK_CONNECTOR* in1 = rig.incoming.next();
  NDK_CONNECTOR* in2 = rig.incoming.next();
  ASSERT_NE(nullptr, in1);
  ASSERT_NE(nullptr, in2);
  EXPECT_NE(in1, in2);
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(2, rig.incoming.count());
  EXPECT_NE(port_of(connector_peer(in1)), port_of(connector_peer(in2)));
  Op a1, a2;
  start_accept(a1, in1, rig.passive.create_qp(), true, nullptr);
  start_accept(a2, in2, rig.passive.create_qp(), false, nullptr);
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
    ConnectedPairFixture rig(GetParam(), GetParam());
    ASSERT_NO_FATAL_FAILURE(rig.listen());
    NDK_QP* aqp = rig.active.create_qp();
    NDK_QP* pqp = rig.passive.create_qp();
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
    NDK_CONNECTOR* c = rig.active.create_connector();
    Op connect;
    start_connect(connect, c, aqp, rig.active.local(), rig.destination, 8, 8, request.data(),
                  static_cast<ULONG>(request.size()));
    ASSERT_NE(nullptr, rig.incoming.next());
    EXPECT_NT(STATUS_SUCCESS, data_status);
    EXPECT_EQ(rig.passive.info().MaxCallerData, rds);
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
    ASSERT_NO_FATAL_FAILURE(ping(rig.active, aqp, rig.passive, pqp, 0x93));
    EXPECT_NT(STATUS_SUCCESS, disconnect(c));
    EXPECT_TRUE(wait_until([&] { return pev.count.load() == 1; }));
  }
}

TEST_P(ListenerConformance, reject_inside_connect_event_callback_refuses_with_private_data) {
  ConnectedPairFixture rig(GetParam(), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  std::vector<uint8_t> why = pattern_bytes(16, 0xC0);
  NTSTATUS reject_status = kNoCompletion;
  rig.incoming.on_event = [&](NDK_CONNECTOR* in) {
    reject_status = in->Dispatch->NdkReject(in, why.data(), static_cast<ULONG>(why.size()));
  };
  NDK_CONNECTOR* c = rig.active.create_connector();
  Op connect;
  start_connect(connect, c, rig.active.create_qp(), rig.active.local(), rig.destination);
  ASSERT_NE(nullptr, rig.incoming.next());
  EXPECT_NT(STATUS_SUCCESS, reject_status);
  EXPECT_NT(STATUS_CONNECTION_REFUSED, connect.result());
  std::vector<uint8_t> got(why.size(), 0);
  ULONG length = static_cast<ULONG>(got.size());
  EXPECT_NT(STATUS_BUFFER_TOO_SMALL,
            c->Dispatch->NdkGetConnectionData(c, nullptr, nullptr, got.data(), &length));
  EXPECT_EQ(rig.active.info().MaxCalleeData, length);
  EXPECT_EQ(why, got);
}

INSTANTIATE_TEST_SUITE_P(Lsn, ListenerConformance, ::testing::ValuesIn(ndktest::test_uris()));
INSTANTIATE_TEST_SUITE_P(LsnPending, ListenerConformance, ::testing::ValuesIn(pending_uris()));

}  // namespace
