// The tcp fault soak across two processes (issue 11, docs/faults.md "The soak"): per schedule
// this process forks the passive side (before it opens anything, so the child starts with one
// thread), which listens on tcp://127.0.0.1; this process connects as the active side. Both run
// the workload of the in-process soak (soak_workload.h) on their own side, with the seeded plan
// on one of them, and each checks its own invariants: every request whose post succeeded
// completes exactly once, a failed post never, nothing unknown completes, nothing completes
// after its queue pair closed (a side whose CQ overran is not accounted). The child reports its
// counts and violations over a socket pair; every wait is bounded, and a child that hangs, dies
// or fails is a failure naming the seed (the child is killed and reaped on every path).
//
// CI runs 30 schedules (under ThreadSanitizer 37 s beside the other fault soaks);
// SOFTNDK_FAULT_SOAK_TCP=N runs N (the long soak: 1000).
// SOFTNDK_FAULT_SOAK_SEED=N replays the schedule of seed N alone.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <memory>
#include <random>
#include <thread>

#include <gtest/gtest-spi.h>

#include "soak_workload.h"

namespace faulttest {
namespace {

constexpr const char* kUri = "tcp://127.0.0.1";

// What the child breaks on purpose, for the test of the harness itself: a soak whose child may
// die, hang or fail unnoticed would prove nothing.
enum class Sabotage { none, violation, die, hang };

// The schedule of a seed, drawn the same in both processes: the plan and its side (as in the
// in-process soak), how many operations each side posts, and each side's own generator.
struct Schedule {
  explicit Schedule(uint64_t seed) {
    std::mt19937_64 rng(seed);
    plan = draw_plan(rng, false);
    const int operations = 20 + static_cast<int>(rng() % 40);
    for (int i = 0; i < operations; ++i) ++(rng() % 4 == 0 ? active_operations : passive_operations);
    active_seed = rng();
    passive_seed = rng();
  }
  SoakPlan plan;
  int active_operations = 0, passive_operations = 0;
  uint64_t active_seed = 0, passive_seed = 0;
};

// Messages between the two processes, each introduced by a tag byte.
constexpr char kReady = 'R';   // receives posted, plan set: the peer may send
constexpr char kPosted = 'P';  // every operation posted: the peer may flush
constexpr char kReport = 'E';  // the child's end: its Report and violations follow

struct Hello {  // child -> parent, once listening
  uint16_t port = 0;
  SoakRemote memory;
};
struct Report {
  SoakTotals totals;
  uint32_t text_bytes = 0;  // the violations, one per line, follow
};

class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}
  ~Channel() { ::close(fd_); }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  bool send(const void* data, size_t bytes) {
    auto* p = static_cast<const char*>(data);
    while (bytes != 0) {
      ssize_t n = ::send(fd_, p, bytes, MSG_NOSIGNAL);
      if (n <= 0) return false;
      p += n;
      bytes -= static_cast<size_t>(n);
    }
    return true;
  }
  bool send_tag(char tag) { return send(&tag, 1); }
  // The peer's next read ends at once (the end of the stream) instead of waiting for its bound.
  void end_sending() { ::shutdown(fd_, SHUT_WR); }
  bool receive(void* out, size_t bytes, std::chrono::milliseconds bound = kTimeout) {
    return read_within(fd_, out, bytes, bound);
  }

 private:
  int fd_;
};

// ---------------------------------------------------------------------------------------------
// The passive side, in the child

// What the child collected; sent back as its Report.
struct ChildResult {
  SoakTotals totals;
  std::vector<std::string> violations;
  void fail(const std::string& text) { violations.push_back("passive side (child): " + text); }
};

ULONG read_limit(const PdCqFixture& node) {
  const NDK_ADAPTER_INFO& info = node.info();
  return std::min<ULONG>({8, info.MaxInboundReadLimit, info.MaxOutboundReadLimit});
}

