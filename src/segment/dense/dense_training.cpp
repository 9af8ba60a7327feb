#include "maskterial/segment/dense/dense_training.hpp"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "maskterial/util/error.hpp"

namespace fs = std::filesystem;

namespace maskterial::segment {
namespace {

std::shared_ptr<DenseSegmenter> train_dense(DenseNet network, const SampleSource& data, const SegmenterTrainingRun& run,
                                            nlohmann::json provenance) {
  provenance["model"] = network->options().to_json();
  const auto snapshot = [network]() -> SegmenterPtr {
    DenseNet copy(network->options());  // the trainer's network stays in training mode
    {
      torch::NoGradGuard no_grad;
      const auto from = network->named_parameters(), to = copy->named_parameters();
      for (const auto& p : from) to[p.key()].copy_(p.value());
      const auto from_b = network->named_buffers(), to_b = copy->named_buffers();
      for (const auto& b : from_b) to_b[b.key()].copy_(b.value());
    }
    return std::make_shared<DenseSegmenter>(copy);
  };
  provenance = run_training(network.ptr(), dense_objective(network), data, run, provenance, snapshot);
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
  if (run.resume && fs::exists(checkpoint)) {  // a resumed run keeps the architecture it started with
    const nlohmann::json meta = SegmentationTrainer::checkpoint_metadata(checkpoint);
    if (meta.contains("model")) options = DenseOptions::from_json(meta.at("model"), checkpoint);
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
                      {"real_backgrounds", backgrounds ? backgrounds->size() : 0}});
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
  const CocoSource data(finetune.dataset, finetune.images_dir, {run.size, run.size}, augment);
  return train_dense(network, data, run, provenance);
}

}  // namespace maskterial::segment
