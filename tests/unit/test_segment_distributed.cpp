// Data-parallel training with two real processes on loopback: this test binary starts itself twice as the
// workers (the DISABLED_ test below, run only when asked for), and both must end with identical weights.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "maskterial/segment/distributed.hpp"
#include "maskterial/segment/trainer.hpp"
#include "maskterial/util/compute_threads.hpp"
#include "maskterial/util/error.hpp"
#include "cli_test_helpers.hpp"
#include "tiny_segmenter.hpp"

extern char** environ;

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::segment;
using maskterial::cli_test::free_port;

namespace {


pid_t spawn_worker(int rank, const std::string& master, const std::string& out) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.push_back("MASKTERIAL_DDP_RANK=" + std::to_string(rank));
  env.push_back("MASKTERIAL_DDP_MASTER=" + master);
  env.push_back("MASKTERIAL_DDP_OUT=" + out);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = fs::read_symlink("/proc/self/exe").string();
  std::string filter = "--gtest_filter=SegmentDistributed.DISABLED_Worker", disabled = "--gtest_also_run_disabled_tests";
  char* argv[] = {exe.data(), filter.data(), disabled.data(), nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data()) != 0) return -1;
  return pid;
}

std::shared_ptr<const synth::Generator> worker_generator() {
  synth::SynthConfig config = SyntheticSource::generator_config({64, 64}, 1.0);
  config.min_flake_px = 12;
  config.max_flake_px = 40;
  return std::make_shared<synth::Generator>(config);
}

}  // namespace

TEST(SegmentDistributed, DISABLED_Worker) {
  const char* rank_text = std::getenv("MASKTERIAL_DDP_RANK");
  ASSERT_NE(rank_text, nullptr) << "run by SegmentDistributed.TwoProcessesEndWithIdenticalWeights";
  const int rank = std::atoi(rank_text);
  set_compute_threads(1);
  torch::manual_seed(100 + rank);  // different initial weights: the trainer must make them rank 0's
  test::TinySegmenter net;
  DistributedGroup group(2, rank, std::getenv("MASKTERIAL_DDP_MASTER"), torch::kCPU, std::chrono::seconds(60));
  TrainerOptions options = TrainerOptions::pretraining(3);
  options.batch_size = 4;
  options.learning_rate = 1e-2;
  options.show_progress = false;
  options.data_threads = 1;
  options.criterion.points = 256;
  const SyntheticSource source(worker_generator(), {64, 64}, AugmentOptions::pretraining());
  SegmentationTrainer trainer(net.ptr(), test::forward_of(net), options, &group);
  trainer.train(source);
  std::vector<torch::Tensor> parameters;
  for (const auto& p : net->parameters()) parameters.push_back(p.detach().clone());
  torch::save(parameters, std::getenv("MASKTERIAL_DDP_OUT"));
}

TEST(SegmentDistributed, TwoProcessesEndWithIdenticalWeights) {
  ASSERT_TRUE(DistributedGroup::available());
  const fs::path dir = fs::temp_directory_path() / "maskterial_ddp";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string master = "127.0.0.1:" + std::to_string(free_port());
  const pid_t pids[2] = {spawn_worker(0, master, (dir / "rank0.pt").string()),
                         spawn_worker(1, master, (dir / "rank1.pt").string())};
  for (pid_t pid : pids) {
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "worker failed";
  }
  std::vector<torch::Tensor> rank0, rank1;
  torch::load(rank0, (dir / "rank0.pt").string());
  torch::load(rank1, (dir / "rank1.pt").string());
  ASSERT_EQ(rank0.size(), rank1.size());
  for (size_t i = 0; i < rank0.size(); ++i) EXPECT_TRUE(torch::equal(rank0[i], rank1[i])) << "parameter " << i;
  // They trained: rank 0's weights moved away from its initialisation.
  torch::manual_seed(100);
  test::TinySegmenter initial;
  EXPECT_FALSE(torch::equal(initial->parameters()[0], rank0[0]));
}

TEST(SegmentDistributed, BadArgumentsAreRefused) {
  EXPECT_THROW(DistributedGroup(2, 2, "127.0.0.1:29500"), Error);
  EXPECT_THROW(DistributedGroup(2, 0, "no-port"), Error);
  EXPECT_THROW(DistributedGroup(2, 0, "127.0.0.1:99999"), Error);
}
