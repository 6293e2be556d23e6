// Verifier mode (URI option verify=, environment variable SOFTNDK_VERIFY; docs/verifier.md):
// checks every NDKPI rule a consumer can break at the call that breaks it and reports it (the
// rule, the object, the call, a backtrace) to stderr and to the consumer's callback. It lives
// entirely at the ABI boundary: a verified adapter hands out the verified dispatch tables
// (verifier_dispatch.cpp), which check and then call the plain ones, so an adapter without the
// verifier runs exactly the code it ran before. The core tells the verifier about object
// lifetimes through core::ObjectObserver; retired objects stay in a quarantine until the
// adapter closes so that a stale pointer is detected instead of being a use after free.
//
// Locking: mutex_ guards the records; it is never held across a call into the core (which may
// call back into on_created/on_retired) nor across the consumer's report callback.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <softndk/softndk.h>

#include "core/adapter.h"
#include "core/object.h"

namespace softndk::abi {

enum class VerifyMode : uint8_t { Off = 0, Log = 1, Strict = 2 };

struct VerifyOptions {
  VerifyMode mode = VerifyMode::Off;
  bool checksum = false;
};

// "0|off", "1|log", "strict", each optionally followed by ",checksum". False when malformed.
bool parse_verify_options(const std::string& text, VerifyOptions* out);
// Takes "verify" out of the URI options, else reads SOFTNDK_VERIFY. False when malformed.
bool take_verify_options(std::map<std::string, std::string>* options, VerifyOptions* out);

const core::DispatchTables& verified_dispatch_tables();

// Raw return addresses, symbolized only when printed.
struct Backtrace {
  void* frames[24];
  int count = 0;
  static Backtrace capture(int skip);
  std::string text() const;
};

// A request whose completion the consumer has not retrieved yet.
struct Outstanding {
  void* context = nullptr;
  NDK_OPERATION_TYPE op = NdkOperationTypeSend;
  ULONG flags = 0;
  std::vector<NDK_SGE> sges;       // local SGEs of data requests (none for inline)
  bool checksummed = false;
  uint64_t checksum = 0;
  struct Record* target = nullptr;   // MR/MW of bind, fast-register, invalidate
  struct Record* bind_mr = nullptr;
  std::vector<int64_t> pages;      // fast-register page list (logical addresses)
  uint64_t sequence = 0;
};

// What the verifier knows about one object (kept until the adapter closes).
struct Record {
  enum class Life : uint8_t { Live, Closing, Retired };
  core::Object* object = nullptr;
  NDK_OBJECT_TYPE type = NdkObjectTypeUndefined;
  Life life = Life::Live;
  Backtrace created_at;
  Record* parent = nullptr;  // the PD of MRs, MWs, QPs and SRQs
  // QP
  void* consumer_context = nullptr;
  Record *receive_cq = nullptr, *initiator_cq = nullptr, *srq = nullptr;
  ULONG receive_depth = 0, initiator_depth = 0, receive_sge = 0, initiator_sge = 0,
        inline_bytes = 0;
  std::deque<Outstanding> sq, rq;  // rq also holds an SRQ's receives
  bool defer_open = false, defer_reported = false;
  uint64_t defer_thread = 0;
  Backtrace defer_at;
  std::atomic<uint64_t> initiator_guard{0}, receive_guard{0};
  // CQ (depth) and SRQ (depth, receive_sge)
  ULONG depth = 0;
  std::atomic<uint64_t> cq_guard{0}, moderation_guard{0};
  // MR: fast-register view (valid after a posted fast-register, invalid after an invalidate)
  bool fast = false, fr_valid = false;
  uint64_t fr_sequence = 0;
  // MW
  Record* bound_mr = nullptr;
  // Connector
  Record *connector_qp = nullptr, *listener = nullptr, *shared = nullptr;
  // Listener: the consumer's connect event, called through a trampoline
  NDK_FN_CONNECT_EVENT_CALLBACK connect_event = nullptr;
  void* connect_event_context = nullptr;
  class Verifier* verifier = nullptr;
};

class Verifier final : public core::ObjectObserver {
 public:
  Verifier(core::Adapter* adapter, VerifyOptions options);
  ~Verifier();
  static Verifier* of(core::Object* object);
  static Verifier* of_adapter(core::Adapter* adapter);

  VerifyMode mode() const { return options_.mode; }
  bool checksum() const { return options_.checksum; }
  core::Adapter* adapter() const { return adapter_; }
  const NDK_ADAPTER_INFO& info() const { return adapter_->info(); }
  void set_callback(SOFTNDK_VERIFIER_CALLBACK callback, void* context);

