// Implementation of shm_transport.h: the transport (one per adapter), its endpoints (an abstract
// setup socket each, named after the fabric and the address: the name is the port reservation
// across processes), the process-wide table that gives NDK sharing semantics within a process,
// and URI option parsing.
#include "transport/shm/shm_transport.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <sstream>

#include <softndk/ndkpi.h>

#include "transport/endpoint_table.h"
#include "transport/shm/shm_connection.h"

namespace softndk::transport::shm {
namespace {

constexpr int kListenBacklog = 128;

// Endpoints and active connections of every shm adapter of the process, per fabric (the
// abstract socket names reserve addresses across processes). Never destroyed: adapters may
// outlive static destruction.
EndpointTable& endpoint_table() {
  static EndpointTable* table = new EndpointTable;
  return *table;
}

class ShmEndpoint;

// The listening setup socket, watched by the engine.
class Acceptor final : public IoHandler {
 public:
  Acceptor(std::shared_ptr<ShmContext> context, int fd, std::weak_ptr<ShmEndpoint> endpoint)
      : context_(std::move(context)), fd_(fd), endpoint_(std::move(endpoint)) {}
  void on_io(uint32_t) override;
  void shut(IoHandler* self) {
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return;
    context_->engine->remove(fd_, self);
    ::shutdown(fd_, SHUT_RDWR);  // new connects are refused; the name stays reserved
    // Requests already queued are refused too (their requesters see the hangup).
    for (int queued; (queued = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;)
      ::close(queued);
    fd_ = -1;
  }

 private:
  std::shared_ptr<ShmContext> context_;
  std::mutex mutex_;
  int fd_;  // not owned: the endpoint's socket
  std::weak_ptr<ShmEndpoint> endpoint_;
};

class ShmEndpoint final : public Endpoint, public std::enable_shared_from_this<ShmEndpoint> {
 public:
  ShmEndpoint(std::shared_ptr<ShmContext> context, SockAddr address, EndpointUse use, int fd,
              std::function<bool(const SockAddr&)> owns)
      : context_(std::move(context)), address_(address), use_(use), fd_(fd),
        owns_(std::move(owns)) {}
  ~ShmEndpoint() override {
    if (acceptor_ != nullptr) acceptor_->shut(acceptor_.get());
    ::close(fd_);
    endpoint_table().remove_endpoint(context_->fabric, address_);
  }
  SockAddr address() const override { return address_; }
  Status listen(ListenEvents* events) override {
    std::lock_guard deliveries(deliver_mutex_);
    if (use_ != EndpointUse::Listener || acceptor_ != nullptr) return STATUS_INVALID_DEVICE_STATE;
    if (::listen(fd_, kListenBacklog) != 0) return STATUS_INSUFFICIENT_RESOURCES;
    auto acceptor = std::make_shared<Acceptor>(context_, fd_, weak_from_this());
    if (!context_->engine->add(fd_, EPOLLIN, acceptor)) return STATUS_INSUFFICIENT_RESOURCES;
    acceptor_ = acceptor;
    events_ = events;
    return STATUS_SUCCESS;
  }
  void stop_listening() override {
    std::lock_guard deliveries(deliver_mutex_);  // waits out an on_request on another thread
    events_ = nullptr;
    if (acceptor_ != nullptr) acceptor_->shut(acceptor_.get());
  }
  // Executor thread: a Request for `to` arrived. False: refused.
  bool deliver(ConnectionPtr connection, const ConnectionParams& request, const SockAddr& to) {
    std::lock_guard deliveries(deliver_mutex_);
    if (events_ == nullptr || !owns_(to) || to.port() != address_.port()) return false;
    return events_->on_request(std::move(connection), request);
  }
  EndpointUse use() const { return use_; }

