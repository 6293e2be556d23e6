// Implementation of verifier_fixture.h.
#include "verifier_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

namespace vtest {

using namespace std::chrono_literals;

std::vector<std::string> uris() {
  const char* env = std::getenv("SOFTNDK_TEST_URIS");
  std::vector<std::string> out;
  if (env == nullptr || *env == '\0') return {"loopback", "tcp://127.0.0.1"};
  std::stringstream list(env);
  for (std::string item; std::getline(list, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string with_option(const std::string& uri, const std::string& option) {
  if (option.empty()) return uri;
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + option;
}

std::string uri_name(const std::string& uri) {
  std::string name;
  for (char c : uri) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

// ---------------------------------------------------------------------------------------------

void Reports::callback(void* context, const SOFTNDK_VERIFIER_REPORT* r) {
  auto* self = static_cast<Reports*>(context);
  std::lock_guard lock(self->mutex_);
  self->reports_.push_back({r->Rule, r->Severity, r->Call, r->Message, r->Status, r->Object});
  self->cv_.notify_all();
}

std::vector<Report> Reports::all() {
  std::lock_guard lock(mutex_);
  return reports_;
}

size_t Reports::count(ULONG rule) {
  std::lock_guard lock(mutex_);
  return std::count_if(reports_.begin(), reports_.end(),
                       [&](const Report& r) { return r.rule == rule; });
}

bool Reports::wait_for(ULONG rule, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] {
    return std::any_of(reports_.begin(), reports_.end(),
                       [&](const Report& r) { return r.rule == rule; });
  });
}

bool Reports::only(ULONG rule) {
  std::lock_guard lock(mutex_);
  return !reports_.empty() && std::all_of(reports_.begin(), reports_.end(),
                                          [&](const Report& r) { return r.rule == rule; });
}

std::string Reports::dump() {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const Report& r : reports_)
    out += "  [" + std::to_string(r.rule) + "] " + r.call + ": " + r.message + "\n";
  return out.empty() ? "  (no reports)\n" : out;
}

void Reports::clear() {
  std::lock_guard lock(mutex_);
  reports_.clear();
}

// ---------------------------------------------------------------------------------------------

void Waiter::request(void* context, NTSTATUS status) {
  auto* w = static_cast<Waiter*>(context);
  std::lock_guard lock(w->mutex);
  w->status = status;
  w->done = true;
  w->cv.notify_all();
}

void Waiter::create(void* context, NTSTATUS status, NDK_OBJECT_HEADER* object) {
  auto* w = static_cast<Waiter*>(context);
  std::lock_guard lock(w->mutex);
  w->status = status;
  w->object = object;
  w->done = true;
  w->cv.notify_all();
}

void Waiter::close(void* context) { request(context, STATUS_SUCCESS); }

NTSTATUS Waiter::wait(NTSTATUS returned) {
  if (returned != STATUS_PENDING) return returned;
  std::unique_lock lock(mutex);
  if (!cv.wait_for(lock, 10s, [&] { return done; })) return STATUS_IO_TIMEOUT;
  return status;
}

Buffer::Buffer(size_t bytes, unsigned char fill) : size(bytes) {
  data = static_cast<unsigned char*>(std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096));
  std::memset(data, fill, bytes);
  SoftNdkInitializeMdl(&mdl, data, bytes);
}

Buffer::~Buffer() { std::free(data); }

// ---------------------------------------------------------------------------------------------

Node::Node(const std::string& uri, const std::string& options, ULONG cq_depth) {
  open_status = SoftNdkOpenAdapter(with_option(uri, options).c_str(), &adapter);
  if (open_status != STATUS_SUCCESS) {
    adapter = nullptr;
    return;
  }
  SoftNdkSetVerifierCallback(adapter, &Reports::callback, reports.get());
  ULONG size = sizeof info;
  adapter->Dispatch->NdkQueryAdapterInfo(adapter, &info, &size);
  Waiter w;
  if (w.wait(adapter->Dispatch->NdkCreatePd(adapter, &Waiter::create, &w, &pd)) != STATUS_SUCCESS)
    return;
  if (pd == nullptr) pd = reinterpret_cast<NDK_PD*>(w.object);
  objects.push_back(pd);
  Waiter c;
  NTSTATUS s = adapter->Dispatch->NdkCreateCq(adapter, cq_depth, [](void*, NTSTATUS) {}, nullptr,
                                              nullptr, &Waiter::create, &c, &cq);
  if (c.wait(s) != STATUS_SUCCESS) return;
  if (cq == nullptr) cq = reinterpret_cast<NDK_CQ*>(c.object);
  objects.push_back(cq);
}

Node::~Node() {
  close_all();
  if (adapter != nullptr) SoftNdkCloseAdapter(adapter);
}

NTSTATUS Node::create_qp(ULONG depth, ULONG sge, ULONG inline_bytes, NDK_QP** out) {
  NDK_QP* created = nullptr;
  Waiter w;
  NTSTATUS s = pd->Dispatch->NdkCreateQp(pd, cq, cq, this, depth, depth, sge, sge, inline_bytes,
                                         &Waiter::create, &w, &created);
  s = w.wait(s);
  if (s != STATUS_SUCCESS) return s;
  if (created == nullptr) created = reinterpret_cast<NDK_QP*>(w.object);
  objects.push_back(created);
  if (out != nullptr) {
    *out = created;
  } else {
    qp = created;
  }
  return s;
}

NDK_MR* Node::register_mr(Buffer& buffer, ULONG flags) {
  NDK_MR* mr = nullptr;
  Waiter w;
  if (w.wait(pd->Dispatch->NdkCreateMr(pd, FALSE, &Waiter::create, &w, &mr)) != STATUS_SUCCESS)
    return nullptr;
  if (mr == nullptr) mr = reinterpret_cast<NDK_MR*>(w.object);
  objects.push_back(mr);
  Waiter r;
  NTSTATUS s = mr->Dispatch->NdkRegisterMr(mr, &buffer.mdl, buffer.size, flags, &Waiter::request, &r);
  return r.wait(s) == STATUS_SUCCESS ? mr : nullptr;
}

NDK_MR* Node::fast_mr(ULONG pages) {
  NDK_MR* mr = nullptr;
  Waiter w;
  if (w.wait(pd->Dispatch->NdkCreateMr(pd, TRUE, &Waiter::create, &w, &mr)) != STATUS_SUCCESS)
    return nullptr;
  if (mr == nullptr) mr = reinterpret_cast<NDK_MR*>(w.object);
  objects.push_back(mr);
  Waiter r;
  NTSTATUS s = mr->Dispatch->NdkInitializeFastRegisterMr(mr, pages, TRUE, &Waiter::request, &r);
  return r.wait(s) == STATUS_SUCCESS ? mr : nullptr;
}

NDK_SGE Node::sge(NDK_MR* mr, Buffer& buffer, size_t offset, ULONG length) {
  NDK_SGE s{};
  s.VirtualAddress = buffer.data + offset;
  s.Length = length;
  s.MemoryRegionToken = mr->Dispatch->NdkGetLocalTokenFromMr(mr);
  return s;
}

bool Node::close(void* object) {
  auto* header = static_cast<NDK_OBJECT_HEADER*>(object);
  auto* dispatch = *reinterpret_cast<NDK_FN_CLOSE_OBJECT* const*>(
      reinterpret_cast<char*>(object) + sizeof(NDK_OBJECT_HEADER));
  objects.erase(std::remove(objects.begin(), objects.end(), object), objects.end());
  Waiter w;
  return w.wait(dispatch[0](header, &Waiter::close, &w)) == STATUS_SUCCESS;
}

bool Node::collect(std::vector<NDK_RESULT_EX>* out, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (out->size() < n && std::chrono::steady_clock::now() < deadline) {
    NDK_RESULT_EX r[16];
    ULONG got = cq->Dispatch->NdkGetCqResultsEx(cq, r, 16);
    out->insert(out->end(), r, r + got);
    if (got == 0) std::this_thread::sleep_for(100us);
  }
  return out->size() >= n;
}

int Node::rank(void* object) {
  switch (static_cast<NDK_OBJECT_HEADER*>(object)->ObjectType) {
    case NdkObjectTypeConnector: return 0;
    case NdkObjectTypeListener:
    case NdkObjectTypeSharedEndpoint: return 1;
    case NdkObjectTypeQp: return 2;
    case NdkObjectTypeMw: return 3;
    case NdkObjectTypeMr: return 4;
    case NdkObjectTypeSrq: return 5;
    case NdkObjectTypePd: return 6;
    default: return 7;
  }
}

void Node::close_all() {
  std::vector<void*> order = objects;
  std::stable_sort(order.begin(), order.end(),
                   [](void* a, void* b) { return rank(a) < rank(b); });
  for (void* object : order) close(object);
  qp = nullptr;
  cq = nullptr;
  pd = nullptr;
}

// ---------------------------------------------------------------------------------------------

Pair::Pair(const std::string& uri, const std::string& options,
           const std::string& passive_options)
    : active(uri, options), passive(uri, passive_options.empty() ? options : passive_options) {}

Pair::~Pair() {
  active.close_all();
  passive.close_all();
}

void Pair::on_connect(void* context, NDK_CONNECTOR* connector) {
  auto* self = static_cast<Pair*>(context);
  std::lock_guard lock(self->mutex_);
  self->passive_connector = connector;
  self->passive.objects.push_back(connector);
  self->cv_.notify_all();
}

bool Pair::connect(ULONG depth, ULONG read_limit) {
  if (!active.ok() || !passive.ok()) return false;
  if (active.create_qp(depth) != STATUS_SUCCESS || passive.create_qp(depth) != STATUS_SUCCESS)
    return false;
  NDK_ADAPTER* pa = passive.adapter;
  Waiter lw;
  NTSTATUS s = pa->Dispatch->NdkCreateListener(pa, &Pair::on_connect, this, &Waiter::create, &lw,
                                               &listener);
  if (lw.wait(s) != STATUS_SUCCESS) return false;
  if (listener == nullptr) listener = reinterpret_cast<NDK_LISTENER*>(lw.object);
  passive.objects.push_back(listener);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Waiter listen;
  s = listener->Dispatch->NdkListen(listener, reinterpret_cast<PSOCKADDR>(&address),
                                    sizeof address, &Waiter::request, &listen);
  if (listen.wait(s) != STATUS_SUCCESS) return false;
  ULONG length = sizeof address;
  listener->Dispatch->NdkGetLocalAddress(listener, reinterpret_cast<PSOCKADDR>(&address), &length);
  NDK_ADAPTER* aa = active.adapter;
  Waiter cw;
  s = aa->Dispatch->NdkCreateConnector(aa, &Waiter::create, &cw, &active_connector);
  if (cw.wait(s) != STATUS_SUCCESS) return false;
  if (active_connector == nullptr) active_connector = reinterpret_cast<NDK_CONNECTOR*>(cw.object);
  active.objects.push_back(active_connector);
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Waiter connected;
  s = active_connector->Dispatch->NdkConnect(
      active_connector, active.qp, reinterpret_cast<PSOCKADDR>(&source), sizeof source,
      reinterpret_cast<PSOCKADDR>(&address), sizeof address, read_limit, read_limit, nullptr, 0,
      &Waiter::request, &connected);
  {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, 10s, [&] { return passive_connector != nullptr; })) return false;
  }
  Waiter accepted;
  NTSTATUS a = passive_connector->Dispatch->NdkAccept(passive_connector, passive.qp, read_limit,
                                                      read_limit, nullptr, 0, nullptr, nullptr,
                                                      &Waiter::request, &accepted);
  if (connected.wait(s) != STATUS_SUCCESS) return false;
  active_connector->Dispatch->NdkGetConnectionData(active_connector, &effective_inbound,
                                                   &effective_outbound, nullptr, nullptr);
  Waiter completed;
  s = active_connector->Dispatch->NdkCompleteConnect(active_connector, nullptr, nullptr,
                                                     &Waiter::request, &completed);
  return completed.wait(s) == STATUS_SUCCESS && accepted.wait(a) == STATUS_SUCCESS;
}

bool Pair::disconnect() {
  Waiter w;
  NTSTATUS s = active_connector->Dispatch->NdkDisconnect(active_connector, &Waiter::request, &w);
  return w.wait(s) == STATUS_SUCCESS;
}

}  // namespace vtest
