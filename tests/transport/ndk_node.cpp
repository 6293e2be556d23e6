// A softndk node over the public ABI only, for the cross-process tests of the tcp and shm
// transports (built twice, as tcp_node and shm_node: its messages carry the program's name):
// `server` listens and accepts one connection (three in ops mode), `client` connects to it.
//   tcp_node|shm_node server <uri> <port-file> [stream|stream-nodump|ops]
//   tcp_node|shm_node client <uri> <server-ip> <port> [stream|stream-nodump|ops]
// Normal mode: private data both ways, Send/Receive, RDMA Write and RDMA Read, then a
// graceful disconnect; exit 0 when every check passed. Stream mode: both sides keep requests in
// flight until the link dies (a test cuts the link or kills one side); then every posted request
// must complete (with an error where it could not finish) and the disconnect must be reported.
// "nodump" makes the process non-dumpable first (prctl(PR_SET_DUMPABLE, 0)): a peer may then not
// attach to its memory (process_vm_readv/writev fail with EPERM), as in hardened containers.
// Ops mode (ndk_node_ops.cpp): SRQ, fast-register, send-and-invalidate, memory windows and
// refused remote accesses between the two processes.
// Every mode checks at the end that the process holds exactly the descriptors it held before
// the adapter opened (no leaked socket, memfd, eventfd or epoll descriptor).
#include <dirent.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "ndk_node.h"

namespace ndk_node {

const char* g_name = "ndk_node";
DisconnectEvents g_disconnects;
ConnectEvents g_incoming;

void fail(const char* what, NTSTATUS status) {
  std::fprintf(stderr, "%s: %s failed: %s\n", g_name, what, SoftNdkStatusName(status));
  std::fflush(stderr);
  _exit(1);
}

Node::Node(const std::string& uri, bool with_srq) : adapter(uri) {
  if (adapter.open_status() != STATUS_SUCCESS) fail("open adapter", adapter.open_status());
  const Wait wait{kWait};
  pd.reset(created(create<NDK_PD>(
                       [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_PD** out) {
                         return adapter.d()->NdkCreatePd(adapter.get(), cb, ctx, out);
                       },
                       wait),
                   "create PD"));
  NTSTATUS s = cq.create(adapter.get(), 4 * kDepth, wait);
  if (s != STATUS_SUCCESS) fail("create CQ", s);
  if (with_srq) {
    srq.reset(created(create<NDK_SRQ>(
                          [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_SRQ** out) {
                            return pd->Dispatch->NdkCreateSrq(pd, kDepth, 4, 0, nullptr, nullptr,
                                                              nullptr, cb, ctx, out);
                          },
                          wait),
                      "create SRQ"));
  }
  create_qp();
  const ULONG access = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                       NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;
  memory = std::make_unique<Region>(pd, 4u << 20, access, 0, wait);
  if (memory->status() != STATUS_SUCCESS) fail("register MR", memory->status());
  token = memory->remote_token();
}

void Node::create_qp() {
  qp.reset();
  qp.reset(created(create<NDK_QP>(
                       [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_QP** out) {
                         if (srq != nullptr)
                           return pd->Dispatch->NdkCreateQpWithSrq(pd, cq.get(), cq.get(), srq,
                                                                   nullptr, kDepth, 4, 0, cb, ctx,
                                                                   out);
                         return pd->Dispatch->NdkCreateQp(pd, cq.get(), cq.get(), nullptr, kDepth,
                                                          kDepth, 4, 4, 0, cb, ctx, out);
                       },
                       Wait{kWait}),
                   "create QP"));
}

void Node::post_receive(size_t slot) {
  NDK_SGE s = sge(slot * kMessage, kMessage);
  void* context = reinterpret_cast<void*>(slot + 1);
  NTSTATUS st = srq != nullptr ? srq->Dispatch->NdkSrqReceive(srq, context, &s, 1)
                               : qp->Dispatch->NdkReceive(qp, context, &s, 1);
  if (st != STATUS_SUCCESS) fail("post receive", st);
  ++posted_receives;
}

NDK_RESULT_EX Node::next(NDK_OPERATION_TYPE type, bool any_status) {
  for (auto it = early.begin(); it != early.end(); ++it) {
    if (it->Type == type) {
      NDK_RESULT_EX r = *it;
      early.erase(it);
      return r;
    }
  }
  const Clock::time_point deadline = Clock::now() + kWait;
  for (;;) {
    NDK_RESULT_EX r{};
    const Clock::duration left = deadline - Clock::now();
    if (left <= Clock::duration::zero() || !cq.next(&r, left))
      fail("waiting for a completion", STATUS_IO_TIMEOUT);
    if (r.Status != STATUS_SUCCESS && !any_status) fail("request completion", r.Status);
    if (r.Type == type) return r;
    early.push_back(r);
  }
}

void fill(unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>((i * 131 + seed) >> 3);
}
bool check(const unsigned char* p, size_t n, unsigned seed, size_t first) {
  for (size_t i = first; i < n; ++i)
    if (p[i] != static_cast<unsigned char>((i * 131 + seed) >> 3)) return false;
  return true;
}

std::string ip_of_uri(const std::string& uri) {
  if (uri.rfind("shm://", 0) == 0) return "127.0.0.1";
  std::string rest = uri.substr(uri.find("://") + 3);
  rest = rest.substr(0, rest.find('?'));
  if (!rest.empty() && rest.front() == '[') rest = rest.substr(1, rest.find(']') - 1);
  return rest;
}

void send(Node& n, size_t offset, ULONG length, void* context) {
  NDK_SGE s = n.sge(offset, length);
  NTSTATUS st = n.qp->Dispatch->NdkSend(n.qp, context, &s, 1, 0);
  if (st != STATUS_SUCCESS) fail("post send", st);
}

}  // namespace ndk_node

