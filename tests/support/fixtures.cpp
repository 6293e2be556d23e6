// Implementation of fixtures.h.
#include "fixtures.h"

#include <algorithm>

namespace ndktest {

// ---------------------------------------------------------------------------------------------
// Creating objects

NTSTATUS create_cq(NDK_ADAPTER* a, ULONG depth, NDK_CQ** out) {
  return sync_create(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_CQ** o) {
        return a->Dispatch->NdkCreateCq(a, depth, &noop_cq_notify, nullptr, nullptr, cb, ctx, o);
      },
      out);
}

NTSTATUS create_pd(NDK_ADAPTER* a, NDK_PD** out) {
  return sync_create(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_PD** o) {
        return a->Dispatch->NdkCreatePd(a, cb, ctx, o);
      },
      out);
}

NTSTATUS create_mr(NDK_PD* pd, bool fast, NDK_MR** out) {
  return sync_create(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_MR** o) {
        return pd->Dispatch->NdkCreateMr(pd, fast ? TRUE : FALSE, cb, ctx, o);
      },
      out);
}

NTSTATUS create_mw(NDK_PD* pd, NDK_MW** out) {
  return sync_create(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_MW** o) {
        return pd->Dispatch->NdkCreateMw(pd, cb, ctx, o);
      },
      out);
}

NTSTATUS create_srq(NDK_PD* pd, ULONG depth, ULONG sge, NDK_SRQ** out) {
  return sync_create(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_SRQ** o) {
        return pd->Dispatch->NdkCreateSrq(pd, depth, sge, 0, nullptr, nullptr, nullptr, cb, ctx,
                                          o);
      },
      out);
}

NTSTATUS create_qp(NDK_PD* pd, NDK_CQ* rcq, NDK_CQ* icq, void* context, QpSizes s, NDK_QP** out) {
  return sync_create(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_QP** o) {
        return pd->Dispatch->NdkCreateQp(pd, rcq, icq, context, s.receive_depth,
                                         s.initiator_depth, s.receive_sge, s.initiator_sge,
                                         s.inline_bytes, cb, ctx, o);
      },
      out);
}

NTSTATUS create_qp_with_srq(NDK_PD* pd, NDK_CQ* rcq, NDK_CQ* icq, NDK_SRQ* srq, void* context,
                            QpSizes s, NDK_QP** out) {
  return sync_create(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_QP** o) {
        return pd->Dispatch->NdkCreateQpWithSrq(pd, rcq, icq, srq, context, s.initiator_depth,
                                                s.initiator_sge, s.inline_bytes, cb, ctx, o);
      },
      out);
}

NTSTATUS create_connector(NDK_ADAPTER* a, NDK_CONNECTOR** out) {
  return sync_create(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_CONNECTOR** o) {
        return a->Dispatch->NdkCreateConnector(a, cb, ctx, o);
      },
      out);
}

NTSTATUS create_listener(NDK_ADAPTER* a, NDK_LISTENER** out) {
  return sync_create(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_LISTENER** o) {
        return a->Dispatch->NdkCreateListener(a, &noop_connect_event, nullptr, cb, ctx, o);
      },
      out);
}

NTSTATUS create_shared_endpoint(NDK_ADAPTER* a, const sockaddr_storage& address,
                                NDK_SHARED_ENDPOINT** out) {
  sockaddr_storage local = address;
  return sync_create(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_SHARED_ENDPOINT** o) {
        return a->Dispatch->NdkCreateSharedEndpoint(a, ndkxx::as_sockaddr(local),
                                                    ndkxx::address_length(local), cb, ctx, o);
      },
      out);
}

// ---------------------------------------------------------------------------------------------
// AdapterFixture

AdapterFixture::AdapterFixture(const std::string& uri) : ndkxx::Adapter(uri) {
  report_close_failures_as_test_failures();
  if (open_status() == STATUS_SUCCESS) {
    EXPECT_NT(STATUS_SUCCESS, info_status());
  }
}

AdapterFixture::AdapterFixture(const std::string& uri, NDK_VERSION version)
    : ndkxx::Adapter(uri, version) {
  report_close_failures_as_test_failures();
  if (open_status() == STATUS_SUCCESS) {
    EXPECT_NT(STATUS_SUCCESS, info_status());
  }
}

