// Implementation of transport/tcp/tcp_transport.h: the transport (one per adapter), its
// endpoints (a bound socket each: listener, connector or shared), the process-wide table that
// gives NDK sharing semantics across tcp adapters, and URI option parsing.
#include "transport/tcp/tcp_transport.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>

#include <softndk/ndkpi.h>

#include "transport/endpoint_table.h"
#include "transport/tcp/socket_util.h"
#include "transport/tcp/tcp_connection.h"
#include "util/log.h"

namespace softndk::transport::tcp {
namespace {

constexpr int kListenBacklog = 128;

// Every tcp adapter of the process: the kernel lets SO_REUSEADDR sockets share a port, NDK
// endpoints do not. Never destroyed: adapters may outlive static destruction.
EndpointTable& endpoint_table() {
  static EndpointTable* table = new EndpointTable;
  return *table;
}

class TcpEndpoint;

// True when `ip` is an address of this host: a socket binds to it (EADDRNOTAVAIL otherwise).
// A failure for another reason (no sockets left) does not call the address foreign.
bool is_local_address(const SockAddr& ip) {
  int fd = ::socket(ip.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;
  const SockAddr probe = ip.with_port(0);
  const bool local = ::bind(fd, probe.raw(), probe.length()) == 0 || errno != EADDRNOTAVAIL;
  ::close(fd);
  return local;
}

// The listening socket of a listener endpoint, owned by the engine while it polls it; it holds
// its endpoint weakly so that the endpoint (and its port) goes when the core lets it go.
class Acceptor final : public IoHandler, public std::enable_shared_from_this<Acceptor> {
 public:
  Acceptor(std::shared_ptr<TcpContext> context, int fd, std::weak_ptr<TcpEndpoint> endpoint)
      : context_(std::move(context)), fd_(fd), endpoint_(std::move(endpoint)) {}
  ~Acceptor() override {
    if (fd_ >= 0) ::close(fd_);
  }
  bool start() { return context_->engine->add(fd_, EPOLLIN, shared_from_this()); }
  // Any thread: closes the listening socket now (new TCP connections are refused and the port
  // can be bound again at once); connections it accepted live on.
  void shut() {
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return;
    context_->engine->remove(fd_, this);
    ::close(fd_);
    fd_ = -1;
  }
  void on_io(uint32_t) override;
  void on_timer(uint32_t) override {}

 private:
  std::shared_ptr<TcpContext> context_;
  std::mutex mutex_;  // accept4 and shut() never overlap: the descriptor cannot be reused under us
  int fd_;
  std::weak_ptr<TcpEndpoint> endpoint_;
};

class TcpEndpoint final : public Endpoint, public std::enable_shared_from_this<TcpEndpoint> {
 public:
  TcpEndpoint(std::shared_ptr<TcpContext> context, SockAddr address, SockAddr bound,
              EndpointUse use, int fd)
      : context_(std::move(context)), address_(address), bound_(bound), use_(use), fd_(fd) {}
  ~TcpEndpoint() override {
    if (acceptor_ != nullptr) acceptor_->shut();
    if (fd_ >= 0) ::close(fd_);
    endpoint_table().remove_endpoint("", address_);
  }

  // Endpoint
  SockAddr address() const override { return address_; }
  Status listen(ListenEvents* events) override {
    std::lock_guard deliveries(deliver_mutex_);
    std::lock_guard lock(mutex_);
    if (use_ != EndpointUse::Listener || fd_ < 0 || acceptor_ != nullptr)
      return STATUS_INVALID_DEVICE_STATE;
    if (::listen(fd_, kListenBacklog) != 0) return status_for_errno(errno);
    auto acceptor = std::make_shared<Acceptor>(context_, fd_, weak_from_this());
    fd_ = -1;  // the acceptor owns the listening socket now
    acceptor_ = acceptor;
    events_ = events;
    if (!acceptor->start()) {
      events_ = nullptr;
      return STATUS_INSUFFICIENT_RESOURCES;
    }
    return STATUS_SUCCESS;
  }
  void stop_listening() override {
    std::lock_guard deliveries(deliver_mutex_);  // wait out an on_request on another thread
    std::shared_ptr<Acceptor> acceptor;
    {
      std::lock_guard lock(mutex_);
      events_ = nullptr;
      acceptor = acceptor_;
    }
    if (acceptor != nullptr) acceptor->shut();
  }

  // Executor thread: hands a parsed Request to the listener. False: refused.
  bool deliver(ConnectionPtr connection, const ConnectionParams& request) {
    std::lock_guard deliveries(deliver_mutex_);
    ListenEvents* events;
    {
      std::lock_guard lock(mutex_);
      events = events_;
    }
    if (events == nullptr) return false;
    return events->on_request(std::move(connection), request);
  }

  // A Connector endpoint's socket, bound and unconnected (taken once); -1 if none.
  int take_socket() {
    std::lock_guard lock(mutex_);
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  EndpointUse use() const { return use_; }
  const SockAddr& bound() const { return bound_; }
  const std::shared_ptr<TcpContext>& context() const { return context_; }

 private:
  std::shared_ptr<TcpContext> context_;
  SockAddr address_;  // as reported (wildcard kept), with the real port
  SockAddr bound_;    // what the socket is bound to (the adapter's IP)
  EndpointUse use_;
  std::recursive_mutex deliver_mutex_;  // held while a request is delivered
  std::mutex mutex_;
  int fd_;
  std::shared_ptr<Acceptor> acceptor_;
  ListenEvents* events_ = nullptr;
};

void Acceptor::on_io(uint32_t) {
  for (int round = 0; round < 64; ++round) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    int fd;
    {
      std::lock_guard lock(mutex_);
      if (fd_ < 0) return;
      fd = accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &length,
                   SOCK_NONBLOCK | SOCK_CLOEXEC);
    }
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN, or out of descriptors (the next readiness retries)
    }
    SockAddr remote;
    remote.assign(reinterpret_cast<sockaddr*>(&peer), length);
    SockAddr local = socket_local_address(fd);
    std::weak_ptr<TcpEndpoint> weak = endpoint_;
    auto connection = std::make_shared<TcpConnection>(
        context_, fd, local, remote, [weak](ConnectionPtr c, const ConnectionParams& request) {
          auto endpoint = weak.lock();
          return endpoint != nullptr && endpoint->deliver(std::move(c), request);
        });
    connection->start();
  }
}

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(std::shared_ptr<TcpContext> context) : context_(std::move(context)) {
    caps_.name = "tcp";
    caps_.data_path =
        "TCP socket (the kernel copies the sender's memory into the socket (sendmsg) and out of "
        "it into the target memory (recv, through a 16 KiB staging buffer for what is read ahead))";
    caps_.direct_placement = true;
    caps_.in_order_placement = true;
    // 256 bytes of MPA private data (what Linux siw accepts), the RFC 6581 IRD/ORD word included.
    caps_.max_private_data_request = 252;
    caps_.max_private_data_reply = 252;
  }
  ~TcpTransport() override { context_->engine->stop(); }

