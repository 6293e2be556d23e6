// softndk-conformance: runs the NDKPI conformance suite against adapter URIs and prints a
// summary per area (passed, failed, skipped with reasons), optionally as JSON.
//
//   softndk-conformance [--uri URI]... [--provider LIB.so] [--filter GTEST_FILTER]
//                       [--json FILE|-] [--list] [--verbose]
//
// --provider runs the suite against another library that exports the softndk.h entry points
// (SoftNdkOpenAdapter & co.): the runner re-executes itself with LIB.so preloaded, so every
// call the suite makes through those entry points reaches that provider.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <softndk/softndk.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace {

struct Area {
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  std::vector<std::string> failures;
  std::map<std::string, int> skip_reasons;  // reason -> count
};

// Area = the test suite name without the instantiation prefix ("Uris/Cq" -> "Cq").
std::string area_of(const testing::TestInfo& test) {
  std::string suite = test.test_suite_name();
  auto slash = suite.find('/');
  return slash == std::string::npos ? suite : suite.substr(slash + 1);
}

class Summary : public testing::EmptyTestEventListener {
 public:
  std::map<std::string, Area> areas;
  bool verbose = false;

  void OnTestEnd(const testing::TestInfo& test) override {
    Area& area = areas[area_of(test)];
    const testing::TestResult* result = test.result();
    std::string name = std::string(test.test_suite_name()) + "." + test.name();
    if (test.value_param() != nullptr) name += " [" + std::string(test.value_param()) + "]";
    if (result->Skipped()) {
      ++area.skipped;
      std::string reason = "skipped";
      for (int i = 0; i < result->total_part_count(); ++i) {
        const auto& part = result->GetTestPartResult(i);
        if (part.skipped() && part.message() != nullptr && *part.message() != '\0')
          reason = part.message();
      }
      ++area.skip_reasons[reason];
    } else if (result->Failed()) {
      ++area.failed;
      area.failures.push_back(name);
    } else {
      ++area.passed;
    }
    if (verbose) std::fprintf(stderr, "%s %s\n", result->Failed() ? "FAIL" : "ok  ", name.c_str());
  }
};

void usage() {
  std::fprintf(stderr,
               "usage: softndk-conformance [--uri URI]... [--provider LIB.so] "
               "[--filter PATTERN] [--json FILE|-] [--list] [--verbose]\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> uris;
  std::string provider, filter, json_path;
  bool list = false, verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--uri") {
      uris.push_back(value());
    } else if (arg == "--provider") {
      provider = value();
    } else if (arg == "--filter") {
      filter = value();
    } else if (arg == "--json") {
      json_path = value();
    } else if (arg == "--list") {
      list = true;
    } else if (arg == "--verbose") {
      verbose = true;
    } else if (arg == "--help" || arg == "-h") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (!provider.empty() && std::getenv("SOFTNDK_CONFORMANCE_PRELOADED") == nullptr) {
    if (access(provider.c_str(), R_OK) != 0) {
      std::fprintf(stderr, "softndk-conformance: cannot read provider %s\n", provider.c_str());
      return 2;
    }
    setenv("LD_PRELOAD", provider.c_str(), 1);
    setenv("SOFTNDK_CONFORMANCE_PRELOADED", "1", 1);
    execv("/proc/self/exe", argv);
    std::perror("softndk-conformance: re-exec with the provider");
    return 1;
  }
  if (uris.empty()) {
    // Every transport this provider has: probe the usual URIs.
    for (const char* candidate : {"loopback", "tcp://127.0.0.1", "tcp://[::1]", "shm"}) {
      NDK_ADAPTER* adapter = nullptr;
      if (SoftNdkOpenAdapter(candidate, &adapter) == STATUS_SUCCESS) {
        SoftNdkCloseAdapter(adapter);
        uris.push_back(candidate);
      }
    }
  }
  std::string joined;
  for (const auto& u : uris) joined += (joined.empty() ? "" : ",") + u;
  setenv("SOFTNDK_TEST_URIS", joined.c_str(), 1);

  std::vector<std::string> args = {argv[0], "--gtest_brief=1"};
  if (!filter.empty()) args.push_back("--gtest_filter=" + filter);
  if (list) args.push_back("--gtest_list_tests");
  std::vector<char*> gargv;
  for (auto& a : args) gargv.push_back(a.data());
  int gargc = static_cast<int>(gargv.size());
  testing::InitGoogleTest(&gargc, gargv.data());
  auto* summary = new Summary;
  summary->verbose = verbose;
  testing::UnitTest::GetInstance()->listeners().Append(summary);
  int rc = RUN_ALL_TESTS();
  if (list) return rc;

  int passed = 0, failed = 0, skipped = 0;
  std::printf("\nsoftndk-conformance over %s\n", joined.c_str());
  std::printf("%-24s %7s %7s %7s\n", "area", "passed", "failed", "skipped");
  nlohmann::json out;
  out["uris"] = uris;
  out["provider"] = provider.empty() ? "libsoftndk" : provider;
  for (const auto& [name, area] : summary->areas) {
    std::printf("%-24s %7d %7d %7d\n", name.c_str(), area.passed, area.failed, area.skipped);
    for (const auto& f : area.failures) std::printf("    FAILED  %s\n", f.c_str());
    for (const auto& [reason, count] : area.skip_reasons)
      std::printf("    skipped %dx: %s\n", count, reason.c_str());
    passed += area.passed;
    failed += area.failed;
    skipped += area.skipped;
    nlohmann::json a;
    a["passed"] = area.passed;
    a["failed"] = area.failed;
    a["skipped"] = area.skipped;
    a["failures"] = area.failures;
    a["skip_reasons"] = area.skip_reasons;
    out["areas"][name] = a;
  }
  out["totals"] = {{"passed", passed}, {"failed", failed}, {"skipped", skipped}};
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  if (!json_path.empty()) {
    std::string text = out.dump(2);
    if (json_path == "-") {
      std::cout << text << std::endl;
    } else {
      std::ofstream(json_path) << text << std::endl;
    }
  }
  return failed == 0 && rc == 0 ? 0 : 1;
}