::testing::AssertionResult AdapterFixture::opened() const {
  if (open_status() == STATUS_SUCCESS) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "adapter open failed for " << uri() << ": " << status_name(open_status());
}

// ---------------------------------------------------------------------------------------------
// PdCqFixture

void Incoming::delivered(NDK_CONNECTOR* connector) {
  if (owner_ != nullptr) owner_->adopt(connector);  // ours from now on (2.1.6)
  if (on_event) on_event(connector);
}

PdCqFixture::PdCqFixture(const std::string& uri, ULONG cq_depth) : AdapterFixture(uri) {
  if (open_status() != STATUS_SUCCESS) return;
  NDK_PD* p = nullptr;
  NTSTATUS s = create_pd(get(), &p);
  if (s != STATUS_SUCCESS) {
    ADD_FAILURE() << "create PD: " << status_name(s);
    return;
  }
  pd.reset(p);
  s = cq.create(get(), cq_depth, ndkxx::Wait{kTimeout});
  if (s != STATUS_SUCCESS) {
    ADD_FAILURE() << "create CQ: " << status_name(s);
    return;
  }
  created_ = true;
}

::testing::AssertionResult PdCqFixture::ok() const {
  ::testing::AssertionResult open = opened();
  if (!open) return open;
  if (!created_) return ::testing::AssertionFailure() << "the PD or the CQ could not be created";
  return ::testing::AssertionSuccess();
}

NDK_QP* PdCqFixture::create_qp(ULONG depth) {
  void* context = reinterpret_cast<void*>(static_cast<uintptr_t>(0x1000 + qp_serial_++));
  return create_qp({depth, depth, 4, 4, 128}, context);
}

QpSizes QpSizes::fitted(const NDK_ADAPTER_INFO& info) const {
  QpSizes s = *this;
  s.receive_depth = std::min<ULONG>(s.receive_depth, info.MaxReceiveQueueDepth);
  s.initiator_depth = std::min<ULONG>(s.initiator_depth, info.MaxInitiatorQueueDepth);
  s.receive_sge = std::min<ULONG>(s.receive_sge, info.MaxReceiveRequestSge);
  s.initiator_sge = std::min<ULONG>(s.initiator_sge, info.MaxInitiatorRequestSge);
  s.inline_bytes = std::min<ULONG>(s.inline_bytes, info.MaxInlineDataSize);
  return s;
}

NDK_QP* PdCqFixture::create_qp(const QpSizes& sizes, void* context, NDK_CQ* receive_cq,
                               NDK_CQ* initiator_cq) {
  NDK_QP* qp = nullptr;
  NTSTATUS s = ndktest::create_qp(pd, receive_cq != nullptr ? receive_cq : cq.get(),
                                  initiator_cq != nullptr ? initiator_cq : cq.get(), context,
                                  sizes.fitted(info()), &qp);
  EXPECT_NT(STATUS_SUCCESS, s) << "create QP";
  if (s != STATUS_SUCCESS) return nullptr;
  adopt_qp(qp);
  return qp;
}

NDK_CONNECTOR* PdCqFixture::create_connector() {
  NDK_CONNECTOR* c = nullptr;
  NTSTATUS s = ndktest::create_connector(get(), &c);
  EXPECT_NT(STATUS_SUCCESS, s) << "create connector";
  if (s != STATUS_SUCCESS) return nullptr;
  adopt(c);
  return c;
}

NDK_LISTENER* PdCqFixture::create_listener(Incoming& events) {
  events.set_owner(this);
  ndkxx::Created<NDK_LISTENER> l =
      ndkxx::create_listener(get(), events, ndkxx::Wait{kTimeout});
  if (l.timed_out) ADD_FAILURE() << "create completion did not arrive within the timeout";
  EXPECT_NT(STATUS_SUCCESS, l.status) << "create listener";
  if (!l.ok()) return nullptr;
  std::lock_guard lock(mutex_);
  endpoints_.push_back(l.object);
  return l.object;
}

NTSTATUS PdCqFixture::create_shared_endpoint(const sockaddr_storage& address,
                                             NDK_SHARED_ENDPOINT** out) {
  *out = nullptr;
  NTSTATUS s = ndktest::create_shared_endpoint(get(), address, out);
  if (s == STATUS_SUCCESS && *out != nullptr) {
    std::lock_guard lock(mutex_);
    endpoints_.push_back(*out);
  } else {
    *out = nullptr;
  }
  return s;
}

