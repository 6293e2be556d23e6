// Implementation of ndk_test.h.
#include "ndk_test.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <sstream>
#include <thread>

namespace ndktest {

std::vector<std::string> test_uris() {
  std::vector<std::string> uris;
  const char* env = std::getenv("SOFTNDK_TEST_URIS");
  std::stringstream list(env != nullptr && *env != '\0' ? env : "loopback");
  std::string item;
  while (std::getline(list, item, ',')) {
    if (!item.empty()) uris.push_back(item);
  }
  return uris;
}

std::string status_name(NTSTATUS status) { return SoftNdkStatusName(status); }

// ---------------------------------------------------------------------------------------------

void Completion::request(void* context, NTSTATUS status) {
  auto* holder = static_cast<std::shared_ptr<Completion>*>(context);
  std::shared_ptr<Completion> c = *holder;
  delete holder;
  std::lock_guard lock(c->mutex);
  c->status = status;
  c->done = true;
  ++c->count;
  c->cv.notify_all();
}

void Completion::create(void* context, NTSTATUS status, NDK_OBJECT_HEADER* object) {
  auto* holder = static_cast<std::shared_ptr<Completion>*>(context);
  std::shared_ptr<Completion> c = *holder;
  delete holder;
  std::lock_guard lock(c->mutex);
  c->status = status;
  c->object = object;
  c->done = true;
  ++c->count;
  c->cv.notify_all();
}

void Completion::close(void* context) {
  auto* holder = static_cast<std::shared_ptr<Completion>*>(context);
  std::shared_ptr<Completion> c = *holder;
  delete holder;
  std::lock_guard lock(c->mutex);
  c->status = STATUS_SUCCESS;
  c->done = true;
  ++c->count;
  c->cv.notify_all();
}

bool Completion::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex);
  return cv.wait_for(lock, timeout, [&] { return done; });
}

NTSTATUS sync_request(const std::function<NTSTATUS(NDK_FN_REQUEST_COMPLETION, void*)>& start) {
  auto done = std::make_shared<Completion>();
  auto* raw = new std::shared_ptr<Completion>(done);
  NTSTATUS status = start(&Completion::request, raw);
  if (status == STATUS_PENDING) {
    if (!done->wait()) {
      ADD_FAILURE() << "request completion did not arrive within the timeout";
      return STATUS_IO_TIMEOUT;
    }
    return done->status;
  }
  delete raw;
  return status;
}

