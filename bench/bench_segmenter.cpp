// Mask2Former inference per 1920x1200 image (a GrapheneH scan of the MaskTerial demo, or a flat synthetic
// image without the shared data), for the lite and paper presets on 1 and 2 cores: the network alone and the
// whole Segmenter::predict (resize, pad, forward, scores, full-resolution masks). Weights are random: the
// time does not depend on them, except for the number of masks above the score threshold (counter
// "instances"), which only predict pays for.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "maskterial/image/io.hpp"
#include "maskterial/segment/mask2former/segmenter.hpp"
#include "maskterial/util/compute_threads.hpp"
#include "maskterial/util/files.hpp"

namespace {

using namespace maskterial;
using namespace maskterial::segment;

const std::string kGraphene = std::string(MASKTERIAL_SHARED_DATA) + "/maskterial-demo/images/GrapheneH";

cv::Mat scan_image() {
  if (std::filesystem::exists(kGraphene)) {
    const auto paths = list_images({kGraphene});
    if (!paths.empty()) return load_image(paths.front());
  }
  return cv::Mat(1200, 1920, CV_8UC3, cv::Scalar(107, 148, 85));
}

const char* preset_name(int64_t index) { return index == 0 ? "lite" : "paper"; }

Segmenter make_segmenter(int64_t preset) {
  torch::manual_seed(0);
  return Segmenter(Mask2Former(SegmenterOptions::preset_named(preset_name(preset))));
}

// Args: preset (0 lite, 1 paper), threads.
void BM_Mask2FormerForward(benchmark::State& state) {
  set_compute_threads(static_cast<int>(state.range(1)));
  const Segmenter segmenter = make_segmenter(state.range(0));
  const SegmenterOptions& o = segmenter.model()->options();
  const cv::Mat image = scale_image(scan_image(), o.inference_scale);
  const int64_t h = (image.rows + 31) / 32 * 32, w = (image.cols + 31) / 32 * 32;
  const torch::Tensor input = torch::rand({1, 3, h, w}) * 255;
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(segmenter.model()->forward(input).masks.data_ptr());
  state.SetLabel(std::string(preset_name(state.range(0))) + " " + std::to_string(w) + "x" + std::to_string(h));
}

void BM_SegmenterPredict(benchmark::State& state) {
  set_compute_threads(static_cast<int>(state.range(1)));
  const Segmenter segmenter = make_segmenter(state.range(0));
  const cv::Mat image = scan_image();
  size_t instances = 0;
  for (auto _ : state) instances = segmenter.predict(image).size();
  state.counters["instances"] = static_cast<double>(instances);
  state.SetLabel(std::string(preset_name(state.range(0))) + " 1920x1200");
}

}  // namespace

BENCHMARK(BM_Mask2FormerForward)->ArgsProduct({{0, 1}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SegmenterPredict)->ArgsProduct({{0, 1}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
