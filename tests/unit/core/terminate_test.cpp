// What the end of a link means for our own requests (core/datapath/terminate.h; RFC 5040 §5.3,
// §7; docs/architecture.md "Interpretations"): a Terminate from the peer that
// names our Read Request fails that read (STATUS_ACCESS_VIOLATION, STATUS_REMOTE_RESOURCES for a
// read past the end), one that names the Send or Write the link refused fails that request,
// a lost link fails the refused request with STATUS_CONNECTION_RESET, and our own Terminate
// blames none of our requests. Everything else outstanding is cancelled, nothing after a failed
// request reports success, ProviderErrorCode is 0x01LLTTCC for a Terminate (layer, type, code)
// and 0x03000000 for a lost transport, and the consumer gets the disconnect event.
#include <gtest/gtest.h>

#include <cstring>

#include "engine_test_util.h"

namespace softndk::test {
namespace {

using CloseKind = transport::LinkSink::CloseKind;
using transport::RxVerdict;
using transport::TxResult;
using wire::RdmapOpcode;

constexpr ULONG kLocalWrite = NDK_MR_FLAG_ALLOW_LOCAL_WRITE;
constexpr ULONG kReadSink = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;

// The Terminate a peer sends for `offending` (one of our segments), carrying its DDP header and
// length, and its Read Request header when `with_read_request` (RFC 5040 §4.8).
wire::TerminateMessage peer_terminate(Reason reason, const wire::UlpduHeader& offending,
                                      bool with_read_request) {
  const wire::ReceiveCheck check{0,
                                 {reason.layer, reason.type, reason.code},
                                 with_read_request
                                     ? wire::TerminateIncludes::DdpAndReadRequestHeaders
                                     : wire::TerminateIncludes::DdpHeader};
  return wire::make_terminate(check, offending);
}

// 0x01LLTTCC (docs/architecture.md).
constexpr ULONG provider_error(Reason r) {
  return 0x01000000u | (ULONG{r.layer} << 16) | (ULONG{r.type} << 8) | r.code;
}
constexpr ULONG kTransportLoss = 0x03000000u;

constexpr Reason kReadSourceAccess{kLayerRdmap, 1, 0x02};  // row 22, access rights
constexpr Reason kReadSourceBounds{kLayerRdmap, 1, 0x01};  // row 22, base or bounds
constexpr Reason kMessageTooLong{kLayerDdp, 2, 0x05};      // row 12
constexpr Reason kNoBuffer{kLayerDdp, 2, 0x02};            // row 10

class TerminateChoices : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rig.ok());
    ASSERT_TRUE(rig.connect_passive());
    data = rig.region(4096, kLocalWrite, nullptr, std::byte{0x11});
    sink = rig.region(4096, kReadSink);
  }
  CoreRig rig;
  std::unique_ptr<Region> data, sink;
};

