// Helpers for the connection-management conformance tests (connection_test.cpp,
// listener_test.cpp) and the tcp transport tests: socket addresses, one asynchronous request or
// close whose outcome (inline or through its callback), callback count and completion order can
// be inspected (Op, CloseOp: ndkxx Requests that keep their state for the life of the process,
// so a late or second callback is counted, not a crash), the legs of the handshake on them, and
// the three-leg handshake with inspection points and order checks. The nodes and pairs are the
// fixture ladder's (fixtures.h). Public ABI only (include/softndk, through src/ndkxx).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "fixtures.h"
#include "ndk_test.h"
#include "transport_helpers.h"

namespace conntest {

using namespace ndktest;
using namespace std::chrono_literals;

// "How long we watch for something that must NOT happen" (a completion that must still be
// pending, an event that must not arrive). Positive waits use ndktest::kTimeout.
constexpr auto kQuiet = std::chrono::milliseconds(60);

// Marker returned by Op::result() when the completion never came.
constexpr NTSTATUS kNoCompletion = static_cast<NTSTATUS>(0xE0DEAD01u);

inline bool is_loopback(const std::string& uri) { return is_loopback_uri(uri); }

// ---------------------------------------------------------------------------------------------
// Addresses (ndkxx/address.h)

using ndkxx::ip_of;
using ndkxx::port_of;
using ndkxx::with_port;

inline sockaddr_storage ip_addr(const char* ip, uint16_t port) {
  return ndkxx::ip_address(ip, port);
}
inline ULONG addr_len(const sockaddr_storage& s) { return ndkxx::address_length(s); }
inline sockaddr* sa(sockaddr_storage& s) { return ndkxx::as_sockaddr(s); }

// ---------------------------------------------------------------------------------------------
// Requests and closes with an observable outcome and order

// One asynchronous request: inline status or STATUS_PENDING followed by exactly one callback;
// a callback after an inline return or a second one fails the test (at destruction).
class Op : public ndkxx::Request {
 public:
  Op() : ndkxx::Request(ndkxx::Retention::Process) {}
  ~Op() {
    if (!started()) return;
    int count = callbacks();
    // A callback after an inline (non-pending) return breaks the NDK contract (0.3).
    if (!pended() && count != 0)
      ADD_FAILURE() << "completion callback after inline return " << status_name(returned());
    if (pended() && count > 1) ADD_FAILURE() << "completion callback called " << count << " times";
  }
  bool pending() const { return pended(); }
  // True when done within `timeout`.
  bool wait(std::chrono::milliseconds timeout = kTimeout) {
    return Request::wait(ndkxx::Wait{timeout});
  }
  // The final status: the inline one, or the callback's (kNoCompletion after a timeout).
  NTSTATUS result(std::chrono::milliseconds timeout = kTimeout) {
    if (!started()) {
      ADD_FAILURE() << "request never started";
      return kNoCompletion;
    }
    ndkxx::Outcome outcome = finish(ndkxx::Wait{timeout});
    if (outcome.timed_out) {
      ADD_FAILURE() << "request completion did not arrive within the timeout";
      return kNoCompletion;
    }
    return outcome.status;
  }
  // Position of the completion in ndkxx::next_order(): the callback's (0 while not done), or
  // for an inline result the call's start (seq_begin) or return (seq_end). "A ended before B
  // ended" is A.seq_end() < B.seq_end(); "B ended after A began" is A.seq_begin() < B.seq_end().
  uint64_t seq_begin() const { return begin_order(); }
  uint64_t seq_end() const { return end_order(); }
};

// The close of one object (slot 0 of every dispatch table except the adapter's); a close that
// returns anything but STATUS_SUCCESS/STATUS_PENDING, a completion after an inline return or a
// second one fails the test (at destruction).
class CloseOp : public ndkxx::Request {
 public:
  CloseOp() : ndkxx::Request(ndkxx::Retention::Process) {}
  ~CloseOp() {
    if (!started()) return;
    if (!pended() && callbacks() != 0)
      ADD_FAILURE() << "close completion after an inline STATUS_SUCCESS";
    if (!pended() && returned() != STATUS_SUCCESS)
      ADD_FAILURE() << "a close returned " << status_name(returned());
    if (callbacks() > 1) ADD_FAILURE() << "close completion called " << callbacks() << " times";
  }
  // Returns the close's own status (STATUS_SUCCESS or STATUS_PENDING).
  NTSTATUS start(void* object) { return start_close(object); }
  bool wait(std::chrono::milliseconds timeout = kTimeout) {
    return Request::wait(ndkxx::Wait{timeout});
  }
  uint64_t seq_begin() const { return begin_order(); }
  uint64_t seq_end() const { return end_order(); }
};

// ---------------------------------------------------------------------------------------------
// Listening and addresses

inline NTSTATUS listen_on(NDK_LISTENER* listener, const sockaddr_storage& address) {
  ndkxx::Outcome outcome = ndkxx::listen(listener, address, ndkxx::Wait{kTimeout});
  if (outcome.timed_out) ADD_FAILURE() << "request completion did not arrive within the timeout";
  return outcome.status;
}

inline sockaddr_storage listener_address(NDK_LISTENER* listener) {
  sockaddr_storage a{};
  EXPECT_NT(STATUS_SUCCESS, ndkxx::local_address(listener, &a));
  return a;
}

inline sockaddr_storage connector_local(NDK_CONNECTOR* c) {
  sockaddr_storage a{};
  EXPECT_NT(STATUS_SUCCESS, ndkxx::local_address(c, &a));
  return a;
}

inline sockaddr_storage connector_peer(NDK_CONNECTOR* c) {
  sockaddr_storage a{};
  EXPECT_NT(STATUS_SUCCESS, ndkxx::peer_address(c, &a));
  return a;
}

// ---------------------------------------------------------------------------------------------
// The legs (ndkxx/connection.h) on Ops

// Starts NdkConnect from `source` (port 0 unless given) to `destination`.
inline NTSTATUS start_connect(Op& op, NDK_CONNECTOR* c, NDK_QP* qp, const sockaddr_storage& source,
                              const sockaddr_storage& destination, ULONG inbound = 8,
                              ULONG outbound = 8, const void* data = nullptr,
                              ULONG data_length = 0) {
  return ndkxx::start_connect(op, c, qp, source, destination,
                              {inbound, outbound, data, data_length});
}

inline NTSTATUS start_connect_shared(Op& op, NDK_CONNECTOR* c, NDK_QP* qp,
                                     NDK_SHARED_ENDPOINT* endpoint,
                                     const sockaddr_storage& destination, ULONG inbound = 8,
                                     ULONG outbound = 8) {
  return ndkxx::start_connect(op, c, qp, endpoint, destination, {inbound, outbound});
}

inline NTSTATUS start_accept(Op& op, NDK_CONNECTOR* c, NDK_QP* qp, bool ex,
                             DisconnectEvents* events, ULONG inbound = 8, ULONG outbound = 8,
                             const void* data = nullptr, ULONG data_length = 0) {
  return ndkxx::start_accept(op, c, qp, {inbound, outbound, data, data_length}, {events, ex});
}

inline NTSTATUS start_complete(Op& op, NDK_CONNECTOR* c, bool ex, DisconnectEvents* events) {
  return ndkxx::start_complete_connect(op, c, {events, ex});
}

inline NTSTATUS disconnect(NDK_CONNECTOR* c) {
  Op op;
  op.start([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    return c->Dispatch->NdkDisconnect(c, cb, ctx);
  });
  return op.result();
}

// ---------------------------------------------------------------------------------------------
// The three-leg handshake (4.5.5) between `a` (active) and a listener of `p` (passive).

struct HandshakeSpec {
  bool complete_ex = true;
  bool accept_ex = true;
  ULONG active_inbound = 8, active_outbound = 8;
  ULONG passive_inbound = 8, passive_outbound = 8;
  std::vector<uint8_t> connect_data, accept_data;
  DisconnectEvents* active_events = nullptr;
  DisconnectEvents* passive_events = nullptr;
  // Checks that the connect waits for the accept and the accept for the complete-connect.
  bool check_order = false;
  // Inspection points: on the incoming connector before the accept, on the active connector
  // after its connect completed and before NdkCompleteConnect(Ex).
  std::function<void(NDK_CONNECTOR*)> on_incoming;
  std::function<void(NDK_CONNECTOR*)> on_replied;
  sockaddr_storage source{};  // family 0: the node's default local address, port 0
  NDK_SHARED_ENDPOINT* shared = nullptr;  // set: NdkConnectWithSharedEndpoint instead
};

struct Established {
  NDK_CONNECTOR* active = nullptr;
  NDK_CONNECTOR* passive = nullptr;
};

// ndkxx::establish() on Ops, with the spec's inspection points and order checks. Fatal failures
// inside: call through ASSERT_NO_FATAL_FAILURE.
inline void establish(PdCqFixture& a, NDK_QP* aqp, PdCqFixture& p, NDK_QP* pqp, Incoming& incoming,
                      const sockaddr_storage& destination, const HandshakeSpec& spec,
                      Established* out) {
  (void)p;  // the passive node: its listener delivers into `incoming`, which tracks connectors
  ASSERT_NE(nullptr, aqp);
  ASSERT_NE(nullptr, pqp);
  NDK_CONNECTOR* c = a.create_connector();
  ASSERT_NE(nullptr, c);
  out->active = c;
  if (spec.shared != nullptr) {
    ASSERT_TRUE(spec.connect_data.empty()) << "not supported with a shared endpoint here";
  }
  ndkxx::Handshake h;
  h.connector = c;
  h.active_qp = aqp;
  h.source = spec.source.ss_family != 0 ? spec.source : a.local(destination.ss_family);
  h.endpoint = spec.shared;
  h.destination = destination;
  h.connect = {spec.active_inbound, spec.active_outbound,
               spec.connect_data.empty() ? nullptr : spec.connect_data.data(),
               static_cast<ULONG>(spec.connect_data.size())};
  h.active_disconnect = {spec.active_events, spec.complete_ex};
  h.incoming = &incoming;
  h.passive_qp = pqp;
  h.accept = {spec.passive_inbound, spec.passive_outbound,
              spec.accept_data.empty() ? nullptr : spec.accept_data.data(),
              static_cast<ULONG>(spec.accept_data.size())};
  h.passive_disconnect = {spec.passive_events, spec.accept_ex};
  h.on_incoming = [&](NDK_CONNECTOR* in, ndkxx::Request& connect) {
    out->passive = in;
    if (spec.on_incoming) spec.on_incoming(in);
    if (spec.check_order) {
      EXPECT_FALSE(connect.wait(ndkxx::Wait{kQuiet}))
          << "connect completed before the peer accepted";
    }
  };
  h.on_replied = [&](NDK_CONNECTOR* active, ndkxx::Request& accept) {
    if (spec.on_replied) spec.on_replied(active);
    if (spec.check_order) {
      EXPECT_FALSE(accept.wait(ndkxx::Wait{kQuiet}))
          << "accept completed before NdkCompleteConnect";
    }
  };
  Op connect, accept, complete;
  ndkxx::Established e = ndkxx::establish(h, connect, accept, complete, ndkxx::Wait{kTimeout});
  if (e.passive != nullptr) out->passive = e.passive;
  ASSERT_NT(STATUS_SUCCESS, e.status) << e.step;
}

// establish() between the active QP `aqp` and the passive QP `pqp` of `pair` (nullptr: a new
// one) through its listener (listening first unless the pair does). Fatal failures inside: call
// through ASSERT_NO_FATAL_FAILURE.
inline void establish(ConnectedPairFixture& pair, const HandshakeSpec& spec, Established* out,
                      NDK_QP* aqp = nullptr, NDK_QP* pqp = nullptr) {
  if (pair.listener == nullptr) {
    ASSERT_NO_FATAL_FAILURE(pair.listen());
  }
  if (aqp == nullptr) aqp = pair.active.create_qp();
  if (pqp == nullptr) pqp = pair.passive.create_qp();
  establish(pair.active, aqp, pair.passive, pqp, pair.incoming, pair.destination, spec, out);
}

// Sends `bytes` of `pattern` from one connected QP to the other and checks the receive.
inline void ping(PdCqFixture& from, NDK_QP* from_qp, PdCqFixture& to, NDK_QP* to_qp,
                 unsigned char pattern, ULONG bytes = 64) {
  Region tx(from.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, pattern);
  Region rx(to.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, 0);
  ASSERT_NT(STATUS_SUCCESS, tx.status());
  ASSERT_NT(STATUS_SUCCESS, rx.status());
  ASSERT_NT(STATUS_SUCCESS, post_receive(to_qp, rx, 0, 4096, (void*)0x5EC));
  ASSERT_NT(STATUS_SUCCESS, post_send(from_qp, tx, 0, bytes, (void*)0x5E0));
  std::vector<NDK_RESULT_EX> results;
  if (&from == &to) {
    ASSERT_TRUE(from.cq.collect(&results, 2)) << "missing send/receive completions";
  } else {
    ASSERT_TRUE(from.cq.collect(&results, 1)) << "no send completion";
    ASSERT_TRUE(to.cq.collect(&results, 2)) << "no receive completion";
  }
  int sends = 0, receives = 0;
  for (const NDK_RESULT_EX& r : results) {
    EXPECT_NT(STATUS_SUCCESS, r.Status);
    if (r.Type == NdkOperationTypeSend) {
      ++sends;
      EXPECT_EQ((void*)0x5E0, r.RequestContext);
    } else {
      ++receives;
      EXPECT_EQ(NdkOperationTypeReceive, r.Type);
      EXPECT_EQ((void*)0x5EC, r.RequestContext);
      EXPECT_EQ(bytes, r.BytesTransferred);
    }
  }
  EXPECT_EQ(1, sends);
  EXPECT_EQ(1, receives);
  for (ULONG i = 0; i < bytes; ++i) ASSERT_EQ(pattern, rx.data()[i]) << "byte " << i;
}

// A connect delivered and not answered yet: NdkConnect started on `connector` from a new active
// QP of a pair to its listener, the delivered connector taken from the connect events.
struct PendingConnect {
  NDK_CONNECTOR* connector = nullptr;
  NDK_CONNECTOR* incoming = nullptr;
  Op connect;
};

// Listens first unless the pair does. Fatal failures inside: call through
// ASSERT_NO_FATAL_FAILURE.
inline void start_pending_connect(ConnectedPairFixture& pair, PendingConnect* out,
                                  const void* data = nullptr, ULONG data_length = 0) {
  if (pair.listener == nullptr) {
    ASSERT_NO_FATAL_FAILURE(pair.listen());
  }
  out->connector = pair.active.create_connector();
  ASSERT_NE(nullptr, out->connector);
  start_connect(out->connect, out->connector, pair.active.create_qp(), pair.active.local(),
                pair.destination, 8, 8, data, data_length);
  out->incoming = pair.incoming.next();
  ASSERT_NE(nullptr, out->incoming);
}

inline std::vector<uint8_t> pattern_bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + 1);
  return v;
}

}  // namespace conntest
