// One softndk session over tcp, for scripts/wireshark-check.sh to capture:
// connection 1 (listener on <port>): connect with private data, Send, RDMA Write, RDMA Read,
// Send with Invalidate, graceful disconnect; connection 2 (listener on <port>+1): an RDMA Write
// to an STag the peer never issued provokes a DDP-layer Terminate. Public ABI only.
//   tcp_capture_session <ip> <port>     prints "fpdus=<n> connections=2" on success
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "connection_helpers.h"
#include "memory_helpers.h"

namespace {

using namespace conntest;

constexpr ULONG kFlags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                         NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;

std::string g_ip;
uint16_t g_port = 0;
int g_fpdus = 0;  // FPDUs this session puts on the wire, both directions

std::string uri() {
  return g_ip.find(':') != std::string::npos ? "tcp://[" + g_ip + "]" : "tcp://" + g_ip;
}

NDK_RESULT_EX next(PdCqFixture& node) {
  NDK_RESULT_EX r{};
  EXPECT_TRUE(node.cq.next(&r));
  return r;
}

TEST(Capture, session) {
  Incoming incoming;
  PdCqFixture a(uri()), p(uri());
  ASSERT_TRUE(a.ok() && p.ok());
  NDK_LISTENER* listener = p.create_listener(incoming);
  ASSERT_NT(STATUS_SUCCESS, listen_on(listener, ip_addr(g_ip.c_str(), g_port)));
  NDK_QP* aqp = a.create_qp();
  NDK_QP* pqp = p.create_qp();
  Region pr(p.pd, 8192, kFlags), ar(a.pd, 8192, kFlags, 0x5C);
  ASSERT_NT(STATUS_SUCCESS, post_receive(pqp, pr, 0, 1024, (void*)1));
  ASSERT_NT(STATUS_SUCCESS, post_receive(pqp, pr, 1024, 1024, (void*)2));

  DisconnectEvents pe, ae;
  HandshakeSpec spec;
  spec.connect_data = {'c', 'a', 'p', 't', 'u', 'r', 'e', '-', 'r', 'e', 'q'};
  spec.accept_data = {'c', 'a', 'p', 't', 'u', 'r', 'e', '-', 'r', 'e', 'p'};
  spec.active_events = &ae;
  spec.passive_events = &pe;
  Established e;
  ASSERT_NO_FATAL_FAILURE(
      establish(a, aqp, p, pqp, incoming, ip_addr(g_ip.c_str(), g_port), spec, &e));
  g_fpdus += 1;  // the Write RTR

  // A fast-registered region on the passive side, to be invalidated by the active side's
  // Send with Invalidate (base address 0: see the core bug noted in remote_access_test.cpp).
  ndktest::mem::FastRegion fr(p, p.pd, 2 * 4096, 0, 8192, 2, true);
  ASSERT_TRUE(fr.ok());
  ASSERT_NT(STATUS_SUCCESS,
            fr.post(pqp, (void*)3,
                    NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE |
                        NDK_OP_FLAG_ALLOW_LOCAL_WRITE,
                    0));
  NDK_RESULT_EX r = next(p);
  ASSERT_NT(STATUS_SUCCESS, r.Status);
  UINT32 mw_token = fr.token;

  ASSERT_NT(STATUS_SUCCESS, post_send(aqp, ar, 0, 100, (void*)10));
  r = next(a);
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  r = next(p);
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  g_fpdus += 1;

  NDK_SGE sge = ar.sge(0, 512);
  ASSERT_NT(STATUS_SUCCESS, aqp->Dispatch->NdkWrite(aqp, (void*)11, &sge, 1, pr.address(2048),
                                                    pr.remote_token(), 0));
  r = next(a);
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  g_fpdus += 1;

  sge = ar.sge(1024, 512);
  ASSERT_NT(STATUS_SUCCESS, aqp->Dispatch->NdkRead(aqp, (void*)12, &sge, 1, pr.address(2048),
                                                   pr.remote_token(), 0));
  r = next(a);
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  g_fpdus += 2;  // Read Request + Read Response

  sge = ar.sge(0, 64);
  ASSERT_NT(STATUS_SUCCESS,
            aqp->Dispatch->NdkSendAndInvalidate(aqp, (void*)13, &sge, 1, 0, mw_token));
  r = next(a);
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  r = next(p);
  EXPECT_NT(STATUS_SUCCESS, r.Status);
  EXPECT_EQ(NdkOperationTypeReceiveAndInvalidate, r.Type);
  g_fpdus += 1;

  EXPECT_NT(STATUS_SUCCESS, disconnect(e.active));
  EXPECT_TRUE(wait_until([&] { return pe.count.load() == 1; }));

  // Connection 2: a Write to an STag nobody issued -> Terminate DDP / tagged / invalid STag.
  NDK_LISTENER* listener2 = p.create_listener(incoming);
  ASSERT_NT(STATUS_SUCCESS, listen_on(listener2, ip_addr(g_ip.c_str(), g_port + 1)));
  NDK_QP* aqp2 = a.create_qp();
  NDK_QP* pqp2 = p.create_qp();
  DisconnectEvents pe2, ae2;
  HandshakeSpec spec2;
  spec2.active_events = &ae2;
  spec2.passive_events = &pe2;
  Established e2;
  ASSERT_NO_FATAL_FAILURE(
      establish(a, aqp2, p, pqp2, incoming, ip_addr(g_ip.c_str(), g_port + 1), spec2, &e2));
  g_fpdus += 1;  // RTR
  sge = ar.sge(0, 16);
  ASSERT_NT(STATUS_SUCCESS,
            aqp2->Dispatch->NdkWrite(aqp2, (void*)20, &sge, 1, 0x1000, 0x00DEAD00, 0));
  g_fpdus += 2;  // the Write and the Terminate it provokes
  EXPECT_TRUE(wait_until([&] { return pe2.count.load() == 1 && ae2.count.load() == 1; }));
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: tcp_capture_session <ip> <port>\n");
    return 2;
  }
  g_ip = argv[1];
  g_port = static_cast<uint16_t>(std::atoi(argv[2]));
  int status = RUN_ALL_TESTS();
  if (status == 0) std::printf("fpdus=%d connections=2\n", g_fpdus);
  return status;
}
