#include "segmentation_backend.hpp"

#include <algorithm>

#include "maskterial/segment/registry.hpp"
#include "maskterial/segment/trainers.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::serve {
namespace {
constexpr size_t kKeptThresholds = 4;  // each is a whole network in memory
}  // namespace

SegmentationModel::SegmentationModel(const fs::path& dir)
    : type_(segment::segmenter_type_of(dir.string())),
      dir_(dir),
      default_(segment::segmenter_type(type_).load(dir.string(), segment::kDefaultScoreThreshold)) {
  const nlohmann::json manifest = read_json((dir / "model.json").string());
  if (manifest.contains("description") && manifest["description"].is_string()) description_ = manifest["description"];
  if (description_.empty()) description_ = segment::segmenter_type(type_).description;
}

segment::SegmenterPtr SegmentationModel::at_threshold(double score_threshold) const {
  if (score_threshold == segment::kDefaultScoreThreshold) return default_;
  std::lock_guard<std::mutex> lock(mutex_);
  if (const auto it = others_.find(score_threshold); it != others_.end()) return it->second;
  segment::SegmenterPtr loaded = segment::segmenter_type(type_).load(dir_.string(), score_threshold);
  if (others_.size() < kKeptThresholds) others_[score_threshold] = loaded;
  return loaded;
}

void finetune_segmentation_model(const fs::path& base, const coco::Dataset& dataset, const std::string& images_dir,
                                 const fs::path& out_dir, const fs::path& checkpoint, const FinetuneSchedule& schedule,
                                 const fs::path& unlabelled_dir) {
  const segment::SegmenterTrainer& type = segment::segmenter_trainer(segment::segmenter_type_of(base.string()));
  segment::SegmenterTrainingRun run;
  run.out_dir = out_dir.string();
  run.checkpoint = checkpoint.string();
  run.size = schedule.crop_size > 0 ? schedule.crop_size : type.finetuning_crop;
  run.trainer = type.finetuning_defaults();
  if (schedule.iterations > 0) run.trainer.iterations = schedule.iterations;
  if (schedule.batch_size > 0) run.trainer.batch_size = schedule.batch_size;
  run.trainer.log_every = static_cast<int>(std::clamp<int64_t>(run.trainer.iterations / 100, 1, 10));
  run.trainer.show_progress = false;
  run.trainer.validate();
  segment::FinetuneData data;
  data.dataset = dataset;
  data.images_dir = images_dir;
  if (!unlabelled_dir.empty()) data.unlabelled_dirs = {unlabelled_dir.string()};
  type.finetune(base.string(), data, run);
}

}  // namespace maskterial::serve