bool close_object(void* object) {
  if (object == nullptr) return true;
  auto* header = static_cast<NDK_OBJECT_HEADER*>(object);
  // Every closable object is { header, dispatch }, and slot 0 of every table is the close.
  auto* dispatch = *reinterpret_cast<NDK_FN_CLOSE_OBJECT* const*>(
      reinterpret_cast<char*>(object) + sizeof(NDK_OBJECT_HEADER));
  NDK_FN_CLOSE_OBJECT close = dispatch[0];
  auto done = std::make_shared<Completion>();
  auto* raw = new std::shared_ptr<Completion>(done);
  NTSTATUS status = close(header, &Completion::close, raw);
  if (status == STATUS_PENDING) {
    if (!done->wait()) {
      ADD_FAILURE() << "close completion did not arrive within the timeout";
      return false;
    }
    return true;
  }
  delete raw;
  EXPECT_NT(STATUS_SUCCESS, status);
  return status == STATUS_SUCCESS;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

Buffer::Buffer(size_t bytes, unsigned char fill) : size_(bytes) {
  size_t rounded = (bytes + 4095) / 4096 * 4096;
  if (rounded == 0) rounded = 4096;
  data_ = static_cast<unsigned char*>(aligned_alloc(4096, rounded));
  std::memset(data_, fill, rounded);
  SoftNdkInitializeMdl(&mdl_, data_, bytes);
}

Buffer::~Buffer() { free(data_); }

Adapter::Adapter(const std::string& uri) : uri_(uri) {
  open_status_ = SoftNdkOpenAdapter(uri.c_str(), &adapter_);
  if (open_status_ != STATUS_SUCCESS) {
    adapter_ = nullptr;
    return;
  }
  ULONG size = sizeof info_;
  NTSTATUS s = adapter_->Dispatch->NdkQueryAdapterInfo(adapter_, &info_, &size);
  EXPECT_NT(STATUS_SUCCESS, s);
}

Adapter::~Adapter() {
  if (adapter_ != nullptr) SoftNdkCloseAdapter(adapter_);
}

namespace {

// The host of a scheme://host[:port][?query] URI ("" when there is none) and the values of the
// loopback addr= option (empty when absent).
struct UriAddresses {
  std::string host;
  std::vector<std::string> addr_option;
};

UriAddresses uri_addresses(const std::string& uri) {
  UriAddresses out;
  const size_t query = uri.find('?');
  const std::string base = uri.substr(0, query);
  const size_t sep = base.find("://");
  if (sep != std::string::npos) {
    std::string rest = base.substr(sep + 3);
    if (!rest.empty() && rest.front() == '[') {
      out.host = rest.substr(1, rest.find(']') - 1);
    } else if (rest.find(':') == rest.rfind(':')) {  // host or host:port (not a bare IPv6)
      out.host = rest.substr(0, rest.find(':'));
    } else {
      out.host = rest;
    }
  }
  if (query != std::string::npos) {
    std::stringstream items(uri.substr(query + 1));
    std::string item;
    while (std::getline(items, item, '&')) {
      if (item.rfind("addr=", 0) != 0) continue;
      std::stringstream list(item.substr(5));
      std::string ip;
      while (std::getline(list, ip, ',')) {
        if (!ip.empty()) out.addr_option.push_back(ip);
      }
    }
  }
  return out;
}

int family_of_ip(const std::string& ip) {
  return ip.find(':') != std::string::npos ? AF_INET6 : AF_INET;
}

}  // namespace

int Adapter::family() const {
  UriAddresses a = uri_addresses(uri_);
  if (!a.host.empty()) return family_of_ip(a.host);
  if (!a.addr_option.empty()) return family_of_ip(a.addr_option.front());
  return AF_INET;
}

bool Adapter::owns_family(int family) const {
  UriAddresses a = uri_addresses(uri_);
  if (!a.host.empty()) return family_of_ip(a.host) == family;
  if (a.addr_option.empty()) return family == AF_INET || family == AF_INET6;
  for (const std::string& ip : a.addr_option)
    if (family_of_ip(ip) == family) return true;
  return false;
}

sockaddr_storage Adapter::local_address(int family) const {
  if (family == AF_UNSPEC) family = this->family();
  UriAddresses a = uri_addresses(uri_);
  // tcp://<ip> adapters own that IP; loopback adapters the addr= IPs, or the loopback range.
  std::string host = family == AF_INET6 ? "::1" : "127.0.0.1";
  if (!a.host.empty() && family_of_ip(a.host) == family) {
    host = a.host;
  } else {
    for (const std::string& ip : a.addr_option) {
      if (family_of_ip(ip) == family) {
        host = ip;
        break;
      }
    }
  }
  sockaddr_storage s{};
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&s);
    in6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&s);
    in->sin_family = AF_INET;
    inet_pton(AF_INET, host.c_str(), &in->sin_addr);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------

void Cq::notify(void* context, NTSTATUS status) {
  auto* cq = static_cast<Cq*>(context);
  cq->last_status = status;
  cq->notifications.fetch_add(1);
}

NTSTATUS Cq::create(Adapter& adapter, ULONG depth) {
  return sync_create<NDK_CQ>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_CQ** out) {
        return adapter.d()->NdkCreateCq(adapter.get(), depth, &Cq::notify, this, nullptr, cb, ctx,
                                        out);
      },
      &cq);
}

bool Cq::next(NDK_RESULT_EX* result, std::chrono::milliseconds timeout) {
  return wait_until([&] { return poll(result, 1) == 1; }, timeout);
}

