// Helpers for the adapter / object-lifetime / completion-queue conformance tests
// (adapter_test.cpp, lifetime_test.cpp, cq_test.cpp). Header-only, public ABI only, built on
// ndk_test.h: URI option editing, callback recorders, an instrumented CQ, object creation
// wrappers that handle both the inline and the STATUS_PENDING path, and a way to put a QpPair
// side's QP on a CQ of the test's choosing.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ndk_test.h"

namespace ndktest::acq {

using namespace std::chrono_literals;

// How long a "nothing happens" check watches. Callbacks that are due are delivered promptly,
// so a wrong one shows up well within this.
constexpr auto kQuiet = std::chrono::milliseconds(150);

inline void quiet(std::chrono::milliseconds d = kQuiet) { std::this_thread::sleep_for(d); }

// ---------------------------------------------------------------------------------------------
// URI options

// Returns `uri` with option key=value set (replacing an existing value of that key).
inline std::string with_option(const std::string& uri, const std::string& key,
                               const std::string& value) {
  auto q = uri.find('?');
  std::string base = q == std::string::npos ? uri : uri.substr(0, q);
  std::vector<std::pair<std::string, std::string>> options;
  if (q != std::string::npos) {
    std::string query = uri.substr(q + 1);
    size_t start = 0;
    while (start <= query.size()) {
      size_t end = query.find('&', start);
      if (end == std::string::npos) end = query.size();
      std::string item = query.substr(start, end - start);
      if (!item.empty()) {
        size_t eq = item.find('=');
        options.emplace_back(item.substr(0, eq),
                             eq == std::string::npos ? std::string() : item.substr(eq + 1));
      }
      start = end + 1;
    }
  }
  bool replaced = false;
  for (auto& [k, v] : options) {
    if (k == key) {
      v = value;
      replaced = true;
    }
  }
  if (!replaced) options.emplace_back(key, value);
  std::string out = base;
  for (size_t i = 0; i < options.size(); ++i)
    out += (i == 0 ? "?" : "&") + options[i].first + "=" + options[i].second;
  return out;
}

inline bool pends_always(const std::string& uri) {
  return uri.find("pending=always") != std::string::npos;
}

// The test URIs with every asynchronous function forced through STATUS_PENDING + callback.
inline std::vector<std::string> pending_uris() {
  std::vector<std::string> out;
  for (const std::string& uri : test_uris()) out.push_back(with_option(uri, "pending", "always"));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Recording callbacks

// An ordered, thread-safe log of named events (to check callback order).
struct EventLog {
  std::mutex mutex;
  std::vector<std::string> events;
  void add(const std::string& e) {
    std::lock_guard lock(mutex);
    events.push_back(e);
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mutex);
    return events;
  }
  // Index of the first occurrence, or -1.
  int index(const std::string& e) {
    std::lock_guard lock(mutex);
    auto it = std::find(events.begin(), events.end(), e);
    return it == events.end() ? -1 : static_cast<int>(it - events.begin());
  }
  int count(const std::string& e) {
    std::lock_guard lock(mutex);
    return static_cast<int>(std::count(events.begin(), events.end(), e));
  }
  std::string str() {
    std::lock_guard lock(mutex);
    std::string s;
    for (auto& e : events) s += e + " ";
    return s;
  }
};

// Counts invocations of a completion callback (request, create or close). Must outlive every
// callback it is given to.
struct Calls {
  std::atomic<int> count{0};
  std::atomic<NTSTATUS> status{STATUS_PENDING};
  std::atomic<NDK_OBJECT_HEADER*> object{nullptr};
  EventLog* log = nullptr;
  std::string name;
  std::chrono::milliseconds hold{0};  // sleep inside the callback (to widen race windows)

  Calls() = default;
  Calls(EventLog* l, std::string n) : log(l), name(std::move(n)) {}

