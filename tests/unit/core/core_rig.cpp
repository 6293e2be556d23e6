// Implementation of core_rig.h.
#include "core_rig.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "abi/dispatch.h"
#include "core/adapter.h"

namespace softndk::test {

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(200us);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// AsyncCall

struct AsyncCall::State {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  NTSTATUS status = STATUS_PENDING;
  NDK_OBJECT_HEADER* object = nullptr;
};

AsyncCall::AsyncCall() : state_(std::make_shared<State>()) {}

// A holder handed out but never waited for stays allocated: the provider may still call back
// with it (only on a failing test's early return).
AsyncCall::~AsyncCall() = default;

void* AsyncCall::context() {
  holder_ = new std::shared_ptr<State>(state_);
  return holder_;
}

void AsyncCall::request_done(void* context, NTSTATUS status) {
  create_done(context, status, nullptr);
}

void AsyncCall::create_done(void* context, NTSTATUS status, NDK_OBJECT_HEADER* object) {
  auto* holder = static_cast<std::shared_ptr<State>*>(context);
  std::shared_ptr<State> state = *holder;
  delete holder;
  std::lock_guard lock(state->mutex);
  state->status = status;
  state->object = object;
  state->done = true;
  state->cv.notify_all();
}

void AsyncCall::close_done(void* context) {
  create_done(context, STATUS_SUCCESS, nullptr);
}

NTSTATUS AsyncCall::wait(NTSTATUS returned, std::chrono::milliseconds timeout) {
  if (returned != STATUS_PENDING) {
    delete holder_;  // inline: no callback comes, the holder is ours to free
    holder_ = nullptr;
    return returned;
  }
  holder_ = nullptr;  // the callback frees it
  std::unique_lock lock(state_->mutex);
  if (!state_->cv.wait_for(lock, timeout, [&] { return state_->done; })) {
    ADD_FAILURE() << "a pending NDK request did not complete within the timeout";
    return STATUS_IO_TIMEOUT;
  }
  return state_->status;
}

NDK_OBJECT_HEADER* AsyncCall::object() const {
  std::lock_guard lock(state_->mutex);
  return state_->object;
}

bool close_ndk_object(void* object) {
  if (object == nullptr) return true;
  auto* header = static_cast<NDK_OBJECT_HEADER*>(object);
  // Every closable object is { header, dispatch } and slot 0 of every table is its close.
  auto* dispatch = *reinterpret_cast<NDK_FN_CLOSE_OBJECT* const*>(reinterpret_cast<char*>(object) +
                                                                  sizeof(NDK_OBJECT_HEADER));
  AsyncCall call;
  NTSTATUS status = call.wait(dispatch[0](header, &AsyncCall::close_done, call.context()));
  EXPECT_STATUS(STATUS_SUCCESS, status);
  return status == STATUS_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// Memory

HostBuffer::HostBuffer(size_t bytes, std::byte fill) : size_(bytes) {
  size_t rounded = (bytes + 4095) / 4096 * 4096;
  if (rounded == 0) rounded = 4096;
  data_ = static_cast<std::byte*>(std::aligned_alloc(4096, rounded));
  std::memset(data_, static_cast<int>(fill), rounded);
  SoftNdkInitializeMdl(&mdl_, data_, bytes);
}

HostBuffer::~HostBuffer() {
  std::free(data_);
}

Region::Region(NDK_PD* pd, size_t bytes, ULONG flags, std::byte fill) : buffer(bytes, fill) {
  AsyncCall create;
  status = create.wait(
      pd->Dispatch->NdkCreateMr(pd, FALSE, &AsyncCall::create_done, create.context(), &mr));
  if (status == STATUS_SUCCESS && mr == nullptr) mr = reinterpret_cast<NDK_MR*>(create.object());
  if (status != STATUS_SUCCESS) return;
  AsyncCall reg;
  status = reg.wait(mr->Dispatch->NdkRegisterMr(mr, buffer.mdl(), bytes, flags,
                                                &AsyncCall::request_done, reg.context()));
}

Region::~Region() {
  close_ndk_object(mr);
}

NDK_SGE Region::sge(size_t offset, ULONG length) const {
  NDK_SGE s{};
  s.VirtualAddress = buffer.data() + offset;
  s.Length = length;
  s.MemoryRegionToken = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
  return s;
}

// ---------------------------------------------------------------------------------------------
// CoreRig

namespace {
template <class Obj>
NTSTATUS create_object(const std::function<NTSTATUS(NDK_FN_CREATE_COMPLETION, void*, Obj**)>& start,
                       Obj** out) {
  AsyncCall call;
  *out = nullptr;
  NTSTATUS status = call.wait(start(&AsyncCall::create_done, call.context(), out));
  if (status == STATUS_SUCCESS && *out == nullptr) *out = reinterpret_cast<Obj*>(call.object());
  return status;
}

sockaddr_in ipv4(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

constexpr uint16_t kListenPort = 5000;
constexpr uint16_t kPeerPort = 6000;
}  // namespace

CoreRig::CoreRig(Options options) : options_(std::move(options)) {
  core::Adapter* created = nullptr;
  NTSTATUS s = core::Adapter::open(NDK_VERSION{2, 1}, FakeTransport::factory(&transport),
                                   options_.adapter_options, &abi::dispatch_tables(), &created);
  if (s != STATUS_SUCCESS) {
    ADD_FAILURE() << "Adapter::open over the fake transport: " << status_name(s);
    return;
  }
  adapter = created->as_public<NDK_ADAPTER>();
  const NDK_ADAPTER_DISPATCH* d = adapter->Dispatch;
  s = create_object<NDK_PD>([&](NDK_FN_CREATE_COMPLETION cb, void* ctx,
                                NDK_PD** out) { return d->NdkCreatePd(adapter, cb, ctx, out); },
                            &pd);
  if (s != STATUS_SUCCESS) {
    ADD_FAILURE() << "create PD: " << status_name(s);
    return;
  }
  s = create_object<NDK_CQ>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_CQ** out) {
        return d->NdkCreateCq(adapter, options_.cq_depth, &CoreRig::on_cq_notification, this,
                              nullptr, cb, ctx, out);
      },
      &cq);
  if (s != STATUS_SUCCESS) {
    ADD_FAILURE() << "create CQ: " << status_name(s);
    return;
  }
  NDK_QP* created_qp = nullptr;
  s = create_object<NDK_QP>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_QP** out) {
        return pd->Dispatch->NdkCreateQp(pd, cq, cq, this, options_.depth, options_.depth,
                                         options_.sge, options_.sge, options_.inline_bytes, cb, ctx,
                                         out);
      },
      &created_qp);
  if (s != STATUS_SUCCESS) {
    ADD_FAILURE() << "create QP: " << status_name(s);
    return;
  }
  qp = created_qp;
}

