// The fixture ladder of the tests (rdma-core's tests/base.py idea, style.md 8): each level is the
// set of NDK resources a test stands on, built on the level below and closed in a valid order
// when it goes (connectors, listeners and shared endpoints, QPs, PD objects, PD, CQ, adapter).
// The gtest test classes hold one or more of them.
//   AdapterFixture        an open adapter
//   PdCqFixture           + a PD and a CQ, and the objects a test creates on them, tracked
//   (QpFixture            + one QP that is never connected)
//   ConnectedPairFixture  two PdCqFixtures (active, passive), a listener on the passive one and,
//                         after connect(), a connected QP on each side
//   MemoryPairFixture     + a registered buffer on each side, receives pre-posted, write fences
// Beside the ladder, on its levels: SrqPairFixture (a pair whose passive QPs share an SRQ) and
// EveryObjectFixture (an adapter with one object of every type).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ndk_test.h"
#include "ndkxx/adapter.h"
#include "ndkxx/handle.h"
#include "transport_helpers.h"

namespace ndktest {

// ---------------------------------------------------------------------------------------------
// Creating objects (inline or pending), the status of the create

inline void noop_cq_notify(void*, NTSTATUS) {}
inline void noop_connect_event(void*, NDK_CONNECTOR*) {}

struct QpSizes {
  ULONG receive_depth = 16;
  ULONG initiator_depth = 16;
  ULONG receive_sge = 2;
  ULONG initiator_sge = 2;
  ULONG inline_bytes = 0;

  // These sizes within what the adapter reports (NdkQueryAdapterInfo: queue depths, SGEs per
  // direction, inline size), so that a fixture stands on every adapter profile. A test that
  // needs more than it got skips with the reason (NDKTEST_REQUIRE).
  QpSizes fitted(const NDK_ADAPTER_INFO& info) const;
};

// Skips the test, with the reason, when the adapter lacks what it needs: `needed` (e.g. 128)
// above what `limit` names (e.g. info.MaxInlineDataSize).
#define NDKTEST_REQUIRE(needed, limit)                                                     \
  do {                                                                                    \
    if (static_cast<unsigned long long>(needed) > static_cast<unsigned long long>(limit))  \
      GTEST_SKIP() << "needs " #limit " >= " << (needed) << ", the adapter reports "      \
                   << (limit);                                                            \
  } while (0)

NTSTATUS create_cq(NDK_ADAPTER* adapter, ULONG depth, NDK_CQ** out);  // with a no-op callback
NTSTATUS create_pd(NDK_ADAPTER* adapter, NDK_PD** out);
NTSTATUS create_mr(NDK_PD* pd, bool fast, NDK_MR** out);
NTSTATUS create_mw(NDK_PD* pd, NDK_MW** out);
NTSTATUS create_srq(NDK_PD* pd, ULONG depth, ULONG sge, NDK_SRQ** out);  // no notification
NTSTATUS create_qp(NDK_PD* pd, NDK_CQ* receive_cq, NDK_CQ* initiator_cq, void* context,
                   QpSizes sizes, NDK_QP** out);
NTSTATUS create_qp_with_srq(NDK_PD* pd, NDK_CQ* receive_cq, NDK_CQ* initiator_cq, NDK_SRQ* srq,
                            void* context, QpSizes sizes, NDK_QP** out);
NTSTATUS create_connector(NDK_ADAPTER* adapter, NDK_CONNECTOR** out);
NTSTATUS create_listener(NDK_ADAPTER* adapter, NDK_LISTENER** out);  // no-op connect events
NTSTATUS create_shared_endpoint(NDK_ADAPTER* adapter, const sockaddr_storage& address,
                                NDK_SHARED_ENDPOINT** out);

// ---------------------------------------------------------------------------------------------
// Level 1: an adapter

class AdapterFixture : public ndkxx::Adapter {
 public:
  explicit AdapterFixture(const std::string& uri);
  AdapterFixture(const std::string& uri, NDK_VERSION version);
  // Open (with its info): the message names the URI and the status otherwise.
  ::testing::AssertionResult opened() const;
};

// ---------------------------------------------------------------------------------------------
// Level 2: an adapter with a PD and a CQ

class PdCqFixture;

// The connect events of a listener of a PdCqFixture, which owns every delivered connector from
// delivery on (Microsoft's NDKPI reference). `on_event` (set before the connects)
// runs inside the callback first.
class Incoming : public ndkxx::ConnectEvents {
 public:
  void set_owner(PdCqFixture* owner) { owner_ = owner; }
  std::function<void(NDK_CONNECTOR*)> on_event;

