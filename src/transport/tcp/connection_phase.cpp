// Implementation of transport/tcp/connection_phase.h: the transition table.
#include "transport/tcp/connection_phase.h"

namespace softndk::transport::tcp {

namespace {

// Reset: every phase that still owns a live connection (Draining ends by its own timer or EOF).
bool resettable(Phase from) { return from != Phase::Draining && from != Phase::Closed; }

// A Terminate can be queued once FPDU mode may begin (the initiator's setup Terminate after a bad
// Reply, RFC 6581 section 9) and in every later phase that still has a socket to send it on.
bool may_terminate(Phase from) {
  switch (from) {
    case Phase::AwaitReply:
    case Phase::AwaitRtr:
    case Phase::Established:
    case Phase::Closing:
    case Phase::Draining:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::optional<Phase> transition(Phase from, PhaseEvent event) {
  auto only = [from](Phase required, Phase to) -> std::optional<Phase> {
    if (from == required) return to;
    return std::nullopt;
  };
  switch (event) {
    case PhaseEvent::TcpConnected: return only(Phase::Connecting, Phase::AwaitReply);
    case PhaseEvent::ReplyAccepted: return only(Phase::AwaitReply, Phase::AwaitComplete);
    case PhaseEvent::Completed: return only(Phase::AwaitComplete, Phase::Established);
    case PhaseEvent::Declined: return only(Phase::AwaitComplete, Phase::Closed);
    case PhaseEvent::RequestReceived: return only(Phase::AwaitRequest, Phase::RequestDelivered);
    case PhaseEvent::AcceptedAwaitRtr: return only(Phase::RequestDelivered, Phase::AwaitRtr);
    case PhaseEvent::AcceptedNoRtr: return only(Phase::RequestDelivered, Phase::Established);
    case PhaseEvent::Rejected:
      if (from == Phase::AwaitRequest || from == Phase::RequestDelivered) return Phase::Draining;
      return std::nullopt;
    case PhaseEvent::FirstFpdu: return only(Phase::AwaitRtr, Phase::Established);
    case PhaseEvent::Disconnect: return only(Phase::Established, Phase::Closing);
    case PhaseEvent::PeerFin: return only(Phase::Established, Phase::Closing);
    case PhaseEvent::TerminateQueued:
      if (may_terminate(from)) return Phase::Draining;
      return std::nullopt;
    case PhaseEvent::Cancelled: return only(Phase::Closing, Phase::Draining);
    case PhaseEvent::Reset:
      if (resettable(from)) return Phase::Closed;
      return std::nullopt;
    case PhaseEvent::SetupFailed:
      if (from == Phase::Connecting || from == Phase::AwaitRequest) return Phase::Closed;
      return std::nullopt;
    case PhaseEvent::SocketClosed: return Phase::Closed;
  }
  return std::nullopt;
}

const char* to_string(Phase phase) {
  switch (phase) {
    case Phase::Connecting: return "connecting";
    case Phase::AwaitReply: return "await-reply";
    case Phase::AwaitComplete: return "await-complete";
    case Phase::AwaitRequest: return "await-request";
    case Phase::RequestDelivered: return "request-delivered";
    case Phase::AwaitRtr: return "await-rtr";
    case Phase::Established: return "established";
    case Phase::Closing: return "closing";
    case Phase::Draining: return "draining";
    case Phase::Closed: return "closed";
  }
  return "invalid-phase";
}

const char* to_string(PhaseEvent event) {
  switch (event) {
    case PhaseEvent::TcpConnected: return "tcp-connected";
    case PhaseEvent::ReplyAccepted: return "reply-accepted";
    case PhaseEvent::Completed: return "completed";
    case PhaseEvent::Declined: return "declined";
    case PhaseEvent::RequestReceived: return "request-received";
    case PhaseEvent::AcceptedAwaitRtr: return "accepted-await-rtr";
    case PhaseEvent::AcceptedNoRtr: return "accepted-no-rtr";
    case PhaseEvent::Rejected: return "rejected";
    case PhaseEvent::FirstFpdu: return "first-fpdu";
    case PhaseEvent::Disconnect: return "disconnect";
    case PhaseEvent::PeerFin: return "peer-fin";
    case PhaseEvent::TerminateQueued: return "terminate-queued";
    case PhaseEvent::Cancelled: return "cancelled";
    case PhaseEvent::Reset: return "reset";
    case PhaseEvent::SetupFailed: return "setup-failed";
    case PhaseEvent::SocketClosed: return "socket-closed";
  }
  return "invalid-event";
}

}  // namespace softndk::transport::tcp
