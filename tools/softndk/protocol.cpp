// Implementation of protocol.h: explicit little-endian fields at fixed offsets.
#include "protocol.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "counters.h"

namespace softndk::cli {

namespace {

constexpr uint32_t kMagic = 0x4B444E53;  // "SNDK" in little-endian byte order

template <class T>
void put(std::byte* out, size_t offset, T value) {
  for (size_t i = 0; i < sizeof(T); ++i)
    out[offset + i] = static_cast<std::byte>((static_cast<uint64_t>(value) >> (8 * i)) & 0xFF);
}

template <class T>
T get(const std::byte* in, size_t offset) {
  uint64_t value = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    value |= static_cast<uint64_t>(std::to_integer<uint8_t>(in[offset + i])) << (8 * i);
  return static_cast<T>(value);
}

struct OpName {
  Op op;
  const char* name;
};
constexpr std::array<OpName, 8> kOps{{{Op::Send, "send"},
                                      {Op::Write, "write"},
                                      {Op::Read, "read"},
                                      {Op::Register, "reg"},
                                      {Op::FastRegister, "fastreg"},
                                      {Op::Bind, "bind"},
                                      {Op::SendInvalidate, "sendinv"},
                                      {Op::Ping, "ping"}}};

}  // namespace

const char* op_name(Op op) {
  for (const OpName& o : kOps)
    if (o.op == op) return o.name;
  return "?";
}

std::optional<Op> parse_op(const std::string& name) {
  for (const OpName& o : kOps)
    if (name == o.name) return o.op;
  return std::nullopt;
}

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::Bandwidth: return "bw";
    case Mode::Latency: return "lat";
    case Mode::Rate: return "rate";
  }
  return "?";
}

std::optional<Mode> parse_mode(const std::string& name) {
  for (Mode m : {Mode::Bandwidth, Mode::Latency, Mode::Rate})
    if (name == mode_name(m)) return m;
  return std::nullopt;
}

bool is_memory_op(Op op) {
  return op == Op::Register || op == Op::FastRegister || op == Op::Bind ||
         op == Op::SendInvalidate;
}

const char* message_name(MessageType type) {
  switch (type) {
    case MessageType::Hello: return "Hello";
    case MessageType::Welcome: return "Welcome";
    case MessageType::TestBegin: return "TestBegin";
    case MessageType::TestReady: return "TestReady";
    case MessageType::TestEnd: return "TestEnd";
    case MessageType::TestDone: return "TestDone";
    case MessageType::Bye: return "Bye";
    case MessageType::ByeAck: return "ByeAck";
    case MessageType::Failure: return "Failure";
  }
  return "?";
}

uint8_t crc_flags(CrcRequest request) {
  switch (request) {
    case CrcRequest::NotApplicable: return 0;
    case CrcRequest::Off: return kFlagCrcApplies;
    case CrcRequest::On: return kFlagCrcApplies | kFlagCrcRequested;
  }
  return 0;
}

CrcRequest crc_of_flags(uint8_t flags) {
  if ((flags & kFlagCrcApplies) == 0) return CrcRequest::NotApplicable;
  return (flags & kFlagCrcRequested) != 0 ? CrcRequest::On : CrcRequest::Off;
}

CrcRequest negotiated_crc(CrcRequest client, CrcRequest server) {
  if (client == CrcRequest::NotApplicable || server == CrcRequest::NotApplicable)
    return CrcRequest::NotApplicable;
  return client == CrcRequest::On || server == CrcRequest::On ? CrcRequest::On : CrcRequest::Off;
}

