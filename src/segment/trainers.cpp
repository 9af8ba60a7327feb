#include "maskterial/segment/trainers.hpp"

#include "maskterial/segment/dense/dense_training.hpp"
#include "maskterial/segment/mask2former/mask2former_training.hpp"
#include "maskterial/segment/registry.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::segment {

const std::vector<SegmenterTrainer>& segmenter_trainers() {
  static const std::vector<SegmenterTrainer> trainers = {
      {DenseSegmenter::kType,
       [](const std::string& base, const FinetuneData& data, const SegmenterTrainingRun& run) {
         finetune_dense(base, DenseOptions{}, data, run);
       },
       [] { return dense_finetuning_schedule(); }, kDenseTrainingSize},
      {"mask2former",
       [](const std::string& base, const FinetuneData& data, const SegmenterTrainingRun& run) {
         finetune_segmenter(base, SegmenterOptions{}, data, /*freeze_pixel_decoder=*/false, run);
       },
       [] { return TrainerOptions::finetuning(); },
       384},  // 384 px keep a 500-step run on a laptop CPU to minutes (MaskTerial: 512)
  };
  return trainers;
}

const SegmenterTrainer& segmenter_trainer(const std::string& type) {
  const std::string& name = segmenter_type(type).name;  // an unknown type: the error lists the known ones
  for (const SegmenterTrainer& t : segmenter_trainers())
    if (t.type == name) return t;
  throw Error("segmentation model type '" + name + "' has no fine-tuner");
}

}  // namespace maskterial::segment