CoreRig::~CoreRig() {
  if (connection_ != nullptr) {
    for (const std::string& v : link().violations()) ADD_FAILURE() << "link contract: " << v;
  }
  close_ndk_object(connector);
  {
    std::lock_guard lock(incoming_mutex_);
    if (incoming_ != nullptr && incoming_ != connector) close_ndk_object(incoming_);
  }
  close_ndk_object(listener);
  close_ndk_object(qp);
  for (NDK_MW* mw : mws_) close_ndk_object(mw);
  kept_.clear();
  close_ndk_object(cq);
  for (NDK_PD* extra : extra_pds_) close_ndk_object(extra);
  close_ndk_object(pd);
  if (adapter != nullptr) SoftNdkCloseAdapter(adapter);
}

::testing::AssertionResult CoreRig::connect_active(const ConnectOptions& setup) {
  if (!ok()) return ::testing::AssertionFailure() << "rig not created";
  NTSTATUS s = create_object<NDK_CONNECTOR>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_CONNECTOR** out) {
        return adapter->Dispatch->NdkCreateConnector(adapter, cb, ctx, out);
      },
      &connector);
  if (s != STATUS_SUCCESS)
    return ::testing::AssertionFailure() << "create connector: " << status_name(s);
  sockaddr_in source = ipv4("127.0.0.1", 0);
  sockaddr_in destination = ipv4("127.0.0.2", kPeerPort);
  AsyncCall connect;
  NTSTATUS returned = connector->Dispatch->NdkConnect(
      connector, qp, reinterpret_cast<sockaddr*>(&source), sizeof source,
      reinterpret_cast<sockaddr*>(&destination), sizeof destination, setup.ird, setup.ord, nullptr,
      0, &AsyncCall::request_done, connect.context());
  if (returned != STATUS_PENDING && returned != STATUS_SUCCESS)
    return ::testing::AssertionFailure() << "NdkConnect: " << status_name(returned);
  connection_ = transport->wait_outgoing();
  if (connection_ == nullptr)
    return ::testing::AssertionFailure() << "the core started no connection";
  transport::ConnectionParams reply;
  reply.inbound_read_limit = setup.peer_ird;
  reply.outbound_read_limit = setup.peer_ord;
  connection_->reply(reply, setup.rtr);
  s = connect.wait(returned);
  if (s != STATUS_SUCCESS) return ::testing::AssertionFailure() << "connect: " << status_name(s);
  AsyncCall complete;
  s = complete.wait(
      connector->Dispatch->NdkCompleteConnectEx(connector, &CoreRig::on_disconnect_event, this,
                                                &AsyncCall::request_done, complete.context()));
  if (s != STATUS_SUCCESS)
    return ::testing::AssertionFailure() << "complete connect: " << status_name(s);
  if (!connection_->completed())
    return ::testing::AssertionFailure() << "the core did not send the ready leg";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult CoreRig::connect_passive(const ConnectOptions& setup) {
  if (!ok()) return ::testing::AssertionFailure() << "rig not created";
  NTSTATUS s = create_object<NDK_LISTENER>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_LISTENER** out) {
        return adapter->Dispatch->NdkCreateListener(adapter, &CoreRig::on_connect_event, this, cb,
                                                    ctx, out);
      },
      &listener);
  if (s != STATUS_SUCCESS)
    return ::testing::AssertionFailure() << "create listener: " << status_name(s);
  sockaddr_in local = ipv4("127.0.0.1", kListenPort);
  AsyncCall listen;
  s = listen.wait(listener->Dispatch->NdkListen(listener, reinterpret_cast<sockaddr*>(&local),
                                                sizeof local, &AsyncCall::request_done,
                                                listen.context()));
  if (s != STATUS_SUCCESS) return ::testing::AssertionFailure() << "listen: " << status_name(s);
  transport::ConnectionParams request;
  request.inbound_read_limit = setup.peer_ird;
  request.outbound_read_limit = setup.peer_ord;
  transport::SockAddr to = transport::SockAddr::ipv4(0x7f000001, kListenPort);
  transport::SockAddr from = transport::SockAddr::ipv4(0x7f000009, kPeerPort);
  connection_ = transport->incoming(to, from, request, setup.rtr);
  if (connection_ == nullptr) return ::testing::AssertionFailure() << "no endpoint listens";
  {
    std::unique_lock lock(incoming_mutex_);
    if (!incoming_cv_.wait_for(lock, kWaitTimeout, [&] { return incoming_ != nullptr; }))
      return ::testing::AssertionFailure() << "no connect event";
    connector = incoming_;
  }
  pending_accept_ = std::make_unique<AsyncCall>();
  accept_returned_ = connector->Dispatch->NdkAcceptEx(
      connector, qp, setup.ird, setup.ord, nullptr, 0, &CoreRig::on_disconnect_event, this,
      &AsyncCall::request_done, pending_accept_->context());
  if (accept_returned_ != STATUS_PENDING && accept_returned_ != STATUS_SUCCESS)
    return ::testing::AssertionFailure() << "NdkAcceptEx: " << status_name(accept_returned_);
  if (!connection_->accepted().has_value())
    return ::testing::AssertionFailure() << "the core did not reply to the request";
  if (!setup.establish) return ::testing::AssertionSuccess();
  return establish();
}

