// The two connected ends every data-path benchmark measures between (datapath_bench on loopback,
// shm_bench on shm://): per side an adapter, a PD, a CQ, a QP and registered memory; the pair
// connects them once through src/ndkxx's handshake. A tight polling loop is what is measured:
// the clock is read only after 65536 empty polls.
#pragma once

#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <algorithm>
#include <memory>
#include <string>

#include "ndkxx/adapter.h"
#include "ndkxx/call.h"
#include "ndkxx/connection.h"
#include "ndkxx/cq.h"
#include "ndkxx/handle.h"
#include "ndkxx/memory.h"

namespace softndk::bench {

using namespace softndk::ndkxx;

inline bool ok(NTSTATUS s) { return s == STATUS_SUCCESS; }

struct Side {
  Adapter adapter;
  size_t buffer_bytes;
  ULONG depth;
  PdHandle pd;
  Cq cq;
  QpHandle qp;
  std::unique_ptr<Region> memory;
  ConnectorHandle connector;

  Side(const std::string& uri, size_t buffer, ULONG queue_depth)
      : adapter(uri), buffer_bytes(buffer), depth(queue_depth) {}

  bool open() {
    if (!ok(adapter.open_status())) return false;
    Created<NDK_PD> p = create<NDK_PD>([&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_PD** out) {
      return adapter.d()->NdkCreatePd(adapter.get(), cb, ctx, out);
    });
    if (!p.ok()) return false;
    pd.reset(p.object);
    if (!ok(cq.create(adapter.get(), 4 * depth))) return false;
    Created<NDK_QP> q = create<NDK_QP>([&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_QP** out) {
      return pd->Dispatch->NdkCreateQp(pd, cq.get(), cq.get(), nullptr, depth, depth, 1, 1, 64,
                                       cb, ctx, out);
    });
    if (!q.ok()) return false;
    qp.reset(q.object);
    memory = std::make_unique<Region>(
        pd, buffer_bytes,
        NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
            NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK);
    return ok(memory->status());
  }
  NDK_SGE sge(size_t offset, size_t bytes) const { return memory->sge(offset, bytes); }

  // Polls until `n` completions arrived; false on an error completion or a timeout.
  bool drain(ULONG n) {
    NDK_RESULT_EX results[64];
    for (uint32_t polls = 1; n != 0; ++polls) {
      ULONG got = cq.poll(results, std::min<ULONG>(n, 64));
      for (ULONG i = 0; i < got; ++i)
        if (results[i].Status != STATUS_SUCCESS) return false;
      n -= got;
      if (!in_time(polls)) return false;
    }
    return true;
  }
  // Polls until one completion arrived; false on an error completion or a timeout.
  bool next(NDK_RESULT_EX* r) {
    for (uint32_t polls = 1;; ++polls) {
      if (cq.poll(r, 1) == 1) return r->Status == STATUS_SUCCESS;
      if (!in_time(polls)) return false;
    }
  }

 private:
  Clock::time_point deadline_{};
  // The clock is read every 65536 polls: the deadline starts at the first such reading.
  bool in_time(uint32_t polls) {
    if ((polls & 0xFFFF) != 0) return true;
    if (polls == 0x10000) {
      deadline_ = Clock::now() + default_timeout();
      return true;
    }
    return Clock::now() <= deadline_;
  }
};

// Two adapters of `uri` with one connected QP pair, for the whole benchmark run.
struct Pair {
  Side a, b;
  ConnectEvents incoming;
  ListenerHandle listener;
  bool ready = false;

  Pair(const std::string& uri, size_t buffer_bytes, ULONG depth)
      : a(uri, buffer_bytes, depth), b(uri, buffer_bytes, depth) {
    ready = connect();
  }
  bool connect() {
    if (!a.open() || !b.open()) return false;
    Created<NDK_LISTENER> l = create_listener(b.adapter.get(), incoming);
    if (!l.ok()) return false;
    listener.reset(l.object);
    sockaddr_storage address = b.adapter.local_address();
    if (!listen(listener, address).ok() || !ok(local_address(listener.get(), &address)))
      return false;
    Created<NDK_CONNECTOR> c = create_connector(a.adapter.get());
    if (!c.ok()) return false;
    a.connector.reset(c.object);
    Handshake h;
    h.connector = a.connector;
    h.active_qp = a.qp;
    h.source = a.adapter.local_address();
    h.destination = address;
    h.active_disconnect.ex = false;
    h.incoming = &incoming;
    h.passive_qp = b.qp;
    h.passive_disconnect.ex = false;
    Established e = establish(h);
    b.connector.reset(e.passive);
    return e.ok();
  }
};

}  // namespace softndk::bench
