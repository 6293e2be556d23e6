// Implementation of ndk_test.h.
#include "ndk_test.h"

#include <cctype>
#include <cstdlib>
#include <sstream>

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

std::string with_option(const std::string& uri, const std::string& key, const std::string& value) {
  const std::string option = key + "=" + value;
  const size_t query = uri.find('?');
  if (query == std::string::npos) return uri + "?" + option;
  std::string out = uri.substr(0, query + 1);
  const std::string rest = uri.substr(query + 1);
  bool replaced = false;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('&', start);
    if (end == std::string::npos) end = rest.size();
    std::string item = rest.substr(start, end - start);
    if (item.compare(0, key.size() + 1, key + "=") == 0) {
      item = option;
      replaced = true;
    }
    if (out.back() != '?') out += "&";
    out += item;
    start = end + 1;
  }
  if (!replaced) out += "&" + option;
  return out;
}

std::string with_option(const std::string& uri, const std::string& option) {
  const size_t equals = option.find('=');
  return with_option(uri, option.substr(0, equals),
                     equals == std::string::npos ? "" : option.substr(equals + 1));
}

std::vector<std::string> inline_and_pending_uris() {
  std::vector<std::string> out;
  for (const std::string& uri : test_uris()) {
    out.push_back(uri);
    if (uri.find("pending=") == std::string::npos)
      out.push_back(with_option(uri, "pending=always"));
  }
  return out;
}

std::vector<std::string> pending_uris() {
  std::vector<std::string> out;
  for (const std::string& uri : test_uris()) out.push_back(with_option(uri, "pending", "always"));
  return out;
}

std::string uri_param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (char c : info.param) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

std::string indexed_uri_param_name(const ::testing::TestParamInfo<std::string>& info) {
  return uri_param_name(info) + "_" + std::to_string(info.index);
}

std::string status_name(NTSTATUS status) { return SoftNdkStatusName(status); }

// ---------------------------------------------------------------------------------------------

namespace {

bool report_close(const ndkxx::Outcome& outcome) {
  if (outcome.timed_out) {
    ADD_FAILURE() << "close completion did not arrive within the timeout";
    return false;
  }
  if (!outcome.pended) {
    EXPECT_NT(STATUS_SUCCESS, outcome.status);
  }
  return outcome.ok();
}

void report_close_failure(int type, const ndkxx::Outcome& outcome) {
  SCOPED_TRACE(::testing::Message() << "closing an object of type " << type);
  report_close(outcome);
}

}  // namespace

bool close_object(void* object) {
  return report_close(ndkxx::close(object, ndkxx::Wait{kTimeout}));
}

void report_close_failures_as_test_failures() {
  ndkxx::set_close_failure_handler(&report_close_failure);
}

NTSTATUS post_receive(NDK_QP* qp, const Region& region, size_t offset, ULONG length,
                      void* context) {
  NDK_SGE sge = region.sge(offset, length);
  return qp->Dispatch->NdkReceive(qp, context, &sge, 1);
}

NTSTATUS post_send(NDK_QP* qp, const Region& region, size_t offset, ULONG length, void* context,
                   ULONG flags) {
  NDK_SGE sge = region.sge(offset, length);
  return qp->Dispatch->NdkSend(qp, context, &sge, 1, flags);
}

}  // namespace ndktest