bool Cq::collect(std::vector<NDK_RESULT_EX>* out, size_t n, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out->size() < n) {
    NDK_RESULT_EX r[64];
    ULONG got = poll(r, static_cast<ULONG>(std::min<size_t>(64, n - out->size())));
    out->insert(out->end(), r, r + got);
    if (got == 0) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  return true;
}

Cq::~Cq() { close_object(cq); }

// ---------------------------------------------------------------------------------------------

Region::Region(NDK_PD* pd, size_t bytes, ULONG flags, unsigned char fill) : buffer(bytes, fill) {
  status = sync_create<NDK_MR>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_MR** out) {
        return pd->Dispatch->NdkCreateMr(pd, FALSE, cb, ctx, out);
      },
      &mr);
  if (status != STATUS_SUCCESS) return;
  status = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    return mr->Dispatch->NdkRegisterMr(mr, buffer.mdl(), bytes, flags, cb, ctx);
  });
}

Region::~Region() {
  if (mr != nullptr) close_object(mr);
}

void DisconnectEvents::plain(void* context) { static_cast<DisconnectEvents*>(context)->count++; }
void DisconnectEvents::ex(void* context, ULONG reason) {
  auto* d = static_cast<DisconnectEvents*>(context);
  d->reason = reason;
  d->count++;
}

// ---------------------------------------------------------------------------------------------

QpPair::QpPair(const std::string& test_uri, QpPairOptions opts) : options(opts), uri(test_uri) {
  active.adapter = std::make_unique<Adapter>(opts.active_uri.empty() ? uri : opts.active_uri);
  passive.adapter = std::make_unique<Adapter>(opts.passive_uri.empty() ? uri : opts.passive_uri);
}

void QpPair::on_connect_event(void* context, NDK_CONNECTOR* connector) {
  auto* pair = static_cast<QpPair*>(context);
  std::lock_guard lock(pair->incoming_mutex_);
  pair->incoming_ = connector;
  pair->incoming_cv_.notify_all();
}

