// The NDKPI statuses that only a failure can produce (docs/conformance.md, the rows that needed
// fault injection), produced through the public ABI with a fault plan (docs/faults.md), each
// with what NDKPI says must follow: INSUFFICIENT_RESOURCES from every create and request that
// documents it (nothing created, nothing changed, no callback), a fatal CQ error
// (STATUS_INTERNAL_ERROR and the consequences of an overrun), a failed adapter open, connect
// failures through a shared endpoint, a disconnect whose handshake times out and a connection
// lost with requests outstanding.
#include <cstring>
#include <thread>

#include "connection_helpers.h"
#include "fault_support.h"

namespace faulttest {
namespace {

using conntest::Op;

// ---------------------------------------------------------------------------------------------
// INSUFFICIENT_RESOURCES from the creates

class CreateStatusTest : public ::testing::TestWithParam<std::string> {
 protected:
  // `create` fails inline with INSUFFICIENT_RESOURCES, leaves its out parameter alone and never
  // calls its completion (the Op counts a late callback); the next one (the rule fired once)
  // delivers an object, which is returned for the caller to close.
  template <class T, class F>
  T* fails_once_then_creates(const char* what, F&& create) {
    {
      Op failed;
      T* const untouched = reinterpret_cast<T*>(uintptr_t{0x5A5A5A50});
      T* out = untouched;
      NTSTATUS s = failed.start_create<T>([&](NDK_FN_CREATE_COMPLETION cb, void* c, T**) {
        return create(cb, c, &out);
      });
      EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, s) << what;
      EXPECT_EQ(untouched, out) << what << ": a failed create wrote its object";
      if (s == STATUS_SUCCESS && out != untouched) {
        EXPECT_TRUE(close_object(out));
      }
      std::this_thread::sleep_for(conntest::kQuiet);
      EXPECT_EQ(0, failed.callbacks()) << what << ": a callback after an inline failure";
    }
    Op created;
    created.start_create<T>([&](NDK_FN_CREATE_COMPLETION cb, void* c, T** out) {
      return create(cb, c, out);
    });
    EXPECT_NT(STATUS_SUCCESS, created.result()) << what << " after the fault";
    T* object = created.object<T>();
    EXPECT_NE(nullptr, object) << what;
    return object;
  }
};

TEST_P(CreateStatusTest, every_create_fails_insufficient_resources_without_object_or_callback) {
  PdCqFixture f(GetParam());
  ASSERT_TRUE(f.ok());
  NDK_ADAPTER* a = f.get();
  NDK_PD* pd = f.pd.get();
  // The default action of a call point is STATUS_INSUFFICIENT_RESOURCES.
  ASSERT_TRUE(set_plan(a, "call.create_cq;call.create_pd;call.create_shared_endpoint;"
                          "call.create_connector;call.create_listener;call.create_mr@1;"
                          "call.create_mr@3;call.create_mw;call.create_srq;call.create_qp@1;"
                          "call.create_qp@3"));
  std::vector<void*> made;  // closed in reverse order
  made.push_back(fails_once_then_creates<NDK_CQ>("NdkCreateCq", [&](auto cb, void* c, NDK_CQ** o) {
    return a->Dispatch->NdkCreateCq(a, 8, noop_cq_notify, nullptr, nullptr, cb, c, o);
  }));
  made.push_back(fails_once_then_creates<NDK_PD>("NdkCreatePd", [&](auto cb, void* c, NDK_PD** o) {
    return a->Dispatch->NdkCreatePd(a, cb, c, o);
  }));
  sockaddr_storage address = f.local();
  made.push_back(fails_once_then_creates<NDK_SHARED_ENDPOINT>(
      "NdkCreateSharedEndpoint", [&](auto cb, void* c, NDK_SHARED_ENDPOINT** o) {
        return a->Dispatch->NdkCreateSharedEndpoint(a, conntest::sa(address),
                                                    conntest::addr_len(address), cb, c, o);
      }));
  made.push_back(fails_once_then_creates<NDK_CONNECTOR>(
      "NdkCreateConnector", [&](auto cb, void* c, NDK_CONNECTOR** o) {
        return a->Dispatch->NdkCreateConnector(a, cb, c, o);
      }));
  made.push_back(fails_once_then_creates<NDK_LISTENER>(
      "NdkCreateListener", [&](auto cb, void* c, NDK_LISTENER** o) {
        return a->Dispatch->NdkCreateListener(a, noop_connect_event, nullptr, cb, c, o);
      }));
  for (BOOLEAN fast : {BOOLEAN{FALSE}, BOOLEAN{TRUE}}) {
    made.push_back(fails_once_then_creates<NDK_MR>(
        fast ? "NdkCreateMr (fast)" : "NdkCreateMr", [&](auto cb, void* c, NDK_MR** o) {
          return pd->Dispatch->NdkCreateMr(pd, fast, cb, c, o);
        }));
  }
  made.push_back(fails_once_then_creates<NDK_MW>("NdkCreateMw", [&](auto cb, void* c, NDK_MW** o) {
    return pd->Dispatch->NdkCreateMw(pd, cb, c, o);
  }));
  NDK_SRQ* srq = fails_once_then_creates<NDK_SRQ>("NdkCreateSrq", [&](auto cb, void* c,
                                                                      NDK_SRQ** o) {
    return pd->Dispatch->NdkCreateSrq(pd, 8, 1, 0, nullptr, nullptr, nullptr, cb, c, o);
  });
  made.push_back(srq);
  NDK_CQ* cq = f.cq.get();
  made.push_back(fails_once_then_creates<NDK_QP>("NdkCreateQp", [&](auto cb, void* c, NDK_QP** o) {
    return pd->Dispatch->NdkCreateQp(pd, cq, cq, nullptr, 8, 8, 1, 1, 0, cb, c, o);
  }));
  if (srq != nullptr) {
    // call.create_qp@3: NdkCreateQpWithSrq is the same point.
    made.push_back(fails_once_then_creates<NDK_QP>(
        "NdkCreateQpWithSrq", [&](auto cb, void* c, NDK_QP** o) {
          return pd->Dispatch->NdkCreateQpWithSrq(pd, cq, cq, srq, nullptr, 8, 1, 0, cb, c, o);
        }));
  }
  EXPECT_EQ(11u, faults_injected(a));
  for (auto it = made.rbegin(); it != made.rend(); ++it) EXPECT_TRUE(close_object(*it));
}

INSTANTIATE_TEST_SUITE_P(Uris, CreateStatusTest, ::testing::ValuesIn(fault_uris()),
                         uri_param_name);

// ---------------------------------------------------------------------------------------------
// INSUFFICIENT_RESOURCES from the requests

class RequestStatusTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RequestStatusTest, register_mr_fails_and_leaves_the_mr_unregistered) {
  PdCqFixture f(GetParam());
  ASSERT_TRUE(f.ok());
  NDK_MR* mr = nullptr;
  ASSERT_NT(STATUS_SUCCESS, create_mr(f.pd.get(), false, &mr));
  std::vector<unsigned char> memory(8192);
  MDL mdl;
  SoftNdkInitializeMdl(&mdl, memory.data(), memory.size());
  ASSERT_TRUE(set_plan(f.get(), "call.register_mr"));
  auto register_it = [&](Op& op) {
    return op.start([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
      return mr->Dispatch->NdkRegisterMr(mr, &mdl, memory.size(), NDK_MR_FLAG_ALLOW_LOCAL_WRITE,
                                         cb, c);
    });
  };
  Op failed;
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, register_it(failed));
  // Nothing was registered: the MR takes a registration (a registered one would refuse it with
  // STATUS_INVALID_DEVICE_STATE).
  Op second;
  register_it(second);
  EXPECT_NT(STATUS_SUCCESS, second.result());
  EXPECT_EQ(1u, faults_injected(f.get()));
  EXPECT_NT(STATUS_SUCCESS, sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
              return mr->Dispatch->NdkDeregisterMr(mr, cb, c);
            }));
  EXPECT_TRUE(close_object(mr));
}