// Runs the passive side of the schedule on an adapter of its own. Every wait is bounded: when
// the parent goes silent, the child gives up and reports.
void run_passive(uint64_t seed, Sabotage sabotage, Channel& channel, ChildResult* result) {
  const Schedule schedule(seed);
  DisconnectEvents events;
  Incoming incoming;
  PdCqFixture node(kUri, 4096);
  if (!node.ok()) return result->fail("the adapter, PD or CQ could not be created");
  NDK_LISTENER* listener = node.create_listener(incoming);
  sockaddr_storage bound{};
  if (listener == nullptr ||
      ndkxx::listen(listener, node.local(), ndkxx::Wait{kTimeout}).status != STATUS_SUCCESS ||
      ndkxx::local_address(listener, &bound) != STATUS_SUCCESS)
    return result->fail("the listener could not listen");
  NDK_QP* qp = node.create_qp(64);
  auto memory = std::make_unique<Region>(node.pd, 64 * 1024, kMrAll, 0, ndkxx::Wait{kTimeout});
  if (qp == nullptr || memory->status() != STATUS_SUCCESS)
    return result->fail("the queue pair or the memory could not be created");
  Hello hello{ndkxx::port_of(bound), {memory->address(), memory->remote_token()}};
  SoakRemote remote;
  if (!channel.send(&hello, sizeof hello) || !channel.receive(&remote, sizeof remote))
    return result->fail("the parent did not answer the hello");
  NDK_CONNECTOR* connector = incoming.next(ndkxx::Wait{kTimeout});
  if (connector == nullptr) return result->fail("no connect event");
  ndkxx::Request accept;
  const ULONG limit = read_limit(node);
  NTSTATUS s = ndkxx::start_accept(accept, connector, qp, {limit, limit}, {&events, true});
  if ((s != STATUS_SUCCESS && s != STATUS_PENDING) ||
      accept.finish(ndkxx::Wait{kTimeout}).status != STATUS_SUCCESS)
    return result->fail("NdkAcceptEx failed: " + status_name(s));
  SoakSide side("passive", &node, qp, connector, memory.get(), remote, 0x100000);
  side.post_receives(24);
  if (!schedule.plan.on_active && !set_plan(node.get(), schedule.plan.plan.c_str(), seed))
    result->fail("SoftNdkSetFaultPlan refused the plan");
  if (sabotage == Sabotage::violation) result->fail("a violation on purpose (self-test)");
  if (sabotage == Sabotage::hang)
    for (;;) pause();  // until the parent kills it
  char tag = 0;
  if (!channel.send_tag(kReady) || !channel.receive(&tag, 1) || tag != kReady)
    result->fail("the parent did not reach the ready barrier");
  if (sabotage == Sabotage::die) kill(getpid(), SIGKILL);
  std::mt19937_64 rng(schedule.passive_seed);
  for (int i = 0; i < schedule.passive_operations; ++i) side.post_random(rng);
  if (!channel.send_tag(kPosted) || !channel.receive(&tag, 1) || tag != kPosted)
    result->fail("the parent did not reach the posted barrier");
  side.flush();
  side.collect(&result->totals);
  side.close_connector();
  side.close_qp();
  side.check_nothing_after_close();
  for (const std::string& v : side.violations()) result->violations.push_back(v);
  memory.reset();
  if (!node.teardown()) result->fail("the close of the PD, CQ or listener failed");
}

// The child's whole life: the passive side, then its Report. Never returns.
[[noreturn]] void child_main(uint64_t seed, Sabotage sabotage, int fd) {
  ChildResult result;
  {
    Channel channel(fd);
    run_passive(seed, sabotage, channel, &result);  // its adapter is closed when it returns
    if (::testing::Test::HasFailure())
      result.fail("a check of the test support failed (its message is above)");
    std::string text;
    for (const std::string& v : result.violations) text += v + "\n";
    Report report{result.totals, static_cast<uint32_t>(text.size())};
    bool sent = channel.send_tag(kReport) && channel.send(&report, sizeof report) &&
                channel.send(text.data(), text.size());
    std::fflush(stdout);
    std::fflush(stderr);
    if (!sent) _exit(3);
  }
  _exit(result.violations.empty() ? 0 : 1);
}