 private:
  std::shared_ptr<ShmContext> context_;
  SockAddr address_;
  EndpointUse use_;
  int fd_;
  std::function<bool(const SockAddr&)> owns_;
  std::recursive_mutex deliver_mutex_;
  std::shared_ptr<Acceptor> acceptor_;
  ListenEvents* events_ = nullptr;
};

void Acceptor::on_io(uint32_t) {
  for (int round = 0; round < 64; ++round) {
    int fd;
    {
      std::lock_guard lock(mutex_);
      if (fd_ < 0) return;
      fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    }
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    if (!peer_is_same_user(fd)) {  // owner-only: another user's process is refused
      ::close(fd);
      continue;
    }
    std::weak_ptr<ShmEndpoint> weak = endpoint_;
    auto connection = std::make_shared<ShmConnection>(
        context_, fd,
        [weak](ConnectionPtr c, const ConnectionParams& request, const SockAddr& to) {
          auto endpoint = weak.lock();
          return endpoint != nullptr && endpoint->deliver(std::move(c), request, to);
        });
    connection->start();
  }
}

class ShmTransport final : public Transport {
 public:
  ShmTransport(std::shared_ptr<ShmContext> context, std::vector<SockAddr> addresses)
      : context_(std::move(context)), addresses_(std::move(addresses)) {
    caps_.name = "shm";
    // The only path today (README "Not yet"): no cross-memory attach, no shared allocator.
    caps_.data_path =
        "ring (two copies: the sender into the connection's shared-memory ring, the receiver out "
        "of it into the target memory; no cross-memory attach)";
    caps_.direct_placement = true;
    caps_.in_order_placement = true;
    caps_.max_private_data_request = kMaxPrivateData;
    caps_.max_private_data_reply = kMaxPrivateData;
  }
  ~ShmTransport() override { context_->engine->stop(); }

  const Capabilities& capabilities() const override { return caps_; }
  bool owns_address(const SockAddr& ip) const override {
    if (addresses_.empty()) return ip.is_loopback();
    for (const SockAddr& a : addresses_)
      if (a.same_ip(ip)) return true;
    return false;
  }

  Status bind(const SockAddr& local, EndpointUse use, EndpointRef* out) override {
    if (!local.valid()) return STATUS_INVALID_PARAMETER;
    if (!local.is_wildcard() && !owns_address(local)) return STATUS_INVALID_ADDRESS;
    if (local.port() != 0) return bind_port(local.with_port(local.port()), use, out);
    return EndpointTable::bind_ephemeral(
        [&](uint16_t port) { return bind_port(local.with_port(port), use, out); });
  }

  Status connect(const EndpointRef& local, const SockAddr& remote,
                 const ConnectionParams& request, ConnectionEvents* events,
                 ConnectionPtr* out) override {
    SockAddr local_address = local->address();
    if (local_address.is_wildcard())
      local_address = default_local(remote).with_port(local_address.port());
    if (!endpoint_table().add_connection(context_->fabric, local_address, remote))
      return STATUS_ADDRESS_ALREADY_EXISTS;
    auto release = [fabric = context_->fabric, local_address, remote] {
      endpoint_table().remove_connection(fabric, local_address, remote);
    };
    Status failure = STATUS_SUCCESS;
    int fd = dial(remote, &failure);
    auto connection = std::make_shared<ShmConnection>(context_, fd, local_address, remote,
                                                      request, events, failure, release);
    connection->start();
    *out = connection;
    return STATUS_SUCCESS;
  }

 private:
  SockAddr default_local(const SockAddr& remote) const {
    if (owns_address(remote)) return remote.with_port(0);
    for (const SockAddr& a : addresses_)
      if (a.family() == remote.family()) return a.with_port(0);
    if (remote.family() == AF_INET6) return SockAddr::ipv6(in6addr_loopback, 0);
    return SockAddr::ipv4(INADDR_LOOPBACK, 0);
  }

  // A setup socket connected to the listener of `remote` (its own address, else the wildcard
  // of its family and port); -1 with *failure set when there is none.
  int dial(const SockAddr& remote, Status* failure) const {
    int fd = make_setup_socket();
    if (fd < 0) {
      *failure = STATUS_INSUFFICIENT_RESOURCES;
      return -1;
    }
    SockAddr wildcard = remote.family() == AF_INET6 ? SockAddr::ipv6(in6addr_any, remote.port())
                                                    : SockAddr::ipv4(INADDR_ANY, remote.port());
    if (connect_abstract(fd, endpoint_name(context_->fabric, remote)) ||
        connect_abstract(fd, endpoint_name(context_->fabric, wildcard)))
      return fd;
    ::close(fd);
    *failure = STATUS_CONNECTION_REFUSED;
    return -1;
  }

