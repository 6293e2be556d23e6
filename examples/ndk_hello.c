/* ndk_hello: a minimal NDK consumer, in C, of softndk (the user-space NDKPI provider).
 *
 * Two adapters (think of them as two hosts, A and B) on one transport, by default the in-process
 * loopback fabric:
 *   1. open both adapters; on each create a PD, a CQ, a QP and a registered memory region;
 *   2. B listens, A connects through a connector (with private data), B accepts;
 *   3. A sends a message to B; B sends A the address and token of its buffer;
 *   4. A writes into B's buffer with an RDMA Write and reads it back with an RDMA Read;
 *   5. A disconnects; everything is closed, children before parents.
 * Every call's status is checked; the first failure ends the program with its status name.
 *
 * Build: see README.md in this folder (CMake package or pkg-config). Run: ./ndk_hello [URI]
 * (URI: "loopback", the default, or "tcp://127.0.0.1" for iWARP over TCP). Exit status 0 when
 * every step succeeded. The NDKPI functions and their rules: Microsoft's NDKPI reference,
 * https://learn.microsoft.com/en-us/windows-hardware/drivers/ddi/ndkpi/ */
#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIMEOUT_SECONDS 10
#define BUFFER_BYTES (64 * 1024)
#define WRITE_OFFSET 4096 /* where A's write lands in B's buffer */
#define WRITE_BYTES 8192

static void die(const char* what, NTSTATUS status) {
  fflush(stdout);
  fprintf(stderr, "ndk_hello: %s failed: %s (0x%08X)\n", what, SoftNdkStatusName(status),
          (unsigned)status);
  exit(1);
}

static void check(const char* what, NTSTATUS status) {
  if (status != STATUS_SUCCESS) die(what, status);
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- Waiting for asynchronous calls ------------------------------------------------------------
 * An NDK call that returns STATUS_PENDING finishes later: the provider calls the completion
 * callback passed to it (on another thread). Any other return value is the final result and the
 * callback is not called. A Waiter turns both cases into one final status. */
typedef struct {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  int done;
  NTSTATUS status;
  NDK_OBJECT_HEADER* object; /* what a create completion delivered */
} Waiter;

static void waiter_init(Waiter* w) {
  pthread_mutex_init(&w->mutex, NULL);
  pthread_cond_init(&w->cond, NULL);
  w->done = 0;
  w->status = STATUS_PENDING;
  w->object = NULL;
}

static void waiter_destroy(Waiter* w) {
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->mutex);
}

/* Makes a finished waiter ready for the next call (no callback of the last one is outstanding:
 * it ran, or the call did not return STATUS_PENDING). */
static void waiter_reset(Waiter* w) {
  pthread_mutex_lock(&w->mutex);
  w->done = 0;
  w->status = STATUS_PENDING;
  w->object = NULL;
  pthread_mutex_unlock(&w->mutex);
}

static void waiter_finish(Waiter* w, NTSTATUS status, NDK_OBJECT_HEADER* object) {
  pthread_mutex_lock(&w->mutex);
  w->status = status;
  w->object = object;
  w->done = 1;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->mutex);
}

/* The three callback shapes: NDK_FN_REQUEST_COMPLETION, _CREATE_COMPLETION, _CLOSE_COMPLETION. */
static void on_request_done(PVOID context, NTSTATUS status) {
  waiter_finish((Waiter*)context, status, NULL);
}
static void on_create_done(PVOID context, NTSTATUS status, NDK_OBJECT_HEADER* object) {
  waiter_finish((Waiter*)context, status, object);
}
static void on_close_done(PVOID context) { waiter_finish((Waiter*)context, STATUS_SUCCESS, NULL); }

