// Implementation of core/datapath/terminate.h.
#include "core/datapath/terminate.h"

#include <array>

#include "wire/ddp.h"

namespace softndk::core {

namespace {

using wire::TerminateReason;

// Indexed by AccessError (memory.h); None never reaches these tables.
constexpr std::array<const wire::ReceiveCheck*, 6> kTaggedChecks = {
    &wire::kCheckTaggedStagValid,       // None (unused)
    &wire::kCheckTaggedStagValid,       // InvalidStag
    &wire::kCheckTaggedStagAssociated,  // WrongPd
    &wire::kCheckWriteAccessRights,     // AccessRights
    &wire::kCheckTaggedBounds,          // Bounds
    &wire::kCheckTaggedToWrap,          // Wrap
};
constexpr std::array<const wire::ReceiveCheck*, 6> kReadSourceChecks = {
    &wire::kCheckReadSourceStagValid,       // None (unused)
    &wire::kCheckReadSourceStagValid,       // InvalidStag
    &wire::kCheckReadSourceStagAssociated,  // WrongPd
    &wire::kCheckReadSourceAccessRights,    // AccessRights
    &wire::kCheckReadSourceBounds,          // Bounds
    &wire::kCheckReadSourceToWrap,          // Wrap
};
static_assert(static_cast<size_t>(AccessError::Wrap) + 1 == kTaggedChecks.size());

constexpr TerminateReason kRdmapBounds =
    wire::make_reason(wire::RdmapErrorType::RemoteProtection,
                      wire::RdmapErrorCode::BaseOrBoundsViolation);
constexpr TerminateReason kDdpBounds =
    wire::make_reason(wire::DdpTaggedErrorCode::BaseOrBoundsViolation);

bool is(const TerminateReason& r, wire::TerminateLayer layer) {
  return r.layer_ == static_cast<uint8_t>(layer);
}
bool is(const TerminateReason& r, wire::TerminateLayer layer, uint8_t type) {
  return is(r, layer) && r.type_ == type;
}

}  // namespace

const wire::ReceiveCheck& check_for_tagged_access(AccessError error) {
  return *kTaggedChecks[static_cast<size_t>(error)];
}

const wire::ReceiveCheck& check_for_read_source(AccessError error) {
  return *kReadSourceChecks[static_cast<size_t>(error)];
}

uint32_t provider_error_for_terminate(const TerminateReason& r) {
  return 0x01000000u | (uint32_t{r.layer_} << 16) | (uint32_t{r.type_} << 8) | r.code_;
}

uint32_t provider_error_for_local(AccessError error) {
  return 0x02000000u | static_cast<uint32_t>(error);
}

NTSTATUS status_for_terminate(const TerminateReason& r, bool read_request) {
  using wire::TerminateLayer;
  constexpr auto kProtection = static_cast<uint8_t>(wire::RdmapErrorType::RemoteProtection);
  constexpr auto kTagged = static_cast<uint8_t>(wire::DdpErrorType::TaggedBuffer);
  if (is(r, TerminateLayer::Llp)) return STATUS_CONNECTION_RESET;
  if (r == kRdmapBounds || r == kDdpBounds)
    return read_request ? STATUS_REMOTE_RESOURCES : STATUS_ACCESS_VIOLATION;
  if (is(r, TerminateLayer::Rdmap, kProtection) || is(r, TerminateLayer::Ddp, kTagged) ||
      (is(r, TerminateLayer::Rdmap) &&
       r.code_ == static_cast<uint8_t>(wire::RdmapErrorCode::StagCannotBeInvalidated)))
    return STATUS_ACCESS_VIOLATION;
  return STATUS_CONNECTION_ABORTED;
}

constexpr uint8_t kLlpLayer = static_cast<uint8_t>(wire::TerminateLayer::Llp);

Blame blame_for_close(transport::LinkSink::CloseKind kind, const wire::TerminateMessage* terminate) {
  using Kind = transport::LinkSink::CloseKind;
  if (kind == Kind::Graceful) return Blame{};
  if (terminate == nullptr || kind == Kind::Aborted)
    return {Culprit::Transmit, STATUS_CONNECTION_RESET, kProviderErrorTransportLoss};
  Blame blame;
  blame.provider_error = provider_error_for_terminate(terminate->reason_);
  // Our own Terminate answered one of the peer's segments: none of our requests is to blame.
  std::optional<wire::UlpduHeader> offending;
  if (kind == Kind::TerminateReceived) offending = wire::terminated_segment(*terminate);
  bool read = offending.has_value() && offending->ddp_.opcode_ == wire::RdmapOpcode::ReadRequest;
  blame.status = status_for_terminate(terminate->reason_, read);
  // An LLP Terminate (the MPA CRC error, RFC 5044) names no segment: the culprit is the message
  // the link refused, when a synchronous link (loopback) knows it; none otherwise.
  blame.culprit = offending.has_value()                      ? (read ? Culprit::Read : Culprit::Transmit)
                  : terminate->reason_.layer_ == kLlpLayer ? Culprit::Transmit
                                                           : Culprit::None;
  if (read) {
    blame.has_read_msn = true;
    blame.read_msn = offending->ddp_.msn_;
  }
  return blame;
}

}  // namespace softndk::core
