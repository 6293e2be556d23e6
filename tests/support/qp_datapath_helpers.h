// Header-only helpers for the queue-pair data-path, flush/error and SRQ conformance tests
// (tests/conformance/qp_datapath_test.cpp, flush_error_test.cpp, srq_test.cpp). Public ABI only.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ndk_test.h"
#include "transport_helpers.h"

namespace ndktest::qpd {

// Every MR right the data-path tests need (local write, remote read/write, read sink).
constexpr ULONG kMrAll = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                         NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;

// The test URIs, each also with "pending=always" (every asynchronous provider function then
// returns STATUS_PENDING and completes through its callback).
inline std::vector<std::string> uris_with_pending() {
  std::vector<std::string> out;
  for (const std::string& u : test_uris()) {
    out.push_back(u);
    if (u.find("pending=") == std::string::npos)
      out.push_back(u + (u.find('?') == std::string::npos ? "?" : "&") + "pending=always");
  }
  return out;
}

// gtest parameter names from URIs: alphanumerics kept, everything else '_'.
inline std::string uri_param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (char c : info.param) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name + "_" + std::to_string(info.index);
}

// Deterministic byte pattern: byte i of stream `seed`.
inline unsigned char pattern(uint32_t seed, size_t i) {
  uint32_t x = seed * 2654435761u + static_cast<uint32_t>(i) * 40503u + 0x5bd1e995u;
  x ^= x >> 13;
  x *= 0x85ebca6bu;
  x ^= x >> 16;
  return static_cast<unsigned char>(x);
}
inline void fill(unsigned char* p, size_t n, uint32_t seed) {
  for (size_t i = 0; i < n; ++i) p[i] = pattern(seed, i);
}
// Index of the first byte that differs from the pattern, or n.
inline size_t first_mismatch(const unsigned char* p, size_t n, uint32_t seed, size_t start = 0) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != pattern(seed, start + i)) return i;
  return n;
}

// Target memory of an RDMA write: the initiator's completion says nothing about placement at
// the target (iwarp.md 3.7 rule 5), and the target gets no completion. Only a later read
// response or receive completion orders it: check the bytes after a fence (PairTest::fence(),
// read_fence()/send_fence() of transport_helpers.h), at once, with these.
inline ::testing::AssertionResult holds(const unsigned char* p, size_t n, uint32_t seed,
                                        size_t start = 0) {
  size_t at = first_mismatch(p, n, seed, start);
  if (at == n) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "byte " << at << " of " << n << " was not placed";
}
inline ::testing::AssertionResult holds_copy(const unsigned char* target,
                                             const unsigned char* source, size_t n) {
  size_t at = 0;
  while (at < n && target[at] == source[at]) ++at;
  if (at == n) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "byte " << at << " of " << n << " was not placed";
}

// Polls for `quiet` and returns every completion that showed up (expected: none).
inline std::vector<NDK_RESULT_EX> stray_completions(
    Cq& cq, std::chrono::milliseconds quiet = std::chrono::milliseconds(50)) {
  std::vector<NDK_RESULT_EX> out;
  auto deadline = std::chrono::steady_clock::now() + quiet;
  do {
    NDK_RESULT_EX r[16];
    ULONG n = cq.poll(r, 16);
    out.insert(out.end(), r, r + n);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  } while (std::chrono::steady_clock::now() < deadline);
  return out;
}

inline std::string describe(const NDK_RESULT_EX& r) {
  char buffer[160];
  std::snprintf(buffer, sizeof buffer, "{status=%s type=%u ctx=%p qp=%p bytes=%u}",
                status_name(r.Status).c_str(), static_cast<unsigned>(r.Type), r.RequestContext,
                r.QPContext, r.BytesTransferred);
  return buffer;
}

// One completion entry matches status, type, request context and QP context.
inline ::testing::AssertionResult is_completion(const NDK_RESULT_EX& r, NTSTATUS status,
                                                ULONG type, void* request, void* qp) {
  if (r.Status == status && static_cast<ULONG>(r.Type) == type && r.RequestContext == request &&
      r.QPContext == qp)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << describe(r) << ", want {status=" << status_name(status) << " type=" << type
         << " ctx=" << request << " qp=" << qp << "}";
}

