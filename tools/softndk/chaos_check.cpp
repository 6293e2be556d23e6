// The checker and the guarded memory of `softndk chaos` (chaos.h): every completion is judged
// the moment it is polled, and memory that nothing may write is compared against its pattern.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "chaos.h"
#include "errors.h"

namespace softndk::cli::chaos {

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::Receive: return "receive";
    case Kind::Send: return "send";
    case Kind::Write: return "write";
    case Kind::Read: return "read";
    case Kind::FastRegister: return "fast-register";
    case Kind::InvalidateMr: return "invalidate (MR)";
    case Kind::Bind: return "bind";
    case Kind::InvalidateMw: return "invalidate (window)";
  }
  return "?";
}

const char* side_name(int side) { return side == 0 ? "active" : "passive"; }

namespace {

std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%" PRIx64, value);
  return text;
}

// The completion type a successful request of `kind` reports.
bool type_fits(Kind kind, NDK_OPERATION_TYPE type) {
  switch (kind) {
    case Kind::Receive:
      return type == NdkOperationTypeReceive || type == NdkOperationTypeReceiveAndInvalidate;
    case Kind::Send: return type == NdkOperationTypeSend;
    case Kind::Write: return type == NdkOperationTypeWrite;
    case Kind::Read: return type == NdkOperationTypeRead;
    case Kind::FastRegister: return type == NdkOperationTypeFastRegister;
    case Kind::Bind: return type == NdkOperationTypeBind;
    case Kind::InvalidateMr:
    case Kind::InvalidateMw: return type == NdkOperationTypeInvalidate;
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Checker

std::string Checker::describe(const Request& r) const {
  return "request " + hex(r.id) + " (" + kind_name(r.kind) + " on the " + side_name(r.side) +
         " side's QP)";
}

void Checker::violation(const std::string& text) {
  if (result_->violations.size() < kMaxListedViolations) result_->violations.push_back(text);
  ++result_->violation_count;
  std::fprintf(stderr, "softndk chaos: seed %" PRIu64 ": %s\n", seed_, text.c_str());
}

void* Checker::begin(int side, Kind kind, uint32_t slot) {
  Request r;
  r.id = next_id_++;
  r.kind = kind;
  r.side = side;
  r.slot = slot;
  requests_.emplace(r.id, r);
  ++result_->requests;
  return reinterpret_cast<void*>(static_cast<uintptr_t>(r.id));
}

void Checker::posted(void* context, NTSTATUS status) {
  Request& r = requests_.at(reinterpret_cast<uintptr_t>(context));
  r.status = status;
  if (status == STATUS_SUCCESS) {
    r.state = Request::State::Outstanding;
    ++outstanding_[r.side];
    ++result_->posted;
  } else {
    r.state = Request::State::FailedInline;
    ++result_->failed_inline;
  }
}

const Request* Checker::complete(int side, const NDK_RESULT_EX& result) {
  ++result_->completions;
  const std::string where = std::string("on the ") + side_name(side) + " side's CQ";
  const std::string status = status_text(result.Status);
  auto it = requests_.find(reinterpret_cast<uintptr_t>(result.RequestContext));
  if (it == requests_.end()) {
    violation("a completion " + where + " carries RequestContext " +
              hex(reinterpret_cast<uintptr_t>(result.RequestContext)) +
              ", which no request was posted with (status " + status + ")");
    return nullptr;
  }
  Request& r = it->second;
  const std::string what = describe(r);
  if (r.side != side) {
    violation(what + " completed " + where + " instead (status " + status + ")");
    return nullptr;
  }
  if (qp_closed_[side]) {
    violation(what + " completed after its QP was closed (status " + status + ")");
    return nullptr;
  }
  if (result.QPContext != qp_context_[side])
    violation(what + " completed with QPContext " +
              hex(reinterpret_cast<uintptr_t>(result.QPContext)) + ", expected its QP's " +
              hex(reinterpret_cast<uintptr_t>(qp_context_[side])));
  switch (r.state) {
    case Request::State::FailedInline:
      violation(what + " completed (" + status + ") though its post failed inline with " +
                status_text(r.status) + ": a failed post must never complete");
      return nullptr;
    case Request::State::Completed:
      violation(what + " completed twice: first " + status_text(r.status) + ", again " + status +
                "; every request completes exactly once");
      return nullptr;
    case Request::State::Posting:
      violation(what + " completed before its post returned");
      return nullptr;
    case Request::State::Outstanding: break;
  }
  r.state = Request::State::Completed;
  r.status = result.Status;
  --outstanding_[side];
  if (result.Status == STATUS_SUCCESS && !type_fits(r.kind, result.Type))
    violation(what + " completed successfully with operation type " +
              std::to_string(static_cast<int>(result.Type)) + ", not a " + kind_name(r.kind));
  return &r;
}

void Checker::report_missing(int side, const std::string& after) {
  for (const auto& [id, r] : requests_)
    if (r.side == side && r.state == Request::State::Outstanding)
      violation(describe(r) + " was posted successfully but never completed " + after);
}

// ---------------------------------------------------------------------------------------------
// Guard pages: a fault inside one ends the process with a message naming it and the replay.

namespace {

struct Guard {
  std::atomic<uintptr_t> begin{0};  // the mapping: guard, data, guard
  std::atomic<uintptr_t> end{0};
  char owner[64] = {};
};
constexpr int kGuards = 8;
Guard g_guards[kGuards];
std::atomic<uint64_t> g_seed{0};
std::atomic<bool> g_handler_installed{false};

// Async-signal-safe output of a text and a number.
void put(const char* text) { (void)!write(STDERR_FILENO, text, std::strlen(text)); }
void put_number(uint64_t value, int base) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[value % base];
    value /= base;
  } while (value != 0);
  char text[26];
  int at = 0;
  if (base == 16) {
    text[at++] = '0';
    text[at++] = 'x';
  }
  while (n > 0) text[at++] = digits[--n];
  text[at] = '\0';
  put(text);
}

void on_segv(int number, siginfo_t* info, void*) {
  const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
  for (Guard& g : g_guards) {
    const uintptr_t begin = g.begin.load(), end = g.end.load();
    if (begin == 0 || address < begin || address >= end) continue;
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const bool before = address < begin + page;
    if (!before && address < end - page) continue;  // the data itself: not a guard fault
    put("softndk chaos: seed ");
    put_number(g_seed.load(), 10);
    put(": an access landed in the guard page ");
    put(before ? "before " : "after ");
    put(g.owner);
    put(" (address ");
    put_number(address, 16);
    put("), outside every granted region\nsoftndk chaos: replay: softndk chaos --seed ");
    put_number(g_seed.load(), 10);
    put(" --schedules 1 (and the same other options)\n");
    _exit(1);
  }
  // Not ours: the default action, on the same access again.
  signal(number, SIG_DFL);
}

void install_segv_handler() {
  if (g_handler_installed.exchange(true)) return;
  struct sigaction action {};
  action.sa_sigaction = &on_segv;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, nullptr);
  sigaction(SIGBUS, &action, nullptr);
}

}  // namespace

