// The single source of truth per RDMAP opcode (RFC 5040 §4.2): name, buffer model, queue
// number, fixed RDMAP header length after the DDP header, payload, validity. Indexed by the 4-bit
// opcode; every switch-free lookup in send, receive and terminate code goes through opcode_info().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "wire/rdmap.h"

namespace softndk::wire {

inline constexpr std::uint8_t kNoQueueNumber = 0xFF;  // tagged opcodes carry no QN

struct OpcodeInfo {
  std::uint8_t opcode_;  // equals the table index (static_assert below)
  std::string_view name_;
  bool is_valid_;                    // implemented by this project
  bool is_tagged_;                   // required DDP T bit
  std::uint8_t queue_number_;        // untagged QN (RFC 5040 §5.1), kNoQueueNumber if tagged
  std::uint8_t extra_header_bytes_;  // fixed RDMAP header bytes after the DDP header
  bool has_variable_header_;         // more header may follow the fixed part (Terminate)
  bool has_payload_;                 // may carry ULP payload after the headers
  bool solicited_event_;             // Send with Solicited Event (RFC 5040 §5.3)
  bool invalidates_stag_;            // carries an Invalidate STag (RFC 5040 §4.3, §5.3)
};

// clang-format off
inline constexpr std::array<OpcodeInfo, 16> kOpcodeTable = {{
    // opcode name                       valid  tagged QN              extra var    payload SE     inval
    {0x0, "RdmaWrite",                  true,  true,  kNoQueueNumber, 0,  false, true,   false, false},
    {0x1, "RdmaReadRequest",            true,  false, 1,              28, false, false,  false, false},
    {0x2, "RdmaReadResponse",           true,  true,  kNoQueueNumber, 0,  false, true,   false, false},
    {0x3, "Send",                       true,  false, 0,              0,  false, true,   false, false},
    {0x4, "SendWithInvalidate",         true,  false, 0,              0,  false, true,   false, true},
    {0x5, "SendWithSolicitedEvent",     true,  false, 0,              0,  false, true,   true,  false},
    {0x6, "SendWithSeAndInvalidate",    true,  false, 0,              0,  false, true,   true,  true},
    {0x7, "Terminate",                  true,  false, 2,              4,  true,  false,  false, false},
    {0x8, "Reserved8",                  false, false, kNoQueueNumber, 0,  false, false,  false, false},
    {0x9, "Reserved9",                  false, false, kNoQueueNumber, 0,  false, false,  false, false},
    {0xA, "Reserved10",                 false, false, kNoQueueNumber, 0,  false, false,  false, false},
    {0xB, "Reserved11",                 false, false, kNoQueueNumber, 0,  false, false,  false, false},
    {0xC, "Reserved12",                 false, false, kNoQueueNumber, 0,  false, false,  false, false},
    {0xD, "Reserved13",                 false, false, kNoQueueNumber, 0,  false, false,  false, false},
    {0xE, "Reserved14",                 false, false, kNoQueueNumber, 0,  false, false,  false, false},
    {0xF, "Reserved15",                 false, false, kNoQueueNumber, 0,  false, false,  false, false},
}};
// clang-format on

namespace detail {
constexpr bool opcode_table_is_complete() {
  for (std::size_t i = 0; i < kOpcodeTable.size(); ++i) {
    const OpcodeInfo& e = kOpcodeTable[i];
    if (e.opcode_ != i || e.name_.empty()) return false;
    if (e.is_valid_ != (i <= 0x7)) return false;
    if (e.is_tagged_ && e.queue_number_ != kNoQueueNumber) return false;
    if ((e.solicited_event_ || e.invalidates_stag_) && e.queue_number_ != 0) return false;
  }
  return true;
}
}  // namespace detail

static_assert(kOpcodeTable.size() == 16, "one entry per 4-bit RDMAP opcode");
static_assert(detail::opcode_table_is_complete(), "every opcode 0..15 filled, in order");
static_assert(kOpcodeTable[0x1].extra_header_bytes_ == kRdmapReadRequestBytes);
static_assert(kOpcodeTable[0x7].extra_header_bytes_ == kTerminateFixedBytes);

constexpr const OpcodeInfo& opcode_info(std::uint8_t opcode) {
  return kOpcodeTable[opcode & kRdmapOpcodeMask];
}
constexpr const OpcodeInfo& opcode_info(RdmapOpcode opcode) {
  return opcode_info(static_cast<std::uint8_t>(opcode));
}
constexpr std::string_view to_string(RdmapOpcode opcode) {
  return opcode_info(opcode).name_;
}

// True for the four Send opcodes (untagged, queue 0).
constexpr bool is_send(RdmapOpcode opcode) {
  const OpcodeInfo& info = opcode_info(opcode);
  return info.is_valid_ && !info.is_tagged_ && info.queue_number_ == 0;
}

// The Send opcode with these properties (RFC 5040 §4.2): the table row that matches.
constexpr RdmapOpcode send_opcode(bool solicited_event, bool invalidate) {
  for (const OpcodeInfo& info : kOpcodeTable) {
    const auto op = static_cast<RdmapOpcode>(info.opcode_);
    if (is_send(op) && info.solicited_event_ == solicited_event &&
        info.invalidates_stag_ == invalidate)
      return op;
  }
  return RdmapOpcode::Send;
}
static_assert(send_opcode(true, true) == RdmapOpcode::SendSEInvalidate);
static_assert(send_opcode(false, false) == RdmapOpcode::Send);

}  // namespace softndk::wire
