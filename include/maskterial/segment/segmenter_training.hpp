#pragma once
// The two ways MaskTerial trains its segmentation model, as whole runs: pretraining a fresh network on the
// synthetic generator's stream, and fine-tuning a (pretrained) model on a few annotated real images with the
// backbone (and optionally the pixel decoder) frozen. Both write a model directory (Segmenter::save) whose
// model.json records how it was trained, plus training_curves.png; an interrupted run continues from its
// checkpoint.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/segment/segmenter.hpp"
#include "maskterial/segment/trainer.hpp"
#include "maskterial/segment/validation.hpp"

namespace maskterial::segment {

struct SegmenterTrainingRun {
  std::string out_dir;           // model directory, written by rank 0 at the end
  std::string checkpoint;        // empty: out_dir + ".checkpoint.pt"
  bool resume = false;           // continue from the checkpoint when there is one
  int size = 512;                // side of the square training crops (multiple of 32)
  // Fine-tuning: the parts kept fixed, by name (Mask2Former: backbone, pixel_decoder; dense: encoder, decoder);
  // unset = the type's default (Mask2Former: backbone; dense: encoder), empty = train everything.
  std::optional<std::vector<std::string>> frozen;
  // Real annotated images scored (class-agnostic AP50, recall) every validate_every iterations and at the end:
  // the learning curve on data the run never trains on. Kept beside the checkpoint (resumable).
  std::vector<ValidationSet> validation;
  int64_t validate_every = 0;
  TrainerOptions trainer;
  DistributedGroup* group = nullptr;

  std::string checkpoint_path() const;
  std::string validation_path() const;  // checkpoint path + ".validation.json"
};

// Trains `module` with `objective` on `data` from the checkpoint when resuming (the shared loop of every model
// type); returns the provenance record (how it was trained, the log, validation scores) for the model
// directory. `snapshot` makes an inference model of the current weights, for validation.
nlohmann::json run_training(const std::shared_ptr<torch::nn::Module>& module, const TrainingObjective& objective,
                            const SampleSource& data, const SegmenterTrainingRun& run, nlohmann::json provenance,
                            const std::function<SegmenterPtr()>& snapshot = {});
// Rank 0 writes the model directory (save) and its loss plot.
void write_trained_model(const SegmenterTrainingRun& run, const nlohmann::json& provenance,
                         const std::function<void(const std::string& dir)>& save);

// Pretrains a network of `model` options from scratch on material-agnostic synthetic images (class-agnostic).
// `generator` overrides SyntheticSource::generator_config where given (JSON of synth::SynthConfig keys).
std::shared_ptr<Segmenter> pretrain_segmenter(const SegmenterOptions& model, const nlohmann::json& generator,
                                              const SegmenterTrainingRun& run);

struct FinetuneData {
  coco::Dataset dataset;
  std::string images_dir;  // file names are relative to it
};

// Fine-tunes `base` (a model directory) on the dataset, or a fresh network of `fresh` options when base is empty
// (the no-pretraining baseline). Backbone frozen; pixel decoder too when asked.
std::shared_ptr<Segmenter> finetune_segmenter(const std::string& base, const SegmenterOptions& fresh,
                                              const FinetuneData& data, bool freeze_pixel_decoder,
                                              const SegmenterTrainingRun& run);

}  // namespace maskterial::segment
