// One schedule of `softndk chaos` (chaos.h): two adapters of this process, a connected QP pair,
// each side's memory between guard pages, a seeded stream of sends (each covered by a receive
// the peer posted), RDMA writes and reads, fast-register + invalidate and bind + invalidate pairs
// in both directions under the fault plan; completions are polled and judged after every post.
// Then both QPs are flushed, every outstanding request must complete, and everything closes.
#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <memory>
#include <thread>

#include "chaos.h"
#include "ndk.h"
#include "ndkxx/connection.h"

namespace softndk::cli::chaos {

namespace {

// Each side's registered memory, in areas that never overlap: what a request may write is
// exactly its area's range, and the canaries just inside both ends are never targeted.
constexpr size_t kPage = 4096;
constexpr size_t kCanary = 64;
constexpr size_t kAreaBytes = 16384;
constexpr size_t kSources = 1 * kPage;        // gathers of sends and writes, the peer's reads
constexpr size_t kWriteTargets = 5 * kPage;   // the peer's writes land here
constexpr size_t kReceives = 9 * kPage;       // receive buffers
constexpr size_t kReadSinks = 13 * kPage;     // our reads land here
constexpr size_t kFastRegister = 17 * kPage;  // fast-registered and bound, never accessed
constexpr size_t kMemoryBytes = 22 * kPage;
constexpr ULONG kMaxMessage = 1024;
constexpr size_t kPool = 4;  // fast-register MRs and windows per side
constexpr ULONG kAccess = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                          NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;
constexpr ULONG kRemoteAccess = NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE;
constexpr uint32_t kInitialReceives = 8;

std::string area_of(size_t offset) {
  if (offset < kCanary) return "the canary at the start of the registered range";
  if (offset >= kMemoryBytes - kCanary) return "the canary at the end of the registered range";
  struct Area {
    size_t begin;
    const char* name;
  };
  static constexpr Area kAreas[] = {{kSources, "send/write sources"},
                                    {kWriteTargets, "peer write targets"},
                                    {kReceives, "receive buffers"},
                                    {kReadSinks, "read sinks"},
                                    {kFastRegister, "fast-registered/bound range"}};
  for (const Area& a : kAreas)
    if (offset >= a.begin && offset < a.begin + kAreaBytes) return a.name;
  return "between the areas";
}

// A fast-register MR or window and the requests of its pair not completed yet.
struct PoolEntry {
  enum class State : uint8_t { Free, Busy, Retired } state = State::Free;
  int pending = 0;
};

struct Side {
  int index = 0;
  std::unique_ptr<Adapter> adapter;  // first: closed last
  SOFTNDK_ADAPTER_COUNTERS start{};
  std::unique_ptr<Cq> cq;
  Owned<NDK_PD> pd;
  std::unique_ptr<GuardedMemory> memory;
  Owned<NDK_MR> mr;  // the normal registration of all of `memory`
  UINT32 local_token = 0, remote_token = 0;
  std::unique_ptr<Lam> lam;
  std::vector<Owned<NDK_MR>> fast_mrs;
  std::vector<Owned<NDK_MW>> windows;
  std::vector<PoolEntry> fast_pool, window_pool;
  ndkxx::ConnectEvents incoming;  // passive side
  Owned<NDK_LISTENER> listener;
  ndkxx::DisconnectEvents disconnects;
  Owned<NDK_QP> qp;
  Owned<NDK_CONNECTOR> connector;  // last: closed first
  ULONG initiator_depth = 0, receive_depth = 0;
  size_t initiator = 0, receives = 0;  // outstanding
  int64_t receive_credit = 0;          // receives posted here not yet matched by a peer send
  bool overrun = false;

  std::byte* at(size_t offset) const { return memory->data() + offset; }
  NDK_SGE sge(size_t offset, ULONG bytes) const {
    NDK_SGE s{};
    s.VirtualAddress = at(offset);
    s.Length = bytes;
    s.MemoryRegionToken = local_token;
    return s;
  }
  uint64_t address(size_t offset) const { return reinterpret_cast<uintptr_t>(at(offset)); }
};

class Run {
 public:
  Run(const Schedule& schedule, Result* result)
      : schedule_(schedule), result_(result), checker_(result, schedule.seed),
        rng_(schedule.seed) {}
  void run();

