#pragma once
// The two ways MaskTerial trains its segmentation model, as whole runs: pretraining a fresh network on the
// synthetic generator's stream, and fine-tuning a (pretrained) model on a few annotated real images with the
// backbone (and optionally the pixel decoder) frozen. Both write a model directory (Segmenter::save) whose
// model.json records how it was trained, plus training_curves.png; an interrupted run continues from its
// checkpoint.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/segment/segmenter.hpp"
#include "maskterial/segment/trainer.hpp"

namespace maskterial::segment {

struct SegmenterTrainingRun {
  std::string out_dir;           // model directory, written by rank 0 at the end
  std::string checkpoint;        // empty: out_dir + ".checkpoint.pt"
  bool resume = false;           // continue from the checkpoint when there is one
  int size = 512;                // side of the square training crops (multiple of 32)
  TrainerOptions trainer;
  DistributedGroup* group = nullptr;

  std::string checkpoint_path() const;
};

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
