// Implementation of perftest_link.h.
#include "perftest_link.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>

#include "perftest.h"

namespace softndk::cli::perftest {

namespace {

constexpr uint32_t kControlSlots = 2;

void* context_of(uintptr_t value) { return reinterpret_cast<void*>(value); }

const char* kind_name(uintptr_t kind) {
  switch (kind) {
    case kSend: return "send";
    case kWrite: return "RDMA write";
    case kRead: return "RDMA read";
    default: return "receive";
  }
}

}  // namespace

Link::Link(Adapter& adapter, NDK_PD* pd, const LinkShape& shape)
    : adapter_(adapter), cq_(adapter, shape.cq_depth, false) {
  qp_.reset(create<NDK_QP>("NdkCreateQp", [&](auto cb, void* ctx, NDK_QP** out) {
    return pd->Dispatch->NdkCreateQp(pd, cq_.get(), cq_.get(), this, shape.receive_depth,
                                     shape.send_depth, 1, 1, 0, cb, ctx, out);
  }));
}

Link::~Link() {
  connector_.reset();
  qp_.reset();
}

void Link::post(const char* what, NTSTATUS status) {
  if (status == STATUS_SUCCESS) return;
  if (peer_gone()) throw Error(std::string(what) + ": the peer disconnected", status);
  throw_status(what, status);
}

void Link::connect(const SocketAddress& source, const SocketAddress& server, ULONG inbound,
                   ULONG outbound, uint32_t complete_delay_ms) {
  connector_.reset(
      create<NDK_CONNECTOR>("NdkCreateConnector", [&](auto cb, void* ctx, NDK_CONNECTOR** out) {
        return adapter_.d()->NdkCreateConnector(adapter_.get(), cb, ctx, out);
      }));
  ndkxx::Request connect;
  ndkxx::start_connect(connect, connector_.get(), qp_.get(), source.storage(), server.storage(),
                       {inbound, outbound, nullptr, 0});
  ndkxx::Outcome outcome = connect.finish(stoppable_wait());
  if (outcome.timed_out) throw_unfinished("connecting to " + server.text());
  if (!outcome.ok())
    throw Error("connecting to the perftest server " + server.text() + " failed: " +
                    status_text(outcome.status),
                outcome.status);
  // The read limits are the connector's until the connection completes.
  read_limits_ok_ = query_read_limits();
  if (complete_delay_ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(complete_delay_ms));
  ndkxx::Request complete;
  ndkxx::start_complete_connect(complete, connector_.get(), {&disconnects_, true});
  outcome = complete.finish(stoppable_wait());
  if (outcome.timed_out) throw_unfinished("NdkCompleteConnectEx");
  if (!outcome.ok()) throw_status("NdkCompleteConnectEx", outcome.status);
}

void Link::accept(NDK_CONNECTOR* incoming, ULONG inbound, ULONG outbound) {
  connector_.reset(incoming);
  ndkxx::Request accept;
  ndkxx::start_accept(accept, incoming, qp_.get(), {inbound, outbound, nullptr, 0},
                      {&disconnects_, true});
  ndkxx::Outcome outcome = accept.finish(stoppable_wait());
  if (outcome.timed_out) throw_unfinished("NdkAcceptEx");
  if (!outcome.ok()) throw_status("NdkAcceptEx", outcome.status);
}


void Link::disconnect() {
  disconnected_ = true;
  if (connector_.get() != nullptr) ndkxx::disconnect(connector_.get(), stoppable_wait());
}

void Link::read_limits(ULONG* inbound, ULONG* outbound) const {
  if (!read_limits_ok_) throw Error("the connection's read limits are unknown");
  *inbound = inbound_;
  *outbound = outbound_;
}

bool Link::query_read_limits() {
  ULONG* inbound = &inbound_;
  ULONG* outbound = &outbound_;
  ULONG pd_bytes = 0;
  NTSTATUS s = connector_->Dispatch->NdkGetConnectionData(connector_.get(), inbound, outbound,
                                                          nullptr, &pd_bytes);
  if (s == STATUS_BUFFER_TOO_SMALL) {
    std::vector<char> pd(pd_bytes);
    s = connector_->Dispatch->NdkGetConnectionData(connector_.get(), inbound, outbound, pd.data(),
                                                   &pd_bytes);
  }
  return s == STATUS_SUCCESS;
}

void Link::send(const NDK_SGE& sge, uintptr_t context) {
  NDK_SGE copy = sge;
  post("NdkSend", qp_->Dispatch->NdkSend(qp_.get(), context_of(context), &copy, 1, 0));
}

void Link::write(const NDK_SGE& sge, uint64_t address, uint32_t rkey) {
  NDK_SGE copy = sge;
  post("NdkWrite",
       qp_->Dispatch->NdkWrite(qp_.get(), context_of(kWrite), &copy, 1, address, rkey, 0));
}

void Link::read(const NDK_SGE& sge, uint64_t address, uint32_t rkey) {
  NDK_SGE copy = sge;
  post("NdkRead",
       qp_->Dispatch->NdkRead(qp_.get(), context_of(kRead), &copy, 1, address, rkey, 0));
}

void Link::receive(const NDK_SGE& sge, uintptr_t context) {
  NDK_SGE copy = sge;
  post("NdkReceive", qp_->Dispatch->NdkReceive(qp_.get(), context_of(context), &copy, 1));
}

ULONG Link::take(NDK_RESULT_EX* results, ULONG capacity, Clock::time_point deadline) {
  const ULONG n = cq_.wait(results, capacity, deadline);
  ULONG kept = 0;
  for (ULONG i = 0; i < n; ++i) {
    const NDK_RESULT_EX& r = results[i];
    const auto kind = reinterpret_cast<uintptr_t>(r.RequestContext);
    if (r.Status != STATUS_SUCCESS) {
      if (r.Status == STATUS_CANCELLED && (kind >= kReceiveBase || disconnected_ || peer_gone()))
        continue;  // flushed at the end of the connection
      throw Error(std::string("the ") + kind_name(kind) + " failed: " + status_text(r.Status) +
                      (peer_gone() ? " (the peer disconnected)" : ""),
                  r.Status);
    }
    results[kept++] = r;
  }
  return kept;
}

Control::Control(Adapter& adapter, NDK_PD* pd)
    : messages_(pd, (1 + kControlSlots) * kMaxMessageBytes, NDK_MR_FLAG_ALLOW_LOCAL_WRITE),
      link_(adapter, pd, {16, 4, kControlSlots}) {
  // Posted before the connection exists: perftest's peer sends as soon as it is connected.
  for (uint32_t slot = 0; slot < kControlSlots; ++slot) post_receive(slot);
}

void Control::post_receive(uint32_t slot) {
  link_.receive(messages_.sge((1 + slot) * kMaxMessageBytes, kMaxMessageBytes),
                kReceiveBase + slot);
}

std::vector<std::byte> Control::next_message(size_t expected, const char* what, bool unbounded) {
  const Clock::time_point deadline = unbounded ? Clock::time_point::max() : deadline_from_now();
  while (received_.empty()) {
    const bool gone = link_.peer_gone();
    const Clock::time_point slice =
        gone ? Clock::now() : std::min(deadline, Clock::now() + std::chrono::milliseconds(100));
    NDK_RESULT_EX r[4];
    const ULONG n = link_.take(r, 4, slice);
    for (ULONG i = 0; i < n; ++i) {
      const auto kind = reinterpret_cast<uintptr_t>(r[i].RequestContext);
      if (kind >= kReceiveBase)
        received_.emplace_back(static_cast<uint32_t>(kind - kReceiveBase), r[i].BytesTransferred);
    }
    if (n != 0) continue;
    if (gone) throw Error(std::string("the perftest peer disconnected instead of sending ") + what);
    if (Clock::now() >= deadline)
      throw Error(std::string("no ") + what + " from the perftest peer within " + timeout_text());
  }
  const auto [slot, bytes] = received_.front();
  received_.pop_front();
  std::vector<std::byte> m(bytes);
  std::memcpy(m.data(), messages_.data() + (1 + slot) * kMaxMessageBytes, bytes);
  post_receive(slot);  // before answering, as perftest does
  if (bytes != expected)
    throw Error(std::string("the perftest peer sent ") + std::to_string(bytes) + " bytes as " +
                what + ", perftest 6.06 sends " + std::to_string(expected) +
                " (a perftest version or option softndk does not speak?)");
  return m;
}

std::vector<std::byte> Control::exchange(bool first, const std::vector<std::byte>& out,
                                         size_t expected, const char* what, bool unbounded) {
  auto send_out = [&] {
    std::memcpy(messages_.data(), out.data(), out.size());
    link_.send(messages_.sge(0, out.size()));
    const Clock::time_point deadline = deadline_from_now();
    for (;;) {
      NDK_RESULT_EX r[4];
      const ULONG n = link_.take(r, 4, deadline);
      if (n == 0) throw Error(std::string("no completion of the send of ") + what);
      bool sent = false;
      for (ULONG i = 0; i < n; ++i) {
        const auto kind = reinterpret_cast<uintptr_t>(r[i].RequestContext);
        if (kind >= kReceiveBase)
          received_.emplace_back(static_cast<uint32_t>(kind - kReceiveBase),
                                 r[i].BytesTransferred);
        else
          sent = true;
      }
      if (sent) return;
    }
  };
  if (first) {
    send_out();
    return next_message(expected, what, unbounded);
  }
  std::vector<std::byte> in = next_message(expected, what, unbounded);
  send_out();
  return in;
}

}  // namespace softndk::cli::perftest
