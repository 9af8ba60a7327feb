// GMM training-data preparation on one core: the whole pipeline on the 5 annotated GrapheneH demo images
// (1920x1200), and kNN denoising / DBSCAN at the sizes a 4-class dataset gives (5 x 30,000 samples).
#include <benchmark/benchmark.h>

#include <cmath>
#include <filesystem>

#include <opencv2/core.hpp>

#include "maskterial/classify/training_data.hpp"

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

}  // namespace
