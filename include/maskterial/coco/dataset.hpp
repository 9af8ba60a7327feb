#pragma once
// COCO instance datasets (images, annotations, categories) and COCO results files, plus the two mask-folder
// layouts labs use: semantic masks (pixel = class id) and instance masks (pixel = instance id).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/coco/rle.hpp"

namespace maskterial::coco {

struct Category {
  int64_t id = 0;
  std::string name;
  std::string supercategory;
};

struct ImageInfo {
  int64_t id = 0;
  std::string file_name;
  int width = 0;
  int height = 0;
};

struct Annotation {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  Rle segmentation;                  // polygons and uncompressed RLE are converted on reading
  double area = 0;                   // as given in the file (COCOeval bins ground truth by this value)
  std::array<double, 4> bbox{};      // [x, y, w, h]
  int iscrowd = 0;
  std::optional<double> score;       // results files only
};

struct Dataset {
  std::vector<ImageInfo> images;
  std::vector<Annotation> annotations;
  std::vector<Category> categories;

  const ImageInfo* find_image(int64_t image_id) const;
  const ImageInfo* find_image_by_file(const std::string& file_name) const;  // matches full name or basename
  std::vector<const Annotation*> annotations_of(int64_t image_id) const;
};

// Reads a COCO instances JSON file. Throws Error naming the file and the offending entry.
Dataset read_dataset(const std::string& path);
// Polygons are rasterised within `budget` (rle.hpp; uploads to the server pass kUploadPolygonBudget).
Dataset dataset_from_json(const nlohmann::json& json, const std::string& source_name, PolygonBudget budget = {});
// Writes compressed-RLE segmentations, atomically.
void write_dataset(const std::string& path, const Dataset& dataset);
nlohmann::json dataset_to_json(const Dataset& dataset);

// A COCO results file: a JSON list of {image_id, category_id, segmentation, score[, bbox, area]}.
// Image sizes come from the ground truth (results RLE carry their own size too).
std::vector<Annotation> read_results(const std::string& path, const Dataset& ground_truth);
std::vector<Annotation> results_from_json(const nlohmann::json& json, const Dataset& ground_truth,
                                          const std::string& source_name);
nlohmann::json results_to_json(const std::vector<Annotation>& results);
void write_results(const std::string& path, const std::vector<Annotation>& results);

// Mask folders: for each PNG in masks_dir, the image of the same stem in images_dir (any image extension).
// Semantic: pixel = class id (0 background); each 8-connected region of one class is an instance.
// Instance: pixel = instance id (0 background); every instance gets category 1 ("flake") unless a
// class map (instance id -> class id) is given by the caller later.
Dataset read_semantic_mask_folder(const std::string& images_dir, const std::string& masks_dir);
Dataset read_instance_mask_folder(const std::string& images_dir, const std::string& masks_dir);

}  // namespace maskterial::coco