  Status bind_port(const SockAddr& address, EndpointUse use, EndpointRef* out) {
    if (endpoint_table().port_in_use(context_->fabric, address)) return STATUS_SHARING_VIOLATION;
    int fd = make_setup_socket();
    if (fd < 0) return STATUS_INSUFFICIENT_RESOURCES;
    // The abstract name reserves the address in the fabric across processes.
    if (!bind_abstract(fd, endpoint_name(context_->fabric, address))) {
      int error = errno;
      ::close(fd);
      return error == EADDRINUSE ? STATUS_SHARING_VIOLATION : STATUS_INSUFFICIENT_RESOURCES;
    }
    if (!endpoint_table().add_endpoint(context_->fabric, address)) {
      ::close(fd);
      return STATUS_SHARING_VIOLATION;
    }
    auto owns = [this](const SockAddr& ip) { return owns_address(ip); };
    *out = std::make_shared<ShmEndpoint>(context_, address, use, fd, owns);
    return STATUS_SUCCESS;
  }

  std::shared_ptr<ShmContext> context_;
  std::vector<SockAddr> addresses_;
  Capabilities caps_;
};

bool valid_fabric(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool parse_addresses(const std::string& list_text, std::vector<SockAddr>* out) {
  std::stringstream list(list_text);
  std::string item;
  while (std::getline(list, item, ',')) {
    SockAddr a;
    if (!SockAddr::parse(item, &a) || a.is_wildcard() || a.port() != 0) return false;
    out->push_back(a);
  }
  return !out->empty();
}

bool apply_option(const std::string& key, const std::string& value, ShmOptions* o,
                  std::vector<SockAddr>* addresses, bool* consumed) {
  uint64_t v = 0;
  *consumed = true;
  if (key == "addr") return parse_addresses(value, addresses);
  if (key == "ring_kib") {
    if (!parse_option_number(value, kMinRingBytes / 1024, kMaxRingBytes / 1024, &v) ||
        !valid_ring_bytes(v * 1024))
      return false;
    o->ring_bytes = static_cast<uint32_t>(v * 1024);
    return true;
  }
  if (key == "segment_kib") {
    if (!parse_option_number(value, 1, kMaxRingBytes / 1024 / 4, &v)) return false;
    o->segment_payload = static_cast<uint32_t>(v * 1024);
    return true;
  }
  if (key == "consumer_rx") {
    return parse_option_flag(value, &o->consumer_receive);
  }
  if (key == "disconnect_timeout_ms") {
    if (!parse_option_number(value, 100, 3600000, &v)) return false;
    o->disconnect_timeout_ms = static_cast<uint32_t>(v);
    return true;
  }
  *consumed = false;
  return true;
}

}  // namespace

Status create_shm_transport(const std::string& fabric,
                            std::map<std::string, std::string>& options, Executor* executor,
                            TransportPtr* out) {
  if (!valid_fabric(fabric)) return STATUS_INVALID_PARAMETER;
  auto context = std::make_shared<ShmContext>();
  context->fabric = fabric;
  std::vector<SockAddr> addresses;
  for (auto it = options.begin(); it != options.end();) {
    bool consumed = false;
    if (!apply_option(it->first, it->second, &context->options, &addresses, &consumed))
      return STATUS_INVALID_PARAMETER;
    it = consumed ? options.erase(it) : std::next(it);
  }
  // A record (header and payload) must fit in half a ring, so that the ring always drains.
  if (context->options.segment_payload > context->options.ring_bytes / 4)
    return STATUS_INVALID_PARAMETER;
  context->executor = executor;
  context->engine = std::make_shared<Engine>();
  if (context->engine->doorbell() < 0) return STATUS_INSUFFICIENT_RESOURCES;
  *out = std::make_unique<ShmTransport>(std::move(context), std::move(addresses));
  return STATUS_SUCCESS;
}

}  // namespace softndk::transport::shm
