// Helpers for the connection-management conformance tests (connection_test.cpp,
// listener_test.cpp): URIs with extra options, socket addresses, one asynchronous request or
// close whose outcome (inline or through its callback) and completion order can be inspected,
// a "node" (adapter + PD + CQ + QPs/connectors/listeners it closes in a valid order), a
// connect-event sink and a full three-leg handshake. Public ABI only (include/softndk).
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// ---------------------------------------------------------------------------------------------
// URIs

inline std::string with_option(const std::string& uri, const std::string& option) {
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + option;
}

// The test URIs with "pending=always": every asynchronous function returns STATUS_PENDING.
inline std::vector<std::string> pending_uris() {
  std::vector<std::string> out;
  for (const std::string& uri : test_uris()) out.push_back(with_option(uri, "pending=always"));
  return out;
}

inline bool is_loopback(const std::string& uri) {
  return is_loopback_uri(uri);
}

// ---------------------------------------------------------------------------------------------
// Addresses

inline sockaddr_storage ip_addr(const char* ip, uint16_t port) {
  sockaddr_storage s{};
  if (std::strchr(ip, ':') != nullptr) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&s);
    in6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip, &in6->sin6_addr);
    in6->sin6_port = htons(port);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&s);
    in->sin_family = AF_INET;
    inet_pton(AF_INET, ip, &in->sin_addr);
    in->sin_port = htons(port);
  }
  return s;
}

inline ULONG addr_len(const sockaddr_storage& s) {
  return s.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

inline uint16_t port_of(const sockaddr_storage& s) {
  if (s.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&s)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&s)->sin_port);
}

inline sockaddr_storage with_port(sockaddr_storage s, uint16_t port) {
  if (s.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&s)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&s)->sin_port = htons(port);
  }
  return s;
}

inline std::string ip_of(const sockaddr_storage& s) {
  char text[INET6_ADDRSTRLEN] = {};
  if (s.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&s)->sin6_addr, text, sizeof text);
  } else if (s.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&s)->sin_addr, text, sizeof text);
  } else {
    return "family " + std::to_string(s.ss_family);
  }
  return text;
}

inline sockaddr* sa(sockaddr_storage& s) { return reinterpret_cast<sockaddr*>(&s); }

// ---------------------------------------------------------------------------------------------
// Requests and closes with an observable outcome and order

// Global order of callbacks (and of inline close returns), to check "X completes before Y".
inline std::atomic<uint64_t>& sequence() {
  static std::atomic<uint64_t> counter{0};
  return counter;
}

struct OpState {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  int count = 0;
  NTSTATUS status = STATUS_PENDING;
  uint64_t seq = 0;

  void fire(NTSTATUS s) {
    std::lock_guard lock(mutex);
    status = s;
    done = true;
    ++count;
    seq = ++sequence();
    cv.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, timeout, [&] { return done; });
  }
};

// Callback contexts stay valid for the life of the process (a late or duplicate callback from a
// buggy provider then lands in live memory and is counted instead of corrupting the heap).
inline std::shared_ptr<OpState> new_op_state() {
  static std::mutex mutex;
  static auto* keep = new std::vector<std::shared_ptr<OpState>>;
  auto state = std::make_shared<OpState>();
  std::lock_guard lock(mutex);
  keep->push_back(state);
  return state;
}

// One asynchronous request: inline status or STATUS_PENDING followed by exactly one callback.
class Op {
 public:
  Op() : state_(new_op_state()) {}
  ~Op() {
    if (!started_) return;
    int count = callbacks();
    // A callback after an inline (non-pending) return breaks the NDK contract (0.3).
    if (returned_ != STATUS_PENDING && count != 0)
      ADD_FAILURE() << "completion callback after inline return " << status_name(returned_);
    if (returned_ == STATUS_PENDING && count > 1)
      ADD_FAILURE() << "completion callback called " << count << " times";
  }
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;

