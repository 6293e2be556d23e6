// Scale: many connected QP pairs between two processes (issue "performance round 3", item 3).
// For each count N (default 1, 100, 1000, 10000) a forked server process accepts N connections
// on one adapter, one QP each; the client connects them one after another and reports
//   - the connection setup rate (full three-leg handshakes per second, as the client sees them;
//     the server accepts at the same rate, it answers each one before the next starts),
//   - the resident memory per connected QP of each process (RSS delta / N),
//   - with A active QPs (default 1, 8, 64, 512; at most N): the aggregate RDMA Write bandwidth
//     (4 KiB writes, 8 in flight per QP) and the p50/p99 of 64-byte RDMA Read round trips (one
//     in flight per QP), both served by the server's provider alone, so the server's progress
//     thread is what scales or not,
//   - the CPU time of both processes during the traffic phases.
// usage: scale_bench [--uri tcp://127.0.0.1] [--counts 1,100,1000] [--active 1,8,64]
//                    [--seconds S]
// Plain text on stdout (one table row per N and A); nothing is asserted: a measurement.
#include <softndk/ndkpi.h>
#include <softndk/softndk.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ndkxx/adapter.h"
#include "ndkxx/call.h"
#include "ndkxx/connection.h"
#include "ndkxx/cq.h"
#include "ndkxx/handle.h"
#include "ndkxx/memory.h"

namespace {

using namespace softndk::ndkxx;
using Seconds = std::chrono::duration<double>;

constexpr size_t kServerMemory = 64u << 20;  // the RDMA target: 4 KiB slots, wrapping
constexpr size_t kWriteBytes = 4096;
constexpr ULONG kWritesInFlight = 8;
constexpr size_t kReadBytes = 64;

[[noreturn]] void die(const char* what, NTSTATUS status = STATUS_UNSUCCESSFUL) {
  std::fprintf(stderr, "scale_bench: %s failed (0x%08x)\n", what, static_cast<unsigned>(status));
  std::exit(1);
}

long rss_kib() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The control channel between the two processes (a socketpair): fixed-size messages.
struct Message {
  uint64_t a = 0, b = 0, c = 0;
};
void put(int fd, const Message& m) {
  if (::write(fd, &m, sizeof m) != static_cast<ssize_t>(sizeof m)) die("control write");
}
Message get(int fd) {
  Message m;
  size_t got = 0;
  while (got < sizeof m) {
    ssize_t n = ::read(fd, reinterpret_cast<char*>(&m) + got, sizeof m - got);
    if (n <= 0) die("control read (the other process ended)");
    got += static_cast<size_t>(n);
  }
  return m;
}

Created<NDK_PD> make_pd(Adapter& adapter) {
  return create<NDK_PD>([&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_PD** out) {
    return adapter.d()->NdkCreatePd(adapter.get(), cb, ctx, out);
  });
}

NDK_QP* make_qp(NDK_PD* pd, NDK_CQ* cq, ULONG initiator_depth) {
  Created<NDK_QP> q = create<NDK_QP>([&](NDK_FN_CREATE_COMPLETION cb, void* ctx, NDK_QP** out) {
    return pd->Dispatch->NdkCreateQp(pd, cq, cq, nullptr, 1, initiator_depth, 1, 1, 0, cb, ctx,
                                     out);
  });
  if (!q.ok()) die("NdkCreateQp", q.status);
  return q.object;
}

// ---------------------------------------------------------------------------------------------
// Server: accepts `count` connections, reports its RSS delta, serves until told to stop.

void run_server(const std::string& uri, uint64_t count, int control) {
  Adapter adapter(uri);
  if (adapter.open_status() != STATUS_SUCCESS) die("open (server)", adapter.open_status());
  Created<NDK_PD> p = make_pd(adapter);
  if (!p.ok()) die("NdkCreatePd (server)", p.status);
  PdHandle pd(p.object);
  Cq cq;
  if (NTSTATUS s = cq.create(adapter.get(), 1024); s != STATUS_SUCCESS) die("NdkCreateCq", s);
  Region memory(pd, kServerMemory,
                NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
                    NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
  if (memory.status() != STATUS_SUCCESS) die("register (server)", memory.status());
  ConnectEvents incoming;
  Created<NDK_LISTENER> l = create_listener(adapter.get(), incoming);
  if (!l.ok()) die("NdkCreateListener", l.status);
  ListenerHandle listener(l.object);
  sockaddr_storage address = adapter.local_address();
  if (!listen(listener, address).ok() ||
      local_address(listener.get(), &address) != STATUS_SUCCESS)
    die("NdkListen");
  const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
  put(control, {ntohs(in->sin_port), memory.address(), memory.remote_token()});

  const long rss_before = rss_kib();
  std::vector<QpHandle> qps;
  std::vector<ConnectorHandle> connectors;
  qps.reserve(count);
  connectors.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    NDK_CONNECTOR* c = incoming.next(Wait{std::chrono::seconds(30)});
    if (c == nullptr) die("connect event (server)", STATUS_IO_TIMEOUT);
    connectors.emplace_back(c);
    qps.emplace_back(make_qp(pd, cq.get(), 1));
    Request accept;
    NTSTATUS s = start_accept(accept, c, qps.back(), ConnectParams{}, DisconnectCallback{});
    if (s != STATUS_SUCCESS && s != STATUS_PENDING) die("NdkAccept", s);
    Outcome o = accept.finish(Wait{std::chrono::seconds(30)});
    if (!o.ok()) die("NdkAccept (completion)", o.status);
  }
  put(control, {static_cast<uint64_t>(rss_kib() - rss_before), 0, 0});
  for (;;) {
    Message m = get(control);  // a: 1 = CPU time please, 2 = stop
    if (m.a == 2) break;
    put(control, {static_cast<uint64_t>(cpu_seconds() * 1e6), 0, 0});
  }
  connectors.clear();  // the connector goes before its QP
  qps.clear();
}

// ---------------------------------------------------------------------------------------------
// Client

struct Remote {
  uint16_t port = 0;
  uint64_t address = 0;
  uint32_t token = 0;
};

struct Client {
  Adapter adapter;
  PdHandle pd;
  Cq cq;
  std::unique_ptr<Region> memory;
  std::vector<QpHandle> qps;
  std::vector<ConnectorHandle> connectors;

