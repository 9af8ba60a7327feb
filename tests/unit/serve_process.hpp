#pragma once
// `maskterial serve` as a child process, for what an in-process server cannot show: its own RSS, kill -9.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

namespace maskterial::serve::test {

class ServeProcess {
 public:
  // Starts `maskterial serve --port 0 --models DIR ARGS...` and reads the port from its first line; port() is 0
  // when it did not start.
  explicit ServeProcess(const std::string& models_dir, const std::vector<std::string>& args = {}) {
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      std::vector<std::string> all = {MASKTERIAL_CLI, "serve", "--port", "0", "--models", models_dir};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(MASKTERIAL_CLI, argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    stream_ = ::fdopen(out[0], "r");
    char line[512] = {};
    if (std::fgets(line, sizeof line, stream_)) std::sscanf(line, "maskterial serving on http://127.0.0.1:%d", &port_);
    line_ = line;
  }
  ~ServeProcess() {
    if (pid_ > 0 && !reaped_) kill(SIGKILL);
    if (stream_) std::fclose(stream_);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& first_line() const { return line_; }
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
};

}  // namespace maskterial::serve::test
