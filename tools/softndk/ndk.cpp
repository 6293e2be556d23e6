// Implementation of ndk.h: bounded waits, closes, the adapter, the CQ wait strategies, memory.
#include "ndk.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace softndk::cli {

// ---------------------------------------------------------------------------------------------
// Errors and the wait policy

std::string status_text(NTSTATUS status) {
  char code[16];
  std::snprintf(code, sizeof code, "0x%08" PRIX32, static_cast<uint32_t>(status));
  std::string name = SoftNdkStatusName(status);
  if (name.rfind("STATUS_0x", 0) == 0) return name;
  return name + " (" + code + ")";
}

void throw_status(const std::string& what, NTSTATUS status) {
  throw Error(what + " failed: " + status_text(status), status);
}

namespace {
std::atomic<int64_t> g_timeout_ns{std::chrono::nanoseconds(std::chrono::seconds(10)).count()};
std::atomic<bool> g_stop{false};
std::atomic<bool> g_close_failed{false};
constexpr auto kStopCheck = std::chrono::milliseconds(100);
}  // namespace

void set_wait_timeout(Clock::duration timeout) {
  g_timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
}

Clock::duration wait_timeout() {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(g_timeout_ns.load()));
}

std::string timeout_text() {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", std::chrono::duration<double>(wait_timeout()).count());
  return text;
}

Clock::time_point deadline_from_now() { return Clock::now() + wait_timeout(); }

void request_stop() { g_stop.store(true); }
bool stop_requested() { return g_stop.load(std::memory_order_relaxed); }
void check_stop() {
  if (stop_requested()) throw Error("interrupted");
}

// ---------------------------------------------------------------------------------------------
// PendingCall

struct PendingCall::State {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  NTSTATUS status = STATUS_PENDING;
  NDK_OBJECT_HEADER* object = nullptr;
  void finish(NTSTATUS s, NDK_OBJECT_HEADER* o) {
    std::lock_guard lock(mutex);
    status = s;
    object = o;
    done = true;
    cv.notify_all();
  }
};

PendingCall::PendingCall() : state_(std::make_shared<State>()) {}

void* PendingCall::context() { return new std::shared_ptr<State>(state_); }

void PendingCall::forget(void* context) { delete static_cast<std::shared_ptr<State>*>(context); }

void PendingCall::on_request(void* context, NTSTATUS status) {
  std::unique_ptr<std::shared_ptr<State>> ref(static_cast<std::shared_ptr<State>*>(context));
  (*ref)->finish(status, nullptr);
}

void PendingCall::on_create(void* context, NTSTATUS status, NDK_OBJECT_HEADER* object) {
  std::unique_ptr<std::shared_ptr<State>> ref(static_cast<std::shared_ptr<State>*>(context));
  (*ref)->finish(status, object);
}

void PendingCall::on_close(void* context) {
  std::unique_ptr<std::shared_ptr<State>> ref(static_cast<std::shared_ptr<State>*>(context));
  (*ref)->finish(STATUS_SUCCESS, nullptr);
}

bool PendingCall::wait(bool stoppable) {
  const auto deadline = deadline_from_now();
  std::unique_lock lock(state_->mutex);
  while (!state_->done) {
    if (Clock::now() >= deadline || (stoppable && stop_requested())) return false;
    state_->cv.wait_for(lock, kStopCheck);
  }
  return true;
}

NTSTATUS PendingCall::status() const {
  std::lock_guard lock(state_->mutex);
  return state_->status;
}

NDK_OBJECT_HEADER* PendingCall::object() const {
  std::lock_guard lock(state_->mutex);
  return state_->object;
}

NTSTATUS run_request(const std::string& what, const RequestStart& start) {
  PendingCall call;
  void* context = call.context();
  NTSTATUS status = start(&PendingCall::on_request, context);
  if (status != STATUS_PENDING) {
    PendingCall::forget(context);
    return status;
  }
  if (!call.wait()) {
    check_stop();
    throw Error(what + ": no completion within " + timeout_text(), STATUS_IO_TIMEOUT);
  }
  return call.status();
}