  explicit Client(const std::string& uri) : adapter(uri) {
    if (adapter.open_status() != STATUS_SUCCESS) die("open (client)", adapter.open_status());
    Created<NDK_PD> p = make_pd(adapter);
    if (!p.ok()) die("NdkCreatePd (client)", p.status);
    pd.reset(p.object);
    if (NTSTATUS s = cq.create(adapter.get(), 8192); s != STATUS_SUCCESS) die("NdkCreateCq", s);
    memory = std::make_unique<Region>(pd, 1u << 20,
                                      NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK);
    if (memory->status() != STATUS_SUCCESS) die("register (client)", memory->status());
  }

  void connect_one(const sockaddr_storage& server) {
    qps.emplace_back(make_qp(pd, cq.get(), kWritesInFlight));
    Created<NDK_CONNECTOR> c = create_connector(adapter.get());
    if (!c.ok()) die("NdkCreateConnector", c.status);
    connectors.emplace_back(c.object);
    Request connect;
    NTSTATUS s = start_connect(connect, c.object, qps.back(), adapter.local_address(), server,
                               ConnectParams{});
    if (s != STATUS_SUCCESS && s != STATUS_PENDING) die("NdkConnect", s);
    Outcome o = connect.finish(Wait{std::chrono::seconds(30)});
    if (!o.ok()) die("NdkConnect (completion)", o.status);
    Request complete;
    s = start_complete_connect(complete, c.object, DisconnectCallback{});
    if (s != STATUS_SUCCESS && s != STATUS_PENDING) die("NdkCompleteConnect", s);
    o = complete.finish(Wait{std::chrono::seconds(30)});
    if (!o.ok()) die("NdkCompleteConnect (completion)", o.status);
  }