  static void callback(void* context, NTSTATUS status) {
    static_cast<OpState*>(context)->fire(status);
  }
  void* context() { return state_.get(); }

  template <class F>
  NTSTATUS start(F&& f) {
    started_ = true;
    // An inline result takes effect somewhere inside the call: seq_begin()/seq_end() bracket it.
    begin_seq_ = ++sequence();
    returned_ = f(&Op::callback, context());
    end_seq_ = ++sequence();
    return returned_;
  }
  NTSTATUS returned() const { return returned_; }
  bool pending() const { return returned_ == STATUS_PENDING; }
  bool done() const {
    if (!started_) return false;
    if (returned_ != STATUS_PENDING) return true;
    std::lock_guard lock(state_->mutex);
    return state_->done;
  }
  // True when done within `timeout`.
  bool wait(std::chrono::milliseconds timeout = kTimeout) {
    if (!started_) return false;
    if (returned_ != STATUS_PENDING) return true;
    return state_->wait(timeout);
  }
  // The final status: the inline one, or the callback's (kNoCompletion after a timeout).
  NTSTATUS result(std::chrono::milliseconds timeout = kTimeout) {
    if (!started_) {
      ADD_FAILURE() << "request never started";
      return kNoCompletion;
    }
    if (returned_ != STATUS_PENDING) return returned_;
    if (!state_->wait(timeout)) {
      ADD_FAILURE() << "request completion did not arrive within the timeout";
      return kNoCompletion;
    }
    std::lock_guard lock(state_->mutex);
    return state_->status;
  }
  int callbacks() const {
    std::lock_guard lock(state_->mutex);
    return state_->count;
  }
  // Position of the completion in sequence(): the callback's (0 while not done), or for an
  // inline result the call's start (seq_begin) or return (seq_end). "A ended before B ended"
  // is A.seq_end() < B.seq_end(); "B ended after A began" is A.seq_begin() < B.seq_end().
  uint64_t seq_begin() const { return returned_ != STATUS_PENDING ? begin_seq_ : callback_seq(); }
  uint64_t seq_end() const { return returned_ != STATUS_PENDING ? end_seq_ : callback_seq(); }

 private:
  std::shared_ptr<OpState> state_;
  bool started_ = false;
  NTSTATUS returned_ = STATUS_PENDING;
  uint64_t begin_seq_ = 0, end_seq_ = 0;
  uint64_t callback_seq() const {
    std::lock_guard lock(state_->mutex);
    return state_->seq;
  }
};

// The close of one object (slot 0 of every dispatch table except the adapter's).
class CloseOp {
 public:
  CloseOp() : state_(new_op_state()) {}
  ~CloseOp() {
    if (!started_) return;
    std::lock_guard lock(state_->mutex);
    if (returned_ != STATUS_PENDING && state_->count != 0)
      ADD_FAILURE() << "close completion after an inline STATUS_SUCCESS";
    if (returned_ != STATUS_PENDING && returned_ != STATUS_SUCCESS)
      ADD_FAILURE() << "a close returned " << status_name(returned_);
    if (state_->count > 1) ADD_FAILURE() << "close completion called " << state_->count << " times";
  }
  CloseOp(const CloseOp&) = delete;
  CloseOp& operator=(const CloseOp&) = delete;
  static void callback(void* context) { static_cast<OpState*>(context)->fire(STATUS_SUCCESS); }
  // Returns the close's own status (STATUS_SUCCESS or STATUS_PENDING).
  NTSTATUS start(void* object) {
    auto* header = static_cast<NDK_OBJECT_HEADER*>(object);
    auto* dispatch = *reinterpret_cast<NDK_FN_CLOSE_OBJECT* const*>(
        reinterpret_cast<char*>(object) + sizeof(NDK_OBJECT_HEADER));
    started_ = true;
    begin_seq_ = ++sequence();  // see Op::start
    returned_ = dispatch[0](header, &CloseOp::callback, state_.get());
    end_seq_ = ++sequence();
    return returned_;
  }
  NTSTATUS returned() const { return returned_; }
  bool done() const {
    if (returned_ != STATUS_PENDING) return started_;
    std::lock_guard lock(state_->mutex);
    return state_->done;
  }
  bool wait(std::chrono::milliseconds timeout = kTimeout) {
    if (!started_) return false;
    if (returned_ != STATUS_PENDING) return true;
    return state_->wait(timeout);
  }
  uint64_t seq_begin() const { return returned_ != STATUS_PENDING ? begin_seq_ : callback_seq(); }
  uint64_t seq_end() const { return returned_ != STATUS_PENDING ? end_seq_ : callback_seq(); }

