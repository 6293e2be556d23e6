// A real core adapter over the fake transport (fake_link.h), driven through the public NDK
// dispatch tables: one adapter, PD, CQ (receive and initiator) and QP, connected as the active
// or the passive side with chosen read limits and RTR, plus memory, completion and counter
// helpers. Every wait is bounded (kWaitTimeout). The peer is the test, through FakeLink.
#pragma once

#include <gtest/gtest.h>

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "fake_link.h"

namespace softndk::test {

// NTSTATUS names in gtest messages.
inline std::string status_name(NTSTATUS status) {
  return SoftNdkStatusName(status);
}
#define EXPECT_STATUS(expected, actual) \
  EXPECT_EQ(::softndk::test::status_name(expected), ::softndk::test::status_name(actual))
#define ASSERT_STATUS(expected, actual) \
  ASSERT_EQ(::softndk::test::status_name(expected), ::softndk::test::status_name(actual))

// Polls pred() until it holds; false on timeout.
bool wait_until(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = kWaitTimeout);

// NDK's "returns inline, or STATUS_PENDING and calls back": one request's final status.
class AsyncCall {
 public:
  AsyncCall();
  ~AsyncCall();
  AsyncCall(const AsyncCall&) = delete;
  AsyncCall& operator=(const AsyncCall&) = delete;
  static void request_done(void* context, NTSTATUS status);
  static void create_done(void* context, NTSTATUS status, NDK_OBJECT_HEADER* object);
  static void close_done(void* context);
  void* context();  // pass with one of the callbacks above, once
  // `returned` when it is not STATUS_PENDING, else the callback's status (STATUS_IO_TIMEOUT and
  // a test failure when it does not come in time).
  NTSTATUS wait(NTSTATUS returned, std::chrono::milliseconds timeout = kWaitTimeout);
  NDK_OBJECT_HEADER* object() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::shared_ptr<State>* holder_ = nullptr;  // handed to the provider; the callback frees it
};

// Closes any NDK object (slot 0 of its dispatch table), waiting for a pending close.
bool close_ndk_object(void* object);

// Page-aligned host memory with an MDL.
class HostBuffer {
 public:
  explicit HostBuffer(size_t bytes, std::byte fill = std::byte{0});
  ~HostBuffer();
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  MDL* mdl() { return &mdl_; }

 private:
  std::byte* data_;
  size_t size_;
  MDL mdl_;
};

// A memory region registered with NdkRegisterMr over its own HostBuffer.
struct Region {
  Region(NDK_PD* pd, size_t bytes, ULONG flags, std::byte fill);
  ~Region();
  HostBuffer buffer;
  NDK_MR* mr = nullptr;
  NTSTATUS status = STATUS_UNSUCCESSFUL;
  UINT32 token() const { return mr->Dispatch->NdkGetRemoteTokenFromMr(mr); }
  uint64_t address(size_t offset = 0) const {
    return reinterpret_cast<uintptr_t>(buffer.data()) + offset;
  }
  std::span<std::byte> bytes(size_t offset, size_t length) const {
    return {buffer.data() + offset, length};
  }
  NDK_SGE sge(size_t offset, ULONG length) const;
};

// How the connection is set up: what our consumer asks (NdkConnect / NdkAcceptEx) and what the
// peer offers, and the RTR the startup negotiated.
struct ConnectOptions {
  wire::Rtr rtr = wire::Rtr::None;
  ULONG ird = 8, ord = 8;            // our consumer's inbound / outbound read limits
  ULONG peer_ird = 8, peer_ord = 8;  // the peer's (request or reply)
  bool establish = true;             // passive: deliver on_established right after accept
};

class CoreRig {
 public:
  struct Options {
    ULONG depth = 32;  // receive and initiator queue depth
    ULONG sge = 4;
    ULONG inline_bytes = 64;
    ULONG cq_depth = 512;
    std::map<std::string, std::string> adapter_options;
  };
  CoreRig() : CoreRig(Options{}) {}
  explicit CoreRig(Options options);
  ~CoreRig();
  CoreRig(const CoreRig&) = delete;
  CoreRig& operator=(const CoreRig&) = delete;