inline void* ctx(uintptr_t v) { return reinterpret_cast<void*>(v); }

// Fixture base: a connected QpPair plus one registered buffer per side (all rights), created
// in the before_connect hook so receives can be pre-posted. Buffers are closed before the pair.
class PairTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<QpPair> pair;
  std::unique_ptr<Region> a;  // active side buffer
  std::unique_ptr<Region> p;  // passive side buffer
  // fence()'s own, used by nothing else: its source on the passive side and its read sink on the
  // active side.
  std::unique_ptr<FenceSource> fence_source_;
  std::unique_ptr<Region> fence_sink_;

  void TearDown() override {
    a.reset();
    p.reset();
    fence_sink_.reset();
    fence_source_.reset();
    if (pair) {
      EXPECT_TRUE(pair->teardown());
    }
    pair.reset();
  }

  // Returns false (with failures recorded) when anything went wrong.
  bool start(QpPairOptions options = {}, size_t bytes = 64 * 1024,
             const std::function<void(QpPair&)>& before_connect = nullptr) {
    pair = std::make_unique<QpPair>(GetParam(), options);
    bool ok = pair->connect([&](QpPair& q) {
      a = std::make_unique<Region>(q.active.pd, bytes, kMrAll);
      p = std::make_unique<Region>(q.passive.pd, bytes, kMrAll);
      if (a->status != STATUS_SUCCESS || p->status != STATUS_SUCCESS) {
        ADD_FAILURE() << "register: " << status_name(a->status) << " / "
                      << status_name(p->status);
        return;
      }
      if (before_connect) before_connect(q);
    });
    return ok && a && p && a->status == STATUS_SUCCESS && p->status == STATUS_SUCCESS &&
           !::testing::Test::HasFailure();
  }

  // Orders every Write posted so far on the active QP before the test looks at `p`: a read
  // fence (transport_helpers.h) of fence_source_ into fence_sink_ (both made at the first
  // fence). Then check the written bytes at once (holds(), holds_copy(), first_mismatch).
  // Completions ahead of the fence's on the active CQ go to *earlier, or are a failure.
  ::testing::AssertionResult fence(std::vector<NDK_RESULT_EX>* earlier = nullptr) {
    if (fence_source_ == nullptr) {
      fence_source_ = std::make_unique<FenceSource>(pair->passive.pd);
      fence_sink_ = std::make_unique<Region>(
          pair->active.pd, 64, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK);
    }
    if (fence_sink_->status != STATUS_SUCCESS)
      return ::testing::AssertionFailure() << "fence sink: " << status_name(fence_sink_->status);
    return read_fence(act().qp, act().cq, fence_sink_->sge(0, 1), *fence_source_, earlier);
  }

  QpPair::Side& act() { return pair->active; }
  QpPair::Side& pas() { return pair->passive; }
};

// A standalone, never-connected QP: adapter, PD, one CQ, QP.
struct LoneQp {
  std::unique_ptr<Adapter> adapter;
  NDK_PD* pd = nullptr;
  Cq cq;
  NDK_QP* qp = nullptr;
  int qp_context = 0;

  explicit LoneQp(const std::string& uri) : adapter(std::make_unique<Adapter>(uri)) {}
  ~LoneQp() { teardown(); }

  bool create(ULONG depth = 16, ULONG sge = 4, ULONG inline_bytes = 128) {
    if (adapter->get() == nullptr) {
      ADD_FAILURE() << "adapter open failed: " << status_name(adapter->open_status());
      return false;
    }
    Adapter& a = *adapter;
    NTSTATUS s = sync_create<NDK_PD>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_PD** out) {
          return a.d()->NdkCreatePd(a.get(), cb, c, out);
        },
        &pd);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create PD: " << status_name(s), false;
    s = cq.create(a, 1024);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create CQ: " << status_name(s), false;
    s = sync_create<NDK_QP>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_QP** out) {
          return pd->Dispatch->NdkCreateQp(pd, cq.cq, cq.cq, &qp_context, depth, depth, sge, sge,
                                           inline_bytes, cb, c, out);
        },
        &qp);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create QP: " << status_name(s), false;
    return true;
  }

  // Closes the QP only (its flush entries stay in the CQ).
  bool close_qp() {
    bool ok = close_object(qp);
    qp = nullptr;
    return ok;
  }

  bool teardown() {
    bool ok = close_object(qp);
    qp = nullptr;
    ok &= close_object(pd);
    pd = nullptr;
    ok &= close_object(cq.cq);
    cq.cq = nullptr;
    return ok;
  }
};

