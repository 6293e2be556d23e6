// What the modes of the cross-process node share (ndk_node.cpp: exchange, stream and main;
// ndk_node_ops.cpp: the memory operations): the failure exit, one side's NDK objects (Node),
// patterns, the advertisement of a remote buffer and the connection handshake. Public ABI and
// src/ndkxx only.
#pragma once

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "ndkxx/adapter.h"
#include "ndkxx/address.h"
#include "ndkxx/call.h"
#include "ndkxx/connection.h"
#include "ndkxx/cq.h"
#include "ndkxx/handle.h"
#include "ndkxx/memory.h"

namespace ndk_node {

using namespace softndk::ndkxx;

constexpr auto kWait = std::chrono::seconds(20);  // every wait is bounded
constexpr size_t kMessage = 64 * 1024;
constexpr ULONG kDepth = 64;
constexpr size_t kSendArea = 2u << 20;
constexpr size_t kTargetArea = 3u << 20;

extern const char* g_name;               // the program's name (tcp_node, shm_node)
extern DisconnectEvents g_disconnects;  // of the current connection (NdkAcceptEx / NdkCompleteConnectEx)
extern ConnectEvents g_incoming;         // the server's listener

// Prints "<program>: <what> failed: <status>" and exits 1.
[[noreturn]] void fail(const char* what, NTSTATUS status = 0);

template <class T>
T* created(const Created<T>& created, const char* what) {
  if (!created.ok()) fail(what, created.status);
  return created.object;
}

// One side: adapter, PD, one CQ for everything, a QP (with an SRQ for its receives when
// `with_srq`) and 4 MiB registered for local and remote access:
// [0, 2M) receive buffers (kMessage each), [2M, 3M) send data, [3M, 4M) RDMA target.
struct Node {
  explicit Node(const std::string& uri, bool with_srq = false);
  // A new QP in place of the current one (a QP serves one connection; the SRQ outlives it).
  void create_qp();
  unsigned char* at(size_t offset) { return memory->data() + offset; }
  NDK_SGE sge(size_t offset, ULONG length) { return memory->sge(offset, length); }
  // A receive of buffer `slot` (context slot + 1) on the QP, or on the SRQ when there is one.
  void post_receive(size_t slot);
  // Waits for one completion of `type`. Completions of other types that come first are kept
  // for their own next(): NDKPI does not order a request's completion before a completion the
  // peer's answer causes on the same CQ (our Send may complete after the reply's Receive).
  // The whole wait is bounded by kWait, however many completions of other types come first.
  // Any completion with an error status fails the process, unless `any_status` (then the
  // caller checks the status, and errors of other types are kept as well).
  NDK_RESULT_EX next(NDK_OPERATION_TYPE type, bool any_status = false);

  // Closed in reverse order: connector, listener, memory, QP, SRQ, CQ, PD, adapter.
  Adapter adapter;
  PdHandle pd;
  Cq cq;
  SrqHandle srq;
  QpHandle qp;
  std::unique_ptr<Region> memory;
  ListenerHandle listener;
  ConnectorHandle connector;
  uint32_t token = 0;
  std::deque<NDK_RESULT_EX> early;  // completions that came before their next()
  int posted_receives = 0;          // on the QP or SRQ, since the node started
};

void fill(unsigned char* p, size_t n, unsigned seed);
bool check(const unsigned char* p, size_t n, unsigned seed, size_t first = 0);

// The advertisement at the start of a message: where the sender's RDMA target lives.
struct Advert {
  uint64_t address;
  uint32_t token;
  uint32_t length;
};

// tcp://IP[?options] owns IP; shm://NAME names a fabric, whose nodes use 127.0.0.1.
std::string ip_of_uri(const std::string& uri);

void send(Node& n, size_t offset, ULONG length, void* context);

// Server: a listener on the URI's IP and a free port, the port written to `port_file`.
void listen_and_publish(Node& n, const std::string& uri, const std::string& port_file);
// Server: accepts the next connect request on the QP (private data checked both ways).
void accept_one(Node& n);
// Client: connects the QP to ip:port and completes the connection (private data checked).
void connect_to(Node& n, const std::string& uri, const std::string& ip, uint16_t port);

// The ops mode (ndk_node_ops.cpp).
int run_ops_server(const std::string& uri, const std::string& port_file);
int run_ops_client(const std::string& uri, const std::string& ip, uint16_t port);

}  // namespace ndk_node
