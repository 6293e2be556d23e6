// Implementation of abi/verifier.h: options, reports (stderr and callbacks), backtraces, the
// observer hooks (records, quarantine) and the leak report at adapter close.
#include "abi/verifier.h"

#include <cxxabi.h>
#include <execinfo.h>

#include <cstdlib>
#include <cstring>

#include "util/log.h"

namespace softndk::abi {

namespace {

struct RuleInfo {
  const char* name;
  ULONG severity;
  const char* reference;
};

// Indexed by SOFTNDK_VERIFIER_RULE.
const RuleInfo kRules[] = {
    {"?", SOFTNDK_VERIFY_ERROR, ""},
    {"close-order", SOFTNDK_VERIFY_WARNING, "NDKPI 1.3 (antecedents), NDK_FN_CLOSE_OBJECT"},
    {"closed-object", SOFTNDK_VERIFY_ERROR, "NDK_FN_CLOSE_OBJECT (no use after the close)"},
    {"closing-object", SOFTNDK_VERIFY_ERROR, "NDK_FN_CLOSE_OBJECT (no use after the close)"},
    {"queue-depth", SOFTNDK_VERIFY_ERROR, "NDK_FN_CREATE_QP / NDK_FN_CREATE_SRQ (queue depth)"},
    {"sge-limit", SOFTNDK_VERIFY_ERROR, "NDK_FN_CREATE_QP (MaxInitiator/ReceiveRequestSge)"},
    {"inline-limit", SOFTNDK_VERIFY_ERROR, "NDK_FN_SEND / NDK_FN_CREATE_QP (InlineDataSize)"},
    {"transfer-limit", SOFTNDK_VERIFY_ERROR, "NDK_ADAPTER_INFO (MaxTransferLength)"},
    {"create-limit", SOFTNDK_VERIFY_ERROR, "NDK_ADAPTER_INFO (object limits)"},
    {"cq-overrun-risk", SOFTNDK_VERIFY_WARNING, "NDK_FN_CQ_NOTIFICATION_CALLBACK (CQ overrun)"},
    {"concurrent-cq", SOFTNDK_VERIFY_ERROR, "NDK_FN_GET_CQ_RESULTS (one caller at a time)"},
    {"concurrent-post", SOFTNDK_VERIFY_ERROR, "NDKPI 4.3 (each queue posted serially)"},
    {"callback-context", SOFTNDK_VERIFY_ERROR, "PASSIVE_LEVEL functions (never from callbacks)"},
    {"defer-unflushed", SOFTNDK_VERIFY_ERROR, "NDK_OP_FLAG_DEFER (a chain ends without DEFER)"},
    {"buffer-modified", SOFTNDK_VERIFY_ERROR, "NDK_FN_SEND / NDK_FN_WRITE (buffers until completion)"},
    {"memory-in-use", SOFTNDK_VERIFY_ERROR, "NDK_SGE (memory valid until the completion)"},
    {"invalidate-registered-mr", SOFTNDK_VERIFY_ERROR, "NDK_FN_INVALIDATE"},
    {"fast-register-valid-mr", SOFTNDK_VERIFY_ERROR, "NDK_FN_FAST_REGISTER"},
    {"context-reuse", SOFTNDK_VERIFY_WARNING, "NDK_RESULT (RequestContext identifies a request)"},
    {"connection-state", SOFTNDK_VERIFY_ERROR, "NDK_FN_CONNECT / NDK_FN_ACCEPT / NDK_FN_DISCONNECT"},
    {"not-connected", SOFTNDK_VERIFY_ERROR, "NDKPI 2.9 (initiator requests need a connection)"},
    {"capability", SOFTNDK_VERIFY_ERROR, "NDK_ADAPTER_INFO (AdapterFlags, MaxSrqDepth)"},
    {"leak", SOFTNDK_VERIFY_ERROR, "NDKPI 1.6 (adapter close waits for every object)"},
};
constexpr size_t kRuleCount = sizeof(kRules) / sizeof(kRules[0]);

const char* type_name(NDK_OBJECT_TYPE type) {
  switch (type) {
    case NdkObjectTypeAdapter: return "adapter";
    case NdkObjectTypeQp: return "QP";
    case NdkObjectTypeCq: return "CQ";
    case NdkObjectTypeMr: return "MR";
    case NdkObjectTypeMw: return "MW";
    case NdkObjectTypePd: return "PD";
    case NdkObjectTypeSharedEndpoint: return "shared endpoint";
    case NdkObjectTypeConnector: return "connector";
    case NdkObjectTypeListener: return "listener";
    case NdkObjectTypeSrq: return "SRQ";
    default: return "object";
  }
}

std::mutex g_callback_mutex;
SOFTNDK_VERIFIER_CALLBACK g_callback = nullptr;
void* g_callback_context = nullptr;

thread_local Record* t_pending = nullptr;
thread_local char t_token_anchor;

// Logs the report and hands it to `callback` (or the global one).
void deliver(SOFTNDK_VERIFIER_REPORT& r, SOFTNDK_VERIFIER_CALLBACK callback, void* context) {
  auto level = r.Severity == SOFTNDK_VERIFY_ERROR ? util::LogLevel::Error : util::LogLevel::Warn;
  if (util::log_enabled(level)) {
    util::log(level, "verifier [%s] %s on %s %p: %s (%s)%s%s", r.RuleName, r.Call,
              type_name(r.ObjectType), r.Object, r.Message, r.Reference,
              r.Status != STATUS_SUCCESS ? "; strict: fails with " : "",
              r.Status != STATUS_SUCCESS ? SoftNdkStatusName(r.Status) : "");
    const char* line = r.Backtrace;
    while (*line != '\0') {
      const char* end = std::strchr(line, '\n');
      size_t n = end != nullptr ? static_cast<size_t>(end - line) : std::strlen(line);
      util::log(level, "    at %.*s", static_cast<int>(n), line);
      line += n + (end != nullptr ? 1 : 0);
    }
  }
  if (callback == nullptr) {
    std::lock_guard lock(g_callback_mutex);
    callback = g_callback;
    context = g_callback_context;
  }
  if (callback != nullptr) callback(context, &r);
}

}  // namespace

uint64_t thread_token() { return reinterpret_cast<uintptr_t>(&t_token_anchor); }

// ---------------------------------------------------------------------------------------------
// Options

bool parse_verify_options(const std::string& text, VerifyOptions* out) {
  VerifyOptions o;
  std::string mode = text;
  if (auto comma = text.find(','); comma != std::string::npos) {
    mode = text.substr(0, comma);
    if (text.substr(comma + 1) != "checksum") return false;
    o.checksum = true;
  }
  if (mode == "0" || mode == "off") {
    o.mode = VerifyMode::Off;
  } else if (mode == "1" || mode == "log") {
    o.mode = VerifyMode::Log;
  } else if (mode == "strict") {
    o.mode = VerifyMode::Strict;
  } else {
    return false;
  }
  *out = o;
  return true;
}

bool take_verify_options(std::map<std::string, std::string>* options, VerifyOptions* out) {
  *out = VerifyOptions{};
  if (auto it = options->find("verify"); it != options->end()) {
    bool ok = parse_verify_options(it->second, out);
    options->erase(it);
    return ok;
  }
  const char* env = std::getenv("SOFTNDK_VERIFY");
  if (env == nullptr || *env == '\0') return true;
  if (!parse_verify_options(env, out)) {
    SOFTNDK_LOG(Warn, "SOFTNDK_VERIFY='%s' is not log|strict|1|0[,checksum]: ignored", env);
    *out = VerifyOptions{};
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Backtraces

Backtrace Backtrace::capture(int skip) {
  Backtrace b;
  void* frames[32];
  int n = ::backtrace(frames, 32);
  for (int i = skip; i < n && b.count < 24; ++i) b.frames[b.count++] = frames[i];
  return b;
}

std::string Backtrace::text() const {
  std::string out;
  if (count == 0) return out;
  char** symbols = ::backtrace_symbols(frames, count);
  for (int i = 0; i < count; ++i) {
    std::string line = symbols != nullptr ? symbols[i] : "?";
    // "binary(mangled+0x1f) [0x...]": demangle the function name.
    size_t open = line.find('('), plus = line.find('+', open);
    if (open != std::string::npos && plus != std::string::npos && plus > open + 1) {
      std::string mangled = line.substr(open + 1, plus - open - 1);
      int status = 0;
      char* name = ::abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
      if (status == 0 && name != nullptr) line.replace(open + 1, plus - open - 1, name);
      std::free(name);
    }
    out += line;
    out += '\n';
  }
  std::free(symbols);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reports

Verifier::Verifier(core::Adapter* adapter, VerifyOptions options)
    : adapter_(adapter), options_(options) {}

Verifier::~Verifier() {
  for (core::Object* object : quarantine_) delete object;
}

Verifier* Verifier::of_adapter(core::Adapter* adapter) {
  return static_cast<Verifier*>(adapter->observer());
}

Verifier* Verifier::of(core::Object* object) {
  core::Adapter* adapter = object->type() == NdkObjectTypeAdapter
                               ? static_cast<core::Adapter*>(object)
                               : object->adapter();
  return of_adapter(adapter);
}

void Verifier::set_callback(SOFTNDK_VERIFIER_CALLBACK callback, void* context) {
  std::lock_guard lock(callback_mutex_);
  callback_ = callback;
  callback_context_ = context;
}

void Verifier::set_global_callback(SOFTNDK_VERIFIER_CALLBACK callback, void* context) {
  std::lock_guard lock(g_callback_mutex);
  g_callback = callback;
  g_callback_context = context;
}

NTSTATUS Verifier::report(SOFTNDK_VERIFIER_RULE rule, const char* call,
                          const core::Object* object, NTSTATUS strict_status,
                          const std::string& message, const Backtrace* where) {
  return report_impl(rule, call, object, strict_status, false, message, where);
}

void Verifier::report_failed(SOFTNDK_VERIFIER_RULE rule, const char* call,
                             const core::Object* object, NTSTATUS status,
                             const std::string& message) {
  report_impl(rule, call, object, status, true, message, nullptr);
}

NTSTATUS Verifier::report_impl(SOFTNDK_VERIFIER_RULE rule, const char* call,
                               const core::Object* object, NTSTATUS strict_status, bool failed,
                               const std::string& message, const Backtrace* where) {
  const RuleInfo& info = kRules[static_cast<size_t>(rule) < kRuleCount ? rule : 0];
  bool fails = failed || (options_.mode == VerifyMode::Strict &&
                          info.severity == SOFTNDK_VERIFY_ERROR && strict_status != STATUS_SUCCESS);
  std::string backtrace = where != nullptr ? where->text() : Backtrace::capture(3).text();
  SOFTNDK_VERIFIER_REPORT r{};
  r.Rule = rule;
  r.Severity = info.severity;
  r.RuleName = info.name;
  r.Reference = info.reference;
  r.Call = call;
  r.ObjectType = object != nullptr ? object->type() : NdkObjectTypeUndefined;
  r.Object = object != nullptr ? const_cast<core::Object*>(object)->header() : nullptr;
  r.Adapter = adapter_->as_public<NDK_ADAPTER>();
  r.Status = fails ? strict_status : STATUS_SUCCESS;
  r.Message = message.c_str();
  r.Backtrace = backtrace.c_str();
  SOFTNDK_VERIFIER_CALLBACK callback;
  void* context;
  {
    std::lock_guard lock(callback_mutex_);
    callback = callback_;
    context = callback_context_;
  }
  deliver(r, callback, context);
  return r.Status;
}

NTSTATUS Verifier::report_global(VerifyOptions options, SOFTNDK_VERIFIER_RULE rule,
                                 const char* call, NTSTATUS strict_status,
                                 const std::string& message) {
  const RuleInfo& info = kRules[rule];
  bool fails = options.mode == VerifyMode::Strict && info.severity == SOFTNDK_VERIFY_ERROR;
  std::string backtrace = Backtrace::capture(2).text();
  SOFTNDK_VERIFIER_REPORT r{};
  r.Rule = rule;
  r.Severity = info.severity;
  r.RuleName = info.name;
  r.Reference = info.reference;
  r.Call = call;
  r.Status = fails ? strict_status : STATUS_SUCCESS;
  r.Message = message.c_str();
  r.Backtrace = backtrace.c_str();
  deliver(r, nullptr, nullptr);
  return r.Status;
}

// ---------------------------------------------------------------------------------------------
// Observer hooks

void Verifier::expect_creation(Record* pending) { t_pending = pending; }

std::unique_ptr<Record> Verifier::take_pending(Record* pending) {
  // on_created took it (and owns it now) unless the core never built the object.
  if (t_pending != pending) return nullptr;
  t_pending = nullptr;
  return std::unique_ptr<Record>(pending);
}

void Verifier::on_created(core::Object* object) {
  std::unique_ptr<Record> record;
  if (t_pending != nullptr && t_pending->type == object->type()) {
    record.reset(t_pending);
    t_pending = nullptr;
  } else {
    record = std::make_unique<Record>();
    record->type = object->type();
  }
  record->object = object;
  record->created_at = Backtrace::capture(3);
  record->verifier = this;
  std::lock_guard lock(mutex_);
  if (record->type == NdkObjectTypeQp) qp_contexts_.insert(record.get());
  records_[object] = std::move(record);
}

void Verifier::on_retired(core::Object* object) {
  core::Object* oldest = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (Record* r = record_locked(object); r != nullptr) {
      r->life = Record::Life::Retired;
      r->sq.clear();
      r->rq.clear();
      r->defer_open = false;  // reported at the close
    }
    quarantine_.push_back(object);
    if (quarantine_.size() > kQuarantineObjects) {
      oldest = quarantine_.front();  // a stale pointer to it is no longer detected
      quarantine_.pop_front();
    }
  }
  delete oldest;  // outside mutex_: destructors may release transport connections
}

void Verifier::on_children_closed() {
  std::deque<core::Object*> quarantine;
  {
    std::lock_guard lock(mutex_);
    quarantine.swap(quarantine_);
  }
  // Deleted on the closing thread while the event thread still runs (their destructors may
  // release transport connections).
  for (core::Object* object : quarantine) delete object;
}

// ---------------------------------------------------------------------------------------------
// Leaks

void Verifier::report_leaks() {
  struct Leak {
    core::Object* object;
    std::string message;
    Backtrace where;
    SOFTNDK_VERIFIER_RULE rule;
  };
  std::vector<Leak> leaks;
  {
    std::lock_guard lock(mutex_);
    for (auto& [object, r] : records_) {
      if (r->life == Record::Life::Retired) continue;
      std::string what = std::string(type_name(r->type)) +
                         (r->life == Record::Life::Closing ? " whose close is still pending"
                                                           : " still open");
      leaks.push_back({r->object, what + " at adapter close (created at the backtrace below)",
                       r->created_at, SOFTNDK_VERIFY_LEAK});
      if (r->defer_open) {
        leaks.push_back({r->object,
                         "a NDK_OP_FLAG_DEFER batch was never ended by a request without DEFER "
                         "(detected at adapter close; first deferred request below)",
                         r->defer_at, SOFTNDK_VERIFY_DEFER_UNFLUSHED});
      }
    }
    for (auto& [context, lam] : lams_) {
      leaks.push_back({adapter_, "a logical address mapping (NdkBuildLAM) was never released "
                                 "with NdkReleaseLAM (built at the backtrace below)",
                       lam.created_at, SOFTNDK_VERIFY_LEAK});
    }
  }
  for (Leak& leak : leaks)
    report(leak.rule, "SoftNdkCloseAdapter", leak.object, STATUS_SUCCESS, leak.message,
           &leak.where);
}

}  // namespace softndk::abi