 private:
  std::shared_ptr<OpState> state_;
  bool started_ = false;
  NTSTATUS returned_ = STATUS_PENDING;
  uint64_t begin_seq_ = 0, end_seq_ = 0;
  uint64_t callback_seq() const {
    std::lock_guard lock(state_->mutex);
    return state_->seq;
  }
};

// ---------------------------------------------------------------------------------------------
// A node: one adapter with a PD and a CQ, and the objects a test creates on it. Everything
// still tracked is closed at destruction in the recommended order (connectors, listeners and
// shared endpoints, QPs, PD, CQ, adapter). Declare Regions after the nodes they use.

class Node {
 public:
  explicit Node(const std::string& uri) : adapter_(std::make_unique<Adapter>(uri)) {
    if (adapter_->get() == nullptr) {
      ADD_FAILURE() << "adapter open failed for " << uri << ": "
                    << status_name(adapter_->open_status());
      return;
    }
    NTSTATUS s = sync_create<NDK_PD>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_PD** out) {
          return d()->NdkCreatePd(adapter_->get(), cb, ctx, out);
        },
        &pd);
    if (s != STATUS_SUCCESS) {
      ADD_FAILURE() << "create PD: " << status_name(s);
      return;
    }
    s = cq.create(*adapter_, 4096);
    if (s != STATUS_SUCCESS) {
      ADD_FAILURE() << "create CQ: " << status_name(s);
      return;
    }
    ok_ = true;
  }
  ~Node() {
    std::vector<void*> connectors, others, qps;
    {
      std::lock_guard lock(mutex_);
      connectors.swap(connectors_);
      others.swap(others_);
      qps.swap(qps_);
    }
    for (void* o : connectors) close_object(o);
    for (void* o : others) close_object(o);
    for (void* o : qps) close_object(o);
    close_object(pd);
    pd = nullptr;
    // cq closes in its own destructor, then the adapter.
  }
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  bool ok() const { return ok_; }
  Adapter& adapter() { return *adapter_; }
  const NDK_ADAPTER_INFO& info() const { return adapter_->info(); }
  const NDK_ADAPTER_DISPATCH* d() const { return adapter_->d(); }
  // A local address of the adapter with port 0 (Adapter::local_address: AF_UNSPEC is the
  // adapter's own family).
  sockaddr_storage local(int family = AF_UNSPEC) const { return adapter_->local_address(family); }

  NDK_QP* qp(ULONG depth = 64) {
    NDK_QP* qp = nullptr;
    void* context = reinterpret_cast<void*>(static_cast<uintptr_t>(0x1000 + qp_serial_++));
    NTSTATUS s = sync_create<NDK_QP>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_QP** out) {
          return pd->Dispatch->NdkCreateQp(pd, cq.cq, cq.cq, context, depth, depth, 4, 4, 128, cb,
                                           ctx, out);
        },
        &qp);
    EXPECT_NT(STATUS_SUCCESS, s);
    if (s != STATUS_SUCCESS) return nullptr;
    std::lock_guard lock(mutex_);
    qps_.push_back(qp);
    return qp;
  }
  NDK_CONNECTOR* connector() {
    NDK_CONNECTOR* c = nullptr;
    NTSTATUS s = sync_create<NDK_CONNECTOR>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_CONNECTOR** out) {
          return d()->NdkCreateConnector(adapter_->get(), cb, ctx, out);
        },
        &c);
    EXPECT_NT(STATUS_SUCCESS, s);
    if (s != STATUS_SUCCESS) return nullptr;
    adopt(c);
    return c;
  }
  NDK_LISTENER* listener(NDK_FN_CONNECT_EVENT_CALLBACK callback, void* context) {
    NDK_LISTENER* l = nullptr;
    NTSTATUS s = sync_create<NDK_LISTENER>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_LISTENER** out) {
          return d()->NdkCreateListener(adapter_->get(), callback, context, cb, ctx, out);
        },
        &l);
    EXPECT_NT(STATUS_SUCCESS, s);
    if (s != STATUS_SUCCESS) return nullptr;
    std::lock_guard lock(mutex_);
    others_.push_back(l);
    return l;
  }
  NTSTATUS shared_endpoint(const sockaddr_storage& address, NDK_SHARED_ENDPOINT** out) {
    sockaddr_storage a = address;
    *out = nullptr;
    NTSTATUS s = sync_create<NDK_SHARED_ENDPOINT>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_SHARED_ENDPOINT** o) {
          return d()->NdkCreateSharedEndpoint(adapter_->get(), sa(a), addr_len(a), cb, ctx, o);
        },
        out);
    if (s == STATUS_SUCCESS && *out != nullptr) {
      std::lock_guard lock(mutex_);
      others_.push_back(*out);
    } else {
      *out = nullptr;
    }
    return s;
  }
  // Tracks a connector (one delivered by a listener of this node's adapter).
  void adopt(NDK_CONNECTOR* c) {
    std::lock_guard lock(mutex_);
    connectors_.push_back(c);
  }
  // Stops tracking an object the test closes itself.
  void forget(void* object) {
    std::lock_guard lock(mutex_);
    for (auto* list : {&connectors_, &others_, &qps_})
      list->erase(std::remove(list->begin(), list->end(), object), list->end());
  }
  // Closes (waiting for a pending close) and forgets.
  bool close(void* object) {
    forget(object);
    return close_object(object);
  }

 private:
  std::unique_ptr<Adapter> adapter_;  // first member: closed last (after cq)

 public:
  NDK_PD* pd = nullptr;
  Cq cq;

 private:
  bool ok_ = false;
  int qp_serial_ = 0;
  std::mutex mutex_;
  std::vector<void*> connectors_, others_, qps_;
};

