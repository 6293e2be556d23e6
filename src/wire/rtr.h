// The ready-to-receive (RTR) message of MPA peer-to-peer mode (RFC 6581 §5): which kind a
// connection negotiated, the zero-length RDMAP message the initiator sends first, and how a
// receiver recognises it. Negotiation itself (the MPA IRD/ORD word) is in mpa.h; sending and
// absorbing the message belongs to the RDMAP engine that counts the MSNs it consumes.
#pragma once

#include <cstdint>
#include <string_view>

#include "wire/ddp.h"

namespace softndk::wire {

enum class Rtr : std::uint8_t {
  None,   // no RTR: MPA Rev 1, no peer-to-peer, or a transport without MPA
  Write,  // zero-length RDMA Write (C bit)
  Read,   // zero-length RDMA Read Request (D bit), answered by a zero-length Read Response
  Send,   // zero-length Send (B bit)
};

constexpr std::string_view to_string(Rtr rtr) {
  switch (rtr) {
    case Rtr::None:
      return "none";
    case Rtr::Write:
      return "write";
    case Rtr::Read:
      return "read";
    case Rtr::Send:
      return "send";
  }
  return "?";
}

// STag and tagged offset the RTR messages name. Nothing is placed (zero length), so no peer
// validates them; [policy] STag 1 like Linux siw's RTR.
inline constexpr std::uint32_t kRtrStag = 1;

// The RTR message of kind `rtr` (not None), with `msn` the MSN it consumes of its queue (Send:
// queue 0, Read: queue 1; RTRs are the first message, so 1). Sizes are set.
constexpr UlpduHeader make_rtr(Rtr rtr, std::uint32_t msn = 1) {
  UlpduHeader h;
  switch (rtr) {
    case Rtr::Write:
      h.ddp_ = make_tagged_header(RdmapOpcode::Write, true, kRtrStag, 0);
      break;
    case Rtr::Read:
      h.ddp_ = make_untagged_header(RdmapOpcode::ReadRequest, true, msn, 0);
      h.read_request_ = {0, 0, 0, kRtrStag, 0};
      break;
    case Rtr::Send:
    case Rtr::None:
      h.ddp_ = make_untagged_header(RdmapOpcode::Send, true, msn, 0);
      break;
  }
  const OpcodeInfo& info = opcode_info(h.ddp_.opcode_);
  h.header_bytes_ = h.ddp_.header_bytes() + info.extra_header_bytes_;
  h.ulpdu_bytes_ = h.header_bytes_;
  return h;
}

// True when `h`, the first message a responder receives, is the RTR of kind `rtr`.
constexpr bool is_rtr(Rtr rtr, const UlpduHeader& h) {
  switch (rtr) {
    case Rtr::Write:
      return h.ddp_.opcode_ == RdmapOpcode::Write && h.payload_bytes_ == 0 && h.ddp_.last_;
    case Rtr::Read:
      return h.ddp_.opcode_ == RdmapOpcode::ReadRequest && h.read_request_.read_bytes_ == 0 &&
             h.ddp_.msn_ == 1;
    case Rtr::Send:
      return opcode_info(h.ddp_.opcode_).queue_number_ == 0 && !h.ddp_.tagged_ &&
             h.payload_bytes_ == 0 && h.ddp_.msn_ == 1 && h.ddp_.last_;
    case Rtr::None:
      return false;
  }
  return false;
}

// True when `h` is the zero-length Read Response that answers a Read RTR.
constexpr bool is_rtr_response(const UlpduHeader& h) {
  return h.ddp_.opcode_ == RdmapOpcode::ReadResponse && h.payload_bytes_ == 0 && h.ddp_.last_;
}

}  // namespace softndk::wire