void request(const std::string& what, const RequestStart& start) {
  NTSTATUS status = run_request(what, start);
  if (status != STATUS_SUCCESS) throw_status(what, status);
}

void close_object(void* object) {
  if (object == nullptr) return;
  // Every object but the adapter: { NDK_OBJECT_HEADER Header; const DISPATCH* Dispatch; } and
  // each dispatch table starts with its close function (ndkpi.md 1.4).
  auto* header = static_cast<NDK_OBJECT_HEADER*>(object);
  auto* dispatch = *reinterpret_cast<NDK_FN_CLOSE_OBJECT* const*>(static_cast<char*>(object) +
                                                                  sizeof(NDK_OBJECT_HEADER));
  PendingCall call;
  void* context = call.context();
  NTSTATUS status = dispatch[0](header, &PendingCall::on_close, context);
  if (status != STATUS_PENDING) {
    PendingCall::forget(context);
    return;
  }
  // A close never fails; only a provider that never completes it would keep us here. Wait
  // through a stop request too: leaving objects open would keep the adapter from closing.
  if (!call.wait(/*stoppable=*/false)) {
    std::fprintf(stderr, "softndk: closing an NDK object (type %d) did not complete within %s\n",
                 static_cast<int>(header->ObjectType), timeout_text().c_str());
    g_close_failed = true;
  }
}

bool close_failed() { return g_close_failed.load(); }

// ---------------------------------------------------------------------------------------------
// Adapter

std::string open_hint(NTSTATUS status) {
  switch (status) {
    case STATUS_NOT_SUPPORTED:
      return "the transport scheme is unknown or not built into this libsoftndk (see "
             "`softndk info` for the transports it has)";
    case STATUS_INVALID_PARAMETER:
      return "malformed URI, unknown option or invalid option value (README.md, \"Adapter "
             "URIs\")";
    case NDIS_STATUS_ADAPTER_NOT_READY:
      return "the transport cannot provide NDK service right now";
    case NDIS_STATUS_BAD_VERSION:
      return "NDKPI version not supported";
    case STATUS_INSUFFICIENT_RESOURCES:
      return "out of resources";
    default:
      return "";
  }
}

Adapter::Adapter(const std::string& uri) : uri_(uri) {
  NTSTATUS status = SoftNdkOpenAdapter(uri.c_str(), &adapter_);
  if (status != STATUS_SUCCESS) {
    std::string hint = open_hint(status);
    throw Error("cannot open adapter \"" + uri + "\": " + status_text(status) +
                    (hint.empty() ? "" : ": " + hint),
                status);
  }
  ULONG size = sizeof info_;
  status = adapter_->Dispatch->NdkQueryAdapterInfo(adapter_, &info_, &size);
  if (status != STATUS_SUCCESS) {
    SoftNdkCloseAdapter(adapter_);
    throw_status("NdkQueryAdapterInfo", status);
  }
}

Adapter::~Adapter() {
  if (close_failed()) {
    std::fprintf(stderr, "softndk: leaving adapter \"%s\" open (an object did not close)\n",
                 uri_.c_str());
    return;
  }
  SoftNdkCloseAdapter(adapter_);
}

SOFTNDK_ADAPTER_COUNTERS Adapter::counters() const {
  SOFTNDK_ADAPTER_COUNTERS counters{};
  ULONG size = sizeof counters;
  NTSTATUS status = SoftNdkQueryAdapterCounters(adapter_, &counters, &size);
  if (status != STATUS_SUCCESS) throw_status("SoftNdkQueryAdapterCounters", status);
  return counters;
}

// ---------------------------------------------------------------------------------------------
// Cq

