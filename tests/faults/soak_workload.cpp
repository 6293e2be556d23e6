// Implementation of soak_workload.h.
#include "soak_workload.h"

#include <cstdio>
#include <cstdlib>

namespace faulttest {
namespace {

// One random rule: loopback may use every point, tcp the ones it implements.
std::string random_rule(std::mt19937_64& rng, bool loopback) {
  auto n = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const std::vector<std::string> common = {
      "call.send@p0.1:INSUFFICIENT_RESOURCES", "call.write@" + std::to_string(n(1, 20)) + ":IO_TIMEOUT",
      "call.read@" + std::to_string(n(1, 10)), "call.receive@p0.05:INVALID_DEVICE_STATE",
      "conn.abort@msgs=" + std::to_string(n(0, 40)),
      "conn.disconnect@msgs=" + std::to_string(n(0, 40)),
      "data.rnr@" + std::to_string(n(1, 30)), "data.access@" + std::to_string(n(1, 20)),
      "cq.overrun@" + std::to_string(n(1, 60)), "data.corrupt@" + std::to_string(n(1, 30))};
  const std::vector<std::string> loopback_only = {
      "data.drop@" + std::to_string(n(1, 30)),
      "data.delay@" + std::to_string(n(1, 30)) + ":ms=" + std::to_string(n(1, 5)),
      "peer.vanish@msgs=" + std::to_string(n(0, 40)),
      "peer.silent@msgs=" + std::to_string(n(0, 40))};
  size_t total = common.size() + (loopback ? loopback_only.size() : 0);
  size_t pick = std::uniform_int_distribution<size_t>(0, total - 1)(rng);
  return pick < common.size() ? common[pick] : loopback_only[pick - common.size()];
}

std::string hex(uintptr_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

uint64_t env_count(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

SoakPlan draw_plan(std::mt19937_64& rng, bool loopback) {
  SoakPlan p;
  p.plan = random_rule(rng, loopback);
  if (rng() % 2 == 0) p.plan += ";" + random_rule(rng, loopback);
  p.on_active = rng() % 2 == 0;
  return p;
}

SoakSide::SoakSide(const char* name, PdCqFixture* node, NDK_QP* qp, NDK_CONNECTOR* connector,
                   Region* local, SoakRemote remote, uintptr_t first_context)
    : name_(name), node_(node), qp_(qp), connector_(connector), local_(local), remote_(remote),
      next_context_(first_context) {}

void SoakSide::track(NTSTATUS status, uintptr_t context) {
  if (status == STATUS_SUCCESS) expected_.insert(context);
}

void SoakSide::post_receives(int count) {
  for (int i = 0; i < count; ++i) {
    uintptr_t c = next_context_++;
    track(post_receive(qp_, *local_, 32768 + (i % 16) * 1024, 1024, ctx(c)), c);
  }
}

void SoakSide::post_random(std::mt19937_64& rng) {
  uintptr_t c = next_context_++;
  const ULONG bytes = 1 + static_cast<ULONG>(rng() % 1024);
  const size_t at = rng() % 16 * 1024;
  NDK_SGE sge = local_->sge(at, bytes);
  switch (rng() % 4) {
    case 0:
    case 1:
      track(post_send(qp_, *local_, at, bytes, ctx(c)), c);
      break;
    case 2:  // into the peer's [16 KiB, 32 KiB): nothing else there is read or written
      track(qp_->Dispatch->NdkWrite(qp_, ctx(c), &sge, 1, remote_.base + 16384 + at,
                                    remote_.token, 0), c);
      break;
    default: {  // from the peer's sources [0, 16 KiB) into our [48 KiB, 64 KiB)
      NDK_SGE sink = local_->sge(49152 + at, bytes);
      track(qp_->Dispatch->NdkRead(qp_, ctx(c), &sink, 1, remote_.base + at, remote_.token, 0),
            c);
      break;
    }
  }
}

void SoakSide::collect(SoakTotals* totals) {
  auto overran = [&] { return counters(node_->get()).CqErrors != 0; };
  wait_until([&] {
    NDK_RESULT_EX r[32];
    ULONG n = node_->cq.poll(r, 32);
    for (ULONG i = 0; i < n; ++i) {
      auto c = reinterpret_cast<uintptr_t>(r[i].RequestContext);
      if (expected_.count(c) == 0) violation("completion of a request never posted: " + hex(c));
      if (!completed_.insert(c).second) violation("request " + hex(c) + " completed twice");
    }
    return completed_.size() >= expected_.size() || overran();
  });
  totals->requests += expected_.size();
  totals->completions += completed_.size();
  totals->faults += faults_injected(node_->get());
  if (overran()) {
    ++totals->overruns;
    return;
  }
  size_t missing = 0;
  for (uintptr_t c : expected_) missing += completed_.count(c) == 0 ? 1 : 0;
  if (missing != 0)
    violation(std::to_string(missing) + " of " + std::to_string(expected_.size()) +
              " requests posted never completed (within the wait bound)");
}

void SoakSide::close_connector() {
  if (!node_->close(connector_)) violation("the close of the connector failed");
  connector_ = nullptr;
}

void SoakSide::close_qp() {
  if (!node_->close(qp_)) violation("the close of the queue pair failed");
  qp_ = nullptr;
}

void SoakSide::check_nothing_after_close() {
  NDK_RESULT_EX r;
  if (node_->cq.poll(&r, 1) != 0)
    violation("request " + hex(reinterpret_cast<uintptr_t>(r.RequestContext)) +
              " completed after its queue pair closed");
}

}  // namespace faulttest