// ---------------------------------------------------------------------------------------------
// The active side, in this process

// Threads of this process (/proc/self/task).
int thread_count() {
  int count = 0;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (dirent* e = readdir(dir)) count += e->d_name[0] != '.' ? 1 : 0;
    closedir(dir);
  }
  return count;
}

// The forked child: killed (if still running) and reaped on every path.
class Child {
 public:
  ~Child() { kill_and_reap(); }
  bool start(uint64_t seed, Sabotage sabotage, std::unique_ptr<Channel>* channel) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return false;
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      // Not even a killed test leaves its child behind.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(4);
      ::close(fds[0]);
      child_main(seed, sabotage, fds[1]);
    }
    ::close(fds[1]);
    channel->reset(new Channel(fds[0]));
    return pid_ > 0;
  }
  // Waits (bounded) for the child to exit; its wait status, or -1 when it did not exit in time.
  int wait_exit(std::chrono::milliseconds bound) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (pid_ > 0) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      if (r < 0 || std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return -1;
  }
  void kill_and_reap() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

std::string describe_exit(int status) {
  if (status == -1) return "did not exit within the bound (killed)";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

// One schedule. Every wait for the child is bounded by `bound` (its report by three times that:
// the child may wait at a barrier and for its completions before it gives up).
class TwoProcessSoak {
 public:
  TwoProcessSoak(uint64_t seed, SoakTotals* totals, Sabotage sabotage = Sabotage::none,
                 std::chrono::milliseconds bound = kTimeout)
      : seed_(seed), schedule_(seed), totals_(totals), sabotage_(sabotage), bound_(bound) {}
  void run();

 private:
  // Reads the child's next tag; a Report instead of `expected` (the child gave up) is read too.
  bool expect(char expected);
  bool read_report();
  void run_active();

  uint64_t seed_;
  Schedule schedule_;
  SoakTotals* totals_;
  Sabotage sabotage_;
  std::chrono::milliseconds bound_;
  Child child_;
  std::unique_ptr<Channel> channel_;
  Hello hello_;
  bool reported_ = false;
};

bool TwoProcessSoak::expect(char expected) {
  char tag = 0;
  if (!channel_->receive(&tag, 1, bound_)) {
    ADD_FAILURE() << "the child sent nothing (the channel ended, or the bound passed) while "
                     "waiting for '" << expected << "'";
    return false;
  }
  if (tag == expected) return true;
  if (tag == kReport) read_report();
  ADD_FAILURE() << "the child stopped before '" << expected << "' (sent '" << tag << "')";
  return false;
}

bool TwoProcessSoak::read_report() {
  Report report;
  if (!channel_->receive(&report, sizeof report, bound_)) {
    ADD_FAILURE() << "the child's report was cut short";
    return false;
  }
  std::string text(report.text_bytes, '\0');
  if (report.text_bytes > (1u << 20) || !channel_->receive(text.data(), text.size(), bound_)) {
    ADD_FAILURE() << "the child's report was cut short";
    return false;
  }
  reported_ = true;
  totals_->add(report.totals);
  for (size_t at = 0, end; at < text.size(); at = end + 1) {
    end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    ADD_FAILURE() << text.substr(at, end - at);
  }
  return true;
}

void TwoProcessSoak::run() {
  SCOPED_TRACE("fault soak seed " + std::to_string(seed_) + " on " + kUri +
               " across two processes: plan '" + schedule_.plan.plan + "' on the " +
               (schedule_.plan.on_active ? "active side (parent)" : "passive side (child)") +
               " (replay: SOFTNDK_FAULT_SOAK_SEED=" + std::to_string(seed_) +
               " faults_soak_test --gtest_filter='FaultSoak.tcp_two_process*')");
  ASSERT_TRUE(child_.start(seed_, sabotage_, &channel_)) << "fork: " << std::strerror(errno);
  if (!channel_->receive(&hello_, sizeof hello_, bound_)) {
    ADD_FAILURE() << "the child did not start (no hello within the bound)";
  } else {
    run_active();  // the parent's adapter is closed when it returns
    if (::testing::Test::HasFailure()) channel_->end_sending();  // the child stops waiting
  }
  if (!reported_) {
    char tag = 0;
    if (channel_->receive(&tag, 1, 3 * bound_) && tag == kReport) {
      read_report();
    } else {
      ADD_FAILURE() << "the child sent no report (the channel ended, or the bound passed)";
    }
  }
  // A child that reported exits at once; one that did not is dead (reaped here) or hangs.
  int status = child_.wait_exit(bound_);
  if (status == -1) child_.kill_and_reap();
  if (!reported_ || status != 0)
    ADD_FAILURE() << "the child " << describe_exit(status);
}

void TwoProcessSoak::run_active() {
  DisconnectEvents events;
  PdCqFixture node(kUri, 4096);
  ASSERT_TRUE(node.ok());
  NDK_QP* qp = node.create_qp(64);
  NDK_CONNECTOR* connector = node.create_connector();
  auto memory = std::make_unique<Region>(node.pd, 64 * 1024, kMrAll, 0, ndkxx::Wait{kTimeout});
  ASSERT_TRUE(qp != nullptr && connector != nullptr);
  ASSERT_NT(STATUS_SUCCESS, memory->status());
  SoakRemote mine{memory->address(), memory->remote_token()};
  ASSERT_TRUE(channel_->send(&mine, sizeof mine));
  const ULONG limit = read_limit(node);
  ndkxx::Request connect;
  NTSTATUS s = ndkxx::start_connect(connect, connector, qp, node.local(),
                                    ndkxx::ip_address("127.0.0.1", hello_.port), {limit, limit});
  ASSERT_TRUE(s == STATUS_SUCCESS || s == STATUS_PENDING) << status_name(s);
  ASSERT_NT(STATUS_SUCCESS, connect.finish(ndkxx::Wait{kTimeout}).status) << "NdkConnect";
  ndkxx::Request complete;
  s = ndkxx::start_complete_connect(complete, connector, {&events, true});
  ASSERT_TRUE(s == STATUS_SUCCESS || s == STATUS_PENDING) << status_name(s);
  ASSERT_NT(STATUS_SUCCESS, complete.finish(ndkxx::Wait{kTimeout}).status) << "complete";
  SoakSide side("active", &node, qp, connector, memory.get(), hello_.memory, 0x1000);
  side.post_receives(24);
  if (schedule_.plan.on_active) {
    ASSERT_TRUE(set_plan(node.get(), schedule_.plan.plan.c_str(), seed_));
  }
  ASSERT_TRUE(channel_->send_tag(kReady));
  ASSERT_TRUE(expect(kReady));
  std::mt19937_64 rng(schedule_.active_seed);
  for (int i = 0; i < schedule_.active_operations; ++i) side.post_random(rng);
  ASSERT_TRUE(channel_->send_tag(kPosted));
  ASSERT_TRUE(expect(kPosted));
  side.flush();
  side.collect(totals_);
  side.close_connector();
  side.close_qp();
  side.check_nothing_after_close();
  for (const std::string& v : side.violations()) ADD_FAILURE() << v;
  memory.reset();
  EXPECT_TRUE(node.teardown()) << "the close of the PD or CQ failed";
}

TEST(FaultSoak, tcp_two_process_schedules_complete_every_request_exactly_once) {
  uint64_t schedules = env_count("SOFTNDK_FAULT_SOAK_TCP", 30);
  uint64_t first_seed = 2000001;
  if (const char* only = std::getenv("SOFTNDK_FAULT_SOAK_SEED"); only != nullptr && *only) {
    first_seed = std::strtoull(only, nullptr, 10);
    schedules = 1;
  }
  // The child is forked with no other thread alive (every adapter of this process is closed,
  // and closing joins its threads). ThreadSanitizer starts a background thread of its own with
  // the first thread of the process (and makes fork safe with it).
#if defined(__SANITIZE_THREAD__)
  const int baseline = thread_count() + 1;
#else
  const int baseline = thread_count();
#endif
  SoakTotals totals;
  for (uint64_t seed = first_seed; seed < first_seed + schedules; ++seed) {
    ASSERT_TRUE(wait_until([&] { return thread_count() <= baseline; }))
        << thread_count() << " threads before the fork of seed " << seed << ", " << baseline
        << " at the start";
    TwoProcessSoak(seed, &totals).run();
    if (::testing::Test::HasFailure()) {
      std::fprintf(stderr, "fault soak: seed %" PRIu64 " on %s across two processes failed\n",
                   seed, kUri);
      return;
    }
  }
  std::printf("fault soak on %s across two processes: %" PRIu64 " schedules, %" PRIu64
              " requests, %" PRIu64 " completions, %" PRIu64 " faults fired, %" PRIu64
              " CQ overruns, 0 violations\n",
              kUri, schedules, totals.requests, totals.completions, totals.faults,
              totals.overruns);
  EXPECT_GT(totals.faults, schedules / 4);
  EXPECT_GT(totals.completions, schedules * 10);
}

// The harness itself: a child that reports a violation, dies or hangs fails its schedule, with
// the seed and the replay command in the failure; a hung child is killed within the bound.
std::vector<std::string> failures_of(Sabotage sabotage, std::chrono::milliseconds bound) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    SoakTotals totals;
    TwoProcessSoak(2000001, &totals, sabotage, bound).run();
  }
  std::vector<std::string> failures;
  for (int i = 0; i < results.size(); ++i)
    if (results.GetTestPartResult(i).failed())
      failures.push_back(results.GetTestPartResult(i).message());
  return failures;
}