 protected:
  void delivered(NDK_CONNECTOR* connector) override;

 private:
  PdCqFixture* owner_ = nullptr;
};

class PdCqFixture : public AdapterFixture {
 public:
  explicit PdCqFixture(const std::string& uri, ULONG cq_depth = 4096);
  ~PdCqFixture() { teardown(); }
  PdCqFixture(const PdCqFixture&) = delete;
  PdCqFixture& operator=(const PdCqFixture&) = delete;

  // The adapter is open and the PD and CQ exist (the message says what failed otherwise).
  ::testing::AssertionResult ok() const;
  // A local address of the adapter with port 0 (AF_UNSPEC: the adapter's own family).
  sockaddr_storage local(int family = AF_UNSPEC) const { return local_address(family); }

  // Objects the fixture closes (failures are test failures; nullptr then).
  // A QP on the CQ of `depth` x 4 SGEs, 128 inline bytes, QPContext 0x1000 + n.
  NDK_QP* create_qp(ULONG depth = 64);
  // A QP of `sizes` with `context` on the given CQs (nullptr: the fixture's CQ).
  NDK_QP* create_qp(const QpSizes& sizes, void* context, NDK_CQ* receive_cq = nullptr,
                    NDK_CQ* initiator_cq = nullptr);
  NDK_CONNECTOR* create_connector();
  // A listener delivering into `events`, which this fixture then owns the connectors of
  // (declare `events` before the fixture: it must outlive the listener).
  NDK_LISTENER* create_listener(Incoming& events);
  NTSTATUS create_shared_endpoint(const sockaddr_storage& address, NDK_SHARED_ENDPOINT** out);

  // Tracks a connector (one delivered by a listener of this adapter), a QP, an SRQ, MR or MW of
  // the PD, created elsewhere.
  void adopt(NDK_CONNECTOR* connector);
  void adopt_qp(NDK_QP* qp);
  void adopt_pd_object(void* object);
  // Stops tracking an object the test closes itself.
  void forget(void* object);
  // Closes (waiting for a pending close) and forgets. False when the close failed.
  bool close(void* object);
  // Closes everything tracked, then the PD and the CQ. True when every close succeeded.
  bool teardown();

  ndkxx::PdHandle pd;
  Cq cq;

 private:
  bool created_ = false;
  int qp_serial_ = 0;
  std::mutex mutex_;
  // In close order.
  std::vector<void*> connectors_, endpoints_, qps_, pd_objects_;
};

// A PdCqFixture with one QP that is never connected (QPContext &qp_context).
class QpFixture : public PdCqFixture {
 public:
  explicit QpFixture(const std::string& uri, QpSizes sizes = {16, 16, 4, 4, 128},
                     ULONG cq_depth = 1024);
  // The adapter is open and the PD, the CQ and the QP exist.
  ::testing::AssertionResult ok() const;
  // Closes the QP only (its flush entries stay in the CQ). False when the close failed.
  bool close_qp();

  int qp_context = 0;
  NDK_QP* qp = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Level 3: a pair of adapters, listening, then connected

struct PairOptions {
  ULONG depth = 64;  // both queues of each QP
  ULONG sge = 4;
  ULONG inline_bytes = 128;
  ULONG cq_depth = 1024;
  ULONG read_limit = 8;      // inbound and outbound, both sides
  std::string active_uri;   // default: the fixture's URI
  std::string passive_uri;  // default: the fixture's URI
};

class ConnectedPairFixture {
 public:
  // One side: a PdCqFixture and, once connected, its QP (QPContext: this Side) and connector.
  class Side : public PdCqFixture {
   public:
    Side(const std::string& uri, ULONG cq_depth) : PdCqFixture(uri, cq_depth) {}
    ~Side() { teardown(); }  // before `disconnects` goes
    const NDK_QP_DISPATCH* q() const { return qp->Dispatch; }
    // Replaces the QP (before connect(), in its hook) by one on the given CQs, QPContext this.
    bool replace_qp(NDK_CQ* receive_cq, NDK_CQ* initiator_cq, QpSizes sizes = {64, 64, 4, 4, 128});