  void hit() {
    if (log != nullptr) log->add(name + ":enter");
    if (hold.count() != 0) std::this_thread::sleep_for(hold);
    if (log != nullptr) log->add(name);
    count.fetch_add(1);
  }
  static void request(void* c, NTSTATUS s) {
    auto* self = static_cast<Calls*>(c);
    self->status = s;
    self->hit();
  }
  static void create(void* c, NTSTATUS s, NDK_OBJECT_HEADER* o) {
    auto* self = static_cast<Calls*>(c);
    self->status = s;
    self->object = o;
    self->hit();
  }
  static void close(void* c) { static_cast<Calls*>(c)->hit(); }
  bool wait(int n = 1, std::chrono::milliseconds timeout = kTimeout) {
    return wait_until([&] { return count.load() >= n; }, timeout);
  }
};

// Starts the close of `object` with `calls` as the completion; returns the close status.
inline NTSTATUS start_close(void* object, Calls* calls) {
  auto* header = static_cast<NDK_OBJECT_HEADER*>(object);
  auto* dispatch = *reinterpret_cast<NDK_FN_CLOSE_OBJECT* const*>(
      reinterpret_cast<char*>(object) + sizeof(NDK_OBJECT_HEADER));
  return dispatch[0](header, &Calls::close, calls);
}

// Owns raw NDK object pointers of a test and closes whatever is still open when it goes out of
// scope, newest first (a valid close order when successors are created after antecedents), so
// that a failing assertion never leaves an object open under an adapter whose (blocking) close
// would then wait forever. Declare it after the adapter. Set a slot to nullptr once the test
// closed the object itself.
class Objects {
 public:
  Objects() = default;
  Objects(const Objects&) = delete;
  Objects& operator=(const Objects&) = delete;
  ~Objects() { close_all(); }
  template <class T>
  T*& slot() {
    auto s = std::make_unique<Slot<T>>();
    T*& ref = s->object;
    slots_.push_back(std::move(s));
    return ref;
  }
  void close_all() {
    for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) (*it)->close();
  }

 private:
  struct SlotBase {
    virtual ~SlotBase() = default;
    virtual void close() = 0;
  };
  template <class T>
  struct Slot : SlotBase {
    T* object = nullptr;
    void close() override {
      if (object != nullptr) close_object(object);
      object = nullptr;
    }
  };
  std::vector<std::unique_ptr<SlotBase>> slots_;
};

// ---------------------------------------------------------------------------------------------
// Instrumented CQ

// Set while this thread is inside NdkArmCq (through NotifyCq::arm): a notification callback
// that sees it set was invoked synchronously from inside NdkArmCq.
inline thread_local bool t_inside_arm = false;

struct NotifyCq {
  NDK_CQ* cq = nullptr;
  std::atomic<int> calls{0};         // notification callbacks entered
  std::atomic<int> returned{0};      // notification callbacks returned
  std::atomic<int> running{0};
  std::atomic<int> overlaps{0};      // a callback entered while another was running
  std::atomic<int> inside_arm{0};    // a callback ran synchronously inside NdkArmCq
  std::atomic<int> after_close{0};   // a callback after the close completed
  std::atomic<bool> close_done{false};
  std::atomic<int> close_calls{0};
  std::atomic<NTSTATUS> last_status{STATUS_PENDING};
  std::atomic<std::thread::id> last_thread{};
  std::mutex statuses_mutex;
  std::vector<NTSTATUS> statuses;
  EventLog* log = nullptr;
  std::chrono::milliseconds hold{0};  // time spent inside each callback
  // Runs inside the callback (after the counters were updated), e.g. to drain and re-arm.
  std::function<void(NotifyCq&, NTSTATUS)> on_notify;

  NotifyCq() = default;
  NotifyCq(const NotifyCq&) = delete;
  NotifyCq& operator=(const NotifyCq&) = delete;
  ~NotifyCq() { close(); }

  static void notify(void* context, NTSTATUS status) {
    auto* self = static_cast<NotifyCq*>(context);
    if (self->running.fetch_add(1) != 0) self->overlaps.fetch_add(1);
    if (t_inside_arm) self->inside_arm.fetch_add(1);
    if (self->close_done.load()) self->after_close.fetch_add(1);
    if (self->log != nullptr) self->log->add("notify:enter");
    {
      std::lock_guard lock(self->statuses_mutex);
      self->statuses.push_back(status);
    }
    self->last_status = status;
    self->last_thread = std::this_thread::get_id();
    self->calls.fetch_add(1);
    if (self->hold.count() != 0) std::this_thread::sleep_for(self->hold);
    if (self->on_notify) self->on_notify(*self, status);
    if (self->log != nullptr) self->log->add("notify:exit");
    self->running.fetch_sub(1);
    self->returned.fetch_add(1);
  }
  static void closed(void* context) {
    auto* self = static_cast<NotifyCq*>(context);
    if (self->log != nullptr) self->log->add("cq:closed");
    self->close_calls.fetch_add(1);
    self->close_done = true;
  }

