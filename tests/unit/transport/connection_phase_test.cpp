// The tcp connection's phase machine (src/transport/tcp/connection_phase.h), without sockets:
// every (phase, event) pair against the table of legal transitions written out here, so a legal
// transition that changes and an illegal event that becomes legal both fail; the two roles' paths
// from the first byte to Closed; to_string of every phase and event.
#include "transport/tcp/connection_phase.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace softndk::transport::tcp {
namespace {

using P = Phase;
using E = PhaseEvent;

struct Legal {
  Phase from;
  PhaseEvent event;
  Phase to;
};

// Every legal transition, independently of connection_phase.cpp's code.
const std::vector<Legal>& legal_transitions() {
  static const std::vector<Legal> table = [] {
    std::vector<Legal> t = {
        {P::Connecting, E::TcpConnected, P::AwaitReply},
        {P::AwaitReply, E::ReplyAccepted, P::AwaitComplete},
        {P::AwaitComplete, E::Completed, P::Established},
        {P::AwaitComplete, E::Declined, P::Closed},
        {P::AwaitRequest, E::RequestReceived, P::RequestDelivered},
        {P::RequestDelivered, E::AcceptedAwaitRtr, P::AwaitRtr},
        {P::RequestDelivered, E::AcceptedNoRtr, P::Established},
        {P::AwaitRequest, E::Rejected, P::Draining},
        {P::RequestDelivered, E::Rejected, P::Draining},
        {P::AwaitRtr, E::FirstFpdu, P::Established},
        {P::Established, E::Disconnect, P::Closing},
        {P::Established, E::PeerFin, P::Closing},
        {P::AwaitReply, E::TerminateQueued, P::Draining},
        {P::AwaitRtr, E::TerminateQueued, P::Draining},
        {P::Established, E::TerminateQueued, P::Draining},
        {P::Closing, E::TerminateQueued, P::Draining},
        {P::Draining, E::TerminateQueued, P::Draining},
        {P::Closing, E::Cancelled, P::Draining},
        {P::Connecting, E::SetupFailed, P::Closed},
        {P::AwaitRequest, E::SetupFailed, P::Closed},
    };
    for (Phase from : {P::Connecting, P::AwaitReply, P::AwaitComplete, P::AwaitRequest,
                       P::RequestDelivered, P::AwaitRtr, P::Established, P::Closing})
      t.push_back({from, E::Reset, P::Closed});
    for (size_t i = 0; i < kPhaseCount; ++i)
      t.push_back({static_cast<Phase>(i), E::SocketClosed, P::Closed});
    return t;
  }();
  return table;
}

const Legal* find_legal(Phase from, PhaseEvent event) {
  for (const Legal& l : legal_transitions())
    if (l.from == from && l.event == event) return &l;
  return nullptr;
}

TEST(TcpConnectionPhase, EveryLegalTransitionLeadsWhereTheTableSays) {
  for (const Legal& l : legal_transitions()) {
    std::optional<Phase> next = transition(l.from, l.event);
    ASSERT_TRUE(next.has_value()) << to_string(l.event) << " in " << to_string(l.from);
    EXPECT_EQ(l.to, *next) << to_string(l.event) << " in " << to_string(l.from) << " led to "
                           << to_string(*next);
  }
}

TEST(TcpConnectionPhase, EveryOtherEventIsRejected) {
  size_t rejected = 0;
  for (size_t p = 0; p < kPhaseCount; ++p) {
    for (size_t e = 0; e < kPhaseEventCount; ++e) {
      const auto from = static_cast<Phase>(p);
      const auto event = static_cast<PhaseEvent>(e);
      if (find_legal(from, event) != nullptr) continue;
      ++rejected;
      EXPECT_FALSE(transition(from, event).has_value())
          << to_string(event) << " accepted in " << to_string(from);
    }
  }
  // The table holds no duplicates: legal + rejected covers every pair exactly once.
  EXPECT_EQ(kPhaseCount * kPhaseEventCount, rejected + legal_transitions().size());
}

TEST(TcpConnectionPhase, ClosedIsLeftByNothing) {
  for (size_t e = 0; e < kPhaseEventCount; ++e) {
    std::optional<Phase> next = transition(P::Closed, static_cast<PhaseEvent>(e));
    if (next.has_value()) {
      EXPECT_EQ(P::Closed, *next) << to_string(static_cast<PhaseEvent>(e));
    }
  }
}

Phase walk(Phase from, std::initializer_list<PhaseEvent> events) {
  Phase phase = from;
  for (PhaseEvent event : events) {
    std::optional<Phase> next = transition(phase, event);
    EXPECT_TRUE(next.has_value()) << to_string(event) << " in " << to_string(phase);
    if (!next.has_value()) return phase;
    phase = *next;
  }
  return phase;
}

TEST(TcpConnectionPhase, InitiatorFromConnectToGracefulClose) {
  EXPECT_EQ(P::Established,
            walk(P::Connecting, {E::TcpConnected, E::ReplyAccepted, E::Completed}));
  EXPECT_EQ(P::Closed, walk(P::Established, {E::Disconnect, E::SocketClosed}));
  EXPECT_EQ(P::Closed, walk(P::Connecting, {E::TcpConnected, E::ReplyAccepted, E::Declined}));
  // A bad Reply: the setup Terminate, then the drain ends in a close.
  EXPECT_EQ(P::Closed, walk(P::Connecting, {E::TcpConnected, E::TerminateQueued, E::SocketClosed}));
}

TEST(TcpConnectionPhase, ResponderFromRequestToTerminate) {
  EXPECT_EQ(P::Established, walk(P::AwaitRequest, {E::RequestReceived, E::AcceptedAwaitRtr,
                                                    E::FirstFpdu}));
  EXPECT_EQ(P::Established, walk(P::AwaitRequest, {E::RequestReceived, E::AcceptedNoRtr}));
  EXPECT_EQ(P::Draining, walk(P::AwaitRequest, {E::RequestReceived, E::Rejected}));
  EXPECT_EQ(P::Closed, walk(P::Established, {E::PeerFin, E::Cancelled, E::SocketClosed}));
  EXPECT_EQ(P::Draining, walk(P::Established, {E::TerminateQueued, E::TerminateQueued}));
}

TEST(TcpConnectionPhase, SetupEventsOfOneRoleAreIllegalInTheOther) {
  EXPECT_FALSE(transition(P::AwaitRequest, E::ReplyAccepted).has_value());
  EXPECT_FALSE(transition(P::AwaitReply, E::RequestReceived).has_value());
  EXPECT_FALSE(transition(P::AwaitComplete, E::AcceptedNoRtr).has_value());
  EXPECT_FALSE(transition(P::RequestDelivered, E::Completed).has_value());
  // Nothing revives a draining connection, and a reset does not cut a drain short.
  EXPECT_FALSE(transition(P::Draining, E::FirstFpdu).has_value());
  EXPECT_FALSE(transition(P::Draining, E::Reset).has_value());
}

TEST(TcpConnectionPhase, EveryPhaseAndEventHasItsOwnName) {
  std::set<std::string> phases;
  for (size_t p = 0; p < kPhaseCount; ++p) {
    const char* name = to_string(static_cast<Phase>(p));
    ASSERT_NE(nullptr, name);
    EXPECT_STRNE("invalid-phase", name) << p;
    EXPECT_EQ(nullptr, std::strpbrk(name, "0123456789")) << name << ": names, not numbers";
    phases.insert(name);
  }
  EXPECT_EQ(kPhaseCount, phases.size());
  EXPECT_STREQ("await-rtr", to_string(P::AwaitRtr));
  EXPECT_STREQ("invalid-phase", to_string(static_cast<Phase>(kPhaseCount)));

  std::set<std::string> events;
  for (size_t e = 0; e < kPhaseEventCount; ++e) {
    const char* name = to_string(static_cast<PhaseEvent>(e));
    ASSERT_NE(nullptr, name);
    EXPECT_STRNE("invalid-event", name) << e;
    events.insert(name);
  }
  EXPECT_EQ(kPhaseEventCount, events.size());
  EXPECT_STREQ("first-fpdu", to_string(E::FirstFpdu));
  EXPECT_STREQ("invalid-event", to_string(static_cast<PhaseEvent>(kPhaseEventCount)));
}

TEST(TcpConnectionPhase, EventsBeyondTheEnumAreRejected) {
  EXPECT_FALSE(transition(P::Established, static_cast<PhaseEvent>(kPhaseEventCount)).has_value());
}

}  // namespace
}  // namespace softndk::transport::tcp
