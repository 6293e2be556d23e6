// The ops mode of the cross-process node (ndk_node.cpp has the others): the memory operations of
// NDK between two processes, each result checked byte for byte and status for status. The
// server takes three connections in turn on one listener, each on a new QP that shares the
// server's SRQ (a remote access refused by the peer ends a connection, RFC 5040 section 7):
//   1. four Sends of different lengths, consumed through the SRQ in the order its receives were
//      posted (every receive of the run is checked against that order); a fast-registered
//      region (NdkInitializeFastRegisterMr, NdkFastRegister) that the client writes and reads
//      with the new token; the client's NdkSendAndInvalidate of that token, received as
//      NdkOperationTypeReceiveAndInvalidate naming it (a local NdkInvalidate afterwards finds
//      it invalid: STATUS_INVALID_DEVICE_STATE); the client's later Write with the token is
//      refused and ends the connection;
//   2. a memory window (NdkCreateMw, NdkBind) inside a larger registration, written and read
//      by the client, then NdkInvalidate'd by the server; the client's later Write with the
//      window's token is refused and ends the connection;
//   3. the window bound again (a new token), written and read by the client, then a Write that
//      starts inside the window and ends past its length: refused, and no byte changes.
// Refused: the Write completes with STATUS_SUCCESS (iWARP: complete once handed to the
// transport) or STATUS_ACCESS_VIOLATION, a Read posted right behind it does not succeed, the
// server answers with a Terminate and both sides get their disconnect event; after it a request is cancelled (or refused inline with
// STATUS_CONNECTION_INVALID), the client's posted receives complete with STATUS_CANCELLED, the
// SRQ's receives stay posted, and the target and the guard bytes around it are unchanged.
#include <cstdio>
#include <cstring>
#include <deque>
#include <iterator>

#include "ndk_node.h"

namespace ndk_node {

namespace {

// The control message at the start of every Send of this mode.
struct Note {
  char tag[8];
  Advert advert;
};

constexpr unsigned char kGuard = 0xEE;
constexpr size_t kPage = 4096;
constexpr size_t kTargetOffset = kPage + 100;  // FR region and window: not page aligned
constexpr size_t kTargetLength = 5000;         // across a page boundary
constexpr ULONG kRemoteRw = NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE;
constexpr ULONG kSrqLengths[] = {17, 1000, 65536, 4099};  // one full buffer among them

void* ctx(uintptr_t value) { return reinterpret_cast<void*>(value); }

// `n` bytes at `p` are all `value`.
bool all_equal(const unsigned char* p, size_t n, unsigned char value) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != value) return false;
  return true;
}

// The bytes of `buffer` (`size` bytes) around [offset, offset + length) are still guards.
bool guards_intact(const unsigned char* buffer, size_t size, size_t offset, size_t length) {
  return all_equal(buffer, offset, kGuard) &&
         all_equal(buffer + offset + length, size - offset - length, kGuard);
}

void expect_status(const NDK_RESULT_EX& r, NTSTATUS status, void* context, const char* what) {
  if (r.Status != status) {
    std::fprintf(stderr, "%s: %s: %s, expected %s\n", g_name, what, SoftNdkStatusName(r.Status),
                 SoftNdkStatusName(status));
    fail(what, r.Status);
  }
  if (r.RequestContext != context) {
    std::fprintf(stderr, "%s: %s: completion of context %p, expected %p\n", g_name, what,
                 r.RequestContext, context);
    fail(what, r.Status);
  }
}

// Sends a Note (tag, advertisement) from the start of the send area and waits for its completion.
void send_note(Node& n, const char* tag, const Advert& advert = {}) {
  Note note{};
  std::strncpy(note.tag, tag, sizeof note.tag - 1);
  note.advert = advert;
  std::memcpy(n.at(kSendArea), &note, sizeof note);
  send(n, kSendArea, sizeof note, ctx(0x5E));
  expect_status(n.next(NdkOperationTypeSend), STATUS_SUCCESS, ctx(0x5E), "send note");
}

