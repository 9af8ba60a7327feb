// The shipped dense segmentation model per 1920x1200 image (a GrapheneH scan of the MaskTerial demo, or a
// flat synthetic image without the shared data) on 1 and 2 cores: the network alone (input features,
// forward, probabilities) and its whole predict (instances and full-resolution masks). The pipeline against
// the classifier path is BM_SegmenterPipelineOverClassifierPath (bench_pipeline_ratios.cpp).
#include <benchmark/benchmark.h>

#include <filesystem>

#include "maskterial/core/shipped_models.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/segment/dense/dense_segmenter.hpp"
#include "maskterial/util/compute_threads.hpp"
#include "maskterial/util/files.hpp"

namespace {

using namespace maskterial;
using namespace maskterial::segment;

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

BENCHMARK(BM_DenseForward)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DensePredict)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