TEST_P(RequestStatusTest, build_lam_fails_without_writing_the_mapping) {
  AdapterFixture adapter(with_option(GetParam(), "faults", "call.build_lam"));
  ASSERT_TRUE(adapter.opened());
  std::vector<unsigned char> memory(3 * 4096);
  MDL mdl;
  SoftNdkInitializeMdl(&mdl, memory.data(), memory.size());
  std::vector<unsigned char> lam_bytes(256, 0xCD);
  auto* lam = reinterpret_cast<NDK_LOGICAL_ADDRESS_MAPPING*>(lam_bytes.data());
  ULONG size = static_cast<ULONG>(lam_bytes.size());
  ULONG fbo = 0xABCD;
  auto build = [&](Op& op) {
    return op.start([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
      return adapter.d()->NdkBuildLAM(adapter.get(), &mdl, memory.size(), cb, c, lam, &size,
                                      &fbo);
    });
  };
  Op failed;
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, build(failed));
  EXPECT_EQ(256u, size);
  EXPECT_EQ(0xABCDu, fbo);
  for (unsigned char byte : lam_bytes) ASSERT_EQ(0xCD, byte) << "a failed NdkBuildLAM wrote";
  Op built;
  build(built);
  ASSERT_NT(STATUS_SUCCESS, built.result());
  EXPECT_GE(lam->AdapterPageCount, 3u);
  adapter.d()->NdkReleaseLAM(adapter.get(), lam);
  EXPECT_EQ(1u, faults_injected(adapter.get()));
}