    NDK_QP* qp = nullptr;
    NDK_CONNECTOR* connector = nullptr;
    DisconnectEvents disconnects;  // of the connection (the _EX callbacks)
  };

  explicit ConnectedPairFixture(const std::string& uri, PairOptions options = {});
  ConnectedPairFixture(const std::string& active_uri, const std::string& passive_uri,
                       PairOptions options = {});
  ~ConnectedPairFixture() { teardown(); }
  ConnectedPairFixture(const ConnectedPairFixture&) = delete;
  ConnectedPairFixture& operator=(const ConnectedPairFixture&) = delete;

  // Creates the passive side's listener (events into `incoming`) on its local address of
  // `family` (AF_UNSPEC: its own family) and sets `destination`. Fatal failures inside: call
  // through ASSERT_NO_FATAL_FAILURE.
  void listen(int family = AF_UNSPEC);
  // Creates a QP on each side, runs `before_connect` (receives may be posted there), listens
  // (unless listen() ran) and establishes the connection: read limits options.read_limit,
  // NdkAcceptEx / NdkCompleteConnectEx with each side's `disconnects`. False (with failures
  // recorded) on any error.
  bool connect(const std::function<void(ConnectedPairFixture&)>& before_connect = nullptr);
  // Closes every object of both sides; the adapters close with the fixture.
  bool teardown();

  PairOptions options;
  Side active;
  Incoming incoming;   // of `listener`; outlives the passive side's listeners
  Incoming incoming2;  // for a second listener of the passive side
  Side passive;
  NDK_LISTENER* listener = nullptr;
  sockaddr_storage destination{};  // where `listener` listens
};

// ---------------------------------------------------------------------------------------------
// Level 4: a connected pair with memory

constexpr size_t kReceiveSlot = 512;
inline void* receive_context(int i) { return reinterpret_cast<void*>(uintptr_t{0x5000} + i); }

// The buffer registered on each side before the connection, and the receives pre-posted on the
// passive QP (`receives` of kReceiveSlot bytes from the start of its buffer, contexts
// receive_context(0..)). The defaults: a scratch buffer on the active side (source of writes,
// sink of reads, 0x77) and a receive buffer on the passive one.
struct MemoryShape {
  size_t active_bytes = 16 * 4096;
  ULONG active_flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;
  unsigned char active_fill = 0x77;
  size_t passive_bytes = 4 * 4096;
  ULONG passive_flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE;
  unsigned char passive_fill = 0;
  int receives = 2;
};

class MemoryPairFixture : public ConnectedPairFixture {
 public:
  using ConnectedPairFixture::ConnectedPairFixture;
  ~MemoryPairFixture() { release_memory(); }

  // Registers the buffers, pre-posts the receives, runs `before_connect`, connects. False (with
  // failures recorded) on any error, or once the test has a fatal failure.
  bool connect(const MemoryShape& shape = {},
               const std::function<void(ConnectedPairFixture&)>& before_connect = nullptr);
  // Orders the Writes posted so far on the active QP before what the test does next with the
  // target memory (checks it, changes the grant): a read fence (transport_helpers.h) of one byte
  // of a FenceSource in the passive PD into a read sink of the active PD (both made at the first
  // fence; tests without one have none). Once it returned success the Writes are placed: check
  // the target at once. Completions ahead of the fence's on the active CQ go to *earlier, or are
  // a failure when `earlier` is null.
  ::testing::AssertionResult fence_writes(std::vector<NDK_RESULT_EX>* earlier = nullptr);
  // Closes the buffers and the fence's, then every object of both sides.
  bool teardown();

  std::unique_ptr<Region> active_buffer;
  std::unique_ptr<Region> passive_buffer;
  int posted_receives = 0;    // pre-posted on the passive QP
  int consumed_receives = 0;  // of those, completed by messages (the test keeps count)