 private:
  void open(Side& s, const std::string& uri);
  void prepare_memory(Side& s);
  void prepare_pools(Side& s);
  void connect();
  void workload();
  void post_random();
  void post_send(Side& from, size_t at, ULONG bytes);
  void post_receive(Side& on);
  void post_write(Side& from, size_t at, ULONG bytes);
  void post_read(Side& from, size_t at, ULONG bytes);
  bool post_pair(Side& s, bool window);
  void end(Side& s, void* context, NTSTATUS status, bool initiator);
  bool room(Side& s, bool receive, size_t count = 1);
  bool broken();
  size_t poll_once();
  bool wait_any();
  void check_memory();
  void self_test_memory();
  bool all_accounted();
  void completed(Side& s, const Request& r);
  void drain();
  void teardown();
  void self_test_completion(Side& s, const NDK_RESULT_EX& r);
  Side& peer(const Side& s) { return sides_[1 - s.index]; }

  const Schedule& schedule_;
  Result* result_;
  Checker checker_;
  std::mt19937_64 rng_;
  Side sides_[kSides];
  bool stalled_ = false;
  bool self_test_done_ = false;
};

void Run::open(Side& s, const std::string& uri) {
  s.adapter = std::make_unique<Adapter>(uri);
  s.start = s.adapter->counters();
  const NDK_ADAPTER_INFO& info = s.adapter->info();
  s.initiator_depth = std::min<ULONG>(64, info.MaxInitiatorQueueDepth);
  s.receive_depth = std::min<ULONG>(128, info.MaxReceiveQueueDepth);
  s.cq = std::make_unique<Cq>(*s.adapter, std::min<ULONG>(1024, info.MaxCqDepth), false);
  NDK_ADAPTER* a = s.adapter->get();
  s.pd.reset(create<NDK_PD>("NdkCreatePd", [&](auto cb, void* ctx, NDK_PD** out) {
    return a->Dispatch->NdkCreatePd(a, cb, ctx, out);
  }));
  prepare_memory(s);
  prepare_pools(s);
  NDK_PD* pd = s.pd.get();
  s.qp.reset(create<NDK_QP>("NdkCreateQp", [&](auto cb, void* ctx, NDK_QP** out) {
    return pd->Dispatch->NdkCreateQp(pd, s.cq->get(), s.cq->get(), &s, s.receive_depth,
                                     s.initiator_depth, 1, 1, 0, cb, ctx, out);
  }));
  checker_.set_qp_context(s.index, &s);
  s.connector.reset(create<NDK_CONNECTOR>("NdkCreateConnector",
                                          [&](auto cb, void* ctx, NDK_CONNECTOR** out) {
                                            return a->Dispatch->NdkCreateConnector(a, cb, ctx, out);
                                          }));
}

void Run::prepare_memory(Side& s) {
  s.memory = std::make_unique<GuardedMemory>(kMemoryBytes, static_cast<uint8_t>(0x5A + s.index),
                                             std::string("the ") + side_name(s.index) +
                                                 " side's memory");
  NDK_PD* pd = s.pd.get();
  s.mr.reset(create<NDK_MR>("NdkCreateMr", [&](auto cb, void* ctx, NDK_MR** out) {
    return pd->Dispatch->NdkCreateMr(pd, FALSE, cb, ctx, out);
  }));
  MDL mdl{};
  SoftNdkInitializeMdl(&mdl, s.memory->data(), kMemoryBytes);
  NDK_MR* mr = s.mr.get();
  request("NdkRegisterMr", [&](auto cb, void* ctx) {
    return mr->Dispatch->NdkRegisterMr(mr, &mdl, kMemoryBytes, kAccess, cb, ctx);
  });
  s.local_token = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
  s.remote_token = mr->Dispatch->NdkGetRemoteTokenFromMr(mr);
}

// Fast-register MRs and windows, when the adapter has them: a kind it lacks is skipped (and
// said so), which is no failure of the schedule.
void Run::prepare_pools(Side& s) {
  const NDK_ADAPTER_INFO& info = s.adapter->info();
  auto skip = [&](const std::string& why) {
    if (s.index == 0) result_->skipped.push_back(why);
  };
  try {
    if (info.FRMRPageCount == 0) throw Error("FRMRPageCount is 0", STATUS_NOT_SUPPORTED);
    s.lam = std::make_unique<Lam>(*s.adapter, s.at(kFastRegister), kAreaBytes);
    for (size_t i = 0; i < kPool; ++i) s.fast_mrs.push_back(fast_register_mr(s.pd, s.lam->page_count()));
    s.fast_pool.resize(kPool);
  } catch (const Error& e) {
    // Not supported, or not for the pages of the area (the adapter's fast-register page limit).
    if (e.status() != STATUS_NOT_SUPPORTED && e.status() != STATUS_IMPLEMENTATION_LIMIT) throw;
    skip(std::string("fast-register + invalidate: ") + e.what());
    s.fast_mrs.clear();
  }
  try {
    if (info.MaxWindowSize == 0) throw Error("MaxWindowSize is 0", STATUS_NOT_SUPPORTED);
    NDK_PD* pd = s.pd.get();
    for (size_t i = 0; i < kPool; ++i)
      s.windows.emplace_back(create<NDK_MW>("NdkCreateMw", [&](auto cb, void* ctx, NDK_MW** out) {
        return pd->Dispatch->NdkCreateMw(pd, cb, ctx, out);
      }));
    s.window_pool.resize(kPool);
  } catch (const Error& e) {
    if (e.status() != STATUS_NOT_SUPPORTED) throw;
    skip(std::string("bind + invalidate: ") + e.what());
    s.windows.clear();
  }
}

void Run::connect() {
  Side& a = sides_[0];
  Side& p = sides_[1];
  NDK_ADAPTER* pa = p.adapter->get();
  ndkxx::Created<NDK_LISTENER> listener = ndkxx::create_listener(pa, p.incoming, stoppable_wait());
  if (listener.timed_out) throw_unfinished("NdkCreateListener");
  if (!listener.ok()) throw_status("NdkCreateListener", listener.status);
  p.listener.reset(listener.object);
  ndkxx::Outcome listening = ndkxx::listen(p.listener, p.adapter->local_address(), stoppable_wait());
  if (listening.timed_out) throw_unfinished("NdkListen");
  if (!listening.ok()) throw_status("NdkListen", listening.status);
  ndkxx::Handshake h;
  h.connector = a.connector.get();
  h.active_qp = a.qp.get();
  h.source = a.adapter->local_address();
  NTSTATUS status = ndkxx::local_address(p.listener.get(), &h.destination);
  if (status != STATUS_SUCCESS) throw_status("NdkGetLocalAddress (listener)", status);
  h.active_disconnect = {&a.disconnects, true};
  h.incoming = &p.incoming;
  h.passive_qp = p.qp.get();
  h.passive_disconnect = {&p.disconnects, true};
  ndkxx::Established e = ndkxx::establish(h, stoppable_wait());
  if (e.passive != nullptr) p.connector.reset(e.passive);
  if (!e.ok()) throw_status(std::string("connecting the pair (") + e.step + ")", e.status);
}

// ---- posting

void Run::end(Side& s, void* context, NTSTATUS status, bool initiator) {
  checker_.posted(context, status);
  if (status == STATUS_SUCCESS) ++(initiator ? s.initiator : s.receives);
}

void Run::post_receive(Side& on) {
  if (!room(on, true)) return;
  const size_t at = kReceives + rng_() % (kAreaBytes - kMaxMessage);
  NDK_SGE sge = on.sge(at, kMaxMessage);
  void* ctx = checker_.begin(on.index, Kind::Receive);
  NTSTATUS status = on.qp->Dispatch->NdkReceive(on.qp, ctx, &sge, 1);
  end(on, ctx, status, false);
  if (status == STATUS_SUCCESS) {
    on.memory->allow(at, kMaxMessage);
    ++on.receive_credit;
  }
}

void Run::post_send(Side& from, size_t at, ULONG bytes) {
  Side& to = peer(from);
  if (to.receive_credit <= 0) post_receive(to);  // a send never meets an empty receive queue
  if (!room(from, false)) return;
  NDK_SGE sge = from.sge(kSources + at, bytes);
  void* ctx = checker_.begin(from.index, Kind::Send);
  NTSTATUS status = from.qp->Dispatch->NdkSend(from.qp, ctx, &sge, 1, 0);
  end(from, ctx, status, true);
  if (status == STATUS_SUCCESS) --to.receive_credit;
}

void Run::post_write(Side& from, size_t at, ULONG bytes) {
  Side& to = peer(from);
  if (!room(from, false)) return;
  NDK_SGE sge = from.sge(kSources + at, bytes);
  void* ctx = checker_.begin(from.index, Kind::Write);
  NTSTATUS status = from.qp->Dispatch->NdkWrite(from.qp, ctx, &sge, 1,
                                                to.address(kWriteTargets + at), to.remote_token, 0);
  end(from, ctx, status, true);
  // Memory is checked on this thread only, between posts: a byte that landed before the post
  // returned is judged after this.
  if (status == STATUS_SUCCESS) to.memory->allow(kWriteTargets + at, bytes);
}

void Run::post_read(Side& from, size_t at, ULONG bytes) {
  Side& to = peer(from);
  if (!room(from, false)) return;
  NDK_SGE sink = from.sge(kReadSinks + at, bytes);
  void* ctx = checker_.begin(from.index, Kind::Read);
  NTSTATUS status = from.qp->Dispatch->NdkRead(from.qp, ctx, &sink, 1,
                                               to.address(kSources + at), to.remote_token, 0);
  end(from, ctx, status, true);
  if (status == STATUS_SUCCESS) from.memory->allow(kReadSinks + at, bytes);
}

// A fast-register (or bind) and its invalidate, back to back on one pool entry; false when the
// adapter has no such objects or every entry is retired (a pair whose invalidate failed inline
// leaves its registration valid: that entry is never reused).
bool Run::post_pair(Side& s, bool window) {
  std::vector<PoolEntry>& pool = window ? s.window_pool : s.fast_pool;
  auto usable = [&] {
    return std::find_if(pool.begin(), pool.end(), [](const PoolEntry& e) {
      return e.state != PoolEntry::State::Retired;
    }) != pool.end();
  };
  auto free_entry = [&] {
    return std::find_if(pool.begin(), pool.end(), [](const PoolEntry& e) {
      return e.state == PoolEntry::State::Free;
    });
  };
  if (!usable()) return false;
  while (free_entry() == pool.end())
    if (!wait_any()) return true;  // stalled: the schedule stops posting
  if (!room(s, false, 2)) return true;
  PoolEntry& entry = *free_entry();
  const auto slot = static_cast<uint32_t>(&entry - pool.data());
  NDK_QP* qp = s.qp.get();
  void* first = checker_.begin(s.index, window ? Kind::Bind : Kind::FastRegister, slot);
  NTSTATUS status =
      window ? qp->Dispatch->NdkBind(qp, first, s.mr, s.windows[slot], s.at(kFastRegister),
                                     kAreaBytes, kRemoteAccess)
             : qp->Dispatch->NdkFastRegister(qp, first, s.fast_mrs[slot], s.lam->page_count(),
                                             s.lam->pages(), s.lam->fbo(), kAreaBytes,
                                             s.at(kFastRegister), kRemoteAccess);
  end(s, first, status, true);
  if (status != STATUS_SUCCESS) return true;
  entry.state = PoolEntry::State::Busy;
  entry.pending = 1;
  NDK_OBJECT_HEADER* header = window ? &s.windows[slot]->Header : &s.fast_mrs[slot]->Header;
  void* second = checker_.begin(s.index, window ? Kind::InvalidateMw : Kind::InvalidateMr, slot);
  status = qp->Dispatch->NdkInvalidate(qp, second, header, 0);
  end(s, second, status, true);
  if (status == STATUS_SUCCESS) {
    ++entry.pending;
  } else {
    entry.state = PoolEntry::State::Retired;
  }
  return true;
}

void Run::post_random() {
  Side& s = sides_[rng_() % 2];
  const ULONG bytes = 1 + static_cast<ULONG>(rng_() % kMaxMessage);
  const size_t at = rng_() % (kAreaBytes - kMaxMessage);
  switch (rng_() % 10) {
    case 0:
    case 1:
    case 2: post_send(s, at, bytes); return;
    case 3:
    case 4: post_read(s, at, bytes); return;
    case 7:
      if (!post_pair(s, false)) post_write(s, at, bytes);
      return;
    case 8:
      if (!post_pair(s, true)) post_write(s, at, bytes);
      return;
    default: post_write(s, at, bytes); return;
  }
}

// ---- completions

// Waits (polling both CQs) until `s` has room for `count` more requests; false once no
// completion came in time (see wait_any()): the schedule then stops posting.
bool Run::room(Side& s, bool receive, size_t count) {
  auto full = [&] {
    return receive ? s.receives + count > s.receive_depth
                   : s.initiator + count > s.initiator_depth;
  };
  while (!stalled_ && full())
    if (!wait_any()) break;
  return !stalled_;
}

// A connection that ended (a disconnect event, after an abort or a graceful close) or a CQ that
// overran completes nothing more until the flush: waiting for room then is pointless.
bool Run::broken() {
  for (Side& s : sides_)
    if (s.disconnects.count.load() != 0 || s.adapter->counters().CqErrors != s.start.CqErrors)
      return true;
  return false;
}

void Run::completed(Side& s, const Request& r) {
  const bool receive = r.kind == Kind::Receive;
  --(receive ? s.receives : s.initiator);
  if (receive) return;
  if (r.kind == Kind::Send || r.kind == Kind::Write || r.kind == Kind::Read) return;
  const bool window = r.kind == Kind::Bind || r.kind == Kind::InvalidateMw;
  PoolEntry& e = (window ? s.window_pool : s.fast_pool)[r.slot];
  if (--e.pending == 0 && e.state == PoolEntry::State::Busy) e.state = PoolEntry::State::Free;
}

// Polls both CQs once and judges every completion at once; how many came.
size_t Run::poll_once() {
  size_t count = 0;
  for (Side& s : sides_) {
    NDK_RESULT_EX results[16];
    const ULONG n = s.cq->poll(results, 16);
    for (ULONG i = 0; i < n; ++i) {
      self_test_completion(s, results[i]);
      if (const Request* r = checker_.complete(s.index, results[i])) completed(s, *r);
    }
    count += n;
  }
  return count;
}

// Polls until at least one completion came; false (and stalled_) when none came within the
// wait bound, or within 100 ms once the connection is broken().
bool Run::wait_any() {
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + wait_timeout();
  for (uint32_t spins = 1;; ++spins) {
    if (poll_once() != 0) return true;
    if ((spins & 255) == 0) {
      check_stop();
      const Clock::time_point now = Clock::now();
      if (now >= deadline || (now - start > std::chrono::milliseconds(100) && broken())) {
        stalled_ = true;
        return false;
      }
      std::this_thread::yield();
    }
  }
}

// --self-test-violation=double: the first successful completion reaches the checker twice.
void Run::self_test_completion(Side& s, const NDK_RESULT_EX& r) {
  if (schedule_.self_test != SelfTest::Double || self_test_done_ || r.Status != STATUS_SUCCESS)
    return;
  self_test_done_ = true;
  if (const Request* q = checker_.complete(s.index, r)) completed(s, *q);
}

void Run::check_memory() {
  for (Side& s : sides_) s.memory->check(checker_, &area_of);
}

// --self-test-violation=outside: one byte into the canary at the end of the passive side's
// registered range; guard: one byte into the guard page before it (the process ends there).
void Run::self_test_memory() {
  Side& p = sides_[1];
  const std::byte wrong{0xA5};
  if (schedule_.self_test == SelfTest::Outside) {
    const auto changed = static_cast<std::byte>(~p.memory->pattern(kMemoryBytes - 1));
    std::memcpy(p.at(kMemoryBytes - 1), &changed, 1);
  } else if (schedule_.self_test == SelfTest::Guard) {
    std::memcpy(p.memory->data() - 1, &wrong, 1);
  }
}

// ---- the schedule

void Run::workload() {
  if (schedule_.self_test == SelfTest::Stray) {
    NDK_RESULT_EX stray{};
    stray.RequestContext = reinterpret_cast<void*>(uintptr_t{0xBAD0});
    stray.QPContext = &sides_[0];
    stray.Status = STATUS_SUCCESS;
    stray.Type = NdkOperationTypeSend;
    checker_.complete(0, stray);
  }
  for (Side& s : sides_)
    for (uint32_t i = 0; i < kInitialReceives; ++i) post_receive(s);
  for (uint64_t i = 0; i < schedule_.ops && !stalled_; ++i) {
    check_stop();
    post_random();
    poll_once();
    if (i % 32 == 31) check_memory();
    if (i == schedule_.ops / 2) self_test_memory();
  }
}

bool Run::all_accounted() {
  for (Side& s : sides_) {
    s.overrun = s.overrun || s.adapter->counters().CqErrors != s.start.CqErrors;
    if (!s.overrun && checker_.outstanding(s.index) != 0) return false;
  }
  return true;
}

// Both QPs flush; every request outstanding must then complete (a side whose CQ overran
// returns nothing more, by definition: its requests cannot be accounted).
void Run::drain() {
  for (Side& s : sides_) s.qp->Dispatch->NdkFlush(s.qp);
  const Clock::time_point deadline = deadline_from_now();
  for (uint32_t spins = 1; !all_accounted(); ++spins) {
    if (poll_once() != 0) continue;
    check_stop();
    if (Clock::now() >= deadline) break;
    if ((spins & 15) == 0) std::this_thread::yield();
  }
  for (Side& s : sides_) {
    if (s.overrun) {
      ++result_->cq_overruns;
      continue;
    }
    checker_.report_missing(s.index, "(both QPs were flushed and " + timeout_text() +
                                         " passed)");
  }
}

void Run::teardown() {
  for (Side& s : sides_) SoftNdkSetFaultPlan(s.adapter->get(), nullptr, 0);
  auto close = [&](auto& handle, Side& s, const char* what) {
    if (handle.get() == nullptr) return;
    ndkxx::Outcome o = handle.close(ndkxx::Wait{wait_timeout()});
    if (!o.ok())
      checker_.violation(std::string("closing the ") + side_name(s.index) + " side's " + what +
                         (o.timed_out ? " did not complete within " + timeout_text()
                                      : " returned " + status_text(o.status)));
  };
  for (Side& s : sides_) close(s.connector, s, "connector");
  for (Side& s : sides_) {
    close(s.qp, s, "QP");
    checker_.qp_closed(s.index);
  }
  poll_once();  // whatever comes now came after its QP was closed
  for (Side& s : sides_) {
    for (auto& w : s.windows) close(w, s, "memory window");
    for (auto& m : s.fast_mrs) close(m, s, "fast-register MR");
    s.lam.reset();
    close(s.mr, s, "MR");
    close(s.listener, s, "listener");
    close(s.pd, s, "PD");
  }
  check_memory();
  for (Side& s : sides_) {
    const SOFTNDK_ADAPTER_COUNTERS now = s.adapter->counters();
    result_->faults += now.FaultsInjected - s.start.FaultsInjected;
    if (now.ActiveConnections != s.start.ActiveConnections)
      checker_.violation(std::string("the ") + side_name(s.index) +
                         " adapter's ActiveConnections is " +
                         std::to_string(now.ActiveConnections) + " after every object closed, " +
                         "not its starting " + std::to_string(s.start.ActiveConnections));
  }
}

void Run::run() {
  set_guard_context(schedule_.seed);
  for (int i = 0; i < kSides; ++i) {
    sides_[i].index = i;
    open(sides_[i], schedule_.uri);
  }
  connect();
  const char* plan = schedule_.plan.empty() ? nullptr : schedule_.plan.c_str();
  for (Side& s : sides_) {
    // Each side draws its probabilistic triggers from its own seed.
    NTSTATUS status = SoftNdkSetFaultPlan(s.adapter->get(), plan, schedule_.seed + s.index);
    if (status != STATUS_SUCCESS)
      throw_status("SoftNdkSetFaultPlan(\"" + schedule_.plan + "\")", status);
  }
  workload();
  drain();
  teardown();
}

}  // namespace

Result run_schedule(const Schedule& schedule) {
  Result result;
  Run(schedule, &result).run();
  return result;
}

}  // namespace softndk::cli::chaos