  const Capabilities& capabilities() const override { return caps_; }
  // An adapter opened on a wildcard (tcp://0.0.0.0, tcp://[::]) has every address of its
  // family on this host.
  bool owns_address(const SockAddr& ip) const override {
    if (!context_->ip.is_wildcard()) return ip.same_ip(context_->ip);
    return ip.family() == context_->ip.family() && is_local_address(ip);
  }

  Status bind(const SockAddr& local, EndpointUse use, EndpointRef* out) override {
    if (!local.valid()) return STATUS_INVALID_PARAMETER;
    if (local.family() != context_->ip.family()) return STATUS_INVALID_ADDRESS;
    if (!local.is_wildcard() && !owns_address(local)) return STATUS_INVALID_ADDRESS;
    if (local.port() != 0) return bind_port(local, local.port(), use, out);
    return EndpointTable::bind_ephemeral(
        [&](uint16_t port) { return bind_port(local, port, use, out); });
  }

  Status connect(const EndpointRef& local, const SockAddr& remote,
                 const ConnectionParams& request, ConnectionEvents* events,
                 ConnectionPtr* out) override {
    auto* endpoint = static_cast<TcpEndpoint*>(local.get());
    if (remote.family() != context_->ip.family()) return STATUS_INVALID_ADDRESS;
    SockAddr local_address = endpoint->bound();
    if (!endpoint_table().add_connection("", local_address, remote))
      return STATUS_ADDRESS_ALREADY_EXISTS;
    auto release = [local_address, remote] {
      endpoint_table().remove_connection("", local_address, remote);
    };
    int fd = -1;
    if (endpoint->use() == EndpointUse::Shared) {
      // Several connections share the shared endpoint's address and port (SO_REUSEADDR).
      fd = make_tcp_socket(local_address.family(), context_->options.mss);
      if (fd >= 0 && ::bind(fd, local_address.raw(), local_address.length()) != 0) {
        int error = errno;
        ::close(fd);
        fd = -1;
        errno = error;
      }
    } else {
      fd = endpoint->take_socket();
      if (fd < 0) errno = EINVAL;
    }
    if (fd < 0) {
      Status status = errno == EADDRINUSE ? STATUS_ADDRESS_ALREADY_EXISTS : status_for_errno(errno);
      release();
      return status == STATUS_UNSUCCESSFUL ? STATUS_INVALID_DEVICE_STATE : status;
    }
    auto connection = std::make_shared<TcpConnection>(context_, fd, local_address, remote,
                                                      request, events, release);
    connection->start();
    *out = connection;
    return STATUS_SUCCESS;
  }

