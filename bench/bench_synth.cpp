// Synthetic data: 1024x1024 images per second, one image per core on one and on all cores (the in-memory
// stream), and written as a COCO dataset (PNG encoding and RLE included). Also the optics of one image.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <thread>

#include <opencv2/core.hpp>

#include "maskterial/optics/contrast_model.hpp"
#include "maskterial/synth/dataset_writer.hpp"

namespace {

using namespace maskterial;

void BM_SynthOneCore(benchmark::State& state) {
  cv::setNumThreads(1);
  const synth::Generator generator(synth::SynthConfig{});
  uint64_t index = 0;
  for (auto _ : state) benchmark::DoNotOptimize(generator.generate(1, index++));
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(index), benchmark::Counter::kIsRate);
  cv::setNumThreads(-1);
}
BENCHMARK(BM_SynthOneCore)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SynthStreamAllCores(benchmark::State& state) {
  cv::setNumThreads(1);
  synth::SynthStream stream(std::make_shared<const synth::Generator>(synth::SynthConfig{}), 1);
  const size_t batch = 2 * std::max(1u, std::thread::hardware_concurrency());
  size_t images = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(stream.next_batch(batch));
    images += batch;
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
  cv::setNumThreads(-1);
}
BENCHMARK(BM_SynthStreamAllCores)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SynthCocoAllCores(benchmark::State& state) {
  cv::setNumThreads(1);
  const synth::Generator generator(synth::SynthConfig{});
  const std::string out = (std::filesystem::temp_directory_path() / "mt_bench_synth").string();
  synth::SynthRunOptions options;
  options.count = 16;
  options.progress = false;
  size_t images = 0;
  for (auto _ : state) {
    synth::write_synthetic_dataset(generator, out, options);
    images += options.count;
  }
  std::filesystem::remove_all(out);
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
  cv::setNumThreads(-1);
}
BENCHMARK(BM_SynthCocoAllCores)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_OpticsTenLayerCounts(benchmark::State& state) {
  optics::OpticalSetup setup;
  const auto& graphene = optics::find_material("graphene");
  for (auto _ : state)
    for (int n = 1; n <= 10; ++n) benchmark::DoNotOptimize(optics::layer_contrast(setup, graphene, n));
}
BENCHMARK(BM_OpticsTenLayerCounts)->Unit(benchmark::kMicrosecond);

}  // namespace