  // True when the adapter, PD, CQ and QP exist.
  bool ok() const { return qp != nullptr; }

  // We connect (NdkConnect); the peer replies with its limits and `setup.rtr`; we complete.
  ::testing::AssertionResult connect_active(const ConnectOptions& setup = {});
  // A peer connects to our listener with its limits and `setup.rtr`; we accept; the ready leg
  // arrives (on_established) unless setup.establish is false (then call establish()).
  ::testing::AssertionResult connect_passive(const ConnectOptions& setup = {});
  ::testing::AssertionResult establish();

  FakeConnection& connection() { return *connection_; }
  FakeLink& link() { return connection_->fake_link(); }

  // Objects (public: tests call the dispatch tables directly).
  FakeTransport* transport = nullptr;
  NDK_ADAPTER* adapter = nullptr;
  NDK_PD* pd = nullptr;
  NDK_CQ* cq = nullptr;
  NDK_QP* qp = nullptr;
  NDK_CONNECTOR* connector = nullptr;
  NDK_LISTENER* listener = nullptr;
  const NDK_QP_DISPATCH* q() const { return qp->Dispatch; }

  // Another PD of this adapter (closed by the rig, after the QP).
  NDK_PD* create_pd();
  // A memory window of `in_pd` (default: ours), closed by the rig.
  NDK_MW* create_mw(NDK_PD* in_pd = nullptr);
  std::unique_ptr<Region> region(size_t bytes, ULONG flags, NDK_PD* in_pd = nullptr,
                                 std::byte fill = std::byte{0});
  // Hands a region to the rig, which closes it after the windows (an MR close waits for the
  // windows bound to it, docs/architecture.md, interpretations).
  Region& keep(std::unique_ptr<Region> region);

  // Work requests through the public ABI (one SGE of `region`).
  NTSTATUS post_receive(Region& r, size_t offset, ULONG length, void* context);
  NTSTATUS post_send(Region& r, size_t offset, ULONG length, void* context, ULONG flags = 0);
  NTSTATUS post_read(Region& sink, size_t offset, ULONG length, uint64_t remote_address,
                     UINT32 remote_token, void* context, ULONG flags = 0);
  NTSTATUS post_write(Region& source, size_t offset, ULONG length, uint64_t remote_address,
                      UINT32 remote_token, void* context, ULONG flags = 0);

  // Completions of the (single) CQ.
  bool next_completion(NDK_RESULT_EX* out, std::chrono::milliseconds timeout = kWaitTimeout);
  ::testing::AssertionResult collect(std::vector<NDK_RESULT_EX>* out, size_t count,
                                     std::chrono::milliseconds timeout = kWaitTimeout);
  // True when no completion arrives within `window` (a completion found is a failure).
  ::testing::AssertionResult no_completion_for(std::chrono::milliseconds window = 50ms);

  // The disconnect event (NDK_FN_DISCONNECT_EVENT_CALLBACK_EX).
  int disconnect_events() const { return disconnect_count_.load(); }
  ULONG disconnect_reason() const { return disconnect_reason_.load(); }
  bool wait_disconnect_event(std::chrono::milliseconds timeout = kWaitTimeout) const;

  SOFTNDK_ADAPTER_COUNTERS counters() const;

 private:
  static void on_connect_event(void* context, NDK_CONNECTOR* connector);
  static void on_disconnect_event(void* context, ULONG reason);
  static void on_cq_notification(void*, NTSTATUS) {}

  Options options_;
  FakeConnectionPtr connection_;
  std::vector<NDK_PD*> extra_pds_;
  std::vector<NDK_MW*> mws_;
  std::vector<std::unique_ptr<Region>> kept_;
  std::mutex incoming_mutex_;
  std::condition_variable incoming_cv_;
  NDK_CONNECTOR* incoming_ = nullptr;
  std::unique_ptr<AsyncCall> pending_accept_;  // passive: the accept until on_established
  NTSTATUS accept_returned_ = STATUS_PENDING;
  std::atomic<int> disconnect_count_{0};
  std::atomic<ULONG> disconnect_reason_{0};
};

}  // namespace softndk::test
