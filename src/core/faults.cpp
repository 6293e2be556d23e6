// Implementation of core/faults.h.
#include "core/faults.h"

#include <array>
#include <charconv>

#include "util/log.h"
#include "util/status.h"

namespace softndk::core {

namespace {

struct PointName {
  FaultPoint point;
  std::string_view name;
};

constexpr std::array<PointName, kFaultPointCount> kPoints = {{
    {FaultPoint::CreateCq, "call.create_cq"},
    {FaultPoint::CreatePd, "call.create_pd"},
    {FaultPoint::CreateMr, "call.create_mr"},
    {FaultPoint::CreateMw, "call.create_mw"},
    {FaultPoint::CreateSrq, "call.create_srq"},
    {FaultPoint::CreateQp, "call.create_qp"},
    {FaultPoint::CreateConnector, "call.create_connector"},
    {FaultPoint::CreateListener, "call.create_listener"},
    {FaultPoint::CreateSharedEndpoint, "call.create_shared_endpoint"},
    {FaultPoint::RegisterMr, "call.register_mr"},
    {FaultPoint::InitializeFastRegisterMr, "call.initialize_fast_register_mr"},
    {FaultPoint::Send, "call.send"},
    {FaultPoint::Receive, "call.receive"},
    {FaultPoint::Write, "call.write"},
    {FaultPoint::Read, "call.read"},
    {FaultPoint::Bind, "call.bind"},
    {FaultPoint::FastRegister, "call.fast_register"},
    {FaultPoint::Invalidate, "call.invalidate"},
    {FaultPoint::SrqReceive, "call.srq_receive"},
    {FaultPoint::Connect, "call.connect"},
    {FaultPoint::Accept, "call.accept"},
    {FaultPoint::Listen, "call.listen"},
    {FaultPoint::CompleteConnect, "call.complete_connect"},
    {FaultPoint::Disconnect, "call.disconnect"},
    {FaultPoint::BuildLam, "call.build_lam"},
    {FaultPoint::ResizeCq, "call.resize_cq"},
    {FaultPoint::ModerateCq, "call.moderate_cq"},
    {FaultPoint::OpenAdapter, "call.open_adapter"},
    {FaultPoint::ConnAbort, "conn.abort"},
    {FaultPoint::ConnDisconnect, "conn.disconnect"},
    {FaultPoint::ConnRefuse, "conn.refuse"},
    {FaultPoint::ConnTimeout, "conn.timeout"},
    {FaultPoint::ConnReject, "conn.reject"},
    {FaultPoint::DataCorrupt, "data.corrupt"},
    {FaultPoint::DataDrop, "data.drop"},
    {FaultPoint::DataDelay, "data.delay"},
    {FaultPoint::DataRnr, "data.rnr"},
    {FaultPoint::DataAccess, "data.access"},
    {FaultPoint::CqOverrun, "cq.overrun"},
    {FaultPoint::CqError, "cq.error"},
    {FaultPoint::SrqError, "srq.error"},
    {FaultPoint::PeerVanish, "peer.vanish"},
    {FaultPoint::PeerSilent, "peer.silent"},
}};

constexpr bool points_in_order() {
  for (size_t i = 0; i < kPoints.size(); ++i)
    if (static_cast<size_t>(kPoints[i].point) != i) return false;
  return true;
}
static_assert(points_in_order(), "one name per FaultPoint, in enum order");
static_assert(kFaultPointCount <= 64, "the watch mask is 64 bits");

constexpr uint32_t kDefaultPendMs = 10;

bool parse_u64(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_hex(std::string_view text, std::vector<std::byte>* out) {
  if (text.size() % 2 != 0) return false;
  out->clear();
  for (size_t i = 0; i < text.size(); i += 2) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + i + 2, value, 16);
    if (ec != std::errc() || end != text.data() + i + 2) return false;
    out->push_back(static_cast<std::byte>(value));
  }
  return true;
}

bool is_traffic_point(FaultPoint p) {
  return p == FaultPoint::ConnAbort || p == FaultPoint::ConnDisconnect ||
         (p >= FaultPoint::DataCorrupt && p <= FaultPoint::DataAccess) ||
         p == FaultPoint::PeerVanish || p == FaultPoint::PeerSilent;
}

}  // namespace