  // Polls one batch; error completions end the run.
  ULONG poll(NDK_RESULT_EX* results, ULONG capacity) {
    ULONG n = cq.poll(results, capacity);
    for (ULONG i = 0; i < n; ++i)
      if (results[i].Status != STATUS_SUCCESS) die("a request", results[i].Status);
    return n;
  }
};

// RDMA Writes on `active` QPs, kWritesInFlight each, for `seconds`: bytes per second.
double write_bandwidth(Client& c, const Remote& r, size_t active, double seconds) {
  NDK_SGE sge = c.memory->sge(0, kWriteBytes);
  uint64_t slot = 0, posted = 0, done = 0;
  auto post = [&](size_t q) {
    const uint64_t at = r.address + (slot++ % (kServerMemory / kWriteBytes)) * kWriteBytes;
    NTSTATUS s = c.qps[q]->Dispatch->NdkWrite(c.qps[q], reinterpret_cast<void*>(q), &sge, 1, at,
                                              r.token, 0);
    if (s != STATUS_SUCCESS) die("NdkWrite", s);
    ++posted;
  };
  for (size_t q = 0; q < active; ++q)
    for (ULONG k = 0; k < kWritesInFlight; ++k) post(q);
  const auto start = Clock::now(), end = start + std::chrono::duration_cast<Clock::duration>(
                                                          Seconds(seconds));
  NDK_RESULT_EX results[64];
  auto now = start;
  uint64_t measured = 0;
  for (uint32_t polls = 0; now < end; ++polls) {
    ULONG n = c.poll(results, 64);
    for (ULONG i = 0; i < n; ++i) post(reinterpret_cast<uintptr_t>(results[i].RequestContext));
    done += n;
    measured += n;
    if (n == 0 || (polls & 63) == 0) now = Clock::now();
  }
  const double elapsed = Seconds(Clock::now() - start).count();
  const auto drain_end = Clock::now() + std::chrono::seconds(30);
  while (done < posted && Clock::now() < drain_end) done += c.poll(results, 64);
  if (done < posted) die("draining the writes", STATUS_IO_TIMEOUT);
  return double(measured) * kWriteBytes / elapsed;
}

// 64-byte RDMA Reads, one in flight per active QP, for `seconds`: round-trip percentiles (us).
std::pair<double, double> read_latency(Client& c, const Remote& r, size_t active, double seconds) {
  std::vector<Clock::time_point> posted_at(active);
  std::vector<uint64_t> samples_ns;
  samples_ns.reserve(1u << 20);
  auto post = [&](size_t q) {
    NDK_SGE sge = c.memory->sge((q % 1024) * kReadBytes, kReadBytes);
    posted_at[q] = Clock::now();
    NTSTATUS s = c.qps[q]->Dispatch->NdkRead(c.qps[q], reinterpret_cast<void*>(q), &sge, 1,
                                             r.address + q * kReadBytes, r.token, 0);
    if (s != STATUS_SUCCESS) die("NdkRead", s);
  };
  for (size_t q = 0; q < active; ++q) post(q);
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(Seconds(seconds));
  NDK_RESULT_EX results[64];
  size_t outstanding = active;
  bool more = true;
  while (outstanding != 0) {
    ULONG n = c.poll(results, 64);
    if (n == 0) continue;
    const auto now = Clock::now();
    more = more && now < end;
    for (ULONG i = 0; i < n; ++i) {
      const size_t q = reinterpret_cast<uintptr_t>(results[i].RequestContext);
      samples_ns.push_back(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - posted_at[q]).count()));
      if (more) {
        post(q);
      } else {
        --outstanding;
      }
    }
    if (now > end + std::chrono::seconds(30)) die("draining the reads", STATUS_IO_TIMEOUT);
  }
  std::sort(samples_ns.begin(), samples_ns.end());
  auto pct = [&](double p) {
    return samples_ns.empty() ? 0.0 : samples_ns[size_t(p * double(samples_ns.size() - 1))] / 1e3;
  };
  return {pct(0.50), pct(0.99)};
}

