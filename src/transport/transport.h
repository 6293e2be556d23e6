// The transport interface: what the core needs from loopback, iWARP/TCP and shared memory.
// The core speaks in DDP segments (RFC 5041) carrying RDMAP messages (RFC 5040); a transport
// moves them and sets up connections. Nothing here knows NDK objects; nothing in core/ knows a
// concrete transport. See docs/architecture.md for the picture and the contracts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transport/address.h"
#include "wire/ddp.h"
#include "wire/rdmap.h"
#include "wire/rtr.h"

namespace softndk::transport {

using Status = int32_t;  // NTSTATUS values (include/softndk/ndkpi.h)

// ---------------------------------------------------------------------------------------------
// Data: segments
//
// A segment is one DDP segment (RFC 5041) of an RDMAP message (RFC 5040), described by the
// wire's host-order header (wire::UlpduHeader: the DDP header, the Read Request or Terminate
// header, and the sizes). The core fills every field, MSNs included (it counts the RTR too);
// a transport frames and moves segments without interpreting them.

// A read-only piece of payload in the sender's memory.
struct ConstPiece {
  const std::byte* data;
  size_t bytes;
};

// A fault the core's fault plan asks the link to produce with this segment (docs/faults.md).
enum class TxFault : uint8_t {
  None,
  Corrupt,     // data.corrupt: damage it after the CRC (tcp), the peer's CRC verdict (loopback)
  Drop,        // data.drop (loopback): lost after it left: Sent, never delivered
  Delay,       // data.delay (loopback): delivered fault_ms later (send returns Blocked)
  Silence,     // peer.silent: from this segment on the link carries nothing either way
  VanishPeer,  // peer.vanish (loopback): the peer adapter's connections all abort
};

// What the sending core hands to Link::send. The payload pieces stay valid until send returns
// Sent, or, after Blocked, until the link calls LinkSink::link_writable() (zero copy).
struct TxSegment {
  const wire::UlpduHeader* header = nullptr;  // sizes set (payload_bytes_ = sum of the pieces)
  const ConstPiece* pieces = nullptr;
  size_t piece_count = 0;
  TxFault fault = TxFault::None;
  uint32_t fault_ms = 0;  // Delay
};

enum class TxResult {
  Sent,     // the whole segment is the link's; payload may be reused
  Blocked,  // accepted but not fully out: keep payload valid, send nothing more until writable
  Closed,   // the link is down: nothing was sent
  Refused,  // the peer refused this very segment at once (a synchronous verdict, loopback): the
            // link is closed now, and this message is the one the peer terminated on
};

// How the receiving core answers the header of an incoming segment.
enum class RxVerdict {
  Place,      // payload goes where rx_next_span() says
  Discard,    // read and drop the payload (zero-length or ignored)
  Terminate,  // protocol violation: the core has already asked the link to terminate
};

// Implemented by the core (one per connected queue pair). The transport calls it from one
// thread at a time per link (rx calls are serialized; link_writable/link_closed too).
class LinkSink {
 public:
  virtual ~LinkSink() = default;
  // A segment header arrived (sizes set); header.payload_bytes_ follow. The core validates it
  // and prepares placement. The header stays valid until rx_end.
  virtual RxVerdict rx_begin(const wire::UlpduHeader& header) = 0;
  // After Place: the next destination for at most max_bytes of payload, straight into target
  // memory. The link fills each returned span completely before asking again. An empty span
  // means: discard the rest of this segment's payload (the core failed a local check and will
  // end the connection in rx_end).
  virtual std::span<std::byte> rx_next_span(size_t max_bytes) = 0;
  // The segment ended. intact == false when its CRC failed or the link broke mid-segment;
  // the core then discards what was placed and does not complete anything.
  virtual void rx_end(bool intact) = 0;
  // A Blocked send finished; the core may send again.
  virtual void link_writable() = 0;
  // The link is gone: the peer disconnected in order (Graceful), the connection broke
  // (Aborted), or a Terminate ended it, ours (TerminateSent: the core's or the link's own, for a
  // framing error) or the peer's (TerminateReceived: it may name one of our segments). Called
  // once, with `terminate` set for the two Terminate kinds; after it the link makes no further
  // call and holds no payload pointer.
  enum class CloseKind { Graceful, Aborted, TerminateSent, TerminateReceived };
  virtual void link_closed(CloseKind kind, const wire::TerminateMessage* terminate) = 0;
};

// Everything a connection carries once it is established.
class Link {
 public:
  virtual ~Link() = default;
  // Bytes of payload one segment may carry now (can change per message, e.g. with the MSS).
  virtual size_t max_segment_payload(bool tagged) const = 0;
  virtual TxResult send(const TxSegment& segment) = 0;
  // Send this Terminate (once; the core built the whole message), then close abortively. The
  // local sink gets link_closed(TerminateSent). May be called from inside rx_begin/rx_end; after
  // a Terminate verdict the link makes no further rx call for that segment.
  virtual void terminate(const wire::TerminateMessage& message) = 0;
  // Orderly close after everything sent so far. The sink gets link_closed(Graceful) when the
  // peer has answered (or Aborted on failure/timeout).
  virtual void disconnect() = 0;
  // Immediate close; the peer sees an abort. The local sink gets link_closed(Aborted). When it
  // returns, no rx call is in progress on another thread and none will start (direct memory
  // access into the sink has ended).
  virtual void abort() = 0;
  // Consumer-driven receive (busy polling). A link that can receive on the caller's thread
  // says so here; the core then lets a consumer that finds its CQ empty call poll_receive(),
  // which processes whatever bytes are already waiting, without blocking, through the same
  // LinkSink calls (serialized with the link's own delivery thread), and returns false at
  // once when another thread is delivering or the link is closing. The link's own progress
  // stays responsible for everything a consumer does not poll for.
  virtual bool supports_poll_receive() const { return false; }
  virtual bool poll_receive() { return false; }
  // The consumer stops polling (it arms its CQ to wait): the link's own progress takes over
  // at once.
  virtual void stop_poll_receive() {}
};

// ---------------------------------------------------------------------------------------------
// Control: connection setup (three legs: request, reply, ready; NDKPI NdkConnect / NdkAccept / NdkCompleteConnect)

struct ConnectionParams {
  uint32_t inbound_read_limit = 0;   // IRD offered / chosen
  uint32_t outbound_read_limit = 0;  // ORD offered / chosen
  std::vector<std::byte> private_data;
};

// Events of one connection during setup, implemented by the core's connector. Delivered on the
// adapter's executor thread, never from inside a call made by the core.
class ConnectionEvents {
 public:
  virtual ~ConnectionEvents() = default;
  // Active side: the peer accepted with these parameters (leg 2).
  virtual void on_reply(const ConnectionParams& peer) = 0;
  // Active side: refused (no listener, paused, rejected with private data, unreachable...).
  virtual void on_connect_failed(Status status, std::vector<std::byte> reject_data) = 0;
  // Passive side: the requester sent its ready leg; the connection is established.
  virtual void on_established() = 0;
  // Passive side after accept, or active side after on_reply: the other side gave up.
  virtual void on_setup_aborted(Status status) = 0;
};

// One connection, from request to close. Owned by the core's connector.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual SockAddr local_address() const = 0;
  virtual SockAddr peer_address() const = 0;
  // Where setup events go (passive side: set by the core when it takes the request).
  virtual void set_events(ConnectionEvents* events) = 0;
  // Active side after on_reply: send the ready leg; data may flow through `sink` from now on.
  virtual Status complete(LinkSink* sink) = 0;
  // Passive side: reply to the request; on_established() follows when the ready leg arrives.
  virtual Status accept(const ConnectionParams& reply, LinkSink* sink) = 0;
  // Passive side: refuse with private data. Active side after on_reply: decline (empty data).
  virtual Status reject(std::span<const std::byte> private_data) = 0;
  // The established link (valid after complete() or on_established()).
  virtual Link* link() = 0;
  // The ready-to-receive message the startup negotiated (RFC 6581 section 5), valid once the active
  // side has on_reply() and on the passive side from the request's delivery: the active core
  // sends it as its first message, the passive core absorbs it. None for transports without MPA.
  virtual wire::Rtr rtr() const { return wire::Rtr::None; }
  // Give up a connection in any state; no more events after this returns.
  virtual void cancel() = 0;
};
using ConnectionPtr = std::shared_ptr<Connection>;