bool QpPair::connect(const std::function<void(QpPair&)>& before_connect) {
  for (Side* side : {&active, &passive}) {
    if (side->adapter->get() == nullptr) {
      ADD_FAILURE() << "adapter open failed: " << status_name(side->adapter->open_status());
      return false;
    }
    Adapter& a = *side->adapter;
    NTSTATUS s = sync_create<NDK_PD>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_PD** out) {
          return a.d()->NdkCreatePd(a.get(), cb, ctx, out);
        },
        &side->pd);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create PD: " << status_name(s), false;
    s = side->cq.create(a, options.cq_depth);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create CQ: " << status_name(s), false;
    s = sync_create<NDK_QP>(
        [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_QP** out) {
          return side->pd->Dispatch->NdkCreateQp(side->pd, side->cq.cq, side->cq.cq, side,
                                                 options.depth, options.depth, options.sge,
                                                 options.sge, options.inline_bytes, cb, ctx, out);
        },
        &side->qp);
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create QP: " << status_name(s), false;
  }
  if (before_connect) before_connect(*this);
  Adapter& pa = *passive.adapter;
  NTSTATUS s = sync_create<NDK_LISTENER>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_LISTENER** out) {
        return pa.d()->NdkCreateListener(pa.get(), &QpPair::on_connect_event, this, cb, ctx, out);
      },
      &listener);
  if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create listener: " << status_name(s), false;
  sockaddr_storage listen_address = pa.local_address();
  s = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    return listener->Dispatch->NdkListen(listener, reinterpret_cast<sockaddr*>(&listen_address),
                                         sockaddr_length(listen_address), cb, ctx);
  });
  if (s != STATUS_SUCCESS) return ADD_FAILURE() << "listen: " << status_name(s), false;
  ULONG length = sizeof listen_address;
  s = listener->Dispatch->NdkGetLocalAddress(listener, reinterpret_cast<sockaddr*>(&listen_address),
                                             &length);
  if (s != STATUS_SUCCESS) return ADD_FAILURE() << "listener address: " << status_name(s), false;

  Adapter& aa = *active.adapter;
  s = sync_create<NDK_CONNECTOR>(
      [&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_CONNECTOR** out) {
        return aa.d()->NdkCreateConnector(aa.get(), cb, ctx, out);
      },
      &active.connector);
  if (s != STATUS_SUCCESS) return ADD_FAILURE() << "create connector: " << status_name(s), false;
  sockaddr_storage source = aa.local_address(listen_address.ss_family);
  auto connect_done = std::make_shared<Completion>();
  auto* raw = new std::shared_ptr<Completion>(connect_done);
  s = active.connector->Dispatch->NdkConnect(
      active.connector, active.qp, reinterpret_cast<sockaddr*>(&source), sockaddr_length(source),
      reinterpret_cast<sockaddr*>(&listen_address), sockaddr_length(listen_address),
      options.read_limit, options.read_limit, nullptr, 0, &Completion::request, raw);
  if (s != STATUS_PENDING) {
    delete raw;
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "connect: " << status_name(s), false;
  }
  {
    std::unique_lock lock(incoming_mutex_);
    if (!incoming_cv_.wait_for(lock, kTimeout, [&] { return incoming_ != nullptr; }))
      return ADD_FAILURE() << "no connect event", false;
    passive.connector = incoming_;
  }
  auto accept_done = std::make_shared<Completion>();
  auto* raw_accept = new std::shared_ptr<Completion>(accept_done);
  s = passive.connector->Dispatch->NdkAcceptEx(passive.connector, passive.qp, options.read_limit,
                                               options.read_limit, nullptr, 0,
                                               &DisconnectEvents::ex, &passive.disconnects,
                                               &Completion::request, raw_accept);
  if (s != STATUS_PENDING) {
    delete raw_accept;
    if (s != STATUS_SUCCESS) return ADD_FAILURE() << "accept: " << status_name(s), false;
  }
  if (s == STATUS_PENDING || true) {
    if (!connect_done->wait()) return ADD_FAILURE() << "connect did not complete", false;
    if (connect_done->status != STATUS_SUCCESS)
      return ADD_FAILURE() << "connect: " << status_name(connect_done->status), false;
  }
  s = sync_request([&](NDK_FN_REQUEST_COMPLETION cb, void* ctx) {
    return active.connector->Dispatch->NdkCompleteConnectEx(
        active.connector, &DisconnectEvents::ex, &active.disconnects, cb, ctx);
  });
  if (s != STATUS_SUCCESS) return ADD_FAILURE() << "complete connect: " << status_name(s), false;
  if (!accept_done->wait()) return ADD_FAILURE() << "accept did not complete", false;
  if (accept_done->status != STATUS_SUCCESS)
    return ADD_FAILURE() << "accept: " << status_name(accept_done->status), false;
  return true;
}

bool QpPair::teardown() {
  if (torn_down_) return true;
  torn_down_ = true;
  bool ok = true;
  for (Side* side : {&active, &passive}) ok &= close_object(side->connector);
  ok &= close_object(listener);
  for (Side* side : {&active, &passive}) {
    ok &= close_object(side->qp);
    ok &= close_object(side->cq.cq);
    side->cq.cq = nullptr;
    ok &= close_object(side->pd);
    side->connector = nullptr;
    side->qp = nullptr;
    side->pd = nullptr;
  }
  listener = nullptr;
  return ok;
}

QpPair::~QpPair() { teardown(); }

NTSTATUS post_receive(NDK_QP* qp, Region& region, size_t offset, ULONG length, void* context) {
  NDK_SGE sge = region.sge(offset, length);
  return qp->Dispatch->NdkReceive(qp, context, &sge, 1);
}

NTSTATUS post_send(NDK_QP* qp, Region& region, size_t offset, ULONG length, void* context,
                   ULONG flags) {
  NDK_SGE sge = region.sge(offset, length);
  return qp->Dispatch->NdkSend(qp, context, &sge, 1, flags);
}

}  // namespace ndktest
