// Connectors (NDKPI NDK_CONNECTOR: NdkConnect, NdkCompleteConnect, NdkAccept, NdkReject,
// NdkGetConnectionData, NdkDisconnect, the disconnect event): the active and passive setup as
// one state machine, private data, read-limit negotiation, disconnect. Transport-neutral: the
// wire form of each leg belongs to the transport behind transport::Connection. Listeners and
// shared endpoints are in core/listener.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include "core/adapter.h"
#include "core/listener.h"
#include "core/object.h"
#include "core/qp.h"
#include "transport/transport.h"

namespace softndk::core {


class Connector final : public Object, public transport::ConnectionEvents {
 public:
  explicit Connector(Adapter* adapter);  // NdkCreateConnector
  Connector(Listener* listener, transport::ConnectionPtr connection,
            const transport::ConnectionParams& request);  // delivered by a listener

  NTSTATUS connect(Qp* qp, const sockaddr* source, ULONG source_length, SharedEndpoint* shared,
                   const sockaddr* destination, ULONG destination_length, ULONG inbound_limit,
                   ULONG outbound_limit, const void* private_data, ULONG private_data_length,
                   NDK_FN_REQUEST_COMPLETION completion, void* context);
  NTSTATUS complete_connect(NDK_FN_DISCONNECT_EVENT_CALLBACK event,
                            NDK_FN_DISCONNECT_EVENT_CALLBACK_EX event_ex, void* event_context,
                            NDK_FN_REQUEST_COMPLETION completion, void* context);
  NTSTATUS accept(Qp* qp, ULONG inbound_limit, ULONG outbound_limit, const void* private_data,
                  ULONG private_data_length, NDK_FN_DISCONNECT_EVENT_CALLBACK event,
                  NDK_FN_DISCONNECT_EVENT_CALLBACK_EX event_ex, void* event_context,
                  NDK_FN_REQUEST_COMPLETION completion, void* context);
  NTSTATUS reject(const void* private_data, ULONG private_data_length);
  NTSTATUS connection_data(ULONG* inbound_limit, ULONG* outbound_limit, void* private_data,
                           ULONG* private_data_length);
  NTSTATUS local_address(sockaddr* address, ULONG* length);
  NTSTATUS peer_address(sockaddr* address, ULONG* length);
  NTSTATUS disconnect(NDK_FN_REQUEST_COMPLETION completion, void* context);

  // For diagnostics (verifier mode): the state's name ("idle", "connected", ...).
  std::string_view state_name();

  // From the queue pair (event thread): the link closed. local: our own disconnect ended.
  void qp_link_closed(bool graceful, bool local);

  // transport::ConnectionEvents (event thread)
  void on_reply(const transport::ConnectionParams& peer) override;
  void on_connect_failed(NTSTATUS status, std::vector<std::byte> reject_data) override;
  void on_established() override;
  void on_setup_aborted(NTSTATUS status) override;

 private:
  enum class State {
    Idle,
    Connecting,
    ConnectReplied,
    Incoming,
    Accepting,
    Connected,
    Disconnecting,
    Done,  // failed, rejected, disconnected: terminal
  };
  static std::string_view to_string(State state);
  // The one way state_ changes (mutex_ held): logs, and returns the new generation.
  // `status`: the NTSTATUS that caused a failed transition, named in the log line.
  uint64_t transition_locked(State to, const char* event, NTSTATUS status = STATUS_SUCCESS);
  struct Pending {
    NDK_FN_REQUEST_COMPLETION completion = nullptr;
    void* context = nullptr;
    bool active = false;
  };

  void on_close() override;
  void release_resources() override;
  void on_destroy() override;
  // Starts a pending request (takes a reference) / finishes it on the event thread.
  void begin_pending(Pending& pending, NDK_FN_REQUEST_COMPLETION completion, void* context);
  void finish_pending(Pending& pending, NTSTATUS status);  // call with mutex_ NOT held
  Pending take(Pending& pending);
  void fire_disconnect_event(ULONG reason);
  void arm_timeout(State expected, uint64_t generation);
  void cancel_timeout();
  // Completes a connect whose reply overtook connect() (event thread).
  bool lose_request_fault();  // conn.timeout fired: the connect request is never sent
  // The second half of connect(): the transport's connect (or a lost request), the timer.
  NTSTATUS start_connection(Qp* qp, const transport::EndpointRef& endpoint,
                            const transport::SockAddr& destination,
                            const transport::ConnectionParams& request, uint64_t generation);
  void finish_reply();
  uint64_t timer_id_ = 0;  // under mutex_
  void detach_qp();
  // NdkConnect's addresses: false when they are not usable together.
  bool connect_addresses(const sockaddr* source, ULONG source_length, SharedEndpoint* shared,
                         const sockaddr* destination, ULONG destination_length,
                         transport::SockAddr* source_address,
                         transport::SockAddr* destination_address) const;

  std::mutex mutex_;
  State state_ = State::Idle;
  uint64_t generation_ = 0;  // invalidates timers of earlier states
  Qp* qp_ = nullptr;         // referenced while set (QP is our antecedent)
  Listener* listener_ = nullptr;
  SharedEndpoint* shared_ = nullptr;
  transport::EndpointRef endpoint_;
  transport::ConnectionPtr connection_;
  std::vector<std::byte> peer_data_;
  uint32_t peer_data_max_ = 0;  // RDS for peer_data_
  uint32_t peer_inbound_ = 0, peer_outbound_ = 0;
  uint32_t own_inbound_ = 0, own_outbound_ = 0;
  uint32_t effective_inbound_ = 0, effective_outbound_ = 0;
  bool have_connection_data_ = false;
  bool addresses_valid_ = false;  // from the reply (active) or delivery (passive) until a failure
  bool peer_gave_up_ = false;
  bool reply_before_connection_ = false;  // on_reply ran before connect() stored connection_
  NTSTATUS peer_gave_up_status_ = STATUS_CONNECTION_ABORTED;
  Pending connect_, accept_, disconnect_;
  NDK_FN_DISCONNECT_EVENT_CALLBACK disconnect_event_ = nullptr;
  NDK_FN_DISCONNECT_EVENT_CALLBACK_EX disconnect_event_ex_ = nullptr;
  void* disconnect_event_context_ = nullptr;
  bool disconnect_event_fired_ = false;
  bool local_teardown_ = false;  // our consumer disconnected or closed: no event
};

}  // namespace softndk::core