void PdCqFixture::adopt(NDK_CONNECTOR* connector) {
  std::lock_guard lock(mutex_);
  connectors_.push_back(connector);
}

void PdCqFixture::adopt_qp(NDK_QP* qp) {
  std::lock_guard lock(mutex_);
  qps_.push_back(qp);
}

void PdCqFixture::adopt_pd_object(void* object) {
  std::lock_guard lock(mutex_);
  pd_objects_.push_back(object);
}

void PdCqFixture::forget(void* object) {
  std::lock_guard lock(mutex_);
  for (auto* list : {&connectors_, &endpoints_, &qps_, &pd_objects_})
    list->erase(std::remove(list->begin(), list->end(), object), list->end());
}

bool PdCqFixture::close(void* object) {
  forget(object);
  return close_object(object);
}

bool PdCqFixture::teardown() {
  std::vector<void*> lists[4];
  {
    std::lock_guard lock(mutex_);
    lists[0].swap(connectors_);
    lists[1].swap(endpoints_);
    lists[2].swap(qps_);
    lists[3].swap(pd_objects_);
  }
  bool ok = true;
  for (const std::vector<void*>& list : lists)
    for (void* object : list) ok &= close_object(object);
  ok &= close_object(pd.release());
  ok &= close_object(cq.handle().release());
  return ok;
}

// ---------------------------------------------------------------------------------------------
// QpFixture

QpFixture::QpFixture(const std::string& uri, QpSizes sizes, ULONG cq_depth)
    : PdCqFixture(uri, cq_depth) {
  if (PdCqFixture::ok()) qp = create_qp(sizes, &qp_context);
}

::testing::AssertionResult QpFixture::ok() const {
  ::testing::AssertionResult base = PdCqFixture::ok();
  if (!base) return base;
  if (qp == nullptr) return ::testing::AssertionFailure() << "the QP could not be created";
  return ::testing::AssertionSuccess();
}

bool QpFixture::close_qp() {
  bool ok = close(qp);
  qp = nullptr;
  return ok;
}

// ---------------------------------------------------------------------------------------------
// ConnectedPairFixture

bool ConnectedPairFixture::Side::replace_qp(NDK_CQ* receive_cq, NDK_CQ* initiator_cq,
                                            QpSizes sizes) {
  if (!close(qp)) return false;
  qp = create_qp(sizes, this, receive_cq, initiator_cq);
  if (qp == nullptr) {
    ADD_FAILURE() << "replacement QP";
    return false;
  }
  return true;
}

ConnectedPairFixture::ConnectedPairFixture(const std::string& uri, PairOptions opts)
    : options(std::move(opts)),
      active(options.active_uri.empty() ? uri : options.active_uri, options.cq_depth),
      passive(options.passive_uri.empty() ? uri : options.passive_uri, options.cq_depth) {}

ConnectedPairFixture::ConnectedPairFixture(const std::string& active_uri,
                                           const std::string& passive_uri, PairOptions opts)
    : options(std::move(opts)),
      active(active_uri, options.cq_depth),
      passive(passive_uri, options.cq_depth) {}

void ConnectedPairFixture::listen(int family) {
  ASSERT_TRUE(active.ok());
  ASSERT_TRUE(passive.ok());
  listener = passive.create_listener(incoming);
  ASSERT_NE(nullptr, listener);
  ndkxx::Outcome listened = ndkxx::listen(listener, passive.local(family), ndkxx::Wait{kTimeout});
  ASSERT_FALSE(listened.timed_out) << "listen: no completion within the timeout";
  ASSERT_NT(STATUS_SUCCESS, listened.status) << "listen";
  ASSERT_NT(STATUS_SUCCESS, ndkxx::local_address(listener, &destination)) << "listener address";
  ASSERT_NE(0, ndkxx::port_of(destination));
}

