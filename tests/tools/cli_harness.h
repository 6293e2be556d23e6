// The harness of the command-line tests: runs the softndk program (SOFTNDK_CLI_PATH) with
// arguments, captures its exit status, stdout and stderr; a server process in the background
// with its log; a free TCP port; whether this libsoftndk has tcp. Shared by cli_test.cpp and
// cli_edges_test.cpp.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace softndk_cli_test {


using nlohmann::json;

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/softndk_cli_test_" +
         std::to_string(getpid()) + "_" + name;
}

// Runs the program at `path` with `args`, stdout and stderr captured, stdin empty.
inline Result run_program(const std::string& path, const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string out = temp_path("out" + std::to_string(counter));
  const std::string err = temp_path("err" + std::to_string(counter++));
  std::vector<std::string> argv_storage{path};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  Result run;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    run.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  posix_spawn_file_actions_destroy(&actions);
  run.out = read_file(out);
  run.err = read_file(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return run;
}

// Runs the softndk program with `args` (see run_program).
inline Result softndk(const std::vector<std::string>& args) {
  return run_program(SOFTNDK_CLI_PATH, args);
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline json parse(const Result& run) {
  json doc = json::parse(run.out, nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << "not JSON:\n" << run.out << "\nstderr:\n" << run.err;
  return doc;
}

#define EXPECT_RUN(expected_status, run)                                                 \
  EXPECT_EQ(expected_status, (run).status) << "stdout:\n" << (run).out << "\nstderr:\n" \
                                           << (run).err

inline bool tcp_available() {
  static const bool available = [] {
    Result r = softndk({"info", "--json"});
    json doc = json::parse(r.out, nullptr, false);
    return !doc.is_discarded() && doc["transports"]["tcp"] == "available";
  }();
  return available;
}

inline uint16_t free_tcp_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  close(fd);
  return ntohs(a.sin_port);
}

// The softndk program in the background, stdout and stderr into one log, until stopped.
class BackgroundProcess {
 public:
  explicit BackgroundProcess(const std::vector<std::string>& arguments, const std::string& name)
      : out_(temp_path(name)) {
    std::vector<std::string> args{SOFTNDK_CLI_PATH};
    args.insert(args.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~BackgroundProcess() {
    stop();
    std::remove(out_.c_str());
  }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  pid_t pid() const { return pid_; }
  void signal(int number) {
    if (pid_ > 0) kill(pid_, number);
  }
  // Waits up to 10 s until the log has `part` `times` times (a session's last line comes after
  // the client has left).
  bool wait_for(const std::string& part, size_t times) {
    for (int i = 0; i < 200; ++i) {
      const std::string log = output();
      size_t found = 0;
      for (size_t at = log.find(part); at != std::string::npos; at = log.find(part, at + 1))
        ++found;
      if (found >= times) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string output() { return read_file(out_); }
  // SIGTERM, then the exit status.
  int stop() {
    signal(SIGTERM);
    return wait_exit(std::chrono::seconds(20));
  }
  // The exit status once the process has ended, within `timeout` (else SIGKILL, -1).
  int wait_exit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return status_;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        pid_ = 0;
        return status_ = -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = 0;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return status_;
  }

 private:
  std::string out_;
  pid_t pid_ = 0;
  int status_ = -1;
};

// `softndk perf --server` in the background until destroyed (SIGTERM: exit status 0).
class ServerProcess : public BackgroundProcess {
 public:
  ServerProcess(const std::string& uri, uint16_t port, const std::vector<std::string>& extra = {})
      : ServerProcess(with_uri(uri, port, extra), port) {}
  // Any arguments after `perf --server` (no --uri: the tool's default).
  ServerProcess(const std::vector<std::string>& server_args, uint16_t port)
      : BackgroundProcess(with_server(server_args), "server" + std::to_string(port)) {
    wait_for("listening on", 1);
  }
  bool listening() { return contains(output(), "listening on"); }

 private:
  static std::vector<std::string> with_uri(const std::string& uri, uint16_t port,
                                           const std::vector<std::string>& extra) {
    std::vector<std::string> args{"--uri", uri, "--port", std::to_string(port)};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  static std::vector<std::string> with_server(const std::vector<std::string>& args) {
    std::vector<std::string> all{"perf", "--server"};
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }
};

}  // namespace softndk_cli_test