Cq::Cq(Adapter& adapter, ULONG depth, bool notifications) : notifications_(notifications) {
  cq_.reset(create<NDK_CQ>("NdkCreateCq", [&](auto cb, void* ctx, NDK_CQ** out) {
    return adapter.d()->NdkCreateCq(adapter.get(), depth, &Cq::on_notification, this, nullptr,
                                    cb, ctx, out);
  }));
}

Cq::~Cq() { cq_.reset(); }

void Cq::on_notification(void* context, NTSTATUS status) {
  auto* self = static_cast<Cq*>(context);
  self->notification_count_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(self->mutex_);
  self->notified_ = true;
  if (status != STATUS_SUCCESS) self->error_ = status;
  self->cv_.notify_one();
}

ULONG Cq::poll(NDK_RESULT_EX* results, ULONG capacity) {
  return cq_->Dispatch->NdkGetCqResultsEx(cq_.get(), results, capacity);
}

ULONG Cq::wait(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline) {
  return notifications_ ? wait_notified(results, capacity, deadline)
                        : wait_polling(results, capacity, deadline);
}

ULONG Cq::wait_polling(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline) {
  for (uint32_t spins = 1;; ++spins) {
    ULONG n = poll(results, capacity);
    if (n != 0) return n;
    if ((spins & 1023) == 0) {
      check_stop();
      if (Clock::now() >= deadline) return 0;
      std::this_thread::yield();  // be fair when the cores are oversubscribed
    }
  }
}

ULONG Cq::wait_notified(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline) {
  for (;;) {
    ULONG n = poll(results, capacity);
    if (n != 0) return n;
    {
      std::lock_guard lock(mutex_);
      if (error_ != STATUS_SUCCESS) throw Error("CQ error notification: " + status_text(error_));
      notified_ = false;
    }
    // Arm, then poll once more: a completion that arrived between the poll and the arm is
    // either returned here or triggers the callback (ndkpi.md 4.1.2 rule 3).
    cq_->Dispatch->NdkArmCq(cq_.get(), NDK_CQ_NOTIFY_ANY);
    n = poll(results, capacity);
    if (n != 0) return n;
    std::unique_lock lock(mutex_);
    while (!notified_) {
      if (stop_requested()) {
        lock.unlock();
        check_stop();
      }
      auto now = Clock::now();
      if (now >= deadline) return 0;
      cv_.wait_until(lock, std::min(deadline, now + kStopCheck));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Memory

HostBuffer::HostBuffer(size_t bytes) : size_(bytes) {
  size_t rounded = (bytes + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
  if (rounded == 0) rounded = PAGE_SIZE;
  data_ = static_cast<std::byte*>(std::aligned_alloc(PAGE_SIZE, rounded));
  if (data_ == nullptr) throw Error("out of memory allocating " + std::to_string(bytes) + " bytes");
  std::memset(data_, 0, rounded);
}

HostBuffer::~HostBuffer() { std::free(data_); }

Region::Region(NDK_PD* pd, size_t bytes, ULONG flags) : buffer_(bytes) {
  mr_.reset(create<NDK_MR>("NdkCreateMr", [&](auto cb, void* ctx, NDK_MR** out) {
    return pd->Dispatch->NdkCreateMr(pd, FALSE, cb, ctx, out);
  }));
  SoftNdkInitializeMdl(&mdl_, buffer_.data(), bytes);
  request("NdkRegisterMr", [&](auto cb, void* ctx) {
    return mr_->Dispatch->NdkRegisterMr(mr_.get(), &mdl_, bytes, flags, cb, ctx);
  });
  local_token_ = mr_->Dispatch->NdkGetLocalTokenFromMr(mr_.get());
  remote_token_ = mr_->Dispatch->NdkGetRemoteTokenFromMr(mr_.get());
}

NDK_SGE Region::sge(size_t offset, size_t bytes) const {
  NDK_SGE sge{};
  sge.VirtualAddress = buffer_.data() + offset;
  sge.Length = static_cast<ULONG>(bytes);
  sge.MemoryRegionToken = local_token_;
  return sge;
}

}  // namespace softndk::cli