bool ConnectedPairFixture::connect(
    const std::function<void(ConnectedPairFixture&)>& before_connect) {
  for (Side* side : {&active, &passive}) {
    ::testing::AssertionResult ready = side->ok();
    if (!ready) return ADD_FAILURE() << ready.message(), false;
    side->qp = side->create_qp({options.depth, options.depth, options.sge, options.sge,
                                options.inline_bytes},
                               side);
    if (side->qp == nullptr) return false;
  }
  if (before_connect) before_connect(*this);
  if (listener == nullptr) {
    listen();
    if (listener == nullptr || ndkxx::port_of(destination) == 0) return false;
  }
  active.connector = active.create_connector();
  if (active.connector == nullptr) return false;
  ndkxx::Handshake h;
  h.connector = active.connector;
  h.active_qp = active.qp;
  h.source = active.local(destination.ss_family);
  h.destination = destination;
  // The read limits within both adapters' maxima (each profile has its own).
  const NDK_ADAPTER_INFO& ai = active.info();
  const NDK_ADAPTER_INFO& pi = passive.info();
  const ULONG limit = std::min({options.read_limit, ai.MaxInboundReadLimit,
                                ai.MaxOutboundReadLimit, pi.MaxInboundReadLimit,
                                pi.MaxOutboundReadLimit});
  h.connect = {limit, limit};
  h.active_disconnect = {&active.disconnects, true};
  h.incoming = &incoming;
  h.passive_qp = passive.qp;
  h.accept = {limit, limit};
  h.passive_disconnect = {&passive.disconnects, true};
  ndkxx::Established e = ndkxx::establish(h, ndkxx::Wait{kTimeout});
  passive.connector = e.passive;  // the passive side owns it (incoming)
  if (!e.ok()) return ADD_FAILURE() << e.step << ": " << status_name(e.status), false;
  return true;
}

bool ConnectedPairFixture::teardown() {
  bool ok = active.teardown();
  ok &= passive.teardown();
  for (Side* side : {&active, &passive}) {
    side->qp = nullptr;
    side->connector = nullptr;
  }
  listener = nullptr;
  return ok;
}

// ---------------------------------------------------------------------------------------------
// MemoryPairFixture

bool MemoryPairFixture::connect(const MemoryShape& shape,
                                const std::function<void(ConnectedPairFixture&)>& before_connect) {
  bool ok = ConnectedPairFixture::connect([&](ConnectedPairFixture& pair) {
    active_buffer = std::make_unique<Region>(active.pd, shape.active_bytes, shape.active_flags,
                                             shape.active_fill, ndkxx::Wait{kTimeout});
    passive_buffer = std::make_unique<Region>(passive.pd, shape.passive_bytes,
                                              shape.passive_flags, shape.passive_fill,
                                              ndkxx::Wait{kTimeout});
    if (active_buffer->status() != STATUS_SUCCESS || passive_buffer->status() != STATUS_SUCCESS) {
      ADD_FAILURE() << "register: " << status_name(active_buffer->status()) << " / "
                    << status_name(passive_buffer->status());
      return;
    }
    posted_receives = shape.receives;
    for (int i = 0; i < shape.receives; ++i)
      EXPECT_NT(STATUS_SUCCESS, post_receive(passive.qp, *passive_buffer, i * kReceiveSlot,
                                             kReceiveSlot, receive_context(i)));
    if (before_connect) before_connect(pair);
  });
  return ok && !::testing::Test::HasFatalFailure() && active_buffer != nullptr &&
         passive_buffer != nullptr && active_buffer->status() == STATUS_SUCCESS &&
         passive_buffer->status() == STATUS_SUCCESS;
}

::testing::AssertionResult MemoryPairFixture::fence_writes(std::vector<NDK_RESULT_EX>* earlier) {
  if (fence_source_ == nullptr) {
    fence_source_ = std::make_unique<FenceSource>(passive.pd);
    fence_sink_ = std::make_unique<Region>(
        active.pd, 64, NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK, 0,
        ndkxx::Wait{kTimeout});
  }
  if (fence_sink_->status() != STATUS_SUCCESS)
    return ::testing::AssertionFailure() << "fence sink: " << status_name(fence_sink_->status());
  return read_fence(active.qp, active.cq, fence_sink_->sge(0, 1), *fence_source_, earlier);
}

void MemoryPairFixture::release_memory() {
  active_buffer.reset();
  passive_buffer.reset();
  fence_sink_.reset();
  fence_source_.reset();
}

bool MemoryPairFixture::teardown() {
  release_memory();
  return ConnectedPairFixture::teardown();
}