Note note_at(Node& n, const NDK_RESULT_EX& r, const char* tag) {
  const size_t slot = reinterpret_cast<uintptr_t>(r.RequestContext) - 1;
  if (r.BytesTransferred != sizeof(Note)) fail(tag, STATUS_INVALID_BUFFER_SIZE);
  Note note;
  std::memcpy(&note, n.at(slot * kMessage), sizeof note);
  if (std::strcmp(note.tag, tag) != 0) {
    std::fprintf(stderr, "%s: got note \"%.7s\", expected \"%s\"\n", g_name, note.tag, tag);
    fail("note", STATUS_DATA_ERROR);
  }
  return note;
}

// RDMA Write of `length` bytes of pattern `seed` to (address, token), and RDMA Read of them back
// into the target area, checked.
void write_and_read_back(Node& n, uint64_t address, uint32_t token, ULONG length, unsigned seed) {
  fill(n.at(kSendArea), length, seed);
  NDK_SGE s = n.sge(kSendArea, length);
  NTSTATUS st = n.qp->Dispatch->NdkWrite(n.qp, ctx(0x3A), &s, 1, address, token, 0);
  if (st != STATUS_SUCCESS) fail("post write", st);
  expect_status(n.next(NdkOperationTypeWrite), STATUS_SUCCESS, ctx(0x3A), "write");
  std::memset(n.at(kTargetArea), 0, length);
  NDK_SGE sink = n.sge(kTargetArea, length);
  st = n.qp->Dispatch->NdkRead(n.qp, ctx(0x3B), &sink, 1, address, token, 0);
  if (st != STATUS_SUCCESS) fail("post read", st);
  expect_status(n.next(NdkOperationTypeRead), STATUS_SUCCESS, ctx(0x3B), "read");
  if (!check(n.at(kTargetArea), length, seed)) fail("RDMA Read contents", STATUS_DATA_ERROR);
}

// After the peer refused an access (or we refused the peer's): both sides' disconnect event, a
// later request cancelled, `flushed` receives of the QP complete with STATUS_CANCELLED, nothing
// else left on the CQ. Then the connector and the QP go, for the next connection.
void connection_ended(Node& n, const char* role, int flushed) {
  if (!wait_until([] { return g_disconnects.count.load() != 0; }, kWait))
    fail("waiting for the disconnect event after the refused access", STATUS_IO_TIMEOUT);
  NDK_SGE s = n.sge(kSendArea, 8);
  NTSTATUS st = n.qp->Dispatch->NdkSend(n.qp, ctx(0x1A7E), &s, 1, 0);
  if (st == STATUS_SUCCESS) {
    expect_status(n.next(NdkOperationTypeSend, true), STATUS_CANCELLED, ctx(0x1A7E),
                  "request after the connection ended");
  } else if (st != STATUS_CONNECTION_INVALID) {
    fail("request after the connection ended (inline)", st);
  }
  for (int i = 0; i < flushed; ++i) {
    NDK_RESULT_EX r = n.next(NdkOperationTypeReceive, true);
    if (r.Status != STATUS_CANCELLED) fail("flushed receive", r.Status);
  }
  std::printf("%s %s: connection ended by the refused access (disconnect reason %lu)\n", g_name,
              role, (unsigned long)g_disconnects.reason.load());
  n.connector.reset();
  n.create_qp();
  NDK_RESULT_EX stray{};
  if (!n.early.empty() || n.cq.poll(&stray, 1) != 0)
    fail("a completion left after the connection ended", STATUS_UNSUCCESSFUL);
  g_disconnects.count = 0;
}

// ---------------------------------------------------------------------------------------------
// Server

struct Server {
  explicit Server(const std::string& uri) : n(uri, /*with_srq=*/true) {}
  // A receive of the SRQ, checked against the order the SRQ's receives were posted in.
  NDK_RESULT_EX take(NDK_OPERATION_TYPE type) {
    NDK_RESULT_EX r = n.next(type);
    if (reinterpret_cast<uintptr_t>(r.RequestContext) != order.front() + 1) {
      std::fprintf(stderr, "%s: SRQ receive %zu completed, %zu was posted first\n", g_name,
                   reinterpret_cast<size_t>(r.RequestContext) - 1, order.front());
      fail("SRQ receive order", STATUS_DATA_ERROR);
    }
    order.pop_front();
    return r;
  }
  void repost(const NDK_RESULT_EX& r) { post(reinterpret_cast<uintptr_t>(r.RequestContext) - 1); }
  void post(size_t slot) {
    n.post_receive(slot);
    order.push_back(slot);
  }

