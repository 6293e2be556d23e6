// Fault injection (docs/faults.md): a seeded, reproducible plan of faults for one adapter, given
// as the URI option `faults=` (or SOFTNDK_FAULTS, or SoftNdkSetFaultPlan), and the one place that
// decides whether a fault fires: the call, connection, data, CQ and peer hooks of the core and
// the transports ask FaultPlan::fire() at their point. Every fault that fires is logged (which
// fault, which object, which call) and counted.
//
// Grammar:  RULE[;RULE...]   RULE = POINT[@TRIGGER][:ACTION]
//   POINT    call.<name> (create_cq, create_pd, create_mr, create_mw, create_srq, create_qp,
//            create_connector, create_listener, create_shared_endpoint, register_mr,
//            initialize_fast_register_mr, send, receive, write, read, bind, fast_register,
//            invalidate, srq_receive, connect, accept, listen, complete_connect, disconnect,
//            build_lam, resize_cq, moderate_cq, open_adapter),
//            conn.<abort|disconnect|refuse|timeout|reject>, data.<corrupt|drop|delay|rnr|access>,
//            cq.<overrun|error>, srq.error, peer.<vanish|silent>
//   TRIGGER  N (the Nth event at that point, once; default 1), N+ (the Nth and every later
//            one), pP (each with probability P, 0 < P <= 1, from the seed), bytes=N or msgs=N
//            (connection and data points: once the connection has sent N payload bytes or N
//            messages)
//   ACTION   a status name (INSUFFICIENT_RESOURCES, INVALID_DEVICE_STATE, IO_TIMEOUT, ...;
//            STATUS_ prefix optional) for call points, pend[=MS] (STATUS_PENDING, completed
//            after MS ms, default 10) for call points that may pend, ms=N (data.delay),
//            data=HEX (conn.reject's private data)
// Threads: fire() may be called from any thread; decisions are serialized per plan, so the same
// seed and the same sequence of events give the same faults.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <softndk/ndkpi.h>

namespace softndk::core {

enum class FaultPoint : uint8_t {
  // Calls at the NDK ABI.
  CreateCq, CreatePd, CreateMr, CreateMw, CreateSrq, CreateQp, CreateConnector, CreateListener,
  CreateSharedEndpoint, RegisterMr, InitializeFastRegisterMr, Send, Receive, Write, Read, Bind,
  FastRegister, Invalidate, SrqReceive, Connect, Accept, Listen, CompleteConnect, Disconnect,
  BuildLam, ResizeCq, ModerateCq, OpenAdapter,  // OpenAdapter: the last call point
  // Connections.
  ConnAbort, ConnDisconnect, ConnRefuse, ConnTimeout, ConnReject,
  // Data.
  DataCorrupt, DataDrop, DataDelay, DataRnr, DataAccess,
  // Completion queues and peers.
  CqOverrun, CqError, SrqError, PeerVanish, PeerSilent,
  Count_,
};
inline constexpr size_t kFaultPointCount = static_cast<size_t>(FaultPoint::Count_);

std::string_view to_string(FaultPoint point);
bool is_call_point(FaultPoint point);
// Call points whose NDKPI function may return STATUS_PENDING (creates, NdkRegisterMr,
// NdkInitializeFastRegisterMr, NdkConnect/Accept/Listen/CompleteConnect, NdkDisconnect,
// NdkBuildLAM, NdkResizeCq): the only ones `pend` is accepted for.
bool may_pend(FaultPoint point);

// What a fired fault asks the hook to do.
struct FaultAction {
  NTSTATUS status = STATUS_SUCCESS;  // call points: fail with this (unless pend)
  bool pend = false;                 // call points: STATUS_PENDING, completed after delay_ms
  uint32_t delay_ms = 0;             // pend, data.delay
  std::vector<std::byte> data;       // conn.reject: private data
};

// A connection's traffic so far, for the bytes=/msgs= triggers.
struct TrafficSoFar {
  uint64_t bytes = 0;
  uint64_t messages = 0;
};

class FaultPlan {
 public:
  // Parses `spec`; STATUS_INVALID_PARAMETER with `*error` saying what is wrong.
  static NTSTATUS parse(std::string_view spec, uint64_t seed, std::unique_ptr<FaultPlan>* out,
                        std::string* error);

  // Hot path: true when some rule watches `point` (one load of a constant mask).
  bool watches(FaultPoint point) const {
    return (mask_ & (uint64_t{1} << static_cast<unsigned>(point))) != 0;
  }
  // Counts one event at `point` and returns true, with the action, when a rule fires. `object`
  // and `call` name the event in the log line; `traffic` feeds the bytes=/msgs= triggers.
  bool fire(FaultPoint point, const void* object, const char* call, FaultAction* action,
            const TrafficSoFar* traffic = nullptr);

  uint64_t fired() const { return fired_.load(std::memory_order_relaxed); }
  // The points a transport cannot honour (data.drop, data.delay, peer.vanish need the
  // in-process loopback link): false with `*error` naming the first one.
  bool check_transport(std::string_view transport, std::string* error) const;
  const std::string& text() const { return text_; }

 private:
  enum class Trigger : uint8_t { Nth, FromNth, Probability, AfterBytes, AfterMessages };
  struct Rule {
    FaultPoint point;
    Trigger trigger = Trigger::Nth;
    uint64_t n = 1;
    double probability = 0;
    FaultAction action;
    uint64_t events = 0;  // events seen at the point (under mutex_)
    bool done = false;    // a once-only trigger fired (under mutex_)
  };
  static bool parse_rule(std::string_view text, Rule* rule, std::string* error);
  static bool parse_trigger(std::string_view text, Rule* rule, std::string* error);
  static bool parse_action(std::string_view text, Rule* rule, std::string* error);
  bool matches(Rule& rule, const TrafficSoFar* traffic);
  double next_random();  // under mutex_

  std::string text_;
  uint64_t mask_ = 0;
  std::vector<Rule> rules_;
  std::mutex mutex_;
  uint64_t random_state_;
  std::atomic<uint64_t> fired_{0};
};

}  // namespace softndk::core