/* Waits until the waiter is finished (bounded); returns its status. */
static NTSTATUS waiter_wait(Waiter* w, const char* what) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += TIMEOUT_SECONDS;
  pthread_mutex_lock(&w->mutex);
  while (!w->done) {
    if (pthread_cond_timedwait(&w->cond, &w->mutex, &deadline) != 0 && !w->done) {
      pthread_mutex_unlock(&w->mutex);
      die(what, STATUS_IO_TIMEOUT);
    }
  }
  NTSTATUS status = w->status;
  pthread_mutex_unlock(&w->mutex);
  return status;
}

/* The final status of a call that returned `returned` and was given the waiter as context. */
static NTSTATUS result(Waiter* w, NTSTATUS returned, const char* what) {
  return returned == STATUS_PENDING ? waiter_wait(w, what) : returned;
}

/* A create call's object: stored through the out parameter when the call completed at once,
 * handed to the create completion when it returned STATUS_PENDING. */
static void* created(Waiter* w, NTSTATUS returned, void* inline_object, const char* what) {
  check(what, result(w, returned, what));
  return returned == STATUS_PENDING ? (void*)w->object : inline_object;
}

/* Closes any NDK object through the close function of its dispatch table. */
static void close_object(NDK_OBJECT_HEADER* object, NDK_FN_CLOSE_OBJECT close_fn, const char* what) {
  Waiter w;
  waiter_init(&w);
  check(what, result(&w, close_fn(object, on_close_done, &w), what));
  waiter_destroy(&w);
}

/* ---- One side ------------------------------------------------------------------------------- */
typedef struct {
  const char* name;
  NDK_ADAPTER* adapter;
  NDK_PD* pd;
  NDK_CQ* cq;
  NDK_QP* qp;
  NDK_MR* mr;
  NDK_CONNECTOR* connector;
  unsigned char* buffer; /* BUFFER_BYTES, registered as `mr` */
  MDL mdl;
  Waiter disconnected; /* finished by the disconnect event */
} Host;

/* What B tells A about its buffer, so that A can reach it with RDMA. */
typedef struct {
  UINT64 address;
  UINT32 token;
  UINT32 length;
} BufferDescriptor;

static void on_cq_notification(PVOID context, NTSTATUS status) {
  (void)context; /* not armed here: completions are polled */
  (void)status;
}

static void on_disconnect(PVOID context) {
  waiter_finish(&((Host*)context)->disconnected, STATUS_SUCCESS, NULL);
}

static void host_open(Host* h, const char* name, const char* uri) {
  Waiter w;
  NTSTATUS s;
  memset(h, 0, sizeof *h);
  h->name = name;
  waiter_init(&h->disconnected);
  waiter_init(&w);
  check("SoftNdkOpenAdapter", SoftNdkOpenAdapter(uri, &h->adapter));
  const NDK_ADAPTER_DISPATCH* adapter = h->adapter->Dispatch;

  waiter_reset(&w);
  s = adapter->NdkCreatePd(h->adapter, on_create_done, &w, &h->pd);
  h->pd = created(&w, s, h->pd, "NdkCreatePd");

  waiter_reset(&w);
  s = adapter->NdkCreateCq(h->adapter, 64, on_cq_notification, h, NULL, on_create_done, &w, &h->cq);
  h->cq = created(&w, s, h->cq, "NdkCreateCq");

  /* One CQ for both queues; 8 receives and 8 initiator requests of 1 SGE each, no inline data. */
  waiter_reset(&w);
  s = h->pd->Dispatch->NdkCreateQp(h->pd, h->cq, h->cq, h, 8, 8, 1, 1, 0, on_create_done, &w,
                                   &h->qp);
  h->qp = created(&w, s, h->qp, "NdkCreateQp");

  /* A buffer, described by an MDL and registered with every right this example uses (a read sink
   * needs NDK_MR_FLAG_RDMA_READ_SINK unless the adapter says otherwise). */
  h->buffer = aligned_alloc(4096, BUFFER_BYTES);
  if (h->buffer == NULL) die("aligned_alloc", STATUS_INSUFFICIENT_RESOURCES);
  memset(h->buffer, 0, BUFFER_BYTES);
  SoftNdkInitializeMdl(&h->mdl, h->buffer, BUFFER_BYTES);
  waiter_reset(&w);
  s = h->pd->Dispatch->NdkCreateMr(h->pd, FALSE, on_create_done, &w, &h->mr);
  h->mr = created(&w, s, h->mr, "NdkCreateMr");
  waiter_reset(&w);
  s = h->mr->Dispatch->NdkRegisterMr(h->mr, &h->mdl, BUFFER_BYTES,
                                     NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                                         NDK_MR_FLAG_ALLOW_REMOTE_WRITE |
                                         NDK_MR_FLAG_RDMA_READ_SINK,
                                     on_request_done, &w);
  check("NdkRegisterMr", result(&w, s, "NdkRegisterMr"));
  waiter_destroy(&w);
}