  Node n;
  std::deque<size_t> order;  // slots of the SRQ's receives, in posting order
};

// A fast-register MR over [kTargetOffset, + kTargetLength) of a guarded buffer.
struct FastTarget {
  explicit FastTarget(Node& n) : buffer(3 * kPage, kGuard) {
    SoftNdkInitializeMdl(&mdl, host(), kTargetLength);
    lam = std::make_unique<Lam>(n.adapter.get(), &mdl, kTargetLength, Wait{kWait});
    if (lam->status() != STATUS_SUCCESS) fail("NdkBuildLAM", lam->status());
    mr.reset(created(create_mr(n.pd, true, Wait{kWait}), "create fast-register MR"));
    NTSTATUS s = initialize_fast_register_mr(mr, lam->pages(), true, Wait{kWait}).status;
    if (s != STATUS_SUCCESS) fail("NdkInitializeFastRegisterMr", s);
  }
  unsigned char* host() { return buffer.data() + kTargetOffset; }
  bool intact() { return guards_intact(buffer.data(), buffer.size(), kTargetOffset, kTargetLength); }

  Buffer buffer;
  MDL mdl{};
  std::unique_ptr<Lam> lam;
  MrHandle mr;  // after lam: closed before the mapping is released
};

// A window object and the registration it is bound in: [kTargetOffset, + kTargetLength) of four
// guarded pages.
struct WindowTarget {
  explicit WindowTarget(Node& n)
      : region(n.pd, 4 * kPage, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, kGuard, Wait{kWait}) {
    if (region.status() != STATUS_SUCCESS) fail("register the window's MR", region.status());
    mw.reset(created(create<NDK_MW>(
                         [&](NDK_FN_CREATE_COMPLETION cb, void* c, NDK_MW** out) {
                           return n.pd->Dispatch->NdkCreateMw(n.pd, cb, c, out);
                         },
                         Wait{kWait}),
                     "create MW"));
  }
  unsigned char* host() { return region.data() + kTargetOffset; }
  bool intact() { return guards_intact(region.data(), region.size(), kTargetOffset, kTargetLength); }
  // NdkBind of the window with remote read and write; its new token.
  uint32_t bind(Node& n) {
    NTSTATUS s = n.qp->Dispatch->NdkBind(n.qp, ctx(0xB1), region.mr(), mw, host(),
                                         kTargetLength, kRemoteRw);
    if (s != STATUS_SUCCESS) fail("post bind", s);
    const uint32_t token = mw->Dispatch->NdkGetRemoteTokenFromMw(mw);
    expect_status(n.next(NdkOperationTypeBind), STATUS_SUCCESS, ctx(0xB1), "bind");
    return token;
  }
  Advert advert(uint32_t token) {
    return {reinterpret_cast<uintptr_t>(host()), token, static_cast<uint32_t>(kTargetLength)};
  }

  Region region;
  MwHandle mw;  // after region: closed first
};