::testing::AssertionResult CoreRig::establish() {
  if (pending_accept_ == nullptr) return ::testing::AssertionFailure() << "nothing accepted";
  connection_->establish();
  NTSTATUS s = pending_accept_->wait(accept_returned_);
  pending_accept_.reset();
  if (s != STATUS_SUCCESS) return ::testing::AssertionFailure() << "accept: " << status_name(s);
  return ::testing::AssertionSuccess();
}

void CoreRig::on_connect_event(void* context, NDK_CONNECTOR* connector) {
  auto* rig = static_cast<CoreRig*>(context);
  std::lock_guard lock(rig->incoming_mutex_);
  rig->incoming_ = connector;
  rig->incoming_cv_.notify_all();
}

void CoreRig::on_disconnect_event(void* context, ULONG reason) {
  auto* rig = static_cast<CoreRig*>(context);
  rig->disconnect_reason_.store(reason);
  rig->disconnect_count_.fetch_add(1);
}

bool CoreRig::wait_disconnect_event(std::chrono::milliseconds timeout) const {
  return wait_until([&] { return disconnect_count_.load() != 0; }, timeout);
}

NDK_PD* CoreRig::create_pd() {
  NDK_PD* extra = nullptr;
  NTSTATUS s = create_object<NDK_PD>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_PD** out) {
        return adapter->Dispatch->NdkCreatePd(adapter, cb, ctx, out);
      },
      &extra);
  EXPECT_STATUS(STATUS_SUCCESS, s);
  if (extra != nullptr) extra_pds_.push_back(extra);
  return extra;
}

