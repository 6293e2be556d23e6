// Model-based randomized test (conformance): seeded random sequences of posts of every
// operation type and flag, flushes, disconnects, peer disappearance (connector close) and QP
// closes on connected pairs, checked against a reference model:
//   - every accepted request completes exactly once (silent successes at most once),
//   - completions of one queue appear in posting order, with the right type and context,
//   - while the connection is healthy every request succeeds and receives carry the sent bytes,
//   - once a queue reports a cancellation, nothing later on it succeeds,
//   - no completion for an unknown request, and none after the QP's close completed.
// Reproducible: SOFTNDK_MODEL_SEED=N reruns one seed; SOFTNDK_MODEL_LONG=SECONDS soaks.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <set>

#include "fixtures.h"
#include "ndk_test.h"

namespace {
using namespace ndktest;

enum class Op { Send, Write, Read, Receive };

struct Expected {
  uint64_t id;
  Op op;
  bool silent;
  bool healthy;        // posted while the connection was healthy and the request was valid
  ULONG bytes;         // receive: bytes the matching send carried (when healthy)
};

const std::set<NTSTATUS> kAllowedFailures = {STATUS_CANCELLED,        STATUS_ACCESS_VIOLATION,
                                             STATUS_REMOTE_RESOURCES, STATUS_CONNECTION_ABORTED,
                                             STATUS_BUFFER_OVERFLOW,  STATUS_CONNECTION_RESET};

NDK_OPERATION_TYPE type_of(Op op) {
  switch (op) {
    case Op::Send:
      return NdkOperationTypeSend;
    case Op::Write:
      return NdkOperationTypeWrite;
    case Op::Read:
      return NdkOperationTypeRead;
    case Op::Receive:
      return NdkOperationTypeReceive;
  }
  return NdkOperationTypeSend;
}

// One side's queues as the model sees them.
struct QueueModel {
  std::deque<Expected> initiator, receive;
  bool initiator_cancelled = false, receive_cancelled = false;
};

class Episode {
 public:
  Episode(const std::string& uri, uint64_t seed) : pair_(uri, options()), rng_(seed) {}

  static PairOptions options() {
    PairOptions o;
    o.depth = 32;
    o.cq_depth = 4096;
    o.inline_bytes = 64;
    o.read_limit = 4;
    return o;
  }

  void run(int steps) {
    ASSERT_TRUE(pair_.connect([&](ConnectedPairFixture& p) {
      for (ConnectedPairFixture::Side* s : {&p.active, &p.passive}) {
        regions_.push_back(std::make_unique<Region>(
            s->pd, kRegionBytes,
            NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE |
                NDK_MR_FLAG_ALLOW_REMOTE_READ | NDK_MR_FLAG_RDMA_READ_SINK));
        ASSERT_NT(STATUS_SUCCESS, regions_.back()->status());
      }
      // Pre-post receives on both sides while idle.
      for (int i = 0; i < 8; ++i) {
        post_receive(0);
        post_receive(1);
      }
    }));
    for (int i = 0; i < steps && !::testing::Test::HasFatalFailure(); ++i) step();
    finish();
  }

 private:
  // Layout of each side's region, so that no byte is written and read at once by two threads
  // (the transports place on their own threads): receives [0, 32K), send sources [32K, 48K),
  // remote write targets [48K, 56K), write/read sources [56K, 64K) (only read), read sinks
  // [64K, 72K).
  static constexpr size_t kRegionBytes = 72 * 1024;
  static constexpr ULONG kSlot = 1024;  // each receive gets its own kSlot-sized buffer

  ConnectedPairFixture::Side& side(int i) { return i == 0 ? pair_.active : pair_.passive; }
  Region& region(int i) { return *regions_[i]; }

  uint64_t next_id() { return ++ids_; }
  void* ctx(uint64_t id) { return reinterpret_cast<void*>(id); }

  int outstanding_initiator(int s) { return static_cast<int>(model_[s].initiator.size()); }
  int outstanding_receive(int s) { return static_cast<int>(model_[s].receive.size()); }