TEST_P(RequestStatusTest, resize_cq_fails_and_the_cq_keeps_its_entries) {
  ConnectedPairFixture rig(GetParam());
  ASSERT_TRUE(rig.connect());
  ASSERT_TRUE(set_plan(rig.active.get(), "call.resize_cq"));
  NDK_CQ* cq = rig.active.cq.get();
  // A receive whose flush entry must come through the CQ after the failed resize.
  Region region(rig.active.pd.get(), 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
  ASSERT_NT(STATUS_SUCCESS, region.status());
  ASSERT_NT(STATUS_SUCCESS, post_receive(rig.active.qp, region, 0, 64, ctx(0x77)));
  Op failed;
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, failed.start([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
    return cq->Dispatch->NdkResizeCq(cq, 16, cb, c);
  }));
  Op resized;
  resized.start([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
    return cq->Dispatch->NdkResizeCq(cq, 16, cb, c);
  });
  EXPECT_NT(STATUS_SUCCESS, resized.result());
  rig.active.q()->NdkFlush(rig.active.qp);
  std::vector<NDK_RESULT_EX> flushed;
  ASSERT_TRUE(rig.active.cq.collect(&flushed, 1));
  EXPECT_TRUE(is_completion(flushed[0], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x77),
                            &rig.active));
  EXPECT_EQ(1u, faults_injected(rig.active.get()));
}

TEST_P(RequestStatusTest, moderation_fails_only_with_the_capability) {
  AdapterFixture adapter(with_option(GetParam(), "faults", "call.moderate_cq@1+"));
  ASSERT_TRUE(adapter.opened());
  NDK_CQ* cq = nullptr;
  ASSERT_NT(STATUS_SUCCESS, create_cq(adapter.get(), 16, &cq));
  // With the flag, INSUFFICIENT_RESOURCES is the one failure NDKPI allows it.
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES,
            cq->Dispatch->NdkControlCqInterruptModeration(cq, 100, 4));
  EXPECT_EQ(1u, faults_injected(adapter.get()));
  EXPECT_TRUE(close_object(cq));
  // Without it the answer is STATUS_NOT_SUPPORTED, fault or not.
  AdapterFixture plain(with_option(with_option(GetParam(), "cq_moderation", "0"), "faults",
                                   "call.moderate_cq@1+"));
  ASSERT_TRUE(plain.opened());
  ASSERT_NT(STATUS_SUCCESS, create_cq(plain.get(), 16, &cq));
  EXPECT_NT(STATUS_NOT_SUPPORTED, cq->Dispatch->NdkControlCqInterruptModeration(cq, 100, 4));
  EXPECT_EQ(0u, faults_injected(plain.get()));
  EXPECT_TRUE(close_object(cq));
}