// ---------------------------------------------------------------------------------------------
// SrqPairFixture

SrqPairFixture::SrqPairFixture(const std::string& uri, Options o)
    : ConnectedPairFixture(uri, PairOptions{}), srq_options(o) {}

void SrqPairFixture::on_srq(void* context, NTSTATUS status) {
  auto* self = static_cast<SrqPairFixture*>(context);
  if (self->in_modify_.load() && self->modify_thread_.load() == std::this_thread::get_id())
    self->notified_inside_modify.fetch_add(1);
  {
    std::lock_guard lock(self->hook_mutex_);
    if (self->notify_hook_) self->notify_hook_();
  }
  self->notification_status = status;
  self->notifications.fetch_add(1);
}

bool SrqPairFixture::create() {
  for (Side* side : {&active, &passive}) {
    ::testing::AssertionResult ready = side->ok();
    if (!ready) return ADD_FAILURE() << ready.message(), false;
  }
  for (Cq& cq : prcq) {
    NTSTATUS s = cq.create(passive.get(), 1024, ndkxx::Wait{kTimeout});
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create CQ: " << status_name(s), false;
  }
  NTSTATUS s = sync_create(
      [&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_SRQ** out) {
        return passive.pd->Dispatch->NdkCreateSrq(
            passive.pd, srq_options.srq_depth, srq_options.srq_sge, srq_options.threshold,
            srq_options.with_callback ? &SrqPairFixture::on_srq : nullptr, this, nullptr, cb, c,
            out);
      },
      &srq);
  if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create SRQ: " << status_name(s), false;
  passive.adopt_pd_object(srq);
  const QpSizes sizes = QpSizes{srq_options.qp_depth, srq_options.qp_depth, srq_options.qp_sge,
                                srq_options.qp_sge, srq_options.inline_bytes}
                            .fitted(passive.info());
  for (int i = 0; i < 2; ++i) {
    s = create_qp_with_srq(passive.pd, prcq[i].get(), passive.cq.get(), srq, &pctx[i], sizes,
                           &pqp[i]);
    if (s != STATUS_SUCCESS)
      return ADD_FAILURE() << "create QP with SRQ: " << status_name(s), false;
    passive.adopt_qp(pqp[i]);
    aqp[i] = active.create_qp(sizes, &actx[i]);
    if (aqp[i] == nullptr) return false;
  }
  listen();
  return listener != nullptr && ndkxx::port_of(destination) != 0;
}

bool SrqPairFixture::connect(int i) {
  acon[i] = active.create_connector();
  if (acon[i] == nullptr) return false;
  ndkxx::Handshake h;
  h.connector = acon[i];
  h.active_qp = aqp[i];
  h.source = active.local(destination.ss_family);
  h.destination = destination;
  h.active_disconnect = {&adis[i], true};
  h.incoming = &incoming;
  h.passive_qp = pqp[i];
  h.passive_disconnect = {&pdis[i], true};
  ndkxx::Established e = ndkxx::establish(h, ndkxx::Wait{kTimeout});
  pcon[i] = e.passive;  // the passive side owns it (incoming)
  if (!e.ok()) return ADD_FAILURE() << e.step << ": " << status_name(e.status), false;
  return true;
}

NTSTATUS SrqPairFixture::modify(ULONG depth, ULONG threshold) {
  modify_thread_ = std::this_thread::get_id();
  in_modify_ = true;
  NTSTATUS s = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
    return srq->Dispatch->NdkModifySrq(srq, depth, threshold, cb, c);
  });
  in_modify_ = false;
  return s;
}

NTSTATUS SrqPairFixture::srq_receive(const Region& region, size_t offset, ULONG length,
                                     void* context) {
  NDK_SGE sge = region.sge(offset, length);
  return srq->Dispatch->NdkSrqReceive(srq, context, &sge, 1);
}

