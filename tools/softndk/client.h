// The client side of a softndk session: opens the adapter, connects the control link and the
// data links to a server, exchanges data buffers (Hello/Welcome), brackets each test
// (TestBegin/TestReady ... TestEnd/TestDone) and ends the session (Bye/ByeAck, disconnect).
#pragma once

#include <softndk/softndk.h>

#include <cstdint>
#include <memory>
#include <string>

#include "address.h"
#include "cpu.h"
#include "ndk.h"
#include "protocol.h"
#include "session.h"

namespace softndk::cli {

struct ClientOptions {
  std::string uri = "loopback";
  uint16_t data_links = 1;
  uint16_t sge = 1;
  uint32_t depth = 2;  // initiator depth of each data QP
  uint32_t inline_bytes = 0;
  uint64_t buffer_bytes = 4096;  // the largest message
  bool notifications = false;
};

// The server's data buffer, from its Welcome.
struct PeerBuffer {
  uint64_t address = 0;
  uint32_t token = 0;
  uint64_t bytes = 0;
  uint32_t adapter_flags = 0;
  CrcRequest crc = CrcRequest::NotApplicable;  // what the server's adapter asks of MPA CRC
};

// How the server waited for its completions during the last test (from its TestDone), and the
// CPU use of both processes during it.
struct ServerWait {
  bool notifications = false;  // CQ notifications (else polling)
  uint64_t notification_count = 0;
  CpuUse client_cpu;  // from TestReady to TestEnd
  CpuUse server_cpu;  // from TestBegin to TestDone, as the server measured it
};

class Client {
 public:
  // Opens the adapter and connects to `server`. Throws Error (a failed connection names the
  // cause: refused, rejected with the server's reason, unreachable, timed out).
  Client(const ClientOptions& options, const SocketAddress& server);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Session& session() { return *session_; }
  Adapter& adapter() { return *adapter_; }
  const PeerBuffer& peer() const { return peer_; }
  const SocketAddress& server() const { return server_; }
  double connect_seconds() const { return connect_seconds_; }
  // Send streams: receives the server keeps posted per data link, and how many of them one
  // credit message returns.
  uint32_t server_receives() const { return server_receives_; }
  uint32_t credit_batch() const { return credit_batch_; }

  void begin_test(const TestParams& params);
  // Returns the count of data messages the server received during the test.
  uint64_t end_test(uint64_t messages_sent);
  // How the server waited during the test end_test() ended.
  const ServerWait& server_wait() const { return server_wait_; }

  struct Counters {
    SOFTNDK_ADAPTER_COUNTERS client{};
    SOFTNDK_ADAPTER_COUNTERS server{};
  };
  // Bye/ByeAck and disconnect; both adapters' counters as of the end of the tests.
  Counters finish();
  // Giving the session up: tells the server why (best effort, never throws).
  void abandon(const std::string& why) { session_->send_failure(why); }

 private:
  std::unique_ptr<Adapter> adapter_;
  std::unique_ptr<Session> session_;  // after adapter_: closed first
  SocketAddress server_;
  PeerBuffer peer_;
  double connect_seconds_ = 0;
  uint32_t server_receives_ = 0;
  uint32_t credit_batch_ = 1;
  ServerWait server_wait_;
  CpuSample cpu_at_begin_;
};

}  // namespace softndk::cli