  NTSTATUS create(NDK_ADAPTER* adapter, ULONG depth) {
    return sync_create<NDK_CQ>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_CQ** out) {
          return adapter->Dispatch->NdkCreateCq(adapter, depth, &NotifyCq::notify, this, nullptr,
                                                cb, ctx, out);
        },
        &cq);
  }
  void arm(ULONG type) {
    t_inside_arm = true;
    cq->Dispatch->NdkArmCq(cq, type);
    t_inside_arm = false;
  }
  ULONG poll(NDK_RESULT_EX* r, ULONG n) { return cq->Dispatch->NdkGetCqResultsEx(cq, r, n); }
  ULONG poll_plain(NDK_RESULT* r, ULONG n) { return cq->Dispatch->NdkGetCqResults(cq, r, n); }
  // Drains everything currently in the CQ.
  std::vector<NDK_RESULT_EX> drain() {
    std::vector<NDK_RESULT_EX> out;
    NDK_RESULT_EX r[32];
    for (ULONG got; (got = poll(r, 32)) != 0;) out.insert(out.end(), r, r + got);
    return out;
  }
  // Collects exactly n results within the timeout (appends to *out).
  bool collect(std::vector<NDK_RESULT_EX>* out, size_t n, std::chrono::milliseconds timeout = kTimeout) {
    return wait_until(
        [&] {
          NDK_RESULT_EX r[32];
          ULONG got = poll(r, static_cast<ULONG>(std::min<size_t>(32, n - std::min(n, out->size()))));
          out->insert(out->end(), r, r + got);
          return out->size() >= n;
        },
        timeout);
  }
  bool wait_calls(int n, std::chrono::milliseconds timeout = kTimeout) {
    return wait_until([&] { return calls.load() >= n; }, timeout);
  }
  std::vector<NTSTATUS> status_list() {
    std::lock_guard lock(statuses_mutex);
    return statuses;
  }
  // Starts the close (close_done is set on completion). Returns the close status.
  NTSTATUS start_close() {
    NDK_CQ* c = cq;
    cq = nullptr;
    NTSTATUS s = c->Dispatch->NdkCloseCq(&c->Header, &NotifyCq::closed, this);
    if (s == STATUS_SUCCESS) {
      if (log != nullptr) log->add("cq:closed");
      close_done = true;
    }
    return s;
  }
  // Closes (if still open) and waits for the close to complete. False on timeout.
  bool close() {
    if (cq != nullptr) {
      NTSTATUS s = start_close();
      if (s != STATUS_SUCCESS && s != STATUS_PENDING) {
        ADD_FAILURE() << "CQ close returned " << status_name(s);
        return false;
      }
    }
    if (!wait_until([&] { return close_done.load(); })) {
      ADD_FAILURE() << "CQ close completion did not arrive";
      return false;
    }
    return true;
  }
};

// ---------------------------------------------------------------------------------------------
// Object creation (inline or pending)

inline void noop_cq_notify(void*, NTSTATUS) {}
inline void noop_connect_event(void*, NDK_CONNECTOR*) {}

