// The peer of a tcp connection dies (SIGKILL) or stops (SIGSTOP) in another process, with
// requests outstanding in both directions on the survivor (issue 11 item 4, docs/faults.md):
// every request completes once within a bounded time, those that needed the peer with an
// error; the survivor gets its disconnect event and closes everything. A stopped peer's kernel
// still acknowledges and answers keepalives, so the survivor notices only through
// link_timeout_ms (TCP_USER_TIMEOUT) once the peer's receive window is full.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <cstring>
#include <thread>

#include "fault_support.h"

namespace faulttest {
namespace {

struct PeerInfo {
  uint16_t port = 0;
  uint64_t address = 0;
  uint32_t token = 0;
};

// The peer process: listens, accepts one connection on a QP with receives posted and a 1 MiB
// buffer readable by the survivor, reports (port, buffer, token), then waits to be killed.
[[noreturn]] void run_peer(int out) {
  int code = 1;
  {
    Incoming incoming;
    PdCqFixture node("tcp://127.0.0.1");
    NDK_LISTENER* listener = node.ok() ? node.create_listener(incoming) : nullptr;
    sockaddr_storage bound{};
    if (listener != nullptr &&
        ndkxx::listen(listener, node.local(), ndkxx::Wait{kTimeout}).status == STATUS_SUCCESS &&
        ndkxx::local_address(listener, &bound) == STATUS_SUCCESS) {
      NDK_QP* qp = node.create_qp(64);
      Region buffer(node.pd, 1 << 20, kMrAll, 0x5A);
      for (int i = 0; qp != nullptr && i < 8; ++i)
        post_receive(qp, buffer, i * 4096, 4096, ctx(0x900 + i));
      PeerInfo info{ndkxx::port_of(bound), buffer.address(0), buffer.remote_token()};
      if (qp != nullptr && buffer.status() == STATUS_SUCCESS &&
          write(out, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        NDK_CONNECTOR* incoming_connector = incoming.next(ndkxx::Wait{kTimeout});
        DisconnectEvents events;
        ndkxx::Request accept;
        if (incoming_connector != nullptr &&
            ndkxx::start_accept(accept, incoming_connector, qp, {8, 8}, {&events, true}) ==
                STATUS_PENDING &&
            accept.wait(ndkxx::Wait{kTimeout})) {
          char ready = 'R';
          if (write(out, &ready, 1) == 1) code = 0;
          for (;;) pause();  // until killed
        }
      }
    }
  }
  _exit(code);
}

class PeerDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(0, pipe(fds));
    child_ = fork();  // before this process opens any adapter: no threads to lose
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      close(fds[0]);
      run_peer(fds[1]);
    }
    close(fds[1]);
    pipe_ = fds[0];
    ASSERT_TRUE(read_within(pipe_, &peer_, sizeof peer_, kTimeout)) << "the peer did not start";
  }
  void TearDown() override {
    if (child_ > 0) {
      kill(child_, SIGCONT);
      kill(child_, SIGKILL);
      reap();
    }
    if (pipe_ >= 0) close(pipe_);
  }
  // Waits (bounded) for the child to end; true when reaped.
  bool reap() {
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = waitpid(child_, &status, WNOHANG);
      if (r == child_ || r < 0) {
        child_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  bool stopped() {
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(child_, &status, WNOHANG | WUNTRACED) == child_ && WIFSTOPPED(status))
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

  // Connects to the peer, stops it, posts requests in both directions and hands over to `end`
  // (which kills the peer or lets it sleep); then checks what the survivor sees.
  void survive(const std::string& uri, int writes, const std::function<void()>& end,
               std::chrono::seconds bound);

  pid_t child_ = -1;
  int pipe_ = -1;
  PeerInfo peer_;
};

void PeerDeathTest::survive(const std::string& uri, int writes, const std::function<void()>& end,
                            std::chrono::seconds bound) {
  PdCqFixture node(uri, 4096);
  ASSERT_TRUE(node.ok());
  NDK_QP* qp = node.create_qp(256);
  NDK_CONNECTOR* connector = node.create_connector();
  auto owned = std::make_unique<Region>(node.pd, 1 << 20, kMrAll, 0x11);
  Region& buffer = *owned;
  ASSERT_TRUE(qp != nullptr && connector != nullptr);
  ASSERT_NT(STATUS_SUCCESS, buffer.status());
  DisconnectEvents events;
  sockaddr_storage destination = ndkxx::ip_address("127.0.0.1", peer_.port);
  ndkxx::Request connect;
  ASSERT_NT(STATUS_PENDING,
            ndkxx::start_connect(connect, connector, qp, node.local(), destination, {8, 8}));
  ASSERT_NT(STATUS_SUCCESS, connect.finish(ndkxx::Wait{kTimeout}).status);
  ndkxx::Request complete;
  NTSTATUS s = ndkxx::start_complete_connect(complete, connector, {&events, true});
  ASSERT_TRUE(s == STATUS_SUCCESS || s == STATUS_PENDING);
  ASSERT_NT(STATUS_SUCCESS, complete.finish(ndkxx::Wait{kTimeout}).status);
  char ready = 0;
  ASSERT_TRUE(read_within(pipe_, &ready, 1, kTimeout)) << "the peer did not accept";

  ASSERT_EQ(0, kill(child_, SIGSTOP));
  ASSERT_TRUE(stopped()) << "the peer did not stop";
  // Outstanding in both directions: receives the peer would fill, reads it would answer,
  // writes and sends into it.
  std::set<uintptr_t> posted, needs_peer;
  for (uintptr_t i = 0; i < 4; ++i) {
    ASSERT_NT(STATUS_SUCCESS, post_receive(qp, buffer, i * 1024, 1024, ctx(0x100 + i)));
    posted.insert(0x100 + i);
    needs_peer.insert(0x100 + i);
  }
  for (uintptr_t i = 0; i < 2; ++i) {
    NDK_SGE sge = buffer.sge(8192 + i * 1024, 1024);
    ASSERT_NT(STATUS_SUCCESS, qp->Dispatch->NdkRead(qp, ctx(0x200 + i), &sge, 1,
                                                    peer_.address + i * 1024, peer_.token, 0));
    posted.insert(0x200 + i);
    needs_peer.insert(0x200 + i);
  }
  for (int i = 0; i < writes; ++i) {
    NDK_SGE sge = buffer.sge(0, 1 << 20);
    ASSERT_NT(STATUS_SUCCESS,
              qp->Dispatch->NdkWrite(qp, ctx(0x300 + i), &sge, 1, peer_.address, peer_.token, 0));
    posted.insert(0x300 + i);
  }
  ASSERT_NT(STATUS_SUCCESS, post_send(qp, buffer, 0, 64, ctx(0x400)));
  posted.insert(0x400);

  end();
  std::set<uintptr_t> completed;
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (completed.size() < posted.size() && std::chrono::steady_clock::now() < deadline) {
    NDK_RESULT_EX r[64];
    ULONG n = node.cq.poll(r, 64);
    for (ULONG i = 0; i < n; ++i) {
      auto c = reinterpret_cast<uintptr_t>(r[i].RequestContext);
      EXPECT_EQ(1u, posted.count(c)) << "unknown completion " << c;
      EXPECT_TRUE(completed.insert(c).second) << "request " << std::hex << c << " twice";
      if (needs_peer.count(c) != 0) {
        EXPECT_NE(STATUS_SUCCESS, r[i].Status) << "request " << std::hex << c
                                               << " needed the dead peer and succeeded";
      }
    }
    if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(posted.size(), completed.size()) << "requests still outstanding after the bound";
  EXPECT_TRUE(wait_until([&] { return events.count.load() == 1; }))
      << "no disconnect event on the survivor";
  EXPECT_EQ(2u, events.reason.load()) << "the connection ended abortively";
  owned.reset();
  EXPECT_TRUE(node.teardown()) << "the survivor could not close everything";
}

TEST_F(PeerDeathTest, killed_peer_flushes_every_outstanding_request_of_the_survivor) {
  survive("tcp://127.0.0.1", 2,
          [&] {
            ASSERT_EQ(0, kill(child_, SIGKILL));
            ASSERT_TRUE(reap()) << "the killed peer was not reaped";
          },
          std::chrono::seconds(10));
}

TEST_F(PeerDeathTest, stopped_peer_is_timed_out_through_link_timeout_ms) {
  // 64 MiB of writes fill the stopped peer's receive window; then nothing is acknowledged and
  // TCP_USER_TIMEOUT (link_timeout_ms) aborts the connection.
  survive(with_option("tcp://127.0.0.1", "link_timeout_ms", "1000"), 64, [] {},
          std::chrono::seconds(60));
}

}  // namespace
}  // namespace faulttest