const char* crc_name(CrcRequest request) {
  switch (request) {
    case CrcRequest::NotApplicable: return "n/a";
    case CrcRequest::Off: return "off";
    case CrcRequest::On: return "on";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Connection requests
//   0 magic u32 | 4 version u8 | 5 role u8 | 6 index u16 | 8 session u64 | 16 data_links u16
//   18 sge u16 | 20 client_depth u32 | 24 server_receives u32 | 28 inline u32
//   32 buffer_bytes u64 | 40 read_limit u32 | 44 flags u32

std::vector<std::byte> encode_request(const ConnectRequest& r) {
  std::vector<std::byte> out(kConnectRequestBytes);
  std::byte* p = out.data();
  put<uint32_t>(p, 0, kMagic);
  put<uint8_t>(p, 4, kProtocolVersion);
  put<uint8_t>(p, 5, static_cast<uint8_t>(r.role));
  put<uint16_t>(p, 6, r.index);
  put<uint64_t>(p, 8, r.session);
  put<uint16_t>(p, 16, r.data_links);
  put<uint16_t>(p, 18, r.sge);
  put<uint32_t>(p, 20, r.client_depth);
  put<uint32_t>(p, 24, r.server_receives);
  put<uint32_t>(p, 28, r.inline_bytes);
  put<uint64_t>(p, 32, r.buffer_bytes);
  put<uint32_t>(p, 40, r.read_limit);
  put<uint32_t>(p, 44, r.flags);
  return out;
}

RequestCheck decode_request(std::span<const std::byte> bytes, ConnectRequest* r,
                            uint8_t* peer_version) {
  if (bytes.size() < 8 || get<uint32_t>(bytes.data(), 0) != kMagic) return RequestCheck::NotSoftndk;
  const std::byte* p = bytes.data();
  *peer_version = get<uint8_t>(p, 4);
  if (*peer_version != kProtocolVersion || bytes.size() < kConnectRequestBytes)
    return RequestCheck::OtherVersion;
  uint8_t role = get<uint8_t>(p, 5);
  if (role != static_cast<uint8_t>(Role::Control) && role != static_cast<uint8_t>(Role::Data))
    return RequestCheck::NotSoftndk;
  r->role = static_cast<Role>(role);
  r->index = get<uint16_t>(p, 6);
  r->session = get<uint64_t>(p, 8);
  r->data_links = get<uint16_t>(p, 16);
  r->sge = get<uint16_t>(p, 18);
  r->client_depth = get<uint32_t>(p, 20);
  r->server_receives = get<uint32_t>(p, 24);
  r->inline_bytes = get<uint32_t>(p, 28);
  r->buffer_bytes = get<uint64_t>(p, 32);
  r->read_limit = get<uint32_t>(p, 40);
  r->flags = get<uint32_t>(p, 44);
  return RequestCheck::Ok;
}

// ---------------------------------------------------------------------------------------------
// Rejections: 0 magic u32 | 4 version u8 | 5..7 zero | 8 reason text, NUL-terminated

std::vector<std::byte> encode_rejection(const std::string& reason, size_t max_bytes) {
  std::vector<std::byte> out(std::max<size_t>(max_bytes, 9));
  put<uint32_t>(out.data(), 0, kMagic);
  put<uint8_t>(out.data(), 4, kProtocolVersion);
  size_t text = std::min(reason.size(), out.size() - 9);
  std::memcpy(out.data() + 8, reason.data(), text);
  out.resize(std::min(out.size(), 8 + text + 1));  // keep the NUL
  if (out.size() > max_bytes) out.resize(max_bytes);
  return out;
}

std::optional<std::string> decode_rejection(std::span<const std::byte> bytes) {
  if (bytes.size() < 8 || get<uint32_t>(bytes.data(), 0) != kMagic) return std::nullopt;
  std::string text;
  for (size_t i = 8; i < bytes.size(); ++i) {
    char c = static_cast<char>(bytes[i]);
    if (c == '\0') break;
    text += c;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Control messages
//   0 magic u32 | 4 type u16 | 6 version u8 | 7 flags u8 | 8 address u64 | 16 bytes u64
//   24 token u32 | 28 adapter_flags u32 | 32 op u8 | 33 mode u8 | 34 sge u16 | 36 cq_mod u32
//   40 size u64 | 48 credit_batch u32 | 52 duration_ms u32 | 56 count u64
//   64 counters 10 x u64 (SOFTNDK_ADAPTER_COUNTERS order; ByeAck)
//      or 64 cpu_us u64 | 72 wall_us u64 (TestDone)        | 144 notifications u64
//   152 text (104 bytes, NUL-padded)

namespace {
constexpr size_t kCountersOffset = 64;
constexpr size_t kNotificationsOffset = 144;
constexpr size_t kTextOffset = 152;
static_assert(kTextOffset + kControlTextBytes == kControlMessageBytes);
static_assert(kCountersOffset + 8 * kCounterFields.size() == kNotificationsOffset);
static_assert(kNotificationsOffset + 8 == kTextOffset);
}  // namespace

void encode_message(const ControlMessage& m, std::span<std::byte, kControlMessageBytes> out) {
  std::byte* p = out.data();
  std::memset(p, 0, kControlMessageBytes);
  put<uint32_t>(p, 0, kMagic);
  put<uint16_t>(p, 4, static_cast<uint16_t>(m.type));
  put<uint8_t>(p, 6, kProtocolVersion);
  put<uint8_t>(p, 7, m.flags);
  put<uint64_t>(p, 8, m.address);
  put<uint64_t>(p, 16, m.bytes);
  put<uint32_t>(p, 24, m.token);
  put<uint32_t>(p, 28, m.adapter_flags);
  put<uint8_t>(p, 32, static_cast<uint8_t>(m.test.op));
  put<uint8_t>(p, 33, static_cast<uint8_t>(m.test.mode));
  put<uint16_t>(p, 34, m.test.sge);
  put<uint32_t>(p, 36, m.test.cq_mod);
  put<uint64_t>(p, 40, m.test.size);
  put<uint32_t>(p, 48, m.test.credit_batch);
  put<uint32_t>(p, 52, m.test.duration_ms);
  put<uint64_t>(p, 56, m.count);
  if (m.type == MessageType::TestDone) {
    put<uint64_t>(p, kCountersOffset, m.cpu_us);
    put<uint64_t>(p, kCountersOffset + 8, m.wall_us);
  } else {
    for (size_t i = 0; i < kCounterFields.size(); ++i)
      put<uint64_t>(p, kCountersOffset + 8 * i, m.counters.*kCounterFields[i].member);
  }
  put<uint64_t>(p, kNotificationsOffset, m.notifications);
  std::memcpy(p + kTextOffset, m.text.data(), std::min(m.text.size(), kControlTextBytes - 1));
}

bool decode_message(std::span<const std::byte> bytes, ControlMessage* m) {
  if (bytes.size() < kControlMessageBytes) return false;
  const std::byte* p = bytes.data();
  if (get<uint32_t>(p, 0) != kMagic || get<uint8_t>(p, 6) != kProtocolVersion) return false;
  uint16_t type = get<uint16_t>(p, 4);
  if (type < static_cast<uint16_t>(MessageType::Hello) ||
      type > static_cast<uint16_t>(MessageType::Failure))
    return false;
  m->type = static_cast<MessageType>(type);
  m->flags = get<uint8_t>(p, 7);
  m->address = get<uint64_t>(p, 8);
  m->bytes = get<uint64_t>(p, 16);
  m->token = get<uint32_t>(p, 24);
  m->adapter_flags = get<uint32_t>(p, 28);
  m->test.op = static_cast<Op>(get<uint8_t>(p, 32));
  m->test.mode = static_cast<Mode>(get<uint8_t>(p, 33));
  m->test.sge = get<uint16_t>(p, 34);
  m->test.cq_mod = get<uint32_t>(p, 36);
  m->test.size = get<uint64_t>(p, 40);
  m->test.credit_batch = get<uint32_t>(p, 48);
  m->test.duration_ms = get<uint32_t>(p, 52);
  m->count = get<uint64_t>(p, 56);
  m->counters = {};
  m->cpu_us = m->wall_us = 0;
  if (m->type == MessageType::TestDone) {
    m->cpu_us = get<uint64_t>(p, kCountersOffset);
    m->wall_us = get<uint64_t>(p, kCountersOffset + 8);
  } else {
    for (size_t i = 0; i < kCounterFields.size(); ++i)
      m->counters.*kCounterFields[i].member = get<uint64_t>(p, kCountersOffset + 8 * i);
  }
  m->notifications = get<uint64_t>(p, kNotificationsOffset);
  m->text.clear();
  for (size_t i = 0; i < kControlTextBytes && p[kTextOffset + i] != std::byte{0}; ++i)
    m->text += static_cast<char>(p[kTextOffset + i]);
  return true;
}

}  // namespace softndk::cli