/* An SGE for `length` bytes of the host's buffer at `offset`. */
static NDK_SGE sge_of(Host* h, size_t offset, ULONG length) {
  NDK_SGE sge;
  memset(&sge, 0, sizeof sge);
  sge.VirtualAddress = h->buffer + offset;
  sge.Length = length;
  sge.MemoryRegionToken = h->mr->Dispatch->NdkGetLocalTokenFromMr(h->mr);
  return sge;
}

/* Polls the host's CQ for one completion (bounded) and checks its status. */
static NDK_RESULT_EX next_completion(Host* h, const char* what) {
  NDK_RESULT_EX r;
  double deadline = now_seconds() + TIMEOUT_SECONDS;
  while (h->cq->Dispatch->NdkGetCqResultsEx(h->cq, &r, 1) == 0) {
    if (now_seconds() > deadline) die(what, STATUS_IO_TIMEOUT);
    sched_yield();
  }
  check(what, r.Status);
  return r;
}

/* Closes what host_open created (the connector is closed before, with the listener). */
static void host_close(Host* h) {
  Waiter w;
  close_object(&h->qp->Header, h->qp->Dispatch->NdkCloseQp, "NdkCloseQp");
  waiter_init(&w);
  check("NdkDeregisterMr",
        result(&w, h->mr->Dispatch->NdkDeregisterMr(h->mr, on_request_done, &w),
               "NdkDeregisterMr"));
  close_object(&h->mr->Header, h->mr->Dispatch->NdkCloseMr, "NdkCloseMr");
  close_object(&h->cq->Header, h->cq->Dispatch->NdkCloseCq, "NdkCloseCq");
  close_object(&h->pd->Header, h->pd->Dispatch->NdkClosePd, "NdkClosePd");
  SoftNdkCloseAdapter(h->adapter); /* returns when nothing of the adapter runs any more */
  waiter_destroy(&w);
  waiter_destroy(&h->disconnected);
  free(h->buffer);
}

/* ---- The listener's connect event ----------------------------------------------------------- */
static Waiter incoming; /* its object: the connector of the incoming request */

static void on_connect_request(PVOID context, NDK_CONNECTOR* connector) {
  (void)context;
  waiter_finish(&incoming, STATUS_SUCCESS, &connector->Header);
}

