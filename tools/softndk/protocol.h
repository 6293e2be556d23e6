// The protocol between a softndk client (`ping`, `perf`) and a softndk server: the private data
// of connection requests and rejections, and the fixed-size control messages of a session's
// control QP. Every field is little-endian at a fixed offset whatever the host, so client and
// server may run on different machines. Pure encoding: no I/O.
#pragma once

#include <softndk/softndk.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace softndk::cli {

// 2: Welcome carries the server's CRC request, TestDone how the server waited (flags byte and
// notification count); the Failure text is 104 bytes (was 112).
// 3: TestDone carries the server's CPU time and wall time during the test.
inline constexpr uint8_t kProtocolVersion = 3;

// What a test measures. Data operations move messages; memory operations are the
// registration work NDK consumers do around them.
enum class Op : uint8_t {
  Send = 1,        // NdkSend / NdkReceive
  Write,           // NdkWrite
  Read,            // NdkRead
  Register,        // NdkRegisterMr + NdkDeregisterMr
  FastRegister,    // NdkFastRegister + NdkInvalidate of the MR
  Bind,            // NdkBind + NdkInvalidate of the MW
  SendInvalidate,  // NdkSendAndInvalidate
  Ping,            // `softndk ping`: echoed sends
};
enum class Mode : uint8_t { Bandwidth = 1, Latency, Rate };

const char* op_name(Op op);  // "send", "write", "read", "reg", "fastreg", "bind", "sendinv", "ping"
std::optional<Op> parse_op(const std::string& name);
const char* mode_name(Mode mode);  // "bw", "lat", "rate"
std::optional<Mode> parse_mode(const std::string& name);
bool is_memory_op(Op op);

// ---- connection requests (NdkConnect private data, 48 bytes: within MaxCallerData >= 56)
enum class Role : uint8_t { Control = 1, Data = 2 };
inline constexpr uint32_t kRequestNotifications = 1;  // the client waits on CQ notifications

struct ConnectRequest {
  Role role = Role::Control;
  uint16_t index = 0;             // data link index, 0 for the control link
  uint64_t session = 0;           // random; ties the data links to their control link
  uint16_t data_links = 1;        // data QPs of the session
  uint16_t sge = 1;               // SGEs per request
  uint32_t client_depth = 1;      // initiator depth of the client's data QPs
  uint32_t server_receives = 16;  // receives the server keeps posted per data QP (send credits)
  uint32_t inline_bytes = 0;      // QP inline size
  uint64_t buffer_bytes = 0;      // data buffer each side registers
  uint32_t read_limit = 1;        // inbound/outbound RDMA read limit
  uint32_t flags = 0;             // kRequest*
};
inline constexpr size_t kConnectRequestBytes = 48;

std::vector<std::byte> encode_request(const ConnectRequest& request);
enum class RequestCheck { Ok, NotSoftndk, OtherVersion };
// *peer_version receives the version byte of a softndk request (for OtherVersion messages).
RequestCheck decode_request(std::span<const std::byte> bytes, ConnectRequest* request,
                            uint8_t* peer_version);

// ---- rejections (NdkReject private data): a reason text for the client to print.
std::vector<std::byte> encode_rejection(const std::string& reason, size_t max_bytes);
// The reason, or nothing when the bytes are not a softndk rejection.
std::optional<std::string> decode_rejection(std::span<const std::byte> bytes);

// ---- control messages (one control QP per session, request/response)
enum class MessageType : uint16_t {
  Hello = 1,  // client -> server: the client's data buffer (address, token, bytes)
  Welcome,    // server -> client: the server's data buffer, adapter flags, CRC request
  TestBegin,  // client -> server: test parameters
  TestReady,  // server -> client
  TestEnd,    // client -> server: count = data messages the client sent
  TestDone,   // server -> client: count = data messages the server received, how it waited
  Bye,        // client -> server: end of session
  ByeAck,     // server -> client: counters = the server adapter's counters
  Failure,    // either way: text says why the sender gives up the session
};
const char* message_name(MessageType type);

struct TestParams {
  Op op = Op::Send;
  Mode mode = Mode::Bandwidth;
  uint16_t sge = 1;
  uint32_t cq_mod = 1;
  uint64_t size = 0;
  uint32_t credit_batch = 1;  // send bandwidth: the server returns a credit per this many receives
  uint32_t duration_ms = 0;   // 0: a number of iterations
};

// ControlMessage::flags
// Welcome: the server's transport has an MPA CRC choice (iWARP/TCP), and whether the server's
// adapter requests CRC. MPA uses CRC on a connection when either side requests it (RFC 5044
// 7.1.2), so the client learns the negotiated CRC as (its own request || the server's).
inline constexpr uint8_t kFlagCrcApplies = 1;
inline constexpr uint8_t kFlagCrcRequested = 2;
// TestDone: the server waited for its completions with CQ notifications during the test.
inline constexpr uint8_t kFlagServerNotified = 4;

// What an adapter asks of MPA CRC (the tcp URI option crc=1|0), on the wire in Welcome flags.
enum class CrcRequest : uint8_t { NotApplicable, Off, On };
uint8_t crc_flags(CrcRequest request);
CrcRequest crc_of_flags(uint8_t flags);
// MPA's rule: CRC when either side asks; n/a when either side has no CRC choice.
CrcRequest negotiated_crc(CrcRequest client, CrcRequest server);
const char* crc_name(CrcRequest request);  // "n/a", "off", "on"

struct ControlMessage {
  MessageType type = MessageType::Failure;
  uint64_t address = 0;  // Hello/Welcome: the sender's data buffer
  uint64_t bytes = 0;
  uint32_t token = 0;
  uint32_t adapter_flags = 0;  // Welcome
  uint8_t flags = 0;           // kFlag* (Welcome, TestDone)
  TestParams test;             // TestBegin
  uint64_t count = 0;          // TestEnd/TestDone
  uint64_t notifications = 0;  // TestDone: CQ notifications the server's CQ got in the test
  uint64_t cpu_us = 0;         // TestDone: the server process's user + system time in the test
  uint64_t wall_us = 0;        // TestDone: the wall-clock time cpu_us was measured over
  SOFTNDK_ADAPTER_COUNTERS counters{};  // ByeAck
  std::string text;                     // Failure (at most kControlTextBytes - 1 bytes kept)
};
inline constexpr size_t kControlMessageBytes = 256;
inline constexpr size_t kControlTextBytes = 104;

void encode_message(const ControlMessage& message, std::span<std::byte, kControlMessageBytes> out);
// False when the bytes are not a softndk control message.
bool decode_message(std::span<const std::byte> bytes, ControlMessage* message);

}  // namespace softndk::cli
