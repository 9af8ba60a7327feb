#pragma once
// Training runs of every segmentation model type, as whole runs: the settings of a run, the shared loop around
// SegmentationTrainer (resume, validation on real images, provenance) and the model directory it writes
// (model.json records how it was trained, plus training_curves.png). Each type's pretraining and fine-tuning
// build on it (mask2former/mask2former_training.hpp, dense/dense_training.hpp).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/segment/instance_segmenter.hpp"
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

struct FinetuneData {
  coco::Dataset dataset;
  std::string images_dir;  // file names are relative to it
  // The lab's unannotated scans (finetune --unlabelled): synthetic flakes with the annotated flakes' contrasts are
  // drawn on their substrates for `unlabelled_share` of the samples (segment/finetuning_data.hpp).
  std::vector<std::string> unlabelled_dirs;
  double unlabelled_share = 0.5;
};

}  // namespace maskterial::segment
