// The connections of `softndk perf --perftest` (perftest.h): one NDK connection (CQ, QP,
// connector) with posting and completion helpers, and the control connection's lockstep
// exchange of small Sends. Every wait is bounded by --timeout and stopped by SIGINT/SIGTERM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "address.h"
#include "ndk.h"
#include "ndkxx/connection.h"

namespace softndk::cli::perftest {

// RequestContext values: the kind of request (receives: their slot).
enum Kind : uintptr_t { kSend = 1, kWrite = 2, kRead = 3, kReceiveBase = 16 };

struct LinkShape {
  ULONG cq_depth = 16;
  ULONG send_depth = 4;
  ULONG receive_depth = 2;
};

class Link {
 public:
  Link(Adapter& adapter, NDK_PD* pd, const LinkShape& shape);
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  ~Link();

  // Connects (the QP's receives must be posted first when the peer sends at once); throws Error.
  void connect(const SocketAddress& source, const SocketAddress& server, ULONG inbound,
               ULONG outbound, uint32_t complete_delay_ms);
  void accept(NDK_CONNECTOR* incoming, ULONG inbound, ULONG outbound);
  void disconnect();
  bool peer_gone() const { return disconnects_.count.load() != 0; }
  // The read limits the connection settled on (NdkGetConnectionData before completing it; an
  // initiator's only).
  void read_limits(ULONG* inbound, ULONG* outbound) const;

  void send(const NDK_SGE& sge, uintptr_t context = kSend);
  void write(const NDK_SGE& sge, uint64_t address, uint32_t rkey);
  void read(const NDK_SGE& sge, uint64_t address, uint32_t rkey);
  void receive(const NDK_SGE& sge, uintptr_t context);
  // Up to `capacity` completions, at least one, or 0 at `deadline`. A failed one throws Error
  // naming it, except flushed receives once the connection is going (counted as none).
  ULONG take(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline);

 private:
  void post(const char* what, NTSTATUS status);
  bool query_read_limits();

  Adapter& adapter_;
  Cq cq_;
  ndkxx::DisconnectEvents disconnects_;
  Owned<NDK_QP> qp_;
  Owned<NDK_CONNECTOR> connector_;  // after qp_: closed first
  bool disconnected_ = false;
  bool read_limits_ok_ = false;
  ULONG inbound_ = 0, outbound_ = 0;
};

// The control connection: one 56-byte send slot, two receive slots.
class Control {
 public:
  Control(Adapter& adapter, NDK_PD* pd);
  Link& link() { return link_; }
  // One lockstep exchange: the client (`first`) Sends `out` and then waits for the peer's
  // message; the server waits, then answers. The peer's message must be `expected` bytes;
  // `what` names the exchange in errors. `unbounded`: wait until the peer answers, disconnects
  // or a stop comes (a server waiting out the client's test).
  std::vector<std::byte> exchange(bool first, const std::vector<std::byte>& out, size_t expected,
                                  const char* what, bool unbounded = false);

 private:
  std::vector<std::byte> next_message(size_t expected, const char* what, bool unbounded);
  void post_receive(uint32_t slot);

  Region messages_;  // [0, 56) send, then the receive slots
  Link link_;
  std::deque<std::pair<uint32_t, ULONG>> received_;  // slot, bytes
};

}  // namespace softndk::cli::perftest
