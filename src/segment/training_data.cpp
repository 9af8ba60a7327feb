#include "maskterial/segment/training_data.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>

#include "maskterial/coco/rle.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/synth/dataset_writer.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::segment {
namespace {

// Separate random streams for generation and augmentation of the same index.
constexpr uint64_t kAugmentStream = 0x6a09e667f3bcc909ULL;
constexpr uint64_t kOrderStream = 0xbb67ae8584caa73bULL;
constexpr uint64_t kMixStream = 0xa54ff53a5f1d36f1ULL;

}  // namespace

SyntheticSource::SyntheticSource(std::shared_ptr<const synth::Generator> generator, cv::Size size, AugmentOptions augment)
    : generator_(std::move(generator)), size_(size), augment_(augment) {
  if (!generator_) throw Error("synthetic training data needs a generator");
  if (size.width < 32 || size.height < 32) throw Error("training size must be at least 32 x 32");
}

synth::SynthConfig SyntheticSource::generator_config(cv::Size size, double scale) {
  synth::SynthConfig config;
  config.agnostic = true;
  // Room for the largest random resize (x0.9) before the crop.
  config.width = static_cast<int>(std::ceil(size.width / (scale * 0.9)));
  config.height = static_cast<int>(std::ceil(size.height / (scale * 0.9)));
  return config;
}

TrainingSample SyntheticSource::sample(uint64_t seed, uint64_t index) const {
  const synth::SynthSample generated = generator_->generate(seed, index);
  TrainingSample s{generated.image, generated.instance_masks(), {}};
  s.labels.assign(s.masks.size(), 0);
  synth::Random random(synth::image_seed(seed ^ kAugmentStream, index));
  return augment(s, size_, augment_, random);
}

nlohmann::json SyntheticSource::describe() const {
  return {{"type", "synthetic"}, {"generator", generator_->config().to_json()}, {"size", {size_.width, size_.height}},
          {"augment", augment_.to_json()}};
}

CocoSource::CocoSource(const coco::Dataset& dataset, const std::string& images_dir, cv::Size size, AugmentOptions augment)
    : size_(size), augment_(augment) {
  if (dataset.images.empty()) throw Error("the training dataset has no images");
  if (size.width < 32 || size.height < 32) throw Error("training size must be at least 32 x 32");
  for (const coco::ImageInfo& info : dataset.images) {
    const std::string path = (std::filesystem::path(images_dir) / info.file_name).string();
    TrainingSample s{load_image(path), {}, {}};
    for (const coco::Annotation* a : dataset.annotations_of(info.id)) {
      if (a->iscrowd) continue;
      if (a->segmentation.height != s.image.rows || a->segmentation.width != s.image.cols)
        throw file_error(path, "annotation " + std::to_string(a->id) + " is " + std::to_string(a->segmentation.width) +
                                   "x" + std::to_string(a->segmentation.height) + " but the image is " +
                                   std::to_string(s.image.cols) + "x" + std::to_string(s.image.rows));
      s.masks.push_back(coco::decode(a->segmentation));
      s.labels.push_back(0);  // class-agnostic: the classifier tells the layers apart
    }
    instances_ += s.masks.size();
    samples_.push_back(std::move(s));
    names_.push_back(info.file_name);
  }
}

TrainingSample CocoSource::sample(uint64_t seed, uint64_t index) const {
  // Epoch e visits every image once, in the order of a shuffle seeded by (seed, e).
  const uint64_t n = samples_.size(), epoch = index / n;
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  synth::Random shuffle(synth::image_seed(seed ^ kOrderStream, epoch));
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[static_cast<size_t>(shuffle.integer(0, static_cast<int>(i) - 1))]);
  synth::Random random(synth::image_seed(seed ^ kAugmentStream, index));
  return augment(samples_[order[index % n]], size_, augment_, random);
}

nlohmann::json CocoSource::describe() const {
  return {{"type", "coco"}, {"images", names_}, {"instances", instances_}, {"size", {size_.width, size_.height}},
          {"augment", augment_.to_json()}};
}

MixedSource::MixedSource(std::shared_ptr<const SampleSource> first, std::shared_ptr<const SampleSource> second,
                         double share)
    : first_(std::move(first)), second_(std::move(second)), share_(share) {
  if (!first_ || !second_) throw Error("mixed training data needs two sources");
  if (first_->size() != second_->size()) throw Error("mixed training data: the two sources make samples of different sizes");
  if (!(share >= 0 && share <= 1)) throw Error("mixed training data: the share must be in [0, 1]");
}

TrainingSample MixedSource::sample(uint64_t seed, uint64_t index) const {
  synth::Random coin(synth::image_seed(seed ^ kMixStream, index));
  return coin.chance(share_) ? second_->sample(seed, index) : first_->sample(seed, index);
}

nlohmann::json MixedSource::describe() const {
  return {{"type", "mixed"}, {"first", first_->describe()}, {"second", second_->describe()}, {"second_share", share_}};
}

int64_t TrainingBatch::instances() const {
  int64_t n = 0;
  for (const InstanceTargets& t : targets) n += t.labels.size(0);
  return n;
}

TrainingBatch to_batch(const std::vector<TrainingSample>& samples) {
  if (samples.empty()) throw Error("empty training batch");
  const int h = samples.front().image.rows, w = samples.front().image.cols;
  TrainingBatch batch;
  batch.images = torch::empty({static_cast<int64_t>(samples.size()), 3, h, w}, torch::kFloat32);
  for (size_t b = 0; b < samples.size(); ++b) {
    const TrainingSample& s = samples[b];
    if (s.image.rows != h || s.image.cols != w || s.image.type() != CV_8UC3)
      throw Error("training batch: images differ in size or type");
    cv::Mat hwc;
    s.image.convertTo(hwc, CV_32FC3);
    const torch::Tensor image = torch::from_blob(hwc.data, {h, w, 3}, torch::kFloat32).permute({2, 0, 1});
    batch.images[static_cast<int64_t>(b)].copy_(image);
    const int64_t n = static_cast<int64_t>(s.masks.size());
    InstanceTargets t{torch::tensor(s.labels, torch::kInt64).reshape({n}), torch::empty({n, h, w}, torch::kFloat32)};
    for (int64_t i = 0; i < n; ++i) {
      cv::Mat mask;
      s.masks[static_cast<size_t>(i)].convertTo(mask, CV_32F);
      std::memcpy(t.masks[i].data_ptr<float>(), mask.ptr<float>(), sizeof(float) * static_cast<size_t>(h) * w);
    }
    batch.targets.push_back(std::move(t));
  }
  return batch;
}

std::vector<TrainingSample> load_samples(const SampleSource& source, uint64_t seed, uint64_t first, int count,
                                         int threads) {
  std::vector<TrainingSample> samples(static_cast<size_t>(count));
  synth::parallel_for(samples.size(), threads, [&](size_t i) { samples[i] = source.sample(seed, first + i); });
  return samples;
}

TrainingBatch load_batch(const SampleSource& source, uint64_t seed, uint64_t first, int count, int threads) {
  return to_batch(load_samples(source, seed, first, count, threads));
}

}  // namespace maskterial::segment