TEST_F(TerminateChoices, terminate_naming_our_read_request_fails_that_read_and_cancels_the_rest) {
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 0, 16, 0x10000, 0x700, ctx(1)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 8, ctx(2)));  // sent, waits behind it
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 16, 16, 0x20000, 0x701, ctx(3)));
  ASSERT_TRUE(rig.link().wait_sent(3));
  const wire::UlpduHeader read = rig.link().sent_at(0).header;
  ASSERT_TRUE(rig.link().close(CloseKind::TerminateReceived,
                               peer_terminate(kReadSourceAccess, read, true)));
  expect_completions(rig, {{ctx(1), NdkOperationTypeRead, STATUS_ACCESS_VIOLATION,
                            provider_error(kReadSourceAccess)},
                           {ctx(2), NdkOperationTypeSend, STATUS_CANCELLED},
                           {ctx(3), NdkOperationTypeRead, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(TerminateChoices, terminate_for_a_read_past_the_remote_end_fails_it_with_remote_resources) {
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 0, 16, 0x10000, 0x700, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  const wire::UlpduHeader read = rig.link().sent_at(0).header;
  ASSERT_TRUE(rig.link().close(CloseKind::TerminateReceived,
                               peer_terminate(kReadSourceBounds, read, true)));
  // docs/architecture.md: a read past the end of the source: STATUS_REMOTE_RESOURCES.
  expect_completions(rig, {{ctx(1), NdkOperationTypeRead, STATUS_REMOTE_RESOURCES,
                            provider_error(kReadSourceBounds)}});
  expect_abort_event(rig);
}

TEST_F(TerminateChoices, terminate_naming_our_second_read_fails_that_read_not_the_first) {
  // The responder checks a Read Request when it arrives (table 4.1 row 22) and may terminate on
  // it before answering an earlier one: the Terminate names the request by its MSN.
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 0, 16, 0x10000, 0x700, ctx(1)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 16, 16, 0x20000, 0x701, ctx(2)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  const wire::UlpduHeader second = rig.link().sent_at(1).header;
  ASSERT_EQ(2u, second.ddp_.msn_);
  ASSERT_TRUE(rig.link().close(CloseKind::TerminateReceived,
                               peer_terminate(kReadSourceAccess, second, true)));
  expect_completions(rig, {{ctx(1), NdkOperationTypeRead, STATUS_CANCELLED},
                           {ctx(2), NdkOperationTypeRead, STATUS_ACCESS_VIOLATION,
                            provider_error(kReadSourceAccess)}});
  expect_abort_event(rig);
}

TEST_F(TerminateChoices, terminate_naming_the_refused_send_fails_that_send) {
  rig.link().answer_next(TxResult::Refused);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 32, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 32, 8, ctx(2)));  // the link is down now
  const wire::UlpduHeader send = rig.link().sent_at(0).header;
  ASSERT_TRUE(
      rig.link().close(CloseKind::TerminateReceived, peer_terminate(kMessageTooLong, send, false)));
  // docs/architecture.md: a Send larger than the posted receive: the sender sees STATUS_CONNECTION_ABORTED.
  expect_completions(rig, {{ctx(1), NdkOperationTypeSend, STATUS_CONNECTION_ABORTED,
                            provider_error(kMessageTooLong)},
                           {ctx(2), NdkOperationTypeSend, STATUS_CANCELLED}});
  expect_abort_event(rig);
  EXPECT_EQ(1u, rig.link().sent_count()) << "nothing goes out after the refusal";
}

struct TaggedErrorCase {
  Reason reason;
  const char* name;
};

void PrintTo(const TaggedErrorCase& c, std::ostream* os) {
  *os << c.name;
}

class RefusedWrite : public TerminateChoices,
                     public ::testing::WithParamInterface<TaggedErrorCase> {};

TEST_P(RefusedWrite, terminate_naming_the_refused_write_fails_it_with_access_violation) {
  // docs/architecture.md: a remote token invalid, out of range or without the
  // right fails the requester's request with STATUS_ACCESS_VIOLATION (REMOTE_RESOURCES is for a
  // read past the end only).
  const Reason reason = GetParam().reason;
  rig.link().answer_next(TxResult::Refused);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_write(*data, 0, 64, 0x8000, 0x77, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  const wire::UlpduHeader write = rig.link().sent_at(0).header;
  ASSERT_TRUE(rig.link().close(CloseKind::TerminateReceived, peer_terminate(reason, write, false)));
  expect_completions(
      rig, {{ctx(1), NdkOperationTypeWrite, STATUS_ACCESS_VIOLATION, provider_error(reason)}});
  expect_abort_event(rig);
}

INSTANTIATE_TEST_SUITE_P(Rows14To18, RefusedWrite,
                         ::testing::Values(TaggedErrorCase{{kLayerDdp, 1, 0x00}, "invalid_stag"},
                                           TaggedErrorCase{{kLayerDdp, 1, 0x02}, "not_associated"},
                                           TaggedErrorCase{{kLayerRdmap, 1, 0x02}, "access_rights"},
                                           TaggedErrorCase{{kLayerDdp, 1, 0x01}, "bounds"},
                                           TaggedErrorCase{{kLayerDdp, 1, 0x03}, "to_wrap"}),
                         [](const ::testing::TestParamInfo<TaggedErrorCase>& param_info) {
                           return param_info.param.name;
                         });

TEST_F(TerminateChoices, terminate_naming_a_send_already_handed_over_blames_nothing) {
  // docs/architecture.md: a Send completes when handed to the link (RFC 5040); a remote error
  // comes back later as a Terminate: the request already succeeded, the rest is flushed.
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 8, ctx(1)));
  expect_completions(rig, {{ctx(1), NdkOperationTypeSend, STATUS_SUCCESS}});
  rig.link().answer_next(TxResult::Blocked);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 8, 8, ctx(2)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  const wire::UlpduHeader first = rig.link().sent_at(0).header;
  ASSERT_TRUE(
      rig.link().close(CloseKind::TerminateReceived, peer_terminate(kNoBuffer, first, false)));
  expect_completions(rig, {{ctx(2), NdkOperationTypeSend, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(TerminateChoices, lost_link_fails_the_refused_request_with_connection_reset) {
  rig.link().answer_next(TxResult::Refused);
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 8, ctx(1)));
  ASSERT_TRUE(rig.link().wait_sent(1));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_write(*data, 0, 8, 0x8000, 0x77, ctx(2)));
  ASSERT_TRUE(rig.link().close(CloseKind::Aborted));
  // docs/architecture.md: "connection lost while request outstanding: STATUS_CONNECTION_RESET for the
  // failing request, STATUS_CANCELLED for the rest"; ProviderErrorCode 0x03000000.
  expect_completions(rig, {{ctx(1), NdkOperationTypeSend, STATUS_CONNECTION_RESET, kTransportLoss},
                           {ctx(2), NdkOperationTypeWrite, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(TerminateChoices, our_own_terminate_blames_none_of_our_requests) {
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_read(*sink, 0, 16, 0x10000, 0x700, ctx(1)));
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 8, ctx(2)));
  ASSERT_TRUE(rig.link().wait_sent(2));
  // The peer's Send finds no receive posted (row 10): we terminate.
  Bytes payload = pattern(8, 1);
  ASSERT_EQ(RxVerdict::Terminate, rig.link().inject(send_segment(1, 0, true), payload));
  ASSERT_TRUE(rig.link().wait_terminate());
  EXPECT_TRUE(rig.link().wait_closed_delivered());
  expect_completions(rig, {{ctx(1), NdkOperationTypeRead, STATUS_CANCELLED},
                           {ctx(2), NdkOperationTypeSend, STATUS_CANCELLED}});
  expect_abort_event(rig);
}

TEST_F(TerminateChoices, peers_graceful_close_keeps_finished_requests_and_fires_the_event) {
  // The contrast: a graceful close is no failure (docs/architecture.md: a peer's graceful
  // disconnect does not flush), and the event says so (reason 1).
  ASSERT_STATUS(STATUS_SUCCESS, rig.post_send(*data, 0, 8, ctx(1)));
  expect_completions(rig, {{ctx(1), NdkOperationTypeSend, STATUS_SUCCESS}});
  ASSERT_TRUE(rig.link().close(CloseKind::Graceful));
  ASSERT_TRUE(rig.wait_disconnect_event());
  EXPECT_EQ(kDisconnectGraceful, rig.disconnect_reason());
  EXPECT_TRUE(rig.link().terminates().empty());
}

}  // namespace
}  // namespace softndk::test