// ---------------------------------------------------------------------------------------------
// Connect events: queued for the test; `on_event` (optional) runs inside the callback first.

class Incoming {
 public:
  static void callback(void* context, NDK_CONNECTOR* connector) {
    auto* self = static_cast<Incoming*>(context);
    if (self->owner_ != nullptr) self->owner_->adopt(connector);  // ours from now on (2.1.6)
    self->events.fetch_add(1);
    if (self->on_event) self->on_event(connector);
    std::lock_guard lock(self->mutex_);
    self->queue_.push_back(connector);
    self->cv_.notify_all();
  }
  // The next delivered connector; nullptr on timeout.
  NDK_CONNECTOR* next(std::chrono::milliseconds timeout = kTimeout) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [&] { return !queue_.empty(); })) return nullptr;
    NDK_CONNECTOR* c = queue_.front();
    queue_.pop_front();
    return c;
  }
  void set_owner(Node* owner) { owner_ = owner; }
  std::atomic<int> events{0};
  std::function<void(NDK_CONNECTOR*)> on_event;

 private:
  Node* owner_ = nullptr;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<NDK_CONNECTOR*> queue_;
};

// A listener of `node` whose delivered connectors `node` tracks (declare `incoming` before
// `node` so that it outlives the listener).
inline NDK_LISTENER* make_listener(Node& node, Incoming& incoming) {
  incoming.set_owner(&node);
  return node.listener(&Incoming::callback, &incoming);
}

inline NTSTATUS listen_on(NDK_LISTENER* listener, const sockaddr_storage& address) {
  sockaddr_storage a = address;
  return sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    return listener->Dispatch->NdkListen(listener, sa(a), addr_len(a), cb, ctx);
  });
}