namespace {

using namespace ndk_node;

constexpr ULONG kWindow = 16;  // stream mode: requests of each kind kept in flight

int open_descriptors() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (readdir(dir) != nullptr) ++count;
  closedir(dir);
  return count;
}

// ---------------------------------------------------------------------------------------------
// Default mode

void server_exchange(Node& n) {
  // 1. The client's first message: its advertisement + pattern 1.
  NDK_RESULT_EX r = n.next(NdkOperationTypeReceive);
  size_t slot = reinterpret_cast<uintptr_t>(r.RequestContext) - 1;
  if (r.BytesTransferred != kMessage) fail("first message length");
  Advert peer;
  std::memcpy(&peer, n.at(slot * kMessage), sizeof peer);
  if (!check(n.at(slot * kMessage), kMessage, 1, sizeof peer))
    fail("first message contents");
  // 2. RDMA Write pattern 2 into the client's target, then a Send with our advertisement.
  fill(n.at(kSendArea), kMessage, 2);
  NDK_SGE s = n.sge(kSendArea, kMessage);
  NTSTATUS st = n.qp->Dispatch->NdkWrite(n.qp, nullptr, &s, 1, peer.address, peer.token, 0);
  if (st != STATUS_SUCCESS) fail("post write", st);
  n.next(NdkOperationTypeWrite);
  fill(n.at(kTargetArea), kMessage, 4);  // what the client will read
  Advert mine{reinterpret_cast<uintptr_t>(n.at(kTargetArea)), n.token, kMessage};
  fill(n.at(kSendArea + kMessage), kMessage, 3);
  std::memcpy(n.at(kSendArea + kMessage), &mine, sizeof mine);
  send(n, kSendArea + kMessage, kMessage, nullptr);
  n.next(NdkOperationTypeSend);
  // 3. "BYE", then the client's disconnect.
  r = n.next(NdkOperationTypeReceive);
  slot = reinterpret_cast<uintptr_t>(r.RequestContext) - 1;
  if (r.BytesTransferred != 3 || std::memcmp(n.at(slot * kMessage), "BYE", 3) != 0)
    fail("BYE message");
  if (!wait_until([] { return g_disconnects.count.load() != 0; }, kWait))
    fail("waiting for the disconnect event", STATUS_IO_TIMEOUT);
  st = disconnect(n.connector, Wait{kWait}).status;
  if (st != STATUS_SUCCESS) fail("server disconnect", st);
  std::printf("%s server: ok (disconnect reason %lu)\n", g_name,
              (unsigned long)g_disconnects.reason.load());
}