// Implemented by the core's listener.
class ListenEvents {
 public:
  virtual ~ListenEvents() = default;
  // A connect request arrived (on the adapter's executor thread). Return false to refuse it
  // (paused or closing); the requester then sees STATUS_CONNECTION_REFUSED.
  virtual bool on_request(ConnectionPtr connection, const ConnectionParams& request) = 0;
};

// A local (address, port) reservation: a listener's, a connector's own, or a shared endpoint.
// Released when the last reference goes.
class Endpoint {
 public:
  virtual ~Endpoint() = default;
  virtual SockAddr address() const = 0;
  // Start delivering requests to `events`; STATUS_SUCCESS or a documented failure.
  virtual Status listen(ListenEvents* events) = 0;
  // Stop delivering requests; new requests are refused from the moment this returns, and no
  // on_request call is running or will start afterwards.
  virtual void stop_listening() = 0;
};
using EndpointRef = std::shared_ptr<Endpoint>;

enum class EndpointUse { Listener, Connector, Shared };

// Runs control-path work on the owning adapter's event thread (set by the core).
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void post(std::function<void()> work) = 0;
  virtual void post_after(uint64_t delay_ms, std::function<void()> work) = 0;
};

struct Capabilities {
  std::string name;             // "loopback", "tcp", "shm"
  // How a payload travels from the sender's memory to the receiver's, in words for people
  // (SoftNdkQueryAdapterTransport, `softndk info`): the copies made and where.
  std::string data_path;
  bool direct_placement = true;  // payload lands in target memory without a staging copy
  bool in_order_placement = true;
  uint32_t max_private_data_request = 56;
  uint32_t max_private_data_reply = 148;
};

// One transport instance per open adapter.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual const Capabilities& capabilities() const = 0;
  // Addresses this adapter owns (for queries and INVALID_ADDRESS checks).
  virtual bool owns_address(const SockAddr& ip) const = 0;
  // Reserve a local endpoint. Port 0 picks a free one in 49152..65535.
  // Errors: STATUS_SHARING_VIOLATION, STATUS_INVALID_ADDRESS, STATUS_TOO_MANY_ADDRESSES.
  virtual Status bind(const SockAddr& local, EndpointUse use, EndpointRef* out) = 0;
  // Start an outgoing connection from `local` to `remote`. Inline errors are returned
  // (STATUS_ADDRESS_ALREADY_EXISTS, ...); everything later arrives through `events`.
  virtual Status connect(const EndpointRef& local, const SockAddr& remote,
                         const ConnectionParams& request, ConnectionEvents* events,
                         ConnectionPtr* out) = 0;
};
using TransportPtr = std::unique_ptr<Transport>;

}  // namespace softndk::transport
