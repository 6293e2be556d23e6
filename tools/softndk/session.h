// One side of a softndk session: what a `ping`/`perf` client and the server both hold (PD, one
// CQ, a data buffer, a control buffer, a control link and N data links), connection setup on
// either side with a precise message for each failure, the control-message channel and the
// dispatch of completions. The tests themselves live in client.cpp, perf_*.cpp and server.cpp.
#pragma once

#include <softndk/ndkpi.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "address.h"
#include "ndk.h"
#include "ndkxx/connection.h"
#include "protocol.h"

namespace softndk::cli {

// RequestContext of every posted request: what it is, on which data link, which slot.
enum class Tag : uint8_t {
  ControlReceive = 1,
  ControlSend,
  Receive,
  Send,
  Write,
  Read,
  FastRegister,
  Invalidate,
  Bind,
};
const char* tag_name(Tag tag);

inline void* make_context(Tag tag, uint32_t link, uint32_t slot) {
  return reinterpret_cast<void*>((uint64_t{static_cast<uint8_t>(tag)} << 56) |
                                 (uint64_t{link & 0xFFFF} << 32) | slot);
}
struct ContextParts {
  Tag tag;
  uint32_t link;
  uint32_t slot;
};
inline ContextParts split_context(const void* context) {
  uint64_t v = reinterpret_cast<uintptr_t>(context);
  return {static_cast<Tag>(v >> 56), static_cast<uint32_t>((v >> 32) & 0xFFFF),
          static_cast<uint32_t>(v)};
}

// Receives the client keeps posted on each data link (credit messages and replies: at most
// four credit messages are ever in flight, see kCreditMessagesInFlight) and the server's
// initiator depth per data link (credits, replies, write + signal).
inline constexpr uint32_t kClientReceives = 16;
inline constexpr uint32_t kServerInitiatorDepth = 16;
inline constexpr uint32_t kCreditMessagesInFlight = 4;
inline constexpr uint32_t kControlSlots = 8;

// How one side sizes its objects; both sides derive it from the client's ConnectRequest.
struct SessionShape {
  uint16_t data_links = 1;
  uint16_t sge = 1;
  uint32_t initiator_depth = 1;  // per data QP
  uint32_t receive_depth = 1;    // per data QP
  uint32_t inline_bytes = 0;
  uint64_t buffer_bytes = 4096;  // each of the receive and send areas
  uint32_t read_limit = 1;
  bool notifications = false;
  bool is_server = false;

  static SessionShape of_client(const ConnectRequest& request);
  static SessionShape of_server(const ConnectRequest& request);
};

// Why `shape` does not fit `info` ("" when it does), e.g. "queue depth 100000 exceeds the
// adapter's MaxInitiatorQueueDepth (16384)".
std::string check_limits(const SessionShape& shape, const NDK_ADAPTER_INFO& info);

// The message for a failed NdkConnect: refused, rejected (with the server's reason),
// unreachable, timed out, or the status.
std::string describe_connect_failure(NTSTATUS status, const std::string& peer,
                                     const std::optional<std::string>& rejection);

// One connection: a QP and its connector.
class Link {
 public:
  explicit Link(uint32_t index) : index_(index) {}
  NDK_QP* qp() const { return qp_.get(); }
  NDK_CONNECTOR* connector() const { return connector_.get(); }
  uint32_t index() const { return index_; }
  bool peer_gone() const { return disconnects_.count.load() != 0; }
  ULONG disconnect_reason() const { return disconnects_.reason.load(); }

 private:
  friend class Session;
  uint32_t index_;
  ndkxx::DisconnectEvents disconnects_;  // NdkCompleteConnectEx / NdkAcceptEx
  Owned<NDK_QP> qp_;
  Owned<NDK_CONNECTOR> connector_;  // after qp_: closed first
};

class Session {
 public:
  using Handler = std::function<void(const NDK_RESULT_EX&)>;

  // peer_name is used in messages ("the server", "the client").
  Session(Adapter& adapter, const SessionShape& shape, std::string peer_name);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Adapter& adapter() const { return adapter_; }
  const SessionShape& shape() const { return shape_; }
  Cq& cq() { return cq_; }
  NDK_PD* pd() const { return pd_.get(); }
  // Data buffer: the receive area [0, buffer_bytes) where every receive and every peer RDMA
  // lands, then the send area from send_offset().
  Region& data() { return *data_; }
  size_t send_offset() const { return send_offset_; }
  Link& control() { return control_; }
  Link& link(size_t index) { return *links_[index]; }
  size_t link_count() const { return links_.size(); }

