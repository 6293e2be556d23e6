// The data phases of perftest's latency tests (ib_write_lat, ib_send_lat, ib_read_lat) and
// their numbers, for perftest.cpp: one message in flight, each side timing its posts.
#pragma once

#include <cstdint>
#include <vector>

#include "ndk.h"
#include "perftest.h"
#include "perftest_link.h"

namespace softndk::cli::perftest {

// perftest's latency numbers (print_report_lat) from the post times: the gaps between
// successive posts, halved for write and send (a round trip each) and not for read, sorted,
// the two largest left out.
LatencyReport latency_of(uint64_t size, const std::vector<Clock::time_point>& posts, bool halve);

// Write ping-pong (both roles): each side RDMA-Writes `size` bytes from the start of `buffer`
// into the peer's advertised buffer, the last byte carrying the iteration number (mod 256),
// and waits for the peer's number in the last byte of its own advertised half (`target`);
// the server writes first. Returns this side's post times.
std::vector<Clock::time_point> ping_pong_write(Link& link, Region& buffer, size_t target,
                                               uint64_t size, const Dest& peer,
                                               uint64_t iterations, bool server);
// Send ping-pong (both roles): the client sends first; receives of `size` bytes into
// `buffer` are posted before the test (post_lat_receives) and reposted as they complete.
void post_lat_receives(Link& link, Region& buffer, uint64_t size, uint32_t count);
std::vector<Clock::time_point> ping_pong_send(Link& link, Region& buffer, uint64_t size,
                                              uint64_t iterations, bool server);
// Read latency (client only): one RDMA Read of the peer's buffer at a time.
std::vector<Clock::time_point> read_one_at_a_time(Link& link, Region& buffer, uint64_t size,
                                                  const Dest& peer, uint64_t iterations);

}  // namespace softndk::cli::perftest