TEST_P(RequestStatusTest, listen_fails_and_leaves_the_address_free) {
  Incoming events;
  PdCqFixture f(GetParam());
  ASSERT_TRUE(f.ok());
  NDK_LISTENER* listener = f.create_listener(events);
  ASSERT_NE(nullptr, listener);
  ASSERT_TRUE(set_plan(f.get(), "call.listen"));
  sockaddr_storage address = f.local();
  Op failed;
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, failed.start([&](NDK_FN_REQUEST_COMPLETION cb, void* c) {
    return listener->Dispatch->NdkListen(listener, conntest::sa(address),
                                         conntest::addr_len(address), cb, c);
  }));
  // Not listening (a listening one refuses a second NdkListen with INVALID_DEVICE_STATE).
  EXPECT_NT(STATUS_SUCCESS, conntest::listen_on(listener, address));
  EXPECT_EQ(1u, faults_injected(f.get()));
}

TEST_P(RequestStatusTest, connect_fails_and_leaves_the_qp_free) {
  ConnectedPairFixture rig(GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  NDK_QP* qp = rig.active.create_qp();
  NDK_CONNECTOR* c = rig.active.create_connector();
  ASSERT_TRUE(qp != nullptr && c != nullptr);
  ASSERT_TRUE(set_plan(rig.active.get(), "call.connect"));
  Op op;
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES,
            conntest::start_connect(op, c, qp, rig.active.local(), rig.destination));
  EXPECT_EQ(0, rig.incoming.count()) << "the failed connect reached the listener";
  ASSERT_TRUE(rig.connect()) << "the failed connect left state behind";
}

INSTANTIATE_TEST_SUITE_P(Uris, RequestStatusTest, ::testing::ValuesIn(fault_uris()),
                         uri_param_name);

// ---------------------------------------------------------------------------------------------
// NdkConnectWithSharedEndpoint: the statuses of a failed connect through an endpoint

class SharedEndpointConnectTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Connects a new connector through `endpoint`; the final status. The connector is closed
  // afterwards: until then it holds its four-tuple (2.2.1g), and the next connect to the same
  // destination would be ADDRESS_ALREADY_EXISTS.
  NTSTATUS attempt(ConnectedPairFixture& rig, NDK_QP* qp, NDK_SHARED_ENDPOINT* endpoint,
                   const sockaddr_storage& destination, bool inline_failure = false) {
    NDK_CONNECTOR* c = rig.active.create_connector();
    EXPECT_NE(nullptr, c);
    Op op;
    NTSTATUS s = conntest::start_connect_shared(op, c, qp, endpoint, destination);
    if (!inline_failure) {
      EXPECT_NT(STATUS_PENDING, s);
      s = op.result();
    }
    EXPECT_TRUE(rig.active.close(c));
    return s;
  }
};