  // ---- connection setup
  // Active side: creates the link's QP, pre-posts its receives, connects and completes the
  // connection. Throws Error with describe_connect_failure() text on failure.
  void connect(Link& link, const SocketAddress& source, const SocketAddress& server,
               const ConnectRequest& request);
  // Passive side: the link takes `incoming`, gets its QP and receives, and accepts.
  void accept(Link& link, NDK_CONNECTOR* incoming);
  // Graceful disconnect of every connection (data links, then control); peers that already
  // left and failures are tolerated: this is the end of the session either way.
  void disconnect_all();
  // From now on a peer's disconnect is the normal end, not an error.
  void expect_disconnect() { expect_disconnect_ = true; }
  bool any_peer_gone() const;

  // ---- completions
  // Waits for completions until `deadline` (false if none came), keeps control messages for
  // take_control()/expect_control() and passes every other completion to `handler`. Throws
  // Error on a failed completion, a lost connection or a stop request.
  bool progress(const Handler& handler, Clock::time_point deadline);
  // The same, waiting up to `timeout`; reads the clock only when the CQ is empty (hot loops).
  bool progress_within(const Handler& handler, Clock::duration timeout);
  // When the NdkGetCqResultsEx call that returned the completions being handled returned: one
  // clock read per batch of completions, for handlers that time them.
  // When the poll that returned the completions being dispatched returned: read from the clock
  // on the first call per dispatch (a handler that does not ask costs no clock read).
  Clock::time_point completion_time() {
    if (!completion_time_valid_) {
      completion_time_ = Clock::now();
      completion_time_valid_ = true;
    }
    return completion_time_;
  }
  // How the session's CQ waits from now on (the server sleeps through tests in which it has
  // nothing to do); see Cq::set_notifications.
  void set_notifications(bool notifications) { cq_.set_notifications(notifications); }

  // ---- control channel
  void send_control(const ControlMessage& message);
  // Best effort before giving a session up: tells the peer why (a Failure message) and gives
  // it up to 200 ms to leave. Never throws.
  void send_failure(const std::string& why);
  std::optional<ControlMessage> take_control();
  // The next control message, which must be of `type`, within wait_timeout(); data completions
  // meanwhile go to `handler` (none expected when empty). A Failure message throws its text.
  ControlMessage expect_control(MessageType type, const Handler& handler = {});

  // ---- data path
  // Re-posts receive `slot` of data link `link` (the whole receive area, one SGE).
  void post_receive(uint32_t link, uint32_t slot);
  // A post that failed inline: the lost connection if that is the cause, else the status.
  [[noreturn]] void post_failed(const std::string& what, NTSTATUS status);
  // SGEs covering `bytes` at `offset` of the data buffer in `count` pieces (fewer when
  // bytes < count; at least one). Returns the number written to `out` (room for `count`).
  ULONG fill_sges(size_t offset, uint64_t bytes, uint32_t count, NDK_SGE* out) const;

 private:
  void create_qp(Link& link, bool is_control);
  void post_control_receive(uint32_t slot);
  // Throws the right Error for a failed completion; returns only for a flush during the
  // expected disconnect.
  void fail_completion(const NDK_RESULT_EX& result);
  void check_links();
  // Hands `n` completions to the control channel or `handler`.
  void dispatch(const NDK_RESULT_EX* results, ULONG n, const Handler& handler);

  Adapter& adapter_;
  SessionShape shape_;
  std::string peer_name_;
  Cq cq_;
  Owned<NDK_PD> pd_;
  std::unique_ptr<Region> control_buffer_;
  std::unique_ptr<Region> data_;
  size_t send_offset_ = 0;
  uint32_t next_control_send_ = 0;
  std::deque<ControlMessage> inbox_;
  bool expect_disconnect_ = false;
  Clock::time_point completion_time_{};
  bool completion_time_valid_ = false;
  // Links last: their connectors and QPs close before the memory, PD and CQ.
  Link control_{0xFFFF};
  std::vector<std::unique_ptr<Link>> links_;
};

}  // namespace softndk::cli
