// GMM training-data preparation on one core: the whole pipeline on the 5 annotated GrapheneH demo images
// (1920x1200), and kNN denoising / DBSCAN at the sizes a 4-class dataset gives (5 x 30,000 samples).
// One AMM training step (FCResNetTrainer, MaskTerial's network and batch of 10,000) per kernel.
#include <benchmark/benchmark.h>

#include <cmath>
#include <ctime>
#include <filesystem>

#include <opencv2/core.hpp>

#include "maskterial/classify/fcresnet_trainer.hpp"
#include "maskterial/classify/training_data.hpp"
#include "maskterial/util/error.hpp"

namespace {

using namespace maskterial;

const std::string kShared = MASKTERIAL_SHARED_DATA;

// Samples as real pixels produce them: Gaussian colours rounded to 8 bits, divided by a background of 150,
// so many contrasts repeat (duplicates are what makes kNN and DBSCAN on pixel data special).
ContrastSamples pixel_like_samples(size_t classes, size_t per_class, bool quantise) {
  std::mt19937_64 rng(1);
  const auto uniform = [&] { return (static_cast<double>(uniform_index(rng, 1ull << 53)) + 0.5) / 9007199254740992.0; };
  const auto normal = [&] { return std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform()); };
  ContrastSamples s;
  for (size_t k = 0; k < classes; ++k) {
    for (size_t i = 0; i < per_class; ++i) {
      Contrast c{};
      for (int ch = 0; ch < 3; ++ch) {
        const double value = 150.0 * (1.0 - 0.08 * static_cast<double>(k * (ch + 1))) + 3.0 * normal();
        c[ch] = static_cast<float>((quantise ? std::round(value) : value) / 150.0 - 1.0);
      }
      s.add(c, static_cast<int64_t>(k));
    }
  }
  return s;
}

void BM_PrepareGrapheneDemo(benchmark::State& state) {
  cv::setNumThreads(1);
  const std::string root = kShared + "/maskterial-demo";
  if (!std::filesystem::is_directory(root + "/instance_masks/GrapheneH")) {
    state.SkipWithError("shared demo data not found");
    return;
  }
  const auto dataset =
      coco::read_instance_mask_folder(root + "/images/GrapheneH", root + "/instance_masks/GrapheneH");
  TrainingDataOptions options;
  options.show_progress = false;
  TrainingReport report;
  for (auto _ : state) report = prepare_training_data(dataset, root + "/images/GrapheneH", options).report;
  for (const auto& step : report.steps) state.counters[step.name + "_ms"] = 1000 * step.seconds;
}
BENCHMARK(BM_PrepareGrapheneDemo)->Unit(benchmark::kMillisecond);

void BM_KnnDenoise(benchmark::State& state) {
  const auto samples = pixel_like_samples(5, 30000, state.range(0) != 0);
  for (auto _ : state) benchmark::DoNotOptimize(knn_majority_labels(samples, 25));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples.size()));
}
BENCHMARK(BM_KnnDenoise)->Arg(1)->Arg(0)->ArgName("quantised")->Unit(benchmark::kMillisecond);

void BM_DbscanCore(benchmark::State& state) {
  const auto samples = pixel_like_samples(5, 30000, state.range(0) != 0);
  for (auto _ : state) benchmark::DoNotOptimize(keep_dbscan_core(samples, 0.1, 10));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples.size()));
}
BENCHMARK(BM_DbscanCore)->Arg(1)->Arg(0)->ArgName("quantised")->Unit(benchmark::kMillisecond);

// Arg: kernel (0 generic, 1 avx2, 2 avx512). 4 classes, batch 10,000 drawn from 30,000 samples per class.
void BM_AmmTrainingStep(benchmark::State& state) {
  const char* isa = state.range(0) == 0 ? "generic" : state.range(0) == 1 ? "avx2" : "avx512";
  const ContrastSamples samples = pixel_like_samples(4, 30000, true);
  FCResNetOptions arch;
  arch.num_classes = 4;
  torch::manual_seed(0);
  const FCResNet net(arch);
  try {
    FCResNetTrainer trainer(net, 0.01, 0, isa);
    std::mt19937_64 rng(0);
    std::vector<int64_t> index(10000);
    const std::clock_t start = std::clock();  // process CPU time: the step is single-threaded
    for (auto _ : state) {
      for (auto& i : index) i = static_cast<int64_t>(uniform_index(rng, samples.size()));
      trainer.step(samples.contrasts.front().data(), samples.labels.data(), index.data(), index.size(), false);
    }
    const double cpu_s = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
    state.counters["cpu_s_per_5000_steps"] = 5000.0 * cpu_s / static_cast<double>(state.iterations());
    state.SetLabel(isa);
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_AmmTrainingStep)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