TEST_P(SharedEndpointConnectTest, refused_timed_out_and_failed_connects_keep_the_endpoint) {
  ConnectedPairFixture rig(with_option(GetParam(), "connect_timeout_ms", "200"), GetParam());
  ASSERT_NO_FATAL_FAILURE(rig.listen());
  NDK_SHARED_ENDPOINT* endpoint = nullptr;
  ASSERT_NT(STATUS_SUCCESS, rig.active.create_shared_endpoint(rig.active.local(), &endpoint));
  NDK_QP* qp = rig.active.create_qp();
  ASSERT_NE(nullptr, qp);
  ASSERT_TRUE(set_plan(rig.active.get(), "call.connect"));
  EXPECT_NT(STATUS_INSUFFICIENT_RESOURCES, attempt(rig, qp, endpoint, rig.destination, true));
  ASSERT_TRUE(set_plan(rig.passive.get(), "conn.refuse"));
  EXPECT_NT(STATUS_CONNECTION_REFUSED, attempt(rig, qp, endpoint, rig.destination));
  ASSERT_TRUE(set_plan(rig.active.get(), "conn.timeout"));
  EXPECT_NT(STATUS_IO_TIMEOUT, attempt(rig, qp, endpoint, rig.destination));
  EXPECT_EQ(0, rig.incoming.count()) << "a failed request reached the consumer";
  EXPECT_EQ(2u, faults_injected(rig.active.get()));
  EXPECT_EQ(1u, faults_injected(rig.passive.get()));
  // The QP and the endpoint are intact: the next connect through it is accepted.
  NDK_CONNECTOR* c = rig.active.create_connector();
  ASSERT_NE(nullptr, c);
  Op connect;
  ASSERT_NT(STATUS_PENDING, conntest::start_connect_shared(connect, c, qp, endpoint,
                                                           rig.destination));
  NDK_CONNECTOR* incoming = rig.incoming.next(ndkxx::Wait{kTimeout});
  ASSERT_NE(nullptr, incoming);
  NDK_QP* pqp = rig.passive.create_qp();
  Op accept, complete;
  conntest::start_accept(accept, incoming, pqp, true, &rig.passive.disconnects);
  EXPECT_NT(STATUS_SUCCESS, connect.result());
  conntest::start_complete(complete, c, true, &rig.active.disconnects);
  EXPECT_NT(STATUS_SUCCESS, complete.result());
  EXPECT_NT(STATUS_SUCCESS, accept.result());
}

TEST_P(SharedEndpointConnectTest, destination_no_adapter_owns_is_host_unreachable) {
  NDKTEST_SKIP_UNLESS_LOOPBACK(GetParam(), "a fabric that knows every owner");
  ConnectedPairFixture rig(GetParam());
  NDK_SHARED_ENDPOINT* endpoint = nullptr;
  ASSERT_NT(STATUS_SUCCESS, rig.active.create_shared_endpoint(rig.active.local(), &endpoint));
  NDK_QP* qp = rig.active.create_qp();
  ASSERT_NE(nullptr, qp);
  EXPECT_NT(STATUS_HOST_UNREACHABLE,
            attempt(rig, qp, endpoint, conntest::ip_addr("10.1.2.4", 5000)));
}

INSTANTIATE_TEST_SUITE_P(Uris, SharedEndpointConnectTest, ::testing::ValuesIn(fault_uris()),
                         uri_param_name);

// ---------------------------------------------------------------------------------------------
// A fatal CQ error (cq.error): STATUS_INTERNAL_ERROR, with the consequences of an overrun

class CqErrorTest : public FaultPairTest {};

TEST_P(CqErrorTest, fatal_cq_error_reports_internal_error_and_kills_the_cq_and_its_qp) {
  ASSERT_TRUE(start(4));
  ASSERT_TRUE(set_plan(pas().get(), "cq.error@2"));
  pas().cq.arm(NDK_CQ_NOTIFY_ERRORS);
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 1));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 2));
  // The armed ERRORS notification reports the CQ error (a CQ-level error satisfies every arm
  // type); completions alone never satisfy it.
  EXPECT_TRUE(wait_until([&] {
    return pas().cq.last_notification_status() == STATUS_INTERNAL_ERROR;
  })) << "last notification status " << status_name(pas().cq.last_notification_status())
       << " after " << pas().cq.notification_count() << " notifications";
  EXPECT_EQ(1u, pas().cq.notification_count());
  // A failed CQ reports no completion any more (NDK_FN_CQ_NOTIFICATION_CALLBACK), not even the
  // entry that came before the error.
  EXPECT_TRUE(stray_completions(pas().cq).empty()) << "a failed CQ reported more";
  EXPECT_EQ(1u, counters(pas().get()).CqErrors);
  EXPECT_EQ(1u, faults_injected(pas().get()));
  // Its queue pairs are unusable too: posts on both queues fail, and the connection is aborted
  // (the peer is told).
  EXPECT_TRUE(wait_until([&] { return act().disconnects.count.load() == 1; }))
      << "the peer of the dead QP kept its connection";
  EXPECT_EQ(kReasonAbort, act().disconnects.reason.load());
  EXPECT_NT(STATUS_CONNECTION_INVALID, post_receive(pas().qp, *p, 0, 64, ctx(9)));
  EXPECT_NT(STATUS_CONNECTION_INVALID, post_send(pas().qp, *p, 0, 16, ctx(10)));
  // A later arm of the dead CQ reports nothing more.
  pas().cq.arm(NDK_CQ_NOTIFY_ANY);
  std::this_thread::sleep_for(conntest::kQuiet);
  EXPECT_EQ(1u, pas().cq.notification_count());
}

