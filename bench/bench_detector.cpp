// The detection stage alone (Detector::detect on images already decoded, with the 2DMatGMM paper's graphene GMM)
// on the 8 2DMatGMM demo images (1920x1200), whole image and per stage, on one core. Not what a user waits for:
// `detect` also decodes, writes JSON, CSV and overlays (bench_pipeline_ratios.cpp, scripts/speed_table.sh).
#include <benchmark/benchmark.h>

#include <filesystem>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/classify/gmm.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/pipeline/detector.hpp"
#include "maskterial/util/files.hpp"

namespace {

const std::string kShared = MASKTERIAL_SHARED_DATA;

const std::vector<cv::Mat>& demo_images() {
  static const std::vector<cv::Mat> images = [] {
    cv::setNumThreads(1);  // single-core figures: OpenCV must not use its thread pool
    std::vector<cv::Mat> out;
    for (const auto& path : maskterial::list_images({kShared + "/2dmatgmm-demo/images"}))
      out.push_back(maskterial::load_image(path));
    return out;
  }();
  return images;
}

maskterial::Detector make_detector(maskterial::ExtractionRules rules) {
  maskterial::DetectorOptions options;
  options.rules = rules;
  return maskterial::Detector(maskterial::load_classifier(kShared + "/gmm-params/Graphene_GMM.json"), options);
}

void detect_all(benchmark::State& state, maskterial::ExtractionRules rules) {
  const auto& images = demo_images();
  if (images.empty()) {
    state.SkipWithError("shared demo images not found");
    return;
  }
  const auto detector = make_detector(rules);
  maskterial::DetectTimings sum;
  size_t n = 0, flakes = 0;
  for (auto _ : state) {
    for (const auto& image : images) {
      maskterial::DetectTimings t;
      flakes += detector.detect(image, "bench", &t).flakes.size();
      sum.preprocess_ms += t.preprocess_ms;
      sum.background_ms += t.background_ms;
      sum.classify_ms += t.classify_ms;
      sum.components_ms += t.components_ms;
      ++n;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["ms_per_image"] = benchmark::Counter(sum.total() / n);
  state.counters["preprocess_ms"] = sum.preprocess_ms / n;
  state.counters["background_ms"] = sum.background_ms / n;
  state.counters["classify_ms"] = sum.classify_ms / n;
  state.counters["components_ms"] = sum.components_ms / n;
  state.counters["flakes_per_image"] = static_cast<double>(flakes) / n;
}

void BM_Detect2DMatGmm(benchmark::State& state) { detect_all(state, maskterial::ExtractionRules::TwoDMatGmm); }
void BM_DetectMaskTerialRules(benchmark::State& state) { detect_all(state, maskterial::ExtractionRules::MaskTerial); }

void BM_MedianBlur5(benchmark::State& state) {
  const auto& images = demo_images();
  if (images.empty()) return state.SkipWithError("shared demo images not found");
  cv::Mat out;
  for (auto _ : state) cv::medianBlur(images[0], out, 5);
}

void BM_Background(benchmark::State& state) {
  const auto& images = demo_images();
  if (images.empty()) return state.SkipWithError("shared demo images not found");
  for (auto _ : state) benchmark::DoNotOptimize(maskterial::estimate_background(images[0]));
}

void BM_GmmClassify(benchmark::State& state) {
  const auto& images = demo_images();
  if (images.empty()) return state.SkipWithError("shared demo images not found");
  const auto gmm = maskterial::GmmClassifier::load(kShared + "/gmm-params/Graphene_GMM.json");
  const auto bg = maskterial::estimate_background(images[0]);
  const auto lut = maskterial::contrast_lut(bg);
  for (auto _ : state) benchmark::DoNotOptimize(gmm.classify(images[0], lut, 5.0));
}

}  // namespace

BENCHMARK(BM_Detect2DMatGmm)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_DetectMaskTerialRules)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_MedianBlur5)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Background)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GmmClassify)->Unit(benchmark::kMillisecond);
