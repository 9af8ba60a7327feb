#pragma once
// Where segmentation training images come from, and how they become tensors. Sample k of a run is a pure
// function of (seed, k): any process or thread can make any sample, a resumed run sees exactly the samples
// the interrupted one would have, and data-parallel processes split a batch by index.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/segment/augment.hpp"
#include "maskterial/segment/mask2former/matcher.hpp"
#include "maskterial/synth/generator.hpp"

namespace maskterial::segment {

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  // Augmented training sample `index` of the run with seed `seed`; thread-safe.
  virtual TrainingSample sample(uint64_t seed, uint64_t index) const = 0;
  virtual cv::Size size() const = 0;  // of every sample
  virtual nlohmann::json describe() const = 0;
};

// Pretraining: images from the synthetic generator, made on the fly (material-agnostic when the generator is),
// class-agnostic (every instance is class 0, "flake"), augmented with AugmentOptions::pretraining by default.
class SyntheticSource : public SampleSource {
 public:
  SyntheticSource(std::shared_ptr<const synth::Generator> generator, cv::Size size, AugmentOptions augment);
  // Material-agnostic generator settings for crops of `size` after resizing by `scale` (the model's inference
  // scale): rendered a little larger than needed so the random resize and crop have room.
  static synth::SynthConfig generator_config(cv::Size size, double scale);

  TrainingSample sample(uint64_t seed, uint64_t index) const override;
  cv::Size size() const override { return size_; }
  nlohmann::json describe() const override;

 private:
  std::shared_ptr<const synth::Generator> generator_;
  cv::Size size_;
  AugmentOptions augment_;
};

// Fine-tuning: the images of a COCO dataset, held in memory, visited in a fresh random order every epoch,
// class-agnostic, augmented with AugmentOptions::finetuning by default. Crowd annotations are skipped.
class CocoSource : public SampleSource {
 public:
  // Images are read from images_dir / file_name. Throws Error naming the file when an image is missing or
  // unreadable, or an annotation does not fit its image; and when the dataset has no images.
  CocoSource(const coco::Dataset& dataset, const std::string& images_dir, cv::Size size, AugmentOptions augment);

  TrainingSample sample(uint64_t seed, uint64_t index) const override;
  cv::Size size() const override { return size_; }
  nlohmann::json describe() const override;
  size_t images() const { return samples_.size(); }

 private:
  std::vector<TrainingSample> samples_;
  std::vector<std::string> names_;
  size_t instances_ = 0;
  cv::Size size_;
  AugmentOptions augment_;
};

// Two sources in one: sample k comes from `second` with probability `share` (decided by seed and k, so a run
// stays a pure function of them), else from `first`. Both must make samples of the same size.
class MixedSource : public SampleSource {
 public:
  MixedSource(std::shared_ptr<const SampleSource> first, std::shared_ptr<const SampleSource> second, double share);

  TrainingSample sample(uint64_t seed, uint64_t index) const override;
  cv::Size size() const override { return first_->size(); }
  nlohmann::json describe() const override;

 private:
  std::shared_ptr<const SampleSource> first_, second_;
  double share_;
};

// A batch as the network and the criterion take it.
struct TrainingBatch {
  torch::Tensor images;                  // float [B, 3, H, W], BGR, 0..255
  std::vector<InstanceTargets> targets;  // one per image
  int64_t instances() const;
};

TrainingBatch to_batch(const std::vector<TrainingSample>& samples);

// Samples first .. first + count - 1 of the run, made on `threads` threads (0 = all cores).
std::vector<TrainingSample> load_samples(const SampleSource& source, uint64_t seed, uint64_t first, int count,
                                         int threads = 0);
// The same as a batch.
TrainingBatch load_batch(const SampleSource& source, uint64_t seed, uint64_t first, int count, int threads = 0);

}  // namespace maskterial::segment
