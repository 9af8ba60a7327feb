#include "maskterial/segment/segmenter_training.hpp"

#include <filesystem>
#include <thread>

#include <spdlog/spdlog.h>

#include "maskterial/util/compute_threads.hpp"
#include "maskterial/util/error.hpp"

namespace fs = std::filesystem;

namespace maskterial::segment {
namespace {

SegmenterForward forward_of(Mask2Former model) {
  return [model](const torch::Tensor& images) mutable { return model->forward(images); };
}

// Trains `model` on `data`, from the checkpoint when resuming; rank 0 saves the model directory and the plot.
std::shared_ptr<Segmenter> run_training(Mask2Former model, const SampleSource& data, const SegmenterTrainingRun& run,
                                        nlohmann::json provenance) {
  if (run.size < 32 || run.size % 32 != 0) throw Error("training size must be a positive multiple of 32");
  const std::string checkpoint = run.checkpoint_path();
  SegmentationTrainer trainer(model.ptr(), forward_of(model), run.trainer, run.group);
  if (run.resume && fs::exists(checkpoint)) {
    trainer.load_checkpoint(checkpoint);
    spdlog::info("resuming from {} at iteration {}", checkpoint, trainer.iteration());
  } else if (run.resume) {
    spdlog::info("no checkpoint at {}: starting from iteration 0", checkpoint);
  }
  provenance["model"] = model->options().to_json();
  provenance["data"] = data.describe();
  trainer.train(data, checkpoint, provenance);

  const TrainingLog& log = trainer.log();
  provenance["trainer"] = trainer.options().to_json();
  provenance["log"] = log.to_json();
  provenance["processes"] = run.group ? run.group->world_size() : 1;
  provenance["threads_per_process"] = compute_threads();
  provenance["hardware_threads"] = std::thread::hardware_concurrency();
  auto segmenter = std::make_shared<Segmenter>(model, provenance);
  if (!run.group || run.group->rank() == 0) {
    segmenter->save(run.out_dir);
    write_loss_plot((fs::path(run.out_dir) / "training_curves.png").string(), log,
                    provenance.value("mode", std::string("training")) + ": weighted loss terms (sum of all decoder outputs)");
  }
  return segmenter;
}

}  // namespace

std::string SegmenterTrainingRun::checkpoint_path() const {
  if (!checkpoint.empty()) return checkpoint;
  std::string dir = out_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + ".checkpoint.pt";
}

std::shared_ptr<Segmenter> pretrain_segmenter(const SegmenterOptions& model_options, const nlohmann::json& generator,
                                              const SegmenterTrainingRun& run) {
  SegmenterOptions options = model_options;
  // A resumed run keeps the architecture it started with.
  const std::string checkpoint = run.checkpoint_path();
  if (run.resume && fs::exists(checkpoint)) {
    const nlohmann::json meta = SegmentationTrainer::checkpoint_metadata(checkpoint);
    if (meta.contains("model")) options = SegmenterOptions::from_json(meta.at("model"), checkpoint);
  }
  const cv::Size size(run.size, run.size);
  nlohmann::json generator_json = SyntheticSource::generator_config(size, options.inference_scale).to_json();
  if (generator.is_object()) generator_json.update(generator);
  auto synth_generator = std::make_shared<synth::Generator>(synth::SynthConfig::from_json(generator_json, "generator config"));
  AugmentOptions augment = AugmentOptions::pretraining();
  augment.scale = options.inference_scale;
  const SyntheticSource data(synth_generator, size, augment);
  torch::manual_seed(run.trainer.seed);  // the fresh network's initial weights
  return run_training(Mask2Former(options), data, run, {{"mode", "pretrain"}});
}

std::shared_ptr<Segmenter> finetune_segmenter(const std::string& base, const SegmenterOptions& fresh,
                                              const FinetuneData& finetune, bool freeze_pixel_decoder,
                                              const SegmenterTrainingRun& run) {
  Mask2Former model{nullptr};
  nlohmann::json provenance = {{"mode", "finetune"}};
  if (!base.empty()) {
    model = Segmenter::load(base)->model();
    provenance["base"] = base;
  } else {
    torch::manual_seed(run.trainer.seed);
    model = Mask2Former(fresh);
    provenance["base"] = nullptr;
  }
  freeze(model->backbone());
  if (freeze_pixel_decoder) freeze(model->pixel_decoder());
  provenance["frozen"] = freeze_pixel_decoder ? nlohmann::json{"backbone", "pixel_decoder"} : nlohmann::json{"backbone"};
  AugmentOptions augment = AugmentOptions::finetuning();
  augment.scale = model->options().inference_scale;
  const CocoSource data(finetune.dataset, finetune.images_dir, {run.size, run.size}, augment);
  return run_training(model, data, run, provenance);
}

}  // namespace maskterial::segment