inline NTSTATUS create_cq(NDK_ADAPTER* a, ULONG depth, NDK_CQ** out) {
  return sync_create<NDK_CQ>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_CQ** o) {
        return a->Dispatch->NdkCreateCq(a, depth, &noop_cq_notify, nullptr, nullptr, cb, ctx, o);
      },
      out);
}
inline NTSTATUS create_pd(NDK_ADAPTER* a, NDK_PD** out) {
  return sync_create<NDK_PD>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_PD** o) {
        return a->Dispatch->NdkCreatePd(a, cb, ctx, o);
      },
      out);
}
inline NTSTATUS create_mr(NDK_PD* pd, bool fast, NDK_MR** out) {
  return sync_create<NDK_MR>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_MR** o) {
        return pd->Dispatch->NdkCreateMr(pd, fast ? TRUE : FALSE, cb, ctx, o);
      },
      out);
}
inline NTSTATUS create_mw(NDK_PD* pd, NDK_MW** out) {
  return sync_create<NDK_MW>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_MW** o) {
        return pd->Dispatch->NdkCreateMw(pd, cb, ctx, o);
      },
      out);
}
inline NTSTATUS create_srq(NDK_PD* pd, ULONG depth, ULONG sge, NDK_SRQ** out) {
  return sync_create<NDK_SRQ>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_SRQ** o) {
        return pd->Dispatch->NdkCreateSrq(pd, depth, sge, 0, nullptr, nullptr, nullptr, cb, ctx,
                                          o);
      },
      out);
}
struct QpSizes {
  ULONG receive_depth = 16;
  ULONG initiator_depth = 16;
  ULONG receive_sge = 2;
  ULONG initiator_sge = 2;
  ULONG inline_bytes = 0;
};
inline NTSTATUS create_qp(NDK_PD* pd, NDK_CQ* rcq, NDK_CQ* icq, void* context, QpSizes s,
                          NDK_QP** out) {
  return sync_create<NDK_QP>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_QP** o) {
        return pd->Dispatch->NdkCreateQp(pd, rcq, icq, context, s.receive_depth,
                                         s.initiator_depth, s.receive_sge, s.initiator_sge,
                                         s.inline_bytes, cb, ctx, o);
      },
      out);
}
inline NTSTATUS create_qp_with_srq(NDK_PD* pd, NDK_CQ* rcq, NDK_CQ* icq, NDK_SRQ* srq,
                                   void* context, QpSizes s, NDK_QP** out) {
  return sync_create<NDK_QP>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_QP** o) {
        return pd->Dispatch->NdkCreateQpWithSrq(pd, rcq, icq, srq, context, s.initiator_depth,
                                                s.initiator_sge, s.inline_bytes, cb, ctx, o);
      },
      out);
}
inline NTSTATUS create_connector(NDK_ADAPTER* a, NDK_CONNECTOR** out) {
  return sync_create<NDK_CONNECTOR>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_CONNECTOR** o) {
        return a->Dispatch->NdkCreateConnector(a, cb, ctx, o);
      },
      out);
}
inline NTSTATUS create_listener(NDK_ADAPTER* a, NDK_LISTENER** out) {
  return sync_create<NDK_LISTENER>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_LISTENER** o) {
        return a->Dispatch->NdkCreateListener(a, &noop_connect_event, nullptr, cb, ctx, o);
      },
      out);
}
inline NTSTATUS create_shared_endpoint(const Adapter& adapter, NDK_SHARED_ENDPOINT** out) {
  sockaddr_storage address = adapter.local_address();
  NDK_ADAPTER* a = adapter.get();
  return sync_create<NDK_SHARED_ENDPOINT>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_SHARED_ENDPOINT** o) {
        return a->Dispatch->NdkCreateSharedEndpoint(a, reinterpret_cast<sockaddr*>(&address),
                                                    ndktest::sockaddr_length(address), cb, ctx, o);
      },
      out);
}

// One object of every type on an adapter (the SRQ and the SRQ-attached QP only when the adapter
// supports SRQs), closed in the recommended order.
struct AllObjects {
  NDK_CQ* cq = nullptr;
  NDK_PD* pd = nullptr;
  NDK_MR* mr = nullptr;
  NDK_MR* fast_mr = nullptr;
  NDK_MW* mw = nullptr;
  NDK_SRQ* srq = nullptr;
  NDK_QP* qp = nullptr;
  NDK_QP* srq_qp = nullptr;
  NDK_CONNECTOR* connector = nullptr;
  NDK_LISTENER* listener = nullptr;
  NDK_SHARED_ENDPOINT* endpoint = nullptr;

  AllObjects() = default;
  AllObjects(const AllObjects&) = delete;
  AllObjects& operator=(const AllObjects&) = delete;
  ~AllObjects() { close_all(); }