void server_srq_and_fast_register(Server& s, FastTarget& fr) {
  Node& n = s.n;
  for (size_t i = 0; i < std::size(kSrqLengths); ++i) {
    NDK_RESULT_EX r = s.take(NdkOperationTypeReceive);
    const size_t slot = reinterpret_cast<uintptr_t>(r.RequestContext) - 1;
    if (r.BytesTransferred != kSrqLengths[i] ||
        !check(n.at(slot * kMessage), kSrqLengths[i], 10 + static_cast<unsigned>(i)))
      fail("message through the SRQ", STATUS_DATA_ERROR);
    s.repost(r);
  }
  const uint64_t base = reinterpret_cast<uintptr_t>(fr.host());
  NTSTATUS st = n.qp->Dispatch->NdkFastRegister(n.qp, ctx(0xF1), fr.mr, fr.lam->pages(),
                                                fr.lam->page_array(), fr.lam->fbo(),
                                                kTargetLength, fr.host(), kRemoteRw);
  if (st != STATUS_SUCCESS) fail("post fast register", st);
  const uint32_t token = fr.mr->Dispatch->NdkGetRemoteTokenFromMr(fr.mr);
  expect_status(n.next(NdkOperationTypeFastRegister), STATUS_SUCCESS, ctx(0xF1), "fast register");
  send_note(n, "FR", {base, token, static_cast<uint32_t>(kTargetLength)});
  // The client writes and reads the region, then sends "INV" with NdkSendAndInvalidate.
  NDK_RESULT_EX r = s.take(NdkOperationTypeReceiveAndInvalidate);
  note_at(n, r, "INV");
  if (static_cast<uint32_t>(r.TypeSpecificCompletionOutput) != token)
    fail("the token of the receive-and-invalidate", STATUS_DATA_ERROR);
  s.repost(r);
  if (!check(fr.host(), kTargetLength, 20) || !fr.intact())
    fail("the fast-registered region after the client's Write", STATUS_DATA_ERROR);
  // Invalidated by the peer already: a local invalidate finds it invalid.
  st = n.qp->Dispatch->NdkInvalidate(n.qp, ctx(0xF2), &fr.mr->Header, 0);
  if (st != STATUS_SUCCESS) fail("post invalidate", st);
  expect_status(n.next(NdkOperationTypeInvalidate, true), STATUS_INVALID_DEVICE_STATE, ctx(0xF2),
                "local invalidate of the peer-invalidated region");
  send_note(n, "GO");
  connection_ended(n, "server", 0);
  if (!check(fr.host(), kTargetLength, 20) || !fr.intact())
    fail("the region after the refused Write with its invalidated token", STATUS_DATA_ERROR);
}

void server_windows(Server& s, WindowTarget& w) {
  Node& n = s.n;
  accept_one(n);
  const uint32_t first = w.bind(n);
  send_note(n, "MW", w.advert(first));
  NDK_RESULT_EX r = s.take(NdkOperationTypeReceive);
  note_at(n, r, "WROTE");
  s.repost(r);
  if (!check(w.host(), kTargetLength, 30) || !w.intact())
    fail("the window after the client's Write", STATUS_DATA_ERROR);
  NTSTATUS st = n.qp->Dispatch->NdkInvalidate(n.qp, ctx(0xB2), &w.mw->Header, 0);
  if (st != STATUS_SUCCESS) fail("post invalidate", st);
  expect_status(n.next(NdkOperationTypeInvalidate), STATUS_SUCCESS, ctx(0xB2), "invalidate MW");
  send_note(n, "GO");
  connection_ended(n, "server", 0);
  if (!check(w.host(), kTargetLength, 30) || !w.intact())
    fail("the window after the refused Write with its invalidated token", STATUS_DATA_ERROR);
  // Bound again: a new token; the client writes past the window's end.
  accept_one(n);
  const uint32_t second = w.bind(n);
  if (second == first) fail("a new token for the second bind", STATUS_DATA_ERROR);
  send_note(n, "MW", w.advert(second));
  connection_ended(n, "server", 0);
  if (!check(w.host(), kTargetLength, 32) || !w.intact())
    fail("the window after the refused Write past its end", STATUS_DATA_ERROR);
}

// ---------------------------------------------------------------------------------------------
// Client

