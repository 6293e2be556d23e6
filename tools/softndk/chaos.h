// `softndk chaos`, inside: one schedule (a seeded workload on a connected pair in this process
// under a fault plan), the checker that judges every completion as it is polled, and the guarded
// memory that notices a byte landing where no request was allowed to put it. chaos.cpp runs the
// schedules and prints; chaos_workload.cpp drives one; chaos_check.cpp holds the checker and
// the memory. Invariants and output: docs/faults.md, "softndk chaos".
#pragma once

#include <softndk/ndkpi.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace softndk::cli::chaos {

// --self-test-violation: the tool commits one violation itself, to prove the checker fails.
enum class SelfTest { None, Double, Stray, Outside, Guard };

struct Schedule {
  uint64_t seed = 1;
  std::string uri = "loopback";
  std::string plan;  // "" runs without faults
  uint64_t ops = 200;
  SelfTest self_test = SelfTest::None;
};

// What one schedule did and found.
struct Result {
  uint64_t requests = 0;       // posts attempted
  uint64_t posted = 0;         // posts that returned STATUS_SUCCESS
  uint64_t failed_inline = 0;  // posts that returned an error (they must never complete)
  uint64_t completions = 0;
  uint64_t faults = 0;       // FaultsInjected of both adapters
  uint64_t cq_overruns = 0;  // sides whose CQ overran: their missing completions not accounted
  std::vector<std::string> skipped;     // work kinds the adapter does not support, and why
  std::vector<std::string> violations;  // the first kMaxListedViolations
  uint64_t violation_count = 0;
};
inline constexpr size_t kMaxListedViolations = 20;

// Runs one schedule. Throws Error when the pair cannot even be set up (before any fault).
Result run_schedule(const Schedule& schedule);

// A random plan of one or two rules the transport supports (the fault soak's distribution).
std::string random_plan(std::mt19937_64& rng, bool loopback);
// The seed of the schedule after the one of `seed` (a schedule of seed S is the first of
// `--seed S`).
uint64_t next_seed(uint64_t seed);

// ---- the checker

enum class Kind : uint8_t { Receive, Send, Write, Read, FastRegister, InvalidateMr, Bind, InvalidateMw };
const char* kind_name(Kind kind);

inline constexpr int kSides = 2;  // 0 active, 1 passive
const char* side_name(int side);

struct Request {
  uint64_t id = 0;  // also its RequestContext
  Kind kind = Kind::Send;
  int side = 0;
  uint32_t slot = 0;  // fast-register MR / window of the pool
  enum class State : uint8_t { Posting, Outstanding, FailedInline, Completed } state = State::Posting;
  NTSTATUS status = STATUS_PENDING;  // the post's, then the completion's
};

class Checker {
 public:
  explicit Checker(Result* result, uint64_t seed) : result_(result), seed_(seed) {}
  // The side's QP context (the QPContext its completions must carry).
  void set_qp_context(int side, const void* context) { qp_context_[side] = context; }

  // Before a post: the request and its RequestContext.
  void* begin(int side, Kind kind, uint32_t slot = 0);
  // After it: the status the post returned.
  void posted(void* context, NTSTATUS status);
  // A completion polled from `side`'s CQ: every check; the request when it is a legitimate
  // first completion of a known outstanding request of that side, else nullptr.
  const Request* complete(int side, const NDK_RESULT_EX& result);
  void qp_closed(int side) { qp_closed_[side] = true; }
  size_t outstanding(int side) const { return outstanding_[side]; }
  // Every request of `side` still outstanding is a violation ("never completed").
  void report_missing(int side, const std::string& after);
  // Records (and prints on stderr) a violation.
  void violation(const std::string& text);
  std::string describe(const Request& request) const;

 private:
  Result* result_;
  uint64_t seed_;
  uint64_t next_id_ = 0x1000;
  std::unordered_map<uint64_t, Request> requests_;
  size_t outstanding_[kSides] = {0, 0};
  const void* qp_context_[kSides] = {nullptr, nullptr};
  bool qp_closed_[kSides] = {false, false};
};

// ---- guarded memory

// Page-aligned memory between two PROT_NONE guard pages (a byte written beyond either end
// faults; the handler names the guard and the replay seed), filled with a pattern. Posts declare
// where they may write (allow()); check() reports every byte nobody was allowed to write that no
// longer holds its pattern, e.g. the canaries at both ends of the registered range.
class GuardedMemory {
 public:
  GuardedMemory(size_t bytes, uint8_t salt, std::string owner);
  ~GuardedMemory();
  GuardedMemory(const GuardedMemory&) = delete;
  GuardedMemory& operator=(const GuardedMemory&) = delete;

  std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  uint8_t pattern(size_t offset) const { return static_cast<uint8_t>(offset * 131 + salt_); }
  void allow(size_t offset, size_t bytes);
  // Reports each changed run of unallowed bytes once; `area(offset)` names where it lies.
  void check(Checker& checker, std::string (*area)(size_t offset));

 private:
  std::byte* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  uint8_t salt_;
  std::string owner_;
  std::vector<uint8_t> allowed_;
  std::vector<uint8_t> reported_;
  int guard_slot_ = -1;
};

// The replay text the guard-page handler prints (set per schedule).
void set_guard_context(uint64_t seed);

}  // namespace softndk::cli::chaos
