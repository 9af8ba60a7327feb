#pragma once
// How well a segmentation model finds the flakes of annotated real images, class-agnostic: COCO mask AP,
// AP50 and recall at IoU 0.5 of its instances alone. Pretraining reports it every few hundred iterations on
// images it never trains on (its learning curve on real data).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/segment/instance_segmenter.hpp"

namespace maskterial::segment {

struct ValidationSet {
  std::string name;
  coco::Dataset dataset;   // ground truth; every instance is a flake
  std::string images_dir;  // file names are relative to it
};

struct ValidationScores {
  double ap = 0, ap50 = 0, recall50 = 0;
  int images = 0, flakes = 0, detections = 0;
  nlohmann::json to_json() const;
};

// Throws Error naming the image when one cannot be read.
ValidationScores validate_segmenter(const InstanceSegmenter& segmenter, const ValidationSet& set);

// The sets of a "name=IMAGES_DIR:ANNOTATIONS.json" (or "name=IMAGES_DIR:MASKS_DIR" for instance masks) spec.
ValidationSet parse_validation_set(const std::string& spec);

}  // namespace maskterial::segment