// Two adapters: the passive one has a PD with one SRQ and two QPs created with
// NdkCreateQpWithSrq (each with its own receive CQ and QPContext, sharing one initiator CQ);
// the active one has one ordinary QP per passive QP. connect(i) connects active QP i to
// passive QP i through one listener.
struct SrqRig {
  struct Options {
    ULONG srq_depth = 16;
    ULONG srq_sge = 4;
    ULONG threshold = 0;
    bool with_callback = true;
    ULONG qp_depth = 32;
    ULONG qp_sge = 4;
    ULONG inline_bytes = 64;
  };

  std::string uri;
  Options options;
  std::unique_ptr<Adapter> aa, pa;  // active, passive
  NDK_PD* apd = nullptr;
  NDK_PD* ppd = nullptr;
  Cq acq;       // both active QPs
  Cq prcq[2];   // receive CQ of passive QP i
  Cq picq;      // initiator CQ of both passive QPs
  NDK_SRQ* srq = nullptr;
  NDK_QP* aqp[2] = {nullptr, nullptr};
  NDK_QP* pqp[2] = {nullptr, nullptr};
  int actx[2] = {0, 0};  // &actx[i]: QPContext of active QP i
  int pctx[2] = {0, 0};  // &pctx[i]: QPContext of passive QP i
  NDK_LISTENER* listener = nullptr;
  sockaddr_storage listen_address{};
  NDK_CONNECTOR* acon[2] = {nullptr, nullptr};
  NDK_CONNECTOR* pcon[2] = {nullptr, nullptr};
  DisconnectEvents adis[2], pdis[2];

  // SRQ notifications.
  std::atomic<int> notifications{0};
  std::atomic<NTSTATUS> notification_status{STATUS_PENDING};
  std::atomic<bool> in_modify{false};
  std::atomic<std::thread::id> modify_thread{};
  std::atomic<int> notified_inside_modify{0};

  // Runs inside the notification callback (before it is counted): a provider callback
  // context from which a test can post work requests, as consumers may (ndkpi.md 0.2).
  std::function<void()> notify_hook;  // set and cleared under hook_mutex
  std::mutex hook_mutex;

  static void on_srq(void* context, NTSTATUS status) {
    auto* rig = static_cast<SrqRig*>(context);
    if (rig->in_modify.load() && rig->modify_thread.load() == std::this_thread::get_id())
      rig->notified_inside_modify.fetch_add(1);
    {
      std::lock_guard lock(rig->hook_mutex);
      if (rig->notify_hook) rig->notify_hook();
    }
    rig->notification_status = status;
    rig->notifications.fetch_add(1);
  }

  SrqRig(const std::string& u, Options o) : uri(u), options(o) {
    aa = std::make_unique<Adapter>(uri);
    pa = std::make_unique<Adapter>(uri);
  }
  ~SrqRig() { teardown(); }