 private:
  void release_memory();
  std::unique_ptr<FenceSource> fence_source_;
  std::unique_ptr<Region> fence_sink_;
};

// ---------------------------------------------------------------------------------------------
// Beside the ladder

// A listening pair (level 3 before connect()) whose passive PD has one SRQ and two QPs created
// with NdkCreateQpWithSrq (each with its own receive CQ prcq[i] and QPContext &pctx[i], sharing
// the passive side's CQ as initiator CQ); the active side has one ordinary QP per passive QP
// (QPContext &actx[i], on the active side's CQ). connect(i) connects active QP i to passive QP i.
class SrqPairFixture : public ConnectedPairFixture {
 public:
  struct Options {
    ULONG srq_depth = 16;
    ULONG srq_sge = 4;
    ULONG threshold = 0;
    bool with_callback = true;
    ULONG qp_depth = 32;
    ULONG qp_sge = 4;
    ULONG inline_bytes = 64;
  };

  SrqPairFixture(const std::string& uri, Options options);
  ~SrqPairFixture() { teardown(); }

  // Creates every object (no connection yet) and listens. False (failures recorded) on error.
  bool create();
  bool connect(int i);
  // NdkModifySrq, noting whether the notification runs inside it.
  NTSTATUS modify(ULONG depth, ULONG threshold);
  NTSTATUS srq_receive(const Region& region, size_t offset, ULONG length, void* context);

  // Runs `work` on a provider callback thread, inside the SRQ notification: active QP 1 sends 8
  // bytes from the end of `send_region` that consume the only SRQ receive (posted here, at the
  // end of `receive_region`), so the SRQ runs empty and the threshold fires. Needs
  // srq_options.threshold == 1, an empty SRQ and QP 1 connected. The trigger's own completions
  // (context kTriggerContext) land in the active CQ and prcq[1]. False if the callback never came.
  static constexpr uintptr_t kTriggerContext = 0x7EEE;
  bool run_in_callback(const Region& receive_region, const Region& send_region,
                       const std::function<void()>& work);

  // Closes the pair's objects, then the receive CQs.
  bool teardown();

  Options srq_options;
  Cq prcq[2];  // receive CQ of passive QP i
  NDK_SRQ* srq = nullptr;
  NDK_QP* aqp[2] = {nullptr, nullptr};
  NDK_QP* pqp[2] = {nullptr, nullptr};
  int actx[2] = {0, 0};  // &actx[i]: QPContext of active QP i
  int pctx[2] = {0, 0};  // &pctx[i]: QPContext of passive QP i
  NDK_CONNECTOR* acon[2] = {nullptr, nullptr};
  NDK_CONNECTOR* pcon[2] = {nullptr, nullptr};
  DisconnectEvents adis[2], pdis[2];

  // SRQ notifications.
  std::atomic<int> notifications{0};
  std::atomic<NTSTATUS> notification_status{STATUS_PENDING};
  std::atomic<int> notified_inside_modify{0};

 private:
  static void on_srq(void* context, NTSTATUS status);
  std::atomic<bool> in_modify_{false};
  std::atomic<std::thread::id> modify_thread_{};
  // Runs inside the notification callback (before it is counted): a provider callback context
  // from which a test may post work requests (Microsoft's NDKPI reference).
  std::function<void()> notify_hook_;  // set and cleared under hook_mutex_
  std::mutex hook_mutex_;
};

// An adapter (level 1) with one object of every type: CQ, PD, MR, fast-register MR, MW, SRQ and
// a QP on it (when the adapter has SRQs), QP, connector, listener, shared endpoint; closed in
// the recommended order. The test may close any itself (then set it to nullptr).
class EveryObjectFixture : public AdapterFixture {
 public:
  explicit EveryObjectFixture(const std::string& uri) : AdapterFixture(uri) {}
  EveryObjectFixture(const std::string& uri, NDK_VERSION version)
      : AdapterFixture(uri, version) {}
  ~EveryObjectFixture() { close_all(); }

  // Creates everything (the shared endpoint on `local`); a failure and false on the first error.
  bool create(const sockaddr_storage& local);
  // (object, expected type) of every object created.
  std::vector<std::pair<NDK_OBJECT_HEADER*, NDK_OBJECT_TYPE>> objects() const;
  bool close_all();

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
};

}  // namespace ndktest