NDK_MW* CoreRig::create_mw(NDK_PD* in_pd) {
  NDK_PD* owner = in_pd != nullptr ? in_pd : pd;
  NDK_MW* mw = nullptr;
  NTSTATUS s = create_object<NDK_MW>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_MW** out) {
        return owner->Dispatch->NdkCreateMw(owner, cb, ctx, out);
      },
      &mw);
  EXPECT_STATUS(STATUS_SUCCESS, s);
  if (mw != nullptr) mws_.push_back(mw);
  return mw;
}

std::unique_ptr<Region> CoreRig::region(size_t bytes, ULONG flags, NDK_PD* in_pd, std::byte fill) {
  auto r = std::make_unique<Region>(in_pd != nullptr ? in_pd : pd, bytes, flags, fill);
  EXPECT_STATUS(STATUS_SUCCESS, r->status);
  return r;
}

Region& CoreRig::keep(std::unique_ptr<Region> r) {
  kept_.push_back(std::move(r));
  return *kept_.back();
}

NTSTATUS CoreRig::post_receive(Region& r, size_t offset, ULONG length, void* context) {
  NDK_SGE sge = r.sge(offset, length);
  return q()->NdkReceive(qp, context, &sge, 1);
}

NTSTATUS CoreRig::post_send(Region& r, size_t offset, ULONG length, void* context, ULONG flags) {
  NDK_SGE sge = r.sge(offset, length);
  return q()->NdkSend(qp, context, &sge, 1, flags);
}

NTSTATUS CoreRig::post_read(Region& sink, size_t offset, ULONG length, uint64_t remote_address,
                            UINT32 remote_token, void* context, ULONG flags) {
  NDK_SGE sge = sink.sge(offset, length);
  return q()->NdkRead(qp, context, &sge, 1, remote_address, remote_token, flags);
}

NTSTATUS CoreRig::post_write(Region& source, size_t offset, ULONG length, uint64_t remote_address,
                             UINT32 remote_token, void* context, ULONG flags) {
  NDK_SGE sge = source.sge(offset, length);
  return q()->NdkWrite(qp, context, &sge, 1, remote_address, remote_token, flags);
}

bool CoreRig::next_completion(NDK_RESULT_EX* out, std::chrono::milliseconds timeout) {
  return wait_until([&] { return cq->Dispatch->NdkGetCqResultsEx(cq, out, 1) == 1; }, timeout);
}

::testing::AssertionResult CoreRig::collect(std::vector<NDK_RESULT_EX>* out, size_t count,
                                            std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out->size() < count) {
    NDK_RESULT_EX r{};
    if (cq->Dispatch->NdkGetCqResultsEx(cq, &r, 1) == 1) {
      out->push_back(r);
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline)
      return ::testing::AssertionFailure()
             << "only " << out->size() << " of " << count << " completions arrived";
    std::this_thread::sleep_for(100us);
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult CoreRig::no_completion_for(std::chrono::milliseconds window) {
  NDK_RESULT_EX r{};
  if (next_completion(&r, window))
    return ::testing::AssertionFailure()
           << "unexpected completion: type " << r.Type << " status " << status_name(r.Status)
           << " context " << r.RequestContext;
  return ::testing::AssertionSuccess();
}

SOFTNDK_ADAPTER_COUNTERS CoreRig::counters() const {
  SOFTNDK_ADAPTER_COUNTERS c{};
  ULONG size = sizeof c;
  EXPECT_STATUS(STATUS_SUCCESS, SoftNdkQueryAdapterCounters(adapter, &c, &size));
  return c;
}

}  // namespace softndk::test