void set_guard_context(uint64_t seed) { g_seed.store(seed); }

// ---------------------------------------------------------------------------------------------
// GuardedMemory

GuardedMemory::GuardedMemory(size_t bytes, uint8_t salt, std::string owner)
    : salt_(salt), owner_(std::move(owner)) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_ = (bytes + page - 1) / page * page;
  mapping_bytes_ = size_ + 2 * page;
  void* mapping =
      mmap(nullptr, mapping_bytes_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) throw Error("mmap of " + std::to_string(mapping_bytes_) + " bytes failed");
  mapping_ = static_cast<std::byte*>(mapping);
  data_ = mapping_ + page;
  if (mprotect(data_, size_, PROT_READ | PROT_WRITE) != 0) {
    munmap(mapping_, mapping_bytes_);
    throw Error("mprotect of the chaos memory failed");
  }
  for (size_t i = 0; i < size_; ++i) data_[i] = static_cast<std::byte>(pattern(i));
  allowed_.assign(size_, 0);
  reported_.assign(size_, 0);
  install_segv_handler();
  for (int i = 0; i < kGuards; ++i) {
    Guard& g = g_guards[i];
    if (g.begin.load() != 0) continue;
    std::snprintf(g.owner, sizeof g.owner, "%s", owner_.c_str());
    g.end.store(reinterpret_cast<uintptr_t>(mapping_) + mapping_bytes_);
    g.begin.store(reinterpret_cast<uintptr_t>(mapping_));
    guard_slot_ = i;
    break;
  }
}

GuardedMemory::~GuardedMemory() {
  if (guard_slot_ >= 0) {
    g_guards[guard_slot_].begin.store(0);
    g_guards[guard_slot_].end.store(0);
  }
  munmap(mapping_, mapping_bytes_);
}

void GuardedMemory::allow(size_t offset, size_t bytes) {
  if (offset >= size_) return;
  std::memset(allowed_.data() + offset, 1, std::min(bytes, size_ - offset));
}

void GuardedMemory::check(Checker& checker, std::string (*area)(size_t offset)) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(data_);
  auto changed = [&](size_t i) {
    return allowed_[i] == 0 && reported_[i] == 0 && bytes[i] != pattern(i);
  };
  for (size_t i = 0; i < size_; ++i) {
    if (!changed(i)) continue;
    size_t end = i;
    while (end < size_ && changed(end)) reported_[end++] = 1;
    char detail[96];
    std::snprintf(detail, sizeof detail, "holds 0x%02x where its pattern is 0x%02x", bytes[i],
                  pattern(i));
    checker.violation(owner_ + ": " + std::to_string(end - i) + " byte(s) at offset " +
                      std::to_string(i) + " (" + area(i) + ") changed, but no request was " +
                      "allowed to write there (the first " + detail + ")");
    i = end;
  }
}

}  // namespace softndk::cli::chaos
