// Idle thread pools sleep (util/idle_threads.hpp, tools/launcher/maskterial.cpp): a `maskterial serve` with
// libtorch's OpenMP pool and OpenBLAS's pool at two threads each spends no CPU on waiting pool threads, during
// detections or between them; and `doctor` says which settings are in force and who chose them.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "cli_test_helpers.hpp"
#include "serve_test_client.hpp"

namespace {

using maskterial::serve::test::predict;
using maskterial::serve::test::ScratchDir;
using maskterial::serve::test::status_of;

const std::string kExample = std::string(MASKTERIAL_SOURCE_DIR) + "/examples/images/graphene_1.jpg";

// CPU time of every thread of a process so far, in seconds (/proc/PID/task/*/schedstat: ns on a CPU).
double process_cpu_seconds(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(tasks.c_str());
  if (!dir) return -1;
  double total = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream stat(tasks + "/" + entry->d_name + "/schedstat");
    double ns = 0;
    if (stat >> ns) total += ns * 1e-9;
  }
  closedir(dir);
  return total;
}

struct ServerCpu {
  double busy_s = -1;  // CPU used while answering the detections (all threads)
  double idle_s = -1;  // CPU used in the idle second after the last answer
  int answered = 0;    // detections answered with 200
};

// Starts `maskterial serve` (one worker) with `environment` (NAME=VALUE, or NAME to unset), sends it two
// detections through the default segmentation model and measures its CPU while it answers them and over the
// idle second that follows.
ServerCpu server_cpu(const std::vector<std::string>& environment) {
  const ScratchDir models("mt_idle_threads");
  int out[2];
  if (pipe(out) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    for (const std::string& e : environment) {
      const size_t eq = e.find('=');
      if (eq == std::string::npos) unsetenv(e.c_str());
      else setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), 1);
    }
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    execl(MASKTERIAL_CLI, MASKTERIAL_CLI, "serve", "--port", "0", "--workers", "1", "--models",
          models.path().c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* stream = fdopen(out[0], "r");
  ServerCpu m;
  char line[512] = {};
  int port = 0;
  if (fgets(line, sizeof line, stream) && std::sscanf(line, "maskterial serving on http://127.0.0.1:%d", &port) == 1) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(300, 0);
    const std::string image = maskterial::read_file(kExample);
    m.answered += status_of(predict(client, image, "graphene_1.jpg")) == 200;  // loads the models
    const double start = process_cpu_seconds(pid);
    for (int i = 0; i < 2; ++i) m.answered += status_of(predict(client, image, "graphene_1.jpg")) == 200;
    const double answered = process_cpu_seconds(pid);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    m.busy_s = answered - start;
    m.idle_s = process_cpu_seconds(pid) - answered;
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  fclose(stream);
  return m;
}

// The libraries' pools at `threads` threads, and the idle-thread settings as the user left them: unset.
std::vector<std::string> pools_of(int threads) {
  return {"OMP_NUM_THREADS=" + std::to_string(threads), "OPENBLAS_NUM_THREADS=" + std::to_string(threads),
          "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_THREAD_TIMEOUT", "MASKTERIAL_IDLE_THREADS"};
}

}  // namespace

// Slow (three servers, three detections each with the segmentation model). Pool threads that spin while the
// worker runs its serial parts (decode, components, JSON) or waits for requests take CPU from everything else:
// with the libraries' defaults the same detections cost ~3.5x the CPU of one-thread pools on the 2-core CI
// machine; with maskterial's settings about as much as with one-thread pools.
TEST(IdleThreads, TwoThreadPoolsCostNoMoreCpuThanOneAndSleepWhenIdle) {
  const ServerCpu single = server_cpu(pools_of(1));
  const ServerCpu quiet = server_cpu(pools_of(2));
  ASSERT_EQ(single.answered, 3);
  ASSERT_EQ(quiet.answered, 3);
  EXPECT_LT(quiet.busy_s, 1.6 * single.busy_s + 0.05)
      << "2-thread pools: " << quiet.busy_s << " s of CPU for two detections, 1-thread pools: " << single.busy_s;
  EXPECT_LT(quiet.idle_s, 0.02) << "an idle server burnt " << quiet.idle_s << " s of CPU in one second";
  // For the record: the same with the libraries' own defaults (not asserted; it depends on the machine).
  std::vector<std::string> spinning = pools_of(2);
  spinning.back() = "MASKTERIAL_IDLE_THREADS=";
  const ServerCpu loud = server_cpu(spinning);
  std::printf("CPU for two detections: %.3f s with 1-thread pools, %.3f s with 2-thread pools and maskterial's "
              "settings, %.3f s with the libraries' defaults; idle second after: %.3f / %.3f / %.3f s\n",
              single.busy_s, quiet.busy_s, loud.busy_s, single.idle_s, quiet.idle_s, loud.idle_s);
}

TEST(IdleThreads, DoctorSaysWhichSettingsAreInForceAndWhoChoseThem) {
  using maskterial::cli_test::run_cli;
  for (const char* v : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_THREAD_TIMEOUT", "MASKTERIAL_IDLE_THREADS"})
    unsetenv(v);
  const auto defaults = run_cli("doctor", 120);
  EXPECT_EQ(defaults.code, 0) << defaults.output;
  EXPECT_NE(defaults.output.find("Idle threads: OMP_WAIT_POLICY=PASSIVE (maskterial's default)"), std::string::npos)
      << defaults.output;
  EXPECT_NE(defaults.output.find("Idle threads: OPENBLAS_THREAD_TIMEOUT=4 (maskterial's default)"), std::string::npos)
      << defaults.output;
  const bool openblas = defaults.output.find("BLAS: OpenBLAS") != std::string::npos;
  if (openblas) EXPECT_NE(defaults.output.find("OpenBLAS idle spin: 2^4 cycles"), std::string::npos) << defaults.output;

  setenv("GOMP_SPINCOUNT", "1000", 1);  // the user's own choice is kept, and OMP_WAIT_POLICY left unset
  setenv("OPENBLAS_THREAD_TIMEOUT", "12", 1);
  const auto user = run_cli("doctor", 120);
  unsetenv("GOMP_SPINCOUNT");
  unsetenv("OPENBLAS_THREAD_TIMEOUT");
  EXPECT_NE(user.output.find("OMP_WAIT_POLICY=(not set) (GOMP_SPINCOUNT=1000 set by the user)"), std::string::npos)
      << user.output;
  EXPECT_NE(user.output.find("OPENBLAS_THREAD_TIMEOUT=12 (set by the user)"), std::string::npos) << user.output;
  if (openblas) EXPECT_NE(user.output.find("OpenBLAS idle spin: 2^12 cycles"), std::string::npos) << user.output;
}