int main(int argc, char** argv) {
  const char* uri = argc > 1 ? argv[1] : "loopback";
  Host a, b;
  Waiter w;
  NTSTATUS s;
  printf("ndk_hello over \"%s\"\n", uri);

  host_open(&a, "A", uri);
  host_open(&b, "B", uri);
  NDK_ADAPTER_INFO info;
  ULONG info_size = sizeof info;
  check("NdkQueryAdapterInfo", a.adapter->Dispatch->NdkQueryAdapterInfo(a.adapter, &info,
                                                                          &info_size));
  printf("adapters open: NDKPI %u.%u, MaxTransferLength %u\n", info.Version.Major,
         info.Version.Minor, info.MaxTransferLength);

  /* B listens on 127.0.0.1; port 0: the provider picks one, NdkGetLocalAddress tells which. */
  waiter_init(&incoming);
  NDK_LISTENER* listener = NULL;
  waiter_init(&w);
  s = b.adapter->Dispatch->NdkCreateListener(b.adapter, on_connect_request, &b, on_create_done, &w,
                                             &listener);
  listener = created(&w, s, listener, "NdkCreateListener");
  struct sockaddr_in address;
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  waiter_reset(&w);
  s = listener->Dispatch->NdkListen(listener, (PSOCKADDR)&address, sizeof address,
                                    on_request_done, &w);
  check("NdkListen", result(&w, s, "NdkListen"));
  ULONG address_size = sizeof address;
  check("NdkGetLocalAddress",
        listener->Dispatch->NdkGetLocalAddress(listener, (PSOCKADDR)&address, &address_size));
  printf("B listens on 127.0.0.1:%u\n", ntohs(address.sin_port));

  /* Receives are posted before the connection exists: a Send that finds no receive breaks an
   * iWARP connection. */
  NDK_SGE b_receive = sge_of(&b, 0, 256);
  check("NdkReceive (B)", b.qp->Dispatch->NdkReceive(b.qp, NULL, &b_receive, 1));
  NDK_SGE a_receive = sge_of(&a, 0, sizeof(BufferDescriptor));
  check("NdkReceive (A)", a.qp->Dispatch->NdkReceive(a.qp, NULL, &a_receive, 1));

  /* A connects from 127.0.0.1 (any port), with private data; 1 RDMA Read in flight each way. */
  waiter_reset(&w);
  s = a.adapter->Dispatch->NdkCreateConnector(a.adapter, on_create_done, &w, &a.connector);
  a.connector = created(&w, s, a.connector, "NdkCreateConnector");
  struct sockaddr_in source;
  memset(&source, 0, sizeof source);
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static const char hello_data[] = "ndk_hello";
  Waiter connected;
  waiter_init(&connected);
  NTSTATUS connect_returned = a.connector->Dispatch->NdkConnect(
      a.connector, a.qp, (PSOCKADDR)&source, sizeof source, (PSOCKADDR)&address, sizeof address,
      1, 1, (PVOID)hello_data, sizeof hello_data, on_request_done, &connected);
  if (connect_returned != STATUS_PENDING) check("NdkConnect", connect_returned);

  /* B: the listener's connect event brings a connector for the request; accept it. */
  check("connect event", waiter_wait(&incoming, "connect event"));
  b.connector = (NDK_CONNECTOR*)incoming.object;
  /* The private data comes padded with zeros to the adapter's MaxCallerData (at most 4 KiB). */
  static char private_data[4096];
  ULONG private_size = sizeof private_data;
  ULONG inbound = 0, outbound = 0;
  check("NdkGetConnectionData",
        b.connector->Dispatch->NdkGetConnectionData(b.connector, &inbound, &outbound,
                                                    private_data, &private_size));
  printf("B: connect request with private data \"%s\"\n", private_data);
  Waiter accepted;
  waiter_init(&accepted);
  NTSTATUS accept_returned = b.connector->Dispatch->NdkAccept(
      b.connector, b.qp, 1, 1, NULL, 0, on_disconnect, &b, on_request_done, &accepted);

  /* A: the connect completes once B accepted; NdkCompleteConnect finishes the handshake. */
  check("NdkConnect", result(&connected, connect_returned, "NdkConnect"));
  waiter_reset(&w);
  s = a.connector->Dispatch->NdkCompleteConnect(a.connector, on_disconnect, &a, on_request_done,
                                                &w);
  check("NdkCompleteConnect", result(&w, s, "NdkCompleteConnect"));
  check("NdkAccept", result(&accepted, accept_returned, "NdkAccept"));
  printf("connected\n");

  /* Send: A -> B. */
  static const char message[] = "hello from A";
  memcpy(a.buffer + 1024, message, sizeof message);
  NDK_SGE send_sge = sge_of(&a, 1024, sizeof message);
  check("NdkSend (A)", a.qp->Dispatch->NdkSend(a.qp, NULL, &send_sge, 1, 0));
  next_completion(&a, "send completion (A)");
  NDK_RESULT_EX received = next_completion(&b, "receive completion (B)");
  if (received.BytesTransferred != sizeof message || memcmp(b.buffer, message, sizeof message))
    die("message check", STATUS_DATA_ERROR);
  printf("B received %u bytes: \"%s\"\n", received.BytesTransferred, (const char*)b.buffer);

  /* Send: B -> A, the address and remote token of B's buffer. */
  BufferDescriptor descriptor;
  descriptor.address = (UINT64)(uintptr_t)b.buffer;
  descriptor.token = b.mr->Dispatch->NdkGetRemoteTokenFromMr(b.mr);
  descriptor.length = BUFFER_BYTES;
  memcpy(b.buffer + 1024, &descriptor, sizeof descriptor);
  NDK_SGE descriptor_sge = sge_of(&b, 1024, sizeof descriptor);
  check("NdkSend (B)", b.qp->Dispatch->NdkSend(b.qp, NULL, &descriptor_sge, 1, 0));
  next_completion(&b, "send completion (B)");
  next_completion(&a, "receive completion (A)");
  BufferDescriptor remote;
  memcpy(&remote, a.buffer, sizeof remote);

  /* RDMA Write: WRITE_BYTES from A's buffer at 8 KiB into B's buffer at WRITE_OFFSET. */
  for (size_t i = 0; i < WRITE_BYTES; ++i) a.buffer[8192 + i] = (unsigned char)(i * 7 + 1);
  NDK_SGE write_sge = sge_of(&a, 8192, WRITE_BYTES);
  check("NdkWrite", a.qp->Dispatch->NdkWrite(a.qp, NULL, &write_sge, 1,
                                             remote.address + WRITE_OFFSET, remote.token, 0));
  next_completion(&a, "write completion");

  /* RDMA Read: the same bytes back from B into A's buffer at 32 KiB. A Read is served after the
   * Writes posted before it, so it returns what the Write placed. */
  NDK_SGE read_sge = sge_of(&a, 32768, WRITE_BYTES);
  check("NdkRead", a.qp->Dispatch->NdkRead(a.qp, NULL, &read_sge, 1,
                                           remote.address + WRITE_OFFSET, remote.token, 0));
  next_completion(&a, "read completion");
  if (memcmp(a.buffer + 8192, a.buffer + 32768, WRITE_BYTES) != 0 ||
      memcmp(a.buffer + 8192, b.buffer + WRITE_OFFSET, WRITE_BYTES) != 0)
    die("RDMA data check", STATUS_DATA_ERROR);
  printf("RDMA Write and RDMA Read of %d bytes: verified\n", WRITE_BYTES);

  /* A disconnects; B's disconnect event follows. */
  waiter_reset(&w);
  s = a.connector->Dispatch->NdkDisconnect(a.connector, on_request_done, &w);
  check("NdkDisconnect", result(&w, s, "NdkDisconnect"));
  check("disconnect event (B)", waiter_wait(&b.disconnected, "disconnect event (B)"));
  printf("disconnected\n");

  /* Children before parents: a listener's close waits for the connectors it delivered, a QP's
   * for its connector, a PD's for its QPs and MRs, a CQ's for its QPs. */
  close_object(&a.connector->Header, a.connector->Dispatch->NdkCloseConnector,
               "NdkCloseConnector (A)");
  close_object(&b.connector->Header, b.connector->Dispatch->NdkCloseConnector,
               "NdkCloseConnector (B)");
  close_object(&listener->Header, listener->Dispatch->NdkCloseListener, "NdkCloseListener");
  host_close(&a);
  host_close(&b);
  waiter_destroy(&w);
  waiter_destroy(&connected);
  waiter_destroy(&accepted);
  waiter_destroy(&incoming);
  printf("ndk_hello: all steps succeeded\n");
  return 0;
}