TEST_P(CqErrorTest, error_while_disarmed_is_reported_at_the_next_arm) {
  ASSERT_TRUE(start(4));
  ASSERT_TRUE(set_plan(pas().get(), "cq.error"));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 1));
  EXPECT_TRUE(wait_until([&] { return counters(pas().get()).CqErrors == 1; }));
  EXPECT_EQ(0u, pas().cq.notification_count()) << "a notification without an arm";
  pas().cq.arm(NDK_CQ_NOTIFY_SOLICITED);
  EXPECT_TRUE(wait_until([&] { return pas().cq.notification_count() == 1; }));
  EXPECT_NT(STATUS_INTERNAL_ERROR, pas().cq.last_notification_status());
  EXPECT_TRUE(stray_completions(pas().cq).empty());
}

INSTANTIATE_TEST_SUITE_P(Uris, CqErrorTest, ::testing::ValuesIn(fault_uris()), uri_param_name);

// ---------------------------------------------------------------------------------------------
// A fatal SRQ error (srq.error): STATUS_INTERNAL_ERROR; the SRQ and its queue pairs unusable

class SrqErrorTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SrqErrorTest, fatal_srq_error_reports_internal_error_and_makes_its_qps_unusable) {
  SrqPairFixture rig(GetParam(), SrqPairFixture::Options{});
  if (rig.passive.get() != nullptr && rig.passive.info().MaxSrqDepth == 0)
    GTEST_SKIP() << "adapter reports MaxSrqDepth == 0 (no SRQ)";
  ASSERT_TRUE(rig.create());
  ASSERT_TRUE(rig.connect(0));
  ASSERT_TRUE(rig.connect(1));
  Region a(rig.active.pd, 64 * 1024, kMrAll);
  Region p(rig.passive.pd, 64 * 1024, kMrAll);
  ASSERT_TRUE(a.status() == STATUS_SUCCESS && p.status() == STATUS_SUCCESS);
  for (int i = 0; i < 4; ++i)
    ASSERT_NT(STATUS_SUCCESS, rig.srq_receive(p, i * 1024, 1024, ctx(0x300 + i)));
  ASSERT_TRUE(set_plan(rig.passive.get(), "srq.error@2"));
  ASSERT_NT(STATUS_SUCCESS, post_send(rig.aqp[0], a, 0, 16, ctx(1)));
  NDK_RESULT_EX r{};
  ASSERT_TRUE(rig.prcq[0].next(&r));
  EXPECT_TRUE(is_completion(r, STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x300), &rig.pctx[0]));
  // The second receive the SRQ would hand out finds it broken.
  ASSERT_NT(STATUS_SUCCESS, post_send(rig.aqp[0], a, 0, 16, ctx(2)));
  EXPECT_TRUE(wait_until([&] { return rig.notifications.load() == 1; }))
      << "no SRQ notification (none was armed: a fatal error is reported anyway)";
  EXPECT_NT(STATUS_INTERNAL_ERROR, rig.notification_status.load());
  // The queue pair whose Send met the broken SRQ aborts its connection (a local catastrophic
  // error): the sender's request does not succeed there (iWARP: it may have, once handed over).
  EXPECT_TRUE(wait_until([&] { return rig.adis[0].count.load() == 1; }))
      << "the peer of the queue pair kept its connection";
  std::vector<NDK_RESULT_EX> sent;
  ASSERT_TRUE(rig.active.cq.collect(&sent, 2));
  EXPECT_TRUE(is_completion(sent[0], STATUS_SUCCESS, NdkOperationTypeSend, ctx(1), &rig.actx[0]));
  if (!rig.active.iwarp()) {
    EXPECT_NT(STATUS_CONNECTION_ABORTED, sent[1].Status);
  }
  // Nothing more completes: the three receives left in the SRQ never complete, on either
  // queue pair.
  std::this_thread::sleep_for(conntest::kQuiet);
  EXPECT_TRUE(stray_completions(rig.prcq[0]).empty());
  EXPECT_TRUE(stray_completions(rig.prcq[1]).empty());
  // Neither the SRQ nor its queue pairs can be used: the SRQ takes no receive and no new
  // settings, and the other queue pair, which never met the error, takes no request.
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE, rig.srq_receive(p, 8192, 64, ctx(0x400)));
  EXPECT_NT(STATUS_INVALID_DEVICE_STATE, rig.modify(0, 2));
  EXPECT_NT(STATUS_CONNECTION_INVALID, post_send(rig.pqp[1], p, 0, 16, ctx(3)));
  EXPECT_EQ(1, rig.notifications.load());
  EXPECT_EQ(1u, faults_injected(rig.passive.get()));
}

