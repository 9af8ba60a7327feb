// The default detection pipeline per 1920x1200 image on one core (a GrapheneH scan of the MaskTerial demo, or
// a flat synthetic image without the shared data): the shipped segmentation model + the built-in classifier,
// against the classifier-only path (`detect --segmenter none`), timed alternately in the same run so that
// the ratio does not depend on the machine's speed. Also the dense network alone and its whole predict.
#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>

#include "maskterial/classify/pixel_classifier.hpp"
#include "maskterial/core/shipped_models.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/pipeline/detector.hpp"
#include "maskterial/segment/dense/dense_segmenter.hpp"
#include "maskterial/segment/registry.hpp"
#include "maskterial/util/compute_threads.hpp"
#include "maskterial/util/files.hpp"

namespace {

using namespace maskterial;
using namespace maskterial::segment;
using Clock = std::chrono::steady_clock;

cv::Mat scan_image() {
  const std::string graphene = std::string(MASKTERIAL_SHARED_DATA) + "/maskterial-demo/images/GrapheneH";
  if (std::filesystem::exists(graphene)) {
    const auto paths = list_images({graphene});
    if (!paths.empty()) return load_image(paths.front());
  }
  return cv::Mat(1200, 1920, CV_8UC3, cv::Scalar(107, 148, 85));
}

bool have_shipped(benchmark::State& state) {
  if (std::filesystem::is_directory(shipped_segmenter_dir())) return true;
  state.SkipWithError("no shipped segmentation model");
  return false;
}

// Counters: pipeline_ms, classifier_ms and ratio = pipeline / classifier-only, each iteration timing both.
void BM_DefaultPipelineVsClassifierOnly(benchmark::State& state) {
  if (!have_shipped(state)) return;
  set_compute_threads(1);
  const Detector full(default_classifier(), DetectorOptions{}, {}, load_segmenter(shipped_segmenter_dir()));
  const Detector classifier_only(default_classifier(), DetectorOptions{});
  const cv::Mat image = scan_image();
  double pipeline_s = 0, classifier_s = 0;
  size_t flakes = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    flakes = full.detect(image, "scan").flakes.size();
    const auto t1 = Clock::now();
    benchmark::DoNotOptimize(classifier_only.detect(image, "scan").flakes.size());
    const auto t2 = Clock::now();
    pipeline_s += std::chrono::duration<double>(t1 - t0).count();
    classifier_s += std::chrono::duration<double>(t2 - t1).count();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["pipeline_ms"] = 1e3 * pipeline_s / n;
  state.counters["classifier_ms"] = 1e3 * classifier_s / n;
  state.counters["ratio"] = pipeline_s / classifier_s;
  state.counters["flakes"] = static_cast<double>(flakes);
}

// The shipped dense network alone, and its whole predict (input, forward, instances, full-resolution masks).
void BM_DenseForward(benchmark::State& state) {
  if (!have_shipped(state)) return;
  set_compute_threads(static_cast<int>(state.range(0)));
  const auto model = DenseSegmenter::load(shipped_segmenter_dir());
  const cv::Mat image = scan_image();
  for (auto _ : state) benchmark::DoNotOptimize(model->probabilities(image).flake.data);
}

void BM_DensePredict(benchmark::State& state) {
  if (!have_shipped(state)) return;
  set_compute_threads(static_cast<int>(state.range(0)));
  const auto model = DenseSegmenter::load(shipped_segmenter_dir());
  const cv::Mat image = scan_image();
  size_t instances = 0;
  for (auto _ : state) instances = model->predict(image).size();
  state.counters["instances"] = static_cast<double>(instances);
}

}  // namespace

BENCHMARK(BM_DefaultPipelineVsClassifierOnly)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);
BENCHMARK(BM_DenseForward)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DensePredict)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