struct Client {
  explicit Client(const std::string& uri) : n(uri) {}
  Note receive(const char* tag) {
    NDK_RESULT_EX r = n.next(NdkOperationTypeReceive);
    ++consumed;
    return note_at(n, r, tag);
  }
  // Connects a fresh QP with 32 receives posted.
  void connect(const std::string& uri, const std::string& ip, uint16_t port) {
    for (size_t slot = 0; slot < 32; ++slot) n.post_receive(slot);
    connect_to(n, uri, ip, port);
  }
  // A Write at `address` the server must refuse: accepted at post, then STATUS_SUCCESS (iWARP)
  // or STATUS_ACCESS_VIOLATION; the server's Terminate ends the connection. A one-byte Read of
  // the target's first byte posted right behind it must not succeed: the server stops at the
  // refused Write (RFC 5040 section 7) and never answers it. (Had the server placed the Write,
  // the Read of a valid target would succeed; had the server merely died, the disconnect alone
  // would not tell.)
  void refused_write(const Advert& target, uint64_t address, ULONG length, unsigned seed) {
    fill(n.at(kSendArea), length, seed);
    NDK_SGE s = n.sge(kSendArea, length);
    NTSTATUS st = n.qp->Dispatch->NdkWrite(n.qp, ctx(0xBAD), &s, 1, address, target.token, 0);
    if (st != STATUS_SUCCESS) fail("post the write the peer must refuse", st);
    NDK_SGE sink = n.sge(kTargetArea, 1);
    st = n.qp->Dispatch->NdkRead(n.qp, ctx(0xBAE), &sink, 1, target.address, target.token, 0);
    if (st != STATUS_SUCCESS && st != STATUS_CONNECTION_INVALID)
      fail("post the read behind the refused write", st);
    NDK_RESULT_EX r = n.next(NdkOperationTypeWrite, true);
    if (r.Status != STATUS_SUCCESS && r.Status != STATUS_ACCESS_VIOLATION)
      fail("the refused write's completion", r.Status);
    if (st == STATUS_SUCCESS && n.next(NdkOperationTypeRead, true).Status == STATUS_SUCCESS)
      fail("the read behind the refused write (it succeeded)", STATUS_SUCCESS);
    const int flushed = n.posted_receives - consumed;
    consumed = n.posted_receives;
    connection_ended(n, "client", flushed);
  }

  Node n;
  int consumed = 0;  // receives taken or flushed
};

void client_srq_and_fast_register(Client& c) {
  Node& n = c.n;
  size_t offset = kSendArea;
  for (size_t i = 0; i < std::size(kSrqLengths); ++i) {
    fill(n.at(offset), kSrqLengths[i], 10 + static_cast<unsigned>(i));
    send(n, offset, kSrqLengths[i], ctx(0x100 + i));
    offset += kSrqLengths[i];
  }
  for (size_t i = 0; i < std::size(kSrqLengths); ++i) n.next(NdkOperationTypeSend);
  const Advert fr = c.receive("FR").advert;
  write_and_read_back(n, fr.address, fr.token, fr.length, 20);
  Note note{};
  std::strncpy(note.tag, "INV", sizeof note.tag - 1);
  std::memcpy(n.at(kSendArea), &note, sizeof note);
  NDK_SGE s = n.sge(kSendArea, sizeof note);
  NTSTATUS st = n.qp->Dispatch->NdkSendAndInvalidate(n.qp, ctx(0x5A), &s, 1, 0, fr.token);
  if (st != STATUS_SUCCESS) fail("post send-and-invalidate", st);
  expect_status(n.next(NdkOperationTypeSend), STATUS_SUCCESS, ctx(0x5A), "send-and-invalidate");
  c.receive("GO");
  c.refused_write(fr, fr.address, 64, 21);
}

void client_windows(Client& c, const std::string& uri, const std::string& ip, uint16_t port) {
  Node& n = c.n;
  c.connect(uri, ip, port);
  Advert w = c.receive("MW").advert;
  write_and_read_back(n, w.address, w.token, w.length, 30);
  send_note(n, "WROTE");
  c.receive("GO");
  c.refused_write(w, w.address, 64, 31);  // the window was invalidated
  c.connect(uri, ip, port);
  w = c.receive("MW").advert;
  write_and_read_back(n, w.address, w.token, w.length, 32);
  c.refused_write(w, w.address + w.length - 16, 64, 33);  // 48 bytes past the end
}

}  // namespace

int run_ops_server(const std::string& uri, const std::string& port_file) {
  Server s(uri);
  FastTarget fr(s.n);
  WindowTarget w(s.n);
  listen_and_publish(s.n, uri, port_file);
  for (size_t slot = 0; slot < 32; ++slot) s.post(slot);
  accept_one(s.n);
  server_srq_and_fast_register(s, fr);
  server_windows(s, w);
  std::printf("%s server: ops ok\n", g_name);
  return 0;
}

int run_ops_client(const std::string& uri, const std::string& ip, uint16_t port) {
  Client c(uri);
  c.connect(uri, ip, port);
  client_srq_and_fast_register(c);
  client_windows(c, uri, ip, port);
  std::printf("%s client: ops ok\n", g_name);
  return 0;
}

}  // namespace ndk_node