std::vector<uint64_t> parse_list(const char* text) {
  std::vector<uint64_t> out;
  for (const char* p = text; *p != '\0';) {
    char* end = nullptr;
    out.push_back(std::strtoull(p, &end, 10));
    if (end == p) break;
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

void run_count(const std::string& uri, uint64_t count, const std::vector<uint64_t>& actives,
               double seconds) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) die("socketpair");
  std::fflush(stdout);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    ::close(pair[0]);
    run_server(uri, count, pair[1]);
    std::_Exit(0);
  }
  ::close(pair[1]);
  const int control = pair[0];
  Message hello = get(control);
  Remote remote{static_cast<uint16_t>(hello.a), hello.b, static_cast<uint32_t>(hello.c)};
  {
    Client client(uri);
    sockaddr_storage server = client.adapter.local_address();
    reinterpret_cast<sockaddr_in*>(&server)->sin_port = htons(remote.port);
    const long rss_before = rss_kib();
    const auto start = Clock::now();
    for (uint64_t i = 0; i < count; ++i) client.connect_one(server);
    const double setup = Seconds(Clock::now() - start).count();
    const long client_kib = rss_kib() - rss_before;
    const uint64_t server_kib = get(control).a;
    std::printf("%7" PRIu64 " QPs: setup %8.0f conn/s | RSS per QP: client %5.1f KiB, server "
                "%5.1f KiB\n",
                count, double(count) / setup, double(client_kib) / double(count),
                double(server_kib) / double(count));
    std::fflush(stdout);
    for (uint64_t active : actives) {
      if (active > count) continue;
      put(control, {1, 0, 0});
      const double server_cpu0 = double(get(control).a) / 1e6, client_cpu0 = cpu_seconds();
      const auto t0 = Clock::now();
      const double bw = write_bandwidth(client, remote, active, seconds);
      const auto [p50, p99] = read_latency(client, remote, active, seconds);
      const double wall = Seconds(Clock::now() - t0).count();
      put(control, {1, 0, 0});
      const double server_cpu = double(get(control).a) / 1e6 - server_cpu0;
      const double client_cpu = cpu_seconds() - client_cpu0;
      std::printf("         %4" PRIu64 " active: write 4 KiB %7.2f GB/s | read 64 B p50 %7.1f us"
                  " p99 %8.1f us | CPU client %3.0f%% server %3.0f%%\n",
                  active, bw / 1e9, p50, p99, 100 * client_cpu / wall, 100 * server_cpu / wall);
      std::fflush(stdout);
    }
  }  // the client closes everything first: the server sees disconnects, not resets
  put(control, {2, 0, 0});
  int status = 0;
  waitpid(child, &status, 0);
  ::close(control);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("the server process");
}

}  // namespace

int main(int argc, char** argv) {
  std::string uri = "tcp://127.0.0.1";
  std::vector<uint64_t> counts = {1, 100, 1000, 10000};
  std::vector<uint64_t> actives = {1, 8, 64, 512};
  double seconds = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--uri") uri = argv[i + 1];
    else if (key == "--counts") counts = parse_list(argv[i + 1]);
    else if (key == "--active") actives = parse_list(argv[i + 1]);
    else if (key == "--seconds") seconds = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--uri U] [--counts N,..] [--active A,..] [--seconds S]\n",
                   argv[0]);
      return 2;
    }
  }
  // Two descriptors per connection and process at most (its socket, and the listener's side).
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  std::printf("scale_bench over %s: %.1f s per phase, 4 KiB writes x%u per QP, 64 B reads x1\n",
              uri.c_str(), seconds, kWritesInFlight);
  for (uint64_t count : counts) run_count(uri, count, actives, seconds);
  return 0;
}
