// Where a user waits, as ratios measured in the same run (so a busy machine slows both sides alike), on the
// GrapheneH images of the MaskTerial demo (1920×1200 JPEG), one core. Every figure is divided by the decode
// floor: the fastest JPEG decode OpenCV does (cv::imdecode, IMREAD_COLOR), as ../shared/acceptance does.
//  - BM_ClassifierPathOverDecode: what `detect --segmenter none` does per image (decode, detection with the
//    built-in classifier, JSON record and CSV rows, the default JPEG overlay, the files handed to the writer
//    thread that `detect` uses) ÷ the decode floor; argument 1 with the default overlays, 0 with
//    `--overlays none`;
//  - BM_SegmenterPipelineOverClassifierPath: the default pipeline (shipped dense segmentation model +
//    classifier) ÷ the classifier path, each doing what `detect` does per image.
// The whole commands, start-up included, are timed by scripts/speed_table.sh (the table in docs/speed.md).
#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>

#include "maskterial/classify/pixel_classifier.hpp"
#include "maskterial/core/shipped_models.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/pipeline/detector.hpp"
#include "maskterial/pipeline/outputs.hpp"
#include "maskterial/segment/registry.hpp"
#include "maskterial/util/blas_runtime.hpp"
#include "maskterial/util/compute_threads.hpp"
#include "maskterial/util/file_writer.hpp"
#include "maskterial/util/files.hpp"

namespace {

using namespace maskterial;
using Clock = std::chrono::steady_clock;

// The whole benchmark binary runs on the BLAS kernels the CLI would use (main is Google Benchmark's).
const bool kBlasConfigured = (configure_blas(), true);

struct EncodedImage {
  std::string name, bytes;
};

const std::vector<EncodedImage>& graphene_jpegs() {
  static const std::vector<EncodedImage> images = [] {
    std::vector<EncodedImage> out;
    const std::string dir = std::string(MASKTERIAL_SHARED_DATA) + "/maskterial-demo/images/GrapheneH";
    if (std::filesystem::is_directory(dir))
      for (const auto& path : list_images({dir})) out.push_back({path, read_file(path)});
    return out;
  }();
  return images;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// What `detect` does per image: decode → detect → JSON record and CSV rows → overlay (unless `overlays` is
// false) → files written atomically by the writer thread (fsync and rename off the detection's path).
size_t detect_image(const Detector& detector, const EncodedImage& image, BackgroundFileWriter& writer,
                    bool overlays = true) {
  static const std::string out = (std::filesystem::temp_directory_path() / "maskterial_bench_outputs").string();
  const cv::Mat bgr8 = decode_image(image.bytes, image.name);
  const Detection detection = detector.detect(bgr8, image.name);
  const std::string stem = std::filesystem::path(image.name).stem().string();
  writer.write(out + "/" + stem + ".json", json_text(detection_to_json(detection)));
  benchmark::DoNotOptimize(csv_rows(detection, kDefaultMicronsPerPixel).size());
  if (overlays) {
    const std::vector<uchar> bytes = encode_overlay(bgr8, detection, OverlayFormat::Jpeg);
    writer.write(out + "/overlays/" + stem + ".jpg", std::string(bytes.begin(), bytes.end()));
  }
  return detection.flakes.size();
}

// The floor: OpenCV's own JPEG decode of the same bytes.
void decode_floor(const EncodedImage& image) {
  const cv::Mat bytes(1, static_cast<int>(image.bytes.size()), CV_8U, const_cast<char*>(image.bytes.data()));
  benchmark::DoNotOptimize(cv::imdecode(bytes, cv::IMREAD_COLOR).data);
}

// Runs `first` then `second` on every image in each benchmark iteration; counters: their mean ms per image
// and ratio = second / first.
template <class First, class Second>
void interleaved(benchmark::State& state, const char* first_name, First first, const char* second_name, Second second) {
  double first_ms = 0, second_ms = 0;
  size_t n = 0;
  for (auto _ : state)
    for (const auto& image : graphene_jpegs()) {
      auto start = Clock::now();
      first(image);
      first_ms += ms_since(start);
      start = Clock::now();
      second(image);
      second_ms += ms_since(start);
      ++n;
    }
  state.counters[first_name] = first_ms / n;
  state.counters[second_name] = second_ms / n;
  state.counters["ratio"] = second_ms / first_ms;
}

void BM_ClassifierPathOverDecode(benchmark::State& state) {
  if (graphene_jpegs().empty()) return state.SkipWithError("shared GrapheneH images not found");
  set_compute_threads(1);  // one core: libtorch, OpenBLAS and OpenCV
  const bool overlays = state.range(0) != 0;
  const Detector classifier_path(default_classifier(), DetectorOptions{});
  BackgroundFileWriter writer;
  interleaved(state, "decode_floor_ms", decode_floor, "classifier_path_ms",
              [&](const EncodedImage& image) { detect_image(classifier_path, image, writer, overlays); });
  if (!writer.finish().empty()) state.SkipWithError("writing the outputs failed");
}

void BM_SegmenterPipelineOverClassifierPath(benchmark::State& state) {
  if (graphene_jpegs().empty()) return state.SkipWithError("shared GrapheneH images not found");
  if (!std::filesystem::is_directory(shipped_segmenter_dir())) return state.SkipWithError("no shipped segmenter");
  set_compute_threads(1);  // one core: libtorch, OpenBLAS and OpenCV
  const Detector classifier_path(default_classifier(), DetectorOptions{});
  const Detector segmenter_pipeline(default_classifier(), DetectorOptions{}, {},
                                    segment::load_segmenter(shipped_segmenter_dir()));
  BackgroundFileWriter writer;
  interleaved(
      state, "classifier_path_ms", [&](const EncodedImage& image) { detect_image(classifier_path, image, writer); },
      "segmenter_pipeline_ms", [&](const EncodedImage& image) { detect_image(segmenter_pipeline, image, writer); });
  if (!writer.finish().empty()) state.SkipWithError("writing the outputs failed");
}

}  // namespace

// Argument: 1 = with the default JPEG overlays, 0 = `--overlays none`.
BENCHMARK(BM_ClassifierPathOverDecode)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_SegmenterPipelineOverClassifierPath)->Unit(benchmark::kMillisecond)->Iterations(1);
