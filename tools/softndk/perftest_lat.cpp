// Implementation of perftest_lat.h.
#include "perftest_lat.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace softndk::cli::perftest {

namespace {

constexpr uint32_t kSpinsPerCheck = 4096;  // spins between deadline and stop checks

double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// Waits for one completion of `link` (any kind); throws at the timeout.
void one_completion(Link& link, const char* what) {
  NDK_RESULT_EX r[1];
  const Clock::time_point deadline = deadline_from_now();
  while (link.take(r, 1, deadline) == 0)
    throw Error(std::string("no completion of the ") + what + " within " + timeout_text());
}

// The last byte of the peer's RDMA Write, polled as memory a device writes (no NDK completion
// on this side; like perftest.cpp's credit word, not instrumented by ThreadSanitizer).
__attribute__((no_sanitize("thread"))) uint8_t load_byte(const std::byte* at) {
  uint8_t seen = 0;
  __atomic_load(reinterpret_cast<const uint8_t*>(at), &seen, __ATOMIC_ACQUIRE);
  return seen;
}

// Spins until the byte at `at` equals `value`.
void spin_for(const std::byte* at, uint8_t value, Link& link, uint64_t iteration) {
  const Clock::time_point deadline = deadline_from_now();
  for (uint32_t spins = 0;; ++spins) {
    if (load_byte(at) == value) return;
    if (spins % kSpinsPerCheck == 0) {
      check_stop();
      if (Clock::now() > deadline)
        throw Error("the peer's write " + std::to_string(iteration) + " did not come within " +
                    timeout_text() + (link.peer_gone() ? " (the peer disconnected)" : ""));
    }
  }
}

}  // namespace

LatencyReport latency_of(uint64_t size, const std::vector<Clock::time_point>& posts, bool halve) {
  LatencyReport r;
  r.size = size;
  r.iterations = posts.size();
  if (posts.size() < 2) return r;
  std::vector<double> gaps;
  for (size_t i = 1; i < posts.size(); ++i)
    gaps.push_back(us_between(posts[i - 1], posts[i]) / (halve ? 2.0 : 1.0));
  std::sort(gaps.begin(), gaps.end());
  const size_t kept = gaps.size() > 2 ? gaps.size() - 2 : gaps.size();  // the top 2 left out
  gaps.resize(kept);
  double sum = 0, squares = 0;
  for (double g : gaps) sum += g;
  r.t_avg = sum / static_cast<double>(kept);
  for (double g : gaps) squares += (g - r.t_avg) * (g - r.t_avg);
  r.t_stdev = std::sqrt(squares / static_cast<double>(kept));
  r.t_min = gaps.front();
  r.t_max = gaps.back();
  r.t_typical = gaps[kept / 2];
  auto percentile = [&](double p) {
    const auto i = static_cast<size_t>(std::ceil(p * static_cast<double>(kept))) - 1;
    return gaps[std::min(i, kept - 1)];
  };
  r.p99 = percentile(0.99);
  r.p999 = percentile(0.999);
  return r;
}

std::vector<Clock::time_point> ping_pong_write(Link& link, Region& buffer, size_t target,
                                               uint64_t size, const Dest& peer,
                                               uint64_t iterations, bool server) {
  std::vector<Clock::time_point> posts;
  posts.reserve(iterations);
  std::byte* post_byte = buffer.data() + size - 1;
  const std::byte* poll_byte = buffer.data() + target + size - 1;
  const NDK_SGE sge = buffer.sge(0, size);
  for (uint64_t n = 1; n <= iterations; ++n) {
    // The client answers the server's write n with its own n; the server, writing first,
    // waits for the client's n - 1 before its n.
    const uint64_t awaited = server ? n - 1 : n;
    if (awaited != 0) spin_for(poll_byte, static_cast<uint8_t>(awaited), link, awaited);
    posts.push_back(Clock::now());
    *post_byte = static_cast<std::byte>(n & 0xff);
    link.write(sge, peer.address, peer.rkey);
    // An MPA responder sends only after the initiator's first FPDU (RFC 5044); an initiator
    // without a peer-to-peer RTR (stock siw) sends none before the server's first write.
    one_completion(link, server && n == 1
                             ? "first RDMA write (held until the client's first FPDU: does the "
                               "client's iWARP stack send a peer-to-peer RTR?)"
                             : "RDMA write");
  }
  // The client's last write answers the server's last: the server waits for it too.
  if (server) spin_for(poll_byte, static_cast<uint8_t>(iterations), link, iterations);
  return posts;
}

void post_lat_receives(Link& link, Region& buffer, uint64_t size, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) link.receive(buffer.sge(0, size), kReceiveBase);
}

std::vector<Clock::time_point> ping_pong_send(Link& link, Region& buffer, uint64_t size,
                                              uint64_t iterations, bool server) {
  std::vector<Clock::time_point> posts;
  posts.reserve(iterations);
  const NDK_SGE sge = buffer.sge(size, size);  // the receives use [0, size)
  uint64_t received = 0, sends_done = 0;
  NDK_RESULT_EX r[4];
  auto wait_for = [&](uint64_t receives, uint64_t sends) {
    const Clock::time_point deadline = deadline_from_now();
    while (received < receives || sends_done < sends) {
      const ULONG n = link.take(r, 4, deadline);
      if (n == 0)
        throw Error("no " + std::string(received < receives ? "message" : "send completion") +
                    " within " + timeout_text() + " (" + std::to_string(received) +
                    " received)");
      for (ULONG i = 0; i < n; ++i) {
        if (reinterpret_cast<uintptr_t>(r[i].RequestContext) == kSend) {
          ++sends_done;
        } else {
          ++received;
          link.receive(buffer.sge(0, size), kReceiveBase);
        }
      }
    }
  };
  for (uint64_t n = 1; n <= iterations; ++n) {
    if (server) wait_for(n, n - 1);
    posts.push_back(Clock::now());
    link.send(sge);
    if (!server) wait_for(n, n);
  }
  wait_for(iterations, iterations);
  return posts;
}

std::vector<Clock::time_point> read_one_at_a_time(Link& link, Region& buffer, uint64_t size,
                                                  const Dest& peer, uint64_t iterations) {
  std::vector<Clock::time_point> posts;
  posts.reserve(iterations);
  const NDK_SGE sge = buffer.sge(0, size);
  for (uint64_t n = 0; n < iterations; ++n) {
    check_stop();
    posts.push_back(Clock::now());
    link.read(sge, peer.address, peer.rkey);
    one_completion(link, "RDMA read");
  }
  return posts;
}

}  // namespace softndk::cli::perftest
