// Terminate error codes (RFC 5040 §7.2, RFC 5041 §7.2, RFC 5044 §8, RFC 6581 §9) as
// enums, the TerminateReason{layer,type,code} value type, and one named constant per receive
// check of the receive checks (src/wire/README.md). Encoding of the Terminate message itself lives in rdmap.h.
#pragma once

#include <cstdint>

namespace softndk::wire {

// High nibble of Terminate byte 0 (RFC 5040 §4.8).
enum class TerminateLayer : std::uint8_t { Rdmap = 0, Ddp = 1, Llp = 2 };

// Low nibble of Terminate byte 0, per layer.
enum class RdmapErrorType : std::uint8_t {
  LocalCatastrophic = 0,
  RemoteProtection = 1,
  RemoteOperation = 2,
};
enum class DdpErrorType : std::uint8_t {
  LocalCatastrophic = 0,
  TaggedBuffer = 1,
  UntaggedBuffer = 2,
  ReservedForLlp = 3,
};
// RFC 5044 §8 uses Error Type 0 for MPA; cxgb4 sends 3: never insist on it when parsing.
enum class LlpErrorType : std::uint8_t { Mpa = 0 };

// RFC 5040 §7.2 Error Codes (RDMAP layer).
enum class RdmapErrorCode : std::uint8_t {
  InvalidStag = 0x00,
  BaseOrBoundsViolation = 0x01,
  AccessRightsViolation = 0x02,
  StagNotAssociated = 0x03,
  ToWrap = 0x04,
  InvalidRdmapVersion = 0x05,
  UnexpectedOpcode = 0x06,
  CatastrophicLocalized = 0x07,
  CatastrophicGlobal = 0x08,
  StagCannotBeInvalidated = 0x09,
  Unspecified = 0xFF,
};

// RFC 5041 §7.2 Error Codes, DDP tagged buffer errors (type 1).
enum class DdpTaggedErrorCode : std::uint8_t {
  InvalidStag = 0x00,
  BaseOrBoundsViolation = 0x01,
  StagNotAssociated = 0x02,
  ToWrap = 0x03,
  InvalidDdpVersion = 0x04,
};

// RFC 5041 §7.2 Error Codes, DDP untagged buffer errors (type 2).
enum class DdpUntaggedErrorCode : std::uint8_t {
  InvalidQn = 0x01,
  InvalidMsnNoBuffer = 0x02,
  InvalidMsnRange = 0x03,
  InvalidMo = 0x04,
  MessageTooLong = 0x05,
  InvalidDdpVersion = 0x06,
};

// RFC 5044 §8 and RFC 6581 §9 Error Codes (LLP layer, MPA).
enum class LlpErrorCode : std::uint8_t {
  ConnectionLost = 0x01,  // local reporting only, never sent
  CrcError = 0x02,
  MarkerMismatch = 0x03,
  InvalidMpaFrame = 0x04,
  LocalCatastrophic = 0x05,
  InsufficientIrd = 0x06,
  NoMatchingRtr = 0x07,
};

// Layer / error type / error code exactly as carried in Terminate bytes 0-1. Raw integers, because
// a received Terminate may carry any value (e.g. LLP type 3 from cxgb4).
struct TerminateReason {
  std::uint8_t layer_ = 0;  // 4 bits on the wire
  std::uint8_t type_ = 0;   // 4 bits on the wire
  std::uint8_t code_ = 0;

