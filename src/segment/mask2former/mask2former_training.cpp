#include "maskterial/segment/mask2former/mask2former_training.hpp"

#include <filesystem>

#include "maskterial/segment/finetuning_data.hpp"
#include "maskterial/util/error.hpp"

namespace fs = std::filesystem;

namespace maskterial::segment {
namespace {

SegmenterForward forward_of(Mask2Former model) {
  return [model](const torch::Tensor& images) mutable { return model->forward(images); };
}

std::shared_ptr<Segmenter> train_mask2former(Mask2Former model, const SampleSource& data, const SegmenterTrainingRun& run,
                                             nlohmann::json provenance) {
  provenance["model"] = model->options().to_json();
  provenance = run_training(model.ptr(), mask2former_objective(forward_of(model), run.trainer.criterion, run.group),
                            data, run, provenance);
  auto segmenter = std::make_shared<Segmenter>(model, provenance);
  write_trained_model(run, provenance, [&](const std::string& dir) { segmenter->save(dir); });
  return segmenter;
}

}  // namespace

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
  return train_mask2former(Mask2Former(options), data, run, {{"mode", "pretrain"}});
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
  std::vector<std::string> frozen{"backbone"};
  if (freeze_pixel_decoder) frozen.push_back("pixel_decoder");
  if (run.frozen) frozen = *run.frozen;
  for (const std::string& part : frozen) {
    if (part == "backbone") freeze(model->backbone());
    else if (part == "pixel_decoder") freeze(model->pixel_decoder());
    else throw Error("mask2former: no part named '" + part + "' to freeze (backbone, pixel_decoder)");
  }
  provenance["frozen"] = frozen;
  AugmentOptions augment = AugmentOptions::finetuning();
  augment.scale = model->options().inference_scale;
  const auto data = finetuning_source(finetune, {run.size, run.size}, augment, run.trainer.show_progress);
  return train_mask2former(model, *data.samples, run, provenance);
}

}  // namespace maskterial::segment
