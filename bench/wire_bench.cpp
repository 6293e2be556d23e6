// Micro-benchmarks of the wire codec hot paths (src/wire): CRC32c over message-sized buffers,
// FPDU framing of a Send segment (length prefix, pad, CRC over a gather list) and FPDU decoding
// with FpduReader (header, payload, trailer), with the MPA CRC on and off.
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <vector>

#include "wire/crc32c.h"
#include "wire/ddp.h"
#include "wire/fpdu.h"
#include "wire/fpdu_reader.h"

namespace softndk::wire {
namespace {

std::vector<std::byte> pattern(size_t bytes) {
  std::vector<std::byte> data(bytes);
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<std::byte>(i * 131 + 7);
  return data;
}

// An untagged Send header (DDP 14 + RDMAP 4 bytes = 18) for MSN `msn`.
std::array<std::byte, kDdpUntaggedHeaderBytes> send_header(uint32_t msn) {
  std::array<std::byte, kDdpUntaggedHeaderBytes> header{};
  encode_ddp_header(make_untagged_header(RdmapOpcode::Send, true, msn, 0), header);
  return header;
}

void BM_Crc32c(benchmark::State& state) {
  const std::vector<std::byte> data = pattern(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(crc32c(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32c)->RangeMultiplier(4)->Range(64, 1 << 20);

// Framing a Send: the segment payload is read once for the CRC (never copied).
void BM_FpduEncode(benchmark::State& state) {
  const size_t payload_bytes = static_cast<size_t>(state.range(0));
  const bool crc = state.range(1) != 0;
  const std::vector<std::byte> payload = pattern(payload_bytes);
  const auto header = send_header(1);
  const std::span<const std::byte> pieces[] = {payload};
  FpduFraming framing;
  for (auto _ : state) {
    EncodeError e = encode_fpdu_framing(header, pieces, crc, framing);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(framing.trailer_);
  }
  // Without the CRC the payload is never touched: count FPDUs, not bytes.
  state.SetItemsProcessed(state.iterations());
  if (crc) state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * payload_bytes);
  state.SetLabel(crc ? "crc" : "no crc");
}
BENCHMARK(BM_FpduEncode)->ArgsProduct({{64, 1024, 4096, 16384, 65000}, {1, 0}});

// Decoding a stream of back-to-back Send FPDUs fed in one span (the receive path: header
// event, payload event pointing into the input, trailer and CRC check).
void BM_FpduDecode(benchmark::State& state) {
  const size_t payload_bytes = static_cast<size_t>(state.range(0));
  const bool crc = state.range(1) != 0;
  constexpr int kFpdus = 16;
  const std::vector<std::byte> payload = pattern(payload_bytes);
  std::vector<std::byte> stream;
  for (int i = 0; i < kFpdus; ++i) {
    const auto header = send_header(static_cast<uint32_t>(i + 1));
    const std::span<const std::byte> pieces[] = {payload};
    FpduFraming framing;
    if (encode_fpdu_framing(header, pieces, crc, framing) != EncodeError::None) {
      state.SkipWithError("encode failed");
      return;
    }
    for (auto part : {framing.length_prefix(), std::span<const std::byte>(header),
                      std::span<const std::byte>(payload), framing.trailer()})
      stream.insert(stream.end(), part.begin(), part.end());
  }
  for (auto _ : state) {
    FpduReader reader(crc);
    std::span<const std::byte> in = stream;
    int complete = 0;
    while (!in.empty()) {
      const FpduEvent ev = reader.feed(in);
      in = in.subspan(ev.consumed_bytes_);
      if (ev.kind_ == FpduEventKind::Complete) ++complete;
      if (ev.kind_ == FpduEventKind::Malformed) {
        state.SkipWithError("malformed FPDU");
        return;
      }
      benchmark::DoNotOptimize(ev.payload_.data());
    }
    if (complete != kFpdus) state.SkipWithError("lost an FPDU");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kFpdus);
  if (crc)
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kFpdus * payload_bytes);
  state.SetLabel(crc ? "crc" : "no crc");
}
BENCHMARK(BM_FpduDecode)->ArgsProduct({{64, 1024, 4096, 16384, 65000}, {1, 0}});

}  // namespace
}  // namespace softndk::wire

BENCHMARK_MAIN();