  void post_receive(int s) {
    if (outstanding_receive(s) >= static_cast<int>(pair_.options.depth)) return;
    uint64_t id = next_id();
    size_t slot = (id % 32) * kSlot;
    NTSTATUS status = post_receive_at(s, slot, id);
    if (status == STATUS_SUCCESS) {
      model_[s].receive.push_back({id, Op::Receive, false, healthy_, 0});
      ++unconsumed_receives_[s];
    } else {
      EXPECT_FALSE(healthy_) << "receive refused while healthy: " << status_name(status);
    }
  }

  NTSTATUS post_receive_at(int s, size_t offset, uint64_t id) {
    NDK_SGE sge = region(s).sge(offset, kSlot);
    return side(s).q()->NdkReceive(side(s).qp, ctx(id), &sge, 1);
  }

  bool can_post(int s) {
    return !closed_ && outstanding_initiator(s) < static_cast<int>(pair_.options.depth) - 1;
  }

  void post_send(int s) {
    if (!can_post(s)) return;
    int peer = 1 - s;
    std::uniform_int_distribution<ULONG> size(0, kSlot);
    ULONG bytes = size(rng_);
    ULONG flags = 0;
    if (coin(4)) flags |= NDK_OP_FLAG_SILENT_SUCCESS;
    if (coin(4) && bytes <= 64) flags |= NDK_OP_FLAG_INLINE;
    if (coin(4)) flags |= NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT;
    if (coin(6)) flags |= NDK_OP_FLAG_READ_FENCE;
    if (coin(6)) flags |= NDK_OP_FLAG_DEFER;
    bool valid = unconsumed_receives_[peer] > 0;
    if (!valid && !coin(8)) return;  // mostly avoid RNR; sometimes provoke it
    uint64_t id = next_id();
    size_t offset = 32 * kSlot + (id % 16) * kSlot;
    NDK_SGE sge = region(s).sge(offset, bytes);
    NTSTATUS status = side(s).q()->NdkSend(side(s).qp, ctx(id), &sge, 1, flags);
    record_initiator(s, id, Op::Send, flags, status, valid);
    if (status == STATUS_SUCCESS && healthy_) {
      if (valid) {
        // The oldest receive of the peer that is still unconsumed carries these bytes.
        for (Expected& e : model_[peer].receive) {
          if (e.bytes == 0 && e.healthy && !consumed_.count(e.id)) {
            e.bytes = bytes;
            consumed_.insert(e.id);
            break;
          }
        }
        --unconsumed_receives_[peer];
      } else {
        break_connection();
      }
    }
  }

  void post_rdma(int s, bool read) {
    if (!can_post(s)) return;
    int peer = 1 - s;
    std::uniform_int_distribution<ULONG> size(0, 8192);
    ULONG bytes = size(rng_);
    bool valid = !coin(12);  // sometimes target outside the peer's region
    uint64_t remote = region(peer).address(read ? 56 * kSlot : 48 * kSlot) +
                      (valid ? 0 : kRegionBytes);
    ULONG flags = 0;
    if (coin(4)) flags |= NDK_OP_FLAG_SILENT_SUCCESS;
    if (coin(6)) flags |= NDK_OP_FLAG_READ_FENCE;
    if (!read && coin(4) && bytes <= 64) flags |= NDK_OP_FLAG_INLINE;
    uint64_t id = next_id();
    NDK_SGE sge = region(s).sge(read ? 64 * kSlot : 56 * kSlot, bytes);
    NTSTATUS status =
        read ? side(s).q()->NdkRead(side(s).qp, ctx(id), &sge, 1, remote,
                                    region(peer).remote_token(), flags)
             : side(s).q()->NdkWrite(side(s).qp, ctx(id), &sge, 1, remote,
                                     region(peer).remote_token(), flags);
    // A zero-length write is never validated (iWARP: never checked), so it stays valid.
    bool effective_valid = valid || (!read && bytes == 0);
    record_initiator(s, id, read ? Op::Read : Op::Write, flags, status, effective_valid);
    if (status == STATUS_SUCCESS && healthy_ && !effective_valid) break_connection();
  }