inline sockaddr_storage listener_address(NDK_LISTENER* listener) {
  sockaddr_storage a{};
  ULONG length = sizeof a;
  NTSTATUS s = listener->Dispatch->NdkGetLocalAddress(listener, sa(a), &length);
  EXPECT_NT(STATUS_SUCCESS, s);
  return a;
}

inline sockaddr_storage connector_local(NDK_CONNECTOR* c) {
  sockaddr_storage a{};
  ULONG length = sizeof a;
  NTSTATUS s = c->Dispatch->NdkGetLocalAddress(c, sa(a), &length);
  EXPECT_NT(STATUS_SUCCESS, s);
  return a;
}

inline sockaddr_storage connector_peer(NDK_CONNECTOR* c) {
  sockaddr_storage a{};
  ULONG length = sizeof a;
  NTSTATUS s = c->Dispatch->NdkGetPeerAddress(c, sa(a), &length);
  EXPECT_NT(STATUS_SUCCESS, s);
  return a;
}

// Starts NdkConnect from `source` (port 0 unless given) to `destination`.
inline NTSTATUS start_connect(Op& op, NDK_CONNECTOR* c, NDK_QP* qp, const sockaddr_storage& source,
                              const sockaddr_storage& destination, ULONG inbound = 8,
                              ULONG outbound = 8, const void* data = nullptr,
                              ULONG data_length = 0) {
  sockaddr_storage src = source, dst = destination;
  return op.start([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    return c->Dispatch->NdkConnect(c, qp, sa(src), addr_len(src), sa(dst), addr_len(dst), inbound,
                                   outbound, const_cast<void*>(data), data_length, cb, ctx);
  });
}

inline NTSTATUS start_connect_shared(Op& op, NDK_CONNECTOR* c, NDK_QP* qp,
                                     NDK_SHARED_ENDPOINT* endpoint,
                                     const sockaddr_storage& destination, ULONG inbound = 8,
                                     ULONG outbound = 8) {
  sockaddr_storage dst = destination;
  return op.start([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    return c->Dispatch->NdkConnectWithSharedEndpoint(c, qp, endpoint, sa(dst), addr_len(dst),
                                                     inbound, outbound, nullptr, 0, cb, ctx);
  });
}

inline NTSTATUS start_accept(Op& op, NDK_CONNECTOR* c, NDK_QP* qp, bool ex,
                             DisconnectEvents* events, ULONG inbound = 8, ULONG outbound = 8,
                             const void* data = nullptr, ULONG data_length = 0) {
  return op.start([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    if (ex)
      return c->Dispatch->NdkAcceptEx(c, qp, inbound, outbound, const_cast<void*>(data),
                                      data_length, events ? &DisconnectEvents::ex : nullptr,
                                      events, cb, ctx);
    return c->Dispatch->NdkAccept(c, qp, inbound, outbound, const_cast<void*>(data), data_length,
                                  events ? &DisconnectEvents::plain : nullptr, events, cb, ctx);
  });
}