std::string_view to_string(FaultPoint point) {
  size_t i = static_cast<size_t>(point);
  return i < kPoints.size() ? kPoints[i].name : "?";
}

bool is_call_point(FaultPoint point) { return point <= FaultPoint::OpenAdapter; }

bool may_pend(FaultPoint point) {
  switch (point) {
    case FaultPoint::Send:
    case FaultPoint::Receive:
    case FaultPoint::Write:
    case FaultPoint::Read:
    case FaultPoint::Bind:
    case FaultPoint::FastRegister:
    case FaultPoint::Invalidate:
    case FaultPoint::SrqReceive:
      return false;  // posting calls complete through the CQ, never through STATUS_PENDING
    case FaultPoint::ModerateCq:  // NdkControlCqInterruptModeration never pends (NDKPI)
    case FaultPoint::OpenAdapter:  // the open is synchronous
      return false;
    default:
      return is_call_point(point);
  }
}

bool FaultPlan::check_transport(std::string_view transport, std::string* error) const {
  if (transport == "loopback") return true;
  for (const Rule& rule : rules_) {
    if (rule.point == FaultPoint::PeerSilent) {
      // A user-space link cannot stop its kernel from acknowledging (docs/faults.md): refused
      // rather than silently ignored; a stopped peer process is the tcp equivalent.
      *error = std::string(to_string(rule.point)) + " is not available on " +
               std::string(transport) + " yet";
      return false;
    }
    if (rule.point == FaultPoint::DataDrop || rule.point == FaultPoint::DataDelay ||
        rule.point == FaultPoint::PeerVanish) {
      *error = std::string(to_string(rule.point)) + " is not available on " +
               std::string(transport) +
               " (loopback only: a byte stream cannot lose or hold one message, and a peer "
               "process is killed from outside)";
      return false;
    }
  }
  return true;
}

NTSTATUS FaultPlan::parse(std::string_view spec, uint64_t seed, std::unique_ptr<FaultPlan>* out,
                          std::string* error) {
  auto plan = std::unique_ptr<FaultPlan>(new FaultPlan);
  plan->text_ = std::string(spec);
  plan->random_state_ = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  while (!spec.empty()) {
    size_t end = spec.find(';');
    std::string_view item = spec.substr(0, end);
    spec = end == std::string_view::npos ? std::string_view{} : spec.substr(end + 1);
    if (item.empty()) {
      *error = "empty rule";
      return STATUS_INVALID_PARAMETER;
    }
    Rule rule{};
    if (!parse_rule(item, &rule, error)) return STATUS_INVALID_PARAMETER;
    plan->mask_ |= uint64_t{1} << static_cast<unsigned>(rule.point);
    plan->rules_.push_back(std::move(rule));
  }
  if (plan->rules_.empty()) {
    *error = "no rule";
    return STATUS_INVALID_PARAMETER;
  }
  *out = std::move(plan);
  return STATUS_SUCCESS;
}

bool FaultPlan::parse_rule(std::string_view text, Rule* rule, std::string* error) {
  size_t at = text.find('@');
  size_t colon = text.find(':', at == std::string_view::npos ? 0 : at);
  std::string_view point = text.substr(0, std::min(at, colon));
  bool found = false;
  for (const PointName& p : kPoints) {
    if (p.name == point) {
      rule->point = p.point;
      found = true;
    }
  }
  if (!found) {
    *error = "unknown fault point '" + std::string(point) + "'";
    return false;
  }
  if (at != std::string_view::npos) {
    std::string_view trigger = text.substr(at + 1, colon == std::string_view::npos
                                                       ? std::string_view::npos
                                                       : colon - at - 1);
    if (!parse_trigger(trigger, rule, error)) return false;
  }
  if (colon != std::string_view::npos) return parse_action(text.substr(colon + 1), rule, error);
  if (is_call_point(rule->point)) rule->action.status = STATUS_INSUFFICIENT_RESOURCES;
  if (rule->point == FaultPoint::DataDelay) rule->action.delay_ms = kDefaultPendMs;
  return true;
}

