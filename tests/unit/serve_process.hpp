#pragma once
// `maskterial serve` as a child process, for what an in-process server cannot show: its own RSS, kill -9.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include "cli_test_helpers.hpp"

namespace maskterial::serve::test {

class ServeProcess {
 public:
  // Starts `maskterial serve --port 0 --models DIR ARGS...` and reads the port from its output; port() is 0
  // when it did not start, output() then says why.
  explicit ServeProcess(const std::string& models_dir, const std::vector<std::string>& args = {}) {
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      std::vector<std::string> all = {"serve", "--port", "0", "--models", models_dir};
      all.insert(all.end(), args.begin(), args.end());
      cli_test::exec_cli(all);
    }
    ::close(out[1]);
    stream_ = ::fdopen(out[0], "r");
    // Start-up messages (models loaded, leftovers removed) may come first on stdout.
    char line[512] = {};
    while (port_ == 0 && std::fgets(line, sizeof line, stream_)) {
      line_ += line;
      std::sscanf(line, "maskterial serving on http://127.0.0.1:%d", &port_);
    }
    // Its later output is read (and dropped) so that a full pipe never blocks it.
    drain_ = std::thread([stream = stream_] {
      char dropped[4096];
      while (std::fgets(dropped, sizeof dropped, stream)) {
      }
    });
    if (port_ == 0) {  // say why it did not start
      const int status = kill(SIGKILL);
      line_ += WIFEXITED(status) ? " (exit code " + std::to_string(WEXITSTATUS(status)) + ")"
                                 : " (signal " + std::to_string(WTERMSIG(status)) + ")";
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && !reaped_) kill(SIGKILL);
    if (drain_.joinable()) drain_.join();  // the pipe ends with the process
    if (stream_) std::fclose(stream_);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& output() const { return line_; }  // stdout up to the port
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(300, 0);
    c.set_write_timeout(60, 0);
    return c;
  }

  // Sends `signal` and waits for the process; returns its wait status.
  int kill(int signal) {
    int status = 0;
    if (reaped_) return status;
    ::kill(pid_, signal);
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }

  // Resident memory, MiB (VmRSS of /proc/PID/status); -1 if unreadable.
  double rss_mib() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    return -1;
  }

 private:
  pid_t pid_ = -1;
  FILE* stream_ = nullptr;
  int port_ = 0;
  std::string line_;
  bool reaped_ = false;
  std::thread drain_;
};

}  // namespace maskterial::serve::test