  void record_initiator(int s, uint64_t id, Op op, ULONG flags, NTSTATUS status, bool valid) {
    if (status == STATUS_SUCCESS) {
      bool silent = (flags & NDK_OP_FLAG_SILENT_SUCCESS) != 0;
      model_[s].initiator.push_back({id, op, silent, healthy_ && valid, 0});
      return;
    }
    // Refusals are allowed only once the connection is gone (not connected).
    EXPECT_FALSE(healthy_) << "post refused while healthy: " << status_name(status);
    EXPECT_NT(STATUS_CONNECTION_INVALID, status);
  }

  void break_connection() {
    healthy_ = false;
  }

  bool coin(int one_in) { return std::uniform_int_distribution<int>(0, one_in - 1)(rng_) == 0; }

  void step() {
    int s = coin(2) ? 0 : 1;
    int action = std::uniform_int_distribution<int>(0, 99)(rng_);
    if (trace_) std::fprintf(stderr, "step side%d action %d (next id %llu)\n", s, action,
                             static_cast<unsigned long long>(ids_ + 1));
    if (action < 25) {
      post_receive(s);
    } else if (action < 50) {
      post_send(s);
    } else if (action < 65) {
      post_rdma(s, false);
    } else if (action < 78) {
      post_rdma(s, true);
    } else if (action < 95) {
      drain(s);
    } else if (action < 97) {
      side(s).q()->NdkFlush(side(s).qp);
      break_connection();
    } else if (action < 98 && !closed_) {
      sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
        return side(s).connector->Dispatch->NdkDisconnect(side(s).connector, cb, c);
      });
      break_connection();
    } else if (!closed_) {
      // The peer vanishes: its connector closes abruptly.
      side(s).close(side(s).connector);
      side(s).connector = nullptr;
      closed_ = true;
      break_connection();
    }
  }

  // Checks one completion against the model of its queue.
  void check(int s, const NDK_RESULT_EX& r) {
    uint64_t id = reinterpret_cast<uint64_t>(r.RequestContext);
    if (trace_) std::fprintf(stderr, "  side%d completion #%llu type %d %s\n", s,
                             static_cast<unsigned long long>(id), r.Type,
                             status_name(r.Status).c_str());
    ASSERT_EQ(&side(s), r.QPContext) << "completion with another QP's context";
    bool is_receive = r.Type == NdkOperationTypeReceive;
    std::deque<Expected>& queue = is_receive ? model_[s].receive : model_[s].initiator;
    bool& cancelled = is_receive ? model_[s].receive_cancelled : model_[s].initiator_cancelled;
    // Silent successes ahead of it leave no trace: skip them, they succeeded.
    while (!queue.empty() && queue.front().id != id && queue.front().silent) queue.pop_front();
    ASSERT_FALSE(queue.empty()) << "completion " << id << " for nothing outstanding";
    Expected e = queue.front();
    ASSERT_EQ(e.id, id) << "out of order on side " << s << (is_receive ? " receive" : " initiator")
                        << " queue: expected " << e.id << " got " << id;
    queue.pop_front();
    ++completed_;
    EXPECT_EQ(type_of(e.op), r.Type) << "request " << id;
    if (r.Status == STATUS_SUCCESS) {
      EXPECT_FALSE(cancelled) << "success after a cancellation on the same queue (request " << id
                              << ")";
      EXPECT_FALSE(e.silent) << "a silent request reported its success (request " << id << ")";
      if (is_receive && e.healthy && e.bytes != 0) {
        EXPECT_EQ(e.bytes, r.BytesTransferred);
      }
    } else {
      EXPECT_TRUE(kAllowedFailures.count(r.Status)) << status_name(r.Status);
      EXPECT_FALSE(e.healthy && healthy_) << "request " << id << " failed while healthy: "
                                          << status_name(r.Status);
      if (r.Status == STATUS_CANCELLED) cancelled = true;
    }
  }

  void drain(int s) {
    NDK_RESULT_EX results[16];
    ULONG n = side(s).cq.poll(results, 16);
    for (ULONG i = 0; i < n && !::testing::Test::HasFatalFailure(); ++i) check(s, results[i]);
  }

  void finish() {
    // Tear down: flush both QPs, then every outstanding request must complete.
    for (int s = 0; s < 2; ++s) side(s).q()->NdkFlush(side(s).qp);
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    for (;;) {
      drain(0);
      drain(1);
      if (::testing::Test::HasFatalFailure()) return;
      bool empty = true;
      for (int s = 0; s < 2; ++s) {
        for (auto* q : {&model_[s].initiator, &model_[s].receive}) {
          // A tail of silent requests may have succeeded without a trace.
          bool all_silent = true;
          for (const Expected& e : *q) all_silent = all_silent && e.silent;
          if (all_silent) q->clear();
          if (!q->empty()) empty = false;
        }
      }
      if (empty) break;
      if (std::chrono::steady_clock::now() > deadline) {
        std::string stuck;
        static const char* kOps[] = {"send", "write", "read", "receive"};
        for (int s = 0; s < 2; ++s)
          for (auto* q : {&model_[s].initiator, &model_[s].receive})
            for (const Expected& e : *q)
              stuck += " side" + std::to_string(s) + ":" + kOps[static_cast<int>(e.op)] + "#" +
                       std::to_string(e.id) + (e.silent ? "(silent)" : "");
        ADD_FAILURE() << "requests never completed:" << stuck;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // Closing the QPs adds nothing: every request has completed already.
    for (int s = 0; s < 2; ++s) {
      side(s).close(side(s).connector);
      side(s).connector = nullptr;
      side(s).close(side(s).qp);
      side(s).qp = nullptr;
      NDK_RESULT_EX r{};
      EXPECT_EQ(0u, side(s).cq.poll(&r, 1))
          << "completion after the QP close completed: request "
          << reinterpret_cast<uint64_t>(r.RequestContext) << " type " << r.Type << " "
          << status_name(r.Status);
    }
    regions_.clear();
  }

  ConnectedPairFixture pair_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<Region>> regions_;
  QueueModel model_[2];
  int unconsumed_receives_[2] = {0, 0};
  std::set<uint64_t> consumed_;
  uint64_t ids_ = 0;
  bool healthy_ = true;
  bool closed_ = false;
  bool trace_ = std::getenv("SOFTNDK_MODEL_TRACE") != nullptr;

 public:
  uint64_t completed_ = 0;
};

class Model : public ::testing::TestWithParam<std::string> {};

TEST_P(Model, random_sequences_complete_exactly_once_in_order) {
  std::vector<uint64_t> seeds;
  if (const char* one = std::getenv("SOFTNDK_MODEL_SEED")) {
    seeds.push_back(std::strtoull(one, nullptr, 0));
  } else {
    for (uint64_t s = 1; s <= 24; ++s) seeds.push_back(s * 7919);
  }
  double soak_seconds = 0;
  if (const char* soak = std::getenv("SOFTNDK_MODEL_LONG")) soak_seconds = std::atof(soak);
  auto start = std::chrono::steady_clock::now();
  uint64_t total = 0;
  for (size_t i = 0;; ++i) {
    uint64_t seed = i < seeds.size() ? seeds[i] : seeds.back() + i * 104729;
    if (i >= seeds.size() &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >=
            soak_seconds)
      break;
    SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun with SOFTNDK_MODEL_SEED=" +
                 std::to_string(seed) + ")");
    Episode episode(GetParam(), seed);
    episode.run(400);
    total += episode.completed_;
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(total, 0u);
}

INSTANTIATE_TEST_SUITE_P(Uris, Model, ::testing::ValuesIn(ndktest::test_uris()));

}  // namespace