  // Creates every object (no connection yet) and starts listening.
  bool create() {
    for (Adapter* a : {aa.get(), pa.get()}) {
      if (a->get() == nullptr) {
        ADD_FAILURE() << "adapter open failed: " << status_name(a->open_status());
        return false;
      }
    }
    auto make_pd = [](Adapter& a, NDK_PD** pd) {
      return sync_create<NDK_PD>(
          [&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_PD** out) {
            return a.d()->NdkCreatePd(a.get(), cb, c, out);
          },
          pd);
    };
    NTSTATUS s = make_pd(*aa, &apd);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create PD: " << status_name(s), false;
    s = make_pd(*pa, &ppd);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create PD: " << status_name(s), false;
    for (Cq* cq : {&acq, &prcq[0], &prcq[1], &picq}) {
      s = cq->create(cq == &acq ? *aa : *pa, 1024);
      if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create CQ: " << status_name(s), false;
    }
    s = sync_create<NDK_SRQ>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_SRQ** out) {
          return ppd->Dispatch->NdkCreateSrq(ppd, options.srq_depth, options.srq_sge,
                                             options.threshold,
                                             options.with_callback ? &SrqRig::on_srq : nullptr,
                                             this, nullptr, cb, c, out);
        },
        &srq);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create SRQ: " << status_name(s), false;
    for (int i = 0; i < 2; ++i) {
      s = sync_create<NDK_QP>(
          [&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_QP** out) {
            return ppd->Dispatch->NdkCreateQpWithSrq(ppd, prcq[i].cq, picq.cq, srq, &pctx[i],
                                                     options.qp_depth, options.qp_sge,
                                                     options.inline_bytes, cb, c, out);
          },
          &pqp[i]);
      if (s != STATUS_SUCCESS)
        return ADD_FAILURE() << "create QP with SRQ: " << status_name(s), false;
      s = sync_create<NDK_QP>(
          [&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_QP** out) {
            return apd->Dispatch->NdkCreateQp(apd, acq.cq, acq.cq, &actx[i], options.qp_depth,
                                              options.qp_depth, options.qp_sge, options.qp_sge,
                                              options.inline_bytes, cb, c, out);
          },
          &aqp[i]);
      if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create QP: " << status_name(s), false;
    }
    s = sync_create<NDK_LISTENER>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_LISTENER** out) {
          return pa->d()->NdkCreateListener(pa->get(), &SrqRig::on_connect_event, this, cb, c,
                                            out);
        },
        &listener);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create listener: " << status_name(s), false;
    listen_address = pa->local_address();
    s = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
      return listener->Dispatch->NdkListen(listener, reinterpret_cast<sockaddr*>(&listen_address),
                                           sockaddr_length(listen_address), cb, c);
    });
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "listen: " << status_name(s), false;
    ULONG length = sizeof listen_address;
    s = listener->Dispatch->NdkGetLocalAddress(
        listener, reinterpret_cast<sockaddr*>(&listen_address), &length);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "listener address: " << status_name(s), false;
    return true;
  }

  bool connect(int i) {
    NTSTATUS s = sync_create<NDK_CONNECTOR>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_CONNECTOR** out) {
          return aa->d()->NdkCreateConnector(aa->get(), cb, c, out);
        },
        &acon[i]);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create connector: " << status_name(s), false;
    sockaddr_storage source = aa->local_address(listen_address.ss_family);
    auto connect_done = std::make_shared<Completion>();
    auto* raw = new std::shared_ptr<Completion>(connect_done);
    s = acon[i]->Dispatch->NdkConnect(
        acon[i], aqp[i], reinterpret_cast<sockaddr*>(&source), sockaddr_length(source),
        reinterpret_cast<sockaddr*>(&listen_address), sockaddr_length(listen_address), 8, 8,
        nullptr, 0, &Completion::request, raw);
    if (s != STATUS_PENDING) {
      delete raw;
      if (s != STATUS_SUCCESS) return ADD_FAILURE() << "connect: " << status_name(s), false;
      std::lock_guard lock(connect_done->mutex);
      connect_done->done = true;
      connect_done->status = s;
    }
    {
      std::unique_lock lock(incoming_mutex_);
      if (!incoming_cv_.wait_for(lock, kTimeout, [&] { return !incoming_.empty(); }))
        return ADD_FAILURE() << "no connect event", false;
      pcon[i] = incoming_.front();
      incoming_.pop_front();
    }
    auto accept_done = std::make_shared<Completion>();
    auto* raw_accept = new std::shared_ptr<Completion>(accept_done);
    s = pcon[i]->Dispatch->NdkAcceptEx(pcon[i], pqp[i], 8, 8, nullptr, 0, &DisconnectEvents::ex,
                                       &pdis[i], &Completion::request, raw_accept);
    if (s != STATUS_PENDING) {
      delete raw_accept;
      if (s != STATUS_SUCCESS) return ADD_FAILURE() << "accept: " << status_name(s), false;
      std::lock_guard lock(accept_done->mutex);
      accept_done->done = true;
      accept_done->status = s;
    }
    if (!connect_done->wait()) return ADD_FAILURE() << "connect did not complete", false;
    if (connect_done->status != STATUS_SUCCESS)
      return ADD_FAILURE() << "connect: " << status_name(connect_done->status), false;
    s = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
      return acon[i]->Dispatch->NdkCompleteConnectEx(acon[i], &DisconnectEvents::ex, &adis[i], cb,
                                                     c);
    });
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "complete connect: " << status_name(s), false;
    if (!accept_done->wait()) return ADD_FAILURE() << "accept did not complete", false;
    if (accept_done->status != STATUS_SUCCESS)
      return ADD_FAILURE() << "accept: " << status_name(accept_done->status), false;
    return true;
  }

  NTSTATUS modify(ULONG depth, ULONG threshold) {
    modify_thread = std::this_thread::get_id();
    in_modify = true;
    NTSTATUS s = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
      return srq->Dispatch->NdkModifySrq(srq, depth, threshold, cb, c);
    });
    in_modify = false;
    return s;
  }

  // Runs `work` on a provider callback thread, inside the SRQ notification: active QP 1 sends 8
  // bytes from the end of `send_region` that consume the only SRQ receive (posted here, at the
  // end of `receive_region`), so the SRQ runs empty and the threshold fires. Needs
  // options.threshold == 1, an empty SRQ and QP 1 connected. The trigger's own completions
  // (context kTriggerContext) land in acq and prcq[1]. False if the callback never came.
  static constexpr uintptr_t kTriggerContext = 0x7EEE;
  bool run_in_callback(Region& receive_region, Region& send_region,
                       const std::function<void()>& work) {
    std::atomic<bool> done{false};
    {
      std::lock_guard lock(hook_mutex);
      notify_hook = [&] {
        if (done.load()) return;
        work();
        done = true;
      };
    }
    bool ok = srq_receive(receive_region, receive_region.buffer.size() - 64, 64,
                          reinterpret_cast<void*>(kTriggerContext)) == STATUS_SUCCESS &&
              post_send(aqp[1], send_region, send_region.buffer.size() - 8, 8,
                        reinterpret_cast<void*>(kTriggerContext)) == STATUS_SUCCESS &&
              wait_until([&] { return done.load(); });
    if (!ok) ADD_FAILURE() << "the SRQ notification used as a callback context never came";
    // The hook captures locals of this frame: it must be gone before returning.
    std::lock_guard lock(hook_mutex);
    notify_hook = nullptr;
    return ok;
  }

  NTSTATUS srq_receive(Region& region, size_t offset, ULONG length, void* context) {
    NDK_SGE sge = region.sge(offset, length);
    return srq->Dispatch->NdkSrqReceive(srq, context, &sge, 1);
  }

  // Recommended order: connectors, listener, QPs, SRQ, PDs, CQs. Regions must be gone first.
  bool teardown() {
    bool ok = true;
    for (int i = 0; i < 2; ++i) {
      ok &= close_object(acon[i]);
      ok &= close_object(pcon[i]);
      acon[i] = pcon[i] = nullptr;
    }
    {
      // Connect events that were never taken.
      std::lock_guard lock(incoming_mutex_);
      for (NDK_CONNECTOR* c : incoming_) ok &= close_object(c);
      incoming_.clear();
    }
    ok &= close_object(listener);
    listener = nullptr;
    for (int i = 0; i < 2; ++i) {
      ok &= close_object(aqp[i]);
      ok &= close_object(pqp[i]);
      aqp[i] = pqp[i] = nullptr;
    }
    ok &= close_object(srq);
    srq = nullptr;
    ok &= close_object(apd);
    ok &= close_object(ppd);
    apd = ppd = nullptr;
    for (Cq* cq : {&acq, &prcq[0], &prcq[1], &picq}) {
      ok &= close_object(cq->cq);
      cq->cq = nullptr;
    }
    return ok;
  }

 private:
  static void on_connect_event(void* context, NDK_CONNECTOR* connector) {
    auto* rig = static_cast<SrqRig*>(context);
    std::lock_guard lock(rig->incoming_mutex_);
    rig->incoming_.push_back(connector);
    rig->incoming_cv_.notify_all();
  }
  std::mutex incoming_mutex_;
  std::condition_variable incoming_cv_;
  std::deque<NDK_CONNECTOR*> incoming_;
};

}  // namespace ndktest::qpd