bool SrqPairFixture::run_in_callback(const Region& receive_region, const Region& send_region,
                                     const std::function<void()>& work) {
  std::atomic<bool> done{false};
  {
    std::lock_guard lock(hook_mutex_);
    notify_hook_ = [&] {
      if (done.load()) return;
      work();
      done = true;
    };
  }
  bool ok = srq_receive(receive_region, receive_region.size() - 64, 64,
                        reinterpret_cast<void*>(kTriggerContext)) == STATUS_SUCCESS &&
            post_send(aqp[1], send_region, send_region.size() - 8, 8,
                      reinterpret_cast<void*>(kTriggerContext)) == STATUS_SUCCESS &&
            wait_until([&] { return done.load(); });
  if (!ok) ADD_FAILURE() << "the SRQ notification used as a callback context never came";
  // The hook captures locals of this frame: it must be gone before returning.
  std::lock_guard lock(hook_mutex_);
  notify_hook_ = nullptr;
  return ok;
}

bool SrqPairFixture::teardown() {
  bool ok = ConnectedPairFixture::teardown();
  for (int i = 0; i < 2; ++i) {
    aqp[i] = pqp[i] = nullptr;
    acon[i] = pcon[i] = nullptr;
  }
  srq = nullptr;
  for (Cq& cq : prcq) ok &= close_object(cq.handle().release());
  return ok;
}

// ---------------------------------------------------------------------------------------------
// EveryObjectFixture

bool EveryObjectFixture::create(const sockaddr_storage& local) {
  NDK_ADAPTER* a = get();
  NDK_ADAPTER_INFO adapter_info{};
  ULONG size = sizeof adapter_info;
  NTSTATUS s = a->Dispatch->NdkQueryAdapterInfo(a, &adapter_info, &size);
  if (s != STATUS_SUCCESS) return ADD_FAILURE() << "query info: " << status_name(s), false;
  auto ok = [](const char* what, NTSTATUS st) {
    if (st != STATUS_SUCCESS) ADD_FAILURE() << what << ": " << status_name(st);
    return st == STATUS_SUCCESS;
  };
  if (!ok("create CQ", create_cq(a, 16, &cq))) return false;
  if (!ok("create PD", create_pd(a, &pd))) return false;
  if (!ok("create MR", create_mr(pd, false, &mr))) return false;
  if (!ok("create fast MR", create_mr(pd, true, &fast_mr))) return false;
  if (!ok("create MW", create_mw(pd, &mw))) return false;
  if (adapter_info.MaxSrqDepth != 0) {
    if (!ok("create SRQ", create_srq(pd, std::min<ULONG>(16, adapter_info.MaxSrqDepth), 1, &srq)))
      return false;
    if (!ok("create QP with SRQ", create_qp_with_srq(pd, cq, cq, srq, nullptr, {}, &srq_qp)))
      return false;
  }
  if (!ok("create QP", create_qp(pd, cq, cq, nullptr, {}, &qp))) return false;
  if (!ok("create connector", create_connector(a, &connector))) return false;
  if (!ok("create listener", create_listener(a, &listener))) return false;
  return ok("create shared endpoint", create_shared_endpoint(a, local, &endpoint));
}

std::vector<std::pair<NDK_OBJECT_HEADER*, NDK_OBJECT_TYPE>> EveryObjectFixture::objects() const {
  std::vector<std::pair<NDK_OBJECT_HEADER*, NDK_OBJECT_TYPE>> v;
  auto add = [&](void* o, NDK_OBJECT_TYPE t) {
    if (o != nullptr) v.emplace_back(static_cast<NDK_OBJECT_HEADER*>(o), t);
  };
  add(cq, NdkObjectTypeCq);
  add(pd, NdkObjectTypePd);
  add(mr, NdkObjectTypeMr);
  add(fast_mr, NdkObjectTypeMr);
  add(mw, NdkObjectTypeMw);
  add(srq, NdkObjectTypeSrq);
  add(qp, NdkObjectTypeQp);
  add(srq_qp, NdkObjectTypeQp);
  add(connector, NdkObjectTypeConnector);
  add(listener, NdkObjectTypeListener);
  add(endpoint, NdkObjectTypeSharedEndpoint);
  return v;
}

bool EveryObjectFixture::close_all() {
  bool ok = true;
  for (void** o : {(void**)&connector, (void**)&listener, (void**)&endpoint, (void**)&qp,
                   (void**)&srq_qp, (void**)&mw, (void**)&mr, (void**)&fast_mr, (void**)&srq,
                   (void**)&pd, (void**)&cq}) {
    ok &= close_object(*o);
    *o = nullptr;
  }
  return ok;
}

}  // namespace ndktest