inline NTSTATUS start_complete(Op& op, NDK_CONNECTOR* c, bool ex, DisconnectEvents* events) {
  return op.start([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    if (ex)
      return c->Dispatch->NdkCompleteConnectEx(c, events ? &DisconnectEvents::ex : nullptr, events,
                                               cb, ctx);
    return c->Dispatch->NdkCompleteConnect(c, events ? &DisconnectEvents::plain : nullptr, events,
                                           cb, ctx);
  });
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

// Fatal failures inside: call through ASSERT_NO_FATAL_FAILURE.
inline void establish(Node& a, NDK_QP* aqp, Node& p, NDK_QP* pqp, Incoming& incoming,
                      const sockaddr_storage& destination, const HandshakeSpec& spec,
                      Established* out) {
  (void)p;  // the passive node: its listener delivers into `incoming`, which tracks connectors
  ASSERT_NE(nullptr, aqp);
  ASSERT_NE(nullptr, pqp);
  NDK_CONNECTOR* c = a.connector();
  ASSERT_NE(nullptr, c);
  out->active = c;
  sockaddr_storage source =
      spec.source.ss_family != 0 ? spec.source : a.local(destination.ss_family);
  Op connect;
  NTSTATUS s;
  if (spec.shared != nullptr) {
    ASSERT_TRUE(spec.connect_data.empty()) << "not supported with a shared endpoint here";
    s = start_connect_shared(connect, c, aqp, spec.shared, destination, spec.active_inbound,
                             spec.active_outbound);
  } else {
    s = start_connect(connect, c, aqp, source, destination, spec.active_inbound,
                      spec.active_outbound,
                      spec.connect_data.empty() ? nullptr : spec.connect_data.data(),
                      static_cast<ULONG>(spec.connect_data.size()));
  }
  ASSERT_TRUE(s == STATUS_PENDING || s == STATUS_SUCCESS) << status_name(s);
  NDK_CONNECTOR* in = incoming.next();
  ASSERT_NE(nullptr, in) << "no connect event";
  out->passive = in;
  if (spec.on_incoming) spec.on_incoming(in);
  if (spec.check_order) {
    EXPECT_FALSE(connect.wait(kQuiet)) << "connect completed before the peer accepted";
  }
  Op accept;
  s = start_accept(accept, in, pqp, spec.accept_ex, spec.passive_events, spec.passive_inbound,
                   spec.passive_outbound,
                   spec.accept_data.empty() ? nullptr : spec.accept_data.data(),
                   static_cast<ULONG>(spec.accept_data.size()));
  ASSERT_TRUE(s == STATUS_PENDING || s == STATUS_SUCCESS) << status_name(s);
  ASSERT_NT(STATUS_SUCCESS, connect.result());
  if (spec.on_replied) spec.on_replied(c);
  if (spec.check_order) {
    EXPECT_FALSE(accept.wait(kQuiet)) << "accept completed before NdkCompleteConnect";
  }
  Op complete;
  start_complete(complete, c, spec.complete_ex, spec.active_events);
  ASSERT_NT(STATUS_SUCCESS, complete.result());
  ASSERT_NT(STATUS_SUCCESS, accept.result());
}

// Sends `bytes` of `pattern` from one connected QP to the other and checks the receive.
inline void ping(Node& from, NDK_QP* from_qp, Node& to, NDK_QP* to_qp, unsigned char pattern,
                 ULONG bytes = 64) {
  Region tx(from.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, pattern);
  Region rx(to.pd, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, 0);
  ASSERT_NT(STATUS_SUCCESS, tx.status);
  ASSERT_NT(STATUS_SUCCESS, rx.status);
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
  for (ULONG i = 0; i < bytes; ++i) ASSERT_EQ(pattern, rx.buffer.data()[i]) << "byte " << i;
}

// Two adapters: `a` connects, `p` listens (listener created and listening by start()).
struct Rig {
  Rig(const std::string& active_uri, const std::string& passive_uri)
      : a(active_uri), p(passive_uri) {}
  Node a;
  Incoming incoming;   // outlives p's listeners
  Incoming incoming2;  // for a second listener of p
  Node p;
  NDK_LISTENER* listener = nullptr;
  sockaddr_storage dest{};

  // Listens on p's local address of `family` (AF_UNSPEC: p's own family).
  // Fatal failures inside: call through ASSERT_NO_FATAL_FAILURE.
  void start(int family = AF_UNSPEC) {
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(p.ok());
    listener = make_listener(p, incoming);
    ASSERT_NE(nullptr, listener);
    ASSERT_NT(STATUS_SUCCESS, listen_on(listener, p.local(family)));
    dest = listener_address(listener);
    ASSERT_NE(0, port_of(dest));
  }
};

inline std::vector<uint8_t> pattern_bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + 1);
  return v;
}

}  // namespace conntest