INSTANTIATE_TEST_SUITE_P(Uris, SrqErrorTest, ::testing::ValuesIn(fault_uris()), uri_param_name);

// ---------------------------------------------------------------------------------------------
// A failed adapter open (call.open_adapter)

class OpenStatusTest : public ::testing::TestWithParam<std::string> {
 protected:
  // SoftNdkOpenAdapter's status; the adapter must stay untouched on a failure.
  NTSTATUS open(const std::string& uri) {
    NDK_ADAPTER* const untouched = reinterpret_cast<NDK_ADAPTER*>(uintptr_t{0x5A5A5A50});
    NDK_ADAPTER* adapter = untouched;
    NTSTATUS status = SoftNdkOpenAdapter(uri.c_str(), &adapter);
    if (status == STATUS_SUCCESS) {
      EXPECT_NE(untouched, adapter);
      SoftNdkCloseAdapter(adapter);
    } else {
      EXPECT_EQ(untouched, adapter) << "a failed open wrote the adapter";
    }
    return status;
  }
};

TEST_P(OpenStatusTest, open_fails_not_ready_or_out_of_resources) {
  EXPECT_NT(NDIS_STATUS_ADAPTER_NOT_READY,
            open(with_option(GetParam(), "faults",
                             "call.open_adapter:NDIS_STATUS_ADAPTER_NOT_READY")));
  // The default action: STATUS_INSUFFICIENT_RESOURCES, which is NDIS_STATUS_RESOURCES.
  EXPECT_NT(NDIS_STATUS_RESOURCES, open(with_option(GetParam(), "faults", "call.open_adapter")));
  // Each adapter has its own plan: its open is the only event of the point, so @2 never fires.
  EXPECT_NT(STATUS_SUCCESS, open(with_option(GetParam(), "faults", "call.open_adapter@2")));
  // The open is synchronous: it cannot pend.
  EXPECT_NT(STATUS_INVALID_PARAMETER,
            open(with_option(GetParam(), "faults", "call.open_adapter:pend")));
  // For a consumer whose URI cannot change, from the environment.
  ASSERT_EQ(0, setenv("SOFTNDK_FAULTS", "call.open_adapter:NDIS_STATUS_ADAPTER_NOT_READY", 1));
  EXPECT_NT(NDIS_STATUS_ADAPTER_NOT_READY, open(GetParam()));
  unsetenv("SOFTNDK_FAULTS");
  EXPECT_NT(STATUS_SUCCESS, open(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Uris, OpenStatusTest, ::testing::ValuesIn(fault_uris()), uri_param_name);

// ---------------------------------------------------------------------------------------------
// Loopback only (peer.silent, peer.vanish): a disconnect whose handshake times out, a
// connection lost with requests outstanding

class LostLinkStatusTest : public FaultPairTest {};

TEST_P(LostLinkStatusTest, disconnect_the_peer_never_answers_times_out) {
  PairOptions options;
  options.active_uri = with_option(GetParam(), "connect_timeout_ms", "200");
  ASSERT_TRUE(start(2, options));
  ASSERT_NT(STATUS_SUCCESS, post_receive(act().qp, *a, 8192, 64, ctx(0x200)));
  ASSERT_TRUE(set_plan(act().get(), "peer.silent@msgs=1"));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 1));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 2));  // the link falls silent here
  std::vector<NDK_RESULT_EX> sent;
  ASSERT_TRUE(act().cq.collect(&sent, 2));
  // The disconnect reaches no one and nothing answers it: STATUS_IO_TIMEOUT after the
  // adapter's connect_timeout_ms.
  EXPECT_NT(STATUS_IO_TIMEOUT, conntest::disconnect(act().connector));
  EXPECT_EQ(1u, faults_injected(act().get()));
  // The connection is over on this side: its outstanding receive is flushed, nothing posts.
  std::vector<NDK_RESULT_EX> flushed;
  ASSERT_TRUE(act().cq.collect(&flushed, 1));
  EXPECT_TRUE(is_completion(flushed[0], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x200),
                            &act()));
  EXPECT_EQ(0, act().disconnects.count.load()) << "our own disconnect raised our event";
}