 private:
  // Binds a socket to the adapter's IP and `port` and records the endpoint.
  Status bind_port(const SockAddr& local, uint16_t port, EndpointUse use, EndpointRef* out) {
    // A wildcard means every address of this adapter: its one IP, or every address of the
    // host for an adapter opened on a wildcard (then a specific address binds to itself).
    SockAddr bind_to = (context_->ip.is_wildcard() ? local : context_->ip).with_port(port);
    SockAddr reported = local.with_port(port);
    if (endpoint_table().port_in_use("", reported)) return STATUS_SHARING_VIOLATION;
    int fd = make_tcp_socket(bind_to.family(), context_->options.mss);
    if (fd < 0) return status_for_errno(errno);
    if (::bind(fd, bind_to.raw(), bind_to.length()) != 0) {
      int error = errno;
      ::close(fd);
      return status_for_errno(error);
    }
    if (!endpoint_table().add_endpoint("", reported)) {
      ::close(fd);
      return STATUS_SHARING_VIOLATION;
    }
    *out = std::make_shared<TcpEndpoint>(context_, reported, bind_to, use, fd);
    return STATUS_SUCCESS;
  }

  std::shared_ptr<TcpContext> context_;
  Capabilities caps_;
};

}  // namespace

Status create_tcp_transport(const std::string& address,
                            std::map<std::string, std::string>& options, Executor* executor,
                            TransportPtr* out) {
  auto context = std::make_shared<TcpContext>();
  if (!SockAddr::parse(address, &context->ip) || context->ip.port() != 0)
    return STATUS_INVALID_PARAMETER;
  // An adapter is a local interface address (or the wildcard: all of them): an address of
  // another host is refused at open, not at the first listen or connect.
  if (!context->ip.is_wildcard() && !is_local_address(context->ip)) return STATUS_INVALID_ADDRESS;
  TcpOptions& o = context->options;
  uint64_t v = 0;
  for (auto it = options.begin(); it != options.end();) {
    const std::string& key = it->first;
    const std::string& value = it->second;
    bool ok = true;
    bool consumed = true;
    if (key == "crc") {
      ok = parse_option_flag(value, &o.request_crc);
    } else if (key == "poll") {
      ok = parse_option_flag(value, &o.poll);
    } else if (key == "consumer_rx") {
      ok = parse_option_flag(value, &o.consumer_receive);
    } else if (key == "mpa_rev") {
      ok = parse_option_number(value, 1, 2, &v);
      o.mpa_rev = static_cast<uint8_t>(v);
    } else if (key == "link_timeout_ms") {
      ok = parse_option_number(value, 1000, 3600000, &v);
      o.link_timeout_ms = static_cast<uint32_t>(v);
    } else if (key == "mss") {
      ok = parse_option_number(value, 88, 65535, &v);
      o.mss = static_cast<uint32_t>(v);
    } else if (key == "max_fpdu") {
      ok = parse_option_number(value, 88, 65535, &v);
      o.max_fpdu = static_cast<uint32_t>(v);
    } else if (key == "fpdu_eor") {
      ok = parse_option_flag(value, &o.fpdu_eor);
    } else {
      consumed = false;
      // An adapter option we honour too (not consumed: the adapter applies it).
      if (key == "connect_timeout_ms" && parse_option_number(value, 1, 600000, &v))
        o.setup_timeout_ms = static_cast<uint32_t>(v);
    }
    if (!ok) return STATUS_INVALID_PARAMETER;
    it = consumed ? options.erase(it) : std::next(it);
  }
  context->executor = executor;
  context->engine = std::make_shared<ProgressEngine>(o.poll);
  *out = std::make_unique<TcpTransport>(std::move(context));
  return STATUS_SUCCESS;
}

}  // namespace softndk::transport::tcp
