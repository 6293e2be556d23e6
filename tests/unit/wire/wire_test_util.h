// Test-only helpers for the wire codec tests: hex <-> bytes, the byte-exact worked examples of
// the worked examples (built from RFC 5040/5041/5044/6581), and a reference driver that runs an FpduReader over chunked input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wire/fpdu_reader.h"

namespace softndk::wire::test {

using Bytes = std::vector<std::byte>;

// Parses hex digits, ignoring spaces and newlines ("4d 50 41" -> {0x4d,0x50,0x41}).
inline Bytes from_hex(std::string_view hex) {
  Bytes out;
  int hi = -1;
  for (const char c : hex) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      continue;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::byte>(hi * 16 + v));
      hi = -1;
    }
  }
  return out;
}

inline std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) s += ' ';
    const auto v = static_cast<unsigned>(bytes[i]);
    s += kDigits[v >> 4];
    s += kDigits[v & 0xF];
  }
  return s;
}

inline Bytes from_text(std::string_view text) {
  Bytes out;
  for (const char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

// ---- worked examples: whole frames built by hand from the RFC layouts ----
// 8.1 MPA Request: Rev 2, C|E, A|IRD 16, C|D|ORD 16, private data "hello".
inline const char* const kSpec81MpaRequest =
    "4d 50 41 20 49 44 20 52 65 71 20 46 72 61 6d 65"
    "50 02 00 09"
    "80 10"
    "c0 10"
    "68 65 6c 6c 6f";
// 8.2 MPA Reply: C|E, Rev 2, A|IRD 16, C|ORD 16, no consumer data.
inline const char* const kSpec82MpaReply =
    "4d 50 41 20 49 44 20 52 65 70 20 46 72 61 6d 65"
    "50 02 00 04"
    "80 10 80 10";
// 8.3 RTR: zero-length RDMA Write, STag 1, TO 0.
inline const char* const kSpec83WriteRtr =
    "00 0e c1 40 00 00 00 01 00 00 00 00 00 00 00 00 eb d3 4c 5f";
// 8.4 Send "Hello, iWARP!", QN 0, MSN 1, pad 3.
inline const char* const kSpec84Send =
    "00 1f 41 43 00 00 00 00 00 00 00 00 00 00 00 01"
    "00 00 00 00 48 65 6c 6c 6f 2c 20 69 57 41 52 50"
    "21 00 00 00 13 43 08 1e";
inline const char* const kSpec84SendNoCrc =
    "00 1f 41 43 00 00 00 00 00 00 00 00 00 00 00 01"
    "00 00 00 00 48 65 6c 6c 6f 2c 20 69 57 41 52 50"
    "21 00 00 00 00 00 00 00";
// 8.5 RDMA Read Request: sink 0xCD02/0x2000, 64 bytes, source 0xAB01/0x1000.
inline const char* const kSpec85ReadRequest =
    "00 2e 41 41 00 00 00 00 00 00 00 01 00 00 00 01"
    "00 00 00 00 00 00 cd 02 00 00 00 00 00 00 20 00"
    "00 00 00 40 00 00 ab 01 00 00 00 00 00 00 10 00"
    "36 23 1d 18";
// 8.6 Read RTR as siw sends it, and the zero-length Read Response.
inline const char* const kSpec86ReadRtr =
    "00 2e 41 41 00 00 00 00 00 00 00 01 00 00 00 01"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00"
    "ba 10 e3 c9";
inline const char* const kSpec86ReadResponse =
    "00 0e c1 42 00 00 00 00 00 00 00 00 00 00 00 00 69 75 d6 ca";
// 8.7 Terminate: LLP / MPA / CRC error, nothing included.
inline const char* const kSpec87TerminateCrc =
    "00 16 41 47 00 00 00 00 00 00 00 02 00 00 00 01"
    "00 00 00 00 20 02 00 00 7f e4 25 85";
// 8.8 Terminate: DDP untagged "MSN range not valid" with the offending untagged header.
inline const char* const kSpec88TerminateDdp =
    "00 2a 41 47 00 00 00 00 00 00 00 02 00 00 00 01"
    "00 00 00 00 12 03 c0 00 00 17 41 43 00 00 00 00"
    "00 00 00 00 00 00 00 03 00 00 00 00 fb 08 d4 69";

// Every FPDU example of section 8 (all with CRC).
inline std::vector<Bytes> spec_fpdu_examples() {
  return {from_hex(kSpec83WriteRtr),     from_hex(kSpec84Send),
          from_hex(kSpec85ReadRequest),  from_hex(kSpec86ReadRtr),
          from_hex(kSpec86ReadResponse), from_hex(kSpec87TerminateCrc),
          from_hex(kSpec88TerminateDdp)};
}

// What a reader produced for one FPDU.
struct ReadFpdu {
  UlpduHeader header_{};
  Bytes payload_;
  bool crc_verified_ = false;
};

struct ReadResult {
  std::vector<ReadFpdu> fpdus_;
  bool malformed_ = false;
  ReceiveCheck check_{};
  std::size_t consumed_bytes_ = 0;
  std::size_t events_ = 0;
};

// Feeds `stream` to a fresh reader in chunks whose sizes come from `chunk_size(index)` (>= 1) and
// collects the FPDUs. Stops at the first Malformed. Also checks the event protocol invariants the
// header promises; violations are reported via `protocol_error`.
template <typename ChunkSize>
ReadResult read_stream(std::span<const std::byte> stream, bool crc_enabled, ChunkSize chunk_size,
                       std::string* protocol_error = nullptr) {
  ReadResult result;
  FpduReader reader(crc_enabled);
  ReadFpdu current;
  bool in_fpdu = false;
  std::size_t pos = 0;
  std::size_t chunk_index = 0;
  auto complain = [&](const char* what) {
    if (protocol_error != nullptr && protocol_error->empty()) *protocol_error = what;
  };
  while (pos < stream.size()) {
    std::size_t n = chunk_size(chunk_index++);
    if (n == 0) n = 1;
    if (n > stream.size() - pos) n = stream.size() - pos;
    std::span<const std::byte> in = stream.subspan(pos, n);
    pos += n;
    for (;;) {
      const FpduEvent ev = reader.feed(in);
      ++result.events_;
      if (ev.consumed_bytes_ > in.size()) complain("consumed more than offered");
      result.consumed_bytes_ += ev.consumed_bytes_;
      in = in.subspan(ev.consumed_bytes_);
      switch (ev.kind_) {
        case FpduEventKind::NeedMore:
          if (!in.empty()) complain("NeedMore left input unconsumed");
          if (ev.need_bytes_ == 0) complain("NeedMore with need_bytes_ == 0");
          break;
        case FpduEventKind::Header:
          if (in_fpdu) complain("Header inside an FPDU");
          if (ev.header_ == nullptr) complain("Header without header_");
          in_fpdu = true;
          current = ReadFpdu{};
          current.header_ = *ev.header_;
          break;
        case FpduEventKind::Payload:
          if (!in_fpdu) complain("Payload outside an FPDU");
          if (ev.payload_.empty()) complain("empty Payload event");
          current.payload_.insert(current.payload_.end(), ev.payload_.begin(), ev.payload_.end());
          break;
        case FpduEventKind::Complete:
          if (!in_fpdu) complain("Complete without Header");
          if (current.payload_.size() != current.header_.payload_bytes_) {
            complain("payload size differs from header");
          }
          current.crc_verified_ = ev.crc_verified_;
          result.fpdus_.push_back(current);
          in_fpdu = false;
          break;
        case FpduEventKind::Malformed:
          result.malformed_ = true;
          result.check_ = ev.check_;
          return result;
      }
      if (ev.kind_ == FpduEventKind::NeedMore) break;
    }
  }
  if (in_fpdu) complain("stream ended inside an FPDU");
  if (!reader.at_fpdu_boundary()) complain("stream ended off an FPDU boundary");
  return result;
}

}  // namespace softndk::wire::test