  // Creates everything; records a failure and returns false on the first error.
  bool create(NDK_ADAPTER* a, sockaddr_storage local) {
    NDK_ADAPTER_INFO info{};
    ULONG size = sizeof info;
    NTSTATUS s = a->Dispatch->NdkQueryAdapterInfo(a, &info, &size);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "query info: " << status_name(s), false;
    auto ok = [](const char* what, NTSTATUS st) {
      if (st != STATUS_SUCCESS) ADD_FAILURE() << what << ": " << status_name(st);
      return st == STATUS_SUCCESS;
    };
    if (!ok("create CQ", create_cq(a, 16, &cq))) return false;
    if (!ok("create PD", create_pd(a, &pd))) return false;
    if (!ok("create MR", create_mr(pd, false, &mr))) return false;
    if (!ok("create fast MR", create_mr(pd, true, &fast_mr))) return false;
    if (!ok("create MW", create_mw(pd, &mw))) return false;
    if (info.MaxSrqDepth != 0) {
      if (!ok("create SRQ", create_srq(pd, std::min<ULONG>(16, info.MaxSrqDepth), 1, &srq)))
        return false;
      if (!ok("create QP with SRQ", create_qp_with_srq(pd, cq, cq, srq, nullptr, {}, &srq_qp)))
        return false;
    }
    if (!ok("create QP", create_qp(pd, cq, cq, nullptr, {}, &qp))) return false;
    if (!ok("create connector", create_connector(a, &connector))) return false;
    if (!ok("create listener", create_listener(a, &listener))) return false;
    NDK_ADAPTER* adapter = a;
    s = sync_create<NDK_SHARED_ENDPOINT>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_SHARED_ENDPOINT** o) {
          return adapter->Dispatch->NdkCreateSharedEndpoint(
              adapter, reinterpret_cast<sockaddr*>(&local), ndktest::sockaddr_length(local), cb, c, o);
        },
        &endpoint);
    return ok("create shared endpoint", s);
  }

  // (object, expected type) for every created object.
  std::vector<std::pair<NDK_OBJECT_HEADER*, NDK_OBJECT_TYPE>> objects() const {
    std::vector<std::pair<NDK_OBJECT_HEADER*, NDK_OBJECT_TYPE>> v;
    auto add = [&](void* o, NDK_OBJECT_TYPE t) {
      if (o != nullptr) v.emplace_back(static_cast<NDK_OBJECT_HEADER*>(o), t);
    };
    add(cq, NdkObjectTypeCq);
    add(pd, NdkObjectTypePd);
    add(mr, NdkObjectTypeMr);
    add(fast_mr, NdkObjectTypeMr);
    add(mw, NdkObjectTypeMw);
    add(srq, NdkObjectTypeSrq);
    add(qp, NdkObjectTypeQp);
    add(srq_qp, NdkObjectTypeQp);
    add(connector, NdkObjectTypeConnector);
    add(listener, NdkObjectTypeListener);
    add(endpoint, NdkObjectTypeSharedEndpoint);
    return v;
  }

  bool close_all() {
    bool ok = true;
    for (void** o : {(void**)&connector, (void**)&listener, (void**)&endpoint, (void**)&qp,
                     (void**)&srq_qp, (void**)&mw, (void**)&mr, (void**)&fast_mr, (void**)&srq,
                     (void**)&pd, (void**)&cq}) {
      ok &= close_object(*o);
      *o = nullptr;
    }
    return ok;
  }
};

// Replaces `side.qp` of a QpPair (call from the before_connect hook) by a new QP on the given
// CQs, with QPContext == &side. The side's own Cq stays open and is closed by teardown; close
// the CQs given here only after the pair was torn down.
inline bool replace_qp(QpPair::Side& side, NDK_CQ* receive_cq, NDK_CQ* initiator_cq,
                       QpSizes sizes = {64, 64, 4, 4, 128}) {
  if (!close_object(side.qp)) return false;
  side.qp = nullptr;
  NTSTATUS s = create_qp(side.pd, receive_cq, initiator_cq, &side, sizes, &side.qp);
  if (s != STATUS_SUCCESS) {
    ADD_FAILURE() << "replacement QP: " << status_name(s);
    return false;
  }
  return true;
}

// RDMA write of `length` bytes from src[src_offset] to dst[dst_offset].
inline NTSTATUS post_write(NDK_QP* qp, Region& src, size_t src_offset, ULONG length, Region& dst,
                           size_t dst_offset, void* context, ULONG flags = 0) {
  NDK_SGE sge = src.sge(src_offset, length);
  return qp->Dispatch->NdkWrite(qp, context, &sge, 1, dst.address(dst_offset), dst.remote_token(),
                                flags);
}

inline void* ctx(uintptr_t v) { return reinterpret_cast<void*>(v); }

}  // namespace ndktest::acq
