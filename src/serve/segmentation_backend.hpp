#pragma once
// Segmentation models as the server holds them: any directory the segmentation model registry loads
// (segment/registry.hpp: model.json names the type), loaded once and shared read-only by every request.
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/segment/instance_segmenter.hpp"

namespace maskterial::serve {

class SegmentationModel {
 public:
  // Loads and validates dir at the default score threshold; throws Error naming the file.
  explicit SegmentationModel(const std::filesystem::path& dir);

  const std::string& type() const { return type_; }
  const std::string& description() const { return description_; }
  const std::filesystem::path& dir() const { return dir_; }
  // Where its files are now (set by the model store once the directory is in its final place).
  void set_dir(std::filesystem::path dir) { dir_ = std::move(dir); }

  // The model scoring masks against `score_threshold`: the default one as loaded, others loaded from the
  // directory on first use and kept (a few). Throws Error naming the file if that load fails. Thread-safe.
  segment::SegmenterPtr at_threshold(double score_threshold) const;

 private:
  std::string type_, description_;
  std::filesystem::path dir_;
  segment::SegmenterPtr default_;
  mutable std::mutex mutex_;
  mutable std::map<double, segment::SegmenterPtr> others_;
};

struct FinetuneSchedule {
  int64_t iterations = 0;  // 0: the type's fine-tuning default
  int batch_size = 0;      // 0: the type's fine-tuning default
  int crop_size = 0;       // 0: the model type's (registry)
};

// Fine-tunes the segmentation model directory `base` with its type's recipe (segment/registry.hpp) on a COCO
// dataset whose file names are relative to images_dir, writing the model directory out_dir; the run's
// checkpoint goes to `checkpoint`. Progress and loss are reported through progress bars (util/progress.hpp),
// which are cancellation points too. unlabelled_dir: the lab's unannotated scans (finetune --unlabelled), or
// empty. Throws Error.
void finetune_segmentation_model(const std::filesystem::path& base, const coco::Dataset& dataset,
                                 const std::string& images_dir, const std::filesystem::path& out_dir,
                                 const std::filesystem::path& checkpoint, const FinetuneSchedule& schedule,
                                 const std::filesystem::path& unlabelled_dir = {});

}  // namespace maskterial::serve
