// The phases of one tcp connection as one state machine: the MPA startup of either role (RFC 5044
// section 7.1, RFC 6581 section 5), FPDU mode, and the link's teardown (graceful close, Terminate
// and drain, reset). Pure: no sockets, no locks. `transition` is the only place a TcpConnection's
// phase changes (TcpConnection::advance_locked, under its mutex_, logs each step by name);
// tests/unit/transport/connection_phase_test.cpp drives it directly.
//
//  initiator: Connecting -TcpConnected-> AwaitReply -ReplyAccepted-> AwaitComplete
//             -Completed-> Established            (AwaitComplete -Declined-> Closed)
//  responder: AwaitRequest -RequestReceived-> RequestDelivered -AcceptedAwaitRtr-> AwaitRtr
//             -FirstFpdu-> Established            (RequestDelivered -AcceptedNoRtr-> Established;
//                                                  AwaitRequest/RequestDelivered -Rejected-> Draining)
//  teardown:  Established -Disconnect|PeerFin-> Closing -Cancelled-> Draining;
//             AwaitReply/AwaitRtr/Established/Closing/Draining -TerminateQueued-> Draining;
//             any phase before Draining -Reset-> Closed; Connecting/AwaitRequest -SetupFailed->
//             Closed; any -SocketClosed-> Closed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace softndk::transport::tcp {

enum class Phase : uint8_t {
  Connecting,        // initiator: TCP handshake in progress
  AwaitReply,        // initiator: MPA Request sent
  AwaitComplete,     // initiator: Reply accepted, on_reply posted; waiting for complete()
  AwaitRequest,      // responder: TCP accepted, waiting for the MPA Request
  RequestDelivered,  // responder: on_request delivered; waiting for accept()/reject()
  AwaitRtr,          // responder: Reply sent, waiting for the initiator's first FPDU
  Established,       // FPDU mode
  Closing,           // our FIN is queued or sent; waiting for the peer's
  Draining,          // Terminate or reject Reply sent: discard input until EOF or timeout
  Closed,            // the socket is reset or closed (the progress thread closes it)
};
inline constexpr size_t kPhaseCount = 10;

enum class PhaseEvent : uint8_t {
  TcpConnected,      // initiator: the TCP handshake finished, the MPA Request is queued
  ReplyAccepted,     // initiator: a valid Reply arrived; on_reply is posted
  Completed,         // initiator: complete(): FPDU mode (the core sends the RTR first)
  Declined,          // initiator: reject() after the Reply: RST without any FPDU
  RequestReceived,   // responder: a valid Request, handed to the listener
  AcceptedAwaitRtr,  // responder: accept() in peer-to-peer mode: Reply sent, the RTR awaited
  AcceptedNoRtr,     // responder: accept() without peer-to-peer (Rev 1): FPDU mode at once
  Rejected,          // responder: a reject Reply is queued with a FIN behind it: bounded drain
  FirstFpdu,         // responder: the initiator's first FPDU arrived (its RTR or data)
  Disconnect,        // disconnect(): our FIN after what is queued, then wait for the peer's
  PeerFin,           // the peer's FIN at an FPDU boundary while established: ours at once
  TerminateQueued,   // a Terminate queued (ours) or received (the peer's): FIN, bounded drain
  Cancelled,         // closing, but nobody waits for the peer's FIN any more: bounded drain
  Reset,             // abort() or a setup failure: RST now, the progress thread closes
  SetupFailed,       // the socket never started (connect, the engine, the Request's encoding)
  SocketClosed,      // the progress thread closed the socket
};
inline constexpr size_t kPhaseEventCount = 16;

// The phase `event` leads to from `from`; nullopt when the event is not legal in that phase (the
// caller keeps its phase).
std::optional<Phase> transition(Phase from, PhaseEvent event);

const char* to_string(Phase phase);
const char* to_string(PhaseEvent event);

}  // namespace softndk::transport::tcp