bool FaultPlan::parse_trigger(std::string_view text, Rule* rule, std::string* error) {
  auto bad = [&] {
    *error = "bad trigger '" + std::string(text) + "' for " + std::string(to_string(rule->point));
    return false;
  };
  if (text.substr(0, 6) == "bytes=" || text.substr(0, 5) == "msgs=") {
    if (!is_traffic_point(rule->point)) return bad();
    bool bytes = text[0] == 'b';
    rule->trigger = bytes ? Trigger::AfterBytes : Trigger::AfterMessages;
    return parse_u64(text.substr(bytes ? 6 : 5), &rule->n) ? true : bad();
  }
  if (!text.empty() && text[0] == 'p') {
    std::string number(text.substr(1));
    char* end = nullptr;
    rule->probability = std::strtod(number.c_str(), &end);
    if (number.empty() || *end != '\0' || !(rule->probability > 0) || rule->probability > 1)
      return bad();
    rule->trigger = Trigger::Probability;
    return true;
  }
  bool from = !text.empty() && text.back() == '+';
  if (from) text.remove_suffix(1);
  if (!parse_u64(text, &rule->n) || rule->n == 0) return bad();
  rule->trigger = from ? Trigger::FromNth : Trigger::Nth;
  return true;
}

bool FaultPlan::parse_action(std::string_view text, Rule* rule, std::string* error) {
  FaultAction& action = rule->action;
  const FaultPoint p = rule->point;
  if (is_call_point(p) && text.substr(0, 4) == "pend") {
    if (!may_pend(p)) {
      *error = std::string(to_string(p)) +
               " cannot pend (posting calls, interrupt moderation and the adapter open never "
               "return STATUS_PENDING): fail it with a status instead";
      return false;
    }
    action.pend = true;
    action.delay_ms = kDefaultPendMs;
    if (text.size() == 4) return true;
    uint64_t ms = 0;
    if (text[4] == '=' && parse_u64(text.substr(5), &ms) && ms <= 600000) {
      action.delay_ms = static_cast<uint32_t>(ms);
      return true;
    }
  } else if (is_call_point(p) && util::status_from_name(text, &action.status) &&
             action.status != STATUS_SUCCESS && action.status != STATUS_PENDING) {
    return true;
  } else if (p == FaultPoint::DataDelay && text.substr(0, 3) == "ms=") {
    uint64_t ms = 0;
    if (parse_u64(text.substr(3), &ms) && ms <= 600000) {
      action.delay_ms = static_cast<uint32_t>(ms);
      return true;
    }
  } else if (p == FaultPoint::ConnReject && text.substr(0, 5) == "data=") {
    if (parse_hex(text.substr(5), &action.data)) return true;
  }
  *error = "bad action '" + std::string(text) + "' for " + std::string(to_string(p));
  return false;
}

double FaultPlan::next_random() {
  // splitmix64: reproducible from the seed, one step per probabilistic decision.
  uint64_t z = (random_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

bool FaultPlan::matches(Rule& rule, const TrafficSoFar* traffic) {
  ++rule.events;
  switch (rule.trigger) {
    case Trigger::Nth:
      if (rule.done || rule.events != rule.n) return false;
      rule.done = true;
      return true;
    case Trigger::FromNth:
      return rule.events >= rule.n;
    case Trigger::Probability:
      return next_random() < rule.probability;
    case Trigger::AfterBytes:
    case Trigger::AfterMessages: {
      if (rule.done || traffic == nullptr) return false;
      uint64_t so_far = rule.trigger == Trigger::AfterBytes ? traffic->bytes : traffic->messages;
      if (so_far < rule.n) return false;
      rule.done = true;
      return true;
    }
  }
  return false;
}

bool FaultPlan::fire(FaultPoint point, const void* object, const char* call, FaultAction* action,
                     const TrafficSoFar* traffic) {
  if (!watches(point)) return false;
  std::lock_guard lock(mutex_);
  // Every rule on the point counts the event; the first that matches fires.
  const Rule* fired = nullptr;
  for (Rule& rule : rules_) {
    if (rule.point == point && matches(rule, traffic) && fired == nullptr) fired = &rule;
  }
  if (fired == nullptr) return false;
  *action = fired->action;
  fired_.fetch_add(1, std::memory_order_relaxed);
  const bool fails = is_call_point(point) && !action->pend;
  SOFTNDK_LOG(Warn, "fault: %s (event %llu) fires on %p in %s%s%s",
              std::string(to_string(point)).c_str(),
              static_cast<unsigned long long>(fired->events), object, call, fails ? ": " : "",
              fails ? util::status_name(action->status) : "");
  return true;
}

}  // namespace softndk::core
