// Implementation of fault_support.h.
#include "fault_support.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace faulttest {

std::vector<std::string> fault_uris() {
  const char* env = std::getenv("SOFTNDK_TEST_URIS");
  if (env == nullptr || *env == '\0') return {"loopback", "tcp://127.0.0.1"};
  std::vector<std::string> uris;
  std::stringstream list(env);
  for (std::string item; std::getline(list, item, ',');)
    if (!item.empty()) uris.push_back(item);
  return uris;
}

std::vector<std::string> loopback_uris() {
  std::vector<std::string> out;
  for (const std::string& uri : fault_uris())
    if (is_loopback_uri(uri)) out.push_back(uri);
  return out;
}

SOFTNDK_ADAPTER_COUNTERS counters(NDK_ADAPTER* adapter) {
  SOFTNDK_ADAPTER_COUNTERS c{};
  ULONG size = sizeof c;
  EXPECT_NT(STATUS_SUCCESS, SoftNdkQueryAdapterCounters(adapter, &c, &size));
  EXPECT_EQ(sizeof c, size);
  return c;
}

::testing::AssertionResult set_plan(NDK_ADAPTER* adapter, const char* plan, uint64_t seed) {
  NTSTATUS status = SoftNdkSetFaultPlan(adapter, plan, seed);
  if (status == STATUS_SUCCESS) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "SoftNdkSetFaultPlan(\"" << (plan ? plan : "(null)")
                                       << "\"): " << status_name(status);
}

bool read_within(int fd, void* out, size_t bytes, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto* p = static_cast<char*>(out);
  while (bytes != 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = read(fd, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

void FaultPairTest::TearDown() {
  a = p = nullptr;
  if (pair) {
    EXPECT_TRUE(pair->teardown());
  }
  pair.reset();
}

bool FaultPairTest::start(int receives, PairOptions options) {
  pair = std::make_unique<MemoryPairFixture>(GetParam(), options);
  const MemoryShape shape{64 * 1024, kMrAll, 0, 64 * 1024, kMrAll, 0, 0};
  bool ok = pair->connect(shape, [&](ConnectedPairFixture& q) {
    a = pair->active_buffer.get();
    p = pair->passive_buffer.get();
    for (int i = 0; i < receives; ++i)
      EXPECT_NT(STATUS_SUCCESS, post_receive(q.passive.qp, *p, i * 1024, 1024, ctx(0x100 + i)));
  });
  for (size_t i = 0; ok && i < 4096; ++i) a->data()[i] = static_cast<unsigned char>(i * 7 + 1);
  return ok && a != nullptr && p != nullptr && !::testing::Test::HasFailure();
}

::testing::AssertionResult FaultPairTest::both_disconnected(ULONG reason) {
  if (!wait_until([&] { return act().disconnects.count.load() >= 1; }))
    return ::testing::AssertionFailure() << "the active side got no disconnect event";
  if (!wait_until([&] { return pas().disconnects.count.load() >= 1; }))
    return ::testing::AssertionFailure() << "the passive side got no disconnect event";
  if (act().disconnects.reason.load() != reason || pas().disconnects.reason.load() != reason)
    return ::testing::AssertionFailure()
           << "disconnect reasons " << act().disconnects.reason.load() << " (active), "
           << pas().disconnects.reason.load() << " (passive); expected " << reason;
  return ::testing::AssertionSuccess();
}

}  // namespace faulttest
