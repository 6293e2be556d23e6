// Protection domain and the objects that live in it besides queue pairs: memory regions
// (normal and fast-register), memory windows and shared receive queues (NDKPI NDK_FN_CREATE_MR, NDK_FN_CREATE_MW, NDK_FN_CREATE_SRQ).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "core/adapter.h"
#include "core/dispatcher.h"
#include "core/object.h"
#include "util/spin_lock.h"

namespace softndk::core {

class Pd final : public Object {
 public:
  explicit Pd(Adapter* adapter);
  uint32_t privileged_token() const { return privileged_token_; }

 private:
  void on_destroy() override;
  uint32_t privileged_index_;
  uint32_t privileged_token_;
};

class Mr final : public Object {
 public:
  enum class State { Created, Registered, FastInitialized };
  Mr(Pd* pd, bool fast_register, uint32_t stag_index);

  Pd* pd() const { return pd_; }
  bool fast_register() const { return fast_; }
  NTSTATUS register_memory(MDL* mdl, SIZE_T length, ULONG flags,
                           NDK_FN_REQUEST_COMPLETION completion, void* context);
  NTSTATUS deregister(NDK_FN_REQUEST_COMPLETION completion, void* context);
  NTSTATUS initialize_fast(ULONG page_count, bool remote_access,
                           NDK_FN_REQUEST_COMPLETION completion, void* context);
  // The STag consumers use (local and remote token are the same value).
  uint32_t token() const { return token_.load(std::memory_order_acquire); }
  uint32_t stag_index() const { return stag_index_; }
  State state() const { return state_.load(std::memory_order_acquire); }
  uint32_t max_pages() const { return max_pages_; }
  bool remote_access_allowed() const { return remote_access_; }
  // Registered range, valid in State::Registered.
  uint64_t base() const { return base_; }
  uint64_t length() const { return length_; }
  uint32_t access() const { return access_; }

  // Fast-register support, used by the queue pair at post and execution time.
  uint32_t next_fast_token();  // picks the STag of the next registration
  std::vector<std::byte*>& page_storage() { return pages_; }

 private:
  static NTSTATUS check_creatable(Pd* pd);
  void on_close() override;
  void on_destroy() override;

  Pd* pd_;
  bool fast_;
  uint32_t stag_index_;
  std::atomic<uint32_t> token_{0};
  std::atomic<State> state_{State::Created};
  uint64_t base_ = 0;
  uint64_t length_ = 0;
  uint32_t access_ = 0;
  uint32_t max_pages_ = 0;
  bool remote_access_ = false;
  std::vector<std::byte*> pages_;
};

class Mw final : public Object {
 public:
  Mw(Pd* pd, uint32_t stag_index);
  Pd* pd() const { return pd_; }
  uint32_t token() const { return token_.load(std::memory_order_acquire); }
  uint32_t stag_index() const { return stag_index_; }
  // At bind post time: the new token, and the MR becomes the window's antecedent.
  uint32_t prepare_bind(Mr* mr);

 private:
  void on_destroy() override;
  Pd* pd_;
  uint32_t stag_index_;
  std::atomic<uint32_t> token_{0};
  std::mutex mr_mutex_;
  Mr* bound_mr_ = nullptr;  // referenced while set
};

// A receive request as queued on a receive queue or SRQ.
struct ReceiveWr {
  void* context = nullptr;
  uint32_t sge_count = 0;
  uint64_t capacity = 0;  // sum of SGE lengths
  NDK_SGE* sges = nullptr;
};

class Srq final : public Object {
 public:
  static NTSTATUS create(Pd* pd, ULONG depth, ULONG max_sge, ULONG threshold,
                         NDK_FN_SRQ_NOTIFICATION_CALLBACK callback, void* context, Srq** out);
  Pd* pd() const { return pd_; }
  NTSTATUS post(void* context, const NDK_SGE* sges, ULONG count);
  NTSTATUS modify(ULONG depth, ULONG threshold, NDK_FN_REQUEST_COMPLETION completion,
                  void* context);
  // Takes the oldest receive (any queue pair's receive path). False when none is posted, or
  // when the SRQ has failed.
  bool take(ReceiveWr* out, NDK_SGE* sge_buffer);
  // A fatal SRQ error (fault srq.error; NDK_FN_SRQ_NOTIFICATION_CALLBACK: STATUS_INTERNAL_ERROR):
  // the SRQ and every queue pair using it are unusable, its receives never complete.
  bool failed() const { return failed_.load(std::memory_order_acquire); }

 private:
  Srq(Pd* pd, ULONG depth, ULONG max_sge, ULONG threshold, NDK_FN_SRQ_NOTIFICATION_CALLBACK cb,
      void* context);
  void on_destroy() override;
  static void run_notification(Task* task);
  void schedule_locked(NTSTATUS status = STATUS_SUCCESS);
  bool error_fault_locked();  // srq.error fires at this take: the SRQ fails

  Pd* pd_;
  util::SpinLock lock_;
  uint32_t depth_;
  uint32_t max_sge_;
  std::vector<ReceiveWr> ring_;
  std::vector<NDK_SGE> sge_storage_;
  uint64_t head_ = 0;
  uint64_t tail_ = 0;
  uint32_t threshold_;
  bool armed_;
  std::atomic<bool> failed_{false};           // set once, under lock_
  NTSTATUS notify_status_ = STATUS_SUCCESS;   // of the queued notification (under lock_)
  NDK_FN_SRQ_NOTIFICATION_CALLBACK callback_;
  void* callback_context_;
  struct NotifyTask : Task {
    Srq* srq;
  } notify_task_;
};

}  // namespace softndk::core