void client_exchange(Node& n) {
  Advert mine{reinterpret_cast<uintptr_t>(n.at(kTargetArea)), n.token, kMessage};
  fill(n.at(kSendArea), kMessage, 1);
  std::memcpy(n.at(kSendArea), &mine, sizeof mine);
  send(n, kSendArea, kMessage, nullptr);
  n.next(NdkOperationTypeSend);
  // The server's Send arrives after its RDMA Write has been placed (RFC 5040 section 5.5).
  NDK_RESULT_EX r = n.next(NdkOperationTypeReceive);
  size_t slot = reinterpret_cast<uintptr_t>(r.RequestContext) - 1;
  if (!check(n.at(kTargetArea), kMessage, 2)) fail("RDMA Write contents");
  Advert peer;
  std::memcpy(&peer, n.at(slot * kMessage), sizeof peer);
  if (!check(n.at(slot * kMessage), kMessage, 3, sizeof peer))
    fail("second message contents");
  // RDMA Read the server's target into our send area.
  NDK_SGE s = n.sge(kSendArea + kMessage, kMessage);
  NTSTATUS st = n.qp->Dispatch->NdkRead(n.qp, nullptr, &s, 1, peer.address, peer.token, 0);
  if (st != STATUS_SUCCESS) fail("post read", st);
  n.next(NdkOperationTypeRead);
  if (!check(n.at(kSendArea + kMessage), kMessage, 4)) fail("RDMA Read contents");
  std::memcpy(n.at(kSendArea + 2 * kMessage), "BYE", 3);
  send(n, kSendArea + 2 * kMessage, 3, nullptr);
  n.next(NdkOperationTypeSend);
  st = disconnect(n.connector, Wait{kWait}).status;
  if (st != STATUS_SUCCESS) fail("client disconnect", st);
  std::printf("%s client: ok\n", g_name);
}

// ---------------------------------------------------------------------------------------------
// Stream mode: traffic both ways until the link dies.

