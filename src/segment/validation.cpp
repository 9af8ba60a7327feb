#include "maskterial/segment/validation.hpp"

#include <filesystem>

#include "maskterial/coco/eval.hpp"
#include "maskterial/coco/rle.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/util/error.hpp"

namespace fs = std::filesystem;

namespace maskterial::segment {

nlohmann::json ValidationScores::to_json() const {
  return {{"ap", ap}, {"ap50", ap50}, {"recall50", recall50}, {"images", images}, {"flakes", flakes},
          {"detections", detections}};
}

ValidationScores validate_segmenter(const InstanceSegmenter& segmenter, const ValidationSet& set) {
  ValidationScores scores;
  coco::Dataset truth = set.dataset;
  for (coco::Annotation& a : truth.annotations) a.category_id = 1;  // class-agnostic
  truth.categories = {{1, "flake", ""}};
  std::vector<coco::Annotation> detections;
  for (const coco::ImageInfo& info : truth.images) {
    const cv::Mat image = load_image((fs::path(set.images_dir) / info.file_name).string());
    for (const InstanceMask& instance : segmenter.predict(image)) {
      coco::Annotation d;
      d.id = static_cast<int64_t>(detections.size()) + 1;
      d.image_id = info.id;
      d.category_id = 1;
      d.segmentation = coco::encode(instance.mask);
      d.score = instance.score;
      detections.push_back(std::move(d));
    }
    ++scores.images;
  }
  for (const coco::Annotation& a : truth.annotations) scores.flakes += a.iscrowd ? 0 : 1;
  scores.detections = static_cast<int>(detections.size());
  coco::EvalParams params;
  params.use_categories = false;
  const coco::EvalResult result = coco::evaluate(truth, detections, params);
  scores.ap = std::max(0.0, result.stats[0]);
  scores.ap50 = std::max(0.0, result.stats[1]);
  scores.recall50 = std::max(0.0, result.average_recall("all", 100, 0.5));
  return scores;
}

ValidationSet parse_validation_set(const std::string& spec) {
  const size_t equals = spec.find('='), colon = spec.rfind(':');
  if (equals == std::string::npos || colon == std::string::npos || colon < equals)
    throw Error("validation set '" + spec + "': expected NAME=IMAGES_DIR:ANNOTATIONS.json or NAME=IMAGES_DIR:MASKS_DIR");
  ValidationSet set;
  set.name = spec.substr(0, equals);
  set.images_dir = spec.substr(equals + 1, colon - equals - 1);
  const std::string truth = spec.substr(colon + 1);
  set.dataset = fs::is_directory(truth) ? coco::read_instance_mask_folder(set.images_dir, truth) : coco::read_dataset(truth);
  if (set.dataset.images.empty()) throw Error("validation set '" + set.name + "': no annotated image");
  return set;
}

}  // namespace maskterial::segment