  friend constexpr bool operator==(const TerminateReason&, const TerminateReason&) = default;
};

constexpr TerminateReason make_reason(RdmapErrorType type, RdmapErrorCode code) {
  return {static_cast<std::uint8_t>(TerminateLayer::Rdmap), static_cast<std::uint8_t>(type),
          static_cast<std::uint8_t>(code)};
}
constexpr TerminateReason make_reason(DdpTaggedErrorCode code) {
  return {static_cast<std::uint8_t>(TerminateLayer::Ddp),
          static_cast<std::uint8_t>(DdpErrorType::TaggedBuffer), static_cast<std::uint8_t>(code)};
}
constexpr TerminateReason make_reason(DdpUntaggedErrorCode code) {
  return {static_cast<std::uint8_t>(TerminateLayer::Ddp),
          static_cast<std::uint8_t>(DdpErrorType::UntaggedBuffer), static_cast<std::uint8_t>(code)};
}
constexpr TerminateReason make_reason(LlpErrorCode code) {
  return {static_cast<std::uint8_t>(TerminateLayer::Llp),
          static_cast<std::uint8_t>(LlpErrorType::Mpa), static_cast<std::uint8_t>(code)};
}

// Which headers a Terminate for a given check carries (RFC 5040 §4.8, table 4.1).
enum class TerminateIncludes : std::uint8_t {
  Nothing,                   // M=0 D=0 R=0
  DdpHeader,                 // "+DDP":    M=1 D=1 R=0
  DdpAndReadRequestHeaders,  // "+DDP+RR": M=1 D=1 R=1
};

// One receive check (src/wire/README.md, "Receive checks").
struct ReceiveCheck {
  std::uint8_t number_;  // its number in src/wire/README.md, "Receive checks"
  TerminateReason reason_;
  TerminateIncludes includes_;
};

// --- the receive checks (src/wire/README.md), checks applied by wire::FpduReader (framing and header) ---
inline constexpr ReceiveCheck kCheckCrc{1, make_reason(LlpErrorCode::CrcError),
                                        TerminateIncludes::Nothing};
inline constexpr ReceiveCheck kCheckUlpduTooShort{
    2, make_reason(RdmapErrorType::RemoteOperation, RdmapErrorCode::CatastrophicLocalized),
    TerminateIncludes::Nothing};
inline constexpr ReceiveCheck kCheckDdpVersionTagged{
    3, make_reason(DdpTaggedErrorCode::InvalidDdpVersion), TerminateIncludes::Nothing};
inline constexpr ReceiveCheck kCheckDdpVersionUntagged{
    3, make_reason(DdpUntaggedErrorCode::InvalidDdpVersion), TerminateIncludes::Nothing};
inline constexpr ReceiveCheck kCheckRdmapVersion{
    4, make_reason(RdmapErrorType::RemoteOperation, RdmapErrorCode::InvalidRdmapVersion),
    TerminateIncludes::Nothing};
inline constexpr ReceiveCheck kCheckOpcode{
    5, make_reason(RdmapErrorType::RemoteOperation, RdmapErrorCode::UnexpectedOpcode),
    TerminateIncludes::Nothing};
inline constexpr ReceiveCheck kCheckUlpduLengthForOpcode{
    6, make_reason(RdmapErrorType::RemoteOperation, RdmapErrorCode::CatastrophicLocalized),
    TerminateIncludes::DdpHeader};

// --- the receive checks (src/wire/README.md), checks applied by the receive engine (core/datapath) ---
inline constexpr ReceiveCheck kCheckInterleaving{
    7, make_reason(RdmapErrorType::RemoteOperation, RdmapErrorCode::CatastrophicLocalized),
    TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckQn{8, make_reason(DdpUntaggedErrorCode::InvalidQn),
                                       TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckMsn{9, make_reason(DdpUntaggedErrorCode::InvalidMsnRange),
                                        TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckReceivePosted{
    10, make_reason(DdpUntaggedErrorCode::InvalidMsnNoBuffer), TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckMo{11, make_reason(DdpUntaggedErrorCode::InvalidMo),
                                       TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckReceiveBufferFits{
    12, make_reason(DdpUntaggedErrorCode::MessageTooLong), TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckLocalPlacementFault{
    13,
    {static_cast<std::uint8_t>(TerminateLayer::Ddp),
     static_cast<std::uint8_t>(DdpErrorType::LocalCatastrophic), 0x00},
    TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckTaggedStagValid{
    14, make_reason(DdpTaggedErrorCode::InvalidStag), TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckTaggedStagAssociated{
    15, make_reason(DdpTaggedErrorCode::StagNotAssociated), TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckWriteAccessRights{
    16, make_reason(RdmapErrorType::RemoteProtection, RdmapErrorCode::AccessRightsViolation),
    TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckTaggedBounds{
    17, make_reason(DdpTaggedErrorCode::BaseOrBoundsViolation), TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckTaggedToWrap{18, make_reason(DdpTaggedErrorCode::ToWrap),
                                                 TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckReadResponseOutstanding{
    19, make_reason(RdmapErrorType::RemoteOperation, RdmapErrorCode::UnexpectedOpcode),
    TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckReadResponseStag{
    20, make_reason(DdpTaggedErrorCode::InvalidStag), TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckReadResponseOffsetOrLength{
    20, make_reason(DdpTaggedErrorCode::BaseOrBoundsViolation), TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckInboundReadsWithinIrd{
    21, make_reason(RdmapErrorType::RemoteOperation, RdmapErrorCode::CatastrophicLocalized),
    TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckReadSourceStagValid{
    22, make_reason(RdmapErrorType::RemoteProtection, RdmapErrorCode::InvalidStag),
    TerminateIncludes::DdpAndReadRequestHeaders};
inline constexpr ReceiveCheck kCheckReadSourceStagAssociated{
    22, make_reason(RdmapErrorType::RemoteProtection, RdmapErrorCode::StagNotAssociated),
    TerminateIncludes::DdpAndReadRequestHeaders};
inline constexpr ReceiveCheck kCheckReadSourceAccessRights{
    22, make_reason(RdmapErrorType::RemoteProtection, RdmapErrorCode::AccessRightsViolation),
    TerminateIncludes::DdpAndReadRequestHeaders};
inline constexpr ReceiveCheck kCheckReadSourceBounds{
    22, make_reason(RdmapErrorType::RemoteProtection, RdmapErrorCode::BaseOrBoundsViolation),
    TerminateIncludes::DdpAndReadRequestHeaders};
inline constexpr ReceiveCheck kCheckReadSourceToWrap{
    22, make_reason(RdmapErrorType::RemoteProtection, RdmapErrorCode::ToWrap),
    TerminateIncludes::DdpAndReadRequestHeaders};
inline constexpr ReceiveCheck kCheckInvalidateStagAccess{
    23, make_reason(RdmapErrorType::RemoteProtection, RdmapErrorCode::StagCannotBeInvalidated),
    TerminateIncludes::DdpHeader};
inline constexpr ReceiveCheck kCheckInvalidateStagOther{
    23, make_reason(RdmapErrorType::RemoteOperation, RdmapErrorCode::StagCannotBeInvalidated),
    TerminateIncludes::DdpHeader};

// --- MPA startup errors sent as Terminates in FPDU mode (RFC 6581 §5, §9) ---
inline constexpr TerminateReason kTerminateInvalidMpaFrame =
    make_reason(LlpErrorCode::InvalidMpaFrame);
inline constexpr TerminateReason kTerminateInsufficientIrd =
    make_reason(LlpErrorCode::InsufficientIrd);
inline constexpr TerminateReason kTerminateNoMatchingRtr = make_reason(LlpErrorCode::NoMatchingRtr);
inline constexpr TerminateReason kTerminateLlpLocalCatastrophic =
    make_reason(LlpErrorCode::LocalCatastrophic);

}  // namespace softndk::wire
