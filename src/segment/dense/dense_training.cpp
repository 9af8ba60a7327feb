#include "maskterial/segment/dense/dense_training.hpp"

#include <algorithm>
#include <filesystem>

#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "maskterial/coco/rle.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/segment/dense/dense_instances.hpp"
#include "maskterial/segment/finetuning_data.hpp"
#include "maskterial/synth/dataset_writer.hpp"
#include "maskterial/util/error.hpp"

namespace fs = std::filesystem;

namespace maskterial::segment {
namespace {

constexpr int kCalibrationImages = 48;

// A copy of the network's weights in a fresh network (the trainer's network stays in training mode).
DenseNet copy_of(const DenseNet& network) {
  DenseNet copy(network->options());
  torch::NoGradGuard no_grad;
  const auto to = copy->named_parameters(), to_b = copy->named_buffers();
  for (const auto& p : network->named_parameters()) to[p.key()].copy_(p.value());
  for (const auto& b : network->named_buffers()) to_b[b.key()].copy_(b.value());
  return copy;
}

double iou(const cv::Mat& a, const cv::Mat& b) {
  const cv::Rect box = cv::boundingRect(a) | cv::boundingRect(b);
  if (box.empty()) return 0;
  const double both = cv::countNonZero(a(box) & b(box)), either = cv::countNonZero(a(box) | b(box));
  return either > 0 ? both / either : 0;
}

// Calibration images: synthetic ones the training never drew (another seed), or the fine-tuning images.
std::vector<AnnotatedImage> synthetic_images(const synth::Generator& generator, uint64_t seed, int count) {
  std::vector<AnnotatedImage> images(static_cast<size_t>(count));
  synth::parallel_for(images.size(), 0, [&](size_t i) {
    const synth::SynthSample s = generator.generate(seed, i);
    images[i] = {s.image, s.instance_masks()};
  });
  return images;
}

std::vector<AnnotatedImage> dataset_images(const FinetuneData& data) {
  std::vector<AnnotatedImage> images;
  for (const coco::ImageInfo& info : data.dataset.images) {
    AnnotatedImage image{load_image((fs::path(data.images_dir) / info.file_name).string()), {}};
    for (const coco::Annotation* a : data.dataset.annotations_of(info.id))
      if (!a->iscrowd) image.flakes.push_back(coco::decode(a->segmentation));
    images.push_back(std::move(image));
  }
  return images;
}

std::shared_ptr<DenseSegmenter> train_dense(DenseNet network, const SampleSource& data, const SegmenterTrainingRun& run,
                                            nlohmann::json provenance, const std::vector<AnnotatedImage>& calibration) {
  provenance["model"] = network->options().to_json();
  const auto snapshot = [network]() -> SegmenterPtr { return std::make_shared<DenseSegmenter>(copy_of(network)); };
  provenance = run_training(network.ptr(), dense_objective(network), data, run, provenance, snapshot);
  network->eval();
  provenance["calibration"] = calibrate_scores(network, calibration);
  auto segmenter = std::make_shared<DenseSegmenter>(network, provenance);
  write_trained_model(run, provenance, [&](const std::string& dir) { segmenter->save(dir); });
  return segmenter;
}

}  // namespace

TrainerOptions dense_pretraining_schedule(int64_t iterations) {
  TrainerOptions o;
  o.iterations = iterations;
  o.batch_size = 8;
  o.learning_rate = 2e-3;
  o.weight_decay = 1e-4;
  o.warmup_iterations = std::min<int64_t>(200, iterations / 10);
  o.warmup_factor = 0.01;
  o.clip_norm = 5.0;
  o.checkpoint_every = 250;
  o.log_every = 25;
  return o;
}

TrainerOptions dense_finetuning_schedule() {
  TrainerOptions o;
  o.iterations = 200;
  o.batch_size = 4;
  o.learning_rate = 5e-4;
  o.weight_decay = 1e-4;
  o.clip_norm = 5.0;
  o.log_every = 10;
  return o;
}

nlohmann::json calibrate_scores(DenseNet network, const std::vector<AnnotatedImage>& images) {
  network->set_calibration(1.0, 0.0);  // scores = mean flake probabilities while fitting
  const DenseSegmenter segmenter(network, {}, 0.0);
  std::vector<double> probabilities;
  std::vector<bool> real;
  for (const AnnotatedImage& image : images) {
    std::vector<bool> taken(image.flakes.size(), false);
    for (const InstanceMask& instance : segmenter.predict(image.bgr8)) {  // best first
      bool matched = false;
      for (size_t g = 0; g < image.flakes.size() && !matched; ++g)
        if (!taken[g] && iou(instance.mask, image.flakes[g]) >= 0.5) taken[g] = matched = true;
      probabilities.push_back(instance.score);
      real.push_back(matched);
    }
  }
  const auto [slope, offset] = fit_calibration(probabilities, real);
  network->set_calibration(slope, offset);
  const auto positives = std::count(real.begin(), real.end(), true);
  spdlog::info("score calibration: slope {:.3f}, offset {:.3f} ({} instances, {} real)", slope, offset, real.size(), positives);
  return {{"slope", slope}, {"offset", offset}, {"images", images.size()}, {"instances", real.size()}, {"real", positives}};
}

TrainingObjective dense_objective(DenseNet network, DenseLossWeights weights) {
  return [network, weights](const std::vector<TrainingSample>& samples) mutable {
    const DenseBatch batch = dense_batch(samples, network->options());
    const DenseMaps maps = network->forward(batch.features);
    auto [total, parts] = dense_loss(maps, batch.flake, batch.boundary, batch.distance, weights);
    return TrainingLoss{total, parts};
  };
}

std::shared_ptr<DenseSegmenter> pretrain_dense(const DensePretraining& pretraining, const SegmenterTrainingRun& run) {
  DenseOptions options = pretraining.model;
  const std::string checkpoint = run.checkpoint_path();
  if (run.resume && fs::exists(checkpoint)) {
    // A resumed run keeps the network it started with (its input and sizes); the instance rules are today's.
    const nlohmann::json meta = SegmentationTrainer::checkpoint_metadata(checkpoint);
    nlohmann::json merged = options.to_json();
    for (const char* key : {"inference_scale", "input", "contrast_gain", "input_clip", "encoder_widths", "encoder_blocks",
                            "decoder_widths"})
      if (meta.contains("model") && meta.at("model").contains(key)) merged[key] = meta.at("model").at(key);
    options = DenseOptions::from_json(merged, checkpoint);
  }
  const cv::Size size(run.size, run.size);
  nlohmann::json generator_json = SyntheticSource::generator_config(size, options.inference_scale).to_json();
  generator_json["real_background_share"] = pretraining.real_background_share;
  if (pretraining.generator.is_object()) generator_json.update(pretraining.generator);
  std::shared_ptr<const synth::BackgroundLibrary> backgrounds;
  if (!pretraining.background_folders.empty())
    backgrounds = std::make_shared<synth::BackgroundLibrary>(
        synth::BackgroundLibrary::load(pretraining.background_folders, pretraining.background_flake_threshold));
  auto generator = std::make_shared<synth::Generator>(synth::SynthConfig::from_json(generator_json, "generator config"),
                                                      backgrounds);
  AugmentOptions augment = AugmentOptions::pretraining();
  augment.scale = options.inference_scale;
  const SyntheticSource data(generator, size, augment);
  torch::manual_seed(run.trainer.seed);  // the fresh network's initial weights
  return train_dense(DenseNet(options), data, run,
                     {{"mode", "pretrain"},
                      {"background_folders", pretraining.background_folders},
                      {"real_backgrounds", backgrounds ? backgrounds->size() : 0}},
                     synthetic_images(*generator, ~run.trainer.seed, kCalibrationImages));
}

std::shared_ptr<DenseSegmenter> finetune_dense(const std::string& base, const DenseOptions& fresh, const FinetuneData& finetune,
                                               const SegmenterTrainingRun& run) {
  DenseNet network{nullptr};
  nlohmann::json provenance = {{"mode", "finetune"}};
  if (!base.empty()) {
    network = DenseSegmenter::load(base)->network();
    provenance["base"] = base;
  } else {
    torch::manual_seed(run.trainer.seed);
    network = DenseNet(fresh);
    provenance["base"] = nullptr;
  }
  const std::vector<std::string> frozen = run.frozen.value_or(std::vector<std::string>{"encoder"});
  for (const std::string& part : frozen) {
    if (part == "encoder") freeze(*network->encoder());
    else if (part == "decoder") freeze(*network->decoder());
    else throw Error("dense model: no part named '" + part + "' to freeze (encoder, decoder)");
  }
  provenance["frozen"] = frozen;
  AugmentOptions augment = AugmentOptions::finetuning();
  augment.scale = network->options().inference_scale;
  const FinetuningSource data = finetuning_source(finetune, {run.size, run.size}, augment, run.trainer.show_progress);
  return train_dense(network, *data.samples, run, provenance,
                     data.unlabelled ? synthetic_images(*data.unlabelled, ~run.trainer.seed, kCalibrationImages)
                                     : dataset_images(finetune));
}

}  // namespace maskterial::segment
