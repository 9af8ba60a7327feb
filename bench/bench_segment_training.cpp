// Segmentation training: optimizer steps per second of the lite preset (pretraining on the synthetic stream,
// and fine-tuning with the backbone frozen on in-memory samples), the synthetic samples alone, and the
// Hungarian assignment of MaskTerial's size (100 queries).
#include <benchmark/benchmark.h>

#include <random>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/segment/mask2former/hungarian.hpp"
#include "maskterial/segment/trainer.hpp"

namespace {

using namespace maskterial;
using namespace maskterial::segment;

std::shared_ptr<const SyntheticSource> synthetic_source(int size, double scale) {
  auto generator = std::make_shared<synth::Generator>(SyntheticSource::generator_config({size, size}, scale));
  AugmentOptions augment = AugmentOptions::pretraining();
  augment.scale = scale;
  return std::make_shared<SyntheticSource>(generator, cv::Size(size, size), augment);
}

// The same few samples over and over: the cost of the network and the loss alone.
class FixedSource : public SampleSource {
 public:
  FixedSource(const SampleSource& from, int count) {
    for (int i = 0; i < count; ++i) samples_.push_back(from.sample(1, static_cast<uint64_t>(i)));
    size_ = from.size();
  }
  TrainingSample sample(uint64_t, uint64_t index) const override { return samples_[index % samples_.size()]; }
  cv::Size size() const override { return size_; }
  nlohmann::json describe() const override { return {{"type", "fixed"}}; }

 private:
  std::vector<TrainingSample> samples_;
  cv::Size size_;
};

SegmenterForward forward_of(Mask2Former model) {
  return [model](const torch::Tensor& images) mutable { return model->forward(images); };
}

// Arguments: crop size, images per step.
void BM_LitePretrainStep(benchmark::State& state) {
  const int size = static_cast<int>(state.range(0));
  const SegmenterOptions options = SegmenterOptions::preset_named("lite");
  const auto source = synthetic_source(size, options.inference_scale);
  Mask2Former model(options);
  TrainerOptions trainer = TrainerOptions::pretraining(1000000);
  trainer.batch_size = static_cast<int>(state.range(1));
  trainer.show_progress = false;
  SegmentationTrainer training(model.ptr(), forward_of(model), trainer);
  for (auto _ : state) training.step(*source);
  state.counters["iterations/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * trainer.batch_size), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LitePretrainStep)->Args({256, 2})->Args({512, 2})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5);

void BM_LiteFinetuneStep(benchmark::State& state) {
  const int size = static_cast<int>(state.range(0));
  const SegmenterOptions options = SegmenterOptions::preset_named("lite");
  const FixedSource source(*synthetic_source(size, options.inference_scale), 8);
  Mask2Former model(options);
  freeze(model->backbone());
  TrainerOptions trainer = TrainerOptions::finetuning();
  trainer.batch_size = static_cast<int>(state.range(1));
  trainer.show_progress = false;
  SegmentationTrainer training(model.ptr(), forward_of(model), trainer);
  for (auto _ : state) training.step(source);
  state.counters["iterations/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * trainer.batch_size), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LiteFinetuneStep)->Args({512, 2})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5);

void BM_SyntheticTrainingSample(benchmark::State& state) {
  const auto source = synthetic_source(512, 0.5);
  uint64_t index = 0;
  for (auto _ : state) benchmark::DoNotOptimize(source->sample(1, index++));
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(index), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SyntheticTrainingSample)->Unit(benchmark::kMillisecond)->UseRealTime();

// A fine-tuning batch (MaskTerial's 16 images) from the 5 annotated GrapheneH demo images (1920x1200),
// resized by the lite scale, cropped and augmented.
void BM_FinetuneBatchOfRealImages(benchmark::State& state) {
  const std::string root = std::string(MASKTERIAL_SHARED_DATA) + "/maskterial-demo/";
  AugmentOptions augment = AugmentOptions::finetuning();
  augment.scale = 0.5;
  const CocoSource source(coco::read_instance_mask_folder(root + "images/GrapheneH", root + "instance_masks/GrapheneH"),
                          root + "images/GrapheneH", {512, 512}, augment);
  uint64_t first = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(load_batch(source, 1, first, 16));
    first += 16;
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(first), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FinetuneBatchOfRealImages)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Hungarian100x10(benchmark::State& state) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> uniform(0, 10);
  std::vector<double> cost(100 * 10);
  for (double& c : cost) c = uniform(rng);
  for (auto _ : state) benchmark::DoNotOptimize(solve_assignment(cost, 100, 10));
}
BENCHMARK(BM_Hungarian100x10)->Unit(benchmark::kMicrosecond);

}  // namespace