TEST_P(LostLinkStatusTest, connection_lost_with_nothing_refused_cancels_everything_outstanding) {
  // The peer adapter disappears (peer.vanish) as the second Send is about to leave: the link
  // refused no message (the one refused by the peer is reset: DataFaultTest's CRC case), so
  // every request still outstanding on either side is cancelled, and both sides are told.
  ASSERT_TRUE(start(4));
  ASSERT_NT(STATUS_SUCCESS, post_receive(act().qp, *a, 8192, 64, ctx(0x200)));
  ASSERT_TRUE(set_plan(act().get(), "peer.vanish@msgs=1"));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 1));
  EXPECT_NT(STATUS_SUCCESS, send(0, 16, 2));
  std::vector<NDK_RESULT_EX> done;
  ASSERT_TRUE(act().cq.collect(&done, 3));
  // One order per queue only (4.1.3c): the sends in posting order, the receive anywhere.
  std::vector<NDK_RESULT_EX> sends, receives;
  for (const NDK_RESULT_EX& r : done)
    (r.RequestContext == ctx(0x200) ? receives : sends).push_back(r);
  ASSERT_EQ(2u, sends.size());
  ASSERT_EQ(1u, receives.size());
  EXPECT_TRUE(is_completion(sends[0], STATUS_SUCCESS, NdkOperationTypeSend, ctx(1), &act()));
  EXPECT_TRUE(is_completion(sends[1], STATUS_CANCELLED, NdkOperationTypeSend, ctx(2), &act()));
  EXPECT_TRUE(is_completion(receives[0], STATUS_CANCELLED, NdkOperationTypeReceive, ctx(0x200),
                            &act()));
  std::vector<NDK_RESULT_EX> received;
  ASSERT_TRUE(pas().cq.collect(&received, 4));
  EXPECT_TRUE(is_completion(received[0], STATUS_SUCCESS, NdkOperationTypeReceive, ctx(0x100),
                            &pas()));
  for (int i = 1; i < 4; ++i)
    EXPECT_TRUE(is_completion(received[i], STATUS_CANCELLED, NdkOperationTypeReceive,
                              ctx(0x100 + i), &pas()));
  EXPECT_TRUE(both_disconnected(kReasonAbort));
  EXPECT_EQ(1u, counters(act().get()).ConnectionErrors);
  EXPECT_TRUE(stray_completions(act().cq).empty());
  EXPECT_TRUE(stray_completions(pas().cq).empty());
}

INSTANTIATE_TEST_SUITE_P(Uris, LostLinkStatusTest, ::testing::ValuesIn(loopback_uris()),
                         uri_param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LostLinkStatusTest);

}  // namespace
}  // namespace faulttest
