#pragma once
// The fine-tuner of each segmentation model type (segment/registry.hpp), registered once by the training library.
#include <functional>
#include <string>
#include <vector>

#include "maskterial/segment/segmenter_training.hpp"

namespace maskterial::segment {

struct SegmenterTrainer {
  std::string type;  // a registered segmentation model type
  // Fine-tunes the model directory `base` (of this type) on annotated images with the type's default recipe
  // (run.trainer), writing run.out_dir.
  std::function<void(const std::string& base, const FinetuneData& data, const SegmenterTrainingRun& run)> finetune;
  // The type's default fine-tuning schedule and crop side (what `finetune` uses when the user sets nothing).
  std::function<TrainerOptions()> finetuning_defaults;
  int finetuning_crop = 384;
};

const std::vector<SegmenterTrainer>& segmenter_trainers();
// Throws Error listing the known types when `type` is none of them.
const SegmenterTrainer& segmenter_trainer(const std::string& type);

}  // namespace maskterial::segment