  // Reports a finding. Returns the status the call fails with in strict mode (`strict_status`
  // for errors, when it is not STATUS_SUCCESS), else STATUS_SUCCESS: the call proceeds.
  NTSTATUS report(SOFTNDK_VERIFIER_RULE rule, const char* call, const core::Object* object,
                  NTSTATUS strict_status, const std::string& message,
                  const Backtrace* where = nullptr);
  // Outside any adapter (SoftNdkOpenAdapter): logged and passed to the global callback.
  static NTSTATUS report_global(VerifyOptions options, SOFTNDK_VERIFIER_RULE rule,
                                const char* call, NTSTATUS strict_status,
                                const std::string& message);
  static void set_global_callback(SOFTNDK_VERIFIER_CALLBACK callback, void* context);
  // A finding on a call the core has already failed with `status`.
  void report_failed(SOFTNDK_VERIFIER_RULE rule, const char* call, const core::Object* object,
                     NTSTATUS status, const std::string& message);

  // Work requests (verifier_checks.cpp). `owner` is the QP or SRQ posted to.
  struct Request {
    const char* call;
    NDK_OPERATION_TYPE op;
    void* context;
    const NDK_SGE* sges;
    ULONG count;
    ULONG flags;
    bool receive;                   // NdkReceive / NdkSrqReceive
    core::Object* target = nullptr;  // MR/MW of bind, fast-register, invalidate
    core::Object* bind_mr = nullptr;
    const NDK_LOGICAL_ADDRESS* pages = nullptr;
    ULONG page_count = 0;
  };
  NTSTATUS check_post(core::Object* owner, const Request& request);
  void after_post(core::Object* owner, const Request& request, NTSTATUS status);
  // NdkFastRegister / NdkInvalidate targets; NdkDeregisterMr and MR close (qp null).
  NTSTATUS check_memory_op(core::Object* qp, const Request& request);
  NTSTATUS check_revoke(const char* call, core::Object* mr, bool closing);
  // Retrieved completions: QPContext back to the consumer's, requests no longer outstanding.
  void process_results(core::Object* cq, NDK_RESULT_EX* results, ULONG count, const char* call);
  // An open NDK_OP_FLAG_DEFER batch: at a poll/arm of its initiator CQ by the posting thread
  // (`cq`), or at a flush, disconnect or close of the QP (`qp`).
  void check_defer(core::Object* cq, core::Object* qp, const char* call);

  // core::ObjectObserver
  void on_created(core::Object* object) override;
  void on_retired(core::Object* object) override;
  void on_children_closed() override;

  // Records (verifier_records.cpp).
  std::mutex& mutex() { return mutex_; }
  Record* record_locked(const core::Object* object);
  // The record the next created object of `type` on this thread fills (create wrappers).
  static void expect_creation(Record* pending);
  // After the create: the record back when no object took it (a failed create), else null.
  static std::unique_ptr<Record> take_pending(Record* pending);
  Record* qp_record_from_context(void* context);  // under mutex_
  std::vector<Record*> records_locked(NDK_OBJECT_TYPE type);
  // Successors still open when `record` is closed: a description, "" when none.
  std::string open_successors_locked(const Record* record);
  // The depths of the queues completing into `cq` (an SRQ counted once).
  uint64_t cq_load_locked(const Record* cq);

  // LAMs (NdkBuildLAM / NdkReleaseLAM).
  void lam_built(const NDK_LOGICAL_ADDRESS_MAPPING* lam);
  bool lam_in_use(const NDK_LOGICAL_ADDRESS_MAPPING* lam, std::string* user);
  void lam_released(const NDK_LOGICAL_ADDRESS_MAPPING* lam);

  // Adapter close: reports every object still open (with where it was created), open deferred
  // batches and unreleased LAMs.
  void report_leaks();

 private:
  struct Lam {
    std::vector<int64_t> pages;
    Backtrace created_at;
  };
  core::Adapter* adapter_;
  VerifyOptions options_;
  std::mutex mutex_;
  std::unordered_map<const core::Object*, std::unique_ptr<Record>> records_;
  std::unordered_set<const void*> qp_contexts_;
  std::map<const void*, Lam> lams_;
  // Closed objects, newest last; the oldest is deleted beyond kQuarantineObjects.
  static constexpr size_t kQuarantineObjects = 4096;
  std::deque<core::Object*> quarantine_;
  uint64_t sequence_ = 0;  // orders posted requests (under mutex_)
  NTSTATUS report_impl(SOFTNDK_VERIFIER_RULE rule, const char* call, const core::Object* object,
                       NTSTATUS status, bool failed, const std::string& message,
                       const Backtrace* where);
  bool in_use_locked(const Record* mr, const core::Object* qp, bool fenced, std::string* user);
  void complete_initiator_locked(Record* qp, const NDK_RESULT_EX& result,
                                 std::vector<std::string>* modified);
  void complete_receive_locked(Record* qp, const NDK_RESULT_EX& result);
  std::mutex callback_mutex_;
  SOFTNDK_VERIFIER_CALLBACK callback_ = nullptr;
  void* callback_context_ = nullptr;
};

// A token identifying the calling thread (never 0).
uint64_t thread_token();

}  // namespace softndk::abi
