// The AMM head on one core: per-pixel classification and whole detection of 1920x1200 GrapheneH images with
// MaskTerial's published-format model (tests/data/amm_maskterial), and training with the default settings
// (5000 iterations, batches of 10,000) on the samples the 5 annotated GrapheneH images give.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "maskterial/classify/network_training.hpp"
#include "maskterial/coco/dataset.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/image/unique_colours.hpp"
#include "maskterial/pipeline/detector.hpp"
#include "maskterial/util/compute_threads.hpp"
#include "maskterial/util/files.hpp"

namespace {

using namespace maskterial;

const std::string kShared = MASKTERIAL_SHARED_DATA;
const std::string kAmm = std::string(MASKTERIAL_TEST_DATA) + "/amm_maskterial";
const std::string kGraphene = kShared + "/maskterial-demo/images/GrapheneH";

const std::vector<cv::Mat>& graphene_images() {
  static const std::vector<cv::Mat> images = [] {
    std::vector<cv::Mat> out;
    if (std::filesystem::exists(kGraphene))
      for (const auto& path : list_images({kGraphene})) out.push_back(load_image(path));
    return out;
  }();
  return images;
}

void BM_AmmClassifyImage(benchmark::State& state) {
  set_compute_threads(1);
  const auto& images = graphene_images();
  if (images.empty()) return state.SkipWithError("shared demo images not found");
  const Detector detector(load_classifier(kAmm), {});
  size_t n = 0, colours = 0;
  for (auto _ : state) {
    for (const auto& image : images) {
      benchmark::DoNotOptimize(detector.classify(image, "bench").labels.data);
      ++n;
    }
  }
  for (const auto& image : images) colours += unique_colours(image).colours.size();
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["images_per_iteration"] = static_cast<double>(images.size());
  state.counters["distinct_colours"] = static_cast<double>(colours) / images.size();
}

void BM_AmmDetectImage(benchmark::State& state) {
  set_compute_threads(1);
  const auto& images = graphene_images();
  if (images.empty()) return state.SkipWithError("shared demo images not found");
  const Detector detector(load_classifier(kAmm), {});
  DetectTimings sum;
  size_t n = 0;
  for (auto _ : state) {
    for (const auto& image : images) {
      DetectTimings t;
      benchmark::DoNotOptimize(detector.detect(image, "bench", &t).flakes.size());
      sum.background_ms += t.background_ms;
      sum.classify_ms += t.classify_ms;
      sum.components_ms += t.components_ms;
      ++n;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["ms_per_image"] = (sum.background_ms + sum.classify_ms + sum.components_ms) / n;
  state.counters["classify_ms"] = sum.classify_ms / n;
  state.counters["components_ms"] = sum.components_ms / n;
}

void BM_UniqueColours(benchmark::State& state) {
  const auto& images = graphene_images();
  if (images.empty()) return state.SkipWithError("shared demo images not found");
  for (auto _ : state) benchmark::DoNotOptimize(unique_colours(images[0]).colours.size());
}

void BM_TrainAmmDefaults(benchmark::State& state) {
  const std::string masks = kShared + "/maskterial-demo/instance_masks/GrapheneH";
  if (!std::filesystem::exists(masks)) return state.SkipWithError("shared demo data not found");
  TrainingDataOptions data;
  data.show_progress = false;
  const ContrastSamples samples =
      prepare_training_data(coco::read_instance_mask_folder(kGraphene, masks), kGraphene, data).samples;
  NetworkTrainingOptions options = NetworkTrainingOptions::defaults(NetworkClassifier::Head::Gda);
  options.show_progress = false;
  for (auto _ : state) benchmark::DoNotOptimize(train_network(NetworkClassifier::Head::Gda, samples, nullptr, options, data));
  state.counters["threads"] = compute_threads();
}

}  // namespace

BENCHMARK(BM_AmmClassifyImage)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_AmmDetectImage)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_UniqueColours)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TrainAmmDefaults)->Unit(benchmark::kSecond)->Iterations(1);