::testing::AssertionResult one_says(const std::vector<std::string>& failures,
                                    const std::string& text) {
  for (const std::string& f : failures)
    if (f.find(text) != std::string::npos) return ::testing::AssertionSuccess();
  auto result = ::testing::AssertionFailure() << "no failure says '" << text << "'; they were:";
  for (const std::string& f : failures) result << "\n---\n" << f;
  return result;
}

constexpr const char* kReplay = "SOFTNDK_FAULT_SOAK_SEED=2000001";

TEST(FaultSoakHarness, a_violation_in_the_child_fails_the_schedule) {
  std::vector<std::string> failures = failures_of(Sabotage::violation, kTimeout);
  EXPECT_TRUE(one_says(failures, "passive side (child): a violation on purpose (self-test)"));
  EXPECT_TRUE(one_says(failures, "the child exited with status 1"));
  EXPECT_TRUE(one_says(failures, kReplay));
}

TEST(FaultSoakHarness, a_child_that_dies_fails_the_schedule) {
  std::vector<std::string> failures = failures_of(Sabotage::die, kTimeout);
  EXPECT_TRUE(one_says(failures, "the child was killed by signal 9"));
  EXPECT_TRUE(one_says(failures, kReplay));
}

TEST(FaultSoakHarness, a_child_that_hangs_is_killed_and_fails_the_schedule) {
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> failures = failures_of(Sabotage::hang, std::chrono::seconds(1));
  EXPECT_LT(std::chrono::steady_clock::now() - start, kTimeout + std::chrono::seconds(5))
      << "the schedule outlived its bounds";
  EXPECT_TRUE(one_says(failures, "while waiting for 'R'"));
  EXPECT_TRUE(one_says(failures, "the child did not exit within the bound (killed)"));
  EXPECT_TRUE(one_says(failures, kReplay));
}

}  // namespace
}  // namespace faulttest
