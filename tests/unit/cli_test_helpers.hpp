#pragma once
// What the end-to-end tests share: running the `maskterial` binary, scratch folders, free loopback ports.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace maskterial::cli_test {

struct CliRun {
  int code;            // exit code, -1 if killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs the CLI to its end, at most timeout_s seconds (then the code is 124).
inline CliRun run_cli(const std::string& args, int timeout_s = 600) {
  const std::string command =
      "timeout " + std::to_string(timeout_s) + " " + std::string(MASKTERIAL_CLI) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// In a forked child: becomes `maskterial ARGS...` (exit code 127 if it cannot be started).
[[noreturn]] inline void exec_cli(const std::vector<std::string>& args) {
  std::vector<std::string> all = {MASKTERIAL_CLI};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(MASKTERIAL_CLI, argv.data());
  ::_exit(127);
}

// An empty folder under the temp directory, named after the test (and this process).
inline std::filesystem::path fresh_dir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A port the kernel just handed out, free again for a server to take.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace maskterial::cli_test