void stream(Node& n, const char* role) {
  // Sends complete when handed to TCP, so a stream of them would outrun the peer's receives:
  // after one advertisement Send each way, the traffic is RDMA Writes and Reads.
  uint64_t posted = 0, completed = 0, succeeded = 0, failed = 0;
  uint64_t outstanding_writes = 0, outstanding_reads = 0;
  constexpr uint64_t kReads = 4;
  bool link_dead = false;
  Advert peer{};
  bool have_peer = false;
  Advert mine{reinterpret_cast<uintptr_t>(n.at(kTargetArea)), n.token, kMessage};
  std::memcpy(n.at(kSendArea), &mine, sizeof mine);
  send(n, kSendArea, kMessage, reinterpret_cast<void*>(1));
  ++posted;
  auto last_progress = Clock::now();
  auto dead_since = Clock::time_point{};
  for (;;) {
    NDK_RESULT_EX results[32];
    ULONG got = n.cq.poll(results, 32);
    for (ULONG i = 0; i < got; ++i) {
      const NDK_RESULT_EX& r = results[i];
      if (r.Type == NdkOperationTypeReceive) {
        if (r.Status == STATUS_SUCCESS && !have_peer) {
          size_t slot = reinterpret_cast<uintptr_t>(r.RequestContext) - 1;
          std::memcpy(&peer, n.at(slot * kMessage), sizeof peer);
          have_peer = true;
        }
        continue;
      }
      ++completed;
      if (r.Status == STATUS_SUCCESS) {
        ++succeeded;
      } else {
        ++failed;
        link_dead = true;
      }
      if (r.Type == NdkOperationTypeWrite) --outstanding_writes;
      if (r.Type == NdkOperationTypeRead) --outstanding_reads;
      last_progress = Clock::now();
    }
    if (g_disconnects.count.load() != 0) link_dead = true;
    if (!link_dead && have_peer) {
      while (outstanding_writes < kWindow) {
        NDK_SGE s = n.sge(kSendArea, kMessage);
        NTSTATUS st = n.qp->Dispatch->NdkWrite(n.qp, reinterpret_cast<void*>(3), &s, 1,
                                               peer.address, peer.token, 0);
        if (st != STATUS_SUCCESS) {
          link_dead = true;
          break;
        }
        ++posted;
        ++outstanding_writes;
      }
      while (!link_dead && outstanding_reads < kReads) {
        NDK_SGE s = n.sge(kSendArea + kMessage, kMessage);
        // From a part of the peer's target its Writes never touch (no data race by design).
        NTSTATUS st = n.qp->Dispatch->NdkRead(n.qp, reinterpret_cast<void*>(4), &s, 1,
                                              peer.address + (512u << 10), peer.token, 0);
        if (st != STATUS_SUCCESS) {
          link_dead = true;
          break;
        }
        ++posted;
        ++outstanding_reads;
      }
    }
    if (link_dead && dead_since == Clock::time_point{}) {
      dead_since = Clock::now();
      std::printf("%s %s: link down after %llu successful requests\n", g_name, role,
                  (unsigned long long)succeeded);
      std::fflush(stdout);
    }
    if (link_dead && completed == posted && g_disconnects.count.load() != 0) break;
    if (link_dead && Clock::now() - dead_since > std::chrono::seconds(30)) {
      std::printf("%s %s: HANG posted=%llu completed=%llu disconnect_events=%d\n", g_name, role,
                  (unsigned long long)posted, (unsigned long long)completed,
                  g_disconnects.count.load());
      std::fflush(stdout);
      _exit(2);
    }
    if (!link_dead && Clock::now() - last_progress > std::chrono::seconds(120)) {
      std::printf("%s %s: no progress and no error for 120 s\n", g_name, role);
      std::fflush(stdout);
      _exit(3);
    }
    if (got == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::printf(
      "%s %s: link-cut ok posted=%llu completed=%llu succeeded=%llu failed=%llu "
      "disconnect_events=%d reason=%lu\n",
      g_name, role, (unsigned long long)posted, (unsigned long long)completed,
      (unsigned long long)succeeded, (unsigned long long)failed, g_disconnects.count.load(),
      (unsigned long)g_disconnects.reason.load());
  std::fflush(stdout);
}

int run_server(const std::string& uri, const std::string& port_file, bool streaming) {
  Node n(uri);
  listen_and_publish(n, uri, port_file);
  for (size_t slot = 0; slot < 32; ++slot) n.post_receive(slot);
  accept_one(n);
  if (streaming) {
    stream(n, "server");
  } else {
    server_exchange(n);
  }
  return 0;
}

int run_client(const std::string& uri, const std::string& ip, uint16_t port, bool streaming) {
  Node n(uri);
  for (size_t slot = 0; slot < 32; ++slot) n.post_receive(slot);
  connect_to(n, uri, ip, port);
  if (streaming) {
    std::printf("%s client: connected\n", g_name);  // the script kills the server after this
    std::fflush(stdout);
    stream(n, "client");
  } else {
    client_exchange(n);
  }
  return 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Connection setup, shared with the ops mode

namespace ndk_node {

void listen_and_publish(Node& n, const std::string& uri, const std::string& port_file) {
  n.listener.reset(created(create_listener(n.adapter.get(), g_incoming, Wait{kWait}),
                           "create listener"));
  sockaddr_storage local = ip_address(ip_of_uri(uri), 0);
  NTSTATUS s = listen(n.listener, local, Wait{kWait}).status;
  if (s != STATUS_SUCCESS) fail("listen", s);
  s = local_address(n.listener.get(), &local);
  if (s != STATUS_SUCCESS) fail("listener address", s);
  std::string tmp = port_file + ".tmp";
  std::ofstream(tmp) << port_of(local) << "\n";
  std::rename(tmp.c_str(), port_file.c_str());
}

void accept_one(Node& n) {
  n.connector.reset(g_incoming.next(Wait{std::chrono::seconds(60)}));
  if (n.connector == nullptr) fail("waiting for a connect request", STATUS_IO_TIMEOUT);
  char data[256] = {};
  ULONG data_length = sizeof data;
  NTSTATUS s = n.connector->Dispatch->NdkGetConnectionData(n.connector, nullptr, nullptr, data,
                                                           &data_length);
  if (s != STATUS_SUCCESS || std::strcmp(data, "softndk-client") != 0)
    fail("request private data", s);
  static const char kReply[] = "softndk-server";
  Request accept;
  start_accept(accept, n.connector, n.qp, {8, 8, kReply, sizeof kReply}, {&g_disconnects, true});
  s = accept.finish(Wait{kWait}).status;
  if (s != STATUS_SUCCESS) fail("accept", s);
}

void connect_to(Node& n, const std::string& uri, const std::string& ip, uint16_t port) {
  n.connector.reset(created(create_connector(n.adapter.get(), Wait{kWait}), "create connector"));
  static const char kRequest[] = "softndk-client";
  Request connect;
  start_connect(connect, n.connector, n.qp, ip_address(ip_of_uri(uri), 0), ip_address(ip, port),
                {8, 8, kRequest, sizeof kRequest});
  NTSTATUS s = connect.finish(Wait{kWait}).status;
  if (s != STATUS_SUCCESS) fail("connect", s);
  char data[256] = {};
  ULONG data_length = sizeof data;
  s = n.connector->Dispatch->NdkGetConnectionData(n.connector, nullptr, nullptr, data,
                                                  &data_length);
  if (s != STATUS_SUCCESS || std::strcmp(data, "softndk-server") != 0)
    fail("reply private data", s);
  Request complete;
  start_complete_connect(complete, n.connector, {&g_disconnects, true});
  s = complete.finish(Wait{kWait}).status;
  if (s != STATUS_SUCCESS) fail("complete connect", s);
}

}  // namespace ndk_node

using namespace ndk_node;

int main(int argc, char** argv) {
  if (argc > 0) {
    const char* slash = std::strrchr(argv[0], '/');
    g_name = slash != nullptr ? slash + 1 : argv[0];
  }
  set_close_failure_handler([](int, const Outcome& outcome) { fail("close", outcome.status); });
  std::string role = argc > 1 ? argv[1] : "";
  std::string mode = role == "server" && argc > 4   ? argv[4]
                     : role == "client" && argc > 5 ? argv[5]
                                                    : "";
  bool streaming = mode.rfind("stream", 0) == 0;
  const bool ops = mode == "ops";
  if (mode.find("nodump") != std::string::npos && prctl(PR_SET_DUMPABLE, 0) != 0)
    fail("prctl(PR_SET_DUMPABLE, 0)");
  const int descriptors = open_descriptors();
  int rc = 2;
  if (ops && role == "server") {
    rc = run_ops_server(argv[2], argv[3]);
  } else if (ops && role == "client") {
    rc = run_ops_client(argv[2], argv[3], static_cast<uint16_t>(std::atoi(argv[4])));
  } else if (role == "server" && argc >= 4) {
    rc = run_server(argv[2], argv[3], streaming);
  } else if (role == "client" && argc >= 5) {
    rc = run_client(argv[2], argv[3], static_cast<uint16_t>(std::atoi(argv[4])), streaming);
  }
  if (rc != 2) {
    const int after = open_descriptors();
    if (after != descriptors) {
      std::fprintf(stderr, "%s: %d descriptors open after the adapter closed, %d before\n",
                   g_name, after, descriptors);
      return 1;
    }
    std::printf("%s %s: no descriptor leaked (%d open)\n", g_name, role.c_str(),
                after);
    return rc;
  }
  std::fprintf(stderr,
               "usage: %s server <uri> <port-file> [stream|stream-nodump|ops]\n"
               "       %s client <uri> <server-ip> <port> [stream|stream-nodump|ops]\n",
               g_name, g_name);
  return 2;
}
